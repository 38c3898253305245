"""Backtest metrics (docs/architecture.md, "Benchmarks") on a tiny trace worked out by hand, the
train/test split, and the command end to end on the bundled Bitbrains sample."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from quotatune.analysis.backtest import backtest, score, split
from quotatune.model import Current, Recommendation
from quotatune.model.errors import InputError
from tests.conftest import ROOT, run_cli

MIB = 1 << 20
T0 = pd.Timestamp("2026-11-01T00:00:00Z")


def rec(workload: str, cpu_m: int | None, mem_limit_mib: int | None,
        status: str = "ok") -> Recommendation:
    return Recommendation("ns", workload, "c", cpu_m, None, mem_limit_mib, mem_limit_mib,
                          Current(), "hand", 1000, 100.0, "high", status)


def rows(workload: str, cpu: list[float], mem_mib: list[float]) -> pd.DataFrame:
    return pd.DataFrame({
        "timestamp": [T0 + pd.Timedelta(minutes=5 * i) for i in range(len(cpu))],
        "namespace": "ns", "workload": workload, "pod": workload, "container": "c",
        "cpu_cores": cpu, "memory_working_set_bytes": [m * MIB for m in mem_mib],
    })


def test_metrics_on_a_hand_made_trace():
    test = pd.concat([
        rows("a", [0.2, 0.6, 0.5, 0.7], [500, 900, 1000, 999]),
        rows("b", [0.1, 0.1], [50, 101]),
    ], ignore_index=True)
    s = score("hand", [rec("a", 500, 1000), rec("b", 1000, 100),
                       rec("c", None, None, "insufficient-data")], test)
    assert s.containers == 2 and s.left_out == 1
    assert s.cores == pytest.approx(1.5)
    # slack: a 0.3 (only the 0.2 sample is below 0.5), b 0.9 + 0.9; over Σreq = 4*0.5 + 2*1
    assert s.cpu_slack == pytest.approx((0.3 + 1.8) / 4.0)
    assert s.cpu_over == pytest.approx(2 / 6)  # 0.6 and 0.7; 0.5 is not above 0.5
    assert s.mem_gib == pytest.approx(1100 / 1024)
    # a: 500 + 100 + 0 + 1 MiB free, b: 50 + 0; over Σlimit = 4*1000 + 2*100
    assert s.mem_slack == pytest.approx(651 / 4200)
    assert s.mem_oom_vms == 1  # b's 101 MiB sample is above its 100 MiB limit; a's 1000 is not


def test_split_is_per_container():
    a = rows("a", [0.1] * 10, [10] * 10)
    b = rows("b", [0.1] * 10, [10] * 10)
    b["timestamp"] += pd.Timedelta(minutes=20)  # starts later: its own first sample counts
    sp = split(pd.concat([a, b], ignore_index=True), train_days=25 / 1440, test_days=1)
    assert (sp.train.groupby("workload").size() == 5).all()
    assert (sp.test.groupby("workload").size() == 5).all()
    with pytest.raises(InputError, match="no samples after"):
        split(a, train_days=1, test_days=1)


def test_backtest_scores_each_strategy_and_the_current_sizes():
    n = 3 * 288  # 3 days of 5-minute samples: train 2, test 1
    rng = np.random.default_rng(3)
    u = rows("a", list(rng.uniform(0.1, 0.3, n)), list(rng.uniform(200, 300, n)))
    u["cpu_request_cores"] = 2.0
    u["memory_limit_bytes"] = 1024.0 * MIB
    scores = backtest(u, ["krr", "tail", "vpa"], train_days=2, test_days=1)
    by = {s.strategy: s for s in scores}
    assert set(by) == {"krr", "tail", "vpa", "current"}
    assert by["current"].cores == pytest.approx(2.0) and by["current"].mem_gib == 1.0
    assert by["current"].cpu_over == 0 and by["current"].mem_oom_vms == 0
    assert 0.25 < by["krr"].cores < 0.32  # p95 of U(0.1, 0.3)
    assert by["tail"].mem_oom_vms == 0  # the highest peak plus its margin covers a stationary week


def test_backtest_command_on_the_bundled_sample(tmp_path):
    files = sorted(str(p) for p in (ROOT / "data" / "sample").glob("*.csv.gz"))[:3]
    r = run_cli("backtest", "--from", *files, "--strategy", "vpa", "krr", "tail", "-o", "json")
    assert r.code == 0, r.stderr
    out = {row["strategy"]: row for row in json.loads(r.stdout)}
    assert set(out) == {"vpa", "krr", "tail", "current"}
    assert all(row["containers"] == 3 for row in out.values())
    # Numbers to their kind's precision: no float noise such as 0.30000000000000004.
    assert not re.search(r"\d\.\d{7,}", r.stdout), r.stdout
    html = tmp_path / "bt.html"
    r = run_cli("backtest", "--from", *files, "--strategy", "krr", "-o", "html", "--out",
                str(html))
    assert r.code == 0, r.stderr
    assert "krr" in r.stdout and "plotly" in html.read_text()


def test_backtest_command_rejects_unknown_strategy():
    f = str(sorted((ROOT / "data" / "sample").glob("*.csv.gz"))[0])
    r = run_cli("backtest", "--from", f, "--strategy", "nope")
    assert r.code == 2 and "unknown strategy 'nope'" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("given", ["", "vpa,", "vpa,,krr"])
def test_backtest_refuses_an_empty_strategy_name_rather_than_scoring_others(given):
    """``--strategy "$S"`` with S unset scored every strategy, ``"$A,$B"`` with B unset only
    A: the empty name is refused as an unknown one is."""
    f = str(sorted((ROOT / "data" / "sample").glob("*.csv.gz"))[0])
    r = run_cli("backtest", "--from", f, "--strategy", given, "-o", "json")
    assert r.code == 2 and r.stdout == ""
    assert "unknown strategy ''; use one of percentile" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_backtest_folds_prints_every_fold_and_the_worst_median_best(tmp_path):
    """``--folds N``: the latest N origins of each shape, every strategy scored on each, and a
    summary whose worst fold is the highest value of that metric over the folds."""
    files = sorted(str(p) for p in (ROOT / "data" / "sample").glob("*.csv.gz"))[:4]
    r = run_cli("backtest", "--from", *files, "--strategy", "krr", "tail", "--folds", "2",
                "-o", "json")
    assert r.code == 0, r.stderr
    out = json.loads(r.stdout)
    assert not re.search(r"\d\.\d{7,}", r.stdout), r.stdout
    folds = out["folds"]
    assert {(f["shape"], f["strategy"]) for f in folds} == {
        (s, n) for s in ("14+7", "7+7") for n in ("krr", "tail")}
    assert len([f for f in folds if f["shape"] == "7+7" and f["strategy"] == "krr"]) == 2
    assert all(f["gib_vs_krr"] == 1.0 for f in folds if f["strategy"] == "krr")
    for s in out["summary"]:
        values = [f[s["metric"]] for f in folds
                  if f["shape"] == s["shape"] and f["strategy"] == s["strategy"]]
        assert (s["worst"], s["best"], s["folds"]) == (max(values), min(values), len(values))
    table = run_cli("backtest", "--from", *files, "--strategy", "tail", "--folds", "1",
                    "--train-days", "7", "--test-days", "7")
    assert table.code == 0, table.stderr
    assert "worst / median / best fold" in table.stdout and "14+7" not in table.stdout
    bad = run_cli("backtest", "--from", *files, "--folds", "1", "--train-days", "1.5")
    assert bad.code == 2 and "whole number" in bad.stderr and "Traceback" not in bad.stderr
