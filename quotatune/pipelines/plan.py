"""The plan flow: nodes from a file or a cluster, recommendations, then the capacity plan."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from quotatune.analysis.capacity.plan import parse_shape, plan_capacity
from quotatune.analysis.recommend import recommend, recommend_from_rollups, rollup_columns
from quotatune.model import Recommendation, Target
from quotatune.model.capacity import HostCapacity
from quotatune.model.collected import Collected
from quotatune.model.errors import InputError, SourceError
from quotatune.pipelines.inputs import rollups_from_files
from quotatune.sources.kubernetes.api import connect
from quotatune.sources.kubernetes.nodes import collect_nodes, read_nodes_file
from quotatune.sources.text import open_text

__all__ = ["load_nodes", "parse_shape", "plan_capacity", "plan_inputs", "read_docker_info",
           "recommend_for_plan"]


def load_nodes(nodes_file: Path | None, context: str | None, kubeconfig: Path | None
               ) -> pd.DataFrame | None:
    """Nodes from ``kubectl get nodes -o json`` or live from a context; None if neither."""
    if nodes_file is not None:
        return read_nodes_file(nodes_file)
    if context is not None:
        try:
            return collect_nodes(connect(str(kubeconfig) if kubeconfig else None, context))
        except SourceError as exc:
            raise InputError(f"--context {context}: {exc}") from None
    return None


def last_samples(rollups: pd.DataFrame) -> pd.DataFrame:
    """Each pod's last sample time, from its rollups: all ``running_pods`` needs to count the
    pods that reported within a window of their workload's last sample (a pod did so exactly
    when its last sample did)."""
    cols = ["timestamp", "namespace", "workload", "pod"]
    if rollups.empty:
        return pd.DataFrame(columns=cols)
    last = rollups.groupby(cols[1:], observed=True, sort=False)["t_last"].max().reset_index()
    return last.rename(columns={"t_last": "timestamp"})[cols]


def recommend_for_plan(data: Collected) -> list[Recommendation]:
    """A row per known container; those without usage (status ``no-usage``) recommend
    nothing, so the plan packs their current requests."""
    return recommend(data.usage, data.specs, data.events)


def plan_inputs(files: list[Path] | None, fmt: str | None, store: Path, target: Target
                ) -> tuple[list[Recommendation], Collected]:
    """Recommendations and the frames the plan reads.  From a store: recommendations from
    the target's rollups, and as usage only the samples of its last day (what tells how
    many pods run now), never every sample."""
    if files:
        # Streamed into per-day rollups (the files are never held whole) of the columns the
        # default strategy reads, as from a store.
        fr = rollups_from_files(files, fmt, target, columns=rollup_columns(None))
        recs = recommend_from_rollups(fr.rollups, fr.specs, fr.events)
        usage = last_samples(fr.rollups)
        return recs, Collected(usage=usage, specs=fr.specs, events=fr.events,
                               notes=fr.notes, errors=fr.errors)
    from quotatune.pipelines.stored import latest_usage, open_stored, recommendations

    s = open_stored(store, target)
    usage = latest_usage(s, ["timestamp", "namespace", "workload", "pod"])
    return recommendations(s), Collected(usage=usage, specs=s.specs, events=s.events)


def read_docker_info(path: Path) -> HostCapacity:
    """``docker info --format '{{json .}}'`` (or the Engine's /info JSON) -> HostCapacity."""
    try:
        info = json.loads(open_text(path))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    except UnicodeDecodeError:  # a byte-order mark followed by broken UTF-16
        raise InputError(f"{path}: not UTF-8 or UTF-16 text") from None
    if not isinstance(info, dict):
        raise InputError(f"{path}: expected the JSON object of 'docker info'")
    ncpu, mem = info.get("NCPU"), info.get("MemTotal")
    if not isinstance(ncpu, int) or not isinstance(mem, int) or ncpu <= 0 or mem <= 0:
        raise InputError(f"{path}: needs positive integers NCPU and MemTotal (docker info)")
    return HostCapacity(ncpu, mem)


