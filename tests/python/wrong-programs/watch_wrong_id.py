import acme_tracker as t


def follow(db: t.Client, task: t.TaskId) -> None:
    for change in db.team.watch(ids=[task]):  # expect: List item 0 has incompatible type "TaskId"; expected "TeamId | HasId[TeamId]"
        print(change.kind)
