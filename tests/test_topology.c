/*
 * Tests of adjacency graphs (topology.c). Oracles: GEOS (length of the intersection of
 * two boundaries for exact data, distance for near data), brute force over all pairs,
 * hand-computed shared lengths of hand-made grids, Natural Earth countries.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lg_context *new_ctx(void)
{
    lg_context *ctx = NULL;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    return ctx;
}

/* A layer from axis-aligned rectangles {x0, y0, x1, y1} (4 n doubles). */
static lg_layer *rect_layer(lg_context *ctx, const double *r, size_t n)
{
    lg_builder *b = NULL;
    assert_int_equal(lgb_new(ctx, "rects", 0, &b), LG_OK);
    for (size_t i = 0; i < n; i++) {
        const double *q = r + 4 * i;
        double xy[10] = {q[0], q[1], q[2], q[1], q[2], q[3], q[0], q[3], q[0], q[1]};
        assert_int_equal(lgb_begin_cell(b), LG_OK);
        assert_int_equal(lgb_add_ring(b, xy, 5, false), LG_OK);
        assert_int_equal(lgb_end_cell(b), LG_OK);
    }
    lg_layer *l = NULL;
    assert_int_equal(lgb_finish(b, TU_METRES, NULL, &l), LG_OK);
    return l;
}

/* A layer from closed rings, one per cell (xy interleaved, counts in nv). */
static lg_layer *ring_layer(lg_context *ctx, const double *const *rings, const size_t *nv, size_t n)
{
    lg_builder *b = NULL;
    assert_int_equal(lgb_new(ctx, "rings", 0, &b), LG_OK);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(lgb_begin_cell(b), LG_OK);
        assert_int_equal(lgb_add_ring(b, rings[i], nv[i], false), LG_OK);
        assert_int_equal(lgb_end_cell(b), LG_OK);
    }
    lg_layer *l = NULL;
    assert_int_equal(lgb_finish(b, TU_METRES, NULL, &l), LG_OK);
    return l;
}

/* Oracle: length of the lineal part of the intersection of the two cells' boundaries. */
static double geos_shared(GEOSContextHandle_t h, const lg_layer *l, size_t a, size_t b)
{
    GEOSGeometry *ga = lg__cell_to_geos(h, l, a), *gb = lg__cell_to_geos(h, l, b);
    GEOSGeometry *ba = GEOSBoundary_r(h, ga), *bb = GEOSBoundary_r(h, gb);
    GEOSGeometry *in = GEOSIntersection_r(h, ba, bb);
    assert_non_null(in);
    double len = 0;
    assert_int_equal(GEOSLength_r(h, in, &len), 1);
    GEOSGeom_destroy_r(h, ga);
    GEOSGeom_destroy_r(h, gb);
    GEOSGeom_destroy_r(h, ba);
    GEOSGeom_destroy_r(h, bb);
    GEOSGeom_destroy_r(h, in);
    return len;
}

static double geos_distance(GEOSContextHandle_t h, const lg_layer *l, size_t a, size_t b)
{
    GEOSGeometry *ga = lg__cell_to_geos(h, l, a), *gb = lg__cell_to_geos(h, l, b);
    double d = -1;
    assert_int_equal(GEOSDistance_r(h, ga, gb, &d), 1);
    GEOSGeom_destroy_r(h, ga);
    GEOSGeom_destroy_r(h, gb);
    return d;
}

static void check_csr(const lg_graph *g)
{
    size_t n = lg_graph_node_count(g), deg = 0;
    for (size_t v = 0; v < n; v++) {
        const int64_t *nb;
        const double *w;
        size_t k;
        assert_int_equal(lg_graph_neighbors(g, v, &nb, &w, &k), LG_OK);
        deg += k;
        for (size_t i = 0; i < k; i++) {
            if (i)
                assert_true(nb[i - 1] < nb[i]);
            assert_true(nb[i] != (int64_t)v);
            /* symmetric */
            assert_true(lg_graph_weight(g, (size_t)nb[i], v) == w[i]);
            assert_true(w[i] > 0);
        }
    }
    assert_int_equal(deg, 2 * lg_graph_edge_count(g));
}

/* --------------------------------------------------------- graph basics */

static void test_graph_new(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    int64_t a[] = {0, 2, 1, 0, 3};
    int64_t b[] = {1, 1, 0, 3, 0};
    double w[] = {1.5, 2, 0.5, 4, 1};
    lg_graph *g = NULL;
    assert_int_equal(lg_graph_new(ctx, 5, a, b, w, 5, &g), LG_OK);
    check_csr(g);
    assert_int_equal(lg_graph_node_count(g), 5);
    assert_int_equal(lg_graph_edge_count(g), 3); /* 0-1 (twice), 1-2, 0-3 (twice) */
    assert_true(lg_graph_weight(g, 0, 1) == 2.0);
    assert_true(lg_graph_weight(g, 1, 2) == 2.0);
    assert_true(lg_graph_weight(g, 3, 0) == 5.0);
    assert_true(lg_graph_weight(g, 0, 2) == 0.0);
    assert_true(lg_graph_weight(g, 4, 0) == 0.0);
    assert_true(lg_graph_weight(g, 99, 0) == 0.0);
    const int64_t *nb;
    size_t k;
    assert_int_equal(lg_graph_neighbors(g, 0, &nb, NULL, &k), LG_OK);
    assert_int_equal(k, 2);
    assert_int_equal(nb[0], 1);
    assert_int_equal(nb[1], 3);
    assert_int_equal(lg_graph_neighbors(g, 4, &nb, NULL, &k), LG_OK);
    assert_int_equal(k, 0);
    assert_int_equal(lg_graph_neighbors(g, 5, &nb, NULL, &k), LG_ERR_ARG);
    lg_graph_free(g);

    /* unweighted */
    assert_int_equal(lg_graph_new(ctx, 3, a, b, NULL, 2, &g), LG_OK);
    assert_true(lg_graph_weight(g, 1, 2) == 1.0);
    lg_graph_free(g);

    /* bad input: self-loop, out of range, NaN weight */
    int64_t sa[] = {0, 1}, sb[] = {1, 1};
    assert_int_equal(lg_graph_new(ctx, 3, sa, sb, NULL, 2, &g), LG_ERR_ARG);
    assert_null(g);
    assert_non_null(strstr(lg_context_message(ctx), "edge 1"));
    assert_non_null(strstr(lg_context_message(ctx), "self-loop"));
    int64_t oa[] = {0}, ob[] = {7};
    assert_int_equal(lg_graph_new(ctx, 3, oa, ob, NULL, 1, &g), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "out of range"));
    double nanw[] = {NAN};
    assert_int_equal(lg_graph_new(ctx, 3, a, b, nanw, 1, &g), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "not finite"));
    lg_graph_free(NULL);
    assert_int_equal(lg_graph_node_count(NULL), 0);
    lg_context_free(ctx);
}

static void test_graph_contract(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    /* path 0-1-2-3-4 with weights 1,2,3,4; groups {0,1} {2} {3,4}; node 4 ungrouped */
    int64_t a[] = {0, 1, 2, 3}, b[] = {1, 2, 3, 4};
    double w[] = {1, 2, 3, 4};
    int64_t grp[] = {0, 0, 1, 2, -1};
    lg_graph *g = NULL, *c = NULL;
    assert_int_equal(lg_graph_new(ctx, 5, a, b, w, 4, &g), LG_OK);
    assert_int_equal(lg_graph_contract(ctx, g, grp, 5, 0, &c), LG_OK);
    check_csr(c);
    assert_int_equal(lg_graph_node_count(c), 3);
    assert_int_equal(lg_graph_edge_count(c), 2);
    assert_true(lg_graph_weight(c, 0, 1) == 2.0);
    assert_true(lg_graph_weight(c, 1, 2) == 3.0);
    lg_graph_free(c);
    /* summed: merge 0 and 2 into one group: 0-1 gets 2 + 3 */
    int64_t g2[] = {0, 0, 1, 0, 0};
    assert_int_equal(lg_graph_contract(ctx, g, g2, 5, 4, &c), LG_OK);
    assert_int_equal(lg_graph_node_count(c), 4);
    assert_true(lg_graph_weight(c, 0, 1) == 5.0);
    lg_graph_free(c);
    /* bad input */
    assert_int_equal(lg_graph_contract(ctx, g, g2, 4, 0, &c), LG_ERR_ARG);
    assert_int_equal(lg_graph_contract(ctx, g, g2, 5, 1, &c), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "out of range"));
    lg_graph_free(g);
    lg_context_free(ctx);
}

/* -------------------------------------------------------- hand-made grids */

static void test_lattice(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    double r[36];
    for (int j = 0; j < 3; j++)
        for (int i = 0; i < 3; i++) {
            double *q = r + 4 * (j * 3 + i);
            q[0] = i * 100.0, q[1] = j * 100.0, q[2] = q[0] + 100, q[3] = q[1] + 100;
        }
    lg_layer *l = rect_layer(ctx, r, 9);
    lg_graph *g = NULL;
    assert_int_equal(lg_layer_adjacency(ctx, l, NULL, &g), LG_OK);
    check_csr(g);
    GEOSContextHandle_t h = lg__geos(ctx);
    size_t edges = 0;
    for (size_t a = 0; a < 9; a++)
        for (size_t b = a + 1; b < 9; b++) {
            int ia = (int)a % 3, ja = (int)a / 3, ib = (int)b % 3, jb = (int)b / 3;
            bool orth = abs(ia - ib) + abs(ja - jb) == 1;
            double want = geos_shared(h, l, a, b);
            assert_true(fabs(want - (orth ? 100.0 : 0.0)) < 1e-9); /* the oracle agrees */
            assert_true(lg_graph_weight(g, a, b) == want);         /* corner: 0 */
            edges += orth;
        }
    assert_int_equal(lg_graph_edge_count(g), edges);
    assert_int_equal(edges, 12);
    lg_graph_free(g);
    lg_layer_free(l);
    lg_context_free(ctx);
}

static void test_gap_and_sliver(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    /* 0,1: 2 m gap along 100 m; 2,3: 0.5 m sliver overlap along 100 m; 4,5: corner
     * contact only, not sharing vertices exactly elsewhere; 6,7: corners 1 m apart */
    double r[] = {
        0, 0,    100,   100,  102,   0,      200, 100,  /* gap */
        0, 1000, 100.5, 1100, 100,   1000,   200, 1100, /* sliver */
        0, 2000, 100,   2100, 100,   2100,   200, 2200, /* corner touch */
        0, 3000, 100,   3100, 100.5, 3100.5, 200, 3200, /* corners 0.7 m apart */
    };
    lg_layer *l = rect_layer(ctx, r, 8);
    lg_graph *g = NULL;
    assert_int_equal(lg_layer_adjacency(ctx, l, NULL, &g), LG_OK);
    check_csr(g);
    double gap = 2.0;
    /* the shared stretch is 100 m; the near measure is within 4 gap of it */
    assert_true(fabs(lg_graph_weight(g, 0, 1) - 100.0) <= 4 * gap);
    assert_true(fabs(lg_graph_weight(g, 2, 3) - 100.0) <= 4 * gap);
    assert_true(lg_graph_weight(g, 4, 5) == 0.0);
    assert_true(lg_graph_weight(g, 6, 7) == 0.0);
    assert_int_equal(lg_graph_edge_count(g), 2);
    lg_graph_free(g);

    /* with a 1 m tolerance the 2 m gap is no adjacency, the sliver still is */
    lg_adjacency_options o = {.gap_m = 1.0};
    assert_int_equal(lg_layer_adjacency(ctx, l, &o, &g), LG_OK);
    assert_true(lg_graph_weight(g, 0, 1) == 0.0);
    assert_true(lg_graph_weight(g, 2, 3) > 95.0);
    lg_graph_free(g);

    /* a large min_shared_m drops the edges */
    o = (lg_adjacency_options){.min_shared_m = 150};
    assert_int_equal(lg_layer_adjacency(ctx, l, &o, &g), LG_OK);
    assert_int_equal(lg_graph_edge_count(g), 0);
    lg_graph_free(g);

    /* bad options */
    o = (lg_adjacency_options){.gap_m = -1};
    assert_int_equal(lg_layer_adjacency(ctx, l, &o, &g), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "gap_m"));
    o = (lg_adjacency_options){.min_shared_m = NAN};
    assert_int_equal(lg_layer_adjacency(ctx, l, &o, &g), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "min_shared_m"));
    assert_int_equal(lg_layer_adjacency(ctx, NULL, NULL, &g), LG_ERR_ARG);
    lg_layer_free(l);
    lg_context_free(ctx);
}

/* Edges split at different vertices: exact hashing misses them, the near pass finds them. */
static void test_split_edges(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    double a[] = {0, 0, 100, 0, 100, 100, 0, 100, 0, 0};
    double b[] = {100, 0, 200, 0, 200, 100, 100, 100, 100, 60, 100, 30, 100, 0};
    /* c shares a's top edge (0,100)-(100,100) exactly and a's left side is free */
    double c[] = {0, 100, 100, 100, 100, 200, 0, 200, 0, 100};
    const double *rings[] = {a, b, c};
    size_t nv[] = {5, 7, 5};
    lg_layer *l = ring_layer(ctx, rings, nv, 3);
    lg_graph *g = NULL;
    assert_int_equal(lg_layer_adjacency(ctx, l, NULL, &g), LG_OK);
    GEOSContextHandle_t h = lg__geos(ctx);
    double want = geos_shared(h, l, 0, 1);
    assert_true(fabs(want - 100) < 1e-9);
    assert_true(fabs(lg_graph_weight(g, 0, 1) - want) <= 8.0);
    assert_true(lg_graph_weight(g, 0, 2) == geos_shared(h, l, 0, 2));
    /* b and c touch at (100, 100) only */
    assert_true(lg_graph_weight(g, 1, 2) == 0.0);
    assert_int_equal(lg_graph_edge_count(g), 2);
    lg_graph_free(g);
    lg_layer_free(l);
    lg_context_free(ctx);
}

/* -------------------------------------------------- generated counties */

typedef struct box_pairs {
    const lg_layer *l;
    size_t c;
    int64_t *ids;
    size_t n, cap;
} box_pairs;

static bool collect(int64_t id, const double box[4], void *u)
{
    (void)box;
    box_pairs *bp = u;
    if (id > (int64_t)bp->c) {
        if (bp->n == bp->cap) {
            bp->cap = bp->cap ? 2 * bp->cap : 16;
            bp->ids = realloc(bp->ids, bp->cap * sizeof *bp->ids);
        }
        bp->ids[bp->n++] = id;
    }
    return true;
}

static void check_county_against_geos(size_t cells, uint64_t seed, size_t edge_vertices)
{
    lg_context *ctx = new_ctx();
    lg_synth_options so = {.seed = seed, .cells = cells, .edge_vertices = edge_vertices};
    lg_layer *l = NULL;
    assert_int_equal(lg_synth_county(ctx, &so, &l), LG_OK);
    lg_graph *g = NULL;
    assert_int_equal(lg_layer_adjacency(ctx, l, NULL, &g), LG_OK);
    check_csr(g);
    GEOSContextHandle_t h = lg__geos(ctx);
    size_t n = lg_layer_count(l), edges = 0;
    double sum_ours = 0, sum_oracle = 0;
    box_pairs bp = {.l = l};
    for (size_t c = 0; c < n; c++) {
        double box[4];
        assert_true(lg_layer_cell_bounds(l, c, box));
        bp.c = c;
        bp.n = 0;
        lg_rtree_search(l->rtree, box, collect, &bp);
        for (size_t i = 0; i < bp.n; i++) {
            size_t d = (size_t)bp.ids[i];
            double want = geos_shared(h, l, c, d);
            double got = lg_graph_weight(g, c, d);
            if (want >= 1.0) {
                edges++;
                assert_true(fabs(got - want) <= 1e-9 * want);
            } else {
                assert_true(got == 0.0);
            }
            sum_oracle += want;
        }
    }
    for (size_t v = 0; v < n; v++) {
        const double *w;
        const int64_t *nb;
        size_t k;
        lg_graph_neighbors(g, v, &nb, &w, &k);
        for (size_t i = 0; i < k; i++)
            if (nb[i] > (int64_t)v)
                sum_ours += w[i];
    }
    free(bp.ids);
    assert_int_equal(lg_graph_edge_count(g), edges);
    assert_true(fabs(sum_ours - sum_oracle) <= 1e-9 * sum_oracle);

    /* station graph: contract by the station field; oracle: brute-force pair sums */
    size_t sf;
    assert_int_equal(lg_layer_field_index(l, "station", &sf), LG_OK);
    int64_t *grp = malloc(n * sizeof *grp);
    int64_t ns = 0;
    for (size_t c = 0; c < n; c++) {
        assert_int_equal(lg_layer_get_int(l, sf, c, &grp[c]), LG_OK);
        if (grp[c] + 1 > ns)
            ns = grp[c] + 1;
    }
    double *sw = calloc((size_t)(ns * ns), sizeof *sw);
    for (size_t v = 0; v < n; v++) {
        const double *w;
        const int64_t *nb;
        size_t k;
        lg_graph_neighbors(g, v, &nb, &w, &k);
        for (size_t i = 0; i < k; i++)
            if (nb[i] > (int64_t)v && grp[v] != grp[nb[i]]) {
                sw[grp[v] * ns + grp[nb[i]]] += w[i];
                sw[grp[nb[i]] * ns + grp[v]] += w[i];
            }
    }
    lg_graph *sg = NULL;
    assert_int_equal(lg_graph_contract(ctx, g, grp, n, 0, &sg), LG_OK);
    check_csr(sg);
    assert_int_equal(lg_graph_node_count(sg), (size_t)ns);
    for (int64_t a = 0; a < ns; a++)
        for (int64_t b = 0; b < ns; b++)
            if (a != b)
                assert_true(fabs(lg_graph_weight(sg, (size_t)a, (size_t)b) - sw[a * ns + b]) <=
                            1e-9 * (1 + sw[a * ns + b]));
    free(sw);
    free(grp);
    lg_graph_free(sg);
    lg_graph_free(g);
    lg_layer_free(l);
    lg_context_free(ctx);
}

static void test_county_oracle(void **state)
{
    (void)state;
    check_county_against_geos(30, 1, 0);
    check_county_against_geos(150, 2, 3);
    check_county_against_geos(400, 3, 8);
    check_county_against_geos(600, 77, 1);
}

/* Generated county with its vertices perturbed: the exact pass finds nothing, the near
 * pass must find the same graph (shared lengths to within 2 gap of the exact ones). */
static void test_county_perturbed(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    lg_synth_options so = {.seed = 9, .cells = 120, .edge_vertices = 4};
    lg_layer *l = NULL;
    assert_int_equal(lg_synth_county(ctx, &so, &l), LG_OK);
    lg_graph *exact = NULL;
    assert_int_equal(lg_layer_adjacency(ctx, l, NULL, &exact), LG_OK);
    /* rebuild with every vertex moved by up to 0.3 m (rings stay closed) */
    lg_builder *b = NULL;
    assert_int_equal(lgb_new(ctx, "perturbed", LG_LOAD_NO_VALIDATE, &b), LG_OK);
    uint64_t rs = 5;
    for (size_t c = 0; c < lg_layer_count(l); c++) {
        assert_int_equal(lgb_begin_cell(b), LG_OK);
        for (size_t r = 0; r < lg_layer_ring_count(l, c); r++) {
            const double *xy;
            size_t nv;
            assert_int_equal(lg_layer_ring(l, c, r, &xy, &nv), LG_OK);
            double *p = malloc(2 * nv * sizeof *p);
            for (size_t i = 0; i + 1 < nv; i++) {
                p[2 * i] = xy[2 * i] + tu_uniform(&rs, -0.3, 0.3);
                p[2 * i + 1] = xy[2 * i + 1] + tu_uniform(&rs, -0.3, 0.3);
            }
            p[2 * (nv - 1)] = p[0];
            p[2 * (nv - 1) + 1] = p[1];
            assert_int_equal(lgb_add_ring(b, p, nv, false), LG_OK);
            free(p);
        }
        assert_int_equal(lgb_end_cell(b), LG_OK);
    }
    lg_layer *pl = NULL;
    assert_int_equal(lgb_finish(b, TU_METRES, NULL, &pl), LG_OK);
    lg_graph *near = NULL;
    assert_int_equal(lg_layer_adjacency(ctx, pl, NULL, &near), LG_OK);
    check_csr(near);
    assert_int_equal(lg_graph_edge_count(near), lg_graph_edge_count(exact));
    for (size_t v = 0; v < lg_layer_count(l); v++) {
        const double *w;
        const int64_t *nb;
        size_t k;
        lg_graph_neighbors(exact, v, &nb, &w, &k);
        for (size_t i = 0; i < k; i++)
            assert_true(fabs(lg_graph_weight(near, v, (size_t)nb[i]) - w[i]) <= 8.0 + 0.01 * w[i]);
    }
    lg_graph_free(exact);
    lg_graph_free(near);
    lg_layer_free(pl);
    lg_layer_free(l);
    lg_context_free(ctx);
}

/* ------------------------------------------------------------ real world */

static int64_t row_named(const lg_layer *l, const char *name)
{
    size_t f;
    assert_int_equal(lg_layer_field_index(l, "name", &f), LG_OK);
    for (size_t r = 0; r < lg_layer_count(l); r++) {
        const char *s;
        if (lg_layer_get_text(l, f, r, &s) == LG_OK && strcmp(s, name) == 0)
            return (int64_t)r;
    }
    return -1;
}

static void test_naturalearth(void **state)
{
    (void)state;
    const char *path = tu_naturalearth();
    if (!path)
        skip();
    lg_context *ctx = new_ctx();
    lg_load_options lo = {.flags = LG_LOAD_REPAIR};
    lg_layer *ll = NULL, *l = NULL;
    assert_int_equal(lg_layer_load(ctx, path, &lo, &ll), LG_OK);
    /* the world in lon/lat has no plane whose distances are within 1%: refused */
    double gap = 1e-4, min_shared = 1e-3;
    lg_adjacency_options o = {.gap_m = gap, .min_shared_m = min_shared};
    lg_graph *g = NULL;
    assert_int_equal(lg_layer_adjacency(ctx, ll, &o, &g), LG_ERR_CRS);
    assert_non_null(strstr(lg_context_message(ctx), "reproject"));
    /* the algorithm on real, messy linework: the coordinates taken as plain units (a
     * gap of 1e-4, shared at least 1e-3) */
    assert_int_equal(lg_layer_with_crs(ctx, ll, TU_METRES, &l), LG_OK);
    lg_layer_free(ll);
    assert_int_equal(lg_layer_adjacency(ctx, l, &o, &g), LG_OK);
    check_csr(g);
    GEOSContextHandle_t h = lg__geos(ctx);
    size_t n = lg_layer_count(l);
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++) {
            double ba[4], bb[4];
            if (!lg_layer_cell_bounds(l, a, ba) || !lg_layer_cell_bounds(l, b, bb))
                continue;
            double w = lg_graph_weight(g, a, b);
            if (ba[0] > bb[2] + gap || bb[0] > ba[2] + gap || ba[1] > bb[3] + gap ||
                bb[1] > ba[3] + gap) {
                assert_true(w == 0.0);
                continue;
            }
            double shared = geos_shared(h, l, a, b);
            if (shared >= min_shared + 8 * gap)
                assert_true(w >= shared - 8 * gap); /* found, and about as long */
            if (w > 0)
                assert_true(geos_distance(h, l, a, b) <= gap); /* never far apart */
        }
    int64_t fr = row_named(l, "France"), es = row_named(l, "Spain");
    int64_t is = row_named(l, "Iceland"), mg = row_named(l, "Madagascar");
    assert_true(fr >= 0 && es >= 0 && is >= 0 && mg >= 0);
    assert_true(lg_graph_weight(g, (size_t)fr, (size_t)es) > 1.0); /* Pyrenees, > 1 degree */
    const int64_t *nb;
    size_t k;
    assert_int_equal(lg_graph_neighbors(g, (size_t)is, &nb, NULL, &k), LG_OK);
    assert_int_equal(k, 0);
    assert_int_equal(lg_graph_neighbors(g, (size_t)mg, &nb, NULL, &k), LG_OK);
    assert_int_equal(k, 0);
    lg_graph_free(g);
    lg_layer_free(l);
    lg_context_free(ctx);
}

/* Determinism: two runs give identical graphs. */
static void test_deterministic(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    lg_synth_options so = {.seed = 4, .cells = 500};
    lg_layer *l = NULL;
    assert_int_equal(lg_synth_county(ctx, &so, &l), LG_OK);
    lg_graph *g1 = NULL, *g2 = NULL;
    assert_int_equal(lg_layer_adjacency(ctx, l, NULL, &g1), LG_OK);
    assert_int_equal(lg_layer_adjacency(ctx, l, NULL, &g2), LG_OK);
    assert_int_equal(lg_graph_edge_count(g1), lg_graph_edge_count(g2));
    for (size_t v = 0; v < lg_layer_count(l); v++) {
        const int64_t *n1, *n2;
        const double *w1, *w2;
        size_t k1, k2;
        lg_graph_neighbors(g1, v, &n1, &w1, &k1);
        lg_graph_neighbors(g2, v, &n2, &w2, &k2);
        assert_int_equal(k1, k2);
        assert_memory_equal(n1, n2, k1 * sizeof *n1);
        assert_memory_equal(w1, w2, k1 * sizeof *w1);
    }
    lg_graph_free(g1);
    lg_graph_free(g2);
    lg_layer_free(l);
    lg_context_free(ctx);
}

typedef struct prog {
    int calls;
    int stop_after;
    uint64_t last_done, total;
} prog;

static bool on_progress(uint64_t done, uint64_t total, void *udata)
{
    prog *p = udata;
    assert_true(done <= total);
    assert_true(done >= p->last_done); /* monotonic */
    p->last_done = done;
    p->total = total;
    return ++p->calls < p->stop_after;
}

/* Adjacency reports progress and can be cancelled through it. */
static void test_progress_and_cancel(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    lg_synth_options so = {.seed = 3, .cells = 10000};
    lg_layer *l;
    assert_int_equal(lg_synth_county(ctx, &so, &l), LG_OK);
    prog p = {.stop_after = 1000000};
    lg_context_set_progress(ctx, on_progress, &p);
    lg_graph *g = NULL;
    assert_int_equal(lg_layer_adjacency(ctx, l, NULL, &g), LG_OK);
    assert_true(p.calls >= 4);
    assert_int_equal(p.total, 20000);
    lg_graph_free(g);
    p = (prog){.stop_after = 2};
    g = NULL;
    assert_int_equal(lg_layer_adjacency(ctx, l, NULL, &g), LG_ERR_CANCELLED);
    assert_null(g);
    assert_non_null(strstr(lg_context_message(ctx), "cancelled"));
    lg_context_set_progress(ctx, NULL, NULL);
    lg_layer_free(l);
    lg_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_graph_new),        cmocka_unit_test(test_graph_contract),
        cmocka_unit_test(test_lattice),          cmocka_unit_test(test_gap_and_sliver),
        cmocka_unit_test(test_split_edges),      cmocka_unit_test(test_county_oracle),
        cmocka_unit_test(test_county_perturbed), cmocka_unit_test(test_naturalearth),
        cmocka_unit_test(test_deterministic),    cmocka_unit_test(test_progress_and_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
