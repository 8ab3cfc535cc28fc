"""Generative test over the whole gRPC API (issue 12, item 6).

Every RPC of every service in ``hedui.v1`` — found in the generated descriptors, so a new
RPC is covered the day it is added — is called on a real grpc.aio server on a free port,
with requests hypothesis builds from the message descriptors (tests/proto_strategies/):
wholly generated ones, valid ones, near-valid ones (a valid request with one or two fields
changed, so that the checks behind the first one are reached too), ones the size of
gRPC's receive limit, and bytes the message API cannot make (a string that is not UTF-8,
a message cut short, a bad tag or varint, noise), which must be INVALID_ARGUMENT. After
every call:

* the status is never INTERNAL or UNKNOWN (nor UNIMPLEMENTED, UNAVAILABLE, DATA_LOSS, and
  a unary call never runs into its deadline), and no error is logged — an accepted check
  whose background run crashes is a crash too, even if the RPC answered OK;
* every INVALID_ARGUMENT carries a ``google.rpc.BadRequest`` whose field violations each
  name a field of the request (bytes that do not parse may name the whole, e.g. "request");
* a refusal writes nothing: INVALID_ARGUMENT and UNAUTHENTICATED change no table (row
  counts of every table and the audit log's size are compared); PERMISSION_DENIED writes
  exactly the one audit entry the design requires — outcome ``deny``, the RPC's action
  (``authorize`` for a check, ``consent_*`` for the 授权书 registry, ``audit_read`` for the
  audit log, ``report_read`` for a report) and the ErrorInfo reason — and nothing outside
  the audit log; every other refusal leaves every table outside the audit log as it was;
* input the issue says must never get through is refused with INVALID_ARGUMENT, whoever
  calls: a resident ID number that is not ASCII ``[0-9]{17}[0-9X]`` with a valid check
  digit, a control character in any field but free text, a resident ID number in a field
  that is not for personal data, a value not in its documented format (region code,
  request id, dates, SHA-256, verification id), an enum number the enum does not define,
  a timestamp outside 0001–9999, a negative count, size, index or amount, or a page size,
  disability grade or declared member count above its documented bound (a PERMISSION_DENIED
  for ROLE_NOT_ALLOWED, decided before the request is read, counts as a refusal; so does
  an item a ``partial`` request's answer lists as rejected, by its ``index``, and an item
  a SubmitBatch answer lists as REFUSED, by its ``index``, with field violations that
  each name a field of that item — the batch is accepted and the item is not run);
* a valid SubmitBatch is accepted with no item refused (and, over the run, accepted
  items are seen at all: the seed reaches the queue);
* a ``validate_only`` request writes nothing outside the audit log, whatever the answer;
* no answer is larger than a client accepts (gRPC's 4 MiB);
* no ID number from the request appears in the error text or in any audit entry written.

Fields the proto comments mark "Output only" are ignored in requests (AIP-203), so the
rules leave them out. A service the generated code has and the server does not serve
(yet) is skipped, with the reason; the day it is wired, it is fuzzed. FederationService,
whose caller is a peer's client certificate rather than metadata, is fuzzed by the same
rules over mTLS in tests/integration/test_api_fuzz_federation.py.

The server runs without its background work (poller, checkpointer, release listener):
they write on their own schedule, and a row they wrote could not be told from one the
refused call wrote. A verification's own run is awaited after each call instead.

One server per database per module: SQLite with up to 200 examples per RPC, PostgreSQL
with up to 40 (fewer for requests of one or two fields, see ``examples_for``). Hypothesis
is derandomized: the same examples on every run, in CI too. Every example runs, and each
kind of failure (rule, RPC, field) is reported once, with the first request that showed
it; strings that could be ID numbers are shown by shape only. HEDUI_FUZZ_SHRINK=1 has
hypothesis shrink each kind to a minimal request instead (minutes; a local run), and
HEDUI_FUZZ_SCALE multiplies the example counts.

The parts live in tests/api_fuzz/: the API and the values that must be refused
(``api``), the world set up first (``world``), the requests (``requests``), the rules
judged after each call (``rules``) and the server and call (``fuzzer``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from hypothesis import HealthCheck, assume, given, settings
from sqlalchemy import inspect

from hedui_sdk import SourceKind
from tests.api_fuzz.api import BUDGET_SECONDS, CALL_TIMEOUT, METHODS, PHASES, SYSTEM, SYSTEM_B
from tests.api_fuzz.fuzzer import Fuzz
from tests.api_fuzz.module import module_database
from tests.api_fuzz.requests import Case, cases, examples_for
from tests.api_fuzz.world import CREATE_IDS, World, build_world
from tests.fakes import FakeAdapter
from tests.helpers import make_app
from verifier.api.server import RunningServer
from verifier.bootstrap import App, serve_app
from verifier.config import Principal
from verifier.storage.uow import SqlStore


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def fuzz(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pg_template: str | None,
) -> Iterator[Fuzz]:
    kind = str(request.param)
    tmp = tmp_path_factory.mktemp(f"fuzz-{kind}")
    with module_database(kind, tmp, pg_template) as url, asyncio.Runner() as runner:
        app, server, world, tables, served = runner.run(_start(url, tmp / "keys"))
        fz = Fuzz(runner, app, server, world, tables, kind, served)
        try:
            yield fz
        finally:
            runner.run(_stop(fz))


async def _start(
    url: str, keys: Path
) -> tuple[App, RunningServer, World, list[str], frozenset[str]]:
    principals = {
        SYSTEM: Principal(SYSTEM, ("caseworker", "reviewer", "auditor"), ("3703",)),
        SYSTEM_B: Principal(SYSTEM_B, ("caseworker",), ("3418",)),
    }
    adapters = {
        SourceKind.TAX: FakeAdapter(SourceKind.TAX, income_fen={CREATE_IDS[0]: 98_000}),
        SourceKind.REAL_ESTATE: FakeAdapter(
            SourceKind.REAL_ESTATE, asset_fen={CREATE_IDS[1]: 30_000_000}
        ),
    }
    app = await make_app(
        url,
        keys,
        adapters,
        real_consents=True,
        principals=principals,
        volume_soft=10**6,
        volume_hard=10**6,
    )
    # No background writers (see the module docstring): serve_app starts them, so not here.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(app, "start_background", lambda: None)
        server = await serve_app(app, "127.0.0.1:0", health_interval=3600)
    world = await build_world(app)
    served = await _served(server.port)
    assert isinstance(app.store, SqlStore)
    async with app.store.db.read_sessions() as s:
        tables = await s.run_sync(lambda sync: inspect(sync.connection()).get_table_names())
    return app, server, world, sorted(tables), served


async def _served(port: int) -> frozenset[str]:
    """The services the server says (by reflection) it serves."""
    names: set[str] = set()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        ask = reflection_pb2.ServerReflectionRequest(list_services="")
        async for answer in stub.ServerReflectionInfo(iter([ask]), timeout=CALL_TIMEOUT):
            names |= {s.name for s in answer.list_services_response.service}
    return frozenset(names)


async def _stop(fz: Fuzz) -> None:
    await fz.channel.close()
    await fz.server.stop(0)
    await fz.app.aclose()


# --------------------------------------------------------------------------- the test
@pytest.mark.parametrize(
    "method", METHODS, ids=[f"{m.containing_service.name}.{m.name}" for m in METHODS]
)
def test_generated_requests_never_crash_and_refusals_write_nothing(
    fuzz: Fuzz, method: MethodDescriptor
) -> None:
    service = method.containing_service.full_name
    if service not in fuzz.served:
        # Wiring a new service is its own change; from then on it is fuzzed here.
        pytest.skip(f"{service} is in the generated API but this server does not serve it")
    strategy = cases(method, fuzz.valid.get(method.full_name))
    fuzz.stats.clear()
    fuzz.accepted_items = 0
    started = time.monotonic()

    @settings(
        max_examples=examples_for(method, fuzz.backend, seeded=method.full_name in fuzz.valid),
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
        phases=PHASES,
    )
    @given(strategy)
    def run(case: Case) -> None:
        # Past the budget (calls running into their deadline), the remaining examples are
        # dropped rather than holding up the suite; failures found so far are reported.
        assume(time.monotonic() - started < BUDGET_SECONDS)
        fuzz.runner.run(fuzz.check(method, case))

    fuzz.found.clear()
    try:
        run()
    finally:
        total = sum(fuzz.stats.values())
        print(
            f"\n{method.full_name}: {total} calls in {time.monotonic() - started:.1f}s; "
            + ", ".join(f"{k} {n}" for k, n in sorted(fuzz.stats.items()))
            + (f"; {fuzz.accepted_items} batch items accepted" if fuzz.accepted_items else "")
        )
    if method.full_name == "hedui.v1.BatchService.SubmitBatch":
        # The seed must reach the queue, or the fuzz only ever sees refusals.
        assert fuzz.accepted_items > 0, f"no batch item accepted: {dict(fuzz.stats)}"
    if fuzz.found:
        pytest.fail(
            f"{len(fuzz.found)} kinds of failure in {total} calls:\n\n"
            + "\n\n".join(f"[{key}]\n{text}" for key, text in sorted(fuzz.found.items())),
            pytrace=False,
        )
