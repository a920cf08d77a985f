/*
 * Tests of derived layers (derive.c): lg_layer_derive and lg_layer_dissolve.
 * Oracles: the source layer itself (WKB of every cell, every attribute value), the
 * written-and-reloaded files, and GEOS computed here independently (cell areas summed
 * per group, the unary union of each group's cells, symmetric differences).
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

static lg_layer *county(lg_context *ctx, size_t cells, uint64_t seed)
{
    lg_synth_options o = {0};
    o.cells = cells;
    o.seed = seed;
    lg_layer *l = NULL;
    assert_int_equal(lg_synth_county(ctx, &o, &l), LG_OK);
    return l;
}

static unsigned char *cell_wkb(const lg_layer *l, size_t row, size_t *len)
{
    assert_int_equal(lg_layer_cell_wkb(l, row, NULL, 0, len), LG_OK);
    unsigned char *buf = malloc(*len + 1);
    assert_non_null(buf);
    size_t got = 0;
    assert_int_equal(lg_layer_cell_wkb(l, row, buf, *len, &got), LG_OK);
    assert_int_equal(got, *len);
    return buf;
}

/* Every cell of b has the WKB of the same cell of a; every field of a has equal values. */
static void assert_same_cells_and_fields(const lg_layer *a, const lg_layer *b)
{
    assert_int_equal(lg_layer_count(a), lg_layer_count(b));
    for (size_t r = 0; r < lg_layer_count(a); r++) {
        size_t la, lb;
        unsigned char *wa = cell_wkb(a, r, &la), *wb = cell_wkb(b, r, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(wa, wb, la);
        free(wa);
        free(wb);
    }
    for (size_t f = 0; f < lg_layer_field_count(a); f++) {
        size_t g;
        assert_int_equal(lg_layer_field_index(b, lg_layer_field_name(a, f), &g), LG_OK);
        assert_int_equal(lg_layer_field_type(a, f), lg_layer_field_type(b, g));
        for (size_t r = 0; r < lg_layer_count(a); r++) {
            assert_int_equal(lg_layer_is_null(a, f, r), lg_layer_is_null(b, g, r));
            if (lg_layer_is_null(a, f, r))
                continue;
            if (lg_layer_field_type(a, f) == LG_FIELD_TEXT) {
                const char *sa, *sb;
                assert_int_equal(lg_layer_get_text(a, f, r, &sa), LG_OK);
                assert_int_equal(lg_layer_get_text(b, g, r, &sb), LG_OK);
                assert_string_equal(sa, sb);
            } else {
                double va, vb;
                assert_int_equal(lg_layer_get_real(a, f, r, &va), LG_OK);
                assert_int_equal(lg_layer_get_real(b, g, r, &vb), LG_OK);
                assert_true(va == vb);
            }
        }
    }
}

static void test_derive_preserves_and_adds(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    lg_layer *src = county(ctx, 300, 11);
    size_t n = lg_layer_count(src);
    int64_t *zi = malloc(n * sizeof *zi);
    double *zr = malloc(n * sizeof *zr);
    const char **zt = malloc(n * sizeof *zt);
    uint8_t *nul = calloc(n, 1);
    char(*names)[32] = malloc(n * sizeof *names);
    for (size_t r = 0; r < n; r++) {
        zi[r] = (int64_t)(r * 7 % 13) - 3;
        zr[r] = r * 0.25 + 1e-3;
        snprintf(names[r], sizeof names[r], "z,%zu\"", r);
        zt[r] = r % 5 == 0 ? NULL : names[r];
        nul[r] = r % 4 == 0;
    }
    lg_column_spec cols[3] = {
        {.name = "zone", .type = LG_FIELD_INT, .ints = zi, .null = nul},
        {.name = "score", .type = LG_FIELD_REAL, .reals = zr},
        {.name = "label", .type = LG_FIELD_TEXT, .texts = zt},
    };
    lg_layer *d = NULL;
    assert_int_equal(lg_layer_derive(ctx, src, cols, 3, &d), LG_OK);
    assert_same_cells_and_fields(src, d);
    assert_string_equal(lg_layer_crs(src), lg_layer_crs(d));
    assert_int_equal(lg_layer_field_count(d), lg_layer_field_count(src) + 3);
    assert_int_equal(lg_layer_problem_count(d), 0);
    size_t fz, fs, fl;
    assert_int_equal(lg_layer_field_index(d, "zone", &fz), LG_OK);
    assert_int_equal(lg_layer_field_index(d, "score", &fs), LG_OK);
    assert_int_equal(lg_layer_field_index(d, "label", &fl), LG_OK);
    assert_int_equal(fz, lg_layer_field_count(src));
    for (size_t r = 0; r < n; r++) {
        assert_int_equal(lg_layer_is_null(d, fz, r), nul[r] != 0);
        if (!nul[r]) {
            int64_t v;
            assert_int_equal(lg_layer_get_int(d, fz, r, &v), LG_OK);
            assert_int_equal(v, zi[r]);
        }
        double v;
        assert_int_equal(lg_layer_get_real(d, fs, r, &v), LG_OK);
        assert_true(v == zr[r]);
        assert_int_equal(lg_layer_is_null(d, fl, r), zt[r] == NULL);
        if (zt[r]) {
            const char *s;
            assert_int_equal(lg_layer_get_text(d, fl, r, &s), LG_OK);
            assert_string_equal(s, zt[r]);
        }
    }
    /* the derived layer locates like the source */
    double box[4];
    assert_true(lg_layer_bounds(src, box));
    uint64_t rs = 5;
    for (int i = 0; i < 2000; i++) {
        double x = tu_uniform(&rs, box[0], box[2]), y = tu_uniform(&rs, box[1], box[3]);
        assert_int_equal(lg_layer_locate(src, x, y), lg_layer_locate(d, x, y));
    }

    /* written and read back: the new columns survive (GeoJSON and Shapefile) */
    char path[512];
    snprintf(path, sizeof path, "%s/derived.geojson", tu_tmpdir());
    assert_int_equal(lg_layer_write_geojson(ctx, d, path), LG_OK);
    lg_layer *back = NULL;
    lg_load_options lo = {.crs = lg_layer_crs(d)};
    assert_int_equal(lg_layer_load(ctx, path, &lo, &back), LG_OK);
    size_t bz;
    assert_int_equal(lg_layer_field_index(back, "zone", &bz), LG_OK);
    for (size_t r = 0; r < n; r++) {
        assert_int_equal(lg_layer_is_null(back, bz, r), nul[r] != 0);
        int64_t v;
        if (!nul[r]) {
            assert_int_equal(lg_layer_get_int(back, bz, r, &v), LG_OK);
            assert_int_equal(v, zi[r]);
        }
    }
    lg_layer_free(back);
    snprintf(path, sizeof path, "%s/derived.shp", tu_tmpdir());
    assert_int_equal(lg_layer_write_shapefile(ctx, d, path), LG_OK);
    assert_int_equal(lg_layer_load(ctx, path, NULL, &back), LG_OK);
    assert_int_equal(lg_layer_count(back), n);
    assert_int_equal(lg_layer_field_index(back, "score", &bz), LG_OK);
    for (size_t r = 0; r < n; r++) {
        double v;
        assert_int_equal(lg_layer_get_real(back, bz, r, &v), LG_OK);
        assert_true(fabs(v - zr[r]) <= 1e-9 * fabs(zr[r]) + 1e-9);
    }
    lg_layer_free(back);

    /* zero extra columns: a plain copy */
    lg_layer *copy = NULL;
    assert_int_equal(lg_layer_derive(ctx, src, NULL, 0, &copy), LG_OK);
    assert_same_cells_and_fields(src, copy);
    lg_layer_free(copy);

    lg_layer_free(d);
    lg_layer_free(src);
    free(zi);
    free(zr);
    free(zt);
    free(nul);
    free(names);
    lg_context_free(ctx);
}

/* Id field, holes and multipolygons are carried over; problems are not. */
static void test_derive_ids_holes_problems(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    char path[512];
    snprintf(path, sizeof path, "%s/holes.geojson", tu_tmpdir());
    const char *gj =
        "{\"type\":\"FeatureCollection\",\"features\":["
        "{\"type\":\"Feature\",\"properties\":{\"cid\":\"a\"},\"geometry\":{\"type\":\"Polygon\","
        "\"coordinates\":[[[0,0],[10,0],[10,10],[0,10],[0,0]],[[2,2],[2,4],[4,4],[4,2],[2,2]]]}},"
        "{\"type\":\"Feature\",\"properties\":{\"cid\":\"b\"},\"geometry\":{\"type\":"
        "\"MultiPolygon\",\"coordinates\":[[[[20,0],[30,0],[30,10],[20,10],[20,0]]],"
        "[[[40,0],[50,0],[50,10],[40,10],[40,0]]]]}},"
        "{\"type\":\"Feature\",\"properties\":{\"cid\":\"a\"},\"geometry\":{\"type\":\"Polygon\","
        "\"coordinates\":[[[60,0],[70,10],[70,0],[60,10],[60,0]]]}}]}";
    assert_int_equal(tu_write_file(path, gj, strlen(gj)), 0);
    lg_load_options lo = {.id_field = "cid", .crs = "EPSG:4545"};
    lg_layer *src = NULL;
    assert_int_equal(lg_layer_load(ctx, path, &lo, &src), LG_OK);
    assert_true(lg_layer_problem_count(src) >= 2); /* bow tie, duplicate id */
    int64_t v[3] = {1, 2, 3};
    lg_column_spec c = {.name = "extra", .type = LG_FIELD_INT, .ints = v};
    lg_layer *d = NULL;
    assert_int_equal(lg_layer_derive(ctx, src, &c, 1, &d), LG_OK);
    assert_same_cells_and_fields(src, d);
    assert_int_equal(lg_layer_ring_count(d, 0), 2);
    assert_int_equal(lg_layer_ring_count(d, 1), 2);
    assert_int_equal(lg_layer_id_field(d), lg_layer_id_field(src));
    assert_int_equal(lg_layer_find_id_text(d, "b"), 1);
    /* a point in the hole is in no cell, as in the source */
    assert_int_equal(lg_layer_locate(d, 3, 3), LG_NONE);
    assert_int_equal(lg_layer_locate(d, 1, 1), 0);
    /* load problems (the bow tie) are not copied; the duplicate id is found again */
    for (size_t i = 0; i < lg_layer_problem_count(d); i++) {
        lg_problem_kind k;
        assert_int_equal(lg_layer_problem(d, i, NULL, &k, NULL, NULL, NULL), LG_OK);
        assert_int_not_equal(k, LG_PROBLEM_INVALID);
    }
    lg_layer_free(d);
    lg_layer_free(src);
    lg_context_free(ctx);
}

static double geos_area(GEOSContextHandle_t h, const GEOSGeometry *g)
{
    double a = NAN;
    assert_int_equal(GEOSArea_r(h, g, &a), 1);
    return a;
}

static void test_dissolve_areas(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    GEOSContextHandle_t h = lg__geos(ctx);
    lg_layer *src = county(ctx, 400, 3);
    size_t n = lg_layer_count(src), fst;
    assert_int_equal(lg_layer_field_index(src, "station", &fst), LG_OK);
    int64_t *grp = malloc(n * sizeof *grp);
    int64_t maxg = -1;
    for (size_t r = 0; r < n; r++) {
        assert_int_equal(lg_layer_get_int(src, fst, r, &grp[r]), LG_OK);
        grp[r] = grp[r] * 3 + 5; /* sparse ids */
        if (r % 17 == 0)
            grp[r] = -1; /* left out */
        if (grp[r] > maxg)
            maxg = grp[r];
    }
    lg_layer *d = NULL;
    assert_int_equal(lg_layer_dissolve(ctx, src, grp, n, &d), LG_OK);
    assert_string_equal(lg_layer_crs(d), lg_layer_crs(src));
    size_t fg, fc;
    assert_int_equal(lg_layer_field_index(d, "group", &fg), LG_OK);
    assert_int_equal(lg_layer_field_index(d, "cells", &fc), LG_OK);
    /* oracle: per group, summed GEOS cell areas, the count, and the GEOS unary union */
    size_t ngroups = 0;
    int64_t prev = -1;
    for (int64_t g = 0; g <= maxg; g++) {
        double sum = 0;
        size_t cnt = 0;
        GEOSGeometry **parts = malloc(n * sizeof *parts);
        for (size_t r = 0; r < n; r++)
            if (grp[r] == g) {
                parts[cnt] = lg__cell_to_geos(h, src, r);
                sum += geos_area(h, parts[cnt]);
                cnt++;
            }
        if (!cnt) {
            free(parts);
            continue;
        }
        GEOSGeometry *coll =
            GEOSGeom_createCollection_r(h, GEOS_GEOMETRYCOLLECTION, parts, (unsigned)cnt);
        GEOSGeometry *u = GEOSUnaryUnion_r(h, coll);
        assert_non_null(u);
        size_t row = ngroups++;
        assert_true(row < lg_layer_count(d));
        int64_t gid, c;
        assert_int_equal(lg_layer_get_int(d, fg, row, &gid), LG_OK);
        assert_int_equal(lg_layer_get_int(d, fc, row, &c), LG_OK);
        assert_int_equal(gid, g);
        assert_true(gid > prev);
        prev = gid;
        assert_int_equal(c, (int64_t)cnt);
        GEOSGeometry *dg = lg__cell_to_geos(h, d, row);
        double da = geos_area(h, dg);
        assert_true(fabs(da - sum) <= 1e-9 * sum);
        GEOSGeometry *sd = GEOSSymDifference_r(h, dg, u);
        assert_non_null(sd);
        assert_true(geos_area(h, sd) <= 1e-9 * sum);
        assert_int_equal(GEOSisValid_r(h, dg), 1);
        GEOSGeom_destroy_r(h, sd);
        GEOSGeom_destroy_r(h, dg);
        GEOSGeom_destroy_r(h, u);
        GEOSGeom_destroy_r(h, coll);
        free(parts);
    }
    assert_int_equal(lg_layer_count(d), ngroups);
    lg_layer_free(d);
    free(grp);
    lg_layer_free(src);
    lg_context_free(ctx);
}

/* Overlapping cells: the coverage union is not valid, the general union is used. */
static void test_dissolve_overlapping(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    GEOSContextHandle_t h = lg__geos(ctx);
    lg_builder *b = NULL;
    assert_int_equal(lgb_new(ctx, "overlap", 0, &b), LG_OK);
    double sq[3][10] = {{0, 0, 10, 0, 10, 10, 0, 10, 0, 0},
                        {5, 5, 15, 5, 15, 15, 5, 15, 5, 5},
                        {30, 0, 31, 0, 31, 1, 30, 1, 30, 0}};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(lgb_begin_cell(b), LG_OK);
        assert_int_equal(lgb_add_ring(b, sq[i], 5, false), LG_OK);
        assert_int_equal(lgb_end_cell(b), LG_OK);
    }
    lg_layer *src = NULL;
    assert_int_equal(lgb_finish(b, NULL, NULL, &src), LG_OK);
    int64_t grp[3] = {0, 0, 0};
    lg_layer *d = NULL;
    assert_int_equal(lg_layer_dissolve(ctx, src, grp, 3, &d), LG_OK);
    assert_int_equal(lg_layer_count(d), 1);
    GEOSGeometry *g = lg__cell_to_geos(h, d, 0);
    assert_true(fabs(geos_area(h, g) - (100 + 100 - 25 + 1)) < 1e-9);
    assert_int_equal(GEOSisValid_r(h, g), 1);
    GEOSGeom_destroy_r(h, g);
    lg_layer_free(d);
    /* no group >= 0: an empty layer */
    int64_t none[3] = {-1, -1, -1};
    assert_int_equal(lg_layer_dissolve(ctx, src, none, 3, &d), LG_OK);
    assert_int_equal(lg_layer_count(d), 0);
    lg_layer_free(d);
    lg_layer_free(src);
    lg_context_free(ctx);
}

static void test_bad_args(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    lg_layer *src = county(ctx, 50, 1);
    size_t n = lg_layer_count(src);
    int64_t *v = calloc(n, sizeof *v);
    lg_layer *out = (lg_layer *)1;
    assert_int_equal(lg_layer_derive(NULL, src, NULL, 0, &out), LG_ERR_ARG);
    assert_int_equal(lg_layer_derive(ctx, NULL, NULL, 0, &out), LG_ERR_ARG);
    assert_null(out);
    assert_int_equal(lg_layer_derive(ctx, src, NULL, 0, NULL), LG_ERR_ARG);
    assert_int_equal(lg_layer_derive(ctx, src, NULL, 2, &out), LG_ERR_ARG);

    lg_column_spec clash = {.name = "station", .type = LG_FIELD_INT, .ints = v};
    assert_int_equal(lg_layer_derive(ctx, src, &clash, 1, &out), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "'station'"));
    lg_column_spec twice[2] = {{.name = "z", .type = LG_FIELD_INT, .ints = v},
                               {.name = "z", .type = LG_FIELD_INT, .ints = v}};
    assert_int_equal(lg_layer_derive(ctx, src, twice, 2, &out), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "column 1"));
    lg_column_spec nodata = {.name = "z", .type = LG_FIELD_REAL, .ints = v};
    assert_int_equal(lg_layer_derive(ctx, src, &nodata, 1, &out), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "no data"));
    lg_column_spec badtype = {.name = "z", .type = (lg_field_type)9, .ints = v};
    assert_int_equal(lg_layer_derive(ctx, src, &badtype, 1, &out), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "bad type"));
    lg_column_spec noname = {.name = NULL, .type = LG_FIELD_INT, .ints = v};
    assert_int_equal(lg_layer_derive(ctx, src, &noname, 1, &out), LG_ERR_ARG);
    assert_null(out);

    assert_int_equal(lg_layer_dissolve(NULL, src, v, n, &out), LG_ERR_ARG);
    assert_int_equal(lg_layer_dissolve(ctx, NULL, v, n, &out), LG_ERR_ARG);
    assert_int_equal(lg_layer_dissolve(ctx, src, v, n - 1, &out), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "group values"));
    assert_int_equal(lg_layer_dissolve(ctx, src, NULL, n, &out), LG_ERR_ARG);
    assert_int_equal(lg_layer_dissolve(ctx, src, v, n, NULL), LG_ERR_ARG);
    assert_null(out);
    free(v);
    lg_layer_free(src);
    lg_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_derive_preserves_and_adds),
        cmocka_unit_test(test_derive_ids_holes_problems),
        cmocka_unit_test(test_dissolve_areas),
        cmocka_unit_test(test_dissolve_overlapping),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
