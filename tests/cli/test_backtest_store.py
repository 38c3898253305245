"""``backtest --store``: the store's per-day rollups replayed, with the same answer as
``--from`` the same files and as the rollup backtest in process; a TARGET; folds; bad
input is one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quotatune.analysis.daily_backtest import backtest_rollups
from quotatune.render.backtest import shown_number
from quotatune.rollup.sketch import daily_rollup
from quotatune.sources.files.tables import read_bitbrains
from tests.conftest import ROOT, run_cli
from tests.support.store_data import imported_sample
from tests.support.terminal import run_on_terminal

FILES = sorted(str(p) for p in (ROOT / "data" / "sample").glob("*.csv.gz"))[:5]
STRATEGY = ["--strategy", "krr", "tail"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return imported_sample(tmp_path_factory.mktemp("bt") / "store", 5)


def scores(*args: str) -> dict[str, dict[str, float]]:
    r = run_cli("backtest", *args, "-o", "json")
    assert r.code == 0, r.stderr
    return {row["strategy"]: row for row in json.loads(r.stdout)}


def test_store_and_from_give_the_rollup_backtest_of_the_files(store: Path):
    usage = read_bitbrains_all()
    # As -o json shows them: each number to its kind's precision.
    want = {s.strategy: {k: shown_number(k, v) for k, v in s.to_dict().items()}
            for s in backtest_rollups(daily_rollup(usage), ["krr", "tail"])}
    got_store = scores("--store", str(store), *STRATEGY)
    got_from = scores("--from", *FILES, "--format", "bitbrains", *STRATEGY)
    assert set(got_store) == set(got_from) == set(want) == {"krr", "tail", "current"}
    for name, row in want.items():
        assert got_store[name] == pytest.approx(row) and got_from[name] == pytest.approx(row)
    assert got_store["krr"]["containers"] == len(FILES)


def read_bitbrains_all():  # type: ignore[no-untyped-def]
    import pandas as pd

    return pd.concat([read_bitbrains(Path(f)).usage for f in FILES], ignore_index=True)


def test_a_target_replays_only_its_containers(store: Path):
    one = scores("bitbrains/vm-1", "--store", str(store), *STRATEGY)
    assert one["krr"]["containers"] == 1
    every = scores("--store", str(store), *STRATEGY)
    assert one["krr"]["cores"] < every["krr"]["cores"]


def test_folds_from_the_store_are_the_folds_of_the_files(store: Path):
    args = ["--strategy", "krr", "--folds", "2", "--train-days", "7", "--test-days", "7"]
    a = run_cli("backtest", "--store", str(store), *args, "-o", "json")
    b = run_cli("backtest", "--from", *FILES, "--format", "bitbrains", *args, "-o", "json")
    assert a.code == 0 and b.code == 0, a.stderr + b.stderr
    fa, fb = json.loads(a.stdout)["folds"], json.loads(b.stdout)["folds"]
    assert len(fa) == len(fb) == 2
    for x, y in zip(fa, fb, strict=True):  # equal up to the order of float sums
        assert x == pytest.approx(y)


@pytest.mark.parametrize(("args", "needle"), [
    (["--train-days", "1.5"], "--train-days must be a positive whole number"),
    (["--train-days", "30"], "no samples after the first 30 training days"),
    (["--train-days", "nan"], "--train-days must be a whole number of days up to 36500, "
                              "not nan"),
    (["--train-days", "inf"], "--train-days must be a whole number of days up to 36500, "
                              "not inf"),
    (["--test-days", "inf"], "--test-days must be a whole number of days up to 36500"),
    (["--train-days", "1e300"], "not 1e+300"),
    (["nope/none"], "nope/none"),
    (["--from", FILES[0]], "not both"),
])
def test_bad_input_is_one_line_and_exit_2(store: Path, args: list[str], needle: str):
    r = run_cli("backtest", "--store", str(store), *args)
    assert r.code == 2, r.stderr
    assert needle in r.stderr and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_a_missing_store_is_one_line(tmp_path: Path):
    r = run_cli("backtest", "--store", str(tmp_path / "none"))
    assert r.code == 2 and "no history store" in r.stderr and r.stderr.count("\n") == 1


def test_on_a_terminal_the_days_read_and_strategies_scored_show_and_in_a_pipe_nothing(
        store: Path):
    run = run_on_terminal("backtest", "--store", str(store), *STRATEGY)
    assert run.code == 0, run.terminal[-500:]
    assert "krr" in run.stdout  # the table on stdout, the bar on stderr
    assert b"reading days" in run.terminal and b"scoring strategies" in run.terminal
    piped = run_cli("backtest", "--store", str(store), *STRATEGY)
    assert piped.code == 0, piped.stderr
    assert "reading days" not in piped.stderr and "\x1b" not in piped.stderr
    as_json = run_on_terminal("backtest", "--store", str(store), *STRATEGY, "-o", "json")
    assert as_json.code == 0 and json.loads(as_json.stdout)
    assert b"reading days" not in as_json.terminal
