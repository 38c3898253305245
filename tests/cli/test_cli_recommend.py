"""quotatune recommend through the real entry point: outputs, targets, patches, errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import ROOT, run_cli
from tests.support.file_modes import run_cli_bound_by_modes

SAMPLE = sorted((ROOT / "data" / "sample").glob("*.csv.gz"))
CONTRACT_KEYS = [
    "namespace", "workload", "container", "cpu_request_millicores", "cpu_limit_millicores",
    "memory_request_mib", "memory_limit_mib", "current", "strategy", "samples",
    "history_hours", "confidence", "status", "reasons",
]


def canonical_csv(path: Path, *, platform: str, namespace: str, workloads: list[str],
                  days: float = 3.0, extra: dict[str, float] | None = None) -> Path:
    rng = np.random.default_rng(1)
    n = int(days * 1440)
    ts = pd.date_range("2026-11-20T00:00:00Z", periods=n, freq="1min")
    rows = []
    for w in workloads:
        rows.append(pd.DataFrame({
            "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "namespace": namespace,
            "workload": w, "pod": f"{w}-0",
            # A standalone Docker container is its own workload.
            "container": w if platform == "docker" else "app",
            "cpu_cores": rng.gamma(4, 0.05, n), "memory_working_set_bytes":
            rng.normal(400 * 2**20, 20 * 2**20, n).clip(1), "platform": platform,
            **(extra or {}),
        }))
    pd.concat(rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("store")
    r = run_cli("import", *map(str, SAMPLE[:4]), "--store", str(root))
    assert r.code == 0, r.stderr
    return root


def test_json_is_exactly_the_contract(store: Path) -> None:
    r = run_cli("recommend", "--store", str(store), "-o", "json")
    assert r.code == 0, r.stderr
    recs = json.loads(r.stdout)
    assert len(recs) == 4
    for rec in recs:
        assert list(rec) == CONTRACT_KEYS
        assert rec["status"] == "ok"
        for k in ("cpu_request_millicores", "memory_request_mib", "memory_limit_mib"):
            assert isinstance(rec[k], int) and rec[k] > 0
        # The VMs' own provisioning is what they run with today.
        assert set(rec["current"]) >= {"cpu_request_millicores", "memory_request_mib",
                                       "memory_limit_mib"}
        assert rec["current"]["cpu_request_millicores"] % 1000 == 0
        assert rec["reasons"]


def test_yaml_and_csv_carry_the_same_numbers(store: Path) -> None:
    as_json = json.loads(run_cli("recommend", "--store", str(store), "-o", "json").stdout)
    as_yaml = yaml.safe_load(run_cli("recommend", "--store", str(store), "-o", "yaml").stdout)
    rows = list(csv.DictReader(io.StringIO(
        run_cli("recommend", "--store", str(store), "-o", "csv").stdout)))
    assert as_yaml == as_json
    assert [int(r["memory_limit_mib"]) for r in rows] == [r["memory_limit_mib"] for r in as_json]


def test_table_names_every_container(store: Path) -> None:
    r = run_cli("recommend", "--store", str(store))
    assert r.code == 0
    names = json.loads(run_cli("recommend", "--store", str(store), "-o", "json").stdout)
    for rec in names:
        assert rec["workload"] in r.stdout


def test_from_files_and_store_agree(store: Path) -> None:
    a = json.loads(run_cli("recommend", "--store", str(store), "-o", "json").stdout)
    b = json.loads(run_cli("recommend", "--from", *map(str, SAMPLE[:4]), "-o", "json").stdout)
    assert a == b


def test_target_narrows_and_unknown_target_names_nearest(store: Path) -> None:
    first = json.loads(run_cli("recommend", "--store", str(store), "-o", "json").stdout)[0]
    want = f"{first['namespace']}/{first['workload']}"
    r = run_cli("recommend", want, "--store", str(store), "-o", "json")
    assert [x["workload"] for x in json.loads(r.stdout)] == [first["workload"]]
    bad = run_cli("recommend", want + "x", "--store", str(store))
    assert bad.code == 2
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    assert "nearest" in bad.stderr and want in bad.stderr


def test_short_history_is_marked_insufficient_with_how_much(tmp_path: Path) -> None:
    f = canonical_csv(tmp_path / "short.csv", platform="kubernetes", namespace="shop",
                      workloads=["web"], days=0.02)
    recs = json.loads(run_cli("recommend", "--from", str(f), "-o", "json").stdout)
    assert recs[0]["status"] == "insufficient-data"
    assert any("sample" in reason for reason in recs[0]["reasons"])


def test_patch_for_kubernetes_and_docker(tmp_path: Path) -> None:
    k = canonical_csv(tmp_path / "k.csv", platform="kubernetes", namespace="shop",
                      workloads=["web"])
    d = canonical_csv(tmp_path / "d.csv", platform="docker", namespace="docker",
                      workloads=["api"])
    kout = run_cli("recommend", "--from", str(k), "-o", "patch")
    assert kout.code == 0, kout.stderr
    assert "kubectl set resources deployment/web -n shop -c app --requests=cpu=" in kout.stdout
    assert "memory=" in kout.stdout and "Mi" in kout.stdout
    dout = run_cli("recommend", "--from", str(d), "-o", "patch")
    assert dout.code == 0, dout.stderr
    assert "docker update" in dout.stdout and " api" in dout.stdout


@pytest.mark.parametrize("args, needle", [
    (["-o", "xml"], "unknown output"),
    (["--strategy", "nope"], "unknown strategy"),
    # An unset variable (--strategy "$S") is not a request for the default.
    (["--strategy", ""], "unknown strategy ''; use one of percentile, krr"),
    (["a/b", "c/d"], "at most one TARGET"),
    (["bad"], "bad target"),
])
def test_bad_usage_is_one_line_and_exit_2(store: Path, args: list[str], needle: str) -> None:
    r = run_cli("recommend", "--store", str(store), *args)
    assert r.code == 2
    assert needle in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_without_strategy_the_default_sizes_every_container(store: Path) -> None:
    r = run_cli("recommend", "--store", str(store), "-o", "json")
    assert r.code == 0, r.stderr
    assert {rec["strategy"] for rec in json.loads(r.stdout)} == {"tail"}


def test_no_store_is_a_clear_error(tmp_path: Path) -> None:
    r = run_cli("recommend", "--store", str(tmp_path / "none"))
    assert r.code == 2 and "no history store" in r.stderr


def test_store_from_environment(store: Path, tmp_path: Path) -> None:
    r = run_cli("recommend", "-o", "json", env={"QUOTATUNE_STORE": str(store)}, cwd=tmp_path)
    assert r.code == 0 and len(json.loads(r.stdout)) == 4


def test_overlapping_files_count_each_sample_once(tmp_path: Path) -> None:
    f = canonical_csv(tmp_path / "week.csv", platform="kubernetes", namespace="shop",
                      workloads=["web"])
    copy = tmp_path / "week-again.csv"
    copy.write_text(f.read_text())
    one = run_cli("recommend", "--from", str(f), "-o", "json")
    two = run_cli("recommend", "--from", str(f), str(copy), "-o", "json")
    assert json.loads(one.stdout) == json.loads(two.stdout)
    assert "duplicated sample" in two.stderr


def test_samples_from_a_skewed_clock_are_left_out_and_counted(tmp_path: Path) -> None:
    f = canonical_csv(tmp_path / "week.csv", platform="kubernetes", namespace="shop",
                      workloads=["web"])
    skewed = tmp_path / "skewed.csv"
    lines = f.read_text().splitlines()
    far = lines[-1].split(",")
    far[0] = "2099-01-01T00:00:00Z"
    far[6] = str(64 * 2**30)  # a 64 GiB spike in the future must not move the memory limit
    skewed.write_text("\n".join([*lines, ",".join(far)]) + "\n")
    plain = json.loads(run_cli("recommend", "--from", str(f), "-o", "json").stdout)
    r = run_cli("recommend", "--from", str(skewed), "-o", "json")
    assert json.loads(r.stdout) == plain
    assert "1 sample(s) stamped in the future" in r.stderr


def test_an_unreadable_file_is_skipped_with_a_warning_and_the_others_still_read(
    tmp_path: Path,
) -> None:
    good = canonical_csv(tmp_path / "good.csv", platform="kubernetes", namespace="shop",
                         workloads=["web"])
    unread = tmp_path / "unread.csv"
    unread.write_text(good.read_text())
    unread.chmod(0)
    r = run_cli_bound_by_modes("recommend", "--from", str(unread), str(good), "-o", "json")
    assert r.code == 0, r.stderr
    assert r.stderr.splitlines() == [f"warning: skipped {unread}: cannot read: Permission denied"]
    assert [rec["workload"] for rec in json.loads(r.stdout)] == ["web"]

    # Alone, it is the reader's one-line error, as a missing file is.
    alone = run_cli_bound_by_modes("recommend", "--from", str(unread))
    assert alone.code == 2
    assert alone.stderr == f"quotatune: error: {unread}: cannot read: Permission denied\n"


def test_window_without_prometheus_is_refused_not_ignored(store: Path) -> None:
    r = run_cli("recommend", "--store", str(store), "--window", "3d")
    assert r.code == 2 and "--window and --step go with --prometheus" in r.stderr


@pytest.mark.parametrize("command", ["import", "diagnose", "plan", "backtest"])
def test_every_command_that_reads_files_skips_an_unreadable_one(tmp_path: Path,
                                                                command: str) -> None:
    good = canonical_csv(tmp_path / "good.csv", platform="kubernetes", namespace="shop",
                         workloads=["web"], days=4.0)
    unread = tmp_path / "unread.csv"
    unread.write_text(good.read_text())
    unread.chmod(0)
    args = {"import": ["import", str(unread), str(good), "--store", str(tmp_path / "st")],
            "diagnose": ["diagnose", "--from", str(unread), str(good), "-o", "json"],
            "plan": ["plan", "--from", str(unread), str(good), "-o", "json"],
            "backtest": ["backtest", "--from", str(unread), str(good), "--train-days", "2",
                         "--test-days", "1", "-o", "json"]}[command]
    r = run_cli_bound_by_modes(*args)
    assert r.code == 0, r.stderr
    assert f"warning: skipped {unread}: cannot read: Permission denied" in r.stderr.splitlines()


def test_a_store_written_before_names_were_checked_shows_them_as_escapes(tmp_path: Path) -> None:
    """Import refuses "pay\u202egnp.exe" today; an older version stored it.  The table and
    the error line that lists the nearest targets print its escape, never the override that
    makes it read "payexe.png"."""
    from quotatune.model import validate_usage
    from quotatune.model.collected import Collected
    from quotatune.store.history import Store

    ts = pd.date_range("2026-11-20", periods=3 * 1440, freq="1min", tz="UTC")
    web = validate_usage(pd.DataFrame({
        "timestamp": ts, "namespace": "shop", "workload": "web", "pod": "web-0",
        "container": "app", "cpu_cores": 0.2, "memory_working_set_bytes": 3e8}), "t")
    spoof = web.assign(workload="pay\u202egnp.exe", pod="pay-0")  # set past validation
    Store(tmp_path / "st").append(Collected(usage=pd.concat([web, spoof], ignore_index=True)))
    table = run_cli("recommend", "--store", str(tmp_path / "st"))
    assert table.code == 0, table.stderr
    assert "pay\\u202egnp.exe" in table.stdout and "\u202e" not in table.stdout
    missing = run_cli("recommend", "shop/pay", "--store", str(tmp_path / "st"))
    assert missing.code == 2 and "\u202e" not in missing.stderr
    assert "nearest: shop/pay\\u202egnp.exe, shop/web" in missing.stderr
