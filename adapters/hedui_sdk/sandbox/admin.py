"""The sandbox's admin routes: ``GET|POST /admin/faults`` and ``GET|POST|DELETE
/admin/events`` (docs/sandbox.md), behind the admin bearer token when one is set."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hedui_sdk.contract import SourceKind
from hedui_sdk.sandbox import wire
from hedui_sdk.sandbox.events import EventsRefused, Violation, parse_events
from hedui_sdk.sandbox.faults import SourceFaults, default_faults

if TYPE_CHECKING:
    from hedui_sdk.sandbox.departments import SandboxDepartments


class AdminRoutes:
    """The admin handlers of one :class:`~hedui_sdk.sandbox.departments.SandboxDepartments`;
    ``token`` None leaves them open (local use)."""

    def __init__(self, departments: SandboxDepartments, token: str | None) -> None:
        self._departments = departments
        self._token = token

    def routes(self) -> list[web.RouteDef]:
        """The routes to add to the departments' application."""
        return [
            web.get("/admin/faults", self._get_faults),
            web.post("/admin/faults", self._post_faults),
            web.get("/admin/events", self._get_events),
            web.post("/admin/events", self._post_events),
            web.delete("/admin/events", self._delete_events),
        ]

    def _admin_refusal(self, request: web.Request) -> web.Response | None:
        """None when the request may use an admin route: no admin token was set, or it
        presents that token. No bearer token is 401; a wrong one is 403."""
        if self._token is None:
            return None
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented:
            response = web.json_response(
                wire.error("UNAUTHENTICATED", "the admin bearer token is required"), status=401
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="hedui-sandbox-admin"'
            return response
        if secrets.compare_digest(presented.encode(), self._token.encode()):
            return None
        return web.json_response(wire.error("FORBIDDEN", "admin token not accepted"), status=403)

    def _faults_json(self) -> dict[str, Any]:
        return {"sources": {s.value: f.to_json() for s, f in self._departments.faults().items()}}

    async def _get_faults(self, request: web.Request) -> web.Response:
        return self._admin_refusal(request) or web.json_response(self._faults_json())

    async def _post_faults(self, request: web.Request) -> web.Response:
        refusal = self._admin_refusal(request)
        if refusal is not None:
            return refusal
        try:
            body = json.loads(await request.read())
            reset = isinstance(body, dict) and body.get("reset") is True
            updates = _fault_updates(
                body, default_faults() if reset else self._departments.faults()
            )
        except (ValueError, UnicodeDecodeError) as exc:
            return web.json_response(wire.error("INVALID_REQUEST", str(exc)), status=422)
        if reset:
            self._departments.reset_faults()
        for source, faults in updates.items():
            self._departments.set_faults(source, faults)
        return web.json_response(self._faults_json())

    def _events_json(self) -> dict[str, Any]:
        return {
            "as_of": self._departments.population.as_of.isoformat(),
            "events": [event.to_json() for event in self._departments.events()],
        }

    async def _get_events(self, request: web.Request) -> web.Response:
        return self._admin_refusal(request) or web.json_response(self._events_json())

    async def _post_events(self, request: web.Request) -> web.Response:
        refusal = self._admin_refusal(request)
        if refusal is not None:
            return refusal
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return web.json_response(wire.error("BAD_REQUEST", "body is not JSON"), status=400)
        try:
            outcome = self._departments.apply_events(parse_events(body))
        except EventsRefused as refused:
            return _refused(refused)
        return web.json_response({**outcome.to_json(), "total": len(self._departments.events())})

    async def _delete_events(self, request: web.Request) -> web.Response:
        refusal = self._admin_refusal(request)
        if refusal is not None:
            return refusal
        undone = self._departments.reset_events()
        return web.json_response({"removed": undone, **self._events_json()})


def _refused(refused: EventsRefused) -> web.Response:
    """409 for an event id reused for a different event, else 422; every bad field named."""
    status, code = (409, "EVENT_ID_CONFLICT") if refused.conflict else (422, "INVALID_EVENTS")
    body = wire.error(code, "no event was applied: " + _summary(refused.violations))
    body["error"]["violations"] = [v.to_json() for v in refused.violations]
    return web.json_response(body, status=status)


def _summary(violations: tuple[Violation, ...]) -> str:
    return f"{len(violations)} problem{'s' if len(violations) != 1 else ''}"


def _fault_updates(
    body: Any, current: Mapping[SourceKind, SourceFaults]
) -> dict[SourceKind, SourceFaults]:
    """The admin body ``{"reset": bool, "sources": {"<source>"|"*": {knob: value}}}``."""
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    sources = body.get("sources", {})
    if not isinstance(sources, dict):
        raise ValueError("sources must be an object")
    updates: dict[SourceKind, SourceFaults] = {}
    everywhere = sources.get("*")
    for key, knobs in sources.items():
        if not isinstance(knobs, dict):
            raise ValueError("each source's knobs must be an object")
        if key != "*":
            SourceKind(key)  # raises ValueError for an unknown source
    for source in SourceKind:
        faults = current[source]
        if isinstance(everywhere, dict):
            faults = faults.updated(everywhere)
        own = sources.get(source.value)
        if isinstance(own, dict):
            faults = faults.updated(own)
        if faults != current[source]:
            updates[source] = faults
    return updates
