"""One configuration file (TOML) for the operator; the embedded default needs none.

Environment overrides: ``HEDUI_CONFIG`` (file path), ``HEDUI_DATABASE_URL``,
``HEDUI_KEYS_DIR``, ``HEDUI_LISTEN``. Credentials are references, never values:
``env:NAME`` or ``file:/run/secrets/name``; ``value:...`` is accepted for sandbox tokens.
"""

from __future__ import annotations

import os
import re
import tomllib
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from hedui_sdk import AdapterSettings, Secret, SourceKind
from verifier.domain.vocabulary import Role
from verifier.domain.webhooks import DEFAULT_RETRY_SCHEDULE, SUBSCRIBABLE, SUBSCRIBER_NAME

DEFAULT_SANDBOX_PORT = 8600
DEFAULT_LISTEN = "127.0.0.1:50051"
SEED_REGIONS = ("370322", "370305", "370281", "371522", "341824")
# A GB/T 2260 code prefix: 1-6 ASCII digits (isdigit() would take fullwidth and other digits).
_REGION_PREFIX = re.compile(r"[0-9]{1,6}", re.ASCII)


class ConfigError(ValueError):
    """The configuration is wrong; the message names the key."""


@dataclass(frozen=True)
class Principal:
    """A calling system: which roles its users may act in, which regions it serves."""

    system: str
    roles: tuple[str, ...]
    regions: tuple[str, ...]


@dataclass(frozen=True)
class SourceConfig:
    source: SourceKind
    adapter: str
    base_url: str
    timeout: float = 10.0
    retries: int = 2
    max_concurrency: int = 8
    rate_limit: float = 0.0
    breaker_threshold: int = 5
    breaker_reset: float = 30.0
    reuse_days: int = 0
    due_working_days: int = 1
    batch_reserve: float = 0.25
    """Share of the source's concurrency and rate-limit burst batch calls leave free."""
    credentials: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, str] = field(default_factory=dict)

    def settings(self) -> AdapterSettings:
        return AdapterSettings(
            base_url=self.base_url,
            credentials={
                k: resolve_secret(v, f"sources.{self.source.value}.credentials.{k}")
                for k, v in self.credentials.items()
            },
            options=dict(self.options),
            timeout=self.timeout,
        )


TLS_MODES = ("production", "development")
DEFAULT_PKI_DIR = Path("var/pki")


@dataclass(frozen=True)
class TlsConfig:
    """The gRPC server's transport. ``production`` refuses to start without mTLS (client
    certificates required); ``development`` may also run plaintext, and only on loopback.
    Enforced when the server starts (``verifier.api.tls.server_credentials_for``), because
    ``HEDUI_LISTEN`` can change the address after this file is read."""

    mode: str = "production"
    cert: Path | None = None
    key: Path | None = None
    client_ca: Path | None = None
    require_client_auth: bool = True
    insecure_plaintext: bool = False

    @classmethod
    def local_pki(cls, directory: Path = DEFAULT_PKI_DIR, mode: str = "development") -> TlsConfig:
        """The files ``hedui certs init --dir DIRECTORY`` writes."""
        return cls(
            mode=mode,
            cert=directory / "server.pem",
            key=directory / "server.key",
            client_ca=directory / "ca.pem",
        )


@dataclass(frozen=True)
class SubscriberConfig:
    """A webhook receiver: ``[webhooks.subscribers.NAME]``. ``secrets`` are references
    (``env:NAME`` or ``file:PATH``), one or two: during a rotation both sign every
    delivery."""

    name: str
    url: str
    events: tuple[str, ...]
    secrets: tuple[str, ...]

    def resolved_secrets(self) -> tuple[Secret, ...]:
        return tuple(
            resolve_secret(ref, f"webhooks.subscribers.{self.name}.secrets[{i}]")
            for i, ref in enumerate(self.secrets)
        )


@dataclass(frozen=True)
class WebhooksConfig:
    """``[webhooks]``: delivery settings and the subscribers (their delivery state is in
    the database)."""

    subscribers: Mapping[str, SubscriberConfig] = field(default_factory=dict)
    timeout_seconds: float = 10.0
    lease_seconds: float = 60.0
    interval_seconds: float = 1.0
    retry_schedule_seconds: tuple[float, ...] = tuple(
        d.total_seconds() for d in DEFAULT_RETRY_SCHEDULE
    )


@dataclass(frozen=True)
class RosterConfig:
    """The re-check scheduler every serving replica runs (``[roster]``)."""

    scheduler: bool = True
    """Run due re-checks in this process (replicas share the jobs through leases)."""
    system: str = "hedui-roster"
    """The system name the scheduler's checks are recorded under in the audit log."""
    interval: float = 5.0
    """Seconds between idle rounds."""
    lease_seconds: float = 120.0
    """How long a replica holds a job before another may take it over."""
    batch: int = 16
    """Jobs one replica leases and starts at a time."""


@dataclass(frozen=True)
class BatchesConfig:
    """The batch runner every serving replica runs (``[batches]``)."""

    runner: bool = True
    """Run batch items in this process (replicas share them through leases)."""
    concurrency: int = 16
    """Items one replica runs at once (each is one check, at batch priority)."""
    lease_seconds: float = 120.0
    """How long a replica holds an item before another may take it over."""
    interval: float = 1.0
    """Seconds between idle rounds."""


@dataclass(frozen=True)
class TimeLimitsConfig:
    """Urgent checks and the overdue scan (``[time_limits]``); the limits themselves are
    region parameters (``check_due_working_days``, ``urgent_due_hours``)."""

    urgent_first_report_seconds: float = 5.0
    """An urgent check's version 1 waits at most this long for slow sources."""
    overdue_scan_seconds: float = 60.0
    """Seconds between scans for checks past their due time."""


@dataclass(frozen=True)
class Config:
    listen: str = DEFAULT_LISTEN
    database_url: str = "sqlite:///var/hedui.db"
    keys_dir: Path = Path("var/keys")
    deadline_seconds: float = 30.0
    principals: Mapping[str, Principal] = field(default_factory=dict)
    sources: Mapping[SourceKind, SourceConfig] = field(default_factory=dict)
    lock_timeout_ms: int = 5000
    """How long a statement may wait for a lock before the request fails UNAVAILABLE."""
    volume_soft: int = 50
    """Checks per user in 24 hours after which an anomaly entry is written."""
    volume_hard: int = 200
    """Checks per user in 24 hours after which further checks are refused."""
    poll_interval: float = 1.0
    poll_lease_seconds: float = 60.0
    tls: TlsConfig = field(default_factory=TlsConfig)
    allow_example_parameters: tuple[str, ...] = ()
    """Region codes whose policy may be served in production although some parameters in
    force are example values (``[policy] allow_example_parameters``): an explicit opt-in."""
    roster: RosterConfig = field(default_factory=RosterConfig)
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)
    batches: BatchesConfig = field(default_factory=BatchesConfig)
    time_limits: TimeLimitsConfig = field(default_factory=TimeLimitsConfig)


def resolve_secret(ref: str, where: str) -> Secret:
    kind, _, rest = ref.partition(":")
    if kind == "env":
        value = os.environ.get(rest)
        if value is None:
            raise ConfigError(f"{where}: environment variable {rest} is not set")
        return Secret(value)
    if kind == "file":
        try:
            return Secret(Path(rest).read_text().strip())
        except OSError:
            raise ConfigError(f"{where}: cannot read {rest}") from None
    if kind == "value":
        return Secret(rest)
    raise ConfigError(f"{where}: must start with env:, file: or value:")


def sandbox_sources(
    port: int = DEFAULT_SANDBOX_PORT, host: str = "127.0.0.1"
) -> dict[SourceKind, SourceConfig]:
    """Every built-in adapter pointed at a local ``hedui sandbox``."""
    return {
        kind: SourceConfig(
            source=kind,
            adapter=kind.value,
            base_url=f"http://{host}:{port}/{kind.value}",
            timeout=5.0,
            credentials={"token": f"value:sandbox-{kind.value}-token"},
            # Banks answer late and their answers stay good for a while (seed documents).
            reuse_days=30 if kind is SourceKind.BANK else 0,
            due_working_days=5 if kind is SourceKind.BANK else 1,
        )
        for kind in SourceKind
    }


def default_config() -> Config:
    """The embedded default: SQLite under ./var, the local sandbox, one local principal."""
    return Config(
        principals={"local-case-system": Principal("local-case-system", tuple(Role), SEED_REGIONS)},
        sources=sandbox_sources(),
        # Local, so development: mTLS with `hedui certs init` files, plaintext on loopback
        # only when asked for.
        tls=TlsConfig.local_pki(),
    )


def _database_url(url: str, where: str = "database.url") -> str:
    """``url`` when hedui can open it. Messages never repeat the URL: it may hold a password."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"{where}: not a database URL") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"{where}: use sqlite or postgresql, not {backend}")
    if backend == "sqlite" and parsed.query:
        raise ConfigError(f"{where}: sqlite URLs take no options")
    return url


def _get(table: Mapping[str, Any], key: str, kind: type, where: str, default: Any) -> Any:
    value = table.get(key, default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ConfigError(f"{where}.{key}: must be {kind.__name__}")
    return value


def parse_config(doc: Mapping[str, Any]) -> Config:
    base = default_config()
    server = doc.get("server", {})
    db = doc.get("database", {})
    keys = doc.get("keys", {})
    principals: dict[str, Principal] = dict(base.principals)
    if "principals" in doc:
        principals = {}
        for system, p in doc["principals"].items():
            roles = tuple(_get(p, "roles", list, f"principals.{system}", []))
            regions = tuple(_get(p, "regions", list, f"principals.{system}", []))
            bad = [r for r in roles if r not in set(Role)]
            if bad:
                raise ConfigError(f"principals.{system}.roles: unknown role {bad[0]!r}")
            if not regions or any(
                not (isinstance(r, str) and _REGION_PREFIX.fullmatch(r)) for r in regions
            ):
                raise ConfigError(f"principals.{system}.regions: must be GB/T 2260 code prefixes")
            principals[system] = Principal(system, roles, regions)
    sources: dict[SourceKind, SourceConfig] = dict(base.sources)
    if "sources" in doc:
        sources = {}
        for name, s in doc["sources"].items():
            where = f"sources.{name}"
            try:
                kind = SourceKind(name)
            except ValueError:
                raise ConfigError(
                    f"{where}: unknown source; one of {', '.join(k.value for k in SourceKind)}"
                ) from None
            sources[kind] = SourceConfig(
                source=kind,
                adapter=_get(s, "adapter", str, where, name),
                base_url=_get(s, "base_url", str, where, ""),
                timeout=_get(s, "timeout", float, where, 10.0),
                retries=_get(s, "retries", int, where, 2),
                max_concurrency=_get(s, "max_concurrency", int, where, 8),
                rate_limit=_get(s, "rate_limit", float, where, 0.0),
                breaker_threshold=_get(s, "breaker_threshold", int, where, 5),
                breaker_reset=_get(s, "breaker_reset", float, where, 30.0),
                reuse_days=_get(s, "reuse_days", int, where, 0),
                due_working_days=_get(s, "due_working_days", int, where, 1),
                batch_reserve=_get(s, "batch_reserve", float, where, 0.25),
                credentials=dict(_get(s, "credentials", dict, where, {})),
                options={k: str(v) for k, v in _get(s, "options", dict, where, {}).items()},
            )
            sc = sources[kind]
            if not sc.base_url:
                raise ConfigError(f"{where}.base_url: must be set")
            for name, value, low in (
                ("timeout", sc.timeout, 0.001), ("max_concurrency", sc.max_concurrency, 1),
                ("breaker_threshold", sc.breaker_threshold, 1), ("retries", sc.retries, 0),
                ("rate_limit", sc.rate_limit, 0), ("reuse_days", sc.reuse_days, 0),
                ("due_working_days", sc.due_working_days, 0),
                ("breaker_reset", sc.breaker_reset, 0),
            ):  # fmt: skip
                if value < low:
                    raise ConfigError(f"{where}.{name}: must be at least {low}")
            if not 0 <= sc.batch_reserve < 1:
                raise ConfigError(f"{where}.batch_reserve: must be at least 0 and below 1")
    return Config(
        tls=_parse_tls(doc.get("tls", {})),
        listen=_get(server, "listen", str, "server", base.listen),
        database_url=_database_url(_get(db, "url", str, "database", base.database_url)),
        lock_timeout_ms=_get(db, "lock_timeout_ms", int, "database", base.lock_timeout_ms),
        keys_dir=Path(_get(keys, "dir", str, "keys", str(base.keys_dir))),
        deadline_seconds=_get(server, "deadline_seconds", float, "server", base.deadline_seconds),
        principals=principals,
        sources=sources,
        poll_interval=_get(server, "poll_interval", float, "server", base.poll_interval),
        volume_soft=_get(
            doc.get("limits", {}), "per_user_daily_soft", int, "limits", base.volume_soft
        ),
        volume_hard=_get(
            doc.get("limits", {}), "per_user_daily_hard", int, "limits", base.volume_hard
        ),
        poll_lease_seconds=_get(
            server, "poll_lease_seconds", float, "server", base.poll_lease_seconds
        ),
        allow_example_parameters=_parse_policy(doc.get("policy", {})),
        webhooks=_parse_webhooks(doc.get("webhooks", {})),
        roster=_parse_roster(doc.get("roster", {})),
        batches=_parse_batches(doc.get("batches", {})),
        time_limits=_parse_time_limits(doc.get("time_limits", {})),
    )


def _known(table: Mapping[str, Any], section: str, known: set[str]) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{section}.{unknown[0]}: unknown key; known: {', '.join(sorted(known))}")


def _parse_batches(table: Mapping[str, Any]) -> BatchesConfig:
    """``[batches]``: the batch runner; unknown keys refused, bounds checked."""
    base = BatchesConfig()
    _known(table, "batches", {"runner", "concurrency", "lease_seconds", "interval"})
    cfg = BatchesConfig(
        runner=_get(table, "runner", bool, "batches", base.runner),
        concurrency=_get(table, "concurrency", int, "batches", base.concurrency),
        lease_seconds=_get(table, "lease_seconds", float, "batches", base.lease_seconds),
        interval=_get(table, "interval", float, "batches", base.interval),
    )
    for name, value, low, high in (
        ("concurrency", cfg.concurrency, 1, 1024),
        ("lease_seconds", cfg.lease_seconds, 5.0, 86400.0),
        ("interval", cfg.interval, 0.05, 3600.0),
    ):
        if not low <= value <= high:
            raise ConfigError(f"batches.{name}: must be between {low} and {high}")
    return cfg


def _parse_time_limits(table: Mapping[str, Any]) -> TimeLimitsConfig:
    """``[time_limits]``: urgent checks' first report and the overdue scan."""
    base = TimeLimitsConfig()
    _known(table, "time_limits", {"urgent_first_report_seconds", "overdue_scan_seconds"})
    cfg = TimeLimitsConfig(
        urgent_first_report_seconds=_get(
            table, "urgent_first_report_seconds", float, "time_limits",
            base.urgent_first_report_seconds,
        ),
        overdue_scan_seconds=_get(
            table, "overdue_scan_seconds", float, "time_limits", base.overdue_scan_seconds
        ),
    )  # fmt: skip
    for name, value, low, high in (
        ("urgent_first_report_seconds", cfg.urgent_first_report_seconds, 0.05, 600.0),
        ("overdue_scan_seconds", cfg.overdue_scan_seconds, 1.0, 86400.0),
    ):
        if not low <= value <= high:
            raise ConfigError(f"time_limits.{name}: must be between {low} and {high}")
    return cfg


def _parse_roster(table: Mapping[str, Any]) -> RosterConfig:
    """``[roster]``: the re-check scheduler; unknown keys refused, bounds checked."""
    base = RosterConfig()
    known = {"scheduler", "system", "interval", "lease_seconds", "batch"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"roster.{unknown[0]}: unknown key; known: {', '.join(sorted(known))}")
    cfg = RosterConfig(
        scheduler=_get(table, "scheduler", bool, "roster", base.scheduler),
        system=_get(table, "system", str, "roster", base.system),
        interval=_get(table, "interval", float, "roster", base.interval),
        lease_seconds=_get(table, "lease_seconds", float, "roster", base.lease_seconds),
        batch=_get(table, "batch", int, "roster", base.batch),
    )
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}", cfg.system, re.ASCII):
        raise ConfigError("roster.system: must be 1-64 characters of A-Z a-z 0-9 . _ -")
    for name, value, low, high in (
        ("interval", cfg.interval, 0.05, 3600.0),
        ("lease_seconds", cfg.lease_seconds, 1.0, 86400.0),
        ("batch", cfg.batch, 1, 1000),
    ):
        if not low <= value <= high:
            raise ConfigError(f"roster.{name}: must be between {low} and {high}")
    return cfg


def _parse_policy(table: Mapping[str, Any]) -> tuple[str, ...]:
    """``[policy] allow_example_parameters = ["370322"]``: region codes, each a full match."""
    unknown = sorted(set(table) - {"allow_example_parameters"})
    if unknown:
        raise ConfigError(f"policy.{unknown[0]}: unknown key; known: allow_example_parameters")
    codes = _get(table, "allow_example_parameters", list, "policy", [])
    for i, code in enumerate(codes):
        if not (isinstance(code, str) and re.fullmatch(r"[1-9][0-9]{5}", code)):
            raise ConfigError(
                f"policy.allow_example_parameters[{i}]: must be a 6-digit region code"
            )
    return tuple(dict.fromkeys(codes))


_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_PRINTABLE_URL = re.compile(r"[!-~]{1,2048}", re.ASCII)
_DAY_SECONDS = 24 * 3600


def _parse_webhooks(table: Mapping[str, Any]) -> WebhooksConfig:
    """``[webhooks]`` and its ``[webhooks.subscribers.NAME]`` tables; unknown keys refused.
    The retry schedule must keep trying for at least a day (a receiver down for a day
    loses nothing)."""
    base = WebhooksConfig()
    known = {"subscribers", "timeout_seconds", "lease_seconds", "interval_seconds"}
    known |= {"retry_schedule_seconds"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"webhooks.{unknown[0]}: unknown key; known: {', '.join(sorted(known))}")
    timeout = _get(table, "timeout_seconds", float, "webhooks", base.timeout_seconds)
    lease = _get(table, "lease_seconds", float, "webhooks", base.lease_seconds)
    interval = _get(table, "interval_seconds", float, "webhooks", base.interval_seconds)
    if not 0.1 <= timeout <= 60:
        raise ConfigError("webhooks.timeout_seconds: must be between 0.1 and 60")
    if not timeout < lease <= 3600:
        raise ConfigError("webhooks.lease_seconds: must exceed timeout_seconds, at most 3600")
    if not 0.05 <= interval <= 60:
        raise ConfigError("webhooks.interval_seconds: must be between 0.05 and 60")
    schedule = _get(table, "retry_schedule_seconds", list, "webhooks", [])
    delays = base.retry_schedule_seconds
    if "retry_schedule_seconds" in table:
        if not 1 <= len(schedule) <= 30 or not all(
            isinstance(d, int | float) and not isinstance(d, bool) and 0 <= d <= 2 * _DAY_SECONDS
            for d in schedule
        ):
            raise ConfigError(
                "webhooks.retry_schedule_seconds: 1 to 30 waits, each 0 to 172800 seconds"
            )
        if sum(schedule) < _DAY_SECONDS:
            raise ConfigError(
                "webhooks.retry_schedule_seconds: must add up to at least 86400 (a day)"
            )
        delays = tuple(float(d) for d in schedule)
    subscribers: dict[str, SubscriberConfig] = {}
    for name, sub in _get(table, "subscribers", dict, "webhooks", {}).items():
        subscribers[name] = _parse_subscriber(name, sub)
    return WebhooksConfig(subscribers, timeout, lease, interval, delays)


def _parse_subscriber(name: str, table: Any) -> SubscriberConfig:
    where = f"webhooks.subscribers.{name}"
    if SUBSCRIBER_NAME.problem(name) is not None:
        raise ConfigError(f"{where}: the name must be {SUBSCRIBER_NAME.rule}")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table")
    known = {"url", "events", "secrets"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key; known: {', '.join(sorted(known))}")
    url = _get(table, "url", str, where, "")
    parts = urllib.parse.urlsplit(url) if _PRINTABLE_URL.fullmatch(url) else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
        # Never repeat the URL: its query may hold a token.
        raise ConfigError(f"{where}.url: must be an https:// URL")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise ConfigError(f"{where}.url: must be https:// (http:// only to loopback)")
    events = _get(table, "events", list, where, [])
    names = sorted(str(e) for e in SUBSCRIBABLE)
    if not events or any(e not in names for e in events):
        raise ConfigError(f"{where}.events: one or more of {', '.join(names)}")
    secrets = _get(table, "secrets", list, where, [])
    if not 1 <= len(secrets) <= 2:
        raise ConfigError(f"{where}.secrets: one reference, or two while rotating")
    for i, ref in enumerate(secrets):
        kind, _, rest = ref.partition(":") if isinstance(ref, str) else ("", "", "")
        if kind not in ("env", "file") or not rest:
            raise ConfigError(f"{where}.secrets[{i}]: must be env:NAME or file:PATH")
    return SubscriberConfig(name, url, tuple(dict.fromkeys(events)), tuple(secrets))


def _parse_tls(table: Mapping[str, Any]) -> TlsConfig:
    """A config file without a ``[tls]`` section means production: a deployment has to say
    it is not one."""
    known = {"mode", "cert", "key", "client_ca", "require_client_auth", "insecure_plaintext"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"tls.{unknown[0]}: unknown key; known: {', '.join(sorted(known))}")
    mode = _get(table, "mode", str, "tls", "production")
    if mode not in TLS_MODES:
        raise ConfigError(f"tls.mode: must be one of {', '.join(TLS_MODES)}")

    def path(key: str) -> Path | None:
        value = _get(table, key, str, "tls", "")
        return Path(value) if value else None

    return TlsConfig(
        mode=mode,
        cert=path("cert"),
        key=path("key"),
        client_ca=path("client_ca"),
        require_client_auth=_get(table, "require_client_auth", bool, "tls", True),
        insecure_plaintext=_get(table, "insecure_plaintext", bool, "tls", False),
    )


def load_config(path: Path | None = None) -> Config:
    path = path or (Path(os.environ["HEDUI_CONFIG"]) if os.environ.get("HEDUI_CONFIG") else None)
    if path is None:
        cfg = default_config()
    else:
        try:
            doc = tomllib.loads(path.read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config {path} is not valid TOML: {exc}") from None
        cfg = parse_config(doc)
    overrides: dict[str, Any] = {}
    if os.environ.get("HEDUI_DATABASE_URL"):
        overrides["database_url"] = _database_url(
            os.environ["HEDUI_DATABASE_URL"], "HEDUI_DATABASE_URL"
        )
    if os.environ.get("HEDUI_KEYS_DIR"):
        overrides["keys_dir"] = Path(os.environ["HEDUI_KEYS_DIR"])
    if os.environ.get("HEDUI_LISTEN"):
        overrides["listen"] = os.environ["HEDUI_LISTEN"]
    if overrides:
        from dataclasses import replace

        cfg = replace(cfg, **overrides)
    return cfg
