"""``quotatune serve`` as a real process: its /metrics carry the values of ``recommend -o json``
and ``diagnose -o json`` on the same store (cores = millicores / 1000, bytes = MiB × 2^20), a
real Prometheus scrapes it and evaluates deploy/prometheus/quotatune-alerts.yaml on what it
scraped, ``--prometheus`` recomputes inside a real Prometheus, and bad flags are one line and
exit 2.

The store is two VMs of the bundled Bitbrains sample plus a real pod payload whose container was
OOM-killed (tests/fixtures/kubernetes, kubeshark), its times moved to two hours ago so that the
kill is recent: a critical finding."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from quotatune.render.metrics import EXPORTED, SIZING
from tests.conftest import FIXTURES, ROOT, run_cli
from tests.render.test_metrics import samples as exposition
from tests.support.prometheus import (  # noqa: F401  (fixtures)
    PROMTOOL,
    free_port,
    prom_data,
    prometheus,
    start_prometheus,
)

ALERTS = ROOT / "deploy" / "prometheus" / "quotatune-alerts.yaml"
OOM_POD = FIXTURES / "kubernetes" / "kubeshark_worker_pod_lastState_OOMKilled.json"
MIB = 2**20


def cores(millicores: int) -> float:
    return millicores / 1000


def mib_bytes(mib: int) -> float:
    return float(mib * MIB)


# metric -> where its value is in a recommendation's JSON, and the conversion to base units
JSON_FIELDS = {
    "quotatune_recommended_cpu_request_cores": ((), "cpu_request_millicores", cores),
    "quotatune_recommended_memory_request_bytes": ((), "memory_request_mib", mib_bytes),
    "quotatune_recommended_memory_limit_bytes": ((), "memory_limit_mib", mib_bytes),
    "quotatune_current_cpu_request_cores": (("current",), "cpu_request_millicores", cores),
    "quotatune_current_memory_request_bytes": (("current",), "memory_request_mib", mib_bytes),
    "quotatune_current_memory_limit_bytes": (("current",), "memory_limit_mib", mib_bytes),
}


class Serve:
    """``python -m quotatune serve …`` in a subprocess, stderr kept in a file."""

    def __init__(self, tmp: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"serve-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTATUNE_")}
        with open(self.log, "wb") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "quotatune", "serve", "--listen",
                 f"127.0.0.1:{self.port}", *args], stdout=fh, stderr=subprocess.STDOUT,
                cwd=ROOT, env=env)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def wait_until(self, code: int, timeout: float = 180, containing: str = "") -> str:
        """The /healthz body once it answers ``code`` with ``containing`` in it (start-up is
        slow on a loaded box)."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                got, last = self.get("/healthz")
                if got == code and containing in last:
                    return last
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"/healthz never answered {code}: {last}; {self.log.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def shifted_oom_pod(path: Path, ago: timedelta) -> Path:
    """The real OOM-killed pod, its termination ``ago`` before now and the restart after it."""
    text = OOM_POD.read_text()
    now = datetime.now(UTC)
    for old, delta in (("2023-05-06T21:03:57Z", ago), ("2023-05-06T16:54:42Z", ago * 3),
                       ("2023-05-06T21:03:58Z", ago - timedelta(seconds=1))):
        text = text.replace(old, (now - delta).strftime("%Y-%m-%dT%H:%M:%SZ"))
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("serve-store")
    root = tmp / "store"
    for args in (("data/sample/1.csv.gz", "data/sample/101.csv.gz", "--format", "bitbrains"),
                 (str(shifted_oom_pod(tmp / "pod.json", timedelta(hours=2))),)):
        r = run_cli("import", *args, "--store", str(root))
        assert r.code == 0, r.stderr
    return root


@pytest.fixture(scope="module")
def served(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    s = Serve(tmp_path_factory.mktemp("serve"), "--store", str(store), "--refresh", "2s")
    s.wait_until(200)
    yield s
    assert s.stop() == 0, s.log.read_text()
    assert s.log.read_text().rstrip().endswith("quotatune serve: stopped")


def expected_sizes(recs: list[dict]) -> dict[str, dict[tuple[str, ...], float]]:
    """What each sizing metric must hold, from ``recommend -o json``: nulls are absent."""
    out: dict[str, dict[tuple[str, ...], float]] = {name: {} for name in JSON_FIELDS}
    for r in recs:
        key = (r["namespace"], r["workload"], r["container"], r["strategy"])
        for name, (path, field, convert) in JSON_FIELDS.items():
            d = r
            for p in path:
                d = d[p]
            if d[field] is not None:
                out[name][key] = convert(d[field])
    return out


def expected_findings(findings: list[dict]) -> dict[tuple[str, ...], float]:
    return dict(Counter((f["namespace"], f["workload"], f["container"], f["kind"],
                         f["severity"]) for f in findings))


def by_key(samples: list[tuple[dict[str, str], float]], labels: tuple[str, ...]
           ) -> dict[tuple[str, ...], float]:
    return {tuple(lb[k] for k in labels): v for lb, v in samples}


SIZE_LABELS = ("namespace", "workload", "container", "strategy")
FINDING_LABELS = ("namespace", "workload", "container", "kind", "severity")


def json_of(*args: str) -> list[dict]:
    r = run_cli(*args, "-o", "json")
    assert r.code == 0, r.stderr
    return json.loads(r.stdout)


def test_metrics_carry_the_values_of_recommend_and_diagnose_json(served: Serve, store: Path):
    recs = json_of("recommend", "--store", str(store))
    findings = json_of("diagnose", "--store", str(store))
    code, text = served.get("/metrics")
    assert code == 200
    got = exposition(text)
    want = expected_sizes(recs)
    assert len(want["quotatune_recommended_cpu_request_cores"]) == 2
    for name in SIZING:
        assert by_key(got.get(name, []), SIZE_LABELS) == want[name], name
    assert ("kubeshark", "kubeshark-worker-daemon-set", "kubeshark-worker", "oom-killed",
            "critical") in expected_findings(findings)
    assert by_key(got["quotatune_findings"], FINDING_LABELS) == expected_findings(findings)
    assert got["quotatune_refresh_errors_total"] == [({}, 0.0)]
    assert abs(got["quotatune_last_refresh_timestamp_seconds"][0][1] - time.time()) < 60


def test_healthz_says_ok_with_what_it_serves(served: Serve):
    code, body = served.get("/healthz")
    assert code == 200 and body.startswith("ok: last refresh ")
    assert "3 containers, 1 findings" in body  # the OOM-killed pod has specs, no usage


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_failing_source_is_503_with_the_reason_and_a_signal_stops_it(tmp_path: Path, sig):
    s = Serve(tmp_path, "--store", str(tmp_path / "missing"), "--refresh", "1s")
    try:
        body = s.wait_until(503, containing="missing")  # the first refresh has failed
        assert body.startswith("no refresh has succeeded yet (")
        assert "missing" in body and body.count("\n") == 1
        code, text = s.get("/metrics")
        assert code == 200 and exposition(text)["quotatune_refresh_errors_total"][0][1] >= 1
    finally:
        assert s.stop(sig) == 0
    log = s.log.read_text().splitlines()
    assert log[-1] == "quotatune serve: stopped"
    failures = [line for line in log if line.startswith("refresh failed: ")]
    assert failures and all("missing" in line for line in failures)
    assert "Traceback" not in s.log.read_text()


@pytest.mark.parametrize("args, message", [
    (["--listen", "localhost"], "bad --listen"),
    (["--listen", "127.0.0.1:99999"], "bad --listen"),
    (["--refresh", "0s"], "--refresh"),
    (["--refresh", "soon"], "--refresh"),
    (["--store", "x", "--prometheus", "http://127.0.0.1:9"], "one of --store and --prometheus"),
    (["--window", "7d"], "--window and --step go with --prometheus"),
    (["--strategy", "nope"], "nope"),
    (["--strategy", ""], "unknown strategy ''; use one of"),
])
def test_bad_flags_are_one_line_and_exit_2(args: list[str], message: str):
    r = run_cli("serve", *args, timeout=120)
    assert r.code == 2, r.stderr
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run_cli("serve", "--store", str(tmp_path), "--listen", f"127.0.0.1:{port}",
                    timeout=120)
    assert r.code == 2 and "Address already in use" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


# --- against a real Prometheus --------------------------------------------------------------

def prom_get(url: str, path: str, **params: str) -> dict:
    q = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(f"{url}{path}{q}", timeout=30) as r:
        body = json.loads(r.read())
    assert body["status"] == "success", body
    return body["data"]


def scraped(url: str, name: str, labels: tuple[str, ...]) -> dict[tuple[str, ...], float]:
    result = prom_get(url, "/api/v1/query", query=name)["result"]
    return {tuple(s["metric"][k] for k in labels): float(s["value"][1]) for s in result}


@pytest.fixture(scope="module")
def scraper(served: Serve, tmp_path_factory: pytest.TempPathFactory):
    """An empty private Prometheus scraping ``served`` every second and evaluating the
    alerting rules of deploy/prometheus every second."""
    if not PROMTOOL.exists():
        pytest.skip(f"{PROMTOOL} is not installed")
    work = tmp_path_factory.mktemp("scraper")
    (work / "empty").mkdir()
    config = (
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {json.dumps(str(ALERTS))}\n"
        "scrape_configs:\n  - job_name: quotatune\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{served.port}']\n")
    server = start_prometheus(work / "empty", work, config=config)
    deadline = time.monotonic() + 120
    while not scraped(server.url, "quotatune_findings", FINDING_LABELS):
        assert time.monotonic() < deadline, server.log.read_text()[-2000:]
        time.sleep(0.5)
    yield server
    server.stop()


@pytest.mark.prometheus
def test_prometheus_scrapes_the_values_of_recommend_and_diagnose(scraper, store: Path):
    recs = json_of("recommend", "--store", str(store))
    findings = json_of("diagnose", "--store", str(store))
    want = expected_sizes(recs)
    for name in SIZING:
        assert scraped(scraper.url, name, SIZE_LABELS) == want[name], name
    assert scraped(scraper.url, "quotatune_findings", FINDING_LABELS) == \
        expected_findings(findings)
    up = scraped(scraper.url, 'up{job="quotatune"}', ())
    assert up == {(): 1.0}


@pytest.mark.prometheus
def test_the_alerts_fire_on_the_scraped_series(scraper, store: Path):
    # Rules are evaluated every second: wait until an evaluation has seen the scraped series
    # (the first ones, before the first scrape, find no exporter and make Absent pending).
    deadline = time.monotonic() + 60
    while True:
        alerts = prom_get(scraper.url, "/api/v1/alerts")["alerts"]
        firing = [(a["labels"]["alertname"], a["labels"].get("kind"),
                   a["labels"].get("namespace")) for a in alerts if a["state"] == "firing"]
        names = {a["labels"]["alertname"] for a in alerts}
        if (firing and "QuotatuneExporterAbsent" not in names) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert firing == [("QuotatuneCriticalFinding", "oom-killed", "kubeshark")], alerts
    rules = {r["name"]: r for g in prom_get(scraper.url, "/api/v1/rules")["groups"]
             for r in g["rules"]}
    # Evaluated without errors; serve is fresh.
    assert all(r["health"] == "ok" for r in rules.values()), rules
    # The OOM-killed container's limit (1 GiB) is below the floor quotatune recommends after
    # the kill: pending, firing after a day; the VMs' limits are above their recommendations.
    below = rules["QuotatuneMemoryLimitBelowRecommended"]
    assert below["state"] == "pending"
    (pending,) = below["alerts"]
    rec = next(r for r in json_of("recommend", "--store", str(store))
               if r["namespace"] == "kubeshark")
    assert pending["labels"]["container"] == rec["container"] == "kubeshark-worker"
    assert float(pending["value"]) == \
        (rec["memory_limit_mib"] - rec["current"]["memory_limit_mib"]) * MIB
    assert rules["QuotatuneExporterNotRefreshing"]["state"] == "inactive"
    assert rules["QuotatuneExporterAbsent"]["state"] == "inactive"


@pytest.mark.prometheus
def test_the_real_scrape_passes_promtool_and_names_exactly_what_render_declares(served: Serve):
    if not PROMTOOL.exists():
        pytest.skip(f"{PROMTOOL} is not installed")
    code, text = served.get("/metrics")
    assert code == 200
    r = subprocess.run([str(PROMTOOL), "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert set(exposition(text)) == set(EXPORTED)  # the dashboard test checks against this


@pytest.mark.prometheus
def test_prometheus_mode_serves_the_values_of_recommend_prometheus(
        prometheus, prom_data, tmp_path: Path):  # noqa: F811
    # The same --now for both: the backfill's last values stay visible for five minutes.
    now = prom_data.end.strftime("%Y-%m-%dT%H:%M:%SZ")
    recs = json_of("recommend", "--prometheus", prometheus.url, "--window", "14d",
                   "--now", now)
    s = Serve(tmp_path, "--prometheus", prometheus.url, "--window", "14d", "--now", now,
              "--refresh", "1h")
    try:
        s.wait_until(200)
        code, text = s.get("/metrics")
    finally:
        assert s.stop() == 0
    got = exposition(text)
    want = expected_sizes(recs)
    assert len(want["quotatune_recommended_cpu_request_cores"]) >= 3
    for name in SIZING:
        assert by_key(got.get(name, []), SIZE_LABELS) == want[name], name
    assert "Prometheus at http://127.0.0.1:" in s.log.read_text()
    # Findings too: the same as diagnosing what `collect prometheus` stores from that server
    # (the backfill has one OOM kill, shop/db/postgres).
    store = tmp_path / "collected"
    assert run_cli("collect", "prometheus", "--url", prometheus.url, "--window", "14d",
                   "--now", now, "--store", str(store)).code == 0
    findings = json_of("diagnose", "--store", str(store))
    assert any(f["kind"] == "oom-killed" for f in findings)
    assert by_key(got.get("quotatune_findings", []), FINDING_LABELS) == \
        expected_findings(findings)


@pytest.mark.prometheus
def test_every_dashboard_query_answers_from_the_scraped_series(scraper, store: Path):
    """The Grafana dashboard's panels, evaluated by the Prometheus that scrapes serve with
    "All" in the namespace and workload variables: each query has data, and the waste and
    critical-findings panels show what recommend and diagnose say."""
    from tests.deploy.test_grafana_dashboard import dashboard, panels

    shown = {}
    for p in panels(dashboard()):
        for t in p.get("targets", []):
            expr = t["expr"].replace("$namespace", ".*").replace("$workload", ".*")
            result = prom_get(scraper.url, "/api/v1/query", query=expr)["result"]
            assert result, (p["title"], expr)
            shown.setdefault(p["title"], []).append(result)
    recs = json_of("recommend", "--store", str(store))

    def single(title: str) -> float:
        (result,) = shown[title]
        assert len(result) == 1, result
        return float(result[0]["value"][1])

    both = [r for r in recs if None not in (r["cpu_request_millicores"], r["memory_request_mib"],
                                            r["current"]["cpu_request_millicores"],
                                            r["current"]["memory_request_mib"])]
    assert len(both) == 2  # the pod without usage has no recommendation: no waste either
    cpu = sum(r["current"]["cpu_request_millicores"] - r["cpu_request_millicores"]
              for r in both) / 1000
    mem = sum(r["current"]["memory_request_mib"] - r["memory_request_mib"] for r in both) / 1024
    assert single("CPU request waste") == pytest.approx(cpu, abs=1e-9)
    assert single("Memory request waste") == pytest.approx(mem, abs=1e-9)
    assert single("Critical findings") == 1.0
