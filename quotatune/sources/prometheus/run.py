"""How one collection talks to Prometheus: every request goes through :meth:`QueryRun.ask`,
which holds one of ``max_concurrency`` slots while the request is in flight, records what
failed (naming the namespace, series and time span) and, once the server stops answering at
all, sends nothing more.  Series are parsed by :meth:`QueryRun.matrix`, which leaves out
those with a name no platform allows and counts them for the collection's notes.  Shared by
the sample and the aggregate path; the samples budget and the splitting of refused queries
live in :mod:`.split`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import pandas as pd

from quotatune.model.errors import InputError, SourceError
from quotatune.sources.prometheus import parse as pp
from quotatune.sources.prometheus.client import PrometheusClient, TooBig, Unreachable
from quotatune.sources.prometheus.queries import regex_alt
from quotatune.sources.prometheus.split import MAX_SAMPLES, UNKNOWN_WEIGHT, Budget, Pods

T = TypeVar("T")
R = TypeVar("R")
MAX_CONCURRENCY = 4  # queries in flight at once, by default


class QueryRun:
    """One collection: bounds the queries in flight, records failures, stops when the server
    is gone, and keeps the samples budget (:class:`.split.Budget`) its queries share."""

    def __init__(self, client: PrometheusClient, errors: list[str],
                 max_concurrency: int = MAX_CONCURRENCY,
                 max_samples: int = MAX_SAMPLES, budget: Budget | None = None) -> None:
        if max_concurrency < 1:
            raise InputError("--max-concurrency must be at least 1")
        try:
            self.budget = budget or Budget(max_samples)
        except ValueError as exc:
            raise InputError(f"--max-samples-per-query: {exc}") from None
        self.client = client
        self.workers = max_concurrency
        self.errors = errors
        self.dead: str | None = None
        self.warnings: set[str] = set()
        self.bad_names = pp.BadNames()  # label values whose series were left out
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._lock = threading.Lock()

    def ask(self, what: str, call: Callable[[], object], parse: Callable[[object, str], R],
            *, quiet: bool = False, splits: bool = False) -> R | None:
        """One request, parsed; a failure is recorded (unless ``quiet``) and gives None.
        No answer at all marks the server dead: later requests are not sent.  With
        ``splits``, a query refused as too big raises :class:`TooBig` for the caller to
        split; otherwise that refusal is recorded like any other failure."""
        if self.dead is not None:
            return None
        try:
            with self._slots:
                resp = call()
            with self._lock:
                self.warnings.update(pp.warnings_of(resp))
            return parse(resp, what)
        except Unreachable as exc:
            self.dead = str(exc)
            self.record(f"{what}: {exc}")
        except TooBig as exc:
            if splits:
                raise
            if not quiet:
                self.record(self.client.redact(f"{what}: {exc}"))
        except (SourceError, InputError) as exc:
            if not quiet:
                self.record(self.client.redact(f"{what}: {exc}"))
        return None

    def matrix(self, resp: object, what: str) -> pd.DataFrame:
        """A ``query_range`` answer parsed (:func:`.parse.parse_prom_matrix`) without the
        series whose names no platform allows, which are counted in :meth:`notes`: one
        such series failed the whole collection."""
        found = pp.BadNames()
        frame = pp.parse_prom_matrix(resp, what, found)
        if found.values:
            with self._lock:
                self.bad_names.update(found)
        return frame

    def record(self, error: str) -> None:
        with self._lock:
            self.errors.append(error)

    def all(self, jobs: list[Callable[[], T]]) -> list[T]:
        """Run independent queries side by side: Prometheus evaluates queries concurrently
        (``--query.max-concurrency``), and the client waits on the network, not the CPU.
        The slots in :meth:`ask` keep the requests in flight within ``max_concurrency``."""
        if self.workers <= 1 or len(jobs) <= 1:
            return [job() for job in jobs]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(self.workers, len(jobs))) as pool:
            return list(pool.map(lambda job: job(), jobs))

    @staticmethod
    def span_label(what: str, lo: float, hi: float) -> str:
        return f"{what} {_iso(lo)}" if lo == hi else f"{what} {_iso(lo)}..{_iso(hi)}"

    def notes(self) -> list[str]:
        """What the budget did and which series were left out for their names, for
        ``Collected.notes`` (nothing when nothing was refused or left out)."""
        b, out = self.budget, []
        bad = self.bad_names.note()
        if bad is not None:
            out.append(bad)
        if b.refused:
            out.append(f"{b.refused} query(ies) refused by the server as too large (too many "
                       f"samples or a timeout) were split into smaller ones {b.splits} "
                       f"time(s); the ceiling per query came down to {b.ceiling:,} samples")
        if b.over:
            out.append(f"{b.over} query(ies) were sent above the ceiling of {b.ceiling:,} "
                       "samples: one pod and one step (a day in aggregate mode) cannot be "
                       "split further")
        return out


def bind(fn: Callable[..., T], *args: object) -> Callable[[], T]:
    return lambda: fn(*args)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%MZ")


def discover_namespaces(run: QueryRun, sel: str, start: float, end: float,
                        metric: str = "container_memory_working_set_bytes") -> list[str] | None:
    match = f"{metric}{{{sel}}}"
    names = run.ask("namespaces", bind(run.client.label_values, "namespace", match, start, end),
                    pp.parse_label_values)
    return None if names is None else sorted(n for n in names if n)


def namespace_pods(run: QueryRun, ns: str, sel: str, start: float, end: float,
                   metric: str = "container_memory_working_set_bytes") -> Pods | None:
    """A namespace's pods and the raw series of each (cAdvisor memory series: one per
    container and cgroup), from the series API, which reads only the index.  None when the
    list is not to be had or empty (the queries then go by namespace and say what fails)."""
    match = f"{metric}{{{sel}}}"
    found = run.ask(f"{ns}: pods", bind(run.client.series, match, start, end),
                    pp.parse_series_pods, quiet=True)
    if found is None:
        return None
    # No pod at all: the queries read the whole selector, as when the list is not to be had.
    return tuple(sorted(found.items())) or None


def some_pods(pods: Pods | None, names: list[str]) -> Pods:
    """The pods ``names`` with their weights from ``pods`` (a guess where unknown)."""
    known = dict(pods or ())
    return tuple(sorted((p, known.get(p, UNKNOWN_WEIGHT)) for p in set(names)))


__all__ = ["QueryRun", "bind", "discover_namespaces", "namespace_pods", "regex_alt",
           "some_pods"]
