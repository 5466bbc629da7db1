"""Property-based fuzzing of every operation in the OpenAPI schema (schemathesis), with a valid
read+write key and without one: no 5xx, and every answer as the schema declares it (status
code, content type, headers, body).

The app under test is its own instance, run by schemathesis's ASGI client on that client's event
loop thread (lifespan included); the database and Redis are the suite's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.python import asgi

from app.config import Settings
from app.main import create_app
from tests.auth.conftest import MakeKey
from tests.auth.support import Key

# Examples per operation (~30 with a key, fewer without: auth refuses those early), bounded
# so the file stays well under a minute as operations are added.
WITH_KEY = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 10}
WITHOUT_KEY = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 5}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def schema(settings: Settings) -> Iterator[Any]:
    application = create_app(settings)
    loaded = schemathesis.openapi.from_asgi("/openapi.json", application)
    yield loaded
    asgi.shutdown_lifespans()  # dispose of its engine and Redis client


@pytest.fixture
async def fuzz_key(new_key: MakeKey) -> Key:
    # A budget fuzzing cannot spend: the limits themselves are tested elsewhere.
    key: Key = await new_key(user="fuzz", scopes=("write", "read"), rate_limit_requests=10**6)
    return key


@dataclass(frozen=True)
class Finding:
    operation: str
    mode: str
    status: int
    kind: str
    message: str


def fuzz_operation(
    operation: Any,
    mode: GenerationMode,
    examples: int,
    headers: dict[str, str],
    findings: dict[Any, Finding],
) -> int:
    """Up to ``examples`` generated requests; adds what the checks find; returns how many."""
    sent = 0

    def found(status: int, kind: str, message: str, case: Any) -> None:
        findings.setdefault(
            (operation.label, mode.value, status, kind),
            Finding(
                operation.label,
                mode.value,
                status,
                kind,
                f"{message[:300]} | {case.as_curl_command(headers=headers)[:300]}",
            ),
        )

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        nonlocal sent
        sent += 1
        try:
            response = case.call(headers=headers)
        except Exception as exc:  # the app raised: its 500 handler re-raises to the test client
            found(500, f"exception {type(exc).__name__}", str(exc).splitlines()[0], case)
            return
        try:
            case.validate_response(response, checks=CHECKS)
        except (Failure, FailureGroup) as exc:
            failures = exc.exceptions if isinstance(exc, FailureGroup) else [exc]
            for failure in failures:
                title = failure.title or type(failure).__name__
                got = f"{failure.message} | got: {response.text[:200]}"
                found(response.status_code, title, got, case)

    run()
    return sent


def fuzz(
    schema: Any, headers: dict[str, str], examples: dict[GenerationMode, int]
) -> tuple[list[Finding], int]:
    """Every operation, positive and negative data; distinct findings and the request count."""
    findings: dict[Any, Finding] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/ingest", "/v1/ingestions/{ingestion_id}"}
    sent = sum(
        fuzz_operation(operation, mode, count, headers, findings)
        for operation in operations
        for mode, count in examples.items()
    )
    return sorted(findings.values(), key=lambda f: (f.operation, f.status)), sent


def report(findings: list[Finding]) -> str:
    return "\n".join(
        f"{f.operation} [{f.mode}] -> {f.status}: {f.kind}: {f.message}" for f in findings
    )


def test_fuzz_every_operation_authenticated(schema: Any, fuzz_key: Key, clean_db: None) -> None:
    findings, sent = fuzz(schema, fuzz_key.headers, WITH_KEY)

    assert sent >= sum(WITH_KEY.values())
    assert not findings, report(findings)


def test_fuzz_every_operation_anonymous(schema: Any, clean_db: None) -> None:
    # No key of ours: whatever credentials schemathesis makes up (or none).
    findings, sent = fuzz(schema, {}, WITHOUT_KEY)

    assert sent >= sum(WITHOUT_KEY.values())
    assert not findings, report(findings)


PROBLEM = "application/problem+json"
SCOPED = {("post", "/v1/ingest"), ("get", "/v1/status")}  # a key without the scope gets 403


def test_openapi_documents_every_refusal_a_key_can_get(schema: Any) -> None:
    """What fuzzing with one good key cannot reach: 403 and 429 must be documented too."""
    document = schema.raw_schema
    schemes = document["components"]["securitySchemes"].values()
    headers = {s["name"].lower() for s in schemes if s["type"] == "apiKey" and s["in"] == "header"}
    missing = [
        f"security scheme for the {name} header"
        for name in ("x-api-key", "api-key")
        if name not in headers
    ]
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if not operation.get("security"):
                continue
            expected = {"401", "429"} | ({"403"} if (method, path) in SCOPED else set())
            if any(p.get("in") in ("path", "query") for p in operation.get("parameters", [])):
                expected.add("422")
            for status in sorted(expected):
                content = operation["responses"].get(status, {}).get("content", {})
                if PROBLEM not in content or set(content) != {PROBLEM}:
                    missing.append(
                        f"{method.upper()} {path} {status}: {sorted(content) or 'undocumented'}"
                    )
    assert not missing, "\n".join(missing)


# --- found by fuzzing ----------------------------------------------------------------------------

STEPS = {"name": "step_count", "units": "count"}
POINT = {"date": "2023-01-20 00:00:00 +1100", "qty": 1}
NUL = {
    # U+0000 is valid JSON, but PostgreSQL text and jsonb refuse it.
    "section_key": {"data": {"metrics": [{**STEPS, "data": [POINT]}], "odd\u0000key": []}},
    "metric_name": {
        "data": {
            "metrics": [{**STEPS, "data": [POINT]}, {**STEPS, "name": "a\u0000b", "data": [POINT]}]
        }
    },
    "units": {"data": {"metrics": [{**STEPS, "units": "co\u0000unt", "data": [POINT]}]}},
    "source": {"data": {"metrics": [{**STEPS, "data": [{**POINT, "source": "Watch\u0000"}]}]}},
}


@pytest.mark.parametrize("body", NUL.values(), ids=NUL.keys())
async def test_a_nul_character_never_makes_a_payload_unstorable(
    body: dict[str, Any], client: httpx.AsyncClient, new_key: MakeKey
) -> None:
    key = await new_key()

    resp = await client.post("/v1/ingest", json=body, headers=key.headers)

    # A final answer: processed (the odd value rejected or cleaned, the rest stored) or a 4xx;
    # not 202 "retrying" for a payload that can never be stored, nor a 5xx.
    assert resp.status_code in (200, 400, 422), resp.text
    if resp.status_code == 200:
        assert resp.json()["status"] == "processed", resp.text
