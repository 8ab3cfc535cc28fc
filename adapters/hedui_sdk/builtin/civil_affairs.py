"""民政 婚姻登记 and 殡葬 (civil affairs): the built-in reference adapter.

The department is the county 民政局's marriage registry and funeral (殡葬) records. The
adapter speaks department gateway protocol v1 (docs/gateway-protocol.md) and returns
marriage, divorce and death events. Configure ``base_url`` (the department's protocol
base) and the ``token`` credential.
"""

from __future__ import annotations

from hedui_sdk.builtin.gateway import GatewayAdapter
from hedui_sdk.contract import Adapter, AdapterSettings, SourceKind

NAME = "civil-affairs-gateway"
"""The adapter name recorded in every report."""

VERSION = "1.0.0"
"""The adapter version recorded in every report."""

SOURCE = SourceKind.CIVIL_AFFAIRS
"""The source this adapter answers for."""


def create(settings: AdapterSettings) -> Adapter:
    """Create the adapter; ``settings.credentials["token"]`` is the department's bearer token."""
    return GatewayAdapter(SOURCE, NAME, VERSION, settings)
