"""The proto's vocabulary mirrors the code's: roles, audit actions and every ErrorInfo
reason the server can send are enums in common.proto, translated by name."""

from __future__ import annotations

import ast
from pathlib import Path

from hedui.v1 import common_pb2

from verifier.domain.federation_ask import AskRefusal
from verifier.domain.vocabulary import AuditAction, Role

ROOT = Path(__file__).resolve().parents[2]
# Calls whose first argument (or ``reason=``) becomes google.rpc.ErrorInfo.reason: the
# errors that carry one, and the decisions the intake and the 授权书 check turn into them.
_REASON_CALLS = {"PermissionDenied", "ResourceExhausted", "Decision", "CoverageDecision"}


def _names(enum: object, prefix: str) -> set[str]:
    values = enum.keys()  # type: ignore[attr-defined]
    return {v.removeprefix(prefix) for v in values if not v.endswith("UNSPECIFIED")}


def test_role_and_audit_action_mirror_the_vocabulary() -> None:
    assert _names(common_pb2.Role, "ROLE_") == {r.name for r in Role}
    assert _names(common_pb2.AuditAction, "AUDIT_ACTION_") == {a.name for a in AuditAction}
    # x-hedui-role and audit bodies carry the lowercase name.
    assert all(r.value == r.name.lower() for r in Role)
    assert all(a.value == a.name.lower() for a in AuditAction)


def _sent_reasons() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "verifier").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name not in _REASON_CALLS:
                continue
            args = [*node.args[1:2], *(k.value for k in node.keywords if k.arg == "reason")]
            if name in {"PermissionDenied", "ResourceExhausted"}:
                args = [*node.args[:1], *args[1:]]
            for arg in args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value:
                    found.add(arg.value)
    return found


# Decision reasons that never reach a client as ErrorInfo: an allowed decision, and a read
# of someone else's check, answered NOT_FOUND like a missing one (ids are no oracle).
_NOT_SENT = {"ALLOWED", "NOT_OWNER"}


def test_every_errorinfo_reason_the_server_sends_is_an_error_reason() -> None:
    # A refused 协查's reason is its AskRefusal's value, not a literal at the call.
    sent = (_sent_reasons() | {r.value for r in AskRefusal}) - _NOT_SENT
    assert {"ROLE_NOT_ALLOWED", "OUT_OF_REGION", "CONSENT_EXPIRED", "VOLUME_LIMIT"} <= sent
    assert sent <= _names(common_pb2.ErrorReason, "")
