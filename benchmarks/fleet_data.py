"""Deterministic synthetic fleet usage in the canonical format (docs/architecture.md, "Data
contracts"), for the fleet-scale benchmarks.

A fleet of ``containers`` series, one sample every ``step`` seconds for ``days`` days from
2026-11-02 00:00 UTC.  Workload ``w`` is ``ns{w % 100}/app{w}``; every fifth workload runs a
second container (``envoy``) beside its ``app`` container, so 10,000 containers span ~8,333
workloads and ``ns77/app7777`` exists.  Pods carry Deployment-style names
(``app7-5d8f7c9b6f-x2k9q``, hashes from the Kubernetes alphabet) and ~10 % of workloads roll
out once, mid-week, to a new ReplicaSet hash.  CPU follows a daily cycle with multiplicative
noise; ~5 % of containers are bursty; memory is flat with a small daily swing, except ~3 %
that leak (saw-tooth: grow to the limit, restart) and ~3 % that grow steadily.  Current
requests and limits are constant per container; ~30 % have no CPU limit (null).

Rows are ordered container by container (an export per series), one Parquet row group per
chunk of ~1 M rows; names are dictionary-encoded.  Generation is chunked, so its memory is
bounded by one chunk whatever the scale.  Files are cached under ``benchmarks/out/`` by their
parameters and written atomically (temporary name, then rename).

Imports of numpy/pyarrow are inside the functions: the benchmark parents import this module
to find paths and must stay small, since a child process starts with its parent's peak RSS.

    python benchmarks/fleet_data.py --containers 5000 --days 7 --step 60 --format parquet
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"
VERSION = 2  # bump when the generated data changes, so cached files are rebuilt
START = "2026-11-02T00:00:00"
ROWS_PER_GROUP = 1_000_000
NAMESPACES = 100
SIDECAR_EVERY = 5
_K8S = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet of Kubernetes name suffixes
MIB = 2**20


@dataclass(frozen=True)
class Fleet:
    containers: int
    days: int
    step: int
    seed: int = 13

    @property
    def samples_per_container(self) -> int:
        return self.days * 86_400 // self.step

    @property
    def rows(self) -> int:
        return self.containers * self.samples_per_container

    def path(self, fmt: str) -> Path:
        ext = {"parquet": "parquet", "csv": "csv"}[fmt]
        return OUT / (f"fleet-v{VERSION}-c{self.containers}-d{self.days}-s{self.step}"
                      f"-r{self.seed}.{ext}")

    def workload_count(self) -> int:
        """Workloads needed for ``containers`` (every SIDECAR_EVERY-th has two)."""
        return _workloads_for(self.containers)

    def target(self) -> str:
        """A one-workload target that exists: ``ns77/app7777`` at 10,000 containers,
        otherwise the workload at the same relative place in the fleet."""
        w = 7777 if self.workload_count() > 7777 else self.workload_count() * 7 // 9
        return f"ns{w % NAMESPACES}/app{w}"


def _workloads_for(containers: int) -> int:
    full, rest = divmod(containers, SIDECAR_EVERY + 1)
    return full * SIDECAR_EVERY + rest - (1 if rest > 1 else 0) if rest else full * SIDECAR_EVERY


def ensure(fleet: Fleet, fmt: str) -> Path:
    """The cached file, generated first (in a child process, to keep the caller small)."""
    path = fleet.path(fmt)
    if not path.exists():
        print(f"generating {path.name}: {fleet.rows:,} rows ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, __file__, "--containers", str(fleet.containers),
                        "--days", str(fleet.days), "--step", str(fleet.step),
                        "--seed", str(fleet.seed), "--format", fmt], check=True,
                       stdout=sys.stderr)
    return path


# ---------------------------------------------------------------------------------------------
# Generation (runs in its own process)

def _layout(n: int, seed: int) -> dict[str, Any]:
    """Per-container identity and behaviour, fixed for the whole fleet (independent of how
    the rows are later chunked)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    workload = np.empty(n, dtype=np.int64)
    second = np.zeros(n, dtype=bool)  # the sidecar of a two-container pod
    w = i = 0
    while i < n:
        workload[i] = w
        if w % SIDECAR_EVERY == 0 and i + 1 < n:
            workload[i + 1] = w
            second[i + 1] = True
            i += 1
        i += 1
        w += 1
    n_w = int(workload[-1]) + 1
    alphabet = np.array(list(_K8S))

    def hashes(k: int, size: int) -> list[str]:
        return ["".join(r) for r in alphabet[rng.integers(0, len(_K8S), (size, k))]]

    rs_old, rs_new, pod_old, pod_new = hashes(10, n_w), hashes(10, n_w), hashes(5, n_w), \
        hashes(5, n_w)
    rollout = rng.random(n_w) < 0.10
    rollout_at = rng.uniform(0.3, 0.7, n_w)  # fraction of the period

    base_cpu = rng.lognormal(-2.0, 1.0, n)  # cores; median ~0.14
    base_cpu[second] = rng.lognormal(-3.5, 0.5, int(second.sum()))  # sidecars are small
    base_mem = rng.lognormal(math.log(300 * MIB), 0.8, n)
    base_mem[second] = rng.lognormal(math.log(60 * MIB), 0.3, int(second.sum()))
    kind = rng.choice(4, n, p=[0.89, 0.05, 0.03, 0.03])  # 0 steady, 1 bursty, 2 leak, 3 grow
    cpu_req = np.ceil(base_cpu * rng.lognormal(0.7, 0.5, n) / 0.05) * 0.05
    cpu_lim = np.where(rng.random(n) < 0.7, cpu_req * 2, np.nan)
    mem_req = np.ceil(base_mem * rng.lognormal(0.4, 0.3, n) / (64 * MIB)) * (64 * MIB)
    mem_lim = np.maximum(mem_req * rng.choice([1.0, 1.5, 2.0], n), base_mem * 1.3)
    mem_lim = np.ceil(mem_lim / (64 * MIB)) * (64 * MIB)
    return {
        "workload": workload, "second": second, "rs_old": rs_old, "rs_new": rs_new,
        "pod_old": pod_old, "pod_new": pod_new, "rollout": rollout, "rollout_at": rollout_at,
        "base_cpu": base_cpu, "base_mem": base_mem, "kind": kind,
        "amp": rng.uniform(0.1, 0.6, n), "phase": rng.uniform(0, 1, n),
        "leak_hours": rng.uniform(10, 60, n),  # hours from restart to the limit
        "growth": rng.uniform(0.3, 1.5, n),  # relative growth over the whole period
        "cpu_req": cpu_req, "cpu_lim": cpu_lim, "mem_req": mem_req, "mem_lim": mem_lim,
    }


def _chunk(fleet: Fleet, lay: dict[str, Any], lo: int, hi: int) -> Any:
    """The rows of containers ``lo``..``hi - 1`` as an Arrow table (canonical columns)."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng([fleet.seed, lo])
    t_n = fleet.samples_per_container
    c = hi - lo
    t = np.arange(t_n, dtype=np.float64) * fleet.step  # seconds since START
    day = (t % 86_400) / 86_400
    sl = slice(lo, hi)
    kind = lay["kind"][sl][:, None]

    cycle = np.sin(2 * np.pi * (day[None, :] - lay["phase"][sl][:, None]))
    cpu = lay["base_cpu"][sl][:, None] * (1 + lay["amp"][sl][:, None] * cycle)
    cpu = cpu * rng.gamma(4.0, 0.25, (c, t_n))
    burst = (kind == 1) & (rng.random((c, t_n)) < 0.003)
    cpu = np.where(burst, cpu * rng.uniform(4, 12, (c, t_n)), cpu)

    mem = lay["base_mem"][sl][:, None] * (1 + 0.1 * lay["amp"][sl][:, None] * cycle)
    mem = mem * (1 + rng.normal(0, 0.01, (c, t_n)))
    limit = lay["mem_lim"][sl][:, None]
    period = lay["leak_hours"][sl][:, None] * 3600
    leak = lay["base_mem"][sl][:, None] + (0.99 * limit - lay["base_mem"][sl][:, None]).clip(0) \
        * ((t[None, :] % period) / period)
    mem = np.where(kind == 2, leak, mem)
    grow = 1 + lay["growth"][sl][:, None] * t[None, :] / (t_n * fleet.step)
    mem = np.where(kind == 3, mem * grow, mem)
    mem = np.floor(mem.clip(4096) / 4096) * 4096
    del cycle, burst, leak, grow

    w = lay["workload"][sl]
    rolled = lay["rollout"][w][:, None] & (t[None, :] >= lay["rollout_at"][w][:, None]
                                           * t_n * fleet.step)
    pod_names = [f"app{wi}-{lay['rs_old'][wi]}-{lay['pod_old'][wi]}" for wi in w] + \
                [f"app{wi}-{lay['rs_new'][wi]}-{lay['pod_new'][wi]}" for wi in w]
    pod_idx = (np.arange(c)[:, None] + c * rolled).astype(np.int32).ravel()
    del rolled
    local = np.repeat(np.arange(c, dtype=np.int32), t_n)

    def names(values: list[str], idx: Any) -> Any:
        # One entry per distinct name: a dictionary with repeated values (one per container)
        # made the Parquet writer fall back to plain strings, unlike a real export.
        uniq, inv = np.unique(np.asarray(values), return_inverse=True)
        return pa.DictionaryArray.from_arrays(pa.array(inv.astype(np.int32)[idx]),
                                              pa.array(uniq))

    def per_container(v: Any) -> Any:
        rep = np.repeat(v, t_n)
        return pa.array(rep, pa.float64(), mask=np.isnan(rep))

    start = np.datetime64(START, "us")
    ts = np.tile(start + (t * 1e6).astype("timedelta64[us]"), c)
    return pa.table({
        "timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "namespace": names([f"ns{wi % NAMESPACES}" for wi in w], local),
        "workload": names([f"app{wi}" for wi in w], local),
        "pod": names(pod_names, pod_idx),
        "container": names(["app", "envoy"], lay["second"][sl].astype(np.int32)[local]),
        "cpu_cores": cpu.ravel(),
        "memory_working_set_bytes": mem.ravel(),
        "cpu_request_cores": per_container(lay["cpu_req"][sl]),
        "cpu_limit_cores": per_container(lay["cpu_lim"][sl]),
        "memory_request_bytes": per_container(lay["mem_req"][sl]),
        "memory_limit_bytes": per_container(lay["mem_lim"][sl]),
    })


def chunks(fleet: Fleet) -> Any:
    """Yield the fleet as Arrow tables of ~ROWS_PER_GROUP rows (whole containers)."""
    lay = _layout(fleet.containers, fleet.seed)
    per = max(1, ROWS_PER_GROUP // fleet.samples_per_container)
    for lo in range(0, fleet.containers, per):
        yield _chunk(fleet, lay, lo, min(lo + per, fleet.containers))


def _for_csv(table: Any) -> Any:
    """Names as plain strings and times as RFC 3339 text, as a CSV export writes them."""
    import numpy as np
    import pyarrow as pa

    cols = {}
    for name in table.column_names:
        col = table[name]
        if name == "timestamp":
            us = col.combine_chunks().cast(pa.int64()).to_numpy().astype("datetime64[us]")
            col = pa.array(np.char.add(np.datetime_as_string(us, unit="s"), "Z"))
        elif pa.types.is_dictionary(col.type):
            col = col.cast(pa.string())
        cols[name] = col
    return pa.table(cols)


def write(fleet: Fleet, fmt: str) -> Path:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    path = fleet.path(fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    writer: Any = None
    try:
        for table in chunks(fleet):
            if fmt == "csv":
                table = _for_csv(table)
                if writer is None:
                    writer = pcsv.CSVWriter(str(tmp), table.schema)
            elif writer is None:
                writer = pq.ParquetWriter(str(tmp), table.schema, compression="snappy")
            writer.write_table(table, **({} if fmt == "csv" else
                                         {"row_group_size": ROWS_PER_GROUP * 2}))
        writer.close()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--containers", type=int, default=5000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--step", type=int, default=60, help="seconds between samples")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    a = ap.parse_args()
    fleet = Fleet(a.containers, a.days, a.step, a.seed)
    print(write(fleet, a.format))


if __name__ == "__main__":
    main()
