"""Life events through the sandbox's admin endpoint, seen by its departments over HTTP."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from hedui_sdk import IncomeRecord, ResultStatus, SourceKind, SourceQuery, Window, mask_id_number
from hedui_sdk.builtin import FACTORIES
from hedui_sdk.sandbox import (
    Death,
    EventsRefused,
    Household,
    IncomeChange,
    IncomeStream,
    Person,
    Population,
    SandboxHandle,
    SourceFaults,
    generate_population,
    start_sandbox,
)
from hedui_sdk.sandbox.facts import IncomeFact

ADMIN_TOKEN = "admin-" + uuid.uuid4().hex
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@functools.cache
def population() -> Population:
    return generate_population(3, households_per_county=30)


AS_OF = population().as_of
JUNE = date(AS_OF.year, 6, 1).isoformat()


def household_with_salary() -> tuple[Household, int]:
    for household in population().all_households:
        if household.mismatch is not None or len(household.members) < 2:
            continue
        for index, person in enumerate(household.members):
            salaries = [
                f
                for f in person.facts_for(SourceKind.TAX)
                if isinstance(f, IncomeFact) and f.kind == "salary"
            ]
            if len(salaries) == 12:
                return household, index
    raise LookupError("no salaried member")  # pragma: no cover


HOUSEHOLD, EARNER = household_with_salary()
OTHER = next(h for h in population().all_households if h.household_id != HOUSEHOLD.household_id)
DIES = 1 if EARNER != 1 else 0


def events() -> list[dict[str, Any]]:
    return [
        {
            "id": "raise-1",
            "type": "income_change",
            "household": HOUSEHOLD.household_id,
            "member": EARNER,
            "effective": JUNE,
            "stream": "wages",
            "amount_fen": 777_700,
        },
        {
            "id": "car-1",
            "type": "new_vehicle",
            "household": HOUSEHOLD.household_id,
            "member": EARNER,
            "effective": JUNE,
            "kind": "car",
            "value_fen": 12_000_000,
        },
        {
            "id": "death-1",
            "type": "death",
            "household": HOUSEHOLD.household_id,
            "member": DIES,
            "effective": date(AS_OF.year, 9, 30).isoformat(),
        },
    ]


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxHandle]:
    handle = await start_sandbox(
        population=population(),
        admin_token=ADMIN_TOKEN,
        faults={"bank": SourceFaults(async_delay_s=0.0)},
    )
    try:
        yield handle
    finally:
        await handle.stop()


@pytest.fixture
async def client(sandbox: SandboxHandle) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as http:
        yield http


async def ask(
    sandbox: SandboxHandle, client: httpx.AsyncClient, person: Person, source: SourceKind
) -> httpx.Response:
    body = {
        "source": source.value,
        "subject": {"id_type": "resident_id", "id_number": person.id_number, "name": person.name},
        "window": {"start": (AS_OF - timedelta(days=364)).isoformat(), "end": AS_OF.isoformat()},
        "region": person.id_number[:6],
        "purposes": ["dibao"],
    }
    return await client.post(
        f"/{source.value}/gateway/v1/query",
        json=body,
        headers={"Authorization": f"Bearer {sandbox.token(source)}"},
    )


async def answer(
    sandbox: SandboxHandle, client: httpx.AsyncClient, person: Person, source: SourceKind
) -> bytes:
    """The final answer's bytes: the bank's ticket (random) is redeemed at once, as the
    bank in these tests is asynchronous with no delay."""
    response = await ask(sandbox, client, person, source)
    if response.status_code == 202:
        response = await client.get(
            f"/{source.value}/gateway/v1/tickets/{response.json()['ticket']}",
            headers={"Authorization": f"Bearer {sandbox.token(source)}"},
        )
    assert response.status_code == 200
    return response.content


def assert_absent(secret: str, text: str) -> None:
    if secret and secret in text:
        raise AssertionError(f"found {mask_id_number(secret)} ({len(secret)} chars) in output")


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "UNAUTHENTICATED"),
        ({"Authorization": f"Basic {ADMIN_TOKEN}"}, 401, "UNAUTHENTICATED"),
        ({"Authorization": "Bearer not-the-token"}, 403, "FORBIDDEN"),
        ({"Authorization": "Bearer sandbox-tax-token"}, 403, "FORBIDDEN"),
    ],
)
async def test_the_admin_token_is_required(
    sandbox: SandboxHandle,
    client: httpx.AsyncClient,
    method: str,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    await sandbox.apply_events(events()[1:2])
    body = {"events": events()} if method == "POST" else None
    response = await client.request(method, "/admin/events", json=body, headers=headers)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert [e.event_id for e in sandbox.events()] == ["car-1"]


async def test_events_change_what_each_department_answers(
    sandbox: SandboxHandle, client: httpx.AsyncClient
) -> None:
    earner = HOUSEHOLD.members[EARNER]
    dead = HOUSEHOLD.members[DIES]
    bystander = OTHER.members[0]
    untouched_before = {s: await answer(sandbox, client, bystander, s) for s in SourceKind}
    vehicles_before = await ask(sandbox, client, earner, SourceKind.VEHICLE)

    response = await client.post("/admin/events", json={"events": events()}, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "applied": ["raise-1", "car-1", "death-1"],
        "unchanged": [],
        "total": 3,
    }

    tax = (await ask(sandbox, client, earner, SourceKind.TAX)).json()
    salaries = {
        r["period_start"][5:7]: r["amount_fen"] for r in tax["records"] if r["kind"] == "salary"
    }
    assert all(salaries[f"{m:02d}"] == 777_700 for m in range(6, 13))
    assert all(salaries[f"{m:02d}"] != 777_700 for m in range(1, 6))
    vehicles = (await ask(sandbox, client, earner, SourceKind.VEHICLE)).json()
    before = vehicles_before.json()["records"] if vehicles_before.status_code == 200 else []
    assert len(vehicles["records"]) == len(before) + 1
    assert vehicles["records"][-1]["value_fen"] == 12_000_000

    hukou = (await ask(sandbox, client, earner, SourceKind.HOUSEHOLD_REGISTRATION)).json()
    listed = [m["id_number"] for m in hukou["records"][0]["members"]]
    assert dead.id_number not in listed
    assert earner.id_number in listed
    cancelled = (await ask(sandbox, client, dead, SourceKind.HOUSEHOLD_REGISTRATION)).json()
    (record,) = cancelled["records"]
    assert record["status"] == "cancelled"
    assert record["cancel_reason"] == "death"
    assert record["cancelled_on"] == f"{AS_OF.year}-09-30"

    for source in SourceKind:
        again = await answer(sandbox, client, bystander, source)
        assert again == untouched_before[source], source


async def test_list_repeat_and_reset(sandbox: SandboxHandle, client: httpx.AsyncClient) -> None:
    earner = HOUSEHOLD.members[EARNER]
    seed_answer = (await ask(sandbox, client, earner, SourceKind.TAX)).content
    await client.post("/admin/events", json={"events": events()}, headers=ADMIN)

    listed = (await client.get("/admin/events", headers=ADMIN)).json()
    assert listed["as_of"] == AS_OF.isoformat()
    assert listed["events"] == events()  # canonical form: what was sent, all fields given

    repeated = await client.post("/admin/events", json={"events": events()[:2]}, headers=ADMIN)
    assert repeated.json() == {"applied": [], "unchanged": ["raise-1", "car-1"], "total": 3}

    reset = await client.delete("/admin/events", headers=ADMIN)
    assert reset.status_code == 200
    assert reset.json() == {"removed": 3, "as_of": AS_OF.isoformat(), "events": []}
    assert (await ask(sandbox, client, earner, SourceKind.TAX)).content == seed_answer
    assert sandbox.population is population()


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (
            {"events": [{**events()[0], "amount_fen": 1.5}]},
            422,
            "INVALID_EVENTS",
            "events[0].amount_fen",
        ),
        ({"events": [{**events()[0], "member": 29}]}, 422, "INVALID_EVENTS", "events[0].member"),
        (
            {"events": [{**events()[0], "household": "370322-9999"}]},
            422,
            "INVALID_EVENTS",
            "events[0].household",
        ),
        (
            {"events": [events()[0], {**events()[2], "type": "wedding"}]},
            422,
            "INVALID_EVENTS",
            "events[1].type",
        ),
        ({"events": []}, 422, "INVALID_EVENTS", "events"),
        ({"events": [{**events()[1], "value_fen": 1}]}, 409, "EVENT_ID_CONFLICT", "events[0].id"),
    ],
)
async def test_refusals_name_the_field_and_apply_nothing(
    sandbox: SandboxHandle,
    client: httpx.AsyncClient,
    body: dict[str, Any],
    status: int,
    code: str,
    field: str,
) -> None:
    await sandbox.apply_events(events()[1:2])
    before = sandbox.population
    response = await client.post("/admin/events", json=body, headers=ADMIN)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert field in [v["field"] for v in error["violations"]]
    assert sandbox.population is before
    assert [e.event_id for e in sandbox.events()] == ["car-1"]


async def test_a_body_that_is_not_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/admin/events", content=b"{nope", headers=ADMIN)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST"


async def test_the_asynchronous_bank_answers_with_the_new_balance(
    sandbox: SandboxHandle, client: httpx.AsyncClient
) -> None:
    earner = HOUSEHOLD.members[EARNER]
    pending = await ask(sandbox, client, earner, SourceKind.BANK)
    assert pending.status_code == 202
    ticket = pending.json()["ticket"]
    await sandbox.apply_events(
        [
            {
                "id": "savings-1",
                "type": "deposit_change",
                "household": HOUSEHOLD.household_id,
                "member": EARNER,
                "effective": JUNE,
                "balance_fen": 8_888_800,
            }
        ]
    )
    answer = await client.get(
        f"/bank/gateway/v1/tickets/{ticket}",
        headers={"Authorization": f"Bearer {sandbox.token(SourceKind.BANK)}"},
    )
    assert answer.status_code == 200
    assert answer.json()["records"][0]["value_fen"] == 8_888_800


async def test_the_python_api_and_a_reference_adapter(sandbox: SandboxHandle) -> None:
    earner = HOUSEHOLD.members[EARNER]
    raise_ = IncomeChange(
        event_id="raise-2",
        household=HOUSEHOLD.household_id,
        member=EARNER,
        effective=date(AS_OF.year, 11, 1),
        stream=IncomeStream.WAGES,
        delta_fen=100_000,
    )
    outcome = await sandbox.apply_events([raise_])
    assert outcome.applied == ("raise-2",)
    assert sandbox.events() == (raise_,)
    with pytest.raises(EventsRefused) as refused:
        await sandbox.apply_events(
            [
                Death(
                    event_id="raise-2",
                    household=HOUSEHOLD.household_id,
                    member=0,
                    effective=date(AS_OF.year, 11, 1),
                )
            ]
        )
    assert refused.value.conflict

    adapter = FACTORIES[SourceKind.TAX](sandbox.settings(SourceKind.TAX))
    try:
        result = await adapter.query(
            SourceQuery(
                subject=earner.subject,
                window=Window(date(AS_OF.year, 11, 1), AS_OF),
                region=HOUSEHOLD.region,
                purposes=("dibao",),
                request_id=str(uuid.uuid4()),
                deadline=time.monotonic() + 5,
            )
        )
    finally:
        await adapter.aclose()
    assert result.status is ResultStatus.FOUND
    seed_salaries = {
        f.record_id: f.amount_fen
        for f in earner.facts_for(SourceKind.TAX)
        if isinstance(f, IncomeFact) and f.kind == "salary" and f.period_start.month >= 11
    }
    got = {
        r.provenance.record_id: r.amount_fen
        for r in result.records
        if isinstance(r, IncomeRecord) and r.kind == "salary"
    }
    assert got == {k: v + 100_000 for k, v in seed_salaries.items()}
    assert await sandbox.reset_events() == 1
    assert sandbox.events() == ()


async def test_admin_events_log_no_personal_data(
    sandbox: SandboxHandle, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    await client.post("/admin/events", json={"events": events()}, headers=ADMIN)
    await client.post(
        "/admin/events", json={"events": [{**events()[0], "member": "x"}]}, headers=ADMIN
    )
    assert "sandbox events applied=3" in caplog.text
    for person in HOUSEHOLD.members:
        assert_absent(person.id_number, caplog.text)
        assert_absent(person.name, caplog.text)
    assert ADMIN_TOKEN not in caplog.text


async def test_batch_and_body_limits(sandbox: SandboxHandle, client: httpx.AsyncClient) -> None:
    car = events()[1]
    many = [{**car, "id": f"car-{i}"} for i in range(256)]
    accepted = await client.post("/admin/events", json={"events": many}, headers=ADMIN)
    assert accepted.status_code == 200
    assert accepted.json()["total"] == 256
    too_many = [{**car, "id": f"more-{i}"} for i in range(257)]
    refused = await client.post("/admin/events", json={"events": too_many}, headers=ADMIN)
    assert refused.status_code == 422
    assert refused.json()["error"]["violations"][0]["field"] == "events"
    huge = await client.post(
        "/admin/events", content=b'{"events": [' + b" " * 70_000 + b"]}", headers=ADMIN
    )
    assert huge.status_code == 413
    assert len(sandbox.events()) == 256
