"""The monitoring demo's steps, in order: the roster, the first re-check, a life event,
re-check now, the change documents, the alerts, the webhooks, the alert worked, and
the last report and change document verified."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from hedui.v1 import alerts_pb2 as alerts_pb
from rich.table import Table

from hedui_sdk.sandbox import EventsRefused
from verifier.api.client import consent_from_json
from verifier.cli.demo_monitoring_receiver import StepFailed
from verifier.cli.demo_monitoring_walk import (
    INCOME_CODES,
    REGION,
    RESOLVE_NOTE,
    ROSTER_CLASS,
    VEHICLE_CODE,
    Walk,
    console,
    day,
    household_ref,
    last_check_one_cycle_ago,
    passed,
    roster_csv,
    word,
)
from verifier.cli.offline import verify_file
from verifier.cli.runtime import consent_doc
from verifier.domain.roster import due_after
from verifier.policy.recheck import recheck_cycle
from verifier.signing.changes import verify_changes
from verifier.signing.dsse import EnvelopeError
from verifier.signing.jwks import parse_jwks


async def walk(w: Walk, today: date) -> None:
    """Walk the roster through its cycle; StepFailed names the step that did not check out."""
    keys_path = w.run_dir / "keys.jwks.json"
    async with w.client() as c, w.alerts() as a:
        # 1. The roster and its 授权书.
        console.rule("1. the roster: households and their 授权书")
        for doc in w.docs:
            reg = await c.register_consent(consent_from_json(consent_doc(doc, today)))
            console.print(
                f"  授权书 {reg.consent.number}: {len(reg.consent.subjects)} people,"
                f" {len(reg.consent.signatories)} signatures, programs"
                f" {', '.join(word(p, 'PURPOSE_') for p in doc['purposes'])}"
            )
        cycle = recheck_cycle(REGION, ROSTER_CLASS, today, today)
        if cycle is None:
            raise StepFailed(f"region {REGION} states no re-check cycle for {ROSTER_CLASS}")
        last = last_check_one_cycle_ago(today, cycle.months)
        console.print(
            f"  the case system last checked them on {last} (低保 A 类: every {cycle.months}"
            f" months, {cycle.reference}), so this cycle is due on {due_after(last, cycle.months)}"
        )
        text = roster_csv(w.docs, last)
        await w.import_roster(c, text, w.run_dir / "roster.csv")
        passed("roster imported (checked first with validate_only)")
        w.summary["households"] = [household_ref(d) for d in w.docs]

        # 2. The first re-check, by the server's scheduler.
        console.rule("2. the first re-check (the server's scheduler, batch lane)")
        first = await w.rechecked(c, {})
        passed(f"{len(first)} households re-checked once each; next due a cycle on")
        w.summary["first_rechecks"] = first

        # 3. A life event.
        console.rule("3. a life event in the sandbox")
        changing = w.docs[0]
        sb_id = str(changing["case_id"]).removeprefix("DEMO-")
        as_of = w.sandbox.population.as_of
        effective = (as_of.replace(day=1) - timedelta(days=120)).replace(day=1)
        events: list[dict[str, Any]] = [
            {
                "id": "demo-pay-rise",
                "type": "income_change",
                "household": sb_id,
                "member": 0,
                "effective": effective.isoformat(),
                "stream": "wages",
                "amount_fen": 1_500_000,
            },
            {
                "id": "demo-new-car",
                "type": "new_vehicle",
                "household": sb_id,
                "member": 0,
                "effective": effective.isoformat(),
                "kind": "car",
                "value_fen": 9_000_000,
            },
        ]
        try:
            outcome = await w.sandbox.apply_events(events)
        except EventsRefused as exc:
            raise StepFailed(f"the sandbox refused the life events: {exc}") from None
        console.print(
            f"  household {sb_id}: the applicant's wage becomes 15,000.00 元 a month from"
            f" {effective}, and a car (90,000.00 元) is registered"
        )
        passed(f"sandbox events applied: {', '.join(outcome.applied)}")

        # 4. The next re-check.
        console.rule("4. re-check now (staff, out of cycle)")
        console.print(
            "  The next cycle is a year away; staff who learn of a change ask for a"
            " re-check now (hedui roster recheck): the scheduler's machinery runs it at"
            " once, over the 12 months before this month, as this cycle's was."
        )
        for doc in w.docs:
            ref = household_ref(doc)
            asked = await c.recheck_roster_entry(ref, REGION, f"demo-recheck-{ref}")
            console.print(f"  {ref}: re-check {asked.verification_id} started")
        second = await w.rechecked(c, first)
        passed("every household re-checked again, once each, at staff's request")
        w.summary["second_rechecks"] = second

        # 5. Changes between the checks.
        console.rule("5. changes between the checks (signed change documents)")
        trusted = parse_jwks((await c.jwks()).encode())
        keys_path.write_text(await c.jwks())
        docs: dict[str, alerts_pb.ChangeDocument] = {}
        table = Table("household", "previous", "current", "codes", "signed by")
        for doc in w.docs:
            ref = household_ref(doc)
            found = await w.changes(a, second[ref], doc is changing)
            try:
                verified = verify_changes(found.envelope, trusted)
            except EnvelopeError as exc:
                raise StepFailed(f"{ref}: change document does not verify: {exc}") from None
            if found.previous_verification_id != first[ref]:
                raise StepFailed(f"{ref}: compared with another check than its first re-check")
            docs[ref] = found
            table.add_row(
                ref,
                f"{found.previous_verification_id[:8]}… v{found.previous_version}",
                f"{found.verification_id[:8]}… v{found.version}",
                ", ".join(found.codes) or "(no change)",
                f"{verified.key_id[:16]}…",
            )
        console.print(table)
        changed_ref = household_ref(changing)
        steady = [r for r in docs if r != changed_ref]
        if any(docs[r].codes for r in steady):
            raise StepFailed("a household without a life event shows changes")
        (w.run_dir / "changes.dsse.json").write_bytes(docs[changed_ref].envelope)
        w.summary["changed_household"] = changed_ref
        w.summary["codes"] = {r: list(d.codes) for r, d in docs.items()}
        passed(
            f"{changed_ref}: {', '.join(docs[changed_ref].codes)}; the others unchanged;"
            " every document's DSSE signature verifies against the server's JWKS"
        )

        # 6. The alerts raised.
        console.rule("6. alerts (监测预警)")
        raised = await a.list_alerts(
            alerts_pb.ListAlertsRequest(household_ref=docs[changed_ref].household_ref)
        )
        table = Table("alert", "reason", "risk", "act by", "state")
        for al in raised.alerts:
            table.add_row(
                al.alert_id,
                f"{al.reason} {al.reason_label}",
                alerts_pb.RiskLevel.Name(al.risk_level).removeprefix("RISK_LEVEL_").lower(),
                day(al.act_by_date),
                alerts_pb.AlertState.Name(al.state).removeprefix("ALERT_STATE_").lower(),
            )
        console.print(table)
        by_reason = {al.reason: al for al in raised.alerts}
        income = next((by_reason[c] for c in INCOME_CODES if c in by_reason), None)
        if income is None or VEHICLE_CODE not in by_reason:
            raise StepFailed("no alert for the income crossing a line, or none for the car")
        for r in steady:
            quiet = await a.list_alerts(
                alerts_pb.ListAlertsRequest(household_ref=docs[r].household_ref)
            )
            if quiet.alerts:
                raise StepFailed(f"{r}: alerts raised for a household that did not change")
        risk = alerts_pb.RiskLevel.Name(income.risk_level).removeprefix("RISK_LEVEL_").lower()
        w.summary["alerts"] = sorted(al.reason for al in raised.alerts)
        passed(
            f"alert {income.alert_id} raised ({income.reason}, {risk} risk) and one per other"
            " code; none for the households that did not change"
        )

        # 7. The webhooks the case system received.
        console.rule("7. webhooks received (Standard Webhooks, verified, deduplicated)")
        vid = second[changed_ref]
        got = [
            await w.receiver.wait_for(
                lambda e: (
                    e.get("type") == "report.issued" and e["data"].get("verification_id") == vid
                ),
                "report.issued",
            ),
            await w.receiver.wait_for(
                lambda e: (
                    e.get("type") == "alert.raised" and e["data"].get("alert_id") == income.alert_id
                ),
                "alert.raised",
            ),
        ]
        table = Table("webhook-id", "type", "data", "deliveries", "processed")
        for wid, event in got:
            data = {k: v for k, v in event["data"].items() if k != "envelope_sha256"}
            table.add_row(
                wid, event["type"], json.dumps(data), str(w.receiver.deliveries[wid]), "once"
            )
        console.print(table)
        w.summary["webhooks"] = [
            {"webhook_id": wid, "type": e["type"], "deliveries": w.receiver.deliveries[wid]}
            for wid, e in got
        ]
        w.summary["webhooks_refused"] = w.receiver.refused
        if w.receiver.refused:
            raise StepFailed(f"{w.receiver.refused} delivery(ies) failed signature checks")
        passed(
            "report.issued and alert.raised received, signatures verified;"
            f" {len(w.receiver.events)} distinct events in all,"
            f" {sum(w.receiver.deliveries.values())} deliveries"
        )

        # 8. Staff work the alert.
        console.rule("8. the alert worked: acknowledged, resolved")
        acked = await a.acknowledge(income.alert_id, note="已受理，安排入户核实")
        done = await a.resolve(
            alerts_pb.ResolveAlertRequest(
                alert_id=income.alert_id,
                resolution=alerts_pb.RESOLUTION_CONFIRMED,
                note=RESOLVE_NOTE,
            )
        )
        if (
            acked.state != alerts_pb.ALERT_STATE_ACKNOWLEDGED
            or done.state != alerts_pb.ALERT_STATE_RESOLVED
        ):
            raise StepFailed("the alert did not go open → acknowledged → resolved")
        shown = await a.get(income.alert_id)
        w.summary["resolved"] = {
            "alert_id": done.alert_id,
            "reason": done.reason,
            "resolution": alerts_pb.Resolution.Name(done.resolution),
            "history": [e.event for e in shown.history],
        }
        console.print(
            "  history: "
            + " → ".join(f"{e.event} ({e.actor_system}/{e.actor_user})" for e in shown.history)
        )
        passed(
            f"alert {income.alert_id} resolved:"
            f" {alerts_pb.Resolution.Name(done.resolution).removeprefix('RESOLUTION_').lower()}"
            f" (owner {done.owner})"
        )

        # 9. The last report.
        console.rule("9. verification")
        report = await c.report(vid)
        envelope_path = w.run_dir / "report.dsse.json"
        envelope_path.write_bytes(report.envelope)
        try:
            v = verify_file(envelope_path, keys_path)
        except EnvelopeError as exc:
            raise StepFailed(f"the last report does not verify: {exc}") from None
        passed(
            f"report {v.document.get('report_id')} v{v.document.get('version')} of {changed_ref}"
            f" verifies ({envelope_path.name}, keys {keys_path.name})"
        )
        verify_changes(
            (w.run_dir / "changes.dsse.json").read_bytes(), parse_jwks(keys_path.read_bytes())
        )
        passed(f"the change document verifies offline (changes.dsse.json, {keys_path.name})")
        w.summary["verified"] = ["report", "changes"]
