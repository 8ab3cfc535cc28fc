"""Driver failures turned into the domain errors the API maps to gRPC codes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
)

from audit.group_commit import OUTAGES
from verifier.domain.errors import Conflict, StoreUnavailable

# How long a caller is told to wait before retrying work the database refused: long enough
# for a restart or a failover to be noticed, short enough for an interactive retry.
RETRY_AFTER_S = 2.0

# OUTAGES (lock timeouts, a read-only or full database, a lost connection, a session a
# failed flush left unusable: the audit log cannot be written now) is one list, kept
# where the group committer uses it. Everything :func:`unavailable` looks at:
DRIVER_ERRORS: tuple[type[BaseException], ...] = (DBAPIError, *OUTAGES)


def unavailable(exc: BaseException) -> StoreUnavailable | None:
    """The domain error for a driver failure that is an outage; None for anything else.
    Names the failure's type only: a driver's message can quote a statement's values."""
    if isinstance(exc, IntegrityError):
        return None
    if isinstance(exc, OUTAGES):
        return StoreUnavailable(f"database unavailable ({type(exc).__name__})", RETRY_AFTER_S)
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return StoreUnavailable("database connection lost", RETRY_AFTER_S)
    return None


@asynccontextmanager
async def guard() -> AsyncIterator[None]:
    """Turn driver failures into domain errors the API maps to gRPC codes."""
    try:
        yield
    except IntegrityError:
        raise Conflict("a concurrent request changed the same record") from None
    except DRIVER_ERRORS as exc:
        # Fail closed, retryable: nothing proceeds while the audit log cannot be written.
        refused = unavailable(exc)
        if refused is None:
            raise
        raise refused from None
