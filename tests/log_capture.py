"""The log lines hedui writes, as the server's own set-up renders them (JSON on stderr),
at every level: for tests that show what logs hold and, above all, what they do not."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import structlog

from verifier.cli.logs import configure

LogLines = Callable[[], list[dict[str, Any]]]


@contextmanager
def server_log_lines(capsys: pytest.CaptureFixture[str]) -> Iterator[LogLines]:
    """Log at DEBUG through ``verifier.cli.logs.configure`` until the block ends (an
    earlier test's WARNING set-up would hide the INFO lines); ``read()`` returns the
    JSON lines written since the last read."""
    saved = structlog.get_config()
    configure("DEBUG")

    def read() -> list[dict[str, Any]]:
        err = capsys.readouterr().err
        return [json.loads(line) for line in err.splitlines() if line.startswith("{")]

    try:
        yield read
    finally:
        structlog.configure(**saved)
