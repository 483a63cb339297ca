import acme_tracker as t


def find(db: t.Client) -> None:
    db.task.search("printer", where=t.ProjectWhere(key="WEB"))  # expect: Argument "where" to "search" of "SearchableNodeAccessor" has incompatible type "ProjectWhere"
