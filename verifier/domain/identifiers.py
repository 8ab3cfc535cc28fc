"""Formats of the fields callers send: one validator per kind of field, shared by every
service (verification requests, 授权书, audit queries, metadata).

Every format is a full match on ASCII classes (``re.fullmatch`` with ``re.ASCII``):
``^…$`` lets a trailing newline through, and ``\\d``, ``isdigit()`` and ``int()`` accept
every Unicode decimal digit — a fullwidth ``１`` would reach a department as a number it
does not hold, and come back as "no record".

Fields that are not for personal data (case ids, request ids, 授权书 numbers, evidence
references, archive locations, audit-query filters) also refuse anything shaped like a
resident ID number anywhere in them: what they carry lands in the append-only audit log
and in plain columns, where a raw ID number must never be.

The bounds here are the wire contract; ``proto/hedui/v1/*.proto`` documents each one
beside its field.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from hedui_sdk import IdType, resident_id
from verifier.domain.errors import FieldViolation, InvalidArgument

__all__ = [
    "ACTION",
    "ACTOR_SYSTEM",
    "ACTOR_USER",
    "AUTHORIZATION_NUMBER",
    "CASE_ID",
    "DATE",
    "EVIDENCE_REF",
    "OTHER_DOCUMENT_NUMBER",
    "PAGE_SIZE_DEFAULT",
    "PAGE_SIZE_MAX",
    "PAGE_TOKEN",
    "PERSON_NAME_MAX",
    "REGION_CODE",
    "REQUEST_ID",
    "SAFE_INTEGER_MAX",
    "SHA256_HEX",
    "TIMESTAMP_MAX_SECONDS",
    "TIMESTAMP_MIN_SECONDS",
    "VERIFICATION_ID",
    "Format",
    "check_date",
    "check_entry_filter",
    "check_free_text",
    "check_id_number",
    "check_page_token",
    "check_person_name",
    "check_range",
    "check_timestamp",
    "free_text_problem",
    "person_name",
    "person_name_problem",
    "require",
]

SAFE_INTEGER_MAX = 2**53 - 1
"""Largest integer an audit body (RFC 8785 JSON, IEEE 754 numbers) holds exactly: seqs,
tree sizes and every other integer an audit entry records stay within it."""

PAGE_SIZE_DEFAULT = 100
PAGE_SIZE_MAX = 1000
"""Audit-query page size: 0 means the default; above the cap is refused, not trimmed."""

# google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
TIMESTAMP_MIN_SECONDS = -62_135_596_800
TIMESTAMP_MAX_SECONDS = 253_402_300_799

PERSON_NAME_MAX = 64


@dataclass(frozen=True, slots=True)
class Format:
    """A kind of identifier: a full-match ASCII pattern whose bounds include the length.

    ``rule`` completes "must be …" in the violation. ``personal`` is False for fields
    that must never hold personal data, which then also refuse anything shaped like a
    resident ID number; ``digest`` narrows that to a valid number for values the caller
    does not choose (a hash), which are ID-shaped by chance now and then.
    """

    kind: str
    pattern: re.Pattern[str]
    max_length: int
    rule: str
    personal: bool = False
    digest: bool = False

    def problem(self, value: str) -> str | None:
        """What is wrong with ``value`` in this format, or ``None``. Never echoes it."""
        if len(value) > self.max_length or not self.pattern.fullmatch(value):
            return f"must be {self.rule}"
        if self.personal:
            return None
        if resident_id.valid_in(value) if self.digest else resident_id.appears_in(value):
            return _NOT_PERSONAL
        return None

    def check(self, value: str, field: str, out: list[FieldViolation]) -> None:
        problem = self.problem(value)
        if problem is not None:
            out.append(FieldViolation(field, problem))

    def optional(self, value: str, field: str, out: list[FieldViolation]) -> None:
        """Like :meth:`check`, for a field where empty means "not given"."""
        if value:
            self.check(value, field, out)


_NOT_PERSONAL = "must not hold a resident ID number (this field is not for personal data)"


def _ascii(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.ASCII)


_SIMPLE_ID_RULE = "1-64 characters of A-Z a-z 0-9 . _ -"

REGION_CODE = Format("region code", _ascii(r"[1-9][0-9]{5}"), 6, "a 6-digit GB/T 2260 code")
REQUEST_ID = Format("request id", _ascii(r"[A-Za-z0-9._\-]{1,64}"), 64, _SIMPLE_ID_RULE)
CASE_ID = Format("case id", _ascii(r"[A-Za-z0-9._\-]{1,64}"), 64, _SIMPLE_ID_RULE)
AUTHORIZATION_NUMBER = Format(
    "授权书 number", _ascii(r"[A-Za-z0-9._\-]{1,64}"), 64, _SIMPLE_ID_RULE
)
VERIFICATION_ID = Format(
    "verification id",
    _ascii(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
    36,
    "a verification id (a UUID in lowercase hex, 36 characters)",
)
# An invoice number or document id: ASCII, no leading or trailing space.
EVIDENCE_REF = Format(
    "evidence reference",
    _ascii(r"[A-Za-z0-9._:/#\-](?:[A-Za-z0-9 ._:/#\-]{0,126}[A-Za-z0-9._:/#\-])?"),
    128,
    "1-128 characters of A-Z a-z 0-9 . _ : / # - and inner spaces",
)
SHA256_HEX = Format("SHA-256", _ascii(r"[0-9a-f]{64}"), 64, "64 lowercase hex digits", digest=True)
# Passports and permits: letters and digits; lowercase is accepted and stored uppercase.
OTHER_DOCUMENT_NUMBER = Format(
    "document number",
    _ascii(r"[A-Za-z0-9]{1,32}"),
    32,
    "1-32 letters A-Z or digits 0-9",
    personal=True,
)
DATE = Format("date", _ascii(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"), 10, "a date YYYY-MM-DD")
# Audit-query filters: the shapes hedui itself writes into those columns.
ACTOR_SYSTEM = Format(
    "system name",
    _ascii(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}"),
    64,
    "a system name (1-64 characters of A-Z a-z 0-9 . _ -)",
)
ACTOR_USER = Format(
    "user name",
    _ascii(r"[A-Za-z0-9._@\-]{1,64}"),
    64,
    "a user name (1-64 characters of A-Z a-z 0-9 . _ @ -)",
)
ACTION = Format(
    "audit action",
    _ascii(r"[a-z][a-z0-9_]{0,63}"),
    64,
    "an audit action such as authorize or released (a-z 0-9 _)",
)
# base64url of "seq:<n>", as the audit service issues it.
PAGE_TOKEN = Format(
    "page token", _ascii(r"[A-Za-z0-9_\-]{4,64}={0,2}"), 66, "a page token hedui issued"
)
_PAGE_MARK = "seq:"
_DECIMAL = _ascii(r"0|[1-9][0-9]{0,15}")


def require(fmt: Format, value: str, field: str) -> None:
    """Raise :class:`InvalidArgument` naming ``field`` unless ``value`` is in ``fmt``."""
    out: list[FieldViolation] = []
    fmt.check(value, field, out)
    if out:
        raise InvalidArgument(out)


def check_range(value: int, field: str, low: int, high: int, out: list[FieldViolation]) -> None:
    if not low <= value <= high:
        out.append(FieldViolation(field, f"must be between {low} and {high}"))


def check_date(value: str, field: str, out: list[FieldViolation]) -> date | None:
    """A calendar date written exactly YYYY-MM-DD (``date.fromisoformat`` alone also
    takes ``20260101`` and week dates)."""
    if DATE.pattern.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    out.append(FieldViolation(field, "must be a date YYYY-MM-DD"))
    return None


def check_timestamp(seconds: int, nanos: int, field: str, out: list[FieldViolation]) -> None:
    """Within google.protobuf.Timestamp's range, years 0001 to 9999."""
    if not (TIMESTAMP_MIN_SECONDS <= seconds <= TIMESTAMP_MAX_SECONDS and 0 <= nanos < 10**9):
        out.append(FieldViolation(field, "must be a time between 0001-01-01 and 9999-12-31 (UTC)"))


def check_page_token(token: str, field: str, out: list[FieldViolation]) -> None:
    """Empty, or a token the audit service issued: base64url of ``seq:<n>`` with ``n`` an
    audit seq (0 to 2^53-1)."""
    if not token:
        return
    seq: int | None = None
    if PAGE_TOKEN.pattern.fullmatch(token):
        try:
            text = base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii")
        except (binascii.Error, ValueError):
            text = ""
        digits = text.removeprefix(_PAGE_MARK)
        if text.startswith(_PAGE_MARK) and _DECIMAL.fullmatch(digits):
            seq = int(digits)
    if seq is None or seq > SAFE_INTEGER_MAX:
        out.append(FieldViolation(field, "is not a token we issued"))


def check_id_number(
    id_type: IdType | None, number: str, field: str, today: date, out: list[FieldViolation]
) -> None:
    """A resident ID number (exactly ``[0-9]{17}[0-9X]``, GB 11643) or another document's
    number (1-32 ASCII letters and digits). An unset type is reported on its own field;
    the number is still held to the other documents' format."""
    if not number:
        out.append(FieldViolation(field, "must not be empty"))
    elif id_type is IdType.RESIDENT_ID:
        out.extend(FieldViolation(field, p) for p in resident_id.problems(number, today=today))
    else:
        OTHER_DOCUMENT_NUMBER.check(number, field, out)


def check_entry_filter(
    out: list[FieldViolation],
    *,
    today: date,
    subject: tuple[IdType | None, str] | None = None,
    actor_system: str = "",
    actor_user: str = "",
    case_id: str = "",
    verification_id: str = "",
    action: str = "",
) -> None:
    """An audit query's filters, wherever it comes from (the API, ``hedui audit query``):
    what it names lands in the ``audit_read`` entry the query writes."""
    if subject is not None:
        id_type, number = subject
        if id_type is None:
            out.append(FieldViolation("subject.id_type", "must be given"))
        check_id_number(id_type, number, "subject.id_number", today, out)
    ACTOR_SYSTEM.optional(actor_system, "actor_system", out)
    ACTOR_USER.optional(actor_user, "actor_user", out)
    CASE_ID.optional(case_id, "case_id", out)
    VERIFICATION_ID.optional(verification_id, "verification_id", out)
    ACTION.optional(action, "action", out)


# ------------------------------------------------------------------------ text with people
# Refused in names and in free text: controls (C0, C1, DEL, NUL, BEL…), format characters
# (bidirectional overrides and zero-width characters, which make two different strings
# look alike), surrogates (not text), line and paragraph separators, and every space but
# U+0020. Private-use characters are allowed: some 户籍 systems encode rare characters
# (生僻字) of real names there. Unassigned code points are allowed for the same reason:
# a CJK extension newer than this Python's Unicode tables may be in a name.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp", "Zs"})


def _bad_character(text: str) -> int | None:
    """1-based position of the first character refused in human text, or None."""
    for i, ch in enumerate(text):
        if ch != " " and unicodedata.category(ch) in _REFUSED_CATEGORIES:
            return i + 1
    return None


def person_name_problem(name: str) -> str | None:
    """The one rule for a person's name, wherever a person appears (checks, 授权书):
    1-64 characters once leading and trailing spaces are dropped, and no character from
    the refused classes above. The name itself is never echoed."""
    trimmed = name.strip(" ")
    # Lengths first, before looking at each of (possibly) a million characters.
    if len(trimmed) > PERSON_NAME_MAX or len(name) > 4 * PERSON_NAME_MAX:
        return f"must be at most {PERSON_NAME_MAX} characters"
    bad = _bad_character(name)
    if bad is not None:
        return f"character {bad} is a control, format, separator or non-ASCII space character"
    if not trimmed:
        return "must not be empty"
    return None


def check_person_name(name: str, field: str, out: list[FieldViolation]) -> None:
    problem = person_name_problem(name)
    if problem is not None:
        out.append(FieldViolation(field, problem))


def person_name(name: str) -> str:
    """The stored form of a name that passed :func:`person_name_problem`."""
    return name.strip(" ")


def free_text_problem(text: str, max_length: int) -> str | None:
    """Short human text that is not for personal data (an archive location, a reason):
    1 to ``max_length`` characters once trimmed, the name rule's characters, and nothing
    shaped like a resident ID number (in any script's digits)."""
    trimmed = text.strip(" ")
    if len(trimmed) > max_length or len(text) > 4 * max_length:  # lengths first, as above
        return f"must be 1-{max_length} characters"
    bad = _bad_character(text)
    if bad is not None:
        return f"character {bad} is a control, format, separator or non-ASCII space character"
    if not trimmed:
        return f"must be 1-{max_length} characters"
    if resident_id.appears_in(trimmed):
        return _NOT_PERSONAL
    return None


def check_free_text(text: str, max_length: int, field: str, out: list[FieldViolation]) -> None:
    problem = free_text_problem(text, max_length)
    if problem is not None:
        out.append(FieldViolation(field, problem))
