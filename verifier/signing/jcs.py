"""RFC 8785 canonical JSON for reports: the same implementation the audit log uses."""

from audit.canonical import canonical_bytes

__all__ = ["canonical_bytes"]
