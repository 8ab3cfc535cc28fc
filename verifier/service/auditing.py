"""Auditor use cases: query and export the audit log, checkpoints, proofs and receipts.

Only the ``auditor`` role may call them; a refusal is itself audited. Every allowed read
is written as an ``audit_read`` entry (and committed) before any data is returned, with
the kind of filter used but never a raw ID number: a subject filter is turned into its
keyed subject ref here, and only the ref reaches the log.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from audit.checkpoint import StoredCheckpoint, verifier_key
from audit.entry import Actor, EntryDraft
from hedui_sdk import IdType
from verifier.domain.caller import Caller
from verifier.domain.errors import (
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from verifier.domain.ports import AuditCheckpoints, AuditReader, EntryQuery, EntryView, Store
from verifier.domain.pseudonym import subject_ref
from verifier.domain.vocabulary import AuditAction, Role
from verifier.signing.jwks import PublicKey
from verifier.signing.sm2 import Sm2PublicKey
from verifier.signing.sm2_notes import sm2_verifier_key

T = TypeVar("T")

AUDITOR = Role.AUDITOR
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
_PAGE_MARK = "seq:"


@dataclass(frozen=True, slots=True)
class EntryFilter:
    """What an auditor asks for; every given field must match (AND)."""

    subject: tuple[IdType, str] | None = None
    actor_system: str = ""
    actor_user: str = ""
    case_id: str = ""
    verification_id: str = ""
    action: str = ""
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive

    def kinds(self) -> list[str]:
        """The filter's shape, for the audit entry: names only, never values."""
        named = {
            "subject": self.subject is not None,
            "actor_system": bool(self.actor_system),
            "actor_user": bool(self.actor_user),
            "case_id": bool(self.case_id),
            "verification_id": bool(self.verification_id),
            "action": bool(self.action),
            "since": self.since is not None,
            "until": self.until is not None,
        }
        return [k for k, on in named.items() if on]


@dataclass(frozen=True, slots=True)
class Page:
    entries: list[EntryView]
    next_page_token: str


@dataclass(frozen=True, slots=True)
class InclusionProof:
    seq: int
    tree_size: int
    leaf_hash: bytes
    proof: list[bytes]
    body: bytes
    checkpoint: StoredCheckpoint | None


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    proof: list[bytes]
    checkpoint: StoredCheckpoint | None


def _token(seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_PAGE_MARK}{seq}".encode()).decode()


def _after(token: str) -> int:
    if not token:
        return -1
    try:
        text = base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii")
        if not text.startswith(_PAGE_MARK):
            raise ValueError(token)
        seq = int(text.removeprefix(_PAGE_MARK))
    except (ValueError, binascii.Error, UnicodeError):
        raise InvalidArgument([FieldViolation("page_token", "is not a token we issued")]) from None
    if seq < -1:
        raise InvalidArgument([FieldViolation("page_token", "is not a token we issued")])
    return seq


class AuditService:
    """Auditor reads of the audit log, through its ports: ``store`` writes the
    ``audit_read`` entries, ``reader`` reads entries and proofs, ``checkpointer`` signs."""

    def __init__(
        self,
        store: Store,
        reader: AuditReader,
        checkpointer: AuditCheckpoints,
        pseudonym_key: bytes,
    ) -> None:
        self._store = store
        self._reader = reader
        self.checkpointer = checkpointer
        self._pkey = pseudonym_key
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def verifier_key(self) -> str:
        """The C2SP verifier key string auditors check checkpoints with."""
        return self.checkpointer.verifier_key

    # ------------------------------------------------------------------ lifecycle
    def start_background(self) -> None:
        """Start the periodic checkpointer (idempotent)."""
        if self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(
                self.checkpointer.run(self._stop), name="audit-checkpointer"
            )

    async def aclose(self) -> None:
        if self._task is not None:
            self._stop.set()
            await self._task
            self._task = None

    # ------------------------------------------------------------------ discipline
    async def _record(
        self,
        caller: Caller,
        kind: str,
        *,
        details: dict[str, Any],
        refs: tuple[str, ...] = (),
        case_id: str = "",
        verification_id: str = "",
    ) -> None:
        actor = Actor(caller.system, caller.user, caller.role, caller.region_label())
        allowed = caller.role == AUDITOR
        draft = EntryDraft(
            actor=actor,
            action=AuditAction.AUDIT_READ.value,
            outcome="allow" if allowed else "deny",
            case_id=case_id,
            verification_id=verification_id,
            subject_refs=refs,
            reason="" if allowed else "ROLE_NOT_ALLOWED",
            details={"kind": kind, **details},
        )
        async with self._store.unit_of_work(write=True) as uow:
            await uow.audit.append([draft])
            await uow.commit()
        if not allowed:
            raise PermissionDenied("ROLE_NOT_ALLOWED", "only auditors may read the audit log")

    # ------------------------------------------------------------------ queries
    def _subject_ref(self, subject: tuple[IdType, str]) -> str:
        id_type, number = subject
        if not number or len(number) > 64:
            raise InvalidArgument([FieldViolation("subject.id_number", "must be an ID number")])
        return subject_ref(self._pkey, id_type, number)

    async def query(
        self, caller: Caller, flt: EntryFilter, *, page_size: int = 0, page_token: str = ""
    ) -> Page:
        """One page of matching entries in seq order; pass ``next_page_token`` for the next."""
        if page_size < 0:
            raise InvalidArgument([FieldViolation("page_size", "must not be negative")])
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        after = _after(page_token)
        ref = self._subject_ref(flt.subject) if flt.subject is not None else None
        await self._record(
            caller,
            "query",
            details={"filters": flt.kinds(), "page_size": size, "after_seq": after},
            refs=(ref,) if ref else (),
            case_id=flt.case_id,
            verification_id=flt.verification_id,
        )
        rows = await self._reader.entries(
            EntryQuery(
                after_seq=after,
                limit=size + 1,
                subject_ref=ref or "",
                actor_system=flt.actor_system,
                actor_user=flt.actor_user,
                case_id=flt.case_id,
                verification_id=flt.verification_id,
                action=flt.action,
                since=flt.since,
                until=flt.until,
            )
        )
        entries = rows[:size]
        more = len(rows) > size
        return Page(entries, _token(entries[-1].seq) if more and entries else "")

    async def export(self, caller: Caller, start: int, end: int = 0) -> AsyncIterator[bytes]:
        """JSON lines of entries ``start <= seq < end`` (``end`` 0: up to now), with proofs."""
        if start < 0 or end < 0 or (end and end < start):
            raise InvalidArgument([FieldViolation("end_seq", "must be 0 or at least start_seq")])
        await self._record(caller, "export", details={"start_seq": start, "end_seq": end})
        return self._export(start, end)

    async def _export(self, start: int, end: int) -> AsyncIterator[bytes]:
        cp = await (self.checkpointer.checkpoint() if end == 0 else self._covering(end))
        stop = end or cp.size
        if start > stop:
            raise InvalidArgument([FieldViolation("start_seq", "is beyond the log")])
        async for line in self._reader.export_lines(start, stop, cp, self.verifier_key):
            yield line

    async def _covering(self, size: int) -> StoredCheckpoint:
        try:
            return await self.checkpointer.covering(size)
        except ValueError as exc:
            raise InvalidArgument([FieldViolation("end_seq", str(exc))]) from None

    async def latest_checkpoint(self, caller: Caller) -> StoredCheckpoint:
        """The latest stored checkpoint; signs nothing (NotFound before the first)."""
        await self._record(caller, "checkpoint", details={"fresh": False})
        cp = await self.checkpointer.latest()
        if cp is None:
            raise NotFound("no checkpoint has been signed yet")
        return cp

    async def checkpoint_history(
        self, caller: Caller, *, limit: int = 100
    ) -> list[StoredCheckpoint]:
        """The newest ``limit`` signed checkpoints (1 to 1000), largest first."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidArgument([FieldViolation("limit", f"must be 1 to {MAX_PAGE_SIZE}")])
        await self._record(caller, "checkpoint_history", details={"limit": limit})
        return await self.checkpointer.history(limit)

    async def checkpoint(self, caller: Caller, *, fresh: bool = False) -> StoredCheckpoint:
        """The latest checkpoint, or a new one of the log as it is now."""
        await self._record(caller, "checkpoint", details={"fresh": fresh})
        cp = None if fresh else await self.checkpointer.latest()
        return cp or await self.checkpointer.checkpoint()

    async def prove_inclusion(self, caller: Caller, seq: int, size: int = 0) -> InclusionProof:
        """Entry ``seq``'s audit path; ``size`` 0 means against a checkpoint that covers it."""
        if seq < 0 or size < 0 or (size and seq >= size):
            raise InvalidArgument([FieldViolation("seq", "must be inside the tree")])
        await self._record(caller, "prove_inclusion", details={"seq": seq, "tree_size": size})
        cp = await self._covering(seq + 1) if size == 0 else None
        n = cp.size if cp else size
        entry = await self._reader.entry(seq)
        if entry is None:
            raise NotFound(f"no audit entry {seq}")
        proof = await self._proof(self._reader.inclusion_proof(seq, n))
        return InclusionProof(seq, n, entry.leaf_hash, proof, entry.body, cp)

    async def prove_consistency(
        self, caller: Caller, old_size: int, new_size: int = 0
    ) -> ConsistencyProof:
        """Proof that the tree of ``new_size`` (0: a fresh checkpoint) extends ``old_size``."""
        if old_size < 0 or new_size < 0 or (new_size and new_size < old_size):
            raise InvalidArgument([FieldViolation("new_size", "must be 0 or at least old_size")])
        await self._record(
            caller, "prove_consistency", details={"old_size": old_size, "new_size": new_size}
        )
        cp = await self.checkpointer.checkpoint() if new_size == 0 else None
        n = cp.size if cp else new_size
        if old_size > n:
            raise InvalidArgument([FieldViolation("old_size", "is beyond the log")])
        proof = await self._proof(self._reader.consistency_proof(old_size, n))
        old_root = await self._proof(self._reader.root_at(old_size))
        new_root = cp.root if cp else await self._proof(self._reader.root_at(n))
        return ConsistencyProof(old_size, n, old_root, new_root, proof, cp)

    @staticmethod
    async def _proof(work: Awaitable[T]) -> T:
        try:
            return await work
        except ValueError as exc:
            raise InvalidArgument([FieldViolation("tree_size", str(exc))]) from None

    async def receipt(
        self, caller: Caller, verification_id: str, version: int = 0
    ) -> dict[str, Any]:
        """The release receipt of a report version (0: the latest) — see audit.export."""
        await self._record(
            caller, "receipt", details={"version": version}, verification_id=verification_id
        )
        seq = await self._reader.release_seq(verification_id, version)
        if seq is None:
            raise NotFound("report not found")
        cp = await self._covering(seq + 1)
        return await self._reader.receipt(seq, cp, self.verifier_key)

    async def entry_receipt(self, seq: int) -> dict[str, Any]:
        """The receipt of entry ``seq`` against a checkpoint covering it, for a reader
        whose read the caller records (a federation peer asking about its own 协查)."""
        cp = await self._covering(seq + 1)
        return await self._reader.receipt(seq, cp, self.verifier_key)

    async def size(self) -> int:
        return await self._reader.size()


def verifier_keys_for(origin: str, public_keys: Sequence[PublicKey]) -> list[str]:
    """Verifier key strings for every audit public key, Ed25519 and SM2 (old ones verify
    old checkpoints)."""
    return [
        sm2_verifier_key(origin, k) if isinstance(k, Sm2PublicKey) else verifier_key(origin, k)
        for k in public_keys
    ]
