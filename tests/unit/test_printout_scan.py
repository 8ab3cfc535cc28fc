"""Reading a printout's QR code from an uploaded PDF: only the closing pages, where the
verification block is, are rasterized, and a page larger than A3 is refused before any
rendering (at 200 dpi a 14400-pt page would take gigabytes)."""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2
import pytest
import segno
from PIL import Image

from verifier.render import PrintoutError
from verifier.render.scan import MAX_PDF_PAGES, read_printout

PAYLOAD = "hedui-report:1;id=R-1;v=1;kid=" + "a" * 64 + ";sha256=" + "b" * 64


def qr_page() -> Image.Image:
    png = io.BytesIO()
    segno.make_qr(PAYLOAD, error="m").save(png, kind="png", scale=6, border=4)
    return Image.open(png).convert("L")


def blank() -> Image.Image:
    return Image.new("L", (200, 200), 255)  # 1 inch square at 200 dpi: quick to rasterize


def pdf(tmp_path: Path, pages: list[Image.Image]) -> Path:
    path = tmp_path / "printout.pdf"
    pages[0].save(path, "PDF", resolution=200, save_all=True, append_images=pages[1:])
    return path


def sized(tmp_path: Path, *sizes: tuple[float, float]) -> Path:
    """A PDF of blank pages of these sizes in points."""
    doc = pypdfium2.PdfDocument.new()
    for width, height in sizes:
        doc.new_page(width, height)
    path = tmp_path / "sized.pdf"
    doc.save(path)
    doc.close()
    return path


def test_the_qr_code_on_the_last_page_of_a_long_printout_is_found(tmp_path: Path) -> None:
    path = pdf(tmp_path, [blank()] * (MAX_PDF_PAGES + 5) + [qr_page()])
    assert read_printout(path).text() == PAYLOAD


def test_pages_before_the_closing_ones_are_not_rasterized(tmp_path: Path) -> None:
    # The QR code on page 1 of 10 is read; on page 1 of 11 it is before the closing 10.
    assert MAX_PDF_PAGES == 10
    assert read_printout(pdf(tmp_path, [qr_page(), *[blank()] * 9])).text() == PAYLOAD
    with pytest.raises(PrintoutError, match="no hedui printout QR code"):
        read_printout(pdf(tmp_path, [qr_page(), *[blank()] * 10]))


@pytest.mark.parametrize(
    "size",
    [
        (14400, 14400),  # about 1.6 GB at 200 dpi
        (2160, 200),  # a strip longer than A3
        (900, 1000),  # wider than A3's short side either way round
    ],
)
def test_a_page_larger_than_a3_is_refused(tmp_path: Path, size: tuple[float, float]) -> None:
    with pytest.raises(PrintoutError, match=r"page 2 is .* pt, larger than A3"):
        read_printout(sized(tmp_path, (595, 842), size))


def test_a3_either_way_round_is_no_reason_to_refuse(tmp_path: Path) -> None:
    with pytest.raises(PrintoutError, match="no hedui printout QR code"):
        read_printout(sized(tmp_path, (842, 1191), (1191, 842)))
