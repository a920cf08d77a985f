/*
 * Reprojecting layers (lg_layer_transform) and relabelling them (lg_layer_with_crs).
 *
 * Shared edges stay shared. Every vertex of the layer is transformed once, in layer
 * order, so the same input coordinates always give the same output coordinates (PROJ
 * is deterministic for a given operation). Densification splits the straight input
 * edge at parameters that depend only on the edge's two endpoints taken in a canonical
 * order (lexicographic), and transforms those points like vertices; the cell on the
 * other side of the edge walks it the other way and receives the same points reversed.
 */
#include "internal.h"

#include <geodesic.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_SPLIT 256u
#define CHUNK 65536

/* How to measure a deviation in the target CRS, in metres. */
typedef struct target_units {
    bool geographic;
    double unit_m; /* projected / engineering */
    struct geod_geodesic g;
} target_units;

static lg_error target_of(lg_context *ctx, const char *crs, target_units *u)
{
    memset(u, 0, sizeof *u);
    lg_units_kind kind;
    double a, f;
    lg_error e = lg__crs_units(ctx, crs, &kind, &u->unit_m, &a, &f);
    if (e)
        return e;
    u->geographic = kind == LG_UNITS_GEOGRAPHIC && a > 0;
    if (u->geographic)
        geod_init(&u->g, a, f);
    else if (!(u->unit_m > 0))
        u->unit_m = 1.0; /* unknown units: deviations in CRS units */
    return LG_OK;
}

/* Distance in metres between two target points. */
static double target_dist(const target_units *u, double x0, double y0, double x1, double y1)
{
    if (u->geographic) {
        double s = 0;
        geod_inverse(&u->g, y0, x0, y1, x1, &s, NULL, NULL);
        return s;
    }
    return hypot(x1 - x0, y1 - y0) * u->unit_m;
}

/* Deviation of p from the segment a-b (target coordinates), in metres. */
static double deviation(const target_units *u, const double a[2], const double b[2],
                        const double p[2])
{
    double dx = b[0] - a[0], dy = b[1] - a[1];
    double len2 = dx * dx + dy * dy;
    double t = len2 > 0 ? ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return target_dist(u, p[0], p[1], a[0] + t * dx, a[1] + t * dy);
}

typedef struct densify {
    lg_context *ctx;
    lg_transform *tr;
    target_units u;
    double tol;
    unsigned max_split;
    double *pts; /* output points of the current edge (target), pairs */
    size_t n, cap;
    double worst;
    bool at_limit;
} densify;

static lg_error push(densify *d, const double p[2])
{
    if (lg__grow(&d->ctx->alloc, (void **)&d->pts, &d->cap, d->n + 1, 2 * sizeof(double)))
        return lg__fail(d->ctx, LG_ERR_NOMEM, "lg_layer_transform: out of memory");
    d->pts[2 * d->n] = p[0];
    d->pts[2 * d->n + 1] = p[1];
    d->n++;
    return LG_OK;
}

/*
 * Points strictly inside the source edge sa-sb (targets ta, tb), in order from sa:
 * the midpoint is added when its image is farther than tol from the chord, and both
 * halves are examined in turn.
 */
static lg_error split(densify *d, const double sa[2], const double sb[2], const double ta[2],
                      const double tb[2], unsigned depth)
{
    double sm[2] = {0.5 * (sa[0] + sb[0]), 0.5 * (sa[1] + sb[1])};
    double tm[2] = {sm[0], sm[1]};
    lg_transform_apply(d->tr, &tm[0], &tm[1], 1);
    if (!isfinite(tm[0]) || !isfinite(tm[1]))
        return lg__fail(d->ctx, LG_ERR_CRS,
                        "lg_layer_transform: the point (%.10g, %.10g) of an edge cannot be "
                        "transformed",
                        sm[0], sm[1]);
    double dev = deviation(&d->u, ta, tb, tm);
    if (!(dev > d->tol)) {
        if (dev > d->worst)
            d->worst = dev;
        return LG_OK;
    }
    if (d->n + 1 >= d->max_split || depth >= 30) {
        d->at_limit = true;
        if (dev > d->worst)
            d->worst = dev;
        return LG_OK;
    }
    lg_error e = split(d, sa, sm, ta, tm, depth + 1);
    if (e == LG_OK)
        e = push(d, tm);
    if (e == LG_OK)
        e = split(d, sm, sb, tm, tb, depth + 1);
    return e;
}

static bool lex_less(const double a[2], const double b[2])
{
    return a[0] < b[0] || (a[0] == b[0] && a[1] < b[1]);
}

/* Copy field definitions and the values of row. */
static lg_error copy_fields(lg_builder *b, const lg_layer *src)
{
    for (size_t f = 0; f < lg_layer_field_count(src); f++) {
        lg_error e =
            lgb_add_field(b, lg_layer_field_name(src, f), lg_layer_field_type(src, f), NULL);
        if (e)
            return e;
    }
    return LG_OK;
}

static lg_error copy_row_values(lg_builder *b, const lg_layer *src, size_t row)
{
    for (size_t f = 0; f < lg_layer_field_count(src); f++) {
        lg_error e = lg__copy_value(b, src, f, f, row);
        if (e)
            return e;
    }
    return LG_OK;
}

static const char *id_name(const lg_layer *src)
{
    int64_t idf = lg_layer_id_field(src);
    return idf == LG_NONE ? NULL : lg_layer_field_name(src, (size_t)idf);
}

lg_error lg_layer_transform(lg_context *ctx, const lg_layer *layer, const char *crs,
                            const lg_layer_transform_options *opt, lg_layer **out,
                            lg_layer_transform_report *rep)
{
    const char *fn = "lg_layer_transform";
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!out)
        return lg__fail(ctx, LG_ERR_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!layer || !crs)
        return lg__fail(ctx, LG_ERR_ARG, "%s: NULL layer or CRS", fn);
    lg_layer_transform_options o = opt ? *opt : (lg_layer_transform_options){0};
    if (!(o.max_deviation_m >= 0) || !isfinite(o.max_deviation_m))
        return lg__fail(ctx, LG_ERR_ARG, "%s: max_deviation_m = %g is not a length >= 0", fn,
                        o.max_deviation_m);
    if (!o.max_split)
        o.max_split = DEFAULT_MAX_SPLIT;
    if (!layer->crs)
        return lg__fail(ctx, LG_ERR_CRS,
                        "%s: the layer has no CRS, so it cannot be reprojected: label it with its "
                        "CRS first (lg_layer_with_crs; crs= when loading)",
                        fn);
    const char *norm = NULL;
    lg_error e = lg_crs_check(ctx, crs, &norm);
    if (e)
        return e;
    char *dst = lg__strdup(&ctx->alloc, norm ? norm : crs);
    if (!dst)
        return lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", fn);

    densify d = {.ctx = ctx, .tol = o.max_deviation_m, .max_split = o.max_split};
    lg_builder *b = NULL;
    double *txy = NULL, *cx = NULL;
    if ((e = lg_transform_new(ctx, layer->crs, dst, &d.tr)))
        goto done;
    if (o.max_deviation_m > 0 && (e = target_of(ctx, dst, &d.u)))
        goto done;
    /* every vertex once, in layer order */
    size_t nv = layer->nverts;
    if (!(txy = malloc(2 * (nv + 1) * sizeof *txy)) || !(cx = malloc(2 * CHUNK * sizeof *cx))) {
        e = lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    for (size_t v0 = 0; v0 < nv; v0 += CHUNK) {
        size_t k = nv - v0 < CHUNK ? nv - v0 : CHUNK;
        double *cy = cx + CHUNK;
        for (size_t i = 0; i < k; i++) {
            cx[i] = layer->xy[2 * (v0 + i)];
            cy[i] = layer->xy[2 * (v0 + i) + 1];
        }
        lg_transform_apply(d.tr, cx, cy, k);
        for (size_t i = 0; i < k; i++) {
            txy[2 * (v0 + i)] = cx[i];
            txy[2 * (v0 + i) + 1] = cy[i];
        }
    }
    if ((e = lgb_new(ctx, fn, 0, &b)) || (e = lgb_reserve(b, layer->ncells, nv)) ||
        (e = copy_fields(b, layer)))
        goto done;
    double *ring = NULL;
    size_t ring_cap = 0, added = 0;
    for (size_t row = 0; row < layer->ncells && e == LG_OK; row++) {
        if ((e = lgb_begin_cell(b)))
            break;
        for (uint32_t r = layer->cell_ring[row]; r < layer->cell_ring[row + 1] && e == LG_OK; r++) {
            uint32_t v0 = layer->ring_off[r], v1 = layer->ring_off[r + 1];
            size_t n = 0;
            for (uint32_t v = v0; v < v1 && e == LG_OK; v++) {
                const double *t = txy + 2 * (size_t)v;
                if (!isfinite(t[0]) || !isfinite(t[1])) {
                    e = lgb_fail(b, LG_ERR_CRS,
                                 "ring %u point %u (%.10g, %.10g) cannot be transformed to '%.80s'",
                                 r - layer->cell_ring[row], v - v0, layer->xy[2 * (size_t)v],
                                 layer->xy[2 * (size_t)v + 1], dst);
                    break;
                }
                d.n = 0;
                if (v + 1 < v1 && d.tol > 0) {
                    const double *sa = layer->xy + 2 * (size_t)v, *sb = sa + 2;
                    bool fwd = !lex_less(sb, sa);
                    if (fwd)
                        e = split(&d, sa, sb, t, t + 2, 0);
                    else
                        e = split(&d, sb, sa, t + 2, t, 0);
                    if (!fwd) /* reverse: this cell walks the edge the other way */
                        for (size_t i = 0, j = d.n ? d.n - 1 : 0; i < j; i++, j--) {
                            double px = d.pts[2 * i], py = d.pts[2 * i + 1];
                            d.pts[2 * i] = d.pts[2 * j];
                            d.pts[2 * i + 1] = d.pts[2 * j + 1];
                            d.pts[2 * j] = px;
                            d.pts[2 * j + 1] = py;
                        }
                }
                if (e == LG_OK && lg__grow(&ctx->alloc, (void **)&ring, &ring_cap, n + 1 + d.n,
                                           2 * sizeof(double)))
                    e = lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", fn);
                if (e)
                    break;
                ring[2 * n] = t[0];
                ring[2 * n + 1] = t[1];
                n++;
                memcpy(ring + 2 * n, d.pts, d.n * 2 * sizeof(double));
                n += d.n;
                added += d.n;
                if (d.at_limit) {
                    if (rep)
                        rep->edges_at_limit++;
                    d.at_limit = false;
                }
            }
            if (e == LG_OK)
                e = lgb_add_ring(b, ring, n, layer->ring_hole[r] != 0);
        }
        if (e == LG_OK)
            e = copy_row_values(b, layer, row);
        if (e == LG_OK)
            e = lgb_end_cell(b);
    }
    free(ring);
    if (e)
        goto done;
    if (rep) {
        rep->vertices_in = nv;
        rep->vertices_out = nv + added;
        rep->max_deviation_m = d.tol > 0 ? d.worst : NAN;
    }
    e = lgb_finish(b, dst, id_name(layer), out);
    b = NULL;
done:
    lgb_free(b);
    lg_transform_free(d.tr);
    lg__free(&ctx->alloc, d.pts);
    free(txy);
    free(cx);
    lg__free(&ctx->alloc, dst);
    return e;
}

lg_error lg_layer_with_crs(lg_context *ctx, const lg_layer *layer, const char *crs, lg_layer **out)
{
    const char *fn = "lg_layer_with_crs";
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!out)
        return lg__fail(ctx, LG_ERR_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!layer)
        return lg__fail(ctx, LG_ERR_ARG, "%s: layer is NULL", fn);
    lg_builder *b = NULL;
    lg_error e = lgb_new(ctx, fn, LG_LOAD_NO_VALIDATE, &b);
    if (!e)
        e = lgb_reserve(b, layer->ncells, layer->nverts);
    if (!e)
        e = copy_fields(b, layer);
    for (size_t row = 0; row < layer->ncells && !e; row++) {
        if ((e = lgb_begin_cell(b)))
            break;
        for (uint32_t r = layer->cell_ring[row]; r < layer->cell_ring[row + 1] && !e; r++)
            e = lgb_add_ring(b, layer->xy + 2 * (size_t)layer->ring_off[r],
                             layer->ring_off[r + 1] - layer->ring_off[r], layer->ring_hole[r] != 0);
        if (!e)
            e = copy_row_values(b, layer, row);
        if (!e)
            e = lgb_end_cell(b);
    }
    /* the load problems belong to the same coordinates: keep them (but the id ones,
     * which lgb_finish finds again) */
    for (size_t i = 0; i < layer->nproblems && !e; i++) {
        const lg_problem_rec *p = &layer->problems[i];
        if (p->kind == LG_PROBLEM_DUPLICATE_ID || p->kind == LG_PROBLEM_NULL_ID ||
            p->kind == LG_PROBLEM_EMPTY)
            continue;
        e = lgb_problem(b, p->row, p->kind, p->x, p->y, "%s", p->msg);
    }
    if (e) {
        lgb_free(b);
        return e;
    }
    return lgb_finish(b, crs, id_name(layer), out);
}
