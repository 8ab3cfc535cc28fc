"""`hedui serve [--workers N]`: one server process, or N on one port sharing PostgreSQL.

Each worker is a whole server — its own event loop, audit committer, adapters and
background jobs — bound to the same port with SO_REUSEPORT, so the kernel spreads
connections across them. What must happen once happens in the parent before any worker
starts: the configuration checks, the keys, the migrations. The parent then holds the
port, starts the workers, starts a new one when one dies, and stops them all on SIGINT or
SIGTERM.

N processes keep the guarantees N replicas keep: the audit head is a row lock in the
database (gapless seq across processes), and work that outlives a request — polls,
re-checks, batch items, webhook deliveries — is leased with ``FOR UPDATE SKIP LOCKED``.
SQLite has one writer at a time, so more than one worker on it is refused.

A worker killed outright loses its connections: calls in flight on them fail UNAVAILABLE,
and so do connections the kernel had queued on its socket but it had not accepted yet,
unless ``net.ipv4.tcp_migrate_req`` is 1 (then the kernel hands those to a sibling). New
connections go to the others as soon as its socket is closed; its replacement joins the
port only once it can accept (the server probes its store before it adds the port).
Workers end with the parent: one killed outright takes its workers with it (parent-death
signal), so no orphan keeps serving the port beside the next supervisor's workers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

from verifier.api.tls import server_credentials_for
from verifier.bootstrap import upgrade_database
from verifier.cli.logs import announce, configure
from verifier.cli.policy_cmds import refuse_example_parameters
from verifier.cli.runtime import log, serve_process, serving_banner
from verifier.config import Config
from verifier.config.urls import database_backend
from verifier.signing.keystore import KeyStore

__all__ = ["WORKERS_ON_SQLITE", "queued_connections_reset", "serve", "workers_problem"]

WORKERS_ON_SQLITE = (
    "--workers above 1 needs PostgreSQL: SQLite takes one writer at a time, so several"
    " processes would only queue on its lock. Serve one process, or set [database] url"
    " to a PostgreSQL database."
)
# A worker's own stop (SIGTERM) has this long to drain its calls before it is killed.
STOP_GRACE_SECONDS = 30.0
# Spawned, not forked: a worker starts with no threads, gRPC state or open connections of
# the parent's.
_CONTEXT = multiprocessing.get_context("spawn")
# Linux ≥ 5.14: 1 moves a closing listener's queued connections to another socket of its
# SO_REUSEPORT group instead of resetting them.
_MIGRATE_REQ = Path("/proc/sys/net/ipv4/tcp_migrate_req")
# prctl(2) option: the signal this process gets when its parent dies.
_PR_SET_PDEATHSIG = 1


def workers_problem(cfg: Config, workers: int) -> str:
    """Why ``cfg`` cannot be served by ``workers`` processes, or ``""``."""
    if workers < 1:
        return f"--workers must be at least 1, not {workers}"
    if workers > 1 and database_backend(cfg.database_url) == "sqlite":
        return WORKERS_ON_SQLITE
    return ""


def serve(cfg: Config, args: argparse.Namespace) -> int:
    """The ``serve`` command."""
    workers: int = args.workers
    problem = workers_problem(cfg, workers)
    if problem:
        log.error("serve_refused", problem=problem)
        return 2
    if workers == 1:
        asyncio.run(serve_process(cfg))
        return 0
    return _Supervisor(cfg, workers, args.log_level).run()


def _split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


@contextmanager
def _held_port(listen: str) -> Iterator[str]:
    """``listen`` with a concrete port, held for as long as the workers run.

    A bound socket that never listens receives no connections, yet keeps the port out of
    other programs' hands between a worker's death and its successor's start, and gives
    ``:0`` one port for every worker. It is not in the port's SO_REUSEPORT group (the
    kernel groups listening sockets only), so no connection is ever queued on it; nor is
    it inherited: sockets are not, and spawned workers get only the fds passed to them."""
    host, port = _split_listen(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as held:
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        held.bind((host, port))
        bound = held.getsockname()[1]
        yield f"[{host}]:{bound}" if family == socket.AF_INET6 else f"{host}:{bound}"


def _with_metrics_port(cfg: Config, index: int) -> Config:
    """Worker ``index`` serves its metrics on ``[metrics] listen``'s port + ``index``:
    each process counts its own calls, so each is scraped (a shared port would answer
    from whichever worker the kernel picked)."""
    if not cfg.metrics.listen or index == 0:
        return cfg
    host, port = _split_listen(cfg.metrics.listen)
    if port == 0:
        return cfg
    listen = f"[{host}]:{port + index}" if ":" in host else f"{host}:{port + index}"
    return replace(cfg, metrics=replace(cfg.metrics, listen=listen))


def _end_with_parent(parent: int) -> None:
    """SIGTERM to this process when the supervisor ``parent`` dies, however it dies (a
    SIGKILLed parent stops nothing itself); exit now if it has died already."""
    if sys.platform == "linux":
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # it died before the signal was asked for
        raise SystemExit(1)


def _worker_main(cfg: Config, log_level: str, ready: Connection, parent: int) -> None:
    """A worker process: one server; tells the parent its port once it serves."""
    configure(log_level)
    _end_with_parent(parent)

    def tell(port: int) -> None:
        ready.send(port)
        ready.close()

    # Ctrl-C in a terminal reaches the whole process group; the parent stops us.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_process(cfg, migrate=False, ready=tell))


@dataclass
class _Worker:
    process: BaseProcess
    ready: Connection
    serving: bool = False


class _Supervisor:
    def __init__(self, cfg: Config, workers: int, log_level: str) -> None:
        self.cfg = cfg
        self.count = workers
        self.log_level = log_level
        self.workers: dict[int, _Worker] = {}
        self.stopping = False

    def run(self) -> int:
        cfg = self.cfg
        # Everything a worker would refuse, refused once here, before anything starts.
        tls = server_credentials_for(cfg.tls, cfg.listen) is not None
        refuse_example_parameters(cfg, date.today())
        KeyStore(cfg.keys_dir).ensure()  # created once: workers racing would each make keys
        upgrade_database(cfg)
        if problem := queued_connections_reset():
            log.warning("queued_connections_reset_on_worker_death", detail=problem)
        wake_r, wake_w = socket.socketpair()
        wake_w.setblocking(False)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in _STOP_SIGNALS}
        old_fd = signal.set_wakeup_fd(wake_w.fileno())
        try:
            with _held_port(cfg.listen) as listen:
                self.cfg = replace(cfg, listen=listen)
                for index in range(self.count):
                    self._start(index)
                return self._supervise(wake_r, _split_listen(listen)[1], tls)
        finally:
            self._stop_all()
            signal.set_wakeup_fd(old_fd)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            wake_r.close()
            wake_w.close()

    def _on_signal(self, _sig: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def _start(self, index: int) -> None:
        parent_end, child_end = _CONTEXT.Pipe(duplex=False)
        process = _CONTEXT.Process(
            target=_worker_main,
            args=(_with_metrics_port(self.cfg, index), self.log_level, child_end, os.getpid()),
            name=f"hedui-worker-{index}",
        )
        process.start()
        child_end.close()
        self.workers[index] = _Worker(process, parent_end)

    def _supervise(self, wake: socket.socket, port: int, tls: bool) -> int:
        announced = False
        while not self.stopping:
            waiting: list[Connection | socket.socket | int] = [wake]
            for w in self.workers.values():
                waiting.append(w.process.sentinel)
                if not w.serving:
                    waiting.append(w.ready)
            ready = wait(waiting)
            if wake in ready:
                wake.recv(64)
                continue
            for index, w in list(self.workers.items()):
                if w.ready in ready and not w.serving:
                    try:
                        w.ready.recv()
                        w.serving = True
                    except EOFError:
                        pass  # it closed the pipe without a port: its sentinel says why
                if w.process.sentinel in ready:
                    w.process.join()
                    code = w.process.exitcode
                    if not w.serving:
                        log.error(
                            "worker_failed_to_start", worker=index, pid=w.process.pid,
                            exit_code=code,
                        )  # fmt: skip
                        return 1
                    self._start(index)
                    log.warning(
                        "worker_replaced", worker=index, pid=w.process.pid, exit_code=code,
                        new_pid=self.workers[index].process.pid,
                        detail=f"worker {index} ended with exit code {code}; started another",
                    )  # fmt: skip
            if not announced and all(w.serving for w in self.workers.values()):
                announced = True
                announce(
                    "serving",
                    port=port,
                    workers=self.count,
                    banner=serving_banner(port, self.cfg, tls=tls, workers=self.count),
                )
        return 0

    def _stop_all(self) -> None:
        for w in self.workers.values():
            if w.process.is_alive() and w.process.pid is not None:
                os.kill(w.process.pid, signal.SIGTERM)
        for w in self.workers.values():
            w.process.join(STOP_GRACE_SECONDS)
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
            w.ready.close()


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def queued_connections_reset(setting_file: Path = _MIGRATE_REQ) -> str:
    """Why a dying worker's queued connections would be reset, not handed on, or ``""``."""
    try:
        setting = setting_file.read_text().strip()
    except OSError:
        return ""  # not Linux, or a kernel without the setting: nothing an operator can set
    if setting != "0":
        return ""
    return (
        "net.ipv4.tcp_migrate_req is 0: connections queued on a worker that dies are reset"
        " (their clients see UNAVAILABLE); set it to 1 to hand them to another worker"
    )
