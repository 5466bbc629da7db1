"""Tight loops for the bulk of a backfill: plain quantity and heart-rate points, as generators
(a large series streams into COPY while it is being normalised).

They accept only the regular case (string dates, a JSON number in plausible range) and hand any
other point to the general builder, so validation has one definition and the common case costs
~1 µs a point instead of several function calls. They also note what lets the writer skip work:
the time range, and whether the points came strictly ordered in time (then their keys are
unique and need no de-duplication).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from itertools import chain
from typing import Any, NamedTuple

from app.ingest.normalise.common import MIN_AT, TEXT_MAX, Context, Reject
from app.ingest.normalise.dates import _SECONDS, DateError, _parse_text
from app.ingest.normalise.units import canonical
from app.ingest.types import OutOfHint, PointError, Rows
from app.quality import rules

Row = tuple[Any, ...]
Chunks = Iterable[Iterable[tuple[int, Any]]]
Builder = Callable[[Any, Context, str | None, int | None, str], tuple[Any, ...]]
_FAR_PAST = datetime(1, 1, 2, tzinfo=UTC)


class _Months:
    """Months touched, checked with two comparisons per point for time-ordered data."""

    __slots__ = ("end", "months", "start")

    def __init__(self, months: set[tuple[int, int]]) -> None:
        self.months = months
        self.start = self.end = _FAR_PAST

    def add(self, at: datetime) -> None:
        self.months.add((at.year, at.month))
        self.start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        year, month = at.year + at.month // 12, at.month % 12 + 1
        self.end = self.start.replace(year=year, month=month)


def _bounds(rule: rules.Range | None) -> tuple[float, float]:
    """The plausible interval: values inside need no further check."""
    if rule is None:
        return float("-inf"), float("inf")
    low = rule.improbable_below if rule.improbable_below is not None else rule.impossible_below
    high = rule.improbable_above if rule.improbable_above is not None else rule.impossible_above
    return (float("-inf") if low is None else low), (float("inf") if high is None else high)


class _Series(NamedTuple):
    """What the loop needs to know of one series: its family, and the values it takes as
    plausible without asking the general builder."""

    heart_rate: bool
    name: str
    unit: str | None
    metric_id: int | None
    low: float
    high: float
    conversion: tuple[float, float] | None  # (factor, shift) to the canonical unit
    general: Builder


def quantity_rows(
    chunks: Iterable[Iterable[tuple[int, Any]]],
    out: Rows,
    errors: list[PointError],
    ctx: Context,
    *,
    name: str,
    unit: str | None,
    metric_id: int | None,
    non_negative: bool,
    general: Builder,
) -> Iterator[tuple[Any, ...]]:
    low, high = _bounds(rules._RANGES.get(name))
    if non_negative:
        low = max(low, 0.0)
    series = _Series(False, name, unit, metric_id, low, high, _conversion(unit), general)
    return _tracked(_rows(chunks, series, ctx, errors), out, 2)


def heart_rate_rows(
    chunks: Iterable[Iterable[tuple[int, Any]]],
    out: Rows,
    errors: list[PointError],
    ctx: Context,
    *,
    unit: str | None,
    general: Builder,
) -> Iterator[tuple[Any, ...]]:
    low, high = _bounds(rules._RANGES["heart_rate"])
    series = _Series(True, "heart_rate", unit, None, low, high, None, general)
    return _tracked(_rows(chunks, series, ctx, errors), out, 1)


def _conversion(unit: str | None) -> tuple[float, float] | None:
    conv = canonical(unit)
    if conv is None or (conv[1] == 1.0 and conv[2] == 0.0):
        return None
    return conv[1], conv[2]


def _rows(chunks: Chunks, series: _Series, ctx: Context, errors: list[PointError]) -> Iterator[Row]:
    """Rows of the regular points built inline, of every other point by ``series.general``."""
    heart_rate, _, unit, metric_id, low, high, conversion, _ = series
    factor, shift = conversion or (1.0, 0.0)
    convert = conversion is not None
    user_id, ingestion_id, min_at, max_at = ctx.user_id, ctx.ingestion_id, MIN_AT, ctx.max_at
    parse, seconds, text_max = _parse_text, _SECONDS, TEXT_MAX
    head = tail = "\x00"  # matches no stamp until a documented-form stamp has been parsed
    minute, minute_offset = _FAR_PAST, 0
    for i, p in chain.from_iterable(chunks):
        stamp = p.date if p.date is not None else p.start
        end_value = p.end
        try:
            if heart_rate:
                lo, value, hi = p.min, p.avg, p.max
                regular = lo is not None and value is not None and hi is not None
                regular = regular and low <= lo <= value <= hi <= high
            else:
                value = p.qty
                regular = value is not None and low <= value <= high
        except TypeError:  # a number sent as a string ("72"): the general builder reads it
            regular = False
        regular = regular and (p.source is None or len(p.source) <= text_max)
        if regular and type(stamp) is str and (end_value is None or type(end_value) is str):
            try:
                if (
                    stamp.startswith(head)
                    and stamp.endswith(tail)
                    and len(stamp) == 25
                    and (second := seconds.get(stamp[17:19])) is not None
                ):
                    at, offset = minute + second, minute_offset  # the previous stamp's minute
                else:
                    at, offset = parse(stamp)
                    if (
                        len(stamp) == 25
                        and stamp[10:20:3] == " :: "  # "yyyy-MM-dd HH:mm:ss Z"
                        and stamp[20] in "+-"
                        and (second := seconds.get(stamp[17:19])) is not None
                    ):  # the documented form: later stamps in this minute need no parse
                        head, tail, minute = stamp[:17], stamp[19:], at - second
                        minute_offset = offset
                end = parse(end_value)[0] if end_value is not None else None
            except DateError:
                pass
            else:
                if min_at <= at <= max_at and (end is None or min_at <= end <= max_at):
                    yield (
                        (user_id, at, end, offset, p.source, lo, value, hi, unit, p.context, ingestion_id)
                        if heart_rate else
                        (user_id, metric_id, at, end, offset, p.source, value, unit,
                         value * factor + shift if convert else None, None, ingestion_id)
                    )  # fmt: skip
                    continue
        # Irregular, or outside the plausible range: the general builder decides.
        row = _general(i, p, series, ctx, errors)
        if row is not None:
            yield row


def _general(
    index: int, point: Any, series: _Series, ctx: Context, errors: list[PointError]
) -> Row | None:
    """The general builder's row for an irregular point, or None with the reason in ``errors``."""
    try:
        return series.general(point, ctx, series.unit, series.metric_id, series.name)
    except Reject as exc:
        errors.append(PointError("metrics", series.name, index, exc.field, exc.reason))
        return None


def _tracked(rows: Iterator[tuple[Any, ...]], out: Rows, at_pos: int) -> Iterator[tuple[Any, ...]]:
    """Rows as they come, noting the months, time range and order they show; with
    ``out.strict``, the first row outside the hint or not after the previous one raises."""
    months = _Months(out.months)
    month_start = month_end = newest = _FAR_PAST
    oldest: datetime | None = None
    ordered = True
    strict, (low_at, high_at) = out.strict, out.hint or (_FAR_PAST, _FAR_PAST)
    count = 0
    for count, row in enumerate(rows, 1):  # noqa: B007 - read after the loop
        at = row[at_pos]
        if strict and not (low_at <= at <= high_at and at > newest):
            raise OutOfHint
        yield row
        if not month_start <= at < month_end:
            months.add(at)
            month_start, month_end = months.start, months.end
        if at > newest:
            newest = at
            if oldest is None:
                oldest = at
        else:
            ordered = False
            if oldest is not None and at < oldest:
                oldest = at
    _note(out, oldest, newest, ordered, count)


def _note(out: Rows, first: datetime | None, last: datetime, ordered: bool, count: int) -> None:
    """Record what iteration saw (after the last row: generators run this when exhausted)."""
    out.count = count
    if first is None:
        return
    out.first_at, out.last_at, out.unique_keys = first, last, ordered
