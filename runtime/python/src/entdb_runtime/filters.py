"""Query conditions. A bare value in a generated `…Where` means equality; these classes
give the other operators. Which class a field takes follows its kind: `Text` for
strings, `Range` for ints, floats and timestamps, `Filter` for bools, enums and refs,
`Has` for lists. All operators given must hold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

T = TypeVar("T")
F = TypeVar("F", bound=str)


@dataclass(frozen=True, kw_only=True)
class Filter(Generic[T]):
    eq: T | None = None
    ne: T | None = None
    in_: Sequence[T] | None = None


@dataclass(frozen=True, kw_only=True)
class Range(Filter[T]):
    lt: T | None = None
    lte: T | None = None
    gt: T | None = None
    gte: T | None = None


@dataclass(frozen=True, kw_only=True)
class Text(Range[str]):
    prefix: str | None = None
    contains: str | None = None


@dataclass(frozen=True, kw_only=True)
class Has(Generic[T]):
    """A list field holds `contains`."""

    contains: T


@dataclass(frozen=True)
class OrderBy(Generic[F]):
    """The order of a query: a field name (or "id") and a direction."""

    field: F
    direction: Literal["asc", "desc"] = "asc"


OPS: tuple[tuple[str, int], ...] = (
    ("eq", 1),
    ("ne", 2),
    ("lt", 3),
    ("lte", 4),
    ("gt", 5),
    ("gte", 6),
    ("in_", 7),
    ("contains", 8),
    ("prefix", 9),
)
"""Operator attribute → `entdb.v1.FilterOp` number."""
