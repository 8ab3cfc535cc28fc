"""Commands that run things: a server process, sandbox, check, demo."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import signal
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import cast

import grpc
import structlog
from hedui.v1 import verification_pb2 as vpb
from rich.console import Console

from audit.export import ReceiptError, verify_receipt
from hedui_sdk import SourceKind
from hedui_sdk.sandbox import SourceFaults
from hedui_sdk.sandbox.population import generate_population
from hedui_sdk.sandbox.server import DEFAULT_SEED, current_as_of, run_sandbox, start_sandbox
from verifier.api.client import Client, HouseholdFileError, consent_from_json, request_from_json
from verifier.api.sandbox_files import consent_doc as consent_doc
from verifier.api.sandbox_files import export_sandbox
from verifier.api.sandbox_files import household_doc as household_doc
from verifier.api.tls import client_credentials, server_credentials_for
from verifier.bootstrap import App, build_app, serve_app
from verifier.cli.audit_cmds import verify_async
from verifier.cli.certs import PkiError, init_pki
from verifier.cli.consent_cmds import client_for
from verifier.cli.logs import announce
from verifier.cli.offline import report_verify, verify_file
from verifier.cli.policy_cmds import refuse_example_parameters
from verifier.cli.report_view import render
from verifier.config import Config, TlsConfig, sandbox_sources
from verifier.config.urls import database_backend
from verifier.domain.ports import Caller
from verifier.domain.vocabulary import Role

console = Console(width=None if Console().is_terminal else 140)
log = structlog.get_logger("hedui.serve")
err = Console(stderr=True)


async def serve_process(
    cfg: Config, *, migrate: bool = True, ready: Callable[[int], None] | None = None
) -> None:
    """One server process until SIGINT or SIGTERM. ``ready`` is told the port once it
    serves (a worker of ``serve --workers`` tells its parent, which prints the banner);
    without it the banner is printed here."""
    # Refused before anything is built: a production server without client authentication
    # must not open even its database.
    credentials = server_credentials_for(cfg.tls, cfg.listen)
    # Nor may it serve a region whose parameters in force are examples, unless told to.
    refuse_example_parameters(cfg, date.today())
    app = await build_app(cfg, migrate=migrate)
    running = await serve_app(app, cfg.listen, credentials=credentials)
    # What startup built (modules, policies, adapters, the gRPC stack) lives as long as
    # the process: keep it out of the collector, whose full passes over it otherwise
    # stall a request for 100 ms at random.
    gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready(running.port)
    else:
        announce(
            "serving",
            port=running.port,
            metrics_port=app.metrics_endpoint.port if app.metrics_endpoint else None,
            banner=serving_banner(running.port, cfg, tls=credentials is not None),
        )
    try:
        await stop.wait()
    finally:
        await running.stop()
        await app.aclose()


def serving_banner(port: int, cfg: Config, *, tls: bool, workers: int = 1) -> str:
    transport = "mTLS" if tls else "PLAINTEXT (development, loopback only)"
    processes = f" in {workers} worker processes" if workers > 1 else ""
    return (
        f"hedui serving on port {port}{processes} over {transport}"
        f" (database {database_backend(cfg.database_url)})"
    )


def sandbox(_cfg: Config, args: argparse.Namespace) -> int:
    try:
        faults: dict[SourceKind | str, SourceFaults] = {
            kind: SourceFaults(
                latency_ms=args.latency_ms,
                jitter_ms=args.jitter_ms,
                error_rate=args.error_rate,
                hang_rate=args.hang_rate,
                garbage_rate=args.garbage_rate,
                deny_rate=args.deny_rate,
                rate_limit_rps=args.rate_limit,
                async_delay_s=(args.bank_delay or None) if kind is SourceKind.BANK else None,
            )
            for kind in SourceKind
        }
    except ValueError as exc:
        err.print(f"[red]bad sandbox knob[/]: {exc}")
        return 2
    run_sandbox(args.host, args.port, args.seed, args.households, faults=faults)
    return 0


def sandbox_export(args: argparse.Namespace) -> int:
    """Sandbox households of one region and their 授权书 as canonical JSON files, for
    clients in other languages: the population ``hedui sandbox`` serves with the same
    ``--seed`` and ``--households`` today."""
    population = generate_population(
        args.seed, households_per_county=args.households, as_of=current_as_of()
    )
    try:
        pairs = export_sandbox(population, args.region, args.count, Path(args.out), date.today())
    except ValueError as exc:
        err.print(f"[red]cannot export[/]: {exc}")
        return 2
    for household, consent in pairs:
        console.print(f"{household}  {consent}")
    return 0


def state_name(state: int) -> str:
    """``3`` → ``DONE``: a verification state as people read it, not its wire number."""
    try:
        name = vpb.VerificationState.Name(cast("vpb.VerificationState.ValueType", state))
    except ValueError:
        return f"UNKNOWN({state})"
    return name.removeprefix("VERIFICATION_STATE_")


async def _check(args: argparse.Namespace) -> int:
    try:
        doc = json.loads(Path(args.household).read_text())
        req = request_from_json(doc, wait=args.wait)
    except (OSError, json.JSONDecodeError, HouseholdFileError) as exc:
        err.print(f"[red]cannot read household file[/]: {exc}")
        return 2
    async with client_for(args) as client:
        try:
            v = await client.create(req, timeout=args.timeout)
            console.print(f"verification {v.verification_id}: state {state_name(v.state)}")
            if args.out and v.latest_report_version:
                rep = await client.report(v.verification_id)
                Path(args.out).write_bytes(rep.envelope)
                console.print(f"report written to {args.out}")
        except grpc.aio.AioRpcError as exc:
            err.print(f"[red]{exc.code().name}[/]: {exc.details()}")
            return 1
    return 0


def check(_cfg: Config, args: argparse.Namespace) -> int:
    return asyncio.run(_check(args))


DEMO_SYSTEM = "local-case-system"


def _demo_transport(
    out_dir: Path, plaintext: bool
) -> tuple[TlsConfig, grpc.ChannelCredentials | None]:
    """The demo runs the production path, mTLS, with a local CA under ``out_dir/pki``;
    plaintext only when asked for (and ``check_server_tls`` keeps it on loopback)."""
    if plaintext:
        return TlsConfig(mode="development", insecure_plaintext=True), None
    pki = init_pki(out_dir / "pki", systems=[DEMO_SYSTEM]).layout
    me = pki.client(DEMO_SYSTEM)
    return TlsConfig.local_pki(pki.directory), client_credentials(pki.ca.cert, me.cert, me.key)


async def _demo(cfg: Config, out_dir: Path, seed: int, *, plaintext: bool = False) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    console.rule("hedui demo")
    try:
        tls, client_creds = _demo_transport(out_dir, plaintext)
    except PkiError as exc:
        err.print(f"[red]cannot prepare the demo PKI[/]: {exc}")
        return 2
    async with contextlib.AsyncExitStack() as stack:
        sb = await start_sandbox(port=0, seed=seed)
        stack.push_async_callback(sb.stop)
        console.print(
            f"sandbox: {len(sb.population.all_households)} synthetic households on port {sb.port}"
        )
        cfg = replace(cfg, sources=sandbox_sources(sb.port), listen="127.0.0.1:0", tls=tls)
        server_creds = server_credentials_for(cfg.tls, cfg.listen)
        app = await build_app(cfg)
        stack.push_async_callback(app.aclose)
        server = await serve_app(app, cfg.listen, credentials=server_creds)
        stack.push_async_callback(server.stop)
        transport = (
            "PLAINTEXT (--insecure-plaintext)"
            if client_creds is None
            else f"mTLS, CA {tls.client_ca}, client certificate CN {DEMO_SYSTEM}"
        )
        console.print(
            f"server: gRPC on port {server.port} over {transport}; database {cfg.database_url}"
        )

        doc = household_doc(sb.population, "370322", 0)
        console.print(
            f"household: {len(doc['household']['members'])} members in region"
            f" {doc['household']['region_code']},"
            f" case {doc['case_id']}"
        )
        # Under mTLS the system comes from the certificate; metadata would be ignored.
        client = Client(
            f"127.0.0.1:{server.port}",
            user="demo-caseworker",
            system=DEMO_SYSTEM if client_creds is None else None,
            credentials=client_creds,
        )
        stack.push_async_callback(client.close)
        registered = await client.register_consent(
            consent_from_json(consent_doc(doc, date.today()))
        )
        console.print(
            f"authorization {registered.consent.number} registered"
            f" ({len(registered.consent.subjects)} people,"
            f" {len(registered.consent.signatories)} signatures)"
        )
        v = await client.create(request_from_json(doc, wait=True), timeout=60)
        if not v.latest_report_version:
            err.print("[red]no report was issued in time[/]")
            return 1
        console.print(
            f"report v{v.latest_report_version} issued; waiting for late sources (banks)…"
        )
        # Follow the verification until every source has answered (the sandbox bank
        # answers a few seconds later, which makes report version 2).
        with contextlib.suppress(TimeoutError, grpc.aio.AioRpcError):
            async with asyncio.timeout(60):
                async for event in client.watch(v.verification_id):
                    if event.WhichOneof("event") == "report_issued":
                        console.print(f"report v{event.report_issued.version} issued")
        report = await client.report(v.verification_id)
        envelope_path = out_dir / "report.dsse.json"
        keys_path = out_dir / "keys.jwks.json"
        envelope_path.write_bytes(report.envelope)
        keys_path.write_text(await client.jwks())
        console.print(
            f"report v{report.summary.version} written to {envelope_path}; keys to {keys_path}"
        )

        verified = verify_file(envelope_path, keys_path)
        render(verified.document, verified.key_id, console)
        ok = report_verify(argparse.Namespace(file=str(envelope_path), keys=str(keys_path))) == 0
        ok = await _demo_receipt(app, v.verification_id, envelope_path, out_dir) and ok

    log = await verify_async(cfg, quiet=True)
    if log.ok:
        console.print(
            f"[green]audit log verifies[/]: {log.entries} entries, chain, Merkle tree and"
            f" {log.checkpoints} signed checkpoint(s)"
        )
    else:
        err.print(f"[red]audit log broken[/] at seq {log.first_bad_seq}: {log.problem}")
    return 0 if ok and log.ok else 1


async def _demo_receipt(app: App, vid: str, envelope_path: Path, out_dir: Path) -> bool:
    """An auditor's receipt for the report: its release entry, a signed checkpoint that
    includes it and the inclusion proof, checked offline against the audit key."""
    if app.auditing is None:
        return True
    auditor = Caller(
        DEMO_SYSTEM, "demo-auditor", Role.AUDITOR, tuple(app.config.principals[DEMO_SYSTEM].regions)
    )
    receipt = await app.auditing.receipt(auditor, vid)
    receipt_path = out_dir / "receipt.json"
    vkey_path = out_dir / "audit.vkey"
    receipt_path.write_text(json.dumps(receipt, indent=2, ensure_ascii=False) + "\n")
    vkey_path.write_text(app.auditing.verifier_key + "\n")
    try:
        r = verify_receipt(
            receipt_path.read_bytes(), vkey_path.read_text().strip(), envelope_path.read_bytes()
        )
    except ReceiptError as exc:
        err.print(f"[red]receipt does not verify[/]: {exc}")
        return False
    console.print(
        f"[green]receipt verifies[/]: the report's release entry {r.seq} is in the signed"
        f" audit tree of {r.tree_size} entries ({receipt_path}, key {vkey_path})"
    )
    return True


def demo(cfg: Config, args: argparse.Namespace) -> int:
    plaintext = bool(getattr(args, "insecure_plaintext", False))
    return asyncio.run(_demo(cfg, Path(args.out_dir), args.seed, plaintext=plaintext))


DEFAULT_DEMO_SEED = DEFAULT_SEED
