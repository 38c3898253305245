"""Which pods a stream of chunks has seen and when: the bookkeeping that lets ``--from``
roll files up chunk by chunk and still count a sample repeated across chunks once (see
docs/architecture.md, "The flow")."""

from __future__ import annotations

import numpy as np
import pandas as pd

from quotatune.rollup import runs
from quotatune.rollup.namehash import POD_KEY, NameColumn, name_columns, name_hashes


class Overlap(Exception):
    """A chunk repeats a pod's time span: samples may be duplicated across chunks."""


class PodSpans:
    """Each pod's time span seen so far, in arrays sorted by a 64-bit hash of the pod's
    names: a dict of name tuples cost about 300 bytes a pod, half a GiB for a month of a
    fleet's CronJob pods.  Pods whose names hash alike are taken for one, so at worst an
    overlap is suspected where there is none and the files are read again exactly; an
    overlap is never missed."""

    def __init__(self) -> None:
        self.keys = np.empty(0, dtype="int64")
        self.lo = np.empty(0, dtype="int64")
        self.hi = np.empty(0, dtype="int64")

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, keys: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> bool:
        """Widen the spans by these pods' (one each); False, with nothing changed, if one
        of them is given twice or has a time within the span already seen for it."""
        order = np.argsort(keys, kind="stable")
        k, lo, hi = keys[order], lo[order], hi[order]
        if (k[1:] == k[:-1]).any():
            return False
        at = np.searchsorted(self.keys, k)
        found = np.zeros(len(k), dtype=bool)
        inside = at < len(self.keys)
        found[inside] = self.keys[at[inside]] == k[inside]
        f = at[found]
        if ((lo[found] <= self.hi[f]) & (hi[found] >= self.lo[f])).any():
            return False
        self.lo[f] = np.minimum(self.lo[f], lo[found])
        self.hi[f] = np.maximum(self.hi[f], hi[found])
        new = ~found
        # k is sorted, so inserting at the search positions keeps the keys sorted.
        self.keys = np.insert(self.keys, at[new], k[new])
        self.lo = np.insert(self.lo, at[new], lo[new])
        self.hi = np.insert(self.hi, at[new], hi[new])
        return True


def check_spans(usage: pd.DataFrame, spans: PodSpans) -> np.ndarray | None:
    """Raise :class:`Overlap` if a pod repeats a time within this chunk or has samples
    within the time span already seen for it in earlier chunks; else widen the spans.
    Returns where each pod's rows start when every pod's rows are one run in time order
    (else ``None``)."""
    ts = usage["timestamp"].to_numpy("datetime64[ns]").view("int64")
    columns = name_columns(usage, POD_KEY)
    # The usual export lists each pod's samples together and in time order: then each run of
    # one pod is its span, found in one pass over the rows' name codes (no per-row key is
    # built); anything else is sorted to find equal times.
    change = runs.changes([codes for codes, _ in columns], len(ts))
    starts = np.flatnonzero(change)
    ends = np.r_[starts[1:], len(ts)] - 1
    run_keys = pod_codes(columns, rows=starts)
    pod_runs: np.ndarray | None = None
    if runs.one_run_per_key(run_keys, change, ts, strict=True):
        rows, lo, hi = starts, ts[starts], ts[ends]
        pod_runs = change
    else:
        code = pod_codes(columns)
        order = np.lexsort((ts, code))
        c, t = code[order], ts[order]
        if ((c[1:] == c[:-1]) & (t[1:] == t[:-1])).any():
            raise Overlap
        first = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
        rows, lo, hi = order[first], t[first], t[np.r_[first[1:], len(c)] - 1]
    if not spans.add(name_hashes(columns, rows), lo, hi):
        raise Overlap
    return pod_runs


def pod_codes(columns: list[NameColumn], rows: np.ndarray | None = None) -> np.ndarray:
    """One integer per (namespace, workload, pod, container) of ``rows`` (default: all),
    from the columns' category codes (see :func:`quotatune.rollup.runs.combined`)."""
    return runs.combined([(codes, len(names) - 1) for codes, names in columns], rows)
