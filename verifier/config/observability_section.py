"""``[metrics]`` and ``[tracing]``: where Prometheus scrapes, where traces go.

Both are off unless configured: metrics need a listen address the operator chose (a
port the monitoring network reaches, never the gRPC one), traces an OTLP collector.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from verifier.config.errors import Problem, between
from verifier.config.sections import Section

# host:port, IPv6 in brackets; port 0 takes a free one (tests).
_HOST_PORT = re.compile(r"(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.\-]{1,253}):([0-9]{1,5})", re.ASCII)
# An OTLP/gRPC collector: http:// (plaintext) or https:// (TLS), host, port.
_OTLP = re.compile(
    r"https?://(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.\-]{1,253}):([0-9]{1,5})/?", re.ASCII
)


def _port_ok(m: re.Match[str] | None) -> bool:
    return m is not None and int(m.group(1)) <= 65535


def _metrics_listen(value: str) -> str:
    if value and not _port_ok(_HOST_PORT.fullmatch(value)):
        raise Problem("must be HOST:PORT (port 0 to 65535), or empty for no metrics")
    return value


def _otlp_endpoint(value: str) -> str:
    if value and not _port_ok(_OTLP.fullmatch(value)):
        raise Problem("must be http://HOST:PORT or https://HOST:PORT, or empty for no traces")
    return value


def _service_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}", value, re.ASCII):
        raise Problem("must be 1-64 characters of A-Z a-z 0-9 . _ -")
    return value


class MetricsSection(Section):
    """``[metrics]``: ``listen = "0.0.0.0:9464"`` serves ``GET /metrics`` there."""

    listen: Annotated[str, AfterValidator(_metrics_listen)] = ""


class TracingSection(Section):
    """``[tracing]``: ``otlp_endpoint = "http://collector:4317"`` exports spans over
    OTLP/gRPC; ``sample_ratio`` of new traces are kept (a caller's sampled parent is
    always followed)."""

    otlp_endpoint: Annotated[str, AfterValidator(_otlp_endpoint)] = ""
    service_name: Annotated[str, AfterValidator(_service_name)] = "hedui"
    sample_ratio: Annotated[float, between(0.0, 1.0)] = 1.0
