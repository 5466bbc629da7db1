"""The data that passes between the ingest stages, declared in one place.

receive -> ``RawIngestion`` (the archived body, also the job) -> decode -> ``Envelope`` (the
body's sections, still undecoded inside) -> normalise -> ``WriteUnit``s (one series or section,
its rows as ``Rows``, rejections as ``PointError``) -> write -> ``UpsertResult`` per table ->
report -> the report dict, and ``Outcome`` for the HTTP edge.

``Rows``, ``PointError``, ``Context`` and ``Flag`` are declared in ``normalise.common``, where
every normaliser builds them; they are named here too so a reader finds every stage's
currency in one file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from app.ingest.normalise.common import Context, Flag, PointError, Rows

__all__ = [
    "Attempt",
    "Context",
    "Envelope",
    "Flag",
    "Job",
    "Outcome",
    "PointError",
    "RawIngestion",
    "Rows",
    "UpsertResult",
    "WriteUnit",
]


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
