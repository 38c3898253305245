"""Collector speed (docs/architecture.md, "Benchmarks"): one Docker sampling round over 50
running containers must take <= 1.2 s and at most half the wall time of
``docker stats --no-stream`` on the same containers, both measured here in the same run
against a real dockerd.

Starts a private dockerd (as the tests do), runs 50 busybox containers with a light CPU load,
then times:
  - ``collect_docker(rounds=1)`` from cold (a first round includes the CPU-rate window);
  - a later round of a multi-round collection (the previous round's counters give the rate);
  - the same round with cgroup files disabled (the Engine stats API path, for reference);
  - ``docker stats --no-stream`` (the baseline).
Prints the figures and the ratio; exits 1 if a target is missed.  Needs root and docker.io.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from quotatune.sources.docker.collector import collect_docker  # noqa: E402
from tests.support.dockerd import (  # noqa: E402
    build_busybox_image,
    require_dockerd,
    run_container,
    start_dockerd,
    stop_dockerd,
)

CONTAINERS = 50
REPEATS = 5
TARGET_S = 1.2
TARGET_RATIO = 0.5
# A little work every second: enough to give each container a non-zero CPU rate.
LOAD = "while :; do i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; sleep 1; done"


def timed(fn) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> int:
    reason = require_dockerd()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="qtb-", dir="/tmp"))
    d = start_dockerd(root, debug=False)
    try:
        client = d.client()
        image = build_busybox_image(client)
        for i in range(CONTAINERS):
            run_container(client, image, LOAD, name=f"bench-{i:02d}", cpus=0.5,
                          mem_limit="64m")
        deadline = time.monotonic() + 60
        while len(client.containers.list(sparse=True)) < CONTAINERS:
            if time.monotonic() > deadline:
                raise RuntimeError("containers did not start")
            time.sleep(0.2)
        time.sleep(2)  # let dockerd's stats collector and the loads settle

        cold = []
        for _ in range(REPEATS):
            t, col = timed(lambda: collect_docker(client, rounds=1, include_exited=False))
            assert len(col.usage) == CONTAINERS, (len(col.usage), col.errors)
            cold.append(t)

        # A later round: time rounds=3 at interval 0 minus rounds=1, per extra round.
        warm = []
        for _ in range(REPEATS):
            t3, col = timed(lambda: collect_docker(client, rounds=3, interval=0.0,
                                                   include_exited=False))
            assert len(col.usage) == 3 * CONTAINERS, (len(col.usage), col.errors)
            warm.append(max(0.0, (t3 - statistics.median(cold)) / 2))

        api = []
        for _ in range(2):
            t, col = timed(lambda: collect_docker(client, rounds=1, include_exited=False,
                                                  use_cgroups=False))
            assert len(col.usage) == CONTAINERS, (len(col.usage), col.errors)
            api.append(t)

        baseline = []
        for _ in range(3):
            t, proc = timed(lambda: subprocess.run(
                ["docker", "-H", d.base_url, "stats", "--no-stream"],
                capture_output=True, text=True, check=True))
            rows = [ln for ln in proc.stdout.splitlines()[1:] if ln.strip()]
            assert len(rows) == CONTAINERS, len(rows)
            baseline.append(t)
    finally:
        stop_dockerd(d)
        shutil.rmtree(root, ignore_errors=True)

    m_cold, m_base = statistics.median(cold), statistics.median(baseline)
    ratio = m_cold / m_base
    print(f"containers: {CONTAINERS} running (busybox, light load), private dockerd")
    print(f"collect_docker one round, cold (median of {REPEATS}): {m_cold:.3f} s  "
          f"[{', '.join(f'{t:.3f}' for t in cold)}]")
    print(f"collect_docker later round (median of {REPEATS}):    "
          f"{statistics.median(warm):.3f} s")
    print(f"collect_docker one round via the stats API only:     "
          f"{statistics.median(api):.3f} s  (reference; used when cgroup files are not "
          "readable)")
    print(f"baseline docker stats --no-stream (median of 3):     {m_base:.3f} s  "
          f"[{', '.join(f'{t:.3f}' for t in baseline)}]")
    print(f"ratio collect/baseline: {ratio:.2f} (target <= {TARGET_RATIO}); "
          f"round target <= {TARGET_S} s")
    ok = m_cold <= TARGET_S and ratio <= TARGET_RATIO
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
