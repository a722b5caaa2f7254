"""Markdown for one run of bench/peers/run.py: the machine, the command, a table of
medians and what each framework ran with."""

from __future__ import annotations

import statistics
from typing import Any

COLUMNS = (
    ("w1", "rate", "W1 enqueue /s"),
    ("w2", "rate", "W2 drain /s"),
    ("w2", "first_s", "W2 first task s"),
    ("w2", "rss_mb", "W2 peak RSS MB"),
    ("w2", "cpu_s", "W2 worker CPU s"),
    ("w3", "p50_ms", "W3 p50 ms"),
    ("w3", "p99_ms", "W3 p99 ms"),
    ("w4", "rate", "W4 io-bound /s"),
)


def _fmt(v: float) -> str:
    if v != v:  # NaN
        return "-"
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


def median(runs: list[dict], key: str) -> float | None:
    """Median of `key` over the runs that have it (None: no run succeeded)."""
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else None


def cell(entry: dict, workload: str, key: str) -> str:
    runs = entry.get("runs", {}).get(workload)
    if runs is None:
        return "" if "error" not in entry else "n/a"
    value = median(runs, key)
    if value is None:
        return "error"
    return _fmt(value)


def render(data: dict[str, Any]) -> str:
    m = data["machine"]
    servers = ", ".join(f"{k} {v}" for k, v in m["servers"].items())
    st = data["settings"]
    lines = [
        f"# qtasks and its peers on {data['broker']}"
        + (" (quick smoke run: small N, one repeat; not a measurement)" if data["quick"] else ""),
        "",
        f"- command: `{data['command']}`",
        f"- commit: `{m['commit']}`, {m['date']}",
        f"- machine: {m['cpu_count']} CPUs ({m['cpu']}), Linux {m['kernel']}, "
        f"driver Python {m['python']}; servers: {servers}",
        f"- N={st['n']} (W1, W2), {st['n_io']} (W4), up to {st['rt']} round trips in "
        f"{st['rt_budget']:g} s (W3); median of {st['repeats']} repeat(s)",
        "",
        "| framework | " + " | ".join(c[2] for c in COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
    ]
    for name, entry in data["frameworks"].items():
        version = entry.get("about", {}).get("version", "")
        label = f"{name} {version}".strip()
        lines.append(f"| {label} | " + " | ".join(cell(entry, w, k) for w, k, _ in COLUMNS) + " |")
    lines += ["", "## Settings", ""]
    for name, entry in data["frameworks"].items():
        about = entry.get("about")
        if about is None:
            lines.append(f"- **{name}**: {entry.get('error', 'not run')}")
            continue
        worker = " ".join(about.get("worker", []))
        lines.append(
            f"- **{name}** {about.get('version', '')}: {about.get('concurrency', '')}; "
            f"round trip: {about.get('result_api', '')}; worker: `{worker}`"
            + (f"; {about['notes']}" if about.get("notes") else "")
        )
    errors = [
        f"- {name} {w}: {run['error'].splitlines()[0][:300]}"
        for name, entry in data["frameworks"].items()
        for w, runs in entry.get("runs", {}).items()
        for run in runs
        if "error" in run
    ]
    if errors:
        lines += ["", "## Runs that failed", "", *errors]
    return "\n".join(lines) + "\n"
