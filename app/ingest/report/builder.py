"""The ingest report: what the app and a human read back, and ``GET /v1/ingestions/{id}``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.ingest.decode.envelope import EVENT_SECTIONS
from app.ingest.types import PointError

MAX_ERRORS = 100


class Counts(BaseModel):
    received: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0


class RejectedPoint(BaseModel):
    section: str
    name: str | None = Field(None, description="Metric name, or the workout's name.")
    index: int | None = Field(None, description="Index in the section (or in the metric's data).")
    field: str | None = None
    reason: str


class IngestReport(BaseModel):
    ingestion_id: int
    status: str = Field(
        description=(
            "processed; duplicate (identical body seen before, nothing applied); retrying (some"
            " sections could not be stored yet: kept and retried by the worker); failed (gave up"
            " after retries: replayable); pending/processing (queued, see Location)."
        )
    )
    duplicate_of: int | None = None
    totals: Counts
    metrics: dict[str, Counts] = Field(default_factory=dict)
    workouts: Counts | None = None
    symptoms: Counts | None = None
    ecg: Counts | None = None
    heartRateNotifications: Counts | None = None
    stateOfMind: Counts | None = None
    medications: Counts | None = None
    cycleTracking: Counts | None = None
    unknown_metrics: list[str] = Field(
        default_factory=list, description="Metric names stored generically (no typed mapping)."
    )
    unknown_sections: list[str] = Field(
        default_factory=list, description="Top-level keys not understood; kept in the raw body."
    )
    errors: list[RejectedPoint] = Field(default_factory=list, description="First 100 rejections.")
    warnings: list[str] = Field(default_factory=list, description="Changes made to store the body.")
    error_count: int = 0


@dataclass(slots=True)
class ReportBuilder:
    ingestion_id: int
    metrics: dict[str, dict[str, int]] = field(default_factory=dict)
    sections: dict[str, dict[str, int]] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_count: int = 0
    unknown_metrics: list[str] = field(default_factory=list)
    unknown_sections: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    # (kind, name, newest point) of every series/section written: for data freshness.
    freshness: list[tuple[str, str, datetime]] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)  # rejection reason class -> count
    warnings: list[str] = field(default_factory=list)
    # Metric entries too broken to have a name: counted in the totals, listed in errors.
    unnamed: dict[str, int] = field(
        default_factory=lambda: {
            "received": 0,
            "inserted": 0,
            "updated": 0,
            "unchanged": 0,
            "rejected": 0,
        }
    )

    def add(
        self,
        section: str,
        name: str | None,
        *,
        received: int = 0,
        inserted: int = 0,
        updated: int = 0,
        rejected: int = 0,
    ) -> None:
        if section == "metrics":
            counts = (
                self.unnamed
                if name is None
                else self.metrics.setdefault(name, dict.fromkeys(self.unnamed, 0))
            )
        else:
            counts = self.sections.setdefault(section, dict.fromkeys(self.unnamed, 0))
        counts["received"] += received
        counts["inserted"] += inserted
        counts["updated"] += updated
        counts["rejected"] += rejected
        counts["unchanged"] = (
            counts["received"] - counts["inserted"] - counts["updated"] - counts["rejected"]
        )

    def reject(self, errors: list[PointError]) -> None:
        self.error_count += len(errors)
        for error in errors:
            reason = reason_class(error)
            self.reasons[reason] = self.reasons.get(reason, 0) + 1
        room = MAX_ERRORS - len(self.errors)
        if room > 0:
            self.errors.extend(e.as_dict() for e in errors[:room])

    def build(self) -> dict[str, Any]:
        totals = {"received": 0, "inserted": 0, "updated": 0, "unchanged": 0, "rejected": 0}
        for counts in [*self.metrics.values(), *self.sections.values(), self.unnamed]:
            for key in totals:
                totals[key] += counts[key]
        report: dict[str, Any] = {
            "ingestion_id": self.ingestion_id,
            "status": "failed" if self.failed else "processed",
            "totals": totals,
            "metrics": self.metrics,
            **self.sections,
            "unknown_metrics": self.unknown_metrics,
            "unknown_sections": self.unknown_sections,
            "errors": self.errors,
            "error_count": self.error_count,
        }
        if self.warnings:
            report["warnings"] = self.warnings
        if self.failed:
            report["failed"] = self.failed
        return report


def reason_class(error: PointError) -> str:
    """A closed set for metrics labels: date, missing, type, range, value, other."""
    reason = error.reason
    field_name = (error.field or "").rsplit(".", 1)[-1]
    if "date" in reason or field_name in {
        "date",
        "start",
        "end",
        "startDate",
        "endDate",
        "timestamp",
    }:
        return "date"
    if reason.startswith("missing") or "missing required field" in reason:
        return "missing"
    if reason.startswith("expected") or reason.startswith("Expected"):
        return "type"
    if "impossible" in reason or "outside" in reason or "out of range" in reason:
        return "range"
    if "finite" in reason or "negative" in reason:
        return "value"
    return "other"


def as_duplicate(report: dict[str, Any]) -> dict[str, Any]:
    """The stored report of an identical earlier body, restated: nothing was applied this time."""

    def restate(counts: dict[str, int]) -> dict[str, int]:
        applied = counts["received"] - counts["rejected"]
        return {**counts, "inserted": 0, "updated": 0, "unchanged": applied}

    out = dict(report)
    out["status"] = "duplicate"
    out["duplicate_of"] = report["ingestion_id"]
    out["totals"] = restate(report["totals"])
    out["metrics"] = {name: restate(c) for name, c in report.get("metrics", {}).items()}
    for section in ("workouts", *EVENT_SECTIONS):
        if isinstance(report.get(section), dict):
            out[section] = restate(report[section])
    return out
