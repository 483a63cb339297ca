"""Nodes, edges, keys and filters between generated classes and wire dicts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar, cast

from ._wire import Wire, as_list, as_wire, get_dict, get_int, get_str
from .filters import OPS, Filter, Has, OrderBy
from .plan import resolve_id, values_of
from .schema import TypeMeta
from .values import decode, encode, epoch, parse_timestamp

T = TypeVar("T")
F = TypeVar("F", bound=str)


def _time(data: Mapping[str, object], key: str) -> datetime:
    text = get_str(data, key)
    return parse_timestamp(text) if text else epoch()


def _field_values(meta: TypeMeta, data: Wire | None) -> dict[str, object]:
    values: dict[str, object] = {f.name: None for f in meta.fields}
    for key, raw in (data or {}).items():
        field = meta.field_by_id(int(key))
        if field is None:
            continue  # a field this client's schema does not know yet
        wire = as_wire(raw, f"{meta.name}.{field.name}")
        if "null_value" in wire:
            continue
        values[field.name] = decode(field, wire, f"{meta.name}.{field.name}")
    return values


@dataclass(frozen=True)
class Row:
    """A node as decoded, before the generated factory builds its class: field values
    by attribute name, already of their Python kinds (None when unset)."""

    id: str
    version: int
    created_at: datetime
    updated_at: datetime
    values: Mapping[str, object]


@dataclass(frozen=True)
class EdgeRow:
    """An edge as decoded, before the generated factory builds its class."""

    from_id: str
    to_id: str
    created_at: datetime
    values: Mapping[str, object]


def node_from_wire(meta: TypeMeta, data: Wire, factory: Callable[[Row], T]) -> T:
    """A generated node class instance from an `entdb.v1.Node`."""
    return factory(
        Row(
            id=get_str(data, "id"),
            version=get_int(data, "version"),
            created_at=_time(data, "created_at"),
            updated_at=_time(data, "updated_at"),
            values=_field_values(meta, get_dict(data, "fields")),
        )
    )


def edge_from_wire(meta: TypeMeta, data: Wire, factory: Callable[[EdgeRow], T]) -> T:
    """A generated edge class instance from an `entdb.v1.Edge`."""
    return factory(
        EdgeRow(
            from_id=get_str(data, "from_id"),
            to_id=get_str(data, "to_id"),
            created_at=_time(data, "created_at"),
            values=_field_values(meta, get_dict(data, "props")),
        )
    )


def key_to_wire(meta: TypeMeta, values: Mapping[str, object]) -> dict[str, Wire]:
    """A unique key's values by field id."""
    out: dict[str, Wire] = {}
    for name, value in values.items():
        field = meta.field_named(name)
        out[str(field.id)] = encode(field, value, f"{meta.name}.{name}", lambda r, _t, label: resolve_id(r, label))
    return out


def where_to_wire(meta: TypeMeta, where: object | None) -> list[Wire]:
    """The `entdb.v1.Filter`s of a generated `…Where`."""
    if where is None:
        return []
    filters: list[Wire] = []
    for name, condition in values_of(where, skip=None).items():
        field = meta.field_named(name)
        label = f"{meta.name}.{name}"
        element = field
        if field.is_list:
            from dataclasses import replace

            element = replace(field, is_list=False)

        def value(v: object, lbl: str = label) -> Wire:
            return encode(element, v, lbl, lambda r, _t, lab: resolve_id(r, lab))

        if isinstance(condition, Filter | Has):
            operator = cast(object, condition)
            for attr, op in OPS:
                operand: object = getattr(operator, attr, None)
                if operand is None:
                    continue
                if attr == "in_":
                    values = [value(v) for v in as_list(operand, f"{label} in_")]
                else:
                    values = [value(operand)]
                filters.append({"field_id": field.id, "op": op, "values": values})
        else:
            filters.append({"field_id": field.id, "op": 1, "values": [value(condition)]})
    return filters


def order_to_wire(meta: TypeMeta, order: OrderBy[F] | None) -> Wire | None:
    if order is None:
        return None
    field_id = 0 if order.field == "id" else meta.field_named(order.field).id
    return {"field_id": field_id, "descending": order.direction == "desc"}
