"""`hedui demo federation`: two deployments answering one household's check together
(异地协查), ending with a report that verifies offline, the peer's fragment included.

Two counties each run their own hedui: 高青县 (370322, ``hedui-gaoqing``) and 临淄区
(370305, ``hedui-linzi``). Each has its own server (grpc.aio, mTLS), database (an
SQLite file), PKI (a CA of its own), signing keys and sandbox departments, which know
only that county's people. Each is configured with the other as a peer and trusts it
(``hedui federation trust``) both ways.

A 高青 household has one member whose 户籍 is in 临淄. The check at 高青 asks its own
departments about the others and asks 临淄 (a 协查 over mTLS) about that member; 临淄
checks the agreement and the 授权书, asks its departments, and answers with a signed
fragment, which 高青 verifies against 临淄's pinned keys and embeds in its report. The
report says which deployment answered which source, and ``hedui report verify`` checks
it offline with 高青's JWKS and, for the fragment, 临淄's (``--peer-jwks``).

Everything shown is masked: ID numbers keep their first and last four characters, and
names are not printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import grpc
from hedui.v1 import verification_pb2 as vpb
from rich.table import Table

from hedui_sdk import SourceKind
from hedui_sdk.masking import mask_id_number
from hedui_sdk.sandbox import SandboxHandle, SourceFaults, start_sandbox
from hedui_sdk.sandbox.counties import COUNTY_BY_CODE
from hedui_sdk.sandbox.population import Population, generate_population
from hedui_sdk.sandbox.server import current_as_of
from verifier.api.client import Client, consent_from_json, request_from_json
from verifier.api.tls import server_credentials_for
from verifier.bootstrap import App, build_app, open_federation, serve_app
from verifier.cli import demo_monitoring, runtime
from verifier.cli.audit_cmds import verify_async
from verifier.cli.demo_federation_setup import Side, prepare_side, side_config
from verifier.cli.demo_monitoring import fresh_directory
from verifier.cli.demo_monitoring_receiver import StepFailed
from verifier.cli.demo_monitoring_walk import passed
from verifier.cli.pki import PkiError
from verifier.config import Config, sandbox_sources
from verifier.domain.caller import Caller
from verifier.domain.fragment import FRAGMENT_PAYLOAD_TYPE
from verifier.domain.report import EmbeddedFragmentError, envelope_sha256_matches, fragments_of
from verifier.domain.vocabulary import Role
from verifier.service.auditing import EntryFilter
from verifier.signing.dsse import EnvelopeError, unverified_document, verify_envelope
from verifier.signing.jwks import JwksError, parse_jwks

__all__ = ["HOME", "PEER", "demo", "demo_federation"]

console = runtime.console
err = runtime.err

HOME = ("hedui-gaoqing", "370322")
"""The deployment where the household applies: its name and county."""
PEER = ("hedui-linzi", "370305")
"""The deployment of the county where one member's 户籍 is."""
HOUSEHOLDS_PER_COUNTY = 20
MIN_MEMBERS = 3
WAIT_SECONDS = 60.0


@dataclass
class Running:
    """One deployment while the demo runs."""

    side: Side
    config: Config
    sandbox: SandboxHandle
    app: App
    port: int


@dataclass
class Summary:
    """What the demo established, written to ``summary.json`` (no personal data)."""

    deployments: dict[str, str] = field(default_factory=dict)
    members: list[dict[str, str]] = field(default_factory=list)
    answered_by: dict[str, list[str]] = field(default_factory=dict)
    verification_id: str = ""
    report_version: int = 0
    fragments: list[dict[str, Any]] = field(default_factory=list)
    peer_audit: list[str] = field(default_factory=list)
    report_verified: bool = False
    fragments_verified: bool = False
    audit_logs: dict[str, bool] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (
            self.report_verified
            and self.fragments_verified
            and bool(self.fragments)
            and bool(self.audit_logs)
            and all(self.audit_logs.values())
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "deployments": self.deployments,
            "members": self.members,
            "answered_by": self.answered_by,
            "verification_id": self.verification_id,
            "report_version": self.report_version,
            "fragments": self.fragments,
            "peer_audit": self.peer_audit,
            "report_verified": self.report_verified,
            "fragments_verified": self.fragments_verified,
            "audit_logs": self.audit_logs,
        }


def county_population(seed: int, region: str) -> Population:
    """The sandbox people of one county only: each deployment's departments know their own."""
    return generate_population(
        seed,
        households_per_county=HOUSEHOLDS_PER_COUNTY,
        as_of=current_as_of(),
        counties=(COUNTY_BY_CODE[region],),
    )


def _born(id_number: str) -> int:
    return int(id_number[6:10])


def split_household(home: Population, peer: Population) -> dict[str, Any]:
    """A household file of ``home``'s first household, its last member replaced by a
    person of the peer's county of about the same age, whose 户籍 is there."""
    # The first household of three or more: the split leaves more than one member here.
    doc = next(
        d
        for d in (runtime.household_doc(home, HOME[1], i) for i in range(HOUSEHOLDS_PER_COUNTY))
        if len(d["household"]["members"]) >= MIN_MEMBERS
    )
    members: list[dict[str, Any]] = doc["household"]["members"]
    leaving = members[-1]
    candidates: list[dict[str, Any]] = []
    with contextlib.suppress(IndexError):  # the sample households of a county run out
        for i in range(HOUSEHOLDS_PER_COUNTY):
            candidates += runtime.household_doc(peer, PEER[1], i)["household"]["members"]
    there = min(candidates, key=lambda m: abs(_born(m["id_number"]) - _born(leaving["id_number"])))
    members[-1] = {
        "id_type": there["id_type"],
        "id_number": there["id_number"],
        "name": there["name"],
        "relation": leaving["relation"],
        "circumstances": {},
        "hukou_region_code": PEER[1],
    }
    return doc


@contextlib.asynccontextmanager
async def deployment(
    cfg: Config, side: Side, peer: Side, population: Population
) -> AsyncIterator[Running]:
    """One deployment serving: its sandbox (its county's people; every department
    answering at once, the bank too, so that the peer's answer is complete when given),
    its database migrated, the peer trusted as ``hedui federation trust`` does, its app
    and server over mTLS."""
    sb = await start_sandbox(
        port=0, population=population, faults={SourceKind.BANK: SourceFaults()}
    )
    try:
        config = replace(
            side_config(cfg, side, peer, f"sqlite:///{side.directory / 'hedui.db'}"),
            sources=sandbox_sources(sb.port),
        )
        app = await build_app(config)
        try:
            async with open_federation(config) as trust:
                trusted = await trust.trust(peer.name, "demo-operator")
            console.print(
                f"  {side.name}: [green]trusted[/] {trusted.name}, pinned key ids: "
                + ", ".join(k[:16] + "…" for k in trusted.key_ids)
            )
            server = await serve_app(
                app, config.listen, credentials=server_credentials_for(config.tls, config.listen)
            )
            try:
                yield Running(side, config, sb, app, server.port)
            finally:
                await server.stop(0)
        finally:
            await app.aclose()
    finally:
        await sb.stop()


def _members_table(doc: dict[str, Any], home: str, peer: str) -> Table:
    t = Table("#", "member", "relation", "户籍", "asked at")
    for i, m in enumerate(doc["household"]["members"]):
        region = m.get("hukou_region_code") or doc["household"]["region_code"]
        at = peer if region == PEER[1] else home
        relation = str(m["relation"]).removeprefix("RELATION_").lower()
        t.add_row(str(i), mask_id_number(m["id_number"]), relation, region, at)
    return t


async def _follow(client: Client, vid: str) -> vpb.Verification:
    """The check once every source answered (its report's last version), or as it is
    when ``WAIT_SECONDS`` have passed."""
    v = await client.get(vid)
    if v.state == vpb.VERIFICATION_STATE_DONE:
        return v
    with contextlib.suppress(TimeoutError, grpc.aio.AioRpcError):
        async with asyncio.timeout(WAIT_SECONDS):
            async for event in client.watch(vid):
                if event.WhichOneof("event") == "report_issued":
                    console.print(f"  report v{event.report_issued.version} issued")
    return await client.get(vid)


async def _peer_audit(peer: Running, requester: str) -> list[tuple[str, str, str]]:
    """The peer's audit entries naming the requester (action, outcome, request id), read
    as the peer's auditor reads them: through its audit service, the read itself audited."""
    auditing = peer.app.auditing
    if auditing is None:
        raise StepFailed(f"{peer.side.name} has no audit service")
    auditor = Caller(f"{peer.side.name}-auditor", "demo-auditor", Role.AUDITOR, ())
    out: list[tuple[str, str, str]] = []
    token = ""
    while True:
        page = await auditing.query(auditor, EntryFilter(actor_system=requester), page_token=token)
        for entry in page.entries:
            body = json.loads(entry.body)
            out.append((body["action"], body["outcome"], str(body.get("request_id", ""))))
        if not page.next_page_token:
            return out
        token = page.next_page_token


def _answered_by(document: dict[str, Any], home: str) -> dict[int, Counter[tuple[str, str]]]:
    """Per member: (deployment, status) → how many sources."""
    by: dict[int, Counter[tuple[str, str]]] = {}
    for s in document["sources"]:
        where = s.get("deployment") or home
        by.setdefault(int(s["member_index"]), Counter())[(where, s["status"])] += 1
    return by


def _payload(envelope: bytes) -> dict[str, Any]:
    try:
        return unverified_document(envelope)
    except EnvelopeError as exc:
        raise StepFailed(f"the report: {exc}") from None


async def walk(cfg: Config, run_dir: Path, seed: int, summary: Summary) -> tuple[Path, Path]:
    """The deployments, the trust, the household, the check and its report; returns the
    report and peer JWKS files written."""
    console.rule("1. two deployments")
    try:
        home_side = prepare_side(HOME[0], HOME[1], run_dir / HOME[0])
        peer_side = prepare_side(PEER[0], PEER[1], run_dir / PEER[0])
    except PkiError as exc:
        raise StepFailed(f"cannot prepare the PKIs: {exc}") from None
    home_pop, peer_pop = await asyncio.gather(
        asyncio.to_thread(county_population, seed, HOME[1]),
        asyncio.to_thread(county_population, seed, PEER[1]),
    )
    for side in (home_side, peer_side):
        county = COUNTY_BY_CODE[side.region]
        summary.deployments[side.name] = side.region
        console.print(
            f"  {side.name}: {county.name} ({side.region}); its own CA; signing keys"
            f" {', '.join(k[:16] + '…' for k in side.key_ids)} published as a JWKS"
        )
    console.rule("2. each configures the other as a peer and trusts it")
    async with (
        deployment(cfg, home_side, peer_side, home_pop) as home,
        deployment(cfg, peer_side, home_side, peer_pop) as peer,
    ):
        for r in (home, peer):
            console.print(
                f"  {r.side.name}: gRPC on {r.side.endpoint} over mTLS (client CAs: its own"
                f" and the peer's), database {r.config.database_url}, sandbox of"
                f" {COUNTY_BY_CODE[r.side.region].name} on port {r.sandbox.port}"
            )
        passed("trusted both ways; each serves FederationService to the other")

        console.rule("3. one household, split between the counties")
        doc = split_household(home_pop, peer_pop)
        console.print(_members_table(doc, home.side.name, peer.side.name))
        # The case file as the case system keeps it (synthetic people), for a rerun by hand.
        (run_dir / "household.json").write_text(json.dumps(doc, ensure_ascii=False, indent=2))
        summary.members = [
            {
                "member": mask_id_number(m["id_number"]),
                "hukou_region": m.get("hukou_region_code") or doc["household"]["region_code"],
            }
            for m in doc["household"]["members"]
        ]
        client = Client(
            f"localhost:{home.port}",
            user="demo-caseworker",
            credentials=home.side.case_system_credentials(),
        )
        try:
            return await _check(client, doc, home, peer, run_dir, summary)
        finally:
            await client.close()


async def _check(
    client: Client,
    doc: dict[str, Any],
    home: Running,
    peer: Running,
    run_dir: Path,
    summary: Summary,
) -> tuple[Path, Path]:
    """The 授权书 registered, the check at ``home``, its report, who answered what and
    the peer's audit of the 协查; returns the report and peer JWKS files written."""
    registered = await client.register_consent(
        consent_from_json(runtime.consent_doc(doc, date.today()))
    )
    console.print(
        f"  授权书 {registered.consent.number} registered at {home.side.name}"
        f" ({len(registered.consent.subjects)} people,"
        f" {len(registered.consent.signatories)} signatures)"
    )
    console.rule(f"4. the check at {home.side.name}")
    v = await client.create(request_from_json(doc, wait=True), timeout=WAIT_SECONDS)
    console.print(f"  verification {v.verification_id}: report v{v.latest_report_version}")
    v = await _follow(client, v.verification_id)
    if not v.latest_report_version:
        raise StepFailed("no report was issued in time")
    summary.verification_id = v.verification_id
    report = await client.report(v.verification_id)
    summary.report_version = report.summary.version
    report_path = run_dir / "report.dsse.json"
    report_path.write_bytes(report.envelope)
    (run_dir / "keys.jwks.json").write_text(await client.jwks())
    peer_jwks = run_dir / f"{peer.side.name}.jwks.json"
    peer_jwks.write_bytes(peer.side.jwks.read_bytes())
    passed(
        f"report v{report.summary.version} ({runtime.state_name(v.state)}) written to"
        f" {report_path.name}; {home.side.name}'s keys to keys.jwks.json,"
        f" {peer.side.name}'s to {peer_jwks.name}"
    )

    console.rule("5. who answered what")
    document = _payload(report.envelope)
    by = _answered_by(document, home.side.name)
    t = Table("#", "member", "answered by", "sources")
    for i, m in enumerate(doc["household"]["members"]):
        counts = by.get(i, Counter())
        wheres = sorted({w for w, _s in counts})
        summary.answered_by[str(i)] = wheres
        t.add_row(
            str(i),
            mask_id_number(m["id_number"]),
            ", ".join(wheres),
            ", ".join(f"{n} {s.lower()}" for (_w, s), n in sorted(counts.items())),
        )
    console.print(t)
    remote = [i for i, w in summary.answered_by.items() if peer.side.name in w]
    expected = [
        str(i) for i, m in enumerate(doc["household"]["members"]) if m.get("hukou_region_code")
    ]
    if remote != expected:
        raise StepFailed(
            f"the report names {peer.side.name} as answering members {remote}, not {expected}"
        )
    fragments = document.get("fragments") or []
    if not fragments:
        raise StepFailed(f"the report embeds no fragment of {peer.side.name}")
    summary.fragments = [
        {k: f[k] for k in ("peer", "key_id", "envelope_sha256", "release_seq")} for f in fragments
    ]
    for f in summary.fragments:
        console.print(
            f"  fragment of {f['peer']}: envelope sha256 {f['envelope_sha256'][:16]}…, signed by"
            f" key {f['key_id'][:16]}…, {f['peer']}'s release audit entry {f['release_seq']}"
        )
    passed(
        f"member {', '.join(remote)} answered by {peer.side.name} (its signed fragment is"
        f" embedded); the others by {home.side.name}'s own departments"
    )

    console.rule(f"6. {peer.side.name}'s own audit trail of the 协查")
    entries = await _peer_audit(peer, home.side.name)
    summary.peer_audit = [f"{a}:{o}" for a, o, _r in entries]
    for request_id in dict.fromkeys(r for _a, _o, r in entries):
        done = [a if a == o else f"{a} ({o})" for a, o, r in entries if r == request_id]
        console.print(f"  {home.side.name}'s 协查 {request_id}: {' → '.join(done)}")
    if not any(a == "released" for a, _o, _r in entries):
        raise StepFailed(f"{peer.side.name} audited no release of its answer")
    passed(f"{peer.side.name} audited the access with {home.side.name}'s identity")
    return report_path, peer_jwks


def verify_offline(run_dir: Path, report_path: Path, peer_jwks: Path, summary: Summary) -> None:
    """``hedui report verify`` with both key sets, then each embedded fragment checked
    here too against the peer's published keys and the hash the report gives it."""
    # Here, not at the top: the command line's module imports this one's.
    from verifier.cli.main import main

    console.rule("7. the report verified offline, the peer's fragment included")
    keys = run_dir / "keys.jwks.json"
    argv = ["report", "verify", str(report_path), "--keys", str(keys)]
    argv += ["--peer-jwks", f"{PEER[0]}={peer_jwks}"]
    console.print("  $ hedui " + " ".join(argv))
    summary.report_verified = main(argv) == 0
    if not summary.report_verified:
        raise StepFailed("hedui report verify refused the report")
    try:
        published = parse_jwks(peer_jwks.read_bytes())
        document = _payload(report_path.read_bytes())
        for f in fragments_of(document):
            if not envelope_sha256_matches(f):
                raise StepFailed("an embedded fragment's bytes do not hash to its envelope_sha256")
            verified = verify_envelope(f.envelope, published, payload_type=FRAGMENT_PAYLOAD_TYPE)
            passed(
                f"the embedded fragment of {f.peer} verifies against its JWKS"
                f" ({peer_jwks.name}, key {verified.key_id[:16]}…)"
            )
    except (EnvelopeError, EmbeddedFragmentError, JwksError) as exc:
        raise StepFailed(f"an embedded fragment does not verify: {exc}") from None
    summary.fragments_verified = True


async def _audit_logs(cfg: Config, run_dir: Path, summary: Summary) -> None:
    for name, _region in (HOME, PEER):
        side_cfg = replace(
            cfg,
            database_url=f"sqlite:///{run_dir / name / 'hedui.db'}",
            keys_dir=run_dir / name / "keys",
        )
        log = await verify_async(side_cfg, quiet=True)
        summary.audit_logs[name] = log.ok
        if log.ok:
            passed(f"{name}'s audit log verifies: {log.entries} entries, chain and Merkle tree")
        else:
            err.print(f"[red]✗ {name}'s audit log broken[/] at seq {log.first_bad_seq}")


async def demo_federation(cfg: Config, out_dir: Path, seed: int) -> tuple[int, Path]:
    """The whole demo in a fresh directory under ``out_dir``; exit code and directory."""
    run_dir = fresh_directory(out_dir)
    console.rule("hedui demo federation")
    console.print(f"run directory: {run_dir}")
    summary = Summary()
    paths: tuple[Path, Path] | None = None
    try:
        paths = await walk(cfg, run_dir, seed, summary)
    except StepFailed as exc:
        err.print(f"[red]✗ {exc}[/]")
    except grpc.aio.AioRpcError as exc:
        err.print(f"[red]✗ {exc.code().name}[/]: {exc.details()}")
    if paths is not None:
        try:
            await asyncio.to_thread(verify_offline, run_dir, *paths, summary)
        except StepFailed as exc:
            err.print(f"[red]✗ {exc}[/]")
    await _audit_logs(cfg, run_dir, summary)
    (run_dir / "summary.json").write_text(json.dumps(summary.as_json(), indent=2) + "\n")
    if summary.ok:
        console.print("[green]federation demo: every step checked out[/]")
        return 0, run_dir
    err.print("[red]federation demo: a step failed (above)[/]")
    return 1, run_dir


def demo(cfg: Config, args: argparse.Namespace) -> int:
    """``hedui demo [monitoring|federation]``: this walk, or the others'."""
    if getattr(args, "scenario", None) != "federation":
        return demo_monitoring.demo(cfg, args)
    if getattr(args, "insecure_plaintext", False):
        # Peers know each other only by their certificates: there is no plaintext federation.
        err.print("[red]hedui demo federation runs over mTLS only[/] (no --insecure-plaintext)")
        return 2
    code, _dir = asyncio.run(demo_federation(cfg, Path(args.out_dir) / "federation", args.seed))
    return code
