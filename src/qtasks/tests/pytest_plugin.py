"""pytest fixtures for suites that test qtasks tasks. Enable them in a `conftest.py`:

    pytest_plugins = ["qtasks.tests.pytest_plugin"]

- `qtasks_in_memory(app)` puts `app` on a fresh in-memory backend for the test (no
  worker: tasks stay queued, for tests of what gets enqueued); returns the app.
- `qtasks_eager(app)` does the same and runs the app's worker in the test's process,
  so enqueued tasks run at once (`add_task(..., timeout=5)` returns the result).

Both undo themselves when the test ends, whatever it did.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from qtasks.tests.isolation import eager, in_memory


@pytest.fixture
def qtasks_in_memory() -> Iterator[Callable[[Any], Any]]:
    with contextlib.ExitStack() as stack:
        yield lambda app: stack.enter_context(in_memory(app))


@pytest.fixture
def qtasks_eager() -> Iterator[Callable[[Any], Any]]:
    with contextlib.ExitStack() as stack:
        yield lambda app: stack.enter_context(eager(app))
