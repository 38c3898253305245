"""Run the CLI with its stderr on a pseudo-terminal, as a user at a shell sees it: progress
bars are drawn only there."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT


@dataclass
class TerminalRun:
    code: int
    stdout: str
    terminal: bytes  # everything written to stderr, escape sequences included


def run_on_terminal(*args: str, env: dict[str, str] | None = None,
                    timeout: float = 120) -> TerminalRun:
    leader, follower = pty.openpty()
    base = {k: v for k, v in os.environ.items() if not k.startswith("QUOTATUNE_")}
    proc = subprocess.Popen([sys.executable, "-m", "quotatune", *args], cwd=Path(ROOT),
                            env={**base, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=follower, text=True)
    os.close(follower)
    seen = b""
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the terminal closed: the command ended
            break
        if not data:
            break
        seen += data
    out, _ = proc.communicate(timeout=timeout)
    os.close(leader)
    return TerminalRun(proc.returncode, out, seen)
