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
    PyErr_SetString(cls, msg && *msg ? msg : lg_strerror(err));
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

/* Progress callback: take the GIL to check for signals, cancel on Ctrl-C. */
static bool progress_check_signals(uint64_t done, uint64_t total, void *udata)
{
    (void)done;
    (void)total;
    int *interrupted = udata;
    PyGILState_STATE st = PyGILState_Ensure();
    if (!*interrupted && PyErr_CheckSignals() != 0)
        *interrupted = 1; /* the exception stays set in this thread */
    PyGILState_Release(st);
    return !*interrupted;
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
    const char *crs = lg_layer_crs(self->layer);
    if (!crs)
        Py_RETURN_NONE;
    return PyUnicode_FromString(crs);
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
        PyObject *t = Py_BuildValue("(ss)", lg_layer_field_name(self->layer, i),
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
        PyObject *t = Py_BuildValue("(Lsdds)", (long long)row, k, x, y, msg ? msg : "");
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
    int interrupted = 0;
    lg_context_set_progress(ctx, progress_check_signals, &interrupted);
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
    int interrupted = 0;
    lg_context_set_progress(ctx, progress_check_signals, &interrupted);
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
    if (PyType_Ready(&LayerType) < 0)
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
    return m;
}
