"""The Health Auto Export wire format, as msgspec structs for the bulk decode.

This is the one definition of the payload's shape: the OpenAPI schema of ``POST /v1/ingest`` is
generated from it. Fields are lenient where real payloads drift (dates as strings or epoch
floats, numbers as strings, ``source`` null, absent sections); a point that does not fit is
rejected alone.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Raw, Struct, field

from app.ingest.decode.envelope import EVENT_SECTIONS

DateValue = str | float | None
# A number, or a string that may hold one ("72"): phones send both. The string is read by the
# normaliser (``common.optional_number``), which accepts or rejects that one point with a reason;
# a JSON number still decodes straight to a float, at the same speed as a plain ``float`` field.
Num = float | str | None


NULL = Raw(b"null")


class MetricSeries(Struct):
    name: str
    units: str | None = None
    data: Raw = field(
        default_factory=lambda: NULL
    )  # msgspec keeps a Raw out of unions: an absent or null array reads "null"


class _Point(Struct, gc=False):
    """What every point may carry: its time (``date``, or ``start``/``end``) and its source."""

    date: DateValue = None
    source: str | None = None
    start: DateValue = None
    end: DateValue = None


class QuantityPoint(_Point, gc=False):
    qty: Num = None


class HrvPoint(_Point):
    qty: Num = None
    heartbeatSeries: Raw = field(default_factory=lambda: NULL)


class HeartRatePoint(_Point, gc=False):
    min: Num = field(default=None, name="Min")
    avg: Num = field(default=None, name="Avg")
    max: Num = field(default=None, name="Max")
    qty: Num = None
    context: str | None = None


class BloodPressurePoint(_Point, gc=False):
    systolic: Num = None
    diastolic: Num = None


class TaggedQuantityPoint(_Point, gc=False):
    """Blood glucose (mealTime), insulin (reason), hygiene (value)."""

    qty: Num = None
    mealTime: str | None = None
    reason: str | None = None
    value: str | None = None


class SexualActivityPoint(_Point, gc=False):
    unspecified: Num = field(default=None, name="Unspecified")
    protection_used: Num = field(default=None, name="Protection Used")
    protection_not_used: Num = field(default=None, name="Protection Not Used")


class SleepPoint(_Point, gc=False):
    """All five sleep shapes: four aggregated field sets and the unaggregated segment."""

    asleep: Num = None
    core: Num = None
    deep: Num = None
    rem: Num = None
    awake: Num = None
    inBed: Num = None
    totalSleep: Num = None
    sleepStart: DateValue = None
    sleepEnd: DateValue = None
    inBedStart: DateValue = None
    inBedEnd: DateValue = None
    sleepSource: str | None = None
    inBedSource: str | None = None
    startDate: DateValue = None
    endDate: DateValue = None
    qty: Num = None
    value: str | None = None


class Envelope(Struct):
    """For the OpenAPI schema only: the decode walks sections one by one."""

    data: dict[str, list[Any]]


def openapi_request_schema() -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "description": 'A Health Auto Export REST API payload: {"data": {section: [...]}}.',
        "required": ["data"],
        "properties": {
            "data": {
                "type": "object",
                "properties": {
                    "metrics": {"type": "array", "items": _struct_schema(MetricSeries)},
                    **{
                        section: {"type": "array", "items": {"type": "object"}}
                        for section in ("workouts", *EVENT_SECTIONS)
                    },
                },
                "additionalProperties": True,
            }
        },
    }
    return schema


def _struct_schema(struct: type[Struct]) -> dict[str, Any]:
    _, components = msgspec.json.schema_components([struct], ref_template="{name}")
    inner: dict[str, Any] = components[struct.__name__]
    props = inner.get("properties", {})
    if "data" in props:
        props["data"] = {"type": "array", "items": {"type": "object"}}
    return inner
