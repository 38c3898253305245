"""Bin packing on exact integers: how many identical nodes a set of pods needs.

Demands and capacities are integer arrays with one column per resource (millicores, bytes,
pod slots), so a comparison is never off by a float rounding: 3 x 333m fit one core, 4 don't.

:func:`min_bins` finds the number of bins of one capacity.  It always runs first-fit-decreasing
(FFD); when FFD already meets the lower bound (ceil of total demand / capacity, max over the
resources) that answer is optimal.  Otherwise it also runs a bin-centric "dot product" greedy
(better than FFD when pods differ in which resource they need) and keeps the better; then,
when the instance is small enough, it asks ``scipy.optimize.milp`` for the exact minimum with a
time limit; identical pods (replicas of one workload) are aggregated into one integer variable
per bin, which keeps the model small.  Every answer says which method produced it and its gap
to the best lower bound known.
"""

from __future__ import annotations

import numpy as np

from quotatune.model.capacity import BinCount

# Exact solving is attempted when (distinct pod sizes) x (bins tried) is at most
# this many integer variables.  HiGHS proves such bin-packing models optimal in well under a
# second on typical instances; beyond it, model size and symmetry make proofs slow and FFD
# (within 11/9 OPT + 6/9 in one dimension) is reported with its gap instead.
EXACT_MAX_VARIABLES = 4000
EXACT_TIME_LIMIT_S = 5.0


def lower_bound(demand: np.ndarray, capacity: np.ndarray) -> int:
    """ceil(sum of demand / capacity), the max over resources; resources of capacity 0 and
    demand 0 are ignored."""
    total = demand.sum(axis=0, dtype=object) if len(demand) else np.zeros(len(capacity), object)
    best = 0
    for need, cap in zip(total, capacity, strict=True):
        need, cap = int(need), int(cap)
        if need == 0:
            continue
        if cap <= 0:
            raise ValueError("a resource with demand has zero capacity")
        best = max(best, -(-need // cap))
    return best


def ffd_order(demand: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Largest first: by the dominant share of the capacity, ties by the sum of shares."""
    share = demand / np.maximum(capacity, 1)
    return np.lexsort((-share.sum(axis=1), -share.max(axis=1)))


def first_fit_decreasing(demand: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Assign each item to the first open bin it fits, largest items first.

    Returns the bin index per item (-1 for an item larger than an empty bin)."""
    n = len(demand)
    assignment = np.full(n, -1, dtype=np.int64)
    free = np.empty((max(n, 1), len(capacity)), dtype=np.int64)
    used = 0
    for i in ffd_order(demand, capacity):
        d = demand[i]
        if np.any(d > capacity):
            continue
        if used:
            fits = np.all(free[:used] >= d, axis=1)
            j = int(np.argmax(fits))
            if fits[j]:
                free[j] -= d
                assignment[i] = j
                continue
        free[used] = capacity - d
        assignment[i] = used
        used += 1
    return assignment


def dot_product_pack(demand: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Bin-centric greedy for several resources (the "dot product" heuristic of Panigrahy et
    al., *Heuristics for Vector Bin Packing*, 2011): fill one bin at a time, each time with the
    pod whose size best matches the room left, weighting each resource by the total demand
    for it.  FFD packs the big pods CPU-tight first and leaves the small ones to fill later
    bins up to their pod slots; matching the room left mixes the two on each node.

    Returns the bin index per item (-1 for an item larger than an empty bin)."""
    assignment = np.full(len(demand), -1, dtype=np.int64)
    if not len(demand):
        return assignment
    types, inverse, counts = np.unique(demand, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    left = counts.copy()
    left[np.any(types > capacity, axis=1)] = 0
    scale = np.maximum(capacity, 1).astype(np.float64)
    size = types / scale
    weight = (size * left[:, None]).sum(axis=0)
    per_bin: list[np.ndarray] = []
    while left.any():
        free = capacity.astype(np.int64).copy()
        got = np.zeros(len(types), dtype=np.int64)
        while True:
            fits = (left > 0) & np.all(types <= free, axis=1)
            if not fits.any():
                break
            score = size @ (weight * free / scale)
            score[~fits] = -1.0
            t = int(np.argmax(score))
            free -= types[t]
            left[t] -= 1
            got[t] += 1
        per_bin.append(got)
    placed = np.array(per_bin, dtype=np.int64).T.reshape(len(types), -1)
    fit_mask = ~np.any(demand > capacity, axis=1)
    assignment[fit_mask] = _spread(placed, inverse[fit_mask])
    return assignment


def min_bins(
    demand: np.ndarray,
    capacity: np.ndarray,
    *,
    max_variables: int = EXACT_MAX_VARIABLES,
    time_limit: float = EXACT_TIME_LIMIT_S,
) -> BinCount:
    """Minimum number of bins of ``capacity`` holding every item of ``demand`` (n x k ints)."""
    demand = np.asarray(demand, dtype=np.int64).reshape(-1, len(capacity))
    capacity = np.asarray(capacity, dtype=np.int64)
    too_big = np.any(demand > capacity, axis=1)
    unplaceable = tuple(int(i) for i in np.flatnonzero(too_big))
    ok = np.flatnonzero(~too_big)
    lb = lower_bound(demand[ok], capacity)
    assignment = np.full(len(demand), -1, dtype=np.int64)
    sub = first_fit_decreasing(demand[ok], capacity)
    assignment[ok] = sub
    ffd_bins = int(sub.max()) + 1 if len(sub) else 0
    if unplaceable:
        note = f"{len(unplaceable)} pod(s) larger than an empty node"
        return BinCount(None, lb, "ffd", False, assignment, unplaceable, note)
    if ffd_bins == lb:
        return BinCount(ffd_bins, lb, "ffd", True, assignment, (), "meets the lower bound")
    method = "ffd"
    dot = dot_product_pack(demand, capacity)
    dot_bins = int(dot.max()) + 1
    if dot_bins < ffd_bins:
        assignment, ffd_bins, method = dot, dot_bins, "dot-product"
    if ffd_bins == lb:
        return BinCount(ffd_bins, lb, method, True, assignment, (), "meets the lower bound")
    types, inverse, counts = np.unique(demand, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    nvars = len(types) * (ffd_bins - 1)
    if nvars > max_variables:
        note = f"{nvars} variables > {max_variables}: exact solver not attempted"
        return BinCount(ffd_bins, lb, method, False, assignment, (), note)
    bins, best, proved_lb = ffd_bins, assignment, lb
    limit_hit = False
    # Ask "do the items fit in B bins?" for B = heuristic - 1, - 2, ... down to the lower
    # bound.  An infeasible answer proves the previous B optimal; a feasible one improves the
    # answer.  Each step gets ``time_limit``; the first step that runs out stops the search
    # (feasible steps are usually quick, so the wall time stays near one limit in practice).
    # (One model minimising the number of used bins was tried and found far slower: HiGHS
    # struggled to find any solution with the bin-usage variables and their symmetry.)
    for b in range(ffd_bins - 1, lb - 1, -1):
        status, per_type_bins = _fits_in(types, counts, capacity, b, time_limit)
        if status == "infeasible":
            proved_lb = b + 1
            break
        candidate = None if per_type_bins is None else _spread(per_type_bins, inverse)
        if status != "feasible" or candidate is None or not _fits(demand, candidate, capacity):
            limit_hit = True  # out of time (or a numerically doubtful answer): keep the proof
            break
        bins, best = int(candidate.max()) + 1, candidate
    proved = bins == proved_lb
    if bins < ffd_bins or proved and proved_lb > lb:
        note = "proved optimal" if proved else f"time limit {time_limit:g}s reached"
        return BinCount(bins, proved_lb, "milp", proved, best, (), note)
    note = f"exact solver: time limit {time_limit:g}s reached" if limit_hit else ""
    return BinCount(bins, proved_lb, method, proved, best, (), note)


def _fits_in(
    types: np.ndarray, counts: np.ndarray, capacity: np.ndarray, nbins: int, time_limit: float
) -> tuple[str, np.ndarray | None]:
    """Feasibility MILP: x[t, j] = how many items of type t go to bin j (integer)."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_array

    t, k = types.shape
    nx = t * nbins
    # Divide each resource by the gcd of its sizes: exact, and keeps coefficients small
    # enough for the solver's tolerances (memory in bytes reaches 1e11).
    g = np.array([np.gcd.reduce(np.append(types[:, r], capacity[r])) or 1 for r in range(k)])
    sizes, cap = types // g, capacity // g
    col = np.arange(nx)  # variable x[i, j] is column i * nbins + j
    item, bin_ = col // nbins, col % nbins
    # Rows 0..t-1: every item placed (sum over bins = count).  Rows t + j*k + r: bin j within
    # capacity for resource r (sum over items of size x count <= capacity).
    rows = [item] + [t + bin_ * k + r for r in range(k)]
    vals = [np.ones(nx)] + [sizes[item, r].astype(np.float64) for r in range(k)]
    a = coo_array((np.concatenate(vals), (np.concatenate(rows), np.tile(col, k + 1))),
                  shape=(t + nbins * k, nx))
    lo = np.concatenate([counts.astype(np.float64), np.full(nbins * k, -np.inf)])
    hi = np.concatenate([counts.astype(np.float64), np.tile(cap.astype(np.float64), nbins)])
    res = milp(
        np.zeros(nx),
        constraints=LinearConstraint(a.tocsr(), lo, hi),
        integrality=np.ones(nx),
        bounds=Bounds(np.zeros(nx), np.repeat(counts, nbins).astype(float)),
        options={"time_limit": time_limit, "disp": False},
    )
    if res.status == 2:
        return "infeasible", None
    if res.x is None:
        return "time-limit", None
    x = np.rint(res.x).astype(np.int64).reshape(t, nbins)
    if not np.array_equal(x.sum(axis=1), counts):
        return "time-limit", None
    return "feasible", x


def _spread(per_type_bins: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """Turn counts per (type, bin) into a bin index per item, renumbering used bins 0.."""
    assignment = np.full(len(inverse), -1, dtype=np.int64)
    slots = {i: np.repeat(np.arange(per_type_bins.shape[1]), per_type_bins[i])
             for i in range(per_type_bins.shape[0])}
    taken = dict.fromkeys(slots, 0)
    for item, tp in enumerate(inverse):
        assignment[item] = slots[tp][taken[tp]]
        taken[tp] += 1
    _, assignment = np.unique(assignment, return_inverse=True)
    return assignment.reshape(-1).astype(np.int64)


def _fits(demand: np.ndarray, assignment: np.ndarray, capacity: np.ndarray) -> bool:
    if np.any(assignment < 0):
        return False
    load = np.zeros((int(assignment.max()) + 1, len(capacity)), dtype=np.int64)
    np.add.at(load, assignment, demand)
    return bool(np.all(load <= capacity))
