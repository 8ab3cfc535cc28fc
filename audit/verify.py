"""Recompute the audit chain from the database and name the first bad ``seq``.

Trusts nothing in the rows but the body bytes: the leaf and chain hashes, the query
columns and the subject index are all recomputed from the bodies and compared.
:func:`verify_log` adds the Merkle tree, its stored nodes and the signed checkpoints.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from audit.canonical import SORTED_COMPACT
from audit.checkpoint import CheckpointError, open_checkpoint
from audit.entry import ZERO_CHAIN, canonical, leaf_hash, next_chain
from audit.merkle import EMPTY_ROOT, ProofError, TreeBuilder, verify_consistency
from audit.proofs import MissingNode, consistency_proof
from audit.schema import (
    AuditCheckpointRow,
    AuditEntryRow,
    AuditHeadRow,
    AuditSubjectRow,
    AuditTreeNodeRow,
)

BATCH = 5000
# Plain rows, not ORM objects: a million identity-mapped entities cost more than hashing.
_ENTRY_COLUMNS = [c for c in AuditEntryRow.__table__.columns]


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str = ""
    head_chain: bytes = ZERO_CHAIN


class _NeedsFullCanonicalisation(Exception):
    """A body holds a float or a large integer: only RFC 8785 itself can judge it."""


def _no_float(_text: str) -> float:
    raise _NeedsFullCanonicalisation


def _small_int(text: str) -> int:
    if len(text) > 15:
        raise _NeedsFullCanonicalisation
    return int(text)


_NON_BMP = re.compile(rb"[\xf0-\xf4]")
# Built once: json.loads with hooks builds a new decoder on every call.
_DECODE = json.JSONDecoder(parse_float=_no_float, parse_int=_small_int).decode


def _parse_canonical(raw: bytes) -> tuple[Any, bool]:
    """Parse a body and say whether it is RFC 8785 canonical.

    rfc8785 is pure Python and dominates a million-entry verification; for bodies made
    only of strings, small integers, booleans, null, lists and objects, JCS is exactly
    sorted-keys compact JSON with raw UTF-8 — except that JCS sorts keys by UTF-16 code
    units, which differs from code-point order only around characters outside the BMP.
    Anything else takes the full canonicalisation.
    """
    try:
        if _NON_BMP.search(raw) is None:
            body = _DECODE(raw.decode())
            return body, SORTED_COMPACT(body).encode("utf-8") == raw
    except _NeedsFullCanonicalisation:
        pass
    body = json.loads(raw)
    try:
        return body, canonical(body) == raw
    except Exception:
        # rfc8785 refuses what has no canonical form (NaN, integers beyond 2^53).
        return body, False


def _check_row(row: Any, expected_seq: int, chain: bytes, refs: list[str]) -> str:
    if row.seq != expected_seq:
        return f"expected seq {expected_seq}, found {row.seq} (a row is missing or inserted)"
    try:
        body, is_canonical = _parse_canonical(row.body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return "body is not JSON"
    if not isinstance(body, dict):
        return "body is not a JSON object"
    if not is_canonical:
        return "body is not in canonical form"
    if body.get("seq") != row.seq:
        return f"body names seq {body.get('seq')}"
    if leaf_hash(row.body) != row.leaf_hash:
        return "leaf hash does not match the body (the row was changed)"
    if next_chain(chain, row.leaf_hash) != row.chain_hash:
        return "chain hash does not follow from the previous entry (rows changed or reordered)"
    actor = body.get("actor") or {}
    copies = {
        "ts": body.get("ts"),
        "actor_system": actor.get("system"),
        "actor_user": actor.get("user"),
        "action": body.get("action"),
        "case_id": body.get("case_id"),
        "verification_id": body.get("verification_id"),
        "outcome": body.get("outcome"),
    }
    for column, value in copies.items():
        if getattr(row, column) != value:
            return f"column {column} does not match the body"
    if sorted(set(body.get("subject_refs") or [])) != refs:
        return "subject index does not match the body"
    return ""


async def verify_chain(
    session: AsyncSession, progress: Callable[[int, int], None] | None = None
) -> ChainReport:
    """Walk every entry in ``seq`` order, in batches, recomputing the chain."""
    total = (await session.execute(select(func.count()).select_from(AuditEntryRow))).scalar_one()
    expected, chain, last = 0, ZERO_CHAIN, -1
    while True:
        rows = (
            (
                await session.execute(
                    select(AuditEntryRow)
                    .where(AuditEntryRow.seq > last)
                    .order_by(AuditEntryRow.seq)
                    .limit(BATCH)
                )
            )
            .scalars()
            .all()
        )
        if not rows:
            break
        refs = await _subject_refs(session, last, rows[-1].seq)
        for row in rows:
            problem = _check_row(row, expected, chain, refs.get(row.seq, []))
            if problem:
                return ChainReport(False, expected, min(expected, row.seq), problem, chain)
            chain = row.chain_hash
            expected += 1
        last = rows[-1].seq
        session.expunge_all()
        if progress is not None:
            progress(expected, total)
    _head, problem = await _read_head(session, expected, chain)
    if problem:
        return ChainReport(False, expected, expected, problem, chain)
    return ChainReport(True, expected, None, "", chain)


async def _subject_refs(session: AsyncSession, after: int, upto: int) -> dict[int, list[str]]:
    """The subject index of the entries ``after < seq <= upto``: sorted refs by seq."""
    refs: dict[int, list[str]] = {}
    sub = await session.execute(
        select(AuditSubjectRow.seq, AuditSubjectRow.subject_ref)
        .where(AuditSubjectRow.seq > after, AuditSubjectRow.seq <= upto)
        .order_by(AuditSubjectRow.seq, AuditSubjectRow.subject_ref)
    )
    for seq, ref in sub:
        refs.setdefault(seq, []).append(ref)
    return refs


async def _read_head(
    session: AsyncSession, entries: int, chain: bytes
) -> tuple[AuditHeadRow | None, str]:
    """The head row, and what is wrong with it for a log of ``entries`` ending on ``chain``."""
    head = (
        await session.execute(select(AuditHeadRow).where(AuditHeadRow.id == 1))
    ).scalar_one_or_none()
    if head is None:
        return None, "audit head row is missing"
    if head.last_seq != entries - 1 or head.chain_hash != chain:
        # The head is updated with every append: a mismatch means entries after the last
        # row were removed (truncation) or the head was rewritten.
        return head, f"log ends at seq {entries - 1} but head says {head.last_seq}"
    return head, ""


@dataclass(frozen=True, slots=True)
class LogReport(ChainReport):
    """The outcome of :func:`verify_log`: chain, tree, nodes and checkpoints in one pass."""

    root: bytes = EMPTY_ROOT
    checkpoints: int = 0
    trusted_size: int | None = None


@dataclass(slots=True)
class _Signed:
    size: int
    root: bytes


def _trusted(
    trusted_checkpoint: bytes | None, verifier_keys: Sequence[str], origin: str | None
) -> _Signed | None:
    """The size and root of the checkpoint the auditor kept, opened with the keys."""
    if trusted_checkpoint is None:
        return None
    if not verifier_keys:
        raise ValueError("a trusted checkpoint needs the audit verifier key(s)")
    cp = open_checkpoint(trusted_checkpoint, list(verifier_keys), origin=origin)
    return _Signed(cp.size, cp.root_hash)


def _sound(
    entries: int,
    chain: bytes,
    tree: TreeBuilder,
    signed: Sequence[_Signed],
    trusted: _Signed | None,
) -> LogReport:
    """The report on a log found sound: its size, head, root and what was checked."""
    return LogReport(
        True,
        entries,
        None,
        "",
        chain,
        tree.root(),
        len(signed),
        trusted.size if trusted else None,
    )


def _bad(entries: int, seq: int, problem: str, chain: bytes, root: bytes = EMPTY_ROOT) -> LogReport:
    return LogReport(False, entries, seq, problem, chain, root)


async def _signed_checkpoints(
    session: AsyncSession, verifier_keys: Sequence[str], origin: str | None
) -> tuple[list[_Signed], tuple[int, str] | None]:
    """Stored checkpoints opened with the keys, by size; or the first that does not open."""
    out: list[_Signed] = []
    rows = await session.execute(
        select(AuditCheckpointRow.size, AuditCheckpointRow.root, AuditCheckpointRow.note).order_by(
            AuditCheckpointRow.size
        )
    )
    for size, root_hash, note in rows:
        try:
            cp = open_checkpoint(note.encode("utf-8"), list(verifier_keys), origin=origin)
        except CheckpointError as exc:
            return out, (int(size), f"checkpoint at size {size} does not verify: {exc}")
        if cp.size != size or cp.root_hash != bytes(root_hash):
            return out, (int(size), f"checkpoint at size {size}: columns differ from its note")
        out.append(_Signed(cp.size, cp.root_hash))
    return out, None


async def verify_log(
    session: AsyncSession,
    progress: Callable[[int, int], None] | None = None,
    *,
    verifier_keys: Sequence[str] = (),
    origin: str | None = None,
    trusted_checkpoint: bytes | None = None,
) -> LogReport:
    """Verify everything the database holds about the audit log, naming the first bad seq.

    One streaming pass over the entries recomputes the chain (as :func:`verify_chain`)
    and the Merkle tree; every stored tree node is compared with the recomputed one, the
    head's frontier with the final tree, and every stored checkpoint's signature (with
    ``verifier_keys``; without keys stored checkpoints are not checked) and root with the
    recomputed root at its size. ``trusted_checkpoint`` is a signed note the auditor
    kept: a log now smaller than it (an older copy restored) or with another root at its
    size (a fork) fails.

    A checkpoint whose root differs from the log's names the first seq after the last
    earlier checkpoint that matched: entries from there on are not the ones signed.
    """
    trusted = _trusted(trusted_checkpoint, verifier_keys, origin)
    signed: list[_Signed] = []
    bad_checkpoint: tuple[int, str] | None = None
    if verifier_keys:
        signed, bad_checkpoint = await _signed_checkpoints(session, verifier_keys, origin)
    targets = sorted(
        [(c.size, c.root, "stored checkpoint") for c in signed]
        + ([(trusted.size, trusted.root, "trusted checkpoint")] if trusted else []),
        key=lambda t: t[0],
    )
    t_next = 0
    matched_size = 0  # the largest checkpoint size proven to match the log so far

    def check_targets(tree: TreeBuilder) -> tuple[int, str] | None:
        nonlocal t_next, matched_size
        while t_next < len(targets) and targets[t_next][0] == tree.size:
            size, want, what = targets[t_next]
            if tree.root() != want:
                return matched_size, (
                    f"{what} at size {size} has a different root than the log"
                    " (a fork, or entries rewritten since it was signed)"
                )
            matched_size = size
            t_next += 1
        return None

    total = (await session.execute(select(func.count()).select_from(AuditEntryRow))).scalar_one()
    tree = TreeBuilder()
    expected, chain, last = 0, ZERO_CHAIN, -1
    found = check_targets(tree)
    if found:
        return _bad(0, found[0], found[1], chain)
    while True:
        rows = (
            await session.execute(
                select(*_ENTRY_COLUMNS)
                .where(AuditEntryRow.seq > last)
                .order_by(AuditEntryRow.seq)
                .limit(BATCH)
            )
        ).all()
        if not rows:
            break
        hi = rows[-1].seq
        refs = await _subject_refs(session, last, hi)
        stored: dict[int, list[tuple[int, bytes]]] = {}
        nodes = await session.execute(
            select(AuditTreeNodeRow.seq, AuditTreeNodeRow.level, AuditTreeNodeRow.hash)
            .where(AuditTreeNodeRow.seq > last, AuditTreeNodeRow.seq <= hi)
            .order_by(AuditTreeNodeRow.seq, AuditTreeNodeRow.level)
        )
        for seq, level, digest in nodes:
            stored.setdefault(seq, []).append((level, bytes(digest)))
        for row in rows:
            problem = _check_row(row, expected, chain, refs.get(row.seq, []))
            if problem:
                return _bad(expected, min(expected, row.seq), problem, chain)
            made = [(level, digest) for level, _i, digest in tree.append_nodes(row.leaf_hash)[1:]]
            if stored.get(row.seq, []) != made:
                return _bad(
                    expected,
                    row.seq,
                    "stored tree nodes written with this entry differ from the recomputed tree",
                    chain,
                )
            chain = row.chain_hash
            expected += 1
            found = check_targets(tree)
            if found:
                return _bad(expected, found[0], found[1], chain)
        last = hi
        session.expunge_all()
        if progress is not None:
            progress(expected, total)
    head, problem = await _read_head(session, expected, chain)
    if head is None or problem:
        return _bad(expected, expected, problem, chain)
    extra = (
        await session.execute(
            select(func.min(AuditTreeNodeRow.seq)).where(AuditTreeNodeRow.seq > last)
        )
    ).scalar_one_or_none()
    if extra is not None:
        return _bad(expected, int(extra), "tree nodes stored beyond the last entry", chain)
    if bytes(head.frontier) != b"".join(tree.frontier):
        return _bad(expected, expected - 1, "the head's tree frontier differs from the log", chain)
    if t_next < len(targets):
        size, _root, what = targets[t_next]
        return _bad(
            expected,
            expected,
            f"{what} covers {size} entries but the log has {expected}"
            " (entries removed, or an older copy of the database restored)",
            chain,
        )
    if bad_checkpoint is not None:
        return _bad(expected, min(bad_checkpoint[0], expected), bad_checkpoint[1], chain)
    if verifier_keys and signed:
        found = await _consecutive_consistency(session, signed)
        if found:
            return _bad(expected, found[0], found[1], chain)
    return _sound(expected, chain, tree, signed, trusted)


async def _consecutive_consistency(
    session: AsyncSession, signed: Sequence[_Signed]
) -> tuple[int, str] | None:
    """Each stored checkpoint extends the one before, by proofs served from the database.

    Every root was already matched against the recomputed tree; this also exercises the
    proofs auditors are handed, so a node store that cannot prove its own history fails.
    """
    for old, new in itertools.pairwise(signed):
        try:
            proof = await consistency_proof(session, old.size, new.size)
            verify_consistency(old.size, new.size, old.root, new.root, proof)
        except (ProofError, MissingNode, ValueError) as exc:
            return (
                old.size,
                f"checkpoints at sizes {old.size} and {new.size} are inconsistent: {exc}",
            )
    return None
