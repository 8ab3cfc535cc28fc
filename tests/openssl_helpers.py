"""The ``openssl`` command line as an independent check of hedui's signatures.

It shares no code path with the verifier's own checks (the CLI parses its own inputs),
so a test that has OpenSSL accept hedui's signature — and refuse a tampered one — shows
interoperability, not agreement with itself. A missing ``openssl`` skips locally and
fails under ``CI=true`` (``.ci/system-packages.sh`` installs it).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from verifier.signing.sm2 import DEFAULT_ID, available


def need_sm2() -> None:
    """Skip without SM2 in the system's libcrypto — or fail, under ``CI=true``, where
    OpenSSL 3 (Debian's libssl3) is always there."""
    if not available():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("the system's libcrypto has no SM2 (OpenSSL 3 is required under CI=true)")
        pytest.skip("the system's libcrypto has no SM2")


def need_openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("openssl is required under CI=true")
        pytest.skip("openssl not installed (set CI=true to make this a failure)")
    return path


def openssl(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [need_openssl(), *map(str, args)], capture_output=True, check=False, timeout=60
    )


def sm2_verify(
    spki_der: bytes, signature: bytes, data: bytes, workdir: Path, *, distid: bytes = DEFAULT_ID
) -> bool:
    """``openssl dgst -sm3 -verify`` with the distinguishing ID: True when OpenSSL accepts."""
    (workdir / "sm2pub.der").write_bytes(spki_der)
    (workdir / "sm2sig.der").write_bytes(signature)
    (workdir / "sm2data.bin").write_bytes(data)
    proc = openssl(
        "dgst",
        "-sm3",
        "-verify",
        workdir / "sm2pub.der",
        "-keyform",
        "DER",
        "-sigopt",
        f"distid:{distid.decode()}",
        "-signature",
        workdir / "sm2sig.der",
        workdir / "sm2data.bin",
    )
    return proc.returncode == 0 and b"Verified OK" in proc.stdout


def sm2_sign(key_pem: Path, data: bytes, workdir: Path) -> bytes:
    """An SM2 signature (DER) made by ``openssl dgst -sm3 -sign`` with the default ID."""
    (workdir / "osdata.bin").write_bytes(data)
    proc = openssl(
        "dgst",
        "-sm3",
        "-sign",
        key_pem,
        "-sigopt",
        f"distid:{DEFAULT_ID.decode()}",
        "-out",
        workdir / "ossig.der",
        workdir / "osdata.bin",
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return (workdir / "ossig.der").read_bytes()


def pae_of(envelope: bytes) -> bytes:
    """The DSSE PAE bytes of an envelope, computed here from its JSON (not by hedui)."""
    env = json.loads(envelope)
    payload = base64.b64decode(env["payload"])
    t = env["payloadType"].encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def sm2_spki_from_jwk(jwk: dict[str, str]) -> bytes:
    """SubjectPublicKeyInfo DER of a ``{"kty": "EC", "crv": "SM2"}`` JWK, built from the
    JWK's coordinates alone (id-ecPublicKey, the SM2 curve OID, the uncompressed point)."""
    x = base64.urlsafe_b64decode(jwk["x"] + "==")
    y = base64.urlsafe_b64decode(jwk["y"] + "==")
    prefix = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")
    return prefix + b"\x04" + x + y
