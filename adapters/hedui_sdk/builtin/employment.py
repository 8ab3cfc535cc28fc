"""人社 就业 (employment): the built-in reference adapter.

The department is the county 人力资源和社会保障局's public employment service. The adapter
speaks department gateway protocol v1 (docs/gateway-protocol.md) and returns employment and
unemployment registrations, and unemployment benefits paid as transfer income. Configure
``base_url`` (the department's protocol base) and the ``token`` credential.
"""

from __future__ import annotations

from hedui_sdk.builtin.gateway import GatewayAdapter
from hedui_sdk.contract import Adapter, AdapterSettings, SourceKind

NAME = "employment-gateway"
"""The adapter name recorded in every report."""

VERSION = "1.0.0"
"""The adapter version recorded in every report."""

SOURCE = SourceKind.EMPLOYMENT
"""The source this adapter answers for."""


def create(settings: AdapterSettings) -> Adapter:
    """Create the adapter; ``settings.credentials["token"]`` is the department's bearer token."""
    return GatewayAdapter(SOURCE, NAME, VERSION, settings)
