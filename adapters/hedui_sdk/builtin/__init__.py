"""hedui's built-in reference adapters: one per source, all speaking gateway protocol v1.

Each module exposes ``create(settings) -> Adapter`` and is registered in the
``hedui.adapters`` entry-point group under its source name, exactly like a department's
own adapter package. :data:`FACTORIES` lists them for code that runs without installed
entry points (tests, the sandbox demo).
"""

from collections.abc import Callable

from hedui_sdk.builtin import (
    bank,
    business_registration,
    civil_affairs,
    commercial_insurance,
    disability,
    education,
    employment,
    household_registration,
    internet_finance,
    medical_insurance,
    provident_fund,
    real_estate,
    securities,
    social_insurance,
    tax,
    vehicle,
)
from hedui_sdk.builtin.gateway import GatewayAdapter
from hedui_sdk.contract import Adapter, AdapterSettings, SourceKind

FACTORIES: dict[SourceKind, Callable[[AdapterSettings], Adapter]] = {
    SourceKind.HOUSEHOLD_REGISTRATION: household_registration.create,
    SourceKind.TAX: tax.create,
    SourceKind.SOCIAL_INSURANCE: social_insurance.create,
    SourceKind.REAL_ESTATE: real_estate.create,
    SourceKind.BUSINESS_REGISTRATION: business_registration.create,
    SourceKind.PROVIDENT_FUND: provident_fund.create,
    SourceKind.VEHICLE: vehicle.create,
    SourceKind.BANK: bank.create,
    SourceKind.SECURITIES: securities.create,
    SourceKind.COMMERCIAL_INSURANCE: commercial_insurance.create,
    SourceKind.INTERNET_FINANCE: internet_finance.create,
    SourceKind.MEDICAL_INSURANCE: medical_insurance.create,
    SourceKind.DISABILITY: disability.create,
    SourceKind.EDUCATION: education.create,
    SourceKind.EMPLOYMENT: employment.create,
    SourceKind.CIVIL_AFFAIRS: civil_affairs.create,
}
"""The built-in factory for every source."""

__all__ = ["FACTORIES", "GatewayAdapter"]
