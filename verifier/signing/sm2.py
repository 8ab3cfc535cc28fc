"""SM2 signatures with the SM3 digest (GB/T 32918.2, GB/T 32905) through the system's OpenSSL 3.

The arithmetic is OpenSSL's libcrypto (``libcrypto.so.3``), called through :mod:`ctypes`:
the same code the ``openssl`` command line runs, kept up to date by the operating system's
security updates, with its own DRBG for the signing nonce. Nothing here computes on curve
points in Python.

A signature signs ``message`` as GB/T 32918.2 says: ``e = SM3(Z || message)`` where ``Z``
hashes the signer's distinguishing ID (the standard's default ``1234567812345678``), the
curve and the public key. Signatures are DER ``SEQUENCE { r INTEGER, s INTEGER }`` as
OpenSSL and GM/T 0009 write them. Keys are the SM2 recommended curve
(OID 1.2.156.10197.1.301): private keys as PKCS#8 PEM, public keys as the 65-byte
uncompressed point ``04 || x || y`` or SubjectPublicKeyInfo DER.

The classes answer like ``cryptography``'s Ed25519 keys (``sign``, ``verify`` raising
:class:`~cryptography.exceptions.InvalidSignature`, ``public_key``), so a DSSE envelope
treats both kinds of key alike.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
from typing import Any

from cryptography.exceptions import InvalidSignature

DEFAULT_ID = b"1234567812345678"
"""The distinguishing ID GB/T 32918 and GM/T 0009 use when none is agreed."""

POINT_SIZE = 65
"""An uncompressed public point: 0x04, then x and y of 32 bytes each."""

# SubjectPublicKeyInfo of an SM2 key: id-ecPublicKey with the SM2 curve's OID, then the point.
_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")


class Sm2Unavailable(RuntimeError):
    """The system's libcrypto has no SM2 (not OpenSSL 3, or built without SM2)."""


class Sm2KeyError(ValueError):
    """Bytes that are not an SM2 key of the recommended curve. Never quotes the bytes."""


# ``pem_password_cb``: int (*)(char *buf, int size, int rwflag, void *u).
_PEM_PASSWORD_CB = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p
)


def _bind(lib: ctypes.CDLL) -> ctypes.CDLL:
    p, i, sz = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t
    signatures: dict[str, tuple[Any, list[Any]]] = {
        "OpenSSL_version_num": (ctypes.c_ulong, []),
        "ERR_clear_error": (None, []),
        "EVP_PKEY_CTX_new_from_name": (p, [p, ctypes.c_char_p, p]),
        "EVP_PKEY_CTX_new": (p, [p, p]),
        "EVP_PKEY_CTX_free": (None, [p]),
        "EVP_PKEY_CTX_set1_id": (i, [p, p, i]),
        "EVP_PKEY_keygen_init": (i, [p]),
        "EVP_PKEY_generate": (i, [p, ctypes.POINTER(p)]),
        "EVP_PKEY_free": (None, [p]),
        "EVP_PKEY_is_a": (i, [p, ctypes.c_char_p]),
        "EVP_MD_CTX_new": (p, []),
        "EVP_MD_CTX_free": (None, [p]),
        "EVP_MD_CTX_set_pkey_ctx": (None, [p, p]),
        "EVP_sm3": (p, []),
        "EVP_DigestSignInit": (i, [p, p, p, p, p]),
        "EVP_DigestSign": (i, [p, p, ctypes.POINTER(sz), p, sz]),
        "EVP_DigestVerifyInit": (i, [p, p, p, p, p]),
        "EVP_DigestVerify": (i, [p, p, sz, p, sz]),
        "EVP_Digest": (i, [p, sz, p, ctypes.POINTER(ctypes.c_uint), p, p]),
        "BIO_new_mem_buf": (p, [p, i]),
        "BIO_new": (p, [p]),
        "BIO_s_mem": (p, []),
        "BIO_free": (i, [p]),
        "BIO_read": (i, [p, p, i]),
        "BIO_ctrl": (ctypes.c_long, [p, i, ctypes.c_long, p]),
        "PEM_read_bio_PrivateKey": (p, [p, p, _PEM_PASSWORD_CB, p]),
        "PEM_write_bio_PrivateKey": (i, [p, p, p, p, i, p, p]),
        "d2i_PUBKEY": (p, [p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_long]),
        "i2d_PUBKEY": (i, [p, ctypes.POINTER(ctypes.c_char_p)]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


@functools.cache
def _libcrypto() -> ctypes.CDLL:
    """The system's libcrypto 3, bound once; :class:`Sm2Unavailable` if there is none."""
    names = ["libcrypto.so.3", ctypes.util.find_library("crypto")]
    for name in filter(None, names):
        try:
            lib = _bind(ctypes.CDLL(name))
        except (OSError, AttributeError):
            continue
        if lib.OpenSSL_version_num() >> 28 >= 3:
            ctx = lib.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
            if ctx:
                lib.EVP_PKEY_CTX_free(ctx)
                return lib
    raise Sm2Unavailable("SM2 needs the system's OpenSSL 3 libcrypto built with SM2")


def available() -> bool:
    """Whether this machine can sign and verify SM2 (OpenSSL 3 with SM2 is present)."""
    try:
        _libcrypto()
    except Sm2Unavailable:
        return False
    return True


def sm3(data: bytes) -> bytes:
    """The SM3 digest (GB/T 32905) of ``data``."""
    lib = _libcrypto()
    out = ctypes.create_string_buffer(32)
    size = ctypes.c_uint(0)
    if lib.EVP_Digest(data, len(data), out, ctypes.byref(size), lib.EVP_sm3(), None) != 1:
        raise RuntimeError("SM3 digest failed")
    return out.raw[: size.value]


class _Pkey:
    """An owned ``EVP_PKEY *``, freed with its Python object."""

    def __init__(self, handle: int) -> None:
        self.handle = handle

    def __del__(self) -> None:
        # At interpreter exit the module's globals may be gone: the process frees it all.
        with contextlib.suppress(Exception):
            _libcrypto().EVP_PKEY_free(self.handle)


def _checked_sm2(handle: int | None, what: str) -> _Pkey:
    lib = _libcrypto()
    if not handle:
        lib.ERR_clear_error()
        raise Sm2KeyError(f"{what} is not an SM2 key")
    pkey = _Pkey(handle)
    if lib.EVP_PKEY_is_a(handle, b"SM2") != 1:
        raise Sm2KeyError(f"{what} is not an SM2 key")
    return pkey


def _digest_ctx(pkey: _Pkey, verify: bool, distinguishing_id: bytes) -> tuple[int, int]:
    """An ``EVP_MD_CTX`` set for SM2-with-SM3 under ``distinguishing_id``, and its pkey ctx."""
    lib = _libcrypto()
    pctx = lib.EVP_PKEY_CTX_new(pkey.handle, None)
    mctx = lib.EVP_MD_CTX_new()
    if not pctx or not mctx:
        lib.EVP_PKEY_CTX_free(pctx)
        lib.EVP_MD_CTX_free(mctx)
        raise MemoryError("libcrypto could not allocate a context")
    ok = lib.EVP_PKEY_CTX_set1_id(pctx, distinguishing_id, len(distinguishing_id))
    lib.EVP_MD_CTX_set_pkey_ctx(mctx, pctx)
    init = lib.EVP_DigestVerifyInit if verify else lib.EVP_DigestSignInit
    if ok <= 0 or init(mctx, None, lib.EVP_sm3(), None, pkey.handle) != 1:
        lib.EVP_MD_CTX_free(mctx)
        lib.EVP_PKEY_CTX_free(pctx)
        lib.ERR_clear_error()
        raise RuntimeError("libcrypto refused to set up SM2 with SM3")
    return mctx, pctx


def _free_ctx(mctx: int, pctx: int) -> None:
    lib = _libcrypto()
    lib.EVP_MD_CTX_free(mctx)  # does not free a pkey ctx handed over by set_pkey_ctx
    lib.EVP_PKEY_CTX_free(pctx)


class Sm2PublicKey:
    """An SM2 public key of the recommended curve."""

    __slots__ = ("_pkey", "_point")

    def __init__(self, pkey: _Pkey, point: bytes) -> None:
        self._pkey = pkey
        self._point = point

    @classmethod
    def from_point(cls, point: bytes) -> Sm2PublicKey:
        """From the 65-byte uncompressed point ``04 || x || y``; refuses points off the curve."""
        if len(point) != POINT_SIZE or point[:1] != b"\x04":
            raise Sm2KeyError("an SM2 public key is a 65-byte uncompressed point (04 || x || y)")
        return cls.from_spki_der(_SPKI_PREFIX + point)

    @classmethod
    def from_spki_der(cls, der: bytes) -> Sm2PublicKey:
        """From SubjectPublicKeyInfo DER naming the SM2 curve (as ``openssl pkey -pubout``)."""
        if len(der) != len(_SPKI_PREFIX) + POINT_SIZE or not der.startswith(_SPKI_PREFIX):
            raise Sm2KeyError("not the SubjectPublicKeyInfo of an SM2 key")
        lib = _libcrypto()
        cursor = ctypes.c_char_p(der)
        pkey = _checked_sm2(lib.d2i_PUBKEY(None, ctypes.byref(cursor), len(der)), "public key")
        return cls(pkey, der[len(_SPKI_PREFIX) :])

    def point(self) -> bytes:
        """The 65-byte uncompressed point ``04 || x || y``."""
        return self._point

    def spki_der(self) -> bytes:
        """SubjectPublicKeyInfo DER, as OpenSSL reads a public key."""
        return _SPKI_PREFIX + self._point

    def verify(
        self, signature: bytes, data: bytes, *, distinguishing_id: bytes = DEFAULT_ID
    ) -> None:
        """Raise :class:`InvalidSignature` unless ``signature`` (DER) signs ``data``."""
        lib = _libcrypto()
        mctx, pctx = _digest_ctx(self._pkey, True, distinguishing_id)
        try:
            ok = lib.EVP_DigestVerify(mctx, signature, len(signature), data, len(data))
        finally:
            _free_ctx(mctx, pctx)
        if ok != 1:
            lib.ERR_clear_error()
            raise InvalidSignature()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sm2PublicKey) and other._point == self._point

    def __hash__(self) -> int:
        return hash(self._point)


class Sm2PrivateKey:
    """An SM2 private key of the recommended curve."""

    __slots__ = ("_pkey", "_public")

    def __init__(self, pkey: _Pkey) -> None:
        self._pkey = pkey
        self._public = Sm2PublicKey.from_spki_der(_pubkey_der(pkey))

    @classmethod
    def generate(cls) -> Sm2PrivateKey:
        """A new key from OpenSSL's DRBG."""
        lib = _libcrypto()
        ctx = lib.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
        out = ctypes.c_void_p()
        try:
            if lib.EVP_PKEY_keygen_init(ctx) != 1 or lib.EVP_PKEY_generate(ctx, out) != 1:
                lib.ERR_clear_error()
                raise RuntimeError("libcrypto could not generate an SM2 key")
        finally:
            lib.EVP_PKEY_CTX_free(ctx)
        return cls(_checked_sm2(out.value, "generated key"))

    @classmethod
    def from_pem(cls, pem: bytes) -> Sm2PrivateKey:
        """From an unencrypted PEM private key (PKCS#8, or SEC1 ``EC PRIVATE KEY``).

        An encrypted key is an :class:`Sm2KeyError`: without a callback libcrypto would ask
        for its passphrase on the terminal, so a callback that gives none is passed."""
        lib = _libcrypto()
        asked = False

        def no_passphrase(buf: int | None, size: int, rwflag: int, u: int | None) -> int:
            nonlocal asked
            asked = True
            return 0

        callback = _PEM_PASSWORD_CB(no_passphrase)  # alive until libcrypto returns
        bio = lib.BIO_new_mem_buf(pem, len(pem))
        try:
            handle = lib.PEM_read_bio_PrivateKey(bio, None, callback, None)
        finally:
            lib.BIO_free(bio)
        if not handle and asked:
            lib.ERR_clear_error()
            raise Sm2KeyError("PEM private key is encrypted: hedui reads unencrypted keys only")
        return cls(_checked_sm2(handle, "PEM private key"))

    def to_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM (``BEGIN PRIVATE KEY``), as ``openssl genpkey`` writes."""
        lib = _libcrypto()
        bio = lib.BIO_new(lib.BIO_s_mem())
        try:
            if lib.PEM_write_bio_PrivateKey(bio, self._pkey.handle, None, None, 0, None, None) != 1:
                lib.ERR_clear_error()
                raise RuntimeError("libcrypto could not write the SM2 key")
            size = lib.BIO_ctrl(bio, 10, 0, None)  # BIO_CTRL_PENDING
            buf = ctypes.create_string_buffer(size)
            read = lib.BIO_read(bio, buf, size)
        finally:
            lib.BIO_free(bio)
        return buf.raw[:read]

    def public_key(self) -> Sm2PublicKey:
        return self._public

    def sign(self, data: bytes, *, distinguishing_id: bytes = DEFAULT_ID) -> bytes:
        """The DER signature of ``data`` (SM3 over Z || data, a fresh nonce from the DRBG)."""
        lib = _libcrypto()
        mctx, pctx = _digest_ctx(self._pkey, False, distinguishing_id)
        try:
            size = ctypes.c_size_t(0)
            if lib.EVP_DigestSign(mctx, None, ctypes.byref(size), data, len(data)) == 1:
                buf = ctypes.create_string_buffer(size.value)
                if lib.EVP_DigestSign(mctx, buf, ctypes.byref(size), data, len(data)) == 1:
                    return buf.raw[: size.value]
        finally:
            _free_ctx(mctx, pctx)
        lib.ERR_clear_error()
        raise RuntimeError("libcrypto could not make an SM2 signature")


def _pubkey_der(pkey: _Pkey) -> bytes:
    lib = _libcrypto()
    size = lib.i2d_PUBKEY(pkey.handle, None)
    if size <= 0:
        lib.ERR_clear_error()
        raise Sm2KeyError("the key has no public part")
    buf = ctypes.create_string_buffer(size)
    cursor = ctypes.c_char_p(ctypes.addressof(buf))
    lib.i2d_PUBKEY(pkey.handle, ctypes.byref(cursor))
    return buf.raw[:size]
