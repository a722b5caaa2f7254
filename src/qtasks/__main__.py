"""`python -m qtasks`: the CLI. QTasks 1.7's `get_app` and `positional` helpers of this
module are read from the compat package by name."""

from typing import Any

from qtasks._compat_hook import compat_attribute
from qtasks.cli import main


def __getattr__(name: str) -> Any:
    return compat_attribute(__name__, name)


if __name__ == "__main__":
    raise SystemExit(main())
