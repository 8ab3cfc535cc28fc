"""What exists before the first generated call: people, 授权书 and checks."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import date

from hedui_sdk import IdType, resident_id
from tests.api_fuzz.api import CALL_TIMEOUT, SYSTEM, SYSTEM_B
from tests.consents import consent_draft
from tests.helpers import household_draft
from verifier.bootstrap import App
from verifier.domain.household import MemberDraft, Relation
from verifier.domain.ports import Caller


# --------------------------------------------------------------------------- the world
@dataclass
class World:
    """What exists before the first generated call: people, 授权书, checks."""

    create_ids: tuple[str, str, str]
    create_consent: str
    consents: tuple[str, ...]
    verification_ids: tuple[str, ...]
    case_ids: tuple[str, ...]


CREATE_IDS = (
    resident_id.make("370322", date(1955, 3, 9), 950),
    resident_id.make("370322", date(1957, 8, 21), 951),
    resident_id.make("370322", date(1985, 1, 30), 952),
)
B_IDS = (
    resident_id.make("341824", date(1960, 1, 1), 950),
    resident_id.make("341824", date(1962, 2, 2), 951),
)
CALLER_A = Caller(SYSTEM, "worker-1", "caseworker", ("3703",))
CALLER_B = Caller(SYSTEM_B, "worker-b", "caseworker", ("3418",))


def _members(ids: tuple[str, ...]) -> tuple[MemberDraft, ...]:
    relations = (Relation.APPLICANT, Relation.SPOUSE, Relation.CHILD)
    return tuple(
        MemberDraft(IdType.RESIDENT_ID, n, f"测试{i}", relations[i]) for i, n in enumerate(ids)
    )


async def build_world(app: App) -> World:
    assert app.consents is not None and app.auditing is not None
    relations = (Relation.APPLICANT, Relation.SPOUSE, Relation.CHILD)
    await app.consents.register(
        CALLER_A, consent_draft("FZ-CREATE", list(zip(CREATE_IDS, relations, strict=True)))
    )
    await app.consents.register(
        CALLER_B,
        consent_draft("FZ-B", list(zip(B_IDS, relations, strict=False)), region="341824"),
    )
    vids: list[str] = []
    for n, (caller, ids, region, number) in enumerate(
        [
            (CALLER_A, CREATE_IDS, "370322", "FZ-CREATE"),
            (CALLER_A, CREATE_IDS[:2], "370322", "FZ-CREATE"),
            (CALLER_B, B_IDS, "341824", "FZ-B"),
        ]
    ):
        view = await app.service.create(
            caller,
            household_draft(
                f"setup-{n}",
                region,
                case_id=f"CASE-FZ-{n}",
                authorization_id=number,
                members=_members(ids),
            ),
            wait=True,
            wait_until=time.monotonic() + 10,
        )
        vids.append(view.record.id)
    await settle()
    # Enough entries that small seqs and tree sizes are inside the log from the start.
    while await app.auditing.size() < 48:
        await app.consents.get(CALLER_A, "FZ-CREATE")  # one consent_read entry each
    return World(
        create_ids=CREATE_IDS,
        create_consent="FZ-CREATE",
        consents=("FZ-CREATE", "FZ-B"),
        verification_ids=tuple(vids),
        case_ids=("CASE-FZ-0", "CASE-FZ-1", "CASE-FZ-2"),
    )


async def settle() -> list[str]:
    """Wait for every verification run to end; the names of those that did not."""
    runs = [
        t for t in asyncio.all_tasks() if t.get_name().startswith("verification-") and not t.done()
    ]
    if not runs:
        return []
    _, pending = await asyncio.wait(runs, timeout=CALL_TIMEOUT * 2)
    return [t.get_name() for t in pending]
