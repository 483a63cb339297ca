"""The errors a client raises. The class says what happened (a unique value taken, a
precondition that failed, …); `failure` says where, with the field named by the
generated client's attribute name when the server names one.

Mistakes caught before anything is sent are Python's own: `TypeError` for a value of the
wrong type or an unknown field, `ValueError` for an int outside int64 or a naive datetime.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WriteFailure:
    """Where a write failed: the reason, the plan step, and the type and field ids with
    their names when the client's schema knows them."""

    reason: str
    operation_index: int
    type_id: int
    field_id: int
    type_name: str | None = None
    field_name: str | None = None


class EntDbError(Exception):
    """A call the server refused or could not answer.

    `code` is the Connect code in snake case (`already_exists`, `failed_precondition`, …).
    """

    code: str
    message: str
    failure: WriteFailure | None
    idempotency_key: str | None
    """The write's idempotency key on every error of a write (a plan, an access or mailbox
    change), the key the client made included; None on a read's. After `unavailable` or
    `deadline_exceeded` the write may have been applied: send it again with this key (the
    server answers with the first outcome, never applies it twice) or look it up with
    `get_receipt(key)`."""

    owner: str | None
    """On a `failed_precondition` from a server of a cluster that does not own the tenant:
    the base URL of the server that does (the client follows such redirects itself, up to
    `Transport.max_redirects`; this is set on the one it did not follow). None otherwise."""

    def __init__(
        self,
        code: str,
        message: str,
        failure: WriteFailure | None = None,
        idempotency_key: str | None = None,
        owner: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.failure = failure
        self.idempotency_key = idempotency_key
        self.owner = owner

    @property
    def reason(self) -> str | None:
        """The server's reason (e.g. `UNIQUE_VIOLATION`, `MISSING_REF`), when it gave one."""
        return None if self.failure is None else self.failure.reason

    @property
    def field_name(self) -> str | None:
        """The attribute name of the field the failure is about, when there is one."""
        return None if self.failure is None else self.failure.field_name

    @property
    def operation_index(self) -> int | None:
        """The index of the failing step in its plan."""
        return None if self.failure is None else self.failure.operation_index


EntdbError = EntDbError
"""The former name of `EntDbError`, kept so code written against it still runs; it is the same class."""


class UniqueViolationError(EntDbError):
    """`already_exists`: a unique value is taken; `field_name` names the field."""


class PreconditionFailedError(EntDbError):
    """`failed_precondition`: an expected version or field value did not hold, a ref
    points at a node that does not exist (reason `MISSING_REF`), or an idempotency key
    was reused for a different plan."""


class NotFoundError(EntDbError):
    """`not_found`: the node to update or delete does not exist."""


class PermissionDeniedError(EntDbError):
    """`permission_denied`: the caller may not do this."""


class InvalidArgumentError(EntDbError):
    """`invalid_argument`: the request was refused before it was logged; nothing was written."""


class UnavailableError(EntDbError):
    """`unavailable`: the server could not be reached (after the retries)."""


_CLASSES: dict[str, type[EntDbError]] = {
    "already_exists": UniqueViolationError,
    "failed_precondition": PreconditionFailedError,
    "not_found": NotFoundError,
    "permission_denied": PermissionDeniedError,
    "invalid_argument": InvalidArgumentError,
    "unavailable": UnavailableError,
}


def error_for(code: str, message: str, failure: WriteFailure | None) -> EntDbError:
    """The error of the class `code` names."""
    return _CLASSES.get(code, EntDbError)(code, message, failure)
