"""The untyped client of one tenant: every EntDbService call a generated client needs,
with what every caller needs and nobody should repeat: the bearer token, one
idempotency key per plan kept across its own retries (so a retried write is applied
once), bounded retries on UNAVAILABLE, read-your-writes positions and typed errors.
Field values here are already wire values keyed by field id; `ClientCore` is
synchronous, `AsyncClientCore` the same over asyncio.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from connectrpc.client import ConnectClient, ConnectClientSync
from connectrpc.errors import ConnectError
from pyqwest import HTTPTransport, SyncHTTPTransport

from . import _api
from ._redirect import redirect_of
from ._keys import new_idempotency_key
from ._wire import Wire, get_bool, get_dict, get_dicts, get_int, get_str
from .access import AccessApi, AsyncAccessApi
from .errors import EntDbError, NotFoundError, UnavailableError, WriteFailure, error_for
from .positions import PositionTracker
from .results import LogPosition, PlanResult, Receipt, StepResult
from .schema import SchemaMeta
from .transport import TokenSource, Transport
from .watch import WatchedChange, watch_async, watch_state, watch_sync

T = TypeVar("T")

_WRITE_FAILURE = "entdb.v1.WriteFailure"

@dataclass(frozen=True)
class RetryPolicy:
    """Retries of calls that failed with UNAVAILABLE: at most `max_attempts` tries,
    waiting `base_delay_s` doubled per try (capped at `max_delay_s`). The defaults, as the
    TypeScript client's, try for about 3 s, the time a server takes to restart."""

    max_attempts: int = 6
    base_delay_s: float = 0.1
    max_delay_s: float = 2.0

    def delay(self, attempt: int) -> float:
        return float(min(self.max_delay_s, self.base_delay_s * (2**attempt)))

NO_RETRY = RetryPolicy(max_attempts=1)

class _CoreBase:
    """Requests and responses shared by the sync and async cores."""

    tenant: str
    transport: Transport
    positions: PositionTracker
    schema: SchemaMeta | None

    def __init__(
        self,
        transport: Transport,
        tenant: str,
        *,
        token: TokenSource | None,
        schema: SchemaMeta | None,
        read_your_writes: bool,
        retry: RetryPolicy | bool,
        positions: PositionTracker | None,
    ) -> None:
        if tenant == "":
            raise TypeError("The client needs a tenant; got an empty string.")
        self.tenant = tenant
        self.transport = transport
        self.positions = positions if positions is not None else PositionTracker()
        self.schema = schema
        self._token = token
        self._read_your_writes = read_your_writes
        self._retry = RetryPolicy() if retry is True else NO_RETRY if retry is False else retry

    def _headers(self) -> dict[str, str]:
        return self.transport.headers(self._token)

    def _error(self, err: ConnectError) -> EntDbError:
        failure: WriteFailure | None = None
        for detail in err.details:
            if detail.type_name == _WRITE_FAILURE:
                failure = self._failure(_api.write_failure(detail.message_bytes))
                break
        error = error_for(err.code.name.lower(), err.message, failure)
        error.owner = redirect_of(err)
        return error

    def _owner(self) -> str | None:
        """The remembered owner of this client's tenant (None: the transport's server)."""
        return self.transport.owners.get(self.tenant)

    def _follow(self, err: ConnectError, hops: int) -> str | None:
        """The owner to send the same call to after `err`, or None when `err` is not a
        redirect or the call followed `max_redirects` already; a redirect's owner is
        remembered either way."""
        url = redirect_of(err)
        if url is None:
            return None
        self.transport.owners[self.tenant] = url
        return url if hops < self.transport.max_redirects else None

    def _unreachable(self, at: str | None) -> None:
        """Forgets the owner `at` after it answered `unavailable` (it died, or the cluster
        is moving its partitions), so the retry asks the transport's server again."""
        if at is not None and self.transport.owners.get(self.tenant) == at:
            del self.transport.owners[self.tenant]

    def _is_first(self, url: str | None) -> bool:
        return url is None or url.rstrip("/") == self.transport.base_url.rstrip("/")

    def _failure(self, data: Wire) -> WriteFailure:
        type_id = get_int(data, "type_id")
        field_id = get_int(data, "field_id")
        meta = None if self.schema is None else self.schema.types.get(type_id)
        field = None if meta is None or field_id == 0 else meta.field_by_id(field_id)
        return WriteFailure(
            reason=get_str(data, "reason"),
            operation_index=get_int(data, "operation_index"),
            type_id=type_id,
            field_id=field_id,
            type_name=None if meta is None else meta.name,
            field_name=None if field is None else field.name,
        )

    def _after(self, read_your_writes: bool | None) -> Wire:
        if not (self._read_your_writes if read_your_writes is None else read_your_writes):
            return {}
        position = self.positions.get(self.tenant)
        if position is None:
            return {}
        return {"after_position": {"partition": position.partition, "offset": str(position.offset)}}

    def _receipt(self, data: Wire | None, key: str) -> Receipt:
        data = data or {}
        pos = get_dict(data, "position")
        position = None if pos is None else LogPosition(get_int(pos, "partition"), get_int(pos, "offset"))
        if position is not None:
            self.positions.observe(self.tenant, position)
        return Receipt(
            tenant=get_str(data, "tenant") or self.tenant,
            position=position,
            applied=get_bool(data, "applied"),
            idempotency_key=get_str(data, "idempotency_key") or key,
            replayed=get_bool(data, "replayed"),
            schema_version=get_int(data, "schema_version"),
        )

    @staticmethod
    def _steps(data: Wire) -> list[StepResult]:
        return [
            StepResult(get_str(r, "id"), get_bool(r, "created"), get_int(r, "version"))
            for r in get_dicts(data, "results")
        ]

    def _plan_request(self, operations: Sequence[Wire], key: str, no_wait: bool) -> Wire:
        return {"tenant": self.tenant, "operations": list(operations), "idempotency_key": key, "no_wait": no_wait}

    def _lookup(self, data: Wire, key: str) -> tuple[PlanResult, EntDbError | None]:
        failure_data = get_dict(data, "failure")
        failure = (
            None
            if failure_data is None
            else error_for(
                get_str(failure_data, "code"), get_str(failure_data, "message"), self._failure(failure_data)
            )
        )
        if failure is not None:
            failure.idempotency_key = key
        return PlanResult(self._receipt(get_dict(data, "receipt"), key), self._steps(data)), failure

    @staticmethod
    def _pending(key: str) -> UnavailableError:
        return UnavailableError(
            "unavailable",
            f"The plan is durable but was not applied in time; look its outcome up later with get_receipt({key!r}).",
            idempotency_key=key,
        )

def _node_or_none(data: Wire) -> Wire | None:
    return get_dict(data, "node")

class ClientCore(_CoreBase):
    """The synchronous untyped client of one tenant. Close it (or use `with`)."""

    def __init__(
        self,
        transport: Transport,
        tenant: str,
        *,
        token: TokenSource | None = None,
        schema: SchemaMeta | None = None,
        read_your_writes: bool = True,
        retry: RetryPolicy | bool = True,
        positions: PositionTracker | None = None,
    ) -> None:
        super().__init__(
            transport,
            tenant,
            token=token,
            schema=schema,
            read_your_writes=read_your_writes,
            retry=retry,
            positions=positions,
        )
        self._client, self._http = transport.open_sync()
        self._others: dict[str, tuple[ConnectClientSync, SyncHTTPTransport]] = {}
        self.access = AccessApi(self)
        """Membership and sharing of this tenant (docs/access-control.md)."""

    def close(self) -> None:
        for client, http in self._others.values():
            client.close()
            http.close()
        self._others.clear()
        self._client.close()
        self._http.close()

    def _client_at(self, url: str | None) -> ConnectClientSync:
        """The Connect client to the server at `url` (None: the transport's own)."""
        if url is None or self._is_first(url):
            return self._client
        found = self._others.get(url)
        if found is None:
            found = self.transport.at(url).open_sync()
            self._others[url] = found
        return found[0]

    def call(self, method: str, body: Callable[[], Wire], idempotency_key: str | None = None) -> Wire:
        """One call with retries; `body` is built per attempt (positions may move on). A
        write names its key, which its error then carries. A cluster's redirect sends the
        same request to the tenant's owner (docs/python.md, "Several servers")."""
        attempt = 0
        hops = 0
        at = self._owner()
        while True:
            try:
                response = self._client_at(at).execute_unary(
                    request=_api.to_message(method, body()),
                    method=_api.METHODS[method],
                    headers=self._headers(),
                )
                return _api.from_message(response)
            except ConnectError as err:
                owner = self._follow(err, hops)
                if owner is not None:
                    hops += 1
                    at = owner
                    continue
                error = self._error(err)
                attempt += 1
                if isinstance(error, UnavailableError):
                    self._unreachable(at)
                    if attempt < self._retry.max_attempts:
                        time.sleep(self._retry.delay(attempt - 1))
                        at = self._owner()
                        hops = 0
                        continue
                error.idempotency_key = idempotency_key
                raise error from err

    def execute_plan(
        self, operations: Sequence[Wire], *, idempotency_key: str | None = None, no_wait: bool = False
    ) -> PlanResult:
        """Runs an atomic plan; every attempt carries the same idempotency key."""
        key = idempotency_key or new_idempotency_key()
        data = self.call("ExecutePlan", lambda: self._plan_request(operations, key, no_wait), key)
        receipt = self._receipt(get_dict(data, "receipt"), key)
        if receipt.applied or no_wait:
            return PlanResult(receipt, self._steps(data))
        if receipt.position is None:
            raise self._pending(key)
        if not self.wait_for_position(receipt.position):
            raise self._pending(key)
        lookup = self.get_receipt(key)
        if lookup is None:
            raise self._pending(key)
        result, failure = lookup
        if failure is not None:
            raise failure
        return result

    def get_receipt(self, idempotency_key: str) -> tuple[PlanResult, EntDbError | None] | None:
        """The outcome of an earlier plan by its key (None when the server has none)."""
        try:
            data = self.call("GetReceipt", lambda: {"tenant": self.tenant, "idempotency_key": idempotency_key})
        except NotFoundError:
            return None
        return self._lookup(data, idempotency_key)

    def wait_for_position(self, position: LogPosition, timeout_ms: int = 0) -> bool:
        """Waits (bounded by the server) until the tenant applied the log up to `position`."""
        data = self.call(
            "WaitForPosition",
            lambda: {
                "tenant": self.tenant,
                "position": {"partition": position.partition, "offset": str(position.offset)},
                "timeout_ms": timeout_ms,
            },
        )
        return get_bool(data, "reached")

    def change(self, method: str, request: Mapping[str, object], idempotency_key: str | None = None) -> Receipt:
        """A membership or sharing change of this tenant: one idempotency key across its
        retries, so a retried change is applied once; returns its receipt."""
        key = idempotency_key or new_idempotency_key()
        data = self.call(method, lambda: {"tenant": self.tenant, **request, "idempotency_key": key}, key)
        return self._receipt(get_dict(data, "receipt"), key)

    def read(self, method: str, request: Mapping[str, object], read_your_writes: bool | None = None) -> Wire:
        """A read call for this tenant, after this client's latest write unless told otherwise."""
        return self.call(method, lambda: {"tenant": self.tenant, **request, **self._after(read_your_writes)})

    def get_node(self, type_id: int, node_id: str, read_your_writes: bool | None = None) -> Wire | None:
        try:
            return _node_or_none(self.read("GetNode", {"type_id": type_id, "id": node_id}, read_your_writes))
        except NotFoundError:
            return None

    def get_node_by_key(
        self, type_id: int, key: Mapping[str, Wire], read_your_writes: bool | None = None
    ) -> Wire | None:
        try:
            return _node_or_none(self.read("GetNodeByKey", {"type_id": type_id, "key": dict(key)}, read_your_writes))
        except NotFoundError:
            return None

    def subscribe(self, request: Wire) -> Iterator[Wire]:
        """One `Subscribe` stream, its failure raised as the typed error; closed when left.
        A redirect before its first message is followed; one after it ends the stream
        (the owner is remembered, so a watch resumes there)."""
        hops = 0
        at = self._owner()
        while True:
            stream = self._client_at(at).execute_server_stream(
                request=_api.to_message("Subscribe", request), method=_api.SUBSCRIBE, headers=self._headers()
            )
            started = False
            try:
                for response in stream:
                    started = True
                    yield _api.from_message(response)
                return
            except ConnectError as err:
                owner = self._follow(err, hops)
                if owner is not None and not started:
                    hops += 1
                    at = owner
                    continue
                error = self._error(err)
                if isinstance(error, UnavailableError):
                    self._unreachable(at)
                raise error from err
            finally:
                if isinstance(stream, Generator):
                    stream.close()

    def watch(
        self,
        *,
        node_type_ids: Sequence[int] = (),
        node_ids: Sequence[str] = (),
        edge_type_ids: Sequence[int] = (),
        after: LogPosition | None = None,
        from_start: bool = False,
        max_reconnects: int = 10,
    ) -> Iterator[WatchedChange]:
        """The tenant's changes as they are applied (filters combine with OR; none: every
        change), from now, after `after`, or from the start; resumes after a break and
        raises the last error after `max_reconnects` failed reconnects in a row."""
        state = watch_state(node_type_ids, node_ids, edge_type_ids, after, from_start, max_reconnects)
        return watch_sync(self.tenant, self.subscribe, state)


class AsyncClientCore(_CoreBase):
    """The asyncio untyped client of one tenant. Close it (or use `async with`)."""

    def __init__(
        self,
        transport: Transport,
        tenant: str,
        *,
        token: TokenSource | None = None,
        schema: SchemaMeta | None = None,
        read_your_writes: bool = True,
        retry: RetryPolicy | bool = True,
        positions: PositionTracker | None = None,
    ) -> None:
        super().__init__(
            transport,
            tenant,
            token=token,
            schema=schema,
            read_your_writes=read_your_writes,
            retry=retry,
            positions=positions,
        )
        self._client, self._http = transport.open_async()
        self._others: dict[str, tuple[ConnectClient, HTTPTransport]] = {}
        self.access = AsyncAccessApi(self)
        """Membership and sharing of this tenant (docs/access-control.md)."""

    async def close(self) -> None:
        for client, http in self._others.values():
            await client.close()
            await http.aclose()
        self._others.clear()
        await self._client.close()
        await self._http.aclose()

    def _client_at(self, url: str | None) -> ConnectClient:
        """The Connect client to the server at `url` (None: the transport's own)."""
        if url is None or self._is_first(url):
            return self._client
        found = self._others.get(url)
        if found is None:
            found = self.transport.at(url).open_async()
            self._others[url] = found
        return found[0]

    async def call(self, method: str, body: Callable[[], Wire], idempotency_key: str | None = None) -> Wire:
        """One call with retries; `body` is built per attempt (positions may move on). A
        write names its key, which its error then carries. A cluster's redirect sends the
        same request to the tenant's owner (docs/python.md, "Several servers")."""
        attempt = 0
        hops = 0
        at = self._owner()
        while True:
            try:
                response = await self._client_at(at).execute_unary(
                    request=_api.to_message(method, body()),
                    method=_api.METHODS[method],
                    headers=self._headers(),
                )
                return _api.from_message(response)
            except ConnectError as err:
                owner = self._follow(err, hops)
                if owner is not None:
                    hops += 1
                    at = owner
                    continue
                error = self._error(err)
                attempt += 1
                if isinstance(error, UnavailableError):
                    self._unreachable(at)
                    if attempt < self._retry.max_attempts:
                        await asyncio.sleep(self._retry.delay(attempt - 1))
                        at = self._owner()
                        hops = 0
                        continue
                error.idempotency_key = idempotency_key
                raise error from err

    async def execute_plan(
        self, operations: Sequence[Wire], *, idempotency_key: str | None = None, no_wait: bool = False
    ) -> PlanResult:
        """Runs an atomic plan; every attempt carries the same idempotency key."""
        key = idempotency_key or new_idempotency_key()
        data = await self.call("ExecutePlan", lambda: self._plan_request(operations, key, no_wait), key)
        receipt = self._receipt(get_dict(data, "receipt"), key)
        if receipt.applied or no_wait:
            return PlanResult(receipt, self._steps(data))
        if receipt.position is None or not await self.wait_for_position(receipt.position):
            raise self._pending(key)
        lookup = await self.get_receipt(key)
        if lookup is None:
            raise self._pending(key)
        result, failure = lookup
        if failure is not None:
            raise failure
        return result

    async def get_receipt(self, idempotency_key: str) -> tuple[PlanResult, EntDbError | None] | None:
        """The outcome of an earlier plan by its key (None when the server has none)."""
        try:
            data = await self.call(
                "GetReceipt", lambda: {"tenant": self.tenant, "idempotency_key": idempotency_key}
            )
        except NotFoundError:
            return None
        return self._lookup(data, idempotency_key)

    async def wait_for_position(self, position: LogPosition, timeout_ms: int = 0) -> bool:
        """Waits (bounded by the server) until the tenant applied the log up to `position`."""
        data = await self.call(
            "WaitForPosition",
            lambda: {
                "tenant": self.tenant,
                "position": {"partition": position.partition, "offset": str(position.offset)},
                "timeout_ms": timeout_ms,
            },
        )
        return get_bool(data, "reached")

    async def change(self, method: str, request: Mapping[str, object], idempotency_key: str | None = None) -> Receipt:
        """A membership or sharing change of this tenant: one idempotency key across its
        retries, so a retried change is applied once; returns its receipt."""
        key = idempotency_key or new_idempotency_key()
        data = await self.call(method, lambda: {"tenant": self.tenant, **request, "idempotency_key": key}, key)
        return self._receipt(get_dict(data, "receipt"), key)

    async def read(self, method: str, request: Mapping[str, object], read_your_writes: bool | None = None) -> Wire:
        """A read call for this tenant, after this client's latest write unless told otherwise."""
        return await self.call(method, lambda: {"tenant": self.tenant, **request, **self._after(read_your_writes)})

    async def get_node(self, type_id: int, node_id: str, read_your_writes: bool | None = None) -> Wire | None:
        try:
            return _node_or_none(await self.read("GetNode", {"type_id": type_id, "id": node_id}, read_your_writes))
        except NotFoundError:
            return None

    async def get_node_by_key(
        self, type_id: int, key: Mapping[str, Wire], read_your_writes: bool | None = None
    ) -> Wire | None:
        try:
            return _node_or_none(
                await self.read("GetNodeByKey", {"type_id": type_id, "key": dict(key)}, read_your_writes)
            )
        except NotFoundError:
            return None

    async def subscribe(self, request: Wire) -> AsyncIterator[Wire]:
        """One `Subscribe` stream, its failure raised as the typed error; closed when left.
        A redirect before its first message is followed; one after it ends the stream
        (the owner is remembered, so a watch resumes there)."""
        hops = 0
        at = self._owner()
        while True:
            stream = self._client_at(at).execute_server_stream(
                request=_api.to_message("Subscribe", request), method=_api.SUBSCRIBE, headers=self._headers()
            )
            started = False
            try:
                async for response in stream:
                    started = True
                    yield _api.from_message(response)
                return
            except ConnectError as err:
                owner = self._follow(err, hops)
                if owner is not None and not started:
                    hops += 1
                    at = owner
                    continue
                error = self._error(err)
                if isinstance(error, UnavailableError):
                    self._unreachable(at)
                raise error from err
            finally:
                if isinstance(stream, AsyncGenerator):
                    await stream.aclose()

    def watch(
        self,
        *,
        node_type_ids: Sequence[int] = (),
        node_ids: Sequence[str] = (),
        edge_type_ids: Sequence[int] = (),
        after: LogPosition | None = None,
        from_start: bool = False,
        max_reconnects: int = 10,
    ) -> AsyncIterator[WatchedChange]:
        """The tenant's changes as they are applied (filters combine with OR; none: every
        change), from now, after `after`, or from the start; resumes after a break and
        raises the last error after `max_reconnects` failed reconnects in a row."""
        state = watch_state(node_type_ids, node_ids, edge_type_ids, after, from_start, max_reconnects)
        return watch_async(self.tenant, self.subscribe, state)
