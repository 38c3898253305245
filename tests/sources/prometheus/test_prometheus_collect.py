"""collect prometheus against a real Prometheus whose TSDB was backfilled with cAdvisor and
kube-state-metrics series (tests/support/prometheus.py), plus faults in front of it."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from quotatune.sources.prometheus.client import PrometheusClient
from quotatune.sources.prometheus.collector import collect_prometheus
from quotatune.store.history import Store
from tests.conftest import run_cli
from tests.support import prometheus as support
from tests.support.prometheus import FaultProxy, PromData, free_port, start_prometheus

# The real server and its data (session fixtures, shared with the aggregate tests).
prom_data = support.prom_data
prometheus = support.prometheus

pytestmark = pytest.mark.prometheus
WINDOW = timedelta(days=3)
STEP = timedelta(minutes=1)
POINTS = 3 * 1440 + 1  # both ends of the window are steps


def collect(url: str, data: PromData, **kw) -> tuple:
    client = PrometheusClient(url, **{k: kw.pop(k) for k in list(kw) if k in (
        "token", "timeout", "retries", "on_request", "basic_auth")}, backoff=0.05)
    got = collect_prometheus(client, window=kw.pop("window", WINDOW), step=STEP, now=data.end,
                             **kw)
    return got, client


@pytest.fixture(scope="module")
def collected(prometheus, prom_data):
    got, _ = collect(prometheus.url, prom_data)
    assert got.errors == []
    return got


def _one(usage: pd.DataFrame, container: str) -> pd.DataFrame:
    return usage[usage["container"] == container].set_index("timestamp").sort_index()


def _expected_rate(truth: pd.DataFrame, container: str, col: str) -> pd.Series:
    # rate(...[2m]) at t over samples at t-2m, t-1m, t of a per-minute counter: the mean of
    # the two minutes' usage (no extrapolation: samples sit exactly on the window edges).
    t = truth[truth["container"] == container].set_index("timestamp")[col].sort_index()
    return (t + t.shift(1)) / 2


def test_every_container_every_minute_and_nothing_else(collected):
    u = collected.usage
    assert sorted(u["container"].unique()) == ["app", "postgres", "worker"]
    assert u.groupby("container").size().tolist() == [POINTS] * 3
    assert set(u["platform"]) == {"kubernetes"}
    steps = u[u["container"] == "app"]["timestamp"].sort_values().diff().dropna()
    assert (steps == pd.Timedelta(minutes=1)).all()


def test_workloads_from_owner_metrics_else_from_the_pod_name(collected):
    w = collected.usage.drop_duplicates("container").set_index("container")
    assert w.loc["app", ["workload", "workload_kind"]].tolist() == ["web", "Deployment"]
    assert w.loc["postgres", ["workload", "workload_kind"]].tolist() == ["db", "StatefulSet"]
    assert w.loc["worker", ["namespace", "workload", "workload_kind"]].tolist() == [
        "batch", "worker", ""]


def test_cpu_is_the_rate_of_the_counter_across_its_reset(collected, prom_data):
    for c in ("app", "postgres", "worker"):
        got = _one(collected.usage, c)["cpu_cores"]
        want = _expected_rate(prom_data.truth, c, "cpu_cores").reindex(got.index)
        assert np.allclose(got, want, rtol=0, atol=2e-5), c
    around = _one(collected.usage, "app")["cpu_cores"]
    t = pd.Timestamp(prom_data.reset_at)
    window = around[t - pd.Timedelta(minutes=3): t + pd.Timedelta(minutes=3)]
    assert len(window) == 7  # the reset is inside the collected window
    assert window.max() <= prom_data.truth["cpu_cores"].max()  # no spike from the reset


def test_memory_is_the_working_set_as_written(collected, prom_data):
    for c in ("app", "postgres", "worker"):
        got = _one(collected.usage, c)["memory_working_set_bytes"]
        t = prom_data.truth[prom_data.truth["container"] == c].set_index("timestamp")["memory"]
        assert (got == t.reindex(got.index)).all(), c
    # The pause container and the pod cgroup (700 MB each) never leak in.
    assert not (collected.usage["memory_working_set_bytes"] == 7e8).any()


def test_throttling_ratio_where_there_is_a_cpu_limit(collected, prom_data):
    app = _one(collected.usage, "app")["cpu_throttled_ratio"]
    want = _expected_rate(prom_data.truth, "app", "throttled_ratio").reindex(app.index)
    assert np.allclose(app, want, atol=1e-9)
    assert app.max() > 0
    assert _one(collected.usage, "worker")["cpu_throttled_ratio"].isna().all()


def test_requests_and_limits_from_kube_state_metrics(collected):
    first = collected.usage.drop_duplicates("container").set_index("container")
    assert first.loc["app", "cpu_request_cores"] == 0.5
    assert first.loc["app", "memory_limit_bytes"] == 4 << 30
    assert np.isnan(first.loc["worker", "cpu_request_cores"])
    specs = collected.specs.set_index("container")
    assert sorted(specs.index) == ["app", "postgres"]
    assert specs.loc["postgres", "memory_request_bytes"] == 1 << 30
    assert specs.loc["postgres", "workload"] == "db"


def test_the_oom_kill_is_one_event_with_its_exit_code(collected, prom_data):
    ev = collected.events
    oom = ev[ev["oom_killed"].astype(bool)]
    assert len(oom) == 1, ev  # the cgroup counter and ksm saw the same kill
    row = oom.iloc[0]
    assert (row["namespace"], row["workload"], row["container"]) == ("shop", "db", "postgres")
    assert row["timestamp"] == pd.Timestamp(prom_data.oom_at)
    assert row["exit_code"] == 137 and row["reason"] == "OOMKilled"


def test_the_oom_counter_alone_still_gives_the_event(prometheus, prom_data):
    # kube-state-metrics' series unreadable: the cAdvisor counter's increase is the evidence.
    with FaultProxy(prometheus.url, fail_match="kube_pod_container_status") as proxy:
        got, _ = collect(proxy.url, prom_data, namespace="shop")
    ev = got.events
    assert ev["kind"].tolist() == ["oom-event"]
    assert ev["timestamp"].iloc[0] == pd.Timestamp(prom_data.oom_at)
    assert any("last_terminated_reason" in e for e in got.errors)


def test_split_queries_give_the_same_data_as_one_query(prometheus, prom_data, collected):
    small, client = collect(prometheus.url, prom_data, max_points=500)
    key = ["namespace", "pod", "container", "timestamp"]
    a = collected.usage.sort_values(key).reset_index(drop=True)
    b = small.usage.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    assert client.requests_sent > 3 * 9  # ceil(4321 / 500) = 9 chunks per series and namespace


def test_a_namespace_with_many_pods_is_split_by_pod_with_the_same_result(prometheus, prom_data,
                                                                         collected):
    one, c1 = collect(prometheus.url, prom_data, namespace="shop")
    split, c2 = collect(prometheus.url, prom_data, namespace="shop", max_pods=1)
    key = ["namespace", "pod", "container", "timestamp"]
    pd.testing.assert_frame_equal(one.usage.sort_values(key).reset_index(drop=True),
                                  split.usage.sort_values(key).reset_index(drop=True))
    assert c2.requests_sent == c1.requests_sent + 3  # one more group of three series


def test_namespace_and_selector_narrow_the_queries(prometheus, prom_data):
    got, _ = collect(prometheus.url, prom_data, namespace="batch")
    assert set(got.usage["container"]) == {"worker"}
    got, _ = collect(prometheus.url, prom_data, selector='{container="app"}')
    assert set(got.usage["container"]) == {"app"}


# -- the command, end to end ----------------------------------------------------------------


def test_cli_collects_into_the_store_and_a_second_run_adds_nothing_twice(prometheus, tmp_path):
    store = tmp_path / "store"
    r = run_cli("collect", "prometheus", "--url", prometheus.url, "--window", "2d",
                "--store", str(store))
    assert r.code == 0, r.stderr
    assert "3 container(s)" in r.stdout
    usage = Store(store).read_usage()
    assert usage.groupby("container").size().min() >= 2 * 1440
    assert Store(store).read_events()["oom_killed"].astype(bool).sum() == 1
    again = run_cli("collect", "prometheus", "--url", prometheus.url, "--window", "2d",
                    "--store", str(store))
    assert again.code == 0, again.stderr
    after = Store(store).read_usage()
    key = ["namespace", "pod", "container", "timestamp"]
    assert not after.duplicated(key).any()
    assert "already stored" in again.stdout


def test_cli_bad_flags_are_one_line_and_exit_2(prometheus, tmp_path):
    for args, msg in (
        (["--window", "two weeks"], "--window: not a duration"),
        (["--step", "0s"], "--step: not a duration"),
        (["--selector", "job=kubelet"], "--selector"),
        (["--header", "NoColonHere"], "--header"),
        (["--token-env", "QT_UNSET_VAR_XYZ"], "QT_UNSET_VAR_XYZ is not set"),
    ):
        r = run_cli("collect", "prometheus", "--url", prometheus.url, *args,
                    "--store", str(tmp_path))
        assert r.code == 2, (args, r.stderr)
        assert msg in r.stderr and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


def test_bearer_token_reaches_the_server_and_never_the_output(prometheus, tmp_path):
    token = "s3cr3t-T0KEN-value"
    with FaultProxy(prometheus.url) as proxy:
        r = run_cli("collect", "prometheus", "--url", proxy.url, "--window", "1h",
                    "--token-env", "QT_TOKEN", "--header", "X-Scope-OrgID: team-a",
                    "--store", str(tmp_path), env={"QT_TOKEN": token})
    assert r.code == 0, r.stderr
    assert set(proxy.auth_headers) == {f"Bearer {token}"}
    assert token not in r.stdout + r.stderr
    with FaultProxy(prometheus.url, mode="401") as proxy:
        r = run_cli("collect", "prometheus", "--url", proxy.url, "--token-env", "QT_TOKEN",
                    "--store", str(tmp_path), env={"QT_TOKEN": token})
    assert r.code == 2
    assert "not authorised" in r.stderr and token not in r.stdout + r.stderr


def test_tls_with_a_ca_file_or_skip_verify_and_never_silently_unverified(prometheus, tmp_path):
    pair = support.self_signed_cert(tmp_path)
    if pair is None:
        pytest.skip("the openssl CLI is not installed: no certificate to serve")
    cert, _ = pair
    with FaultProxy(prometheus.url, tls=pair) as proxy:
        assert proxy.url.startswith("https://")
        ok = run_cli("collect", "prometheus", "--url", proxy.url, "--window", "1h",
                     "--ca-file", str(cert), "--store", str(tmp_path / "a"))
        assert ok.code == 0, ok.stderr
        bad = run_cli("collect", "prometheus", "--url", proxy.url, "--window", "1h",
                      "--store", str(tmp_path / "b"))
        assert bad.code == 2 and "certificate verify failed" in bad.stderr
        skip = run_cli("collect", "prometheus", "--url", proxy.url, "--window", "1h",
                       "--insecure-skip-verify", "--store", str(tmp_path / "c"))
        assert skip.code == 0, skip.stderr
        assert skip.stderr.count("not checked") == 1 and "InsecureRequestWarning" not in skip.stderr
    missing = run_cli("collect", "prometheus", "--url", proxy.url, "--ca-file",
                      str(tmp_path / "nope.pem"))
    assert missing.code == 2 and "--ca-file" in missing.stderr


def test_passwords_in_the_url_and_basic_auth_never_show():
    port = free_port()  # nothing listens there
    client = PrometheusClient(f"http://admin:pa55word@127.0.0.1:{port}/prom", token="tok3n",
                              retries=1, backoff=0.0)
    assert client.url == f"http://127.0.0.1:{port}/prom"
    with pytest.raises(Exception) as e:
        client.query("up", 0)
    assert "refused" in str(e.value).lower()
    for secret in ("pa55word", "tok3n", "admin:"):
        assert secret not in str(e.value)
    r = run_cli("collect", "prometheus", "--url", f"http://u:pa55word@127.0.0.1:{port}",
                "--store", "/nonexistent-store")
    assert r.code == 2 and "refused" in r.stderr.lower()
    assert "pa55word" not in r.stdout + r.stderr


# -- faults ---------------------------------------------------------------------------------


def test_an_error_answer_is_recorded_once_and_garbage_is_named(prometheus, prom_data):
    with FaultProxy(prometheus.url, fail_match="max by (namespace, pod, container) "
                                               "(container_memory") as proxy:
        got, client = collect(proxy.url, prom_data, namespace="batch")
    # A 500 carrying a Prometheus error body is an answer, not an outage: recorded, no retry.
    assert len(got.errors) == 1
    assert got.errors[0].startswith("batch: memory") and "injected failure" in got.errors[0]
    assert got.usage.empty  # no memory, no usage rows: said, not invented
    with FaultProxy(prometheus.url, mode="pass") as proxy:
        proxy.mode = "garbage"
        got, client = collect(proxy.url, prom_data, namespace="batch", retries=2)
    assert got.usage.empty
    assert all("not JSON" in e for e in got.errors)
    assert proxy.requests == client.requests_sent


def test_a_slow_server_times_out_and_the_collection_stops(prometheus, prom_data):
    with FaultProxy(prometheus.url, mode="slow", delay=2.0) as proxy:
        got, client = collect(proxy.url, prom_data, timeout=0.5, retries=1)
    assert client.requests_sent == 2  # one query, one retry, then it stops asking
    assert any("no answer within 0.5 s (after 2 attempts)" in e for e in got.errors)
    assert got.usage.empty


def test_partial_data_says_what_is_missing(prometheus, prom_data, collected):
    with FaultProxy(prometheus.url, fail_match="cfs_throttled") as proxy:
        got, _ = collect(proxy.url, prom_data)
    assert len(got.usage) == len(collected.usage)
    assert "cpu_throttled_ratio" not in got.usage.columns
    assert {e.split(":")[0] for e in got.errors} == {"batch", "shop"}
    assert all("cpu throttling" in e for e in got.errors)
    with FaultProxy(prometheus.url, fail_match="kube_pod_owner") as proxy:
        got, _ = collect(proxy.url, prom_data, namespace="shop")
    assert set(got.usage["workload"]) == {"web", "db"}  # fell back to pod names
    assert any("kube_pod_owner" in e for e in got.errors)


def test_prometheus_killed_mid_collection_then_the_next_run_carries_on(prom_data, tmp_path):
    server = start_prometheus(prom_data.blocks, tmp_path)
    sent = []

    def kill_on_fourth(endpoint, params):
        sent.append(endpoint)
        if len(sent) >= 4:  # queries run in threads: >= (kill is idempotent), not ==
            server.kill()

    try:
        got, client = collect(server.url, prom_data, on_request=kill_on_fourth, retries=2)
        assert got.errors, "a killed server must be reported"
        assert any("refused" in e.lower() or "reset" in e.lower() or "closed" in e.lower()
                   for e in got.errors)
        assert any("not collected" in e for e in got.errors)
        assert client.requests_sent < 20  # bounded: it stopped asking a dead server
        store = Store(tmp_path / "store")
        if not got.usage.empty:
            store.append(got)
        server = start_prometheus(prom_data.blocks, tmp_path)  # same data dir, new process
        full, _ = collect(server.url, prom_data)
        assert full.errors == []
        store.append(full)
        back = store.read_usage()
        assert len(back) == 3 * POINTS
        assert not back.duplicated(["namespace", "pod", "container", "timestamp"]).any()
    finally:
        server.stop()
