"""Reading the configuration: a TOML file, then ``HEDUI_*`` environment overrides.

The file is checked strictly (TOML has types). The environment then overrides single
keys, ``HEDUI_`` + the key's path joined by ``__`` (``HEDUI_DATABASE__URL``,
``HEDUI_SOURCES__TAX__TIMEOUT``, ``HEDUI_WEBHOOKS__SUBSCRIBERS__CASE__SECRETS='["env:X"]'``;
lists and tables as JSON), read by pydantic-settings and parsed from text. A mistake in
either names the key, or the variable it came from. ``HEDUI_DATABASE_URL``,
``HEDUI_KEYS_DIR`` and ``HEDUI_LISTEN`` are the older names of three of them and still
work (the ``__`` name wins when both are set). ``HEDUI_CONFIG`` names the file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict, SettingsError

from hedui_sdk import SourceKind
from verifier.config.console_section import ConsoleSection, console_config
from verifier.config.errors import ConfigError, describe
from verifier.config.federation_section import FederationSection, federation_config
from verifier.config.model import (
    BatchesConfig,
    Config,
    MetricsConfig,
    Pkcs11Config,
    Principal,
    RosterConfig,
    SubscriberConfig,
    TimeLimitsConfig,
    TlsConfig,
    TracingConfig,
    WebhooksConfig,
    default_config,
)
from verifier.config.observability_section import MetricsSection, TracingSection
from verifier.config.secrets import is_reference, resolve_secret
from verifier.config.sections import (
    BatchesSection,
    DatabaseSection,
    KeysSection,
    LimitsSection,
    PolicySection,
    PrincipalSection,
    RosterSection,
    Section,
    ServerSection,
    TimeLimitsSection,
    TlsSection,
)
from verifier.config.sources import SourceSection, check_source_names, source_config
from verifier.config.urls import database_url_problem
from verifier.config.webhook_section import WebhooksSection
from verifier.domain.source_policy import POLICY_KNOBS

ENV_PREFIX = "HEDUI_"
ENV_DELIMITER = "__"
LEGACY_ENV = {
    "HEDUI_DATABASE_URL": ("database", "url"),
    "HEDUI_KEYS_DIR": ("keys", "dir"),
    "HEDUI_LISTEN": ("server", "listen"),
}
"""Older names of three overrides, kept working."""


class ConfigFile(Section):
    """The whole file. ``principals`` and ``sources`` absent mean the embedded default's
    (one local principal, the sandbox); present, they replace it."""

    server: ServerSection = Field(default_factory=ServerSection)
    database: DatabaseSection = Field(default_factory=DatabaseSection)
    keys: KeysSection = Field(default_factory=KeysSection)
    limits: LimitsSection = Field(default_factory=LimitsSection)
    tls: TlsSection = Field(default_factory=TlsSection)
    principals: dict[str, PrincipalSection] = Field(default_factory=dict)
    sources: dict[str, SourceSection] = Field(default_factory=dict)
    policy: PolicySection = Field(default_factory=PolicySection)
    webhooks: WebhooksSection = Field(default_factory=WebhooksSection)
    roster: RosterSection = Field(default_factory=RosterSection)
    batches: BatchesSection = Field(default_factory=BatchesSection)
    time_limits: TimeLimitsSection = Field(default_factory=TimeLimitsSection)
    metrics: MetricsSection = Field(default_factory=MetricsSection)
    tracing: TracingSection = Field(default_factory=TracingSection)
    federation: FederationSection = Field(default_factory=FederationSection)
    console: ConsoleSection = Field(default_factory=ConsoleSection)

    _source_names = field_validator("sources", mode="before")(check_source_names)


class EnvironmentOverrides(BaseSettings, ConfigFile):
    """The same keys, read from ``HEDUI_*`` variables by pydantic-settings."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        env_ignore_empty=True,
        case_sensitive=False,
        extra="forbid",
        strict=True,
        frozen=True,
    )


def _environment() -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """The overrides as a nested table, and which variable set each overridden path."""
    env = {k.upper(): v for k, v in os.environ.items()}
    sections = set(ConfigFile.model_fields)
    for name in env:
        if name.startswith(ENV_PREFIX) and ENV_DELIMITER in name:
            section = name[len(ENV_PREFIX) :].split(ENV_DELIMITER, 1)[0].lower()
            if section not in sections:
                raise ConfigError(f"{name}: unknown key; known: {', '.join(sorted(sections))}")
    try:
        tree: dict[str, Any] = EnvSettingsSource(EnvironmentOverrides)()
    except SettingsError as exc:
        raise ConfigError(f"environment: {exc}") from None
    names: dict[tuple[str, ...], str] = {}
    for name, path in LEGACY_ENV.items():
        section, key = path
        if env.get(name) and key not in tree.get(section, {}):
            tree.setdefault(section, {})[key] = env[name]
            names[path] = name
    _name_leaves(tree, (), env, names)
    return tree, names


def _name_leaves(
    node: Mapping[str, Any],
    path: tuple[str, ...],
    env: Mapping[str, str],
    names: dict[tuple[str, ...], str],
) -> None:
    for key, value in node.items():
        here = (*path, key)
        name = ENV_PREFIX + ENV_DELIMITER.join(here).upper()
        if here in names:
            continue
        if name in env:
            names[here] = name
        elif isinstance(value, Mapping):
            _name_leaves(value, here, env, names)


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _check(
    doc: Mapping[str, Any], names: Mapping[tuple[str, ...], str] | None = None
) -> ConfigFile:
    """``doc`` checked: strictly when it is the file alone, from text where the
    environment overrode it."""

    given = names or {}

    def source_of(path: tuple[str, ...]) -> tuple[str, tuple[str, ...]] | None:
        for i in range(len(path), 0, -1):
            if path[:i] in given:
                return given[path[:i]], path[i:]
        # A table the variable's name made up (HEDUI_SOURCES__TAXX__TIMEOUT: no source taxx).
        return next(((name, ()) for p, name in given.items() if p[: len(path)] == path), None)

    try:
        return ConfigFile.model_validate(doc, strict=names is None)
    except ValidationError as exc:
        raise describe(exc, ConfigFile, source_of) from None


def parse_config(doc: Mapping[str, Any]) -> Config:
    """The configuration a file holds (its TOML as a table); the environment is not read."""
    return _build(_check(doc), {})


def load_config(path: Path | None = None) -> Config:
    """The configuration: ``path`` (or ``HEDUI_CONFIG``'s file, or the embedded default),
    then the ``HEDUI_*`` overrides."""
    if path is None and os.environ.get("HEDUI_CONFIG"):
        path = Path(os.environ["HEDUI_CONFIG"])
    doc: dict[str, Any]
    if path is not None:
        try:
            doc = tomllib.loads(path.read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config {path} is not valid TOML: {exc}") from None
    else:
        doc = {}
    doc = {**_embedded(with_tls=path is None), **doc}
    checked = _check(doc)
    overrides, names = _environment()
    if overrides:
        checked = _check(_merge(doc, overrides), names)
    return _build(checked, names)


def _embedded(with_tls: bool) -> dict[str, Any]:
    """The embedded default's principals and sandbox sources (and, without a file, its
    transport: development, the local PKI) as tables the file replaces and the
    environment overrides key by key."""
    base = default_config()
    doc: dict[str, Any] = {
        "principals": {
            system: {"roles": list(p.roles), "regions": list(p.regions)}
            for system, p in base.principals.items()
        },
        "sources": {
            kind.value: {
                "adapter": sc.adapter,
                "base_url": sc.base_url,
                "credentials": dict(sc.credentials),
                "options": dict(sc.options),
                **{name: getattr(sc.policy, name) for name in POLICY_KNOBS},
            }
            for kind, sc in base.sources.items()
        },
    }
    if with_tls:
        tls = base.tls
        paths = {"cert": tls.cert, "key": tls.key, "client_ca": tls.client_ca}
        doc["tls"] = {"mode": tls.mode, **{k: str(v) for k, v in paths.items() if v}}
    return doc


def _build(checked: ConfigFile, names: Mapping[tuple[str, ...], str]) -> Config:
    """The checked tables as the frozen values the rest of hedui uses."""
    base = default_config()
    given = checked.model_fields_set
    server, limits = checked.server, checked.limits
    return Config(
        listen=server.listen,
        database_url=_database_url(checked.database, names),
        keys_dir=Path(checked.keys.dir),
        deadline_seconds=server.deadline_seconds,
        principals=(
            {
                system: Principal(system, tuple(p.roles), tuple(p.regions))
                for system, p in checked.principals.items()
            }
            if "principals" in given
            else base.principals
        ),
        sources=(
            {
                SourceKind(name): source_config(SourceKind(name), table)
                for name, table in checked.sources.items()
            }
            if "sources" in given
            else base.sources
        ),
        lock_timeout_ms=checked.database.lock_timeout_ms,
        volume_soft=limits.per_user_daily_soft,
        volume_hard=limits.per_user_daily_hard,
        poll_interval=server.poll_interval,
        poll_lease_seconds=server.poll_lease_seconds,
        tls=_tls(checked.tls),
        allow_example_parameters=tuple(dict.fromkeys(checked.policy.allow_example_parameters)),
        roster=RosterConfig(**checked.roster.model_dump()),
        webhooks=_webhooks(checked.webhooks),
        batches=BatchesConfig(**checked.batches.model_dump()),
        time_limits=TimeLimitsConfig(**checked.time_limits.model_dump()),
        metrics=MetricsConfig(**checked.metrics.model_dump()),
        tracing=TracingConfig(**checked.tracing.model_dump()),
        federation=federation_config(checked.federation),
        console=console_config(checked.console),
        sign_with=tuple(checked.keys.sign_with or ()),
        seal_with=checked.keys.seal_with,
        pkcs11=(
            Pkcs11Config(**checked.keys.pkcs11.model_dump())
            if checked.keys.pkcs11 is not None
            else None
        ),
    )


def _tls(section: TlsSection) -> TlsConfig:
    return TlsConfig(
        mode=section.mode,
        cert=Path(section.cert) if section.cert else None,
        key=Path(section.key) if section.key else None,
        client_ca=Path(section.client_ca) if section.client_ca else None,
        require_client_auth=section.require_client_auth,
        insecure_plaintext=section.insecure_plaintext,
    )


def _webhooks(section: WebhooksSection) -> WebhooksConfig:
    base = WebhooksConfig()
    schedule = section.retry_schedule_seconds
    return WebhooksConfig(
        subscribers={
            name: SubscriberConfig(name, sub.url, tuple(sub.events), tuple(sub.secrets))
            for name, sub in section.subscribers.items()
        },
        timeout_seconds=section.timeout_seconds,
        lease_seconds=section.lease_seconds,
        interval_seconds=section.interval_seconds,
        retry_schedule_seconds=(
            base.retry_schedule_seconds if schedule is None else tuple(float(d) for d in schedule)
        ),
    )


def _database_url(section: DatabaseSection, names: Mapping[tuple[str, ...], str]) -> str:
    """The URL itself; a reference is read now, so every command sees the same URL."""
    where = names.get(("database", "url"), "database.url")
    if not is_reference(section.url, ("env", "file")):
        return section.url
    url = resolve_secret(section.url, where).reveal().strip()
    problem = database_url_problem(url)
    if problem:
        raise ConfigError(f"{where}: {problem}")
    return url
