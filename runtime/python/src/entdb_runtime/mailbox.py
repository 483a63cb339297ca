"""The caller's own mailbox, from a client (`db.mailbox`; the model is in docs/mailbox.md):
list the items delivered to the authenticated principal newest first, with filters and
keyset pages, count unread ones, mark them read, unread, archived or starred, and search
among them. Types and reasons are named by accessor name (`message`, `sent_to`) like
everywhere else in a generated client. A state change carries one idempotency key across
the client's retries and returns its receipt once the server applied it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Generic, TypeVar

from ._codec import node_from_wire
from ._wire import Wire, get_bool, get_dict, get_dicts, get_int, get_str
from .plan import HasId, resolve_id
from .results import Page, Receipt
from .search import (
    EdgeType,
    Highlight,
    NodeTypes,
    SearchHit,
    UnknownNode,
    edge_type_id_of,
    search_page,
    search_request,
    type_ids_of,
)
from .values import describe, epoch, format_timestamp, is_list_arg, parse_timestamp

if TYPE_CHECKING:
    from .core import AsyncClientCore, ClientCore

NodeT = TypeVar("NodeT")
TypeT = TypeVar("TypeT", bound=str)
SearchT = TypeVar("SearchT", bound=str)

Nodes = str | HasId[str] | Sequence[str | HasId[str]]
"""The nodes a state change acts on: one id (or node), or several."""


@dataclass(frozen=True)
class MailboxItem(Generic[NodeT]):
    """One item of the caller's mailbox: the node (decoded into its generated class, or an
    `UnknownNode` for a type this client does not know), its type's accessor name (or
    `type <id>`), the accessor name of the `mailbox` edge type that delivered it,
    when (the ingress time of that write), and the caller's state of it."""

    node: NodeT
    type: str
    reason: str
    delivered_at: datetime
    read: bool
    archived: bool
    starred: bool


@dataclass(frozen=True)
class UnreadCounts:
    """Unread, unarchived items: in all, and per type by accessor name (types with none
    are left out)."""

    total: int
    by_type: Mapping[str, int]


@dataclass(frozen=True)
class Parent:
    """Keeps the items whose node has an edge of type `edge` (an edge accessor, e.g.
    `db.in_thread`) to the node `id`: the items of one thread or under one parent."""

    edge: EdgeType
    id: str | HasId[str]


@dataclass(frozen=True)
class _Filters:
    unread: bool
    type_ids: Sequence[int]
    since: datetime | None
    until: datetime | None
    include_archived: bool
    starred: bool
    parent: Parent | None

    def request(self, limit: int, after: str | None) -> Wire:
        """A `ListMailboxRequest` (without tenant and position)."""
        request: Wire = {
            "unread_only": self.unread,
            "type_ids": list(self.type_ids),
            "include_archived": self.include_archived,
            "starred_only": self.starred,
            "limit": limit,
            "cursor": after or "",
        }
        if self.since is not None:
            request["delivered_after"] = format_timestamp(self.since, "since")
        if self.until is not None:
            request["delivered_before"] = format_timestamp(self.until, "until")
        if self.parent is not None:
            request["parent_id"] = resolve_id(self.parent.id, "the parent")
            request["parent_edge_type_id"] = edge_type_id_of(self.parent.edge, "Parent.edge")
        return request


class _MailboxBase(Generic[NodeT, TypeT, SearchT]):
    """What the sync and asyncio mailboxes share: requests and decoding."""

    def __init__(self, types: NodeTypes[NodeT], edges: Mapping[int, str], searchable: Sequence[SearchT]) -> None:
        self._types = types
        self._edges = edges
        self._searchable: Sequence[str] = searchable
        self._type_ids: Mapping[str, int] = {name: type_id for type_id, (name, _m, _f) in types.items()}

    def _filters(
        self,
        unread: bool,
        types: Sequence[TypeT] | None,
        since: datetime | None,
        until: datetime | None,
        include_archived: bool,
        starred: bool,
        parent: Parent | None,
    ) -> _Filters:
        type_ids: list[int] = []
        if types is not None and not is_list_arg(types):
            like = f", like ['{types}']" if isinstance(types, str) else ""
            raise TypeError(f"db.mailbox.list: types takes a list of node type names{like}; got {describe(types)}.")
        for name in types or ():
            type_id = self._type_ids.get(name)
            if type_id is None:
                known = ", ".join(self._type_ids)
                raise TypeError(f"db.mailbox.list: '{name}' is not a node type of this client; use one of {known}.")
            type_ids.append(type_id)
        return _Filters(unread, type_ids, since, until, include_archived, starred, parent)

    def _page(self, data: Wire) -> Page[MailboxItem[NodeT | UnknownNode]]:
        """The items of a `ListMailboxResponse`; an item of a type this client does not
        know (a newer schema) cannot be decoded and stays on the page with an
        `UnknownNode`, typed `type <id>`."""
        items: list[MailboxItem[NodeT | UnknownNode]] = []
        for item in get_dicts(data, "items"):
            node = get_dict(item, "node") or {}
            type_id = get_int(node, "type_id")
            known = self._types.get(type_id)
            decoded: NodeT | UnknownNode
            if known is None:
                decoded, name = UnknownNode(get_str(node, "id"), type_id), f"type {type_id}"
            else:
                name, meta, factory = known
                decoded = node_from_wire(meta, node, factory)
            reason = get_int(item, "reason_edge_type_id")
            delivered = get_str(item, "delivered_at")
            items.append(
                MailboxItem(
                    decoded,
                    name,
                    self._edges.get(reason, f"edge type {reason}"),
                    parse_timestamp(delivered) if delivered else epoch(),
                    get_bool(item, "read"),
                    get_bool(item, "archived"),
                    get_bool(item, "starred"),
                )
            )
        return Page(items, get_str(data, "next_cursor") or None)

    def _counts(self, data: Wire) -> UnreadCounts:
        by_type: dict[str, int] = {}
        for count in get_dicts(data, "by_type"):
            type_id = get_int(count, "type_id")
            known = self._types.get(type_id)
            by_type[known[0] if known is not None else f"type {type_id}"] = get_int(count, "unread")
        return UnreadCounts(get_int(data, "total"), by_type)

    def _search(
        self,
        query: str,
        types: Sequence[SearchT] | None,
        limit: int,
        after: str | None,
        highlight: Highlight | None,
        snippet_tokens: int,
    ) -> Wire:
        type_ids = type_ids_of(types, self._types, self._searchable)
        request = search_request(query, type_ids, None, None, None, limit, after, highlight, snippet_tokens)
        request["mailbox"] = True
        return request


def _change(nodes: Nodes, state: Mapping[str, bool]) -> Wire:
    """An `UpdateMailboxItemsRequest` (without tenant and key)."""
    if isinstance(nodes, str) or not isinstance(nodes, Sequence):
        ids = [resolve_id(nodes, "the mailbox item")]
    else:
        ids = [resolve_id(n, f"nodes[{i}]") for i, n in enumerate(nodes)]
    return {"node_ids": ids, **state}


_READ = {"read": True}
_UNREAD = {"read": False}
_ARCHIVE = {"archived": True}
_UNARCHIVE = {"archived": False}
_STAR = {"starred": True}
_UNSTAR = {"starred": False}


class Mailbox(_MailboxBase[NodeT, TypeT, SearchT]):
    """The caller's mailbox in a synchronous client's tenant. `NodeT` is the union of the
    schema's node classes, `TypeT` its node accessor names, `SearchT` those of its
    searchable types."""

    def __init__(
        self,
        core: ClientCore,
        types: NodeTypes[NodeT],
        edges: Mapping[int, str],
        searchable: Sequence[SearchT],
    ) -> None:
        super().__init__(types, edges, searchable)
        self._core = core

    def list(
        self,
        *,
        unread: bool = False,
        types: Sequence[TypeT] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        include_archived: bool = False,
        starred: bool = False,
        parent: Parent | None = None,
        limit: int = 0,
        after: str | None = None,
        read_your_writes: bool | None = None,
    ) -> Page[MailboxItem[NodeT | UnknownNode]]:
        """One page of items, newest first: only unread ones, of `types`, delivered at or
        after `since` and before `until`, starred, under `parent`; archived ones only with
        `include_archived`. Pass `page.next` as `after`, with the same filters, for the
        next page."""
        filters = self._filters(unread, types, since, until, include_archived, starred, parent)
        return self._page(self._core.read("ListMailbox", filters.request(limit, after), read_your_writes))

    def list_all(
        self,
        *,
        unread: bool = False,
        types: Sequence[TypeT] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        include_archived: bool = False,
        starred: bool = False,
        parent: Parent | None = None,
        page_size: int = 100,
    ) -> Iterator[MailboxItem[NodeT | UnknownNode]]:
        """Every item `list` would give with these filters, page by page, newest first."""
        filters = self._filters(unread, types, since, until, include_archived, starred, parent)
        after: str | None = None
        while True:
            page = self._page(self._core.read("ListMailbox", filters.request(page_size, after)))
            yield from page.items
            if page.next is None:
                return
            after = page.next

    def unread_counts(self, *, read_your_writes: bool | None = None) -> UnreadCounts:
        """How many items are unread and not archived, in all and per type."""
        return self._counts(self._core.read("GetMailboxUnreadCounts", {}, read_your_writes))

    def search(
        self,
        query: str,
        *,
        types: Sequence[SearchT] | None = None,
        limit: int = 0,
        after: str | None = None,
        highlight: Highlight | None = None,
        snippet_tokens: int = 0,
        read_your_writes: bool | None = None,
    ) -> Page[SearchHit[NodeT | UnknownNode]]:
        """Full-text search (docs/search.md) among the nodes in the mailbox, of every
        searchable type or of `types`, most relevant first."""
        request = self._search(query, types, limit, after, highlight, snippet_tokens)
        return search_page(self._core.read("Search", request, read_your_writes), self._types)

    def mark_read(self, nodes: Nodes, *, idempotency_key: str | None = None) -> Receipt:
        """Marks the items of `nodes` read; ids not in the mailbox are left alone."""
        return self._core.change("UpdateMailboxItems", _change(nodes, _READ), idempotency_key)

    def mark_unread(self, nodes: Nodes, *, idempotency_key: str | None = None) -> Receipt:
        return self._core.change("UpdateMailboxItems", _change(nodes, _UNREAD), idempotency_key)

    def archive(self, nodes: Nodes, *, idempotency_key: str | None = None) -> Receipt:
        """Archives the items: `list` leaves them out unless `include_archived`."""
        return self._core.change("UpdateMailboxItems", _change(nodes, _ARCHIVE), idempotency_key)

    def unarchive(self, nodes: Nodes, *, idempotency_key: str | None = None) -> Receipt:
        return self._core.change("UpdateMailboxItems", _change(nodes, _UNARCHIVE), idempotency_key)

    def star(self, nodes: Nodes, *, idempotency_key: str | None = None) -> Receipt:
        return self._core.change("UpdateMailboxItems", _change(nodes, _STAR), idempotency_key)

    def unstar(self, nodes: Nodes, *, idempotency_key: str | None = None) -> Receipt:
        return self._core.change("UpdateMailboxItems", _change(nodes, _UNSTAR), idempotency_key)


class AsyncMailbox(_MailboxBase[NodeT, TypeT, SearchT]):
    """The caller's mailbox in an asyncio client's tenant; see `Mailbox`."""

    def __init__(
        self,
        core: AsyncClientCore,
        types: NodeTypes[NodeT],
        edges: Mapping[int, str],
        searchable: Sequence[SearchT],
    ) -> None:
        super().__init__(types, edges, searchable)
        self._core = core

    async def list(
        self,
        *,
        unread: bool = False,
        types: Sequence[TypeT] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        include_archived: bool = False,
        starred: bool = False,
        parent: Parent | None = None,
        limit: int = 0,
        after: str | None = None,
        read_your_writes: bool | None = None,
    ) -> Page[MailboxItem[NodeT | UnknownNode]]:
        """One page of items, newest first; see `Mailbox.list`."""
        filters = self._filters(unread, types, since, until, include_archived, starred, parent)
        return self._page(await self._core.read("ListMailbox", filters.request(limit, after), read_your_writes))

    async def list_all(
        self,
        *,
        unread: bool = False,
        types: Sequence[TypeT] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        include_archived: bool = False,
        starred: bool = False,
        parent: Parent | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[MailboxItem[NodeT | UnknownNode]]:
        """Every item `list` would give with these filters, page by page, newest first."""
        filters = self._filters(unread, types, since, until, include_archived, starred, parent)
        after: str | None = None
        while True:
            page = self._page(await self._core.read("ListMailbox", filters.request(page_size, after)))
            for item in page.items:
                yield item
            if page.next is None:
                return
            after = page.next

    async def unread_counts(self, *, read_your_writes: bool | None = None) -> UnreadCounts:
        """How many items are unread and not archived, in all and per type."""
        return self._counts(await self._core.read("GetMailboxUnreadCounts", {}, read_your_writes))

    async def search(
        self,
        query: str,
        *,
        types: Sequence[SearchT] | None = None,
        limit: int = 0,
        after: str | None = None,
        highlight: Highlight | None = None,
        snippet_tokens: int = 0,
        read_your_writes: bool | None = None,
    ) -> Page[SearchHit[NodeT | UnknownNode]]:
        """Full-text search among the nodes in the mailbox; see `Mailbox.search`."""
        request = self._search(query, types, limit, after, highlight, snippet_tokens)
        return search_page(await self._core.read("Search", request, read_your_writes), self._types)

    async def mark_read(self, nodes: Nodes, *, idempotency_key: str | None = None) -> Receipt:
        """Marks the items of `nodes` read; ids not in the mailbox are left alone."""
        return await self._core.change("UpdateMailboxItems", _change(nodes, _READ), idempotency_key)

    async def mark_unread(self, nodes: Nodes, *, idempotency_key: str | None = None) -> Receipt:
        return await self._core.change("UpdateMailboxItems", _change(nodes, _UNREAD), idempotency_key)

    async def archive(self, nodes: Nodes, *, idempotency_key: str | None = None) -> Receipt:
        """Archives the items: `list` leaves them out unless `include_archived`."""
        return await self._core.change("UpdateMailboxItems", _change(nodes, _ARCHIVE), idempotency_key)

    async def unarchive(self, nodes: Nodes, *, idempotency_key: str | None = None) -> Receipt:
        return await self._core.change("UpdateMailboxItems", _change(nodes, _UNARCHIVE), idempotency_key)

    async def star(self, nodes: Nodes, *, idempotency_key: str | None = None) -> Receipt:
        return await self._core.change("UpdateMailboxItems", _change(nodes, _STAR), idempotency_key)

    async def unstar(self, nodes: Nodes, *, idempotency_key: str | None = None) -> Receipt:
        return await self._core.change("UpdateMailboxItems", _change(nodes, _UNSTAR), idempotency_key)
