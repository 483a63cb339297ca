"""How a client reaches `entdb serve`: Connect (or gRPC) in the binary protobuf format
over HTTP/1.1 or HTTP/2, through the `connectrpc` package, with the bearer token."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from connectrpc.client import ConnectClient, ConnectClientSync
from connectrpc.compat import google_protobuf_binary_codec
from connectrpc.protocol import ProtocolType
from pyqwest import Client as HttpClient
from pyqwest import HTTPTransport, HTTPVersion, SyncClient, SyncHTTPTransport

TokenSource = str | Callable[[], str]
"""A bearer token, or a function asked before every call."""


@dataclass(frozen=True)
class Transport:
    """Where the server is and how to talk to it.

    `protocol="grpc"` always uses HTTP/2; Connect uses `http_version` (HTTP/2 over
    plaintext is prior knowledge, h2c, as `entdb serve` accepts it).

    A server of a cluster that does not own a call's tenant redirects it: the client
    sends the same call to the owner (a transport made with `at`), at most
    `max_redirects` hops, and remembers the owner in `owners`, shared by every client
    made with this transport. A remembered owner that answers `unavailable` is
    forgotten, so the retry asks this server again.
    """

    base_url: str
    protocol: Literal["connect", "grpc"] = "connect"
    http_version: Literal["1.1", "2"] = "1.1"
    token: TokenSource | None = None
    timeout_ms: int | None = None
    max_redirects: int = 2
    owners: dict[str, str] = field(default_factory=dict[str, str], compare=False, repr=False)
    """Tenant → the base URL of the server that owns it, as its last redirect said."""

    def at(self, base_url: str) -> Transport:
        """This transport to another server of the cluster: the same options and owners."""
        return replace(self, base_url=base_url, owners=self.owners)

    def headers(self, override: TokenSource | None = None) -> dict[str, str]:
        """The headers of one call: the bearer token when there is one."""
        source = override if override is not None else self.token
        if source is None:
            return {}
        token = source() if callable(source) else source
        return {"authorization": f"Bearer {token}"}

    def _version(self) -> HTTPVersion:
        return HTTPVersion.HTTP2 if self.protocol == "grpc" or self.http_version == "2" else HTTPVersion.HTTP1

    def _protocol(self) -> ProtocolType:
        return ProtocolType.GRPC if self.protocol == "grpc" else ProtocolType.CONNECT

    def open_sync(self) -> tuple[ConnectClientSync, SyncHTTPTransport]:
        """A Connect client and the HTTP transport it owns (close both)."""
        transport = SyncHTTPTransport(http_version=self._version())
        http = SyncClient(transport)
        client = ConnectClientSync(
            self.base_url.rstrip("/"),
            codec=google_protobuf_binary_codec(),
            protocol=self._protocol(),
            send_compression=None,
            timeout_ms=self.timeout_ms,
            http_client=http,
        )
        return client, transport

    def open_async(self) -> tuple[ConnectClient, HTTPTransport]:
        """An asynchronous Connect client and the HTTP transport it owns."""
        transport = HTTPTransport(http_version=self._version())
        http = HttpClient(transport)
        client = ConnectClient(
            self.base_url.rstrip("/"),
            codec=google_protobuf_binary_codec(),
            protocol=self._protocol(),
            send_compression=None,
            timeout_ms=self.timeout_ms,
            http_client=http,
        )
        return client, transport
