"""Life events as data: they round-trip through their JSON, and malformed events or bodies
are refused naming the field, without repeating the refused values.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from hedui_sdk import resident_id
from hedui_sdk.sandbox import (
    Death,
    EventsRefused,
    IncomeChange,
    IncomeStream,
    NewProperty,
    PropertyKind,
    parse_events,
)
from hedui_sdk.sandbox.events import FieldError
from hedui_sdk.sandbox.timeline import Timeline
from tests.life_events_helpers import JUNE, common, consistent_household, population, refusal

# -- the events as data ---------------------------------------------------------------------


def wire_event(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "ev-1",
        "type": "income_change",
        "household": "370322-0001",
        "member": 0,
        "effective": "2025-06-01",
        "stream": "wages",
        "amount_fen": 350_000,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def test_parsed_events_round_trip_through_their_json() -> None:
    body = {
        "events": [
            wire_event(),
            wire_event(id="ev-2", amount_fen=None, delta_fen=-100),
            {
                "id": "ev-3",
                "type": "new_property",
                "household": "370322-0001",
                "member": 1,
                "effective": "2025-06-01",
                "kind": "residential",
                "area_m2": "86.5",
                "value_fen": 1,
            },
            {
                "id": "ev-4",
                "type": "birth",
                "household": "370322-0001",
                "effective": "2025-06-01",
                "male": True,
            },
            {
                "id": "ev-5",
                "type": "deposit_change",
                "household": "370322-0001",
                "member": 0,
                "effective": "2025-06-01",
                "balance_fen": 0,
            },
        ]
    }
    events = parse_events(body)
    assert [type(e).__name__ for e in events] == [
        "IncomeChange",
        "IncomeChange",
        "NewProperty",
        "Birth",
        "DepositChange",
    ]
    assert parse_events({"events": [e.to_json() for e in events]}) == events
    assert events[2].to_json()["area_m2"] == "86.50"
    assert events[3].to_json()["relation"] == "child"
    assert events[4].to_json()["account"] == 0


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (wire_event(type="promotion"), "events[0].type"),
        (wire_event(type=None), "events[0].type"),
        (wire_event(colour="red"), "events[0].colour"),
        (wire_event(member=None), "events[0].member"),
        (wire_event(member=True), "events[0].member"),
        (wire_event(member=30), "events[0].member"),
        (wire_event(member=-1), "events[0].member"),
        (wire_event(amount_fen=3500.5), "events[0].amount_fen"),
        (wire_event(amount_fen="350000"), "events[0].amount_fen"),
        (wire_event(amount_fen=-1), "events[0].amount_fen"),
        (wire_event(amount_fen=10**13), "events[0].amount_fen"),
        (wire_event(delta_fen=5), "events[0].amount_fen"),
        (wire_event(amount_fen=None), "events[0].amount_fen"),
        (wire_event(amount_fen=None, delta_fen=0), "events[0].delta_fen"),
        (wire_event(stream="salary"), "events[0].stream"),
        (wire_event(effective="2025-6-1"), "events[0].effective"),
        (wire_event(effective="2025-02-30"), "events[0].effective"),
        (wire_event(effective="2025-06-01\n"), "events[0].effective"),
        (wire_event(effective="１９９９-01-01"), "events[0].effective"),
        (wire_event(household="370322-1"), "events[0].household"),
        (wire_event(household="370322-0001\n"), "events[0].household"),
        (wire_event(id=""), "events[0].id"),
        (wire_event(id="ev 1"), "events[0].id"),
        (wire_event(id="x" * 65), "events[0].id"),
        (wire_event(id="ev-" + "1" * 17 + "X"), "events[0].id"),
        (wire_event(id=7), "events[0].id"),
        (
            {
                "id": "b",
                "type": "birth",
                "household": "370322-0001",
                "effective": "2025-06-01",
                "male": 1,
            },
            "events[0].male",
        ),
        (
            {
                "id": "b",
                "type": "birth",
                "household": "370322-0001",
                "effective": "2025-06-01",
                "male": True,
                "relation": "self",
            },
            "events[0].relation",
        ),
        (
            {
                "id": "p",
                "type": "new_property",
                "household": "370322-0001",
                "member": 0,
                "effective": "2025-06-01",
                "kind": "residential",
                "area_m2": 86.5,
                "value_fen": 1,
            },
            "events[0].area_m2",
        ),
        (
            {
                "id": "p",
                "type": "new_property",
                "household": "370322-0001",
                "member": 0,
                "effective": "2025-06-01",
                "kind": "residential",
                "area_m2": "0",
                "value_fen": 1,
            },
            "events[0].area_m2",
        ),
        (
            {
                "id": "p",
                "type": "new_property",
                "household": "370322-0001",
                "member": 0,
                "effective": "2025-06-01",
                "kind": "castle",
                "area_m2": "1",
                "value_fen": 1,
            },
            "events[0].kind",
        ),
        (
            {
                "id": "v",
                "type": "new_vehicle",
                "household": "370322-0001",
                "member": 0,
                "effective": "2025-06-01",
                "kind": "car",
            },
            "events[0].value_fen",
        ),
        ("not an object", "events[0].event"),
    ],
)
def test_malformed_events_are_refused_naming_the_field(event: Any, field: str) -> None:
    with pytest.raises(EventsRefused) as caught:
        parse_events({"events": [event]})
    assert field in [v.field for v in caught.value.violations]
    assert not caught.value.conflict


def test_every_bad_event_of_a_batch_is_named() -> None:
    with pytest.raises(EventsRefused) as caught:
        parse_events(
            {"events": [wire_event(), wire_event(member="x"), wire_event(stream=None, id="")]}
        )
    fields = [v.field for v in caught.value.violations]
    assert "events[1].member" in fields
    assert {"events[2].stream", "events[2].id"} <= set(fields)
    assert not any(f.startswith("events[0]") for f in fields)


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"events": []},
        {"events": {}},
        {"events": [wire_event()] * 257},
        {"events": [wire_event()], "more": 1},
    ],
)
def test_a_body_that_is_not_a_list_of_events_is_refused(body: Any) -> None:
    with pytest.raises(EventsRefused):
        parse_events(body)


def test_refusals_never_repeat_the_values_they_refuse() -> None:
    number = resident_id.make("370322", date(1980, 1, 1), 11)
    with pytest.raises(EventsRefused) as caught:
        parse_events({"events": [wire_event(id=number, household=number, **{number: 1})]})
    assert number not in str(caught.value)
    assert all(number not in v.field and number not in v.reason for v in caught.value.violations)


def test_typed_events_check_themselves() -> None:
    with pytest.raises(FieldError, match="amount_fen"):
        IncomeChange(
            event_id="x",
            household="370322-0001",
            member=0,
            effective=JUNE,
            stream=IncomeStream.WAGES,
        )
    with pytest.raises(FieldError, match="area_m2"):
        NewProperty(
            event_id="x",
            household="370322-0001",
            member=0,
            effective=JUNE,
            kind=PropertyKind.RESIDENTIAL,
            area_m2=Decimal("1.234"),
            value_fen=1,
        )


def test_unknown_household_and_member_are_refused_against_the_population() -> None:
    timeline = Timeline(population())
    nowhere = Death(event_id="x", household="370322-9999", member=0, effective=JUNE)
    household = consistent_household()
    nobody = Death(**common(household, JUNE, "y"), member=len(household.members))
    refused = refusal(timeline, nowhere, nobody)
    assert [v.field for v in refused.violations] == ["events[0].household", "events[1].member"]
