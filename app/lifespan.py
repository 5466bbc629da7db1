"""Clients created once per process and disposed on shutdown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.auth.service import AuthService
from app.config import Settings
from app.db.engine import create_engine
from app.db.partitions import PartitionManager
from app.ingest.service import IngestService


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    engine = create_engine(settings)
    partitions = PartitionManager(engine)
    app.state.engine = engine
    app.state.partitions = partitions
    app.state.auth = AuthService(engine)
    app.state.ingest = IngestService(engine, partitions, settings)
    try:
        yield
    finally:
        await engine.dispose()
