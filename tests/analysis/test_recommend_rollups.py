"""Per-day rollups merge exactly: recommending from rollups written day by day (as the history
store does) gives the same recommendations as recommending from the raw samples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from quotatune.analysis.recommend import STRATEGIES, recommend, recommend_from_rollups
from quotatune.rollup.sketch import ROLLUP_COLUMNS, daily_rollup

MIB = 1 << 20


def fleet(days: int = 4, containers: int = 5, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = days * 1440
    frames = []
    for c in range(containers):
        t = pd.Timestamp("2026-11-01T07:13:00Z") + pd.to_timedelta(np.arange(n), unit="min")
        frames.append(pd.DataFrame({
            "timestamp": t, "namespace": "shop", "workload": f"w{c}", "pod": f"w{c}-0",
            "container": "app",
            "cpu_cores": rng.gamma(2.0, 0.05 * (c + 1), n),
            "memory_working_set_bytes": (200 + 50 * c + rng.normal(0, 20, n).cumsum() / 10
                                         ).clip(50) * MIB,
            "memory_limit_bytes": 1024.0 * MIB,
            "platform": "kubernetes",
        }))
    return pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=1)


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_rollups_written_day_by_day_give_the_raw_result(strategy):
    u = fleet()
    per_day = [daily_rollup(g) for _, g in u.groupby(u["timestamp"].dt.floor("D"))]
    rollups = pd.concat(per_day, ignore_index=True)
    assert list(rollups.columns) == ROLLUP_COLUMNS
    raw = recommend(u, strategy=strategy)
    merged = recommend_from_rollups(rollups, strategy=strategy)
    assert [r.to_dict() for r in raw] == [r.to_dict() for r in merged]


def test_rollup_recommendations_match_numpy_on_the_raw_samples():
    """Independent of quotatune's own raw path: ``krr`` and ``percentile`` from day-by-day
    rollups against numpy on the raw samples — maxima exactly, percentiles within one fine
    bucket of the sketch (0.5 %) — and every value rounded up to whole millicores / MiB."""
    u = fleet(days=3, containers=4, seed=3)
    rollups = pd.concat([daily_rollup(g) for _, g in u.groupby(u["timestamp"].dt.floor("D"))],
                        ignore_index=True)
    krr = {r.workload: r for r in recommend_from_rollups(rollups, strategy="krr")}
    pct = {r.workload: r for r in recommend_from_rollups(rollups, strategy="percentile")}
    for workload, g in u.groupby("workload"):
        cpu, mem = g["cpu_cores"].to_numpy(), g["memory_working_set_bytes"].to_numpy()
        mem_limit = max(mem.max() * 1.15, 100 * MIB)
        assert krr[workload].memory_limit_mib == int(np.ceil(mem_limit / MIB))
        assert krr[workload].memory_request_mib == krr[workload].memory_limit_mib
        assert pct[workload].memory_limit_mib == int(np.ceil(mem.max() * 1.15 / MIB))
        for rec in (krr[workload], pct[workload]):
            exact_p95_m = max(np.quantile(cpu, 0.95), 0.010 if rec is krr[workload] else 0) * 1000
            assert exact_p95_m * 0.995 - 1 <= rec.cpu_request_millicores <= exact_p95_m * 1.005 + 1
        exact_p99 = np.quantile(mem, 0.99) * 1.15 / MIB
        assert exact_p99 * 0.995 - 1 <= pct[workload].memory_request_mib <= exact_p99 * 1.005 + 1


def test_recommendation_contract():
    u = fleet(days=3, containers=2)
    specs = pd.DataFrame({"namespace": ["shop"], "workload": ["w1"], "container": ["app"],
                          "cpu_request_cores": [0.25], "memory_request_bytes": [300 * MIB]})
    recs = recommend(u, specs)
    assert [r.workload for r in recs] == ["w0", "w1"]
    d = recs[1].to_dict()
    assert d["current"] == {"cpu_request_millicores": 250, "memory_request_mib": 300,
                            "memory_limit_mib": 1024}
    assert d["strategy"] == "tail" and d["status"] == "ok" and d["confidence"] == "medium"
    assert d["samples"] == 3 * 1440 and d["history_hours"] == pytest.approx(72.0, abs=0.1)
    assert all(isinstance(d[k], int) for k in ("cpu_request_millicores", "memory_request_mib",
                                                "memory_limit_mib"))
    assert recs[1].platform == "kubernetes"
    assert recs[0].current.cpu_request_millicores is None  # unknown stays null


def test_unknown_strategy_is_an_input_error():
    from quotatune.model.errors import InputError

    with pytest.raises(InputError, match="unknown strategy 'best'; use one of"):
        recommend(fleet(days=1, containers=1), strategy="best")


def test_no_strategy_is_the_default_but_an_empty_name_is_unknown():
    from quotatune.analysis.recommend import DEFAULT_STRATEGY, get_strategy
    from quotatune.model.errors import InputError

    assert get_strategy(None).name == DEFAULT_STRATEGY == "tail"
    with pytest.raises(InputError, match="unknown strategy ''; use one of"):
        get_strategy("")


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_a_strategy_needs_only_its_rollup_columns(strategy):
    from quotatune.analysis.recommend import rollup_columns

    rollups = daily_rollup(fleet(days=2, containers=3))
    full = recommend_from_rollups(rollups, strategy=strategy)
    part = recommend_from_rollups(rollups[rollup_columns(strategy)], strategy=strategy)
    assert [r.to_dict() for r in full] == [r.to_dict() for r in part]


def test_quantiles_from_the_sketch_are_within_one_fine_bucket_of_exact():
    from quotatune.analysis.summary import History, percentile_values

    u = fleet(days=1, containers=4, seed=5)
    h = History(daily_rollup(u))
    qs = np.array([0.5, 0.9, 0.95, 0.99])
    got = percentile_values(h, "cpu", qs)
    for i, (_, g) in enumerate(u.groupby("workload")):
        exact = np.quantile(g["cpu_cores"], qs)
        assert np.all(np.abs(got[i] - exact) <= exact * 0.005 + 0.001)


@given(st.lists(st.one_of(st.floats(0, 1e6), st.integers(0, 10**6).map(lambda n: n / 1000),
                          st.integers(0, 10**4).map(lambda n: n * 1048576.0 + 0.25),
                          st.floats(2.0**33 / 1000, 2.0**53)),  # past a double's integers
                max_size=30))
@example([11204131508200.89])  # its millicores are an odd integer past 2^53
def test_vectorised_rounding_matches_units(values):
    from quotatune.analysis.recommend import ceil_units
    from quotatune.model.units import bytes_to_mib_ceil, cores_to_millicores_ceil

    arr = np.array(values + [np.nan], dtype=float)
    assert ceil_units(arr, "cpu") == [cores_to_millicores_ceil(v) for v in values] + [None]
    assert ceil_units(arr, "mem") == [bytes_to_mib_ceil(v) for v in values] + [None]


def test_reasons_formatted_a_whole_array_at_a_time_read_as_one_by_one() -> None:
    from quotatune.analysis.strategies.base import fmt_cpu, fmt_cpus, fmt_mem, fmt_mems
    cores = np.array([0.0, 0.25, 0.2500001, 1.0, 3.9999999, 2.0**33 / 1000 + 0.5])
    nbytes = np.array([0.0, 1.0, 2.0**20, 2.0**20 + 1, 10 * 2.0**30, 10 * 2.0**30 - 1, 2.0**53])
    assert fmt_cpus(cores) == [fmt_cpu(v) for v in cores]
    assert fmt_mems(nbytes) == [fmt_mem(v) for v in nbytes]
    with pytest.raises(ValueError):
        fmt_mems(np.array([1.0, np.nan]))
