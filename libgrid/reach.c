/*
 * What coverage and siting share (include/libgrid/coverage.h): the reach threshold
 * (a radius, or minutes through the ETA model), argument checks, R-trees over points
 * and the cells' demand points.
 */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEF_SPEED_MPS 11.1
#define DEF_DETOUR 1.3

static lg_error nomem(lg_context *ctx, const char *fn)
{
    return lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", fn);
}

/* ---------------------------------------------------------------- threshold */

void lg__speed_detour(const lg_coverage_threshold *t, double *speed, double *detour)
{
    *speed = (t && t->speed_mps > 0) ? t->speed_mps : DEF_SPEED_MPS;
    *detour = (t && t->detour > 0) ? t->detour : DEF_DETOUR;
}

lg_error lg__reach_radius(lg_context *ctx, const char *fn, const lg_coverage_threshold *t,
                          double *r)
{
    *r = 0;
    if (!t)
        return LG_OK;
    if (!isfinite(t->speed_mps) || t->speed_mps < 0)
        return lg__fail(ctx, LG_ERR_ARG, "%s: threshold: speed_mps %g is not a finite speed >= 0",
                        fn, t->speed_mps);
    if (!isfinite(t->detour) || t->detour < 0)
        return lg__fail(ctx, LG_ERR_ARG, "%s: threshold: detour %g is not finite and >= 0", fn,
                        t->detour);
    if (!isfinite(t->minutes) || t->minutes < 0)
        return lg__fail(ctx, LG_ERR_ARG, "%s: threshold: minutes %g is not finite and >= 0", fn,
                        t->minutes);
    if (t->minutes > 0) {
        double speed, detour;
        lg__speed_detour(t, &speed, &detour);
        *r = t->minutes * 60.0 * speed / detour;
        return LG_OK;
    }
    if (!isfinite(t->radius_m) || t->radius_m < 0)
        return lg__fail(ctx, LG_ERR_ARG, "%s: threshold: radius %g m is not finite and >= 0", fn,
                        t->radius_m);
    *r = t->radius_m;
    return LG_OK;
}

lg_error lg_coverage_radius_m(lg_context *ctx, const lg_coverage_threshold *t, double *radius_m)
{
    lg__clear(ctx);
    if (!t || !radius_m)
        return lg__fail(ctx, LG_ERR_ARG, "lg_coverage_radius_m: threshold and out are required");
    return lg__reach_radius(ctx, "lg_coverage_radius_m", t, radius_m);
}

/* ------------------------------------------------------------ shared checks */

lg_error lg__check_points(lg_context *ctx, const char *fn, const char *what, const double *x,
                          const double *y, size_t n)
{
    if (n && (!x || !y))
        return lg__fail(ctx, LG_ERR_ARG, "%s: %s: x and y are required for %zu points", fn, what,
                        n);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]) || !isfinite(y[i]))
            return lg__fail(ctx, LG_ERR_ARG, "%s: %s %zu: coordinates (%g, %g) are not finite", fn,
                            what, i, x[i], y[i]);
    return LG_OK;
}

lg_error lg__check_weights(lg_context *ctx, const char *fn, const double *w, size_t n)
{
    for (size_t i = 0; w && i < n; i++)
        if (!isfinite(w[i]) || w[i] < 0)
            return lg__fail(ctx, LG_ERR_ARG, "%s: cell %zu: weight %g is not finite and >= 0", fn,
                            i, w[i]);
    return LG_OK;
}

lg_error lg__check_groups(lg_context *ctx, const char *fn, const int64_t *g, size_t n, size_t ng)
{
    for (size_t i = 0; g && i < n; i++)
        if (g[i] != LG_NONE && (g[i] < 0 || (uint64_t)g[i] >= ng))
            return lg__fail(ctx, LG_ERR_ARG,
                            "%s: cell %zu: group %lld is outside 0..%zu (n_groups %zu) and not "
                            "LG_NONE",
                            fn, i, (long long)g[i], ng ? ng - 1 : 0, ng);
    return LG_OK;
}

/* An R-tree over points (degenerate boxes): ids[k] (NULL: k) for k < n, at x[id], y[id]. */
lg_error lg__point_tree_ids(lg_context *ctx, const char *fn, const double *x, const double *y,
                            const int64_t *ids, size_t n, lg_rtree **out)
{
    *out = NULL;
    lg_rtree *t = NULL;
    if (lg_rtree_new(&ctx->alloc, &t) != LG_OK)
        return nomem(ctx, fn);
    double *box = lg__malloc(&ctx->alloc, 4 * (n ? n : 1) * sizeof *box);
    if (!box) {
        lg_rtree_free(t);
        return nomem(ctx, fn);
    }
    for (size_t k = 0; k < n; k++) {
        size_t i = ids ? (size_t)ids[k] : k;
        box[4 * k] = box[4 * k + 2] = x[i];
        box[4 * k + 1] = box[4 * k + 3] = y[i];
    }
    lg_error e = n ? lg_rtree_bulk_load(t, box, ids, n) : LG_OK;
    lg__free(&ctx->alloc, box);
    if (e) {
        lg_rtree_free(t);
        return lg__fail(ctx, e, "%s: could not index the points", fn);
    }
    *out = t;
    return LG_OK;
}

lg_error lg__point_tree(lg_context *ctx, const char *fn, const double *x, const double *y, size_t n,
                        lg_rtree **out)
{
    return lg__point_tree_ids(ctx, fn, x, y, NULL, n, out);
}

/* Area centroids and areas of all cells, without the perimeter (zones.c's arithmetic). */
void lg__cells_geom(const lg_layer *l, double *px, double *py, double *area)
{
    for (size_t row = 0; row < l->ncells; row++) {
        double x, y, a;
        lg__cell_geom(l, row, &x, &y, &a, NULL);
        if (px)
            px[row] = x;
        if (py)
            py[row] = y;
        if (area)
            area[row] = a;
    }
}

/*
 * Demand points and areas of the cells of l (a layer in frame metres): the caller's
 * points (checked finite; in the CRS of the layer of frame m, taken to the frame when m
 * is not NULL) or the centroids. x, y, area are allocated here (free with lg__free).
 */
lg_error lg__demand_points(lg_context *ctx, const char *fn, const lg_layer *l, const lg__metric *m,
                           const double *ux, const double *uy, double **x, double **y,
                           double **area)
{
    size_t n = l->ncells;
    *x = *y = *area = NULL;
    if ((ux == NULL) != (uy == NULL))
        return lg__fail(ctx, LG_ERR_ARG, "%s: give both demand x and y, or neither", fn);
    double *px = lg__malloc(&ctx->alloc, (n + 1) * sizeof *px);
    double *py = lg__malloc(&ctx->alloc, (n + 1) * sizeof *py);
    double *ar = lg__malloc(&ctx->alloc, (n + 1) * sizeof *ar);
    if (!px || !py || !ar) {
        lg__free(&ctx->alloc, px);
        lg__free(&ctx->alloc, py);
        lg__free(&ctx->alloc, ar);
        return nomem(ctx, fn);
    }
    lg__cells_geom(l, ux ? NULL : px, ux ? NULL : py, ar);
    if (ux) {
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(ux[i]) || !isfinite(uy[i])) {
                lg__free(&ctx->alloc, px);
                lg__free(&ctx->alloc, py);
                lg__free(&ctx->alloc, ar);
                return lg__fail(ctx, LG_ERR_ARG,
                                "%s: cell %zu: demand point (%g, %g) is not finite", fn, i, ux[i],
                                uy[i]);
            }
            px[i] = ux[i];
            py[i] = uy[i];
        }
        lg_error e = m ? lg__metric_fwd(ctx, m, px, py, n, px, py) : LG_OK;
        if (e) {
            lg__free(&ctx->alloc, px);
            lg__free(&ctx->alloc, py);
            lg__free(&ctx->alloc, ar);
            return e;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (!isfinite(ar[i]))
            ar[i] = 0;
    *x = px;
    *y = py;
    *area = ar;
    return LG_OK;
}

/* Facilities within the radius of a point, and the nearest of them (ties: lower id). */
bool lg__count_iter(int64_t id, const double box[4], void *udata)
{
    (void)box;
    lg__count_ctx *c = udata;
    double d = lg__dist2d(c->px, c->py, c->fx[id], c->fy[id]);
    if (d <= c->r) {
        c->count++;
        if (d < c->bestd || (d == c->bestd && id < c->best)) {
            c->bestd = d;
            c->best = id;
        }
    }
    return true;
}

int lg__cmp_i64(const void *pa, const void *pb)
{
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    return (a > b) - (a < b);
}
