"""教育 (education): the built-in reference adapter.

The department is the county 教育(体育)局 and its student registry. The adapter speaks
department gateway protocol v1 (docs/gateway-protocol.md) and returns enrolments at each
level with the fees the family paid. Configure ``base_url`` (the department's protocol base)
and the ``token`` credential.
"""

from __future__ import annotations

from hedui_sdk.builtin.gateway import GatewayAdapter
from hedui_sdk.contract import Adapter, AdapterSettings, SourceKind

NAME = "education-gateway"
"""The adapter name recorded in every report."""

VERSION = "1.0.0"
"""The adapter version recorded in every report."""

SOURCE = SourceKind.EDUCATION
"""The source this adapter answers for."""


def create(settings: AdapterSettings) -> Adapter:
    """Create the adapter; ``settings.credentials["token"]`` is the department's bearer token."""
    return GatewayAdapter(SOURCE, NAME, VERSION, settings)
