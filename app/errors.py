"""Typed errors carrying their status, rendered as application/problem+json (RFC 9457)."""

from __future__ import annotations

import errno
import socket
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, ClassVar

import asyncpg  # type: ignore[import-untyped]
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """RFC 9457 problem details; extension members carry the offending field and index."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None


class AppError(Exception):
    status: int = 500
    title: str = "Internal Server Error"
    type: str = "about:blank"
    # Headers every response of this error carries.
    fixed_headers: ClassVar[Mapping[str, str]] = {}

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.extensions = extensions
        self.headers: dict[str, str] = dict(self.fixed_headers)

    def problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        body.update(self.extensions)
        return body


class Unauthorized(AppError):
    status = 401
    title = "Unauthorized"
    type = "/problems/unauthorized"
    fixed_headers: ClassVar[Mapping[str, str]] = {"WWW-Authenticate": 'Bearer realm="hae"'}


class Forbidden(AppError):
    status = 403
    title = "Forbidden"
    type = "/problems/forbidden"


class NotFound(AppError):
    status = 404
    title = "Not Found"
    type = "/problems/not-found"


class MalformedPayload(AppError):
    status = 400
    title = "Malformed JSON"
    type = "/problems/malformed-json"


class InvalidEnvelope(AppError):
    status = 422
    title = "Not a Health Auto Export payload"
    type = "/problems/invalid-envelope"


class PayloadTooLarge(AppError):
    status = 413
    title = "Payload Too Large"
    type = "/problems/payload-too-large"


class UnsupportedMediaType(AppError):
    status = 415
    title = "Unsupported Media Type"
    type = "/problems/unsupported-media-type"


class TooManyRequests(AppError):
    status = 429
    title = "Too Many Requests"
    type = "/problems/rate-limited"

    def __init__(self, detail: str | None = None, *, retry_after: int, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.headers["Retry-After"] = str(max(1, retry_after))


class InvalidRequest(AppError):
    """Parameters or a body that fail validation; rendered with the list of ``errors``."""

    status = 422
    title = "Invalid request"
    type = "/problems/validation"


class IngestFailed(AppError):
    status = 503
    title = "Ingestion not completed"
    type = "/problems/ingest-failed"


class DatabaseUnavailable(AppError):
    status = 503
    title = "Service Unavailable"
    type = "/problems/database-unavailable"


# What any route behind an API key may answer: no or a bad key, a missing scope, a rate limit,
# parameters that fail validation.
KEYED_ROUTE_ERRORS: tuple[type[AppError], ...] = (
    Unauthorized,
    Forbidden,
    TooManyRequests,
    InvalidRequest,
)


# How long a client is asked to wait: a restart or fail-over of PostgreSQL takes seconds.
DATABASE_RETRY_AFTER_S = 5
# Raised by the driver or the pool when the server cannot be reached or dropped the connection;
# never by a wrong statement (those stay 500: retrying them cannot help).
_UNREACHABLE: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # no pooled connection came free in time
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # "connection is closed" and the like
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up, cancelled
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, out of memory
    ConnectionError,
    TimeoutError,
    socket.gaierror,
)
_UNREACHABLE_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ETIMEDOUT,
    errno.EPIPE,
}


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says PostgreSQL could not be reached or went away."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, _UNREACHABLE) or _unreachable_os_error(current):
            return True
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(c for c in (current.__cause__, current.__context__) if c is not None)
        orig = getattr(current, "orig", None)
        if isinstance(orig, BaseException):
            pending.append(orig)
    return False


def _unreachable_os_error(exc: BaseException) -> bool:
    # asyncio reports several failed addresses as one plain OSError("Multiple exceptions: ...").
    return isinstance(exc, OSError) and (
        exc.errno in _UNREACHABLE_ERRNOS or str(exc).startswith("Multiple exceptions")
    )


def database_unavailable_response() -> JSONResponse:
    error = DatabaseUnavailable(
        "the database is unreachable; retry after the time given in Retry-After"
    )
    return problem_response(
        error.status, error.problem(), {"Retry-After": str(DATABASE_RETRY_AFTER_S)}
    )


def problem_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for a route's declared errors."""
    return {
        error.status: {
            "description": error.title,
            "content": {PROBLEM_JSON: {"schema": Problem.model_json_schema()}},
        }
        for error in errors
    }


def install(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return problem_response(exc.status, exc.problem(), exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = HTTPStatus(exc.status_code).phrase
        body = {"type": "about:blank", "title": title, "status": exc.status_code}
        if exc.detail and exc.detail != title:
            body["detail"] = str(exc.detail)
        return problem_response(exc.status_code, body, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "reason": e.get("msg")}
            for e in exc.errors()
        ]
        error = InvalidRequest(errors=errors)
        return problem_response(error.status, error.problem())

    async def _maybe_unreachable(_: Request, exc: Exception) -> JSONResponse:
        if not database_unavailable(exc):
            return _internal_error(exc)
        log.warning("request.database_unavailable", error_type=type(exc).__name__)
        return database_unavailable_response()

    # Handled here rather than by the catch-all below: these are answered, not re-raised.
    for error_type in (sa_exc.SQLAlchemyError, asyncpg.PostgresError, OSError):
        app.add_exception_handler(error_type, _maybe_unreachable)
    app.add_exception_handler(asyncpg.InterfaceError, _maybe_unreachable)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if database_unavailable(exc):
            # Wrapped in something else on the way up: still the database, still retryable.
            return await _maybe_unreachable(request, exc)
        return _internal_error(exc)


def _internal_error(exc: Exception) -> JSONResponse:
    log.exception("request.failed", error_type=type(exc).__name__)
    error = AppError()
    return problem_response(error.status, error.problem())


def problem_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Every 422 is RFC 9457 problem+json here: replace FastAPI's default validation response."""
    problem = {"content": {PROBLEM_JSON: {"schema": Problem.model_json_schema()}}}
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses = operation.get("responses", {}) if isinstance(operation, dict) else {}
            if "422" in responses:
                responses["422"] = {"description": "Invalid request", **problem}
    schema.get("components", {}).get("schemas", {}).pop("HTTPValidationError", None)
    schema.get("components", {}).get("schemas", {}).pop("ValidationError", None)
    return schema
