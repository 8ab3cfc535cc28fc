"""Sandbox households and their 授权书 as the files a case system writes: protobuf's
canonical JSON mapping of CreateVerificationRequest and Consent (docs/household-file.md).

One builder for every use: ``hedui demo``, ``hedui sandbox export`` (files for clients in
other languages), the benchmarks and the tests. The people are the sandbox's synthetic
population; nothing here is real.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from google.type import date_pb2
from hedui.v1 import common_pb2 as common
from hedui.v1 import consent_pb2 as consent_pb
from hedui.v1 import verification_pb2 as pb

from hedui_sdk import resident_id
from hedui_sdk.sandbox.population import Population
from verifier.api.client import request_from_json
from verifier.api.translate import HUKOU_TO_PB, ID_TYPES_TO_PB, PURPOSES_TO_PB, RELATIONS_TO_PB
from verifier.domain.household import HukouNature, Purpose, Relation

__all__ = [
    "consent_doc",
    "consent_for",
    "export_sandbox",
    "household_doc",
    "household_request",
    "to_json",
]


def household_request(
    population: Population, region: str, index: int
) -> pb.CreateVerificationRequest:
    """A check of sandbox household ``index`` in ``region``, for every program."""
    hh = population.sample_household(region, index)
    return pb.CreateVerificationRequest(
        request_id=f"demo-{uuid.uuid4().hex[:12]}",
        case_id=f"DEMO-{hh.household_id}",
        authorization_id=f"SQ-{region}-{hh.household_id}",
        purposes=[PURPOSES_TO_PB[p] for p in Purpose],
        household=pb.Household(
            region_code=hh.region,
            members=[
                pb.Member(
                    id_type=ID_TYPES_TO_PB[p.id_type],
                    id_number=p.id_number,
                    name=p.name,
                    relation=RELATIONS_TO_PB[
                        Relation.APPLICANT
                        if p.relation.value == "self"
                        else Relation(p.relation.value)
                    ],
                    circumstances=pb.MemberCircumstances(
                        disability_grade=p.disability_grade or 0,
                        serious_illness=p.serious_illness,
                    ),
                )
                for p in hh.members
            ],
        ),
        hukou_nature=HUKOU_TO_PB[HukouNature.URBAN if hh.urban else HukouNature.RURAL],
    )


def _relation(sandbox: str) -> Relation:
    # The sandbox's population calls the applicant "self".
    return Relation.APPLICANT if sandbox == "self" else Relation(sandbox)


def _age(id_number: str, today: date) -> int | None:
    born = resident_id.birth_date(id_number)
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def consent_for(request: pb.CreateVerificationRequest, today: date) -> consent_pb.Consent:
    """The signed 授权书 covering ``request``: adults sign for themselves, the applicant
    signs as guardian for minors; in force from the first of this month, until revoked."""
    members = request.household.members
    minors = [
        i
        for i, m in enumerate(members)
        if (age := _age(m.id_number, today)) is not None and age < 18
    ]
    applicant = next(i for i, m in enumerate(members) if m.relation == common.RELATION_APPLICANT)
    signatories = [
        consent_pb.Signatory(
            id_type=m.id_type,
            id_number=m.id_number,
            name=m.name,
            role=consent_pb.SIGNATORY_ROLE_SELF,
            signs_for=[i],
        )
        for i, m in enumerate(members)
        if i not in minors
    ]
    if minors:
        guardian = members[applicant]
        signatories.append(
            consent_pb.Signatory(
                id_type=guardian.id_type,
                id_number=guardian.id_number,
                name=guardian.name,
                role=consent_pb.SIGNATORY_ROLE_GUARDIAN,
                signs_for=minors,
            )
        )
    scan = request.household.SerializeToString(deterministic=True)
    first = today.replace(day=1)
    return consent_pb.Consent(
        number=request.authorization_id,
        region_code=request.household.region_code,
        subjects=[
            consent_pb.ConsentSubject(
                id_type=m.id_type, id_number=m.id_number, name=m.name, relation=m.relation
            )
            for m in members
        ],
        signatories=signatories,
        purposes=list(request.purposes),
        valid_from=date_pb2.Date(year=first.year, month=first.month, day=first.day),
        evidence_sha256=hashlib.sha256(b"signed scan " + scan).hexdigest(),
        evidence_location=f"县民政局档案室 {request.case_id}",
    )


def _doc(message: Message) -> dict[str, Any]:
    # The proto's own field names: canonical JSON input (json_format reads both spellings)
    # and the keys Python callers already read.
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def household_doc(population: Population, region: str, index: int) -> dict[str, Any]:
    """A household file (``hedui check``) for sandbox household ``index``, as a dict."""
    return _doc(household_request(population, region, index))


def consent_doc(household: dict[str, Any], today: date) -> dict[str, Any]:
    """The 授权书 file covering a household file, as a dict."""
    return _doc(consent_for(request_from_json(household), today))


def to_json(message: Message) -> str:
    """Canonical JSON as protobuf writes it: lowerCamelCase, enums by name, int64 as strings."""
    return json_format.MessageToJson(message, ensure_ascii=False, indent=2) + "\n"


def export_sandbox(
    population: Population, region: str, count: int, out: Path, today: date
) -> list[tuple[Path, Path]]:
    """Write ``count`` sandbox households of ``region`` and their 授权书 into ``out`` as
    ``<case>.household.json`` and ``<case>.consent.json``; returns the pairs written.
    ``ValueError`` (nothing written) when the region has fewer such households."""
    try:
        requests = [household_request(population, region, i) for i in range(count)]
    except IndexError:
        raise ValueError(f"region {region} has fewer than {count} sandbox households") from None
    out.mkdir(parents=True, exist_ok=True)
    written: list[tuple[Path, Path]] = []
    for request in requests:
        household = out / f"{request.case_id}.household.json"
        consent = out / f"{request.case_id}.consent.json"
        household.write_text(to_json(request), encoding="utf-8")
        consent.write_text(to_json(consent_for(request, today)), encoding="utf-8")
        written.append((household, consent))
    return written
