"""The backtest from per-day rollups against the backtest of every sample, on the bundled
Bitbrains sample: on the same split, every score agrees exactly or within the one fine
histogram bucket the module docstring of quotatune.analysis.daily_backtest states."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quotatune.analysis.backtest import backtest, sized, split
from quotatune.analysis.daily_backtest import backtest_rollups, daily_split, rollup_folds
from quotatune.analysis.folds import rolling_folds
from quotatune.analysis.recommend import recommend_from_rollups
from quotatune.model import KEY_COLUMNS
from quotatune.model.errors import InputError
from quotatune.rollup.sketch import CPU_FIRST, FINE_RATIO, MEM_FIRST, RATIO, daily_rollup
from quotatune.sources.files.tables import read_bitbrains
from tests.conftest import ROOT

STRATEGIES = ["krr", "vpa", "tail", "window-pct"]
EXACT = ("containers", "cores", "mem_gib", "mem_oom_vms", "left_out")


def sample(shift_to_midnight: bool) -> pd.DataFrame:
    """The bundled sample; shifted, each VM's first sample sits at a UTC midnight, so that
    splitting at its first sample + 14 days and at its 14th UTC day are the same split."""
    parts = []
    for f in sorted((ROOT / "data" / "sample").glob("*.csv.gz")):
        u = read_bitbrains(Path(f)).usage
        if shift_to_midnight:
            t0 = u["timestamp"].min()
            u["timestamp"] += t0.ceil("D") - t0
        parts.append(u)
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def shifted() -> pd.DataFrame:
    return sample(shift_to_midnight=True)


def bucket_bounds(values: np.ndarray, limits: np.ndarray, first: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Which samples are surely above their limit (above the top of the limit's bucket), and
    which may be (at or above its start): a fine bucket around x spans at most
    x / r - a .. x * r + a."""
    a = first * (FINE_RATIO - 1) / (RATIO - 1)
    return values >= limits * FINE_RATIO + a, values > (limits - a) / FINE_RATIO


def test_on_the_same_split_scores_agree_within_one_fine_bucket(shifted):
    by_sample = {s.strategy: s for s in backtest(shifted, STRATEGIES)}
    by_rollup = {s.strategy: s for s in backtest_rollups(daily_rollup(shifted), STRATEGIES)}
    assert set(by_rollup) == set(by_sample) == {*STRATEGIES, "current"}
    sp = split(shifted, 14, 7)
    for name in STRATEGIES:
        s, r = by_sample[name], by_rollup[name]
        for field in EXACT:
            assert getattr(r, field) == pytest.approx(getattr(s, field)), (name, field)
        recs = recommend_from_rollups(daily_rollup(sp.train), strategy=name)
        t = sp.test.merge(sized(recs, False)[0], on=KEY_COLUMNS)
        use, req = t["cpu_cores"].to_numpy(), t["cpu_req"].to_numpy()
        surely, maybe = bucket_bounds(use, req, CPU_FIRST)
        assert surely.mean() <= r.cpu_over <= maybe.mean(), name
        # Σ max(req - use, 0) is off by at most a bucket width per sample that may be above.
        width = (FINE_RATIO - 1) * use + CPU_FIRST * (FINE_RATIO - 1) / (RATIO - 1)
        assert abs(r.cpu_slack - s.cpu_slack) <= width[maybe].sum() / req.sum(), name
        mem, lim = t["memory_working_set_bytes"].to_numpy(), t["mem_lim"].to_numpy()
        _, maybe = bucket_bounds(mem, lim, MEM_FIRST)
        width = (FINE_RATIO - 1) * mem + MEM_FIRST * (FINE_RATIO - 1) / (RATIO - 1)
        assert abs(r.mem_slack - s.mem_slack) <= width[maybe].sum() / lim.sum() + 1e-12, name
    for field in EXACT:  # the VMs' own provisioning, on the same containers
        assert getattr(by_rollup["current"], field) == getattr(by_sample["current"], field)


def test_folds_from_rollups_are_the_sample_folds_within_one_bucket():
    """Folds are whole UTC days in both paths: nothing shifted, the same folds."""
    usage = sample(shift_to_midnight=False)
    kw = {"shapes": [(7, 7)], "folds": 3}
    a = rolling_folds(usage, ["krr", "tail"], **kw)
    b = rollup_folds(daily_rollup(usage), ["krr", "tail"], **kw)
    assert list(a.columns) == list(b.columns) and len(a) == len(b) == 6
    assert (a["origin"] == b["origin"]).all() and (a["strategy"] == b["strategy"]).all()
    for col in (*EXACT, "gib_vs_krr", "oom_vs_krr"):
        assert np.allclose(a[col].to_numpy("float64"), b[col].to_numpy("float64")), col
    assert np.allclose(a["cpu_over"], b["cpu_over"], atol=0.01)


def test_the_split_is_by_whole_utc_days_from_each_containers_first_day(shifted):
    r = daily_rollup(shifted)
    train, test = daily_split(r, 3, 2)
    per = train.groupby("workload")["day"].agg(["min", "max", "count"])
    assert (per["count"] == 3).all()
    assert ((per["max"] - per["min"]) == pd.Timedelta(days=2)).all()
    assert (test.groupby("workload")["day"].min() == per["max"] + pd.Timedelta(days=1)).all()
    with pytest.raises(InputError, match="--train-days must be a positive whole number"):
        daily_split(r, 1.5, 1)
    with pytest.raises(InputError, match="no samples after the first 30 training days"):
        daily_split(r, 30, 1)
