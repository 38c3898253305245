"""Retention drops old days, events and the specs of containers seen only in the pruned range,
and a directory left without its manifest by a killed prune is finished by the next one
(docs/architecture.md, "The store")."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from quotatune import model
from quotatune.model.collected import Collected
from quotatune.store import inventory, retention
from quotatune.store.history import Store
from tests.store.test_store import usage

NOW = pd.Timestamp("2026-11-30T12:00:00Z")


def spec(workload: str) -> dict[str, object]:
    row: dict[str, object] = {c: None for c in model.SPEC_COLUMNS}
    row.update(namespace="shop", workload=workload, pod=f"{workload}-0", container="main",
               command=("java",), args=(), env_names=(), jvm_options=(), non_ascii_env=(),
               source="test")
    return row


def event(workload: str, at: str) -> dict[str, object]:
    return {"timestamp": pd.Timestamp(at), "namespace": "shop", "workload": workload,
            "pod": f"{workload}-0", "container": "main", "kind": "termination",
            "reason": "OOMKilled", "exit_code": 137, "oom_killed": True, "message": "",
            "source": "test"}


def seeded(root: Path) -> Store:
    """``gone`` ran 2026-11-01..05 only, ``alive`` all month, ``never`` has only a spec,
    ``late`` only an event inside the kept range."""
    st = Store(root)
    gone = usage(1, 5 * 1440, start="2026-11-01T00:00:00Z", ns="shop").assign(workload="gone")
    alive = usage(1, 30 * 1440, start="2026-11-01T00:00:00Z", ns="shop").assign(
        workload="alive")
    specs = pd.DataFrame([spec(w) for w in ("gone", "alive", "never", "late")],
                         columns=model.SPEC_COLUMNS)
    events = pd.DataFrame([event("gone", "2026-11-03T10:00:00Z"),
                           event("alive", "2026-11-02T10:00:00Z"),
                           event("late", "2026-11-29T10:00:00Z")], columns=model.EVENT_COLUMNS)
    events["exit_code"] = events["exit_code"].astype("Int64")
    st.append(Collected(usage=pd.concat([gone, alive], ignore_index=True), specs=specs,
                        events=events))
    return st


def test_prune_drops_days_events_and_the_specs_of_containers_that_left(tmp_path: Path) -> None:
    st = seeded(tmp_path)
    rep = retention.prune(st, 7, NOW)
    assert rep.cutoff == "2026-11-23"
    assert st.days()[0] == "2026-11-23" and st.days()[-1] == "2026-11-30"
    assert rep.days == 22 and rep.events == 2 and rep.specs == 1
    assert sorted(st.read_specs()["workload"]) == ["alive", "late", "never"]
    assert list(st.read_events()["workload"]) == ["late"]
    assert set(st.read_usage()["workload"]) == {"alive"}
    again = retention.prune(st, 7, NOW)
    assert (again.days, again.events, again.specs) == (0, 0, 0)


def test_a_day_left_without_its_manifest_is_absent_and_removed_by_the_next_prune(
        tmp_path: Path) -> None:
    st = seeded(tmp_path)
    half = tmp_path / "usage" / "day=2026-11-02"
    (half / "manifest.json").unlink()  # where a SIGKILL between the two steps leaves it
    assert "2026-11-02" not in st.days() and any(half.iterdir())
    retention.prune(st, 7, NOW)
    assert not half.exists()


def test_status_counts_what_the_store_holds_from_manifests_and_key_columns(
        tmp_path: Path) -> None:
    st = seeded(tmp_path)
    inventory.record_collection(st, "docker", NOW, samples=10, events=2)
    inventory.record_collection(st, "import", NOW + pd.Timedelta(hours=1), samples=5, events=0)
    s = inventory.status(st)
    assert (s.containers, s.days, s.first_day, s.last_day) == (2, 30, "2026-11-01", "2026-11-30")
    assert s.samples == len(st.read_usage()) == 35 * 1440
    assert s.specs == 4 and s.events == 3
    assert s.bytes_on_disk == sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert s.last_collection["docker"] == {"at": "2026-11-30T12:00:00Z", "samples_added": 10,
                                           "events_added": 2}
    assert s.last_collection["import"]["at"] == "2026-11-30T13:00:00Z"
