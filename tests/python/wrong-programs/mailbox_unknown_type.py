import acme_tracker as t


def unread(db: t.Client) -> None:
    db.mailbox.list(unread=True, types=["assigned_to"])  # expect: List item 0 has incompatible type "Literal['assigned_to']"
