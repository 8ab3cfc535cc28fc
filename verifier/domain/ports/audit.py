"""The audit log as the use cases see it: appends inside a unit of work, and the reads,
proofs and checkpoints auditors ask for."""

from __future__ import annotations

import abc
from asyncio import Event
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from audit.checkpoint import StoredCheckpoint
from audit.entry import AppendedEntry, EntryDraft


class AuditRepository(abc.ABC):
    @abc.abstractmethod
    async def append(self, drafts: Sequence[EntryDraft]) -> list[AppendedEntry]:
        """Append ``drafts`` in order; they commit (or not) with the unit of work.

        Raises :class:`~verifier.domain.errors.Unavailable` when the log cannot be
        written: the request fails closed."""


@dataclass(frozen=True, slots=True)
class EntryView:
    seq: int
    body: bytes  # the canonical JSON body, exactly the bytes that were hashed
    leaf_hash: bytes


@dataclass(frozen=True, slots=True)
class EntryQuery:
    """Entries an auditor asked for, in the log's terms: a person by keyed subject ref.
    Every given field must match (AND); ``since`` is inclusive, ``until`` exclusive."""

    after_seq: int
    limit: int
    subject_ref: str = ""
    actor_system: str = ""
    actor_user: str = ""
    case_id: str = ""
    verification_id: str = ""
    action: str = ""
    since: datetime | None = None
    until: datetime | None = None


class AuditReader(abc.ABC):
    """Reads of the audit log, its Merkle tree and its receipts.

    Raises :class:`~verifier.domain.errors.Unavailable` when the database cannot be
    read and :class:`~verifier.domain.errors.FailedPrecondition` when the stored tree is
    damaged; a size beyond the log is a ValueError (the caller names the field)."""

    @abc.abstractmethod
    async def entries(self, query: EntryQuery) -> list[EntryView]:
        """Matching entries in seq order, at most ``query.limit``."""

    @abc.abstractmethod
    async def entry(self, seq: int) -> EntryView | None: ...

    @abc.abstractmethod
    def export_lines(
        self, start: int, end: int, checkpoint: StoredCheckpoint, verifier_key: str
    ) -> AsyncIterator[bytes]:
        """The export of entries ``start <= seq < end`` with proofs (see audit.export)."""

    @abc.abstractmethod
    async def inclusion_proof(self, seq: int, tree_size: int) -> list[bytes]: ...

    @abc.abstractmethod
    async def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]: ...

    @abc.abstractmethod
    async def root_at(self, size: int) -> bytes: ...

    @abc.abstractmethod
    async def release_seq(self, verification_id: str, version: int) -> int | None:
        """The seq of the ``released`` entry of a report version (0: the latest)."""

    @abc.abstractmethod
    async def receipt(
        self, seq: int, checkpoint: StoredCheckpoint, verifier_key: str
    ) -> dict[str, Any]:
        """The receipt of entry ``seq`` against ``checkpoint`` (see audit.export)."""

    @abc.abstractmethod
    async def size(self) -> int:
        """The number of entries in the log."""


class AuditCheckpoints(abc.ABC):
    """Signed checkpoints of the audit log (C2SP tlog-checkpoint)."""

    @property
    @abc.abstractmethod
    def verifier_key(self) -> str:
        """The verifier key string of the active audit key."""

    @property
    @abc.abstractmethod
    def verifier_keys(self) -> list[str]:
        """Every key stored checkpoints may be signed with, the active one first."""

    @abc.abstractmethod
    async def checkpoint(self) -> StoredCheckpoint:
        """A checkpoint of the log as it is now (a new one if it grew)."""

    @abc.abstractmethod
    async def latest(self) -> StoredCheckpoint | None: ...

    @abc.abstractmethod
    async def history(self, limit: int) -> list[StoredCheckpoint]:
        """Up to ``limit`` stored checkpoints, largest first, each signature checked."""

    @abc.abstractmethod
    async def covering(self, size: int) -> StoredCheckpoint:
        """A stored checkpoint of at least ``size`` leaves, made now if none is;
        ValueError if the log is smaller."""

    @abc.abstractmethod
    async def run(self, stop: Event) -> None:
        """Sign checkpoints in the background until ``stop`` is set."""
