"""Merkle proofs and roots served from the database.

Every hash a proof needs is a perfect subtree (see :func:`audit.merkle.subtree_decomposition`):
level 0 comes from ``audit_entries.leaf_hash``, higher levels from ``audit_tree_nodes``.
The ranges a proof asks for do not depend on hash values, so proofs are built in two
passes: one that only records which subtrees are needed, one batched lookup, then the
real computation. A proof costs one or two queries whatever the tree size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from audit.merkle import (
    EMPTY_ROOT,
    consistency_proof_from,
    hash_children,
    inclusion_proof_from,
    subtree_decomposition,
)
from audit.schema import AuditEntryRow, AuditHeadRow, AuditTreeNodeRow

__all__ = [
    "MissingNode",
    "consistency_proof",
    "inclusion_proof",
    "inclusion_proofs",
    "root_at",
    "tree_size",
]

_CHUNK = 400
_PLACEHOLDER = bytes(32)

Piece = tuple[int, int]  # (level, index)


class MissingNode(LookupError):
    """A subtree hash a proof needs is not stored (the tree is damaged or the size too big)."""


async def tree_size(session: AsyncSession) -> int:
    """The number of leaves in the log, from the head row."""
    last = (
        await session.execute(select(AuditHeadRow.last_seq).where(AuditHeadRow.id == 1))
    ).scalar_one_or_none()
    if last is None:
        raise MissingNode("the audit head row is missing")
    return int(last) + 1


def _node_seq(level: int, index: int) -> int:
    return ((index + 1) << level) - 1


async def _fetch(session: AsyncSession, pieces: Iterable[Piece]) -> dict[Piece, bytes]:
    wanted = set(pieces)
    leaves = sorted(index for level, index in wanted if level == 0)
    inner = sorted((_node_seq(level, index), level) for level, index in wanted if level > 0)
    found: dict[Piece, bytes] = {}
    for i in range(0, len(leaves), _CHUNK):
        chunk = leaves[i : i + _CHUNK]
        rows = await session.execute(
            select(AuditEntryRow.seq, AuditEntryRow.leaf_hash).where(AuditEntryRow.seq.in_(chunk))
        )
        for seq, digest in rows:
            found[(0, int(seq))] = bytes(digest)
    for i in range(0, len(inner), _CHUNK):
        chunk_keys = inner[i : i + _CHUNK]
        node_rows = await session.execute(
            select(AuditTreeNodeRow.seq, AuditTreeNodeRow.level, AuditTreeNodeRow.hash).where(
                tuple_(AuditTreeNodeRow.seq, AuditTreeNodeRow.level).in_(chunk_keys)
            )
        )
        for seq, level, digest in node_rows:
            found[(int(level), ((int(seq) + 1) >> int(level)) - 1)] = bytes(digest)
    missing = wanted - found.keys()
    if missing:
        level, index = min(missing, key=lambda p: _node_seq(*p))
        raise MissingNode(
            f"tree node (level {level}, index {index}) written at seq "
            f"{_node_seq(level, index)} is not stored"
        )
    return found


def _folder(found: dict[Piece, bytes]) -> Callable[[int, int], bytes]:
    def node_hash(start: int, end: int) -> bytes:
        pieces = subtree_decomposition(start, end)
        h = found[pieces[-1]]
        for piece in reversed(pieces[:-1]):
            h = hash_children(found[piece], h)
        return h

    return node_hash


def _recorder(into: set[Piece]) -> Callable[[int, int], bytes]:
    def node_hash(start: int, end: int) -> bytes:
        into.update(subtree_decomposition(start, end))
        return _PLACEHOLDER

    return node_hash


async def _check_size(session: AsyncSession, size: int, what: str) -> None:
    current = await tree_size(session)
    if size > current:
        raise ValueError(f"{what} {size} exceeds the log's {current} entries")


async def root_at(session: AsyncSession, size: int) -> bytes:
    """MTH of the first ``size`` leaves."""
    if size < 0:
        raise ValueError(f"size must be non-negative, got {size}")
    if size == 0:
        return EMPTY_ROOT
    await _check_size(session, size, "size")
    pieces: set[Piece] = set()
    _recorder(pieces)(0, size)
    return _folder(await _fetch(session, pieces))(0, size)


async def inclusion_proof(session: AsyncSession, seq: int, tree_size: int) -> list[bytes]:
    """PATH(seq, D[tree_size]): the audit path of entry ``seq`` in the tree of ``tree_size``."""
    return (await inclusion_proofs(session, [seq], tree_size))[0]


async def inclusion_proofs(
    session: AsyncSession, seqs: Sequence[int], tree_size: int
) -> list[list[bytes]]:
    """Audit paths of many entries in one tree, with one batched lookup (for exports)."""
    await _check_size(session, tree_size, "tree size")
    pieces: set[Piece] = set()
    record = _recorder(pieces)
    for seq in seqs:
        inclusion_proof_from(record, seq, tree_size)
    node_hash = _folder(await _fetch(session, pieces))
    return [inclusion_proof_from(node_hash, seq, tree_size) for seq in seqs]


async def consistency_proof(session: AsyncSession, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[new_size]) from the stored nodes."""
    await _check_size(session, new_size, "new size")
    pieces: set[Piece] = set()
    consistency_proof_from(_recorder(pieces), old_size, new_size)
    if not pieces:
        return []
    return consistency_proof_from(_folder(await _fetch(session, pieces)), old_size, new_size)
