"""canonical labels: localised words stored canonical, the words as sent kept in originals

Rows stored before keep working with rows stored after: their localised words are rewritten to
the canonical values (the word kept in ``originals``), and where that makes two rows of one
record (a segment stored once as ``Kern`` and once as ``Core``), the one in the canonical form
is kept (else the latest). Otherwise a German phone re-sending its history would now add a
``Core`` row beside every ``Kern`` row stored before. The downgrade puts the words back.

Revision ID: 7a3c51e2b9d4
Revises: 54926e97709b
Create Date: 2026-12-05 07:40:00.000000
"""

# ruff: noqa: S608 - SQL composed from the constant identifiers below; words are bound values.

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "7a3c51e2b9d4"
down_revision: str | None = "54926e97709b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Partitioned parents: a column added to one is added to every partition.
_LABELLED = ("sleep_segments", "symptoms", "state_of_mind", "medications", "cycle_tracking")
# (table, column, wire field, label field)
_WORDS = (
    ("sleep_segments", "stage", "value", "sleep_stage"),
    ("symptoms", "severity", "severity", "symptom_severity"),
    ("medications", "status", "status", "medication_status"),
    ("cycle_tracking", "value", "value", "cycle_value"),
    ("state_of_mind", "kind", "kind", "state_of_mind_kind"),
    ("state_of_mind", "valence_classification", "valenceClassification",
     "state_of_mind_valence_classification"),
)  # fmt: skip
_LISTS = (
    ("state_of_mind", "labels", "labels", "state_of_mind_label"),
    ("state_of_mind", "associations", "associations", "state_of_mind_association"),
)
# The unique key of a table whose key holds a labelled column, less that column.
_KEYS = {
    "sleep_segments": ("user_id", "start_at", "end_at", "source"),
    "state_of_mind": ("user_id", "start_at", "external_id"),
}
_MAPPING = "SELECT * FROM unnest(CAST(:sent AS text[]), CAST(:canon AS text[])) AS m(sent, canon)"
_EMPTY = "CAST('{}' AS jsonb)"


def _mapping(words_sql: str, field: str) -> dict[str, list[str]]:
    """The stored words of ``field`` that a label table maps to another value."""
    # The tables as they are when the migration runs: an upgrade maps all they know.
    from app.ingest.normalise.labels import canonical

    sent, canon = [], []
    for word in op.get_bind().execute(sa.text(words_sql)).scalars():
        label = canonical(field, word)
        if label.original is not None:
            sent.append(word)
            canon.append(label.value)
    return {"sent": sent, "canon": canon}


def _drop_twins(table: str, column: str, mapping: dict[str, list[str]]) -> None:
    """Of rows that become one record once canonical, keep one (canonical form first)."""
    key = ", ".join(f"s.{c}" for c in _KEYS[table])
    op.get_bind().execute(
        sa.text(
            f"WITH m AS ({_MAPPING}), ranked AS ("
            f" SELECT s.tableoid AS part, s.ctid AS row_id, row_number() OVER ("
            f"  PARTITION BY {key}, coalesce(m.canon, s.{column})"
            f"  ORDER BY (m.sent IS NULL) DESC, s.ingestion_id DESC) AS n"
            f" FROM {table} s LEFT JOIN m ON m.sent = s.{column}"
            f" WHERE s.{column} IN (SELECT sent FROM m UNION SELECT canon FROM m))"
            f" DELETE FROM {table} s USING ranked r"
            " WHERE s.tableoid = r.part AND s.ctid = r.row_id AND r.n > 1"
        ),
        mapping,
    )


def _canonical_words(table: str, column: str, key: str, field: str) -> None:
    mapping = _mapping(f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL", field)
    if not mapping["sent"]:
        return
    if table in _KEYS:
        _drop_twins(table, column, mapping)
    op.get_bind().execute(
        sa.text(
            f"WITH m AS ({_MAPPING}) UPDATE {table} s SET {column} = m.canon,"
            f" originals = coalesce(s.originals, {_EMPTY}) || jsonb_build_object(CAST(:key AS text), s.{column})"
            f" FROM m WHERE s.{column} = m.sent"
        ),
        {**mapping, "key": key},
    )


def _canonical_lists(table: str, column: str, key: str, field: str) -> None:
    mapping = _mapping(f"SELECT DISTINCT unnest({column}) FROM {table}", field)
    if not mapping["sent"]:
        return
    op.get_bind().execute(
        sa.text(
            f"UPDATE {table} s SET {column} = ARRAY("
            f" SELECT coalesce(m.canon, u.word) FROM unnest(s.{column}) WITH ORDINALITY u(word, i)"
            f" LEFT JOIN ({_MAPPING}) m ON m.sent = u.word ORDER BY u.i),"
            f" originals = coalesce(s.originals, {_EMPTY}) || jsonb_build_object(CAST(:key AS text), s.{column})"
            f" WHERE s.{column} && CAST(:sent AS text[])"
        ),
        {**mapping, "key": key},
    )


def upgrade() -> None:
    for table in _LABELLED:
        op.add_column(table, sa.Column("originals", postgresql.JSONB(), nullable=True))
    # A flagged word has no number.
    op.alter_column("quality_flags", "value", existing_type=sa.Double(), nullable=True)
    for table, column, key, field in _WORDS:
        _canonical_words(table, column, key, field)
    for table, column, key, field in _LISTS:
        _canonical_lists(table, column, key, field)


def downgrade() -> None:
    for table, column, key, _ in _WORDS:
        op.execute(
            f"UPDATE {table} SET {column} = originals ->> '{key}'"
            f" WHERE originals ->> '{key}' IS NOT NULL"
        )
    for table, column, key, _ in _LISTS:
        op.execute(
            f"UPDATE {table} SET {column} = ARRAY("
            f"SELECT jsonb_array_elements_text(originals -> '{key}'))"
            f" WHERE originals -> '{key}' IS NOT NULL"
        )
    op.execute("DELETE FROM quality_flags WHERE value IS NULL")
    op.alter_column("quality_flags", "value", existing_type=sa.Double(), nullable=False)
    for table in _LABELLED:
        op.drop_column(table, "originals")
