"""`hedui batch submit FILE --watch | show | cancel` against a real server on a free port."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from google.protobuf import json_format
from hedui.v1 import batch_pb2 as bpb

from hedui_sdk import SourceKind
from tests.batches_api_helpers import check
from tests.fakes import FakeAdapter, synthetic_id
from tests.helpers import SYSTEM, make_app
from verifier.api.server import RunningServer
from verifier.bootstrap import App, serve_app
from verifier.cli.main import main


@pytest.fixture
async def server(database_url: str, keys_dir: Path) -> AsyncIterator[tuple[App, RunningServer]]:
    app = await make_app(database_url, keys_dir, {SourceKind.TAX: FakeAdapter(SourceKind.TAX)})
    running = await serve_app(app, "127.0.0.1:0", health_interval=0.05)
    yield app, running
    await running.stop(0)
    await app.aclose()


def line(key: str, seq: int, **kw: object) -> str:
    item = bpb.BatchItem(item_key=key, request=check(seq, **kw))  # type: ignore[arg-type]
    return json.dumps(json_format.MessageToDict(item), ensure_ascii=False)


def cli(port: int, *args: str) -> list[str]:
    return [
        *args,
        "--server", f"127.0.0.1:{port}", "--insecure-plaintext",
        "--system", SYSTEM, "--user", "worker-1",
    ]  # fmt: skip


async def test_submit_watch_show_and_resubmit(
    server: tuple[App, RunningServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, running = server
    f = tmp_path / "batch.jsonl"
    f.write_text(
        "\n".join([line("k-1", 1), "", line("k-2", 2, region="3703"), line("k-3", 3)]) + "\n",
        encoding="utf-8",
    )
    rc = await asyncio.to_thread(main, cli(running.port, "batch", "submit", str(f), "--watch"))
    out = capsys.readouterr().out
    assert rc == 0
    assert "已完成" in out and "已出报告 2" in out and "拒收 1" in out
    assert "line 3 request.household.region_code" in out
    found = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", out)
    assert found is not None
    batch_id = found.group(0)
    # The same file again: the same batch, nothing run twice.
    rc = await asyncio.to_thread(main, cli(running.port, "batch", "submit", str(f)))
    assert rc == 0 and batch_id in capsys.readouterr().out
    rc = await asyncio.to_thread(main, cli(running.port, "batch", "show", batch_id))
    assert rc == 0 and "已出报告 2" in capsys.readouterr().out
    rc = await asyncio.to_thread(main, cli(running.port, "batch", "cancel", batch_id))
    assert rc == 0 and "取消了 0 个" in capsys.readouterr().out


async def test_a_line_that_is_not_an_item_sends_nothing_and_is_named_without_its_value(
    server: tuple[App, RunningServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app, running = server
    number = synthetic_id(seq=9, born=date(1970, 1, 1))
    f = tmp_path / "batch.jsonl"
    bad = json.dumps({"itemKey": "k-2", "request": {"household": {"members": [
        {"idNumber": int(number[:17])}]}}})  # fmt: skip
    f.write_text(line("k-1", 1) + "\n" + bad + "\n", encoding="utf-8")
    rc = await asyncio.to_thread(main, cli(running.port, "batch", "submit", str(f)))
    captured = capsys.readouterr()
    assert rc == 2
    assert "line 2" in captured.err and "request.household.members.idNumber" in captured.err
    assert number[:17] not in captured.err + captured.out
    assert app.batches is not None
    async with app.store.unit_of_work(write=False) as uow:
        assert await uow.batches.find_by_request(SYSTEM, "anything") is None
