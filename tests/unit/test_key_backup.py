"""The key backup format: a round trip keeps every file, and a wrong passphrase, an
altered header, altered contents, a foreign file, hostile scrypt parameters and hostile
file names each give their own clear error; restore never overwrites and never leaves
half a directory; a file is written whole or not at all, however short each write is."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from verifier.signing.key_backup import (
    BackupContents,
    BackupError,
    open_backup,
    read_key_directory,
    seal_backup,
    write_key_directory,
    write_new_file,
)
from verifier.signing.keystore import KeyStore

PASS = "correct horse battery staple"
FAST_N = 2**14  # the smallest cost restore accepts: these tests are about the format


def sealed(files: dict[str, bytes] | None = None) -> bytes:
    contents = BackupContents(files or {"signing/ACTIVE": b"k1", "pseudonym.key": b"\x00" * 32})
    return seal_backup(contents, PASS, n=FAST_N)


def edited(data: bytes, **changes: object) -> bytes:
    doc = json.loads(data)
    for path, value in changes.items():
        node = doc
        *parents, last = path.split("__")
        for p in parents:
            node = node[p]
        node[last] = value
    return json.dumps(doc).encode()


def test_round_trip_of_a_real_key_directory(tmp_path: Path) -> None:
    KeyStore(tmp_path / "keys").ensure()
    files = read_key_directory(tmp_path / "keys")
    assert {p.split("/")[0] for p in files} >= {"signing", "audit", "data", "pseudonym.key"}
    data = seal_backup(BackupContents(files, [{"kind": "signing", "kid": "ab"}]), PASS, n=FAST_N)
    for material in files.values():
        assert base64.b64encode(material) not in data and material not in data
    opened = open_backup(data, PASS)
    assert opened.files == files and opened.hsm == ({"kind": "signing", "kid": "ab"},)

    write_key_directory(tmp_path / "restored", opened.files)
    assert read_key_directory(tmp_path / "restored") == files
    assert all(
        (p.stat().st_mode & 0o777) == (0o700 if p.is_dir() else 0o600)
        for p in (tmp_path / "restored").rglob("*")
    )
    restored = KeyStore(tmp_path / "restored")
    assert restored.public_keys() == KeyStore(tmp_path / "keys").public_keys()


def test_the_default_cost_is_scrypt_at_owasp_strength() -> None:
    doc = json.loads(seal_backup(BackupContents({"a": b"x"}), PASS))
    assert doc["kdf"] | {"salt": ""} == {"name": "scrypt", "salt": "", "n": 2**17, "r": 8, "p": 1}
    assert doc["format"] == "hedui.keys-backup" and doc["version"] == 1


def test_a_wrong_passphrase_is_named_as_such() -> None:
    with pytest.raises(BackupError, match="wrong passphrase"):
        open_backup(sealed(), PASS + "!")


@pytest.mark.parametrize("where", [0, 5, -3])
def test_altered_contents_are_named_as_such(where: int) -> None:
    data = sealed()
    ct = bytearray(base64.b64decode(json.loads(data)["ciphertext"]))
    ct[where] ^= 0x01
    with pytest.raises(BackupError, match="altered or damaged"):
        open_backup(edited(data, ciphertext=base64.b64encode(bytes(ct)).decode()), PASS)


def test_an_altered_header_does_not_open() -> None:
    data = sealed()
    nonce = base64.b64encode(b"\x01" * 12).decode()
    with pytest.raises(BackupError, match="header was altered"):
        open_backup(edited(data, aead__nonce=nonce), PASS)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG", "not JSON"),
        (b"[]", "not a hedui key backup"),
        (b'{"format": "age"}', "not a hedui key backup"),
        (b'{"format": "hedui.keys-backup", "version": 2}', "version 2 is not supported"),
    ],
)
def test_a_file_that_is_no_backup(data: bytes, message: str) -> None:
    with pytest.raises(BackupError, match=message):
        open_backup(data, PASS)


@pytest.mark.parametrize(
    "changes",
    [{"kdf__n": 2**30}, {"kdf__n": 3 * 2**14}, {"kdf__r": 1000}, {"kdf__p": True},
     {"kdf__name": "pbkdf2"}, {"aead__name": "AES-128-CBC"}, {"kdf__salt": "***"}],
)  # fmt: skip
def test_hostile_parameters_are_refused_before_any_work(changes: dict[str, object]) -> None:
    with pytest.raises(BackupError):
        open_backup(edited(sealed(), **changes), PASS)


def test_a_short_passphrase_makes_no_backup() -> None:
    with pytest.raises(BackupError, match="at least 12"):
        seal_backup(BackupContents({"a": b"x"}), "short")


@pytest.mark.parametrize("name", ["../escape", "/etc/passwd", "a/../../b", ".hidden", "a//b"])
def test_file_names_that_could_escape_are_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="refusing a file name"):
        seal_backup(BackupContents({name: b"x"}), PASS, n=FAST_N)
    with pytest.raises(BackupError, match="refusing a file name"):
        write_key_directory(tmp_path / "keys", {name: b"x"})
    assert not (tmp_path / "keys").exists()


def test_restore_refuses_a_directory_with_files_and_takes_an_empty_one(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep").write_bytes(b"mine")
    with pytest.raises(BackupError, match="not empty"):
        write_key_directory(tmp_path / "full", {"a": b"x"})
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep"]

    (tmp_path / "empty").mkdir()
    write_key_directory(tmp_path / "empty", {"a/b": b"x"})
    assert (tmp_path / "empty" / "a" / "b").read_bytes() == b"x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "full"]  # no staging left


def test_a_short_write_is_continued_until_every_byte_is_written(tmp_path: Path) -> None:
    # Each write takes half of what it is given (at least one byte), as a nearly full disk
    # may: the file still ends up whole, owner-only.
    calls: list[int] = []

    def half(fd: int, data: memoryview) -> int:
        calls.append(len(data))
        return os.write(fd, data[: max(1, len(data) // 2)])

    data = bytes(range(256)) * 40
    write_new_file(tmp_path / "backup", data, half)
    assert (tmp_path / "backup").read_bytes() == data
    assert len(calls) > 1
    assert (tmp_path / "backup").stat().st_mode & 0o777 == 0o600


def test_a_write_that_stops_leaves_no_file(tmp_path: Path) -> None:
    # The disk takes 100 bytes, then nothing more: an error, not a cut file taken for whole.
    taken = 0

    def full_disk(fd: int, data: memoryview) -> int:
        nonlocal taken
        n = os.write(fd, data[: max(0, 100 - taken)])
        taken += n
        return n

    with pytest.raises(OSError, match="stopped"):
        write_new_file(tmp_path / "backup", b"x" * 1000, full_disk)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "backup").write_bytes(b"mine")
    with pytest.raises(FileExistsError):
        write_new_file(tmp_path / "backup", b"x")
    assert (tmp_path / "backup").read_bytes() == b"mine"
