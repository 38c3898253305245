"""Read a HotSpot fatal error log (``hs_err_pid<N>.log``): what failed, and in what container.

Only the fields a finding needs are kept: the headline lines, the allocation that failed, the
JVM version, the memory flags (from ``jvm_args`` / ``Command Line``, through
:func:`quotatune.sources.envscan.jvm_flags`), the cgroup section and the time.  The file's
"Environment Variables" section is never read: its values must not leave the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from quotatune.model.errors import InputError
from quotatune.sources.envscan import jvm_flags

_HEADER = re.compile(
    r"^#\s*(?:A fatal error has been detected by the Java Runtime Environment"
    r"|There is insufficient memory for the Java Runtime Environment)", re.M)
_REQUESTED = re.compile(r"failed to (?:map|allocate) (\d+) bytes")
_JRE = re.compile(r"^#\s*JRE version:\s*(?P<v>.*\S)", re.M)
_JRE_BUILD = re.compile(r"\((?P<v>[0-9][^)]*)\)")
_VM = re.compile(r"^#\s*Java VM:\s*(?P<v>.*\S)", re.M)
_WHERE = re.compile(r"^#\s*(?P<what>(?:Out of Memory Error|Internal Error|SIGSEGV|SIGBUS)\b.*)$",
                    re.M)
_PID = re.compile(r"pid=(\d+)")
_ARGS = re.compile(r"^(?:jvm_args|Command Line):\s*(?P<v>.*)$", re.M)
_CONTAINER = re.compile(r"^container \(cgroup\) information:\s*$", re.M)
_KEYVAL = re.compile(r"^(?P<k>[a-z_]+):\s*(?P<v>.*?)\s*$")
_HOST_MEMORY = re.compile(r"^Memory: \d+k page, (?P<v>physical .*\S)", re.M)
_SIZE = re.compile(r"^(?P<n>\d+)\s*(?P<k>[kK])?$")
# JDK 8: "time: Mon Jan 30 12:40:31 2017"; JDK 11+: "Time: Wed Oct 30 14:19:55 2024 UTC ...".
_TIME = re.compile(
    r"^[Tt]ime:\s*(?:\w{3}\s+)?(?P<t>\w{3}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2}\s+\d{4})", re.M)
# The cgroup fields worth showing, by their names in JDK 8-21 (v1 and v2 spellings).
_LIMIT_KEYS = ("memory_limit_in_bytes", "memory_limit")
_USAGE_KEYS = ("memory_usage_in_bytes", "memory_usage")
_MAX_USAGE_KEYS = ("memory_max_usage_in_bytes", "memory_max_usage")


@dataclass(frozen=True)
class HsErr:
    headline: tuple[str, ...]  # the "#" lines that say what failed, without the "#"
    requested_bytes: int | None
    jre_version: str | None  # "1.8.0_111-8u111-b14-2~bpo8+1-b14" or "11.0.25+9"
    vm: str | None
    pid: int | None
    failed_in: str | None  # "Out of Memory Error (os_linux.cpp:2630)"
    jvm_options: tuple[str, ...]
    container_type: str | None  # "cgroupv1" / "cgroupv2"
    memory_limit_bytes: int | None  # None: unlimited or not reported
    memory_usage_bytes: int | None
    memory_max_usage_bytes: int | None
    host_memory: str | None  # "physical 7693692k(40680k free), swap 0k(0k free)"
    time: pd.Timestamp | None

    @property
    def is_memory_failure(self) -> bool:
        return bool(self.failed_in and self.failed_in.startswith("Out of Memory Error")) or any(
            "insufficient memory" in h for h in self.headline)


def looks_like_hs_err(head: str) -> bool:
    """Sniffer for the file registry: the banner of a HotSpot fatal error log."""
    return bool(_HEADER.search(head))


def parse_hs_err(text: str, source: str = "hs_err") -> HsErr:
    """Parse the text of an hs_err file; InputError when it is not one."""
    if not isinstance(text, str) or not _HEADER.search(text):
        raise InputError(f"{source}: not a HotSpot fatal error log (no '# There is insufficient "
                         "memory…' or '# A fatal error has been detected…' banner)")
    headline = _headline(text)
    requested = next((int(m.group(1)) for h in headline if (m := _REQUESTED.search(h))), None)
    jre = _JRE.search(text)
    jre_version = None
    if jre:
        build = _JRE_BUILD.search(jre.group("v"))
        jre_version = build.group("v").strip() if build else jre.group("v")
    vm = _VM.search(text)
    where = _WHERE.search(text)
    pid = _PID.search(where.group(0)) if where else None
    args = _ARGS.search(text)
    container = _container_section(text)
    return HsErr(
        headline=headline,
        requested_bytes=requested,
        jre_version=jre_version,
        vm=vm.group("v") if vm else None,
        pid=int(pid.group(1)) if pid else None,
        failed_in=where.group("what").split(", pid=")[0].strip()[:200] if where else None,
        jvm_options=tuple(jvm_flags([args.group("v")])) if args else (),
        container_type=container.get("container_type"),
        memory_limit_bytes=_first_size(container, _LIMIT_KEYS),
        memory_usage_bytes=_first_size(container, _USAGE_KEYS),
        memory_max_usage_bytes=_first_size(container, _MAX_USAGE_KEYS),
        host_memory=host.group("v")[:120] if (host := _HOST_MEMORY.search(text)) else None,
        time=_time(text),
    )


def _headline(text: str) -> tuple[str, ...]:
    """The '#' lines from the banner down to the first blank '#', minus the boilerplate."""
    out: list[str] = []
    started = False
    for line in text.splitlines()[:60]:
        if not line.startswith("#"):
            if started:
                break
            continue
        body = line[1:].strip()
        if not started:
            started = bool(_HEADER.match(line))
            if not started:
                continue
        if not body:
            if len(out) > 0:
                break
            continue
        if body.startswith(("Possible reasons", "Possible solutions")):
            break
        out.append(body[:400])
    return tuple(out)


def _container_section(text: str) -> dict[str, str]:
    m = _CONTAINER.search(text)
    if not m:
        return {}
    out: dict[str, str] = {}
    for line in text[m.end():].splitlines()[1:40]:
        kv = _KEYVAL.match(line)
        if not kv:
            if line.strip() == "":
                break
            continue
        out[kv.group("k")] = kv.group("v")
    return out


def _first_size(section: dict[str, str], keys: tuple[str, ...]) -> int | None:
    for k in keys:
        if k in section:
            m = _SIZE.match(section[k])
            if m:  # "unlimited", "not supported", "-1" and the like say: no figure
                return int(m.group("n")) * (1024 if m.group("k") else 1)
    return None


def _time(text: str) -> pd.Timestamp | None:
    m = _TIME.search(text)
    if not m:
        return None
    # The JVM prints local time (UTC in nearly every container); read it as UTC.
    t = pd.to_datetime(m.group("t"), format="%b %d %H:%M:%S %Y", errors="coerce")
    if pd.isna(t):
        return None
    return pd.Timestamp(t).tz_localize("UTC")
