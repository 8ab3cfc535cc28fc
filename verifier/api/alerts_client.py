"""An async client of the AlertService (what `hedui alerts` and the tests use). Warning
files are protobuf's canonical JSON mapping of ``hedui.v1.ExternalWarning``, one a line."""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf import json_format
from hedui.v1 import alerts_pb2 as pb
from hedui.v1 import alerts_pb2_grpc

from verifier.api.channel import Connection


class WarningFileError(ValueError):
    """A line of a warning file is not an ExternalWarning in canonical JSON."""

    def __init__(self, line: int, problem: str) -> None:
        self.line = line
        super().__init__(f"line {line}: {problem}")


def warnings_from_lines(lines: Iterable[str]) -> list[pb.ExternalWarning]:
    """One ExternalWarning per non-blank line (protobuf's canonical JSON mapping). The
    parser's message names the field, never its value: it may hold an ID number."""
    out = []
    for n, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        msg = pb.ExternalWarning()
        try:
            json_format.Parse(text, msg)
        except json_format.ParseError as exc:
            raise WarningFileError(n, _field_only(str(exc))) from None
        out.append(msg)
    return out


def _field_only(message: str) -> str:
    """protobuf's parse errors quote the offending value; keep only the part that
    names the field."""
    head = message.split(":", 1)[0]
    return f"not an ExternalWarning in canonical JSON ({head[:120]})"


class AlertClient(Connection):
    """The AlertService's calls over a :class:`Connection`."""

    stub: alerts_pb2_grpc.AlertServiceAsyncStub

    def _stubs(self) -> None:
        self.stub = alerts_pb2_grpc.AlertServiceStub(self.channel)

    async def list_alerts(
        self, req: pb.ListAlertsRequest, timeout: float = 30.0
    ) -> pb.ListAlertsResponse:
        return await self.stub.ListAlerts(req, metadata=self.metadata, timeout=timeout)

    async def get(self, alert_id: str, timeout: float = 10.0) -> pb.Alert:
        resp = await self.stub.GetAlert(
            pb.GetAlertRequest(alert_id=alert_id), metadata=self.metadata, timeout=timeout
        )
        return resp.alert

    async def acknowledge(
        self, alert_id: str, owner: str = "", note: str = "", timeout: float = 10.0
    ) -> pb.Alert:
        resp = await self.stub.AcknowledgeAlert(
            pb.AcknowledgeAlertRequest(alert_id=alert_id, owner=owner, note=note),
            metadata=self.metadata,
            timeout=timeout,
        )
        return resp.alert

    async def assign(
        self, alert_id: str, owner: str, note: str = "", timeout: float = 10.0
    ) -> pb.Alert:
        resp = await self.stub.AssignAlert(
            pb.AssignAlertRequest(alert_id=alert_id, owner=owner, note=note),
            metadata=self.metadata,
            timeout=timeout,
        )
        return resp.alert

    async def resolve(self, req: pb.ResolveAlertRequest, timeout: float = 10.0) -> pb.Alert:
        resp = await self.stub.ResolveAlert(req, metadata=self.metadata, timeout=timeout)
        return resp.alert

    async def import_warnings(
        self,
        warnings: list[pb.ExternalWarning],
        *,
        validate_only: bool = False,
        timeout: float = 120.0,
    ) -> pb.ImportWarningsResponse:
        return await self.stub.ImportWarnings(
            pb.ImportWarningsRequest(warnings=warnings, validate_only=validate_only),
            metadata=self.metadata,
            timeout=timeout,
        )

    async def get_changes(
        self, verification_id: str, version: int | None = None, timeout: float = 10.0
    ) -> pb.ChangeDocument:
        """The change document of report ``version``, or of the latest when None."""
        resp = await self.stub.GetChanges(
            pb.GetChangesRequest(verification_id=verification_id, version=version),
            metadata=self.metadata,
            timeout=timeout,
        )
        return resp.changes

    async def list_changes(
        self, req: pb.ListChangesRequest, timeout: float = 30.0
    ) -> pb.ListChangesResponse:
        return await self.stub.ListChanges(req, metadata=self.metadata, timeout=timeout)
