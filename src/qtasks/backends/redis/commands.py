"""What the Redis flows yield and the driver carries out: commands, scripts, pipelines.

A flow is a generator (see `qtasks.core.steps`) whose steps are:

- a command tuple `("GET", key)`, whose step result is the reply;
- `(script, args...)`: the script run by EVALSHA with the namespace prefix as its one
  key (loaded again when the server lost it); `(Source(script), args...)` sends it whole
  by EVAL instead;
- a `Pipe` of such commands, sent in one write; its result is the list of replies.

Nothing here does I/O or knows about tasks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Generator, Sequence
from typing import Any

#: Longest single block in Redis; longer waits loop, so a dead server is noticed within
#: the socket timeout instead of hanging on a half-open TCP connection.
BLOCK_CHUNK = 5.0

Cmd = tuple[Any, ...]  # (Script | Source | command name, args...)


class Script:
    """A Lua script run by EVALSHA; `source` starts by naming the key prefix `P`."""

    __slots__ = ("name", "sha", "source")

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.source = "local P = KEYS[1]\n" + source
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()

    def __repr__(self) -> str:
        return f"Script({self.name!r})"


class Source:
    """(Source(script), args...) runs the script by EVAL: it cannot fail as not loaded,
    for where a failure would leave the rest of a pipeline blocking."""

    __slots__ = ("script",)

    def __init__(self, script: Script) -> None:
        self.script = script


class Pipe:
    """Commands sent in one write; the flow receives the list of their replies.

    `unblock`: commands that end a block in this pipeline, sent on another connection
    when the caller is cancelled while it blocks; `cleanup`: run afterwards on this one.
    """

    __slots__ = ("cleanup", "cmds", "unblock")

    def __init__(
        self, *cmds: Cmd, unblock: Sequence[Cmd] | None = None, cleanup: Sequence[Cmd] = ()
    ) -> None:
        self.cmds, self.unblock, self.cleanup = cmds, unblock, cleanup


Flow = Generator[Cmd | Pipe, Any, Any]


def once(cmd: Cmd) -> Flow:
    """A flow of one command, returning its reply."""
    return (yield cmd)


__all__ = ["BLOCK_CHUNK", "Cmd", "Flow", "Pipe", "Script", "Source", "once"]
