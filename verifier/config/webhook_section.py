"""``[webhooks]`` and its ``[webhooks.subscribers.NAME]`` tables. The retry schedule
must keep trying for at least a day (a receiver down for a day loses nothing). Messages
never repeat a URL (its query may hold a token) or a secret."""

from __future__ import annotations

import re
import urllib.parse
from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator, model_validator

from verifier.config.errors import Problem, between
from verifier.config.secrets import is_reference
from verifier.config.sections import Section
from verifier.domain.webhooks import SUBSCRIBABLE, SUBSCRIBER_NAME

_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_PRINTABLE_URL = re.compile(r"[!-~]{1,2048}", re.ASCII)
_DAY_SECONDS = 24 * 3600
_EVENTS = sorted(str(e) for e in SUBSCRIBABLE)


def _url(url: str) -> str:
    parts = urllib.parse.urlsplit(url) if _PRINTABLE_URL.fullmatch(url) else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
        raise Problem("must be an https:// URL")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise Problem("must be https:// (http:// only to loopback)")
    return url


def _events(events: list[str]) -> list[str]:
    if not events or any(e not in _EVENTS for e in events):
        raise Problem(f"one or more of {', '.join(_EVENTS)}")
    return list(dict.fromkeys(events))


def _secrets(refs: list[str]) -> list[str]:
    if not 1 <= len(refs) <= 2:
        raise Problem("one reference, or two while rotating")
    for i, ref in enumerate(refs):
        if not is_reference(ref, ("env", "file")):
            raise Problem("must be env:NAME or file:PATH", i)
    return refs


class SubscriberSection(Section):
    """``[webhooks.subscribers.NAME]``: ``secrets`` are references, one or two (during a
    rotation both sign every delivery)."""

    url: Annotated[str, AfterValidator(_url)]
    events: Annotated[list[str], AfterValidator(_events)]
    secrets: Annotated[list[str], AfterValidator(_secrets)]


def _schedule(delays: list[Any]) -> list[Any]:
    if not 1 <= len(delays) <= 30 or not all(
        isinstance(d, int | float) and not isinstance(d, bool) and 0 <= d <= 2 * _DAY_SECONDS
        for d in delays
    ):
        raise Problem("1 to 30 waits, each 0 to 172800 seconds")
    if sum(delays) < _DAY_SECONDS:
        raise Problem("must add up to at least 86400 (a day)")
    return delays


class WebhooksSection(Section):
    """``[webhooks]``: delivery settings and the subscribers."""

    subscribers: dict[str, SubscriberSection] = Field(default_factory=dict)
    timeout_seconds: Annotated[float, between(0.1, 60)] = 10.0
    lease_seconds: Annotated[float, between(0.1, 3600)] = 60.0
    interval_seconds: Annotated[float, between(0.05, 60)] = 1.0
    retry_schedule_seconds: Annotated[list[Any], AfterValidator(_schedule)] | None = None
    """None: the default schedule (:data:`verifier.domain.webhooks.DEFAULT_RETRY_SCHEDULE`)."""

    @field_validator("subscribers", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        for name in value if isinstance(value, dict) else ():
            if SUBSCRIBER_NAME.problem(name) is not None:
                raise Problem(f"the name must be {SUBSCRIBER_NAME.rule}", name)
        return value

    @model_validator(mode="after")
    def _lease_outlasts_timeout(self) -> WebhooksSection:
        if not self.timeout_seconds < self.lease_seconds:
            raise Problem("must exceed timeout_seconds, at most 3600", "lease_seconds")
        return self
