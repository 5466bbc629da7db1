"""Deterministic generator of realistic Health Auto Export (HAE) REST payloads for tests.

Shapes follow /work/shared/hae-format.md (section numbers in comments). Pure standard library.

* Every function takes timezone-aware datetimes and a ``seed`` (an int, or a ``random.Random``
  to share one stream across calls) and returns plain JSON-ready dicts/lists.
* ``*_points`` functions return a *list of metric points*; wrap them with
  ``metric(name, units, points)`` and put metrics in ``envelope(metrics=[...])``.
* Record builders (sleep_aggregated, workouts, ECG, notifications, symptoms, ...) take
  ``**overrides`` keyed by the HAE field name (camelCase, e.g. ``name="Yoga"``,
  ``isCycleStart=True``) that replace/add fields; pass ``OMIT`` as a value to remove a field.
* ``restyle_dates(payload, fmt_date_12h)`` re-renders every date string (12-hour variants).
* ``source=OMIT`` leaves the ``source`` key out of points; ``source=None`` emits ``"source": null``.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any, TypedDict, Unpack

Json = dict[str, Any]
OMIT: Any = object()  # sentinel: "leave this key out"

TZ = timezone(timedelta(hours=11))  # +1100, as in the namtonthat samples
T0 = datetime(2023, 1, 20, 0, 0, 0, tzinfo=TZ)
WATCH = "Jane\u2019s Apple\u00a0Watch"  # real names carry U+2019 and U+00A0
PHONE = "Jane\u2019s iPhone"
SECOND, MINUTE, HOUR, DAY = (
    timedelta(seconds=1),
    timedelta(minutes=1),
    timedelta(hours=1),
    timedelta(days=1),
)
ECG_HZ = 512.6171875


# --- dates (section 3) -----------------------------------------------------------------------


def _aware(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime not allowed: {dt!r}")
    return dt


def fmt_date(dt: datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss Z`` e.g. ``2023-01-20 00:18:00 +1100``."""
    return _aware(dt).strftime("%Y-%m-%d %H:%M:%S %z")


def fmt_date_12h(dt: datetime, narrow_nbsp: bool = True) -> str:
    """12-hour clock as sent when 24-Hour Time is off: ``2023-01-20 3:04:05\u202fPM +1100``."""
    _aware(dt)
    sep = "\u202f" if narrow_nbsp else " "
    return f"{dt:%Y-%m-%d} {dt.hour % 12 or 12}:{dt:%M:%S}{sep}{'PM' if dt.hour >= 12 else 'AM'} {dt:%z}"


def epoch(dt: datetime) -> float:
    """Unix epoch seconds as float (ECG voltages, HRV beats, notification series)."""
    return _aware(dt).timestamp()


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4}$")


def restyle_dates(obj: Any, fmt: Callable[[datetime], str] = fmt_date_12h) -> Any:
    """Deep copy of ``obj`` with every ``yyyy-MM-dd HH:mm:ss Z`` string re-rendered by ``fmt``."""
    if isinstance(obj, dict):
        return {k: restyle_dates(v, fmt) for k, v in obj.items()}
    if isinstance(obj, list):
        return [restyle_dates(v, fmt) for v in obj]
    if isinstance(obj, str) and _DATE_RE.match(obj):
        return fmt(datetime.strptime(obj, "%Y-%m-%d %H:%M:%S %z"))
    return obj


# --- plumbing --------------------------------------------------------------------------------


def _rng(seed: int | random.Random) -> random.Random:
    return seed if isinstance(seed, random.Random) else random.Random(seed)


def _rec(base: Json, overrides: dict[str, Any]) -> Json:
    merged = {**base, **overrides}
    return {k: v for k, v in merged.items() if v is not OMIT}


def _q(qty: float, units: str) -> Json:
    return {"qty": qty, "units": units}


def _uuid(rng: random.Random, *salt: object) -> str:
    """Upper-case v4-style UUID, deterministic in (rng state, salt)."""
    digest = hashlib.sha256(f"{rng.getrandbits(64)}|{salt}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4)).upper()


def envelope(**sections: Any) -> Json:
    """``{"data": {...}}``; sections: metrics, workouts, symptoms, ecg, heartRateNotifications,
    stateOfMind, medications, cycleTracking (any key is passed through)."""
    return {"data": dict(sections)}


def metric(name: str, units: str, points: Iterable[Json]) -> Json:
    return {"name": name, "units": units, "data": list(points)}


class PointOpts(TypedDict, total=False):
    """Options shared by every ``*_points`` function."""

    source: Any  # str, None (-> "source": null) or OMIT (no key); default per function
    with_start_end: bool  # add 2025+ ``start``/``end`` (= date, date + step) as in A7D
    seed: int | random.Random


Make = Callable[[random.Random, int, datetime], Json]


def _series(
    start: datetime, count: int, step: timedelta, opts: PointOpts, make: Make, source: Any = WATCH
) -> list[Json]:
    rng, src = _rng(opts.get("seed", 0)), opts.get("source", source)
    out = []
    for i in range(count):
        dt = start + i * step
        p = {"date": fmt_date(dt), **make(rng, i, dt)}
        if opts.get("with_start_end", False):
            p["start"], p["end"] = fmt_date(dt), fmt_date(dt + step)
        if src is not OMIT:
            p["source"] = src
        out.append(p)
    return out


# --- metric points (section 4.1) ---------------------------------------------------------------

# (lo, hi, integer) by metric name, else by units; floats keep full 17-digit precision like HAE.
_BY_NAME: dict[str, tuple[float, float, bool]] = {
    "step_count": (0, 130, True),
    "active_energy": (0.05, 12.0, False),
    "basal_energy_burned": (1.0, 1.5, False),
    "apple_stand_hour": (0, 1, True),
    "flights_climbed": (0, 3, True),
    "walking_running_distance": (0.0, 0.09, False),
    "resting_heart_rate": (48, 70, True),
    "walking_heart_rate_average": (80, 110, False),
    "respiratory_rate": (11.0, 20.0, False),
    "blood_oxygen_saturation": (92, 100, True),
    "weight_body_mass": (60.0, 90.0, False),
}
_BY_UNITS: dict[str, tuple[float, float, bool]] = {
    "count": (0, 100, True),
    "count/min": (50, 120, True),
    "%": (90.0, 100.0, False),
    "kcal": (0.1, 10.0, False),
    "kJ": (0.4, 42.0, False),
    "ms": (20.0, 110.0, False),
    "min": (0, 1, True),
    "kg": (60.0, 90.0, False),
    "lb": (130.0, 200.0, False),
    "dBASPL": (35.0, 85.0, False),
    "mi": (0.0, 0.1, False),
    "km": (0.0, 0.15, False),
    "degC": (35.5, 37.5, False),
    "degF": (96.0, 99.5, False),
    "g": (0.5, 60.0, False),
    "mg": (1.0, 200.0, False),
}


def quantity_points(
    name: str,
    units: str,
    start: datetime,
    count: int,
    step: timedelta = MINUTE,
    **opts: Unpack[PointOpts],
) -> list[Json]:
    """``{date, qty, source?}``; value range chosen by ``name``, else by ``units``."""
    lo, hi, integer = _BY_NAME.get(name) or _BY_UNITS.get(units, (0.0, 100.0, False))

    def make(r: random.Random, i: int, dt: datetime) -> Json:
        return {"qty": r.randint(int(lo), int(hi)) if integer else r.uniform(lo, hi)}

    return _series(start, count, step, opts, make)


def heart_rate_points(
    start: datetime,
    count: int,
    step: timedelta = SECOND,
    *,
    context: str | None = None,
    aggregated: bool | None = None,
    **opts: Unpack[PointOpts],
) -> list[Json]:
    """``{date, Min, Avg, Max, source?, context?}`` (units ``count/min``). Raw samples (default
    when ``step`` < 1 min) have ``Min==Avg==Max``; buckets have ``Min<=Avg<=Max``."""
    spread = step >= MINUTE if aggregated is None else aggregated
    hr = 72

    def make(r: random.Random, i: int, dt: datetime) -> Json:
        nonlocal hr
        hr = min(185, max(45, hr + r.randint(-3, 3) + round((72 - hr) / 10)))  # mean-reverting
        lo, hi = (hr - r.randint(0, 6), hr + r.randint(0, 9)) if spread else (hr, hr)
        p: Json = {"Min": lo, "Avg": (lo + hi + hr) / 3 if spread else hr, "Max": hi}
        return p if context is None else {**p, "context": context}

    return _series(start, count, step, opts, make)


def blood_pressure_points(
    start: datetime, count: int, step: timedelta = 12 * HOUR, **opts: Unpack[PointOpts]
) -> list[Json]:
    """``{date, systolic, diastolic}`` — metric ``blood_pressure``, units ``mmHg``."""

    def make(r: random.Random, i: int, dt: datetime) -> Json:
        return {"systolic": r.randint(105, 140), "diastolic": r.randint(62, 90)}

    return _series(start, count, step, opts, make)


def blood_glucose_points(
    start: datetime,
    count: int,
    step: timedelta = 4 * HOUR,
    *,
    units: str = "mg/dL",
    **opts: Unpack[PointOpts],
) -> list[Json]:
    """``{date, qty, mealTime}``; mealTime cycles Before Meal / After Meal / Unspecified."""
    scale = 1 / 18.0 if units == "mmol/L" else 1.0
    meals = ("Before Meal", "After Meal", "Unspecified")

    def make(r: random.Random, i: int, dt: datetime) -> Json:
        return {"qty": r.uniform(70, 180) * scale, "mealTime": meals[i % 3]}

    return _series(start, count, step, opts, make, PHONE)


def insulin_points(
    start: datetime, count: int, step: timedelta = 3 * HOUR, **opts: Unpack[PointOpts]
) -> list[Json]:
    """``{date, qty, reason}`` (reason alternates Bolus/Basal) — ``insulin_delivery``, ``IU``."""

    def make(r: random.Random, i: int, dt: datetime) -> Json:
        return {"qty": r.uniform(0.5, 8.0), "reason": ("Bolus", "Basal")[i % 2]}

    return _series(start, count, step, opts, make, PHONE)


def hygiene_points(
    start: datetime,
    count: int,
    step: timedelta = 3 * HOUR,
    *,
    kind: str = "handwashing",
    **opts: Unpack[PointOpts],
) -> list[Json]:
    """``{date, qty (s), value Complete|Incomplete}`` for ``handwashing``/``toothbrushing``."""
    lo, hi, goal = (10, 40, 20) if kind == "handwashing" else (60, 150, 120)

    def make(r: random.Random, i: int, dt: datetime) -> Json:
        qty = r.uniform(lo, hi)
        return {"qty": qty, "value": "Complete" if qty >= goal else "Incomplete"}

    return _series(start, count, step, opts, make)


def sexual_activity_points(
    start: datetime, count: int, step: timedelta = DAY, **opts: Unpack[PointOpts]
) -> list[Json]:
    """``{date, Unspecified, Protection Used, Protection Not Used}`` counts; ``date`` is always
    local midnight (#72), so ``step`` is at least one day."""
    keys = ("Unspecified", "Protection Used", "Protection Not Used")

    def make(r: random.Random, i: int, dt: datetime) -> Json:
        c = [r.randint(0, 1), r.randint(0, 2), r.randint(0, 1)]
        c[i % 3] = max(1, c[i % 3])
        return dict(zip(keys, c, strict=True))

    day0 = start.replace(hour=0, minute=0, second=0, microsecond=0)
    return _series(day0, count, max(step, DAY), opts, make, PHONE)


def hrv_points(
    start: datetime,
    count: int,
    step: timedelta = 2 * HOUR,
    *,
    beats: int = 8,
    **opts: Unpack[PointOpts],
) -> list[Json]:
    """``heart_rate_variability`` (``ms``) points carrying ``heartbeatSeries`` [{date: epoch float,
    timeSinceStart, precededByGap}] (app 9.x, A7D)."""

    def make(r: random.Random, i: int, dt: datetime) -> Json:
        t, series = 0.0, []
        for b in range(beats):
            gap = b > 0 and r.random() < 0.05
            t += r.uniform(0.7, 1.2) + (r.uniform(1, 3) if gap else 0)
            series.append({"date": epoch(dt) + t, "timeSinceStart": t, "precededByGap": gap})
        return {"qty": r.uniform(20, 110), "heartbeatSeries": series}

    return _series(start, count, step, opts, make)


# --- sleep (section 4.2) ----------------------------------------------------------------------

_COMMON = ("date", "asleep", "inBed", "sleepStart", "sleepEnd")
_V2 = (*_COMMON, "core", "deep", "rem", "awake", "source")
SLEEP_FIELDS: dict[int, tuple[str, ...]] = {
    1: (*_COMMON, "sleepSource", "inBedStart", "inBedEnd", "inBedSource"),
    2: _V2,
    3: (*_V2, "inBedStart", "inBedEnd"),
    4: (*_V2, "inBedStart", "inBedEnd", "totalSleep"),
}
DEFAULT_BEDTIME = datetime(2023, 1, 19, 23, 0, 0, tzinfo=TZ)


def _night(r: random.Random, bedtime: datetime) -> Json:
    bed_start = bedtime + timedelta(minutes=r.randint(-30, 30), seconds=r.randint(0, 59))
    sleep_start = bed_start + timedelta(minutes=r.randint(2, 20))
    x = {"core": r.uniform(3, 4.5), "deep": r.uniform(0.5, 1.5), "rem": r.uniform(1, 2)}
    x["awake"] = r.uniform(0.05, 0.5)
    sleep_end = sleep_start + timedelta(hours=sum(x.values()))
    bed_end = sleep_end + timedelta(minutes=r.randint(0, 20))
    return {**x, "bed": (bed_start, bed_end), "sleep": (sleep_start, sleep_end)}


def sleep_aggregated(
    variant: int = 4,
    start: datetime = DEFAULT_BEDTIME,
    nights: int = 1,
    *,
    date_only: bool = False,
    seed: int | random.Random = 0,
    **overrides: Any,
) -> list[Json]:
    """Aggregated ``sleep_analysis`` points (units ``hr``) with exactly the field set of 4.2
    variant 1 (pre-6.6.2), 2 (6.6.2+), 3 (2024: +inBedStart/End) or 4 (late 2025: +totalSleep).
    ``start`` = first bedtime; ``date_only`` renders ``date`` as ``yyyy-MM-dd`` (docs-only form);
    ``overrides`` (field names, e.g. ``source=...``, ``asleep=0``) apply to every night."""
    r, out = _rng(seed), []
    for n in range(nights):
        x = _night(r, start + n * DAY)
        (bed_start, bed_end), (sleep_start, sleep_end) = x["bed"], x["sleep"]
        staged = x["core"] + x["deep"] + x["rem"]
        wake_day = sleep_end.replace(hour=0, minute=0, second=0, microsecond=0)
        # variants 1-3: a datetime inside the night (real samples); 4: wake-up day's midnight
        date = wake_day if variant == 4 else sleep_start + timedelta(minutes=r.randint(0, 90))
        asleep = staged if variant == 1 else 0  # "asleep" = unstaged sleep
        full = {
            **{k: x[k] for k in ("core", "deep", "rem", "awake")},
            "date": f"{wake_day:%Y-%m-%d}" if date_only else fmt_date(date),
            "asleep": asleep,
            "totalSleep": staged + asleep,
            "inBed": (bed_end - bed_start) / HOUR,
            "sleepStart": fmt_date(sleep_start),
            "sleepEnd": fmt_date(sleep_end),
            "inBedStart": fmt_date(bed_start),
            "inBedEnd": fmt_date(bed_end),
            "source": f"{PHONE}|{WATCH}",
            "sleepSource": WATCH,
            "inBedSource": "iPhone",
        }
        out.append(_rec({k: full[k] for k in SLEEP_FIELDS[variant]}, overrides))
    return out


def sleep_segments(
    start: datetime = DEFAULT_BEDTIME,
    nights: int = 1,
    *,
    in_bed_label: str = "InBed",
    stages: tuple[str, ...] = ("Core", "Deep", "Core", "REM", "Awake"),
    extra: Json | None = None,
    **opts: Unpack[PointOpts],
) -> list[Json]:
    """Unaggregated ``sleep_analysis`` points ``{startDate, endDate, qty (hr), value, source}``:
    per night one ``InBed`` segment overlapping stage segments that tile the sleep interval.
    ``with_start_end`` adds ``date``/``start``/``end`` (A7D); ``extra`` fields are added to every
    point (e.g. ``{"date": None}`` as in the 2021 IL fixture)."""
    r, src, out = _rng(opts.get("seed", 0)), opts.get("source", WATCH), []

    def seg(a: datetime, b: datetime, value: str) -> None:
        p: Json = {"startDate": fmt_date(a), "endDate": fmt_date(b), "qty": (b - a) / HOUR}
        p["value"] = value
        if opts.get("with_start_end"):
            p.update(date=fmt_date(a), start=fmt_date(a), end=fmt_date(b))
        if src is not OMIT:
            p["source"] = src
        out.append({**p, **(extra or {})})

    for n in range(nights):
        x = _night(r, start + n * DAY)
        (bed_start, bed_end) = x["bed"]
        seg(bed_start, bed_end, in_bed_label)
        (t, sleep_end), i = x["sleep"], 0
        while t < sleep_end:
            nxt = min(sleep_end, t + timedelta(minutes=r.randint(5, 60), seconds=r.randint(0, 59)))
            seg(t, nxt, stages[i % len(stages)])
            t, i = nxt, i + 1
    return out


# --- workouts (section 5) ---------------------------------------------------------------------

WORKOUT_START = datetime(2023, 1, 20, 7, 30, 0, tzinfo=TZ)


def _track(r: random.Random, start: datetime, duration: timedelta, step: timedelta) -> list[Json]:
    """GPS-ish path near Sydney: one fix per ``step`` (speed m/s, course deg, altitude m)."""
    lat, lon, alt = -33.8688 + r.uniform(-0.05, 0.05), 151.2093 + r.uniform(-0.05, 0.05), 20.0
    course, out = r.uniform(0, 360), []
    for i in range(int(duration / step) + 1):
        speed, course = r.uniform(2.2, 3.4), (course + r.uniform(-8, 8)) % 360
        d = speed * step.total_seconds() / 111_320
        lat += d * math.cos(math.radians(course))
        lon += d * math.sin(math.radians(course)) / math.cos(math.radians(lat))
        alt += r.uniform(-0.4, 0.4)
        out.append({"dt": start + i * step, "lat": lat, "lon": lon, "alt": alt})
        out[-1].update(course=course, speed=speed)
    return out


def _hr_walk(r: random.Random, n: int, base: int = 95) -> list[int]:
    hr, out = base, []
    for _ in range(n):
        hr = min(185, max(60, hr + r.randint(-4, 4) + round((base - hr) / 8)))
        out.append(hr)
    return out


def _bpm(dt: datetime, qty: float) -> Json:
    return {"date": fmt_date(dt), "qty": qty, "units": "bpm"}


def workout_v1(
    start: datetime = WORKOUT_START,
    *,
    duration: timedelta = 30 * MINUTE,
    is_indoor: bool = False,
    hr_step: timedelta = 6 * SECOND,
    route_step: timedelta = SECOND,
    seed: int | random.Random = 0,
    **overrides: Any,
) -> Json:
    """Legacy v1 workout (5.2), name "Walking": no id/duration; ``{qty,units}`` summaries,
    ``elevation`` {ascent,descent,units}, ``heartRateData``/``heartRateRecovery``
    [{date,qty,units:"bpm"}] (recovery: 24 samples every 5 s after ``end``), ``route``
    [{lat,lon,altitude,timestamp}] per ``route_step`` (``[]`` when indoor)."""
    r, end, hours = _rng(seed), start + duration, duration / HOUR
    hr = _hr_walk(r, max(1, int(duration / hr_step)))
    rec = _hr_walk(r, 24, base=hr[-1])
    active, steps, kmh = (
        r.uniform(180, 320) * hours,
        int(r.uniform(5e3, 6.5e3) * hours),
        r.uniform(4, 6),
    )
    summaries = {
        "totalEnergy": (active * 1.5, "kcal"),
        "activeEnergy": (active, "kcal"),
        "avgHeartRate": (sum(hr) / len(hr), "bpm"),
        "maxHeartRate": (max(hr), "bpm"),
        "stepCount": (steps, "steps"),
        "stepCadence": (steps / (hours * 60), "spm"),
        "distance": (kmh * hours, "km"),
        "speed": (kmh, "km/hr"),
        "flightsClimbed": (r.randint(0, 3), "count"),
        "intensity": (r.uniform(3.5, 5), "MET"),
        "temperature": (r.uniform(15, 28), "degC"),
        "humidity": (r.randint(30, 80), "%"),
        "totalSwimmingStrokeCount": (0, "count"),
        "swimCadence": (0, "spm"),
    }
    route = [] if is_indoor else _track(r, start, duration, route_step)
    base = {
        "name": "Walking",
        "start": fmt_date(start),
        "end": fmt_date(end),
        "isIndoor": is_indoor,
        **{k: _q(*v) for k, v in summaries.items()},
        "elevation": {"ascent": r.uniform(0, 30), "descent": r.uniform(0, 30), "units": "m"},
        "heartRateData": [_bpm(start + i * hr_step, v) for i, v in enumerate(hr)],
        "heartRateRecovery": [_bpm(end + (i + 1) * 5 * SECOND, v) for i, v in enumerate(rec)],
        "route": [
            {"lat": p["lat"], "lon": p["lon"], "altitude": p["alt"], "timestamp": fmt_date(p["dt"])}
            for p in route
        ],
    }
    return _rec(base, overrides)


def workout_v2(
    start: datetime = WORKOUT_START,
    *,
    duration: timedelta = 30 * MINUTE,
    location: str = "Outdoor",
    metric_step: timedelta = MINUTE,
    route_step: timedelta = SECOND,
    source: str = WATCH,
    seed: int | random.Random = 0,
    **overrides: Any,
) -> Json:
    """v2 workout (5.1), name "Outdoor Run": upper-case UUID ``id``, ``duration`` (s),
    ``{qty,units}`` summaries, ``heartRate`` {min,avg,max}, ``heartRateData``/``heartRateRecovery``
    [{date,Min,Avg,Max,units,source}], quantity series ``activeEnergy``/``stepCount``/
    ``walkingAndRunningDistance`` [{date,qty,units,source}] per ``metric_step``, ``route`` (10-field
    v2 points per ``route_step``, only when ``location == "Outdoor"``), ``metadata`` {}."""
    r, end = _rng(seed), start + duration
    wid = _uuid(r, "workout", start, duration)
    n = max(1, math.ceil(duration / metric_step))
    hr, per = _hr_walk(r, n, base=120), metric_step / HOUR
    tail = {"units": "count/min", "source": source}

    def hr_pt(dt: datetime, v: int, spread: bool) -> Json:
        lo, hi = (v - r.randint(0, 5), v + r.randint(0, 6)) if spread else (v, v)
        return {"date": fmt_date(dt), "Min": lo, "Avg": (lo + v + hi) / 3, "Max": hi, **tail}

    def series(units: str, lo: float, hi: float) -> list[Json]:
        dts = [start + i * metric_step for i in range(n)]
        return [
            {"date": fmt_date(dt), "qty": r.uniform(lo, hi) * per, **tail, "units": units}
            for dt in dts
        ]

    energy, steps, dist = (
        series("kcal", 500, 800),
        series("steps", 9000, 10500),
        series("km", 9, 12),
    )
    summaries = {
        "activeEnergyBurned": (sum(p["qty"] for p in energy), "kcal"),
        "distance": (sum(p["qty"] for p in dist), "km"),
        "intensity": (r.uniform(6, 11), "kcal/hr·kg"),
        "temperature": (r.uniform(12, 28), "degC"),
        "humidity": (r.randint(30, 85), "%"),
        "elevationUp": (r.uniform(0, 60), "m"),
    }
    hr_stats = {"min": min(hr), "avg": sum(hr) / n, "max": max(hr)}
    fixes = _track(r, start, duration, route_step) if location == "Outdoor" else []
    route = [
        {"latitude": p["lat"], "longitude": p["lon"], "altitude": p["alt"], "course": p["course"]}
        | {"courseAccuracy": r.uniform(5, 30), "horizontalAccuracy": r.uniform(2, 8)}
        | {"verticalAccuracy": r.uniform(2, 6), "speed": p["speed"]}
        | {"speedAccuracy": r.uniform(0.2, 1.5), "timestamp": fmt_date(p["dt"])}
        for p in fixes
    ]
    base = {
        "id": wid,
        "name": "Outdoor Run",
        "start": fmt_date(start),
        "end": fmt_date(end),
        "duration": duration.total_seconds(),
        "location": location,
        "isIndoor": location == "Indoor",
        **{k: _q(*v) for k, v in summaries.items()},
        "heartRate": {k: _q(v, "count/min") for k, v in hr_stats.items()},
        "heartRateData": [hr_pt(start + i * metric_step, v, True) for i, v in enumerate(hr)],
        "heartRateRecovery": [hr_pt(end + i * MINUTE, v, False) for i, v in enumerate(hr[-3:])],
        "activeEnergy": energy,
        "stepCount": steps,
        "walkingAndRunningDistance": dist,
        "route": route or OMIT,
        "metadata": {},
    }
    return _rec(base, overrides)


# --- other sections (section 6); overrides use the HAE field names -----------------------------

EVENT_TIME = datetime(2023, 1, 20, 14, 5, 0, tzinfo=TZ)


def ecg_record(
    start: datetime = EVENT_TIME,
    *,
    seconds: float = 30.0,
    frequency: float = ECG_HZ,
    samples: int | None = None,
    seed: int | random.Random = 0,
    **overrides: Any,
) -> Json:
    """Real-world ECG (#66/#69): ``classification`` "Sinus Rhythm", no ``severity`` unless given as
    an override, ``voltageMeasurements`` [{date: epoch float, voltage, units:"mcV"}] at
    1/frequency steps (default round(30 s * 512.6171875 Hz) = 15,379; ``samples`` for fewer),
    ``source`` "ECG"."""
    r, t0 = _rng(seed), epoch(start)
    n = round(seconds * frequency) if samples is None else samples
    bpm = r.randint(58, 90)
    beat = frequency * 60 / bpm

    def volt(i: int) -> float:  # noise + R peak + T wave, in microvolts
        ph = (i % beat) / beat
        qrs, t_wave = math.exp(-(((ph - 0.3) / 0.012) ** 2)), math.exp(-(((ph - 0.6) / 0.05) ** 2))
        return r.gauss(0, 12) + 900 * qrs + 150 * t_wave

    base = {
        "start": fmt_date(start),
        "end": fmt_date(start + timedelta(seconds=seconds)),
        "classification": "Sinus Rhythm",
        "averageHeartRate": bpm,
        "numberOfVoltageMeasurements": n,
        "voltageMeasurements": [
            {"date": t0 + i / frequency, "voltage": volt(i), "units": "mcV"} for i in range(n)
        ],
        "samplingFrequency": frequency,
        "source": "ECG",
    }
    return _rec(base, overrides)


def heart_rate_notification(
    start: datetime = EVENT_TIME,
    *,
    shape: str = "real",
    kind: str = "high",
    threshold: float | None = None,
    count: int = 6,
    seed: int | random.Random = 0,
    **overrides: Any,
) -> Json:
    """``shape="real"`` (#68, UG): ``heartNotification`` ("<kind>_heart_rate_notification"),
    ``threshold``, ``start``, ``end``, ``source`` {name,identifier}, ``heartRateData`` [{heartRate,
    hrUnits, timestamp{start,end}}], ``hrvData`` [{hrv, hrvUnits, timestamp}] (hrvData keys are a
    guess [?]); timestamps are epoch floats. ``shape="documented"`` (WIKI/HELP-HRN): ``start``,
    ``end``, ``threshold``, ``heartRate`` [{hr, units:"bpm", timestamp{start,end,interval{duration,
    units:"s"}}}], ``heartRateVariation`` [{hrv, units:"ms", timestamp}] with date strings.
    ``kind`` high|low|irregular (irregular has no threshold); ``count`` 5-minute HR windows."""
    r, win = _rng(seed), 5 * MINUTE
    if threshold is None and kind != "irregular":
        threshold = 120 if kind == "high" else 40
    lo, hi = {"high": (121, 160), "low": (32, 39)}.get(kind, (50, 110))
    wins = [(start + i * win, start + (i + 1) * win) for i in range(count)]
    wins += wins[:: max(1, count // 2)]  # the tail are HRV windows
    base: Json = {"start": fmt_date(start), "end": fmt_date(start + count * win)}
    base["threshold"] = OMIT if threshold is None else threshold
    ts: list[Json]
    if shape == "real":
        ts = [{"start": epoch(a), "end": epoch(b)} for a, b in wins]
        base["heartNotification"] = f"{kind}_heart_rate_notification"
        base["source"] = {"name": WATCH, "identifier": f"com.apple.health.{_uuid(r, kind, start)}"}
        hr_key, hr_units, hrv_key, hrv_units = "heartRateData", "hrUnits", "hrvData", "hrvUnits"
        hr_name, hr_unit = "heartRate", "count/min"
    elif shape == "documented":
        ts = [
            {"start": fmt_date(a), "end": fmt_date(b)}
            | {"interval": {"duration": (b - a) / SECOND, "units": "s"}}
            for a, b in wins
        ]
        hr_key, hr_units, hrv_key, hrv_units = "heartRate", "units", "heartRateVariation", "units"
        hr_name, hr_unit = "hr", "bpm"
    else:
        raise ValueError(f"unknown shape {shape!r}")
    base[hr_key] = [
        {hr_name: r.randint(lo, hi), hr_units: hr_unit, "timestamp": t} for t in ts[:count]
    ]
    base[hrv_key] = [
        {"hrv": r.uniform(15, 80), hrv_units: "ms", "timestamp": t} for t in ts[count:]
    ]
    return _rec(base, overrides)


def symptom(start: datetime = EVENT_TIME, end: datetime | None = None, **overrides: Any) -> Json:
    """``{start, end, name, severity, userEntered, source}``; point-in-time when ``end`` is None."""
    base: Json = {"start": fmt_date(start), "end": fmt_date(end or start), "name": "Headache"}
    base |= {"severity": "Mild", "userEntered": True, "source": PHONE}
    return _rec(base, overrides)


_VALENCE: tuple[str, ...] = ("very_unpleasant", "unpleasant", "slightly_unpleasant", "neutral")
_VALENCE += ("slightly_pleasant", "pleasant", "very_pleasant")


def state_of_mind(
    start: datetime = EVENT_TIME,
    *,
    valence: float = 0.45,
    seed: int | random.Random = 0,
    **overrides: Any,
) -> Json:
    """``{id, start, end, kind, labels, associations, valence, valenceClassification, metadata}``;
    ``valenceClassification`` is a string (#69) derived from ``valence`` in [-1, 1]. The spelling
    of ``kind``/``labels``/``associations`` values is a guess [?]."""
    base: Json = {
        "id": _uuid(_rng(seed), "mind", start),
        "start": fmt_date(start),
        "end": fmt_date(start),
    }
    base |= {"kind": "momentary_emotion", "labels": ["happy", "calm"], "associations": ["work"]}
    base |= {
        "valence": valence,
        "valenceClassification": _VALENCE[min(6, int((valence + 1) * 3.5))],
    }
    return _rec({**base, "metadata": {}}, overrides)


def medication(
    start: datetime = EVENT_TIME, *, scheduled: datetime | None = None, **overrides: Any
) -> Json:
    """``{displayText, nickname, start, end, scheduledDate, status, isArchived, dosage, codings}``
    (no ``form``: never emitted in real data, #66/#67). ``scheduled`` defaults to the full hour;
    drop optional fields with e.g. ``nickname=OMIT``."""
    sched = scheduled or start.replace(minute=0, second=0, microsecond=0)
    rxnorm = {"code": "310965", "system": "http://www.nlm.nih.gov/research/umls/rxnorm"}
    base = {
        "displayText": "Ibuprofen 200 mg Oral Tablet",
        "nickname": "Ibuprofen",
        "start": fmt_date(start),
        "end": fmt_date(start),
        "scheduledDate": fmt_date(sched),
        "status": "Taken",
        "isArchived": False,
        "dosage": 1,
        "codings": [{**rxnorm, "version": "2024-01"}],
    }
    return _rec(base, overrides)


def cycle_tracking(
    start: datetime = EVENT_TIME, end: datetime | None = None, **overrides: Any
) -> Json:
    """``{start, end, name, value}`` (default a "Sexual Activity" / "Protection Used" event, #72);
    add ``isCycleStart`` via overrides, e.g. ``name="Menstrual Flow", value="Medium",
    isCycleStart=True``."""
    base = {"start": fmt_date(start), "end": fmt_date(end or start), "name": "Sexual Activity"}
    return _rec({**base, "value": "Protection Used"}, overrides)


# --- load -------------------------------------------------------------------------------------


def big_payload(points: int = 200_000, seed: int = 0, start: datetime = T0) -> Json:
    """Large metrics+workouts envelope: per-second ``heart_rate``, minute ``step_count`` and
    ``active_energy`` (15 % each), unaggregated sleep segments (one night per 200k points), a 45-min
    v2 run and a 30-min v1 walk, both with per-second routes. Metric points sum to exactly
    ``points`` once ``points`` exceeds the sleep segment count (~30 per night)."""
    r = random.Random(seed)
    minute_n = points * 15 // 100
    sleep = sleep_segments(start - HOUR, nights=1 + points // 200_000, seed=r)
    hr_n = max(0, points - 2 * minute_n - len(sleep))
    metrics = [
        metric("heart_rate", "count/min", heart_rate_points(start, hr_n, seed=r)),
        metric(
            "step_count", "count", quantity_points("step_count", "count", start, minute_n, seed=r)
        ),
        metric(
            "active_energy",
            "kcal",
            quantity_points("active_energy", "kcal", start, minute_n, seed=r),
        ),
        metric("sleep_analysis", "hr", sleep),
    ]
    workouts = [
        workout_v2(start + 7 * HOUR, duration=45 * MINUTE, seed=r),
        workout_v1(start + 18 * HOUR, duration=30 * MINUTE, seed=r),
    ]
    return envelope(metrics=metrics, workouts=workouts)
