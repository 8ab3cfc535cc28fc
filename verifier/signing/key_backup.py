"""Encrypted backups of the key directory (``hedui keys backup`` / ``restore``).

The format (``hedui.keys-backup`` version 1, documented in ``docs/key-backup.md``) is one
JSON object::

    {"format": "hedui.keys-backup", "version": 1,
     "kdf": {"name": "scrypt", "salt": B64, "n": 131072, "r": 8, "p": 1},
     "aead": {"name": "AES-256-GCM", "nonce": B64},
     "check": B64, "ciphertext": B64}

scrypt (RFC 7914) turns the passphrase into 64 bytes: the first 32 are the AES-256-GCM
key, the last 32 an HMAC-SHA256 key. ``check`` is that HMAC over the header (the RFC 8785
form of ``format``, ``version``, ``kdf`` and ``aead``), which tells a wrong passphrase
apart from altered contents; the header is also the AEAD's associated data, so nothing in
it can be changed unnoticed. The plaintext is the RFC 8785 form of
``{"created_at", "files": [{"path", "data"}], "hsm": [...]}``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import secrets
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from verifier.signing.durable_write import fsync_directory, write_new_file
from verifier.signing.jcs import canonical_bytes

__all__ = [
    "FORMAT",
    "VERSION",
    "BackupContents",
    "BackupError",
    "open_backup",
    "read_key_directory",
    "seal_backup",
    "write_key_directory",
    "write_new_file",
]

FORMAT = "hedui.keys-backup"
VERSION = 1
# OWASP's scrypt setting (N=2^17, r=8, p=1): about 128 MiB and a fraction of a second.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
# A backup's own parameters are honoured within these bounds (a crafted file must not make
# restore allocate gigabytes).
_N_RANGE, _R_MAX, _P_MAX = (2**14, 2**20), 16, 4
MIN_PASSPHRASE = 12
_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,127}", re.ASCII)
_MAX_DEPTH, _MAX_FILES, _MAX_FILE_BYTES = 4, 10_000, 1 << 20


class BackupError(ValueError):
    """The backup cannot be made or opened. Messages never hold key material."""


@dataclass(frozen=True)
class BackupContents:
    """What a backup holds: every file of the key directory by relative path, and the
    references of HSM-held keys (their private halves stay in the token)."""

    files: Mapping[str, bytes]
    hsm: Sequence[Mapping[str, str]] = ()
    created_at: str = field(
        default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise BackupError(f"not a hedui key backup: {what} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise BackupError(f"not a hedui key backup: {what} is not base64") from None


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> tuple[bytes, bytes]:
    okm = Scrypt(salt=salt, length=64, n=n, r=r, p=p).derive(passphrase.encode())
    return okm[:32], okm[32:]


def _check_path(path: str) -> str:
    parts = path.split("/")
    if len(parts) > _MAX_DEPTH or not all(_PART.fullmatch(p) for p in parts):
        raise BackupError(f"refusing a file name in the key directory: {path[:80]!r}")
    return path


def seal_backup(contents: BackupContents, passphrase: str, *, n: int = SCRYPT_N) -> bytes:
    """The backup file's bytes: ``contents`` encrypted under ``passphrase``."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(f"the passphrase must have at least {MIN_PASSPHRASE} characters")
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "kdf": {"name": "scrypt", "salt": _b64(salt), "n": n, "r": SCRYPT_R, "p": SCRYPT_P},
        "aead": {"name": "AES-256-GCM", "nonce": _b64(nonce)},
    }
    aad = canonical_bytes(header)
    key, check_key = _derive(passphrase, salt, n, SCRYPT_R, SCRYPT_P)
    plaintext = canonical_bytes(
        {
            "created_at": contents.created_at,
            "files": [
                {"path": _check_path(p), "data": _b64(d)} for p, d in sorted(contents.files.items())
            ],
            "hsm": [dict(h) for h in contents.hsm],
        }
    )
    doc = {
        **header,
        "check": _b64(hmac.digest(check_key, aad, sha256)),
        "ciphertext": _b64(AESGCM(key).encrypt(nonce, plaintext, aad)),
    }
    return (json.dumps(doc, indent=1) + "\n").encode()


def _header(doc: dict[str, Any]) -> tuple[dict[str, Any], bytes, bytes, int, int, int]:
    """The checked header, its salt and nonce, and the scrypt parameters."""
    if doc.get("version") != VERSION:
        raise BackupError(
            f"backup format version {str(doc.get('version'))[:10]} is not supported "
            f"(this hedui reads version {VERSION})"
        )
    kdf, aead = doc.get("kdf"), doc.get("aead")
    if not isinstance(kdf, dict) or kdf.get("name") != "scrypt":
        raise BackupError("not a hedui key backup: kdf must be scrypt")
    if not isinstance(aead, dict) or aead.get("name") != "AES-256-GCM":
        raise BackupError("not a hedui key backup: aead must be AES-256-GCM")
    n, r, p = kdf.get("n"), kdf.get("r"), kdf.get("p")
    if not (
        type(n) is int
        and _N_RANGE[0] <= n <= _N_RANGE[1]
        and n & (n - 1) == 0
        and type(r) is int
        and 1 <= r <= _R_MAX
        and type(p) is int
        and 1 <= p <= _P_MAX
    ):
        raise BackupError("the backup's scrypt parameters are outside what hedui accepts")
    salt, nonce = _unb64(kdf.get("salt"), "kdf.salt"), _unb64(aead.get("nonce"), "aead.nonce")
    if len(nonce) != 12 or not 16 <= len(salt) <= 64:
        raise BackupError("not a hedui key backup: salt or nonce has the wrong length")
    header = {"format": FORMAT, "version": VERSION, "kdf": kdf, "aead": aead}
    return header, salt, nonce, n, r, p


def open_backup(data: bytes, passphrase: str) -> BackupContents:
    """The contents of a backup file; :class:`BackupError` names what is wrong: not a
    backup, a wrong passphrase, or contents that were altered."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BackupError("not a hedui key backup (not JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BackupError(f'not a hedui key backup (no "format": "{FORMAT}")')
    header, salt, nonce, n, r, p = _header(doc)
    aad = canonical_bytes(header)
    key, check_key = _derive(passphrase, salt, n, r, p)
    if not hmac.compare_digest(
        hmac.digest(check_key, aad, sha256), _unb64(doc.get("check"), "check")
    ):
        raise BackupError("wrong passphrase (or the backup's header was altered)")
    try:
        plaintext = AESGCM(key).decrypt(nonce, _unb64(doc.get("ciphertext"), "ciphertext"), aad)
    except InvalidTag:
        raise BackupError(
            "the backup was altered or damaged: its contents do not authenticate"
        ) from None
    try:
        return _contents(json.loads(plaintext))
    except BackupError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError):
        raise BackupError("the backup's contents are malformed") from None


def _contents(body: dict[str, Any]) -> BackupContents:
    files: dict[str, bytes] = {}
    for f in body["files"]:
        path = _check_path(f["path"])
        if path in files:
            raise BackupError(f"the backup names {path} twice")
        files[path] = base64.b64decode(f["data"], validate=True)
    hsm = tuple({str(k): str(v) for k, v in h.items()} for h in body.get("hsm", ()))
    return BackupContents(files, hsm, str(body.get("created_at", "")))


def read_key_directory(directory: Path) -> dict[str, bytes]:
    """Every regular file under ``directory`` by relative path (left-over ``*.tmp`` files of
    an interrupted write excepted)."""
    if not directory.is_dir():
        raise BackupError(f"no key directory at {directory}")
    files: dict[str, bytes] = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory).as_posix()
        if path.is_symlink():
            raise BackupError(f"refusing a symbolic link in the key directory: {rel}")
        if path.is_dir() or path.suffix == ".tmp":
            continue
        if path.stat().st_size > _MAX_FILE_BYTES:
            raise BackupError(f"{rel} is too large to be a key file")
        files[_check_path(rel)] = path.read_bytes()
        if len(files) > _MAX_FILES:
            raise BackupError(f"more than {_MAX_FILES} files in the key directory")
    if not files:
        raise BackupError(f"the key directory {directory} is empty")
    return files


def write_key_directory(directory: Path, files: Mapping[str, bytes]) -> None:
    """Create ``directory`` holding ``files`` (directories 0700, files 0600). Refuses an
    existing non-empty directory; all or nothing: the files are written into a sibling and
    the sibling renamed into place."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise BackupError(f"{directory} exists and is not empty: refusing to overwrite keys")
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = directory.parent / f".{directory.name}.restoring-{secrets.token_hex(4)}"
    staging.mkdir(mode=0o700)
    try:
        for rel, data in files.items():
            target = staging / _check_path(rel)
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_new_file(target, data)
        for sub in sorted({p for p in staging.rglob("*") if p.is_dir()}, reverse=True):
            fsync_directory(sub)
        fsync_directory(staging)
        if directory.exists():
            directory.rmdir()  # empty (checked above): the restored one takes its place
        staging.rename(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    fsync_directory(directory.parent)  # the rename itself survives a crash
