"""Full-text search and traversals, the reads that return nodes of several types.

`db.task.search("printer fire")` searches one type, `db.search("printer")` every
searchable type (the `Search` RPC, docs/search.md); `db.traverse(start, hops=[...])`
walks edges breadth first (the `Traverse` RPC). Hits and visited nodes come decoded into
the generated classes, through the factory of their type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, Protocol, TypeVar

from ._codec import Row, node_from_wire, order_to_wire, where_to_wire
from ._wire import Wire, get_dict, get_dicts, get_int, get_str
from .filters import OrderBy
from .plan import HasId, resolve_id
from .results import Page
from .schema import TypeMeta

NodeT = TypeVar("NodeT")
F = TypeVar("F", bound=str)


@dataclass(frozen=True)
class SearchHit(Generic[NodeT]):
    """One hit: the node, its relevance (higher is more relevant), an excerpt of each
    searchable field that matched by attribute name, and the type's accessor name."""

    node: NodeT
    score: float
    snippets: Mapping[str, str]
    type: str


@dataclass(frozen=True)
class Highlight:
    """The markers put around each match in snippets (default `[` and `]`)."""

    start: str
    end: str


class EdgeType(Protocol):
    """An edge type to follow: an edge accessor (`db.assigned_to`) names its type."""

    @property
    def edge_type_id(self) -> int: ...


Direction = Literal["out", "in"]
"""Which way a traversal follows an edge: from its from end to its to end (`out`), or back (`in`)."""

_DIRECTIONS: Mapping[str, int] = {"out": 1, "in": 2}


@dataclass(frozen=True)
class Hop:
    """One step of a traversal path: the edge types to follow (none: every edge type)
    and the direction."""

    edges: Sequence[EdgeType] = ()
    direction: Direction = "out"


@dataclass(frozen=True)
class Visited(Generic[NodeT]):
    """A node a traversal reached, and how many hops from the start."""

    node: NodeT
    depth: int


@dataclass(frozen=True)
class Traversal(Generic[NodeT]):
    """What a traversal reached, breadth first; `truncated` when it stopped at `max_nodes`."""

    nodes: Sequence[Visited[NodeT]]
    truncated: bool


NodeTypes = Mapping[int, tuple[str, TypeMeta, Callable[[Row], NodeT]]]
"""Per node type id: its accessor name, metadata and the generated factory."""


def search_request(
    query: str,
    type_ids: Sequence[int],
    meta: TypeMeta | None,
    where: object | None,
    order_by: OrderBy[F] | None,
    limit: int,
    after: str | None,
    highlight: Highlight | None,
    snippet_tokens: int,
) -> Wire:
    """A `SearchRequest` (without tenant and position)."""
    request: Wire = {
        "query": query,
        "type_ids": list(type_ids),
        "limit": limit,
        "cursor": after or "",
        "snippet_tokens": snippet_tokens,
    }
    if meta is not None:
        request["filters"] = where_to_wire(meta, where)
        order = order_to_wire(meta, order_by)
        if order is not None:
            request["order_by"] = order
    if highlight is not None:
        request["highlight_start"] = highlight.start
        request["highlight_end"] = highlight.end
    return request


def search_page(data: Wire, types: NodeTypes[NodeT]) -> Page[SearchHit[NodeT]]:
    """The hits of a `SearchResponse`; a hit of a type this client does not know (a newer
    schema) cannot be decoded and is left out."""
    hits: list[SearchHit[NodeT]] = []
    for hit in get_dicts(data, "hits"):
        node = get_dict(hit, "node") or {}
        known = types.get(get_int(node, "type_id"))
        if known is None:
            continue
        name, meta, factory = known
        snippets: dict[str, str] = {}
        for s in get_dicts(hit, "snippets"):
            field = meta.field_by_id(get_int(s, "field_id"))
            if field is not None:
                snippets[field.name] = get_str(s, "text")
        score = hit.get("score", 0.0)
        hits.append(
            SearchHit(
                node_from_wire(meta, node, factory),
                float(score) if isinstance(score, int | float) else 0.0,
                snippets,
                name,
            )
        )
    return Page(hits, get_str(data, "next_cursor") or None)


def type_ids_of(names: Sequence[str] | None, types: NodeTypes[NodeT], searchable: Sequence[str]) -> list[int]:
    """The type ids of the accessor names `db.search(types=...)` takes."""
    if names is None:
        return []
    by_name = {name: type_id for type_id, (name, _m, _f) in types.items()}
    out: list[int] = []
    for name in names:
        if name not in searchable:
            raise TypeError(f"db.search: '{name}' is not a searchable node type; use one of {', '.join(searchable)}.")
        out.append(by_name[name])
    return out


def traverse_request(
    start: str | HasId[str],
    hops: Sequence[Hop] | None,
    edges: Sequence[EdgeType] | None,
    direction: Direction,
    max_depth: int,
    max_nodes: int,
) -> Wire:
    """A `TraverseRequest` (without tenant and position): one rule for every depth, or a
    path of `hops`, one per depth."""
    request: Wire = {"start_id": resolve_id(start, "the traversal's start"), "max_nodes": max_nodes}
    if hops is not None:
        if edges is not None or max_depth != 0:
            raise TypeError("traverse: give either hops or edges/max_depth, not both; a path is as deep as it is long.")
        request["hops"] = [
            {"edge_type_ids": [e.edge_type_id for e in hop.edges], "direction": _DIRECTIONS[hop.direction]}
            for hop in hops
        ]
    else:
        request["edge_type_ids"] = [e.edge_type_id for e in edges or ()]
        request["direction"] = _DIRECTIONS[direction]
        request["max_depth"] = max_depth
    return request


def traversal(data: Wire, types: NodeTypes[NodeT]) -> Traversal[NodeT]:
    """The nodes of a `TraverseResponse`, decoded; nodes of types this client does not know are left out."""
    visited: list[Visited[NodeT]] = []
    for item in get_dicts(data, "nodes"):
        node = get_dict(item, "node") or {}
        known = types.get(get_int(node, "type_id"))
        if known is None:
            continue
        _name, meta, factory = known
        visited.append(Visited(node_from_wire(meta, node, factory), get_int(item, "depth")))
    truncated = data.get("truncated", False)
    return Traversal(visited, truncated is True)
