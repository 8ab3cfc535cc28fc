"""What every answer must keep: the properties judged after each call."""

from __future__ import annotations

import json
import re
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from hedui.v1 import batch_pb2

from tests.api_fuzz.api import (
    AUDIT_APPEND_TABLES,
    AUDIT_TABLES,
    DENY_ACTION,
    FD,
    REFUSALS,
    REFUSED_AT_BOUNDARY,
    STREAM_ONLY,
    TOO_LARGE,
    Code,
    id_needles,
    must_refuse,
)
from tests.api_fuzz.requests import Case
from tests.proto_strategies import (
    resolves,
)


# --------------------------------------------------------------------------- what a call did
@dataclass
class Outcome:
    code: grpc.StatusCode
    details: str = ""
    rich: status_pb2.Status | None = None
    responses: list[Message] = field(default_factory=list)

    def violations(self) -> list[error_details_pb2.BadRequest.FieldViolation]:
        out: list[error_details_pb2.BadRequest.FieldViolation] = []
        for d in self.rich.details if self.rich else ():
            br = error_details_pb2.BadRequest()
            if d.Unpack(br):
                out.extend(br.field_violations)
        return out

    def reason(self) -> str:
        for d in self.rich.details if self.rich else ():
            info = error_details_pb2.ErrorInfo()
            if d.Unpack(info):
                return str(info.reason)
        return ""


@dataclass(frozen=True)
class Snapshot:
    rows: dict[str, int]
    audit_size: int


_INDEX = re.compile(r"\[[0-9]+\]")


@dataclass
class Finding:
    rule: str
    where: str
    detail: str = ""

    def key(self, method: MethodDescriptor) -> str:
        where = _INDEX.sub("[]", self.where)
        return f"{method.name}: {self.rule} [{where}]"


class FuzzFailure(AssertionError):
    """A property of the API failed. Subclassed per kind of failure (below), so hypothesis
    reports and shrinks each kind separately instead of stopping at the first."""


_FAILURE_KINDS: dict[str, type[FuzzFailure]] = {}


def failure_kind(key: str) -> type[FuzzFailure]:
    kind = _FAILURE_KINDS.get(key)
    if kind is None:
        kind = type(f"FuzzFailure{len(_FAILURE_KINDS) + 1}", (FuzzFailure,), {"__doc__": key})
        _FAILURE_KINDS[key] = kind
    return kind


# --------------------------------------------------------------------------- the rules
def _flag(request: Message, name: str) -> bool:
    return name in request.DESCRIPTOR.fields_by_name and bool(getattr(request, name))


def rejected_items(request: Message, outcome: Outcome) -> set[str]:
    """``entries[3]``-style paths of the items a ``partial`` request's answer lists as
    refused (a repeated message field of the response whose elements carry an ``index``):
    such an answer refuses them one by one instead of refusing the whole request."""
    if outcome.code != Code.OK or not _flag(request, "partial"):
        return set()
    items = [
        fd.name for fd in request.DESCRIPTOR.fields if fd.is_repeated and fd.type == FD.TYPE_MESSAGE
    ]
    listed: set[str] = set()
    for response in outcome.responses:
        for fd, value in response.ListFields():
            if (
                fd.is_repeated
                and fd.type == FD.TYPE_MESSAGE
                and "index" in (fd.message_type.fields_by_name if fd.message_type else {})
            ):
                listed |= {f"{name}[{item.index}]" for item in value for name in items}
    return listed


def batches(outcome: Outcome) -> list[batch_pb2.Batch]:
    """The batches a SubmitBatch answer accepted (none for any other answer)."""
    return [
        r.batch
        for r in outcome.responses
        if isinstance(r, batch_pb2.SubmitBatchResponse) and outcome.code == Code.OK
    ]


def refused_batch_items(method: MethodDescriptor, outcome: Outcome) -> tuple[set[str], list[str]]:
    """``items[3]``-style paths of the items a SubmitBatch answer refused, each by its
    ``index`` with field violations naming fields of that item; and what is wrong with
    any refusal that does not keep that form (it then refuses nothing)."""
    listed: set[str] = set()
    wrong: list[str] = []
    for batch in batches(outcome):
        for refusal in batch.refusals:
            if refusal.state != batch_pb2.BATCH_ITEM_STATE_REFUSED:
                continue
            item = f"items[{refusal.index}]"
            fields = [v.field for v in refusal.violations]
            if fields and all(
                resolves(f, method.input_type) and f.startswith(item + ".") for f in fields
            ):
                listed.add(item)
            else:
                wrong.append(f"{item}: {fields}")
    return listed, wrong


def judge(
    method: MethodDescriptor,
    case: Case,
    outcome: Outcome,
    before: Snapshot,
    after: Snapshot,
    written: list[dict[str, Any]],
    logs: list[MutableMapping[str, Any]],
    stuck: list[str],
) -> list[Finding]:
    found: list[Finding] = []
    code = outcome.code
    focus = case.change.split(":")[0] if ":" in case.change else case.kind
    allowed = {Code.OK} | REFUSALS | (STREAM_ONLY if method.server_streaming else set())
    if code not in allowed:
        found.append(Finding(f"status {code.name}", focus, outcome.details[:200]))
    for event in logs:
        if event.get("log_level") in ("error", "critical"):
            what = f"{event.get('event')} ({event.get('error', '')})"
            found.append(Finding(f"error logged: {what}", focus))
    if stuck:
        found.append(Finding("verification run still running", focus, ", ".join(stuck)))

    changed = {t: after.rows[t] - before.rows.get(t, 0) for t in after.rows}
    changed = {t: d for t, d in changed.items() if d}
    grew = after.audit_size - before.audit_size
    too_large = code == Code.RESOURCE_EXHAUSTED and TOO_LARGE in outcome.details
    if too_large:
        found.append(Finding("answer larger than a client accepts (4 MiB)", focus, outcome.details))
    elif code in REFUSED_AT_BOUNDARY and (changed or grew):
        found.append(Finding(f"rows written on {code.name}", focus, f"{changed}, audit +{grew}"))
    elif code != Code.OK and code not in REFUSED_AT_BOUNDARY:
        audit = AUDIT_APPEND_TABLES if code == Code.PERMISSION_DENIED else AUDIT_TABLES
        outside = {t: d for t, d in changed.items() if t not in audit}
        if outside:
            found.append(
                Finding(f"rows written outside the audit log on {code.name}", focus, str(outside))
            )
    if code == Code.PERMISSION_DENIED:
        expected = DENY_ACTION.get(method.containing_service.full_name) or DENY_ACTION.get(
            method.name
        )
        shapes = [(e.get("action"), e.get("outcome"), e.get("reason")) for e in written]
        if (
            len(written) != 1
            or written[0].get("outcome") != "deny"
            or (expected is not None and written[0].get("action") != expected)
            or written[0].get("reason") != outcome.reason()
        ):
            found.append(
                Finding(
                    "PERMISSION_DENIED without exactly its one deny entry",
                    focus,
                    f"expected ({expected}, deny, {outcome.reason()}), wrote {shapes}",
                )
            )

    if code == Code.INVALID_ARGUMENT:
        violations = outcome.violations()
        # Bytes that do not parse at all may have no field to blame: then any name will do
        # ("request"), but there must be one.
        unparsed = case.change.endswith("does not parse")
        named = [
            v.field
            for v in violations
            if resolves(v.field, method.input_type) or (unparsed and v.field)
        ]
        if not violations or len(named) != len(violations):
            found.append(
                Finding(
                    "INVALID_ARGUMENT without field violations naming request fields",
                    focus,
                    str([v.field for v in violations]),
                )
            )
        if case.kind == "valid":
            found.append(
                Finding(
                    "valid request refused",
                    focus,
                    str([(v.field, v.description) for v in violations]),
                )
            )

    if case.change.endswith("does not parse") and code != Code.INVALID_ARGUMENT:
        found.append(Finding(f"bytes that do not parse answered {code.name}", focus))
    refused = (code in REFUSED_AT_BOUNDARY | {Code.RESOURCE_EXHAUSTED} and not too_large) or (
        code == Code.PERMISSION_DENIED and outcome.reason() == "ROLE_NOT_ALLOWED"
    )
    refused_items, badly_refused = refused_batch_items(method, outcome)
    if badly_refused:
        found.append(
            Finding(
                "batch item refused without field violations naming its fields",
                focus,
                "; ".join(badly_refused)[:200],
            )
        )
    if case.kind == "valid" and any(b.refusals for b in batches(outcome)):
        shown = [(r.index, [v.field for v in r.violations], r.reason) for b in batches(outcome)
                 for r in b.refusals]  # fmt: skip
        found.append(Finding("valid batch item refused", focus, str(shown)[:200]))
    if not refused:
        listed = rejected_items(case.request, outcome) | refused_items
        for where, rule in must_refuse(case.request):
            if where.split(".")[0] not in listed:
                found.append(Finding(f"not refused: {rule}", where, f"answered {code.name}"))
    if _flag(case.request, "validate_only"):
        outside = {t: d for t, d in changed.items() if t not in AUDIT_APPEND_TABLES}
        if outside:
            found.append(Finding("validate_only wrote rows", focus, str(outside)))

    needles = id_needles(case.request)
    if needles:
        said = outcome.details + " ".join(
            f"{v.field} {v.description}" for v in outcome.violations()
        )
        if any(n in said for n in needles):
            found.append(Finding("ID number in the error text", focus))
        bodies = json.dumps(written, ensure_ascii=False)
        if any(n in bodies for n in needles):
            found.append(Finding("ID number in an audit entry", focus))
    return found
