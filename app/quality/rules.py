"""Plausibility per metric family. Physically impossible values are rejected with a reason;
improbable ones are stored, flagged, counted and listed (``python -m app.cli quality``)."""

from __future__ import annotations

from dataclasses import dataclass

from app.ingest.normalise.units import canonical


@dataclass(frozen=True, slots=True)
class Range:
    family: str
    unit: str  # the canonical unit the bounds are in
    impossible_below: float | None = None  # value < this is impossible
    impossible_above: float | None = None
    improbable_below: float | None = None
    improbable_above: float | None = None


class Impossible(ValueError):
    pass


_HEART = Range("heart_rate", "count/min", 0.0, 400.0, 25.0, 230.0)
_RANGES: dict[str, Range] = {
    "heart_rate": _HEART,
    "resting_heart_rate": Range("heart_rate", "count/min", 0.0, 400.0, 28.0, 130.0),
    "walking_heart_rate_average": _HEART,
    "walking_heart_rate": _HEART,
    "cardio_recovery": Range("heart_rate", "count/min", -100.0, 250.0, 0.0, 100.0),
    "blood_oxygen_saturation": Range("spo2", "%", 0.0, 100.0, 70.0, None),
    "body_temperature": Range("temperature", "degC", 15.0, 47.0, 34.0, 42.0),
    "basal_body_temperature": Range("temperature", "degC", 15.0, 47.0, 34.0, 40.0),
    "weight_body_mass": Range("weight", "kg", 0.0, 700.0, 20.0, 300.0),
    "lean_body_mass": Range("weight", "kg", 0.0, 700.0, 10.0, 200.0),
    "body_mass_index": Range("weight", "count", 0.0, 250.0, 10.0, 70.0),
    "body_fat_percentage": Range("body_fat", "%", 0.0, 100.0, 2.0, 70.0),
    "respiratory_rate": Range("respiratory_rate", "count/min", 0.0, 150.0, 5.0, 60.0),
    "vo2_max": Range("vo2_max", "ml/(kg·min)", 0.0, 120.0, 10.0, 90.0),
    "step_count": Range("steps", "count", 0.0, None, None, 50_000.0),
    "walking_speed": Range("speed", "m/s", 0.0, 15.0, None, 4.0),
}
CHECKED = frozenset(_RANGES)
SLEEP_HOURS = Range("sleep", "hr", 0.0, 48.0, None, 16.0)
BLOOD_PRESSURE = (
    Range("blood_pressure", "mmHg", 0.0, 400.0, 70.0, 220.0),
    Range("blood_pressure", "mmHg", 0.0, 400.0, 35.0, 140.0),
)
WORKOUT_SPEED = Range("workout_speed", "m/s", 0.0, 340.0, None, 50.0)


def family(metric: str) -> str:
    found = _RANGES.get(metric)
    if found is not None:
        return found.family
    return "sleep" if metric == "sleep_analysis" else "other"


def _in_canonical(rule: Range, metric: str, value: float, unit: str | None) -> float:
    if rule.family == "spo2":
        return value * 100.0 if value <= 1.0 else value  # fraction or percent, both seen
    conv = canonical(unit)
    if conv is not None and conv[0] == rule.unit:
        return value * conv[1] + conv[2]
    return value


def judge(rule: Range, value: float) -> str | None:
    """None when plausible, the reason when improbable; raises Impossible."""
    if rule.impossible_below is not None and value < rule.impossible_below:
        raise Impossible(f"{rule.family} below {rule.impossible_below:g} {rule.unit} is impossible")
    if rule.impossible_above is not None and value > rule.impossible_above:
        raise Impossible(f"{rule.family} above {rule.impossible_above:g} {rule.unit} is impossible")
    if rule.improbable_below is not None and value < rule.improbable_below:
        return f"{rule.family} below {rule.improbable_below:g} {rule.unit} is improbable"
    if rule.improbable_above is not None and value > rule.improbable_above:
        return f"{rule.family} above {rule.improbable_above:g} {rule.unit} is improbable"
    return None


def assess(metric: str, value: float, unit: str | None) -> str | None:
    rule = _RANGES.get(metric)
    if rule is None:
        return None
    return judge(rule, _in_canonical(rule, metric, value, unit))
