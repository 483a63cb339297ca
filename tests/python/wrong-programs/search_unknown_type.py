import acme_tracker as t


def find(db: t.Client) -> None:
    db.search("printer", types=["assigned_to"])  # expect: List item 0 has incompatible type "Literal['assigned_to']"
