"""The web console: how long its main pages take, against a bare aiohttp page.

A sandbox household of 4 members is checked through the real gRPC client against
in-process sources; then, in the same process and run, a signed-in browser session (an
aiohttp client with the session cookie) asks for each page in turn: the caseworker's
find page (an audited list), the check's page, the report page (an audited read, the
envelope verified, the document rendered), the auditor's entry page (an audited query).
Each page's floor is the same use case over the gRPC API, each GET alternating with one
such call so both see the same load (the find page: ListVerifications; the check:
GetVerification; the report: GetReport, which the page also renders as the printout):
the ratio is what the web layer adds. A bare aiohttp page of the same size is printed for
scale.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp import web
from hedui.v1 import verification_pb2 as vpb

from bench.common import SYSTEM, median, scratch_database
from bench.households import household_request, register_consents
from bench.inprocess import PopulationAdapter
from bench.printout_render import SOURCES
from hedui_sdk.sandbox import generate_population
from hedui_sdk.sandbox.server import current_as_of
from verifier.api.client import Client, request_from_json
from verifier.bootstrap import build_app, serve_app
from verifier.cli.console_cmds import RunningConsole, start_console
from verifier.config import Config, Principal
from verifier.web.settings import ConsoleSettings, SignInLink

Page = tuple[str, aiohttp.ClientSession, str, Callable[[], Awaitable[object]] | None]
"""A page's label, the signed-in session that asks for it, its URL, its gRPC twin."""


async def _get(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(url) as resp:
        body = await resp.read()
        if resp.status != 200:
            raise SystemExit(f"{url}: HTTP {resp.status}")
    return len(body)


async def _interleaved(
    http: aiohttp.ClientSession,
    url: str,
    call: Callable[[], Awaitable[object]] | None,
    runs: int,
) -> tuple[float, int, float]:
    """Median wall milliseconds of ``runs`` GETs of ``url`` and, alternating with them
    (so both see the same load on a shared machine), of ``runs`` gRPC ``call``s; after
    one warm-up of each. Returns (page ms, page bytes, gRPC ms or 0)."""
    pages: list[float] = []
    calls: list[float] = []
    size = 0
    for i in range(runs + 1):
        t0 = time.perf_counter()
        size = await _get(http, url)
        t1 = time.perf_counter()
        if call is not None:
            await call()
        t2 = time.perf_counter()
        if i:
            pages.append((t1 - t0) * 1000)
            calls.append((t2 - t1) * 1000)
    return median(pages), size, median(calls) if call is not None else 0.0


async def _signed_in(console: RunningConsole) -> aiohttp.ClientSession:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with http.get(console.link_url) as resp:
        resp.raise_for_status()
    return http


async def _floor(page_size: int) -> web.AppRunner:
    page = "<!doctype html><p>" + "核" * (page_size // 3) + "</p>"

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


async def run(runs: int) -> None:
    pop = generate_population(2260, households_per_county=20, as_of=current_as_of())
    adapters = {k: PopulationAdapter(k, pop) for k in SOURCES}
    with scratch_database("sqlite") as url, tempfile.TemporaryDirectory() as keys:
        roles = ("caseworker", "auditor")
        cfg = Config(
            database_url=url,
            keys_dir=Path(keys),
            principals={SYSTEM: Principal(SYSTEM, roles, ("37",))},
        )
        app = await build_app(cfg, adapters=adapters, migrate=False)
        server = await serve_app(app, "127.0.0.1:0")
        try:
            async with Client(f"127.0.0.1:{server.port}", user="bench", system=SYSTEM) as c:
                await register_consents(c, pop, "370322", range(1))
                req = request_from_json(household_request(pop, "370322", 0), wait=True)
                vid = (await c.create(req)).verification_id
                consoles = {
                    role: await start_console(
                        app,
                        ConsoleSettings(SYSTEM, "", link=SignInLink(f"bench-{role}", role)),
                        "127.0.0.1:0",
                    )
                    for role in roles
                }
                worker = await _signed_in(consoles["caseworker"])
                auditor = await _signed_in(consoles["auditor"])
                w = f"http://127.0.0.1:{consoles['caseworker'].port}"
                a = f"http://127.0.0.1:{consoles['auditor'].port}"
                listing = vpb.ListVerificationsRequest(page_size=20)
                pages: list[Page] = [
                    ("find page (audited list)", worker, f"{w}/checks",
                     lambda: c.list_verifications(listing)),
                    ("check page (statuses)", worker, f"{w}/checks/{vid}", lambda: c.get(vid)),
                    ("report page (audited read)", worker, f"{w}/checks/{vid}/reports/1",
                     lambda: c.report(vid)),
                    ("audit entry page (audited query)", auditor, f"{a}/audit/entries/2", None),
                ]  # fmt: skip
                figures = [
                    (label, *await _interleaved(http, url, call, runs))
                    for label, http, url, call in pages
                ]
            floor_runner = await _floor(max(size for _, _, size, _ in figures))
            async with aiohttp.ClientSession() as bare:
                port = floor_runner.addresses[0][1]
                floor = f"http://127.0.0.1:{port}/"
                floor_ms, floor_size, _ = await _interleaved(bare, floor, None, runs)
            await floor_runner.cleanup()
            for http in (worker, auditor):
                await http.close()
            for console in consoles.values():
                await console.stop()
        finally:
            await server.stop(0)
            await app.aclose()
    print(f"console pages on SQLite, one 4-member check, medians of {runs} requests each,")
    print("  each page's GET alternating with the same use case over gRPC")
    print(f"  {'':<34} {'page':>8}     {'size':>6}      {'gRPC':>8}   ratio")
    print(f"  {'bare aiohttp page':<34} {floor_ms:>8.2f} ms  {floor_size / 1024:>6.1f} KiB")
    for label, ms, size, grpc_ms in figures:
        line = f"  {label:<34} {ms:>8.2f} ms  {size / 1024:>6.1f} KiB"
        if grpc_ms:
            line += f"  {grpc_ms:>8.2f} ms  {ms / grpc_ms:>5.2f}×"
        print(line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50, help="GETs per page (default 50)")
    asyncio.run(run(parser.parse_args().runs))
