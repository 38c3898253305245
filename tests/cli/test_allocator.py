"""The CLI's process settings: glibc keeps freed chunk-sized blocks, numpy stops asking for
huge pages, the start-up objects are frozen out of the collector (fewer page faults and
collector passes per streamed chunk), and a finished run ends without the teardown."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from quotatune.cli.allocator import keep_freed_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_every_setting_is_accepted_by_glibc() -> None:
    assert keep_freed_memory() is True


def test_numpy_stops_asking_for_huge_pages_and_start_up_objects_are_frozen() -> None:
    # In a process of its own: freezing is for the process's lifetime, not pytest's.
    script = (
        "import gc, numpy as np\n"
        "from quotatune.cli.allocator import freeze_startup_objects, "
        "ordinary_pages_for_arrays\n"
        "assert gc.get_freeze_count() == 0\n"
        "print(ordinary_pages_for_arrays())\n"
        "was = np._core.multiarray._set_madvise_hugepage(True)\n"  # returns the old setting
        "print(was)\n"
        "freeze_startup_objects()\n"
        "print(gc.get_freeze_count() > 1000)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True", "False", "True"]


def test_a_finished_run_ends_at_once_with_all_of_its_output(tmp_path: Path) -> None:
    """The console command skips the interpreter's teardown once its output is flushed:
    every line still arrives (here 2,000 containers of JSON through a pipe), the exit code
    is 0, and nothing registered to run at exit does (a caller passing ``argv`` is not
    ended: see the second half)."""
    lines = ["timestamp,namespace,workload,pod,container,cpu_cores,memory_working_set_bytes"]
    for c in range(2000):
        lines += [f"2026-11-20T{h:02d}:00:00Z,ns,app{c},app{c}-1,main,0.{h % 10 + 1},"
                  f"{(c + h + 1) << 20}" for h in range(3)]
    data = tmp_path / "u.csv"
    data.write_text("\n".join(lines) + "\n")
    script = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('teardown ran', file=sys.stderr))\n"
        "from quotatune.cli.app import main\n"
        f"sys.argv = ['quotatune', 'recommend', '--from', {str(data)!r}, '-o', 'json']\n"
        "main()\n"
        "print('not reached', file=sys.stderr)\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "teardown ran" not in run.stderr and "not reached" not in run.stderr
    assert len(json.loads(run.stdout)) == 2000

    in_process = (
        "import sys\n"
        "from quotatune.cli.app import main\n"
        f"main(['recommend', '--from', {str(data)!r}, '-o', 'json'])\n"
        "print('caller goes on', file=sys.stderr)\n"
    )
    run = subprocess.run([sys.executable, "-c", in_process], capture_output=True, text=True)
    assert run.returncode == 0 and "caller goes on" in run.stderr
