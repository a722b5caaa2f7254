"""The scenarios, in the order they run. Each is a function `run(ctx) -> Result` in
its own module; `needs` names the target capability it cannot do without."""

from __future__ import annotations

import contextlib
import dataclasses
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from chaos.harness import Lab, Result
from chaos.targets import Target


@dataclasses.dataclass
class Context:
    """What a scenario gets: where to work, the backend, the size of the run."""

    root: Path
    target: Target
    long: bool
    rng: random.Random

    @contextlib.contextmanager
    def lab(self, scenario: str, **config: Any) -> Iterator[Lab]:
        lab = Lab(self.root / self.target.name, scenario, self.target, **config)
        try:
            yield lab
        finally:
            lab.close()

    def result(self, scenario: str) -> Result:
        return Result(scenario, self.target.name)


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    run: Callable[[Context], Result]
    #: The target capability it needs (a `Target` flag): can_restart, can_corrupt, has_files.
    needs: str | None = None
    long_only: bool = False


NEEDS = {
    "can_restart": "a server the harness can restart",
    "can_corrupt": "a way to corrupt a stored entry",
    "has_files": "database files",
}


def all_scenarios() -> list[Scenario]:
    from chaos.scenarios import (
        blocking,
        files,
        kills,
        malformed,
        paused,
        poison,
        restart,
        shutdown,
        soak,
    )

    return [
        Scenario("sigkill", "SIGKILL storm against 3 workers", kills.run),
        Scenario("restart", "the server restarted twice", restart.run, needs="can_restart"),
        Scenario("shutdown", "SIGTERM and SIGINT during long tasks", shutdown.run),
        Scenario("malformed", "undecodable entries among good ones", malformed.run, "can_corrupt"),
        Scenario("poison", "a task that kills its worker", poison.run),
        Scenario("blocking", "an async task blocking its loop past the lease", blocking.run),
        Scenario("paused", "a worker stopped for twice its lease", paused.run),
        Scenario("files", "SQLite files deleted under the workers", files.run, "has_files"),
        Scenario("soak", "100,000 tasks, worker memory sampled", soak.run, long_only=True),
    ]
