"""`hedui policy check|explain` as an operator runs them."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hedui_sdk import resident_id
from verifier.cli.certs import init_pki
from verifier.cli.main import main
from verifier.cli.policy_cmds import refuse_example_parameters
from verifier.config import ConfigError, TlsConfig, load_config

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
    typo = "yinbing_income_multiplier_typo"
    bad.write_text(good.replace("yinbing_income_multiplier", typo))
    assert main(["policy", "check", str(bad)]) == 1
    assert (
        "parameters.yinbing_income_multiplier: required parameter is missing"
        in capsys.readouterr().err.replace("\n", " ")
    )


# --------------------------------------------------------------------------- policy assess

CASE = Path(__file__).parent / "policy_assess_cases" / "c01_three_members_issue_example"
GOLDEN = Path(__file__).parents[1] / "unit" / "golden" / "policy_test.toml"


def assess(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *,
    household: object | None = None,
    records: object | None = None,
    extra: tuple[str, ...] = ("--policy", str(GOLDEN)),
    day: str = "2025-03-10",
) -> tuple[int, str, str]:
    hh = CASE / "household.json"
    rec = CASE / "records.json"
    if household is not None:
        hh = tmp_path / "household.json"
        hh.write_text(json.dumps(household, ensure_ascii=False))
    if records is not None:
        rec = tmp_path / "records.json"
        rec.write_text(records if isinstance(records, str) else json.dumps(records))
    code = main(
        ["policy", "assess", "--household", str(hh), "--records", str(rec), *extra, "--date", day]
    )
    out = capsys.readouterr()
    return code, out.out, out.err


def records_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((CASE / "records.json").read_text())
    return doc


def household_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((CASE / "household.json").read_text())
    return doc


def test_policy_assess_prints_a_readable_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = assess(tmp_path, capsys)
    assert code == 0, err
    assert "最低生活保障" in out and "500.00 元/月" in out
    assert "示例参数" in out  # the golden file's values are all examples


def test_policy_assess_needs_no_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Offline: no server config, nothing opened or created in the working directory.
    monkeypatch.delenv("HEDUI_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    code, out, err = assess(tmp_path, capsys, extra=("--region", "370322", "--json"))
    assert code == 0, err
    assert json.loads(out)["policy"]["id"] == "370322"
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_policy_assess_reproduces_a_report_from_its_own_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A report document (its records and sources as written) is a records file.
    report = {
        "schema": "hedui.report/v1",
        "report_id": "r",
        "sources": [
            {"member_index": m, "source": s, "status": "NOT_FOUND", "as_of": None, "reason": ""}
            for m in range(3)
            for s in (
                "household_registration", "tax", "social_insurance", "real_estate",
                "business_registration", "provident_fund", "vehicle", "bank", "securities",
                "commercial_insurance", "internet_finance",
            )
            if (m, s) != (0, "tax")
        ]
        + [{"member_index": 0, "source": "tax", "status": "FOUND", "adapter": "tax"}],
        "records": records_doc()["records"],
    }  # fmt: skip
    code, out, err = assess(
        tmp_path, capsys, records=report, extra=("--policy", str(GOLDEN), "--json")
    )
    assert code == 0, err
    j = json.loads(out)
    assert j["assessments"]["dibao"]["amount_fen"] == 50000
    assert j["aggregates"]["completeness"]["complete"] is True


def test_policy_assess_output_never_holds_an_id_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hh = household_doc()
    born = date(1980, 1, 1)
    numbers = [resident_id.make("370322", born, 100 + i) for i in range(3)]
    for m, number in zip(hh["household"]["members"], numbers, strict=True):
        del m["birthDate"]
        m.update(idType="ID_TYPE_RESIDENT_ID", idNumber=number, name="张三")
    for extra in (("--policy", str(GOLDEN)), ("--policy", str(GOLDEN), "--json")):
        code, out, err = assess(tmp_path, capsys, household=hh, extra=extra)
        assert code == 0, err
        assert not any(n in out or n[6:14] in out for n in numbers)
        assert "张三" not in out


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda r: r["records"][0].update(amount_fen=3000000.0), "integer fen"),
        (lambda r: r["records"][0].update(amount_fen=True), "records[0].amount_fen"),
        (lambda r: r["records"][0].update(member_index=3), "records[0].member_index"),
        (lambda r: r["records"][0].update(colour="red"), "unknown keys ['colour']"),
        (lambda r: r["records"][0].update(period_start="2024-3-1"), "YYYY-MM-DD"),
        (lambda r: r["records"][0].update(period_start="２０２４-03-01"), "YYYY-MM-DD"),
        (lambda r: r["records"][0]["provenance"].update(as_of="2025-03-01"), "UTC offset"),
        (lambda r: r["records"][0]["provenance"].update(source="tax2"), "provenance.source"),
        (lambda r: r["sources"].pop(), "must have status FOUND"),
        (lambda r: r["sources"].append({"source": "*", "status": "LOST"}), "sources[2].status"),
    ],
)
def test_policy_assess_refuses_a_bad_records_file_naming_the_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: Any, fragment: str
) -> None:
    doc = records_doc()
    change(doc)
    code, out, err = assess(tmp_path, capsys, records=doc)
    assert code == 2
    assert out == ""
    assert fragment in err.replace("\n", " ")


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (
            lambda h: h["household"]["members"][0].update(birthDate="1980-02-30"),
            "not a calendar date",
        ),
        (lambda h: h["household"]["members"][0].update(birthDate="2030-01-01"), "after --date"),
        (lambda h: h.update(hukouNature="SUBURBAN"), "hukouNature"),
        (lambda h: h["household"].update(regionCode="370322\n"), "regionCode"),
        (
            lambda h: h["household"]["members"][1].update(
                idNumber=resident_id.make("370322", date(1980, 1, 1), 7)
            ),
            "members[1]: give idNumber or birthDate, not both",
        ),
        (
            lambda h: h.update(deductions=[{"kind": "DEDUCTION_KIND_ILLNESS", "amountFen": 1.5}]),
            "integer fen",
        ),
    ],
)
def test_policy_assess_refuses_a_bad_household_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: Any, fragment: str
) -> None:
    doc = household_doc()
    change(doc)
    code, out, err = assess(tmp_path, capsys, household=doc)
    assert code == 2
    assert out == ""
    assert fragment in err.replace("\n", " ")


def test_policy_assess_refuses_a_policy_for_another_region_and_a_bad_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = assess(tmp_path, capsys, extra=("--region", "341824"))
    assert code == 2 and "does not serve 370322" in err
    code, _, err = assess(tmp_path, capsys, day="2025-3-10")
    assert code == 2 and "YYYY-MM-DD" in err
    code, _, err = assess(tmp_path, capsys, records="{ not json")
    assert code == 2 and "is not JSON" in err
    # The golden policy has no entries before 2023: no assessment, and it says why.
    code, _, err = assess(tmp_path, capsys, day="2022-06-01")
    assert code in (1, 2) and err


# --------------------------------------------------------------------------- serve refusal


def production_config(tmp_path: Path, extra: str = "") -> Path:
    pki = init_pki(tmp_path / "pki", systems=["county-system"]).layout
    cfg = tmp_path / "hedui.toml"
    cfg.write_text(
        f'[server]\nlisten = "127.0.0.1:0"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "hedui.db"}"\n'
        f'[keys]\ndir = "{tmp_path / "keys"}"\n'
        f'[tls]\nmode = "production"\ncert = "{pki.directory / "server.pem"}"\n'
        f'key = "{pki.directory / "server.key"}"\nclient_ca = "{pki.directory / "ca.pem"}"\n'
        '[principals.county-system]\nroles = ["caseworker"]\nregions = ["3703"]\n' + extra
    )
    return cfg


def test_serve_in_production_refuses_regions_running_on_example_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = production_config(tmp_path)
    assert main(["--config", str(cfg), "serve"]) == 2
    # The server's lines are JSON: the refusal is the problem of its serve_refused line.
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    err = " ".join(
        str(line["problem"]) for line in lines if line.get("event") == "serve_refused"
    ).replace("\n", " ")
    # Both counties under 3703 are named, with the example parameters in force.
    assert "region 370322 (山东省淄博市高青县)" in err and "region 370305" in err
    assert "dibao_standard_urban" in err
    assert "370281" not in err  # 胶州 is not served by this principal
    assert 'allow_example_parameters = ["370305", "370322"]' in err
    # Refused before anything was opened or created.
    assert not (tmp_path / "hedui.db").exists()
    assert not (tmp_path / "keys").exists()


def test_the_operator_can_accept_example_values_region_by_region(tmp_path: Path) -> None:
    only_one = load_config(
        production_config(tmp_path, '[policy]\nallow_example_parameters = ["370322"]\n')
    )
    with pytest.raises(ConfigError, match="region 370305") as exc:
        refuse_example_parameters(only_one, date.today())
    assert "370322" not in str(exc.value).split("\n")[1]
    both = replace(only_one, allow_example_parameters=("370322", "370305"))
    refuse_example_parameters(both, date.today())  # accepted: no error
    # Development (the demo, a laptop) is never refused.
    refuse_example_parameters(replace(only_one, tls=TlsConfig(mode="development")), date.today())


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ('allow_example_parameters = ["37032"]', "6-digit region code"),
        ('allow_example_parameters = ["370322\\n"]', "6-digit region code"),
        ('allow_example_parameters = "370322"', "must be list"),
        ('allow_examples = ["370322"]', "policy.allow_examples: unknown key"),
    ],
)
def test_the_opt_in_is_checked(tmp_path: Path, table: str, fragment: str) -> None:
    cfg = tmp_path / "hedui.toml"
    cfg.write_text(f"[policy]\n{table}\n")
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        load_config(cfg)


def test_policy_check_names_the_example_values_in_force(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["policy", "check", str(REGIONS / "370322.toml")]) == 0
    out = capsys.readouterr().out.replace("\n", " ")
    assert "example values no document states" in out
    assert "dibao_standard_urban" in out
    assert "linshi_illness_min_multiplier" not in out  # stated by 高政字〔2021〕27号


def test_policy_explain_and_assess_name_vehicle_kinds_and_source_states_in_chinese(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = Path(__file__).parent / "policy_assess_cases" / "c01_three_members_issue_example"
    golden = Path(__file__).parents[1] / "unit" / "golden" / "policy_test.toml"
    records = json.loads((case / "records.json").read_text())
    records["sources"].append({"member_index": 1, "source": "bank", "status": "PENDING"})
    (tmp_path / "records.json").write_text(json.dumps(records))
    args = ["policy", "assess", "--household", str(case / "household.json")]
    args += ["--records", str(tmp_path / "records.json"), "--policy", str(golden)]
    args += ["--date", "2025-03-10"]
    assert main([*args, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    payload = base64.b64encode(json.dumps(doc, ensure_ascii=False).encode()).decode()
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"payload": payload, "signatures": []}))
    assert main(["policy", "explain", str(report)]) == 0
    explained = capsys.readouterr().out.replace("\n", "")  # the console wraps long lines
    assert "豁免类型：摩托车、三轮车、残疾人代步车" in explained
    assert "成员 1 银行存款（待返回）" in explained
    for raw in ("motorcycle", "disabled_mobility", "PENDING", "NEEDS_REVIEW"):
        assert raw not in explained
    # The table names outcomes with the same words as the trace.
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "需人工复核" in explained and "需人工复核" in table
    assert "NEEDS_REVIEW" not in table


def cancelled_registration_records(**changes: Any) -> dict[str, Any]:
    """The case's records, and member 2's 户籍 answer: their registration, cancelled for
    death, as a report shows it."""
    doc = records_doc()
    doc["sources"].append(
        {"member_index": 2, "source": "household_registration", "status": "FOUND"}
    )
    record = {
        "member_index": 2, "type": "household_registration", "region_code": "370322",
        "household_number": "HK37******0777",
        "members": [{"id_type": "resident_id", "id_number_masked": "3703**********0012",
                     "name_masked": "测*", "relation": "spouse"}],
        "status": "cancelled", "cancel_reason": "death", "cancelled_on": "2025-01-31",
        "provenance": {"source": "household_registration", "adapter": "hr", "adapter_version": "1.0",
                       "record_id": "HR-E1", "as_of": "2025-03-01T00:00:00Z"},
    }  # fmt: skip
    doc["records"].append(record | changes)
    return doc


def test_policy_assess_reads_a_cancelled_registration_as_a_report_shows_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = assess(tmp_path, capsys, records=cancelled_registration_records())
    assert code == 0, err
    for bad, field in (
        ({"status": "revoked"}, "records[1].status"),
        ({"cancel_reason": "deceased"}, "records[1].cancel_reason"),
        ({"cancelled_on": "2025-02-30"}, "records[1].cancelled_on"),
        ({"cancel_reason": None}, "cancel_reason"),  # a cancelled registration says why
    ):
        code, out, err = assess(tmp_path, capsys, records=cancelled_registration_records(**bad))
        assert code == 2 and out == ""
        assert field in err.replace("\n", " "), err
