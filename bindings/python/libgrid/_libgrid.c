/*
 * _libgrid: the C extension under the libgrid package, a thin layer over the C API.
 *
 * The Python-facing class Grid lives in __init__.py; this module gives it a Layer
 * type owning an lg_layer and a few functions. Errors become the exception classes
 * of libgrid._errors.ERRORS (one table, looked up by lg_error code); the message is
 * the library's own. Batch loops run without the GIL, in chunks, with a signal check
 * between chunks so Ctrl-C works on big inputs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <numpy/arrayobject.h>

#include "libgrid.h"

#include <math.h>
#include <string.h>
#include <time.h>

/* Points per GIL-free chunk: big enough to amortise, small enough for Ctrl-C. */
#define LOCATE_CHUNK ((npy_intp)1 << 20)

static PyObject *error_table; /* dict: int code -> exception class */

/* ----------------------------------------------------------------- errors */

static PyObject *raise_code(lg_error err, const char *msg)
{
    PyObject *cls = NULL;
    PyObject *key = PyLong_FromLong((long)err);
    if (key && error_table)
        cls = PyDict_GetItemWithError(error_table, key); /* borrowed */
    Py_XDECREF(key);
    if (PyErr_Occurred())
        return NULL;
    if (!cls)
        cls = PyExc_OSError; /* unreachable while the table covers every code */
    const char *m = msg && *msg ? msg : lg_strerror(err);
    /* decoded leniently: a message may quote a file's non-UTF-8 bytes */
    PyObject *str = PyUnicode_DecodeUTF8(m, (Py_ssize_t)strlen(m), "replace");
    if (!str)
        return NULL;
    PyErr_SetObject(cls, str);
    Py_DECREF(str);
    return NULL;
}

/* Raise for a failed call made with ctx; a pending Python error (Ctrl-C) wins. */
static PyObject *raise_ctx(lg_error err, const lg_context *ctx)
{
    if (PyErr_Occurred())
        return NULL;
    return raise_code(err, ctx ? lg_context_message(ctx) : NULL);
}

static lg_context *new_context(void);

/* A C string from the library as str: invalid UTF-8 (a file's bytes, or an unverified
 * corrupt snapshot) is replaced, never an exception; NULL gives None. */
static PyObject *text(const char *s)
{
    if (!s)
        Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
}

/*
 * Progress callback for long calls made without the GIL: at most every 50 ms it takes
 * the GIL back to run the signal handlers, and cancels on Ctrl-C (the KeyboardInterrupt
 * stays set in this thread and wins over the library's LG_ERR_CANCELLED).
 */
typedef struct progress_state {
    int interrupted;
    struct timespec last;
} progress_state;

static void progress_init(progress_state *ps)
{
    ps->interrupted = 0;
    clock_gettime(CLOCK_MONOTONIC, &ps->last);
}

static bool progress_check_signals(uint64_t done, uint64_t total, void *udata)
{
    (void)done;
    (void)total;
    progress_state *ps = udata;
    if (ps->interrupted)
        return false;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double dt =
        (double)(now.tv_sec - ps->last.tv_sec) + 1e-9 * (double)(now.tv_nsec - ps->last.tv_nsec);
    if (dt < 0.05)
        return true;
    ps->last = now;
    PyGILState_STATE st = PyGILState_Ensure();
    if (PyErr_CheckSignals() != 0)
        ps->interrupted = 1;
    PyGILState_Release(st);
    return !ps->interrupted;
}

static lg_context *new_context(void)
{
    lg_context *ctx = NULL;
    lg_error e = lg_context_new(NULL, &ctx);
    if (e != LG_OK) {
        raise_code(e, "cannot create a libgrid context");
        return NULL;
    }
    return ctx;
}

/* ----------------------------------------------------------------- Layer */

typedef struct {
    PyObject_HEAD lg_layer *layer;
} LayerObject;

static PyTypeObject LayerType;

static PyObject *wrap_layer(lg_layer *layer)
{
    LayerObject *self = PyObject_New(LayerObject, &LayerType);
    if (!self) {
        lg_layer_free(layer);
        return NULL;
    }
    self->layer = layer;
    return (PyObject *)self;
}

static void Layer_dealloc(LayerObject *self)
{
    lg_layer_free(self->layer);
    PyObject_Free(self);
}

static Py_ssize_t Layer_len(LayerObject *self)
{
    return (Py_ssize_t)lg_layer_count(self->layer);
}

static PyObject *Layer_get_crs(LayerObject *self, void *closure)
{
    (void)closure;
    return text(lg_layer_crs(self->layer));
}

static PyObject *Layer_get_bounds(LayerObject *self, void *closure)
{
    (void)closure;
    double b[4];
    if (!lg_layer_bounds(self->layer, b))
        b[0] = b[1] = b[2] = b[3] = NAN;
    return Py_BuildValue("(dddd)", b[0], b[1], b[2], b[3]);
}

static PyObject *Layer_get_id_field(LayerObject *self, void *closure)
{
    (void)closure;
    int64_t f = lg_layer_id_field(self->layer);
    if (f == LG_NONE)
        Py_RETURN_NONE;
    return PyLong_FromLongLong(f);
}

static const char *type_name(lg_field_type t)
{
    switch (t) {
    case LG_FIELD_INT: return "int";
    case LG_FIELD_REAL: return "real";
    case LG_FIELD_TEXT: return "text";
    }
    return "unknown";
}

static PyObject *Layer_fields(LayerObject *self, PyObject *unused)
{
    (void)unused;
    size_t n = lg_layer_field_count(self->layer);
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (!list)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        PyObject *t = Py_BuildValue("(Ns)", text(lg_layer_field_name(self->layer, i)),
                                    type_name(lg_layer_field_type(self->layer, i)));
        if (!t) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
    return list;
}

static PyObject *Layer_field_index(LayerObject *self, PyObject *args)
{
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name))
        return NULL;
    size_t f;
    lg_error e = lg_layer_field_index(self->layer, name, &f);
    if (e == LG_ERR_NOT_FOUND) {
        char msg[512];
        PyOS_snprintf(msg, sizeof msg, "no field '%s' in the grid", name);
        return raise_code(e, msg);
    }
    if (e != LG_OK)
        return raise_code(e, NULL);
    return PyLong_FromSize_t(f);
}

/*
 * column(field) -> (values, nulls): INT int64, REAL float64 (NaN for nulls), TEXT an
 * object array of str (None for nulls); nulls is a bool array, or None if no nulls.
 */
static PyObject *Layer_column(LayerObject *self, PyObject *args)
{
    Py_ssize_t f;
    if (!PyArg_ParseTuple(args, "n", &f))
        return NULL;
    const lg_layer *l = self->layer;
    if (f < 0 || (size_t)f >= lg_layer_field_count(l))
        return raise_code(LG_ERR_ARG, "field index out of range");
    lg_field_type t = lg_layer_field_type(l, (size_t)f);
    npy_intp n = (npy_intp)lg_layer_count(l);
    int typenum = t == LG_FIELD_INT ? NPY_INT64 : t == LG_FIELD_REAL ? NPY_FLOAT64 : NPY_OBJECT;
    PyArrayObject *vals = (PyArrayObject *)PyArray_ZEROS(1, &n, typenum, 0);
    PyArrayObject *nulls = (PyArrayObject *)PyArray_ZEROS(1, &n, NPY_BOOL, 0);
    if (!vals || !nulls)
        goto fail;
    npy_bool *nl = PyArray_DATA(nulls);
    bool any_null = false;
    for (npy_intp i = 0; i < n; i++) {
        if (lg_layer_is_null(l, (size_t)f, (size_t)i)) {
            nl[i] = 1;
            any_null = true;
        }
    }
    if (t == LG_FIELD_INT) {
        int64_t *v = PyArray_DATA(vals);
        for (npy_intp i = 0; i < n; i++)
            if (!nl[i] && lg_layer_get_int(l, (size_t)f, (size_t)i, &v[i]) != LG_OK)
                v[i] = 0;
    } else if (t == LG_FIELD_REAL) {
        double *v = PyArray_DATA(vals);
        for (npy_intp i = 0; i < n; i++)
            if (nl[i] || lg_layer_get_real(l, (size_t)f, (size_t)i, &v[i]) != LG_OK)
                v[i] = NAN;
    } else {
        PyObject **v = PyArray_DATA(vals);
        for (npy_intp i = 0; i < n; i++) {
            const char *s;
            PyObject *o;
            if (nl[i] || lg_layer_get_text(l, (size_t)f, (size_t)i, &s) != LG_OK) {
                o = Py_None;
                Py_INCREF(o);
            } else {
                o = PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
                if (!o)
                    goto fail;
            }
            Py_XDECREF(v[i]); /* ZEROS of NPY_OBJECT holds None or NULL */
            v[i] = o;
        }
    }
    if (!any_null) {
        Py_DECREF(nulls);
        return Py_BuildValue("(NO)", vals, Py_None);
    }
    return Py_BuildValue("(NN)", vals, nulls);
fail:
    Py_XDECREF(vals);
    Py_XDECREF(nulls);
    return NULL;
}

static PyObject *Layer_problems(LayerObject *self, PyObject *unused)
{
    (void)unused;
    static const char *kinds[] = {"",        "invalid", "repaired", "empty", "duplicate_id",
                                  "null_id", "overlap"};
    size_t n = lg_layer_problem_count(self->layer);
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (!list)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        int64_t row = LG_NONE;
        lg_problem_kind kind = 0;
        double x = NAN, y = NAN;
        const char *msg = NULL;
        lg_layer_problem(self->layer, i, &row, &kind, &x, &y, &msg);
        const char *k = (int)kind >= 1 && (int)kind <= 6 ? kinds[kind] : "unknown";
        PyObject *t = Py_BuildValue("(LsddN)", (long long)row, k, x, y, text(msg ? msg : ""));
        if (!t) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
    return list;
}

static PyObject *Layer_find_id(LayerObject *self, PyObject *arg)
{
    if (PyUnicode_Check(arg)) {
        const char *s = PyUnicode_AsUTF8(arg);
        if (!s)
            return NULL;
        return PyLong_FromLongLong(lg_layer_find_id_text(self->layer, s));
    }
    PyObject *idx = PyNumber_Index(arg);
    if (!idx)
        return NULL;
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(idx, &overflow);
    Py_DECREF(idx);
    if (v == -1 && PyErr_Occurred())
        return NULL;
    if (overflow)
        return PyLong_FromLongLong(LG_NONE);
    return PyLong_FromLongLong(lg_layer_find_id(self->layer, (int64_t)v));
}

static PyObject *Layer_wkb(LayerObject *self, PyObject *args)
{
    Py_ssize_t row;
    if (!PyArg_ParseTuple(args, "n", &row))
        return NULL;
    size_t len = 0;
    lg_error e = lg_layer_cell_wkb(self->layer, (size_t)row, NULL, 0, &len);
    if (e != LG_OK && e != LG_ERR_CAPACITY)
        return raise_code(e, "cannot write the cell as WKB");
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)len);
    if (!bytes)
        return NULL;
    e = lg_layer_cell_wkb(self->layer, (size_t)row, (unsigned char *)PyBytes_AS_STRING(bytes), len,
                          &len);
    if (e != LG_OK) {
        Py_DECREF(bytes);
        return raise_code(e, "cannot write the cell as WKB");
    }
    return bytes;
}

static PyObject *Layer_cell_bounds(LayerObject *self, PyObject *args)
{
    Py_ssize_t row;
    if (!PyArg_ParseTuple(args, "n", &row))
        return NULL;
    double b[4];
    if (!lg_layer_cell_bounds(self->layer, (size_t)row, b))
        b[0] = b[1] = b[2] = b[3] = NAN;
    return Py_BuildValue("(dddd)", b[0], b[1], b[2], b[3]);
}

static PyObject *Layer_write(LayerObject *self, PyObject *args)
{
    PyObject *pathobj = NULL;
    const char *format;
    if (!PyArg_ParseTuple(args, "O&s", PyUnicode_FSConverter, &pathobj, &format))
        return NULL;
    const char *path = PyBytes_AS_STRING(pathobj);
    lg_context *ctx = new_context();
    if (!ctx) {
        Py_DECREF(pathobj);
        return NULL;
    }
    bool shp = strcmp(format, "shp") == 0;
    lg_error e;
    Py_BEGIN_ALLOW_THREADS e = shp ? lg_layer_write_shapefile(ctx, self->layer, path)
                                   : lg_layer_write_geojson(ctx, self->layer, path);
    Py_END_ALLOW_THREADS PyObject *ret = NULL;
    if (e != LG_OK)
        raise_ctx(e, ctx);
    else
        ret = Py_NewRef(Py_None);
    lg_context_free(ctx);
    Py_DECREF(pathobj);
    return ret;
}

/* Convert to a C-contiguous float64 array (a copy only when needed). */
static PyArrayObject *as_doubles(PyObject *obj)
{
    return (PyArrayObject *)PyArray_FROMANY(obj, NPY_FLOAT64, 0, 0,
                                            NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST);
}

static PyObject *shape_str(PyArrayObject *a)
{
    PyObject *shape = PyObject_GetAttrString((PyObject *)a, "shape");
    if (!shape)
        return NULL;
    PyObject *s = PyObject_Str(shape);
    Py_DECREF(shape);
    return s;
}

/* locate(x, y, crs=None) -> int64 array of x's shape. */
static PyObject *Layer_locate(LayerObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"x", "y", "crs", NULL};
    PyObject *xo, *yo;
    const char *crs = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|z", kwlist, &xo, &yo, &crs))
        return NULL;
    PyArrayObject *xa = as_doubles(xo);
    if (!xa)
        return NULL;
    PyArrayObject *ya = as_doubles(yo);
    if (!ya) {
        Py_DECREF(xa);
        return NULL;
    }
    PyArrayObject *out = NULL;
    lg_context *ctx = NULL;
    if (!PyArray_SAMESHAPE(xa, ya)) {
        PyObject *sx = shape_str(xa), *sy = shape_str(ya);
        if (sx && sy) {
            PyObject *msg = PyUnicode_FromFormat(
                "locate: x and y must have the same shape, got %U and %U", sx, sy);
            if (msg) {
                raise_code(LG_ERR_ARG, PyUnicode_AsUTF8(msg));
                Py_DECREF(msg);
            }
        }
        Py_XDECREF(sx);
        Py_XDECREF(sy);
        goto done;
    }
    out = (PyArrayObject *)PyArray_SimpleNew(PyArray_NDIM(xa), PyArray_DIMS(xa), NPY_INT64);
    if (!out)
        goto done;
    if (crs && !(ctx = new_context())) {
        Py_CLEAR(out);
        goto done;
    }
    const double *x = PyArray_DATA(xa), *y = PyArray_DATA(ya);
    int64_t *o = PyArray_DATA(out);
    npy_intp n = PyArray_SIZE(xa);
    for (npy_intp start = 0; start < n; start += LOCATE_CHUNK) {
        npy_intp m = n - start < LOCATE_CHUNK ? n - start : LOCATE_CHUNK;
        lg_error e;
        Py_BEGIN_ALLOW_THREADS if (ctx) e =
            lg_layer_locate_crs(ctx, self->layer, crs, x + start, y + start, (size_t)m, o + start);
        else e = lg_layer_locate_many(self->layer, x + start, y + start, (size_t)m, o + start);
        Py_END_ALLOW_THREADS if (e != LG_OK)
        {
            if (ctx)
                raise_ctx(e, ctx);
            else
                raise_code(e, e == LG_ERR_UNSUPPORTED
                                  ? "locate is not available in this build of libgrid"
                                  : NULL);
            Py_CLEAR(out);
            goto done;
        }
        if (start + m < n && PyErr_CheckSignals() != 0) {
            Py_CLEAR(out);
            goto done;
        }
    }
done:
    lg_context_free(ctx);
    Py_DECREF(xa);
    Py_DECREF(ya);
    return (PyObject *)out;
}

/* ------------------------------------------------------------ snapshots */

/* save(path): the layer as a checksummed snapshot file (lg_layer_save). */
static PyObject *Layer_save(LayerObject *self, PyObject *args)
{
    PyObject *pathobj = NULL;
    if (!PyArg_ParseTuple(args, "O&", PyUnicode_FSConverter, &pathobj))
        return NULL;
    lg_context *ctx = new_context();
    if (!ctx) {
        Py_DECREF(pathobj);
        return NULL;
    }
    const char *path = PyBytes_AS_STRING(pathobj);
    PyThreadState *ts = PyEval_SaveThread();
    lg_error e = lg_layer_save(ctx, self->layer, path);
    PyEval_RestoreThread(ts);
    PyObject *ret = e != LG_OK ? raise_ctx(e, ctx) : Py_NewRef(Py_None);
    lg_context_free(ctx);
    Py_DECREF(pathobj);
    return ret;
}

/* snapshot() -> bytes: the snapshot written straight into a bytes object. */
static PyObject *Layer_snapshot(LayerObject *self, PyObject *unused)
{
    (void)unused;
    size_t size = 0;
    lg_error e = lg_layer_snapshot_size(self->layer, &size);
    if (e != LG_OK)
        return raise_code(e, "cannot size the snapshot of the grid");
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
    if (!bytes)
        return NULL;
    size_t len = 0;
    PyThreadState *ts = PyEval_SaveThread();
    e = lg_layer_snapshot_write(self->layer, PyBytes_AS_STRING(bytes), size, &len);
    PyEval_RestoreThread(ts);
    if (e != LG_OK || len != size) {
        Py_DECREF(bytes);
        return raise_code(e != LG_OK ? e : LG_ERR_INTERNAL,
                          "cannot write the snapshot of the grid");
    }
    return bytes;
}

static unsigned snapshot_flags(int verify)
{
    return verify ? 0u : (unsigned)LG_SNAPSHOT_NO_VERIFY;
}

static PyObject *mod_open_snapshot(PyObject *mod, PyObject *args, PyObject *kwds)
{
    (void)mod;
    static char *kwlist[] = {"path", "verify", NULL};
    PyObject *pathobj = NULL;
    int verify = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O&|p", kwlist, PyUnicode_FSConverter, &pathobj,
                                     &verify))
        return NULL;
    lg_context *ctx = new_context();
    if (!ctx) {
        Py_DECREF(pathobj);
        return NULL;
    }
    const char *path = PyBytes_AS_STRING(pathobj);
    lg_layer *layer = NULL;
    PyThreadState *ts = PyEval_SaveThread();
    lg_error e = lg_layer_open_snapshot(ctx, path, snapshot_flags(verify), &layer);
    PyEval_RestoreThread(ts);
    PyObject *ret = e != LG_OK ? raise_ctx(e, ctx) : wrap_layer(layer);
    lg_context_free(ctx);
    Py_DECREF(pathobj);
    return ret;
}

static PyObject *mod_read_snapshot(PyObject *mod, PyObject *args, PyObject *kwds)
{
    (void)mod;
    static char *kwlist[] = {"data", "verify", NULL};
    Py_buffer buf;
    int verify = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*|p", kwlist, &buf, &verify))
        return NULL;
    lg_context *ctx = new_context();
    if (!ctx) {
        PyBuffer_Release(&buf);
        return NULL;
    }
    lg_layer *layer = NULL;
    PyThreadState *ts = PyEval_SaveThread();
    lg_error e =
        lg_layer_read_snapshot(ctx, buf.buf, (size_t)buf.len, snapshot_flags(verify), &layer);
    PyEval_RestoreThread(ts);
    PyObject *ret = e != LG_OK ? raise_ctx(e, ctx) : wrap_layer(layer);
    lg_context_free(ctx);
    PyBuffer_Release(&buf);
    return ret;
}

/* --------------------------------------------------------------- graphs */

typedef struct {
    PyObject_HEAD lg_graph *g;
} GraphObject;

static PyTypeObject GraphType;

static PyObject *wrap_graph(lg_graph *g)
{
    GraphObject *self = PyObject_New(GraphObject, &GraphType);
    if (!self) {
        lg_graph_free(g);
        return NULL;
    }
    self->g = g;
    return (PyObject *)self;
}

static void Graph_dealloc(GraphObject *self)
{
    lg_graph_free(self->g);
    PyObject_Free(self);
}

static Py_ssize_t Graph_len(GraphObject *self)
{
    return (Py_ssize_t)lg_graph_node_count(self->g);
}

static PyObject *Graph_edge_count(GraphObject *self, PyObject *unused)
{
    (void)unused;
    return PyLong_FromSize_t(lg_graph_edge_count(self->g));
}

/* csr() -> (indptr, indices, weights): int64[n+1], int64[2m], float64[2m]. */
static PyObject *Graph_csr(GraphObject *self, PyObject *unused)
{
    (void)unused;
    size_t n = lg_graph_node_count(self->g);
    npy_intp np1 = (npy_intp)n + 1, nnz = 0;
    PyArrayObject *indptr = (PyArrayObject *)PyArray_SimpleNew(1, &np1, NPY_INT64);
    if (!indptr)
        return NULL;
    int64_t *ip = PyArray_DATA(indptr);
    ip[0] = 0;
    for (size_t i = 0; i < n; i++) {
        const int64_t *nodes;
        size_t k = 0;
        if (lg_graph_neighbors(self->g, i, &nodes, NULL, &k) != LG_OK)
            k = 0;
        ip[i + 1] = ip[i] + (int64_t)k;
    }
    nnz = (npy_intp)ip[n];
    PyArrayObject *idx = (PyArrayObject *)PyArray_SimpleNew(1, &nnz, NPY_INT64);
    PyArrayObject *wt = (PyArrayObject *)PyArray_SimpleNew(1, &nnz, NPY_FLOAT64);
    if (!idx || !wt) {
        Py_DECREF(indptr);
        Py_XDECREF(idx);
        Py_XDECREF(wt);
        return NULL;
    }
    int64_t *ix = PyArray_DATA(idx);
    double *w = PyArray_DATA(wt);
    for (size_t i = 0; i < n; i++) {
        const int64_t *nodes;
        const double *weights;
        size_t k = 0;
        if (lg_graph_neighbors(self->g, i, &nodes, &weights, &k) != LG_OK)
            continue;
        memcpy(ix + ip[i], nodes, k * sizeof *nodes);
        memcpy(w + ip[i], weights, k * sizeof *weights);
    }
    return Py_BuildValue("(NNN)", indptr, idx, wt);
}

static PyObject *Graph_weight(GraphObject *self, PyObject *args)
{
    Py_ssize_t a, b;
    if (!PyArg_ParseTuple(args, "nn", &a, &b))
        return NULL;
    size_t n = lg_graph_node_count(self->g);
    if (a < 0 || b < 0 || (size_t)a >= n || (size_t)b >= n) {
        PyErr_Format(PyExc_IndexError, "node out of range for a graph of %zu nodes", n);
        return NULL;
    }
    return PyFloat_FromDouble(lg_graph_weight(self->g, (size_t)a, (size_t)b));
}

static PyMethodDef Graph_methods[] = {
    {"edge_count", (PyCFunction)Graph_edge_count, METH_NOARGS,
     "edge_count() -> number of undirected edges."},
    {"csr", (PyCFunction)Graph_csr, METH_NOARGS,
     "csr() -> (indptr, indices, weights), both directions of every edge."},
    {"weight", (PyCFunction)Graph_weight, METH_VARARGS,
     "weight(a, b) -> shared boundary length, 0 when not adjacent."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods Graph_as_sequence = {
    .sq_length = (lenfunc)Graph_len,
};

static PyTypeObject GraphType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "libgrid._libgrid.Graph",
    .tp_basicsize = sizeof(GraphObject),
    .tp_dealloc = (destructor)Graph_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An lg_graph (use libgrid.Adjacency).",
    .tp_methods = Graph_methods,
    .tp_as_sequence = &Graph_as_sequence,
};

/* Optional 1-d array of a type and length n; Py_None gives NULL with *ok = 1. */
static PyArrayObject *opt_array(PyObject *obj, int typenum, npy_intp n, const char *what, int *ok)
{
    *ok = 1;
    if (!obj || obj == Py_None)
        return NULL;
    PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(obj, typenum, 0, 1,
                                                        NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST);
    if (!a) {
        *ok = 0;
        return NULL;
    }
    if (n >= 0 && (PyArray_NDIM(a) != 1 || PyArray_DIM(a, 0) != n)) {
        char msg[256];
        PyOS_snprintf(msg, sizeof msg, "%s: expected %ld values, got %ld", what, (long)n,
                      (long)PyArray_SIZE(a));
        raise_code(LG_ERR_ARG, msg);
        Py_DECREF(a);
        *ok = 0;
        return NULL;
    }
    return a;
}

static PyObject *mod_graph_from_edges(PyObject *mod, PyObject *args, PyObject *kwds)
{
    (void)mod;
    static char *kwlist[] = {"n_nodes", "a", "b", "weights", NULL};
    Py_ssize_t n;
    PyObject *ao, *bo, *wo = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "nOO|O", kwlist, &n, &ao, &bo, &wo))
        return NULL;
    if (n < 0)
        return raise_code(LG_ERR_ARG, "graph: n_nodes must be >= 0");
    int ok;
    PyArrayObject *a = opt_array(ao, NPY_INT64, -1, "a", &ok);
    if (!ok)
        return NULL;
    npy_intp m = a ? PyArray_SIZE(a) : 0;
    PyArrayObject *b = opt_array(bo, NPY_INT64, m, "b", &ok);
    PyArrayObject *w = ok ? opt_array(wo, NPY_FLOAT64, m, "weights", &ok) : NULL;
    PyObject *ret = NULL;
    lg_context *ctx = ok ? new_context() : NULL;
    if (ctx) {
        lg_graph *g = NULL;
        lg_error e =
            lg_graph_new(ctx, (size_t)n, a ? PyArray_DATA(a) : NULL, b ? PyArray_DATA(b) : NULL,
                         w ? PyArray_DATA(w) : NULL, (size_t)m, &g);
        ret = e != LG_OK ? raise_ctx(e, ctx) : wrap_graph(g);
        lg_context_free(ctx);
    }
    Py_XDECREF(a);
    Py_XDECREF(b);
    Py_XDECREF(w);
    return ret;
}

/* adjacency(gap_m=0, min_shared_m=0) -> Graph (0: the library's defaults). */
static PyObject *Layer_adjacency(LayerObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"gap_m", "min_shared_m", NULL};
    lg_adjacency_options opt = {0};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|dd", kwlist, &opt.gap_m, &opt.min_shared_m))
        return NULL;
    lg_context *ctx = new_context();
    if (!ctx)
        return NULL;
    progress_state ps;
    progress_init(&ps);
    lg_context_set_progress(ctx, progress_check_signals, &ps);
    lg_graph *g = NULL;
    PyThreadState *ts = PyEval_SaveThread();
    lg_error e = lg_layer_adjacency(ctx, self->layer, &opt, &g);
    PyEval_RestoreThread(ts);
    PyObject *ret = NULL;
    if (e != LG_OK)
        raise_ctx(e, ctx);
    else if (PyErr_CheckSignals() != 0)
        lg_graph_free(g);
    else
        ret = wrap_graph(g);
    lg_context_free(ctx);
    return ret;
}

/* centroids() -> (x, y, area) float64 arrays. */
static PyObject *Layer_centroids(LayerObject *self, PyObject *unused)
{
    (void)unused;
    npy_intp n = (npy_intp)lg_layer_count(self->layer);
    PyArrayObject *x = (PyArrayObject *)PyArray_SimpleNew(1, &n, NPY_FLOAT64);
    PyArrayObject *y = (PyArrayObject *)PyArray_SimpleNew(1, &n, NPY_FLOAT64);
    PyArrayObject *a = (PyArrayObject *)PyArray_SimpleNew(1, &n, NPY_FLOAT64);
    if (!x || !y || !a)
        goto fail;
    lg_error e = lg_layer_centroids(self->layer, PyArray_DATA(x), PyArray_DATA(y), PyArray_DATA(a));
    if (e != LG_OK) {
        raise_code(e, "cannot compute the centroids");
        goto fail;
    }
    return Py_BuildValue("(NNN)", x, y, a);
fail:
    Py_XDECREF(x);
    Py_XDECREF(y);
    Py_XDECREF(a);
    return NULL;
}

/* ------------------------------------------------------------------ zones */

static PyObject *copy_int64(const int64_t *v, size_t n)
{
    npy_intp d = (npy_intp)n;
    PyArrayObject *a = (PyArrayObject *)PyArray_SimpleNew(1, &d, NPY_INT64);
    if (a && n)
        memcpy(PyArray_DATA(a), v, n * sizeof *v);
    return (PyObject *)a;
}

static PyObject *copy_double(const double *v, size_t n)
{
    npy_intp d = (npy_intp)n;
    PyArrayObject *a = (PyArrayObject *)PyArray_SimpleNew(1, &d, NPY_FLOAT64);
    if (a && n)
        memcpy(PyArray_DATA(a), v, n * sizeof *v);
    return (PyObject *)a;
}

static const char *zone_problem_name(lg_zone_problem_kind k)
{
    static const char *names[] = {"",           "island",    "component_size", "unplaced",
                                  "unassigned", "bad_id",    "empty",          "disconnected",
                                  "too_small",  "too_large", "crosses_group",  "no_site"};
    return (int)k >= 1 && (int)k <= 11 ? names[k] : "unknown";
}

/* Everything of a plan as Python objects (the plan is freed by the caller). */
static PyObject *plan_to_dict(const lg_zone_plan *p)
{
    size_t nc = lg_zone_plan_cell_count(p), nz = lg_zone_plan_zone_count(p);
    const int64_t *scell = NULL, *scand = NULL;
    const double *sx = NULL, *sy = NULL;
    lg_zone_plan_sites(p, &scell, &scand, &sx, &sy);
    lg_zone_quality q;
    memset(&q, 0, sizeof q);
    lg_zone_plan_quality(p, &q);
    size_t nh = 0;
    lg_zone_plan_size_histogram(p, NULL, 0, &nh);
    npy_intp dh = (npy_intp)nh;
    PyArrayObject *hist = (PyArrayObject *)PyArray_ZEROS(1, &dh, NPY_UINTP, 0);
    if (!hist)
        return NULL;
    if (nh && lg_zone_plan_size_histogram(p, PyArray_DATA(hist), nh, &nh) != LG_OK) {
        Py_DECREF(hist);
        return raise_code(LG_ERR_INTERNAL, "zone plan: cannot read the size histogram");
    }
    size_t np_ = lg_zone_plan_problem_count(p);
    PyObject *problems = PyList_New((Py_ssize_t)np_);
    if (!problems) {
        Py_DECREF(hist);
        return NULL;
    }
    for (size_t i = 0; i < np_; i++) {
        lg_zone_problem_kind kind = 0;
        int64_t zone = LG_NONE;
        const int64_t *cells = NULL;
        size_t ncells = 0;
        const char *msg = NULL;
        lg_zone_plan_problem(p, i, &kind, &zone, &cells, &ncells, &msg);
        PyObject *t = Py_BuildValue("(sLNN)", zone_problem_name(kind), (long long)zone,
                                    copy_int64(cells, ncells), text(msg ? msg : ""));
        if (!t) {
            Py_DECREF(problems);
            Py_DECREF(hist);
            return NULL;
        }
        PyList_SET_ITEM(problems, (Py_ssize_t)i, t);
    }
    PyObject *quality = Py_BuildValue(
        "{s:n,s:n,s:n,s:n,s:n,s:d,s:d,s:d,s:d,s:d,s:d,s:d,s:d,s:d,s:d}", "zones",
        (Py_ssize_t)q.zones, "cells_assigned", (Py_ssize_t)q.cells_assigned, "cells_unassigned",
        (Py_ssize_t)q.cells_unassigned, "size_min", (Py_ssize_t)q.size_min, "size_max",
        (Py_ssize_t)q.size_max, "size_mean", q.size_mean, "compact_mean", q.compact_mean,
        "compact_max", q.compact_max, "polsby_mean", q.polsby_mean, "polsby_min", q.polsby_min,
        "weight_min", q.weight_min, "weight_mean", q.weight_mean, "weight_max", q.weight_max,
        "weight_cv", q.weight_cv, "objective", q.objective);
    if (!quality) {
        Py_DECREF(problems);
        Py_DECREF(hist);
        return NULL;
    }
    return Py_BuildValue("{s:N,s:N,s:N,s:N,s:N,s:O,s:N,s:N,s:N}", "zone",
                         copy_int64(lg_zone_plan_zones(p), nc), "site_cell", copy_int64(scell, nz),
                         "site_candidate", copy_int64(scand, nz), "site_x", copy_double(sx, nz),
                         "site_y", copy_double(sy, nz), "feasible",
                         lg_zone_plan_feasible(p) ? Py_True : Py_False, "problems", problems,
                         "quality", quality, "histogram", (PyObject *)hist);
}

/*
 * zones(graph, layer, zone=None, min_cells=0, max_cells=0, seed=0, weight=None, x=None,
 *       y=None, group=None, site_x=None, site_y=None, balance=0, max_passes=0) -> dict.
 * zone None: plan (lg_zones_plan); else validate that assignment (lg_zones_validate).
 */
static PyObject *mod_zones(PyObject *mod, PyObject *args, PyObject *kwds)
{
    (void)mod;
    static char *kwlist[] = {"graph",  "layer",  "zone",    "min_cells",  "max_cells",
                             "seed",   "weight", "x",       "y",          "group",
                             "site_x", "site_y", "balance", "max_passes", NULL};
    PyObject *go, *lo, *zo = Py_None, *wo = Py_None, *xo = Py_None, *yo = Py_None;
    PyObject *gro = Py_None, *sxo = Py_None, *syo = Py_None;
    Py_ssize_t min_cells = 0, max_cells = 0;
    unsigned long long seed = 0;
    double balance = 0.0;
    unsigned int max_passes = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O|OnnKOOOOOOdI", kwlist, &GraphType, &go, &lo,
                                     &zo, &min_cells, &max_cells, &seed, &wo, &xo, &yo, &gro, &sxo,
                                     &syo, &balance, &max_passes))
        return NULL;
    if (lo != Py_None && !PyObject_TypeCheck(lo, &LayerType)) {
        PyErr_SetString(PyExc_TypeError, "zones: layer must be a Layer or None");
        return NULL;
    }
    if (min_cells < 0 || max_cells < 0)
        return raise_code(LG_ERR_ARG, "zones: min_cells and max_cells must be >= 0");
    const lg_graph *g = ((GraphObject *)go)->g;
    const lg_layer *layer = lo == Py_None ? NULL : ((LayerObject *)lo)->layer;
    npy_intp n = (npy_intp)lg_graph_node_count(g);
    PyArrayObject *zone = NULL, *w = NULL, *x = NULL, *y = NULL, *grp = NULL, *sx = NULL,
                  *sy = NULL;
    PyObject *ret = NULL;
    lg_context *ctx = NULL;
    int ok;
    if ((zone = opt_array(zo, NPY_INT64, n, "zone", &ok), !ok) ||
        (w = opt_array(wo, NPY_FLOAT64, n, "weight", &ok), !ok) ||
        (x = opt_array(xo, NPY_FLOAT64, n, "x", &ok), !ok) ||
        (y = opt_array(yo, NPY_FLOAT64, n, "y", &ok), !ok) ||
        (grp = opt_array(gro, NPY_INT64, n, "group", &ok), !ok) ||
        (sx = opt_array(sxo, NPY_FLOAT64, -1, "site_x", &ok), !ok) ||
        (sy = opt_array(syo, NPY_FLOAT64, sx ? PyArray_SIZE(sx) : 0, "site_y", &ok), !ok))
        goto done;
    if (!sx != !sy || !x != !y) {
        raise_code(LG_ERR_ARG, "zones: give both site_x and site_y (and both x and y) or neither");
        goto done;
    }
    lg_zone_options opt;
    memset(&opt, 0, sizeof opt);
    opt.min_cells = (size_t)min_cells;
    opt.max_cells = (size_t)max_cells;
    opt.seed = seed;
    opt.weight = w ? PyArray_DATA(w) : NULL;
    opt.x = x ? PyArray_DATA(x) : NULL;
    opt.y = y ? PyArray_DATA(y) : NULL;
    opt.group = grp ? PyArray_DATA(grp) : NULL;
    opt.site_x = sx ? PyArray_DATA(sx) : NULL;
    opt.site_y = sy ? PyArray_DATA(sy) : NULL;
    opt.n_sites = sx ? (size_t)PyArray_SIZE(sx) : 0;
    opt.balance = balance;
    opt.max_passes = max_passes;
    if (!(ctx = new_context()))
        goto done;
    progress_state ps;
    progress_init(&ps);
    lg_context_set_progress(ctx, progress_check_signals, &ps);
    lg_zone_plan *plan = NULL;
    PyThreadState *ts = PyEval_SaveThread();
    lg_error e = zone ? lg_zones_validate(ctx, g, layer, PyArray_DATA(zone), (size_t)n, &opt, &plan)
                      : lg_zones_plan(ctx, g, layer, &opt, &plan);
    PyEval_RestoreThread(ts);
    if (e != LG_OK) {
        raise_ctx(e, ctx);
        goto done;
    }
    ret = plan_to_dict(plan);
    lg_zone_plan_free(plan);
done:
    lg_context_free(ctx);
    Py_XDECREF(zone);
    Py_XDECREF(w);
    Py_XDECREF(x);
    Py_XDECREF(y);
    Py_XDECREF(grp);
    Py_XDECREF(sx);
    Py_XDECREF(sy);
    return ret;
}

static PyMethodDef Layer_methods[] = {
    {"fields", (PyCFunction)Layer_fields, METH_NOARGS,
     "fields() -> list of (name, type) with type 'int', 'real' or 'text'."},
    {"field_index", (PyCFunction)Layer_field_index, METH_VARARGS,
     "field_index(name) -> index of the field (exact, then case-insensitive match)."},
    {"column", (PyCFunction)Layer_column, METH_VARARGS,
     "column(field) -> (values, nulls); nulls is a bool array or None."},
    {"problems", (PyCFunction)Layer_problems, METH_NOARGS,
     "problems() -> list of (row, kind, x, y, message)."},
    {"find_id", (PyCFunction)Layer_find_id, METH_O,
     "find_id(id) -> row of the cell with this id (int or str), or -1."},
    {"wkb", (PyCFunction)Layer_wkb, METH_VARARGS, "wkb(row) -> the cell as ISO WKB bytes."},
    {"cell_bounds", (PyCFunction)Layer_cell_bounds, METH_VARARGS,
     "cell_bounds(row) -> (minx, miny, maxx, maxy), NaN for an empty cell."},
    {"write", (PyCFunction)Layer_write, METH_VARARGS,
     "write(path, format) with format 'shp' or 'geojson'."},
    {"locate", (PyCFunction)(void (*)(void))Layer_locate, METH_VARARGS | METH_KEYWORDS,
     "locate(x, y, crs=None) -> int64 array of rows (-1 outside), shape of x."},
    {"save", (PyCFunction)Layer_save, METH_VARARGS, "save(path): write a snapshot file."},
    {"snapshot", (PyCFunction)Layer_snapshot, METH_NOARGS, "snapshot() -> the snapshot as bytes."},
    {"adjacency", (PyCFunction)(void (*)(void))Layer_adjacency, METH_VARARGS | METH_KEYWORDS,
     "adjacency(gap_m=0, min_shared_m=0) -> Graph (0: library defaults)."},
    {"centroids", (PyCFunction)Layer_centroids, METH_NOARGS,
     "centroids() -> (x, y, area) float64 arrays."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Layer_getset[] = {
    {"crs", (getter)Layer_get_crs, NULL, "CRS of the layer, or None.", NULL},
    {"bounds", (getter)Layer_get_bounds, NULL, "(minx, miny, maxx, maxy); NaN if empty.", NULL},
    {"id_field", (getter)Layer_get_id_field, NULL, "Index of the id field, or None.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods Layer_as_sequence = {
    .sq_length = (lenfunc)Layer_len,
};

static PyTypeObject LayerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "libgrid._libgrid.Layer",
    .tp_basicsize = sizeof(LayerObject),
    .tp_dealloc = (destructor)Layer_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A loaded lg_layer (use libgrid.Grid).",
    .tp_methods = Layer_methods,
    .tp_getset = Layer_getset,
    .tp_as_sequence = &Layer_as_sequence,
};

/* ------------------------------------------------------------- functions */

static PyObject *mod_load(PyObject *mod, PyObject *args, PyObject *kwds)
{
    (void)mod;
    static char *kwlist[] = {"path", "id_field", "crs", "repair", "format", NULL};
    PyObject *pathobj = NULL;
    const char *id_field = NULL, *crs = NULL, *format = NULL;
    int repair = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O&|zzpz", kwlist, PyUnicode_FSConverter, &pathobj,
                                     &id_field, &crs, &repair, &format))
        return NULL;
    lg_context *ctx = new_context();
    if (!ctx) {
        Py_DECREF(pathobj);
        return NULL;
    }
    progress_state ps;
    progress_init(&ps);
    lg_context_set_progress(ctx, progress_check_signals, &ps);
    lg_load_options opt = {0};
    opt.id_field = id_field;
    opt.crs = crs;
    opt.format = format;
    opt.flags = repair ? LG_LOAD_REPAIR : 0;
    lg_layer *layer = NULL;
    lg_error e;
    const char *path = PyBytes_AS_STRING(pathobj);
    Py_BEGIN_ALLOW_THREADS e = lg_layer_load(ctx, path, &opt, &layer);
    Py_END_ALLOW_THREADS PyObject *ret = NULL;
    if (e != LG_OK)
        raise_ctx(e, ctx);
    else
        ret = wrap_layer(layer);
    lg_context_free(ctx);
    Py_DECREF(pathobj);
    return ret;
}

static PyObject *mod_from_wkb(PyObject *mod, PyObject *args, PyObject *kwds)
{
    (void)mod;
    static char *kwlist[] = {"geoms", "crs", NULL};
    PyObject *seq_in;
    const char *crs = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|z", kwlist, &seq_in, &crs))
        return NULL;
    PyObject *seq = PySequence_Fast(seq_in, "from_wkb: expected a sequence of bytes");
    if (!seq)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    const unsigned char **wkb = PyMem_Calloc((size_t)n + 1, sizeof *wkb);
    size_t *len = PyMem_Calloc((size_t)n + 1, sizeof *len);
    PyObject *ret = NULL;
    lg_context *ctx = NULL;
    if (!wkb || !len) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *b = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyBytes_Check(b)) {
            raise_code(LG_ERR_ARG, "from_wkb: every item must be bytes");
            goto done;
        }
        wkb[i] = (const unsigned char *)PyBytes_AS_STRING(b);
        len[i] = (size_t)PyBytes_GET_SIZE(b);
    }
    if (!(ctx = new_context()))
        goto done;
    lg_load_options opt = {0};
    opt.crs = crs;
    lg_layer *layer = NULL;
    lg_error e;
    Py_BEGIN_ALLOW_THREADS e = lg_layer_from_wkb(ctx, wkb, len, (size_t)n, &opt, &layer);
    Py_END_ALLOW_THREADS if (e != LG_OK) raise_ctx(e, ctx);
    else ret = wrap_layer(layer);
done:
    lg_context_free(ctx);
    PyMem_Free(wkb);
    PyMem_Free(len);
    Py_DECREF(seq);
    return ret;
}

static int parse_synth(PyObject *args, PyObject *kwds, lg_synth_options *opt)
{
    static char *kwlist[] = {"cells", "seed", "stations", "cell_size_m", "crs", NULL};
    Py_ssize_t cells = 220, stations = 0;
    unsigned long long seed = 0;
    double cell_size = 1000.0;
    const char *crs = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|nKndz", kwlist, &cells, &seed, &stations,
                                     &cell_size, &crs))
        return -1;
    if (cells < 0 || stations < 0 || !(cell_size > 0) || !isfinite(cell_size)) {
        raise_code(LG_ERR_ARG, "synth: cells and stations must be >= 0 and cell_size_m > 0");
        return -1;
    }
    memset(opt, 0, sizeof *opt);
    opt->cells = (size_t)cells;
    opt->seed = seed;
    opt->stations = (size_t)stations;
    opt->cell_size_m = cell_size;
    opt->crs = crs;
    return 0;
}

static PyObject *mod_synth(PyObject *mod, PyObject *args, PyObject *kwds)
{
    (void)mod;
    lg_synth_options opt;
    if (parse_synth(args, kwds, &opt) < 0)
        return NULL;
    lg_context *ctx = new_context();
    if (!ctx)
        return NULL;
    progress_state ps;
    progress_init(&ps);
    lg_context_set_progress(ctx, progress_check_signals, &ps);
    lg_layer *layer = NULL;
    lg_error e;
    Py_BEGIN_ALLOW_THREADS e = lg_synth_county(ctx, &opt, &layer);
    Py_END_ALLOW_THREADS PyObject *ret = NULL;
    if (e != LG_OK)
        raise_ctx(e, ctx);
    else
        ret = wrap_layer(layer);
    lg_context_free(ctx);
    return ret;
}

static PyObject *mod_synth_stations(PyObject *mod, PyObject *args, PyObject *kwds)
{
    (void)mod;
    lg_synth_options opt;
    if (parse_synth(args, kwds, &opt) < 0)
        return NULL;
    lg_context *ctx = new_context();
    if (!ctx)
        return NULL;
    /* the library picks about cells / 9 stations when none are asked for */
    size_t cells = opt.cells ? opt.cells : 220;
    npy_intp cap = (npy_intp)(opt.stations ? opt.stations : cells / 9 + 16);
    PyArrayObject *xa = NULL, *ya = NULL;
    PyObject *ret = NULL;
    for (int attempt = 0; attempt < 2 && !ret; attempt++) {
        Py_XDECREF(xa);
        Py_XDECREF(ya);
        xa = (PyArrayObject *)PyArray_SimpleNew(1, &cap, NPY_FLOAT64);
        ya = (PyArrayObject *)PyArray_SimpleNew(1, &cap, NPY_FLOAT64);
        if (!xa || !ya)
            break;
        size_t n = 0;
        lg_error e;
        Py_BEGIN_ALLOW_THREADS e =
            lg_synth_stations(ctx, &opt, PyArray_DATA(xa), PyArray_DATA(ya), (size_t)cap, &n);
        Py_END_ALLOW_THREADS if (e == LG_ERR_CAPACITY && attempt == 0)
        {
            cap = (npy_intp)(cells > (size_t)cap ? cells : (size_t)cap * 2);
            continue;
        }
        if (e != LG_OK) {
            raise_ctx(e, ctx);
            break;
        }
        PyArray_Dims dims = {(npy_intp[]){(npy_intp)n}, 1};
        PyObject *xr = PyArray_Resize(xa, &dims, 0, NPY_CORDER);
        PyObject *yr = xr ? PyArray_Resize(ya, &dims, 0, NPY_CORDER) : NULL;
        Py_XDECREF(xr); /* Resize returns None on success */
        Py_XDECREF(yr);
        if (!xr || !yr)
            break;
        ret = Py_BuildValue("(OO)", xa, ya);
    }
    Py_XDECREF(xa);
    Py_XDECREF(ya);
    lg_context_free(ctx);
    return ret;
}

static PyObject *mod_crs_check(PyObject *mod, PyObject *args)
{
    (void)mod;
    const char *crs;
    if (!PyArg_ParseTuple(args, "s", &crs))
        return NULL;
    lg_context *ctx = new_context();
    if (!ctx)
        return NULL;
    const char *norm = NULL;
    lg_error e = lg_crs_check(ctx, crs, &norm);
    PyObject *ret = e != LG_OK ? raise_ctx(e, ctx) : PyUnicode_FromString(norm ? norm : crs);
    lg_context_free(ctx);
    return ret;
}

static PyObject *mod_version(PyObject *mod, PyObject *unused)
{
    (void)mod;
    (void)unused;
    return PyUnicode_FromString(lg_version());
}

static PyObject *mod_strerror(PyObject *mod, PyObject *args)
{
    (void)mod;
    int code;
    if (!PyArg_ParseTuple(args, "i", &code))
        return NULL;
    return PyUnicode_FromString(lg_strerror((lg_error)code));
}

/* _raise_code(code, message): raise as the library would (tests the code -> class table). */
static PyObject *mod_raise_code(PyObject *mod, PyObject *args)
{
    (void)mod;
    int code;
    const char *msg;
    Py_ssize_t len;
    if (!PyArg_ParseTuple(args, "iy#", &code, &msg, &len))
        return NULL;
    return raise_code((lg_error)code, msg);
}

static PyMethodDef mod_methods[] = {
    {"load", (PyCFunction)(void (*)(void))mod_load, METH_VARARGS | METH_KEYWORDS,
     "load(path, id_field=None, crs=None, repair=False, format=None) -> Layer"},
    {"from_wkb", (PyCFunction)(void (*)(void))mod_from_wkb, METH_VARARGS | METH_KEYWORDS,
     "from_wkb(geoms, crs=None) -> Layer"},
    {"synth", (PyCFunction)(void (*)(void))mod_synth, METH_VARARGS | METH_KEYWORDS,
     "synth(cells=220, seed=0, stations=0, cell_size_m=1000.0, crs=None) -> Layer"},
    {"synth_stations", (PyCFunction)(void (*)(void))mod_synth_stations,
     METH_VARARGS | METH_KEYWORDS,
     "synth_stations(cells=220, seed=0, stations=0, cell_size_m=1000.0, crs=None) -> (x, y)"},
    {"crs_check", (PyCFunction)mod_crs_check, METH_VARARGS,
     "crs_check(crs) -> normalised CRS string; raises CRSError."},
    {"open_snapshot", (PyCFunction)(void (*)(void))mod_open_snapshot, METH_VARARGS | METH_KEYWORDS,
     "open_snapshot(path, verify=True) -> Layer (memory-mapped)"},
    {"read_snapshot", (PyCFunction)(void (*)(void))mod_read_snapshot, METH_VARARGS | METH_KEYWORDS,
     "read_snapshot(data, verify=True) -> Layer (copied from a bytes-like object)"},
    {"graph_from_edges", (PyCFunction)(void (*)(void))mod_graph_from_edges,
     METH_VARARGS | METH_KEYWORDS, "graph_from_edges(n_nodes, a, b, weights=None) -> Graph"},
    {"zones", (PyCFunction)(void (*)(void))mod_zones, METH_VARARGS | METH_KEYWORDS,
     "zones(graph, layer, zone=None, ...) -> dict: plan (zone None) or validate a plan."},
    {"_raise_code", (PyCFunction)mod_raise_code, METH_VARARGS,
     "_raise_code(code, message: bytes): raise the exception of an lg_error code (tests)."},
    {"version", (PyCFunction)mod_version, METH_NOARGS, "version() -> the C library's version."},
    {"strerror", (PyCFunction)mod_strerror, METH_VARARGS, "strerror(code) -> description."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT,
    "_libgrid",
    "C extension of the libgrid package.",
    -1,
    mod_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__libgrid(void);
PyMODINIT_FUNC PyInit__libgrid(void)
{
    import_array();
    if (PyType_Ready(&LayerType) < 0 || PyType_Ready(&GraphType) < 0)
        return NULL;
    PyObject *errors = PyImport_ImportModule("libgrid._errors");
    if (!errors)
        return NULL;
    error_table = PyObject_GetAttrString(errors, "ERRORS");
    Py_DECREF(errors);
    if (!error_table)
        return NULL;
    if (!PyDict_Check(error_table)) {
        PyErr_SetString(PyExc_TypeError, "libgrid._errors.ERRORS must be a dict");
        return NULL;
    }
    PyObject *m = PyModule_Create(&moddef);
    if (!m)
        return NULL;
    Py_INCREF(&LayerType);
    if (PyModule_AddObject(m, "Layer", (PyObject *)&LayerType) < 0) {
        Py_DECREF(&LayerType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&GraphType);
    if (PyModule_AddObject(m, "Graph", (PyObject *)&GraphType) < 0) {
        Py_DECREF(&GraphType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
