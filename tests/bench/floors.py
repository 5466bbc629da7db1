"""The floors of a small sync, measured beside the service in the same run (see ``floor_app``).

At each concurrency level, right after the service, with the same bodies, clients, warm-up
rule and tables:

- ``echo`` (a): the same server reading the body and answering;
- ``db``   (b): one asyncpg transaction per request writing what the service writes for the
  body (archive row, data rows by COPY, outcome), rows normalised before the level;
- ``full`` (c): (b) with the body decoded by the app's decoders on the way.

``R_small = service req/s / floor (c) req/s``: 1 would mean the service adds nothing to the
least any server must do for such a body.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from tests.bench import client, dbs, procs
from tests.bench.payloads import Body
from tests.bench.procs import BenchFailure, Child

BODIES_ENV = "HAE_BENCH_FLOOR_BODIES"  # floor_app reads the bodies it prepares from this file
KINDS = ("echo", "db", "full")
# name in the summary JSON -> floor
SUMMARY_NAMES = {"floor_echo": "echo", "floor_db": "db", "floor": "full"}


class Floors:
    def __init__(
        self, processes: procs.Processes, database: str, out_dir: Path, *, checkpoint: bool
    ) -> None:
        self.processes = processes
        self.database = database
        # As before the service's levels; the smoke mode skips it (seconds each on a busy server).
        self.checkpoint = checkpoint
        self.bodies_path = out_dir / f"{processes.log_prefix}.floor-bodies.msgpack"
        self.server: Child | None = None
        self.base_url = ""

    async def start(self, bodies: list[Body]) -> None:
        """The floor server, once it has normalised every body it may be sent."""
        content = msgspec.msgpack.encode([b.content for b in bodies])
        await asyncio.to_thread(self.bodies_path.write_bytes, content)
        port = procs.free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self.server = self.processes.start(
            "floor",
            *procs.uvicorn_args(port, "tests.bench.floor_app:app"),
            env={BODIES_ENV: str(self.bodies_path)},
        )
        try:
            await procs.wait_ready(self.server, self.base_url, timeout_s=300)
        finally:
            self.bodies_path.unlink(missing_ok=True)

    def alive(self) -> None:
        if self.server is not None and not self.server.alive():
            raise BenchFailure(f"the floor server died:\n{self.server.tail()}")

    async def level(
        self,
        clients: int,
        bodies: list[Body],
        warmup: list[Body],
        alive: Callable[[], None],
    ) -> dict[str, Any]:
        """Every floor at this level; (b) and (c) each write as a user of their own."""

        def all_alive() -> None:
            alive()
            self.alive()

        results: dict[str, Any] = {}
        for kind in KINDS:
            path = f"/floor/{kind}"
            if kind != "echo":
                path += f"?user={await self._scratch_user(f'bench-floor-{kind}-{clients}')}"
            if self.checkpoint:
                await dbs.checkpoint(self.database)
            results[kind] = await client.small_syncs(
                self.base_url, "floor", bodies, clients, alive=all_alive, warmup=warmup, path=path
            )
        return results

    async def _scratch_user(self, name: str) -> int:
        conn = await asyncpg.connect(dbs.dsn(self.database))
        try:
            user_id: int = await conn.fetchval(
                "INSERT INTO users (name) VALUES ($1) RETURNING id", name
            )
        finally:
            await conn.close()
        return user_id


def summary(service: dict[str, Any], floors: dict[str, Any]) -> dict[str, Any]:
    """Flat figures per level: R_small (at 8 clients; R_small_1, R_small_32), then p50/p99 and
    req/s of the service (``small_*``) and of each floor (``floor_*`` is (c))."""
    out: dict[str, Any] = {}
    for level, measured in service.items():
        full = floors[level]["full"]
        ratio = round(measured["req_per_s"] / full["req_per_s"], 3) if full["req_per_s"] else None
        out["R_small" if level == "8" else f"R_small_{level}"] = ratio
    for level, measured in service.items():
        named = {"small": measured} | {n: floors[level][k] for n, k in SUMMARY_NAMES.items()}
        for name, figures in named.items():
            for figure in ("req_per_s", "p50_ms", "p99_ms"):
                out[f"{name}_{figure}_{level}"] = figures[figure]
    return out
