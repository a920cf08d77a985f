/*
 * Locate against the oracle: GEOS covers (prepared geometry), on hand-made grids,
 * on generated counties of several sizes, and on Natural Earth countries.
 * Points: uniform random, every vertex, points interpolated along edges (which
 * round to either side of the edge and so test exactness), and the boundary rule
 * on points exactly on shared edges and vertices.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct oracle {
    GEOSContextHandle_t h;
    const lg_layer *layer;
    size_t n;
    GEOSGeometry **geoms;
    const GEOSPreparedGeometry **prep;
    GEOSSTRtree *tree;
} oracle;

static void oracle_init(oracle *o, lg_context *ctx, const lg_layer *l)
{
    o->h = lg__geos(ctx);
    o->layer = l;
    o->n = lg_layer_count(l);
    o->geoms = calloc(o->n + 1, sizeof *o->geoms);
    o->prep = calloc(o->n + 1, sizeof *o->prep);
    o->tree = GEOSSTRtree_create_r(o->h, 10);
    for (size_t i = 0; i < o->n; i++) {
        o->geoms[i] = lg__cell_to_geos(o->h, l, i);
        assert_non_null(o->geoms[i]);
        o->prep[i] = GEOSPrepare_r(o->h, o->geoms[i]);
        if (!GEOSisEmpty_r(o->h, o->geoms[i]))
            GEOSSTRtree_insert_r(o->h, o->tree, o->geoms[i], (void *)(uintptr_t)(i + 1));
    }
}

static void oracle_free(oracle *o)
{
    GEOSSTRtree_destroy_r(o->h, o->tree);
    for (size_t i = 0; i < o->n; i++) {
        GEOSPreparedGeom_destroy_r(o->h, o->prep[i]);
        GEOSGeom_destroy_r(o->h, o->geoms[i]);
    }
    free(o->geoms);
    free(o->prep);
}

typedef struct hits {
    const oracle *o;
    const GEOSGeometry *pt;
    int64_t rows[64];
    size_t n;
} hits;

static void collect_cover(void *item, void *udata)
{
    hits *h = udata;
    size_t row = (size_t)(uintptr_t)item - 1;
    if (GEOSPreparedCovers_r(h->o->h, h->o->prep[row], h->pt) == 1 && h->n < 64)
        h->rows[h->n++] = (int64_t)row;
}

/* Rows whose cell covers (x, y) according to GEOS. */
static size_t covers(const oracle *o, double x, double y, int64_t *rows)
{
    hits h = {.o = o, .n = 0};
    GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(o->h, x, y);
    h.pt = pt;
    GEOSSTRtree_query_r(o->h, o->tree, pt, collect_cover, &h);
    GEOSGeom_destroy_r(o->h, pt);
    memcpy(rows, h.rows, h.n * sizeof *rows);
    return h.n;
}

typedef struct check_stats {
    size_t points, on_shared, outside, multi_cover;
} check_stats;

/*
 * One point against the oracle: no cover -> LG_NONE; else the answer is one of the
 * covering cells, and for a valid partition exactly one covering cell owns the
 * point by the half-open rule unless the point is on the outer boundary.
 */
static void check_point(const oracle *o, double x, double y, bool partition, check_stats *st)
{
    int64_t rows[64];
    size_t n = covers(o, x, y, rows);
    int64_t got = lg_layer_locate(o->layer, x, y);
    /* the accelerated answer equals the exact path's */
    int64_t exact = lg__locate_exact(o->layer, x, y);
    if (got != exact)
        fail_msg("(%.17g, %.17g): accelerated locate %lld, exact path %lld", x, y, (long long)got,
                 (long long)exact);
    st->points++;
    if (n == 0) {
        if (got != LG_NONE)
            fail_msg("(%.17g, %.17g): GEOS covers nothing, locate says %lld", x, y, (long long)got);
        st->outside++;
        return;
    }
    bool found = false;
    size_t owners = 0;
    for (size_t i = 0; i < n; i++) {
        found |= rows[i] == got;
        owners += lg__cell_owns(o->layer, (size_t)rows[i], x, y, NULL) ? 1 : 0;
    }
    if (!found)
        fail_msg("(%.17g, %.17g): locate says %lld, not among the %zu covering cells (first %lld)",
                 x, y, (long long)got, n, (long long)rows[0]);
    if (n == 1 && owners == 0) {
        /* only the outer boundary (or a gap's rim) may be covered but not owned */
        bool touch = false;
        lg__cell_owns(o->layer, (size_t)rows[0], x, y, &touch);
        assert_true(touch);
    }
    if (n > 1) {
        st->multi_cover++;
        if (partition && owners != 1) {
            /* on a shared boundary: exactly one owner unless also on the outer boundary */
            bool touch_outer = owners == 0;
            if (!touch_outer)
                fail_msg("(%.17g, %.17g): %zu cells own a point on a shared boundary", x, y,
                         owners);
        }
        st->on_shared++;
    }
}

/* ------------------------------------------------------- hand-made grids */

/* A jittered lattice of quads sharing corners exactly, built in the test itself. */
static lg_layer *lattice(lg_context *ctx, int nx, int ny, double jitter, uint64_t seed)
{
    double *cx = malloc((size_t)(nx + 1) * (ny + 1) * sizeof *cx);
    double *cy = malloc((size_t)(nx + 1) * (ny + 1) * sizeof *cy);
    uint64_t s = seed;
    for (int j = 0; j <= ny; j++)
        for (int i = 0; i <= nx; i++) {
            bool edge = i == 0 || j == 0 || i == nx || j == ny;
            cx[j * (nx + 1) + i] = i + (edge ? 0 : tu_uniform(&s, -jitter, jitter));
            cy[j * (nx + 1) + i] = j + (edge ? 0 : tu_uniform(&s, -jitter, jitter));
        }
    lg_builder *b;
    assert_int_equal(lgb_new(ctx, "lattice", LG_LOAD_NO_VALIDATE, &b), LG_OK);
    for (int j = 0; j < ny; j++)
        for (int i = 0; i < nx; i++) {
            int k[5] = {j * (nx + 1) + i, j * (nx + 1) + i + 1, (j + 1) * (nx + 1) + i + 1,
                        (j + 1) * (nx + 1) + i, j * (nx + 1) + i};
            double xy[10];
            for (int q = 0; q < 5; q++) {
                xy[2 * q] = cx[k[q]];
                xy[2 * q + 1] = cy[k[q]];
            }
            assert_int_equal(lgb_begin_cell(b), LG_OK);
            assert_int_equal(lgb_add_ring(b, xy, 5, false), LG_OK);
            assert_int_equal(lgb_end_cell(b), LG_OK);
        }
    free(cx);
    free(cy);
    lg_layer *l = NULL;
    lg_error e = lgb_finish(b, NULL, NULL, &l);
    if (e)
        fail_msg("lattice: %s", lg_context_message(ctx));
    return l;
}

static void test_boundary_rule_unit_squares(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    /* 2 x 2 unit squares: row 0 = [0,1]x[0,1], 1 = [1,2]x[0,1], 2 = [0,1]x[1,2], 3 = [1,2]x[1,2] */
    lg_layer *l = lattice(ctx, 2, 2, 0, 1);
    /* interiors */
    assert_int_equal(lg_layer_locate(l, 0.5, 0.5), 0);
    assert_int_equal(lg_layer_locate(l, 1.5, 0.5), 1);
    assert_int_equal(lg_layer_locate(l, 0.5, 1.5), 2);
    assert_int_equal(lg_layer_locate(l, 1.5, 1.5), 3);
    /* vertical shared edge x = 1: the cell to the west */
    assert_int_equal(lg_layer_locate(l, 1.0, 0.5), 0);
    assert_int_equal(lg_layer_locate(l, 1.0, 1.5), 2);
    /* horizontal shared edge y = 1: the cell to the north */
    assert_int_equal(lg_layer_locate(l, 0.5, 1.0), 2);
    assert_int_equal(lg_layer_locate(l, 1.5, 1.0), 3);
    /* the vertex shared by all four: the north-west cell */
    assert_int_equal(lg_layer_locate(l, 1.0, 1.0), 2);
    /* outer boundary is inside; corners too */
    assert_int_equal(lg_layer_locate(l, 0.0, 0.5), 0);
    assert_int_equal(lg_layer_locate(l, 2.0, 0.5), 1);
    assert_int_equal(lg_layer_locate(l, 0.5, 0.0), 0);
    assert_int_equal(lg_layer_locate(l, 1.5, 2.0), 3);
    assert_int_equal(lg_layer_locate(l, 0.0, 0.0), 0);
    assert_int_equal(lg_layer_locate(l, 2.0, 2.0), 3);
    assert_int_equal(lg_layer_locate(l, 2.0, 0.0), 1);
    assert_int_equal(lg_layer_locate(l, 1.0, 0.0), 0);
    assert_int_equal(lg_layer_locate(l, 1.0, 2.0), 2);
    /* outside */
    assert_int_equal(lg_layer_locate(l, -0.001, 0.5), LG_NONE);
    assert_int_equal(lg_layer_locate(l, 2.0000001, 0.5), LG_NONE);
    assert_int_equal(lg_layer_locate(l, NAN, 0.5), LG_NONE);
    assert_int_equal(lg_layer_locate(l, 0.5, INFINITY), LG_NONE);
    /* the smallest steps off the shared edge follow the geometry, not the rule */
    assert_int_equal(lg_layer_locate(l, nextafter(1.0, 2.0), 0.5), 1);
    assert_int_equal(lg_layer_locate(l, nextafter(1.0, 0.0), 0.5), 0);
    assert_int_equal(lg_layer_locate(l, 0.5, nextafter(1.0, 0.0)), 0);
    lg_layer_free(l);
    lg_context_free(ctx);
}

static void test_hole_and_multipolygon(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    lg_builder *b;
    assert_int_equal(lgb_new(ctx, "holes", 0, &b), LG_OK);
    /* row 0: square 0..10 with hole 4..6; row 1: the hole's square plus a far island */
    double shell[] = {0, 0, 10, 0, 10, 10, 0, 10, 0, 0};
    double hole[] = {4, 4, 4, 6, 6, 6, 6, 4, 4, 4};
    double inner[] = {4, 4, 6, 4, 6, 6, 4, 6, 4, 4};
    double island[] = {20, 20, 21, 20, 21, 21, 20, 21, 20, 20};
    assert_int_equal(lgb_begin_cell(b), LG_OK);
    assert_int_equal(lgb_add_ring(b, shell, 5, false), LG_OK);
    assert_int_equal(lgb_add_ring(b, hole, 5, true), LG_OK);
    assert_int_equal(lgb_end_cell(b), LG_OK);
    assert_int_equal(lgb_begin_cell(b), LG_OK);
    assert_int_equal(lgb_add_ring(b, inner, 5, false), LG_OK);
    assert_int_equal(lgb_add_ring(b, island, 5, false), LG_OK);
    assert_int_equal(lgb_end_cell(b), LG_OK);
    lg_layer *l;
    assert_int_equal(lgb_finish(b, NULL, NULL, &l), LG_OK);
    assert_int_equal(lg_layer_problem_count(l), 0);
    assert_int_equal(lg_layer_locate(l, 1, 1), 0);
    assert_int_equal(lg_layer_locate(l, 5, 5), 1);
    assert_int_equal(lg_layer_locate(l, 20.5, 20.5), 1);
    assert_int_equal(lg_layer_locate(l, 15, 15), LG_NONE);
    /* hole boundary: west edge x=4 of the hole goes west (row 0), east edge x=6 to row 1 */
    assert_int_equal(lg_layer_locate(l, 4, 5), 0);
    assert_int_equal(lg_layer_locate(l, 6, 5), 1);
    assert_int_equal(lg_layer_locate(l, 5, 4), 1);
    assert_int_equal(lg_layer_locate(l, 5, 6), 0);
    /* island's outer boundary is inside */
    assert_int_equal(lg_layer_locate(l, 21, 21), 1);
    lg_layer_free(l);
    lg_context_free(ctx);
}

static void test_overlap_lowest_row_wins(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    lg_builder *b;
    assert_int_equal(lgb_new(ctx, "overlap", 0, &b), LG_OK);
    double a[] = {0, 0, 2, 0, 2, 2, 0, 2, 0, 0};
    double c[] = {1, 1, 3, 1, 3, 3, 1, 3, 1, 1};
    /* 100 copies of the second square force the overflow path of the candidate list */
    assert_int_equal(lgb_begin_cell(b), LG_OK);
    assert_int_equal(lgb_add_ring(b, c, 5, false), LG_OK);
    assert_int_equal(lgb_end_cell(b), LG_OK);
    assert_int_equal(lgb_begin_cell(b), LG_OK);
    assert_int_equal(lgb_add_ring(b, a, 5, false), LG_OK);
    assert_int_equal(lgb_end_cell(b), LG_OK);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(lgb_begin_cell(b), LG_OK);
        assert_int_equal(lgb_add_ring(b, a, 5, false), LG_OK);
        assert_int_equal(lgb_end_cell(b), LG_OK);
    }
    lg_layer *l;
    assert_int_equal(lgb_finish(b, NULL, NULL, &l), LG_OK);
    assert_int_equal(lg_layer_locate(l, 1.5, 1.5), 0);
    assert_int_equal(lg_layer_locate(l, 0.5, 0.5), 1);
    assert_int_equal(lg_layer_locate(l, 2.5, 2.5), 0);
    /* on row 0's west edge inside the others: row 0 does not own it (west rule) -> row 1 */
    assert_int_equal(lg_layer_locate(l, 1.0, 1.5), 1);
    lg_layer_free(l);
    lg_context_free(ctx);
}

/* Uniform, vertex and along-edge points against GEOS on a layer. */
static void check_layer(lg_context *ctx, const lg_layer *l, bool partition, size_t n_random,
                        size_t vertex_stride, uint64_t seed, check_stats *st)
{
    oracle o;
    oracle_init(&o, ctx, l);
    double box[4];
    assert_true(lg_layer_bounds(l, box));
    double w = box[2] - box[0], hgt = box[3] - box[1];
    uint64_t s = seed;
    for (size_t i = 0; i < n_random; i++)
        check_point(&o, tu_uniform(&s, box[0] - 0.05 * w, box[2] + 0.05 * w),
                    tu_uniform(&s, box[1] - 0.05 * hgt, box[3] + 0.05 * hgt), partition, st);
    size_t k = 0;
    for (size_t row = 0; row < lg_layer_count(l); row++) {
        for (size_t r = 0; r < lg_layer_ring_count(l, row); r++) {
            const double *xy;
            size_t nv;
            assert_int_equal(lg_layer_ring(l, row, r, &xy, &nv), LG_OK);
            for (size_t v = 0; v + 1 < nv; v++, k++) {
                if (k % vertex_stride)
                    continue;
                check_point(&o, xy[2 * v], xy[2 * v + 1], partition, st);
                double t = tu_uniform(&s, 0, 1);
                double px = xy[2 * v] + t * (xy[2 * v + 2] - xy[2 * v]);
                double py = xy[2 * v + 1] + t * (xy[2 * v + 3] - xy[2 * v + 1]);
                check_point(&o, px, py, partition, st);
                check_point(&o, 0.5 * (xy[2 * v] + xy[2 * v + 2]),
                            0.5 * (xy[2 * v + 1] + xy[2 * v + 3]), partition, st);
            }
        }
    }
    oracle_free(&o);
}

static void test_lattices_against_geos(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    const int sizes[][2] = {{1, 1}, {3, 2}, {10, 10}, {40, 25}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            lg_layer *l = lattice(ctx, sizes[i][0], sizes[i][1], seed == 1 ? 0.0 : 0.3, seed);
            check_stats st = {0};
            check_layer(ctx, l, true, 3000, 1, seed, &st);
            assert_true(st.points > 3000);
            if (sizes[i][0] > 1)
                assert_true(st.on_shared > 0);
            lg_layer_free(l);
        }
    }
    lg_context_free(ctx);
}

static void test_synth_against_geos(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    const size_t sizes[] = {10, 100, 1000, 10000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        lg_synth_options opt = {.seed = 7 + i, .cells = sizes[i]};
        lg_layer *l = NULL;
        lg_error e = lg_synth_county(ctx, &opt, &l);
        if (e == LG_ERR_UNSUPPORTED) {
            lg_context_free(ctx);
            skip();
        }
        if (e)
            fail_msg("synth %zu: %s", sizes[i], lg_context_message(ctx));
        assert_int_equal(lg_layer_count(l), sizes[i]);
        check_stats st = {0};
        size_t stride = sizes[i] >= 10000 ? 97 : sizes[i] >= 1000 ? 7 : 1;
        check_layer(ctx, l, true, sizes[i] >= 10000 ? 20000 : 5000, stride, 100 + i, &st);
        assert_true(st.on_shared > 0);
        lg_layer_free(l);
    }
    lg_context_free(ctx);
}

static void test_naturalearth_against_geos(void **state)
{
    (void)state;
    const char *path = tu_naturalearth();
    if (!path)
        skip();
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    lg_layer *l = NULL;
    lg_error e = lg_layer_load(ctx, path, NULL, &l);
    if (e == LG_ERR_UNSUPPORTED) {
        lg_context_free(ctx);
        skip();
    }
    if (e)
        fail_msg("%s", lg_context_message(ctx));
    check_stats st = {0};
    /* countries are not a partition (the sea is a gap): no ownership count check */
    check_layer(ctx, l, false, 20000, 5, 42, &st);
    assert_true(st.outside > 0);
    lg_layer_free(l);
    lg_context_free(ctx);
}

static void test_batch_equals_single(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    lg_layer *l = lattice(ctx, 20, 20, 0.3, 9);
    enum { N = 5000 };
    static double x[N], y[N];
    static int64_t out[N];
    uint64_t s = 3;
    for (size_t i = 0; i < N; i++) {
        x[i] = tu_uniform(&s, -1, 21);
        y[i] = tu_uniform(&s, -1, 21);
    }
    x[0] = NAN;
    assert_int_equal(lg_layer_locate_many(l, x, y, N, out), LG_OK);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(out[i], lg_layer_locate(l, x[i], y[i]));
    assert_int_equal(out[0], LG_NONE);
    assert_int_equal(lg_layer_locate_many(l, NULL, y, N, out), LG_ERR_ARG);
    assert_int_equal(lg_layer_locate_many(l, x, y, 0, NULL), LG_OK);
    /* locate_crs with no CRS on either side is a plain batch locate */
    assert_int_equal(lg_layer_locate_crs(ctx, l, NULL, x, y, N, out), LG_OK);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(out[i], lg_layer_locate(l, x[i], y[i]));
    /* the layer has no CRS: points in another one cannot be placed */
    assert_int_equal(lg_layer_locate_crs(ctx, l, "EPSG:4326", x, y, N, out), LG_ERR_CRS);
    assert_non_null(strstr(lg_context_message(ctx), "EPSG:4326"));
    lg_layer_free(l);
    lg_context_free(ctx);
}

static void test_locate_crs_transforms(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    lg_synth_options opt = {.seed = 5, .cells = 500};
    lg_layer *l;
    if (lg_synth_county(ctx, &opt, &l) != LG_OK)
        fail_msg("%s", lg_context_message(ctx));
    assert_string_equal(lg_layer_crs(l), "EPSG:4545");
    enum { N = 3000 };
    static double x[N], y[N], lon[N], lat[N];
    static int64_t want[N], got[N];
    double box[4];
    lg_layer_bounds(l, box);
    uint64_t s = 11;
    for (size_t i = 0; i < N; i++) {
        x[i] = tu_uniform(&s, box[0], box[2]);
        y[i] = tu_uniform(&s, box[1], box[3]);
    }
    /* the layer's own CRS: no transform, same answers */
    assert_int_equal(lg_layer_locate_crs(ctx, l, "EPSG:4545", x, y, N, got), LG_OK);
    assert_int_equal(lg_layer_locate_many(l, x, y, N, want), LG_OK);
    assert_memory_equal(got, want, sizeof got);
    /* GPS lon/lat: transform them to WGS84 with a separate transform, then back in
       the call; the answers must match the direct locate except within rounding of
       a boundary, so compare with the points the round trip gives */
    lg_transform *to_ll, *to_grid;
    assert_int_equal(lg_transform_new(ctx, "EPSG:4545", "EPSG:4326", &to_ll), LG_OK);
    assert_int_equal(lg_transform_new(ctx, "EPSG:4326", "EPSG:4545", &to_grid), LG_OK);
    memcpy(lon, x, sizeof lon);
    memcpy(lat, y, sizeof lat);
    assert_int_equal(lg_transform_apply(to_ll, lon, lat, N), LG_OK);
    assert_true(lon[0] > 105 && lon[0] < 111 && lat[0] > 25 && lat[0] < 35);
    double bx[N], by[N];
    memcpy(bx, lon, sizeof bx);
    memcpy(by, lat, sizeof by);
    assert_int_equal(lg_transform_apply(to_grid, bx, by, N), LG_OK);
    assert_int_equal(lg_layer_locate_many(l, bx, by, N, want), LG_OK);
    for (int rep = 0; rep < 2; rep++) { /* the second call uses the cached transform */
        assert_int_equal(lg_layer_locate_crs(ctx, l, "EPSG:4326", lon, lat, N, got), LG_OK);
        assert_memory_equal(got, want, sizeof got);
    }
    /* GCJ-02 input from a map app */
    lg_wgs84_to_gcj02(lon, lat, N);
    assert_int_equal(lg_layer_locate_crs(ctx, l, "GCJ-02", lon, lat, N, got), LG_OK);
    size_t same = 0;
    for (size_t i = 0; i < N; i++)
        same += got[i] == want[i];
    assert_true(same > N * 99 / 100); /* the inverse is within 0.5 m, cells are ~1 km */
    assert_int_equal(lg_layer_locate_crs(ctx, l, "EPSG:99999999", lon, lat, N, got), LG_ERR_CRS);
    assert_non_null(strstr(lg_context_message(ctx), "EPSG:99999999"));
    lg_transform_free(to_ll);
    lg_transform_free(to_grid);
    lg_layer_free(l);
    lg_context_free(ctx);
}

/* The sorted (large layer) batch path and the threaded path give the single answers. */
static void test_batch_paths_agree(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    lg_synth_options opt = {.seed = 21, .cells = 20000};
    lg_layer *l;
    if (lg_synth_county(ctx, &opt, &l) != LG_OK)
        fail_msg("%s", lg_context_message(ctx));
    assert_true(lg__accel_bytes(l->accel) >= ((size_t)4 << 20)); /* takes the pipelined path */
    size_t n = 300000;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    int64_t *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
    double b[4];
    lg_layer_bounds(l, b);
    uint64_t s = 5;
    for (size_t i = 0; i < n; i++) {
        x[i] = tu_uniform(&s, b[0] - 100, b[2] + 100);
        y[i] = tu_uniform(&s, b[1] - 100, b[3] + 100);
        want[i] = lg_layer_locate(l, x[i], y[i]);
    }
    x[7] = NAN;
    want[7] = LG_NONE;
    assert_int_equal(lg_layer_locate_many(l, x, y, n, got), LG_OK);
    assert_memory_equal(got, want, n * sizeof *got);
    for (unsigned t = 0; t <= 3; t++) {
        memset(got, 0x55, n * sizeof *got);
        assert_int_equal(lg_layer_locate_parallel(l, x, y, n, got, t), LG_OK);
        assert_memory_equal(got, want, n * sizeof *got);
    }
    assert_int_equal(lg_layer_locate_parallel(l, NULL, y, n, got, 2), LG_ERR_ARG);
    free(x);
    free(y);
    free(want);
    free(got);
    lg_layer_free(l);
    lg_context_free(ctx);
}

/* A capped accelerator is smaller, still exact; lg_layer_memory reports it. */
static void test_accelerator_cap(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    lg_synth_options opt = {.seed = 4, .cells = 3000};
    lg_layer *full, *capped;
    assert_int_equal(lg_synth_county(ctx, &opt, &full), LG_OK);
    size_t coords, over, acc_full, acc_capped;
    lg_layer_memory(full, &coords, &over, &acc_full);
    assert_true(coords == (size_t)full->nverts * 16);
    assert_true(over > 0 && acc_full > 0);
    opt.accel_max_bytes = acc_full / 4;
    assert_int_equal(lg_synth_county(ctx, &opt, &capped), LG_OK);
    lg_layer_memory(capped, NULL, NULL, &acc_capped);
    assert_true(acc_capped <= acc_full / 4);
    oracle o;
    oracle_init(&o, ctx, capped);
    check_stats st = {0};
    uint64_t s = 17;
    double b[4];
    lg_layer_bounds(capped, b);
    for (int i = 0; i < 20000; i++) {
        double x = tu_uniform(&s, b[0], b[2]), y = tu_uniform(&s, b[1], b[3]);
        assert_int_equal(lg_layer_locate(capped, x, y), lg_layer_locate(full, x, y));
        if (i < 3000)
            check_point(&o, x, y, true, &st);
    }
    oracle_free(&o);
    lg_layer_memory(NULL, &coords, NULL, NULL);
    assert_int_equal(coords, 0);
    lg_layer_free(full);
    lg_layer_free(capped);
    lg_context_free(ctx);
}

/*
 * The accelerator built in two bands (threads) is byte-for-byte the one built in one,
 * and its answers are the exact path's, on points drawn uniformly, on vertices and
 * on points along edges.
 */
static void assert_same_accel(const lg_accel *a, const lg_accel *b)
{
    assert_int_equal(a->nx, b->nx);
    assert_int_equal(a->ny, b->ny);
    assert_int_equal(a->nbp, b->nbp);
    assert_int_equal(a->ngrp, b->ngrp);
    assert_int_equal(a->nedges, b->nedges);
    assert_memory_equal(a->pix, b->pix, (size_t)a->nx * a->ny * sizeof *a->pix);
    assert_memory_equal(a->bp, b->bp, (size_t)a->nbp * sizeof *a->bp);
    assert_memory_equal(a->grp, b->grp, ((size_t)a->ngrp + 1) * sizeof *a->grp);
    assert_memory_equal(a->edges, b->edges, (size_t)a->nedges * sizeof *a->edges);
}

/*
 * locate (accelerator) = the exact test on n uniform points of box b and at `along`
 * points of every edge (vertices included); returns how many points lie in a cell.
 */
static size_t check_against_exact(const lg_layer *l, const double b[4], uint64_t *s, int n,
                                  int along)
{
    size_t resolved = 0;
    for (int i = 0; i < n; i++) {
        double x = tu_uniform(s, b[0], b[2]), y = tu_uniform(s, b[1], b[3]);
        int64_t want = lg__locate_exact(l, x, y), got = lg_layer_locate(l, x, y);
        if (got != want)
            fail_msg("(%.17g, %.17g): accelerator %lld, exact %lld", x, y, (long long)got,
                     (long long)want);
        resolved += got != LG_NONE;
    }
    for (size_t v = 0; v + 1 < l->nverts; v++) {
        const double *e = l->xy + 2 * v;
        for (int t = 0; t < along; t++) {
            double f = (double)t / along, x = e[0] + f * (e[2] - e[0]),
                   y = e[1] + f * (e[3] - e[1]);
            assert_int_equal(lg_layer_locate(l, x, y), lg__locate_exact(l, x, y));
        }
    }
    return resolved;
}

/*
 * Build l's accelerator with tiles of tile pixels on one thread and on two, require
 * the same bytes, and leave the two-thread one in l.
 */
static void build_one_and_two(lg_layer *l, uint32_t tile)
{
    lg_accel *one = NULL, *two = NULL;
    assert_int_equal(lg__accel_build_ex(l, LG__ACCEL_PPC, 0, 1, tile, &one), LG_OK);
    assert_int_equal(lg__accel_build_ex(l, LG__ACCEL_PPC, 0, 2, tile, &two), LG_OK);
    assert_non_null(one);
    assert_same_accel(one, two);
    lg__accel_free(&l->alloc, one);
    lg__accel_free(&l->alloc, l->accel);
    l->accel = two;
}

static void test_accel_threads(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    for (int k = 0; k < 3; k++) {
        lg_layer *l = NULL;
        if (k < 2) {
            lg_synth_options opt = {.seed = 31 + (uint64_t)k, .cells = k ? 3000 : 150};
            if (lg_synth_county(ctx, &opt, &l) != LG_OK)
                fail_msg("%s", lg_context_message(ctx));
        } else {
            l = lattice(ctx, 40, 30, 0.3, 9);
        }
        build_one_and_two(l, 16);
        double b[4];
        lg_layer_bounds(l, b);
        uint64_t s = 77 + (uint64_t)k;
        assert_true(check_against_exact(l, b, &s, 200000, 3) > 1000);
        lg_layer_free(l);
    }
    lg_context_free(ctx);
}

/*
 * Heavily overlapping squares, tiles of 8 pixels: cells that own pixel centres without
 * edges there (the exact path's pixels, marked while later cells are still placed),
 * runs answered from neighbours at tile borders. One thread and two give the same
 * bytes; every answer equals the exact test's.
 */
static void test_accel_overlap_tiles(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    lg_builder *b;
    assert_int_equal(lgb_new(ctx, "overlap-tiles", LG_LOAD_NO_VALIDATE, &b), LG_OK);
    uint64_t s = 4242;
    for (int k = 0; k < 400; k++) {
        double x = tu_uniform(&s, 0, 100), y = tu_uniform(&s, 0, 100);
        double w = tu_uniform(&s, 0.5, 12), h = tu_uniform(&s, 0.5, 12);
        double r[] = {x, y, x + w, y, x + w, y + h, x, y + h, x, y};
        assert_int_equal(lgb_begin_cell(b), LG_OK);
        assert_int_equal(lgb_add_ring(b, r, 5, false), LG_OK);
        assert_int_equal(lgb_end_cell(b), LG_OK);
    }
    lg_layer *l;
    assert_int_equal(lgb_finish(b, NULL, NULL, &l), LG_OK);
    build_one_and_two(l, 8);
    size_t deferred = 0;
    for (size_t p = 0; p < (size_t)l->accel->nx * l->accel->ny; p++)
        deferred += l->accel->pix[p] == LG__PIX_DEFER;
    assert_true(deferred > 0); /* the case this test is for */
    const double around[4] = {-1, -1, 113, 113};
    assert_true(check_against_exact(l, around, &s, 200000, 4) > 1000);
    lg_layer_free(l);
    lg_context_free(ctx);
}

/*
 * Rings collapsed to a point (every vertex the same): the exact path says the point is
 * touched, so the accelerator must keep the zero-length edges that touch it (found by
 * fuzz_wkt: nine copies of (0, 0)). Also beside an ordinary cell.
 */
static void test_collapsed_ring(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    for (int with_square = 0; with_square < 2; with_square++) {
        lg_builder *b;
        assert_int_equal(lgb_new(ctx, "collapsed", LG_LOAD_NO_VALIDATE, &b), LG_OK);
        double pt[18] = {0};
        for (int i = 0; i < 9; i++) {
            pt[2 * i] = 3;
            pt[2 * i + 1] = 2;
        }
        if (with_square) {
            const double sq[10] = {0, 0, 10, 0, 10, 10, 0, 10, 0, 0};
            assert_int_equal(lgb_begin_cell(b), LG_OK);
            assert_int_equal(lgb_add_ring(b, sq, 5, false), LG_OK);
            assert_int_equal(lgb_end_cell(b), LG_OK);
            pt[0] = pt[16] = 12; /* the collapsed ring outside the square */
            for (int i = 0; i < 9; i++) {
                pt[2 * i] = 12;
                pt[2 * i + 1] = 5;
            }
        }
        assert_int_equal(lgb_begin_cell(b), LG_OK);
        assert_int_equal(lgb_add_ring(b, pt, 9, false), LG_OK);
        assert_int_equal(lgb_end_cell(b), LG_OK);
        lg_layer *l = NULL;
        if (lgb_finish(b, NULL, NULL, &l) != LG_OK)
            fail_msg("%s", lg_context_message(ctx));
        assert_non_null(l->accel);
        double px = pt[0], py = pt[1];
        assert_int_equal(lg__locate_exact(l, px, py), with_square ? 1 : 0);
        assert_int_equal(lg_layer_locate(l, px, py), lg__locate_exact(l, px, py));
        const double d[4][2] = {{1e-9, 0}, {0, -1e-9}, {0.5, 0.5}, {-1, 0}};
        for (int k = 0; k < 4; k++)
            assert_int_equal(lg_layer_locate(l, px + d[k][0], py + d[k][1]),
                             lg__locate_exact(l, px + d[k][0], py + d[k][1]));
        int64_t out[1];
        assert_int_equal(lg_layer_locate_many(l, &px, &py, 1, out), LG_OK);
        assert_int_equal(out[0], lg__locate_exact(l, px, py));
        lg_layer_free(l);
    }
    lg_context_free(ctx);
}

static void test_orient_exact(void **state)
{
    (void)state;
    /* points on a long diagonal: the naive determinant gets these wrong */
    assert_int_equal(lg__orient(0, 0, 1, 1, 0.5, 0.5), 0);
    assert_int_equal(lg__orient(0, 0, 3, 3, 1, 1), 0);
    double a = 0.1, b = 0.3;
    /* 0.1*3 != 0.3 in binary: (0.1, 0.3) is not exactly on y = 3x */
    int o = lg__orient(0, 0, 1, 3, a, b);
    /* det = 1 * b - 3 * a, exact in long double */
    int expect = ((long double)b > 3 * (long double)a) ? 1 : -1;
    assert_int_equal(o, expect);
    /* A near-degenerate grid of points one ulp apart next to the line y = x (after
       Shewchuk's figures): the exact sign is the sign of py - px. */
    for (int i = 0; i < 64; i++)
        for (int j = 0; j < 64; j++) {
            double px = 0.5 + i * ldexp(1, -53), py = 0.5 + j * ldexp(1, -53);
            int got = lg__orient(12, 12, 24, 24, px, py);
            /* exact sign of (24-12)*(py-12) - (24-12)*(px-12) = 12*(py - px) */
            int exp = py > px ? 1 : py < px ? -1 : 0;
            assert_int_equal(got, exp);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orient_exact),
        cmocka_unit_test(test_boundary_rule_unit_squares),
        cmocka_unit_test(test_hole_and_multipolygon),
        cmocka_unit_test(test_overlap_lowest_row_wins),
        cmocka_unit_test(test_batch_equals_single),
        cmocka_unit_test(test_locate_crs_transforms),
        cmocka_unit_test(test_batch_paths_agree),
        cmocka_unit_test(test_accelerator_cap),
        cmocka_unit_test(test_accel_threads),
        cmocka_unit_test(test_accel_overlap_tiles),
        cmocka_unit_test(test_collapsed_ring),
        cmocka_unit_test(test_lattices_against_geos),
        cmocka_unit_test(test_synth_against_geos),
        cmocka_unit_test(test_naturalearth_against_geos),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
