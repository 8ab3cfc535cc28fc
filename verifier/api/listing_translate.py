"""ListVerifications: the request's filters checked and translated, the page translated
back. Every filter is checked here, before the use case records the call."""

from __future__ import annotations

import re
from datetime import datetime

from hedui.v1 import verification_pb2 as pb

from verifier.api.fields import check_page, date_range, enum_from_pb
from verifier.api.translate import STATE_TO_PB, verification_pb
from verifier.domain import identifiers as ids
from verifier.domain.batches import BATCH_ID
from verifier.domain.errors import FieldViolation, InvalidArgument
from verifier.domain.ports import ListedVerification
from verifier.service.listing import PAGE_SIZE_MAX, ListedPage, VerificationFilter
from verifier.service.verifications import VerificationView

__all__ = ["REGION_PREFIX", "filter_from_pb", "listed_pb", "page_pb"]

STATES = {v: k for k, v in STATE_TO_PB.items()}
# A GB/T 2260 code or one of its prefixes: province (2), city (4) or county (6) digits.
REGION_PREFIX = re.compile(r"[1-9][0-9](?:[0-9]{2}){0,2}", re.ASCII)


def filter_from_pb(req: pb.ListVerificationsRequest) -> VerificationFilter:
    out: list[FieldViolation] = []
    check_page(req.page_size, req.page_token, PAGE_SIZE_MAX, out)
    ids.CASE_ID.optional(req.case_id, "case_id", out)
    state = enum_from_pb(req.state, STATES, "state", "verification state", out)
    if req.region_prefix and not REGION_PREFIX.fullmatch(req.region_prefix):
        out.append(
            FieldViolation(
                "region_prefix", "must be a GB/T 2260 code or prefix of 2, 4 or 6 digits"
            )
        )
    start, end = date_range(req, "created_from", "created_to", out)
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
