"""Bytes that do not parse name the field at fault, and a refusal fits in trailers (issue 12)."""

from __future__ import annotations

from google.rpc import error_details_pb2
from hedui.v1 import consent_pb2
from hedui.v1 import verification_pb2 as pb

from verifier.api.errors import MAX_VIOLATIONS, status_for
from verifier.api.undecodable import Undecodable, locate, tolerant
from verifier.domain.errors import FieldViolation, InvalidArgument

NAME_TAG = b"\x1a"  # Member.name: field 3, length-delimited


def _bad_name_request() -> bytes:
    good = pb.CreateVerificationRequest(
        request_id="r-1",
        household=pb.Household(
            region_code="370322",
            members=[pb.Member(name="甲"), pb.Member(name="乙")],
        ),
    ).SerializeToString()
    second = good.rindex("乙".encode())
    return good[:second] + b"\xff\xfe\xfd" + good[second + 3 :]


def test_a_string_that_is_not_utf8_is_named_by_its_path() -> None:
    data = _bad_name_request()
    assert locate(pb.CreateVerificationRequest.DESCRIPTOR, data) == FieldViolation(
        "household.members[1].name", "must be valid UTF-8"
    )


def test_a_message_cut_short_is_named() -> None:
    data = pb.GetReportRequest(verification_id="v" * 36, version=2).SerializeToString()
    assert locate(pb.GetReportRequest.DESCRIPTOR, data[:10]) == FieldViolation(
        "verification_id", "is cut short"
    )
    assert locate(pb.GetReportRequest.DESCRIPTOR, b"\x80") == FieldViolation(
        "request", "is cut short"
    )


def test_the_deserializer_no_longer_raises() -> None:
    parse = tolerant(
        consent_pb2.GetConsentRequest.FromString, "/hedui.v1.ConsentService/GetConsent"
    )
    assert parse is not None
    assert parse(consent_pb2.GetConsentRequest(number="SQ-1").SerializeToString()).number == "SQ-1"
    refused = parse(b"\x0a\x02\xc3\x28")
    assert refused == Undecodable(FieldViolation("number", "must be valid UTF-8"))
    garbage = parse(b"\x0b\x0c\x0d")
    assert isinstance(garbage, Undecodable) and garbage.violation.field


def test_a_long_list_of_violations_is_cut_to_fit_in_trailers() -> None:
    many = InvalidArgument([FieldViolation(f"f[{i}]", "x" * 1000) for i in range(500)])
    status = status_for(many)
    br = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(br)
    assert [v.field for v in br.field_violations] == [f"f[{i}]" for i in range(MAX_VIOLATIONS)]
    assert status.message.endswith(f"; and {500 - MAX_VIOLATIONS} more")
    assert len(status.SerializeToString()) < 8 * 1024
