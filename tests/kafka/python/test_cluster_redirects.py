"""The Python client against two `entdb serve` processes of one cluster (tests/kafka/
cluster-python.test.ts starts them): pointed at server A, it reads and writes the tenants
B owns by following B's redirects, remembers each tenant's owner in its transport, keeps
a plan's idempotency key across the hop, forgets an owner it cannot reach, and follows a
watch's redirect before its first message. `ENTDB_A_URL`, `ENTDB_B_URL`: the servers;
`ENTDB_A_TENANTS`, `ENTDB_B_TENANTS`: the tenants each owns (comma-separated)."""

from __future__ import annotations

import asyncio
import os
import socket

import acme_tracker as t
import entdb_runtime as rt
import pytest

A = os.environ["ENTDB_A_URL"]
B = os.environ["ENTDB_B_URL"]
A_TENANTS = os.environ["ENTDB_A_TENANTS"].split(",")
B_TENANTS = os.environ["ENTDB_B_TENANTS"].split(",")


@pytest.fixture(params=["connect-1.1", "grpc"])
def transport(request: pytest.FixtureRequest) -> rt.Transport:
    if request.param == "grpc":
        return rt.Transport(A, protocol="grpc")
    return rt.Transport(A)


def slugs(db: t.Client) -> list[str]:
    return sorted(team.slug for team in db.team.query_all())


def test_reads_and_writes_every_tenant_through_one_server_and_remembers_the_owners(
    transport: rt.Transport,
) -> None:
    slug = f"s-{transport.protocol}"
    for tenant in A_TENANTS + B_TENANTS:
        with t.Client(transport, tenant, retry=False) as db:
            created = db.team.create(t.TeamCreate(name="Core", slug=slug))
            assert created.receipt.applied
            team = db.team.get(created.id)
            assert team is not None and team.slug == slug
    # Only B's tenants were redirected; A serves its own.
    assert transport.owners == {tenant: B for tenant in B_TENANTS}


def test_a_remembered_owner_is_called_directly_and_a_redirect_not_followed_names_it() -> None:
    tenant = B_TENANTS[0]
    no_hops = rt.Transport(A, max_redirects=0)
    with t.Client(no_hops, tenant, retry=False) as db:
        with pytest.raises(rt.PreconditionFailedError) as refused:
            db.team.query()
        assert refused.value.owner == B
        assert f"is served by {B}" in refused.value.message
        # The redirect's owner is remembered even when not followed: the next call goes there.
        assert no_hops.owners == {tenant: B}
        assert sorted(team.slug for team in db.team.query().items) == ["s-connect", "s-grpc"]


def test_a_plan_keeps_its_idempotency_key_across_the_redirect() -> None:
    tenant = B_TENANTS[1]
    with t.Client(rt.Transport(A), tenant) as through_a, t.Client(rt.Transport(B), tenant) as at_b:
        first = through_a.team.create(t.TeamCreate(name="Keyed", slug="keyed"), idempotency_key=f"{tenant}-keyed")
        again = at_b.team.create(t.TeamCreate(name="Keyed", slug="keyed"), idempotency_key=f"{tenant}-keyed")
        assert again.id == first.id
        assert again.receipt.replayed and not first.receipt.replayed
        assert [team.slug for team in at_b.team.query_all()].count("keyed") == 1


def test_an_owner_that_cannot_be_reached_is_forgotten_and_learned_again() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    tenant = B_TENANTS[0]
    transport = rt.Transport(A)
    transport.owners[tenant] = dead
    with t.Client(transport, tenant) as db:
        assert slugs(db) == ["s-connect", "s-grpc"]
    assert transport.owners == {tenant: B}


def test_a_watch_through_the_other_server_is_followed_before_its_first_message() -> None:
    tenant = B_TENANTS[2]
    transport = rt.Transport(A)
    with t.Client(transport, tenant) as db:
        created = db.team.create(t.TeamCreate(name="Watched", slug="watched"))
        transport.owners.clear()
        for change in db.team.watch(from_start=True):
            if change.id == created.id:
                break
    assert transport.owners == {tenant: B}


def test_the_asyncio_client_follows_redirects_too() -> None:
    async def run() -> None:
        transport = rt.Transport(A)
        for tenant in B_TENANTS:
            async with t.AsyncClient(transport, tenant, retry=False) as db:
                created = await db.team.create(t.TeamCreate(name="Async", slug="async"))
                team = await db.team.get(created.id)
                assert team is not None and team.slug == "async"
        assert transport.owners == {tenant: B for tenant in B_TENANTS}

    asyncio.run(run())
