"""The runtime of EntDB's generated Python clients (`entdb generate --python OUT`).

Generated packages import it as `entdb_runtime`; applications mostly need `Transport`,
the errors, the filters and `UNSET` from here, and everything else from the generated
package.
"""

from ._codec import EdgeRow, Row
from .access import AccessApi, AsyncAccessApi, Capability, Group, Member, TenantRole
from .accessors import (
    ClientReads,
    EdgeAccessor,
    NodeAccessor,
    PlanBase,
    PlanEdges,
    PlanNodes,
    PlanScope,
    SearchableNodeAccessor,
)
from .aio_accessors import (
    AsyncClientReads,
    AsyncEdgeAccessor,
    AsyncNodeAccessor,
    AsyncPlanScope,
    AsyncSearchableNodeAccessor,
)
from .core import NO_RETRY, AsyncClientCore, ClientCore, RetryPolicy
from .errors import (
    EntDbError,
    EntdbError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    UnavailableError,
    UniqueViolationError,
    WriteFailure,
)
from .filters import Filter, Has, OrderBy, Range, Text
from .mailbox import AsyncMailbox, Mailbox, MailboxItem, Parent, UnreadCounts
from .plan import UNSET, HasId, NodeHandle, PlanBuilder, Unset
from .positions import PositionTracker
from .results import Created, LogPosition, Page, PlanResult, Receipt, StepResult, Updated
from .schema import FieldMeta, SchemaMeta, TypeMeta
from .search import Direction, EdgeType, Highlight, Hop, NodeTypes, SearchHit, Traversal, UnknownNode, Visited
from .transport import TokenSource, Transport
from .values import INT64_MAX, INT64_MIN, JsonValue
from .watch import Change, ChangeKindName, WatchedChange

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "NO_RETRY",
    "UNSET",
    "AccessApi",
    "AsyncAccessApi",
    "AsyncClientCore",
    "AsyncClientReads",
    "AsyncEdgeAccessor",
    "AsyncMailbox",
    "AsyncNodeAccessor",
    "AsyncPlanScope",
    "AsyncSearchableNodeAccessor",
    "Capability",
    "Change",
    "ChangeKindName",
    "ClientCore",
    "ClientReads",
    "Created",
    "Direction",
    "EdgeAccessor",
    "EdgeRow",
    "EdgeType",
    "EntDbError",
    "EntdbError",
    "FieldMeta",
    "Filter",
    "Group",
    "Has",
    "HasId",
    "Highlight",
    "Hop",
    "InvalidArgumentError",
    "JsonValue",
    "LogPosition",
    "Mailbox",
    "MailboxItem",
    "Member",
    "NodeAccessor",
    "NodeHandle",
    "NodeTypes",
    "NotFoundError",
    "OrderBy",
    "Page",
    "Parent",
    "PermissionDeniedError",
    "PlanBase",
    "PlanBuilder",
    "PlanEdges",
    "PlanNodes",
    "PlanResult",
    "PlanScope",
    "PositionTracker",
    "PreconditionFailedError",
    "Range",
    "Receipt",
    "RetryPolicy",
    "Row",
    "SchemaMeta",
    "SearchHit",
    "SearchableNodeAccessor",
    "StepResult",
    "TenantRole",
    "Text",
    "TokenSource",
    "Transport",
    "Traversal",
    "TypeMeta",
    "UnavailableError",
    "UniqueViolationError",
    "UnknownNode",
    "UnreadCounts",
    "Unset",
    "Updated",
    "Visited",
    "WatchedChange",
    "WriteFailure",
]
