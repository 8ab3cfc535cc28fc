"""The built-in gateway adapters against the sandbox, over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import functools
import importlib
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest

from hedui_sdk import (
    Adapter,
    AdapterSettings,
    HouseholdRegistrationRecord,
    IdType,
    PermanentSourceError,
    ResultStatus,
    Secret,
    SourceDenied,
    SourceKind,
    SourceQuery,
    SourceRateLimited,
    Subject,
    TransientSourceError,
    Window,
    mask_id_number,
    resident_id,
)
from hedui_sdk.builtin import FACTORIES
from hedui_sdk.sandbox import (
    Person,
    Population,
    SandboxHandle,
    SourceFaults,
    generate_population,
    start_sandbox,
)
from hedui_sdk.sandbox.facts import overlaps
from hedui_sdk.validation import money_fields

SEED = 5


def assert_absent(secret: str, text: str) -> None:
    """Fail if ``secret`` (an ID number or name) shows in ``text``, without printing it."""
    if secret and secret in text:
        raise AssertionError(f"found {mask_id_number(secret)} ({len(secret)} chars) in output")


@functools.cache
def population() -> Population:
    return generate_population(SEED, households_per_county=40)


def window() -> Window:
    as_of = population().as_of
    return Window(as_of - timedelta(days=364), as_of)


def query_for(person: Person | Subject, *, seconds: float = 5.0) -> SourceQuery:
    subject = person.subject if isinstance(person, Person) else person
    return SourceQuery(
        subject=subject,
        window=window(),
        region="370322",
        purposes=("dibao",),
        request_id=str(uuid.uuid4()),
        deadline=time.monotonic() + seconds,
    )


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxHandle]:
    # The bank is synchronous unless a test makes it asynchronous.
    handle = await start_sandbox(population=population(), faults={"bank": SourceFaults()})
    try:
        yield handle
    finally:
        await handle.stop()


@pytest.fixture
async def tax(sandbox: SandboxHandle) -> AsyncIterator[Adapter]:
    adapter = FACTORIES[SourceKind.TAX](sandbox.settings(SourceKind.TAX, timeout=5.0))
    try:
        yield adapter
    finally:
        await adapter.aclose()


# -- each source: FOUND and NOT_FOUND ------------------------------------------------------


@pytest.mark.parametrize("source", list(SourceKind), ids=lambda s: s.value)
async def test_found_for_someone_with_data(sandbox: SandboxHandle, source: SourceKind) -> None:
    module = importlib.import_module(f"hedui_sdk.builtin.{source.value}")
    adapter = module.create(sandbox.settings(source))
    try:
        assert isinstance(adapter, Adapter)
        assert adapter.source is source
        assert adapter.name == f"{source.value.replace('_', '-')}-gateway"
        assert adapter.version == "1.0.0"
        w = window()
        person = next(
            p
            for p in population().persons_with(source)
            if any(overlaps(f, w.start, w.end) for f in p.facts_for(source))
        )
        result = await adapter.query(query_for(person))
    finally:
        await adapter.aclose()

    assert result.status is ResultStatus.FOUND
    assert result.as_of is not None
    assert result.as_of.tzinfo is not None
    expected = {f.record_id for f in person.facts_for(source) if overlaps(f, w.start, w.end)}
    assert {r.provenance.record_id for r in result.records} == expected
    for record in result.records:
        assert record.provenance.source == source.value
        assert record.provenance.adapter == adapter.name
        assert record.provenance.adapter_version == "1.0.0"
        assert record.provenance.as_of.utcoffset() == timedelta(0)
        assert all(type(m) is int for m in money_fields(record).values())
        if source is SourceKind.HOUSEHOLD_REGISTRATION:
            assert isinstance(record, HouseholdRegistrationRecord)
            on_it = any(m.id_number == person.id_number for m in record.members)
            assert on_it, repr(person)


@pytest.mark.parametrize("source", list(SourceKind), ids=lambda s: s.value)
async def test_not_found_for_someone_without_data(
    sandbox: SandboxHandle, source: SourceKind
) -> None:
    adapter = FACTORIES[source](sandbox.settings(source))
    try:
        if source is SourceKind.HOUSEHOLD_REGISTRATION:
            # Everyone in the population is registered; ask about a stranger instead.
            known = {p.id_number for p in population().persons()}
            number = next(
                n
                for n in (resident_id.make("341824", date(1961, 3, 3), s) for s in range(999))
                if n not in known
            )
            subject: Person | Subject = Subject(IdType.RESIDENT_ID, number, "王五")
        else:
            subject = next(population().persons_without(source))
        result = await adapter.query(query_for(subject))
    finally:
        await adapter.aclose()
    assert result.status is ResultStatus.NOT_FOUND
    assert result.as_of is not None
    assert result.as_of.utcoffset() == timedelta(0)
    assert result.records == ()


async def test_records_outside_the_window_are_not_returned(tax: Adapter) -> None:
    person = next(population().persons_with(SourceKind.TAX))
    long_ago = Window(date(2001, 1, 1), date(2001, 12, 31))
    q = query_for(person)
    result = await tax.query(
        SourceQuery(q.subject, long_ago, q.region, q.purposes, q.request_id, q.deadline)
    )
    assert result.status is ResultStatus.NOT_FOUND


# -- the asynchronous bank -----------------------------------------------------------------


async def test_bank_pending_then_found_after_the_delay(sandbox: SandboxHandle) -> None:
    await sandbox.set_faults(SourceKind.BANK, async_delay_s=0.05)
    person = next(population().persons_with(SourceKind.BANK))
    bank = FACTORIES[SourceKind.BANK](sandbox.settings(SourceKind.BANK))
    try:
        first = await bank.query(query_for(person))
        assert first.status is ResultStatus.PENDING
        assert first.ticket
        assert first.retry_after is not None
        assert 0 <= first.retry_after <= 0.05
        result = first
        for _ in range(200):
            assert result.ticket is not None
            result = await bank.poll(result.ticket)
            if result.status is not ResultStatus.PENDING:
                break
            await asyncio.sleep(min(result.retry_after or 0.01, 0.02))
        assert result.status is ResultStatus.FOUND
        expected = {f.record_id for f in person.facts_for(SourceKind.BANK)}
        assert {r.provenance.record_id for r in result.records} == expected
        again = await bank.poll(first.ticket)
        assert again == result
    finally:
        await bank.aclose()


async def test_bank_poll_before_the_delay_is_still_pending(sandbox: SandboxHandle) -> None:
    await sandbox.set_faults(SourceKind.BANK, async_delay_s=3600)
    bank = FACTORIES[SourceKind.BANK](sandbox.settings(SourceKind.BANK))
    try:
        first = await bank.query(query_for(next(population().persons())))
        assert first.ticket is not None
        second = await bank.poll(first.ticket)
    finally:
        await bank.aclose()
    assert second.status is ResultStatus.PENDING
    assert second.ticket == first.ticket
    assert second.retry_after is not None
    assert second.retry_after > 3000


async def test_unknown_ticket_is_permanent(sandbox: SandboxHandle) -> None:
    bank = FACTORIES[SourceKind.BANK](sandbox.settings(SourceKind.BANK))
    try:
        with pytest.raises(PermanentSourceError, match="404"):
            await bank.poll("no-such-ticket")
        with pytest.raises(PermanentSourceError, match="ticket"):
            await bank.poll("../../admin/faults")
    finally:
        await bank.aclose()


# -- failures ------------------------------------------------------------------------------


async def test_503_is_transient(sandbox: SandboxHandle, tax: Adapter) -> None:
    await sandbox.set_faults(SourceKind.TAX, error_rate=1.0)
    with pytest.raises(TransientSourceError, match="503"):
        await tax.query(query_for(next(population().persons())))


async def test_429_is_transient_with_retry_after(sandbox: SandboxHandle, tax: Adapter) -> None:
    # One request per 100 s: the first passes, the second is limited for ~100 s.
    await sandbox.set_faults(SourceKind.TAX, rate_limit_rps=0.01)
    await tax.query(query_for(next(population().persons())))
    with pytest.raises(TransientSourceError, match="429") as caught:
        await tax.query(query_for(next(population().persons())))
    assert caught.value.retry_after is not None
    assert 50 <= caught.value.retry_after <= 100
    # Told apart from an outage, so hedui paces instead of counting it towards the breaker.
    assert isinstance(caught.value, SourceRateLimited)


async def test_wrong_token_is_denied(sandbox: SandboxHandle) -> None:
    person = next(population().persons())
    settings = AdapterSettings(
        base_url=sandbox.base_url(SourceKind.TAX),
        credentials={"token": Secret("not-the-token")},
    )
    adapter = FACTORIES[SourceKind.TAX](settings)
    try:
        with pytest.raises(SourceDenied, match="403") as caught:
            await adapter.query(query_for(person))
    finally:
        await adapter.aclose()
    message = str(caught.value)
    assert "not-the-token" not in message
    assert_absent(person.id_number, message)


async def test_another_sources_token_is_denied(sandbox: SandboxHandle) -> None:
    settings = AdapterSettings(
        base_url=sandbox.base_url(SourceKind.BANK),
        credentials={"token": Secret(sandbox.token(SourceKind.TAX))},
    )
    adapter = FACTORIES[SourceKind.BANK](settings)
    try:
        with pytest.raises(SourceDenied):
            await adapter.query(query_for(next(population().persons())))
    finally:
        await adapter.aclose()


async def test_garbage_is_permanent(sandbox: SandboxHandle, tax: Adapter) -> None:
    await sandbox.set_faults(SourceKind.TAX, garbage_rate=1.0)
    person = next(population().persons())
    for _ in range(12):  # the sandbox picks among several kinds of garbage
        with pytest.raises(PermanentSourceError) as caught:
            await tax.query(query_for(person))
        assert_absent(person.id_number, str(caught.value))
    assert sandbox.stats()["tax:garbage"] == 12


async def test_invalid_request_is_permanent(tax: Adapter) -> None:
    q = query_for(next(population().persons()))
    bad_region = SourceQuery(q.subject, q.window, "37", q.purposes, q.request_id, q.deadline)
    with pytest.raises(PermanentSourceError, match="422"):
        await tax.query(bad_region)
    bad_number = Subject(IdType.RESIDENT_ID, "370322199001011230", "张三")
    with pytest.raises(PermanentSourceError, match="INVALID_ID_NUMBER") as caught:
        await tax.query(query_for(bad_number))
    assert_absent("370322199001011230", str(caught.value))


async def test_hang_is_transient_within_the_deadline_and_leaks_nothing(
    sandbox: SandboxHandle, tax: Adapter
) -> None:
    await sandbox.set_faults(SourceKind.TAX, hang_rate=1.0)
    before = asyncio.all_tasks()
    with pytest.raises(TransientSourceError, match="no answer"):
        await tax.query(query_for(next(population().persons()), seconds=0.3))
    # The client hung up, so the sandbox's handler is cancelled; wait for it to unwind.
    for _ in range(500):
        if sandbox.hanging == 0 and asyncio.all_tasks() <= before:
            break
        await asyncio.sleep(0.01)
    assert sandbox.hanging == 0
    assert asyncio.all_tasks() <= before


async def test_deadline_already_passed_sends_nothing(sandbox: SandboxHandle, tax: Adapter) -> None:
    q = query_for(next(population().persons()), seconds=-1.0)
    with pytest.raises(TransientSourceError, match="deadline"):
        await tax.query(q)
    assert sandbox.stats() == {}


async def test_connection_refused_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = AdapterSettings(
        base_url=f"http://127.0.0.1:{port}/tax", credentials={"token": Secret("t")}
    )
    adapter = FACTORIES[SourceKind.TAX](settings)
    try:
        with pytest.raises(TransientSourceError, match="connection"):
            await adapter.query(query_for(next(population().persons())))
    finally:
        await adapter.aclose()


async def test_cancellation_propagates(sandbox: SandboxHandle, tax: Adapter) -> None:
    await sandbox.set_faults(SourceKind.TAX, hang_rate=1.0)
    task = asyncio.create_task(tax.query(query_for(next(population().persons()), seconds=30)))
    async with asyncio.timeout(10):
        await sandbox.wait_hanging(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


# -- secrets and configuration -------------------------------------------------------------


def test_a_token_is_required() -> None:
    with pytest.raises(ValueError, match="token"):
        FACTORIES[SourceKind.TAX](AdapterSettings(base_url="http://127.0.0.1:1/tax"))


async def test_nothing_personal_or_secret_is_logged_or_printed(
    sandbox: SandboxHandle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await sandbox.set_faults(SourceKind.BANK, async_delay_s=0)
    token = sandbox.token(SourceKind.BANK)
    people = list(population().persons_with(SourceKind.BANK))[:3]
    bank = FACTORIES[SourceKind.BANK](sandbox.settings(SourceKind.BANK))
    try:
        for person in people:
            pending = await bank.query(query_for(person))
            assert pending.ticket is not None
            await bank.poll(pending.ticket)
        printed = repr(bank)
    finally:
        await bank.aclose()
    for person in people:
        assert_absent(person.id_number, caplog.text)
        assert_absent(person.name, caplog.text)
    assert token not in caplog.text
    assert token not in printed


def test_every_source_is_registered_as_an_entry_point() -> None:
    import tomllib
    from pathlib import Path

    pyproject = Path(__file__).resolve().parents[2] / "adapters" / "pyproject.toml"
    table = tomllib.loads(pyproject.read_text())["project"]["entry-points"]["hedui.adapters"]
    for source in SourceKind:
        assert table[source.value] == f"hedui_sdk.builtin.{source.value}:create"
        module_name, _, attr = table[source.value].partition(":")
        assert getattr(importlib.import_module(module_name), attr) is FACTORIES[source]
