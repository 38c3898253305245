"""memory-growth: time until the limit at the current slope, and silence for healthy shapes."""

from __future__ import annotations

import numpy as np
import pytest

from quotatune.analysis.findings.diagnose import diagnose
from tests.support.frames import NOW, usage

MIB = 1 << 20
LIMIT = 1024 * MIB
N = 12 * 60  # 12 hours of 1-minute samples
rng = np.random.default_rng(42)


def growth(findings):
    return [f for f in findings if f.kind == "memory-growth"]


def test_a_steady_leak_says_when_the_limit_is_reached():
    # 300 MiB + 40 MiB/h with noise: at 12 h it is at ~780 MiB, the 1 GiB limit ~6 h away.
    mem = 300 * MIB + np.arange(N) * (40 * MIB / 60) + rng.normal(0, 8 * MIB, N)
    [f] = growth(diagnose(usage(mem, limit=LIMIT), None, None, now=NOW))
    assert f.severity == "critical"  # within a day
    slope = next(e for e in f.evidence if "Theil–Sen slope" in e)
    per_hour = float(slope.split("slope ")[1].split(" MiB/h")[0])
    assert 35 < per_hour < 45
    reach = next(e for e in f.evidence if "limit is reached in about" in e)
    hours = float(reach.split("about ")[1].split(" h")[0])
    assert 4.5 < hours < 8.0
    assert "memory limit 1Gi" in f.evidence
    assert "leak" in f.advice


def test_a_slow_leak_far_from_the_limit_is_a_warning_and_a_very_slow_one_nothing():
    # 6 MiB/h: ~270 MiB after 12 h, the 1 GiB limit about 5 days away.
    slow = 200 * MIB + np.arange(N) * (6 * MIB / 60) + rng.normal(0, 2 * MIB, N)
    [f] = growth(diagnose(usage(slow, limit=LIMIT), None, None, now=NOW))
    assert f.severity == "warning"
    assert "days" in next(e for e in f.evidence if "limit is reached" in e)
    crawl = 200 * MIB + np.arange(N) * (1 * MIB / 60) + rng.normal(0, 1 * MIB, N)
    assert growth(diagnose(usage(crawl, limit=4 * LIMIT), None, None, now=NOW)) == []


def test_growth_without_a_limit_is_information():
    mem = 300 * MIB + np.arange(N) * (40 * MIB / 60)
    [f] = growth(diagnose(usage(mem), None, None, now=NOW))
    assert f.severity == "info" and "no memory limit" in f.evidence


@pytest.mark.parametrize("shape", ["flat", "noisy", "sawtooth", "warm-up", "spikes", "step-down"])
def test_healthy_shapes_are_not_growth(shape):
    t = np.arange(N)
    if shape == "flat":
        mem = np.full(N, 400 * MIB)
    elif shape == "noisy":
        mem = 400 * MIB + rng.normal(0, 40 * MIB, N)
    elif shape == "sawtooth":  # a GC'd heap: climbs for 17 min, collected, again
        mem = 300 * MIB + (t % 17) * (20 * MIB) + rng.normal(0, 3 * MIB, N)
    elif shape == "warm-up":  # rises for 4 hours, then levels off
        mem = 200 * MIB + 500 * MIB * (1 - np.exp(-t / 60.0))
    elif shape == "spikes":
        mem = np.full(N, 300.0 * MIB)
        mem[rng.choice(N, 30, replace=False)] = 900 * MIB
    else:  # a cache flushed half-way
        mem = np.where(t < N // 2, 700 * MIB, 350 * MIB) + rng.normal(0, 5 * MIB, N)
    assert growth(diagnose(usage(mem, limit=LIMIT), None, None, now=NOW)) == []


def test_a_restart_resets_the_series():
    # Leaked until an OOM restart, then flat: the instance as it runs now is not growing.
    t = np.arange(N)
    mem = np.where(t < N // 2, 300 * MIB + t * (2 * MIB), 300 * MIB + rng.normal(0, 2 * MIB, N))
    restarts = np.where(t < N // 2, 0.0, 1.0)
    assert growth(diagnose(usage(mem, limit=LIMIT, restarts=restarts), None, None,
                           now=NOW)) == []


def test_too_little_history_is_no_finding():
    mem = 300 * MIB + np.arange(20) * (10 * MIB)
    assert growth(diagnose(usage(mem, limit=LIMIT), None, None, now=NOW)) == []
