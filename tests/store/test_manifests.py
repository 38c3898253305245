"""A day's manifest is checked where it is read: a damaged one, a file it names that is gone,
or a name that leads out of the day's directory is a StoreError naming the file, never a
TypeError in a reader nor "kept changing"; a writer's swap is still read through."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from quotatune.model.collected import Collected
from quotatune.rollup.sketch import ROLLUP_VERSION, daily_rollup
from quotatune.store import manifests
from quotatune.store.errors import StoreError
from quotatune.store.files import remove_unreferenced
from quotatune.store.history import Store
from tests.store.test_store import usage

DAY = "2026-11-20"


def stored(root: Path) -> Store:
    st = Store(root, rollup=daily_rollup, rollup_version=ROLLUP_VERSION)
    st.append(Collected(usage=usage(2, 600), specs=pd.DataFrame(), events=pd.DataFrame()))
    return st


def write_manifest(st: Store, content: str) -> Path:
    path = st.day_dir(DAY) / "manifest.json"
    path.write_text(content)
    return path


@pytest.mark.parametrize(("content", "says"), [
    ('{"data": 5}', "'data' must name a file in the day's directory, not 5"),
    ("[]", "a JSON object expected, not list"),
    ("{", "damaged manifest: Expecting property name"),
    ('{"rows": 3}', "no 'data' file named"),
    ('{"data": "../../../x"}', "'data' must name a file in the day's directory"),
    ('{"data": "d.parquet", "rollup": "/etc/passwd"}', "'rollup' must name a file"),
    ('{"data": "d.parquet", "rows": "many"}', "'rows' must be a count"),
    ('{"data": "d.parquet", "rollup_version": 2}', "'rollup_version' must be text"),
])
def test_a_damaged_manifest_is_named_by_every_reader(tmp_path: Path, content: str, says: str):
    st = stored(tmp_path)
    path = write_manifest(st, content)
    readers = [st.read_usage, lambda: st.read_rollups(columns=["n"]),
               lambda: st.manifest(DAY)]
    for read in readers:
        with pytest.raises(StoreError) as err:
            read()
        assert str(err.value).startswith(f"{path}: damaged manifest: ")
        assert says in str(err.value)
        assert "\n" not in str(err.value)


def test_a_file_the_manifest_still_names_is_missing_not_changing(tmp_path: Path):
    st = stored(tmp_path)
    m = st.manifest(DAY)
    assert m is not None
    (st.day_dir(DAY) / m["rollup"]).unlink()
    with pytest.raises(StoreError, match="missing store file") as err:
        st.read_rollups(columns=["n"])
    assert str(err.value).startswith(str(st.day_dir(DAY) / m["rollup"]))


def test_a_day_swapped_by_a_writer_while_read_is_read_anew(tmp_path: Path):
    st = stored(tmp_path)
    d = st.day_dir(DAY)
    m = st.manifest(DAY)
    assert m is not None
    seen = []

    def read(path: Path) -> str:
        seen.append(path.name)
        if len(seen) == 1:  # a writer commits a new file and removes the old one
            (d / "data-new.parquet").write_bytes((d / m["data"]).read_bytes())
            (d / "manifest.json").write_text(json.dumps({**m, "data": "data-new.parquet"}))
            (d / m["data"]).unlink()
            raise FileNotFoundError(path)
        return path.name

    assert manifests.read_named(d, "data", read) == "data-new.parquet"
    assert seen == [m["data"], "data-new.parquet"]


def test_a_day_dropped_while_read_is_absent(tmp_path: Path):
    st = stored(tmp_path)
    d = st.day_dir(DAY)

    def read(path: Path) -> None:
        (d / "manifest.json").unlink()  # a prune beside the reader
        raise FileNotFoundError(path)

    assert manifests.read_named(d, "data", read) is None


def test_another_parquet_file_in_a_rollups_place_names_its_missing_columns(tmp_path: Path):
    st = stored(tmp_path)
    m = st.manifest(DAY)
    assert m is not None
    d = st.day_dir(DAY)
    (d / m["rollup"]).write_bytes((d / m["data"]).read_bytes())  # samples, not a rollup
    with pytest.raises(StoreError, match="not a rollup of this store: lacks column 'day'"):
        st.read_rollups(columns=["namespace", "workload", "container", "pod", "day", "n"])


def test_a_directory_not_named_by_a_calendar_day_is_not_a_day(tmp_path: Path):
    st = stored(tmp_path)
    stray = tmp_path / "usage" / "day=2099-99-99"
    stray.mkdir()
    (stray / "manifest.json").write_text(st.day_dir(DAY).joinpath("manifest.json").read_text())
    assert "2099-99-99" not in st.days()
    assert manifests.is_day(DAY) and not manifests.is_day("2099-99-99")
    assert not manifests.is_day("20261120")  # fromisoformat's other spelling


def test_a_damaged_day_keeps_every_file_when_cleaned_up(tmp_path: Path):
    st = stored(tmp_path)
    d = st.day_dir(DAY)
    before = sorted(p.name for p in d.iterdir())
    write_manifest(st, '{"data": 5}')
    remove_unreferenced(d)
    assert sorted(p.name for p in d.iterdir()) == before
