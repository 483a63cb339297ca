"""The server the tests run against: `ENTDB_URL` (an `entdb serve` the vitest driver
started) and a fresh tenant per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import acme_tracker as t
import entdb_runtime as rt
import pytest


@pytest.fixture
def url() -> str:
    return os.environ["ENTDB_URL"]


@pytest.fixture
def tenant() -> str:
    return f"py-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["connect-1.1", "connect-2", "grpc"])
def transport(request: pytest.FixtureRequest, url: str) -> rt.Transport:
    name: str = request.param
    if name == "grpc":
        return rt.Transport(url, protocol="grpc")
    return rt.Transport(url, http_version="2" if name == "connect-2" else "1.1")


@pytest.fixture
def db(transport: rt.Transport, tenant: str) -> Iterator[t.Client]:
    with t.Client(transport, tenant, retry=False) as client:
        yield client
