"""Events stamped more than 10 minutes after the clock are left out on every path samples are,
counted in a note worded as theirs: ``import``, ``--from`` (rollups, and the temporary store
of ``report`` and ``diagnose``), what ``collect`` stores, and ``diagnose``'s live reads.  A
node whose clock runs ahead otherwise reported an OOM kill dated after ours: every run's
latest failure, never aging.  An event without a time is kept: nothing says it is late."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from quotatune.model import Target
from quotatune.model.collected import Collected
from quotatune.pipelines.collect import into_store
from quotatune.pipelines.diagnose import diagnose, from_files_store, from_kubernetes
from quotatune.pipelines.importing import import_into_store
from quotatune.pipelines.stored import stored_from_files
from quotatune.pipelines.streaming import rollups_from_files
from quotatune.store.history import Store
from tests.conftest import FIXTURES
from tests.support import frames
from tests.support.k8s_standin import StandIn, honeycomb_cluster, kubeconfig, kubelet_ahead

# A real pod status: kubeshark-worker OOM-killed at 2023-05-06T21:03:57Z, restarted a second
# later.  To a clock reading 20:00 both are an hour ahead; to one reading 22:00, past.
KUBESHARK = FIXTURES / "forensics" / "kubeshark_worker_pod_lastState_OOMKilled.json"
BEFORE_KILL = pd.Timestamp("2023-05-06T20:00:00Z")
AFTER_KILL = pd.Timestamp("2023-05-06T22:00:00Z")


def note(count: int, after: str, what: str = "event") -> str:
    return (f"ignored {count} {what}(s) stamped in the future (after {after}): "
            "check the source's clock")


def kills(events: pd.DataFrame) -> list[str]:
    return sorted(events.loc[events["oom_killed"].astype(bool), "workload"].astype(str))


# -- import ----------------------------------------------------------------------------------

def test_import_leaves_out_a_kill_stamped_after_the_clock(tmp_path: Path) -> None:
    res = import_into_store([KUBESHARK], None, tmp_path / "st", None, now=BEFORE_KILL)

    assert res.events_future == 2 and res.samples_future == 0
    assert res.notes == [note(2, "2023-05-06T20:10Z")]
    assert res.report.events_added == 0
    st = Store(tmp_path / "st")
    assert st.read_events().empty
    assert st.read_specs()["workload"].tolist() == ["kubeshark-worker-daemon-set"]


def test_import_keeps_the_kill_once_the_clock_has_passed_it(tmp_path: Path) -> None:
    res = import_into_store([KUBESHARK], None, tmp_path / "st", None, now=AFTER_KILL)

    assert res.events_future == 0 and res.notes == []
    assert kills(Store(tmp_path / "st").read_events()) == ["kubeshark-worker-daemon-set"]


# -- --from ----------------------------------------------------------------------------------

def test_from_files_rollups_leave_the_kill_out_with_the_import_note(tmp_path: Path) -> None:
    read = rollups_from_files([KUBESHARK], None, Target(), now=BEFORE_KILL)
    imported = import_into_store([KUBESHARK], None, tmp_path / "st", None, now=BEFORE_KILL)

    assert read.future_events == 2 and read.events.empty
    assert note(2, "2023-05-06T20:10Z") in read.notes
    assert [n for n in read.notes if "future" in n] == imported.notes
    assert len(read.specs) == 1  # the pod's spec is still read


def test_the_temporary_store_of_report_from_leaves_the_kill_out() -> None:
    with stored_from_files([KUBESHARK], None, Target(), now=BEFORE_KILL) as s:
        assert s.events.empty and len(s.specs) == 1
        assert s.notes == [note(2, "2023-05-06T20:10Z")]
    with stored_from_files([KUBESHARK], None, Target(), now=AFTER_KILL) as s:
        assert kills(s.events) == ["kubeshark-worker-daemon-set"] and s.notes == []


def test_diagnose_from_files_finds_no_kill_from_the_future() -> None:
    """Through the temporary store of ``report --from`` and ``diagnose --from``: the kill an
    hour ahead is no finding, and the note says why; once past, it is the critical kill."""
    ahead, errors, notes = from_files_store([KUBESHARK], None, Target(), now=BEFORE_KILL)
    assert ahead == [] and errors == []
    assert notes == [note(2, "2023-05-06T20:10Z")]

    past, _, notes = from_files_store([KUBESHARK], None, Target(), now=AFTER_KILL)
    assert [(f.workload, f.kind) for f in past] == [("kubeshark-worker-daemon-set",
                                                     "oom-killed")]
    assert notes == []


# -- collect ---------------------------------------------------------------------------------

NOW = frames.NOW


def test_into_store_leaves_out_late_events_and_keeps_those_without_a_time(tmp_path: Path
                                                                          ) -> None:
    """A kill an hour ago, one 5 minutes ahead (clocks a little apart), one a day ahead, and
    a log line without a time: only the day-ahead kill is left out."""
    events = frames.events(
        {"timestamp": NOW - pd.Timedelta(hours=1), "kind": "termination", "reason": "OOMKilled",
         "exit_code": 137, "oom_killed": True},
        {"timestamp": NOW + pd.Timedelta(minutes=5), "kind": "termination",
         "reason": "OOMKilled", "exit_code": 137, "oom_killed": True, "pod": "api-2"},
        {"timestamp": NOW + pd.Timedelta(days=1), "kind": "termination", "reason": "OOMKilled",
         "exit_code": 137, "oom_killed": True, "pod": "api-3"},
        {"timestamp": None, "kind": "log", "reason": "OutOfMemoryError", "pod": "api-4"},
    )
    data = Collected(specs=frames.specs({}), events=events)

    written = into_store(data, tmp_path / "st", now=NOW)

    assert written.future_events == 1 and written.future == 0
    assert written.notes == [note(1, "2026-11-27T22:10Z")]
    assert written.report.events_added == 3
    stored = Store(tmp_path / "st").read_events()
    assert sorted(stored["pod"]) == ["api-1", "api-2", "api-4"]
    assert stored.loc[stored["pod"] == "api-4", "timestamp"].isna().all()
    assert len(data.events) == 4  # what the collector gave is left as it was


def test_into_store_counts_late_samples_and_events_in_two_notes(tmp_path: Path) -> None:
    usage = frames.usage(np.full(3, 2.0**28), minutes=60,
                         start=NOW - pd.Timedelta(hours=1))  # the third, an hour ahead
    late_kill = frames.events({"timestamp": NOW + pd.Timedelta(hours=2), "kind": "termination",
                               "reason": "OOMKilled", "oom_killed": True})

    written = into_store(Collected(usage=usage, events=late_kill), tmp_path / "st", now=NOW)

    assert (written.future, written.future_events) == (1, 1)
    assert written.notes == [note(1, "2026-11-27T22:10Z", "sample"),
                             note(1, "2026-11-27T22:10Z")]
    assert Store(tmp_path / "st").read_events().empty


# -- diagnose, live --------------------------------------------------------------------------

# After the stand-in's last real event (a FailedScheduling of 2026-06-26T10:12Z).
LIVE_NOW = pd.Timestamp("2026-06-26T12:00:00Z")


def test_diagnose_of_a_live_cluster_leaves_out_what_its_clocks_put_ahead(tmp_path: Path
                                                                         ) -> None:
    """duckboat-01's kubelet runs a day ahead, and so does the node's OOMKilling event: its
    12 samples and the kill are left out, with a note each; phpmyadmin's exit 137, crash
    loop and the pending pod, stamped by clocks in time, are still found."""
    summary_at = pd.Timestamp("2020-09-16T03:31:00Z")
    cluster = kubelet_ahead(honeycomb_cluster(), "duckboat-01",
                            (LIVE_NOW - summary_at).to_pytimedelta() + timedelta(days=1))
    for ev in cluster.events:
        if ev["reason"] == "OOMKilling":
            ev["firstTimestamp"] = ev["lastTimestamp"] = "2026-06-27T12:00:00Z"
    with StandIn(cluster) as api:
        kc = kubeconfig(tmp_path / "kc", api.url, context="standin")
        data, notes = from_kubernetes("standin", kc, None, 10.0, LIVE_NOW)

    assert notes == [note(12, "2026-06-26T12:10Z", "sample"), note(1, "2026-06-26T12:10Z")]
    assert "OOMKilling" not in set(data.events["reason"])
    assert data.usage.empty or data.usage["timestamp"].max() <= LIVE_NOW
    found = {(f.workload, f.kind) for f in diagnose(data, now=LIVE_NOW)}
    assert found == {("phpmyadmin", "exit-137"), ("phpmyadmin", "crash-loop"),
                     ("e2e-hpa", "pending-insufficient-resources")}
