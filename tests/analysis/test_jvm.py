"""The JVM flag parser and the heap + non-heap memory estimate."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from quotatune.analysis.jvm import (
    DEFAULT_MAX_HEAP,
    MIB,
    jvm_memory_need_bytes,
    parse_jvm_options,
    parse_jvm_size,
)


def test_sizes_use_the_jvm_suffixes_and_plain_bytes():
    assert parse_jvm_size("512m") == 512 * MIB
    assert parse_jvm_size("2G") == 2 << 30
    assert parse_jvm_size("1024k") == MIB
    assert parse_jvm_size("1048576") == MIB
    # The JVM takes no fractions and no Kubernetes suffixes.
    assert parse_jvm_size("1.5g") is None
    assert parse_jvm_size("512Mi") is None
    assert parse_jvm_size("") is None


def test_the_last_occurrence_of_a_flag_wins():
    opts = parse_jvm_options(["-Xmx1g", "-Xms256m", "-Xmx512m"])
    assert opts.xmx == 512 * MIB
    assert opts.flags["xmx"] == "-Xmx512m"
    assert opts.xms == 256 * MIB


def test_xx_spellings_and_thread_stack_size_in_kib():
    opts = parse_jvm_options(
        "-XX:MaxHeapSize=268435456 -XX:ThreadStackSize=512 -XX:+AlwaysPreTouch "
        "-XX:MaxRAMPercentage=75.0 -XX:MaxMetaspaceSize=128m -XX:MaxDirectMemorySize=64m "
        "-XX:ReservedCodeCacheSize=48m -XX:-UseContainerSupport"
    )
    assert opts.xmx == 256 * MIB
    assert opts.xss == 512 * 1024
    assert opts.always_pre_touch is True
    assert opts.max_ram_percentage == 75.0
    assert opts.max_metaspace == 128 * MIB
    assert opts.max_direct_memory == 64 * MIB
    assert opts.reserved_code_cache == 48 * MIB
    assert opts.container_support is False


def test_flags_the_jvm_would_refuse_are_recorded_not_raised():
    opts = parse_jvm_options(["-Xmxlots", "-XX:MaxRAMPercentage=many", "-XX:+UseG1GC"])
    assert opts.xmx is None
    assert opts.invalid == ("-Xmxlots", "-XX:MaxRAMPercentage=many")


def test_not_a_jvm_without_memory_flags():
    assert jvm_memory_need_bytes([], 512 * MIB) is None
    assert jvm_memory_need_bytes(None, 512 * MIB) is None
    assert jvm_memory_need_bytes(["-XX:+UseG1GC"], 512 * MIB) is None


def test_healthy_xmx_well_under_the_limit_fits():
    need = jvm_memory_need_bytes(["-Xmx256m"], 1024 * MIB)
    assert need is not None and need.fits is True
    assert need.heap_max_bytes == 256 * MIB and need.heap_fixed
    assert need.need_bytes is not None and 256 * MIB < need.need_bytes < 1024 * MIB
    assert need.min_limit_bytes == need.need_bytes


def test_heap_as_large_as_the_limit_cannot_fit():
    need = jvm_memory_need_bytes(["-Xms1g", "-Xmx1g"], 1024 * MIB)
    assert need is not None and need.fits is False
    assert need.min_limit_mib is not None and need.min_limit_mib > 1024
    assert "-Xmx1g" in need.flags
    assert "heap 1024 MiB (-Xmx1g)" in need.reason()


def test_always_pre_touch_makes_the_initial_heap_resident_at_start():
    need = jvm_memory_need_bytes(["-Xms512m", "-XX:+AlwaysPreTouch"], 128 * MIB)
    assert need is not None and need.fits is False
    assert need.startup_bytes is not None and need.startup_bytes > 512 * MIB
    # -Xms above the default maximum heap raises the maximum with it.
    assert need.heap_max_bytes == 512 * MIB
    assert "AlwaysPreTouch" in need.reason()


def test_default_heap_follows_hotspot_ergonomics():
    # Measured with `java -XX:MaxRAM=… -XX:+PrintFlagsFinal`: 200m -> 100 MiB (MinRAMPercentage
    # 50 % for small memory), 1g -> 256 MiB (MaxRAMPercentage 25 %).
    small = jvm_memory_need_bytes([], 200 * MIB, assume_jvm=True)
    large = jvm_memory_need_bytes([], 1024 * MIB, assume_jvm=True)
    assert small is not None and large is not None
    assert small.heap_max_bytes == 100 * MIB
    assert large.heap_max_bytes == 256 * MIB
    assert not large.heap_fixed
    mid = jvm_memory_need_bytes([], 300 * MIB, assume_jvm=True)
    assert mid is not None and mid.heap_max_bytes == DEFAULT_MAX_HEAP


def test_a_percentage_heap_grows_with_the_limit_so_the_floor_solves_for_it():
    need = jvm_memory_need_bytes(["-XX:MaxRAMPercentage=90"], 512 * MIB)
    assert need is not None and need.fits is False
    floor = need.min_limit_bytes
    assert floor is not None
    at_floor = jvm_memory_need_bytes(["-XX:MaxRAMPercentage=90"], floor)
    assert at_floor is not None and at_floor.fits is True
    below = jvm_memory_need_bytes(["-XX:MaxRAMPercentage=90"], floor - MIB)
    assert below is not None and below.fits is False


def test_no_limit_can_hold_a_heap_of_the_whole_limit():
    need = jvm_memory_need_bytes(["-XX:MaxRAMPercentage=100"], 512 * MIB)
    assert need is not None and need.min_limit_bytes is None and need.fits is False


def test_no_limit_known_leaves_a_percentage_heap_unknown():
    need = jvm_memory_need_bytes(["-XX:MaxRAMPercentage=75"], None)
    assert need is not None
    assert need.heap_max_bytes is None and need.fits is None
    assert need.min_limit_bytes is not None


def test_non_heap_is_capped_by_its_flags():
    big = jvm_memory_need_bytes(["-Xmx256m"], 1024 * MIB)
    capped = jvm_memory_need_bytes(
        ["-Xmx256m", "-XX:MaxMetaspaceSize=32m", "-XX:ReservedCodeCacheSize=16m", "-Xss256k"],
        1024 * MIB,
    )
    assert big is not None and capped is not None
    assert capped.non_heap_bytes < big.non_heap_bytes
    assert dict(capped.parts)["metaspace"] == 32 * MIB
    assert dict(capped.parts)["thread stacks"] == 32 * 256 * 1024


_flag = st.one_of(
    st.text(max_size=30),
    st.builds(lambda p, v: p + v,
              st.sampled_from(["-Xmx", "-Xms", "-Xss", "-XX:MaxRAMPercentage=",
                               "-XX:ThreadStackSize=", "-XX:MaxHeapSize=", "-XX:+", "-XX:-",
                               "-XX:MaxRAM=", "-XX:InitialRAMPercentage="]),
              st.text(alphabet="0123456789kKmMgGtT.=-+x", max_size=25)),
)


@given(st.lists(_flag, max_size=12),
       st.one_of(st.none(), st.integers(min_value=-5, max_value=1 << 45),
                 st.floats(allow_nan=True, allow_infinity=True)))
def test_any_flags_and_limit_give_an_estimate_or_none_never_an_exception(flags, limit):
    need = jvm_memory_need_bytes(flags, limit)
    if need is not None:
        assert need.non_heap_bytes > 0
        if need.need_bytes is not None:
            assert need.need_bytes >= need.non_heap_bytes
        assert isinstance(need.reason(), str)
