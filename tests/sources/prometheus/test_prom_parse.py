"""Parsing Prometheus API responses: real recorded payloads, dirty data, and fuzzing."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quotatune.model.durations import parse_duration
from quotatune.model.errors import InputError, SourceError
from quotatune.sources.prometheus import events as pe
from quotatune.sources.prometheus import parse as pp
from quotatune.sources.prometheus.queries import check_selector, time_chunks
from tests.conftest import FIXTURES
from tests.support.contracts import assert_well_formed

PROM = FIXTURES / "prometheus"


def load(name: str) -> dict:
    return json.loads((PROM / name).read_text())


def test_matrix_of_real_cadvisor_series_becomes_one_row_per_point():
    resp = load("matrix_memory.json")
    df = pp.parse_prom_matrix(resp)
    points = sum(len(s["values"]) for s in resp["data"]["result"])
    assert len(df) == points
    assert {"namespace", "pod", "container", "timestamp", "value"} <= set(df.columns)
    assert str(df["timestamp"].dt.tz) == "UTC"
    first = resp["data"]["result"][0]
    m = first["metric"]
    row = df[(df["pod"] == m["pod"]) & (df["container"] == m["container"])]
    assert row["value"].iloc[0] == float(first["values"][0][1])
    assert row["timestamp"].iloc[0] == pd.Timestamp(first["values"][0][0], unit="s", tz="UTC")


def test_pod_cgroups_and_pause_containers_are_not_containers():
    df = pp.parse_prom_vector(load("vector_cpu_raw.json"))
    assert (df["container"] == "").any()  # the capture has pod- and node-level cgroups
    paused = df.iloc[:1].assign(container="POD")
    rows, dropped = pp.container_rows(pd.concat([df, paused]), "cpu")
    assert dropped == 0
    assert not rows["container"].isin(["", "POD"]).any()
    assert len(rows) == int(((df["container"] != "") & (df["namespace"] != "")).sum())


def test_nan_infinite_and_negative_samples_are_counted_not_used():
    resp = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"namespace": "a", "pod": "p", "container": "c"},
         "values": [[1, "1.5"], [2, "NaN"], [3, "+Inf"], [4, "-2"], [5, "0"]]}]}}
    rows, dropped = pp.container_rows(pp.parse_prom_matrix(resp), "v")
    assert dropped == 3
    assert rows["v"].tolist() == [1.5, 0.0]


def test_a_throttled_share_is_at_most_one_and_never_negative_or_infinite():
    """rate(throttled) / rate(periods) extrapolates each counter on its own: every period
    throttled can read 1.0004.  No share above 1 reaches validation, which refuses it."""
    resp = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"namespace": "a", "pod": "p", "container": "c"},
         "values": [[1, "0.25"], [2, "1.0004"], [3, "+Inf"], [4, "-0.5"], [5, "NaN"],
                    [6, "1"]]}]}}
    rows = pp.throttled_rows(pp.parse_prom_matrix(resp))
    assert rows["cpu_throttled_ratio"].tolist() == [0.25, 1.0, 1.0]


def test_workloads_come_from_owner_metrics_through_replicasets():
    owners = pp.owner_map(pp.parse_prom_vector(load("vector_kube_pod_owner.json")),
                          pp.parse_prom_vector(load("vector_kube_replicaset_owner.json")))
    got = {p: (w, k) for p, w, k in owners[["pod", "workload", "workload_kind"]].itertuples(
        index=False)}
    assert got["e2e-deployment-79967c5968-8bnn8"] == ("e2e-deployment", "Deployment")
    assert got["metrics-server-9d74bb658-c6nnt"] == ("metrics-server", "Deployment")
    assert got["e2e-statefulset-0"] == ("e2e-statefulset", "StatefulSet")
    assert got["kindnet-zkpn8"] == ("kindnet", "DaemonSet")
    assert got["e2e-failjob-28dqq"] == ("e2e-failjob", "Job")
    # Static pods (owned by the Node) and bare pods fall back to the pod name.
    assert "kube-apiserver-datagen-1-35" not in got
    assert "e2e-container-pending" not in got


def test_without_owner_metrics_the_pod_name_gives_the_workload():
    usage = pd.DataFrame({"namespace": ["a", "a"], "pod": ["web-7d4b9c8f6d-x2k9p", "db-0"],
                          "container": ["app", "pg"]})
    out = pp.apply_workloads(usage, pp.owner_map(pd.DataFrame(), pd.DataFrame()))
    assert out["workload"].tolist() == ["web", "db"]


def test_a_replicaset_without_its_owner_metric_loses_its_hash():
    po = pd.DataFrame({"namespace": ["a"], "pod": ["web-7d4b9c8f6d-x2k9p"],
                       "owner_kind": ["ReplicaSet"], "owner_name": ["web-7d4b9c8f6d"]})
    owners = pp.owner_map(po, pd.DataFrame())
    assert owners["workload"].tolist() == ["web"]


def test_requests_keep_their_resource_and_unit():
    df = pp.parse_prom_vector(load("vector_ksm_requests.json"))
    row = df[(df["pod"] == "e2e-statefulset-0") & (df["resource"] == "memory")]
    assert row["value"].tolist() == [15728640.0]
    assert row["unit"].tolist() == ["byte"]


def test_error_bodies_become_one_clear_line():
    with pytest.raises(pp.PrometheusError, match=r"bad_data.*unclosed left parenthesis") as e:
        pp.parse_prom_vector(load("error_bad_data.json"))
    assert e.value.error_type == "bad_data"
    with pytest.raises(pp.PrometheusError, match="execution") as e:
        pp.parse_prom_vector(load("error_execution.json"))
    assert "\n" not in str(e.value)


def test_label_values_and_warnings():
    assert pp.parse_label_values(load("labels_namespace.json")) == ["kube-system", "scraper"]
    resp = {**load("matrix_memory.json"), "warnings": ["store  unavailable:\nshard 3"]}
    assert pp.warnings_of(resp) == ["store unavailable: shard 3"]


def test_wrong_result_type_is_named():
    with pytest.raises(InputError, match="expected a matrix result, got 'vector'"):
        pp.parse_prom_matrix(load("vector_cpu_raw.json"))


# -- names no platform allows: the series is left out, every other one kept -----------------

def relabelled(resp: dict, label: str, old: str, new: str) -> dict:
    """``resp`` with ``label`` of every series that has it at ``old`` set to ``new`` (a
    relabelling rule or a pushed series can set a label to anything)."""
    out = json.loads(json.dumps(resp))
    hit = [s for s in out["data"]["result"] if s["metric"].get(label) == old]
    assert hit, (label, old)
    for series in hit:
        series["metric"][label] = new
    return out


def test_a_pod_label_holding_an_escape_leaves_out_its_series_only():
    resp = load("matrix_memory.json")
    whole = pp.parse_prom_matrix(resp)
    bad = pp.BadNames()
    df = pp.parse_prom_matrix(
        relabelled(resp, "pod", "e2e-statefulset-0", "e2e-statefulset-0\x1b[2J"), bad_names=bad)

    # The pod's three cAdvisor series (its container, its pod cgroup, its pause container).
    assert len(df) == len(whole) - 3
    assert set(whole["pod"]) - set(df["pod"]) == {"e2e-statefulset-0"}
    assert bad.values == {("pod", "e2e-statefulset-0\x1b[2J")}
    assert bad.note() == ('left out the series of 1 label value(s) that no platform allows in '
                          'a name (the first: pod="e2e-statefulset-0\\x1b[2J", holding \\x1b)')


def test_a_cgroup_path_is_no_name_and_the_recorded_payloads_lose_nothing():
    """cAdvisor's ``id`` label is a cgroup path, full of '/': not a name."""
    for name, parse in (("matrix_memory.json", pp.parse_prom_matrix),
                        ("vector_cpu_raw.json", pp.parse_prom_vector),
                        ("vector_ksm_requests.json", pp.parse_prom_vector),
                        ("vector_kube_pod_owner.json", pp.parse_prom_vector),
                        ("vector_kube_replicaset_owner.json", pp.parse_prom_vector)):
        bad = pp.BadNames()
        assert len(parse(load(name), bad_names=bad)) == len(parse(load(name))), name
        assert bad.values == set() and bad.note() is None


def test_an_owner_with_a_slash_or_a_bidi_override_leaves_its_pod_to_its_own_name():
    """An owner becomes the workload, which may hold no '/' (it would split a TARGET) and
    no bidirectional override: the owner's series is left out, so the pod's workload comes
    from its own name, as for a pod without owner metrics."""
    resp = relabelled(load("vector_kube_pod_owner.json"), "owner_name", "e2e-statefulset",
                      "e2e/statefulset")
    resp = relabelled(resp, "namespace", "kube-system", "kube-\u202esystem")
    bad = pp.BadNames()
    pods = pp.parse_prom_vector(resp, bad_names=bad)
    owners = pp.owner_map(pods, pp.parse_prom_vector(load("vector_kube_replicaset_owner.json")))

    assert bad.values == {("owner_name", "e2e/statefulset"),
                          ("namespace", "kube-\u202esystem")}
    assert "e2e-statefulset-0" not in set(owners["pod"])
    assert not owners["namespace"].str.contains("\u202e").any()
    assert not owners["workload"].str.contains("/").any()
    usage = pd.DataFrame({"namespace": ["scraper"], "pod": ["e2e-statefulset-0"],
                          "container": ["app"]})
    assert pp.apply_workloads(usage, owners)["workload"].tolist() == ["e2e-statefulset"]
    # The first by label, then value (whatever order the answers came in), escaped.
    assert bad.note() == ('left out the series of 2 label value(s) that no platform allows in '
                          'a name (the first: namespace="kube-\\u202esystem", holding \\u202e)')
    slash = pp.BadNames()
    assert slash.found_in({"owner_name": "e2e/statefulset", "pod": "e2e-statefulset-0"})
    assert str(slash.note()).endswith('(the first: owner_name="e2e/statefulset", holding \'/\')')


def test_the_first_value_is_cut_and_each_value_counts_once():
    bad = pp.BadNames()
    resp = relabelled(load("matrix_memory.json"), "container", "compute-pi-digits",
                      "pi" * 40 + "\x07")
    for _ in range(3):  # CPU, memory, throttling: the same container in three answers
        pp.parse_prom_matrix(resp, bad_names=bad)
    assert len(bad.values) == 1
    # Cut before the bell: the note still says what the value holds.
    assert bad.note() == ('left out the series of 1 label value(s) that no platform allows in '
                          'a name (the first: container="' + "pi" * 30 + '…", holding \\x07)')


def _counter(values: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"namespace": "a", "pod": "p", "container": "c",
                         "timestamp": pd.date_range("2026-11-01", periods=len(values),
                                                    freq="min", tz="UTC"),
                         "value": values})


def test_oom_counter_increases_are_events_and_resets_are_not():
    ev = pe.oom_events(_counter([0, 0, 1, 1, 3, 0, 0, 1]))
    assert ev["message"].tolist() == ["container_oom_events_total increased by 1",
                                      "container_oom_events_total increased by 2",
                                      "container_oom_events_total increased by 1"]
    assert ev["timestamp"].dt.minute.tolist() == [2, 4, 7]
    assert ev["oom_killed"].all() and (ev["kind"] == "oom-event").all()


def test_terminations_are_dated_by_the_timestamp_metric_when_present():
    reasons = _counter([1, 1, 1]).assign(reason="OOMKilled")
    times = _counter([1.7e9, 1.7e9, 1.7e9])
    codes = _counter([137, 137, 137])
    ev = pe.termination_events(reasons, times, codes, 60)
    assert len(ev) == 1
    assert ev["timestamp"].iloc[0] == pd.Timestamp(1.7e9, unit="s", tz="UTC")
    assert ev["exit_code"].iloc[0] == 137 and bool(ev["oom_killed"].iloc[0])
    empty = pp.parse_prom_matrix({"status": "success", "data": {"resultType": "matrix",
                                                                "result": []}})
    runs = pd.concat([_counter([1, 1]), _counter([1] * 10).iloc[6:]]).assign(reason="Error")
    ev2 = pe.termination_events(runs, empty, empty, 60)
    assert len(ev2) == 2 and ev2["exit_code"].isna().all()


@pytest.mark.parametrize("text,seconds", [("14d", 14 * 86400), ("1m", 60), ("30s", 30),
                                          ("2h", 7200), ("1h30m", 5400), ("1w", 604800)])
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "14", "d", "1x", "-1m", "0s", "1m 2s", "1.5h", "99999w"])
def test_bad_durations_name_the_flag(text):
    with pytest.raises(InputError, match="--window: not a duration"):
        parse_duration(text, "--window")


def test_selectors_are_checked_before_they_reach_promql():
    assert check_selector('{job="kubelet", node=~"a,b.*"}') == 'job="kubelet",node=~"a,b.*"'
    for bad in ['job=kubelet', 'job="x"} or vector(1) or {a="b"', '"', "job"]:
        with pytest.raises(InputError, match="--selector"):
            check_selector(bad)


@given(start=st.integers(0, 10**9), n=st.integers(1, 50_000), step=st.sampled_from([15, 60, 300]),
       max_points=st.integers(2, 11_000))
def test_time_chunks_cover_every_step_once_and_stay_under_the_limit(start, n, step, max_points):
    end = start + (n - 1) * step
    chunks = time_chunks(start, end, step, max_points)
    assert chunks[0][0] == start and chunks[-1][1] == end
    for (_, e), (s2, _) in zip(chunks, chunks[1:], strict=False):
        assert s2 == e + step
    assert all((e - s) / step + 1 <= max_points for s, e in chunks)


# -- fuzzing: whatever comes back, only InputError or a recorded server error ------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=30)


def _parse_all(resp: object) -> None:
    for fn in (pp.parse_prom_matrix, pp.parse_prom_vector, pp.parse_label_values,
               lambda r: pp.parse_prom_matrix(r, bad_names=pp.BadNames()),
               lambda r: pp.parse_prom_vector(r, bad_names=pp.BadNames())):
        try:
            result = fn(resp)
        except (InputError, SourceError) as exc:
            assert str(exc) and "\n" not in str(exc)
        else:
            assert_well_formed(result)


@settings(max_examples=400)
@given(json_values)
def test_arbitrary_json_never_crashes_the_parsers(resp):
    _parse_all(resp)


point = st.lists(st.one_of(st.floats(), st.integers(-10**20, 10**20), st.text(max_size=6),
                           st.none(), st.booleans()), min_size=0, max_size=3)


@settings(max_examples=400)
@given(metric=st.dictionaries(st.text(max_size=5), st.one_of(st.text(max_size=5), st.integers()),
                              max_size=3),
       values=st.lists(point, max_size=5), status=st.sampled_from(["success", "error", None, 1]))
def test_garbled_samples_in_a_well_formed_envelope(metric, values, status):
    resp = {"status": status, "errorType": "timeout", "error": "query timed out",
            "data": {"resultType": "matrix", "result": [{"metric": metric, "values": values}]}}
    _parse_all(resp)
    vec = {"status": status, "data": {"resultType": "vector",
                                      "result": [{"metric": metric, "value": v} for v in values]}}
    _parse_all(vec)


@given(st.text(max_size=20))
def test_arbitrary_duration_text_is_a_duration_or_one_input_error(text):
    try:
        d = parse_duration(text)
        assert d.total_seconds() > 0 and math.isfinite(d.total_seconds())
    except InputError:
        pass


@given(start_min=st.integers(0, 20_000), n=st.integers(1, 8_000),
       step=st.sampled_from([30, 60, 300]), period=st.sampled_from([3600, 86_400]))
def test_aggregate_evaluations_cover_each_point_once_within_one_period(start_min, n, step,
                                                                       period):
    from quotatune.sources.prometheus.aggregate import evaluations

    start = start_min * 60 - (start_min * 60) % step + 1_790_000_000 - 1_790_000_000 % period
    end = start + (n - 1) * step
    seen: list[int] = []
    for lo, hi, span in evaluations(start, end, period, step):
        t = lo
        while t <= hi:
            pts = list(range(int(t - span), int(t) + 1, step))  # the subquery's points
            assert pts[0] >= start and pts[-1] <= end
            assert len({p // period for p in pts}) == 1  # one day (hour) per evaluation
            assert t // period == pts[0] // period  # labelled with that day (hour)
            seen.extend(pts)
            t += period
    assert sorted(seen) == list(range(start, end + 1, step))
