"""Subprocesses of the benchmark (server, worker, admin CLI) and their memory.

Children are started in their own session (a Ctrl-C in the terminal reaches only the bench, which
stops them in order) and get SIGTERM if the bench dies (``PR_SET_PDEATHSIG``), so a killed run
leaves no server behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
_PR_SET_PDEATHSIG = 1


class BenchFailure(Exception):
    """The benchmark cannot produce honest numbers: a request failed, points were rejected..."""


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace_s: float = 20.0) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                self.proc.wait(5)
        self.log.close()


@dataclass
class Processes:
    """Every child the bench started, stopped in reverse order by ``stop_all``."""

    env: dict[str, str]
    log_dir: Path
    log_prefix: str
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> Child:
        """``python *args`` with the bench environment (plus ``env``), logging beside the JSON."""
        # Called from the event loop's thread: PDEATHSIG is tied to the thread that forks.
        log_path = self.log_dir / f"{self.log_prefix}.{name}.log"
        log = log_path.open("wb")
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [PYTHON, *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        child = Child(name, proc, log_path, log)
        self.children.append(child)
        return child

    def stop_all(self) -> None:
        while self.children:
            self.children.pop().stop()

    async def run(self, *args: str, timeout_s: float = 120.0) -> str:
        """Run ``python *args`` to completion with the bench environment; its stdout."""
        proc = await asyncio.create_subprocess_exec(
            PYTHON,
            *args,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
        except BaseException as exc:  # timed out, or the bench is interrupted: reap it
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            if isinstance(exc, TimeoutError):
                raise BenchFailure(f"`python {' '.join(args)}` timed out") from None
            raise
        if proc.returncode != 0:
            raise BenchFailure(
                f"`python {' '.join(args[:4])} ...` exited {proc.returncode}:\n"
                + err.decode(errors="replace")[-2000:]
            )
        return out.decode()


async def wait_ready(child: Child, url: str, timeout_s: float = 90.0) -> None:
    """Until ``GET /readyz`` answers 200 (database, Redis and schema checked)."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        while time.monotonic() < deadline:
            if not child.alive():
                raise BenchFailure(f"{child.name} exited at start-up:\n{child.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise BenchFailure(f"{child.name} not ready after {timeout_s:.0f} s:\n{child.tail()}")


def logged_durations(*logs: Path) -> dict[int, float]:
    """``ingestion_id -> duration_s`` of the app's ``ingest.processed`` JSON log lines."""
    found: dict[int, float] = {}
    for path in logs:
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            if '"ingest.processed"' not in line:
                continue
            try:
                record = json.loads(line)
                found[int(record["ingestion_id"])] = float(record["duration_s"])
            except (ValueError, KeyError, TypeError):
                continue
    return found


# --- memory (Linux /proc) -------------------------------------------------------------------


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KiB; empty when it is gone."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0])
    except OSError:
        return {}
    return out


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (``echo 5 > clear_refs``), so a phase has its own peak."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def wait_for_exit_signal() -> None:
    """SIGTERM to the bench behaves like Ctrl-C: cleanup runs."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def environment(base: dict[str, str], **overrides: str) -> dict[str, str]:
    """The caller's environment (its HAE_* settings are benchmarked too) plus ``overrides``."""
    return {**base, **overrides, "PYTHONUNBUFFERED": "1"}


def uvicorn_args(port: int, target: str = "app.main:app") -> list[str]:
    # As the Dockerfile runs it, on a loopback port; the floors run under the very same settings.
    return [
        "-m",
        "uvicorn",
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-server-header",
        "--timeout-graceful-shutdown",
        "20",
    ]


def cpu_count() -> int:
    return os.cpu_count() or 1


def git_head() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - read-only
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except OSError:
        return None
    return out.stdout.strip() or None
