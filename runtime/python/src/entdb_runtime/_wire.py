"""Typed reads of the dicts `_api.from_message` returns: each helper checks the kind of
what it takes out, so the rest of the runtime never handles an untyped value."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

Wire = dict[str, object]


def get_str(data: Mapping[str, object], key: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise TypeError(f"expected a string at '{key}', got {type(value).__name__}")
    return value


def get_int(data: Mapping[str, object], key: str) -> int:
    """An integer field; int64 values arrive as decimal strings."""
    value = data.get(key, 0)
    if isinstance(value, bool):
        raise TypeError(f"expected an integer at '{key}', got a bool")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value)
    raise TypeError(f"expected an integer at '{key}', got {type(value).__name__}")


def get_bool(data: Mapping[str, object], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise TypeError(f"expected a bool at '{key}', got {type(value).__name__}")
    return value


def as_wire(value: object, what: str) -> Wire:
    """`value` as a message dict; `TypeError` naming `what` when it is not one."""
    if not isinstance(value, dict):
        raise TypeError(f"expected a message at '{what}', got {type(value).__name__}")
    return {str(k): v for k, v in cast("dict[object, object]", value).items()}


def as_list(value: object, what: str) -> list[object]:
    """`value` as a list; `TypeError` naming `what` when it is not one."""
    if not isinstance(value, list | tuple):
        raise TypeError(f"expected a list at '{what}', got {type(value).__name__}")
    return list(cast("Sequence[object]", value))


def get_dict(data: Mapping[str, object], key: str) -> Wire | None:
    value = data.get(key)
    return None if value is None else as_wire(value, key)


def get_list(data: Mapping[str, object], key: str) -> Sequence[object]:
    return as_list(data.get(key, []), key)


def get_dicts(data: Mapping[str, object], key: str) -> list[Wire]:
    return [as_wire(item, key) for item in get_list(data, key)]
