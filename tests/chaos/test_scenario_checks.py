"""The chaos scenarios' checks of APIs that other work adds (`app.dead_letters()`),
against stand-ins: a missing API is reported, a present one is read."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from chaos.scenarios.malformed import _wait_dead_letters  # noqa: E402


@dataclasses.dataclass
class Letter:
    uuid: str
    raw: str | None = None


class AppWithLetters:
    def __init__(self, *letters: Letter) -> None:
        self.letters = list(letters)
        self.calls = 0

    def dead_letters(self) -> list[Letter]:
        self.calls += 1
        return self.letters


def test_an_app_without_dead_letters_is_reported_as_none() -> None:
    assert _wait_dead_letters(object(), {"a"}, timeout=0.1) is None


def test_the_dead_letters_are_read_by_uuid_once_all_are_listed() -> None:
    app = AppWithLetters(Letter("a", "{bad"), Letter("b"))
    found = _wait_dead_letters(app, {"a", "b"}, timeout=5)
    assert found is not None and set(found) == {"a", "b"} and found["a"].raw == "{bad"
    assert app.calls == 1


def test_a_missing_dead_letter_is_waited_for_then_left_out() -> None:
    app = AppWithLetters(Letter("a"))
    found = _wait_dead_letters(app, {"a", "b"}, timeout=0.5)
    assert found is not None and set(found) == {"a"} and app.calls > 1
