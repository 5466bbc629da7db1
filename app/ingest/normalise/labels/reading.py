"""Reading the labels of one record: canonical values for its columns, the words as sent for its
``originals`` column, and a quality flag for each word no table knows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.ingest.normalise.common import Context, to_json
from app.ingest.normalise.labels import canonical
from app.ingest.types import Flag


class Originals:
    """The labels of one record (a row of ``table``, flagged under ``metric`` at ``at``).

    ``originals`` is keyed by the wire field, so an export splices the words back where they
    were sent."""

    __slots__ = ("_at", "_ctx", "_metric", "_sent", "_table")

    def __init__(self, ctx: Context, table: str, metric: str, at: datetime) -> None:
        self._ctx = ctx
        self._table = table
        self._metric = metric
        self._at = at
        self._sent: dict[str, Any] = {}

    def word(self, field: str, key: str, word: str | None) -> str | None:
        """The canonical value of one word (None stays None)."""
        if word is None:
            return None
        value, original = self._read(field, key, word)
        if original is not None:
            self._sent[key] = original
        return value

    def words(self, field: str, key: str, words: list[str] | None) -> list[str] | None:
        """The canonical values of a list of words, the list as sent kept if any differs."""
        if words is None:
            return None
        read = [self._read(field, key, word) for word in words]
        if any(original is not None for _, original in read):
            self._sent[key] = words
        return [value for value, _ in read]

    def json(self) -> str | None:
        """The ``originals`` column: the words sent in another form than their canonical one."""
        return to_json(self._sent)

    def _read(self, field: str, key: str, word: str) -> tuple[str, str | None]:
        label = canonical(field, word)
        if not label.known:
            reason = f"{key}: unmapped {field} label {word!r}"
            flag = Flag(self._table, self._metric, self._at, None, None, reason, label=field)
            self._ctx.flags.append(flag)
        return label.value, label.original
