/*
 * lg_layer_validate: the layer's load problems, GEOS validity per cell, and overlaps
 * between cells (include/libgrid/validate.h). Candidate pairs come from the layer's
 * R-tree (boxes that meet); each is intersected with GEOS and reported when the
 * intersection has an area above the tolerance.
 */
#include "internal.h"
#include "libgrid/validate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct vrec {
    int64_t row, other;
    lg_problem_kind kind;
    double x, y, area;
    char *msg;
} vrec;

struct lg_validation {
    lg_allocator alloc;
    vrec *recs;
    size_t n, cap;
};

void lg_validation_free(lg_validation *v)
{
    if (!v)
        return;
    lg_allocator a = v->alloc;
    for (size_t i = 0; i < v->n; i++)
        lg__free(&a, v->recs[i].msg);
    lg__free(&a, v->recs);
    lg__free(&a, v);
}

size_t lg_validation_count(const lg_validation *v)
{
    return v ? v->n : 0;
}

size_t lg_validation_count_kind(const lg_validation *v, lg_problem_kind kind)
{
    size_t c = 0;
    for (size_t i = 0; v && i < v->n; i++)
        c += v->recs[i].kind == kind;
    return c;
}

lg_error lg_validation_problem(const lg_validation *v, size_t i, int64_t *row,
                               lg_problem_kind *kind, double *x, double *y, const char **message,
                               int64_t *other, double *area)
{
    if (!v || i >= v->n)
        return LG_ERR_ARG;
    const vrec *r = &v->recs[i];
    if (row)
        *row = r->row;
    if (kind)
        *kind = r->kind;
    if (x)
        *x = r->x;
    if (y)
        *y = r->y;
    if (message)
        *message = r->msg;
    if (other)
        *other = r->other;
    if (area)
        *area = r->area;
    return LG_OK;
}

static lg_error push(lg_context *ctx, lg_validation *v, int64_t row, int64_t other,
                     lg_problem_kind kind, double x, double y, double area, const char *fmt, ...)
    LG_PRINTF(9, 10);

static lg_error push(lg_context *ctx, lg_validation *v, int64_t row, int64_t other,
                     lg_problem_kind kind, double x, double y, double area, const char *fmt, ...)
{
    if (lg__grow(&v->alloc, (void **)&v->recs, &v->cap, v->n + 1, sizeof *v->recs))
        return lg__fail(ctx, LG_ERR_NOMEM, "lg_layer_validate: out of memory");
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *m = lg__strdup(&v->alloc, buf);
    if (!m)
        return lg__fail(ctx, LG_ERR_NOMEM, "lg_layer_validate: out of memory");
    v->recs[v->n++] = (vrec){row, other, kind, x, y, area, m};
    return LG_OK;
}

typedef struct cand {
    size_t row;
    int64_t *ids;
    size_t n, cap;
    const lg_allocator *a;
    bool nomem;
} cand;

static bool collect(int64_t id, const double box[4], void *ud)
{
    (void)box;
    cand *c = ud;
    if ((size_t)id <= c->row)
        return true; /* each pair once, from its lower row */
    if (lg__grow(c->a, (void **)&c->ids, &c->cap, c->n + 1, sizeof *c->ids)) {
        c->nomem = true;
        return false;
    }
    c->ids[c->n++] = id;
    return true;
}

static int cmp_i64(const void *pa, const void *pb)
{
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    return (a > b) - (a < b);
}

lg_error lg_layer_validate(lg_context *ctx, const lg_layer *l, const lg_validate_options *opt,
                           lg_validation **out)
{
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!l || !out)
        return lg__fail(ctx, LG_ERR_ARG, "lg_layer_validate: layer and out are required");
    *out = NULL;
    lg_validate_options o = {0};
    if (opt)
        o = *opt;
    if (!(o.min_overlap_area >= 0)) /* NaN or negative */
        return lg__fail(ctx, LG_ERR_ARG, "lg_layer_validate: min_overlap_area %g is not >= 0",
                        o.min_overlap_area);
    GEOSContextHandle_t h = lg__geos(ctx);
    if (!h)
        return ctx->err;
    lg_validation *v = lg__calloc(&ctx->alloc, 1, sizeof *v);
    if (!v)
        return lg__fail(ctx, LG_ERR_NOMEM, "lg_layer_validate: out of memory");
    v->alloc = ctx->alloc;
    lg_error e = LG_OK;
    size_t n = l->ncells;

    /* 1. the load's problems */
    for (size_t i = 0; e == LG_OK && i < l->nproblems; i++) {
        const lg_problem_rec *p = &l->problems[i];
        e = push(ctx, v, p->row, LG_NONE, p->kind, p->x, p->y, 0, "%s", p->msg ? p->msg : "");
    }

    /* every cell as GEOS, prepared for the pair tests */
    GEOSGeometry **g = lg__calloc(&ctx->alloc, n + 1, sizeof *g);
    if (e == LG_OK && !g)
        e = lg__fail(ctx, LG_ERR_NOMEM, "lg_layer_validate: out of memory");
    for (size_t r = 0; e == LG_OK && r < n; r++) {
        g[r] = lg__cell_to_geos(h, l, r);
        if (!g[r])
            e = lg__fail(ctx, LG_ERR_INTERNAL, "lg_layer_validate: row %zu: GEOS: %s", r,
                         ctx->geos_msg);
    }

    /* 2. validity, unless the load reported it */
    for (size_t r = 0; e == LG_OK && !o.skip_validity && r < n; r++) {
        bool known = false;
        for (size_t i = 0; i < l->nproblems && !known; i++)
            known =
                l->problems[i].row == (int64_t)r && (l->problems[i].kind == LG_PROBLEM_INVALID ||
                                                     l->problems[i].kind == LG_PROBLEM_REPAIRED);
        if (known || GEOSisEmpty_r(h, g[r]) == 1)
            continue;
        char *reason = NULL;
        GEOSGeometry *loc = NULL;
        char valid = GEOSisValidDetail_r(h, g[r], 0, &reason, &loc);
        if (valid == 0) {
            double x = NAN, y = NAN;
            if (loc) {
                GEOSGeomGetX_r(h, loc, &x);
                GEOSGeomGetY_r(h, loc, &y);
            }
            e = push(ctx, v, (int64_t)r, LG_NONE, LG_PROBLEM_INVALID, x, y, 0,
                     "row %zu: invalid polygon: %s at (%.10g, %.10g)", r,
                     reason ? reason : "unknown reason", x, y);
        } else if (valid != 1) {
            e = lg__fail(ctx, LG_ERR_INTERNAL, "lg_layer_validate: row %zu: GEOS: %s", r,
                         ctx->geos_msg);
        }
        if (reason)
            GEOSFree_r(h, reason);
        if (loc)
            GEOSGeom_destroy_r(h, loc);
    }

    /* 3. overlaps between cells whose boxes meet */
    const lg_rtree *tree = e == LG_OK ? lg__layer_rtree(l) : NULL;
    if (e == LG_OK && !tree)
        e = lg__fail(ctx, LG_ERR_NOMEM, "lg_layer_validate: out of memory");
    cand c = {.a = &ctx->alloc};
    for (size_t r = 0; e == LG_OK && r < n; r++) {
        const double *b = l->cell_box + 4 * r;
        if (isnan(b[0]))
            continue;
        c.row = r;
        c.n = 0;
        lg_rtree_search(tree, b, collect, &c);
        if (c.nomem) {
            e = lg__fail(ctx, LG_ERR_NOMEM, "lg_layer_validate: out of memory");
            break;
        }
        qsort(c.ids, c.n, sizeof *c.ids, cmp_i64);
        for (size_t k = 0; e == LG_OK && k < c.n; k++) {
            size_t s = (size_t)c.ids[k];
            GEOSGeometry *in = GEOSIntersection_r(h, g[r], g[s]);
            if (!in) {
                e = lg__fail(ctx, LG_ERR_INTERNAL,
                             "lg_layer_validate: rows %zu and %zu: GEOS intersection failed: %s", r,
                             s, ctx->geos_msg);
                break;
            }
            double area = 0;
            if (GEOSisEmpty_r(h, in) != 1 && !GEOSArea_r(h, in, &area))
                area = 0;
            if (area > o.min_overlap_area && area > 0) {
                double x = NAN, y = NAN;
                GEOSGeometry *pt = GEOSPointOnSurface_r(h, in);
                if (pt) {
                    GEOSGeomGetX_r(h, pt, &x);
                    GEOSGeomGetY_r(h, pt, &y);
                    GEOSGeom_destroy_r(h, pt);
                }
                e = push(ctx, v, (int64_t)s, (int64_t)r, LG_PROBLEM_OVERLAP, x, y, area,
                         "row %zu overlaps row %zu by %.6g square units near (%.10g, %.10g); "
                         "locate gives the overlap to row %zu",
                         s, r, area, x, y, r);
            }
            GEOSGeom_destroy_r(h, in);
        }
        if (e == LG_OK && (r & 255) == 255 && !lg__progress(ctx, r + 1, n))
            e = LG_ERR_CANCELLED;
    }
    lg__free(&ctx->alloc, c.ids);
    if (g)
        for (size_t r = 0; r < n; r++)
            if (g[r])
                GEOSGeom_destroy_r(h, g[r]);
    lg__free(&ctx->alloc, g);
    if (e != LG_OK) {
        lg_validation_free(v);
        return e;
    }
    *out = v;
    return LG_OK;
}
