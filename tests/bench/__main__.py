"""``python -m tests.bench [--quick] [--points N] [--out DIR]`` (``make bench ARGS=--quick``).

One run, on the same tables, reproducible (fixed seeds):

1. physical limit: the rows the fresh ingest stored are read back and COPYed (asyncpg
   ``copy_records_to_table``, as the app stages them; binary COPY for reference) into the empty
   twin tables of a second freshly migrated database, partitions created beforehand;
2. end-to-end HTTP ingest of a ~1M-point (~95 MB) payload against a real uvicorn server (auth and
   rate limits on), timed until durable (200 with the report, or 202 then ``GET Location`` until
   processed, with ``python -m app.worker`` running when the app has one): fresh, the same points
   again in a body that differs by one unknown key (so it is really processed, not answered from
   the archive by sha256), then a 50 % overlapping window;
3. small syncs (~280 points, distinct bodies) from 1, 8 and 32 concurrent clients, each level
   followed by the floors of a small sync with the same bodies and clients (``floors``): a bare
   endpoint (a), a bare transaction writing the same rows (b), and both with the app's decoder
   (c); R_small = service req/s / floor (c) req/s;
4. peak RSS of the server (and worker) per phase, against its idle RSS and the payload size.

rows/s of an ingest = points received (its report's total) / wall seconds; R_x = that / COPY
rows/s. Databases ``hae_bench_<pid>_ingest``/``_copy`` live on the server of ``DATABASE_URL`` (or
``TEST_DATABASE_URL``) and are dropped at the end; Redis keys are under ``bench<pid>:``.

Prints a table, writes ``DIR/bench-<timestamp>.json`` (default ``bench-results/``) and the
server's and worker's logs beside it. Numbers are never asserted: the exit status is non-zero
only when a request fails, a report is not ``processed`` or shows rejected points, or set-up fails
(130 when interrupted). Other processes on the machine skew everything: the JSON records the
load average at start and end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis

from tests.bench import client, dbs, floors, payloads, procs, report
from tests.bench.procs import BenchFailure, Child

SEED = 20261127
BUDGET_REQUESTS = 10_000_000
BUDGET_BYTES = 10**13
LEVELS = (1, 8, 32)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="~20k points, 30 small syncs a level")
    parser.add_argument("--points", type=int, help="points in the big payload (default 1,000,000)")
    parser.add_argument("--small-requests", type=int, help="small syncs per concurrency level")
    parser.add_argument("--out", default="bench-results", help="directory for JSON and logs")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--keep-databases", action="store_true", help="do not drop them at the end")
    args = parser.parse_args(argv)
    args.points = args.points or (20_000 if args.quick else 1_000_000)
    args.small_requests = args.small_requests or (30 if args.quick else 200)
    if args.points < 1000 or args.small_requests < 1:
        parser.error("--points must be >= 1000 and --small-requests >= 1")
    return args


def _say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.started = datetime.now(UTC)
        stamp = self.started.strftime("%Y%m%dT%H%M%SZ")
        self.out_dir = Path(args.out)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.json_path = self.out_dir / f"bench-{stamp}.json"
        self.dbs = dbs.Databases.for_pid(os.getpid())
        self.redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
        self.redis_prefix = f"bench{os.getpid()}"
        self.env = procs.environment(
            dict(os.environ),
            DATABASE_URL=dbs.url_for(self.dbs.ingest),
            REDIS_URL=self.redis_url,
            HAE_REDIS_PREFIX=self.redis_prefix,
            HAE_ENV="production",  # JSON logs, as deployed; production needs a pepper
            HAE_KEY_PEPPER=secrets.token_urlsafe(48),
            # Rate limits stay on; the key gets its own generous budgets, and in case the CLI
            # ignores them, the defaults are as generous.
            HAE_RATE_LIMIT_REQUESTS=str(BUDGET_REQUESTS),
            HAE_RATE_LIMIT_BYTES=str(BUDGET_BYTES),
        )
        self.processes = procs.Processes(self.env, self.out_dir, f"bench-{stamp}")
        self.floors = floors.Floors(
            self.processes, self.dbs.ingest, self.out_dir, checkpoint=not args.quick
        )
        self.warnings: list[str] = []
        self.result: dict[str, Any] = {}
        self.server: Child | None = None
        self.worker: Child | None = None
        self.watched: list[Child] = []
        self.memory: dict[str, Any] = {}

    # --- set-up ---------------------------------------------------------------------------

    async def setup(self) -> str:
        """Server (and worker) start while the CLI creates the user and key; the key's token."""
        port = procs.free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self.server = self.processes.start("server", *procs.uvicorn_args(port))
        if (procs.ROOT / "app" / "worker.py").exists():
            self.worker = self.processes.start("worker", "-m", "app.worker")
        _say("server and worker starting; user and key via app.cli")
        await self.processes.run("-m", "app.cli", "users", "create", "bench")
        out = await self.processes.run(
            "-m", "app.cli", "keys", "create", "bench", "--scope", "write", "--scope", "read",
            "--name", "bench", "--rate-limit-requests", str(BUDGET_REQUESTS),
            "--rate-limit-bytes", str(BUDGET_BYTES),
        )  # fmt: skip
        token = out.strip().splitlines()[-1].strip()
        await self._check_budgets()
        await procs.wait_ready(self.server, self.base_url)
        _say("server ready")
        if self.worker is not None and not self.worker.alive():
            raise BenchFailure(f"the worker exited at start-up:\n{self.worker.tail()}")
        return token

    async def _check_budgets(self) -> None:
        conn = await asyncpg.connect(dbs.dsn(self.dbs.ingest))
        try:
            row = await conn.fetchrow(
                "SELECT rate_limit_requests, rate_limit_bytes FROM api_keys ORDER BY id DESC LIMIT 1"
            )
        finally:
            await conn.close()
        if row is None or row["rate_limit_requests"] is None or row["rate_limit_bytes"] is None:
            self.warnings.append(
                "`app.cli keys create --rate-limit-requests/--rate-limit-bytes` did not store the"
                " key's budgets (the server defaults, raised for the bench, applied instead)"
            )

    # --- the run ------------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        args = self.args
        _say(f"payloads: {args.points:,} points (seed {args.seed}), {args.small_requests} x3 small")
        _say(f"databases {self.dbs.ingest}, {self.dbs.copy}: create and migrate")
        await self.dbs.create_ingest()
        migrate = asyncio.create_task(
            self.processes.run("-m", "alembic", "upgrade", "head", timeout_s=300)
        )
        try:
            big, small = await asyncio.to_thread(
                lambda: (
                    payloads.big_bodies(args.points, args.seed),
                    payloads.small_bodies(
                        1 + args.small_requests * len(LEVELS) + sum(LEVELS), args.seed + 7
                    ),
                )
            )
        finally:
            await migrate
        await self.dbs.clone_copy()
        _say("migrated")
        self.result["meta"] = self._meta(big[0])
        self.result["meta"]["postgres"] = await dbs.server_info()
        # The floor server normalises the small bodies while the app starts (nothing is timed).
        token, _ = await asyncio.gather(self.setup(), self.floors.start(small[1:]))
        self.result["meta"]["worker"] = "app.worker" if self.worker is not None else None
        self.watched = [c for c in (self.server, self.worker) if c is not None]
        self.memory = {c.name: {"peak_kib": {}} for c in self.watched}
        await self._big_ingests(token, small[0], *big)
        await self._small_syncs(token, small[1:])
        self._summary(big[0].size)
        return self.result

    def _alive(self) -> None:
        for child in self.watched:
            if not child.alive():
                raise BenchFailure(f"the {child.name} died:\n{child.tail()}")

    def _peak(self, phase: str) -> None:
        for c in self.watched:
            self.memory[c.name]["peak_kib"][phase] = procs.memory_kib(c.pid).get("VmHWM", 0)

    async def _big_ingests(
        self,
        token: str,
        warmup: payloads.Body,
        fresh: payloads.Body,
        duplicate: payloads.Body,
        overlap: payloads.Body,
    ) -> None:
        timeout = max(600.0, self.args.points / 500)
        runs: dict[str, Any] = {}
        async with httpx.AsyncClient(
            base_url=self.base_url,
            headers=client.headers(token),
            timeout=httpx.Timeout(timeout, connect=10),
        ) as http:
            await client.ingest(http, warmup, timeout_s=120, label="warm-up", alive=self._alive)
            for c in self.watched:
                self.memory[c.name]["idle_kib"] = procs.memory_kib(c.pid).get("VmRSS", 0)
            for name, body in (("fresh", fresh), ("duplicate", duplicate), ("overlap", overlap)):
                await dbs.checkpoint(self.dbs.ingest)
                reset = all([procs.reset_peak(c.pid) for c in self.watched])
                _say(f"ingest {name}: {body.points:,} points, {body.size / 1e6:.1f} MB")
                outcome = await client.ingest(
                    http, body, timeout_s=timeout, label=name, alive=self._alive
                )
                self._peak(name)
                for c in self.watched:
                    self.memory[c.name]["peak_reset"] = reset
                runs[name] = self._run_entry(outcome)
                _say(f"  {outcome.seconds:.2f} s, {runs[name]['rows_per_s']:,} rows/s")
                if name == "fresh":
                    ingestion_id = outcome.report["ingestion_id"]
                    runs[name]["stored_rows"] = await dbs.stored_rows(
                        self.dbs.ingest, [ingestion_id]
                    )
                    _say("COPY baseline")
                    self.result["copy"] = await dbs.copy_baseline(self.dbs, ingestion_id)
                    _say(f"  {self.result['copy']['rows_per_s']:,} rows/s")
        copy_rate = self.result["copy"]["rows_per_s"]
        processed = procs.logged_durations(*(c.log_path for c in self.watched))
        for run in runs.values():
            run["R"] = round(run["rows_per_s"] / copy_rate, 3)
            # The app's own "ingest.processed" duration (normalise + writes), from its log.
            run["processing_s"] = processed.get(run["ingestion_id"])
        self._sanity(runs, fresh, overlap)
        self.result["ingest"] = runs
        self.result["ratios"] = {
            f"R_{k if k != 'duplicate' else 'dup'}": r["R"] for k, r in runs.items()
        }

    async def _small_syncs(self, token: str, small: list[payloads.Body]) -> None:
        levels: dict[str, Any] = {}
        floor_levels: dict[str, Any] = {}
        per_level = self.args.small_requests
        # One unmeasured body per client first (see client.small_syncs); they come last in the
        # list, so the measured bodies are the same as without a warm-up.
        warmups = small[per_level * len(LEVELS) :]
        for i, clients in enumerate(LEVELS):
            bodies = small[i * per_level : (i + 1) * per_level]
            warmup, warmups = warmups[:clients], warmups[clients:]
            await dbs.checkpoint(self.dbs.ingest)
            for c in self.watched:
                procs.reset_peak(c.pid)
            _say(f"small syncs: {len(bodies)} requests from {clients} clients")
            levels[str(clients)] = await client.small_syncs(
                self.base_url, token, bodies, clients, alive=self._alive, warmup=warmup
            )
            self._peak(f"small_{clients}")
            _say(f"floors: the same {len(bodies)} requests from {clients} clients")
            floor_levels[str(clients)] = await self.floors.level(
                clients, bodies, warmup, alive=self._alive
            )
        self.result["small_syncs"] = levels
        self.result["floors"] = floor_levels
        summary = self.result["summary"] = floors.summary(levels, floor_levels)
        self.result["ratios"] |= {k: v for k, v in summary.items() if k.startswith("R_small")}

    def _summary(self, payload_bytes: int) -> None:
        memory = self.memory
        for mem in memory.values():
            big = max(mem["peak_kib"][k] for k in ("fresh", "duplicate", "overlap"))
            mem["x_payload"] = round(max(0, big - mem["idle_kib"]) * 1024 / payload_bytes, 3)
        memory["payload_bytes"] = payload_bytes
        self.result["memory"] = memory
        self.result["targets"] = report.evaluate(
            {
                "R_fresh": self.result["ingest"]["fresh"]["R"],
                "R_dup": self.result["ingest"]["duplicate"]["R"],
                "small_p99_ms_8": self.result["small_syncs"].get("8", {}).get("p99_ms"),
                "memory_x_payload": max(
                    m["x_payload"] for m in memory.values() if isinstance(m, dict)
                ),
            }
        )
        self.result["warnings"] = self.warnings
        self.result["meta"]["load_average_end"] = os.getloadavg()
        self.result["meta"]["seconds"] = round((datetime.now(UTC) - self.started).total_seconds())

    def _run_entry(self, outcome: client.Outcome) -> dict[str, Any]:
        totals = outcome.report["totals"]
        return {
            "mode": outcome.mode,
            "ingestion_id": outcome.report.get("ingestion_id"),
            **{k: totals[k] for k in ("received", "inserted", "updated", "unchanged", "rejected")},
            "seconds": round(outcome.seconds, 3),
            "accepted_s": round(outcome.accepted_s, 3),
            "rows_per_s": round(totals["received"] / outcome.seconds),
        }

    def _sanity(self, runs: dict[str, Any], fresh: payloads.Body, overlap: payloads.Body) -> None:
        """Counts that contradict the payloads: not failures (numbers are not asserted), warned."""
        expected = {"fresh": fresh.points, "duplicate": fresh.points, "overlap": overlap.points}
        for name, run in runs.items():
            if run["received"] != expected[name]:
                self.warnings.append(f"{name}: received {run['received']}, sent {expected[name]}")
        if runs["fresh"]["inserted"] != runs["fresh"]["received"]:
            self.warnings.append("fresh: not every point was inserted")
        dup = runs["duplicate"]
        if dup["inserted"] or dup["updated"]:
            self.warnings.append(
                f"duplicate: {dup['inserted']} inserted, {dup['updated']} updated (expected 0)"
            )

    def _meta(self, fresh: payloads.Body) -> dict[str, Any]:
        return {
            "started_at": self.started.isoformat(timespec="seconds"),
            "quick": self.args.quick,
            "points": fresh.points,
            "payload_bytes": fresh.size,
            "seed": self.args.seed,
            "small_requests_per_level": self.args.small_requests,
            "levels": list(LEVELS),
            "cpus": procs.cpu_count(),
            # Others' processes on the machine skew every number: look here first.
            "load_average_start": os.getloadavg(),
            "python": platform.python_version(),
            "git": procs.git_head(),
            "settings": {k: v for k, v in os.environ.items() if k.startswith("HAE_")},
        }

    # --- tear-down ----------------------------------------------------------------------------

    def stop(self) -> None:
        self.processes.stop_all()

    async def cleanup(self) -> None:
        if not self.args.keep_databases:
            try:
                await self.dbs.drop()
            except Exception as exc:
                _say(f"could not drop the bench databases: {exc!r}")
        redis = Redis.from_url(self.redis_url)
        try:
            keys = [k async for k in redis.scan_iter(match=f"{self.redis_prefix}:*", count=1000)]
            if keys:
                await redis.delete(*keys)
        except Exception as exc:
            _say(f"could not clean Redis keys {self.redis_prefix}:*: {exc!r}")
        finally:
            await redis.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    procs.wait_for_exit_signal()
    bench = Bench(args)
    status = 0
    try:
        result = asyncio.run(bench.run())
    except BenchFailure as exc:
        print(f"bench FAILED: {exc}", file=sys.stderr)
        for child in bench.processes.children:
            print(f"--- {child.name} log tail ({child.log_path}):\n{child.tail()}", file=sys.stderr)
        bench.result["failed"] = str(exc)
        status = 1
    except KeyboardInterrupt:
        print("bench interrupted", file=sys.stderr)
        status = 130
    except Exception as exc:
        traceback.print_exc()
        bench.result["failed"] = repr(exc)
        status = 1
    finally:
        bench.stop()
        asyncio.run(bench.cleanup())
    if status == 0:
        print(report.table(result))
    if bench.result:
        report.write(bench.result, bench.json_path)
        print(f"results: {bench.json_path}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
