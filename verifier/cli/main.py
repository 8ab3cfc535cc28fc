"""`hedui` command line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from hedui_sdk.registry import AdapterLoadError
from verifier.cli import (
    adapter_cmds,
    alerts_cmds,
    audit_cmds,
    batch_cmds,
    certs,
    consent_cmds,
    console_cmds,
    offline,
    policy_cmds,
    retention_cmds,
    roster_cmds,
    server_cmds,
    webhooks_cmds,
)
from verifier.cli.commands import Handler, OfflineHandler, Subparsers
from verifier.cli.logs import configure
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
    offline.register,
    audit_cmds.register,
    certs.register,
    adapter_cmds.register,
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hedui", description="Household economic-status verification (核对)."
    )
    p.add_argument("--config", type=Path, help="configuration file (TOML); default: embedded")
    p.add_argument("--log-level", default=os.environ.get("HEDUI_LOG_LEVEL", "WARNING"))
    sub = p.add_subparsers(dest="command", required=True)
    for register in COMMAND_MODULES:
        register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
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
            print(f"hedui: configuration error: {exc}", file=sys.stderr)
            return 2
        fn: Handler = args.fn
        return fn(cfg, args)
    except KeyboardInterrupt:
        return 130
    except (AdapterLoadError, ConfigError, KeyStoreError) as exc:
        print(f"hedui: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
