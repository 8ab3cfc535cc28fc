"""The configuration as the rest of hedui sees it: frozen values, already checked.

:mod:`verifier.config.loading` builds them from a file and the environment; tests and
benchmarks build them directly. Credentials stay references (``env:NAME``,
``file:PATH``, ``value:...``) until an adapter or a webhook sender needs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from hedui_sdk import AdapterSettings, Secret, SourceKind
from verifier.config.secrets import resolve_secret
from verifier.domain.peers import FederationConfig
from verifier.domain.source_policy import SourcePolicy
from verifier.domain.vocabulary import Role
from verifier.domain.webhooks import DEFAULT_RETRY_SCHEDULE

DEFAULT_SANDBOX_PORT = 8600
DEFAULT_LISTEN = "127.0.0.1:50051"
SEED_REGIONS = ("370322", "370305", "370281", "371522", "341824")
TlsMode = Literal["production", "development"]
SealWith = Literal["aes-256-gcm", "sm4-gcm"]
"""The AEADs data at rest may be sealed with (``[keys] seal_with``)."""
TLS_MODES: tuple[str, ...] = get_args(TlsMode)
DEFAULT_PKI_DIR = Path("var/pki")


@dataclass(frozen=True)
class Principal:
    """A calling system: which roles its users may act in, which regions it serves."""

    system: str
    roles: tuple[str, ...]
    regions: tuple[str, ...]


@dataclass(frozen=True)
class SourceConfig:
    """A ``[sources.NAME]`` table: which adapter, where, with which credentials, and the
    :class:`SourcePolicy` the fan-out applies to it."""

    source: SourceKind
    adapter: str
    base_url: str
    policy: SourcePolicy = field(default_factory=SourcePolicy)
    credentials: Mapping[str, str] = field(default_factory=dict)
    """Name → reference (``env:NAME``, ``file:PATH`` or ``value:...``), never the value."""
    options: Mapping[str, str] = field(default_factory=dict)

    def settings(self) -> AdapterSettings:
        return AdapterSettings(
            base_url=self.base_url,
            credentials={
                k: resolve_secret(v, f"sources.{self.source.value}.credentials.{k}")
                for k, v in self.credentials.items()
            },
            options=dict(self.options),
            timeout=self.policy.timeout,
        )


@dataclass(frozen=True)
class TlsConfig:
    """The gRPC server's transport. ``production`` refuses to start without mTLS (client
    certificates required); ``development`` may also run plaintext, and only on loopback.
    Enforced when the server starts (``verifier.api.tls.server_credentials_for``), because
    ``HEDUI_SERVER__LISTEN`` can change the address after this file is read."""

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
class Pkcs11Config:
    """``[keys.pkcs11]``: signing keys in an HSM. ``pin`` stays a reference (``env:NAME``
    or ``file:PATH``) until the token is opened."""

    module: str
    token_label: str
    pin: str
    signing_key_label: str = "hedui-signing"
    audit_key_label: str | None = None
    """None: the audit checkpoint key stays a file key."""

    def resolved_pin(self) -> Secret:
        return resolve_secret(self.pin, "keys.pkcs11.pin")


@dataclass(frozen=True)
class MetricsConfig:
    """``[metrics]``: Prometheus' scrape address; empty, no metrics are kept or served."""

    listen: str = ""


@dataclass(frozen=True)
class TracingConfig:
    """``[tracing]``: the OTLP/gRPC collector spans are sent to; empty, no tracing."""

    otlp_endpoint: str = ""
    service_name: str = "hedui"
    sample_ratio: float = 1.0


@dataclass(frozen=True)
class ConsoleOidcConfig:
    """``[console.oidc]``: the web console's OpenID Connect sign-in."""

    issuer: str
    client_id: str
    client_secret: str = ""
    """A reference (``env:NAME`` or ``file:PATH``), read when the console starts."""
    role_claim: str = "hedui_role"
    regions_claim: str = "hedui_regions"
    user_claim: str = "preferred_username"


@dataclass(frozen=True)
class ConsoleConfig:
    """``[console]``: the web console (``hedui console``); its options override these."""

    listen: str = "127.0.0.1:8700"
    public_url: str = ""
    """How browsers reach it; empty: ``http://`` the listen address (loopback only)."""
    system: str = ""
    """The principal its users act through; empty: the only one configured."""
    session_minutes: int = 480
    link_minutes: int = 15
    """How long the one-time sign-in link printed at start stays good (unused)."""
    oidc: ConsoleOidcConfig | None = None


@dataclass(frozen=True)
class Config:
    listen: str = DEFAULT_LISTEN
    database_url: str = field(default="sqlite:///var/hedui.db", repr=False)
    """Resolved (a ``file:`` or ``env:`` reference is read when the file is); kept out of
    ``repr`` because it may hold a password."""
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
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    tracing: TracingConfig = field(default_factory=TracingConfig)
    federation: FederationConfig = field(default_factory=FederationConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    """``[federation]``: peers for cross-region checks (异地协查); none by default."""
    pkcs11: Pkcs11Config | None = None
    """Signing keys in an HSM (``[keys.pkcs11]``); None: file keys (the default)."""
    sign_with: tuple[str, ...] = ()
    seal_with: SealWith = "aes-256-gcm"
    """``[keys] seal_with``: AES-256-GCM or SM4-GCM for what is sealed from now on."""
    """Signature algorithms (``[keys] sign_with``: ``ed25519``, ``sm2``) in envelope order;
    empty: Ed25519, and SM2 too where the system's OpenSSL has it."""


def sandbox_sources(
    port: int = DEFAULT_SANDBOX_PORT, host: str = "127.0.0.1"
) -> dict[SourceKind, SourceConfig]:
    """Every built-in adapter pointed at a local ``hedui sandbox``."""
    return {
        kind: SourceConfig(
            source=kind,
            adapter=kind.value,
            base_url=f"http://{host}:{port}/{kind.value}",
            policy=SourcePolicy(
                timeout=5.0,
                # Banks answer late and their answers stay good for a while (seed documents).
                reuse_days=30 if kind is SourceKind.BANK else 0,
                due_working_days=5 if kind is SourceKind.BANK else 1,
            ),
            credentials={"token": f"value:sandbox-{kind.value}-token"},
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
