"""The limit in force at each OOM kill, read from the store's samples on the days that decide
the kills only: the same limits as the killed containers' whole history gives (a kill the
same day, just after midnight, on a day with nothing stored, before the pod's first sample,
naming no pod, of a container without samples), and a month of history read on the kills'
days."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.testing import assert_frame_equal

from quotatune.analysis.oom import LIMIT_AT_OOM, limits_at_ooms
from quotatune.model import ContainerKey, Target, validate_usage
from quotatune.model.collected import Collected
from quotatune.pipelines.inputs import oom_limits_stored, open_store
from quotatune.store.history import Store

MIB = float(1 << 20)


def samples(workload: str, pod: str, start: str, end: str, mib: float,
            raised: tuple[str, float] | None = None) -> pd.DataFrame:
    """``pod`` of container ``workload``/app every 10 minutes at :05, :15 … (never on a
    midnight) from ``start`` to ``end``, its limit ``mib``, then ``raised`` = (from, mib) in
    place."""
    ts = pd.date_range(pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC"), freq="10min")
    limit = np.full(len(ts), mib * MIB)
    if raised is not None:
        limit[ts >= pd.Timestamp(raised[0], tz="UTC")] = raised[1] * MIB
    return pd.DataFrame({"timestamp": ts, "namespace": "shop", "workload": workload,
                         "pod": pod, "container": "app", "cpu_cores": 0.1,
                         "memory_working_set_bytes": 200 * MIB, "memory_limit_bytes": limit})


def kill(at: str, workload: str, pod: str, reason: str = "OOMKilled") -> dict[str, Any]:
    return {"timestamp": pd.Timestamp(at, tz="UTC"), "namespace": "shop",
            "workload": workload, "pod": pod, "container": "app", "kind": "termination",
            "reason": reason, "oom_killed": reason == "OOMKilled"}


def stored(root: Path, *parts: pd.DataFrame) -> Store:
    st = open_store(root)
    st.append(Collected(usage=validate_usage(pd.concat(parts, ignore_index=True), "test")))
    return st


class CountingStore(Store):
    """The store at ``root``, noting the days each read of samples asks for, by workload."""

    def __init__(self, root: Path) -> None:
        base = open_store(root)
        super().__init__(root, rollup=base.rollup, rollup_table=base.rollup_table,
                         rollup_version=base.rollup_version)
        self.days_read: dict[str, list[str]] = {}

    def scan_usage(self, columns: list[str] | None = None, *,
                   keys: list[ContainerKey] | None = None, days: list[str] | None = None,
                   **kw: Any) -> Any:
        for workload in {k.workload for k in keys or []} or {"(every container)"}:
            self.days_read.setdefault(workload, []).extend(
                self.days() if days is None else days)
        return super().scan_usage(columns, keys=keys, days=days, **kw)


def test_each_kill_gets_the_limit_the_whole_history_gives(tmp_path: Path) -> None:
    st = stored(
        tmp_path / "st",
        # raised in place from 400 to 500 MiB on the 21st at 12:05
        samples("web", "web-a", "2026-11-20T00:05", "2026-11-22T23:55", 400,
                raised=("2026-11-21T12:05", 500)),
        samples("web", "web-b", "2026-11-22T06:05", "2026-11-25T23:55", 600),
        samples("web", "web-c", "2026-11-26T08:05", "2026-11-26T23:55", 800),
        samples("db", "db-0", "2026-11-20T00:05", "2026-11-26T23:55", 1024,
                raised=("2026-11-24T00:05", 2048)))
    events = pd.DataFrame([
        kill("2026-11-21T15:00", "web", "web-a"),  # the same day, after the raise: 500
        kill("2026-11-21T11:00", "web", "web-a"),  # the same day, before it: 400
        kill("2026-11-22T00:01", "web", "web-a"),  # before the day's first sample: 500
        kill("2026-11-27T03:00", "web", "web-b"),  # a day with nothing stored: 600
        kill("2026-11-26T07:00", "web", "web-c"),  # before the pod's first sample: 800
        kill("2026-11-24T00:02", "db", ""),  # no pod named: the pod running then, 1024
        kill("2026-11-23T12:00", "cache", "cache-0"),  # no samples at all
        kill("2026-11-23T12:00", "web", "web-b", reason="Error"),  # not a kill
    ])

    got = oom_limits_stored(st, None, events)

    assert_frame_equal(got, limits_at_ooms(st.read_usage(), events))
    assert (got[LIMIT_AT_OOM] / MIB).tolist()[:6] == [500, 400, 500, 600, 800, 1024]
    assert got[LIMIT_AT_OOM].iloc[6:].isna().all()
    web = Target.parse("shop/web")
    assert_frame_equal(oom_limits_stored(st, web, events),
                       limits_at_ooms(st.read_usage(web), events))


def test_a_month_of_history_is_read_on_the_kills_days_only(tmp_path: Path) -> None:
    """Kills on the 10th and the 20th are settled by their own day; one at 00:01 on the 25th
    by the 24th, where its pod was last sampled (23:55).  The other 26 days stay unread."""
    stored(tmp_path / "st", samples("web", "web-a", "2026-10-01T00:05", "2026-10-30T23:55", 400),
           samples("db", "db-0", "2026-10-01T00:05", "2026-10-30T23:55", 1024))
    events = pd.DataFrame([kill("2026-10-10T15:00", "web", "web-a"),
                           kill("2026-10-20T09:00", "db", "db-0"),
                           kill("2026-10-25T00:01", "web", "web-a")])
    st = CountingStore(tmp_path / "st")
    assert len(st.days()) == 30

    got = oom_limits_stored(st, None, events)

    assert {w: sorted(d) for w, d in st.days_read.items()} == {
        "web": ["2026-10-10", "2026-10-24", "2026-10-25"], "db": ["2026-10-20"]}
    assert (got[LIMIT_AT_OOM] / MIB).tolist() == [400, 1024, 400]
    assert_frame_equal(got, limits_at_ooms(st.read_usage(), events))


def test_a_kill_that_names_no_pod_reads_its_containers_every_day(tmp_path: Path) -> None:
    """Which pod was running at such a kill needs every pod's first and last sample: its
    container is read whole (the others still only on their kills' days)."""
    stored(tmp_path / "st", samples("web", "web-a", "2026-10-01T00:05", "2026-10-05T23:55", 400),
           samples("db", "db-0", "2026-10-01T00:05", "2026-10-05T23:55", 1024))
    events = pd.DataFrame([kill("2026-10-03T15:00", "web", ""),
                           kill("2026-10-02T09:00", "db", "db-0")])
    st = CountingStore(tmp_path / "st")

    got = oom_limits_stored(st, None, events)

    assert {w: sorted(d) for w, d in st.days_read.items()} == {
        "web": ["2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05"],
        "db": ["2026-10-02"]}
    assert (got[LIMIT_AT_OOM] / MIB).tolist() == [400, 1024]
