"""BatchService: proto ⇄ domain. An item's request is translated exactly as
CreateVerification's (:func:`verifier.api.translate.draft_from_pb`)."""

from __future__ import annotations

from hedui.v1 import batch_pb2 as pb

from verifier.api.translate import draft_from_pb, timestamp
from verifier.domain.batches import MAX_BATCH_ITEMS, BatchState, ItemDraft, ItemRefusal, ItemState
from verifier.domain.errors import FieldViolation, InvalidArgument
from verifier.service.batches import BatchView

__all__ = ["batch_pb", "items_from_pb"]

STATE_TO_PB = {
    BatchState.RUNNING: pb.BATCH_STATE_RUNNING,
    BatchState.DONE: pb.BATCH_STATE_DONE,
    BatchState.CANCELLED: pb.BATCH_STATE_CANCELLED,
}
ITEM_STATE_TO_PB = {
    ItemState.QUEUED: pb.BATCH_ITEM_STATE_QUEUED,
    ItemState.RUNNING: pb.BATCH_ITEM_STATE_RUNNING,
    ItemState.DONE: pb.BATCH_ITEM_STATE_DONE,
    ItemState.REFUSED: pb.BATCH_ITEM_STATE_REFUSED,
    ItemState.DENIED: pb.BATCH_ITEM_STATE_DENIED,
    ItemState.CANCELLED: pb.BATCH_ITEM_STATE_CANCELLED,
}


def items_from_pb(req: pb.SubmitBatchRequest) -> list[ItemDraft]:
    """The items as drafts. More items than a batch may hold are refused before any is
    translated: the work done here stays within the documented bound."""
    if len(req.items) > MAX_BATCH_ITEMS:
        raise InvalidArgument(
            [FieldViolation("items", f"must have at most {MAX_BATCH_ITEMS} items")]
        )
    return [
        ItemDraft(
            item_key=item.item_key,
            request=draft_from_pb(item.request),
            wait=item.request.wait,
            urgent=item.request.urgent,
        )
        for item in req.items
    ]


def _refusal_pb(r: ItemRefusal) -> pb.BatchItemRefusal:
    return pb.BatchItemRefusal(
        index=r.index,
        item_key=r.item_key,
        state=ITEM_STATE_TO_PB[r.state],
        violations=[
            pb.BatchFieldViolation(field=v.field, description=v.description) for v in r.violations
        ],
        reason=r.reason,
    )


def batch_pb(view: BatchView) -> pb.Batch:
    r, c = view.record, view.counts
    out = pb.Batch(
        batch_id=r.id,
        request_id=r.request_id,
        state=STATE_TO_PB[r.state],
        create_time=timestamp(r.created_at),
        item_count=r.item_count,
        progress=pb.BatchProgress(
            queued=c.queued,
            running=c.running,
            done=c.done,
            refused=c.refused,
            denied=c.denied,
            cancelled=c.cancelled,
        ),
        refusals=[_refusal_pb(x) for x in view.refusals],
    )
    if r.completed_at is not None:
        out.complete_time.CopyFrom(timestamp(r.completed_at))
    return out
