"""The store writes a day's rollup as an Arrow table built from flat list columns: the same
table, value for value and null for null, as converting :func:`daily_rollup`'s frame, and it
reads back as the same frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from quotatune.rollup.sketch import daily_rollup
from quotatune.rollup.table import rollup_table
from tests.rollup.test_sketch import assert_same_rows, usage
from tests.support.store_data import troubled_fleet


def inputs() -> dict[str, pd.DataFrame]:
    listed = usage(categorical=True)
    fleet, _ = troubled_fleet(containers=8, days=2)
    no_pod = usage(categorical=False).drop(columns=["pod"])
    with_platform = usage(categorical=False).assign(platform="jvm", cpu_request_cores=0.5)
    with_platform.loc[::7, "cpu_request_cores"] = np.nan
    return {
        "listed series by series": listed,
        "shuffled (sorted first)": listed.sample(frac=1.0, random_state=2).reset_index(
            drop=True),
        "a troubled fleet over days": fleet,
        "no pod column": no_pod,
        "a platform, requests missing now and then": with_platform,
    }


@pytest.mark.parametrize("case", list(inputs()))
def test_the_table_is_the_frames_conversion_and_reads_back_as_the_frame(case: str) -> None:
    day = inputs()[case]
    frame = daily_rollup(day)
    table = rollup_table(day)
    assert table.equals(pa.Table.from_pandas(frame, preserve_index=False))
    assert_same_rows(table.to_pandas(), frame)


def test_an_empty_day_is_an_empty_table_of_the_rollup_columns() -> None:
    empty = usage(categorical=False).iloc[:0]
    table = rollup_table(empty)
    assert table.num_rows == 0 and table.column_names == list(daily_rollup(empty).columns)
