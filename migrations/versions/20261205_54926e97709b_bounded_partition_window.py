"""bounded partition window: month partitions only from a floor on; older rows in the default

A body dated 1900 to 2028 used to create a partition per month per table (thousands), until
PostgreSQL ran out of lock memory and other users' reads failed. Now each default partition
carries ``old_rows_only``, CHECK (time < floor): months before the floor get no partition of
their own (their rows live in the default), months from it on get one. The floor is read from
that constraint by ``hae_partition_floor`` (one source of truth for the SQL function and the
application), starts ten years back and is moved by the application's maintenance. Because the
validated constraint proves the default holds nothing of a new month, attaching a month never
scans it.

``hae_ensure_month_partition`` keeps its arguments; it now skips months before the floor,
creates a month as a standalone table and ATTACHes it (SHARE UPDATE EXCLUSIVE on the parent, so
concurrent writers and readers go on), waits at most a short lock_timeout, and reports whether
it created the partition.

Revision ID: 54926e97709b
Revises: 4d1e7a9c3b52
Create Date: 2026-12-05 06:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "54926e97709b"
down_revision: str | None = "4d1e7a9c3b52"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INITIAL_WINDOW_YEARS = 10

# Partitioned parents with the time column they are partitioned on, as of this revision.
_PARENTS_SQL = """
    SELECT c.relname AS parent, a.attname AS time_column
    FROM pg_partitioned_table p
    JOIN pg_class c ON c.oid = p.partrelid
    JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
    WHERE c.relnamespace = current_schema()::regnamespace AND NOT c.relispartition
"""

_FLOOR_FUNCTION = """
CREATE FUNCTION hae_partition_floor(parent text) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    -- While the floor moves, two such constraints exist for a moment: the tighter one holds.
    SELECT min(substring(pg_get_constraintdef(c.oid) FROM '''([^'']*)''')::timestamptz)
    FROM pg_constraint c
    WHERE c.conrelid = to_regclass(quote_ident(parent || '_default'))
      AND c.contype = 'c' AND c.conname LIKE 'old\\_rows\\_only%'
$$
"""

_ENSURE_FUNCTION = """
CREATE FUNCTION hae_ensure_month_partition(parent text, at timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    month_start timestamptz := date_trunc('month', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    -- Month arithmetic in UTC: on timestamptz it would follow the session's time zone.
    month_end timestamptz :=
        (date_trunc('month', at AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
    name text := parent || '_p' || to_char(at AT TIME ZONE 'UTC', 'YYYYMM');
    time_column text;
    saved_timeout text := current_setting('lock_timeout');
BEGIN
    IF to_regclass(quote_ident(name)) IS NOT NULL THEN
        RETURN false;
    END IF;
    IF month_start < hae_partition_floor(parent) THEN
        RETURN false;  -- older than the window: the default partition holds it
    END IF;
    -- Queued behind a long lock, this call would make every later writer queue behind it.
    IF saved_timeout = '0' OR saved_timeout::interval > interval '2 seconds' THEN
        PERFORM set_config('lock_timeout', '2s', true);
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('partition:' || parent));
    IF to_regclass(quote_ident(name)) IS NULL THEN
        SELECT a.attname INTO time_column
        FROM pg_partitioned_table p
        JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
        WHERE p.partrelid = to_regclass(quote_ident(parent));
        EXECUTE format(
            'CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS'
            ' INCLUDING GENERATED)', name, parent
        );
        -- Proves the new table's rows fit the month, so ATTACH need not scan it.
        EXECUTE format(
            'ALTER TABLE %I ADD CONSTRAINT month_bounds CHECK (%I >= %L AND %I < %L)',
            name, time_column, month_start, time_column, month_end
        );
        -- SHARE UPDATE EXCLUSIVE on the parent (CREATE ... PARTITION OF would take ACCESS
        -- EXCLUSIVE); the default's validated old_rows_only spares its scan.
        EXECUTE format(
            'ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
            parent, name, month_start, month_end
        );
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT month_bounds', name);
        IF parent = 'audit_log' THEN
            -- Statement triggers are not inherited: each partition refuses TRUNCATE itself.
            EXECUTE format(
                'CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON %I'
                ' FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()', name
            );
        END IF;
        PERFORM set_config('lock_timeout', saved_timeout, true);
        RETURN true;
    END IF;
    PERFORM set_config('lock_timeout', saved_timeout, true);
    RETURN false;  -- created by another transaction while we waited
END $$
"""

_OLD_ENSURE_FUNCTION = """
CREATE FUNCTION hae_ensure_month_partition(parent text, at timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    month_start timestamptz := date_trunc('month', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    name text := parent || '_p' || to_char(at AT TIME ZONE 'UTC', 'YYYYMM');
BEGIN
    IF to_regclass(quote_ident(name)) IS NOT NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('partition:' || parent));
    IF to_regclass(quote_ident(name)) IS NOT NULL THEN
        RETURN;  -- created by another transaction while we waited
    END IF;
    EXECUTE format(
        'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
        name, parent, month_start, month_start + interval '1 month'
    );
    IF parent = 'audit_log' THEN
        EXECUTE format(
            'CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON %I'
            ' FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()', name
        );
    END IF;
END $$
"""


def upgrade() -> None:
    op.execute(_FLOOR_FUNCTION)
    op.execute("DROP FUNCTION hae_ensure_month_partition(text, timestamptz)")
    op.execute(_ENSURE_FUNCTION)
    # The floor starts ten years back, or just after the newest row already in a default
    # partition (rows stranded there by a failed creation), so the constraint holds as added.
    op.execute(
        """
        DO $$
        DECLARE
            t record;
            newest timestamptz;
            floor timestamptz := date_trunc('month', (now() AT TIME ZONE 'UTC')
                - interval '$years years') AT TIME ZONE 'UTC';
        BEGIN
            FOR t IN $parents LOOP
                EXECUTE format('SELECT max(%I) FROM %I', t.time_column, t.parent || '_default')
                    INTO newest;
                IF newest IS NOT NULL THEN
                    newest := (date_trunc('month', newest AT TIME ZONE 'UTC')
                        + interval '1 month') AT TIME ZONE 'UTC';
                END IF;
                EXECUTE format(
                    'ALTER TABLE %I ADD CONSTRAINT old_rows_only CHECK (%I < %L)',
                    t.parent || '_default', t.time_column, greatest(floor, newest)
                );
            END LOOP;
        END $$
        """.replace("$years", str(INITIAL_WINDOW_YEARS)).replace("$parents", _PARENTS_SQL)
    )


def downgrade() -> None:
    op.execute(
        """
        DO $$
        DECLARE
            t record;
            k record;
        BEGIN
            FOR t IN $parents LOOP
                FOR k IN SELECT conname FROM pg_constraint
                    WHERE conrelid = to_regclass(quote_ident(t.parent || '_default'))
                      AND conname LIKE 'old\\_rows\\_only%'
                LOOP
                    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I',
                                   t.parent || '_default', k.conname);
                END LOOP;
            END LOOP;
        END $$
        """.replace("$years", str(INITIAL_WINDOW_YEARS)).replace("$parents", _PARENTS_SQL)
    )
    op.execute("DROP FUNCTION hae_ensure_month_partition(text, timestamptz)")
    op.execute(_OLD_ENSURE_FUNCTION)
    op.execute("DROP FUNCTION hae_partition_floor(text)")
