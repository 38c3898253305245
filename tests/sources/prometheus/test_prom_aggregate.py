"""Aggregate mode (``recommend --prometheus``) agrees with the sample path on the same data.

Both paths run against the same real, backfilled Prometheus (tests/support/prometheus.py):
the sample path pulls every point (collect prometheus -> store -> recommend), aggregate mode
has Prometheus compute the per-container daily rollups and pulls only those.

What "agree" means, and why: counts, first/last times, maxima, hourly peaks and every
histogram bucket and count are equal exactly (same PromQL at the same instants; a bucket is
the same IEEE formula in Go and numpy).  Sums and recency-weighted sums differ only by the
order of float additions: compared at a relative 1e-9.  Recommendations, which are rounded up
to whole millicores and MiB, are then equal, field for field, for every strategy.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from quotatune.analysis.recommend import STRATEGIES, recommend, recommend_from_rollups
from quotatune.model.errors import SourceError
from quotatune.pipelines.recommend import recommend_from_prometheus
from quotatune.rollup.sketch import daily_rollup
from quotatune.sources.prometheus.aggregate import (
    rollups_from_prometheus,
)
from quotatune.sources.prometheus.client import PrometheusClient
from quotatune.sources.prometheus.collector import collect_prometheus
from quotatune.store.history import Store
from tests.support import prometheus as support
from tests.support.prometheus import FaultProxy, assert_same_rollups

pytestmark = pytest.mark.prometheus
prom_data = support.prom_data
prometheus = support.prometheus
STEP = timedelta(minutes=1)
# Not whole days, so the first and last day are partial and must be cut the same way.
WINDOW = timedelta(days=2, hours=7, minutes=13)
KEY = ["namespace", "workload", "container", "day"]


@pytest.fixture(scope="module")
def both(prometheus, prom_data):
    client = PrometheusClient(prometheus.url)
    sample = collect_prometheus(client, window=WINDOW, step=STEP, now=prom_data.end)
    agg, extra = rollups_from_prometheus(client, window=WINDOW, step=STEP, now=prom_data.end)
    assert sample.errors == [] and extra.errors == []
    return sample, agg, extra


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(KEY).reset_index(drop=True)


def test_prometheus_side_rollups_equal_the_rollups_of_the_samples(both):
    sample, agg, _ = both
    want = daily_rollup(sample.usage)
    days = sample.usage["timestamp"].dt.floor("D").nunique()  # 3 or 4, by the time of day
    assert len(agg) == len(want) == 3 * days
    assert int(agg["n"].sum()) == len(sample.usage)
    assert_same_rollups(agg, want)
    got, want = _sorted(agg), _sorted(want)
    for col in ("cpu_request_cores", "memory_limit_bytes"):
        assert np.array_equal(got[col], want[col], equal_nan=True)


def test_recommend_from_prometheus_agrees_with_collect_then_recommend_from_the_store(
        both, prometheus, prom_data, tmp_path):
    """collect prometheus -> store -> recommend (what the CLI does) against aggregate mode."""
    sample, _, _ = both
    store = Store(tmp_path)
    store.append(sample)
    back = store.read(None)
    from_store = recommend(back.usage, back.specs, back.events)
    errors: list[str] = []
    from_prom = recommend_from_prometheus(PrometheusClient(prometheus.url), window=WINDOW,
                                          step=STEP, now=prom_data.end, errors=errors)
    assert errors == []
    assert len(from_prom) == 3
    assert [r.to_dict() for r in from_prom] == [r.to_dict() for r in from_store]
    assert {r.platform for r in from_prom} == {"kubernetes"}


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_recommendations_agree_for_every_strategy(both, strategy):
    sample, agg, extra = both
    from_samples = recommend(sample.usage, sample.specs, sample.events, strategy=strategy)
    from_prom = recommend_from_rollups(agg, extra.specs, extra.events, strategy=strategy)
    assert [r.to_dict() for r in from_prom] == [r.to_dict() for r in from_samples]


def test_the_oom_kill_is_the_same_single_piece_of_evidence_in_both(both):
    sample, agg, extra = both  # krr-oom: KRR reads OOM kills only with --use_oomkill_data
    for recs in (recommend(sample.usage, sample.specs, sample.events, strategy="krr-oom"),
                 recommend_from_rollups(agg, extra.specs, extra.events, strategy="krr-oom")):
        db = next(r for r in recs if r.workload == "db")
        assert "1 OOM kill(s): at least the limit in force 8192 MiB x1.25" in db.reasons
        assert db.memory_limit_mib == 10240


def test_only_summaries_travel(prometheus, prom_data):
    with FaultProxy(prometheus.url) as proxy:
        collect_prometheus(PrometheusClient(proxy.url), window=WINDOW, step=STEP,
                           now=prom_data.end)
        sample_bytes = proxy.bytes_sent
        rollups_from_prometheus(PrometheusClient(proxy.url), window=WINDOW, step=STEP,
                                now=prom_data.end)
        agg_bytes = proxy.bytes_sent - sample_bytes
    assert agg_bytes < sample_bytes / 2, (agg_bytes, sample_bytes)


def test_partial_failure_is_reported_and_total_failure_raises(prometheus, prom_data):
    with FaultProxy(prometheus.url, fail_match='namespace="batch"') as proxy:
        errors: list[str] = []
        recs = recommend_from_prometheus(PrometheusClient(proxy.url), window=WINDOW, step=STEP,
                                         now=prom_data.end, errors=errors)
    assert {r.namespace for r in recs} == {"shop"}
    assert errors and all(e.startswith("batch:") for e in errors)
    with FaultProxy(prometheus.url, mode="500") as proxy, pytest.raises(SourceError):
        recommend_from_prometheus(PrometheusClient(proxy.url), window=WINDOW, step=STEP,
                                  now=prom_data.end, namespace="shop")
