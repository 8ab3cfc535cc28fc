"""The conformance kit against ``hedui sandbox``, started in-process for each test.

The sandbox runs in a thread with its own event loop, so the adapter's event loop holds
only the adapter's tasks (the cancellation test looks for leftovers there) and a
misbehaving adapter cannot starve the department it talks to.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import secrets
import threading
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import date, timedelta
from typing import Any, ClassVar, TypeVar

import pytest

from hedui_sdk import registry, resident_id
from hedui_sdk.contract import (
    Adapter,
    AdapterSettings,
    IdType,
    ResultStatus,
    Secret,
    SourceKind,
    Subject,
    Window,
)
from hedui_sdk.sandbox import (
    DEFAULT_SEED,
    Population,
    SandboxHandle,
    SourceFaults,
    generate_population,
    start_sandbox,
)
from hedui_sdk.sandbox.facts import AssetFact, ContributionFact, IncomeFact, overlaps
from hedui_sdk.testing.conformance import AdapterConformance
from hedui_sdk.testing.faults import Faults
from hedui_sdk.validation import money_fields

T = TypeVar("T")

START_TIMEOUT_S = 30.0
"""The most starting or stopping the sandbox thread may take."""


@functools.cache
def sandbox_population(seed: int, households_per_county: int) -> Population:
    """The synthetic population, generated once per process for each (seed, size)."""
    return generate_population(seed, households_per_county=households_per_county)


class SandboxServer:
    """``start_sandbox`` on a free loopback port, served by a thread of its own.

    ``handle`` is the :class:`~hedui_sdk.sandbox.SandboxHandle`; call its coroutine
    methods from any event loop with :meth:`run`. Stop it with :meth:`stop`.
    """

    def __init__(self, **sandbox_kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="hedui-sandbox", daemon=True
        )
        self._thread.start()
        try:
            self.handle: SandboxHandle = self._submit(start_sandbox(**sandbox_kwargs)).result(
                timeout=START_TIMEOUT_S
            )
        except BaseException:
            self._halt()
            raise

    def _submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the sandbox's loop and await its result from the caller's loop."""
        return await asyncio.wrap_future(self._submit(coro))

    def stop(self) -> None:
        """Release hanging requests, stop the server and the thread."""
        try:
            self._submit(self.handle.stop()).result(timeout=START_TIMEOUT_S)
        finally:
            self._halt()

    def _halt(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=START_TIMEOUT_S)
        if not self._thread.is_alive():
            self._loop.close()


class SandboxFaults(Faults):
    """:class:`~hedui_sdk.testing.Faults` for one sandbox department, through its knobs."""

    def __init__(self, server: SandboxServer, source: SourceKind) -> None:
        self._server = server
        self._source = source

    async def _set(self, faults: SourceFaults) -> None:
        await self._server.run(self._server.handle.set_faults(self._source, faults))

    async def reset(self) -> None:
        """Every knob off: the department answers synchronously and correctly."""
        await self._set(SourceFaults())

    async def fail(self) -> None:
        """``error_rate=1``: every request answers HTTP 503."""
        await self._set(SourceFaults(error_rate=1.0))

    async def hang(self) -> None:
        """``hang_rate=1``: every request is held until the client gives up."""
        await self._set(SourceFaults(hang_rate=1.0))

    async def garbage(self) -> None:
        """``garbage_rate=1``: every request answers 200 with a malformed body."""
        await self._set(SourceFaults(garbage_rate=1.0))

    async def deny(self) -> None:
        """``deny_rate=1``: every request answers HTTP 403 FORBIDDEN."""
        await self._set(SourceFaults(deny_rate=1.0))

    async def rate_limit(self) -> None:
        """``rate_limit_rps=0.01``: one request passes, the next get 429 for ~100 s."""
        await self._set(SourceFaults(rate_limit_rps=0.01))

    async def asynchronous(self, delay_s: float) -> None:
        """``async_delay_s``: queries answer 202 with a ticket, ready ``delay_s`` later."""
        await self._set(SourceFaults(async_delay_s=delay_s))

    async def wait_hanging(self, count: int = 1) -> None:
        """Until the sandbox holds ``count`` hanging requests."""
        await self._server.run(self._server.handle.wait_hanging(count))


class SandboxConformance(AdapterConformance):
    """The conformance kit against the in-process sandbox: name the adapter and the source.

    A team whose adapter speaks docs/gateway-protocol.md writes only::

        class TestConformance(SandboxConformance):
            source = SourceKind.TAX
            factory = create          # create(settings: AdapterSettings) -> Adapter

    or sets ``entry_point = "my-adapter"`` to create it through hedui's registry (as
    ``hedui adapter test`` does). Each test starts a fresh sandbox with a random token;
    ``self.sandbox`` is its handle and :meth:`settings` the adapter settings for it.
    """

    source: ClassVar[SourceKind | str]
    """The source the adapter answers for: picks the sandbox department."""
    factory: ClassVar[Callable[[AdapterSettings], Adapter] | None] = None
    """``create(settings) -> Adapter``; used when ``entry_point`` is not set."""
    entry_point: ClassVar[str | None] = None
    """An installed ``hedui.adapters`` entry point to create the adapter through."""
    seed: ClassVar[int] = DEFAULT_SEED
    """The sandbox population's seed."""
    households_per_county: ClassVar[int] = 20
    """The sandbox population's size (five counties)."""
    adapter_timeout_s: ClassVar[float] = 5.0
    """``AdapterSettings.timeout`` given to the adapter."""
    extra_credentials: ClassVar[Mapping[str, str]] = {}
    """Credentials your adapter needs besides the sandbox's ``token`` (e.g. an app key).

    Given to the adapter as :class:`~hedui_sdk.contract.Secret` values and checked, like
    the token, never to appear in any output."""
    extra_options: ClassVar[Mapping[str, str]] = {}
    """``AdapterSettings.options`` your adapter needs (e.g. a branch code)."""

    sandbox: SandboxHandle
    _server: SandboxServer
    _token: str

    @pytest.fixture(autouse=True)
    def _run_sandbox(self) -> Iterator[None]:
        self._token = f"conformance-{secrets.token_hex(16)}"
        self._server = SandboxServer(
            population=self.population(),
            tokens={self.source_kind(): self._token},
            faults={s: SourceFaults() for s in SourceKind},
        )
        self.sandbox = self._server.handle
        try:
            yield
        finally:
            self._server.stop()

    def test_money_matches_the_department(self) -> None:
        """Every record's fen are the department's own, record by record (no yuan, no
        rounding), with the department's ``record_id`` carried over unchanged."""
        source = self.source_kind()
        subject = self.subject_with_records()
        person = self.population().lookup(subject.id_type, subject.id_number)
        assert person is not None
        w = self.window()
        held = {
            f.record_id: _fact_money(f)
            for f in person.facts_for(source)
            if overlaps(f, w.start, w.end)
        }

        async def body(adapter: Adapter) -> None:
            result = await self.answer(adapter, subject)
            assert result.status is ResultStatus.FOUND, (
                f"expected FOUND for subject_with_records(), got {result.status.value}"
            )
            answered = {r.provenance.record_id: _record_money(r) for r in result.records}
            missing = sorted(set(held) - set(answered))
            assert not missing, (
                f"{len(missing)} of the department's {len(held)} records are missing or"
                " renamed: provenance.record_id must be the department's own id"
            )
            wrong = []
            for record_id, money in held.items():
                for field_name, want in money.items():
                    got = answered[record_id].get(field_name)
                    if got != want:
                        hint = (
                            " (yuan instead of fen?)"
                            if type(got) is int and abs(want - got * 100) < 100
                            else ""
                        )
                        wrong.append(
                            f"record {record_id}: {field_name} differs from the department's{hint}"
                        )
            assert not wrong, "; ".join(wrong)

        self.run_with_adapter(body)

    def source_kind(self) -> SourceKind:
        """``source`` as a :class:`~hedui_sdk.contract.SourceKind`."""
        return SourceKind(self.source)

    def population(self) -> Population:
        """The population the sandbox serves."""
        return sandbox_population(self.seed, self.households_per_county)

    def settings(self) -> AdapterSettings:
        """Settings pointing at this test's sandbox department, with its token (and
        :attr:`extra_credentials` and :attr:`extra_options`)."""
        base = self.sandbox.settings(self.source_kind(), timeout=self.adapter_timeout_s)
        extra = {key: Secret(value) for key, value in self.extra_credentials.items()}
        return replace(
            base,
            credentials={**extra, **base.credentials},
            options={**base.options, **self.extra_options},
        )

    def make_adapter(self) -> Adapter:
        """The adapter from ``entry_point`` (through the registry) or ``factory``."""
        settings = self.settings()
        if self.entry_point:
            return create_from_entry_point(self.entry_point, settings)
        factory = type(self).factory
        if factory is None:
            raise NotImplementedError(
                f"{type(self).__name__} must set factory, entry_point or override make_adapter()"
            )
        return factory(settings)

    def window(self) -> Window:
        """The 365 days up to the day the sandbox's data ends."""
        end = self.population().as_of
        return Window(end - timedelta(days=364), end)

    def subject_with_records(self) -> Subject:
        """The first sandbox resident the department holds records on within the window."""
        source, w = self.source_kind(), self.window()
        for person in self.population().persons_with(source):
            if any(overlaps(f, w.start, w.end) for f in person.facts_for(source)):
                return person.subject
        raise LookupError(f"nobody in the sandbox has {source.value} records")  # pragma: no cover

    def subject_without_records(self) -> Subject:
        """A resident the department holds nothing on, or a stranger to the population."""
        for person in self.population().persons_without(self.source_kind()):
            return person.subject
        # Everyone is registered somewhere (户籍): ask about a valid number nobody holds.
        population = self.population()
        for sequence in range(1000):
            number = resident_id.make("341824", date(1961, 3, 3), sequence)
            if population.lookup(IdType.RESIDENT_ID, number) is None:
                return Subject(IdType.RESIDENT_ID, number, "王五")
        raise LookupError("no free resident ID number")  # pragma: no cover

    def secret_values(self) -> Iterable[str]:
        """The sandbox token, random for each test, and :attr:`extra_credentials`."""
        return [self._token, *self.extra_credentials.values()]

    def faults(self) -> Faults:
        """The sandbox department's fault knobs."""
        return SandboxFaults(self._server, self.source_kind())


def _fact_money(fact: object) -> dict[str, int]:
    if isinstance(fact, IncomeFact):
        return {"amount_fen": fact.amount_fen}
    if isinstance(fact, AssetFact):
        return {"value_fen": fact.value_fen}
    if isinstance(fact, ContributionFact):
        return {"base_fen": fact.base_fen, "paid_fen": fact.paid_fen}
    return {}


def _record_money(record: object) -> dict[str, object]:
    return {k: v for k, v in money_fields(record).items() if k.endswith("_fen")}


def create_from_entry_point(name: str, settings: AdapterSettings) -> Adapter:
    """Create the adapter registered as ``name`` exactly as hedui would (allowlisted)."""
    available = registry.discover()
    if name not in available:
        raise LookupError(f"no entry point named {name!r} in group {registry.GROUP!r}")
    adapters, _ = registry.load({name: settings}, {name: available[name]})
    return adapters[name]
