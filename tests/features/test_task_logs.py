"""The worker's log line per task, task loggers that name their task, the JSON format."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import qtasks
import qtasks.asyncio
from qtasks.logs import JsonFormatter, Logger

pytestmark = pytest.mark.anyio

LIMIT = 20.0


def _records(caplog: pytest.LogCaptureFixture, uuid: Any) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "task_uuid", None) == str(uuid)]


@pytest.mark.parametrize("facade", ["sync", "async"])
async def test_one_info_line_per_task_with_its_fields(
    facade: str, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    cls = qtasks.asyncio.QueueTasks if facade == "async" else qtasks.QueueTasks
    app = cls(f"tasklog-{facade}", broker_url=f"sqlite:///{tmp_path}/l.db")

    @app.task(queue="mail")
    def send(to: str) -> str:
        return to

    caplog.set_level(logging.INFO, logger="qtasks")
    if facade == "async":
        async with app.serve(queues=["mail"]):
            task = await app.add_task("send", "a@b", timeout=LIMIT)
    else:
        with app.serve(queues=["mail"]):
            task = app.add_task("send", "a@b", timeout=LIMIT)
    assert task.status == "success"
    [line] = _records(caplog, task.uuid)  # INFO: the outcome only, not the start
    assert line.levelno == logging.INFO
    assert line.getMessage().startswith(f"Task send ({task.uuid}) success in ")
    assert "on queue mail" in line.getMessage()
    assert (line.task_name, line.queue, line.outcome) == ("send", "mail", "success")  # type: ignore[attr-defined]
    assert 0 <= line.duration < LIMIT  # type: ignore[attr-defined]


async def test_debug_adds_the_start_line_and_errors_carry_their_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = qtasks.asyncio.QueueTasks("tasklog-levels", broker_url="memory://tasklog-levels")

    @app.task
    async def ok() -> None:
        pass

    @app.task(retry=1, retry_backoff=0)
    async def bad() -> None:
        raise ValueError("no such user")

    app.config.logs_default_level_server = logging.DEBUG
    async with app.serve():
        done = await ok.add_task(timeout=LIMIT)
        failed = await bad.add_task(timeout=LIMIT)
        retried = await app.get(failed.retry_parent_uuid)
    start, end = _records(caplog, done.uuid)
    assert start.levelno == logging.DEBUG and "started on queue default (attempt 1)" in (
        start.getMessage()
    )
    assert end.levelno == logging.INFO
    warning = _records(caplog, retried.uuid)[-1]
    assert warning.levelno == logging.WARNING and warning.outcome == "retry"  # type: ignore[attr-defined]
    assert f"retry 1/1 as {failed.uuid}" in warning.getMessage()
    error = _records(caplog, failed.uuid)[-1]
    assert error.levelno == logging.ERROR and error.outcome == "error"  # type: ignore[attr-defined]
    text = error.getMessage()
    assert "ValueError('no such user')" in text.splitlines()[0]
    assert "Traceback (most recent call last)" in text and text.endswith("ValueError: no such user")


async def test_a_level_above_info_keeps_the_task_lines_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = qtasks.QueueTasks("tasklog-quiet", broker_url="memory://tasklog-quiet")
    app.config.logs_default_level_server = logging.WARNING

    @app.task
    def ok() -> None:
        pass

    caplog.set_level(logging.DEBUG, logger="qtasks.tasklog-quiet.other")
    with app.serve():
        task = ok.add_task(timeout=LIMIT)
    assert _records(caplog, task.uuid) == []


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_ctx_loggers_name_the_running_task(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = qtasks.QueueTasks(f"ctxlog-{kind}", broker_url=f"memory://ctxlog-{kind}")

    if kind == "async":

        @app.task(echo=True, awaiting=True, name="job")
        async def job(self: Any) -> str:
            self.ctx.get_logger().info("step %s", 1)
            return "ok"
    else:

        @app.task(echo=True, name="job")
        def job(self: Any) -> str:
            self.ctx.get_logger("mail").warning("step %s", 1)
            return "ok"

    caplog.set_level(logging.INFO, logger="qtasks")
    with app.serve():
        task = app.add_task("job", timeout=LIMIT)
    assert task.status == "success"
    [line] = [r for r in caplog.records if r.getMessage() == "step 1"]
    assert line.task_uuid == str(task.uuid) and line.task_name == "job"  # type: ignore[attr-defined]
    assert line.subname == f"{'job' if kind == 'async' else 'mail'}[{task.uuid}]"  # type: ignore[attr-defined]
    assert line.funcName == "job"  # the task's line, not the logger's


def test_json_formatter_keeps_fields_and_exceptions() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("qtasks.json-unit")
    logger.addHandler(handler)
    try:
        log = Logger("json-unit", "Worker")
        log.info("hello %s", "you", extra={"task_uuid": "u1", "when": object()})
        try:
            raise KeyError("k")
        except KeyError:
            log.exception("broke")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "hello you" and first["subname"] == "Worker"
    assert first["level"] == "INFO" and first["logger"] == "qtasks.json-unit"
    assert first["task_uuid"] == "u1" and first["when"].startswith("<object")
    assert first["time"].endswith("+00:00")
    assert second["level"] == "ERROR" and "KeyError: 'k'" in second["exception"]


APP = textwrap.dedent(
    """
    from qtasks import QueueTasks

    app = QueueTasks("jsonapp", broker_url="memory://jsonapp")


    @app.task(echo=True)
    def hello(self, name):
        self.ctx.get_logger().info("hello %s", name)
        return name


    if __name__ == "__main__":
        with app.serve():
            task = hello.add_task("you", timeout=20)
        print(task.uuid)
    """
)


@pytest.mark.parametrize("how", ["env", "config"])
def test_the_json_format_from_the_environment_or_the_config(tmp_path: Path, how: str) -> None:
    source = APP
    env = {k: v for k, v in os.environ.items() if not k.startswith("QTASKS_")}
    if how == "env":
        env["QTASKS_LOGS_FORMAT"] = "json"
    else:
        source = source.replace(
            'broker_url="memory://jsonapp")',
            "broker_url=\"memory://j\")\napp.config.logs_format = 'json'",
        )
    (tmp_path / "jsonapp.py").write_text(source)
    done = subprocess.run(
        [sys.executable, "jsonapp.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    uuid = done.stdout.strip()
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    mine = [line for line in lines if line.get("task_uuid") == uuid]
    assert [m["message"] for m in mine] == ["hello you", mine[1]["message"]]
    assert mine[0]["subname"] == f"hello[{uuid}]"
    assert mine[1]["outcome"] == "success" and mine[1]["queue"] == "default"
    assert isinstance(mine[1]["duration"], float)
