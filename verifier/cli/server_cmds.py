"""`hedui serve`, `hedui sandbox`, `hedui demo` and `hedui check`: the server, the
synthetic departments, the end-to-end demo, and a household file sent to a server."""

from __future__ import annotations

from verifier.cli import consent_cmds, demo_federation, runtime, serve_workers
from verifier.cli.commands import Subparsers, command, offline_command
from verifier.config import DEFAULT_SANDBOX_PORT


def register(sub: Subparsers) -> None:
    """Add `serve`, `sandbox`, `demo` and `check` to the `hedui` parser."""
    s = command(sub, "serve", serve_workers.serve, "run the gRPC server")
    s.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes on one port (PostgreSQL only above 1); e.g. one per core",
    )
    sb = command(sub, "sandbox", runtime.sandbox, "serve the synthetic departments over HTTP")
    sb.add_argument("--host", default="127.0.0.1")
    sb.add_argument("--port", type=int, default=DEFAULT_SANDBOX_PORT)
    sb.add_argument("--seed", type=int, default=runtime.DEFAULT_DEMO_SEED)
    sb.add_argument("--households", type=int, default=150, help="households per county")
    sb.add_argument("--latency-ms", type=int, default=0, help="added to every answer")
    sb.add_argument("--jitter-ms", type=int, default=0)
    sb.add_argument("--error-rate", type=float, default=0.0, help="share of HTTP 503 answers")
    sb.add_argument("--hang-rate", type=float, default=0.0, help="share of requests never answered")
    sb.add_argument("--garbage-rate", type=float, default=0.0, help="share of malformed answers")
    sb.add_argument("--deny-rate", type=float, default=0.0, help="share of requests refused (403)")
    sb.add_argument("--rate-limit", type=float, default=None, help="requests/s per department")
    sb.add_argument(
        "--bank-delay", type=float, default=3.0, help="seconds before the bank answers; 0: at once"
    )
    # `hedui sandbox export`: the same population as files (docs/household-file.md).
    ex = offline_command(
        sb.add_subparsers(dest="sandbox_command"),
        "export",
        runtime.sandbox_export,
        "write sandbox households and their 授权书 as canonical JSON files",
    )
    ex.add_argument("--region", required=True, help="a sandbox county, e.g. 370322")
    ex.add_argument("--count", type=int, default=5, help="households to write")
    ex.add_argument("--out", required=True, help="directory to write into")
    ex.add_argument("--seed", type=int, default=runtime.DEFAULT_DEMO_SEED)
    ex.add_argument("--households", type=int, default=150, help="households per county")
    d = command(sub, "demo", demo_federation.demo, "sandbox + server + one household, end to end")
    d.add_argument(
        "scenario",
        nargs="?",
        choices=("monitoring", "federation"),
        help="monitoring: a roster's re-check cycle; federation: two deployments, one household",
    )
    d.add_argument("--out-dir", default="var/demo")
    d.add_argument("--seed", type=int, default=runtime.DEFAULT_DEMO_SEED)
    d.add_argument(
        "--insecure-plaintext", action="store_true", help="no mTLS (the demo listens on loopback)"
    )
    c = command(sub, "check", runtime.check, "submit a household file to a server")
    c.add_argument("--household", required=True)
    c.add_argument("--out")
    c.add_argument("--wait", action="store_true")
    c.add_argument("--timeout", type=float, default=60.0)
    consent_cmds.add_client_arguments(c)
