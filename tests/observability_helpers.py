"""Requests and parsing shared by the metrics, tracing and log tests."""

from __future__ import annotations

import json
from typing import Any

from hedui.v1 import common_pb2
from hedui.v1 import verification_pb2 as pb


def household_request(
    request_id: str, *numbers: str, region: str = "370322"
) -> pb.CreateVerificationRequest:
    """A waiting CreateVerification for one household: the first number the applicant,
    the others spouses (the server checks them; a bad one is INVALID_ARGUMENT)."""
    return pb.CreateVerificationRequest(
        request_id=request_id,
        case_id="CASE-9",
        authorization_id="SQ-1",
        purposes=[common_pb2.PURPOSE_DIBAO],
        household=pb.Household(
            region_code=region,
            members=[
                pb.Member(
                    id_type=common_pb2.ID_TYPE_RESIDENT_ID,
                    id_number=n,
                    name="测试",
                    relation=common_pb2.RELATION_APPLICANT
                    if i == 0
                    else common_pb2.RELATION_SPOUSE,
                )
                for i, n in enumerate(numbers)
            ],
        ),
        wait=True,
        hukou_nature=common_pb2.HUKOU_NATURE_URBAN,
    )


def json_line(line: str, stream: str) -> dict[str, Any]:
    """``line`` as a JSON object, or a failure naming the stream (not the line: it could
    hold what the test looks for)."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        raise AssertionError(f"a line on {stream} is not JSON ({len(line)} chars)") from None
    assert isinstance(obj, dict), f"a line on {stream} is JSON but not an object"
    return obj
