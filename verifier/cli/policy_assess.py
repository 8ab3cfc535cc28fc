"""`hedui policy assess`: the engine's assessment of one household, offline.

    hedui policy assess --household FILE --records FILE (--policy FILE | --region CODE)
                        --date YYYY-MM-DD [--json]

For policy officers: how a region checks its parameters before going live, and how a
disputed outcome is reproduced. No server, database, keys or configuration file is used;
the assessment is made by the same code a server runs (``verifier.service.assessment``).
Input formats: docs/policy-assess.md.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from verifier import policy
from verifier.cli.assess_inputs import AssessInputError, parse_day, read_household
from verifier.cli.assess_records import read_records
from verifier.cli.report_view import coloured
from verifier.domain.household import HukouNature
from verifier.domain.labels import BAND_LABELS, HUKOU_LABELS, OUTCOME_LABELS, ROUTE_LABELS, label
from verifier.domain.money import format_amount
from verifier.policy.explain import fact_rows
from verifier.service.assessment import assessment_sections

console = Console(width=None if Console().is_terminal else 140)
err = Console(stderr=True)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--household", required=True, help="household file (hedui check format)")
    p.add_argument("--records", required=True, help="records found (the report's format)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--policy", help="a policy file (TOML) to assess with")
    which.add_argument("--region", help="a packaged region's policy, by 6-digit code")
    p.add_argument("--date", required=True, help="the request date, YYYY-MM-DD")
    p.add_argument("--json", action="store_true", help="the assessment as JSON")


def _policy(args: argparse.Namespace) -> policy.Policy:
    if args.policy:
        return policy.load_policy_file(Path(args.policy))
    return policy.load_policy(str(args.region))


def policy_assess(args: argparse.Namespace) -> int:
    try:
        day = parse_day(str(args.date))
        pol = _policy(args)
        request = read_household(Path(args.household), day)
        outcomes = read_records(Path(args.records), request)
    except AssessInputError as exc:
        err.print(f"[red]{exc.file}[/]:")
        for p in exc.problems:
            err.print(f"  {p}", markup=False)
        return 2
    except policy.PolicyError as exc:
        for prob in exc.problems:
            err.print(str(prob), markup=False)
        return 2
    try:
        result = assessment_sections(request, outcomes, day, pol)
    except policy.ParameterNotInForceError as exc:
        err.print(f"[red]no assessment on {day}[/]: {exc}", markup=False)
        return 1
    except ValueError as exc:  # the policy does not serve the household's region
        err.print(f"cannot assess: {exc}", markup=False)
        return 2
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2, sort_keys=True))
    else:
        render(result, console)
    return 0


def _extras(prog: Mapping[str, Any]) -> str:
    out = []
    taper = prog.get("taper_months_range")
    if isinstance(taper, Mapping):
        out.append(f"渐退 {taper['min']}–{taper['max']} 个月（由审核确认机关在范围内决定）")
    rng = prog.get("range_fen")
    if isinstance(rng, Mapping):
        band = label(BAND_LABELS, prog.get("band"))
        out.append(f"{band} {format_amount(rng['min'])}–{format_amount(rng['max'])}")
        if prog.get("case_by_case"):
            out.append("不是硬性上限：可一事一议提高")
    if prog.get("fallback"):
        out.append("无适用的本地档次：按省级和国家规定（国发〔2014〕47号）确定")
    return "\n".join(out) or "—"


ROUTINE: tuple[str, ...] = (
    ".financial_assets",
    ".real_estate_count",
    ".real_estate_area",
    ".vehicles",
    ".business",
    ".completeness",
)


def _decisive(prog: Mapping[str, Any]) -> str:
    """The reasons that decided the outcome; passed asset and completeness checks are
    summed up in one line (the full trace is in --json and ``hedui policy explain``)."""
    outcome = prog.get("outcome")
    reasons = prog.get("reasons", [])
    chosen = [r for r in reasons if r.get("outcome") == outcome]
    lines = [
        str(r.get("text", ""))
        for r in chosen
        if not (outcome == "ELIGIBLE" and str(r.get("rule", "")).endswith(ROUTINE))
    ]
    if outcome == "ELIGIBLE" and len(lines) < len(chosen):
        lines.append("资产与数据完整性检查均通过")
    lines += [str(r.get("text", "")) for r in reasons if r.get("outcome") is None]
    return "\n".join(lines or [str(r.get("text", "")) for r in reasons])


def render(result: Mapping[str, Any], out: Console) -> None:
    """The assessment as tables: household figures, one row per program, member findings."""
    pol = result["policy"]
    agg = result["aggregates"]
    head = Table.grid(padding=(0, 2))
    head.add_row("核对政策", Text(f"{pol['name']}（{pol['id']} 版本 {pol['version']}）"))
    head.add_row("政策文件 SHA-256", str(pol["sha256"]))
    w = agg["window"]
    head.add_row("申请日期", f"{agg['request_date']}；核对期间 {w['start']} 至 {w['end']}")
    head.add_row(
        "家庭",
        f"{agg['household_size']} 人，{HUKOU_LABELS[HukouNature(agg['hukou'])]}户籍",
    )
    exact = agg.get("monthly_per_capita_income_exact", "")
    per_capita = format_amount(agg["monthly_per_capita_income_fen"])
    if "/" in str(exact):
        per_capita += f"（精确值 {exact} 分）"
    head.add_row("月人均收入", per_capita)
    out.print(head)
    examples = pol.get("example_parameters") or []
    if examples:
        out.print(
            f"[yellow]示例参数[/]（无文件规定，需由地区设定）：{'、'.join(examples)}",
        )

    t = Table(title="救助项目评估（参考意见，由审核确认机关决定）")
    for col in ("项目", "结论", "参考金额", "期限与档次", "理由"):
        t.add_column(col)
    for prog in result["assessments"].values():
        t.add_row(
            str(prog["name"]),
            coloured(OUTCOME_LABELS, prog["outcome"]),
            f"{format_amount(prog['amount_fen'])}/月"
            if prog.get("amount_fen") is not None
            else "—",
            Text(_extras(prog)),
            Text(_decisive(prog)),
        )
    out.print(t)

    members = [
        (prog["name"], m) for prog in result["assessments"].values() for m in prog["members"]
    ]
    if members:
        mt = Table(title="成员认定")
        for col in ("项目", "成员", "途径", "结论", "参考金额"):
            mt.add_column(col)
        for name, m in members:
            mt.add_row(
                str(name),
                str(m["member"]),
                label(ROUTE_LABELS, m["route"]),
                coloured(OUTCOME_LABELS, m["outcome"]),
                f"{format_amount(m['amount_fen'])}/月" if m.get("amount_fen") is not None else "—",
            )
        out.print(mt)
    rows = fact_rows(result)
    if rows:
        ft = Table(title="核实情况（经部门核实，或按申报）")
        for col in ("成员", "事实", "依据", "来源", "申报", "核实"):
            ft.add_column(col)
        for row in rows:
            ft.add_row(*row)
        out.print(ft)
    disc = result.get("discrepancies") or []
    if disc:
        d = Table(title="申报与核对结果差异")
        d.add_column("说明")
        for item in disc:
            d.add_row(Text(str(item.get("text", ""))))
        out.print(d)
    out.print("完整的规则说明：hedui policy assess … --json，或对报告运行 hedui policy explain。")
