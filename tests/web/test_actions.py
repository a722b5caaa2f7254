"""The actions, each through its confirmation page and CSRF-checked form: retry, cancel,
cancel matching, purge, pause/resume, dead letters; and the dashboard mounted in a host
app with an extra ASGI sub-app."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount

from qtasks.web.dashboard import dashboard

from .conftest import (
    LIMIT,
    NO_HTTPX2_WARNING,
    ORIGIN,
    TestClient,
    confirm_and_post,
    csrf_of,
    dead_letter,
    fill,
)

pytestmark = NO_HTTPX2_WARNING


def message(response: Any) -> str:
    return parse_qs(urlsplit(response.headers["location"]).query)["msg"][0]


def test_retry_runs_a_linked_copy(app: Any, client: TestClient) -> None:
    ids = fill(app)
    page = client.get("/confirm/retry", params={"uuid": ids["bad"]}).text
    assert f"Run task {ids['bad']} again" in page and 'id="confirm"' in page
    assert "<strong>charge</strong>" in page and "s-error" in page  # which task, as it is
    done = confirm_and_post(client, "retry", {"uuid": ids["bad"]})
    assert done.status_code == 303
    copy = urlsplit(done.headers["location"]).path.rsplit("/", 1)[1]
    assert message(done) == f"Retried {ids['bad']} as {copy}"
    assert app.get(copy).retry_of == ids["bad"]
    with app.serve():
        assert app.wait(copy, timeout=LIMIT).status == "error"  # charge(5) fails again
    chain = client.get(f"/tasks/{copy}").text
    assert 'id="chain"' in chain and ids["bad"] in chain
    assert "Retried" in client.get(done.headers["location"]).text  # the message is shown


def test_retry_of_an_unfinished_task_says_why(app: Any, client: TestClient) -> None:
    ids = fill(app)
    done = confirm_and_post(client, "retry", {"uuid": ids["queued"]})
    assert done.status_code == 303 and "only a finished task" in message(done)


def test_cancel_one_and_cancel_matching(app: Any, client: TestClient) -> None:
    ids = fill(app)
    done = confirm_and_post(client, "cancel", {"uuid": ids["queued"]})
    assert done.status_code == 303 and app.get(ids["queued"]).status == "cancel"
    more = [str(app.enqueue("add", [n, n], queue="bulk").uuid) for n in range(3)]
    page = client.get("/tasks", params={"queue": "bulk"}).text
    assert 'data-action="cancel-matching"' in page
    done = confirm_and_post(client, "cancel-matching", {"queue": "bulk", "status": ""})
    assert message(done) == "Cancelled 3 task(s)"
    assert {app.get(u).status for u in more} == {"cancel"}


def test_pause_resume_and_purge_a_queue(app: Any, client: TestClient) -> None:
    fill(app)
    confirm_and_post(client, "pause", {"queue": "mail"})
    assert app.paused_queues() == ["mail"]
    overview = client.get("/").text
    assert "paused" in overview and 'data-action="resume"' in overview
    confirm_and_post(client, "resume", {"queue": "mail"})
    assert app.paused_queues() == []
    done = confirm_and_post(client, "purge", {"queue": "mail", "status": ""})
    assert message(done) == "Purged 1 task(s)"
    assert "mail" not in app.count_tasks()
    page = client.get("/confirm/purge").text
    assert "EVERY task record" in page
    done = confirm_and_post(client, "purge", {"queue": "", "status": "error"})
    assert message(done) == "Purged 1 task(s)" and "error" not in app.count_tasks()["default"]


def test_dead_letters_requeue_and_purge(app: Any, client: TestClient) -> None:
    first = dead_letter(app, "add", 1, 2)
    second = dead_letter(app, "add", 3, 4)
    done = confirm_and_post(client, "dead-requeue", {"uuid": first})
    assert message(done) == "Requeued 1 dead letter(s)" and app.get(first).status == "new"
    done = confirm_and_post(client, "dead-purge", {"uuid": ""})
    assert message(done) == "Purged 1 dead letter(s)"
    assert app.dead_letters() == [] and app.get(second) is not None


def test_unknown_action_and_missing_fields(client: TestClient) -> None:
    assert client.get("/confirm/explode").status_code == 404
    assert client.get("/confirm/retry").status_code == 400
    unknown = "00000000-0000-4000-8000-000000000000"
    assert client.get("/confirm/retry", params={"uuid": unknown}).status_code == 404
    token = client.cookies["qtasks_csrf"]
    missing = client.post("/do/pause", data={"csrf": token}, headers={"origin": ORIGIN})
    assert missing.status_code == 400


def test_mounted_in_a_host_with_an_extra_sub_app(app: Any) -> None:
    ids = fill(app)
    dash = dashboard(app, token="t0k")
    dash.mount("/metrics", PlainTextResponse("qtasks_up 1\n"))
    host = Starlette(routes=[Mount("/ops", app=dash)])
    with TestClient(host, base_url="http://testserver") as client:
        assert client.get("/ops/metrics").status_code == 401  # behind the same access
        first = client.get("/ops/tasks?token=t0k", follow_redirects=False)
        assert first.headers["location"] == "/ops/tasks"
        assert "Path=/ops/" in first.headers["set-cookie"]
        page = client.get("/ops/tasks").text
        assert (
            'href="/ops/static/dashboard.css"' in page and f'href="/ops/tasks/{ids["bad"]}"' in page
        )
        assert client.get("/ops/metrics").text == "qtasks_up 1\n"
        confirm = client.get("/ops/confirm/retry", params={"uuid": ids["bad"]}).text
        assert 'action="/ops/do/retry"' in confirm
        done = client.post(
            "/ops/do/retry",
            data={"csrf": csrf_of(confirm), "uuid": ids["bad"]},
            headers={"origin": ORIGIN},
            follow_redirects=False,
        )
        assert done.status_code == 303 and done.headers["location"].startswith("/ops/tasks/")


def test_schedules_are_listed_paused_resumed_run_and_removed(app: Any, client: TestClient) -> None:
    app.schedule("nightly-add", "add", cron="0 3 * * *", args=[1, 2])
    page = client.get("/schedules").text
    assert 'data-schedule="nightly-add"' in page and "cron" in page and "0 3 * * *" in page
    assert 'data-action="schedule-pause"' in page

    assert message(confirm_and_post(client, "schedule-pause", {"id": "nightly-add"})) == (
        "Paused schedule nightly-add"
    )
    (info,) = app.schedules()
    assert info.paused and info.next_run is None
    assert 'data-action="schedule-resume"' in client.get("/schedules").text
    confirm_and_post(client, "schedule-resume", {"id": "nightly-add"})
    assert not app.schedules()[0].paused

    done = confirm_and_post(client, "schedule-run", {"id": "nightly-add"})
    uuid = urlsplit(done.headers["location"]).path.rsplit("/", 1)[1]
    task = app.get(uuid)
    assert task is not None and task.task_name == "add" and list(task.args) == [1, 2]

    done = confirm_and_post(client, "schedule-remove", {"id": "nightly-add"})
    assert message(done) == "Removed schedule nightly-add"
    unknown = confirm_and_post(client, "schedule-pause", {"id": "nope"})
    assert "failed" in message(unknown)
