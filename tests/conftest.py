"""Shared test helpers.  Real-part fixtures (dockerd, Prometheus, Chromium, the Kubernetes
API stand-in) live in tests/support/ and are imported by the test modules that need them."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs the property tests on a fixed sequence of examples so that a submission's result
# does not depend on the draw; local runs keep exploring new inputs.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 300) -> CliRun:
    """Run the real entry point (``python -m quotatune``) in a subprocess."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTATUNE_")}
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "quotatune", *args],
        capture_output=True, text=True, env=full_env, cwd=cwd or ROOT, timeout=timeout,
    )
    return CliRun(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
