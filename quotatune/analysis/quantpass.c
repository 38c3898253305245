/* Quantiles of each container's histogram of counts, from its rollup rows' non-empty
 * buckets (docs/architecture.md, "The compiled pass"): what
 * quotatune/analysis/summary.py's dense blocks find (a dense row of every bucket per
 * container, one cumulative sum, one binary search), found the same way, value for value,
 * without the dense rows.  The arithmetic is the numpy path's, operation for operation:
 * counts are whole, so their sums are exact in any order; each share is the running count
 * divided by the total, plus the row's place in its block, as the numpy path adds it (the
 * rounding of that addition is part of the answer); the fraction into the bucket is
 * clipped as numpy's clip does.  It returns each quantile's bucket and fraction; the bucket
 * bounds and the interpolation stay in numpy.
 *
 * Inputs are read-only C-contiguous buffers; outputs are bytearrays the caller views with
 * numpy.  The GIL is released for the pass. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const int64_t *order, *bounds, *offsets;
    const int16_t *buckets;
    const int32_t *counts;
    const double *qs;
    Py_ssize_t n, nq, nb, step, nrows, nentries;
    int64_t *b_out;
    double *frac_out, *total_out;
} job;

/* The running count up to bucket b of a row whose counts are dense[lo..hi] (cum holds
 * their running sums): zero below lo, the total above hi. */
static inline double cum_at(const double *cum, Py_ssize_t lo, Py_ssize_t hi, double total,
                            Py_ssize_t b) {
    return b < lo ? 0.0 : b > hi ? total : cum[b];
}

/* 0: done; 1: a bucket or row out of range (the caller takes the numpy path). */
static int run(job *j, double *dense, double *cum) {
    Py_ssize_t nb = j->nb;
    for (Py_ssize_t i = 0; i < j->n; i++) {
        Py_ssize_t lo = nb, hi = -1;
        double total = 0.0;
        for (int64_t k = j->bounds[i]; k < j->bounds[i + 1]; k++) {
            int64_t r = j->order[k];
            if (r < 0 || r >= j->nrows) return 1;
            int64_t a = j->offsets[r], e = j->offsets[r + 1];
            if (a < 0 || e < a || e > j->nentries) return 1;
            for (int64_t x = a; x < e; x++) {
                Py_ssize_t b = j->buckets[x];
                if (b < 0 || b >= nb) return 1;
                if (b < lo) {
                    for (Py_ssize_t y = b; y < (hi < 0 ? b : lo); y++) dense[y] = 0.0;
                    lo = b;
                }
                if (b > hi) {
                    for (Py_ssize_t y = (hi < 0 ? b : hi + 1); y <= b; y++) dense[y] = 0.0;
                    hi = b;
                }
                dense[b] += (double)j->counts[x];
            }
        }
        for (Py_ssize_t b = lo; b <= hi; b++) {
            total += dense[b];
            cum[b] = total;
        }
        j->total_out[i] = total;
        double safe = total > 0 ? total : 1.0;
        double row = (double)(i % j->step);
        for (Py_ssize_t q = 0; q < j->nq; q++) {
            int64_t *b_at = &j->b_out[i * j->nq + q];
            double *f_at = &j->frac_out[i * j->nq + q];
            if (!(total > 0)) {
                *b_at = 0;
                *f_at = 0.0;
                continue;
            }
            double target = row + j->qs[q];
            /* The first bucket whose share, offset by the row, reaches the target. */
            Py_ssize_t a = 0, e = nb;
            while (a < e) {
                Py_ssize_t m = a + (e - a) / 2;
                double share = cum_at(cum, lo, hi, total, m) / safe + row;
                if (share >= target)
                    e = m;
                else
                    a = m + 1;
            }
            Py_ssize_t b = a < nb ? a : nb - 1;
            double inside = (b >= lo && b <= hi ? dense[b] : 0.0) / safe;
            double before = ((cum_at(cum, lo, hi, total, b) / safe + row) - row) - inside;
            double f = (j->qs[q] - before) / (inside > 0 ? inside : 1.0);
            f = f > 0.0 ? f : 0.0; /* numpy's clip: max, then min, NaN aside */
            f = f < 1.0 ? f : 1.0;
            *b_at = b;
            *f_at = f;
        }
    }
    return 0;
}

typedef struct {
    Py_buffer views[7];
    int used;
} views;

static int take(views *vs, PyObject *obj, Py_ssize_t itemsize, Py_ssize_t n, const void **out,
                Py_ssize_t *len, const char *what) {
    Py_buffer *b = &vs->views[vs->used];
    if (PyObject_GetBuffer(obj, b, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    vs->used++;
    if (b->itemsize != itemsize || (n >= 0 && b->len != n * itemsize)) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd items of %zd bytes", what, n, itemsize);
        return -1;
    }
    *out = b->buf;
    if (len) *len = b->len / itemsize;
    return 0;
}

static PyObject *quantiles(PyObject *self, PyObject *args) {
    PyObject *order, *bounds, *offsets, *buckets, *counts, *qs;
    Py_ssize_t nb, step;
    if (!PyArg_ParseTuple(args, "OOOOOnnO", &order, &bounds, &offsets, &buckets, &counts, &nb,
                          &step, &qs))
        return NULL;
    if (nb < 1 || step < 1) {
        PyErr_SetString(PyExc_ValueError, "at least one bucket and one row per block");
        return NULL;
    }
    views vs = {.used = 0};
    job j;
    memset(&j, 0, sizeof j);
    PyObject *result = NULL, *b_out = NULL, *f_out = NULL, *t_out = NULL;
    const void *buf;
    Py_ssize_t norder, nbounds;
    if (take(&vs, order, 8, -1, &buf, &norder, "order")) goto done;
    j.order = buf;
    if (take(&vs, bounds, 8, -1, &buf, &nbounds, "bounds")) goto done;
    j.bounds = buf;
    if (take(&vs, offsets, 8, -1, &buf, &j.nrows, "offsets")) goto done;
    j.offsets = buf;
    j.nrows -= 1;
    if (take(&vs, buckets, 2, -1, &buf, &j.nentries, "buckets")) goto done;
    j.buckets = buf;
    if (take(&vs, counts, 4, j.nentries, &buf, NULL, "counts")) goto done;
    j.counts = buf;
    if (take(&vs, qs, 8, -1, &buf, &j.nq, "quantiles")) goto done;
    j.qs = buf;
    j.n = nbounds - 1;
    if (j.n < 0 || j.nrows < 0 || j.bounds[0] != 0 || j.bounds[j.n] > norder) {
        PyErr_SetString(PyExc_ValueError, "bounds: n + 1 increasing positions in order");
        goto done;
    }
    for (Py_ssize_t i = 0; i < j.n; i++)
        if (j.bounds[i + 1] < j.bounds[i]) {
            PyErr_SetString(PyExc_ValueError, "bounds: n + 1 increasing positions in order");
            goto done;
        }
    j.nb = nb;
    j.step = step;
    b_out = PyByteArray_FromStringAndSize(NULL, j.n * j.nq * 8);
    f_out = PyByteArray_FromStringAndSize(NULL, j.n * j.nq * 8);
    t_out = PyByteArray_FromStringAndSize(NULL, j.n * 8);
    if (!b_out || !f_out || !t_out) goto done;
    j.b_out = (int64_t *)PyByteArray_AS_STRING(b_out);
    j.frac_out = (double *)PyByteArray_AS_STRING(f_out);
    j.total_out = (double *)PyByteArray_AS_STRING(t_out);
    double *dense = malloc((size_t)nb * sizeof(double));
    double *cum = malloc((size_t)nb * sizeof(double));
    int status = -1;
    if (dense && cum) {
        Py_BEGIN_ALLOW_THREADS
        status = run(&j, dense, cum);
        Py_END_ALLOW_THREADS
    }
    free(dense);
    free(cum);
    if (status < 0) {
        PyErr_NoMemory();
        goto done;
    }
    if (status > 0) {
        result = Py_None;
        Py_INCREF(result);
        goto done;
    }
    result = Py_BuildValue("(OOO)", b_out, f_out, t_out);
done:
    for (int i = 0; i < vs.used; i++) PyBuffer_Release(&vs.views[i]);
    Py_XDECREF(b_out);
    Py_XDECREF(f_out);
    Py_XDECREF(t_out);
    return result;
}

static PyMethodDef methods[] = {
    {"quantiles", quantiles, METH_VARARGS,
     "quantiles(order, bounds, offsets, buckets, counts, nbuckets, step, qs): per container, "
     "each quantile's bucket and fraction into it, and the total count, or None for a bucket "
     "or row out of range; see quotatune.analysis.quantiles."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "quantpass",
                                    "Quantiles of histograms of counts, compiled.", -1, methods};

PyMODINIT_FUNC PyInit_quantpass(void) { return PyModule_Create(&module); }
