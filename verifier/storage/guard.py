"""Driver failures turned into the domain errors the API maps to gRPC codes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError, InternalError, OperationalError

from audit.log import AuditUnavailable
from verifier.domain.errors import Conflict, Unavailable


@asynccontextmanager
async def guard() -> AsyncIterator[None]:
    """Turn driver failures into domain errors the API maps to gRPC codes."""
    try:
        yield
    except IntegrityError:
        raise Conflict("a concurrent request changed the same record") from None
    except (OperationalError, InternalError, AuditUnavailable) as exc:
        # Lock timeouts, a read-only or full database, a lost connection: the audit log
        # cannot be written now, so nothing proceeds (fail closed, retryable).
        raise Unavailable(f"database unavailable ({type(exc).__name__})") from None
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise Unavailable("database connection lost") from None
        raise
