"""Targets, the printed table, the JSON file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# name -> (description, comparison, bound); reported next to the numbers, never asserted.
TARGETS: dict[str, tuple[str, str, float]] = {
    "R_fresh": ("fresh ingest rows/s / COPY rows/s", ">=", 0.5),
    "R_dup": ("all-duplicate ingest rows/s / COPY rows/s", ">=", 0.75),
    "small_p99_ms_8": ("small syncs p99 at 8 clients (ms)", "<", 100.0),
    "memory_x_payload": ("(peak RSS - idle) / payload size", "<", 4.0),
}


def evaluate(values: dict[str, float | None]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, (what, op, bound) in TARGETS.items():
        value = values.get(name)
        met = None if value is None else (value >= bound if op == ">=" else value < bound)
        out[name] = {"what": what, "target": f"{op} {bound:g}", "value": value, "met": met}
    return out


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(result: dict[str, Any]) -> str:
    meta, lines = result["meta"], []
    lines.append(
        f"hae-server bench  {meta['started_at']}  {meta['points']:,} points "
        f"({_mb(meta['payload_bytes'])}), seed {meta['seed']}, {meta['cpus']} CPUs, "
        f"PostgreSQL {meta['postgres'].get('server_version')}, worker: {meta['worker']}"
    )
    copy = result["copy"]
    lines += ["", "1. physical limit: COPY of the stored rows into empty tables"]
    lines.append(f"   {'table':<22}{'rows':>12}{'records s':>11}{'binary s':>10}")
    for name, t in copy["tables"].items():
        binary = copy["binary"]["tables"].get(name, {}).get("seconds")
        lines.append(f"   {name:<22}{t['rows']:>12,}{t['seconds']:>11.3f}{_fmt(binary, 3):>10}")
    lines.append(
        f"   COPY (copy_records_to_table): {copy['rows']:,} rows in {copy['seconds']:.2f} s = "
        f"{copy['rows_per_s']:,} rows/s   (binary COPY: {copy['binary']['rows_per_s']:,} rows/s)"
    )
    lines += ["", "2. end-to-end HTTP ingest, timed until durable"]
    lines.append(
        f"   {'run':<10}{'mode':<7}{'received':>10}{'inserted':>10}{'updated':>9}"
        f"{'unchanged':>11}{'seconds':>9}{'accept s':>9}{'app s':>7}{'rows/s':>10}{'R':>7}"
    )
    for name, run in result["ingest"].items():
        lines.append(
            f"   {name:<10}{run['mode']:<7}{run['received']:>10,}{run['inserted']:>10,}"
            f"{run['updated']:>9,}{run['unchanged']:>11,}{run['seconds']:>9.2f}"
            f"{run['accepted_s']:>9.2f}{_fmt(run.get('processing_s'), 2):>7}"
            f"{run['rows_per_s']:>10,}{run['R']:>7.2f}"
        )
    lines.append(
        "   (seconds: POST until durable; accept s: until the POST answered; app s: the app's"
        " logged processing time)"
    )
    lines += ["", "3. small syncs (distinct bodies, one connection per client)"]
    lines.append(
        f"   {'clients':>7}{'requests':>10}{'points/req':>11}{'req/s':>8}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'max ms':>9}{'warm-up max ms':>16}"
    )
    for level in result["small_syncs"].values():
        warmup = level.get("warmup_max_ms")
        lines.append(
            f"   {level['clients']:>7}{level['requests']:>10}{level['points_per_request']:>11}"
            f"{level['req_per_s']:>8.1f}{level['p50_ms']:>9.1f}{level['p99_ms']:>9.1f}"
            f"{level['max_ms']:>9.1f}{'-' if warmup is None else f'{warmup:.1f}':>16}"
        )
    lines.append(
        "   (each client first sends one unmeasured body, all at once: the warm-up column is the"
        " slowest of those, new connections on both sides)"
    )
    if result.get("floors"):
        lines += floor_table(result)
    lines += ["", "4. memory (RSS)"]
    for proc, mem in result["memory"].items():
        if not isinstance(mem, dict):
            continue
        peaks = ", ".join(f"{k} {_mb(v * 1024)}" for k, v in mem.get("peak_kib", {}).items())
        lines.append(
            f"   {proc}: idle {_mb(mem['idle_kib'] * 1024)}; peak {peaks}; "
            f"(peak - idle) / payload = {mem['x_payload']:.2f}"
        )
    lines += ["", "targets (reported, not asserted)"]
    for name, t in result["targets"].items():
        verdict = {True: "met", False: "MISSED", None: "n/a"}[t["met"]]
        lines.append(
            f"   {name:<17}{_fmt(t['value'], 2):>9}  {t['target']:<8} {verdict:<7}{t['what']}"
        )
    for warning in result.get("warnings", []):
        lines.append(f"warning: {warning}")
    return "\n".join(lines)


_FLOORS = (
    ("service", None),
    ("(a) echo", "echo"),
    ("(b) db", "db"),
    ("(c) full", "full"),
)


def floor_table(result: dict[str, Any]) -> list[str]:
    """Service against its floors, level by level, and R_small."""
    lines = ["", "3b. small syncs against their floors (same bodies, clients, tables)"]
    lines.append(f"   {'clients':>7}  {'':<10}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}")
    for level, floors in result["floors"].items():
        service = result["small_syncs"][level]
        for i, (label, kind) in enumerate(_FLOORS):
            figures = service if kind is None else floors[kind]
            lines.append(
                f"   {level if i == 0 else '':>7}  {label:<10}{figures['req_per_s']:>8.1f}"
                f"{figures['p50_ms']:>9.1f}{figures['p99_ms']:>9.1f}"
            )
    summary = result["summary"]
    ratios = "   ".join(
        f"{clients} clients {_fmt(summary.get(name), 2)}"
        for clients, name in (("1", "R_small_1"), ("8", "R_small"), ("32", "R_small_32"))
    )
    lines.append(f"   R_small = service req/s / (c) req/s:   {ratios}")
    lines.append(
        "   ((a) reads the body and answers; (b) one transaction: archive row, COPY of the rows"
        " the app's normaliser made beforehand, outcome; (c) (b) with the app's decoder)"
    )
    return lines


def write(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
