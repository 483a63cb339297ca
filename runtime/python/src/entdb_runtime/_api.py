"""The entdb.v1 API as the Python protobuf runtime sees it: message classes built from
the embedded descriptors (no protoc, no _pb2 modules), the EntDbService methods, and the
conversion between messages and plain dicts that the rest of the runtime works on.

Messages travel in the binary format; inside the runtime they are the dicts of protobuf's
JSON mapping with proto field names (int64 as decimal strings, so nothing passes through
a float), which keeps this module the only one that touches message classes.
"""

from __future__ import annotations

from collections.abc import Mapping

from connectrpc.method import IdempotencyLevel, MethodInfo, StreamType
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory, timestamp_pb2
from google.protobuf.message import Message

from ._api_descriptor import FILE_DESCRIPTOR_SET

_POOL = descriptor_pool.Default()
# values.proto imports timestamp.proto; importing its module adds it to the pool.
_IMPORTS = (timestamp_pb2.DESCRIPTOR.name,)


def _load() -> None:
    files = descriptor_pb2.FileDescriptorSet.FromString(FILE_DESCRIPTOR_SET)
    for file in files.file:
        try:
            _POOL.FindFileByName(file.name)
        except KeyError:
            _POOL.Add(file)


_load()

SERVICE = "entdb.v1.EntDbService"


def message_class(full_name: str) -> type[Message]:
    """The message class of an entdb.v1 message, e.g. `entdb.v1.WriteFailure`."""
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(full_name))


def _method(name: str, *, reads: bool, stream: StreamType = StreamType.UNARY) -> MethodInfo[Message, Message]:
    return MethodInfo(
        name=name,
        service_name=SERVICE,
        input=message_class(f"entdb.v1.{name}Request"),
        output=message_class(f"entdb.v1.{name}Response"),
        idempotency_level=IdempotencyLevel.NO_SIDE_EFFECTS if reads else IdempotencyLevel.UNKNOWN,
        stream_type=stream,
    )


METHODS: Mapping[str, MethodInfo[Message, Message]] = {
    name: _method(name, reads=reads)
    for name, reads in [
        ("ExecutePlan", False),
        ("GetReceipt", True),
        ("WaitForPosition", True),
        ("GetNode", True),
        ("GetNodes", True),
        ("GetNodeByKey", True),
        ("QueryNodes", True),
        ("ListEdges", True),
        ("Traverse", True),
        ("Search", True),
        ("AddTenantMember", False),
        ("SetTenantMemberRole", False),
        ("RemoveTenantMember", False),
        ("CreateGroup", False),
        ("AddGroupMember", False),
        ("RemoveGroupMember", False),
        ("ShareNode", False),
        ("RevokeNode", False),
        ("ListTenantMembers", True),
        ("ListGroups", True),
        ("ListMailbox", True),
        ("GetMailboxUnreadCounts", True),
        ("UpdateMailboxItems", False),
    ]
}

SUBSCRIBE = _method("Subscribe", reads=True, stream=StreamType.SERVER_STREAM)
"""The server-streaming `Subscribe` method (live changes)."""

WRITE_FAILURE = message_class("entdb.v1.WriteFailure")

Wire = dict[str, object]
"""A message as a dict of protobuf's JSON mapping, keyed by proto field names."""


def to_message(method: str, body: Wire) -> Message:
    """The request message of `method` (e.g. `GetNode`) holding `body`."""
    message = (SUBSCRIBE if method == "Subscribe" else METHODS[method]).input()
    json_format.ParseDict(body, message)
    return message


def from_message(message: Message) -> Wire:
    """`message` as a dict (fields at their default value are left out)."""
    return dict(json_format.MessageToDict(message, preserving_proto_field_name=True))


def write_failure(data: bytes) -> Wire:
    """A serialized `entdb.v1.WriteFailure` as a dict."""
    return from_message(WRITE_FAILURE.FromString(data))
