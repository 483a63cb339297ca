"""A watch whose stream breaks subscribes again after the last position it was sent: a
loopback TCP proxy cuts every connection mid-stream, and the iterator goes on with the
next change, none skipped and none repeated."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlparse

import acme_tracker as t
import entdb_runtime as rt
import pytest


class CuttingProxy:
    """Forwards TCP connections to `target`; `cut()` closes every open one."""

    def __init__(self, target: str) -> None:
        parsed = urlparse(target)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.accepted = 0
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            with self.lock:
                self.accepted += 1
                self.open += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        with self.lock:
            for s in self.open:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.open = []

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture
def proxy(url: str) -> Iterator[CuttingProxy]:
    cutting = CuttingProxy(url)
    yield cutting
    cutting.close()


def test_a_broken_watch_resumes_after_its_last_position(proxy: CuttingProxy, url: str, tenant: str) -> None:
    with t.Client(rt.Transport(url), tenant) as direct, t.Client(rt.Transport(proxy.url), tenant) as db:
        first = direct.team.create(t.TeamCreate(name="A", slug="a"))
        seen: list[tuple[str, t.TeamId]] = []
        for change in db.team.watch(from_start=True):
            seen.append((change.kind, change.id))
            if len(seen) == 1:
                proxy.cut()
                second = direct.team.create(t.TeamCreate(name="B", slug="b"))
            if len(seen) == 2:
                break
        assert seen == [("created", first.id), ("created", second.id)]
        assert proxy.accepted == 2
