"""One report version read for a caller: missing, not yet issued and purged versions each
refused with their own error (the same for the JSON, the printout and the console)."""

from __future__ import annotations

from verifier.domain.errors import FailedPrecondition, NotFound, ReportPurged
from verifier.domain.ports import StoredReport, UnitOfWork


async def stored_version(
    uow: UnitOfWork, vid: str, version: int, latest_version: int
) -> StoredReport:
    """Version ``version`` of ``vid``'s report (0: the latest), with its envelope."""
    report = await uow.reports.get(vid, version)
    if report is None:
        if latest_version == 0:
            raise FailedPrecondition("no report has been issued yet")
        raise NotFound(f"report version {version} not found")
    if report.purged:
        raise ReportPurged(
            f"report version {report.version} was removed when its retention period"
            " ran out; its hash and release entry remain"
        )
    return report
