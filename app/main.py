"""Application factory."""

from __future__ import annotations

from fastapi import FastAPI

from app import errors
from app.config import Settings, get_settings
from app.ingest.router import router as ingest_router
from app.lifespan import lifespan
from app.logging import configure as configure_logging
from app.middleware import MetricsMiddleware, RequestContextMiddleware
from app.observability.health import router as health_router
from app.observability.status import router as status_router
from app.query.router import router as query_router


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
    app.include_router(ingest_router)
    app.include_router(health_router)
    app.include_router(status_router)
    app.include_router(query_router)
    # Added last = outermost: the request id is bound before anything logs.
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(RequestContextMiddleware)
    return app


app = create_app()
