"""Docker Engine payload parsers, on real payloads (tests/fixtures/docker/SOURCES.md) and on
arbitrary input (hypothesis): a garbled payload is an InputError, never another exception."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quotatune.model.errors import InputError
from quotatune.sources.docker.parse import (
    parse_docker_stats,
    parse_inspect,
    parse_log_lines,
    parse_time,
)
from tests.conftest import FIXTURES
from tests.support.contracts import assert_well_formed

FIX = FIXTURES / "docker"


def load(name: str) -> dict:
    return json.loads((FIX / name).read_text())


# ------------------------------------------------------------------------------------ stats
def test_cgroup_v2_working_set_subtracts_inactive_file_and_one_shot_has_no_rate():
    r = parse_docker_stats(load("otel_cgroups_v2_stats.json"))
    # v2 reports inactive_file (0 here: the 233 MB of shmem is not reclaimable cache)
    assert r["memory_usage_bytes"] == 234647552
    assert r["memory_inactive_file_bytes"] == 0
    assert r["memory_working_set_bytes"] == 234647552
    assert r["memory_limit_bytes"] == 268435456
    assert r["name"] == "compassionate_mcnulty"
    assert r["read"] == pd.Timestamp("2023-04-25T11:03:28.719828114Z")
    # precpu is all zeros and preread the zero time: one reading, no rate yet
    assert r["cpu_cores"] is None and r["cpu_note"] == "first reading"


def test_cgroup_v1_working_set_uses_total_inactive_file():
    r = parse_docker_stats(load("otel_single_container_cgroup_v1_stats.json"))
    assert r["memory_working_set_bytes"] == 2887680 - 2162688
    assert r["cpu_total_ns"] == 43620018


def test_rate_from_precpu_of_a_real_two_tick_reading():
    s = load("dockerd_20_10_cgroup_v1_stats_busy.json")
    r = parse_docker_stats(s)
    dt = (pd.Timestamp(s["read"]) - pd.Timestamp(s["preread"])).total_seconds()
    expected = (2261050289 - 1919739047) / 1e9 / dt
    assert r["cpu_cores"] == pytest.approx(expected)
    assert 0 < r["cpu_cores"] <= 0.5 + 1e-9  # the container runs under --cpus 0.5
    assert r["cpu_throttled_ratio"] is not None and 0 <= r["cpu_throttled_ratio"] <= 1


def test_rate_between_two_one_shot_readings_uses_the_previous_one():
    first = parse_docker_stats(load("dockerd_20_10_cgroup_v1_stats_busy.json"))
    later = copy.deepcopy(load("dockerd_20_10_cgroup_v1_stats_busy.json"))
    later["read"] = "2026-11-27T23:30:43.040399338Z"  # two seconds after the first
    later["cpu_stats"]["cpu_usage"]["total_usage"] = first["cpu_total_ns"] + 500_000_000
    r = parse_docker_stats(later, first)
    assert r["cpu_cores"] == pytest.approx(0.25)


def test_counter_going_backwards_is_a_reset_not_a_negative_rate():
    first = parse_docker_stats(load("dockerd_20_10_cgroup_v1_stats_busy.json"))
    restarted = load("dockerd_20_10_cgroup_v1_stats_oneshot_busy.json")
    restarted["read"] = "2026-11-27T23:31:00Z"
    restarted["cpu_stats"]["cpu_usage"]["total_usage"] = 1000  # fresh cgroup
    r = parse_docker_stats(restarted, first)
    assert r["cpu_cores"] is None and r["counter_reset"] is True


@pytest.mark.parametrize("periods, throttled", [
    (70, 2),   # the periods counter went back: no periods to share
    (83, 1),   # the throttled counter went back: a negative share
    (75, 9),   # more throttled than elapsed periods: a share above 1
])
def test_throttling_counters_that_disagree_give_no_share_rather_than_one_out_of_range(
        periods, throttled):
    s = load("dockerd_20_10_cgroup_v1_stats_busy.json")  # 73 -> 83 periods, 2 -> 2 throttled
    s["cpu_stats"]["throttling_data"].update(periods=periods, throttled_periods=throttled)
    r = parse_docker_stats(s)
    assert r["cpu_cores"] is not None  # the CPU rate is still read
    assert r["cpu_throttled_ratio"] is None
    s["cpu_stats"]["throttling_data"].update(periods=83, throttled_periods=7)
    assert parse_docker_stats(s)["cpu_throttled_ratio"] == pytest.approx(5 / 10)


def test_reading_not_after_the_previous_one_gives_no_rate():
    first = parse_docker_stats(load("dockerd_20_10_cgroup_v1_stats_busy.json"))
    skewed = load("dockerd_20_10_cgroup_v1_stats_busy.json")
    skewed["read"] = "2026-11-27T23:30:00Z"  # clock went back
    r = parse_docker_stats(skewed, first)
    assert r["cpu_cores"] is None and "not later" in r["cpu_note"]


def test_previous_reading_of_another_container_is_ignored():
    v1 = parse_docker_stats(load("otel_single_container_cgroup_v1_stats.json"))
    r = parse_docker_stats(load("dockerd_20_10_cgroup_v1_stats_oneshot_busy.json"), v1)
    assert r["cpu_cores"] is None


def test_stats_of_a_stopped_container_have_no_numbers_but_parse():
    r = parse_docker_stats({"read": "2026-11-27T23:30:00Z", "cpu_stats": {},
                            "memory_stats": {}, "precpu_stats": {}})
    assert r["cpu_cores"] is None and r["memory_working_set_bytes"] is None


@pytest.mark.parametrize("payload, words", [
    ([], "expected a JSON object"),
    ({}, "no 'read' time"),
    ({"read": "yesterday"}, "not an RFC 3339 time"),
    ({"read": "2026-11-27T23:30:00Z", "memory_stats": {"usage": "12"}}, "memory_stats.usage"),
    ({"read": "2026-11-27T23:30:00Z", "memory_stats": {"usage": -5}}, "negative"),
    ({"read": "2026-11-27T23:30:00Z", "cpu_stats": []}, "cpu_stats"),
])
def test_bad_stats_payloads_name_the_field(payload, words):
    with pytest.raises(InputError, match=words):
        parse_docker_stats(payload)


# ------------------------------------------------------------------------------------ inspect
def test_compose_labels_map_to_namespace_and_workload_and_env_values_are_dropped():
    raw = load("dockerd_20_10_inspect_compose_web.json")
    info = parse_inspect(raw)
    assert (info.namespace, info.workload, info.container, info.pod) == (
        "shop", "web", "web", "shop-web-1")
    assert info.cpu_shares == 512 and info.cpu_request_cores == 0.5
    assert info.memory_request_bytes == 96 * 2**20
    assert info.cpu_limit_cores is None and info.memory_limit_bytes is None
    assert info.running and info.pid > 0 and info.exit_code == 0
    assert info.jvm_options == ("-Xmx512m", "-XX:+UseG1GC")
    assert "DB_PASSWORD" in info.env_names and info.non_ascii_env == ("GREETING",)
    text = repr(info)
    assert "s3cr3t-value" not in text and "grüß" not in text
    assert "s3cr3t-value" in json.dumps(raw)  # the payload did carry it


@pytest.mark.parametrize("label, value", [
    ("com.docker.compose.project", "shop/web"),
    ("com.docker.compose.service", "pay\u202egnp.exe"),
])
def test_compose_labels_no_name_may_hold_leave_the_container_standalone(label, value):
    """A label set by hand bypasses Compose's own name rules: the container stays reachable
    under the name the daemon checked rather than under a name a table would mis-show."""
    raw = load("dockerd_20_10_inspect_compose_web.json")
    raw["Config"]["Labels"][label] = value
    info = parse_inspect(raw)
    assert (info.namespace, info.workload, info.container) == (
        "docker", "shop-web-1", "shop-web-1")


def test_oom_killed_container_limits_and_exit():
    info = parse_inspect(load("dockerd_20_10_inspect_oomkilled_hog.json"))
    assert (info.namespace, info.workload, info.container) == ("docker", "hog", "hog")
    assert info.oom_killed is True and info.exit_code == 137 and not info.running
    assert info.memory_limit_bytes == 64 * 2**20
    assert info.cpu_limit_cores == 0.5  # CpuQuota 50000 / CpuPeriod 100000
    assert info.finished_at == pd.Timestamp("2026-11-27T23:30:37.927288188Z")
    assert info.started_at < info.finished_at
    assert info.args == ("sh", "-c", "echo allocating; head -c 300m /dev/zero | tail")


def test_nano_cpus_and_zero_limits():
    raw = load("dockerd_20_10_inspect_oomkilled_hog.json")
    raw["HostConfig"].update({"NanoCpus": 1_500_000_000, "CpuQuota": 0, "Memory": 0})
    info = parse_inspect(raw)
    assert info.cpu_limit_cores == 1.5 and info.memory_limit_bytes is None


def test_zero_time_means_not_finished():
    raw = load("dockerd_20_10_inspect_compose_web.json")
    assert raw["State"]["FinishedAt"].startswith("0001-01-01")
    assert parse_inspect(raw).finished_at is None


@pytest.mark.parametrize("payload, words", [
    ("x", "expected a JSON object"),
    ({}, "no container Id"),
    ({"Id": "abc", "HostConfig": {"Memory": "1g"}}, "HostConfig"),
    ({"Id": "abc", "Config": {"Env": "A=1"}}, "Config.Env"),
    ({"Id": "abc", "State": {"ExitCode": 1.5}}, "ExitCode"),
])
def test_bad_inspect_payloads_name_the_field(payload, words):
    with pytest.raises(InputError, match=words):
        parse_inspect(payload)


# ------------------------------------------------------------------------------------ logs
def test_log_lines_keep_their_times_and_the_last_n():
    raw = (FIX / "dockerd_20_10_logs_hog.txt").read_bytes()
    lines = parse_log_lines(raw, 50)
    assert [t for _, t in lines] == ["allocating", "Killed"]
    assert lines[0][0] == pd.Timestamp("2026-11-27T23:30:34.834812465Z")
    assert parse_log_lines(raw, 1) == lines[-1:]


def test_log_lines_without_times_and_with_bad_bytes():
    lines = parse_log_lines(b"plain line\n\xff\xfe broken\n" + b"x" * 5000 + b"\n")
    assert lines[0] == (None, "plain line")
    assert lines[1][1].endswith("broken") and lines[1][0] is None
    assert len(lines[2][1]) == 2000


def test_parse_time_rejects_words_pandas_would_accept():
    for word in ("now", "today", "2024"):
        with pytest.raises(InputError):
            parse_time(word, "x", "t")


# ------------------------------------------------------------------------------------ fuzz
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)


def _mutations(base: dict) -> st.SearchStrategy[dict]:
    """The real payload with some fields replaced by arbitrary JSON."""
    paths = []

    def walk(obj, prefix):
        if isinstance(obj, dict):
            for k, v in obj.items():
                paths.append(prefix + (k,))
                walk(v, prefix + (k,))

    walk(base, ())

    @st.composite
    def mutate(draw):
        doc = copy.deepcopy(base)
        for _ in range(draw(st.integers(1, 4))):
            path = draw(st.sampled_from(paths))
            cur = doc
            for k in path[:-1]:
                if not isinstance(cur, dict) or k not in cur:
                    break
                cur = cur[k]
            else:
                if isinstance(cur, dict):
                    cur[path[-1]] = draw(json_values)
        return doc

    return mutate()


STATS_FILES = ["otel_cgroups_v2_stats.json", "otel_single_container_cgroup_v1_stats.json",
               "dockerd_20_10_cgroup_v1_stats_busy.json"]
INSPECT_FILES = ["dockerd_20_10_inspect_compose_web.json",
                 "dockerd_20_10_inspect_oomkilled_hog.json"]


@pytest.mark.parametrize("name", STATS_FILES)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_fuzzed_stats_parse_or_raise_input_error(name, data):
    doc = data.draw(_mutations(load(name)))
    prev = parse_docker_stats(load("dockerd_20_10_cgroup_v1_stats_busy.json"))
    try:
        r = parse_docker_stats(doc, prev if data.draw(st.booleans()) else None)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert r["cpu_cores"] is None or r["cpu_cores"] >= 0
    assert r["memory_working_set_bytes"] is None or r["memory_working_set_bytes"] >= 0


@pytest.mark.parametrize("name", INSPECT_FILES)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_fuzzed_inspect_parse_or_raise_input_error(name, data):
    doc = data.draw(_mutations(load(name)))
    try:
        info = parse_inspect(doc)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert info.namespace and info.workload and info.container
    assert "s3cr3t-value" not in repr(info)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_arbitrary_json_is_never_a_crash(value):
    for fn in (parse_docker_stats, parse_inspect):
        try:
            result = fn(value)
        except InputError as exc:
            assert str(exc) and "\n" not in str(exc)
        else:
            assert_well_formed(result)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(-3, 60))
def test_arbitrary_log_bytes_parse(raw, limit):
    lines = parse_log_lines(raw, limit)
    assert len(lines) <= max(limit, 0)
    assert all(isinstance(text, str) and "\n" not in text for _, text in lines)
