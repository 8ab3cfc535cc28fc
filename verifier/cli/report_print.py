"""``hedui report render`` (the printable 核对报告, masked) and the printout check of
``hedui report verify --printout``. Both work on files alone: the signature is checked
against the JWKS before anything is rendered or compared."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from verifier.domain.errors import Unavailable
from verifier.render import (
    PrintoutError,
    PrintoutPayload,
    PrintView,
    compare_printout,
    parse_payload,
    render_html,
    render_pdf,
)
from verifier.render.printout import PREFIX
from verifier.signing.dsse import EnvelopeError, VerifiedEnvelope, verify_envelope
from verifier.signing.jwks import JwksError, parse_jwks

console = Console(width=None if Console().is_terminal else 140)
err = Console(stderr=True, width=None if Console(stderr=True).is_terminal else 140)


def _verified(envelope: bytes, jwks_path: Path) -> VerifiedEnvelope:
    return verify_envelope(envelope, parse_jwks(jwks_path.read_bytes()))


def report_render(args: argparse.Namespace) -> int:
    """Render a verified report as PDF or HTML, names and ID numbers masked."""
    try:
        envelope = Path(args.file).read_bytes()
        v = _verified(envelope, Path(args.keys))
    except (EnvelopeError, JwksError, OSError) as exc:
        err.print(f"[red]NOT VERIFIED, not rendered[/]: {exc}")
        return 1
    view = PrintView.of(envelope, v.key_id)
    out = args.out
    if args.format == "pdf":
        if out == "-" and sys.stdout.isatty():
            err.print("a PDF is not written to a terminal: give --out FILE (or redirect)")
            return 2
        try:
            data = render_pdf(v.document, view)
        except Unavailable as exc:
            err.print(f"[red]cannot render a PDF here[/]: {exc}")
            return 1
    else:
        data = render_html(v.document, view).encode()
    if out == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        Path(out).write_bytes(data)
        err.print(
            f"wrote {out}: report {v.document.get('report_id')} version "
            f"{v.document.get('version')}, masked, envelope SHA-256 {view.envelope_sha256[:16]}…"
        )
    return 0


def _payload(value: str) -> PrintoutPayload:
    """``value`` is the QR code's text, or a PDF or image holding it."""
    if value.strip().startswith(PREFIX):
        return parse_payload(value)
    # Imported here: PDFium and zxing load native libraries no other command needs.
    from verifier.render.scan import read_printout

    return read_printout(Path(value))


def check_printout(value: str, envelope: bytes, v: VerifiedEnvelope) -> int:
    """After the signature verified: does the printout name this very envelope?"""
    try:
        payload = _payload(value)
    except PrintoutError as exc:
        err.print(f"[red]PRINTOUT NOT CHECKED[/]: {exc}")
        return 1
    differences = compare_printout(payload, envelope, v.key_ids or (v.key_id,), v.document)
    if differences:
        err.print("[red]PRINTOUT DOES NOT MATCH[/]: " + "; ".join(differences))
        return 1
    console.print(
        f"[green]PRINTOUT MATCHES[/]: report {payload.report_id} version {payload.version}, "
        f"key {payload.key_id[:16]}…, envelope SHA-256 {payload.envelope_sha256[:16]}…"
    )
    return 0


def add_render(rep: argparse.ArgumentParser) -> None:
    """The options of ``hedui report render``."""
    rep.add_argument("file", help="the signed report (DSSE envelope JSON)")
    rep.add_argument("--keys", required=True, help="JWKS with the signing key (hedui keys export)")
    rep.add_argument("--format", choices=("pdf", "html"), default="pdf")
    rep.add_argument("--out", default="-", help="output file (default: standard output)")
