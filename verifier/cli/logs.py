"""Structured logs (JSON lines on stderr) that cannot carry a raw resident ID number.

Code never logs personal data; the redaction processor is the second line of defence
for what a library or a mistake might put in an event.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from hedui_sdk.masking import redact


def _redact_processor(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for k, v in list(event.items()):
        if isinstance(v, str):
            event[k] = redact(v)
    return event


class _StderrLogger:
    """Writes each line to whatever ``sys.stderr`` is now (not when logging was set up),
    so a replaced or closed stream from an earlier setup can never break a request."""

    def msg(self, message: str) -> None:
        # Logging must never fail the work it describes.
        with contextlib.suppress(ValueError, OSError):
            print(message, file=sys.stderr, flush=True)

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def _stderr_logger(*_args: Any) -> _StderrLogger:
    return _StderrLogger()


def configure(level: str = "INFO", *, json: bool = True) -> None:
    lvl = getattr(logging, level.upper(), logging.INFO)
    logging.basicConfig(level=lvl, stream=sys.stderr, format="%(message)s")
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
