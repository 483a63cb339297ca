import acme_tracker as t


def assignments(db: t.Client, task: t.TaskId) -> None:
    db.user.assignments(task)  # expect: Argument 1 to "assignments" of "UserNodes" has incompatible type "TaskId"
