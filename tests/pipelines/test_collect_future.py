"""What ``collect`` stores meets the rule of ``import`` and ``--from``: samples stamped more than
10 minutes after our clock come from a source whose clock runs ahead and are left out, counted
in the import's words.  Each collector kind is driven without its real server: Kubernetes
through the recorded API stand-in, Docker and Prometheus through clients injected in their
place that answer as a daemon or a server whose clock is ahead would."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from quotatune.pipelines.collect import (
    collect_docker,
    collect_kubernetes,
    collect_prometheus,
    into_store,
    kubernetes_api,
)
from quotatune.store.history import Store
from tests.conftest import FIXTURES
from tests.support.k8s_standin import StandIn, honeycomb_cluster, kubeconfig, kubelet_ahead


def note(count: int, after: str, what: str = "sample") -> str:
    return (f"ignored {count} {what}(s) stamped in the future (after {after}): "
            "check the source's clock")


# -- Kubernetes ------------------------------------------------------------------------------

# The recorded metrics-server stamped its samples 2021-08-13 10:24:42..57Z: our clock then.
K8S_NOW = pd.Timestamp("2021-08-13T10:25:00Z")


def test_a_kubelet_ahead_of_the_clock_stores_none_of_its_samples(tmp_path: Path) -> None:
    """duckboat-01's kubelet runs a day ahead: its 12 samples are left out; the 18 that
    metrics.k8s.io gives for the pods of the other node are stored, as are every pod's specs.
    The stand-in's FailedScheduling event is dated 2026, years after this clock: left out
    too, the 2020 events stored."""
    since_2020 = K8S_NOW.to_pydatetime() - pd.Timestamp("2020-09-16T03:31:00Z").to_pydatetime()
    cluster = kubelet_ahead(honeycomb_cluster(), "duckboat-01", since_2020 + timedelta(days=1))
    with StandIn(cluster) as api:
        client = kubernetes_api(str(kubeconfig(tmp_path / "kc", api.url)), None)
        data = collect_kubernetes(client, now=K8S_NOW)
    assert len(data.usage) == 30

    written = into_store(data, tmp_path / "st", now=K8S_NOW)

    assert written.future == 12 and written.report.samples_added == 18
    assert written.future_events == 1
    assert written.notes == [note(12, "2021-08-13T10:35Z"), note(1, "2021-08-13T10:35Z", "event")]
    stored = Store(tmp_path / "st").read_usage()
    assert len(stored) == 18 and stored["timestamp"].max() <= K8S_NOW
    assert "duckboat-01" not in set(stored["node"])
    assert Store(tmp_path / "st").read_specs()["pod"].nunique() == 11
    events = Store(tmp_path / "st").read_events()
    assert len(events) == len(data.events) - 1 and events["timestamp"].max() <= K8S_NOW
    assert "FailedScheduling" not in set(events["reason"])


# -- Docker ----------------------------------------------------------------------------------

DOCKER = FIXTURES / "docker"
READ_AT = pd.Timestamp("2026-11-27T23:30:41.040399338Z")  # the recorded stats' "read"


class RecordedDaemon:
    """A Docker daemon that answers with the payloads recorded from a real dockerd 20.10
    (tests/fixtures/docker): one running compose container (shop/web) whose stats it read at
    ``READ_AT`` by its own clock.  Only the read-only calls the collector makes exist."""

    def __init__(self) -> None:
        self.inspected = json.loads((DOCKER / "dockerd_20_10_inspect_compose_web.json")
                                    .read_text())
        self.stats_payload = json.loads((DOCKER / "dockerd_20_10_cgroup_v1_stats_busy.json")
                                        .read_text())

    def info(self) -> dict[str, Any]:
        return {"Name": "recorded"}

    def containers(self, filters: Any = None, **_: Any) -> list[dict[str, Any]]:
        return [{"Id": self.inspected["Id"], "Names": [self.inspected["Name"]]}]

    def inspect_container(self, cid: str) -> dict[str, Any]:
        return self.inspected

    def stats(self, cid: str, **_: Any) -> dict[str, Any]:
        return self.stats_payload


@pytest.mark.parametrize("ahead,stored", [(timedelta(minutes=5), 1), (timedelta(hours=1), 0)])
def test_a_docker_daemon_ahead_of_the_clock(tmp_path: Path, ahead: timedelta,
                                            stored: int) -> None:
    """Within the 10 minutes two clocks may differ, the sample is stored; an hour ahead, it
    is left out and said, and the container's spec is stored either way."""
    data = collect_docker(RecordedDaemon(), use_cgroups=False, include_exited=False)
    assert data.errors == [] and len(data.usage) == 1
    ours = READ_AT - ahead

    written = into_store(data, tmp_path / "st", now=ours)

    assert written.report.samples_added == stored and written.future == 1 - stored
    limit = (ours + pd.Timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%MZ")
    assert written.notes == ([] if stored else [note(1, limit)])
    assert len(Store(tmp_path / "st").read_usage()) == stored
    assert Store(tmp_path / "st").read_specs()["workload"].tolist() == ["web"]
    assert len(data.usage) == 1  # what the collector gave is left as it was


# -- Prometheus ------------------------------------------------------------------------------

PROM_NOW = pd.Timestamp("2026-11-27T12:00:00Z")
SERIES = {"namespace": "shop", "pod": "web-0", "container": "app"}


class ServerAhead:
    """A Prometheus server that holds samples up to whatever time it is asked about (a
    kubelet whose clock runs ahead, its cAdvisor timestamps kept): shop/web-0's CPU and memory
    at every step of a range query; nothing else (no owners, requests or kills)."""

    url = "http://prometheus.test"
    requests_sent = 0

    def redact(self, text: str) -> str:
        return text

    def close(self) -> None:
        pass

    def label_values(self, label: str, match: str, start: float, end: float) -> Any:
        return {"status": "success", "data": ["shop"]}

    def series(self, match: str, start: float, end: float) -> Any:
        return {"status": "success", "data": [SERIES]}

    def query(self, query: str, at: float) -> Any:
        return {"status": "success", "data": {"resultType": "vector", "result": []}}

    def query_range(self, query: str, start: float, end: float, step: float) -> Any:
        value = ("0.25" if "container_cpu_usage_seconds_total" in query
                 else str(2**28) if "container_memory_working_set_bytes" in query else None)
        steps = np.arange(start, end + step / 2, step)
        result = [] if value is None else [
            {"metric": SERIES, "values": [[float(t), value] for t in steps]}]
        return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def test_prometheus_steps_past_the_clock_are_not_stored(tmp_path: Path) -> None:
    """Asked for the hour up to 40 minutes past our clock (``--now`` ahead), the server
    answers every minute of it: the 30 minutes beyond the tolerance are left out."""
    data = collect_prometheus(ServerAhead(), window=timedelta(hours=1),  # type: ignore[arg-type]
                              step=timedelta(minutes=1),
                              now=(PROM_NOW + pd.Timedelta(minutes=40)).to_pydatetime(),
                              max_concurrency=1)
    assert data.errors == [] and len(data.usage) == 61

    written = into_store(data, tmp_path / "st", now=PROM_NOW)

    assert written.future == 30 and written.report.samples_added == 31
    assert written.notes == [note(30, "2026-11-27T12:10Z")]
    stored = Store(tmp_path / "st").read_usage()
    assert stored["timestamp"].max() == PROM_NOW + pd.Timedelta(minutes=10)
