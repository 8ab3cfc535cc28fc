"""What reaches file descriptor 2 in a server process becomes JSON lines:
a subprocess captures its stderr as `hedui serve` does, then writes through the file
descriptor (as gRPC's C core does), through Python's stderr and through structlog."""

from __future__ import annotations

import subprocess
import sys

from tests.observability_helpers import json_line

PROGRAM = """
import os, sys, structlog
from verifier.cli.logs import capture_native_stderr, configure
capture_native_stderr()
configure("INFO")
os.write(2, b"E1129 22:13:47.057146   28016 chttp2_transport.cc:1403] goaway 370322198005170011\\n")
os.write(2, b"plain native text\\n")
structlog.get_logger("hedui.test").info("own_event")
print("python text on stderr", file=sys.stderr)
"""


def test_native_and_python_stderr_lines_are_json() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, timeout=60, check=True
    )
    assert done.stdout == b""
    lines = [json_line(x, "stderr") for x in done.stderr.decode("utf-8").splitlines()]
    by_event = {str(x["event"]): x for x in lines}
    native = next(x for x in lines if "chttp2_transport" in str(x["event"]))
    assert native["level"] == "error" and native["logger"] == "stderr"
    assert "370322198005170011" not in str(native)
    assert by_event["plain native text"]["level"] == "info"
    assert by_event["own_event"]["logger"] == "hedui.test"
    # A stray print on Python's stderr (a library's) is wrapped too.
    assert by_event["python text on stderr"]["logger"] == "stderr"
