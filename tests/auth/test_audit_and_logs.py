"""The audit trail (written with the action, append-only, searchable from the CLI) and the logs
(never a key secret, never a health value)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
import structlog
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import service as auth_service
from app.db.engine import create_sessionmaker
from tests.auth.conftest import MakeKey
from tests.auth.support import assert_problem, bearer, payload, well_formed_key


async def audit_rows(db: Any, **where: Any) -> list[Any]:
    clauses = " AND ".join(f"{column} = :{column}" for column in where) or "true"
    rows: list[Any] = await db(
        f"SELECT occurred_at, user_id, api_key_id, action, details, details::text AS raw"  # noqa: S608
        f" FROM audit_log WHERE {clauses} ORDER BY occurred_at, id",
        **where,
    )
    return rows


# --- audit records -----------------------------------------------------------------------------


async def test_cli_lifecycle_actions_are_audited_without_secrets(cli: Any, db: Any) -> None:
    assert (await cli("users", "create", "erin")).code == 0
    created = await cli("keys", "create", "erin", "--scope", "write", "--scope", "read")
    token = created.last_line
    key_id = token.split("_")[1]
    rotated = await cli("keys", "rotate", key_id, "--grace-hours", "2")
    new_token = rotated.last_line
    new_key_id = new_token.split("_")[1]
    assert (await cli("keys", "revoke", new_key_id)).code == 0
    assert (await cli("users", "disable", "erin")).code == 0

    user_id = (await db("SELECT id FROM users WHERE name = 'erin'"))[0]["id"]
    ids = {r["key_id"]: r["id"] for r in await db("SELECT id, key_id FROM api_keys")}
    rows = await audit_rows(db, user_id=user_id)

    assert [(r["action"], r["api_key_id"]) for r in rows] == [
        ("user.created", None),
        ("key.created", ids[key_id]),
        ("key.created", ids[new_key_id]),
        ("key.rotated", ids[key_id]),
        ("key.revoked", ids[new_key_id]),
        ("user.disabled", None),
    ]
    assert rows[1]["details"] == {"key_id": key_id, "scopes": ["read", "write"]}
    assert rows[3]["details"]["new_key_id"] == new_key_id
    everything = " ".join(r["raw"] for r in await audit_rows(db))
    for secret in (token.rsplit("_", 1)[1], new_token.rsplit("_", 1)[1]):
        assert secret not in everything
    hashes = [r["secret_hash"] for r in await db("SELECT secret_hash FROM api_keys")]
    assert all(h not in everything for h in hashes)


async def test_audit_record_commits_or_rolls_back_with_its_action(
    engine: AsyncEngine, db: Any
) -> None:
    sessions = create_sessionmaker(engine)
    async with sessions() as session:
        await session.begin()
        user = await auth_service.create_user(session, "frank")
        await auth_service.create_key(session, user)
        await session.rollback()

    assert await db("SELECT id FROM users") == []
    assert await db("SELECT id FROM api_keys") == []
    assert await audit_rows(db) == []


async def test_each_ingest_is_audited_with_its_id_bytes_and_totals(
    client: httpx.AsyncClient, new_key: MakeKey, db: Any
) -> None:
    key = await new_key()
    body = json.dumps(payload(points=4, seed=3)).encode()

    resp = await client.post(
        "/v1/ingest", content=body, headers={**key.headers, "Content-Type": "application/json"}
    )

    assert resp.status_code == 200, resp.text
    report = resp.json()
    rows = await audit_rows(db, action="ingest")
    assert len(rows) == 1
    row = rows[0]
    assert row["user_id"] == key.user_id
    assert row["details"]["ingestion_id"] == report["ingestion_id"]
    assert row["details"]["bytes"] == len(body)
    assert row["details"]["totals"] == report["totals"]
    assert row["details"]["totals"]["inserted"] == 4
    ingestion = await db(
        "SELECT received_at FROM raw_ingestions WHERE id = :i", i=report["ingestion_id"]
    )
    assert ingestion, "the ingestion is archived"


async def current_partition(db: Any) -> str:
    rows = await db(
        "SELECT tableoid::regclass::text AS name FROM audit_log ORDER BY occurred_at DESC LIMIT 1"
    )
    return str(rows[0]["name"])


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {table} SET action = 'forged'",
        "UPDATE {table} SET details = '{{}}'::jsonb",
        "DELETE FROM {table}",
        "TRUNCATE {table}",
    ],
    ids=["update_action", "update_details", "delete", "truncate"],
)
@pytest.mark.parametrize("target", ["parent", "partition"])
async def test_audit_log_is_append_only(
    statement: str, target: str, cli: Any, engine: AsyncEngine, db: Any
) -> None:
    assert (await cli("users", "create", "gina")).code == 0
    table = "audit_log" if target == "parent" else await current_partition(db)
    assert table != "audit_log_default"

    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            with pytest.raises(DBAPIError, match="append-only"):
                await conn.execute(text(statement.format(table=table)))
        finally:
            await transaction.rollback()

    assert [r["action"] for r in await audit_rows(db)] == ["user.created"]


async def test_every_audit_partition_refuses_truncate(cli: Any, db: Any) -> None:
    # TRUNCATE triggers are not inherited: each partition, the default one included, needs its own.
    assert (await cli("users", "create", "gina")).code == 0
    rows = await db(
        "SELECT c.relname AS name, EXISTS ("
        "  SELECT 1 FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid"
        "  WHERE t.tgrelid = c.oid AND p.proname = 'audit_log_append_only'"
        "  AND (t.tgtype & 32) <> 0"  # TRIGGER_TYPE_TRUNCATE
        ") AS guarded"
        " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'audit_log'::regclass ORDER BY 1"
    )
    names = [r["name"] for r in rows]
    assert "audit_log_default" in names
    assert len(names) >= 2, names  # this month's partition exists too
    assert [r["name"] for r in rows if not r["guarded"]] == []


async def test_cli_audit_filters_by_user_and_time(cli: Any, db: Any) -> None:
    for name in ("hana", "ivan"):
        assert (await cli("users", "create", name)).code == 0
        assert (await cli("keys", "create", name)).code == 0
    boundary: datetime = (await db("SELECT clock_timestamp() AS t"))[0]["t"]
    created = await cli("keys", "create", "hana")
    later_key_id = created.last_line.split("_")[1]
    assert (await cli("keys", "revoke", later_key_id)).code == 0
    assert (await cli("keys", "create", "ivan")).code == 0

    since = await cli("audit", "--user", "hana", "--since", boundary.isoformat())
    until = await cli("audit", "--user", "hana", "--until", boundary.isoformat())
    revoked = await cli("audit", "--action", "key.revoked")

    hana = (await db("SELECT id FROM users WHERE name = 'hana'"))[0]["id"]
    after = [json.loads(line) for line in since.out.splitlines()]
    before = [json.loads(line) for line in until.out.splitlines()]
    assert since.code == until.code == 0
    # Newest first.
    assert [r["action"] for r in after] == ["key.revoked", "key.created"]
    assert [r["action"] for r in before] == ["key.created", "user.created"]
    assert {r["user_id"] for r in after + before} == {hana}
    assert all(datetime.fromisoformat(r["occurred_at"]) >= boundary for r in after)
    assert all(datetime.fromisoformat(r["occurred_at"]) < boundary for r in before)
    assert [r["details"]["key_id"] for r in map(json.loads, revoked.out.splitlines())] == [
        later_key_id
    ]
    assert (await cli("audit", "--user", "nobody")).code == 4


# --- logs --------------------------------------------------------------------------------------


class Capture(logging.Handler):
    """Every log line, formatted as the application formats it."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines(app: Any) -> Iterator[list[str]]:
    root = logging.getLogger()
    formatter = next(
        h.formatter
        for h in root.handlers
        if isinstance(h.formatter, structlog.stdlib.ProcessorFormatter)
    )
    capture = Capture(formatter)
    level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)  # stricter than production: debug lines must be clean too
    try:
        yield capture.lines
    finally:
        root.removeHandler(capture)
        root.setLevel(level)


SOURCE = "SecretSourceXYZ"
QTY = 98765.4321
DEVICE = "SecretDeviceQWE"


def distinctive_payload() -> dict[str, Any]:
    return {
        "data": {
            "metrics": [
                {
                    "name": "step_count",
                    "units": "count",
                    "data": [
                        {"date": "2023-01-20 00:00:00 +1100", "qty": QTY, "source": SOURCE},
                        # Rejected points: their values must not reach a log line either.
                        {"date": "2023-01-20 00:01:00 +1100", "qty": "SecretQtyTextXYZ"},
                        {"date": "SecretDateXYZ", "qty": 1234.5678},
                    ],
                },
                {"name": "SecretMetricNameXYZ", "units": "SecretUnitXYZ", "data": [{"qty": 1}]},
            ],
            "workouts": [{"name": "SecretWorkoutXYZ", "location": DEVICE}],
        }
    }


async def test_logs_contain_no_key_secret_and_no_payload_value(
    client: httpx.AsyncClient, new_key: MakeKey, log_lines: list[str]
) -> None:
    key = await new_key()
    wrong = well_formed_key(key.key_id)
    unknown = well_formed_key()
    malformed = "hae_notakeyid_SecretMalformedTokenXYZ"
    body = distinctive_payload()

    ok = await client.post("/v1/ingest", json=body, headers=key.headers)
    again = await client.post("/v1/ingest", json=body, headers={"X-API-Key": key.token})
    refusals = [
        await client.post("/v1/ingest", json=body, headers=bearer(token))
        for token in (wrong, unknown, malformed)
    ]
    broken = await client.post(
        "/v1/ingest",
        content=b'{"data": {"metrics": [{"name": "' + SOURCE.encode() + b'", "qty": 98765.4321',
        headers={**key.headers, "Content-Type": "application/json"},
    )
    no_envelope = await client.post(
        "/v1/ingest", json={"qty": QTY, "source": SOURCE}, headers=key.headers
    )

    assert ok.status_code == again.status_code == 200, ok.text
    for resp in refusals:
        problem = assert_problem(resp, 401)
        assert key.secret not in resp.text
        assert SOURCE not in resp.text
        assert problem["detail"] == "invalid API key"
    assert_problem(broken, 400)
    assert_problem(no_envelope, 422)
    for resp in (broken, no_envelope):
        assert SOURCE not in resp.text
        assert "98765" not in resp.text

    output = "\n".join(log_lines)
    # The capture works: it holds the events of both kinds.
    assert "auth.failed" in output, output
    assert "ingest.processed" in output, output
    forbidden = [
        key.secret,
        key.token,
        wrong.rsplit("_", 1)[1],
        unknown.rsplit("_", 1)[1],
        "SecretMalformedTokenXYZ",
        SOURCE,
        DEVICE,
        "98765",
        "1234.5678",
        "SecretQtyTextXYZ",
        "SecretDateXYZ",
        "SecretWorkoutXYZ",
        "SecretUnitXYZ",
    ]
    leaked = {word: [line for line in log_lines if word in line] for word in forbidden}
    assert not {word: lines for word, lines in leaked.items() if lines}
