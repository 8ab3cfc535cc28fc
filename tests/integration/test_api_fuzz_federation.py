"""The generic API fuzz (tests/integration/test_api_fuzz.py) over FederationService.

A peer deployment is served over mutual TLS on a free port, on SQLite and PostgreSQL,
with a trusted requester and one answer already given. Its RPCs get valid, near-valid,
wholly generated, oversized and wire requests from four identities (tests/api_fuzz/
federation.py), and every answer is judged by the generic rules: never INTERNAL or
UNKNOWN, an INVALID_ARGUMENT names the bad fields, a refusal writes nothing but its one
audited deny entry (PERMISSION_DENIED, action ``authorize``) — no answer kept —, values
the proto documents as refused never get through, no ID number in an error or an audit
entry. After each RPC's run the audit log still verifies, and exactly one answer is kept
per first answer the server gave.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf.descriptor import MethodDescriptor
from hypothesis import HealthCheck, assume, given, settings
from sqlalchemy import inspect

from tests.api_fuzz.api import BUDGET_SECONDS, PHASES
from tests.api_fuzz.federation import (
    METHODS,
    FederationFuzz,
    assist_request,
    federation_cases,
    start_peer,
    uncover,
)
from tests.api_fuzz.module import module_database
from tests.api_fuzz.requests import Case, examples_for
from verifier.bootstrap import App, audit_verifier_keys, verify_audit_log
from verifier.storage.uow import SqlStore


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def fuzz(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pg_template: str | None,
) -> Iterator[FederationFuzz]:
    kind = str(request.param)
    tmp = tmp_path_factory.mktemp(f"fuzz-federation-{kind}")
    with module_database(kind, tmp, pg_template) as url, asyncio.Runner() as runner:
        fz = runner.run(_start(runner, url, kind, tmp))
        try:
            yield fz
        finally:
            runner.run(_stop(fz))


async def _start(runner: asyncio.Runner, url: str, kind: str, tmp: Path) -> FederationFuzz:
    with pytest.MonkeyPatch.context() as mp:
        # No background writers: a row they wrote could not be told from one a call wrote.
        mp.setattr(App, "start_background", lambda self: None)
        app, server, world = await start_peer(url, tmp)
    assert isinstance(app.store, SqlStore)
    async with app.store.db.read_sessions() as s:
        tables = await s.run_sync(lambda sync: inspect(sync.connection()).get_table_names())
    return FederationFuzz(runner, app, server, world, sorted(tables), kind)


async def _stop(fz: FederationFuzz) -> None:
    await fz.close()
    await fz.server.stop(0)
    await fz.app.aclose()


async def _answers_kept(fz: FederationFuzz) -> int:
    return (await fz.snapshot()).rows["federation_answers"]


@pytest.mark.parametrize("method", METHODS, ids=[m.name for m in METHODS])
def test_generated_federation_requests_never_crash_and_refusals_write_nothing(
    fuzz: FederationFuzz, method: MethodDescriptor
) -> None:
    strategy = federation_cases(method, fuzz.valid.get(method.full_name))
    fuzz.stats.clear()
    fuzz.answers_given = 0
    kept_before = fuzz.runner.run(_answers_kept(fuzz))
    started = time.monotonic()

    @settings(
        max_examples=examples_for(method, fuzz.backend, seeded=True),
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
        phases=PHASES,
    )
    @given(strategy)
    def run(case: Case) -> None:
        assume(time.monotonic() - started < BUDGET_SECONDS)
        fuzz.runner.run(fuzz.check(method, case))

    if method.name == "Assist":
        # Judged like every generated case, and sent whatever the generated ones hold: a
        # covered ask (answered, kept once) and one the agreement does not cover (refused,
        # one deny entry, nothing kept). Which generated asks are well-formed depends on
        # hypothesis' derandomized draw and on how many fit in the time budget.
        for n, gap in enumerate(("", "source not agreed")):
            ask = assist_request(f"seed-{fuzz.backend}-{n}", [0])
            uncover(ask, gap)
            fuzz.runner.run(fuzz.check(method, Case("valid", "peer", ask)))
    run()
    assert not fuzz.found, "\n\n".join(f"{k}\n{v}" for k, v in fuzz.found.items())
    # Every first answer is kept once, and nothing else is: a refusal keeps no answer.
    kept = fuzz.runner.run(_answers_kept(fuzz)) - kept_before
    assert kept == fuzz.answers_given
    if method.name == "Assist":
        # The run reached the answer and the agreement's and 授权书's refusals, not only
        # the boundary's in front of them.
        assert fuzz.answers_given > 0, dict(fuzz.stats)
        assert fuzz.stats["valid PERMISSION_DENIED"] > 0, dict(fuzz.stats)
    log = fuzz.runner.run(
        verify_audit_log(fuzz.app.config, verifier_keys=audit_verifier_keys(fuzz.app.config))
    )
    assert log.ok, log.problem
