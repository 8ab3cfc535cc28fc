"""Log lines as `verifier.cli.logs.configure` renders them: hedui's own events, a
library's standard-library records, Python warnings and tracebacks are each one JSON
line on stderr, named by logger, with ID numbers redacted."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator

import pytest
import structlog

from tests.fakes import synthetic_id
from tests.observability_helpers import json_line
from verifier.cli.logs import configure


@pytest.fixture
def lines(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    saved = structlog.get_config()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    # An earlier configure() in this process captured warnings under pytest's own
    # per-test catcher; undone, so this one installs the capture in this test.
    logging.captureWarnings(False)
    configure("INFO")
    try:
        yield capsys
    finally:
        structlog.configure(**saved)
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.captureWarnings(False)


def read(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    captured = capsys.readouterr()
    assert captured.out == ""
    return [json_line(line, "stderr") for line in captured.err.splitlines()]


def test_own_library_warning_and_traceback_lines_are_json(
    lines: pytest.CaptureFixture[str],
) -> None:
    number = synthetic_id(seq=7)
    structlog.get_logger("hedui.test").info("own_event", count=2)
    logging.getLogger("aiohttp.access").warning("GET /x %s", 503)
    logging.getLogger("alembic.runtime.migration").info("Running upgrade 0012 -> 0013")
    logging.getLogger("noisy").debug("below the level: not written")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("an old API", DeprecationWarning, stacklevel=1)
    try:
        raise ValueError(f"subject {number}")
    except ValueError:
        logging.getLogger("asyncio").exception("task failed for %s", number)

    got = read(lines)
    assert [(g.get("logger"), g["level"]) for g in got] == [
        ("hedui.test", "info"),
        ("aiohttp.access", "warning"),
        ("alembic.runtime.migration", "info"),
        ("py.warnings", "warning"),
        ("asyncio", "error"),
    ]
    assert got[0]["event"] == "own_event" and got[0]["count"] == 2
    assert got[1]["event"] == "GET /x 503"
    assert "an old API" in str(got[3]["event"])
    assert "ValueError" in str(got[4]["exception"])
    for g in got:
        assert number not in str(g)
        assert "timestamp" in g


def test_a_request_id_bound_to_the_context_is_on_library_lines_too(
    lines: pytest.CaptureFixture[str],
) -> None:
    with structlog.contextvars.bound_contextvars(request_id="req-42"):
        logging.getLogger("grpc._cython.cygrpc").warning("stream reset")
    (got,) = read(lines)
    assert got["request_id"] == "req-42" and got["logger"] == "grpc._cython.cygrpc"
