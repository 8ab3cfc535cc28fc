"""``hedui sandbox``: every stand-in department in one HTTP server on loopback.

Start it in a running event loop with :func:`start_sandbox` (tests, ``hedui demo``) or in
the foreground with :func:`run_sandbox` (``hedui sandbox``). Each department lives under
``/{source}/gateway/v1/...`` and speaks docs/gateway-protocol.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from types import TracebackType
from typing import Any

from aiohttp import web

from hedui_sdk.contract import AdapterSettings, Secret, SourceKind
from hedui_sdk.sandbox.departments import SandboxDepartments, default_tokens
from hedui_sdk.sandbox.events import LifeEvent
from hedui_sdk.sandbox.faults import SourceFaults
from hedui_sdk.sandbox.population import Population, generate_population
from hedui_sdk.sandbox.timeline import EventsApplied

log = logging.getLogger("hedui_sdk.sandbox")

DEFAULT_SEED = 2260
"""The seed ``hedui sandbox`` uses unless told otherwise (GB/T 2260, the region codes)."""

DEFAULT_PORT = 8600
"""The port ``hedui sandbox`` listens on unless told otherwise."""

DEFAULT_HOUSEHOLDS_PER_COUNTY = 150


def current_as_of(today: date | None = None) -> date:
    """The last day of the previous month: where a running sandbox's data ends.

    A live sandbox anchors its data there so that "the last N months" windows find records;
    the data is still a pure function of (seed, households, this date).
    """
    today = today or date.today()
    return today.replace(day=1) - timedelta(days=1)


class SandboxHandle:
    """A running sandbox: where each department is, its tokens, its knobs, and ``stop``."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        departments: SandboxDepartments,
        runner: web.AppRunner,
    ) -> None:
        self.host = host
        self.port = port
        self._departments = departments
        self._runner = runner
        self._stopped = False

    def __repr__(self) -> str:
        return f"SandboxHandle(url={self.url!r})"

    @property
    def population(self) -> Population:
        """The synthetic population the departments answer from, life events included."""
        return self._departments.population

    @property
    def seed_population(self) -> Population:
        """The population as generated, before any life event."""
        return self._departments.seed_population

    async def apply_events(self, events: Sequence[LifeEvent | Mapping[str, Any]]) -> EventsApplied:
        """Apply life events (typed, or JSON objects as ``POST /admin/events`` takes
        them), all or nothing; the departments' next answers reflect them.

        Raises :class:`~hedui_sdk.sandbox.events.EventsRefused` naming each bad field
        (``.conflict`` when an id was already used for a different event). An id applied
        before with the same event is left alone and listed in ``unchanged``.
        """
        return self._departments.apply_events(events)

    def events(self) -> tuple[LifeEvent, ...]:
        """Every applied life event, in the order applied."""
        return self._departments.events()

    async def reset_events(self) -> int:
        """Back to the seed population; returns how many events were undone."""
        return self._departments.reset_events()

    @property
    def url(self) -> str:
        """The server root, e.g. ``http://127.0.0.1:8600``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def base_url(self, source: SourceKind | str) -> str:
        """A department's protocol base: ``{url}/{source}`` (append ``/gateway/v1/...``)."""
        return f"{self.url}/{SourceKind(source).value}"

    def token(self, source: SourceKind | str) -> str:
        """The bearer token a department accepts."""
        return self._departments.token(source)

    def settings(self, source: SourceKind | str, *, timeout: float = 10.0) -> AdapterSettings:
        """Adapter settings pointing at this sandbox's department, with its token."""
        return AdapterSettings(
            base_url=self.base_url(source),
            credentials={"token": Secret(self.token(source))},
            timeout=timeout,
        )

    def faults(self) -> dict[SourceKind, SourceFaults]:
        """The current fault set of every department."""
        return self._departments.faults()

    async def set_faults(
        self,
        source: SourceKind | str,
        faults: SourceFaults | None = None,
        /,
        **knobs: float | None,
    ) -> None:
        """Change a department's faults: a whole new set, and/or some knobs of it.

        ``await handle.set_faults("bank", async_delay_s=0.05)`` keeps the other knobs.
        """
        base = faults if faults is not None else self._departments.faults()[SourceKind(source)]
        self._departments.set_faults(source, base.updated(knobs) if knobs else base)

    async def reset_faults(self) -> None:
        """Back to the defaults (only the bank misbehaves: it is asynchronous)."""
        self._departments.reset_faults()

    @property
    def hanging(self) -> int:
        """How many requests are hanging right now."""
        return self._departments.hanging

    async def wait_hanging(self, count: int = 1) -> None:
        """Wait until at least ``count`` requests are hanging (bound it with a timeout)."""
        await self._departments.wait_hanging(count)

    def stats(self) -> dict[str, int]:
        """Answers given so far, keyed ``"<source>:<outcome>"`` (``found``, ``503``...)."""
        return dict(self._departments.stats)

    async def stop(self) -> None:
        """Release hanging requests, close connections and stop listening. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._departments.close()
        await self._runner.cleanup()

    async def __aenter__(self) -> SandboxHandle:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def start_sandbox(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int = DEFAULT_SEED,
    households_per_county: int = DEFAULT_HOUSEHOLDS_PER_COUNTY,
    faults: Mapping[SourceKind | str, SourceFaults] | None = None,
    tokens: Mapping[SourceKind | str, str] | None = None,
    population: Population | None = None,
    as_of: date | None = None,
    admin_token: str | None = None,
) -> SandboxHandle:
    """Start the sandbox in the running loop and return once it accepts connections.

    ``port=0`` picks a free port (read it from ``handle.port``). ``faults`` overrides the
    defaults per source (by default only the bank misbehaves: it answers asynchronously
    after a few seconds). ``tokens`` overrides the default ``sandbox-<source>-token``.
    ``population`` reuses an already generated population (then ``seed``,
    ``households_per_county`` and ``as_of`` are ignored); otherwise one is generated with
    data ending at ``as_of`` (default: :func:`current_as_of`). ``admin_token``, when set,
    is required by ``/admin/faults`` and ``/admin/events``. Life events never change
    ``population`` itself: the sandbox applies them to a copy of what they touch.
    """
    if population is None:
        population = await asyncio.to_thread(
            generate_population,
            seed,
            households_per_county=households_per_county,
            as_of=as_of or current_as_of(),
        )
    departments = SandboxDepartments(
        population, seed=seed, faults=faults, tokens=tokens, admin_token=admin_token
    )
    runner = web.AppRunner(
        departments.app(),
        handler_cancellation=True,
        access_log=None,
        shutdown_timeout=1.0,
    )
    await runner.setup()
    sock = _listening_socket(host, port)
    try:
        site = web.SockSite(runner, sock)
        await site.start()
    except BaseException:
        sock.close()
        await runner.cleanup()
        raise
    bound_port = int(sock.getsockname()[1])
    log.info("sandbox listening host=%s port=%d", host, bound_port)
    return SandboxHandle(host=host, port=bound_port, departments=departments, runner=runner)


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def describe(handle: SandboxHandle) -> str:
    """A plain summary for the console: where each department is and its token."""
    lines = [
        f"hedui sandbox on {handle.url} (seed {handle.population.seed},"
        f" {len(handle.population.all_households)} households, data as of"
        f" {handle.population.as_of})",
    ]
    defaults = default_tokens()
    for source in SourceKind:
        # Only the published local-use tokens are shown; a chosen token is a secret.
        token = handle.token(source)
        shown = token if token == defaults[source] else "(custom, not shown)"
        lines.append(f"  {source.value:<22} {handle.base_url(source)}  token {shown}")
    return "\n".join(lines)


def run_sandbox(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    seed: int = DEFAULT_SEED,
    households_per_county: int = DEFAULT_HOUSEHOLDS_PER_COUNTY,
    *,
    faults: Mapping[SourceKind | str, SourceFaults] | None = None,
    tokens: Mapping[SourceKind | str, str] | None = None,
    as_of: date | None = None,
    admin_token: str | None = None,
    on_ready: Callable[[SandboxHandle], None] | None = None,
) -> None:
    """Serve the sandbox in the foreground until SIGINT or SIGTERM.

    ``on_ready`` is called once it listens (default: print :func:`describe`).
    """

    async def serve() -> None:
        handle = await start_sandbox(
            host=host,
            port=port,
            seed=seed,
            households_per_county=households_per_county,
            faults=faults,
            tokens=tokens,
            as_of=as_of,
            admin_token=admin_token,
        )
        # The population lives as long as the process: keep it out of the collector's
        # full passes, which otherwise stall an answer for 100 ms at random.
        gc.freeze()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
                loop.add_signal_handler(sig, stop.set)
        try:
            (on_ready or _print_summary)(handle)
            await stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):
                    loop.remove_signal_handler(sig)
            await handle.stop()

    asyncio.run(serve())


def _print_summary(handle: SandboxHandle) -> None:
    print(describe(handle), flush=True)


__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_SEED",
    "SandboxHandle",
    "current_as_of",
    "describe",
    "run_sandbox",
    "start_sandbox",
]
