"""The typed accessors of a generated asyncio client: one per node type
(`db.task`), one per edge type (`db.assigned_to`), and the `async with` plan scope. Generated code binds the type parameters; the runtime does the work."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from types import TracebackType
from typing import Generic, TypeVar, cast

from ._codec import EdgeRow, Row, edge_from_wire, key_to_wire, node_from_wire, order_to_wire, where_to_wire
from ._wire import get_dicts, get_int, get_str
from .accessors import PlanBase
from .core import AsyncClientCore
from .filters import OrderBy
from .plan import HasId, NodeHandle, PlanBuilder, resolve_id, resolve_ids
from .results import Created, LogPosition, Page, Receipt, Updated
from .schema import TypeMeta
from .watch import Change, WatchedChange, typed_change
from .search import (
    Direction,
    EdgeType,
    Highlight,
    Hop,
    NodeTypes,
    SearchHit,
    UnknownNode,
    Traversal,
    search_page,
    type_search_page,
    search_request,
    traversal,
    traverse_request,
    type_ids_of,
)

NodeT = TypeVar("NodeT")
EdgeT = TypeVar("EdgeT")
IdT = TypeVar("IdT", bound=str)
FromT = TypeVar("FromT", bound=str)
ToT = TypeVar("ToT", bound=str)
CreateT = TypeVar("CreateT")
PatchT = TypeVar("PatchT")
WhereT = TypeVar("WhereT")
OrderT = TypeVar("OrderT", bound=str)
KeyT = TypeVar("KeyT", bound=str)
PropsT = TypeVar("PropsT")
PlanT = TypeVar("PlanT", bound="PlanBase")
SearchT = TypeVar("SearchT", bound=str)


class AsyncPlanScope(Generic[PlanT]):
    """`async with db.plan() as plan:` — the steps inside the block commit together when it
    ends without an exception; an exception sends nothing."""

    def __init__(self, core: AsyncClientCore, plan: PlanT, builder: PlanBuilder, key: str | None, no_wait: bool) -> None:
        self._core = core
        self._plan = plan
        self._builder = builder
        self._key = key
        self._no_wait = no_wait

    async def __aenter__(self) -> PlanT:
        return self._plan

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            return
        self._builder.result = await self._core.execute_plan(
            self._builder.operations, idempotency_key=self._key, no_wait=self._no_wait
        )


class AsyncNodeAccessor(Generic[NodeT, IdT, CreateT, PatchT, WhereT, OrderT, KeyT]):
    """A node type's operations, each its own plan or read."""

    def __init__(self, core: AsyncClientCore, meta: TypeMeta, factory: Callable[[Row], NodeT]) -> None:
        self._core = core
        self._meta = meta
        self._factory = factory

    async def _run(self, build: Callable[[PlanBuilder], None], key: str | None) -> PlanBuilder:
        builder = PlanBuilder()
        build(builder)
        builder.result = await self._core.execute_plan(builder.operations, idempotency_key=key)
        return builder

    async def create(
        self, data: CreateT, *, if_absent_on: Sequence[KeyT] | None = None, idempotency_key: str | None = None
    ) -> Created[IdT]:
        """Creates a node; with `if_absent_on` (a unique key's fields), resolves to the
        node holding the same values instead, writing nothing (`created` is then False)."""
        handles: list[NodeHandle[IdT]] = []

        def build(b: PlanBuilder) -> None:
            handles.append(b.create_node(self._meta, data, if_absent_on))  # type: ignore[arg-type]

        builder = await self._run(build, idempotency_key)
        handle = handles[0]
        return Created(handle.id, handle.version, handle.created, builder.receipt)

    async def update(
        self,
        node: IdT | HasId[IdT],
        patch: PatchT,
        *,
        expected_version: int | None = None,
        expected_fields: PatchT | None = None,
        idempotency_key: str | None = None,
    ) -> Updated[IdT]:
        """Updates a node: attributes left UNSET stay, None clears. With
        `expected_version`/`expected_fields`, raises `PreconditionFailedError` if the node moved on."""
        builder = await self._run(
            lambda b: b.update_node(self._meta, node, patch, expected_version, expected_fields), idempotency_key
        )
        step = builder.result.results[0] if builder.result else None
        node_id: IdT = resolve_id(node, self._meta.name)  # type: ignore[assignment]
        return Updated(node_id, 0 if step is None else step.version, builder.receipt)

    async def delete(
        self,
        node: IdT | HasId[IdT],
        *,
        expected_version: int | None = None,
        expected_fields: PatchT | None = None,
        idempotency_key: str | None = None,
    ) -> Receipt:
        """Deletes a node with its edges."""
        builder = await self._run(
            lambda b: b.delete_node(self._meta, node, expected_version, expected_fields), idempotency_key
        )
        return builder.receipt

    async def get(self, node: IdT | HasId[IdT], *, read_your_writes: bool | None = None) -> NodeT | None:
        """The node, or None when it does not exist or the caller may not see it."""
        data = await self._core.get_node(self._meta.id, resolve_id(node, self._meta.name), read_your_writes)
        return None if data is None else node_from_wire(self._meta, data, self._factory)

    async def get_many(self, nodes: Sequence[IdT | HasId[IdT]], *, read_your_writes: bool | None = None) -> list[NodeT | None]:
        """The nodes in the order asked, None for those missing."""
        ids = resolve_ids(nodes, f"{self._meta.name} get_many")
        data = await self._core.read("GetNodes", {"type_id": self._meta.id, "ids": ids}, read_your_writes)
        found = {get_str(n, "id"): node_from_wire(self._meta, n, self._factory) for n in get_dicts(data, "nodes")}
        return [found.get(i) for i in ids]

    async def _get_by(self, key: dict[str, object], read_your_writes: bool | None = None) -> NodeT | None:
        data = await self._core.get_node_by_key(self._meta.id, key_to_wire(self._meta, key), read_your_writes)
        return None if data is None else node_from_wire(self._meta, data, self._factory)

    async def query(
        self,
        *,
        where: WhereT | None = None,
        order_by: OrderBy[OrderT] | None = None,
        limit: int = 0,
        after: str | None = None,
        read_your_writes: bool | None = None,
    ) -> Page[NodeT]:
        """One page of the nodes matching every condition of `where`; pass `page.next`
        as `after` for the next page."""
        request: dict[str, object] = {
            "type_id": self._meta.id,
            "filters": where_to_wire(self._meta, where),
            "limit": limit,
            "cursor": after or "",
        }
        order = order_to_wire(self._meta, order_by)
        if order is not None:
            request["order_by"] = order
        data = await self._core.read("QueryNodes", request, read_your_writes)
        items = [node_from_wire(self._meta, n, self._factory) for n in get_dicts(data, "nodes")]
        return Page(items, get_str(data, "next_cursor") or None)

    async def query_all(
        self, *, where: WhereT | None = None, order_by: OrderBy[OrderT] | None = None, page_size: int = 100
    ) -> AsyncIterator[NodeT]:
        """Every matching node, fetched a page at a time as the iterator advances."""
        after: str | None = None
        while True:
            page = await self.query(where=where, order_by=order_by, limit=page_size, after=after)
            for item in page.items:
                yield item
            if page.next is None:
                return
            after = page.next

    def watch(
        self,
        *,
        ids: Sequence[IdT | HasId[IdT]] | None = None,
        after: LogPosition | None = None,
        from_start: bool = False,
        max_reconnects: int = 10,
    ) -> AsyncIterator[Change[NodeT, IdT]]:
        """This type's changes as they are applied (or those of `ids` only): from now,
        after `after` (a change's `position`), or the whole history with `from_start`.
        Resumes by itself after a break, from the last position it was sent, so nothing
        is skipped or repeated; leave the loop to stop. A wrong `ids` raises here, at
        the call, not at the first iteration."""
        node_ids = [] if ids is None else resolve_ids(ids, f"{self._meta.name} watch: ids")
        changes = self._core.watch(
            node_type_ids=[self._meta.id] if ids is None else [],
            node_ids=node_ids,
            after=after,
            from_start=from_start,
            max_reconnects=max_reconnects,
        )
        return self._typed(changes)

    async def _typed(self, changes: AsyncIterator[WatchedChange]) -> AsyncIterator[Change[NodeT, IdT]]:
        async for change in changes:
            typed = typed_change(self._meta, change, self._factory)
            if typed is not None:
                yield cast("Change[NodeT, IdT]", typed)  # the id is of this type's nodes


class AsyncEdgeAccessor(Generic[EdgeT, FromT, ToT, PropsT]):
    """An edge type's operations."""

    def __init__(self, core: AsyncClientCore, meta: TypeMeta, factory: Callable[[EdgeRow], EdgeT]) -> None:
        self._core = core
        self._meta = meta
        self._factory = factory

    @property
    def edge_type_id(self) -> int:
        """The edge type's id, what a traversal `Hop` follows."""
        return self._meta.id

    async def link(
        self,
        from_: FromT | HasId[FromT],
        to: ToT | HasId[ToT],
        props: PropsT | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Receipt:
        """Creates the edge (or replaces its properties)."""
        builder = PlanBuilder()
        builder.create_edge(self._meta, from_, to, props)
        return (await self._core.execute_plan(builder.operations, idempotency_key=idempotency_key)).receipt

    async def unlink(
        self, from_: FromT | HasId[FromT], to: ToT | HasId[ToT], *, idempotency_key: str | None = None
    ) -> Receipt:
        """Removes the edge (a no-op when it does not exist)."""
        builder = PlanBuilder()
        builder.delete_edge(self._meta, from_, to)
        return (await self._core.execute_plan(builder.operations, idempotency_key=idempotency_key)).receipt

    async def _page(
        self, node: str, direction: int, limit: int, after: str | None, with_count: bool, ryw: bool | None
    ) -> Page[EdgeT]:
        data = await self._core.read(
            "ListEdges",
            {
                "edge_type_id": self._meta.id,
                "node_id": node,
                "direction": direction,
                "limit": limit,
                "cursor": after or "",
                "include_count": with_count,
            },
            ryw,
        )
        items = [edge_from_wire(self._meta, e, self._factory) for e in get_dicts(data, "edges")]
        total = get_int(data, "total_count") if "total_count" in data else None
        return Page(items, get_str(data, "next_cursor") or None, total)

    async def list(
        self,
        from_: FromT | HasId[FromT],
        *,
        limit: int = 0,
        after: str | None = None,
        with_count: bool = False,
        read_your_writes: bool | None = None,
    ) -> Page[EdgeT]:
        """One page of the edges from a node."""
        return await self._page(resolve_id(from_, self._meta.name), 1, limit, after, with_count, read_your_writes)

    async def inverse(
        self,
        to: ToT | HasId[ToT],
        *,
        limit: int = 0,
        after: str | None = None,
        with_count: bool = False,
        read_your_writes: bool | None = None,
    ) -> Page[EdgeT]:
        """One page of the edges to a node."""
        return await self._page(resolve_id(to, self._meta.name), 2, limit, after, with_count, read_your_writes)

    async def list_all(self, from_: FromT | HasId[FromT], *, page_size: int = 100) -> AsyncIterator[EdgeT]:
        """Every edge from a node, a page at a time."""
        after: str | None = None
        while True:
            page = await self.list(from_, limit=page_size, after=after)
            for item in page.items:
                yield item
            if page.next is None:
                return
            after = page.next

    async def inverse_all(self, to: ToT | HasId[ToT], *, page_size: int = 100) -> AsyncIterator[EdgeT]:
        """Every edge to a node, a page at a time."""
        after: str | None = None
        while True:
            page = await self.inverse(to, limit=page_size, after=after)
            for item in page.items:
                yield item
            if page.next is None:
                return
            after = page.next


class AsyncSearchableNodeAccessor(AsyncNodeAccessor[NodeT, IdT, CreateT, PatchT, WhereT, OrderT, KeyT]):
    """The accessor of a node type with searchable fields: its operations and `search`."""

    def __init__(self, core: AsyncClientCore, meta: TypeMeta, factory: Callable[[Row], NodeT], name: str) -> None:
        super().__init__(core, meta, factory)
        self._types: NodeTypes[NodeT] = {meta.id: (name, meta, factory)}

    async def search(
        self,
        query: str,
        *,
        where: WhereT | None = None,
        order_by: OrderBy[OrderT] | None = None,
        limit: int = 0,
        after: str | None = None,
        highlight: Highlight | None = None,
        snippet_tokens: int = 0,
        read_your_writes: bool | None = None,
    ) -> Page[SearchHit[NodeT]]:
        """One page of the nodes matching `query` (words, "phrases", prefix*, AND, OR, NOT;
        docs/search.md), most relevant first unless `order_by` says otherwise; pass
        `page.next` as `after` (with the same query, where and order) for the next page."""
        request = search_request(
            query, [self._meta.id], self._meta, where, order_by, limit, after, highlight, snippet_tokens
        )
        return type_search_page(await self._core.read("Search", request, read_your_writes), self._types)


class AsyncClientReads(Generic[NodeT, SearchT]):
    """The reads of a generated client that span node types: `search` across every
    searchable type and `traverse`. `NodeT` is the union of the schema's node classes."""

    def __init__(self, core: AsyncClientCore, types: NodeTypes[NodeT], searchable: Sequence[SearchT]) -> None:
        self._reads_core = core
        self._types = types
        self._searchable: Sequence[str] = searchable

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
        """One page of the nodes of every searchable type (or of `types`, by accessor
        name) matching `query`, ranked together; `hit.type` names each hit's type. A hit
        of a type this client does not know (a newer schema) has an `UnknownNode`."""
        type_ids = type_ids_of(types, self._types, self._searchable)
        request = search_request(query, type_ids, None, None, None, limit, after, highlight, snippet_tokens)
        return search_page(await self._reads_core.read("Search", request, read_your_writes), self._types)

    async def traverse(
        self,
        start: str | HasId[str],
        *,
        hops: Sequence[Hop] | None = None,
        edges: Sequence[EdgeType] | None = None,
        direction: Direction = "out",
        max_depth: int = 0,
        max_nodes: int = 0,
        read_your_writes: bool | None = None,
    ) -> Traversal[NodeT]:
        """The nodes reachable from `start`, breadth first: following `edges` (default
        every edge type) in `direction` up to `max_depth`, or one `Hop` per depth. The
        server bounds the depth and the count (`truncated` says it stopped early)."""
        request = traverse_request(start, hops, edges, direction, max_depth, max_nodes)
        return traversal(await self._reads_core.read("Traverse", request, read_your_writes), self._types)
