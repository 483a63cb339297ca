import acme_tracker as t


def first(db: t.Client) -> t.Task:
    task: t.Task = db.search("printer").items[0].node  # expect: Incompatible types in assignment (expression has type "User | Team | Project | Task | Comment | UnknownNode", variable has type "Task")
    return task
