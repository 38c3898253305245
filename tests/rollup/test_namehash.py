"""A pod's name hash breaks ties between pods last seen at the same moment, so it must be
the same in every run: Python's own string hash is salted per process, this one is not."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd

from quotatune.rollup.namehash import pod_hashes, text_hashes

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
