/* One pass over a chunk of samples whose pods each come as one run in time order (the usual
 * export): the checks validation makes of its numbers and times, each pod's run and span,
 * the rows where a pod's memory limit changes, and the per-pod, per-UTC-day rollup
 * (docs/architecture.md, "The compiled pass").  It computes exactly what the numpy path of
 * quotatune/rollup/sketch.py computes, value for value: sums in numpy's pairwise order,
 * buckets looked up in the bounds numpy's own bucket_index gives (quotatune/rollup/scan.py
 * finds them), maxima and counts that do not depend on order.  Anything it does not take
 * (a value out of range, a time out of order, a pod in two runs) it reports by a status,
 * and the caller takes the numpy path, which finds and names the problem.
 *
 * Inputs are buffers of one chunk (read-only, C-contiguous); outputs are bytearrays the
 * caller views with numpy.  The GIL is released for the pass. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NCODES 4
#define MAXCUR 8
#define DAY_NS 86400000000000LL
#define HOUR_NS 3600000000000LL
#define PW_BLOCKSIZE 128

/* Hot loops are compiled once per instruction set and the widest the machine has is chosen
 * when the module loads (GCC on x86-64; elsewhere one portable build). */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VECTOR_CLONES
#endif
#define VECTOR_CLONES_PAIRWISE VECTOR_CLONES

enum { OK = 0, BAD_VALUE = 1, BAD_TIME = 2, NOT_RUNS = 3, NO_MEMORY = 4, TOO_MANY = 5 };

/* ---------------------------------------------------------------- growable arrays */
typedef struct {
    char *data;
    size_t len, cap, item; /* len and cap in items */
} vec;

static int vec_reserve(vec *v, size_t n) {
    if (v->len + n <= v->cap) return 0;
    size_t cap = v->cap ? v->cap : 64;
    while (cap < v->len + n) cap *= 2;
    char *p = realloc(v->data, cap * v->item);
    if (!p) return -1;
    v->data = p;
    v->cap = cap;
    return 0;
}

#define VEC_PUSH(v, type, x) \
    (vec_reserve((v), 1) ? -1 : (((type *)(v)->data)[(v)->len++] = (x), 0))

static PyObject *vec_bytes(vec *v) {
    PyObject *out = PyByteArray_FromStringAndSize(v->data, (Py_ssize_t)(v->len * v->item));
    return out;
}

/* ---------------------------------------------------------------- numpy's arithmetic */
/* numpy's pairwise summation (loops_utils.h.src), which np.add.reduceat applies to all but
 * the first value of each segment: a segment [a0, a1, ...] sums to a0 + pairwise(a1, ...). */
VECTOR_CLONES_PAIRWISE static double pairwise(const double *a, Py_ssize_t n) {
    if (n < 8) {
        double res = 0.;
        for (Py_ssize_t i = 0; i < n; i++) res += a[i];
        return res;
    }
    if (n <= PW_BLOCKSIZE) {
        double r[8], res;
        Py_ssize_t i;
        for (int j = 0; j < 8; j++) r[j] = a[j];
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + j];
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    Py_ssize_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise(a, n2) + pairwise(a + n2, n - n2);
}

static double segment_sum(const double *a, Py_ssize_t n) {
    return n == 1 ? a[0] : a[0] + pairwise(a + 1, n - 1);
}

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* ---------------------------------------------------------------- histograms */
/* Each value's bucket: a first guess from a table over the top bits of the value (its
 * exponent and GUESS_BITS of its mantissa: cells narrower than a bucket), then the bounds,
 * the least value numpy's bucket_index puts in each bucket, decide. */
#define GUESS_BITS 8
typedef struct {
    const double *bounds;
    Py_ssize_t nb;
    int32_t *guess; /* per cell: the bucket of the least value that reaches it */
    uint64_t base;  /* the cell of bounds[1] */
    vec b, c, offsets; /* int16 buckets, int32 counts, int64 offsets per group */
} hist;

static uint64_t bits_of(double v) {
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static int hist_table(hist *h) {
    const double *bd = h->bounds;
    Py_ssize_t nb = h->nb;
    for (Py_ssize_t m = 1; m < nb; m++)
        if (!(bd[m] >= bd[m - 1]) || !(bd[m] > 0)) return -1;
    h->base = bits_of(bd[1]) >> (52 - GUESS_BITS);
    size_t size = (size_t)((bits_of(bd[nb - 1]) >> (52 - GUESS_BITS)) - h->base + 1);
    h->guess = malloc(size * sizeof(int32_t));
    if (!h->guess) return -1;
    Py_ssize_t m = 1;
    for (size_t j = 0; j < size; j++) {
        uint64_t u = (h->base + j) << (52 - GUESS_BITS);
        double v;
        memcpy(&v, &u, sizeof v);
        if (v < bd[1]) v = bd[1]; /* values below bounds[1] never reach the table */
        while (m + 1 < nb && v >= bd[m + 1]) m++;
        h->guess[j] = (int32_t)m;
    }
    return 0;
}

static inline Py_ssize_t bucket_of(const hist *h, double v) {
    const double *bd = h->bounds;
    if (!(v >= bd[1])) return 0;
    if (v >= bd[h->nb - 1]) return h->nb - 1;
    Py_ssize_t m = h->guess[(bits_of(v) >> (52 - GUESS_BITS)) - h->base];
    m += v >= bd[m + 1]; /* a cell spans at most one bound (cells are narrower) */
    while (v >= bd[m + 1]) m++; /* never taken: the bounds decide all the same */
    return m;
}

static int cmp_i32(const void *x, const void *y) {
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    return (a > b) - (a < b);
}

/* The group's non-empty buckets in order, with their counts: counted into a dense slice
 * when the buckets span few more slots than the group has rows, else sorted. */
static int hist_group(hist *h, const double *v, Py_ssize_t n, int32_t *dense, int32_t *tmp) {
    int32_t lo = INT32_MAX, hi = -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        int32_t m = (int32_t)bucket_of(h, v[i]);
        tmp[i] = m;
        if (m < lo) lo = m;
        if (m > hi) hi = m;
    }
    if ((Py_ssize_t)(hi - lo + 1) <= 8 * n) {
        for (Py_ssize_t i = 0; i < n; i++) dense[tmp[i]]++;
        for (int32_t m = lo; m <= hi; m++) {
            if (dense[m]) {
                if (VEC_PUSH(&h->b, int16_t, (int16_t)m) || VEC_PUSH(&h->c, int32_t, dense[m]))
                    return -1;
                dense[m] = 0;
            }
        }
    } else {
        qsort(tmp, (size_t)n, sizeof(int32_t), cmp_i32);
        for (Py_ssize_t i = 0; i < n;) {
            Py_ssize_t j = i;
            while (j < n && tmp[j] == tmp[i]) j++;
            if (VEC_PUSH(&h->b, int16_t, (int16_t)tmp[i]) ||
                VEC_PUSH(&h->c, int32_t, (int32_t)(j - i)))
                return -1;
            i = j;
        }
    }
    return VEC_PUSH(&h->offsets, int64_t, (int64_t)h->b.len);
}

/* ---------------------------------------------------------------- the pass */
/* An optional number: its values and, where it has nulls, Arrow's validity bitmap (a null
 * reads as NaN, whatever its slot holds). */
typedef struct {
    const double *v;
    const uint8_t *valid; /* NULL: no nulls */
    int64_t off;          /* the bitmap's first bit */
} numcol;

static inline int present(const numcol *c, Py_ssize_t i) {
    if (!c->valid) return 1;
    int64_t b = (int64_t)i + c->off;
    return (c->valid[b >> 3] >> (b & 7)) & 1;
}

static inline double value_at(const numcol *c, Py_ssize_t i) {
    return present(c, i) ? c->v[i] : NAN;
}

typedef struct {
    Py_ssize_t n;
    const int64_t *ts; /* raw units */
    int64_t scale, lo, hi; /* ns per unit; the span allowed, in raw units */
    const int32_t *codes[NCODES];
    uint32_t names[NCODES]; /* how many names each code column has */
    const double *cpu, *mem;
    numcol cur[MAXCUR];
    int ncur, limit; /* limit: which of cur is the memory limit (-1: none) */
    int64_t max_runs; /* more pod runs than this: TOO_MANY (numpy cuts such a chunk) */
    double max_value;
    int hours;
    hist *cpu_h, *mem_h;
    /* outputs */
    int64_t newest;
    vec run_start, run_lo, run_hi;                /* int64 per pod run */
    vec g_start, g_day, g_first, g_last;          /* int64 per group */
    vec cpu_sum, cpu_max, mem_sum, mem_max, hmax; /* double per group (hmax: 24 per group) */
    vec cur_last[MAXCUR];                         /* double per group */
    vec kept;                                     /* int64: rows of limit changes */
    vec scratch; /* int32: a group's buckets */
} pass;

static inline int64_t ns_at(const pass *p, Py_ssize_t i) { return p->ts[i] * p->scale; }

/* The largest of n >= 1 validated values (>= 0, or -0.0), as an integer maximum of their
 * bits without the sign (non-negative doubles order as their bits): vectorised, where the
 * compiler keeps a floating-point maximum scalar for the sake of NaN. */
VECTOR_CLONES static double max_of(const double *v, Py_ssize_t n) {
    const uint64_t *u = (const uint64_t *)v;
    uint64_t m = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t x = u[i] & 0x7fffffffffffffffULL;
        m = x > m ? x : m;
    }
    double out;
    memcpy(&out, &m, sizeof out);
    return out;
}

/* The first of rows [s, e), whose raw times increase, at or past raw time t (e if none). */
static Py_ssize_t first_at(const int64_t *ts, Py_ssize_t s, Py_ssize_t e, int64_t t) {
    while (s < e) {
        Py_ssize_t mid = s + (e - s) / 2;
        if (ts[mid] < t)
            s = mid + 1;
        else
            e = mid;
    }
    return s;
}

/* The least raw time (units of scale ns) at or past ns. */
static int64_t raw_at(int64_t ns, int64_t scale) {
    int64_t q = floor_div(ns, scale);
    return q * scale < ns ? q + 1 : q;
}

static int finish_group(pass *p, Py_ssize_t s, Py_ssize_t e, int32_t *dense) {
    Py_ssize_t n = e - s;
    int64_t first = ns_at(p, s), last = ns_at(p, e - 1);
    const double *cpu = p->cpu, *mem = p->mem;
    double cmax = max_of(cpu + s, n), mmax = max_of(mem + s, n);
    if (p->hours) {
        if (vec_reserve(&p->hmax, 24)) return -1;
        double *h = (double *)p->hmax.data + p->hmax.len;
        /* Times increase within a group: each hour's rows are found by binary search, and
         * their peak taken in one vectorised pass. */
        int64_t day_start = floor_div(first, DAY_NS) * DAY_NS;
        Py_ssize_t a = s;
        for (int k = 0; k < 24; k++) {
            Py_ssize_t b = k == 23 ? e
                                   : first_at(p->ts, a, e,
                                              raw_at(day_start + (k + 1) * HOUR_NS, p->scale));
            h[k] = b > a ? max_of(mem + a, b - a) : NAN;
            a = b;
        }
        p->hmax.len += 24;
    }
    if (VEC_PUSH(&p->g_start, int64_t, (int64_t)s) ||
        VEC_PUSH(&p->g_day, int64_t, floor_div(first, DAY_NS)) ||
        VEC_PUSH(&p->g_first, int64_t, first) || VEC_PUSH(&p->g_last, int64_t, last) ||
        VEC_PUSH(&p->cpu_sum, double, segment_sum(cpu + s, n)) ||
        VEC_PUSH(&p->cpu_max, double, cmax) ||
        VEC_PUSH(&p->mem_sum, double, segment_sum(mem + s, n)) ||
        VEC_PUSH(&p->mem_max, double, mmax))
        return -1;
    for (int c = 0; c < p->ncur; c++) {
        double last_valid = NAN;
        for (Py_ssize_t i = e - 1; i >= s; i--) {
            double v = value_at(&p->cur[c], i);
            if (!isnan(v)) {
                last_valid = v;
                break;
            }
        }
        if (VEC_PUSH(&p->cur_last[c], double, last_valid)) return -1;
    }
    if ((p->cpu_h || p->mem_h) && (size_t)n > p->scratch.cap) {
        p->scratch.len = 0;
        if (vec_reserve(&p->scratch, (size_t)n)) return -1;
    }
    int32_t *tmp = (int32_t *)p->scratch.data;
    if (p->cpu_h && hist_group(p->cpu_h, p->cpu + s, n, dense, tmp)) return -1;
    if (p->mem_h && hist_group(p->mem_h, p->mem + s, n, dense, tmp)) return -1;
    return 0;
}

/* Validation's checks, column by column, in loops the compiler vectorises for the widest
 * vectors the machine has (a clone per instruction set, chosen when the module loads).
 * Read as unsigned integers, non-negative doubles order as their values, and a negative
 * value or NaN reads above them all: one maximum shows the usual column in range. */

VECTOR_CLONES static uint64_t max_bits(const double *v, Py_ssize_t n) {
    const uint64_t *u = (const uint64_t *)v;
    uint64_t m = 0;
    for (Py_ssize_t i = 0; i < n; i++) m = u[i] > m ? u[i] : m;
    return m;
}

VECTOR_CLONES static int in_range(const double *v, Py_ssize_t n, double max_value,
                                  int optional) {
    unsigned char ok = 1;
    if (optional)
        for (Py_ssize_t i = 0; i < n; i++)
            ok &= ((v[i] >= 0) & (v[i] <= max_value)) | (v[i] != v[i]);
    else
        for (Py_ssize_t i = 0; i < n; i++) ok &= (v[i] >= 0) & (v[i] <= max_value);
    return ok;
}

static int numbers_ok(const double *v, Py_ssize_t n, double max_value, int optional) {
    return max_bits(v, n) <= bits_of(max_value) || in_range(v, n, max_value, optional);
}

/* A column with nulls: what a null's slot holds does not count (Arrow leaves it unset). */
static int optional_ok(const numcol *c, Py_ssize_t n, double max_value) {
    if (max_bits(c->v, n) <= bits_of(max_value)) return 1;
    if (!c->valid) return in_range(c->v, n, max_value, 1);
    for (Py_ssize_t i = 0; i < n; i++) {
        double x = c->v[i];
        if (present(c, i) && !(x >= 0 && x <= max_value) && x == x) return 0;
    }
    return 1;
}

/* Every code names one of the column's names (a damaged file's may not). */
VECTOR_CLONES static uint32_t max_code(const int32_t *c, Py_ssize_t n) {
    const uint32_t *u = (const uint32_t *)c; /* a negative code reads as a huge one */
    uint32_t m = 0;
    for (Py_ssize_t i = 0; i < n; i++) m = u[i] > m ? u[i] : m;
    return m;
}

VECTOR_CLONES static int times_ok(const int64_t *ts, Py_ssize_t n, int64_t lo, int64_t hi,
                                  int64_t *newest) {
    unsigned char ok = 1;
    int64_t mx = INT64_MIN;
    for (Py_ssize_t i = 0; i < n; i++) {
        ok &= (ts[i] >= lo) & (ts[i] <= hi);
        mx = ts[i] > mx ? ts[i] : mx;
    }
    *newest = mx;
    return ok;
}

/* The rows are taken a block at a time, checked and then rolled up while they are in the
 * cache: one pass over memory instead of one per check. */
#define BLOCK 8192

/* Of the rows with a limit, in each pod run: the first and the last, and every one whose
 * limit differs from the row with one before (LimitChanges' rule), a block at a time. */
typedef struct {
    Py_ssize_t prev; /* the last row with a limit so far (-1: none) */
    double prev_v;
    Py_ssize_t kept_last;
    size_t run; /* the run of the rows reached */
} limits;

static int limit_block(pass *p, limits *st, Py_ssize_t b, Py_ssize_t e) {
    const numcol *lim = &p->cur[p->limit];
    const int64_t *rs = (const int64_t *)p->run_start.data;
    size_t nruns = p->run_start.len;
    for (Py_ssize_t i = b; i < e; i++) {
        double v = value_at(lim, i);
        if (v != v) continue;
        while (st->run + 1 < nruns && rs[st->run + 1] <= i) st->run++;
        int first = st->prev < rs[st->run]; /* the run's first row with a limit */
        if (first && st->prev >= 0 && st->prev > st->kept_last) { /* the pod before's last */
            if (VEC_PUSH(&p->kept, int64_t, (int64_t)st->prev)) return -1;
            st->kept_last = st->prev;
        }
        if (first || v != st->prev_v) {
            if (VEC_PUSH(&p->kept, int64_t, (int64_t)i)) return -1;
            st->kept_last = i;
        }
        st->prev = i;
        st->prev_v = v;
    }
    return 0;
}

static int block_ok(pass *p, Py_ssize_t b, Py_ssize_t m) {
    int64_t newest;
    if (!times_ok(p->ts + b, m, p->lo, p->hi, &newest)) return BAD_TIME;
    if (newest > p->newest) p->newest = newest;
    if (!numbers_ok(p->cpu + b, m, p->max_value, 0) ||
        !numbers_ok(p->mem + b, m, p->max_value, 0))
        return BAD_VALUE;
    for (int c = 0; c < p->ncur; c++) {
        numcol part = {p->cur[c].v + b, p->cur[c].valid, p->cur[c].off + b};
        if (!optional_ok(&part, m, p->max_value)) return BAD_VALUE;
    }
    for (int c = 0; c < NCODES; c++)
        if (max_code(p->codes[c] + b, m) >= p->names[c]) return BAD_VALUE;
    return OK;
}

/* Per row of [b, e) (b > 0 or from row 1): whether its pod differs from the row before's
 * (chg), and whether any row of the same pod as the row before goes back or stands still
 * in time (the result).  Branch-free, vectorised. */
VECTOR_CLONES static int pod_changes(const int32_t *c0, const int32_t *c1, const int32_t *c2,
                                     const int32_t *c3, const int64_t *ts, Py_ssize_t b,
                                     Py_ssize_t e, uint8_t *chg) {
    unsigned char back = 0;
    for (Py_ssize_t i = b; i < e; i++) {
        unsigned char c = ((c0[i] ^ c0[i - 1]) | (c1[i] ^ c1[i - 1]) | (c2[i] ^ c2[i - 1]) |
                           (c3[i] ^ c3[i - 1])) != 0;
        chg[i - b] = c;
        back |= (unsigned char)(!c & (ts[i] <= ts[i - 1]));
    }
    return back;
}

/* The first row of [i, e) whose byte in chg (indexed from b) is set; e if none. */
static Py_ssize_t next_change(const uint8_t *chg, Py_ssize_t b, Py_ssize_t i, Py_ssize_t e) {
    while (i < e && ((i - b) & 7)) {
        if (chg[i - b]) return i;
        i++;
    }
    for (; i + 8 <= e; i += 8) {
        uint64_t w;
        memcpy(&w, chg + (i - b), sizeof w);
        if (w) return i + __builtin_ctzll(w) / 8;
    }
    for (; i < e; i++)
        if (chg[i - b]) return i;
    return e;
}

/* The limit's rows of [b, e) that LimitChanges keeps, for a block without nulls or NaN:
 * where the limit changes, and each run's first and last row. */
static int limit_block_clean(pass *p, limits *st, Py_ssize_t b, Py_ssize_t e) {
    const double *v = p->cur[p->limit].v;
    const int64_t *rs = (const int64_t *)p->run_start.data;
    size_t nruns = p->run_start.len;
    Py_ssize_t i = b;
    while (i < e) {
        while (st->run + 1 < nruns && rs[st->run + 1] <= i) st->run++;
        if (st->prev < rs[st->run]) { /* the run's first row */
            if (st->prev >= 0 && st->prev > st->kept_last) {
                if (VEC_PUSH(&p->kept, int64_t, (int64_t)st->prev)) return -1;
                st->kept_last = st->prev;
            }
            if (VEC_PUSH(&p->kept, int64_t, (int64_t)i)) return -1;
            st->kept_last = i;
            st->prev_v = v[i];
            st->prev = i++;
            continue;
        }
        Py_ssize_t stop = st->run + 1 < nruns && rs[st->run + 1] < e ? rs[st->run + 1] : e;
        double pv = st->prev_v;
        for (; i < stop; i++) {
            if (v[i] != pv) {
                if (VEC_PUSH(&p->kept, int64_t, (int64_t)i)) return -1;
                st->kept_last = i;
                pv = v[i];
            }
        }
        st->prev_v = pv;
        st->prev = stop - 1;
    }
    return 0;
}

static int run_pass(pass *p, int32_t *dense) {
    Py_ssize_t n = p->n;
    p->newest = INT64_MIN;
    if (n == 0) return OK;
    const int64_t *ts = p->ts, scale = p->scale;
    uint8_t chg[BLOCK];
    Py_ssize_t gs = 0;
    int64_t day_hi = 0; /* the group's day ends at this raw time */
    limits st = {-1, 0, -1, 0};
    for (Py_ssize_t b = 0; b < n; b += BLOCK) {
        Py_ssize_t e = b + BLOCK < n ? b + BLOCK : n;
        int status = block_ok(p, b, e - b);
        if (status != OK) return status;
        Py_ssize_t i = b;
        if (b == 0) {
            int64_t t = ts[0] * scale;
            day_hi = raw_at(floor_div(t, DAY_NS) * DAY_NS + DAY_NS, scale);
            if (VEC_PUSH(&p->run_start, int64_t, 0) || VEC_PUSH(&p->run_lo, int64_t, t))
                return NO_MEMORY;
            i = 1;
        }
        Py_ssize_t base = i; /* chg[k - base]: whether row k's pod is not row k-1's */
        if (i < e && pod_changes(p->codes[0], p->codes[1], p->codes[2], p->codes[3], ts, i,
                                 e, chg))
            return NOT_RUNS;
        /* Between two pod changes the rows are one pod in increasing time: where its day
         * ends is found by binary search, not row by row. */
        while (i < e) {
            Py_ssize_t j = next_change(chg, base, i, e);
            while (i < j && ts[j - 1] >= day_hi) {
                Py_ssize_t k = first_at(ts, i, j, day_hi);
                if (finish_group(p, gs, k, dense)) return NO_MEMORY;
                gs = k;
                day_hi = raw_at(floor_div(ts[k] * scale, DAY_NS) * DAY_NS + DAY_NS, scale);
                i = k + 1;
            }
            if (j == e) break;
            int64_t t = ts[j] * scale; /* a new pod */
            if ((int64_t)p->run_start.len >= p->max_runs) return TOO_MANY;
            if (finish_group(p, gs, j, dense)) return NO_MEMORY;
            gs = j;
            day_hi = raw_at(floor_div(t, DAY_NS) * DAY_NS + DAY_NS, scale);
            if (VEC_PUSH(&p->run_hi, int64_t, ts[j - 1] * scale) ||
                VEC_PUSH(&p->run_start, int64_t, (int64_t)j) ||
                VEC_PUSH(&p->run_lo, int64_t, t))
                return NO_MEMORY;
            i = j + 1;
        }
        if (p->limit >= 0) {
            int clean = p->cur[p->limit].valid == NULL &&
                        max_bits(p->cur[p->limit].v + b, e - b) <= bits_of(p->max_value);
            if ((clean ? limit_block_clean(p, &st, b, e) : limit_block(p, &st, b, e)))
                return NO_MEMORY;
        }
    }
    p->newest *= scale;
    if (VEC_PUSH(&p->run_hi, int64_t, ts[n - 1] * scale) || finish_group(p, gs, n, dense))
        return NO_MEMORY;
    if (st.prev > st.kept_last && VEC_PUSH(&p->kept, int64_t, (int64_t)st.prev))
        return NO_MEMORY;
    return OK;
}

/* ---------------------------------------------------------------- Python glue */
typedef struct {
    Py_buffer views[NCODES + 2 * MAXCUR + 8];
    int used;
} views;

static int take(views *vs, PyObject *obj, Py_ssize_t itemsize, Py_ssize_t n, const void **out,
                const char *what) {
    Py_buffer *b = &vs->views[vs->used];
    if (PyObject_GetBuffer(obj, b, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    vs->used++;
    if (b->itemsize != itemsize || (n >= 0 && b->len != n * itemsize)) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd items of %zd bytes", what, n, itemsize);
        return -1;
    }
    *out = b->buf;
    return 0;
}

static void release(views *vs) {
    for (int i = 0; i < vs->used; i++) PyBuffer_Release(&vs->views[i]);
}

static int take_hist(views *vs, PyObject *bounds, hist *h, const char *what) {
    const void *buf;
    if (take(vs, bounds, sizeof(double), -1, &buf, what)) return -1;
    h->bounds = buf;
    h->nb = vs->views[vs->used - 1].len / (Py_ssize_t)sizeof(double);
    if (h->nb < 2 || hist_table(h)) {
        PyErr_Format(PyExc_ValueError, "%s: at least two increasing positive bounds", what);
        return -1;
    }
    h->b.item = sizeof(int16_t);
    h->c.item = sizeof(int32_t);
    h->offsets.item = sizeof(int64_t);
    return VEC_PUSH(&h->offsets, int64_t, 0) ? (PyErr_NoMemory(), -1) : 0;
}

static void free_hist(hist *h) {
    free(h->guess);
    free(h->b.data);
    free(h->c.data);
    free(h->offsets.data);
}

static PyObject *hist_out(hist *h) {
    if (!h) Py_RETURN_NONE;
    return Py_BuildValue("(NNN)", vec_bytes(&h->b), vec_bytes(&h->c), vec_bytes(&h->offsets));
}

static PyObject *scan(PyObject *self, PyObject *args) {
    PyObject *ts, *codes, *sizes, *cpu, *mem, *curs, *cpu_spec, *mem_spec;
    long long scale, lo, hi;
    int limit, hours;
    double max_value;
    long long max_runs;
    if (!PyArg_ParseTuple(args, "OLLLOOOOOidpOOL", &ts, &scale, &lo, &hi, &codes, &sizes, &cpu,
                          &mem, &curs, &limit, &max_value, &hours, &cpu_spec, &mem_spec,
                          &max_runs))
        return NULL;
    views vs = {.used = 0};
    pass p;
    memset(&p, 0, sizeof p);
    hist ch, mh;
    memset(&ch, 0, sizeof ch);
    memset(&mh, 0, sizeof mh);
    PyObject *result = NULL;
    const void *buf;
    if (take(&vs, ts, 8, -1, &buf, "ts")) goto done;
    p.ts = buf;
    p.n = vs.views[0].len / 8;
    p.scale = scale;
    p.lo = lo;
    p.hi = hi;
    if (!PyTuple_Check(codes) || PyTuple_GET_SIZE(codes) != NCODES || !PyTuple_Check(sizes) ||
        PyTuple_GET_SIZE(sizes) != NCODES || !PyTuple_Check(curs) ||
        PyTuple_GET_SIZE(curs) > MAXCUR) {
        PyErr_SetString(PyExc_ValueError, "four code columns and at most eight others");
        goto done;
    }
    for (int c = 0; c < NCODES; c++) {
        if (take(&vs, PyTuple_GET_ITEM(codes, c), 4, p.n, &buf, "codes")) goto done;
        p.codes[c] = buf;
        unsigned long size = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(sizes, c));
        if (PyErr_Occurred()) goto done;
        p.names[c] = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
    }
    if (take(&vs, cpu, 8, p.n, &buf, "cpu")) goto done;
    p.cpu = buf;
    if (take(&vs, mem, 8, p.n, &buf, "mem")) goto done;
    p.mem = buf;
    p.ncur = (int)PyTuple_GET_SIZE(curs);
    for (int c = 0; c < p.ncur; c++) {
        /* (values, validity bitmap or None, the bitmap's first bit) */
        PyObject *values, *valid;
        long long off;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(curs, c), "OOL", &values, &valid, &off))
            goto done;
        if (take(&vs, values, 8, p.n, &buf, "number")) goto done;
        p.cur[c].v = buf;
        p.cur[c].off = off;
        if (valid != Py_None) {
            if (take(&vs, valid, 1, -1, &buf, "validity")) goto done;
            if (off < 0 || vs.views[vs.used - 1].len * 8 < off + p.n) {
                PyErr_SetString(PyExc_ValueError, "validity: too short");
                goto done;
            }
            p.cur[c].valid = buf;
        }
    }
    p.limit = limit < p.ncur ? limit : -1;
    p.max_value = max_value;
    p.max_runs = max_runs;
    p.hours = hours;
    if (cpu_spec != Py_None) {
        if (take_hist(&vs, cpu_spec, &ch, "cpu bounds")) goto done;
        p.cpu_h = &ch;
    }
    if (mem_spec != Py_None) {
        if (take_hist(&vs, mem_spec, &mh, "memory bounds")) goto done;
        p.mem_h = &mh;
    }
    vec *i64[] = {&p.run_start, &p.run_lo, &p.run_hi, &p.g_start, &p.g_day, &p.g_first,
                  &p.g_last, &p.kept};
    for (size_t k = 0; k < sizeof i64 / sizeof *i64; k++) i64[k]->item = 8;
    vec *f64[] = {&p.cpu_sum, &p.cpu_max, &p.mem_sum, &p.mem_max, &p.hmax};
    for (size_t k = 0; k < sizeof f64 / sizeof *f64; k++) f64[k]->item = 8;
    for (int c = 0; c < MAXCUR; c++) p.cur_last[c].item = 8;
    Py_ssize_t nb = 1;
    if (p.cpu_h && p.cpu_h->nb > nb) nb = p.cpu_h->nb;
    if (p.mem_h && p.mem_h->nb > nb) nb = p.mem_h->nb;
    p.scratch.item = sizeof(int32_t);
    int32_t *dense = calloc((size_t)nb, sizeof(int32_t));
    int status;
    if (!dense) {
        status = NO_MEMORY;
    } else {
        Py_BEGIN_ALLOW_THREADS
        status = run_pass(&p, dense);
        Py_END_ALLOW_THREADS
    }
    free(dense);
    free(p.scratch.data);
    if (status == NO_MEMORY) {
        PyErr_NoMemory();
        goto done;
    }
    if (status != OK) {
        result = Py_BuildValue("(i)", status);
        goto done;
    }
    PyObject *cur = PyTuple_New(p.ncur);
    if (!cur) goto done;
    for (int c = 0; c < p.ncur; c++) PyTuple_SET_ITEM(cur, c, vec_bytes(&p.cur_last[c]));
    result = Py_BuildValue(
        "(iLNNNNNNNNNNNNNNNN)", status, (long long)p.newest, vec_bytes(&p.run_start),
        vec_bytes(&p.run_lo), vec_bytes(&p.run_hi), vec_bytes(&p.g_start), vec_bytes(&p.g_day),
        vec_bytes(&p.g_first), vec_bytes(&p.g_last), vec_bytes(&p.cpu_sum),
        vec_bytes(&p.cpu_max), vec_bytes(&p.mem_sum), vec_bytes(&p.mem_max),
        p.hours ? vec_bytes(&p.hmax) : (Py_INCREF(Py_None), Py_None), cur,
        hist_out(p.cpu_h), hist_out(p.mem_h), vec_bytes(&p.kept));
done:
    release(&vs);
    vec *all[] = {&p.run_start, &p.run_lo, &p.run_hi, &p.g_start, &p.g_day, &p.g_first,
                  &p.g_last, &p.kept, &p.cpu_sum, &p.cpu_max, &p.mem_sum, &p.mem_max, &p.hmax};
    for (size_t k = 0; k < sizeof all / sizeof *all; k++) free(all[k]->data);
    for (int c = 0; c < MAXCUR; c++) free(p.cur_last[c].data);
    free_hist(&ch);
    free_hist(&mh);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(ts, scale, lo, hi, codes, names, cpu, mem, numbers, limit, max_value, hours, "
     "cpu_bounds, mem_bounds, max_runs): one chunk's checks, pod runs, limit changes and "
     "per-day rollup; see "
     "quotatune.rollup.scan."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "scanpass",
                                    "The compiled pass over a chunk of samples.", -1, methods};

PyMODINIT_FUNC PyInit_scanpass(void) { return PyModule_Create(&module); }
