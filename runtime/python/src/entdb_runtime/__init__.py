"""The runtime of EntDB's generated Python clients (`entdb generate --python OUT`).

Generated packages import it as `entdb_runtime`; applications mostly need `Transport`,
the errors, the filters and `UNSET` from here, and everything else from the generated
package.
"""

from ._codec import EdgeRow, Row
from .accessors import EdgeAccessor, NodeAccessor, PlanBase, PlanEdges, PlanNodes, PlanScope
from .aio_accessors import AsyncEdgeAccessor, AsyncNodeAccessor, AsyncPlanScope
from .core import NO_RETRY, AsyncClientCore, ClientCore, RetryPolicy
from .errors import (
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
from .plan import UNSET, HasId, NodeHandle, PlanBuilder, Unset
from .positions import PositionTracker
from .results import Created, LogPosition, Page, PlanResult, Receipt, StepResult, Updated
from .schema import FieldMeta, SchemaMeta, TypeMeta
from .transport import TokenSource, Transport
from .values import INT64_MAX, INT64_MIN, JsonValue

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "NO_RETRY",
    "UNSET",
    "AsyncClientCore",
    "AsyncEdgeAccessor",
    "AsyncNodeAccessor",
    "AsyncPlanScope",
    "ClientCore",
    "Created",
    "EdgeAccessor",
    "EdgeRow",
    "EntdbError",
    "FieldMeta",
    "Filter",
    "Has",
    "HasId",
    "InvalidArgumentError",
    "JsonValue",
    "LogPosition",
    "NodeAccessor",
    "NodeHandle",
    "NotFoundError",
    "OrderBy",
    "Page",
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
    "StepResult",
    "Text",
    "TokenSource",
    "Transport",
    "TypeMeta",
    "UnavailableError",
    "UniqueViolationError",
    "Unset",
    "Updated",
    "WriteFailure",
]
