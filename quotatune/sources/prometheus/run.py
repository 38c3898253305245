"""How one collection talks to Prometheus: every request goes through :meth:`QueryRun.ask`,
which records what failed (naming the namespace, series and time span) and, once the server
stops answering at all, sends nothing more.  Shared by the sample and the aggregate path."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import pandas as pd

from quotatune.model.errors import InputError, SourceError
from quotatune.sources.prometheus import parse as pp
from quotatune.sources.prometheus.client import PrometheusClient, Unreachable
from quotatune.sources.prometheus.queries import quote

T = TypeVar("T")
R = TypeVar("R")
MAX_PODS = 500  # pods per query before a namespace is split further
POINT_BUDGET = 1_000_000  # points per response, at most (about 25 MB of JSON)


class QueryRun:
    """One collection: counts queries, records failures, stops when the server is gone."""

    def __init__(self, client: PrometheusClient, errors: list[str], workers: int = 4) -> None:
        self.client = client
        self.workers = workers
        self.errors = errors
        self.dead: str | None = None
        self.warnings: set[str] = set()

    def ask(self, what: str, call: Callable[[], object], parse: Callable[[object, str], R],
            *, quiet: bool = False) -> R | None:
        """One request, parsed; a failure is recorded (unless ``quiet``) and gives None.
        No answer at all marks the server dead: later requests are not sent."""
        if self.dead is not None:
            return None
        try:
            resp = call()
            self.warnings.update(pp.warnings_of(resp))
            return parse(resp, what)
        except Unreachable as exc:
            self.dead = str(exc)
            self.errors.append(f"{what}: {exc}")
        except (SourceError, InputError) as exc:
            if not quiet:
                self.errors.append(self.client.redact(f"{what}: {exc}"))
        return None

    def all(self, jobs: list[Callable[[], T]]) -> list[T]:
        """Run independent queries side by side: Prometheus evaluates queries concurrently
        (``--query.max-concurrency``), and the client waits on the network, not the CPU."""
        if self.workers <= 1 or len(jobs) <= 1:
            return [job() for job in jobs]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(self.workers, len(jobs))) as pool:
            return list(pool.map(lambda job: job(), jobs))

    def range(self, what: str, expr: str, chunks: list[tuple[float, float]],
              step: float) -> pd.DataFrame:
        parts = []
        for s, e in chunks:
            label = f"{what} {_iso(s)}..{_iso(e)}"
            df = self.ask(label, bind(self.client.query_range, expr, s, e, step),
                            pp.parse_prom_matrix)
            if df is not None and not df.empty:
                parts.append(df)
        return pd.concat(parts, ignore_index=True) if parts else pp.parse_prom_matrix(
            {"status": "success", "data": {"resultType": "matrix", "result": []}})

    def instant(self, what: str, expr: str, at: float) -> pd.DataFrame:
        df = self.ask(what, lambda: self.client.query(expr, at), pp.parse_prom_vector)
        return df if df is not None else pp.parse_prom_vector(
            {"status": "success", "data": {"resultType": "vector", "result": []}})


def bind(fn: Callable[..., T], *args: object) -> Callable[[], T]:
    return lambda: fn(*args)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%MZ")


def discover_namespaces(run: QueryRun, sel: str, start: float, end: float) -> list[str] | None:
    match = f"container_memory_working_set_bytes{{{sel}}}"
    names = run.ask("namespaces", bind(run.client.label_values, "namespace", match, start, end),
                    pp.parse_label_values)
    return None if names is None else sorted(n for n in names if n)


def regex_alt(values: list[str]) -> str:
    """A PromQL string literal matching exactly these values (``pod=~…``)."""
    return quote("|".join(re.escape(v) for v in sorted(set(values))))


def pod_groups(run: QueryRun, ns: str, sel: str, start: float, end: float,
               max_pods: int = MAX_PODS) -> list[tuple[str, int]]:
    """Selectors that split a namespace's series into groups of at most ``max_pods`` pods
    (the pod list comes from the label-values API, which reads only the index)."""
    match = f"container_memory_working_set_bytes{{{sel}}}"
    found = run.ask(f"{ns}: pods", bind(run.client.label_values, "pod", match, start, end),
                    pp.parse_label_values, quiet=True)
    if found is None:  # dead (recorded), or no list: one group, whose queries say what fails
        return [] if run.dead is not None else [(sel, MAX_PODS)]
    pods = sorted(found)
    if len(pods) <= max_pods:
        return [(sel, max(len(pods), 1))]
    return [(f"{sel},pod=~{regex_alt(pods[i:i + max_pods])}", len(pods[i:i + max_pods]))
            for i in range(0, len(pods), max_pods)]
