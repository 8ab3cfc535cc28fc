"""Key files are replaced whole or not at all, however short each write is: the
key directory's writes (``KeyStore``) go through ``replace_file``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from verifier.signing.durable_write import Writer, replace_file
from verifier.signing.keystore import KeyStore


def halving(calls: list[int]) -> Writer:
    def write(fd: int, data: memoryview) -> int:
        # Takes half of what it is given (at least one byte), as a nearly full disk may.
        calls.append(len(data))
        return os.write(fd, data[: max(1, len(data) // 2)])

    return write


def test_a_short_writing_writer_still_yields_the_whole_key_file(tmp_path: Path) -> None:
    calls: list[int] = []
    key = tmp_path / "ACTIVE"
    key.write_bytes(b"old-kid")
    data = bytes(range(256)) * 20
    replace_file(key, data, halving(calls))
    assert key.read_bytes() == data
    assert len(calls) > 1
    assert key.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["ACTIVE"]  # no temporary file left


def test_a_write_that_stops_keeps_the_old_file(tmp_path: Path) -> None:
    def full_disk(fd: int, data: memoryview) -> int:
        return 0

    key = tmp_path / "pseudonym.key"
    key.write_bytes(b"the old key")
    with pytest.raises(OSError, match="stopped"):
        replace_file(key, b"x" * 64, full_disk)
    assert key.read_bytes() == b"the old key"
    assert [p.name for p in tmp_path.iterdir()] == ["pseudonym.key"]


def test_the_key_store_writes_owner_only_files_and_no_temporary_ones(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    store.ensure()
    store.rotate()
    files = [p for p in (tmp_path / "keys").rglob("*") if p.is_file()]
    assert files and not [p for p in files if p.suffix == ".tmp"]
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in files)
