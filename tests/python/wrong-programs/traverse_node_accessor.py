import acme_tracker as t
import entdb_runtime as rt


def walk(db: t.Client, user: t.UserId) -> None:
    db.traverse(user, hops=[rt.Hop([db.task], "in")])  # expect: List item 0 has incompatible type "TaskNodes"; expected "EdgeType"
