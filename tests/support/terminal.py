"""Run the CLI on pseudo-terminals, as a user at a shell sees it: progress bars are drawn
only there.  stdout and stderr are two terminals (kept apart, to tell the output from the
bar); ``piped_stdout`` gives stdout a pipe instead, as ``quotatune … | cat`` does."""

from __future__ import annotations

import os
import pty
import selectors
import subprocess
import sys
import tty
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT


@dataclass
class TerminalRun:
    code: int
    stdout: str
    terminal: bytes  # everything written to stderr, escape sequences included


def run_on_terminal(*args: str, env: dict[str, str] | None = None,
                    timeout: float = 120, piped_stdout: bool = False) -> TerminalRun:
    err_leader, err_follower = pty.openpty()
    out_leader, out_follower = os.pipe() if piped_stdout else pty.openpty()
    if not piped_stdout:
        tty.setraw(out_follower)  # the output as written, no "\r\n" for "\n"
    base = {k: v for k, v in os.environ.items() if not k.startswith("QUOTATUNE_")}
    proc = subprocess.Popen([sys.executable, "-m", "quotatune", *args], cwd=Path(ROOT),
                            env={**base, **(env or {})}, stdout=out_follower,
                            stderr=err_follower)
    os.close(out_follower)
    os.close(err_follower)
    seen = {out_leader: b"", err_leader: b""}
    with selectors.DefaultSelector() as sel:
        for fd in seen:
            sel.register(fd, selectors.EVENT_READ)
        while sel.get_map():
            ready = sel.select(timeout)
            if not ready:
                proc.kill()
                raise TimeoutError(f"quotatune {' '.join(args)}: no output for {timeout} s")
            for key, _ in ready:
                try:
                    data = os.read(key.fd, 65536)
                except OSError:  # a terminal closed: the command ended
                    data = b""
                if data:
                    seen[key.fd] += data
                else:
                    sel.unregister(key.fd)
    code = proc.wait(timeout=timeout)
    for fd in seen:
        os.close(fd)
    return TerminalRun(code, seen[out_leader].decode(), seen[err_leader])
