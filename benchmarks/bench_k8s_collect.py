"""Kubernetes collector speed: pods per second collected through the recorded API stand-in.

No API server can run here, so the stand-in (tests/support/k8s_standin.py) serves 5,000 pods
templated from the real captured ones (honeycomb kubelet /pods, with their managedFields:
~15 KB each, as a real API server sends them), over 10 nodes each with a /stats/summary
templated from the real one, in pages of 500.  Measured in the same run:

  - ``collect_kubernetes`` (pods, ReplicaSets, Jobs, events, nodes, 10 node summaries; raw JSON
    through ``ApiClient.call_api``, the same parsers as file mode);
  - baseline: the naive way, the same paged pod list through the typed client
    (``CoreV1Api.list_pod_for_all_namespaces``) that builds model objects, pods only;
  - the floor: the same pages fetched and ``json.loads``-ed, nothing else.

Prints pods/s for each.  The first import of the typed client (hundreds of model classes) is
timed apart, because the collector no longer pays it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from quotatune.sources.kubernetes.api import Access, K8sReader  # noqa: E402
from quotatune.sources.kubernetes.collector import collect_kubernetes  # noqa: E402
from tests.support.k8s_standin import StandIn, client_for, scaled_cluster  # noqa: E402

PODS, NODES, PAGE = 5000, 10, 500


def best(fn, runs: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> int:
    cluster = scaled_cluster(PODS, NODES)
    size = len(json.dumps(cluster.pods)) / 2**20
    with StandIn(cluster) as api:
        client = client_for(api.url)

        def ours():
            return collect_kubernetes(client, page_size=PAGE, timeout=60)

        def floor():
            reader = K8sReader(client, timeout=60, page_size=PAGE)
            return reader.list_all("/api/v1/pods", Access("list", "pods"))

        t_import = time.perf_counter()
        from kubernetes import client as k8s

        core = k8s.CoreV1Api(client)
        t_import = time.perf_counter() - t_import

        def typed():
            items, token = [], None
            while True:
                page = core.list_pod_for_all_namespaces(limit=PAGE, _continue=token,
                                                        _request_timeout=60)
                items += page.items
                token = page.metadata._continue
                if not token:
                    return items

        t_ours, out = best(ours)
        t_floor, raw = best(floor)
        t_typed, objs = best(typed, runs=1)
        assert out.specs["pod"].nunique() == PODS and not out.errors, out.errors
        assert len(raw) == PODS and len(objs) == PODS
        assert api.methods() == {"GET"}
    print(f"k8s collect: {PODS} pods ({size:.0f} MiB of pod JSON) on {NODES} nodes, "
          f"pages of {PAGE}")
    print(f"  collect_kubernetes (pods+owners+events+nodes+usage): {t_ours:6.2f} s  "
          f"{PODS / t_ours:7.0f} pods/s  ({len(out.specs)} containers, {len(out.usage)} usage "
          f"rows)")
    print(f"  baseline, typed client list (pods only, model objects): {t_typed:6.2f} s  "
          f"{PODS / t_typed:7.0f} pods/s  (+{t_import:.2f} s to import CoreV1Api once)")
    print(f"  floor, paged fetch + json.loads only:                 {t_floor:6.2f} s  "
          f"{PODS / t_floor:7.0f} pods/s")
    print(f"  speed-up over the typed client: {t_typed / t_ours:.1f}x "
          f"(including usage, which the baseline does not fetch)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
