"""Soak: an hour's worth of Docker collection rounds against 50 real containers with churn.

A private dockerd runs 50 busybox containers under a light load.  Each iteration is what a
cron run once a minute for an hour would do (60 iterations by default, run back to back):
``collect_docker`` (exited containers included) appended to a store; between iterations 5
running containers are removed and 5 new ones started, one short-lived container exits with
an error, and exited containers older than a few iterations are removed.

Checks: no iteration reports an error (a container that exits between listing and reading is
churn, counted apart); every sample appended is read back once (none lost,
none doubled); the process's RSS after warm-up stays flat (growth <= 25 MiB).  Prints the RSS
curve.  Usage: soak_docker.py [ITERATIONS]
"""

from __future__ import annotations

import gc
import multiprocessing
import random
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from quotatune.sources.docker.collector import collect_docker  # noqa: E402
from quotatune.store.history import Store  # noqa: E402
from tests.support.dockerd import (  # noqa: E402
    build_busybox_image,
    require_dockerd,
    run_container,
    start_dockerd,
    stop_dockerd,
)

CONTAINERS = 50
CHURN = 5
WARMUP = 30
MAX_GROWTH_MIB = 10
MAX_OBJECT_GROWTH = 0.01
LOAD = "while :; do i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; sleep 1; done"


def append(store_root: Path, col: object) -> int:
    """Runs in the worker process."""
    return Store(store_root).append(col).samples_added  # type: ignore[arg-type]


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    reason = require_dockerd()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    rng = random.Random(7)
    root = Path(tempfile.mkdtemp(prefix="qts-", dir="/tmp"))
    d = start_dockerd(root, debug=False)
    store = Store(root / "store")
    writer = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    curve: list[tuple[int, float]] = []
    objects: list[tuple[int, int]] = []
    failures: list[str] = []
    churn_seen = 0
    appended = 0
    serial = 0
    started = time.monotonic()
    try:
        client = d.client()
        image = build_busybox_image(client)
        running = []
        for _ in range(CONTAINERS):
            serial += 1
            running.append(run_container(client, image, LOAD, name=f"soak-{serial}",
                                         cpus=0.2, mem_limit="32m"))
        exited: list[tuple[int, object]] = []
        for it in range(1, iterations + 1):
            col = collect_docker(client, include_exited=True, log_tail=20)
            real = [e for e in col.errors if "vanished" not in e]
            churn_seen += len(col.errors) - len(real)
            if real:
                failures.append(f"iteration {it}: {real}")
            long_lived = int((~col.usage["pod"].str.startswith("soak-exit-")).sum())
            if long_lived != len(running):
                failures.append(f"iteration {it}: {long_lived} rows for {len(running)} "
                                "running containers")
            appended += writer.submit(append, store.root, col).result()
            del col
            # churn between rounds
            for ctr in rng.sample(running, CHURN):
                ctr.remove(force=True)
                running.remove(ctr)
            for _ in range(CHURN):
                serial += 1
                running.append(run_container(client, image, LOAD, name=f"soak-{serial}",
                                             cpus=0.2, mem_limit="32m"))
            serial += 1
            exited.append((it, run_container(client, image, "echo failing; exit 3",
                                             name=f"soak-exit-{serial}")))
            for born, ctr in [e for e in exited if e[0] < it - 3]:
                ctr.remove(force=True)  # type: ignore[attr-defined]
                exited.remove((born, ctr))
            if it % 10 == 0 or it == 1:
                gc.collect()
                curve.append((it, rss_mib()))
                objects.append((it, len(gc.get_objects())))
                print(f"iteration {it:4d}: rss {curve[-1][1]:7.1f} MiB, "
                      f"{objects[-1][1]} live objects, "
                      f"{appended} samples stored, {time.monotonic() - started:6.0f} s",
                      flush=True)
        usage = store.read_usage()
        lost_or_doubled = len(usage) - appended
        doubled = int(usage.duplicated(["namespace", "workload", "pod", "container",
                                        "timestamp"]).sum())
    finally:
        writer.shutdown()
        stop_dockerd(d)
        shutil.rmtree(root, ignore_errors=True)

    after = [r for i, r in curve if i >= WARMUP] or [curve[-1][1]]
    base = after[0]
    growth = statistics.median(after[-max(1, len(after) // 10):]) - base
    print(f"iterations: {iterations} (an hour at one collection a minute), "
          f"{CONTAINERS} containers, churn {CHURN} per iteration + 1 exiting")
    print("rss curve (iteration: MiB): "
          + ", ".join(f"{i}: {r:.0f}" for i, r in curve))
    print(f"rss growth after warm-up (iteration {WARMUP}): {growth:+.1f} MiB "
          f"(limit {MAX_GROWTH_MIB})")
    live = [n for i, n in objects if i >= WARMUP] or [objects[-1][1]]
    obj_growth = (live[-1] - live[0]) / live[0]
    print("live Python objects (iteration: count): "
          + ", ".join(f"{i}: {n}" for i, n in objects))
    print(f"object growth after warm-up: {obj_growth:+.2%} (limit {MAX_OBJECT_GROWTH:.0%})")
    print(f"samples appended {appended}, read back {len(usage)}, difference "
          f"{lost_or_doubled}, duplicated {doubled}")
    print(f"failed iterations: {len(failures)}; exiting containers caught between listing "
          f"and reading (churn, reported as vanished): {churn_seen}")
    for f in failures[:5]:
        print("  " + f[:300])
    ok = (not failures and lost_or_doubled == 0 and doubled == 0
          and growth <= MAX_GROWTH_MIB and obj_growth <= MAX_OBJECT_GROWTH)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
