"""残联 (disabled persons' federation): the built-in reference adapter.

The department is the county 残疾人联合会. The adapter speaks department gateway protocol v1
(docs/gateway-protocol.md) and returns disability certificates (残疾人证) with their type and
grade. Configure ``base_url`` (the department's protocol base) and the ``token`` credential.
"""

from __future__ import annotations

from hedui_sdk.builtin.gateway import GatewayAdapter
from hedui_sdk.contract import Adapter, AdapterSettings, SourceKind

NAME = "disability-gateway"
"""The adapter name recorded in every report."""

VERSION = "1.0.0"
"""The adapter version recorded in every report."""

SOURCE = SourceKind.DISABILITY
"""The source this adapter answers for."""


def create(settings: AdapterSettings) -> Adapter:
    """Create the adapter; ``settings.credentials["token"]`` is the department's bearer token."""
    return GatewayAdapter(SOURCE, NAME, VERSION, settings)
