"""Pure parsers for Kubernetes Pod and Event JSON into the spec and event frames.

The same functions serve the live collector (which fetches raw JSON with
``_preload_content=False``) and file mode (``kubectl get … -o json`` dumps), so what a user
imports is read exactly like what the collector saw.  Environment values never leave
:func:`quotatune.sources.envscan.scan`: only names, JVM flags and names of non-ASCII variables.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from quotatune import model
from quotatune.model import units
from quotatune.model.errors import InputError
from quotatune.model.redact import redact, redact_args
from quotatune.sources import envscan
from quotatune.sources.kubernetes.fields import as_dict, as_list, as_str, as_time
from quotatune.sources.kubernetes.owners import Owner, OwnerIndex, resolve_owner

SOURCE = "kubernetes"
# Termination messages may carry a log tail; keep enough for a finding, not a whole log.
MAX_MESSAGE = 500
Scans = dict[tuple[Any, ...], envscan.EnvScan]


def items_of(payload: Any, what: str, kinds: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The ``items`` of a Kubernetes list (or a single object), or one clear InputError."""
    if not isinstance(payload, Mapping):
        raise InputError(f"{what}: expected a JSON object, got {type(payload).__name__}")
    if "items" not in payload:
        if kinds and payload.get("kind") in kinds or "metadata" in payload:
            return [dict(payload)]
        raise InputError(f"{what}: no 'items' list in the payload")
    items = payload["items"]
    if items is None:
        return []
    if not isinstance(items, list):
        raise InputError(f"{what}: 'items' is not a list")
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InputError(f"{what}: item {i} is not an object")
    return items


@functools.lru_cache(maxsize=4096)
def _quantity(q: str, memory: bool) -> float:
    # Quantities repeat across the replicas of a workload: parse each text once.
    return float(units.memory_quantity_to_bytes(q) if memory else units.parse_quantity(q))


def _resource(resources: dict[str, Any], key: str, name: str, where: str) -> float | None:
    q = as_dict(resources.get(key)).get(name)
    if q is None:
        return None
    try:
        if isinstance(q, str):
            value = _quantity(q, name == "memory")
        else:
            value = float(units.memory_quantity_to_bytes(q) if name == "memory"
                          else units.parse_quantity(q))
    except InputError as exc:
        raise InputError(f"{where}: resources.{key}.{name}: {exc}") from None
    if value < 0:  # the API server refuses these; a dump that has one was edited by hand
        raise InputError(f"{where}: resources.{key}.{name}: negative quantity {q!r}")
    return value


def _env(container: dict[str, Any]) -> dict[str, str]:
    """Name -> value for literal env entries; ``valueFrom`` entries get an empty value because
    the value lives in a Secret/ConfigMap the collector never reads."""
    env: dict[str, str] = {}
    for e in as_list(container.get("env")):
        e = as_dict(e)
        name = as_str(e.get("name"))
        if name:
            env[name] = as_str(e.get("value")) if "valueFrom" not in e else ""
    return env


def _int(v: Any) -> int | None:
    """An integer field such as exitCode; anything else (text, NaN, huge floats) is None."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return int(v) if math.isfinite(v) and abs(v) < 2**31 else None


def _strs(v: Any) -> tuple[str, ...]:
    return tuple(as_str(x) for x in as_list(v))


def parse_pods(
    pod_list: Any,
    *,
    owners: OwnerIndex | None = None,
    now: pd.Timestamp | None = None,
    source: str = SOURCE,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A PodList (or one Pod) -> (spec frame, event frame).

    ``owners`` holds ReplicaSets and Jobs when they were listed, so that a Deployment or a
    CronJob is found through its ReplicaSet/Job; without it names are used (hash stripped).
    ``now`` stamps waiting reasons, which carry no time of their own.
    """
    specs: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    scans: Scans = {}
    for pod in items_of(pod_list, "pods", ("Pod",)):
        meta, spec, status = as_dict(pod.get("metadata")), as_dict(pod.get("spec")), as_dict(
            pod.get("status")
        )
        name, ns = as_str(meta.get("name")), as_str(meta.get("namespace")) or "default"
        if not name:
            raise InputError("pods: a pod without metadata.name")
        owner = resolve_owner(meta, owners)
        where = f"pod {ns}/{name}"
        statuses = {
            as_str(s.get("name")): s
            for s in as_list(status.get("containerStatuses"))
            + as_list(status.get("initContainerStatuses"))
            if isinstance(s, dict)
        }
        phase = as_str(status.get("phase"))
        fallback = now if now is not None else as_time(status.get("startTime"))
        base = {"namespace": ns, "workload": owner.name, "pod": name}
        for init, c in [(True, c) for c in as_list(spec.get("initContainers"))] + [
            (False, c) for c in as_list(spec.get("containers"))
        ]:
            c = as_dict(c)
            cname = as_str(c.get("name"))
            # A native sidecar is an init container with restartPolicy Always: it runs for the
            # pod's whole life, so it is sized like a regular container.
            is_init = init and c.get("restartPolicy") != "Always"
            st = as_dict(statuses.get(cname))
            specs.append(_spec_row(c, st, base, owner, where, is_init, phase, as_str(
                spec.get("nodeName")), source, scans))
            events.extend(_container_events(st, {**base, "container": cname}, fallback, source))
        if as_str(status.get("reason")) == "Evicted":
            events.extend(_evictions(pod, base, source))
        for cond in as_list(status.get("conditions")):
            cond = as_dict(cond)
            if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
                events.append({
                    **base, "container": "", "kind": "scheduling",
                    "timestamp": as_time(cond.get("lastTransitionTime")),
                    "reason": as_str(cond.get("reason")) or "Unschedulable",
                    "exit_code": None, "oom_killed": False,
                    "message": redact(as_str(cond.get("message")))[:MAX_MESSAGE], "source": source,
                })
    return _frame(specs, model.SPEC_COLUMNS), events_frame(events)


def _spec_row(
    c: dict[str, Any], st: dict[str, Any], base: dict[str, Any], owner: Owner, where: str,
    is_init: bool, phase: str, node: str, source: str, scans: Scans,
) -> dict[str, Any]:
    res = as_dict(c.get("resources"))
    cw = f"{where} container {as_str(c.get('name'))!r}"
    scan = _scan(c, scans)
    restarts = _int(st.get("restartCount"))
    return {
        **base,
        "workload_kind": owner.kind,
        "container": as_str(c.get("name")),
        "node": node,
        "image": as_str(c.get("image")),
        "command": redact_args(_strs(c.get("command"))),  # secrets in argv stay out of frames
        "args": redact_args(_strs(c.get("args"))),
        "env_names": scan.env_names,
        "jvm_options": scan.jvm_options,
        "non_ascii_env": scan.non_ascii_env,
        "cpu_request_cores": _resource(res, "requests", "cpu", cw),
        "cpu_limit_cores": _resource(res, "limits", "cpu", cw),
        "memory_request_bytes": _resource(res, "requests", "memory", cw),
        "memory_limit_bytes": _resource(res, "limits", "memory", cw),
        "replicas": None,
        "restarts": float(restarts) if restarts is not None and restarts >= 0 else None,
        "init_container": is_init,
        "phase": phase,
        "waiting_reason": as_str(as_dict(as_dict(st.get("state")).get("waiting")).get("reason")),
        "source": source,
    }


def _scan(c: dict[str, Any], scans: Scans) -> envscan.EnvScan:
    """envscan.scan, once per distinct container template within one call (replicas share
    theirs).  The cache lives only for the call, so no value outlives the parse."""
    command, args, env = _strs(c.get("command")), _strs(c.get("args")), _env(c)
    key = (command, args, tuple(env.items()))
    hit = scans.get(key)
    if hit is None:
        hit = scans[key] = envscan.scan(command, args, env)
    return hit


def _container_events(
    st: dict[str, Any], key: dict[str, Any], fallback: pd.Timestamp | None, source: str
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for which in ("lastState", "state"):
        term = as_dict(as_dict(st.get(which)).get("terminated"))
        if term:
            code = term.get("exitCode")
            reason = as_str(term.get("reason"))
            out.append({
                **key, "kind": "termination",
                "timestamp": as_time(term.get("finishedAt")),
                "reason": reason,
                "exit_code": _int(code),
                "oom_killed": reason == "OOMKilled",
                "message": redact(as_str(term.get("message")))[:MAX_MESSAGE], "source": source,
            })
    started = as_time(as_dict(as_dict(st.get("state")).get("running")).get("startedAt"))
    if not pd.isna(started):
        # The current run's start: a failure before it, and none since, is behind it.
        out.append({**key, "kind": "start", "timestamp": started, "reason": "Started",
                    "exit_code": None, "oom_killed": False, "message": "", "source": source})
    waiting = as_dict(as_dict(st.get("state")).get("waiting"))
    if waiting.get("reason") and waiting.get("reason") not in ("ContainerCreating",
                                                                "PodInitializing"):
        last = [e["timestamp"] for e in out if not pd.isna(e["timestamp"])]
        out.append({
            **key, "kind": "waiting",
            "timestamp": fallback if fallback is not None and not pd.isna(fallback)
            else (max(last) if last else pd.NaT),
            "reason": as_str(waiting.get("reason")), "exit_code": None, "oom_killed": False,
            "message": redact(as_str(waiting.get("message")))[:MAX_MESSAGE], "source": source,
        })
    return out


def _evictions(pod: dict[str, Any], base: dict[str, Any], source: str
               ) -> list[dict[str, Any]]:
    """A pod the kubelet evicted (phase Failed, reason Evicted): one event per container,
    with the kubelet's message (the resource, and who was over its request).

    The status carries no eviction time: the DisruptionTarget condition's transition (1.26+),
    else the Ready condition's, else the containers' end, else the pod's start."""
    spec, status = as_dict(pod.get("spec")), as_dict(pod.get("status"))
    conds = {as_str(as_dict(c).get("type")): as_time(as_dict(c).get("lastTransitionTime"))
             for c in as_list(status.get("conditions"))}
    ends = [as_time(as_dict(as_dict(as_dict(s).get("state")).get("terminated")).get(
        "finishedAt")) for s in as_list(status.get("containerStatuses"))]
    ends = [t for t in ends if not pd.isna(t)]
    t = next((v for v in (conds.get("DisruptionTarget"), conds.get("Ready"),
                          max(ends) if ends else pd.NaT, as_time(status.get("startTime")))
              if v is not None and not pd.isna(v)), pd.NaT)
    message = redact(as_str(status.get("message")))[:MAX_MESSAGE]
    return [{**base, "container": as_str(as_dict(c).get("name")), "kind": "eviction",
             "timestamp": t, "reason": "Evicted", "exit_code": None, "oom_killed": False,
             "message": message, "source": source}
            for c in as_list(spec.get("containers"))]


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    if not rows:
        return model.empty_specs() if columns == model.SPEC_COLUMNS else pd.DataFrame(
            columns=columns)
    return pd.DataFrame(rows, columns=columns)


def events_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    if not rows:
        return model.empty_events()
    df = pd.DataFrame(rows, columns=model.EVENT_COLUMNS)
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    df["exit_code"] = df["exit_code"].astype("Int64")
    return df
