"""SM2/SM3 (GB/T 32918, GB/T 32905) through OpenSSL's libcrypto: the standards' example
vectors, and interoperability with the ``openssl`` command line in both directions."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature

from tests.openssl_helpers import need_sm2, openssl, sm2_sign, sm2_verify
from verifier.signing.sm2 import (
    DEFAULT_ID,
    Sm2KeyError,
    Sm2PrivateKey,
    Sm2PublicKey,
    sm3,
)

# GB/T 32905-2016 Appendix A: example 1 ("abc") and example 2 ("abcd" × 16).
SM3_VECTORS = [
    (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
]

# The SM2 signature example on the recommended curve (GM/T 0003.5 / GB/T 32918.5, as
# OpenSSL's and GmSSL's test suites carry it): ID "1234567812345678", message
# "message digest", private key d, the nonce k of the example, and the (r, s) it gives.
VECTOR_D = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"
VECTOR_K = "59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21"
VECTOR_X = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
VECTOR_Y = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
VECTOR_R = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
VECTOR_S = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
VECTOR_MESSAGE = b"message digest"


@pytest.fixture(autouse=True)
def _sm2() -> None:
    need_sm2()


def _der_integer(value: bytes) -> bytes:
    body = value.lstrip(b"\x00") or b"\x00"
    if body[0] & 0x80:
        body = b"\x00" + body
    return b"\x02" + bytes([len(body)]) + body


def der_signature(r_hex: str, s_hex: str) -> bytes:
    body = _der_integer(bytes.fromhex(r_hex)) + _der_integer(bytes.fromhex(s_hex))
    return b"\x30" + bytes([len(body)]) + body


def vector_public() -> Sm2PublicKey:
    return Sm2PublicKey.from_point(b"\x04" + bytes.fromhex(VECTOR_X + VECTOR_Y))


def vector_private_pem() -> bytes:
    """SEC1 ``EC PRIVATE KEY`` of the example's d on the SM2 curve, with its public point."""
    point = b"\x04" + bytes.fromhex(VECTOR_X + VECTOR_Y)
    body = (
        bytes.fromhex("020101")
        + b"\x04\x20"
        + bytes.fromhex(VECTOR_D)
        + bytes.fromhex("a00a06082a811ccf5501822d")
        + b"\xa1\x44\x03\x42\x00"
        + point
    )
    der = b"\x30" + bytes([len(body)]) + body
    b64 = base64.encodebytes(der)
    return b"-----BEGIN EC PRIVATE KEY-----\n" + b64 + b"-----END EC PRIVATE KEY-----\n"


@pytest.mark.parametrize(("message", "digest"), SM3_VECTORS)
def test_sm3_matches_the_standard_examples(message: bytes, digest: str) -> None:
    assert sm3(message).hex() == digest


def test_the_standard_example_signature_verifies_and_a_changed_one_does_not() -> None:
    public = vector_public()
    public.verify(der_signature(VECTOR_R, VECTOR_S), VECTOR_MESSAGE)
    s_plus_one = f"{int(VECTOR_S, 16) + 1:064X}"
    for bad_sig, message, distid in [
        (der_signature(VECTOR_R, s_plus_one), VECTOR_MESSAGE, DEFAULT_ID),
        (der_signature(VECTOR_R, VECTOR_S), b"message digesT", DEFAULT_ID),
        # Z binds the distinguishing ID: the same (r, s) under another ID is refused.
        (der_signature(VECTOR_R, VECTOR_S), VECTOR_MESSAGE, b"ALICE123@YAHOO.COM"),
    ]:
        with pytest.raises(InvalidSignature):
            public.verify(bad_sig, message, distinguishing_id=distid)


def test_the_example_key_signs_what_its_published_public_key_verifies() -> None:
    key = Sm2PrivateKey.from_pem(vector_private_pem())
    assert key.public_key() == vector_public()
    sig = key.sign(VECTOR_MESSAGE)
    vector_public().verify(sig, VECTOR_MESSAGE)
    # A fresh nonce each time (the example's k is for the example only): two signatures
    # of one message differ, and neither is the example's.
    again = key.sign(VECTOR_MESSAGE)
    assert sig != again
    assert der_signature(VECTOR_R, VECTOR_S) not in (sig, again)


# The recommended curve (GB/T 32918.5): p, a, b, n, G.
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = P - 3
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
G = (
    0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
)


def _add(p1: tuple[int, int] | None, p2: tuple[int, int] | None) -> tuple[int, int] | None:
    if p1 is None or p2 is None:
        return p1 or p2
    if p1[0] == p2[0] and (p1[1] + p2[1]) % P == 0:
        return None
    if p1 == p2:
        slope = (3 * p1[0] * p1[0] + A) * pow(2 * p1[1], -1, P) % P
    else:
        slope = (p2[1] - p1[1]) * pow(p2[0] - p1[0], -1, P) % P
    x = (slope * slope - p1[0] - p2[0]) % P
    return x, (slope * (p1[0] - x) - p1[1]) % P


def _times(k: int, point: tuple[int, int]) -> tuple[int, int]:
    acc: tuple[int, int] | None = None
    addend: tuple[int, int] | None = point
    while k:
        if k & 1:
            acc = _add(acc, addend)
        addend = _add(addend, addend)
        k >>= 1
    assert acc is not None
    return acc


def test_the_example_nonce_gives_the_published_signature_with_our_sm3() -> None:
    # GB/T 32918.2 §6.1 worked through with the example's fixed k (OpenSSL takes no nonce
    # from its caller, so this checks the example itself and hedui's SM3 over Z ‖ M).
    d, k = int(VECTOR_D, 16), int(VECTOR_K, 16)
    public = _times(d, G)
    assert public == (int(VECTOR_X, 16), int(VECTOR_Y, 16))

    def be(v: int) -> bytes:
        return v.to_bytes(32, "big")

    z = sm3(
        (len(DEFAULT_ID) * 8).to_bytes(2, "big")
        + DEFAULT_ID
        + b"".join(be(v) for v in (A, B, *G, *public))
    )
    e = int.from_bytes(sm3(z + VECTOR_MESSAGE), "big")
    r = (e + _times(k, G)[0]) % N
    s = pow(1 + d, -1, N) * (k - r * d) % N
    assert (f"{r:064X}", f"{s:064X}") == (VECTOR_R, VECTOR_S)


def test_keys_round_trip_through_pkcs8_pem_and_refuse_other_curves(tmp_path: Path) -> None:
    key = Sm2PrivateKey.generate()
    pem = key.to_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert Sm2PrivateKey.from_pem(pem).public_key() == key.public_key()
    p256 = openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
    assert p256.returncode == 0
    with pytest.raises(Sm2KeyError):
        Sm2PrivateKey.from_pem(p256.stdout)
    with pytest.raises(Sm2KeyError):
        Sm2PrivateKey.from_pem(b"not a key")
    with pytest.raises(Sm2KeyError):
        Sm2PublicKey.from_point(b"\x04" + bytes(64))  # (0, 0) is not on the curve
    with pytest.raises(Sm2KeyError):
        Sm2PublicKey.from_point(b"\x02" + bytes(32))


def test_openssl_verifies_our_signature_under_the_default_id_only(tmp_path: Path) -> None:
    key = Sm2PrivateKey.generate()
    data = "DSSEv1 报告 payload".encode()
    sig = key.sign(data)
    spki = key.public_key().spki_der()
    assert sm2_verify(spki, sig, data, tmp_path)
    assert not sm2_verify(spki, sig, data + b"!", tmp_path)
    assert not sm2_verify(spki, sig, data, tmp_path, distid=b"ALICE123@YAHOO.COM")


def test_we_verify_a_signature_made_by_openssl(tmp_path: Path) -> None:
    made = openssl("genpkey", "-algorithm", "SM2", "-out", tmp_path / "os.pem")
    assert made.returncode == 0
    pub = openssl("pkey", "-in", tmp_path / "os.pem", "-pubout", "-outform", "DER")
    public = Sm2PublicKey.from_spki_der(pub.stdout)
    data = b"signed by the openssl command line"
    sig = sm2_sign(tmp_path / "os.pem", data, tmp_path)
    public.verify(sig, data)
    with pytest.raises(InvalidSignature):
        public.verify(sig, data + b".")
    # The key OpenSSL wrote is one hedui reads too.
    key = Sm2PrivateKey.from_pem((tmp_path / "os.pem").read_bytes())
    assert key.public_key() == public


def test_malformed_signatures_are_refused_not_crashed_on() -> None:
    key = Sm2PrivateKey.generate()
    good = key.sign(b"data")
    for bad in (b"", b"garbage", b"\x30" * 200, good + b"\x00", good[:-1]):
        with pytest.raises(InvalidSignature):
            key.public_key().verify(bad, b"data")
    key.public_key().verify(key.sign(b""), b"")


def test_an_encrypted_key_fails_at_once_and_asks_for_no_passphrase(tmp_path: Path) -> None:
    # In a process with stdin closed and no terminal: libcrypto's default would prompt
    # "Enter PEM pass phrase"; hedui reads unencrypted keys only and says why it refused.
    made = openssl("genpkey", "-algorithm", "SM2", "-aes256", "-pass", "pass:x")
    assert made.returncode == 0 and b"ENCRYPTED PRIVATE KEY" in made.stdout
    (tmp_path / "enc.pem").write_bytes(made.stdout)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from verifier.signing.sm2 import Sm2KeyError, Sm2PrivateKey\n"
        "try:\n"
        "    Sm2PrivateKey.from_pem(Path(sys.argv[1]).read_bytes())\n"
        "except Sm2KeyError as exc:\n"
        "    print(exc)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "enc.pem")],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        start_new_session=True,
        timeout=60,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    assert proc.stdout.decode().strip() == (
        "PEM private key is encrypted: hedui reads unencrypted keys only"
    )
    assert b"pass phrase" not in proc.stderr.lower()
    with pytest.raises(Sm2KeyError, match="encrypted"):
        Sm2PrivateKey.from_pem(made.stdout)
