"""Localised labels -> canonical values, the words as sent kept beside them.

Health Auto Export writes some values in the phone's language (sleep stages, symptom
severities, state-of-mind kinds, labels and associations, medication status, cycle-tracking
values), some of them machine-translated. Stored as sent, one segment sent in two languages
would be two rows and every total that groups by the word would miss all but English.

The tables (``tables`` and ``mind``) hold, per field, each canonical value and the words that
mean it in English, German, French, Spanish, Italian, Dutch, Portuguese and Japanese: Apple
Health's own wording in each language, the app's English forms (the format reference and the
real samples: ``Core``, ``InBed``, ``In Bed``...), and the variants seen or plausible from
machine translation. Words are compared by ``match_key``: case, spaces, ``_``/``-``/``'`` and
Latin diacritics do not count, so ``InBed``, ``In Bed`` and ``inbed`` are one word.

The canonical value is what the English app writes where that is known (``Core``, ``Taken``,
``Mild``...) and HealthKit's own name in snake_case for state of mind (the app's English
``valenceClassification`` form). A word in no table is never dropped: it is stored as sent,
flagged for review and counted (``hae_labels_unmapped_total``, by field).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.ingest.normalise.labels import mind, tables

# Field names: the metric label of the unmapped counter and the quality report, so a closed set.
SLEEP_STAGE = "sleep_stage"
SYMPTOM_SEVERITY = "symptom_severity"
MIND_KIND = "state_of_mind_kind"
MIND_LABEL = "state_of_mind_label"
MIND_ASSOCIATION = "state_of_mind_association"
MIND_VALENCE = "state_of_mind_valence_classification"
MEDICATION_STATUS = "medication_status"
CYCLE_VALUE = "cycle_value"

# Marks that are part of a Japanese kana (voiced sounds), not an accent to drop.
_KANA_MARKS = frozenset("\u3099\u309a")
_IGNORED = str.maketrans("", "", " _-'\u2019.\u00a0\u202f\u3000・")


def match_key(word: str) -> str:
    """The form two spellings of one word share: no case, spacing, punctuation or accents."""
    decomposed = unicodedata.normalize("NFKD", word)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c) or c in _KANA_MARKS)
    return unicodedata.normalize("NFC", kept).casefold().translate(_IGNORED)


def _index(field: str, words: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """match key -> canonical value; a word claimed by two values is a table error."""
    index: dict[str, str] = {}
    for canonical, spellings in words.items():
        for word in (canonical, *spellings):
            key = match_key(word)
            known = index.setdefault(key, canonical)
            if known != canonical:
                raise ValueError(f"{field}: {word!r} means both {known!r} and {canonical!r}")
    return index


_INDEXES: dict[str, dict[str, str]] = {
    SLEEP_STAGE: _index(SLEEP_STAGE, tables.SLEEP_STAGES),
    SYMPTOM_SEVERITY: _index(SYMPTOM_SEVERITY, tables.SYMPTOM_SEVERITIES),
    MEDICATION_STATUS: _index(MEDICATION_STATUS, tables.MEDICATION_STATUSES),
    CYCLE_VALUE: _index(CYCLE_VALUE, tables.CYCLE_VALUES),
    MIND_KIND: _index(MIND_KIND, mind.KINDS),
    MIND_LABEL: _index(MIND_LABEL, mind.LABELS),
    MIND_ASSOCIATION: _index(MIND_ASSOCIATION, mind.ASSOCIATIONS),
    MIND_VALENCE: _index(MIND_VALENCE, mind.VALENCE_CLASSIFICATIONS),
}
FIELDS = frozenset(_INDEXES)


@dataclass(frozen=True, slots=True)
class Label:
    """A word read: the value to store and key on, and the word as sent when that differs."""

    value: str
    original: str | None  # None when the word was sent in its canonical form
    known: bool  # False: in no table, stored as sent


def canonical(field: str, word: str) -> Label:
    """The canonical value of ``word`` for ``field``, or ``word`` itself when no table has it."""
    found = _INDEXES[field].get(match_key(word))
    if found is None:
        return Label(word, None, known=False)
    return Label(found, None if found == word else word, known=True)


def canonical_or_none(field: str, word: str | None) -> str | None:
    """The canonical value when the word is known, else None (for reads that group by it)."""
    if word is None:
        return None
    found = canonical(field, word)
    return found.value if found.known else None
