"""Ed25519 signing keys held in a hardware security module, through PKCS#11 (v3.0
CKM_EDDSA, CKK_EC_EDWARDS; SoftHSM2 ≥ 2.5 and the HSMs that implement it).

A key in the token is found by its label (``CKA_LABEL``) and class. The private key
never leaves the token: it is made there (or imported once) as sensitive and not
extractable, and every signature is computed by the module. :class:`Pkcs11Ed25519Key`
is an :class:`~cryptography.hazmat.primitives.asymmetric.ed25519.Ed25519PrivateKey`,
so DSSE envelopes and checkpoint notes are signed through it exactly as with a file
key, and the public key (hence the JWKS and the key id) is the same kind of key.

Messages name the module, token and key labels, never the PIN.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Any, NoReturn

import pkcs11
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    KeySerializationEncryption,
    PrivateFormat,
    PublicFormat,
)
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import PKCS11Error, UserAlreadyLoggedIn
from pkcs11.util.ec import encode_named_curve_parameters

from verifier.signing.keystore import KeyStoreError

__all__ = ["HsmError", "Pkcs11Ed25519Key", "Pkcs11Settings", "Pkcs11Token"]

# RFC 8410 id-Ed25519: CKA_EC_PARAMS of an Ed25519 key (PKCS#11 v3.0 §2.3.10).
_ED25519_OID = "1.3.101.112"
# DER OCTET STRING header of a 32-byte EC point: CKA_EC_POINT holds the raw key wrapped so.
_OCTET_STRING_32 = b"\x04\x20"


class HsmError(KeyStoreError):
    """The module, the token or a key in it cannot be used. Never names the PIN."""


@dataclass(frozen=True)
class Pkcs11Settings:
    """Where the keys are: the module (shared library), the token, the PIN (resolved)."""

    module: str
    token_label: str
    pin: str

    def __repr__(self) -> str:
        return f"Pkcs11Settings(module={self.module!r}, token_label={self.token_label!r})"


def _ed25519_public(point: bytes) -> Ed25519PublicKey:
    raw = point[2:] if len(point) == 34 and point[:2] == _OCTET_STRING_32 else point
    if len(raw) != 32:
        raise HsmError("the token's CKA_EC_POINT is not a 32-byte Ed25519 key")
    return Ed25519PublicKey.from_public_bytes(raw)


class Pkcs11Token:
    """One logged-in session on one token, shared by every key used from it.

    PKCS#11 logs in per application, not per session, so a process keeps one session
    per token; signing is serialised on it (a session runs one operation at a time).
    """

    def __init__(self, settings: Pkcs11Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._session: Any = None
        self._privates: dict[str, Any] = {}  # label → private key object of this session
        self._closed = False
        self._open()

    def _where(self) -> str:
        return f"token {self.settings.token_label!r} in {self.settings.module}"

    def _open(self) -> None:
        s = self.settings
        try:
            lib = pkcs11.lib(s.module)
        except (RuntimeError, OSError, PKCS11Error) as exc:
            raise HsmError(f"cannot load PKCS#11 module {s.module}: {type(exc).__name__}") from None
        token = self._find_token(lib)
        try:
            self._session = token.open(rw=True, user_pin=s.pin)
        except UserAlreadyLoggedIn:
            # Another session of this process logged in already: the login covers this one.
            self._session = token.open(rw=True)
        except PKCS11Error as exc:
            raise HsmError(f"cannot log in to {self._where()}: {type(exc).__name__}") from None

    def _find_token(self, lib: Any) -> Any:
        label = self.settings.token_label
        for attempt in range(2):
            try:
                return lib.get_token(token_label=label)
            except pkcs11.exceptions.NoSuchToken:
                if attempt == 0:
                    # A token initialised after the module was loaded is seen only once the
                    # module is initialised again (other sessions of this process are then
                    # opened again on their next signature: see sign).
                    lib.reinitialize()
            except (pkcs11.exceptions.MultipleTokensReturned, PKCS11Error) as exc:
                raise HsmError(f"{self._where()}: {type(exc).__name__}") from None
        raise HsmError(f"no {self._where()}")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._session is not None:
                with contextlib.suppress(PKCS11Error):  # a lost session is closed already
                    self._session.close()
                self._session, self._privates = None, {}

    # -- keys ------------------------------------------------------------------------
    def _objects(self, cls: ObjectClass, label: str) -> list[Any]:
        return list(
            self._session.get_objects(
                {
                    Attribute.CLASS: cls,
                    Attribute.LABEL: label,
                    Attribute.KEY_TYPE: KeyType.EC_EDWARDS,
                }
            )
        )

    def key(self, label: str) -> Pkcs11Ed25519Key:
        """The Ed25519 key pair labelled ``label`` in the token."""
        with self._lock:
            try:
                privs = self._objects(ObjectClass.PRIVATE_KEY, label)
                pubs = self._objects(ObjectClass.PUBLIC_KEY, label)
                if len(privs) != 1:
                    raise HsmError(
                        f"{self._where()} holds {len(privs)} Ed25519 private keys labelled "
                        f"{label!r} (one is needed; `hedui keys hsm-generate` makes it)"
                    )
                if len(pubs) != 1:
                    raise HsmError(
                        f"{self._where()} has no single public key labelled {label!r} beside "
                        "the private key (`hedui keys hsm-generate` and `hsm-import` store both)"
                    )
                public = _ed25519_public(pubs[0][Attribute.EC_POINT])
            except PKCS11Error as exc:
                raise HsmError(f"{self._where()}: {type(exc).__name__}") from None
            self._privates[label] = privs[0]
        return Pkcs11Ed25519Key(self, label, public)

    def generate(self, label: str) -> Ed25519PublicKey:
        """A new Ed25519 key pair made in the token (private key sensitive, never
        extractable); refuses a label already in use."""
        params = encode_named_curve_parameters(_ED25519_OID)
        with self._lock:
            if self._objects(ObjectClass.PRIVATE_KEY, label):
                raise HsmError(f"{self._where()} already holds a key labelled {label!r}")
            try:
                domain = self._session.create_domain_parameters(
                    KeyType.EC_EDWARDS, {Attribute.EC_PARAMS: params}, local=True
                )
                pub, _ = domain.generate_keypair(
                    store=True,
                    label=label,
                    mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
                    private_template={
                        Attribute.SENSITIVE: True,
                        Attribute.EXTRACTABLE: False,
                        Attribute.SIGN: True,
                    },
                )
                return _ed25519_public(pub[Attribute.EC_POINT])
            except PKCS11Error as exc:
                raise HsmError(
                    f"{self._where()} could not make an Ed25519 key: {type(exc).__name__}"
                ) from None

    def import_key(self, label: str, key: Ed25519PrivateKey) -> Ed25519PublicKey:
        """Store an existing Ed25519 key in the token under ``label`` (sensitive, not
        extractable from then on), so reports keep their key id across the move."""
        params = encode_named_curve_parameters(_ED25519_OID)
        public = key.public_key()
        raw_public = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
        common = {
            Attribute.TOKEN: True,
            Attribute.LABEL: label,
            Attribute.KEY_TYPE: KeyType.EC_EDWARDS,
            Attribute.EC_PARAMS: params,
        }
        with self._lock:
            if self._objects(ObjectClass.PRIVATE_KEY, label):
                raise HsmError(f"{self._where()} already holds a key labelled {label!r}")
            try:
                self._session.create_object(
                    {
                        **common,
                        Attribute.CLASS: ObjectClass.PUBLIC_KEY,
                        Attribute.EC_POINT: _OCTET_STRING_32 + raw_public,
                        Attribute.VERIFY: True,
                    }
                )
                self._session.create_object(
                    {
                        **common,
                        Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                        Attribute.VALUE: key.private_bytes_raw(),
                        Attribute.PRIVATE: True,
                        Attribute.SENSITIVE: True,
                        Attribute.EXTRACTABLE: False,
                        Attribute.SIGN: True,
                    }
                )
            except PKCS11Error as exc:
                raise HsmError(
                    f"{self._where()} could not import the key: {type(exc).__name__}"
                ) from None
        return public

    def sign(self, label: str, message: bytes) -> bytes:
        """``message`` signed by the private key ``label``. A session the module lost (the
        HSM restarted, a network HSM reconnected) is opened again once, and the key found
        again, before the signature is given up."""
        with self._lock:
            for attempt in (1, 2):
                if self._closed:
                    raise HsmError(f"the session on {self._where()} is closed")
                try:
                    if self._session is None:
                        self._open()
                    private = self._privates.get(label) or self._refind(label)
                    return bytes(private.sign(message, mechanism=Mechanism.EDDSA))
                except _SESSION_LOST as exc:
                    self._session, self._privates = None, {}
                    if attempt == 2:
                        raise HsmError(
                            f"{self._where()} cannot sign: {type(exc).__name__}"
                        ) from None
                except PKCS11Error as exc:
                    raise HsmError(
                        f"{self._where()} refused to sign: {type(exc).__name__}"
                    ) from None
            raise AssertionError("unreachable")  # pragma: no cover

    def _refind(self, label: str) -> Any:
        privs = self._objects(ObjectClass.PRIVATE_KEY, label)
        if len(privs) != 1:
            raise HsmError(f"{self._where()} holds {len(privs)} keys labelled {label!r}")
        self._privates[label] = privs[0]
        return privs[0]


# What a lost session looks like: opening a new one (and finding the key again) may help.
_SESSION_LOST = (
    pkcs11.exceptions.SessionHandleInvalid,
    pkcs11.exceptions.SessionClosed,
    pkcs11.exceptions.ObjectHandleInvalid,
    pkcs11.exceptions.KeyHandleInvalid,
    pkcs11.exceptions.UserNotLoggedIn,
    pkcs11.exceptions.DeviceRemoved,
    pkcs11.exceptions.TokenNotPresent,
)


class Pkcs11Ed25519Key(Ed25519PrivateKey):
    """An Ed25519 private key that stays in the token: signs through PKCS#11
    (CKM_EDDSA, pure Ed25519 as RFC 8032), refuses to be serialised."""

    def __init__(self, token: Pkcs11Token, label: str, public: Ed25519PublicKey) -> None:
        self._token = token
        self.label = label
        self._public = public

    def public_key(self) -> Ed25519PublicKey:
        return self._public

    def sign(self, data: bytes | bytearray | memoryview) -> bytes:
        return self._token.sign(self.label, bytes(data))

    def private_bytes(
        self,
        encoding: Encoding,
        format: PrivateFormat,
        encryption_algorithm: KeySerializationEncryption,
    ) -> bytes:
        self._refuse()

    def private_bytes_raw(self) -> bytes:
        self._refuse()

    def _refuse(self) -> NoReturn:
        raise HsmError(f"key {self.label!r} is held in the HSM and cannot be exported")

    def __copy__(self) -> Pkcs11Ed25519Key:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Pkcs11Ed25519Key:
        return self
