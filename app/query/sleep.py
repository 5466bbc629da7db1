"""Sleep reads: nights with the aggregated records as sent, stage totals from segments, and
the segments themselves.

A night runs noon to noon and is named for the day it ends on (the app's own naming of
aggregated nights), in the offset each record was made in or in ``tz``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from app.ingest.normalise import labels
from app.query import cursor, repository
from app.query.cache import Json, JsonValue
from app.query.errors import InvalidQuery
from app.query.repository import SleepQuery
from app.query.timerange import fixed, iso, parse_bound, parse_tz, within_limits

MAX_NIGHTS = 366


class SleepService:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def nights(
        self,
        user_id: int,
        *,
        start: str | None,
        end: str | None,
        tz: str | None,
        segments: bool,
        page: str | None,
        limit: int,
    ) -> Json:
        """Nights (noon to noon, named for the day they end) with stage totals and segments."""
        q, query_id = _sleep_query(user_id, start, end, tz, page, limit)
        async with self._engine.connect() as conn:
            nights = await repository.sleep_nights(conn, q)
            more = len(nights) > limit
            nights = nights[:limit]
            records = (
                await repository.sleep_records(conn, q, nights[0], nights[-1]) if nights else []
            )
            pieces = (
                await repository.sleep_segments(conn, q, nights[0], nights[-1]) if nights else []
            )
        items = _assemble(nights, records, pieces, q.tz, segments)
        next_page = cursor.encode("sleep", query_id, [nights[-1].isoformat()]) if more else None
        return {"tz": q.tz, "nights": items, "next_cursor": next_page}


def _sleep_query(
    user_id: int, start: str | None, end: str | None, tz: str | None, page: str | None, limit: int
) -> tuple[SleepQuery, str]:
    """The validated query, and its fingerprint for cursors."""
    if not 1 <= limit <= MAX_NIGHTS:
        raise InvalidQuery(f"`limit` must be 1-{MAX_NIGHTS}", field="limit")
    zone = parse_tz(tz)
    lo, hi = _night_bound(start, "from"), _night_bound(end, "to")
    if lo is not None and hi is not None and hi <= lo:
        raise InvalidQuery("`to` must be after `from`", field="to")
    query_id = cursor.fingerprint("sleep", start, end, zone)
    after = cursor.decode(page, "sleep", query_id)
    try:
        last = date.fromisoformat(str(after[0])) if after else None
        if last is not None and not within_limits(last):
            raise ValueError("night out of range")
    except ValueError:
        raise InvalidQuery("`cursor` is not a cursor of this query", field="cursor") from None
    return SleepQuery(user_id=user_id, lo=lo, hi=hi, tz=zone, limit=limit, after=last), query_id


def _assemble(
    nights: list[date],
    records: Sequence[RowMapping],
    pieces: Sequence[RowMapping],
    zone: str | None,
    segments: bool,
) -> list[JsonValue]:
    """Each night with its aggregated records, totals from its segments, and the segments."""
    out: dict[date, dict[str, list[JsonValue]]] = {
        night: {"records": [], "from_segments": [], "segments": []} for night in nights
    }
    for row in records:
        if row["night"] in out:
            out[row["night"]]["records"].append(_night_record(row, zone))
    by_source: dict[tuple[date, str | None], list[RowMapping]] = {}
    for row in pieces:
        if row["night"] in out:
            by_source.setdefault((row["night"], row["source"]), []).append(row)
            if segments:
                out[row["night"]]["segments"].append(_segment(row, zone))
    for (night, source), rows in by_source.items():
        out[night]["from_segments"].append(_segment_totals(source, rows, zone))
    return [
        {"night": night.isoformat(), **parts} if segments else
        {"night": night.isoformat(), "records": parts["records"],
         "from_segments": parts["from_segments"]}
        for night, parts in out.items()
    ]  # fmt: skip


def _night_bound(value: str | None, field: str) -> date | None:
    """A night as written: ``2023-01-20``, or the date part of a date-time (in its own offset)."""
    if parse_bound(value, field) is None or value is None:
        return None
    return date.fromisoformat(value.strip()[:10])


def _night_record(row: RowMapping, tz: str | None) -> JsonValue:
    offset = row["utc_offset_min"]
    bounds = row["bound_offsets_min"] or [offset] * 4
    names = ("sleep_start", "sleep_end", "in_bed_start", "in_bed_end")
    record: dict[str, JsonValue] = {
        "date": row["night_at"].astimezone(fixed(offset)).date().isoformat()
        if row["night_is_date_only"]
        else iso(row["night_at"], offset, tz),
        "source": row["source"],
    }
    for name, bound_offset in zip(names, bounds, strict=True):
        record[name] = iso(row[f"{name}_at"], bound_offset or offset, tz)
    for column in ("asleep", "core", "deep", "rem", "awake", "in_bed", "total_sleep", "unit"):
        record[column] = row[column]
    record["sleep_source"] = row["sleep_source"]
    record["in_bed_source"] = row["in_bed_source"]
    return record


def _segment(row: RowMapping, tz: str | None) -> JsonValue:
    return {
        "start": iso(row["start_at"], row["utc_offset_min"], tz),
        "end": iso(row["end_at"], row["end_offset_min"], tz),
        "stage": row["stage"],
        "qty": row["qty"],
        "unit": row["unit"],
        "source": row["source"],
    }


# canonical stage (normalise.labels) -> its total
_STAGES = {
    "Core": "core",
    "Deep": "deep",
    "REM": "rem",
    "Awake": "awake",
    "InBed": "in_bed",
    "Asleep": "asleep",
}


def _segment_totals(source: str | None, rows: list[RowMapping], tz: str | None) -> JsonValue:
    """Hours per stage from the segments' own bounds; total_sleep = asleep+core+deep+rem."""
    totals = dict.fromkeys(("asleep", "core", "deep", "rem", "awake", "in_bed"), 0.0)
    other: dict[str, float] = {}
    asleep = [r for r in rows if _total_of(r["stage"]) not in ("in_bed", "awake")]
    in_bed = [r for r in rows if _total_of(r["stage"]) == "in_bed"]
    for row in rows:
        hours = (row["end_at"] - row["start_at"]).total_seconds() / 3600
        stage = _total_of(row["stage"])
        if stage is None:
            other[row["stage"]] = other.get(row["stage"], 0.0) + hours
        else:
            totals[stage] += hours
    first = min(asleep, key=lambda r: r["start_at"]) if asleep else None
    last = max(asleep, key=lambda r: r["end_at"]) if asleep else None
    bed_first = min(in_bed, key=lambda r: r["start_at"]) if in_bed else None
    bed_last = max(in_bed, key=lambda r: r["end_at"]) if in_bed else None
    out: dict[str, JsonValue] = {
        "source": source,
        "unit": "hr",
        **totals,
        "total_sleep": totals["asleep"] + totals["core"] + totals["deep"] + totals["rem"],
        "sleep_start": _bound(first, "start", tz),
        "sleep_end": _bound(last, "end", tz),
        "in_bed_start": _bound(bed_first, "start", tz),
        "in_bed_end": _bound(bed_last, "end", tz),
        "segment_count": len(rows),
    }
    if other:
        out["other_stages"] = other
    return out


def _bound(row: RowMapping | None, which: str, tz: str | None) -> str | None:
    if row is None:
        return None
    offset = row["utc_offset_min"] if which == "start" else row["end_offset_min"]
    return iso(row[f"{which}_at"], offset, tz)


def _total_of(stage: str) -> str | None:
    """The total a stage counts in, by its canonical value: rows stored before stages were
    canonical (a German ``Kern``) count as well."""
    canonical = labels.canonical_or_none(labels.SLEEP_STAGE, stage)
    return None if canonical is None else _STAGES.get(canonical)
