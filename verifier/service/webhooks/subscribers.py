"""A subscriber as delivery knows it: where to send, what, and the secrets to sign with."""

from __future__ import annotations

from dataclasses import dataclass

from hedui_sdk import Secret
from verifier.domain.ports import Subscription
from verifier.domain.webhooks import EventType


@dataclass(frozen=True, slots=True)
class Subscriber:
    """``secrets`` are resolved values (never logged: :class:`Secret` hides them); with
    two, during a rotation, each delivery carries both signatures."""

    name: str
    url: str
    event_types: frozenset[EventType]
    secrets: tuple[Secret, ...]

    def subscription(self) -> Subscription:
        return Subscription(self.name, self.event_types)

    def __repr__(self) -> str:
        # The URL may carry a token in its query; names and types are enough to debug.
        types = ",".join(sorted(self.event_types))
        return f"Subscriber({self.name!r}, types={types}, secrets={len(self.secrets)})"
