"""居民身份证号码 (GB 11643-1999): check digit and structural validation.

Used by hedui to refuse malformed numbers before anything else happens, and by test
generators and the sandbox to make valid synthetic numbers.
"""

from __future__ import annotations

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


def check_digit(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits of a resident ID number."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("check_digit needs exactly 17 digits")
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def problems(id_number: str, *, today: date | None = None) -> list[str]:
    """Everything wrong with ``id_number`` as a resident ID number; empty when valid.

    The messages never repeat the number itself, so they are safe to return to callers
    and to log.
    """
    today = today or date.today()
    if len(id_number) != 18:
        return [f"must be 18 characters, got {len(id_number)}"]
    body, last = id_number[:17], id_number[17]
    if not body.isdigit():
        return ["the first 17 characters must be digits"]
    if not (last.isdigit() or last == "X"):
        return ["the last character must be a digit or X"]
    found: list[str] = []
    if body[:2] not in PROVINCE_CODES:
        found.append("region prefix is not a known GB/T 2260 province code")
    try:
        born = date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
    except ValueError:
        found.append("birth date is not a real date")
    else:
        if born > today:
            found.append("birth date is in the future")
        elif born.year < 1890:
            found.append("birth date is before 1890")
    expected = check_digit(body)
    if last != expected:
        found.append(f"check digit should be {expected}")
    return found


def make(region: str, born: date, sequence: int) -> str:
    """Build a valid number from a 6-digit region code, a birth date and a 3-digit sequence.

    For synthetic data and tests only.
    """
    if len(region) != 6 or not region.isdigit():
        raise ValueError("region must be 6 digits")
    if not 0 <= sequence <= 999:
        raise ValueError("sequence must be 0..999")
    first17 = f"{region}{born:%Y%m%d}{sequence:03d}"
    return first17 + check_digit(first17)


def birth_date(id_number: str) -> date | None:
    """The birth date encoded in a valid resident ID number, or ``None``."""
    try:
        return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None
