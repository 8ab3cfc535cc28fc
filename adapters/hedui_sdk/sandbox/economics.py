"""What departments hold on a synthetic household: income, contributions and assets.

Ranges are plausible for rural and small-town Shandong and Anhui; they are chosen so that
low-income households look eligible for 低保 and well-off ones clearly do not.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from hedui_sdk.contract import SourceKind
from hedui_sdk.records import AssetCategory, IncomeCategory
from hedui_sdk.sandbox.composition import MemberPlan
from hedui_sdk.sandbox.counties import County
from hedui_sdk.sandbox.facts import AssetFact, ContributionFact, Fact, IncomeFact
from hedui_sdk.sandbox.numbering import RecordNumbers
from hedui_sdk.sandbox.people import Profile

_P = Profile


@dataclass(frozen=True, slots=True)
class _Economy:
    """How likely a member of one profile is to hold each kind of income or asset
    (probabilities) and how much (ranges in yuan)."""

    employed: float
    wage_yuan: tuple[int, int]
    business: float
    business_monthly_yuan: tuple[int, int]
    employee_pension: float
    deposit: float
    deposit_yuan: tuple[int, int]
    securities: float
    insurance: float
    internet: float
    wealth_scale: int


# fmt: off
_ECONOMY: dict[Profile, _Economy] = {
    Profile.LOW_INCOME: _Economy(
        employed=0.35, wage_yuan=(900, 1900), business=0.06, business_monthly_yuan=(500, 1500),
        employee_pension=0.35, deposit=0.5, deposit_yuan=(300, 12000), securities=0.01,
        insurance=0.04, internet=0.3, wealth_scale=1,
    ),
    Profile.NEAR_POVERTY: _Economy(
        employed=0.55, wage_yuan=(1800, 3000), business=0.12, business_monthly_yuan=(1200, 2800),
        employee_pension=0.55, deposit=0.65, deposit_yuan=(3000, 40000), securities=0.03,
        insurance=0.1, internet=0.4, wealth_scale=2,
    ),
    Profile.MODEST: _Economy(
        employed=0.8, wage_yuan=(3500, 7500), business=0.15, business_monthly_yuan=(3000, 8000),
        employee_pension=0.85, deposit=0.85, deposit_yuan=(20000, 250000), securities=0.12,
        insurance=0.25, internet=0.6, wealth_scale=8,
    ),
    Profile.WELL_OFF: _Economy(
        employed=0.9, wage_yuan=(9000, 30000), business=0.35, business_monthly_yuan=(10000, 60000),
        employee_pension=0.95, deposit=0.95, deposit_yuan=(150000, 3000000), securities=0.45,
        insurance=0.55, internet=0.75, wealth_scale=40,
    ),
}
# fmt: on

COMPANY_NAMES = ("宏达纺织", "鑫源化工", "华泰建材", "恒通物流", "金穗食品", "鲁星机械", "众诚商贸",
              "海润水产", "永安建筑", "天成电子", "绿源农业", "新华印务")  # fmt: skip
SHOP_NAMES = ("便民超市", "家电维修部", "小吃店", "五金店", "养殖场", "农资店", "快递代办点",
              "理发店")  # fmt: skip
BANK_NAMES = ("中国农业银行", "中国工商银行", "中国建设银行", "中国银行", "中国邮政储蓄银行")
_BROKERS = ("中信证券", "国泰君安证券", "中泰证券", "华安证券")
_INSURERS = ("中国人寿", "中国平安", "太平洋保险", "泰康人寿")
_PLATFORMS = ("平台A余额理财", "平台B零钱理财", "平台C稳健理财")

SOCIAL_INSURANCE_FLOOR_YUAN = 4000
"""Lowest monthly contribution base: wages below it contribute on the floor."""

EMPLOYEE_SCHEMES: tuple[tuple[str, int], ...] = (
    ("employee_pension", 240),
    ("employee_medical", 85),
)
"""Employee social insurance schemes and what is paid on the base, per mille."""


def social_insurance_base(wage_fen: int) -> int:
    """The monthly contribution base for a wage: the wage, or the floor below it."""
    return max(wage_fen, SOCIAL_INSURANCE_FLOOR_YUAN * 100)


def provident_fund_paid(wage_fen: int) -> int:
    """A month's provident fund contribution: 10% from the employee and 10% from the employer."""
    return wage_fen * 2 * 10 // 100


def place_name(county_name: str) -> str:
    """A county's name as a business-name prefix: 高青县 → 高青, 莘县 stays 莘县."""
    return county_name if len(county_name) <= 2 else county_name[:-1]


def pension_agency(county_name: str) -> str:
    """Who pays pensions and unemployment benefit in a county."""
    return f"{county_name}社会保险事业中心"


@dataclass(slots=True)
class Ledger:
    """Facts being collected for one person, by source."""

    by_source: dict[SourceKind, list[Fact]] = field(default_factory=dict)

    def add(self, source: SourceKind, fact: Fact) -> None:
        """Record that ``source`` holds ``fact``."""
        self.by_source.setdefault(source, []).append(fact)


@dataclass(frozen=True, slots=True)
class EconomicContext:
    """Everything about the place and time the facts are generated for."""

    county: County
    urban: bool
    profile: Profile
    months: tuple[tuple[date, date], ...]
    numbers: RecordNumbers

    @property
    def place(self) -> str:
        """The county name as a business-name prefix."""
        return place_name(self.county.name)

    @property
    def insurance_agency(self) -> str:
        """Who pays pensions and unemployment benefit."""
        return pension_agency(self.county.name)


def _fen(rng: random.Random, lo_yuan: int, hi_yuan: int) -> int:
    return rng.randint(lo_yuan, hi_yuan) * 100


def _wobble(rng: random.Random, fen: int, percent: int = 5) -> int:
    return fen * rng.randint(100 - percent, 100 + percent) // 100


def person_facts(rng: random.Random, ctx: EconomicContext, plan: MemberPlan) -> Ledger:
    """Income, contributions and personal financial assets of one member."""
    ledger = Ledger()
    severe = plan.serious_illness or plan.disability_grade in (1, 2)
    working_age = 18 <= plan.age < 60
    employed = working_age and not severe and rng.random() < _ECONOMY[ctx.profile].employed
    if employed:
        _employment(rng, ctx, ledger)
    elif working_age and ctx.urban and ctx.profile in (_P.LOW_INCOME, _P.NEAR_POVERTY):
        if rng.random() < 0.18:
            _unemployment_benefit(rng, ctx, ledger)
    elif working_age and not ctx.urban and rng.random() < 0.6:
        _resident_pension_contribution(rng, ctx, ledger)
    if 18 <= plan.age < 70 and not severe and rng.random() < _ECONOMY[ctx.profile].business:
        _business(rng, ctx, ledger)
    if plan.age >= 60:
        _pension(rng, ctx, ledger)
    if plan.age >= 18:
        _financial_assets(rng, ctx, ledger, plan.age)
    return ledger


def _employment(rng: random.Random, ctx: EconomicContext, ledger: Ledger) -> None:
    employer = f"{ctx.place}{rng.choice(COMPANY_NAMES)}有限公司"
    wage = _fen(rng, *_ECONOMY[ctx.profile].wage_yuan)
    months = list(ctx.months)
    if rng.random() < 0.25:  # changed jobs or started during the window
        keep = rng.randint(3, len(months) - 1)
        months = months[-keep:] if rng.random() < 0.5 else months[:keep]
    base = social_insurance_base(wage)
    has_fund = rng.random() < (0.75 if ctx.profile in (_P.MODEST, _P.WELL_OFF) else 0.1)
    for start, end in months:
        ledger.add(SourceKind.TAX, IncomeFact(
            ctx.numbers.next("TAX"), IncomeCategory.WAGES, "salary", start, end,
            _wobble(rng, wage), employer,
        ))  # fmt: skip
        for scheme, per_mille in EMPLOYEE_SCHEMES:
            ledger.add(SourceKind.SOCIAL_INSURANCE, ContributionFact(
                ctx.numbers.next("SI"), scheme, start, end, base, base * per_mille // 1000,
                employer,
            ))  # fmt: skip
        if has_fund:
            ledger.add(SourceKind.PROVIDENT_FUND, ContributionFact(
                ctx.numbers.next("HPF"), "housing_provident_fund", start, end, wage,
                provident_fund_paid(wage), employer,
            ))  # fmt: skip
    if has_fund:
        ledger.add(SourceKind.PROVIDENT_FUND, AssetFact(
            ctx.numbers.next("HPF"), AssetCategory.PROVIDENT_FUND, "balance",
            provident_fund_paid(wage) * rng.randint(12, 150),
            details=(("fund_center", f"{ctx.county.prefecture}住房公积金管理中心"),),
        ))  # fmt: skip


def _unemployment_benefit(rng: random.Random, ctx: EconomicContext, ledger: Ledger) -> None:
    amount = _fen(rng, 1500, 1900)
    for start, end in ctx.months[-rng.randint(3, len(ctx.months)) :]:
        ledger.add(SourceKind.SOCIAL_INSURANCE, IncomeFact(
            ctx.numbers.next("SI"), IncomeCategory.TRANSFER, "unemployment_benefit", start, end,
            amount, ctx.insurance_agency,
        ))  # fmt: skip


def _resident_pension_contribution(
    rng: random.Random, ctx: EconomicContext, ledger: Ledger
) -> None:
    year = ctx.months[-1][0].year
    ledger.add(SourceKind.SOCIAL_INSURANCE, ContributionFact(
        ctx.numbers.next("SI"), "resident_pension", date(year, 1, 1), date(year, 12, 31),
        0, rng.choice((200, 300, 500, 1000)) * 100,
    ))  # fmt: skip


def _pension(rng: random.Random, ctx: EconomicContext, ledger: Ledger) -> None:
    if ctx.urban and rng.random() < _ECONOMY[ctx.profile].employee_pension:
        kind = "basic_pension"
        lo, hi = (4500, 9000) if ctx.profile is _P.WELL_OFF else (2000, 5000)
        amount = _fen(rng, lo, hi)
    else:
        kind = "resident_basic_pension"
        amount = _fen(rng, 160, 320)
    for start, end in ctx.months:
        ledger.add(SourceKind.SOCIAL_INSURANCE, IncomeFact(
            ctx.numbers.next("SI"), IncomeCategory.TRANSFER, kind, start, end, amount,
            ctx.insurance_agency,
        ))  # fmt: skip


def _business(rng: random.Random, ctx: EconomicContext, ledger: Ledger) -> None:
    company = ctx.profile is _P.WELL_OFF and rng.random() < 0.5
    if company:
        kind, capital = "limited_company", _fen(rng, 500, 5000) * 1000
        name = f"{ctx.place}{rng.choice(COMPANY_NAMES)}有限公司"
    else:
        kind, capital = "individual_business", _fen(rng, 10, 100) * 1000
        name = f"{ctx.place}{rng.choice(SHOP_NAMES)}"
    since = ctx.months[0][0].year - rng.randint(1, 15)
    ledger.add(SourceKind.BUSINESS_REGISTRATION, AssetFact(
        ctx.numbers.next("BIZ"), AssetCategory.BUSINESS, kind, capital,
        details=(("business_name", name), ("registered_year", str(since)), ("status", "active")),
    ))  # fmt: skip
    monthly = _fen(rng, *_ECONOMY[ctx.profile].business_monthly_yuan)
    for q in range(0, len(ctx.months) - 2, 3):
        start, end = ctx.months[q][0], ctx.months[q + 2][1]
        ledger.add(SourceKind.TAX, IncomeFact(
            ctx.numbers.next("TAX"), IncomeCategory.BUSINESS, "business_net_income", start, end,
            _wobble(rng, monthly * 3, 30), name,
        ))  # fmt: skip


def _financial_assets(rng: random.Random, ctx: EconomicContext, ledger: Ledger, age: int) -> None:
    profile = ctx.profile
    if rng.random() < _ECONOMY[profile].deposit:
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            kind = "time_deposit" if rng.random() < 0.4 else "demand_deposit"
            ledger.add(SourceKind.BANK, AssetFact(
                ctx.numbers.next("BANK"), AssetCategory.DEPOSIT, kind,
                rng.randint(*_ECONOMY[profile].deposit_yuan) * 100 + rng.randrange(100),
                details=(("bank", rng.choice(BANK_NAMES)),),
            ))  # fmt: skip
    scale = _ECONOMY[profile].wealth_scale
    if rng.random() < _ECONOMY[profile].securities:
        ledger.add(SourceKind.SECURITIES, AssetFact(
            ctx.numbers.next("SEC"), AssetCategory.SECURITIES, "securities_account",
            _fen(rng, 2000, 20000) * scale + rng.randrange(100),
            details=(("broker", rng.choice(_BROKERS)),),
        ))  # fmt: skip
    if rng.random() < _ECONOMY[profile].insurance:
        kind = rng.choice(("whole_life", "annuity", "endowment"))
        ledger.add(SourceKind.COMMERCIAL_INSURANCE, AssetFact(
            ctx.numbers.next("INS"), AssetCategory.INSURANCE_CASH_VALUE, kind,
            _fen(rng, 1000, 12000) * scale,
            details=(("insurer", rng.choice(_INSURERS)),),
        ))  # fmt: skip
    if age < 70 and rng.random() < _ECONOMY[profile].internet:
        ledger.add(SourceKind.INTERNET_FINANCE, AssetFact(
            ctx.numbers.next("NET"), AssetCategory.INTERNET_FINANCE,
            rng.choice(("money_market_fund", "wealth_product")),
            _fen(rng, 50, 3000) * scale + rng.randrange(100),
            details=(("platform", rng.choice(_PLATFORMS)),),
        ))  # fmt: skip


def household_assets(
    rng: random.Random, ctx: EconomicContext, owners: list[Ledger], *, has_business: bool
) -> None:
    """Real estate and vehicles, owned by the applicant or another adult (``owners``)."""
    _real_estate(rng, ctx, owners)
    _vehicles(rng, ctx, owners, has_business=has_business)


def _real_estate(rng: random.Random, ctx: EconomicContext, owners: list[Ledger]) -> None:
    price = ctx.county.price_per_m2_yuan
    profile = ctx.profile
    if not ctx.urban and rng.random() < {_P.LOW_INCOME: 0.55, _P.NEAR_POVERTY: 0.7}.get(
        profile, 0.85
    ):
        _property(rng, ctx, rng.choice(owners), "rural_house", "宅基地房屋", (80, 220), price // 6)
    urban_flat = {_P.LOW_INCOME: 0.4, _P.NEAR_POVERTY: 0.6, _P.MODEST: 0.9, _P.WELL_OFF: 1.0}
    if (ctx.urban and rng.random() < urban_flat[profile]) or (
        profile is _P.WELL_OFF and rng.random() < 0.5
    ):
        area = {_P.LOW_INCOME: (38, 75), _P.NEAR_POVERTY: (50, 90), _P.MODEST: (75, 130)}
        _property(rng, ctx, owners[0], "residential", "住宅", area.get(profile, (100, 200)), price)
    if profile is _P.WELL_OFF:
        for _ in range(rng.randint(0, 2)):
            if rng.random() < 0.3:
                _property(
                    rng, ctx, rng.choice(owners), "commercial", "商业", (30, 120), price * 3 // 2
                )
            else:
                _property(rng, ctx, rng.choice(owners), "residential", "住宅", (80, 160), price)
            if rng.random() < 0.5:
                start, end = ctx.months[0][0], ctx.months[-1][1]
                owners[0].add(SourceKind.TAX, IncomeFact(
                    ctx.numbers.next("TAX"), IncomeCategory.PROPERTY, "rent", start, end,
                    _fen(rng, 1500, 4000) * len(ctx.months), "",
                ))  # fmt: skip


def _property(
    rng: random.Random,
    ctx: EconomicContext,
    owner: Ledger,
    kind: str,
    usage: str,
    area_range: tuple[int, int],
    price_yuan: int,
) -> None:
    centi_m2 = rng.randint(area_range[0] * 100, area_range[1] * 100)
    value_fen = centi_m2 * price_yuan * rng.randint(80, 120) // 100
    owner.add(SourceKind.REAL_ESTATE, AssetFact(
        ctx.numbers.next("RE"), AssetCategory.REAL_ESTATE, kind, value_fen,
        area_m2=Decimal(centi_m2).scaleb(-2),
        details=(("usage", usage), ("registered_year", str(rng.randint(1998, 2024)))),
    ))  # fmt: skip


_VEHICLE_ODDS: dict[str, dict[Profile, float]] = {
    "tricycle": {_P.LOW_INCOME: 0.35, _P.NEAR_POVERTY: 0.35, _P.MODEST: 0.1, _P.WELL_OFF: 0.02},
    "motorcycle": {_P.LOW_INCOME: 0.2, _P.NEAR_POVERTY: 0.25, _P.MODEST: 0.15, _P.WELL_OFF: 0.05},
    "car": {_P.LOW_INCOME: 0.03, _P.NEAR_POVERTY: 0.15, _P.MODEST: 0.55, _P.WELL_OFF: 0.95},
}
_VEHICLE_YUAN = {"tricycle": (2000, 8000), "motorcycle": (2000, 9000), "truck": (60000, 300000)}
_CAR_YUAN = {
    _P.LOW_INCOME: (8000, 30000),
    _P.NEAR_POVERTY: (20000, 60000),
    _P.MODEST: (60000, 180000),
    _P.WELL_OFF: (150000, 600000),
}


def _vehicles(
    rng: random.Random, ctx: EconomicContext, owners: list[Ledger], *, has_business: bool
) -> None:
    for kind, odds in _VEHICLE_ODDS.items():
        if kind == "tricycle" and ctx.urban:
            continue
        if rng.random() < odds[ctx.profile]:
            lo, hi = _CAR_YUAN[ctx.profile] if kind == "car" else _VEHICLE_YUAN[kind]
            _vehicle(rng, ctx, rng.choice(owners), kind, _fen(rng, lo, hi))
    if has_business and rng.random() < 0.4:
        _vehicle(rng, ctx, owners[0], "truck", _fen(rng, *_VEHICLE_YUAN["truck"]))
    if ctx.county.coastal and rng.random() < 0.08:
        length = Decimal(rng.randint(80, 300)).scaleb(-1)
        owners[0].add(SourceKind.VEHICLE, AssetFact(
            ctx.numbers.next("VEH"), AssetCategory.VESSEL, "fishing_vessel",
            _fen(rng, 80000, 600000),
            details=(("vessel_kind", "fishing_vessel"), ("length_m", str(length))),
        ))  # fmt: skip


def _vehicle(rng: random.Random, ctx: EconomicContext, owner: Ledger, kind: str, fen: int) -> None:
    owner.add(SourceKind.VEHICLE, AssetFact(
        ctx.numbers.next("VEH"), AssetCategory.VEHICLE, kind, fen,
        details=(("vehicle_kind", kind), ("registered_year", str(rng.randint(2006, 2024)))),
    ))  # fmt: skip
