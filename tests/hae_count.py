"""Independent record counter for Health Auto Export payloads (test oracle).

Deliberately naive and self-contained: it shares no code with the application's parser, so a test
can compare "what the payload contains" with "what the app stored" without the same bug on
both sides. Pure standard library; works on an already json-loaded payload.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Non-metric sections of ``data`` (hae-format.md section 2); each element is one record.
SECTIONS = (
    "workouts",
    "symptoms",
    "ecg",
    "heartRateNotifications",
    "stateOfMind",
    "medications",
    "cycleTracking",
)


def _body(payload: dict[str, Any]) -> dict[str, Any]:
    """Accept both ``{"data": {...}}`` and a bare ``{metrics, workouts, ...}`` body."""
    if not isinstance(payload, dict):
        raise TypeError(f"payload must be a dict, got {type(payload).__name__}")
    data = payload.get("data")
    return data if isinstance(data, dict) else payload


def _length(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0


def count_records(payload: dict[str, Any]) -> dict[str, int]:
    """Records per section: one key per metric name (points in its ``data``; summed when a name
    repeats; 0 when ``data`` is empty/null/missing), plus every name in ``SECTIONS`` (list length,
    0 when absent or null). Metric keys come first, in payload order."""
    body = _body(payload)
    counts: dict[str, int] = {}
    for entry in body.get("metrics") or []:
        name = str(entry.get("name"))
        counts[name] = counts.get(name, 0) + _length(entry.get("data"))
    for section in SECTIONS:
        counts[section] = counts.get(section, 0) + _length(body.get(section))
    return counts


def total(payload: dict[str, Any]) -> int:
    """Sum of ``count_records`` over all sections."""
    return sum(count_records(payload).values())


def count_file(path: str | Path) -> dict[str, int]:
    """``count_records`` of a JSON file."""
    return count_records(json.loads(Path(path).read_text(encoding="utf-8")))
