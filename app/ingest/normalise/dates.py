"""Every date form Health Auto Export is known to send, parsed without guessing.

Forms: ``2023-01-20 00:18:00 +1100`` (the documented one, on the fast path), fractional seconds,
ISO 8601 with ``T``/``Z``/``+11:00``, Unix-epoch numbers (nested ECG, notification and
beat-to-beat series), and the 12-hour clock the phone writes when 24-Hour Time is off. A date
without a UTC offset is refused rather than assumed to be UTC: the offset is what makes the
user's local day exact.

The 12-hour clock's day period is written in the phone's language. The words accepted are the
CLDR ``dayPeriods`` (abbreviated and wide, format context) that iOS formats with, for English,
German, French, Spanish, Italian, Dutch, Portuguese and Japanese, as CLDR has them now or had
them in earlier releases. The list comes from the CLDR data as known when this was written, not
from a CLDR release checked word by word; ``nachm.`` is confirmed by a real payload:

* after the time, letter case ignored: ``AM``/``PM`` (en, de, fr, it, pt-BR and the CLDR
  root), ``a.m.``/``p.m.`` (en-CA, en-IE, nl, fr-CA, pt-PT), ``a. m.``/``p. m.`` (es),
  ``vorm.``/``nachm.`` (de, older releases), ``da manhã``/``da tarde`` (pt-PT wide);
* before the time: ``午前``/``午後`` (ja), whose clock runs 0-11 (``午後0:30`` is 12:30).

Between the words' parts and around them: a space, U+00A0 NO-BREAK SPACE or U+202F NARROW
NO-BREAK SPACE (CLDR 42 put U+202F before English AM/PM; Spanish has U+00A0 inside ``a. m.``).
The hour is 0-12 with a day period: 12 AM is midnight, 12 PM noon, 0 is read as 12 (ja).
French ``matin``/``soir`` and the like are flexible day periods that a ``h:mm a`` pattern never
produces, so they are not accepted; nor are other scripts' digits.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

_SPACE = "[ \u00a0\u202f]"
_GENERAL = re.compile(
    rf"([0-9]{{4}})-([0-9]{{2}})-([0-9]{{2}})[ T](?:(午前|午後){_SPACE}?)?"
    r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]{1,9}))?)?"
    rf"(?:{_SPACE}?(?i:([ap]\.?{_SPACE}?m\.?|vorm\.?|nachm\.?|da{_SPACE}manh[ãa]|da{_SPACE}tarde)))?"
    rf"(?:{_SPACE}*(Z|[+-][0-9]{{2}}(?::?[0-9]{{2}})?))?"
)
# A day period without its spaces and dots, lower-cased -> whether it is after noon.
_AFTER_NOON = {
    "am": False, "pm": True, "vorm": False, "nachm": True,
    "damanhã": False, "damanha": False, "datarde": True, "午前": False, "午後": True,
}  # fmt: skip
_NOT_IN_PERIOD = re.compile(r"[ .\u00a0\u202f]")
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_EPOCH_MIN = -2208988800.0  # 1900-01-01
_EPOCH_MAX = 32503680000.0  # 3000-01-01


class DateError(ValueError):
    """A value that is not a date we can place exactly in time."""


class DateOnlyError(DateError):
    """A calendar date without a time of day (documented for aggregated sleep only)."""


ParsedDate = tuple[datetime, int]  # the instant in UTC, and the original UTC offset in minutes


@lru_cache(maxsize=1 << 16)
def _tz(minutes: int) -> timezone:
    return UTC if minutes == 0 else timezone(timedelta(minutes=minutes))


_CACHE: dict[str, ParsedDate] = {}
# Large enough for every minute of a long minute-by-minute series: the next series of the same
# body (steps, then energy, then distance...) finds its stamps already parsed.
_CACHE_MAX = 1 << 18
_OFFSETS: dict[str, tuple[timedelta, int]] = {}
# The documented form by minute: "yyyy-MM-dd HH:mm" + " +hhmm" -> (that minute in UTC, offset).
# Per-second series repeat each minute 60 times and minute series repeat it across metrics, so
# a point costs two dict lookups and one addition instead of a parse.
_MINUTES: dict[str, ParsedDate] = {}
# Every other form with whole seconds (12-hour clock, ISO 8601), by minute: the stamp without
# its seconds digits (see ``_minute_key``) -> that minute in UTC, and the offset.
_OTHER_MINUTES: dict[str, ParsedDate] = {}
_SECONDS: dict[str, timedelta] = {f"{s:02d}": timedelta(seconds=s) for s in range(60)}


_UNRECOGNISED = (
    "unrecognised date format (expected yyyy-MM-dd HH:mm:ss Z, ISO 8601 with Z or an offset,"
    " or epoch seconds)"
)
_OUT_OF_RANGE = "date out of range: its UTC time falls outside the years 1 to 9999"
# A calendar date is combined with offsets later: the outermost years could then overflow.
_CALENDAR_YEARS = (2, 9998)


def _parse_text(value: str) -> ParsedDate:
    if len(value) == 25 and value[16] == ":" and value[19] == " ":
        minute = _MINUTES.get(value[:16] + value[19:])
        if minute is not None:
            second = _SECONDS.get(value[17:19])
            if second is not None:
                return minute[0] + second, minute[1]
    documented = _parse_documented(value)  # remembers its minute in _MINUTES
    if documented is not None:
        return documented
    found = _CACHE.get(value)
    if found is not None:
        return found
    by_minute = _minute_key(value)
    if by_minute is not None:
        minute = _OTHER_MINUTES.get(by_minute[0])
        if minute is not None:
            return minute[0] + by_minute[1], minute[1]
    found = _parse_general(value.strip())
    if by_minute is not None:
        _remember(_OTHER_MINUTES, by_minute[0], (found[0] - by_minute[1], found[1]))
    else:
        _remember(_CACHE, value, found)
    return found


def _minute_key(value: str) -> tuple[str, timedelta] | None:
    """``value`` without its two digits of whole seconds, and those seconds; None when it has no
    ``H:mm:ss`` (or a fraction after it). Nothing but the seconds differs between two stamps of
    one key, so a parsed stamp gives every other stamp of its minute by one addition."""
    colon = value.find(":", 11)  # the date before the time holds no colon
    if colon < 0 or value[colon + 3 : colon + 4] != ":":
        return None
    at = colon + 4
    second = _SECONDS.get(value[at : at + 2])
    if second is None or value[at + 2 : at + 3] in ".,0123456789":  # "" (the end) included
        return None
    return value[:at] + value[at + 2 :], second


def _remember(cache: dict[str, ParsedDate], key: str, parsed: ParsedDate) -> None:
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[key] = parsed


def _parse_uncached(value: str) -> ParsedDate:
    """What ``_parse_text`` answers, without its shortcuts by minute (the tests' reference)."""
    documented = _parse_documented(value)
    if documented is not None:
        return documented
    return _parse_general(value.strip())


def _parse_documented(value: str) -> ParsedDate | None:
    """Exactly the documented form, or None. The offset text is parsed once and remembered; the
    local time goes through fromisoformat (C), ~1 us all told against ~45 us for strptime."""
    if not (len(value) == 25 and value[19] == " " and value[10] == " " and value[20] in "+-"):
        return None
    offset = _OFFSETS.get(value[20:])
    if offset is None and value[21:25].isdigit():
        minutes = int(value[21:23]) * 60 + int(value[23:25])
        minutes = -minutes if value[20] == "-" else minutes
        if minutes <= 18 * 60 and int(value[23:25]) < 60:
            offset = _OFFSETS[value[20:]] = (timedelta(minutes=minutes), minutes)
    if offset is None:
        return None
    try:
        local = datetime.fromisoformat(value[:19])
    except ValueError:
        return None
    try:
        at = (local - offset[0]).replace(tzinfo=UTC)
    except OverflowError:
        raise DateError(_OUT_OF_RANGE) from None
    if value[16] == ":":  # HH:mm:ss, so the minute is value[:16]
        if len(_MINUTES) >= _CACHE_MAX:
            _MINUTES.clear()
        _MINUTES[value[:16] + value[19:]] = (at - _SECONDS[value[17:19]], offset[1])
    return at, offset[1]


def _parse_general(text: str) -> ParsedDate:
    match = _GENERAL.fullmatch(text)
    if match is None:
        if _DATE_ONLY.fullmatch(text):
            raise DateOnlyError("date without a time of day")
        raise DateError(_UNRECOGNISED)
    year, month, day, before, hour, minute, second, fraction, after, zone = match.groups()
    if zone is None:
        raise DateError("date without a UTC offset: its instant would be a guess")
    if before is not None and after is not None:
        raise DateError("a day period both before and after the time")
    minutes = _offset_minutes(zone)
    hour_of_day = _hour_of_day(int(hour), before or after)
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        dt = datetime(
            int(year), int(month), int(day), hour_of_day, int(minute), int(second or 0), micro,
            _tz(minutes),
        )  # fmt: skip
    except ValueError as exc:
        raise DateError(f"impossible date: {exc}") from None
    try:
        return dt.astimezone(UTC), minutes
    except OverflowError:
        raise DateError(_OUT_OF_RANGE) from None


def _hour_of_day(hour: int, period: str | None) -> int:
    """0-23 from a 24-hour clock's hour, or a 12-hour clock's hour and its day period."""
    if period is None:
        return hour
    if not 0 <= hour <= 12:
        raise DateError("12-hour time with an hour outside 0-12")
    after_noon = _AFTER_NOON[_NOT_IN_PERIOD.sub("", period).lower()]
    return hour % 12 + (12 if after_noon else 0)


def _offset_minutes(zone: str) -> int:
    if zone == "Z":
        return 0
    digits = zone[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:] or 0)
    if minutes > 18 * 60:
        raise DateError("UTC offset out of range")
    return -minutes if zone[0] == "-" else minutes


def parse_date(value: object) -> ParsedDate:
    """Parse one date value from a payload; raise DateError with a reason otherwise."""
    if isinstance(value, str):
        return _parse_text(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
        if not _EPOCH_MIN <= seconds <= _EPOCH_MAX:
            raise DateError("epoch seconds out of range")
        return datetime.fromtimestamp(seconds, UTC), 0
    if value is None:
        raise DateError("date is missing")
    raise DateError(f"date must be a string or epoch seconds, got {type(value).__name__}")


def parse_calendar_date(value: str, offset_minutes: int) -> datetime:
    """Local midnight of a ``yyyy-MM-dd`` date, in the given UTC offset."""
    try:
        day = datetime.strptime(value.strip(), "%Y-%m-%d")  # noqa: DTZ007 - tz set below
    except ValueError as exc:
        raise DateError("unrecognised date format") from exc
    if not _CALENDAR_YEARS[0] <= day.year <= _CALENDAR_YEARS[1]:
        raise DateError(_OUT_OF_RANGE)
    return day.replace(tzinfo=_tz(offset_minutes))


def format_date(dt: datetime, offset_minutes: int) -> str:
    """The app's own form, in the original offset: ``2023-01-20 00:18:00 +1100``."""
    local = dt.astimezone(_tz(offset_minutes))
    sign = "-" if offset_minutes < 0 else "+"
    hh, mm = divmod(abs(offset_minutes), 60)
    frac = f".{local.microsecond:06d}".rstrip("0") if local.microsecond else ""
    return f"{local:%Y-%m-%d %H:%M:%S}{frac} {sign}{hh:02d}{mm:02d}"
