"""The default idempotency key: a UUIDv7 of the time it was made, so one client's keys ascend."""

from __future__ import annotations

import time
import uuid

from entdb_runtime._keys import new_idempotency_key


def test_a_default_key_is_a_uuid7_of_the_time_it_was_made() -> None:
    before = time.time_ns() // 1_000_000
    key = uuid.UUID(new_idempotency_key())
    after = time.time_ns() // 1_000_000
    assert key.version == 7
    assert key.variant == uuid.RFC_4122
    assert before <= int.from_bytes(key.bytes[:6], "big") <= after
    assert new_idempotency_key(0x0123_4567_89AB).startswith("01234567-89ab-7")


def test_keys_ascend_with_the_time_and_differ_within_a_millisecond() -> None:
    same = [new_idempotency_key(1_000) for _ in range(1000)]
    assert len(set(same)) == 1000
    later = new_idempotency_key(1_001)
    assert all(key < later for key in same)
