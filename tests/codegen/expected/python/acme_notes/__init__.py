"""The typed EntDB client of schema package acme.notes.

Generated from the schema; see docs/python.md in the EntDB repository.
"""

from __future__ import annotations

import dataclasses as _dc
import enum as _enum
from collections.abc import Sequence as _Sequence
from datetime import datetime as _datetime
from typing import Literal as _Literal
from typing import NewType as _NewType
from typing import cast as _cast

import entdb_runtime as _rt
from typing_extensions import Never as _Never
from typing_extensions import Self as _Self


class Stage(_enum.IntEnum):
    """How far along a note is."""

    DRAFT = 1
    PUBLISHED = 2
    """Seen by everyone."""


AuthorId = _NewType("AuthorId", str)
"""The id of a node of type Author."""

NoteId = _NewType("NoteId", str)
"""The id of a node of type Note."""


@_dc.dataclass(frozen=True, kw_only=True)
class Author:
    """A person."""

    id: AuthorId
    version: int
    created_at: _datetime
    updated_at: _datetime
    email: str
    born: _datetime | None


@_dc.dataclass(frozen=True, kw_only=True)
class AuthorCreate:
    """What `author.create` takes; fields left None get their defaults."""

    email: str
    born: _datetime | None = None


@_dc.dataclass(frozen=True, kw_only=True)
class AuthorPatch:
    """What `update` takes: attributes left UNSET stay as they are; None clears a field that is not required."""

    email: str | _rt.Unset = _rt.UNSET
    born: _datetime | None | _rt.Unset = _rt.UNSET


@_dc.dataclass(frozen=True, kw_only=True)
class AuthorWhere:
    """Query conditions; all given must hold. A bare value means equality."""

    email: str | _rt.Text | None = None
    born: _datetime | _rt.Range[_datetime] | None = None


AuthorOrderField = _Literal["id", "email", "born"]
"""The fields that can order a query of Authors."""

AuthorKeyName = _Literal["email"]
"""The fields of Author's unique keys, what `if_absent_on` names."""


@_dc.dataclass(frozen=True, kw_only=True)
class Note:
    """A note, with "quotes" and \\ in its doc."""

    id: NoteId
    version: int
    created_at: _datetime
    updated_at: _datetime
    author: AuthorId
    title: str
    stage: Stage
    words: int | None
    tags: list[str] | None
    extra: _rt.JsonValue | None
    from_: str | None


@_dc.dataclass(frozen=True, kw_only=True)
class NoteCreate:
    """What `note.create` takes; fields left None get their defaults."""

    author: AuthorId | _rt.HasId[AuthorId]
    title: str
    stage: Stage | None = None
    words: int | None = None
    tags: _Sequence[str] | None = None
    extra: _rt.JsonValue | None = None
    from_: str | None = None


@_dc.dataclass(frozen=True, kw_only=True)
class NotePatch:
    """What `update` takes: attributes left UNSET stay as they are; None clears a field that is not required."""

    author: AuthorId | _rt.HasId[AuthorId] | _rt.Unset = _rt.UNSET
    title: str | _rt.Unset = _rt.UNSET
    stage: Stage | _rt.Unset = _rt.UNSET
    words: int | None | _rt.Unset = _rt.UNSET
    tags: _Sequence[str] | None | _rt.Unset = _rt.UNSET
    extra: _rt.JsonValue | None | _rt.Unset = _rt.UNSET
    from_: str | None | _rt.Unset = _rt.UNSET


@_dc.dataclass(frozen=True, kw_only=True)
class NoteWhere:
    """Query conditions; all given must hold. A bare value means equality."""

    author: AuthorId | _rt.Filter[AuthorId] | None = None
    title: str | _rt.Text | None = None
    stage: Stage | _rt.Filter[Stage] | None = None
    words: int | _rt.Range[int] | None = None
    tags: _rt.Has[str] | None = None
    from_: str | _rt.Text | None = None


NoteOrderField = _Literal["id", "author", "title", "stage", "words", "from_"]
"""The fields that can order a query of Notes."""

NoteKeyName = _Literal["author", "title"]
"""The fields of Note's unique keys, what `if_absent_on` names."""


@_dc.dataclass(frozen=True, kw_only=True)
class Likes:
    """A stored Likes edge."""

    from_id: AuthorId
    to_id: NoteId
    created_at: _datetime
    weight: float | None


@_dc.dataclass(frozen=True, kw_only=True)
class LikesProps:
    """The properties `likes.link` takes."""

    weight: float | None = None


_AUTHOR = _rt.TypeMeta(
    1,
    "Author",
    (
        _rt.FieldMeta(1, "email", "string", required=True),
        _rt.FieldMeta(2, "born", "timestamp"),
    ),
    uniques=(("email", ), ),
)

_NOTE = _rt.TypeMeta(
    2,
    "Note",
    (
        _rt.FieldMeta(1, "author", "ref", required=True, target=1),
        _rt.FieldMeta(2, "title", "string", required=True),
        _rt.FieldMeta(3, "stage", "enum", required=True, has_default=True, enum=Stage),
        _rt.FieldMeta(4, "words", "int"),
        _rt.FieldMeta(5, "tags", "string", is_list=True),
        _rt.FieldMeta(6, "extra", "json"),
        _rt.FieldMeta(7, "from_", "string"),
    ),
    uniques=(("author", "title", ), ),
)

_LIKES = _rt.TypeMeta(
    100,
    "Likes",
    (
        _rt.FieldMeta(1, "weight", "float"),
    ),
    from_type=1,
    to_type=2,
)

SCHEMA = _rt.SchemaMeta.of("acme.notes", [_AUTHOR, _NOTE, _LIKES])
"""The schema as the runtime sees it: type and field ids, kinds and names."""


def _author(r: _rt.Row) -> Author:
    return Author(
        id=AuthorId(r.id),
        version=r.version,
        created_at=r.created_at,
        updated_at=r.updated_at,
        email=_cast("str", r.values["email"]),
        born=_cast("_datetime | None", r.values["born"]),
    )


def _note(r: _rt.Row) -> Note:
    return Note(
        id=NoteId(r.id),
        version=r.version,
        created_at=r.created_at,
        updated_at=r.updated_at,
        author=_cast("AuthorId", r.values["author"]),
        title=_cast("str", r.values["title"]),
        stage=_cast("Stage", r.values["stage"]),
        words=_cast("int | None", r.values["words"]),
        tags=_cast("list[str] | None", r.values["tags"]),
        extra=_cast("_rt.JsonValue | None", r.values["extra"]),
        from_=_cast("str | None", r.values["from_"]),
    )


def _likes(r: _rt.EdgeRow) -> Likes:
    return Likes(
        from_id=AuthorId(r.from_id),
        to_id=NoteId(r.to_id),
        created_at=r.created_at,
        weight=_cast("float | None", r.values["weight"]),
    )


AnyNode = Author | Note
"""A node of any type of the schema: what `traverse` returns, and (with `entdb_runtime.UnknownNode` for a type of a newer schema) the node of a hit across types or of a mailbox item."""

NodeTypeName = _Literal["author", "note"]
"""The accessor names of the node types, what `db.mailbox.list(types=...)` takes."""

SearchableType = _Never
"""The accessor names of the node types with searchable fields, what `db.search(types=...)` takes."""

_SEARCHABLE: tuple[SearchableType, ...] = ()
_NODE_TYPES: _rt.NodeTypes[AnyNode] = {
    1: ("author", _AUTHOR, _author),
    2: ("note", _NOTE, _note),
}
_EDGE_NAMES: dict[int, str] = {100: "likes"}


class AuthorNodes(_rt.NodeAccessor[Author, AuthorId, AuthorCreate, AuthorPatch, AuthorWhere, AuthorOrderField, AuthorKeyName]):
    """The Author operations of a Client."""

    def get_by_email(self, email: str, *, read_your_writes: bool | None = None) -> Author | None:
        """The Author with this email, or None."""
        return self._get_by({"email": email}, read_your_writes)


class AsyncAuthorNodes(_rt.AsyncNodeAccessor[Author, AuthorId, AuthorCreate, AuthorPatch, AuthorWhere, AuthorOrderField, AuthorKeyName]):
    """The Author operations of an AsyncClient."""

    async def get_by_email(self, email: str, *, read_your_writes: bool | None = None) -> Author | None:
        """The Author with this email, or None."""
        return await self._get_by({"email": email}, read_your_writes)


class NoteNodes(_rt.NodeAccessor[Note, NoteId, NoteCreate, NotePatch, NoteWhere, NoteOrderField, NoteKeyName]):
    """The Note operations of a Client."""

    def get_by_author_title(self, author: AuthorId | _rt.HasId[AuthorId], title: str, *, read_your_writes: bool | None = None) -> Note | None:
        """The Note with this author and title, or None."""
        return self._get_by({"author": author, "title": title}, read_your_writes)


class AsyncNoteNodes(_rt.AsyncNodeAccessor[Note, NoteId, NoteCreate, NotePatch, NoteWhere, NoteOrderField, NoteKeyName]):
    """The Note operations of an AsyncClient."""

    async def get_by_author_title(self, author: AuthorId | _rt.HasId[AuthorId], title: str, *, read_your_writes: bool | None = None) -> Note | None:
        """The Note with this author and title, or None."""
        return await self._get_by({"author": author, "title": title}, read_your_writes)


class Plan(_rt.PlanBase):
    """The steps of one atomic plan, by type: `plan.task.create(...)` returns a handle."""

    def __init__(self, builder: _rt.PlanBuilder) -> None:
        super().__init__(builder)
        self.author: _rt.PlanNodes[AuthorId, AuthorCreate, AuthorPatch, AuthorKeyName] = _rt.PlanNodes(builder, _AUTHOR)
        self.note: _rt.PlanNodes[NoteId, NoteCreate, NotePatch, NoteKeyName] = _rt.PlanNodes(builder, _NOTE)
        self.likes: _rt.PlanEdges[AuthorId, NoteId, LikesProps] = _rt.PlanEdges(builder, _LIKES)


class Client(_rt.ClientReads[AnyNode, SearchableType]):
    """The synchronous typed client of one tenant of acme.notes. Close it, or use `with`."""

    def __init__(
        self,
        transport: _rt.Transport,
        tenant: str,
        *,
        token: _rt.TokenSource | None = None,
        read_your_writes: bool = True,
        retry: _rt.RetryPolicy | bool = True,
        positions: _rt.PositionTracker | None = None,
    ) -> None:
        self.core = _rt.ClientCore(
            transport,
            tenant,
            token=token,
            schema=SCHEMA,
            read_your_writes=read_your_writes,
            retry=retry,
            positions=positions,
        )
        super().__init__(self.core, _NODE_TYPES, _SEARCHABLE)
        self.author = AuthorNodes(self.core, _AUTHOR, _author)
        self.note = NoteNodes(self.core, _NOTE, _note)
        self.likes: _rt.EdgeAccessor[Likes, AuthorId, NoteId, LikesProps] = _rt.EdgeAccessor(self.core, _LIKES, _likes)
        self.mailbox: _rt.Mailbox[AnyNode, NodeTypeName, SearchableType] = _rt.Mailbox(self.core, _NODE_TYPES, _EDGE_NAMES, _SEARCHABLE)
        """The caller's own mailbox (docs/mailbox.md)."""

    def plan(self, *, idempotency_key: str | None = None, no_wait: bool = False) -> _rt.PlanScope[Plan]:
        """`with db.plan() as plan:` collects the steps of the block into one atomic plan,
        committed when the block ends without an exception. Pass your own idempotency key
        to make a retry safe across restarts."""
        builder = _rt.PlanBuilder()
        return _rt.PlanScope(self.core, Plan(builder), builder, idempotency_key, no_wait)

    def close(self) -> None:
        self.core.close()

    def __enter__(self) -> _Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient(_rt.AsyncClientReads[AnyNode, SearchableType]):
    """The asyncio typed client of one tenant of acme.notes. Close it, or use `async with`."""

    def __init__(
        self,
        transport: _rt.Transport,
        tenant: str,
        *,
        token: _rt.TokenSource | None = None,
        read_your_writes: bool = True,
        retry: _rt.RetryPolicy | bool = True,
        positions: _rt.PositionTracker | None = None,
    ) -> None:
        self.core = _rt.AsyncClientCore(
            transport,
            tenant,
            token=token,
            schema=SCHEMA,
            read_your_writes=read_your_writes,
            retry=retry,
            positions=positions,
        )
        super().__init__(self.core, _NODE_TYPES, _SEARCHABLE)
        self.author = AsyncAuthorNodes(self.core, _AUTHOR, _author)
        self.note = AsyncNoteNodes(self.core, _NOTE, _note)
        self.likes: _rt.AsyncEdgeAccessor[Likes, AuthorId, NoteId, LikesProps] = _rt.AsyncEdgeAccessor(self.core, _LIKES, _likes)
        self.mailbox: _rt.AsyncMailbox[AnyNode, NodeTypeName, SearchableType] = _rt.AsyncMailbox(self.core, _NODE_TYPES, _EDGE_NAMES, _SEARCHABLE)
        """The caller's own mailbox (docs/mailbox.md)."""

    def plan(self, *, idempotency_key: str | None = None, no_wait: bool = False) -> _rt.AsyncPlanScope[Plan]:
        """`async with db.plan() as plan:` collects the steps of the block into one atomic plan,
        committed when the block ends without an exception. Pass your own idempotency key
        to make a retry safe across restarts."""
        builder = _rt.PlanBuilder()
        return _rt.AsyncPlanScope(self.core, Plan(builder), builder, idempotency_key, no_wait)

    async def aclose(self) -> None:
        await self.core.close()

    async def __aenter__(self) -> _Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


__all__ = [
    "AnyNode",
    "AsyncAuthorNodes",
    "AsyncClient",
    "AsyncNoteNodes",
    "Author",
    "AuthorCreate",
    "AuthorId",
    "AuthorKeyName",
    "AuthorNodes",
    "AuthorOrderField",
    "AuthorPatch",
    "AuthorWhere",
    "Client",
    "Likes",
    "LikesProps",
    "NodeTypeName",
    "Note",
    "NoteCreate",
    "NoteId",
    "NoteKeyName",
    "NoteNodes",
    "NoteOrderField",
    "NotePatch",
    "NoteWhere",
    "Plan",
    "SCHEMA",
    "SearchableType",
    "Stage",
]
