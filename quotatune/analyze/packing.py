"""Bin packing on exact integers: how many identical nodes a set of pods needs.

Demands and capacities are integer arrays with one column per resource (millicores, bytes,
pod slots), so a comparison is never off by a float rounding: 3 x 333m fit one core, 4 don't.

:func:`min_bins` finds the number of bins of one capacity.  It always runs first-fit-decreasing
(FFD); when FFD already meets the lower bound (ceil of total demand / capacity, max over the
resources) that answer is optimal.  Otherwise, and when the instance is small enough, it asks
``scipy.optimize.milp`` for the exact minimum with a time limit; identical pods (replicas of
one workload) are aggregated into one integer variable per bin, which keeps the model small.
Every answer says which method produced it and its gap to the best lower bound known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Exact solving is attempted when (distinct pod sizes) x (bins tried) is at most
# this many integer variables.  HiGHS proves such bin-packing models optimal in well under a
# second on typical instances; beyond it, model size and symmetry make proofs slow and FFD
# (within 11/9 OPT + 6/9 in one dimension) is reported with its gap instead.
EXACT_MAX_VARIABLES = 4000
EXACT_TIME_LIMIT_S = 5.0


@dataclass(frozen=True)
class BinCount:
    """The answer of :func:`min_bins`."""

    bins: int | None  # None: some item is larger than an empty bin
    lower_bound: int
    method: str  # "ffd" | "milp"
    optimal: bool
    assignment: np.ndarray  # bin index per item, -1 for items that fit no empty bin
    unplaceable: tuple[int, ...]  # indices of items larger than the bin capacity
    note: str = ""

    @property
    def gap(self) -> int | None:
        return None if self.bins is None else self.bins - self.lower_bound


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
    types, inverse, counts = np.unique(demand, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    nvars = len(types) * (ffd_bins - 1)
    if nvars > max_variables:
        note = f"{nvars} variables > {max_variables}: exact solver not attempted"
        return BinCount(ffd_bins, lb, "ffd", False, assignment, (), note)
    bins, best, proved_lb, timed_out = ffd_bins, assignment, lb, False
    # Ask "do the items fit in B bins?" for B = FFD - 1, FFD - 2, ... down to the lower bound.
    # An infeasible answer proves the previous B optimal; a feasible one improves the answer.
    # Each step gets ``time_limit``; the first step that runs out stops the search (feasible
    # steps are usually quick, so the wall time stays near one limit in practice).
    # (One model minimising the number of used bins was tried and found far slower: HiGHS
    # struggled to find any solution with the bin-usage variables and their symmetry.)
    for b in range(ffd_bins - 1, lb - 1, -1):
        status, per_type_bins = _fits_in(types, counts, capacity, b, time_limit)
        if status == "infeasible":
            proved_lb = b + 1
            break
        if status != "feasible" or per_type_bins is None:
            timed_out = True
            break
        candidate = _spread(per_type_bins, inverse)
        if not _fits(demand, candidate, capacity):
            timed_out = True  # numerically doubtful answer: keep what is proved
            break
        bins, best = int(candidate.max()) + 1, candidate
    if bins == ffd_bins and not timed_out and proved_lb == ffd_bins:
        return BinCount(bins, proved_lb, "milp", True, assignment, (), "FFD proved optimal")
    proved = bins == proved_lb
    note = "proved optimal" if proved else f"time limit {time_limit:g}s reached"
    return BinCount(bins, proved_lb, "milp", proved, best, (), note)


def _fits_in(
    types: np.ndarray, counts: np.ndarray, capacity: np.ndarray, nbins: int, time_limit: float
) -> tuple[str, np.ndarray | None]:
    """Feasibility MILP: x[t, j] = how many items of type t go to bin j (integer)."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import lil_array

    t, k = types.shape
    nx = t * nbins
    # Divide each resource by the gcd of its sizes: exact, and keeps coefficients small
    # enough for the solver's tolerances (memory in bytes reaches 1e11).
    g = np.array([np.gcd.reduce(np.append(types[:, r], capacity[r])) or 1 for r in range(k)])
    sizes, cap = types // g, capacity // g
    a = lil_array((t + nbins * k, nx))
    lo = np.empty(t + nbins * k)
    hi = np.empty(t + nbins * k)
    for i in range(t):  # every item placed
        a[i, i * nbins:(i + 1) * nbins] = 1
        lo[i] = hi[i] = counts[i]
    row = t
    for j in range(nbins):  # each bin within capacity, per resource
        for r in range(k):
            for i in range(t):
                if sizes[i, r]:
                    a[row, i * nbins + j] = float(sizes[i, r])
            lo[row], hi[row] = -np.inf, float(cap[r])
            row += 1
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


# ---------------------------------------------------------------------------------------------
# Placement on the nodes that exist


def schedule(
    demand: np.ndarray, allocatable: np.ndarray, target_node: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Place pods on existing nodes the way the scheduler's resource filter would.

    ``demand`` is n x k (resource columns as in ``allocatable``, m x k); ``target_node`` is
    the node a DaemonSet pod belongs to, -1 for any other pod.  DaemonSet pods go first (the
    DaemonSet controller places them on every node before ordinary pods compete for room);
    then the rest, largest first, each on the fitting node with the most room left, as the
    default ``LeastAllocated`` scoring does.  Largest-first is an optimistic queue order: a
    pod reported Pending here would be Pending in any arrival order.

    Returns (node index per pod or -1 for Pending, free room per node afterwards).
    """
    free = allocatable.astype(np.int64).copy()
    assignment = np.full(len(demand), -1, dtype=np.int64)
    for i in np.flatnonzero(target_node >= 0):
        j = int(target_node[i])
        if np.all(demand[i] <= free[j]):
            free[j] -= demand[i]
            assignment[i] = j
    rest = np.flatnonzero(target_node < 0)
    if len(rest) and len(free):
        # Scores use the first two resources (CPU and memory); pod slots only filter.
        scale = np.maximum(allocatable[:, :2], 1).astype(np.float64)
        for i in rest[ffd_order(demand[rest], allocatable.max(axis=0))]:
            fits = np.all(free >= demand[i], axis=1)
            if not fits.any():
                continue
            score = ((free[:, :2] - demand[i, :2]) / scale).mean(axis=1)
            score[~fits] = -np.inf
            j = int(np.argmax(score))
            free[j] -= demand[i]
            assignment[i] = j
    return assignment, free


def shortfalls(demand: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Boolean m x k: which resources a node lacks for one pod's ``demand``."""
    return free < demand[None, :]
