"""Membership and sharing of one tenant, from a client (`db.core.access`; the model is
in docs/access-control.md): add and remove members and groups, share a node with a
capability, deny it, revoke, and list. Each change carries one idempotency key across
the client's retries, so a retried change is applied once, and returns its receipt once
the server applied it; a refusal raises the typed error (`PermissionDeniedError`, …).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from ._wire import Wire, get_dicts, get_list, get_str
from .plan import resolve_id
from .results import Receipt
from .values import format_timestamp

if TYPE_CHECKING:
    from .core import AsyncClientCore, ClientCore
    from .plan import HasId

TenantRole = Literal["viewer", "member", "admin", "owner"]
"""A tenant role, weakest first: viewer reads, member writes, admin and owner manage."""

Capability = Literal["read", "comment", "edit", "delete", "admin"]
"""A capability on a node, weakest first; each implies the ones before it."""


@dataclass(frozen=True)
class Member:
    """A member of the tenant and their role."""

    principal: str
    role: str


@dataclass(frozen=True)
class Group:
    """A group of the tenant and its members, sorted."""

    group: str
    members: tuple[str, ...]


def _share(node: str | HasId[str], principal: str, capability: str, deny: bool, expires_at: datetime | None) -> Wire:
    request: Wire = {
        "node_id": resolve_id(node, "the node to share"),
        "principal": principal,
        "capability": capability,
        "deny": deny,
    }
    if expires_at is not None:
        request["expires_at"] = format_timestamp(expires_at, "expires_at")
    return request


def _members(data: Mapping[str, object]) -> list[Member]:
    return [Member(get_str(m, "principal"), get_str(m, "role")) for m in get_dicts(data, "members")]


def _groups(data: Mapping[str, object]) -> list[Group]:
    return [
        Group(get_str(g, "group"), tuple(str(m) for m in get_list(g, "members"))) for g in get_dicts(data, "groups")
    ]


class AccessApi:
    """Membership and sharing of a synchronous client's tenant."""

    def __init__(self, core: ClientCore) -> None:
        self._core = core

    def share(
        self,
        node: str | HasId[str],
        principal: str,
        capability: Capability,
        *,
        expires_at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Receipt:
        """Gives `principal` (user:, service:, group:, role: or tenant:*) `capability` on a node."""
        return self._core.change("ShareNode", _share(node, principal, capability, False, expires_at), idempotency_key)

    def deny(
        self,
        node: str | HasId[str],
        principal: str,
        *,
        expires_at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Receipt:
        """Denies `principal` a node: overrides grants and visibility, not ownership."""
        return self._core.change("ShareNode", _share(node, principal, "", True, expires_at), idempotency_key)

    def revoke(self, node: str | HasId[str], principal: str, *, idempotency_key: str | None = None) -> Receipt:
        """Removes `principal`'s grant or deny on a node."""
        request = {"node_id": resolve_id(node, "the node to revoke on"), "principal": principal}
        return self._core.change("RevokeNode", request, idempotency_key)

    def add_member(self, principal: str, role: TenantRole, *, idempotency_key: str | None = None) -> Receipt:
        return self._core.change("AddTenantMember", {"principal": principal, "role": role}, idempotency_key)

    def set_member_role(self, principal: str, role: TenantRole, *, idempotency_key: str | None = None) -> Receipt:
        return self._core.change("SetTenantMemberRole", {"principal": principal, "role": role}, idempotency_key)

    def remove_member(self, principal: str, *, idempotency_key: str | None = None) -> Receipt:
        return self._core.change("RemoveTenantMember", {"principal": principal}, idempotency_key)

    def create_group(self, group: str, *, idempotency_key: str | None = None) -> Receipt:
        return self._core.change("CreateGroup", {"group": group}, idempotency_key)

    def add_group_member(self, group: str, principal: str, *, idempotency_key: str | None = None) -> Receipt:
        return self._core.change("AddGroupMember", {"group": group, "principal": principal}, idempotency_key)

    def remove_group_member(self, group: str, principal: str, *, idempotency_key: str | None = None) -> Receipt:
        return self._core.change("RemoveGroupMember", {"group": group, "principal": principal}, idempotency_key)

    def members(self) -> list[Member]:
        """The tenant's members, sorted by principal."""
        return _members(self._core.call("ListTenantMembers", lambda: {"tenant": self._core.tenant}))

    def groups(self) -> list[Group]:
        """The tenant's groups with their members, sorted by group."""
        return _groups(self._core.call("ListGroups", lambda: {"tenant": self._core.tenant}))


class AsyncAccessApi:
    """Membership and sharing of an asyncio client's tenant."""

    def __init__(self, core: AsyncClientCore) -> None:
        self._core = core

    async def share(
        self,
        node: str | HasId[str],
        principal: str,
        capability: Capability,
        *,
        expires_at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Receipt:
        """Gives `principal` (user:, service:, group:, role: or tenant:*) `capability` on a node."""
        request = _share(node, principal, capability, False, expires_at)
        return await self._core.change("ShareNode", request, idempotency_key)

    async def deny(
        self,
        node: str | HasId[str],
        principal: str,
        *,
        expires_at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Receipt:
        """Denies `principal` a node: overrides grants and visibility, not ownership."""
        return await self._core.change("ShareNode", _share(node, principal, "", True, expires_at), idempotency_key)

    async def revoke(self, node: str | HasId[str], principal: str, *, idempotency_key: str | None = None) -> Receipt:
        """Removes `principal`'s grant or deny on a node."""
        request = {"node_id": resolve_id(node, "the node to revoke on"), "principal": principal}
        return await self._core.change("RevokeNode", request, idempotency_key)

    async def add_member(self, principal: str, role: TenantRole, *, idempotency_key: str | None = None) -> Receipt:
        return await self._core.change("AddTenantMember", {"principal": principal, "role": role}, idempotency_key)

    async def set_member_role(
        self, principal: str, role: TenantRole, *, idempotency_key: str | None = None
    ) -> Receipt:
        return await self._core.change(
            "SetTenantMemberRole", {"principal": principal, "role": role}, idempotency_key
        )

    async def remove_member(self, principal: str, *, idempotency_key: str | None = None) -> Receipt:
        return await self._core.change("RemoveTenantMember", {"principal": principal}, idempotency_key)

    async def create_group(self, group: str, *, idempotency_key: str | None = None) -> Receipt:
        return await self._core.change("CreateGroup", {"group": group}, idempotency_key)

    async def add_group_member(self, group: str, principal: str, *, idempotency_key: str | None = None) -> Receipt:
        return await self._core.change("AddGroupMember", {"group": group, "principal": principal}, idempotency_key)

    async def remove_group_member(
        self, group: str, principal: str, *, idempotency_key: str | None = None
    ) -> Receipt:
        return await self._core.change(
            "RemoveGroupMember", {"group": group, "principal": principal}, idempotency_key
        )

    async def members(self) -> list[Member]:
        """The tenant's members, sorted by principal."""
        return _members(await self._core.call("ListTenantMembers", lambda: {"tenant": self._core.tenant}))

    async def groups(self) -> list[Group]:
        """The tenant's groups with their members, sorted by group."""
        return _groups(await self._core.call("ListGroups", lambda: {"tenant": self._core.tenant}))
