"""``quotatune diagnose --docker-host`` against a real dockerd: the failures an operator meets.

Each container is started for real on the private daemon (busybox image, the machine's JDK
bind-mounted read-only), dies (or keeps running) the way it does in production, and the
findings are read from the real CLI's JSON.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.support.dockerd import busybox_image, dockerd, java_path, run_container  # noqa: F401
from tests.support.jdk import (
    APP_DIR,
    app_volume,
    compile_sleeper,
    host_memory_bytes,
    require_jdk,
    wait_for_log,
)

pytestmark = pytest.mark.docker
MIB = 1 << 20
GIB = 1 << 30
SECRET = "s3cr3t-do-not-print"


@pytest.fixture(scope="module")
def scene(dockerd, busybox_image, tmp_path_factory) -> dict[str, Any]:  # noqa: F811
    """Start every case once, then diagnose the daemon once through the CLI."""
    reason = require_jdk()
    if reason:
        pytest.skip(reason)
    client = dockerd.client()
    app = app_volume(compile_sleeper(tmp_path_factory.mktemp("app")))
    java = java_path()
    # More than the machine has, so the commit fails whatever the host (heuristic overcommit
    # refuses a single mapping larger than RAM + swap).
    xms_gib = 2 * host_memory_bytes() // GIB + 1
    states = {}
    for name, cmd, mem in [
        ("fx-xms-startup", [java, f"-Xms{xms_gib}g", "-version"], "128m"),
        ("fx-pretouch", [java, "-Xms512m", "-XX:+AlwaysPreTouch", "-version"], "128m"),
    ]:
        c = run_container(client, busybox_image, cmd, name=name, mem_limit=mem, jdk=True,
                          wait=True, timeout=180)
        states[name] = c.attrs["State"]
    hog = run_container(client, busybox_image, "head -c 400m /dev/zero | tail", name="fx-hog",
                        mem_limit="64m", wait=True, timeout=180)
    states["fx-hog"] = hog.attrs["State"]
    victim = run_container(client, busybox_image, ["sleep", "600"], name="fx-killed",
                           mem_limit="64m")
    victim.kill()  # SIGKILL, as `docker kill` sends
    victim.wait(timeout=60)
    victim.reload()
    states["fx-killed"] = victim.attrs["State"]
    run_container(client, busybox_image, ["sleep", "600"], name="fx-non-ascii",
                  environment={"GREETING": "grüße aus Köln", "PLAIN": SECRET})
    logs = {}
    for name, cmd, env, mem in [
        ("fx-heap-too-big", [java, "-cp", APP_DIR, "Sleeper"],
         {"JAVA_TOOL_OPTIONS": "-Xmx1g"}, "256m"),
        ("fx-healthy-jvm", [java, "-Xmx64m", "-cp", APP_DIR, "Sleeper"],
         {"DB_PASSWORD": SECRET}, "512m"),
    ]:
        c = run_container(client, busybox_image, cmd, name=name, mem_limit=mem, jdk=True,
                          environment=env, volumes=app)
        logs[name] = wait_for_log(c, "ready")
        c.reload()
        states[name] = c.attrs["State"]
    r = run_cli("diagnose", "--docker-host", dockerd.base_url, "-o", "json")
    assert r.code == 0, r.stderr
    findings = [f for f in json.loads(r.stdout) if f["workload"].startswith("fx-")]
    return {"states": states, "logs": logs, "findings": findings, "stdout": r.stdout,
            "url": dockerd.base_url}


def of(scene: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    return {f["kind"]: f for f in scene["findings"] if f["workload"] == name}


def test_jvm_with_xms_above_what_it_can_get_fails_at_start_up(scene):
    st = scene["states"]["fx-xms-startup"]
    assert (st["ExitCode"], st["OOMKilled"]) == (1, False)
    f = of(scene, "fx-xms-startup")["jvm-startup-memory-failure"]
    assert f["severity"] == "critical" and f["namespace"] == "docker"
    assert f["evidence"][0] == "exit code 1"
    logs = [e for e in f["evidence"] if e.startswith("log: ")]
    assert any("insufficient memory for the Java Runtime Environment" in e for e in logs)
    assert any("Native memory allocation (mmap) failed" in e or "os::commit_memory" in e
               for e in logs)
    assert any(e.startswith("failed allocation: ") for e in f["evidence"])
    assert any(e.startswith("flags: -Xms") for e in f["evidence"])
    assert "memory limit 128Mi" in f["evidence"]
    assert "-Xms" in f["advice"] and "128Mi" in f["advice"]


def test_jvm_pre_touching_its_heap_is_oom_killed_at_start_up(scene):
    st = scene["states"]["fx-pretouch"]
    assert (st["ExitCode"], st["OOMKilled"]) == (137, True)
    found = of(scene, "fx-pretouch")
    oom = found["oom-killed"]
    assert oom["severity"] == "critical"
    assert {"exit code 137 (SIGKILL)", "OOMKilled: true", "memory limit 128Mi"} <= set(
        oom["evidence"])
    assert "AlwaysPreTouch" in oom["advice"]
    heap = found["jvm-heap-exceeds-limit"]
    assert heap["severity"] == "critical"
    assert "flag -XX:+AlwaysPreTouch" in heap["evidence"] and "flag -Xms512m" in heap["evidence"]
    assert "exit-137" not in found  # an OOM kill is not a mystery SIGKILL


def test_memory_hog_is_oom_killed_and_told_the_limit_to_set(scene):
    st = scene["states"]["fx-hog"]
    assert (st["ExitCode"], st["OOMKilled"]) == (137, True)
    found = of(scene, "fx-hog")
    assert set(found) == {"oom-killed"}
    assert "memory limit 64Mi" in found["oom-killed"]["evidence"]
    assert "at least 164Mi" in found["oom-killed"]["advice"]  # 64Mi + 100Mi (> 64Mi × 1.2)


def test_sigkill_from_docker_kill_is_not_called_an_oom(scene):
    st = scene["states"]["fx-killed"]
    assert (st["ExitCode"], st["OOMKilled"]) == (137, False)
    found = of(scene, "fx-killed")
    assert set(found) == {"exit-137"}
    f = found["exit-137"]
    assert f["severity"] == "warning"
    assert {"exit code 137 (SIGKILL)", "OOMKilled: false"} <= set(f["evidence"])
    assert "docker kill" in f["advice"] and "not the kernel OOM killer" in f["advice"]


def test_running_jvm_whose_heap_cannot_fit_is_flagged_before_it_crashes(scene):
    st = scene["states"]["fx-heap-too-big"]
    assert st["Running"] is True, scene["logs"]["fx-heap-too-big"]
    found = of(scene, "fx-heap-too-big")
    assert set(found) == {"jvm-heap-exceeds-limit"}
    f = found["jvm-heap-exceeds-limit"]
    assert f["severity"] == "critical"
    assert "flag -Xmx1g" in f["evidence"] and "memory limit 256Mi" in f["evidence"]
    assert "lower -xmx to -xmx" in f["advice"].lower() and "at least" in f["advice"]


def test_healthy_jvm_is_not_flagged_and_its_environment_values_never_show(scene):
    st = scene["states"]["fx-healthy-jvm"]
    assert st["Running"] is True, scene["logs"]["fx-healthy-jvm"]
    assert of(scene, "fx-healthy-jvm") == {}
    assert SECRET not in scene["stdout"]
    r = run_cli("diagnose", "docker/fx-healthy-jvm", "--docker-host", scene["url"], "-o", "json",
                "--fail-on", "info")
    assert (r.code, json.loads(r.stdout)) == (0, []), r.stderr


def test_non_ascii_environment_is_named_without_its_value(scene):
    found = of(scene, "fx-non-ascii")
    assert set(found) == {"non-ascii-env"}
    f = found["non-ascii-env"]
    assert f["severity"] == "info"
    assert f["evidence"] == ["environment variable GREETING has a non-ASCII value"]
    assert "grüße" not in scene["stdout"] and "K\\u00f6ln" not in scene["stdout"]


def test_cpu_throttling_from_sampled_history(dockerd, busybox_image, tmp_path):  # noqa: F811
    client = dockerd.client()
    ctr = run_container(client, busybox_image, "while :; do :; done", name="fx-throttled",
                        cpus=0.1)
    store = tmp_path / "store"
    r = run_cli("collect", "docker", "--host", dockerd.base_url, "--rounds", "7",
                "--interval", "1", "--filter", "name=fx-throttled", "--store", str(store))
    assert r.code == 0, r.stderr
    r = run_cli("diagnose", "docker/fx-throttled", "--store", str(store), "-o", "json")
    assert r.code == 0, r.stderr
    [f] = json.loads(r.stdout)
    assert (f["kind"], f["severity"]) == ("cpu-throttled", "warning")
    assert "CPU limit 100m" in f["evidence"]
    assert "Raise the CPU limit to at least" in f["advice"]
    ctr.remove(force=True)


def test_fail_on_critical_fails_the_daemon_with_dead_containers(scene):
    r = run_cli("diagnose", "--docker-host", scene["url"], "--fail-on", "critical")
    assert r.code == 1, r.stderr
    assert "fx-pretouch" in r.stdout and "oom-killed" in r.stdout


def test_a_container_restarted_over_and_over_is_a_crash_loop(dockerd, busybox_image):  # noqa: F811
    client = dockerd.client()
    ctr = run_container(client, busybox_image, "echo starting; exit 2", name="fx-crash-loop",
                        mem_limit="64m", restart_policy={"Name": "always"})
    # Docker's restart back-off doubles from 100 ms; once it is seconds long the container
    # spends nearly all its time "restarting", which is what the diagnosis reads.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ctr.reload()
        if ctr.attrs["RestartCount"] >= 5 and ctr.attrs["State"]["Status"] == "restarting":
            break
        time.sleep(0.5)
    assert ctr.attrs["RestartCount"] >= 5, ctr.attrs["State"]
    for _ in range(3):  # the rare run that catches it in its few milliseconds of running
        r = run_cli("diagnose", "docker/fx-crash-loop", "--docker-host", dockerd.base_url,
                    "-o", "json")
        assert r.code == 0, r.stderr
        found = {f["kind"]: f for f in json.loads(r.stdout)}
        if "crash-loop" in found:
            break
    f = found["crash-loop"]
    assert f["severity"] == "critical"
    assert "status restarting" in f["evidence"]
    assert any(e.startswith("restarts ") and int(e.split()[1]) >= 5 for e in f["evidence"])
    ctr.remove(force=True)
