"""`hedui` command line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog

from hedui_sdk.registry import AdapterLoadError
from verifier.cli import (
    adapter_cmds,
    alerts_cmds,
    audit_cmds,
    batch_cmds,
    certs,
    consent_cmds,
    console_cmds,
    federation_cmds,
    offline,
    policy_cmds,
    retention_cmds,
    roster_cmds,
    server_cmds,
    webhooks_cmds,
)
from verifier.cli.commands import Handler, OfflineHandler, Subparsers
from verifier.cli.logs import capture_native_stderr, configure
from verifier.config import ConfigError, load_config
from verifier.signing.keystore import KeyStoreError

# Every command group, each in its own module with a ``register(subparsers)``.
COMMAND_MODULES: tuple[Callable[[Subparsers], None], ...] = (
    server_cmds.register,
    console_cmds.register,
    consent_cmds.register,
    alerts_cmds.register,
    batch_cmds.register,
    policy_cmds.register,
    roster_cmds.register,
    retention_cmds.register,
    webhooks_cmds.register,
    federation_cmds.register,
    offline.register,
    audit_cmds.register,
    certs.register,
    adapter_cmds.register,
)


# Long-running servers: their output is for log shippers, so it is JSON lines only.
SERVER_COMMANDS = frozenset({"serve"})


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hedui", description="Household economic-status verification (核对)."
    )
    p.add_argument("--config", type=Path, help="configuration file (TOML); default: embedded")
    p.add_argument(
        "--log-level",
        help="DEBUG, INFO, WARNING or ERROR; default $HEDUI_LOG_LEVEL, else INFO for serve"
        " (its banner and one access line per call) and WARNING for the other commands",
    )
    sub = p.add_subparsers(dest="command", required=True)
    for register in COMMAND_MODULES:
        register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    serving = args.command in SERVER_COMMANDS
    args.log_level = (
        args.log_level or os.environ.get("HEDUI_LOG_LEVEL") or ("INFO" if serving else "WARNING")
    )
    if serving and argv is None:
        # A server process started from the command line: even native code's lines on
        # stderr become JSON. A caller passing ``argv`` (tests, embedding) keeps its stderr.
        capture_native_stderr()
    configure(args.log_level)
    offline_fn: OfflineHandler | None = args.offline_fn
    try:
        if offline_fn is not None:
            # Works on files alone: the server configuration is not read, so a broken or
            # missing one cannot stop it.
            return offline_fn(args)
        try:
            cfg = load_config(args.config)
        except ConfigError as exc:
            _refuse(serving, f"configuration error: {exc}")
            return 2
        fn: Handler = args.fn
        return fn(cfg, args)
    except KeyboardInterrupt:
        return 130
    except (AdapterLoadError, ConfigError, KeyStoreError) as exc:
        _refuse(serving, str(exc))
        return 2


def _refuse(serving: bool, problem: str) -> None:
    """Why the command cannot run: a JSON log line from the server (whose every line a
    log shipper parses), a line of text from the other commands (read by people)."""
    if serving:
        structlog.get_logger("hedui.serve").error("serve_refused", problem=problem)
    else:
        print(f"hedui: {problem}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
