"""Finding a printout's QR payload on a PDF (each page rasterized) or a scanned image."""

from __future__ import annotations

from pathlib import Path

import pypdfium2
import zxingcpp
from PIL import Image

from verifier.render.printout import PREFIX, PrintoutError, PrintoutPayload, parse_payload

# 200 dpi: a QR module of the printout (about 0.7 mm) becomes ~5 pixels, enough to decode.
_PDF_SCALE = 200 / 72


def _decoded(image: Image.Image) -> list[str]:
    return [b.text for b in zxingcpp.read_barcodes(image.convert("L")) if b.text]


def _pdf_texts(path: Path) -> list[str]:
    pdf = pypdfium2.PdfDocument(str(path))
    try:
        texts: list[str] = []
        for i in range(len(pdf)):
            bitmap = pdf[i].render(scale=_PDF_SCALE, grayscale=True)
            texts += _decoded(bitmap.to_pil())
        return texts
    finally:
        pdf.close()


def read_printout(path: Path) -> PrintoutPayload:
    """The one hedui payload among the QR codes on ``path`` (PDF, PNG, JPEG…).

    PrintoutError when the file cannot be read, holds no hedui QR code, or holds two
    different ones (a page of one report stapled to another's)."""
    try:
        if path.read_bytes()[:5] == b"%PDF-":
            texts = _pdf_texts(path)
        else:
            with Image.open(path) as image:
                texts = _decoded(image)
    except (OSError, pypdfium2.PdfiumError, Image.DecompressionBombError) as exc:
        raise PrintoutError(f"cannot read {path.name}: {exc}") from exc
    found = {parse_payload(t) for t in texts if t.startswith(PREFIX)}
    if not found:
        raise PrintoutError(f"no hedui printout QR code found in {path.name}")
    if len(found) > 1:
        raise PrintoutError(f"{path.name} holds QR codes of {len(found)} different reports")
    return found.pop()
