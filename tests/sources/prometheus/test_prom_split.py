"""Bounded query load against a real Prometheus that protects itself: started with a low
``--query.max-samples`` and a short ``--query.timeout`` (tests/support/prometheus.py), it
refuses the queries an unconstrained server answers.  Both modes then split their queries
and get exactly what the unconstrained server gives; with a budget under the server's limit
nothing is refused at all, and the server's own statistics (``stats=all``: peakSamples) show
that no query held more samples than the budget.

The limit is scaled to the data: 3 containers here, so 8,000 samples plays the part of the
50,000 that a 30-container history overflows (issue 16)."""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import pytest

from quotatune.sources.prometheus.aggregate import rollups_from_prometheus
from quotatune.sources.prometheus.client import PrometheusClient
from quotatune.sources.prometheus.collector import collect_prometheus
from quotatune.sources.prometheus.queries import cadvisor_selector
from quotatune.sources.prometheus.run import QueryRun, namespace_pods
from quotatune.sources.prometheus.split import Piece, Shape, plan
from quotatune.store.history import Store
from tests.conftest import run_cli
from tests.support import prometheus as support
from tests.support.prometheus import FaultProxy, start_prometheus

pytestmark = pytest.mark.prometheus
prom_data = support.prom_data
prometheus = support.prometheus
LIMIT = 8_000
WINDOW = timedelta(days=14)  # more than the data holds: everything there is
STEP = timedelta(minutes=1)
KEY = ["namespace", "pod", "container", "timestamp"]
RKEY = ["namespace", "workload", "container", "day"]


@pytest.fixture(scope="module")
def small(prom_data, tmp_path_factory):
    server = start_prometheus(prom_data.blocks, tmp_path_factory.mktemp("small"),
                              max_samples=LIMIT, query_timeout="10s")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def unconstrained(prometheus, prom_data):
    client = PrometheusClient(prometheus.url)
    sample = collect_prometheus(client, window=WINDOW, step=STEP, now=prom_data.end)
    agg, extra = rollups_from_prometheus(client, window=WINDOW, step=STEP, now=prom_data.end)
    assert sample.errors == [] and extra.errors == []
    return sample, agg, extra


def _same_collection(a, b) -> None:
    pd.testing.assert_frame_equal(a.usage.sort_values(KEY).reset_index(drop=True),
                                  b.usage.sort_values(KEY).reset_index(drop=True))
    for frame in ("specs", "events"):
        x, y = getattr(a, frame), getattr(b, frame)
        cols = list(x.columns)
        pd.testing.assert_frame_equal(x.sort_values(cols[:4]).reset_index(drop=True),
                                      y.sort_values(cols[:4]).reset_index(drop=True))


def test_the_small_server_really_refuses_what_an_unconstrained_one_answers(small, prom_data):
    client = PrometheusClient(small.url, retries=0)
    got = collect_prometheus(client, window=WINDOW, step=STEP, now=prom_data.end,
                             namespace="shop", max_samples=10**9, max_points=11_000)
    # A budget far above the server's limit: the first queries are refused, then split.
    assert any("refused by the server as too large" in n for n in got.notes)
    assert got.errors == []


def test_sample_mode_splits_until_it_fits_and_equals_the_unconstrained_run(small, prom_data,
                                                                          unconstrained):
    client = PrometheusClient(small.url, stats=True)
    got = collect_prometheus(client, window=WINDOW, step=STEP, now=prom_data.end)
    assert got.errors == []
    assert any("refused by the server" in n for n in got.notes)  # the default budget is 5 M
    _same_collection(got, unconstrained[0])


def test_a_budget_under_the_servers_limit_is_never_refused_nor_exceeded(small, prom_data,
                                                                       unconstrained):
    # The smallest rollup query (one pod, one day of minutes) holds 5 samples per minute:
    # the budget must leave it room (below it, that query is sent anyway, and said).
    budget = LIMIT * 15 // 16
    client = PrometheusClient(small.url, stats=True)
    got = collect_prometheus(client, window=WINDOW, step=STEP, now=prom_data.end,
                             max_samples=budget)
    assert got.errors == [] and not any("refused" in n for n in got.notes)
    assert 0 < client.peak_samples <= budget  # the server's own count of the heaviest query
    _same_collection(got, unconstrained[0])
    rollups, extra = rollups_from_prometheus(client, window=WINDOW, step=STEP,
                                             now=prom_data.end, max_samples=budget,
                                             rules=False)
    assert extra.errors == [] and not any("refused" in n for n in extra.notes)
    assert client.peak_samples <= budget
    collect_prometheus(client, window=WINDOW, step=STEP, now=prom_data.end,
                       max_samples=budget, max_points=11_000)
    assert client.peak_samples <= budget


def test_aggregate_mode_splits_until_it_fits_and_equals_the_unconstrained_run(small, prom_data,
                                                                             unconstrained):
    _, want, want_extra = unconstrained
    got, extra = rollups_from_prometheus(PrometheusClient(small.url), window=WINDOW, step=STEP,
                                         now=prom_data.end)
    assert extra.errors == []
    assert any("refused by the server" in n for n in extra.notes)
    a = got.sort_values(RKEY).reset_index(drop=True)
    b = want.sort_values(RKEY).reset_index(drop=True)
    assert a[RKEY + ["n", "cpu_max", "mem_max"]].equals(b[RKEY + ["n", "cpu_max", "mem_max"]])
    for x, y in zip(a["cpu_c"], b["cpu_c"], strict=True):
        assert list(x) == list(y)
    # Sums add the same floats in another grouping: equal to the last bits.
    pd.testing.assert_series_equal(a["cpu_sum"], b["cpu_sum"], rtol=1e-12)


@pytest.mark.parametrize("status", [503, 504, 422])
def test_timeouts_and_refusals_split_by_time_with_the_same_result(prometheus, prom_data, status):
    day = timedelta(days=1)
    want = collect_prometheus(PrometheusClient(prometheus.url), window=day, step=STEP,
                              now=prom_data.end, namespace="shop")
    with FaultProxy(prometheus.url, refuse_over=400, refuse_status=status) as proxy:
        client = PrometheusClient(proxy.url, retries=0)
        got = collect_prometheus(client, window=day, step=STEP, now=prom_data.end,
                                 namespace="shop")
    assert got.errors == []
    assert proxy.refused > 0
    _same_collection(got, want)


def test_a_query_refused_down_to_one_pod_and_one_step_is_given_up_boundedly(prometheus,
                                                                           prom_data):
    with FaultProxy(prometheus.url, refuse_over=0, refuse_status=422) as proxy:
        client = PrometheusClient(proxy.url, retries=0)
        got = collect_prometheus(client, window=timedelta(days=1), step=STEP,
                                 now=prom_data.end, namespace="batch")
    assert got.usage.empty
    assert got.errors and all("refused even as" in e or "too many samples" in e
                              for e in got.errors)
    assert proxy.requests < 200  # the ceiling reaches its floor, then refusals are final


def test_concurrency_is_bounded_in_flight(prometheus, prom_data):
    with FaultProxy(prometheus.url, mode="slow", delay=0.05) as proxy:
        got = collect_prometheus(PrometheusClient(proxy.url), window=timedelta(days=1),
                                 step=STEP, now=prom_data.end, max_concurrency=2)
    assert got.errors == []
    assert proxy.max_inflight == 2  # the three series of a namespace ask at once, two get in


def test_pods_and_their_series_come_from_the_index(prometheus, prom_data):
    run = QueryRun(PrometheusClient(prometheus.url), [])
    end = prom_data.end.timestamp()
    pods = namespace_pods(run, "shop", cadvisor_selector("shop"), end - 86400, end)
    # one working-set series per container; the pause container and the pod cgroup are
    # left out by the selector, as in every query
    assert pods == (("db-0", 1), ("web-7d4b9c8f6d-x2k9p", 1))
    assert namespace_pods(run, "nope", cadvisor_selector("nope"), end - 86400, end) is None


def test_plan_fits_the_ceiling_and_covers_every_pod_and_step_once():
    pods = tuple((f"p{i}", 1 + i % 3) for i in range(40))
    shape = Shape(2.0, 60.0)
    pieces = plan(pods, 0.0, 60.0 * 999, 60.0, shape, 5_000)
    assert all(shape.estimate(p.weight, p.lo, p.hi) <= 5_000 for p in pieces)
    cells = {(pod, t) for p in pieces for pod, _ in (p.pods or ())
             for t in range(int(p.lo), int(p.hi) + 1, 60)}
    assert len(cells) == 40 * 1000 == sum(len(p.pods or ()) * (int((p.hi - p.lo) / 60) + 1)
                                          for p in pieces)
    assert plan(pods[:1], 0.0, 0.0, 60.0, shape, 1) == [Piece(pods[:1], 0.0, 0.0)]  # floor


# -- the commands ----------------------------------------------------------------------------


def test_cli_collect_14d_and_recommend_succeed_on_the_small_server(small, prometheus, prom_data,
                                                                   tmp_path):
    now = prom_data.end.strftime("%Y-%m-%dT%H:%M:%SZ")
    runs = {}
    for name, url in (("small", small.url), ("big", prometheus.url)):
        r = run_cli("collect", "prometheus", "--url", url, "--window", "14d", "--now", now,
                    "--max-concurrency", "2", "--store", str(tmp_path / name))
        assert r.code == 0, r.stderr
        rec = run_cli("recommend", "--prometheus", url, "--window", "14d", "--now", now,
                      "--max-samples-per-query", "1000000", "-o", "json")
        assert rec.code == 0, rec.stderr
        runs[name] = (r, json.loads(rec.stdout))
    assert "refused by the server" in runs["small"][0].stderr
    a, b = (Store(tmp_path / n).read_usage().sort_values(KEY).reset_index(drop=True)
            for n in ("small", "big"))
    pd.testing.assert_frame_equal(a, b)
    assert runs["small"][1] == runs["big"][1] and len(runs["big"][1]) == 3


def test_cli_bad_budget_flags_are_one_line_and_exit_2(prometheus):
    for flags in (["--max-samples-per-query", "10"], ["--max-concurrency", "0"]):
        for cmd in (["collect", "prometheus", "--url", prometheus.url],
                    ["recommend", "--prometheus", prometheus.url]):
            r = run_cli(*cmd, *flags)
            assert r.code == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
            assert "Traceback" not in r.stderr
