"""The transport port webhook delivery uses (defined with the other ports in the domain);
its HTTP implementation is ``verifier.transport.webhook_http``, chosen in bootstrap."""

from __future__ import annotations

from verifier.domain.ports.webhook_transport import Answer, Transport

__all__ = ["Answer", "Transport"]
