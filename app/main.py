"""Application factory."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app import errors
from app.config import Settings, get_settings
from app.erase.router import router as erase_router
from app.event.router import router as event_router
from app.export.router import router as export_router
from app.ingest.router import router as ingest_router
from app.lifespan import lifespan
from app.logging import configure as configure_logging
from app.middleware import MetricsMiddleware, RequestContextMiddleware
from app.observability.health import router as health_router
from app.observability.status import router as status_router
from app.query.compat_router import router as compat_router
from app.query.router import router as query_router
from app.workout.router import router as workout_router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(json=settings.environment == "production")
    app = FastAPI(
        title="Health Auto Export server",
        version="0.1.0",
        description="Stores every Apple Health value Health Auto Export sends, exactly once.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    errors.install(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = errors.problem_openapi(get_openapi_schema(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.include_router(ingest_router)
    app.include_router(health_router)
    app.include_router(status_router)
    app.include_router(query_router)
    app.include_router(workout_router)
    app.include_router(event_router)
    app.include_router(export_router)
    app.include_router(erase_router)
    app.include_router(compat_router)
    # Added last = outermost: the request id is bound before anything logs.
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(RequestContextMiddleware)
    return app


app = create_app()


def get_openapi_schema(app: FastAPI) -> dict[str, Any]:
    return get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
