"""Python values ↔ `entdb.v1.Value`s (as protobuf JSON-mapping dicts), per field kind.

| kind      | Python                                  | wire                         |
| --------- | --------------------------------------- | ---------------------------- |
| string    | str                                     | string_value                 |
| int       | int, -2**63 … 2**63-1 (lossless)        | int_value (decimal text)     |
| float     | float (an int is accepted)              | float_value                  |
| bool      | bool                                    | bool_value                   |
| timestamp | timezone-aware datetime (µs)            | timestamp_value              |
| bytes     | bytes                                   | bytes_value                  |
| json      | JSON value (dict, list, str, …)         | json_value (JSON text)       |
| enum      | the generated IntEnum                   | enum_value                   |
| ref       | the id (a NewType of str), or a handle  | ref_value (id or $alias)     |
| list<T>   | list of T                               | list_value                   |

Every mistake names the field (`Task.number`) and is raised before anything is sent.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TypeAlias, cast

from ._wire import Wire, as_list, as_wire
from .errors import EntDbError
from .schema import FieldMeta

JsonValue: TypeAlias = "None | bool | int | float | str | list[JsonValue] | dict[str, JsonValue]"
"""What a `json` field holds."""

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

RefResolver = Callable[[object, int, str], str]
"""Turns a ref input (id, node, handle) into its wire form; the label names the field."""

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def describe(value: object) -> str:
    """A short description of an unexpected value for error messages."""
    if value is None:
        return "None"
    if isinstance(value, bool | int | float):
        return f"the {type(value).__name__} {value!r}"
    if isinstance(value, str):
        return f"the str {value!r}"
    return f"a {type(value).__name__}"


def is_list_arg(value: object) -> bool:
    """Whether an argument that should be a list is one: iterable, and not a str or
    bytes (which would iterate as their characters)."""
    return isinstance(value, Iterable) and not isinstance(value, str | bytes)


def encode(field: FieldMeta, value: object, label: str, refs: RefResolver) -> Wire:
    """The wire value of `value` for `field`."""
    if field.is_list:
        if not isinstance(value, list | tuple):
            raise TypeError(f"{label} is a list; got {describe(value)}.")
        elements: list[object] = list(cast("Sequence[object]", value))
        items = [_encode_element(field, item, f"{label}[{i}]", refs) for i, item in enumerate(elements)]
        return {"list_value": {"values": items}}
    return _encode_element(field, value, label, refs)


def _check_well_formed(text: str, label: str) -> None:
    """Refuses a lone surrogate, which UTF-8 (and so the protobuf encoder) cannot carry."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        unit = f"{ord(text[err.start]):04X}"
        raise TypeError(
            f"{label} holds a lone surrogate (\\u{unit} at index {err.start}), which UTF-8 cannot carry;"
            " pass well-formed Unicode text (pair the surrogate or drop it)."
        ) from err


def _encode_element(field: FieldMeta, value: object, label: str, refs: RefResolver) -> Wire:
    kind = field.kind
    if kind == "string":
        if not isinstance(value, str):
            raise TypeError(f"{label} must be a str; got {describe(value)}.")
        _check_well_formed(value, label)
        return {"string_value": value}
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{label} must be an int; got {describe(value)}.")
        if value < INT64_MIN or value > INT64_MAX:
            raise ValueError(f"{label} is {value}, outside int64 ({INT64_MIN} to {INT64_MAX}).")
        return {"int_value": str(value)}
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{label} must be a float; got {describe(value)}.")
        number = float(value)
        if math.isnan(number):
            return {"float_value": "NaN"}
        if math.isinf(number):
            return {"float_value": "Infinity" if number > 0 else "-Infinity"}
        return {"float_value": number}
    if kind == "bool":
        if not isinstance(value, bool):
            raise TypeError(f"{label} must be a bool; got {describe(value)}.")
        return {"bool_value": value}
    if kind == "timestamp":
        return {"timestamp_value": format_timestamp(value, label)}
    if kind == "bytes":
        if not isinstance(value, bytes | bytearray):
            raise TypeError(f"{label} must be bytes; got {describe(value)}.")
        return {"bytes_value": base64.b64encode(bytes(value)).decode("ascii")}
    if kind == "json":
        if value is None:
            raise TypeError(f"{label} is a json field; None means unset, so leave it out instead.")
        try:
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{label} is not JSON-serializable: {err}") from err
        _check_well_formed(text, label)
        return {"json_value": text}
    if kind == "enum":
        enum_type = field.enum
        if enum_type is None or not isinstance(value, enum_type):
            allowed = "" if enum_type is None else f"{enum_type.__name__}."
            raise TypeError(f"{label} must be a {allowed.rstrip('.') or 'enum'} member; got {describe(value)}.")
        return {"enum_value": int(value)}
    if kind == "ref":
        return {"ref_value": refs(value, field.target, label)}
    raise TypeError(f"{label} has a kind the runtime does not know: {kind}.")


def format_timestamp(value: object, label: str) -> str:
    """An aware datetime as RFC 3339 UTC text with microseconds."""
    if not isinstance(value, datetime):
        raise TypeError(f"{label} must be a datetime; got {describe(value)}.")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{label} is a naive datetime; pass a timezone-aware one (e.g. datetime.now(timezone.utc))."
        )
    utc = value.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + f".{utc.microsecond:06d}Z"


def parse_timestamp(text: str) -> datetime:
    """RFC 3339 text (as protobuf's JSON mapping prints it) as an aware UTC datetime.
    Digits past the microsecond are dropped (a datetime holds microseconds)."""
    if not text.endswith("Z"):
        raise ValueError(f"expected a UTC timestamp, got {text!r}")
    body = text[:-1]
    seconds, _, fraction = body.partition(".")
    base = datetime.strptime(seconds, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    micros = int((fraction + "000000")[:6]) if fraction else 0
    return base + timedelta(microseconds=micros)


def decode(field: FieldMeta, value: Mapping[str, object], label: str) -> object:
    """The Python value of a wire value for `field`."""
    if field.is_list:
        inner = as_wire(value.get("list_value"), label)
        items = as_list(inner.get("values", []), label)
        return [_decode_element(field, as_wire(item, label), f"{label}[{i}]") for i, item in enumerate(items)]
    return _decode_element(field, value, label)


def _decode_element(field: FieldMeta, value: Mapping[str, object], label: str) -> object:
    kind = field.kind
    if kind in ("string", "ref"):
        got = value.get(f"{kind}_value")
        if isinstance(got, str):
            return got
    elif kind == "int":
        got = value.get("int_value")
        if isinstance(got, str | int) and not isinstance(got, bool):
            return int(got)
    elif kind == "float":
        got = value.get("float_value")
        if isinstance(got, int | float | str) and not isinstance(got, bool):
            return float(got)
    elif kind == "bool":
        got = value.get("bool_value")
        if isinstance(got, bool):
            return got
    elif kind == "timestamp":
        got = value.get("timestamp_value")
        if isinstance(got, str):
            return parse_timestamp(got)
    elif kind == "bytes":
        got = value.get("bytes_value")
        if isinstance(got, str):
            return base64.b64decode(got)
    elif kind == "json":
        got = value.get("json_value")
        if isinstance(got, str):
            parsed: object = json.loads(got)
            return parsed
    elif kind == "enum":
        got = value.get("enum_value")
        if isinstance(got, int) and not isinstance(got, bool) and field.enum is not None:
            try:
                return field.enum(got)
            except ValueError:
                # A value of a newer schema: say what to do, not IntEnum's "3 is not a valid Level".
                raise EntDbError(
                    "schema_mismatch",
                    f"{label} holds enum number {got}, which this client does not know; "
                    "regenerate the client from the server's schema.",
                ) from None
    raise TypeError(f"{label} is a {kind} field, but the server sent {sorted(value)}")


def encode_fields(
    meta_fields: Mapping[str, FieldMeta], values: Mapping[str, object], type_name: str, refs: RefResolver
) -> dict[str, Wire]:
    """Wire values keyed by field id (as text, the JSON mapping of a uint32 map key)."""
    out: dict[str, Wire] = {}
    for name, value in values.items():
        field = meta_fields[name]
        out[str(field.id)] = encode(field, value, f"{type_name}.{name}", refs)
    return out


def epoch() -> datetime:
    """1970-01-01T00:00:00Z, what an unset server timestamp reads as."""
    return _EPOCH
