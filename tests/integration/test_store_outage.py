"""Storage outages as an operator meets them, on real components: a private PostgreSQL
cluster stopped and restarted under load, a SQLite database on a full filesystem, and
one its server process may not write. Every refusal is UNAVAILABLE with a retry hint
(never INTERNAL), health is NOT_SERVING exactly while the store refuses writes, and a
run the outage interrupted is resumed as soon as the store is back, not when its lease
runs out."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from hedui.v1 import common_pb2
from hedui.v1 import verification_pb2 as pb
from sqlalchemy import text

from hedui_sdk import SourceKind, SourceQuery, SourceResult
from tests.fakes import FakeAdapter
from tests.helpers import APPLICANT_ID, SPOUSE_ID, SYSTEM, make_app
from tests.integration.test_grpc_api import good_request, member, request
from tests.store_outage import (
    NOT_SERVING,
    SERVING,
    fill,
    free_port,
    health_becomes,
    private_cluster,
    small_filesystem,
    unavailable_details,
    unprivileged_server,
)
from verifier.api.client import Client
from verifier.bootstrap import serve_app
from verifier.domain.source_policy import SourcePolicy
from verifier.storage.migrate import upgrade
from verifier.storage.uow import SqlStore

pytestmark = pytest.mark.slow

IN_FLIGHT = 6
# A run's lease is its deadline plus a grace of 30 s. A run retries its release for a
# minute before it gives up; an outage longer than that must not leave the run waiting
# for its lease: it is resumed within RECOVERY_S of the database's return.
DEADLINE_S = 120.0
RECOVERY_S = 40.0
CALLER_TIMEOUT_S = 15.0
HEALTH_S = 30.0


class GatedAdapter(FakeAdapter):
    """Answers only once ``go_on`` is set; ``asked`` is set when ``expected`` queries wait."""

    def __init__(self, source: SourceKind, expected: int) -> None:
        super().__init__(source)
        self.go_on = asyncio.Event()
        self.asked = asyncio.Event()
        self._expected = expected
        self._waiting = 0

    async def query(self, q: SourceQuery) -> SourceResult:
        self._waiting += 1
        if self._waiting >= self._expected:
            self.asked.set()
        await self.go_on.wait()
        return await super().query(q)


def _check(n: int) -> pb.CreateVerificationRequest:
    return request(
        member(APPLICANT_ID, common_pb2.RELATION_APPLICANT),
        member(SPOUSE_ID, common_pb2.RELATION_SPOUSE),
        request_id=f"outage-{n}",
        wait=True,
    )


def _refusal(err: grpc.aio.AioRpcError) -> str:
    delay, reason = unavailable_details(err)
    assert delay > 0
    assert reason == "STORE_UNAVAILABLE"
    assert "SELECT" not in (err.details() or "").upper()  # no SQL text leaked
    return "UNAVAILABLE"


async def _outcome(client: Client, n: int) -> str:
    """What the caller of check ``n`` was told: OK, or UNAVAILABLE with a retry hint and
    the reason STORE_UNAVAILABLE. Anything else (INTERNAL) fails the test."""
    try:
        await client.create(_check(n), timeout=CALLER_TIMEOUT_S)
    except grpc.aio.AioRpcError as err:
        return _refusal(err)
    return "OK"


def _chmod_database(directory: Path, mode: int) -> None:
    """The database file and, when they exist, its WAL and shared memory."""
    for f in directory.iterdir():
        if f.name.startswith("hedui.db"):
            f.chmod(mode)


@pytest.mark.timeout(300)
async def test_postgres_stopped_under_load_then_restarted(tmp_path: Path) -> None:
    with private_cluster() as cluster:
        upgrade(cluster.url)
        tax = GatedAdapter(SourceKind.TAX, expected=2 * IN_FLIGHT)  # two members each
        app = await make_app(
            cluster.url,
            tmp_path / "keys",
            {SourceKind.TAX: tax},
            # Every member of every check at the source at once, and no answer timed out
            # while the test holds them.
            {SourceKind.TAX: SourcePolicy(timeout=DEADLINE_S, max_concurrency=4 * IN_FLIGHT)},
            deadline_seconds=DEADLINE_S,
            poll_interval=0.2,
            lock_timeout_ms=1000,
        )
        server = await serve_app(app, "127.0.0.1:0", health_interval=0.2)
        target = f"127.0.0.1:{server.port}"
        try:
            await health_becomes(target, SERVING, HEALTH_S)
            async with Client(target, user="w", system=SYSTEM) as c:
                callers = [asyncio.create_task(_outcome(c, n)) for n in range(IN_FLIGHT)]
                await asyncio.wait_for(tax.asked.wait(), HEALTH_S)  # all are in flight

                runs = [t for t in asyncio.all_tasks() if t.get_name().startswith("verification-")]
                assert len(runs) == IN_FLIGHT

                cluster.stop()
                tax.go_on.set()  # their answers come while the database is down
                # The callers are answered at their deadline; never INTERNAL.
                told = await asyncio.gather(*callers)
                assert set(told) == {"UNAVAILABLE"}
                await health_becomes(target, NOT_SERVING, HEALTH_S)
                assert await _outcome(c, IN_FLIGHT) == "UNAVAILABLE"
                # The runs give up their releases: the outage outlasts their retries.
                await asyncio.wait_for(asyncio.wait(runs), 2 * RECOVERY_S)

                cluster.start()
                await health_becomes(target, SERVING, HEALTH_S)
                assert isinstance(app.store, SqlStore)
                async with app.store.db.read_sessions() as s:
                    found = await s.execute(text("SELECT id FROM verifications"))
                    vids = [str(v) for v in found.scalars()]
                assert len(vids) == IN_FLIGHT

                async def released(vid: str) -> None:
                    async for _event in c.watch(vid):
                        pass  # the stream ends when the verification is DONE
                    assert (await c.get(vid)).latest_report_version >= 1

                # Resumed now, not when the runs' leases (deadline + 30 s) run out.
                await asyncio.wait_for(asyncio.gather(*(released(v) for v in vids)), RECOVERY_S)
                v = await c.create(_check(IN_FLIGHT + 1))
                assert v.latest_report_version == 1
        finally:
            await server.stop(0)
            await app.aclose()


async def test_sqlite_disk_full_is_unavailable_and_not_serving(tmp_path: Path) -> None:
    with small_filesystem() as disk:
        url = f"sqlite:///{disk}/hedui.db"
        upgrade(url)
        app = await make_app(url, tmp_path / "keys", {SourceKind.TAX: FakeAdapter(SourceKind.TAX)})
        server = await serve_app(app, "127.0.0.1:0", health_interval=0.1)
        target = f"127.0.0.1:{server.port}"
        try:
            await health_becomes(target, SERVING, HEALTH_S)
            async with Client(target, user="w", system=SYSTEM) as c:
                assert (await c.create(good_request())).latest_report_version == 1
                filler = fill(disk)
                await health_becomes(target, NOT_SERVING, HEALTH_S)  # before any request fails
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await c.create(_check(1))
                delay, reason = unavailable_details(refused.value)
                assert delay > 0 and reason == "STORE_UNAVAILABLE"

                filler.unlink()
                await health_becomes(target, SERVING, HEALTH_S)
                assert (await c.create(_check(2))).latest_report_version == 1
        finally:
            await server.stop(0)
            await app.aclose()


async def test_sqlite_read_only_is_unavailable_and_not_serving(tmp_path: Path) -> None:
    db = tmp_path / "hedui.db"
    url = f"sqlite:///{db}"
    upgrade(url)
    _chmod_database(tmp_path, 0o444)
    port = free_port()
    async with unprivileged_server(url, tmp_path / "keys", port) as target:
        await health_becomes(target, NOT_SERVING, HEALTH_S)
        async with Client(target, user="w", system=SYSTEM) as c:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await c.create(good_request())
            delay, reason = unavailable_details(refused.value)
            assert delay > 0 and reason == "STORE_UNAVAILABLE"

            # The operator makes the database (and its WAL and shared memory) writable.
            _chmod_database(tmp_path, 0o644)
            await health_becomes(target, SERVING, HEALTH_S)
            assert (await c.create(good_request())).latest_report_version == 1
