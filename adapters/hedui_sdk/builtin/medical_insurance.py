"""医保 (medical insurance): the built-in reference adapter.

The department is the county 医疗保障局. The adapter speaks department gateway protocol v1
(docs/gateway-protocol.md) and returns the window's settled medical bills with the
individually paid part (个人自付) and certified 门诊慢特病 / 重特大疾病 diagnoses. Configure
``base_url`` (the department's protocol base) and the ``token`` credential.
"""

from __future__ import annotations

from hedui_sdk.builtin.gateway import GatewayAdapter
from hedui_sdk.contract import Adapter, AdapterSettings, SourceKind

NAME = "medical-insurance-gateway"
"""The adapter name recorded in every report."""

VERSION = "1.0.0"
"""The adapter version recorded in every report."""

SOURCE = SourceKind.MEDICAL_INSURANCE
"""The source this adapter answers for."""


def create(settings: AdapterSettings) -> Adapter:
    """Create the adapter; ``settings.credentials["token"]`` is the department's bearer token."""
    return GatewayAdapter(SOURCE, NAME, VERSION, settings)
