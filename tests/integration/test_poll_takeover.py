"""A server killed while it holds a bank poll lease: another server process picks the
poll up once the lease expires, and issues report version 2."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import date
from pathlib import Path

from sqlalchemy import select

from hedui_sdk import SourceKind
from hedui_sdk.sandbox import SourceFaults, generate_population, start_sandbox
from hedui_sdk.sandbox.server import current_as_of
from tests.integration.test_crash import SYSTEM, config_text, free_port, serving
from verifier.api.client import Client, consent_from_json, request_from_json
from verifier.cli.runtime import consent_doc, household_doc
from verifier.storage.engine import open_database
from verifier.storage.models import ReportRow, SourceOutcomeRow


async def leased_by_someone(database_url: str) -> None:
    """Wait until a server process holds a lease on a pending bank poll."""
    db = open_database(database_url)
    try:
        while True:
            async with db.read_sessions() as s:
                held = (
                    await s.execute(
                        select(SourceOutcomeRow.lease_owner).where(
                            SourceOutcomeRow.lease_owner.is_not(None)
                        )
                    )
                ).first()
            if held:
                return
            await asyncio.sleep(0.05)  # polling another process's database writes
    finally:
        await db.dispose()


async def test_a_killed_poll_holder_is_replaced_by_another_process(
    database_url: str, tmp_path: Path
) -> None:
    pop = generate_population(3, households_per_county=20, as_of=current_as_of())
    # The bank answers 4 s after the question: long enough to kill the first poller. Each
    # poll takes 1.5 s, so the poller holds its lease long enough to be seen holding it.
    sb = await start_sandbox(
        population=pop, faults={SourceKind.BANK: SourceFaults(async_delay_s=4.0, latency_ms=1500)}
    )
    env = {**os.environ, "HEDUI_LOG_LEVEL": "WARNING"}
    procs: list[asyncio.subprocess.Process] = []
    try:
        ports = [free_port(), free_port()]
        cfgs = []
        for i, port in enumerate(ports):
            cfg = tmp_path / f"hedui-{i}.toml"
            cfg.write_text(
                config_text(
                    database_url,
                    tmp_path / "keys",
                    port,
                    sb.port,
                    (SourceKind.BANK,),
                    "poll_lease_seconds = 2",
                )
            )
            cfgs.append(cfg)
        cmd = [sys.executable, "-m", "verifier.cli.main", "--config"]
        procs.append(await asyncio.create_subprocess_exec(*cmd, str(cfgs[0]), "serve", env=env))
        target_a = f"127.0.0.1:{ports[0]}"
        await serving(target_a)
        doc = household_doc(pop, "370322", 0)
        async with Client(target_a, user="w", system=SYSTEM) as c:
            await c.register_consent(consent_from_json(consent_doc(doc, date.today())))
            v = await c.create(request_from_json(doc, wait=True))
        assert v.latest_report_version == 1
        await asyncio.wait_for(leased_by_someone(database_url), 30)
        procs[0].send_signal(signal.SIGKILL)
        await asyncio.wait_for(procs[0].wait(), 10)

        procs.append(await asyncio.create_subprocess_exec(*cmd, str(cfgs[1]), "serve", env=env))
        target_b = f"127.0.0.1:{ports[1]}"
        await serving(target_b)
        async with Client(target_b, user="w", system=SYSTEM) as c:
            async with asyncio.timeout(60):
                async for event in c.watch(v.verification_id):
                    if (
                        event.WhichOneof("event") == "report_issued"
                        and event.report_issued.version == 2
                    ):
                        break
            latest = await c.report(v.verification_id)
        assert latest.summary.version == 2
        db = open_database(database_url)
        try:
            async with db.read_sessions() as s:
                versions = (
                    (
                        await s.execute(
                            select(ReportRow.version).where(
                                ReportRow.verification_id == v.verification_id
                            )
                        )
                    )
                    .scalars()
                    .all()
                )
        finally:
            await db.dispose()
        assert sorted(versions) == [1, 2]
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()
        await sb.stop()
