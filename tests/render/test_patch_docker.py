"""``-o patch`` for Docker targets: docker update commands (applied to a real dockerd and read
back with inspect) and the compose deploy.resources override."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from quotatune.model import Current, Recommendation
from quotatune.render.patch.commands import render_patch
from quotatune.render.patch.docker import render_compose_override, render_docker_patch
from tests.support import dockerd as support
from tests.support.dockerd import run_container

dockerd = support.dockerd
busybox_image = support.busybox_image


def rec(ns: str, workload: str, container: str, *, cpu_req=250, cpu_lim=500, mem_req=200,
        mem_lim=300, platform="docker") -> Recommendation:
    return Recommendation(
        namespace=ns, workload=workload, container=container,
        cpu_request_millicores=cpu_req, cpu_limit_millicores=cpu_lim,
        memory_request_mib=mem_req, memory_limit_mib=mem_lim,
        current=Current(cpu_request_millicores=None, memory_request_mib=None,
                        memory_limit_mib=512, cpu_limit_millicores=1000),
        strategy="test", samples=2000, history_hours=48.0, confidence="high", status="ok",
        platform=platform,
    )


def commands(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith("docker update")]


def test_standalone_container_gets_one_docker_update_in_exact_units():
    out = render_docker_patch([rec("docker", "api", "api", cpu_lim=1500, mem_lim=641)])
    assert commands(out) == [
        "docker update --cpus 1.5 --cpu-shares 256 --memory 641m --memory-swap 641m "
        "--memory-reservation 200m api"
    ]
    assert "# api: cpu request - -> 250m, limit 1 -> 1500m; memory request - -> 200Mi, " \
           "limit 512Mi -> 641Mi" in out


def test_no_cpu_limit_recommended_means_no_cpus_flag():
    out = render_docker_patch([rec("docker", "api", "api", cpu_lim=None)])
    assert "--cpus" not in out and "--cpu-shares 256" in out


def test_compose_service_is_addressed_by_its_labels_for_all_replicas():
    out = render_docker_patch([rec("shop", "web", "web")])
    (cmd,) = commands(out)
    assert cmd.endswith("$(docker ps -q --filter label=com.docker.compose.project=shop "
                        "--filter label=com.docker.compose.service=web)")


def test_names_docker_could_not_have_never_reach_a_command_line():
    out = render_docker_patch([rec("docker", "x", "x; rm -rf /\nnext"),
                               rec("shop$(reboot)", "web", "web")])
    assert commands(out) == []
    assert out.count("skipped: not a valid docker/compose name") == 2
    assert all(ln.startswith("#") for ln in out.splitlines())


def test_reservation_never_above_the_limit():
    out = render_docker_patch([rec("docker", "a", "a", mem_req=400, mem_lim=300)])
    assert "--memory-reservation 300m" in out


def test_nothing_to_change_is_said_not_run():
    out = render_docker_patch([rec("docker", "a", "a", cpu_req=None, cpu_lim=None,
                                   mem_req=None, mem_lim=None)])
    assert commands(out) == [] and "nothing to change" in out


def test_compose_override_per_project():
    out = render_compose_override([
        rec("shop", "web", "web", cpu_lim=None), rec("shop", "db", "db", mem_lim=1024),
        rec("blog", "app", "app"), rec("docker", "solo", "solo"),
    ])
    assert out.startswith("# not in a compose project (use docker update): solo\n")
    docs = [d for d in yaml.safe_load_all(out) if d]
    assert len(docs) == 2
    blog, shop = docs
    assert blog == {"services": {"app": {"deploy": {"resources": {
        "limits": {"cpus": "0.5", "memory": "300M"},
        "reservations": {"cpus": "0.25", "memory": "200M"}}}}}}
    assert shop["services"]["web"]["deploy"]["resources"]["limits"] == {"memory": "300M"}
    assert shop["services"]["db"]["deploy"]["resources"]["limits"]["memory"] == "1024M"


def test_patch_output_sends_docker_targets_here():
    out = render_patch([rec("docker", "api", "api")])
    assert commands(out)


@pytest.mark.docker
def test_rendered_commands_apply_to_a_real_daemon(dockerd, busybox_image):
    client = dockerd.client()
    labels = {"com.docker.compose.project": "shop", "com.docker.compose.service": "web"}
    solo = run_container(client, busybox_image, "sleep 600", name="solo", mem_limit="512m",
                         cpus=1)
    web = [run_container(client, busybox_image, "sleep 600", name=f"shop-web-{i}",
                         labels=labels, mem_limit="512m") for i in (1, 2)]
    try:
        script = render_docker_patch([
            rec("docker", "solo", "solo", cpu_lim=1500, mem_lim=300, mem_req=200),
            rec("shop", "web", "web", cpu_lim=None, cpu_req=100, mem_lim=640, mem_req=512),
        ])
        env = {**os.environ, "DOCKER_HOST": dockerd.base_url}
        done = subprocess.run(["sh", "-e", "-c", script], env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        solo.reload()
        hc = solo.attrs["HostConfig"]
        assert hc["NanoCpus"] == 1_500_000_000
        assert hc["Memory"] == 300 * 2**20 and hc["MemorySwap"] == 300 * 2**20
        assert hc["MemoryReservation"] == 200 * 2**20 and hc["CpuShares"] == 256
        for ctr in web:
            ctr.reload()
            hc = ctr.attrs["HostConfig"]
            assert hc["Memory"] == 640 * 2**20 and hc["MemoryReservation"] == 512 * 2**20
            assert hc["CpuShares"] == 103  # 100m at 1024 shares per core, rounded up
    finally:
        for ctr in [solo, *web]:
            ctr.remove(force=True)
