"""The printout as one HTML page (the template in ``templates/``, the QR code inline)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import jinja2
import segno
from markupsafe import Markup

from verifier.render import sections
from verifier.render.printout import PrintoutPayload
from verifier.render.view import PrintView


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("verifier.render", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def payload_of(doc: Mapping[str, Any], view: PrintView) -> PrintoutPayload:
    return PrintoutPayload(
        str(doc["report_id"]), int(doc["version"]), view.key_id, view.envelope_sha256
    )


def qr_svg(text: str) -> Markup:
    """The payload as an inline SVG QR code (error correction M: survives a crease)."""
    out = io.BytesIO()
    segno.make_qr(text, error="m").save(
        out, kind="svg", scale=1, border=4, xmldecl=False, svgns=True, omitsize=True
    )
    # Safe to inline: segno writes the SVG itself; the payload is ASCII it encodes as modules.
    return Markup(out.getvalue().decode("ascii"))  # noqa: S704


def context(doc: Mapping[str, Any], view: PrintView) -> dict[str, Any]:
    """Everything the template shows, worded."""
    members = sections.members(doc, view)
    payload = payload_of(doc, view)
    fragments = sections.fragments(doc)
    return {
        "header": sections.header(doc, view),
        "members": members,
        "member_label": sections.member_label(members),
        "grid": sections.status_grid(doc),
        "legend": sections.legend(),
        "unsettled": sections.unsettled(doc),
        "records": sections.records(doc),
        "fragments": fragments,
        "fragment_peers": sorted({f["peer"] for f in fragments}),
        "money": sections.money_summary(doc),
        "discrepancies": sections.discrepancies(doc),
        "declared_size": (doc.get("aggregates") or {}).get("household_size_declared"),
        "assessments": sections.assessments(doc),
        "assessment_unavailable": str(doc.get("assessment_unavailable") or ""),
        "examples": sections.example_parameters(doc),
        "policy_line": sections.policy_line(doc),
        "report_id": str(doc["report_id"]),
        "version": int(doc["version"]),
        "schema": str(doc.get("schema", "")),
        "full_identities": view.full_identities,
        "key_id": view.key_id,
        "envelope_sha256": view.envelope_sha256,
        "payload": payload.text(),
        "qr": qr_svg(payload.text()),
    }


def render_html(
    doc: Mapping[str, Any], view: PrintView, *, stylesheet_href: str | None = None
) -> str:
    """The printout of a (verified) report document as a standalone HTML page, A4 when
    printed. ``view.identities`` empty: names and ID numbers masked, as in the document.

    The page's CSS is inline unless ``stylesheet_href`` names where :func:`stylesheet` is
    served (a page under a Content-Security-Policy without inline styles)."""
    page = _environment().get_template("report.html")
    return page.render(context(doc, view) | {"stylesheet_href": stylesheet_href})


def stylesheet() -> str:
    """The printout's CSS (A4 page, marks, verification block), for serving as a file."""
    return resources.files("verifier.render").joinpath("templates/report.css").read_text("utf-8")
