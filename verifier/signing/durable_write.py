"""Writing key files so that a crash or a nearly full disk never leaves a cut one taken
for whole: every byte written (a write may take fewer than asked), the file synced, then
its directory entry synced."""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Callable
from pathlib import Path

Writer = Callable[[int, memoryview], int]
"""``os.write``'s shape; tests pass one that takes fewer bytes than asked."""


def write_new_file(path: Path, data: bytes, write: Writer = os.write) -> None:
    """Create ``path`` (0600; an existing file is refused) holding ``data``, and sync the
    file and its directory entry. A write may take fewer bytes than asked (a nearly full
    disk): the rest is written on; a write that takes nothing is an ``OSError`` and the
    cut file is removed, so no caller reports a partial file as written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        rest = memoryview(data)
        while rest:
            n = write(fd, rest)
            if n <= 0:
                raise OSError(errno.ENOSPC, f"writing stopped with {len(rest)} bytes unwritten")
            rest = rest[n:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
    fsync_directory(path.parent)


def replace_file(path: Path, data: bytes, write: Writer = os.write) -> None:
    """``path`` (0600) holds ``data`` — all of it or, after a crash, what it held before:
    a temporary file beside it is written whole and synced, renamed over it, and the
    directory synced so the rename survives. The temporary name is unique (two writers
    never share one) and ends in ``.tmp``, which key listings and backups skip."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    write_new_file(tmp, data, write)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
