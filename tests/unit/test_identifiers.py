"""The field formats every service shares: full match on ASCII classes, documented
bounds, no resident ID number in a field that is not for personal data."""

from __future__ import annotations

import base64
from datetime import date

import pytest

from hedui_sdk import IdType
from tests.fakes import synthetic_id
from verifier.domain import identifiers as ids
from verifier.domain.errors import FieldViolation, InvalidArgument

ID = synthetic_id(seq=7)
ID_LOWER_X = (
    next(synthetic_id(seq=s) for s in range(1000) if synthetic_id(seq=s).endswith("X"))[:17] + "x"
)
TODAY = date(2026, 11, 26)

GOOD: dict[str, tuple[ids.Format, str]] = {
    "region": (ids.REGION_CODE, "370322"),
    "request": (ids.REQUEST_ID, "r-2026.11_26"),
    "case": (ids.CASE_ID, "CASE-2026-000123"),
    "authorization": (ids.AUTHORIZATION_NUMBER, "SQ-2026-001"),
    "verification": (ids.VERIFICATION_ID, "6f1c1e5e-3d4b-4c8a-9b2f-0a1b2c3d4e5f"),
    "evidence": (ids.EVIDENCE_REF, "INV 2026/0412#3"),
    "sha256": (ids.SHA256_HEX, "ab" * 32),
    "document": (ids.OTHER_DOCUMENT_NUMBER, "E12345678"),
    "date": (ids.DATE, "2026-01-31"),
    "system": (ids.ACTOR_SYSTEM, "case-system-a"),
    "user": (ids.ACTOR_USER, "worker.1@town"),
    "action": (ids.ACTION, "access_intent"),
}


@pytest.mark.parametrize("kind", list(GOOD))
def test_a_well_formed_value_passes(kind: str) -> None:
    fmt, value = GOOD[kind]
    assert fmt.problem(value) is None
    assert len(value) <= fmt.max_length


@pytest.mark.parametrize("kind", list(GOOD))
@pytest.mark.parametrize("suffix", ["\n", "\r\n", " ", "\x00", "\u2028"])
def test_a_trailing_newline_or_control_is_refused(kind: str, suffix: str) -> None:
    # ^…$ with re.match accepted "370322\n", which then crashed the database layer.
    fmt, value = GOOD[kind]
    assert fmt.problem(value + suffix) is not None
    assert fmt.problem(suffix + value) is not None


@pytest.mark.parametrize("kind", list(GOOD))
def test_unicode_digits_and_letters_are_refused(kind: str) -> None:
    fmt, value = GOOD[kind]
    for i, ch in enumerate(value):
        if ch.isdigit():
            assert fmt.problem(value[:i] + chr(0xFF10 + int(ch)) + value[i + 1 :]) is not None
        elif ch.isalpha():
            assert fmt.problem(value[:i] + chr(0xFF21 + ord(ch.upper()) - 65) + value[i + 1 :])


@pytest.mark.parametrize("kind", list(GOOD))
def test_lengths_are_bounded(kind: str) -> None:
    fmt, value = GOOD[kind]
    assert fmt.problem(value * (fmt.max_length // len(value) + 1)) is not None
    assert fmt.problem("") is not None


NOT_PERSONAL = [
    ids.REQUEST_ID,
    ids.CASE_ID,
    ids.AUTHORIZATION_NUMBER,
    ids.EVIDENCE_REF,
    ids.ACTOR_USER,
    ids.ACTOR_SYSTEM,
]


@pytest.mark.parametrize("fmt", NOT_PERSONAL, ids=lambda f: f.kind)
@pytest.mark.parametrize("shape", ["{}", "C-{}", "{}-1", "9{}9", "x{}"])
@pytest.mark.parametrize("number", [ID, ID_LOWER_X], ids=["X", "x"])
def test_identifiers_refuse_anything_shaped_like_an_id_number(
    fmt: ids.Format, shape: str, number: str
) -> None:
    value = shape.format(number)
    problem = fmt.problem(value)
    assert problem == "must not hold a resident ID number (this field is not for personal data)"
    assert number not in problem


def test_the_verification_id_is_a_lowercase_uuid() -> None:
    assert ids.VERIFICATION_ID.problem("6F1C1E5E-3D4B-4C8A-9B2F-0A1B2C3D4E5F") is not None
    assert ids.VERIFICATION_ID.problem("6f1c1e5e3d4b4c8a9b2f0a1b2c3d4e5f") is not None
    assert ids.VERIFICATION_ID.problem(ID) is not None
    assert ids.VERIFICATION_ID.problem("a" * 64) is not None


def test_require_names_the_field() -> None:
    with pytest.raises(InvalidArgument) as ei:
        ids.require(ids.CASE_ID, "C-1\n", "case_id")
    assert ei.value.violations == (FieldViolation("case_id", f"must be {ids.CASE_ID.rule}"),)


# ------------------------------------------------------------------------------ names
@pytest.mark.parametrize(
    "name",
    ["张三", "买买提·艾力", "John Smith", " 李四 ", "欧阳\ue000", "A" * 64, "𠀀𪚥"],
)
def test_names_people_have_pass(name: str) -> None:
    assert ids.person_name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "position"),
    [
        ("张\x07三", 2),  # BEL
        ("张三\x00", 3),  # NUL
        ("\x7f张三", 1),  # DEL
        ("张\x85三", 2),  # C1 (NEL)
        ("张\u202e三", 2),  # right-to-left override
        ("张\u200b三", 2),  # zero-width space
        ("张\ud800三", 2),  # a lone surrogate
        ("张三\n", 3),
        ("张\u3000三", 2),  # ideographic space
        ("张\u2028三", 2),  # line separator
    ],
)
def test_names_with_controls_are_refused_naming_the_position(name: str, position: int) -> None:
    problem = ids.person_name_problem(name)
    assert problem is not None and problem.startswith(f"character {position} ")
    assert "张" not in problem


def test_name_lengths() -> None:
    assert ids.person_name_problem("") == "must not be empty"
    assert ids.person_name_problem("   ") == "must not be empty"
    assert ids.person_name_problem("A" * 65) == "must be at most 64 characters"
    assert ids.person_name(" 李四 ") == "李四"


def test_free_text_refuses_id_numbers_in_any_digits() -> None:
    assert ids.free_text_problem("县民政局档案室 GQ-2026-0012", 256) is None
    fullwidth = "".join(chr(0xFF10 + int(d)) for d in ID[:17]) + ID[17]
    for text in (f"档案 {ID}", f"档案 {fullwidth}", f"档案{ID_LOWER_X}"):
        assert ids.free_text_problem(text, 256) == (
            "must not hold a resident ID number (this field is not for personal data)"
        )
    assert ids.free_text_problem("x" * 257, 256) == "must be 1-256 characters"
    assert ids.free_text_problem("档案\x07", 256) is not None


# ------------------------------------------------------------------ numbers and times
def test_dates_are_written_yyyy_mm_dd_only() -> None:
    out: list[FieldViolation] = []
    assert ids.check_date("2026-01-31", "d", out) == date(2026, 1, 31) and not out
    for text in ("20260131", "2026-W05-6", "2026-01-31\n", "２０２６-01-31", "2026-02-30"):
        out = []
        assert ids.check_date(text, "d", out) is None
        assert out == [FieldViolation("d", "must be a date YYYY-MM-DD")]


def test_timestamps_within_the_protobuf_range() -> None:
    ok: list[FieldViolation] = []
    ids.check_timestamp(0, 0, "since", ok)
    ids.check_timestamp(ids.TIMESTAMP_MAX_SECONDS, 999_999_999, "since", ok)
    ids.check_timestamp(ids.TIMESTAMP_MIN_SECONDS, 0, "since", ok)
    assert ok == []
    for seconds, nanos in ((ids.TIMESTAMP_MAX_SECONDS + 1, 0), (2**63 - 1, 0), (0, -1), (0, 10**9)):
        out: list[FieldViolation] = []
        ids.check_timestamp(seconds, nanos, "until", out)
        assert [v.field for v in out] == ["until"]


def _token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def test_page_tokens() -> None:
    for good in ("", _token("seq:0"), _token(f"seq:{ids.SAFE_INTEGER_MAX}")):
        out: list[FieldViolation] = []
        ids.check_page_token(good, "page_token", out)
        assert out == []
    for bad in (
        "not-a-token",
        _token("seq:-1"),
        _token(f"seq:{ids.SAFE_INTEGER_MAX + 1}"),
        _token("seq:" + "9" * 40),
        _token("seq:01"),
        _token("seq:1") + "\n",
        "A" * 10_000,
    ):
        out = []
        ids.check_page_token(bad, "page_token", out)
        assert out == [FieldViolation("page_token", "is not a token we issued")], bad


def test_other_documents_are_ascii_letters_and_digits() -> None:
    for number, ok in (
        ("E12345678", True),
        ("e12345678", True),
        ("E１2345678", False),
        ("É12345678", False),
        ("E1234567\n", False),
        ("A" * 33, False),
    ):
        out: list[FieldViolation] = []
        ids.check_id_number(IdType.PASSPORT, number, "n", TODAY, out)
        assert (out == []) is ok, number


def test_a_digest_refuses_a_valid_id_number_not_a_chance_id_shaped_run() -> None:
    # About one genuine SHA-256 hex digest in 77,000 holds an ID-shaped run of digits:
    # refusing those would refuse a real scan. A valid number is refused.
    chance = "3703221980051700" + "19" + "ab" * 23
    assert len(chance) == 64 and ids.SHA256_HEX.problem(chance) is None
    smuggled = (ID + "ab" * 23)[:64]
    assert ids.SHA256_HEX.problem(smuggled) == (
        "must not hold a resident ID number (this field is not for personal data)"
    )
