"""The generated tracker client against a real `entdb serve`: the operations of the
TypeScript client's e2e suite, over Connect HTTP/1.1, Connect HTTP/2 and gRPC."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import acme_tracker as t
import acme_tracker._proto as proto
import entdb_runtime as rt
import pytest

MAX_INT64 = 2**63 - 1
MIN_INT64 = -(2**63)
MISSING = "0190a0a0-0000-7000-8000-000000000001"
JOINED = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)


def seed(db: t.Client) -> tuple[t.TeamId, t.ProjectId, list[t.TaskId], t.UserId, t.UserId]:
    with db.plan() as plan:
        team = plan.team.create(t.TeamCreate(name="Core", slug="core"))
        project = plan.project.create(t.ProjectCreate(team=team, key="WEB", name="Website"))
        ada = plan.user.create(t.UserCreate(email="ada@example.com", display_name="Ada", handle="ada", joined_at=JOINED))
        bob = plan.user.create(
            t.UserCreate(email="bob@example.com", display_name="Bob", handle="bob", joined_at=JOINED + timedelta(days=1))
        )
        tasks = [
            plan.task.create(
                t.TaskCreate(
                    project=project,
                    number=n,
                    title=f"Task {n}",
                    status=t.TaskStatus.DONE if n % 2 == 0 else t.TaskStatus.TODO,
                    labels=[f"l{n}"],
                )
            )
            for n in range(1, 8)
        ]
        plan.assigned_to.link(tasks[0], ada, t.AssignedToProps(assigned_at=JOINED, share=60))
        plan.assigned_to.link(tasks[0], bob, t.AssignedToProps(assigned_at=JOINED))
        plan.assigned_to.link(tasks[1], ada, t.AssignedToProps(assigned_at=JOINED))
    assert plan.receipt.applied
    return team.id, project.id, [h.id for h in tasks], ada.id, bob.id


def test_creates_a_whole_graph_atomically_with_handles_as_refs(db: t.Client) -> None:
    team, project, tasks, ada, _ = seed(db)
    got = db.project.get(project)
    assert got is not None
    assert (got.id, got.team, got.key, got.name, got.archived, got.version) == (project, team, "WEB", "Website", False, 1)
    task = db.task.get(tasks[0])
    assert task is not None
    assert (task.project, task.number, task.title, task.status, task.priority, task.labels, task.body) == (
        project, 1, "Task 1", t.TaskStatus.TODO, t.Priority.MEDIUM, ["l1"], None
    )
    user = db.user.get(ada)
    assert user is not None and user.joined_at == JOINED and user.time_zone == "UTC" and user.active is True


def test_gets_by_a_unique_key_and_a_composite_unique(db: t.Client) -> None:
    _, project, tasks, ada, _ = seed(db)
    user = db.user.get_by_email("ada@example.com")
    assert user is not None and user.id == ada
    task = db.task.get_by_project_number(project, 3)
    assert task is not None and task.id == tasks[2]
    assert db.user.get_by_email("nobody@example.com") is None
    assert db.task.get_many([tasks[1], t.TaskId("missing-id")]) == [db.task.get(tasks[1]), None]


def test_queries_with_where_order_and_limit_and_pages_through_every_result(db: t.Client) -> None:
    seed(db)
    page = db.task.query(
        where=t.TaskWhere(status=rt.Filter(in_=[t.TaskStatus.TODO]), title=rt.Text(prefix="Task")),
        order_by=rt.OrderBy("number", "desc"),
        limit=2,
    )
    assert [task.number for task in page.items] == [7, 5]
    assert page.next is not None
    rest = db.task.query(
        where=t.TaskWhere(status=rt.Filter(in_=[t.TaskStatus.TODO]), title=rt.Text(prefix="Task")),
        order_by=rt.OrderBy("number", "desc"),
        limit=2,
        after=page.next,
    )
    assert [task.number for task in rest.items] == [3, 1]
    every = list(db.task.query_all(order_by=rt.OrderBy("number"), page_size=3))
    assert [task.number for task in every] == [1, 2, 3, 4, 5, 6, 7]
    labelled = db.task.query(where=t.TaskWhere(labels=rt.Has(contains="l4"), number=rt.Range(gte=2)))
    assert [task.number for task in labelled.items] == [4]


def test_updates_with_the_expected_version_and_rejects_a_stale_one(db: t.Client) -> None:
    _, _, tasks, _, _ = seed(db)
    updated = db.task.update(tasks[0], t.TaskPatch(title="Renamed", body="text"), expected_version=1)
    assert updated.version == 2
    with pytest.raises(rt.PreconditionFailedError) as stale:
        db.task.update(tasks[0], t.TaskPatch(title="Again"), expected_version=1)
    assert stale.value.code == "failed_precondition"
    cleared = db.task.update(tasks[0], t.TaskPatch(body=None), expected_fields=t.TaskPatch(title="Renamed"))
    assert cleared.version == 3
    task = db.task.get(tasks[0])
    assert task is not None and (task.title, task.body, task.version) == ("Renamed", None, 3)


def test_deletes_a_node_with_its_edges(db: t.Client) -> None:
    _, _, tasks, ada, _ = seed(db)
    db.task.delete(tasks[1])
    assert db.task.get(tasks[1]) is None
    assert [e.from_id for e in db.assigned_to.inverse(ada).items] == [tasks[0]]


def test_lists_edges_with_their_properties_and_their_inverse(db: t.Client) -> None:
    _, _, tasks, ada, bob = seed(db)
    page = db.assigned_to.list(tasks[0], with_count=True)
    assert page.total == 2
    shares = sorted((e.to_id, e.share, e.assigned_at) for e in page.items)
    assert shares == sorted([(ada, 60, JOINED), (bob, 100, JOINED)])
    assert sorted(e.from_id for e in db.assigned_to.inverse_all(ada, page_size=1)) == sorted(tasks[:2])
    db.assigned_to.unlink(tasks[0], bob)
    assert [e.to_id for e in db.assigned_to.list(tasks[0]).items] == [ada]


def test_round_trips_int64_extremes_without_loss(db: t.Client) -> None:
    _, project, _, _, _ = seed(db)
    high = db.task.create(t.TaskCreate(project=project, number=MAX_INT64, title="max", estimate_minutes=MIN_INT64))
    got = db.task.get(high.id)
    assert got is not None and (got.number, got.estimate_minutes) == (MAX_INT64, MIN_INT64)
    with pytest.raises(ValueError, match=r"Task.number is 9223372036854775808, outside int64"):
        db.task.create(t.TaskCreate(project=project, number=MAX_INT64 + 1, title="over"))


def test_rejects_a_lone_surrogate_naming_the_field_before_sending(db: t.Client) -> None:
    _, project, _, _, _ = seed(db)
    with pytest.raises(TypeError, match=r"^Task\.title holds a lone surrogate \(\\uD800 at index 1\), which UTF-8 cannot carry;"):
        db.task.create(t.TaskCreate(project=project, number=77, title="a\ud800"))
    assert db.task.get_by_project_number(project, 77) is None


def test_rejects_a_unique_violation_naming_the_field_and_writes_nothing(db: t.Client) -> None:
    seed(db)
    with pytest.raises(rt.UniqueViolationError) as err:
        with db.plan() as plan:
            plan.team.create(t.TeamCreate(name="Other", slug="other"))
            plan.user.create(t.UserCreate(email="ada@example.com", display_name="Ada 2", handle="ada2", joined_at=JOINED))
    assert err.value.code == "already_exists"
    assert err.value.field_name == "email"
    assert err.value.failure is not None and err.value.failure.type_name == "User"
    assert err.value.operation_index == 1
    # Caught as the base class, by its name and by its former one.
    assert isinstance(err.value, rt.EntDbError) and rt.EntdbError is rt.EntDbError
    # Atomic: the team of step 0 was rolled back with the failing step.
    assert db.team.get_by_slug("other") is None


def test_rejects_a_ref_to_a_node_that_does_not_exist_with_missing_ref(db: t.Client) -> None:
    with pytest.raises(rt.PreconditionFailedError) as err:
        db.task.create(t.TaskCreate(project=t.ProjectId(MISSING), number=1, title="Orphan"))
    assert err.value.reason == "MISSING_REF"
    assert err.value.failure is not None and err.value.failure.type_name == "Task"
    assert err.value.field_name == "project"
    with pytest.raises(rt.InvalidArgumentError) as bad:
        db.task.create(t.TaskCreate(project=t.ProjectId("not-an-id"), number=1, title="Orphan"))
    assert "Task.project got 'not-an-id', which is neither a node id" in bad.value.message
    assert db.task.query().items == []


def test_creates_if_absent_once_then_resolves_to_the_same_node(db: t.Client) -> None:
    first = db.user.create(
        t.UserCreate(email="c@example.com", display_name="C", handle="c", joined_at=JOINED), if_absent_on=["email"]
    )
    again = db.user.create(
        t.UserCreate(email="c@example.com", display_name="C2", handle="c2", joined_at=JOINED), if_absent_on=["email"]
    )
    assert (first.created, again.created, again.id) == (True, False, first.id)
    with pytest.raises(TypeError, match=r"User create with if_absent_on needs one of its unique keys"):
        db.user.create(
            t.UserCreate(email="d@example.com", display_name="D", handle="d", joined_at=JOINED),
            if_absent_on=["email", "handle"],
        )


def test_an_idempotent_retry_returns_the_original_ids(db: t.Client) -> None:
    def write() -> tuple[t.TeamId, rt.Receipt]:
        with db.plan(idempotency_key="py-retry") as plan:
            team = plan.team.create(t.TeamCreate(name="Once", slug="once"))
        return team.id, plan.receipt

    first_id, first = write()
    second_id, second = write()
    assert second_id == first_id
    assert (first.replayed, second.replayed, second.position) == (False, True, first.position)
    assert len(db.team.query().items) == 1


def test_a_failed_plan_sends_nothing_when_the_block_raises(db: t.Client) -> None:
    with pytest.raises(RuntimeError):
        with db.plan() as plan:
            plan.team.create(t.TeamCreate(name="Never", slug="never"))
            raise RuntimeError("abort")
    assert db.team.query().items == []


def test_reads_its_own_writes_across_two_clients_sharing_positions(transport: rt.Transport, tenant: str) -> None:
    positions = rt.PositionTracker()
    with t.Client(transport, tenant, positions=positions) as writer, t.Client(
        transport, tenant, positions=positions
    ) as reader:
        with writer.plan(no_wait=True) as plan:
            plan.team.create(t.TeamCreate(name="Fast", slug="fast"))
        assert plan.receipt.applied is False
        found = reader.team.get_by_slug("fast")
        assert found is not None and found.name == "Fast"


def test_the_async_client_does_the_same(transport: rt.Transport, tenant: str) -> None:
    async def main() -> tuple[str, int, list[str]]:
        async with t.AsyncClient(transport, tenant) as db:
            async with db.plan() as plan:
                team = plan.team.create(t.TeamCreate(name="Async", slug="async"))
                plan.project.create(t.ProjectCreate(team=team, key="A", name="A"))
            got = await db.team.get(team.id)
            assert got is not None
            projects = [p.key async for p in db.project.query_all(where=t.ProjectWhere(team=team.id))]
            return got.name, got.version, projects

    assert asyncio.run(main()) == ("Async", 1, ["A"])


def test_message_classes_come_from_the_embedded_descriptor() -> None:
    task = proto.MESSAGES["Task"]()
    task.ParseFromString(bytes([0x10, 0x2A]))  # field 2 (number) = 42
    assert task.DESCRIPTOR.full_name == "acme.tracker.Task"
    assert [f.number for f in task.DESCRIPTOR.fields][:3] == [1, 2, 3]
    assert str(task).strip() == "number: 42"
