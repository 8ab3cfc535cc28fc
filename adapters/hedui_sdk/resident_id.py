"""居民身份证号码 (GB 11643-1999): check digit and structural validation.

Used by hedui to refuse malformed numbers before anything else happens, and by test
generators and the sandbox to make valid synthetic numbers.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"

# GB/T 2260 province-level codes: the first two digits of every resident ID number.
PROVINCE_CODES: frozenset[str] = frozenset(
    {
        "11", "12", "13", "14", "15",  # 北京 天津 河北 山西 内蒙古
        "21", "22", "23",  # 辽宁 吉林 黑龙江
        "31", "32", "33", "34", "35", "36", "37",  # 上海 江苏 浙江 安徽 福建 江西 山东
        "41", "42", "43", "44", "45", "46",  # 河南 湖北 湖南 广东 广西 海南
        "50", "51", "52", "53", "54",  # 重庆 四川 贵州 云南 西藏
        "61", "62", "63", "64", "65",  # 陕西 甘肃 青海 宁夏 新疆
        "71", "81", "82",  # 台湾 香港 澳门
    }
)  # fmt: skip


_SHAPE = re.compile(r"[0-9]{17}[0-9X]", re.ASCII)
_BODY = re.compile(r"[0-9]{17}", re.ASCII)
_REGION_CODE = re.compile(r"[0-9]{6}", re.ASCII)

# Anything that looks like a resident ID number inside other text: six region digits,
# a birth date in 18xx-20xx, three sequence digits and a check character, upper- or
# lowercase x. No lookaround: a number embedded in a longer run of digits counts too.
_EMBEDDED = re.compile(
    r"[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]",
    re.ASCII,
)
# Look-alikes of the check character X that a keyboard or an OCR step produces.
_X_LIKE = {"\uff38": "X", "\uff58": "X", "\u00d7": "X", "\u2169": "X", "\u2179": "X"}


def _describe(ch: str, *, last: bool) -> str:
    """What is wrong with one character, by class only: the character itself is never
    repeated (it may be a digit of the number)."""
    if last and ch == "x":
        return "is a lowercase x; GB 11643 writes the check character as capital X"
    if ch.isascii():
        if ch.isalpha():
            return "is a letter" + (", not a digit or X" if last else ", not a digit")
        if ch.isspace() or not ch.isprintable():
            return "is a space or control character"
        return "is a symbol, not a digit"
    if unicodedata.category(ch) == "Nd":
        return "is a non-ASCII digit; only the ASCII digits 0-9 are allowed"
    if unicodedata.digit(ch, None) is not None or unicodedata.numeric(ch, None) is not None:
        return "is a digit look-alike (superscript, circled, …), not an ASCII digit 0-9"
    if ch in _X_LIKE:
        return "is an X look-alike; only the ASCII capital X is allowed"
    return "is not an ASCII character"


def character_problems(id_number: str) -> list[str]:
    """Each character not allowed where it stands, by 1-based position and class.

    A resident ID number is exactly ``[0-9]{17}[0-9X]`` in ASCII. Lowercase ``x`` is
    refused rather than corrected, so the number a source receives is the number the
    caller sent, byte for byte.
    """
    out: list[str] = []
    for i, ch in enumerate(id_number[:18]):
        last = i == 17
        if ("0" <= ch <= "9") or (last and ch == "X"):
            continue
        out.append(f"character {i + 1} {_describe(ch, last=last)}")
    return out


def check_digit(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits (ASCII 0-9) of a number."""
    if not _BODY.fullmatch(first17):
        raise ValueError("check_digit needs exactly 17 ASCII digits 0-9")
    total = sum((ord(d) - 48) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def problems(id_number: str, *, today: date | None = None) -> list[str]:
    """Everything wrong with ``id_number`` as a resident ID number; empty when valid.

    Valid means exactly ``[0-9]{17}[0-9X]`` (ASCII, full match), a known province
    prefix, a real birth date that is not in the future, and the right check digit.
    The messages never repeat the number or any of its characters, so they are safe to
    return to callers and to log.
    """
    today = today or date.today()
    if len(id_number) != 18:
        return [f"must be 18 characters, got {len(id_number)}"]
    if not _SHAPE.fullmatch(id_number):
        found = character_problems(id_number)
        general: list[str] = []
        if not _BODY.fullmatch(id_number[:17]):
            general.append("the first 17 characters must be digits")
        if not (("0" <= id_number[17] <= "9") or id_number[17] == "X"):
            general.append("the last character must be a digit or X")
        return general + found
    body, last = id_number[:17], id_number[17]
    found = []
    if body[:2] not in PROVINCE_CODES:
        found.append("region prefix is not a known GB/T 2260 province code")
    born = birth_date(id_number)
    if born is None:
        found.append("birth date is not a real date")
    elif born > today:
        found.append("birth date is in the future")
    elif born.year < 1890:
        found.append("birth date is before 1890")
    expected = check_digit(body)
    if last != expected:
        found.append(f"check digit should be {expected}")
    return found


def appears_in(text: str) -> bool:
    """Whether ``text`` holds something shaped like a resident ID number anywhere.

    For fields that are not for personal data (case ids, evidence references, archive
    locations…). Digits of any script and look-alikes of X count as their ASCII
    selves here, so a number written in fullwidth digits inside free text is caught.
    """
    if not text.isascii():
        text = "".join(_ascii_look_alike(ch) for ch in text)
    return _EMBEDDED.search(text) is not None


def valid_in(text: str, *, today: date | None = None) -> bool:
    """Whether an 18-character stretch of ``text`` is a valid resident ID number.

    For values that are ID-shaped by chance now and then (a random SHA-256 hex digest
    holds an ID-shaped run about once in 77,000): a stretch that also has a known
    province, a real birth date and the right check digit is a number, not chance.
    """
    return any(
        _SHAPE.fullmatch(text[i : i + 18]) and not problems(text[i : i + 18], today=today)
        for i in range(len(text) - 17)
    )


def _ascii_look_alike(ch: str) -> str:
    if ch.isascii():
        return ch
    value = unicodedata.digit(ch, None)
    if value is not None:
        return chr(48 + value)
    return _X_LIKE.get(ch, ch)


def make(region: str, born: date, sequence: int) -> str:
    """Build a valid number from a 6-digit region code, a birth date and a 3-digit sequence.

    For synthetic data and tests only.
    """
    if not _REGION_CODE.fullmatch(region):
        raise ValueError("region must be 6 ASCII digits 0-9")
    if not 0 <= sequence <= 999:
        raise ValueError("sequence must be 0..999")
    first17 = f"{region}{born:%Y%m%d}{sequence:03d}"
    return first17 + check_digit(first17)


def birth_date(id_number: str) -> date | None:
    """The birth date encoded in a well-formed resident ID number, or ``None``.

    ``None`` also for anything that is not exactly ``[0-9]{17}[0-9X]`` in ASCII:
    ``int()`` would read fullwidth or Arabic-Indic digits as a date.
    """
    if not _SHAPE.fullmatch(id_number):
        return None
    try:
        return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None
