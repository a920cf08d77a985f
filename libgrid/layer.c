/* Layers: the builder every loader uses, attributes, ids, validity, accessors. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct lg_builder {
    lg_context *ctx;
    const lg_allocator *a;
    char *source;
    unsigned flags;
    bool in_cell;

    double *xy;
    size_t nverts, cap_verts;
    uint32_t *ring_off; /* nrings + 1 */
    uint8_t *ring_hole;
    size_t nrings, cap_rings;
    uint32_t *cell_ring; /* ncells + 1 */
    size_t ncells, cap_cells;

    lg_column *cols;
    size_t ncols, cap_cols;

    lg_problem_rec *problems;
    size_t nproblems, cap_problems;
};

/* ------------------------------------------------------------- builder */

lg_error lgb_new(lg_context *ctx, const char *source, unsigned flags, lg_builder **out)
{
    if (!ctx || !out)
        return LG_ERR_ARG;
    *out = NULL;
    lg_builder *b = lg__calloc(&ctx->alloc, 1, sizeof *b);
    if (!b)
        return lg__fail(ctx, LG_ERR_NOMEM, "out of memory");
    b->ctx = ctx;
    b->a = &ctx->alloc;
    b->flags = flags;
    b->source = lg__strdup(b->a, source ? source : "input");
    b->ring_off = lg__malloc(b->a, 16 * sizeof *b->ring_off);
    b->cell_ring = lg__malloc(b->a, 16 * sizeof *b->cell_ring);
    b->ring_hole = lg__malloc(b->a, 16);
    if (!b->source || !b->ring_off || !b->cell_ring || !b->ring_hole) {
        lgb_free(b);
        return lg__fail(ctx, LG_ERR_NOMEM, "out of memory");
    }
    b->cap_rings = 15; /* ring_off holds cap_rings + 1 */
    b->cap_cells = 15;
    b->ring_off[0] = 0;
    b->cell_ring[0] = 0;
    *out = b;
    return LG_OK;
}

static void free_column(const lg_allocator *a, lg_column *c)
{
    lg__free(a, c->name);
    lg__free(a, c->i);
    lg__free(a, c->r);
    lg__free(a, c->off);
    lg__free(a, c->pool);
    lg__free(a, c->null);
}

void lgb_free(lg_builder *b)
{
    if (!b)
        return;
    const lg_allocator *a = b->a;
    lg__free(a, b->source);
    lg__free(a, b->xy);
    lg__free(a, b->ring_off);
    lg__free(a, b->ring_hole);
    lg__free(a, b->cell_ring);
    for (size_t i = 0; i < b->ncols; i++)
        free_column(a, &b->cols[i]);
    lg__free(a, b->cols);
    for (size_t i = 0; i < b->nproblems; i++)
        lg__free(a, b->problems[i].msg);
    lg__free(a, b->problems);
    lg__free(a, b);
}

lg_context *lgb_context(lg_builder *b)
{
    return b->ctx;
}

size_t lgb_row(const lg_builder *b)
{
    return b->ncells;
}

lg_error lgb_fail(lg_builder *b, lg_error err, const char *fmt, ...)
{
    char reason[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return lg__fail(b->ctx, err, "%s: record %zu: %s", b->source, b->ncells, reason);
}

static lg_error nomem(lg_builder *b)
{
    return lg__fail(b->ctx, LG_ERR_NOMEM, "%s: record %zu: out of memory", b->source, b->ncells);
}

/* Column storage follows cap_cells: grow every column when the cell capacity grows. */
static lg_error column_alloc(lg_builder *b, lg_column *c, size_t cap)
{
    void *p;
    if (c->type == LG_FIELD_INT) {
        if (!(p = lg__realloc(b->a, c->i, cap * sizeof *c->i)))
            return LG_ERR_NOMEM;
        c->i = p;
    } else if (c->type == LG_FIELD_REAL) {
        if (!(p = lg__realloc(b->a, c->r, cap * sizeof *c->r)))
            return LG_ERR_NOMEM;
        c->r = p;
    } else {
        if (!(p = lg__realloc(b->a, c->off, cap * sizeof *c->off)))
            return LG_ERR_NOMEM;
        c->off = p;
    }
    if (!(p = lg__realloc(b->a, c->null, cap)))
        return LG_ERR_NOMEM;
    c->null = p;
    return LG_OK;
}

static lg_error grow_cells(lg_builder *b, size_t need)
{
    if (need <= b->cap_cells)
        return LG_OK;
    size_t cap = b->cap_cells;
    while (cap < need)
        cap = cap * 2 + 1;
    uint32_t *cr = lg__realloc(b->a, b->cell_ring, (cap + 1) * sizeof *cr);
    if (!cr)
        return LG_ERR_NOMEM;
    b->cell_ring = cr;
    for (size_t i = 0; i < b->ncols; i++)
        if (column_alloc(b, &b->cols[i], cap) != LG_OK)
            return LG_ERR_NOMEM;
    b->cap_cells = cap;
    return LG_OK;
}

static lg_error grow_rings(lg_builder *b, size_t need)
{
    if (need <= b->cap_rings)
        return LG_OK;
    size_t cap = b->cap_rings;
    while (cap < need)
        cap = cap * 2 + 1;
    uint32_t *ro = lg__realloc(b->a, b->ring_off, (cap + 1) * sizeof *ro);
    if (!ro)
        return LG_ERR_NOMEM;
    b->ring_off = ro;
    uint8_t *rh = lg__realloc(b->a, b->ring_hole, cap + 1);
    if (!rh)
        return LG_ERR_NOMEM;
    b->ring_hole = rh;
    b->cap_rings = cap;
    return LG_OK;
}

lg_error lgb_reserve(lg_builder *b, size_t ncells, size_t nverts)
{
    if (grow_cells(b, ncells) != LG_OK)
        return nomem(b);
    if (lg__grow(b->a, (void **)&b->xy, &b->cap_verts, nverts, 2 * sizeof(double)) != LG_OK)
        return nomem(b);
    /* the coordinates are read at random by locate: huge pages for pages not yet touched
       (on a million-cell county batch locate went from 57-190 ns per point, varying from
       run to run, to 78-91 ns) */
    lg__advise_huge(b->xy, b->cap_verts * 2 * sizeof(double));
    return LG_OK;
}

lg_error lgb_add_field(lg_builder *b, const char *name, lg_field_type type, size_t *index)
{
    if (!name || (type != LG_FIELD_INT && type != LG_FIELD_REAL && type != LG_FIELD_TEXT))
        return lg__fail(b->ctx, LG_ERR_ARG, "%s: bad field definition", b->source);
    for (size_t i = 0; i < b->ncols; i++)
        if (strcmp(b->cols[i].name, name) == 0)
            return lg__fail(b->ctx, LG_ERR_FORMAT, "%s: field '%s' appears twice", b->source, name);
    if (lg__grow(b->a, (void **)&b->cols, &b->cap_cols, b->ncols + 1, sizeof *b->cols))
        return nomem(b);
    lg_column *c = &b->cols[b->ncols];
    memset(c, 0, sizeof *c);
    c->type = type;
    c->name = lg__strdup(b->a, name);
    if (!c->name || column_alloc(b, c, b->cap_cells) != LG_OK) {
        free_column(b->a, c);
        return nomem(b);
    }
    size_t rows = b->ncells + (b->in_cell ? 1 : 0);
    memset(c->null, 1, rows);
    for (size_t r = 0; r < rows; r++) {
        if (type == LG_FIELD_INT)
            c->i[r] = 0;
        else if (type == LG_FIELD_REAL)
            c->r[r] = 0;
        else
            c->off[r] = 0;
    }
    if (type == LG_FIELD_TEXT) {
        /* offset 0 is the empty string shared by null rows */
        if (lg__grow(b->a, (void **)&c->pool, &c->pool_cap, 1, 1) != LG_OK) {
            free_column(b->a, c);
            return nomem(b);
        }
        c->pool[0] = '\0';
        c->pool_len = 1;
    }
    if (index)
        *index = b->ncols;
    b->ncols++;
    return LG_OK;
}

lg_error lgb_begin_cell(lg_builder *b)
{
    if (b->in_cell)
        return lg__fail(b->ctx, LG_ERR_INTERNAL, "%s: builder misuse", b->source);
    if (b->ncells >= UINT32_MAX - 1)
        return lgb_fail(b, LG_ERR_UNSUPPORTED, "more than %u cells", (unsigned)(UINT32_MAX - 2));
    if (grow_cells(b, b->ncells + 1) != LG_OK)
        return nomem(b);
    size_t r = b->ncells;
    for (size_t i = 0; i < b->ncols; i++) {
        lg_column *c = &b->cols[i];
        c->null[r] = 1;
        if (c->type == LG_FIELD_INT)
            c->i[r] = 0;
        else if (c->type == LG_FIELD_REAL)
            c->r[r] = 0;
        else
            c->off[r] = 0;
    }
    b->in_cell = true;
    return LG_OK;
}

lg_error lgb_add_ring(lg_builder *b, const double *xy, size_t n, bool hole)
{
    size_t ring = b->nrings - b->cell_ring[b->ncells];
    if (n < 4)
        return lgb_fail(b, LG_ERR_GEOMETRY, "ring %zu has %zu points (a ring needs at least 4)",
                        ring, n);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(xy[2 * i]) || !isfinite(xy[2 * i + 1]))
            return lgb_fail(b, LG_ERR_GEOMETRY, "ring %zu point %zu is not finite (%g, %g)", ring,
                            i, xy[2 * i], xy[2 * i + 1]);
    /*
     * The exact predicates (polygon.c, accel.c) multiply coordinate differences and
     * are exact only while no product overflows or underflows. Found by fuzz_wkt: a
     * vertex at x = -6.6e253 made lg_layer_locate and lg__locate_exact disagree. So
     * every coordinate is 0 or has a magnitude in [1e-100, 1e100] (real projected
     * metres and degrees are far inside that range).
     */
    for (size_t i = 0; i < 2 * n; i++) {
        double v = fabs(xy[i]);
        if (v > 1e100 || (v != 0.0 && v < 1e-100))
            return lgb_fail(b, LG_ERR_GEOMETRY,
                            "ring %zu point %zu (%g, %g) is out of range (coordinates must be 0 "
                            "or of magnitude 1e-100..1e100)",
                            ring, i / 2, xy[i & ~(size_t)1], xy[i | 1]);
    }
    if (xy[0] != xy[2 * (n - 1)] || xy[1] != xy[2 * (n - 1) + 1])
        return lgb_fail(b, LG_ERR_GEOMETRY,
                        "ring %zu is not closed (first point %.17g %.17g, last %.17g %.17g)", ring,
                        xy[0], xy[1], xy[2 * (n - 1)], xy[2 * (n - 1) + 1]);
    if ((uint64_t)b->nverts + n > UINT32_MAX)
        return lgb_fail(b, LG_ERR_UNSUPPORTED, "layer exceeds %u vertices", (unsigned)UINT32_MAX);
    size_t cap = b->cap_verts;
    if (grow_rings(b, b->nrings + 1) != LG_OK ||
        lg__grow(b->a, (void **)&b->xy, &b->cap_verts, b->nverts + n, 2 * sizeof(double)))
        return nomem(b);
    if (b->cap_verts != cap) /* as in lgb_reserve */
        lg__advise_huge(b->xy, b->cap_verts * 2 * sizeof(double));
    memcpy(b->xy + 2 * b->nverts, xy, n * 2 * sizeof(double));
    b->nverts += n;
    b->ring_hole[b->nrings] = hole ? 1 : 0;
    b->nrings++;
    b->ring_off[b->nrings] = (uint32_t)b->nverts;
    return LG_OK;
}

static lg_error add_geos_ring(lg_builder *b, GEOSContextHandle_t h, const GEOSGeometry *ring,
                              bool hole)
{
    const GEOSCoordSequence *seq = GEOSGeom_getCoordSeq_r(h, ring);
    unsigned int n = 0;
    if (!seq || !GEOSCoordSeq_getSize_r(h, seq, &n))
        return lgb_fail(b, LG_ERR_INTERNAL, "GEOS could not read a ring");
    double *buf = lg__malloc(b->a, (size_t)n * 2 * sizeof(double) + 1);
    if (!buf)
        return nomem(b);
    lg_error e = LG_OK;
    if (!GEOSCoordSeq_copyToBuffer_r(h, seq, buf, 0, 0))
        e = lgb_fail(b, LG_ERR_INTERNAL, "GEOS could not copy a ring");
    else
        e = lgb_add_ring(b, buf, n, hole);
    lg__free(b->a, buf);
    return e;
}

/* Add the polygonal parts of g; other parts are an error unless drop_other. */
static lg_error add_geos(lg_builder *b, GEOSContextHandle_t h, const GEOSGeometry *g,
                         bool drop_other, int depth)
{
    if (depth > 32)
        return lgb_fail(b, LG_ERR_UNSUPPORTED, "geometry collections nested too deeply");
    int type = GEOSGeomTypeId_r(h, g);
    if (type == GEOS_POLYGON) {
        if (GEOSisEmpty_r(h, g) == 1)
            return LG_OK;
        lg_error e = add_geos_ring(b, h, GEOSGetExteriorRing_r(h, g), false);
        int nh = GEOSGetNumInteriorRings_r(h, g);
        for (int i = 0; e == LG_OK && i < nh; i++)
            e = add_geos_ring(b, h, GEOSGetInteriorRingN_r(h, g, i), true);
        return e;
    }
    if (type == GEOS_MULTIPOLYGON || type == GEOS_GEOMETRYCOLLECTION) {
        int n = GEOSGetNumGeometries_r(h, g);
        for (int i = 0; i < n; i++) {
            lg_error e = add_geos(b, h, GEOSGetGeometryN_r(h, g, i), drop_other, depth + 1);
            if (e)
                return e;
        }
        return LG_OK;
    }
    if (drop_other)
        return LG_OK;
    char *t = GEOSGeomType_r(h, g);
    lg_error e = lgb_fail(b, LG_ERR_UNSUPPORTED, "geometry type %s is not a polygon", t ? t : "?");
    GEOSFree_r(h, t);
    return e;
}

lg_error lgb_add_geos(lg_builder *b, GEOSContextHandle_t h, const GEOSGeometry *g)
{
    return add_geos(b, h, g, false, 0);
}

static lg_column *col_for_set(lg_builder *b, size_t field, lg_field_type type)
{
    if (!b->in_cell || field >= b->ncols || b->cols[field].type != type) {
        lg__fail(b->ctx, LG_ERR_INTERNAL, "%s: builder misuse setting field %zu", b->source, field);
        return NULL;
    }
    return &b->cols[field];
}

lg_error lgb_set_int(lg_builder *b, size_t field, int64_t v)
{
    lg_column *c = col_for_set(b, field, LG_FIELD_INT);
    if (!c)
        return LG_ERR_INTERNAL;
    c->i[b->ncells] = v;
    c->null[b->ncells] = 0;
    return LG_OK;
}

lg_error lgb_set_real(lg_builder *b, size_t field, double v)
{
    lg_column *c = col_for_set(b, field, LG_FIELD_REAL);
    if (!c)
        return LG_ERR_INTERNAL;
    c->r[b->ncells] = v;
    c->null[b->ncells] = 0;
    return LG_OK;
}

lg_error lgb_set_text(lg_builder *b, size_t field, const char *s, size_t len)
{
    lg_column *c = col_for_set(b, field, LG_FIELD_TEXT);
    if (!c)
        return LG_ERR_INTERNAL;
    if (memchr(s, '\0', len))
        len = strlen(s);
    if (lg__grow(b->a, (void **)&c->pool, &c->pool_cap, c->pool_len + len + 1, 1))
        return nomem(b);
    memcpy(c->pool + c->pool_len, s, len);
    c->pool[c->pool_len + len] = '\0';
    c->off[b->ncells] = c->pool_len;
    c->pool_len += len + 1;
    c->null[b->ncells] = 0;
    return LG_OK;
}

lg_error lgb_problem(lg_builder *b, int64_t row, lg_problem_kind kind, double x, double y,
                     const char *fmt, ...)
{
    if (lg__grow(b->a, (void **)&b->problems, &b->cap_problems, b->nproblems + 1,
                 sizeof *b->problems))
        return nomem(b);
    char buf[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    lg_problem_rec *p = &b->problems[b->nproblems];
    p->row = row;
    p->kind = kind;
    p->x = x;
    p->y = y;
    p->msg = lg__strdup(b->a, buf);
    if (!p->msg)
        return nomem(b);
    b->nproblems++;
    return LG_OK;
}

/* Build a GEOS geometry from rings [r0, r1) of flat arrays. */
static GEOSGeometry *rings_to_geos(GEOSContextHandle_t h, const double *xy,
                                   const uint32_t *ring_off, const uint8_t *ring_hole, size_t r0,
                                   size_t r1)
{
    size_t nshell = 0;
    for (size_t r = r0; r < r1; r++)
        nshell += !ring_hole[r];
    if (nshell == 0)
        return GEOSGeom_createEmptyPolygon_r(h);
    GEOSGeometry **polys = malloc(nshell * sizeof *polys);
    GEOSGeometry **holes = malloc((r1 - r0) * sizeof *holes);
    if (!polys || !holes) {
        free(polys);
        free(holes);
        return NULL;
    }
    size_t np = 0;
    bool ok = true;
    for (size_t r = r0; r < r1 && ok;) {
        size_t nh = 0;
        GEOSGeometry *shell = NULL;
        for (size_t k = r; k < r1 && (k == r || ring_hole[k]); k++) {
            size_t v0 = ring_off[k], v1 = ring_off[k + 1];
            GEOSCoordSequence *seq =
                GEOSCoordSeq_copyFromBuffer_r(h, xy + 2 * v0, (unsigned)(v1 - v0), 0, 0);
            GEOSGeometry *lr = seq ? GEOSGeom_createLinearRing_r(h, seq) : NULL;
            if (!lr) {
                ok = false;
                break;
            }
            if (k == r)
                shell = lr;
            else
                holes[nh++] = lr;
        }
        /* a leading hole without a shell is treated as a shell */
        size_t used = 1 + nh;
        if (ok) {
            GEOSGeometry *poly = GEOSGeom_createPolygon_r(h, shell, holes, (unsigned)nh);
            if (!poly)
                ok = false;
            else
                polys[np++] = poly;
        } else {
            if (shell)
                GEOSGeom_destroy_r(h, shell);
            for (size_t i = 0; i < nh; i++)
                GEOSGeom_destroy_r(h, holes[i]);
        }
        r += used;
    }
    GEOSGeometry *out = NULL;
    if (ok && np == 1)
        out = polys[0];
    else if (ok)
        out = GEOSGeom_createCollection_r(h, GEOS_MULTIPOLYGON, polys, (unsigned)np);
    if (!out)
        for (size_t i = 0; i < np; i++)
            GEOSGeom_destroy_r(h, polys[i]);
    free(polys);
    free(holes);
    return out;
}

GEOSGeometry *lg__cell_to_geos(GEOSContextHandle_t h, const lg_layer *l, size_t row)
{
    if (row >= l->ncells)
        return NULL;
    return rings_to_geos(h, l->xy, l->ring_off, l->ring_hole, l->cell_ring[row],
                         l->cell_ring[row + 1]);
}

/* Validate the cell being built with GEOS; repair it when asked. */
static lg_error validate_cell(lg_builder *b)
{
    size_t r0 = b->cell_ring[b->ncells], r1 = b->nrings;
    size_t row = b->ncells;
    if (r0 == r1)
        return lgb_problem(b, (int64_t)row, LG_PROBLEM_EMPTY, NAN, NAN,
                           "%s: record %zu: empty geometry", b->source, row);
    if (b->flags & LG_LOAD_NO_VALIDATE)
        return LG_OK;
    GEOSContextHandle_t h = lg__geos(b->ctx);
    if (!h)
        return LG_ERR_INTERNAL;
    GEOSGeometry *g = rings_to_geos(h, b->xy, b->ring_off, b->ring_hole, r0, r1);
    if (!g)
        return lgb_fail(b, LG_ERR_INTERNAL, "GEOS could not build the polygon: %s",
                        b->ctx->geos_msg);
    char *reason = NULL;
    GEOSGeometry *loc = NULL;
    char valid = GEOSisValidDetail_r(h, g, 0, &reason, &loc);
    lg_error e = LG_OK;
    if (valid == 0) {
        double x = NAN, y = NAN;
        if (loc) {
            GEOSGeomGetX_r(h, loc, &x);
            GEOSGeomGetY_r(h, loc, &y);
        }
        e = lgb_problem(b, (int64_t)row, LG_PROBLEM_INVALID, x, y,
                        "%s: record %zu: invalid polygon: %s at (%.10g, %.10g)", b->source, row,
                        reason ? reason : "unknown reason", x, y);
        if (e == LG_OK && (b->flags & LG_LOAD_REPAIR)) {
            GEOSGeometry *fixed = GEOSMakeValid_r(h, g);
            if (!fixed) {
                e = lgb_fail(b, LG_ERR_INTERNAL, "GEOSMakeValid failed: %s", b->ctx->geos_msg);
            } else {
                /* drop the cell's rings and append the repaired ones */
                b->nrings = r0;
                b->nverts = b->ring_off[r0];
                e = add_geos(b, h, fixed, true, 0);
                if (e == LG_OK)
                    e = lgb_problem(b, (int64_t)row, LG_PROBLEM_REPAIRED, x, y,
                                    "%s: record %zu: repaired with GEOSMakeValid (%zu rings)",
                                    b->source, row, b->nrings - r0);
                GEOSGeom_destroy_r(h, fixed);
            }
        }
    } else if (valid != 1) {
        e = lgb_fail(b, LG_ERR_INTERNAL, "GEOS validity check failed: %s", b->ctx->geos_msg);
    }
    if (reason)
        GEOSFree_r(h, reason);
    if (loc)
        GEOSGeom_destroy_r(h, loc);
    GEOSGeom_destroy_r(h, g);
    return e;
}

lg_error lgb_end_cell(lg_builder *b)
{
    if (!b->in_cell)
        return lg__fail(b->ctx, LG_ERR_INTERNAL, "%s: builder misuse", b->source);
    lg_error e = validate_cell(b);
    if (e)
        return e;
    b->in_cell = false;
    b->ncells++;
    b->cell_ring[b->ncells] = (uint32_t)b->nrings;
    return LG_OK;
}

lg_error lg__copy_value(lg_builder *b, const lg_layer *src, size_t f, size_t bf, size_t row)
{
    if (lg_layer_is_null(src, f, row))
        return LG_OK;
    switch (lg_layer_field_type(src, f)) {
    case LG_FIELD_INT: {
        int64_t v = 0;
        lg_layer_get_int(src, f, row, &v);
        return lgb_set_int(b, bf, v);
    }
    case LG_FIELD_REAL: {
        double v = 0;
        lg_layer_get_real(src, f, row, &v);
        return lgb_set_real(b, bf, v);
    }
    case LG_FIELD_TEXT: {
        const char *s = "";
        lg_layer_get_text(src, f, row, &s);
        return lgb_set_text(b, bf, s, strlen(s));
    }
    }
    return LG_OK;
}

/* ---------------------------------------------------------------- finish */

static uint64_t hash_text(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static int cmp_id(const void *pa, const void *pb)
{
    const lg_id_entry *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

static lg_error build_ids(lg_builder *b, lg_layer *l, const char *id_field)
{
    size_t f;
    if (lg_layer_field_index(l, id_field, &f) != LG_OK) {
        char names[512] = "";
        size_t len = 0;
        for (size_t i = 0; i < l->ncols && len < sizeof names - 1; i++)
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "",
                                    l->cols[i].name);
        return lg__fail(b->ctx, LG_ERR_NOT_FOUND, "%s: id field '%s' not found (fields: %s)",
                        b->source, id_field, l->ncols ? names : "none");
    }
    lg_column *c = &l->cols[f];
    if (c->type == LG_FIELD_REAL) {
        for (size_t r = 0; r < l->ncells; r++)
            if (!c->null[r] && c->r[r] != floor(c->r[r]))
                return lg__fail(b->ctx, LG_ERR_FORMAT,
                                "%s: record %zu: id field '%s' holds %g, not an integer", b->source,
                                r, c->name, c->r[r]);
    }
    l->id_field = (int64_t)f;
    l->ids = lg__malloc(&l->alloc, (l->ncells + 1) * sizeof *l->ids);
    if (!l->ids)
        return lg__fail(b->ctx, LG_ERR_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t r = 0; r < l->ncells; r++) {
        if (c->null[r]) {
            if (lgb_problem(b, (int64_t)r, LG_PROBLEM_NULL_ID, NAN, NAN,
                            "%s: record %zu: id field '%s' is null", b->source, r, c->name))
                return LG_ERR_NOMEM;
            continue;
        }
        int64_t key = c->type == LG_FIELD_INT    ? c->i[r]
                      : c->type == LG_FIELD_REAL ? (int64_t)c->r[r]
                                                 : (int64_t)hash_text(c->pool + c->off[r]);
        l->ids[n].key = key;
        l->ids[n].row = (int64_t)r;
        n++;
    }
    qsort(l->ids, n, sizeof *l->ids, cmp_id);
    l->nids = n;
    for (size_t i = 1; i < n; i++) {
        if (l->ids[i].key != l->ids[i - 1].key)
            continue;
        /* same key: for text, find an earlier row with the same string */
        int64_t r = l->ids[i].row;
        if (c->type == LG_FIELD_TEXT) {
            bool dup = false;
            for (size_t j = i; j-- > 0 && l->ids[j].key == l->ids[i].key;)
                if (strcmp(c->pool + c->off[l->ids[j].row], c->pool + c->off[r]) == 0)
                    dup = true;
            if (!dup)
                continue;
            if (lgb_problem(b, r, LG_PROBLEM_DUPLICATE_ID, NAN, NAN,
                            "%s: record %lld: id '%s' already used by an earlier record", b->source,
                            (long long)r, c->pool + c->off[r]))
                return LG_ERR_NOMEM;
        } else if (lgb_problem(b, r, LG_PROBLEM_DUPLICATE_ID, NAN, NAN,
                               "%s: record %lld: id %lld already used by an earlier record",
                               b->source, (long long)r, (long long)l->ids[i].key)) {
            return LG_ERR_NOMEM;
        }
    }
    return LG_OK;
}

/*
 * Boxes, bounds, R-tree and accelerator of a layer whose geometry is in place (the
 * builder's last step; metric twins take the same one). Messages name source.
 */
lg_error lg__layer_index(lg_context *ctx, lg_layer *l, const char *source)
{
    lg_error e = LG_OK;
    if (e == LG_OK && !(l->cell_box = lg__malloc(&l->alloc, 4 * (l->ncells + 1) * sizeof(double))))
        e = lg__fail(ctx, LG_ERR_NOMEM, "out of memory");
    for (size_t c = 0; e == LG_OK && c < l->ncells; c++) {
        double *box = l->cell_box + 4 * c;
        box[0] = box[1] = INFINITY;
        box[2] = box[3] = -INFINITY;
        size_t v0 = l->ring_off[l->cell_ring[c]], v1 = l->ring_off[l->cell_ring[c + 1]];
        for (size_t v = v0; v < v1; v++) {
            double x = l->xy[2 * v], y = l->xy[2 * v + 1];
            if (x < box[0])
                box[0] = x;
            if (y < box[1])
                box[1] = y;
            if (x > box[2])
                box[2] = x;
            if (y > box[3])
                box[3] = y;
        }
        if (v0 == v1) {
            box[0] = box[1] = box[2] = box[3] = NAN;
            continue;
        }
        if (!l->has_bounds) {
            memcpy(l->bounds, box, sizeof l->bounds);
            l->has_bounds = true;
        } else {
            if (box[0] < l->bounds[0])
                l->bounds[0] = box[0];
            if (box[1] < l->bounds[1])
                l->bounds[1] = box[1];
            if (box[2] > l->bounds[2])
                l->bounds[2] = box[2];
            if (box[3] > l->bounds[3])
                l->bounds[3] = box[3];
        }
    }
    if (e == LG_OK) {
        /* R-tree over non-empty cells */
        size_t n = 0;
        int64_t *ids = lg__malloc(&l->alloc, (l->ncells + 1) * sizeof *ids);
        double *boxes = lg__malloc(&l->alloc, 4 * (l->ncells + 1) * sizeof *boxes);
        if (!ids || !boxes)
            e = lg__fail(ctx, LG_ERR_NOMEM, "out of memory");
        for (size_t c = 0; e == LG_OK && c < l->ncells; c++) {
            if (isnan(l->cell_box[4 * c]))
                continue;
            memcpy(boxes + 4 * n, l->cell_box + 4 * c, 4 * sizeof(double));
            ids[n++] = (int64_t)c;
        }
        lg_rtree *tree = NULL;
        if (e == LG_OK && (e = lg_rtree_new(&l->alloc, &tree)) != LG_OK)
            lg__fail(ctx, e, "out of memory");
        if (e == LG_OK && (e = lg_rtree_bulk_load(tree, boxes, ids, n)) != LG_OK)
            lg__fail(ctx, e, "%s: building the R-tree failed: %s", source, lg_strerror(e));
        atomic_store_explicit(&l->rtree, tree, memory_order_relaxed);
        lg__free(&l->alloc, ids);
        lg__free(&l->alloc, boxes);
    }
    if (e == LG_OK && (e = lg__accel_build(l, LG__ACCEL_PPC, 0, &l->accel)) != LG_OK)
        lg__fail(ctx, e, "%s: building the locate accelerator failed: %s", source, lg_strerror(e));
    return e;
}

lg_error lgb_finish(lg_builder *b, const char *crs, const char *id_field, lg_layer **out)
{
    lg_context *ctx = b->ctx;
    *out = NULL;
    lg_error e = LG_OK;
    if (b->in_cell) {
        lgb_free(b);
        return lg__fail(ctx, LG_ERR_INTERNAL, "builder finished inside a cell");
    }
    const char *norm = NULL;
    if (crs && (e = lg_crs_check(ctx, crs, &norm)) != LG_OK) {
        char msg[sizeof ctx->msg];
        snprintf(msg, sizeof msg, "%s", ctx->msg);
        lg__fail(ctx, e, "%s: %s", b->source, msg);
        lgb_free(b);
        return e;
    }
    lg_layer *l = lg__calloc(b->a, 1, sizeof *l);
    if (!l) {
        lgb_free(b);
        return lg__fail(ctx, LG_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&l->rtree_mu, NULL);
    l->alloc = *b->a;
    l->id_field = LG_NONE;
    /* hand the arrays over to the layer */
    l->ncells = b->ncells;
    l->xy = b->xy;
    l->nverts = (uint32_t)b->nverts;
    l->ring_off = b->ring_off;
    l->ring_hole = b->ring_hole;
    l->nrings = (uint32_t)b->nrings;
    l->cell_ring = b->cell_ring;
    l->cols = b->cols;
    l->ncols = b->ncols;
    b->xy = NULL;
    b->ring_off = NULL;
    b->ring_hole = NULL;
    b->cell_ring = NULL;
    b->cols = NULL;
    b->ncols = 0;
    /* keep "EPSG:n" when PROJ identifies the CRS (an ESRI .prj, say), else as given */
    if (crs && !(l->crs = lg__strdup(&l->alloc, norm ? norm : crs)))
        e = lg__fail(ctx, LG_ERR_NOMEM, "out of memory");

    if (e == LG_OK && id_field)
        e = build_ids(b, l, id_field);
    if (e == LG_OK)
        e = lg__layer_index(ctx, l, b->source);
    /* problems move last: build_ids may add some */
    l->problems = b->problems;
    l->nproblems = b->nproblems;
    b->problems = NULL;
    b->nproblems = 0;
    lgb_free(b);
    if (e) {
        lg_layer_free(l);
        return e;
    }
    *out = l;
    return LG_OK;
}

/* ------------------------------------------------------------- accessors */

void lg__layer_unmap(lg_layer *l);

void lg_layer_free(lg_layer *l)
{
    if (!l)
        return;
    lg_allocator a = l->alloc;
    lg_rtree_free(atomic_load_explicit(&l->rtree, memory_order_relaxed));
    pthread_mutex_destroy(&l->rtree_mu);
    lg__metric_free(&a, atomic_load_explicit(&l->metric, memory_order_relaxed));
    if (l->twin_of) {
        /* a metric twin: the rest is borrowed from the layer it twins */
        lg__free(&a, l->xy);
        lg__free(&a, l->cell_box);
        lg__free(&a, l->crs);
        lg__accel_free(&a, l->accel);
        lg__free(&a, l);
        return;
    }
    if (l->map_base) {
        /* the arrays live in the snapshot; only the small heap parts are ours */
        lg__free(&a, l->cols);
        lg__free(&a, l->problems);
        lg__accel_free(&a, l->accel);
        lg__layer_unmap(l);
        lg__free(&a, l);
        return;
    }
    lg__free(&a, l->xy);
    lg__free(&a, l->ring_off);
    lg__free(&a, l->ring_hole);
    lg__free(&a, l->cell_ring);
    lg__free(&a, l->cell_box);
    for (size_t i = 0; i < l->ncols; i++)
        free_column(&a, &l->cols[i]);
    lg__free(&a, l->cols);
    lg__free(&a, l->ids);
    lg__free(&a, l->crs);
    for (size_t i = 0; i < l->nproblems; i++)
        lg__free(&a, l->problems[i].msg);
    lg__free(&a, l->problems);
    lg__accel_free(&a, l->accel);
    lg__free(&a, l);
}

const lg_rtree *lg__layer_rtree(const lg_layer *l)
{
    lg_rtree *t = atomic_load_explicit(&l->rtree, memory_order_acquire);
    if (t)
        return t;
    /* a mapped snapshot builds its R-tree on first need; the lock makes it once */
    lg_layer *m = (lg_layer *)l;
    pthread_mutex_lock(&m->rtree_mu);
    t = atomic_load_explicit(&m->rtree, memory_order_relaxed);
    bool holes = false; /* empty cells (NaN boxes) are left out */
    for (size_t c = 0; !t && c < m->ncells && !holes; c++)
        holes = isnan(m->cell_box[4 * c]);
    if (!t && !holes && lg_rtree_new(&m->alloc, &t) == LG_OK) {
        /* every cell has a box: its index is its id */
        if (lg_rtree_bulk_load(t, m->cell_box, NULL, m->ncells) == LG_OK) {
            atomic_store_explicit(&m->rtree, t, memory_order_release);
        } else {
            lg_rtree_free(t);
            t = NULL;
        }
    } else if (!t && lg_rtree_new(&m->alloc, &t) == LG_OK) {
        int64_t *ids = lg__malloc(&m->alloc, (m->ncells + 1) * sizeof *ids);
        double *boxes = lg__malloc(&m->alloc, 4 * (m->ncells + 1) * sizeof *boxes);
        size_t n = 0;
        for (size_t c = 0; ids && boxes && c < m->ncells; c++) {
            if (isnan(m->cell_box[4 * c]))
                continue;
            memcpy(boxes + 4 * n, m->cell_box + 4 * c, 4 * sizeof(double));
            ids[n++] = (int64_t)c;
        }
        if (!ids || !boxes || lg_rtree_bulk_load(t, boxes, ids, n) != LG_OK) {
            lg_rtree_free(t);
            t = NULL;
        }
        lg__free(&m->alloc, ids);
        lg__free(&m->alloc, boxes);
        if (t)
            atomic_store_explicit(&m->rtree, t, memory_order_release);
    }
    pthread_mutex_unlock(&m->rtree_mu);
    return t;
}

lg_error lg__layer_limit_accel(lg_context *ctx, lg_layer *l, size_t max_bytes)
{
    if (!max_bytes || !l->accel || lg__accel_bytes(l->accel) <= max_bytes)
        return LG_OK;
    lg__accel_free(&l->alloc, l->accel);
    l->accel = NULL;
    lg_error e = lg__accel_build(l, LG__ACCEL_PPC, max_bytes, &l->accel);
    if (e)
        return lg__fail(ctx, e, "building the locate accelerator within %zu bytes failed: %s",
                        max_bytes, lg_strerror(e));
    return LG_OK;
}

void lg_layer_memory(const lg_layer *l, size_t *coordinates, size_t *overhead, size_t *accelerator)
{
    size_t c = 0, o = 0, a = 0;
    if (l) {
        c = (size_t)l->nverts * 2 * sizeof(double);
        o = ((size_t)l->nrings + 1) * (sizeof(uint32_t) + 1) + (l->ncells + 1) * sizeof(uint32_t) +
            l->ncells * 4 * sizeof(double) + l->nids * sizeof(lg_id_entry);
        /* the R-tree: about one 16-entry node of boxes and ids per 10 cells */
        o += l->ncells / 10 * (16 * (4 * sizeof(double) + sizeof(int64_t)) + 16);
        a = lg__accel_bytes(l->accel);
    }
    if (coordinates)
        *coordinates = c;
    if (overhead)
        *overhead = o;
    if (accelerator)
        *accelerator = a;
}

size_t lg_layer_count(const lg_layer *l)
{
    return l ? l->ncells : 0;
}

const char *lg_layer_crs(const lg_layer *l)
{
    return l ? l->crs : NULL;
}

bool lg_layer_bounds(const lg_layer *l, double box[4])
{
    if (!l || !box || !l->has_bounds)
        return false;
    memcpy(box, l->bounds, 4 * sizeof(double));
    return true;
}

bool lg_layer_cell_bounds(const lg_layer *l, size_t row, double box[4])
{
    if (!l || !box || row >= l->ncells || isnan(l->cell_box[4 * row]))
        return false;
    memcpy(box, l->cell_box + 4 * row, 4 * sizeof(double));
    return true;
}

size_t lg_layer_ring_count(const lg_layer *l, size_t row)
{
    if (!l || row >= l->ncells)
        return 0;
    return l->cell_ring[row + 1] - l->cell_ring[row];
}

lg_error lg_layer_ring(const lg_layer *l, size_t row, size_t ring, const double **xy, size_t *n)
{
    if (!l || !xy || !n || row >= l->ncells || ring >= lg_layer_ring_count(l, row))
        return LG_ERR_ARG;
    size_t r = l->cell_ring[row] + ring;
    *xy = l->xy + 2 * (size_t)l->ring_off[r];
    *n = l->ring_off[r + 1] - l->ring_off[r];
    return LG_OK;
}

/* WKB is simple enough to write directly; it lets const queries need no GEOS handle. */
static size_t put_u32(unsigned char *buf, size_t pos, size_t cap, uint32_t v)
{
    if (buf && pos + 4 <= cap)
        for (int i = 0; i < 4; i++)
            buf[pos + i] = (unsigned char)(v >> (8 * i));
    return pos + 4;
}

static size_t put_f64(unsigned char *buf, size_t pos, size_t cap, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    if (buf && pos + 8 <= cap)
        for (int i = 0; i < 8; i++)
            buf[pos + i] = (unsigned char)(v >> (8 * i));
    return pos + 8;
}

static size_t put_byte(unsigned char *buf, size_t pos, size_t cap, unsigned char v)
{
    if (buf && pos < cap)
        buf[pos] = v;
    return pos + 1;
}

lg_error lg_layer_cell_wkb(const lg_layer *l, size_t row, unsigned char *buf, size_t cap,
                           size_t *len)
{
    if (!l || !len || row >= l->ncells)
        return LG_ERR_ARG;
    size_t r0 = l->cell_ring[row], r1 = l->cell_ring[row + 1];
    size_t nshell = 0;
    for (size_t r = r0; r < r1; r++)
        nshell += !l->ring_hole[r] || r == r0;
    size_t pos = 0;
    bool multi = nshell > 1;
    if (multi) {
        pos = put_byte(buf, pos, cap, 1);
        pos = put_u32(buf, pos, cap, 6);
        pos = put_u32(buf, pos, cap, (uint32_t)nshell);
    }
    if (nshell == 0) {
        pos = put_byte(buf, pos, cap, 1);
        pos = put_u32(buf, pos, cap, 3);
        pos = put_u32(buf, pos, cap, 0);
    }
    for (size_t r = r0; r < r1;) {
        size_t k = r + 1;
        while (k < r1 && l->ring_hole[k])
            k++;
        pos = put_byte(buf, pos, cap, 1);
        pos = put_u32(buf, pos, cap, 3);
        pos = put_u32(buf, pos, cap, (uint32_t)(k - r));
        for (size_t q = r; q < k; q++) {
            size_t v0 = l->ring_off[q], v1 = l->ring_off[q + 1];
            pos = put_u32(buf, pos, cap, (uint32_t)(v1 - v0));
            for (size_t v = v0; v < v1; v++) {
                pos = put_f64(buf, pos, cap, l->xy[2 * v]);
                pos = put_f64(buf, pos, cap, l->xy[2 * v + 1]);
            }
        }
        r = k;
    }
    *len = pos;
    if (buf && pos > cap)
        return LG_ERR_CAPACITY;
    return LG_OK;
}

size_t lg_layer_field_count(const lg_layer *l)
{
    return l ? l->ncols : 0;
}

const char *lg_layer_field_name(const lg_layer *l, size_t f)
{
    return l && f < l->ncols ? l->cols[f].name : NULL;
}

lg_field_type lg_layer_field_type(const lg_layer *l, size_t f)
{
    return l && f < l->ncols ? l->cols[f].type : (lg_field_type)0;
}

lg_error lg_layer_field_index(const lg_layer *l, const char *name, size_t *f)
{
    if (!l || !name || !f)
        return LG_ERR_ARG;
    for (size_t i = 0; i < l->ncols; i++)
        if (strcmp(l->cols[i].name, name) == 0) {
            *f = i;
            return LG_OK;
        }
    for (size_t i = 0; i < l->ncols; i++)
        if (strcasecmp(l->cols[i].name, name) == 0) {
            *f = i;
            return LG_OK;
        }
    return LG_ERR_NOT_FOUND;
}

bool lg_layer_is_null(const lg_layer *l, size_t f, size_t row)
{
    return !l || f >= l->ncols || row >= l->ncells || l->cols[f].null[row];
}

lg_error lg_layer_get_int(const lg_layer *l, size_t f, size_t row, int64_t *out)
{
    if (!l || !out || f >= l->ncols || row >= l->ncells)
        return LG_ERR_ARG;
    const lg_column *c = &l->cols[f];
    if (c->null[row])
        return LG_ERR_NOT_FOUND;
    if (c->type == LG_FIELD_INT) {
        *out = c->i[row];
        return LG_OK;
    }
    if (c->type == LG_FIELD_REAL && c->r[row] == floor(c->r[row]) && fabs(c->r[row]) < 9.2e18) {
        *out = (int64_t)c->r[row];
        return LG_OK;
    }
    return LG_ERR_ARG;
}

lg_error lg_layer_get_real(const lg_layer *l, size_t f, size_t row, double *out)
{
    if (!l || !out || f >= l->ncols || row >= l->ncells)
        return LG_ERR_ARG;
    const lg_column *c = &l->cols[f];
    if (c->null[row])
        return LG_ERR_NOT_FOUND;
    if (c->type == LG_FIELD_INT)
        *out = (double)c->i[row];
    else if (c->type == LG_FIELD_REAL)
        *out = c->r[row];
    else
        return LG_ERR_ARG;
    return LG_OK;
}

lg_error lg_layer_get_text(const lg_layer *l, size_t f, size_t row, const char **out)
{
    if (!l || !out || f >= l->ncols || row >= l->ncells || l->cols[f].type != LG_FIELD_TEXT)
        return LG_ERR_ARG;
    const lg_column *c = &l->cols[f];
    if (c->null[row])
        return LG_ERR_NOT_FOUND;
    *out = c->pool + c->off[row];
    return LG_OK;
}

int64_t lg_layer_id_field(const lg_layer *l)
{
    return l ? l->id_field : LG_NONE;
}

/* First entry with key >= k. */
static size_t lower_bound(const lg_id_entry *ids, size_t n, int64_t k)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ids[mid].key < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int64_t lg_layer_find_id(const lg_layer *l, int64_t id)
{
    if (!l)
        return LG_NONE;
    if (l->id_field == LG_NONE)
        return id >= 0 && (uint64_t)id < l->ncells ? id : LG_NONE;
    if (l->cols[l->id_field].type == LG_FIELD_TEXT)
        return LG_NONE;
    size_t i = lower_bound(l->ids, l->nids, id);
    return i < l->nids && l->ids[i].key == id ? l->ids[i].row : LG_NONE;
}

int64_t lg_layer_find_id_text(const lg_layer *l, const char *id)
{
    if (!l || !id || l->id_field == LG_NONE)
        return LG_NONE;
    const lg_column *c = &l->cols[l->id_field];
    if (c->type != LG_FIELD_TEXT)
        return LG_NONE;
    int64_t key = (int64_t)hash_text(id);
    for (size_t i = lower_bound(l->ids, l->nids, key); i < l->nids && l->ids[i].key == key; i++)
        if (strcmp(c->pool + c->off[l->ids[i].row], id) == 0)
            return l->ids[i].row;
    return LG_NONE;
}

size_t lg_layer_problem_count(const lg_layer *l)
{
    return l ? l->nproblems : 0;
}

lg_error lg_layer_problem(const lg_layer *l, size_t i, int64_t *row, lg_problem_kind *kind,
                          double *x, double *y, const char **message)
{
    if (!l || i >= l->nproblems)
        return LG_ERR_ARG;
    const lg_problem_rec *p = &l->problems[i];
    if (row)
        *row = p->row;
    if (kind)
        *kind = p->kind;
    if (x)
        *x = p->x;
    if (y)
        *y = p->y;
    if (message)
        *message = p->msg;
    return LG_OK;
}

/* ------------------------------------------------------------- loading */

static const char *ext_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    return dot && (!slash || dot > slash) ? dot + 1 : "";
}

lg_error lg__apply_unit(lg_context *ctx, const char *source, const lg_load_options *opt,
                        lg_layer **l)
{
    if (!opt || opt->unit_m == 0 || !*l)
        return LG_OK;
    lg_error e = LG_OK;
    if (!(opt->unit_m > 0) || !isfinite(opt->unit_m)) {
        e = lg__fail(ctx, LG_ERR_ARG, "%s: unit_m = %g is not a length in metres", source,
                     opt->unit_m);
    } else if ((*l)->crs) {
        e = lg__fail(ctx, LG_ERR_ARG,
                     "%s: the data have a CRS ('%.80s'); unit_m is for data without one (give "
                     "crs to override the file's)",
                     source, (*l)->crs);
    } else {
        char buf[512];
        size_t len = 0;
        if ((e = lg_crs_local(ctx, opt->unit_m, NULL, buf, sizeof buf, &len)) == LG_OK &&
            !((*l)->crs = lg__strdup(&(*l)->alloc, buf)))
            e = lg__fail(ctx, LG_ERR_NOMEM, "out of memory");
    }
    if (e) {
        lg_layer_free(*l);
        *l = NULL;
    }
    return e;
}

lg_error lg_layer_load(lg_context *ctx, const char *path, const lg_load_options *opt,
                       lg_layer **out)
{
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!path || !out)
        return lg__fail(ctx, LG_ERR_ARG, "lg_layer_load: path and out are required");
    *out = NULL;
    lg_load_options defaults = {0};
    if (!opt)
        opt = &defaults;
    const char *fmt = opt->format ? opt->format : ext_of(path);
    lg_error e;
    if (strcasecmp(fmt, "shp") == 0 || strcasecmp(fmt, "shapefile") == 0)
        e = lg__load_shp(ctx, path, opt, out);
    else if (strcasecmp(fmt, "geojson") == 0 || strcasecmp(fmt, "json") == 0)
        e = lg__load_geojson(ctx, path, opt, out);
    else if (strcasecmp(fmt, "wkt") == 0 || strcasecmp(fmt, "txt") == 0 ||
             strcasecmp(fmt, "csv") == 0)
        e = lg__load_wkt(ctx, path, opt, out);
    else
        return lg__fail(ctx, LG_ERR_UNSUPPORTED,
                        "%s: unknown format '%s' (expected .shp, .geojson, .json or .wkt)", path,
                        fmt);
    if (e == LG_OK && (e = lg__layer_limit_accel(ctx, *out, opt->accel_max_bytes)) != LG_OK) {
        lg_layer_free(*out);
        *out = NULL;
    }
    if (e == LG_OK)
        e = lg__apply_unit(ctx, path, opt, out);
    return e;
}
