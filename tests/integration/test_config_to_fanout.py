"""A ``[sources.NAME]`` table's knobs reach the fan-out as they were read: one
SourcePolicy from the file to the gate, no copy in between."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hedui_sdk import SourceKind
from tests.fakes import AllowAllConsents, FakeAdapter
from verifier.bootstrap import build_app
from verifier.config import parse_config


async def test_the_configured_policy_is_the_one_the_fan_out_applies(
    database_url: str, keys_dir: Path
) -> None:
    doc = {
        "sources": {
            "tax": {
                "base_url": "http://tax.example/tax",
                "timeout": 4,
                "retries": 1,
                "max_concurrency": 3,
                "rate_limit": 7,
                "batch_reserve": 0.5,
                "backoff_initial": 0.05,
                "reuse_days": 2,
            }
        }
    }
    cfg = replace(parse_config(doc), database_url=database_url, keys_dir=keys_dir)
    app = await build_app(
        cfg,
        adapters={SourceKind.TAX: FakeAdapter(SourceKind.TAX)},
        migrate=False,
        consent_gate=AllowAllConsents(),
    )
    try:
        policy = app.fanout.policy(SourceKind.TAX)
        assert policy is cfg.sources[SourceKind.TAX].policy
        assert (policy.timeout, policy.retries, policy.backoff_initial) == (4.0, 1, 0.05)
        gate = app.fanout.gate(SourceKind.TAX)
        assert (
            gate is not None and gate.max_concurrency == 3 and gate.reserve_slots == 2
        )  # ceil(3 × 0.5), < 3
    finally:
        await app.aclose()
