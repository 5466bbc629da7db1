"""The benchmark runs in its smallest mode, so it cannot rot; its numbers are not asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_smallest_mode_runs_and_reports_every_section(tmp_path: Path) -> None:
    env = dict(os.environ)
    # Under `make test`, the bench's databases go to the test server, its keys to the test Redis.
    for name, test_name in (("DATABASE_URL", "TEST_DATABASE_URL"), ("REDIS_URL", "TEST_REDIS_URL")):
        if os.environ.get(test_name):
            env[name] = os.environ[test_name]
    command = [sys.executable, "-m", "tests.bench", "--quick", "--points", "2000"]
    command += ["--small-requests", "8", "--out", str(tmp_path)]
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    [path] = tmp_path.glob("bench-*.json")
    result = json.loads(path.read_text())
    assert {"meta", "copy", "ingest", "ratios", "small_syncs", "memory", "targets"} <= set(result)
    assert set(result["ingest"]) == {"fresh", "duplicate", "overlap"}
    assert set(result["small_syncs"]) == {"1", "8", "32"}
    assert {"R_fresh", "R_dup", "small_p99_ms_8", "memory_x_payload"} <= set(result["targets"])
    assert result["copy"]["rows"] > 0
    assert set(result["floors"]) == {"1", "8", "32"}
    assert all(set(level) == {"echo", "db", "full"} for level in result["floors"].values())
    summary = result["summary"]
    for level in ("1", "8", "32"):
        for name in ("small", "floor", "floor_db", "floor_echo"):
            assert {f"{name}_p99_ms_{level}", f"{name}_req_per_s_{level}"} <= set(summary)
    assert {"R_small", "R_small_1", "R_small_32"} <= set(summary) & set(result["ratios"])
    assert "R_fresh" in done.stdout  # the table was printed
    assert "R_small" in done.stdout
