"""`hedui demo monitoring`: a roster walked through a re-check cycle, end to end.

Like ``hedui demo`` it runs the production path: the sandbox departments, a server on
the embedded default (SQLite, here under a fresh directory) reached over mTLS with the
real gRPC client, and beside them a webhook receiver that verifies every delivery with
the ``standardwebhooks`` library and deduplicates on ``webhook-id``.

The walk: a roster of sandbox households is imported with their 授权书; the server's own
re-check scheduler finds them due and re-checks them; a life event changes one household
in the sandbox; staff ask for a re-check now; the change document names the change,
the alert it raised reaches the receiver, staff resolve it; and the last report, the
change document and the whole audit log are verified.

How the households are checked again without waiting a year. The scheduler enqueues an
entry once its next due day has come (China's date). The first round is due because the
roster says when each household was last checked (one cycle ago, as a case system's
import does). After that round the next due day is a cycle away. A demo clock cannot
stand in for the year: the intake refuses a window that ends in the future, and the
sandbox holds 12 months of data, so a window a cycle later would find months without
records and report changes that never happened. So staff do what they do when they
learn of a change: they ask for a re-check now (``RecheckRosterEntry``), which the
scheduler's machinery runs at once over the 12 months before this month — the window of
this month's cycle — so the only differences the comparison can find are the life
event's.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import csv
import io
import json
import secrets
import socket
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import grpc
from aiohttp import web
from hedui.v1 import alerts_pb2 as alerts_pb
from hedui.v1 import roster_pb2 as roster_pb
from rich.table import Table
from standardwebhooks import Webhook, WebhookVerificationError

from hedui_sdk.sandbox import EventsRefused, SandboxHandle, start_sandbox
from verifier.api.alerts_client import AlertClient
from verifier.api.client import Client, consent_from_json
from verifier.api.roster_files import HOUSEHOLD_COLUMNS, MEMBER_COLUMNS, read_csv
from verifier.api.tls import server_credentials_for
from verifier.bootstrap import build_app, serve_app
from verifier.cli import runtime
from verifier.cli.audit_cmds import verify_async
from verifier.cli.certs import PkiError
from verifier.cli.offline import verify_file
from verifier.cli.runtime import DEMO_SYSTEM, consent_doc, household_doc
from verifier.config import (
    Config,
    Principal,
    RosterConfig,
    SubscriberConfig,
    WebhooksConfig,
    sandbox_sources,
)
from verifier.domain.roster import china_date, due_after
from verifier.domain.vocabulary import Role
from verifier.policy.recheck import recheck_cycle
from verifier.signing.changes import verify_changes
from verifier.signing.dsse import EnvelopeError
from verifier.signing.jwks import parse_jwks

__all__ = ["demo", "demo_monitoring"]

T = TypeVar("T")

console = runtime.console
err = runtime.err

REGION = "370322"
HOUSEHOLDS = 3
ROSTER_CLASS = "dibao_a"
WAIT_SECONDS = 120.0
SUBSCRIBER = "demo-receiver"
RESOLVE_NOTE = "入户核实：工资上涨属实，按程序调整待遇"
INCOME_CODES = (
    "INCOME_ABOVE_DIBAO_STANDARD",
    "INCOME_ABOVE_TAPER_CEILING",
    "INCOME_ABOVE_BIANYUAN_LINE",
)
"""Income rising across a line, in the order the demo resolves their alerts: which lines
a pay rise crosses depends on where the household stood (a recipient just above the
standard but under the 渐退 ceiling crosses that ceiling, not the standard)."""
VEHICLE_CODE = "VEHICLE_ADDED"
# The roster file's own columns: a household's up to its last check (no declared
# figures), a member's up to serious illness.
CSV_HEADER = (*HOUSEHOLD_COLUMNS[:8], *MEMBER_COLUMNS[:6])


class StepFailed(Exception):
    """A step did not check out; the message says which and why (never personal data)."""


# ---------------------------------------------------------------------- the receiver
@dataclass
class Receiver:
    """A case system's webhook endpoint: verifies each delivery's Standard Webhooks
    signature over the exact bytes received, and processes each ``webhook-id`` once."""

    secret: str
    deliveries: Counter[str] = field(default_factory=Counter)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    refused: int = 0
    port: int = 0
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hedui/webhooks", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        # Bound here, on a free loopback port, so the port is known before the server's
        # configuration names the URL.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        sock.setblocking(False)
        await web.SockSite(self._runner, sock).start()
        self.port = int(sock.getsockname()[1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            payload = Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.refused += 1
            return web.Response(status=401)
        wid = request.headers["webhook-id"]
        self.deliveries[wid] += 1
        if wid in self.events:
            return web.Response(status=200)  # a retry of one already processed
        self.events[wid] = payload
        async with self._changed:
            self._changed.notify_all()
        return web.Response(status=204)

    async def wait_for(
        self, match: Callable[[dict[str, Any]], bool], what: str
    ) -> tuple[str, dict[str, Any]]:
        """The first processed event ``match`` accepts, waiting for deliveries."""
        async with self._changed:
            try:
                async with asyncio.timeout(WAIT_SECONDS):
                    while True:
                        for wid, event in self.events.items():
                            if match(event):
                                return wid, event
                        await self._changed.wait()
            except TimeoutError:
                raise StepFailed(
                    f"no verified {what} webhook within {WAIT_SECONDS:.0f} s"
                ) from None


# ---------------------------------------------------------------------- helpers
def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def fresh_directory(out_dir: Path) -> Path:
    """A new directory for this run under ``out_dir``: its own database and keys."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return Path(tempfile.mkdtemp(prefix=f"run-{stamp}-", dir=out_dir))


def last_check_one_cycle_ago(today: date, months: int) -> date:
    """A last check a cycle ago whose cycle is due on or before ``today``, in this month
    when it can be (the sandbox's data ends with the previous month: the re-check's
    window, the 12 months before its due month, then matches it)."""
    this_month = today.year * 12 + today.month - 1
    for back in range(4):
        m = this_month - back - months
        last = date(m // 12, m % 12 + 1, 1)
        if due_after(last, months) <= today:
            return last
    return today - timedelta(days=31 * months + 31)


def _word(name: str, prefix: str) -> str:
    """A household file's enum name as the roster CSV's word: ``RELATION_SPOUSE`` → ``spouse``."""
    return name.removeprefix(prefix).lower()


def roster_csv(docs: list[dict[str, Any]], last_check: date) -> str:
    """The roster as a case system exports it (docs/roster.md, one row per member)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_HEADER)
    for doc in docs:
        for i, m in enumerate(doc["household"]["members"]):
            head = (
                [
                    doc["case_id"].removeprefix("DEMO-"),
                    doc["household"]["region_code"],
                    ROSTER_CLASS,
                    "dibao",
                    doc["authorization_id"],
                    doc["case_id"],
                    _word(doc["hukou_nature"], "HUKOU_NATURE_"),
                    last_check.isoformat(),
                ]
                if i == 0
                else [""] * 8
            )
            c = m.get("circumstances", {})
            w.writerow(
                [
                    *head,
                    _word(m["id_type"], "ID_TYPE_"),
                    m["id_number"],
                    m["name"],
                    _word(m["relation"], "RELATION_"),
                    str(c.get("disability_grade", 0)),
                    "true" if c.get("serious_illness") else "false",
                ]
            )
    return out.getvalue()


def household_ref(doc: dict[str, Any]) -> str:
    return str(doc["case_id"]).removeprefix("DEMO-")


def day(d: Any) -> str:
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}" if d.year else "—"


async def until(read: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Read again until ``read`` gives something: the scheduler, the change recorder and
    the webhook worker run in the server's background. Bounded."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = await read()
        if found is not None:
            return found
        await asyncio.sleep(0.2)
    raise StepFailed(f"{what}: not there after {WAIT_SECONDS:.0f} s")


def passed(text: str) -> None:
    console.print(f"[green]✓[/] {text}")


# ---------------------------------------------------------------------- the walk
@dataclass
class Walk:
    cfg: Config
    run_dir: Path
    sandbox: SandboxHandle
    target: str
    credentials: grpc.ChannelCredentials | None
    receiver: Receiver
    docs: list[dict[str, Any]]
    summary: dict[str, Any] = field(default_factory=dict)
    """What each step established, written to ``summary.json`` (no personal data)."""

    def client(self) -> Client:
        return Client(
            self.target,
            user="demo-caseworker",
            system=DEMO_SYSTEM if self.credentials is None else None,
            credentials=self.credentials,
        )

    def alerts(self) -> AlertClient:
        return AlertClient(
            self.target,
            user="demo-caseworker",
            system=DEMO_SYSTEM if self.credentials is None else None,
            credentials=self.credentials,
        )

    async def import_roster(self, c: Client, text: str, path: Path) -> None:
        path.write_text(text, encoding="utf-8")
        f = read_csv(text)
        if f.problems:
            raise StepFailed("roster file: " + "; ".join(str(p) for p in f.problems[:5]))
        entries = [e.entry for e in f.entries]
        await c.import_roster(roster_pb.ImportRosterRequest(entries=entries, validate_only=True))
        resp = await c.import_roster(roster_pb.ImportRosterRequest(entries=entries))
        console.print(
            f"  {path.name}: {len(entries)} households; created {resp.created},"
            f" updated {resp.updated}, unchanged {resp.unchanged}"
        )
        if resp.rejected:
            raise StepFailed(f"the server rejected {len(resp.rejected)} household(s)")

    async def rechecked(self, c: Client, before: dict[str, str]) -> dict[str, str]:
        """Wait until the scheduler has re-checked every household (a check other than
        ``before``'s) and show the roster; household_ref → verification id."""
        done: dict[str, roster_pb.RosterEntry] = {}
        for doc in self.docs:
            ref = household_ref(doc)

            async def read(ref: str = ref) -> roster_pb.RosterEntry | None:
                e = await c.get_roster_entry(ref, REGION)
                vid = e.last_check.verification_id
                return e if vid and vid != before.get(ref) else None

            done[ref] = await until(read, f"the re-check of {ref}")
        table = Table("household", "class", "re-check", "outcome", "next due", "state")
        for ref, e in done.items():
            table.add_row(
                ref,
                roster_pb.RosterClass.Name(e.roster_class).removeprefix("ROSTER_CLASS_"),
                e.last_check.verification_id,
                roster_pb.CheckOutcome.Name(e.last_check.outcome).removeprefix("CHECK_OUTCOME_"),
                day(e.next_due_date),
                roster_pb.RecheckState.Name(e.recheck_state).removeprefix("RECHECK_STATE_"),
            )
        console.print(table)
        for ref, e in done.items():
            if e.recheck_state != roster_pb.RECHECK_STATE_NOT_DUE or e.overdue:
                raise StepFailed(f"{ref}: still due after its re-check")
        return {ref: e.last_check.verification_id for ref, e in done.items()}

    async def changes(self, a: AlertClient, vid: str, changed: bool) -> alerts_pb.ChangeDocument:
        """The change document of ``vid`` that compared the household figures (once the
        late sources have answered); for the changed household, the one that names the
        car and an income line crossed."""

        async def read() -> alerts_pb.ChangeDocument | None:
            page = await a.list_changes(alerts_pb.ListChangesRequest(verification_id=vid))
            for d in page.changes:
                codes = set(d.codes)
                if d.household_figures_compared and (
                    not changed or (VEHICLE_CODE in codes and codes & set(INCOME_CODES))
                ):
                    return d
            return None

        return await until(read, f"the change document of {vid}")


async def _walk(w: Walk, today: date) -> None:
    keys_path = w.run_dir / "keys.jwks.json"
    async with w.client() as c, w.alerts() as a:
        # 1. The roster and its 授权书.
        console.rule("1. the roster: households and their 授权书")
        for doc in w.docs:
            reg = await c.register_consent(consent_from_json(consent_doc(doc, today)))
            console.print(
                f"  授权书 {reg.consent.number}: {len(reg.consent.subjects)} people,"
                f" {len(reg.consent.signatories)} signatures, programs"
                f" {', '.join(_word(p, 'PURPOSE_') for p in doc['purposes'])}"
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


def demo_config(cfg: Config, run_dir: Path, sandbox_port: int, receiver: Receiver) -> Config:
    """The embedded default, its database and keys in ``run_dir``, the sandbox's sources,
    a scheduler and a webhook worker that do not keep the demo waiting."""
    return replace(
        cfg,
        database_url=f"sqlite:///{run_dir / 'hedui.db'}",
        keys_dir=run_dir / "keys",
        sources=sandbox_sources(sandbox_port),
        listen="127.0.0.1:0",
        principals={DEMO_SYSTEM: Principal(DEMO_SYSTEM, tuple(Role), (REGION[:2],))},
        poll_interval=0.2,
        # Re-checks are recorded for the system that imported the roster (the demo's case
        # system), which fetches the report the report.issued webhook tells it of.
        roster=RosterConfig(scheduler=True, interval=0.2, lease_seconds=60),
        webhooks=WebhooksConfig(
            subscribers={
                SUBSCRIBER: SubscriberConfig(
                    name=SUBSCRIBER,
                    url=f"http://127.0.0.1:{receiver.port}/hedui/webhooks",
                    events=("report.issued", "alert.raised"),
                    # By value: the secret lives only in this process, for this run.
                    secrets=(f"value:{receiver.secret}",),
                )
            },
            interval_seconds=0.2,
        ),
    )


async def demo_monitoring(cfg: Config, out_dir: Path, seed: int, *, plaintext: bool = False) -> int:
    run_dir = fresh_directory(out_dir)
    console.rule("hedui demo monitoring")
    console.print(f"run directory: {run_dir}")
    try:
        tls, client_creds = runtime._demo_transport(run_dir, plaintext)
    except PkiError as exc:
        err.print(f"[red]cannot prepare the demo PKI[/]: {exc}")
        return 2
    ok = False
    summary: dict[str, Any] = {}
    async with contextlib.AsyncExitStack() as stack:
        sb = await start_sandbox(port=0, seed=seed)
        stack.push_async_callback(sb.stop)
        receiver = Receiver(new_secret())
        await receiver.start()
        stack.push_async_callback(receiver.stop)
        cfg = replace(demo_config(cfg, run_dir, sb.port, receiver), tls=tls)
        app = await build_app(cfg)
        stack.push_async_callback(app.aclose)
        server = await serve_app(
            app, cfg.listen, credentials=server_credentials_for(tls, cfg.listen)
        )
        stack.push_async_callback(server.stop)
        console.print(
            f"sandbox: {len(sb.population.all_households)} synthetic households on port"
            f" {sb.port}, data to {sb.population.as_of}"
        )
        console.print(
            f"server: gRPC on port {server.port} over"
            f" {'PLAINTEXT' if client_creds is None else 'mTLS'}; database {cfg.database_url};"
            " re-check scheduler, change recorder and webhook worker running"
        )
        console.print(
            f"webhook receiver: http://127.0.0.1:{receiver.port}/hedui/webhooks"
            " (standardwebhooks verify, dedup by webhook-id)"
        )
        docs = [household_doc(sb.population, REGION, i) for i in range(HOUSEHOLDS)]
        walk = Walk(cfg, run_dir, sb, f"127.0.0.1:{server.port}", client_creds, receiver, docs)
        summary = walk.summary
        today = china_date(datetime.now(UTC))
        try:
            await _walk(walk, today)
            ok = True
        except StepFailed as exc:
            err.print(f"[red]✗ {exc}[/]")
        except grpc.aio.AioRpcError as exc:
            err.print(f"[red]✗ {exc.code().name}[/]: {exc.details()}")

    log = await verify_async(cfg, quiet=True)
    if log.ok:
        passed(
            f"audit log verifies: {log.entries} entries, chain, Merkle tree and"
            f" {log.checkpoints} signed checkpoint(s)"
        )
    else:
        err.print(f"[red]✗ audit log broken[/] at seq {log.first_bad_seq}: {log.problem}")
    summary["audit_log"] = {"ok": log.ok, "entries": log.entries}
    summary["ok"] = ok and log.ok
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if ok and log.ok:
        console.print("[green]monitoring demo: every step checked out[/]")
        return 0
    err.print("[red]monitoring demo: a step failed (above)[/]")
    return 1


def demo(cfg: Config, args: argparse.Namespace) -> int:
    """``hedui demo [monitoring]``: the one-household demo, or this walk."""
    if getattr(args, "scenario", None) != "monitoring":
        return runtime.demo(cfg, args)
    plaintext = bool(getattr(args, "insecure_plaintext", False))
    out_dir = Path(args.out_dir) / "monitoring"
    return asyncio.run(demo_monitoring(cfg, out_dir, args.seed, plaintext=plaintext))
