"""Every field of every RPC is checked at the API boundary: bounds, positions for auditors
only, and one name rule for checks and authorizations.

Every refusal is INVALID_ARGUMENT with a BadRequest violation naming the field, and no row
of any table is written — not even an audit entry (issue 12).
"""

from __future__ import annotations

from typing import Any, cast

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.type import date_pb2
from hedui.v1 import audit_pb2, common_pb2, consent_pb2
from hedui.v1 import verification_pb2 as pb

from tests import hostile_input_helpers
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
    watch,
)

# The shared fixture, bound here so that pytest finds it for this module's tests.
stack = hostile_input_helpers.stack


def consent_with_subject(**kw: Any) -> consent_pb2.Consent:
    c = consent()
    for k, v in kw.items():
        setattr(c.subjects[0], k, v)
    return c


def consent_with_signatory(**kw: Any) -> consent_pb2.Consent:
    c = consent()
    g = c.signatories[0]
    for k, v in kw.items():
        if k == "signs_for":
            del g.signs_for[:]
            g.signs_for.extend(v)
        else:
            setattr(g, k, v)
    return c


def ts(seconds: int, nanos: int = 0) -> Timestamp:
    return Timestamp(seconds=seconds, nanos=nanos)


def export(req: audit_pb2.ExportEntriesRequest) -> Call:
    async def run(st: Stack) -> list[Any]:
        call = st.audit.ExportEntries(req, metadata=st.md("auditor", "auditor-1"), timeout=10)
        return [r async for r in call]

    return run


# ------------------------------------------------------- 3. every field of every RPC
BIG = 2**53
INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1


def _member_with(**circumstances: Any) -> pb.CreateVerificationRequest:
    req = check()
    req.household.members[0].circumstances.CopyFrom(pb.MemberCircumstances(**circumstances))
    return req


def _declaration(**kw: Any) -> pb.CreateVerificationRequest:
    return check(declaration=pb.Declaration(**kw))


VERIFICATION_CASES: list[tuple[str, Call, str]] = [
    ("unknown purpose", create(check(purposes=[cast(Any, 99)])), "purposes[0]"),
    ("unknown source", create(check(sources=[cast(Any, 99)])), "sources[0]"),
    ("unknown hukou", create(check(hukou_nature=cast(Any, 99))), "hukou_nature"),
    ("unknown program", create(check(current_programs=[cast(Any, 77)])), "current_programs[0]"),
    (
        "unknown work capacity",
        create(_member_with(work_capacity=cast(Any, 99))),
        "household.members[0].circumstances.work_capacity",
    ),
    (
        "unknown supporter",
        create(_member_with(supporter=cast(Any, 99))),
        "household.members[0].circumstances.supporter",
    ),
    (
        "disability grade",
        create(_member_with(disability_grade=INT32_MAX)),
        "household.members[0].circumstances.disability_grade",
    ),
    ("negative amount", create(_deduction(amount_fen=-1)), "deductions[0].amount_fen"),
    ("huge amount", create(_deduction(amount_fen=INT64_MAX)), "deductions[0].amount_fen"),
    ("member index", create(_deduction(member_index=-1)), "deductions[0].member_index"),
    ("unknown deduction", create(_deduction(kind=cast(Any, 9))), "deductions[0].kind"),
    ("evidence ref", create(_deduction(evidence_ref="x" * 129)), "deductions[0].evidence_ref"),
    (
        "declared income",
        create(
            _declaration(
                incomes=[
                    pb.DeclaredIncome(category=common_pb2.INCOME_CATEGORY_WAGES, monthly_fen=-5)
                ]
            )
        ),
        "declaration.incomes[0].monthly_fen",
    ),
    (
        "declared asset count",
        create(
            _declaration(
                assets=[pb.DeclaredAsset(category=common_pb2.ASSET_CATEGORY_DEPOSIT, count=-1)]
            )
        ),
        "declaration.assets[0].count",
    ),
    (
        "declared members",
        create(_declaration(member_count=INT32_MAX)),
        "declaration.member_count",
    ),
    (
        "window",
        create(
            check(
                window=pb.Window(
                    start_date=date_pb2.Date(year=2026, month=0, day=1),
                    end_date=date_pb2.Date(year=2026, month=6, day=30),
                )
            )
        ),
        "window.start_date",
    ),
    ("request_id length", create(check(request_id="r" * 65)), "request_id"),
    ("case_id length", create(check(case_id="C" * 65)), "case_id"),
    ("name BEL", create(check(member(APPLICANT, 1, "测\x07试"))), "household.members[0].name"),
    ("name length", create(check(member(APPLICANT, 1, "测" * 65))), "household.members[0].name"),
    (
        "get: long id",
        verification_unary("GetVerification", pb.GetVerificationRequest(verification_id="a" * 37)),
        "verification_id",
    ),
    (
        "get: empty id",
        verification_unary("GetVerification", pb.GetVerificationRequest()),
        "verification_id",
    ),
    ("watch: not an id", watch("v" * 1000), "verification_id"),
    (
        "report: version",
        verification_unary(
            "GetReport", pb.GetReportRequest(verification_id=UNKNOWN_VID, version=-1)
        ),
        "version",
    ),
    (
        "report: uppercase id",
        verification_unary(
            "GetReport", pb.GetReportRequest(verification_id="ABCDEF00-0000-4000-8000-000000000000")
        ),
        "verification_id",
    ),
]

CONSENT_CASES: list[tuple[str, Call, str]] = [
    (
        "unknown id type",
        register(consent_with_subject(id_type=cast(Any, 42))),
        "subjects[0].id_type",
    ),
    (
        "unknown relation",
        register(consent_with_subject(relation=cast(Any, 42))),
        "subjects[0].relation",
    ),
    ("unknown role", register(consent_with_signatory(role=cast(Any, 42))), "signatories[0].role"),
    ("signs_for", register(consent_with_signatory(signs_for=[-1])), "signatories[0].signs_for"),
    (
        "signs_for huge",
        register(consent_with_signatory(signs_for=[INT32_MAX])),
        "signatories[0].signs_for",
    ),
    ("unknown source", register(consent(sources=[cast(Any, 99)])), "sources[0]"),
    ("unknown purpose", register(consent(purposes=[cast(Any, 99)])), "purposes[0]"),
    (
        "valid_from",
        register(consent(valid_from=date_pb2.Date(year=2026, month=13, day=1))),
        "valid_from",
    ),
    (
        "valid_until",
        register(consent(valid_until=date_pb2.Date(year=2027, month=1, day=0))),
        "valid_until",
    ),
    ("number length", register(consent(number="N" * 65)), "number"),
    ("location length", register(consent(evidence_location="档" * 257)), "evidence_location"),
    ("location control", register(consent(evidence_location="档案\x00")), "evidence_location"),
    (
        "revoke: reason",
        consent_unary("RevokeConsent", consent_pb2.RevokeConsentRequest(number="SQ-1", reason="")),
        "reason",
    ),
    (
        "revoke: reason length",
        consent_unary(
            "RevokeConsent", consent_pb2.RevokeConsentRequest(number="SQ-1", reason="因" * 257)
        ),
        "reason",
    ),
    ("get: empty", consent_unary("GetConsent", consent_pb2.GetConsentRequest()), "number"),
]

AUDIT_CASES: list[tuple[str, Call, str]] = [
    ("page_size cap", query(audit_pb2.QueryEntriesRequest(page_size=1001)), "page_size"),
    ("page_size negative", query(audit_pb2.QueryEntriesRequest(page_size=-1)), "page_size"),
    ("page_token", query(audit_pb2.QueryEntriesRequest(page_token="x" * 5000)), "page_token"),
    (
        "page_token seq",
        query(audit_pb2.QueryEntriesRequest(page_token="c2VxOjk5OTk5OTk5OTk5OTk5OTk5OTk5OQ==")),
        "page_token",
    ),
    (
        "start_time far",
        query(audit_pb2.QueryEntriesRequest(start_time=ts(INT64_MAX))),
        "start_time",
    ),
    (
        "start_time early",
        query(audit_pb2.QueryEntriesRequest(start_time=ts(-(2**62)))),
        "start_time",
    ),
    ("end_time nanos", query(audit_pb2.QueryEntriesRequest(end_time=ts(0, -1))), "end_time"),
    (
        "verification_id long",
        query(audit_pb2.QueryEntriesRequest(verification_id="v" * 1000)),
        "verification_id",
    ),
    ("case_id long", query(audit_pb2.QueryEntriesRequest(case_id="C" * 65)), "case_id"),
    ("actor_user", query(audit_pb2.QueryEntriesRequest(actor_user="u" * 65)), "actor_user"),
    ("actor_system", query(audit_pb2.QueryEntriesRequest(actor_system="s\x00")), "actor_system"),
    (
        "subject without type",
        query(audit_pb2.QueryEntriesRequest(subject=audit_pb2.SubjectFilter(id_number=APPLICANT))),
        "subject.id_type",
    ),
    ("export start", export(audit_pb2.ExportEntriesRequest(start_seq=BIG)), "start_seq"),
    ("export start negative", export(audit_pb2.ExportEntriesRequest(start_seq=-1)), "start_seq"),
    ("export end", export(audit_pb2.ExportEntriesRequest(end_seq=INT64_MAX)), "end_seq"),
    (
        "export end before start",
        export(audit_pb2.ExportEntriesRequest(start_seq=2, end_seq=1)),
        "end_seq",
    ),
    (
        "export beyond the log",
        export(audit_pb2.ExportEntriesRequest(start_seq=0, end_seq=BIG - 1)),
        "end_seq",
    ),
    (
        "inclusion seq",
        audit_unary("ProveInclusion", audit_pb2.ProveInclusionRequest(seq=BIG)),
        "seq",
    ),
    (
        "inclusion seq negative",
        audit_unary("ProveInclusion", audit_pb2.ProveInclusionRequest(seq=-1)),
        "seq",
    ),
    (
        "inclusion tree_size",
        audit_unary("ProveInclusion", audit_pb2.ProveInclusionRequest(seq=0, tree_size=BIG)),
        "tree_size",
    ),
    (
        "inclusion beyond the log",
        audit_unary("ProveInclusion", audit_pb2.ProveInclusionRequest(seq=10**6)),
        "seq",
    ),
    (
        "inclusion tree beyond the log",
        audit_unary("ProveInclusion", audit_pb2.ProveInclusionRequest(seq=0, tree_size=10**6)),
        "tree_size",
    ),
    (
        "consistency old",
        audit_unary("ProveConsistency", audit_pb2.ProveConsistencyRequest(old_size=BIG)),
        "old_size",
    ),
    (
        "consistency new",
        audit_unary("ProveConsistency", audit_pb2.ProveConsistencyRequest(new_size=-3)),
        "new_size",
    ),
    (
        "consistency beyond the log",
        audit_unary("ProveConsistency", audit_pb2.ProveConsistencyRequest(old_size=10**6)),
        "old_size",
    ),
    (
        "receipt id",
        audit_unary("GetReceipt", audit_pb2.GetReceiptRequest(verification_id="r" * 65)),
        "verification_id",
    ),
    (
        "receipt version",
        audit_unary(
            "GetReceipt", audit_pb2.GetReceiptRequest(verification_id=UNKNOWN_VID, version=-1)
        ),
        "version",
    ),
]


async def test_every_field_of_every_rpc_is_checked_at_the_boundary(stack: Stack) -> None:
    # One good check first, so the log and the tables are not empty.
    await register(consent(APPLICANT))(stack)
    await create(check())(stack)
    await refused(stack, VERIFICATION_CASES + CONSENT_CASES + AUDIT_CASES)


async def test_positions_are_checked_against_the_log_only_for_auditors(stack: Stack) -> None:
    # Anyone else is refused for their role (and that is audited), whatever the seq: a
    # caseworker cannot learn the log's size by probing.
    before = await stack.rows()
    for seq in (0, 10**6):
        with pytest.raises(grpc.aio.AioRpcError) as ei:
            await stack.audit.ProveInclusion(
                audit_pb2.ProveInclusionRequest(seq=seq), metadata=stack.md("caseworker")
            )
        assert ei.value.code() is grpc.StatusCode.PERMISSION_DENIED
    after = await stack.rows()
    assert after["audit_entries"] == before["audit_entries"] + 2


# ------------------------------------------------------------------------------ 4. names
@pytest.mark.parametrize("name", ["测\x07试", "测试\x00", "\x7f测试", "测\u0085试", "测\u202e试"])
async def test_one_name_rule_for_checks_and_authorizations(stack: Stack, name: str) -> None:
    await refused(
        stack,
        [
            ("check", create(check(member(APPLICANT, 1, name))), "household.members[0].name"),
            ("授权书 subject", register(consent(name=name)), "subjects[0].name"),
            ("授权书 signatory", register(consent(name=name)), "signatories[0].name"),
        ],
    )
