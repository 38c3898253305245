"""The explicit registry of strategies: one entry per name, one module per family
(``simple``, ``vpa``, ``window``, ``tail``); what they share is in ``base``."""

from __future__ import annotations

from quotatune.analysis.strategies.base import Strategy
from quotatune.analysis.strategies.simple import krr, krr_oom, percentile
from quotatune.analysis.strategies.tail import TAIL
from quotatune.analysis.strategies.vpa import vpa
from quotatune.analysis.strategies.window import WINDOW_STRATEGIES
from quotatune.rollup import sketch

STRATEGIES: dict[str, Strategy] = {
    "percentile": Strategy("percentile", "p95 CPU, p99 memory x1.15, limit = max x1.15",
                           percentile, columns=sketch.CPU_COUNTS + sketch.MEM_COUNTS),
    "krr": Strategy("krr", "Robusta KRR simple: highest pod p95 CPU, max memory x1.15 over 14 "
                    "days", krr, window_days=14.0, columns=sketch.CPU_COUNTS, per_pod=True),
    "krr-oom": Strategy("krr-oom", "krr with --use_oomkill_data: after an OOM kill, memory at "
                        "least the limit x1.25", krr_oom, window_days=14.0,
                        columns=sketch.CPU_COUNTS, per_pod=True),
    "vpa": Strategy("vpa", "Kubernetes VPA recommender defaults (decaying histograms, p90, "
                    "x1.15, one memory peak per pod and day)", vpa,
                    columns=(*sketch.CPU_DECAYED, "mem_hour_max"), per_pod=True,
                    pod_scalars=True),
    **WINDOW_STRATEGIES,
    TAIL.name: TAIL,
}
DEFAULT_STRATEGY = TAIL.name
