"""Typed errors carrying their status, rendered as application/problem+json (RFC 9457)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
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

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.extensions = extensions
        self.headers: dict[str, str] = {}

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

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.headers["WWW-Authenticate"] = 'Bearer realm="hae"'


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


class IngestFailed(AppError):
    status = 503
    title = "Ingestion not completed"
    type = "/problems/ingest-failed"


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
        body = {
            "type": "/problems/validation",
            "title": "Invalid request",
            "status": 422,
            "errors": errors,
        }
        return problem_response(422, body)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("request.failed", error_type=type(exc).__name__)
        body = {"type": "about:blank", "title": "Internal Server Error", "status": 500}
        return problem_response(500, body)


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
