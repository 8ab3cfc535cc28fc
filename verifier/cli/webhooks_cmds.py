"""`hedui webhooks list|attempts|test|replay|enable`: the subscribers in the config and
their deliveries in the database.

These work directly against the configured database, as the server's worker would;
actions are audited (``webhook_admin``, actor system ``hedui-cli``, the OS user, role
``admin``). Nothing printed holds a secret, a subscriber's URL or a payload.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from rich.console import Console
from rich.table import Table

from verifier.bootstrap import open_webhooks
from verifier.cli.commands import Subparsers, command, group
from verifier.config import Config
from verifier.domain.caller import Caller
from verifier.domain.errors import DomainError, FieldViolation, InvalidArgument
from verifier.domain.vocabulary import Role
from verifier.service.webhooks.admin import WebhookAdmin

console = Console()
err = Console(stderr=True)
T = TypeVar("T")

_AGO = re.compile(r"([1-9][0-9]{0,4})([smhd])", re.ASCII)
_STAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})",
    re.ASCII,
)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _caller() -> Caller:
    user = getpass.getuser()[:64] or "cli"
    return Caller(system="hedui-cli", user=user, role=Role.ADMIN, regions=())


def _run(cfg: Config, work: Callable[[WebhookAdmin], Awaitable[T]]) -> T:
    async def main() -> T:
        async with open_webhooks(cfg) as admin:
            return await work(admin)

    return asyncio.run(main())


def _fail(exc: Exception) -> int:
    err.print(f"[red]refused[/]: {exc}")
    return 1


def parse_since(text: str, now: datetime) -> datetime:
    """``2h``, ``30m``, ``1d`` ago, or an RFC 3339 time with its zone (``…Z``, ``…+08:00``)."""
    ago = _AGO.fullmatch(text)
    if ago:
        return now - timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))})
    if _STAMP.fullmatch(text):
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
    raise InvalidArgument(
        [
            FieldViolation(
                "since", "must be a time with its zone (2026-12-01T08:00:00+08:00) or 2h, 30m, 1d"
            )
        ]
    )


def _when(at: datetime | None) -> str:
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S") if at else "—"


def webhooks_list(cfg: Config, _args: argparse.Namespace) -> int:
    if not cfg.webhooks.subscribers:
        console.print("no subscribers: add [webhooks.subscribers.NAME] to the config file")
        return 0
    views = _run(cfg, lambda admin: admin.subscribers())
    t = Table(title="webhook subscribers")
    for col in ("name", "events", "pending", "failed", "delivered", "last attempt"):
        t.add_column(col)
    t.add_column("last delivery")
    t.add_column("state")
    for v in views:
        s = v.state
        last = f"{_when(s.last_attempt_at)} {s.last_outcome}" if s.last_attempt_at else "—"
        state = "enabled"
        if s.disabled_at:
            state = f"[red]disabled[/] {_when(s.disabled_at)} ({s.disabled_reason})"
        t.add_row(
            v.subscriber.name,
            ", ".join(sorted(v.subscriber.event_types)),
            str(s.pending),
            str(s.failed),
            str(s.delivered),
            last,
            _when(s.last_delivered_at),
            state,
        )
    console.print(t)
    return 0


def webhooks_attempts(cfg: Config, args: argparse.Namespace) -> int:
    try:
        views = _run(
            cfg, lambda admin: admin.attempts(subscriber=args.subscriber or "", limit=args.limit)
        )
    except DomainError as exc:
        return _fail(exc)
    t = Table(title="latest delivery attempts")
    for col in ("time", "subscriber", "event", "attempt", "status", "outcome", "ms"):
        t.add_column(col)
    for a in views:
        t.add_row(
            _when(a.at),
            a.subscriber,
            a.event_id,
            str(a.number),
            str(a.status_code) if a.status_code is not None else "—",
            a.outcome,
            str(a.latency_ms),
        )
    console.print(t)
    return 0


def webhooks_test(cfg: Config, args: argparse.Namespace) -> int:
    try:
        result = _run(cfg, lambda admin: admin.test(_caller(), args.name))
    except DomainError as exc:
        return _fail(exc)
    a = result.answer
    status = str(a.status) if a.status is not None else "no answer"
    colour = "green" if result.acknowledged else "red"
    console.print(
        f"webhook.test {result.event_id} → {args.name}: [{colour}]{status}[/] "
        f"({a.outcome}, {a.latency_ms} ms)"
    )
    return 0 if result.acknowledged else 1


def webhooks_replay(cfg: Config, args: argparse.Namespace) -> int:
    try:
        since = parse_since(args.since, datetime.now(UTC))
        queued = _run(
            cfg,
            lambda admin: admin.replay(
                _caller(), since=since, subscriber=args.subscriber or "", event_id=args.event or ""
            ),
        )
    except DomainError as exc:
        return _fail(exc)
    console.print(
        f"{queued} deliveries queued again (same webhook-ids) for events since {_when(since)}; "
        "a running server sends them"
    )
    return 0


def webhooks_enable(cfg: Config, args: argparse.Namespace) -> int:
    try:
        was = _run(cfg, lambda admin: admin.enable(_caller(), args.name))
    except DomainError as exc:
        return _fail(exc)
    console.print(
        f"{args.name}: enabled; its waiting deliveries go out now"
        if was
        else f"{args.name} was not disabled"
    )
    return 0


def register(sub: Subparsers) -> None:
    """Add `webhooks list|attempts|test|replay|enable` to the `hedui` parser."""
    wh = group(sub, "webhooks", "webhook subscribers and deliveries")

    command(
        wh, "list", webhooks_list, "subscribers: pending and failed counts, last delivery, state"
    )
    a = command(
        wh, "attempts", webhooks_attempts, "the latest delivery attempts (status, time, latency)"
    )
    a.add_argument("--subscriber")
    a.add_argument("--limit", type=int, default=20)
    t = command(
        wh, "test", webhooks_test, "send a signed webhook.test event to NAME now; show the answer"
    )
    t.add_argument("name")
    r = command(
        wh,
        "replay",
        webhooks_replay,
        "deliver events again (same webhook-id): delivered and failed ones since TIME",
    )
    r.add_argument("--since", required=True, help="RFC 3339 with zone, or 2h / 30m / 1d ago")
    r.add_argument("--subscriber", help="only this subscriber (default: every subscriber)")
    r.add_argument("--event", help="only this event (its webhook-id, msg_…)")
    e = command(
        wh, "enable", webhooks_enable, "deliver to NAME again after its receiver answered 410"
    )
    e.add_argument("name")
