"""The reference adapter: one class that speaks department gateway protocol v1 over HTTPS.

A department that implements docs/gateway-protocol.md needs no adapter code of its own:
hedui's built-in adapter for its source is a :class:`GatewayAdapter` pointed at its URL.
The HTTP outcome is mapped to the SDK contract as follows:

========================================  ===================================================
200 FOUND / NOT_FOUND                     ``SourceResult.found`` / ``SourceResult.not_found``
202 PENDING                               ``SourceResult.pending(ticket, retry_after)``
401, 403                                  :class:`~hedui_sdk.errors.SourceDenied`
429                                       :class:`~hedui_sdk.errors.SourceRateLimited`
408, 5xx, timeout, network, cut off       :class:`~hedui_sdk.errors.TransientSourceError`
other 4xx, malformed or off-contract      :class:`~hedui_sdk.errors.PermanentSourceError`
========================================  ===================================================
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from typing import Any, NamedTuple

import aiohttp

from hedui_sdk.builtin.decoding import (
    Origin,
    decode_final,
    decode_pending,
    error_code,
    parse_json,
    retry_after_seconds,
    valid_ticket,
)
from hedui_sdk.contract import AdapterSettings, Secret, SourceKind, SourceQuery, SourceResult
from hedui_sdk.errors import (
    PermanentSourceError,
    SourceDenied,
    SourceRateLimited,
    TransientSourceError,
)

PROTOCOL_PATH = "gateway/v1"
"""Appended to ``settings.base_url``: ``{base_url}/gateway/v1/query``."""

MAX_ANSWER_BYTES = 16 * 1024 * 1024
"""A larger answer is refused as off-contract rather than held in memory."""


class GatewayAdapter:
    """An :class:`~hedui_sdk.contract.Adapter` for any department speaking protocol v1.

    ``settings.base_url`` is the department's protocol base (``https://host/prefix``),
    ``settings.credentials["token"]`` its bearer token, and ``settings.timeout`` the most
    seconds one HTTP exchange may take (a query's deadline shortens it).
    ``settings.options["ca_file"]``, when set, is a PEM file of the CA certificates to trust
    for the department's TLS certificate (departments often use a private CA); otherwise
    the usual public roots are trusted.

    HTTP is aiohttp's client: one connection pool per adapter, opened on first use inside
    the running event loop. (A fan-out makes dozens of concurrent calls per check; the
    client's per-request cost is most of the overhead on top of the departments' own
    latency.)
    """

    def __init__(
        self,
        source: SourceKind,
        name: str,
        version: str,
        settings: AdapterSettings,
    ) -> None:
        token = settings.credentials.get("token")
        if not isinstance(token, Secret) or not token.reveal():
            raise ValueError(f"{name}: settings.credentials['token'] is required")
        if settings.timeout <= 0:
            raise ValueError(f"{name}: settings.timeout must be positive")
        self.source = source
        self.name = name
        self.version = version
        self._token = token
        self._timeout = settings.timeout
        self._origin = Origin(source.value, name, version)
        self._base = settings.base_url.rstrip("/") + "/"
        self._ssl = _tls_context(settings.options.get("ca_file") or None)
        self._headers = {"Accept": "application/json", "User-Agent": f"hedui-{name}/{version}"}
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                # No cookies: every call carries its own credentials, nothing is remembered.
                cookie_jar=aiohttp.DummyCookieJar(),
                raise_for_status=False,
            )
        return self._session

    def __repr__(self) -> str:
        return f"GatewayAdapter(name={self.name!r}, source={self.source.value})"

    async def query(self, q: SourceQuery) -> SourceResult:
        """Ask the department about ``q.subject`` (``POST {base}/gateway/v1/query``)."""
        timeout = min(self._timeout, q.remaining(default=self._timeout))
        if timeout <= 0:
            raise TransientSourceError("deadline passed before the request was sent")
        payload = {
            "source": self.source.value,
            "subject": {
                "id_type": q.subject.id_type.value,
                "id_number": q.subject.id_number,
                "name": q.subject.name,
            },
            "window": {"start": q.window.start.isoformat(), "end": q.window.end.isoformat()},
            "region": q.region,
            "purposes": list(q.purposes),
        }
        request_id = _header_safe(q.request_id)
        headers = {"X-Request-Id": request_id} if request_id else {}
        response = await self._exchange(
            "POST", f"{PROTOCOL_PATH}/query", timeout, json=payload, headers=headers
        )
        return self._interpret(response)

    async def poll(self, ticket: str) -> SourceResult:
        """Ask about a ticket from an earlier PENDING answer (``GET .../tickets/{ticket}``)."""
        if not valid_ticket(ticket):
            raise PermanentSourceError("ticket is not a protocol v1 ticket")
        response = await self._exchange("GET", f"{PROTOCOL_PATH}/tickets/{ticket}", self._timeout)
        return self._interpret(response)

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _exchange(self, method: str, path: str, limit_s: float, **kwargs: Any) -> _Answer:
        headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {self._token.reveal()}"}
        try:
            # asyncio.timeout bounds the whole exchange, so a department trickling bytes
            # cannot outlive the query's deadline.
            async with (
                asyncio.timeout(limit_s),
                self._http().request(
                    method, self._base + path, headers=headers, ssl=self._ssl,
                    allow_redirects=False, **kwargs,
                ) as response,
            ):  # fmt: skip
                body = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    body += chunk
                    if len(body) > MAX_ANSWER_BYTES:
                        raise PermanentSourceError("answer is larger than the protocol allows")
                return _Answer(response.status, response.headers.get("Retry-After"), bytes(body))
        except TimeoutError:
            raise TransientSourceError(f"no answer within {limit_s:.2f}s") from None
        except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError):
            raise PermanentSourceError(
                "base_url has an unsupported scheme (http or https only)"
            ) from None
        except aiohttp.ClientPayloadError as exc:
            # The body broke off or its framing is wrong: the connection failed midway,
            # which another attempt may not. No chaining: client exceptions may hold the
            # request, whose body names the subject.
            raise TransientSourceError(f"answer cut short ({type(exc).__name__})") from None
        except aiohttp.ClientResponseError as exc:
            raise PermanentSourceError(f"unreadable answer ({type(exc).__name__})") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise TransientSourceError(f"connection failed ({type(exc).__name__})") from None

    def _interpret(self, answer: _Answer) -> SourceResult:
        status = answer.status
        if status == 200:
            return decode_final(parse_json(answer.content), self._origin)
        retry_after = retry_after_seconds(answer.retry_after)
        if status == 202:
            return decode_pending(parse_json(answer.content), retry_after)
        code = error_code(answer.content)
        label = f"HTTP {status}" + (f" {code}" if code else "")
        if status in (401, 403):
            raise SourceDenied(f"department refused the request: {label}")
        if status == 429:
            raise SourceRateLimited(f"department rate limit: {label}", retry_after=retry_after)
        if status == 408 or 500 <= status <= 599:
            raise TransientSourceError(f"department unavailable: {label}", retry_after=retry_after)
        raise PermanentSourceError(f"department rejected the request: {label}")


class _Answer(NamedTuple):
    status: int
    retry_after: str | None
    content: bytes


@functools.cache
def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    """One TLS context per trust store, shared: building one costs tens of milliseconds."""
    if ca_file is not None:
        return ssl.create_default_context(cafile=ca_file)
    return ssl.create_default_context()


def _header_safe(value: str) -> str:
    """A request id fit for a header: visible ASCII only, at most 128 characters."""
    return "".join(c for c in value[:128] if "!" <= c <= "~")
