"""Hostile ID numbers at the API boundary: Unicode digits and look-alikes, a trailing
newline in any identifier, ID-number-shaped identifiers and metadata; a source only ever
receives the canonical ASCII number.

Every refusal is INVALID_ARGUMENT with a BadRequest violation naming the field, and no row
of any table is written — not even an audit entry (issue 12).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from datetime import date

import grpc
import pytest
from google.type import date_pb2
from hedui.v1 import audit_pb2, common_pb2, consent_pb2
from hedui.v1 import verification_pb2 as pb

from tests import hostile_input_helpers
from tests.fakes import synthetic_id
from tests.hostile_input_helpers import (
    APPLICANT,
    UNKNOWN_VID,
    Call,
    Stack,
    _deduction,
    audit_unary,
    check,
    consent,
    consent_unary,
    create,
    member,
    query,
    refused,
    register,
    verification_unary,
)

# The shared fixture, bound here so that pytest finds it for this module's tests.
stack = hostile_input_helpers.stack
SPOUSE = synthetic_id(seq=42, born=date(1970, 7, 8))
X_ENDING = next(
    synthetic_id(seq=s, born=date(1975, 1, 2))
    for s in range(1000)
    if synthetic_id(seq=s, born=date(1975, 1, 2)).endswith("X")
)
CANONICAL = re.compile(r"[0-9]{17}[0-9X]", re.ASCII)


def subject_query(number: str) -> audit_pb2.QueryEntriesRequest:
    return audit_pb2.QueryEntriesRequest(
        subject=audit_pb2.SubjectFilter(id_type=common_pb2.ID_TYPE_RESIDENT_ID, id_number=number)
    )


# ------------------------------------------------------------- 1. ID numbers: ASCII only
def unicode_digits() -> list[str]:
    """Every Unicode decimal digit that is not ASCII 0-9."""
    return [
        chr(cp)
        for cp in range(sys.maxunicode + 1)
        if not 0x30 <= cp <= 0x39 and unicodedata.decimal(chr(cp), None) is not None
    ]


def look_alikes() -> list[str]:
    """Digit look-alikes (superscripts, circled, parenthesized…) and X look-alikes."""
    digits = [
        chr(cp)
        for cp in range(sys.maxunicode + 1)
        if unicodedata.decimal(chr(cp), None) is None
        and unicodedata.digit(chr(cp), None) is not None
    ]
    return [*digits, "x", "\uff38", "\uff58", "\u00d7", "\u2169", "\u03a7"]


def variants() -> list[tuple[str, str]]:
    """(label, number): the applicant's number with one character swapped for a
    non-ASCII digit or look-alike, at every position in turn."""
    out = []
    for n, ch in enumerate(unicode_digits() + look_alikes()):
        pos = 17 if ch in "x\uff38\uff58\u00d7\u2169\u03a7" else n % 17
        base = X_ENDING if pos == 17 else APPLICANT
        out.append((f"U+{ord(ch):04X}@{pos + 1}", base[:pos] + ch + base[pos + 1 :]))
    return out


async def test_every_unicode_digit_and_look_alike_is_refused_everywhere(stack: Stack) -> None:
    cases: list[tuple[str, Call, str]] = []
    for label, number in variants():
        cases.append(
            (
                f"check {label}",
                create(check(member(number, common_pb2.RELATION_APPLICANT))),
                "household.members[0].id_number",
            )
        )
        cases.append((f"授权书 {label}", register(consent(number)), "subjects[0].id_number"))
        cases.append((f"audit {label}", query(subject_query(number)), "subject.id_number"))
    assert len(cases) >= 3 * 700
    await refused(stack, cases)
    assert stack.tax.asked == []


async def test_a_source_only_ever_receives_the_canonical_ascii_number(stack: Stack) -> None:
    await register(consent(APPLICANT, SPOUSE))(stack)
    # One digit of the birth date swapped for the same digit in another script: int()
    # reads it, so the check digit still "matched" and the number passed validation.
    fullwidth = APPLICANT[:9] + chr(0xFF10 + int(APPLICANT[9])) + APPLICANT[10:]
    arabic_indic = APPLICANT[:15] + chr(0x0660 + int(APPLICANT[15])) + APPLICANT[16:]
    await refused(
        stack,
        [
            (
                f"check {label}",
                create(
                    check(
                        member(number, common_pb2.RELATION_APPLICANT),
                        member(SPOUSE, common_pb2.RELATION_SPOUSE),
                        request_id=f"r-{i}",
                    )
                ),
                "household.members[0].id_number",
            )
            for i, (label, number) in enumerate(
                [("fullwidth", fullwidth), ("arabic-indic", arabic_indic)]
            )
        ],
    )
    resp = await create(
        check(
            member(APPLICANT, common_pb2.RELATION_APPLICANT),
            member(SPOUSE, common_pb2.RELATION_SPOUSE),
        )
    )(stack)
    assert resp.verification.latest_report_version == 1
    assert sorted(stack.tax.asked) == sorted([APPLICANT, SPOUSE])
    assert all(CANONICAL.fullmatch(n) and n.isascii() for n in stack.tax.asked)


# ----------------------------------------------------------------------------- 2. anchors
async def test_a_trailing_newline_is_refused_in_every_identifier(stack: Stack) -> None:
    await refused(
        stack,
        [
            ("region", create(_region("370322\n")), "household.region_code"),
            ("request_id", create(check(request_id="r-1\n")), "request_id"),
            ("case_id", create(check(case_id="CASE-1\n")), "case_id"),
            ("authorization_id", create(check(authorization_id="SQ-1\n")), "authorization_id"),
            ("授权书 number", register(consent(number="SQ-1\n")), "number"),
            ("授权书 region", register(consent(region_code="370322\n")), "region_code"),
            (
                "授权书 sha256",
                register(consent(evidence_sha256="ab" * 32 + "\n")),
                "evidence_sha256",
            ),
            (
                "授权书 valid_from",
                register(consent(valid_from=date_pb2.Date(year=2026, month=2, day=30))),
                "valid_from",
            ),
            (
                "revoke number",
                consent_unary(
                    "RevokeConsent", consent_pb2.RevokeConsentRequest(number="SQ-1\n", reason="r")
                ),
                "number",
            ),
            (
                "get number",
                consent_unary("GetConsent", consent_pb2.GetConsentRequest(number="SQ-1\n")),
                "number",
            ),
            ("audit case_id", query(audit_pb2.QueryEntriesRequest(case_id="CASE-1\n")), "case_id"),
            ("audit action", query(audit_pb2.QueryEntriesRequest(action=999)), "action"),  # type: ignore[arg-type]
            (
                "audit verification_id",
                query(audit_pb2.QueryEntriesRequest(verification_id=UNKNOWN_VID + "\n")),
                "verification_id",
            ),
            (
                "get verification",
                verification_unary(
                    "GetVerification", pb.GetVerificationRequest(verification_id=UNKNOWN_VID + "\n")
                ),
                "verification_id",
            ),
        ],
    )


def _region(code: str) -> pb.CreateVerificationRequest:
    req = check()
    req.household.region_code = code
    return req


# ---------------------------------------------------- 5. no ID number through a side door
def shaped(number: str) -> list[tuple[str, str]]:
    return [
        ("bare", number),
        ("embedded", f"CASE-{number}-01"),
        ("in digits", f"9{number}9"),
        ("lowercase x", X_ENDING[:17] + "x"),
    ]


async def test_identifier_fields_refuse_anything_shaped_like_an_id_number(stack: Stack) -> None:
    await register(consent(APPLICANT))(stack)
    cases: list[tuple[str, Call, str]] = []
    for label, value in shaped(SPOUSE):
        cases += [
            (f"case_id {label}", create(check(case_id=value)), "case_id"),
            (f"request_id {label}", create(check(request_id=value)), "request_id"),
            (
                f"authorization_id {label}",
                create(check(authorization_id=value)),
                "authorization_id",
            ),
            (
                f"evidence_ref {label}",
                create(_deduction(evidence_ref=value)),
                "deductions[0].evidence_ref",
            ),
            (f"授权书 number {label}", register(consent(number=value)), "number"),
            (
                f"授权书 location {label}",
                register(consent(evidence_location=f"档案室 {value}")),
                "evidence_location",
            ),
            (
                f"revoke number {label}",
                consent_unary(
                    "RevokeConsent", consent_pb2.RevokeConsentRequest(number=value, reason="r")
                ),
                "number",
            ),
            (
                f"revoke reason {label}",
                consent_unary(
                    "RevokeConsent",
                    consent_pb2.RevokeConsentRequest(number="SQ-1", reason=f"误录 {value}"),
                ),
                "reason",
            ),
            (
                f"get number {label}",
                consent_unary("GetConsent", consent_pb2.GetConsentRequest(number=value)),
                "number",
            ),
            (
                f"audit case_id {label}",
                query(audit_pb2.QueryEntriesRequest(case_id=value)),
                "case_id",
            ),
            (
                f"audit verification_id {label}",
                query(audit_pb2.QueryEntriesRequest(verification_id=value)),
                "verification_id",
            ),
            (
                f"audit actor_user {label}",
                query(audit_pb2.QueryEntriesRequest(actor_user=value)),
                "actor_user",
            ),
            (
                f"receipt {label}",
                audit_unary("GetReceipt", audit_pb2.GetReceiptRequest(verification_id=value)),
                "verification_id",
            ),
            (
                f"report {label}",
                verification_unary("GetReport", pb.GetReportRequest(verification_id=value)),
                "verification_id",
            ),
        ]
    await refused(stack, cases)


async def test_an_id_number_as_the_user_or_request_id_metadata_goes_nowhere(stack: Stack) -> None:
    before = await stack.rows()
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await stack.verifications.CreateVerification(check(), metadata=stack.md(user=SPOUSE))
    assert ei.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert SPOUSE not in (ei.value.details() or "")
    assert await stack.rows() == before
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await stack.verifications.GetVerification(
            pb.GetVerificationRequest(verification_id=UNKNOWN_VID),
            metadata=(*stack.md(), ("x-request-id", f"req-{SPOUSE}")),
        )
    assert ei.value.code() is grpc.StatusCode.NOT_FOUND
    echoed = dict(ei.value.trailing_metadata() or ())
    assert SPOUSE not in str(echoed.get("x-request-id", ""))
