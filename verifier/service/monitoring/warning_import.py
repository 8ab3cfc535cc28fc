"""Importing external warnings (部门预警): an alert for a person an ACTIVE 授权书 of the
warning's region names, an outreach ledger entry (台账) for anyone else. No source is
asked about anyone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import structlog

from audit.entry import EntryDraft
from verifier.domain.alerts import CHINA, AlertKind
from verifier.domain.alerts.warnings import ExternalWarning, WarningDraft, validate_warnings
from verifier.domain.caller import Caller
from verifier.domain.consent import ConsentRecord, ConsentState
from verifier.domain.ports import UnitOfWork
from verifier.domain.pseudonym import subject_ref
from verifier.domain.vocabulary import AuditAction
from verifier.service.audit_trail import actor_of
from verifier.service.authorize import in_regions
from verifier.service.monitoring.alert_base import AlertServiceBase
from verifier.service.monitoring.alert_views import IMPORT_ROLES, ImportResult

log = structlog.get_logger("hedui.alerts")


class WarningImport(AlertServiceBase):
    # ------------------------------------------------------------------ warnings
    def check_warnings(self, drafts: Sequence[WarningDraft]) -> list[ExternalWarning]:
        """Every warning checked against today's date in China (INVALID_ARGUMENT naming
        each bad one by index and field; nothing written)."""
        return validate_warnings(drafts, today=self._clock().astimezone(CHINA).date())

    async def import_warnings(
        self, caller: Caller, warnings: Sequence[ExternalWarning], *, validate_only: bool = False
    ) -> ImportResult:
        """Alerts for warnings about people a 授权书 covers, outreach ledger entries for
        the others, all in one transaction (all or nothing). Re-importing a warning
        (same department and reference) raises nothing new. No source is asked.
        ``validate_only`` checks role and regions and writes nothing else."""
        await self._role(caller, IMPORT_ROLES, AuditAction.WARNINGS_IMPORT, count=len(warnings))
        outside = [i for i, w in enumerate(warnings) if not in_regions(w.region, caller.regions)]
        if outside:
            raise await self._deny(
                caller,
                AuditAction.WARNINGS_IMPORT,
                "OUT_OF_REGION",
                f"warnings[{outside[0]}].region_code is outside the caller's regions",
                rows=outside[:16],
            )
        if validate_only:
            return ImportResult(0, 0, 0, ())
        now = self._clock()
        today = now.astimezone(CHINA).date()
        actor = actor_of(caller)

        async def work(uow: UnitOfWork) -> ImportResult:
            made = {AlertKind.WARNING: 0, AlertKind.OUTREACH: 0}
            known = 0
            alert_ids: list[str] = []
            refs: list[str] = []
            for w in warnings:
                ref = subject_ref(self._pkey, w.person.id_type, w.person.id_number)
                refs.append(ref)
                consent = _covering(await uow.consents.naming(ref), w.region, today)
                kind = AlertKind.WARNING if consent else AlertKind.OUTREACH
                details: dict[str, Any] = {
                    "department": w.department.value,
                    "warning_id": w.warning_id,
                    "warning_date": w.warning_date.isoformat(),
                }
                if consent is not None:
                    details["authorization_id"] = consent.number
                raised = await self._raiser.raise_for(
                    uow,
                    kind=kind,
                    reason=w.reason.value,
                    region=consent.region if consent else w.region,
                    dedup_key=f"warning:{w.key}",
                    actor=actor,
                    household_ref=consent.household_ref if consent else "",
                    subject_ref=ref,
                    details=details,
                    person=w.person,
                    now=now,
                )
                assert raised is not None  # warning reasons always raise
                alert_ids.append(raised.alert.id)
                if not raised.created:
                    known += 1
                    continue
                made[kind] += 1
                if kind is AlertKind.OUTREACH:
                    await uow.audit.append(
                        [
                            self._entry(
                                caller,
                                AuditAction.OUTREACH_LEDGER,
                                raised.alert,
                                department=w.department.value,
                                note="no covering 授权书: outreach, no data query",
                            )
                        ]
                    )
            await uow.audit.append(
                [
                    EntryDraft(
                        actor=actor,
                        action=AuditAction.WARNINGS_IMPORT.value,
                        outcome="allow",
                        subject_refs=tuple(dict.fromkeys(refs)),
                        details={
                            "count": len(warnings),
                            "alerts": made[AlertKind.WARNING],
                            "outreach": made[AlertKind.OUTREACH],
                            "known": known,
                            "departments": sorted({w.department.value for w in warnings}),
                        },
                    )
                ]
            )
            return ImportResult(
                made[AlertKind.WARNING], made[AlertKind.OUTREACH], known, tuple(alert_ids)
            )

        result = await self._store.write(work)
        log.info(
            "warnings_imported",
            count=len(warnings),
            alerts=result.alerts,
            outreach=result.outreach,
            known=result.known,
        )
        return result


def _covering(consents: Sequence[ConsentRecord], region: str, today: date) -> ConsentRecord | None:
    """The 授权书 that covers a warned person: ACTIVE today, in the warning's region."""
    for c in consents:
        if (
            c.region == region
            and c.valid_from <= today
            and c.state_on(today) is ConsentState.ACTIVE
        ):
            return c
    return None


__all__ = ["WarningImport"]
