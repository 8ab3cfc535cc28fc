"""A report whose retention period ran out is FAILED_PRECONDITION with the ErrorInfo
reason REPORT_PURGED, a name of common.proto's ErrorReason (not INTERNAL, which an
unmapped subclass of FailedPrecondition would be)."""

from __future__ import annotations

from google.rpc import code_pb2, error_details_pb2
from hedui.v1 import common_pb2

from verifier.api.errors import status_for
from verifier.domain.errors import ReportPurged


def test_report_purged_is_failed_precondition_with_its_reason() -> None:
    status = status_for(ReportPurged("report version 1 was removed"))
    assert status.code == code_pb2.FAILED_PRECONDITION
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert info.reason == ReportPurged.reason == "REPORT_PURGED"
    assert common_pb2.ErrorReason.Name(common_pb2.REPORT_PURGED) == info.reason
