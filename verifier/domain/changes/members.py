"""Changes seen per member and source: the case system's members, sources newly failing,
registered assets, and the 户籍 (a registration cancelled, a 户口簿's people).

Each is claimed only where the source answered for that member in both reports; what
could not be compared is listed as withheld.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set

from verifier.domain.changes.codes import ChangeCode, WithheldReason
from verifier.domain.changes.entries import JsonObject, Person, entry, member_key
from verifier.domain.changes.reading import (
    ACTIVE,
    ANSWERED,
    CANCELLED,
    FAILING,
    HOUSEHOLD_REGISTRATION,
    PersonKey,
    ReportView,
)

# Asset categories whose registrations are counted, and the codes for more and fewer.
ASSET_CODES: Mapping[str, tuple[ChangeCode, ChangeCode]] = {
    "vehicle": (ChangeCode.VEHICLE_ADDED, ChangeCode.VEHICLE_REMOVED),
    "vessel": (ChangeCode.VEHICLE_ADDED, ChangeCode.VEHICLE_REMOVED),
    "real_estate": (ChangeCode.REAL_ESTATE_ADDED, ChangeCode.REAL_ESTATE_REMOVED),
    "business": (ChangeCode.BUSINESS_ADDED, ChangeCode.BUSINESS_REMOVED),
}


def membership(persons: Iterable[Person], prev: ReportView, cur: ReportView) -> list[JsonObject]:
    before = {"household_size": len(prev.members)}
    after = {"household_size": len(cur.members)}
    out = []
    for p in persons:
        if p.before is None:
            out.append(
                entry(ChangeCode.HOUSEHOLD_MEMBER_ADDED, member=p, before=before, after=after)
            )
        elif p.after is None:
            out.append(
                entry(ChangeCode.HOUSEHOLD_MEMBER_REMOVED, member=p, before=before, after=after)
            )
    return out


def _both(persons: Iterable[Person]) -> list[tuple[Person, int, int]]:
    return [(p, p.before, p.after) for p in persons if p.before is not None and p.after is not None]


def sources(
    persons: Iterable[Person], kinds: Iterable[str], prev: ReportView, cur: ReportView
) -> list[JsonObject]:
    out = []
    kinds = tuple(kinds)
    for p, i, j in _both(persons):
        for kind in kinds:
            was, now = prev.status(i, kind), cur.status(j, kind)
            status = {"before": {"status": was}, "after": {"status": now}}
            if was in ANSWERED and now in FAILING:
                out.append(entry(ChangeCode.SOURCE_NEWLY_FAILING, member=p, source=kind, **status))
            if kind == HOUSEHOLD_REGISTRATION and was == "FOUND" and now == "NOT_FOUND":
                out.append(entry(ChangeCode.HUKOU_CANCELLED, member=p, source=kind, **status))
    return out


def withheld(
    persons: Iterable[Person], kinds: Iterable[str], prev: ReportView, cur: ReportView
) -> list[JsonObject]:
    out = []
    kinds = tuple(kinds)
    for p in persons:
        for kind in kinds:
            was = None if p.before is None else prev.status(p.before, kind)
            now = None if p.after is None else cur.status(p.after, kind)
            if (was is not None and was not in ANSWERED) or (
                now is not None and now not in ANSWERED
            ):
                out.append(
                    {
                        "reason": WithheldReason.SOURCE_UNANSWERED.value,
                        "member": p.to_json(),
                        "source": kind,
                        "before": was,
                        "after": now,
                    }
                )
    if prev.assessments is None or cur.assessments is None:
        out.append(
            {
                "reason": WithheldReason.ASSESSMENT_UNAVAILABLE.value,
                "member": None,
                "source": None,
                "before": "ASSESSED" if prev.assessments is not None else "UNAVAILABLE",
                "after": "ASSESSED" if cur.assessments is not None else "UNAVAILABLE",
            }
        )
    return sorted(out, key=lambda w: (w["reason"], member_key(w["member"]), w["source"] or ""))


# --------------------------------------------------------------------------- assets, 户籍


def _asset_totals(view: ReportView, member: int, source: str) -> dict[str, tuple[int, int]]:
    totals: dict[str, tuple[int, int]] = {}
    for a in view.assets:
        if a.member_index == member and a.source == source and a.category in ASSET_CODES:
            count, value = totals.get(a.category, (0, 0))
            totals[a.category] = (count + a.count, value + a.value_fen)
    return totals


def assets(
    persons: Iterable[Person], kinds: Iterable[str], prev: ReportView, cur: ReportView
) -> list[JsonObject]:
    """Registrations counted per member, source and category, where the source answered
    in both reports (a count that did not change is no claim, even if values did)."""
    out = []
    kinds = tuple(kinds)
    for p, i, j in _both(persons):
        for kind in kinds:
            if prev.status(i, kind) not in ANSWERED or cur.status(j, kind) not in ANSWERED:
                continue
            was, now = _asset_totals(prev, i, kind), _asset_totals(cur, j, kind)
            for category in sorted(was.keys() | now.keys()):
                (c0, v0), (c1, v1) = was.get(category, (0, 0)), now.get(category, (0, 0))
                if c0 == c1:
                    continue
                added, removed = ASSET_CODES[category]
                out.append(
                    entry(
                        added if c1 > c0 else removed,
                        member=p,
                        source=kind,
                        before={"count": c0, "value_fen": v0},
                        after={"count": c1, "value_fen": v1},
                        category=category,
                    )
                )
    return out


def cancelled(persons: Iterable[Person], prev: ReportView, cur: ReportView) -> list[JsonObject]:
    """Members whose 户籍 answer was a registration in force and is now their cancelled
    registration (注销), with the reason 户籍 gives (``death``…)."""
    out = []
    for p, i, j in _both(persons):
        reason = cur.cancellations.get(j)
        if reason is None or i in prev.cancellations:
            continue
        if prev.status(i, HOUSEHOLD_REGISTRATION) != "FOUND":
            continue  # no registration before: nothing was cancelled between the two
        out.append(
            entry(
                ChangeCode.HUKOU_CANCELLED,
                member=p,
                source=HOUSEHOLD_REGISTRATION,
                before={"status": "FOUND", "registration": ACTIVE},
                after={"status": "FOUND", "registration": CANCELLED},
                cancel_reason=reason,
            )
        )
    return out


def _person_link(persons: Iterable[Person], key: PersonKey) -> Person | None:
    """The member a 户口簿 listing shows, when exactly one member has that masked ID."""
    found = [p for p in persons if (p.id_type, p.id_number_masked) == key]
    return found[0] if len(found) == 1 else None


def registrations(
    persons: tuple[Person, ...], prev: ReportView, cur: ReportView, gone: Set[str]
) -> list[JsonObject]:
    """People added to or removed from a 户口簿 that 户籍 listed in both reports (the same
    department record: a member's own cancelled registration is not the household's).

    A member whose registration is now cancelled left the 户口簿 because of it: that is
    their HUKOU_CANCELLED, not a removal as well (a move out is one): ``gone`` holds the
    subject_refs of those members."""
    out = []
    for key in sorted(prev.registrations.keys() & cur.registrations.keys()):
        was, now = prev.registrations[key], cur.registrations[key]
        registration = {"region_code": key[0], "household_number_masked": key[1]}
        for person in sorted(was.persons.keys() | now.persons.keys()):
            n0, n1 = was.persons[person], now.persons[person]
            if n0 == n1:
                continue
            relation = (now if n1 > n0 else was).relations.get(person, "")
            member = _person_link(persons, person)
            if n1 < n0 and member is not None and member.subject_ref in gone:
                continue
            out.append(
                entry(
                    ChangeCode.HUKOU_MEMBER_ADDED if n1 > n0 else ChangeCode.HUKOU_MEMBER_REMOVED,
                    member=member,
                    source=HOUSEHOLD_REGISTRATION,
                    before={"listed": n0},
                    after={"listed": n1},
                    registration=registration,
                    person={
                        "id_type": person[0],
                        "id_number_masked": person[1],
                        "relation": relation,
                    },
                )
            )
    return out


__all__ = [
    "ASSET_CODES",
    "assets",
    "cancelled",
    "membership",
    "registrations",
    "sources",
    "withheld",
]
