"""The conformance kit fails broken adapters, each for its own defect, and passes an honest one.

The kit runs in a pytest subprocess on a generated test module, as it would in
a department's own suite; each broken adapter wraps the built-in tax adapter and breaks
exactly one rule.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

BROKEN_ADAPTERS = '''
"""Adapters that each break one rule of the contract (wrapping the honest tax adapter)."""

import asyncio
import dataclasses
import logging
import time
from datetime import UTC, datetime

from hedui_sdk import (
    IncomeRecord,
    PermanentSourceError,
    SourceDenied,
    SourceResult,
    TransientSourceError,
)
from hedui_sdk.builtin import tax

log = logging.getLogger("broken")


class Wrapper:
    def __init__(self, settings):
        self._inner = tax.create(settings)
        self._settings = settings
        self.name = self._inner.name
        self.version = self._inner.version
        self.source = self._inner.source

    async def query(self, q):
        return await self._inner.query(q)

    async def poll(self, ticket):
        return await self._inner.poll(ticket)

    async def aclose(self):
        await self._inner.aclose()


class LogsToken(Wrapper):
    async def query(self, q):
        log.debug("calling tax with token %s", self._settings.credentials["token"].reveal())
        return await self._inner.query(q)


class SwallowsCancellation(Wrapper):
    async def query(self, q):
        try:
            return await self._inner.query(q)
        except asyncio.CancelledError:
            raise TransientSourceError("interrupted") from None


class LeavesTaskRunning(Wrapper):
    async def query(self, q):
        # Cancelling the caller leaves the shielded request running in the background.
        self._request = asyncio.ensure_future(self._inner.query(q))
        return await asyncio.shield(self._request)


class UnavailableIsNotFound(Wrapper):
    async def query(self, q):
        try:
            return await self._inner.query(q)
        except TransientSourceError:
            return SourceResult.not_found(datetime.now(UTC))


class FloatMoney(Wrapper):
    async def query(self, q):
        result = await self._inner.query(q)
        records = [
            dataclasses.replace(r, amount_fen=float(r.amount_fen))
            if isinstance(r, IncomeRecord)
            else r
            for r in result.records
        ]
        return dataclasses.replace(result, records=tuple(records))


class DeniedIsNotFound(Wrapper):
    async def query(self, q):
        try:
            return await self._inner.query(q)
        except SourceDenied:
            return SourceResult.not_found(datetime.now(UTC))


class UnknownTicketIsNotFound(Wrapper):
    async def poll(self, ticket):
        try:
            return await self._inner.poll(ticket)
        except PermanentSourceError:
            return SourceResult.not_found(datetime.now(UTC))


class IgnoresDeadline(Wrapper):
    async def query(self, q):
        return await self._inner.query(dataclasses.replace(q, deadline=time.monotonic() + 10))


class YuanMoney(Wrapper):
    async def query(self, q):
        result = await self._inner.query(q)
        records = [
            dataclasses.replace(r, amount_fen=r.amount_fen // 100)
            if isinstance(r, IncomeRecord)
            else r
            for r in result.records
        ]
        return dataclasses.replace(result, records=tuple(records))


class PlainStrings(Wrapper):
    async def query(self, q):
        result = await self._inner.query(q)
        records = [
            dataclasses.replace(r, category=str(r.category), period_start=r.period_start.isoformat())
            if isinstance(r, IncomeRecord)
            else r
            for r in result.records
        ]
        return dataclasses.replace(result, records=tuple(records))
'''

SUITE = """
import broken
from hedui_sdk.builtin import tax
from hedui_sdk.testing import SandboxConformance


class TestHonest(SandboxConformance):
    source = "tax"
    factory = tax.create


class TestLogsToken(SandboxConformance):
    source = "tax"
    factory = broken.LogsToken


class TestSwallowsCancellation(SandboxConformance):
    source = "tax"
    factory = broken.SwallowsCancellation


class TestLeavesTaskRunning(SandboxConformance):
    source = "tax"
    factory = broken.LeavesTaskRunning


class TestUnavailableIsNotFound(SandboxConformance):
    source = "tax"
    factory = broken.UnavailableIsNotFound


class TestFloatMoney(SandboxConformance):
    source = "tax"
    factory = broken.FloatMoney


class TestDeniedIsNotFound(SandboxConformance):
    source = "tax"
    factory = broken.DeniedIsNotFound


class TestUnknownTicketIsNotFound(SandboxConformance):
    source = "tax"
    factory = broken.UnknownTicketIsNotFound


class TestIgnoresDeadline(SandboxConformance):
    source = "tax"
    factory = broken.IgnoresDeadline


class TestYuanMoney(SandboxConformance):
    source = "tax"
    factory = broken.YuanMoney


class TestPlainStrings(SandboxConformance):
    source = "tax"
    factory = broken.PlainStrings
"""

KIT_TESTS = {
    "test_adapter_attributes",
    "test_found_records_are_well_formed",
    "test_not_found_has_no_records",
    "test_pending_is_polled_to_an_answer",
    "test_deadline_is_honoured",
    "test_a_passed_deadline_is_not_sent",
    "test_cancellation_propagates",
    "test_unavailable_is_transient",
    "test_rate_limited_is_transient_with_retry_after",
    "test_garbage_is_permanent",
    "test_refusal_is_denied",
    "test_unknown_ticket_is_an_error",
    "test_money_matches_the_department",
    "test_secrets_never_leak",
    "test_aclose",
}


@pytest.fixture(scope="module")
def kit_run(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """The generated suite, run once for the whole module."""
    where = tmp_path_factory.mktemp("kit")
    (where / "broken.py").write_text(BROKEN_ADAPTERS, encoding="utf-8")
    (where / "test_kit_run.py").write_text(SUITE, encoding="utf-8")
    (where / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:asyncio", "-v"],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def outcomes(kit_run: subprocess.CompletedProcess[str]) -> dict[tuple[str, str], str]:
    """{(class, test): outcome}"""
    line = re.compile(r"test_kit_run\.py::(\w+)::(\w+) (PASSED|FAILED|ERROR|SKIPPED)")
    found = {(m[1], m[2]): m[3] for m in line.finditer(kit_run.stdout)}
    assert found, kit_run.stdout[-3000:] + kit_run.stderr[-3000:]
    return found


def test_the_kit_collects_every_contract_test(outcomes: dict[tuple[str, str], str]) -> None:
    assert {test for cls, test in outcomes if cls == "TestHonest"} == KIT_TESTS


def test_an_honest_adapter_passes_every_test(outcomes: dict[tuple[str, str], str]) -> None:
    assert {t: o for (c, t), o in outcomes.items() if c == "TestHonest"} == dict.fromkeys(
        KIT_TESTS, "PASSED"
    )


@pytest.mark.parametrize(
    ("broken", "caught_by"),
    [
        ("TestLogsToken", {"test_secrets_never_leak"}),
        ("TestSwallowsCancellation", {"test_cancellation_propagates"}),
        ("TestLeavesTaskRunning", {"test_cancellation_propagates"}),
        (
            "TestUnavailableIsNotFound",
            {
                "test_unavailable_is_transient",
                "test_deadline_is_honoured",
                "test_a_passed_deadline_is_not_sent",
                "test_rate_limited_is_transient_with_retry_after",
            },
        ),
        ("TestFloatMoney", {"test_found_records_are_well_formed"}),
        ("TestDeniedIsNotFound", {"test_refusal_is_denied"}),
        ("TestUnknownTicketIsNotFound", {"test_unknown_ticket_is_an_error"}),
        ("TestPlainStrings", {"test_found_records_are_well_formed"}),
        ("TestYuanMoney", {"test_money_matches_the_department"}),
        (
            "TestIgnoresDeadline",
            {"test_deadline_is_honoured", "test_a_passed_deadline_is_not_sent"},
        ),
    ],
)
def test_a_broken_adapter_fails_the_kit_where_it_is_broken(
    outcomes: dict[tuple[str, str], str], broken: str, caught_by: set[str]
) -> None:
    failed = {t for (c, t), o in outcomes.items() if c == broken and o == "FAILED"}
    assert failed == caught_by
    passed = {t for (c, t), o in outcomes.items() if c == broken and o == "PASSED"}
    assert passed == KIT_TESTS - caught_by


def test_a_leak_is_named_without_showing_any_of_the_secret(
    kit_run: subprocess.CompletedProcess[str],
) -> None:
    # The sandbox token is "conformance-" and 32 hex digits: 44 characters.
    assert "leaked: secret value #1 (44 characters) in log records" in kit_run.stdout


def test_money_in_yuan_is_named_as_such(kit_run: subprocess.CompletedProcess[str]) -> None:
    assert "amount_fen differs from the department's (yuan instead of fen?)" in kit_run.stdout


def test_a_problem_shared_by_many_records_is_told_once(
    kit_run: subprocess.CompletedProcess[str],
) -> None:
    told = "amount_fen must be an int (fen), not float (records "
    assert kit_run.stdout.count(told) >= 1
    assert "record 1: amount_fen must be an int" not in kit_run.stdout
