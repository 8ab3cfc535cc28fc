"""A report envelope signed by both an Ed25519 and an SM2 key: each signature verifies
alone, with hedui and with the ``openssl`` command line; the JWKS publishes both keys."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.openssl_helpers import need_sm2, pae_of, sm2_spki_from_jwk, sm2_verify
from tests.unit.test_signing import DOC, independent_verify
from verifier.signing.changes import CHANGES_PAYLOAD_TYPE, ChangeSigner, verify_changes
from verifier.signing.dsse import EnvelopeError, verify_envelope
from verifier.signing.jwks import JwksError, dumps_jwks, key_id, parse_jwks
from verifier.signing.keystore import KeyStore
from verifier.signing.signer import ReportSigner
from verifier.signing.sm2 import Sm2PublicKey, Sm2Unavailable


@pytest.fixture(autouse=True)
def _sm2() -> None:
    need_sm2()


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    ks = KeyStore(tmp_path / "keys")
    ks.ensure()
    return ks


def test_both_signatures_verify_each_alone(keys: KeyStore) -> None:
    ed, sm = keys.public_keys()[0], keys.sm2_public_keys()[0]
    signed = ReportSigner(keys.keys_for("signing", ["ed25519", "sm2"])).sign(DOC)
    env = json.loads(signed.envelope)
    assert [s["keyid"] for s in env["signatures"]] == [key_id(ed), key_id(sm)]
    assert signed.key_id == key_id(ed)
    both = verify_envelope(signed.envelope, {key_id(ed): ed, key_id(sm): sm})
    assert both.key_ids == (key_id(ed), key_id(sm))
    assert verify_envelope(signed.envelope, {key_id(ed): ed}).key_ids == (key_id(ed),)
    assert verify_envelope(signed.envelope, {key_id(sm): sm}).key_ids == (key_id(sm),)
    assert both.document == DOC


def test_a_bad_signature_by_a_trusted_key_is_refused_even_beside_a_good_one(
    keys: KeyStore,
) -> None:
    ed, sm = keys.public_keys()[0], keys.sm2_public_keys()[0]
    signed = ReportSigner(keys.keys_for("signing", ["ed25519", "sm2"])).sign(DOC)
    env = json.loads(signed.envelope)
    other = ReportSigner(keys.keys_for("signing", ["sm2"])).sign({**DOC, "n": 2})
    env["signatures"][1]["sig"] = json.loads(other.envelope)["signatures"][0]["sig"]
    tampered = json.dumps(env).encode()
    with pytest.raises(EnvelopeError, match="does not verify"):
        verify_envelope(tampered, {key_id(ed): ed, key_id(sm): sm})
    # A verifier that trusts only the Ed25519 key never looks at the SM2 signature.
    assert verify_envelope(tampered, {key_id(ed): ed}).key_id == key_id(ed)


def test_sm2_only_signing_and_change_documents(keys: KeyStore) -> None:
    sm = keys.sm2_public_keys()[0]
    signed = ReportSigner(keys.sm2_key()).sign(DOC)
    assert signed.key_id == key_id(sm)
    with pytest.raises(EnvelopeError, match="no signature by a trusted key"):
        verify_envelope(signed.envelope, parse_jwks(dumps_jwks(keys.public_keys())))
    doc = {"schema": "hedui.changes/v1", "changes": []}
    changes = ChangeSigner(keys.keys_for("signing", ["ed25519", "sm2"])).sign(doc)
    trusted = parse_jwks(dumps_jwks(keys.verifying_keys()))
    assert verify_changes(changes.envelope, trusted).key_ids == tuple(trusted)
    assert json.loads(changes.envelope)["payloadType"] == CHANGES_PAYLOAD_TYPE


def test_jwks_publishes_both_and_reads_them_back(keys: KeyStore) -> None:
    text = dumps_jwks(keys.verifying_keys())
    jwks = json.loads(text)["keys"]
    assert [(k["kty"], k["crv"], k["alg"]) for k in jwks] == [
        ("OKP", "Ed25519", "EdDSA"),
        ("EC", "SM2", "SM2SM3"),
    ]
    sm2_jwk = jwks[1]
    assert len(base64.urlsafe_b64decode(sm2_jwk["x"] + "=")) == 32
    parsed = parse_jwks(text)
    assert parsed == {key_id(k): k for k in keys.verifying_keys()}
    assert isinstance(parsed[sm2_jwk["kid"]], Sm2PublicKey)
    wrong = {"keys": [{**sm2_jwk, "kid": "00" * 32}]}
    with pytest.raises(JwksError, match="kid does not match"):
        parse_jwks(json.dumps(wrong))
    off_curve = {"keys": [{**sm2_jwk, "y": sm2_jwk["x"]}]}
    with pytest.raises(JwksError, match="not a point of the SM2 curve"):
        parse_jwks(json.dumps(off_curve))
    short = {"keys": [{**sm2_jwk, "x": "AAAA"}]}
    with pytest.raises(JwksError, match="32-byte SM2 coordinate"):
        parse_jwks(json.dumps(short))


def test_openssl_verifies_each_signature_of_a_report_from_the_jwks(
    keys: KeyStore, tmp_path: Path
) -> None:
    envelope = ReportSigner(keys.keys_for("signing", ["ed25519", "sm2"])).sign(DOC).envelope
    jwks_text = dumps_jwks(keys.verifying_keys())
    # The Ed25519 signature, by the OpenSSL-only check that predates SM2.
    assert independent_verify(envelope, jwks_text, tmp_path)
    # The SM2 signature, with the key taken from the JWKS and the PAE built here.
    sm2_jwk = json.loads(jwks_text)["keys"][1]
    sig = next(
        base64.b64decode(s["sig"])
        for s in json.loads(envelope)["signatures"]
        if s["keyid"] == sm2_jwk["kid"]
    )
    spki = sm2_spki_from_jwk(sm2_jwk)
    assert sm2_verify(spki, sig, pae_of(envelope), tmp_path)
    tampered = json.loads(envelope)
    tampered["payload"] = base64.b64encode(b'{"n":2}').decode()
    assert not sm2_verify(spki, sig, pae_of(json.dumps(tampered).encode()), tmp_path)


def test_rotation_keeps_old_sm2_keys_for_verification(keys: KeyStore) -> None:
    old = ReportSigner(keys.sm2_key()).sign(DOC)
    new_kids = keys.rotate()
    assert "signing-sm2" in new_kids
    assert key_id(keys.sm2_key().public_key()) == new_kids["signing-sm2"]
    trusted = {key_id(k): k for k in keys.verifying_keys()}
    assert len(keys.sm2_public_keys()) == 2
    assert verify_envelope(old.envelope, trusted).key_id == old.key_id


class _SetUpFails(Sm2PublicKey):
    """An SM2 key whose check cannot even start, as on a libcrypto without SM2."""

    __slots__ = ("error",)
    error: RuntimeError

    def verify(self, signature: bytes, data: bytes, *, distinguishing_id: bytes = b"") -> None:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        Sm2Unavailable("SM2 needs the system's OpenSSL 3 libcrypto built with SM2"),
        RuntimeError("libcrypto refused to set up SM2 with SM3"),
    ],
)
def test_an_sm2_check_that_cannot_start_is_an_envelope_error(
    keys: KeyStore, error: RuntimeError
) -> None:
    sm = keys.sm2_public_keys()[0]
    signed = ReportSigner(keys.keys_for("signing", ["sm2"])).sign(DOC)
    broken = _SetUpFails.from_point(sm.point())
    assert isinstance(broken, _SetUpFails)
    broken.error = error
    with pytest.raises(EnvelopeError, match=r"cannot be checked here: .*SM") as caught:
        verify_envelope(signed.envelope, {key_id(sm): broken})
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
