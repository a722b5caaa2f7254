"""`isolation="process"` without a worker: what the decorator and the config refuse,
and how a child's answers become results and exceptions."""

from __future__ import annotations

import pickle
import sys
import traceback
import types
from typing import Any

import pytest

import qtasks
from qtasks.configs import QueueConfig
from qtasks.engine import process_child
from qtasks.engine.process_pool import _unpack
from qtasks.engine.processes import ChildProcessDiedError, RemoteTaskError, process_target
from qtasks.exc import ConfigError


def module_level(x: int) -> int:
    return x


@pytest.fixture
def app() -> Any:
    return qtasks.QueueTasks("iso", broker_url="memory://iso-unit")


def test_unknown_isolation_is_refused_naming_the_choices(app: Any) -> None:
    with pytest.raises(ConfigError, match=r"isolation must be 'thread' or 'process', got 'fork'"):
        app.task(isolation="fork")(module_level)


def test_a_module_level_function_is_accepted(app: Any) -> None:
    task = app.task(isolation="process")(module_level)
    assert task.extra["isolation"] == "process"
    assert process_target(module_level, "t") == (__name__, "module_level")


def test_nested_functions_and_lambdas_are_refused_at_decoration(app: Any) -> None:
    def nested() -> None: ...

    with pytest.raises(ConfigError, match=r"defined inside a function.*module level"):
        app.task(isolation="process")(nested)
    with pytest.raises(ConfigError, match="isolation='thread'"):
        app.task("lam", isolation="process")(lambda: None)


def test_async_and_generator_functions_are_refused(app: Any) -> None:
    async def coroutine() -> None: ...

    def generator() -> Any:
        yield 1

    with pytest.raises(ConfigError, match=r"is async.*sync functions only"):
        app.task(isolation="process")(coroutine)
    with pytest.raises(ConfigError, match="is a generator"):
        app.task(isolation="process")(generator)


def test_a_task_of_the_script_being_run_is_refused_when_it_runs() -> None:
    def script_task() -> None: ...

    script_task.__module__ = "__main__"
    script_task.__qualname__ = "script_task"
    # A client script may define the tasks a worker imports as a module: accepted here...
    assert process_target(script_task, "t", main_ok=True) == ("__main__", "script_task")
    # ...and refused when a worker would have to run it, naming the fix.
    with pytest.raises(ConfigError, match=r"__main__.*qtasks -A tasks:app run"):
        process_target(script_task, "t")


def test_config_validates_task_isolation(monkeypatch: pytest.MonkeyPatch) -> None:
    assert QueueConfig().task_isolation == "thread"
    assert QueueConfig(task_isolation="process").task_isolation == "process"
    with pytest.raises(ConfigError, match="task_isolation must be 'thread' or 'process'"):
        QueueConfig(task_isolation="processes")
    monkeypatch.setenv("QTASKS_TASK_ISOLATION", "process")
    assert QueueConfig().task_isolation == "process"
    monkeypatch.setenv("QTASKS_TASK_ISOLATION", "fork")
    with pytest.raises(ConfigError, match="QTASKS_TASK_ISOLATION"):
        QueueConfig()


def test_a_child_finds_the_function_through_the_task_object(app: Any) -> None:
    module = types.ModuleType("fake_tasks")
    module.add = app.task(isolation="process")(module_level)  # type: ignore[attr-defined]
    sys.modules["fake_tasks"] = module
    try:
        assert process_child.resolve("fake_tasks", "add") is module_level
        with pytest.raises(ConfigError, match="has no 'missing'"):
            process_child.resolve("fake_tasks", "missing")
    finally:
        del sys.modules["fake_tasks"]
    with pytest.raises(ConfigError, match="cannot import module 'no_such_module_x'"):
        process_child.resolve("no_such_module_x", "f")


def _answer(exc: BaseException) -> tuple[Any, ...]:
    try:
        raise exc
    except BaseException as raised:
        return process_child._error(raised)


def test_a_childs_exception_comes_back_as_itself_with_its_traceback() -> None:
    with pytest.raises(ValueError, match="bad") as info:
        _unpack(_answer(ValueError("bad")))
    cause = info.value.__cause__
    assert cause is not None and "ValueError: bad" in str(cause)
    text = "".join(traceback.format_exception(info.value))
    assert "in the child process" in text


class NeedsTwo(Exception):
    def __init__(self, a: int, b: int) -> None:
        super().__init__(f"{a}+{b}")


def test_an_exception_that_cannot_be_rebuilt_becomes_a_stand_in() -> None:
    with pytest.raises(RemoteTaskError) as info:
        _unpack(_answer(NeedsTwo(1, 2)))
    assert info.value.type_name.endswith("NeedsTwo") and info.value.message == "1+2"
    # KeyboardInterrupt and friends never escape into the worker as themselves
    with pytest.raises(RemoteTaskError, match="KeyboardInterrupt"):
        _unpack(_answer(KeyboardInterrupt()))


def test_the_errors_survive_pickling() -> None:
    died = pickle.loads(pickle.dumps(ChildProcessDiedError("gone", -9)))
    assert str(died) == "gone" and died.exitcode == -9
    remote = pickle.loads(pickle.dumps(RemoteTaskError("a.B", "msg")))
    assert (remote.type_name, remote.message) == ("a.B", "msg")
