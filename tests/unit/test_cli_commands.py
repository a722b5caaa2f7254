"""Commands of the `qtasks` CLI: the built-in table, third-party commands from the
entry-point group `qtasks.commands`, and broken plugins that must not break the CLI."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from qtasks.cli import build_parser, main
from qtasks.cli.common import UsageError
from qtasks.cli.registry import BUILTIN_COMMANDS, GROUP

ROOT = Path(__file__).resolve().parents[2]


class FakeEntryPoint:
    """Quacks like `importlib.metadata.EntryPoint`; `load()` returns `obj` as is."""

    def __init__(self, name: str, obj: object) -> None:
        self.name, self.value, self.group, self.obj = name, f"fake:{name}", GROUP, obj

    def load(self) -> object:
        return self.obj


def hello_command() -> SimpleNamespace:
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--shout", action="store_true", help="greet loudly")

    def run(args: argparse.Namespace) -> int:
        text = f"hello app={args.app}"
        print(text.upper() if args.shout else text)
        return 7

    return SimpleNamespace(name="hello", summary="say hello", add_arguments=add_arguments, run=run)


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Entry points of group `qtasks.commands` seen by the CLI; a test appends to it."""
    found: list[Any] = []

    def entry_points(*, group: str) -> list[Any]:
        return [e for e in found if e.group == group]

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    return found


def test_a_plugin_command_is_listed_and_runs(
    plugins: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    plugins.append(FakeEntryPoint("hello", hello_command()))
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "hello" in out and "say hello" in out
    commands = out[out.index("COMMAND\n") :].split()
    assert commands.index("purge") < commands.index("hello")  # after the built-ins

    assert main(["hello", "--shout", "-A", "m:app"]) == 7  # global option after it
    assert main(["-A", "m:app", "hello"]) == 7
    assert capsys.readouterr() == ("HELLO APP=M:APP\nhello app=m:app\n", "")


def test_a_plugin_usage_error_ends_like_an_argparse_error(
    plugins: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    def run(args: argparse.Namespace) -> int:
        raise UsageError("strict needs --force")

    strict = SimpleNamespace(name="strict", summary="s", add_arguments=lambda p: None, run=run)
    plugins.append(FakeEntryPoint("strict", strict))
    with pytest.raises(SystemExit) as exit_info:
        main(["strict"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: qtasks") and "qtasks: error: strict needs --force" in err


def test_broken_plugins_warn_and_the_rest_still_works(
    plugins: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    def failing_arguments(parser: argparse.ArgumentParser) -> None:
        raise RuntimeError("no options today")

    plugins.extend(
        [
            importlib.metadata.EntryPoint("missing", "qtasks_no_such_plugin:command", GROUP),
            FakeEntryPoint("shapeless", object()),
            FakeEntryPoint("clash", SimpleNamespace(**{**vars(hello_command()), "name": "run"})),
            FakeEntryPoint(
                "halfway",
                SimpleNamespace(
                    name="halfway", summary="h", add_arguments=failing_arguments, run=print
                ),
            ),
            FakeEntryPoint("hello", hello_command()),
        ]
    )
    parser = build_parser()
    err = capsys.readouterr().err
    assert "qtasks: warning: skipped command 'missing' (qtasks_no_such_plugin:command)" in err
    assert "No module named 'qtasks_no_such_plugin'" in err
    assert "skipped command 'shapeless'" in err and "'name'" in err
    assert "skipped command 'clash' (fake:clash): 'run' exists" in err
    assert "command 'halfway' failed to add its options: no options today" in err

    args = parser.parse_args(["run", "-A", "m:app", "-c", "2"])
    assert args.qtasks_command is BUILTIN_COMMANDS[0]  # the built-in, not the clash
    assert main(["hello"]) == 7
    with pytest.raises(SystemExit) as exit_info:
        main(["halfway"])
    assert exit_info.value.code == 2
    assert "unknown command 'halfway'" in capsys.readouterr().err


def test_builtin_entry_points_match_the_table() -> None:
    """pyproject.toml declares the built-ins under the group too; they must not drift."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = project["entry-points"][GROUP]
    # QTasks 1.7's `stats` command lives in the compat package, which the CLI never
    # imports: it reaches the CLI through the group alone.
    compat = {"stats": "qtasks.compat.cli_stats"}
    where = {c.name: getattr(c, "entry_point", None) or c.__name__ for c in BUILTIN_COMMANDS}
    assert declared == where | compat


PLUGIN_SOURCE = textwrap.dedent(
    '''
    """A third-party command, as a module."""
    from qtasks.cli.common import load_app

    name = "hello"
    summary = "greet the app"


    def add_arguments(parser):
        parser.add_argument("--times", type=int, default=1)


    def run(args):
        app = load_app(args)
        print(" ".join([f"hello {app.name}"] * args.times))
        return 0
    '''
)


def test_a_plugin_installed_as_a_distribution_is_found(tmp_path: Path) -> None:
    """Real entry-point metadata, read by a fresh `python -m qtasks`."""
    (tmp_path / "hello_plugin.py").write_text(PLUGIN_SOURCE)
    (tmp_path / "myapp.py").write_text(
        "from qtasks import QueueTasks\napp = QueueTasks('myapp', broker_url='memory://')\n"
    )
    dist = tmp_path / "hello_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: hello-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{GROUP}]\nhello = hello_plugin\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QTASKS_")}
    env["PYTHONPATH"] = str(tmp_path)

    def qtasks(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "qtasks", *argv],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    helped = qtasks("--help")
    assert helped.returncode == 0 and "greet the app" in helped.stdout
    assert helped.stderr == ""  # the built-ins' own entry points are skipped quietly
    done = qtasks("hello", "-A", "myapp:app", "--times", "2")
    assert (done.returncode, done.stdout, done.stderr) == (0, "hello myapp hello myapp\n", "")


def test_a_built_in_command_does_not_look_up_plugin_commands() -> None:
    """A worker started with `qtasks ... run` does not carry importlib.metadata (~1.5 MB)."""
    code = (
        "import sys\n"
        "from qtasks.cli import build_parser\n"
        "build_parser(['-A', 'tasks:app', '--log-level', 'INFO', 'run', '-c', '2'])\n"
        "assert 'importlib.metadata' not in sys.modules\n"
        "build_parser(['-A', 'tasks:app', 'something-else'])\n"
        "assert 'importlib.metadata' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_purge_without_a_terminal_asks_nothing_and_deletes_nothing(tmp_path: Path) -> None:
    (tmp_path / "purgeapp.py").write_text(
        "from qtasks import QueueTasks\napp = QueueTasks('purge-me', broker_url='sqlite:///p.db')\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "qtasks", "-A", "purgeapp:app", "purge"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "pass --yes" in done.stdout and "Traceback" not in done.stderr
