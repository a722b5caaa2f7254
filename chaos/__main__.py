"""`python -m chaos`: run the chaos scenarios and print a verdict per scenario.

Exit status 0 when every scenario that ran passed, 1 otherwise. `--json PATH` writes
the results for tools (the test suite reads it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from chaos.harness import Result
from chaos.scenarios import NEEDS, Context, Scenario, all_scenarios
from chaos.targets import target_for


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    names = [s.name for s in all_scenarios()]
    p = argparse.ArgumentParser(prog="python -m chaos", description=__doc__.splitlines()[0])
    size = p.add_mutually_exclusive_group()
    size.add_argument("--short", action="store_true", help="the CI sizes (default)")
    size.add_argument("--long", action="store_true", help="the big runs, the soak included")
    p.add_argument(
        "--backend",
        default="sqlite,redis,postgres",
        help="comma-separated: sqlite, redis, postgres, or a backend URL"
        " (default: sqlite,redis,postgres)",
    )
    p.add_argument(
        "--scenario", default=",".join(names), help=f"comma-separated, of: {', '.join(names)}"
    )
    p.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    p.add_argument("--json", type=Path, default=None, help="write the results here as JSON")
    p.add_argument(
        "--workdir", type=Path, default=None, help="keep logs here (default: a temp dir, removed)"
    )
    args = p.parse_args(argv)
    unknown = set(args.scenario.split(",")) - set(names)
    if unknown:
        p.error(f"--scenario: unknown {', '.join(sorted(unknown))}; known: {', '.join(names)}")
    return args


def run_one(scenario: Scenario, ctx: Context) -> Result:
    if scenario.long_only and not ctx.long:
        return Result(scenario.name, ctx.target.name, verdict="SKIP", notes=["--long only"])
    if scenario.needs and not getattr(ctx.target, scenario.needs):
        why = f"needs {NEEDS[scenario.needs]}, which the {ctx.target.name} target lacks"
        return Result(scenario.name, ctx.target.name, verdict="SKIP", notes=[why])
    started = time.monotonic()
    try:
        result = scenario.run(ctx)
    except Exception as exc:
        result = Result(scenario.name, ctx.target.name, verdict="ERROR")
        result.notes.append(f"harness error: {exc!r}")
        result.notes += traceback.format_exc().splitlines()[-6:]
    result.seconds = round(time.monotonic() - started, 1)
    return result


def line(r: Result) -> str:
    return (
        f"{r.scenario:<10} {r.backend:<8} tasks={r.tasks:<6} lost={r.lost:<4} "
        f"dup explained={r.explained:<4} unexplained={r.unexplained:<4} "
        f"{r.seconds:6.1f}s  {r.verdict}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    wanted = args.scenario.split(",")
    scenarios = [s for s in all_scenarios() if s.name in wanted]
    root = args.workdir or Path(tempfile.mkdtemp(prefix="qtasks-chaos-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"chaos: {'long' if args.long else 'short'} run, seed {seed}, logs in {root}", flush=True)
    results: list[Result] = []
    for name in args.backend.split(","):
        target = target_for(name.strip())
        try:
            target.start(root / target.name)
        except Exception as exc:
            for scenario in scenarios:
                why = f"the {target.name} target did not start: {exc}"
                results.append(Result(scenario.name, target.name, verdict="ERROR", notes=[why]))
            print(f"{target.name}: did not start: {exc}", flush=True)
            continue
        try:
            ctx = Context(root, target, args.long, random.Random(seed))
            for scenario in scenarios:
                r = run_one(scenario, ctx)
                results.append(r)
                print(line(r), flush=True)
                for note in r.notes[:12]:
                    print(f"    {note}", flush=True)
                if r.figures:
                    print(f"    figures: {json.dumps(r.figures)}", flush=True)
        finally:
            target.stop()
    if args.json is not None:
        data = {"seed": seed, "results": [dataclasses.asdict(r) for r in results]}
        args.json.write_text(json.dumps(data, indent=2))
    failed = [r for r in results if r.verdict not in ("PASS", "SKIP")]
    print(f"chaos: {len(results) - len(failed)} of {len(results)} passed or skipped", flush=True)
    if args.workdir is None and not failed:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
