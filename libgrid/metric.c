/*
 * The metric frame: how a layer's coordinates become metres (include/libgrid/metric.h;
 * docs/ARCHITECTURE.md, "Metres on every layer"). Every module that takes or returns a
 * distance, length, area, speed or ETA asks this one for its layer in metres
 * (lg__metric_layer) and for points in metres (lg__metric_fwd), instead of converting
 * on its own.
 *
 * Choosing the frame. For each candidate frame the scale (ground metres per frame
 * metre) is measured numerically over the layer's extent: at a 9 x 9 grid of points,
 * for four azimuths, a 10 m geodesic step (PROJ's geod_direct on the layer's ellipsoid)
 * is projected and its length compared. This works for every projection PROJ has,
 * conformal or not, and needs no per-projection formula. Over a convex region where the
 * scale stays in [kmin, kmax], a planar distance lies within [kmin, kmax] times the
 * geodesic one, so the relative error of distances is max(kmax - 1, 1 - kmin).
 *  - A projected CRS keeps its own coordinates (times its unit) while that error is at
 *    most NATIVE_OK: UTM, Gauss-Krüger and state-plane zones used in their zones, whose
 *    metres are what their users measure with. Otherwise (Web Mercator, a zone used far
 *    from its meridian) the local frame below is used when its error is smaller.
 *  - A geographic CRS gets a transverse Mercator with scale 1 on a meridian through the
 *    centre of the layer, on the layer's own datum (a pure conversion: no datum shift).
 *    Centring on the layer keeps the error below that of the official 3-degree
 *    Gauss-Krüger or 6-degree UTM zone of the same place, which are the same projection
 *    on a zone meridian: about (w / R)^2 / 2 for a layer reaching w from its centre
 *    meridian (60 km: 4.4e-5; 300 km: 1.1e-3).
 *  - A frame whose error exceeds LG_METRIC_MAX_SCALE_ERROR is unusable: metric calls
 *    fail and say by how much, rather than return distances off by more than 1%.
 */
#include "internal.h"

#include <geodesic.h>
#include <math.h>
#include <proj_experimental.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A projected CRS whose own scale error stays within this keeps its own metres. */
#define NATIVE_OK 1e-3
/* Scale samples per side of the layer's extent, and the geodesic step measured. */
#define SAMPLES 9
#define STEP_M 10.0
/* Points transformed per call when building a twin (memory stays bounded). */
#define CHUNK 65536

static bool is_pseudo(const char *crs)
{
    return crs && (!strcasecmp(crs, "GCJ-02") || !strcasecmp(crs, "GCJ02") ||
                   !strcasecmp(crs, "BD-09") || !strcasecmp(crs, "BD09"));
}

void lg__metric_free(const lg_allocator *a, lg__metric *m)
{
    if (!m)
        return;
    lg_layer_free(atomic_load_explicit(&m->twin, memory_order_relaxed));
    lg__free(a, m->layer_crs);
    lg__free(a, m->frame_crs);
    lg__free(a, m);
}

/* ------------------------------------------------------------ PROJ pieces */

/* WKT2 of p on one line, copied with allocator a; NULL on failure. */
static char *wkt2(const lg_allocator *a, PJ_CONTEXT *pc, const PJ *p)
{
    const char *const opts[] = {"MULTILINE=NO", NULL};
    const char *w = proj_as_wkt(pc, p, PJ_WKT2_2019, opts);
    return w ? lg__strdup(a, w) : NULL;
}

/* The horizontal CRS of crs: the source of a bound CRS, the first part of a compound. */
static PJ *horizontal(PJ_CONTEXT *pc, PJ *crs)
{
    for (int depth = 0; crs && depth < 4; depth++) {
        PJ_TYPE t = proj_get_type(crs);
        PJ *next = NULL;
        if (t == PJ_TYPE_BOUND_CRS)
            next = proj_get_source_crs(pc, crs);
        else if (t == PJ_TYPE_COMPOUND_CRS)
            next = proj_crs_get_sub_crs(pc, crs, 0);
        else
            return crs;
        proj_destroy(crs);
        crs = next;
    }
    return crs;
}

/* Unit of the first axis of a CRS. */
static bool axis_unit(PJ_CONTEXT *pc, const PJ *crs, double *factor, char *name, size_t cap)
{
    PJ *cs = proj_crs_get_coordinate_system(pc, crs);
    const char *un = NULL;
    double f = NAN;
    bool ok = cs && proj_cs_get_axis_info(pc, cs, 0, NULL, NULL, NULL, &f, &un, NULL, NULL);
    proj_destroy(cs);
    if (ok) {
        *factor = f;
        snprintf(name, cap, "%s", un ? un : "unit");
    }
    return ok && f > 0 && isfinite(f);
}

static bool ellipsoid(PJ_CONTEXT *pc, const PJ *geod, double *a, double *f)
{
    PJ *e = proj_get_ellipsoid(pc, geod);
    double sa = NAN, sb = NAN, inv = NAN;
    int computed = 0;
    bool ok = e && proj_ellipsoid_get_parameters(pc, e, &sa, &sb, &computed, &inv);
    proj_destroy(e);
    if (!ok || !(sa > 0))
        return false;
    *a = sa;
    *f = inv > 0 && isfinite(inv) ? 1.0 / inv : (sa - sb) / sa;
    return true;
}

/* A transverse Mercator with scale 1 on lon0, origin at lat0, on geodetic CRS geod. */
static PJ *local_tm(PJ_CONTEXT *pc, const PJ *geod, double lon0, double lat0)
{
    PJ *conv = proj_create_conversion_transverse_mercator(pc, lat0, lon0, 1.0, 0.0, 0.0, "Degree",
                                                          0.0174532925199433, "metre", 1.0);
    PJ *cs = proj_create_cartesian_2D_cs(pc, PJ_CART2D_EASTING_NORTHING, "metre", 1.0);
    PJ *crs = conv && cs ? proj_create_projected_crs(pc, "libgrid local transverse Mercator", geod,
                                                     conv, cs)
                         : NULL;
    proj_destroy(conv);
    proj_destroy(cs);
    return crs;
}

lg_error lg__crs_units(lg_context *ctx, const char *crs, lg_units_kind *kind, double *unit_m,
                       double *ell_a, double *ell_f)
{
    *kind = LG_UNITS_UNKNOWN;
    *unit_m = *ell_a = *ell_f = NAN;
    if (!crs)
        return LG_OK;
    PJ_CONTEXT *pc = lg__proj(ctx);
    if (!pc)
        return ctx->err;
    PJ *p = lg__crs_parse(ctx, pc, is_pseudo(crs) ? "EPSG:4326" : crs);
    if (!p)
        return ctx->err;
    p = horizontal(pc, p);
    PJ_TYPE t = p ? proj_get_type(p) : PJ_TYPE_UNKNOWN;
    char name[64];
    if (t == PJ_TYPE_GEOGRAPHIC_2D_CRS || t == PJ_TYPE_GEOGRAPHIC_3D_CRS)
        *kind = LG_UNITS_GEOGRAPHIC;
    else if (t == PJ_TYPE_PROJECTED_CRS && axis_unit(pc, p, unit_m, name, sizeof name))
        *kind = LG_UNITS_PROJECTED;
    else if (t == PJ_TYPE_ENGINEERING_CRS && axis_unit(pc, p, unit_m, name, sizeof name))
        *kind = LG_UNITS_LOCAL;
    PJ *g = p && *kind != LG_UNITS_LOCAL ? proj_crs_get_geodetic_crs(pc, p) : NULL;
    if (g)
        ellipsoid(pc, g, ell_a, ell_f);
    proj_destroy(g);
    proj_destroy(p);
    return LG_OK;
}

/* ------------------------------------------------------------ scale samples */

/*
 * Range of the scale of the transform tr (geographic base -> frame, times mult) over
 * the sample points (lon, lat in degrees): ground 10 m steps in four directions.
 */
static bool scale_range(const struct geod_geodesic *g, lg_transform *tr, double mult,
                        const double *lon, const double *lat, size_t n, double *kmin, double *kmax)
{
    enum { DIRS = 4 };
    size_t m = n * (DIRS + 1);
    double *x = malloc(2 * m * sizeof *x);
    if (!x)
        return false;
    double *y = x + m;
    for (size_t i = 0; i < n; i++) {
        x[i * (DIRS + 1)] = lon[i];
        y[i * (DIRS + 1)] = lat[i];
        for (int d = 0; d < DIRS; d++) {
            double la2, lo2;
            geod_direct(g, lat[i], lon[i], 45.0 * d, STEP_M, &la2, &lo2, NULL);
            x[i * (DIRS + 1) + 1 + d] = lo2;
            y[i * (DIRS + 1) + 1 + d] = la2;
        }
    }
    bool ok = lg_transform_apply(tr, x, y, m) == LG_OK;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; ok && i < n; i++) {
        const double *px = x + i * (DIRS + 1), *py = y + i * (DIRS + 1);
        for (int d = 0; d < DIRS; d++) {
            double k = hypot(px[1 + d] - px[0], py[1 + d] - py[0]) * mult / STEP_M;
            if (!isfinite(k)) {
                ok = false;
                break;
            }
            lo = k < lo ? k : lo;
            hi = k > hi ? k : hi;
        }
    }
    free(x);
    *kmin = lo;
    *kmax = hi;
    return ok && lo <= hi;
}

static double error_of(double kmin, double kmax)
{
    double a = kmax - 1.0, b = 1.0 - kmin;
    return a > b ? a : b;
}

/* -------------------------------------------------------------- the frame */

/* A PROJ context of ctx, or of a private context (freed by the caller) when ctx is NULL. */
typedef struct frame_job {
    lg_context *ctx;
    const lg_allocator *a; /* the layer's: the frame lives as long as the layer */
    PJ_CONTEXT *pc;
    const lg_layer *l;
    lg__metric *m;
    PJ *crs;  /* the layer's horizontal CRS */
    PJ *geod; /* its geodetic CRS */
    char *geod_wkt;
    double lon[SAMPLES * SAMPLES], lat[SAMPLES * SAMPLES];
    size_t ns;
} frame_job;

static void unusable(lg__metric *m, const char *fmt, ...) LG_PRINTF(2, 3);
static void unusable(lg__metric *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->reason, sizeof m->reason, fmt, ap);
    va_end(ap);
    m->usable = false;
}

/* Sample points of the layer's extent in lon/lat of the geodetic CRS. */
static lg_error sample_extent(frame_job *j, bool geographic)
{
    const lg_layer *l = j->l;
    if (!l->has_bounds) {
        j->ns = 1;
        j->lon[0] = j->lat[0] = 0;
        return LG_OK;
    }
    double x[SAMPLES * SAMPLES], y[SAMPLES * SAMPLES];
    size_t n = 0;
    for (int a = 0; a < SAMPLES; a++)
        for (int b = 0; b < SAMPLES; b++) {
            x[n] = l->bounds[0] + (l->bounds[2] - l->bounds[0]) * a / (SAMPLES - 1);
            y[n] = l->bounds[1] + (l->bounds[3] - l->bounds[1]) * b / (SAMPLES - 1);
            n++;
        }
    if (!geographic) {
        lg_transform *tr = NULL;
        lg_error e = lg__transform_cached(j->ctx, j->m->layer_crs, j->geod_wkt, &tr);
        if (e)
            return e;
        lg_transform_apply(tr, x, y, n);
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i]) && fabs(y[i]) < 90.0) {
            j->lon[k] = x[i];
            j->lat[k] = y[i];
            k++;
        }
    if (k == 0)
        return lg__fail(j->ctx, LG_ERR_CRS,
                        "the layer's extent [%g, %g, %g, %g] has no point PROJ can take to "
                        "longitude/latitude",
                        l->bounds[0], l->bounds[1], l->bounds[2], l->bounds[3]);
    j->ns = k;
    return LG_OK;
}

/* Choose the frame of j->l, given its parsed horizontal CRS. */
static lg_error choose(frame_job *j)
{
    lg__metric *m = j->m;
    lg_context *ctx = j->ctx;
    PJ_TYPE t = j->crs ? proj_get_type(j->crs) : PJ_TYPE_GEOGRAPHIC_2D_CRS;
    bool geographic = !j->crs || t == PJ_TYPE_GEOGRAPHIC_2D_CRS || t == PJ_TYPE_GEOGRAPHIC_3D_CRS;
    if (j->crs && t == PJ_TYPE_ENGINEERING_CRS) {
        m->kind = LG_UNITS_LOCAL;
        if (!axis_unit(j->pc, j->crs, &m->unit_m, m->unit_name, sizeof m->unit_name)) {
            unusable(m, "the layer's engineering CRS has no length unit");
            return LG_OK;
        }
        m->scale = m->unit_m;
        m->kmin = m->kmax = 1.0;
        return LG_OK;
    }
    if (j->crs && !geographic && t != PJ_TYPE_PROJECTED_CRS) {
        unusable(m, "the layer's CRS is neither projected nor geographic (PROJ type %d)", (int)t);
        return LG_OK;
    }
    /* the geodetic CRS and its ellipsoid (WGS 84 under GCJ-02 and BD-09) */
    if (j->crs)
        j->geod = proj_crs_get_geodetic_crs(j->pc, j->crs);
    else
        j->geod = lg__crs_parse(ctx, j->pc, "EPSG:4326");
    if (!j->geod || !ellipsoid(j->pc, j->geod, &m->ell_a, &m->ell_f) ||
        !(j->geod_wkt = wkt2(j->a, j->pc, j->geod))) {
        unusable(m, "PROJ gives no ellipsoid for the layer's CRS");
        return LG_OK;
    }
    struct geod_geodesic g;
    geod_init(&g, m->ell_a, m->ell_f);
    lg_error e = sample_extent(j, geographic);
    if (e)
        return e;
    double lo0 = INFINITY, lo1 = -INFINITY, la0 = INFINITY, la1 = -INFINITY;
    for (size_t i = 0; i < j->ns; i++) {
        lo0 = fmin(lo0, j->lon[i]);
        lo1 = fmax(lo1, j->lon[i]);
        la0 = fmin(la0, j->lat[i]);
        la1 = fmax(la1, j->lat[i]);
    }
    m->box_deg[0] = lo0, m->box_deg[1] = la0, m->box_deg[2] = lo1, m->box_deg[3] = la1;

    double nat_err = INFINITY, nat_min = NAN, nat_max = NAN;
    if (geographic) {
        m->kind = LG_UNITS_GEOGRAPHIC;
        m->unit_m = NAN;
        snprintf(m->unit_name, sizeof m->unit_name, "degree");
    } else {
        m->kind = LG_UNITS_PROJECTED;
        if (!axis_unit(j->pc, j->crs, &m->unit_m, m->unit_name, sizeof m->unit_name)) {
            unusable(m, "the layer's projected CRS has no length unit");
            return LG_OK;
        }
        lg_transform *tr = NULL;
        if ((e = lg__transform_cached(ctx, j->geod_wkt, m->layer_crs, &tr)))
            return e;
        if (scale_range(&g, tr, m->unit_m, j->lon, j->lat, j->ns, &nat_min, &nat_max))
            nat_err = error_of(nat_min, nat_max);
        m->scale = m->unit_m;
        m->kmin = nat_min;
        m->kmax = nat_max;
        m->scale_error = nat_err;
        if (nat_err <= NATIVE_OK)
            return LG_OK;
    }

    /* the local transverse Mercator */
    double lon0 = 0.5 * (lo0 + lo1), lat0 = 0.5 * (la0 + la1);
    PJ *tm = local_tm(j->pc, j->geod, lon0, lat0);
    char *tm_wkt = tm ? wkt2(j->a, j->pc, tm) : NULL;
    proj_destroy(tm);
    double tm_min = NAN, tm_max = NAN, tm_err = INFINITY;
    lg_transform *tr = NULL;
    if (tm_wkt && lg__transform_cached(ctx, j->geod_wkt, tm_wkt, &tr) == LG_OK &&
        scale_range(&g, tr, 1.0, j->lon, j->lat, j->ns, &tm_min, &tm_max))
        tm_err = error_of(tm_min, tm_max);
    lg__clear(ctx);
    if (geographic || tm_err < nat_err) {
        m->local = true;
        m->frame_crs = tm_wkt;
        tm_wkt = NULL;
        m->scale = 1.0;
        m->kmin = tm_min;
        m->kmax = tm_max;
        m->scale_error = tm_err;
    }
    lg__free(j->a, tm_wkt);
    if (!(m->scale_error <= LG_METRIC_MAX_SCALE_ERROR)) {
        char off[64];
        if (isfinite(m->scale_error))
            snprintf(off, sizeof off, "off by up to %.3g%%", 100.0 * m->scale_error);
        else
            snprintf(off, sizeof off, "impossible (PROJ cannot map all of it)");
        unusable(m,
                 "the layer spans %.1f degrees of longitude and %.1f of latitude: distances in "
                 "one plane would be %s, more than the %.3g%% libgrid accepts; reproject it to a "
                 "CRS made for its area (lg_layer_transform, Grid.to_crs, --to-crs)",
                 lo1 - lo0, la1 - la0, off, 100.0 * LG_METRIC_MAX_SCALE_ERROR);
    }
    return LG_OK;
}

static lg_error frame_build(lg_context *ctx, const lg_layer *l, lg__metric **out)
{
    const lg_allocator *a = &l->alloc;
    lg__metric *m = lg__calloc(a, 1, sizeof *m);
    if (!m)
        return lg__fail(ctx, LG_ERR_NOMEM, "metric frame: out of memory");
    m->usable = true;
    m->scale = 1.0;
    m->unit_m = NAN;
    m->ell_a = m->ell_f = NAN;
    m->kmin = m->kmax = 1.0;
    for (int i = 0; i < 4; i++)
        m->box_deg[i] = NAN;
    lg_error e = LG_OK;
    if (!l->crs) {
        m->kind = LG_UNITS_UNKNOWN;
        snprintf(m->unit_name, sizeof m->unit_name, "unknown");
        unusable(m, "the layer has no CRS, so its units are unknown: give its CRS (crs=, --crs) "
                    "or the length of its unit (unit_m=, --unit-m; 1 for metres)");
        *out = m;
        return LG_OK;
    }
    if (!(m->layer_crs = lg__strdup(a, l->crs))) {
        lg__metric_free(a, m);
        return lg__fail(ctx, LG_ERR_NOMEM, "metric frame: out of memory");
    }
    frame_job j = {.ctx = ctx, .a = a, .l = l, .m = m};
    j.pc = lg__proj(ctx);
    if (!j.pc) {
        e = ctx->err;
    } else if (is_pseudo(l->crs)) {
        e = choose(&j); /* GCJ-02 / BD-09: lon/lat on WGS 84 */
    } else {
        PJ *p = lg__crs_parse(ctx, j.pc, l->crs);
        if (!p)
            e = ctx->err;
        else if (!(j.crs = horizontal(j.pc, p)))
            e = lg__fail(ctx, LG_ERR_CRS, "the layer's CRS has no horizontal part");
        else
            e = choose(&j);
    }
    proj_destroy(j.crs);
    proj_destroy(j.geod);
    lg__free(a, j.geod_wkt);
    if (e == LG_OK && !m->frame_crs && !(m->frame_crs = lg__strdup(a, l->crs)))
        e = lg__fail(ctx, LG_ERR_NOMEM, "metric frame: out of memory");
    if (e) {
        lg__metric_free(a, m);
        return e;
    }
    *out = m;
    return LG_OK;
}

/* ------------------------------------------------------------ frame access */

lg_error lg__metric_get(lg_context *ctx, const lg_layer *l, const lg__metric **out)
{
    lg__metric *m = atomic_load_explicit(&l->metric, memory_order_acquire);
    if (m) {
        *out = m;
        return LG_OK;
    }
    lg_context *own = NULL;
    if (!ctx) {
        if (lg_context_new(&l->alloc, &own) != LG_OK)
            return LG_ERR_NOMEM;
        ctx = own;
    }
    lg_layer *w = (lg_layer *)l; /* the lazily built member: published once, under the lock */
    lg_error e = LG_OK;
    pthread_mutex_lock(&w->rtree_mu);
    m = atomic_load_explicit(&w->metric, memory_order_relaxed);
    if (!m) {
        e = frame_build(ctx, w, &m);
        if (e == LG_OK)
            atomic_store_explicit(&w->metric, m, memory_order_release);
    }
    pthread_mutex_unlock(&w->rtree_mu);
    lg_context_free(own);
    if (e)
        return e;
    *out = m;
    return LG_OK;
}

lg_error lg__metric_require(lg_context *ctx, const lg_layer *l, const char *what,
                            const lg__metric **out)
{
    const lg__metric *m = NULL;
    lg_error e = lg__metric_get(ctx, l, &m);
    if (e)
        return e;
    if (!m->usable)
        return lg__fail(ctx, LG_ERR_CRS, "%s: distances in metres are not available: %s", what,
                        m->reason);
    *out = m;
    return LG_OK;
}

lg_error lg_layer_metric(lg_context *ctx, const lg_layer *layer, lg_metric_info *out)
{
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!layer || !out)
        return lg__fail(ctx, LG_ERR_ARG, "lg_layer_metric: NULL argument");
    const lg__metric *m = NULL;
    lg_error e = lg__metric_get(ctx, layer, &m);
    if (e)
        return e;
    out->kind = m->kind;
    out->unit_m = m->unit_m;
    out->unit_name = m->unit_name;
    out->local_frame = m->local;
    out->frame_crs = m->frame_crs;
    out->scale_error = m->scale_error;
    out->usable = m->usable;
    out->reason = m->usable ? "" : m->reason;
    return LG_OK;
}

/* ------------------------------------------------------------------ points */

static lg_error apply_chunked(lg_context *ctx, lg_transform *tr, const double *x, const double *y,
                              size_t n, double *ox, double *oy, double pre, double post)
{
    if (ox != x)
        memcpy(ox, x, n * sizeof *ox);
    if (oy != y)
        memcpy(oy, y, n * sizeof *oy);
    if (pre != 1.0)
        for (size_t i = 0; i < n; i++)
            ox[i] *= pre, oy[i] *= pre;
    if (tr && !lg_transform_is_identity(tr)) {
        lg_error e = lg_transform_apply(tr, ox, oy, n);
        if (e && e != LG_ERR_CRS)
            return lg__fail(ctx, e, "transform to the metric frame failed");
    }
    if (post != 1.0)
        for (size_t i = 0; i < n; i++)
            ox[i] *= post, oy[i] *= post;
    return LG_OK;
}

lg_error lg__metric_fwd_from(lg_context *ctx, const lg__metric *m, const char *crs, const double *x,
                             const double *y, size_t n, double *ox, double *oy)
{
    lg_transform *tr = NULL;
    if (!crs)
        crs = m->layer_crs;
    if (m->local || (crs && m->layer_crs && strcmp(crs, m->layer_crs) != 0)) {
        lg_error e = lg__transform_cached(ctx, crs, m->frame_crs, &tr);
        if (e)
            return e;
    }
    return apply_chunked(ctx, tr, x, y, n, ox, oy, 1.0, m->scale);
}

lg_error lg__metric_fwd(lg_context *ctx, const lg__metric *m, const double *x, const double *y,
                        size_t n, double *ox, double *oy)
{
    return lg__metric_fwd_from(ctx, m, NULL, x, y, n, ox, oy);
}

lg_error lg__metric_inv(lg_context *ctx, const lg__metric *m, const double *x, const double *y,
                        size_t n, double *ox, double *oy)
{
    lg_transform *tr = NULL;
    if (m->local) {
        lg_error e = lg__transform_cached(ctx, m->frame_crs, m->layer_crs, &tr);
        if (e)
            return e;
    }
    return apply_chunked(ctx, tr, x, y, n, ox, oy, 1.0 / m->scale, 1.0);
}

lg_error lg__metric_points(lg_context *ctx, const lg__metric *m, const double *x, const double *y,
                           size_t n, const double **ox, const double **oy, double **own)
{
    *own = NULL;
    *ox = x;
    *oy = y;
    if ((!m->local && m->scale == 1.0) || n == 0 || !x || !y)
        return LG_OK;
    double *b = lg__malloc(&ctx->alloc, 2 * n * sizeof *b);
    if (!b)
        return lg__fail(ctx, LG_ERR_NOMEM, "out of memory for %zu points", n);
    lg_error e = lg__metric_fwd(ctx, m, x, y, n, b, b + n);
    if (e) {
        lg__free(&ctx->alloc, b);
        return e;
    }
    *own = b;
    *ox = b;
    *oy = b + n;
    return LG_OK;
}

/* ------------------------------------------------------------------- twins */

/* The metres of a twin: its coordinates are metres (scale 1, no CRS label). */
static lg_error twin_metric(lg_context *ctx, const lg__metric *parent, lg_layer *t)
{
    lg__metric *m = lg__calloc(&t->alloc, 1, sizeof *m);
    if (!m)
        return lg__fail(ctx, LG_ERR_NOMEM, "metric frame: out of memory");
    *m = (lg__metric){.kind = LG_UNITS_LOCAL,
                      .unit_m = 1.0,
                      .scale = 1.0,
                      .kmin = parent->kmin,
                      .kmax = parent->kmax,
                      .scale_error = parent->scale_error,
                      .ell_a = parent->ell_a,
                      .ell_f = parent->ell_f,
                      .usable = true};
    memcpy(m->box_deg, parent->box_deg, sizeof m->box_deg);
    snprintf(m->unit_name, sizeof m->unit_name, "metre");
    atomic_store_explicit(&t->metric, m, memory_order_relaxed);
    return LG_OK;
}

/* Build the twin of src in frame m, its coordinates taken from src's CRS. */
static lg_error twin_build(lg_context *ctx, const lg__metric *m, const lg_layer *src,
                           const char *what, lg_layer **out)
{
    const lg_allocator *a = &src->alloc;
    lg_layer *t = lg__calloc(a, 1, sizeof *t);
    if (!t)
        return lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", what);
    pthread_mutex_init(&t->rtree_mu, NULL);
    t->alloc = *a;
    t->twin_of = src;
    t->ncells = src->ncells;
    t->nverts = src->nverts;
    t->ring_off = src->ring_off;
    t->ring_hole = src->ring_hole;
    t->nrings = src->nrings;
    t->cell_ring = src->cell_ring;
    t->cols = src->cols;
    t->ncols = src->ncols;
    t->id_field = src->id_field;
    t->ids = src->ids;
    t->nids = src->nids;
    t->problems = src->problems;
    t->nproblems = src->nproblems;
    lg_error e = LG_OK;
    size_t nv = src->nverts;
    double *tx = NULL;
    if (!(t->xy = lg__malloc(a, 2 * (nv + 1) * sizeof(double))) ||
        !(tx = malloc(2 * CHUNK * sizeof *tx)))
        e = lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", what);
    for (size_t v0 = 0; e == LG_OK && v0 < nv; v0 += CHUNK) {
        size_t k = nv - v0 < CHUNK ? nv - v0 : CHUNK;
        double *ty = tx + CHUNK;
        for (size_t i = 0; i < k; i++) {
            tx[i] = src->xy[2 * (v0 + i)];
            ty[i] = src->xy[2 * (v0 + i) + 1];
        }
        e = lg__metric_fwd_from(ctx, m, src->crs, tx, ty, k, tx, ty);
        for (size_t i = 0; e == LG_OK && i < k; i++) {
            if (!isfinite(tx[i]) || !isfinite(ty[i])) {
                double x = src->xy[2 * (v0 + i)], y = src->xy[2 * (v0 + i) + 1];
                e = lg__fail(ctx, LG_ERR_CRS,
                             "%s: vertex %zu (%.10g, %.10g) of the layer cannot be taken to "
                             "the metric frame by PROJ",
                             what, v0 + i, x, y);
            }
            t->xy[2 * (v0 + i)] = tx[i];
            t->xy[2 * (v0 + i) + 1] = ty[i];
        }
    }
    free(tx);
    if (e == LG_OK)
        e = lg__layer_index(ctx, t, what);
    if (e == LG_OK)
        e = twin_metric(ctx, m, t);
    if (e) {
        lg_layer_free(t);
        return e;
    }
    *out = t;
    return LG_OK;
}

lg_error lg__metric_layer(lg_context *ctx, const lg_layer *l, const char *what,
                          const lg_layer **out, const lg__metric **mout)
{
    const lg__metric *m = NULL;
    lg_error e = lg__metric_require(ctx, l, what, &m);
    if (e)
        return e;
    if (mout)
        *mout = m;
    if (!m->local && m->scale == 1.0) {
        *out = l; /* its own coordinates are metres */
        return LG_OK;
    }
    lg_layer *t = atomic_load_explicit(&m->twin, memory_order_acquire);
    if (!t) {
        lg_layer *w = (lg_layer *)l;
        lg__metric *mm = (lg__metric *)m;
        pthread_mutex_lock(&w->rtree_mu);
        t = atomic_load_explicit(&mm->twin, memory_order_relaxed);
        if (!t && (e = twin_build(ctx, m, l, what, &t)) == LG_OK)
            atomic_store_explicit(&mm->twin, t, memory_order_release);
        pthread_mutex_unlock(&w->rtree_mu);
        if (e)
            return e;
    }
    *out = t;
    return LG_OK;
}

lg_error lg__metric_other(lg_context *ctx, const lg__metric *m, const lg_layer *other,
                          const char *what, const lg_layer **use, lg_layer **owned)
{
    *use = NULL;
    *owned = NULL;
    if (!m->usable)
        return lg__fail(ctx, LG_ERR_CRS, "%s: distances in metres are not available: %s", what,
                        m->reason);
    if (!other->crs && m->layer_crs)
        return lg__fail(ctx, LG_ERR_CRS,
                        "%s: a layer without CRS cannot be compared with one in '%.80s'", what,
                        m->layer_crs);
    if (!m->local && m->scale == 1.0 && lg__crs_same(ctx, other->crs, m->layer_crs)) {
        *use = other; /* already in the frame's metres */
        return LG_OK;
    }
    lg_error e = twin_build(ctx, m, other, what, owned);
    *use = *owned;
    return e;
}

lg_error lg__metric_layer_inv(lg_context *ctx, const lg__metric *m, lg_layer *l)
{
    if (l->map_base || l->twin_of)
        return lg__fail(ctx, LG_ERR_INTERNAL, "metric frame: a mapped layer cannot be rewritten");
    size_t nv = l->nverts;
    double *tx = malloc(2 * CHUNK * sizeof *tx);
    if (!tx && nv)
        return lg__fail(ctx, LG_ERR_NOMEM, "out of memory");
    lg_error e = LG_OK;
    for (size_t v0 = 0; e == LG_OK && v0 < nv; v0 += CHUNK) {
        size_t k = nv - v0 < CHUNK ? nv - v0 : CHUNK;
        double *ty = tx + CHUNK;
        for (size_t i = 0; i < k; i++) {
            tx[i] = l->xy[2 * (v0 + i)];
            ty[i] = l->xy[2 * (v0 + i) + 1];
        }
        e = lg__metric_inv(ctx, m, tx, ty, k, tx, ty);
        for (size_t i = 0; i < k; i++) {
            l->xy[2 * (v0 + i)] = tx[i];
            l->xy[2 * (v0 + i) + 1] = ty[i];
        }
    }
    free(tx);
    if (e)
        return e;
    /* the boxes, R-tree and accelerator were of the frame's coordinates */
    lg_rtree_free(atomic_exchange(&l->rtree, NULL));
    lg__accel_free(&l->alloc, l->accel);
    l->accel = NULL;
    lg__free(&l->alloc, l->cell_box);
    l->cell_box = NULL;
    l->has_bounds = false;
    lg__metric_free(&l->alloc, atomic_exchange(&l->metric, NULL));
    lg__free(&l->alloc, l->crs);
    l->crs = NULL;
    if (m->layer_crs && !(l->crs = lg__strdup(&l->alloc, m->layer_crs)))
        return lg__fail(ctx, LG_ERR_NOMEM, "out of memory");
    return lg__layer_index(ctx, l, "metric frame");
}

/* ------------------------------------------------------------- local CRSs */

lg_error lg_crs_local(lg_context *ctx, double unit_m, const char *unit_name, char *buf, size_t cap,
                      size_t *len)
{
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!len || (!buf && cap))
        return lg__fail(ctx, LG_ERR_ARG, "lg_crs_local: NULL argument");
    *len = 0;
    if (!(unit_m > 0) || !isfinite(unit_m) || unit_m > 1e9 || unit_m < 1e-9)
        return lg__fail(ctx, LG_ERR_ARG,
                        "lg_crs_local: unit_m = %g is not a length in metres (1e-9..1e9)", unit_m);
    if (!unit_name || !*unit_name)
        unit_name = unit_m == 1.0                            ? "metre"
                    : unit_m == 0.3048                       ? "foot"
                    : fabs(unit_m - 1200.0 / 3937.0) < 1e-15 ? "US survey foot"
                                                             : "unit";
    for (const char *p = unit_name; *p; p++)
        if (*p == '"' || (unsigned char)*p < 0x20)
            return lg__fail(ctx, LG_ERR_ARG,
                            "lg_crs_local: the unit name has a quote or a "
                            "control character");
    int n = snprintf(buf, cap,
                     "ENGCRS[\"local grid (%s)\",EDATUM[\"unknown\"],CS[Cartesian,2],"
                     "AXIS[\"easting (X)\",east,ORDER[1],LENGTHUNIT[\"%s\",%.17g]],"
                     "AXIS[\"northing (Y)\",north,ORDER[2],LENGTHUNIT[\"%s\",%.17g]]]",
                     unit_name, unit_name, unit_m, unit_name, unit_m);
    if (n < 0)
        return lg__fail(ctx, LG_ERR_INTERNAL, "lg_crs_local: formatting failed");
    *len = (size_t)n;
    if ((size_t)n >= cap)
        return lg__fail(ctx, LG_ERR_CAPACITY,
                        "lg_crs_local: %d bytes needed (with the NUL), "
                        "buffer has %zu",
                        n + 1, cap);
    return LG_OK;
}
