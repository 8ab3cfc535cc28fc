"""`hedui policy check FILE`, `hedui policy explain REPORT`, `hedui policy assess`, and the
production check that ``hedui serve`` makes of the policies it will assess with."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console

from verifier import policy
from verifier.cli import policy_assess
from verifier.cli.commands import Subparsers, group, offline_command
from verifier.cli.offline import verify_file
from verifier.config import Config, ConfigError
from verifier.signing.dsse import EnvelopeError, unverified_document
from verifier.signing.jwks import JwksError

console = Console()
err = Console(stderr=True)


def refuse_example_parameters(cfg: Config, day: date) -> None:
    """In production, refuse to serve a region whose parameters in force on ``day`` include
    example values, unless the operator listed it in ``[policy] allow_example_parameters``.

    Raises :class:`ConfigError` naming each region and its example parameters.
    """
    if cfg.tls.mode != "production":
        return
    prefixes = [r for p in cfg.principals.values() for r in p.regions]
    try:
        uses = policy.example_uses(prefixes, day, cfg.allow_example_parameters)
    except policy.PolicyError as exc:
        raise ConfigError(f"a served region's policy file is not usable: {exc}") from None
    if uses:
        raise ConfigError(policy.refusal_message(uses, day))


def policy_check(args: argparse.Namespace) -> int:
    problems = policy.check_policy_file(Path(args.file))
    if not problems:
        console.print(f"[green]{args.file}: policy file is valid[/]")
        # A valid file may still rest on placeholders: say which, as production would.
        today = date.today()
        examples = policy.load_policy_file(Path(args.file)).examples_in_force(today)
        if examples:
            console.print(
                f"[yellow]{len(examples)} parameters in force on {today} are example values"
                " no document states[/] (production refuses them unless the operator accepts"
                " them): " + ", ".join(examples),
                markup=True,
            )
        return 0
    for p in problems:
        err.print(str(p), style="red", markup=False)
    return 1


def _report_document(path: Path, keys: str | None) -> dict[str, Any]:
    if keys:
        return verify_file(path, Path(keys)).document
    return unverified_document(path.read_bytes())


def policy_explain(args: argparse.Namespace) -> int:
    try:
        doc = _report_document(Path(args.report), args.keys)
    except (OSError, ValueError, KeyError, EnvelopeError, JwksError) as exc:
        err.print(f"[red]cannot read the report[/]: {exc}")
        return 1
    if "assessments" not in doc:
        err.print(
            f"[yellow]the report has no assessment[/]: {doc.get('assessment_unavailable', '')}"
        )
        return 1
    if not args.keys:
        err.print("[yellow]signature not checked (no --keys given)[/]")
    console.print(policy.explain(doc))
    return 0


def register(sub: Subparsers) -> None:
    """Add `policy check|explain|assess` (all offline) to the `hedui` parser."""
    pol = group(sub, "policy", "assessment policy files")
    c = offline_command(
        pol, "check", policy_check, "validate a region policy file, naming every problem"
    )
    c.add_argument("file")
    e = offline_command(pol, "explain", policy_explain, "the rule trace of a report's assessment")
    e.add_argument("report")
    e.add_argument("--keys", help="JWKS to verify the report with first")
    policy_assess.add_arguments(
        offline_command(
            pol,
            "assess",
            policy_assess.policy_assess,
            "assess a household file and its records offline (the same engine as serve)",
            description=(
                "Assess a household and the records found under a policy file or a packaged"
                " region, offline: a readable table, or JSON with --json."
            ),
        )
    )
