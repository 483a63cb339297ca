"""The reads and calls beyond nodes and edges against a real `entdb serve`: inverse-name
edge methods, full-text search (one type and across types), typed traversals, and
membership and sharing, and live changes (watch). One transport each (the transports are covered by
test_client.py); the asyncio test runs over gRPC."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone

import acme_tracker as t
import entdb_runtime as rt
import pytest

JOINED = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
MISSING = "0190a0a0-0000-7000-8000-000000000001"


@pytest.fixture
def db(url: str, tenant: str) -> Iterator[t.Client]:
    with t.Client(rt.Transport(url, http_version="2"), tenant, retry=False) as client:
        yield client


def graph(db: t.Client) -> tuple[t.ProjectId, t.UserId, t.UserId, t.TaskId, t.TaskId]:
    with db.plan() as plan:
        team = plan.team.create(t.TeamCreate(name="Core", slug="core"))
        project = plan.project.create(t.ProjectCreate(team=team, key="WEB", name="Website printer"))
        ada = plan.user.create(t.UserCreate(email="ada@example.com", display_name="Ada", handle="ada", joined_at=JOINED))
        bob = plan.user.create(t.UserCreate(email="bob@example.com", display_name="Bob", handle="bob", joined_at=JOINED))
        fire = plan.task.create(
            t.TaskCreate(project=project, number=1, title="Printer on fire", body="the office printer is on fire")
        )
        wifi = plan.task.create(t.TaskCreate(project=project, number=2, title="Fix wifi", status=t.TaskStatus.DONE))
        plan.assigned_to.link(fire, ada, t.AssignedToProps(assigned_at=JOINED, share=60))
        plan.assigned_to.link(wifi, ada, t.AssignedToProps(assigned_at=JOINED))
        plan.watches.link(bob, fire)
        plan.blocked_by.link(wifi, fire, t.BlockedByProps(note="power first"))
    return project.id, ada.id, bob.id, fire.id, wifi.id


def test_lists_edges_by_their_inverse_name_on_the_target_type(db: t.Client) -> None:
    _, ada, bob, fire, wifi = graph(db)
    assignments = db.user.assignments(ada, with_count=True)
    assert sorted((e.from_id, e.share) for e in assignments.items) == sorted([(fire, 60), (wifi, 100)])
    assert assignments.total == 2
    assert assignments.items == db.assigned_to.inverse(ada).items
    first = db.user.assignments(ada, limit=1)
    assert len(first.items) == 1 and first.next is not None
    rest = db.user.assignments(ada, limit=1, after=first.next)
    assert {first.items[0].from_id, rest.items[0].from_id} == {fire, wifi} and rest.next is None
    assert [(w.from_id, w.to_id) for w in db.task.watchers(fire).items] == [(bob, fire)]
    assert [(b.from_id, b.note) for b in db.task.blocks(fire).items] == [(wifi, "power first")]
    assert db.task.subtasks(fire).items == []


def test_searches_one_type_with_where_highlight_and_snippets_by_attribute(db: t.Client) -> None:
    _, _, _, fire, _ = graph(db)
    hits = db.task.search("printer", highlight=rt.Highlight("<b>", "</b>"))
    assert [(h.node.id, h.node.title, h.type) for h in hits.items] == [(fire, "Printer on fire", "task")]
    assert hits.items[0].snippets == {"title": "<b>Printer</b> on fire", "body": "the office <b>printer</b> is on fire"}
    assert hits.items[0].score > 0 and hits.next is None
    assert db.task.search("printer OR wifi", where=t.TaskWhere(status=t.TaskStatus.DONE)).items[0].node.title == "Fix wifi"
    ordered = db.task.search("printer OR wifi", order_by=rt.OrderBy("number", "desc"), limit=1)
    assert [h.node.number for h in ordered.items] == [2] and ordered.next is not None
    after = db.task.search("printer OR wifi", order_by=rt.OrderBy("number", "desc"), limit=1, after=ordered.next)
    assert [h.node.number for h in after.items] == [1] and after.next is None
    with pytest.raises(rt.InvalidArgumentError) as err:
        db.task.search('"printer')
    assert err.value.message == "Search query: A '\"' is never closed (at position 0)."


def test_searches_across_types_and_narrows_hits_by_class(db: t.Client) -> None:
    project, _, _, fire, _ = graph(db)
    hits = db.search("printer")
    assert sorted((h.type, h.node.id) for h in hits.items) == sorted([("task", fire), ("project", project)])
    names = [h.node.name for h in db.search("printer", types=["project"]).items if isinstance(h.node, t.Project)]
    assert names == ["Website printer"]
    with pytest.raises(TypeError) as err:
        db.search("printer", types=["assigned_to"])  # type: ignore[list-item]
    assert str(err.value) == (
        "db.search: 'assigned_to' is not a searchable node type; use one of user, team, project, task, comment."
    )


def test_keeps_a_hit_of_a_type_the_client_does_not_know_on_the_page(db: t.Client) -> None:
    project, _, _, fire, _ = graph(db)
    # A client of an older schema: it knows tasks, not projects (type id 3).
    older = rt.ClientReads(db.core, {4: t._NODE_TYPES[4]}, ["task"])
    page = older.search("printer", limit=2)
    assert len(page.items) == 2
    assert sorted((h.type, h.node.id) for h in page.items) == sorted([("task", fire), ("type 3", project)])
    unknown = [(h.node, dict(h.snippets)) for h in page.items if isinstance(h.node, rt.UnknownNode)]
    assert unknown == [(rt.UnknownNode(project, 3), {})]
    assert [h.node.title for h in page.items if isinstance(h.node, t.Task)] == ["Printer on fire"]


def test_traverses_a_path_of_hops_and_one_rule_with_typed_nodes(db: t.Client) -> None:
    _, ada, bob, fire, wifi = graph(db)
    walk = db.traverse(ada, hops=[rt.Hop([db.assigned_to], "in"), rt.Hop([db.watches], "in")])
    assert not walk.truncated
    by_depth = sorted((v.depth, v.node.id) for v in walk.nodes)
    assert by_depth == sorted([(1, fire), (1, wifi), (2, bob)])
    watchers = [v.node.handle for v in walk.nodes if isinstance(v.node, t.User)]
    assert watchers == ["bob"]
    out = db.traverse(wifi, edges=[db.blocked_by, db.assigned_to], max_depth=1)
    assert sorted(type(v.node).__name__ for v in out.nodes) == ["Task", "User"]
    everything = db.traverse(wifi, max_depth=2)
    assert sorted((v.depth, v.node.id) for v in everything.nodes) == sorted([(1, ada), (1, fire)])
    assert not everything.truncated
    capped = db.traverse(wifi, max_depth=2, max_nodes=1)
    assert len(capped.nodes) == 1 and capped.nodes[0].node.id in (ada, fire) and capped.truncated
    with pytest.raises(rt.InvalidArgumentError) as err:
        db.traverse(ada, edges=[db.assigned_to], max_depth=99)
    assert err.value.message == "max_depth 99 exceeds the limit of 6."
    with pytest.raises(TypeError) as both:
        db.traverse(ada, hops=[rt.Hop()], max_depth=1)
    assert str(both.value) == (
        "traverse: give either hops or edges/max_depth, not both; a path is as deep as it is long."
    )


def test_manages_members_and_groups_and_shares_denies_and_revokes(db: t.Client) -> None:
    _, _, _, fire, _ = graph(db)
    access = db.core.access
    added = access.add_member("user:bob", "viewer", idempotency_key="add-bob")
    assert added.applied and added.tenant == db.core.tenant and not added.replayed
    assert access.add_member("user:bob", "viewer", idempotency_key="add-bob").replayed
    access.set_member_role("user:bob", "member")
    access.add_member("user:carol", "viewer")
    access.create_group("group:eng")
    access.add_group_member("group:eng", "user:bob")
    access.add_group_member("group:eng", "user:carol")
    assert access.members() == [rt.Member("user:bob", "member"), rt.Member("user:carol", "viewer")]
    access.remove_group_member("group:eng", "user:carol")
    access.remove_member("user:carol")
    assert access.groups() == [rt.Group("group:eng", ("user:bob",))]
    assert access.members() == [rt.Member("user:bob", "member")]
    shared = access.share(fire, "group:eng", "edit", expires_at=datetime(2030, 1, 1, tzinfo=timezone.utc))
    assert shared.applied
    assert access.deny(db.task.get(fire) or fire, "user:mallory").applied
    assert access.revoke(fire, "group:eng").applied
    with pytest.raises(rt.NotFoundError) as missing:
        access.share(t.TaskId(MISSING), "user:bob", "read")
    assert missing.value.message == f'No node has id "{MISSING}".'
    with pytest.raises(rt.InvalidArgumentError) as bad:
        access.add_member("bob", "member")
    assert bad.value.message.startswith('`principal`: "bob" is not a principal: it has no kind prefix.')


def test_the_asyncio_client_has_the_same_surface(url: str, tenant: str) -> None:
    async def run() -> tuple[list[t.TaskId], list[str], list[int], list[str]]:
        async with t.AsyncClient(rt.Transport(url, protocol="grpc"), tenant) as db:
            async with db.plan() as plan:
                team = plan.team.create(t.TeamCreate(name="Async", slug="async"))
                project = plan.project.create(t.ProjectCreate(team=team, key="AS", name="Async"))
                user = plan.user.create(
                    t.UserCreate(email="a@example.com", display_name="Async", handle="as", joined_at=JOINED)
                )
                task = plan.task.create(t.TaskCreate(project=project, number=1, title="Await the printer"))
                plan.assigned_to.link(task, user, t.AssignedToProps(assigned_at=JOINED))
            inverse = [e.from_id for e in (await db.user.assignments(user.id)).items]
            hits = [h.type for h in (await db.search("printer OR async")).items]
            walk = [v.depth for v in (await db.traverse(user.id, edges=[db.assigned_to], direction="in")).nodes]
            await db.core.access.add_member("user:bob", "member")
            members = [m.principal for m in await db.core.access.members()]
            assert [h.node.title for h in (await db.task.search("printer")).items] == ["Await the printer"]
            assert inverse == [task.id]
            return inverse, sorted(hits), walk, members

    _, hits, walk, members = asyncio.run(run())
    assert (hits, walk, members) == (["project", "task", "team", "user"], [1], ["user:bob"])


def test_watches_a_type_from_the_start_resumes_after_a_position_and_follows_one_node(db: t.Client) -> None:
    first = db.team.create(t.TeamCreate(name="A", slug="a"))
    db.team.update(first.id, t.TeamPatch(name="A2"))
    other = db.team.create(t.TeamCreate(name="B", slug="b"))
    history: list[rt.Change[t.Team, t.TeamId]] = []
    for change in db.team.watch(from_start=True):
        history.append(change)
        if len(history) == 3:
            break
    assert [(c.kind, c.id, c.node.name if c.node else None) for c in history] == [
        ("created", first.id, "A2"),  # the node as it reads when the change is sent
        ("updated", first.id, "A2"),
        ("created", other.id, "B"),
    ]
    assert history[0].position < history[1].position < history[2].position

    def later() -> None:
        time.sleep(0.2)
        db.team.delete(first.id)
        db.team.update(other.id, t.TeamPatch(name="B2"))

    writer = threading.Thread(target=later)
    writer.start()
    live: list[tuple[str, t.TeamId, str | None]] = []
    for change in db.team.watch(ids=[other.id], after=history[2].position):
        live.append((change.kind, change.id, change.node.name if change.node else None))
        break
    writer.join()
    assert live == [("updated", other.id, "B2")]
    resumed = db.team.watch(after=history[2].position)
    assert [(c.kind, c.id) for c in itertools.islice(resumed, 2)] == [("deleted", first.id), ("updated", other.id)]
    with pytest.raises(rt.InvalidArgumentError) as err:
        next(iter(db.core.watch(node_type_ids=[999])))
    assert err.value.message == "`filters[0].node_type_id` is 999, but the schema has no node type with that id."


def test_watches_with_the_asyncio_client(url: str, tenant: str) -> None:
    async def run() -> list[tuple[str, str | None]]:
        async with t.AsyncClient(rt.Transport(url, protocol="grpc"), tenant) as db:
            created = await db.team.create(t.TeamCreate(name="Async", slug="async"))
            seen: list[tuple[str, str | None]] = []
            async for change in db.team.watch(from_start=True):
                seen.append((change.kind, change.node.slug if change.node else None))
                assert change.id == created.id
                break
            return seen

    assert asyncio.run(run()) == [("created", "async")]
