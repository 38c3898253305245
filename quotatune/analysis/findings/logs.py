"""The last words of processes that could not get memory: log-line patterns.

One table of patterns, most specific first, for the JVM (start-up messages, ``hs_err`` headlines,
``java.lang.OutOfMemoryError`` with its kind) and the equivalent messages of other runtimes
(glibc/ENOMEM, C++, Go, Node.js, Python, Rust).  Collectors may call :func:`match_line` to keep
only the lines that matter; :func:`.diagnose.diagnose` matches log events with it.
Lines are returned as raw text (cut at :data:`MAX_LINE`); renderers escape them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MAX_LINE = 400


@dataclass(frozen=True)
class LogPattern:
    name: str
    runtime: str  # "JVM", "Go", "Node.js", "Python", "C++", "Rust", "native"
    regex: re.Pattern[str]
    what: str  # what it means, for the finding's advice


@dataclass(frozen=True)
class LogMatch:
    pattern: str
    runtime: str
    what: str
    line: str  # raw text of the matching line (stripped, cut at MAX_LINE)
    requested_bytes: int | None = None  # the allocation that failed, when the line says
    detail: str | None = None  # e.g. the OutOfMemoryError kind or the errno text


def _p(name: str, runtime: str, regex: str, what: str) -> LogPattern:
    return LogPattern(name, runtime, re.compile(regex), what)


# Order matters: the first match wins, so JVM lines that also say "Cannot allocate memory"
# are classified as JVM lines.
PATTERNS: tuple[LogPattern, ...] = (
    _p("jvm-native-allocation", "JVM",
       r"Native memory allocation \((?P<detail>malloc|mmap)\) failed to (?:map|allocate) "
       r"(?P<bytes>\d+) bytes",
       "the JVM could not get native memory for its heap or internal structures"),
    _p("jvm-insufficient-memory", "JVM",
       r"There is insufficient memory for the Java Runtime Environment to continue",
       "the JVM could not get the memory it needs to run"),
    _p("jvm-commit-memory", "JVM",
       r"os::commit_memory\(0x[0-9a-fA-F]+, (?P<bytes>\d+), \d+\) failed; "
       r"error='(?P<detail>[^']*)'",
       "the JVM could not commit memory it had reserved (usually the heap)"),
    _p("jvm-reserve-heap", "JVM",
       r"Could not reserve enough space for (?:(?P<kb>\d+)KB )?object heap",
       "the JVM could not reserve address space for the heap it was told to use"),
    _p("jvm-gc-thread", "JVM", r"Cannot create (?:worker )?GC thread",
       "the JVM could not start its GC threads (thread stacks or the pids limit)"),
    _p("jvm-out-of-memory-error", "JVM",
       r"java\.lang\.OutOfMemoryError(?::\s*(?P<detail>[^:\r\n]*[^:\s]))?",
       "the Java application ran out of one of its memory pools"),
    _p("jvm-native-thread", "JVM",
       r"unable to create (?:new )?native thread|pthread_create failed \((?P<detail>E[A-Z]+)\)",
       "the JVM could not start a thread (thread stacks, memory or the pids limit)"),
    _p("jvm-heap-flags", "JVM",
       r"(?P<detail>Too small (?:maximum|initial) heap|Initial heap size set to a larger "
       r"value than the maximum heap size|Invalid (?:maximum|initial) heap size)",
       "the JVM refused its heap flags"),
    _p("go-out-of-memory", "Go",
       r"runtime: out of memory(?:: cannot allocate (?P<bytes>\d+)-byte block)?",
       "the Go runtime could not get memory from the system"),
    _p("node-heap-out-of-memory", "Node.js",
       r"JavaScript heap out of memory|Reached heap limit Allocation failed",
       "Node.js reached its V8 heap limit (--max-old-space-size)"),
    _p("python-memory-error", "Python",
       r"^\s*(?:[A-Za-z_][\w.]*\.)?_?(?:Array)?MemoryError\b(?::\s*(?P<detail>.*\S))?\s*$",
       "Python could not allocate memory"),
    _p("cpp-bad-alloc", "C++", r"std::bad_alloc", "a C++ allocation failed"),
    _p("rust-allocation", "Rust", r"memory allocation of (?P<bytes>\d+) bytes failed",
       "a Rust allocation failed"),
    _p("enomem", "native", r"Cannot allocate memory|\bENOMEM\b",
       "a system call could not get memory (ENOMEM)"),
)

JVM_PATTERNS = frozenset(p.name for p in PATTERNS if p.runtime == "JVM")


def match_line(line: str) -> LogMatch | None:
    """The first failure pattern in ``line``, or None.  Never raises on any text."""
    if not isinstance(line, str) or not line:
        return None
    text = line.strip()
    if len(text) > 4 * MAX_LINE:  # a pathological line: look at its start only
        text = text[: 4 * MAX_LINE]
    for pat in PATTERNS:
        m = pat.regex.search(text)
        if m is None:
            continue
        groups = m.groupdict()
        requested = None
        if groups.get("bytes"):
            requested = int(groups["bytes"])
        elif groups.get("kb"):
            requested = int(groups["kb"]) * 1024
        detail = groups.get("detail") or None
        shown = text if len(text) <= MAX_LINE else text[: MAX_LINE - 1] + "…"
        return LogMatch(pat.name, pat.runtime, pat.what, shown, requested, detail)
    return None


def match_lines(lines: Iterable[str] | str) -> list[LogMatch]:
    """Every matching line of a text or of a list of lines, in order."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    return [m for m in (match_line(ln) for ln in lines) if m is not None]
