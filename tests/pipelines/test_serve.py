"""pipelines/serve.py: the refresh loop keeps the last result, counts failures and keeps the
previous values, /healthz follows the age of the last success, and a scrape never waits on a
refresh.  The clock and the wait are injected; the HTTP server is real (127.0.0.1)."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from datetime import datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from quotatune.model import Current, InputError, Recommendation
from quotatune.pipelines.serve import STALE_PERIODS, Outcome, Refresher, Server


def rec(cpu: int) -> Recommendation:
    return Recommendation("shop", "web", "app", cpu, None, 256, 320, Current(), "krr", 2000,
                          72.0, "high", "ok")


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


class Script:
    """A compute function that returns or raises what it is told, in order."""

    def __init__(self, *steps: object) -> None:
        self.steps = list(steps)
        self.calls: list[datetime] = []

    def __call__(self, now: datetime) -> Outcome:
        self.calls.append(now)
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        return Outcome([rec(int(step))], [])  # type: ignore[call-overload]


def values(r: Refresher, name: str) -> list[float]:
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import generate_latest

    reg = CollectorRegistry(auto_describe=False)
    reg.register(r)
    text = generate_latest(reg).decode()
    return [s.value for f in text_string_to_metric_families(text) for s in f.samples
            if s.name == name]


def test_the_loop_refreshes_every_period_until_stopped_and_keeps_the_last_result():
    clock, log = Clock(), []
    compute = Script(100, 200, 300)
    waits: list[float] = []

    def wait(seconds: float) -> bool:  # advance the fake clock instead of sleeping
        waits.append(seconds)
        clock.t += seconds
        return len(waits) == 3  # asked to stop after the third refresh

    r = Refresher(compute, 3600, clock=clock, wait=wait, log=log.append)
    r.run()
    assert waits == [3600, 3600, 3600]
    assert [c.timestamp() for c in compute.calls] == [1.8e9, 1.8e9 + 3600, 1.8e9 + 7200]
    assert values(r, "quotatune_recommended_cpu_request_cores") == [0.3]
    assert values(r, "quotatune_last_refresh_timestamp_seconds") == [1.8e9 + 7200]
    assert log == []


def test_a_failed_refresh_keeps_the_previous_values_is_counted_and_logged_in_one_line():
    clock, log = Clock(), []
    r = Refresher(Script(100, InputError("no usage samples in store /x\nsecond line")), 60,
                  clock=clock, log=log.append)
    assert r.refresh() is True
    clock.t += 60
    assert r.refresh() is False
    assert values(r, "quotatune_recommended_cpu_request_cores") == [0.1]
    assert values(r, "quotatune_refresh_errors_total") == [1.0]
    assert values(r, "quotatune_last_refresh_timestamp_seconds") == [1.8e9]
    assert log == ["refresh failed: no usage samples in store /x second line"]


def test_an_unexpected_exception_is_a_failed_refresh_not_a_dead_loop():
    log: list[str] = []
    r = Refresher(Script(ZeroDivisionError("division by zero"), 5), 60, clock=Clock(),
                  log=log.append)
    assert r.refresh() is False and r.refresh() is True
    assert log == ["refresh failed: ZeroDivisionError: division by zero"]


def test_health_waits_for_a_first_success_and_fails_when_the_last_one_is_stale():
    clock = Clock()
    r = Refresher(Script(OSError("connection refused"), 100), 60, clock=clock)
    assert r.health() == (False, "no refresh has succeeded yet (0 failed)")
    r.refresh()
    assert r.health() == (False, "no refresh has succeeded yet (1 failed): connection refused")
    r.refresh()
    ok, line = r.health()
    assert ok and line.startswith("ok: last refresh 0 s ago, 1 containers")
    clock.t += STALE_PERIODS * 60
    assert r.health()[0] is True  # exactly at the limit: still fresh
    clock.t += 1
    ok, line = r.health()
    assert not ok and f"more than {STALE_PERIODS} refresh periods" in line


def test_a_refresh_period_must_be_positive():
    with pytest.raises(InputError):
        Refresher(Script(), 0)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_scrapes_answer_from_the_last_result_while_a_refresh_is_blocked():
    """A refresh that hangs (a slow Prometheus) does not hold up /metrics or /healthz."""
    release, entered = threading.Event(), threading.Event()
    results = iter([100, 200])

    def compute(now: datetime) -> Outcome:
        value = next(results)
        if value == 200:
            entered.set()
            release.wait(30)
        return Outcome([rec(value)], [])

    waited = threading.Event()

    def wait(seconds: float) -> bool:
        if waited.is_set():
            return True
        waited.set()
        return False  # no sleep: the second refresh starts at once and blocks

    refresher = Refresher(compute, 60, wait=wait)
    server = Server(refresher, "127.0.0.1", 0)
    host, port = server.address
    server.start()
    try:
        assert entered.wait(10)  # the second refresh is under way and blocked
        code, body = get(f"http://{host}:{port}/metrics")
        assert code == 200
        assert "quotatune_recommended_cpu_request_cores{" in body and "} 0.1\n" in body
        assert get(f"http://{host}:{port}/healthz")[0] == 200
        assert get(f"http://{host}:{port}/nothing")[0] == 404
        release.set()
    finally:
        release.set()
        server.stop()


def test_healthz_is_503_with_a_reason_before_the_first_success():
    refresher = Refresher(Script(InputError("no data in store ./data")), 60,
                          wait=lambda s: True)
    server = Server(refresher, "127.0.0.1", 0)
    host, port = server.address
    server.start()
    try:
        refresher.stop(timeout=10)  # the one refresh has run
        code, body = get(f"http://{host}:{port}/healthz")
        assert code == 503
        assert body == "no refresh has succeeded yet (1 failed): no data in store ./data\n"
    finally:
        server.stop()
