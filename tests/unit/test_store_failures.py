"""What a storage failure becomes: a StoreUnavailable from the guard, UNAVAILABLE with a
google.rpc.RetryInfo and the reason STORE_UNAVAILABLE at the API; a constraint a
concurrent writer won stays a Conflict; a bug stays a bug."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from google.rpc import code_pb2, error_details_pb2
from sqlalchemy.exc import IntegrityError, OperationalError, PendingRollbackError

from audit.group_commit import GroupCommitFailed
from verifier.api.errors import status_for
from verifier.domain.errors import Conflict, StoreUnavailable, Unavailable, is_store_failure
from verifier.storage.guard import guard


def _driver(kind: type[Exception]) -> Exception:
    return kind("INSERT INTO t VALUES ('370322199001011234')", {}, sqlite3.OperationalError("x"))


@pytest.mark.parametrize(
    "exc",
    [
        sqlite3.OperationalError("database or disk is full"),
        sqlite3.OperationalError("attempt to write a readonly database"),
        psycopg.OperationalError("connection refused"),
        PendingRollbackError("Can't reconnect until invalid transaction is rolled back"),
        _driver(OperationalError),
        GroupCommitFailed("the audit batch transaction failed (OperationalError)"),
        StoreUnavailable("database unavailable (OperationalError)"),
    ],
)
async def test_a_storage_failure_is_store_unavailable_without_the_statement(
    exc: Exception,
) -> None:
    assert is_store_failure(exc)
    if isinstance(exc, StoreUnavailable):
        return
    with pytest.raises(Exception) as raised:  # noqa: PT011 - what it becomes is the point
        async with guard():
            raise exc
    if isinstance(exc, sqlite3.Error | psycopg.Error):
        return  # a raw DBAPI error never reaches the guard unwrapped by SQLAlchemy
    assert isinstance(raised.value, StoreUnavailable)
    assert "INSERT" not in str(raised.value) and "3703" not in str(raised.value)


@pytest.mark.parametrize(
    "exc",
    [ValueError("bug"), _driver(IntegrityError), Conflict("x"), Unavailable("shutting down")],
)
def test_other_failures_are_not_store_failures(exc: Exception) -> None:
    assert not is_store_failure(exc)


async def test_a_lost_race_on_a_constraint_stays_a_conflict() -> None:
    with pytest.raises(Conflict):
        async with guard():
            raise _driver(IntegrityError)


def test_store_unavailable_carries_retry_info_and_reason() -> None:
    status = status_for(StoreUnavailable("database unavailable (OperationalError)", 2.5))
    assert status.code == code_pb2.UNAVAILABLE
    retry = error_details_pb2.RetryInfo()
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(retry)
    assert retry.retry_delay.ToNanoseconds() == 2_500_000_000
    assert status.details[1].Unpack(info)
    assert info.reason == "STORE_UNAVAILABLE"
