"""Response shapes of the read API, for OpenAPI (the routes render JSON themselves)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class MetricInfo(BaseModel):
    name: str
    kind: str  # cumulative | discrete | sleep
    aggregation: str  # sum | min/avg/max | nights
    known: bool
    units: list[str]
    count: int
    first_at: str | None
    last_at: str | None
    sources: list[str]


class MetricList(BaseModel):
    metrics: list[MetricInfo]


class SeriesPage(BaseModel):
    """Raw points (``bucket`` null) or buckets; ``columns`` lists each item's keys in order."""

    metric: str
    kind: str
    bucket: str | None
    aggregation: str | None = None
    tz: str | None
    columns: list[str]
    items: list[dict[str, Any]]
    next_cursor: str | None


class SleepPage(BaseModel):
    tz: str | None
    nights: list[dict[str, Any]]
    next_cursor: str | None
