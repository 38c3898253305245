"""Rollups of pieces of a day merge into the rollup of the whole day."""

from __future__ import annotations

import numpy as np
import pandas as pd

from quotatune.model import validate_usage
from quotatune.rollup.merge import merge_rollups
from quotatune.rollup.sketch import ROLLUP_COLUMNS, daily_rollup


def usage() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    ts = pd.date_range("2026-11-20T00:00:00Z", periods=3 * 1440, freq="1min")
    frames = [pd.DataFrame({
        "timestamp": ts, "namespace": "shop", "workload": f"app{i}", "pod": f"app{i}-0",
        "container": "main", "cpu_cores": rng.gamma(2.0, 0.1, len(ts)),
        "memory_working_set_bytes": rng.normal(3e8, 1e7, len(ts)).clip(1),
        "memory_limit_bytes": np.where(ts < ts[2000], 5e8, 6e8),
        "cpu_limit_cores": np.where(ts < ts[3000], np.nan, 2.0),
    }) for i in range(4)]
    return validate_usage(pd.concat(frames, ignore_index=True), "test")


def ordered(r: pd.DataFrame) -> pd.DataFrame:
    return r.sort_values(["workload", "day"]).reset_index(drop=True)[ROLLUP_COLUMNS]


def test_pieces_cut_anywhere_merge_into_the_whole_days_rollup() -> None:
    u = usage()
    whole = ordered(daily_rollup(u))
    cuts = [0, 777, 5000, 5001, 9000, len(u)]
    pieces = pd.concat([daily_rollup(u.iloc[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)],
                       ignore_index=True)
    assert len(pieces) > len(whole)
    merged = ordered(merge_rollups(pieces))
    assert len(merged) == len(whole)
    for col in ROLLUP_COLUMNS:
        a, b = merged[col], whole[col]
        if a.dtype == object and isinstance(a.iloc[0], np.ndarray):
            for x, y in zip(a, b, strict=True):
                np.testing.assert_allclose(np.asarray(x, float), np.asarray(y, float),
                                           rtol=1e-12, equal_nan=True)
        elif pd.api.types.is_float_dtype(a):
            np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-12, equal_nan=True)
        else:
            assert list(a) == list(b), col


def test_rows_already_alone_pass_through_unchanged() -> None:
    r = daily_rollup(usage())
    out = merge_rollups(r)
    assert len(out) == len(r) and int(out["n"].sum()) == int(r["n"].sum())


def test_rows_missing_a_name_stay_apart_from_other_containers() -> None:
    """A row whose pod (or any key) is missing is its own container's, not one shared
    bucket for every row with a missing name."""
    r = daily_rollup(usage())
    first_day = r["day"] == r["day"].min()
    r.loc[first_day, "pod"] = None  # four containers, each with a nameless pod on day one
    out = merge_rollups(r)
    assert len(out) == len(r)
    assert sorted(out.loc[out["pod"].isna(), "workload"]) == ["app0", "app1", "app2", "app3"]
