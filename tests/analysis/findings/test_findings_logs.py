"""Log-line patterns: the last words of processes that could not get memory."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quotatune.analysis.findings.logs import MAX_LINE, match_line, match_lines
from tests.conftest import FIXTURES

SNIPPETS = FIXTURES / "forensics" / "issue_quoted_snippets.txt"


def test_every_jvm_failure_quoted_in_the_issues_is_recognised():
    found = {m.pattern for m in match_lines(SNIPPETS.read_text())}
    assert found >= {
        "jvm-insufficient-memory", "jvm-native-allocation", "jvm-commit-memory",
        "jvm-gc-thread", "jvm-native-thread", "jvm-out-of-memory-error", "jvm-reserve-heap",
    }


def test_the_failed_allocation_size_is_read_from_the_line():
    m = match_line("# Native memory allocation (mmap) failed to map 4034920448 bytes. "
                   "Error detail: committing reserved memory.")
    assert m is not None and m.pattern == "jvm-native-allocation"
    assert m.requested_bytes == 4034920448 and m.detail == "mmap"
    m = match_line("Could not reserve enough space for 2097152KB object heap")
    assert m is not None and m.requested_bytes == 2097152 * 1024


def test_commit_memory_warning_is_a_jvm_line_not_a_generic_enomem():
    m = match_line("OpenJDK 64-Bit Server VM warning: INFO: os::commit_memory(0x00000000c5330000, "
                   "181207040, 0) failed; error='Cannot allocate memory' (errno=12)")
    assert m is not None and m.runtime == "JVM" and m.requested_bytes == 181207040
    assert m.detail == "Cannot allocate memory"


@pytest.mark.parametrize("line, kind", [
    ('Exception in thread "main" java.lang.OutOfMemoryError: Java heap space', "Java heap space"),
    ("java.lang.OutOfMemoryError: Metaspace", "Metaspace"),
    ("java.lang.OutOfMemoryError: GC overhead limit exceeded", "GC overhead limit exceeded"),
    ("Caused by: java.lang.OutOfMemoryError: Direct buffer memory", "Direct buffer memory"),
    ("java.lang.OutOfMemoryError: unable to create new native thread",
     "unable to create new native thread"),
])
def test_out_of_memory_error_keeps_its_kind(line, kind):
    m = match_line(line)
    assert m is not None and m.pattern == "jvm-out-of-memory-error" and m.detail == kind


@pytest.mark.parametrize("line, runtime", [
    ("bash: fork: Cannot allocate memory", "native"),
    ("terminate called after throwing an instance of 'std::bad_alloc'", "C++"),
    ("fatal error: runtime: out of memory", "Go"),
    ("runtime: out of memory: cannot allocate 1048576-byte block (3932160 in use)", "Go"),
    ("FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
     "Node.js"),
    ("MemoryError", "Python"),
    ("numpy.core._exceptions._ArrayMemoryError: Unable to allocate 7.45 GiB for an array",
     "Python"),
    ("memory allocation of 1024 bytes failed", "Rust"),
])
def test_the_equivalents_of_other_runtimes(line, runtime):
    m = match_line(line)
    assert m is not None and m.runtime == runtime


@pytest.mark.parametrize("line", [
    "Started Application in 4.2 seconds (JVM running for 5.0)",
    "INFO  Memory usage: 312 MB of 1024 MB",
    "MemoryErrorHandler installed",
    "GC(3) Pause Young (Normal) (G1 Evacuation Pause) 24M->8M(256M) 3.1ms",
    "checking for malloc ... yes",
    "Error: Could not find or load main class Main",
    "",
])
def test_ordinary_lines_of_healthy_processes_do_not_match(line):
    assert match_line(line) is None


def test_lines_are_kept_raw_and_cut():
    m = match_line("\x1b[31mjava.lang.OutOfMemoryError: Java heap space\x1b[0m <b>" + "x" * 900)
    assert m is not None
    assert m.line.startswith("\x1b[31mjava.lang.OutOfMemoryError")  # renderers escape, not us
    assert len(m.line) <= MAX_LINE


@given(st.text(max_size=3000))
def test_any_text_gives_a_match_or_none(text):
    for m in match_lines(text):
        assert m.line and len(m.line) <= MAX_LINE
        assert m.requested_bytes is None or m.requested_bytes >= 0
    assert match_line(text) is None or match_line(text).pattern
