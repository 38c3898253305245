"""Every known container gets a row, and OOM floors grow from the limit in force at the kill."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quotatune.analysis.jvm import jvm_memory_need_bytes
from quotatune.analysis.recommend import recommend
from quotatune.model.units import MIB, bytes_to_mib_ceil
from quotatune.sources.envscan import scan
from tests.support.frames import NOW, events, specs, usage


def _spec_only(**extra):
    return specs({"container": "sidecar", "pod": "api-1", "cpu_request_cores": 0.05,
                  "memory_request_bytes": 32 * MIB, "memory_limit_bytes": 64 * MIB, **extra})


def test_a_sidecar_without_usage_is_listed_with_its_current_values():
    u = usage(np.full(3000, 200 * MIB), minutes=5)
    recs = {r.container: r for r in recommend(u, _spec_only(), None)}
    assert set(recs) == {"api", "sidecar"}
    side = recs["sidecar"]
    assert side.status == "no-usage" and side.samples == 0 and side.confidence == "none"
    assert (side.current.cpu_request_millicores, side.current.memory_request_mib,
            side.current.memory_limit_mib) == (50, 32, 64)
    assert side.memory_request_mib is None and side.cpu_request_millicores is None
    assert "no usage samples" in side.reasons[0]
    assert recs["api"].status == "ok"


def test_spec_only_containers_need_no_usage_at_all():
    recs = recommend(pd.DataFrame(), _spec_only(), None)
    assert [(r.container, r.status) for r in recs] == [("sidecar", "no-usage")]
    assert recs[0].to_dict()["current"] == {"cpu_request_millicores": 50,
                                            "memory_request_mib": 32, "memory_limit_mib": 64}


def test_init_containers_that_finish_get_no_row():
    recs = recommend(pd.DataFrame(), _spec_only(init_container=True), None)
    assert recs == []


def test_a_jvm_without_usage_is_sized_from_its_flags_with_the_reason():
    flags = scan(["java", "-Xmx768m", "-jar", "app.jar"], [], {}).jvm_options
    recs = recommend(pd.DataFrame(), _spec_only(jvm_options=list(flags)), None)
    need = jvm_memory_need_bytes(list(flags), 64 * MIB)
    assert need is not None and need.min_limit_bytes
    [r] = recs
    assert r.status == "no-usage"
    assert r.memory_limit_mib == r.memory_request_mib == bytes_to_mib_ceil(need.min_limit_bytes)
    assert r.memory_limit_mib > 768  # heap + non-heap
    assert any("JVM's flags" in reason for reason in r.reasons)


def _oom_history(limit_after: float):
    """OOM at a 256 MiB limit on day 3, the limit raised to ``limit_after`` right after it,
    and a peak of 300 MiB since."""
    n = 7 * 288
    mem = np.full(n, 180 * MIB)
    mem[-500] = 300 * MIB
    u = usage(mem, minutes=5)
    oom_at = u["timestamp"].iloc[3 * 288]
    u["memory_limit_bytes"] = np.where(u["timestamp"] <= oom_at, 256 * MIB, limit_after)
    ev = events({"kind": "termination", "reason": "OOMKilled", "exit_code": 137,
                 "oom_killed": True, "timestamp": oom_at})
    return u, ev, oom_at


def test_the_oom_floor_comes_from_the_limit_at_the_kill_not_the_newest():
    u, ev, _ = _oom_history(512 * MIB)
    [r] = recommend(u, specs({"memory_limit_bytes": 512 * MIB}), ev)
    reason = next(x for x in r.reasons if "OOM" in x)
    assert "at limit 256 MiB" in reason
    assert r.current.memory_limit_mib == 512
    # The limit raised since has no say in the floor: raised to 1 GiB, the same answer.
    u2, ev2, _ = _oom_history(1024 * MIB)
    [r2] = recommend(u2, specs({"memory_limit_bytes": 1024 * MIB}), ev2)
    assert r2.memory_limit_mib == r.memory_limit_mib


def test_applying_the_recommendation_never_raises_the_floor_by_itself():
    u, ev, _ = _oom_history(512 * MIB)
    [first] = recommend(u, None, ev)
    applied, ev2, _ = _oom_history(first.memory_limit_mib * MIB)
    [again] = recommend(applied, None, ev2)
    assert again.memory_limit_mib == first.memory_limit_mib
    [twice] = recommend(_oom_history(again.memory_limit_mib * MIB)[0], None, ev2)
    assert twice.memory_limit_mib == first.memory_limit_mib


def test_the_rollup_path_reads_the_limit_of_the_kills_day():
    from quotatune.analysis.recommend import recommend_from_rollups
    from quotatune.rollup.sketch import daily_rollup

    u, ev, _ = _oom_history(512 * MIB)
    raw = recommend(u, None, ev)
    # Without the samples' exact limit: only the per-day rollups and the event.
    from_rollups = recommend_from_rollups(daily_rollup(u), None, ev)
    assert from_rollups[0].memory_limit_mib == raw[0].memory_limit_mib


def test_an_oom_of_a_pod_without_usage_gives_a_limit_from_its_own_spec():
    sp = specs({"pod": "api-old", "memory_limit_bytes": 256 * MIB},
               {"pod": "api-new", "memory_limit_bytes": 512 * MIB})
    ev = events({"kind": "termination", "reason": "OOMKilled", "exit_code": 137,
                 "oom_killed": True, "pod": "api-old", "timestamp": NOW})
    [r] = recommend(pd.DataFrame(), sp, ev)
    assert r.status == "no-usage" and r.current.memory_limit_mib == 512
    assert r.memory_limit_mib == bytes_to_mib_ceil(256 * MIB + 100 * MIB)
    assert r.memory_request_mib is None


def _killed_at_start(limit: float, **spec):
    """Two samples a minute apart, then OOM-killed at ``limit``: too little to size from."""
    u = usage(np.array([200 * MIB, 250 * MIB]), limit=limit)
    ev = events({"kind": "termination", "reason": "OOMKilled", "exit_code": 137,
                 "oom_killed": True, "timestamp": NOW})
    sp = specs({"memory_limit_bytes": limit, **spec})
    [r] = recommend(u, sp, ev)
    return r


def test_a_container_killed_before_it_has_history_keeps_its_oom_floor():
    r = _killed_at_start(256 * MIB)
    assert r.status == "insufficient-data" and r.samples == 2
    assert r.memory_limit_mib == 356  # 256 MiB + 100 MiB > 256 MiB × 1.2
    assert r.memory_request_mib is None and r.cpu_request_millicores is None
    assert r.reasons[0].startswith("only 2 sample(s)")
    assert "1 OOM kill(s) at limit 256 MiB: limit at least 356 MiB" in r.reasons[1]


def test_a_jvm_killed_before_it_has_history_is_sized_from_its_flags_and_its_kill():
    flags = scan(["java", "-Xms1g", "-Xmx1g", "-jar", "app.jar"], [], {}).jvm_options
    r = _killed_at_start(512 * MIB, jvm_options=list(flags))
    need = jvm_memory_need_bytes(list(flags), 512 * MIB)
    assert need is not None and need.min_limit_bytes
    assert r.status == "insufficient-data"
    assert r.memory_request_mib == bytes_to_mib_ceil(need.min_limit_bytes)
    # The flags need more than the floor after the kill at 512 MiB (614 MiB).
    assert r.memory_limit_mib == bytes_to_mib_ceil(need.min_limit_bytes) > 614
    assert any("JVM's flags" in x for x in r.reasons)
    assert any("OOM kill(s) at limit 512 MiB" in x for x in r.reasons)


def test_the_floor_is_the_same_with_usage_without_usage_and_with_too_little():
    """One rule after a kill (+100 MiB or ×1.2, whichever is larger) whatever the history."""
    for limit, floor in ((256 * MIB, 356), (1024 * MIB, 1229)):
        short = _killed_at_start(limit)
        sp = specs({"memory_limit_bytes": limit})
        ev = events({"kind": "termination", "reason": "OOMKilled", "exit_code": 137,
                     "oom_killed": True, "timestamp": NOW})
        [none] = recommend(pd.DataFrame(), sp, ev)
        # A week of low usage: the limit is the floor, not the usage.
        [full] = recommend(usage(np.full(7 * 288, 50 * MIB), minutes=5, limit=limit), sp, ev)
        assert (short.memory_limit_mib, none.memory_limit_mib, full.memory_limit_mib) == \
            (floor, floor, floor)


def test_diagnose_advises_the_floor_recommend_gives():
    from quotatune.analysis.findings.diagnose import diagnose

    limit = 1024 * MIB
    u = usage(np.full(7 * 288, 50 * MIB), minutes=5, limit=limit)
    ev = events({"kind": "termination", "reason": "OOMKilled", "exit_code": 137,
                 "oom_killed": True, "timestamp": NOW})
    [rec] = recommend(u, None, ev)
    [found] = [f for f in diagnose(u, None, ev, now=NOW) if f.kind == "oom-killed"]
    assert f"at least {rec.memory_limit_mib}Mi" in found.advice


@pytest.mark.parametrize("since", ["all", "1d"])
def test_after_a_raise_diagnose_advises_from_the_limit_at_the_kill_on_every_path(tmp_path,
                                                                               since):
    """Killed at 256 MiB, raised to 1 GiB since: the advice is the floor of 256 MiB, the
    one recommend gives, from the whole frame and from the store alike, never 1 GiB × 1.2.
    The store reads the limits along its read of every day (``--since all``), or reads the
    kills' days for them when ``--since`` leaves older days unread."""
    import json

    from quotatune.analysis.findings.diagnose import diagnose
    from quotatune.model.collected import Collected
    from quotatune.store.history import Store
    from tests.conftest import run_cli

    u, ev, oom_at = _oom_history(1024 * MIB)
    u["memory_working_set_bytes"] = 100 * MIB  # the floor decides recommend's limit
    [rec] = recommend(u, None, ev)
    assert rec.memory_limit_mib == 356  # 256 MiB + 100 MiB
    [whole] = [f for f in diagnose(u, None, ev, now=NOW) if f.kind == "oom-killed"]
    assert "at least 356Mi (the 256Mi limit +100 MiB" in whole.advice
    assert "memory limit 256Mi at the kill, 1Gi now" in whole.evidence
    from quotatune.model import empty_specs

    Store(tmp_path / "s").append(Collected(usage=u, specs=empty_specs(), events=ev))
    run = run_cli("diagnose", "--store", str(tmp_path / "s"), "--since", since, "-o", "json")
    assert run.code == 0, run.stderr
    [stored] = [f for f in json.loads(run.stdout) if f["kind"] == "oom-killed"]
    assert stored["advice"] == whole.advice
    # Without --since all, the current limit is not read (its samples are older).
    assert ("memory limit 256Mi at the kill, 1Gi now" if since == "all" else
            "memory limit 256Mi at the kill") in stored["evidence"]
