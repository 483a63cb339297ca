import acme_tracker as t


def read(db: t.Client, raw: str) -> None:
    db.task.get(raw)  # expect: Argument 1 to "get" of "NodeAccessor" has incompatible type "str"
