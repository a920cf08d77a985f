/*
 * Messy data: a generated county spoiled the way real district files are (a cell
 * grown over its neighbours: sliver overlaps; a cell shrunk: gaps; every vertex of a
 * cell doubled; a self-intersecting "bowtie" cell), and Natural Earth's countries.
 * They load; the invalid cell is reported with its place; LG_LOAD_REPAIR repairs it;
 * locate gives the lowest row among the cells that contain a point (the overlap rule
 * of docs/ARCHITECTURE.md), checked against GEOS (prepared contains) on random
 * points, and against lg__cell_owns over every cell.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { GROW = 3, SHRINK = 10, DOUBLED = 15, BOWTIE = 20 };

static lg_layer *spoiled(lg_context *ctx, const lg_layer *src, unsigned flags)
{
    lg_builder *b = NULL;
    assert_int_equal(lgb_new(ctx, "messy", flags, &b), LG_OK);
    for (size_t r = 0; r < lg_layer_count(src); r++) {
        assert_int_equal(lgb_begin_cell(b), LG_OK);
        double box[4];
        lg_layer_cell_bounds(src, r, box);
        double cx = 0.5 * (box[0] + box[2]), cy = 0.5 * (box[1] + box[3]);
        for (size_t k = 0; k < lg_layer_ring_count(src, r); k++) {
            const double *xy;
            size_t n;
            assert_int_equal(lg_layer_ring(src, r, k, &xy, &n), LG_OK);
            double *v = malloc(2 * sizeof(double) * (2 * n + 8));
            size_t m = 0;
            if (r == BOWTIE) {
                double w = 0.4 * (box[2] - box[0]), h = 0.4 * (box[3] - box[1]);
                double pts[] = {cx - w, cy - h, cx + w, cy + h, cx + w,
                                cy - h, cx - w, cy + h, cx - w, cy - h};
                memcpy(v, pts, sizeof pts);
                m = 5;
            } else {
                for (size_t i = 0; i < n; i++) {
                    double x = xy[2 * i], y = xy[2 * i + 1];
                    double s = r == GROW ? 1.03 : r == SHRINK ? 0.97 : 1.0;
                    v[2 * m] = cx + s * (x - cx);
                    v[2 * m + 1] = cy + s * (y - cy);
                    m++;
                    if (r == DOUBLED && i + 1 < n) { /* a duplicate vertex */
                        v[2 * m] = v[2 * m - 2];
                        v[2 * m + 1] = v[2 * m - 1];
                        m++;
                    }
                }
            }
            assert_int_equal(lgb_add_ring(b, v, m, k > 0), LG_OK);
            free(v);
        }
        assert_int_equal(lgb_end_cell(b), LG_OK);
    }
    lg_layer *l = NULL;
    assert_int_equal(lgb_finish(b, lg_layer_crs(src), NULL, &l), LG_OK);
    return l;
}

/* locate == lowest row among the cells whose GEOS geometry contains the point */
static size_t check_against_geos(lg_context *ctx, const lg_layer *l, size_t npts, uint64_t seed,
                                 size_t *overlap_pts)
{
    GEOSContextHandle_t h = lg__geos(ctx);
    size_t n = lg_layer_count(l);
    GEOSGeometry **g = calloc(n, sizeof *g);
    const GEOSPreparedGeometry **pg = calloc(n, sizeof *pg);
    for (size_t r = 0; r < n; r++) {
        g[r] = lg__cell_to_geos(h, l, r);
        pg[r] = GEOSPrepare_r(h, g[r]);
    }
    double b[4];
    lg_layer_bounds(l, b);
    size_t checked = 0;
    *overlap_pts = 0;
    for (size_t i = 0; i < npts; i++) {
        double x = tu_uniform(&seed, b[0], b[2]), y = tu_uniform(&seed, b[1], b[3]);
        GEOSGeometry *p = GEOSGeom_createPointFromXY_r(h, x, y);
        int64_t want = LG_NONE;
        size_t holders = 0, owners = 0;
        int64_t first_owner = LG_NONE;
        for (size_t r = 0; r < n; r++) {
            double cb[4];
            if (!lg_layer_cell_bounds(l, r, cb) || x < cb[0] || x > cb[2] || y < cb[1] || y > cb[3])
                continue;
            if (GEOSPreparedContains_r(h, pg[r], p) == 1) {
                if (want == LG_NONE)
                    want = (int64_t)r;
                holders++;
            }
            if (lg__cell_owns(l, r, x, y, NULL)) {
                if (first_owner == LG_NONE)
                    first_owner = (int64_t)r;
                owners++;
            }
        }
        GEOSGeom_destroy_r(h, p);
        if (holders > 1)
            (*overlap_pts)++;
        int64_t got = lg_layer_locate(l, x, y);
        if (got != want || got != first_owner)
            fail_msg("(%.17g, %.17g): locate %lld, GEOS lowest containing row %lld, lowest "
                     "owner %lld",
                     x, y, (long long)got, (long long)want, (long long)first_owner);
        checked++;
    }
    for (size_t r = 0; r < n; r++) {
        GEOSPreparedGeom_destroy_r(h, pg[r]);
        GEOSGeom_destroy_r(h, g[r]);
    }
    free(pg);
    free(g);
    return checked;
}

static void test_spoiled_county(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    lg_synth_options o = {.seed = 21, .cells = 30, .edge_vertices = 3};
    lg_layer *src;
    assert_int_equal(lg_synth_county(ctx, &o, &src), LG_OK);

    /* without repair: it loads; the bowtie is reported with a place inside its box */
    lg_layer *l = spoiled(ctx, src, 0);
    size_t invalid = 0;
    for (size_t i = 0; i < lg_layer_problem_count(l); i++) {
        int64_t row;
        lg_problem_kind k;
        double x, y;
        const char *msg;
        assert_int_equal(lg_layer_problem(l, i, &row, &k, &x, &y, &msg), LG_OK);
        print_message("problem: %s\n", msg);
        if (k == LG_PROBLEM_INVALID) {
            assert_int_equal(row, BOWTIE);
            double cb[4];
            lg_layer_cell_bounds(l, (size_t)row, cb);
            assert_true(x >= cb[0] && x <= cb[2] && y >= cb[1] && y <= cb[3]);
            assert_non_null(strstr(msg, "record 20"));
            invalid++;
        }
    }
    assert_int_equal(invalid, 1);
    /* the unrepaired layer: locate is still the lowest owner by the exact rule */
    double b[4];
    lg_layer_bounds(l, b);
    uint64_t s = 5;
    for (int i = 0; i < 20000; i++) {
        double x = tu_uniform(&s, b[0], b[2]), y = tu_uniform(&s, b[1], b[3]);
        int64_t want = LG_NONE;
        for (size_t r = 0; r < lg_layer_count(l) && want == LG_NONE; r++)
            if (lg__cell_owns(l, r, x, y, NULL))
                want = (int64_t)r;
        assert_int_equal(lg_layer_locate(l, x, y), want);
    }
    lg_layer_free(l);

    /* with repair: REPAIRED, and GEOS agrees on random points */
    l = spoiled(ctx, src, LG_LOAD_REPAIR);
    size_t repaired = 0;
    for (size_t i = 0; i < lg_layer_problem_count(l); i++) {
        int64_t row;
        lg_problem_kind k;
        lg_layer_problem(l, i, &row, &k, NULL, NULL, NULL);
        repaired += k == LG_PROBLEM_REPAIRED && row == BOWTIE;
    }
    assert_int_equal(repaired, 1);
    size_t overlaps;
    size_t n = check_against_geos(ctx, l, 30000, 77, &overlaps);
    print_message("spoiled county: %zu random points agree with GEOS, %zu in overlaps (lowest "
                  "row won)\n",
                  n, overlaps);
    assert_true(overlaps > 0); /* the grown cell does overlap its neighbours */
    lg_layer_free(l);
    lg_layer_free(src);
    lg_context_free(ctx);
}

static void test_naturalearth_repaired(void **state)
{
    (void)state;
    const char *p = tu_naturalearth();
    if (!p)
        skip();
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    lg_load_options o = {.flags = LG_LOAD_REPAIR};
    lg_layer *l = NULL;
    assert_int_equal(lg_layer_load(ctx, p, &o, &l), LG_OK);
    size_t overlaps;
    size_t n = check_against_geos(ctx, l, 20000, 3, &overlaps);
    print_message("Natural Earth (%zu countries, %zu problems): %zu random points agree with "
                  "GEOS, %zu in overlaps\n",
                  lg_layer_count(l), lg_layer_problem_count(l), n, overlaps);
    lg_layer_free(l);
    lg_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spoiled_county),
        cmocka_unit_test(test_naturalearth_repaired),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
