"""`hedui` command line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from adapters.registry import AdapterLoadError
from verifier.bootstrap import keystore
from verifier.cli import (
    adapter_cmds,
    alerts_cmds,
    audit_cmds,
    batch_cmds,
    certs,
    consent_cmds,
    demo_monitoring,
    offline,
    policy_cmds,
    roster_cmds,
    runtime,
    webhooks_cmds,
)
from verifier.cli.logs import configure
from verifier.config import DEFAULT_SANDBOX_PORT, Config, ConfigError, load_config
from verifier.signing.keystore import KeyStoreError

Handler = Callable[[Config, argparse.Namespace], int]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hedui", description="Household economic-status verification (核对)."
    )
    p.add_argument("--config", type=Path, help="configuration file (TOML); default: embedded")
    p.add_argument("--log-level", default=os.environ.get("HEDUI_LOG_LEVEL", "WARNING"))
    sub = p.add_subparsers(dest="command", required=True)

    def cmd(
        parent: argparse._SubParsersAction[argparse.ArgumentParser],
        name: str,
        fn: Handler,
        help_: str,
    ) -> argparse.ArgumentParser:
        sp = parent.add_parser(name, help=help_, description=help_)
        sp.set_defaults(fn=fn)
        return sp

    cmd(sub, "serve", runtime.serve, "run the gRPC server")
    sb = cmd(sub, "sandbox", runtime.sandbox, "serve the synthetic departments over HTTP")
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
    d = cmd(sub, "demo", demo_monitoring.demo, "sandbox + server + one household, end to end")
    d.add_argument(
        "scenario", nargs="?", choices=("monitoring",), help="monitoring: a roster's re-check cycle"
    )
    d.add_argument("--out-dir", default="var/demo")
    d.add_argument("--seed", type=int, default=runtime.DEFAULT_DEMO_SEED)
    d.add_argument(
        "--insecure-plaintext", action="store_true", help="no mTLS (the demo listens on loopback)"
    )
    c = cmd(sub, "check", runtime.check, "submit a household file to a server")
    c.add_argument("--household", required=True)
    c.add_argument("--out")
    c.add_argument("--wait", action="store_true")
    c.add_argument("--timeout", type=float, default=60.0)
    consent_cmds.add_client_arguments(c)
    consent_cmds.register(sub)
    alerts_cmds.register(sub)
    batch_cmds.register(sub)
    policy_cmds.register(sub)
    roster_cmds.register(sub)
    webhooks_cmds.register(sub)

    keys = sub.add_parser("keys", help="signing, audit and data keys").add_subparsers(
        dest="keys_cmd", required=True
    )
    cmd(keys, "generate", offline.keys_generate, "create missing keys")
    kr = cmd(keys, "rotate", offline.keys_rotate, "new active keys; old ones kept")
    kr.add_argument(
        "--rewrap",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="re-encrypt every sealed column under the new data key (default: yes)",
    )
    cmd(
        keys,
        "rewrap",
        lambda cfg, _args: offline.keys_rewrap(cfg, keystore(cfg)),
        "finish re-encrypting sealed columns under the active data key (no new keys)",
    )
    ke = cmd(keys, "export", offline.keys_export, "public keys as JWKS")
    ke.add_argument("--kind", choices=("signing", "audit"), default="signing")
    ke.add_argument("--out")

    rep = sub.add_parser("report", help="offline report tools").add_subparsers(
        dest="report_cmd", required=True
    )
    rv = cmd(rep, "verify", offline.report_verify, "verify a DSSE report envelope against a JWKS")
    rv.add_argument("file")
    rv.add_argument("--keys", required=True)
    rv.add_argument("--receipt", help="release receipt (hedui audit receipt) to check too")
    rv.add_argument("--audit-key", help="file with the audit log's verifier key (hedui audit key)")
    rs = cmd(rep, "show", offline.report_show, "readable summary of a report")
    rs.add_argument("file")
    rs.add_argument("--keys")

    aud = sub.add_parser("audit", help="audit log").add_subparsers(dest="audit_cmd", required=True)
    audit_cmds.register(aud)

    pki = sub.add_parser("certs", help="local PKI for mTLS").add_subparsers(
        dest="certs_cmd", required=True
    )
    certs.add_init_arguments(
        cmd(pki, "init", certs.init_command, "local CA, server and client certificates")
    )

    b = cmd(sub, "bench", offline.bench, "run the benchmarks P1-P4 (source checkout)")
    b.add_argument("--source", default=".", help="the source checkout (default: here)")
    db = sub.add_parser("db", help="database").add_subparsers(dest="db_cmd", required=True)
    cmd(db, "upgrade", offline.db_upgrade, "apply migrations")

    ad = sub.add_parser("adapter", help="adapters").add_subparsers(
        dest="adapter_cmd", required=True
    )
    cmd(ad, "list", offline.adapter_list, "entry points: loaded, available or refused and why")
    adapter_cmds.add_new_arguments(
        cmd(ad, "new", adapter_cmds.adapter_new, "generate an adapter package that passes the kit")
    )
    adapter_cmds.add_test_arguments(
        cmd(
            ad, "test", adapter_cmds.adapter_test, "run the conformance kit on an installed adapter"
        )
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure(args.log_level)
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(f"hedui: configuration error: {exc}", file=sys.stderr)
        return 2
    fn: Handler = args.fn
    try:
        return fn(cfg, args)
    except KeyboardInterrupt:
        return 130
    except (AdapterLoadError, ConfigError, KeyStoreError) as exc:
        print(f"hedui: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
