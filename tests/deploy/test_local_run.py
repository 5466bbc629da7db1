"""``make run`` (deploy/local/run.sh) against the test database: it keeps one demo key in its run
directory and makes a new one only when the stored one no longer authenticates."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings

ROOT = Path(__file__).resolve().parents[2]
RUN_SH = ROOT / "deploy" / "local" / "run.sh"
BANNER_END = "Try (from"
STARTUP_TIMEOUT_S = 180


def _start_and_stop(run_dir: Path) -> str:
    """Run run.sh until it has printed the demo key and the curl line, then stop it (server and
    worker included); everything it printed."""
    env = os.environ | {"RUN_DIR": str(run_dir), "DEMO_USER": "demo", "PORT": "0"}
    proc = subprocess.Popen(  # noqa: S603 - our own script
        [str(RUN_SH)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    watchdog = threading.Timer(STARTUP_TIMEOUT_S, os.killpg, (proc.pid, signal.SIGKILL))
    watchdog.start()
    printed: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            printed.append(line)
            if line.startswith(BANNER_END):
                printed.append(proc.stdout.readline())  # the curl line
                break
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    return "".join(printed)


async def _start(run_dir: Path) -> tuple[str, str]:
    """(what run.sh printed, the demo key it printed)."""
    out = await asyncio.to_thread(_start_and_stop, run_dir)
    marker = "Demo API key for user demo: "
    lines = [line for line in out.splitlines() if line.startswith(marker)]
    assert lines, out
    key = lines[0].removeprefix(marker)
    assert f"Authorization: Bearer {key}" in out, out
    return out, key


async def _count(engine: AsyncEngine, query: str) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(query))).scalar()


async def _change(engine: AsyncEngine, statement: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(statement))


async def test_run_reuses_its_demo_key_until_it_stops_authenticating(
    tmp_path: Path, settings: Settings, engine: AsyncEngine, clean_db: None
) -> None:
    (tmp_path / "env").write_text(
        f"export DATABASE_URL='{settings.database_url}'\n"
        f"export REDIS_URL='{settings.redis_url}'\n"
        f"export HAE_REDIS_PREFIX='{settings.redis_prefix}'\n"
        "export HAE_ENV=test\n"
    )
    key_file = tmp_path / "demo-key.demo"

    _, first = await _start(tmp_path)
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    _, again = await _start(tmp_path)
    assert again == first
    assert await _count(engine, "SELECT count(*) FROM api_keys") == 1

    # A recreated database knows neither the user nor the key (a revoked or expired key takes
    # the same path: `keys verify` exits 4, tested with the CLI).
    await _change(engine, "DELETE FROM api_keys")
    await _change(engine, "DELETE FROM users")
    out, renewed = await _start(tmp_path)
    assert renewed != first
    assert "no longer authenticates" in out
    assert key_file.read_text().strip() == renewed
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert await _count(engine, "SELECT count(*) FROM api_keys") == 1
