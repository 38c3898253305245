"""The Docker collector against a real dockerd (tests/support/dockerd.py): steady load, an
OOM-killed memory hog, a JVM that cannot start under its limit, compose labels, containers
that vanish or restart, a daemon that dies mid-round, a socket without permission, the CLI
end to end into a store, and proof that only read-only Engine API calls are made."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from quotatune import model
from quotatune.sources.docker.collector import collect_docker
from quotatune.store.history import Store
from tests.conftest import run_cli
from tests.support import dockerd as support
from tests.support.dockerd import (
    build_busybox_image,
    java_home,
    java_path,
    run_container,
    start_dockerd,
    stop_dockerd,
)
from tests.support.terminal import run_on_terminal

# The session fixtures, by name (an assignment rather than an import keeps linters quiet
# about fixture arguments "redefining" imported names).
dockerd = support.dockerd
busybox_image = support.busybox_image

pytestmark = pytest.mark.docker
MIB = 2**20
BUSY = "while :; do :; done"


def remove_all(c: Any) -> None:
    for ctr in c.containers.list(all=True):
        ctr.remove(force=True)


@pytest.fixture
def client(dockerd):
    """A client on the shared daemon, emptied before and after: each test counts exactly
    the containers it started (other modules share the session daemon)."""
    c = dockerd.client()
    remove_all(c)
    yield c
    remove_all(c)


def rows_of(col, name: str) -> pd.DataFrame:
    return col.usage[col.usage["pod"] == name]


def test_steady_load_gives_cpu_rates_working_sets_and_limits(client, busybox_image):
    run_container(client, busybox_image, BUSY, name="busy", cpus=0.5, mem_limit="128m")
    run_container(client, busybox_image, "sleep 600", name="idle")
    # 24 MiB in tmpfs: shared memory is not reclaimable cache, so it is working set
    run_container(client, busybox_image,
                  "head -c 25165824 /dev/zero > /dev/shm/fill; sleep 600", name="holder")
    time.sleep(1.5)
    col = collect_docker(client, rounds=2, interval=1.0)
    assert col.errors == []
    assert len(col.usage) == 6 and set(col.usage["platform"]) == {"docker"}
    busy, idle, holder = rows_of(col, "busy"), rows_of(col, "idle"), rows_of(col, "holder")
    # A busy loop under --cpus 0.5 uses some CPU, never more than its quota (small slack
    # for the window edges); the sleeper next to nothing.
    assert (busy["cpu_cores"] > 0.05).all() and (busy["cpu_cores"] <= 0.55).all()
    assert (idle["cpu_cores"] < 0.05).all()
    assert (holder["memory_working_set_bytes"] >= 24 * MIB).all()
    assert (busy["cpu_limit_cores"] == 0.5).all()
    assert (busy["memory_limit_bytes"] == 128 * MIB).all()
    assert idle["cpu_limit_cores"].isna().all() and idle["memory_limit_bytes"].isna().all()
    assert set(col.usage["namespace"]) == {"docker"}
    assert (col.usage["workload"] == col.usage["container"]).all()
    # The frame is what validate_usage would make of it
    pd.testing.assert_frame_equal(col.usage, model.validate_usage(col.usage, "t", row_offset=0))
    assert any("cgroup files" in n for n in col.notes)


def test_each_round_is_reported_as_it_ends(client, busybox_image):
    run_container(client, busybox_image, "sleep 600", name="idle")
    seen: list[tuple[int, int]] = []
    col = collect_docker(client, rounds=3, interval=0.2, include_exited=False,
                         on_round=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert len(rows_of(col, "idle")) == 3


def test_rounds_show_a_progress_bar_on_a_terminal(client, busybox_image, dockerd, tmp_path):
    run_container(client, busybox_image, "sleep 600", name="idle")
    run = run_on_terminal("collect", "docker", "--host", dockerd.base_url, "--rounds", "3",
                          "--interval", "0.5", "--no-exited", "--store", str(tmp_path / "s"))
    assert run.code == 0, run.terminal
    assert b"sampling rounds" in run.terminal
    assert run.stdout.startswith("collected 3 sample(s) from 1 running container(s)")


def test_stats_api_path_agrees_with_cgroup_files(client, busybox_image):
    run_container(client, busybox_image, "head -c 16777216 /dev/zero > /dev/shm/f; sleep 600",
                  name="holder")
    run_container(client, busybox_image, BUSY, name="busy", cpus=0.3)
    time.sleep(1.5)
    fast = collect_docker(client, include_exited=False)
    api = collect_docker(client, include_exited=False, use_cgroups=False)
    assert fast.errors == [] and api.errors == []
    assert "0 from the Engine stats API" in fast.notes[0]
    assert "0 container reading(s) from cgroup files" in api.notes[0]
    m_fast = rows_of(fast, "holder")["memory_working_set_bytes"].iloc[0]
    m_api = rows_of(api, "holder")["memory_working_set_bytes"].iloc[0]
    assert m_fast == pytest.approx(m_api, rel=0.05)
    assert 0.02 < rows_of(api, "busy")["cpu_cores"].iloc[0] <= 0.33


def test_memory_hog_is_oom_killed_and_reported_as_events(client, busybox_image):
    hog = run_container(client, busybox_image,
                        "echo allocating 300 MiB; head -c 300m /dev/zero | tail",
                        name="hog", mem_limit="64m", wait=True)
    assert hog.attrs["State"]["OOMKilled"] is True
    col = collect_docker(client)
    term = col.events[(col.events["kind"] == "termination") & (col.events["pod"] == "hog")]
    assert len(term) == 1
    t = term.iloc[0]
    assert t["exit_code"] == 137 and bool(t["oom_killed"]) and t["reason"] == "OOMKilled"
    assert t["timestamp"] == pd.Timestamp(hog.attrs["State"]["FinishedAt"])
    logs = col.events[(col.events["kind"] == "log") & (col.events["pod"] == "hog")]
    assert "allocating 300 MiB" in list(logs["message"])
    spec = col.specs[col.specs["pod"] == "hog"].iloc[0]
    assert spec["phase"] == "exited" and spec["memory_limit_bytes"] == 64 * MIB


@pytest.mark.skipif(java_home() is None, reason="no JDK on this machine (java not on PATH)")
def test_jvm_that_cannot_start_under_its_limit_leaves_its_message_in_the_events(
        client, busybox_image):
    run_container(client, busybox_image, [java_path(), "-Xms64g", "-version"], name="api",
                  mem_limit="128m", jdk=True, wait=True,
                  environment={"JAVA_TOOL_OPTIONS": "-XX:+UseSerialGC", "API_TOKEN": "t0k3n"})
    col = collect_docker(client)
    term = col.events[(col.events["kind"] == "termination") & (col.events["pod"] == "api")]
    assert term.iloc[0]["exit_code"] == 1 and not term.iloc[0]["oom_killed"]
    text = "\n".join(col.events[col.events["kind"] == "log"]["message"])
    assert "insufficient memory for the Java Runtime Environment" in text
    spec = col.specs[col.specs["pod"] == "api"].iloc[0]
    assert spec["jvm_options"] == ("-XX:+UseSerialGC", "-Xms64g")
    assert "API_TOKEN" in spec["env_names"]
    assert "t0k3n" not in col.specs.to_string() + col.events.to_string()


def test_compose_labels_map_to_project_and_service(client, busybox_image):
    labels = {"com.docker.compose.project": "shop", "com.docker.compose.service": "web"}
    for i in (1, 2):
        run_container(client, busybox_image, "sleep 600", name=f"shop-web-{i}", labels=labels,
                      mem_limit="96m")
    run_container(client, busybox_image, "sleep 600", name="standalone")
    col = collect_docker(client, include_exited=False)
    web = col.usage[col.usage["namespace"] == "shop"]
    assert set(web["workload"]) == {"web"} and set(web["container"]) == {"web"}
    assert set(web["pod"]) == {"shop-web-1", "shop-web-2"}
    assert set(web["workload_kind"]) == {"compose-service"}
    alone = rows_of(col, "standalone").iloc[0]
    assert (alone["namespace"], alone["workload"], alone["container"]) == (
        "docker", "standalone", "standalone")


def test_filters_select_containers(client, busybox_image):
    run_container(client, busybox_image, "sleep 600", name="team-x", labels={"team": "x"})
    run_container(client, busybox_image, "sleep 600", name="team-y", labels={"team": "y"})
    col = collect_docker(client, filters={"label": ["team=x"]}, include_exited=False)
    assert set(col.usage["pod"]) == {"team-x"}


class RemovesAfterListing:
    """A real client whose container listing is followed by removing one container: the
    container vanishes between listing and reading, as it can on a busy host."""

    def __init__(self, client: Any, victim: str) -> None:
        self.api, self.client, self.victim = self, client, victim

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client.api, name)

    def containers(self, *a: Any, **kw: Any) -> Any:
        listing = self.client.api.containers(*a, **kw)
        if self.victim:
            self.client.api.remove_container(self.victim, force=True)
            self.victim = ""
        return listing


@pytest.mark.parametrize("use_cgroups", [True, False])
def test_container_removed_mid_round_is_reported_and_the_rest_kept(
        client, busybox_image, use_cgroups):
    for n in ("keep-1", "keep-2", "victim"):
        run_container(client, busybox_image, "sleep 600", name=n)
    col = collect_docker(RemovesAfterListing(client, "victim"), include_exited=False,
                         use_cgroups=use_cgroups)
    assert set(col.usage["pod"]) == {"keep-1", "keep-2"}
    assert len(col.errors) == 1 and "victim" in col.errors[0] and "vanished" in col.errors[0]


def test_container_removed_during_the_cpu_window(client, busybox_image):
    run_container(client, busybox_image, "sleep 600", name="stays")
    gone = run_container(client, busybox_image, "sleep 600", name="goes")

    def sleep(seconds: float) -> None:
        gone.remove(force=True)  # the first reading was taken, the second will find nothing
        time.sleep(seconds)

    col = collect_docker(client, include_exited=False, sleep=sleep)
    assert set(col.usage["pod"]) == {"stays"}
    assert "goes" in " ".join(col.errors)


def test_restart_between_rounds_restarts_the_rate(client, busybox_image):
    ctr = run_container(client, busybox_image, BUSY, name="flappy", cpus=0.2)
    run_container(client, busybox_image, "sleep 600", name="calm")
    calls = []

    def sleep(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) == 2:  # 1: round 1's CPU window, 2: the pause between rounds
            ctr.restart(timeout=0)
        time.sleep(seconds)

    col = collect_docker(client, rounds=2, interval=1.0, include_exited=False, sleep=sleep)
    flappy = rows_of(col, "flappy")
    assert len(flappy) == 2 and (flappy["cpu_cores"] >= 0).all()
    assert (flappy["cpu_cores"] <= 0.25).all()  # never the bogus rate of a reset counter
    assert flappy["restarts"].tolist() == [0.0, 0.0]  # docker restart is not a crash restart
    assert any("restart" in n for n in col.notes)


def test_only_read_only_engine_api_calls(dockerd, client, busybox_image):
    run_container(client, busybox_image, "sleep 600", name="up")
    run_container(client, busybox_image, "echo bye; exit 3", name="down", wait=True)
    since = dockerd.log_size()
    collect_docker(client, rounds=2, interval=0.2)
    collect_docker(client, use_cgroups=False)
    time.sleep(0.5)  # let the daemon flush its log
    calls = dockerd.api_calls(since)
    assert calls, "the daemon logged no API calls"
    assert {m for m, _ in calls} == {"GET"}
    paths = " ".join(p for _, p in calls)
    for endpoint in ("/containers/json", "/json", "/stats", "/logs", "/info"):
        assert endpoint in paths


@pytest.fixture
def second_dockerd():
    """A daemon of the test's own, to be killed mid-round."""
    root = Path(tempfile.mkdtemp(prefix="qtd2-", dir="/tmp"))
    d = start_dockerd(root)
    yield d
    if not d.running:
        d = start_dockerd(root)  # restart to remove what the killed daemon left behind
    stop_dockerd(d)
    shutil.rmtree(root, ignore_errors=True)


class KillsDaemonOnInspect:
    """A real client that kills its daemon (SIGKILL) during the round's third inspect, once
    an earlier inspect has been answered (the pool runs them concurrently: under load the
    kill could otherwise beat every answer, and nothing would have been read before it)."""

    def __init__(self, client: Any, daemon: Any) -> None:
        self.api, self.client, self.daemon, self.inspects = self, client, daemon, 0
        self.lock, self.answered = threading.Lock(), threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client.api, name)

    def inspect_container(self, cid: str) -> Any:
        with self.lock:
            self.inspects += 1
            n = self.inspects
        if n == 3:
            assert self.answered.wait(timeout=30)
            self.daemon.process.kill()
            self.daemon.process.wait()
        info = self.client.api.inspect_container(cid)
        self.answered.set()
        return info


def test_daemon_killed_mid_round_keeps_what_was_read_and_the_store_stays_whole(
        second_dockerd, tmp_path):
    d = second_dockerd
    c = d.client(timeout=10)
    image = build_busybox_image(c)
    for i in range(6):
        run_container(c, image, "sleep 600", name=f"svc-{i}")
    col = collect_docker(KillsDaemonOnInspect(c, d), rounds=3, interval=0.2)
    assert 1 <= len(col.usage) < 6  # read before the daemon died (the pool runs 4 at a time)
    err = " ".join(col.errors)
    assert "round 1" in err and "stopped answering" in err and "2 later round(s) not run" in err
    store = Store(tmp_path / "store")
    store.append(col)
    assert len(store.read_usage()) == len(col.usage)
    # The daemon comes back: the next run carries on, nothing lost, nothing doubled.
    d2 = start_dockerd(d.root)
    second_dockerd.process = d2.process
    c2 = d2.client()
    run_container(c2, image, "sleep 600", name="after")
    col2 = collect_docker(c2, include_exited=False)
    assert "after" in set(col2.usage["pod"]) and col2.errors == []
    store.append(col2)
    stored = store.read_usage()
    assert len(stored) == len(col.usage) + len(col2.usage)
    assert not stored.duplicated(["pod", "timestamp"]).any()


def test_socket_without_permission_is_one_clear_error(dockerd):
    """As an unprivileged user (root reads any socket), in a forked child: the CLI's connect
    and the collector both say "permission denied", with no traceback."""
    import docker

    from quotatune.model.errors import InputError
    from quotatune.pipelines.collect import docker_client

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        out: dict[str, Any] = {}
        try:
            os.setgid(65534)
            os.setuid(65534)
            try:
                docker_client(dockerd.base_url, 5, {})
                out["connect"] = "connected"
            except InputError as exc:
                out["connect"] = str(exc)
            client = docker.DockerClient(base_url=dockerd.base_url, version="1.41", timeout=5)
            out["collect"] = collect_docker(client).errors
        except BaseException as exc:  # report anything else to the parent
            out["crash"] = repr(exc)
        os.write(write, json.dumps(out).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as fh:
        got = json.load(fh)
    assert "crash" not in got, got
    assert "permission denied" in got["connect"] and "\n" not in got["connect"]
    assert got["collect"] == ["cannot reach the Docker daemon: permission denied on the "
                              "Docker socket"]


def test_collect_cli_end_to_end_into_a_store(dockerd, client, busybox_image, tmp_path):
    run_container(client, busybox_image, BUSY, name="worker", cpus=0.25, mem_limit="64m")
    run_container(client, busybox_image, "head -c 300m /dev/zero | tail", name="hog",
                  mem_limit="32m", wait=True)
    store = tmp_path / "store"
    r = run_cli("collect", "docker", "--host", dockerd.base_url, "--rounds", "2",
                "--interval", "0.5", "--store", str(store))
    assert r.code == 0, r.stderr
    assert r.stdout.count("\n") == 1 and "2 sample(s) from 1 running container(s)" in r.stdout
    assert "sampling rounds" not in r.stderr  # piped: no progress bar
    st = Store(store)
    usage = st.read_usage()
    assert len(usage) == 2 and set(usage["platform"]) == {"docker"}
    events = st.read_events()
    term = events[events["kind"] == "termination"].iloc[0]
    assert term["exit_code"] == 137 and bool(term["oom_killed"])
    # DOCKER_HOST is used when --host is not given; a second run adds samples, and the
    # exit events it sees again are not stored twice.
    r2 = run_cli("collect", "docker", "--store", str(store),
                 env={"DOCKER_HOST": dockerd.base_url})
    assert r2.code == 0, r2.stderr
    assert len(st.read_usage()) == 3
    assert len(st.read_events()) == len(events)
