"""Finding and reading a container's cgroup files.

cgroup v1 is exercised for real by the dockerd tests on this kind of host; cgroup v2 hosts
(most current distributions) and the co-mounted ``cpu,cpuacct`` v1 layout are laid out here in
a directory tree with the kernel's file formats, passed in as the ``/proc`` and
``/sys/fs/cgroup`` roots."""

from __future__ import annotations

from pathlib import Path

import pytest

from quotatune.sources.docker.cgroup import (
    DEFAULT_LAYOUTS,
    find_cgroup,
    find_cgroup_by_id,
    layout_of,
    read_cgroup_stats,
)
from quotatune.sources.docker.parse import parse_docker_stats

CID = "f97ed5bca0a5a0b85bfd52c4144b96174e825c92a138bc0458f0e196f2c7c1b4"
OTHER = "10b703fb312b25e8368ab5a3bce3a1610d1cee5d71a94920f1a7adbc5b0cb326"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def v2(tmp_path):
    proc, cg = tmp_path / "proc", tmp_path / "cgroup"
    write(cg / "cgroup.controllers", "cpuset cpu io memory pids\n")
    d = cg / "system.slice" / f"docker-{CID}.scope"
    write(d / "cpu.stat", "usage_usec 2000000\nuser_usec 1500000\nsystem_usec 500000\n"
          "nr_periods 100\nnr_throttled 10\nthrottled_usec 40000\n")
    write(d / "memory.current", "234647552\n")
    write(d / "memory.stat", "anon 61440\nfile 233848832\ninactive_file 33554432\n"
          "active_file 0\nshmem 200294400\n")
    write(proc / "4242" / "cgroup", f"0::/system.slice/docker-{CID}.scope\n")
    return proc, cg, d


def test_v2_found_by_pid_and_by_id_and_read_as_a_stats_payload(v2):
    proc, cg, d = v2
    by_pid = find_cgroup(4242, CID, proc_root=proc, cgroup_root=cg)
    assert by_pid is not None and by_pid.version == 2
    assert find_cgroup_by_id(CID, DEFAULT_LAYOUTS, cgroup_root=cg) == by_pid
    assert layout_of(by_pid, CID, cg) == "system.slice/docker-{id}.scope"
    first = parse_docker_stats(read_cgroup_stats(by_pid, CID, "web", 1_800_000_000.0))
    assert first["memory_working_set_bytes"] == 234647552 - 33554432
    assert first["name"] == "web" and first["cpu_cores"] is None
    write(d / "cpu.stat", "usage_usec 2500000\nnr_periods 120\nnr_throttled 15\n")
    later = parse_docker_stats(read_cgroup_stats(by_pid, CID, "web", 1_800_000_002.0), first)
    assert later["cpu_cores"] == pytest.approx(0.25)  # 0.5 s of CPU in 2 s
    assert later["cpu_throttled_ratio"] == pytest.approx(5 / 20)


def test_a_pid_whose_cgroup_names_another_container_is_not_trusted(v2):
    proc, cg, _ = v2
    # another PID namespace, or a remote daemon: the pid is some other process here
    assert find_cgroup(4242, OTHER, proc_root=proc, cgroup_root=cg) is None
    assert find_cgroup(999, CID, proc_root=proc, cgroup_root=cg) is None
    assert find_cgroup(0, CID, proc_root=proc, cgroup_root=cg) is None


def test_ids_that_are_paths_are_refused(v2):
    _, cg, _ = v2
    assert find_cgroup_by_id("../../etc", DEFAULT_LAYOUTS, cgroup_root=cg) is None
    assert find_cgroup_by_id("", DEFAULT_LAYOUTS, cgroup_root=cg) is None


def test_v1_co_mounted_cpu_cpuacct_with_a_custom_parent(tmp_path):
    proc, cg = tmp_path / "proc", tmp_path / "cgroup"
    rel = f"ci-runners/{CID}"
    write(cg / "cpu,cpuacct" / rel / "cpuacct.usage", "43620018\n")
    write(cg / "cpu,cpuacct" / rel / "cpu.stat", "nr_periods 0\nnr_throttled 0\n"
          "throttled_time 0\n")
    write(cg / "memory" / rel / "memory.usage_in_bytes", "2887680\n")
    write(cg / "memory" / rel / "memory.stat", "cache 2433024\ninactive_file 1000\n"
          "total_inactive_file 2162688\n")
    write(proc / "77" / "cgroup",
          f"5:memory:/{rel}\n3:cpu,cpuacct:/{rel}\n1:name=systemd:/{rel}\n0::/\n")
    files = find_cgroup(77, CID, proc_root=proc, cgroup_root=cg)
    assert files is not None and files.version == 1
    # the default layouts do not know this parent; the one learned from the pid does
    assert find_cgroup_by_id(CID, DEFAULT_LAYOUTS, cgroup_root=cg) is None
    learned = layout_of(files, CID, cg)
    assert learned == "ci-runners/{id}"
    assert find_cgroup_by_id(CID, (learned,), cgroup_root=cg) == files
    r = parse_docker_stats(read_cgroup_stats(files, CID, "runner", 1_800_000_000.0))
    assert r["memory_working_set_bytes"] == 2887680 - 2162688  # total_inactive_file wins
    assert r["cpu_total_ns"] == 43620018


def test_files_gone_mid_read_raise_oserror(v2):
    proc, cg, d = v2
    files = find_cgroup(4242, CID, proc_root=proc, cgroup_root=cg)
    assert files is not None
    (d / "memory.current").unlink()
    with pytest.raises(OSError):
        read_cgroup_stats(files, CID, "web", 1_800_000_000.0)
