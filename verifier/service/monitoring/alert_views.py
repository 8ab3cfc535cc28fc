"""What the alerts use case is asked and answers: the filter of a listing, an alert as
a caller sees it, pages, an import's result; the bounds and roles they are checked by."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date

from hedui_sdk import IdType
from verifier.domain import identifiers as ids
from verifier.domain.alerts import AlertEvent, AlertKind, AlertRecord, AlertState, RiskLevel
from verifier.domain.caller import Caller
from verifier.domain.errors import FieldViolation, InvalidArgument
from verifier.domain.ports import StoredChanges
from verifier.domain.vocabulary import Role

PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 500
NOTE_MAX = 256
WORK_ROLES = frozenset({Role.CASEWORKER, Role.REVIEWER})
IMPORT_ROLES = frozenset({Role.ADMIN})


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """What a caller asks for; every given filter must match (AND). ``created_from`` and
    ``created_to`` are China's calendar days, both inclusive."""

    region_prefix: str = ""
    kind: AlertKind | None = None
    state: AlertState | None = None
    risk_level: RiskLevel | None = None
    owner: str = ""
    household_ref: str = ""
    overdue: bool | None = None
    created_from: date | None = None
    created_to: date | None = None

    def kinds(self) -> list[str]:
        """The filter's shape, for the audit entry: names only, never values."""
        named = {
            "region_prefix": bool(self.region_prefix),
            "kind": self.kind is not None,
            "state": self.state is not None,
            "risk_level": self.risk_level is not None,
            "owner": bool(self.owner),
            "household_ref": bool(self.household_ref),
            "overdue": self.overdue is not None,
            "created_from": self.created_from is not None,
            "created_to": self.created_to is not None,
        }
        return [k for k, on in named.items() if on]

    def check(self) -> None:
        """The formats (the API checks them too; the CLI and tests come here directly)."""
        out: list[FieldViolation] = []
        if self.region_prefix and not REGION_PREFIX.fullmatch(self.region_prefix):
            out.append(FieldViolation("region_prefix", REGION_PREFIX_RULE))
        ids.ACTOR_USER.optional(self.owner, "owner", out)
        ids.SHA256_HEX.optional(self.household_ref, "household_ref", out)
        if self.created_from and self.created_to and self.created_from > self.created_to:
            out.append(FieldViolation("created_to", "must not be before created_from"))
        if out:
            raise InvalidArgument(out)

    def scope(self, caller: Caller) -> bytes:
        """What a page token is bound to: this RPC, this caller, these exact filters."""
        doc = {
            "rpc": "ListAlerts",
            "system": caller.system,
            "user": caller.user,
            "region_prefix": self.region_prefix,
            "kind": self.kind.value if self.kind else "",
            "state": self.state.value if self.state else "",
            "risk_level": self.risk_level.value if self.risk_level else "",
            "owner": self.owner,
            "household_ref": self.household_ref,
            "overdue": self.overdue,
            "created_from": self.created_from.isoformat() if self.created_from else "",
            "created_to": self.created_to.isoformat() if self.created_to else "",
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


REGION_PREFIX = re.compile(r"[1-9][0-9](?:[0-9]{2}){0,2}", re.ASCII)
REGION_PREFIX_RULE = "must be a GB/T 2260 code or prefix (2, 4 or 6 digits)"


@dataclass(frozen=True, slots=True)
class Person:
    """A person as an alert shows them: masked."""

    id_type: IdType
    id_number_masked: str
    name_masked: str


@dataclass(frozen=True, slots=True)
class AlertView:
    alert: AlertRecord
    overdue: bool
    history: tuple[AlertEvent, ...] = ()
    person: Person | None = None


@dataclass(frozen=True, slots=True)
class AlertPage:
    alerts: tuple[AlertView, ...]
    next_page_token: str


@dataclass(frozen=True, slots=True)
class ImportResult:
    alerts: int
    """Warnings about people a 授权书 covers: alerts raised now."""
    outreach: int
    """Warnings about people none covers: outreach ledger entries made now."""
    known: int
    """Warnings imported before (same department and reference): nothing new."""
    alert_ids: tuple[str, ...]
    """The alert or ledger entry of each warning, in the order given."""


@dataclass(frozen=True, slots=True)
class ChangesPage:
    changes: tuple[StoredChanges, ...]
    next_page_token: str


ALERT_ID = ids.Format(
    "alert id",
    re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII),
    36,
    "an alert id (a UUID in lowercase hex, 36 characters)",
)


__all__ = [
    "ALERT_ID",
    "IMPORT_ROLES",
    "NOTE_MAX",
    "PAGE_SIZE_DEFAULT",
    "PAGE_SIZE_MAX",
    "REGION_PREFIX",
    "REGION_PREFIX_RULE",
    "WORK_ROLES",
    "AlertFilter",
    "AlertPage",
    "AlertView",
    "ChangesPage",
    "ImportResult",
    "Person",
]
