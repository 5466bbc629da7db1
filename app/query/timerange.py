"""Time parameters of the read API: range bounds, bucket units and time zones (pure, no I/O).

A bound with a UTC offset (``2023-01-20T00:00:00+11:00``, ``...Z``) is an instant. A bound without
one (``2023-01-20``, ``2023-01-20T06:00``) is a wall-clock time: in ``tz`` when the request names
one, otherwise in the offset each point was recorded in, so ``from=2023-01-20&to=2023-01-21`` is
the user's local day 20 January wherever they were that day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from app.query.errors import InvalidQuery

Bucket = Literal["minute", "hour", "day", "week", "month"]
BUCKETS: tuple[Bucket, ...] = ("minute", "hour", "day", "week", "month")
# The widest UTC offset a stored point can carry (app.ingest.normalise.dates accepts +-18:00).
MAX_OFFSET = timedelta(hours=18)
# Bounds stay a year inside datetime's range, so moving one by any UTC offset, zone, week, month
# or year (in Python, or as a parameter PostgreSQL shifts) can never overflow.
EARLIEST = datetime(2, 1, 1)  # noqa: DTZ001 - a wall-clock limit, compared without zone
LATEST = datetime(9998, 12, 31)  # noqa: DTZ001
# A '+' left unencoded in a query string arrives as a space: "...T00:00:00 11:00".
_SPACE_OFFSET = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")


@dataclass(frozen=True, slots=True)
class Bound:
    """One end of a range: an instant, or a wall-clock time (naive) to place per point."""

    at: datetime | None = None
    local: datetime | None = None

    def text(self) -> str:
        if self.at is not None:
            return self.at.isoformat()
        return self.local.isoformat() if self.local is not None else ""


def parse_bound(value: str | None, field: str) -> Bound | None:
    if value is None or not value.strip():
        return None
    text = _SPACE_OFFSET.sub(r"\1+\2", value.strip())
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            parsed = datetime(day.year, day.month, day.day)  # noqa: DTZ001 - wall clock
        else:
            parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidQuery(
            f"`{field}` must be an ISO 8601 date or date-time, e.g. 2023-01-20 or"
            " 2023-01-20T06:00:00+11:00",
            field=field,
        ) from None
    if not within_limits(parsed):
        raise InvalidQuery(
            f"`{field}` must lie between {EARLIEST.date()} and {LATEST.date()}", field=field
        )
    if parsed.tzinfo is not None:
        return Bound(at=parsed.astimezone(UTC))
    return Bound(local=parsed)


def within_limits(moment: datetime | date) -> bool:
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)  # noqa: DTZ001 - wall clock
    return EARLIEST <= moment.replace(tzinfo=None) < LATEST


def stamp(text: object) -> datetime:
    """A date-time taken back from a cursor; ValueError unless text inside the limits."""
    if not isinstance(text, str):
        raise ValueError("not a date-time")
    parsed = datetime.fromisoformat(text)
    if not within_limits(parsed):
        raise ValueError("date-time out of range")
    return parsed


def parse_range(
    lo: str | None, hi: str | None, tz: str | None = None
) -> tuple[Bound | None, Bound | None]:
    """``from`` (inclusive) and ``to`` (exclusive); with ``tz`` wall-clock bounds become instants."""
    start, end = parse_bound(lo, "from"), parse_bound(hi, "to")
    if tz is not None:
        start, end = in_zone(start, tz), in_zone(end, tz)
    if start is not None and end is not None and not _before(start, end):
        raise InvalidQuery("`to` must be after `from`", field="to")
    return start, end


def _before(start: Bound, end: Bound) -> bool:
    """Whether ``start`` comes before ``end``; an instant and a wall-clock time are not compared
    (where the wall-clock time falls depends on each point's offset)."""
    for first, last in ((start.at, end.at), (start.local, end.local)):
        if first is not None and last is not None and last <= first:
            return False
    return True


def in_zone(bound: Bound | None, tz: str) -> Bound | None:
    if bound is None or bound.local is None:
        return bound
    return Bound(at=bound.local.replace(tzinfo=zone(tz)).astimezone(UTC))


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def parse_tz(name: str | None) -> str | None:
    """An IANA zone name (``Australia/Sydney``, ``UTC``); fixed offsets are refused because
    PostgreSQL reads ``+11:00`` as a POSIX zone, eleven hours the other way."""
    if name is None or not name.strip():
        return None
    name = name.strip()
    if name not in _zone_names() and name != "UTC":
        raise InvalidQuery("`tz` must be an IANA time zone name, e.g. Europe/Paris", field="tz")
    try:
        zone(name)
    except ZoneInfoNotFoundError:
        raise InvalidQuery("`tz` is not a known time zone", field="tz") from None
    return name


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=256)
def fixed(offset_min: int) -> timezone:
    return UTC if offset_min == 0 else timezone(timedelta(minutes=offset_min))


def iso(at: datetime | None, offset_min: int | None = None, tz: str | None = None) -> str | None:
    """An instant in ISO 8601, in ``tz`` when given, else in its recorded offset, else UTC."""
    if at is None:
        return None
    if tz is not None:
        return at.astimezone(zone(tz)).isoformat()
    return at.astimezone(fixed(offset_min or 0)).isoformat()


def local_label(local: datetime, offsets: tuple[int | None, int | None]) -> str:
    """A bucket's wall-clock start, with its offset when all its points share one."""
    low, high = offsets
    if low is not None and low == high:
        return local.replace(tzinfo=fixed(low)).isoformat()
    return local.isoformat()
