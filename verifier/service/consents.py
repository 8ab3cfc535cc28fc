"""The 授权书 registry use cases, and the gate every verification passes.

Every decision — registering, revoking, reading, and each coverage check — is an audit
entry, allowed or denied, with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from audit.entry import Actor, EntryDraft
from hedui_sdk import SourceKind
from verifier.domain.caller import Caller
from verifier.domain.consent import (
    ConsentDoc,
    ConsentDraft,
    ConsentEvent,
    ConsentRecord,
    ConsentState,
    CoverageDecision,
    check_coverage,
    validate_consent,
)
from verifier.domain.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from verifier.domain.household import Purpose
from verifier.domain.ports import ConsentGate, Store, UnitOfWork
from verifier.domain.pseudonym import subject_ref
from verifier.domain.vocabulary import AuditAction, Role
from verifier.service.audit_trail import record_refusal
from verifier.service.authorize import in_regions

REGISTER_ROLES = frozenset({Role.CASEWORKER, Role.ADMIN})
READ_ROLES = frozenset(Role)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ConsentView:
    doc: ConsentDoc
    record: ConsentRecord
    state: ConsentState
    history: tuple[ConsentEvent, ...]


class RegistryConsentGate(ConsentGate):
    """Reads the registry for each check, in the check's own unit of work."""

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
    ) -> CoverageDecision:
        consent = await uow.consents.get(number)
        return check_coverage(
            consent,
            region=region,
            subject_refs=subject_refs,
            sources=sources,
            purposes=purposes,
            today=today,
        )


class ConsentService:
    def __init__(
        self, store: Store, pseudonym_key: bytes, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self._store = store
        self._pkey = pseudonym_key
        self._clock = clock

    def _refs(self, doc: ConsentDoc) -> tuple[str, ...]:
        return tuple(
            subject_ref(self._pkey, s.subject.id_type, s.subject.id_number) for s in doc.subjects
        )

    @staticmethod
    def _actor(caller: Caller) -> Actor:
        return Actor(caller.system, caller.user, caller.role, caller.region_label())

    async def _deny(self, caller: Caller, action: AuditAction, reason: str, number: str) -> None:
        await record_refusal(self._store, caller, action.value, reason, {"consent": number})

    async def _allowed(
        self, caller: Caller, roles: frozenset[Role], region: str, action: AuditAction, number: str
    ) -> None:
        if caller.role not in roles:
            await self._deny(caller, action, "ROLE_NOT_ALLOWED", number)
            raise PermissionDenied("ROLE_NOT_ALLOWED", f"role {caller.role!r} may not do this")
        if not in_regions(region, caller.regions):
            await self._deny(caller, action, "OUT_OF_REGION", number)
            raise PermissionDenied("OUT_OF_REGION", f"region {region} is outside the caller's")

    async def register(self, caller: Caller, draft: ConsentDraft) -> tuple[ConsentView, list[str]]:
        """Register a signed authorization; supersede the household's ACTIVE one(s)."""
        now = self._clock()
        doc = validate_consent(draft, today=now.date())
        await self._allowed(
            caller, REGISTER_ROLES, doc.region, AuditAction.CONSENT_REGISTER, doc.number
        )
        refs = self._refs(doc)
        household = subject_ref(self._pkey, doc.applicant.id_type, doc.applicant.id_number)
        async with self._store.unit_of_work(write=True) as uow:
            if await uow.consents.get(doc.number) is not None:
                # A case system that retries after a lost answer sends the same 授权书
                # again: that is the registration it already made, not a conflict.
                if await uow.consents.load_doc(doc.number) != doc:
                    raise FailedPrecondition(
                        f"authorization {doc.number} is already registered with other content"
                    )
                await uow.audit.append(
                    [
                        EntryDraft(
                            actor=self._actor(caller),
                            action=AuditAction.CONSENT_REGISTER.value,
                            outcome="allow",
                            reason="already registered with the same content",
                            subject_refs=refs,
                            details={"consent": doc.number, "replay": True},
                        )
                    ]
                )
                await uow.commit()
                return await self._view(doc.number), []
            superseded = await uow.consents.active(doc.region, household)
            await uow.consents.add(doc, household, refs, now)
            who = (caller.system, caller.user)
            for old in superseded:
                await uow.consents.set_state(old, ConsentState.SUPERSEDED, doc.number)
                await uow.consents.add_event(
                    old, ConsentEvent(now, "superseded", *who, f"by {doc.number}")
                )
            await uow.consents.add_event(doc.number, ConsentEvent(now, "registered", *who))
            await uow.audit.append(
                [
                    EntryDraft(
                        actor=self._actor(caller),
                        action=AuditAction.CONSENT_REGISTER.value,
                        outcome="allow",
                        subject_refs=refs,
                        details={
                            "consent": doc.number,
                            "purposes": [p.value for p in doc.purposes],
                            "sources": [k.value for k in doc.sources] or ["*"],
                            "superseded": superseded,
                            "evidence_sha256": doc.evidence_sha256,
                        },
                    )
                ]
            )
            await uow.commit()
        return await self._view(doc.number), superseded

    async def revoke(self, caller: Caller, number: str, reason: str) -> ConsentView:
        _check_number(number)
        if not reason.strip() or len(reason) > 256:
            raise InvalidArgument([FieldViolation("reason", "must say why (1-256 characters)")])
        now = self._clock()
        async with self._store.unit_of_work(write=False) as uow:
            record = await uow.consents.get(number)
        if record is None:
            raise NotFound("authorization not found")
        await self._allowed(
            caller, REGISTER_ROLES, record.region, AuditAction.CONSENT_REVOKE, number
        )
        if record.state is not ConsentState.ACTIVE:
            raise FailedPrecondition(f"authorization is {record.state.value}, not ACTIVE")
        async with self._store.unit_of_work(write=True) as uow:
            await uow.consents.set_state(number, ConsentState.REVOKED)
            await uow.consents.add_event(
                number, ConsentEvent(now, "revoked", caller.system, caller.user, reason.strip())
            )
            await uow.audit.append(
                [
                    EntryDraft(
                        actor=self._actor(caller),
                        action=AuditAction.CONSENT_REVOKE.value,
                        outcome="allow",
                        subject_refs=tuple(sorted(record.subject_refs)),
                        details={"consent": number},
                    )
                ]
            )
            await uow.commit()
        return await self._view(number)

    async def get(self, caller: Caller, number: str) -> ConsentView:
        _check_number(number)
        async with self._store.unit_of_work(write=False) as uow:
            record = await uow.consents.get(number)
        if record is None:
            raise NotFound("authorization not found")
        await self._allowed(caller, READ_ROLES, record.region, AuditAction.CONSENT_READ, number)
        async with self._store.unit_of_work(write=True) as uow:
            await uow.audit.append(
                [
                    EntryDraft(
                        actor=self._actor(caller),
                        action=AuditAction.CONSENT_READ.value,
                        outcome="allow",
                        details={"consent": number},
                    )
                ]
            )
            await uow.commit()
        return await self._view(number)

    async def _view(self, number: str) -> ConsentView:
        async with self._store.unit_of_work(write=False) as uow:
            record = await uow.consents.get(number)
            if record is None:
                raise NotFound("authorization not found")
            doc = await uow.consents.load_doc(number)
            history = await uow.consents.events(number)
        return ConsentView(doc, record, record.state_on(self._clock().date()), tuple(history))


def _check_number(number: str) -> None:
    if not number or len(number) > 64:
        raise InvalidArgument([FieldViolation("number", "must be an authorization number")])
