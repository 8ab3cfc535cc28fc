"""Signing checkpoints of the audit log, and keeping them.

A checkpoint is signed under the head lock, over the root recomputed from the head's
frontier, and only after the stored nodes prove it consistent with the latest stored
checkpoint (whose note is opened with the audit verifier keys, not read from columns).
A log that has been rewritten therefore never gets a fresh signature over its new
history: :class:`CheckpointRefused` is raised and the background task reports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from audit.checkpoint import (
    Checkpoint,
    CheckpointError,
    StoredCheckpoint,
    open_checkpoint,
    sign_checkpoint,
)
from audit.checkpoint import verifier_key as _verifier_key
from audit.entry import format_ts
from audit.log import AuditUnavailable, split_frontier
from audit.merkle import ProofError, verify_consistency
from audit.proofs import MissingNode, consistency_proof, root_at
from audit.schema import AuditCheckpointRow, AuditHeadRow

__all__ = [
    "DEFAULT_ORIGIN",
    "CheckpointRefused",
    "CheckpointSigner",
    "Checkpointer",
    "SessionFactory",
    "StoredCheckpoint",
    "covering_checkpoint",
    "latest_checkpoint",
    "make_checkpoint",
]

DEFAULT_ORIGIN = "hedui.local/audit"

log = logging.getLogger("hedui.audit")

SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]
"""Opens a session; for writes, one whose transaction may take the head lock."""


class CheckpointRefused(RuntimeError):
    """The log does not extend the latest signed checkpoint; nothing was signed."""


@dataclass(frozen=True)
class CheckpointSigner:
    """The audit key and the log's origin. The key name is the origin, as C2SP asks.

    ``cosigners`` each add a signature line of their own (an SM2 key's: see
    :mod:`audit.note_types`) to the note the Ed25519 key signed."""

    origin: str
    private_key: Ed25519PrivateKey
    cosigners: tuple[Callable[[bytes], bytes], ...] = ()

    @property
    def verifier_key(self) -> str:
        return _verifier_key(self.origin, self.private_key.public_key())

    def sign(self, cp: Checkpoint) -> bytes:
        note = sign_checkpoint(cp, self.origin, self.private_key)
        for cosign in self.cosigners:
            note = cosign(note)
        return note


def _opened(row: AuditCheckpointRow, verifier_keys: Sequence[str], origin: str) -> StoredCheckpoint:
    note = row.note.encode("utf-8")
    try:
        cp = open_checkpoint(note, list(verifier_keys), origin=origin)
    except CheckpointError as exc:
        raise CheckpointRefused(
            f"stored checkpoint at size {row.size} does not open: {exc}"
        ) from None
    if cp.size != row.size or cp.root_hash != bytes(row.root):
        raise CheckpointRefused(
            f"stored checkpoint at size {row.size}: columns differ from its note"
        )
    return StoredCheckpoint(cp.size, cp.root_hash, note, row.created_at)


async def latest_checkpoint(
    session: AsyncSession, verifier_keys: Sequence[str], origin: str
) -> StoredCheckpoint | None:
    """The largest stored checkpoint, its signature checked."""
    row = (
        await session.execute(
            select(AuditCheckpointRow).order_by(AuditCheckpointRow.size.desc()).limit(1)
        )
    ).scalar_one_or_none()
    return None if row is None else _opened(row, verifier_keys, origin)


async def checkpoint_history(
    session: AsyncSession, verifier_keys: Sequence[str], origin: str, limit: int
) -> list[StoredCheckpoint]:
    """Up to ``limit`` stored checkpoints, largest first, each one's signature checked."""
    rows = (
        await session.execute(
            select(AuditCheckpointRow).order_by(AuditCheckpointRow.size.desc()).limit(limit)
        )
    ).scalars()
    return [_opened(row, verifier_keys, origin) for row in rows]


async def covering_checkpoint(
    session: AsyncSession, size: int, verifier_keys: Sequence[str], origin: str
) -> StoredCheckpoint | None:
    """The smallest stored checkpoint whose tree has at least ``size`` leaves."""
    row = (
        await session.execute(
            select(AuditCheckpointRow)
            .where(AuditCheckpointRow.size >= size)
            .order_by(AuditCheckpointRow.size)
            .limit(1)
        )
    ).scalar_one_or_none()
    return None if row is None else _opened(row, verifier_keys, origin)


async def make_checkpoint(
    session: AsyncSession,
    signer: CheckpointSigner,
    verifier_keys: Sequence[str],
    *,
    now: datetime | None = None,
) -> StoredCheckpoint:
    """Sign and store a checkpoint of the whole log, or return the latest if nothing changed.

    Call in a write transaction of ``session``; the caller commits. Holds the head lock
    so that the size, the frontier and the nodes read are one consistent state.
    """
    head = (
        await session.execute(
            select(AuditHeadRow.last_seq, AuditHeadRow.frontier)
            .where(AuditHeadRow.id == 1)
            .with_for_update()
        )
    ).one_or_none()
    if head is None:
        raise AuditUnavailable("the audit head row is missing; run `hedui db upgrade`")
    size = int(head.last_seq) + 1
    new_root = split_frontier(size, bytes(head.frontier)).root()
    keys = list(dict.fromkeys([signer.verifier_key, *verifier_keys]))
    latest = await latest_checkpoint(session, keys, signer.origin)
    if latest is not None and latest.size == size and latest.root == new_root:
        return latest
    try:
        if latest is not None and latest.size > size:
            raise ProofError(f"the log has {size} entries, fewer than the {latest.size} signed")
        if size and await root_at(session, size) != new_root:
            raise ProofError("the stored tree nodes disagree with the head's frontier")
        if latest is not None:
            proof = await consistency_proof(session, latest.size, size)
            verify_consistency(latest.size, size, latest.root, new_root, proof)
    except (ProofError, MissingNode, ValueError) as exc:
        old = "nothing" if latest is None else f"size {latest.size}"
        raise CheckpointRefused(
            f"refusing to sign size {size}: not consistent with the checkpoint at {old}: {exc}"
        ) from None
    note = signer.sign(Checkpoint(signer.origin, size, new_root))
    created = format_ts(now or datetime.now(UTC))
    session.add(
        AuditCheckpointRow(size=size, root=new_root, note=note.decode("utf-8"), created_at=created)
    )
    await session.flush()
    return StoredCheckpoint(size, new_root, note, created)


class Checkpointer:
    """Makes checkpoints on demand, and in the background every ``interval`` seconds or
    ``every_entries`` entries, whichever comes first (and only when the log grew)."""

    def __init__(
        self,
        write_session: SessionFactory,
        read_session: SessionFactory,
        signer: CheckpointSigner,
        verifier_keys: Sequence[str] = (),
        *,
        interval: float = 60.0,
        every_entries: int = 1000,
        poll: float = 1.0,
        on_refused: Callable[[CheckpointRefused], None] | None = None,
    ) -> None:
        self._write = write_session
        self._read = read_session
        self.signer = signer
        self.verifier_keys = list(dict.fromkeys([signer.verifier_key, *verifier_keys]))
        self._interval = interval
        self._every = every_entries
        self._poll = min(poll, interval)
        self._on_refused = on_refused
        self.refused: CheckpointRefused | None = None
        # One signer at a time in this process; other processes queue on the head lock.
        self._lock = asyncio.Lock()

    async def checkpoint(self) -> StoredCheckpoint:
        """A checkpoint of the log as it is now (a new one if it grew)."""
        async with self._lock, self._write() as session:
            try:
                cp = await make_checkpoint(session, self.signer, self.verifier_keys)
            except CheckpointRefused as exc:
                self.refused = exc
                log.error("audit_checkpoint_refused", extra={"problem": str(exc)})
                if self._on_refused is not None:
                    self._on_refused(exc)
                raise
            await session.commit()
            return cp

    async def latest(self) -> StoredCheckpoint | None:
        async with self._read() as session:
            return await latest_checkpoint(session, self.verifier_keys, self.signer.origin)

    async def history(self, limit: int) -> list[StoredCheckpoint]:
        """Up to ``limit`` stored checkpoints, largest first."""
        async with self._read() as session:
            return await checkpoint_history(session, self.verifier_keys, self.signer.origin, limit)

    async def covering(self, size: int) -> StoredCheckpoint:
        """A stored checkpoint of at least ``size`` leaves, made now if none is."""
        async with self._read() as session:
            cp = await covering_checkpoint(session, size, self.verifier_keys, self.signer.origin)
        if cp is None:
            cp = await self.checkpoint()
            if cp.size < size:
                raise ValueError(f"the log has only {cp.size} entries")
        return cp

    async def _pending(self) -> tuple[int, int]:
        async with self._read() as session:
            last = (
                await session.execute(select(AuditHeadRow.last_seq).where(AuditHeadRow.id == 1))
            ).scalar_one_or_none()
            signed = (
                await session.execute(
                    select(AuditCheckpointRow.size)
                    .order_by(AuditCheckpointRow.size.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
        return (0 if last is None else int(last) + 1), (0 if signed is None else int(signed))

    async def run(self, stop: asyncio.Event) -> None:
        """Background loop until ``stop`` is set. Refusals are reported, never signed over."""
        last_made = time.monotonic()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._poll)
            if stop.is_set():
                return
            try:
                size, signed = await self._pending()
                due = time.monotonic() - last_made >= self._interval
                if size > signed and (size - signed >= self._every or due):
                    await self.checkpoint()
                    last_made = time.monotonic()
            except CheckpointRefused:
                # Reported in checkpoint(); retrying will refuse again until an operator acts.
                last_made = time.monotonic()
            except Exception as exc:
                # A database outage must not kill the task; the next tick retries.
                log.warning("audit_checkpoint_failed", extra={"error": type(exc).__name__})
