"""How much memory a JVM will ask for, from its flags and its container's memory limit.

The spec frame's ``jvm_options`` lists the flags in the order the JVM applies them (see
:mod:`quotatune.sources.envscan`), so the last occurrence of a flag wins, as in the JVM.

The estimate is heap + non-heap.  The heap follows HotSpot's own ergonomics (JDK 11+ with
container support): ``-Xmx``/``-XX:MaxHeapSize`` if given; otherwise ``MaxRAMPercentage``
(default 25 %) of the limit, except that for small limits (``limit × MinRAMPercentage`` below
HotSpot's default maximum heap of 96 MiB × 1.3 on 64-bit) the heap is ``MinRAMPercentage``
(default 50 %) of the limit.  Non-heap parts are *assumptions* for a typical service, capped by
the flags that bound them (measured medians of ordinary Spring/Quarkus/Netty services are of
this order; an application with thousands of classes or threads needs more):

============================  ==============================================================
metaspace                     min(MaxMetaspaceSize, 64 MiB)
code cache                    min(ReservedCodeCacheSize, 32 MiB)
thread stacks                 32 threads × -Xss (default 1 MiB; -XX:ThreadStackSize is in KiB)
GC structures                 4 % of the maximum heap (G1 remembered sets, card table, bitmaps)
direct buffers                MaxDirectMemorySize when set explicitly, else 0 (unknown use)
JVM internals                 24 MiB (CDS archive, symbol tables, malloc arenas, GC threads)
============================  ==============================================================

With ``-XX:+AlwaysPreTouch`` every page of the initial heap is touched at start-up, so the
container needs ``-Xms`` + non-heap resident before the application runs: that is what gets a
JVM OOM-killed before it logs a line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

MIB = 1 << 20

# Non-heap assumptions (see the module docstring).
ASSUMED_METASPACE = 64 * MIB
ASSUMED_CODE_CACHE = 32 * MIB
ASSUMED_THREADS = 32
DEFAULT_XSS = 1 * MIB
GC_OVERHEAD_FRACTION = 0.04
JVM_INTERNALS = 24 * MIB
# HotSpot ergonomics constants (JDK 11-21, x86_64/aarch64).
DEFAULT_MAX_RAM_PERCENTAGE = 25.0
DEFAULT_MIN_RAM_PERCENTAGE = 50.0
DEFAULT_INITIAL_RAM_PERCENTAGE = 1.5625
DEFAULT_MAX_HEAP = int(96 * MIB * 13 / 10)  # ScaleForWordSize(96M) on 64-bit
MIN_HEAP = 8 * MIB

_SIZE = re.compile(r"^(?P<num>\d{1,20})(?P<unit>[kKmMgGtT]?)$")
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_PERCENT = re.compile(r"^\d{1,3}(?:\.\d{1,6})?$")


def parse_jvm_size(text: str) -> int | None:
    """A JVM size ("512m", "2G", "1048576") in bytes, or None when the JVM would reject it."""
    m = _SIZE.match(text)
    if not m:
        return None
    return int(m.group("num")) * _UNITS[m.group("unit").lower()]


@dataclass(frozen=True)
class JvmOptions:
    """The memory-relevant flags in force (last occurrence wins); sizes in bytes."""

    xms: int | None = None
    xmx: int | None = None
    xss: int | None = None
    max_ram_percentage: float | None = None
    min_ram_percentage: float | None = None
    initial_ram_percentage: float | None = None
    max_ram: int | None = None
    always_pre_touch: bool = False
    container_support: bool = True
    max_metaspace: int | None = None
    max_direct_memory: int | None = None
    reserved_code_cache: int | None = None
    # The flag text that set each field, for evidence ("-Xmx2g").
    flags: dict[str, str] = field(default_factory=dict)
    invalid: tuple[str, ...] = ()  # flags the JVM would refuse ("-Xmxlots")


# -X forms and the -XX:Name=value sizes and percentages that matter for memory.
_X_SIZES = {"-Xms": "xms", "-Xmx": "xmx", "-Xss": "xss"}
_XX_SIZES = {
    "MaxHeapSize": "xmx",
    "InitialHeapSize": "xms",
    "MaxRAM": "max_ram",
    "MaxMetaspaceSize": "max_metaspace",
    "MaxDirectMemorySize": "max_direct_memory",
    "ReservedCodeCacheSize": "reserved_code_cache",
}
_XX_PERCENT = {
    "MaxRAMPercentage": "max_ram_percentage",
    "MinRAMPercentage": "min_ram_percentage",
    "InitialRAMPercentage": "initial_ram_percentage",
}
_XX_BOOL = {"AlwaysPreTouch": "always_pre_touch", "UseContainerSupport": "container_support"}


def parse_jvm_options(options: Iterable[str] | str | None) -> JvmOptions:
    """Read the memory flags from a list of JVM options; never raises on garbled flags."""
    values: dict[str, object] = {}
    flags: dict[str, str] = {}
    invalid: list[str] = []
    for opt in _as_list(options):
        name, value = _classify(opt)
        if name is None:
            continue
        if value is None:
            invalid.append(opt)
            continue
        values[name] = value
        flags[name] = opt
    return JvmOptions(**values, flags=flags, invalid=tuple(invalid))  # type: ignore[arg-type]


def _as_list(options: Iterable[str] | str | None) -> list[str]:
    if options is None:
        return []
    if isinstance(options, str):
        return options.split()
    try:
        return [str(o) for o in options if isinstance(o, str)]
    except TypeError:  # a NaN or other scalar from a frame cell
        return []


def _classify(opt: str) -> tuple[str | None, object | None]:
    """(field name, parsed value) for a memory flag; (name, None) when malformed."""
    for prefix, name in _X_SIZES.items():
        if opt.startswith(prefix):
            return name, parse_jvm_size(opt[len(prefix):])
    if not opt.startswith("-XX:"):
        return None, None
    body = opt[4:]
    if body[:1] in "+-" and body[1:] in _XX_BOOL:
        return _XX_BOOL[body[1:]], body[0] == "+"
    key, eq, raw = body.partition("=")
    if not eq:
        return None, None
    if key in _XX_SIZES:
        return _XX_SIZES[key], parse_jvm_size(raw)
    if key == "ThreadStackSize":  # in KiB, unlike -Xss
        n = parse_jvm_size(raw)
        return "xss", None if n is None else n * 1024
    if key in _XX_PERCENT:
        return _XX_PERCENT[key], float(raw) if _PERCENT.match(raw) else None
    return None, None


@dataclass(frozen=True)
class JvmNeed:
    """The estimated memory a JVM needs in a container with ``limit_bytes`` (None: no limit).

    ``need_bytes`` = heap_max_bytes + non_heap_bytes; ``startup_bytes`` (only with
    AlwaysPreTouch) is what is resident before the application runs: the whole initial heap.
    ``min_limit_bytes`` is the smallest memory limit that holds the need *with these flags* —
    for a heap given as a percentage the heap grows with the limit, so this solves
    limit ≥ need(limit); None when no limit can (e.g. MaxRAMPercentage ≥ 100).  ``fits`` is
    None when no limit (or no heap size) is known.
    """

    limit_bytes: int | None
    heap_max_bytes: int | None
    heap_initial_bytes: int | None
    heap_source: str
    heap_fixed: bool  # True when -Xmx (or MaxHeapSize) sets the heap, not a share of the limit
    always_pre_touch: bool
    non_heap_bytes: int
    parts: tuple[tuple[str, int], ...]
    need_bytes: int | None
    startup_bytes: int | None
    min_limit_bytes: int | None
    fits: bool | None
    flags: tuple[str, ...]
    invalid_flags: tuple[str, ...] = ()

    @property
    def min_limit_mib(self) -> int | None:
        return None if self.min_limit_bytes is None else -(-self.min_limit_bytes // MIB)

    def reason(self) -> str:
        """One sentence for a Recommendation's reasons or a Finding's evidence."""
        heap = "heap unknown" if self.heap_max_bytes is None else (
            f"heap {_mib(self.heap_max_bytes)} MiB ({self.heap_source})")
        text = f"JVM needs about {_mib(self.need_bytes)} MiB: {heap} + non-heap " \
            f"{_mib(self.non_heap_bytes)} MiB" if self.need_bytes is not None else \
            f"JVM {heap}, non-heap about {_mib(self.non_heap_bytes)} MiB"
        if self.startup_bytes is not None:
            text += f"; -XX:+AlwaysPreTouch makes {_mib(self.startup_bytes)} MiB resident at start"
        return text


def _mib(n: int | None) -> int:
    return 0 if n is None else -(-int(n) // MIB)


def jvm_memory_need_bytes(
    options: Iterable[str] | str | None, limit_bytes: int | float | None, *,
    assume_jvm: bool = False,
) -> JvmNeed | None:
    """Estimate the memory a JVM with ``options`` needs under a memory limit of ``limit_bytes``.

    Returns None when ``options`` holds no JVM memory flag (the container is not known to be a
    JVM) unless ``assume_jvm`` is true, in which case the JVM defaults are assumed.  Pure: no
    I/O.  Use ``need.min_limit_bytes`` as the floor of a memory limit recommendation and
    ``need.reason()`` as the reason.
    """
    opts = parse_jvm_options(options)
    if not opts.flags and not opts.invalid and not assume_jvm:
        return None
    limit = _clean_limit(limit_bytes)
    # Without container support the JVM sizes itself from the host, which we do not know.
    ram = opts.max_ram if opts.max_ram is not None else (limit if opts.container_support else None)
    heap_max, heap_source = _heap_max(opts, ram)
    heap_init = _heap_initial(opts, ram, heap_max)
    parts = _non_heap_parts(opts, heap_max)
    non_heap = sum(v for _, v in parts)
    need = None if heap_max is None else heap_max + non_heap
    startup = None
    if opts.always_pre_touch and heap_init is not None:
        # Touched before main(): the initial heap, its GC structures and the JVM itself.
        startup = heap_init + int(heap_init * GC_OVERHEAD_FRACTION) + JVM_INTERNALS
    min_limit = _min_limit(opts)
    fits = None if limit is None or need is None else need <= limit
    order = ("xms", "xmx", "max_ram_percentage", "initial_ram_percentage", "min_ram_percentage",
             "max_ram", "always_pre_touch", "xss", "max_metaspace", "max_direct_memory",
             "reserved_code_cache", "container_support")
    shown = tuple(opts.flags[k] for k in order if k in opts.flags)
    return JvmNeed(
        limit_bytes=limit, heap_max_bytes=heap_max, heap_initial_bytes=heap_init,
        heap_source=heap_source, heap_fixed=opts.xmx is not None,
        always_pre_touch=opts.always_pre_touch,
        non_heap_bytes=non_heap, parts=parts, need_bytes=need, startup_bytes=startup,
        min_limit_bytes=min_limit, fits=fits, flags=shown, invalid_flags=opts.invalid,
    )


def _clean_limit(limit: int | float | None) -> int | None:
    if limit is None:
        return None
    try:
        value = float(limit)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value) or value <= 0:
        return None
    return int(value)


def _heap_max(opts: JvmOptions, ram: int | None) -> tuple[int | None, str]:
    if opts.xmx is not None:
        heap = opts.xmx
        # An -Xms above the default maximum raises the maximum with it (HotSpot ergonomics).
        return heap, opts.flags["xmx"]
    if ram is None:
        return (opts.xms, opts.flags["xms"] + ", no -Xmx") if opts.xms is not None else (
            None, "share of host memory (no limit)")
    heap, source = _ergonomic_heap(opts, ram)
    if opts.xms is not None and opts.xms > heap:
        return opts.xms, opts.flags["xms"] + ", above the default maximum"
    return heap, source


def _ergonomic_heap(opts: JvmOptions, ram: int) -> tuple[int, str]:
    max_pct = opts.max_ram_percentage if opts.max_ram_percentage is not None else (
        DEFAULT_MAX_RAM_PERCENTAGE)
    min_pct = opts.min_ram_percentage if opts.min_ram_percentage is not None else (
        DEFAULT_MIN_RAM_PERCENTAGE)
    reasonable_min = int(ram * min_pct / 100)
    if reasonable_min < DEFAULT_MAX_HEAP:
        flag = opts.flags.get("min_ram_percentage", "JVM default MinRAMPercentage=50")
        return reasonable_min, f"{flag} of the {_mib(ram)} MiB limit"
    heap = max(int(ram * max_pct / 100), DEFAULT_MAX_HEAP)
    flag = opts.flags.get("max_ram_percentage", "JVM default MaxRAMPercentage=25")
    return heap, f"{flag} of the {_mib(ram)} MiB limit"


def _heap_initial(opts: JvmOptions, ram: int | None, heap_max: int | None) -> int | None:
    if opts.xms is not None:
        return opts.xms
    if ram is None:
        return None
    pct = opts.initial_ram_percentage if opts.initial_ram_percentage is not None else (
        DEFAULT_INITIAL_RAM_PERCENTAGE)
    init = max(int(ram * pct / 100), MIN_HEAP)
    return min(init, heap_max) if heap_max is not None else init


def _non_heap_parts(opts: JvmOptions, heap_max: int | None) -> tuple[tuple[str, int], ...]:
    xss = opts.xss if opts.xss else DEFAULT_XSS
    parts = [
        ("metaspace", min(opts.max_metaspace or ASSUMED_METASPACE, ASSUMED_METASPACE)),
        ("code cache", min(opts.reserved_code_cache or ASSUMED_CODE_CACHE, ASSUMED_CODE_CACHE)),
        ("thread stacks", ASSUMED_THREADS * xss),
        ("GC structures", int((heap_max or 0) * GC_OVERHEAD_FRACTION)),
        ("direct buffers", opts.max_direct_memory or 0),
        ("JVM internals", JVM_INTERNALS),
    ]
    return tuple(parts)


def _min_limit(opts: JvmOptions) -> int | None:
    """The smallest limit L with need(L) ≤ L (need ≥ the pre-touched -Xms, so that is held)."""
    if opts.xmx is not None or not opts.container_support or opts.max_ram is not None:
        heap = opts.xmx if opts.xmx is not None else opts.xms
        if heap is None and opts.max_ram is not None:
            heap = _ergonomic_heap(opts, opts.max_ram)[0]
        if heap is None:
            return None
        return heap + sum(v for _, v in _non_heap_parts(opts, heap))
    # The heap is a share of the limit: search the smallest MiB that holds it (monotone
    # enough: L - need(L) grows with L whenever the share is below 100 %).
    lo, hi = 1, 1 << 30  # in MiB: up to 1 PiB
    if not _holds(opts, hi * MIB):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if _holds(opts, mid * MIB):
            hi = mid
        else:
            lo = mid + 1
    return lo * MIB


def _holds(opts: JvmOptions, limit: int) -> bool:
    heap, _ = _ergonomic_heap(opts, limit)
    if opts.xms is not None:
        heap = max(heap, opts.xms)
    need = heap + sum(v for _, v in _non_heap_parts(opts, heap))
    return need <= limit
