/*
 * Fuzz target: the query API on generated layers.
 * Input: byte 0 picks a county (seed 0..3, 10/37/120 cells, 1/3/16 edge vertices;
 * built once and cached, with a copy read back from its snapshot), then 12-byte
 * records, each a query point: a mode byte, a 4-byte vertex index / fraction and
 * more bytes to nudge. Modes: a raw double pair, a fraction of the bounds, a layer
 * vertex, a vertex nudged by a few ulps, a point on an edge between two vertices.
 * Checks, for each point: lg_layer_locate == lg__locate_exact on the built and the
 * snapshot layer; the answer is the lowest row that owns the point (brute force over
 * every cell with lg__cell_owns), or, when none owns it, a cell whose boundary
 * holds it or LG_NONE; locate_many equals the single calls; R-tree k-nearest
 * returns the k smallest box distances (brute force), sorted, ties by id.
 */
#include "fuzz_common.h"

#include <float.h>
#include <math.h>

#define NCOUNTY 36
static lg_layer *cache[NCOUNTY][2];

static lg_layer *county(unsigned k, int snap)
{
    if (cache[k][0])
        return cache[k][snap];
    static const size_t cells[3] = {10, 37, 120};
    static const size_t ev[3] = {1, 3, 16};
    lg_context *ctx = NULL;
    if (lg_context_new(NULL, &ctx) != LG_OK)
        abort();
    lg_synth_options o = {0};
    o.seed = k % 4;
    o.cells = cells[(k / 4) % 3];
    o.edge_vertices = ev[(k / 12) % 3];
    lg_layer *l = NULL;
    if (lg_synth_county(ctx, &o, &l) != LG_OK)
        abort();
    size_t sz = 0, len = 0;
    if (lg_layer_snapshot_size(l, &sz) != LG_OK)
        abort();
    void *buf = malloc(sz);
    if (!buf || lg_layer_snapshot_write(l, buf, sz, &len) != LG_OK)
        abort();
    lg_layer *s = NULL;
    if (lg_layer_read_snapshot(ctx, buf, len, 0, &s) != LG_OK)
        abort();
    free(buf);
    lg_context_free(ctx);
    cache[k][0] = l;
    cache[k][1] = s;
    return cache[k][snap];
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static double nudge(double v, int steps)
{
    for (; steps > 0; steps--)
        v = nextafter(v, INFINITY);
    for (; steps < 0; steps++)
        v = nextafter(v, -INFINITY);
    return v;
}

static double box_dist(const double *b, double x, double y)
{
    double dx = x < b[0] ? b[0] - x : (x > b[2] ? x - b[2] : 0);
    double dy = y < b[1] ? b[1] - y : (y > b[3] ? y - b[3] : 0);
    return sqrt(dx * dx + dy * dy);
}

static void check_point(const lg_layer *l, double x, double y)
{
    int64_t a = lg_layer_locate(l, x, y);
    int64_t e = lg__locate_exact(l, x, y);
    if (a != e) {
        fprintf(stderr, "locate(%.17g, %.17g) = %lld, exact %lld\n", x, y, (long long)a,
                (long long)e);
        abort();
    }
    if (!isfinite(x) || !isfinite(y)) {
        if (a != LG_NONE)
            abort();
        return;
    }
    size_t n = lg_layer_count(l);
    int64_t owner = LG_NONE, touch = LG_NONE;
    for (size_t r = 0; r < n; r++) {
        bool on = false;
        if (lg__cell_owns(l, r, x, y, &on)) {
            if (owner == LG_NONE)
                owner = (int64_t)r;
        } else if (on && touch == LG_NONE) {
            touch = (int64_t)r;
        }
    }
    int64_t want = owner != LG_NONE ? owner : touch;
    if (a != want) {
        fprintf(stderr, "locate(%.17g, %.17g) = %lld, brute force %lld\n", x, y, (long long)a,
                (long long)want);
        abort();
    }
}

static void check_nearest(const lg_layer *l, double x, double y, size_t k)
{
    const lg_rtree *t = lg__layer_rtree(l);
    if (!t)
        abort();
    size_t n = lg_layer_count(l);
    int64_t ids[16];
    double dist[16];
    size_t nf = 0;
    lg_nearest_options o = {0};
    o.k = k;
    if (lg_rtree_nearest(t, x, y, &o, ids, dist, &nf) != LG_OK) {
        if (isfinite(x) && isfinite(y))
            abort();
        return;
    }
    if (!isfinite(x) || !isfinite(y))
        return; /* no promise beyond "no crash" */
    if (nf != (k < n ? k : n))
        abort();
    for (size_t i = 0; i < nf; i++) {
        if (ids[i] < 0 || (size_t)ids[i] >= n)
            abort();
        double d = box_dist(l->cell_box + 4 * ids[i], x, y);
        if (d != dist[i])
            abort();
        if (i > 0 && (dist[i] < dist[i - 1] || (dist[i] == dist[i - 1] && ids[i] < ids[i - 1])))
            abort();
    }
    /* brute force: the number of boxes strictly closer than the k-th must be < k */
    if (nf) {
        size_t closer = 0;
        for (size_t r = 0; r < n; r++)
            if (box_dist(l->cell_box + 4 * r, x, y) < dist[nf - 1])
                closer++;
        if (closer >= nf)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned k = data[0] % NCOUNTY;
    const lg_layer *l = county(k, 0);
    const lg_layer *s = county(k, 1);
    double b[4];
    lg_layer_bounds(l, b);
    double px[64], py[64];
    size_t np = 0;
    for (size_t pos = 1; pos + 12 <= size && np < 64; pos += 12) {
        const uint8_t *p = data + pos;
        uint32_t u = rd32(p + 1), v = rd32(p + 5);
        int8_t n1 = (int8_t)p[9], n2 = (int8_t)p[10];
        double x, y;
        const double *xy = l->xy;
        uint32_t nv = l->nverts;
        switch (p[0] % 6) {
        case 0: /* raw doubles: NaN, infinities, huge values */
            memcpy(&x, p + 1, 4);
            memcpy((char *)&x + 4, p + 5, 4);
            memcpy(&y, p + 3, 8);
            break;
        case 1: /* anywhere around the bounds */
            x = b[0] + (b[2] - b[0]) * ((double)u / UINT32_MAX * 1.2 - 0.1);
            y = b[1] + (b[3] - b[1]) * ((double)v / UINT32_MAX * 1.2 - 0.1);
            break;
        case 2: /* a vertex */
            x = xy[2 * (u % nv)];
            y = xy[2 * (u % nv) + 1];
            break;
        case 3: /* a vertex nudged by a few ulps */
            x = nudge(xy[2 * (u % nv)], n1 % 4);
            y = nudge(xy[2 * (u % nv) + 1], n2 % 4);
            break;
        case 4: { /* on (or next to) the edge from vertex u to u + 1 */
            uint32_t i = u % (nv - 1);
            double t = (double)v / UINT32_MAX;
            x = nudge(xy[2 * i] + t * (xy[2 * i + 2] - xy[2 * i]), n1 % 3);
            y = nudge(xy[2 * i + 1] + t * (xy[2 * i + 3] - xy[2 * i + 1]), n2 % 3);
            break;
        }
        default: /* the same x or y as a vertex (horizontal/vertical rays through it) */
            x = xy[2 * (u % nv)];
            y = b[1] + (b[3] - b[1]) * ((double)v / UINT32_MAX);
            if (p[11] & 1) {
                double t = x;
                x = b[0] + (b[2] - b[0]) * ((double)v / UINT32_MAX);
                y = xy[2 * (u % nv) + 1];
                (void)t;
            }
            break;
        }
        px[np] = x;
        py[np] = y;
        np++;
        check_point(l, x, y);
        check_point(s, x, y);
        if (lg_layer_locate(s, x, y) != lg_layer_locate(l, x, y))
            abort();
        check_nearest(l, x, y, 1 + p[11] % 16);
    }
    int64_t out[64];
    if (lg_layer_locate_many(s, px, py, np, out) != LG_OK)
        abort();
    for (size_t i = 0; i < np; i++)
        if (out[i] != lg_layer_locate(l, px[i], py[i]))
            abort();
    return 0;
}
