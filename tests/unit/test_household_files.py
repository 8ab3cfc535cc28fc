"""Household and 授权书 files are protobuf's canonical JSON mapping (docs/household-file.md):
what any language's protobuf library writes is what hedui reads, and what goes on the wire."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format

from hedui_sdk import resident_id
from hedui_sdk.sandbox.population import generate_population
from verifier.api.client import HouseholdFileError, consent_from_json, request_from_json
from verifier.api.sandbox_files import export_sandbox
from verifier.cli.main import main

TODAY = date(2026, 11, 20)
NUMBER = resident_id.make("370322", date(1980, 1, 1), 1)


def household(**extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "requestId": "case-1",
        "caseId": "GQ-1",
        "authorizationId": "SQ-1",
        "purposes": ["PURPOSE_DIBAO"],
        "household": {
            "regionCode": "370322",
            "members": [
                {
                    "idType": "ID_TYPE_RESIDENT_ID",
                    "idNumber": NUMBER,
                    "name": "测试",
                    "relation": "RELATION_APPLICANT",
                }
            ],
        },
        "hukouNature": "HUKOU_NATURE_RURAL",
        "window": {
            "startDate": {"year": 2025, "month": 11, "day": 1},
            "endDate": {"year": 2026, "month": 10, "day": 31},
        },
        "deductions": [{"kind": "DEDUCTION_KIND_ILLNESS", "amountFen": "860000"}],
    }
    doc.update(extra)
    return doc


def test_canonical_json_round_trips_and_both_spellings_are_read() -> None:
    req = request_from_json(household())
    assert req.household.members[0].id_number == NUMBER
    assert req.deductions[0].amount_fen == 860_000
    assert (req.window.start_date.year, req.window.end_date.day) == (2025, 31)
    assert request_from_json(json_format.MessageToJson(req)) == req
    snake = json_format.MessageToDict(req, preserving_proto_field_name=True)
    assert request_from_json(snake) == req
    assert request_from_json(json.dumps(snake), wait=True).wait


@pytest.mark.parametrize(
    ("amount", "named"),
    [(1200.5, "deductions[0].amountFen"), (100.0, "deductions[0].amountFen"),
     ("1200.5", "deductions[0].amountFen")],
)  # fmt: skip
def test_money_is_whole_fen_and_a_fraction_is_refused_naming_the_field(
    amount: object, named: str
) -> None:
    doc = household(deductions=[{"kind": "DEDUCTION_KIND_ILLNESS", "amountFen": amount}])
    with pytest.raises(HouseholdFileError, match=named.replace("[", r"\[").replace("]", r"\]")):
        request_from_json(doc)


def test_unknown_fields_and_values_are_refused_without_echoing_values() -> None:
    with pytest.raises(HouseholdFileError, match="hukou"):
        request_from_json(household(hukou="rural"))
    bad = household()
    bad["household"]["members"][0]["relation"] = f"RELATION_{NUMBER}"
    with pytest.raises(HouseholdFileError) as info:
        request_from_json(bad)
    assert "household.members[0].relation" in str(info.value)
    assert NUMBER not in str(info.value)
    with pytest.raises(HouseholdFileError, match="not JSON"):
        request_from_json("{")


def test_sandbox_export_writes_households_and_their_consents(tmp_path: Path) -> None:
    population = generate_population(23, households_per_county=30, as_of=TODAY)
    pairs = export_sandbox(population, "370322", 3, tmp_path, TODAY)
    assert len(pairs) == 3
    for household_file, consent_file in pairs:
        text = household_file.read_text(encoding="utf-8")
        assert '"regionCode": "370322"' in text and '"RELATION_APPLICANT"' in text
        req = request_from_json(text)
        consent = consent_from_json(consent_file.read_text(encoding="utf-8"))
        assert consent.number == req.authorization_id
        assert consent.valid_from.day == 1 and not consent.HasField("valid_until")
        covered = {s.id_number for s in consent.subjects}
        assert covered == {m.id_number for m in req.household.members}
        signed = {i for g in consent.signatories for i in g.signs_for}
        assert signed == set(range(len(consent.subjects)))
    with pytest.raises(ValueError, match="fewer than"):
        export_sandbox(population, "370322", 10_000, tmp_path / "none", TODAY)
    assert not (tmp_path / "none").exists()


def test_hedui_sandbox_export_writes_the_files(tmp_path: Path) -> None:
    out = tmp_path / "files"
    args = ["sandbox", "export", "--region", "370322", "--count", "2", "--out", str(out)]
    assert main([*args, "--households", "30"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 4 and all(n.endswith((".household.json", ".consent.json")) for n in names)
    assert (
        main(["sandbox", "export", "--region", "370322", "--count", "9999", "--out", str(out)]) == 2
    )
