"""The dashboard in a real browser (Debian's headless Chromium through its ChromeDriver):
a real worker and `qtasks web` (uvicorn) run as processes; the test opens every page,
retries a failed task through the confirmation step and sees the copy succeed. It saves
a screenshot of each page: into docs/images/ (for docs/dashboard.md) when run with
QTASKS_DOCS_SCREENSHOTS=1, else into the test's temporary folder, so a test run leaves
the checkout as it was."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import LIMIT, dead_letter

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(240),
    pytest.mark.skipif(
        not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
        reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
        "chromium-driver)",
    ),
]

SHOP = textwrap.dedent(
    """
    import os
    import time

    from qtasks import QueueTasks
    from qtasks.configs import QueueConfig

    HERE = os.path.dirname(os.path.abspath(__file__))
    app = QueueTasks(
        name="shop",
        broker_url=f"sqlite:///{HERE}/shop.db",
        config=QueueConfig(lease_timeout=3.0),
    )


    @app.task
    def send_email(to: str) -> str:
        return f"sent to {to}"


    @app.task
    def charge(amount: int) -> int:
        if os.path.exists(os.path.join(HERE, "declined")):
            raise ValueError(f"card declined for {amount}")
        return amount


    app.schedule("nightly-report", "send_email", cron="0 3 * * *", args=["ops@example.com"])
    app.schedule("heartbeat", "send_email", every=3600, args=["ping@example.com"])


    @app.task(echo=True)
    def import_pages(self, pages: int) -> int:
        for page in range(1, pages + 1):
            time.sleep(0.5)
            self.ctx.set_progress(page / pages, f"page {page}/{pages}")
        return pages
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def eventually(check: Callable[[], Any], what: str, limit: float = LIMIT) -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Any]:
    (tmp_path / "shop.py").write_text(SHOP)
    sys.path.insert(0, str(tmp_path))
    try:
        import shop as module

        yield module
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("shop", None)


def start(args: list[str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QTASKS_")}
    env["PYTHONPATH"] = str(cwd)
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "qtasks", "-A", "shop:app", *args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    # A click that navigates returns before the next page is there: finding an element
    # waits for it (each element looked for after a click is only on the next page).
    driver.implicitly_wait(LIMIT)
    try:
        yield driver
    finally:
        driver.quit()


def test_pages_and_retry_in_a_real_browser(shop: Any, browser: Any, tmp_path: Path) -> None:
    IMAGES = DOCS_IMAGES if os.environ.get("QTASKS_DOCS_SCREENSHOTS") == "1" else tmp_path
    from selenium.webdriver.common.by import By

    app = shop.app
    (tmp_path / "declined").touch()
    port = free_port()
    worker = start(["run", "--concurrency", "4"], tmp_path, tmp_path / "worker.log")
    web = start(
        ["web", "--port", str(port), "--refresh", "1", "--sample-interval", "1"],
        tmp_path,
        tmp_path / "web.log",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for n in range(6):
            app.add_task("send_email", f"user{n}@example.com")
        failed = app.add_task("charge", 42)
        eventually(lambda: (t := app.get(failed.uuid)) and t.status == "error", "charge to fail")
        dead = asyncio.run(_dead(app))
        app.enqueue("send_email", ["later@example.com"], queue="mail")
        app.pause_queue("mail")
        importing = app.add_task("import_pages", 30)

        def up() -> bool:
            try:
                with urllib.request.urlopen(base + "/", timeout=2) as response:
                    return bool(response.status == 200)
            except OSError:
                return False

        eventually(up, "the dashboard to serve", limit=30)
        IMAGES.mkdir(parents=True, exist_ok=True)

        # Overview: queues, the paused one, the worker running import_pages, the chart.
        browser.get(base + "/")
        assert browser.find_element(By.CSS_SELECTOR, 'tr[data-queue="mail"] .paused')
        eventually(
            lambda: browser.find_elements(
                By.CSS_SELECTOR, f'#workers a[href="/tasks/{importing.uuid}"]'
            ),
            "the worker to show the task it runs",
        )
        for n in range(4):  # a few more finished tasks between samples for the chart
            app.add_task("send_email", f"batch{n}@example.com")
            time.sleep(1.0)
        eventually(
            lambda: "sampled every" in browser.find_element(By.ID, "chart-note").text,
            "the chart to draw",
        )
        browser.set_window_size(1280, 1180)  # the whole page: chart, queues, workers
        browser.save_screenshot(str(IMAGES / "dashboard-overview.png"))
        browser.set_window_size(1280, 900)

        # Tasks, with a running one's progress.
        browser.get(base + "/tasks")
        eventually(
            lambda: browser.find_elements(By.CSS_SELECTOR, "#tasks .progress .bar"),
            "a progress bar",
        )
        browser.save_screenshot(str(IMAGES / "dashboard-tasks.png"))

        # The failed task, its traceback; retry it through the confirmation step.
        browser.get(base + "/tasks?status=error")
        row = browser.find_element(By.CSS_SELECTOR, f'tr[data-uuid="{failed.uuid}"]')
        row.find_element(By.CSS_SELECTOR, "a[href]").click()
        assert "card declined for 42" in browser.find_element(By.ID, "traceback").text
        browser.save_screenshot(str(IMAGES / "dashboard-task-error.png"))
        browser.find_element(By.CSS_SELECTOR, 'a[data-action="retry"]').click()
        assert "again" in browser.find_element(By.CSS_SELECTOR, ".question").text
        browser.save_screenshot(str(IMAGES / "dashboard-confirm.png"))
        (tmp_path / "declined").unlink()  # the card goes through this time
        browser.find_element(By.ID, "confirm").click()
        assert "Retried" in browser.find_element(By.ID, "flash").text
        eventually(  # the page updates itself (every second here) until the copy is done
            lambda: browser.find_element(By.ID, "status").get_attribute("data-status") == "success",
            "the copy to succeed",
            limit=30,
        )
        copy = browser.current_url.split("?")[0].rsplit("/", 1)[1]
        assert app.get(copy).status == "success" and app.get(copy).retry_of == str(failed.uuid)
        assert str(failed.uuid) in browser.find_element(By.ID, "chain").text
        browser.save_screenshot(str(IMAGES / "dashboard-task.png"))

        # Dead letters and schedules.
        browser.get(base + "/dead")
        assert browser.find_element(By.CSS_SELECTOR, f'tr[data-uuid="{dead}"]')
        browser.save_screenshot(str(IMAGES / "dashboard-dead.png"))
        browser.get(base + "/schedules")
        assert browser.find_element(By.CSS_SELECTOR, 'tr[data-schedule="nightly-report"]')
        browser.save_screenshot(str(IMAGES / "dashboard-schedules.png"))
        assert app.wait(importing.uuid, timeout=30).status == "success"
    finally:
        for proc in (web, worker):
            proc.terminate()
        codes = [proc.wait(timeout=30) for proc in (web, worker)]
        app.flush_all()
    logs = (tmp_path / "web.log").read_text() + (tmp_path / "worker.log").read_text()
    # uvicorn ends by the signal it was stopped with, once it has shut down cleanly.
    assert codes[0] in (0, -signal.SIGTERM) and "Application shutdown complete" in logs, logs
    assert codes[1] == 0, logs


async def _dead(app: Any) -> str:
    return await asyncio.to_thread(dead_letter, app, "charge", 7)
