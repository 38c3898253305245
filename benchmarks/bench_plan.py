"""Capacity planning speed and quality: 5,000 pods on 200 nodes.

A synthetic cluster with the shape of a real one: 200 nodes (120 of 4 cores / 16 GiB and 80 of
8 cores / 32 GiB allocatable, 110 pods each), 3 DaemonSets (one pod per node: 600 pods) and
4,400 pods from 400 Deployments of 1-30 replicas, with current requests drawn from wide
ranges and recommended requests at 30-120 % of them (seeded, so every run plans the same
cluster).  Measured in one run:

  - placing all 5,000 pods on the 200 nodes (current and recommended requests), Pending count;
  - the node count for each candidate shape (``min_bins``: which method ran, the lower bound,
    the gap) against the plain first-fit-decreasing baseline on the same pods;
  - the exact solver against FFD on ten small instances (36 pods), where it can run;
  - ``plan_capacity`` end to end (quotas, savings and YAML included).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from quotatune.analysis.capacity import packing
from quotatune.analysis.capacity.nodes import expand, node_arrays, schedule  # noqa: E402
from quotatune.analysis.capacity.plan import parse_shape, plan_capacity  # noqa: E402
from quotatune.analysis.capacity.pods import build_workloads  # noqa: E402
from quotatune.model import Current, Recommendation  # noqa: E402

MIB, GIB = 1 << 20, 1 << 30
SHAPES = ["4cpu/16Gi", "8cpu/32Gi", "16cpu/64Gi"]


def cluster(seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame, list[Recommendation]]:
    rng = np.random.default_rng(seed)
    nodes = pd.DataFrame({
        "node": [f"node-{i:03d}" for i in range(200)],
        "cpu_allocatable_cores": [3.92] * 120 + [7.91] * 80,
        "memory_allocatable_bytes": [14.5 * GIB] * 120 + [30.0 * GIB] * 80,
        "pods_allocatable": [110.0] * 200,
    })
    rows, recs = [], []
    replicas = rng.integers(1, 31, 400)
    replicas = np.maximum(1, np.round(replicas * 4400 / replicas.sum())).astype(int)
    replicas[0] += 4400 - replicas.sum()  # exactly 4,400 Deployment pods
    kinds = ["DaemonSet"] * 3 + ["Deployment"] * 400
    counts = [1, 1, 1, *replicas.tolist()]
    for i, (kind, n) in enumerate(zip(kinds, counts, strict=True)):
        ns, wl = f"team-{i % 25:02d}", f"svc-{i:03d}"
        cpu = int(rng.choice([25, 50, 50, 100, 100, 200, 250, 300, 400, 500]))
        mem = int(rng.choice([64, 128, 256, 256, 512, 512, 768, 1024, 1536, 2048]))
        if kind == "DaemonSet":
            cpu, mem = 100, 128
        rows.append({"namespace": ns, "workload": wl, "workload_kind": kind, "container": "app",
                     "cpu_request_cores": cpu / 1000, "cpu_limit_cores": None,
                     "memory_request_bytes": float(mem * MIB),
                     "memory_limit_bytes": float(mem * MIB), "replicas": n})
        f = rng.uniform(0.3, 1.2)
        rc, rm = max(10, int(cpu * f)), max(32, int(mem * f))
        recs.append(Recommendation(ns, wl, "app", rc, None, rm, int(rm * 1.15),
                                   Current(cpu, mem, mem), "bench", 4032, 336.0, "high", "ok"))
    return pd.DataFrame(rows), nodes, recs


CPU_SECONDS: list[float] = []


def timed(fn, *args, **kw):
    """Wall seconds; the process CPU seconds go to CPU_SECONDS (robust on a busy machine)."""
    t, c = time.perf_counter(), time.process_time()
    out = fn(*args, **kw)
    CPU_SECONDS.append(time.process_time() - c)
    return out, time.perf_counter() - t


def main() -> None:
    specs, nodes, recs = cluster()
    ws = build_workloads(recs, specs)
    names, alloc, _ = node_arrays(nodes)
    print(f"cluster: {len(names)} nodes, {len(ws)} workloads")
    for sc in ("current", "recommended"):
        demand, _, target = expand(ws, sc, len(names))
        (assignment, _), t = timed(schedule, demand, alloc, target)
        print(f"  place {len(demand)} pods ({sc} requests) on {len(names)} nodes: {t:.3f} s "
              f"(cpu {CPU_SECONDS[-1]:.3f} s), {int((assignment < 0).sum())} Pending")

    print("node counts per shape, recommended requests (DaemonSets on every node first):")
    rest = [w for w in ws if not w.is_daemonset]
    demand, _, _ = expand(rest, "recommended", 0)
    daemon = np.array([(*w.pod_request("recommended"), 1) for w in ws if w.is_daemonset]).sum(0)
    for text in SHAPES:
        usable = parse_shape(text).capacity() - daemon
        res, t = timed(packing.min_bins, demand, usable)
        cpu = CPU_SECONDS[-1]
        ffd, tb = timed(packing.first_fit_decreasing, demand, usable)
        ffd_bins = int(ffd.max()) + 1
        lb = packing.lower_bound(demand, usable)
        print(f"  {text:>10}: {res.bins} nodes by {res.method} in {t:.3f} s (cpu {cpu:.3f} s; "
              f"lower bound {res.lower_bound}, gap {res.gap}, {res.note}); "
              f"FFD baseline {ffd_bins} nodes in {tb:.3f} s (cpu {CPU_SECONDS[-1]:.3f} s; "
              f"gap {ffd_bins - lb})")

    # Small instances, where the exact solver runs: 12 workloads x 3 replicas on 2-core nodes.
    cap = parse_shape("2cpu/8Gi").capacity()
    print("small instances (36 pods of 12 sizes, 2cpu/8Gi), min_bins vs FFD:")
    saved = proved = 0
    for seed in range(10):
        rng = np.random.default_rng(seed)
        small = np.repeat(np.column_stack([rng.integers(200, 1300, 12),
                                           rng.integers(256, 3000, 12) * MIB,
                                           np.ones(12, int)]), 3, axis=0)
        res, t = timed(packing.min_bins, small, cap)
        ffd, tb = timed(packing.first_fit_decreasing, small, cap)
        ffd_bins = int(ffd.max()) + 1
        saved += ffd_bins - (res.bins or ffd_bins)
        proved += res.optimal
        print(f"  seed {seed}: {res.bins} nodes by {res.method} in {t:.2f} s (lower bound "
              f"{res.lower_bound}, optimal {res.optimal}); FFD {ffd_bins} in {tb * 1000:.1f} ms")
    print(f"  proved optimal {proved}/10; {saved} node(s) fewer than FFD in total")

    shapes = [parse_shape(s) for s in SHAPES]
    plan, t = timed(plan_capacity, recs, specs, nodes, shapes)
    rec = plan.scenarios["recommended"]
    print(f"plan_capacity end to end ({rec.pods} pods, {len(shapes)} shapes x 2 scenarios, "
          f"quotas for {len(plan.quotas)} namespaces): {t:.2f} s (cpu {CPU_SECONDS[-1]:.2f} s)")


if __name__ == "__main__":
    main()
