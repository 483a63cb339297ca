"""What calls return: receipts, write results and pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
IdT = TypeVar("IdT", bound=str)


@dataclass(frozen=True, order=True)
class LogPosition:
    """Where an event sits in the log: its partition and offset."""

    partition: int
    offset: int


@dataclass(frozen=True)
class Receipt:
    """Proof that a write is durable (and, unless `no_wait`, applied)."""

    tenant: str
    position: LogPosition | None
    applied: bool
    """True when the outcome is final (the plan was applied)."""
    idempotency_key: str
    replayed: bool
    """True when the server answered a retry with the first outcome."""
    schema_version: int


@dataclass(frozen=True)
class StepResult:
    """The outcome of one plan step: the node's id ("" for edge steps), whether a
    create-if-absent created it, and its version after the step."""

    id: str
    created: bool
    version: int


@dataclass(frozen=True)
class PlanResult:
    receipt: Receipt
    results: Sequence[StepResult]


@dataclass(frozen=True)
class Created(Generic[IdT]):
    """What `create` returns; `created` is False when create-if-absent found a node."""

    id: IdT
    version: int
    created: bool
    receipt: Receipt


@dataclass(frozen=True)
class Updated(Generic[IdT]):
    """What `update` returns."""

    id: IdT
    version: int
    receipt: Receipt


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a query or an edge list; `next` is the cursor of the next page,
    None on the last one. `total` is the edge count when it was asked for."""

    items: Sequence[T]
    next: str | None
    total: int | None = None
