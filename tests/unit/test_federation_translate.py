"""AssistRequest to FederationAsk (verifier/api/federation_translate.py): what the API fuzz
over FederationService showed, pinned down."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hedui.v1 import common_pb2, federation_pb2

from tests.api_fuzz.federation import assist_request
from verifier.api.federation_translate import ask_from_pb
from verifier.domain.errors import InvalidArgument
from verifier.domain.federation_ask import MAX_ASK_MEMBERS, FederationAsk

TODAY = date.today()


def _fields(req: federation_pb2.AssistRequest) -> list[str]:
    with pytest.raises(InvalidArgument) as ei:
        ask_from_pb(req, requester="hedui-gaoqing", today=TODAY)
    return [v.field for v in ei.value.violations]


def _ask(req: federation_pb2.AssistRequest) -> FederationAsk:
    return ask_from_pb(req, requester="hedui-gaoqing", today=TODAY)


def test_a_valid_ask_translates() -> None:
    ask = _ask(assist_request("r-1", [0, 1]))
    assert len(ask.members) == 2 and ask.authorization.signed_for == (0, 1)


def test_too_many_members_are_named_once_and_only_the_first_are_looked_at() -> None:
    # A 4 MiB ask holds hundreds of thousands of members: each looked at took seconds
    # of the event loop. The list is refused as a whole, its first entries checked.
    req = assist_request("r-1", [0])
    del req.members[:]
    req.members.extend([federation_pb2.AssistMember()] * 200_000)
    fields = _fields(req)
    assert fields[0] == "members"
    indexed = {f.split("]")[0] + "]" for f in fields if f.startswith("members[")}
    assert indexed == {f"members[{i}]" for i in range(MAX_ASK_MEMBERS)}


@pytest.mark.parametrize(("field", "most"), [("purposes", 5), ("sources", 16)])
def test_too_long_enum_lists_are_named_once_and_only_the_first_are_looked_at(
    field: str, most: int
) -> None:
    req = assist_request("r-1", [0])
    getattr(req, field).extend([99] * 100_000)
    fields = _fields(req)
    assert field in fields
    indexed = {f for f in fields if f.startswith(f"{field}[")}
    assert indexed <= {f"{field}[{i}]" for i in range(most)}


def test_too_many_signed_for_indices_are_refused_without_looking_at_each() -> None:
    req = assist_request("r-1", [0])
    req.authorization.signed_for.extend([0] * 100_000)
    assert _fields(req) == ["authorization.signed_for"]


def _passport_member(number: str) -> Any:
    return federation_pb2.AssistMember(
        id_type=common_pb2.ID_TYPE_PASSPORT, id_number=number, name="Li Lei"
    )


def test_other_document_numbers_are_kept_uppercase_as_the_verification_api_keeps_them() -> None:
    req = assist_request("r-1", [0])
    req.members.append(_passport_member("e12345678"))
    req.authorization.signed_for.append(1)
    assert _ask(req).members[1].id_number == "E12345678"


def test_one_person_twice_in_other_case_is_refused() -> None:
    req = assist_request("r-1", [0])
    req.members.extend([_passport_member("e12345678"), _passport_member("E12345678")])
    req.authorization.signed_for.extend([1, 2])
    assert "members" in _fields(req)


def test_names_are_kept_trimmed_as_the_verification_api_keeps_them() -> None:
    req = assist_request("r-1", [0])
    req.members[0].name = " 测试0 "
    assert _ask(req).members[0].name == "测试0"
