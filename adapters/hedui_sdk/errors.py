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


class SourceRateLimited(TransientSourceError):
    """The department refused the call for now because hedui asked too often (HTTP 429).

    Not a failure of the source: hedui slows down for every check using it (it lowers its
    pace and sends nothing until ``retry_after`` seconds have passed), retries within the
    caller's deadline, and does not count it towards the source's circuit breaker. An
    adapter raising a plain :class:`TransientSourceError` for a rate limit still works,
    but is treated as an outage (retried with backoff, counted by the breaker).
    """


class PermanentSourceError(SourceError):
    """A failure that retrying will not fix: a malformed answer, an unsupported request."""


class SourceDenied(SourceError):
    """The department refused to answer (no agreement, credentials refused, subject blocked).

    Reported as DENIED, distinct from FAILED, so the case system knows to escalate.
    """
