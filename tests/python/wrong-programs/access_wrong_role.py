import acme_tracker as t


def invite(db: t.Client) -> None:
    db.core.access.add_member("user:bob", "superuser")  # expect: Argument 2 to "add_member" of "AccessApi" has incompatible type "Literal['superuser']"
