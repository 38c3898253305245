"""The compiled pass gives what the numpy path gives, value for value, or hands the chunk
back to it.

Each chunk is a real Parquet row group's typed columns (pyarrow tables as the reader gets
them); the numpy path is validation, the overlap check, the limit changes and the rollup
of the same rows as a frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quotatune.model import InputError, validate_usage
from quotatune.rollup import scan as compiled
from quotatune.rollup import sketch
from quotatune.rollup.limits import LimitChanges
from quotatune.rollup.spans import Overlap, PodSpans, check_spans
from quotatune.sources.files.arrow_frames import table_columns, table_frame

pytestmark = pytest.mark.skipif(not compiled.AVAILABLE, reason="built without a C compiler")
DEFAULT = ["namespace", "workload", "container", "pod", "day", "n", "t_first", "t_last",
           "cpu_sum", "cpu_max", "mem_sum", "mem_max", *sketch.CURRENT_COLUMNS, "restarts",
           "platform", "mem_hour_max", "cpu_b", "cpu_c"]
UNWEIGHTED = [c for c in sketch.ROLLUP_COLUMNS if c not in compiled._WEIGHTED]


def names(values: list[str]) -> pa.Array:
    return pa.array(values).dictionary_encode()


def table(n_pods: int = 4, rows: int = 3000, *, seed: int = 1, step_s: int = 60,
          start: str = "2026-11-20T22:00:00Z", **extra: pa.Array) -> pa.Table:
    """Pods one after another, each in time order, across midnight; a limit raised in
    place mid-run and CPU limits some containers do not set."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start).value // 1000
    per = rows // n_pods
    pod = np.repeat(np.arange(n_pods), per)
    ts = t0 + np.tile(np.arange(per), n_pods) * step_s * 10**6 + pod * 7 * 10**6
    limit = np.where(np.tile(np.arange(per), n_pods) < per // 2, 5e8, 6e8)
    cols = {
        "timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "namespace": names([f"ns{p % 2}" for p in pod]),
        "workload": names([f"app{p // 2}" for p in pod]),
        "pod": names([f"app{p // 2}-{p}" for p in pod]),
        "container": names(["main"] * len(pod)),
        "cpu_cores": pa.array(rng.gamma(2.0, 0.2, len(pod)) * rng.choice([1e-3, 1, 50], len(pod))),
        "memory_working_set_bytes": pa.array(rng.lognormal(19, 1.5, len(pod))),
        "cpu_request_cores": pa.array(np.full(len(pod), 0.25)),
        "cpu_limit_cores": pa.array([None if p % 2 else 1.0 for p in pod], pa.float64()),
        "memory_limit_bytes": pa.array(limit),
    }
    cols.update(extra)
    return pa.table(cols)


def numpy_path(tab: pa.Table, columns: list[str] | None) -> tuple[pd.DataFrame, LimitChanges,
                                                                    PodSpans]:
    chunk = table_columns(tab, "t.parquet", 0)
    assert chunk is not None
    usage = chunk.frame()
    spans = PodSpans()
    runs = check_spans(usage, spans)
    return (sketch.rollup_rows(usage, columns, pod_runs=runs).framed(),
            LimitChanges.of(usage, runs), spans)


def assert_same_rows(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    for col in want.columns:
        a, b = got[col], want[col]
        assert a.dtype == b.dtype, col
        if b.dtype == object and len(b) and isinstance(b.iloc[0], np.ndarray):
            for x, y in zip(a, b, strict=True):
                assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True), col
        elif b.dtype == object:
            assert a.tolist() == b.tolist(), col
        elif b.dtype == np.float64:  # bit for bit, NaN where NaN
            assert np.array_equal(a.to_numpy(), b.to_numpy(), equal_nan=True), col
        else:
            assert a.equals(b), col


def assert_same_as_numpy(tab: pa.Table, columns: list[str] | None) -> None:
    chunk = table_columns(tab, "t.parquet", 0)
    assert chunk is not None
    got = compiled.scan(chunk, columns)
    assert got is not None
    rows, limits, spans = numpy_path(tab, columns)
    assert_same_rows(got.rows.framed(), rows)
    container, pod = compiled.pod_keys(chunk, got.limit_rows)
    assert np.array_equal(container, limits.rows["container"])
    assert np.array_equal(pod, limits.rows["pod"])
    assert np.array_equal(chunk.ts[got.limit_rows] * chunk.scale, limits.rows["t"])
    mine = PodSpans()
    from quotatune.rollup.namehash import POD_KEY, name_hashes
    assert mine.add(name_hashes(compiled.name_columns(chunk, POD_KEY), got.run_start),
                    got.run_lo, got.run_hi)
    order = np.argsort(mine.keys)
    assert np.array_equal(mine.keys[order], spans.keys)
    assert np.array_equal(mine.lo[order], spans.lo) and np.array_equal(mine.hi[order], spans.hi)


@pytest.mark.parametrize("columns", [DEFAULT, UNWEIGHTED, DEFAULT[:12]],
                         ids=["default-strategy", "every-unweighted-column", "scalars-only"])
def test_the_pass_gives_the_numpy_paths_rows_limits_and_spans(columns: list[str]) -> None:
    assert_same_as_numpy(table(), columns)


def test_long_days_sum_in_numpys_pairwise_order() -> None:
    # A pod-day of 86,400 one-second samples: numpy splits its sum into blocks of 128.
    assert_same_as_numpy(table(n_pods=2, rows=200_000, step_s=1), DEFAULT)


def test_a_null_reads_as_missing_whatever_its_slot_holds() -> None:
    # Arrow leaves a null's slot unset: here it holds a value validation would refuse.
    limits = pa.array([5e8] * 150 + [-1.0] * 50).to_pandas().to_numpy()
    mask = np.r_[np.zeros(150, bool), np.ones(50, bool)]
    tab = table(n_pods=2, rows=200).set_column(9, "memory_limit_bytes",
                                               pa.array(limits, mask=mask))
    assert_same_as_numpy(tab, DEFAULT)


def test_zeros_the_largest_value_and_missing_optional_values_are_taken() -> None:
    tab = table(n_pods=2, rows=400)
    cpu = tab.column("cpu_cores").to_numpy().copy()
    cpu[:4] = [0.0, -0.0, 2.0**53, 1e-300]
    restarts = pa.array([None] * 399 + [3.0], pa.float64())
    tab = tab.set_column(5, "cpu_cores", pa.array(cpu)).append_column("restarts", restarts)
    assert_same_as_numpy(tab, DEFAULT)


@given(st.lists(st.floats(min_value=0, max_value=2.0**53, allow_subnormal=True),
                min_size=1, max_size=300))
@settings(max_examples=60, deadline=None)
def test_every_value_lands_in_numpys_bucket(values: list[float]) -> None:
    values = (values * 8)[:max(8, len(values))]  # a pod of a few samples is numpy's
    n = len(values)
    tab = table(n_pods=1, rows=n).set_column(5, "cpu_cores", pa.array(values, pa.float64()))
    assert_same_as_numpy(tab, DEFAULT)


def shaped(seed: int, pods: int, rows: int, nulls: bool) -> pa.Table:
    """Pods of random lengths one after another, times in random steps (seconds to hours,
    some landing exactly on hours and midnights), limits that change, go missing or are
    null, CPU and memory across magnitudes; often more rows than a block of the pass."""
    rng = np.random.default_rng(seed)
    pods = max(1, min(pods, rows // 8))  # pods of a few samples are numpy's
    rows = max(rows, 8)
    cut = np.sort(rng.choice(np.arange(1, rows), size=pods - 1, replace=False))
    pod = np.repeat(np.arange(len(cut) + 1), np.diff(np.r_[0, cut, rows]))
    step = rng.choice([1, 60, 3600, 86_400, 7], size=rows, p=[0.3, 0.5, 0.1, 0.05, 0.05])
    start = pd.Timestamp("2026-11-20T23:00:00Z").value // 10**9
    t = np.empty(rows, dtype=np.int64)
    for p in np.unique(pod):
        at = np.flatnonzero(pod == p)
        t[at] = start + rng.integers(-3 * 3600, 3600) + np.cumsum(step[at])
    limit = rng.choice([5e8, 6e8, np.nan], size=rows, p=[0.6, 0.3, 0.1])
    mask = rng.random(rows) < 0.1 if nulls else None
    return pa.table({
        "timestamp": pa.array(t * 10**6, pa.timestamp("us", tz="UTC")),
        "namespace": names([f"ns{p % 3}" for p in pod]),
        "workload": names([f"w{p % 5}" for p in pod]),
        "pod": names([f"pod-{p}" for p in pod]),
        "container": names(["main" if p % 2 else "side" for p in pod]),
        "cpu_cores": pa.array(rng.gamma(1.5, 0.3, rows) * rng.choice([1e-4, 1, 30], rows)),
        "memory_working_set_bytes": pa.array(rng.lognormal(18, 2, rows)),
        "memory_request_bytes": pa.array(np.full(rows, 4e8), mask=mask),
        "memory_limit_bytes": pa.array(limit, mask=mask),
    })


@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.integers(1, 20_000), st.booleans())
@settings(max_examples=40, deadline=None)
def test_any_shape_of_runs_gives_the_numpy_paths_rows(seed: int, pods: int, rows: int,
                                                      nulls: bool) -> None:
    assert_same_as_numpy(shaped(seed, pods, rows, nulls), UNWEIGHTED)


@pytest.mark.parametrize("first", [sketch.CPU_FIRST, sketch.MEM_FIRST])
def test_bucket_bounds_are_where_numpys_buckets_begin(first: float) -> None:
    bounds = compiled.bucket_bounds(first)
    m = np.arange(1, sketch.NBUCKETS)
    assert (sketch.bucket_index(bounds[1:], first) == m).all()
    below = np.nextafter(bounds[1:], 0.0)
    assert (sketch.bucket_index(below, first) == m - 1).all()


def bad_chunk(case: str) -> pa.Table:
    tab = table(n_pods=2, rows=200)
    if case == "missing CPU":
        return tab.set_column(5, "cpu_cores", pa.array([None] + [0.1] * 199, pa.float64()))
    if case == "negative memory":
        return tab.set_column(6, "memory_working_set_bytes", pa.array([-1.0] + [1e8] * 199))
    if case == "limit past 2^53":
        return tab.set_column(9, "memory_limit_bytes", pa.array([2.0**54] * 200))
    if case == "time out of span":
        ts = tab.column("timestamp").cast(pa.int64()).to_numpy().copy()
        ts[3] = 10**18  # year 33658, in microseconds
        return tab.set_column(0, "timestamp", pa.array(ts, pa.timestamp("us", tz="UTC")))
    if case == "time repeated":
        ts = tab.column("timestamp").cast(pa.int64()).to_numpy().copy()
        ts[5] = ts[4]
        return tab.set_column(0, "timestamp", pa.array(ts, pa.timestamp("us", tz="UTC")))
    if case == "pod in two runs":
        order = np.r_[0:50, 100:150, 50:100, 150:200]
        return tab.take(pa.array(order))
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["missing CPU", "negative memory", "limit past 2^53",
                                  "time out of span", "time repeated"])
def test_what_the_pass_does_not_take_goes_back_to_the_numpy_path(case: str) -> None:
    chunk = table_columns(bad_chunk(case), "t.parquet", 0)
    assert chunk is None or compiled.scan(chunk, DEFAULT) is None


def test_a_pod_in_two_runs_is_left_to_the_caller_to_see() -> None:
    # The pass reads runs; that a pod comes back is found among the run starts' names.
    chunk = table_columns(bad_chunk("pod in two runs"), "t.parquet", 0)
    assert chunk is not None
    got = compiled.scan(chunk, DEFAULT)
    assert got is not None and len(got.run_start) == 4
    spans = PodSpans()
    assert compiled.take(chunk, spans, DEFAULT, 2**62, pods=100) is None
    assert len(spans) == 0


def test_weighted_columns_take_the_numpy_path() -> None:
    chunk = table_columns(table(), "t.parquet", 0)
    assert chunk is not None and compiled.scan(chunk, None) is None


def test_a_damaged_name_index_is_reported_as_the_frame_path_reports_it() -> None:
    tab = table(n_pods=1, rows=10)
    bad = pa.DictionaryArray.from_arrays(pa.array([0] * 9 + [7], pa.int32()),
                                         pa.array(["ns0"]), safe=False)
    chunk = table_columns(tab.set_column(1, "namespace", bad), "t.parquet", 0)
    assert chunk is not None and compiled.scan(chunk, DEFAULT) is None
    with pytest.raises(InputError, match="past the file's 1 names"):
        chunk.frame()


@pytest.mark.parametrize("change", ["null pod", "blank namespace", "control character",
                                    "bidi override", "slash in workload", "empty workload",
                                    "text cpu", "no workload column"])
def test_unusual_chunks_are_made_frames(change: str) -> None:
    tab = table(n_pods=2, rows=10)
    if change == "null pod":
        tab = tab.set_column(3, "pod", pa.array(["a"] * 9 + [None]).dictionary_encode())
    elif change == "blank namespace":
        tab = tab.set_column(1, "namespace", names(["  "] * 10))
    elif change == "control character":
        tab = tab.set_column(4, "container", names(["ma\nin"] * 10))
    elif change == "bidi override":
        tab = tab.set_column(3, "pod", names(["pod\u202e"] * 10))
    elif change == "slash in workload":
        tab = tab.set_column(2, "workload", names(["web/app"] * 10))
    elif change == "empty workload":
        tab = tab.set_column(2, "workload", names([""] * 10))
    elif change == "text cpu":
        tab = tab.set_column(5, "cpu_cores", pa.array(["0.1"] * 10))
    else:
        tab = tab.drop_columns(["workload"])
    assert table_columns(tab, "t.parquet", 0) is None


def test_a_node_name_validation_refuses_makes_the_chunk_a_frame_that_refuses_it() -> None:
    """Nodes are not rolled up, but recommend --from must refuse the file import refuses."""
    assert table_columns(table(n_pods=2, rows=40, node=names(["n1"] * 40)), "t", 0) is not None
    bad = table(n_pods=2, rows=40, node=names(["n1"] * 39 + ["n1\u202e"]))
    chunk_of_bad = table_columns(bad, "t.parquet", 0)
    assert chunk_of_bad is None
    with pytest.raises(InputError, match=r"column 'node', row 39: name 'n1\\u202e' holds"):
        validate_usage(table_frame(bad, "t.parquet"), "t.parquet", row_offset=0)


def test_a_throttled_share_above_one_makes_the_chunk_a_frame_that_refuses_it() -> None:
    """The compiled pass checks numbers from 0 to 2^53; a share must be at most 1."""
    share = pa.array([0.5] * 38 + [None, 1.0], pa.float64())
    assert table_columns(table(n_pods=2, rows=40, cpu_throttled_ratio=share), "t", 0) \
        is not None
    bad = table(n_pods=2, rows=40, cpu_throttled_ratio=pa.array([0.5] * 39 + [1.5]))
    assert table_columns(bad, "t.parquet", 0) is None
    with pytest.raises(InputError, match=r"'cpu_throttled_ratio', row 39: a share must be"):
        validate_usage(table_frame(bad, "t.parquet"), "t.parquet", row_offset=0)


@pytest.mark.parametrize("values, taken", [
    ([0.5] * 39 + [float("nan")], True),  # NaN is missing, with or without nulls
    ([None] * 39 + [1.5], False),
    ([float("nan")] * 39 + [1.5], False),
    ([0.0] * 40, True),
])
def test_a_share_column_is_read_for_its_largest_value_with_and_without_nulls(
        values: list[float | None], taken: bool) -> None:
    share = pa.array(values, pa.float64(), from_pandas=False)
    got = table_columns(table(n_pods=2, rows=40, cpu_throttled_ratio=share), "t", 0)
    assert (got is not None) == taken
    # Sliced out of a longer column (a chunk of a row group): its own values only.
    longer = pa.array([2.0] * 5 + values, pa.float64(), from_pandas=False).slice(5)
    got = table_columns(table(n_pods=2, rows=40, cpu_throttled_ratio=longer), "t", 0)
    assert (got is not None) == taken


def test_a_chunk_of_more_pods_than_the_fold_takes_at_once_goes_to_numpy() -> None:
    chunk = table_columns(table(n_pods=7, rows=7 * 1500), "t.parquet", 0)
    assert chunk is not None
    spans = PodSpans()
    assert compiled.take(chunk, spans, DEFAULT, 2**62, pods=6) is None
    assert len(spans) == 0
    assert compiled.take(chunk, spans, DEFAULT, 2**62, pods=7) is not None


def test_a_pod_seen_in_an_earlier_chunk_at_the_same_times_is_an_overlap() -> None:
    chunk = table_columns(table(n_pods=2, rows=400), "t.parquet", 0)
    assert chunk is not None
    spans = PodSpans()
    assert compiled.take(chunk, spans, DEFAULT, 2**62, pods=100) is not None
    with pytest.raises(Overlap):
        compiled.take(chunk, spans, DEFAULT, 2**62, pods=100)


def test_a_sample_after_the_newest_time_allowed_leaves_the_chunk_to_numpy() -> None:
    chunk = table_columns(table(n_pods=2, rows=400), "t.parquet", 0)
    assert chunk is not None
    newest = int(chunk.ts.max()) * chunk.scale
    spans = PodSpans()
    assert compiled.take(chunk, spans, DEFAULT, newest - 1, pods=100) is None
    assert len(spans) == 0  # nothing recorded for a chunk handed back
    assert compiled.take(chunk, spans, DEFAULT, newest, pods=100) is not None


def test_the_hashes_given_with_the_rows_are_their_pods_and_containers() -> None:
    from quotatune.model import KEY_COLUMNS
    from quotatune.rollup.namehash import frame_hashes, pod_hashes
    chunk = table_columns(table(n_pods=7, rows=7 * 1500), "t.parquet", 0)
    assert chunk is not None
    got = compiled.take(chunk, PodSpans(), DEFAULT, 2**62, pods=100)
    assert got is not None
    pods, containers = got.hashes
    assert np.array_equal(pods, pod_hashes(got.rows.frame))
    assert np.array_equal(containers, frame_hashes(got.rows.frame, KEY_COLUMNS))


def test_a_chunk_of_pods_of_a_few_samples_each_is_made_a_frame() -> None:
    assert table_columns(table(n_pods=40, rows=200), "t.parquet", 0) is None  # 5 a pod
    assert table_columns(table(n_pods=20, rows=200), "t.parquet", 0) is not None  # 10


def test_pods_are_counted_by_the_names_the_rows_use_not_the_dictionary() -> None:
    tab = table(n_pods=2, rows=200)
    many = pa.DictionaryArray.from_arrays(
        pa.array([0] * 100 + [1] * 100, pa.int32()),
        pa.array(["app0-0", "app0-1", *(f"old-{i}" for i in range(500))]))
    assert table_columns(tab.set_column(3, "pod", many), "t.parquet", 0) is not None


def test_samples_on_the_last_days_nanoseconds_can_hold_are_numpys() -> None:
    """The pass works out a day's end in int64 nanoseconds, which overflows on 2262-04-11."""
    tab = table(n_pods=1, rows=16)
    last = pd.Timestamp("2262-04-11T00:00:00Z").value // 1000
    ts = pa.array(last - 16 * 60 * 10**6 + np.arange(16) * 60 * 10**6,
                  pa.timestamp("us", tz="UTC"))
    chunk = table_columns(tab.set_column(0, "timestamp", ts), "t.parquet", 0)
    assert chunk is not None and compiled.scan(chunk, DEFAULT) is None
    chunk.frame()  # validation takes these times: the numpy path rolls them up
