"""Pure-ASGI middleware: a request id bound to every log line and echoed back; the response
headers every answer carries (security headers, RateLimit state recorded by the dependencies);
a bound on how long a request body may stall between two chunks."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Mapping
from typing import ClassVar

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import AppError
from app.observability import metrics
from app.ratelimit.limiter import policy_headers

_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# An API answers JSON to machines: nothing may frame, sniff, cache or embed it.
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
_STRICT_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
# The interactive docs load FastAPI's Swagger/ReDoc bundle from its CDN and run inline setup.
_DOCS_CSP = (
    b"content-security-policy",
    b"default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net;"
    b" style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net;"
    b" img-src 'self' data: https://fastapi.tiangolo.com; frame-ancestors 'none'",
)
_DOC_PATHS = ("/docs", "/redoc")
_HAE_CONTEXT = {
    b"automation-name": "automation_name",
    b"automation-id": "automation_id",
    b"session-id": "session_id",
}


class BodyStalled(AppError):
    status = 408
    title = "Request Timeout"
    type = "/problems/body-stalled"
    # The rest of a stalled body may still arrive: the connection cannot be reused.
    fixed_headers: ClassVar[Mapping[str, str]] = {"Connection": "close"}


def idle_limited(receive: Receive, timeout_s: float) -> Receive:
    """``receive`` that raises BodyStalled when the next body chunk takes over ``timeout_s``.
    Only while the body is incomplete: after it, receive waits for a disconnect, for as long as
    a streamed response lasts."""
    body_done = False

    async def receive_within() -> Message:
        nonlocal body_done
        if body_done:
            return await receive()
        try:
            message = await asyncio.wait_for(receive(), timeout_s)
        except TimeoutError:
            raise BodyStalled(
                f"no part of the body arrived for {timeout_s:g} s", timeout_s=timeout_s
            ) from None
        if message["type"] != "http.request" or not message.get("more_body", False):
            body_done = True
        return message

    return receive_within


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        bound: dict[str, str] = {}
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _VALID_ID.fullmatch(candidate):
                    request_id = candidate
            elif name in _HAE_CONTEXT:
                bound[_HAE_CONTEXT[name]] = value.decode("latin-1")[:128]
        request_id = request_id or uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id, **bound)

        docs = scope["path"].startswith(_DOC_PATHS)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"server"]
                headers.append((b"x-request-id", request_id.encode()))
                headers.extend(_SECURITY_HEADERS)
                headers.append(_DOCS_CSP if docs else _STRICT_CSP)
                limits = scope.get("state", {}).get("ratelimit")
                if limits:
                    for name, value in policy_headers(list(limits.values())).items():
                        headers.append((name.lower().encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        settings = scope["app"].state.settings
        try:
            await self.app(scope, idle_limited(receive, settings.body_idle_timeout_s), send_with_id)
        finally:
            structlog.contextvars.clear_contextvars()


# Probes and scrapes would drown the signal: no metrics, no access log for them.
_QUIET_PATHS = frozenset({"/livez", "/readyz", "/metrics"})
access_log = structlog.get_logger("app.access")


class MetricsMiddleware:
    """Per-route-template counts and durations, and one structured access-log event."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _QUIET_PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_capturing(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        metrics.HTTP_IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_capturing)
        finally:
            metrics.HTTP_IN_FLIGHT.dec()
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            metrics.HTTP_REQUESTS.labels(template, method, f"{status // 100}xx").inc()
            metrics.HTTP_DURATION.labels(template, method).observe(elapsed)
            access_log.info(
                "http.request",
                method=method,
                route=template,
                status=status,
                duration_s=round(elapsed, 4),
            )


_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
