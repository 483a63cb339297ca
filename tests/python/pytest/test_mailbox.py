"""`db.mailbox` against a real `entdb serve` with tokens (the acme.mail schema of
tests/python/mail/): alice sends messages to bob, and bob lists his mailbox newest first
with each filter and in keyset pages, counts unread items, marks them read, unread,
archived and starred, and searches among them; carol, a member who was sent nothing,
sees none of it. The tenants are made by the vitest driver, one per test."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

import acme_mail as m
import entdb_runtime as rt
import pytest

TOKENS = {"alice": "alice-mail-token-0123456789", "bob": "bob-mail-token-0123456789", "carol": "carol-mail-token-0123456789"}
"""The tokens the driver started the mail server with (python-client.test.ts)."""

_tenants = itertools.count()


@pytest.fixture
def mail_tenant() -> str:
    """The next tenant the driver created: owned by alice, bob and carol members."""
    return f"mail-{next(_tenants)}"


def client(who: str, tenant: str, transport: str = "connect-2") -> m.Client:
    url = os.environ["ENTDB_MAIL_URL"]
    if transport == "grpc":
        return m.Client(rt.Transport(url, protocol="grpc", token=TOKENS[who]), tenant, retry=False)
    version: Literal["1.1", "2"] = "2" if transport == "connect-2" else "1.1"
    return m.Client(rt.Transport(url, http_version=version, token=TOKENS[who]), tenant, retry=False)


@dataclass(frozen=True)
class Sent:
    """What `send_mail` wrote: the thread and the message ids, oldest first."""

    thread: m.ThreadId
    hello: m.MessageId
    budget: m.MessageId
    lunch: m.MessageId
    not_sent: m.MessageId


def send_mail(tenant: str) -> Sent:
    """Alice sends bob three messages, one at a time (the second in a thread), and writes
    one she sends to nobody."""
    with client("alice", tenant) as alice:
        bob = alice.user.create(m.UserCreate(principal="user:bob")).id
        thread = alice.thread.create(m.ThreadCreate(title="Planning")).id
        ids: list[m.MessageId] = []
        for subject in ["hello bob", "the budget for next year", "lunch on friday"]:
            with alice.plan() as plan:
                message = plan.message.create(m.MessageCreate(subject=subject))
                plan.sent_to.link(message, bob)
                if subject.startswith("the budget"):
                    plan.in_thread.link(message, thread)
            ids.append(message.id)
        not_sent = alice.message.create(m.MessageCreate(subject="the budget draft")).id
    return Sent(thread, ids[0], ids[1], ids[2], not_sent)


@pytest.fixture
def sent(mail_tenant: str) -> Sent:
    return send_mail(mail_tenant)


@pytest.fixture
def bob(mail_tenant: str, sent: Sent) -> Iterator[m.Client]:
    with client("bob", mail_tenant) as db:
        yield db


def ids(items: Iterable[rt.MailboxItem[m.AnyNode | rt.UnknownNode]]) -> list[str]:
    return [item.node.id for item in items]


@pytest.mark.parametrize("transport", ["connect-1.1", "connect-2", "grpc"])
def test_lists_items_newest_first_with_their_state(mail_tenant: str, transport: str) -> None:
    sent = send_mail(mail_tenant)
    with client("bob", mail_tenant, transport) as db:
        page = db.mailbox.list()
    assert ids((page.items)) == [sent.lunch, sent.budget, sent.hello]
    assert page.next is None
    first = page.items[0]
    assert isinstance(first.node, m.Message)
    assert (first.node.subject, first.type, first.reason) == ("lunch on friday", "message", "sent_to")
    assert (first.read, first.archived, first.starred) == (False, False, False)
    assert first.delivered_at.tzinfo is not None
    assert [item.delivered_at for item in page.items] == sorted((i.delivered_at for i in page.items), reverse=True)


def test_pages_with_next_and_iterates_every_item(bob: m.Client, sent: Sent) -> None:
    first = bob.mailbox.list(limit=2)
    assert ids((first.items)) == [sent.lunch, sent.budget]
    assert first.next is not None
    second = bob.mailbox.list(limit=2, after=first.next)
    assert (ids((second.items)), second.next) == ([sent.hello], None)
    assert ids((bob.mailbox.list_all(page_size=1))) == [sent.lunch, sent.budget, sent.hello]


def test_filters_by_type_thread_and_time(bob: m.Client, sent: Sent) -> None:
    assert ids((bob.mailbox.list(types=["message"]).items)) == [sent.lunch, sent.budget, sent.hello]
    assert ids((bob.mailbox.list(types=["thread"]).items)) == []
    thread = bob.mailbox.list(parent=rt.Parent(bob.in_thread, sent.thread))
    assert ids((thread.items)) == [sent.budget]
    every = list(bob.mailbox.list().items)
    middle = every[1].delivered_at
    since = ids((bob.mailbox.list(since=middle).items))
    until = ids((bob.mailbox.list(until=middle).items))
    assert since == [i.node.id for i in every if i.delivered_at >= middle]
    assert until == [i.node.id for i in every if i.delivered_at < middle]
    assert sent.budget in since and sent.budget not in until
    with pytest.raises(TypeError, match=r"^db.mailbox.list: 'memo' is not a node type of this client; use one of user, message, thread.$"):
        bob.mailbox.list(types=["memo"])  # type: ignore[list-item]
    # One name where a list is expected, and an edge's name where its accessor is expected.
    with pytest.raises(TypeError) as one:
        bob.mailbox.list(types="message")  # type: ignore[arg-type]
    assert str(one.value) == "db.mailbox.list: types takes a list of node type names, like ['message']; got the str 'message'."
    with pytest.raises(TypeError) as name:
        bob.mailbox.list(parent=rt.Parent("in_thread", sent.thread))  # type: ignore[arg-type]
    assert str(name.value) == (
        "Parent.edge must be an edge accessor such as db.assigned_to (the accessor db.in_thread, not the name); "
        "got the str 'in_thread'."
    )


def test_marks_items_and_counts_unread(bob: m.Client, sent: Sent) -> None:
    assert bob.mailbox.unread_counts() == rt.UnreadCounts(3, {"message": 3})
    receipt = bob.mailbox.mark_read([sent.hello, sent.lunch], idempotency_key="read-two")
    assert (receipt.applied, receipt.idempotency_key) == (True, "read-two")
    assert bob.mailbox.unread_counts() == rt.UnreadCounts(1, {"message": 1})
    assert ids((bob.mailbox.list(unread=True).items)) == [sent.budget]
    bob.mailbox.mark_unread(sent.hello)
    assert ids((bob.mailbox.list(unread=True).items)) == [sent.budget, sent.hello]

    bob.mailbox.star(sent.lunch)
    starred = list(bob.mailbox.list(starred=True).items)
    assert ids(starred) == [sent.lunch]
    assert (starred[0].starred, starred[0].read) == (True, True)
    bob.mailbox.unstar(sent.lunch)
    assert ids((bob.mailbox.list(starred=True).items)) == []

    bob.mailbox.archive(sent.budget)
    assert ids((bob.mailbox.list().items)) == [sent.lunch, sent.hello]
    archived = [i for i in bob.mailbox.list(include_archived=True).items if i.archived]
    assert ids(archived) == [sent.budget]
    assert bob.mailbox.unread_counts() == rt.UnreadCounts(1, {"message": 1})
    bob.mailbox.unarchive(sent.budget)
    assert ids((bob.mailbox.list().items)) == [sent.lunch, sent.budget, sent.hello]


def test_searches_only_the_mailbox(bob: m.Client, sent: Sent) -> None:
    hits = bob.mailbox.search("budget")
    assert [(h.node.id, h.type, dict(h.snippets)) for h in hits.items] == [
        (sent.budget, "message", {"subject": "the [budget] for next year"})
    ]
    with client("alice", bob.core.tenant) as alice:
        everywhere = alice.search("budget")
    assert sorted(h.node.id for h in everywhere.items) == sorted([sent.budget, sent.not_sent])


def test_keeps_items_and_hits_of_a_type_the_client_does_not_know(bob: m.Client, sent: Sent) -> None:
    # A client of an older schema: it knows users and threads, not messages (type id 2)
    # nor the edge type that delivered them (100).
    known = {type_id: entry for type_id, entry in m._NODE_TYPES.items() if entry[0] != "message"}
    older = rt.Mailbox[m.AnyNode, str, str](bob.core, known, {}, [])
    page = older.list(limit=2)
    assert [(i.node, i.type, i.reason) for i in page.items] == [
        (rt.UnknownNode(sent.lunch, 2), "type 2", "edge type 100"),
        (rt.UnknownNode(sent.budget, 2), "type 2", "edge type 100"),
    ]
    assert [(i.read, i.archived, i.starred) for i in page.items] == [(False, False, False)] * 2
    assert page.next is not None
    assert ids(older.list_all()) == [sent.lunch, sent.budget, sent.hello]
    hits = older.search("budget")
    assert [(h.node, h.type, dict(h.snippets)) for h in hits.items] == [(rt.UnknownNode(sent.budget, 2), "type 2", {})]


def test_asyncio_mailbox_keeps_items_of_a_type_the_client_does_not_know(mail_tenant: str, sent: Sent) -> None:
    async def run() -> tuple[list[rt.MailboxItem[m.AnyNode | rt.UnknownNode]], list[str]]:
        transport = rt.Transport(os.environ["ENTDB_MAIL_URL"], protocol="grpc", token=TOKENS["bob"])
        async with m.AsyncClient(transport, mail_tenant) as db:
            known = {type_id: entry for type_id, entry in m._NODE_TYPES.items() if entry[0] != "message"}
            older = rt.AsyncMailbox[m.AnyNode, str, str](db.core, known, m._EDGE_NAMES, [])
            page = await older.list(limit=1)
            hits = await older.search("lunch")
            return list(page.items), [h.type for h in hits.items]

    items, hits = asyncio.run(run())
    assert [(i.node, i.type, i.reason) for i in items] == [(rt.UnknownNode(sent.lunch, 2), "type 2", "sent_to")]
    assert hits == ["type 2"]


def test_another_member_sees_nothing_and_may_not_change_what_it_was_not_sent(mail_tenant: str, sent: Sent) -> None:
    with client("carol", mail_tenant) as carol:
        assert list(carol.mailbox.list().items) == []
        assert carol.mailbox.unread_counts() == rt.UnreadCounts(0, {})
        assert list(carol.mailbox.search("budget").items) == []
        carol.mailbox.mark_read(sent.hello)
    with client("bob", mail_tenant) as bob:
        assert bob.mailbox.unread_counts().total == 3


def test_asyncio_mailbox(mail_tenant: str, sent: Sent) -> None:
    async def run() -> tuple[list[str], list[str], rt.UnreadCounts, list[str]]:
        url = os.environ["ENTDB_MAIL_URL"]
        transport = rt.Transport(url, protocol="grpc", token=TOKENS["bob"])
        async with m.AsyncClient(transport, mail_tenant) as db:
            page = await db.mailbox.list(limit=2)
            await db.mailbox.mark_read(sent.lunch)
            every: list[str] = [item.node.id async for item in db.mailbox.list_all(page_size=1, unread=True)]
            counts = await db.mailbox.unread_counts()
            hits = await db.mailbox.search("lunch")
            return ids((page.items)), every, counts, [h.node.id for h in hits.items]

    page, unread, counts, hits = asyncio.run(run())
    assert page == [sent.lunch, sent.budget]
    assert unread == [sent.budget, sent.hello]
    assert counts == rt.UnreadCounts(2, {"message": 2})
    assert hits == [sent.lunch]
