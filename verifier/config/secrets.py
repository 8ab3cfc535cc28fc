"""Secret references: a configuration value that is a secret names where the secret is
(``env:NAME``, ``file:/run/secrets/name``; ``value:...`` for sandbox tokens), and is
read only when needed. Messages name the key and the place, never the secret."""

from __future__ import annotations

import os
from pathlib import Path

from hedui_sdk import Secret
from verifier.config.errors import ConfigError

REFERENCE_KINDS = ("env", "file", "value")


def is_reference(text: str, kinds: tuple[str, ...] = REFERENCE_KINDS) -> bool:
    """``text`` is ``KIND:REST`` for one of ``kinds``, with something after the colon."""
    kind, sep, rest = text.partition(":")
    return bool(sep) and kind in kinds and bool(rest)


def resolve_secret(ref: str, where: str) -> Secret:
    """The secret ``ref`` points to; ``where`` (the key) names it in errors."""
    kind, _, rest = ref.partition(":")
    if kind == "env":
        value = os.environ.get(rest)
        if value is None:
            raise ConfigError(f"{where}: environment variable {rest} is not set")
        return Secret(value)
    if kind == "file":
        try:
            return Secret(Path(rest).read_text().strip())
        except (OSError, UnicodeDecodeError):
            raise ConfigError(f"{where}: cannot read {rest}") from None
    if kind == "value":
        return Secret(rest)
    raise ConfigError(f"{where}: must start with env:, file: or value:")
