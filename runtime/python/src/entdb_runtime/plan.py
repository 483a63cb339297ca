"""Atomic plans: writes collected into one `ExecutePlan` that commits entirely or not
at all. A create returns a `NodeHandle`, accepted wherever a ref or an edge end of that
node type is expected later in the same plan (sent as `$alias`, resolved by the server
at ingress); once the plan committed, the handle's `id` is the node's id.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Generic, Protocol, TypeVar, cast

from ._wire import Wire
from .results import PlanResult, Receipt
from .schema import FieldMeta, TypeMeta
from .values import describe, encode, encode_fields, is_list_arg

IdT = TypeVar("IdT", bound=str)
IdT_co = TypeVar("IdT_co", bound=str, covariant=True)


class Unset(enum.Enum):
    """The default of every attribute of a `…Patch`: leave the field as it is."""

    UNSET = 0

    def __repr__(self) -> str:
        return "UNSET"


UNSET = Unset.UNSET


class HasId(Protocol[IdT_co]):
    """Anything with the id of a node: a node you read, a write result, a committed handle."""

    @property
    def id(self) -> IdT_co: ...


class NodeHandle(Generic[IdT]):
    """A node created by a plan step. In its plan it stands for the node; after the plan
    committed, `id`, `created` and `version` tell what the step did."""

    def __init__(self, plan: PlanBuilder, alias: str, meta: TypeMeta, index: int) -> None:
        self._plan = plan
        self.alias = alias
        self.meta = meta
        self.index = index

    def belongs_to(self, plan: PlanBuilder) -> bool:
        return self._plan is plan

    @property
    def id(self) -> IdT:
        """The created (or, with create-if-absent, found) node's id; only after the commit."""
        result = self._plan.result
        if result is None:
            raise RuntimeError(
                f"Handle {self.alias} ({self.meta.name}) has no id yet: its plan has not been committed."
            )
        return cast(IdT, result.results[self.index].id)

    @property
    def created(self) -> bool:
        """False when create-if-absent found an existing node (only after the commit)."""
        self.id  # noqa: B018  (raises before the commit)
        result = self._plan.result
        return result is not None and result.results[self.index].created

    @property
    def version(self) -> int:
        self.id  # noqa: B018
        result = self._plan.result
        return 0 if result is None else result.results[self.index].version

    def __repr__(self) -> str:
        return f"NodeHandle({self.alias}, {self.meta.name})"


def values_of(obj: object, *, skip: object) -> dict[str, object]:
    """The attributes of a generated dataclass instance, without those equal to `skip`
    (None for creates, UNSET for patches)."""
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        raise TypeError(f"expected an instance of a generated class; got {describe(obj)}.")
    out: dict[str, object] = {}
    for f in dataclasses.fields(obj):
        value: object = getattr(obj, f.name)
        if value is not skip:
            out[f.name] = value
    return out


class PlanBuilder:
    """The steps of one plan as `entdb.v1.Operation`s."""

    def __init__(self) -> None:
        self.operations: list[Wire] = []
        self.result: PlanResult | None = None
        self._aliases = 0

    @property
    def receipt(self) -> Receipt:
        """The plan's receipt, after the commit."""
        if self.result is None:
            raise RuntimeError("The plan has not been committed yet.")
        return self.result.receipt

    def resolve(self, ref: object, expected_type: int, label: str) -> str:
        """The wire form of a node reference: an id, or `$alias` for a handle of this plan."""
        if isinstance(ref, NodeHandle):
            ref = cast("NodeHandle[str]", ref)
            if ref.belongs_to(self):
                if ref.meta.id != expected_type:
                    raise TypeError(f"{label} must be a node of type id {expected_type}; handle {ref.alias} is a '{ref.meta.name}'.")
                return ref.alias
            try:
                return ref.id
            except RuntimeError:
                raise TypeError(
                    f"{label} is a handle ({ref.alias}) from another plan that has not been committed; "
                    "a handle stands for its node only in its own plan, or after that plan committed."
                ) from None
        return resolve_id(ref, label)

    def create_node(
        self, meta: TypeMeta, data: object, if_absent_on: Sequence[str] | None
    ) -> NodeHandle[str]:
        values = values_of(data, skip=None)
        fields = encode_fields(_fields(meta), values, meta.name, self.resolve)
        self._aliases += 1
        alias = f"a{self._aliases}"
        handle: NodeHandle[str] = NodeHandle(self, f"${alias}", meta, len(self.operations))
        op: Wire = {"type_id": meta.id, "alias": alias, "fields": fields}
        if if_absent_on:
            op["if_absent_on"] = absent_key_ids(meta, if_absent_on, values)
        self.operations.append({"create_node": op})
        return handle

    def update_node(
        self,
        meta: TypeMeta,
        ref: object,
        patch: object,
        expected_version: int | None,
        expected_fields: object | None,
    ) -> None:
        values = values_of(patch, skip=UNSET)
        set_values = {k: v for k, v in values.items() if v is not None}
        clear = [meta.field_named(k).id for k, v in values.items() if v is None]
        op: Wire = {
            "type_id": meta.id,
            "id": self.resolve(ref, meta.id, f"the {meta.name} to update"),
            "set": encode_fields(_fields(meta), set_values, meta.name, self.resolve),
            "clear": clear,
        }
        precondition = self._precondition(meta, expected_version, expected_fields)
        if precondition is not None:
            op["precondition"] = precondition
        self.operations.append({"update_node": op})

    def delete_node(
        self, meta: TypeMeta, ref: object, expected_version: int | None, expected_fields: object | None
    ) -> None:
        op: Wire = {"type_id": meta.id, "id": self.resolve(ref, meta.id, f"the {meta.name} to delete")}
        precondition = self._precondition(meta, expected_version, expected_fields)
        if precondition is not None:
            op["precondition"] = precondition
        self.operations.append({"delete_node": op})

    def create_edge(self, meta: TypeMeta, from_ref: object, to_ref: object, props: object | None) -> None:
        values = {} if props is None else values_of(props, skip=None)
        missing = [f.name for f in meta.fields if f.required and not f.has_default and f.name not in values]
        if missing:
            raise TypeError(f"{meta.name} needs {', '.join(missing)}; pass them as props.")
        self.operations.append(
            {
                "create_edge": {
                    "edge_type_id": meta.id,
                    "from_id": self.resolve(from_ref, meta.from_type, f"{meta.name}'s from node"),
                    "to_id": self.resolve(to_ref, meta.to_type, f"{meta.name}'s to node"),
                    "props": encode_fields(_fields(meta), values, meta.name, self.resolve),
                }
            }
        )

    def delete_edge(self, meta: TypeMeta, from_ref: object, to_ref: object) -> None:
        self.operations.append(
            {
                "delete_edge": {
                    "edge_type_id": meta.id,
                    "from_id": self.resolve(from_ref, meta.from_type, f"{meta.name}'s from node"),
                    "to_id": self.resolve(to_ref, meta.to_type, f"{meta.name}'s to node"),
                }
            }
        )

    def _precondition(self, meta: TypeMeta, version: int | None, expected: object | None) -> Wire | None:
        if version is None and expected is None:
            return None
        out: Wire = {}
        if version is not None:
            out["version"] = str(version)
        if expected is not None:
            fields: dict[str, Wire] = {}
            for name, value in values_of(expected, skip=UNSET).items():
                field = meta.field_named(name)
                fields[str(field.id)] = (
                    {"null_value": True}
                    if value is None
                    else encode(field, value, f"{meta.name}.{name}", self.resolve)
                )
            out["fields_equal"] = fields
        return out


def resolve_id(ref: object, label: str) -> str:
    """An id from an id string or anything with a non-empty string `id`."""
    if isinstance(ref, str):
        if ref == "":
            raise TypeError(f"{label} needs an id; got an empty string.")
        return ref
    got = getattr(ref, "id", None)
    if isinstance(got, str) and got != "":
        return got
    raise TypeError(f"{label} must be a node id; got {describe(ref)}.")


def resolve_ids(refs: object, label: str) -> list[str]:
    """The ids of a list of ids or nodes. One id (a str, which would iterate as its
    characters) or one node where a list is expected is a TypeError saying so."""
    if not is_list_arg(refs):
        raise TypeError(f"{label} takes a list of node ids; got {describe(refs)}. For one node, pass [id].")
    return [resolve_id(ref, f"{label}[{i}]") for i, ref in enumerate(cast("Iterable[object]", refs))]


def absent_key_ids(meta: TypeMeta, names: Sequence[str], values: Mapping[str, object]) -> list[int]:
    """The field ids of `if_absent_on`, after checking they are exactly one unique key
    and are set in the input."""
    if not is_list_arg(names):
        like = f", like ['{names}']" if isinstance(names, str) else ""
        raise TypeError(f"{meta.name} create: if_absent_on takes a list of field names{like}; got {describe(names)}.")
    wanted = set(names)
    if not any(set(key) == wanted for key in meta.uniques):
        keys = " or ".join("(" + ", ".join(key) + ")" for key in meta.uniques)
        needs = f"one of its unique keys: {keys}" if keys else "a unique key, but the type has none"
        raise TypeError(f"{meta.name} create with if_absent_on needs {needs}; got ({', '.join(names)}).")
    for name in names:
        if name not in values:
            raise TypeError(f"{meta.name}.{name} must be set to be matched on with if_absent_on.")
    return [meta.field_named(name).id for name in names]


def _fields(meta: TypeMeta) -> Mapping[str, FieldMeta]:
    return {f.name: f for f in meta.fields}
