"""Standard Webhooks signing: the headers verify with the reference library's own
``Webhook.verify``, match a fixed vector and the specification's definition recomputed
by hand, carry both signatures during a rotation; event payloads hold identifiers only;
the retry schedule keeps trying for more than a day."""

from __future__ import annotations

import base64
import hmac
import json
import random
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from hedui_sdk import Secret
from tests.fakes import synthetic_id
from verifier.domain.webhooks import (
    DEFAULT_RETRY_SCHEDULE,
    EventType,
    OutboxEvent,
    RetrySchedule,
    Verdict,
    alert_raised,
    batch_completed,
    judge,
    report_issued,
    verification_overdue,
)
from verifier.signing.webhooks import secret_problem, signature_headers

VID = "0b7e4c1a-1111-4222-8333-444455556666"
SHA = "ab" * 32
# Secrets made for these tests (32 bytes of base64), nobody's real key.
OLD = "whsec_" + base64.b64encode(bytes(range(32))).decode()
NEW = "whsec_" + base64.b64encode(bytes(range(100, 132))).decode()


def test_a_fixed_vector() -> None:
    """The example every Standard Webhooks library signs the same way."""
    at = datetime.fromtimestamp(1614265330, UTC)
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    headers = signature_headers(
        "msg_p5jXN8AQM9LWM0D4loKWxJek", at, b'{"test": 2432232314}', [Secret(secret)]
    )
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert headers["webhook-timestamp"] == "1614265330"
    # The specification's definition, by hand: HMAC-SHA256 over "id.timestamp.body" keyed
    # with the base64-decoded part after whsec_.
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, b'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}', "sha256")
    assert headers["webhook-signature"] == "v1," + base64.b64encode(mac.digest()).decode()


def test_a_delivery_verifies_with_the_reference_library() -> None:
    event = report_issued(
        verification_id=VID, case_id="CASE-7", version=2, envelope_sha256=SHA, at=datetime.now(UTC)
    )
    body = event.payload()
    headers = signature_headers(event.id, datetime.now(UTC), body, [Secret(OLD)])
    assert set(headers) == {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "content-type",
    }
    assert headers["webhook-id"] == event.id
    doc = Webhook(OLD).verify(body, headers)
    assert doc["type"] == "report.issued"
    assert doc["data"] == {
        "verification_id": VID,
        "case_id": "CASE-7",
        "version": 2,
        "envelope_sha256": SHA,
    }
    assert re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{6}Z", doc["timestamp"])
    # Another secret, a changed body, an old timestamp: refused.
    with pytest.raises(WebhookVerificationError):
        Webhook(NEW).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(OLD).verify(body.replace(b"CASE-7", b"CASE-8"), headers)
    stale = signature_headers(event.id, datetime.now(UTC) - timedelta(hours=1), body, [Secret(OLD)])
    with pytest.raises(WebhookVerificationError):
        Webhook(OLD).verify(body, stale)


def test_during_a_rotation_both_secrets_sign_and_either_verifies() -> None:
    body = batch_completed(batch_id="B-1", at=datetime.now(UTC)).payload()
    headers = signature_headers(
        "msg_" + "0" * 32, datetime.now(UTC), body, [Secret(NEW), Secret(OLD)]
    )
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert all(s.startswith("v1,") for s in headers["webhook-signature"].split(" "))
    for secret in (OLD, NEW):
        Webhook(secret).verify(body, headers)
    third = "whsec_" + base64.b64encode(bytes(range(50, 82))).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(third).verify(body, headers)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (OLD, None),
        ("whsec_" + base64.b64encode(bytes(24)).decode(), None),
        ("whsec_" + base64.b64encode(bytes(64)).decode(), None),
        (OLD.removeprefix("whsec_"), "must be whsec_"),
        ("whsec_" + base64.b64encode(bytes(16)).decode(), "must be whsec_"),
        ("whsec_" + base64.b64encode(bytes(66)).decode(), "must hold 24 to 64 bytes"),
        (OLD + "\n", "must be whsec_"),
        (OLD[:-3] + "*" + OLD[-2:], "must be whsec_"),
        ("whsec_" + "A" * 33, "valid base64"),
    ],
)
def test_secrets_are_checked_and_never_repeated(value: str, problem: str | None) -> None:
    got = secret_problem(Secret(value))
    if problem is None:
        assert got is None
    else:
        assert got is not None and problem in got
        assert value.strip() not in got


def test_event_ids_are_stable_and_distinct() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    one = report_issued(verification_id=VID, case_id="C", version=1, envelope_sha256=SHA, at=at)
    again = report_issued(
        verification_id=VID, case_id="C", version=1, envelope_sha256=SHA, at=at + timedelta(1)
    )
    two = report_issued(verification_id=VID, case_id="C", version=2, envelope_sha256=SHA, at=at)
    assert one.id == again.id != two.id
    assert re.fullmatch(r"msg_[0-9a-f]{32}", one.id)
    ids = {
        one.id,
        two.id,
        verification_overdue(
            verification_id=VID, case_id="C", due_date=date(2026, 12, 30), at=at
        ).id,
        alert_raised(alert_id="A-1", region="370322", risk_level="high", at=at).id,
        batch_completed(batch_id="A-1", at=at).id,
    }
    assert len(ids) == 5
    # The body is the same bytes every time it is made (it is what the signature covers).
    assert (
        one.payload()
        == report_issued(
            verification_id=VID, case_id="C", version=1, envelope_sha256=SHA, at=at
        ).payload()
    )
    assert json.loads(one.payload())["timestamp"] == "2026-12-01T00:00:00.000000Z"


def test_payloads_refuse_personal_data() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    number = synthetic_id()
    with pytest.raises(ValueError, match="case_id") as caught:
        report_issued(
            verification_id=VID, case_id=f"C-{number}", version=1, envelope_sha256=SHA, at=at
        )
    assert number not in str(caught.value)
    with pytest.raises(ValueError, match="alert_id"):
        alert_raised(alert_id=number, region="370322", risk_level="high", at=at)
    with pytest.raises(ValueError, match="batch_id"):
        batch_completed(batch_id="张三", at=at)
    with pytest.raises(ValueError, match="verification_id"):
        report_issued(verification_id="x", case_id="C", version=1, envelope_sha256=SHA, at=at)
    with pytest.raises(ValueError, match="case_id"):
        report_issued(verification_id=VID, case_id="C\n", version=1, envelope_sha256=SHA, at=at)
    with pytest.raises(ValueError, match="region"):
        alert_raised(alert_id="A", region="３７０３２２", risk_level="high", at=at)
    with pytest.raises(ValueError, match="version"):
        report_issued(verification_id=VID, case_id="C", version=0, envelope_sha256=SHA, at=at)
    with pytest.raises(ValueError, match="timezone"):
        batch_completed(batch_id="B", at=datetime(2026, 12, 1))
    with pytest.raises(ValueError, match="id"):
        OutboxEvent("evt_1", EventType.BATCH_COMPLETED, at, ())


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.ACKNOWLEDGED),
        (204, Verdict.ACKNOWLEDGED),
        (299, Verdict.ACKNOWLEDGED),
        (410, Verdict.GONE),
        (301, Verdict.RETRY),
        (400, Verdict.RETRY),
        (404, Verdict.RETRY),
        (429, Verdict.RETRY),
        (500, Verdict.RETRY),
        (503, Verdict.RETRY),
        (None, Verdict.RETRY),
    ],
)
def test_what_an_answer_means(status: int | None, verdict: Verdict) -> None:
    assert judge(status) is verdict


def test_the_retry_schedule_follows_the_specification_and_spans_more_than_a_day() -> None:
    schedule = RetrySchedule(jitter=0.0)
    rng = random.Random(1)
    waits = [schedule.next_delay(n, rng) for n in range(1, schedule.attempts)]
    assert waits == list(DEFAULT_RETRY_SCHEDULE)
    assert waits[:4] == [
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
    ]
    assert schedule.next_delay(schedule.attempts, rng) is None
    assert schedule.next_delay(0, rng) is None
    assert schedule.attempts == 8
    assert schedule.span > timedelta(days=1)
    # A receiver down for an hour is still being tried after it comes back.
    elapsed = timedelta(0)
    for n in range(1, schedule.attempts):
        wait = schedule.next_delay(n, rng)
        assert wait is not None
        elapsed += wait
        if elapsed > timedelta(hours=1):
            break
    assert n < schedule.attempts - 1


def test_jitter_only_adds_and_stays_within_its_share() -> None:
    schedule = RetrySchedule(jitter=0.2)
    rng = random.Random(7)
    seen = set()
    for n in range(1, schedule.attempts):
        base = DEFAULT_RETRY_SCHEDULE[n - 1]
        for _ in range(50):
            wait = schedule.next_delay(n, rng)
            assert wait is not None
            assert base <= wait <= base * 1.2
            seen.add(wait)
    assert len(seen) > 100
    with pytest.raises(ValueError, match="jitter"):
        RetrySchedule(jitter=2.0)
    with pytest.raises(ValueError, match="delay"):
        RetrySchedule(delays=())
