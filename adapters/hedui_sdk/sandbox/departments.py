"""The sandbox departments as one aiohttp application speaking gateway protocol v1.

Routes: ``POST /{source}/gateway/v1/query``, ``GET /{source}/gateway/v1/tickets/{ticket}``,
``GET /healthz``, ``GET|POST /admin/faults`` and ``GET|POST|DELETE /admin/events`` (life
events, docs/sandbox.md). Logs carry the source, the outcome and a masked ID number at
most; never a name, a full ID number or a token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import secrets
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from datetime import time as dtime
from typing import Any

from aiohttp import web

from hedui_sdk.contract import SourceKind
from hedui_sdk.masking import mask_id_number
from hedui_sdk.sandbox import wire
from hedui_sdk.sandbox.admin import AdminRoutes
from hedui_sdk.sandbox.events import LifeEvent, coerce_events
from hedui_sdk.sandbox.facts import overlaps
from hedui_sdk.sandbox.faults import SourceFaults, TokenBucket, default_faults
from hedui_sdk.sandbox.gateway_request import GatewayQuery, InvalidQueryError, parse_query
from hedui_sdk.sandbox.population import Population
from hedui_sdk.sandbox.tickets import Ticket, TicketStore
from hedui_sdk.sandbox.timeline import EventsApplied, Timeline

log = logging.getLogger("hedui_sdk.sandbox")

_CHINA = timezone(timedelta(hours=8))
_MAX_BODY = 64 * 1024

_GARBAGE: tuple[tuple[bytes, str], ...] = (
    (b'{"status": "FOUND", "as_of": "2025-', "application/json"),
    (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
    (b'{"status": "MAYBE", "records": []}', "application/json"),
    (b"[]", "application/json"),
    (
        b'{"status": "FOUND", "as_of": "2025-12-31T15:59:59Z", "records": [{"type": "income",'
        b' "record_id": "X-1", "category": "wages", "kind": "salary", "period_start":'
        b' "2025-01-01", "period_end": "2025-01-31", "amount_fen": 150000.5, "payer": ""}]}',
        "application/json",
    ),
)


def default_tokens() -> dict[SourceKind, str]:
    """Bearer tokens for local use: ``sandbox-<source>-token``. Never use them elsewhere."""
    return {source: f"sandbox-{source.value}-token" for source in SourceKind}


def _source_key(source: SourceKind | str) -> SourceKind:
    return SourceKind(source)


class SandboxDepartments:
    """State and handlers of every sandbox department. Build one per server."""

    def __init__(
        self,
        population: Population,
        *,
        seed: int,
        faults: Mapping[SourceKind | str, SourceFaults] | None = None,
        tokens: Mapping[SourceKind | str, str] | None = None,
        admin_token: str | None = None,
    ) -> None:
        self._timeline = Timeline(population)
        self._rng = random.Random(f"hedui-sandbox-faults:{seed}")  # noqa: S311 -- not security
        self._faults: dict[SourceKind, SourceFaults] = default_faults()
        for source, knobs in (faults or {}).items():
            self._faults[_source_key(source)] = knobs
        self._tokens: dict[SourceKind, str] = default_tokens()
        for source, token in (tokens or {}).items():
            self._tokens[_source_key(source)] = token
        self._admin_token = admin_token
        self._buckets: dict[SourceKind, TokenBucket] = {}
        self._tickets = TicketStore()
        self._closing = asyncio.Event()
        self._hang_changed = asyncio.Condition()
        self._hanging = 0
        self.stats: Counter[str] = Counter()
        """Answers given, keyed ``"<source>:<outcome>"`` (e.g. ``"bank:pending"``)."""

    @property
    def population(self) -> Population:
        """The population the departments answer from: the seed with every applied event."""
        return self._timeline.population

    @property
    def seed_population(self) -> Population:
        """The population as generated, before any life event."""
        return self._timeline.seed

    # -- life events -----------------------------------------------------------------------

    def apply_events(self, events: Sequence[LifeEvent | Mapping[str, Any]]) -> EventsApplied:
        """Apply life events, all or nothing (raises
        :class:`~hedui_sdk.sandbox.events.EventsRefused`). The next answer reflects them."""
        outcome = self._timeline.apply(coerce_events(events))
        log.info(
            "sandbox events applied=%d unchanged=%d", len(outcome.applied), len(outcome.unchanged)
        )
        return outcome

    def events(self) -> tuple[LifeEvent, ...]:
        """Every applied life event, in order."""
        return self._timeline.events()

    def reset_events(self) -> int:
        """Back to the seed population; returns how many events were undone."""
        undone = self._timeline.reset()
        log.info("sandbox events reset undone=%d", undone)
        return undone

    # -- knobs -----------------------------------------------------------------------------

    def faults(self) -> dict[SourceKind, SourceFaults]:
        """The current fault set of every department."""
        return dict(self._faults)

    def set_faults(self, source: SourceKind | str, faults: SourceFaults) -> None:
        """Replace one department's fault set (takes effect for the next request)."""
        key = _source_key(source)
        self._faults[key] = faults
        self._buckets.pop(key, None)

    def reset_faults(self) -> None:
        """Back to :func:`~hedui_sdk.sandbox.faults.default_faults`."""
        self._faults = default_faults()
        self._buckets.clear()

    def token(self, source: SourceKind | str) -> str:
        """The bearer token a department accepts."""
        return self._tokens[_source_key(source)]

    @property
    def hanging(self) -> int:
        """How many requests are hanging right now."""
        return self._hanging

    async def wait_hanging(self, count: int = 1) -> None:
        """Wait until at least ``count`` requests are hanging."""
        async with self._hang_changed:
            await self._hang_changed.wait_for(lambda: self._hanging >= count)

    def close(self) -> None:
        """Release hanging requests so the server can stop."""
        self._closing.set()

    # -- application -----------------------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application serving every department."""
        app = web.Application(client_max_size=_MAX_BODY)
        app.add_routes(
            [
                web.get("/healthz", self._healthz),
                *AdminRoutes(self, self._admin_token).routes(),
                web.post("/{source}/gateway/v1/query", self._query),
                web.get("/{source}/gateway/v1/tickets/{ticket}", self._poll),
            ]
        )
        return app

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {"status": "ok", "sources": [s.value for s in SourceKind]},
        )

    # -- gateway ---------------------------------------------------------------------------

    async def _query(self, request: web.Request) -> web.StreamResponse:
        arrival = time.monotonic()
        source = self._source(request)
        refusal = await self._gate(request, source)
        if refusal is not None:
            return refusal
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return self._error(source, 400, "BAD_REQUEST", "body is not JSON")
        try:
            query = parse_query(body, source)
        except InvalidQueryError as exc:
            return self._error(source, 422, exc.code, str(exc))
        log.debug(
            "sandbox query source=%s subject=%s request_id=%s",
            source.value,
            mask_id_number(query.id_number),
            _safe_request_id(request),
        )
        delay = self._faults[source].async_delay_s
        # The department's own work happens inside its latency, as a real backend's
        # would: the answer is ready before the wait, and leaves when the latency is up.
        answer = self._answer(source, query) if delay is None else None
        misbehaviour = await self._misbehave(source, arrival)
        if misbehaviour is not None:
            return misbehaviour
        if answer is not None:
            return self._count(source, answer)
        assert delay is not None
        ticket = Ticket(
            source,
            query.id_type,
            query.id_number,
            query.start,
            query.end,
            time.monotonic() + delay,
        )
        ticket_id = self._tickets.open(ticket)
        return self._pending(source, ticket_id, delay)

    async def _poll(self, request: web.Request) -> web.StreamResponse:
        arrival = time.monotonic()
        source = self._source(request)
        refusal = await self._gate(request, source)
        if refusal is not None:
            return refusal
        ticket = self._tickets.get(request.match_info["ticket"])
        if ticket is None or ticket.source is not source:
            return self._error(source, 404, "UNKNOWN_TICKET", "no such ticket")
        misbehaviour = await self._misbehave(source, arrival)
        if misbehaviour is not None:
            return misbehaviour
        remaining = ticket.remaining()
        if remaining > 0:
            return self._pending(source, request.match_info["ticket"], remaining)
        query = GatewayQuery(
            source,
            ticket.id_type,
            ticket.id_number,
            "",
            ticket.start,
            ticket.end,
            "",
            (),
        )
        return self._count(source, self._answer(source, query))

    def _source(self, request: web.Request) -> SourceKind:
        try:
            return SourceKind(request.match_info["source"])
        except ValueError:
            raise web.HTTPNotFound(
                text=json.dumps(wire.error("UNKNOWN_SOURCE", "no such department")),
                content_type="application/json",
            ) from None

    async def _gate(self, request: web.Request, source: SourceKind) -> web.Response | None:
        """Authentication, then the rate limit: what a gateway checks before the backend."""
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented:
            response = self._error(source, 401, "UNAUTHENTICATED", "a bearer token is required")
            response.headers["WWW-Authenticate"] = 'Bearer realm="hedui-sandbox"'
            return response
        if not secrets.compare_digest(presented.encode(), self._tokens[source].encode()):
            return self._error(source, 403, "FORBIDDEN", "token not accepted for this source")
        rps = self._faults[source].rate_limit_rps
        if rps is not None:
            bucket = self._buckets.get(source)
            if bucket is None or bucket.rate != rps:
                bucket = self._buckets[source] = TokenBucket(rps)
            wait = bucket.take()
            if wait > 0:
                response = self._error(source, 429, "RATE_LIMITED", "too many requests")
                response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
                return response
        return None

    async def _misbehave(self, source: SourceKind, arrival: float) -> web.StreamResponse | None:
        """Latency, counted from the request's ``arrival`` (:func:`time.monotonic`), then
        (by the seeded dice) a hang, an error, a garbage answer or a refusal."""
        faults = self._faults[source]
        rng = self._rng
        jitter = rng.randint(0, faults.jitter_ms) if faults.jitter_ms else 0
        if faults.latency_ms or jitter:
            remaining = arrival + (faults.latency_ms + jitter) / 1000 - time.monotonic()
            if remaining > 0:
                await asyncio.sleep(remaining)
        if faults.hang_rate and rng.random() < faults.hang_rate:
            await self._hang()
            return self._error(source, 503, "SHUTTING_DOWN", "the sandbox is stopping")
        if faults.error_rate and rng.random() < faults.error_rate:
            return self._error(source, 503, "UNAVAILABLE", "department system unavailable")
        if faults.garbage_rate and rng.random() < faults.garbage_rate:
            body, content_type = rng.choice(_GARBAGE)
            self.stats[f"{source.value}:garbage"] += 1
            return web.Response(status=200, body=body, content_type=content_type)
        if faults.deny_rate and rng.random() < faults.deny_rate:
            return self._error(source, 403, "FORBIDDEN", "token not accepted for this source")
        return None

    async def _hang(self) -> None:
        async with self._hang_changed:
            self._hanging += 1
            self._hang_changed.notify_all()
        try:
            # Answered only when the sandbox stops; a client that gives up closes the
            # connection and aiohttp cancels this handler (handler_cancellation=True).
            await self._closing.wait()
        finally:
            self._hanging -= 1

    def _answer(self, source: SourceKind, query: GatewayQuery) -> tuple[web.Response, str]:
        """The department's answer and what it was (``found`` or ``not_found``)."""
        as_of = datetime.combine(self.population.as_of, dtime(23, 59, 59), _CHINA)
        person = self.population.lookup(query.id_type, query.id_number)
        facts = () if person is None else person.facts_for(source)
        selected = tuple(f for f in facts if overlaps(f, query.start, query.end))
        if not selected:
            return web.json_response(wire.not_found(as_of)), "not_found"
        return web.json_response(wire.found(selected, as_of)), "found"

    def _count(self, source: SourceKind, answer: tuple[web.Response, str]) -> web.Response:
        response, kind = answer
        self.stats[f"{source.value}:{kind}"] += 1
        return response

    def _pending(self, source: SourceKind, ticket_id: str, wait: float) -> web.Response:
        self.stats[f"{source.value}:pending"] += 1
        wait = round(max(0.0, wait), 3)
        response = web.json_response(wire.pending(ticket_id, wait), status=202)
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response

    def _error(self, source: SourceKind, status: int, code: str, message: str) -> web.Response:
        self.stats[f"{source.value}:{status}"] += 1
        log.info("sandbox refused source=%s status=%d code=%s", source.value, status, code)
        return web.json_response(wire.error(code, message), status=status)


def _safe_request_id(request: web.Request) -> str:
    value = request.headers.get("X-Request-Id", "")
    return "".join(c for c in value[:64] if c.isalnum() or c in "-_.")
