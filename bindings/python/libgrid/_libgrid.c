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
    PyObject *owner; /* NULL: layer owned; else the object owning it (kept alive) */
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
    self->owner = NULL;
    return (PyObject *)self;
}

static void Layer_dealloc(LayerObject *self)
{
    if (self->owner)
        Py_DECREF(self->owner);
    else
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

/* ========================================================================
 * Planning objects: stations, hierarchy, units, run cards, coverage, heat,
 * derived layers. The Python classes of the same names in __init__.py wrap them.
 * ======================================================================== */

/* A layer owned by another object (owner kept alive, not freed here). */
static PyObject *wrap_borrowed_layer(const lg_layer *layer, PyObject *owner)
{
    LayerObject *self = PyObject_New(LayerObject, &LayerType);
    if (!self)
        return NULL;
    self->layer = (lg_layer *)layer;
    self->owner = Py_NewRef(owner);
    return (PyObject *)self;
}

static lg_layer *layer_arg(PyObject *o, const char *what)
{
    if (o == NULL || o == Py_None)
        return NULL;
    if (!PyObject_TypeCheck(o, &LayerType)) {
        PyErr_Format(PyExc_TypeError, "%s: expected a Layer, not %s", what, Py_TYPE(o)->tp_name);
        return NULL;
    }
    return ((LayerObject *)o)->layer;
}

/* A new context with the Ctrl-C progress callback installed. */
static lg_context *new_progress_context(progress_state *ps)
{
    lg_context *ctx = new_context();
    if (ctx) {
        progress_init(ps);
        lg_context_set_progress(ctx, progress_check_signals, ps);
    }
    return ctx;
}

static PyObject *new_array(int nd, npy_intp *dims, int typenum)
{
    return PyArray_SimpleNew(nd, dims, typenum);
}

/* A C array of the str items of a sequence (borrowed UTF-8 from the sequence). */
static const char **str_list(PyObject *seq, Py_ssize_t *n)
{
    *n = PySequence_Fast_GET_SIZE(seq);
    const char **v = PyMem_Calloc((size_t)*n + 1, sizeof *v);
    if (!v) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < *n; i++) {
        PyObject *it = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyUnicode_Check(it) || !(v[i] = PyUnicode_AsUTF8(it))) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "expected a sequence of str");
            PyMem_Free(v);
            return NULL;
        }
    }
    return v;
}

/* --------------------------------------------------------------- stations */

typedef struct {
    PyObject_HEAD lg_stations *st;
    PyObject *layers; /* tuple of the borrowed layers (kept alive) */
} StationsObject;

static PyTypeObject StationsType;

static void Stations_dealloc(StationsObject *self)
{
    lg_stations_free(self->st);
    Py_XDECREF(self->layers);
    PyObject_Free(self);
}

static Py_ssize_t Stations_len(StationsObject *self)
{
    return (Py_ssize_t)lg_stations_count(self->st);
}

/* stations(stations_layer, cells_layer, station_field, x, y, fields, n_stations, gap_m,
 * min_shared_m): from_cells when stations_layer is None, else from_layer. */
static PyObject *mod_stations(PyObject *mod, PyObject *args, PyObject *kwds)
{
    (void)mod;
    static char *kwlist[] = {"stations",   "cells", "station_field", "x", "y", "fields",
                             "n_stations", "gap_m", "min_shared_m",  NULL};
    PyObject *so = Py_None, *co = Py_None, *xo = Py_None, *yo = Py_None, *fo = Py_None;
    const char *field = NULL;
    Py_ssize_t nst = 0;
    double gap = 0, minsh = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|zOOOndd", kwlist, &so, &co, &field, &xo, &yo,
                                     &fo, &nst, &gap, &minsh))
        return NULL;
    lg_layer *sl = layer_arg(so, "stations"), *cl = layer_arg(co, "cells");
    if (PyErr_Occurred())
        return NULL;
    if (nst < 0)
        return raise_code(LG_ERR_ARG, "stations: n_stations must be >= 0");
    int ok;
    PyArrayObject *x = NULL, *y = NULL;
    PyObject *fseq = NULL, *ret = NULL;
    const char **names = NULL;
    Py_ssize_t nf = 0;
    lg_context *ctx = NULL;
    if ((x = opt_array(xo, NPY_FLOAT64, -1, "stations: x", &ok), !ok) ||
        (y = opt_array(yo, NPY_FLOAT64, x ? PyArray_SIZE(x) : 0, "stations: y", &ok), !ok))
        goto done;
    if (!x != !y) {
        raise_code(LG_ERR_ARG, "stations: give both x and y of the station points or neither");
        goto done;
    }
    if (fo != Py_None) {
        if (!(fseq = PySequence_Fast(fo, "stations: workload must be a sequence of str")) ||
            !(names = str_list(fseq, &nf)))
            goto done;
    }
    lg_stations_options opt;
    memset(&opt, 0, sizeof opt);
    opt.n_stations = (size_t)nst;
    opt.x = x ? PyArray_DATA(x) : NULL;
    opt.y = y ? PyArray_DATA(y) : NULL;
    opt.n_points = x ? (size_t)PyArray_SIZE(x) : 0;
    opt.fields = names;
    opt.n_fields = (size_t)nf;
    opt.adjacency.gap_m = gap;
    opt.adjacency.min_shared_m = minsh;
    progress_state ps;
    if (!(ctx = new_progress_context(&ps)))
        goto done;
    lg_stations *st = NULL;
    PyThreadState *ts = PyEval_SaveThread();
    lg_error e = sl ? lg_stations_from_layer(ctx, sl, cl, field, &opt, &st)
                    : lg_stations_from_cells(ctx, cl, field, &opt, &st);
    PyEval_RestoreThread(ts);
    if (e != LG_OK) {
        raise_ctx(e, ctx);
        goto done;
    }
    StationsObject *self = PyObject_New(StationsObject, &StationsType);
    if (!self) {
        lg_stations_free(st);
        goto done;
    }
    self->st = st;
    self->layers = PyTuple_Pack(2, so, co);
    if (!self->layers) {
        Py_DECREF(self);
        goto done;
    }
    ret = (PyObject *)self;
done:
    lg_context_free(ctx);
    PyMem_Free(names);
    Py_XDECREF(fseq);
    Py_XDECREF(x);
    Py_XDECREF(y);
    return ret;
}

static PyObject *Stations_names(StationsObject *self, PyObject *unused)
{
    (void)unused;
    size_t n = lg_stations_count(self->st);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *s = text(lg_stations_name(self->st, i));
        if (!s) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, s);
    }
    return list;
}

/* points() -> (x, y) or None */
static PyObject *Stations_points(StationsObject *self, PyObject *unused)
{
    (void)unused;
    npy_intp n = (npy_intp)lg_stations_count(self->st);
    double px, py;
    if (n == 0 || !lg_stations_point(self->st, 0, &px, &py))
        Py_RETURN_NONE;
    PyArrayObject *x = (PyArrayObject *)new_array(1, &n, NPY_FLOAT64);
    PyArrayObject *y = (PyArrayObject *)new_array(1, &n, NPY_FLOAT64);
    if (!x || !y) {
        Py_XDECREF(x);
        Py_XDECREF(y);
        return NULL;
    }
    double *xd = PyArray_DATA(x), *yd = PyArray_DATA(y);
    for (npy_intp i = 0; i < n; i++)
        if (!lg_stations_point(self->st, (size_t)i, &xd[i], &yd[i]))
            xd[i] = yd[i] = NAN;
    return Py_BuildValue("(NN)", x, y);
}

static PyObject *Stations_cell_station(StationsObject *self, PyObject *unused)
{
    (void)unused;
    const lg_layer *cl = lg_stations_cells(self->st);
    if (!cl)
        Py_RETURN_NONE;
    return copy_int64(lg_stations_cell_station(self->st), lg_layer_count(cl));
}

static PyObject *Stations_cell_counts(StationsObject *self, PyObject *unused)
{
    (void)unused;
    npy_intp n = (npy_intp)lg_stations_count(self->st);
    PyArrayObject *a = (PyArrayObject *)new_array(1, &n, NPY_INT64);
    if (!a)
        return NULL;
    int64_t *v = PyArray_DATA(a);
    for (npy_intp i = 0; i < n; i++)
        v[i] = (int64_t)lg_stations_cell_count(self->st, (size_t)i);
    return (PyObject *)a;
}

/* workload() -> dict name -> float64 array */
static PyObject *Stations_workload(StationsObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *d = PyDict_New();
    size_t n = lg_stations_count(self->st);
    for (size_t f = 0; d && f < lg_stations_field_count(self->st); f++) {
        PyObject *k = text(lg_stations_field_name(self->st, f));
        PyObject *v = k ? copy_double(lg_stations_workload(self->st, f), n) : NULL;
        if (!v || PyDict_SetItem(d, k, v) < 0)
            Py_CLEAR(d);
        Py_XDECREF(k);
        Py_XDECREF(v);
    }
    return d;
}

/* A copy of a borrowed graph as a new Graph. */
static PyObject *copy_graph(const lg_graph *g)
{
    if (!g)
        Py_RETURN_NONE;
    size_t n = lg_graph_node_count(g), m = lg_graph_edge_count(g), j = 0;
    int64_t *a = PyMem_Malloc((m + 1) * sizeof *a), *b = PyMem_Malloc((m + 1) * sizeof *b);
    double *w = PyMem_Malloc((m + 1) * sizeof *w);
    PyObject *ret = NULL;
    if (!a || !b || !w) {
        PyErr_NoMemory();
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const int64_t *nodes;
        const double *wt;
        size_t k = 0;
        if (lg_graph_neighbors(g, i, &nodes, &wt, &k) != LG_OK)
            continue;
        for (size_t t = 0; t < k; t++)
            if ((size_t)nodes[t] > i && j < m) {
                a[j] = (int64_t)i;
                b[j] = nodes[t];
                w[j++] = wt[t];
            }
    }
    lg_context *ctx = new_context();
    if (!ctx)
        goto done;
    lg_graph *out = NULL;
    lg_error e = lg_graph_new(ctx, n, a, b, w, j, &out);
    ret = e != LG_OK ? raise_ctx(e, ctx) : wrap_graph(out);
    lg_context_free(ctx);
done:
    PyMem_Free(a);
    PyMem_Free(b);
    PyMem_Free(w);
    return ret;
}

static PyObject *Stations_graph(StationsObject *self, PyObject *unused)
{
    (void)unused;
    return copy_graph(lg_stations_graph(self->st));
}

static PyObject *Stations_jurisdictions(StationsObject *self, PyObject *unused)
{
    (void)unused;
    const lg_layer *l = lg_stations_jurisdictions(self->st);
    if (!l)
        Py_RETURN_NONE;
    return wrap_borrowed_layer(l, (PyObject *)self);
}

static PyObject *plan_problems_list(const lg_plan_problems *p)
{
    size_t n = lg_plan_problems_count(p);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        lg_plan_problem_code code = 0;
        int64_t row = LG_NONE, rel = LG_NONE;
        const char *msg = NULL;
        lg_plan_problems_get(p, i, &code, &row, &rel, &msg);
        PyObject *t = Py_BuildValue("(iLLN)", (int)code, (long long)row, (long long)rel,
                                    text(msg ? msg : ""));
        if (!t) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
    return list;
}

/* classify(kind=None, central=None, region=None, neighbours=None, border_min_m=0,
 *          border_gap_m=0, workload=None, weights=None, min_bases=0, max_bases=0)
 * -> (kind int32, central int64, score float64 or None, feasible, problems).
 * With kind and central given: validate that plan. */
static PyObject *Stations_classify(StationsObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"kind",         "central",      "region",   "neighbours",
                             "border_min_m", "border_gap_m", "workload", "weights",
                             "min_bases",    "max_bases",    NULL};
    PyObject *ko = Py_None, *cO = Py_None, *ro = Py_None, *no = Py_None, *wlo = Py_None,
             *wo = Py_None;
    lg_classify_options opt;
    memset(&opt, 0, sizeof opt);
    Py_ssize_t minb = 0, maxb = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOOOddOOnn", kwlist, &ko, &cO, &ro, &no,
                                     &opt.border_min_m, &opt.border_gap_m, &wlo, &wo, &minb, &maxb))
        return NULL;
    opt.region = layer_arg(ro, "region");
    opt.neighbours = layer_arg(no, "neighbours");
    if (PyErr_Occurred())
        return NULL;
    if (minb < 0 || maxb < 0)
        return raise_code(LG_ERR_ARG, "stations: min_bases and max_bases must be >= 0");
    opt.min_bases = (size_t)minb;
    opt.max_bases = (size_t)maxb;
    npy_intp n = (npy_intp)lg_stations_count(self->st);
    int ok;
    PyArrayObject *kin = NULL, *cin = NULL, *w = NULL, *kout = NULL, *cout = NULL, *sout = NULL;
    PyObject *wseq = NULL, *ret = NULL;
    const char **names = NULL;
    Py_ssize_t nw = 0;
    lg_context *ctx = NULL;
    lg_plan_problems *probs = NULL;
    if ((kin = opt_array(ko, NPY_INT32, n, "kind", &ok), !ok) ||
        (cin = opt_array(cO, NPY_INT64, n, "central", &ok), !ok))
        goto done;
    if (!kin != !cin) {
        raise_code(LG_ERR_ARG, "stations: give both kind and central to validate a plan");
        goto done;
    }
    if (wlo != Py_None) {
        if (!(wseq = PySequence_Fast(wlo, "workload must be a sequence of str")) ||
            !(names = str_list(wseq, &nw)))
            goto done;
        opt.workload = names;
        opt.n_workload = (size_t)nw;
    }
    if ((w = opt_array(wo, NPY_FLOAT64, nw, "weights", &ok), !ok))
        goto done;
    if (w && !names) {
        raise_code(LG_ERR_ARG, "stations: weights need workload field names");
        goto done;
    }
    opt.weights = w ? PyArray_DATA(w) : NULL;
    progress_state ps;
    if (!(ctx = new_progress_context(&ps)))
        goto done;
    bool feasible = false;
    lg_error e;
    if (kin) {
        PyThreadState *ts = PyEval_SaveThread();
        e = lg_stations_validate(ctx, self->st, &opt, PyArray_DATA(kin), PyArray_DATA(cin),
                                 (size_t)n, &probs);
        PyEval_RestoreThread(ts);
        feasible = lg_plan_problems_count(probs) == 0;
    } else {
        kout = (PyArrayObject *)PyArray_ZEROS(1, &n, NPY_INT32, 0);
        cout = (PyArrayObject *)new_array(1, &n, NPY_INT64);
        sout = (PyArrayObject *)new_array(1, &n, NPY_FLOAT64);
        if (!kout || !cout || !sout)
            goto done;
        PyThreadState *ts = PyEval_SaveThread();
        e = lg_stations_classify(ctx, self->st, &opt, PyArray_DATA(kout), PyArray_DATA(cout),
                                 PyArray_DATA(sout), (size_t)n, &feasible, &probs);
        PyEval_RestoreThread(ts);
    }
    if (e != LG_OK) {
        raise_ctx(e, ctx);
        goto done;
    }
    PyObject *pl = plan_problems_list(probs);
    if (!pl)
        goto done;
    if (kin)
        ret = Py_BuildValue("(OOOON)", kin, cin, Py_None, feasible ? Py_True : Py_False, pl);
    else
        ret = Py_BuildValue("(OOOON)", kout, cout, sout, feasible ? Py_True : Py_False, pl);
done:
    lg_plan_problems_free(probs);
    lg_context_free(ctx);
    PyMem_Free(names);
    Py_XDECREF(wseq);
    Py_XDECREF(kin);
    Py_XDECREF(cin);
    Py_XDECREF(w);
    Py_XDECREF(kout);
    Py_XDECREF(cout);
    Py_XDECREF(sout);
    return ret;
}

static PyMethodDef Stations_methods[] = {
    {"names", (PyCFunction)Stations_names, METH_NOARGS, "names() -> list of station names."},
    {"points", (PyCFunction)Stations_points, METH_NOARGS, "points() -> (x, y) or None."},
    {"cell_station", (PyCFunction)Stations_cell_station, METH_NOARGS,
     "cell_station() -> station row per cell (int64, -1 none) or None without cells."},
    {"cell_counts", (PyCFunction)Stations_cell_counts, METH_NOARGS,
     "cell_counts() -> cells per station (int64)."},
    {"workload", (PyCFunction)Stations_workload, METH_NOARGS,
     "workload() -> dict field -> float64 per station."},
    {"graph", (PyCFunction)Stations_graph, METH_NOARGS,
     "graph() -> Graph of station adjacency (a copy)."},
    {"jurisdictions", (PyCFunction)Stations_jurisdictions, METH_NOARGS,
     "jurisdictions() -> Layer, one row per station (kept alive by this object)."},
    {"classify", (PyCFunction)(void (*)(void))Stations_classify, METH_VARARGS | METH_KEYWORDS,
     "classify(kind=None, central=None, ...) -> (kind, central, score, feasible, problems)."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods Stations_as_sequence = {.sq_length = (lenfunc)Stations_len};

static PyTypeObject StationsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "libgrid._libgrid.Stations",
    .tp_basicsize = sizeof(StationsObject),
    .tp_dealloc = (destructor)Stations_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An lg_stations (use libgrid.Stations).",
    .tp_methods = Stations_methods,
    .tp_as_sequence = &Stations_as_sequence,
};

/* -------------------------------------------------------------- hierarchy */

typedef struct {
    PyObject_HEAD lg_hierarchy *h;
    PyObject *stations;
} HierarchyObject;

static PyTypeObject HierarchyType;

static void Hierarchy_dealloc(HierarchyObject *self)
{
    lg_hierarchy_free(self->h);
    Py_XDECREF(self->stations);
    PyObject_Free(self);
}

/* hierarchy(stations, kind=None, central=None, cell_zone=None, zone_site=None) */
static PyObject *mod_hierarchy(PyObject *mod, PyObject *args, PyObject *kwds)
{
    (void)mod;
    static char *kwlist[] = {"stations", "kind", "central", "cell_zone", "zone_site", NULL};
    PyObject *so, *ko = Py_None, *co = Py_None, *zo = Py_None, *sso = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!|OOOO", kwlist, &StationsType, &so, &ko, &co,
                                     &zo, &sso))
        return NULL;
    lg_stations *st = ((StationsObject *)so)->st;
    npy_intp n = (npy_intp)lg_stations_count(st);
    int ok;
    PyArrayObject *k = NULL, *c = NULL, *z = NULL, *s = NULL;
    PyObject *ret = NULL;
    lg_context *ctx = NULL;
    if ((k = opt_array(ko, NPY_INT32, n, "kind", &ok), !ok) ||
        (c = opt_array(co, NPY_INT64, n, "central", &ok), !ok) ||
        (z = opt_array(zo, NPY_INT64, -1, "cell_zone", &ok), !ok) ||
        (s = opt_array(sso, NPY_INT64, -1, "zone_site", &ok), !ok))
        goto done;
    lg_hierarchy_options opt;
    memset(&opt, 0, sizeof opt);
    opt.cell_zone = z ? PyArray_DATA(z) : NULL;
    opt.n_cells = z ? (size_t)PyArray_SIZE(z) : 0;
    opt.zone_site = s ? PyArray_DATA(s) : NULL;
    opt.n_zones = s ? (size_t)PyArray_SIZE(s) : 0;
    if (!(ctx = new_context()))
        goto done;
    lg_hierarchy *h = NULL;
    lg_error e = lg_hierarchy_new(ctx, st, k ? PyArray_DATA(k) : NULL, c ? PyArray_DATA(c) : NULL,
                                  (size_t)n, &opt, &h);
    if (e != LG_OK) {
        raise_ctx(e, ctx);
        goto done;
    }
    HierarchyObject *self = PyObject_New(HierarchyObject, &HierarchyType);
    if (!self) {
        lg_hierarchy_free(h);
        goto done;
    }
    self->h = h;
    self->stations = Py_NewRef(so);
    ret = (PyObject *)self;
done:
    lg_context_free(ctx);
    Py_XDECREF(k);
    Py_XDECREF(c);
    Py_XDECREF(z);
    Py_XDECREF(s);
    return ret;
}

/* Two same-sized float64 arrays, flattened; NULL on error (raised). */
static int xy_arrays(PyObject *xo, PyObject *yo, const char *what, PyArrayObject **xa,
                     PyArrayObject **ya)
{
    *xa = as_doubles(xo);
    *ya = *xa ? as_doubles(yo) : NULL;
    if (!*xa || !*ya) {
        Py_XDECREF(*xa);
        *xa = NULL;
        return -1;
    }
    if (PyArray_SIZE(*xa) != PyArray_SIZE(*ya)) {
        char msg[256];
        PyOS_snprintf(msg, sizeof msg, "%s: x and y must have the same size, got %ld and %ld", what,
                      (long)PyArray_SIZE(*xa), (long)PyArray_SIZE(*ya));
        raise_code(LG_ERR_ARG, msg);
        Py_CLEAR(*xa);
        Py_CLEAR(*ya);
        return -1;
    }
    return 0;
}

/* lookup(x, y) -> (cell, zone, service_station, station, kind int32, central) */
static PyObject *Hierarchy_lookup(HierarchyObject *self, PyObject *args)
{
    PyObject *xo, *yo;
    if (!PyArg_ParseTuple(args, "OO", &xo, &yo))
        return NULL;
    PyArrayObject *xa, *ya;
    if (xy_arrays(xo, yo, "lookup", &xa, &ya) < 0)
        return NULL;
    npy_intp n = PyArray_SIZE(xa);
    PyArrayObject *o[6] = {NULL};
    PyObject *ret = NULL;
    for (int i = 0; i < 6; i++)
        if (!(o[i] = (PyArrayObject *)new_array(1, &n, i == 4 ? NPY_INT32 : NPY_INT64)))
            goto done;
    const double *x = PyArray_DATA(xa), *y = PyArray_DATA(ya);
    for (npy_intp start = 0; start < n; start += LOCATE_CHUNK) {
        npy_intp m = n - start < LOCATE_CHUNK ? n - start : LOCATE_CHUNK;
        lg_error e;
        Py_BEGIN_ALLOW_THREADS e = lg_hierarchy_lookup_many(
            self->h, x + start, y + start, (size_t)m, (int64_t *)PyArray_DATA(o[0]) + start,
            (int64_t *)PyArray_DATA(o[1]) + start, (int64_t *)PyArray_DATA(o[2]) + start,
            (int64_t *)PyArray_DATA(o[3]) + start, (int32_t *)PyArray_DATA(o[4]) + start,
            (int64_t *)PyArray_DATA(o[5]) + start);
        Py_END_ALLOW_THREADS if (e != LG_OK)
        {
            raise_code(e, "hierarchy lookup failed");
            goto done;
        }
        if (start + m < n && PyErr_CheckSignals() != 0)
            goto done;
    }
    ret = Py_BuildValue("(OOOOOO)", o[0], o[1], o[2], o[3], o[4], o[5]);
done:
    for (int i = 0; i < 6; i++)
        Py_XDECREF(o[i]);
    Py_DECREF(xa);
    Py_DECREF(ya);
    return ret;
}

static PyMethodDef Hierarchy_methods[] = {
    {"lookup", (PyCFunction)Hierarchy_lookup, METH_VARARGS,
     "lookup(x, y) -> (cell, zone, service_station, station, kind, central) arrays."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject HierarchyType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "libgrid._libgrid.Hierarchy",
    .tp_basicsize = sizeof(HierarchyObject),
    .tp_dealloc = (destructor)Hierarchy_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An lg_hierarchy (use libgrid.Hierarchy).",
    .tp_methods = Hierarchy_methods,
};

/* ------------------------------------------------------------------ units */

typedef struct {
    PyObject_HEAD lg_units *u;
    PyObject *layer;
} UnitsObject;

static PyTypeObject UnitsType;

static void Units_dealloc(UnitsObject *self)
{
    lg_units_free(self->u);
    Py_XDECREF(self->layer);
    PyObject_Free(self);
}

/* units(layer=None, cell_station=None, detour=0, speeds=None, bucket_load=0) */
static PyObject *mod_units(PyObject *mod, PyObject *args, PyObject *kwds)
{
    (void)mod;
    static char *kwlist[] = {"layer", "cell_station", "detour", "speeds", "bucket_load", NULL};
    PyObject *lo = Py_None, *cso = Py_None, *spo = Py_None;
    lg_units_options opt;
    memset(&opt, 0, sizeof opt);
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOdOd", kwlist, &lo, &cso, &opt.detour, &spo,
                                     &opt.bucket_load))
        return NULL;
    opt.cells = layer_arg(lo, "units");
    if (PyErr_Occurred())
        return NULL;
    int ok;
    PyArrayObject *cs = NULL, *sp = NULL;
    PyObject *ret = NULL;
    lg_context *ctx = NULL;
    if ((cs = opt_array(cso, NPY_INT64, opt.cells ? (npy_intp)lg_layer_count(opt.cells) : -1,
                        "cell_station", &ok),
         !ok) ||
        (sp = opt_array(spo, NPY_FLOAT64, LG_UNIT_KINDS, "speeds", &ok), !ok))
        goto done;
    if (cs && !opt.cells) {
        raise_code(LG_ERR_ARG, "units: cell_station needs a grid");
        goto done;
    }
    opt.cell_station = cs ? PyArray_DATA(cs) : NULL;
    if (sp)
        memcpy(opt.speed_mps, PyArray_DATA(sp), sizeof opt.speed_mps);
    if (!(ctx = new_context()))
        goto done;
    lg_units *u = NULL;
    lg_error e = lg_units_new(ctx, &opt, &u);
    if (e != LG_OK) {
        raise_ctx(e, ctx);
        goto done;
    }
    UnitsObject *self = PyObject_New(UnitsObject, &UnitsType);
    if (!self) {
        lg_units_free(u);
        goto done;
    }
    self->u = u;
    self->layer = Py_NewRef(lo);
    ret = (PyObject *)self;
done:
    lg_context_free(ctx);
    Py_XDECREF(cs);
    Py_XDECREF(sp);
    return ret;
}

/* update(ids, x=None, y=None, time=None, status=None, caps=None, kind=None, station=None) */
static PyObject *Units_update(UnitsObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"ids", "x", "y", "time", "status", "caps", "kind", "station", NULL};
    PyObject *o[8] = {NULL, Py_None, Py_None, Py_None, Py_None, Py_None, Py_None, Py_None};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OOOOOOO", kwlist, &o[0], &o[1], &o[2], &o[3],
                                     &o[4], &o[5], &o[6], &o[7]))
        return NULL;
    static const int types[8] = {NPY_INT64, NPY_FLOAT64, NPY_FLOAT64, NPY_FLOAT64,
                                 NPY_INT32, NPY_UINT32,  NPY_INT32,   NPY_INT64};
    static const char *names[8] = {"ids", "x", "y", "time", "status", "caps", "kind", "station"};
    PyArrayObject *a[8] = {NULL};
    PyObject *ret = NULL;
    lg_context *ctx = NULL;
    int ok;
    a[0] = opt_array(o[0], NPY_INT64, -1, "ids", &ok);
    if (!ok)
        goto done;
    npy_intp n = a[0] ? PyArray_SIZE(a[0]) : 0;
    for (int i = 1; i < 8; i++)
        if ((a[i] = opt_array(o[i], types[i], n, names[i], &ok), !ok))
            goto done;
    if (!a[1] != !a[2]) {
        raise_code(LG_ERR_ARG, "units: give both x and y or neither");
        goto done;
    }
    lg_units_batch b;
    memset(&b, 0, sizeof b);
    b.n = (size_t)n;
    b.ids = a[0] ? PyArray_DATA(a[0]) : NULL;
    b.x = a[1] ? PyArray_DATA(a[1]) : NULL;
    b.y = a[2] ? PyArray_DATA(a[2]) : NULL;
    b.time_s = a[3] ? PyArray_DATA(a[3]) : NULL;
    b.status = a[4] ? PyArray_DATA(a[4]) : NULL;
    b.caps = a[5] ? PyArray_DATA(a[5]) : NULL;
    b.kind = a[6] ? PyArray_DATA(a[6]) : NULL;
    b.station = a[7] ? PyArray_DATA(a[7]) : NULL;
    if (n == 0) {
        ret = Py_NewRef(Py_None);
        goto done;
    }
    if (!(ctx = new_context()))
        goto done;
    lg_error e;
    Py_BEGIN_ALLOW_THREADS e = lg_units_update(ctx, self->u, &b);
    Py_END_ALLOW_THREADS ret = e != LG_OK ? raise_ctx(e, ctx) : Py_NewRef(Py_None);
done:
    lg_context_free(ctx);
    for (int i = 0; i < 8; i++)
        Py_XDECREF(a[i]);
    return ret;
}

static PyObject *Units_remove(UnitsObject *self, PyObject *arg)
{
    int ok;
    PyArrayObject *ids = opt_array(arg, NPY_INT64, -1, "ids", &ok);
    if (!ok)
        return NULL;
    if (!ids)
        Py_RETURN_NONE;
    lg_context *ctx = new_context();
    PyObject *ret = NULL;
    if (ctx) {
        lg_error e;
        Py_BEGIN_ALLOW_THREADS e =
            lg_units_remove(ctx, self->u, PyArray_DATA(ids), (size_t)PyArray_SIZE(ids));
        Py_END_ALLOW_THREADS ret = e != LG_OK ? raise_ctx(e, ctx) : Py_NewRef(Py_None);
        lg_context_free(ctx);
    }
    Py_DECREF(ids);
    return ret;
}

static PyObject *Units_flush(UnitsObject *self, PyObject *unused)
{
    (void)unused;
    lg_context *ctx = new_context();
    if (!ctx)
        return NULL;
    lg_error e;
    Py_BEGIN_ALLOW_THREADS e = lg_units_flush(ctx, self->u);
    Py_END_ALLOW_THREADS PyObject *ret = e != LG_OK ? raise_ctx(e, ctx) : Py_NewRef(Py_None);
    lg_context_free(ctx);
    return ret;
}

static Py_ssize_t Units_len(UnitsObject *self)
{
    return (Py_ssize_t)lg_units_count(self->u);
}

#define NEAREST_CHUNK ((npy_intp)1 << 14)

/* nearest(x, y, k, status_mask=0, kind_mask=0, caps_all=0, caps_any=0, station=None,
 *         max_dist=0) -> (ids, dist, eta, flags, count); arrays (n, k), count (n,) */
static PyObject *Units_nearest(UnitsObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"x",        "y",        "k",       "status_mask", "kind_mask",
                             "caps_all", "caps_any", "station", "max_dist",    NULL};
    PyObject *xo, *yo, *sto = Py_None;
    Py_ssize_t k = 1;
    unsigned int smask = 0, kmask = 0, call = 0, cany = 0;
    lg_unit_filter f;
    memset(&f, 0, sizeof f);
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|nIIIIOd", kwlist, &xo, &yo, &k, &smask, &kmask,
                                     &call, &cany, &sto, &f.max_dist_m))
        return NULL;
    if (k < 1)
        return raise_code(LG_ERR_ARG, "nearest: k must be >= 1");
    f.status_mask = smask;
    f.kind_mask = kmask;
    f.caps_all = call;
    f.caps_any = cany;
    if (sto != Py_None) {
        long long s = PyLong_AsLongLong(sto);
        if (s == -1 && PyErr_Occurred())
            return NULL;
        f.by_station = true;
        f.station = (int64_t)s;
    }
    PyArrayObject *xa, *ya;
    if (xy_arrays(xo, yo, "nearest", &xa, &ya) < 0)
        return NULL;
    npy_intp n = PyArray_SIZE(xa), dims[2] = {n, (npy_intp)k};
    PyArrayObject *ids = (PyArrayObject *)new_array(2, dims, NPY_INT64);
    PyArrayObject *dist = (PyArrayObject *)new_array(2, dims, NPY_FLOAT64);
    PyArrayObject *eta = (PyArrayObject *)new_array(2, dims, NPY_FLOAT64);
    PyArrayObject *flags = (PyArrayObject *)new_array(2, dims, NPY_UINT32);
    PyArrayObject *count = (PyArrayObject *)new_array(1, &n, NPY_UINTP);
    PyObject *ret = NULL;
    if (!ids || !dist || !eta || !flags || !count)
        goto done;
    const double *x = PyArray_DATA(xa), *y = PyArray_DATA(ya);
    for (npy_intp start = 0; start < n; start += NEAREST_CHUNK) {
        npy_intp m = n - start < NEAREST_CHUNK ? n - start : NEAREST_CHUNK;
        size_t off = (size_t)start * (size_t)k;
        lg_unit_results r = {
            .ids = (int64_t *)PyArray_DATA(ids) + off,
            .dist_m = (double *)PyArray_DATA(dist) + off,
            .eta_s = (double *)PyArray_DATA(eta) + off,
            .flags = (uint32_t *)PyArray_DATA(flags) + off,
            .count = (size_t *)PyArray_DATA(count) + start,
        };
        lg_error e;
        Py_BEGIN_ALLOW_THREADS e =
            lg_units_nearest(self->u, x + start, y + start, (size_t)m, (size_t)k, &f, &r);
        Py_END_ALLOW_THREADS if (e != LG_OK)
        {
            raise_code(e, "nearest: bad arguments");
            goto done;
        }
        if (start + m < n && PyErr_CheckSignals() != 0)
            goto done;
    }
    ret = Py_BuildValue("(OOOOO)", ids, dist, eta, flags, count);
done:
    Py_XDECREF(ids);
    Py_XDECREF(dist);
    Py_XDECREF(eta);
    Py_XDECREF(flags);
    Py_XDECREF(count);
    Py_DECREF(xa);
    Py_DECREF(ya);
    return ret;
}

/* get() -> dict of arrays of every unit of the published state, sorted by id */
static PyObject *Units_get(UnitsObject *self, PyObject *unused)
{
    (void)unused;
    lg_units_view v;
    lg_units_view_acquire(self->u, &v);
    npy_intp n = (npy_intp)lg_units_view_count(&v);
    static const int types[8] = {NPY_INT64, NPY_FLOAT64, NPY_FLOAT64, NPY_FLOAT64,
                                 NPY_INT32, NPY_UINT32,  NPY_INT32,   NPY_INT64};
    static const char *names[8] = {"id", "x", "y", "time", "status", "caps", "kind", "station"};
    PyArrayObject *a[8] = {NULL};
    PyObject *d = NULL;
    for (int i = 0; i < 8; i++)
        if (!(a[i] = (PyArrayObject *)new_array(1, &n, types[i])))
            goto done;
    lg_error e = lg_units_view_get(&v, 0, (size_t)n, PyArray_DATA(a[0]), PyArray_DATA(a[1]),
                                   PyArray_DATA(a[2]), PyArray_DATA(a[3]), PyArray_DATA(a[4]),
                                   PyArray_DATA(a[5]), PyArray_DATA(a[6]), PyArray_DATA(a[7]));
    if (e != LG_OK) {
        raise_code(e, "units: cannot read the registry");
        goto done;
    }
    d = PyDict_New();
    for (int i = 0; d && i < 8; i++)
        if (PyDict_SetItemString(d, names[i], (PyObject *)a[i]) < 0)
            Py_CLEAR(d);
done:
    lg_units_view_release(&v);
    for (int i = 0; i < 8; i++)
        Py_XDECREF(a[i]);
    return d;
}

static PyObject *Units_station_at(UnitsObject *self, PyObject *args)
{
    PyObject *xo, *yo;
    if (!PyArg_ParseTuple(args, "OO", &xo, &yo))
        return NULL;
    PyArrayObject *xa, *ya;
    if (xy_arrays(xo, yo, "station_at", &xa, &ya) < 0)
        return NULL;
    npy_intp n = PyArray_SIZE(xa);
    PyArrayObject *out = (PyArrayObject *)new_array(1, &n, NPY_INT64);
    if (out) {
        const double *x = PyArray_DATA(xa), *y = PyArray_DATA(ya);
        int64_t *o = PyArray_DATA(out);
        Py_BEGIN_ALLOW_THREADS for (npy_intp i = 0; i < n; i++) o[i] =
            lg_units_station_at(self->u, x[i], y[i]);
        Py_END_ALLOW_THREADS
    }
    Py_DECREF(xa);
    Py_DECREF(ya);
    return (PyObject *)out;
}

static PyObject *Units_eta(UnitsObject *self, PyObject *args)
{
    int kind;
    double d;
    if (!PyArg_ParseTuple(args, "id", &kind, &d))
        return NULL;
    return PyFloat_FromDouble(lg_units_eta_s(self->u, kind, d));
}

static PyMethodDef Units_methods[] = {
    {"update", (PyCFunction)(void (*)(void))Units_update, METH_VARARGS | METH_KEYWORDS,
     "update(ids, x=None, y=None, time=None, status=None, caps=None, kind=None, station=None)"},
    {"remove", (PyCFunction)Units_remove, METH_O, "remove(ids)"},
    {"flush", (PyCFunction)Units_flush, METH_NOARGS, "flush(): publish deferred batches."},
    {"nearest", (PyCFunction)(void (*)(void))Units_nearest, METH_VARARGS | METH_KEYWORDS,
     "nearest(x, y, k, ...) -> (ids, dist, eta, flags, count)"},
    {"get", (PyCFunction)Units_get, METH_NOARGS, "get() -> dict of arrays of every unit."},
    {"station_at", (PyCFunction)Units_station_at, METH_VARARGS,
     "station_at(x, y) -> station per point."},
    {"eta", (PyCFunction)Units_eta, METH_VARARGS, "eta(kind, dist_m) -> seconds."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods Units_as_sequence = {.sq_length = (lenfunc)Units_len};

static PyTypeObject UnitsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "libgrid._libgrid.Units",
    .tp_basicsize = sizeof(UnitsObject),
    .tp_dealloc = (destructor)Units_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An lg_units registry (use libgrid.Units).",
    .tp_methods = Units_methods,
    .tp_as_sequence = &Units_as_sequence,
};

/* -------------------------------------------------------------- run cards */

/* runcards(layer, sx, sy, ids=None, k=0, speed=0, detour=0)
 * -> (stations (n,k), eta (n,k), demand_x, demand_y) */
static PyObject *mod_runcards(PyObject *mod, PyObject *args, PyObject *kwds)
{
    (void)mod;
    static char *kwlist[] = {"layer", "sx", "sy", "ids", "k", "speed", "detour", NULL};
    PyObject *lo, *sxo, *syo, *ido = Py_None;
    Py_ssize_t k = 0;
    lg_runcard_options opt;
    memset(&opt, 0, sizeof opt);
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!OO|Ondd", kwlist, &LayerType, &lo, &sxo, &syo,
                                     &ido, &k, &opt.speed_mps, &opt.detour))
        return NULL;
    if (k < 0)
        return raise_code(LG_ERR_ARG, "run cards: k must be >= 1");
    opt.k = (size_t)k;
    const lg_layer *l = ((LayerObject *)lo)->layer;
    int ok;
    PyArrayObject *sx = NULL, *sy = NULL, *ids = NULL, *st = NULL, *eta = NULL, *dx = NULL,
                  *dy = NULL;
    PyObject *ret = NULL;
    lg_context *ctx = NULL;
    lg_runcard *rc = NULL;
    if ((sx = opt_array(sxo, NPY_FLOAT64, -1, "station_x", &ok), !ok) ||
        (sy = opt_array(syo, NPY_FLOAT64, sx ? PyArray_SIZE(sx) : 0, "station_y", &ok), !ok) ||
        (ids = opt_array(ido, NPY_INT64, sx ? PyArray_SIZE(sx) : 0, "station_ids", &ok), !ok))
        goto done;
    size_t ns = sx ? (size_t)PyArray_SIZE(sx) : 0;
    if (!(ctx = new_context()))
        goto done;
    lg_error e;
    Py_BEGIN_ALLOW_THREADS e =
        lg_runcard_build(ctx, l, sx ? PyArray_DATA(sx) : NULL, sy ? PyArray_DATA(sy) : NULL,
                         ids ? PyArray_DATA(ids) : NULL, ns, &opt, &rc);
    Py_END_ALLOW_THREADS if (e != LG_OK)
    {
        raise_ctx(e, ctx);
        goto done;
    }
    size_t kk = lg_runcard_k(rc);
    npy_intp nc = (npy_intp)lg_layer_count(l), dims[2] = {nc, (npy_intp)kk};
    st = (PyArrayObject *)new_array(2, dims, NPY_INT64);
    eta = (PyArrayObject *)new_array(2, dims, NPY_FLOAT64);
    dx = (PyArrayObject *)new_array(1, &nc, NPY_FLOAT64);
    dy = (PyArrayObject *)new_array(1, &nc, NPY_FLOAT64);
    if (!st || !eta || !dx || !dy)
        goto done;
    int64_t *sv = PyArray_DATA(st);
    double *ev = PyArray_DATA(eta), *xv = PyArray_DATA(dx), *yv = PyArray_DATA(dy);
    Py_BEGIN_ALLOW_THREADS for (npy_intp r = 0; r < nc; r++)
    {
        size_t got = 0;
        if (lg_runcard_cell(rc, (size_t)r, sv + r * (npy_intp)kk, ev + r * (npy_intp)kk, &got) !=
            LG_OK)
            got = 0;
        for (size_t j = got; j < kk; j++) {
            sv[r * (npy_intp)kk + (npy_intp)j] = LG_NONE;
            ev[r * (npy_intp)kk + (npy_intp)j] = INFINITY;
        }
        if (lg_runcard_demand_point(rc, (size_t)r, &xv[r], &yv[r]) != LG_OK)
            xv[r] = yv[r] = NAN;
    }
    Py_END_ALLOW_THREADS ret = Py_BuildValue("(OOOO)", st, eta, dx, dy);
done:
    lg_runcard_free(rc);
    lg_context_free(ctx);
    Py_XDECREF(sx);
    Py_XDECREF(sy);
    Py_XDECREF(ids);
    Py_XDECREF(st);
    Py_XDECREF(eta);
    Py_XDECREF(dx);
    Py_XDECREF(dy);
    return ret;
}

/* --------------------------------------------------------------- coverage */

static PyObject *totals_dict(const lg_coverage_totals *t)
{
    return Py_BuildValue("{s:n,s:n,s:n,s:d,s:d,s:d,s:d,s:d,s:d,s:d,s:d,s:d,s:d,s:d,s:d,s:d,s:d}",
                         "cells", (Py_ssize_t)t->cells, "cells_covered",
                         (Py_ssize_t)t->cells_covered, "cells_backup", (Py_ssize_t)t->cells_backup,
                         "area_m2", t->area_m2, "area_covered_m2", t->area_covered_m2,
                         "area_backup_m2", t->area_backup_m2, "weight", t->weight, "weight_covered",
                         t->weight_covered, "weight_backup", t->weight_backup, "share_cells",
                         t->share_cells, "share_cells_backup", t->share_cells_backup, "share_area",
                         t->share_area, "share_area_backup", t->share_area_backup, "share",
                         t->share, "backup_share", t->backup_share, "mean_distance_m",
                         t->mean_distance_m, "max_distance_m", t->max_distance_m);
}

static PyObject *totals_list(const lg_coverage_totals *t, size_t n)
{
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l && i < n; i++) {
        PyObject *d = totals_dict(&t[i]);
        if (!d) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, d);
    }
    return l;
}

/* coverage(layer, fx, fy, radius=0, minutes=0, speed=0, detour=0, x=None, y=None,
 *          weight=None, group=None, n_groups=0) -> dict */
static PyObject *mod_coverage(PyObject *mod, PyObject *args, PyObject *kwds)
{
    (void)mod;
    static char *kwlist[] = {"layer", "fx", "fy",     "radius", "minutes",  "speed", "detour",
                             "x",     "y",  "weight", "group",  "n_groups", NULL};
    PyObject *lo, *fxo, *fyo, *xo = Py_None, *yo = Py_None, *wo = Py_None, *go = Py_None;
    Py_ssize_t ng = 0;
    lg_coverage_options opt;
    memset(&opt, 0, sizeof opt);
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!OO|ddddOOOOn", kwlist, &LayerType, &lo, &fxo,
                                     &fyo, &opt.threshold.radius_m, &opt.threshold.minutes,
                                     &opt.threshold.speed_mps, &opt.threshold.detour, &xo, &yo, &wo,
                                     &go, &ng))
        return NULL;
    const lg_layer *l = ((LayerObject *)lo)->layer;
    npy_intp n = (npy_intp)lg_layer_count(l);
    int ok;
    PyArrayObject *fx = NULL, *fy = NULL, *x = NULL, *y = NULL, *w = NULL, *g = NULL;
    PyArrayObject *nearest = NULL, *dist = NULL, *eta = NULL, *count = NULL, *unc = NULL;
    lg_coverage_totals *gt = NULL, *ft = NULL;
    PyObject *ret = NULL;
    lg_context *ctx = NULL;
    if (ng < 0) {
        raise_code(LG_ERR_ARG, "coverage: n_groups must be >= 0");
        goto done;
    }
    if ((fx = opt_array(fxo, NPY_FLOAT64, -1, "coverage: facility x", &ok), !ok) ||
        (fy = opt_array(fyo, NPY_FLOAT64, fx ? PyArray_SIZE(fx) : 0, "coverage: facility y", &ok),
         !ok) ||
        (x = opt_array(xo, NPY_FLOAT64, n, "coverage: demand x", &ok), !ok) ||
        (y = opt_array(yo, NPY_FLOAT64, n, "coverage: demand y", &ok), !ok) ||
        (w = opt_array(wo, NPY_FLOAT64, n, "coverage: weight", &ok), !ok) ||
        (g = opt_array(go, NPY_INT64, n, "coverage: group", &ok), !ok))
        goto done;
    size_t nf = fx ? (size_t)PyArray_SIZE(fx) : 0;
    opt.x = x ? PyArray_DATA(x) : NULL;
    opt.y = y ? PyArray_DATA(y) : NULL;
    opt.weight = w ? PyArray_DATA(w) : NULL;
    opt.group = g ? PyArray_DATA(g) : NULL;
    opt.n_groups = g ? (size_t)ng : 0;
    nearest = (PyArrayObject *)new_array(1, &n, NPY_INT64);
    dist = (PyArrayObject *)new_array(1, &n, NPY_FLOAT64);
    eta = (PyArrayObject *)new_array(1, &n, NPY_FLOAT64);
    count = (PyArrayObject *)new_array(1, &n, NPY_INT32);
    unc = (PyArrayObject *)new_array(1, &n, NPY_INT64);
    gt = PyMem_Calloc(opt.n_groups + 1, sizeof *gt);
    ft = PyMem_Calloc(nf + 1, sizeof *ft);
    if (!nearest || !dist || !eta || !count || !unc || !gt || !ft) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto done;
    }
    size_t nunc = 0;
    lg_coverage_totals tot;
    lg_coverage_results r = {
        .nearest = PyArray_DATA(nearest),
        .distance_m = PyArray_DATA(dist),
        .eta_s = PyArray_DATA(eta),
        .count = PyArray_DATA(count),
        .uncovered = PyArray_DATA(unc),
        .n_uncovered = &nunc,
        .totals = &tot,
        .group_totals = opt.group ? gt : NULL, /* coverage.c reads group[] when set */
        .facility_totals = ft,
    };
    progress_state ps;
    if (!(ctx = new_progress_context(&ps)))
        goto done;
    double radius = NAN;
    lg_error e = lg_coverage_radius_m(ctx, &opt.threshold, &radius);
    if (e == LG_OK) {
        PyThreadState *ts = PyEval_SaveThread();
        e = lg_coverage_cells(ctx, l, fx ? PyArray_DATA(fx) : NULL, fy ? PyArray_DATA(fy) : NULL,
                              nf, &opt, &r);
        PyEval_RestoreThread(ts);
    }
    if (e != LG_OK) {
        raise_ctx(e, ctx);
        goto done;
    }
    PyArray_Dims dm = {(npy_intp[]){(npy_intp)nunc}, 1};
    PyObject *rz = PyArray_Resize(unc, &dm, 0, NPY_CORDER);
    if (!rz)
        goto done;
    Py_DECREF(rz);
    ret = Py_BuildValue("{s:O,s:O,s:O,s:O,s:O,s:N,s:N,s:N,s:d}", "nearest", nearest, "distance",
                        dist, "eta", eta, "count", count, "uncovered", unc, "totals",
                        totals_dict(&tot), "group_totals", totals_list(gt, opt.n_groups),
                        "facility_totals", totals_list(ft, nf), "radius_m", radius);
done:
    lg_context_free(ctx);
    PyMem_Free(gt);
    PyMem_Free(ft);
    Py_XDECREF(fx);
    Py_XDECREF(fy);
    Py_XDECREF(x);
    Py_XDECREF(y);
    Py_XDECREF(w);
    Py_XDECREF(g);
    Py_XDECREF(nearest);
    Py_XDECREF(dist);
    Py_XDECREF(eta);
    Py_XDECREF(count);
    Py_XDECREF(unc);
    return ret;
}

/* coverage_area(layer, fx, fy, radius=0, minutes=0, speed=0, detour=0, quadrant_segments=0,
 *               method=0, dissolve=False, uncovered=True) -> dict */
static PyObject *mod_coverage_area(PyObject *mod, PyObject *args, PyObject *kwds)
{
    (void)mod;
    static char *kwlist[] = {"layer",   "fx",       "fy",        "radius",
                             "minutes", "speed",    "detour",    "quadrant_segments",
                             "method",  "dissolve", "uncovered", NULL};
    PyObject *lo, *fxo, *fyo;
    int method = 0, dissolve = 0, want = 1;
    lg_area_options opt;
    memset(&opt, 0, sizeof opt);
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!OO|ddddiipp", kwlist, &LayerType, &lo, &fxo,
                                     &fyo, &opt.threshold.radius_m, &opt.threshold.minutes,
                                     &opt.threshold.speed_mps, &opt.threshold.detour,
                                     &opt.quadrant_segments, &method, &dissolve, &want))
        return NULL;
    opt.method = method ? LG_AREA_UNION : LG_AREA_CLIP;
    opt.dissolve = dissolve != 0;
    const lg_layer *l = ((LayerObject *)lo)->layer;
    npy_intp n = (npy_intp)lg_layer_count(l);
    int ok;
    PyArrayObject *fx = NULL, *fy = NULL, *cc = NULL;
    PyObject *ret = NULL;
    lg_context *ctx = NULL;
    lg_layer *unc = NULL;
    if ((fx = opt_array(fxo, NPY_FLOAT64, -1, "coverage_area: facility x", &ok), !ok) ||
        (fy = opt_array(fyo, NPY_FLOAT64, fx ? PyArray_SIZE(fx) : 0, "coverage_area: facility y",
                        &ok),
         !ok))
        goto done;
    if (!(cc = (PyArrayObject *)new_array(1, &n, NPY_FLOAT64)))
        goto done;
    progress_state ps;
    if (!(ctx = new_progress_context(&ps)))
        goto done;
    lg_area_result res;
    memset(&res, 0, sizeof res);
    PyThreadState *ts = PyEval_SaveThread();
    lg_error e = lg_coverage_area(ctx, l, fx ? PyArray_DATA(fx) : NULL,
                                  fy ? PyArray_DATA(fy) : NULL, fx ? (size_t)PyArray_SIZE(fx) : 0,
                                  &opt, &res, PyArray_DATA(cc), want ? &unc : NULL);
    PyEval_RestoreThread(ts);
    if (e != LG_OK) {
        raise_ctx(e, ctx);
        goto done;
    }
    PyObject *ul = Py_None;
    if (unc) {
        if (!(ul = wrap_layer(unc)))
            goto done;
        unc = NULL;
    } else {
        Py_INCREF(ul);
    }
    ret = Py_BuildValue(
        "{s:d,s:d,s:d,s:d,s:d,s:i,s:d,s:n,s:n,s:n,s:O,s:N}", "region_area_m2", res.region_area_m2,
        "covered_area_m2", res.covered_area_m2, "uncovered_area_m2", res.uncovered_area_m2, "share",
        res.share, "radius_m", res.radius_m, "quadrant_segments", res.quadrant_segments,
        "buffer_area_error", res.buffer_area_error, "cells_full", (Py_ssize_t)res.cells_full,
        "cells_none", (Py_ssize_t)res.cells_none, "cells_clipped", (Py_ssize_t)res.cells_clipped,
        "cell_covered_m2", cc, "uncovered", ul);
done:
    lg_layer_free(unc);
    lg_context_free(ctx);
    Py_XDECREF(fx);
    Py_XDECREF(fy);
    Py_XDECREF(cc);
    return ret;
}

/* siting(layer, mode ('mclp'|'lscp'), p=0, radius=0, minutes=0, speed=0, detour=0, x=None,
 *        y=None, weight=None, candidates=None, existing_x=None, existing_y=None,
 *        max_swap_passes=0) -> dict */
static PyObject *mod_siting(PyObject *mod, PyObject *args, PyObject *kwds)
{
    (void)mod;
    static char *kwlist[] = {
        "layer", "mode", "p",      "radius",     "minutes",    "speed",      "detour",
        "x",     "y",    "weight", "candidates", "existing_x", "existing_y", "max_swap_passes",
        NULL};
    PyObject *lo, *xo = Py_None, *yo = Py_None, *wo = Py_None, *co = Py_None, *exo = Py_None,
                  *eyo = Py_None;
    const char *mode;
    Py_ssize_t p = 0;
    unsigned int passes = 0;
    lg_siting_options opt;
    memset(&opt, 0, sizeof opt);
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!s|nddddOOOOOOI", kwlist, &LayerType, &lo, &mode,
                                     &p, &opt.threshold.radius_m, &opt.threshold.minutes,
                                     &opt.threshold.speed_mps, &opt.threshold.detour, &xo, &yo, &wo,
                                     &co, &exo, &eyo, &passes))
        return NULL;
    bool mclp = strcmp(mode, "mclp") == 0;
    if (p < 0)
        return raise_code(LG_ERR_ARG, "siting: p must be >= 0");
    const lg_layer *l = ((LayerObject *)lo)->layer;
    npy_intp n = (npy_intp)lg_layer_count(l);
    int ok;
    PyArrayObject *x = NULL, *y = NULL, *w = NULL, *c = NULL, *ex = NULL, *ey = NULL, *sites = NULL,
                  *gain = NULL;
    PyObject *ret = NULL;
    lg_context *ctx = NULL;
    if ((x = opt_array(xo, NPY_FLOAT64, n, "siting: demand x", &ok), !ok) ||
        (y = opt_array(yo, NPY_FLOAT64, n, "siting: demand y", &ok), !ok) ||
        (w = opt_array(wo, NPY_FLOAT64, n, "siting: weight", &ok), !ok) ||
        (c = opt_array(co, NPY_INT64, -1, "siting: candidates", &ok), !ok) ||
        (ex = opt_array(exo, NPY_FLOAT64, -1, "siting: existing x", &ok), !ok) ||
        (ey = opt_array(eyo, NPY_FLOAT64, ex ? PyArray_SIZE(ex) : 0, "siting: existing y", &ok),
         !ok))
        goto done;
    opt.x = x ? PyArray_DATA(x) : NULL;
    opt.y = y ? PyArray_DATA(y) : NULL;
    opt.weight = w ? PyArray_DATA(w) : NULL;
    opt.candidates = c ? PyArray_DATA(c) : NULL;
    opt.n_candidates = c ? (size_t)PyArray_SIZE(c) : 0;
    opt.existing_x = ex ? PyArray_DATA(ex) : NULL;
    opt.existing_y = ey ? PyArray_DATA(ey) : NULL;
    opt.n_existing = ex ? (size_t)PyArray_SIZE(ex) : 0;
    opt.max_swap_passes = passes;
    npy_intp cap = mclp ? (npy_intp)p : (c ? PyArray_SIZE(c) : n);
    sites = (PyArrayObject *)new_array(1, &cap, NPY_INT64);
    gain = (PyArrayObject *)new_array(1, &cap, NPY_FLOAT64);
    if (!sites || !gain)
        goto done;
    progress_state ps;
    if (!(ctx = new_progress_context(&ps)))
        goto done;
    lg_siting_summary sum;
    memset(&sum, 0, sizeof sum);
    PyThreadState *ts = PyEval_SaveThread();
    lg_error e = mclp ? lg_siting_mclp(ctx, l, (size_t)p, &opt, PyArray_DATA(sites),
                                       PyArray_DATA(gain), (size_t)cap, &sum)
                      : lg_siting_lscp(ctx, l, &opt, PyArray_DATA(sites), PyArray_DATA(gain),
                                       (size_t)cap, &sum);
    PyEval_RestoreThread(ts);
    if (e != LG_OK) {
        raise_ctx(e, ctx);
        goto done;
    }
    PyArray_Dims dm = {
        (npy_intp[]){(npy_intp)(sum.n_sites < (size_t)cap ? sum.n_sites : (size_t)cap)}, 1};
    PyObject *r1 = PyArray_Resize(sites, &dm, 0, NPY_CORDER);
    PyObject *r2 = r1 ? PyArray_Resize(gain, &dm, 0, NPY_CORDER) : NULL;
    Py_XDECREF(r1);
    Py_XDECREF(r2);
    if (!r1 || !r2)
        goto done;
    ret = Py_BuildValue("{s:O,s:O,s:d,s:d,s:d,s:n,s:d,s:d,s:d,s:n,s:n,s:n}", "sites", sites, "gain",
                        gain, "total_weight", sum.total_weight, "existing_weight",
                        sum.existing_weight, "coverable_weight", sum.coverable_weight,
                        "uncoverable_cells", (Py_ssize_t)sum.uncoverable_cells, "covered_weight",
                        sum.covered_weight, "greedy_weight", sum.greedy_weight, "upper_bound",
                        sum.upper_bound, "swaps", (Py_ssize_t)sum.swaps, "lower_bound",
                        (Py_ssize_t)sum.lower_bound, "greedy_sites", (Py_ssize_t)sum.greedy_sites);
done:
    lg_context_free(ctx);
    Py_XDECREF(x);
    Py_XDECREF(y);
    Py_XDECREF(w);
    Py_XDECREF(c);
    Py_XDECREF(ex);
    Py_XDECREF(ey);
    Py_XDECREF(sites);
    Py_XDECREF(gain);
    return ret;
}

/* heat(layer, x, y, weight=None, rows=None, time=None, t0=None, t1=None, group=None,
 *      n_groups=0) -> dict. time int64 or float64 (by dtype), window [t0, t1). */
static PyObject *mod_heat(PyObject *mod, PyObject *args, PyObject *kwds)
{
    (void)mod;
    static char *kwlist[] = {"layer", "x",  "y",     "weight",   "rows", "time",
                             "t0",    "t1", "group", "n_groups", NULL};
    PyObject *lo, *xo, *yo, *wo = Py_None, *ro = Py_None, *to = Py_None, *t0o = Py_None,
                            *t1o = Py_None, *go = Py_None;
    Py_ssize_t ng = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!OO|OOOOOOn", kwlist, &LayerType, &lo, &xo, &yo,
                                     &wo, &ro, &to, &t0o, &t1o, &go, &ng))
        return NULL;
    const lg_layer *l = ((LayerObject *)lo)->layer;
    npy_intp nc = (npy_intp)lg_layer_count(l);
    PyArrayObject *xa = NULL, *ya = NULL, *w = NULL, *r = NULL, *t = NULL, *g = NULL, *cs = NULL,
                  *gs = NULL, *cof = NULL;
    PyObject *ret = NULL;
    lg_context *ctx = NULL;
    int ok;
    if (ng < 0)
        return raise_code(LG_ERR_ARG, "heat: n_groups must be >= 0");
    if (xy_arrays(xo, yo, "heat", &xa, &ya) < 0)
        return NULL;
    npy_intp n = PyArray_SIZE(xa);
    lg_heat_options opt;
    memset(&opt, 0, sizeof opt);
    if ((w = opt_array(wo, NPY_FLOAT64, n, "heat: weight", &ok), !ok) ||
        (r = opt_array(ro, NPY_INT64, n, "heat: rows", &ok), !ok) ||
        (g = opt_array(go, NPY_INT64, nc, "heat: group", &ok), !ok))
        goto done;
    if (to != Py_None) {
        bool integer = PyArray_Check(to) && PyArray_ISINTEGER((PyArrayObject *)to);
        if ((t = opt_array(to, integer ? NPY_INT64 : NPY_FLOAT64, n, "heat: time", &ok), !ok))
            goto done;
        if (integer) {
            opt.time_i = PyArray_DATA(t);
            opt.t0_i = t0o == Py_None ? INT64_MIN : (int64_t)PyLong_AsLongLong(t0o);
            opt.t1_i = t1o == Py_None ? INT64_MAX : (int64_t)PyLong_AsLongLong(t1o);
        } else {
            opt.time_d = PyArray_DATA(t);
            opt.t0_d = t0o == Py_None ? -INFINITY : PyFloat_AsDouble(t0o);
            opt.t1_d = t1o == Py_None ? INFINITY : PyFloat_AsDouble(t1o);
        }
        if (PyErr_Occurred())
            goto done;
    }
    opt.weight = w ? PyArray_DATA(w) : NULL;
    opt.rows = r ? PyArray_DATA(r) : NULL;
    opt.group = g ? PyArray_DATA(g) : NULL;
    opt.n_groups = g ? (size_t)ng : 0;
    npy_intp ngd = (npy_intp)opt.n_groups;
    cs = (PyArrayObject *)new_array(1, &nc, NPY_FLOAT64);
    gs = (PyArrayObject *)new_array(1, &ngd, NPY_FLOAT64);
    cof = (PyArrayObject *)new_array(1, &n, NPY_INT64);
    if (!cs || !gs || !cof)
        goto done;
    progress_state ps;
    if (!(ctx = new_progress_context(&ps)))
        goto done;
    lg_heat_summary sum;
    memset(&sum, 0, sizeof sum);
    PyThreadState *ts = PyEval_SaveThread();
    lg_error e = lg_heat_aggregate(ctx, l, PyArray_DATA(xa), PyArray_DATA(ya), (size_t)n, &opt,
                                   PyArray_DATA(cs), opt.n_groups ? PyArray_DATA(gs) : NULL,
                                   PyArray_DATA(cof), &sum);
    PyEval_RestoreThread(ts);
    if (e != LG_OK) {
        raise_ctx(e, ctx);
        goto done;
    }
    ret = Py_BuildValue("{s:O,s:O,s:O,s:n,s:n,s:n,s:n,s:d}", "cell", cs, "group", gs, "cell_of",
                        cof, "incidents", (Py_ssize_t)sum.incidents, "in_window",
                        (Py_ssize_t)sum.in_window, "located", (Py_ssize_t)sum.located, "outside",
                        (Py_ssize_t)sum.outside, "total", sum.total);
done:
    lg_context_free(ctx);
    Py_XDECREF(xa);
    Py_XDECREF(ya);
    Py_XDECREF(w);
    Py_XDECREF(r);
    Py_XDECREF(t);
    Py_XDECREF(g);
    Py_XDECREF(cs);
    Py_XDECREF(gs);
    Py_XDECREF(cof);
    return ret;
}

/* heat_top(layer, value, k, density=False) -> (rows, score) */
static PyObject *mod_heat_top(PyObject *mod, PyObject *args, PyObject *kwds)
{
    (void)mod;
    static char *kwlist[] = {"layer", "value", "k", "density", NULL};
    PyObject *lo, *vo;
    Py_ssize_t k;
    int density = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!On|p", kwlist, &LayerType, &lo, &vo, &k,
                                     &density))
        return NULL;
    if (k < 0)
        return raise_code(LG_ERR_ARG, "heat top: k must be >= 0");
    const lg_layer *l = ((LayerObject *)lo)->layer;
    int ok;
    PyArrayObject *v =
        opt_array(vo, NPY_FLOAT64, (npy_intp)lg_layer_count(l), "heat top: value", &ok);
    if (!ok)
        return NULL;
    npy_intp kk = k;
    PyArrayObject *rows = (PyArrayObject *)new_array(1, &kk, NPY_INT64);
    PyArrayObject *score = (PyArrayObject *)new_array(1, &kk, NPY_FLOAT64);
    PyObject *ret = NULL;
    lg_context *ctx = NULL;
    if (!rows || !score || !(ctx = new_context()))
        goto done;
    size_t got = 0;
    lg_error e = lg_heat_top(ctx, l, v ? PyArray_DATA(v) : NULL, (size_t)k,
                             density ? LG_HEAT_BY_DENSITY : LG_HEAT_BY_VALUE, PyArray_DATA(rows),
                             PyArray_DATA(score), &got);
    if (e != LG_OK) {
        raise_ctx(e, ctx);
        goto done;
    }
    PyArray_Dims dm = {(npy_intp[]){(npy_intp)got}, 1};
    PyObject *r1 = PyArray_Resize(rows, &dm, 0, NPY_CORDER);
    PyObject *r2 = r1 ? PyArray_Resize(score, &dm, 0, NPY_CORDER) : NULL;
    Py_XDECREF(r1);
    Py_XDECREF(r2);
    if (r1 && r2)
        ret = Py_BuildValue("(OO)", rows, score);
done:
    lg_context_free(ctx);
    Py_XDECREF(v);
    Py_XDECREF(rows);
    Py_XDECREF(score);
    return ret;
}

/* ---------------------------------------------------------- derived layers */

/* derive(layer, columns) with columns a list of (name, type, values, nulls or None):
 * type 'int' (int64 values), 'real' (float64), 'text' (sequence of str or None). */
static PyObject *mod_derive(PyObject *mod, PyObject *args)
{
    (void)mod;
    PyObject *lo, *colso;
    if (!PyArg_ParseTuple(args, "O!O", &LayerType, &lo, &colso))
        return NULL;
    const lg_layer *l = ((LayerObject *)lo)->layer;
    npy_intp n = (npy_intp)lg_layer_count(l);
    PyObject *cols = PySequence_Fast(colso, "derive: columns must be a sequence");
    if (!cols)
        return NULL;
    Py_ssize_t nc = PySequence_Fast_GET_SIZE(cols);
    lg_column_spec *spec = PyMem_Calloc((size_t)nc + 1, sizeof *spec);
    PyObject **keep = PyMem_Calloc((size_t)nc * 2 + 1, sizeof *keep);
    const char ***texts = PyMem_Calloc((size_t)nc + 1, sizeof *texts);
    PyObject *ret = NULL;
    lg_context *ctx = NULL;
    if (!spec || !keep || !texts) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < nc; i++) {
        PyObject *c = PySequence_Fast_GET_ITEM(cols, i), *vo, *no;
        const char *name, *type;
        if (!PyArg_ParseTuple(c, "ssOO", &name, &type, &vo, &no))
            goto done;
        int ok;
        spec[i].name = name;
        PyArrayObject *nulls = opt_array(no, NPY_UINT8, n, name, &ok);
        if (!ok)
            goto done;
        keep[2 * i + 1] = (PyObject *)nulls;
        spec[i].null = nulls ? PyArray_DATA(nulls) : NULL;
        if (strcmp(type, "int") == 0 || strcmp(type, "real") == 0) {
            bool isint = type[0] == 'i';
            PyArrayObject *v = opt_array(vo, isint ? NPY_INT64 : NPY_FLOAT64, n, name, &ok);
            if (!ok)
                goto done;
            if (!v) {
                raise_code(LG_ERR_ARG, "derive: a column without values");
                goto done;
            }
            keep[2 * i] = (PyObject *)v;
            spec[i].type = isint ? LG_FIELD_INT : LG_FIELD_REAL;
            if (isint)
                spec[i].ints = PyArray_DATA(v);
            else
                spec[i].reals = PyArray_DATA(v);
        } else if (strcmp(type, "text") == 0) {
            PyObject *seq = PySequence_Fast(vo, "derive: text values must be a sequence");
            if (!seq)
                goto done;
            keep[2 * i] = seq;
            if (PySequence_Fast_GET_SIZE(seq) != n) {
                raise_code(LG_ERR_ARG, "derive: a text column of the wrong length");
                goto done;
            }
            if (!(texts[i] = PyMem_Calloc((size_t)n + 1, sizeof *texts[i]))) {
                PyErr_NoMemory();
                goto done;
            }
            for (npy_intp r = 0; r < n; r++) {
                PyObject *s = PySequence_Fast_GET_ITEM(seq, r);
                if (s == Py_None)
                    continue;
                if (!PyUnicode_Check(s)) {
                    PyErr_SetString(PyExc_TypeError, "derive: text values must be str or None");
                    goto done;
                }
                if (!(texts[i][r] = PyUnicode_AsUTF8(s)))
                    goto done;
            }
            spec[i].type = LG_FIELD_TEXT;
            spec[i].texts = texts[i];
        } else {
            raise_code(LG_ERR_ARG, "derive: type must be 'int', 'real' or 'text'");
            goto done;
        }
    }
    if (!(ctx = new_context()))
        goto done;
    lg_layer *out = NULL;
    lg_error e;
    Py_BEGIN_ALLOW_THREADS e = lg_layer_derive(ctx, l, spec, (size_t)nc, &out);
    Py_END_ALLOW_THREADS ret = e != LG_OK ? raise_ctx(e, ctx) : wrap_layer(out);
done:
    lg_context_free(ctx);
    if (keep)
        for (Py_ssize_t i = 0; i < 2 * nc; i++)
            Py_XDECREF(keep[i]);
    if (texts)
        for (Py_ssize_t i = 0; i < nc; i++)
            PyMem_Free(texts[i]);
    PyMem_Free(texts);
    PyMem_Free(keep);
    PyMem_Free(spec);
    Py_DECREF(cols);
    return ret;
}

/* dissolve(layer, group) -> Layer (fields "group", "cells") */
static PyObject *mod_dissolve(PyObject *mod, PyObject *args)
{
    (void)mod;
    PyObject *lo, *go;
    if (!PyArg_ParseTuple(args, "O!O", &LayerType, &lo, &go))
        return NULL;
    const lg_layer *l = ((LayerObject *)lo)->layer;
    int ok;
    PyArrayObject *g =
        opt_array(go, NPY_INT64, (npy_intp)lg_layer_count(l), "dissolve: group", &ok);
    if (!ok)
        return NULL;
    if (!g)
        return raise_code(LG_ERR_ARG, "dissolve: group is required");
    progress_state ps;
    lg_context *ctx = new_progress_context(&ps);
    PyObject *ret = NULL;
    if (ctx) {
        lg_layer *out = NULL;
        PyThreadState *ts = PyEval_SaveThread();
        lg_error e = lg_layer_dissolve(ctx, l, PyArray_DATA(g), (size_t)PyArray_SIZE(g), &out);
        PyEval_RestoreThread(ts);
        ret = e != LG_OK ? raise_ctx(e, ctx) : wrap_layer(out);
        lg_context_free(ctx);
    }
    Py_DECREF(g);
    return ret;
}

/* transform(src, dst, x, y) -> (x, y) float64 copies (NaN where a point fails) */
static PyObject *mod_transform(PyObject *mod, PyObject *args)
{
    (void)mod;
    const char *src, *dst;
    PyObject *xo, *yo;
    if (!PyArg_ParseTuple(args, "ssOO", &src, &dst, &xo, &yo))
        return NULL;
    PyArrayObject *xa, *ya;
    if (xy_arrays(xo, yo, "transform", &xa, &ya) < 0)
        return NULL;
    PyObject *xc = PyArray_NewCopy(xa, NPY_CORDER), *yc = PyArray_NewCopy(ya, NPY_CORDER);
    Py_DECREF(xa);
    Py_DECREF(ya);
    PyObject *ret = NULL;
    lg_context *ctx = NULL;
    lg_transform *tr = NULL;
    if (!xc || !yc || !(ctx = new_context()))
        goto done;
    lg_error e = lg_transform_new(ctx, src, dst, &tr);
    if (e != LG_OK) {
        raise_ctx(e, ctx);
        goto done;
    }
    size_t n = (size_t)PyArray_SIZE((PyArrayObject *)xc);
    if (n) {
        Py_BEGIN_ALLOW_THREADS e = lg_transform_apply(tr, PyArray_DATA((PyArrayObject *)xc),
                                                      PyArray_DATA((PyArrayObject *)yc), n);
        Py_END_ALLOW_THREADS
    }
    /* every point failing is not an error here: they are NaN, as documented */
    ret = Py_BuildValue("(OO)", xc, yc);
done:
    lg_transform_free(tr);
    lg_context_free(ctx);
    Py_XDECREF(xc);
    Py_XDECREF(yc);
    return ret;
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
    {"stations", (PyCFunction)(void (*)(void))mod_stations, METH_VARARGS | METH_KEYWORDS,
     "stations(stations, cells, station_field=None, ...) -> Stations"},
    {"hierarchy", (PyCFunction)(void (*)(void))mod_hierarchy, METH_VARARGS | METH_KEYWORDS,
     "hierarchy(stations, kind=None, central=None, cell_zone=None, zone_site=None)"},
    {"units", (PyCFunction)(void (*)(void))mod_units, METH_VARARGS | METH_KEYWORDS,
     "units(layer=None, cell_station=None, detour=0, speeds=None) -> Units"},
    {"runcards", (PyCFunction)(void (*)(void))mod_runcards, METH_VARARGS | METH_KEYWORDS,
     "runcards(layer, sx, sy, ids=None, k=0, speed=0, detour=0) -> (stations, eta, dx, dy)"},
    {"coverage", (PyCFunction)(void (*)(void))mod_coverage, METH_VARARGS | METH_KEYWORDS,
     "coverage(layer, fx, fy, radius=0, ...) -> dict"},
    {"coverage_area", (PyCFunction)(void (*)(void))mod_coverage_area, METH_VARARGS | METH_KEYWORDS,
     "coverage_area(layer, fx, fy, radius=0, ...) -> dict"},
    {"siting", (PyCFunction)(void (*)(void))mod_siting, METH_VARARGS | METH_KEYWORDS,
     "siting(layer, mode, p=0, ...) -> dict"},
    {"heat", (PyCFunction)(void (*)(void))mod_heat, METH_VARARGS | METH_KEYWORDS,
     "heat(layer, x, y, ...) -> dict"},
    {"heat_top", (PyCFunction)(void (*)(void))mod_heat_top, METH_VARARGS | METH_KEYWORDS,
     "heat_top(layer, value, k, density=False) -> (rows, score)"},
    {"derive", (PyCFunction)mod_derive, METH_VARARGS,
     "derive(layer, [(name, type, values, nulls), ...]) -> Layer"},
    {"dissolve", (PyCFunction)mod_dissolve, METH_VARARGS, "dissolve(layer, group) -> Layer"},
    {"transform", (PyCFunction)mod_transform, METH_VARARGS,
     "transform(src, dst, x, y) -> (x, y) copies, NaN where a point fails"},
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
    if (PyType_Ready(&LayerType) < 0 || PyType_Ready(&GraphType) < 0 ||
        PyType_Ready(&StationsType) < 0 || PyType_Ready(&HierarchyType) < 0 ||
        PyType_Ready(&UnitsType) < 0)
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
    PyTypeObject *more[] = {&StationsType, &HierarchyType, &UnitsType};
    const char *more_names[] = {"Stations", "Hierarchy", "Units"};
    for (int i = 0; i < 3; i++) {
        Py_INCREF(more[i]);
        if (PyModule_AddObject(m, more_names[i], (PyObject *)more[i]) < 0) {
            Py_DECREF(more[i]);
            Py_DECREF(m);
            return NULL;
        }
    }
    return m;
}
