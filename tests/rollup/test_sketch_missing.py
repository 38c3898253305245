"""A library caller's usage frame with a sample missing its CPU or memory (NaN): the rollup
refuses it with the one-line error validation gives, naming the column and the row, instead
of failing inside its histograms or summing to NaN.  Missing requests and limits stay
allowed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quotatune.model import InputError, validate_usage
from quotatune.rollup.sketch import daily_rollup
from quotatune.rollup.table import rollup_table


def frame() -> pd.DataFrame:
    """Two pods, six samples each, listed pod after pod in time order; no limits set."""
    ts = pd.date_range("2026-11-20T10:00:00Z", periods=6, freq="1min")
    return pd.DataFrame({
        "timestamp": list(ts) * 2, "namespace": "shop", "workload": "web",
        "pod": ["web-a"] * 6 + ["web-b"] * 6, "container": "app",
        "cpu_cores": np.linspace(0.1, 1.2, 12), "memory_working_set_bytes": 3e8,
        "memory_limit_bytes": np.nan,
    })


def validation_error(usage: pd.DataFrame) -> str:
    with pytest.raises(InputError) as err:
        validate_usage(usage, "usage frame", row_offset=0)
    return str(err.value)


@pytest.mark.parametrize("column", ["cpu_cores", "memory_working_set_bytes"])
def test_a_missing_measurement_is_the_error_validation_gives(column: str) -> None:
    usage = frame()
    usage.loc[[8, 10], column] = np.nan
    with pytest.raises(InputError) as err:
        daily_rollup(usage)
    assert str(err.value) == f"usage frame: column '{column}', row 8: missing value"
    assert str(err.value) == validation_error(usage)


def test_the_row_is_the_frames_own_when_its_rows_need_sorting() -> None:
    """Listed newest first, the rows are sorted before they are rolled up (sorted, row 4 is
    met before row 1): the error still names the first NaN sample of the frame given."""
    usage = frame().iloc[::-1].reset_index(drop=True)
    usage.loc[[1, 4], "cpu_cores"] = np.nan
    with pytest.raises(InputError) as err:
        daily_rollup(usage)
    assert str(err.value) == "usage frame: column 'cpu_cores', row 1: missing value"
    assert str(err.value) == validation_error(usage)


def test_the_rollup_of_a_few_columns_and_the_stores_table_refuse_it_too() -> None:
    """Without histograms the rollup used to give a NaN sum quietly; the store's writer
    builds its table through the same columns."""
    usage = frame()
    usage.loc[0, "cpu_cores"] = np.nan
    with pytest.raises(InputError, match="'cpu_cores', row 0"):
        daily_rollup(usage, columns=["n", "cpu_sum", "mem_max"])
    with pytest.raises(InputError, match="'cpu_cores', row 0"):
        rollup_table(usage)


def test_missing_limits_are_allowed_and_the_measurements_summed() -> None:
    r = daily_rollup(frame())
    assert r["n"].tolist() == [6, 6]
    assert r["cpu_sum"].tolist() == pytest.approx([2.1, 5.7])
    assert r["memory_limit_bytes"].isna().all()
