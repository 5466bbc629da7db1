"""FastAPI dependencies: the principal behind a request's API key."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from app.auth.service import AuthService, Principal
from app.errors import TooManyRequests
from app.observability import metrics
from app.ratelimit.limiter import Decision

# Declared for OpenAPI; any one of the three is accepted.
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <key>")
_x_api_key = APIKeyHeader(name="X-API-Key", scheme_name="XApiKey", auto_error=False)
_api_key = APIKeyHeader(
    name="api-key",
    scheme_name="ApiKey",
    auto_error=False,
    description="The vendor server's header.",
)


async def get_auth_service(request: Request) -> AuthService:
    service: AuthService = request.app.state.auth
    return service


def record_limits(request: Request, *decisions: Decision) -> None:
    """Keep the latest state of each policy; the middleware turns it into RateLimit headers."""
    state: dict[str, Decision] = getattr(request.state, "ratelimit", None) or {}
    for decision in decisions:
        state[decision.policy] = decision
    request.state.ratelimit = state


async def get_principal(
    request: Request,
    service: Annotated[AuthService, Depends(get_auth_service)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_api_key: Annotated[str | None, Depends(_x_api_key)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    token = bearer.credentials if bearer is not None else (x_api_key or api_key)
    principal = await service.authenticate(token, request.client.host if request.client else None)
    structlog.contextvars.bind_contextvars(user_id=principal.user_id)
    admitted, byte_state = await service.admit_request(principal)
    record_limits(request, admitted, byte_state)
    if not admitted.allowed:
        metrics.RATE_LIMITED.labels(kind="requests").inc()
        raise TooManyRequests("request budget of this key is spent", retry_after=admitted.reset_s)
    return principal


async def writer(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    principal.require("write")
    return principal


async def reader(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    principal.require("read")
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
WriterDep = Annotated[Principal, Depends(writer)]
ReaderDep = Annotated[Principal, Depends(reader)]
