"""The recommend flow: from files, from the store's rollups, or from rollups computed inside
Prometheus — one set of strategies for all three."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from quotatune.analysis.policy import Policy
from quotatune.analysis.recommend import (
    STRATEGIES,
    folds_pods,
    get_strategy,
    recommend_from_rollups,
    rollup_columns,
)
from quotatune.model import KEY_COLUMNS, Recommendation, Target
from quotatune.model.collected import Collected
from quotatune.model.errors import InputError, SourceError
from quotatune.pipelines.inputs import (
    existing_store,
    oom_limit_rows,
    oom_limits_stored,
    pod_rows,
    rollups_from_files,
)
from quotatune.sources.prometheus.aggregate import rollups_from_prometheus
from quotatune.sources.prometheus.client import PrometheusClient
from quotatune.sources.prometheus.run import MAX_CONCURRENCY
from quotatune.sources.prometheus.split import MAX_SAMPLES
from quotatune.store import Store


def check_strategy(name: str | None) -> None:
    """Fail on an unknown strategy name before anything is read."""
    get_strategy(name)


def strategy_names() -> list[str]:
    return list(STRATEGIES)


def from_files(
    files: list[Path], fmt: str | None, target: Target, strategy: str | None,
    errors: list[str], notes: list[str],
) -> tuple[list[Recommendation], pd.DataFrame]:
    get_strategy(strategy)  # a bad name fails before any file is read
    # Streamed into per-day rollups (a file larger than memory is never held whole), of only
    # the columns the strategy reads, as from the store.
    data = rollups_from_files(files, fmt, target, columns=rollup_columns(strategy),
                              fold=folds_pods(strategy))
    if data.rollups.empty and data.specs.empty:
        raise InputError(f"no containers for {target} in the given files (no usage samples "
                         "and no pod or container specs)")
    errors += data.errors
    notes += data.notes
    return recommend_from_rollups(data.rollups, data.specs, data.events, strategy=strategy,
                                  limit_rows=data.limit_rows), data.specs


def from_store(
    store: Path, target: Target, strategy: str | None
) -> tuple[list[Recommendation], pd.DataFrame]:
    """From the store's per-day rollups: a fleet's week of samples never has to be loaded."""
    st = existing_store(store)
    # Only the target's rows are decoded; if it has none, read all (to suggest names).
    # A strategy of per-pod scalars reads its histograms folded too, its pods apart.
    scalars = get_strategy(strategy).pod_scalars
    fold = folds_pods(strategy) or scalars
    since = _window_start(st, target, strategy)
    rollups = st.read_rollups(since=since, columns=rollup_columns(strategy), target=target,
                              fold_pods=fold)
    if rollups is None or rollups.empty:
        rollups = st.read_rollups(columns=rollup_columns(strategy), fold_pods=fold)
    if rollups is None:
        rollups = pd.DataFrame(columns=rollup_columns(strategy))
    specs, events = st.read_specs(), st.read_events()
    if rollups.empty and specs.empty:
        raise InputError(f"no usage samples and no container specs in store {st.root}")
    if not target.is_all:
        rollups, specs = _select_known(target, rollups, specs)
        events = events[target.mask(events)] if not events.empty else events
    where = None if target.is_all else target
    events = oom_limits_stored(st, where, events)
    # Rollups cut to the window no longer hold every kill's day: the kills' own rows.
    limits = oom_limit_rows(st, where, events) if fold or since is not None else None
    pods = pod_rows(st, where, events) if scalars and not rollups.empty else None
    return recommend_from_rollups(rollups, specs, events, strategy=strategy,
                                  limit_rows=limits, pod_rows=pods), specs


def _window_start(st: Store, target: Target, strategy: str | None) -> pd.Timestamp | None:
    """For a strategy that sizes from the last days before each container's newest sample
    (KRR's 14), the first day any container's window holds: the days before it are not
    read (a month of a CronJob's 1.7 M pods held twice the rows it sized from).  None
    without a window."""
    days = get_strategy(strategy).window_days
    if days is None:
        return None
    last = st.read_rollups(columns=[*KEY_COLUMNS, "t_last"], target=target)
    if last is None or last.empty:
        return None
    newest = pd.to_datetime(last["t_last"], utc=True).groupby(
        [last[c] for c in KEY_COLUMNS], dropna=False).max()
    return (newest.min() - pd.Timedelta(days=days)).floor("D")


def _select_known(target: Target, rollups: pd.DataFrame, specs: pd.DataFrame
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The target's rows of both; a target that matches neither names the nearest known."""
    r = rollups[target.mask(rollups)] if not rollups.empty else rollups
    s = specs[target.mask(specs)] if not specs.empty else specs
    if r.empty and s.empty:
        known = pd.concat([f[["namespace", "workload", "container"]].astype(str)
                           for f in (rollups, specs) if not f.empty], ignore_index=True)
        target.select(known)  # raises, naming the nearest matches
    return r, s


def from_prometheus(
    client: PrometheusClient, target: Target, window: timedelta, step: timedelta,
    strategy: str | None, errors: list[str], now: datetime, notes: list[str] | None = None,
    *, max_samples: int = MAX_SAMPLES, max_concurrency: int = MAX_CONCURRENCY,
    rules: bool | None = None, seen: Collected | None = None,
) -> tuple[list[Recommendation], pd.DataFrame]:
    """``recommend --prometheus``: rollups computed inside Prometheus, sized here.  ``notes``
    gets which series were read (recording rules or raw) and what the query budget did;
    ``seen``, when given, gets the specs and events read on the way (for findings)."""
    try:
        recs = recommend_from_prometheus(
            client, window=window, step=step, now=now, namespace=target.namespace,
            strategy=strategy, errors=errors, notes=notes, max_samples=max_samples,
            max_concurrency=max_concurrency, rules=rules, seen=seen,
        )
    except SourceError as exc:
        raise InputError(str(exc)) from None
    # Prometheus was asked for the namespace only; the rest of the target applies here.
    recs = [r for r in recs if (target.workload in (None, r.workload))
            and (target.container in (None, r.container))]
    if not recs:
        raise InputError(f"no containers for {target} in Prometheus")
    return recs, pd.DataFrame()


def recommend_from_prometheus(
    client: PrometheusClient, *, window: timedelta, step: timedelta, now: datetime,
    namespace: str | None = None, strategy: str | None = None, selector: str | None = None,
    policy: Policy | None = None, errors: list[str] | None = None,
    notes: list[str] | None = None, max_samples: int = MAX_SAMPLES,
    max_concurrency: int = MAX_CONCURRENCY, rules: bool | None = None,
    seen: Collected | None = None,
) -> list[Recommendation]:
    """``recommend --prometheus``: size containers from Prometheus-side rollups.

    What could not be read is appended to ``errors`` (the recommendations cover the rest);
    nothing readable at all raises :class:`SourceError` with the first failure.  ``rules``:
    None uses the recording rules when they cover the window (see
    :mod:`quotatune.sources.prometheus.rules`), False never; ``notes`` says which was read.
    """
    get_strategy(strategy)  # a bad name fails before any query
    rollups, extra = rollups_from_prometheus(
        client, window=window, step=step, now=now, namespace=namespace, selector=selector,
        max_samples=max_samples, max_concurrency=max_concurrency, rules=rules)
    if errors is not None:
        errors.extend(extra.errors)
    if notes is not None:
        notes.extend(extra.notes)
    if rollups.empty and extra.errors:
        raise SourceError(extra.errors[0])
    if seen is not None:
        seen.specs, seen.events = extra.specs, extra.events
    return recommend_from_rollups(rollups, extra.specs, extra.events, strategy=strategy,
                                  policy=policy)
