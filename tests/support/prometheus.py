"""A real Prometheus for tests: Debian's ``prometheus`` on 127.0.0.1, its TSDB backfilled with
``promtool tsdb create-blocks-from openmetrics`` from series written in cAdvisor and
kube-state-metrics names.

The history is three VMs of the bundled Bitbrains sample (``data/sample``), shifted so the last
sample is the current minute, held at 1-minute resolution, as:

* ``shop/web-7d4b9c8f6d-x2k9p/app`` (pod owned by ReplicaSet web-7d4b9c8f6d, owned by
  Deployment web): CPU counter reset half-way, CFS throttling, requests and limits;
* ``shop/db-0/postgres`` (StatefulSet db): one ``container_oom_events_total`` increase, and the
  kube-state-metrics last-terminated reason ``OOMKilled`` (exit code 137) from then on;
* ``batch/worker-5f97dc94d8-vkcjl/worker``: no owner metrics (workload from the pod name);
* a pause container (``container="POD"``) and a pod-level cgroup (``container=""``) that a
  collector must leave out.

Import the fixtures into a test module (pytest finds them by name)::

    from tests.support.prometheus import prom_data, prometheus  # noqa: F401

``prom_data`` (session) -> :class:`PromData` (the ground truth, the backfilled block dir);
``prometheus`` (session) -> :class:`PromServer` (``.url``, ``.kill()``, ``.stop()``);
:func:`start_prometheus` starts a private server on a copy of the blocks (fault tests,
benchmarks); :class:`FaultProxy` sits in front of a server to inject faults.
"""

from __future__ import annotations

import http.server
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

PROMETHEUS = Path("/usr/bin/prometheus")
PROMTOOL = Path("/usr/bin/promtool")
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "quotatune-rules.yaml"
CFS_PERIODS_PER_MIN = 600  # 100 ms CFS period


@dataclass
class Container:
    vm: str
    namespace: str
    pod: str
    container: str
    workload: str
    owner: tuple[str, str] | None  # kube_pod_owner (kind, name)
    rs_owner: tuple[str, str] | None = None  # kube_replicaset_owner (kind, name)
    cpu_request: float | None = None
    cpu_limit: float | None = None
    mem_request: float | None = None
    mem_limit: float | None = None
    counter_reset: bool = False
    oom: bool = False


CONTAINERS = [
    Container("1", "shop", "web-7d4b9c8f6d-x2k9p", "app", "web",
              ("ReplicaSet", "web-7d4b9c8f6d"), ("Deployment", "web"),
              cpu_request=0.5, cpu_limit=1.0, mem_request=2 << 30, mem_limit=4 << 30,
              counter_reset=True),
    Container("101", "shop", "db-0", "postgres", "db", ("StatefulSet", "db"),
              cpu_request=1.0, cpu_limit=2.0, mem_request=1 << 30, mem_limit=8 << 30, oom=True),
    Container("126", "batch", "worker-5f97dc94d8-vkcjl", "worker", "worker", None),
]


@dataclass
class PromData:
    """What was written: per-minute truth per container, the OOM time, and the blocks."""

    end: datetime  # last sample (a whole minute)
    days: int
    containers: list[Container]
    truth: pd.DataFrame  # namespace,pod,container,timestamp,cpu_cores,memory,throttled_ratio
    oom_at: datetime
    reset_at: datetime
    blocks: Path
    samples: int = 0
    series: int = 0


def require_prometheus() -> str | None:
    for p in (PROMETHEUS, PROMTOOL):
        if not p.exists():
            return f"{p} is not installed (Debian package 'prometheus')"
    return None


def build_truth(days: int, end: datetime, containers: list[Container],
                vms: list[str] | None = None) -> pd.DataFrame:
    """The sample VMs' last ``days`` days, shifted to end at ``end``, held to 1 minute."""
    from quotatune.sources.files.tables import read_bitbrains

    frames = []
    for i, c in enumerate(containers):
        vm = (vms or [])[i] if vms else c.vm
        u = read_bitbrains(SAMPLE / f"{vm}.csv.gz").usage
        t = _epoch_s(u["timestamp"])
        shift = int(end.timestamp()) - int(t.max() // 60 * 60)
        grid = np.arange(int(end.timestamp()) - days * 86400 + 60, int(end.timestamp()) + 1, 60)
        src = (t + shift).to_numpy()
        idx = np.searchsorted(src, grid, side="right") - 1
        idx = np.clip(idx, 0, len(src) - 1)
        cpu = u["cpu_cores"].to_numpy()[idx].round(4)
        mem = np.floor(u["memory_working_set_bytes"].to_numpy()[idx])
        thr = np.zeros_like(cpu)
        if c.cpu_limit:
            # Throttled share of CFS periods grows with usage against the limit.
            thr = np.round(CFS_PERIODS_PER_MIN * np.clip(cpu / c.cpu_limit, 0, 1) * 0.5) \
                / CFS_PERIODS_PER_MIN
        frames.append(pd.DataFrame({
            "namespace": c.namespace, "pod": c.pod, "container": c.container,
            "timestamp": pd.to_datetime(grid, unit="s", utc=True), "cpu_cores": cpu,
            "memory": mem, "throttled_ratio": thr}))
    return pd.concat(frames, ignore_index=True)


def _epoch_s(ts: pd.Series) -> pd.Series:
    return (ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)


def _labels(**kv: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in kv.items()) + "}"


def write_openmetrics(truth: pd.DataFrame, containers: list[Container], path: Path,
                      oom_at: datetime, reset_at: datetime) -> tuple[int, int]:
    """Write the series, one after the other, each in time order; returns (series, samples)."""
    lines: list[str] = []
    series = 0
    node = "node-1"

    def emit(name: str, labels: str, ts: np.ndarray, vals: np.ndarray) -> None:
        nonlocal series
        series += 1
        lines.extend(f"{name}{labels} {v!r} {t}" for t, v in zip(ts.tolist(), vals.tolist(),
                                                                 strict=True))

    for c in containers:
        d = truth[(truth["pod"] == c.pod) & (truth["container"] == c.container)]
        ts = _epoch_s(d["timestamp"]).to_numpy()
        cad = _labels(container=c.container, namespace=c.namespace, pod=c.pod,
                      id=f"/kubepods/pod-{c.pod}/{c.container}", image="busybox",
                      name=f"{c.container}-0")
        used = d["cpu_cores"].to_numpy() * 60
        counter = np.cumsum(used)
        if c.counter_reset:  # the container restarted: the counter starts again from 0
            k = int(np.searchsorted(ts, int(reset_at.timestamp())))
            counter[k:] = np.cumsum(used[k:])
        emit("container_cpu_usage_seconds_total", cad, ts, counter.round(3))
        emit("container_memory_working_set_bytes", cad, ts, d["memory"].to_numpy())
        oom = np.zeros(len(ts))
        if c.oom:
            oom[ts >= int(oom_at.timestamp())] = 1
        emit("container_oom_events_total", cad, ts, oom)
        if c.cpu_limit:
            periods = np.cumsum(np.full(len(ts), CFS_PERIODS_PER_MIN))
            throttled = np.cumsum(np.round(d["throttled_ratio"].to_numpy() * CFS_PERIODS_PER_MIN))
            emit("container_cpu_cfs_periods_total", cad, ts, periods.astype(float))
            emit("container_cpu_cfs_throttled_periods_total", cad, ts, throttled.astype(float))
        if c.namespace == "shop" and c.container == "app":
            # Noise a collector must leave out: the pause container and the pod cgroup.
            for cname in ("POD", ""):
                noise = _labels(container=cname, namespace=c.namespace, pod=c.pod, id="/x")
                emit("container_memory_working_set_bytes", noise, ts, np.full(len(ts), 7e8))
                emit("container_cpu_usage_seconds_total", noise, ts, np.cumsum(np.full(len(ts),
                                                                                       600.0)))
        ksm = dict(namespace=c.namespace, pod=c.pod, container=c.container, node=node)
        for metric, res, val, unit in (
            ("kube_pod_container_resource_requests", "cpu", c.cpu_request, "core"),
            ("kube_pod_container_resource_requests", "memory", c.mem_request, "byte"),
            ("kube_pod_container_resource_limits", "cpu", c.cpu_limit, "core"),
            ("kube_pod_container_resource_limits", "memory", c.mem_limit, "byte"),
        ):
            if val is not None:
                emit(metric, _labels(**ksm, resource=res, unit=unit), ts, np.full(len(ts), val))
        if c.owner:
            emit("kube_pod_owner", _labels(namespace=c.namespace, pod=c.pod, owner_kind=c.owner[0],
                                           owner_name=c.owner[1], owner_is_controller="true"),
                 ts, np.ones(len(ts)))
        if c.rs_owner and c.owner:
            emit("kube_replicaset_owner", _labels(namespace=c.namespace, replicaset=c.owner[1],
                                                  owner_kind=c.rs_owner[0],
                                                  owner_name=c.rs_owner[1]),
                 ts, np.ones(len(ts)))
        if c.oom:
            after = ts[ts >= int(oom_at.timestamp())]
            base = dict(namespace=c.namespace, pod=c.pod, container=c.container)
            emit("kube_pod_container_status_last_terminated_reason",
                 _labels(**base, reason="OOMKilled"), after, np.ones(len(after)))
            emit("kube_pod_container_status_last_terminated_timestamp", _labels(**base), after,
                 np.full(len(after), float(int(oom_at.timestamp()))))
            emit("kube_pod_container_status_last_terminated_exitcode", _labels(**base), after,
                 np.full(len(after), 137.0))
    # OpenMetrics wants each metric family contiguous: group lines by metric name, stably.
    lines.sort(key=lambda s: s.split("{", 1)[0])
    path.write_text("\n".join(lines) + "\n# EOF\n")
    return series, len(lines)


def create_blocks(openmetrics: Path, out: Path) -> None:
    subprocess.run([str(PROMTOOL), "tsdb", "create-blocks-from", "openmetrics",
                    "--max-block-duration=24h", str(openmetrics), str(out)],
                   check=True, capture_output=True, timeout=600)


def build_data(root: Path, *, days: int = 4, end: datetime | None = None,
               containers: list[Container] | None = None,
               vms: list[str] | None = None) -> PromData:
    end = end or datetime.now(UTC).replace(second=0, microsecond=0)
    containers = containers or CONTAINERS
    truth = build_truth(days, end, containers, vms)
    oom_at = end - timedelta(days=1, hours=3, minutes=17)
    reset_at = end - timedelta(days=days) / 2
    om = root / "history.om"
    series, samples = write_openmetrics(truth, containers, om, oom_at, reset_at)
    blocks = root / "blocks"
    create_blocks(om, blocks)
    om.unlink()  # large; the blocks are what the server reads
    return PromData(end, days, containers, truth, oom_at, reset_at, blocks, samples, series)


def backfill_rules(url: str, blocks: Path, start: int, end: int, workdir: Path) -> Path:
    """The rules' 5-minute group evaluated with ``promtool tsdb create-blocks-from rules``
    over [start, end] against the server at ``url``; returns ``workdir/tsdb``: ``blocks``
    plus the recorded blocks, ready for :func:`start_prometheus` (with the same workdir)."""
    import yaml

    five = [g for g in yaml.safe_load(RULES.read_text())["groups"] if g["interval"] == "5m"]
    workdir.mkdir(parents=True, exist_ok=True)
    rules = workdir / "rules-5m.yaml"
    rules.write_text(yaml.safe_dump({"groups": five}))
    out = workdir / "recorded"
    subprocess.run([str(PROMTOOL), "tsdb", "create-blocks-from", "rules", f"--url={url}",
                    f"--start={start}", f"--end={end}", f"--output-dir={out}", str(rules)],
                   check=True, capture_output=True, timeout=1800)
    tsdb = workdir / "tsdb"
    shutil.copytree(blocks, tsdb)
    for block in out.iterdir():
        shutil.copytree(block, tsdb / block.name)
    shutil.rmtree(out)
    return tsdb


def assert_same_rollups(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Rollups computed inside Prometheus against those of the same points computed here:
    counts, times, maxima, hourly peaks and every histogram bucket and count exactly; sums
    and recency-weighted sums to the order of float additions (relative 1e-9)."""
    key = ["namespace", "workload", "container", "day"]
    got, want = (d.sort_values(key).reset_index(drop=True) for d in (got, want))
    assert len(got) == len(want) > 0
    for col in ("namespace", "workload", "container", "n"):
        assert got[col].tolist() == want[col].tolist(), col
    for col in ("day", "t_first", "t_last"):
        assert (pd.to_datetime(got[col], utc=True) == pd.to_datetime(want[col], utc=True)).all()
    for col in ("cpu_max", "mem_max"):
        assert got[col].tolist() == want[col].tolist(), col
    for col in ("cpu_sum", "cpu_wsum", "mem_sum", "mem_wsum", "w_sum"):
        assert np.allclose(got[col], want[col], rtol=1e-9, atol=0), col
    for a, b in zip(got["mem_hour_max"], want["mem_hour_max"], strict=True):
        assert np.array_equal(a, b, equal_nan=True)
    for prefix in ("cpu", "mem"):
        for col in ("b", "c"):
            for a, b in zip(got[f"{prefix}_{col}"], want[f"{prefix}_{col}"], strict=True):
                assert list(a) == list(b)
        for a, b in zip(got[f"{prefix}_w"], want[f"{prefix}_w"], strict=True):
            assert np.allclose(a, b, rtol=1e-9, atol=0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PromServer:
    url: str
    proc: subprocess.Popen[bytes]
    data_dir: Path
    log: Path
    _stopped: bool = field(default=False)

    def kill(self) -> None:
        """SIGKILL, as when the process dies mid-query."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def start_prometheus(blocks: Path, workdir: Path, *, port: int | None = None,
                     max_samples: int | None = None, query_timeout: str = "2m",
                     rules: list[Path] | None = None, config: str | None = None) -> PromServer:
    """A private Prometheus serving a copy of ``blocks`` (it writes to its data dir).

    ``max_samples`` sets ``--query.max-samples`` (the server's default is 50,000,000) and
    ``query_timeout`` ``--query.timeout``: a small server that protects itself as a big one
    does.  ``rules`` are rule files it loads (and evaluates from now on).  ``config``: the
    text of its whole configuration file instead (scrape targets, rule files)."""
    data = workdir / "tsdb"
    if not data.exists():
        shutil.copytree(blocks, data)
    cfg = workdir / "prometheus.yml"
    cfg_text = config or "global:\n  scrape_interval: 1m\nscrape_configs: []\n"
    if rules:
        cfg_text += "rule_files:\n" + "".join(f"  - {str(r)!r}\n" for r in rules)
    cfg.write_text(cfg_text)
    limits = [f"--query.max-samples={max_samples}"] if max_samples else []
    port = port or free_port()
    log = workdir / "prometheus.log"
    with open(log, "ab") as fh:
        proc = subprocess.Popen(
            [str(PROMETHEUS), f"--config.file={cfg}", f"--storage.tsdb.path={data}",
             f"--web.listen-address=127.0.0.1:{port}",
             # Backfilled history older than the retention would be dropped at start.
             "--storage.tsdb.retention.time=3650d", f"--query.timeout={query_timeout}",
             *limits],
            stdout=fh, stderr=subprocess.STDOUT, cwd=workdir)
    server = PromServer(f"http://127.0.0.1:{port}", proc, data, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prometheus exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as r:
                if r.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"prometheus not ready after 60 s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def prom_data(tmp_path_factory: pytest.TempPathFactory) -> PromData:
    reason = require_prometheus()
    if reason:
        pytest.skip(reason)
    return build_data(tmp_path_factory.mktemp("promdata"))


@pytest.fixture(scope="session")
def prometheus(prom_data: PromData, tmp_path_factory: pytest.TempPathFactory,
               ) -> Iterator[PromServer]:
    server = start_prometheus(prom_data.blocks, tmp_path_factory.mktemp("prometheus"))
    yield server
    server.stop()


_REFUSALS = {
    503: b'{"status":"error","errorType":"timeout","error":"query timed out in expression '
         b'evaluation"}',
    504: b"<html><body><h1>504 Gateway Time-out</h1></body></html>",
    422: b'{"status":"error","errorType":"execution","error":"query processing would load '
         b'too many samples into memory in query execution"}',
}


class FaultProxy:
    """An HTTP server in front of a real Prometheus that misbehaves on request.

    ``mode``: "pass" (forward), "500" (answer 500 ``fail_times`` times, then forward),
    "slow" (sleep ``delay`` s, then forward), "garbage" (200 with non-JSON), "401".
    ``fail_match``: answer 500 only to queries containing this text (partial data).
    Records every Authorization header it receives in ``auth_headers``.  ``tls=(cert, key)``
    serves HTTPS (see :func:`self_signed_cert`).  ``refuse_over=N`` answers ``refuse_status``
    (503 with Prometheus' timeout body, 504 or 422 with its too-many-samples body) to every
    query evaluating more than N points (series x steps are unknown to a proxy: steps only),
    as a server protecting itself does; 0 refuses every query.
    """

    def __init__(self, upstream: str, mode: str = "pass", *, fail_times: int = 10**9,
                 delay: float = 0.0, fail_match: str | None = None,
                 tls: tuple[Path, Path] | None = None, refuse_over: int | None = None,
                 refuse_status: int = 503) -> None:
        self.upstream = upstream
        self.refuse_over = refuse_over
        self.refuse_status = refuse_status
        self.refused = 0
        self.inflight = 0  # requests being answered now
        self.max_inflight = 0  # the most at once
        self._inflight_lock = threading.Lock()
        self.fail_match = fail_match
        self.mode = mode
        self.fail_times = fail_times
        self.delay = delay
        self.auth_headers: list[str] = []
        self.requests = 0
        self.bytes_sent = 0  # response bodies, to compare what each mode pulls
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._handle(None)

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                self._handle(self.rfile.read(n))

            def _handle(self, body: bytes | None) -> None:
                with proxy._inflight_lock:
                    proxy.inflight += 1
                    proxy.max_inflight = max(proxy.max_inflight, proxy.inflight)
                try:
                    self._answer(body)
                finally:
                    with proxy._inflight_lock:
                        proxy.inflight -= 1

            def _answer(self, body: bytes | None) -> None:
                proxy.requests += 1
                proxy.auth_headers.append(self.headers.get("Authorization", ""))
                mode = proxy.mode
                text = urllib.parse.unquote_plus((body or b"").decode() + self.path)
                if proxy.fail_match is not None:
                    mode = "500" if proxy.fail_match in text else "pass"
                if mode == "500" and proxy.fail_times > 0:
                    proxy.fail_times -= 1
                    return self._send(500, b'{"status":"error","errorType":"internal",'
                                           b'"error":"injected failure"}')
                if proxy.refuse_over is not None and "/api/v1/query" in self.path:
                    form = urllib.parse.parse_qs((body or b"").decode())
                    steps = 1
                    if "step" in form:
                        steps = int((float(form["end"][0]) - float(form["start"][0]))
                                    / float(form["step"][0])) + 1
                    if steps > proxy.refuse_over or proxy.refuse_over == 0:
                        proxy.refused += 1
                        return self._send(proxy.refuse_status, _REFUSALS[proxy.refuse_status])
                if mode == "garbage":
                    return self._send(200, b"<html>\x00\xff not json")
                if mode == "401":
                    return self._send(401, b"Unauthorized")
                if mode == "slow":
                    time.sleep(proxy.delay)
                req = urllib.request.Request(proxy.upstream + self.path, data=body,
                                             method=self.command)
                if body is not None:
                    req.add_header("Content-Type", "application/x-www-form-urlencoded")
                try:
                    with urllib.request.urlopen(req, timeout=120) as r:
                        self._send(r.status, r.read())
                except urllib.error.HTTPError as e:
                    self._send(e.code, e.read())
                except OSError:
                    self._send(502, b"bad gateway")

            def _send(self, code: int, payload: bytes) -> None:
                proxy.bytes_sent += len(payload)
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (timeout test)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        scheme = "http"
        if tls is not None:  # (certificate, key): serve HTTPS
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def self_signed_cert(directory: Path) -> tuple[Path, Path] | None:
    """A certificate for 127.0.0.1 made with the openssl CLI; None if openssl is missing."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def tempdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="quotatune-prom-"))


__all__ = ["FaultProxy", "PromData", "PromServer", "backfill_rules", "build_data",
           "start_prometheus"]
