"""hedui adapter SDK: what a department IT team codes against.

An adapter is a small object with ``name``, ``version``, ``source`` and three async
methods (``query``, ``poll``, ``aclose``); see :class:`Adapter`. Subclass
:class:`BaseAdapter` and only ``query`` is left to write. It is registered under
the ``hedui.adapters`` entry-point group as a factory ``create(settings) -> Adapter``.
The conformance kit in :mod:`hedui_sdk.testing` proves an adapter keeps the contract.
"""

from hedui_sdk.base import BaseAdapter
from hedui_sdk.contract import (
    Adapter,
    AdapterSettings,
    IdType,
    ResultStatus,
    Secret,
    SourceKind,
    SourceQuery,
    SourceResult,
    Subject,
    Window,
)
from hedui_sdk.errors import (
    PermanentSourceError,
    SourceDenied,
    SourceError,
    SourceRateLimited,
    TransientSourceError,
)
from hedui_sdk.masking import mask_id_number, mask_name
from hedui_sdk.records import (
    AssetCategory,
    AssetRecord,
    CancellationReason,
    CivilEvent,
    CivilStatusRecord,
    ContributionRecord,
    DiagnosisKind,
    DiagnosisRecord,
    DisabilityCertificateRecord,
    DisabilityType,
    EducationLevel,
    EmploymentRecord,
    EmploymentStatus,
    EnrolmentRecord,
    HouseholdRegistrationRecord,
    IncomeCategory,
    IncomeRecord,
    MedicalExpenseRecord,
    Provenance,
    Record,
    RegisteredMember,
    RegistrationStatus,
)

__all__ = [
    "Adapter",
    "AdapterSettings",
    "AssetCategory",
    "AssetRecord",
    "BaseAdapter",
    "CancellationReason",
    "CivilEvent",
    "CivilStatusRecord",
    "ContributionRecord",
    "DiagnosisKind",
    "DiagnosisRecord",
    "DisabilityCertificateRecord",
    "DisabilityType",
    "EducationLevel",
    "EmploymentRecord",
    "EmploymentStatus",
    "EnrolmentRecord",
    "HouseholdRegistrationRecord",
    "IdType",
    "IncomeCategory",
    "IncomeRecord",
    "MedicalExpenseRecord",
    "PermanentSourceError",
    "Provenance",
    "Record",
    "RegisteredMember",
    "RegistrationStatus",
    "ResultStatus",
    "Secret",
    "SourceDenied",
    "SourceError",
    "SourceKind",
    "SourceQuery",
    "SourceRateLimited",
    "SourceResult",
    "Subject",
    "TransientSourceError",
    "Window",
    "mask_id_number",
    "mask_name",
]
