"""Typed policy parameters: the spec table gives each parameter its type, and every typed
read goes through the snapshot that records what a report cites."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from verifier.policy.params import SPECS, load_policy_file
from verifier.policy.policies import Entry, Kind, Parameter, Policy, Reference, Status
from verifier.policy.snapshot import Snapshot
from verifier.policy.specs import P, Parameters
from verifier.policy.typed import Family, Named, OptionalParam, ParameterTypeError

GOLDEN = Path(__file__).parent / "golden" / "policy_test.toml"
DAY = date(2025, 3, 10)


def test_a_typed_read_has_its_type_and_is_recorded_with_its_reference() -> None:
    snap = Snapshot(load_policy_file(GOLDEN), DAY)
    standard = snap.dibao_standard_urban
    assert type(standard) is int and standard == 100000
    assert type(snap.tekun_multiplier_urban) is Decimal
    assert snap.tekun_disability_grades and all(
        type(g) is int for g in snap.tekun_disability_grades
    )
    assert "deposit" in snap.financial_asset_categories
    used = snap.used()
    assert set(used) == {
        "dibao_standard_urban",
        "tekun_multiplier_urban",
        "tekun_disability_grades",
        "financial_asset_categories",
    }
    assert used["dibao_standard_urban"]["value"] == 100000
    assert used["dibao_standard_urban"]["from"] == "2024-07-01"
    assert used["dibao_standard_urban"]["reference"] == {
        "status": "example",
        "document": None,
        "section": None,
        "topic": None,
        "note": "测试值（dibao_standard_urban）",
    }


def test_an_optional_parameter_not_stated_reads_none_and_is_not_cited() -> None:
    snap = Snapshot(load_policy_file(GOLDEN), DAY)
    assert snap.find(P.category_tolerance_fen["wages"]) is None
    assert snap.find(P.category_tolerance_fen["deposit"]) == 50000
    assert set(snap.used()) == {"discrepancy_tolerance_fen_deposit"}


def test_the_table_is_the_spec_every_policy_file_is_checked_against() -> None:
    declared: dict[str, bool] = {}
    for attr in vars(Parameters).values():
        if isinstance(attr, Named):
            declared[attr.name] = not isinstance(attr, OptionalParam)
        elif isinstance(attr, Family):
            declared |= {p.name: False for p in attr}
    assert list(declared) == list(SPECS)
    assert {n: s.required for n, s in SPECS.items()} == declared
    assert P.linshi_min_multiplier["illness"].name == "linshi_illness_min_multiplier"
    assert P.recheck_months["tekun"].spec.kind is Kind.INT


def test_a_value_of_the_wrong_kind_is_refused_by_type_not_by_an_assert() -> None:
    # Only a policy built around the file checker can hold one; the read still refuses it
    # (an assert would vanish under ``python -O``).
    entry = Entry(date(2020, 1, 1), None, "98000", Reference(Status.EXAMPLE))
    policy = Policy(
        "x",
        "370322",
        "1",
        "x",
        "0" * 64,
        "x.toml",
        {"dibao_standard_urban": Parameter("dibao_standard_urban", Kind.FEN, "", (entry,))},
    )
    with pytest.raises(ParameterTypeError):
        _ = Snapshot(policy, DAY).dibao_standard_urban
