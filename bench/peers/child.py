"""Client side of one measurement, run with a framework's own venv python:

    python -m bench.peers.child ADAPTER about|prepare|enqueue|roundtrip '{"n": 100, ...}'

Prints one line `PEERS_RESULT <json>`: {"ok": true, ...} or {"ok": false, "error": ...}.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import sys
import time
import traceback
from typing import Any

MARK = "PEERS_RESULT "


def _call(fn: Any, *args: Any) -> Any:
    out = fn(*args)
    return asyncio.run(out) if inspect.iscoroutine(out) else out


def main(argv: list[str]) -> dict[str, Any]:
    name, op, params = argv[0], argv[1], json.loads(argv[2]) if len(argv) > 2 else {}
    mod = importlib.import_module(f"bench.peers.adapters.{name}")
    if op == "about":
        return {**_call(mod.about), "worker": mod.worker()}
    if op == "prepare":
        if hasattr(mod, "prepare"):
            _call(mod.prepare)
        return {}
    if op == "enqueue":
        return {"seconds": _call(mod.enqueue, params["n"], params["kind"])}
    if op == "roundtrip":
        return dict(_call(mod.roundtrip, params["k"], params["budget_s"], params["warmup"]))
    raise ValueError(f"unknown op {op!r}")


if __name__ == "__main__":
    started = time.perf_counter()
    try:
        result = {"ok": True, **main(sys.argv[1:])}
    except BaseException as exc:  # a library's SystemExit too: the driver reports it
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:400]}
        result["traceback"] = traceback.format_exc()[-2000:]
    result["child_s"] = time.perf_counter() - started
    print(MARK + json.dumps(result), flush=True)
    # some clients leave non-daemon threads behind; the result is out, do not wait
    os._exit(0)
