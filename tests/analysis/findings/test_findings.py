"""diagnose(): one finding per failure kind, with evidence and concrete advice — and none for
healthy containers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from quotatune.analysis.findings.diagnose import diagnose
from quotatune.sources import envscan
from quotatune.sources.kubernetes.parse import parse_pods
from tests.conftest import FIXTURES
from tests.support.frames import NOW, events, specs, usage

MIB = 1 << 20
DIR = FIXTURES / "forensics"


def kinds(findings):
    return sorted((f.kind, f.severity) for f in findings)


def pods(name):
    return parse_pods(json.loads((DIR / name).read_text()))


# ------------------------------------------------------------------ real pod statuses
def test_real_pod_oom_killed_says_how_much_memory_to_set():
    s, ev = pods("kubeshark_worker_pod_lastState_OOMKilled.json")
    [f] = diagnose(None, s, ev, now=NOW)
    assert (f.kind, f.severity) == ("oom-killed", "critical")
    assert (f.namespace, f.container) == ("kubeshark", "kubeshark-worker")
    assert f.at == "2023-05-06T21:03:57Z"
    assert {"exit code 137 (SIGKILL)", "OOMKilled: true", "memory limit 1Gi"} <= set(f.evidence)
    assert "1229Mi" in f.advice  # the 1Gi limit × 1.2 (more than + 100 Mi), rounded up


def test_real_pod_crash_loop_after_a_clean_exit():
    s, ev = pods("newrelic_minikube_1_34_pod_CrashLoopBackOff.json")
    [f] = diagnose(None, s, ev, now=NOW)
    assert (f.kind, f.severity, f.container) == ("crash-loop", "critical", "alpine")
    assert "exit code 0" in f.evidence and "restarts 2" in f.evidence
    assert any("CrashLoopBackOff" in e for e in f.evidence)
    assert "exits successfully" in f.advice


def test_real_node_exit_137_that_is_not_an_oom_kill():
    s, ev = pods("honeycomb_pods.json")
    findings = diagnose(None, s, ev, now=NOW)
    # 11 running pods with old restarts after a node reboot (exit 255/1): only phpmyadmin's
    # SIGKILL is worth a word.
    [f] = findings
    assert (f.kind, f.severity) == ("exit-137", "warning")
    assert (f.namespace, f.workload, f.container) == ("mysql", "phpmyadmin", "phpmyadmin")
    assert "OOMKilled: false" in f.evidence and "reason Error" in f.evidence
    assert "liveness probe" in f.advice and "docker kill" in f.advice


# ------------------------------------------------------------------ OOM and SIGKILL
def test_oom_kill_with_usage_uses_the_larger_of_limit_and_peak_headroom():
    ev = events({"kind": "termination", "exit_code": 137, "oom_killed": True,
                 "reason": "OOMKilled"})
    u = usage(np.full(30, 250 * MIB), limit=256 * MIB)
    [f] = diagnose(u, None, ev, now=NOW)
    assert f.kind == "oom-killed"
    assert "peak working set 250Mi" in f.evidence
    # 256Mi + 100Mi = 356Mi > 256Mi × 1.2 and > 250Mi × 1.2 = 300Mi
    assert "at least 356Mi (the 256Mi limit +100 MiB or ×1.2" in f.advice


def test_sigkill_explained_by_a_failed_liveness_probe():
    ev = events(
        {"kind": "termination", "exit_code": 137, "reason": "Error"},
        {"kind": "event", "reason": "Unhealthy", "container": "",
         "timestamp": NOW - pd.Timedelta(seconds=30),
         "message": "Liveness probe failed: Get http://10.0.0.5:8080/health: timeout"},
    )
    [f] = diagnose(None, None, ev, now=NOW)
    assert f.kind == "exit-137"
    assert any("Liveness probe failed" in e for e in f.evidence)
    assert "timeoutSeconds" in f.advice


def test_sigkill_explained_by_node_pressure():
    ev = events(
        {"kind": "termination", "exit_code": 137, "reason": "Error"},
        {"kind": "event", "reason": "Evicted", "message": "The node was low on resource: memory."},
    )
    found = {f.kind: f for f in diagnose(None, None, ev, now=NOW)}
    assert set(found) == {"exit-137", "evicted"}
    assert "pressure" in found["exit-137"].advice


def test_sigkill_near_a_node_oom_event_names_the_killed_process():
    sp = specs({"node": "node-7", "source": "kubernetes"})
    ev = events(
        {"kind": "termination", "exit_code": 137, "reason": "Error"},
        {"kind": "oom-event", "reason": "OOMKilling", "oom_killed": True, "namespace": "default",
         "workload": "node-7", "pod": "", "container": "",
         "timestamp": NOW - pd.Timedelta(minutes=3),
         "message": "Memory cgroup out of memory: Killed process 4242 (worker)"},
    )
    found = {f.kind: f for f in diagnose(None, sp, ev, now=NOW)}
    assert set(found) == {"exit-137", "oom-killed"}
    assert any("Killed process 4242 (worker)" in e for e in found["exit-137"].evidence)
    assert "node's kernel OOM killer" in found["exit-137"].advice
    assert found["oom-killed"].workload == "node-7" and found["oom-killed"].container == ""


def test_a_kill_with_an_oom_event_is_an_oom_kill_not_a_mystery():
    ev = events({"kind": "termination", "exit_code": 137, "reason": "Error"},
                {"kind": "oom-event", "reason": "OOMKilling", "oom_killed": True,
                 "message": "Memory cgroup out of memory: Killed process 1 (java)"})
    assert kinds(diagnose(None, None, ev, now=NOW)) == [("oom-killed", "critical")]


# ------------------------------------------------------------------ start-up failures
JVM_DEATH = [
    "OpenJDK 64-Bit Server VM warning: INFO: os::commit_memory(0x00007f, 68719476736, 0) "
    "failed; error='Not enough space' (errno=12)",
    "#",
    "# There is insufficient memory for the Java Runtime Environment to continue.",
    "# Native memory allocation (mmap) failed to map 68719476736 bytes. Error detail: "
    "committing reserved memory.",
]


def test_jvm_start_up_failure_shows_exit_code_log_lines_and_the_flag_to_change():
    ev = events({"kind": "termination", "exit_code": 1, "reason": "Error"},
                *[{"kind": "log", "message": m} for m in JVM_DEATH])
    sp = specs({"jvm_options": ("-Xms64g",), "memory_limit_bytes": 128 * MIB})
    found = {f.kind: f for f in diagnose(None, sp, ev, now=NOW)}
    f = found["jvm-startup-memory-failure"]
    assert f.severity == "critical"
    assert f.evidence[0] == "exit code 1"
    assert "log: # Native memory allocation (mmap) failed to map 68719476736 bytes. Error " \
           "detail: committing reserved memory." in f.evidence
    assert "flags: -Xms64g" in f.evidence and "memory limit 128Mi" in f.evidence
    assert "lower -Xms and raise the memory limit" in f.advice
    assert found["jvm-heap-exceeds-limit"].severity == "critical"


def test_node_heap_exhaustion_advises_max_old_space_size():
    ev = events({"kind": "termination", "exit_code": 134, "reason": "Error"},
                {"message": "FATAL ERROR: Reached heap limit Allocation failed - JavaScript "
                            "heap out of memory"})
    sp = specs({"memory_limit_bytes": 512 * MIB})
    [f] = diagnose(None, sp, ev, now=NOW)
    assert f.kind == "jvm-startup-memory-failure"
    assert "runtime: Node.js" in f.evidence
    assert "--max-old-space-size=384" in f.advice


def test_go_out_of_memory_advises_gomemlimit():
    ev = events({"kind": "termination", "exit_code": 2, "reason": "Error"},
                {"message": "fatal error: runtime: out of memory"})
    [f] = diagnose(None, specs({"memory_limit_bytes": 1024 * MIB}), ev, now=NOW)
    assert "runtime: Go" in f.evidence and "GOMEMLIMIT=921MiB" in f.advice


def test_metaspace_exhaustion_names_its_flag():
    ev = events({"message": "java.lang.OutOfMemoryError: Metaspace"})
    [f] = diagnose(None, None, ev, now=NOW)
    assert "-XX:MaxMetaspaceSize" in f.advice


# ------------------------------------------------------------------ heaps that cannot fit
def test_heap_as_large_as_the_limit_is_critical_before_anything_crashes():
    sp = specs({"jvm_options": ("-Xms1g", "-Xmx1g"), "memory_limit_bytes": 1024 * MIB})
    [f] = diagnose(None, sp, None, now=NOW)
    assert (f.kind, f.severity) == ("jvm-heap-exceeds-limit", "critical")
    assert "flag -Xmx1g" in f.evidence and "memory limit 1Gi" in f.evidence
    assert "lower -xmx to -xmx" in f.advice.lower() and "at least 1217Mi" in f.advice


def test_heap_plus_non_heap_over_the_limit_is_a_warning():
    sp = specs({"jvm_options": ("-Xmx900m",), "memory_limit_bytes": 1024 * MIB})
    [f] = diagnose(None, sp, None, now=NOW)
    assert (f.kind, f.severity) == ("jvm-heap-exceeds-limit", "warning")


def test_percentage_heap_advice_lowers_the_percentage():
    sp = specs({"jvm_options": ("-XX:MaxRAMPercentage=90",), "memory_limit_bytes": 512 * MIB})
    [f] = diagnose(None, sp, None, now=NOW)
    assert "Lower -XX:MaxRAMPercentage to 67;" in f.advice


def test_flags_from_java_tool_options_count_and_the_value_of_other_variables_never_shows():
    scan = envscan.scan(["java", "-jar", "app.jar"], [], {
        "JAVA_TOOL_OPTIONS": "-Xmx2g", "DB_PASSWORD": "hunter2-päss", "TZ": "UTC"})
    sp = specs({"jvm_options": scan.jvm_options, "non_ascii_env": scan.non_ascii_env,
                "env_names": scan.env_names, "memory_limit_bytes": 1024 * MIB})
    findings = diagnose(None, sp, None, now=NOW)
    assert kinds(findings) == [("jvm-heap-exceeds-limit", "critical"), ("non-ascii-env", "info")]
    text = json.dumps([f.to_dict() for f in findings], ensure_ascii=False)
    assert "DB_PASSWORD" in text  # the name of the variable that is itself the problem
    assert "hunter2" not in text and "päss" not in text


# ------------------------------------------------------------------ crash loops, pending, CPU
def test_restart_counter_bursts_are_a_crash_loop():
    u = usage(np.full(20, 50 * MIB), minutes=2, restarts=np.repeat([0, 1, 2, 3, 4], 4))
    [f] = diagnose(u, None, None, now=NOW)
    assert f.kind == "crash-loop" and any("restarted 4 times within 1 h" in e for e in f.evidence)


def test_a_restarting_docker_container_with_oom_is_a_crash_loop_and_an_oom():
    sp = specs({"phase": "restarting", "restarts": 7, "memory_limit_bytes": 64 * MIB})
    ev = events({"kind": "termination", "exit_code": 137, "oom_killed": True,
                 "reason": "OOMKilled"})
    found = {f.kind: f for f in diagnose(None, sp, ev, now=NOW)}
    assert set(found) == {"crash-loop", "oom-killed"}
    assert "restarts 7" in found["crash-loop"].evidence
    assert "OOM-killed" in found["crash-loop"].advice


def test_unschedulable_for_lack_of_memory():
    sp = specs({"phase": "Pending", "memory_request_bytes": 8 * 1024 * MIB,
                "cpu_request_cores": 2.0, "source": "kubernetes"})
    ev = events({"kind": "scheduling", "reason": "Unschedulable", "container": "",
                 "message": "0/3 nodes are available: 3 Insufficient memory."})
    [f] = diagnose(None, sp, ev, now=NOW)
    assert (f.kind, f.severity) == ("pending-insufficient-resources", "critical")
    assert "Unschedulable: 0/3 nodes are available: 3 Insufficient memory." in f.evidence
    assert "requests api: cpu 2 memory 8Gi" in f.evidence
    assert "free memory" in f.advice and "quotatune recommend shop/api" in f.advice


def test_pending_for_other_reasons_is_not_a_resource_finding():
    ev = events({"kind": "scheduling", "reason": "Unschedulable", "container": "",
                 "message": "0/3 nodes are available: 3 node(s) had untolerated taint."})
    assert diagnose(None, None, ev, now=NOW) == []


def test_cpu_throttling_names_a_limit_to_set():
    u = usage(np.full(60, 100 * MIB), cpu=0.45, cpu_limit_cores=0.5, cpu_throttled_ratio=0.4)
    [f] = diagnose(u, None, None, now=NOW)
    assert (f.kind, f.severity) == ("cpu-throttled", "warning")
    assert "CPU limit 500m" in f.evidence
    assert "at least 750m" in f.advice


def test_non_ascii_env_after_a_crash_is_a_warning():
    sp = specs({"non_ascii_env": ("GREETING",)})
    ev = events({"kind": "termination", "exit_code": 1, "reason": "Error"})
    [f] = diagnose(None, sp, ev, now=NOW)
    assert (f.kind, f.severity) == ("non-ascii-env", "warning")
    assert f.evidence[0] == "environment variable GREETING has a non-ASCII value"


# ------------------------------------------------------------------ no false alarms
def test_a_healthy_fleet_produces_no_finding():
    rng = np.random.default_rng(7)
    u = pd.concat([
        usage(300 * MIB + rng.normal(0, 5 * MIB, 600), limit=1024 * MIB, cpu=0.2,
              cpu_limit_cores=1.0, cpu_throttled_ratio=0.01, restarts=2.0),
    ])
    sp = specs({"jvm_options": ("-Xms256m", "-Xmx256m", "-XX:+AlwaysPreTouch"),
                "memory_limit_bytes": 1024 * MIB, "restarts": 2, "env_names": ("LANG",)},
               {"container": "job", "workload": "nightly", "phase": "exited"})
    ev = events(
        # A finished job, a stopped container, ordinary logs, a probe that recovered.
        {"container": "job", "workload": "nightly", "kind": "termination", "exit_code": 0,
         "reason": "Completed"},
        {"kind": "termination", "exit_code": 143, "reason": "Error",
         "timestamp": NOW - pd.Timedelta(days=3)},
        {"message": "Started Application in 4.2 seconds (JVM running for 5.0)"},
        {"message": "GC(3) Pause Young (Normal) (G1 Evacuation Pause) 24M->8M(256M) 3.1ms"},
        {"kind": "event", "reason": "Pulled", "message": "Container image already present"},
    )
    assert diagnose(u, sp, ev, now=NOW) == []


def test_empty_frames_give_no_findings():
    assert diagnose(None, None, None, now=NOW) == []
    assert diagnose(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), now=NOW) == []


_event_rows = st.fixed_dictionaries({
    "kind": st.sampled_from(["termination", "waiting", "scheduling", "log", "event", "oom-event",
                             "", "weird"]),
    "reason": st.sampled_from(["", "OOMKilled", "Error", "CrashLoopBackOff", "BackOff",
                               "FailedScheduling", "Unhealthy", "Evicted"]),
    "exit_code": st.one_of(st.none(), st.integers(-5, 300)),
    "oom_killed": st.one_of(st.booleans(), st.none()),
    "message": st.one_of(st.text(max_size=60), st.sampled_from(JVM_DEATH + [
        "0/2 nodes are available: 2 Insufficient cpu.", "back-off 10s restarting failed container",
        "java.lang.OutOfMemoryError: Java heap space", "Liveness probe failed: x"])),
    "container": st.sampled_from(["api", "", "db"]),
    "timestamp": st.one_of(st.just(pd.NaT), st.datetimes(
        min_value=pd.Timestamp("2020-01-01").to_pydatetime(),
        max_value=pd.Timestamp("2030-01-01").to_pydatetime()).map(
        lambda d: pd.Timestamp(d, tz="UTC"))),
})


@settings(max_examples=60, deadline=None)
@given(st.lists(_event_rows, max_size=12),
       st.lists(st.sampled_from(["-Xmx1g", "-Xms2g", "-XX:+AlwaysPreTouch", "-Xmxjunk",
                                 "-XX:MaxRAMPercentage=99.5", "-Xss0"]), max_size=4),
       st.one_of(st.none(), st.integers(0, 1 << 34)))
def test_any_mix_of_events_and_flags_gives_valid_findings(rows, flags, limit):
    sp = specs({"jvm_options": tuple(flags), "memory_limit_bytes": limit})
    for f in diagnose(None, sp, events(*rows), now=NOW):
        assert f.severity in ("info", "warning", "critical") and f.advice
        json.dumps(f.to_dict())
