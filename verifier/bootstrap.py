"""Composition root: builds the service, and what each command needs, from configuration.
The only place that knows every concrete class: the API, the use cases and the commands
are given ports and built objects, never a database, a key file or a checkpointer."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.x509.oid import NameOID
from sqlalchemy.engine import make_url

from audit.checkpointer import DEFAULT_ORIGIN, Checkpointer, CheckpointSigner
from audit.fastverify import verify_database
from audit.verify import LogReport, verify_log
from hedui_sdk import Adapter, SourceKind, registry
from verifier.api.federation_client import GrpcPeerClient
from verifier.api.federation_servicer import FederationServicer
from verifier.api.server import RunningServer, start_server
from verifier.config import Config, ConfigError, PeerConfig
from verifier.domain.household import RequestDraft
from verifier.domain.ports import Caller, ConsentGate, Store
from verifier.domain.webhooks import EventType, RetrySchedule
from verifier.observability import tracing
from verifier.observability.metrics import Metrics
from verifier.observability.metrics_http import MetricsEndpoint, start_metrics_endpoint
from verifier.service.assessment import assess_report_sections
from verifier.service.auditing import AuditService, verifier_keys_for
from verifier.service.batch_runner import BatchRunner
from verifier.service.batches import BatchNotices, BatchService
from verifier.service.consents import ConsentService, RegistryConsentGate
from verifier.service.events import EventHub
from verifier.service.fanout import FanOut, SourcePolicy, bind_sources
from verifier.service.federation.inbound import InboundAssist
from verifier.service.federation.outbound import OutboundAssist
from verifier.service.federation.peers import PeerTrustService
from verifier.service.federation.requester import FederationRequester
from verifier.service.federation.retrier import PeerRetrier
from verifier.service.listing import VerificationListing
from verifier.service.monitoring.alerts import AlertService
from verifier.service.monitoring.changes import ChangeRecorder
from verifier.service.monitoring.raising import AlertRaiser
from verifier.service.page_tokens import PageTokens
from verifier.service.poller import Poller
from verifier.service.retention import RetentionService
from verifier.service.roster.entries import RosterService
from verifier.service.roster.scheduler import RecheckScheduler, StartCheck, StartedCheck
from verifier.service.time_limits import CheckTerms, OverdueScan
from verifier.service.verifications import Assessor, VerificationService
from verifier.service.webhooks.admin import WebhookAdmin
from verifier.service.webhooks.delivery import WebhookDelivery
from verifier.service.webhooks.subscribers import Subscriber
from verifier.signing.changes import ChangeSigner
from verifier.signing.fragments import sign_fragment
from verifier.signing.hsm_keystore import HsmKeyStore
from verifier.signing.jwks import JwksError, PublicKey, dumps_jwks, key_id, parse_jwks
from verifier.signing.keystore import KeyStore, signing_algorithms
from verifier.signing.pkcs11_keys import Pkcs11Settings, Pkcs11Token
from verifier.signing.signer import ReportSigner
from verifier.signing.sm2_notes import Sm2NoteCosigner
from verifier.signing.webhooks import secret_problem
from verifier.storage import migrate
from verifier.storage.audit_reads import SqlAuditReader, SqlCheckpoints, write_sessions
from verifier.storage.engine import is_sqlite, open_database
from verifier.storage.gauges import SqlGauges
from verifier.storage.rewrap import RewrapReport as RewrapReport  # what `keys rewrap` is told
from verifier.storage.rewrap import rewrap
from verifier.storage.sealing import Sealer
from verifier.storage.uow import SqlStore
from verifier.transport.webhook_http import HttpTransport

# Retention periods are months or days: an hourly purge is prompt enough, and leased, so
# one replica purges at a time.
RETENTION_INTERVAL_SECONDS = 3600.0


@dataclass
class App:
    config: Config
    store: Store
    keys: KeyStore
    service: VerificationService
    fanout: FanOut
    poller: Poller
    adapters: list[Adapter] = field(default_factory=list)
    auditing: AuditService | None = None
    consents: ConsentService | None = None
    webhooks: WebhookDelivery | None = None
    listing: VerificationListing | None = None
    batches: BatchService | None = None
    batch_runner: BatchRunner | None = None
    overdue: OverdueScan | None = None
    alerts: AlertService | None = None
    changes: ChangeRecorder | None = None
    roster: RosterService | None = None
    scheduler: RecheckScheduler | None = None
    retention: RetentionService | None = None
    inbound: InboundAssist | None = None
    """Answers peers' 协查 (FederationService) when ``[federation]`` names peers."""
    retrier: PeerRetrier | None = None
    """Asks peers again (``[federation]`` peers and a client certificate)."""
    metrics: Metrics | None = None
    metrics_endpoint: MetricsEndpoint | None = None
    """Serving ``GET /metrics`` once :func:`serve_app` started it (``[metrics] listen``)."""
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _background: list[asyncio.Task[None]] = field(default_factory=list)

    def start_background(self) -> None:
        """Until :meth:`aclose`: poll asynchronous sources, resume interrupted runs, and
        hear of reports other server processes release (for this process's watchers)."""
        self._background.append(
            asyncio.create_task(
                self.poller.run(self._stop, self.config.poll_interval), name="poller"
            )
        )
        self._background.append(
            asyncio.create_task(
                self.store.listen_releases(self.service.hub.changed_elsewhere, self._stop),
                name="release-listener",
            )
        )
        if self.auditing is not None:
            self.auditing.start_background()
        if self.retrier is not None:
            self._background.append(
                asyncio.create_task(
                    self.retrier.run(self._stop, self.config.federation.retry_interval_seconds),
                    name="peer-retrier",
                )
            )
        if self.batch_runner is not None and self.config.batches.runner:
            self._background.append(
                asyncio.create_task(
                    self.batch_runner.run(self._stop, self.config.batches.interval),
                    name="batch-runner",
                )
            )
        if self.overdue is not None:
            self._background.append(
                asyncio.create_task(
                    self.overdue.run(self._stop, self.config.time_limits.overdue_scan_seconds),
                    name="overdue-scan",
                )
            )
        if self.changes is not None:
            self._background.append(
                asyncio.create_task(
                    self.changes.run(self._stop, self.config.poll_interval),
                    name="change-recorder",
                )
            )
        if self.alerts is not None:
            self._background.append(
                asyncio.create_task(self.alerts.run(self._stop), name="alert-overdue-sweep")
            )
        if self.webhooks is not None:
            self._background.append(
                asyncio.create_task(
                    self.webhooks.run(self._stop, self.config.webhooks.interval_seconds),
                    name="webhook-delivery",
                )
            )
        if self.scheduler is not None and self.config.roster.scheduler:
            self._background.append(
                asyncio.create_task(
                    self.scheduler.run(self._stop, self.config.roster.interval),
                    name="recheck-scheduler",
                )
            )
        if self.retention is not None:
            self._background.append(
                asyncio.create_task(
                    self.retention.run_forever(self._stop, RETENTION_INTERVAL_SECONDS),
                    name="retention-purge",
                )
            )

    async def aclose(self) -> None:
        self._stop.set()
        if self.metrics_endpoint is not None:
            await self.metrics_endpoint.stop()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.poller.aclose()
        if self.batch_runner is not None:
            await self.batch_runner.aclose()
        if self.webhooks is not None:
            await self.webhooks.aclose()
        if self.auditing is not None:
            await self.auditing.aclose()
        await self.service.aclose()
        for a in self.adapters:
            await a.aclose()
        await self.store.aclose()
        if isinstance(self.keys, HsmKeyStore):
            self.keys.close()


def load_adapters(config: Config) -> dict[SourceKind, Adapter]:
    """The configured sources' adapters, through the entry points (allowlist = config)."""
    allow = {sc.adapter: sc.settings() for sc in config.sources.values()}
    by_name, _ = registry.load(allow)
    return {kind: by_name[sc.adapter] for kind, sc in config.sources.items()}


def make_store(config: Config, keys: KeyStore, metrics: Metrics | None = None) -> SqlStore:
    active, all_keys = keys.data_keys()
    db = open_database(config.database_url, lock_timeout_ms=config.lock_timeout_ms)
    tracing.instrument_engines((db.read_engine, db.write_engine))
    return SqlStore(db, Sealer(active.kid, all_keys, config.seal_with), metrics=metrics)


def make_auditing(
    keys: KeyStore, store: SqlStore, origin: str = DEFAULT_ORIGIN, algorithms: Sequence[str] = ()
) -> AuditService:
    """The auditor service over ``store``'s database; checkpoints signed with the active
    audit key, and with the active SM2 audit key too when ``algorithms`` (``[keys]
    sign_with``) has SM2."""
    db = store.db
    cosigners: tuple[Sm2NoteCosigner, ...] = ()
    # Unconfigured, a key directory from before SM2 (the server's start makes the key) signs
    # with Ed25519 alone; `sign_with = ["sm2", …]` without the key is an error.
    if "sm2" in signing_algorithms(algorithms) and (algorithms or keys.sm2_public_keys("audit")):
        cosigners = (Sm2NoteCosigner(origin, keys.sm2_key("audit")),)
    checkpointer = Checkpointer(
        write_sessions(db),
        db.read_sessions,
        CheckpointSigner(origin, keys.audit_key(), cosigners),
        verifier_keys_for(origin, keys.verifying_keys("audit")),
    )
    return AuditService(
        store, SqlAuditReader(db), SqlCheckpoints(checkpointer), keys.pseudonym_key()
    )


def make_change_recorder(
    store: Store,
    keys: KeyStore,
    algorithms: Sequence[str] = (),
    turn: Callable[[], Awaitable[None]] | None = None,
) -> ChangeRecorder:
    """Changes between checks: documents signed with the report-signing keys of
    ``algorithms`` (``[keys] sign_with``); reports verified against every signing key ever
    active, Ed25519 and SM2 (a rotation orphans no report)."""
    trusted = {key_id(k): k for k in keys.verifying_keys("signing")}
    return ChangeRecorder(
        store=store,
        signer=ChangeSigner(keys.keys_for("signing", signing_algorithms(algorithms))),
        trusted_keys=lambda: trusted,
        pseudonym_key=keys.pseudonym_key(),
        turn=turn,
    )


async def serve_app(
    app: App,
    listen: str,
    *,
    credentials: grpc.ServerCredentials | None = None,
    health_interval: float = 2.0,
) -> RunningServer:
    """Start the gRPC server for a built app, and its background work (a serving replica
    also polls asynchronous sources and resumes interrupted runs)."""
    app.start_background()
    if app.metrics is not None and app.config.metrics.listen:
        app.metrics_endpoint = await start_metrics_endpoint(app.metrics, app.config.metrics.listen)
    return await start_server(
        app.service,
        listen,
        principals=app.config.principals,
        jwks=lambda: dumps_jwks(app.keys.verifying_keys("signing")),
        probe=app.store.ping,
        credentials=credentials,
        health_interval=health_interval,
        auditing=app.auditing,
        consents=app.consents,
        listing=app.listing,
        batches=app.batches,
        alerts=app.alerts,
        roster=app.roster,
        federation=(
            FederationServicer(app.inbound, app.config.federation.peers)
            if app.inbound is not None
            else None
        ),
        metrics=app.metrics,
    )


async def build_app(
    config: Config,
    *,
    adapters: Mapping[SourceKind, Adapter] | None = None,
    migrate: bool = True,
    assessor: Assessor | None = None,
    policies: Mapping[SourceKind, SourcePolicy] | None = None,
    consent_gate: ConsentGate | None = None,
) -> App:
    """Everything wired. ``adapters`` replaces entry-point loading; ``consent_gate``
    replaces the registry check (tests of other behaviour use a fake gate)."""
    keys = keystore(config)
    keys.ensure()
    if migrate:
        await asyncio.to_thread(upgrade_database, config)
    # Before the adapters and the server exist: their HTTP sessions and the gRPC server
    # are instrumented as they are created.
    tracing.configure(config.tracing)
    chosen = dict(adapters) if adapters is not None else load_adapters(config)
    configured = {kind: sc.policy for kind, sc in config.sources.items()}
    if policies is not None:
        configured.update(policies)
    metrics = Metrics() if config.metrics.listen else None
    store = make_store(config, keys, metrics)
    if metrics is not None:
        metrics.gauges = SqlGauges(store.db)
    fanout = FanOut(bind_sources(chosen, configured), metrics)
    requester = make_requester(config, store, keys)
    service = VerificationService(
        store=store,
        fanout=fanout,
        signer=ReportSigner(keys.keys_for("signing", signing_algorithms(config.sign_with))),
        pseudonym_key=keys.pseudonym_key(),
        hub=EventHub(),
        deadline_seconds=config.deadline_seconds,
        assessor=assessor or assess_report_sections,
        consents=consent_gate or RegistryConsentGate(),
        volume_soft=config.volume_soft,
        volume_hard=config.volume_hard,
        urgent_first_seconds=config.time_limits.urgent_first_report_seconds,
        federation=requester,
    )
    notices = BatchNotices()
    poller = Poller(service, store, fanout, lease_seconds=config.poll_lease_seconds)
    scheduler = RecheckScheduler(
        store,
        recheck_starter(service),
        keys.pseudonym_key(),
        system=config.roster.system,
        alerts=AlertRaiser(),
        batch=config.roster.batch,
        lease_seconds=config.roster.lease_seconds,
        wait_seconds=config.deadline_seconds,
    )
    unique = list({id(a): a for a in chosen.values()}.values())
    auditing = make_auditing(keys, store, algorithms=config.sign_with)
    return App(
        config=config,
        store=store,
        keys=keys,
        service=service,
        fanout=fanout,
        poller=poller,
        adapters=unique,
        auditing=auditing,
        consents=ConsentService(store, keys.pseudonym_key()),
        webhooks=make_webhooks(config, store, owner=service.owner),
        listing=VerificationListing(store, PageTokens.derived(keys.pseudonym_key())),
        batches=BatchService(store, keys.pseudonym_key(), notices=notices),
        batch_runner=BatchRunner(
            store,
            service,
            notices,
            concurrency=config.batches.concurrency,
            # An item is held while its check runs: longer than any run may take.
            lease_seconds=max(config.batches.lease_seconds, 2 * config.deadline_seconds + 30),
        ),
        overdue=OverdueScan(store),
        alerts=AlertService(
            store,
            keys.pseudonym_key(),
            PageTokens.derived(keys.pseudonym_key(), "hedui alert page tokens v1"),
        ),
        changes=make_change_recorder(
            store, keys, config.sign_with, service.background_turns().take
        ),
        roster=RosterService(store, keys.pseudonym_key(), scheduler=scheduler),
        scheduler=scheduler,
        retention=RetentionService(store),
        inbound=make_inbound(config, store, keys, fanout, auditing),
        retrier=PeerRetrier(store, requester, service.release_federated, owner=service.owner)
        if requester is not None
        else None,
        metrics=metrics,
    )


def federation_name(config: Config) -> str:
    """The name peers know this deployment by: its federation client certificate's
    common name."""
    path = config.federation.client_cert
    if path is None:
        raise ConfigError("federation.client_cert: needed to serve or call peers")
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        raise ConfigError(
            f"federation.client_cert: {path} is not a readable PEM certificate"
        ) from None
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        raise ConfigError("federation.client_cert: the certificate has no common name")
    return str(names[0].value)


def make_inbound(
    config: Config, store: Store, keys: KeyStore, fanout: FanOut, auditing: AuditService
) -> InboundAssist | None:
    """The answering side of 协查, when peers are configured."""
    if not config.federation.peers:
        return None
    signing = keys.keys_for("signing", signing_algorithms(config.sign_with))
    return InboundAssist(
        store,
        PeerTrustService(store, config.federation, peer_published_keys),
        fanout,
        lambda answer: sign_fragment(answer, signing),
        name=federation_name(config),
        regions=config.federation.regions,
        pseudonym_key=keys.pseudonym_key(),
        deadline_seconds=config.deadline_seconds,
        receipts=auditing.entry_receipt,
    )


def make_requester(config: Config, store: Store, keys: KeyStore) -> FederationRequester | None:
    """The asking side of 协查, when peers and the client certificate to call them with
    are configured: checks are then routed (see :mod:`verifier.service.runner`)."""
    fed = config.federation
    if not fed.peers or fed.client_cert is None or fed.client_key is None:
        return None
    outbound = OutboundAssist(
        store,
        PeerTrustService(store, fed, peer_published_keys),
        GrpcPeerClient(fed.client_cert, fed.client_key),
        name=federation_name(config),
        pseudonym_key=keys.pseudonym_key(),
    )
    return FederationRequester(store, outbound, fed)


def recheck_starter(service: VerificationService) -> StartCheck:
    """Roster re-checks start through the same intake as an interactive check, in the
    batch lane (an interactive or urgent check is never queued behind them), or urgent
    when staff asked for one so; outside the per-user volume limit (origin roster)."""

    async def start(
        caller: Caller, draft: RequestDraft, wait_until: float | None, urgent: bool
    ) -> StartedCheck:
        view = await service.create(
            caller,
            draft,
            wait=wait_until is not None,
            wait_until=wait_until,
            terms=CheckTerms.roster(urgent=urgent),
        )
        return StartedCheck(view.record.id, view.record.latest_version >= 1)

    return start


def webhook_subscribers(config: Config) -> list[Subscriber]:
    """The configured subscribers with their secrets resolved and checked (a missing or
    malformed secret stops the start, naming its key, never its value)."""
    subscribers = []
    for name, sc in config.webhooks.subscribers.items():
        secrets = sc.resolved_secrets()
        for i, secret in enumerate(secrets):
            problem = secret_problem(secret)
            if problem is not None:
                raise ConfigError(f"webhooks.subscribers.{name}.secrets[{i}]: {problem}")
        types = frozenset(EventType(e) for e in sc.events)
        subscribers.append(Subscriber(name, sc.url, types, secrets))
    return subscribers


def make_webhooks(config: Config, store: Store, *, owner: str) -> WebhookDelivery:
    """The delivery worker: every replica runs one; the outbox's leases share the work."""
    wc = config.webhooks
    return WebhookDelivery(
        store,
        webhook_subscribers(config),
        HttpTransport(),
        owner=owner,
        schedule=RetrySchedule.of_seconds(wc.retry_schedule_seconds),
        timeout=wc.timeout_seconds,
        lease_seconds=wc.lease_seconds,
    )


# --------------------------------------------------------------------- for the commands
@contextlib.asynccontextmanager
async def open_webhooks(config: Config) -> AsyncIterator[WebhookAdmin]:
    """What ``hedui webhooks`` needs: the subscribers and their deliveries on the
    configured database; holds no data key (webhook rows are not sealed)."""
    store = SqlStore(open_database(config.database_url), Sealer.without_keys())
    delivery = make_webhooks(config, store, owner=f"hedui-cli:{os.getpid()}")
    try:
        yield WebhookAdmin(store, delivery)
    finally:
        await delivery.aclose()
        await store.aclose()


@contextlib.asynccontextmanager
async def open_retention(config: Config) -> AsyncIterator[RetentionService]:
    """What ``hedui retention`` needs: the purge on the configured database. It holds no
    data key: a purge removes sealed values without opening them."""
    store = SqlStore(open_database(config.database_url), Sealer.without_keys())
    try:
        yield RetentionService(store, owner=f"hedui-cli:{os.getpid()}")
    finally:
        await store.aclose()


def peer_published_keys(peer: PeerConfig) -> dict[str, PublicKey]:
    """The keys a federation peer publishes: its JWKS file as configured."""
    where = f"federation.peers.{peer.name}.jwks"
    try:
        text = peer.jwks.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {peer.jwks}: {exc.strerror}") from None
    try:
        return parse_jwks(text)
    except JwksError as exc:
        raise ConfigError(f"{where}: not a JWKS: {exc}") from None


@contextlib.asynccontextmanager
async def open_federation(config: Config) -> AsyncIterator[PeerTrustService]:
    """What ``hedui federation`` needs: peers' trust state on the configured database
    (no data key: nothing federation keeps about peers is sealed)."""
    store = SqlStore(open_database(config.database_url), Sealer.without_keys())
    try:
        yield PeerTrustService(store, config.federation, peer_published_keys)
    finally:
        await store.aclose()


def keystore(config: Config) -> KeyStore:
    """The key directory (keys are made by ``hedui keys generate`` or the first serve);
    with ``[keys.pkcs11]`` its signing key, and audit key if labelled, are the HSM's."""
    hsm = config.pkcs11
    if hsm is None:
        return KeyStore(config.keys_dir)
    pin = hsm.resolved_pin().reveal()
    token = Pkcs11Token(Pkcs11Settings(hsm.module, hsm.token_label, pin))
    labels = {"signing": hsm.signing_key_label}
    if hsm.audit_key_label is not None:
        labels["audit"] = hsm.audit_key_label
    return HsmKeyStore(config.keys_dir, token, labels)


def audit_verifier_keys(config: Config) -> list[str]:
    """Verifier key strings of every audit key, the active one first."""
    return verifier_keys_for(DEFAULT_ORIGIN, keystore(config).verifying_keys("audit"))


@contextlib.asynccontextmanager
async def open_auditing(config: Config) -> AsyncIterator[AuditService]:
    """The auditor service on the configured database, as the server's would be, but
    holding no data key: it writes and reads the audit log and cannot open a report."""
    store = SqlStore(open_database(config.database_url), Sealer.without_keys())
    try:
        yield make_auditing(keystore(config), store, algorithms=config.sign_with)
    finally:
        await store.aclose()


async def verify_audit_log(
    config: Config,
    *,
    verifier_keys: list[str],
    trusted: bytes | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LogReport:
    """Recompute the chain, the Merkle tree and the checkpoints of the configured log.

    PostgreSQL: one snapshot, streamed with server-side cursors, split across processes;
    any problem is re-checked so the first bad seq is named exactly. SQLite: one pass,
    telling ``progress(done, total)``."""
    if not is_sqlite(config.database_url):
        return await verify_database(
            config.database_url,
            verifier_keys=verifier_keys,
            origin=DEFAULT_ORIGIN,
            trusted_checkpoint=trusted,
        )
    db = open_database(config.database_url)
    try:
        async with db.read_sessions() as session:
            return await verify_log(
                session,
                progress,
                verifier_keys=verifier_keys,
                origin=DEFAULT_ORIGIN,
                trusted_checkpoint=trusted,
            )
    finally:
        await db.dispose()


def upgrade_database(config: Config) -> None:
    """Apply the migrations to the configured database."""
    migrate.upgrade(config.database_url)


def database_exists(config: Config) -> bool:
    """False only for an SQLite file not created yet (a server or a migration makes it)."""
    if not is_sqlite(config.database_url):
        return True
    path = make_url(config.database_url).database
    return not path or path == ":memory:" or Path(path).exists()


async def rewrap_sealed(
    config: Config, keys: KeyStore, progress: Callable[[str, int, int], None] | None = None
) -> RewrapReport:
    """Re-seal every sealed column under the active data key (see storage.rewrap)."""
    active, all_keys = keys.data_keys()
    db = open_database(config.database_url)
    try:
        return await rewrap(db, Sealer(active.kid, all_keys, config.seal_with), progress)
    finally:
        await db.dispose()
