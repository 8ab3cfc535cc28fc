"""The configuration file's tables, as pydantic models: types, bounds, and unknown keys
refused (``extra="forbid"``) in every table. Read strictly: TOML has types, so ``"8"``
is not a number and ``1`` is not ``true``. Messages come from
:func:`verifier.config.errors.describe` and never repeat a value."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from verifier.config.errors import Problem, between
from verifier.config.model import DEFAULT_LISTEN, SealWith, TlsMode
from verifier.config.secrets import is_reference
from verifier.config.urls import database_url_problem
from verifier.domain.vocabulary import Role


class Section(BaseModel):
    """A table of the configuration file."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# host:port (IPv6 in brackets), or a gRPC unix socket.
_LISTEN = re.compile(
    r"unix:[!-~]{1,1024}|(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.\-*]{1,253}):([0-9]{1,5})", re.ASCII
)


def _listen(value: str) -> str:
    m = _LISTEN.fullmatch(value)
    if m is None or (m.group(1) is not None and int(m.group(1)) > 65535):
        raise Problem("must be HOST:PORT (port 0 to 65535) or unix:PATH")
    return value


class ServerSection(Section):
    """``[server]``."""

    listen: Annotated[str, AfterValidator(_listen)] = DEFAULT_LISTEN
    deadline_seconds: Annotated[float, between(0.1, 3600)] = 30.0
    poll_interval: Annotated[float, between(0.01, 3600)] = 1.0
    poll_lease_seconds: Annotated[float, between(1, 86400)] = 60.0


def _database(value: str) -> str:
    # A reference is read, and the URL it holds checked, when the configuration is built.
    if not is_reference(value, ("env", "file")):
        problem = database_url_problem(value)
        if problem:
            raise Problem(problem)
    return value


class DatabaseSection(Section):
    """``[database]``: ``url`` is a SQLite or PostgreSQL URL, or a reference to one
    (``file:/run/secrets/db-url``, ``env:NAME``) when it holds a password."""

    url: Annotated[str, AfterValidator(_database)] = "sqlite:///var/hedui.db"
    lock_timeout_ms: Annotated[int, between(1, 600_000)] = 5000


def _not_empty(value: str) -> str:
    if not value:
        raise Problem("must not be empty")
    return value


# CKA_LABEL of a token (32 bytes at most) or of a key in it: plain ASCII names only.
_HSM_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,31}", re.ASCII)


def _hsm_label(value: str) -> str:
    if not _HSM_LABEL.fullmatch(value):
        raise Problem("must be 1-32 characters of A-Z a-z 0-9 . _ -")
    return value


def _absolute(value: str) -> str:
    if not value.startswith("/"):
        raise Problem("must be an absolute path")
    return value


def _pin_reference(value: str) -> str:
    if not is_reference(value, ("env", "file")):
        raise Problem("must be a reference: env:NAME or file:PATH")
    return value


class Pkcs11Section(Section):
    """``[keys.pkcs11]``: the report-signing key (and, with ``audit_key_label``, the audit
    checkpoint key) held in an HSM through its PKCS#11 module."""

    module: Annotated[str, AfterValidator(_absolute)]
    token_label: Annotated[str, AfterValidator(_hsm_label)]
    pin: Annotated[str, AfterValidator(_pin_reference)]
    signing_key_label: Annotated[str, AfterValidator(_hsm_label)] = "hedui-signing"
    audit_key_label: Annotated[str, AfterValidator(_hsm_label)] | None = None


SIGNING_ALGORITHMS = ("ed25519", "sm2")


def _sign_with(algorithms: list[str]) -> list[str]:
    if not algorithms:
        raise Problem("must name at least one of ed25519, sm2")
    for algorithm in algorithms:
        if algorithm not in SIGNING_ALGORITHMS:
            raise Problem("names an unknown algorithm; one of ed25519, sm2")
    if len(set(algorithms)) != len(algorithms):
        raise Problem("names an algorithm twice")
    return algorithms


class KeysSection(Section):
    """``[keys]``. ``sign_with``: the algorithms reports, change documents and audit
    checkpoints are signed with, each signature verifiable alone; unset: Ed25519, and SM2
    too where the system's OpenSSL has it."""

    dir: Annotated[str, AfterValidator(_not_empty)] = "var/keys"
    pkcs11: Pkcs11Section | None = None
    sign_with: Annotated[list[str], AfterValidator(_sign_with)] | None = None
    seal_with: SealWith = "aes-256-gcm"
    """The AEAD new values at rest are sealed with; values of either always open."""


class LimitsSection(Section):
    """``[limits]``: checks per user in 24 hours."""

    per_user_daily_soft: Annotated[int, between(1, 1_000_000_000)] = 50
    per_user_daily_hard: Annotated[int, between(1, 1_000_000_000)] = 200

    @model_validator(mode="after")
    def _ordered(self) -> LimitsSection:
        if self.per_user_daily_soft > self.per_user_daily_hard:
            raise Problem("must not exceed per_user_daily_hard", "per_user_daily_soft")
        return self


class TlsSection(Section):
    """``[tls]``. A file without it means production: a deployment has to say it is not
    one."""

    mode: TlsMode = "production"
    cert: str = ""
    key: str = ""
    client_ca: str = ""
    require_client_auth: bool = True
    insecure_plaintext: bool = False


# A GB/T 2260 code prefix: 1-6 ASCII digits (isdigit() would take fullwidth and other digits).
_REGION_PREFIX = re.compile(r"[0-9]{1,6}", re.ASCII)
_ROLES = frozenset(r.value for r in Role)


def _roles(roles: list[str]) -> list[str]:
    for role in roles:
        if role not in _ROLES:
            raise Problem(f"unknown role {role!r}; one of {', '.join(sorted(_ROLES))}")
    return roles


def _regions(regions: list[str]) -> list[str]:
    if not regions or any(not _REGION_PREFIX.fullmatch(r) for r in regions):
        raise Problem("must be GB/T 2260 code prefixes")
    return regions


class PrincipalSection(Section):
    """``[principals.SYSTEM]``: the calling system named by its client certificate."""

    roles: Annotated[list[str], AfterValidator(_roles)] = Field(default_factory=list)
    regions: Annotated[list[str], AfterValidator(_regions)]


def _region_code(code: str) -> str:
    if not re.fullmatch(r"[1-9][0-9]{5}", code, re.ASCII):
        raise Problem("must be a 6-digit region code")
    return code


class PolicySection(Section):
    """``[policy]``."""

    allow_example_parameters: list[Annotated[str, AfterValidator(_region_code)]] = Field(
        default_factory=list
    )


def _system_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}", value, re.ASCII):
        raise Problem("must be 1-64 characters of A-Z a-z 0-9 . _ -")
    return value


class RosterSection(Section):
    """``[roster]``: the re-check scheduler."""

    scheduler: bool = True
    system: Annotated[str, AfterValidator(_system_name)] = "hedui-roster"
    interval: Annotated[float, between(0.05, 3600)] = 5.0
    lease_seconds: Annotated[float, between(1, 86400)] = 120.0
    batch: Annotated[int, between(1, 1000)] = 16


class BatchesSection(Section):
    """``[batches]``: the batch runner."""

    runner: bool = True
    concurrency: Annotated[int, between(1, 1024)] = 16
    lease_seconds: Annotated[float, between(5, 86400)] = 120.0
    interval: Annotated[float, between(0.05, 3600)] = 1.0


class TimeLimitsSection(Section):
    """``[time_limits]``: urgent checks' first report and the overdue scan."""

    urgent_first_report_seconds: Annotated[float, between(0.05, 600)] = 5.0
    overdue_scan_seconds: Annotated[float, between(1, 86400)] = 60.0


def scalar_options(options: dict[str, Any]) -> dict[str, Any]:
    """An adapter's ``options``: text, numbers or booleans (the adapter gets them as text)."""
    for key, value in options.items():
        if not isinstance(value, str | int | float):
            raise Problem("must be text, a number or true/false", key)
    return options
