"""Dates and numbers as phones write them (hae-format.md 3 and 8): 12-hour times with the day
period of the phone's language, ISO 8601, epoch seconds, and numbers sent as strings are stored
at the right instant, offset and value; what is still unreadable rejects only its point."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import msgspec

from app.ingest.decode import wire
from app.ingest.normalise import dates, fast
from app.ingest.normalise.common import Context, Reject
from app.ingest.normalise.metrics import QUANTITY_COLUMNS
from app.ingest.types import PointError, Rows
from tests import hae_generator as g

Writer = tuple[int, dict[str, str]]
NNBSP, NBSP = "\u202f", "\u00a0"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


async def post(client: httpx.AsyncClient, headers: dict[str, str], payload: Any) -> Any:
    response = await client.post("/v1/ingest", json=payload, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def by_index(report: Any) -> dict[int, tuple[str, str]]:
    return {e["index"]: (e["field"], e["reason"]) for e in report["errors"]}


# (date as sent, the instant, the offset in minutes): one per language and spacing.
ACCEPTED_DATES = [
    (f"2023-01-20 1:23:45{NNBSP}PM -0800", utc(2023, 1, 20, 21, 23, 45), -480),  # en-US
    ("2023-01-20 1:23:45 pm +0000", utc(2023, 1, 20, 13, 23, 45), 0),  # en-GB, en-AU
    (f"2023-01-20 12:05:00{NNBSP}a.m. -0500", utc(2023, 1, 20, 5, 5), -300),  # en-CA, 00:05
    (f"2023-01-20 1:23:45{NNBSP}nachm. +0100", utc(2023, 1, 20, 12, 23, 45), 60),  # de, older
    ("2023-01-20 11:00:00 vorm. +0100", utc(2023, 1, 20, 10, 0), 60),  # de, older
    (f"2023-01-20 4:10:00{NBSP}PM +0100", utc(2023, 1, 20, 15, 10), 60),  # de, fr, it
    (f"2023-01-20 1:05:00{NNBSP}p.{NBSP}m. +0100", utc(2023, 1, 20, 12, 5), 60),  # es
    ("2023-01-20 12:30:00 a. m. -0600", utc(2023, 1, 20, 6, 30), -360),  # es-MX, 00:30
    ("2023-01-20 9:15:00 p.m. +0100", utc(2023, 1, 20, 20, 15), 60),  # nl
    ("2023-01-20 3:04:05 da tarde +0000", utc(2023, 1, 20, 15, 4, 5), 0),  # pt-PT wide
    ("2023-01-20 3:04:05 da manhã +0000", utc(2023, 1, 20, 3, 4, 5), 0),  # pt-PT wide
    ("2023-01-20 午後1:23:45 +0900", utc(2023, 1, 20, 4, 23, 45), 540),  # ja: before the time
    (f"2023-01-20 午前{NNBSP}0:05:00 +0900", utc(2023, 1, 19, 15, 5), 540),  # ja: 0-11 clock
    ("2023-01-20 午後0:30:00 +0900", utc(2023, 1, 20, 3, 30), 540),  # ja: 12:30
    ("2023-01-20T13:04:05Z", utc(2023, 1, 20, 13, 4, 5), 0),  # stateOfMind
    ("2023-01-20T13:04:05.250+05:30", utc(2023, 1, 20, 7, 34, 5, 250_000), 330),
    ("2023-01-20T13:04:05-0330", utc(2023, 1, 20, 16, 34, 5), -210),
    (1674220000.5, utc(2023, 1, 20, 13, 6, 40, 500_000), 0),  # epoch seconds
]


async def test_every_accepted_date_form_stores_its_instant_and_offset(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    points = [{"date": date, "qty": i} for i, (date, _, _) in enumerate(ACCEPTED_DATES)]

    report = await post(
        client, headers, g.envelope(metrics=[g.metric("step_count", "count", points)])
    )

    assert report["errors"] == []
    rows = await db(
        "SELECT qty, start_at, utc_offset_min FROM activity_metrics WHERE user_id = :u", u=user_id
    )
    stored = {int(r["qty"]): (r["start_at"], r["utc_offset_min"]) for r in rows}
    assert len(stored) == len(rows) == len(ACCEPTED_DATES)  # no two forms at one instant
    for i, (date, instant, offset) in enumerate(ACCEPTED_DATES):
        assert stored.get(i) == (instant, offset), date


# (date as sent, words the reason must hold)
REFUSED_DATES = [
    ("2023-01-20 13:04:05 PM +0100", "outside 0-12"),
    (f"2023-01-20 1:04:05{NNBSP}nachmittags +0100", "unrecognised"),  # not a CLDR period
    ("2023-01-20 1:04:05 matin +0100", "unrecognised"),  # a flexible period, never in `h a`
    ("2023-01-20 午後1:04:05 PM +0900", "both before and after"),
    ("2023-01-20 1:04:05 PM", "without a UTC offset"),
    ("2023-01-20T13:04:05", "without a UTC offset"),
    ("\uff12\uff10\uff12\uff13-01-20 13:04:05 +0900", "unrecognised"),  # fullwidth digits
    ("2023-02-30 1:04:05 PM +0100", "impossible date"),
    ("1674220000.5", "unrecognised"),  # epoch seconds are numbers, not strings
]


async def test_each_refused_date_rejects_only_its_point_with_its_reason(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    good = g.fmt_date(g.T0)
    points = [{"date": good, "qty": 0}]
    points += [{"date": date, "qty": i} for i, (date, _) in enumerate(REFUSED_DATES, 1)]

    body = json.dumps(g.envelope(metrics=[g.metric("step_count", "count", points)])).encode()

    response = await client.post("/v1/ingest", content=body, headers=headers)

    assert response.status_code == 200, response.text
    report = response.json()
    errors = by_index(report)
    assert set(errors) == set(range(1, len(points))), report["errors"]
    for i, (date, words) in enumerate(REFUSED_DATES, 1):
        assert errors[i][0] == "date", date
        assert words in errors[i][1], (date, errors[i][1])
    rows = await db("SELECT qty FROM activity_metrics WHERE user_id = :u", u=user_id)
    assert [r["qty"] for r in rows] == [0]
    [raw] = await db("SELECT sha256 FROM raw_ingestions WHERE user_id = :u", u=user_id)
    assert raw["sha256"] == hashlib.sha256(body).digest()  # kept as sent, for a later replay


# (qty as sent, the value stored)
ACCEPTED_NUMBERS = [
    ("72", 72.0),
    (" 72.5 ", 72.5),
    ("7.25e1", 72.5),
    ("+0.5", 0.5),
    (".5", 0.5),
    ("72,5", 72.5),  # a decimal comma that cannot be a thousands separator
    ("0,125", 0.125),  # "0,125" groups nothing
    ("1234,5678", 1234.5678),
    (72, 72.0),
    (72.25, 72.25),
]


async def test_numbers_sent_as_strings_store_their_value(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    points = [
        {"date": g.fmt_date(g.T0 + i * g.MINUTE), "qty": qty}
        for i, (qty, _) in enumerate(ACCEPTED_NUMBERS)
    ]

    report = await post(client, headers, g.envelope(metrics=[g.metric("protein", "g", points)]))

    assert report["errors"] == []
    rows = await db(
        "SELECT qty, qty_canonical FROM quantity_metrics WHERE user_id = :u ORDER BY start_at",
        u=user_id,
    )
    assert [r["qty"] for r in rows] == [value for _, value in ACCEPTED_NUMBERS]


# (qty as sent, words the reason must hold)
REFUSED_NUMBERS = [
    ("1,234", "ambiguous"),
    ("-1,500", "ambiguous"),
    ("1.234,5", "digit grouping"),
    ("1,234,567", "digit grouping"),
    ("NaN", "not a finite number"),
    ("Infinity", "not a finite number"),
    ("-inf", "not a finite number"),
    ("1e999", "not a finite number"),
    ("", "empty string"),
    ("abc", "not one"),
    ("1_000", "not one"),
    ("٧٢", "not one"),  # Arabic-Indic digits
    ("72 kg", "not one"),
    (True, "bool"),
]


async def test_each_refused_number_rejects_only_its_point_with_its_reason(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    values: list[Any] = [1, *(qty for qty, _ in REFUSED_NUMBERS)]
    points = [{"date": g.fmt_date(g.T0 + i * g.MINUTE), "qty": q} for i, q in enumerate(values)]

    report = await post(
        client, headers, g.envelope(metrics=[g.metric("step_count", "count", points)])
    )

    errors = by_index(report)
    assert set(errors) == set(range(1, len(points))), report["errors"]
    for i, (qty, words) in enumerate(REFUSED_NUMBERS, 1):
        assert errors[i][0] == "qty", qty
        assert words in errors[i][1], (qty, errors[i][1])
    rows = await db("SELECT qty FROM activity_metrics WHERE user_id = :u", u=user_id)
    assert [r["qty"] for r in rows] == [1]


async def test_numeric_strings_are_read_in_every_family(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    date = g.fmt_date(g.T0)
    workout = g.workout_v1(g.T0, duration=2 * g.MINUTE, route_step=30 * g.SECOND)
    workout["activeEnergy"] = {"qty": "250,5", "units": "kcal"}
    workout["heartRateData"][0]["qty"] = "101,25"
    mind = g.state_of_mind(g.T0, valence=-0.5)
    mind["valence"] = "-0.5"
    payload = g.envelope(
        metrics=[
            g.metric("heart_rate", "count/min", [{"date": date, "Min": "60", "Avg": "70.5", "Max": "81"}]),
            g.metric("blood_pressure", "mmHg", [{"date": date, "systolic": "120", "diastolic": "80"}]),
            g.metric("sleep_analysis", "hr", [{"date": date, "asleep": "7,25", "inBed": "8"}]),
        ],
        workouts=[workout],
        stateOfMind=[mind],
    )  # fmt: skip

    report = await post(client, headers, payload)

    assert report["errors"] == []
    one = "SELECT {} FROM {} WHERE user_id = :u ORDER BY 1 LIMIT 1"
    for columns, table, expected in (
        ("min, avg, max", "heart_rate_metrics", (60, 70.5, 81)),
        ("systolic, diastolic", "blood_pressure_metrics", (120, 80)),
        ("asleep, in_bed", "sleep_metrics", (7.25, 8)),
        ("active_energy_kcal", "workouts", (250.5,)),
        ("valence", "state_of_mind", (-0.5,)),
    ):
        [row] = await db(one.format(columns, table), u=user_id)
        assert tuple(row.values()) == expected, table
    series = await db(
        "SELECT qty FROM workout_series WHERE user_id = :u AND qty = 101.25", u=user_id
    )
    assert len(series) == 1


def _styles(dt: datetime) -> list[str]:
    """One instant in every form a phone writes, and near-misses of them."""
    h12, period = dt.hour % 12 or 12, dt.hour >= 12
    day, clock = f"{dt:%Y-%m-%d}", f"{dt:%M:%S}"
    zone = f"{dt:%z}"
    return [
        f"{day} {h12}:{clock}{NNBSP}{'PM' if period else 'AM'} {zone}",
        f"{day} {h12}:{clock} {'nachm.' if period else 'vorm.'} {zone}",
        f"{day} {h12}:{clock}{NNBSP}{'p' if period else 'a'}.{NBSP}m. {zone}",
        f"{day} {'午後' if period else '午前'}{dt.hour % 12}:{clock} {zone}",
        f"{day}T{dt:%H:%M:%S}{zone[:3]}:{zone[3:]}",
        f"{day}T{dt:%H:%M:%S}.5Z" if zone == "+0000" else f"{day}T{dt:%H:%M:%S}.5{zone}",
        f"{day} {h12}:{dt:%M}:60 PM {zone}",  # a leap second: refused, never shifted
        f"{day} {h12}:{dt:%M}:5x PM {zone}",
        f"{day} {h12}:{clock} PM",  # no offset
    ]


def test_the_minute_cache_agrees_with_the_parser_on_every_form() -> None:
    rng = random.Random(11)
    at, zones = datetime(2024, 3, 31, 0, 58, 50, tzinfo=UTC), (-300, 0, 60, 330, 540, 660)
    stamps: list[str] = []
    for _ in range(3000):
        at += timedelta(seconds=rng.choice((1, 1, 7, 59, 61, 3600)))
        local = at.astimezone(timezone(timedelta(minutes=rng.choice(zones))))
        stamps += rng.sample(_styles(local), 3)

    for stamp in stamps:
        try:
            want: Any = dates._parse_uncached(stamp)
        except dates.DateError as exc:
            want = str(exc)
        try:
            got: Any = dates.parse_date(stamp)
        except dates.DateError as exc:
            got = str(exc)
        assert got == want, stamp
    assert len(dates._OTHER_MINUTES) > 1000  # the forms went by minute, not one by one


def _ctx() -> Context:
    return Context(
        user_id=1, ingestion_id=1, now=datetime.now(UTC), future_tolerance=timedelta(days=1)
    )


def _refuse(*_: Any) -> tuple[Any, ...]:
    raise Reject("qty", "sent to the general builder")


def test_a_large_documented_series_stays_on_the_fast_path_and_strings_leave_it() -> None:
    points = g.quantity_points("step_count", "count", g.T0, 50_000, g.SECOND, seed=4)
    for i in range(0, len(points), 1000):
        points[i]["qty"] = str(points[i]["qty"])
    decoded = msgspec.json.decode(msgspec.json.encode(points), type=list[wire.QuantityPoint])
    errors: list[PointError] = []

    rows = list(
        fast.quantity_rows(
            [enumerate(decoded)], Rows("t", QUANTITY_COLUMNS), errors, _ctx(),
            name="step_count", unit="count", metric_id=1, non_negative=True, general=_refuse,
        )
    )  # fmt: skip

    assert len(rows) == 50_000 - 50  # every real number inline, no point handed on
    assert [e.index for e in errors] == list(range(0, 50_000, 1000))  # only the strings


async def test_a_streamed_series_with_numeric_strings_stores_them_all(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    points = g.quantity_points("step_count", "count", g.T0, 25_000, g.MINUTE, seed=5)
    for i in range(0, len(points), 997):
        points[i]["qty"] = f"{points[i]['qty']}.0"
    german = {"AM": "vorm.", "PM": "nachm."}
    points[:10] = g.restyle_dates(
        points[:10],
        lambda dt: g.fmt_date_12h(dt).replace("AM", german["AM"]).replace("PM", german["PM"]),
    )
    assert points[0]["date"] == "2023-01-20 12:00:00\u202fvorm. +1100"

    report = await post(
        client, headers, g.envelope(metrics=[g.metric("step_count", "count", points)])
    )

    assert report["errors"] == []
    assert report["metrics"]["step_count"]["inserted"] == 25_000
    [total] = await db(
        "SELECT sum(qty) AS s, min(start_at) AS first FROM activity_metrics WHERE user_id = :u",
        u=user_id,
    )
    assert total["s"] == sum(float(p["qty"]) for p in points)
    assert total["first"] == g.T0
