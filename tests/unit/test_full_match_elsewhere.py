"""Full matches on ASCII beyond the API (issue 12): tickets a department hands back,
a gateway query's region and dates in the sandbox, and system names for certificates."""

from __future__ import annotations

from typing import Any

import pytest

from hedui_sdk import SourceKind
from hedui_sdk.builtin.decoding import valid_ticket
from hedui_sdk.sandbox.gateway_request import InvalidQueryError, parse_query
from tests.fakes import synthetic_id
from verifier.cli.pki import PkiError, check_system_name


@pytest.mark.parametrize("ticket", ["T1\n", "Ｔ1", "T 1", ""])
def test_a_ticket_is_url_safe_ascii_and_nothing_after(ticket: str) -> None:
    assert valid_ticket("T-1.a_b~c")
    assert not valid_ticket(ticket)


def _query(**change: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": "tax",
        "subject": {"id_type": "resident_id", "id_number": synthetic_id(seq=5), "name": "测试"},
        "window": {"start": "2025-01-01", "end": "2025-12-31"},
        "region": "370322",
        "purposes": ["dibao"],
    }
    body.update(change)
    return body


def test_the_sandbox_reads_a_well_formed_query() -> None:
    assert parse_query(_query(), SourceKind.TAX).region == "370322"


@pytest.mark.parametrize(
    "change",
    [
        {"region": "370322\n"},
        {"region": "３70322"},
        {"window": {"start": "2025-01-01\n", "end": "2025-12-31"}},
        {"window": {"start": "２025-01-01", "end": "2025-12-31"}},
    ],
)
def test_the_sandbox_refuses_what_is_not_a_full_ascii_match(change: dict[str, Any]) -> None:
    with pytest.raises(InvalidQueryError):
        parse_query(_query(**change), SourceKind.TAX)


@pytest.mark.parametrize("name", ["case-system\n", "case-ｓystem", "case system"])
def test_a_system_name_for_a_certificate_is_a_full_ascii_match(name: str) -> None:
    check_system_name("case-system-a")
    with pytest.raises(PkiError):
        check_system_name(name)
