"""``quotatune import`` through the real entry point, in a scratch directory."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quotatune.store.history import Store
from tests.conftest import ROOT, CliRun, run_cli
from tests.support.terminal import run_on_terminal

SAMPLE = ROOT / "data" / "sample"
TWO_VMS = [str(SAMPLE / "1.csv.gz"), str(SAMPLE / "126.csv.gz")]
# Rows of the two files minus the 2149 rows of VM 126 that report 0 cores.
TWO_VMS_SAMPLES = (6040 - 1) + (6041 - 1 - 2149)


def assert_one_line_error(run: CliRun, *needles: str) -> str:
    assert run.code == 2, run
    assert "Traceback" not in run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("quotatune: error: ")
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


def test_importing_the_sample_twice_adds_nothing_the_second_time(tmp_path: Path) -> None:
    first = run_cli("import", *TWO_VMS, cwd=tmp_path)
    assert first.code == 0, first
    assert f"{TWO_VMS_SAMPLES} new sample(s), 0 already stored, 2 container(s)" in first.stdout
    # The dropped rows are reported, as a note on stderr.
    assert "126.csv.gz: dropped 2149 row(s) with 0 cores" in first.stderr

    second = run_cli("import", *TWO_VMS, cwd=tmp_path)
    assert second.code == 0, second
    assert f"0 new sample(s), {TWO_VMS_SAMPLES} already stored" in second.stdout

    # The default store is ./data of the working directory, and it holds each sample once.
    usage = Store(tmp_path / "data").read_usage()
    assert len(usage) == TWO_VMS_SAMPLES
    assert not usage.duplicated(["workload", "timestamp"]).any()
    assert sorted(usage["workload"].unique()) == ["vm-1", "vm-126"]


def test_an_overlapping_import_adds_only_the_new_samples(tmp_path: Path) -> None:
    assert run_cli("import", TWO_VMS[0], cwd=tmp_path).code == 0
    both = run_cli("import", *TWO_VMS, cwd=tmp_path)
    assert both.code == 0, both
    assert f"{TWO_VMS_SAMPLES - 6039} new sample(s), 6039 already stored" in both.stdout


def test_store_flag_and_environment_variable_are_honoured(tmp_path: Path) -> None:
    env_store = tmp_path / "from-env"
    flag_store = tmp_path / "from-flag"
    by_env = run_cli("import", TWO_VMS[0], env={"QUOTATUNE_STORE": str(env_store)}, cwd=tmp_path)
    assert by_env.code == 0, by_env
    assert f"into {env_store}" in by_env.stdout
    # --store wins over QUOTATUNE_STORE.
    by_flag = run_cli(
        "import", TWO_VMS[0], "--store", str(flag_store),
        env={"QUOTATUNE_STORE": str(env_store)}, cwd=tmp_path,
    )
    assert by_flag.code == 0, by_flag
    assert f"into {flag_store}" in by_flag.stdout
    assert "6039 new sample(s)" in by_flag.stdout
    assert len(Store(env_store).read_usage()) == 6039
    assert len(Store(flag_store).read_usage()) == 6039
    assert not (tmp_path / "data").exists()


def two_weeks_and_a_sample_from_2200(path: Path) -> Path:
    """Canonical CSV: one container sampled every 5 minutes for the 14 days before today,
    then one more sample stamped in 2200 (a skewed clock) with other requests and limits."""
    rng = np.random.default_rng(3)
    today = pd.Timestamp.now(tz="UTC").floor("D")
    ts = pd.date_range(today - pd.Timedelta(days=14), periods=14 * 288, freq="5min")
    n = len(ts)
    good = pd.DataFrame({
        "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "namespace": "shop",
        "workload": "web", "pod": "web-0", "container": "app",
        "cpu_cores": rng.gamma(4, 0.05, n).round(4),
        "memory_working_set_bytes": rng.normal(400 * 2**20, 20 * 2**20, n).round(),
        "cpu_request_cores": 0.5, "memory_request_bytes": 512 * 2**20,
        "memory_limit_bytes": 1024 * 2**20,
    })
    future = good.tail(1).assign(timestamp="2200-01-01T00:00:00Z", cpu_request_cores=4.0,
                                 memory_request_bytes=8 * 2**30, memory_limit_bytes=16 * 2**30)
    pd.concat([good, future]).to_csv(path, index=False)
    return path


FUTURE_NOTE = re.compile(r"^note: ignored 1 sample\(s\) stamped in the future \(after "
                         r"\d{4}-\d\d-\d\dT\d\d:\d\dZ\): check the source's clock$", re.M)


def test_an_import_leaves_out_samples_stamped_in_the_future_as_recommend_from_does(
    tmp_path: Path,
) -> None:
    mix = two_weeks_and_a_sample_from_2200(tmp_path / "mix.csv")
    store = tmp_path / "store"
    imported = run_cli("import", str(mix), "--store", str(store))
    assert imported.code == 0, imported
    assert "4032 new sample(s), 0 already stored, 1 container(s)" in imported.stdout
    assert FUTURE_NOTE.search(imported.stderr), imported.stderr
    assert len(Store(store).days()) == 14  # no day in 2200

    stored = run_cli("recommend", "--store", str(store), "-o", "json")
    direct = run_cli("recommend", "--from", str(mix), "-o", "json")
    assert stored.code == direct.code == 0, (stored, direct)
    assert FUTURE_NOTE.search(direct.stderr), direct.stderr
    assert stored.stdout == direct.stdout
    [rec] = json.loads(stored.stdout)
    assert rec["history_hours"] < 14 * 24 and rec["samples"] == 4032
    # The current request and limit are the good samples' own, not the future row's.
    assert rec["current"] == {"cpu_request_millicores": 500, "memory_request_mib": 512,
                              "memory_limit_mib": 1024}

    # Imported again: nothing added, nothing lost, the future sample still left out.
    again = run_cli("import", str(mix), "--store", str(store))
    assert "0 new sample(s), 4032 already stored" in again.stdout
    assert FUTURE_NOTE.search(again.stderr)
    assert len(Store(store).read_usage()) == 4032


def test_keep_days_drops_days_older_than_the_window(tmp_path: Path) -> None:
    now = pd.Timestamp.now(tz="UTC").floor("h")
    stamps = [now - pd.Timedelta(days=d) for d in (40, 20, 2, 1, 0)]
    rows = "".join(
        f"{t.strftime('%Y-%m-%dT%H:%M:%SZ')},shop,web,,app,0.5,{1 << 27}\n" for t in stamps
    )
    path = tmp_path / "usage.csv"
    path.write_text(
        "timestamp,namespace,workload,pod,container,cpu_cores,memory_working_set_bytes\n" + rows
    )
    store = tmp_path / "store"
    run = run_cli("import", str(path), "--store", str(store), "--keep-days", "7", cwd=tmp_path)
    assert run.code == 0, run
    assert "dropped 2 day(s) past retention" in run.stdout
    kept = Store(store).read_usage()
    assert sorted(kept["timestamp"]) == stamps[2:]

    # The 2013 sample is all older than a week: importing it with retention keeps none of it.
    old = run_cli("import", TWO_VMS[0], "--store", str(store), "--keep-days", "7", cwd=tmp_path)
    assert old.code == 0, old
    assert len(Store(store).read_usage()) == 3


def test_keep_days_counts_back_from_the_newest_stored_day_not_the_wall_clock(
    tmp_path: Path,
) -> None:
    """A trace from 2013 imported with --keep-days 5 keeps its own last five days."""
    store = tmp_path / "store"
    run = run_cli("import", TWO_VMS[0], "--store", str(store), "--keep-days", "5")
    assert run.code == 0, run
    days = Store(store).days()
    assert len(days) == 5 and days[-1].startswith("2013-08-")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["nope.csv"], ["nope.csv: no such file"]),
        (["."], ["is a directory"]),
        (["empty.csv"], ["empty.csv: unknown format; pass --format ("]),
        (["empty.csv", "--format", "canonical"], ["empty.csv: empty file"]),
        (["sales.csv"], ["sales.csv: unknown format"]),
        (["garbage.bin"], ["garbage.bin: not UTF-8 or UTF-16 text"]),
        (["broken.csv.gz"], ["broken.csv.gz: corrupt gzip data"]),
        (["fake.parquet"], ["fake.parquet: not a readable Parquet file"]),
        (["nocpu.csv", "--format", "canonical"], ["nocpu.csv: missing column(s) cpu_cores"]),
        (["nan.csv"], ["nan.csv: column 'cpu_cores', row 3: not a number: 'NaN'"]),
        (["negative.csv"], ["negative.csv: column 'memory_working_set_bytes', row 2:",
                            "negative"]),
        (["when.csv"], ["when.csv: column 'timestamp', row 2:", "'yesterday'"]),
        (["throttled.csv"], ["throttled.csv: column 'cpu_throttled_ratio', row 3: a share "
                             "must be from 0 to 1, not 1.5"]),
        (["dirty-vm.csv"], ["dirty-vm.csv: column 'CPU usage [MHZ]', row 3:", "'-5.0'"]),
        (["sales.csv", "--format", "xml"], ["unknown format 'xml'; use one of"]),
        (["sales.csv", "--format", "bitbrains"], ["not a Bitbrains trace, missing column(s)"]),
        (["sales.csv", "--keep-days", "0"], ["--keep-days must be from 1 to"]),
        (["sales.csv", "--keep-days", "99999999999"], ["--keep-days must be from 1 to"]),
        (["sales.csv", "--keep-days", "soon"], ["--keep-days"]),
        ([], ["Missing argument"]),
        (["--frm", "x.csv"], ["No such option: --frm"]),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(
    tmp_path: Path, args: list[str], needles: list[str]
) -> None:
    header = "timestamp,namespace,container,cpu_cores,memory_working_set_bytes\n"
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "sales.csv").write_text("region,revenue\neu,12\n")
    (tmp_path / "garbage.bin").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "broken.csv.gz").write_bytes(gzip.compress(header.encode() * 50)[:40])
    (tmp_path / "fake.parquet").write_bytes(b"PAR1 not really PAR1")
    (tmp_path / "nocpu.csv").write_text("timestamp,namespace,container\n1,a,b\n")
    (tmp_path / "nan.csv").write_text(header + "1700000000,a,b,0.1,1\n1700000060,a,b,NaN,1\n")
    (tmp_path / "negative.csv").write_text(header + "1700000000,a,b,0.1,-1\n")
    (tmp_path / "when.csv").write_text(header + "yesterday,a,b,0.1,1\n")
    (tmp_path / "throttled.csv").write_text(header.replace("\n", ",cpu_throttled_ratio\n")
                                            + "1700000000,a,b,0.1,1,0.2\n"
                                            "1700000060,a,b,0.1,1,1.5\n")
    vm = gzip.decompress((SAMPLE / "1.csv.gz").read_bytes()).decode().splitlines()[:4]
    fields = vm[2].split(";\t")
    fields[3] = "-5.0"
    vm[2] = ";\t".join(fields)
    (tmp_path / "dirty-vm.csv").write_text("\n".join(vm) + "\n")

    run = run_cli("import", *args, cwd=tmp_path)
    assert_one_line_error(run, *needles)
    # Nothing was half-imported.
    assert not (tmp_path / "data" / "usage").exists() or not any(
        (tmp_path / "data" / "usage").iterdir()
    )


def test_one_bad_file_among_good_ones_is_skipped_with_a_warning(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,namespace,container,cpu_cores,memory_working_set_bytes\nx,a,b,1,1\n")
    run = run_cli("import", TWO_VMS[0], str(bad), cwd=tmp_path)
    assert run.code == 0, run.stderr
    assert run.stderr.splitlines() == [
        next(line for line in run.stderr.splitlines() if line.startswith("warning: skipped"))]
    assert "bad.csv: column 'timestamp', row 2" in run.stderr
    assert Store(tmp_path / "data").days() != []
    only_bad = run_cli("import", str(bad), cwd=tmp_path / "data")
    assert_one_line_error(only_bad, "bad.csv: column 'timestamp', row 2")


def test_a_piped_import_prints_no_progress(tmp_path: Path) -> None:
    run = run_cli("import", *TWO_VMS, "--store", str(tmp_path / "s"))
    assert run.code == 0, run
    assert "reading files" not in run.stderr and "\x1b" not in run.stderr and "\r" not in run.stderr
    # Only the note about the dropped rows is on stderr.
    assert [line for line in run.stderr.splitlines() if not line.startswith("note: ")] == []


def test_an_import_piped_into_another_command_on_a_terminal_prints_no_progress(
    tmp_path: Path,
) -> None:
    """``quotatune import … | cat`` at a shell: stderr is still the terminal, stdout is not."""
    run = run_on_terminal("import", *TWO_VMS, "--store", str(tmp_path / "s"),
                          piped_stdout=True)
    assert run.code == 0, run.terminal
    assert "new sample(s)" in run.stdout
    assert b"reading files" not in run.terminal and b"writing days" not in run.terminal
    assert b"\x1b" not in run.terminal


def test_an_import_on_a_terminal_shows_progress(tmp_path: Path) -> None:
    run = run_on_terminal("import", *TWO_VMS, "--store", str(tmp_path / "s"))
    assert run.code == 0
    assert "new sample(s)" in run.stdout  # stdout stays clean for scripts
    assert b"reading files" in run.terminal or b"writing days" in run.terminal


def test_a_name_that_would_display_as_another_is_refused_with_its_file_row_and_escape(
        tmp_path: Path) -> None:
    """An RTL override makes "pay\u202egnp.exe" print as "payexe.png": no platform allows it
    in a name, so an import refuses the file rather than store what a table would spoof."""
    header = "timestamp,namespace,workload,pod,container,cpu_cores,memory_working_set_bytes\n"
    (tmp_path / "spoof.csv").write_text(
        header + "1700000000,shop,web,web-0,app,0.1,1\n"
        "1700000000,shop,pay\u202egnp.exe,pay-0,app,0.1,1\n", encoding="utf-8")
    run = run_cli("import", "spoof.csv", cwd=tmp_path)
    line = assert_one_line_error(
        run, "spoof.csv: column 'workload', row 3: name 'pay\\u202egnp.exe' holds \\u202e "
             "(right-to-left override)")
    assert "\u202e" not in line
    assert Store(tmp_path / "data").days() == []


def test_a_slash_in_a_workload_name_is_refused_rather_than_left_unreachable(
        tmp_path: Path) -> None:
    """``shop/web/app`` could not name container ``app`` of a workload called ``web/app``,
    nor tell it from container ``app`` of ``web``: every reader refuses the name, the
    typed Parquet pass of ``recommend --from`` as well."""
    frame = pd.DataFrame({
        "timestamp": pd.date_range("2026-11-20", periods=40, freq="1min", tz="UTC"),
        "namespace": "shop", "workload": "web/app", "pod": "web-0", "container": "x",
        "cpu_cores": 0.1, "memory_working_set_bytes": 1e8})
    frame.astype({c: "category" for c in ("namespace", "workload", "pod", "container")}
                 ).to_parquet(tmp_path / "slash.parquet")
    frame.to_csv(tmp_path / "slash.csv", index=False)
    for args in (["import", "slash.csv"], ["recommend", "--from", "slash.parquet"]):
        run = run_cli(*args, cwd=tmp_path)
        assert_one_line_error(run, "column 'workload', row ", "name 'web/app' holds '/', the "
                              "separator of ns/workload/container")


def test_a_kubectl_dump_with_a_name_no_cluster_allows_is_refused(tmp_path: Path) -> None:
    dump = json.loads((ROOT / "tests" / "fixtures" / "kubernetes" /
                       "kubectl_get_pods_nodes_events.json").read_text())
    pod = next(i for i in dump["items"] if i["kind"] == "Pod")
    pod["metadata"]["namespace"] = "kube\u2066system"
    (tmp_path / "dump.json").write_text(json.dumps(dump))
    run = run_cli("import", "dump.json", cwd=tmp_path)
    assert_one_line_error(run, "dump.json: column 'namespace': name 'kube\\u2066system' holds "
                               "\\u2066 (left-to-right isolate)")
