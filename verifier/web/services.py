"""The use cases the console calls: the same objects the gRPC servicers are given."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verifier.service.auditing import AuditService
from verifier.service.listing import VerificationListing
from verifier.service.verifications import VerificationService


@dataclass(frozen=True, slots=True)
class ConsoleServices:
    verifications: VerificationService
    listing: VerificationListing
    auditing: AuditService
    trusted_keys: Callable[[], Mapping[str, Ed25519PublicKey]]
    """Report signing keys by key id: a report page says whether its envelope verifies."""


SERVICES: web.AppKey[ConsoleServices] = web.AppKey("services", ConsoleServices)
