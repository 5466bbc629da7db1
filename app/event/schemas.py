"""Response shapes of the event read API, for OpenAPI (the routes render JSON themselves)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class EventPage(BaseModel):
    """Events oldest first; instants in the offset each was recorded in (or in ``tz``)."""

    tz: str | None
    items: list[dict[str, Any]]
    next_cursor: str | None


class HrvBeat(BaseModel):
    at: str | None = Field(description="The beat's instant (ISO 8601).")
    time_since_start_s: float | None
    preceded_by_gap: bool | None


class HrvPoint(BaseModel):
    start: str | None
    end: str | None
    qty: float | None
    unit: str | None
    source: str | None
    beats: list[HrvBeat] | None = Field(description="Beat-to-beat series; null when none was sent.")
    extra: dict[str, Any] | None


class HrvPage(BaseModel):
    tz: str | None
    items: list[HrvPoint]
    next_cursor: str | None


class EcgRecording(BaseModel):
    id: str
    start: str | None
    end: str | None
    classification: str | None
    severity: str | None
    average_heart_rate: float | None
    sampling_frequency_hz: float | None
    number_of_voltage_measurements: int | None
    voltage_unit: str | None
    voltage_count: int | None
    source: str | None
    extra: dict[str, Any] | None
    offset: int
    voltages: list[float]
    voltage_times: list[float] = Field(description="Epoch seconds, as the app sent them.")
    next_offset: int | None


class MoodKind(BaseModel):
    kind: str | None
    count: int
    valence_avg: float | None
    valence_min: float | None
    valence_max: float | None


class MoodDay(BaseModel):
    date: str
    count: int
    valence_avg: float | None
    kinds: list[MoodKind]


class MoodDays(BaseModel):
    tz: str | None
    items: list[MoodDay]


class StatusCount(BaseModel):
    status: str | None
    count: int


class DoseDay(BaseModel):
    date: str
    medication: str
    taken: int
    skipped: int
    other: int
    total: int
    statuses: list[StatusCount]


class DoseDays(BaseModel):
    tz: str | None
    items: list[DoseDay]
