"""Members matched across two reports, and the entries of a change document.

Every entry has one shape (code, label, member, source, before, after and the details of
its code), and the entries of a document are listed in one order: the same inputs always
list the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from verifier.domain.changes.codes import ChangeCode
from verifier.domain.changes.reading import ReportView
from verifier.domain.errors import FieldViolation, InvalidArgument

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Person:
    """A member of either report, matched across both by subject_ref."""

    subject_ref: str
    id_type: str
    id_number_masked: str
    before: int | None
    after: int | None

    def to_json(self) -> JsonObject:
        return {
            "index_before": self.before,
            "index_after": self.after,
            "id_type": self.id_type,
            "id_number_masked": self.id_number_masked,
            "subject_ref": self.subject_ref,
        }


def match_members(prev: ReportView, cur: ReportView) -> tuple[Person, ...]:
    """Members of both reports by subject_ref; refused when a ref names two masked IDs."""
    before = {m.subject_ref: m for m in prev.members}
    after = {m.subject_ref: m for m in cur.members}
    out: list[Person] = []
    bad: list[FieldViolation] = []
    for ref in sorted(before.keys() | after.keys()):
        p, c = before.get(ref), after.get(ref)
        if p and c and (p.id_type, p.id_number_masked) != (c.id_type, c.id_number_masked):
            bad.append(
                FieldViolation(
                    f"current.member_refs[{c.index}]",
                    f"is previous.member_refs[{p.index}], but the reports show that member"
                    " with different masked IDs: the refs do not belong to these reports",
                )
            )
        base = c or p
        assert base is not None
        out.append(
            Person(
                ref,
                base.id_type,
                base.id_number_masked,
                p.index if p else None,
                c.index if c else None,
            )
        )
    if bad:
        raise InvalidArgument(bad)
    return tuple(sorted(out, key=_person_order))


def _order(after: int | None, before: int | None) -> tuple[int, int, int]:
    """Members in the current report by index, then those no longer checked."""
    if after is not None:
        return (1, after, -1 if before is None else before)
    return (2, -1, -1 if before is None else before)


def _person_order(p: Person) -> tuple[int, int, int]:
    return _order(p.after, p.before)


# --------------------------------------------------------------------------- entries


def entry(
    code: ChangeCode,
    *,
    member: Person | None = None,
    source: str | None = None,
    before: JsonObject | None,
    after: JsonObject | None,
    **detail: Any,
) -> JsonObject:
    return {
        "code": code.value,
        "label": code.label,
        "member": member.to_json() if member else None,
        "source": source,
        "before": before,
        "after": after,
        **detail,
    }


def member_key(member: Mapping[str, Any] | None) -> tuple[int, int, int]:
    """An entry's member in listing order: the household (no member) first."""
    if member is None:
        return (0, -1, -1)
    return _order(member["index_after"], member["index_before"])


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def ordered_changes(entries: Iterable[JsonObject]) -> list[JsonObject]:
    """Code order, then the household before members (by index), then source, program,
    category, 户口簿 and person, then the entry's own canonical text: the same inputs
    always list the same way."""
    return sorted(
        entries,
        key=lambda e: (
            ChangeCode(e["code"]).rank,
            member_key(e["member"]),
            e["source"] or "",
            e.get("program") or "",
            e.get("category") or "",
            _canonical(e.get("registration")),
            _canonical(e.get("person")),
            _canonical(e),
        ),
    )


__all__ = ["JsonObject", "Person", "entry", "match_members", "member_key", "ordered_changes"]
