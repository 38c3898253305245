"""An OOM kill's limit when the store's rollups are read folded per container and day.

The store keeps no limit with the kill event: the limit in force is looked up in the rollups.
Read folded, a day's row holds only its newest pod's limit, which may have been raised after
the kill; the floor must grow from the limit the killed pod had, or every applied
recommendation would raise the next one (a ratchet)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from quotatune.analysis.oom import oom_limits
from quotatune.analysis.recommend import recommend
from quotatune.model import Target, validate_usage
from quotatune.model.collected import Collected
from quotatune.pipelines.backtest import load_history
from quotatune.pipelines.importing import import_into_store
from quotatune.pipelines.inputs import load_inputs, open_store
from quotatune.pipelines.recommend import from_files, from_store
from quotatune.pipelines.stored import open_stored, recommendations
from quotatune.pipelines.streaming import rollups_from_files
from quotatune.rollup.currents import PodCurrents
from quotatune.rollup.namehash import pod_hashes
from quotatune.rollup.sketch import daily_rollup

MIB = 1 << 20
T = pd.Timestamp("2026-11-20T00:00:00Z")


def pod(name: str, start_h: int, end_h: int, limit_mib: int) -> pd.DataFrame:
    ts = pd.date_range(T + pd.Timedelta(hours=start_h), T + pd.Timedelta(hours=end_h),
                       freq="1min", inclusive="left")
    return pd.DataFrame({"timestamp": ts, "namespace": "shop", "workload": "web",
                         "container": "app", "pod": name, "cpu_cores": 0.1,
                         "memory_working_set_bytes": 300.0 * MIB,
                         "memory_limit_bytes": limit_mib * MIB * 1.0})


def test_the_floor_grows_from_the_killed_pods_limit_not_the_days_newest(
        tmp_path: Path) -> None:
    """Killed at 05:00 with 400 MiB; at 12:00 the same day a pod with 800 MiB replaces it
    (the names sort the killed pod last, so no row order can hide a wrong lookup)."""
    usage = validate_usage(pd.concat([pod("web-7c9f-zz9", 0, 12, 400),
                                      pod("web-7c9f-aa1", 12, 72, 800)]), "test")
    kill = oom_kill(T + pd.Timedelta(hours=5), "web", "web-7c9f-zz9")
    root = tmp_path / "store"
    open_store(root).append(Collected(usage=usage, events=kill))
    for strategy in ("tail", "krr-oom"):
        recs, _ = from_store(root, Target(), strategy)
        oom = [r for r in recs[0].reasons if "OOM" in r]
        assert len(oom) == 1 and "400 MiB" in oom[0] and "800 MiB" not in oom[0], \
            (strategy, oom)
    tail, _ = from_store(root, Target(), "tail")
    assert tail[0].memory_limit_mib == 500  # 400 MiB + the 100 MiB step, not 800 x 1.2


def oom_kill(at: pd.Timestamp, workload: str, pod_name: str) -> pd.DataFrame:
    """An OOMKilled event of container app of ``pod_name``."""
    return pd.DataFrame({"timestamp": [at], "namespace": "shop", "workload": workload,
                         "pod": pod_name, "container": "app", "reason": "OOMKilled",
                         "oom_killed": True})


def killed_pod_list(path: Path) -> Path:
    """``kubectl get pods -o json`` of the killed pod: OOMKilled at 05:00, its samples in the
    files starting only after (so none says the limit at the kill)."""
    status = {"name": "app", "ready": True, "restartCount": 1,
              "state": {"running": {"startedAt": "2026-11-20T05:30:00Z"}},
              "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                                           "startedAt": "2026-11-20T00:00:00Z",
                                           "finishedAt": "2026-11-20T05:00:00Z"}}}
    item = {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-7c9f-zz9", "namespace": "shop",
                         "creationTimestamp": "2026-11-20T00:00:00Z",
                         "ownerReferences": [{"kind": "ReplicaSet", "name": "web-7c9f"}]},
            "spec": {"containers": [{"name": "app", "image": "x", "resources": {}}]},
            "status": {"phase": "Running", "containerStatuses": [status]}}
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [item]}))
    return path


def test_from_files_folded_the_floor_grows_from_the_killed_pods_limit(tmp_path: Path) -> None:
    """``--from`` folds the pods of a day as it streams; the killed pod's own limit is kept
    aside for the kill, so the floor is 400 MiB x 1.25, as per-pod rollups give it."""
    samples = tmp_path / "usage.csv"
    # The pod list names the workload after the ReplicaSet (a short hash is kept).
    pd.concat([pod("web-7c9f-zz9", 5, 12, 400), pod("web-7c9f-aa1", 12, 72, 800)]).assign(
        timestamp=lambda d: d["timestamp"] + pd.Timedelta(minutes=30),
        workload="web-7c9f").to_csv(samples, index=False)
    files = [samples, killed_pod_list(tmp_path / "pods.json")]
    for strategy in ("tail", "krr-oom"):
        recs, _ = from_files(files, None, Target(), strategy, [], [])
        oom = [r for r in recs[0].reasons if "OOM" in r]
        assert len(oom) == 1 and "400 MiB" in oom[0] and "800 MiB" not in oom[0], \
            (strategy, oom)
    tail, _ = from_files(files, None, Target(), "tail", [], [])
    assert tail[0].memory_limit_mib == 500


def test_a_kill_of_a_pod_without_rows_reads_the_newest_pods_limit_however_listed(
        tmp_path: Path) -> None:
    """The killed pod has no rows, and no sample says the limit at the kill (the samples
    start after it); two pods then live the day through, both last seen at its end, with
    400 and 600 MiB.  The limit known at the day's end is the one of the pod whose names
    hash larger (the tie rule of every path), whichever pod the input lists first and
    whether the files are streamed or imported into the store."""
    names = ["web-7c9f-aa1", "web-7c9f-bb2"]
    both = [pod(names[0], 5, 48, 400), pod(names[1], 5, 48, 600)]
    keys = pd.DataFrame({"namespace": "shop", "workload": "web-7c9f", "pod": names,
                         "container": "app"})
    want = (400, 600)[int(pod_hashes(keys).argmax())]
    kill = oom_kill(T + pd.Timedelta(hours=5), "web-7c9f", "web-7c9f-zz9")
    floors: dict[str, set[str]] = {"tail": set(), "krr-oom": set()}
    for i, listed in enumerate((both, both[::-1])):
        usage = pd.concat(listed).assign(
            timestamp=lambda d: d["timestamp"] + pd.Timedelta(minutes=30), workload="web-7c9f")
        samples = tmp_path / f"usage{i}.csv"
        usage.to_csv(samples, index=False)
        files = [samples, killed_pod_list(tmp_path / "pods.json")]
        root = tmp_path / f"store{i}"
        open_store(root).append(Collected(usage=validate_usage(usage, "test"), events=kill))
        for strategy, reasons in floors.items():
            for recs, _ in (from_files(files, None, Target(), strategy, [], []),
                            from_store(root, Target(), strategy)):
                reasons.update(r for r in recs[0].reasons if "OOM" in r)
    other = 1000 - want
    for reasons in floors.values():
        [reason] = reasons
        assert f"{want} MiB" in reason and f"{other} MiB" not in reason, reason


def test_a_streams_limit_rows_break_a_tie_with_the_killed_pod_as_the_stores_rows_do() -> None:
    """The stream's limit rows name only the killed pod (the others read ""), so the tie
    between the killed pod and another, both last seen at 23:50 the day before the kill, is
    broken by the hashes the rows carry, not by the hash of a blanked name."""
    def keys(pods: list[str]) -> pd.DataFrame:
        return pd.DataFrame({"namespace": "shop", "workload": "web", "pod": pods,
                             "container": "app"})

    blank = pod_hashes(keys([""]))[0]
    killed, other = next((k, o) for i in range(1000) for k, o in [(f"web-k{i}", "web-o")]
                         if pod_hashes(keys([o]))[0] > pod_hashes(keys([k]))[0] > blank)

    def samples(name: str, times: list[str], mib: float) -> pd.DataFrame:
        return pd.DataFrame({"timestamp": pd.to_datetime(times, utc=True), "namespace": "shop",
                             "workload": "web", "pod": name, "container": "app",
                             "cpu_cores": 0.1, "memory_working_set_bytes": 1e8,
                             "memory_limit_bytes": mib * MIB})

    usage = validate_usage(pd.concat([
        samples(killed, ["2026-11-19T20:00", "2026-11-19T23:50"], 400),
        samples(other, ["2026-11-19T20:00", "2026-11-19T23:50", "2026-11-20T06:00"], 600)]),
        "test")
    rollups = daily_rollup(usage)
    kills = pd.DataFrame({"timestamp": [pd.Timestamp("2026-11-20T00:05Z")],
                          "namespace": "shop", "workload": "web", "pod": killed,
                          "container": "app"})
    currents = PodCurrents()
    currents.add(rollups)
    stream = oom_limits(kills, None, currents.limit_rows(kills))
    store = oom_limits(kills, None, rollups)
    assert stream.tolist() == store.tolist() == [600 * MIB]


def test_files_that_interleave_a_pods_samples_give_the_limit_at_the_kill(
        tmp_path: Path) -> None:
    """Two files (an HA pair's exports) interleave the killed pod's samples: 600 MiB at
    04:57, 04:59 and 05:01 in one, 400 MiB at 04:58 in the other.  At the 05:00 kill its
    limit was 600 (its 04:59 sample), as the samples merged say, not the changes each file
    shows on its own."""
    def at(minutes: list[int], mib: int) -> pd.DataFrame:
        return pod("web-7c9f-zz9", 0, 6, mib).iloc[minutes].assign(workload="web-7c9f")

    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    base = 4 * 60 + 57  # 04:57, in minutes since midnight
    at([base, base + 2, base + 4], 600).to_csv(first, index=False)
    at([base + 1], 400).to_csv(second, index=False)
    files = [first, second, killed_pod_list(tmp_path / "pods.json")]
    for fold in (False, True):
        for order in (files, [second, first, files[2]]):
            got = rollups_from_files(order, None, Target(), fold=fold)
            kills = got.events[got.events["reason"] == "OOMKilled"]
            assert (kills["limit_at_oom"] / MIB).tolist() == [600], (fold, order)


def test_a_sample_repeated_with_another_limit_gives_one_answer_in_any_file_order(
        tmp_path: Path) -> None:
    """The 04:59 sample is in both files, at 600 MiB in one and 400 in the other: whichever
    file comes first, the limit at the 05:00 kill is the one a whole frame gives (of one
    instant's two limits, the larger)."""
    def at(minutes: list[int], mib: int) -> pd.DataFrame:
        return pod("web-7c9f-zz9", 0, 6, mib).iloc[minutes].assign(workload="web-7c9f")

    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    at([297, 299], 600).to_csv(first, index=False)
    at([299], 400).to_csv(second, index=False)
    pods_json = killed_pod_list(tmp_path / "pods.json")
    for order in ([first, second], [second, first]):
        got = rollups_from_files([*order, pods_json], None, Target())
        kills = got.events[got.events["reason"] == "OOMKilled"]
        assert (kills["limit_at_oom"] / MIB).tolist() == [600], order


def test_a_limit_changed_in_place_after_the_kill_counts_at_the_kill_on_every_path(
        tmp_path: Path) -> None:
    """One pod, killed at 05:00 with 400 MiB; at 12:00 its limit is raised in place to 800
    (``docker update``, an in-place pod resize).  A day's rollup keeps only the pod's last
    limit, 800: the store reads the limit at the kill from the killed container's samples,
    as ``--from`` and a whole frame do, for ``recommend``, the report's and plan's
    recommendations and the backtest's history alike."""
    usage = pd.concat([pod("web-7c9f-zz9", 5, 12, 400), pod("web-7c9f-zz9", 12, 72, 800)]
                      ).assign(timestamp=lambda d: d["timestamp"] + pd.Timedelta(minutes=30),
                               workload="web-7c9f")
    samples = tmp_path / "usage.csv"
    usage.to_csv(samples, index=False)
    files = [samples, killed_pod_list(tmp_path / "pods.json")]
    root = tmp_path / "store"
    import_into_store(files, None, root, None)
    for strategy in ("tail", "krr-oom"):
        whole = load_inputs(files, None, None, Target())
        got = {"whole frame": recommend(whole.usage, whole.specs, whole.events,
                                        strategy=strategy),
               "--from": from_files(files, None, Target(), strategy, [], [])[0],
               "--store": from_store(root, Target(), strategy)[0],
               "report/plan": recommendations(open_stored(root, Target()), strategy)}
        for path, recs in got.items():
            oom = [r for r in recs[0].reasons if "OOM" in r]
            assert len(oom) == 1 and "400 MiB" in oom[0] and "800 MiB" not in oom[0], \
                (strategy, path, oom)
            assert recs[0].memory_limit_mib == 500, (strategy, path)
    for path, history in (("backtest --from", load_history(files, None, None, ["tail"])),
                          ("backtest --store", load_history([], None, root, ["tail"]))):
        kills = history.events[history.events["reason"] == "OOMKilled"]
        assert (kills["limit_at_oom"] / MIB).tolist() == [400], path


def test_krr_from_the_store_reads_its_window_and_answers_as_the_whole_frame(
        tmp_path: Path) -> None:
    """KRR sizes from the 14 days before each container's newest sample; the store reads
    only the days some container's window holds (here from day 11: "short" ends on day 26,
    "long" on day 40, each with its own window), and answers as the whole frame does, also
    with a kill on day 3, before every window (KRR's OOM query does not look back so far)."""
    def series(workload: str, first: int, last: int, mib: float) -> pd.DataFrame:
        ts = pd.date_range(T + pd.Timedelta(days=first), T + pd.Timedelta(days=last),
                           freq="30min", inclusive="left")
        return pd.DataFrame({"timestamp": ts, "namespace": "shop", "workload": workload,
                             "container": "app", "pod": f"{workload}-0",
                             "cpu_cores": 0.1 + (np.arange(len(ts)) % 7) / 100 + first / 50,
                             "memory_working_set_bytes": mib * MIB,
                             "memory_limit_bytes": 900.0 * MIB})
    usage = validate_usage(pd.concat([series("long", 0, 40, 300), series("short", 6, 26, 200)]),
                           "test")
    kill = oom_kill(T + pd.Timedelta(days=3), "long", "long-0")
    root = tmp_path / "store"
    open_store(root).append(Collected(usage=usage, events=kill))
    for strategy in ("krr", "krr-oom"):
        stored, _ = from_store(root, Target(), strategy)
        whole = recommend(usage, None, kill, strategy=strategy)
        assert [r.to_dict() for r in stored] == [r.to_dict() for r in whole], strategy
        assert {r.workload: r.history_hours for r in stored} == {"long": 15 * 24 - 0.5,
                                                               "short": 15 * 24 - 0.5}
