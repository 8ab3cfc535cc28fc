"""`hedui audit …`: verify, query, export, checkpoint, prove, receipt, verify-export, key.

These work directly against the configured database and key directory, as the auditor
on the server would. Reads are audited like the API's (actor system ``hedui-cli``, the
OS user, role ``auditor``). A subject's ID number is read from standard input, never
from the command line, so it stays out of shell history and process listings.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from audit.checkpoint import CheckpointError
from audit.export import ReceiptError, verify_export, verify_receipt
from audit.verify import LogReport
from hedui_sdk import IdType
from verifier.bootstrap import audit_verifier_keys, open_auditing, verify_audit_log
from verifier.cli.commands import Subparsers, command, group, offline_command
from verifier.config import Config
from verifier.domain.caller import Caller
from verifier.domain.errors import DomainError, FieldViolation, InvalidArgument
from verifier.domain.identifiers import check_entry_filter
from verifier.domain.vocabulary import Role
from verifier.service.auditing import AuditService, EntryFilter
from verifier.signing.keystore import KeyStoreError

console = Console()
err = Console(stderr=True)
T = TypeVar("T")


def _caller() -> Caller:
    return Caller(
        system="hedui-cli", user=getpass.getuser()[:64] or "cli", role=Role.AUDITOR, regions=()
    )


def _run(cfg: Config, work: Callable[[AuditService], Awaitable[T]]) -> T:
    async def main() -> T:
        async with open_auditing(cfg) as svc:
            return await work(svc)

    return asyncio.run(main())


def _fail(exc: Exception) -> int:
    err.print(f"[red]refused[/]: {exc}")
    return 1


# --------------------------------------------------------------------- verify
async def verify_async(
    cfg: Config, *, quiet: bool = False, trusted: bytes | None = None
) -> LogReport:
    try:
        keys = audit_verifier_keys(cfg)
    except KeyStoreError:
        if trusted is not None:
            raise
        err.print("[yellow]no audit keys found: checkpoints are not checked[/]")
        keys = []
    with Progress(
        TextColumn("audit verify"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=quiet,
        transient=True,
    ) as progress:
        task = progress.add_task("entries", total=None)

        def tick(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return await verify_audit_log(cfg, verifier_keys=keys, trusted=trusted, progress=tick)


def audit_verify(cfg: Config, args: argparse.Namespace) -> int:
    trusted = Path(args.trusted_checkpoint).read_bytes() if args.trusted_checkpoint else None
    try:
        report = asyncio.run(verify_async(cfg, quiet=args.quiet, trusted=trusted))
    except CheckpointError as exc:
        err.print(f"[red]the trusted checkpoint does not verify[/]: {exc}")
        return 1
    if report.ok:
        extra = f", matches the trusted checkpoint at {report.trusted_size}" if trusted else ""
        console.print(
            f"[green]audit log verifies[/]: {report.entries} entries, chain and Merkle tree,"
            f" {report.checkpoints} signed checkpoints, root {report.root.hex()[:16]}…{extra}"
        )
        return 0
    err.print(f"[red]audit log broken[/] at seq {report.first_bad_seq}: {report.problem}")
    return 1


# --------------------------------------------------------------------- reads
def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"{text!r}: give a time zone, e.g. +08:00 or Z")
    return value


def audit_query(cfg: Config, args: argparse.Namespace) -> int:
    subject = None
    if args.subject_type:
        number = sys.stdin.readline().strip()
        subject = (IdType(args.subject_type), number)
    refused: list[FieldViolation] = []
    check_entry_filter(
        refused,
        today=datetime.now().astimezone().date(),
        subject=subject,
        actor_system=args.actor_system or "",
        actor_user=args.actor_user or "",
        case_id=args.case or "",
        verification_id=args.verification or "",
        action=args.action or "",
    )
    if refused:
        return _fail(InvalidArgument(refused))
    flt = EntryFilter(
        subject=subject,
        actor_system=args.actor_system or "",
        actor_user=args.actor_user or "",
        case_id=args.case or "",
        verification_id=args.verification or "",
        action=args.action or "",
        since=_when(args.since),
        until=_when(args.until),
    )

    async def work(svc: AuditService) -> int:
        token, shown = "", 0
        while shown < args.limit:
            page = await svc.query(
                _caller(), flt, page_size=min(1000, args.limit - shown), page_token=token
            )
            for e in page.entries:
                sys.stdout.write(e.body.decode("utf-8") + "\n")
            shown += len(page.entries)
            token = page.next_page_token
            if not token:
                break
        return shown

    try:
        shown = _run(cfg, work)
    except DomainError as exc:
        return _fail(exc)
    err.print(f"{shown} entries")
    return 0


def audit_export(cfg: Config, args: argparse.Namespace) -> int:
    async def work(svc: AuditService) -> int:
        n = 0
        # A local file written line by line: blocking writes are fine for a one-shot command.
        with Path(args.out).open("wb") as fh:  # noqa: ASYNC230
            async for line in await svc.export(_caller(), args.start, args.end):
                fh.write(line)
                n += 1
        return n - 1

    try:
        n = _run(cfg, work)
    except DomainError as exc:
        return _fail(exc)
    console.print(f"wrote {n} entries with proofs to {args.out}")
    return 0


def audit_checkpoint(cfg: Config, args: argparse.Namespace) -> int:
    try:
        # As the API: CreateCheckpoint signs one; --latest reads (GetCheckpoint).
        if args.latest:
            cp = _run(cfg, lambda svc: svc.latest_checkpoint(_caller()))
        else:
            cp = _run(cfg, lambda svc: svc.checkpoint(_caller(), fresh=True))
    except DomainError as exc:
        return _fail(exc)
    if args.out:
        Path(args.out).write_bytes(cp.note)
        console.print(f"checkpoint of {cp.size} entries written to {args.out}")
    else:
        sys.stdout.write(cp.note.decode("utf-8"))
    return 0


def _hexes(items: list[bytes]) -> list[str]:
    return [h.hex() for h in items]


def audit_prove(cfg: Config, args: argparse.Namespace) -> int:
    async def work(svc: AuditService) -> dict[str, Any]:
        if args.seq is not None:
            p = await svc.prove_inclusion(_caller(), args.seq, args.size or 0)
            return {
                "seq": p.seq,
                "tree_size": p.tree_size,
                "leaf_hash": p.leaf_hash.hex(),
                "proof": _hexes(p.proof),
                "body": json.loads(p.body),
                "checkpoint": p.checkpoint.note.decode() if p.checkpoint else None,
            }
        c = await svc.prove_consistency(_caller(), args.old, args.new or 0)
        return {
            "old_size": c.old_size,
            "new_size": c.new_size,
            "old_root": c.old_root.hex(),
            "new_root": c.new_root.hex(),
            "proof": _hexes(c.proof),
            "checkpoint": c.checkpoint.note.decode() if c.checkpoint else None,
        }

    if (args.seq is None) == (args.old is None):
        err.print("give either --seq (inclusion) or --old (consistency)")
        return 2
    try:
        doc = _run(cfg, work)
    except DomainError as exc:
        return _fail(exc)
    print(json.dumps(doc, ensure_ascii=False, indent=2))
    return 0


def audit_receipt(cfg: Config, args: argparse.Namespace) -> int:
    try:
        doc = _run(cfg, lambda svc: svc.receipt(_caller(), args.verification_id, args.version))
    except DomainError as exc:
        return _fail(exc)
    text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    if args.out:
        Path(args.out).write_text(text)
        console.print(f"receipt for entry {doc['seq']} written to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


# --------------------------------------------------------------------- offline
def _key_arg(args: argparse.Namespace) -> str:
    return str(args.key or Path(args.key_file).read_text().strip())


def audit_verify_export(args: argparse.Namespace) -> int:
    report = verify_export(args.file, _key_arg(args))
    if report.ok:
        console.print(
            f"[green]export verifies[/]: entries {report.start_seq}…{report.end_seq - 1}"
            f" ({report.entries}) are in the signed tree of {report.tree_size}"
        )
        return 0
    where = "" if report.first_bad_seq is None else f" at seq {report.first_bad_seq}"
    err.print(f"[red]export does not verify[/]{where}: {report.problem}")
    return 1


def audit_verify_receipt(args: argparse.Namespace) -> int:
    envelope = Path(args.envelope).read_bytes() if args.envelope else None
    try:
        r = verify_receipt(Path(args.file).read_bytes(), _key_arg(args), envelope)
    except ReceiptError as exc:
        err.print(f"[red]receipt does not verify[/]: {exc}")
        return 1
    tied = " and the envelope is the one it released" if envelope else ""
    console.print(
        f"[green]receipt verifies[/]: entry {r.seq} is in the tree of {r.tree_size}{tied}"
    )
    return 0


def audit_key(cfg: Config, _args: argparse.Namespace) -> int:
    """Print the C2SP verifier key strings, the active key first."""
    for vkey in audit_verifier_keys(cfg):
        print(vkey)
    return 0


def register(sub: Subparsers) -> None:
    """Add `audit …` to the `hedui` parser (`verify-export` and `verify-receipt` offline)."""
    aud = group(sub, "audit", "audit log")

    v = command(
        aud,
        "verify",
        audit_verify,
        "recompute chain, Merkle tree and checkpoints; name the first bad seq",
    )
    v.add_argument("--quiet", action="store_true")
    v.add_argument("--trusted-checkpoint", help="a checkpoint note kept outside hedui")
    q = command(
        aud, "query", audit_query, "entries by subject, actor, case, action, time (JSON lines)"
    )
    q.add_argument(
        "--subject-type",
        choices=[t.value for t in IdType],
        help="filter by a person; the ID number is read from standard input",
    )
    q.add_argument("--actor-system")
    q.add_argument("--actor-user")
    q.add_argument("--case")
    q.add_argument("--verification")
    q.add_argument("--action")
    q.add_argument("--since", help="ISO 8601 with time zone, inclusive")
    q.add_argument("--until", help="ISO 8601 with time zone, exclusive")
    q.add_argument("--limit", type=int, default=1000)
    e = command(aud, "export", audit_export, "a seq range as JSON lines with inclusion proofs")
    e.add_argument("--from", dest="start", type=int, default=0)
    e.add_argument("--to", dest="end", type=int, default=0, help="exclusive; 0 = up to now")
    e.add_argument("--out", required=True)
    c = command(
        aud, "checkpoint", audit_checkpoint, "sign and print a checkpoint of the log as it is now"
    )
    c.add_argument("--latest", action="store_true", help="print the latest one; sign nothing")
    c.add_argument("--out")
    p = command(aud, "prove", audit_prove, "inclusion (--seq) or consistency (--old, --new) proof")
    p.add_argument("--seq", type=int)
    p.add_argument("--size", type=int)
    p.add_argument("--old", type=int)
    p.add_argument("--new", type=int)
    r = command(aud, "receipt", audit_receipt, "the release receipt of a report")
    r.add_argument("verification_id")
    r.add_argument("--version", type=int, default=0)
    r.add_argument("--out")
    for name, fn, what in (
        ("verify-export", audit_verify_export, "check an export with only the file and the key"),
        ("verify-receipt", audit_verify_receipt, "check a receipt (and a report envelope)"),
    ):
        x = offline_command(aud, name, fn, what)
        x.add_argument("file")
        key = x.add_mutually_exclusive_group(required=True)
        key.add_argument("--key", help="the audit verifier key string")
        key.add_argument("--key-file")
        if name == "verify-receipt":
            x.add_argument("--envelope", help="the report's DSSE envelope file")
    command(aud, "key", audit_key, "print the audit verifier key string(s) (C2SP signed-note)")
