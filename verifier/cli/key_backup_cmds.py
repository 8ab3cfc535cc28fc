"""`hedui keys backup|restore` (the key directory, encrypted with a passphrase) and
`hedui keys hsm-generate|hsm-import` (signing keys in the ``[keys.pkcs11]`` token).

A passphrase is never an argument: it is asked for on the terminal, or read from a
reference (``--passphrase-from env:NAME`` or ``file:PATH``), so it shows neither in the
process list nor in shell history or logs.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from rich.console import Console

from verifier.bootstrap import keystore
from verifier.cli.commands import Subparsers, command
from verifier.config import Config, ConfigError, Pkcs11Config, resolve_secret
from verifier.signing.hsm_keystore import HsmKeyStore
from verifier.signing.jwks import key_id
from verifier.signing.key_backup import (
    MIN_PASSPHRASE,
    BackupContents,
    BackupError,
    open_backup,
    read_key_directory,
    seal_backup,
    write_key_directory,
    write_new_file,
)
from verifier.signing.keystore import KeyStore
from verifier.signing.pkcs11_keys import Pkcs11Settings, Pkcs11Token

console = Console()
err = Console(stderr=True)
KINDS = ("signing", "audit")


def _passphrase(reference: str | None, *, confirm: bool) -> str:
    if reference:
        if not reference.startswith(("env:", "file:")):
            raise ConfigError("--passphrase-from must be env:NAME or file:PATH")
        return resolve_secret(reference, "--passphrase-from").reveal()
    if not sys.stdin.isatty():
        raise ConfigError("no terminal to ask for the passphrase: give --passphrase-from")
    first = getpass.getpass("backup passphrase: ")
    if confirm and getpass.getpass("again: ") != first:
        raise ConfigError("the two passphrases differ")
    return first


def _hsm_references(cfg: Config) -> list[dict[str, str]]:
    """What identifies each HSM-held key (the token keeps the private half)."""
    hsm = cfg.pkcs11
    if hsm is None:
        return []
    ks = keystore(cfg)
    assert isinstance(ks, HsmKeyStore)
    labels = {"signing": hsm.signing_key_label, "audit": hsm.audit_key_label}
    refs = []
    try:
        for kind, label in labels.items():
            held = ks.held(kind)  # also keeps its public key in the directory
            if label is None or held is None:
                continue
            refs.append(
                {
                    "kind": kind,
                    "kid": key_id(held.public_key()),
                    "module": hsm.module,
                    "token_label": hsm.token_label,
                    "key_label": label,
                }
            )
    finally:
        ks.close()
    return refs


def keys_backup(cfg: Config, args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists():
        err.print(f"[red]{out} exists[/]: refusing to overwrite it")
        return 1
    try:
        hsm = _hsm_references(cfg)
        files = read_key_directory(cfg.keys_dir)
        data = seal_backup(
            BackupContents(files, hsm), _passphrase(args.passphrase_from, confirm=True)
        )
    except BackupError as exc:
        err.print(f"[red]no backup made[/]: {exc}")
        return 1
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        # Encrypted, yet readable by its owner only: the passphrase is all that guards it.
        write_new_file(out, data)
    except OSError as exc:
        err.print(f"[red]no backup made[/]: cannot write {out}: {exc.strerror or exc}")
        return 1
    console.print(f"backed up {len(files)} key files of {cfg.keys_dir} to {out}")
    for ref in hsm:
        console.print(
            f"{ref['kind']} key {ref['kid'][:16]}… is held in HSM token {ref['token_label']!r}"
            f" as {ref['key_label']!r}: its public key is in the backup, its private key is"
            " not (back the token up with the HSM's own means)"
        )
    return 0


def keys_restore(cfg: Config, args: argparse.Namespace) -> int:
    into = Path(args.into) if args.into else cfg.keys_dir
    try:
        data = Path(args.in_).read_bytes()
    except OSError as exc:
        err.print(f"[red]cannot read {args.in_}[/]: {exc.strerror}")
        return 1
    try:
        contents = open_backup(data, _passphrase(args.passphrase_from, confirm=False))
        write_key_directory(into, contents.files)
    except BackupError as exc:
        err.print(f"[red]not restored[/]: {exc}")
        return 1
    except OSError as exc:
        err.print(f"[red]not restored[/]: cannot write {into}: {exc.strerror or exc}")
        return 1
    console.print(
        f"restored {len(contents.files)} key files (backup of {contents.created_at}) into {into}"
    )
    for ref in contents.hsm:
        console.print(
            f"{ref.get('kind')} key {ref.get('kid', '')[:16]}… was held in HSM token "
            f"{ref.get('token_label')!r} as {ref.get('key_label')!r}: what it signed verifies "
            "with the restored public key; signing with it needs that token"
        )
    return 0


def _token(cfg: Config) -> tuple[Pkcs11Config, Pkcs11Token]:
    hsm = cfg.pkcs11
    if hsm is None:
        raise ConfigError("no [keys.pkcs11] table in the configuration: no HSM to use")
    pin = hsm.resolved_pin().reveal()
    return hsm, Pkcs11Token(Pkcs11Settings(hsm.module, hsm.token_label, pin))


def _label(hsm: Pkcs11Config, kind: str) -> str:
    label = hsm.signing_key_label if kind == "signing" else hsm.audit_key_label
    if label is None:
        raise ConfigError(f"keys.pkcs11 names no {kind}_key_label")
    return label


def keys_hsm_generate(cfg: Config, args: argparse.Namespace) -> int:
    hsm, token = _token(cfg)
    try:
        label = _label(hsm, args.kind)
        kid = KeyStore(cfg.keys_dir).remember_public(args.kind, token.generate(label))
    finally:
        token.close()
    console.print(
        f"new {args.kind} key {kid[:16]}… made in HSM token {hsm.token_label!r} as {label!r};"
        f" its public key is kept in {cfg.keys_dir / args.kind}"
    )
    return 0


def keys_hsm_import(cfg: Config, args: argparse.Namespace) -> int:
    hsm, token = _token(cfg)
    ks = KeyStore(cfg.keys_dir)
    try:
        label = _label(hsm, args.kind)
        key = ks.signing_key() if args.kind == "signing" else ks.audit_key()
        kid = ks.remember_public(args.kind, token.import_key(label, key))
    finally:
        token.close()
    console.print(
        f"{args.kind} key {kid[:16]}… imported into HSM token {hsm.token_label!r} as {label!r}."
        f" Its file {cfg.keys_dir / args.kind / (kid + '.pem')} still holds the private key:"
        " back the directory up (hedui keys backup), then delete that file"
    )
    return 0


def register(keys: Subparsers) -> None:
    """Add `backup`, `restore`, `hsm-generate` and `hsm-import` to `hedui keys`."""
    secret_help = (
        "env:NAME or file:PATH holding the passphrase (default: ask on the terminal; "
        f"at least {MIN_PASSPHRASE} characters)"
    )
    b = command(keys, "backup", keys_backup, "the key directory, encrypted with a passphrase")
    b.add_argument("--out", required=True, help="the backup file to write (not overwritten)")
    b.add_argument("--passphrase-from", help=secret_help)
    r = command(keys, "restore", keys_restore, "a key backup into a new (or empty) directory")
    r.add_argument("--in", dest="in_", required=True, help="the backup file")
    r.add_argument("--into", help="the directory to create (default: the configured keys.dir)")
    r.add_argument("--passphrase-from", help=secret_help)
    for name, fn, what in (
        ("hsm-generate", keys_hsm_generate, "make a new Ed25519 key in the [keys.pkcs11] token"),
        ("hsm-import", keys_hsm_import, "move the active file key into the [keys.pkcs11] token"),
    ):
        h = command(keys, name, fn, what)
        h.add_argument("--kind", choices=KINDS, default="signing")
