"""Full-text search and traversals, the reads that return nodes of several types.

`db.task.search("printer fire")` searches one type, `db.search("printer")` every
searchable type (the `Search` RPC, docs/search.md); `db.traverse(start, hops=[...])`
walks edges breadth first (the `Traverse` RPC). Hits and visited nodes come decoded into
the generated classes, through the factory of their type; a hit across types of a type
the client does not know comes as an `UnknownNode`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, Protocol, TypeVar, cast

from ._codec import Row, node_from_wire, order_to_wire, where_to_wire
from ._wire import Wire, get_dict, get_dicts, get_int, get_str
from .filters import OrderBy
from .plan import HasId, resolve_id
from .values import describe, is_list_arg
from .results import Page
from .schema import TypeMeta

NodeT = TypeVar("NodeT")
F = TypeVar("F", bound=str)


@dataclass(frozen=True)
class SearchHit(Generic[NodeT]):
    """One hit: the node, its relevance (higher is more relevant), an excerpt of each
    searchable field that matched by attribute name, and the type's accessor name (or
    `type <id>` for an `UnknownNode`)."""

    node: NodeT
    score: float
    snippets: Mapping[str, str]
    type: str


@dataclass(frozen=True)
class UnknownNode:
    """The node of a hit or mailbox item whose type this client does not know (a newer
    schema on the server): only its id and type id; the hit's or item's `type` is
    `type <id>`. Results across types keep it rather than leave their page short, so
    narrow with `isinstance(hit.node, Task)` before reading fields."""

    id: str
    type_id: int


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


def search_page(data: Wire, types: NodeTypes[NodeT]) -> Page[SearchHit[NodeT | UnknownNode]]:
    """The hits of a `SearchResponse` across types; a hit of a type this client does not
    know (a newer schema) cannot be decoded and stays on the page as an `UnknownNode`
    with no snippets, typed `type <id>`."""
    hits: list[SearchHit[NodeT | UnknownNode]] = []
    for hit in get_dicts(data, "hits"):
        node = get_dict(hit, "node") or {}
        type_id = get_int(node, "type_id")
        known = types.get(type_id)
        if known is None:
            unknown = UnknownNode(get_str(node, "id"), type_id)
            hits.append(SearchHit[NodeT | UnknownNode](unknown, _score(hit), {}, f"type {type_id}"))
            continue
        name, meta, factory = known
        decoded = node_from_wire(meta, node, factory)
        hits.append(SearchHit[NodeT | UnknownNode](decoded, _score(hit), _snippets(hit, meta), name))
    return Page(hits, get_str(data, "next_cursor") or None)


def type_search_page(data: Wire, types: NodeTypes[NodeT]) -> Page[SearchHit[NodeT]]:
    """The hits of a `SearchResponse` of one type's search: the server answers only hits
    of the type asked for, which `types` holds."""
    hits: list[SearchHit[NodeT]] = []
    for hit in get_dicts(data, "hits"):
        node = get_dict(hit, "node") or {}
        known = types.get(get_int(node, "type_id"))
        if known is None:
            continue
        name, meta, factory = known
        hits.append(SearchHit(node_from_wire(meta, node, factory), _score(hit), _snippets(hit, meta), name))
    return Page(hits, get_str(data, "next_cursor") or None)


def _score(hit: Wire) -> float:
    score = hit.get("score", 0.0)
    return float(score) if isinstance(score, int | float) else 0.0


def _snippets(hit: Wire, meta: TypeMeta) -> dict[str, str]:
    """A hit's snippets by attribute name; a field this client does not know is left out."""
    snippets: dict[str, str] = {}
    for s in get_dicts(hit, "snippets"):
        field = meta.field_by_id(get_int(s, "field_id"))
        if field is not None:
            snippets[field.name] = get_str(s, "text")
    return snippets


def type_ids_of(names: Sequence[str] | None, types: NodeTypes[NodeT], searchable: Sequence[str]) -> list[int]:
    """The type ids of the accessor names `db.search(types=...)` takes."""
    if names is None:
        return []
    if not is_list_arg(names):
        like = f", like ['{names}']" if isinstance(names, str) else ""
        raise TypeError(f"db.search: types takes a list of accessor names{like}; got {describe(names)}.")
    by_name = {name: type_id for type_id, (name, _m, _f) in types.items()}
    out: list[int] = []
    for name in cast("Iterable[object]", names):
        if not isinstance(name, str):
            raise TypeError(f"db.search: types names node types by accessor name, like 'task'; got {describe(name)}.")
        if name not in searchable:
            raise TypeError(f"db.search: '{name}' is not a searchable node type; use one of {', '.join(searchable)}.")
        out.append(by_name[name])
    return out


def edge_type_id_of(edge: object, label: str) -> int:
    """The type id of an edge accessor (`db.assigned_to`); anything else, such as the
    edge's name as a string, is a TypeError saying what to pass."""
    type_id = getattr(edge, "edge_type_id", None)
    if isinstance(type_id, int) and not isinstance(type_id, bool) and type_id > 0:
        return type_id
    hint = f" (the accessor db.{edge}, not the name)" if isinstance(edge, str) else ""
    raise TypeError(f"{label} must be an edge accessor such as db.assigned_to{hint}; got {describe(edge)}.")


def edge_type_ids_of(edges: object, label: str) -> list[int]:
    """The type ids of a list of edge accessors; see `edge_type_id_of`."""
    if getattr(edges, "edge_type_id", None) is not None:
        raise TypeError(f"{label} takes a list of edge accessors; got one ({describe(edges)}): pass [it].")
    if not is_list_arg(edges):
        raise TypeError(f"{label} takes a list of edge accessors, such as [db.assigned_to]; got {describe(edges)}.")
    return [edge_type_id_of(edge, f"{label}[{i}]") for i, edge in enumerate(cast("Iterable[object]", edges))]


def direction_of(direction: object, label: str) -> int:
    """The wire value of a `Direction`; anything but "out" or "in" is a ValueError."""
    code = _DIRECTIONS.get(direction) if isinstance(direction, str) else None
    if code is None:
        raise ValueError(f"{label} must be 'out' or 'in'; got {describe(direction)}.")
    return code


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
        if isinstance(hops, Hop) or not is_list_arg(hops):
            raise TypeError(f"traverse: hops takes a list of Hop, one per depth; got {describe(hops)}.")
        wire: list[Wire] = []
        for i, hop in enumerate(cast("Iterable[object]", hops)):
            if not isinstance(hop, Hop):
                raise TypeError(
                    f"traverse: hops[{i}] must be a Hop(edges=[db.assigned_to], direction='out'); got {describe(hop)}."
                )
            wire.append(
                {
                    "edge_type_ids": edge_type_ids_of(hop.edges, f"traverse: hops[{i}].edges"),
                    "direction": direction_of(hop.direction, f"traverse: hops[{i}].direction"),
                }
            )
        request["hops"] = wire
    else:
        request["edge_type_ids"] = [] if edges is None else edge_type_ids_of(edges, "traverse: edges")
        request["direction"] = direction_of(direction, "traverse: direction")
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
