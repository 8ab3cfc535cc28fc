"""Who may do what: the decision and its audit evidence.

Every decision, allow or deny, becomes an ``authorize`` audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from verifier.domain.caller import Caller
from verifier.domain.household import VerificationRequest
from verifier.domain.vocabulary import Role

ROLES_THAT_CHECK = frozenset({Role.CASEWORKER})
ROLES_THAT_READ_REPORTS = frozenset({Role.CASEWORKER, Role.REVIEWER})


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str
    message: str


ALLOW = Decision(True, "ALLOWED", "allowed")


def in_regions(region: str, prefixes: tuple[str, ...]) -> bool:
    """GB/T 2260 prefixes: ``37`` covers Shandong, ``3703`` 淄博, ``370322`` 高青."""
    return any(region.startswith(p) for p in prefixes)


def decide_check(caller: Caller, request: VerificationRequest) -> Decision:
    if caller.role not in ROLES_THAT_CHECK:
        return Decision(False, "ROLE_NOT_ALLOWED", f"role {caller.role!r} may not start checks")
    if not in_regions(request.household.region, caller.regions):
        return Decision(
            False,
            "OUT_OF_REGION",
            f"region {request.household.region} is outside the caller's regions",
        )
    return ALLOW


def decide_read_report(caller: Caller, owner_system: str, region: str) -> Decision:
    if caller.role not in ROLES_THAT_READ_REPORTS:
        return Decision(False, "ROLE_NOT_ALLOWED", f"role {caller.role!r} may not read reports")
    if caller.system != owner_system or not in_regions(region, caller.regions):
        # Indistinguishable from "no such verification" on purpose: ids are not an oracle.
        return Decision(False, "NOT_OWNER", "verification not found")
    return ALLOW
