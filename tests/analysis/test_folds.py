"""Rolling-origin folds: where the origins fall, that every fold scores exactly what a
single backtest of the same days scores, answers worked out by hand, and the summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quotatune.analysis.backtest import score
from quotatune.analysis.folds import fold_origins, fold_summary, rolling_folds
from quotatune.analysis.recommend import recommend
from quotatune.model.errors import InputError

MIB = 1 << 20
T0 = pd.Timestamp("2026-11-01T02:00:00Z")  # a partial first day, as in real traces


def trace(days: int, name: str, cpu, mem, step_s: int = 300, start=T0) -> pd.DataFrame:
    """``days`` of samples; ``cpu`` and ``mem`` map the day index to a value per sample."""
    n = days * 86400 // step_s
    ts = start + pd.to_timedelta(np.arange(n) * step_s, unit="s")
    day = ((ts - ts[0].floor("D")) // pd.Timedelta(days=1)).to_numpy()
    return pd.DataFrame({
        "timestamp": ts, "namespace": "ns", "workload": name, "pod": name + "-0",
        "container": "c", "cpu_cores": [cpu(d, i) for i, d in enumerate(day)],
        "memory_working_set_bytes": [mem(d, i) * MIB for i, d in enumerate(day)],
    })


def test_origins_are_midnights_with_whole_days_on_both_sides():
    first = pd.Timestamp("2026-11-01T02:00Z")
    last = pd.Timestamp("2026-11-22T20:00Z")
    # Training starts at the first full day (Nov 2); tests end by the end of Nov 22.
    assert fold_origins(first, last, 14, 7) == [pd.Timestamp("2026-11-16T00:00Z")]
    seven = fold_origins(first, last, 7, 7)
    assert seven[0] == pd.Timestamp("2026-11-09T00:00Z")
    assert seven[-1] == pd.Timestamp("2026-11-16T00:00Z") and len(seven) == 8
    assert len(fold_origins(first, last, 7, 7, step_days=2)) == 4
    assert fold_origins(first, last, 21, 7) == []


def test_every_fold_scores_what_a_backtest_of_the_same_days_scores():
    rng = np.random.default_rng(3)
    usage = pd.concat([
        trace(12, "a", lambda d, i: rng.uniform(0.1, 0.5), lambda d, i: 300 + 20 * d),
        trace(12, "b", lambda d, i: 0.2 + 0.1 * (i % 7 == 0), lambda d, i: 80 + (i % 50)),
    ], ignore_index=True)
    table = rolling_folds(usage, ["krr", "tail"], shapes=[(5, 3)])
    origins = sorted(table["origin"].unique())
    # Nov 7 .. Nov 11: training from Nov 2 (the first full day), tests ending by the end of
    # the last (partial) day, Nov 13.
    assert [pd.Timestamp(o).day for o in origins] == [7, 8, 9, 10, 11]
    for origin in origins:
        o = pd.Timestamp(origin)
        train = usage[(usage.timestamp >= o - pd.Timedelta(days=5)) & (usage.timestamp < o)]
        test = usage[(usage.timestamp >= o) & (usage.timestamp < o + pd.Timedelta(days=3))]
        for name in ("krr", "tail"):
            want = score(name, recommend(train, strategy=name), test.reset_index(drop=True))
            got = table[(table.origin == origin) & (table.strategy == name)].iloc[0]
            for field in ("containers", "cores", "cpu_slack", "cpu_over", "mem_gib",
                          "mem_slack", "mem_oom_vms", "left_out"):
                assert got[field] == pytest.approx(getattr(want, field)), (origin, name, field)
    latest = rolling_folds(usage, ["krr"], shapes=[(5, 3)], folds=2)
    assert [pd.Timestamp(o).day for o in latest["origin"]] == [10, 11]
    krr = table[table.strategy == "krr"]
    assert (krr["oom_vs_krr"] == np.where(krr["mem_oom_vms"] > 0, 1.0, 0.0)).all()
    assert (krr["cores_vs_krr"] == 1.0).all() and "cores_vs_vpa" not in table.columns


def test_a_fold_worked_out_by_hand():
    # CPU 0.5 core and memory 100 MiB for 3 full days; the test day uses 0.6 core in every
    # other sample and reaches 200 MiB once.  KRR: request 500m (p95 of a constant), limit
    # 100 x 1.15 = 115 MiB -> half the test samples over, one OOM VM, 0.5 cores, 115 MiB.
    def cpu(d, i):
        return 0.6 if d == 4 and i % 2 else 0.5

    def mem(d, i):
        return 200 if d == 4 and i % 288 == 100 else 100

    usage = trace(5, "a", cpu, mem, start=pd.Timestamp("2026-11-01T00:00Z"))
    table = rolling_folds(usage, ["krr"], shapes=[(3, 1)])
    row = table[table.origin == pd.Timestamp("2026-11-04T00:00Z")].iloc[0]
    assert row.cores == pytest.approx(0.5)
    assert row.mem_gib == pytest.approx(115 / 1024)
    assert row.cpu_over == 0 and row.mem_oom_vms == 0  # this fold tests day 3, not day 4
    last = table[table.origin == pd.Timestamp("2026-11-05T00:00Z")].iloc[0]
    assert last.cpu_over == pytest.approx(144 / 288) and last.mem_oom_vms == 1


def test_summary_gives_worst_median_and_best_fold():
    table = pd.DataFrame({
        "shape": ["7+7"] * 3, "strategy": ["tail"] * 3, "origin": [1, 2, 3],
        "cores": [10.0, 12.0, 11.0], "cpu_slack": [0.5, 0.4, 0.6], "cpu_over": [0.04, 0.06, 0.05],
        "mem_gib": [3.0, 2.0, 4.0], "mem_slack": [0.1, 0.2, 0.3], "mem_oom_vms": [1, 5, 3],
    })
    s = fold_summary(table).set_index("metric")
    assert s.loc["cores", ["worst", "median", "best"]].tolist() == [12.0, 11.0, 10.0]
    assert s.loc["mem_oom_vms", ["worst", "median", "best"]].tolist() == [5, 3, 1]
    assert (s["folds"] == 3).all()


def test_bad_fold_lengths_and_short_data_are_input_errors():
    usage = trace(3, "a", lambda d, i: 0.1, lambda d, i: 50)
    with pytest.raises(InputError, match="whole number"):
        rolling_folds(usage, ["krr"], shapes=[(1.5, 1)])
    with pytest.raises(InputError, match="too short"):
        rolling_folds(usage, ["krr"], shapes=[(14, 7)])
    with pytest.raises(InputError, match="number of folds"):
        rolling_folds(usage, ["krr"], shapes=[(1, 1)], folds=0)
    with pytest.raises(InputError, match="unknown strategy"):
        rolling_folds(usage, ["nope"], shapes=[(1, 1)])
