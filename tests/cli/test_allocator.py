"""The CLI's process settings: glibc keeps freed chunk-sized blocks, the process (numpy,
Arrow, everything) stops asking for huge pages, and the start-up objects are frozen out of
the collector (fewer page faults and collector passes per streamed chunk)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from quotatune.cli.allocator import keep_freed_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_every_setting_is_accepted_by_glibc() -> None:
    assert keep_freed_memory() is True


def test_huge_pages_are_off_for_numpy_and_start_up_objects_are_frozen() -> None:
    # In a process of its own: both settings are for the process's lifetime, not pytest's.
    script = (
        "import gc, numpy as np\n"
        "from quotatune.cli.allocator import freeze_startup_objects, ordinary_pages\n"
        "assert gc.get_freeze_count() == 0\n"
        "ordinary_pages()\n"
        "was = np._core.multiarray._set_madvise_hugepage(True)\n"  # returns the old setting
        "print(was)\n"
        "freeze_startup_objects()\n"
        "print(gc.get_freeze_count() > 1000)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_the_whole_process_and_its_children_leave_transparent_huge_pages() -> None:
    script = (
        "import subprocess\n"
        "from quotatune.cli.allocator import ordinary_pages\n"
        "print(ordinary_pages())\n"
        "print(open('/proc/self/status').read().split('THP_enabled:')[1].split()[0])\n"
        "print(subprocess.run(['cat', '/proc/self/status'], capture_output=True, text=True)"
        ".stdout.split('THP_enabled:')[1].split()[0])\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True", "0", "0"]
