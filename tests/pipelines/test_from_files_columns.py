"""``recommend --from`` rolls up only the columns its strategy reads, as ``--store`` reads only
those: for every strategy the recommendations equal those from complete rollups of the same
files, and the columns it asked for are the complete rollup's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quotatune.analysis.recommend import STRATEGIES, recommend_from_rollups, rollup_columns
from quotatune.model import Target
from quotatune.pipelines.streaming import rollups_from_files
from tests.support.store_data import troubled_fleet

NOW = pd.Timestamp("2026-11-17T00:00:00Z")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The troubled history in two files split in time, so that days arrive in pieces."""
    usage, _ = troubled_fleet()
    cut = usage["timestamp"].quantile(0.6)
    out = []
    for i, part in enumerate((usage[usage["timestamp"] < cut], usage[usage["timestamp"] >= cut])):
        path = tmp_path_factory.mktemp("files") / f"part{i}.parquet"
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), path)
        out.append(path)
    return out


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_every_strategy_sizes_the_same_from_the_columns_it_reads(files, strategy):
    everything = Target.parse("")
    partial = rollups_from_files(files, None, everything, now=NOW,
                                 columns=rollup_columns(strategy))
    full = rollups_from_files(files, None, everything, now=NOW)
    assert recommend_from_rollups(partial.rollups, partial.specs, partial.events,
                                  strategy=strategy) == \
        recommend_from_rollups(full.rollups, full.specs, full.events, strategy=strategy)
    for col in rollup_columns(strategy):
        a, b = partial.rollups[col], full.rollups[col]
        if a.dtype == object and isinstance(a.iloc[0], np.ndarray):
            assert all(np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b, strict=True))
        else:
            assert a.equals(b), col


def test_what_was_not_asked_for_is_left_empty(files):
    tail = rollups_from_files(files, None, Target.parse(""), now=NOW,
                              columns=rollup_columns("tail")).rollups
    assert "mem_b" not in rollup_columns("tail")
    assert all(len(b) == 0 for b in tail["mem_b"])
    assert tail["w_sum"].isna().all()


class Recorded:
    """A Progress that keeps what it was told."""

    def __init__(self) -> None:
        self.phases: list[tuple[str, int | None]] = []
        self.steps = 0
        self.rows = 0

    def phase(self, description: str, total: int | None = None) -> None:
        self.phases.append((description, total))

    def advance(self, steps: int = 1, rows: int = 0) -> None:
        self.steps += steps
        self.rows += rows


def test_reading_files_is_one_phase_with_every_file_and_row(files):
    seen = Recorded()
    out = rollups_from_files(files, None, Target.parse(""), now=NOW, progress=seen)
    assert seen.phases == [("reading files", len(files))]
    assert seen.steps == len(files)
    assert seen.rows == out.samples
