"""A chunk of samples as typed columns, before any frame is made of it.

A canonical Parquet row group already holds what validation would make of it: times as
integers, names as a dictionary and its indices, numbers as float64.  When the caller can
take that (``recommend --from`` of a whole file), the reader hands the columns out as they
are, and the compiled pass (:mod:`quotatune.rollup.scan`) checks and rolls them up in one
go; :meth:`UsageColumns.frame` gives the validated frame the other paths take, with the
same values and the same errors (docs/architecture.md, "The compiled pass").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from quotatune.model.nametext import (
    TARGET_PARTS,
    UNSAFE,
    UNSAFE_ASCII,
    UNSAFE_ASCII_IN_TARGET_PART,
    UNSAFE_IN_TARGET_PART,
)


@dataclass
class UsageColumns:
    """``ts``: the times as integers in units of ``scale`` nanoseconds (UTC); ``names``:
    each name column as its codes (int32, none missing) and its names (distinct, valid as
    validation wants them); ``numbers``: each float column (``cpu_cores`` and
    ``memory_working_set_bytes`` are there), and for one with nulls, ``valid`` holds Arrow's
    validity bitmap and its first bit (a null reads as NaN; its slot in ``numbers`` holds
    anything); ``frame``: the validated frame of the same
    rows, which raises the :class:`quotatune.model.InputError` validation raises;
    ``source`` and ``row_offset`` name the file and its first row here."""

    ts: np.ndarray
    scale: int
    names: dict[str, tuple[np.ndarray, pd.Index]]
    numbers: dict[str, np.ndarray]
    frame: Callable[[], pd.DataFrame]
    source: str
    row_offset: int
    valid: dict[str, tuple[np.ndarray, int]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ts)


def names_as_given(names: pd.Index, column: str) -> bool:
    """Whether a name column of these (distinct) names needs nothing of validation: none
    holds what no name may (:mod:`quotatune.model.nametext`); and none blank in
    ``namespace`` or ``container``, none empty in ``workload`` (derived from the pod's name
    there).  Otherwise the chunk is made a frame, and validation fills, derives or reports
    what it must."""
    if not len(names):
        return True
    text = [str(v) for v in names.tolist()]
    # One search over all the names (a name cannot hide such a character in the join):
    # pandas' string methods cost a millisecond a chunk for a few dozen names.
    joined = "".join(text)
    part = column in TARGET_PARTS
    unsafe = ((UNSAFE_ASCII_IN_TARGET_PART if part else UNSAFE_ASCII) if joined.isascii()
              else UNSAFE_IN_TARGET_PART if part else UNSAFE)
    if unsafe.search(joined):
        return False
    if column in ("namespace", "container"):
        return all(v.strip() for v in text)
    if column == "workload":
        return "" not in text
    return True
