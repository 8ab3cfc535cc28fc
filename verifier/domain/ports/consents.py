"""The 授权书 registry's repository, and the gate every verification passes."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING

from hedui_sdk import SourceKind
from verifier.domain.consent import (
    ConsentDoc,
    ConsentEvent,
    ConsentRecord,
    ConsentState,
    CoverageDecision,
)
from verifier.domain.household import Purpose

if TYPE_CHECKING:
    from verifier.domain.ports.store import UnitOfWork


class ConsentRepository(abc.ABC):
    @abc.abstractmethod
    async def add(
        self, doc: ConsentDoc, household_ref: str, subject_refs: Sequence[str], now: datetime
    ) -> None: ...

    @abc.abstractmethod
    async def get(self, number: str) -> ConsentRecord | None: ...

    @abc.abstractmethod
    async def load_doc(self, number: str) -> ConsentDoc:
        """The registered document, unsealed; KeyError if there is none."""

    @abc.abstractmethod
    async def events(self, number: str) -> list[ConsentEvent]:
        """The authorization's history, oldest first."""

    @abc.abstractmethod
    async def add_event(self, number: str, event: ConsentEvent) -> None: ...

    @abc.abstractmethod
    async def set_state(
        self, number: str, state: ConsentState, superseded_by: str = ""
    ) -> None: ...

    @abc.abstractmethod
    async def active(self, region: str, household_ref: str) -> list[str]:
        """The numbers of the household's ACTIVE authorizations, locked until the unit ends."""

    @abc.abstractmethod
    async def naming(self, subject_ref: str) -> list[ConsentRecord]:
        """Every authorization that names the person ``subject_ref`` among its subjects,
        whatever its state (the caller decides what covers), by number."""


class ConsentGate(abc.ABC):
    """Decides whether an authorization covers a check (the real one reads the registry).

    The decision is made inside the unit of work that records the check's intent, so an
    authorization revoked before that unit commits is never used (and one revoked after
    it is revoked after the check began)."""

    @abc.abstractmethod
    async def check(
        self,
        uow: UnitOfWork,
        number: str,
        *,
        region: str,
        subject_refs: Sequence[str],
        sources: Sequence[SourceKind],
        purposes: Sequence[Purpose],
        today: date,
    ) -> CoverageDecision: ...
