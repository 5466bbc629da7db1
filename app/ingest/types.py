"""The data that passes between the ingest stages, declared in one place.

receive -> ``RawIngestion`` (the archived body, also the job) -> decode -> ``Envelope`` (the
body's sections, still undecoded inside) -> normalise -> ``SeriesWrite`` / ``WorkoutsWrite``
(one series or section, its rows as ``Rows``, rejections as ``PointError``) -> write, as
``WriteUnit``s -> ``UpsertResult`` per table -> report -> the report dict, and ``Outcome`` for
the HTTP edge.

``Context`` (the ingestion a normaliser works for, and the flags it notes) is declared in
``normalise.common`` with the checks that use it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

Month = tuple[int, int]  # (year, month): a partition


@dataclass(slots=True)
class PointError:
    section: str
    name: str | None
    index: int | None
    field: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "name": self.name,
            "index": self.index,
            "field": self.field,
            "reason": self.reason,
        }


@dataclass(slots=True)
class Rows:
    """Rows for one table, in that table's ``COLUMNS`` order, with the months they touch."""

    table: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    months: set[Month] = field(default_factory=set)
    # Noted by the fast loops: the time range, and whether keys are known to be unique
    # (points strictly ordered in time within one series), which spares de-duplication.
    first_at: datetime | None = None
    last_at: datetime | None = None
    unique_keys: bool = False
    # A large series is not materialised: ``stream()`` yields its rows afresh each call (the
    # writer may have to start over), with the time range read off its first and last points
    # as a hint, and the key values every row shares (user_id, metric_id).
    stream: Callable[[], Iterator[tuple[Any, ...]]] | None = None
    hint: tuple[datetime, datetime] | None = None
    key_prefix: dict[str, Any] = field(default_factory=dict)
    # Set by the writer before a direct COPY: the stream raises OutOfHint on the first row outside
    # the hint or not after the previous one. ``count``: rows the last full run yielded.
    strict: bool = False
    count: int = 0


@dataclass(slots=True)
class Flag:
    """An improbable value, or a word no label table knows, stored and flagged for review."""

    table: str
    metric: str
    start_at: datetime
    value: float | None  # None for a word (``label``)
    unit: str | None
    reason: str
    label: str | None = None  # the label field of an unmapped word (labels.FIELDS)


class OutOfHint(Exception):
    """A streamed row fell outside the time range (or order) its series claimed."""


@dataclass(frozen=True, slots=True)
class DigestCandidate:
    """A series eligible for a digest: where its rows live and the digest of its bytes."""

    digest: bytes
    table: str
    series_id: int  # metric_id for tables that hold many metrics, else 0


@dataclass(slots=True)
class Workout:
    natural_key: str
    row: tuple[Any, ...]
    series: list[tuple[Any, ...]] = field(default_factory=list)  # workout_id still None
    series_months: set[tuple[int, int]] = field(default_factory=set)
    route: tuple[Any, ...] | None = None  # workout_id still None


@dataclass(slots=True)
class PendingDigest:
    """A digest candidate being written: recorded only if the series had no rejection."""

    candidate: DigestCandidate
    received: int
    errors: list[PointError]  # final once the series' rows have been written


# Called once a series is written (its result per part) or could not be (None).
SeriesDone = Callable[[list["UpsertResult"] | None], None]
# Called once workouts are written ((inserted, changed)) or could not be (None).
WorkoutsDone = Callable[[tuple[int, int] | None], None]


@dataclass(slots=True)
class SeriesWrite:
    """A normalised metric series or event section, for the time-series tables."""

    section: str
    name: str | None
    parts: list[Rows]
    done: SeriesDone
    digest: PendingDigest | None = None


@dataclass(slots=True)
class WorkoutsWrite:
    """The normalised workouts of a body, with their series and routes."""

    items: list[Workout]
    done: WorkoutsDone


Normalised = SeriesWrite | WorkoutsWrite


@dataclass(slots=True, frozen=True)
class Sender:
    """Who sent a body, and how: kept with the raw body in the archive."""

    user_id: int
    api_key_id: int | None
    headers: dict[str, str]
    content_type: str | None = None
    content_encoding: str | None = None


@dataclass(slots=True)
class RawIngestion:
    """A row of the raw archive: the body as received, and the job of processing it."""

    id: int
    user_id: int
    status: str
    report: dict[str, Any] | None
    error: str | None
    attempts: int = 0
    created: bool = False
    claimed: bool = False


@dataclass(slots=True, frozen=True)
class Envelope:
    """A decoded body: its top-level sections (each still raw JSON) by key."""

    sections: dict[str, msgspec.Raw]
    # What was changed to make the body storable (NUL, lone surrogates): for the report.
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True, frozen=True)
class Job:
    """One processing attempt of an archived body."""

    ingestion_id: int
    user_id: int
    size: int
    attempts: int
    use_digests: bool


@dataclass(slots=True)
class UpsertResult:
    """What one write did to one table."""

    received: int
    inserted: int
    updated: int
    inserted_keys: list[Any]
    updated_keys: list[Any]
    direct: bool = False  # COPYed straight into an empty range: the rows stored are these

    @property
    def unchanged(self) -> int:
        return self.received - self.inserted - self.updated


class WriteUnit(Protocol):
    """One series or section, normalised and ready to be written in a transaction."""

    @property
    def parts(self) -> list[Rows]:
        """The rows per table (a streamed series: rows produced while they are written)."""

    @property
    def probes(self) -> list[Rows]:
        """Rows whose ranges are probed for stored data before the write (see ``empty``)."""

    @property
    def label(self) -> str:
        """``section`` or ``section:name``, as a storage failure is reported."""

    async def write(
        self, conn: AsyncConnection, held: frozenset[str], empty: dict[int, bool]
    ) -> list[str]:
        """Write in ``conn``'s transaction (``held``: writer locks it holds; ``empty``: whether
        each of its ``probes`` meets nothing stored, by id); the metrics newly flagged."""

    def settle(self) -> None:
        """Its write stands: count it in the report, note its freshness, drop its rows.
        Called after the commit of its own transaction, or, when the whole body is one
        transaction, before the outcome is recorded in it (a failure then discards the attempt
        and its report together)."""

    def failed(self) -> None:
        """It could not be stored: count it so, and drop its rows."""


@dataclass(slots=True)
class Outcome:
    """What the HTTP edge answers for a body."""

    ingestion_id: int
    report: dict[str, Any] | None  # None: archived and queued for the worker (202)


@dataclass(slots=True)
class Attempt:
    """A finished processing attempt: the report, and what to count once it is committed."""

    result: dict[str, Any]
    flagged: list[str] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
