"""国密 through the whole service, on both databases: reports signed by Ed25519 and SM2
(each verifiable alone, the SM2 one by OpenSSL's command line from the served JWKS),
``[keys] sign_with`` choosing, audit checkpoints signed by both audit keys, and values at
rest sealed with SM4-GCM after a re-wrap — older AES-sealed rows still opening."""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from audit.checkpoint import open_checkpoint
from audit.checkpointer import DEFAULT_ORIGIN
from hedui_sdk import SourceKind
from tests.fakes import FakeAdapter
from tests.helpers import APPLICANT_ID, CALLER, SPOUSE_ID, SYSTEM, household_draft, make_app, soon
from tests.openssl_helpers import need_sm2, pae_of, sm2_spki_from_jwk, sm2_verify
from verifier.api.client import Client
from verifier.bootstrap import App, audit_verifier_keys, serve_app, verify_audit_log
from verifier.cli import offline
from verifier.domain.caller import Caller
from verifier.domain.vocabulary import Role
from verifier.service.auditing import verifier_keys_for
from verifier.signing.dsse import verify_envelope
from verifier.signing.jwks import key_id, parse_jwks
from verifier.signing.keystore import KeyStore
from verifier.signing.sm2 import Sm2PublicKey
from verifier.storage.engine import open_database
from verifier.storage.rewrap import rewrap
from verifier.storage.sealing import SM4_ZSTD, SM4_ZSTD_ON_BASE, ZSTD, ZSTD_ON_BASE, Sealer


@pytest.fixture(autouse=True)
def _sm2() -> None:
    need_sm2()


def adapters() -> dict[SourceKind, FakeAdapter]:
    return {
        SourceKind.TAX: FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 100}),
        SourceKind.REAL_ESTATE: FakeAdapter(
            SourceKind.REAL_ESTATE, asset_fen={SPOUSE_ID: 30_000_000}
        ),
    }


async def one_report(app: App, request_id: str = "req-1") -> str:
    created = await app.service.create(
        CALLER, household_draft(request_id), wait=True, wait_until=soon()
    )
    return created.record.id


async def stored_envelope(app: App, vid: str) -> bytes:
    async with app.store.unit_of_work(write=False) as uow:
        stored = await uow.reports.get(vid, 1)
    assert stored is not None
    return stored.envelope


async def first_bytes(database_url: str) -> set[bytes]:
    db = open_database(database_url)
    try:
        async with db.read_engine.connect() as conn:
            rows = (await conn.execute(text("SELECT envelope_sealed FROM reports"))).scalars()
            return {bytes(r)[:1] for r in rows}
    finally:
        await db.dispose()


async def test_the_served_report_is_signed_by_both_and_each_verifies_alone(
    database_url: str, keys_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = await make_app(database_url, keys_dir, adapters())
    try:
        vid = await one_report(app)
        server = await serve_app(app, "127.0.0.1:0", health_interval=0.05)
        try:
            async with Client(f"127.0.0.1:{server.port}", user="w", system=SYSTEM) as c:
                jwks_text = await c.jwks()
                envelope = (await c.report(vid)).envelope
        finally:
            await server.stop(0)
    finally:
        await app.aclose()
    keys = parse_jwks(jwks_text)
    ks = KeyStore(keys_dir)
    ed_kid, sm_kid = key_id(ks.public_keys()[0]), key_id(ks.sm2_public_keys()[0])
    assert [s["keyid"] for s in json.loads(envelope)["signatures"]] == [ed_kid, sm_kid]
    assert verify_envelope(envelope, keys).key_ids == (ed_kid, sm_kid)
    assert verify_envelope(envelope, {sm_kid: keys[sm_kid]}).key_ids == (sm_kid,)
    assert verify_envelope(envelope, {ed_kid: keys[ed_kid]}).key_ids == (ed_kid,)

    sm2_jwk = next(k for k in json.loads(jwks_text)["keys"] if k["kid"] == sm_kid)
    assert Sm2PublicKey.from_spki_der(sm2_spki_from_jwk(sm2_jwk)) == keys[sm_kid]
    sig = base64.b64decode(json.loads(envelope)["signatures"][1]["sig"])
    assert sm2_verify(sm2_spki_from_jwk(sm2_jwk), sig, pae_of(envelope), tmp_path)

    (tmp_path / "report.dsse.json").write_bytes(envelope)
    (tmp_path / "keys.jwks.json").write_text(jwks_text)
    ns = argparse.Namespace(
        file=str(tmp_path / "report.dsse.json"), keys=str(tmp_path / "keys.jwks.json")
    )
    capsys.readouterr()
    assert offline.report_verify(ns) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"signed by Ed25519 key {ed_kid[:16]}… and SM2 key {sm_kid[:16]}…" in out


async def test_sign_with_one_algorithm_and_old_reports_still_verify(
    database_url: str, keys_dir: Path
) -> None:
    app = await make_app(database_url, keys_dir, adapters(), sign_with=("ed25519",))
    try:
        ed_only = await one_report(app, "req-ed")
    finally:
        await app.aclose()
    app = await make_app(database_url, keys_dir, adapters(), sign_with=("sm2",))
    try:
        sm_only = await one_report(app, "req-sm")
        keys = {key_id(k): k for k in app.keys.verifying_keys()}
        envelopes = {vid: await stored_envelope(app, vid) for vid in (ed_only, sm_only)}
    finally:
        await app.aclose()
    ks = KeyStore(keys_dir)
    assert verify_envelope(envelopes[ed_only], keys).key_ids == (key_id(ks.public_keys()[0]),)
    assert verify_envelope(envelopes[sm_only], keys).key_ids == (key_id(ks.sm2_public_keys()[0]),)


async def test_sm4_gcm_at_rest_after_a_rewrap_and_for_new_values(
    database_url: str, keys_dir: Path
) -> None:
    app = await make_app(database_url, keys_dir, adapters())
    try:
        before = await one_report(app, "req-aes")
    finally:
        await app.aclose()
    # A report's first version is compressed against its policy section when it has one.
    assert set() < await first_bytes(database_url) <= {ZSTD, ZSTD_ON_BASE}

    KeyStore(keys_dir).rotate()
    active, every = KeyStore(keys_dir).data_keys()
    db = open_database(database_url)
    try:
        report = await rewrap(db, Sealer(active.kid, every, "sm4-gcm"))
        assert report.ok and report.counts["reports"] == 1
    finally:
        await db.dispose()
    assert set() < await first_bytes(database_url) <= {SM4_ZSTD, SM4_ZSTD_ON_BASE}

    app = await make_app(database_url, keys_dir, adapters(), seal_with="sm4-gcm")
    try:
        after = await one_report(app, "req-sm4")
        keys = {key_id(k): k for k in app.keys.verifying_keys()}
        for vid in (before, after):
            envelope = await stored_envelope(app, vid)
            assert verify_envelope(envelope, keys).document["verification_id"] == vid
    finally:
        await app.aclose()
    assert set() < await first_bytes(database_url) <= {SM4_ZSTD, SM4_ZSTD_ON_BASE}


async def test_checkpoints_are_signed_by_both_audit_keys_and_the_log_verifies(
    database_url: str, keys_dir: Path
) -> None:
    app = await make_app(database_url, keys_dir, adapters())
    try:
        await one_report(app)
        assert app.auditing is not None
        auditor = Caller(SYSTEM, "auditor-1", Role.AUDITOR, ("3703",))
        cp = await app.auditing.checkpoint(auditor, fresh=True)
        cfg = app.config
    finally:
        await app.aclose()
    ks = KeyStore(keys_dir)
    ed_vkey, sm_vkey = verifier_keys_for(
        DEFAULT_ORIGIN, [ks.public_keys("audit")[0], ks.sm2_public_keys("audit")[0]]
    )
    assert len(cp.note.decode().split("\n\n")[1].splitlines()) == 2
    for vkeys in ([ed_vkey], [sm_vkey]):
        assert open_checkpoint(cp.note, vkeys, origin=DEFAULT_ORIGIN).size == cp.size
    assert audit_verifier_keys(cfg) == [ed_vkey, sm_vkey]
    log = await verify_audit_log(cfg, verifier_keys=[sm_vkey])
    assert log.ok and log.checkpoints >= 1, log.problem
