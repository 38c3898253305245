"""64-bit hashes of names that are the same in every chunk, every run and every machine.

A stream keys each pod by a hash of its names, and a tie between pods last seen at the same
moment goes to the pod of the larger hash (docs/architecture.md, "The flow"): whichever way
the input arrives (one frame, files in any order and cut anywhere, or the store, which sorts
each day), the same pod wins.  Python's own ``hash`` of a string changes from run to run;
pandas' ``hash_array`` hashes the names' bytes under a fixed key, in C, each distinct name
once.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

POD_KEY = ["namespace", "workload", "pod", "container"]  # the order a pod's hash takes them in
NameColumn = tuple[np.ndarray, np.ndarray]  # a column's codes; its names' hashes by code + 1
_MIX = np.uint64(0x9E3779B97F4A7C15)  # an odd 64-bit constant: spreads one hash into the next


def text_hashes(values: Any) -> np.ndarray:
    """A 64-bit hash (int64) of each name of ``values`` (a sequence or Index of names, read
    as text).  Names that hash alike are taken for one: at 64 bits, not to be met among a
    fleet's pods."""
    names = pd.Index(values)
    if not pd.api.types.is_string_dtype(names.dtype) or isinstance(
            names.dtype, pd.CategoricalDtype):
        names = names.astype(str)
    vals = names.to_numpy() if names.dtype == object else names.array
    return np.asarray(pd.util.hash_array(vals, categorize=False)).view("int64")


_EMPTY = text_hashes([""])
_recent: dict[int, tuple[weakref.ref[pd.Index], np.ndarray]] = {}


def name_columns(frame: pd.DataFrame, cols: Sequence[str]) -> list[NameColumn]:
    """Each of ``cols`` as integer codes (-1: missing) and the hashes of its names by code
    shifted by one, the hash of "" first (a missing name reads as "", as validation fills
    it)."""
    out = []
    for col in cols:
        s = frame[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes, uniq = s.array.codes, s.cat.categories
        else:
            codes, uniq = pd.factorize(s)
        out.append((np.asarray(codes), category_hashes(uniq)))
    return out


def category_hashes(names: pd.Index) -> np.ndarray:
    """``names``' hashes, "" first.  A chunk's categories are shared by the frames cut from
    it (its pods' rollups, its limit changes, its overlap check): hashed once for all, a
    cache of plain values while that Index lives, not a state that changes any answer."""
    key = id(names)
    hit = _recent.get(key)
    if hit is not None and hit[0]() is names:
        return hit[1]
    out = np.r_[_EMPTY, text_hashes(names)]
    for k, (ref, _) in list(_recent.items()):  # the reader thread hashes too: no del
        if ref() is None:
            _recent.pop(k, None)
    if len(_recent) < 64:
        _recent[key] = (weakref.ref(names), out)
    return out


def name_hashes(columns: Sequence[NameColumn], rows: np.ndarray) -> np.ndarray:
    """A 64-bit hash (int64) of the names of ``rows`` over ``columns``
    (:func:`name_columns`)."""
    key = np.zeros(len(rows), dtype="uint64")
    for codes, hashes in columns:
        key *= _MIX  # wraps around, as a hash should
        key ^= hashes.view("uint64")[codes[rows] + 1]
    return key.view("int64")


def frame_hashes(frame: pd.DataFrame, cols: Sequence[str]) -> np.ndarray:
    """:func:`name_hashes` of every row of ``frame`` over ``cols``."""
    return name_hashes(name_columns(frame, cols), np.arange(len(frame)))


def newest_last(keys: Sequence[np.ndarray], hashes: Callable[[], np.ndarray]) -> np.ndarray:
    """The order of ``keys`` (as ``np.lexsort`` takes them: the last key sorts first), rows
    equal in every key in the order of ``hashes()`` (their pods' :func:`pod_hashes`): of
    pods last seen at the same time, the same one comes last in any row order.  The hashes
    are asked for only when such ties exist (a CronJob's pods seldom tie; the replicas of
    a Deployment scraped at one instant do)."""
    order = np.lexsort(keys)
    if len(order) < 2:
        return order
    tied = np.ones(len(order) - 1, dtype=bool)
    for k in keys:
        s = k[order]
        tied &= s[1:] == s[:-1]
    return np.lexsort((hashes(), *keys)) if tied.any() else order


def pod_hashes(frame: pd.DataFrame) -> np.ndarray:
    """:func:`name_hashes` of every row's :data:`POD_KEY` (a column ``frame`` lacks reads as
    ""): the key of a pod, and of ties between pods."""
    none = (np.full(len(frame), -1), _EMPTY)
    columns = [name_columns(frame, [c])[0] if c in frame.columns else none for c in POD_KEY]
    return name_hashes(columns, np.arange(len(frame)))


class HashIds:
    """Ids numbered in order of first sight for names given as :func:`name_hashes` (one per
    distinct name), in two sorted arrays: a dict of name tuples cost about 430 bytes a pod
    (the report of a month of 1.7 M CronJob pods: 2.65 -> 1.90 GB peak), these cost 16.
    Names that hash alike are one name, as everywhere here (:func:`text_hashes`)."""

    def __init__(self) -> None:
        self._keys = np.empty(0, dtype="int64")
        self._ids = np.empty(0, dtype="int64")

    def __len__(self) -> int:
        return len(self._keys)

    def __call__(self, hashes: np.ndarray) -> np.ndarray:
        """The id of each hash, new hashes numbered on in the order they come."""
        hashes = np.asarray(hashes, dtype="int64")
        at = np.minimum(np.searchsorted(self._keys, hashes), max(len(self._keys) - 1, 0))
        found = (self._keys[at] == hashes) if len(self._keys) else np.zeros(len(hashes), bool)
        out = np.empty(len(hashes), dtype="int64")
        out[found] = self._ids[at[found]]
        new = np.flatnonzero(~found)
        if len(new):
            uniq, first, inverse = np.unique(hashes[new], return_index=True,
                                             return_inverse=True)
            ids = np.empty(len(uniq), dtype="int64")
            ids[np.argsort(first, kind="stable")] = len(self._keys) + np.arange(len(uniq))
            out[new] = ids[inverse]
            place = np.searchsorted(self._keys, uniq)
            self._keys = np.insert(self._keys, place, uniq)
            self._ids = np.insert(self._ids, place, ids)
        return out
