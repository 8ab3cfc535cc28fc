"""Helpers of the storage outage tests: a private PostgreSQL cluster, a small filesystem,
a server process that file permissions apply to, and what a refused caller is told."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import psycopg
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

IN_CI = os.environ.get("CI", "").lower() == "true"
SERVICE = "hedui.v1.VerificationService"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unavailable_details(err: grpc.aio.AioRpcError) -> tuple[float, str]:
    """The RetryInfo delay and the ErrorInfo reason of an UNAVAILABLE refusal."""
    assert err.code() is grpc.StatusCode.UNAVAILABLE, (err.code(), err.details())
    status: status_pb2.Status | None = None
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
    assert status is not None, "no google.rpc.Status details"
    delay, reason = -1.0, ""
    for detail in status.details:
        retry = error_details_pb2.RetryInfo()
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(retry):
            delay = retry.retry_delay.ToNanoseconds() / 1e9
        elif detail.Unpack(info):
            reason = info.reason
    return delay, reason


async def health_becomes(target: str, status: int, within: float) -> None:
    """Until the overall service and VerificationService both report ``status``; fails
    after ``within`` seconds. Waits on the health Watch stream, re-opened if it ends."""

    async def watch(service: str) -> None:
        while True:
            try:
                async with grpc.aio.insecure_channel(target) as ch:
                    async for r in health_pb2_grpc.HealthStub(ch).Watch(
                        health_pb2.HealthCheckRequest(service=service)
                    ):
                        if r.status == status:
                            return
            except grpc.aio.AioRpcError:
                continue  # the server is still starting: ask again

    await asyncio.wait_for(asyncio.gather(watch(""), watch(SERVICE)), within)


# ---------------------------------------------------------------- PostgreSQL cluster


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


def _as_postgres(*cmd: str) -> None:
    run = ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else list(cmd)
    subprocess.run(run, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@dataclass
class PrivateCluster:
    """A PostgreSQL cluster of the test's own: its directory, its port, its life."""

    bin: Path
    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/hedui"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        _as_postgres(
            str(self.bin / "pg_ctl"), "start", "-w", "-D", str(self.data / "db"),
            "-l", str(self.data / "log"), "-o", options,
        )  # fmt: skip

    def stop(self) -> None:
        """As a crash would: no shutdown checkpoint, connections cut."""
        _as_postgres(str(self.bin / "pg_ctl"), "stop", "-w", "-m", "immediate", "-D",
                     str(self.data / "db"))  # fmt: skip


@contextlib.contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    """initdb as the database's OS user in a directory of its own, on a free port."""
    pg_bin = _pg_bin()
    if pg_bin is None:
        if IN_CI:
            pytest.fail("initdb not found under /usr/lib/postgresql/*/bin")
        pytest.skip("initdb not found under /usr/lib/postgresql/*/bin")
    data = Path(tempfile.mkdtemp(prefix="hedui-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(data, "postgres", "postgres")
        _as_postgres(str(pg_bin / "initdb"), "-D", str(data / "db"), "-A", "trust",
                     "-U", "postgres", "--no-sync")  # fmt: skip
        cluster = PrivateCluster(pg_bin, data, free_port())
        cluster.start()
        try:
            with psycopg.connect(
                f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres", autocommit=True
            ) as conn:
                conn.execute("CREATE DATABASE hedui")
            yield cluster
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):
                cluster.stop()
    finally:
        shutil.rmtree(data, ignore_errors=True)


# ---------------------------------------------------------------- small filesystem


@contextlib.contextmanager
def small_filesystem(size: str = "8m") -> Iterator[Path]:
    """A tmpfs of ``size``, mounted for the test and gone after it."""
    where = Path(tempfile.mkdtemp(prefix="hedui-full-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if mounted.returncode != 0:
        where.rmdir()
        if IN_CI:
            pytest.fail("cannot mount a small tmpfs for the disk-full test")
        pytest.skip("cannot mount a small tmpfs (not root?)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        with contextlib.suppress(OSError):
            where.rmdir()


def fill(directory: Path) -> Path:
    """Write a file until the filesystem is full; returns it (delete it to free space)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        block = b"\0" * 65536
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, block)
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0")
    finally:
        os.close(fd)
    return filler


# ---------------------------------------------------------------- a server process


# Root ignores file permissions through these capabilities; a server without them is
# refused a read-only file as any unprivileged process would be.
_DAC_CAPS = "-dac_override,-dac_read_search"
_ROOT = Path(__file__).resolve().parent.parent


@contextlib.asynccontextmanager
async def unprivileged_server(database_url: str, keys: Path, port: int) -> AsyncIterator[str]:
    """A server process (tests/outage_server.py) that file permissions apply to."""
    cmd = [sys.executable, "-m", "tests.outage_server", database_url, str(keys), str(port)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.fail("setpriv is needed to run the server without root's file privileges")
        cmd = [setpriv, f"--inh-caps={_DAC_CAPS}", f"--bounding-set={_DAC_CAPS}", *cmd]
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=_ROOT,
        env={**os.environ, "HEDUI_LOG_LEVEL": "WARNING"},
    )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # the server stops when its stdin closes
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
