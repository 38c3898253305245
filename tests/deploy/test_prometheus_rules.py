"""deploy/prometheus: the rule files pass ``promtool check rules`` and their promtool unit
tests, and the recording rules, backfilled with ``promtool tsdb create-blocks-from rules``
against a real Prometheus holding cAdvisor history (tests/support/prometheus.py), record the
values that PromQL's documented semantics give on the raw samples, recomputed here."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import ROOT
from tests.support import prometheus as support
from tests.support.prometheus import PROMTOOL, PromData, PromServer, start_prometheus

prom_data = support.prom_data
prometheus = support.prometheus

pytestmark = [pytest.mark.prometheus,
              pytest.mark.skipif(not PROMTOOL.exists(),
                                 reason=f"{PROMTOOL} is not installed (Debian package "
                                        "'prometheus')")]

RULES_DIR = ROOT / "deploy" / "prometheus"
RULE_FILES = [RULES_DIR / "quotatune-rules.yaml", RULES_DIR / "quotatune-alerts.yaml"]
CPU_5M = "namespace_pod_container:container_cpu_usage_seconds:rate5m"
MEM_5M = "namespace_pod_container:container_memory_working_set_bytes:max5m"
CPU_1H = "namespace_pod_container:container_cpu_usage_seconds:max1h_rate5m"
MEM_1H = "namespace_pod_container:container_memory_working_set_bytes:max1h"
KEY = ("namespace", "pod", "container")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PROMTOOL), *args], capture_output=True, text=True, timeout=600)


def test_rule_files_pass_promtool_check():
    for path in RULE_FILES:
        r = promtool("check", "rules", str(path))
        assert r.returncode == 0, r.stdout + r.stderr
        assert "SUCCESS: 4 rules found" in r.stdout


def test_promtool_check_really_rejects_a_broken_rule(tmp_path):
    groups = yaml.safe_load(RULE_FILES[0].read_text())
    groups["groups"][0]["rules"][0]["expr"] = "sum by (namespace (rate(x[5m]))"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(groups))
    r = promtool("check", "rules", str(bad))
    assert r.returncode != 0 and "parse error" in r.stdout + r.stderr


def test_promtool_unit_tests_of_the_rules_pass():
    tests = sorted((RULES_DIR / "tests").glob("*.yaml"))
    assert len(tests) >= 2
    r = promtool("test", "rules", *map(str, tests))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("SUCCESS") == len(tests)


# --- backfill -------------------------------------------------------------------------------

def query_matrix(server: PromServer, expr: str, at: float) -> dict[tuple, tuple]:
    """The raw samples of ``expr`` (a range selector) at ``at``: {labels: (times, values)}."""
    q = urllib.parse.urlencode({"query": expr, "time": repr(at)})
    with urllib.request.urlopen(f"{server.url}/api/v1/query?{q}", timeout=120) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    out = {}
    for s in body["data"]["result"]:
        v = np.array(s["values"], dtype=float)
        out[tuple(sorted(s["metric"].items()))] = (v[:, 0], v[:, 1])
    return out


def by_container(raw: dict[tuple, tuple]) -> dict[tuple, list[tuple]]:
    """cAdvisor series grouped by container, leaving out what the rules must leave out."""
    groups: dict[tuple, list[tuple]] = {}
    for labels, series in raw.items():
        m = dict(labels)
        if m.get("container", "") in ("", "POD") or not m.get("image") \
                or not m.get("namespace"):
            continue
        groups.setdefault(tuple(m[k] for k in KEY), []).append(series)
    return groups


def window(t: np.ndarray, at: float, seconds: float) -> slice:
    # Prometheus 2.x: a range selector holds the samples in [at - range, at].
    return slice(int(np.searchsorted(t, at - seconds, "left")),
                 int(np.searchsorted(t, at, "right")))


def prom_rate(t: np.ndarray, v: np.ndarray, at: float, seconds: float) -> float | None:
    """``rate(counter[range])`` at ``at``, as PromQL documents it: the increase between the
    first and last sample (resets add the value before the reset), extrapolated to the
    window edges when a sample sits within 1.1 average intervals of them, never below zero."""
    w = window(t, at, seconds)
    t, v = t[w], v[w]
    if len(t) < 2:
        return None
    inc = v[-1] - v[0] + float(np.sum(v[:-1][np.diff(v) < 0]))
    sampled = t[-1] - t[0]
    avg = sampled / (len(t) - 1)
    to_start, to_end = t[0] - (at - seconds), at - t[-1]
    if inc > 0 and v[0] >= 0:
        to_start = min(to_start, sampled * (v[0] / inc))
    span = sampled
    span += to_start if to_start < 1.1 * avg else avg / 2
    span += to_end if to_end < 1.1 * avg else avg / 2
    return inc * span / sampled / seconds


def expected_5m(raw_cpu, raw_mem, times: np.ndarray) -> dict[str, dict[tuple, np.ndarray]]:
    cpu = {k: np.array([sum(prom_rate(t, v, at, 300) or 0.0 for t, v in ss) for at in times])
           for k, ss in by_container(raw_cpu).items()}
    mem = {}
    for k, ss in by_container(raw_mem).items():
        mem[k] = np.array([max(float(v[window(t, at, 300)].max(initial=-np.inf)) for t, v in ss)
                           for at in times])
    return {CPU_5M: cpu, MEM_5M: mem}


def recorded(server: PromServer, name: str, at: float) -> dict[tuple, tuple]:
    got = query_matrix(server, f"{name}[5d]", at)
    for labels in got:
        assert [k for k, _ in labels] == ["__name__", "container", "namespace", "pod"], labels
    return {tuple(dict(labels)[k] for k in KEY): s for labels, s in got.items()}


def backfill(server: PromServer, groups: list[dict], start: int, end: int, out: Path) -> Path:
    rules = out.parent / f"{out.name}.rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": groups}))
    r = promtool("tsdb", "create-blocks-from", "rules", f"--url={server.url}",
                 f"--start={start}", f"--end={end}", f"--output-dir={out}", str(rules))
    assert r.returncode == 0, r.stdout + r.stderr
    assert any(out.iterdir()), "no blocks written"
    return out


def merged(target: Path, *block_dirs: Path) -> Path:
    target.mkdir()
    for d in block_dirs:
        for block in d.iterdir():
            shutil.copytree(block, target / block.name)
    return target


@pytest.fixture(scope="module")
def backfilled(prometheus: PromServer, prom_data: PromData, tmp_path_factory):
    """Two passes, as promtool asks of rules that read other rules: the 5-minute group from
    the raw series, then (with its blocks loaded) the hourly group."""
    tmp = tmp_path_factory.mktemp("rules-backfill")
    end = int(prom_data.end.timestamp()) // 3600 * 3600
    start = end - 3 * 86400  # a day of raw history before it feeds the first windows
    five, hourly = yaml.safe_load(RULE_FILES[0].read_text())["groups"]
    assert (five["interval"], hourly["interval"]) == ("5m", "1h")
    out5 = backfill(prometheus, [five], start, end, tmp / "blocks-5m")
    with_5m = start_prometheus(merged(tmp / "raw+5m", prom_data.blocks, out5), tmp / "p5m")
    try:
        out1h = backfill(with_5m, [hourly], start, end, tmp / "blocks-1h")
        hourly_only = start_prometheus(merged(tmp / "1h", out1h), tmp / "p1h")
    except BaseException:
        with_5m.stop()
        raise
    yield with_5m, hourly_only, start, end
    hourly_only.stop()
    with_5m.stop()


def test_backfilled_5m_series_are_the_rate_and_peak_of_the_raw_samples(backfilled, prom_data):
    with_5m, _, start, end = backfilled
    raw_cpu = query_matrix(with_5m, "container_cpu_usage_seconds_total[5d]", end)
    raw_mem = query_matrix(with_5m, "container_memory_working_set_bytes[5d]", end)
    containers = {(c.namespace, c.pod, c.container) for c in prom_data.containers}
    for name in (CPU_5M, MEM_5M):
        got = recorded(with_5m, name, end)
        # one series per container: the pause container and the pod cgroup are left out
        assert set(got) == containers, name
        for key, (t, v) in got.items():
            assert len(t) >= 3 * 288 - 1 and (np.diff(t) == 300).all(), (name, key)
            assert start <= t[0] < start + 300 and t[-1] <= end
            want = expected_5m(raw_cpu, raw_mem, t)[name][key]
            np.testing.assert_allclose(v, want, rtol=1e-9, atol=1e-12, err_msg=f"{name} {key}")


def truth_of(prom_data: PromData, container: str, col: str) -> tuple[np.ndarray, np.ndarray]:
    d = prom_data.truth[prom_data.truth["container"] == container].sort_values("timestamp")
    secs = (d["timestamp"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    return secs.to_numpy(), d[col].to_numpy()


def test_backfilled_5m_cpu_is_the_mean_usage_and_survives_the_counter_reset(backfilled,
                                                                            prom_data):
    # Against the per-minute truth itself: a 5-minute rate is the mean usage of the whole
    # minutes between its first and last sample (extrapolating to the window edges keeps the
    # mean), also across the reset of the app's counter.
    with_5m, _, _, end = backfilled
    got = recorded(with_5m, CPU_5M, end)
    reset = prom_data.reset_at.timestamp()
    for c in prom_data.containers:
        t, v = got[(c.namespace, c.pod, c.container)]
        mins, cpu = truth_of(prom_data, c.container, "cpu_cores")
        assert v.max() <= cpu.max() + 1e-5  # a reset never reads as a spike
        # Evaluated off the minute, the window holds 5 samples and 4 minutes of increase.
        span = np.where(t % 60 == 0, 300, 240)
        # Just after a reset, while the counter is near zero, rate() extrapolates only down
        # to the counter's zero: at most the mean there.
        fresh = (t >= reset) & (t < reset + 3600)
        for at, s, val, f in zip(t, span, v, fresh, strict=True):
            want = cpu[(mins > at - s) & (mins <= at)].mean()
            if f:
                assert val <= want + 1e-5, (c.container, at)
            else:
                assert val == pytest.approx(want, rel=1e-3, abs=1e-5), (c.container, at)
        if c.counter_reset:
            assert ((t > reset) & (t < reset + 600)).sum() >= 1


def test_backfilled_hourly_series_are_the_peaks_of_the_5m_series(backfilled, prom_data):
    with_5m, hourly_only, _, end = backfilled
    five = {CPU_5M: recorded(with_5m, CPU_5M, end), MEM_5M: recorded(with_5m, MEM_5M, end)}
    raw_cpu = query_matrix(with_5m, "container_cpu_usage_seconds_total[5d]", end)
    raw_mem = query_matrix(with_5m, "container_memory_working_set_bytes[5d]", end)
    for name, source in ((CPU_1H, CPU_5M), (MEM_1H, MEM_5M)):
        got = recorded(hourly_only, name, end)
        assert set(got) == set(five[source]), name
        for key, (t, v) in got.items():
            assert len(t) >= 71 and (np.diff(t) == 3600).all(), (name, key)
            t5 = five[source][key][0]
            v5 = expected_5m(raw_cpu, raw_mem, t5)[source][key]  # recomputed, not read back
            want = [v5[window(t5, at, 3600)].max() for at in t]
            np.testing.assert_allclose(v, want, rtol=1e-9, atol=1e-12, err_msg=f"{name} {key}")
    # memory's hourly peak is the highest working set written in the 5-minute windows of
    # that hour
    t5 = five[MEM_5M][("shop", "db-0", "postgres")][0]
    secs, mem = truth_of(prom_data, "postgres", "memory")
    for at, val in zip(*got[("shop", "db-0", "postgres")], strict=True):
        inside = t5[window(t5, at, 3600)]
        assert val == mem[(secs >= inside[0] - 300) & (secs <= inside[-1])].max()


# How a reader tells that the rules are there for its window: the 5-minute series are
# visible at any instant (Prometheus looks back 5 minutes), so an instant query at the
# window's first and last step answers for both ends; the hourly series only with a range.
PROBE_5M = ('count by (__name__) ({__name__=~"namespace_pod_container:container_'
            '(cpu_usage_seconds:rate5m|memory_working_set_bytes:max5m)"})')


def probe(server: PromServer, expr: str, at: float) -> dict[str, float]:
    q = urllib.parse.urlencode({"query": expr, "time": repr(at)})
    with urllib.request.urlopen(f"{server.url}/api/v1/query?{q}", timeout=60) as r:
        body = json.load(r)
    return {s["metric"].get("__name__", ""): float(s["value"][1])
            for s in body["data"]["result"]}


def test_a_count_by_name_probe_tells_whether_the_rules_cover_a_window(backfilled, prometheus,
                                                                      prom_data):
    with_5m, hourly_only, start, end = backfilled
    n = len(prom_data.containers)
    for at in (start + 300, end):
        assert probe(with_5m, PROBE_5M, at) == {CPU_5M: n, MEM_5M: n}
        assert probe(prometheus, PROBE_5M, at) == {}  # raw series only: fall back
    assert probe(with_5m, PROBE_5M, start - 3600) == {}  # before the rules' history
    # one name per query: a range function drops the name, so two would collide
    for name in (CPU_1H, MEM_1H):
        assert probe(hourly_only, f"count(last_over_time({name}[1h]))", end) == {"": n}
        assert probe(hourly_only, f"count(last_over_time({name}[1h]))", start - 3600) == {}
