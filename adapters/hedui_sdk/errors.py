"""Errors an adapter raises. hedui maps each to a per-source status in the report.

Messages must not contain ID numbers, names or credentials: they are logged and may be
shown to caseworkers. Say what went wrong in department terms (``"HTTP 503"``).
"""

from __future__ import annotations


class SourceError(Exception):
    """Base of all adapter errors."""


class TransientSourceError(SourceError):
    """A failure that may go away: timeout, connection reset, HTTP 5xx, rate limiting.

    hedui retries these with exponential backoff and jitter. ``retry_after`` (seconds),
    when the department said how long to wait, is honoured as the least wait.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentSourceError(SourceError):
    """A failure that retrying will not fix: a malformed answer, an unsupported request."""


class SourceDenied(SourceError):
    """The department refused to answer (no agreement, credentials refused, subject blocked).

    Reported as DENIED, distinct from FAILED, so the case system knows to escalate.
    """
