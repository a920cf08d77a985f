/*
 * Coverage analysis (docs/COVERAGE.md): cell coverage with backup counts and exact area
 * coverage (per-cell clipping). Siting is in siting.c, heat in heat.c, the shared reach
 * threshold and demand points in reach.c.
 *
 * Distances are Euclidean in the layer's metric frame (metres; libgrid/metric.c); every
 * "within the radius" test is sqrt(dx*dx + dy*dy) <= radius through one function
 * (lg__dist2d), so counts, nearest distances and siting cover sets agree bit for bit.
 */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEF_QUADSEGS 32
#define LG_PI 3.14159265358979323846

static lg_error nomem(lg_context *ctx, const char *fn)
{
    return lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", fn);
}

/* ------------------------------------------------------------ cell coverage */

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
    lg_error e = lg__reach_radius(ctx, fn, &o.threshold, &r);
    if (e)
        return e;
    double speed, detour;
    lg__speed_detour(&o.threshold, &speed, &detour);
    size_t n = layer->ncells;
    if ((e = lg__check_points(ctx, fn, "facility", fx, fy, n_fac)) ||
        (e = lg__check_weights(ctx, fn, o.weight, n)) ||
        (e = lg__check_groups(ctx, fn, o.group, n, o.n_groups)))
        return e;
    if (out->group_totals && !o.group)
        return lg__fail(ctx, LG_ERR_ARG, "%s: group_totals needs opt->group", fn);

    /* radius, distances and areas are metres: the layer and the points in its frame */
    const lg__metric *m = NULL;
    double *fown = NULL;
    if ((e = lg__metric_layer(ctx, layer, fn, &layer, &m)) ||
        (e = lg__metric_points(ctx, m, fx, fy, n_fac, &fx, &fy, &fown)))
        return e;
    double *px, *py, *area;
    if ((e = lg__demand_points(ctx, fn, layer, m, o.x, o.y, &px, &py, &area))) {
        lg__free(&ctx->alloc, fown);
        return e;
    }
    lg_rtree *tree = NULL;
    if ((e = lg__point_tree(ctx, fn, fx, fy, n_fac, &tree))) {
        lg__free(&ctx->alloc, px);
        lg__free(&ctx->alloc, py);
        lg__free(&ctx->alloc, area);
        lg__free(&ctx->alloc, fown);
        return e;
    }

    lg_coverage_totals all = {0};
    if (out->group_totals)
        memset(out->group_totals, 0, o.n_groups * sizeof *out->group_totals);
    if (out->facility_totals)
        memset(out->facility_totals, 0, n_fac * sizeof *out->facility_totals);
    size_t nun = 0;
    lg__count_ctx cc = {.fx = fx, .fy = fy, .r = r};
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
                lg_rtree_search(tree, box, lg__count_iter, &cc);
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
                        d = lg__dist2d(x, y, fx[id], fy[id]);
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
    lg__free(&ctx->alloc, fown);
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
    lg__cells_geom(l, NULL, NULL, area);
    lg_rtree *tree = NULL;
    lg_error e = lg__point_tree(ctx, fn, w->fx, w->fy, w->nf, &tree);
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
            qsort(nc.ids, nc.n, sizeof *nc.ids, lg__cmp_i64);
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
    lg_error e = lg__reach_radius(ctx, fn, &o.threshold, &r);
    if (e || (e = lg__check_points(ctx, fn, "facility", fx, fy, n_fac)))
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
    /* radius and areas are metres: the layer and the facilities in its metric frame; the
     * uncovered layer is built there and taken back to the layer's CRS */
    const lg__metric *m = NULL;
    double *fown = NULL;
    if ((e = lg__metric_layer(ctx, layer, fn, &layer, &m)) ||
        (e = lg__metric_points(ctx, m, fx, fy, n_fac, &fx, &fy, &fown)))
        return e;

    area_work w = {.ctx = ctx, .l = layer, .fx = fx, .fy = fy, .nf = n_fac, .r = r, .qs = qs};
    if (!(w.h = lg__geos(ctx))) {
        lg__free(&ctx->alloc, fown);
        return LG_ERR_INTERNAL;
    }
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
                size_t n = layer->ncells, ng = 0;
                GEOSGeometry **gs = lg__malloc(&ctx->alloc, (n + 1) * sizeof *gs);
                if (!gs) {
                    e = nomem(ctx, fn);
                    goto done;
                }
                for (size_t i = 0; i < n; i++)
                    if (layer->cell_ring[i] != layer->cell_ring[i + 1] &&
                        (gs[ng] = lg__cell_to_geos(w.h, layer, i)))
                        ng++;
                GEOSGeometry *c = collect(w.h, gs, ng);
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
        if (!e && layer->twin_of && (e = lg__metric_layer_inv(ctx, m, *uncovered))) {
            lg_layer_free(*uncovered);
            *uncovered = NULL;
        }
    }
done:
    lg__free(&ctx->alloc, fown);
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
