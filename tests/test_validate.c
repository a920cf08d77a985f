/*
 * lg_layer_validate: overlaps between cells against a brute-force oracle (GEOS
 * intersection area of every pair of cells, no R-tree), validity, load problems.
 */
#include "testutil.h"
#include "libgrid/validate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A county with cell `grow` scaled by s about its box centre (s > 1: overlaps). */
static lg_layer *scaled(lg_context *ctx, const lg_layer *src, size_t grow, double s, bool bowtie)
{
    lg_builder *b = NULL;
    assert_int_equal(lgb_new(ctx, "scaled", LG_LOAD_NO_VALIDATE, &b), LG_OK);
    for (size_t r = 0; r < lg_layer_count(src); r++) {
        assert_int_equal(lgb_begin_cell(b), LG_OK);
        double box[4];
        lg_layer_cell_bounds(src, r, box);
        double cx = 0.5 * (box[0] + box[2]), cy = 0.5 * (box[1] + box[3]);
        if (bowtie && r == 1) {
            double w = 0.3 * (box[2] - box[0]), h = 0.3 * (box[3] - box[1]);
            double v[] = {cx - w, cy - h, cx + w, cy + h, cx + w,
                          cy - h, cx - w, cy + h, cx - w, cy - h};
            assert_int_equal(lgb_add_ring(b, v, 5, false), LG_OK);
        } else {
            for (size_t k = 0; k < lg_layer_ring_count(src, r); k++) {
                const double *xy;
                size_t n;
                lg_layer_ring(src, r, k, &xy, &n);
                double *v = malloc(2 * n * sizeof *v);
                double f = r == grow ? s : 1.0;
                for (size_t i = 0; i < n; i++) {
                    v[2 * i] = cx + f * (xy[2 * i] - cx);
                    v[2 * i + 1] = cy + f * (xy[2 * i + 1] - cy);
                }
                assert_int_equal(lgb_add_ring(b, v, n, k > 0), LG_OK);
                free(v);
            }
        }
        assert_int_equal(lgb_end_cell(b), LG_OK);
    }
    lg_layer *l = NULL;
    assert_int_equal(lgb_finish(b, lg_layer_crs(src), NULL, &l), LG_OK);
    return l;
}

/* Pairs (a < b) whose GEOS intersection area exceeds min, brute force over all pairs. */
static size_t brute_overlaps(lg_context *ctx, const lg_layer *l, double min, int64_t *pa,
                             int64_t *pb, size_t cap)
{
    GEOSContextHandle_t h = lg__geos(ctx);
    size_t n = lg_layer_count(l), k = 0;
    for (size_t a = 0; a < n; a++) {
        GEOSGeometry *ga = lg__cell_to_geos(h, l, a);
        for (size_t b = a + 1; b < n; b++) {
            GEOSGeometry *gb = lg__cell_to_geos(h, l, b);
            GEOSGeometry *in = GEOSIntersection_r(h, ga, gb);
            double area = 0;
            if (in && GEOSisEmpty_r(h, in) != 1)
                GEOSArea_r(h, in, &area);
            if (area > min && area > 0 && k < cap) {
                pa[k] = (int64_t)a;
                pb[k] = (int64_t)b;
                k++;
            }
            GEOSGeom_destroy_r(h, in);
            GEOSGeom_destroy_r(h, gb);
        }
        GEOSGeom_destroy_r(h, ga);
    }
    return k;
}

static void test_overlaps_vs_brute_force(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    lg_synth_options o = {.seed = 4, .cells = 40, .edge_vertices = 3};
    lg_layer *src;
    assert_int_equal(lg_synth_county(ctx, &o, &src), LG_OK);

    /* a clean county: shared edges are no overlap */
    lg_validation *v = NULL;
    assert_int_equal(lg_layer_validate(ctx, src, NULL, &v), LG_OK);
    assert_int_equal(lg_validation_count_kind(v, LG_PROBLEM_OVERLAP), 0);
    assert_int_equal(lg_validation_count_kind(v, LG_PROBLEM_INVALID), 0);
    lg_validation_free(v);

    for (size_t grow = 0; grow < 40; grow += 7) {
        lg_layer *l = scaled(ctx, src, grow, 1.04, grow == 14);
        int64_t pa[64], pb[64];
        size_t nb = brute_overlaps(ctx, l, 0, pa, pb, 64);
        assert_true(nb > 0);
        assert_int_equal(lg_layer_validate(ctx, l, NULL, &v), LG_OK);
        assert_int_equal(lg_validation_count_kind(v, LG_PROBLEM_OVERLAP), nb);
        size_t seen = 0;
        for (size_t i = 0; i < lg_validation_count(v); i++) {
            int64_t row, other;
            lg_problem_kind k;
            double x, y, area;
            const char *msg;
            assert_int_equal(lg_validation_problem(v, i, &row, &k, &x, &y, &msg, &other, &area),
                             LG_OK);
            if (k == LG_PROBLEM_INVALID) {
                assert_int_equal(row, 1); /* the bowtie */
                continue;
            }
            if (k != LG_PROBLEM_OVERLAP)
                continue;
            /* reported on the higher row; the pair is one the brute force found */
            assert_true(other < row);
            bool found = false;
            for (size_t j = 0; j < nb; j++)
                found |= pa[j] == other && pb[j] == row;
            assert_true(found);
            assert_true(area > 0);
            /* the place lies in both cells, and locate gives it to the lower row */
            assert_true(isfinite(x) && isfinite(y));
            int64_t at = lg_layer_locate(l, x, y);
            assert_true(at <= other);
            char want[64];
            snprintf(want, sizeof want, "row %lld overlaps row %lld", (long long)row,
                     (long long)other);
            assert_non_null(strstr(msg, want));
            seen++;
        }
        assert_int_equal(seen, nb);
        if (grow == 14)
            assert_int_equal(lg_validation_count_kind(v, LG_PROBLEM_INVALID), 1);
        lg_validation_free(v);
        /* a tolerance above every overlap hides them all */
        lg_validate_options vo = {.min_overlap_area = 1e12, .skip_validity = true};
        assert_int_equal(lg_layer_validate(ctx, l, &vo, &v), LG_OK);
        assert_int_equal(lg_validation_count(v), 0);
        lg_validation_free(v);
        lg_layer_free(l);
    }
    lg_validate_options bad = {.min_overlap_area = NAN};
    assert_int_equal(lg_layer_validate(ctx, src, &bad, &v), LG_ERR_ARG);
    assert_null(v);
    assert_non_null(strstr(lg_context_message(ctx), "min_overlap_area"));
    lg_layer_free(src);
    lg_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overlaps_vs_brute_force),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
