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


class Unavailable(DomainError):
    """A dependency the request cannot do without (database, audit log) is down."""


class Conflict(DomainError):
    """A concurrent request changed the same thing first; retrying may succeed."""


class ResourceExhausted(DomainError):
    """A quota is used up (e.g. a user's daily volume of checks)."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)
