"""The ``--from`` overlap check numbers each pod from its names' category codes: distinct
pods get distinct numbers, equal pods equal ones, so also when the codes must be renumbered
to fit 64 bits; and it keys the spans it keeps by a hash of the names that is the same in
every chunk whatever its categories, a missing name hashing as "" (as validation fills it)
instead of borrowing another category's name."""

from __future__ import annotations

import numpy as np
import pandas as pd

from quotatune.rollup.namehash import POD_KEY, name_columns, name_hashes
from quotatune.rollup.spans import pod_codes


def frame(rows: list[tuple[str | None, ...]], extra: int = 0) -> pd.DataFrame:
    cols = {}
    for i, col in enumerate(POD_KEY):
        values = [r[i] for r in rows]
        unused = [f"{col}-unused-{k}" for k in range(extra)]
        cats = sorted({v for v in values if v is not None}) + unused
        cols[col] = pd.Categorical(values, categories=cats)
    return pd.DataFrame(cols)


ROWS: list[tuple[str | None, ...]] = [
    ("shop", "web", "web-1", "app"),
    ("shop", "web", None, "app"),
    ("shop", None, "web-1", "app"),
    ("shop", "web", "web-2", "app"),
    ("shop", "web", None, "app"),
]
WANT = [("shop", "web", "web-1", "app"), ("shop", "web", "", "app"),
        ("shop", "", "web-1", "app"), ("shop", "web", "web-2", "app"),
        ("shop", "web", "", "app")]


def hashes(rows: list[tuple[str | None, ...]], extra: int = 0) -> list[int]:
    return name_hashes(name_columns(frame(rows, extra), POD_KEY), np.arange(len(rows))).tolist()


def test_pods_are_numbered_apart_and_hashed_with_missing_names_empty() -> None:
    columns = name_columns(frame(ROWS), POD_KEY)
    code = pod_codes(columns)
    assert hashes(ROWS) == hashes(WANT)  # type: ignore[arg-type]
    assert len(set(hashes(ROWS))) == 4
    assert len(np.unique(code)) == 4 and code[1] == code[4]
    assert pod_codes(columns, rows=np.array([4, 0])).tolist() == [code[4], code[0]]


def test_so_too_when_the_codes_are_renumbered_to_fit() -> None:
    # 2^16 categories in each of four columns: their product passes 2^62.
    columns = name_columns(frame(ROWS, extra=1 << 16), POD_KEY)
    code = pod_codes(columns)
    assert hashes(ROWS, extra=1 << 16) == hashes(WANT)  # type: ignore[arg-type]
    assert len(np.unique(code)) == 4 and code[1] == code[4]


def test_a_pods_hash_does_not_depend_on_the_chunks_other_names() -> None:
    # Another chunk: other pods first, so every name has another category code.
    other = [("batch", "job", "job-7", "main"), *reversed(ROWS)]
    assert hashes(other)[1:] == list(reversed(hashes(ROWS)))
    assert hashes(other)[0] not in hashes(ROWS)
