"""Request bytes that do not parse name their field instead of failing as unknown, and a
request with hundreds of bad fields is still INVALID_ARGUMENT.

No row of any table is written — not even an audit entry (issue 12).
"""

from __future__ import annotations

from typing import Any, cast

import grpc
import pytest
from hedui.v1 import audit_pb2, consent_pb2

from tests import hostile_input_helpers
from tests.hostile_input_helpers import (
    APPLICANT,
    Call,
    Stack,
    check,
    consent,
    create,
    member,
    refused,
    register,
    violations,
)

# The shared fixture, bound here so that pytest finds it for this module's tests.
stack = hostile_input_helpers.stack


# ------------------------------------------------------------- bytes that do not parse
def raw(method: str, payload: bytes, *, stream: bool = False, role: str = "caseworker") -> Call:
    async def run(st: Stack) -> Any:
        md = st.md(role)
        channel: Any = st.channel  # untyped: raw bytes, no (de)serializer
        if stream:
            return [r async for r in channel.unary_stream(method)(payload, metadata=md)]
        return await channel.unary_unary(method)(payload, metadata=md)

    return run


def _not_utf8(request: Any, text: str) -> bytes:
    data = bytes(request.SerializeToString())
    at = data.index(text.encode())
    return data[:at] + b"\xff" * len(text.encode()) + data[at + len(text.encode()) :]


async def test_bytes_that_do_not_parse_name_their_field_instead_of_unknown(stack: Stack) -> None:
    await refused(
        stack,
        [
            (
                "check: a name that is not UTF-8",
                raw(
                    "/hedui.v1.VerificationService/CreateVerification",
                    _not_utf8(check(member(APPLICANT, 1, "测试乙")), "测试乙"),
                ),
                "household.members[0].name",
            ),
            (
                "授权书: cut short",
                raw(
                    "/hedui.v1.ConsentService/RegisterConsent",
                    consent_pb2.RegisterConsentRequest(consent=consent()).SerializeToString()[:-7],
                ),
                "consent",  # its length says more bytes than came
            ),
            (
                "watch: not UTF-8",
                raw(
                    "/hedui.v1.VerificationService/WatchVerification",
                    b"\x0a\x02\xc3\x28",
                    stream=True,
                ),
                "verification_id",
            ),
            (
                "query: not UTF-8",
                raw(
                    "/hedui.v1.AuditService/QueryEntries",
                    _not_utf8(audit_pb2.QueryEntriesRequest(case_id="CASE-1"), "CASE-1"),
                    stream=True,
                    role="auditor",
                ),
                "case_id",
            ),
        ],
    )


async def test_a_request_with_hundreds_of_bad_fields_is_still_invalid_argument(
    stack: Stack,
) -> None:
    # The status rides in trailing metadata, which clients cap at 8 KiB: sixty long
    # violations once came back as RESOURCE_EXHAUSTED from the client's own library.
    members = [member(APPLICANT[:17] + "\u00b2", 1, "测\x07试" * 10)]
    members += [member(f"{i:018d}", 3, "\x00" * 64) for i in range(29)]
    cases: list[tuple[str, Call, str]] = [
        ("thirty bad members", create(check(*members)), "household.members[0].id_number"),
        ("a million unknown sources", create(check(sources=[cast(Any, 99)] * 10**6)), "sources"),
        ("many unknown programs", register(consent(purposes=[cast(Any, 99)] * 5000)), "purposes"),
    ]
    await refused(stack, cases)
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await cases[0][1](stack)
    assert len(violations(ei.value)) <= 16 and "more" in (ei.value.details() or "")
