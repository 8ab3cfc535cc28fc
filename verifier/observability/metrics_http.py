"""The metrics listener: ``GET /metrics`` in Prometheus' text format, apart from gRPC.

On its own address (``[metrics] listen``) so the scrape port can be opened to the
monitoring network alone, and so a scrape never queues behind checks. It serves
nothing else: no personal data is ever in a metric (labels are methods, codes, source
kinds and queue names).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from verifier.observability.metrics import CONTENT_TYPE, Metrics

PATH = "/metrics"


@dataclass
class MetricsEndpoint:
    port: int
    _runner: web.AppRunner

    async def stop(self) -> None:
        await self._runner.cleanup()


def split_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6]:PORT`` → (host, port); checked by the configuration."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


async def start_metrics_endpoint(metrics: Metrics, listen: str) -> MetricsEndpoint:
    async def scrape(_request: web.Request) -> web.Response:
        await metrics.refresh()
        body = metrics.exposition()
        # aiohttp refuses a content type with parameters in content_type=: set the header.
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    app.router.add_get(PATH, scrape)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    host, port = split_listen(listen)
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    # Port 0 asks for a free one: the runner knows which it got.
    return MetricsEndpoint(int(runner.addresses[0][1]), runner)
