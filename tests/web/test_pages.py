"""The dashboard's pages over plain HTTP, for the sync and the async app: what each
shows, the live fragments, filters and cursor paging, the chart's samples."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from qtasks.web.dashboard import dashboard

from .conftest import NO_HTTPX2_WARNING, TestClient, dead_letter, fill, make_app

pytestmark = NO_HTTPX2_WARNING


def test_every_page_shows_the_app_for_both_facades(facade: str, tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path}/pages.db", facade)
    ids = fill(app)
    with TestClient(dashboard(app)) as client:
        overview = client.get("/")
        assert overview.status_code == 200
        assert 'data-queue="default"' in overview.text and 'data-queue="mail"' in overview.text
        assert "No live workers." in overview.text
        assert 'id="chart"' in overview.text

        listing = client.get("/tasks")
        assert listing.status_code == 200
        for uuid in ids.values():
            assert f'data-uuid="{uuid}"' in listing.text
        errors = client.get("/tasks", params={"status": "error"}).text
        assert f'data-uuid="{ids["bad"]}"' in errors and ids["ok"] not in errors
        by_name = client.get("/tasks", params={"name": "add", "queue": "mail"}).text
        assert ids["queued"] in by_name and ids["ok"] not in by_name
        assert ids["ok"] in client.get("/tasks", params={"since": "1h"}).text
        future = client.get("/tasks", params={"since": str(time.time() + 3600)}).text
        assert "No task matches." in future

        detail = client.get(f"/tasks/{ids['bad']}")
        assert detail.status_code == 200
        assert "ValueError" in detail.text and "card declined for 5" in detail.text
        assert 'data-status="error"' in detail.text
        assert "<pre>[5]</pre>" in detail.text  # the arguments
        ok = client.get(f"/tasks/{ids['ok']}").text
        assert 'id="result"' in ok and ">3</pre>" in ok

        assert "No dead letters." in client.get("/dead").text
        assert "No schedules." in client.get("/schedules").text  # none declared


def test_a_bad_filter_is_shown_not_raised(client: TestClient) -> None:
    response = client.get("/tasks", params={"since": "yesterday"})
    assert response.status_code == 400
    assert 'id="error"' in response.text and "yesterday" in response.text


def test_unknown_task_is_404(client: TestClient) -> None:
    assert client.get("/tasks/00000000-0000-4000-8000-000000000000").status_code == 404
    assert client.get("/tasks/not-a-uuid").status_code == 404


def test_cursor_paging_walks_every_task_once(app: Any, client: TestClient) -> None:
    created = {str(app.enqueue("add", [n, n]).uuid) for n in range(120)}
    seen: list[str] = []
    params: dict[str, str] = {"name": "add"}
    for _ in range(5):
        page = client.get("/tasks", params=params).text
        seen += [u for u in created if f'data-uuid="{u}"' in page]
        if 'id="next-page"' not in page:
            break
        link = page.split('id="next-page"')[0].rsplit('href="', 1)[1].split('"')[0]
        params = dict(
            p.split("=", 1) for p in link.split("?", 1)[1].replace("&amp;", "&").split("&")
        )
        params = {k: v.replace("%2F", "/") for k, v in params.items()}
    assert len(seen) == 120 and set(seen) == created


def test_fragment_is_only_the_live_part(app: Any, client: TestClient) -> None:
    fill(app)
    full = client.get("/tasks").text
    part = client.get("/tasks", headers={"X-Qtasks-Fragment": "1"})
    assert part.status_code == 200
    assert '<table id="tasks">' in part.text and "<html" not in part.text
    assert "<html" in full and 'id="filters"' in full and 'id="filters"' not in part.text
    overview = client.get("/", headers={"X-Qtasks-Fragment": "1"}).text
    assert 'id="queues"' in overview and 'id="chart"' not in overview


def test_dead_letters_are_listed(app: Any, client: TestClient) -> None:
    uuid = dead_letter(app, "add", 1, 2)
    page = client.get("/dead").text
    assert f'data-uuid="{uuid}"' in page and "delivered 5 times" in page


def test_the_chart_counts_finished_tasks_per_minute(app: Any) -> None:
    dash = dashboard(app, sample_interval=0.2)
    with TestClient(dash) as client:
        client.get("/")  # starts sampling
        before = len(client.get("/series.json").json()["t"])
        fill(app)  # one success, one error
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            series = client.get("/series.json").json()
            if sum(series["success"]) and sum(series["error"]):
                break
            time.sleep(0.1)
    assert series["interval"] == 0.2
    assert len(series["t"]) > before
    assert len(series["t"]) == len(series["success"]) == len(series["error"])
    # One task over one interval of about 0.2 s: about 300 per minute.
    assert 100 < max(series["success"]) < 600 and 100 < max(series["error"]) < 600


def test_overview_shows_live_workers_and_what_they_run(tmp_path: Path) -> None:
    import threading

    # Heartbeats (and what a worker runs) every 0.2 s.
    app = make_app(f"sqlite:///{tmp_path}/workers.db", lease_timeout=0.6)
    release = threading.Event()

    @app.task(name="slow")
    def slow() -> str:
        release.wait(10)
        return "done"

    with TestClient(dashboard(app)) as client, app.serve():
        task = app.add_task("slow")
        deadline = time.monotonic() + 10
        page = ""
        while time.monotonic() < deadline:
            page = client.get("/").text
            if f"/tasks/{task.uuid}" in page:
                break
            time.sleep(0.2)
        release.set()
        assert 'id="workers"' in page and f"/tasks/{task.uuid}" in page and "slow" in page


def test_schedules_page_shows_what_the_app_schedules(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path}/sched.db")
    app.schedules = lambda: [  # type: ignore[attr-defined]
        {"name": "nightly", "task": "add", "cron": "0 3 * * *", "next_run": 1_900_000_000.0}
    ]
    with TestClient(dashboard(app)) as client:
        page = client.get("/schedules").text
    assert 'id="schedules"' in page and "nightly" in page and "0 3 * * *" in page
    assert "no scheduler" not in page


def test_templates_and_static_files_ship_in_the_package() -> None:
    from importlib import resources

    root = resources.files("qtasks.web.dashboard")
    for name in ("base", "overview", "tasks", "task", "dead", "schedules", "confirm"):
        assert root.joinpath("templates", f"{name}.html").is_file(), name
    for name in ("dashboard.js", "dashboard.css"):
        assert root.joinpath("static", name).is_file(), name


def test_schedules_of_an_async_method_returning_objects(tmp_path: Path) -> None:
    import dataclasses
    from datetime import datetime

    @dataclasses.dataclass
    class Schedule:
        name: str
        task: str
        every: float
        next_run: datetime

    app = make_app(f"sqlite:///{tmp_path}/sched.db")

    async def schedules() -> list[Schedule]:
        return [Schedule("report", "add", 3600.0, datetime(2030, 1, 2, 3, 4, 5))]

    app.schedules = schedules  # type: ignore[attr-defined]
    with TestClient(dashboard(app)) as client:
        page = client.get("/schedules").text
    assert "report" in page and "3600.0" in page and "2030-01-02 03:04:05" in page


def test_an_app_without_a_scheduler(tmp_path: Path) -> None:
    class Plain:
        """Only what the dashboard needs of an app, without `schedules()`."""

        name = "plain"
        backend = None

        def list_tasks(self, **_: Any) -> None:
            raise AssertionError("not called")

    with TestClient(dashboard(Plain())) as client:
        page = client.get("/schedules").text
    assert 'id="no-scheduler"' in page and 'id="schedules"' not in page
