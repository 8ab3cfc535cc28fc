"""Who is calling: the system from its client certificate (or, on a development
plaintext port, from metadata), the end user and role from metadata, bound to that
system's principal entry in config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc

from verifier.config import Principal
from verifier.domain.errors import PermissionDenied, Unauthenticated
from verifier.domain.identifiers import ACTOR_USER
from verifier.domain.ports import Caller


def _metadata(context: grpc.aio.ServicerContext[Any, Any]) -> dict[str, str]:
    return {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}


def _certificate_system(context: grpc.aio.ServicerContext[Any, Any]) -> str | None:
    auth = context.auth_context()
    names = list(auth.get("x509_common_name") or [])
    return names[0].decode() if names else None


def identify(
    context: grpc.aio.ServicerContext[Any, Any],
    principals: Mapping[str, Principal],
    *,
    allow_metadata_system: bool,
) -> Caller:
    md = _metadata(context)
    system = _certificate_system(context)
    if system is None and allow_metadata_system:
        system = md.get("x-hedui-system")
    if not system:
        raise Unauthenticated("the calling system is not identified")
    principal = principals.get(system)
    if principal is None:
        raise Unauthenticated("the calling system is not a configured principal")
    # The user name is written into every audit entry: the same format as the audit
    # query's actor_user filter, and never an ID number.
    user = md.get("x-hedui-user", "")
    if ACTOR_USER.problem(user) is not None:
        raise Unauthenticated(
            "metadata x-hedui-user must name the end user (1-64 characters of"
            " A-Z a-z 0-9 . _ @ -, not an ID number)"
        )
    role = md.get("x-hedui-role", principal.roles[0] if len(principal.roles) == 1 else "")
    if role not in principal.roles:
        raise PermissionDenied(
            "ROLE_NOT_ALLOWED", "metadata x-hedui-role is not a role of this system"
        )
    return Caller(system=system, user=user, role=role, regions=principal.regions)
