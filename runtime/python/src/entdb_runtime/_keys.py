"""The idempotency key a write gets when the caller passes none: a UUIDv7 (RFC 9562), whose
48-bit millisecond prefix makes one client's keys ascend. The server keeps each applied
plan's outcome in a table ordered by its key, so ascending keys are appended at its end;
random keys (UUIDv4) cost the server one more page of the tenant's file per write."""

from __future__ import annotations

import os
import time
import uuid


def new_idempotency_key(now_ms: int | None = None) -> str:
    """A fresh UUIDv7 of `now_ms` (Unix milliseconds; now by default) and 74 random bits."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    raw = bytearray(os.urandom(16))
    raw[0:6] = ms.to_bytes(6, "big")
    raw[6] = (raw[6] & 0x0F) | 0x70  # version 7
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 9562 variant
    return str(uuid.UUID(bytes=bytes(raw)))
