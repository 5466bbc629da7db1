"""The metrics section into one ``SeriesWrite`` per series.

Before any series is normalised: every name's metric type id (one look-up for the body, then
remembered by the process), and for large series the digests of their bytes (one look-up): a
series applied before byte for byte, whose rows are all still stored, is reported unchanged
without being decoded further (see ``app.ingest.repository.digests``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine

from app.ingest import catalog
from app.ingest.decode import wire
from app.ingest.decode.items import NotAList, decode_items
from app.ingest.normalise import metrics as metric_series
from app.ingest.normalise.common import Context
from app.ingest.report.builder import ReportBuilder
from app.ingest.repository import catalog as catalog_sql
from app.ingest.repository import digests
from app.ingest.repository.tables import spec
from app.ingest.types import DigestCandidate, PendingDigest, PointError, SeriesWrite, UpsertResult

_series_decoder = msgspec.json.Decoder(wire.MetricSeries)
_METRIC_IDS_MAX = 100_000  # names remembered by the process (a type is never removed)
_ADMITTED_USERS_MAX = 10_000  # accounts whose admitted unknown names the process remembers

# (position in the section, the series as decoded)
Positioned = list[tuple[int, wire.MetricSeries]]


class MetricsSection:
    def __init__(self, engine: AsyncEngine, *, unknown_cap: int) -> None:
        self._engine = engine
        self._unknown_cap = unknown_cap
        self._ids: dict[str, int] = {}
        # user id -> unknown names admitted for that account (only ever grows; erasure of an
        # account deletes its rows, and a new account never reuses an id).
        self._admitted: dict[int, set[str]] = {}

    async def normalise(
        self, raw: msgspec.Raw, ctx: Context, report: ReportBuilder, *, use_digests: bool
    ) -> AsyncIterator[SeriesWrite]:
        decoded = _decode(raw, report)
        if decoded is None:
            return
        items, series_list = decoded
        names = sorted({(s.name, s.name in catalog.KNOWN) for _, s in series_list})
        ids = await self.metric_ids(ctx.user_id, names)
        report.unknown_metrics = sorted({n for n, known in names if not known and n in ids})
        series_list = _refuse_unadmitted(series_list, ids, report, self._unknown_cap)
        candidates = _digest_candidates(items, series_list, ids) if use_digests else {}
        hits = await self._known_digests(ctx.user_id, candidates)
        for position, series in series_list:
            candidate = candidates.get(position)
            hit = hits.get(candidate.digest) if candidate is not None else None
            if hit is not None:  # the same bytes, applied before, every row still stored
                report.add("metrics", series.name, received=hit.received)
                report.freshness.append(("metric", series.name, hit.last_at))
                continue
            normalised = _normalised(series, position, ctx, report, ids[series.name], candidate)
            if normalised is not None:
                yield normalised

    async def metric_ids(self, user_id: int, names: list[tuple[str, bool]]) -> dict[str, int]:
        """Ids of the metric names this account may store: every known name, and the unknown
        ones it stored before or may still add under its cap (the others are left out)."""
        unknown = [n for n, known in names if not known]
        admitted = self._admitted.get(user_id, set())
        missing = [(n, known) for n, known in names if n not in self._ids]
        if not missing and admitted.issuperset(unknown):
            return {n: self._ids[n] for n, _ in names}
        async with self._engine.begin() as conn:
            if not admitted.issuperset(unknown):
                admitted = await catalog_sql.admit_unknown(
                    conn, user_id, unknown, self._unknown_cap
                )
                self._remember_admitted(user_id, admitted)
            names = [(n, known) for n, known in names if known or n in admitted]
            found = await catalog_sql.metric_type_ids(
                conn, [(n, known) for n, known in names if n not in self._ids]
            )
        if len(self._ids) < _METRIC_IDS_MAX:
            self._ids.update(found)
        return {n: self._ids.get(n) or found[n] for n, _ in names}

    def _remember_admitted(self, user_id: int, admitted: set[str]) -> None:
        if len(self._admitted) >= _ADMITTED_USERS_MAX:
            self._admitted.clear()
        self._admitted[user_id] = self._admitted.get(user_id, set()) | admitted

    async def _known_digests(
        self, user_id: int, candidates: dict[int, DigestCandidate]
    ) -> dict[bytes, digests.Known]:
        if not candidates:
            return {}
        async with self._engine.connect() as conn:
            return await digests.known(conn, user_id, list(candidates.values()))


def _decode(raw: msgspec.Raw, report: ReportBuilder) -> tuple[list[msgspec.Raw], Positioned] | None:
    """(the items as sent, the ones that are metric series); rejections go to the report."""
    errors: list[PointError] = []
    try:
        items, _, _ = decode_items(raw, msgspec.Raw, section="metrics", name=None, errors=errors)
    except NotAList as exc:
        report.add("metrics", None, received=1, rejected=1)
        report.reject(
            [PointError("metrics", None, None, None, f"`metrics` must be an array: {exc}")]
        )
        return None
    series_list: Positioned = []
    for index, item in enumerate(items):
        try:
            series_list.append((index, _series_decoder.decode(item)))
        except msgspec.ValidationError as exc:
            report.add("metrics", None, received=1, rejected=1)
            report.reject([PointError("metrics", None, index, None, f"not a metric series: {exc}")])
    return items, series_list


def _refuse_unadmitted(
    series_list: Positioned, ids: dict[str, int], report: ReportBuilder, cap: int
) -> Positioned:
    """The series whose names may be stored; the others are rejected whole, with the reason."""
    kept: Positioned = []
    for position, series in series_list:
        if series.name in ids:
            kept.append((position, series))
            continue
        try:
            received = max(1, len(metric_series.decode_raw_points(series.data, series.name)))
        except NotAList:
            received = 1
        report.add("metrics", series.name, received=received, rejected=received)
        reason = (
            f"this account already stores {cap} distinct metric names without a typed mapping"
            " (HAE_MAX_UNKNOWN_METRICS_PER_USER); known metrics are not affected"
        )
        report.reject([PointError("metrics", series.name, position, "name", reason)])
    return kept


def _normalised(
    series: wire.MetricSeries,
    position: int,
    ctx: Context,
    report: ReportBuilder,
    metric_id: int,
    candidate: DigestCandidate | None,
) -> SeriesWrite | None:
    """One series normalised, ready to be written; None when its ``data`` is not even a list."""
    try:
        result = metric_series.normalise_series(
            series, ctx, metric_id, series.name in catalog.KNOWN
        )
    except NotAList as exc:
        report.add("metrics", series.name, received=1, rejected=1)
        reason = f"`data` must be an array: {exc}"
        report.reject([PointError("metrics", series.name, position, "data", reason)])
        return None
    digest = (
        PendingDigest(candidate, result.received, result.errors) if candidate is not None else None
    )
    done = partial(_series_written, report, result)
    return SeriesWrite("metrics", series.name, result.rows, done, digest)


def _series_written(
    report: ReportBuilder,
    result: metric_series.SeriesResult,
    written: list[UpsertResult] | None,
) -> None:
    report.reject(result.errors)  # after the write: a streamed series finds them then
    report.add(
        "metrics",
        result.name,
        received=result.received,
        inserted=sum(w.inserted for w in written) if written else 0,
        updated=sum(w.updated for w in written) if written else 0,
        rejected=result.rejected,
    )


def _digest_candidates(
    items: list[msgspec.Raw], series_list: Positioned, ids: dict[str, int]
) -> dict[int, DigestCandidate]:
    """Series large enough to be worth a digest, by position in ``metrics``."""
    found: dict[int, DigestCandidate] = {}
    for position, series in series_list:
        item = items[position]
        if len(item) < digests.MIN_BYTES:
            continue
        table = metric_series.table_for(series.name)
        if table is None or table not in digests.TABLES:
            continue
        series_id = ids[series.name] if "metric_id" in spec(table).prefix else 0
        found[position] = DigestCandidate(digests.digest_of(item), table, series_id)
    return found
