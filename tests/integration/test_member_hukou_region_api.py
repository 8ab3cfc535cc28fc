"""A member's 户籍 region over the gRPC API (issue 15), on a real grpc.aio server on a free
port, on both databases: accepted and kept in the stored request, or refused naming it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from hedui.v1 import common_pb2
from hedui.v1 import verification_pb2 as pb

from hedui_sdk import SourceKind
from tests.fakes import FakeAdapter
from tests.helpers import APPLICANT_ID, SPOUSE_ID, make_app
from tests.served import ServedStack


@pytest.fixture
async def stack(database_url: str, keys_dir: Path) -> AsyncIterator[ServedStack]:
    adapters = {SourceKind.TAX: FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 98_000})}
    stack = await ServedStack.serve(await make_app(database_url, keys_dir, adapters))
    yield stack
    await stack.close()


def _request(spouse_hukou: str, request_id: str = "r-hukou") -> pb.CreateVerificationRequest:
    def member(number: str, relation: common_pb2.Relation.ValueType, hukou: str) -> pb.Member:
        return pb.Member(
            id_type=common_pb2.ID_TYPE_RESIDENT_ID,
            id_number=number,
            name="测试",
            relation=relation,
            hukou_region_code=hukou,
        )

    return pb.CreateVerificationRequest(
        request_id=request_id,
        case_id="CASE-9",
        authorization_id="SQ-1",
        purposes=[common_pb2.PURPOSE_DIBAO],
        household=pb.Household(
            region_code="370322",
            members=[
                member(APPLICANT_ID, common_pb2.RELATION_APPLICANT, ""),
                member(SPOUSE_ID, common_pb2.RELATION_SPOUSE, spouse_hukou),
            ],
        ),
        wait=True,
        hukou_nature=common_pb2.HUKOU_NATURE_URBAN,
    )


async def test_a_request_with_a_member_hukou_region_is_accepted_and_kept(
    stack: ServedStack,
) -> None:
    async with stack.client() as c:
        v = await c.create(_request("110101"))
    assert v.state == pb.VERIFICATION_STATE_DONE
    async with stack.app.store.unit_of_work(write=False) as uow:
        stored = await uow.verifications.load_request(v.verification_id)
    assert [m.hukou_region for m in stored.household.members] == ["", "110101"]


@pytest.mark.parametrize("bad", ["11010\uff11", "110101\n", "991234", "11010"])
async def test_a_bad_member_hukou_region_is_invalid_argument_naming_it(
    stack: ServedStack, bad: str
) -> None:
    async with stack.client() as c:
        with pytest.raises(grpc.aio.AioRpcError) as ei:
            await c.create(_request(bad))
    assert ei.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    fields: set[str] = set()
    for key, value in ei.value.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            assert isinstance(value, bytes)
            for detail in status_pb2.Status.FromString(value).details:
                br = error_details_pb2.BadRequest()
                if detail.Unpack(br):
                    fields.update(v.field for v in br.field_violations)
    assert fields == {"household.members[1].hukou_region_code"}
    assert await stack.count("verifications") == 0
