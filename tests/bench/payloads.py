"""Reproducible request bodies: the big backfill, its duplicate, a 50 % overlap, small syncs."""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec

from tests import hae_generator as gen

_FORMAT = "%Y-%m-%d %H:%M:%S %z"
_DATE_KEYS = ("date", "start", "end", "startDate", "endDate", "timestamp")
# Small syncs live far from the backfill, so they are fresh inserts into their own months.
SMALL_START = gen.T0 + timedelta(days=400)
SMALL_WINDOW = timedelta(minutes=20)


@dataclass
class Body:
    content: bytes
    points: int  # what the report should count as received: metric points + workouts

    @property
    def size(self) -> int:
        return len(self.content)


def encode(payload: dict[str, Any]) -> bytes:
    return msgspec.json.encode(payload)


def count_points(payload: dict[str, Any]) -> int:
    data = payload["data"]
    return sum(len(m["data"]) for m in data.get("metrics", [])) + len(data.get("workouts", []))


def big_bodies(points: int, seed: int) -> tuple[Body, Body, Body]:
    """(fresh, duplicate, overlap).

    ``duplicate`` is the fresh body with one extra unknown top-level key, so its sha256 differs and
    the server really processes every point again instead of answering from the archive.
    ``overlap`` carries the second half of every series and as many new points after it.
    """
    payload = gen.big_payload(points=points, seed=seed)
    fresh = Body(encode(payload), count_points(payload))
    duplicate = Body(b'{"bench_nonce":2,' + fresh.content[1:], fresh.points)
    window = overlap_window(payload, seed + 1)
    return fresh, duplicate, Body(encode(window), count_points(window))


def _parse(value: str) -> datetime:
    return datetime.strptime(value, _FORMAT)  # noqa: DTZ007 - the format has %z


def _times(point: dict[str, Any]) -> list[datetime]:
    return [_parse(point[k]) for k in _DATE_KEYS if isinstance(point.get(k), str)]


def _shifted(point: dict[str, Any], by: timedelta) -> dict[str, Any]:
    out = dict(point)
    for key in _DATE_KEYS:
        if isinstance(out.get(key), str):
            out[key] = gen.fmt_date(_parse(out[key]) + by)
    return out


def overlap_window(payload: dict[str, Any], seed: int) -> dict[str, Any]:
    """Second half of each series plus new points: copies of the first half moved past the end.

    The shift is whole days beyond the series' span, so the new points never meet old ones.
    """
    rng = random.Random(seed)
    data = payload["data"]
    metrics = []
    for series in data.get("metrics", []):
        points = series["data"]
        keep = points[len(points) // 2 :]
        if not keep:
            metrics.append(series)
            continue
        first, last = min(_times(points[0])), max(_times(points[-1]))
        shift = timedelta(days=(last - first).days + 1)
        fresh = [_shifted(p, shift) for p in points[: len(keep)]]
        metrics.append({**series, "data": keep + fresh})
    workouts = data.get("workouts", [])
    kept = workouts[len(workouts) // 2 :]
    new = []
    for i, workout in enumerate(workouts[: len(kept)]):
        start, end = _parse(workout["start"]), _parse(workout["end"])
        new.append(gen.workout_v2(start + timedelta(days=30 + i), duration=end - start, seed=rng))
    return gen.envelope(metrics=metrics, workouts=copy.deepcopy(kept) + new)


def small_bodies(count: int, seed: int) -> list[Body]:
    """``count`` distinct small syncs (~280 points): 20 minutes of heart rate every 5 s, steps
    and active energy per minute, each body its own time window."""
    rng = random.Random(seed)
    bodies = []
    for i in range(count):
        start = SMALL_START + i * SMALL_WINDOW
        minutes = int(SMALL_WINDOW / gen.MINUTE)
        payload = gen.envelope(
            metrics=[
                gen.metric(
                    "heart_rate",
                    "count/min",
                    gen.heart_rate_points(
                        start, int(SMALL_WINDOW / (5 * gen.SECOND)), 5 * gen.SECOND, seed=rng
                    ),
                ),
                gen.metric(
                    "step_count",
                    "count",
                    gen.quantity_points("step_count", "count", start, minutes, seed=rng),
                ),
                gen.metric(
                    "active_energy",
                    "kcal",
                    gen.quantity_points("active_energy", "kcal", start, minutes, seed=rng),
                ),
            ]
        )
        bodies.append(Body(encode(payload), count_points(payload)))
    return bodies
