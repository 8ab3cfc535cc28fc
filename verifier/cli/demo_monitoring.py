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
import contextlib
import json
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc

from hedui_sdk.sandbox import start_sandbox
from verifier.api.tls import server_credentials_for
from verifier.bootstrap import build_app, serve_app
from verifier.cli import runtime
from verifier.cli.audit_cmds import verify_async
from verifier.cli.certs import PkiError
from verifier.cli.demo_monitoring_receiver import Receiver, StepFailed, new_secret
from verifier.cli.demo_monitoring_steps import walk
from verifier.cli.demo_monitoring_walk import HOUSEHOLDS, REGION, Walk, passed
from verifier.cli.runtime import DEMO_SYSTEM, household_doc
from verifier.config import (
    Config,
    Principal,
    RosterConfig,
    SubscriberConfig,
    WebhooksConfig,
    sandbox_sources,
)
from verifier.domain.roster import china_date
from verifier.domain.vocabulary import Role

__all__ = ["demo", "demo_monitoring"]

console = runtime.console
err = runtime.err

SUBSCRIBER = "demo-receiver"


def fresh_directory(out_dir: Path) -> Path:
    """A new directory for this run under ``out_dir``: its own database and keys."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return Path(tempfile.mkdtemp(prefix=f"run-{stamp}-", dir=out_dir))


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
        w = Walk(cfg, run_dir, sb, f"127.0.0.1:{server.port}", client_creds, receiver, docs)
        summary = w.summary
        today = china_date(datetime.now(UTC))
        try:
            await walk(w, today)
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
