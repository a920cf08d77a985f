/*
 * Service-station zones: partition cells into contiguous zones of min..max cells,
 * compact and balanced in workload, each inside one group; sites; validation; quality.
 * The algorithm is described in docs/ZONES.md: components and their size feasibility,
 * wavefront seed-and-grow with a local look-ahead that never strands an unzonable
 * remainder, repair by ejection chains over the zone graph (push/pull one cell along a
 * path of zones), splits and dissolves, then a local search of boundary moves.
 */
#include "internal.h"

#include <geodesic.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define Z_DEFAULT_MIN 6
#define Z_DEFAULT_MAX 8
#define Z_DEFAULT_PASSES 30
#define Z_CHAIN_ZONES 512 /* zones a chain search visits at most */
#define Z_REPAIR_ROUNDS 16
#define Z_EQUAL_CAP 4096 /* look-ahead cap when min == max (no size threshold exists) */
#define Z_MSG_ROWS 10    /* rows named in a message */
#define Z_PI 3.14159265358979323846

/* ------------------------------------------------------------------ plan */

typedef struct zprob {
    lg_zone_problem_kind kind;
    int64_t zone;
    size_t off, n;
    char *msg;
} zprob;

struct lg_zone_plan {
    lg_allocator alloc;
    size_t n, nz;
    int64_t *zone;
    int64_t *site_cell, *site_cand;
    double *site_x, *site_y;
    bool feasible;
    zprob *probs;
    size_t nprobs, cap_probs;
    int64_t *pcells;
    size_t npcells, cap_pcells;
    lg_zone_quality q;
    size_t *hist;
    size_t nhist;
};

void lg_zone_plan_free(lg_zone_plan *p)
{
    if (!p)
        return;
    lg_allocator a = p->alloc;
    for (size_t i = 0; i < p->nprobs; i++)
        lg__free(&a, p->probs[i].msg);
    lg__free(&a, p->probs);
    lg__free(&a, p->pcells);
    lg__free(&a, p->zone);
    lg__free(&a, p->site_cell);
    lg__free(&a, p->site_cand);
    lg__free(&a, p->site_x);
    lg__free(&a, p->site_y);
    lg__free(&a, p->hist);
    lg__free(&a, p);
}

size_t lg_zone_plan_cell_count(const lg_zone_plan *p)
{
    return p ? p->n : 0;
}
size_t lg_zone_plan_zone_count(const lg_zone_plan *p)
{
    return p ? p->nz : 0;
}
const int64_t *lg_zone_plan_zones(const lg_zone_plan *p)
{
    return p ? p->zone : NULL;
}
bool lg_zone_plan_feasible(const lg_zone_plan *p)
{
    return p && p->feasible;
}

void lg_zone_plan_sites(const lg_zone_plan *p, const int64_t **cell, const int64_t **candidate,
                        const double **x, const double **y)
{
    if (cell)
        *cell = p ? p->site_cell : NULL;
    if (candidate)
        *candidate = p ? p->site_cand : NULL;
    if (x)
        *x = p ? p->site_x : NULL;
    if (y)
        *y = p ? p->site_y : NULL;
}

size_t lg_zone_plan_problem_count(const lg_zone_plan *p)
{
    return p ? p->nprobs : 0;
}

lg_error lg_zone_plan_problem(const lg_zone_plan *p, size_t i, lg_zone_problem_kind *kind,
                              int64_t *zone, const int64_t **cells, size_t *n_cells,
                              const char **message)
{
    if (!p || i >= p->nprobs)
        return LG_ERR_ARG;
    const zprob *r = &p->probs[i];
    if (kind)
        *kind = r->kind;
    if (zone)
        *zone = r->zone;
    if (cells)
        *cells = p->pcells + r->off;
    if (n_cells)
        *n_cells = r->n;
    if (message)
        *message = r->msg;
    return LG_OK;
}

void lg_zone_plan_quality(const lg_zone_plan *p, lg_zone_quality *out)
{
    if (!out)
        return;
    if (!p) {
        memset(out, 0, sizeof *out);
        return;
    }
    *out = p->q;
}

lg_error lg_zone_plan_size_histogram(const lg_zone_plan *p, size_t *counts, size_t cap, size_t *n)
{
    if (!p || !n || (cap && !counts))
        return LG_ERR_ARG;
    *n = p->nhist;
    for (size_t s = 0; s < cap; s++)
        counts[s] = s < p->nhist ? p->hist[s] : 0;
    return LG_OK;
}

/* Append a problem naming cells (copied); message "zones: ..." printf-style. */
static lg_error LG_PRINTF(6, 7)
    add_problem(lg_zone_plan *p, lg_zone_problem_kind kind, int64_t zone, const int64_t *cells,
                size_t ncells, const char *fmt, ...)
{
    const lg_allocator *a = &p->alloc;
    if (lg__grow(a, (void **)&p->probs, &p->cap_probs, p->nprobs + 1, sizeof *p->probs) ||
        lg__grow(a, (void **)&p->pcells, &p->cap_pcells, p->npcells + ncells + 1,
                 sizeof *p->pcells))
        return LG_ERR_NOMEM;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *msg = lg__strdup(a, buf);
    if (!msg)
        return LG_ERR_NOMEM;
    zprob *r = &p->probs[p->nprobs++];
    r->kind = kind;
    r->zone = zone;
    r->off = p->npcells;
    r->n = ncells;
    r->msg = msg;
    if (ncells)
        memcpy(p->pcells + p->npcells, cells, ncells * sizeof *cells);
    p->npcells += ncells;
    return LG_OK;
}

/* "rows 3, 4, 9 and 12 more" into buf. */
static const char *row_list(char *buf, size_t cap, const int64_t *cells, size_t n)
{
    size_t len = (size_t)snprintf(buf, cap, n == 1 ? "row " : "rows ");
    for (size_t i = 0; i < n && i < Z_MSG_ROWS && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%lld", i ? ", " : "", (long long)cells[i]);
    if (n > Z_MSG_ROWS && len < cap)
        snprintf(buf + len, cap - len, " and %zu more", n - Z_MSG_ROWS);
    return buf;
}

/* --------------------------------------------------------------- geometry */

/*
 * Centroid, area and perimeter of a cell from its rings; NaN area/centroid if empty.
 * perim may be NULL: the perimeter (a hypot per edge) is then skipped.
 */
void lg__cell_geom(const lg_layer *l, size_t row, double *cx, double *cy, double *area,
                   double *perim)
{
    double sa = 0, sx = 0, sy = 0, per = 0;
    uint32_t r0 = l->cell_ring[row], r1 = l->cell_ring[row + 1];
    double ox = 0, oy = 0; /* local origin: first vertex, for precision */
    if (r1 > r0) {
        ox = l->xy[2 * (size_t)l->ring_off[r0]];
        oy = l->xy[2 * (size_t)l->ring_off[r0] + 1];
    }
    for (uint32_t r = r0; r < r1; r++) {
        const double *v = l->xy + 2 * (size_t)l->ring_off[r];
        size_t nv = l->ring_off[r + 1] - l->ring_off[r];
        double a = 0, x = 0, y = 0;
        for (size_t i = 0; i + 1 < nv; i++) {
            double x0 = v[2 * i] - ox, y0 = v[2 * i + 1] - oy;
            double x1 = v[2 * i + 2] - ox, y1 = v[2 * i + 3] - oy;
            double cr = x0 * y1 - x1 * y0;
            a += cr;
            x += (x0 + x1) * cr;
            y += (y0 + y1) * cr;
            if (perim)
                per += hypot(x1 - x0, y1 - y0);
        }
        /* a is twice the signed area; x/(3a) the ring centroid. Orient by role. */
        double sgn = ((a >= 0) == !l->ring_hole[r]) ? 1.0 : -1.0;
        sa += sgn * a;
        sx += sgn * x / 3.0;
        sy += sgn * y / 3.0;
    }
    if (r1 == r0 || sa == 0) {
        *cx = *cy = *area = NAN;
        if (perim)
            *perim = r1 == r0 ? NAN : per;
        return;
    }
    *cx = ox + sx / sa;
    *cy = oy + sy / sa;
    *area = sa / 2.0;
    if (perim)
        *perim = per;
}

/* Geodesic area of a cell's rings (shells add, holes subtract), m^2. */
static double geodesic_area(const struct geod_geodesic *g, const lg_layer *l, size_t row,
                            double *buf, size_t cap)
{
    double total = 0;
    for (uint32_t r = l->cell_ring[row]; r < l->cell_ring[row + 1]; r++) {
        const double *v = l->xy + 2 * (size_t)l->ring_off[r];
        size_t nv = l->ring_off[r + 1] - l->ring_off[r] - 1; /* closed: last == first */
        if (nv > cap)
            return NAN;
        double *lon = buf, *lat = buf + cap;
        for (size_t i = 0; i < nv; i++) {
            lon[i] = v[2 * i];
            lat[i] = v[2 * i + 1];
        }
        double a = 0;
        geod_polygonarea(g, lat, lon, (int)nv, &a, NULL);
        total += l->ring_hole[r] ? -fabs(a) : fabs(a);
    }
    return total;
}

lg_error lg_layer_centroids(const lg_layer *layer, double *x, double *y, double *area)
{
    if (!layer)
        return LG_ERR_ARG;
    /* areas are m^2 through the layer's metric frame: the unit squared for projected and
     * local CRSs, geodesic (PROJ's geod_polygonarea, exact on the ellipsoid) for lon/lat,
     * NaN when the units are unknown */
    const lg__metric *m = NULL;
    double a2 = NAN;
    bool geo = false;
    struct geod_geodesic g;
    double *buf = NULL;
    size_t cap = 0;
    if (area && lg__metric_get(NULL, layer, &m) == LG_OK) {
        if (m->kind == LG_UNITS_GEOGRAPHIC && m->ell_a > 0) {
            geo = true;
            geod_init(&g, m->ell_a, m->ell_f);
            for (uint32_t r = 0; r < layer->nrings; r++) {
                size_t nv = layer->ring_off[r + 1] - layer->ring_off[r];
                cap = nv > cap ? nv : cap;
            }
            if (!(buf = lg__malloc(&layer->alloc, 2 * (cap + 1) * sizeof *buf)))
                return LG_ERR_NOMEM;
        } else if (m->kind == LG_UNITS_PROJECTED || m->kind == LG_UNITS_LOCAL) {
            a2 = m->unit_m * m->unit_m;
        }
    }
    for (size_t i = 0; i < layer->ncells; i++) {
        double cx, cy, a, p;
        lg__cell_geom(layer, i, &cx, &cy, &a, &p);
        if (x)
            x[i] = cx;
        if (y)
            y[i] = cy;
        if (area)
            area[i] = !isfinite(a) ? a : geo ? geodesic_area(&g, layer, i, buf, cap) : a * a2;
    }
    lg__free(&layer->alloc, buf);
    return LG_OK;
}

/* ------------------------------------------------------------ work state */

typedef struct zw {
    lg_context *ctx;
    const lg_allocator *a;
    size_t n;
    size_t *off; /* CSR */
    int32_t *adj;
    double *ew;
    double *px, *py; /* demand points, centred on their mean */
    double ox, oy;   /* the mean */
    double *wt;
    double *area, *perim; /* NULL without a layer */
    const int64_t *grp;
    size_t L, U, cap;
    uint64_t seed;
    double scale, beta, wbar;
    /* components */
    int32_t *comp;
    uint8_t *comp_ok;
    size_t ncomp;
    /* zones */
    int32_t *zone, *znext, *zhead, *zsize, *zcomp;
    double *zsx, *zsy, *zsq, *zwt;
    size_t nz;
    /* scratch */
    uint32_t *stamp, stampc;
    uint32_t *zstamp, zstampc;
    int32_t *queue, *zq, *zpar;
} zw;

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint64_t cell_hash(const zw *w, size_t c)
{
    return mix64(w->seed * 0x100000001b3ull ^ mix64((uint64_t)c));
}

/* A size s can be cut into k zones of L..U cells for some k (0 counts). */
static bool size_ok(const zw *w, size_t s)
{
    if (s == 0)
        return true;
    size_t k = (s + w->U - 1) / w->U;
    return k * w->L <= s;
}
/* Fewest cells to take off a piece of p cells so that the rest is cuttable. */
static size_t absorb_need(const zw *w, size_t p)
{
    for (size_t a = 0; a <= p; a++)
        if (size_ok(w, p - a))
            return a;
    return p;
}

static uint32_t new_stamp(zw *w)
{
    return ++w->stampc;
}
/* Make room for at least need fresh stamps; call only between checks. */
static void stamp_room(zw *w, size_t need)
{
    if (w->stampc > UINT32_MAX - need - 1) {
        memset(w->stamp, 0, w->n * sizeof *w->stamp);
        w->stampc = 0;
    }
}
static uint32_t new_zstamp(zw *w)
{
    if (w->zstampc == UINT32_MAX - 1) {
        memset(w->zstamp, 0, w->n * sizeof *w->zstamp);
        w->zstampc = 0;
    }
    return ++w->zstampc;
}

static void zone_add(zw *w, int32_t z, int32_t c)
{
    w->zone[c] = z;
    w->znext[c] = w->zhead[z];
    w->zhead[z] = c;
    w->zsize[z]++;
    w->zsx[z] += w->px[c];
    w->zsy[z] += w->py[c];
    w->zsq[z] += w->px[c] * w->px[c] + w->py[c] * w->py[c];
    w->zwt[z] += w->wt[c];
}

static void zone_del(zw *w, int32_t c)
{
    int32_t z = w->zone[c];
    int32_t *pp = &w->zhead[z];
    while (*pp != c)
        pp = &w->znext[*pp];
    *pp = w->znext[c];
    w->zone[c] = -1;
    w->znext[c] = -1;
    w->zsize[z]--;
    w->zsx[z] -= w->px[c];
    w->zsy[z] -= w->py[c];
    w->zsq[z] -= w->px[c] * w->px[c] + w->py[c] * w->py[c];
    w->zwt[z] -= w->wt[c];
    if (w->zsize[z] == 0)
        w->zsx[z] = w->zsy[z] = w->zsq[z] = w->zwt[z] = 0;
}

static void zone_move(zw *w, int32_t c, int32_t to)
{
    zone_del(w, c);
    zone_add(w, to, c);
}

static int32_t zone_new(zw *w, int32_t comp)
{
    int32_t z;
    if (w->nz < w->n) {
        z = (int32_t)w->nz++;
    } else {
        /* more ids than cells means some are empty: reuse the first */
        for (z = 0; w->zsize[z]; z++)
            ;
    }
    w->zhead[z] = -1;
    w->zsize[z] = 0;
    w->zsx[z] = w->zsy[z] = w->zsq[z] = w->zwt[z] = 0;
    w->zcomp[z] = comp;
    return z;
}

static void zone_centre(const zw *w, int32_t z, double *x, double *y)
{
    *x = w->zsx[z] / w->zsize[z];
    *y = w->zsy[z] / w->zsize[z];
}

/* Is zone z connected without cell c (and not emptied)? c = -1: as it is. */
static bool zone_conn_without(zw *w, int32_t z, int32_t c)
{
    int32_t need = w->zsize[z] - (c >= 0);
    if (need <= 0)
        return false;
    stamp_room(w, 2);
    int32_t s = w->zhead[z];
    if (s == c)
        s = w->znext[s];
    uint32_t st = new_stamp(w);
    size_t qh = 0, qt = 0;
    w->queue[qt++] = s;
    w->stamp[s] = st;
    if (c >= 0)
        w->stamp[c] = st;
    while (qh < qt) {
        int32_t u = w->queue[qh++];
        for (size_t k = w->off[u]; k < w->off[u + 1]; k++) {
            int32_t v = w->adj[k];
            if (w->zone[v] == z && w->stamp[v] != st) {
                w->stamp[v] = st;
                w->queue[qt++] = v;
            }
        }
    }
    return (int32_t)qt == need;
}

/*
 * Look-ahead of the growth: the unassigned cells of component cc next to zone z
 * (plus cell extra, already marked in z) fall into pieces. A piece of fewer than
 * w->cap cells is measured exactly; larger ones can always be cut. Returns the
 * fewest cells z must still take so that every piece can be cut into zones.
 */
static size_t piece_debt(zw *w, int32_t z, int32_t cc, int32_t extra)
{
    stamp_room(w, w->n + 2);
    uint32_t base = w->stampc + 1;
    size_t debt = 0;
    int32_t m = extra >= 0 ? extra : w->zhead[z];
    bool first = extra >= 0;
    while (m >= 0) {
        for (size_t k = w->off[m]; k < w->off[m + 1]; k++) {
            int32_t s = w->adj[k];
            if (w->zone[s] != -1 || w->comp[s] != cc || w->stamp[s] >= base)
                continue;
            uint32_t st = new_stamp(w);
            size_t qh = 0, qt = 0;
            bool big = false;
            w->queue[qt++] = s;
            w->stamp[s] = st;
            while (qh < qt && !big) {
                int32_t u = w->queue[qh++];
                for (size_t j = w->off[u]; j < w->off[u + 1]; j++) {
                    int32_t v = w->adj[j];
                    if (w->zone[v] != -1 || w->comp[v] != cc || w->stamp[v] == st)
                        continue;
                    if (w->stamp[v] >= base || qt + 1 >= w->cap) {
                        /* met a truncated piece of this check, or reached the cap */
                        big = true;
                        break;
                    }
                    w->stamp[v] = st;
                    w->queue[qt++] = v;
                }
            }
            if (!big)
                debt += absorb_need(w, qt);
        }
        if (first) {
            first = false;
            m = w->zhead[z];
        } else {
            m = w->znext[m];
        }
    }
    return debt;
}

/* Grow zone z from seed inside component cc towards workload wtarget. */
static void grow(zw *w, int32_t z, int32_t seed, int32_t cc, double wtarget, int32_t *cand)
{
    const size_t L = w->L, U = w->U;
    zone_add(w, z, seed);
    size_t debt = piece_debt(w, z, cc, -1);
    for (;;) {
        size_t sz = (size_t)w->zsize[z];
        if (sz >= U)
            break;
        size_t nc = 0;
        for (int32_t m = w->zhead[z]; m >= 0; m = w->znext[m])
            for (size_t k = w->off[m]; k < w->off[m + 1]; k++) {
                int32_t v = w->adj[k];
                if (w->zone[v] != -1 || w->comp[v] != cc)
                    continue;
                size_t i = 0;
                while (i < nc && cand[i] != v)
                    i++;
                if (i == nc)
                    cand[nc++] = v;
            }
        double czx, czy;
        zone_centre(w, z, &czx, &czy);
        int32_t best = -1;
        size_t bdebt = 0;
        double bcost = 0;
        for (size_t i = 0; i < nc; i++) {
            int32_t c = cand[i];
            int nin = 0;
            for (size_t k = w->off[c]; k < w->off[c + 1]; k++)
                nin += w->zone[w->adj[k]] == z;
            double cost = hypot(w->px[c] - czx, w->py[c] - czy) / w->scale - 0.35 * nin +
                          1e-6 * (double)(cell_hash(w, (size_t)c) >> 11) / 9007199254740992.0;
            w->zone[c] = z;
            size_t d = piece_debt(w, z, cc, c);
            w->zone[c] = -1;
            if (d > U - sz - 1)
                continue;
            if (best < 0 || d < bdebt || (d == bdebt && cost < bcost)) {
                best = c;
                bdebt = d;
                bcost = cost;
            }
        }
        if (best < 0)
            break;
        if (sz >= L && debt == 0) {
            if (bdebt > 0)
                break;
            double W = w->zwt[z];
            if (W >= wtarget || fabs(W + w->wt[best] - wtarget) > fabs(W - wtarget))
                break;
        }
        zone_add(w, z, best);
        debt = bdebt;
    }
}

/* Move the best cell of zone a that touches zone b to b, keeping a connected. */
static bool move_best(zw *w, int32_t a, int32_t b)
{
    double ax, ay, bx, by;
    zone_centre(w, a, &ax, &ay);
    zone_centre(w, b, &bx, &by);
    int32_t best = -1;
    double bcost = 0;
    for (int32_t m = w->zhead[a]; m >= 0; m = w->znext[m]) {
        bool touches = false;
        for (size_t k = w->off[m]; k < w->off[m + 1] && !touches; k++)
            touches = w->zone[w->adj[k]] == b;
        if (!touches)
            continue;
        double dx = w->px[m] - bx, dy = w->py[m] - by, ex = w->px[m] - ax, ey = w->py[m] - ay;
        double cost = dx * dx + dy * dy - ex * ex - ey * ey;
        if (best >= 0 && (cost > bcost || (cost == bcost && m > best)))
            continue;
        if (!zone_conn_without(w, a, m))
            continue;
        best = m;
        bcost = cost;
    }
    if (best < 0)
        return false;
    zone_move(w, best, b);
    return true;
}

/*
 * Ejection chain: push (z has a cell too many) or pull (z lacks one) a cell along
 * a path of adjacent zones to/from the nearest zone with room/surplus.
 */
static bool chain(zw *w, int32_t z, bool push)
{
    uint32_t zs = new_zstamp(w);
    size_t qh = 0, qt = 0;
    w->zq[qt++] = z;
    w->zstamp[z] = zs;
    w->zpar[z] = -1;
    int32_t found = -1;
    while (qh < qt && found < 0 && qt < Z_CHAIN_ZONES) {
        int32_t y = w->zq[qh++];
        for (int32_t m = w->zhead[y]; m >= 0 && found < 0; m = w->znext[m])
            for (size_t k = w->off[m]; k < w->off[m + 1]; k++) {
                int32_t v = w->adj[k];
                int32_t x = w->zone[v];
                if (x < 0 || x == y || w->zstamp[x] == zs || w->comp[v] != w->comp[m])
                    continue;
                if (!(push ? zone_conn_without(w, y, m) : zone_conn_without(w, x, v)))
                    continue;
                w->zstamp[x] = zs;
                w->zpar[x] = y;
                w->zq[qt++] = x;
                if (push ? (size_t)w->zsize[x] < w->U : (size_t)w->zsize[x] > w->L) {
                    found = x;
                    break;
                }
            }
    }
    if (found < 0)
        return false;
    /* path z ... found, into zq reversed */
    size_t len = 0;
    for (int32_t x = found; x >= 0; x = w->zpar[x])
        w->zq[len++] = x;
    /* zq[len-1] = z, zq[0] = found */
    for (size_t i = len - 1; i > 0; i--) {
        bool ok =
            push ? move_best(w, w->zq[i], w->zq[i - 1]) : move_best(w, w->zq[i - 1], w->zq[i]);
        if (!ok)
            return false;
    }
    return true;
}

/* Split zone z (>= 2L cells) in two connected zones of >= L cells. */
static bool split(zw *w, int32_t z)
{
    size_t s = (size_t)w->zsize[z];
    if (s < 2 * w->L)
        return false;
    double cx, cy;
    zone_centre(w, z, &cx, &cy);
    int32_t far = -1;
    double fd = -1;
    for (int32_t m = w->zhead[z]; m >= 0; m = w->znext[m]) {
        double d = hypot(w->px[m] - cx, w->py[m] - cy);
        if (d > fd || (d == fd && m < far)) {
            fd = d;
            far = m;
        }
    }
    if (!zone_conn_without(w, z, far))
        return false;
    size_t t = s / 2;
    if (t < w->L)
        t = w->L;
    int32_t z2 = zone_new(w, w->zcomp[z]);
    zone_move(w, far, z2);
    while ((size_t)w->zsize[z2] < t) {
        double x2, y2;
        zone_centre(w, z2, &x2, &y2);
        int32_t best = -1;
        double bd = 0;
        for (int32_t m = w->zhead[z]; m >= 0; m = w->znext[m]) {
            bool touches = false;
            for (size_t k = w->off[m]; k < w->off[m + 1] && !touches; k++)
                touches = w->zone[w->adj[k]] == z2;
            if (!touches)
                continue;
            double d = hypot(w->px[m] - x2, w->py[m] - y2);
            if (best >= 0 && (d > bd || (d == bd && m > best)))
                continue;
            if (!zone_conn_without(w, z, m))
                continue;
            best = m;
            bd = d;
        }
        if (best < 0)
            break;
        zone_move(w, best, z2);
    }
    if ((size_t)w->zsize[z2] < w->L || (size_t)w->zsize[z] < w->L) {
        while (w->zhead[z2] >= 0)
            zone_move(w, w->zhead[z2], z);
        return false;
    }
    return true;
}

static void dissolve(zw *w, int32_t z)
{
    while (w->zhead[z] >= 0)
        zone_del(w, w->zhead[z]);
}

/* Put unassigned cells of feasible components into adjacent zones (smallest first). */
static bool absorb_unassigned(zw *w, int32_t *cand)
{
    bool any = false, changed = true;
    while (changed) {
        changed = false;
        for (size_t c = 0; c < w->n; c++) {
            if (w->zone[c] != -1 || !w->comp_ok[w->comp[c]])
                continue;
            int32_t best = -1;
            for (size_t k = w->off[c]; k < w->off[c + 1]; k++) {
                int32_t v = w->adj[k], x = w->zone[v];
                if (x < 0 || w->comp[v] != w->comp[c])
                    continue;
                if (best < 0 || w->zsize[x] < w->zsize[best] ||
                    (w->zsize[x] == w->zsize[best] && x < best))
                    best = x;
            }
            if (best >= 0) {
                zone_add(w, best, (int32_t)c);
                changed = any = true;
            }
        }
    }
    /* cells with no zone anywhere near: grow fresh zones among them */
    for (size_t c = 0; c < w->n; c++) {
        if (w->zone[c] != -1 || !w->comp_ok[w->comp[c]])
            continue;
        int32_t z = zone_new(w, w->comp[c]);
        grow(w, z, (int32_t)c, w->comp[c], INFINITY, cand);
        any = true;
    }
    return any;
}

/* Repair until every zone is within bounds (or the rounds run out). */
static void repair(zw *w, int32_t *cand)
{
    for (int round = 0; round < Z_REPAIR_ROUNDS; round++) {
        bool bad = false;
        for (size_t z = 0; z < w->nz; z++) {
            int32_t zz = (int32_t)z;
            if (w->zsize[zz] == 0 || (size_t)w->zsize[zz] >= w->L)
                continue;
            while ((size_t)w->zsize[zz] < w->L && chain(w, zz, false))
                ;
            if ((size_t)w->zsize[zz] < w->L)
                dissolve(w, zz);
        }
        absorb_unassigned(w, cand);
        for (size_t z = 0; z < w->nz; z++) {
            int32_t zz = (int32_t)z;
            while ((size_t)w->zsize[zz] > w->U && chain(w, zz, true))
                ;
            while ((size_t)w->zsize[zz] > w->U && split(w, zz))
                ;
        }
        for (size_t z = 0; z < w->nz; z++) {
            size_t s = (size_t)w->zsize[z];
            if (s && (s < w->L || s > w->U))
                bad = true;
        }
        if (!bad)
            return;
    }
}

/* ------------------------------------------------------------ local search */

static double sse(double n, double sx, double sy, double sq)
{
    return n > 0 ? sq - (sx * sx + sy * sy) / n : 0;
}

static void improve(zw *w, unsigned passes)
{
    const double s2 = w->scale * w->scale;
    const double bw = (w->wbar > 0 && w->beta > 0) ? w->beta / (w->wbar * w->wbar) : 0;
    for (unsigned pass = 0; pass < passes; pass++) {
        size_t moves = 0;
        for (size_t ci = 0; ci < w->n; ci++) {
            int32_t c = (int32_t)ci, a = w->zone[c];
            if (a < 0 || (size_t)w->zsize[a] <= w->L)
                continue;
            double x = w->px[c], y = w->py[c], q = x * x + y * y, wc = w->wt[c];
            double na = w->zsize[a];
            double ssa = sse(na, w->zsx[a], w->zsy[a], w->zsq[a]);
            double ssa2 = sse(na - 1, w->zsx[a] - x, w->zsy[a] - y, w->zsq[a] - q);
            double da = w->zwt[a] - w->wbar;
            int32_t best = -1;
            double bdelta = -1e-9;
            for (size_t k = w->off[c]; k < w->off[c + 1]; k++) {
                int32_t b = w->zone[w->adj[k]];
                if (b < 0 || b == a || (size_t)w->zsize[b] >= w->U || w->zcomp[b] != w->zcomp[a])
                    continue;
                double nb = w->zsize[b];
                double ssb = sse(nb, w->zsx[b], w->zsy[b], w->zsq[b]);
                double ssb2 = sse(nb + 1, w->zsx[b] + x, w->zsy[b] + y, w->zsq[b] + q);
                double db = w->zwt[b] - w->wbar;
                double delta =
                    (ssa2 + ssb2 - ssa - ssb) / s2 +
                    bw * ((da - wc) * (da - wc) + (db + wc) * (db + wc) - da * da - db * db);
                if (delta < bdelta) {
                    bdelta = delta;
                    best = b;
                }
            }
            if (best >= 0 && zone_conn_without(w, a, c)) {
                zone_move(w, c, best);
                moves++;
            }
        }
        if (!moves)
            break;
    }
}

/* ------------------------------------------------------------ preparation */

static void zw_free(zw *w)
{
    const lg_allocator *a = w->a;
    void *arrs[] = {w->off,  w->adj,     w->ew,   w->px,    w->py,     w->wt,    w->area,  w->perim,
                    w->comp, w->comp_ok, w->zone, w->znext, w->zhead,  w->zsize, w->zcomp, w->zsx,
                    w->zsy,  w->zsq,     w->zwt,  w->stamp, w->zstamp, w->queue, w->zq,    w->zpar};
    for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++)
        lg__free(a, arrs[i]);
}

static lg_error zw_init(zw *w, lg_context *ctx, const char *fn, const lg_graph *g,
                        const lg_layer *layer, const lg_zone_options *opt)
{
    memset(w, 0, sizeof *w);
    w->ctx = ctx;
    w->a = ctx ? &ctx->alloc : &lg__default_allocator;
    const lg_allocator *a = w->a;
    if (!g)
        return lg__fail(ctx, LG_ERR_ARG, "%s: no adjacency graph", fn);
    size_t n = lg_graph_node_count(g);
    w->n = n;
    if (n > (size_t)INT32_MAX - 2)
        return lg__fail(ctx, LG_ERR_ARG, "%s: %zu cells, more than supported", fn, n);
    if (layer && lg_layer_count(layer) != n)
        return lg__fail(ctx, LG_ERR_ARG, "%s: graph has %zu nodes but the layer %zu cells", fn, n,
                        lg_layer_count(layer));
    lg_zone_options o = {0};
    if (opt)
        o = *opt;
    w->L = o.min_cells ? o.min_cells : Z_DEFAULT_MIN;
    w->U = o.max_cells ? o.max_cells : Z_DEFAULT_MAX;
    if (w->U < w->L)
        return lg__fail(ctx, LG_ERR_ARG, "%s: max_cells %zu is below min_cells %zu", fn, w->U,
                        w->L);
    if (!layer && (!o.x || !o.y))
        return lg__fail(ctx, LG_ERR_ARG, "%s: demand points (x, y) or a layer are needed", fn);
    if ((o.x == NULL) != (o.y == NULL))
        return lg__fail(ctx, LG_ERR_ARG, "%s: x and y must be given together", fn);
    if (o.n_sites && (!o.site_x || !o.site_y))
        return lg__fail(ctx, LG_ERR_ARG, "%s: %zu candidate sites but no site_x/site_y", fn,
                        o.n_sites);
    w->seed = o.seed;
    w->grp = o.group;
    /* the look-ahead cap: every size >= cap can be cut */
    if (w->L == w->U) {
        w->cap = Z_EQUAL_CAP;
    } else {
        size_t k = 1;
        while (k * w->U + 1 < (k + 1) * w->L)
            k++;
        w->cap = k * w->L;
    }
    if (w->cap < w->U + 1)
        w->cap = w->U + 1;

    size_t nn = n ? n : 1;
    w->off = lg__malloc(a, (nn + 1) * sizeof *w->off);
    w->px = lg__malloc(a, nn * sizeof *w->px);
    w->py = lg__malloc(a, nn * sizeof *w->py);
    w->wt = lg__malloc(a, nn * sizeof *w->wt);
    w->comp = lg__malloc(a, nn * sizeof *w->comp);
    w->comp_ok = lg__calloc(a, nn, 1);
    w->zone = lg__malloc(a, nn * sizeof *w->zone);
    w->znext = lg__malloc(a, nn * sizeof *w->znext);
    w->zhead = lg__malloc(a, nn * sizeof *w->zhead);
    w->zsize = lg__calloc(a, nn, sizeof *w->zsize);
    w->zcomp = lg__malloc(a, nn * sizeof *w->zcomp);
    w->zsx = lg__calloc(a, nn, sizeof(double));
    w->zsy = lg__calloc(a, nn, sizeof(double));
    w->zsq = lg__calloc(a, nn, sizeof(double));
    w->zwt = lg__calloc(a, nn, sizeof(double));
    w->stamp = lg__calloc(a, nn, sizeof *w->stamp);
    w->zstamp = lg__calloc(a, nn, sizeof *w->zstamp);
    w->queue = lg__malloc(a, nn * sizeof *w->queue);
    w->zq = lg__malloc(a, nn * sizeof *w->zq);
    w->zpar = lg__malloc(a, nn * sizeof *w->zpar);
    if (layer) {
        w->area = lg__malloc(a, nn * sizeof *w->area);
        w->perim = lg__malloc(a, nn * sizeof *w->perim);
    }
    if (!w->off || !w->px || !w->py || !w->wt || !w->comp || !w->comp_ok || !w->zone || !w->znext ||
        !w->zhead || !w->zsize || !w->zcomp || !w->zsx || !w->zsy || !w->zsq || !w->zwt ||
        !w->stamp || !w->zstamp || !w->queue || !w->zq || !w->zpar ||
        (layer && (!w->area || !w->perim)))
        return lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory for %zu cells", fn, n);

    /* CSR copy of the graph */
    size_t ne = 0;
    w->off[0] = 0;
    for (size_t i = 0; i < n; i++) {
        const int64_t *nb;
        const double *nw;
        size_t k = 0;
        if (lg_graph_neighbors(g, i, &nb, &nw, &k) != LG_OK)
            return lg__fail(ctx, LG_ERR_ARG, "%s: graph node %zu unreadable", fn, i);
        ne += k;
        w->off[i + 1] = ne;
    }
    w->adj = lg__malloc(a, (ne ? ne : 1) * sizeof *w->adj);
    w->ew = lg__malloc(a, (ne ? ne : 1) * sizeof *w->ew);
    if (!w->adj || !w->ew)
        return lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory for %zu edges", fn, ne);
    for (size_t i = 0; i < n; i++) {
        const int64_t *nb;
        const double *nw;
        size_t k = 0;
        lg_graph_neighbors(g, i, &nb, &nw, &k);
        for (size_t j = 0; j < k; j++) {
            if (nb[j] < 0 || (size_t)nb[j] >= n || (size_t)nb[j] == i)
                return lg__fail(ctx, LG_ERR_ARG, "%s: graph node %zu: bad neighbour %lld", fn, i,
                                (long long)nb[j]);
            w->adj[w->off[i] + j] = (int32_t)nb[j];
            w->ew[w->off[i] + j] = nw ? nw[j] : 1.0;
        }
    }

    /* demand points, weights */
    for (size_t i = 0; i < n; i++) {
        double cx = NAN, cy = NAN, ar = NAN, pe = NAN;
        if (layer) {
            lg__cell_geom(layer, i, &cx, &cy, &ar, &pe);
            w->area[i] = ar;
            w->perim[i] = pe;
        }
        if (o.x) {
            cx = o.x[i];
            cy = o.y[i];
            if (!isfinite(cx) || !isfinite(cy))
                return lg__fail(ctx, LG_ERR_ARG, "%s: demand point of row %zu is not finite", fn,
                                i);
        }
        w->px[i] = cx;
        w->py[i] = cy;
        double wv = o.weight ? o.weight[i] : 1.0;
        if (!isfinite(wv) || wv < 0)
            return lg__fail(ctx, LG_ERR_ARG, "%s: weight of row %zu is %g (finite, >= 0 needed)",
                            fn, i, wv);
        w->wt[i] = wv;
    }
    /* empty cells: the mean of their neighbours' points, else of all points */
    double mx = 0, my = 0;
    size_t nf = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(w->px[i])) {
            mx += w->px[i];
            my += w->py[i];
            nf++;
        }
    mx = nf ? mx / nf : 0;
    my = nf ? my / nf : 0;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(w->px[i]))
            continue;
        double sx = 0, sy = 0;
        size_t c = 0;
        for (size_t k = w->off[i]; k < w->off[i + 1]; k++)
            if (isfinite(w->px[w->adj[k]])) {
                sx += w->px[w->adj[k]];
                sy += w->py[w->adj[k]];
                c++;
            }
        w->px[i] = c ? sx / c : mx;
        w->py[i] = c ? sy / c : my;
    }
    w->ox = mx;
    w->oy = my;
    double dsum = 0;
    for (size_t i = 0; i < n; i++) {
        w->px[i] -= mx;
        w->py[i] -= my;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = w->off[i]; k < w->off[i + 1]; k++)
            dsum += hypot(w->px[i] - w->px[w->adj[k]], w->py[i] - w->py[w->adj[k]]);
    w->scale = ne ? dsum / ne : 1.0;
    if (!(w->scale > 0))
        w->scale = 1.0;
    double bal = o.balance == 0 ? 1.0 : o.balance;
    w->beta = bal > 0 ? bal * 0.5 * (double)(w->L + w->U) : 0;
    for (size_t i = 0; i < n; i++) {
        w->zone[i] = -1;
        w->znext[i] = -1;
    }
    return LG_OK;
}

static bool same_group(const zw *w, size_t u, size_t v)
{
    return !w->grp || w->grp[u] == w->grp[v];
}

/* Connected components (within groups). */
static void components(zw *w)
{
    for (size_t i = 0; i < w->n; i++)
        w->comp[i] = -1;
    int32_t nc = 0;
    for (size_t s = 0; s < w->n; s++) {
        if (w->comp[s] >= 0)
            continue;
        size_t qh = 0, qt = 0;
        w->queue[qt++] = (int32_t)s;
        w->comp[s] = nc;
        while (qh < qt) {
            int32_t u = w->queue[qh++];
            for (size_t k = w->off[u]; k < w->off[u + 1]; k++) {
                int32_t v = w->adj[k];
                if (w->comp[v] < 0 && same_group(w, (size_t)u, (size_t)v)) {
                    w->comp[v] = nc;
                    w->queue[qt++] = v;
                }
            }
        }
        nc++;
    }
    w->ncomp = (size_t)nc;
}

/* ------------------------------------------------------------ plan output */

static lg_zone_plan *plan_new(const lg_allocator *a, size_t n)
{
    lg_zone_plan *p = lg__calloc(a, 1, sizeof *p);
    if (!p)
        return NULL;
    p->alloc = *a;
    p->n = n;
    p->zone = lg__malloc(a, (n ? n : 1) * sizeof *p->zone);
    if (!p->zone) {
        lg__free(a, p);
        return NULL;
    }
    return p;
}

typedef struct zmembers {
    size_t nz;
    size_t *start;  /* nz + 1 */
    int32_t *cells; /* by zone, ascending rows */
} zmembers;

static lg_error members_of(const lg_allocator *a, const int64_t *zone, size_t n, size_t nz,
                           zmembers *m)
{
    m->nz = nz;
    m->start = lg__calloc(a, nz + 2, sizeof *m->start);
    m->cells = lg__malloc(a, (n ? n : 1) * sizeof *m->cells);
    if (!m->start || !m->cells)
        return LG_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        if (zone[i] >= 0 && (size_t)zone[i] < nz)
            m->start[zone[i] + 2]++;
    for (size_t z = 0; z < nz; z++)
        m->start[z + 2] += m->start[z + 1];
    for (size_t i = 0; i < n; i++)
        if (zone[i] >= 0 && (size_t)zone[i] < nz)
            m->cells[m->start[zone[i] + 1]++] = (int32_t)i;
    return LG_OK;
}

static void members_free(const lg_allocator *a, zmembers *m)
{
    lg__free(a, m->start);
    lg__free(a, m->cells);
}

/* 1-median cell of each zone: least summed distance to the zone's other points. */
static int32_t median_cell(const zw *w, const zmembers *m, size_t z)
{
    int32_t best = -1;
    double bs = INFINITY;
    for (size_t i = m->start[z]; i < m->start[z + 1]; i++) {
        int32_t c = m->cells[i];
        double s = 0;
        for (size_t j = m->start[z]; j < m->start[z + 1] && s < bs; j++) {
            int32_t d = m->cells[j];
            s += hypot(w->px[c] - w->px[d], w->py[c] - w->py[d]);
        }
        if (s < bs) {
            bs = s;
            best = c;
        }
    }
    return best;
}

typedef struct site_heap {
    double d;
    int64_t zone, cand;
} site_heap;

static void sh_push(site_heap *h, size_t *n, site_heap e)
{
    size_t i = (*n)++;
    while (i) {
        size_t p = (i - 1) / 2;
        if (h[p].d < e.d || (h[p].d == e.d && h[p].zone <= e.zone))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = e;
}
static site_heap sh_pop(site_heap *h, size_t *n)
{
    site_heap top = h[0], e = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, s = i;
        site_heap *bs = &e;
        if (l < *n && (h[l].d < bs->d || (h[l].d == bs->d && h[l].zone < bs->zone))) {
            s = l;
            bs = &h[l];
        }
        if (r < *n && (h[r].d < bs->d || (h[r].d == bs->d && h[r].zone < bs->zone)))
            s = r;
        if (s == i)
            break;
        h[i] = h[s];
        i = s;
    }
    if (*n)
        h[i] = e;
    return top;
}

static bool unused_filter(int64_t id, void *udata)
{
    return !((const uint8_t *)udata)[id];
}

/* Sites: candidates inside a zone first (nearest to its 1-median), then greedy nearest. */
static lg_error make_sites(zw *w, const lg_layer *layer, const lg_zone_options *o,
                           const zmembers *m, lg_zone_plan *p)
{
    const lg_allocator *a = w->a;
    size_t nz = p->nz;
    lg_error e = LG_OK;
    p->site_cell = lg__malloc(a, (nz ? nz : 1) * sizeof *p->site_cell);
    p->site_cand = lg__malloc(a, (nz ? nz : 1) * sizeof *p->site_cand);
    p->site_x = lg__malloc(a, (nz ? nz : 1) * sizeof *p->site_x);
    p->site_y = lg__malloc(a, (nz ? nz : 1) * sizeof *p->site_y);
    int32_t *med = lg__malloc(a, (nz ? nz : 1) * sizeof *med);
    if (!p->site_cell || !p->site_cand || !p->site_x || !p->site_y || !med) {
        lg__free(a, med);
        return LG_ERR_NOMEM;
    }
    for (size_t z = 0; z < nz; z++) {
        med[z] = median_cell(w, m, z);
        p->site_cand[z] = LG_NONE;
        p->site_cell[z] = med[z];
        p->site_x[z] = med[z] >= 0 ? w->px[med[z]] + w->ox : NAN;
        p->site_y[z] = med[z] >= 0 ? w->py[med[z]] + w->oy : NAN;
    }
    size_t ns = o ? o->n_sites : 0;
    if (!ns || !nz) {
        lg__free(a, med);
        return LG_OK;
    }
    uint8_t *used = lg__calloc(a, ns, 1);
    int64_t *loc = lg__malloc(a, ns * sizeof *loc);
    double *box = lg__malloc(a, ns * 4 * sizeof *box);
    site_heap *h = lg__malloc(a, nz * sizeof *h);
    lg_rtree *rt = NULL;
    if (!used || !loc || !box || !h) {
        e = LG_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < ns; i++) {
        double x = o->site_x[i], y = o->site_y[i];
        if (!isfinite(x) || !isfinite(y)) {
            e = lg__fail(w->ctx, LG_ERR_ARG, "lg_zones_plan: candidate site %zu is not finite", i);
            goto done;
        }
        loc[i] = layer ? lg_layer_locate(layer, x, y) : LG_NONE;
        box[4 * i] = box[4 * i + 2] = x - w->ox;
        box[4 * i + 1] = box[4 * i + 3] = y - w->oy;
    }
    /* inside first: the candidate in the zone nearest its 1-median */
    for (size_t i = 0; i < ns; i++) {
        if (loc[i] < 0 || p->zone[loc[i]] < 0)
            continue;
        size_t z = (size_t)p->zone[loc[i]];
        double d = hypot(box[4 * i] - w->px[med[z]], box[4 * i + 1] - w->py[med[z]]);
        int64_t prev = p->site_cand[z];
        if (prev >= 0) {
            double dp = hypot(box[4 * prev] - w->px[med[z]], box[4 * prev + 1] - w->py[med[z]]);
            if (dp <= d)
                continue;
            used[prev] = 0;
        }
        p->site_cand[z] = (int64_t)i;
        used[i] = 1;
    }
    /* then the nearest unused, zones served closest first */
    if ((e = lg_rtree_new(a, &rt)) != LG_OK || (e = lg_rtree_bulk_load(rt, box, NULL, ns)) != LG_OK)
        goto done;
    size_t nh = 0;
    lg_nearest_options no = {0};
    no.k = 1;
    no.filter = unused_filter;
    no.udata = used;
    for (size_t z = 0; z < nz; z++) {
        if (p->site_cand[z] >= 0)
            continue;
        int64_t id;
        double d;
        size_t nf = 0;
        lg_rtree_nearest(rt, w->px[med[z]], w->py[med[z]], &no, &id, &d, &nf);
        if (nf)
            sh_push(h, &nh, (site_heap){d, (int64_t)z, id});
    }
    while (nh) {
        site_heap t = sh_pop(h, &nh);
        if (used[t.cand]) {
            int64_t id;
            double d;
            size_t nf = 0;
            lg_rtree_nearest(rt, w->px[med[t.zone]], w->py[med[t.zone]], &no, &id, &d, &nf);
            if (nf)
                sh_push(h, &nh, (site_heap){d, t.zone, id});
            continue;
        }
        used[t.cand] = 1;
        p->site_cand[t.zone] = t.cand;
    }
    for (size_t z = 0; z < nz; z++) {
        int64_t c = p->site_cand[z];
        if (c < 0) {
            int64_t row = med[z];
            if ((e = add_problem(p, LG_ZONE_PROBLEM_NO_SITE, (int64_t)z, &row, 1,
                                 "zones: zone %zu has no candidate site left (%zu candidates "
                                 "for %zu zones); its 1-median cell, row %lld, stands in",
                                 z, ns, nz, (long long)row)) != LG_OK)
                goto done;
            continue;
        }
        p->site_x[z] = o->site_x[c];
        p->site_y[z] = o->site_y[c];
        p->site_cell[z] = loc[c];
    }
done:
    lg_rtree_free(rt);
    lg__free(a, used);
    lg__free(a, loc);
    lg__free(a, box);
    lg__free(a, h);
    lg__free(a, med);
    return e;
}

static void make_quality(zw *w, const zmembers *m, lg_zone_plan *p)
{
    lg_zone_quality *q = &p->q;
    memset(q, 0, sizeof *q);
    q->compact_mean = q->compact_max = q->polsby_mean = q->polsby_min = NAN;
    q->weight_min = q->weight_mean = q->weight_max = q->weight_cv = NAN;
    size_t nzc = 0, sum = 0;
    double wsum = 0, wsq = 0, cm = 0, cmax = -INFINITY, pm = 0, pmin = INFINITY, obj = 0;
    double wmin = INFINITY, wmax = -INFINITY;
    bool have_area = w->area != NULL, have_pp = w->perim != NULL;
    size_t maxs = 0;
    double wbar = 0;
    for (size_t z = 0; z < m->nz; z++)
        for (size_t i = m->start[z]; i < m->start[z + 1]; i++)
            wbar += w->wt[m->cells[i]];
    size_t nonempty = 0;
    for (size_t z = 0; z < m->nz; z++)
        nonempty += m->start[z + 1] > m->start[z];
    wbar = nonempty ? wbar / nonempty : 0;
    double bw = (wbar > 0 && w->beta > 0) ? w->beta / (wbar * wbar) : 0;
    for (size_t z = 0; z < m->nz; z++) {
        size_t s = m->start[z + 1] - m->start[z];
        if (!s)
            continue;
        nzc++;
        sum += s;
        if (s > maxs)
            maxs = s;
        if (!q->size_min || s < q->size_min)
            q->size_min = s;
        double sx = 0, sy = 0, sq = 0, wz = 0, ar = 0, per = 0;
        for (size_t i = m->start[z]; i < m->start[z + 1]; i++) {
            int32_t c = m->cells[i];
            sx += w->px[c];
            sy += w->py[c];
            sq += w->px[c] * w->px[c] + w->py[c] * w->py[c];
            wz += w->wt[c];
            if (have_area) {
                ar += w->area[c];
                per += w->perim[c];
                for (size_t k = w->off[c]; k < w->off[c + 1]; k++)
                    if (p->zone[w->adj[k]] == (int64_t)z)
                        per -= w->ew[k]; /* each shared side counted from both cells */
            }
        }
        double mxz = sx / s, myz = sy / s, dist = 0;
        for (size_t i = m->start[z]; i < m->start[z + 1]; i++) {
            int32_t c = m->cells[i];
            dist += hypot(w->px[c] - mxz, w->py[c] - myz);
        }
        if (have_area && ar > 0) {
            double ratio = (dist / s) / ((2.0 / 3.0) * sqrt(ar / Z_PI));
            cm += ratio;
            if (ratio > cmax)
                cmax = ratio;
            if (have_pp && per > 0) {
                double pp = 4 * Z_PI * ar / (per * per);
                pm += pp;
                if (pp < pmin)
                    pmin = pp;
            }
        } else {
            have_area = have_pp = false;
        }
        wsum += wz;
        wsq += wz * wz;
        if (wz < wmin)
            wmin = wz;
        if (wz > wmax)
            wmax = wz;
        obj += sse((double)s, sx, sy, sq) / (w->scale * w->scale) + bw * (wz - wbar) * (wz - wbar);
    }
    size_t un = 0;
    for (size_t i = 0; i < p->n; i++)
        un += p->zone[i] < 0;
    q->zones = nzc;
    q->cells_assigned = sum;
    q->cells_unassigned = un;
    q->size_max = maxs;
    q->objective = obj;
    if (nzc) {
        q->size_mean = (double)sum / nzc;
        q->weight_min = wmin;
        q->weight_max = wmax;
        q->weight_mean = wsum / nzc;
        double var = wsq / nzc - q->weight_mean * q->weight_mean;
        q->weight_cv = q->weight_mean > 0 ? sqrt(var > 0 ? var : 0) / q->weight_mean : 0;
        if (have_area) {
            q->compact_mean = cm / nzc;
            q->compact_max = cmax;
        }
        if (have_pp) {
            q->polsby_mean = pm / nzc;
            q->polsby_min = pmin;
        }
    }
    p->hist = lg__calloc(w->a, maxs + 1, sizeof *p->hist);
    if (p->hist) {
        p->nhist = maxs + 1;
        for (size_t z = 0; z < m->nz; z++) {
            size_t s = m->start[z + 1] - m->start[z];
            if (s)
                p->hist[s]++;
        }
    }
}

/* Sites, quality; the plan's zone array must be final. */
static lg_error finish(zw *w, const lg_layer *layer, const lg_zone_options *o, lg_zone_plan *p)
{
    zmembers m = {0};
    lg_error e = members_of(w->a, p->zone, p->n, p->nz, &m);
    if (e == LG_OK)
        e = make_sites(w, layer, o, &m, p);
    if (e == LG_OK)
        make_quality(w, &m, p);
    /* make_quality's histogram allocation failing must not pass for an empty histogram
       (found by tests/test_alloc.c) */
    if (e == LG_OK && !p->hist)
        e = lg__fail(w->ctx, LG_ERR_NOMEM, "lg_zones: out of memory");
    members_free(w->a, &m);
    return e;
}

/* -------------------------------------------------------------- validation */

/* Every violation of a zone array; sets p->nz and p->feasible. */
static lg_error validate_core(zw *w, const int64_t *zone, lg_zone_plan *p)
{
    const lg_allocator *a = w->a;
    size_t n = w->n;
    char rows[512];
    lg_error e = LG_OK;
    int64_t *buf = lg__malloc(a, (n ? n : 1) * sizeof *buf);
    zmembers m = {0};
    if (!buf)
        return LG_ERR_NOMEM;
    /* ids */
    size_t nb = 0, nu = 0;
    int64_t maxid = -1;
    for (size_t i = 0; i < n; i++) {
        if (zone[i] < -1 || zone[i] >= (int64_t)n)
            buf[nb++] = (int64_t)i;
        else if (zone[i] > maxid)
            maxid = zone[i];
    }
    if (nb && (e = add_problem(p, LG_ZONE_PROBLEM_BAD_ID, LG_NONE, buf, nb,
                               "zones: %zu cells have a zone id outside -1..%zu (%s)", nb,
                               n ? n - 1 : 0, row_list(rows, sizeof rows, buf, nb))) != LG_OK)
        goto done;
    for (size_t i = 0; i < n; i++)
        if (zone[i] == -1)
            buf[nu++] = (int64_t)i;
    if (nu && (e = add_problem(p, LG_ZONE_PROBLEM_UNASSIGNED, LG_NONE, buf, nu,
                               "zones: %zu cells are in no zone (%s)", nu,
                               row_list(rows, sizeof rows, buf, nu))) != LG_OK)
        goto done;
    size_t nz = (size_t)(maxid + 1);
    p->nz = nz;
    for (size_t i = 0; i < n; i++)
        p->zone[i] = (zone[i] >= -1 && zone[i] < (int64_t)n) ? zone[i] : LG_NONE;
    if ((e = members_of(a, p->zone, n, nz, &m)) != LG_OK)
        goto done;
    for (size_t z = 0; z < nz; z++) {
        size_t s = m.start[z + 1] - m.start[z];
        const int32_t *cells = m.cells + m.start[z];
        if (s == 0) {
            if ((e = add_problem(p, LG_ZONE_PROBLEM_EMPTY, (int64_t)z, NULL, 0,
                                 "zones: zone %zu has no cells (ids run to %lld)", z,
                                 (long long)maxid)) != LG_OK)
                goto done;
            continue;
        }
        for (size_t i = 0; i < s; i++)
            buf[i] = cells[i];
        if (s < w->L && (e = add_problem(p, LG_ZONE_PROBLEM_TOO_SMALL, (int64_t)z, buf, s,
                                         "zones: zone %zu has %zu cells, fewer than min_cells "
                                         "%zu (%s)",
                                         z, s, w->L, row_list(rows, sizeof rows, buf, s))) != LG_OK)
            goto done;
        if (s > w->U && (e = add_problem(p, LG_ZONE_PROBLEM_TOO_LARGE, (int64_t)z, buf, s,
                                         "zones: zone %zu has %zu cells, more than max_cells "
                                         "%zu (%s)",
                                         z, s, w->U, row_list(rows, sizeof rows, buf, s))) != LG_OK)
            goto done;
        /* pieces: label each with its BFS stamp; keep the largest (first on ties) */
        stamp_room(w, s + 2);
        uint32_t base = w->stampc + 1, bigst = 0;
        size_t bigsz = 0, npieces = 0;
        for (size_t i = 0; i < s; i++) {
            int32_t c = cells[i];
            if (w->stamp[c] >= base)
                continue;
            uint32_t st = new_stamp(w);
            size_t qh = 0, qt = 0;
            w->queue[qt++] = c;
            w->stamp[c] = st;
            while (qh < qt) {
                int32_t u = w->queue[qh++];
                for (size_t k = w->off[u]; k < w->off[u + 1]; k++) {
                    int32_t v = w->adj[k];
                    if (p->zone[v] == (int64_t)z && w->stamp[v] != st) {
                        w->stamp[v] = st;
                        w->queue[qt++] = v;
                    }
                }
            }
            npieces++;
            if (qt > bigsz) {
                bigsz = qt;
                bigst = st;
            }
        }
        if (npieces > 1) {
            size_t k = 0;
            for (size_t i = 0; i < s; i++)
                if (w->stamp[cells[i]] != bigst)
                    buf[k++] = cells[i];
            if ((e = add_problem(p, LG_ZONE_PROBLEM_DISCONNECTED, (int64_t)z, buf, k,
                                 "zones: zone %zu is in %zu pieces; %zu cells lie off its "
                                 "largest piece of %zu (%s)",
                                 z, npieces, k, bigsz, row_list(rows, sizeof rows, buf, k))) !=
                LG_OK)
                goto done;
        }
        if (w->grp) {
            /* main group: most cells, then lowest value (s is small: quadratic is fine) */
            int64_t mg = 0;
            size_t mc = 0;
            for (size_t i = 0; i < s; i++) {
                int64_t gv = w->grp[cells[i]];
                size_t c = 0;
                for (size_t j = 0; j < s; j++)
                    c += w->grp[cells[j]] == gv;
                if (c > mc || (c == mc && gv < mg)) {
                    mc = c;
                    mg = gv;
                }
            }
            size_t k = 0;
            for (size_t i = 0; i < s; i++)
                if (w->grp[cells[i]] != mg)
                    buf[k++] = cells[i];
            if (k && (e = add_problem(p, LG_ZONE_PROBLEM_CROSSES_GROUP, (int64_t)z, buf, k,
                                      "zones: zone %zu spans groups: %zu cells are outside its "
                                      "group %lld (%s)",
                                      z, k, (long long)mg, row_list(rows, sizeof rows, buf, k))) !=
                         LG_OK)
                goto done;
        }
    }
    p->feasible = p->nprobs == 0;
done:
    members_free(a, &m);
    lg__free(a, buf);
    return e;
}

/* ------------------------------------------------------------ metric frame */

/*
 * Zones measure compactness by distances and areas: the planner works on the layer in
 * its metric frame, with the demand points and candidate sites taken there, and gives
 * the sites back in the layer's CRS. Compactness and balance are ratios, so a layer
 * whose units are unknown (no CRS) is planned in its own coordinates.
 */
typedef struct zframe {
    const lg_layer *layer; /* the layer to plan on (a metric twin or the layer) */
    const lg__metric *m;   /* NULL: the layer's own coordinates */
    lg_zone_options o;     /* with points and sites in the frame */
    double *buf;
} zframe;

static lg_error zf_begin(lg_context *ctx, const char *fn, const lg_layer *layer,
                         const lg_zone_options *opt, zframe *f)
{
    memset(f, 0, sizeof *f);
    f->layer = layer;
    if (opt)
        f->o = *opt;
    const lg__metric *m = NULL;
    if (!layer || !ctx || lg__metric_get(ctx, layer, &m) != LG_OK || !m->usable ||
        (!m->local && m->scale == 1.0)) {
        lg__clear(ctx);
        return LG_OK;
    }
    lg_error e = lg__metric_layer(ctx, layer, fn, &f->layer, &f->m);
    if (e)
        return e;
    size_t n = lg_layer_count(layer), ns = f->o.n_sites;
    size_t need = (f->o.x && f->o.y ? 2 * n : 0) + (f->o.site_x && f->o.site_y ? 2 * ns : 0);
    if (!need)
        return LG_OK;
    if (!(f->buf = lg__malloc(&ctx->alloc, need * sizeof *f->buf)))
        return lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", fn);
    double *b = f->buf;
    if (f->o.x && f->o.y) {
        if ((e = lg__metric_fwd(ctx, f->m, opt->x, opt->y, n, b, b + n)))
            return e;
        f->o.x = b;
        f->o.y = b + n;
        b += 2 * n;
    }
    if (f->o.site_x && f->o.site_y) {
        if ((e = lg__metric_fwd(ctx, f->m, opt->site_x, opt->site_y, ns, b, b + ns)))
            return e;
        f->o.site_x = b;
        f->o.site_y = b + ns;
    }
    return LG_OK;
}

/* Sites back in the layer's CRS: candidates exactly as given, medians transformed. */
static lg_error zf_end(lg_context *ctx, zframe *f, const lg_zone_options *opt, lg_zone_plan *p)
{
    if (!f->m || !p)
        return LG_OK;
    size_t nz = p->nz;
    lg_error e = lg__metric_inv(ctx, f->m, p->site_x, p->site_y, nz, p->site_x, p->site_y);
    for (size_t z = 0; e == LG_OK && z < nz; z++)
        if (p->site_cand[z] >= 0 && opt && opt->site_x && opt->site_y) {
            p->site_x[z] = opt->site_x[p->site_cand[z]];
            p->site_y[z] = opt->site_y[p->site_cand[z]];
        }
    return e;
}

static void zf_free(lg_context *ctx, zframe *f)
{
    if (ctx)
        lg__free(&ctx->alloc, f->buf);
}

lg_error lg_zones_validate(lg_context *ctx, const lg_graph *g, const lg_layer *layer,
                           const int64_t *zone, size_t n, const lg_zone_options *opt,
                           lg_zone_plan **out)
{
    static const char fn[] = "lg_zones_validate";
    lg__clear(ctx);
    if (!out)
        return lg__fail(ctx, LG_ERR_ARG, "%s: no output", fn);
    *out = NULL;
    if (!zone && n)
        return lg__fail(ctx, LG_ERR_ARG, "%s: no zone array", fn);
    zframe f;
    lg_error fe = zf_begin(ctx, fn, layer, opt, &f);
    if (fe) {
        zf_free(ctx, &f);
        return fe;
    }
    const lg_zone_options *uopt = opt;
    layer = f.layer;
    opt = &f.o;
    zw w;
    lg_error e = zw_init(&w, ctx, fn, g, layer, opt);
    if (e == LG_OK && n != w.n)
        e = lg__fail(ctx, LG_ERR_ARG, "%s: %zu zone values for a graph of %zu nodes", fn, n, w.n);
    lg_zone_plan *p = NULL;
    if (e == LG_OK && !(p = plan_new(w.a, w.n)))
        e = lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", fn);
    if (e == LG_OK && (e = validate_core(&w, zone, p)) != LG_OK)
        lg__fail(ctx, e, "%s: out of memory for the problem list", fn);
    if (e == LG_OK) {
        if ((e = finish(&w, layer, opt, p)) != LG_OK && e == LG_ERR_NOMEM)
            lg__fail(ctx, e, "%s: out of memory for sites", fn);
    }
    if (e == LG_OK)
        e = zf_end(ctx, &f, uopt, p);
    zf_free(ctx, &f);
    zw_free(&w);
    if (e != LG_OK) {
        lg_zone_plan_free(p);
        return e;
    }
    *out = p;
    return LG_OK;
}

/* ---------------------------------------------------------------- planning */

typedef struct okey {
    int32_t comp, level;
    uint64_t h;
    int32_t row;
} okey;

static int okey_cmp(const void *pa, const void *pb)
{
    const okey *a = pa, *b = pb;
    if (a->comp != b->comp)
        return a->comp < b->comp ? -1 : 1;
    if (a->level != b->level)
        return a->level < b->level ? -1 : 1;
    if (a->h != b->h)
        return a->h < b->h ? -1 : 1;
    return (a->row > b->row) - (a->row < b->row);
}

/* BFS levels within the component of s; returns the last (farthest) cell, ties by hash. */
static int32_t bfs_levels(zw *w, int32_t s, int32_t *level)
{
    size_t qh = 0, qt = 0;
    uint32_t st = new_stamp(w);
    w->queue[qt++] = s;
    w->stamp[s] = st;
    level[s] = 0;
    int32_t far = s;
    while (qh < qt) {
        int32_t u = w->queue[qh++];
        if (level[u] > level[far] ||
            (level[u] == level[far] && cell_hash(w, (size_t)u) < cell_hash(w, (size_t)far)))
            far = u;
        for (size_t k = w->off[u]; k < w->off[u + 1]; k++) {
            int32_t v = w->adj[k];
            if (w->comp[v] == w->comp[u] && w->stamp[v] != st) {
                w->stamp[v] = st;
                level[v] = level[u] + 1;
                w->queue[qt++] = v;
            }
        }
    }
    return far;
}

static lg_error plan_run(zw *w, const char *fn, const lg_layer *layer, const lg_zone_options *o,
                         lg_zone_plan *p)
{
    const lg_allocator *a = w->a;
    size_t n = w->n;
    lg_error e = LG_OK;
    char rows[512];
    int32_t *level = lg__malloc(a, (n ? n : 1) * sizeof *level);
    okey *ord = lg__malloc(a, (n ? n : 1) * sizeof *ord);
    size_t *csize = lg__calloc(a, n + 1, sizeof *csize);
    int32_t *cstart = lg__malloc(a, (n + 1) * sizeof *cstart);
    double *cwrem = lg__calloc(a, n + 1, sizeof *cwrem);
    int64_t *buf = lg__malloc(a, (n ? n : 1) * sizeof *buf);
    int32_t *cand = lg__malloc(a, (w->U * 64 + 64) * sizeof *cand);
    if (!level || !ord || !csize || !cstart || !cwrem || !buf || !cand) {
        e = lg__fail(w->ctx, LG_ERR_NOMEM, "%s: out of memory for %zu cells", fn, n);
        goto done;
    }
    components(w);
    for (size_t i = 0; i < n; i++) {
        csize[w->comp[i]]++;
        cwrem[w->comp[i]] += w->wt[i];
    }
    /* size feasibility per component; start of each: min hash cell */
    for (size_t c = 0; c < w->ncomp; c++)
        cstart[c] = -1;
    for (size_t i = 0; i < n; i++) {
        int32_t c = w->comp[i];
        if (cstart[c] < 0 || cell_hash(w, i) < cell_hash(w, (size_t)cstart[c]))
            cstart[c] = (int32_t)i;
    }
    for (size_t c = 0; c < w->ncomp; c++) {
        size_t s = csize[c];
        w->comp_ok[c] = s >= w->L && size_ok(w, s);
        if (w->comp_ok[c])
            continue;
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if ((size_t)w->comp[i] == c)
                buf[k++] = (int64_t)i;
        /* note: a scan per bad component; there are few of them in real data */
        if (s < w->L)
            e = add_problem(p, LG_ZONE_PROBLEM_ISLAND, LG_NONE, buf, k,
                            "zones: %zu connected cells%s (%s) are fewer than min_cells %zu", s,
                            w->grp ? " of one group" : "", row_list(rows, sizeof rows, buf, k),
                            w->L);
        else
            e = add_problem(p, LG_ZONE_PROBLEM_COMPONENT_SIZE, LG_NONE, buf, k,
                            "zones: %zu connected cells%s (%s) cannot be cut into zones of "
                            "%zu..%zu cells: %zu is in no range k*%zu..k*%zu",
                            s, w->grp ? " of one group" : "", row_list(rows, sizeof rows, buf, k),
                            w->L, w->U, s, w->L, w->U);
        if (e != LG_OK)
            goto done;
    }
    /* wavefront order: BFS levels from a peripheral cell (double sweep) */
    stamp_room(w, 2 * w->ncomp + 2);
    for (size_t c = 0; c < w->ncomp; c++) {
        if (!w->comp_ok[c])
            continue;
        int32_t far = bfs_levels(w, cstart[c], level);
        bfs_levels(w, far, level);
    }
    size_t no = 0;
    for (size_t i = 0; i < n; i++)
        if (w->comp_ok[w->comp[i]])
            ord[no++] = (okey){w->comp[i], level[i], cell_hash(w, i), (int32_t)i};
    qsort(ord, no, sizeof *ord, okey_cmp);
    /* seed and grow */
    for (size_t oi = 0; oi < no; oi++) {
        int32_t c = ord[oi].row, cc = w->comp[c];
        if (w->zone[c] >= 0)
            continue;
        size_t r = csize[cc];
        size_t mid2 = w->L + w->U, kl = (r + w->U - 1) / w->U, kh = r / w->L;
        size_t k = (2 * r + mid2 / 2) / mid2;
        if (k < kl)
            k = kl;
        if (k > kh)
            k = kh;
        if (k == 0)
            k = 1;
        double wtarget = cwrem[cc] / (double)k;
        int32_t z = zone_new(w, cc);
        grow(w, z, c, cc, wtarget, cand);
        csize[cc] -= (size_t)w->zsize[z];
        cwrem[cc] -= w->zwt[z];
        if (!lg__progress(w->ctx, oi, no)) {
            e = LG_ERR_CANCELLED;
            goto done;
        }
    }
    repair(w, cand);
    /* the improvement objective balances towards the mean zone workload */
    {
        double tw = 0;
        size_t nzc = 0;
        for (size_t z = 0; z < w->nz; z++)
            if (w->zsize[z]) {
                tw += w->zwt[z];
                nzc++;
            }
        w->wbar = nzc ? tw / nzc : 0;
    }
    improve(w, o && o->max_passes ? o->max_passes : Z_DEFAULT_PASSES);
    /* keep valid zones only; number them by their lowest row */
    for (size_t z = 0; z < w->nz; z++) {
        int32_t zz = (int32_t)z;
        size_t s = (size_t)w->zsize[zz];
        if (!s || (s >= w->L && s <= w->U && zone_conn_without(w, zz, -1)))
            continue;
        dissolve(w, zz);
    }
    {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (w->zone[i] < 0 && w->comp_ok[w->comp[i]])
                buf[k++] = (int64_t)i;
        if (k && (e = add_problem(p, LG_ZONE_PROBLEM_UNPLACED, LG_NONE, buf, k,
                                  "zones: %zu cells (%s) could not be put in a contiguous zone "
                                  "of %zu..%zu cells",
                                  k, row_list(rows, sizeof rows, buf, k), w->L, w->U)) != LG_OK)
            goto done;
    }
    for (size_t z = 0; z < w->nz; z++)
        w->zpar[z] = -1;
    size_t nz = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t z = w->zone[i];
        if (z < 0) {
            p->zone[i] = LG_NONE;
            continue;
        }
        if (w->zpar[z] < 0)
            w->zpar[z] = (int32_t)nz++;
        p->zone[i] = w->zpar[z];
    }
    p->nz = nz;
    p->feasible = p->nprobs == 0;
done:
    lg__free(a, level);
    lg__free(a, ord);
    lg__free(a, csize);
    lg__free(a, cstart);
    lg__free(a, cwrem);
    lg__free(a, buf);
    lg__free(a, cand);
    if (e == LG_ERR_NOMEM && lg_context_error(w->ctx) == LG_OK)
        lg__fail(w->ctx, e, "%s: out of memory", fn);
    return e;
}

lg_error lg_zones_plan(lg_context *ctx, const lg_graph *g, const lg_layer *layer,
                       const lg_zone_options *opt, lg_zone_plan **out)
{
    static const char fn[] = "lg_zones_plan";
    lg__clear(ctx);
    if (!out)
        return lg__fail(ctx, LG_ERR_ARG, "%s: no output", fn);
    *out = NULL;
    zframe f;
    lg_error fe = zf_begin(ctx, fn, layer, opt, &f);
    if (fe) {
        zf_free(ctx, &f);
        return fe;
    }
    const lg_zone_options *uopt = opt;
    layer = f.layer;
    opt = &f.o;
    zw w;
    lg_error e = zw_init(&w, ctx, fn, g, layer, opt);
    lg_zone_plan *p = NULL;
    if (e == LG_OK && !(p = plan_new(w.a, w.n)))
        e = lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", fn);
    if (e == LG_OK)
        e = plan_run(&w, fn, layer, opt, p);
    if (e == LG_OK) {
        bool feasible = p->feasible;
        if ((e = finish(&w, layer, opt, p)) != LG_OK && lg_context_error(ctx) == LG_OK)
            lg__fail(ctx, e, "%s: out of memory for sites", fn);
        p->feasible = feasible; /* NO_SITE problems are warnings */
    }
    if (e == LG_OK)
        e = zf_end(ctx, &f, uopt, p);
    zf_free(ctx, &f);
    zw_free(&w);
    if (e != LG_OK) {
        lg_zone_plan_free(p);
        return e;
    }
    *out = p;
    return LG_OK;
}
