"""Where analysing commands get their input: ``--from FILE…`` or the store, and a TARGET."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from quotatune.cli.common import split_target_and_files
from quotatune.model import Target
from quotatune.model.errors import InputError
from quotatune.pipelines.inputs import load_inputs
from quotatune.sources.registry import import_files
from quotatune.store.history import Store
from tests.conftest import ROOT

SAMPLE = ROOT / "data" / "sample"
T0 = "2026-11-20T10:00:00Z"
HEADER = "timestamp,namespace,workload,pod,container,cpu_cores,memory_working_set_bytes\n"


def canonical(path: Path, rows: list[tuple[str, str, str, float]]) -> Path:
    """rows: (RFC 3339 time, namespace, workload, cpu cores)."""
    path.write_text(HEADER + "".join(f"{t},{ns},{w},,app,{c},{1 << 27}\n" for t, ns, w, c in rows))
    return path


def test_a_shell_glob_after_from_is_all_inputs_and_the_rest_is_the_target() -> None:
    a, b = SAMPLE / "1.csv.gz", SAMPLE / "26.csv.gz"
    target, files = split_target_and_files(["bitbrains/vm-1", str(b)], [a])
    assert target == Target("bitbrains", "vm-1")
    assert files == [a, b]
    target, files = split_target_and_files([], None)
    assert target.is_all and files == []


def test_more_than_one_target_is_an_error() -> None:
    with pytest.raises(InputError, match="expected at most one TARGET"):
        split_target_and_files(["shop/", "bank/"], None)
    # Without --from, an existing file is not silently taken as input either.
    with pytest.raises(InputError, match="expected at most one TARGET"):
        split_target_and_files(["shop/", str(SAMPLE / "1.csv.gz")], None)


def test_from_files_overlapping_samples_count_once(tmp_path: Path) -> None:
    rows = [(T0, "shop", "web", 0.5), ("2026-11-20T10:01:00Z", "shop", "web", 1)]
    a = canonical(tmp_path / "a.csv", rows)
    b = canonical(tmp_path / "b.csv", rows[1:] + [("2026-11-20T10:02:00Z", "shop", "web", 2)])
    data = load_inputs([a, b], None, Path("unused"), Target())
    assert data.usage["cpu_cores"].tolist() == [0.5, 1.0, 2.0]
    assert "ignored 1 duplicated sample(s) across the input files" in data.notes


def test_future_samples_are_left_out_and_counted(tmp_path: Path) -> None:
    future = (pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = canonical(
        tmp_path / "skew.csv", [(T0, "shop", "web", 0.5), (future, "shop", "web", 9)]
    )
    data = load_inputs([path], None, Path("unused"), Target())
    assert data.usage["cpu_cores"].tolist() == [0.5]
    assert any("1 sample(s) stamped in the future" in n for n in data.notes)


def test_target_selects_from_files_and_a_typo_lists_the_nearest(tmp_path: Path) -> None:
    path = canonical(
        tmp_path / "two.csv",
        [(T0, "shop", "web", 0.5), (T0, "bank", "ledger", 1)],
    )
    data = load_inputs([path], None, Path("unused"), Target.parse("bank/"))
    assert data.usage["workload"].tolist() == ["ledger"]
    with pytest.raises(InputError, match=r"no data for target shop/wbe; nearest: shop/web"):
        load_inputs([path], None, Path("unused"), Target.parse("shop/wbe"))


def test_the_store_is_read_when_no_files_are_given(tmp_path: Path) -> None:
    Store(tmp_path / "st").append(import_files([SAMPLE / "1.csv.gz"]))
    data = load_inputs(None, None, tmp_path / "st", Target.parse("bitbrains/vm-1/vm"))
    assert len(data.usage) == 6039


def test_a_missing_store_says_how_to_fill_one(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        load_inputs(None, None, tmp_path / "nothing", Target())
    assert str(exc.value).startswith(f"no history store at {tmp_path / 'nothing'}: run ")


def test_recommend_json_is_the_same_from_files_from_the_store_and_from_the_whole_frame(
        tmp_path: Path) -> None:
    """The bundled sample through the three paths: ``--from`` (streamed into rollups in
    memory), ``import`` then ``--store`` (the store's rollups), and the whole-frame
    analysis on every sample loaded at once."""
    import json

    from quotatune.analysis.recommend import recommend
    from quotatune.render.registry import RENDERERS
    from tests.conftest import run_cli

    files = sorted(str(p) for p in SAMPLE.glob("*.csv.gz"))
    streamed = run_cli("recommend", "--from", *files, "-o", "json")
    assert streamed.code == 0, streamed
    imported = run_cli("import", *files, "--store", str(tmp_path / "s"))
    assert imported.code == 0, imported
    stored = run_cli("recommend", "--store", str(tmp_path / "s"), "-o", "json")
    assert stored.code == 0, stored
    data = import_files([Path(f) for f in files])
    whole = RENDERERS["json"](recommend(data.usage, data.specs, data.events), data.specs)
    recs = json.loads(whole)
    assert len(recs) == len(files) and all(r["status"] == "ok" for r in recs)
    assert json.loads(streamed.stdout) == recs
    assert json.loads(stored.stdout) == recs


def test_overlapping_files_count_each_sample_once_in_the_streamed_rollups(
        tmp_path: Path) -> None:
    from quotatune.pipelines.inputs import rollups_from_files

    week = [(f"2026-11-{20 + d}T{h:02d}:00:00Z", "shop", "web", 0.1 * (h % 5))
            for d in range(3) for h in range(24)]
    a = canonical(tmp_path / "a.csv", week[:50])
    b = canonical(tmp_path / "b.csv", week[30:])  # 20 samples in both files
    got = rollups_from_files([a, b], None, Target())
    assert got.samples == len(week)
    assert any("ignored 20 duplicated sample(s)" in n for n in got.notes)
    one = rollups_from_files([canonical(tmp_path / "all.csv", week)], None, Target())
    cols = ["day", "n", "cpu_max", "mem_max"]
    pd.testing.assert_frame_equal(got.rollups[cols].reset_index(drop=True),
                                  one.rollups[cols].reset_index(drop=True))
    # A filtered target also gets its raw samples, as text, once each.
    sel = rollups_from_files([a, b], None, Target("shop", "web"), keep_samples=True)
    assert sel.usage is not None and len(sel.usage) == len(week)
    assert not isinstance(sel.usage["namespace"].dtype, pd.CategoricalDtype)
    with pytest.raises(InputError, match="no data for target shop/wbe; nearest: shop/web"):
        rollups_from_files([a, b], None, Target("shop", "wbe"))
