"""HTTP side of the bench: one ingest timed until its data is durable, and bursts of small syncs."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tests.bench.payloads import Body
from tests.bench.procs import BenchFailure

ACCEPTED = ("processed",)


@dataclass
class Outcome:
    seconds: float
    mode: str  # "sync" (200 with the report) or "async" (202, then polled until processed)
    report: dict[str, Any]
    accepted_s: float  # until the POST answered (for 202: the raw body is durable)


def headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "automation-name": "bench",
    }


def _fail(what: str, response: httpx.Response) -> BenchFailure:
    return BenchFailure(f"{what} -> {response.status_code}: {response.text[:1000]}")


async def ingest(
    client: httpx.AsyncClient,
    body: Body,
    *,
    timeout_s: float,
    label: str,
    alive: Callable[[], None] = lambda: None,
    path: str = "/v1/ingest",
) -> Outcome:
    """POST one body (to ``path``: the service, or a floor that answers as it does); wait, if the server answered 202, until ``GET Location`` says processed.

    ``alive()`` raises when a process the answer depends on has died.
    """
    started = time.perf_counter()
    try:
        response = await client.post(path, content=body.content)
        accepted = time.perf_counter() - started
        if response.status_code == 200:
            report = response.json()
            mode = "sync"
        elif response.status_code == 202:
            location = response.headers.get("location")
            if not location:
                raise _fail(f"{label}: 202 without Location", response)
            report = await _poll(client, location, started + timeout_s, label, alive)
            mode = "async"
        else:
            raise _fail(f"{label}: POST {path}", response)
    except httpx.HTTPError as exc:
        alive()
        raise BenchFailure(f"{label}: {exc!r}") from exc
    seconds = time.perf_counter() - started
    check(report, label)
    return Outcome(seconds, mode, report, accepted)


async def _poll(
    client: httpx.AsyncClient,
    location: str,
    deadline: float,
    label: str,
    alive: Callable[[], None],
) -> dict[str, Any]:
    delay = 0.01
    while True:
        alive()
        # Held by the server until processed (up to 30 s); a server without `wait` answers at once.
        response = await client.get(location, params={"wait": 30})
        if response.status_code == 200:
            report: dict[str, Any] = response.json()
            return report
        if response.status_code != 202:
            raise _fail(f"{label}: GET {location}", response)
        if time.perf_counter() > deadline:
            raise BenchFailure(f"{label}: still {response.json().get('status')} at the deadline")
        await asyncio.sleep(delay)
        delay = min(0.25, delay * 1.5)


def check(report: dict[str, Any], label: str) -> None:
    """A report that is not a clean success fails the bench (it must not rot silently)."""
    status = report.get("status")
    totals = report.get("totals") or {}
    if status not in ACCEPTED:
        raise BenchFailure(f"{label}: report status {status!r}: {str(report)[:1000]}")
    if totals.get("rejected"):
        raise BenchFailure(
            f"{label}: {totals['rejected']} points rejected: {report.get('errors', [])[:5]}"
        )


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


async def small_syncs(
    base_url: str,
    token: str,
    bodies: list[Body],
    concurrency: int,
    alive: Callable[[], None] = lambda: None,
    warmup: list[Body] | None = None,
    path: str = "/v1/ingest",
) -> dict[str, Any]:
    """``concurrency`` clients (one connection each) send ``bodies`` as fast as answered.

    With ``warmup`` (one body per client), every client first sends one of those, all at once,
    and the timing starts when all are answered: the level measures the steady state, and the
    cold start (new connections on both sides) is reported apart as ``warmup_max_ms``."""
    pending = iter(bodies)
    latencies: list[float] = []
    modes: dict[str, int] = {}
    warmed: list[float] = []
    ready = asyncio.Barrier(concurrency)

    async def client_loop(n: int) -> None:
        async with httpx.AsyncClient(
            base_url=base_url, headers=headers(token), timeout=120
        ) as client:
            if warmup is not None:
                outcome = await ingest(
                    client, warmup[n], timeout_s=120, label=f"small warm-up c{n}", alive=alive,
                    path=path,
                )  # fmt: skip
                warmed.append(outcome.seconds)
                await ready.wait()
                started.setdefault("at", time.perf_counter())
            for body in pending:  # shared iterator: each body is sent once
                outcome = await ingest(
                    client, body, timeout_s=120, label=f"small sync c{n}", alive=alive, path=path
                )
                latencies.append(outcome.seconds)
                modes[outcome.mode] = modes.get(outcome.mode, 0) + 1

    if warmup is not None and len(warmup) < concurrency:
        raise BenchFailure(f"{len(warmup)} warm-up bodies for {concurrency} clients")
    started: dict[str, float] = {}
    if warmup is None:
        started["at"] = time.perf_counter()
    await asyncio.gather(*(client_loop(n) for n in range(concurrency)))
    wall = time.perf_counter() - started["at"]
    latencies.sort()
    warm = {"warmup_max_ms": round(max(warmed) * 1000, 1)} if warmed else {}
    return warm | {
        "clients": concurrency,
        "requests": len(latencies),
        "points_per_request": round(sum(b.points for b in bodies) / len(bodies)),
        "seconds": round(wall, 3),
        "req_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "max_ms": round(latencies[-1] * 1000, 1),
        "modes": modes,
    }
