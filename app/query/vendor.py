"""The vendor server's read shapes (HealthyApps/health-auto-export-server), so the Grafana
dashboards written for it can point at us: plain JSON arrays of HAE-style documents.

``GET /api/metrics/{name}?from&to&granularity=daily|hourly``: raw points ``{date, qty, units,
source}`` (heart rate ``Min/Avg/Max``, blood pressure ``systolic/diastolic``), or per day/hour the
sum of a cumulative metric and the mean of a discrete one. Days are the user's local days here
(the vendor groups by UTC day). ``from``/``to`` are ISO dates or epoch milliseconds, as Grafana's
``${__from}``/``${__to}`` send them. Sleep comes back as its nightly records.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from app.query.cache import JsonValue
from app.query.errors import InvalidQuery

GRANULARITY = {"daily": "day", "hourly": "hour"}
MAX_DOCUMENTS = 100_000
_RENAME = {
    "unit": "units",
    "meal_time": "mealTime",
    "protection_used": "Protection Used",
    "protection_not_used": "Protection Not Used",
    "unspecified": "Unspecified",
}
_SLEEP = {
    "in_bed": "inBed",
    "total_sleep": "totalSleep",
    "sleep_start": "sleepStart",
    "sleep_end": "sleepEnd",
    "in_bed_start": "inBedStart",
    "in_bed_end": "inBedEnd",
    "sleep_source": "sleepSource",
    "in_bed_source": "inBedSource",
    "unit": "units",
}


def when(value: str | None, field: str) -> str | None:
    """Epoch milliseconds (Grafana) or any form /v1 accepts, as a /v1 bound."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.lstrip("-").isdigit():
        try:
            return datetime.fromtimestamp(int(text) / 1000, UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            raise InvalidQuery(f"`{field}` is out of range", field=field) from None
    return text


def point_document(item: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    """One /v1 raw point in the vendor's shape."""
    out: dict[str, JsonValue] = {"date": item.get("start")}
    for key, value in item.items():
        if key in ("start", "end", "qty_canonical", "context"):
            continue
        out[key.capitalize() if key in ("min", "avg", "max") else _RENAME.get(key, key)] = value
    return out


def bucket_document(item: Mapping[str, JsonValue], metric: str) -> dict[str, JsonValue]:
    """One /v1 bucket as the vendor aggregates: the sum of a cumulative metric, the mean of a
    discrete one, Min/Avg/Max for heart rate, mean systolic/diastolic for blood pressure."""
    out: dict[str, JsonValue] = {"date": item.get("start")}
    if "sum" in item:
        out["qty"] = item["sum"]
    elif "systolic_avg" in item:
        out["systolic"] = item["systolic_avg"]
        out["diastolic"] = item["diastolic_avg"]
    elif metric == "heart_rate":
        out.update({"Min": item.get("min"), "Avg": item.get("avg"), "Max": item.get("max")})
    elif "avg" in item:
        out["qty"] = item["avg"]
    for key in ("unspecified", "protection_used", "protection_not_used"):
        if key in item:
            out[_RENAME[key]] = item[key]
    if "unit" in item:
        out["units"] = item["unit"]
    return out


def sleep_document(record: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    return {_SLEEP.get(key, key): value for key, value in record.items()}
