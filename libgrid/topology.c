/*
 * Topology: adjacency of cells by shared boundary length, and weighted graphs.
 *
 * Adjacency works in two passes.
 *
 *  1. Exact pass. Every segment of every ring is hashed on the exact bit patterns of
 *     its two endpoints (doubles, -0.0 folded into +0.0), ordered so that a segment
 *     and its reverse give the same key. Two cells that hold the same segment share
 *     it; the shared length of a pair is the sum of the lengths of its shared
 *     segments. No quantisation: two endpoints match only when they are equal. The
 *     cells are visited in row order and a segment is compared only with those of
 *     earlier rows, so each pair is found once. Segments that no other cell holds
 *     exactly are marked "unmatched".
 *
 *  2. Near pass (GEOS), for real data: slivers, small gaps and edges split at
 *     different vertices. Only unmatched linework takes part, so the exact pass does
 *     nearly all the work on clean data (a generated county calls GEOS for a few
 *     pairs along its outline only). Candidates are pairs of cells whose unmatched
 *     linework boxes come within gap of each other. For a candidate pair with
 *     unmatched linework U_A, U_B the near-shared length in one direction is
 *
 *         sum over the connected pieces P of U_A ∩ buffer(U_B, gap) of
 *             length(P) - 4 gap   (clipped at 0; nothing subtracted for closed pieces)
 *
 *     and the pair's length is the mean of both directions (symmetric). The 4 gap
 *     removes the arms of the two boundaries that come within gap of each other
 *     around a point contact: where two boundaries meet at an angle t, each arm
 *     within gap of the other is at most gap / sin t long, so contacts at angles of
 *     30 degrees or more measure 0 (a right angle: two arms of gap each). A stretch
 *     of length L along a gap is measured as about L - 2 gap (its end arms give back
 *     up to 2 gap). The buffer is inclusive: a gap of exactly gap counts.
 *     The near length is added to the exact length of the pair. Unmatched linework
 *     of one cell near the exactly shared edge of two others (an overlap intruding
 *     across an edge) is not counted.
 *
 *  Edges whose total length is below min_shared_m are dropped.
 *
 * Graphs are CSR: offsets per node, neighbours sorted ascending, weights beside.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ADJ_DEFAULT_GAP_M 2.0
#define ADJ_DEFAULT_MIN_SHARED_M 1.0

struct lg_graph {
    lg_allocator alloc;
    size_t n;     /* nodes */
    size_t m;     /* undirected edges */
    size_t *off;  /* n + 1 */
    int64_t *nbr; /* 2 m */
    double *w;    /* 2 m */
};

/* ------------------------------------------------------------------ graphs */

typedef struct pair_list {
    int64_t *a, *b;
    double *w;
    size_t n, cap;
} pair_list;

static void pairs_free(const lg_allocator *al, pair_list *p)
{
    lg__free(al, p->a);
    lg__free(al, p->b);
    lg__free(al, p->w);
    memset(p, 0, sizeof *p);
}

static lg_error pairs_push(const lg_allocator *al, pair_list *p, int64_t a, int64_t b, double w)
{
    if (p->n == p->cap) {
        size_t c1 = p->cap, c2 = p->cap, c3 = p->cap;
        if (lg__grow(al, (void **)&p->a, &c1, p->n + 1, sizeof *p->a) ||
            lg__grow(al, (void **)&p->b, &c2, p->n + 1, sizeof *p->b) ||
            lg__grow(al, (void **)&p->w, &c3, p->n + 1, sizeof *p->w))
            return LG_ERR_NOMEM;
        p->cap = c1 < c2 ? (c1 < c3 ? c1 : c3) : (c2 < c3 ? c2 : c3);
    }
    p->a[p->n] = a;
    p->b[p->n] = b;
    p->w[p->n] = w;
    p->n++;
    return LG_OK;
}

typedef struct nw {
    int64_t node;
    double w;
} nw;

static int cmp_nw(const void *pa, const void *pb)
{
    const nw *a = pa, *b = pb;
    return (a->node > b->node) - (a->node < b->node);
}

/*
 * Build a CSR graph from undirected edges (validated by the caller): duplicates
 * merged with summed weights, edges lighter than min_w dropped. NULL on no memory.
 */
static lg_graph *graph_build(const lg_allocator *al, size_t n, const int64_t *a, const int64_t *b,
                             const double *w, size_t m, double min_w)
{
    lg_graph *g = lg__calloc(al, 1, sizeof *g);
    if (!g)
        return NULL;
    g->alloc = *al;
    g->n = n;
    g->off = lg__calloc(al, n + 1, sizeof *g->off);
    nw *tmp = NULL;
    if (!g->off || (m && !(tmp = lg__calloc(al, 2 * m, sizeof *tmp))))
        goto nomem;
    for (size_t i = 0; i < m; i++) {
        g->off[a[i] + 1]++;
        g->off[b[i] + 1]++;
    }
    for (size_t i = 0; i < n; i++)
        g->off[i + 1] += g->off[i];
    size_t *fill = lg__malloc(al, (n + 1) * sizeof *fill);
    if (!fill)
        goto nomem;
    memcpy(fill, g->off, (n + 1) * sizeof *fill);
    for (size_t i = 0; i < m; i++) {
        double wi = w ? w[i] : 1.0;
        tmp[fill[a[i]]++] = (nw){b[i], wi};
        tmp[fill[b[i]]++] = (nw){a[i], wi};
    }
    lg__free(al, fill);
    /* sort, merge duplicates, drop light edges; compact in place */
    size_t out = 0;
    for (size_t v = 0; v < n; v++) {
        size_t s = g->off[v], e = g->off[v + 1];
        qsort(tmp + s, e - s, sizeof *tmp, cmp_nw);
        g->off[v] = out;
        for (size_t i = s; i < e;) {
            nw cur = tmp[i++];
            while (i < e && tmp[i].node == cur.node)
                cur.w += tmp[i++].w;
            if (!(cur.w < min_w))
                tmp[out++] = cur;
        }
    }
    g->off[n] = out;
    g->m = out / 2;
    g->nbr = lg__malloc(al, out * sizeof *g->nbr);
    g->w = lg__malloc(al, out * sizeof *g->w);
    if (!g->nbr || !g->w)
        goto nomem;
    for (size_t i = 0; i < out; i++) {
        g->nbr[i] = tmp[i].node;
        g->w[i] = tmp[i].w;
    }
    lg__free(al, tmp);
    return g;
nomem:
    lg__free(al, tmp);
    lg_graph_free(g);
    return NULL;
}

lg_error lg_graph_new(lg_context *ctx, size_t n_nodes, const int64_t *a, const int64_t *b,
                      const double *w, size_t n_edges, lg_graph **out)
{
    lg__clear(ctx);
    if (!ctx || !out || (n_edges && (!a || !b)))
        return lg__fail(ctx, LG_ERR_ARG, "lg_graph_new: NULL argument");
    *out = NULL;
    if (n_nodes >= (size_t)INT64_MAX)
        return lg__fail(ctx, LG_ERR_ARG, "lg_graph_new: %zu nodes is too many", n_nodes);
    for (size_t i = 0; i < n_edges; i++) {
        if (a[i] < 0 || b[i] < 0 || (uint64_t)a[i] >= n_nodes || (uint64_t)b[i] >= n_nodes)
            return lg__fail(ctx, LG_ERR_ARG,
                            "lg_graph_new: edge %zu: node %lld or %lld is out of range (0..%zu)", i,
                            (long long)a[i], (long long)b[i], n_nodes ? n_nodes - 1 : 0);
        if (a[i] == b[i])
            return lg__fail(ctx, LG_ERR_ARG, "lg_graph_new: edge %zu: self-loop at node %lld", i,
                            (long long)a[i]);
        if (w && !isfinite(w[i]))
            return lg__fail(ctx, LG_ERR_ARG, "lg_graph_new: edge %zu: weight %g is not finite", i,
                            w[i]);
    }
    lg_graph *g = graph_build(&ctx->alloc, n_nodes, a, b, w, n_edges, -INFINITY);
    if (!g)
        return lg__fail(ctx, LG_ERR_NOMEM, "lg_graph_new: out of memory (%zu edges)", n_edges);
    *out = g;
    return LG_OK;
}

void lg_graph_free(lg_graph *g)
{
    if (!g)
        return;
    lg_allocator al = g->alloc;
    lg__free(&al, g->off);
    lg__free(&al, g->nbr);
    lg__free(&al, g->w);
    lg__free(&al, g);
}

size_t lg_graph_node_count(const lg_graph *g)
{
    return g ? g->n : 0;
}

size_t lg_graph_edge_count(const lg_graph *g)
{
    return g ? g->m : 0;
}

lg_error lg_graph_neighbors(const lg_graph *g, size_t node, const int64_t **nodes,
                            const double **weight, size_t *n)
{
    if (!g || !nodes || !n || node >= g->n)
        return LG_ERR_ARG;
    *nodes = g->nbr + g->off[node];
    if (weight)
        *weight = g->w + g->off[node];
    *n = g->off[node + 1] - g->off[node];
    return LG_OK;
}

double lg_graph_weight(const lg_graph *g, size_t a, size_t b)
{
    if (!g || a >= g->n || b >= g->n)
        return 0;
    size_t lo = g->off[a], hi = g->off[a + 1];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (g->nbr[mid] < (int64_t)b)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < g->off[a + 1] && g->nbr[lo] == (int64_t)b) ? g->w[lo] : 0;
}

lg_error lg_graph_contract(lg_context *ctx, const lg_graph *g, const int64_t *group, size_t n_nodes,
                           size_t n_groups, lg_graph **out)
{
    lg__clear(ctx);
    if (!ctx || !g || !out || (n_nodes && !group))
        return lg__fail(ctx, LG_ERR_ARG, "lg_graph_contract: NULL argument");
    *out = NULL;
    if (n_nodes != g->n)
        return lg__fail(ctx, LG_ERR_ARG,
                        "lg_graph_contract: %zu group values for a graph of %zu nodes", n_nodes,
                        g->n);
    int64_t maxg = -1;
    for (size_t i = 0; i < n_nodes; i++) {
        if (group[i] < -1)
            return lg__fail(ctx, LG_ERR_ARG, "lg_graph_contract: node %zu: group %lld is negative",
                            i, (long long)group[i]);
        if (group[i] > maxg)
            maxg = group[i];
    }
    if (n_groups == 0)
        n_groups = (size_t)(maxg + 1);
    else if (maxg >= 0 && (uint64_t)maxg >= n_groups)
        return lg__fail(ctx, LG_ERR_ARG,
                        "lg_graph_contract: group %lld is out of range (%zu groups)",
                        (long long)maxg, n_groups);
    pair_list p = {0};
    for (size_t v = 0; v < g->n; v++) {
        int64_t gv = group[v];
        if (gv < 0)
            continue;
        for (size_t i = g->off[v]; i < g->off[v + 1]; i++) {
            int64_t u = g->nbr[i];
            if (u <= (int64_t)v)
                continue;
            int64_t gu = group[u];
            if (gu < 0 || gu == gv)
                continue;
            if (pairs_push(&ctx->alloc, &p, gv < gu ? gv : gu, gv < gu ? gu : gv, g->w[i])) {
                pairs_free(&ctx->alloc, &p);
                return lg__fail(ctx, LG_ERR_NOMEM, "lg_graph_contract: out of memory");
            }
        }
    }
    lg_graph *r = graph_build(&ctx->alloc, n_groups, p.a, p.b, p.w, p.n, -INFINITY);
    pairs_free(&ctx->alloc, &p);
    if (!r)
        return lg__fail(ctx, LG_ERR_NOMEM, "lg_graph_contract: out of memory");
    *out = r;
    return LG_OK;
}

/* ------------------------------------------------------------ exact pass */

#define NIL UINT32_MAX

static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t dbits(double d)
{
    d += 0.0; /* -0.0 -> +0.0 */
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* Endpoints of segment v (vertex v to v + 1) in canonical order: lexicographic (x, y). */
static inline void seg_canon(const double *xy, uint32_t v, double c[4])
{
    double ax = xy[2 * (size_t)v] + 0.0, ay = xy[2 * (size_t)v + 1] + 0.0;
    double bx = xy[2 * (size_t)v + 2] + 0.0, by = xy[2 * (size_t)v + 3] + 0.0;
    if (ax < bx || (ax == bx && ay <= by)) {
        c[0] = ax, c[1] = ay, c[2] = bx, c[3] = by;
    } else {
        c[0] = bx, c[1] = by, c[2] = ax, c[3] = ay;
    }
}

static inline uint64_t seg_hash(const double c[4])
{
    uint64_t h = mix64(dbits(c[0]) ^ 0x9e3779b97f4a7c15ull);
    h = mix64(h ^ dbits(c[1]));
    h = mix64(h ^ dbits(c[2]));
    return mix64(h ^ dbits(c[3]));
}

typedef struct seg_entry {
    uint32_t v; /* first vertex of the segment */
    uint32_t cell;
    uint32_t next; /* chain */
    uint32_t tag;  /* high bits of the hash */
} seg_entry;

typedef struct adj_work {
    lg_context *ctx;
    const lg_allocator *al;
    const lg_layer *l;
    double gap, min_shared;
    uint8_t *matched; /* per vertex: segment starting there is shared exactly */
    double *ubox;     /* 4 per cell: box of unmatched linework; NaN if none */
    pair_list pairs;
} adj_work;

static lg_error exact_pass(adj_work *w)
{
    const lg_layer *l = w->l;
    const lg_allocator *al = w->al;
    size_t nseg = 0;
    for (uint32_t r = 0; r < l->nrings; r++)
        nseg += l->ring_off[r + 1] - l->ring_off[r] - 1;
    if (nseg >= NIL)
        return lg__fail(w->ctx, LG_ERR_ARG, "lg_layer_adjacency: %zu segments are too many", nseg);
    size_t cap = 16;
    while (cap < nseg) /* load factor 0.5..1: chains stay short, the table small */
        cap *= 2;
    uint32_t *head = lg__malloc(al, cap * sizeof *head);
    seg_entry *ent = lg__malloc(al, (nseg ? nseg : 1) * sizeof *ent);
    double *acc = lg__calloc(al, l->ncells ? l->ncells : 1, sizeof *acc);
    uint32_t *touched = lg__malloc(al, (l->ncells ? l->ncells : 1) * sizeof *touched);
    lg_error err = LG_OK;
    if (!head || !ent || !acc || !touched) {
        err = lg__fail(w->ctx, LG_ERR_NOMEM, "lg_layer_adjacency: out of memory (%zu segments)",
                       nseg);
        goto done;
    }
    memset(head, 0xff, cap * sizeof *head);
    size_t ne = 0;
    const double *xy = l->xy;
    for (size_t c = 0; c < l->ncells; c++) {
        /* progress: the exact pass is the first half of the work */
        if ((c & 4095) == 0 && !lg__progress(w->ctx, c, 2 * (uint64_t)l->ncells)) {
            err = LG_ERR_CANCELLED;
            goto done;
        }
        size_t ntouched = 0;
        for (uint32_t r = l->cell_ring[c]; r < l->cell_ring[c + 1]; r++) {
            for (uint32_t v = l->ring_off[r]; v + 1 < l->ring_off[r + 1]; v++) {
                double s[4];
                seg_canon(xy, v, s);
                if (s[0] == s[2] && s[1] == s[3])
                    continue; /* repeated vertex */
                uint64_t h = seg_hash(s);
                size_t slot = (size_t)h & (cap - 1);
                uint32_t tag = (uint32_t)(h >> 32);
                double len = -1;
                for (uint32_t e = head[slot]; e != NIL; e = ent[e].next) {
                    if (ent[e].tag != tag || ent[e].cell == c)
                        continue;
                    double t[4];
                    seg_canon(xy, ent[e].v, t);
                    if (t[0] != s[0] || t[1] != s[1] || t[2] != s[2] || t[3] != s[3])
                        continue;
                    if (len < 0) {
                        double dx = s[2] - s[0], dy = s[3] - s[1];
                        len = sqrt(dx * dx + dy * dy);
                    }
                    uint32_t d = ent[e].cell;
                    if (acc[d] == 0)
                        touched[ntouched++] = d;
                    acc[d] += len;
                    w->matched[ent[e].v] = 1;
                    w->matched[v] = 1;
                }
                ent[ne] = (seg_entry){v, (uint32_t)c, head[slot], tag};
                head[slot] = (uint32_t)ne++;
            }
        }
        for (size_t i = 0; i < ntouched; i++) {
            uint32_t d = touched[i];
            if (pairs_push(al, &w->pairs, d, (int64_t)c, acc[d])) {
                err = lg__fail(w->ctx, LG_ERR_NOMEM, "lg_layer_adjacency: out of memory");
                goto done;
            }
            acc[d] = 0;
        }
    }
done:
    lg__free(al, head);
    lg__free(al, ent);
    lg__free(al, acc);
    lg__free(al, touched);
    return err;
}

/* ------------------------------------------------------------- near pass */

static void unmatched_boxes(adj_work *w)
{
    const lg_layer *l = w->l;
    for (size_t c = 0; c < l->ncells; c++) {
        double b[4] = {INFINITY, INFINITY, -INFINITY, -INFINITY};
        for (uint32_t r = l->cell_ring[c]; r < l->cell_ring[c + 1]; r++)
            for (uint32_t v = l->ring_off[r]; v + 1 < l->ring_off[r + 1]; v++) {
                if (w->matched[v])
                    continue;
                for (int k = 0; k < 2; k++) {
                    double x = l->xy[2 * (size_t)(v + k)], y = l->xy[2 * (size_t)(v + k) + 1];
                    b[0] = fmin(b[0], x), b[1] = fmin(b[1], y);
                    b[2] = fmax(b[2], x), b[3] = fmax(b[3], y);
                }
            }
        if (b[0] > b[2])
            b[0] = b[1] = b[2] = b[3] = NAN;
        memcpy(w->ubox + 4 * c, b, sizeof b);
    }
}

/* Unmatched linework of cell c: a MultiLineString of the runs of unmatched segments. */
/* NULL on failure; *nomem tells an allocation failure from a GEOS one (test_alloc.c). */
static GEOSGeometry *unmatched_lines(GEOSContextHandle_t h, const adj_work *w, size_t c,
                                     bool *nomem)
{
    const lg_layer *l = w->l;
    size_t cap = 8, n = 0;
    GEOSGeometry **lines = lg__malloc(w->al, cap * sizeof *lines);
    if (!lines) {
        *nomem = true;
        return NULL;
    }
    bool fail = false;
    for (uint32_t r = l->cell_ring[c]; r < l->cell_ring[c + 1] && !fail; r++) {
        uint32_t v0 = l->ring_off[r], v1 = l->ring_off[r + 1] - 1; /* segments v0..v1-1 */
        /* start runs after a matched segment so a run crossing the ring's start is whole */
        uint32_t start = v0;
        for (uint32_t v = v0; v < v1; v++)
            if (w->matched[v]) {
                start = v + 1;
                break;
            }
        uint32_t nseg = v1 - v0;
        uint32_t k = 0;
        while (k < nseg) {
            uint32_t v = v0 + (start - v0 + k) % nseg;
            if (w->matched[v]) {
                k++;
                continue;
            }
            uint32_t len = 0;
            while (k + len < nseg && !w->matched[v0 + (start - v0 + k + len) % nseg])
                len++;
            GEOSCoordSequence *cs = GEOSCoordSeq_create_r(h, len + 1, 2);
            if (!cs) {
                fail = true;
                break;
            }
            for (uint32_t i = 0; i <= len; i++) {
                uint32_t vv = v0 + (start - v0 + k + i) % nseg;
                GEOSCoordSeq_setXY_r(h, cs, i, l->xy[2 * (size_t)vv], l->xy[2 * (size_t)vv + 1]);
            }
            GEOSGeometry *ls = GEOSGeom_createLineString_r(h, cs);
            if (!ls || (n == cap && lg__grow(w->al, (void **)&lines, &cap, n + 1, sizeof *lines))) {
                *nomem = ls != NULL;
                GEOSGeom_destroy_r(h, ls);
                fail = true;
                break;
            }
            lines[n++] = ls;
            k += len;
        }
    }
    GEOSGeometry *g = NULL;
    if (!fail)
        g = GEOSGeom_createCollection_r(h, GEOS_MULTILINESTRING, lines, (unsigned)n);
    if (!g)
        for (size_t i = 0; i < n; i++)
            GEOSGeom_destroy_r(h, lines[i]);
    lg__free(w->al, lines);
    return g;
}

/* Near-shared length of lines a within gap of the buffer bb (see the file comment). */
static int near_length(GEOSContextHandle_t h, const GEOSGeometry *a, const GEOSGeometry *bb,
                       double gap, double *len)
{
    *len = 0;
    GEOSGeometry *in = GEOSIntersection_r(h, a, bb);
    if (!in)
        return -1;
    if (GEOSisEmpty_r(h, in) == 1) {
        GEOSGeom_destroy_r(h, in);
        return 0;
    }
    GEOSGeometry *m = GEOSLineMerge_r(h, in);
    GEOSGeom_destroy_r(h, in);
    if (!m)
        return -1;
    int ng = GEOSGetNumGeometries_r(h, m);
    for (int i = 0; i < ng; i++) {
        const GEOSGeometry *p = GEOSGetGeometryN_r(h, m, i);
        int t = GEOSGeomTypeId_r(h, p);
        if (t != GEOS_LINESTRING && t != GEOS_LINEARRING)
            continue;
        double pl = 0;
        GEOSLength_r(h, p, &pl);
        if (GEOSisClosed_r(h, p) != 1)
            pl -= 4 * gap;
        if (pl > 0)
            *len += pl;
    }
    GEOSGeom_destroy_r(h, m);
    return 0;
}

typedef struct cand_ctx {
    const adj_work *w;
    size_t c;
    int64_t *found;
    size_t n, cap;
    bool nomem;
} cand_ctx;

static bool cand_iter(int64_t id, const double box[4], void *udata)
{
    (void)box;
    cand_ctx *cc = udata;
    if (id <= (int64_t)cc->c)
        return true;
    const double *a = cc->w->ubox + 4 * cc->c, *b = cc->w->ubox + 4 * (size_t)id;
    if (isnan(b[0]))
        return true;
    double g = cc->w->gap;
    if (b[0] > a[2] + g || a[0] > b[2] + g || b[1] > a[3] + g || a[1] > b[3] + g)
        return true;
    if (lg__grow(cc->w->al, (void **)&cc->found, &cc->cap, cc->n + 1, sizeof *cc->found)) {
        cc->nomem = true;
        return false;
    }
    cc->found[cc->n++] = id;
    return true;
}

static int cmp_i64(const void *pa, const void *pb)
{
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    return (a > b) - (a < b);
}

static lg_error near_pass(adj_work *w)
{
    const lg_layer *l = w->l;
    const lg_allocator *al = w->al;
    GEOSContextHandle_t h = NULL;
    GEOSGeometry **lines = NULL, **buf = NULL;
    cand_ctx cc = {.w = w};
    lg_error err = LG_OK;
    const lg_rtree *tree = lg__layer_rtree(l); /* built on first need for mapped layers */
    if (!tree)
        return lg__fail(w->ctx, LG_ERR_NOMEM, "lg_layer_adjacency: out of memory");
    for (size_t c = 0; c < l->ncells; c++) {
        if ((c & 4095) == 0 && !lg__progress(w->ctx, l->ncells + c, 2 * (uint64_t)l->ncells)) {
            err = LG_ERR_CANCELLED;
            goto done;
        }
        const double *ub = w->ubox + 4 * c;
        if (isnan(ub[0]))
            continue;
        double q[4] = {ub[0] - w->gap, ub[1] - w->gap, ub[2] + w->gap, ub[3] + w->gap};
        cc.c = c;
        cc.n = 0;
        lg_rtree_search(tree, q, cand_iter, &cc);
        if (cc.nomem) {
            err = lg__fail(w->ctx, LG_ERR_NOMEM, "lg_layer_adjacency: out of memory");
            goto done;
        }
        if (cc.n == 0)
            continue;
        qsort(cc.found, cc.n, sizeof *cc.found, cmp_i64); /* deterministic order */
        if (!h) {
            h = lg__geos(w->ctx);
            lines = lg__calloc(al, l->ncells, sizeof *lines);
            buf = lg__calloc(al, l->ncells, sizeof *buf);
            if (!h) {
                err = LG_ERR_INTERNAL;
                goto done;
            }
            if (!lines || !buf) {
                err = lg__fail(w->ctx, LG_ERR_NOMEM, "lg_layer_adjacency: out of memory");
                goto done;
            }
        }
        size_t pair_cells[2];
        for (size_t i = 0; i < cc.n; i++) {
            pair_cells[0] = c;
            pair_cells[1] = (size_t)cc.found[i];
            for (int k = 0; k < 2; k++) {
                size_t x = pair_cells[k];
                if (!lines[x]) {
                    bool nomem = false;
                    lines[x] = unmatched_lines(h, w, x, &nomem);
                    if (lines[x])
                        buf[x] = GEOSBuffer_r(h, lines[x], w->gap * (1 + 1e-9) + 1e-12, 8);
                    if (nomem) {
                        err = lg__fail(w->ctx, LG_ERR_NOMEM, "lg_layer_adjacency: out of memory");
                        goto done;
                    }
                    if (!lines[x] || !buf[x]) {
                        err = lg__fail(w->ctx, LG_ERR_INTERNAL,
                                       "lg_layer_adjacency: cell %zu: GEOS failed: %s", x,
                                       w->ctx->geos_msg);
                        goto done;
                    }
                }
            }
            size_t d = pair_cells[1];
            char within = GEOSDistanceWithin_r(h, lines[c], lines[d], w->gap);
            if (within == 2) {
                err = lg__fail(w->ctx, LG_ERR_INTERNAL,
                               "lg_layer_adjacency: cells %zu and %zu: GEOS failed: %s", c, d,
                               w->ctx->geos_msg);
                goto done;
            }
            if (!within)
                continue;
            double l1, l2;
            if (near_length(h, lines[c], buf[d], w->gap, &l1) ||
                near_length(h, lines[d], buf[c], w->gap, &l2)) {
                err = lg__fail(w->ctx, LG_ERR_INTERNAL,
                               "lg_layer_adjacency: cells %zu and %zu: GEOS intersection "
                               "failed: %s",
                               c, d, w->ctx->geos_msg);
                goto done;
            }
            double len = 0.5 * (l1 + l2);
            if (len > 0 && pairs_push(al, &w->pairs, (int64_t)c, (int64_t)d, len)) {
                err = lg__fail(w->ctx, LG_ERR_NOMEM, "lg_layer_adjacency: out of memory");
                goto done;
            }
        }
    }
done:
    if (lines)
        for (size_t i = 0; i < l->ncells; i++) {
            if (lines[i])
                GEOSGeom_destroy_r(h, lines[i]);
            /* buf may be NULL when its allocation failed after lines' (tests/test_alloc.c) */
            if (buf && buf[i])
                GEOSGeom_destroy_r(h, buf[i]);
        }
    lg__free(al, lines);
    lg__free(al, buf);
    lg__free(al, cc.found);
    return err;
}

lg_error lg_layer_adjacency(lg_context *ctx, const lg_layer *layer, const lg_adjacency_options *opt,
                            lg_graph **out)
{
    lg__clear(ctx);
    if (!ctx || !layer || !out)
        return lg__fail(ctx, LG_ERR_ARG, "lg_layer_adjacency: NULL argument");
    *out = NULL;
    lg_adjacency_options o = {0};
    if (opt)
        o = *opt;
    if (!(o.gap_m >= 0) || !isfinite(o.gap_m))
        return lg__fail(ctx, LG_ERR_ARG, "lg_layer_adjacency: option gap_m = %g is not >= 0",
                        o.gap_m);
    if (!(o.min_shared_m >= 0) || !isfinite(o.min_shared_m))
        return lg__fail(ctx, LG_ERR_ARG, "lg_layer_adjacency: option min_shared_m = %g is not >= 0",
                        o.min_shared_m);
    if (o.gap_m == 0)
        o.gap_m = ADJ_DEFAULT_GAP_M;
    if (o.min_shared_m == 0)
        o.min_shared_m = ADJ_DEFAULT_MIN_SHARED_M;
    /* lengths, gap and minimum are metres: work on the layer in its metric frame */
    lg_error me = lg__metric_layer(ctx, layer, "lg_layer_adjacency", &layer, NULL);
    if (me)
        return me;
    adj_work w = {
        .ctx = ctx, .al = &ctx->alloc, .l = layer, .gap = o.gap_m, .min_shared = o.min_shared_m};
    w.matched = lg__calloc(w.al, layer->nverts ? layer->nverts : 1, 1);
    w.ubox = lg__malloc(w.al, (layer->ncells ? layer->ncells : 1) * 4 * sizeof *w.ubox);
    lg_error err;
    if (!w.matched || !w.ubox) {
        err = lg__fail(ctx, LG_ERR_NOMEM, "lg_layer_adjacency: out of memory");
        goto done;
    }
    if ((err = exact_pass(&w)))
        goto done;
    unmatched_boxes(&w);
    if ((err = near_pass(&w)))
        goto done;
    /* touching at a point only: a zero length never makes an edge, whatever min_shared */
    double min_w = o.min_shared_m > 0 ? o.min_shared_m : 1e-300;
    lg_graph *g =
        graph_build(w.al, layer->ncells, w.pairs.a, w.pairs.b, w.pairs.w, w.pairs.n, min_w);
    if (!g) {
        err = lg__fail(ctx, LG_ERR_NOMEM, "lg_layer_adjacency: out of memory");
        goto done;
    }
    *out = g;
done:
    lg__free(w.al, w.matched);
    lg__free(w.al, w.ubox);
    pairs_free(w.al, &w.pairs);
    return err;
}
