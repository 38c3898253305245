"""One series with a name no platform allows does not fail a Prometheus collection: it is left
out, counted in a note naming the first such label value (escaped), and every other series
is stored.  The server is a client injected in its place that answers in the shapes of the
recorded payloads (tests/fixtures/prometheus), not a live Prometheus."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quotatune.pipelines.collect import collect_prometheus, into_store
from quotatune.sources.prometheus.aggregate import rollups_from_prometheus
from quotatune.store.history import Store

NOW = pd.Timestamp("2026-11-27T12:00:00Z")
WEB = {"namespace": "shop", "pod": "web-0", "container": "app"}
# A relabelling rule that copied a pod annotation into the label: ESC [2J clears a terminal.
HOSTILE = {"namespace": "shop", "pod": "web-1\x1b[2J", "container": "app"}
NOTE = ('left out the series of 1 label value(s) that no platform allows in a name '
        '(the first: pod="web-1\\x1b[2J", holding \\x1b)')


class Server:
    """shop's two pods, CPU and memory at every step of a range query, as Prometheus answers
    (``status``, ``data.resultType``, one ``metric`` and ``values`` per series); no
    kube-state-metrics series."""

    url = "http://prometheus.test"
    requests_sent = 0

    def redact(self, text: str) -> str:
        return text

    def close(self) -> None:
        pass

    def label_values(self, label: str, match: str, start: float, end: float) -> Any:
        return {"status": "success", "data": ["shop"]}

    def series(self, match: str, start: float, end: float) -> Any:
        return {"status": "success", "data": [WEB, HOSTILE]}

    def query(self, query: str, at: float) -> Any:
        return {"status": "success", "data": {"resultType": "vector", "result": []}}

    def query_range(self, query: str, start: float, end: float, step: float) -> Any:
        value = ("0.25" if "container_cpu_usage_seconds_total" in query
                 else str(2**28) if "container_memory_working_set_bytes" in query else None)
        steps = np.arange(start, end + step / 2, step)
        result = [] if value is None else [
            {"metric": m, "values": [[float(t), value] for t in steps]} for m in (WEB, HOSTILE)]
        return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def test_the_other_series_are_collected_and_stored(tmp_path: Path) -> None:
    data = collect_prometheus(Server(), window=timedelta(hours=1),  # type: ignore[arg-type]
                              step=timedelta(minutes=1), now=NOW.to_pydatetime(),
                              max_concurrency=2)

    assert data.errors == []
    assert NOTE in data.notes
    assert set(data.usage["pod"]) == {"web-0"} and len(data.usage) == 61
    written = into_store(data, tmp_path / "st", now=NOW)
    assert written.report.samples_added == 61
    assert set(Store(tmp_path / "st").read_usage()["pod"]) == {"web-0"}



class RollupServer(Server):
    """Answers every rollup query of ``recommend --prometheus`` (histogram buckets, sums,
    peaks, first and last times per day) with the same value for both pods, in bucket 3:
    enough to show which series come through, not what the rollups hold."""

    def query_range(self, query: str, start: float, end: float, step: float) -> Any:
        steps = np.arange(start, end + step / 2, step)
        result = [{"metric": {**m, "b": "3"}, "values": [[float(t), "1"] for t in steps]}
                  for m in (WEB, HOSTILE)]
        return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def test_recommend_prometheus_leaves_it_out_the_same_way() -> None:
    rollups, extra = rollups_from_prometheus(
        RollupServer(), window=timedelta(days=1),  # type: ignore[arg-type]
        step=timedelta(minutes=1), now=NOW.to_pydatetime(), rules=False)

    assert extra.errors == [] and NOTE in extra.notes
    assert set(rollups["pod"]) == {"web-0"} and not rollups.empty
