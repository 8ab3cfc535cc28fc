"""The QR payload of a printout, and the check that a printout and a report JSON are the
same signed report.

Payload (ASCII, one line, fields in this order)::

    hedui-report:1;id=<report_id>;v=<version>;kid=<64 hex>;sha256=<64 hex>

``kid`` is the signing key id, ``sha256`` the SHA-256 of the DSSE envelope bytes. The
payload names no person: a printout's QR code may be photographed by anyone.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

PREFIX = "hedui-report:1;"
_PAYLOAD = re.compile(
    r"hedui-report:1;id=(?P<id>[0-9A-Za-z-]{1,64});v=(?P<v>[1-9][0-9]{0,5});"
    r"kid=(?P<kid>[0-9a-f]{64});sha256=(?P<sha>[0-9a-f]{64})"
)


class PrintoutError(ValueError):
    """A payload that is not a hedui printout's, or a file with no such QR code."""


@dataclass(frozen=True, slots=True)
class PrintoutPayload:
    report_id: str
    version: int
    key_id: str
    envelope_sha256: str

    def text(self) -> str:
        return (
            f"{PREFIX}id={self.report_id};v={self.version};"
            f"kid={self.key_id};sha256={self.envelope_sha256}"
        )


def parse_payload(text: str) -> PrintoutPayload:
    """The payload in ``text`` (surrounding whitespace allowed); PrintoutError if it is
    not exactly one."""
    m = _PAYLOAD.fullmatch(text.strip())
    if m is None:
        raise PrintoutError("not a hedui printout payload (hedui-report:1;id=…;v=…;kid=…;sha256=…)")
    return PrintoutPayload(m["id"], int(m["v"]), m["kid"], m["sha"])


def compare_printout(
    payload: PrintoutPayload,
    envelope: bytes,
    key_ids: Collection[str],
    document: Mapping[str, Any],
) -> list[str]:
    """What differs between the printout and a report envelope whose signatures by
    ``key_ids`` were verified (an envelope may carry an Ed25519 and an SM2 signature; the
    printout names one of them); empty when they are the same signed report."""
    differences = []
    if payload.envelope_sha256 != hashlib.sha256(envelope).hexdigest():
        differences.append("envelope SHA-256 differs: the JSON is not the envelope printed")
    if payload.key_id not in key_ids:
        differences.append("signing key id differs: no verified signature is by that key")
    if payload.report_id != document.get("report_id"):
        differences.append("report id differs")
    if payload.version != document.get("version"):
        differences.append("report version differs")
    return differences
