"""AssistRequest (the wire 协查) to a validated :class:`FederationAsk`, every problem named
by its field; nothing is guessed. The bounds are the ones federation.proto states."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any, TypeVar

from hedui.v1 import federation_pb2 as pb

from hedui_sdk import SourceKind, Subject, Window
from verifier.api.translate import ID_TYPES, PURPOSES, SOURCES, date_text
from verifier.domain.errors import FieldViolation, InvalidArgument
from verifier.domain.federation_ask import MAX_ASK_MEMBERS, AskAuthorization, FederationAsk
from verifier.domain.identifiers import (
    AUTHORIZATION_NUMBER,
    REGION_CODE,
    REQUEST_ID,
    SHA256_HEX,
    check_date,
    check_id_number,
    check_person_name,
    person_name,
)
from verifier.domain.request_model import Purpose

E = TypeVar("E")
MAX_WINDOW_DAYS = 3 * 366


def _enums(
    values: Sequence[Any], table: Mapping[Any, E], most: int, field: str, out: list[FieldViolation]
) -> tuple[E, ...]:
    if not 1 <= len(values) <= most:
        out.append(FieldViolation(field, f"must name 1 to {most}"))
    # Only the first ``most`` are looked at: a 4 MiB list holds a million, and each
    # named would cost the event loop seconds for an answer that is cut short anyway.
    values = values[:most]
    if len(set(values)) != len(values):
        out.append(FieldViolation(field, "must not repeat a value"))
    found: list[E] = []
    for i, v in enumerate(values):
        if v not in table:
            out.append(FieldViolation(f"{field}[{i}]", "must be a known, specified value"))
        else:
            found.append(table[v])
    return tuple(found)


def _day(msg: object, name: str, field: str, out: list[FieldViolation]) -> date | None:
    text = date_text(msg, name)  # type: ignore[arg-type]
    if not text:
        return None
    return check_date(text, field, out)


def ask_from_pb(req: pb.AssistRequest, *, requester: str, today: date) -> FederationAsk:
    """The 协查 ``requester`` sent, or InvalidArgument listing every bad field."""
    out: list[FieldViolation] = []
    REQUEST_ID.check(req.request_id, "request_id", out)
    REGION_CODE.check(req.region, "region", out)
    if not 1 <= len(req.members) <= MAX_ASK_MEMBERS:
        out.append(FieldViolation("members", f"must name 1 to {MAX_ASK_MEMBERS}"))
    members: list[Subject] = []
    # The first MAX_ASK_MEMBERS only, as in _enums: the list is refused as a whole anyway.
    for i, m in enumerate(req.members[:MAX_ASK_MEMBERS]):
        id_type = ID_TYPES.get(m.id_type)
        if id_type is None:
            out.append(FieldViolation(f"members[{i}].id_type", "must be a known, specified value"))
        check_id_number(id_type, m.id_number, f"members[{i}].id_number", today, out)
        check_person_name(m.name, f"members[{i}].name", out)
        if id_type is not None:
            # Stored as the verification API stores a member (validate_request): another
            # document's number in capitals, the name trimmed; so one person written two
            # ways is one person here too, and has one subject ref in the audit log.
            members.append(Subject(id_type, m.id_number.upper(), person_name(m.name)))
    if len({(s.id_type, s.id_number) for s in members}) != len(members):
        out.append(FieldViolation("members", "must not name a person twice"))
    purposes: tuple[Purpose, ...] = _enums(req.purposes, PURPOSES, 5, "purposes", out)
    sources: tuple[SourceKind, ...] = _enums(req.sources, SOURCES, 16, "sources", out)
    a = req.authorization
    if not req.HasField("authorization"):
        out.append(FieldViolation("authorization", "is required"))
    AUTHORIZATION_NUMBER.check(a.number, "authorization.number", out)
    SHA256_HEX.check(a.evidence_sha256, "authorization.evidence_sha256", out)
    a_purposes = _enums(a.purposes, PURPOSES, 5, "authorization.purposes", out)
    a_sources = _enums(a.sources, SOURCES, 16, "authorization.sources", out)
    valid_from = _day(a, "valid_from", "authorization.valid_from", out)
    if valid_from is None and not a.HasField("valid_from"):
        out.append(FieldViolation("authorization.valid_from", "is required"))
    valid_until = _day(a, "valid_until", "authorization.valid_until", out)
    # One more index than there can be distinct valid ones is enough to refuse the list.
    signed = list(a.signed_for[: min(len(req.members), MAX_ASK_MEMBERS) + 1])
    if len(set(signed)) != len(signed) or any(not 0 <= i < len(req.members) for i in signed):
        out.append(
            FieldViolation("authorization.signed_for", "must be distinct indices of members")
        )
    start = _day(req.window, "start_date", "window.start_date", out)
    end = _day(req.window, "end_date", "window.end_date", out)
    if start is not None and end is not None:
        if not (start <= end <= today and end - start <= timedelta(days=MAX_WINDOW_DAYS)):
            out.append(
                FieldViolation("window", "must run forwards, at most 3 years, not into the future")
            )
    elif not any(v.field.startswith("window.") for v in out):
        out.append(FieldViolation("window", "both dates are required"))
    if out or valid_from is None or start is None or end is None:
        raise InvalidArgument(out)
    return FederationAsk(
        requester=requester,
        request_id=req.request_id,
        members=tuple(members),
        purposes=purposes,
        sources=sources,
        authorization=AskAuthorization(
            number=a.number, purposes=a_purposes, sources=a_sources, valid_from=valid_from,
            valid_until=valid_until, signed_for=tuple(signed),
            evidence_sha256=a.evidence_sha256,
        ),
        region=req.region,
        window=Window(start, end),
    )  # fmt: skip
