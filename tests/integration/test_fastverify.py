"""audit.fastverify.verify_database agrees with verify_log, on both databases: the same
report for an untouched log (taken by the split fast path on PostgreSQL) and the same
first bad seq and problem after each kind of tampering (found by the fast pass, then
named by the exact one).
"""

from __future__ import annotations

import pytest

from audit.fastverify import FastStats, verify_database
from tests.integration.test_audit_tamper import Log, N, log  # noqa: F401 — the fixture

TAMPERING = {
    "updated_row": ["UPDATE audit_entries SET outcome = 'deny' WHERE seq = 6"],
    "updated_body_column_copy": ["UPDATE audit_entries SET case_id = 'X' WHERE seq = 2"],
    "deleted_row": [
        "DELETE FROM audit_subjects WHERE seq = 5",
        "DELETE FROM audit_entries WHERE seq = 5",
    ],
    "deleted_subject": ["DELETE FROM audit_subjects WHERE seq = 8"],
    "deleted_tree_node": ["DELETE FROM audit_tree_nodes WHERE seq = 3 AND level = 1"],
    "changed_tree_node": ["UPDATE audit_tree_nodes SET hash = :h WHERE seq = 7"],
    "head_rewound": ["UPDATE audit_head SET last_seq = 7"],
    "last_row_removed": [
        "DELETE FROM audit_subjects WHERE seq = 9",
        "DELETE FROM audit_tree_nodes WHERE seq = 9",
        "DELETE FROM audit_entries WHERE seq = 9",
    ],
}


async def _both(log: Log, **kw: object) -> tuple[object, object, FastStats]:  # noqa: F811
    stats = FastStats()
    keys = [log.signer.verifier_key]
    fast = await verify_database(
        log.db.url,
        verifier_keys=keys,
        workers=3,
        min_part=1,
        stats=stats,
        **kw,  # type: ignore[arg-type]
    )
    exact = await log.verify(**kw)
    return fast, exact, stats


async def test_untouched_log_same_report(log: Log) -> None:  # noqa: F811
    fast, exact, stats = await _both(log, trusted_checkpoint=log.trusted)
    assert fast == exact
    assert exact.ok and exact.entries == N  # type: ignore[attr-defined]
    if log.db.sqlite:
        assert stats.path == "exact"
    else:
        assert stats.path == "fast"
        assert [(p.lo, p.hi) for p in stats.parts] == [(0, 3), (3, 6), (6, 10)]


@pytest.mark.parametrize("kind", sorted(TAMPERING))
async def test_tampering_same_first_bad_seq(log: Log, kind: str) -> None:  # noqa: F811
    await log.unprotect()
    for statement in TAMPERING[kind]:
        await log.sql(statement, **({"h": bytes(32)} if ":h" in statement else {}))
    fast, exact, stats = await _both(log)
    assert not exact.ok  # type: ignore[attr-defined]
    assert fast == exact
    if not log.db.sqlite:
        assert stats.path == "fast→exact"
