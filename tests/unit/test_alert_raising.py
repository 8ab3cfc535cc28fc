"""Raising alerts on the region's terms, on in-memory fakes: one alert per dedup key,
its audit entry in the same unit of work, risk and act-by from dated parameters."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.fakes import InMemoryStore
from verifier.domain.alerts import REAUTHORIZATION_NEEDED, AlertKind, AlertState, RiskLevel
from verifier.domain.ports import UnitOfWork
from verifier.policy import PolicyError, PolicyProblem
from verifier.service.monitoring.raising import AlertRaiser
from verifier.service.monitoring.rules import AlertRules

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
HREF = "a" * 64


def no_policy(region: str) -> object:
    raise PolicyError([PolicyProblem(f"{region}.toml", "no policy file for this region")])


async def test_reauthorization_needed_is_raised_once_per_cycle_with_its_entry() -> None:
    store = InMemoryStore(clock=lambda: NOW)
    raiser = AlertRaiser(AlertRules(no_policy), clock=lambda: NOW)  # type: ignore[arg-type]

    async def work(uow: UnitOfWork) -> tuple[str, bool]:
        raised = await raiser.reauthorization_needed(
            uow,
            region="370322",
            household_ref=HREF,
            authorization_id="SQ-2026-001",
            cycle="2026-12-01",
            why="expired",
        )
        return raised.alert.id, raised.created

    first = await store.write(work)
    second = await store.write(work)
    assert first[1] is True and second == (first[0], False)
    entries = [e for e in store.entries() if e["action"] == "alert_raised"]
    assert len(entries) == 1
    assert entries[0]["subject_refs"] == [HREF]
    assert entries[0]["reason"] == REAUTHORIZATION_NEEDED
    assert entries[0]["actor"]["system"] == "hedui"
    async with store.unit_of_work(write=False) as uow:
        a = await uow.alerts.get(first[0])
    assert a is not None
    assert (a.kind, a.state, a.region, a.household_ref) == (
        AlertKind.REAUTHORIZATION,
        AlertState.OPEN,
        "370322",
        HREF,
    )
    # No parameters for the region: raised high, no deadline, and the basis says why.
    assert a.risk_level is RiskLevel.HIGH and a.act_by is None
    assert "no policy file" in a.details["basis"]["unparameterized"]
    assert a.details["why"] == "expired"
    assert a.overdue(datetime(2030, 1, 1, tzinfo=UTC)) is False
