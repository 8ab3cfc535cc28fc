"""The printable 核对报告: a signed report document as an A4 page in Chinese (HTML, PDF).

The console and ``hedui report render`` call the same three functions::

    view = PrintView.of(envelope_bytes, key_id)           # masked (the default)
    html = render_html(document, view)                    # a whole HTML page (str)
    pdf = render_pdf(document, view)                      # A4 PDF (bytes), fonts embedded

A view with ``identities`` shows full names and ID numbers; only the service's audited
path (:mod:`verifier.service.printing`) hands one out. The verification block's QR code
carries :class:`PrintoutPayload`; :func:`compare_printout` checks one against a signed
report, and :func:`verifier.render.scan.read_printout` finds it on a PDF or a scanned image
(its own module: it loads PDFium and zxing, which rendering does not need).
"""

from __future__ import annotations

from verifier.render.page import render_html, stylesheet
from verifier.render.pdf import render_pdf
from verifier.render.printout import (
    PrintoutError,
    PrintoutPayload,
    compare_printout,
    parse_payload,
)
from verifier.render.view import Identity, PrintView

__all__ = [
    "Identity",
    "PrintView",
    "PrintoutError",
    "PrintoutPayload",
    "compare_printout",
    "parse_payload",
    "render_html",
    "render_pdf",
    "stylesheet",
]
