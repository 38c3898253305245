"""Run the CLI as a user whose file modes hold.  Root reads a mode-000 file all the same, so
under root the command runs without the two capabilities that let it (CAP_DAC_OVERRIDE,
CAP_DAC_READ_SEARCH: dropped from the bounding set before exec, so the new program never
gets them).  It stays uid 0, the owner of the test's files and of the interpreter's home,
which a switch to ``nobody`` could not read."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, CliRun, run_cli

PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2


def _drop_read_override() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def run_cli_bound_by_modes(*args: str) -> CliRun:
    """:func:`tests.conftest.run_cli`, with a mode-000 file unreadable even under root."""
    if os.geteuid() != 0:
        return run_cli(*args)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTATUNE_")}
    try:
        proc = subprocess.run([sys.executable, "-m", "quotatune", *args], capture_output=True,
                              text=True, env=env, cwd=ROOT, timeout=300,
                              preexec_fn=_drop_read_override)
    except subprocess.SubprocessError as exc:  # no CAP_SETPCAP: the modes cannot be made to hold
        pytest.skip(f"cannot drop root's read override here: {exc}")
    return CliRun(proc.returncode, proc.stdout, proc.stderr)
