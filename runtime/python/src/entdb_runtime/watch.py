"""Live changes as an iterator (`for change in db.task.watch():`), over the server
streaming `Subscribe` RPC (docs/subscriptions.md). The iterator remembers the last
position the server sent (a change's or a checkpoint's) and, when the stream breaks (the
server restarts, the connection drops, the server cut a slow reader off), subscribes
again after that position: no change is skipped and none is repeated. Leave the loop
(`break`, or cancel the task of an `async for`) to stop; the stream is closed then.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from ._codec import Row, node_from_wire
from ._wire import Wire, get_dict, get_dicts, get_int, get_str
from .errors import EntDbError
from .results import LogPosition
from .schema import TypeMeta

NodeT = TypeVar("NodeT")
IdT = TypeVar("IdT", bound=str)

ChangeKindName = Literal["node_created", "node_updated", "node_deleted", "edge_created", "edge_deleted"]
"""What a change of the untyped core did."""

_KINDS: Mapping[str, ChangeKindName] = {
    "CHANGE_KIND_NODE_CREATED": "node_created",
    "CHANGE_KIND_NODE_UPDATED": "node_updated",
    "CHANGE_KIND_NODE_DELETED": "node_deleted",
    "CHANGE_KIND_EDGE_CREATED": "edge_created",
    "CHANGE_KIND_EDGE_DELETED": "edge_deleted",
}

_RESUMABLE = {"unavailable", "resource_exhausted", "unknown", "internal", "aborted", "deadline_exceeded", "canceled"}
"""Codes of a broken stream worth resuming: the server is away, restarting or cut a slow
reader off. Bad requests and refusals are raised."""


@dataclass(frozen=True)
class WatchedChange:
    """One change as the untyped core yields it: `node` (node changes, unset for a
    deletion) and `edge` (edge changes) are the `entdb.v1` messages as dicts."""

    kind: ChangeKindName
    position: LogPosition
    """The log position of the plan that made it; resume after it to continue."""
    operation_index: int
    type_id: int
    node_id: str
    node: Wire | None
    edge: Wire | None


@dataclass(frozen=True)
class Change(Generic[NodeT, IdT]):
    """A change of a node of one type: `node` is the node as the caller read it when the
    change was sent (it may be newer than the change), None for a deletion."""

    kind: Literal["created", "updated", "deleted"]
    id: IdT
    node: NodeT | None
    position: LogPosition


@dataclass
class WatchState:
    """Where a watch stands: the filters, and the position to resume after."""

    filters: list[Wire]
    after: LogPosition | None
    from_start: bool
    max_reconnects: int
    failures: int = 0

    def request(self, tenant: str) -> Wire:
        if self.after is not None:
            position = {"partition": self.after.partition, "offset": str(self.after.offset)}
            return {"tenant": tenant, "filters": self.filters, "after": position}
        return {"tenant": tenant, "filters": self.filters, "from_start": self.from_start}

    def changes(self, response: Wire) -> list[WatchedChange]:
        """The changes of one response, after moving the resume position past it."""
        self.failures = 0
        pos = get_dict(response, "position")
        if pos is None:
            # Before the tenant's first event: from now on is from the start.
            self.from_start = True
            return []
        at = LogPosition(get_int(pos, "partition"), get_int(pos, "offset"))
        self.after = at
        out: list[WatchedChange] = []
        for change in get_dicts(response, "changes"):
            kind = _KINDS.get(get_str(change, "kind"))
            if kind is None:
                continue  # a kind this client does not know (a newer server)
            out.append(
                WatchedChange(
                    kind,
                    at,
                    get_int(change, "operation_index"),
                    get_int(change, "type_id"),
                    get_str(change, "node_id"),
                    get_dict(change, "node"),
                    get_dict(change, "edge"),
                )
            )
        return out

    def give_up(self, error: EntDbError) -> bool:
        """Whether `error` ends the watch (else it resumes after a back-off)."""
        self.failures += 1
        # A server of a cluster that stopped owning the tenant ends the stream with a
        # redirect: the client remembered the owner, and the watch resumes there.
        resumable = error.code in _RESUMABLE or error.owner is not None
        return not resumable or self.failures > self.max_reconnects

    def delay(self) -> float:
        return float(min(2.0, 0.1 * (2 ** max(0, self.failures - 1))))


def watch_state(
    node_type_ids: Sequence[int],
    node_ids: Sequence[str],
    edge_type_ids: Sequence[int],
    after: LogPosition | None,
    from_start: bool,
    max_reconnects: int,
) -> WatchState:
    filters: list[Wire] = []
    filters.extend({"node_type_id": t} for t in node_type_ids)
    filters.extend({"node_id": n} for n in node_ids)
    filters.extend({"edge_type_id": t} for t in edge_type_ids)
    return WatchState(filters, after, from_start, max_reconnects)


def watch_sync(tenant: str, open_stream: Callable[[Wire], Iterator[Wire]], state: WatchState) -> Iterator[WatchedChange]:
    """The changes `state` selects, resuming after every break."""
    while True:
        try:
            for response in open_stream(state.request(tenant)):
                yield from state.changes(response)
            # The server ended the stream (it shuts down): resume like after a break.
        except EntDbError as err:
            if state.give_up(err):
                raise
        time.sleep(state.delay())


async def watch_async(
    tenant: str, open_stream: Callable[[Wire], AsyncIterator[Wire]], state: WatchState
) -> AsyncIterator[WatchedChange]:
    """The changes `state` selects, resuming after every break."""
    while True:
        try:
            async for response in open_stream(state.request(tenant)):
                for change in state.changes(response):
                    yield change
        except EntDbError as err:
            if state.give_up(err):
                raise
        await asyncio.sleep(state.delay())


def typed_change(meta: TypeMeta, change: WatchedChange, factory: Callable[[Row], NodeT]) -> Change[NodeT, str] | None:
    """The typed change of a node of `meta`'s type; None for other changes."""
    if change.type_id != meta.id or not change.kind.startswith("node_"):
        return None
    kind: Literal["created", "updated", "deleted"] = (
        "created" if change.kind == "node_created" else "updated" if change.kind == "node_updated" else "deleted"
    )
    node = None if change.node is None else node_from_wire(meta, change.node, factory)
    return Change(kind, change.node_id, node, change.position)

