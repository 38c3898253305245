"""Aggregate mode reads the recording rules of deploy/prometheus when they are there.

A real Prometheus holds the raw cAdvisor history (tests/support/prometheus.py); the rules'
5-minute group is backfilled from it with ``promtool tsdb create-blocks-from rules`` and a
second server serves raw + recorded blocks.  Then:

* one probe tells the two servers apart, and the notes say which series were read;
* the rollups read through the rules are exactly the rollups of the recorded 5-minute points
  (pulled as samples and rolled up here): the same argument as for the raw path;
* against the raw samples, what the 5-minute resolution keeps is kept: the peak working set
  over the window exactly, the total CPU used as closely as ``rate()`` estimates it (see the
  rules module's docstring for what it does not keep: per-minute CPU spikes, day and hour
  boundaries within 5 minutes).
"""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from quotatune.rollup.sketch import daily_rollup
from quotatune.sources.prometheus import parse as pp
from quotatune.sources.prometheus.aggregate import rollups_from_prometheus
from quotatune.sources.prometheus.client import PrometheusClient
from quotatune.sources.prometheus.collector import collect_prometheus
from quotatune.sources.prometheus.queries import cadvisor_selector
from quotatune.sources.prometheus.rules import RULE_STEP, cpu_rule_expr, memory_rule_expr
from tests.conftest import run_cli
from tests.support import prometheus as support
from tests.support.prometheus import assert_same_rollups, backfill_rules, start_prometheus

pytestmark = pytest.mark.prometheus
prom_data = support.prom_data
prometheus = support.prometheus
STEP = timedelta(minutes=1)
WINDOW = timedelta(days=2, hours=7)  # inside the three backfilled days


@pytest.fixture(scope="module")
def ruled(prometheus, prom_data, tmp_path_factory):
    """A server holding the raw history and the rules' 5-minute series over its last 3 days."""
    tmp = tmp_path_factory.mktemp("ruled")
    end = int(prom_data.end.timestamp() // RULE_STEP * RULE_STEP)
    tsdb = backfill_rules(prometheus.url, prom_data.blocks, end - 3 * 86400, end, tmp)
    server = start_prometheus(tsdb, tmp)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def read(ruled, prom_data):
    client = PrometheusClient(ruled.url)
    rollups, extra = rollups_from_prometheus(client, window=WINDOW, step=STEP, now=prom_data.end)
    assert extra.errors == []
    return rollups, extra


def test_one_probe_tells_which_series_are_read(read, prometheus, prom_data):
    _, extra = read
    assert any(n.startswith("read the recording rules' 5-minute series") for n in extra.notes)
    _, raw = rollups_from_prometheus(PrometheusClient(prometheus.url), window=WINDOW,
                                     step=STEP, now=prom_data.end)
    assert "no recording rules found: read the raw cAdvisor series" in raw.notes
    # Told not to look: no probe, the raw series.
    _, told = rollups_from_prometheus(PrometheusClient(prometheus.url), window=WINDOW,
                                       step=STEP, now=prom_data.end, rules=False)
    assert not any("recording rules" in n for n in told.notes)


def test_a_window_older_than_the_rules_falls_back_to_the_raw_series(ruled, prom_data):
    _, extra = rollups_from_prometheus(PrometheusClient(ruled.url), window=timedelta(days=3,
                                       hours=12), step=STEP, now=prom_data.end)
    assert any("cover only part of the window" in n for n in extra.notes)


def _recorded_usage(url: str, prom_data, workloads: dict[str, str]) -> pd.DataFrame:
    """The recorded 5-minute points over the window, as a usage frame."""
    client = PrometheusClient(url)
    end = prom_data.end.timestamp() // RULE_STEP * RULE_STEP
    start = end - WINDOW.total_seconds() // RULE_STEP * RULE_STEP
    sel = cadvisor_selector(None)
    frames = []
    for expr, col in ((cpu_rule_expr(sel), "cpu_cores"),
                      (memory_rule_expr(sel), "memory_working_set_bytes")):
        rows, _ = pp.container_rows(pp.parse_prom_matrix(
            client.query_range(expr, start, end, RULE_STEP)), col)
        frames.append(rows)
    usage = frames[0].merge(frames[1], on=[*pp.KEY, "timestamp"], how="inner")
    return usage.assign(workload=usage["pod"].map(workloads))


def test_rollups_through_the_rules_are_the_rollups_of_the_recorded_points(read, ruled,
                                                                         prom_data):
    got, _ = read
    raw = collect_prometheus(PrometheusClient(ruled.url), window=WINDOW, step=STEP,
                             now=prom_data.end)
    workloads = dict(zip(raw.usage["pod"], raw.usage["workload"], strict=True))
    assert_same_rollups(got, daily_rollup(_recorded_usage(ruled.url, prom_data, workloads)))


def test_the_peak_and_the_cpu_used_are_those_of_the_raw_samples(read, prom_data):
    got, _ = read
    truth = prom_data.truth
    end = pd.Timestamp(prom_data.end.timestamp() // RULE_STEP * RULE_STEP, unit="s", tz="UTC")
    first = end - pd.Timedelta(seconds=WINDOW.total_seconds() // RULE_STEP * RULE_STEP)
    five = pd.Timedelta(minutes=5)
    for c in prom_data.containers:
        mine = got[got["container"] == c.container]
        t = truth[truth["container"] == c.container].set_index("timestamp").sort_index()
        # Each recorded point is the peak of the 5 minutes before it, and the points tile
        # the window: the peak is the raw peak, give or take the 5 minutes at its start.
        assert t.loc[first:end, "memory"].max() <= mine["mem_max"].max() \
            <= t.loc[first - 2 * five:end, "memory"].max()
        # rate() over 5 minutes of per-minute samples reads 4 minutes of increase and
        # extrapolates to 5: the CPU used is the raw total to within that estimate.
        used = t.loc[first - five:end, "cpu_cores"].sum() * 60
        assert np.isclose((mine["cpu_sum"] * RULE_STEP).sum(), used, rtol=1e-3)


def test_cli_says_which_series_it_read(ruled, prometheus, prom_data):
    now = prom_data.end.strftime("%Y-%m-%dT%H:%M:%SZ")
    with_rules = run_cli("recommend", "--prometheus", ruled.url, "--window", "2d", "--now", now,
                         "-o", "json")
    assert with_rules.code == 0, with_rules.stderr
    assert "note: read the recording rules' 5-minute series" in with_rules.stderr
    assert {r["status"] for r in json.loads(with_rules.stdout)} == {"ok"}
    forced = run_cli("recommend", "--prometheus", ruled.url, "--window", "2d", "--now", now,
                     "--no-recording-rules", "-o", "json")
    raw = run_cli("recommend", "--prometheus", prometheus.url, "--window", "2d", "--now", now,
                  "-o", "json")
    assert forced.code == raw.code == 0
    assert "recording rules" not in forced.stderr
    assert "note: no recording rules found" in raw.stderr
    assert json.loads(forced.stdout) == json.loads(raw.stdout)
