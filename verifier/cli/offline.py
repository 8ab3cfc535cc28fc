"""Commands that need no server: keys, report verify/show, audit verify, db upgrade,
adapter list."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
)
from rich.table import Table

from audit.export import ReceiptError, verify_receipt
from hedui_sdk import registry
from verifier.bootstrap import (
    RewrapReport,
    database_exists,
    keystore,
    rewrap_sealed,
    upgrade_database,
)
from verifier.cli import key_backup_cmds
from verifier.cli.commands import Subparsers, command, group, offline_command
from verifier.cli.report_fragments import add_peer_jwks, key_label, verify_embedded
from verifier.cli.report_print import add_render, check_printout, report_render
from verifier.cli.report_view import render
from verifier.config import Config
from verifier.signing.dsse import EnvelopeError, VerifiedEnvelope, verify_envelope
from verifier.signing.jwks import JwksError, dumps_jwks, parse_jwks
from verifier.signing.keystore import KeyStore

# Reports are wide tables: when not on a terminal (logs, CI), do not squeeze them to 80.
console = Console(width=None if Console().is_terminal else 140)
err = Console(stderr=True)


def keys_generate(cfg: Config, _args: argparse.Namespace) -> int:
    created = keystore(cfg).ensure()
    console.print(
        f"keys in {cfg.keys_dir}: created {', '.join(created) or 'nothing (all present)'}"
    )
    return 0


def keys_rotate(cfg: Config, args: argparse.Namespace) -> int:
    ks = keystore(cfg)
    ks.ensure()
    new = ks.rotate()
    console.print("new active keys: " + ", ".join(f"{k} {v[:16]}…" for k, v in new.items()))
    console.print("old keys are kept: earlier reports still verify and decrypt.")
    if not getattr(args, "rewrap", True):
        console.print("sealed rows stay under their old data keys (--no-rewrap).")
        return 0
    return keys_rewrap(cfg, ks)


def keys_rewrap(cfg: Config, ks: KeyStore) -> int:
    """Re-seal every sealed column under the active data key; name the keys no row needs."""
    if not database_exists(cfg):
        console.print("no database yet: nothing to re-wrap.")
        return 0
    report = asyncio.run(_rewrap_async(cfg, ks))
    done = ", ".join(f"{t} {n}" for t, n in report.counts.items())
    console.print(f"re-wrapped under data key {report.active_kid}: {done or 'nothing'}")
    for f in report.failures:
        err.print(f"[red]not re-wrapped[/]: {f}")
    if report.unused_keys:
        console.print(
            "no row needs these data keys any more (they may be deleted from "
            f"{cfg.keys_dir / 'data'}): " + ", ".join(report.unused_keys)
        )
    if not report.ok:
        err.print(
            f"[red]{len(report.failures)} sealed value(s) did not open[/]: they keep their old "
            "keys; investigate before deleting any key."
        )
        return 1
    return 0


async def _rewrap_async(cfg: Config, ks: KeyStore) -> RewrapReport:
    with Progress(
        TextColumn("re-wrap {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def tick(table: str, done: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = progress.add_task(table, total=total)
            progress.update(tasks[table], completed=done, total=max(total, done))

        return await rewrap_sealed(cfg, ks, tick)


def keys_export(cfg: Config, args: argparse.Namespace) -> int:
    ks = keystore(cfg)
    text = dumps_jwks(ks.verifying_keys(args.kind))
    if args.out:
        Path(args.out).write_text(text)
        console.print(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0


def verify_file(envelope_path: Path, jwks_path: Path) -> VerifiedEnvelope:
    keys = parse_jwks(jwks_path.read_bytes())
    return verify_envelope(envelope_path.read_bytes(), keys)


def signed_by(v: VerifiedEnvelope, jwks_path: Path) -> str:
    """``Ed25519 key 1a2b… and SM2 key 3c4d…``: every trusted key whose signature verified."""
    keys = parse_jwks(jwks_path.read_bytes())
    return " and ".join(key_label(keys[k], k) for k in v.key_ids)


def report_verify(args: argparse.Namespace) -> int:
    try:
        v = verify_file(Path(args.file), Path(args.keys))
        by = signed_by(v, Path(args.keys))
    except (EnvelopeError, JwksError, OSError) as exc:
        err.print(f"[red]NOT VERIFIED[/]: {exc}")
        return 1
    doc = v.document
    console.print(
        f"[green]VERIFIED[/]: report {doc.get('report_id')} version {doc.get('version')}, "
        f"signed by {by}, payload is RFC 8785 canonical JSON"
    )
    # Peers' fragments (异地协查) are checked with their own JWKS; a local report has none.
    if verify_embedded(doc, getattr(args, "peer_jwks", None) or [], console, err):
        return 1
    receipt = getattr(args, "receipt", None)
    if receipt:
        try:
            vkey = Path(args.audit_key).read_text().strip() if args.audit_key else ""
            r = verify_receipt(Path(receipt).read_bytes(), vkey, Path(args.file).read_bytes())
        except (ReceiptError, OSError) as exc:
            err.print(f"[red]RECEIPT NOT VERIFIED[/]: {exc}")
            return 1
        console.print(
            f"[green]RECEIPT VERIFIED[/]: released as audit entry {r.seq}, included in the"
            f" signed audit tree of {r.tree_size} entries"
        )
    printout = getattr(args, "printout", None)
    if printout:
        return check_printout(printout, Path(args.file).read_bytes(), v)
    return 0


def report_show(args: argparse.Namespace) -> int:
    try:
        if args.keys:
            v = verify_file(Path(args.file), Path(args.keys))
            doc, kid = v.document, v.key_id
        else:
            import base64

            env = json.loads(Path(args.file).read_bytes())
            doc = json.loads(base64.b64decode(env["payload"]))
            kid = env["signatures"][0]["keyid"]
            err.print("[yellow]signature not checked (no --keys given)[/]")
    except (EnvelopeError, JwksError, OSError, ValueError, KeyError) as exc:
        err.print(f"[red]cannot show report[/]: {exc}")
        return 1
    render(doc, kid, console)
    return 0


def db_upgrade(cfg: Config, _args: argparse.Namespace) -> int:
    upgrade_database(cfg)
    console.print("database is at the latest migration")
    return 0


def adapter_list(cfg: Config, _args: argparse.Namespace) -> int:
    allow = {sc.adapter: sc.settings() for sc in cfg.sources.values()}
    rows = asyncio.run(registry.describe(allow))
    t = Table(title="hedui.adapters entry points")
    for col in ("name", "source", "distribution", "version", "adapter", "status", "why"):
        t.add_column(col)
    for r in rows:
        t.add_row(
            r.entry_point,
            r.source,
            r.distribution,
            r.distribution_version,
            f"{r.adapter_name} {r.adapter_version}".strip(),
            r.status,
            r.reason,
        )
    console.print(t)
    return 0 if all(r.status != "refused" for r in rows) else 1


def bench(_cfg: Config, args: argparse.Namespace) -> int:
    """Run the benchmarks of a source checkout (they are not part of the installed package)."""
    import subprocess
    import sys

    root = Path(args.source).resolve()
    if not (root / "bench" / "__main__.py").exists():
        err.print(f"no benchmarks under {root}: run from a source checkout (or `make bench`)")
        return 2
    return subprocess.call([sys.executable, "-m", "bench"], cwd=root)


def _keys_rewrap(cfg: Config, _args: argparse.Namespace) -> int:
    return keys_rewrap(cfg, keystore(cfg))


def register(sub: Subparsers) -> None:
    """Add `keys …`, `report verify|render|show` (offline), `bench` and `db upgrade`."""
    keys = group(sub, "keys", "signing, audit and data keys")
    command(keys, "generate", keys_generate, "create missing keys")
    kr = command(keys, "rotate", keys_rotate, "new active keys; old ones kept")
    kr.add_argument(
        "--rewrap",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="re-encrypt every sealed column under the new data key (default: yes)",
    )
    command(
        keys,
        "rewrap",
        _keys_rewrap,
        "finish re-encrypting sealed columns under the active data key (no new keys)",
    )
    ke = command(keys, "export", keys_export, "public keys as JWKS")
    ke.add_argument("--kind", choices=("signing", "audit"), default="signing")
    ke.add_argument("--out")
    key_backup_cmds.register(keys)

    rep = group(sub, "report", "offline report tools")
    rv = offline_command(
        rep, "verify", report_verify, "verify a DSSE report envelope against a JWKS"
    )
    rv.add_argument("file")
    rv.add_argument("--keys", required=True)
    add_peer_jwks(rv)
    rv.add_argument("--receipt", help="release receipt (hedui audit receipt) to check too")
    rv.add_argument("--audit-key", help="file with the audit log's verifier key (hedui audit key)")
    rv.add_argument(
        "--printout",
        help="a printout to check against the report: its QR code's text, or a PDF or image",
    )
    add_render(
        offline_command(
            rep, "render", report_render, "the printable 核对报告 (PDF or HTML, masked)"
        )
    )
    rs = offline_command(rep, "show", report_show, "readable summary of a report")
    rs.add_argument("file")
    rs.add_argument("--keys")

    b = command(sub, "bench", bench, "run the benchmarks P1-P4 (source checkout)")
    b.add_argument("--source", default=".", help="the source checkout (default: here)")
    db = group(sub, "db", "database")
    command(db, "upgrade", db_upgrade, "apply migrations")
