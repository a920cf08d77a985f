/*
 * Coverage analysis (docs/COVERAGE.md): cell coverage with backup counts, exact area
 * coverage (per-cell clipping), station siting (MCLP, LSCP) and heat aggregation.
 *
 * Distances are Euclidean in the layer's CRS; every "within the radius" test is
 * sqrt(dx*dx + dy*dy) <= radius through one function, so counts, nearest distances and
 * siting cover sets agree bit for bit.
 */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEF_SPEED_MPS 11.1
#define DEF_DETOUR 1.3
#define DEF_QUADSEGS 32
#define CHUNK 65536
#define LG_PI 3.14159265358979323846

static inline double dist2d(double ax, double ay, double bx, double by)
{
    double dx = ax - bx, dy = ay - by;
    return sqrt(dx * dx + dy * dy);
}

static lg_error nomem(lg_context *ctx, const char *fn)
{
    return lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", fn);
}

/* ---------------------------------------------------------------- threshold */

static void speed_detour(const lg_coverage_threshold *t, double *speed, double *detour)
{
    *speed = (t && t->speed_mps > 0) ? t->speed_mps : DEF_SPEED_MPS;
    *detour = (t && t->detour > 0) ? t->detour : DEF_DETOUR;
}

static lg_error radius_of(lg_context *ctx, const char *fn, const lg_coverage_threshold *t,
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
        speed_detour(t, &speed, &detour);
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
    return radius_of(ctx, "lg_coverage_radius_m", t, radius_m);
}

/* ------------------------------------------------------------ shared checks */

static lg_error check_points(lg_context *ctx, const char *fn, const char *what, const double *x,
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

static lg_error check_weights(lg_context *ctx, const char *fn, const double *w, size_t n)
{
    for (size_t i = 0; w && i < n; i++)
        if (!isfinite(w[i]) || w[i] < 0)
            return lg__fail(ctx, LG_ERR_ARG, "%s: cell %zu: weight %g is not finite and >= 0", fn,
                            i, w[i]);
    return LG_OK;
}

static lg_error check_groups(lg_context *ctx, const char *fn, const int64_t *g, size_t n, size_t ng)
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
static lg_error point_tree_ids(lg_context *ctx, const char *fn, const double *x, const double *y,
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

static lg_error point_tree(lg_context *ctx, const char *fn, const double *x, const double *y,
                           size_t n, lg_rtree **out)
{
    return point_tree_ids(ctx, fn, x, y, NULL, n, out);
}

/* Area centroids and areas of all cells, without the perimeter (zones.c's arithmetic). */
static void centroids(const lg_layer *l, double *px, double *py, double *area)
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
 * Demand points and areas of the cells: the caller's points (checked finite) or the
 * centroids. x, y, area are allocated here (free with lg__free).
 */
static lg_error demand_points(lg_context *ctx, const char *fn, const lg_layer *l, const double *ux,
                              const double *uy, double **x, double **y, double **area)
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
    centroids(l, ux ? NULL : px, ux ? NULL : py, ar);
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
    }
    for (size_t i = 0; i < n; i++)
        if (!isfinite(ar[i]))
            ar[i] = 0;
    *x = px;
    *y = py;
    *area = ar;
    return LG_OK;
}

/* ------------------------------------------------------------ cell coverage */

typedef struct count_ctx {
    const double *fx, *fy;
    double px, py, r;
    int32_t count;
    int64_t best;
    double bestd;
} count_ctx;

static bool count_iter(int64_t id, const double box[4], void *udata)
{
    (void)box;
    count_ctx *c = udata;
    double d = dist2d(c->px, c->py, c->fx[id], c->fy[id]);
    if (d <= c->r) {
        c->count++;
        if (d < c->bestd || (d == c->bestd && id < c->best)) {
            c->bestd = d;
            c->best = id;
        }
    }
    return true;
}

static void tot_add(lg_coverage_totals *t, double area, double w, int32_t cnt, double d)
{
    t->cells++;
    t->area_m2 += area;
    t->weight += w;
    if (cnt >= 1) {
        t->cells_covered++;
        t->area_covered_m2 += area;
        t->weight_covered += w;
    }
    if (cnt >= 2) {
        t->cells_backup++;
        t->area_backup_m2 += area;
        t->weight_backup += w;
    }
    /* mean_distance_m holds the weighted sum until tot_finish */
    if (w > 0)
        t->mean_distance_m += w * d;
    if (d > t->max_distance_m || (isinf(d) && !isinf(t->max_distance_m)))
        t->max_distance_m = d;
}

static void tot_finish(lg_coverage_totals *t)
{
    t->share_cells = t->cells ? (double)t->cells_covered / (double)t->cells : NAN;
    t->share_cells_backup = t->cells ? (double)t->cells_backup / (double)t->cells : NAN;
    t->share_area = t->area_m2 > 0 ? t->area_covered_m2 / t->area_m2 : NAN;
    t->share_area_backup = t->area_m2 > 0 ? t->area_backup_m2 / t->area_m2 : NAN;
    t->share = t->weight > 0 ? t->weight_covered / t->weight : NAN;
    t->backup_share = t->weight > 0 ? t->weight_backup / t->weight : NAN;
    t->mean_distance_m = t->weight > 0 ? t->mean_distance_m / t->weight : NAN;
    if (!t->cells)
        t->max_distance_m = NAN;
}

lg_error lg_coverage_cells(lg_context *ctx, const lg_layer *layer, const double *fx,
                           const double *fy, size_t n_fac, const lg_coverage_options *opt,
                           const lg_coverage_results *out)
{
    static const char fn[] = "lg_coverage_cells";
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!layer || !out)
        return lg__fail(ctx, LG_ERR_ARG, "%s: layer and out are required", fn);
    lg_coverage_options o = {0};
    if (opt)
        o = *opt;
    double r;
    lg_error e = radius_of(ctx, fn, &o.threshold, &r);
    if (e)
        return e;
    double speed, detour;
    speed_detour(&o.threshold, &speed, &detour);
    size_t n = layer->ncells;
    if ((e = check_points(ctx, fn, "facility", fx, fy, n_fac)) ||
        (e = check_weights(ctx, fn, o.weight, n)) ||
        (e = check_groups(ctx, fn, o.group, n, o.n_groups)))
        return e;
    if (out->group_totals && !o.group)
        return lg__fail(ctx, LG_ERR_ARG, "%s: group_totals needs opt->group", fn);

    double *px, *py, *area;
    if ((e = demand_points(ctx, fn, layer, o.x, o.y, &px, &py, &area)))
        return e;
    lg_rtree *tree = NULL;
    if ((e = point_tree(ctx, fn, fx, fy, n_fac, &tree))) {
        lg__free(&ctx->alloc, px);
        lg__free(&ctx->alloc, py);
        lg__free(&ctx->alloc, area);
        return e;
    }

    lg_coverage_totals all = {0};
    if (out->group_totals)
        memset(out->group_totals, 0, o.n_groups * sizeof *out->group_totals);
    if (out->facility_totals)
        memset(out->facility_totals, 0, n_fac * sizeof *out->facility_totals);
    size_t nun = 0;
    count_ctx cc = {.fx = fx, .fy = fy, .r = r};
    lg_nearest_options no = {.k = 1};
    for (size_t i = 0; i < n; i++) {
        double x = px[i], y = py[i];
        int64_t best = LG_NONE;
        double d = NAN;
        int32_t cnt = 0;
        if (isfinite(x) && isfinite(y)) {
            d = INFINITY;
            if (n_fac) {
                cc.px = x;
                cc.py = y;
                cc.count = 0;
                cc.best = LG_NONE;
                cc.bestd = INFINITY;
                double box[4] = {x - r, y - r, x + r, y + r};
                lg_rtree_search(tree, box, count_iter, &cc);
                cnt = cc.count;
                if (cnt) {
                    best = cc.best;
                    d = cc.bestd;
                } else {
                    int64_t id;
                    size_t nf = 0;
                    lg_rtree_nearest(tree, x, y, &no, &id, NULL, &nf);
                    if (nf) {
                        best = id;
                        d = dist2d(x, y, fx[id], fy[id]);
                    }
                }
            }
            double w = o.weight ? o.weight[i] : 1.0;
            tot_add(&all, area[i], w, cnt, d);
            if (out->group_totals && o.group[i] != LG_NONE)
                tot_add(&out->group_totals[o.group[i]], area[i], w, cnt, d);
            if (out->facility_totals && best != LG_NONE)
                tot_add(&out->facility_totals[best], area[i], w, cnt, d);
            if (cnt == 0 && out->uncovered)
                out->uncovered[nun] = (int64_t)i;
            if (cnt == 0)
                nun++;
        }
        if (out->nearest)
            out->nearest[i] = best;
        if (out->distance_m)
            out->distance_m[i] = d;
        if (out->eta_s)
            out->eta_s[i] = d * detour / speed;
        if (out->count)
            out->count[i] = cnt;
    }
    tot_finish(&all);
    if (out->totals)
        *out->totals = all;
    for (size_t g = 0; out->group_totals && g < o.n_groups; g++)
        tot_finish(&out->group_totals[g]);
    for (size_t f = 0; out->facility_totals && f < n_fac; f++)
        tot_finish(&out->facility_totals[f]);
    if (out->n_uncovered)
        *out->n_uncovered = nun;
    lg_rtree_free(tree);
    lg__free(&ctx->alloc, px);
    lg__free(&ctx->alloc, py);
    lg__free(&ctx->alloc, area);
    return LG_OK;
}

/* ------------------------------------------------------------ area coverage */

typedef struct near_ctx {
    const double *fx, *fy;
    const double *cbox; /* the cell's box */
    double r;
    int64_t *ids;
    size_t n, cap;
    bool oom;
    const lg_allocator *a;
} near_ctx;

/* Facilities whose disc of radius r meets the cell's box. */
static bool near_iter(int64_t id, const double box[4], void *udata)
{
    (void)box;
    near_ctx *c = udata;
    double x = c->fx[id], y = c->fy[id];
    double dx = x < c->cbox[0] ? c->cbox[0] - x : x > c->cbox[2] ? x - c->cbox[2] : 0;
    double dy = y < c->cbox[1] ? c->cbox[1] - y : y > c->cbox[3] ? y - c->cbox[3] : 0;
    if (sqrt(dx * dx + dy * dy) > c->r)
        return true;
    if (c->n == c->cap &&
        lg__grow(c->a, (void **)&c->ids, &c->cap, c->n + 1, sizeof *c->ids) != LG_OK) {
        c->oom = true;
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

/*
 * The cell against a point: the largest distance to a vertex (all rings; the cell lies
 * in a disc, which is convex, iff all its shell vertices do) and the smallest distance
 * to an edge (when it exceeds the radius and the point is outside the cell, the disc
 * misses the cell).
 */
static void cell_vs_point(const lg_layer *l, size_t row, double x, double y, double *maxv,
                          double *mine)
{
    double mv = 0, me2 = INFINITY;
    uint32_t r0 = l->cell_ring[row], r1 = l->cell_ring[row + 1];
    for (uint32_t k = r0; k < r1; k++) {
        const double *v = l->xy + 2 * (size_t)l->ring_off[k];
        size_t nv = l->ring_off[k + 1] - l->ring_off[k];
        for (size_t i = 0; i + 1 < nv; i++) {
            double ax = v[2 * i] - x, ay = v[2 * i + 1] - y;
            double bx = v[2 * i + 2] - x, by = v[2 * i + 3] - y;
            double da = sqrt(ax * ax + ay * ay);
            if (da > mv)
                mv = da;
            /* squared distance from the origin to segment a-b */
            double ex = bx - ax, ey = by - ay, ll = ex * ex + ey * ey;
            double t = ll > 0 ? -(ax * ex + ay * ey) / ll : 0;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            double qx = ax + t * ex, qy = ay + t * ey, d2 = qx * qx + qy * qy;
            if (d2 < me2)
                me2 = d2;
        }
    }
    *maxv = mv;
    *mine = sqrt(me2);
}

/* Append the rings of a cell to the builder as they are. */
static lg_error add_cell_rings(lg_builder *b, const lg_layer *l, size_t row)
{
    for (uint32_t k = l->cell_ring[row]; k < l->cell_ring[row + 1]; k++) {
        lg_error e = lgb_add_ring(b, l->xy + 2 * l->ring_off[k],
                                  l->ring_off[k + 1] - l->ring_off[k], l->ring_hole[k] != 0);
        if (e)
            return e;
    }
    return LG_OK;
}

typedef struct area_work {
    lg_context *ctx;
    GEOSContextHandle_t h;
    const lg_layer *l;
    const double *fx, *fy;
    size_t nf;
    double r;
    int qs;
    GEOSGeometry **buf; /* per facility, made on first use */
    lg_builder *b;      /* uncovered layer (per-cell rows), or NULL */
    size_t fcell, farea;
    GEOSGeometry **pieces; /* dissolve: the cells not wholly covered */
    size_t npieces, cappieces;
    uint8_t *used; /* dissolve: facilities whose buffer meets such a cell */
} area_work;

static const GEOSGeometry *fac_buffer(area_work *w, int64_t f)
{
    if (!w->buf[f]) {
        GEOSGeometry *p = GEOSGeom_createPointFromXY_r(w->h, w->fx[f], w->fy[f]);
        if (!p)
            return NULL;
        w->buf[f] = GEOSBuffer_r(w->h, p, w->r, w->qs);
        GEOSGeom_destroy_r(w->h, p);
    }
    return w->buf[f];
}

/* Record an uncovered piece of cell row: g (consumed) or, when NULL, the whole cell. */
static lg_error add_piece(area_work *w, size_t row, GEOSGeometry *g, double area)
{
    lg_error e = LG_OK;
    if (w->pieces) {
        if (g)
            GEOSGeom_destroy_r(w->h, g);
        if (!(g = lg__cell_to_geos(w->h, w->l, row)))
            return lg__fail(w->ctx, LG_ERR_INTERNAL, "lg_coverage_area: cell %zu: GEOS: %s", row,
                            w->ctx->geos_msg);
        if (w->npieces == w->cappieces &&
            lg__grow(&w->ctx->alloc, (void **)&w->pieces, &w->cappieces, w->npieces + 1,
                     sizeof *w->pieces)) {
            GEOSGeom_destroy_r(w->h, g);
            return nomem(w->ctx, "lg_coverage_area");
        }
        w->pieces[w->npieces++] = g;
        return LG_OK;
    }
    if (w->b) {
        if (!(e = lgb_begin_cell(w->b)) &&
            !(e = g ? lgb_add_geos(w->b, w->h, g) : add_cell_rings(w->b, w->l, row)) &&
            !(e = lgb_set_int(w->b, w->fcell, (int64_t)row)) &&
            !(e = lgb_set_real(w->b, w->farea, area)))
            e = lgb_end_cell(w->b);
    }
    if (g)
        GEOSGeom_destroy_r(w->h, g);
    return e;
}

static lg_error uncovered_builder(lg_context *ctx, area_work *w)
{
    lg_error e = lgb_new(ctx, "uncovered area", LG_LOAD_NO_VALIDATE, &w->b);
    if (!e)
        e = lgb_add_field(w->b, "cell", LG_FIELD_INT, &w->fcell);
    if (!e)
        e = lgb_add_field(w->b, "area_m2", LG_FIELD_REAL, &w->farea);
    return e;
}

/* Rows of a dissolved polygonal geometry g (borrowed) into w->b, cell = LG_NONE. */
static lg_error add_dissolved(area_work *w, const GEOSGeometry *g)
{
    int np = GEOSGetNumGeometries_r(w->h, g);
    int t = GEOSGeomTypeId_r(w->h, g);
    if (t == GEOS_POLYGON)
        np = 1;
    for (int k = 0; k < np; k++) {
        const GEOSGeometry *p = t == GEOS_POLYGON ? g : GEOSGetGeometryN_r(w->h, g, k);
        if (GEOSGeomTypeId_r(w->h, p) != GEOS_POLYGON || GEOSisEmpty_r(w->h, p))
            continue;
        double a = 0;
        GEOSArea_r(w->h, p, &a);
        lg_error e;
        if ((e = lgb_begin_cell(w->b)) || (e = lgb_add_geos(w->b, w->h, p)) ||
            (e = lgb_set_int(w->b, w->fcell, LG_NONE)) || (e = lgb_set_real(w->b, w->farea, a)) ||
            (e = lgb_end_cell(w->b)))
            return e;
    }
    return LG_OK;
}

/* Union of a collection (consumed): coverage union when valid, else the general one. */
static GEOSGeometry *union_cells(GEOSContextHandle_t h, GEOSGeometry *coll)
{
    GEOSGeometry *u = GEOSCoverageUnion_r(h, coll);
    if (!u || GEOSisValid_r(h, u) != 1) {
        if (u)
            GEOSGeom_destroy_r(h, u);
        u = GEOSUnaryUnion_r(h, coll);
    }
    GEOSGeom_destroy_r(h, coll);
    return u;
}

static GEOSGeometry *collect(GEOSContextHandle_t h, GEOSGeometry **g, size_t n)
{
    return GEOSGeom_createCollection_r(h, GEOS_GEOMETRYCOLLECTION, g, (unsigned)n);
}

static lg_error area_clip(area_work *w, lg_area_result *res, double *cell_cov)
{
    static const char fn[] = "lg_coverage_area";
    lg_context *ctx = w->ctx;
    const lg_layer *l = w->l;
    double *area = lg__malloc(&ctx->alloc, (l->ncells + 1) * sizeof *area);
    if (!area)
        return nomem(ctx, fn);
    centroids(l, NULL, NULL, area);
    lg_rtree *tree = NULL;
    lg_error e = point_tree(ctx, fn, w->fx, w->fy, w->nf, &tree);
    /* inradius of the 4*qs-gon inscribed in the circle, less a relative 1e-12 margin */
    double rin = w->r * cos(LG_PI / (4.0 * w->qs)) * (1 - 1e-12);
    near_ctx nc = {.fx = w->fx, .fy = w->fy, .r = w->r, .a = &ctx->alloc};
    double covered = 0, region = 0;
    for (size_t i = 0; !e && i < l->ncells; i++) {
        double ai = isfinite(area[i]) ? area[i] : 0, cov = 0;
        region += ai;
        const double *cb = l->cell_box + 4 * i;
        if (l->cell_ring[i] == l->cell_ring[i + 1]) {
            if (cell_cov)
                cell_cov[i] = 0;
            continue;
        }
        nc.cbox = cb;
        nc.n = 0;
        double q[4] = {cb[0] - w->r, cb[1] - w->r, cb[2] + w->r, cb[3] + w->r};
        if (w->nf)
            lg_rtree_search(tree, q, near_iter, &nc);
        if (nc.oom) {
            e = nomem(ctx, fn);
            break;
        }
        bool full = false;
        size_t kept = 0;
        for (size_t k = 0; k < nc.n && !full; k++) {
            double fxk = w->fx[nc.ids[k]], fyk = w->fy[nc.ids[k]], maxv, mine;
            cell_vs_point(l, i, fxk, fyk, &maxv, &mine);
            full = maxv <= rin;
            /* 1.000001: a margin for rounding; a kept facility only costs time */
            if (mine <= w->r * 1.000001 || lg__cell_owns(l, i, fxk, fyk, NULL))
                nc.ids[kept++] = nc.ids[k];
        }
        if (!full)
            nc.n = kept;
        if (full) {
            res->cells_full++;
            cov = ai;
        } else if (nc.n == 0) {
            res->cells_none++;
            if (w->b || w->pieces)
                e = add_piece(w, i, NULL, ai);
        } else {
            res->cells_clipped++;
            /* fixed order: the same answer whatever order the tree reports */
            qsort(nc.ids, nc.n, sizeof *nc.ids, cmp_i64);
            GEOSGeometry *g = lg__cell_to_geos(w->h, l, i);
            double a0 = 0, a1 = 0;
            if (!g) {
                e = lg__fail(ctx, LG_ERR_INTERNAL, "%s: cell %zu: GEOS: %s", fn, i, ctx->geos_msg);
                break;
            }
            GEOSArea_r(w->h, g, &a0);
            for (size_t k = 0; k < nc.n && g; k++) {
                const GEOSGeometry *bf = fac_buffer(w, nc.ids[k]);
                /* the buffer's part over the cell's box: a few vertices instead of 4n+1
                 * (rectangle clipping is linear; a convex polygon stays valid) */
                double m = 1e-9 * (cb[2] - cb[0] + cb[3] - cb[1]);
                GEOSGeometry *cl =
                    bf ? GEOSClipByRect_r(w->h, bf, cb[0] - m, cb[1] - m, cb[2] + m, cb[3] + m)
                       : NULL;
                GEOSGeometry *d = cl ? GEOSDifference_r(w->h, g, cl) : NULL;
                if (cl)
                    GEOSGeom_destroy_r(w->h, cl);
                GEOSGeom_destroy_r(w->h, g);
                g = d;
                if (g && GEOSisEmpty_r(w->h, g))
                    break;
            }
            if (!g) {
                e = lg__fail(ctx, LG_ERR_INTERNAL, "%s: cell %zu: GEOS difference failed: %s", fn,
                             i, ctx->geos_msg);
                break;
            }
            GEOSArea_r(w->h, g, &a1);
            cov = a0 - a1;
            for (size_t k = 0; w->used && k < nc.n; k++)
                w->used[nc.ids[k]] = 1;
            if (a1 > 0 && (w->b || w->pieces))
                e = add_piece(w, i, g, a1);
            else
                GEOSGeom_destroy_r(w->h, g);
        }
        covered += cov;
        if (cell_cov)
            cell_cov[i] = cov;
        if (!e && (i & 1023) == 1023 && !lg__progress(ctx, i, l->ncells))
            e = LG_ERR_CANCELLED;
    }
    res->region_area_m2 = region;
    res->covered_area_m2 = covered;
    lg__free(&ctx->alloc, nc.ids);
    lg__free(&ctx->alloc, area);
    lg_rtree_free(tree);
    return e;
}

static lg_error area_union(area_work *w, lg_area_result *res, GEOSGeometry **uncovered)
{
    static const char fn[] = "lg_coverage_area";
    lg_context *ctx = w->ctx;
    GEOSContextHandle_t h = w->h;
    const lg_layer *l = w->l;
    size_t n = l->ncells, m = 0;
    GEOSGeometry **gs = lg__malloc(&ctx->alloc, ((n > w->nf ? n : w->nf) + 1) * sizeof *gs);
    if (!gs)
        return nomem(ctx, fn);
    lg_error e = LG_OK;
    for (size_t i = 0; i < n; i++) {
        if (l->cell_ring[i] == l->cell_ring[i + 1])
            continue;
        if (!(gs[m] = lg__cell_to_geos(h, l, i))) {
            e = lg__fail(ctx, LG_ERR_INTERNAL, "%s: cell %zu: GEOS: %s", fn, i, ctx->geos_msg);
            break;
        }
        m++;
    }
    GEOSGeometry *region = NULL, *bufs = NULL, *cov = NULL;
    if (!e) {
        GEOSGeometry *c = collect(h, gs, m);
        region = c ? union_cells(h, c) : NULL;
        if (!region)
            e = lg__fail(ctx, LG_ERR_INTERNAL, "%s: GEOS union of the cells failed: %s", fn,
                         ctx->geos_msg);
    } else {
        for (size_t i = 0; i < m; i++)
            GEOSGeom_destroy_r(h, gs[i]);
    }
    for (size_t f = 0; !e && f < w->nf; f++) {
        GEOSGeometry *p = GEOSGeom_createPointFromXY_r(h, w->fx[f], w->fy[f]);
        gs[f] = p ? GEOSBuffer_r(h, p, w->r, w->qs) : NULL;
        if (p)
            GEOSGeom_destroy_r(h, p);
        if (!gs[f]) {
            for (size_t k = 0; k < f; k++)
                GEOSGeom_destroy_r(h, gs[k]);
            e = lg__fail(ctx, LG_ERR_INTERNAL, "%s: facility %zu: GEOS buffer failed: %s", fn, f,
                         ctx->geos_msg);
        }
    }
    if (!e) {
        GEOSGeometry *c = collect(h, gs, w->nf);
        bufs = c ? GEOSUnaryUnion_r(h, c) : NULL;
        if (c)
            GEOSGeom_destroy_r(h, c);
        cov = bufs ? GEOSIntersection_r(h, region, bufs) : NULL;
        if (!cov)
            e = lg__fail(ctx, LG_ERR_INTERNAL, "%s: GEOS union/intersection failed: %s", fn,
                         ctx->geos_msg);
    }
    if (!e) {
        GEOSArea_r(h, region, &res->region_area_m2);
        GEOSArea_r(h, cov, &res->covered_area_m2);
        if (uncovered && !(*uncovered = GEOSDifference_r(h, region, bufs)))
            e = lg__fail(ctx, LG_ERR_INTERNAL, "%s: GEOS difference failed: %s", fn, ctx->geos_msg);
    }
    if (region)
        GEOSGeom_destroy_r(h, region);
    if (bufs)
        GEOSGeom_destroy_r(h, bufs);
    if (cov)
        GEOSGeom_destroy_r(h, cov);
    lg__free(&ctx->alloc, gs);
    return e;
}

lg_error lg_coverage_area(lg_context *ctx, const lg_layer *layer, const double *fx,
                          const double *fy, size_t n_fac, const lg_area_options *opt,
                          lg_area_result *res, double *cell_covered_m2, lg_layer **uncovered)
{
    static const char fn[] = "lg_coverage_area";
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (uncovered)
        *uncovered = NULL;
    if (!layer || !res)
        return lg__fail(ctx, LG_ERR_ARG, "%s: layer and res are required", fn);
    memset(res, 0, sizeof *res);
    lg_area_options o = {0};
    if (opt)
        o = *opt;
    double r;
    lg_error e = radius_of(ctx, fn, &o.threshold, &r);
    if (e || (e = check_points(ctx, fn, "facility", fx, fy, n_fac)))
        return e;
    if (o.quadrant_segments < 0 || o.quadrant_segments > 100000)
        return lg__fail(ctx, LG_ERR_ARG, "%s: quadrant_segments %d is outside 0..100000", fn,
                        o.quadrant_segments);
    if (o.method != LG_AREA_CLIP && o.method != LG_AREA_UNION)
        return lg__fail(ctx, LG_ERR_ARG, "%s: unknown method %d", fn, (int)o.method);
    int qs = o.quadrant_segments ? o.quadrant_segments : DEF_QUADSEGS;
    res->radius_m = r;
    res->quadrant_segments = qs;
    double nseg = 4.0 * qs;
    res->buffer_area_error = 1.0 - nseg / (2 * LG_PI) * sin(2 * LG_PI / nseg);

    area_work w = {.ctx = ctx, .l = layer, .fx = fx, .fy = fy, .nf = n_fac, .r = r, .qs = qs};
    if (!(w.h = lg__geos(ctx)))
        return LG_ERR_INTERNAL;
    if (r == 0)
        w.nf = 0; /* a buffer of radius 0 is empty */
    bool dissolve = uncovered && (o.dissolve || o.method == LG_AREA_UNION);
    if (uncovered && (e = uncovered_builder(ctx, &w)))
        goto done;
    if (o.method == LG_AREA_UNION) {
        GEOSGeometry *u = NULL;
        if (cell_covered_m2)
            for (size_t i = 0; i < layer->ncells; i++)
                cell_covered_m2[i] = NAN;
        if (w.nf == 0) {
            /* no buffers: everything is uncovered; GEOS cannot union an empty set */
            area_work w2 = w;
            w2.b = NULL;
            w2.pieces = NULL;
            if ((e = area_clip(&w2, res, NULL)))
                goto done;
            res->cells_full = res->cells_none = res->cells_clipped = 0;
            if (uncovered) {
                size_t n = layer->ncells, m = 0;
                GEOSGeometry **gs = lg__malloc(&ctx->alloc, (n + 1) * sizeof *gs);
                if (!gs) {
                    e = nomem(ctx, fn);
                    goto done;
                }
                for (size_t i = 0; i < n; i++)
                    if (layer->cell_ring[i] != layer->cell_ring[i + 1] &&
                        (gs[m] = lg__cell_to_geos(w.h, layer, i)))
                        m++;
                GEOSGeometry *c = collect(w.h, gs, m);
                u = c ? union_cells(w.h, c) : NULL;
                lg__free(&ctx->alloc, gs);
            }
        } else if ((e = area_union(&w, res, uncovered ? &u : NULL))) {
            goto done;
        }
        if (u) {
            e = add_dissolved(&w, u);
            GEOSGeom_destroy_r(w.h, u);
        }
    } else {
        if (w.nf && !(w.buf = lg__calloc(&ctx->alloc, w.nf, sizeof *w.buf))) {
            e = nomem(ctx, fn);
            goto done;
        }
        if (dissolve && !(w.pieces = lg__malloc(&ctx->alloc, 64 * sizeof *w.pieces))) {
            e = nomem(ctx, fn);
            goto done;
        }
        w.cappieces = dissolve ? 64 : 0;
        if (dissolve && !(w.used = lg__calloc(&ctx->alloc, w.nf + 1, 1))) {
            e = nomem(ctx, fn);
            goto done;
        }
        if ((e = area_clip(&w, res, cell_covered_m2)))
            goto done;
        if (dissolve) {
            /* the cells not wholly covered share edges exactly: coverage union; then
             * subtract the buffers that reach them */
            GEOSGeometry *c = collect(w.h, w.pieces, w.npieces);
            w.npieces = 0;
            GEOSGeometry *u = c ? union_cells(w.h, c) : NULL;
            size_t nb = 0;
            GEOSGeometry **bs = lg__malloc(&ctx->alloc, (w.nf + 1) * sizeof *bs);
            for (size_t f = 0; bs && f < w.nf; f++)
                if (w.used[f] && w.buf[f] && (bs[nb] = GEOSGeom_clone_r(w.h, w.buf[f])))
                    nb++;
            if (u && bs && nb) {
                GEOSGeometry *bc = collect(w.h, bs, nb);
                GEOSGeometry *bu = bc ? GEOSUnaryUnion_r(w.h, bc) : NULL;
                GEOSGeometry *d = bu ? GEOSDifference_r(w.h, u, bu) : NULL;
                if (bc)
                    GEOSGeom_destroy_r(w.h, bc);
                if (bu)
                    GEOSGeom_destroy_r(w.h, bu);
                GEOSGeom_destroy_r(w.h, u);
                u = d;
            } else {
                for (size_t k = 0; k < nb; k++)
                    GEOSGeom_destroy_r(w.h, bs[k]);
            }
            lg__free(&ctx->alloc, bs);
            if (!u) {
                e = lg__fail(ctx, LG_ERR_INTERNAL, "%s: GEOS union of the uncovered parts: %s", fn,
                             ctx->geos_msg);
                goto done;
            }
            e = add_dissolved(&w, u);
            GEOSGeom_destroy_r(w.h, u);
        }
    }
    res->uncovered_area_m2 = res->region_area_m2 - res->covered_area_m2;
    res->share = res->region_area_m2 > 0 ? res->covered_area_m2 / res->region_area_m2 : NAN;
    if (!e && uncovered) {
        e = lgb_finish(w.b, layer->crs, NULL, uncovered);
        w.b = NULL;
    }
done:
    if (w.buf)
        for (size_t f = 0; f < w.nf; f++)
            if (w.buf[f])
                GEOSGeom_destroy_r(w.h, w.buf[f]);
    lg__free(&ctx->alloc, w.buf);
    for (size_t k = 0; k < w.npieces; k++)
        GEOSGeom_destroy_r(w.h, w.pieces[k]);
    lg__free(&ctx->alloc, w.pieces);
    lg__free(&ctx->alloc, w.used);
    if (w.b)
        lgb_free(w.b);
    return e;
}

/* ------------------------------------------------------------------ siting */

typedef struct site_work {
    lg_context *ctx;
    const lg_allocator *a;
    size_t n; /* cells */
    double *px, *py, *area;
    double *w;   /* weight per cell; 0 for empty cells */
    uint8_t *ok; /* cell has a demand point */
    uint8_t *ex; /* covered by an existing facility */
    size_t nc;   /* candidates: unique rows, ascending */
    int64_t *cand;
    size_t *off; /* nc + 1: CSR of the cells each candidate covers */
    uint32_t *idx;
    size_t nidx, capidx;
    int32_t *cnt;   /* cover count; an existing cover counts 1 */
    double *single; /* gain of each candidate alone (over the existing cover) */
    double total, existing, coverable;
    size_t uncoverable;
} site_work;

static void site_free(site_work *s)
{
    const lg_allocator *a = s->a;
    lg__free(a, s->px);
    lg__free(a, s->py);
    lg__free(a, s->area);
    lg__free(a, s->w);
    lg__free(a, s->ok);
    lg__free(a, s->ex);
    lg__free(a, s->cand);
    lg__free(a, s->off);
    lg__free(a, s->idx);
    lg__free(a, s->cnt);
    lg__free(a, s->single);
}

typedef struct cover_ctx {
    site_work *s;
    double x, y, r;
    bool oom;
} cover_ctx;

static bool cover_iter(int64_t id, const double box[4], void *udata)
{
    (void)box;
    cover_ctx *c = udata;
    site_work *s = c->s;
    if (dist2d(c->x, c->y, s->px[id], s->py[id]) > c->r)
        return true;
    if (s->nidx == s->capidx &&
        lg__grow(s->a, (void **)&s->idx, &s->capidx, s->nidx + 1, sizeof *s->idx)) {
        c->oom = true;
        return false;
    }
    s->idx[s->nidx++] = (uint32_t)id;
    return true;
}

static double gain_of(const site_work *s, size_t c, bool by_count)
{
    double g = 0;
    for (size_t k = s->off[c]; k < s->off[c + 1]; k++) {
        uint32_t i = s->idx[k];
        if (s->cnt[i] == 0)
            g += by_count ? 1.0 : s->w[i];
    }
    return g;
}

static void add_site(site_work *s, size_t c, int32_t delta)
{
    for (size_t k = s->off[c]; k < s->off[c + 1]; k++)
        s->cnt[s->idx[k]] += delta;
}

static lg_error site_setup(lg_context *ctx, const char *fn, const lg_layer *l,
                           const lg_siting_options *o, site_work *s)
{
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    s->a = &ctx->alloc;
    size_t n = s->n = l->ncells;
    double r;
    lg_error e = radius_of(ctx, fn, &o->threshold, &r);
    if (e || (e = check_weights(ctx, fn, o->weight, n)) ||
        (e = check_points(ctx, fn, "existing facility", o->existing_x, o->existing_y,
                          o->n_existing)) ||
        (e = demand_points(ctx, fn, l, o->x, o->y, &s->px, &s->py, &s->area)))
        return e;
    if (o->candidates == NULL && o->n_candidates)
        return lg__fail(ctx, LG_ERR_ARG, "%s: n_candidates %zu without candidates", fn,
                        o->n_candidates);
    s->w = lg__malloc(s->a, (n + 1) * sizeof *s->w);
    s->ok = lg__calloc(s->a, n + 1, 1);
    s->ex = lg__calloc(s->a, n + 1, 1);
    s->cnt = lg__calloc(s->a, n + 1, sizeof *s->cnt);
    size_t ncand = o->candidates ? o->n_candidates : n;
    s->cand = lg__malloc(s->a, (ncand + 1) * sizeof *s->cand);
    int64_t *valid = lg__malloc(s->a, (n + 1) * sizeof *valid);
    if (!s->w || !s->ok || !s->ex || !s->cnt || !s->cand || !valid) {
        lg__free(s->a, valid);
        return nomem(ctx, fn);
    }
    size_t nv = 0;
    for (size_t i = 0; i < n; i++) {
        s->ok[i] = isfinite(s->px[i]) && isfinite(s->py[i]);
        s->w[i] = s->ok[i] ? (o->weight ? o->weight[i] : 1.0) : 0.0;
        s->total += s->w[i];
        if (s->ok[i])
            valid[nv++] = (int64_t)i;
    }
    /* candidates: checked, sorted, unique */
    size_t m = 0;
    for (size_t k = 0; k < ncand; k++) {
        int64_t c = o->candidates ? o->candidates[k] : (int64_t)k;
        if (o->candidates && (c < 0 || (uint64_t)c >= n)) {
            lg__free(s->a, valid);
            return lg__fail(ctx, LG_ERR_ARG, "%s: candidate %zu: cell row %lld is outside 0..%zu",
                            fn, k, (long long)c, n ? n - 1 : 0);
        }
        if (!s->ok[c]) {
            if (o->candidates) {
                lg__free(s->a, valid);
                return lg__fail(ctx, LG_ERR_ARG,
                                "%s: candidate %zu: cell %lld is empty (no demand point)", fn, k,
                                (long long)c);
            }
            continue;
        }
        s->cand[m++] = c;
    }
    qsort(s->cand, m, sizeof *s->cand, cmp_i64);
    size_t u = 0;
    for (size_t k = 0; k < m; k++)
        if (!u || s->cand[u - 1] != s->cand[k])
            s->cand[u++] = s->cand[k];
    s->nc = u;
    /* existing cover */
    lg_rtree *et = NULL, *dt = NULL;
    if ((e = point_tree(ctx, fn, o->existing_x, o->existing_y, o->n_existing, &et))) {
        lg__free(s->a, valid);
        return e;
    }
    count_ctx cc = {.fx = o->existing_x, .fy = o->existing_y, .r = r};
    for (size_t i = 0; o->n_existing && i < n; i++) {
        if (!s->ok[i])
            continue;
        cc.px = s->px[i];
        cc.py = s->py[i];
        cc.count = 0;
        cc.best = LG_NONE;
        cc.bestd = INFINITY;
        double box[4] = {cc.px - r, cc.py - r, cc.px + r, cc.py + r};
        lg_rtree_search(et, box, count_iter, &cc);
        if (cc.count) {
            s->ex[i] = 1;
            s->cnt[i] = 1;
            s->existing += s->w[i];
        }
    }
    lg_rtree_free(et);
    /* cover lists */
    e = point_tree_ids(ctx, fn, s->px, s->py, valid, nv, &dt);
    lg__free(s->a, valid);
    if (e)
        return e;
    s->off = lg__malloc(s->a, (s->nc + 1) * sizeof *s->off);
    s->single = lg__malloc(s->a, (s->nc + 1) * sizeof *s->single);
    if (!s->off || !s->single) {
        lg_rtree_free(dt);
        return nomem(ctx, fn);
    }
    cover_ctx cv = {.s = s, .r = r};
    s->off[0] = 0;
    for (size_t c = 0; c < s->nc; c++) {
        cv.x = s->px[s->cand[c]];
        cv.y = s->py[s->cand[c]];
        double box[4] = {cv.x - r, cv.y - r, cv.x + r, cv.y + r};
        if (nv)
            lg_rtree_search(dt, box, cover_iter, &cv);
        if (cv.oom) {
            lg_rtree_free(dt);
            return nomem(ctx, fn);
        }
        /* the tree's order is deterministic; sorting makes the lists canonical */
        uint32_t *lst = s->idx + s->off[c];
        size_t len = s->nidx - s->off[c];
        for (size_t a = 1; a < len; a++) { /* insertion sort: lists are short and nearly sorted */
            uint32_t v = lst[a];
            size_t b = a;
            for (; b > 0 && lst[b - 1] > v; b--)
                lst[b] = lst[b - 1];
            lst[b] = v;
        }
        s->off[c + 1] = s->nidx;
    }
    lg_rtree_free(dt);
    /* coverable weight and uncoverable cells */
    uint8_t *any = lg__calloc(s->a, n + 1, 1);
    if (!any)
        return nomem(ctx, fn);
    for (size_t k = 0; k < s->nidx; k++)
        any[s->idx[k]] = 1;
    for (size_t i = 0; i < n; i++) {
        if (!s->ok[i])
            continue;
        if (s->ex[i] || any[i])
            s->coverable += s->w[i];
        else
            s->uncoverable++;
    }
    lg__free(s->a, any);
    return LG_OK;
}

/* Lazy-greedy max-heap entry: larger gain first, then the lower candidate. */
typedef struct heap_ent {
    double g;
    uint32_t c;
    uint32_t stamp;
} heap_ent;

static inline bool heap_before(const heap_ent *a, const heap_ent *b)
{
    return a->g > b->g || (a->g == b->g && a->c < b->c);
}

static void heap_down(heap_ent *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && heap_before(&h[l], &h[m]))
            m = l;
        if (r < n && heap_before(&h[r], &h[m]))
            m = r;
        if (m == i)
            return;
        heap_ent t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/*
 * Greedy with lazy evaluation over the candidates list[0..nl) (candidate indices),
 * from the current cover counts: picks up to p, each the one of largest marginal gain
 * (ties: lower candidate). Stale heap values are upper bounds of the current gains
 * (submodularity), so a top entry evaluated in this round is the true maximum.
 * stop_at_zero: stop when the best gain is 0. Returns how many were picked.
 */
static lg_error greedy(site_work *s, const uint32_t *list, size_t nl, size_t p, bool by_count,
                       bool stop_at_zero, uint32_t *sel, double *gains, size_t *nsel)
{
    *nsel = 0;
    heap_ent *h = lg__malloc(s->a, (nl + 1) * sizeof *h);
    if (!h)
        return nomem(s->ctx, "siting");
    for (size_t k = 0; k < nl; k++)
        h[k] = (heap_ent){gain_of(s, list[k], by_count), list[k], 0};
    size_t hn = nl;
    for (size_t k = hn / 2; k-- > 0;)
        heap_down(h, hn, k);
    uint32_t round = 0;
    while (*nsel < p && hn) {
        if (h[0].stamp == round) {
            if (stop_at_zero && h[0].g <= 0)
                break;
            uint32_t c = h[0].c;
            sel[*nsel] = c;
            if (gains)
                gains[*nsel] = by_count ? gain_of(s, c, false) : h[0].g;
            (*nsel)++;
            add_site(s, c, 1);
            h[0] = h[--hn];
            heap_down(h, hn, 0);
            round++;
        } else {
            h[0].g = gain_of(s, h[0].c, by_count);
            h[0].stamp = round;
            heap_down(h, hn, 0);
        }
    }
    lg__free(s->a, h);
    return LG_OK;
}

static int cmp_desc(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a < b) - (a > b);
}

/* Sum of the p largest of v[0..n) (v is reordered). */
static double top_sum(double *v, size_t n, size_t p)
{
    qsort(v, n, sizeof *v, cmp_desc);
    double t = 0;
    for (size_t k = 0; k < n && k < p; k++)
        t += v[k];
    return t;
}

static double covered_weight(const site_work *s)
{
    double t = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->cnt[i] > 0)
            t += s->w[i];
    return t;
}

/* Reset the counts to the existing cover. */
static void reset_counts(site_work *s)
{
    for (size_t i = 0; i < s->n; i++)
        s->cnt[i] = s->ex[i] ? 1 : 0;
}

/* Output: the chosen set sel[0..m) ordered greedily by weight, rows and gains. */
static lg_error emit_sites(site_work *s, const uint32_t *sel, size_t m, int64_t *sites,
                           double *gain, size_t cap)
{
    uint32_t *ord = lg__malloc(s->a, (m + 1) * sizeof *ord);
    double *g = lg__malloc(s->a, (m + 1) * sizeof *g);
    lg_error e = (!ord || !g) ? nomem(s->ctx, "siting") : LG_OK;
    size_t k = 0;
    if (!e) {
        reset_counts(s);
        e = greedy(s, sel, m, m, false, false, ord, g, &k);
    }
    for (size_t j = 0; !e && j < k && j < cap; j++) {
        if (sites)
            sites[j] = s->cand[ord[j]];
        if (gain)
            gain[j] = g[j];
    }
    lg__free(s->a, ord);
    lg__free(s->a, g);
    return e;
}

static void sum_base(const site_work *s, lg_siting_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    sum->total_weight = s->total;
    sum->existing_weight = s->existing;
    sum->coverable_weight = s->coverable;
    sum->uncoverable_cells = s->uncoverable;
    sum->upper_bound = NAN;
    sum->greedy_weight = NAN;
}

lg_error lg_siting_mclp(lg_context *ctx, const lg_layer *layer, size_t p,
                        const lg_siting_options *opt, int64_t *sites, double *gain, size_t cap,
                        lg_siting_summary *sum)
{
    static const char fn[] = "lg_siting_mclp";
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!layer || !sum || (p && !sites))
        return lg__fail(ctx, LG_ERR_ARG, "%s: layer, sites and sum are required", fn);
    if (cap < p)
        return lg__fail(ctx, LG_ERR_CAPACITY, "%s: room for %zu sites, %zu asked", fn, cap, p);
    lg_siting_options o = {0};
    if (opt)
        o = *opt;
    site_work s;
    lg_error e = site_setup(ctx, fn, layer, &o, &s);
    if (e) {
        site_free(&s);
        return e;
    }
    sum_base(&s, sum);
    size_t nc = s.nc, m = 0;
    if (p > nc)
        p = nc;
    uint32_t *all = lg__malloc(s.a, (nc + 1) * sizeof *all);
    uint32_t *sel = lg__malloc(s.a, (p + 1) * sizeof *sel);
    uint32_t *order = lg__malloc(s.a, (nc + 1) * sizeof *order);
    uint8_t *in = lg__calloc(s.a, nc + 1, 1);
    double *tmp = lg__malloc(s.a, (nc + 1) * sizeof *tmp);
    if (!all || !sel || !order || !in || !tmp) {
        e = nomem(ctx, fn);
        goto done;
    }
    for (size_t c = 0; c < nc; c++) {
        all[c] = (uint32_t)c;
        s.single[c] = tmp[c] = gain_of(&s, c, false);
    }
    double ub = s.coverable;
    double b0 = s.existing + top_sum(tmp, nc, p);
    if (b0 < ub)
        ub = b0;
    if ((e = greedy(&s, all, nc, p, false, false, sel, NULL, &m)))
        goto done;
    double gw = covered_weight(&s);
    sum->greedy_weight = gw;
    if (p) {
        double ratio = 1.0 - pow(1.0 - 1.0 / (double)p, (double)p);
        double b1 = s.existing + (gw - s.existing) / ratio;
        if (b1 < ub)
            ub = b1;
    }
    /* swap local search: candidates by decreasing single gain, which bounds any gain */
    {
        heap_ent *hh = lg__malloc(s.a, (nc + 1) * sizeof *hh);
        if (!hh) {
            e = nomem(ctx, fn);
            goto done;
        }
        for (size_t c = 0; c < nc; c++)
            hh[c] = (heap_ent){s.single[c], (uint32_t)c, 0};
        size_t hn = nc;
        for (size_t k = hn / 2; k-- > 0;)
            heap_down(hh, hn, k);
        for (size_t k = 0; k < nc; k++) {
            order[k] = hh[0].c;
            hh[0] = hh[--hn];
            heap_down(hh, hn, 0);
        }
        lg__free(s.a, hh);
    }
    for (size_t k = 0; k < m; k++)
        in[sel[k]] = 1;
    double eps = 1e-12 * (s.total > 1 ? s.total : 1);
    unsigned passes = o.max_swap_passes ? o.max_swap_passes : 20;
    for (unsigned pass = 0; pass < passes; pass++) {
        bool improved = false;
        for (size_t k = 0; k < m; k++) {
            uint32_t cur = sel[k];
            add_site(&s, cur, -1);
            double loss = gain_of(&s, cur, false);
            uint32_t best = cur;
            double bestg = loss;
            for (size_t j = 0; j < nc; j++) {
                uint32_t c = order[j];
                if (s.single[c] <= bestg + eps)
                    break;
                if (in[c])
                    continue;
                double g = gain_of(&s, c, false);
                if (g > bestg + eps) {
                    best = c;
                    bestg = g;
                }
            }
            if (best != cur) {
                in[cur] = 0;
                in[best] = 1;
                sel[k] = best;
                sum->swaps++;
                improved = true;
            }
            add_site(&s, sel[k], 1);
        }
        if (!improved)
            break;
    }
    double fw = covered_weight(&s);
    for (size_t c = 0; c < nc; c++)
        tmp[c] = in[c] ? 0 : gain_of(&s, c, false);
    double b2 = fw + top_sum(tmp, nc, p);
    if (b2 < ub)
        ub = b2;
    sum->covered_weight = fw;
    sum->upper_bound = ub < fw ? fw : ub;
    sum->n_sites = m;
    e = emit_sites(&s, sel, m, sites, gain, cap);
done:
    lg__free(s.a, all);
    lg__free(s.a, sel);
    lg__free(s.a, order);
    lg__free(s.a, in);
    lg__free(s.a, tmp);
    site_free(&s);
    return e;
}

lg_error lg_siting_lscp(lg_context *ctx, const lg_layer *layer, const lg_siting_options *opt,
                        int64_t *sites, double *gain, size_t cap, lg_siting_summary *sum)
{
    static const char fn[] = "lg_siting_lscp";
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!layer || !sum || (cap && !sites))
        return lg__fail(ctx, LG_ERR_ARG, "%s: layer, sites and sum are required", fn);
    lg_siting_options o = {0};
    if (opt)
        o = *opt;
    site_work s;
    lg_error e = site_setup(ctx, fn, layer, &o, &s);
    if (e) {
        site_free(&s);
        return e;
    }
    sum_base(&s, sum);
    size_t nc = s.nc, n = s.n, m = 0;
    uint32_t *all = lg__malloc(s.a, (nc + 1) * sizeof *all);
    uint32_t *sel = lg__malloc(s.a, (nc + 1) * sizeof *sel);
    size_t *toff = lg__calloc(s.a, n + 2, sizeof *toff);
    uint32_t *tidx = lg__malloc(s.a, (s.nidx + 1) * sizeof *tidx);
    uint32_t *targ = lg__malloc(s.a, (n + 1) * sizeof *targ);
    uint8_t *used = lg__calloc(s.a, nc + 1, 1);
    if (!all || !sel || !toff || !tidx || !targ || !used) {
        e = nomem(ctx, fn);
        goto done;
    }
    double maxset = 0;
    for (size_t c = 0; c < nc; c++) {
        all[c] = (uint32_t)c;
        double g = gain_of(&s, c, true);
        if (g > maxset)
            maxset = g;
    }
    if ((e = greedy(&s, all, nc, nc, true, true, sel, NULL, &m)))
        goto done;
    sum->greedy_sites = m;
    /* drop redundant sites, last chosen first */
    size_t kept = m;
    for (size_t k = m; k-- > 0;) {
        uint32_t c = sel[k];
        bool redundant = true;
        for (size_t j = s.off[c]; j < s.off[c + 1] && redundant; j++)
            redundant = s.cnt[s.idx[j]] >= 2;
        if (redundant) {
            add_site(&s, c, -1);
            memmove(sel + k, sel + k + 1, (kept - k - 1) * sizeof *sel);
            kept--;
        }
    }
    m = kept;
    sum->covered_weight = covered_weight(&s);
    /* lower bound 1: cells no two of which one site covers (greedy packing, the most
     * constrained cells first) */
    for (size_t k = 0; k < s.nidx; k++)
        toff[s.idx[k] + 2]++;
    for (size_t i = 0; i < n; i++)
        toff[i + 2] += toff[i + 1];
    for (size_t c = 0; c < nc; c++)
        for (size_t k = s.off[c]; k < s.off[c + 1]; k++)
            tidx[toff[s.idx[k] + 1]++] = (uint32_t)c;
    size_t nt = 0;
    for (size_t i = 0; i < n; i++)
        if (s.ok[i] && !s.ex[i] && toff[i + 1] > toff[i])
            targ[nt++] = (uint32_t)i;
    /* counting sort of the targets by their number of candidates (stable: row order) */
    {
        size_t maxk = 0;
        for (size_t t = 0; t < nt; t++) {
            size_t d = toff[targ[t] + 1] - toff[targ[t]];
            if (d > maxk)
                maxk = d;
        }
        size_t *bucket = lg__calloc(s.a, maxk + 2, sizeof *bucket);
        uint32_t *sorted = lg__malloc(s.a, (nt + 1) * sizeof *sorted);
        if (!bucket || !sorted) {
            lg__free(s.a, bucket);
            lg__free(s.a, sorted);
            e = nomem(ctx, fn);
            goto done;
        }
        for (size_t t = 0; t < nt; t++)
            bucket[toff[targ[t] + 1] - toff[targ[t]] + 1]++;
        for (size_t d = 0; d <= maxk; d++)
            bucket[d + 1] += bucket[d];
        for (size_t t = 0; t < nt; t++)
            sorted[bucket[toff[targ[t] + 1] - toff[targ[t]]]++] = targ[t];
        size_t pack = 0;
        for (size_t t = 0; t < nt; t++) {
            uint32_t i = sorted[t];
            bool freec = true;
            for (size_t k = toff[i]; k < toff[i + 1] && freec; k++)
                freec = !used[tidx[k]];
            if (!freec)
                continue;
            pack++;
            for (size_t k = toff[i]; k < toff[i + 1]; k++)
                used[tidx[k]] = 1;
        }
        lg__free(s.a, bucket);
        lg__free(s.a, sorted);
        /* lower bound 2: greedy set cover is within H(largest set) of the optimum */
        double hm = 0;
        for (double k = 1; k <= maxset; k++)
            hm += 1.0 / k;
        size_t lb2 = hm > 0 ? (size_t)ceil((double)sum->greedy_sites / hm - 1e-9) : 0;
        sum->lower_bound = pack > lb2 ? pack : lb2;
    }
    sum->n_sites = m;
    if (m > cap) {
        e = lg__fail(ctx, LG_ERR_CAPACITY, "%s: %zu sites chosen, room for %zu", fn, m, cap);
        goto done;
    }
    e = emit_sites(&s, sel, m, sites, gain, cap);
done:
    lg__free(s.a, all);
    lg__free(s.a, sel);
    lg__free(s.a, toff);
    lg__free(s.a, tidx);
    lg__free(s.a, targ);
    lg__free(s.a, used);
    site_free(&s);
    return e;
}

/* -------------------------------------------------------------------- heat */

lg_error lg_heat_aggregate(lg_context *ctx, const lg_layer *layer, const double *x, const double *y,
                           size_t n, const lg_heat_options *opt, double *cell_sum,
                           double *group_sum, int64_t *cell_of, lg_heat_summary *sum)
{
    static const char fn[] = "lg_heat_aggregate";
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!layer || (n && (!x || !y)))
        return lg__fail(ctx, LG_ERR_ARG, "%s: layer, x and y are required", fn);
    lg_heat_options o = {0};
    if (opt)
        o = *opt;
    size_t nc = layer->ncells;
    if (o.time_i && o.time_d)
        return lg__fail(ctx, LG_ERR_ARG, "%s: give integer or double times, not both", fn);
    if (o.time_d && (isnan(o.t0_d) || isnan(o.t1_d)))
        return lg__fail(ctx, LG_ERR_ARG, "%s: time window [%g, %g) has a NaN end", fn, o.t0_d,
                        o.t1_d);
    lg_error e = check_groups(ctx, fn, o.group, nc, o.n_groups);
    if (e)
        return e;
    if (group_sum && !o.group)
        return lg__fail(ctx, LG_ERR_ARG, "%s: group_sum needs opt->group", fn);
    for (size_t i = 0; o.weight && i < n; i++)
        if (!isfinite(o.weight[i]))
            return lg__fail(ctx, LG_ERR_ARG, "%s: incident %zu: weight %g is not finite", fn, i,
                            o.weight[i]);
    for (size_t i = 0; o.rows && i < n; i++)
        if (o.rows[i] < LG_NONE || (o.rows[i] >= 0 && (uint64_t)o.rows[i] >= nc))
            return lg__fail(ctx, LG_ERR_ARG, "%s: incident %zu: row %lld is not a cell or LG_NONE",
                            fn, i, (long long)o.rows[i]);
    size_t chunk = n < CHUNK ? n : CHUNK;
    double *tx = NULL, *ty = NULL;
    int64_t *tr = NULL;
    size_t *ti = NULL;
    if (!o.rows) {
        tx = lg__malloc(&ctx->alloc, (chunk + 1) * sizeof *tx);
        ty = lg__malloc(&ctx->alloc, (chunk + 1) * sizeof *ty);
        tr = lg__malloc(&ctx->alloc, (chunk + 1) * sizeof *tr);
        ti = lg__malloc(&ctx->alloc, (chunk + 1) * sizeof *ti);
        if (!tx || !ty || !tr || !ti) {
            e = nomem(ctx, fn);
            goto done;
        }
    }
    if (cell_sum)
        memset(cell_sum, 0, nc * sizeof *cell_sum);
    if (group_sum)
        memset(group_sum, 0, o.n_groups * sizeof *group_sum);
    lg_heat_summary s = {.incidents = n};
    bool windowed = o.time_i || o.time_d;
    for (size_t i0 = 0; i0 < n; i0 += CHUNK) {
        size_t i1 = n - i0 < CHUNK ? n : i0 + CHUNK, m = 0;
        for (size_t i = i0; i < i1; i++) {
            bool in = true;
            if (o.time_i)
                in = o.time_i[i] >= o.t0_i && o.time_i[i] < o.t1_i;
            else if (o.time_d)
                in = o.time_d[i] >= o.t0_d && o.time_d[i] < o.t1_d; /* NaN: false */
            if (cell_of)
                cell_of[i] = LG_NONE;
            if (!in)
                continue;
            s.in_window++;
            if (!o.rows) {
                if (windowed) {
                    tx[m] = x[i];
                    ty[m] = y[i];
                }
                ti[m++] = i;
            } else {
                int64_t r = o.rows[i];
                if (r == LG_NONE) {
                    s.outside++;
                    continue;
                }
                double v = o.weight ? o.weight[i] : 1.0;
                s.located++;
                s.total += v;
                if (cell_sum)
                    cell_sum[r] += v;
                if (group_sum && o.group[r] != LG_NONE)
                    group_sum[o.group[r]] += v;
                if (cell_of)
                    cell_of[i] = r;
            }
        }
        if (o.rows || !m)
            continue;
        /* without a window the chunk is contiguous: locate in place, no copy */
        if (windowed)
            lg_layer_locate_many(layer, tx, ty, m, tr);
        else
            lg_layer_locate_many(layer, x + i0, y + i0, m, tr);
        for (size_t k = 0; k < m; k++) {
            int64_t r = tr[k];
            size_t i = ti[k];
            if (r == LG_NONE) {
                s.outside++;
                continue;
            }
            double v = o.weight ? o.weight[i] : 1.0;
            s.located++;
            s.total += v;
            if (cell_sum)
                cell_sum[r] += v;
            if (group_sum && o.group[r] != LG_NONE)
                group_sum[o.group[r]] += v;
            if (cell_of)
                cell_of[i] = r;
        }
        if (!lg__progress(ctx, i1, n)) {
            e = LG_ERR_CANCELLED;
            goto done;
        }
    }
    if (sum)
        *sum = s;
done:
    lg__free(&ctx->alloc, tx);
    lg__free(&ctx->alloc, ty);
    lg__free(&ctx->alloc, tr);
    lg__free(&ctx->alloc, ti);
    return e;
}

typedef struct rank_ent {
    double v;
    int64_t row;
} rank_ent;

static int cmp_rank(const void *pa, const void *pb)
{
    const rank_ent *a = pa, *b = pb;
    if (a->v != b->v)
        return a->v > b->v ? -1 : 1;
    return (a->row > b->row) - (a->row < b->row);
}

lg_error lg_heat_top(lg_context *ctx, const lg_layer *layer, const double *value, size_t k,
                     lg_heat_rank rank, int64_t *rows, double *score, size_t *n)
{
    static const char fn[] = "lg_heat_top";
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!layer || !value || !n || (k && !rows && !score))
        return lg__fail(ctx, LG_ERR_ARG, "%s: layer, value, n and rows or score are required", fn);
    if (rank != LG_HEAT_BY_VALUE && rank != LG_HEAT_BY_DENSITY)
        return lg__fail(ctx, LG_ERR_ARG, "%s: unknown ranking %d", fn, (int)rank);
    *n = 0;
    size_t nc = layer->ncells, m = 0;
    double *area = NULL;
    rank_ent *r = lg__malloc(&ctx->alloc, (nc + 1) * sizeof *r);
    if (rank == LG_HEAT_BY_DENSITY)
        area = lg__malloc(&ctx->alloc, (nc + 1) * sizeof *area);
    if (!r || (rank == LG_HEAT_BY_DENSITY && !area)) {
        lg__free(&ctx->alloc, r);
        lg__free(&ctx->alloc, area);
        return nomem(ctx, fn);
    }
    if (area)
        centroids(layer, NULL, NULL, area);
    for (size_t i = 0; i < nc; i++) {
        double v = value[i];
        if (area)
            v = (isfinite(area[i]) && area[i] > 0) ? v / (area[i] * 1e-6) : NAN;
        if (isnan(v) || v == 0)
            continue;
        r[m++] = (rank_ent){v, (int64_t)i};
    }
    qsort(r, m, sizeof *r, cmp_rank);
    for (size_t j = 0; j < k && j < m; j++) {
        if (rows)
            rows[j] = r[j].row;
        if (score)
            score[j] = r[j].v;
        (*n)++;
    }
    lg__free(&ctx->alloc, r);
    lg__free(&ctx->alloc, area);
    return LG_OK;
}
