"""Typed reads of the dicts `_api.from_message` returns: each helper checks the kind of
what it takes out, so the rest of the runtime never handles an untyped value."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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


def get_dict(data: Mapping[str, object], key: str) -> Wire | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TypeError(f"expected a message at '{key}', got {type(value).__name__}")
    return {str(k): v for k, v in value.items()}


def get_list(data: Mapping[str, object], key: str) -> Sequence[object]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise TypeError(f"expected a list at '{key}', got {type(value).__name__}")
    return value


def get_dicts(data: Mapping[str, object], key: str) -> list[Wire]:
    out: list[Wire] = []
    for item in get_list(data, key):
        if not isinstance(item, dict):
            raise TypeError(f"expected messages at '{key}', got {type(item).__name__}")
        out.append({str(k): v for k, v in item.items()})
    return out
