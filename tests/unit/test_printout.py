"""The printable report's HTML and its QR payload, on a hand-made report document that
holds every status a source can have (the PDF itself: tests/integration/test_printable_report.py)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest

from hedui_sdk import mask_id_number
from tests.helpers import APPLICANT_ID
from verifier.render import (
    Identity,
    PrintoutError,
    PrintoutPayload,
    PrintView,
    compare_printout,
    parse_payload,
    render_html,
)
from verifier.render.page import payload_of
from verifier.render.sections import discrepancies, status_grid

KID = "ab" * 32
ENVELOPE = b'{"payload":"e30=","payloadType":"x","signatures":[]}'
FULL_NAME = "测试甲"
FULL_ID = APPLICANT_ID
MASKED_ID = mask_id_number(APPLICANT_ID)


def _source(member: int, source: str, status: str, **kw: Any) -> dict[str, Any]:
    return {
        "member_index": member,
        "source": source,
        "status": status,
        "reason": kw.get("reason", ""),
        "record_count": kw.get("record_count", 0),
        "due_date": kw.get("due_date"),
        "overdue": False,
    }


def document() -> dict[str, Any]:
    return {
        "schema": "hedui.report/v1",
        "report_id": "34763211-51e7-4d6b-a94b-085e37077834",
        "version": 2,
        "previous_sha256": "cd" * 32,
        "verification_id": "abc855bb-5692-4df0-b535-9ce6821f0394",
        "case_id": "CASE-1",
        "authorization_id": "SQ-2026-001",
        "region": "370322",
        "purposes": ["dibao"],
        "created_at": "2026-11-29T14:00:00Z",
        "window": {"start": "2025-11-01", "end": "2026-10-31"},
        "members": [
            {
                "index": 0,
                "id_type": "resident_id",
                "id_number_masked": MASKED_ID,
                "name_masked": "测**",
                "relation": "applicant",
            }
        ],
        "sources": [
            _source(0, "tax", "FOUND", record_count=1),
            _source(0, "vehicle", "NOT_FOUND"),
            _source(0, "bank", "PENDING", reason="awaiting", due_date="2026-12-03"),
            _source(0, "social_insurance", "FAILED", reason="HTTP 503"),
            _source(0, "securities", "DENIED", reason="refused"),
        ],
        "aggregates": {
            "completeness": {"missing": [{"member": 0, "source": "provident_fund"}]},
            "household_size_declared": 1,
        },
        "records": [
            {
                "member_index": 0,
                "type": "income",
                "category": "wages",
                "kind": "salary",
                "period_start": "2025-11-01",
                "period_end": "2026-10-31",
                "amount_fen": 1_860_000,
                "payer": "<script>alert(1)</script>",
                "provenance": {
                    "source": "tax",
                    "adapter": "tax-gw",
                    "adapter_version": "1.0",
                    "record_id": "R-77",
                    "as_of": "2026-10-31T00:00:00Z",
                },
            }
        ],
        "totals": {
            "income_fen": 1_860_000,
            "assets_fen": 0,
            "income_by_category": {"wages": 1_860_000},
            "assets_by_category": {},
            "by_member": [{"member_index": 0, "income_fen": 1_860_000, "assets_fen": 0}],
        },
        "completeness": {"status": "PARTIAL", "answered": 2, "expected": 6},
        "discrepancies": [
            {
                "unit": "fen_per_month",
                "declared": 50_000,
                "found": 155_000,
                "text": "申报月收入低于核对结果",
                "reference": "诚信",
            }
        ],
        "assessments": {
            "dibao": {
                "name": "最低生活保障",
                "outcome": "NEEDS_REVIEW",
                "amount_fen": 33_000,
                "reasons": [
                    {
                        "rule": "dibao.income",
                        "outcome": "ELIGIBLE",
                        "text": "家庭月人均收入低于低保标准",
                        "reference": "《社会救助暂行办法》第二章",
                        "example_parameters": ["dibao_standard_rural"],
                    }
                ],
            }
        },
        "policy": {
            "name": "山东省淄博市高青县",
            "file": "370322.toml",
            "version": "1",
            "sha256": "ef" * 32,
            "example_parameters": ["dibao_standard_rural"],
            "parameters_used": {
                "dibao_standard_rural": {
                    "value": 80000,
                    "from": "2025-01-01",
                    "reference": {"note": "示例值"},
                }
            },
        },
    }


def masked_view() -> PrintView:
    return PrintView.of(ENVELOPE, KID)


def test_each_unsettled_status_has_its_own_mark_and_word_never_those_of_no_record() -> None:
    rows = dict(status_grid(document()))
    seen = {c.status: (c.mark, c.word) for cells in rows.values() for c in cells}
    assert seen["NOT_FOUND"] == ("○", "无记录")
    assert seen["PENDING"] == ("△", "待返回")
    assert seen["FAILED"] == ("×", "查询失败")
    assert seen["DENIED"] == ("■", "被拒绝")
    # Expected by the policy, asked of no adapter: a row of its own, not an empty cell.
    assert seen["ABSENT"] == ("□", "未答复")
    assert len({m for m, _ in seen.values()}) == len(seen)


def test_the_page_has_every_section_and_says_what_is_missing() -> None:
    html = render_html(document(), masked_view())
    for text in (
        "家庭经济状况核对报告",
        "报告编号",
        "核对编号",
        "案件编号",
        "授权书编号",
        "最低生活保障",
        "2025-11-01 至 2026-10-31",
        "2026-11-29 22:00:00（北京时间）",  # issue time in Beijing time
        "△ 待返回",
        "× 查询失败",
        "不等于“无记录”",
        "预计 2026-12-03",
        "R-77",  # the record's reference at its department
        "2026-10-31",  # as of
        "¥18,600.00",
        "申报月收入低于核对结果",
        "含示例参数",
        "dibao_standard_rural",
        "cd" * 32,  # the previous version's hash
        "审核人签字",
        "盖章",
    ):
        assert text in html, text


def test_masked_by_default_full_values_only_in_a_view_that_carries_them() -> None:
    masked = render_html(document(), masked_view())
    assert MASKED_ID in masked and "测**" in masked
    assert FULL_ID not in masked and FULL_NAME not in masked
    full = render_html(document(), PrintView.of(ENVELOPE, KID, {0: Identity(FULL_NAME, FULL_ID)}))
    assert FULL_ID in full and FULL_NAME in full
    assert MASKED_ID not in full
    assert "完整显示" in full


def test_text_from_a_source_is_escaped() -> None:
    html = render_html(document(), masked_view())
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_the_verification_block_carries_key_id_envelope_hash_and_the_payload_in_a_qr() -> None:
    html = render_html(document(), masked_view())
    sha = hashlib.sha256(ENVELOPE).hexdigest()
    assert KID in html and sha in html
    payload = payload_of(document(), masked_view())
    assert payload == PrintoutPayload(document()["report_id"], 2, KID, sha)
    assert payload.text() in html
    assert re.search(r"<svg[^>]*>", html)


def test_a_payload_reads_back_and_refuses_anything_else() -> None:
    p = PrintoutPayload("r-1", 3, KID, "0f" * 32)
    assert parse_payload(p.text() + "\n") == p
    for bad in (
        p.text().replace("hedui-report:1", "hedui-report:2"),
        p.text().upper(),
        p.text() + ";extra=1",
        p.text().replace(";v=3;", ";v=03;"),
        p.text().replace(KID, "ab" * 31),
        "",
    ):
        with pytest.raises(PrintoutError):
            parse_payload(bad)


def test_compare_names_each_difference() -> None:
    doc = document()
    sha = hashlib.sha256(ENVELOPE).hexdigest()
    same = PrintoutPayload(doc["report_id"], 2, KID, sha)
    assert compare_printout(same, ENVELOPE, (KID,), doc) == []
    assert compare_printout(same, ENVELOPE + b" ", (KID,), doc) == [
        "envelope SHA-256 differs: the JSON is not the envelope printed"
    ]
    assert compare_printout(same, ENVELOPE, ("cd" * 32, KID), doc) == []
    assert compare_printout(same, ENVELOPE, ("cd" * 32,), doc) == [
        "signing key id differs: no verified signature is by that key"
    ]
    assert compare_printout(same, ENVELOPE, (KID,), doc | {"version": 3}) == [
        "report version differs"
    ]
    assert compare_printout(same, ENVELOPE, (KID,), doc | {"report_id": "other"}) == [
        "report id differs"
    ]


def test_identities_never_show_in_a_repr() -> None:
    assert FULL_ID not in repr(Identity(FULL_NAME, FULL_ID))
    view = PrintView.of(ENVELOPE, KID, {0: Identity(FULL_NAME, FULL_ID)})
    assert FULL_ID not in repr(view) and FULL_NAME not in repr(view)


def test_facts_compared_read_as_words_not_bare_numbers() -> None:
    doc = {
        "discrepancies": [
            {"kind": "serious_illness", "unit": "flag", "declared": 1, "found": 0},
            {"kind": "disability", "unit": "grade", "declared": 1, "found": 0},
            {"kind": "disability", "unit": "grade", "declared": 0, "found": 2},
            {"kind": "deceased", "unit": "persons", "declared": 0, "found": 1},
        ]
    }
    rows = [(d["declared"], d["found"]) for d in discrepancies(doc)]
    assert rows == [("是", "否"), ("一级", "无残疾证"), ("无残疾证", "二级"), ("0 人", "1 人")]
