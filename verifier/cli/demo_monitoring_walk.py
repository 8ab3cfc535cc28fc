"""The monitoring demo's walk and what it prints: the roster file it imports, its
clients, its waits for the server's background work, and its tables and ticks."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import grpc
from hedui.v1 import alerts_pb2 as alerts_pb
from hedui.v1 import roster_pb2 as roster_pb
from rich.table import Table

from hedui_sdk.sandbox import SandboxHandle
from verifier.api.alerts_client import AlertClient
from verifier.api.channel import Connection
from verifier.api.client import Client
from verifier.api.roster_files import HOUSEHOLD_COLUMNS, MEMBER_COLUMNS, read_csv
from verifier.cli import runtime
from verifier.cli.demo_monitoring_receiver import WAIT_SECONDS, Receiver, StepFailed
from verifier.cli.runtime import DEMO_SYSTEM
from verifier.config import Config
from verifier.domain.roster import due_after

T = TypeVar("T")
C = TypeVar("C", bound=Connection)

console = runtime.console

REGION = "370322"
HOUSEHOLDS = 3
ROSTER_CLASS = "dibao_a"
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


def word(name: str, prefix: str) -> str:
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
                    word(doc["hukou_nature"], "HUKOU_NATURE_"),
                    last_check.isoformat(),
                ]
                if i == 0
                else [""] * 8
            )
            c = m.get("circumstances", {})
            w.writerow(
                [
                    *head,
                    word(m["id_type"], "ID_TYPE_"),
                    m["id_number"],
                    m["name"],
                    word(m["relation"], "RELATION_"),
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

    def _connect(self, kind: type[C]) -> C:
        """A connection as the demo's caseworker; over plaintext it names the demo's system
        itself (over mTLS its certificate does)."""
        return kind(
            self.target,
            user="demo-caseworker",
            system=DEMO_SYSTEM if self.credentials is None else None,
            credentials=self.credentials,
        )

    def client(self) -> Client:
        return self._connect(Client)

    def alerts(self) -> AlertClient:
        return self._connect(AlertClient)

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
