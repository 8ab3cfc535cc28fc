"""Webhook events: what hedui tells subscribers, following the Standard Webhooks
specification (https://www.standardwebhooks.com/, spec/standard-webhooks.md).

An event is written to the outbox in the same transaction as the thing it tells of
(``uow.outbox.add(event)``), and delivered later, at least once, to every subscriber of
its type. Its ``id`` is the ``webhook-id`` header: the same on every attempt and every
replay, so receivers deduplicate on it. The id is derived from what the event is about
(the report version, the alert, the batch): adding the same event twice is a no-op.

The payload is ``{"type", "timestamp", "data"}``; ``data`` carries identifiers only —
verification id, case id, report version, envelope SHA-256, alert id, batch id, region
code — never a name, an ID number or an amount. Each value is checked here against its
documented format, and free-form identifiers refuse anything shaped like a resident ID
number, so nothing personal reaches a receiver or the outbox table.

Delivery follows the spec's retry guidance: an explicit schedule (immediately, 5 s,
5 min, 30 min, 2 h, 5 h, 10 h, 10 h — more than a day in all) with a little jitter added,
so a receiver down for an hour loses nothing.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from verifier.domain.batches import FINAL_ITEM_STATES, BatchCounts
from verifier.domain.identifiers import (
    CASE_ID,
    REGION_CODE,
    REQUEST_ID,
    SHA256_HEX,
    VERIFICATION_ID,
    Format,
)

__all__ = [
    "DEFAULT_RETRY_SCHEDULE",
    "EVENT_ID",
    "OBJECT_ID",
    "SUBSCRIBABLE",
    "SUBSCRIBER_NAME",
    "DeliveryState",
    "EventType",
    "OutboxEvent",
    "RetrySchedule",
    "Verdict",
    "alert_raised",
    "batch_completed",
    "judge",
    "report_issued",
    "verification_overdue",
    "webhook_test",
]


class EventType(StrEnum):
    """The ``type`` of a webhook payload (Standard Webhooks: ``group.event``)."""

    REPORT_ISSUED = "report.issued"
    """A report version was released (signed, stored, audited)."""
    VERIFICATION_OVERDUE = "verification.overdue"
    """A verification passed its due date without a complete report."""
    ALERT_RAISED = "alert.raised"
    """A monitoring alert (监测预警) was raised."""
    BATCH_COMPLETED = "batch.completed"
    """Every item of a batch reached a final state."""
    TEST = "webhook.test"
    """Sent by ``hedui webhooks test``, never from the outbox; no subscription needed."""


SUBSCRIBABLE = frozenset(EventType) - {EventType.TEST}


def _ascii(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.ASCII)


EVENT_ID = Format(
    "webhook id", _ascii(r"msg_[0-9a-f]{32}"), 36, "msg_ and 32 lowercase hex digits", digest=True
)
# Alert and batch ids are minted by their own services; what a receiver may rely on is
# this: ASCII, short, and never personal data.
OBJECT_ID = Format(
    "identifier", _ascii(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}"), 64, "1-64 of A-Z a-z 0-9 . _ : -"
)
SUBSCRIBER_NAME = Format(
    "subscriber name",
    _ascii(r"[a-z0-9][a-z0-9_\-]{0,62}"),
    63,
    "1-63 characters of a-z 0-9 _ - starting with a letter or digit",
)
RISK_LEVEL = Format("risk level", _ascii(r"[a-z][a-z_]{0,31}"), 32, "a risk level such as high")


def _check(fmt: Format, value: str, name: str) -> str:
    problem = fmt.problem(value)
    if problem is not None:
        # Raised for hedui's own values, not a caller's: a programming error. The value is
        # never echoed (it might be the very thing that must not be logged).
        raise ValueError(f"webhook event data {name}: {problem}")
    return value


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("webhook event time must be timezone-aware")
    return at.astimezone(UTC)


def _rfc3339(at: datetime) -> str:
    return _utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One event as written to the outbox and sent to every subscriber of its type.

    Build it with the functions below (:func:`report_issued`, …), which check every
    value; :meth:`payload` is the exact body that is signed and sent."""

    id: str
    type: EventType
    occurred_at: datetime
    data: tuple[tuple[str, str | int], ...]

    def __post_init__(self) -> None:
        _check(EVENT_ID, self.id, "id")
        _utc(self.occurred_at)

    def data_dict(self) -> dict[str, str | int]:
        return dict(self.data)

    def payload(self) -> bytes:
        """The body: compact JSON with sorted keys, the same bytes on every attempt."""
        doc = {
            "type": self.type.value,
            "timestamp": _rfc3339(self.occurred_at),
            "data": dict(self.data),
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()

    @staticmethod
    def derive_id(type_: EventType, key: str) -> str:
        """The webhook-id of the event of ``type_`` about ``key``: stable, so the same
        event added twice (a retried transaction, a second scan) is one event."""
        digest = hashlib.sha256(f"hedui.webhook/v1\n{type_.value}\n{key}".encode()).hexdigest()
        return "msg_" + digest[:32]

    @classmethod
    def create(
        cls, type_: EventType, key: str, at: datetime, data: Mapping[str, str | int]
    ) -> OutboxEvent:
        return cls(cls.derive_id(type_, key), type_, _utc(at), tuple(sorted(data.items())))


def report_issued(
    *, verification_id: str, case_id: str, version: int, envelope_sha256: str, at: datetime
) -> OutboxEvent:
    """A report version was released: one event per verification × version."""
    _check(VERIFICATION_ID, verification_id, "verification_id")
    _check(CASE_ID, case_id, "case_id")
    _check(SHA256_HEX, envelope_sha256, "envelope_sha256")
    if not 1 <= version <= 1_000_000:
        raise ValueError("webhook event data version: must be between 1 and 1000000")
    return OutboxEvent.create(
        EventType.REPORT_ISSUED,
        f"{verification_id}:{version}",
        at,
        {
            "verification_id": verification_id,
            "case_id": case_id,
            "version": version,
            "envelope_sha256": envelope_sha256,
        },
    )


def verification_overdue(
    *, verification_id: str, case_id: str, due_date: date, at: datetime
) -> OutboxEvent:
    """A verification passed ``due_date`` unfinished: one event per verification × due date."""
    _check(VERIFICATION_ID, verification_id, "verification_id")
    _check(CASE_ID, case_id, "case_id")
    return OutboxEvent.create(
        EventType.VERIFICATION_OVERDUE,
        f"{verification_id}:{due_date.isoformat()}",
        at,
        {
            "verification_id": verification_id,
            "case_id": case_id,
            "due_date": due_date.isoformat(),
        },
    )


def alert_raised(
    *,
    alert_id: str,
    region: str,
    risk_level: str,
    at: datetime,
    verification_id: str = "",
    case_id: str = "",
) -> OutboxEvent:
    """An alert was raised: one event per alert. ``verification_id`` and ``case_id`` are
    given when the alert came from a check (empty: not sent)."""
    data: dict[str, str | int] = {
        "alert_id": _check(OBJECT_ID, alert_id, "alert_id"),
        "region": _check(REGION_CODE, region, "region"),
        "risk_level": _check(RISK_LEVEL, risk_level, "risk_level"),
    }
    if verification_id:
        data["verification_id"] = _check(VERIFICATION_ID, verification_id, "verification_id")
    if case_id:
        data["case_id"] = _check(CASE_ID, case_id, "case_id")
    return OutboxEvent.create(EventType.ALERT_RAISED, alert_id, at, data)


def batch_completed(
    *,
    batch_id: str,
    at: datetime,
    counts: BatchCounts | None = None,
    request_id: str = "",
) -> OutboxEvent:
    """Every item of the batch reached a final state: one event per batch, with its
    items counted by final state and the submitting system's reference for the batch
    (its ``request_id``) — identifiers and numbers, nothing about a household."""
    data: dict[str, str | int] = {"batch_id": _check(OBJECT_ID, batch_id, "batch_id")}
    if request_id:
        data["request_id"] = _check(REQUEST_ID, request_id, "request_id")
    if counts is not None:
        data["item_count"] = counts.total
        for state in FINAL_ITEM_STATES:
            data[state.value.lower()] = getattr(counts, state.value.lower())
    return OutboxEvent.create(EventType.BATCH_COMPLETED, batch_id, at, data)


def webhook_test(*, subscriber: str, at: datetime, nonce: str) -> OutboxEvent:
    """The event ``hedui webhooks test`` sends: a fresh id each time (``nonce``)."""
    _check(SUBSCRIBER_NAME, subscriber, "subscriber")
    return OutboxEvent.create(
        EventType.TEST, f"{subscriber}:{nonce}", at, {"subscriber": subscriber}
    )


class DeliveryState(StrEnum):
    """Where one event's delivery to one subscriber stands."""

    PENDING = "pending"
    """Not acknowledged yet; attempted when due."""
    DELIVERED = "delivered"
    """The receiver answered 2xx."""
    FAILED = "failed"
    """The retry schedule ran out without a 2xx; ``hedui webhooks replay`` sends it again."""


class Verdict(StrEnum):
    """What one attempt's answer means."""

    ACKNOWLEDGED = "acknowledged"
    RETRY = "retry"
    GONE = "gone"


def judge(status: int | None) -> Verdict:
    """2xx acknowledges; 410 Gone asks to stop (the subscription is disabled); anything
    else — other statuses, redirects, timeouts, refused connections (``None``) — retries."""
    if status is not None and 200 <= status <= 299:
        return Verdict.ACKNOWLEDGED
    if status == 410:
        return Verdict.GONE
    return Verdict.RETRY


DEFAULT_RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
"""Waits after the first (immediate) attempt fails, as the Standard Webhooks retry
guidance suggests; together 27 h 35 min 5 s, more than a day."""


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """When to try again: ``delays[n]`` after the (n+1)-th failed attempt, plus up to
    ``jitter`` of it (so receivers coming back are not hit by every sender at once);
    ``None`` once the delays are used up."""

    delays: tuple[timedelta, ...] = DEFAULT_RETRY_SCHEDULE
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if not self.delays or any(d < timedelta(0) for d in self.delays):
            raise ValueError("a retry schedule needs at least one non-negative delay")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("retry jitter must be between 0 and 1")

    @property
    def attempts(self) -> int:
        """Attempts in all: the first one and one per delay."""
        return len(self.delays) + 1

    @property
    def span(self) -> timedelta:
        """The least time between the first attempt and the last (jitter only adds)."""
        return sum(self.delays, timedelta(0))

    def next_delay(self, failed_attempts: int, rng: random.Random) -> timedelta | None:
        """The wait after ``failed_attempts`` attempts have failed (1 after the first)."""
        if failed_attempts < 1 or failed_attempts > len(self.delays):
            return None
        base = self.delays[failed_attempts - 1]
        return base + base * (self.jitter * rng.random())

    @classmethod
    def of_seconds(cls, seconds: Sequence[float], jitter: float = 0.1) -> RetrySchedule:
        return cls(tuple(timedelta(seconds=s) for s in seconds), jitter)
