"""The redirects of a cluster (docs/kafka.md, "Several servers"): a server that does not
own a call's tenant answers `failed_precondition` with an `entdbcluster.v1.TenantOwner`
detail naming the server that does. The detail is read from its wire form here: its
package is not part of the API this runtime embeds."""

from __future__ import annotations

from connectrpc.code import Code
from connectrpc.errors import ConnectError

_TENANT_OWNER = "entdbcluster.v1.TenantOwner"
_URL_FIELD = 2


def redirect_of(err: ConnectError) -> str | None:
    """The owner's base URL a redirect names, or None when `err` is not one."""
    if err.code != Code.FAILED_PRECONDITION:
        return None
    for detail in err.details:
        if detail.type_name == _TENANT_OWNER:
            url = _string_field(detail.message_bytes, _URL_FIELD)
            if url:
                return url
    return None


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = 0
    shift = 0
    while True:
        if at >= len(data):
            raise ValueError("a varint runs past the end of the message")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def _string_field(data: bytes, number: int) -> str | None:
    """The last value of string field `number` of a protobuf message (None if absent or
    if the message cannot be read)."""
    found: str | None = None
    at = 0
    try:
        while at < len(data):
            tag, at = _varint(data, at)
            wire = tag & 7
            if wire == 0:
                _, at = _varint(data, at)
            elif wire == 1:
                at += 8
            elif wire == 5:
                at += 4
            elif wire == 2:
                size, at = _varint(data, at)
                if tag >> 3 == number:
                    found = data[at : at + size].decode("utf-8")
                at += size
            else:
                return None
    except (ValueError, UnicodeDecodeError):
        return None
    return found
