"""Composition root: builds the service from configuration. The only place that knows
every concrete class."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

import grpc

from adapters import Adapter, SourceKind, registry
from verifier.api.server import RunningServer, start_server
from verifier.config import Config
from verifier.domain.ports import Store
from verifier.service.assessment import assess_report_sections
from verifier.service.events import EventHub
from verifier.service.fanout import FanOut, SourcePolicy, bind_sources
from verifier.service.verifications import Assessor, VerificationService
from verifier.signing.jwks import dumps_jwks
from verifier.signing.keystore import KeyStore
from verifier.signing.signer import ReportSigner
from verifier.storage.engine import open_database
from verifier.storage.migrate import upgrade
from verifier.storage.sealing import Sealer
from verifier.storage.uow import SqlStore


@dataclass
class App:
    config: Config
    store: Store
    keys: KeyStore
    service: VerificationService
    adapters: list[Adapter] = field(default_factory=list)

    async def aclose(self) -> None:
        await self.service.aclose()
        for a in self.adapters:
            await a.aclose()
        await self.store.aclose()


def load_adapters(config: Config) -> dict[SourceKind, Adapter]:
    """The configured sources' adapters, through the entry points (allowlist = config)."""
    allow = {sc.adapter: sc.settings() for sc in config.sources.values()}
    by_name, _ = registry.load(allow)
    return {kind: by_name[sc.adapter] for kind, sc in config.sources.items()}


def make_store(config: Config, keys: KeyStore) -> SqlStore:
    active, all_keys = keys.data_keys()
    return SqlStore(open_database(config.database_url), Sealer(active.kid, all_keys))


async def serve_app(
    app: App,
    listen: str,
    *,
    credentials: grpc.ServerCredentials | None = None,
    health_interval: float = 2.0,
) -> RunningServer:
    """Start the gRPC server for a built app."""
    return await start_server(
        app.service,
        listen,
        principals=app.config.principals,
        jwks=lambda: dumps_jwks(app.keys.public_keys("signing")),
        probe=app.store.ping,
        credentials=credentials,
        health_interval=health_interval,
    )


async def build_app(
    config: Config,
    *,
    adapters: Mapping[SourceKind, Adapter] | None = None,
    migrate: bool = True,
    assessor: Assessor | None = None,
) -> App:
    """Everything wired. ``adapters`` replaces entry-point loading (tests, benchmarks)."""
    keys = KeyStore(config.keys_dir)
    keys.ensure()
    if migrate:
        await asyncio.to_thread(upgrade, config.database_url)
    chosen = dict(adapters) if adapters is not None else load_adapters(config)
    policies = {
        kind: SourcePolicy(
            timeout=sc.timeout, retries=sc.retries, max_concurrency=sc.max_concurrency
        )
        for kind, sc in config.sources.items()
    }
    store = make_store(config, keys)
    service = VerificationService(
        store=store,
        fanout=FanOut(bind_sources(chosen, policies)),
        signer=ReportSigner(keys.signing_key()),
        pseudonym_key=keys.pseudonym_key(),
        hub=EventHub(),
        deadline_seconds=config.deadline_seconds,
        assessor=assessor or assess_report_sections,
    )
    unique = list({id(a): a for a in chosen.values()}.values())
    return App(config=config, store=store, keys=keys, service=service, adapters=unique)
