"""Imported warnings, on SQLite and PostgreSQL: a warning becomes an alert (a 授权书 covers
the person) or an outreach ledger entry (none does), no department is asked anything, and
a bad warning row is refused naming the field.
"""

from __future__ import annotations

import json
from datetime import date

import grpc
from hedui.v1 import alerts_pb2 as pb

from tests import alerts_flow_helpers
from tests.alerts_flow_helpers import OPS, Stack, households, refused, warning_line
from tests.consents import consent_draft
from tests.fakes import synthetic_id
from tests.helpers import SYSTEM
from tests.pii import PiiScanner, assert_clean
from verifier.api.alerts_client import warnings_from_lines
from verifier.domain.alerts import REAUTHORIZATION_NEEDED
from verifier.domain.caller import Caller
from verifier.domain.household import Relation
from verifier.storage.uow import SqlStore

# The shared fixture, bound here so that pytest finds it for this module's tests.
stack = alerts_flow_helpers.stack


async def test_warnings_become_alerts_or_outreach_entries_and_ask_no_source(
    stack: Stack,
) -> None:
    _, steady = households()
    applicant, spouse = steady.members[0], steady.members[1]
    assert stack.app.consents is not None
    worker = Caller(SYSTEM, "worker-1", "caseworker", ("3703",))
    await stack.app.consents.register(
        worker,
        consent_draft(
            "SQ-WARN-1",
            [(applicant.id_number, Relation.APPLICANT), (spouse.id_number, Relation.SPOUSE)],
        ),
    )
    stranger = (synthetic_id(seq=61, born=date(1961, 3, 3)), "测试庚")
    lines = [
        warning_line((spouse.id_number, spouse.name), "YB-2026-11-0001"),
        warning_line(stranger, "YB-2026-11-0002", reason=pb.WARNING_REASON_HIGH_MEDICAL_EXPENSE),
    ]
    warnings = warnings_from_lines(lines)
    calls = stack.source_calls()
    async with stack.alerts("admin", system=OPS) as admin, stack.alerts() as worker_client:
        # A bad row refuses the whole file, naming it; nothing is written.
        bad = warnings_from_lines(
            [*lines, warning_line(("37032219800101123", "测试辛"), "YB-3", region_code="3703")]
        )
        before = await stack.table_rows("alerts")
        assert await refused(admin.import_warnings(bad)) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            ["warnings[2].id_number", "warnings[2].region_code"],
        )
        assert await refused(worker_client.import_warnings(warnings)) == (
            grpc.StatusCode.PERMISSION_DENIED,
            ["ROLE_NOT_ALLOWED"],
        )
        assert await stack.table_rows("alerts") == before

        result = await admin.import_warnings(warnings)
        assert (result.alerts_raised, result.outreach_entries, result.already_imported) == (1, 1, 0)
        again = await admin.import_warnings(warnings)
        assert (again.alerts_raised, again.outreach_entries, again.already_imported) == (0, 0, 2)
        assert list(again.alert_ids) == list(result.alert_ids)

        covered = await worker_client.get(result.alert_ids[0])
        assert covered.kind == pb.ALERT_KIND_WARNING and covered.reason == "SERIOUS_ILLNESS"
        assert covered.risk_level == pb.RISK_LEVEL_HIGH and covered.household_ref
        assert json.loads(covered.details_json)["authorization_id"] == "SQ-WARN-1"
        ledger = await worker_client.get(result.alert_ids[1])
        assert ledger.kind == pb.ALERT_KIND_OUTREACH and ledger.household_ref == ""
        assert ledger.person.name_masked == "测**"
        assert ledger.person.id_number_masked.endswith(stranger[0][-4:])
        outreach = await worker_client.list_alerts(
            pb.ListAlertsRequest(kind=pb.ALERT_KIND_OUTREACH)
        )
        assert [a.alert_id for a in outreach.alerts] == [result.alert_ids[1]]
    # No department was asked about anyone.
    assert stack.source_calls() == calls
    assert isinstance(stack.app.store, SqlStore)
    scanner = PiiScanner([spouse.id_number, stranger[0]], [spouse.name, stranger[1]])
    assert_clean(await scanner.database(stack.app.store.db))
    assert_clean(await scanner.audit(stack.app.store.db))
    assert REAUTHORIZATION_NEEDED  # the third source of alerts is the roster's (its tests)
