"""Dependencies of the read, export and deletion routes: clients from the lifespan, the cache."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from app.query.cache import QueryCache
from app.query.service import QueryService
from app.query.sleep import SleepService


async def reject_unstorable_text(request: Request) -> None:
    """PostgreSQL text cannot hold NUL: a parameter carrying one is refused here, by name,
    before it can reach a statement (where it would fail as a database error). Refused as the
    validation problem (422) every route with parameters already declares."""
    params = (
        *(("path", name, value) for name, value in request.path_params.items()),
        *(("query", name, value) for name, value in request.query_params.multi_items()),
    )
    errors = [
        {"loc": (where, name), "msg": "contains a NUL character", "type": "value_error"}
        for where, name, value in params
        if isinstance(value, str) and "\x00" in value
    ]
    if errors:
        raise RequestValidationError(errors)


async def get_engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


async def get_redis(request: Request) -> Redis | None:
    redis: Redis | None = getattr(request.app.state, "redis", None)
    return redis


async def get_cache(
    redis: Annotated[Redis | None, Depends(get_redis)], request: Request
) -> QueryCache:
    return QueryCache(
        redis, request.app.state.settings.redis_prefix, engine=request.app.state.engine
    )


async def get_query_service(
    engine: Annotated[AsyncEngine, Depends(get_engine)],
    cache: Annotated[QueryCache, Depends(get_cache)],
) -> QueryService:
    return QueryService(engine, cache)


async def get_sleep_service(engine: Annotated[AsyncEngine, Depends(get_engine)]) -> SleepService:
    return SleepService(engine)


EngineDep = Annotated[AsyncEngine, Depends(get_engine)]
RedisDep = Annotated[Redis | None, Depends(get_redis)]
CacheDep = Annotated[QueryCache, Depends(get_cache)]
QueryServiceDep = Annotated[QueryService, Depends(get_query_service)]
SleepServiceDep = Annotated[SleepService, Depends(get_sleep_service)]
