"""``recommend --prometheus`` through the real entry point, against a real Prometheus: the
aggregate path agrees with ``collect prometheus`` followed by ``recommend --store``.

Both commands get the same ``--now`` (the end of the backfilled data): the backfill has no
staleness markers, so Prometheus repeats each series' last value for five minutes after it,
and two runs a minute apart would see a different number of points."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.support import prometheus as support
from tests.support.prometheus import FaultProxy, self_signed_cert

prom_data = support.prom_data  # the real server and its data (session fixtures)
prometheus = support.prometheus

pytestmark = pytest.mark.prometheus


def test_aggregate_mode_agrees_with_the_store_path(
    prometheus, prom_data, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    now = prom_data.end.strftime("%Y-%m-%dT%H:%M:%SZ")
    collected = run_cli("collect", "prometheus", "--url", prometheus.url, "--window", "14d",
                        "--store", str(store), "--now", now)
    assert collected.code == 0, collected.stderr
    from_store = run_cli("recommend", "--store", str(store), "-o", "json")
    assert from_store.code == 0, from_store.stderr
    from_prom = run_cli("recommend", "--prometheus", prometheus.url, "--window", "14d",
                        "--now", now, "-o", "json")
    assert from_prom.code == 0, from_prom.stderr
    a, b = json.loads(from_store.stdout), json.loads(from_prom.stdout)
    assert len(a) >= 3
    assert a == b


def test_aggregate_mode_honours_the_target(prometheus) -> None:
    every = json.loads(run_cli("recommend", "--prometheus", prometheus.url, "-o", "json").stdout)
    first = every[0]
    target = f"{first['namespace']}/{first['workload']}"
    some = json.loads(run_cli("recommend", target, "--prometheus", prometheus.url,
                              "-o", "json").stdout)
    assert {r["workload"] for r in some} == {first["workload"]}


def test_an_unreachable_prometheus_is_one_line_and_exit_2() -> None:
    r = run_cli("recommend", "--prometheus", "http://127.0.0.1:9", "-o", "json")
    assert r.code == 2
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_skip_verify_says_so_once_like_collect(prometheus, tmp_path: Path) -> None:
    pair = self_signed_cert(tmp_path)
    if pair is None:
        pytest.skip("the openssl CLI is not installed: no certificate to serve")
    with FaultProxy(prometheus.url, tls=pair) as proxy:
        r = run_cli("recommend", "--prometheus", proxy.url, "--insecure-skip-verify",
                    "-o", "json")
        c = run_cli("collect", "prometheus", "--url", proxy.url, "--window", "1h",
                    "--insecure-skip-verify", "--store", str(tmp_path / "s"))
    assert r.code == 0 and c.code == 0, r.stderr + c.stderr
    line = next(x for x in r.stderr.splitlines() if "not checked" in x)
    assert r.stderr.count("not checked") == 1 and line in c.stderr.splitlines()
    assert "InsecureRequestWarning" not in r.stderr


def test_budget_flags_go_with_prometheus_only() -> None:
    r = run_cli("recommend", "--max-concurrency", "2", "-o", "json")
    assert r.code == 2 and "go with --prometheus" in r.stderr
