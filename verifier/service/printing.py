"""The printout with full names and ID numbers: for a role allowed to see them, audited.

A report document carries members masked; the full values live only in the sealed
request. Handing them out is a read of personal data beyond the report itself, so it is
allowed to :data:`ROLES_THAT_SEE_IDENTITIES` of the system that owns the check, inside
its regions, and recorded as a ``report_read`` entry naming the members (keyed refs) with
``identities: full`` — committed before the values leave the service. A refusal is
recorded too. The masked printout is an ordinary report read
(:meth:`~verifier.service.reading.Reading.get_report`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from audit.entry import EntryDraft
from verifier.domain.caller import Caller
from verifier.domain.errors import FailedPrecondition, NotFound, PermissionDenied
from verifier.domain.ports import Store, StoredReport, UnitOfWork
from verifier.domain.vocabulary import AuditAction, Role
from verifier.render.view import Identity
from verifier.service.audit_trail import actor_of, denial, record_denial, subject_refs
from verifier.service.authorize import Decision, decide_read_report
from verifier.service.report_versions import stored_version

ROLES_THAT_SEE_IDENTITIES = frozenset({Role.CASEWORKER})
"""The caseworker files the printout in the household's dossier and shows it to the
family; reviewers read the masked report, auditors never read report contents."""

_ACTION = AuditAction.REPORT_READ.value


@dataclass(frozen=True, slots=True)
class DisclosedReport:
    """A stored report and its members' full identities (member index → identity)."""

    report: StoredReport
    identities: Mapping[int, Identity]


def decide_see_identities(caller: Caller) -> Decision:
    if caller.role not in ROLES_THAT_SEE_IDENTITIES:
        return Decision(
            False,
            "ROLE_NOT_ALLOWED",
            f"role {caller.role!r} may not see full names and ID numbers",
        )
    return Decision(True, "ALLOWED", "allowed")


class Printing:
    def __init__(self, store: Store, pseudonym_key: bytes) -> None:
        self._store = store
        self._pseudonym_key = pseudonym_key

    async def with_identities(self, caller: Caller, vid: str, version: int) -> DisclosedReport:
        """Report ``version`` (0: the latest) of ``vid`` with full identities.

        NotFound when the check is not the caller's to read (as for any report read);
        PermissionDenied(ROLE_NOT_ALLOWED) for a reader whose role may not see them."""
        async with self._store.unit_of_work(write=False) as uow:
            record = await uow.verifications.get(vid)
        if record is None:
            raise NotFound("verification not found")
        # A reader who may not read the report at all is told "not found", as by every
        # report read; one who may read it masked learns why the full values are refused.
        read = decide_read_report(caller, record.caller_system, record.region)
        see = decide_see_identities(caller)
        for decision in (read, see):
            if not decision.allowed:
                await record_denial(
                    self._store,
                    denial(
                        caller,
                        decision,
                        action=_ACTION,
                        verification_id=vid,
                        case_id=record.case_id,
                        details={"identities": "full"},
                    ),
                )
                if decision is read:
                    raise NotFound("verification not found")
                raise PermissionDenied(decision.reason, decision.message)

        async def disclose(uow: UnitOfWork) -> DisclosedReport:
            report = await stored_version(uow, vid, version, record.latest_version)
            try:
                request = await uow.verifications.load_request(vid)
            except KeyError as exc:
                raise FailedPrecondition("the household's identities are no longer held") from exc
            await uow.audit.append(
                [
                    EntryDraft(
                        actor=actor_of(caller),
                        action=_ACTION,
                        outcome="allow",
                        case_id=record.case_id,
                        verification_id=vid,
                        subject_refs=subject_refs(self._pseudonym_key, request),
                        details={
                            "version": report.version,
                            "report_id": report.report_id,
                            "identities": "full",
                        },
                    )
                ]
            )
            identities = {
                i: Identity(m.subject.name, m.subject.id_number)
                for i, m in enumerate(request.household.members)
            }
            return DisclosedReport(report, identities)

        return await self._store.write(disclose)
