"""`hedui roster import FILE [--partial] | list | show REF | due | remove REF --reason R |
recheck REF --region R [--urgent]`.

``import`` reads the whole file first and names every bad row with its line and field;
a file with a bad row imports nothing unless ``--partial``. The good entries go to the
server in requests of at most 500: all of them are first checked by the server with
``validate_only`` (roles, regions), so a refusal there also imports nothing; then they
are imported, with a progress bar. Importing the same file again changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from hedui.v1 import roster_pb2 as pb
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from verifier.api.roster_files import (
    FileEntry,
    FileProblem,
    RosterFileError,
    chunks,
    read_roster_file,
)
from verifier.api.roster_translate import CLASSES, CLASSES_TO_PB, date_pb
from verifier.api.translate import PURPOSES, PURPOSES_TO_PB
from verifier.cli.commands import Subparsers, command, group
from verifier.cli.consent_cmds import add_client_arguments, client_for
from verifier.config import Config
from verifier.domain.household import Purpose
from verifier.domain.roster import CLASS_LABELS, RosterClass, china_date

console = Console()
err = Console(stderr=True)

CHUNK = 500
STATE_LABELS = {
    pb.RECHECK_STATE_NOT_DUE: "未到期",
    pb.RECHECK_STATE_DUE: "待复核",
    pb.RECHECK_STATE_RUNNING: "复核中",
    pb.RECHECK_STATE_REAUTHORIZATION_NEEDED: "需重新授权",
    pb.RECHECK_STATE_NO_CYCLE: "无复核周期",
    pb.RECHECK_STATE_FAILED: "未能发起",
}
_ENTRY_FIELD = re.compile(r"entries\[([0-9]+)\]\.(.+)")


def _violations(exc: grpc.aio.AioRpcError) -> list[tuple[str, str]]:
    status = rpc_status.from_call(exc)
    out: list[tuple[str, str]] = []
    for detail in status.details if status else ():
        br = error_details_pb2.BadRequest()
        if detail.Unpack(br):
            out += [(v.field, v.description) for v in br.field_violations]
    return out


def _on_lines(chunk: Sequence[FileEntry], field: str, description: str) -> FileProblem:
    """A server violation ``entries[i].path`` as the file's line and field."""
    m = _ENTRY_FIELD.fullmatch(field)
    if m is None or int(m.group(1)) >= len(chunk):
        return FileProblem(0, field, description)
    fe = chunk[int(m.group(1))]
    return FileProblem(fe.line_of(m.group(2)), m.group(2), description)


def _refused(exc: grpc.aio.AioRpcError, chunk: Sequence[FileEntry]) -> None:
    err.print(f"[red]{exc.code().name}[/]: nothing was imported")
    found = _violations(exc)
    for f, d in found:
        err.print(f"  {_on_lines(chunk, f, d)}")
    if not found:
        err.print(f"  {exc.details()}")


async def _import(args: argparse.Namespace, good: list[FileEntry]) -> int:
    parts = chunks(good, CHUNK)
    totals = {"created": 0, "updated": 0, "unchanged": 0, "without_cycle": 0, "rejected": 0}
    async with client_for(args) as client:
        with Progress(console=err, transient=True) as progress:
            for phase, validate_only in (("检查", True), ("导入", False)):
                task = progress.add_task(phase, total=len(good))
                for part in parts:
                    req = pb.ImportRosterRequest(
                        entries=[fe.entry for fe in part],
                        partial=args.partial,
                        validate_only=validate_only,
                    )
                    try:
                        resp = await client.import_roster(req)
                    except grpc.aio.AioRpcError as exc:
                        progress.stop()
                        _refused(exc, part)
                        return 1
                    for r in resp.rejected:
                        for v in r.violations:
                            where = f"entries[{r.index}].{v.field}"
                            err.print(f"  {_on_lines(part, where, v.description)}")
                    if not validate_only:
                        totals["created"] += resp.created
                        totals["updated"] += resp.updated
                        totals["unchanged"] += resp.unchanged
                        totals["without_cycle"] += resp.without_cycle
                        totals["rejected"] += len(resp.rejected)
                    progress.advance(task, len(part))
    console.print(
        f"新增 {totals['created']}，更新 {totals['updated']}，未变 {totals['unchanged']}"
        + (f"，被拒 {totals['rejected']}" if totals["rejected"] else "")
    )
    if totals["without_cycle"]:
        console.print(
            f"[yellow]{totals['without_cycle']} 户所在地区未规定该类别的复核周期，不会自动复核[/]"
        )
    return 0


def roster_import(_cfg: Config, args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        read = read_roster_file(path.name, path.read_bytes())
    except OSError as exc:
        err.print(f"[red]cannot read {path}[/]: {exc.strerror}")
        return 2
    except RosterFileError as exc:
        err.print(f"[red]{path}[/]: {exc}")
        return 2
    for p in read.problems:
        err.print(f"  {p}")
    good = read.good
    if read.problems and not args.partial:
        err.print(
            f"[red]{len(read.problems)} problem(s) in {path.name}; nothing was imported[/]"
            " (--partial imports the good households and leaves the bad)"
        )
        return 1
    if not good:
        err.print(f"[red]no household to import in {path.name}[/]")
        return 1
    if read.problems:
        err.print(f"[yellow]{len(read.bad)} household(s) left out; importing {len(good)}[/]")
    return asyncio.run(_import(args, good))


def _due(e: pb.RosterEntry) -> str:
    if not e.HasField("next_due_date"):
        return "—"
    d = e.next_due_date
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def _class_label(value: int) -> str:
    cls = CLASSES.get(value)  # type: ignore[call-overload]
    return CLASS_LABELS[cls] if cls else "?"


def _entries_table(entries: Sequence[pb.RosterEntry], title: str) -> Table:
    t = Table(title=title)
    for column in ("地区", "户编号", "类别", "授权书", "上次核对", "下次到期", "状态"):
        t.add_column(column)
    for e in entries:
        last = "—"
        if e.HasField("last_check"):
            d = e.last_check.check_date
            last = f"{d.year:04d}-{d.month:02d}-{d.day:02d}"
        state = STATE_LABELS.get(e.recheck_state, "?")
        if e.overdue:
            state = f"[red]逾期[/] {state}"
        t.add_row(
            e.region_code,
            e.household_ref,
            _class_label(e.roster_class),
            e.authorization_number,
            last,
            _due(e),
            state,
        )
    return t


async def _list(args: argparse.Namespace, req: pb.ListRosterEntriesRequest, title: str) -> int:
    shown: list[pb.RosterEntry] = []
    async with client_for(args) as client:
        try:
            while True:
                resp = await client.list_roster(req)
                shown += resp.entries
                if not resp.next_page_token or not args.all:
                    break
                req.page_token = resp.next_page_token
        except grpc.aio.AioRpcError as exc:
            err.print(f"[red]{exc.code().name}[/]: {exc.details()}")
            return 1
    console.print(_entries_table(shown, title))
    if resp.next_page_token:
        console.print("more entries match: --all lists every page")
    return 0


def _list_request(args: argparse.Namespace) -> pb.ListRosterEntriesRequest:
    req = pb.ListRosterEntriesRequest(region_code=args.region or "", page_size=args.page_size)
    if getattr(args, "program", None):
        req.program = PURPOSES_TO_PB[Purpose(args.program)]
    if getattr(args, "roster_class", None):
        req.roster_class = CLASSES_TO_PB[RosterClass(args.roster_class)]
    return req


def roster_list(_cfg: Config, args: argparse.Namespace) -> int:
    req = _list_request(args)
    if args.due_before:
        try:
            req.due_before.CopyFrom(date_pb(date.fromisoformat(args.due_before)))
        except ValueError:
            err.print("[red]--due-before must be a date YYYY-MM-DD[/]")
            return 2
    req.overdue = args.overdue
    return asyncio.run(_list(args, req, "在册对象"))


def roster_due(_cfg: Config, args: argparse.Namespace) -> int:
    """Due and overdue households: due on or before today (+ --within days), China time."""
    req = _list_request(args)
    until = china_date(datetime.now(UTC)) + timedelta(days=args.within)
    req.due_before.CopyFrom(date_pb(until))
    return asyncio.run(_list(args, req, f"{until.isoformat()} 前到期和逾期的复核"))


def _show(e: pb.RosterEntry) -> None:
    console.print(_entries_table([e], f"在册对象 {e.region_code}/{e.household_ref}"))
    programs = [PURPOSES[p].value for p in e.programs if p in PURPOSES]
    console.print(f"案件 {e.case_ref}；救助项目 {', '.join(programs)}；户内 {e.member_count} 人")
    if e.HasField("cycle"):
        kind = "示例值" if e.cycle.example else e.cycle.reference
        console.print(f"复核周期 {e.cycle.months} 个月（{kind}）")
    if e.recheck_reason:
        console.print(f"原因 {e.recheck_reason}")
    t = Table(title="家庭成员（已脱敏）")
    for column in ("姓名", "证件号", "关系"):
        t.add_column(column)
    for m in e.members:
        t.add_row(m.name, m.id_number, str(m.relation))
    console.print(t)


def roster_show(_cfg: Config, args: argparse.Namespace) -> int:
    async def run() -> int:
        async with client_for(args) as client:
            try:
                entry = await client.get_roster_entry(args.ref, args.region or "")
            except grpc.aio.AioRpcError as exc:
                err.print(f"[red]{exc.code().name}[/]: {exc.details()}")
                return 1
        _show(entry)
        return 0

    return asyncio.run(run())


def roster_remove(_cfg: Config, args: argparse.Namespace) -> int:
    async def run() -> int:
        async with client_for(args) as client:
            try:
                entry = await client.remove_roster_entry(args.ref, args.region, args.reason)
            except grpc.aio.AioRpcError as exc:
                err.print(f"[red]{exc.code().name}[/]: {exc.details()}")
                return 1
        console.print(f"removed {entry.region_code}/{entry.household_ref}")
        return 0

    return asyncio.run(run())


def roster_recheck(_cfg: Config, args: argparse.Namespace) -> int:
    # A fresh request id makes each run a new re-check; the one printed lets a run whose
    # answer was lost be repeated as the same re-check.
    request_id = args.request_id or f"recheck-now-{uuid.uuid4().hex}"

    async def run() -> int:
        async with client_for(args) as client:
            try:
                resp = await client.recheck_roster_entry(
                    args.ref, args.region, request_id, urgent=args.urgent
                )
            except grpc.aio.AioRpcError as exc:
                err.print(f"[red]{exc.code().name}[/]: {exc.details()}")
                return 1
        e = resp.entry
        again = " (this request's earlier re-check)" if resp.replayed else ""
        console.print(f"re-check of {e.region_code}/{e.household_ref} started{again}")
        console.print(f"verification {resp.verification_id}", soft_wrap=True)
        console.print(f"request id {request_id}", soft_wrap=True)
        return 0

    return asyncio.run(run())


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--region", help="region code or prefix (2, 4 or 6 digits)")
    p.add_argument("--program", choices=[x.value for x in Purpose])
    p.add_argument("--class", dest="roster_class", choices=[c.value for c in RosterClass])
    p.add_argument("--page-size", type=int, default=100)
    p.add_argument("--all", action="store_true", help="every page, not only the first")


def register(sub: Subparsers) -> None:
    """Add `roster import|list|show|due|remove|recheck` to the `hedui` parser."""
    ros = group(sub, "roster", "recipient roster (在册对象) and re-checks")
    i = command(
        ros, "import", roster_import, "import a roster file (.csv or .jsonl; docs/roster.md)"
    )
    i.add_argument("file")
    i.add_argument(
        "--partial", action="store_true", help="import the good households, name the bad"
    )
    add_client_arguments(i)
    ls = command(ros, "list", roster_list, "roster entries matching filters")
    _filters(ls)
    ls.add_argument("--due-before", help="due on or before this day (YYYY-MM-DD)")
    ls.add_argument("--overdue", action="store_true", help="past due without a check")
    add_client_arguments(ls)
    s = command(ros, "show", roster_show, "one entry with its household (masked)")
    s.add_argument("ref")
    s.add_argument("--region", help="needed when the reference is in two of your regions")
    add_client_arguments(s)
    d = command(ros, "due", roster_due, "households due (and overdue) for re-check")
    _filters(d)
    d.add_argument("--within", type=int, default=0, help="also those due in so many days")
    add_client_arguments(d)
    r = command(ros, "remove", roster_remove, "remove an entry (no more re-checks), with a reason")
    r.add_argument("ref")
    r.add_argument("--region", required=True)
    r.add_argument("--reason", required=True)
    add_client_arguments(r)
    n = command(ros, "recheck", roster_recheck, "re-check an entry now, out of its cycle")
    n.add_argument("ref")
    n.add_argument("--region", required=True)
    n.add_argument("--urgent", action="store_true", help="in the urgent lane (急难)")
    n.add_argument(
        "--request-id", help="repeat an earlier run as the same re-check (it prints its id)"
    )
    add_client_arguments(n)
