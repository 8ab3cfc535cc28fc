"""`hedui retention status | run`: personal data whose retention period ran out.

``status`` counts what a purge now would remove, per kind and region (checks for
``reports`` and ``source_records``, cached answers for ``cache``, events for
``webhooks``, answers given to federation peers for ``federation_answers``); ``run``
purges it, as the server's hourly job does, under the same lease (it waits for no
running server: when one holds the lease, it says so and purges nothing). Both work
directly against the configured database and hold no data key.
"""

from __future__ import annotations

import argparse
import asyncio

from rich.console import Console
from rich.table import Table

from verifier.bootstrap import open_retention
from verifier.cli.commands import Subparsers, command, group
from verifier.config import Config
from verifier.service.retention import DueCount, PurgeResult

console = Console()
err = Console(stderr=True)

KIND_LABELS = {
    "reports": "报告及核对请求",
    "source_records": "来源记录",
    "cache": "缓存答复",
    "webhooks": "回调事件",
    "federation_answers": "给协查方的答复",
}


def retention_status(cfg: Config, _args: argparse.Namespace) -> int:
    async def main() -> list[DueCount]:
        async with open_retention(cfg) as svc:
            return await svc.status()

    counts = asyncio.run(main())
    if not counts:
        console.print("nothing is due a purge")
        return 0
    table = Table("kind", "region", "due")
    for c in counts:
        table.add_row(f"{c.kind} ({KIND_LABELS.get(c.kind, '')})", c.region or "-", str(c.due))
    console.print(table)
    return 0


def retention_run(cfg: Config, _args: argparse.Namespace) -> int:
    async def main() -> PurgeResult:
        async with open_retention(cfg) as svc:
            return await svc.run()

    result = asyncio.run(main())
    if not result.leased:
        err.print("[yellow]another process is purging now[/]: nothing was done")
        return 1
    console.print(
        f"purged: {result.checks.get('reports', 0)} checks' reports"
        f" ({result.report_versions} versions), {result.checks.get('source_records', 0)}"
        f" checks' source records ({result.outcomes} outcomes),"
        f" {result.cache_rows} cached answers, {result.federation_answers} answers given to"
        f" federation peers"
    )
    return 0


def register(sub: Subparsers) -> None:
    """``hedui retention …``."""
    ret = group(sub, "retention", "personal data kept past its retention period")
    command(ret, "status", retention_status, "what a purge now would remove, per kind and region")
    command(ret, "run", retention_run, "purge what is due now, with a purged audit entry each")
