"""Structured logs: every line on stderr one JSON object, none carrying a raw resident ID
number.

hedui's own events go through structlog. Everything else that writes log lines or
warnings — Alembic's migration messages, aiohttp, asyncio, gRPC's Python code, the
``warnings`` module — goes through the standard library's ``logging``, whose root handler
here renders with the same processors, so a log shipper never meets a line it cannot
parse. Each line has ``timestamp``, ``level``, ``event`` and, for a library's line,
``logger``; a line written while an RPC runs has its ``request_id``.

Code never logs personal data; the redaction processor is the second line of defence
for what a library or a mistake might put in an event.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import re
import sys
import threading
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

import structlog

from hedui_sdk.masking import ID_LIKE, redact

# Deeper than this, a value is written as its redacted text: a cycle or a pathological
# nesting costs a bounded walk, never a crash of the line.
_MAX_DEPTH = 8


def _redacted(value: Any, depth: int = 0) -> Any:
    """``value`` with every ID-like text in it, at any depth of lists, tuples, sets and
    dicts (keys too), replaced; a number that reads as an ID number becomes the marker."""
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        return redact(str(value)) if ID_LIKE.fullmatch(str(value)) else value
    if depth >= _MAX_DEPTH:
        return redact(repr(value))
    if isinstance(value, dict):
        return {
            (redact(k) if isinstance(k, str) else _redacted(k, depth + 1)): _redacted(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_redacted(v, depth + 1) for v in value]
    # Anything else is rendered by its repr (the JSON renderer's fallback): redacted when
    # that would show an ID number, left to the renderer otherwise.
    text = repr(value)
    return redact(text) if ID_LIKE.search(text) else value


def _redact_processor(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for k, v in list(event.items()):
        event[k] = _redacted(v)
    return event


def _library_record(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A standard-library record's logger name; its arguments are already in ``event``."""
    record = event.get("_record")
    if isinstance(record, logging.LogRecord):
        event["logger"] = record.name
    return event


class _StderrLogger:
    """Writes each line to whatever ``sys.stderr`` is now (not when logging was set up),
    so a replaced or closed stream from an earlier setup can never break a request."""

    def __init__(self, name: str = "") -> None:
        self.name = name

    def msg(self, message: str) -> None:
        # Logging must never fail the work it describes.
        with contextlib.suppress(ValueError, OSError):
            print(message, file=sys.stderr, flush=True)

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def _stderr_logger(*args: Any) -> _StderrLogger:
    return _StderrLogger(args[0] if args and isinstance(args[0], str) else "")


def _logger_name(
    logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    name = getattr(logger, "name", "")
    if name and "logger" not in event:
        event["logger"] = name
    return event


class _CurrentStderr(logging.Handler):
    """A handler writing to whatever ``sys.stderr`` is at each record, as
    :class:`_StderrLogger` does."""

    def emit(self, record: logging.LogRecord) -> None:
        # Logging must never fail the work it describes, nor print a traceback (text).
        with contextlib.suppress(Exception):
            print(self.format(record), file=sys.stderr, flush=True)


SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure(level: str = "INFO", *, json: bool = True) -> None:
    lvl = getattr(logging, level.upper(), logging.INFO)
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            *SHARED,
            _logger_name,
            structlog.processors.format_exc_info,
            _redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    handler = _CurrentStderr()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*SHARED, _library_record],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                _redact_processor,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    # Ours from an earlier call and plain text ones (``basicConfig``'s); a test runner's
    # capturing handlers (subclasses) stay.
    for old in list(root.handlers):
        if isinstance(old, _CurrentStderr) or type(old) is logging.StreamHandler:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(lvl)
    # ``warnings.warn`` (deprecations from libraries) becomes a record of "py.warnings".
    logging.captureWarnings(True)


def announce(event: str, **fields: Any) -> None:
    """A line the process writes whatever the log level — the server's banner, which
    operators and supervisors wait for — as JSON on stdout, shaped as the log lines are."""
    line = {
        **fields,
        "event": event,
        "level": "info",
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "logger": "hedui.serve",
    }
    with contextlib.suppress(ValueError, OSError):
        print(json.dumps(_redacted(line)), flush=True)


# glog/absl's first letter (gRPC's C core writes "I1129 12:00:00.000 ... file.cc:12] text").
_NATIVE_LEVELS = {"I": "info", "W": "warning", "E": "error", "F": "critical"}
_NATIVE_PREFIX = re.compile(r"[IWEF][0-9]{4} ", re.ASCII)


def _native_line(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="backslashreplace").rstrip("\r\n")
    if text.startswith('{"') and text.endswith("}"):
        # A JSON line already (ours, or a worker process's): the renderer writes one
        # object per line, so the shape is enough, unless it carries an ID-like text —
        # then it is parsed and redacted value by value (a text substitution on the line
        # could turn a bare number into invalid JSON). Parsing every access line would
        # cost the event loop's thread its GIL.
        if not ID_LIKE.search(text):
            return text
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            return json.dumps(_redacted(parsed), default=str)
    line = {
        "event": text,
        "level": _NATIVE_LEVELS[text[0]] if _NATIVE_PREFIX.match(text) else "info",
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "logger": "stderr",
    }
    return redact(json.dumps(line))


def capture_native_stderr() -> None:
    """Make every line on file descriptor 2 a JSON line — what native code writes
    (gRPC's C core, a crashing extension) and any stray text a library prints: fd 2
    becomes a pipe a thread reads, passing JSON lines on and wrapping the others.

    For the server processes only, once, at start; the last lines are flushed at exit."""
    real = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        with open(read_end, "rb", buffering=0) as pipe, open(real, "wb", closefd=False) as out:
            for raw in iter(pipe.readline, b""):
                with contextlib.suppress(OSError):
                    out.write((_native_line(raw) + "\n").encode("utf-8"))
                    out.flush()

    thread = threading.Thread(target=pump, name="stderr-json", daemon=True)
    thread.start()

    def flush() -> None:
        with contextlib.suppress(ValueError, OSError):
            sys.stderr.flush()
        # Closing fd 2 (our last write end) ends the pump after what is queued.
        os.dup2(real, 2)
        thread.join(2.0)

    atexit.register(flush)
