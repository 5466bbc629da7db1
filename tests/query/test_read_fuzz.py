"""A generated battery over every GET operation of the OpenAPI, against the real app with a real
key and stored data: the schema's own cases with their date, zone, cursor, limit and path
parameters replaced by hostile values (calendar ends moved by offsets and zones, NUL, unknown
zones, forged cursors, huge numbers). Seeded and bounded; no answer may be a 5xx, and every
refusal is problem+json.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.python import asgi

from app.auth import service as auth_service
from app.config import Settings
from app.db.engine import create_sessionmaker
from app.main import create_app
from app.query import cursor
from tests.query.support import bearer, store_sample

EXAMPLES_PER_OPERATION = 20  # x ~15 GET operations: a few hundred requests, ~15 s

OFFSETS = ["", "Z", "+14:00", "-12:00", "+18:00", "-18:00", " 11:00", "+00:00"]
EXTREMES = [datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59), datetime(2, 1, 1)]  # noqa: DTZ001


def _stamp(moment: datetime, offset: str, date_only: bool) -> str:
    return moment.date().isoformat() if date_only else moment.isoformat() + offset


dates = st.one_of(
    st.builds(_stamp, st.sampled_from(EXTREMES), st.sampled_from(OFFSETS), st.booleans()),
    st.builds(
        _stamp,
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),  # noqa: DTZ001
        st.sampled_from(OFFSETS),
        st.booleans(),
    ),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),  # epoch ms, for /api
    st.text(max_size=30),
)
zones = st.one_of(
    st.sampled_from(
        ["Pacific/Kiritimati", "Etc/GMT+12", "Etc/GMT-14", "UTC", "Australia/Sydney", "+11:00"]
    ),
    st.sampled_from(["Mars/Olympus_Mons", "UTC\x00", "", " ", "../../etc/passwd", "Europe/"]),
    st.text(max_size=40),
)
cursor_values = st.lists(
    st.one_of(
        st.none(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
        dates,
        st.just(str(uuid.UUID(int=0))),
    ),
    max_size=5,
)
# The fingerprint is not a secret: forged cursors may carry the right one for simple queries.
FINGERPRINTS = [
    cursor.fingerprint("step_count", None, None, None, None, None),
    cursor.fingerprint("step_count", "day", None, None, None, None),
    cursor.fingerprint("sleep", None, None, None),
    cursor.fingerprint("workouts", None, None, None, None, None, None, None),
    "0" * 16,
]


def _raw_cursor(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


cursors = st.one_of(
    st.builds(
        cursor.encode,
        st.sampled_from(["raw", "bucket", "sleep", "workouts", "other"]),
        st.sampled_from(FINGERPRINTS),
        cursor_values,
    ),
    st.builds(
        _raw_cursor,
        st.one_of(
            st.fixed_dictionaries(
                {"k": st.text(max_size=8), "f": st.sampled_from(FINGERPRINTS), "v": st.text()}
            ),
            st.lists(st.integers(), max_size=3),
        ),
    ),
    st.text(max_size=60),
)
numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30), st.sampled_from([0, -1, 2**63, 10**6])
).map(str)
texts = st.one_of(st.text(max_size=50), st.sampled_from(["step_count\x00", "\x00", "a" * 5000]))

QUERY = {
    "from": dates,
    "to": dates,
    "startDate": dates,
    "endDate": dates,
    "tz": zones,
    "cursor": cursors,
    "limit": numbers,
    "radius_m": numbers,
    "source": texts,
    "type": texts,
    "near": texts,
    "bbox": texts,
}


def _hostile(operation: Any, workout_id: str) -> st.SearchStrategy[dict[str, dict[str, Any]]]:
    names = {p.name for p in operation.query}
    path = {p.name for p in operation.path_parameters}
    path_strategies: dict[str, st.SearchStrategy[Any]] = {}
    if "name" in path:
        path_strategies["name"] = st.one_of(
            st.sampled_from(["step_count", "sleep_analysis"]), texts
        )
    if "workout_id" in path:
        path_strategies["workout_id"] = st.one_of(
            st.just(workout_id), st.uuids().map(str), st.text(max_size=40)
        )
    return st.fixed_dictionaries(
        {
            "query": st.fixed_dictionaries({}, optional={n: QUERY[n] for n in names & set(QUERY)}),
            "path": st.fixed_dictionaries({}, optional=path_strategies),
        }
    )


@pytest.fixture(scope="module")
def schema(settings: Settings) -> Iterator[Any]:
    loaded = schemathesis.openapi.from_asgi("/openapi.json", create_app(settings))
    yield loaded
    asgi.shutdown_lifespans()


@pytest.fixture
async def reader(engine: Any, client: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    """A key with a budget generated requests cannot spend, and a little data of each kind."""
    async with create_sessionmaker(engine)() as session, session.begin():
        account = await auth_service.create_user(session, "fuzz-reader")
        _, token = await auth_service.create_key(
            session, account, scopes=("read", "write"), rate_limit_requests=10**6
        )
    headers = bearer(token)
    return headers, await store_sample(client, headers)


def _battery(operation: Any, headers: dict[str, str], workout_id: str) -> list[str]:
    problems: list[str] = []

    @given(base=operation.as_strategy(), hostile=_hostile(operation, workout_id))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(base: Any, hostile: dict[str, dict[str, Any]]) -> None:
        problems.append("")  # one per request sent; removed before reporting
        base.query = {**(base.query or {}), **hostile["query"]}
        base.path_parameters = {**(base.path_parameters or {}), **hostile["path"]}
        try:
            response = base.call(headers=headers)
        except Exception as exc:  # the app raised: its 500 handler re-raises to the client
            problems.append(
                f"{operation.label} raised {type(exc).__name__}: {base.path_parameters} {base.query}"
            )
            return
        if response.status_code >= 500:
            problems.append(
                f"{operation.label} -> {response.status_code}: {base.path_parameters} {base.query}"
            )
        elif response.status_code >= 400:
            content_type = response.headers.get("content-type", [""])[0]
            if not content_type.startswith("application/problem+json"):
                problems.append(f"{operation.label} -> {response.status_code} not a problem")

    run()
    return problems


def test_no_get_operation_answers_5xx_to_hostile_parameters(
    schema: Any, reader: tuple[dict[str, str], str]
) -> None:
    headers, workout_id = reader
    operations = [
        result.ok() for result in schema.get_all_operations() if result.ok().method == "get"
    ]
    assert {op.path for op in operations} >= {
        "/v1/metrics/{name}",
        "/v1/sleep",
        "/v1/workouts",
        "/v1/workouts/distance",
        "/v1/workouts/{workout_id}/route",
        "/v1/export",
        "/api/metrics/{name}",
        "/api/workouts",
    }
    results = [p for op in operations for p in _battery(op, headers, workout_id)]
    problems = [p for p in results if p]
    assert len(results) - len(problems) >= 10 * len(operations)
    assert not problems, "\n".join(sorted(set(problems))[:30])
