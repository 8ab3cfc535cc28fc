"""`hedui policy check|explain` as an operator runs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier.cli.main import main

REGIONS = Path(__file__).parents[2] / "verifier" / "policy" / "regions"


def test_every_shipped_policy_file_checks(capsys: pytest.CaptureFixture[str]) -> None:
    for f in sorted(REGIONS.glob("*.toml")):
        assert main(["policy", "check", str(f)]) == 0
    assert "valid" in capsys.readouterr().out


def test_a_bad_policy_file_is_refused_naming_the_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = (REGIONS / "370322.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(good.replace("[parameters.taper_months]", "[parameters.taper_months_typo]"))
    assert main(["policy", "check", str(bad)]) == 1
    assert (
        "parameters.taper_months: required parameter is missing"
        in capsys.readouterr().err.replace("\n", " ")
    )
