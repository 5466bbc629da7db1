"""Tight loops for the bulk of a backfill: plain quantity and heart-rate points, as generators
(a large series streams into COPY while it is being normalised).

They accept only the regular case (string dates, a value in plausible range) and hand any
other point to the general builder, so validation has one definition and the common case costs
~1 µs a point instead of several function calls. They also note what lets the writer skip work:
the time range, and whether the points came strictly ordered in time (then their keys are
unique and need no de-duplication).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from itertools import chain
from typing import Any

from app.ingest.dates import _SECONDS, DateError, _parse_text
from app.ingest.normalise.common import MIN_AT, Context, OutOfHint, PointError, Reject, Rows
from app.ingest.units import canonical
from app.quality import rules

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
    conv = canonical(unit)
    factor, shift = (conv[1], conv[2]) if conv is not None else (1.0, 0.0)
    convert = conv is not None and (factor != 1.0 or shift != 0.0)
    low, high = _bounds(rules._RANGES.get(name))
    if non_negative:
        low = max(low, 0.0)
    user_id, ingestion_id = ctx.user_id, ctx.ingestion_id
    min_at, max_at = MIN_AT, ctx.max_at
    months = _Months(out.months)
    parse = _parse_text
    seconds = _SECONDS
    head = tail = "\x00"  # matches no stamp until a documented-form stamp has been parsed
    minute, minute_offset = _FAR_PAST, 0
    newest = _FAR_PAST
    oldest: datetime | None = None
    ordered = True
    strict, (low_at, high_at) = out.strict, out.hint or (_FAR_PAST, _FAR_PAST)
    count = 0
    for i, p in chain.from_iterable(chunks):
        stamp = p.date if p.date is not None else p.start
        qty = p.qty
        end_value = p.end
        row: tuple[Any, ...] | None = None
        if (
            type(stamp) is str
            and qty is not None
            and low <= qty <= high
            and (end_value is None or type(end_value) is str)
        ):
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
                        and stamp[10] == " "
                        and stamp[13] == ":"
                        and stamp[16] == ":"
                        and stamp[19] == " "
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
                    row = (
                        user_id, metric_id, at, end, offset, p.source, qty, unit,
                        qty * factor + shift if convert else None, None, ingestion_id,
                    )  # fmt: skip
        if row is None:
            # Irregular, or outside the plausible range: the general builder decides.
            try:
                row = general(p, ctx, unit, metric_id, name)
            except Reject as exc:
                errors.append(PointError("metrics", name, i, exc.field, exc.reason))
                continue
        at = row[2]
        if strict and not (low_at <= at <= high_at and at > newest):
            raise OutOfHint
        count += 1
        yield row
        if not months.start <= at < months.end:
            months.add(at)
        if at > newest:
            newest = at
            if oldest is None:
                oldest = at
        else:
            ordered = False
            if oldest is not None and at < oldest:
                oldest = at
    _note(out, oldest, newest, ordered, count)


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
    user_id, ingestion_id = ctx.user_id, ctx.ingestion_id
    min_at, max_at = MIN_AT, ctx.max_at
    months = _Months(out.months)
    parse = _parse_text
    seconds = _SECONDS
    head = tail = "\x00"  # matches no stamp until a documented-form stamp has been parsed
    minute, minute_offset = _FAR_PAST, 0
    newest = _FAR_PAST
    oldest: datetime | None = None
    ordered = True
    strict, (low_at, high_at) = out.strict, out.hint or (_FAR_PAST, _FAR_PAST)
    count = 0
    for i, p in chain.from_iterable(chunks):
        stamp = p.date if p.date is not None else p.start
        lo, avg, hi = p.min, p.avg, p.max
        row: tuple[Any, ...] | None = None
        if (
            type(stamp) is str
            and lo is not None
            and avg is not None
            and hi is not None
            and low <= lo <= avg <= hi <= high
            and (p.end is None or type(p.end) is str)
        ):
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
                        and stamp[10] == " "
                        and stamp[13] == ":"
                        and stamp[16] == ":"
                        and stamp[19] == " "
                        and stamp[20] in "+-"
                        and (second := seconds.get(stamp[17:19])) is not None
                    ):  # the documented form: later stamps in this minute need no parse
                        head, tail, minute = stamp[:17], stamp[19:], at - second
                        minute_offset = offset
                end = parse(p.end)[0] if p.end is not None else None
            except DateError:
                pass
            else:
                if min_at <= at <= max_at and (end is None or min_at <= end <= max_at):
                    row = (
                        user_id, at, end, offset, p.source, lo, avg, hi, unit, p.context, ingestion_id,
                    )  # fmt: skip
        if row is None:
            try:
                row = general(p, ctx, unit, None, "heart_rate")
            except Reject as exc:
                errors.append(PointError("metrics", "heart_rate", i, exc.field, exc.reason))
                continue
        at = row[1]
        if strict and not (low_at <= at <= high_at and at > newest):
            raise OutOfHint
        count += 1
        yield row
        if not months.start <= at < months.end:
            months.add(at)
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
