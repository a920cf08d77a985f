/*
 * Synthetic county generator: patrol grid cells that share their sides exactly, with
 * wiggly surveyed-looking boundaries, station jurisdictions and attributes.
 *
 * Construction
 *  - A square lattice of cells of size s. Lattice corners are jittered by up to
 *    JITTER * s in x and y; a corner's position is a hash of its lattice index, so the
 *    four cells around it compute the very same coordinates.
 *  - Each lattice side between two corners A and B gets m intermediate points at
 *    t = k / (m + 1), displaced perpendicular to AB by WIGGLE * |AB| * taper(t) * f(t)
 *    with taper(t) = 4 t (1 - t) and |f| <= 1 a hashed value noise of 4 octaves. The
 *    side is generated from its lattice identity in one canonical direction; the two
 *    cells sharing it use the same points, one of them in reverse order.
 *  - Why that is valid: the points are monotone in t, so a side is a simple polyline;
 *    |displacement| <= 4 WIGGLE |AB| min(t, 1 - t), so a side lies in a rhombus around
 *    AB of half-angle atan(4 WIGGLE) = 15.6 deg at each end. With JITTER = 0.15 every
 *    lattice side deviates at most atan(0.3 / 0.7) = 23.2 deg from its axis, so sides
 *    meeting at a corner are at least 43.6 deg apart > 2 * 15.6 deg: the rhombi meet only
 *    at the corner. Sides that share no corner are >= 0.7 s apart while a side strays at
 *    most 0.07 * 1.33 s from its chord. The cells are thus a homeomorphic image of the
 *    lattice squares: no gaps, no overlaps, every ring simple (tests check with GEOS).
 *  - The county is grown from the centre cell, best first by the distance to the centre
 *    divided by a smooth angular radius r(theta) (4 hashed harmonics, r in [0.7, 1.3])
 *    plus a little per-cell noise for a ragged outline. A cell is only added when its
 *    contact with the county is one connected arc containing at least one full side
 *    ("simple" in digital topology), so the county stays a topological disk: connected,
 *    no holes, no cells touching at a single corner only.
 *  - Stations: seed cells drawn without replacement, then a multi-source BFS over
 *    side-sharing neighbours (fixed neighbour order, FIFO) assigns every cell to the
 *    station that reaches it first; every jurisdiction is connected.
 *
 * Determinism: everything derives from the seed through splitmix64 integer hashes; no
 * rand(). Floating point uses only +, -, *, / and sqrt, which IEEE 754 rounds the same
 * everywhere; no libm function (sin, cos, exp, ...) is used, so positions do not depend
 * on the C library. Contraction into fused multiply-add would change last bits: GCC does
 * not contract in ISO C mode (-std=c11, the project's setting) and clang is told not to
 * below. The choice of cells (topology) is made on keys quantised to 1/1024 of a cell, so
 * even a last-bit difference would practically never change which cells are chosen.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define SYNTH_MIN_CELLS 10
#define SYNTH_MAX_CELLS 1000000
#define SYNTH_DEFAULT_CELLS 220
#define SYNTH_DEFAULT_EDGE_VERTICES 16
#define SYNTH_MAX_EDGE_VERTICES 10000
#define SYNTH_DEFAULT_CELL_SIZE_M 1000.0
#define SYNTH_MAX_CELL_SIZE_M 1e6
#define SYNTH_DEFAULT_CRS "EPSG:4545" /* CGCS2000 / 3-degree Gauss-Kruger CM 108E */
#define SYNTH_CENTRE_E 500000.0       /* the central meridian 108E: around Qianjiang */
#define SYNTH_CENTRE_N 3270000.0

#define JITTER 0.15    /* corner jitter, fraction of the cell size, each axis */
#define WIGGLE 0.07    /* largest side displacement, fraction of the side length */
#define RAGGED 0.6     /* per-cell noise on the growth key, in cells */
#define HARMONICS 4    /* of the outline radius r(theta) */
#define OCTAVES 4      /* of the side noise */
#define NOISE_KNOTS 34 /* 3 + 5 + 9 + 17 knots for octave frequencies 2, 4, 8, 16 */
#define MAX_TOWNS 8

enum { TAG_CORNER = 1, TAG_EDGE, TAG_SHAPE, TAG_KEY, TAG_STATION, TAG_TOWN, TAG_POP };

/* ------------------------------------------------------------ hashing */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Hash of (seed, tag, a, b, c); a, b are signed lattice coordinates. */
static uint64_t hash5(uint64_t seed, uint64_t tag, int64_t a, int64_t b, uint64_t c)
{
    uint64_t h = mix64(seed ^ mix64(tag * 0x9e3779b97f4a7c15ull));
    h = mix64(h + (uint64_t)a * 0xd1b54a32d192ed03ull);
    h = mix64(h + (uint64_t)b * 0xaef17502108ef2d9ull);
    return mix64(h + c * 0x9e3779b97f4a7c15ull);
}

/* splitmix64 stream */
static uint64_t next64(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15ull;
    return mix64(*state);
}

/* [0, 1) with 53 random bits: exact on every platform. */
static double unit01(uint64_t h)
{
    return (double)(h >> 11) * 0x1p-53;
}

/* [-1, 1) */
static double sym01(uint64_t h)
{
    return 2.0 * unit01(h) - 1.0;
}

/* ------------------------------------------------------------ options */

typedef struct synth_cfg {
    uint64_t seed;
    size_t n;        /* cells */
    size_t stations; /* station count */
    size_t m;        /* points added along each side */
    double s;        /* cell size, metres */
    const char *crs;
} synth_cfg;

static lg_error synth_config(lg_context *ctx, const char *fn, const lg_synth_options *opt,
                             synth_cfg *c)
{
    lg_synth_options d = {0};
    if (!opt)
        opt = &d;
    c->seed = opt->seed;
    c->n = opt->cells ? opt->cells : SYNTH_DEFAULT_CELLS;
    if (c->n < SYNTH_MIN_CELLS || c->n > SYNTH_MAX_CELLS)
        return lg__fail(ctx, LG_ERR_ARG,
                        "%s: option cells = %zu is out of range (%d..%d, or 0 for %d)", fn,
                        opt->cells, SYNTH_MIN_CELLS, SYNTH_MAX_CELLS, SYNTH_DEFAULT_CELLS);
    c->stations = opt->stations ? opt->stations : (c->n / 9 ? c->n / 9 : 1);
    if (c->stations > c->n)
        return lg__fail(ctx, LG_ERR_ARG,
                        "%s: option stations = %zu exceeds the number of cells (%zu)", fn,
                        opt->stations, c->n);
    double s = opt->cell_size_m;
    if (s == 0)
        s = SYNTH_DEFAULT_CELL_SIZE_M;
    if (!(s > 0 && s <= SYNTH_MAX_CELL_SIZE_M)) /* also rejects NaN */
        return lg__fail(ctx, LG_ERR_ARG,
                        "%s: option cell_size_m = %g is not in (0, %g] metres (or 0 for %g)", fn,
                        opt->cell_size_m, SYNTH_MAX_CELL_SIZE_M, SYNTH_DEFAULT_CELL_SIZE_M);
    c->s = s;
    c->m = opt->edge_vertices ? opt->edge_vertices : SYNTH_DEFAULT_EDGE_VERTICES;
    if (c->m > SYNTH_MAX_EDGE_VERTICES)
        return lg__fail(ctx, LG_ERR_ARG,
                        "%s: option edge_vertices = %zu is out of range (1..%d, or 0 for %d)", fn,
                        opt->edge_vertices, SYNTH_MAX_EDGE_VERTICES, SYNTH_DEFAULT_EDGE_VERTICES);
    uint64_t ring_len = 4 * ((uint64_t)c->m + 1) + 1;
    if (ring_len * c->n > UINT32_MAX)
        return lg__fail(ctx, LG_ERR_ARG,
                        "%s: %zu cells with edge_vertices = %zu make %llu vertices, more than "
                        "a layer holds (%u)",
                        fn, c->n, c->m, (unsigned long long)(ring_len * c->n),
                        (unsigned)UINT32_MAX);
    c->crs = opt->crs ? opt->crs : SYNTH_DEFAULT_CRS;
    return LG_OK;
}

/* --------------------------------------------------------------- plan */

/* Which lattice cells form the county, and the station seeds. */
typedef struct synth_plan {
    synth_cfg c;
    const lg_allocator *a;
    size_t G;       /* the lattice has G x G cells; cell (i, j) has index j * G + i */
    int64_t centre; /* lattice index of the centre cell in each axis */
    uint32_t *cell; /* n lattice indices, in row order */
    uint32_t *seed; /* stations: row of each station's seed cell, ascending */
    double x0, y0;  /* position of relative corner (0, 0) before jitter */
    double shape_a[HARMONICS], shape_p[HARMONICS], shape_q[HARMONICS];
} synth_plan;

static void plan_free(synth_plan *p)
{
    lg__free(p->a, p->cell);
    lg__free(p->a, p->seed);
    p->cell = p->seed = NULL;
}

static size_t isqrt(size_t n)
{
    size_t r = 0;
    while ((r + 1) * (r + 1) <= n)
        r++;
    return r;
}

/* Growth key of cell (dx, dy) relative to the centre: quantised distance, then index. */
static uint64_t cell_key(const synth_plan *p, int64_t dx, int64_t dy, uint32_t idx)
{
    double fx = (double)dx, fy = (double)dy;
    double rho = sqrt(fx * fx + fy * fy);
    double d = 0;
    if (rho > 0) {
        double u = fx / rho, v = fy / rho; /* cos(theta), sin(theta) */
        double ck = u, sk = v, r = 1.0;
        for (int k = 0; k < HARMONICS; k++) {
            double t1 = ck * p->shape_p[k];
            double t2 = sk * p->shape_q[k];
            double t = t1 + t2;
            double at = p->shape_a[k] * t;
            r += at;
            /* cos/sin((k + 2) theta) by the angle-addition recurrence */
            double c1 = ck * u, c2 = sk * v, s1 = sk * u, s2 = ck * v;
            ck = c1 - c2;
            sk = s1 + s2;
        }
        d = rho / r;
    }
    d += RAGGED * sym01(hash5(p->c.seed, TAG_KEY, dx, dy, 0));
    uint64_t q = (uint64_t)((d + 4.0) * 1024.0);
    return (q << 32) | idx;
}

/* Binary min-heap of keys. */
typedef struct heap {
    uint64_t *v;
    size_t n, cap;
} heap;

static lg_error heap_push(const lg_allocator *a, heap *h, uint64_t k)
{
    if (lg__grow(a, (void **)&h->v, &h->cap, h->n + 1, sizeof *h->v))
        return LG_ERR_NOMEM;
    size_t i = h->n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (h->v[up] <= k)
            break;
        h->v[i] = h->v[up];
        i = up;
    }
    h->v[i] = k;
    return LG_OK;
}

static uint64_t heap_pop(heap *h)
{
    uint64_t top = h->v[0], k = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1] < h->v[c])
            c++;
        if (k <= h->v[c])
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n)
        h->v[i] = k;
    return top;
}

enum { ST_IN = 1, ST_QUEUED = 2 };

/*
 * True if adding cell idx keeps the county a disk: the closed square's contact with the
 * county (sides of 4-neighbours, corners touched by any cell) is one arc containing a
 * side, and not the whole boundary. The 8 boundary pieces in cyclic order are
 * side N, corner NE, side E, corner SE, side S, corner SW, side W, corner NW.
 */
static bool is_simple(const uint8_t *st, size_t G, size_t idx)
{
    bool n = st[idx + G] & ST_IN, e = st[idx + 1] & ST_IN;
    bool s = st[idx - G] & ST_IN, w = st[idx - 1] & ST_IN;
    if (!(n || e || s || w))
        return false;
    bool ne = n || e || (st[idx + G + 1] & ST_IN);
    bool se = s || e || (st[idx - G + 1] & ST_IN);
    bool sw = s || w || (st[idx - G - 1] & ST_IN);
    bool nw = n || w || (st[idx + G - 1] & ST_IN);
    unsigned m = (unsigned)n | (unsigned)ne << 1 | (unsigned)e << 2 | (unsigned)se << 3 |
                 (unsigned)s << 4 | (unsigned)sw << 5 | (unsigned)w << 6 | (unsigned)nw << 7;
    if (m == 0xff)
        return false;
    int runs = 0;
    for (int b = 0; b < 8; b++)
        runs += ((m >> b) & 1) && !((m >> ((b + 7) & 7)) & 1);
    return runs == 1;
}

static lg_error grow_county(lg_context *ctx, const char *fn, synth_plan *p)
{
    const lg_allocator *a = p->a;
    size_t G = p->G, n = p->c.n;
    uint8_t *st = lg__calloc(a, G * G, 1);
    heap h = {0};
    lg_error e = LG_OK;
    if (!st) {
        e = lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    size_t c0 = (size_t)p->centre * G + (size_t)p->centre;
    if (heap_push(a, &h, cell_key(p, 0, 0, (uint32_t)c0))) {
        e = lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    st[c0] = ST_QUEUED;
    size_t count = 0;
    while (count < n) {
        if (h.n == 0) {
            e = lg__fail(ctx, LG_ERR_INTERNAL, "%s: county growth stopped at %zu of %zu cells", fn,
                         count, n);
            goto done;
        }
        size_t idx = (uint32_t)heap_pop(&h);
        st[idx] &= (uint8_t)~ST_QUEUED;
        if (count > 0 && !is_simple(st, G, idx))
            continue; /* re-queued when a neighbour joins */
        st[idx] |= ST_IN;
        count++;
        size_t i = idx % G, j = idx / G;
        for (int dj = -1; dj <= 1; dj++)
            for (int di = -1; di <= 1; di++) {
                size_t ni = i + (size_t)(ptrdiff_t)di, nj = j + (size_t)(ptrdiff_t)dj;
                /* keep a free ring around the lattice so is_simple never reads outside */
                if (ni < 1 || nj < 1 || ni > G - 2 || nj > G - 2)
                    continue;
                size_t nb = nj * G + ni;
                if (st[nb] & (ST_IN | ST_QUEUED))
                    continue;
                uint64_t k =
                    cell_key(p, (int64_t)ni - p->centre, (int64_t)nj - p->centre, (uint32_t)nb);
                if (heap_push(a, &h, k)) {
                    e = lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", fn);
                    goto done;
                }
                st[nb] |= ST_QUEUED;
            }
    }
    /* rows: north to south, west to east */
    p->cell = lg__malloc(a, n * sizeof *p->cell);
    if (!p->cell) {
        e = lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    size_t r = 0;
    for (size_t j = G; j-- > 0;)
        for (size_t i = 0; i < G; i++)
            if (st[j * G + i] & ST_IN)
                p->cell[r++] = (uint32_t)(j * G + i);
done:
    lg__free(a, st);
    lg__free(a, h.v);
    return e;
}

static int cmp_u32(const void *pa, const void *pb)
{
    uint32_t x = *(const uint32_t *)pa, y = *(const uint32_t *)pb;
    return (x > y) - (x < y);
}

static lg_error plan_make(lg_context *ctx, const char *fn, const lg_synth_options *opt,
                          synth_plan *p)
{
    memset(p, 0, sizeof *p);
    p->a = &ctx->alloc;
    lg_error e = synth_config(ctx, fn, opt, &p->c);
    if (e)
        return e;
    size_t n = p->c.n;
    /* r(theta) in [0.7, 1.3]: the county reaches at most 1.3 / 0.7 * sqrt(n / pi) + 1
       cells from the centre; 1.3 sqrt(n) + 8 leaves room for the ragged edge */
    p->G = 2 * ((13 * isqrt(n) + 9) / 10 + 8) + 1;
    p->centre = (int64_t)(p->G / 2);
    double s = p->c.s;
    p->x0 = SYNTH_CENTRE_E - 0.5 * s;
    p->y0 = SYNTH_CENTRE_N - 0.5 * s;
    static const double amp[HARMONICS] = {0.10, 0.09, 0.06, 0.05};
    uint64_t rs = hash5(p->c.seed, TAG_SHAPE, 0, 0, 0);
    for (int k = 0; k < HARMONICS; k++) {
        p->shape_a[k] = amp[k] * (0.3 + 0.7 * unit01(next64(&rs)));
        /* a uniformly random phase as a unit vector, by rejection: no sin/cos */
        double x, y, q;
        do {
            x = sym01(next64(&rs));
            y = sym01(next64(&rs));
            q = x * x + y * y;
        } while (q > 1.0 || q < 0.01);
        q = sqrt(q);
        p->shape_p[k] = x / q;
        p->shape_q[k] = y / q;
    }
    if ((e = grow_county(ctx, fn, p)) != LG_OK)
        return e;

    /* station seeds: a partial Fisher-Yates shuffle of the rows, then sorted */
    size_t ns = p->c.stations;
    uint32_t *rows = lg__malloc(p->a, n * sizeof *rows);
    p->seed = lg__malloc(p->a, ns * sizeof *p->seed);
    if (!rows || !p->seed) {
        lg__free(p->a, rows);
        plan_free(p);
        return lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", fn);
    }
    for (size_t r = 0; r < n; r++)
        rows[r] = (uint32_t)r;
    uint64_t ss = hash5(p->c.seed, TAG_STATION, 0, 0, 0);
    for (size_t k = 0; k < ns; k++) {
        size_t j = k + (size_t)(next64(&ss) % (uint64_t)(n - k));
        uint32_t t = rows[k];
        rows[k] = rows[j];
        rows[j] = t;
    }
    memcpy(p->seed, rows, ns * sizeof *rows);
    lg__free(p->a, rows);
    qsort(p->seed, ns, sizeof *p->seed, cmp_u32);
    return LG_OK;
}

/* ----------------------------------------------------------- geometry */

/* Jittered position of lattice corner (ci, cj), relative to the centre cell's corner. */
static void corner_xy(const synth_plan *p, int64_t ci, int64_t cj, double *x, double *y)
{
    uint64_t h = hash5(p->c.seed, TAG_CORNER, ci, cj, 0);
    double jx = JITTER * sym01(h);
    double jy = JITTER * sym01(mix64(h));
    double s = p->c.s;
    double ox = ((double)ci + jx) * s, oy = ((double)cj + jy) * s;
    *x = p->x0 + ox;
    *y = p->y0 + oy;
}

/*
 * The m intermediate points of the side from corner A to corner B, in that (canonical)
 * direction, into out[2 * m]. dir: 0 for A = (ci, cj), B = (ci + 1, cj); 1 for
 * B = (ci, cj + 1).
 */
static void side_points(const synth_plan *p, int64_t ci, int64_t cj, unsigned dir, double ax,
                        double ay, double bx, double by, double *out)
{
    uint64_t st = hash5(p->c.seed, TAG_EDGE, ci, cj, dir);
    double knot[NOISE_KNOTS];
    for (int k = 0; k < NOISE_KNOTS; k++)
        knot[k] = sym01(next64(&st));
    double ex = bx - ax, ey = by - ay;
    double px = -ey, py = ex; /* perpendicular, same length as the side */
    size_t m = p->c.m;
    double inv = 1.0 / (double)(m + 1);
    for (size_t k = 1; k <= m; k++) {
        double t = (double)k * inv;
        double f = 0, w = 1.0;
        int base = 0;
        for (int o = 0; o < OCTAVES; o++) {
            int freq = 2 << o;
            double xt = t * (double)freq;
            int kn = (int)xt; /* xt >= 0: truncation is floor */
            if (kn >= freq)
                kn = freq - 1;
            double fr = xt - (double)kn;
            double v0 = knot[base + kn], v1 = knot[base + kn + 1];
            double dv = v1 - v0, iv = dv * fr, val = v0 + iv;
            f += w * val;
            w *= 0.5;
            base += freq + 1;
        }
        f *= 1.0 / 1.875; /* sum of the octave weights: |f| <= 1 */
        double taper = 4.0 * t * (1.0 - t);
        double d = WIGGLE * taper * f;
        double tx = t * ex, ty = t * ey, dx = d * px, dy = d * py;
        out[2 * (k - 1)] = ax + tx + dx;
        out[2 * (k - 1) + 1] = ay + ty + dy;
    }
}

/*
 * The sides of the cell being built, each in canonical direction (south and north west
 * to east, west and east south to north). Cells come north to south, west to east, so
 * a cell's north side is the south side of the cell above, computed one row earlier,
 * and its west side the east side of the previous cell: those are reused, so every side
 * is computed once (and shared sides are copies, not recomputations).
 */
typedef struct side_cache {
    double *south;          /* G sides of 2 m doubles: south side of the last cell in column i */
    int64_t *south_row;     /* lattice row j whose south side column i holds; -1 none */
    double *east;           /* east side of the previous cell */
    int64_t east_i, east_j; /* its lattice cell; -1 none */
    double *tmp_n, *tmp_w;
} side_cache;

/* Closed counter-clockwise ring of lattice cell idx into xy[2 * (4 (m + 1) + 1)]. */
static void cell_ring(const synth_plan *p, size_t idx, side_cache *sc, double *xy)
{
    size_t m = p->c.m;
    size_t i = idx % p->G;
    int64_t j = (int64_t)(idx / p->G);
    int64_t ci = (int64_t)i - p->centre, cj = j - p->centre;
    double x00, y00, x10, y10, x11, y11, x01, y01;
    corner_xy(p, ci, cj, &x00, &y00);
    corner_xy(p, ci + 1, cj, &x10, &y10);
    corner_xy(p, ci + 1, cj + 1, &x11, &y11);
    corner_xy(p, ci, cj + 1, &x01, &y01);

    double *south = sc->south + 2 * m * i;
    const double *north = south;
    if (sc->south_row[i] != j + 1) {
        side_points(p, ci, cj + 1, 0, x01, y01, x11, y11, sc->tmp_n);
        north = sc->tmp_n;
    }
    const double *west = sc->east;
    if (sc->east_i != (int64_t)i - 1 || sc->east_j != j) {
        side_points(p, ci, cj, 1, x00, y00, x01, y01, sc->tmp_w);
        west = sc->tmp_w;
    }
    size_t v = 0;
    /* north side, walked backwards */
    xy[2 * v] = x11, xy[2 * v + 1] = y11, v++;
    for (size_t k = m; k-- > 0; v++)
        xy[2 * v] = north[2 * k], xy[2 * v + 1] = north[2 * k + 1];
    /* west side, walked backwards */
    xy[2 * v] = x01, xy[2 * v + 1] = y01, v++;
    for (size_t k = m; k-- > 0; v++)
        xy[2 * v] = west[2 * k], xy[2 * v + 1] = west[2 * k + 1];
    /* the south and east sides replace the cached north and west ones, now copied */
    side_points(p, ci, cj, 0, x00, y00, x10, y10, south);
    sc->south_row[i] = j;
    side_points(p, ci + 1, cj, 1, x10, y10, x11, y11, sc->east);
    sc->east_i = (int64_t)i;
    sc->east_j = j;
    xy[2 * v] = x00, xy[2 * v + 1] = y00, v++;
    memcpy(xy + 2 * v, south, 2 * m * sizeof *xy);
    v += m;
    xy[2 * v] = x10, xy[2 * v + 1] = y10, v++;
    memcpy(xy + 2 * v, sc->east, 2 * m * sizeof *xy);
    v += m;
    xy[2 * v] = x11, xy[2 * v + 1] = y11;
}

/* ----------------------------------------------------------- attributes */

typedef struct town {
    double x, y; /* relative lattice position */
    double w;    /* weight */
    double inv2; /* 1 / sigma^2 */
} town;

static size_t make_towns(const synth_plan *p, town *t)
{
    size_t n = p->c.n, nt = 1 + n / 150;
    if (nt > MAX_TOWNS)
        nt = MAX_TOWNS;
    double root = (double)isqrt(n);
    uint64_t rs = hash5(p->c.seed, TAG_TOWN, 0, 0, 0);
    for (size_t k = 0; k < nt; k++) {
        double sigma;
        if (k == 0) { /* the county seat, at the centre */
            t[k].x = t[k].y = 0;
            t[k].w = 1.0;
            sigma = 0.06 * root;
            if (sigma < 1.0)
                sigma = 1.0;
        } else {
            size_t idx = p->cell[next64(&rs) % n];
            t[k].x = (double)((int64_t)(idx % p->G) - p->centre);
            t[k].y = (double)((int64_t)(idx / p->G) - p->centre);
            t[k].w = 0.25 + 0.35 * unit01(next64(&rs));
            sigma = 0.03 * root;
            if (sigma < 0.8)
                sigma = 0.8;
            sigma *= 0.7 + 0.6 * unit01(next64(&rs));
        }
        t[k].inv2 = 1.0 / (sigma * sigma);
    }
    return nt;
}

/* Urban density 0..~1 at relative lattice position (x, y): Cauchy bumps, no libm. */
static double urban(const town *t, size_t nt, double x, double y)
{
    double d = 0;
    for (size_t k = 0; k < nt; k++) {
        double dx = x - t[k].x, dy = y - t[k].y;
        double q = (dx * dx + dy * dy) * t[k].inv2;
        d += t[k].w / (1.0 + q);
    }
    return d;
}

/* ------------------------------------------------------------ public */

lg_error lg_synth_county(lg_context *ctx, const lg_synth_options *opt, lg_layer **out)
{
    static const char fn[] = "lg_synth_county";
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!out)
        return lg__fail(ctx, LG_ERR_ARG, "%s: out is required", fn);
    *out = NULL;
    synth_plan p;
    lg_error e = plan_make(ctx, fn, opt, &p);
    if (e)
        return e;
    const lg_allocator *a = p.a;
    size_t n = p.c.n, m = p.c.m, G = p.G;
    size_t ring_len = 4 * (m + 1) + 1;
    int32_t *row_of = lg__malloc(a, G * G * sizeof *row_of);
    int32_t *station = lg__malloc(a, n * sizeof *station);
    uint32_t *queue = lg__malloc(a, n * sizeof *queue);
    double *xy = lg__malloc(a, 2 * ring_len * sizeof *xy);
    side_cache sc = {0};
    sc.south = lg__malloc(a, 2 * m * G * sizeof *sc.south);
    sc.south_row = lg__malloc(a, G * sizeof *sc.south_row);
    sc.east = lg__malloc(a, 2 * m * sizeof *sc.east);
    sc.tmp_n = lg__malloc(a, 2 * m * sizeof *sc.tmp_n);
    sc.tmp_w = lg__malloc(a, 2 * m * sizeof *sc.tmp_w);
    sc.east_i = sc.east_j = -1;
    lg_builder *b = NULL;
    if (!row_of || !station || !queue || !xy || !sc.south || !sc.south_row || !sc.east ||
        !sc.tmp_n || !sc.tmp_w) {
        e = lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }

    for (size_t k = 0; k < G; k++)
        sc.south_row[k] = -1;

    /* jurisdictions: multi-source BFS from the seeds over side-sharing neighbours */
    for (size_t k = 0; k < G * G; k++)
        row_of[k] = -1;
    for (size_t r = 0; r < n; r++) {
        row_of[p.cell[r]] = (int32_t)r;
        station[r] = -1;
    }
    size_t qh = 0, qt = 0;
    for (size_t k = 0; k < p.c.stations; k++) {
        station[p.seed[k]] = (int32_t)k;
        queue[qt++] = p.seed[k];
    }
    while (qh < qt) {
        uint32_t r = queue[qh++];
        size_t idx = p.cell[r];
        /* the county never touches the lattice border, so idx +- 1, +- G are inside */
        size_t nb[4] = {idx + G, idx + 1, idx - G, idx - 1};
        for (int k = 0; k < 4; k++) {
            int32_t q = row_of[nb[k]];
            if (q >= 0 && station[q] < 0) {
                station[q] = station[r];
                queue[qt++] = (uint32_t)q;
            }
        }
    }
    if (qt != n) { /* the county is connected by construction */
        e = lg__fail(ctx, LG_ERR_INTERNAL, "%s: %zu of %zu cells unreachable", fn, n - qt, n);
        goto done;
    }

    town towns[MAX_TOWNS];
    size_t nt = make_towns(&p, towns);
    double area_km2 = p.c.s * p.c.s * 1e-6;

    size_t f_id, f_station, f_pop, f_calls;
    if ((e = lgb_new(ctx, "synth", LG_LOAD_NO_VALIDATE, &b)) != LG_OK ||
        (e = lgb_add_field(b, "cell_id", LG_FIELD_INT, &f_id)) != LG_OK ||
        (e = lgb_add_field(b, "station", LG_FIELD_INT, &f_station)) != LG_OK ||
        (e = lgb_add_field(b, "population", LG_FIELD_INT, &f_pop)) != LG_OK ||
        (e = lgb_add_field(b, "calls", LG_FIELD_INT, &f_calls)) != LG_OK ||
        (e = lgb_reserve(b, n, n * ring_len)) != LG_OK)
        goto done;
    for (size_t r = 0; r < n; r++) {
        if ((r & 0xffff) == 0 && r > 0 && !lg__progress(ctx, r, n)) {
            e = LG_ERR_CANCELLED;
            goto done;
        }
        size_t idx = p.cell[r];
        cell_ring(&p, idx, &sc, xy);
        int64_t ci = (int64_t)(idx % G) - p.centre, cj = (int64_t)(idx / G) - p.centre;
        double u = urban(towns, nt, (double)ci, (double)cj);
        uint64_t h = hash5(p.c.seed, TAG_POP, ci, cj, 0);
        double pop = (120.0 + 9000.0 * u) * area_km2 * (0.5 + unit01(h));
        double rate = (0.03 + 0.12 * u) * (0.6 + 0.8 * unit01(mix64(h)));
        int64_t ipop = (int64_t)(pop + 0.5);
        int64_t icalls = (int64_t)((double)ipop * rate + 0.5);
        if ((e = lgb_begin_cell(b)) != LG_OK || (e = lgb_add_ring(b, xy, ring_len, false)) ||
            (e = lgb_set_int(b, f_id, (int64_t)r + 1)) ||
            (e = lgb_set_int(b, f_station, station[r])) || (e = lgb_set_int(b, f_pop, ipop)) ||
            (e = lgb_set_int(b, f_calls, icalls)) || (e = lgb_end_cell(b)))
            goto done;
    }
    if (!lg__progress(ctx, n, n)) {
        e = LG_ERR_CANCELLED;
        goto done;
    }
    e = lgb_finish(b, p.c.crs, "cell_id", out);
    b = NULL; /* consumed */
    if (e == LG_OK && opt &&
        (e = lg__layer_limit_accel(ctx, *out, opt->accel_max_bytes)) != LG_OK) {
        lg_layer_free(*out);
        *out = NULL;
    }
done:
    lgb_free(b);
    lg__free(a, row_of);
    lg__free(a, station);
    lg__free(a, queue);
    lg__free(a, xy);
    lg__free(a, sc.south);
    lg__free(a, sc.south_row);
    lg__free(a, sc.east);
    lg__free(a, sc.tmp_n);
    lg__free(a, sc.tmp_w);
    plan_free(&p);
    return e;
}

lg_error lg_synth_stations(lg_context *ctx, const lg_synth_options *opt, double *x, double *y,
                           size_t cap, size_t *n_out)
{
    static const char fn[] = "lg_synth_stations";
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!n_out)
        return lg__fail(ctx, LG_ERR_ARG, "%s: n_out is required", fn);
    *n_out = 0;
    synth_cfg c;
    lg_error e = synth_config(ctx, fn, opt, &c);
    if (e)
        return e;
    *n_out = c.stations;
    if (cap < c.stations)
        return lg__fail(ctx, LG_ERR_CAPACITY, "%s: room for %zu stations, %zu needed", fn, cap,
                        c.stations);
    if (!x || !y)
        return lg__fail(ctx, LG_ERR_ARG, "%s: x and y are required", fn);
    synth_plan p;
    if ((e = plan_make(ctx, fn, opt, &p)) != LG_OK)
        return e;
    /* the mean of the seed cell's corners: inside its convex corner quad, far (>= 0.25
       cells) from the quad's sides, farther than the side wiggle (<= 0.1 cells) */
    for (size_t k = 0; k < c.stations; k++) {
        size_t idx = p.cell[p.seed[k]];
        int64_t ci = (int64_t)(idx % p.G) - p.centre, cj = (int64_t)(idx / p.G) - p.centre;
        double cx[4], cy[4];
        corner_xy(&p, ci, cj, &cx[0], &cy[0]);
        corner_xy(&p, ci + 1, cj, &cx[1], &cy[1]);
        corner_xy(&p, ci + 1, cj + 1, &cx[2], &cy[2]);
        corner_xy(&p, ci, cj + 1, &cx[3], &cy[3]);
        x[k] = ((cx[0] + cx[1]) + (cx[2] + cx[3])) * 0.25;
        y[k] = ((cy[0] + cy[1]) + (cy[2] + cy[3])) * 0.25;
    }
    plan_free(&p);
    return LG_OK;
}
