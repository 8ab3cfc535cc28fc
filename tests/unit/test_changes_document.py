"""The change document itself: no change between equal checks, both reports named by
envelope SHA-256, deterministic order, stable canonical bytes and signature, no personal
data, and the golden format.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import random
from datetime import timedelta

import pytest

from hedui_sdk import SourceKind
from tests.pii import PiiScanner
from tests.unit.changes_helpers import (
    APPLICANT,
    BABY,
    BASE,
    CHANGES_KEY,
    CHILD,
    FIRST_CHECK,
    GOLDEN,
    KEYS,
    OTHER_APPLICANT,
    PLATE,
    PSEUDONYM_KEY,
    REGION,
    REPORT_KEY,
    SPOUSE,
    TODAY,
    VEHICLE_RECORD_ID,
    Check,
    S,
    check,
    codes,
    deposit,
    home,
    vehicle,
)
from verifier.domain.changes import (
    ChangeCode,
    ReportVersion,
    change_document,
    household_ref,
    member_refs,
)
from verifier.domain.outcomes import SourceStatus
from verifier.signing.changes import CHANGES_PAYLOAD_TYPE, ChangeSigner, verify_changes
from verifier.signing.dsse import EnvelopeError, verify_envelope
from verifier.signing.jcs import canonical_bytes
from verifier.signing.jwks import key_id

EVERYONE = (APPLICANT, SPOUSE, CHILD, BABY, OTHER_APPLICANT)


# --------------------------------------------------------------------------- no change


def test_the_same_report_twice_has_no_changes() -> None:
    c = check(BASE)
    doc = change_document(c.version, c.version)
    assert doc["changes"] == [] and doc["withheld"] == []
    assert doc["household_figures_compared"] is True
    assert doc["previous"] == doc["current"]


def test_a_new_check_of_an_unchanged_household_has_no_changes() -> None:
    facts = BASE.with_(
        assets={(1, SourceKind.VEHICLE): (vehicle(),), (0, SourceKind.BANK): (deposit(100_000),)}
    )
    prev, cur = check(facts), check(facts)
    doc = change_document(prev.version, cur.version)
    assert doc["changes"] == [] and doc["withheld"] == []
    assert doc["household_figures_compared"] is True
    assert doc["previous"]["envelope_sha256"] != doc["current"]["envelope_sha256"]


def test_the_document_names_both_reports_by_envelope_sha256() -> None:
    import hashlib

    prev, cur = check(BASE), check(BASE)
    doc = change_document(prev.version, cur.version)
    assert doc["schema"] == "hedui.changes/v1"
    assert doc["previous"] == {
        "report_id": prev.document["report_id"],
        "version": 1,
        "verification_id": prev.document["verification_id"],
        "case_id": "CASE-2026-7",
        "created_at": prev.document["created_at"],
        "envelope_sha256": hashlib.sha256(prev.envelope).hexdigest(),
    }
    assert doc["current"]["envelope_sha256"] == hashlib.sha256(cur.envelope).hexdigest()
    assert doc["household"] == {
        "region": REGION,
        "household_ref": household_ref(cur.request, PSEUDONYM_KEY),
    }


# --------------------------------------------------------------------------- bytes, signature, privacy


def _busy_pair() -> tuple[Check, Check]:
    """Many kinds of change at once, with plates and record ids in the reports."""
    prev = check(
        BASE.with_(
            members=(APPLICANT, SPOUSE, CHILD),
            registered=(APPLICANT, SPOUSE, CHILD),
            monthly_per_capita_fen=S - 1,
            assets={(2, SourceKind.REAL_ESTATE): (home(),)},
        )
    )
    cur = check(
        BASE.with_(
            members=(APPLICANT, SPOUSE, BABY),
            registered=(APPLICANT, BABY),
            monthly_per_capita_fen=3 * S,
            assets={(0, SourceKind.VEHICLE): (vehicle(),), (0, SourceKind.BANK): (deposit(10**8),)},
        )
    )
    return prev, cur


def test_entries_are_in_a_deterministic_order_whatever_the_input_order() -> None:
    prev, cur = _busy_pair()
    doc = change_document(prev.version, cur.version)
    assert len(doc["changes"]) >= 10
    ranks = [ChangeCode(c["code"]).rank for c in doc["changes"]]
    assert ranks == sorted(ranks)
    rng = random.Random(7)
    for _ in range(5):
        shuffled: list[ReportVersion] = []
        for v in (prev.version, cur.version):
            d = json.loads(json.dumps(v.document))
            for key in ("sources", "records"):
                rng.shuffle(d[key])
            d = dict(reversed(list(d.items())))
            shuffled.append(dataclasses.replace(v, document=d))
        again = change_document(*shuffled)
        assert canonical_bytes(again) == canonical_bytes(doc)


def test_canonical_bytes_are_stable_and_the_signature_verifies() -> None:
    prev, cur = _busy_pair()
    doc = change_document(prev.version, cur.version)
    body = canonical_bytes(doc)
    assert canonical_bytes(change_document(prev.version, cur.version)) == body
    assert canonical_bytes(json.loads(body)) == body
    signed = ChangeSigner(CHANGES_KEY).sign(doc)
    envelope = json.loads(signed.envelope)
    assert envelope["payloadType"] == CHANGES_PAYLOAD_TYPE
    assert base64.b64decode(envelope["payload"]) == body
    verified = verify_changes(signed.envelope, KEYS)
    assert verified.document == doc and verified.key_id == key_id(CHANGES_KEY.public_key())
    # DSSE signs the payload type: the same bytes do not verify as a report.
    with pytest.raises(EnvelopeError):
        verify_envelope(signed.envelope, KEYS)
    tampered = dict(
        envelope, payload=base64.b64encode(body.replace(b"VEHICLE", b"VESSEL")).decode()
    )
    with pytest.raises(EnvelopeError, match="does not verify"):
        verify_changes(json.dumps(tampered).encode(), KEYS)
    with pytest.raises(EnvelopeError, match="no signature by a trusted key"):
        verify_changes(signed.envelope, {key_id(REPORT_KEY.public_key()): REPORT_KEY.public_key()})


def test_only_a_change_document_is_signed_as_one() -> None:
    with pytest.raises(ValueError, match="schema"):
        ChangeSigner(CHANGES_KEY).sign(check(BASE).document)


def test_the_document_holds_no_id_number_name_plate_or_record_id() -> None:
    prev, cur = _busy_pair()
    doc = change_document(prev.version, cur.version)
    signed = ChangeSigner(CHANGES_KEY).sign(doc)
    text = canonical_bytes(doc).decode()
    scanner = PiiScanner(
        known_ids=[p.id_number for p in EVERYONE], names=[p.name for p in EVERYONE], today=TODAY
    )
    assert scanner.text(text, "change document") == []
    assert scanner.data(signed.envelope, "change envelope") == []
    assert (
        scanner.text(base64.b64decode(json.loads(signed.envelope)["payload"]).decode(), "payload")
        == []
    )
    # Department record ids and free-form details (a plate) can identify a person too.
    for secret in (PLATE, VEHICLE_RECORD_ID, "某公司", "DEP-1", "RE-1", "HR-1", "HK370322000777"):
        assert secret not in text
    # The reports themselves do hold those: the scan is not vacuous.
    assert PLATE in json.dumps(cur.document, ensure_ascii=False)
    # And every changed member is still identifiable to hedui by its keyed ref.
    refs = set(member_refs(prev.request, PSEUDONYM_KEY)) | set(
        member_refs(cur.request, PSEUDONYM_KEY)
    )
    assert {c["member"]["subject_ref"] for c in doc["changes"] if c["member"]} <= refs


def test_busy_pair_lists_every_change_it_holds() -> None:
    prev, cur = _busy_pair()
    doc = change_document(prev.version, cur.version)
    assert codes(doc) == [
        "HUKOU_CANCELLED",
        "HUKOU_MEMBER_REMOVED",
        "HUKOU_MEMBER_REMOVED",
        "HUKOU_MEMBER_ADDED",
        "HOUSEHOLD_MEMBER_REMOVED",
        "HOUSEHOLD_MEMBER_ADDED",
        "INCOME_ABOVE_DIBAO_STANDARD",
        "INCOME_ABOVE_BIANYUAN_LINE",
        "INCOME_ABOVE_TAPER_CEILING",
        "FINANCIAL_ASSETS_ABOVE_LIMIT",
        "FINANCIAL_ASSETS_ABOVE_LIMIT",
        "VEHICLE_ADDED",
        "PROGRAM_BECAME_INELIGIBLE",
        "PROGRAM_BECAME_INELIGIBLE",
    ]


def test_the_format_matches_the_golden_document() -> None:
    """The document's shape is a contract (docs/change-document.md). Reports here carry no
    assessment, so the golden file depends on this module and the report's member and
    record format only; envelope digests are left out (any change to the report builder
    moves them). Regenerate with HEDUI_UPDATE_GOLDEN=1 after a deliberate format change."""
    prev = check(
        BASE.with_(assets={(1, SourceKind.REAL_ESTATE): (home(),)}),
        assessed=False,
        number=9001,
        at=FIRST_CHECK,
    )
    cur = check(
        BASE.with_(
            members=(APPLICANT, SPOUSE, BABY),
            registered=(APPLICANT, SPOUSE, BABY),
            assets={
                (0, SourceKind.VEHICLE): (vehicle(),),
                (1, SourceKind.REAL_ESTATE): (home(),),
            },
            statuses={(1, SourceKind.BANK): SourceStatus.DENIED},
        ),
        assessed=False,
        number=9002,
        at=FIRST_CHECK + timedelta(days=183),
    )
    doc = change_document(prev.version, cur.version)
    for side in ("previous", "current"):
        doc[side]["envelope_sha256"] = "<sha256 of the envelope>"
    golden = GOLDEN / "changes_v1.json"
    text = json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if os.environ.get("HEDUI_UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    assert json.loads(golden.read_text(encoding="utf-8")) == doc
