"""Event sections (symptoms, ECG, notifications, state of mind, medications, cycle tracking)
into one ``SeriesWrite`` each."""

from __future__ import annotations

import msgspec

from app.ingest.decode.items import NotAList, decode_items
from app.ingest.normalise import events as event_rows
from app.ingest.normalise.common import Context, Reject, month_of
from app.ingest.report.builder import ReportBuilder
from app.ingest.types import PointError, Rows, SeriesWrite, UpsertResult


def normalise(
    key: str, raw: msgspec.Raw, ctx: Context, report: ReportBuilder
) -> SeriesWrite | None:
    """The section's rows, ready to be written; None when the section is not even a list."""
    table, columns, build = event_rows.SECTIONS[key]
    errors: list[PointError] = []
    try:
        items, indexes, received = decode_items(raw, dict, section=key, name=None, errors=errors)
    except NotAList as exc:
        report.add(key, None, received=1, rejected=1)
        report.reject([PointError(key, None, None, None, f"`{key}` must be an array: {exc}")])
        return None
    rows = Rows(table, columns)
    for i, item in enumerate(items):
        try:
            row = build(item, ctx)
        except Reject as exc:
            name = item.get("name")
            index = indexes[i] if indexes is not None else i
            errors.append(
                PointError(
                    key, name if isinstance(name, str) else None, index, exc.field, exc.reason
                )
            )
            continue
        rows.rows.append(row)
        rows.months.add(month_of(row[1]))
    report.reject(errors)

    def done(written: list[UpsertResult] | None) -> None:
        report.add(
            key,
            None,
            received=received,
            inserted=written[0].inserted if written else 0,
            updated=written[0].updated if written else 0,
            rejected=len(errors),
        )

    return SeriesWrite(key, None, [rows], done)
