"""Waiting for a process a test started to say something in its log."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path


def wait_for_log(
    log: Path, text: str, proc: subprocess.Popen[bytes], count: int = 1, timeout: float = 30
) -> None:
    """Until `text` stands `count` times in `log`; fails with the log when `proc` exits
    first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while log.read_text().count(text) < count:
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
