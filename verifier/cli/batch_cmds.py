"""`hedui batch submit FILE [--watch] | show ID | cancel ID`.

FILE holds one item a line: a ``BatchItem`` in protobuf's canonical JSON mapping, e.g.
``{"itemKey": "case-17", "request": {"caseId": "CASE-17", "authorizationId": "SQ-9", …}}``
(the request is exactly what CreateVerification takes). Blank lines are skipped. A line
that is not a BatchItem is named with its line number and nothing is sent. The batch's
request id is ``--request-id``, or derived from the file's bytes, so submitting the same
file again returns the batch already accepted instead of a second one.

Items the server refuses are listed with their line and field; the others run. With
``--watch`` a progress bar follows the batch until it is done.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import re
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format
from hedui.v1 import batch_pb2 as pb
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from verifier.api.client import Client
from verifier.cli.commands import Subparsers, command, group
from verifier.cli.consent_cmds import add_client_arguments, client_for
from verifier.config import Config
from verifier.domain.batches import MAX_BATCH_ITEMS

console = Console(soft_wrap=True)
err = Console(stderr=True)

STATE_LABELS = {
    pb.BATCH_STATE_RUNNING: "进行中",
    pb.BATCH_STATE_DONE: "已完成",
    pb.BATCH_STATE_CANCELLED: "已取消",
}
ITEM_LABELS = {
    pb.BATCH_ITEM_STATE_REFUSED: "拒收",
    pb.BATCH_ITEM_STATE_DENIED: "拒绝核对",
}
_ITEM_FIELD = re.compile(r"items\[([0-9]+)\]\.?(.*)")


class BatchFileError(ValueError):
    """The file is not a batch file; the message names the line."""


def _parse_problem(exc: json_format.ParseError) -> str:
    """Which field the parser refused, never the value it was given (a value may be an
    ID number or a name)."""
    text = str(exc)
    path = re.findall(r"Failed to parse (\w+) field", text)
    unknown = re.search(r'has no field named "(\w+)"', text)
    if unknown:
        return f"unknown field {'.'.join([*path, unknown.group(1)])}"
    if path:
        return f"field {'.'.join(path)} has a value of the wrong kind"
    return "not a JSON object of a BatchItem"


def read_batch_file(path: Path) -> tuple[list[pb.BatchItem], list[int]]:
    """The items and the line each came from. Raises :class:`BatchFileError` naming the
    first line that is not a BatchItem (its text is never repeated: it holds ID numbers)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchFileError(f"cannot read {path}: {type(exc).__name__}") from None
    items: list[pb.BatchItem] = []
    lines: list[int] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        item = pb.BatchItem()
        try:
            json_format.Parse(line, item)
        except json_format.ParseError as exc:
            raise BatchFileError(f"line {n}: not a BatchItem: {_parse_problem(exc)}") from None
        items.append(item)
        lines.append(n)
    if not items:
        raise BatchFileError(f"{path}: no items")
    if len(items) > MAX_BATCH_ITEMS:
        raise BatchFileError(
            f"{path}: {len(items)} items; a batch holds at most {MAX_BATCH_ITEMS}: split the file"
        )
    return items, lines


def _where(field: str, lines: list[int]) -> str:
    m = _ITEM_FIELD.fullmatch(field)
    if m is None or int(m.group(1)) >= len(lines):
        return field
    return f"line {lines[int(m.group(1))]} {m.group(2) or 'item'}"


def show_batch(b: pb.Batch, lines: list[int] | None = None) -> None:
    p = b.progress
    console.print(
        f"批次 {b.batch_id}（{b.request_id}）{STATE_LABELS.get(b.state, '')}："
        f"共 {b.item_count} 户，已出报告 {p.done}，核对中 {p.running}，排队 {p.queued}，"
        f"拒收 {p.refused}，拒绝核对 {p.denied}，已取消 {p.cancelled}"
    )
    if not b.refusals:
        return
    t = Table(title="未核对的条目")
    t.add_column("序号", justify="right")
    t.add_column("条目键")
    t.add_column("状态")
    t.add_column("原因")
    for r in b.refusals:
        if r.violations:
            why = "; ".join(
                f"{_where(v.field, lines or [])}: {v.description}" for v in r.violations
            )
        else:
            why = r.reason
        t.add_row(str(r.index), r.item_key, ITEM_LABELS.get(r.state, ""), why)
    console.print(t)


async def watch_progress(client: Client, batch: pb.Batch) -> pb.Batch:
    """A progress bar over the batch's items until it is done; the last state seen."""
    last = batch
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("核对", total=batch.item_count, detail="")
        async for b in client.watch_batch(batch.batch_id):
            p = b.progress
            finished = b.item_count - p.queued - p.running
            progress.update(
                task,
                completed=finished,
                detail=f"核对中 {p.running} · 排队 {p.queued} · 拒收 {p.refused + p.denied}",
            )
            last = b
    return last


def _call(args: argparse.Namespace, work: Any) -> int:
    async def run() -> int:
        async with client_for(args) as client:
            try:
                result: int = await work(client)
                return result
            except grpc.aio.AioRpcError as exc:
                err.print(f"[red]{exc.code().name}[/]: {exc.details()}")
                return 1

    return asyncio.run(run())


def batch_submit(_cfg: Config, args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        items, lines = read_batch_file(path)
    except BatchFileError as exc:
        err.print(f"[red]batch file refused[/]: {exc}")
        return 2
    request_id = args.request_id or f"file-{hashlib.sha256(path.read_bytes()).hexdigest()[:32]}"

    async def work(client: Client) -> int:
        batch = await client.submit_batch(request_id, items)
        show_batch(batch, lines)
        if args.watch and batch.state == pb.BATCH_STATE_RUNNING:
            batch = await watch_progress(client, batch)
            show_batch(batch, lines)
        return 0

    return _call(args, work)


def batch_show(_cfg: Config, args: argparse.Namespace) -> int:
    async def work(client: Client) -> int:
        batch = await client.get_batch(args.batch_id)
        if args.watch and batch.state == pb.BATCH_STATE_RUNNING:
            batch = await watch_progress(client, batch)
        show_batch(batch)
        return 0

    return _call(args, work)


def batch_cancel(_cfg: Config, args: argparse.Namespace) -> int:
    async def work(client: Client) -> int:
        resp = await client.cancel_batch(args.batch_id)
        console.print(f"取消了 {resp.cancelled} 个尚未开始的条目；已开始的继续完成。")
        show_batch(resp.batch)
        return 0

    return _call(args, work)


def register(sub: Subparsers) -> None:
    """Add `batch submit|show|cancel` to the `hedui` parser."""
    bat = group(sub, "batch", "batches of checks")
    s = command(
        bat,
        "submit",
        batch_submit,
        "submit a file of BatchItem JSON lines",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("file")
    s.add_argument("--request-id", help="the batch's idempotency key (default: from the file)")
    s.add_argument("--watch", action="store_true", help="follow the batch with a progress bar")
    add_client_arguments(s)
    sh = command(bat, "show", batch_show, "a batch's state, counts and refused items")
    sh.add_argument("batch_id")
    sh.add_argument("--watch", action="store_true", help="follow it until it is done")
    add_client_arguments(sh)
    c = command(bat, "cancel", batch_cancel, "cancel the items not started yet")
    c.add_argument("batch_id")
    add_client_arguments(c)
