"""The printable 核对报告: how long one report takes to render, against verifying it.

A sandbox household of 4 members is checked through the real gRPC client against
in-process sources (every one of them answering), and its signed report is then, in the
same process and run: verified against the JWKS (the floor: what any reader of the JSON
does), rendered as HTML, and rendered as an A4 PDF with embedded CJK fonts. Prints the
medians, the PDF's size and pages, and each rendering's ratio to the verification.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pypdfium2

from bench.common import SYSTEM, median, running_stack, scratch_database
from bench.households import household_request, register_consents
from bench.inprocess import PopulationAdapter
from hedui_sdk import SourceKind
from hedui_sdk.sandbox import generate_population
from hedui_sdk.sandbox.server import current_as_of
from verifier.api.client import Client, request_from_json
from verifier.render import PrintView, render_html, render_pdf
from verifier.signing.dsse import verify_envelope
from verifier.signing.jwks import parse_jwks

SOURCES = (
    SourceKind.HOUSEHOLD_REGISTRATION,
    SourceKind.TAX,
    SourceKind.SOCIAL_INSURANCE,
    SourceKind.REAL_ESTATE,
    SourceKind.VEHICLE,
    SourceKind.PROVIDENT_FUND,
    SourceKind.BANK,
)


async def signed_report() -> tuple[bytes, str]:
    """One 4-member household's signed report and the JWKS that verifies it."""
    pop = generate_population(2260, households_per_county=20, as_of=current_as_of())
    adapters = {k: PopulationAdapter(k, pop) for k in SOURCES}
    with scratch_database("sqlite") as url, tempfile.TemporaryDirectory() as keys:
        async with (
            running_stack(url, Path(keys), adapters=adapters) as (_app, server),
            Client(f"127.0.0.1:{server.port}", user="bench", system=SYSTEM) as c,
        ):
            await register_consents(c, pop, "370322", range(1))
            v = await c.create(request_from_json(household_request(pop, "370322", 0), wait=True))
            report = await c.report(v.verification_id)
            return report.envelope, await c.jwks()


def timed(fn: Callable[[], object], runs: int) -> float:
    """Median wall milliseconds of ``runs`` calls of ``fn`` (after one warm-up call)."""
    fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return median(times)


def main(runs: int) -> None:
    envelope, jwks = asyncio.run(signed_report())
    keys = parse_jwks(jwks)
    verified = verify_envelope(envelope, keys)
    view = PrintView.of(envelope, verified.key_id)
    doc = verified.document
    pdf = render_pdf(doc, view)
    verify_ms = timed(lambda: verify_envelope(envelope, keys), runs * 20)
    html_ms = timed(lambda: render_html(doc, view), runs)
    pdf_ms = timed(lambda: render_pdf(doc, view), runs)
    pages = len(pypdfium2.PdfDocument(pdf))
    print(f"printout of one 4-member report ({len(doc['records'])} records), medians of {runs}")
    print(f"  verify the envelope (floor)     {verify_ms:>9.2f} ms")
    print(f"  render HTML                     {html_ms:>9.2f} ms   {html_ms / verify_ms:>8.1f}×")
    print(f"  render PDF (A4, fonts embedded) {pdf_ms:>9.2f} ms   {pdf_ms / verify_ms:>8.1f}×")
    print(f"  PDF size {len(pdf) / 1024:.0f} KiB, {pages} pages")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="renderings measured (default 5)")
    main(parser.parse_args().runs)
