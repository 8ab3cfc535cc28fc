"""Reason codes of a change document, in the order entries are listed.

A code names one kind of change between two checks of the same household. Where a
change has a direction that matters to a caseworker (income rising above a line or
falling below it), each direction has its own code, so an alert's risk level can be a
function of the code alone.
"""

from __future__ import annotations

from enum import StrEnum


class ChangeCode(StrEnum):
    # 户籍 and the household checked
    HUKOU_CANCELLED = "HUKOU_CANCELLED"
    """A member's registration was cancelled (注销), as it is on a death: 户籍 answered
    with a registration in force before and with the member's cancelled registration now
    (the entry's ``cancel_reason`` says why), or FOUND before and NOT_FOUND now."""
    HUKOU_MEMBER_REMOVED = "HUKOU_MEMBER_REMOVED"
    """A person listed on a 户口簿 before is no longer listed on it."""
    HUKOU_MEMBER_ADDED = "HUKOU_MEMBER_ADDED"
    """A person not listed on a 户口簿 before is listed on it now (a birth, a move in)."""
    HOUSEHOLD_MEMBER_REMOVED = "HOUSEHOLD_MEMBER_REMOVED"
    """The case system no longer checks this person as a member of the household."""
    HOUSEHOLD_MEMBER_ADDED = "HOUSEHOLD_MEMBER_ADDED"
    """The case system checks a person as a member it did not check before."""
    # sources
    SOURCE_NEWLY_FAILING = "SOURCE_NEWLY_FAILING"
    """A source answered (FOUND or NOT_FOUND) before and is FAILED or DENIED now."""
    # income against the lines
    INCOME_ABOVE_DIBAO_STANDARD = "INCOME_ABOVE_DIBAO_STANDARD"
    INCOME_BELOW_DIBAO_STANDARD = "INCOME_BELOW_DIBAO_STANDARD"
    INCOME_ABOVE_BIANYUAN_LINE = "INCOME_ABOVE_BIANYUAN_LINE"
    INCOME_BELOW_BIANYUAN_LINE = "INCOME_BELOW_BIANYUAN_LINE"
    INCOME_ABOVE_TAPER_CEILING = "INCOME_ABOVE_TAPER_CEILING"
    INCOME_BELOW_TAPER_CEILING = "INCOME_BELOW_TAPER_CEILING"
    # assets
    FINANCIAL_ASSETS_ABOVE_LIMIT = "FINANCIAL_ASSETS_ABOVE_LIMIT"
    FINANCIAL_ASSETS_WITHIN_LIMIT = "FINANCIAL_ASSETS_WITHIN_LIMIT"
    VEHICLE_ADDED = "VEHICLE_ADDED"
    VEHICLE_REMOVED = "VEHICLE_REMOVED"
    REAL_ESTATE_ADDED = "REAL_ESTATE_ADDED"
    REAL_ESTATE_REMOVED = "REAL_ESTATE_REMOVED"
    BUSINESS_ADDED = "BUSINESS_ADDED"
    BUSINESS_REMOVED = "BUSINESS_REMOVED"
    # the programs' findings
    PROGRAM_BECAME_INELIGIBLE = "PROGRAM_BECAME_INELIGIBLE"
    PROGRAM_NEEDS_REVIEW = "PROGRAM_NEEDS_REVIEW"
    PROGRAM_BECAME_ELIGIBLE = "PROGRAM_BECAME_ELIGIBLE"
    TAPER_STARTED = "TAPER_STARTED"
    TAPER_ENDED = "TAPER_ENDED"

    @property
    def rank(self) -> int:
        """Position in the listing order (the order of definition above)."""
        return _RANK[self]

    @property
    def label(self) -> str:
        """A short Chinese label for people reading a change document."""
        return LABELS[self]


_RANK: dict[ChangeCode, int] = {code: i for i, code in enumerate(ChangeCode)}

LABELS: dict[ChangeCode, str] = {
    ChangeCode.HUKOU_CANCELLED: "户籍注销（如死亡）",
    ChangeCode.HUKOU_MEMBER_REMOVED: "户口簿减少人员",
    ChangeCode.HUKOU_MEMBER_ADDED: "户口簿增加人员",
    ChangeCode.HOUSEHOLD_MEMBER_REMOVED: "核对对象减少家庭成员",
    ChangeCode.HOUSEHOLD_MEMBER_ADDED: "核对对象增加家庭成员",
    ChangeCode.SOURCE_NEWLY_FAILING: "核对来源本次未能答复",
    ChangeCode.INCOME_ABOVE_DIBAO_STANDARD: "月人均收入升至低保标准及以上",
    ChangeCode.INCOME_BELOW_DIBAO_STANDARD: "月人均收入降至低保标准以下",
    ChangeCode.INCOME_ABOVE_BIANYUAN_LINE: "月人均收入升至低保边缘标准及以上",
    ChangeCode.INCOME_BELOW_BIANYUAN_LINE: "月人均收入降至低保边缘标准以下",
    ChangeCode.INCOME_ABOVE_TAPER_CEILING: "月人均收入升至渐退上限及以上",
    ChangeCode.INCOME_BELOW_TAPER_CEILING: "月人均收入降至渐退上限以下",
    ChangeCode.FINANCIAL_ASSETS_ABOVE_LIMIT: "金融资产超过限额",
    ChangeCode.FINANCIAL_ASSETS_WITHIN_LIMIT: "金融资产回到限额以内",
    ChangeCode.VEHICLE_ADDED: "新增机动车、船登记",
    ChangeCode.VEHICLE_REMOVED: "机动车、船登记减少",
    ChangeCode.REAL_ESTATE_ADDED: "新增不动产登记",
    ChangeCode.REAL_ESTATE_REMOVED: "不动产登记减少",
    ChangeCode.BUSINESS_ADDED: "新增市场主体登记",
    ChangeCode.BUSINESS_REMOVED: "市场主体登记减少",
    ChangeCode.PROGRAM_BECAME_INELIGIBLE: "救助项目结论变为不符合",
    ChangeCode.PROGRAM_NEEDS_REVIEW: "救助项目结论变为需人工复核",
    ChangeCode.PROGRAM_BECAME_ELIGIBLE: "救助项目结论变为符合",
    ChangeCode.TAPER_STARTED: "进入渐退",
    ChangeCode.TAPER_ENDED: "不再渐退",
}


class WithheldReason(StrEnum):
    """Why a comparison was not made (and so no change is claimed either way)."""

    SOURCE_UNANSWERED = "SOURCE_UNANSWERED"
    """A source has no answer (FAILED, DENIED, PENDING, or not asked) in one report."""
    ASSESSMENT_UNAVAILABLE = "ASSESSMENT_UNAVAILABLE"
    """A report carries no policy assessment to compare."""


__all__ = ["LABELS", "ChangeCode", "WithheldReason"]
