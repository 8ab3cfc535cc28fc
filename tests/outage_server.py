"""A hedui server in a process of its own, for tests that need file permissions to
apply to it: ``python -m tests.outage_server DATABASE_URL KEYS_DIR PORT``. One fake
tax source; it runs until its standard input closes."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from hedui_sdk import SourceKind
from tests.fakes import FakeAdapter
from tests.helpers import make_app
from verifier.bootstrap import serve_app


async def main(database_url: str, keys: Path, port: int) -> None:
    app = await make_app(database_url, keys, {SourceKind.TAX: FakeAdapter(SourceKind.TAX)})
    server = await serve_app(app, f"127.0.0.1:{port}", health_interval=0.1)
    try:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)
    finally:
        await server.stop(0)
        await app.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])))
