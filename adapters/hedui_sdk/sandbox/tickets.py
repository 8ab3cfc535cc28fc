"""Tickets of an asynchronous sandbox department: the question now, the answer later."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date

from hedui_sdk.contract import IdType, SourceKind

MAX_TICKETS = 100_000
"""Oldest tickets are forgotten beyond this many (a forgotten ticket answers 404)."""


@dataclass(frozen=True, slots=True)
class Ticket:
    """A question accepted for later: who was asked about, and when the answer is ready."""

    source: SourceKind
    id_type: IdType
    id_number: str
    start: date
    end: date
    ready_at: float

    def __repr__(self) -> str:
        return f"Ticket(source={self.source.value}, ready_at={self.ready_at:.3f})"

    def remaining(self) -> float:
        """Seconds until the answer is ready (0 when it is)."""
        return max(0.0, self.ready_at - time.monotonic())


class TicketStore:
    """Open tickets by their opaque id (random, never derived from the subject)."""

    def __init__(self) -> None:
        self._tickets: OrderedDict[str, Ticket] = OrderedDict()

    def open(self, ticket: Ticket) -> str:
        """Store a ticket and return its id."""
        ticket_id = secrets.token_urlsafe(18)
        self._tickets[ticket_id] = ticket
        while len(self._tickets) > MAX_TICKETS:
            self._tickets.popitem(last=False)
        return ticket_id

    def get(self, ticket_id: str) -> Ticket | None:
        """The ticket, or ``None`` if unknown or forgotten."""
        return self._tickets.get(ticket_id)
