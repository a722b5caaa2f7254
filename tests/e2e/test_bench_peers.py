"""The peer benchmark's driver (bench/peers/run.py), run for real on qtasks alone: the
same code path as a comparison run, with tiny N and no peer virtualenv, so the harness
cannot rot unnoticed. The peers themselves need their venvs (bench/peers/setup_venvs.sh)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.peers import brokers  # noqa: E402
from bench.peers import run as peers  # noqa: E402

REDIS_URL = os.environ.get("QTASKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TINY = ["--n", "40", "--n-io", "10", "--rt", "5", "--rt-budget", "2", "-r", "1"]
TINY += ["--timeout", "45", "--redis-url", REDIS_URL]

pytestmark = pytest.mark.e2e


def _run(tmp_path: Path, broker: str, *extra: str) -> dict:
    out = tmp_path / f"peers-{broker}"
    data = peers.main(["--broker", broker, "--only", "qtasks,qtasks_sync", *TINY, *extra,
                       "--out", str(out)])  # fmt: skip
    assert json.loads(out.with_suffix(".json").read_text()) == json.loads(json.dumps(data))
    markdown = out.with_suffix(".md").read_text()
    assert f"--broker {broker}" in markdown
    for name in ("qtasks", "qtasks_sync"):
        assert f"| {name} " in markdown
    return data


def _assert_measured(entry: dict, workloads: tuple[str, ...]) -> None:
    assert "error" not in entry, entry.get("error")
    assert sorted(entry["runs"]) == sorted(workloads)
    for workload in workloads:
        (run,) = entry["runs"][workload]
        assert "error" not in run, f"{workload}: {run['error']}"
    assert entry["runs"]["w1"][0]["rate"] > 0
    if "w2" in workloads:
        w2 = entry["runs"]["w2"][0]
        assert 0 < w2["first_s"] <= w2["seconds"]
        assert w2["rss_mb"] > 5 and w2["cpu_s"] > 0
    if "w3" in workloads:
        w3 = entry["runs"]["w3"][0]
        assert w3["samples"] >= 1 and 0 < w3["p50_ms"] <= w3["p99_ms"]


@pytest.mark.timeout(240)
def test_every_workload_on_sqlite(tmp_path: Path) -> None:
    data = _run(tmp_path, "sqlite")
    for name in ("qtasks", "qtasks_sync"):
        _assert_measured(data["frameworks"][name], ("w1", "w2", "w3", "w4"))
    machine = data["machine"]
    assert machine["cpu_count"] == os.cpu_count() and machine["servers"]["redis"]
    assert machine["commit"] != "?"


@pytest.mark.timeout(240)
def test_drain_and_round_trip_on_redis(tmp_path: Path) -> None:
    data = _run(tmp_path, "redis", "-w", "w1,w2,w3")
    for name in ("qtasks", "qtasks_sync"):
        _assert_measured(data["frameworks"][name], ("w1", "w2", "w3"))


def test_memory_runs_the_enqueue_only(tmp_path: Path) -> None:
    data = _run(tmp_path, "memory")
    entry = data["frameworks"]["qtasks"]
    assert entry["runs"]["w1"][0]["rate"] > 0
    assert "one process" in entry["runs"]["w2"][0]["error"]


def test_a_run_that_cannot_finish_is_reported_with_why(tmp_path: Path) -> None:
    # 2000 tasks of 50 ms at ten at a time need ~10 s: a 3 s limit cannot be met
    out = tmp_path / "short"
    argv = ["--broker", "sqlite", "--only", "qtasks", "-w", "w4", "--n-io", "2000"]
    argv += ["-r", "1", "--timeout", "3", "--redis-url", REDIS_URL, "--out", str(out)]
    data = peers.main(argv)
    (run,) = data["frameworks"]["qtasks"]["runs"]["w4"]
    assert "rate" not in run and run["error"]
    markdown = out.with_suffix(".md").read_text()
    assert "| error |" in markdown and "## Runs that failed" in markdown


def test_every_peer_has_a_module_pinned_versions_and_its_brokers() -> None:
    found = peers.adapters()
    expected = {
        "redis": {"celery", "dramatiq", "rq", "arq", "taskiq", "huey", "saq"},
        "postgres": {"procrastinate", "pgqueuer", "saq"},
        "rabbitmq": {"celery", "dramatiq", "taskiq_aio_pika"},
        "nats": {"taskiq_nats", "faststream"},
    }
    for broker, names in expected.items():
        running = {n for n, meta in found.items() if broker in meta["brokers"]}
        assert names | {"qtasks", "qtasks_sync"} == running, broker
    for name, meta in found.items():
        if meta["venv"] == "qtasks":
            continue
        pins = (ROOT / "bench/peers/requirements" / f"{meta['venv']}.txt").read_text()
        lines = [x for x in pins.splitlines() if x and not x.startswith("#")]
        assert lines and all("==" in x for x in lines), name


def test_reset_refuses_the_other_redis_dbs() -> None:
    with pytest.raises(brokers.BrokerError, match="refusing"):
        brokers.reset_redis("redis://127.0.0.1:6379/3")
    with pytest.raises(brokers.BrokerError, match="refusing"):
        brokers.reset_postgres("postgresql://postgres@127.0.0.1:5432/test")
    with pytest.raises(brokers.BrokerError, match="refusing"):
        brokers.reset_rabbitmq("amqp://guest:guest@127.0.0.1:5672/")


def _documented_commands() -> list[list[str]]:
    commands = []
    for doc in ("README.md", "docs/benchmarks.md"):
        for line in (ROOT / doc).read_text().splitlines():
            if line.startswith("python3 bench/peers/run.py"):
                commands.append(line.split("#")[0].split()[2:])
    return commands


def test_the_documented_commands_parse() -> None:
    commands = _documented_commands()
    assert len(commands) >= 5
    for argv in commands:
        opts = peers.parse_args(argv)
        assert opts.broker in ("redis", "postgres", "rabbitmq", "nats")
        for name in filter(None, opts.only.split(",")):
            assert name in peers.adapters()
