"""The Python half of the cross-language test: `write TENANT` writes a plan and prints
what it wrote; `read TENANT TASK USER` prints what the Python client reads back. JSON on
stdout: ints as decimal text, timestamps as RFC 3339 with microseconds."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone

import acme_tracker as t
import entdb_runtime as rt

DUE = datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)
JOINED = datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def task_json(task: t.Task) -> dict[str, object]:
    return {
        "id": task.id,
        "project": task.project,
        "number": str(task.number),
        "estimate_minutes": None if task.estimate_minutes is None else str(task.estimate_minutes),
        "title": task.title,
        "status": task.status.name.lower(),
        "priority": None if task.priority is None else task.priority.name.lower(),
        "due": iso(task.due),
        "labels": task.labels,
        "version": str(task.version),
    }


def main() -> None:
    mode, tenant = sys.argv[1], sys.argv[2]
    with t.Client(rt.Transport(os.environ["ENTDB_URL"], http_version="2"), tenant) as db:
        if mode == "write":
            with db.plan() as plan:
                team = plan.team.create(t.TeamCreate(name="Cross", slug="cross"))
                project = plan.project.create(t.ProjectCreate(team=team, key="X", name="X", settings={"k": [1, "two"]}))
                task = plan.task.create(
                    t.TaskCreate(
                        project=project,
                        number=2**63 - 1,
                        estimate_minutes=-(2**63),
                        title="Written by Python ✓",
                        status=t.TaskStatus.IN_REVIEW,
                        due=DUE,
                        labels=["a", "b"],
                    )
                )
                user = plan.user.create(
                    t.UserCreate(email="py@example.com", display_name="Py", handle="py", joined_at=JOINED)
                )
                plan.assigned_to.link(task, user, t.AssignedToProps(assigned_at=DUE, share=7))
            got = db.task.get(task.id)
            assert got is not None
            print(json.dumps({"task": task_json(got), "user": user.id, "joined_at": iso(JOINED)}))
        else:
            task_id, user_id = t.TaskId(sys.argv[3]), t.UserId(sys.argv[4])
            read = db.task.get(task_id)
            reader = db.user.get(user_id)
            assert read is not None and reader is not None
            edges = db.assigned_to.list(task_id).items
            print(
                json.dumps(
                    {
                        "task": task_json(read),
                        "user": {"email": reader.email, "joined_at": iso(reader.joined_at)},
                        "edges": [{"to": e.to_id, "share": e.share, "assigned_at": iso(e.assigned_at)} for e in edges],
                    }
                )
            )


if __name__ == "__main__":
    main()
