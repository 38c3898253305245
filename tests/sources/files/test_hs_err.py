"""HotSpot fatal error logs (hs_err_pid*.log): the parser and the ``hs-err`` importer."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quotatune.model.errors import InputError
from quotatune.sources.files.hs_err_parse import HsErr, parse_hs_err
from quotatune.sources.registry import detect_format, import_files
from tests.conftest import FIXTURES

DIR = FIXTURES / "forensics"
MMAP = DIR / "vodacom_eureka_hs_err_pid1_mmap_jdk8.log"
GC_THREAD = DIR / "sergiologino_gradle_hs_err_pid1_gcthread_jdk11_cgroupv1.log"


def test_jdk8_mmap_failure():
    r = parse_hs_err(MMAP.read_text())
    assert r.headline == (
        "There is insufficient memory for the Java Runtime Environment to continue.",
        "Native memory allocation (mmap) failed to map 62914560 bytes for committing reserved "
        "memory.",
    )
    assert r.requested_bytes == 62914560
    assert r.jre_version == "8.0_111-b14"
    assert r.pid == 1 and r.failed_in == "Out of Memory Error (os_linux.cpp:2630)"
    assert r.is_memory_failure
    assert r.time == pd.Timestamp("2017-01-30T12:40:31Z")
    assert r.host_memory is not None and r.host_memory.startswith("physical 7693692k(40680k free)")
    assert r.container_type is None  # JDK 8u111 printed no cgroup section


def test_jdk11_gc_thread_failure_with_its_cgroup_section_and_flags():
    r = parse_hs_err(GC_THREAD.read_text())
    assert "Cannot create worker GC thread. Out of system resources." in r.headline
    assert r.requested_bytes is None
    assert r.jre_version == "11.0.25+9"
    assert r.jvm_options == ("-Xmx64m", "-Xms64m")
    assert r.container_type == "cgroupv1"
    assert r.memory_limit_bytes is None  # "unlimited"
    assert r.memory_usage_bytes == 6516 * 1024
    assert r.memory_max_usage_bytes == 8788 * 1024
    assert r.time == pd.Timestamp("2024-10-30T14:19:55Z")


def test_the_importer_is_found_by_sniffing_and_keeps_no_environment_values():
    assert detect_format(MMAP) == "hs-err"
    data = import_files([MMAP, GC_THREAD])
    assert set(data.events["workload"]) == {MMAP.stem, GC_THREAD.stem}
    assert (data.events["kind"] == "log").all()
    text = " ".join(data.events["message"]) + " ".join(map(str, data.specs.to_numpy().ravel()))
    # Both files end with an "Environment Variables:" section; none of it is read.
    assert "/usr/lib/jvm/java-8-openjdk-amd64" not in text
    assert "/opt/java/openjdk" not in text
    spec = data.specs.set_index("workload").loc[GC_THREAD.stem]
    assert tuple(spec["jvm_options"]) == ("-Xmx64m", "-Xms64m")


def test_a_file_that_is_not_an_hs_err_log_is_one_clear_error(tmp_path):
    p = tmp_path / "hs_err_pid7.log"
    p.write_text("hello\n")
    with pytest.raises(InputError, match="not a HotSpot fatal error log"):
        import_files([p], "hs-err")


_LINES = st.sampled_from([
    "#", "# There is insufficient memory for the Java Runtime Environment to continue.",
    "# A fatal error has been detected by the Java Runtime Environment:",
    "# Native memory allocation (malloc) failed to allocate 99999999999999999999 bytes",
    "#  Out of Memory Error (os_linux.cpp:1), pid=x, tid=1", "# JRE version: (", "# Java VM:",
    "jvm_args: -Xmx -Xms1k 'unbalanced", "Command Line: -XX:MaxRAMPercentage=abc",
    "container (cgroup) information:", "memory_limit_in_bytes: 12 k", "memory_usage_in_bytes:",
    "Time: Feb 30 25:61:61 2024 UTC", "time: Mon Jan 30 12:40:31 2017", "Memory: 4k page, ",
])


@given(st.lists(st.one_of(_LINES, st.text(max_size=80)), max_size=40))
def test_garbled_files_give_a_report_or_an_input_error(lines):
    try:
        r = parse_hs_err("\n".join(lines))
    except InputError:
        return
    assert isinstance(r, HsErr)
    assert r.requested_bytes is None or r.requested_bytes >= 0
