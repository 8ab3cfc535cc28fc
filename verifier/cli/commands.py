"""How every ``hedui`` command is registered: one helper for all command modules.

A command that works on files alone (verify a report, check a policy file, make the
local PKI…) is registered with :func:`offline_command`: its handler gets no configuration, and
``main`` never reads the configuration file for it, so a missing or broken server
configuration cannot stop it. Every other command is registered with :func:`command`
and gets the loaded :class:`~verifier.config.Config`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeAlias

from verifier.config import Config

__all__ = ["Handler", "OfflineHandler", "Subparsers", "command", "group", "offline_command"]

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Handler = Callable[[Config, argparse.Namespace], int]
OfflineHandler = Callable[[argparse.Namespace], int]


def group(sub: Subparsers, name: str, help_: str) -> Subparsers:
    """A command with subcommands (``hedui NAME …``)."""
    parser = sub.add_parser(name, help=help_, description=help_)
    return parser.add_subparsers(dest=f"{name.replace('-', '_')}_cmd", required=True)


def _add(
    sub: Subparsers, name: str, help_: str, options: dict[str, Any]
) -> argparse.ArgumentParser:
    options.setdefault("description", help_)
    return sub.add_parser(name, help=help_, **options)


def command(
    sub: Subparsers, name: str, fn: Handler, help_: str, **options: Any
) -> argparse.ArgumentParser:
    """A command that needs the server configuration (``options`` go to ``add_parser``)."""
    parser = _add(sub, name, help_, options)
    parser.set_defaults(fn=fn, offline_fn=None)
    return parser


def offline_command(
    sub: Subparsers, name: str, fn: OfflineHandler, help_: str, **options: Any
) -> argparse.ArgumentParser:
    """A command that works on files alone: no configuration is read for it."""
    parser = _add(sub, name, help_, options)
    parser.set_defaults(fn=None, offline_fn=fn)
    return parser
