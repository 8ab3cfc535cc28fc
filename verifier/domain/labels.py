"""Chinese labels for the words reports and commands show, one table per vocabulary.

The rules' sentences, ``hedui policy explain``, ``hedui policy assess`` and the report view
all read these tables, so a word reads the same wherever it is shown. Keys are the values
as they stand in an assessment's JSON (``ELIGIBLE``, ``deposit``, ``single_person``); a
value no table knows is shown as it is.
"""

from __future__ import annotations

from collections.abc import Mapping

from hedui_sdk import AssetCategory, CancellationReason, IncomeCategory
from verifier.domain.household import HUKOU_LABELS, PURPOSE_LABELS
from verifier.domain.outcomes import SOURCE_LABELS

__all__ = [
    "ASSET_LABELS",
    "BAND_LABELS",
    "BASE_LABELS",
    "BASIS_LABELS",
    "CANCELLATION_LABELS",
    "FACT_LABELS",
    "HUKOU_LABELS",
    "INCOME_LABELS",
    "OUTCOME_LABELS",
    "PURPOSE_LABELS",
    "RELATION_LABELS",
    "ROUTE_LABELS",
    "SOURCE_LABELS",
    "SOURCE_STATUS_LABELS",
    "VEHICLE_KIND_LABELS",
    "asset_label",
    "label",
]

OUTCOME_LABELS: Mapping[str, str] = {
    "ELIGIBLE": "符合",
    "NEEDS_REVIEW": "需人工复核",
    "INELIGIBLE": "不符合",
}
"""An assessment's outcome (a program's, or one member's)."""

ROUTE_LABELS: Mapping[str, str] = {
    "single_person": "单人户",
    "tekun": "特困",
    "patient": "重病患者",
}
"""How a member finding was reached."""

BAND_LABELS: Mapping[str, str] = {
    "emergency": "急难型",
    "expense": "支出型",
    "illness": "支出型（重特大疾病）",
    "schooling": "支出型（子女就学）",
}
"""临时救助 bands a region's policy may state."""

BASE_LABELS: Mapping[str, str] = {"urban": "城市低保月标准", "household": "本户适用的月低保标准"}
"""What a 临时救助 band multiplies."""

SOURCE_STATUS_LABELS: Mapping[str, str] = {
    "FOUND": "已查到",
    "NOT_FOUND": "无记录",
    "FAILED": "查询失败",
    "PENDING": "待返回",
    "DENIED": "被拒绝",
    "ABSENT": "未答复",
}
"""What a source answered about one member (``ABSENT``: no answer recorded at all)."""

RELATION_LABELS: Mapping[str, str] = {
    "applicant": "申请人",
    "spouse": "配偶",
    "child": "子女",
    "parent": "父母",
    "grandparent": "祖父母",
    "grandchild": "孙子女",
    "sibling": "兄弟姐妹",
    "supporter": "赡养/抚养/扶养人",
    "other": "其他",
}
"""A member's relation to the applicant."""

INCOME_LABELS: Mapping[IncomeCategory, str] = {
    IncomeCategory.WAGES: "工资性收入",
    IncomeCategory.BUSINESS: "经营净收入",
    IncomeCategory.PROPERTY: "财产净收入",
    IncomeCategory.TRANSFER: "转移净收入",
}

ASSET_LABELS: Mapping[AssetCategory, str] = {
    AssetCategory.DEPOSIT: "银行存款",
    AssetCategory.SECURITIES: "证券",
    AssetCategory.INSURANCE_CASH_VALUE: "商业保险现金价值",
    AssetCategory.INTERNET_FINANCE: "互联网金融资产",
    AssetCategory.PROVIDENT_FUND: "住房公积金余额",
    AssetCategory.VEHICLE: "机动车",
    AssetCategory.VESSEL: "船舶",
    AssetCategory.REAL_ESTATE: "不动产",
    AssetCategory.BUSINESS: "市场主体",
}

CANCELLATION_LABELS: Mapping[CancellationReason, str] = {
    CancellationReason.DEATH: "死亡",
    CancellationReason.MOVED_OUT: "迁出",
    CancellationReason.OTHER: "其他",
}
"""Why a person's 户籍 was cancelled (户口注销原因), as a finding says it: 户籍已注销：死亡."""

FACT_LABELS: Mapping[str, str] = {
    "disability": "残疾等级",
    "serious_illness": "重病（医保诊断认定）",
    "in_school": "在校就学",
    "employment": "就业与劳动能力",
    "alive": "健在",
    "medical_costs": "自付医疗费用",
    "school_fees": "就学费用",
}
"""A fact about a member that a department verifies (``fact_basis_<fact>``)."""

BASIS_LABELS: Mapping[str, str] = {
    "verified": "经部门核实",
    "declared": "按申报（本地政策接受申报）",
    "unverified": "未能核实（本地政策要求核实，需人工复核）",
}
"""How a fact was known in one assessment: the department's answer, or the declaration."""

VEHICLE_KIND_LABELS: Mapping[str, str] = {
    "car": "小汽车",
    "motorcycle": "摩托车",
    "tricycle": "三轮车",
    "truck": "货车",
    "disabled_mobility": "残疾人代步车",
    "boat": "船",
    "fishing_vessel": "渔船",
}
"""Vehicle kinds as the 车管 department and policy files name them (a free word: an
unknown kind is shown as it is)."""


def label(table: Mapping[str, str], value: object) -> str:
    """``value``'s label in ``table``, or the value itself when the table has none."""
    text = str(value)
    return table.get(text, text)


def asset_label(name: str) -> str:
    """``deposit`` → ``银行存款``: a category a policy file names, as a reader says it."""
    return ASSET_LABELS[AssetCategory(name)] if name in set(AssetCategory) else name
