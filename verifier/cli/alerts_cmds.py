"""`hedui alerts list | show ID | ack ID | assign ID OWNER | resolve ID --outcome O |
import-warnings FILE | changes VERIFICATION_ID`.

``import-warnings`` reads the whole file first (protobuf's canonical JSON mapping of
``hedui.v1.ExternalWarning``, one warning a line) and names every line that does not
parse. The warnings go to the server in requests of at most 1000: every request is first
checked with ``validate_only`` (every row, the role, the regions), so a bad row anywhere
imports nothing; then they are imported, with a progress bar. Importing the same file
again raises nothing new.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.rpc import error_details_pb2
from google.type import date_pb2
from grpc_status import rpc_status
from hedui.v1 import alerts_pb2 as pb
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from verifier.api.alerts_client import AlertClient, WarningFileError, warnings_from_lines
from verifier.cli.commands import Subparsers, command, group
from verifier.cli.consent_cmds import add_client_arguments, connect
from verifier.config import Config

console = Console()
err = Console(stderr=True)
T = TypeVar("T")

CHUNK = 1000
STATES = {
    "open": pb.ALERT_STATE_OPEN,
    "acknowledged": pb.ALERT_STATE_ACKNOWLEDGED,
    "resolved": pb.ALERT_STATE_RESOLVED,
}
RISKS = {"high": pb.RISK_LEVEL_HIGH, "medium": pb.RISK_LEVEL_MEDIUM, "low": pb.RISK_LEVEL_LOW}
KINDS = {
    "change": pb.ALERT_KIND_CHANGE,
    "warning": pb.ALERT_KIND_WARNING,
    "reauthorization": pb.ALERT_KIND_REAUTHORIZATION,
    "outreach": pb.ALERT_KIND_OUTREACH,
}
OUTCOMES = {
    "confirmed": pb.RESOLUTION_CONFIRMED,
    "no-change": pb.RESOLUTION_NO_CHANGE,
    "referred": pb.RESOLUTION_REFERRED,
}
PROGRAMS = {
    name.removeprefix("REFERRAL_PROGRAM_").lower(): number
    for name, number in pb.ReferralProgram.items()
    if number
}
STATE_LABELS = {v: k for k, v in STATES.items()}
RISK_LABELS = {pb.RISK_LEVEL_HIGH: "高", pb.RISK_LEVEL_MEDIUM: "中", pb.RISK_LEVEL_LOW: "低"}
KIND_LABELS = {
    pb.ALERT_KIND_CHANGE: "变化",
    pb.ALERT_KIND_WARNING: "部门预警",
    pb.ALERT_KIND_REAUTHORIZATION: "需重新授权",
    pb.ALERT_KIND_OUTREACH: "走访台账",
}
_ROW = re.compile(r"warnings\[([0-9]+)\]\.(.+)")


def client_for(args: argparse.Namespace) -> AlertClient:
    return connect(args, AlertClient)


def _violations(exc: grpc.aio.AioRpcError) -> list[tuple[str, str]]:
    status = rpc_status.from_call(exc)
    out: list[tuple[str, str]] = []
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            br = error_details_pb2.BadRequest()
            detail.Unpack(br)
            out += [(v.field, v.description) for v in br.field_violations]
    return out


def _refusal(exc: grpc.aio.AioRpcError, where: Callable[[str], str] = lambda f: f) -> None:
    err.print(f"[red]{exc.code().name}[/]: {exc.details()}")
    for field, description in _violations(exc):
        err.print(f"  {where(field)}: {description}")


def call(args: argparse.Namespace, work: Callable[[AlertClient], Awaitable[T]]) -> T | None:
    async def run() -> T | None:
        async with client_for(args) as client:
            try:
                return await work(client)
            except grpc.aio.AioRpcError as exc:
                _refusal(exc)
                return None

    return asyncio.run(run())


def _when(ts: Any) -> str:
    return ts.ToDatetime().strftime("%Y-%m-%d %H:%M") if ts.seconds else ""


def _day(d: date_pb2.Date) -> str:
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}" if d.year else "无期限"


def show_alert(a: pb.Alert) -> None:
    overdue = " [red]逾期[/]" if a.overdue else ""
    console.print(
        f"[bold]{a.alert_id}[/] {KIND_LABELS.get(a.kind, '')} {a.reason}（{a.reason_label}）"
        f" 风险{RISK_LABELS.get(a.risk_level, '')} {STATE_LABELS.get(a.state, '')}{overdue}"
    )
    console.print(
        f"区域 {a.region_code}；处置时限 {_day(a.act_by_date)}；负责人 {a.owner or '未分配'}"
    )
    if a.household_ref:
        console.print(f"家庭 {a.household_ref[:16]}…")
    if a.verification_id:
        console.print(f"核对 {a.verification_id} 第 {a.report_version} 版报告")
    if a.HasField("person"):
        console.print(f"人员 {a.person.name_masked} {a.person.id_number_masked}")
    if a.resolution:
        program = pb.ReferralProgram.Name(a.referred_program) if a.referred_program else ""
        console.print(f"处置结果 {pb.Resolution.Name(a.resolution)} {program}")
    details = json.loads(a.details_json or "{}")
    basis = details.get("basis", {})
    if "risk" in basis:
        console.print(f"依据 {basis['risk']['parameter']}：{basis['risk']['reference']}")
    elif "unparameterized" in basis:
        console.print(f"依据 {basis['unparameterized']}")
    for e in a.history:
        console.print(
            f"  {_when(e.event_time)} {e.event} {e.actor_system}/{e.actor_user} {e.detail}"
        )


def alerts_list(_cfg: Config, args: argparse.Namespace) -> int:
    req = pb.ListAlertsRequest(
        page_size=args.page_size,
        page_token=args.page_token,
        region_prefix=args.region,
        state=STATES.get(args.state, pb.ALERT_STATE_UNSPECIFIED),
        risk_level=RISKS.get(args.risk, pb.RISK_LEVEL_UNSPECIFIED),
        kind=KINDS.get(args.kind, pb.ALERT_KIND_UNSPECIFIED),
        owner=args.owner,
        household_ref=args.household,
    )
    if args.overdue:
        req.overdue = True
    for name in ("created_from", "created_to"):
        value = getattr(args, name)
        if value:
            getattr(req, name).CopyFrom(
                date_pb2.Date(year=value.year, month=value.month, day=value.day)
            )
    resp = call(args, lambda c: c.list_alerts(req))
    if resp is None:
        return 1
    t = Table(title="监测预警")
    t.add_column("预警", no_wrap=True, min_width=36)  # ids are copied into the next command
    for col in ("类型", "原因", "风险", "状态", "时限", "负责人"):
        t.add_column(col)
    for a in resp.alerts:
        t.add_row(
            a.alert_id,
            KIND_LABELS.get(a.kind, ""),
            a.reason_label,
            RISK_LABELS.get(a.risk_level, ""),
            STATE_LABELS.get(a.state, "") + (" 逾期" if a.overdue else ""),
            _day(a.act_by_date),
            a.owner,
        )
    console.print(t)
    if resp.next_page_token:
        console.print(f"next page: --page-token {resp.next_page_token}")
    return 0


def _single(args: argparse.Namespace, work: Callable[[AlertClient], Awaitable[pb.Alert]]) -> int:
    alert = call(args, work)
    if alert is None:
        return 1
    show_alert(alert)
    return 0


def alerts_show(_cfg: Config, args: argparse.Namespace) -> int:
    return _single(args, lambda c: c.get(args.alert_id))


def alerts_ack(_cfg: Config, args: argparse.Namespace) -> int:
    return _single(args, lambda c: c.acknowledge(args.alert_id, args.owner, args.note))


def alerts_assign(_cfg: Config, args: argparse.Namespace) -> int:
    return _single(args, lambda c: c.assign(args.alert_id, args.new_owner, args.note))


def alerts_resolve(_cfg: Config, args: argparse.Namespace) -> int:
    req = pb.ResolveAlertRequest(
        alert_id=args.alert_id,
        resolution=OUTCOMES[args.outcome],
        program=PROGRAMS.get(args.program or "", pb.REFERRAL_PROGRAM_UNSPECIFIED),
        note=args.note,
    )
    return _single(args, lambda c: c.resolve(req))


def alerts_changes(_cfg: Config, args: argparse.Namespace) -> int:
    doc = call(args, lambda c: c.get_changes(args.verification_id, args.version or None))
    if doc is None:
        return 1
    if args.out:
        Path(args.out).write_bytes(doc.envelope)
    compared = "已" if doc.household_figures_compared else "未"
    console.print(
        f"核对 {doc.verification_id} 第 {doc.version} 版 对比 {doc.previous_verification_id}"
        f" 第 {doc.previous_version} 版；家庭数据{compared}比较"
    )
    console.print(f"变化：{', '.join(doc.codes) or '无'}；签名 {doc.key_id[:16]}…")
    return 0


def import_warnings(_cfg: Config, args: argparse.Namespace) -> int:
    try:
        warnings = warnings_from_lines(Path(args.file).read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError) as exc:
        err.print(f"[red]cannot read the warning file[/]: {exc}")
        return 2
    except WarningFileError as exc:
        err.print(f"[red]{args.file}[/]: {exc}")
        return 2
    if not warnings:
        err.print(f"[red]{args.file}[/]: no warnings")
        return 2
    lines = _line_numbers(Path(args.file))
    chunks = [warnings[i : i + CHUNK] for i in range(0, len(warnings), CHUNK)]

    async def run() -> int:
        async with client_for(args) as client:
            for n, chunk in enumerate(chunks):
                try:
                    await client.import_warnings(chunk, validate_only=True)
                except grpc.aio.AioRpcError as exc:
                    _refusal(exc, lambda f, n=n: _line_of(f, n, lines))  # type: ignore[misc]
                    err.print("nothing was imported")
                    return 1
            totals = [0, 0, 0]
            with Progress(console=err) as progress:
                task = progress.add_task("importing warnings", total=len(warnings))
                for chunk in chunks:
                    try:
                        r = await client.import_warnings(chunk)
                    except grpc.aio.AioRpcError as exc:
                        _refusal(exc)
                        return 1
                    totals = [
                        totals[0] + r.alerts_raised,
                        totals[1] + r.outreach_entries,
                        totals[2] + r.already_imported,
                    ]
                    progress.advance(task, len(chunk))
        console.print(f"预警 {totals[0]} 条，走访台账 {totals[1]} 条，此前已导入 {totals[2]} 条")
        return 0

    return asyncio.run(run())


def _line_numbers(path: Path) -> list[int]:
    """The file line of each warning (blank lines are skipped)."""
    return [
        n
        for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if text.strip()
    ]


def _line_of(field: str, chunk: int, lines: list[int]) -> str:
    m = _ROW.fullmatch(field)
    if m is None:
        return field
    index = chunk * CHUNK + int(m.group(1))
    return f"line {lines[index]} {m.group(2)}" if index < len(lines) else field


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a date YYYY-MM-DD") from None


def register(sub: Subparsers) -> None:
    """Add `alerts list|show|ack|assign|resolve|import-warnings|changes` to `hedui`."""
    al = group(sub, "alerts", "监测预警: alerts and the outreach ledger")
    ls = command(al, "list", alerts_list, "alerts of your regions, oldest first")
    ls.add_argument("--region", default="", help="a region code or prefix")
    ls.add_argument("--state", choices=sorted(STATES), default="")
    ls.add_argument("--risk", choices=sorted(RISKS), default="")
    ls.add_argument("--kind", choices=sorted(KINDS), default="")
    ls.add_argument("--owner", default="")
    ls.add_argument("--household", default="", help="a household_ref (64 hex)")
    ls.add_argument("--overdue", action="store_true")
    ls.add_argument("--created-from", type=_date)
    ls.add_argument("--created-to", type=_date)
    ls.add_argument("--page-size", type=int, default=0)
    ls.add_argument("--page-token", default="")
    add_client_arguments(ls)
    sh = command(al, "show", alerts_show, "an alert with its history")
    sh.add_argument("alert_id")
    add_client_arguments(sh)
    ack = command(al, "ack", alerts_ack, "acknowledge an alert (you own it unless --owner)")
    ack.add_argument("alert_id")
    ack.add_argument("--owner", default="")
    ack.add_argument("--note", default="")
    add_client_arguments(ack)
    asg = command(al, "assign", alerts_assign, "give an alert to another owner")
    asg.add_argument("alert_id")
    asg.add_argument("new_owner")
    asg.add_argument("--note", default="")
    add_client_arguments(asg)
    rs = command(al, "resolve", alerts_resolve, "resolve an alert with its outcome")
    rs.add_argument("alert_id")
    rs.add_argument("--outcome", choices=sorted(OUTCOMES), required=True)
    rs.add_argument("--program", choices=sorted(PROGRAMS), help="with --outcome referred")
    rs.add_argument("--note", default="")
    add_client_arguments(rs)
    im = command(
        al, "import-warnings", import_warnings, "import a warning list (JSON lines); admins"
    )
    im.add_argument("file")
    add_client_arguments(im)
    ch = command(al, "changes", alerts_changes, "the signed change document of a check")
    ch.add_argument("verification_id")
    ch.add_argument("--version", type=int, default=0, help="a report version; 0: the latest")
    ch.add_argument("--out", help="write the DSSE envelope here")
    add_client_arguments(ch)
