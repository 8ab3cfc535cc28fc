"""Timestamps as the signed documents write them (reports, fragments)."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(ts: datetime) -> str:
    """RFC 3339 UTC, second precision: ``2026-11-26T12:00:00Z``."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
