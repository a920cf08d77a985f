/*
 * CRS handling: checking and naming CRSs with PROJ, transforms, and the Chinese
 * pseudo-CRSs GCJ-02 and BD-09, which PROJ does not know and which are computed
 * here with the published algorithm.
 *
 * PROJ allocates its own objects with the C library's allocator; only libgrid's
 * own structures use the context's allocator.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------ GCJ-02 / BD-09 */

/*
 * The widely published GCJ-02 algorithm: a polynomial-and-sine offset scaled on
 * the Krasovsky ellipsoid, zero outside a rough rectangle around China.
 */
#define LG_PI 3.14159265358979323846
#define GCJ_A 6378245.0
#define GCJ_EE 0.00669342162296594323
#define BD_X_PI (LG_PI * 3000.0 / 180.0)
/* Inverses stop when the forward of the answer is this close to the input (deg). */
#define INV_TOL_DEG 1e-9
#define INV_MAX_ITER 20

static bool out_of_china(double lon, double lat)
{
    return !(lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271);
}

static double gcj_dlat(double x, double y)
{
    double r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt(fabs(x));
    r += (20.0 * sin(6.0 * x * LG_PI) + 20.0 * sin(2.0 * x * LG_PI)) * 2.0 / 3.0;
    r += (20.0 * sin(y * LG_PI) + 40.0 * sin(y / 3.0 * LG_PI)) * 2.0 / 3.0;
    r += (160.0 * sin(y / 12.0 * LG_PI) + 320.0 * sin(y * LG_PI / 30.0)) * 2.0 / 3.0;
    return r;
}

static double gcj_dlon(double x, double y)
{
    double r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt(fabs(x));
    r += (20.0 * sin(6.0 * x * LG_PI) + 20.0 * sin(2.0 * x * LG_PI)) * 2.0 / 3.0;
    r += (20.0 * sin(x * LG_PI) + 40.0 * sin(x / 3.0 * LG_PI)) * 2.0 / 3.0;
    r += (150.0 * sin(x / 12.0 * LG_PI) + 300.0 * sin(x / 30.0 * LG_PI)) * 2.0 / 3.0;
    return r;
}

static void wgs_to_gcj1(double lon, double lat, double *olon, double *olat)
{
    if (out_of_china(lon, lat)) { /* also NaN: the comparisons fail */
        *olon = lon;
        *olat = lat;
        return;
    }
    double dlat = gcj_dlat(lon - 105.0, lat - 35.0);
    double dlon = gcj_dlon(lon - 105.0, lat - 35.0);
    double radlat = lat / 180.0 * LG_PI;
    double magic = sin(radlat);
    magic = 1.0 - GCJ_EE * magic * magic;
    double sqrtmagic = sqrt(magic);
    dlat = (dlat * 180.0) / ((GCJ_A * (1.0 - GCJ_EE)) / (magic * sqrtmagic) * LG_PI);
    dlon = (dlon * 180.0) / (GCJ_A / sqrtmagic * cos(radlat) * LG_PI);
    *olon = lon + dlon;
    *olat = lat + dlat;
}

static void gcj_to_bd1(double lon, double lat, double *olon, double *olat)
{
    double z = sqrt(lon * lon + lat * lat) + 0.00002 * sin(lat * BD_X_PI);
    double theta = atan2(lat, lon) + 0.000003 * cos(lon * BD_X_PI);
    *olon = z * cos(theta) + 0.0065;
    *olat = z * sin(theta) + 0.006;
}

typedef void (*fwd_fn)(double, double, double *, double *);

/*
 * Invert a forward function that is close to a translation: fixed-point iteration
 * w <- w - (f(w) - target), stopping when f(w) is within INV_TOL_DEG of target.
 * The start is the published one-step inverse w0 = target, refined from there.
 */
static void invert1(fwd_fn f, double lon, double lat, double *olon, double *olat)
{
    if (!isfinite(lon) || !isfinite(lat)) {
        *olon = NAN;
        *olat = NAN;
        return;
    }
    double wl = lon, wp = lat;
    for (int i = 0; i < INV_MAX_ITER; i++) {
        double fl, fp;
        f(wl, wp, &fl, &fp);
        double dl = fl - lon, dp = fp - lat;
        if (fabs(dl) < INV_TOL_DEG && fabs(dp) < INV_TOL_DEG)
            break;
        wl -= dl;
        wp -= dp;
    }
    *olon = wl;
    *olat = wp;
}

static void map_fwd(fwd_fn f, double *lon, double *lat, size_t n)
{
    if (!lon || !lat)
        return;
    for (size_t i = 0; i < n; i++)
        f(lon[i], lat[i], &lon[i], &lat[i]);
}

static void map_inv(fwd_fn f, double *lon, double *lat, size_t n)
{
    if (!lon || !lat)
        return;
    for (size_t i = 0; i < n; i++)
        invert1(f, lon[i], lat[i], &lon[i], &lat[i]);
}

void lg_wgs84_to_gcj02(double *lon, double *lat, size_t n)
{
    map_fwd(wgs_to_gcj1, lon, lat, n);
}

void lg_gcj02_to_wgs84(double *lon, double *lat, size_t n)
{
    map_inv(wgs_to_gcj1, lon, lat, n);
}

void lg_gcj02_to_bd09(double *lon, double *lat, size_t n)
{
    map_fwd(gcj_to_bd1, lon, lat, n);
}

void lg_bd09_to_gcj02(double *lon, double *lat, size_t n)
{
    map_inv(gcj_to_bd1, lon, lat, n);
}

void lg_wgs84_to_bd09(double *lon, double *lat, size_t n)
{
    lg_wgs84_to_gcj02(lon, lat, n);
    lg_gcj02_to_bd09(lon, lat, n);
}

void lg_bd09_to_wgs84(double *lon, double *lat, size_t n)
{
    lg_bd09_to_gcj02(lon, lat, n);
    lg_gcj02_to_wgs84(lon, lat, n);
}

/* ------------------------------------------------------------- pseudo-CRSs */

typedef enum pseudo_kind { PSEUDO_NONE = 0, PSEUDO_GCJ02, PSEUDO_BD09 } pseudo_kind;

static pseudo_kind pseudo_of(const char *s)
{
    if (!s)
        return PSEUDO_NONE;
    if (!strcasecmp(s, "GCJ-02") || !strcasecmp(s, "GCJ02"))
        return PSEUDO_GCJ02;
    if (!strcasecmp(s, "BD-09") || !strcasecmp(s, "BD09"))
        return PSEUDO_BD09;
    return PSEUDO_NONE;
}

static const char *pseudo_name(pseudo_kind k)
{
    return k == PSEUDO_GCJ02 ? "GCJ-02" : "BD-09";
}

/* ------------------------------------------------------------ PROJ helpers */

/*
 * PROJ explains a parse failure only through its logger. While one of our calls
 * runs, the logger writes the last error line into a buffer; afterwards logging is
 * off again (as lg__proj and transform contexts leave it).
 */
typedef struct proj_log {
    char text[256];
} proj_log;

static void proj_log_capture(void *udata, int level, const char *msg)
{
    proj_log *log = udata;
    if (level == PJ_LOG_ERROR && msg)
        snprintf(log->text, sizeof log->text, "%s", msg);
}

static void proj_log_silent(void *udata, int level, const char *msg)
{
    (void)udata;
    (void)level;
    (void)msg;
}

static void log_begin(PJ_CONTEXT *pc, proj_log *log)
{
    log->text[0] = '\0';
    proj_log_func(pc, log, proj_log_capture);
    proj_log_level(pc, PJ_LOG_ERROR);
}

static void log_end(PJ_CONTEXT *pc)
{
    proj_log_level(pc, PJ_LOG_NONE);
    proj_log_func(pc, NULL, proj_log_silent);
}

/* Best available reason for PROJ's last failure on pc. */
static const char *proj_reason(PJ_CONTEXT *pc, const proj_log *log)
{
    if (log && log->text[0])
        return log->text;
    int e = proj_context_errno(pc);
    const char *s = e ? proj_context_errno_string(pc, e) : NULL;
    return s && *s ? s : "not recognised by PROJ";
}

#define CRS_SHOW 200

/* Fail with LG_ERR_CRS naming crs (truncated to CRS_SHOW characters). */
static lg_error crs_fail(lg_context *ctx, const char *crs, const char *why)
{
    size_t len = strlen(crs);
    return lg__fail(ctx, LG_ERR_CRS, "'%.*s%s' %s", CRS_SHOW, crs, len > CRS_SHOW ? "..." : "",
                    why);
}

/*
 * Parse crs in pc and check that it is a CRS. On failure records the reason on ctx
 * and returns NULL.
 */
static PJ *crs_parse(lg_context *ctx, PJ_CONTEXT *pc, const char *crs)
{
    proj_log log;
    log_begin(pc, &log);
    PJ *p = proj_create(pc, crs);
    if (!p) {
        char why[400];
        snprintf(why, sizeof why, "is not a valid CRS: %s", proj_reason(pc, &log));
        log_end(pc);
        crs_fail(ctx, crs, why);
        return NULL;
    }
    log_end(pc);
    if (!proj_is_crs(p)) {
        proj_destroy(p);
        crs_fail(ctx, crs, "is not a coordinate reference system");
        return NULL;
    }
    return p;
}

PJ *lg__crs_parse(lg_context *ctx, PJ_CONTEXT *pc, const char *crs)
{
    return crs_parse(ctx, pc, crs);
}

/* EPSG code of p, from its own id or from proj_identify with confidence >= 90; 0 if none. */
static long epsg_code(PJ_CONTEXT *pc, PJ *p)
{
    const char *auth = proj_get_id_auth_name(p, 0);
    const char *code = proj_get_id_code(p, 0);
    if (auth && code && !strcmp(auth, "EPSG"))
        return strtol(code, NULL, 10);
    int *conf = NULL;
    PJ_OBJ_LIST *list = proj_identify(pc, p, "EPSG", NULL, &conf);
    long out = 0;
    if (list && conf) {
        int n = proj_list_get_count(list);
        for (int i = 0; i < n && !out; i++) {
            if (conf[i] < 90)
                continue;
            PJ *c = proj_list_get(pc, list, i);
            if (!c)
                continue;
            auth = proj_get_id_auth_name(c, 0);
            code = proj_get_id_code(c, 0);
            if (auth && code && !strcmp(auth, "EPSG"))
                out = strtol(code, NULL, 10);
            proj_destroy(c);
        }
    }
    proj_int_list_destroy(conf);
    proj_list_destroy(list);
    return out;
}

/* ------------------------------------------------------------- CRS checks */

lg_error lg_crs_check(lg_context *ctx, const char *crs, const char **normalized)
{
    if (normalized)
        *normalized = NULL;
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!crs)
        return lg__fail(ctx, LG_ERR_ARG, "CRS: NULL string");

    char buf[32];
    const char *name = crs;
    pseudo_kind k = pseudo_of(crs);
    if (k != PSEUDO_NONE) {
        name = pseudo_name(k);
    } else {
        PJ_CONTEXT *pc = lg__proj(ctx);
        if (!pc)
            return ctx->err;
        PJ *p = crs_parse(ctx, pc, crs);
        if (!p)
            return ctx->err;
        long code = epsg_code(pc, p);
        proj_destroy(p);
        if (code > 0) {
            snprintf(buf, sizeof buf, "EPSG:%ld", code);
            name = buf;
        }
    }
    if (!normalized)
        return LG_OK;
    /* Copy before freeing: crs may be the previous scratch string. */
    char *s = lg__strdup(&ctx->alloc, name);
    if (!s)
        return lg__fail(ctx, LG_ERR_NOMEM, "CRS: out of memory");
    lg__free(&ctx->alloc, ctx->scratch);
    ctx->scratch = s;
    *normalized = s;
    return LG_OK;
}

bool lg__crs_same(lg_context *ctx, const char *a, const char *b)
{
    if (!a || !b)
        return !a && !b;
    if (!strcmp(a, b))
        return true;
    pseudo_kind ka = pseudo_of(a), kb = pseudo_of(b);
    if (ka != PSEUDO_NONE || kb != PSEUDO_NONE)
        return ka == kb;
    if (!ctx)
        return false;
    /* A comparison is not a failure of the caller's call: keep its message. */
    lg_error saved_err = ctx->err;
    char saved_msg[sizeof ctx->msg];
    memcpy(saved_msg, ctx->msg, sizeof saved_msg);
    lg_message_fn saved_fn = ctx->msg_fn;
    ctx->msg_fn = NULL;

    bool same = false;
    PJ_CONTEXT *pc = lg__proj(ctx);
    PJ *pa = pc ? crs_parse(ctx, pc, a) : NULL;
    PJ *pb = pa ? crs_parse(ctx, pc, b) : NULL;
    if (pa && pb) {
        same = proj_is_equivalent_to_with_ctx(pc, pa, pb,
                                              PJ_COMP_EQUIVALENT_EXCEPT_AXIS_ORDER_GEOGCRS) != 0;
        if (!same) {
            /* ESRI and EPSG spellings of one CRS differ in names PROJ compares. */
            long ca = epsg_code(pc, pa), cb = epsg_code(pc, pb);
            same = ca > 0 && ca == cb;
        }
    }
    proj_destroy(pa);
    proj_destroy(pb);

    ctx->msg_fn = saved_fn;
    ctx->err = saved_err;
    memcpy(ctx->msg, saved_msg, sizeof saved_msg);
    return same;
}

lg_error lg_crs_to_esri_wkt(lg_context *ctx, const char *crs, char *buf, size_t cap, size_t *len)
{
    if (len)
        *len = 0;
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!crs || !len || (!buf && cap))
        return lg__fail(ctx, LG_ERR_ARG, "ESRI WKT: NULL argument");
    pseudo_kind k = pseudo_of(crs);
    if (k != PSEUDO_NONE)
        return lg__fail(ctx, LG_ERR_UNSUPPORTED,
                        "'%s' has no WKT: PROJ does not know this obfuscated datum",
                        pseudo_name(k));
    PJ_CONTEXT *pc = lg__proj(ctx);
    if (!pc)
        return ctx->err;
    PJ *p = crs_parse(ctx, pc, crs);
    if (!p)
        return ctx->err;
    const char *const opts[] = {"MULTILINE=NO", NULL};
    proj_log log;
    log_begin(pc, &log);
    const char *wkt = proj_as_wkt(pc, p, PJ_WKT1_ESRI, opts);
    lg_error err = LG_OK;
    if (!wkt) {
        char why[400];
        snprintf(why, sizeof why, "cannot be written as ESRI WKT: %s", proj_reason(pc, &log));
        err = crs_fail(ctx, crs, why);
    } else {
        size_t need = strlen(wkt);
        *len = need;
        if (need + 1 > cap) {
            err = lg__fail(ctx, LG_ERR_CAPACITY,
                           "ESRI WKT: %zu bytes needed (with the NUL), buffer has %zu", need + 1,
                           cap);
            if (buf && cap) {
                memcpy(buf, wkt, cap - 1);
                buf[cap - 1] = '\0';
            }
        } else {
            memcpy(buf, wkt, need + 1);
        }
    }
    log_end(pc);
    proj_destroy(p);
    return err;
}

/* -------------------------------------------------------------- transforms */

/* Software steps before or after PROJ (lon/lat degrees). */
typedef enum soft_step {
    STEP_NONE = 0,
    STEP_GCJ_TO_WGS,
    STEP_BD_TO_WGS,
    STEP_WGS_TO_GCJ,
    STEP_WGS_TO_BD,
    STEP_GCJ_TO_BD,
    STEP_BD_TO_GCJ,
} soft_step;

/*
 * A transform is: optional software step (pre), optional PROJ operation, optional
 * software step (post). It owns its own PJ_CONTEXT, so that it does not share
 * state with the context it was made with: each transform may be used from a
 * different thread than its creator (one thread at a time per transform).
 */
struct lg_transform {
    lg_allocator alloc;
    PJ_CONTEXT *pc; /* NULL when no PROJ step */
    PJ *pj;         /* NULL when no PROJ step */
    soft_step pre, post;
    bool identity;
};

static void run_step(soft_step s, double *x, double *y, size_t n)
{
    switch (s) {
    case STEP_NONE: break;
    case STEP_GCJ_TO_WGS: lg_gcj02_to_wgs84(x, y, n); break;
    case STEP_BD_TO_WGS: lg_bd09_to_wgs84(x, y, n); break;
    case STEP_WGS_TO_GCJ: lg_wgs84_to_gcj02(x, y, n); break;
    case STEP_WGS_TO_BD: lg_wgs84_to_bd09(x, y, n); break;
    case STEP_GCJ_TO_BD: lg_gcj02_to_bd09(x, y, n); break;
    case STEP_BD_TO_GCJ: lg_bd09_to_gcj02(x, y, n); break;
    }
}

void lg_transform_free(lg_transform *tr)
{
    if (!tr)
        return;
    proj_destroy(tr->pj);
    if (tr->pc)
        proj_context_destroy(tr->pc);
    lg_allocator a = tr->alloc;
    lg__free(&a, tr);
}

/* Build the PROJ step src -> dst in tr->pc, normalised to x = east, y = north. */
static lg_error make_proj_step(lg_context *ctx, lg_transform *tr, const char *src, const char *dst)
{
    tr->pc = proj_context_create();
    if (!tr->pc)
        return lg__fail(ctx, LG_ERR_INTERNAL, "PROJ context could not be created");
    log_end(tr->pc); /* logging off: the library never prints */
    PJ *ps = crs_parse(ctx, tr->pc, src);
    if (!ps)
        return ctx->err;
    PJ *pd = crs_parse(ctx, tr->pc, dst);
    if (!pd) {
        proj_destroy(ps);
        return ctx->err;
    }
    proj_log log;
    log_begin(tr->pc, &log);
    PJ *op = proj_create_crs_to_crs_from_pj(tr->pc, ps, pd, NULL, NULL);
    PJ *norm = op ? proj_normalize_for_visualization(tr->pc, op) : NULL;
    lg_error err = LG_OK;
    if (!norm) {
        err = lg__fail(ctx, LG_ERR_CRS, "no transformation from '%.*s%s' to '%.*s%s': %s", CRS_SHOW,
                       src, strlen(src) > CRS_SHOW ? "..." : "", CRS_SHOW, dst,
                       strlen(dst) > CRS_SHOW ? "..." : "", proj_reason(tr->pc, &log));
    }
    log_end(tr->pc);
    proj_destroy(op);
    proj_destroy(ps);
    proj_destroy(pd);
    tr->pj = norm;
    return err;
}

lg_error lg_transform_new(lg_context *ctx, const char *src, const char *dst, lg_transform **out)
{
    if (out)
        *out = NULL;
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!src || !dst || !out)
        return lg__fail(ctx, LG_ERR_ARG, "transform: NULL argument");
    lg_transform *tr = lg__calloc(&ctx->alloc, 1, sizeof *tr);
    if (!tr)
        return lg__fail(ctx, LG_ERR_NOMEM, "transform: out of memory");
    tr->alloc = ctx->alloc;

    pseudo_kind ks = pseudo_of(src), kd = pseudo_of(dst);
    lg_error err = LG_OK;
    if (ks != PSEUDO_NONE && kd != PSEUDO_NONE) {
        if (ks == kd)
            tr->identity = true;
        else
            tr->pre = ks == PSEUDO_GCJ02 ? STEP_GCJ_TO_BD : STEP_BD_TO_GCJ;
    } else if (ks != PSEUDO_NONE || kd != PSEUDO_NONE) {
        /* Chain through WGS 84 lon/lat; PROJ only for the other side. */
        const char *other = ks != PSEUDO_NONE ? dst : src;
        if (ks != PSEUDO_NONE)
            tr->pre = ks == PSEUDO_GCJ02 ? STEP_GCJ_TO_WGS : STEP_BD_TO_WGS;
        else
            tr->post = kd == PSEUDO_GCJ02 ? STEP_WGS_TO_GCJ : STEP_WGS_TO_BD;
        if (!lg__crs_same(ctx, other, "EPSG:4326")) {
            err = ks != PSEUDO_NONE ? make_proj_step(ctx, tr, "EPSG:4326", dst)
                                    : make_proj_step(ctx, tr, src, "EPSG:4326");
        }
    } else if (lg__crs_same(ctx, src, dst)) {
        /* Still check that it parses, so a bad string fails here and not later. */
        PJ_CONTEXT *pc = lg__proj(ctx);
        PJ *p = pc ? crs_parse(ctx, pc, src) : NULL;
        if (!p)
            err = ctx->err;
        proj_destroy(p);
        tr->identity = true;
    } else {
        err = make_proj_step(ctx, tr, src, dst);
    }
    if (err != LG_OK) {
        lg_transform_free(tr);
        return err;
    }
    *out = tr;
    return LG_OK;
}

bool lg_transform_is_identity(const lg_transform *tr)
{
    return tr && tr->identity;
}

/* Points per PROJ call: keeps the chunk in cache between the software steps. */
#define TR_CHUNK 65536

lg_error lg_transform_apply(lg_transform *tr, double *x, double *y, size_t n)
{
    if (!tr || (n && (!x || !y)))
        return LG_ERR_ARG;
    if (tr->identity || n == 0)
        return LG_OK;
    size_t failed = 0;
    for (size_t off = 0; off < n; off += TR_CHUNK) {
        size_t m = n - off < TR_CHUNK ? n - off : TR_CHUNK;
        double *cx = x + off, *cy = y + off;
        run_step(tr->pre, cx, cy, m);
        if (tr->pj) {
            proj_errno_reset(tr->pj);
            proj_trans_generic(tr->pj, PJ_FWD, cx, sizeof(double), m, cy, sizeof(double), m, NULL,
                               0, 0, NULL, 0, 0);
        }
        run_step(tr->post, cx, cy, m);
        for (size_t i = 0; i < m; i++) {
            /* PROJ marks failures with HUGE_VAL; libgrid uses NaN. */
            if (!isfinite(cx[i]) || !isfinite(cy[i])) {
                cx[i] = NAN;
                cy[i] = NAN;
                failed++;
            }
        }
    }
    return failed == n ? LG_ERR_CRS : LG_OK;
}

lg_error lg__transform_cached(lg_context *ctx, const char *src, const char *dst, lg_transform **out)
{
    const size_t n = sizeof ctx->tcache / sizeof ctx->tcache[0];
    for (size_t i = 0; i < n; i++)
        if (ctx->tcache[i].tr && strcmp(ctx->tcache[i].src, src) == 0 &&
            strcmp(ctx->tcache[i].dst, dst) == 0) {
            *out = ctx->tcache[i].tr;
            return LG_OK;
        }
    lg_transform *tr = NULL;
    lg_error e = lg_transform_new(ctx, src, dst, &tr);
    if (e)
        return e;
    char *s = lg__strdup(&ctx->alloc, src), *d = lg__strdup(&ctx->alloc, dst);
    if (!s || !d) {
        lg__free(&ctx->alloc, s);
        lg__free(&ctx->alloc, d);
        lg_transform_free(tr);
        return lg__fail(ctx, LG_ERR_NOMEM, "out of memory");
    }
    size_t slot = ctx->tcache_next++ % n;
    lg__free(&ctx->alloc, ctx->tcache[slot].src);
    lg__free(&ctx->alloc, ctx->tcache[slot].dst);
    lg_transform_free(ctx->tcache[slot].tr);
    ctx->tcache[slot].src = s;
    ctx->tcache[slot].dst = d;
    ctx->tcache[slot].tr = tr;
    *out = tr;
    return LG_OK;
}
