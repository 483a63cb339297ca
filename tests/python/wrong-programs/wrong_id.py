import acme_tracker as t


def assign(db: t.Client, task: t.TaskId, team: t.TeamId) -> None:
    db.assigned_to.unlink(task, team)  # expect: Argument 2 to "unlink" of "EdgeAccessor" has incompatible type "TeamId"
