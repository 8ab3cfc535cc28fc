"""Exports and receipts that an auditor verifies with nothing but the file and the key.

An export is JSON lines: a header carrying a signed checkpoint note and the audit
verifier key string, then one line per entry of a contiguous seq range with the entry
body (a JSON object whose RFC 8785 form is what was hashed) and its inclusion proof
against the checkpoint. A receipt proves one ``released`` entry the same way, and
:func:`verify_receipt` also ties it to the report envelope's bytes.

:func:`verify_export` and :func:`verify_receipt` read no database and trust neither the
verifier key embedded in the file nor any hash in it: only the key they are given.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from audit.checkpoint import CheckpointError, StoredCheckpoint, open_checkpoint
from audit.entry import canonical, leaf_hash
from audit.merkle import ProofError, verify_inclusion
from audit.proofs import inclusion_proof, inclusion_proofs
from audit.schema import AuditEntryRow

__all__ = [
    "EXPORT_FORMAT",
    "RECEIPT_FORMAT",
    "ExportReport",
    "ReceiptError",
    "VerifiedReceipt",
    "export_lines",
    "receipt_for",
    "verify_export",
    "verify_export_lines",
    "verify_receipt",
]

EXPORT_FORMAT = "hedui.audit-export/v1"
RECEIPT_FORMAT = "hedui.audit-receipt/v1"
_BATCH = 500


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise ValueError(f"{what} must be a base64 string")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"{what} is not valid base64") from exc


def _line(doc: dict[str, Any]) -> bytes:
    return canonical(doc) + b"\n"


async def export_lines(
    session: AsyncSession,
    start: int,
    end: int,
    checkpoint: StoredCheckpoint,
    verifier_key: str,
) -> AsyncIterator[bytes]:
    """Yield the export of entries ``start <= seq < end``, proved against ``checkpoint``.

    ``checkpoint.size`` must be at least ``end``. Lines end in ``\\n``.
    """
    if not 0 <= start <= end <= checkpoint.size:
        raise ValueError(
            f"range [{start}, {end}) is not inside the checkpoint's {checkpoint.size} entries"
        )
    yield _line(
        {
            "format": EXPORT_FORMAT,
            "checkpoint": checkpoint.note.decode("utf-8"),
            "verifier_key": verifier_key,
            "start_seq": start,
            "end_seq": end,
        }
    )
    last = start - 1
    while last + 1 < end:
        rows = (
            await session.execute(
                select(AuditEntryRow.seq, AuditEntryRow.body)
                .where(AuditEntryRow.seq > last, AuditEntryRow.seq < end)
                .order_by(AuditEntryRow.seq)
                .limit(_BATCH)
            )
        ).all()
        if not rows:
            break
        proofs = await inclusion_proofs(session, [int(r.seq) for r in rows], checkpoint.size)
        for row, proof in zip(rows, proofs, strict=True):
            yield _line(
                {
                    "seq": int(row.seq),
                    "body": json.loads(row.body),
                    "proof": [_b64(p) for p in proof],
                }
            )
        last = int(rows[-1].seq)


@dataclass(frozen=True, slots=True)
class ExportReport:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str = ""
    tree_size: int = 0
    start_seq: int = 0
    end_seq: int = 0


def _entry_leaf(body: object, seq: int) -> bytes:
    if not isinstance(body, dict):
        raise ValueError("body is not a JSON object")
    if body.get("seq") != seq:
        raise ValueError(f"body names seq {body.get('seq')!r}")
    try:
        return leaf_hash(canonical(body))
    except (TypeError, ValueError) as exc:
        # A float or an out-of-range number has no canonical form an entry could have had.
        raise ValueError(f"body has no canonical form: {exc}") from None


def verify_export_lines(lines: Iterable[bytes | str], verifier_key: str) -> ExportReport:
    """Check an export: checkpoint signature, seq order, and every entry's inclusion."""
    it = iter(lines)
    try:
        header = json.loads(next(it))
    except StopIteration:
        return ExportReport(False, 0, None, "the export is empty")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return ExportReport(False, 0, None, "the header is not JSON")
    if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
        return ExportReport(False, 0, None, f"not a {EXPORT_FORMAT} file")
    try:
        cp = open_checkpoint(str(header.get("checkpoint", "")).encode("utf-8"), verifier_key)
    except CheckpointError as exc:
        return ExportReport(False, 0, None, f"checkpoint does not verify: {exc}")
    start, end = header.get("start_seq"), header.get("end_seq")
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= cp.size):
        return ExportReport(False, 0, None, "the header's seq range is outside the checkpoint")
    expected = start
    for raw in it:
        if not raw.strip():
            continue
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict):
                raise ValueError("line is not a JSON object")
            seq = doc.get("seq")
            if seq != expected:
                return ExportReport(
                    False,
                    expected - start,
                    expected,
                    f"expected seq {expected}, found {seq!r} (an entry is missing, added or moved)",
                    cp.size,
                    start,
                    end,
                )
            leaf = _entry_leaf(doc.get("body"), expected)
            proof = [_unb64(p, "proof hash") for p in doc.get("proof") or []]
            verify_inclusion(leaf, expected, cp.size, proof, cp.root_hash)
        except (ValueError, ProofError) as exc:
            # json.JSONDecodeError and rfc8785's errors are ValueErrors too.
            return ExportReport(False, expected - start, expected, str(exc), cp.size, start, end)
        expected += 1
    if expected != end:
        return ExportReport(
            False,
            expected - start,
            expected,
            f"the export stops at seq {expected}, its header says {end}",
            cp.size,
            start,
            end,
        )
    return ExportReport(True, end - start, None, "", cp.size, start, end)


def verify_export(path: str, verifier_key: str) -> ExportReport:
    """:func:`verify_export_lines` over a file, streamed."""
    with open(path, "rb") as fh:
        return verify_export_lines(fh, verifier_key)


# --- receipts -------------------------------------------------------------------------


class ReceiptError(ValueError):
    """A receipt is malformed or does not prove what it claims."""


@dataclass(frozen=True, slots=True)
class VerifiedReceipt:
    seq: int
    tree_size: int
    body: dict[str, Any]


async def receipt_for(
    session: AsyncSession, seq: int, checkpoint: StoredCheckpoint, verifier_key: str
) -> dict[str, Any]:
    """The receipt of entry ``seq`` against ``checkpoint`` (which must include it)."""
    if not 0 <= seq < checkpoint.size:
        raise ValueError(f"seq {seq} is not inside the checkpoint's {checkpoint.size} entries")
    body = (
        await session.execute(select(AuditEntryRow.body).where(AuditEntryRow.seq == seq))
    ).scalar_one_or_none()
    if body is None:
        raise LookupError(f"no audit entry {seq}")
    proof = await inclusion_proof(session, seq, checkpoint.size)
    return {
        "format": RECEIPT_FORMAT,
        "seq": seq,
        "body": json.loads(body),
        "tree_size": checkpoint.size,
        "proof": [_b64(p) for p in proof],
        "checkpoint": checkpoint.note.decode("utf-8"),
        "verifier_key": verifier_key,
    }


def verify_receipt(
    receipt: dict[str, Any] | bytes | str, verifier_key: str, envelope: bytes | None = None
) -> VerifiedReceipt:
    """Check a receipt against the audit verifier key, and ``envelope`` against its entry.

    The entry must be a ``released`` entry whose ``details.envelope_sha256`` is the
    SHA-256 of ``envelope`` (when given), included in the signed checkpoint.
    """
    try:
        doc = json.loads(receipt) if isinstance(receipt, bytes | str) else receipt
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReceiptError("receipt is not JSON") from exc
    if not isinstance(doc, dict) or doc.get("format") != RECEIPT_FORMAT:
        raise ReceiptError(f"not a {RECEIPT_FORMAT} document")
    try:
        cp = open_checkpoint(str(doc.get("checkpoint", "")).encode("utf-8"), verifier_key)
    except CheckpointError as exc:
        raise ReceiptError(f"checkpoint does not verify: {exc}") from None
    seq, size, body = doc.get("seq"), doc.get("tree_size"), doc.get("body")
    if not isinstance(seq, int) or size != cp.size:
        raise ReceiptError("receipt's seq or tree size do not match its checkpoint")
    try:
        leaf = _entry_leaf(body, seq)
        proof: Sequence[bytes] = [_unb64(p, "proof hash") for p in doc.get("proof") or []]
        verify_inclusion(leaf, seq, cp.size, proof, cp.root_hash)
    except (ValueError, ProofError) as exc:
        raise ReceiptError(f"entry {seq} is not proven in the checkpoint: {exc}") from None
    assert isinstance(body, dict)  # checked by _entry_leaf
    if body.get("action") != "released":
        raise ReceiptError(f"entry {seq} is not a release entry")
    if envelope is not None:
        want = (body.get("details") or {}).get("envelope_sha256")
        if hashlib.sha256(envelope).hexdigest() != want:
            raise ReceiptError(f"the envelope is not the one entry {seq} released")
    return VerifiedReceipt(seq, cp.size, body)
