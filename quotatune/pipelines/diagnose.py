"""The diagnose flow: frames from files, the store, a Docker daemon or a cluster, then findings
of what happened within ``since``.

A live read (``--docker-host``, ``--context``) goes through no store, so it meets the rule of
``collect`` here (:func:`quotatune.pipelines.collect.in_time`): samples and events stamped
more than 10 minutes after ``now`` come from a skewed clock and are left out with a note.
Kept, a node whose clock runs a day ahead reported an OOM kill dated tomorrow: the newest
failure, never aging past ``--since``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from quotatune.analysis.findings.diagnose import DiagnosePolicy
from quotatune.analysis.findings.diagnose import diagnose as find
from quotatune.model import Finding, Target
from quotatune.model.collected import Collected
from quotatune.model.errors import InputError
from quotatune.pipelines.collect import (
    collect_docker,
    collect_kubernetes,
    docker_client,
    in_time,
    kubernetes_api,
)
from quotatune.pipelines.progress import NO_PROGRESS, Progress, day_steps

# ``--since`` of diagnose and report: failures older than this are history (info).
DEFAULT_SINCE = "14d"


def parse_since(text: str | None) -> timedelta | None:
    """``--since``: a duration ("14d", "24h"), or "all" (None: nothing is history)."""
    from quotatune.model.durations import parse_duration

    text = DEFAULT_SINCE if text is None else text
    if text.strip().lower() == "all":
        return None
    return parse_duration(text, "--since")


def policy_for(now: pd.Timestamp, since: timedelta | None) -> DiagnosePolicy:
    return DiagnosePolicy() if since is None else DiagnosePolicy(since=now - pd.Timedelta(since))


def diagnose(data: Collected, *, now: pd.Timestamp, since: timedelta | None = None
             ) -> list[Finding]:
    """Findings of ``data``; what happened before ``now - since`` is history."""
    return find(data.usage, data.specs, data.events, now=now, policy=policy_for(now, since))


def from_store(root: Path, target: Target, *, now: pd.Timestamp,
               since: timedelta | None = None, on_day: Any = None) -> list[Finding]:
    """The same findings from a history store, read day by day and filtered by ``target``:
    never every sample at once (see :mod:`quotatune.pipelines.stored`)."""
    from quotatune.pipelines.stored import diagnose_stored, open_stored

    return diagnose_stored(open_stored(root, target), now=now, policy=policy_for(now, since),
                           on_day=on_day)


def from_files_store(files: list[Path], fmt: str | None, target: Target, *,
                     now: pd.Timestamp, since: timedelta | None = None,
                     progress: Progress = NO_PROGRESS
                     ) -> tuple[list[Finding], list[str], list[str]]:
    """The findings of ``files``, the errors and the notes of reading them (what was left
    out: duplicates, times in the future), through a temporary store read like ``--store``
    (:func:`quotatune.pipelines.stored.stored_from_files`): bounded memory.  ``progress``
    shows the files read, the days written, then the days read."""
    from quotatune.pipelines.stored import diagnose_stored, stored_from_files

    with stored_from_files(files, fmt, target, progress=progress, now=now) as s:
        on_day = day_steps(progress, "reading the store")
        return (diagnose_stored(s, now=now, policy=policy_for(now, since), on_day=on_day),
                list(s.errors), list(s.notes))


def from_docker(url: str, timeout: float, env: Mapping[str, str], now: pd.Timestamp
                ) -> tuple[Collected, list[str]]:
    """Exited and running containers of a Docker daemon, read live, without what it stamped
    after ``now`` + 10 minutes; and the notes that count those."""
    client = docker_client(url, timeout, env)
    try:
        data = collect_docker(client, rounds=1, include_exited=True)
    finally:
        client.close()
    if data.specs.empty and data.events.empty and data.errors:
        raise InputError(f"{data.errors[0]} (daemon at {url})")
    kept, late = in_time(data, now=now)
    return kept, late.notes


def from_kubernetes(context: str, kubeconfig: Path | None, namespace: str | None,
                    timeout: float, now: pd.Timestamp) -> tuple[Collected, list[str]]:
    """Pod statuses and events of a cluster, read live, without what its kubelets and
    event sources stamped after ``now`` + 10 minutes; and the notes that count those."""
    api = kubernetes_api(str(kubeconfig) if kubeconfig else None, context, timeout=timeout)
    data = collect_kubernetes(api, namespace=namespace, timeout=timeout, now=now)
    if data.specs.empty and data.events.empty and data.errors:
        raise InputError(data.errors[0])
    kept, late = in_time(data, now=now)
    return kept, late.notes


def select(data: Collected, target: Target) -> Collected:
    """Keep the target's rows of live data; an unknown target names the nearest ones."""
    if target.is_all:
        return data
    if not data.specs.empty:
        data.specs = target.select(data.specs)
    elif not data.usage.empty:
        data.usage = target.select(data.usage)
    if not data.usage.empty:
        data.usage = data.usage[target.mask(data.usage)]
    if not data.events.empty:
        data.events = data.events[target.mask(data.events)]
    return data
