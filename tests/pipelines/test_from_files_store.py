"""``report --from`` and ``diagnose --from`` stream the files into a temporary store and read
it day by day, as ``--store`` does (docs/architecture.md, "The store"): a file read in many
chunks gives exactly the answers of the same file imported into a store, and the findings of
the old whole-frame path."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quotatune.model import Target
from quotatune.model.errors import InputError
from quotatune.pipelines.diagnose import diagnose, from_files_store, from_store, policy_for
from quotatune.pipelines.importing import import_into_store
from quotatune.pipelines.inputs import load_inputs
from quotatune.pipelines.report import build_stored_report
from quotatune.pipelines.stored import diagnose_stored, open_stored, stored_from_files
from quotatune.sources.files.stream import iter_canonical_parquet
from tests.support.store_data import troubled_fleet

NOW = pd.Timestamp("2026-11-17T00:00:00Z")
SINCES = [None, pd.Timedelta(hours=30).to_pytimedelta()]


@pytest.fixture(scope="module")
def chunked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The troubled history as one canonical Parquet file of many small row groups."""
    usage, _ = troubled_fleet()
    path = tmp_path_factory.mktemp("files") / "usage.parquet"
    pq.write_table(pa.Table.from_pandas(usage, preserve_index=False), path,
                   row_group_size=4096)
    return path


@pytest.fixture(scope="module")
def imported(chunked: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("imported") / "store"
    import_into_store([chunked], None, root, None)
    return root


def small_chunks(paths: list[Path], fmt: str | None):
    """The canonical Parquet reader of ``import``, a row group (4,096 rows) per chunk instead
    of a million rows: the temporary store is built from many chunks, as from a large file."""
    for i, path in enumerate(paths):
        for chunk in iter_canonical_parquet(path, rows=4096):
            yield i, path, chunk


def test_the_file_is_read_in_many_chunks(chunked):
    assert sum(1 for _ in small_chunks([chunked], None)) > 5


@pytest.mark.parametrize("since", SINCES)
@pytest.mark.parametrize("target", ["", "ops/", "ops/looper/app"])
def test_diagnose_from_files_equals_the_store_and_the_whole_frame(chunked, imported, target,
                                                                  since):
    t = Target.parse(target)
    got, errors, notes = from_files_store([chunked], None, t, now=NOW, since=since)
    with stored_from_files([chunked], None, t, read=small_chunks) as s:
        assert diagnose_stored(s, now=NOW, policy=policy_for(NOW, since)) == got
    assert got == from_store(imported, t, now=NOW, since=since)
    assert got == diagnose(load_inputs([chunked], None, None, t), now=NOW, since=since)
    assert not errors and not notes
    assert got or since is not None  # the whole history has findings for every target


@pytest.mark.parametrize("target", ["", "ops/"])
def test_report_from_files_equals_the_report_from_the_store(chunked, imported, target):
    t = Target.parse(target)
    with stored_from_files([chunked], None, t, read=small_chunks) as s:
        new = build_stored_report(s, now=NOW, top=8, shapes=["4cpu/16Gi"])
    old = build_stored_report(open_stored(imported, t), now=NOW, top=8, shapes=["4cpu/16Gi"])
    assert new.recommendations == old.recommendations
    assert new.findings == old.findings
    assert new.html == old.html


def test_overlapping_files_count_each_sample_once_with_a_note(chunked, imported):
    rows = pq.ParquetFile(chunked).metadata.num_rows
    with stored_from_files([chunked, chunked], None, Target(), read=small_chunks) as s:
        assert f"ignored {rows} duplicated sample(s) across the input files" in s.notes
        twice = build_stored_report(s, now=NOW, top=8)
    once = build_stored_report(open_stored(imported, Target()), now=NOW, top=8)
    assert twice.recommendations == once.recommendations


def test_samples_stamped_in_the_future_are_left_out_with_a_note(tmp_path):
    usage, _ = troubled_fleet(containers=2, days=1)
    late = usage.iloc[:3].assign(timestamp=pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=2))
    path = tmp_path / "usage.parquet"
    pd.concat([usage, late], ignore_index=True).to_parquet(path, index=False)
    with stored_from_files([path], None, Target()) as s:
        assert any(n.startswith("ignored 3 sample(s) stamped in the future") for n in s.notes)
        assert s.last is not None and s.last == usage["timestamp"].max()


def test_an_unknown_target_names_the_nearest_ones_and_removes_the_temporary_store(chunked):
    with pytest.raises(InputError, match="leaky"):
        with stored_from_files([chunked], None, Target.parse("ops/leakyy")):
            pass
