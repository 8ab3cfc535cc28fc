"""Report versions on SQLAlchemy: the DSSE envelope sealed, and the release announced.

An envelope is sealed as its parts: a short JSON head (payload type, signatures) and the
payload's own bytes, which compress about twice as well as their base64 inside the envelope
JSON. Reading rebuilds the exact bytes that were signed and handed out; an envelope that
would not rebuild exactly, and every row written before, is kept whole (it begins with
``{``, which a packed value never does).

A later version mostly repeats the first (a late bank adds its records; ids, times and the
assessment change), so it is sealed compressed against the first version's parts: it costs
what changed. Any version opens with at most one other; retention purges a check's versions
together.

A first version is compressed against its own policy section (the region's parameters with
their references: a fifth of a report, and the same for every check the same rules
decided), kept once in ``seal_bases``. That section holds no personal data, so it is not
sealed and never purged; a report opens only with it (its digest is authenticated).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import zstandard
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from verifier.domain.envelope_layout import EnvelopeParts, envelope_bytes, envelope_parts
from verifier.domain.outcomes import Completeness
from verifier.domain.ports import ReportRepository, StoredReport
from verifier.storage.guard import guard
from verifier.storage.insert_new import insert_new, insert_row
from verifier.storage.models import ReportRow, SealBaseRow
from verifier.storage.notify import announce
from verifier.storage.sealing import Sealer, base_digest_of


class SharedBases:
    """The shared seal bases this process has seen committed, by digest.

    A kept base never changes and is never purged, so once it is known committed it is
    not read again: a first version's write and every report read that opens one skip
    that statement. A base is remembered only when it is certainly in the database: read
    by a transaction that sees committed rows only, or seen by a write transaction that
    then committed (any rollback in it, a savepoint's too, forgets what it saw).
    """

    _LIMIT = 256  # a base per region and rule set: a few; past this, read as before
    _SEEN = "hedui.seal_bases_seen"

    def __init__(self) -> None:
        self._known: dict[str, bytes] = {}

    def get(self, digest: str) -> bytes | None:
        return self._known.get(digest)

    def committed(self, digest: str, base: bytes) -> None:
        if len(self._known) < self._LIMIT:
            self._known[digest] = base

    def seen_in(self, session: AsyncSession, digest: str, base: bytes) -> None:
        """``base`` read or written by ``session``'s open write transaction: remembered
        if that transaction commits."""
        info = session.sync_session.info
        seen: dict[str, bytes] | None = info.get(self._SEEN)
        if seen is None:
            seen = info[self._SEEN] = {}
            sync = session.sync_session

            def after_commit(_s: Any) -> None:
                if not sync.in_nested_transaction():  # the outer transaction, not a savepoint
                    for d, b in seen.items():
                        self.committed(d, b)
                    seen.clear()

            def after_rollback(_s: Any, _previous: Any) -> None:
                seen.clear()

            event.listen(sync, "after_commit", after_commit)
            event.listen(sync, "after_soft_rollback", after_rollback)
        seen[digest] = base


class SqlReports(ReportRepository):
    def __init__(
        self,
        session: AsyncSession,
        sealer: Sealer,
        bases: SharedBases | None = None,
        *,
        committed_reads: bool = False,
    ) -> None:
        """``committed_reads``: the session's transaction sees committed rows only and
        writes nothing (a read unit of work), so a base it reads is known kept."""
        self._session = session
        self._sealer = sealer
        self._bases = bases or SharedBases()
        self._committed_reads = committed_reads

    async def add(self, report: StoredReport) -> None:
        aad = f"reports/{report.verification_id}/{report.version}"
        packed = pack_envelope(report.envelope)
        async with guard():
            if report.version > 1:
                base = await self._first(report.verification_id)
            else:
                base = await self._keep_shared(policy_section(packed))
            sealed, kid = self._sealer.seal(packed, aad, base=base)
            s_aad = summary_aad(report.verification_id, report.version)
            summary, _ = self._sealer.seal(report.summary_json.encode(), s_aad)
            await insert_row(
                self._session,
                ReportRow,
                {
                    "verification_id": report.verification_id,
                    "version": report.version,
                    "report_id": report.report_id,
                    "envelope_sealed": sealed,
                    "data_key_id": kid,
                    "envelope_sha256": report.envelope_sha256,
                    "previous_sha256": report.previous_sha256,
                    "signing_key_id": report.signing_key_id,
                    "completeness": report.completeness.value,
                    "release_seq": report.release_seq,
                    "summary_sealed": summary,
                    "created_at": report.created_at,
                },
            )

    async def get(self, verification_id: str, version: int) -> StoredReport | None:
        q = select(ReportRow).where(ReportRow.verification_id == verification_id)
        q = (
            q.where(ReportRow.version == version)
            if version
            else q.order_by(ReportRow.version.desc()).limit(1)
        )
        async with guard():
            row = (await self._session.execute(q)).scalars().first()
            if row is None:
                return None
            envelope = b""
            if row.envelope_sealed is not None:
                base = b""
                if self._sealer.needs_base(row.envelope_sealed):
                    base = await self._base_of(row)
                envelope = unpack_envelope(self._open(row, base))
        return StoredReport(
            verification_id=row.verification_id,
            version=row.version,
            report_id=row.report_id,
            envelope=envelope,
            envelope_sha256=row.envelope_sha256,
            previous_sha256=row.previous_sha256,
            signing_key_id=row.signing_key_id,
            completeness=Completeness(row.completeness),
            release_seq=row.release_seq,
            summary_json=read_summary(self._sealer, row) or "{}",
            created_at=row.created_at,
            purged=row.envelope_sealed is None,
        )

    async def _base_of(self, row: ReportRow) -> bytes:
        if row.version > 1:
            return await self._first(row.verification_id)
        assert row.envelope_sealed is not None
        return await self._shared(Sealer.base_digest(row.envelope_sealed).hex()) or b""

    async def _first(self, verification_id: str) -> bytes:
        """The first version's sealed parts, which later versions are compressed against
        (empty if it was purged: its later versions went with it)."""
        first = await self._session.get(ReportRow, (verification_id, 1))
        if first is None or first.envelope_sealed is None:
            return b""
        shared = b""
        if self._sealer.needs_base(first.envelope_sealed):
            shared = await self._base_of(first)
        return self._open(first, shared)

    async def _keep_shared(self, base: bytes) -> bytes:
        """``base`` kept in ``seal_bases`` (once: another transaction may be keeping the
        same one), or empty when there is none worth keeping."""
        if len(base) < _SHARED_MIN:
            return b""
        digest = base_digest_of(base).hex()
        kept = await self._shared(digest)
        if kept is None:
            content = zstandard.compress(base, 19)
            await insert_new(
                self._session,
                SealBaseRow,
                {"digest": digest, "content": content, "created_at": datetime.now(UTC)},
            )
            kept = await self._shared(digest)
        # Another base under the same digest prefix (never seen): the base must match exactly.
        return base if kept == base else b""

    async def _shared(self, digest: str) -> bytes | None:
        known = self._bases.get(digest)
        if known is not None:
            return known
        q = select(SealBaseRow.content).where(SealBaseRow.digest == digest)
        content = await self._session.scalar(q)
        if content is None:
            return None
        base = zstandard.decompress(content)
        if self._committed_reads:
            self._bases.committed(digest, base)
        else:
            self._bases.seen_in(self._session, digest, base)
        return base

    def _open(self, row: ReportRow, base: bytes) -> bytes:
        assert row.envelope_sealed is not None
        aad = f"reports/{row.verification_id}/{row.version}"
        return self._sealer.open(row.envelope_sealed, row.data_key_id, aad, base=base)

    async def announce(self, verification_id: str) -> None:
        async with guard():
            await announce(self._session, verification_id)


def summary_aad(verification_id: str, version: int) -> str:
    return f"report_summaries/{verification_id}/{version}"


def read_summary(sealer: Sealer, row: ReportRow) -> str | None:
    """A report version's summary JSON (None once purged)."""
    if row.summary_sealed is not None:
        aad = summary_aad(row.verification_id, row.version)
        return sealer.open(row.summary_sealed, row.data_key_id, aad).decode()
    return row.summary_json


PACKED = b"dsse-parts\n"
_SHARED_MIN = 1024  # a smaller policy section is not worth a row of its own
_POLICY_KEY = '"policy":'


def policy_section(packed: bytes) -> bytes:
    """The report's policy section, exactly as its canonical payload holds it (empty when
    there is none): the first version's base."""
    if not packed.startswith(PACKED):
        return b""
    payload = packed[len(PACKED) :].partition(b"\n")[2].decode()
    at = payload.find(_POLICY_KEY)
    if at < 0:
        return b""
    start = at + len(_POLICY_KEY)
    try:
        _, end = json.JSONDecoder().raw_decode(payload, start)
    except ValueError:
        return b""
    return payload[start:end].encode()


def pack_envelope(envelope: bytes) -> bytes:
    """What is sealed for ``envelope``: its parts when they rebuild it exactly, else itself."""
    parts = envelope_parts(envelope)
    if parts is None:
        return envelope
    head = json.dumps(
        {"payloadType": parts.payload_type, "signatures": [list(s) for s in parts.signatures]},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    return PACKED + head + b"\n" + parts.payload


def unpack_envelope(stored: bytes) -> bytes:
    """The envelope bytes :func:`pack_envelope` was given."""
    if not stored.startswith(PACKED):
        return stored
    head, _, payload = stored[len(PACKED) :].partition(b"\n")
    meta = json.loads(head)
    signatures = tuple((str(kid), str(sig)) for kid, sig in meta["signatures"])
    return envelope_bytes(EnvelopeParts(meta["payloadType"], payload, signatures))
