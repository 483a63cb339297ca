"""Values read from the server that the client cannot represent: a clear error that says
what to do, as the TypeScript runtime gives."""

from __future__ import annotations

import acme_tracker as t
import entdb_runtime as rt
import pytest
from entdb_runtime.values import decode

STATUS = rt.FieldMeta(5, "status", "enum", required=True, has_default=True, enum=t.TaskStatus)


def test_an_enum_number_of_a_newer_schema_says_to_regenerate_the_client() -> None:
    assert decode(STATUS, {"enum_value": 2}, "Task.status") == t.TaskStatus(2)
    with pytest.raises(rt.EntDbError) as raised:
        decode(STATUS, {"enum_value": 99}, "Task.status")
    assert raised.value.code == "schema_mismatch"
    assert str(raised.value) == (
        "Task.status holds enum number 99, which this client does not know; "
        "regenerate the client from the server's schema."
    )
