"""Merge per-day rollups (:mod:`quotatune.rollup.sketch`) into one history per container.

:class:`History` holds, per container, what every strategy reads: counts, time span, daily
and hourly memory peaks, the current requests/limits, and dense histograms (built lazily,
only for the strategies that need them).  Everything is vectorised over containers so that
10,000 containers cost one pass, not 10,000.

Rollup rows are per pod; a container's history merges its pods' rows (sums, maxima, the
newest current values).  :attr:`History.pods` is the same history one row per pod (container
instance), with the container each belongs to, for the strategies that size from per-pod
facts (the VPA and KRR emulations).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from quotatune.model import KEY_COLUMNS
from quotatune.rollup import sketch

VPA_NBUCKETS = (sketch.NBUCKETS + sketch.FINE - 1) // sketch.FINE


class History:
    """Usage history of a set of containers, merged from rollup rows."""

    def __init__(self, rollups: pd.DataFrame, key: list[str] = KEY_COLUMNS) -> None:
        r = rollups if "pod" in rollups.columns else rollups.assign(pod="")
        keys = pd.MultiIndex.from_frame(r[key].astype(str))
        code, uniq = keys.factorize(sort=True)
        self.keys = pd.DataFrame(list(uniq), columns=key)
        self.size = len(uniq)
        self._rows = r
        self._code = code.astype("int64")
        day = pd.to_datetime(r["day"], utc=True).to_numpy("datetime64[ns]").astype("int64")
        self.days = np.unique(day)  # ns since epoch, ascending
        self._day = np.searchsorted(self.days, day)
        # The reference for recency weights is the newest day start, so weights are <= 1.
        self.ref_day_ns = int(self.days[-1]) if len(self.days) else 0
        n = r["n"].to_numpy("int64")
        self.samples = np.bincount(self._code, weights=n, minlength=self.size).astype("int64")
        first = _ns(r["t_first"])
        last = _ns(r["t_last"])
        self._t_last_rows = last
        self.t_first = np.full(self.size, np.iinfo("int64").max)
        np.minimum.at(self.t_first, self._code, first)
        self.t_last = np.full(self.size, np.iinfo("int64").min)
        np.maximum.at(self.t_last, self._code, last)
        self.history_hours = (self.t_last - self.t_first) / 3.6e12
        self.cpu_max = self._max("cpu_max")
        self.mem_max = self._max("mem_max")
        self.cpu_mean = self._sum("cpu_sum") / np.maximum(self.samples, 1)
        self.mem_mean = self._sum("mem_sum") / np.maximum(self.samples, 1)

    # -- plain aggregates ------------------------------------------------------------------

    def _sum(self, col: str) -> np.ndarray:
        return np.bincount(self._code, weights=self._rows[col].to_numpy("float64"),
                           minlength=self.size)

    def _max(self, col: str) -> np.ndarray:
        out = np.full(self.size, -np.inf)
        np.maximum.at(out, self._code, self._rows[col].to_numpy("float64"))
        return out

    def _day_weight(self) -> np.ndarray:
        """Per rollup row: recency factor of its day relative to the newest day."""
        delta_s = (self.days[self._day] - self.ref_day_ns) / 1e9
        return np.exp2(delta_s / sketch.HALF_LIFE_S)

    def decayed_mean(self, prefix: str) -> np.ndarray:
        f = self._day_weight()
        num = np.bincount(self._code, weights=self._rows[f"{prefix}_wsum"].to_numpy("float64") * f,
                          minlength=self.size)
        den = np.bincount(self._code, weights=self._rows["w_sum"].to_numpy("float64") * f,
                          minlength=self.size)
        return num / np.where(den > 0, den, 1.0)

    @cached_property
    def pods(self) -> tuple[History, np.ndarray]:
        """The history one row per pod (namespace, workload, container, pod), and for each
        pod the row of its container in this history."""
        pods = History(self._rows, key=sketch.POD_KEY)
        own = pd.MultiIndex.from_frame(pods.keys[KEY_COLUMNS])
        owner = pd.MultiIndex.from_frame(self.keys[KEY_COLUMNS]).get_indexer(own)
        return pods, np.asarray(owner, dtype="int64")

    def row_values(self, col: str) -> np.ndarray:
        """A rollup column's values, one per rollup row (in ``day_rows`` order)."""
        return self._rows[col].to_numpy("float64")

    @property
    def day_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Per rollup row: its container's row and its day's column in ``self.days``."""
        return self._code, self._day

    @cached_property
    def daily_peaks(self) -> np.ndarray:
        """Memory peak per container (rows) and day (columns of ``self.days``); NaN = no data."""
        out = np.full((self.size, len(self.days)), np.nan)
        np.fmax.at(out, (self._code, self._day), self._rows["mem_max"].to_numpy("float64"))
        return out

    @cached_property
    def hourly_peaks(self) -> np.ndarray:
        """Memory peak per container and hour since the first day (NaN = no data)."""
        out = np.full((self.size, len(self.days) * 24), np.nan)
        hours = np.stack(list(self._rows["mem_hour_max"]))
        cols = self._day[:, None] * 24 + np.arange(24)[None, :]
        rows = np.broadcast_to(self._code[:, None], cols.shape)
        np.fmax.at(out, (rows, cols), hours)  # the pods of a container: the highest
        return out

    def current(self, col: str) -> np.ndarray:
        """Newest known value of a current request/limit column per container (NaN = unknown)."""
        v = self._rows[col].to_numpy("float64")
        out = np.full(self.size, np.nan)
        o = self._newest_last(np.flatnonzero(~np.isnan(v)))
        if len(o):
            c = self._code[o]
            last = np.r_[c[1:] != c[:-1], True]
            out[c[last]] = v[o[last]]
        return out

    @cached_property
    def platform(self) -> list[str | None]:
        p = self._rows["platform"].fillna("").astype(str).to_numpy()
        out: list[str | None] = [None] * self.size
        for i in self._newest_last(np.flatnonzero((p != "") & (p != "nan"))):
            out[self._code[i]] = str(p[i])
        return out

    def _newest_last(self, rows: np.ndarray) -> np.ndarray:
        """``rows`` ordered by container, then day, then last sample (the pod seen last that
        day): each container's newest row comes last."""
        return rows[np.lexsort((self._t_last_rows[rows], self._day[rows], self._code[rows]))]

    # -- histograms --------------------------------------------------------------------------

    def histogram(self, prefix: str, *, decayed: bool) -> np.ndarray:
        """Dense fine-bucket histogram per container: counts, or recency-weighted sums."""
        key = (prefix, decayed)
        cache = self.__dict__.setdefault("_hists", {})
        if key not in cache:
            col = self._rows[f"{prefix}_w" if decayed else f"{prefix}_c"]
            arrays = self._rows[f"{prefix}_b"].to_numpy()
            lengths = np.fromiter(map(len, arrays), dtype="int64", count=len(arrays))
            buckets = np.concatenate(arrays).astype("int64")
            values = np.concatenate(col.to_numpy()).astype("float64")
            if decayed:
                values *= np.repeat(self._day_weight(), lengths)
            flat = np.repeat(self._code, lengths) * sketch.NBUCKETS + buckets
            cache[key] = np.bincount(flat, weights=values,
                                     minlength=self.size * sketch.NBUCKETS
                                     ).reshape(self.size, sketch.NBUCKETS)
        return cache[key]  # type: ignore[no-any-return]


def quantile_bucket(hist: np.ndarray, q: float) -> np.ndarray:
    """Per row, the first bucket at which the cumulative weight reaches ``q`` of the total
    (the VPA histogram's rule); -1 for an empty row."""
    cum = np.cumsum(hist, axis=1)
    total = cum[:, -1]
    idx = (cum < (q * total)[:, None]).sum(axis=1)
    idx = np.minimum(idx, hist.shape[1] - 1)
    return np.where(total > 0, idx, -1)


def percentile_value(h: History, prefix: str, q: float, *, decayed: bool = False) -> np.ndarray:
    """The q-quantile per container, interpolated linearly within its fine bucket: off from
    the exact sample quantile by less than one fine bucket (1 millicore / 1 MB near zero,
    0.5 % above), and never above the largest sample."""
    return percentile_values(h, prefix, np.array([q]), decayed=decayed)[:, 0]


def percentile_values(h: History, prefix: str, qs: np.ndarray, *,
                      decayed: bool = False) -> np.ndarray:
    """Several quantiles at once (containers x quantiles) with one cumulative sum and one
    binary search: each row's cumulative share, offset by the row number, is one sorted
    array, so ``searchsorted`` finds every (container, quantile) bucket in a single call."""
    first = sketch.CPU_FIRST if prefix == "cpu" else sketch.MEM_FIRST
    hist = h.histogram(prefix, decayed=decayed)
    n, nb = hist.shape
    qs = np.asarray(qs, dtype="float64")
    cum = np.cumsum(hist, axis=1)
    total = cum[:, -1].copy()
    safe = np.where(total > 0, total, 1.0)
    rows = np.arange(n)
    cum /= safe[:, None]
    cum += rows[:, None]
    flat = np.searchsorted(cum.ravel(), (rows[:, None] + qs[None, :]).ravel())
    b = np.minimum(flat.reshape(n, len(qs)) - rows[:, None] * nb, nb - 1)
    cum -= rows[:, None]  # back to cumulative shares
    r2 = np.broadcast_to(rows[:, None], b.shape)
    inside = hist[r2, b] / safe[:, None]
    before = cum[r2, b] - inside
    frac = np.clip((qs[None, :] - before) / np.where(inside > 0, inside, 1.0), 0.0, 1.0)
    start = np.asarray(sketch.bucket_start(b, first))
    end = np.asarray(sketch.bucket_start(b + 1, first))
    top = (h.cpu_max if prefix == "cpu" else h.mem_max)[:, None]
    return np.where((total > 0)[:, None], np.minimum(start + (end - start) * frac, top), 0.0)


def coarse(hist: np.ndarray) -> np.ndarray:
    """Fine histogram -> VPA's 5 % buckets (ten fine buckets each)."""
    pad = VPA_NBUCKETS * sketch.FINE - hist.shape[1]
    h = np.pad(hist, ((0, 0), (0, pad))) if pad else hist
    return h.reshape(hist.shape[0], VPA_NBUCKETS, sketch.FINE).sum(axis=2)


def _ns(s: pd.Series) -> np.ndarray:
    return pd.to_datetime(s, utc=True).to_numpy("datetime64[ns]").astype("int64")
