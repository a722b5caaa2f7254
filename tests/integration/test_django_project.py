"""The Django example project (examples/django_shop), run for real: migrations, a
worker started with `manage.py qtasks worker` (or `qtasks -A`), views that enqueue on
commit, tasks that use the ORM; on SQLite, and once on PostgreSQL with the task written
inside Django's own transaction."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .processes import wait_for_log

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "examples" / "django_shop"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def env_for(data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QTASKS_", "SHOP_"))}
    env.update(
        SHOP_DATA_DIR=str(data),
        DJANGO_SETTINGS_MODULE="shop_site.settings",
        PYTHONPATH=str(PROJECT),
        **extra,
    )
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 60) -> str:
    proc = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def shell(env: dict[str, str], code: str) -> object:
    """Run `code` in `manage.py shell`; it prints one JSON value, returned decoded."""
    return json.loads(manage(env, "shell", "-c", code).strip().splitlines()[-1])


class Worker:
    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.out = log.open("w")
        self.proc = subprocess.Popen(
            command, cwd=PROJECT, env=env, stdout=self.out, stderr=subprocess.STDOUT
        )
        wait_for_log(log, "Starting app", self.proc)

    def stop(self) -> str:
        self.proc.terminate()
        assert self.proc.wait(timeout=30) == 0, self.log.read_text()
        self.out.close()
        return self.log.read_text()


@pytest.fixture
def sqlite_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = env_for(tmp_path)
    manage(env, "migrate", "-v0")
    yield env


WAIT_RECEIPT = """
import json, time
from django.test import Client
from orders.models import Order
from django.db import transaction
from qtasks.contrib.django import add_task_on_commit
client = Client()
try:
    with transaction.atomic():
        lost = Order.objects.create(item="refunded")
        add_task_on_commit("orders.send_receipt", lost.pk)
        raise RuntimeError("rolled back")
except RuntimeError:
    pass
order_id = client.post("/orders/", {"item": "lamp"}).json()["id"]
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    receipt = client.get(f"/orders/{order_id}/").json()["receipt"]
    if receipt:
        break
    time.sleep(0.1)
print(json.dumps(receipt))
"""


def test_manage_py_worker_runs_orm_tasks_enqueued_on_commit(
    sqlite_env: dict[str, str], tmp_path: Path
) -> None:
    worker = Worker(
        [sys.executable, "manage.py", "qtasks", "worker", "--log-level", "INFO"],
        sqlite_env,
        tmp_path / "worker.log",
    )
    try:
        assert shell(sqlite_env, WAIT_RECEIPT) == "receipt for lamp"
        counts = shell(
            sqlite_env,
            "import json; from qtasks.contrib.django import get_app\n"
            "app = get_app()\n"
            "print(json.dumps([app.add_task('orders.count', timeout=20).returning "
            "for _ in range(3)]))",
        )
    finally:
        log = worker.stop()
    assert "tasks=2" in log, log  # both tasks of orders/tasks.py were discovered
    # The rolled-back order enqueued nothing: one receipt and three counts ran.
    assert "after 4 task(s)" in log, log
    assert counts == [{"orders": 1, "fresh_connection": True}] * 3


def test_qtasks_command_sets_django_up_itself(sqlite_env: dict[str, str], tmp_path: Path) -> None:
    """`qtasks -A qtasks.contrib.django:get_app run` with only DJANGO_SETTINGS_MODULE set:
    Django is set up before the tasks modules are imported."""
    worker = Worker(
        [
            sys.executable,
            "-m",
            "qtasks",
            "-A",
            "qtasks.contrib.django:get_app",
            "run",
            "--log-level",
            "INFO",
        ],
        sqlite_env,
        tmp_path / "worker.log",
    )
    try:
        assert shell(sqlite_env, WAIT_RECEIPT) == "receipt for lamp"
    finally:
        log = worker.stop()
    assert "tasks=2" in log, log


def test_status_command_through_manage_py(sqlite_env: dict[str, str]) -> None:
    """Any qtasks command works through manage.py, on the project's app."""
    proc = subprocess.run(
        [sys.executable, "manage.py", "qtasks", "status"],
        cwd=PROJECT,
        env=sqlite_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (proc.returncode, proc.stdout) == (1, "No live workers for app 'shop'\n")
    # and from code, with call_command
    out = manage(
        sqlite_env,
        "shell",
        "-c",
        "from django.core.management import call_command\n"
        "try:\n    call_command('qtasks', 'status')\nexcept SystemExit as exc:\n"
        "    print('exit', exc.code)",
    )
    assert out.endswith("No live workers for app 'shop'\nexit 1\n"), out


def test_postgres_enqueue_inside_djangos_transaction(tmp_path: Path) -> None:
    import psycopg

    schema = f"integ_django_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    env = env_for(tmp_path, SHOP_PG_SCHEMA=schema, SHOP_QTASKS_URL=PG_URL)
    try:
        manage(env, "migrate", "-v0")
        result = shell(
            env,
            """
import json
from django.db import transaction
from orders.models import Order
from qtasks.contrib.django import enqueue_on_commit, get_app
app = get_app()
app.flush_all()
with transaction.atomic():
    order = Order.objects.create(item="desk")
    enqueue_on_commit("orders.send_receipt", [order.pk])
    # Written inside this transaction, not deferred to a commit callback.
    from django.db import connection
    deferred = len(connection.run_on_commit)
with app.serve():
    import time
    deadline = time.monotonic() + 20
    while not Order.objects.get(pk=order.pk).receipt and time.monotonic() < deadline:
        time.sleep(0.1)
print(json.dumps([deferred, Order.objects.get(pk=order.pk).receipt]))
""",
        )
        assert result == [0, "receipt for desk"]
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


DASHBOARD = """
import asyncio, json, re
from urllib.parse import urlencode
from django.contrib.auth.models import User
from django.test import AsyncClient, Client
from qtasks.contrib.django import get_app

app = get_app()
task = app.add_task("orders.count")  # no worker runs: it stays queued
out = {}
anonymous = Client().get("/ops/")
out["anonymous"] = [anonymous.status_code, anonymous["Location"]]
User.objects.create_user("clerk", password="pw")
User.objects.create_user("boss", password="pw", is_staff=True)
clerk = Client(); clerk.login(username="clerk", password="pw")
out["clerk"] = clerk.get("/ops/").status_code
boss = Client(); boss.login(username="boss", password="pw")
page = boss.get("/ops/tasks?status=new")
out["tasks_page"] = [page.status_code, str(task.uuid) in page.content.decode(),
                     'href="/ops/tasks/' in page.content.decode()]
confirm = boss.get(f"/ops/confirm/cancel?uuid={task.uuid}").content.decode()
token = re.search(r'name="csrf" value="([^"]+)"', confirm).group(1)
form = "application/x-www-form-urlencoded"  # as a browser posts the dashboard's form
done = boss.post("/ops/do/cancel", urlencode({"csrf": token, "uuid": str(task.uuid)}),
                 content_type=form, headers={"Origin": "http://testserver"})
out["cancel"] = [done.status_code, done["Location"].startswith("/ops/"),
                 app.get(task.uuid).status]
forged = boss.post("/ops/do/cancel", urlencode({"csrf": "x" * 40, "uuid": str(task.uuid)}),
                   content_type=form, headers={"Origin": "http://testserver"})
out["forged"] = forged.status_code

async def under_asgi():
    client = AsyncClient()
    await client.aforce_login(await User.objects.aget(username="boss"))
    page = await client.get("/ops/")
    return [page.status_code, "Overview" in page.content.decode()]

out["asgi"] = asyncio.run(under_asgi())
print(json.dumps(out))
"""


def test_dashboard_in_the_projects_urlconf(sqlite_env: dict[str, str]) -> None:
    """`path("ops/", include(dashboard_urls()))`: staff members only (Django's login),
    links and forms under the prefix, the dashboard's own CSRF check, sync and async."""
    out = shell(sqlite_env, DASHBOARD)
    assert out == {
        "anonymous": [302, "/accounts/login/?next=/ops/"],
        "clerk": 403,
        "tasks_page": [200, True, True],
        "cancel": [303, True, "cancel"],
        "forged": 403,
        "asgi": [200, True],
    }
