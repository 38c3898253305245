"""The compiled quantiles give what both numpy paths give (dense blocks, sparse entries),
to the bit, or step aside for them.

Histories are real rollups (:func:`quotatune.rollup.sketch.daily_rollup`) of samples drawn
to reach the corners: empty histograms, one bucket, values at bucket bounds, containers
that straddle days, and more containers than one dense block holds."""

from __future__ import annotations

import shutil
import sysconfig

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quotatune.analysis import quantiles
from quotatune.analysis.strategies.tail import CPU_QUANTILES
from quotatune.analysis.summary import BLOCK_CELLS, History, percentile_values
from quotatune.model import validate_usage
from quotatune.rollup import sketch
from quotatune.rollup.sketch import daily_rollup

compiled = pytest.mark.skipif(not quantiles.AVAILABLE, reason="built without a C compiler")
START = pd.Timestamp("2026-11-20T20:00:00Z")


def history(cpu: list[np.ndarray], *, step_s: int = 600) -> History:
    """A container per array of CPU samples (cores), each a pod sampled every ``step_s``
    from the same start (so long ones cross midnight: several rollup rows)."""
    frames = []
    for i, values in enumerate(cpu):
        n = len(values)
        frames.append(pd.DataFrame({
            "timestamp": START + pd.to_timedelta(np.arange(n) * step_s, unit="s"),
            "namespace": f"ns{i % 3}", "workload": f"app{i}", "container": "main",
            "pod": f"app{i}-0", "cpu_cores": values,
            "memory_working_set_bytes": 1e8 + np.arange(n) * 1e5,
        }))
    usage = validate_usage(pd.concat(frames, ignore_index=True), "test")
    return History(daily_rollup(usage))


def assert_all_paths_agree(h: History, qs: np.ndarray) -> None:
    got = percentile_values(h, "cpu", qs)  # the compiled search where it applies
    np.testing.assert_array_equal(got, percentile_values(h, "cpu", qs, sparse=False))
    np.testing.assert_array_equal(got, percentile_values(h, "cpu", qs, sparse=True))


def bounds_of(first: float, buckets: np.ndarray) -> np.ndarray:
    return np.asarray(sketch.bucket_start(buckets, first))


samples = st.lists(
    st.one_of(
        st.floats(0, 64, allow_nan=False, allow_subnormal=True),
        st.sampled_from([0.0, 0.001, 0.01, 1.0, 999.0, 1e-300]),
        st.integers(0, sketch.NBUCKETS).map(
            lambda b: float(bounds_of(sketch.CPU_FIRST, np.array([b]))[0])),
    ),
    min_size=1, max_size=300)


@compiled
@settings(max_examples=150, deadline=None)
@given(cpu=st.lists(samples, min_size=1, max_size=12),
       qs=st.lists(st.floats(1e-6, 1.0), min_size=1, max_size=6))
def test_the_compiled_quantiles_are_the_numpy_paths_to_the_bit(cpu: list[list[float]],
                                                              qs: list[float]) -> None:
    h = history([np.array(c) for c in cpu])
    assert_all_paths_agree(h, np.array(qs))
    assert_all_paths_agree(h, CPU_QUANTILES)


@compiled
def test_containers_past_the_first_dense_block_agree_too() -> None:
    """Each container's shares are offset by its place in its block of dense rows, and that
    addition's rounding is part of the answer: the search must make the same offset."""
    rng = np.random.default_rng(7)
    step = BLOCK_CELLS // sketch.NBUCKETS
    cpu = [rng.gamma(2.0, 0.1, 4) * rng.choice([1e-3, 1.0, 30.0]) for _ in range(step + 40)]
    cpu[step] = np.zeros(4)  # the first row of the second block: all in bucket 0
    h = history(cpu, step_s=3600)
    assert h.size > step
    assert_all_paths_agree(h, CPU_QUANTILES)
    assert_all_paths_agree(h, np.array([1e-12, 0.5, 1.0]))


@compiled
def test_a_container_without_samples_in_its_histogram_gets_zero() -> None:
    h = history([np.array([0.5, 0.7]), np.array([0.2])])
    rows = h._rows.copy()
    silent = (rows["workload"] == "app1").to_numpy()  # its rows' histograms left empty
    for col, dtype in (("cpu_b", "int16"), ("cpu_c", "int32")):
        rows[col] = [np.empty(0, dtype) if s else v for s, v in zip(silent, rows[col],
                                                                     strict=True)]
    h = History(rows)
    got = percentile_values(h, "cpu", np.array([0.5, 0.99]))
    assert got[1].tolist() == [0.0, 0.0] and (got[0] > 0).all()
    assert_all_paths_agree(h, np.array([0.5, 0.99]))


def test_the_search_steps_aside_where_it_could_not_answer_as_the_dense_one() -> None:
    h = history([np.array([0.5, 0.7, 0.9])])
    order, bounds, (buckets, offsets), (counts, _) = h.bucket_lists("cpu")
    step = BLOCK_CELLS // sketch.NBUCKETS

    def fractions(qs: list[float], b: np.ndarray = buckets, c: np.ndarray = counts) -> object:
        return quantiles.bucket_fractions(order, bounds, offsets, b, c, sketch.NBUCKETS, step,
                                          np.array(qs))

    if quantiles.AVAILABLE:
        assert fractions([0.5, 1.0]) is not None
    # Outside (0, 1], or so small that the offset of a block's last row swallows it (the
    # dense search would land in the row before).
    for qs in ([0.0], [1.5], [-0.1], [1e-14], []):
        assert fractions(qs) is None, qs
    assert fractions([0.5], b=buckets.astype("int64")) is None  # not the stored types
    assert fractions([0.5], c=counts.astype("float64")) is None
    if quantiles.AVAILABLE:
        assert fractions([0.5], b=np.full_like(buckets, sketch.NBUCKETS)) is None
        assert fractions([0.5], b=np.full_like(buckets, -1)) is None


def test_the_compiled_quantiles_are_built_where_a_c_compiler_is() -> None:
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        pytest.skip("no C compiler here")
    assert quantiles.AVAILABLE
