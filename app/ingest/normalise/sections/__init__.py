"""From decoded sections to what the write stage stores: each section's items are normalised by
the module of that section (``normalise.metrics``, ``normalise.workouts``, ``normalise.events``)
and handed on as a ``SeriesWrite`` per metric series or event section, or one ``WorkoutsWrite``,
with rejections noted in the report as they are found.

They come one at a time, so a large body's series are normalised and written in turn (the
per-series strategy writes each before the next is decoded)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec

from app.ingest.normalise import events as event_rows
from app.ingest.normalise import metrics as metric_series
from app.ingest.normalise.common import Context
from app.ingest.normalise.sections import events, workouts
from app.ingest.normalise.sections.metrics import MetricsSection
from app.ingest.report.builder import ReportBuilder
from app.ingest.types import Envelope, Normalised


async def normalise(
    envelope: Envelope,
    ctx: Context,
    report: ReportBuilder,
    metrics: MetricsSection,
    *,
    use_digests: bool,
) -> AsyncIterator[Normalised]:
    """What the body holds, normalised: metric series first, then workouts, then event sections."""
    sections = envelope.sections
    if "metrics" in sections:
        async for series in metrics.normalise(
            sections["metrics"], ctx, report, use_digests=use_digests
        ):
            yield series
    if "workouts" in sections:
        normalised_workouts = workouts.normalise(sections["workouts"], ctx, report)
        if normalised_workouts is not None:
            yield normalised_workouts
    for key in event_rows.SECTIONS:
        if key in sections:
            section = events.normalise(key, sections[key], ctx, report)
            if section is not None:
                yield section


# The fewest bytes a point can take (``{"date":1700000000,"qty":1}`` is 28): a series shorter
# than this many bytes per streaming threshold cannot have enough points to stream.
_MIN_POINT_BYTES = 24
_items = msgspec.json.Decoder(list[msgspec.Raw])


def may_stream(envelope: Envelope) -> bool:
    """Whether a metric series of the body may be long enough to be streamed (normalised while
    it is written, never all in memory): such a body is written series by series."""
    raw = envelope.sections.get("metrics")
    if raw is None or len(raw) < metric_series.STREAM_MIN_POINTS * _MIN_POINT_BYTES:
        return False
    try:
        items = _items.decode(raw)
    except msgspec.DecodeError:
        return False  # not a list: the metrics section reports it
    return any(len(item) >= metric_series.STREAM_MIN_POINTS * _MIN_POINT_BYTES for item in items)
