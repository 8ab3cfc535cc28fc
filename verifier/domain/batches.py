"""Batches of checks (批量核对): what a batch and its items are, and how a submission is
checked before anything is stored.

A submission is checked item by item with the same validation as a single check
(:func:`~verifier.domain.household.validate_request`). One bad item does not sink the
batch: it is kept as REFUSED with its index and each bad field, named from the request
(``items[3].request.household.members[1].id_number``), and the others run. Only a
submission that is malformed as a whole (its own request id, no items, too many) or in
which no item at all can run is refused outright, naming the fields.

An item's ``item_key`` is its idempotency key and becomes the request id of the check it
starts, so a key the calling system used before (in another batch or in a single check)
leads back to the check already made instead of a second one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum

from verifier.domain import identifiers as ids
from verifier.domain.errors import FieldViolation, InvalidArgument
from verifier.domain.household import RequestDraft, VerificationRequest, validate_request

__all__ = [
    "ACTIVE_ITEM_STATES",
    "BATCH_ID",
    "FINAL_ITEM_STATES",
    "MAX_BATCH_ITEMS",
    "BatchCounts",
    "BatchRecord",
    "BatchState",
    "ClaimedItem",
    "ItemDraft",
    "ItemRefusal",
    "ItemState",
    "NewItem",
    "Submission",
    "check_submission",
]

MAX_BATCH_ITEMS = 5000

BATCH_ID = ids.Format(
    "batch id",
    ids.VERIFICATION_ID.pattern,
    36,
    "a batch id (a UUID in lowercase hex, 36 characters)",
)


class BatchState(StrEnum):
    RUNNING = "RUNNING"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


class ItemState(StrEnum):
    QUEUED = "QUEUED"
    """Accepted, waiting for a runner."""
    RUNNING = "RUNNING"
    """Claimed by a runner (its check may or may not have started yet)."""
    DONE = "DONE"
    """Its check issued a first report."""
    REFUSED = "REFUSED"
    """Malformed (at submission), or its key was used for another request."""
    DENIED = "DENIED"
    """Its check was refused when it started (authorization, volume)."""
    CANCELLED = "CANCELLED"
    """The batch was cancelled before it started."""


ACTIVE_ITEM_STATES = frozenset({ItemState.QUEUED, ItemState.RUNNING})
FINAL_ITEM_STATES = frozenset(ItemState) - ACTIVE_ITEM_STATES


@dataclass(frozen=True, slots=True)
class ItemDraft:
    """One item as received: its key, the check it asks for, and the two flags a batch
    item may not set."""

    item_key: str
    request: RequestDraft
    wait: bool = False
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class ItemRefusal:
    """Why an item is not run. ``violations`` name fields from the submission's root;
    ``reason`` is the refusal code of a check refused when it started."""

    index: int
    item_key: str
    state: ItemState
    violations: tuple[FieldViolation, ...] = ()
    reason: str = ""


@dataclass(frozen=True, slots=True)
class NewItem:
    """An item as stored at submission: accepted (with its validated request) or refused."""

    index: int
    item_key: str
    request: VerificationRequest | None
    refusal: ItemRefusal | None = None

    @property
    def state(self) -> ItemState:
        return ItemState.QUEUED if self.refusal is None else self.refusal.state


@dataclass(frozen=True, slots=True)
class Submission:
    """A checked submission: every item, accepted or refused, in order."""

    request_id: str
    items: tuple[NewItem, ...]

    @property
    def accepted(self) -> int:
        return sum(1 for i in self.items if i.refusal is None)

    @property
    def refusals(self) -> tuple[ItemRefusal, ...]:
        return tuple(i.refusal for i in self.items if i.refusal is not None)


@dataclass(frozen=True, slots=True)
class BatchRecord:
    id: str
    caller_system: str
    caller_user: str
    caller_role: str
    caller_region: str
    """The submitting caller's regions as written in audit entries (``3703,3415``)."""
    request_id: str
    request_digest: str
    state: BatchState
    item_count: int
    created_at: datetime
    completed_at: datetime | None = None
    cancel_requested: bool = False

    @property
    def caller_regions(self) -> tuple[str, ...]:
        return tuple(r for r in self.caller_region.split(",") if r)


@dataclass(frozen=True, slots=True)
class BatchCounts:
    """Items per state; they add up to the batch's item count."""

    queued: int = 0
    running: int = 0
    done: int = 0
    refused: int = 0
    denied: int = 0
    cancelled: int = 0

    @classmethod
    def of(cls, by_state: dict[ItemState, int]) -> BatchCounts:
        return cls(**{s.value.lower(): n for s, n in by_state.items()})

    @property
    def active(self) -> int:
        return self.queued + self.running

    @property
    def total(self) -> int:
        return self.active + self.done + self.refused + self.denied + self.cancelled


@dataclass(frozen=True, slots=True)
class ClaimedItem:
    """An item a runner now holds: its batch's caller (who the check is made for), and
    what is left to do — start its check, or see whether the check already started
    (``verification_id``) has issued its first report."""

    batch_id: str
    index: int
    item_key: str
    caller_system: str
    caller_user: str
    caller_role: str
    caller_regions: tuple[str, ...]
    cancel_requested: bool
    verification_id: str | None
    request: VerificationRequest | None = field(repr=False, default=None)


def _prefixed(index: int, violations: Sequence[FieldViolation]) -> tuple[FieldViolation, ...]:
    return tuple(
        FieldViolation(f"items[{index}].request.{v.field}", v.description) for v in violations
    )


def _check_item(index: int, item: ItemDraft, seen: dict[str, int], today: date) -> NewItem:
    out: list[FieldViolation] = []
    key_problem = ids.REQUEST_ID.problem(item.item_key)
    key = item.item_key if key_problem is None else ""
    if key_problem is not None:
        out.append(FieldViolation(f"items[{index}].item_key", key_problem))
    elif key in seen:
        out.append(FieldViolation(f"items[{index}].item_key", f"repeats items[{seen[key]}]"))
        key = ""
    else:
        seen[key] = index
    draft = item.request
    if draft.request_id and draft.request_id != item.item_key:
        out.append(
            FieldViolation(
                f"items[{index}].request.request_id", "must be empty or equal to item_key"
            )
        )
    if item.wait:
        out.append(FieldViolation(f"items[{index}].request.wait", "must be false in a batch"))
    if item.urgent:
        out.append(
            FieldViolation(
                f"items[{index}].request.urgent",
                "must be false in a batch (send an urgent check with CreateVerification)",
            )
        )
    request: VerificationRequest | None = None
    try:
        request = validate_request(replace(draft, request_id=item.item_key), today=today)
    except InvalidArgument as exc:
        # The request id is the item key: a bad key is reported once, on item_key.
        out.extend(
            v
            for v in _prefixed(index, exc.violations)
            if v.field != f"items[{index}].request.request_id"
        )
    if out:
        refusal = ItemRefusal(index, key, ItemState.REFUSED, tuple(out))
        return NewItem(index, key, None, refusal)
    return NewItem(index, key, request)


def check_submission(request_id: str, items: Sequence[ItemDraft], *, today: date) -> Submission:
    """Check a whole submission. Raises :class:`InvalidArgument` when it is malformed as a
    whole or when no item can run (naming every bad field); otherwise every item comes
    back accepted or refused."""
    out: list[FieldViolation] = []
    ids.REQUEST_ID.check(request_id, "request_id", out)
    if not items:
        out.append(FieldViolation("items", "must have at least 1 item"))
    elif len(items) > MAX_BATCH_ITEMS:
        out.append(FieldViolation("items", f"must have at most {MAX_BATCH_ITEMS} items"))
    if out:
        raise InvalidArgument(out)
    seen: dict[str, int] = {}
    checked = tuple(_check_item(i, item, seen, today) for i, item in enumerate(items))
    if not any(i.refusal is None for i in checked):
        raise InvalidArgument(
            [v for i in checked if i.refusal is not None for v in i.refusal.violations]
        )
    return Submission(request_id, checked)
