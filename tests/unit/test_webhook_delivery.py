"""The delivery worker on the in-memory store with a scripted transport: retries follow
the schedule (the test moves the clock, nothing sleeps), a 2xx acknowledges, 410 disables
the subscriber until it is enabled, the schedule's end is FAILED until a replay, the
attempt history keeps status and latency, and neither logs nor history hold a body or a
secret."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from hedui_sdk import Secret
from tests.fakes import InMemoryStore
from tests.log_capture import LogLines, server_log_lines
from verifier.domain.caller import Caller
from verifier.domain.errors import InvalidArgument, NotFound, PermissionDenied
from verifier.domain.ports import UnitOfWork
from verifier.domain.webhooks import (
    DEFAULT_RETRY_SCHEDULE,
    EventType,
    OutboxEvent,
    RetrySchedule,
    alert_raised,
    report_issued,
)
from verifier.service.webhooks.admin import WebhookAdmin
from verifier.service.webhooks.delivery import WebhookDelivery
from verifier.service.webhooks.subscribers import Subscriber
from verifier.service.webhooks.transport import Answer, Transport

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
VID = "0b7e4c1a-1111-4222-8333-444455556666"
SECRET = "whsec_" + base64.b64encode(bytes(range(7, 39))).decode()
ADMIN = Caller("hedui-cli", "operator", "admin", ())


@pytest.fixture
def log_lines(capsys: pytest.CaptureFixture[str]) -> Iterator[LogLines]:
    with server_log_lines(capsys) as read:
        yield read


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Sent:
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class ScriptedTransport(Transport):
    """Answers each URL from its script (the last answer repeats); keeps what was sent."""

    script: dict[str, list[int | None]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> Answer:
        self.sent.append(Sent(url, body, dict(headers)))
        answers = self.script.get(url, [200])
        status = answers.pop(0) if len(answers) > 1 else answers[0]
        if status is None:
            return Answer(None, "timeout", int(timeout * 1000))
        return Answer(status, f"http_{status}", 3)

    async def aclose(self) -> None:
        pass


def subscriber(name: str, *types: EventType) -> Subscriber:
    return Subscriber(
        name,
        f"https://{name}.example/hooks?token=url-token-{name}",
        frozenset(types or (EventType.REPORT_ISSUED, EventType.ALERT_RAISED)),
        (Secret(SECRET),),
    )


def event(version: int = 1) -> OutboxEvent:
    return report_issued(
        verification_id=VID, case_id="CASE-1", version=version, envelope_sha256="cd" * 32, at=T0
    )


async def add(store: InMemoryStore, *events: OutboxEvent) -> None:
    async def work(uow: UnitOfWork) -> None:
        for e in events:
            await uow.outbox.add(e)

    await store.write(work)


def worker(
    store: InMemoryStore, transport: Transport, clock: Clock, *subs: Subscriber
) -> WebhookDelivery:
    return WebhookDelivery(
        store,
        list(subs),
        transport,
        owner="w1",
        schedule=RetrySchedule(jitter=0.0),
        clock=clock,
        rng=random.Random(0),
    )


async def drain(w: WebhookDelivery, clock: Clock, limit: int = 50) -> int:
    """Tick, and when idle move the clock to the next due time, until nothing is due."""
    rounds = 0
    for _ in range(limit):
        if await w.tick():
            rounds += 1
            continue
        due = await w.next_due()
        if due is None:
            return rounds
        clock.now = max(clock.now, due)
    raise AssertionError("deliveries did not settle")


async def test_retries_follow_the_schedule_until_the_receiver_answers(
    log_lines: LogLines,
) -> None:
    store, clock = InMemoryStore(clock=Clock()), Clock()
    sub = subscriber("county")
    transport = ScriptedTransport({sub.url: [503, 503, None, 500, 200]})
    w = worker(store, transport, clock, sub)
    e = event()
    await add(store, e)
    await drain(w, clock)
    logs = log_lines()
    assert len(transport.sent) == 5
    # Same id and body on every attempt, each one signed and verifiable.
    assert {s.headers["webhook-id"] for s in transport.sent} == {e.id}
    assert {s.body for s in transport.sent} == {e.payload()}
    for s in transport.sent:
        Webhook(SECRET).verify(s.body, s.headers)
    # Immediately, then 5 s, 5 min, 30 min later.
    assert clock.now - T0 == sum(DEFAULT_RETRY_SCHEDULE[:4], timedelta(0))
    async with store.unit_of_work(write=False) as uow:
        history = list(reversed(await uow.deliveries.attempts(subscriber="county")))
        state = (await uow.deliveries.states(["county"]))[0]
    assert [(a.number, a.status_code, a.outcome) for a in history] == [
        (1, 503, "http_503"),
        (2, 503, "http_503"),
        (3, None, "timeout"),
        (4, 500, "http_500"),
        (5, 200, "acknowledged"),
    ]
    assert [a.at - T0 for a in history] == [
        timedelta(0),
        timedelta(seconds=5),
        timedelta(seconds=305),
        timedelta(seconds=2105),
        timedelta(seconds=9305),
    ]
    assert (state.delivered, state.pending, state.failed) == (1, 0, 0)
    assert state.last_outcome == "acknowledged"
    attempts = [entry for entry in logs if entry["event"] == "webhook_attempt"]
    assert len(attempts) == 5
    assert all(entry["level"] == "info" for entry in attempts)
    text = json.dumps(logs)
    assert SECRET not in text and SECRET.removeprefix("whsec_") not in text
    assert "url-token" not in text and "CASE-1" not in text  # no URL, no body


async def test_the_end_of_the_schedule_is_failed_until_a_replay_sends_the_same_id(
    log_lines: LogLines,
) -> None:
    store, clock = InMemoryStore(), Clock()
    sub = subscriber("county")
    transport = ScriptedTransport({sub.url: [503]})
    w = worker(store, transport, clock, sub)
    e = event()
    await add(store, e)
    await drain(w, clock)
    logs = log_lines()
    assert len(transport.sent) == RetrySchedule().attempts
    assert clock.now - T0 == RetrySchedule().span > timedelta(days=1)
    assert any(entry["event"] == "webhook_delivery_failed" for entry in logs)
    async with store.unit_of_work(write=False) as uow:
        assert (await uow.deliveries.states(["county"]))[0].failed == 1

    admin = WebhookAdmin(store, w, clock=clock)
    transport.script[sub.url] = [200]
    assert await admin.replay(ADMIN, since=T0) == 1
    assert await admin.replay(ADMIN, since=T0) == 0  # already pending
    await drain(w, clock)
    assert transport.sent[-1].headers["webhook-id"] == e.id
    async with store.unit_of_work(write=False) as uow:
        state = (await uow.deliveries.states(["county"]))[0]
    assert (state.delivered, state.failed) == (1, 0)
    replays = [b for b in store.entries() if b["action"] == "webhook_admin"]
    assert [b["details"]["operation"] for b in replays] == ["replay", "replay"]
    assert replays[0]["details"]["queued"] == 1
    assert replays[0]["actor"]["role"] == "admin"


async def test_410_disables_the_subscriber_and_its_events_wait_for_enable() -> None:
    store, clock = InMemoryStore(), Clock()
    gone, other = subscriber("gone"), subscriber("other")
    transport = ScriptedTransport({gone.url: [410, 200], other.url: [200]})
    w = worker(store, transport, clock, gone, other)
    first = event(1)
    await add(store, first)
    await drain(w, clock)
    second = event(2)
    await add(store, second)
    await drain(w, clock)
    to_gone = [s for s in transport.sent if s.url == gone.url]
    assert [s.headers["webhook-id"] for s in to_gone] == [first.id]
    async with store.unit_of_work(write=False) as uow:
        states = {s.name: s for s in await uow.deliveries.states(["gone", "other"])}
    assert states["gone"].disabled_at == T0 and "410" in states["gone"].disabled_reason
    assert (states["gone"].pending, states["other"].delivered) == (2, 2)

    admin = WebhookAdmin(store, w, clock=clock)
    assert await admin.enable(ADMIN, "gone") is True
    await drain(w, clock)
    ids_to_gone = [s.headers["webhook-id"] for s in transport.sent if s.url == gone.url]
    assert sorted(ids_to_gone[1:]) == sorted([first.id, second.id])
    assert await admin.enable(ADMIN, "gone") is False


async def test_a_subscriber_gets_only_its_event_types() -> None:
    store, clock = InMemoryStore(), Clock()
    reports = subscriber("reports", EventType.REPORT_ISSUED)
    alerts = subscriber("alerts", EventType.ALERT_RAISED)
    transport = ScriptedTransport()
    w = worker(store, transport, clock, reports, alerts)
    alert = alert_raised(alert_id="A-9", region="341824", risk_level="high", at=T0)
    await add(store, event(), alert)
    await drain(w, clock)
    got = {(s.url, s.headers["webhook-id"]) for s in transport.sent}
    assert got == {(reports.url, event().id), (alerts.url, alert.id)}


async def test_admin_test_sends_a_signed_test_event_and_refuses_unknown_names() -> None:
    store, clock = InMemoryStore(), Clock()
    sub = subscriber("county")
    transport = ScriptedTransport({sub.url: [204]})
    admin = WebhookAdmin(store, worker(store, transport, clock, sub), clock=clock)
    result = await admin.test(ADMIN, "county")
    assert result.acknowledged and result.answer.status == 204
    (sent,) = transport.sent
    doc = Webhook(SECRET).verify(sent.body, sent.headers)
    assert doc["type"] == "webhook.test" and doc["data"] == {"subscriber": "county"}
    assert sent.headers["webhook-id"] == result.event_id
    assert (await admin.test(ADMIN, "county")).event_id != result.event_id
    with pytest.raises(NotFound, match="name"):
        await admin.test(ADMIN, "nobody")
    with pytest.raises(InvalidArgument, match="since"):
        await admin.replay(ADMIN, since=datetime(2026, 1, 1))
    with pytest.raises(InvalidArgument, match="event"):
        await admin.replay(ADMIN, since=T0, event_id="msg_nothex")
    with pytest.raises(NotFound, match="event"):
        await admin.replay(ADMIN, since=T0, event_id="msg_" + "0" * 32)
    with pytest.raises(NotFound, match="subscriber"):
        await admin.replay(ADMIN, since=T0, subscriber="nobody")
    reviewer = Caller("hedui-cli", "operator", "reviewer", ())
    with pytest.raises(PermissionDenied):
        await admin.test(reviewer, "county")
    with pytest.raises(PermissionDenied):
        await admin.replay(reviewer, since=T0)
    with pytest.raises(PermissionDenied):
        await admin.enable(reviewer, "county")
    # Refusals wrote nothing; the two tests are audited.
    ops = [b["details"]["operation"] for b in store.entries() if b["action"] == "webhook_admin"]
    assert ops == ["test", "test"]


def test_a_lease_shorter_than_an_attempt_is_refused() -> None:
    with pytest.raises(ValueError, match="lease"):
        WebhookDelivery(
            InMemoryStore(), [], ScriptedTransport(), owner="w", timeout=10, lease_seconds=5
        )
