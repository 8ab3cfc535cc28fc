"""Report signing: DSSE + Ed25519 over RFC 8785 bytes, checked by our verifier and by
OpenSSL (an implementation that shares nothing with ours)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verifier.signing.dsse import REPORT_PAYLOAD_TYPE, EnvelopeError, pae, verify_envelope
from verifier.signing.jcs import canonical_bytes
from verifier.signing.jwks import JwksError, dumps_jwks, key_id, parse_jwks, raw_public
from verifier.signing.keystore import SM2_KINDS, KeyStore
from verifier.signing.signer import ReportSigner

DOC = {"schema": "hedui.report/v1", "b": [3, 1, 2], "a": {"z": "家庭", "y": 12345}, "n": None}


def test_pae_matches_the_dsse_spec_example() -> None:
    # From the DSSE protocol document.
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_canonical_bytes_sort_keys_and_refuse_floats() -> None:
    assert (
        canonical_bytes({"b": 1, "a": [True, None, "é"]}) == '{"a":[true,null,"é"],"b":1}'.encode()
    )
    with pytest.raises(TypeError, match=r"\$\.x\.y"):
        canonical_bytes({"x": {"y": 1.5}})


def test_kid_is_sha256_of_the_raw_public_key() -> None:
    import hashlib

    key = Ed25519PrivateKey.generate().public_key()
    assert key_id(key) == hashlib.sha256(raw_public(key)).hexdigest()
    jwks = json.loads(dumps_jwks([key]))
    assert jwks["keys"][0]["kid"] == key_id(key)
    assert jwks["keys"][0]["kty"] == "OKP" and jwks["keys"][0]["crv"] == "Ed25519"


def test_jwks_with_a_lying_kid_is_refused() -> None:
    key = Ed25519PrivateKey.generate().public_key()
    doc = json.loads(dumps_jwks([key]))
    doc["keys"][0]["kid"] = "00" * 32
    with pytest.raises(JwksError, match="kid does not match"):
        parse_jwks(json.dumps(doc))


def test_sign_and_verify_round_trip() -> None:
    key = Ed25519PrivateKey.generate()
    signed = ReportSigner(key).sign(DOC)
    v = verify_envelope(signed.envelope, parse_jwks(dumps_jwks([key.public_key()])))
    assert v.document == DOC and v.key_id == key_id(key.public_key())


def _envelope(key: Ed25519PrivateKey) -> dict[str, object]:
    result: dict[str, object] = json.loads(ReportSigner(key).sign(DOC).envelope)
    return result


@pytest.mark.parametrize("tamper", ["payload", "type", "sig", "noncanonical", "other_key"])
def test_tampered_envelopes_are_refused(tamper: str) -> None:
    key = Ed25519PrivateKey.generate()
    keys = {key_id(key.public_key()): key.public_key()}
    env = _envelope(key)
    if tamper == "payload":
        env["payload"] = base64.b64encode(canonical_bytes({**DOC, "n": 1})).decode()
    elif tamper == "type":
        env["payloadType"] = "application/json"
    elif tamper == "sig":
        sigs = env["signatures"]
        assert isinstance(sigs, list)
        raw = bytearray(base64.b64decode(sigs[0]["sig"]))
        raw[0] ^= 1
        sigs[0]["sig"] = base64.b64encode(bytes(raw)).decode()
    elif tamper == "noncanonical":
        # A valid signature over bytes that are JSON but not RFC 8785: still refused.
        body = json.dumps(DOC).encode()
        sig = key.sign(pae(REPORT_PAYLOAD_TYPE, body))
        env["payload"] = base64.b64encode(body).decode()
        env["signatures"] = [
            {"keyid": key_id(key.public_key()), "sig": base64.b64encode(sig).decode()}
        ]
    else:
        keys = {key_id(k.public_key()): k.public_key() for k in [Ed25519PrivateKey.generate()]}
    with pytest.raises(EnvelopeError):
        verify_envelope(json.dumps(env).encode(), keys)


def independent_verify(envelope: bytes, jwks_text: str, workdir: Path) -> bool:
    """Verify with OpenSSL from the JWKS, and check JCS with plain json (ASCII keys,
    integers and strings only, where RFC 8785 equals sorted compact JSON)."""
    env = json.loads(envelope)
    jwk = json.loads(jwks_text)["keys"][0]
    x = base64.urlsafe_b64decode(jwk["x"] + "==")
    der = bytes.fromhex("302a300506032b6570032100") + x  # SubjectPublicKeyInfo for Ed25519
    pem = b"-----BEGIN PUBLIC KEY-----\n" + base64.encodebytes(der) + b"-----END PUBLIC KEY-----\n"
    (workdir / "pub.pem").write_bytes(pem)
    payload = base64.b64decode(env["payload"])
    t = env["payloadType"].encode()
    (workdir / "pae.bin").write_bytes(b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload))
    (workdir / "sig.bin").write_bytes(base64.b64decode(env["signatures"][0]["sig"]))
    proc = subprocess.run(
        [
            "openssl",
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            str(workdir / "pub.pem"),
            "-rawin",
            "-in",
            str(workdir / "pae.bin"),
            "-sigfile",
            str(workdir / "sig.bin"),
        ],
        capture_output=True,
        check=False,
    )
    canonical = json.dumps(
        json.loads(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return proc.returncode == 0 and canonical.encode() == payload


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_openssl_accepts_our_envelope_and_refuses_a_tampered_one(tmp_path: Path) -> None:
    ks = KeyStore(tmp_path / "keys")
    ks.ensure()
    signer = ReportSigner(ks.signing_key())
    envelope = signer.sign(DOC).envelope
    jwks = dumps_jwks(ks.public_keys())
    assert independent_verify(envelope, jwks, tmp_path)
    env = json.loads(envelope)
    env["payload"] = base64.b64encode(canonical_bytes({**DOC, "n": 2})).decode()
    assert not independent_verify(json.dumps(env).encode(), jwks, tmp_path)


def test_keystore_rotation_keeps_old_keys(tmp_path: Path) -> None:
    ks = KeyStore(tmp_path / "keys")
    assert set(ks.ensure()) == {"signing", "audit", "data", "pseudonym", *SM2_KINDS}
    assert ks.ensure() == []
    old = key_id(ks.signing_key().public_key())
    ks.rotate()
    new = key_id(ks.signing_key().public_key())
    assert new != old
    assert [key_id(k) for k in ks.public_keys()] == [new, old]
    assert (tmp_path / "keys" / "pseudonym.key").stat().st_mode & 0o077 == 0
