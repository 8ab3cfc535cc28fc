"""Errors the use cases raise; the API layer maps each to a canonical gRPC status.

Messages are shown to callers and logged: they never contain ID numbers, names or keys.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One bad field: ``field`` is a path such as ``household.members[2].id_number``."""

    field: str
    description: str


class DomainError(Exception):
    """Base of errors that carry a meaning for the caller."""


class InvalidArgument(DomainError):
    """The request is malformed; nothing was stored."""

    def __init__(self, violations: list[FieldViolation]) -> None:
        self.violations = tuple(violations)
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))


class PermissionDenied(DomainError):
    """The caller may not do this. ``reason`` is a stable UPPER_SNAKE code (ErrorInfo.reason)."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class Unauthenticated(DomainError):
    """The caller could not be identified."""


class NotFound(DomainError):
    """The named thing does not exist (or is not visible to the caller)."""


class FailedPrecondition(DomainError):
    """The system is not in a state that allows this request."""


class ReportPurged(FailedPrecondition):
    """The report version's retention period ran out and its contents were removed; its
    hash and release entry remain."""

    reason = "REPORT_PURGED"


class Unavailable(DomainError):
    """A dependency the request cannot do without (database, audit log) is down."""


class StoreUnavailable(Unavailable):
    """The database refused the work (unreachable, full, read-only, a lock held too long):
    nothing of it was written and retrying after ``retry_after`` seconds may succeed.
    The message names the failure's kind only, never a statement or a value."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        self.retry_after = retry_after
        super().__init__(message)


# Where driver failures come from; matched by module so that layers which must not import
# a database driver can still tell a storage failure from a bug.
_STORE_MODULES = ("sqlalchemy", "sqlite3", "psycopg", "aiosqlite")
# Not an outage: a constraint a concurrent writer won (the guard makes it a Conflict).
_NOT_OUTAGES = frozenset({"IntegrityError", "UniqueViolation", "ForeignKeyViolation"})


def is_store_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not do the work now: a
    :class:`StoreUnavailable`, or a driver error that escaped translation (a lost or
    broken connection, a session left unusable by one, a full or read-only database)."""
    if isinstance(exc, StoreUnavailable):
        return True
    if isinstance(exc, DomainError):
        return False
    for cls in type(exc).__mro__:
        if cls.__name__ in _NOT_OUTAGES:
            return False
        module = cls.__module__ or ""
        if module.startswith(_STORE_MODULES):
            return True
        if (module, cls.__name__) == ("audit.log", "AuditUnavailable"):
            return True  # the audit log could not be written (a failed group commit)
    return False


class Conflict(DomainError):
    """A concurrent request changed the same thing first; retrying may succeed."""


class ResourceExhausted(DomainError):
    """A quota is used up (e.g. a user's daily volume of checks)."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)
