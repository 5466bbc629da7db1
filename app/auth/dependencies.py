"""FastAPI dependencies: the principal behind a request's API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from app.auth.service import AuthService, Principal

# Declared for OpenAPI; any one of the three is accepted.
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <key>")
_x_api_key = APIKeyHeader(name="X-API-Key", auto_error=False)
_api_key = APIKeyHeader(name="api-key", auto_error=False, description="The vendor server's header.")


def get_auth_service(request: Request) -> AuthService:
    service: AuthService = request.app.state.auth
    return service


async def get_principal(
    service: Annotated[AuthService, Depends(get_auth_service)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_api_key: Annotated[str | None, Depends(_x_api_key)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    token = bearer.credentials if bearer is not None else (x_api_key or api_key)
    return await service.authenticate(token)


async def writer(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    principal.require("write")
    return principal


async def reader(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    principal.require("read")
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
WriterDep = Annotated[Principal, Depends(writer)]
ReaderDep = Annotated[Principal, Depends(reader)]
