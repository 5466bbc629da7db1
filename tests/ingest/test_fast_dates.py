"""The fast loops' date shortcut (a stamp in the previous stamp's minute is that minute plus its
seconds) must give exactly what the full parser gives, whatever the mix of forms and offsets."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from app.ingest.decode import wire
from app.ingest.normalise import fast
from app.ingest.normalise.common import Context, Reject
from app.ingest.normalise.dates import DateError, parse_date
from app.ingest.normalise.metrics import HEART_RATE_COLUMNS, QUANTITY_COLUMNS
from app.ingest.types import PointError, Rows


def _ctx() -> Context:
    return Context(
        user_id=1, ingestion_id=1, now=datetime.now(UTC), future_tolerance=timedelta(days=1)
    )


def _refuse(*_: Any) -> tuple[Any, ...]:
    raise Reject("date", "irregular")


def _stamps(seed: int, count: int) -> list[str]:
    """Seconds-apart stamps across minutes, with offsets changing mid-minute (a DST switch, a
    flight), other forms in between, and near-misses of the documented form."""
    rng = random.Random(seed)
    at = datetime(2024, 3, 31, 0, 58, 50, tzinfo=UTC)
    offset = 60
    out: list[str] = []
    for _ in range(count):
        at += timedelta(seconds=rng.choice((1, 1, 1, 7, 59, 61)))
        if rng.random() < 0.02:
            offset = rng.choice((-300, 0, 60, 120, 330, 660, 765))
        local = at.astimezone(UTC) + timedelta(minutes=offset)
        sign = "-" if offset < 0 else "+"
        hh, mm = divmod(abs(offset), 60)
        text = f"{local:%Y-%m-%d %H:%M:%S} {sign}{hh:02d}{mm:02d}"
        roll = rng.random()
        if roll < 0.03:
            text = f"{local:%Y-%m-%dT%H:%M:%S}{sign}{hh:02d}:{mm:02d}"  # ISO, also 25 chars
        elif roll < 0.05:
            text = text[:17] + "60" + text[19:]  # a leap second: rejected, never shifted
        elif roll < 0.06:
            text = text[:17] + "5x" + text[19:]
        elif roll < 0.07:
            text = text[:16] + "." + text[17:]
        out.append(text)
    return out


def _expected(stamp: str) -> tuple[datetime, int] | None:
    try:
        return parse_date(stamp)
    except DateError:
        return None


def test_the_shortcut_agrees_with_the_parser_on_every_stamp() -> None:
    stamps = _stamps(seed=7, count=20_000)
    raw = msgspec.json.encode([{"date": s, "qty": 1.0, "Avg": 70.0} for s in stamps])
    quantity = msgspec.json.decode(raw, type=list[wire.QuantityPoint])
    heart = msgspec.json.decode(raw, type=list[wire.HeartRatePoint])
    for points, loop, columns in (
        (quantity, fast.quantity_rows, QUANTITY_COLUMNS),
        (heart, fast.heart_rate_rows, HEART_RATE_COLUMNS),
    ):
        errors: list[PointError] = []
        out = Rows("t", columns)
        if loop is fast.quantity_rows:
            rows = list(
                fast.quantity_rows(
                    [enumerate(points)],
                    out,
                    errors,
                    _ctx(),
                    name="x",
                    unit="count",
                    metric_id=1,
                    non_negative=False,
                    general=_refuse,
                )
            )
        else:
            for p in points:  # Min/Max missing: make them regular so only dates decide
                p.min, p.max = 60.0, 80.0
            rows = list(
                fast.heart_rate_rows(
                    [enumerate(points)], out, errors, _ctx(), unit="bpm", general=_refuse
                )
            )
        at = columns.index("start_at")
        got = iter(rows)
        rejected = {e.index for e in errors}
        for index, stamp in enumerate(stamps):
            want = _expected(stamp)
            if want is None:
                assert index in rejected, stamp
                continue
            assert index not in rejected, stamp
            row = next(got)
            assert (row[at], row[at + 2]) == want, stamp
        assert next(got, None) is None
