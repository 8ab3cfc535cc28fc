"""What an operator watches: Prometheus metrics, OpenTelemetry traces, JSON log lines.

Wired by the composition root from ``[metrics]``, ``[tracing]`` and the log level; the
use cases reach metrics only through ``verifier.domain.ports.telemetry``.
"""
