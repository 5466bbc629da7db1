"""What every normaliser shares: the ingestion context, rejection reasons, value checks."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec

from app.ingest.normalise.dates import DateError, parse_date
from app.ingest.types import Flag, Month
from app.quality import rules

MIN_AT = datetime.fromisoformat("1900-01-01T00:00:00+00:00")
# The longest text a field of a point may hold (source, name, kind, unit...): several of them
# are part of unique keys, whose index entries PostgreSQL limits to ~2,700 bytes, and 500
# characters of 4-byte UTF-8 leave room for the rest of the key. No real field comes close.
TEXT_MAX = 500

_json_encoder = msgspec.json.Encoder()


class Reject(Exception):
    """One point cannot be stored: which field and why."""

    def __init__(self, field_name: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field_name
        self.reason = reason


@dataclass(slots=True)
class Context:
    user_id: int
    ingestion_id: int
    now: datetime
    future_tolerance: timedelta
    flags: list[Flag] = field(default_factory=list)

    def check(
        self,
        metric: str,
        table: str,
        start_at: datetime,
        value: float,
        unit: str | None,
        field_name: str,
        rule: rules.Range | None = None,
    ) -> None:
        """Reject an impossible value; flag an improbable one (it is stored all the same)."""
        try:
            reason = (
                rules.judge(rule, value) if rule is not None else rules.assess(metric, value, unit)
            )
        except rules.Impossible as exc:
            raise Reject(field_name, str(exc)) from None
        if reason is not None:
            self.flags.append(Flag(table, metric, start_at, value, unit, f"{field_name}: {reason}"))

    @property
    def max_at(self) -> datetime:
        return self.now + self.future_tolerance

    def when(self, value: object, field_name: str) -> tuple[datetime, int]:
        """A required date: the UTC instant and the original offset, or a Reject."""
        try:
            at, offset = parse_date(value)
        except DateError as exc:
            raise Reject(field_name, str(exc)) from None
        if at < MIN_AT or at > self.max_at:
            raise Reject(field_name, "date out of the accepted range (1900 to the near future)")
        return at, offset

    def maybe_when(self, value: object, field_name: str) -> tuple[datetime | None, int | None]:
        if value is None:
            return None, None
        return self.when(value, field_name)


def optional_number(value: object, field_name: str, *, non_negative: bool = False) -> float | None:
    """A finite number (ints and numeric strings accepted, booleans not), or None when absent."""
    if value is None:
        return None
    if isinstance(value, str):
        number_ = number_from_text(value, field_name)
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise Reject(field_name, f"expected a number, got {type(value).__name__}")
    else:
        try:
            number_ = float(value)
        except OverflowError:  # an integer literal beyond any float
            raise Reject(field_name, "not a finite number") from None
    if not math.isfinite(number_):
        raise Reject(field_name, "not a finite number")
    if non_negative and number_ < 0:
        raise Reject(field_name, "a negative value is impossible here")
    return number_


# ASCII digits only: float() would also take "nan", "inf", "1_000" and digits of other scripts.
_DOT_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_COMMA_DECIMAL = re.compile(r"([+-]?[0-9]+),([0-9]+)")
# "1,234" reads as 1234 where the comma groups thousands and as 1.234 where it is the decimal
# mark: one to three digits (no leading zero), a comma, exactly three digits.
_THOUSANDS_LIKE = re.compile(r"[+-]?[1-9][0-9]{0,2},[0-9]{3}")


def number_from_text(text: str, field_name: str) -> float:
    """A number written as a string: ``"72"``, ``" 72.5 "``, ``"1e3"``, and ``"72,5"`` (a decimal
    comma is taken only where it cannot be a thousands separator). Never NaN or Infinity."""
    stripped = text.strip()
    if _DOT_DECIMAL.fullmatch(stripped):
        return float(stripped)  # may be inf ("1e999"): the caller's finiteness check refuses it
    comma = _COMMA_DECIMAL.fullmatch(stripped)
    if comma is not None:
        if _THOUSANDS_LIKE.fullmatch(stripped):
            raise Reject(
                field_name,
                "ambiguous number: a comma before exactly three digits may separate thousands "
                "or decimals",
            )
        return float(f"{comma[1]}.{comma[2]}")
    if not stripped:
        raise Reject(field_name, "expected a number, got an empty string")
    if "," in stripped and ("." in stripped or stripped.count(",") > 1):
        raise Reject(field_name, "numbers with digit grouping (thousands separators) are refused")
    if stripped.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        raise Reject(field_name, "not a finite number")
    raise Reject(field_name, "expected a number, got a string that is not one")


def number_or_none(value: object) -> float | None:
    """A finite number from ``value`` when it holds one (as ``optional_number`` reads it), else
    None: for values that are kept elsewhere and only summarised here."""
    try:
        return optional_number(value, "")
    except Reject:
        return None


INT_MAX = 2**31 - 1  # an integer column


def optional_count(value: object, field_name: str) -> int | None:
    """A whole non-negative number that fits an integer column, or None when absent."""
    number_ = optional_number(value, field_name, non_negative=True)
    if number_ is None:
        return None
    if number_ > INT_MAX or not number_.is_integer():
        raise Reject(field_name, f"expected a whole number from 0 to {INT_MAX}")
    return int(number_)


def number(value: object, field_name: str, *, non_negative: bool = False) -> float:
    """A required finite number."""
    number_ = optional_number(value, field_name, non_negative=non_negative)
    if number_ is None:
        raise Reject(field_name, "missing")
    return number_


def text_or_none(value: object, field_name: str) -> str | None:
    """A text field of a point, at most ``TEXT_MAX`` characters, or None when absent."""
    if value is None:
        return None
    if isinstance(value, str):
        return bounded(value, field_name)
    raise Reject(field_name, f"expected a string, got {type(value).__name__}")


def bounded(text: str, field_name: str) -> str:
    """``text``, unless it is longer than any field of the format can be (see ``TEXT_MAX``)."""
    if len(text) > TEXT_MAX:
        raise Reject(field_name, f"longer than {TEXT_MAX} characters")
    return text


def bool_or_none(value: object, field_name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise Reject(field_name, f"expected true/false, got {type(value).__name__}")


def month_of(at: datetime) -> Month:
    return at.year, at.month


def to_json(value: Any) -> str | None:
    """jsonb parameter text, or None for an absent or empty value."""
    if value is None or value == {} or value == []:
        return None
    return _json_encoder.encode(value).decode()
