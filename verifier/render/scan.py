"""Finding a printout's QR payload on a PDF (each page rasterized) or a scanned image."""

from __future__ import annotations

from pathlib import Path

import pypdfium2
import zxingcpp
from PIL import Image

from verifier.render.printout import PREFIX, PrintoutError, PrintoutPayload, parse_payload

# 200 dpi: a QR module of the printout (about 0.7 mm) becomes ~5 pixels, enough to decode.
_PDF_SCALE = 200 / 72

MAX_PDF_PAGES = 10
"""Pages of a PDF rasterized, counted from the end: the verification block with the QR
code closes the printout, and each page costs a full raster."""

# A3 (297 × 420 mm) either way round, with a margin for scanners' rounding; in points. A
# larger page is no printout, and its raster is unbounded (14400 pt square ≈ 1.6 GB).
_MAX_SIDE_PT = 1200.0
_MAX_SHORT_SIDE_PT = 850.0


def _decoded(image: Image.Image) -> list[str]:
    return [b.text for b in zxingcpp.read_barcodes(image.convert("L")) if b.text]


def _pdf_texts(path: Path) -> list[str]:
    pdf = pypdfium2.PdfDocument(str(path))
    try:
        pages = range(max(0, len(pdf) - MAX_PDF_PAGES), len(pdf))
        for i in pages:  # every size checked before anything is rendered
            width, height = pdf.get_page_size(i)
            if max(width, height) > _MAX_SIDE_PT or min(width, height) > _MAX_SHORT_SIDE_PT:
                raise PrintoutError(
                    f"page {i + 1} is {width:.0f} × {height:.0f} pt, larger than A3: not a printout"
                )
        texts: list[str] = []
        for i in pages:
            bitmap = pdf[i].render(scale=_PDF_SCALE, grayscale=True)
            texts += _decoded(bitmap.to_pil())
        return texts
    finally:
        pdf.close()


def read_printout(path: Path) -> PrintoutPayload:
    """The one hedui payload among the QR codes on ``path`` (PDF, PNG, JPEG…).

    Of a PDF only the last :data:`MAX_PDF_PAGES` pages are read. PrintoutError when the
    file cannot be read, has a page larger than A3, holds no hedui QR code, or holds two
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
