"""Quantiles of each container's histogram of counts, compiled (``quantpass.c``;
docs/architecture.md, "The compiled pass").

:func:`quotatune.analysis.summary.percentile_values` of counts builds a dense row of every
bucket per container, a block of containers at a time, and searches its cumulative shares
(or, for rows of few buckets, sorts their entries).  The compiled search walks each
container's non-empty buckets instead and gives the same buckets and fractions, value for
value (the arithmetic is the same, operation for operation); the bucket bounds and the
interpolation between them stay in numpy, shared.  For 5,000 containers of a week of
1-minute samples: 0.15 s of ``recommend``'s serial tail, and dense blocks of 16 MiB, become
a few hundredths.  Without the compiled module (no C compiler at install)
:data:`AVAILABLE` is False and the numpy paths run.
"""

from __future__ import annotations

import numpy as np

try:
    from quotatune.analysis import quantpass  # type: ignore[attr-defined]
except ImportError:  # built without a C compiler: the numpy paths
    quantpass = None

AVAILABLE = quantpass is not None


def bucket_fractions(order: np.ndarray, bounds: np.ndarray, offsets: np.ndarray,
                     buckets: np.ndarray, counts: np.ndarray, nbuckets: int, step: int,
                     qs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Per container (its rollup rows ``order[bounds[i]:bounds[i + 1]]``, each row's lists
    ``offsets[r]:offsets[r + 1]`` of ``buckets`` and ``counts``) and quantile: the bucket
    the quantile falls in and the fraction of the way into it, as the dense search finds
    them with each container at its place in a block of ``step`` rows; and each
    container's total count.  None where the search cannot answer as the dense one would:
    no compiled module, lists not of the stored types (int16 buckets, int32 counts), a
    bucket out of range, or a quantile outside (0, 1] or so close to 0 that the dense
    search, offset by the row, would reach into the row before."""
    qs = np.ascontiguousarray(qs, dtype="float64")
    if quantpass is None or buckets.dtype != np.int16 or counts.dtype != np.int32 \
            or not len(qs) or not ((qs > 0) & (qs <= 1)).all() \
            or not (step - 1) + float(qs.min()) > step - 1:
        return None
    got = quantpass.quantiles(np.ascontiguousarray(order, dtype="int64"),
                              np.ascontiguousarray(bounds, dtype="int64"),
                              np.ascontiguousarray(offsets, dtype="int64"),
                              np.ascontiguousarray(buckets), np.ascontiguousarray(counts),
                              int(nbuckets), int(step), qs)
    if got is None:
        return None
    n = len(bounds) - 1
    b, frac, total = got
    return (np.frombuffer(b, dtype="int64").reshape(n, len(qs)),
            np.frombuffer(frac, dtype="float64").reshape(n, len(qs)),
            np.frombuffer(total, dtype="float64"))
