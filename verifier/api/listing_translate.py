"""ListVerifications: the request's filters checked and translated, the page translated
back. Every filter is checked here, before the use case records the call."""

from __future__ import annotations

import re
from datetime import date, datetime

from google.type import date_pb2
from hedui.v1 import verification_pb2 as pb

from verifier.api.translate import STATE_TO_PB, verification_pb
from verifier.domain import identifiers as ids
from verifier.domain.batches import BATCH_ID
from verifier.domain.errors import FieldViolation, InvalidArgument
from verifier.domain.outcomes import VerificationState
from verifier.domain.ports import ListedVerification
from verifier.service.listing import PAGE_SIZE_MAX, ListedPage, VerificationFilter
from verifier.service.page_tokens import TOKEN_PATTERN
from verifier.service.verifications import VerificationView

__all__ = ["REGION_PREFIX", "date_pb", "filter_from_pb", "listed_pb", "page_pb", "pb_date"]

STATES = {v: k for k, v in STATE_TO_PB.items()}
# A GB/T 2260 code or one of its prefixes: province (2), city (4) or county (6) digits.
REGION_PREFIX = re.compile(r"[1-9][0-9](?:[0-9]{2}){0,2}", re.ASCII)


def pb_date(d: date_pb2.Date, field: str, out: list[FieldViolation]) -> date | None:
    """A whole, real calendar date (google.type.Date allows partial dates; we do not)."""
    try:
        return date(d.year, d.month, d.day)
    except ValueError:
        out.append(FieldViolation(field, "must be a real date (year, month and day)"))
        return None


def date_pb(d: date) -> date_pb2.Date:
    return date_pb2.Date(year=d.year, month=d.month, day=d.day)


def filter_from_pb(req: pb.ListVerificationsRequest) -> VerificationFilter:
    out: list[FieldViolation] = []
    ids.check_range(req.page_size, "page_size", 0, PAGE_SIZE_MAX, out)
    if req.page_token and not TOKEN_PATTERN.fullmatch(req.page_token):
        out.append(FieldViolation("page_token", "is not a token we issued"))
    ids.CASE_ID.optional(req.case_id, "case_id", out)
    state: VerificationState | None = None
    if req.state != pb.VERIFICATION_STATE_UNSPECIFIED:
        state = STATES.get(req.state)
        if state is None:
            out.append(FieldViolation("state", "must be a known verification state"))
    if req.region_prefix and not REGION_PREFIX.fullmatch(req.region_prefix):
        out.append(
            FieldViolation(
                "region_prefix", "must be a GB/T 2260 code or prefix of 2, 4 or 6 digits"
            )
        )
    start = pb_date(req.created_from, "created_from", out) if req.HasField("created_from") else None
    end = pb_date(req.created_to, "created_to", out) if req.HasField("created_to") else None
    if start and end and end < start:
        out.append(FieldViolation("created_to", "must not be before created_from"))
    BATCH_ID.optional(req.batch_id, "batch_id", out)
    if out:
        raise InvalidArgument(out)
    return VerificationFilter(
        case_id=req.case_id,
        state=state,
        region_prefix=req.region_prefix,
        created_from=start,
        created_to=end,
        overdue=req.overdue if req.HasField("overdue") else None,
        urgent=req.urgent if req.HasField("urgent") else None,
        batch_id=req.batch_id,
    )


def listed_pb(item: ListedVerification, now: datetime) -> pb.Verification:
    """A listed verification: as GetVerification shows it, without per-source progress."""
    return verification_pb(VerificationView(item.record, (), item.terms), now)


def page_pb(page: ListedPage) -> pb.ListVerificationsResponse:
    return pb.ListVerificationsResponse(
        verifications=[listed_pb(i, page.now) for i in page.items],
        next_page_token=page.next_page_token,
    )
