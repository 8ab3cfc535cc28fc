"""The two input files of ``hedui policy assess``: a household and the records found.

The household file is the ``hedui check`` format (docs/household-file.md), read and
validated by the same code a server uses, so the engine sees exactly the request a check
would make. The records file holds what the sources answered, in the report's own record
format (docs/policy-assess.md), so a disputed report can be reproduced from its records.

Nothing here echoes a value from the files in an error: values may be personal data.
Errors name the place (``records[3].amount_fen``) and what is expected. The records file
is read by :mod:`verifier.cli.assess_records`.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from hedui_sdk import (
    resident_id,
)
from verifier.api.client import HouseholdFileError, request_from_json
from verifier.api.translate import draft_from_pb
from verifier.domain.errors import InvalidArgument
from verifier.domain.household import Purpose, VerificationRequest, validate_request

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PLACEHOLDER_NAME = "测试成员"


class AssessInputError(ValueError):
    """An input file cannot be used; ``problems`` name each place and what is expected."""

    def __init__(self, file: str, problems: Sequence[str]) -> None:
        self.file = file
        self.problems = tuple(problems)
        super().__init__(f"{file}: " + "; ".join(self.problems))


def parse_day(text: str, where: str = "--date") -> date:
    """A calendar date written ``YYYY-MM-DD`` in ASCII digits (full match)."""
    if not _DATE.fullmatch(text):
        raise AssessInputError(where, ["must be a date written YYYY-MM-DD"])
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise AssessInputError(where, ["is not a calendar date"]) from None


def load_json(path: Path) -> Any:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AssessInputError(str(path), [f"cannot read: {exc.strerror or exc}"]) from None
    try:
        return json.loads(data, parse_float=_refuse_float)
    except UnicodeDecodeError:
        raise AssessInputError(str(path), ["is not UTF-8 text"]) from None
    except json.JSONDecodeError as exc:
        raise AssessInputError(
            str(path), [f"is not JSON (line {exc.lineno}, column {exc.colno})"]
        ) from None
    except _FloatError:
        raise AssessInputError(
            str(path), ["holds a decimal number: money is integer fen, never a decimal"]
        ) from None


class _FloatError(ValueError):
    pass


def _refuse_float(_text: str) -> float:
    raise _FloatError


# --------------------------------------------------------------------------- household


def _synthetic_members(doc: dict[str, Any], day: date, where: str) -> None:
    """Members given by ``birthDate`` instead of an ID number get a synthetic resident ID
    (the engine reads only the birth date from it) and a placeholder name, so a test
    household never needs a real person's number. It never leaves this process.
    ``birthDate`` (or ``birth_date``) is this command's one addition to the canonical
    JSON of CreateVerificationRequest, and is taken out before the file is parsed."""
    household = doc.get("household")
    if not isinstance(household, dict):
        return
    region = household.get("regionCode", household.get("region_code"))
    members = household.get("members")
    if not isinstance(members, list):
        return
    problems = []
    for i, m in enumerate(members):
        key = next((k for k in ("birthDate", "birth_date") if isinstance(m, dict) and k in m), "")
        if not key:
            continue
        born_text = m.pop(key)
        if "idNumber" in m or "id_number" in m:
            problems.append(f"members[{i}]: give idNumber or birthDate, not both")
            continue
        if not isinstance(region, str) or not re.fullmatch(r"[1-9][0-9]{5}", region):
            problems.append("household.regionCode: must be a 6-digit code to make synthetic IDs")
            break
        if not isinstance(born_text, str) or not _DATE.fullmatch(born_text):
            problems.append(f"members[{i}].birthDate: must be a date written YYYY-MM-DD")
            continue
        try:
            born = date.fromisoformat(born_text)
        except ValueError:
            problems.append(f"members[{i}].birthDate: is not a calendar date")
            continue
        if born > day:
            problems.append(f"members[{i}].birthDate: is after --date")
            continue
        if i > 999:
            problems.append(f"members[{i}]: too many members")
            break
        if "idType" not in m and "id_type" not in m:
            m["idType"] = "ID_TYPE_RESIDENT_ID"
        m["idNumber"] = resident_id.make(region, born, i)
        if "name" not in m:
            m["name"] = _PLACEHOLDER_NAME
    if problems:
        raise AssessInputError(where, problems)


def _default(doc: dict[str, Any], field: str, value: object) -> None:
    """Set ``field`` (a proto field name) unless given in either JSON spelling."""
    camel = re.sub(r"_([a-z])", lambda m: m[1].upper(), field)
    if field not in doc and camel not in doc:
        doc[camel] = value


def read_household(path: Path, day: date) -> VerificationRequest:
    """The household file as the validated request a check of it would make on ``day``.

    ``request_id``, ``case_id`` and ``authorization_id`` may be left out (no check is
    made); ``purposes`` left out means all five programs.
    """
    doc = load_json(path)
    where = str(path)
    if not isinstance(doc, dict):
        raise AssessInputError(where, ["must be a JSON object (the hedui check format)"])
    doc = copy.deepcopy(doc)
    for key in ("request_id", "case_id", "authorization_id"):
        _default(doc, key, "policy-assess")
    _default(doc, "purposes", [f"PURPOSE_{p.name}" for p in Purpose])
    _synthetic_members(doc, day, where)
    try:
        draft = draft_from_pb(request_from_json(doc))
        return validate_request(draft, today=day)
    except HouseholdFileError as exc:
        raise AssessInputError(where, [str(exc)]) from None
    except InvalidArgument as exc:
        raise AssessInputError(
            where, [f"{v.field}: {v.description}" for v in exc.violations]
        ) from None
