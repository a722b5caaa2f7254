"""`qtasks -A module:app web`: its options reach the dashboard and uvicorn, a missing
extra is exit code 3 (uvicorn itself is replaced here; the browser test serves for real)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qtasks.cli import main
from qtasks.web.dashboard import Dashboard

APP = """
from qtasks import QueueTasks
app = QueueTasks(name="cmd", broker_url="memory://web-command")
"""


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    (tmp_path / "webcmd.py").write_text(APP)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("QTASKS_WEB_TOKEN", raising=False)
    calls: list[dict[str, Any]] = []
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda asgi, **kw: calls.append({"asgi": asgi, **kw}))
    yield calls
    sys.modules.pop("webcmd", None)


def test_defaults_bind_localhost(served: list[dict[str, Any]]) -> None:
    assert main(["-A", "webcmd:app", "web"]) == 0
    (call,) = served
    assert call["host"] == "127.0.0.1" and call["port"] == 8000
    dash = call["asgi"]
    assert isinstance(dash, Dashboard)
    assert not dash.access.read_only and not dash.access.authenticated
    assert dash.sampler.interval == 5.0


def test_options_reach_the_dashboard(served: list[dict[str, Any]]) -> None:
    words = ["web", "--host", "0.0.0.0", "--port", "9000", "--read-only", "--token", "t"]
    assert main(["-A", "webcmd:app", *words, "--refresh", "2", "--sample-interval", "3"]) == 0
    (call,) = served
    dash = call["asgi"]
    assert (call["host"], call["port"]) == ("0.0.0.0", 9000)
    assert dash.access.read_only and dash.access.token == "t"
    assert dash.sampler.interval == 3.0


def test_token_from_the_environment(
    served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QTASKS_WEB_TOKEN", "from-env")
    assert main(["-A", "webcmd:app", "web", "--host", "10.1.2.3"]) == 0
    assert served[0]["asgi"].access.token == "from-env"


def test_bad_basic_auth_is_a_usage_error(
    served: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["-A", "webcmd:app", "web", "--basic-auth", "nopassword"])
    assert exit_info.value.code == 2 and "user:password" in capsys.readouterr().err
    assert served == []


def test_without_the_web_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn raises ImportError
    assert main(["-A", "webcmd:app", "web"]) == 3
    assert 'pip install ".[web]"' in capsys.readouterr().err


def test_metrics_are_served_with_the_dashboard(served: list[dict[str, Any]]) -> None:
    from starlette.testclient import TestClient

    assert main(["-A", "webcmd:app", "web"]) == 0
    dash = served[0]["asgi"]
    app = sys.modules["webcmd"].app
    app.purge_tasks()
    task = app.add_task("nobody_runs_this", 1)
    try:
        with TestClient(dash) as client:
            body = client.get("/metrics").text
        # the backend's counts, as every process sees them, and this process's counters
        assert 'qtasks_task_records{queue="default",status="new"} 1.0' in body
        assert 'qtasks_tasks_enqueued_total{queue="default",task="nobody_runs_this"} 1.0' in body
    finally:
        app.cancel(task.uuid)


def test_metrics_sum_the_worker_snapshots_of_a_directory(
    served: list[dict[str, Any]], tmp_path: Path
) -> None:
    from starlette.testclient import TestClient

    from qtasks.metrics import TaskMetrics

    for pid_counts in (2, 3):  # two worker processes' snapshots
        worker = TaskMetrics(tmp_path)
        worker.tallies.count("succeeded", ("resize", "default"), pid_counts)
        data = worker.tallies.snapshot()
        (tmp_path / f"qtasks-metrics-{pid_counts}000000.json").write_text(json.dumps(data))
    assert main(["-A", "webcmd:app", "web", "--metrics-dir", str(tmp_path)]) == 0
    with TestClient(served[0]["asgi"]) as client:
        body = client.get("/metrics").text
    assert 'qtasks_tasks_succeeded_total{queue="default",task="resize"} 5.0' in body


def test_no_metrics_and_metrics_without_prometheus(
    served: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from starlette.testclient import TestClient

    assert main(["-A", "webcmd:app", "web", "--no-metrics"]) == 0
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    assert main(["-A", "webcmd:app", "web"]) == 0
    assert 'no /metrics: it needs prometheus-client (pip install ".[prometheus]")' in (
        capsys.readouterr().err
    )
    for call in served:
        with TestClient(call["asgi"]) as client:
            assert client.get("/metrics").status_code == 404


def test_metrics_sit_behind_the_token(served: list[dict[str, Any]]) -> None:
    from starlette.testclient import TestClient

    assert main(["-A", "webcmd:app", "web", "--token", "s3cret"]) == 0
    with TestClient(served[0]["asgi"]) as client:
        assert client.get("/metrics").status_code == 401
        scraped = client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
        assert scraped.status_code == 200 and "qtasks_task_records" in scraped.text


def test_a_mounted_dashboard_serves_metrics_when_asked() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.testclient import TestClient

    from qtasks import QueueTasks
    from qtasks.web.dashboard import dashboard

    app = QueueTasks(name="mounted-metrics", broker_url="memory://mounted-metrics")
    host = Starlette(routes=[Mount("/ops", app=dashboard(app, metrics=True))])
    plain = Starlette(routes=[Mount("/ops", app=dashboard(app))])
    app.add_task("queued_only", 1)
    with TestClient(host) as client, TestClient(plain) as other:
        body = client.get("/ops/metrics").text
        assert 'qtasks_task_records{queue="default",status="new"} 1.0' in body
        assert other.get("/ops/metrics").status_code == 404  # not asked for
    app.purge_tasks()
