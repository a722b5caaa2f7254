"""The typed public API, as a user's `mypy --strict` sees it.

qtasks ships `py.typed`; `@app.task` (bare or with options, sync or async app, routers,
`@shared_task`) returns a task object generic in the function's parameters and return
type. The good file is also run, so its calls are the runtime API too.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

GOOD = """
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from typing_extensions import assert_type

import qtasks.asyncio
from qtasks import AsyncRouter, QueueTasks, SyncRouter, shared_task
from qtasks.registries.task import AsyncTask, AsyncTaskCls, SyncTask, SyncTaskCls
from qtasks.schemas.task import Task

app = QueueTasks("typed-sync", broker_url="memory://typed-sync")
aapp = qtasks.asyncio.QueueTasks("typed-async", broker_url="memory://typed-async")
router, arouter = SyncRouter(), AsyncRouter()


@app.task
def add(a: int, b: int) -> int:
    return a + b


@app.task("mul", retry=2, tags=["math"])
def mul(a: int, b: int = 2) -> int:
    return a * b


@aapp.task
async def aadd(a: int, b: int) -> int:
    return a + b


@aapp.task(name="ascale")
def ascale(x: float) -> float:
    return x * 2


@router.task
def shout(text: str) -> str:
    return text.upper()


@arouter.task(priority=1)
def whisper(text: str) -> str:
    return text.lower()


@shared_task
def twice(x: int) -> int:
    return 2 * x


@shared_task
async def atwice(x: int) -> int:
    return 2 * x


@shared_task(awaiting=True)
def forced(x: int) -> int:
    return x


@shared_task(name="counted")
async def counted(n: int) -> AsyncIterator[int]:
    for i in range(n):
        yield i


# The kind of task object and the function's return type...
k1: SyncTask[..., int] = add
k2: SyncTask[..., int] = mul
k3: AsyncTask[..., Coroutine[Any, Any, int]] = aadd
k4: AsyncTask[..., float] = ascale
k5: SyncTask[..., str] = shout
k6: AsyncTask[..., str] = whisper
k7: SyncTask[..., int] = twice
k8: AsyncTask[..., Coroutine[Any, Any, int]] = atwice
k9: AsyncTask[..., int] = forced
k10: AsyncTask[..., AsyncIterator[int]] = counted
# ...and its parameters.
p1: Callable[[int, int], Task] = add.add_task
p2: Callable[[int], Task] = mul.add_task
p3: Callable[[int, int], Coroutine[Any, Any, Task]] = aadd.add_task
p4: Callable[[str], Task] = shout.add_task
p5: Callable[[int], Task] = twice.add_task
assert_type(add.func(1, 2), int)
app.include_router(router)
aapp.include_router(arouter)


def run_sync() -> None:
    with app.serve():
        queued = add.add_task(1, 2)
        assert_type(queued, Task)
        assert_type(add.add_task(1, 2, priority=3), Task)
        assert_type(mul.add_task(3), Task)
        done = add.add_task(1, 2, timeout=5)
        assert_type(done, Task | None)
        assert done is not None and done.returning == 3
        assert_type(add.enqueue((1, 2)), Task)
        assert_type(add.enqueue((1, 2), timeout=5), Task | None)
        call = add(2, 3)
        assert_type(call, SyncTaskCls)
        assert_type(call.add_task(timeout=5), Task | None)
        assert_type(shout.add_task("hi"), Task)
        assert_type(twice.add_task(4, timeout=5), Task | None)


async def run_async() -> None:
    async with aapp.serve():
        queued = await aadd.add_task(1, 2)
        assert_type(queued, Task)
        done = await aadd.add_task(1, 2, timeout=5)
        assert_type(done, Task | None)
        assert done is not None and done.returning == 3
        assert_type(await ascale.add_task(1.5, timeout=5), Task | None)
        assert_type(await whisper.add_task("HI"), Task)
        assert_type(aadd(1, 2), AsyncTaskCls)
        assert_type(await aadd(1, 2).add_task(timeout=5), Task | None)


run_sync()
asyncio.run(run_async())
print("ok")
"""

BAD = """
from __future__ import annotations

import qtasks.asyncio
from qtasks import QueueTasks, SyncRouter, shared_task
from qtasks.schemas.task import Task

app = QueueTasks("typed-bad", broker_url="memory://typed-bad")
aapp = qtasks.asyncio.QueueTasks("typed-bad-async", broker_url="memory://typed-bad-async")
router = SyncRouter()


@app.task
def add(a: int, b: int) -> int:
    return a + b


@aapp.task(retry=1)
async def aadd(a: int, b: int) -> int:
    return a + b


@router.task
def shout(text: str) -> str:
    return text.upper()


@shared_task
def twice(x: int) -> int:
    return 2 * x


add.add_task("x")  # E: call-overload (a str for an int)
add.add_task(1)  # E: call-overload (b missing)
add(1, "2")  # E: call-overload (a pre-built call is checked too)
waited: Task = add.add_task(1, 2, timeout=5)  # E: assignment (may be None)
not_awaited: Task = aadd.add_task(1, 2)  # E: assignment (to be awaited)
shout.add_task(3)  # E: call-overload (router task)
twice.add_task("s")  # E: call-overload (shared task)
"""


def _mypy(tmp_path: Path, *files: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / ".mypy"), *files],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=110,
    )
    return proc.stdout + proc.stderr


def test_the_package_is_marked_typed() -> None:
    assert resources.files("qtasks").joinpath("py.typed").is_file()


def test_mypy_strict_on_user_code(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(GOOD, encoding="utf-8")
    (tmp_path / "bad.py").write_text(BAD, encoding="utf-8")
    out = _mypy(tmp_path, "good.py", "bad.py")

    assert "good.py" not in out, out
    flagged = {
        (int(n), code)
        for n, code in re.findall(r"^bad\.py:(\d+): error: .*\[([a-z-]+)\]$", out, re.M)
    }
    expected = {
        (n, line.split("# E: ")[1].split()[0])
        for n, line in enumerate(BAD.splitlines(), 1)
        if "# E: " in line
    }
    assert flagged == expected, out


def test_the_typed_example_runs(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(GOOD, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "good.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
