"""ListVerifications over a real grpc.aio server on a free port, on both databases: filters
(region, state, case, dates, overdue), AIP-158 pages with tamper-checked tokens, refusals by
role and region that write only their denial, and another system seeing nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from hedui.v1 import verification_pb2 as pb
from sqlalchemy import text

from hedui_sdk import SourceKind
from tests import batches_api_helpers
from tests.batches_api_helpers import Build, check
from tests.fakes import FakeAdapter
from tests.helpers import SYSTEM
from tests.integration.test_grpc_api import violations

# The stack fixture, shared with the batch tests; pytest finds it by this module name.
make_stack = batches_api_helpers.make_stack


async def test_list_verifications_filters_pages_and_refusals(make_stack: Build) -> None:
    stack = await make_stack({SourceKind.TAX: FakeAdapter(SourceKind.TAX)})
    async with stack.client() as c:
        for seq in range(1, 7):
            create = check(seq, request_id=f"r-{seq}", urgent=seq == 5)
            if seq == 6:
                create.household.region_code = "370305"
            create.wait = True
            await c.create(create)
        # One check past its due date, as if it had waited for a bank for weeks.
        await stack.app.store.write(_overdue("r-2"))
        # The server's overdue scan flags r-2 once (an audit entry and an outbox event); run
        # it now so that flag cannot land between the row counts taken below.
        assert stack.app.overdue is not None
        await stack.app.overdue.tick()

        async def ids(**kw: Any) -> list[str]:
            out: list[str] = []
            token = ""
            while True:
                page = await c.list_verifications(
                    pb.ListVerificationsRequest(page_token=token, **kw)
                )
                out += [v.request_id for v in page.verifications]
                token = page.next_page_token
                if not token:
                    return out

        assert await ids(page_size=2) == ["r-6", "r-5", "r-4", "r-3", "r-2", "r-1"]
        assert await ids(region_prefix="370305") == ["r-6"]
        assert await ids(case_id="CASE-3") == ["r-3"]
        assert await ids(urgent=True) == ["r-5"]
        assert await ids(overdue=True) == ["r-2"]
        assert await ids(state=pb.VERIFICATION_STATE_DONE, page_size=500) == [
            "r-6", "r-5", "r-4", "r-3", "r-1"
        ]  # fmt: skip
        today = datetime.now(UTC).date()
        day = {"year": today.year, "month": today.month, "day": today.day}
        tomorrow = today + timedelta(days=2)
        later = {"year": tomorrow.year, "month": tomorrow.month, "day": tomorrow.day}
        assert len(await ids(created_from=day)) == 6
        assert await ids(created_from=later) == []
        page = await c.list_verifications(pb.ListVerificationsRequest(overdue=True))
        [late] = page.verifications
        assert late.overdue and late.region_code == "370322" and late.HasField("due_date")
        assert not late.progress

        before = await stack.counts()
        token = (
            await c.list_verifications(pb.ListVerificationsRequest(page_size=1))
        ).next_page_token
        before["audit_entries"] += 1
        for req, field in [
            (pb.ListVerificationsRequest(page_size=501), "page_size"),
            (pb.ListVerificationsRequest(page_size=-1), "page_size"),
            (pb.ListVerificationsRequest(page_token="c2VxOjE"), "page_token"),
            (pb.ListVerificationsRequest(page_token=token, case_id="CASE-1"), "page_token"),
            (pb.ListVerificationsRequest(page_token=_tampered(token)), "page_token"),
            (pb.ListVerificationsRequest(case_id="CASE\n"), "case_id"),
            (pb.ListVerificationsRequest(state=9), "state"),  # type: ignore[arg-type]
            (pb.ListVerificationsRequest(region_prefix="370"), "region_prefix"),
            (pb.ListVerificationsRequest(batch_id="x"), "batch_id"),
            (
                pb.ListVerificationsRequest(created_from={"year": 2026, "month": 2, "day": 30}),
                "created_from",
            ),
            (pb.ListVerificationsRequest(created_from=later, created_to=day), "created_to"),
        ]:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await c.list_verifications(req)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
            assert set(violations(err.value)) == {field}
        assert await stack.counts() == before
        for who, req, _reason in [
            (stack.client(user="aud-1", role="auditor"), pb.ListVerificationsRequest(),
             "ROLE_NOT_ALLOWED"),
            (stack.client(), pb.ListVerificationsRequest(region_prefix="3418"), "OUT_OF_REGION"),
        ]:  # fmt: skip
            async with who as client:
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await client.list_verifications(req)
            assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        after = await stack.counts()
        assert {k: after[k] - before[k] for k in after} == {
            **dict.fromkeys(before, 0),
            "audit_entries": 2,
        }
        denials = [e for e in await stack.audit("verification_list") if e["outcome"] == "deny"]
        assert [e["reason"] for e in denials] == ["ROLE_NOT_ALLOWED", "OUT_OF_REGION"]
    async with stack.client(user="worker-b", system="case-system-b") as other:
        assert (await other.list_verifications(pb.ListVerificationsRequest())).verifications == []


def _tampered(token: str) -> str:
    """The token with one character changed: a middle one, whose six bits all count (a last
    character may carry only padding bits, and may already be the replacement)."""
    i = len(token) // 2
    return token[:i] + ("B" if token[i] == "A" else "A") + token[i + 1 :]


def _overdue(request_id: str) -> Any:
    async def work(uow: Any) -> None:
        record = await uow.verifications.find_by_request(SYSTEM, request_id)
        await uow.verifications.set_state(
            record.id, _awaiting(), None, record.latest_version, record.created_at
        )
        await uow.session.execute(
            text("UPDATE verification_terms SET due_at = :at WHERE verification_id = :vid"),
            {"at": _sql_time(datetime.now(UTC) - timedelta(days=1), uow), "vid": record.id},
        )

    return work


def _awaiting() -> Any:
    from verifier.domain.outcomes import VerificationState

    return VerificationState.AWAITING_SOURCES


def _sql_time(at: datetime, uow: Any) -> Any:
    # The column type stores naive UTC on SQLite and aware values on PostgreSQL.
    return at.replace(tzinfo=None) if uow.session.bind.dialect.name == "sqlite" else at
