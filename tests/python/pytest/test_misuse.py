"""A wrong kind of argument to a public method of the client is a TypeError (or a
ValueError for a wrong value) that says what to pass, raised before anything is sent,
not an AttributeError from deep inside or a request for the wrong thing: an edge's
name where its accessor is expected, one id where a list is expected, a list where one
id is expected. The calls are what an untyped caller writes; mypy rejects them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import acme_tracker as t
import entdb_runtime as rt
import pytest

JOINED = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


@pytest.fixture
def db(url: str, tenant: str) -> Iterator[t.Client]:
    with t.Client(rt.Transport(url, http_version="2"), tenant, retry=False) as client:
        yield client


def made(db: t.Client) -> tuple[t.TeamId, t.UserId]:
    with db.plan() as plan:
        team = plan.team.create(t.TeamCreate(name="Core", slug="core"))
        ada = plan.user.create(
            t.UserCreate(email="ada@example.com", display_name="Ada", handle="ada", joined_at=JOINED)
        )
    return team.id, ada.id


def message(call: object) -> str:
    assert callable(call)
    with pytest.raises((TypeError, ValueError)) as err:
        call()
    return f"{type(err.value).__name__}: {err.value}"


def test_traverse_names_what_to_pass_for_edges_hops_and_direction(db: t.Client) -> None:
    team, ada = made(db)
    assert message(lambda: db.traverse(team, edges=["contains"])) == (  # type: ignore[list-item]
        "TypeError: traverse: edges[0] must be an edge accessor such as db.assigned_to "
        "(the accessor db.contains, not the name); got the str 'contains'."
    )
    assert message(lambda: db.traverse(team, edges="assigned_to")) == (  # type: ignore[arg-type]
        "TypeError: traverse: edges takes a list of edge accessors, such as [db.assigned_to]; got the str 'assigned_to'."
    )
    assert message(lambda: db.traverse(team, edges=db.assigned_to)) == (  # type: ignore[arg-type]
        "TypeError: traverse: edges takes a list of edge accessors; got one (a EdgeAccessor): pass [it]."
    )
    assert message(lambda: db.traverse(team, edges=[db.assigned_to], direction="both")) == (  # type: ignore[arg-type]
        "ValueError: traverse: direction must be 'out' or 'in'; got the str 'both'."
    )
    assert message(lambda: db.traverse(team, hops=[db.assigned_to])) == (  # type: ignore[list-item]
        "TypeError: traverse: hops[0] must be a Hop(edges=[db.assigned_to], direction='out'); got a EdgeAccessor."
    )
    assert message(lambda: db.traverse(team, hops=rt.Hop([db.assigned_to]))) == (  # type: ignore[arg-type]
        "TypeError: traverse: hops takes a list of Hop, one per depth; got a Hop."
    )
    assert message(lambda: db.traverse(team, hops=[rt.Hop(["assigned_to"])])) == (  # type: ignore[list-item]
        "TypeError: traverse: hops[0].edges[0] must be an edge accessor such as db.assigned_to "
        "(the accessor db.assigned_to, not the name); got the str 'assigned_to'."
    )
    assert message(lambda: db.traverse(team, hops=[rt.Hop([db.assigned_to], "up")])) == (  # type: ignore[arg-type]
        "ValueError: traverse: hops[0].direction must be 'out' or 'in'; got the str 'up'."
    )
    assert message(lambda: db.traverse([team, ada])) == (  # type: ignore[arg-type]
        "TypeError: the traversal's start must be a node id; got a list."
    )
    # The right calls still work.
    assert db.traverse(ada, edges=[db.assigned_to], direction="in").nodes == []


def test_the_asyncio_traverse_checks_the_same(url: str, tenant: str) -> None:
    import asyncio

    async def run() -> str:
        async with t.AsyncClient(rt.Transport(url, http_version="2"), tenant) as db:
            try:
                await db.traverse("0190a0a0-0000-7000-8000-000000000001", edges=["contains"])  # type: ignore[list-item]
            except TypeError as err:
                return str(err)
            return "no error"

    assert asyncio.run(run()) == (
        "traverse: edges[0] must be an edge accessor such as db.assigned_to "
        "(the accessor db.contains, not the name); got the str 'contains'."
    )


def test_one_id_where_a_list_is_expected_and_a_list_where_one_id_is(db: t.Client) -> None:
    team, ada = made(db)
    # Iterated, a str is its characters: get_many asked for 36 one-letter ids before.
    assert message(lambda: db.user.get_many(ada)) == (  # type: ignore[arg-type]
        f"TypeError: User get_many takes a list of node ids; got the str '{ada}'. For one node, pass [id]."
    )
    assert message(lambda: db.user.get_many([ada, ["x"]])) == (  # type: ignore[list-item]
        "TypeError: User get_many[1] must be a node id; got a list."
    )
    assert message(lambda: db.user.watch(ids=ada)) == (  # type: ignore[arg-type]
        f"TypeError: User watch: ids takes a list of node ids; got the str '{ada}'. For one node, pass [id]."
    )
    assert message(lambda: db.user.get([ada])) == "TypeError: User must be a node id; got a list."  # type: ignore[arg-type]
    assert message(lambda: db.assigned_to.list([ada])) == "TypeError: AssignedTo must be a node id; got a list."  # type: ignore[arg-type]
    assert message(lambda: db.core.access.revoke([team], "user:bob")) == (  # type: ignore[arg-type]
        "TypeError: the node to revoke on must be a node id; got a list."
    )
    assert [u.id if u else None for u in db.user.get_many([ada])] == [ada]


def test_one_name_where_a_list_is_expected(db: t.Client) -> None:
    made(db)
    assert message(lambda: db.search("core", types="team")) == (  # type: ignore[arg-type]
        "TypeError: db.search: types takes a list of accessor names, like ['team']; got the str 'team'."
    )
    assert message(lambda: db.search("core", types=[db.team])) == (  # type: ignore[list-item]
        "TypeError: db.search: types names node types by accessor name, like 'task'; got a TeamNodes."
    )
    create = t.UserCreate(email="bob@example.com", display_name="Bob", handle="bob", joined_at=JOINED)
    assert message(lambda: db.user.create(create, if_absent_on="email")) == (  # type: ignore[arg-type]
        "TypeError: User create: if_absent_on takes a list of field names, like ['email']; got the str 'email'."
    )
    # Nothing was written by the refused create.
    assert db.user.get_by_email("bob@example.com") is None
