"""Run one command as a child process and measure it: wall seconds, CPU seconds (user + sys of
the child) and peak RSS, from ``os.wait4``'s rusage.  Shared by the fleet-scale benchmarks.

Peak RSS caveat (Linux): a child's ``ru_maxrss`` starts at its parent's RSS at fork time, so the
parent must stay small -- the benchmark parents import only the standard library and do every
heavy step (data generation, pandas baselines, quotatune) in a child.  :func:`parent_rss_mib`
tells how much that floor is.
"""

from __future__ import annotations

import functools
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

GIB = 1024  # MiB


@dataclass(frozen=True)
class Measured:
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    returncode: int
    stdout: str
    stderr: str


def run(cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
        ) -> Measured:
    """Run ``cmd`` to completion; its output goes through temporary files (no pipe can fill)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Measured(wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, proc.returncode,
                        out.read().decode(errors="replace"), err.read().decode(errors="replace"))


def run_checked(label: str, cmd: list[str], **kw: object) -> Measured:
    """:func:`run`, and exit non-zero with the child's stderr when the command fails: a
    benchmark of a command that errors has no figure to report."""
    m = run(cmd, **kw)  # type: ignore[arg-type]
    if m.returncode != 0:
        sys.stderr.write(m.stderr[-4000:])
        sys.exit(f"{label}: exited with {m.returncode}: {' '.join(cmd)}")
    print(f"  {label}: {m.wall_s:.1f} s wall, {m.cpu_s:.1f} s CPU, "
          f"{m.peak_rss_mib:,.0f} MiB peak", file=sys.stderr, flush=True)
    return m


@dataclass(frozen=True)
class Job:
    """A command to measure several times; ``prepare`` runs before each run, unmeasured
    (e.g. removing the store an import writes)."""

    label: str
    cmd: list[str]
    prepare: Callable[[], None] | None = None


def run_interleaved(jobs: list[Job], repeat: int) -> dict[str, Measured]:
    """Each job ``repeat`` times, round-robin, so that a slow spell of a shared machine (wall
    times here drift by a third between runs) falls on every command alike.  Per job: the
    run of median wall time (of an even number, the faster middle one), with the highest
    peak RSS of all its runs."""
    if repeat < 1:
        sys.exit(f"--repeat must be at least 1, not {repeat}")
    runs: dict[str, list[Measured]] = {j.label: [] for j in jobs}
    for i in range(repeat):
        for j in jobs:
            if j.prepare is not None:
                j.prepare()
            runs[j.label].append(run_checked(f"{j.label} [{i + 1}/{repeat}]", j.cmd))
    out = {}
    for label, ms in runs.items():
        mid = sorted(ms, key=lambda m: m.wall_s)[(len(ms) - 1) // 2]
        out[label] = replace(mid, peak_rss_mib=max(m.peak_rss_mib for m in ms))
    return out


def quotatune(*args: str) -> list[str]:
    """The CLI as a user runs it, in this interpreter's environment, byte-compiled."""
    _byte_compiled()
    return [sys.executable, "-m", "quotatune", *args]


@functools.cache
def _byte_compiled() -> None:
    """Compile the package's modules to bytecode once, as ``pip install`` does for a package
    it installs: an editable checkout in an environment that does not write bytecode
    (``PYTHONDONTWRITEBYTECODE``, as CI machines often set) otherwise compiles every module
    from source in every run, 0.1 s of each command's start, which a user's install never
    pays and the pandas baselines (their bytecode installed) do not either.  In a child: the
    parent stays small (see the module's docstring)."""
    package = Path(__file__).resolve().parent.parent / "quotatune"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True,
                   stdout=subprocess.DEVNULL)


def pandas_baseline(mode: str, path: Path) -> list[str]:
    """The plain-pandas script ``mode`` (see pandas_baseline.py) on ``path``."""
    return [sys.executable, str(Path(__file__).with_name("pandas_baseline.py")), mode, str(path)]


def parent_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


@dataclass(frozen=True)
class Row:
    """One line of a result table; ``max_ratio`` is the target as a multiple of the baseline's
    wall time (None: no time target), ``max_rss_mib`` the memory target."""

    command: str
    m: Measured
    base: Measured | None = None
    max_ratio: float | None = None
    max_rss_mib: float | None = None

    def ratio(self) -> float | None:
        return self.m.wall_s / self.base.wall_s if self.base else None

    def target(self) -> str:
        parts = []
        if self.max_ratio is not None:
            parts.append(f"<= {self.max_ratio:g}x")
        if self.max_rss_mib is not None:
            parts.append(f"<= {self.max_rss_mib / GIB:g} GiB")
        # A row measured against a baseline but with no target of its own is a reference.
        return ", ".join(parts) or ("baseline" if self.base is None else "")

    def verdict(self) -> str:
        if self.max_ratio is None and self.max_rss_mib is None:
            return ""
        r = self.ratio()
        ok = (self.max_ratio is None or (r is not None and r <= self.max_ratio)) and \
             (self.max_rss_mib is None or self.m.peak_rss_mib <= self.max_rss_mib)
        return "PASS" if ok else "FAIL"


def table(rows: list[Row]) -> str:
    """A plain-text table: command, wall, CPU, peak RSS, wall (and CPU) ratio to its baseline,
    target, verdict."""
    head = ["command", "wall s", "CPU s", "peak RSS MiB", "x base wall (CPU)", "target", ""]
    body = []
    for r in rows:
        ratio = "" if r.base is None else \
            f"{r.ratio():.2f}x ({r.m.cpu_s / max(r.base.cpu_s, 1e-9):.2f}x)"
        body.append([r.command, f"{r.m.wall_s:.1f}", f"{r.m.cpu_s:.1f}",
                     f"{r.m.peak_rss_mib:,.0f}", ratio, r.target(), r.verdict()])
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i in (0, 5) else c.rjust(w)
                       for i, (c, w) in enumerate(zip(x, widths, strict=True))).rstrip()
             for x in [head, *body]]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)
