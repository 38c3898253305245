"""What the usage-based findings need, accumulated day by day instead of from every sample.

``diagnose`` over a store reads its days one at a time (docs/architecture.md, "The store"), once
each, and takes two steps with a :class:`DigestBuilder`:

1. :meth:`DigestBuilder.add_spans` — per container instance (namespace, workload, container,
   pod): its restart counter's maximum and the first/last time and count of the samples kept
   since the last restart; per container the peak working set and the newest memory limit;
   the screens of the rules that read raw samples (throttling: mean ratio and count; restart
   bursts: each pod's counter range).
2. :meth:`DigestBuilder.add_peaks` — with each instance's span known, the maximum of each of its
   peak-envelope buckets (see :mod:`.trends`).  A reader that keeps the compact rows
   :meth:`DigestBuilder.add_spans_rows` returns (no names, a few numbers per sample) feeds
   them to :meth:`DigestBuilder.add_peak_rows` instead of reading the day again.

:meth:`DigestBuilder.digest` then gives a :class:`UsageDigest`: the same per-container peak and
limit, the same peak envelope and the containers whose raw samples the throttling and
restart-burst rules must see.  Memory follows the number of container instances; every number
equals what the rules compute from the whole frame (tests/analysis/findings/test_digest.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from quotatune.analysis.findings.common import DiagnosePolicy
from quotatune.analysis.findings.trends import BUCKETS
from quotatune.model import ContainerKey
from quotatune.rollup.keys import codes
from quotatune.rollup.namehash import pod_hashes

GROUP = ["namespace", "workload", "container", "pod"]
KEYS = GROUP[:3]
SPAN_COLUMNS = [*GROUP, "timestamp", "memory_working_set_bytes", "memory_limit_bytes",
                "restarts", "cpu_throttled_ratio"]


@dataclass
class UsageDigest:
    stats: dict[ContainerKey, tuple[float | None, float | None]]  # (peak, newest limit)
    envelope: pd.DataFrame  # as trends.peak_envelope returns it
    raw_keys: set[ContainerKey] = field(default_factory=set)


@dataclass
class PeakRows:
    """One day's rows that pass 2 may use: instance codes into ``names`` (namespace, workload,
    container, pod), time (ns), restart counter and working set."""

    names: pd.DataFrame
    code: np.ndarray
    ns: np.ndarray
    r: np.ndarray
    mem: np.ndarray


def _prepared(day: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Rows the envelope may use, their instance code, and the code -> names table."""
    code, names = codes(day, GROUP)  # of the whole day: shared with the other accumulators
    keep = (day["timestamp"].notna() & np.isfinite(day["memory_working_set_bytes"])).to_numpy()
    if keep.all():
        return day, code, names
    return day[keep], code[keep], names


def _restarts(d: pd.DataFrame) -> np.ndarray:
    return d["restarts"].to_numpy("float64") if "restarts" in d.columns else \
        np.full(len(d), np.nan)


def _ns(d: pd.DataFrame) -> np.ndarray:
    return d["timestamp"].dt.as_unit("ns").astype("int64").to_numpy()


class DigestBuilder:
    def __init__(self, policy: DiagnosePolicy | None = None) -> None:
        self.policy = policy or DiagnosePolicy()
        self._spans: list[pd.DataFrame] = []
        self._stats: list[pd.DataFrame] = []
        self._screens: list[pd.DataFrame] = []
        self._peaks: list[pd.DataFrame] = []
        self._inst: pd.DataFrame | None = None

    # -- pass 1 ------------------------------------------------------------------------------
    def add_spans(self, day: pd.DataFrame) -> None:
        self.add_spans_rows(day)

    def add_spans_rows(self, day: pd.DataFrame) -> PeakRows | None:
        """:meth:`add_spans`, returning the day's rows that :meth:`add_peak_rows` may need, so
        that a caller can keep them (compact, without names) instead of reading the day again.
        """
        self._container_stats(day)
        d, code, names = _prepared(day)
        if d.empty:
            return None
        r, ns = _restarts(d), _ns(d)
        runs = _runs(code, len(names))
        if runs is None:
            f = pd.DataFrame({"code": code, "r": r, "ns": ns})
            day_max = f.groupby("code")["r"].max().reindex(range(len(names))).to_numpy()
        else:
            with np.errstate(invalid="ignore"):
                day_max = np.fmax.reduceat(r, runs)  # NaN only where every value is
        out = names.assign(key=pod_hashes(names), rmax=day_max, day=len(self._spans))
        for tag, rows in (("m", r == day_max[code]), ("u", np.isnan(r))):
            out[f"t0{tag}"], out[f"t1{tag}"], out[f"n{tag}"] = \
                _span(code, ns, rows, len(names), runs)
        self._spans.append(out)
        # A sample below its instance's restart maximum of the day is below the final maximum
        # too: pass 2 drops it whatever the other days hold.
        with np.errstate(invalid="ignore"):
            keep = np.isnan(r) | ~(r < day_max[code])
        mem = d["memory_working_set_bytes"].to_numpy("float64")
        return PeakRows(names, code[keep], ns[keep], r[keep], mem[keep])

    def _container_stats(self, day: pd.DataFrame) -> None:
        code, names = codes(day, KEYS)
        mem = pd.Series(day["memory_working_set_bytes"].to_numpy("float64"))
        st = names.assign(peak=mem.groupby(code).max().to_numpy(), limit=np.nan)
        if "memory_limit_bytes" in day.columns:
            lim = day["memory_limit_bytes"].to_numpy("float64")
            known = ~np.isnan(lim)
            if known.any():
                ts = pd.Series(_ns(day)[known], index=np.flatnonzero(known))
                newest = ts.groupby(code[known]).idxmax()
                st.loc[newest.index, "limit"] = lim[newest.to_numpy()]
        self._stats.append(st)
        if "cpu_throttled_ratio" in day.columns:
            ratio = pd.Series(day["cpu_throttled_ratio"].to_numpy("float64")).clip(0, 1)
            t = pd.DataFrame({"s": ratio, "c": ratio.notna()}).groupby(code).sum()
            self._screens.append(names.assign(s=t["s"].to_numpy(), c=t["c"].to_numpy()))
        if "restarts" in day.columns:
            data = day[[*GROUP, "timestamp", "restarts"]].dropna()
            if not data.empty:
                pcode, pnames = codes(data, GROUP)
                r = pd.Series(data["restarts"].to_numpy("float64")).groupby(pcode)
                self._screens.append(pnames.assign(min=r.min().to_numpy(),
                                                   max=r.max().to_numpy()))

    def _instances(self) -> pd.DataFrame:
        """Per instance: the kept rows' restart maximum, t0, span and bucket count."""
        if not self._spans:
            return pd.DataFrame(columns=["key", *GROUP, "gid", "R", "t0", "span", "nb", "ok"])
        s = pd.concat(self._spans, ignore_index=True)
        # Grouped by the instance's name hash, one int64 (as everywhere: names that hash
        # alike are one), not by four text columns: a month of 1.7 M CronJob pods' groupbys
        # took 570 MB more, and each day's lookup of them a MultiIndex.
        s["R"] = s.groupby("key", sort=False)["rmax"].transform("max")
        m = s[s["rmax"] == s["R"]]  # days whose samples reached the final maximum
        agg = {"t0": ("t0m", "min"), "t1": ("t1m", "max"), "n": ("nm", "sum")}
        first = s.groupby("key", sort=False)[["R", "day"]].min()
        at = m.groupby("key", sort=False).agg(**agg).reindex(first.index)
        un = s.groupby("key", sort=False).agg(t0=("t0u", "min"), t1=("t1u", "max"),
                                              n=("nu", "sum"))
        inst = s.drop_duplicates("key").set_index("key")[GROUP].join(first)
        inst["t0"] = np.fmin(at["t0"].to_numpy(), un["t0"].to_numpy())
        inst["t1"] = np.fmax(at["t1"].to_numpy(), un["t1"].to_numpy())
        inst["n"] = (at["n"].fillna(0).to_numpy() + un["n"].to_numpy()).astype("int64")
        inst = inst[inst["n"] > 0].copy()
        inst["t0"] = inst["t0"].astype("int64")
        inst["span"] = (inst["t1"].astype("int64") - inst["t0"]).astype("float64")
        p = self.policy
        inst["ok"] = (inst["n"] >= p.growth_min_points) & (inst["span"] >= p.growth_min_span.value)
        inst["nb"] = np.clip(inst["n"] // 2, 2, BUCKETS).astype("int64")
        inst["gid"] = np.arange(len(inst))
        return inst.reset_index()

    # -- pass 2 ------------------------------------------------------------------------------
    def add_peaks(self, day: pd.DataFrame) -> None:
        d, code, names = _prepared(day)
        if not d.empty:
            self.add_peak_rows(PeakRows(names, code, _ns(d), _restarts(d),
                                        d["memory_working_set_bytes"].to_numpy("float64")))

    def add_peak_rows(self, rows: PeakRows) -> None:
        """Pass 2 over one day's rows, as :meth:`add_spans_rows` returned them."""
        if self._inst is None:
            self._inst = self._instances().set_index("key")
        inst = self._inst.reindex(pod_hashes(rows.names))
        code = rows.code
        pick = lambda col: inst[col].to_numpy()[code]  # noqa: E731
        has = ~np.isnan(inst["gid"].to_numpy(dtype="float64"))[code]
        r, big_r = rows.r, pick("R").astype("float64")
        keep = has & (np.isnan(r) | np.isnan(big_r) | (r >= big_r))
        keep &= np.where(has, pick("ok"), False).astype(bool)
        if not keep.any():
            return
        ns = rows.ns[keep]
        t0 = pick("t0")[keep].astype("int64")
        span, nb = pick("span")[keep].astype("float64"), pick("nb")[keep].astype("int64")
        b = np.minimum(((ns - t0) / span * nb).astype("int64"), nb - 1)
        gid, v = pick("gid")[keep].astype("int64"), rows.mem[keep]
        at = _first_max(gid * BUCKETS + b, v)
        self._peaks.append(pd.DataFrame({"gid": gid[at], "b": b[at], "ns": ns[at], "v": v[at],
                                         "day": len(self._peaks)}))

    # -- result ------------------------------------------------------------------------------
    def digest(self) -> UsageDigest:
        return UsageDigest(self._stats_result(), self._envelope(), self._raw_keys())

    def _stats_result(self) -> dict[ContainerKey, tuple[float | None, float | None]]:
        if not self._stats:
            return {}
        st = pd.concat(self._stats, ignore_index=True)  # days in order: the last limit wins
        peak = st.groupby(KEYS, sort=False)["peak"].max()
        limit = st.dropna(subset=["limit"]).groupby(KEYS, sort=False)["limit"].last() \
            if "limit" in st.columns else pd.Series(dtype="float64")
        out: dict[ContainerKey, tuple[float | None, float | None]] = {}
        for k, p in peak.items():
            lim = limit.get(k)
            out[ContainerKey(*k)] = (_num(p), _num(lim))  # type: ignore[misc]
        return out

    def _envelope(self) -> pd.DataFrame:
        cols = [*GROUP, "gid", "h", "span", "timestamp", "v"]
        if not self._peaks or self._inst is None:
            return pd.DataFrame(columns=cols)
        f = pd.concat(self._peaks, ignore_index=True)
        # The first maximum in time wins, as idxmax over the whole frame picks it.
        f = f.sort_values(["gid", "b", "v", "day"], ascending=[True, True, False, True],
                          kind="stable").drop_duplicates(["gid", "b"])
        inst = self._inst.reset_index().set_index("gid")
        t0 = inst["t0"].reindex(f["gid"]).to_numpy()
        out = inst.loc[f["gid"], GROUP].reset_index()
        out["h"] = (f["ns"].to_numpy() - t0) / 3.6e12
        out["span"] = inst["span"].reindex(f["gid"]).to_numpy() / 3.6e12
        out["timestamp"] = pd.to_datetime(f["ns"].to_numpy(), utc=True)
        out["v"] = f["v"].to_numpy()
        return out[cols].sort_values(["gid", "h"]).reset_index(drop=True)

    def _raw_keys(self) -> set[ContainerKey]:
        p = self.policy
        keys: set[ContainerKey] = set()
        for s in self._screens:
            if "s" in s.columns:
                t = s.groupby(KEYS)[["s", "c"]].sum()
                hit = t[(t["c"] >= p.throttle_min_samples) & (t["c"] > 0)
                        # a hair below the threshold: the rule itself decides on the samples
                        & (t["s"] / t["c"].where(t["c"] > 0) >= p.throttle_ratio - 1e-9)]
            else:
                r = s.groupby(GROUP).agg(lo=("min", "min"), hi=("max", "max"))
                hit = r[r["hi"] - r["lo"] >= p.crash_loop_restarts].reset_index() \
                    .set_index(KEYS)
            keys.update(ContainerKey(*(str(x) for x in k)) for k in hit.index)
        return keys


def _runs(code: np.ndarray, n: int) -> np.ndarray | None:
    """The start of each code's rows when code ``i`` is the ``i``-th contiguous run (a day
    as the store writes it, coded by first appearance); else None."""
    if not len(code):
        return None
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    return starts if len(starts) == n else None


def _span(code: np.ndarray, ns: np.ndarray, rows: np.ndarray, n: int,
          runs: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per code, the first and last ``ns`` and the count of ``rows``: as
    ``groupby().agg(["min", "max", "size"]).reindex(range(n))`` gives them (float with NaN
    where a code has no rows, integers where every code has some)."""
    if runs is None:
        a = pd.DataFrame({"code": code[rows], "ns": ns[rows]}).groupby("code")["ns"] \
            .agg(["min", "max", "size"]).reindex(range(n))
        return a["min"].to_numpy(), a["max"].to_numpy(), a["size"].fillna(0).to_numpy()
    big = np.iinfo(np.int64)
    lo = np.minimum.reduceat(np.where(rows, ns, big.max), runs)
    hi = np.maximum.reduceat(np.where(rows, ns, big.min), runs)
    size = np.add.reduceat(rows.astype(np.int64), runs)
    if (size > 0).all():
        return lo, hi, size
    empty = size == 0
    return (np.where(empty, np.nan, lo), np.where(empty, np.nan, hi),
            size.astype("float64"))


def _first_max(key: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Per distinct ``key``, the position of its first largest ``v`` (``groupby().idxmax()``),
    in key order.  A store's day holds each key's rows together (sorted by instance and
    time): then a reduce over the runs, without a sort or a hash table."""
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    run_keys = key[starts]
    if len(pd.unique(run_keys)) != len(run_keys):  # rows of one key apart: group them
        order = np.argsort(key, kind="stable")
        return order[_first_max(key[order], v[order])]
    run = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(key)]))
    hits = np.flatnonzero(v == np.maximum.reduceat(v, starts)[run])
    first = hits[np.r_[True, run[hits[1:]] != run[hits[:-1]]]]
    return first[np.argsort(run_keys, kind="stable")]


def _num(v: object) -> float | None:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None
