"""The printout as an A4 PDF (WeasyPrint: HTML and CSS paged media, fonts embedded).

The CJK font comes from the system (fontconfig): ``.ci/system-packages.sh`` installs
fonts-noto-cjk; WeasyPrint embeds the subset of glyphs the page uses, so the PDF shows
the same characters on a machine without the font.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verifier.domain.errors import Unavailable
from verifier.render.page import render_html
from verifier.render.view import PrintView


def render_pdf(doc: Mapping[str, Any], view: PrintView) -> bytes:
    """The printout of a (verified) report document as PDF bytes (A4, "第 x 页 共 y 页")."""
    # Imported here: WeasyPrint loads pango through cffi at import, which commands that
    # only render HTML (and the console's page views) need not pay for.
    try:
        import weasyprint
    except OSError as exc:  # cffi could not load pango: the system packages are missing
        raise Unavailable(
            "PDF rendering needs the system's pango library (libpangoft2-1.0-0) and a CJK "
            "font (fonts-noto-cjk); the HTML printout works without them"
        ) from exc

    pdf: bytes = weasyprint.HTML(string=render_html(doc, view)).write_pdf()
    return pdf
