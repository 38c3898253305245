"""Rollup rows with their list columns held flat.

A rollup row's hourly peaks and histograms are arrays of their own; a frame holds one array
object per row and list column.  Pieces that are merged as soon as they are made (a stream of
a CronJob's pods, folded per container every 50,000 pods) spent most of their time making
those objects and joining them again.  Held flat, a list column is its values end to end and
each row's offsets (:class:`Flat`), and rows are concatenated, reordered and merged
(:mod:`quotatune.rollup.merge`) with a few array operations; :meth:`FlatRows.framed` makes
the objects once, for the rows that remain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

# The list columns of a rollup row and the dtype of their values.
LIST_DTYPES = {"mem_hour_max": "float64", "cpu_b": "int16", "cpu_c": "int32",
               "cpu_w": "float64", "mem_b": "int16", "mem_c": "int32", "mem_w": "float64"}


class Flat(tuple[np.ndarray, np.ndarray]):
    """A list column as its values end to end and each row's offsets into them (n + 1)."""

    @classmethod
    def of(cls, arrays: Sequence[np.ndarray] | np.ndarray, dtype: str) -> Flat:
        """The column of one array per row, flat."""
        lengths = np.fromiter(map(len, arrays), dtype="int64", count=len(arrays))
        values = np.concatenate([np.empty(0, dtype), *arrays]).astype(dtype, copy=False)
        return cls((values, np.r_[0, np.cumsum(lengths)]))

    @classmethod
    def joined(cls, parts: Sequence[Flat]) -> Flat:
        """The rows of ``parts``, one after the other."""
        shifts = np.cumsum([0, *(int(p[1][-1]) for p in parts[:-1])])
        return cls((np.concatenate([p[0] for p in parts]),
                    np.concatenate([np.zeros(1, "int64"),
                                    *(p[1][1:] + s for p, s in zip(parts, shifts, strict=True))])))

    def take(self, rows: np.ndarray) -> Flat:
        """The lists of ``rows``, in that order."""
        at, out = _gather(self[1], rows)
        return Flat((self[0][at], out))

    def lists(self) -> pd.Series:
        """One array per row (an object column: Parquet stores it as a list column)."""
        values, offsets = self
        bounds = offsets.tolist()
        return pd.Series([values[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)],
                         dtype=object)


@dataclass
class FlatRows:
    """Rollup rows: ``lists`` holds list columns flat, ``frame`` every other column (a list
    column there is one the rows leave empty, the same array object each row); ``columns``
    is the order of all of them."""

    frame: pd.DataFrame
    lists: dict[str, Flat]
    columns: list[str]

    def __len__(self) -> int:
        return len(self.frame)

    @classmethod
    def of(cls, rollups: pd.DataFrame) -> FlatRows:
        """A frame's rows, its list columns taken flat."""
        lists = {c: Flat.of(rollups[c].to_numpy(), dtype)
                 for c, dtype in LIST_DTYPES.items() if c in rollups.columns}
        return cls(rollups.drop(columns=list(lists)).reset_index(drop=True), lists,
                   list(rollups.columns))

    @classmethod
    def joined(cls, parts: Sequence[FlatRows]) -> FlatRows:
        """The rows of ``parts`` (of the same columns), one after the other."""
        if len(parts) == 1:
            return parts[0]
        lists: dict[str, Flat] = {}
        offsets: dict[tuple[int, ...], np.ndarray] = {}  # columns that share their offsets
        for c in parts[0].lists:
            flats = [p.lists[c] for p in parts]
            key = tuple(id(f[1]) for f in flats)
            if key not in offsets:
                offsets[key] = Flat.joined(flats)[1]
            lists[c] = Flat((np.concatenate([f[0] for f in flats]), offsets[key]))
        return cls(pd.concat([p.frame for p in parts], ignore_index=True), lists,
                   parts[0].columns)

    def take(self, rows: np.ndarray) -> FlatRows:
        """The rows at ``rows``, in that order."""
        if len(rows) == len(self) and (rows == np.arange(len(rows))).all():
            return self
        gathers: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # per offsets shared
        lists = {}
        for c, (values, offsets) in self.lists.items():
            if id(offsets) not in gathers:
                gathers[id(offsets)] = _gather(offsets, rows)
            at, out = gathers[id(offsets)]
            lists[c] = Flat((values[at], out))
        return FlatRows(self.frame.iloc[rows].reset_index(drop=True), lists, self.columns)

    def framed(self) -> pd.DataFrame:
        """The rows as a frame, one array per row and list column."""
        lists = {col: flat.lists().to_numpy() for col, flat in self.lists.items()}
        # One frame of the columns as they are, in order: assigning the lists to a copy and
        # then reordering it cost a quarter more, per chunk of a stream.
        return pd.DataFrame({c: lists[c] if c in lists else self.frame[c].array
                             for c in self.columns}, copy=False)


def _gather(offsets: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the values of ``rows`` lie (lists at ``offsets``), in that order, and the
    offsets of the lists taken."""
    lengths = (offsets[1:] - offsets[:-1])[rows]
    out = np.r_[0, np.cumsum(lengths)]
    return np.repeat(offsets[:-1][rows] - out[:-1], lengths) + np.arange(out[-1]), out
