"""住房公积金 (housing provident fund): the built-in reference adapter.

The department is the housing provident fund management centre. The adapter speaks
department gateway protocol v1 (docs/gateway-protocol.md) and returns the fund balance and
monthly deposits. Configure ``base_url`` (the department's protocol base) and the ``token``
credential.
"""

from __future__ import annotations

from hedui_sdk.builtin.gateway import GatewayAdapter
from hedui_sdk.contract import Adapter, AdapterSettings, SourceKind

NAME = "provident-fund-gateway"
"""The adapter name recorded in every report."""

VERSION = "1.0.0"
"""The adapter version recorded in every report."""

SOURCE = SourceKind.PROVIDENT_FUND
"""The source this adapter answers for."""


def create(settings: AdapterSettings) -> Adapter:
    """Create the adapter; ``settings.credentials["token"]`` is the department's bearer token."""
    return GatewayAdapter(SOURCE, NAME, VERSION, settings)
