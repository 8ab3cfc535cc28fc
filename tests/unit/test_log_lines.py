"""Log lines as `verifier.cli.logs.configure` renders them: hedui's own events, a
library's standard-library records, Python warnings and tracebacks are each one JSON
line on stderr, named by logger, with ID numbers redacted."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator

import pytest
import structlog

from tests.fakes import synthetic_id
from tests.observability_helpers import json_line
from verifier.cli.logs import _native_line, announce, configure


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


def test_an_id_number_nested_in_lists_tuples_and_dicts_is_redacted(
    lines: pytest.CaptureFixture[str],
) -> None:
    number = synthetic_id(seq=11)
    other = synthetic_id(seq=12)
    deep: object = [number]
    for _ in range(20):
        deep = {"level": deep}

    class Subject:
        def __repr__(self) -> str:
            return f"Subject({number})"

    log = structlog.get_logger("hedui.test")
    log.info("listed", subjects=[number, other], pair=(1, number))
    log.info("nested", found={"members": [{"sfzh": number, "n": 2}], number: "as a key"})
    log.info("numeric", sfzh=int(next(n for n in (number, other) if n[-1] != "X")))
    log.info("deep", tree=deep, who=Subject(), count=3)
    logging.getLogger("some.library").warning("seen %s", {"ids": [number]})

    got = read(lines)
    assert [g["event"] for g in got] == [
        "listed",
        "nested",
        "numeric",
        "deep",
        "seen {'ids': ['[REDACTED-ID]']}",
    ]
    for g in got:
        text = json.dumps(g)
        assert number not in text and other not in text
    assert got[0]["subjects"] == ["[REDACTED-ID]", "[REDACTED-ID]"]
    assert got[0]["pair"] == [1, "[REDACTED-ID]"]
    assert got[1]["found"] == {
        "members": [{"sfzh": "[REDACTED-ID]", "n": 2}],
        "[REDACTED-ID]": "as a key",
    }
    assert got[2]["sfzh"] == "[REDACTED-ID]"
    assert got[3]["count"] == 3 and "[REDACTED-ID]" in str(got[3]["tree"])
    assert got[3]["who"] == "Subject([REDACTED-ID])"


def test_a_json_line_on_native_stderr_is_redacted_and_stays_json() -> None:
    number = synthetic_id(seq=13)
    own = json.dumps({"event": "worker", "level": "info", "ids": [number], "n": int(number[:17])})
    assert json.loads(_native_line((own + "\n").encode())) == {
        "event": "worker",
        "level": "info",
        "ids": ["[REDACTED-ID]"],
        "n": int(number[:17]),
    }
    clean = '{"event": "access", "level": "info"}'
    assert _native_line((clean + "\n").encode()) == clean
    # Shaped like JSON but not: wrapped as text, still redacted.
    broken = '{"event": "cut off ' + number + "}"
    wrapped = json.loads(_native_line(broken.encode()))
    assert wrapped["logger"] == "stderr" and number not in wrapped["event"]
    text = _native_line(f"E1129 12:00:00.000 1 x.cc:12] peer {number}".encode())
    assert number not in text and json.loads(text)["level"] == "error"


def test_the_banner_on_stdout_is_redacted_and_stays_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    number = next(n for n in (synthetic_id(seq=14), synthetic_id(seq=15)) if n[-1] != "X")
    announce("serving", banner=f"for {number}", port=50051, count=int(number))
    (line,) = capsys.readouterr().out.splitlines()
    got = json_line(line, "stdout")
    assert number not in line
    assert got["banner"] == "for [REDACTED-ID]" and got["count"] == "[REDACTED-ID]"
    assert got["port"] == 50051 and got["event"] == "serving"
