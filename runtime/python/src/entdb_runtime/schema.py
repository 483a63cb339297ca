"""What a generated client tells the runtime about its schema: per type, its id and its
fields (id, attribute name, kind), so values can be encoded by field id and errors can
name fields. Generated code builds these once at import time."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldMeta:
    """One field: its id, the attribute name in generated classes, and its kind
    (`string`, `int`, `float`, `bool`, `timestamp`, `bytes`, `json`, `enum`, `ref`)."""

    id: int
    name: str
    kind: str
    is_list: bool = False
    required: bool = False
    has_default: bool = False
    enum: type[enum.IntEnum] | None = None
    target: int = 0
    """For a ref: the id of the node type it points at."""


@dataclass(frozen=True)
class TypeMeta:
    """A node or edge type. For an edge, `from_type` and `to_type` are its ends."""

    id: int
    name: str
    fields: tuple[FieldMeta, ...]
    uniques: tuple[tuple[str, ...], ...] = ()
    from_type: int = 0
    to_type: int = 0
    _by_name: dict[str, FieldMeta] = field(default_factory=dict[str, FieldMeta], init=False, repr=False, compare=False)
    _by_id: dict[int, FieldMeta] = field(default_factory=dict[int, FieldMeta], init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for f in self.fields:
            self._by_name[f.name] = f
            self._by_id[f.id] = f

    def field_named(self, name: str) -> FieldMeta:
        """The field with attribute `name`; `TypeError` naming the type when there is none."""
        found = self._by_name.get(name)
        if found is None:
            known = ", ".join(f.name for f in self.fields)
            raise TypeError(f"{self.name} has no field '{name}'; its fields are: {known}.")
        return found

    def field_by_id(self, field_id: int) -> FieldMeta | None:
        return self._by_id.get(field_id)


@dataclass(frozen=True)
class SchemaMeta:
    """All types of a schema by id (node and edge ids share one id space)."""

    package: str
    types: Mapping[int, TypeMeta]

    @staticmethod
    def of(package: str, types: Sequence[TypeMeta]) -> SchemaMeta:
        return SchemaMeta(package, {t.id: t for t in types})
