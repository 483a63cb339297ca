"""A plan whose response is lost is retried with the same idempotency key: a loopback
proxy forwards the first ExecutePlan to the server, then drops the connection instead
of answering, so the client sees UNAVAILABLE after the plan was applied."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import acme_tracker as t
import entdb_runtime as rt
import pytest


class LossyProxy:
    """Forwards HTTP/1.1 requests to `target`; drops the response of the first
    `drop` ExecutePlan calls. `seen` records each ExecutePlan body it forwarded."""

    def __init__(self, target: str, drop: int) -> None:
        parsed = urlparse(target)
        host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.seen: list[bytes] = []
        self.drop = drop
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                upstream = http.client.HTTPConnection(host, port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                upstream.request("POST", self.path, body=body, headers=headers)
                response = upstream.getresponse()
                payload = response.read()
                if self.path.endswith("/ExecutePlan"):
                    proxy.seen.append(body)
                    if proxy.drop > 0:
                        proxy.drop -= 1
                        self.close_connection = True
                        self.connection.close()
                        return
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(url: str) -> Iterator[LossyProxy]:
    lossy = LossyProxy(url, drop=1)
    yield lossy
    lossy.close()


def test_a_retry_after_a_lost_response_sends_the_same_key_and_gets_the_first_outcome(
    proxy: LossyProxy, url: str, tenant: str
) -> None:
    with t.Client(rt.Transport(proxy.url), tenant) as db:
        with db.plan() as plan:
            team = plan.team.create(t.TeamCreate(name="Once", slug="once"))
    assert len(proxy.seen) == 2
    assert proxy.seen[0] == proxy.seen[1]  # the same request, idempotency key included
    assert plan.receipt.replayed is True
    with t.Client(rt.Transport(url), tenant) as direct:
        teams = direct.team.query().items
    assert [(x.id, x.slug) for x in teams] == [(team.id, "once")]


def test_without_retries_the_lost_response_is_an_unavailable_error(proxy: LossyProxy, tenant: str) -> None:
    with t.Client(rt.Transport(proxy.url), tenant, retry=False) as db:
        with pytest.raises(rt.UnavailableError) as err:
            db.team.create(t.TeamCreate(name="Lost", slug="lost"))
    assert err.value.code == "unavailable"
    assert len(proxy.seen) == 1


def test_the_error_of_a_lost_write_carries_its_key_and_a_send_with_it_applies_the_write_once(
    proxy: LossyProxy, url: str, tenant: str
) -> None:
    with t.Client(rt.Transport(proxy.url), tenant, retry=False) as db:
        with pytest.raises(rt.UnavailableError) as err:
            with db.plan() as plan:
                plan.team.create(t.TeamCreate(name="Keyed", slug="keyed"))
        key = err.value.idempotency_key
        assert key is not None and key.encode() in proxy.seen[0]
        with db.plan(idempotency_key=key) as again:
            again.team.create(t.TeamCreate(name="Keyed", slug="keyed"))
    assert again.receipt.replayed is True
    assert again.receipt.idempotency_key == key
    with t.Client(rt.Transport(url), tenant) as direct:
        assert [x.slug for x in direct.team.query().items] == ["keyed"]
