"""Changes and alerts end to end, on SQLite and PostgreSQL: a real gRPC server over the
built-in adapters and the sandbox departments.

A household is checked, life events change its sandbox data (a pay rise far across the
低保 standard, a new car, a member's death), and it is checked again: the comparison
names the right change codes in a signed document and raises one alert per code on the
region's terms, each with its ``alert.raised`` webhook event. A second household checked
twice with no event gets an empty change document and no alert. A member moving out is a
removal from the 户籍, not a cancellation.
"""

from __future__ import annotations

import functools
import json

import grpc
from hedui.v1 import alerts_pb2 as pb

from hedui_sdk.sandbox import Household, Profile
from tests import alerts_flow_helpers
from tests.alerts_flow_helpers import (
    Stack,
    _plain,
    alerts_of,
    changes_of,
    households,
    life_events,
    population,
    refused,
)
from tests.pii import PiiScanner, assert_clean
from verifier.domain.changes import ChangeCode
from verifier.domain.webhooks import EventType, OutboxEvent
from verifier.signing.changes import verify_changes
from verifier.signing.dsse import verify_envelope
from verifier.signing.jwks import key_id
from verifier.storage.uow import SqlStore

# The shared fixture, bound here so that pytest finds it for this module's tests.
stack = alerts_flow_helpers.stack


@functools.cache
def third_household() -> Household:
    """A third low-income household of 高青, for a member moving out."""
    return next(
        h
        for h in population().all_households
        if h.region == "370322"
        and h.profile is Profile.LOW_INCOME
        and _plain(h)
        and h not in households()
    )


async def test_changed_household_gets_its_codes_and_alerts_the_unchanged_one_none(
    stack: Stack,
) -> None:
    changing, steady = households()
    first = await stack.check(changing, "h1-1")
    steady_first = await stack.check(steady, "h2-1")
    applied = await stack.sandbox.apply_events(life_events(changing))
    assert len(applied.applied) == 3
    second = await stack.check(changing, "h1-2")
    steady_second = await stack.check(steady, "h2-2")

    doc = await changes_of(stack, second)
    # GetChanges names a version (1 or more) or leaves it unset for the latest; 0 is refused.
    async with stack.alerts() as c:
        assert (await c.get_changes(second, doc.version)).envelope == doc.envelope
        assert await refused(c.get_changes(second, 0)) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            ["version"],
        )
    keys = {key_id(k): k for k in stack.app.keys.public_keys("signing")}
    body = verify_changes(doc.envelope, keys).document
    assert doc.previous_verification_id == first and doc.household_figures_compared
    assert body["previous"]["verification_id"] == first
    codes = set(doc.codes)
    assert {
        ChangeCode.INCOME_ABOVE_DIBAO_STANDARD,
        ChangeCode.VEHICLE_ADDED,
        ChangeCode.HUKOU_CANCELLED,
    } <= codes, codes
    # The death is the member's 户籍 cancelled (注销, 死亡), not their leaving the 户口簿.
    (death,) = [c for c in body["changes"] if c["code"] == ChangeCode.HUKOU_CANCELLED]
    assert death["cancel_reason"] == "death" and death["member"]["index_after"] == 1
    assert ChangeCode.HUKOU_MEMBER_REMOVED not in codes
    # The report counts the dead member no longer registered, and lists the cancellation
    # by member index and relation (never a name), its record as evidence.
    async with stack.checks() as checks:
        before, after = [
            verify_envelope((await checks.report(v)).envelope, keys).document
            for v in (first, second)
        ]
    size = len(changing.members)
    assert before["aggregates"]["household_size_registered"] == size
    assert after["aggregates"]["household_size_registered"] == size - 1
    (cancelled,) = [d for d in after["discrepancies"] if d["kind"] == "registration_cancelled"]
    assert cancelled["category"] == "death" and "户籍已注销：死亡" in cancelled["text"]
    assert cancelled["text"].startswith("申报的家庭成员 1（")
    assert [e["member"] for e in cancelled["evidence"]] == [1]
    assert not [d for d in before["discrepancies"] if d["kind"] == "registration_cancelled"]
    # The changed household: one alert per code, on the region's terms.
    raised = await alerts_of(stack, doc.household_ref)
    by_reason = {a.reason: a for a in raised}
    assert set(by_reason) == codes and len(raised) == len(codes)
    income = by_reason[ChangeCode.INCOME_ABOVE_DIBAO_STANDARD]
    assert income.risk_level == pb.RISK_LEVEL_HIGH and income.HasField("act_by_date")
    assert by_reason[ChangeCode.VEHICLE_ADDED].risk_level == pb.RISK_LEVEL_MEDIUM
    assert by_reason[ChangeCode.HUKOU_CANCELLED].risk_level == pb.RISK_LEVEL_HIGH
    assert all(a.verification_id == second and a.kind == pb.ALERT_KIND_CHANGE for a in raised)
    details = json.loads(income.details_json)
    assert details["change_document"]["envelope_sha256"] == doc.envelope_sha256
    assert details["basis"]["risk"]["status"] == "example"
    # Each alert has its webhook event, committed with it.
    async with stack.app.store.unit_of_work(write=False) as uow:
        for a in raised:
            event = await uow.outbox.get(OutboxEvent.derive_id(EventType.ALERT_RAISED, a.alert_id))
            assert event is not None and event.data_dict()["verification_id"] == second

    # The unchanged household: an empty document, no alert.
    steady_doc = await changes_of(stack, steady_second)
    assert steady_doc.previous_verification_id == steady_first
    assert list(steady_doc.codes) == [] and steady_doc.household_figures_compared
    assert await alerts_of(stack, steady_doc.household_ref) == []

    # Nothing personal in any table or in the audit log.
    people = [*changing.members, *steady.members]
    scanner = PiiScanner([p.id_number for p in people], [p.name for p in people])
    assert isinstance(stack.app.store, SqlStore)
    assert_clean(await scanner.database(stack.app.store.db))
    assert_clean(await scanner.audit(stack.app.store.db))


async def test_a_member_moving_out_is_a_removal_from_the_hukou_not_a_cancellation(
    stack: Stack,
) -> None:
    moving = third_household()
    await stack.check(moving, "h3-1")
    event = {
        "id": "move-1",
        "type": "member_moved_out",
        "household": moving.household_id,
        "member": 1,
        "effective": "2025-09-30",
    }
    assert len((await stack.sandbox.apply_events([event])).applied) == 1
    doc = await changes_of(stack, await stack.check(moving, "h3-2"))
    codes = set(doc.codes)
    assert ChangeCode.HUKOU_MEMBER_REMOVED in codes and ChangeCode.HUKOU_CANCELLED not in codes
    raised = {a.reason: a for a in await alerts_of(stack, doc.household_ref)}
    assert set(raised) == codes
    assert raised[ChangeCode.HUKOU_MEMBER_REMOVED].risk_level == pb.RISK_LEVEL_MEDIUM
