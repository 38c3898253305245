"""The serve flow: recompute recommendations and findings on a schedule in a background thread,
keep the last result, and answer ``/metrics`` and ``/healthz`` from it.

A scrape never waits on a refresh: it reads the last completed :class:`Snapshot` (one reference,
swapped whole when a refresh finishes).  A refresh that fails keeps the previous snapshot and
is counted.  The clock and the wait between refreshes are injected, so the loop is tested
without sleeping.  See docs/architecture.md, "Layers": the CLI parses flags, installs the signal
handlers and prints; this module wires the pipelines, the render and the HTTP server.
"""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from prometheus_client import CollectorRegistry, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from quotatune.model import Finding, InputError, Recommendation, SourceError, Target
from quotatune.model.collected import Collected
from quotatune.pipelines import recommend
from quotatune.pipelines.diagnose import diagnose, parse_since
from quotatune.pipelines.diagnose import from_store as diagnose_from_store
from quotatune.render.metrics import Refresh, metric_families
from quotatune.sources.prometheus.client import PrometheusClient

# /healthz turns 503 when the last success is older than this many refresh periods.
STALE_PERIODS = 3


@dataclass(frozen=True)
class Outcome:
    """What one computation produced; ``warnings``: parts that could not be read."""

    recommendations: list[Recommendation]
    findings: list[Finding]
    warnings: list[str] = field(default_factory=list)


Compute = Callable[[datetime], Outcome]


@dataclass(frozen=True)
class Snapshot:
    recommendations: tuple[Recommendation, ...]
    findings: tuple[Finding, ...]
    finished_at: float  # Unix seconds
    duration: float  # seconds


def store_source(store: Path, strategy: str | None, pinned: datetime | None = None
                 ) -> Compute:
    """Recommendations from the store's rollups (as ``recommend --store``) and the findings of
    its samples, specs and events (as ``diagnose --store``, with its default ``--since``), for
    every container.  ``pinned`` fixes the clock of the findings' ages (tests, replays)."""
    def compute(now: datetime) -> Outcome:
        recs, _ = recommend.from_store(store, Target(), strategy)
        # Day by day, as diagnose --store reads: loading every sample each refresh made the
        # exporter's memory follow the store's samples (a fleet's week: GiBs a refresh).
        findings = diagnose_from_store(store, Target(), now=pd.Timestamp(pinned or now),
                                       since=parse_since(None))
        return Outcome(recs, findings, [])
    return compute


def prometheus_source(client: PrometheusClient, window: timedelta, step: timedelta,
                      strategy: str | None, pinned: datetime | None = None) -> Compute:
    """Recommendations computed inside Prometheus (as ``recommend --prometheus``) over the
    ``window`` before each refresh, or before ``pinned``, and the findings of the
    terminations and OOM kills read on the way (with diagnose's default ``--since``)."""
    def compute(now: datetime) -> Outcome:
        errors: list[str] = []
        seen = Collected()
        recs, _ = recommend.from_prometheus(client, Target(), window, step, strategy, errors,
                                            pinned or now, seen=seen)
        findings = diagnose(seen, now=pd.Timestamp(pinned or now), since=parse_since(None))
        return Outcome(recs, findings, errors)
    return compute


class Refresher:
    """Keeps the last result of ``compute`` and exposes it to a ``prometheus_client`` registry
    (the one-method collector protocol: ``collect()`` yields metric families)."""

    def __init__(self, compute: Compute, period: float, *,
                 clock: Callable[[], float] = time.time,
                 timer: Callable[[], float] = time.perf_counter,
                 wait: Callable[[float], bool] | None = None,
                 log: Callable[[str], None] = lambda line: None) -> None:
        if period <= 0:
            raise InputError("--refresh must be longer than 0 s")
        self.compute, self.period = compute, period
        self.clock, self.timer, self.log = clock, timer, log
        self._stop = threading.Event()
        # wait(seconds) -> True when asked to stop; the default wakes up at once on stop().
        self.wait = wait or self._stop.wait
        self.last: Snapshot | None = None
        self.errors = 0
        self.last_error: str | None = None
        self._thread: threading.Thread | None = None

    def refresh(self) -> bool:
        """One computation; on failure the previous snapshot stays and the error is counted."""
        started = self.timer()
        try:
            out = self.compute(datetime.fromtimestamp(self.clock(), UTC))
        except (InputError, SourceError, OSError) as exc:
            return self._failed(str(exc))
        except Exception as exc:  # a bug must not end the server; it is counted and logged
            return self._failed(f"{type(exc).__name__}: {exc}")
        for w in out.warnings:
            self.log(f"refresh warning: {w}")
        self.last = Snapshot(tuple(out.recommendations), tuple(out.findings), self.clock(),
                             self.timer() - started)
        return True

    def _failed(self, reason: str) -> bool:
        self.errors += 1
        self.last_error = " ".join(reason.split())  # one line
        self.log(f"refresh failed: {self.last_error}")
        return False

    def run(self) -> None:
        """Refresh now, then every ``period`` seconds until :meth:`stop`."""
        while not self._stop.is_set():
            self.refresh()
            if self.wait(self.period):
                break

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="quotatune-refresh", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the loop to end; a refresh under way is not interrupted (the thread is a
        daemon, so the process can still exit while one runs)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def health(self) -> tuple[bool, str]:
        """(healthy, one line): a first refresh has succeeded and the last success is recent."""
        snap = self.last
        if snap is None:
            why = f": {self.last_error}" if self.last_error else ""
            return False, f"no refresh has succeeded yet ({self.errors} failed){why}"
        age = self.clock() - snap.finished_at
        if age > STALE_PERIODS * self.period:
            return False, (f"last successful refresh {age:.0f} s ago, more than "
                           f"{STALE_PERIODS} refresh periods; last error: {self.last_error}")
        return True, (f"ok: last refresh {age:.0f} s ago, {len(snap.recommendations)} "
                      f"containers, {len(snap.findings)} findings")

    def collect(self) -> Iterator[Metric]:
        snap = self.last  # one read: a refresh finishing now swaps the reference, not parts
        refresh = Refresh(snap.finished_at if snap else None, snap.duration if snap else None,
                          self.errors)
        yield from metric_families(snap.recommendations if snap else (),
                                   snap.findings if snap else (), refresh)


def registry_of(collector: Collector) -> CollectorRegistry:
    """A registry of its own: no process or platform metrics of the library's default one."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


class Server:
    """``/metrics`` and ``/healthz`` over HTTP, answered from ``refresher``'s last result."""

    def __init__(self, refresher: Refresher, host: str, port: int) -> None:
        self.refresher = refresher
        registry = registry_of(refresher)

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                # Silent: a line per scrape is noise; failed refreshes are logged by the
                # refresher itself.
                return

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
                elif path == "/healthz":
                    ok, line = refresher.health()
                    self._send(200 if ok else 503, (line + "\n").encode())
                else:
                    self._send(404, b"not found: try /metrics or /healthz\n")

            def _send(self, code: int, body: bytes,
                      ctype: str = "text/plain; charset=utf-8") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = _HTTPServer6((host, port), Handler) if ":" in host else \
            _HTTPServer((host, port), Handler)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Serve in a thread and start refreshing; returns at once."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="quotatune-http",
                                        daemon=True)
        self._thread.start()
        self.refresher.start()

    def stop(self) -> None:
        self.refresher.stop(timeout=5)
        self.httpd.shutdown()
        self.httpd.server_close()


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True  # a scrape left hanging does not keep the process alive


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6
