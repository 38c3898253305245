"""A pod's name hash breaks ties between pods last seen at the same moment, so it must be
the same in every run: Python's own string hash is salted per process, this one is not."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd

from quotatune.rollup.namehash import HashIds, pod_hashes, text_hashes

NAMES = ["", "web-7c9f-aa1", "web-7c9f-zz9", "ü-node", "x" * 253]


def hashes_in_a_new_process(seed: str) -> list[int]:
    code = ("from quotatune.rollup.namehash import text_hashes; "
            f"print(text_hashes({NAMES!r}).tolist())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONHASHSEED": seed})
    return [int(v) for v in out.stdout.strip()[1:-1].split(",")]


def test_the_same_names_hash_alike_in_every_process() -> None:
    here = text_hashes(NAMES).tolist()
    assert hashes_in_a_new_process("1") == hashes_in_a_new_process("2") == here
    assert len(set(here)) == len(NAMES)


def test_a_name_hashes_alike_whatever_holds_it() -> None:
    want = text_hashes(["web-1", "web-2"])
    for values in (pd.Index(["web-1", "web-2"], dtype=object),
                   pd.Index(["web-1", "web-2"], dtype="str"),
                   pd.CategoricalIndex(["web-1", "web-2"]),
                   np.array(["web-1", "web-2"])):
        np.testing.assert_array_equal(text_hashes(values), want)


def test_a_pods_hash_reads_a_missing_name_or_column_as_empty() -> None:
    full = pd.DataFrame({"namespace": ["shop"], "workload": [""], "pod": ["web-1"],
                         "container": ["app"]})
    missing = full.assign(workload=[None])
    without = full.drop(columns="workload")
    assert pod_hashes(full).tolist() == pod_hashes(missing).tolist() \
        == pod_hashes(without).tolist()
    assert pod_hashes(full).tolist() != pod_hashes(full.assign(pod=["web-2"])).tolist()


def test_ids_by_hash_number_names_in_the_order_first_seen_and_keep_them() -> None:
    """Day after day, a pod seen before keeps its id and new pods are numbered on in the
    order they come (as a dict's setdefault numbers them), whatever their hashes' order."""
    ids = HashIds()
    day1 = pod_hashes(pd.DataFrame({"namespace": "shop", "workload": "web", "container": "app",
                                    "pod": ["web-c", "web-a", "web-b"]}))
    day2 = pod_hashes(pd.DataFrame({"namespace": "shop", "workload": "web", "container": "app",
                                    "pod": ["web-d", "web-a", "web-e", "web-c"]}))
    assert ids(day1).tolist() == [0, 1, 2]
    assert ids(day2).tolist() == [3, 1, 4, 0]
    assert ids(np.empty(0, dtype="int64")).tolist() == []
    assert len(ids) == 5
    reference: dict[int, int] = {}
    rng = np.random.default_rng(5)
    again = HashIds()
    for _ in range(20):  # against the dict it replaces, on random batches of names
        batch = np.unique(rng.integers(-50, 50, size=rng.integers(0, 30)))
        rng.shuffle(batch)
        want = [reference.setdefault(int(h), len(reference)) for h in batch]
        assert again(batch).tolist() == want
