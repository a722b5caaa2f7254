"""The operating commands of `qtasks` against an app on SQLite, run in process: plain
tables when piped, rich tables on a terminal, `--json`, confirmations, exit codes."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qtasks.cli import main, output
from qtasks.core.models import Completion

APP = """
from qtasks import QueueTasks
app = QueueTasks(name="opscli", broker_url={url!r})

@app.task
def send_email(to):
    return to

@app.task
def charge(amount):
    raise ValueError("declined")
"""


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    (tmp_path / "opscli_app.py").write_text(APP.format(url=f"sqlite:///{tmp_path}/ops.db"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    sys.modules.pop("opscli_app", None)
    import opscli_app

    yield opscli_app.app
    opscli_app.app.flush_all()
    sys.modules.pop("opscli_app", None)


def run(capsys: pytest.CaptureFixture[str], *words: str) -> tuple[int, str]:
    code = main(["-A", "opscli_app:app", *words])
    return code, capsys.readouterr().out


def test_tasks_task_retry_and_json(shop: Any, capsys: pytest.CaptureFixture[str]) -> None:
    with shop.serve():
        sent = shop.add_task("send_email", "a@x", timeout=10)
        failed = shop.add_task("charge", 5, timeout=10)
    queued = shop.enqueue("send_email", ["b@x"], queue="mail")

    code, text = run(capsys, "tasks")
    lines = text.splitlines()
    assert code == 0 and lines[0].split() == [
        "uuid", "task", "status", "queue", "created", "attempts", "progress",
    ]  # fmt: skip
    assert [line.split()[0] for line in lines[1:]] == [
        str(queued.uuid),
        str(failed.uuid),
        str(sent.uuid),
    ]
    assert "\x1b[" not in text  # piped: no colour
    code, text = run(capsys, "tasks", "--status", "error", "--json")
    data = json.loads(text)
    assert code == 0 and data["cursor"] is None
    assert [(t["uuid"], t["status"], t["queue"]) for t in data["tasks"]] == [
        (str(failed.uuid), "error", "default")
    ]
    code, text = run(capsys, "tasks", "--name", "send_email", "--limit", "1")
    assert code == 0 and "more: --cursor " in text
    cursor = text.split("--cursor ")[1].strip()
    code, text = run(capsys, "tasks", "--name", "send_email", "--cursor", cursor, "--json")
    assert [t["uuid"] for t in json.loads(text)["tasks"]] == [str(sent.uuid)]

    code, text = run(capsys, "retry", str(failed.uuid), "--json")
    (entry,) = json.loads(text)
    assert code == 0 and entry["uuid"] == str(failed.uuid) and entry["retried_as"]
    code, text = run(capsys, "task", str(failed.uuid))
    assert code == 0 and "ValueError: declined" in text and "retry chain" in text
    assert entry["retried_as"] in text
    code, text = run(capsys, "task", entry["retried_as"], "--json")
    chain = json.loads(text)["chain"]
    assert [c["uuid"] for c in chain] == [str(failed.uuid), entry["retried_as"]]
    assert run(capsys, "task", "00000000-0000-4000-8000-000000000000")[0] == 1
    assert run(capsys, "retry", "00000000-0000-4000-8000-000000000000")[0] == 1


def test_cancel_queues_pause_and_status(shop: Any, capsys: pytest.CaptureFixture[str]) -> None:
    for n in range(3):
        shop.enqueue("send_email", [f"{n}@x"], queue="mail")
    shop.enqueue("charge", [1])
    code, text = run(capsys, "cancel", "--queue", "mail", "--reason", "stop", "--json")
    assert code == 0 and json.loads(text) == {"cancelled": 3}
    assert run(capsys, "cancel", "--queue", "mail")[0] == 1  # nothing left to cancel
    assert run(capsys, "cancel")[0] == 2  # neither uuids nor filters

    assert run(capsys, "pause", "mail")[0] == 0
    code, text = run(capsys, "queues", "--json")
    assert json.loads(text) == {
        "default": {"paused": False, "counts": {"new": 1}},
        "mail": {"paused": True, "counts": {"cancel": 3}},
    }
    code, text = run(capsys, "queues")
    assert code == 0 and text.splitlines()[2].split()[:2] == ["mail", "paused"]
    assert run(capsys, "resume", "mail")[0] == 0
    code, text = run(capsys, "status")
    assert code == 1 and "No live workers" in text and "default" in text  # depths shown
    with shop.serve():
        code, text = run(capsys, "status", "--json")
        assert code == 0 and json.loads(text)["queues"]["mail"] == {"cancel": 3}
        code, text = run(capsys, "workers")
        assert code == 0 and "default" in text.splitlines()[1]


def test_purge_asks_refuses_and_purges(
    shop: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(2):
        shop.enqueue("send_email", [n], queue="mail")
    shop.enqueue("send_email", [9])
    code, text = run(capsys, "purge", "--queue", "mail")  # stdin is no terminal here
    assert code == 1 and "--yes" in text and len(shop.list_tasks()) == 3
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert run(capsys, "purge", "--queue", "mail")[0] == 1
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    code, text = run(capsys, "purge", "--queue", "mail")
    assert code == 0 and "Purged 2 task(s)" in text
    assert run(capsys, "purge", "--yes", "--json") == (0, '{\n  "purged": "all"\n}\n')
    assert shop.list_tasks().tasks == []


def test_dead_letters(shop: Any, capsys: pytest.CaptureFixture[str]) -> None:
    record = shop._new_record("send_email", ("x",), {}, None)
    shop.backend.enqueue_sync([record])

    async def give_up() -> None:  # as the engine does past max_deliveries
        (d,) = await shop.backend.fetch("default", 1, 30, "w", 0)
        final = dataclasses.replace(d.record, status="error", updated_at=time.time())
        await shop.backend.complete([Completion(d, final, dead_letter="gave up")])

    asyncio.run(give_up())
    code, text = run(capsys, "dead", "list", "--json")
    assert code == 0 and [e["reason"] for e in json.loads(text)] == ["gave up"]
    assert run(capsys, "dead", "purge")[0] == 1  # no terminal, no --yes
    code, text = run(capsys, "dead", "requeue")
    assert code == 0 and "Requeued 1" in text
    assert [t.status for t in shop.list_tasks()] == ["new"]


def test_exit_codes_for_bad_values_and_an_unreachable_backend(
    shop: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(capsys, "tasks", "--since", "yesterday")[0] == 2
    with pytest.raises(SystemExit) as stopped:
        run(capsys, "tasks", "--status", "finished")
    assert stopped.value.code == 2
    (tmp_path / "blocker").write_text("a file, not a directory")
    kept = shop.backend
    shop.backend = type(shop.backend)(
        f"sqlite:///{tmp_path}/blocker/x.db",
        namespace="opscli",
        config=shop.config,
        log=shop.log,
    )
    assert run(capsys, "tasks")[0] == 3
    shop.backend = kept


def test_tables_on_a_terminal_are_rich(
    shop: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shop.enqueue("send_email", ["a@x"])
    monkeypatch.setattr(output, "terminal", lambda: True)
    code, text = run(capsys, "tasks")
    assert code == 0 and "━" in text and "send_email" in text


def test_the_new_commands_are_listed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for word in (
        "tasks",
        "task",
        "retry",
        "cancel",
        "queues",
        "pause",
        "resume",
        "workers",
        "dead",
    ):
        assert f"    {word} " in out or f"    {word}\n" in out, word


def test_an_async_app_works_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = APP.replace("from qtasks import QueueTasks", "from qtasks.asyncio import QueueTasks")
    (tmp_path / "opscli_async.py").write_text(source.format(url=f"sqlite:///{tmp_path}/a.db"))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("opscli_async", None)
    import opscli_async

    app = opscli_async.app
    queued = asyncio.run(app.enqueue("send_email", ["a@x"], queue="mail"))
    code = main(["-A", "opscli_async:app", "tasks", "--json"])
    tasks = json.loads(capsys.readouterr().out)["tasks"]
    assert code == 0 and [t["uuid"] for t in tasks] == [str(queued.uuid)]
    assert main(["-A", "opscli_async:app", "pause", "mail"]) == 0
    assert main(["-A", "opscli_async:app", "queues", "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{") :])["mail"]["paused"] is True
    assert main(["-A", "opscli_async:app", "purge", "--queue", "mail", "--yes"]) == 0
    assert "Purged 1 task(s)" in capsys.readouterr().out
    sys.modules.pop("opscli_async", None)
