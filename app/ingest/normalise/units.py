"""Canonical units: the unit the app sent is kept, and a value in the family's canonical unit
is stored beside it so sums and charts stay right when a user switches kcal/kJ, mi/km, lb/kg...
"""

from __future__ import annotations

# unit as the app spells it -> (canonical unit, factor, offset): canonical = v * factor + offset
_LINEAR: dict[str, tuple[str, float, float]] = {}


def _family(canonical: str, units: dict[str, float]) -> None:
    for name, factor in units.items():
        _LINEAR[name] = (canonical, factor, 0.0)
        _LINEAR[name.lower()] = (canonical, factor, 0.0)


_family("kcal", {"kcal": 1.0, "Cal": 1.0, "kJ": 1 / 4.184, "cal": 0.001, "J": 1 / 4184})
_family(
    "m",
    {
        "m": 1.0,
        "km": 1000.0,
        "cm": 0.01,
        "mm": 0.001,
        "mi": 1609.344,
        "yd": 0.9144,
        "ft": 0.3048,
        "in": 0.0254,
    },
)
_family(
    "kg",
    {
        "kg": 1.0,
        "g": 0.001,
        "lb": 0.45359237,
        "lbs": 0.45359237,
        "oz": 0.028349523125,
        "st": 6.35029318,
    },
)
_family(
    "mL",
    {
        "mL": 1.0,
        "ml": 1.0,
        "L": 1000.0,
        "l": 1000.0,
        "fl_oz_us": 29.5735295625,
        "fl_oz_imp": 28.4130625,
        "cup_us": 236.5882365,
    },
)
_family(
    "m/s",
    {
        "m/s": 1.0,
        "km/hr": 1 / 3.6,
        "km/h": 1 / 3.6,
        "kmph": 1 / 3.6,
        "mi/hr": 0.44704,
        "mph": 0.44704,
        "ft/s": 0.3048,
        "m/min": 1 / 60,
    },
)
_family("mg/dL", {"mg/dL": 1.0, "mmol/L": 18.0156})
_family("count/min", {"count/min": 1.0, "bpm": 1.0, "beats/min": 1.0})
_family("s", {"s": 1.0, "ms": 0.001, "min": 60.0, "hr": 3600.0, "h": 3600.0})

_TEMPERATURE: dict[str, tuple[float, float]] = {
    "degC": (1.0, 0.0),
    "°C": (1.0, 0.0),
    "degF": (5 / 9, -32 * 5 / 9),
    "°F": (5 / 9, -32 * 5 / 9),
    "K": (1.0, -273.15),
}
for _name, (_factor, _offset) in _TEMPERATURE.items():
    _LINEAR[_name] = ("degC", _factor, _offset)


def canonical(unit: str | None) -> tuple[str, float, float] | None:
    """(canonical unit, factor, offset) for a unit, or None when it has no known family."""
    if unit is None:
        return None
    return _LINEAR.get(unit) or _LINEAR.get(unit.lower())


def to_canonical(value: float, unit: str | None) -> float | None:
    """The value in its family's canonical unit, or None when that is the value itself (the
    unit is canonical already, or has no known family): readers use COALESCE(canonical, qty)."""
    conv = canonical(unit)
    if conv is None:
        return None
    _, factor, offset = conv
    if factor == 1.0 and offset == 0.0:
        return None
    return value * factor + offset
