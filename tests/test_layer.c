/* Contexts, errors, the layer builder, attributes, ids, WKB, validity, allocation failures. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double SQ[] = {0, 0, 1, 0, 1, 1, 0, 1, 0, 0};

static void test_strerror_and_version(void **state)
{
    (void)state;
    for (int e = LG_OK; e <= LG_ERR_CANCELLED; e++) {
        assert_non_null(lg_strerror((lg_error)e));
        assert_string_not_equal(lg_strerror((lg_error)e), "unknown error");
    }
    assert_string_equal(lg_strerror((lg_error)999), "unknown error");
    assert_string_equal(lg_version(), "0.1.0");
}

typedef struct msg_capture {
    int calls;
    lg_error last;
    char text[1024];
} msg_capture;

static void on_message(lg_error err, const char *message, void *udata)
{
    msg_capture *m = udata;
    m->calls++;
    m->last = err;
    strncpy(m->text, message, sizeof m->text - 1);
}

static void test_context_messages(void **state)
{
    (void)state;
    assert_int_equal(lg_context_new(NULL, NULL), LG_ERR_ARG);
    lg_allocator bad = {0};
    lg_context *ctx = NULL;
    assert_int_equal(lg_context_new(&bad, &ctx), LG_ERR_ARG);
    assert_null(ctx);
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    assert_string_equal(lg_context_message(ctx), "");
    msg_capture m = {0};
    lg_context_set_message_handler(ctx, on_message, &m);
    lg_layer *l = NULL;
    assert_int_equal(lg_layer_load(ctx, "/nonexistent/cells.xyz", NULL, &l), LG_ERR_UNSUPPORTED);
    assert_null(l);
    assert_int_equal(lg_context_error(ctx), LG_ERR_UNSUPPORTED);
    assert_non_null(strstr(lg_context_message(ctx), "/nonexistent/cells.xyz"));
    assert_int_equal(m.calls, 1);
    assert_int_equal(m.last, LG_ERR_UNSUPPORTED);
    assert_string_equal(m.text, lg_context_message(ctx));
    lg_context_free(ctx);
    lg_context_free(NULL);
    lg_layer_free(NULL);
}

static lg_layer *two_cells(lg_context *ctx, const char *id_field, bool text_ids, bool dup)
{
    lg_builder *b = NULL;
    lg_error e;
/* allocation may fail in the allocation-failure test: give up cleanly */
#define T(x)                                                                                       \
    do {                                                                                           \
        if ((e = (x)) != LG_OK) {                                                                  \
            lgb_free(b);                                                                           \
            return NULL;                                                                           \
        }                                                                                          \
    } while (0)
    T(lgb_new(ctx, "two.shp", 0, &b));
    size_t f_name, f_pop, f_area, f_code;
    T(lgb_add_field(b, "name", LG_FIELD_TEXT, &f_name));
    T(lgb_add_field(b, "pop", LG_FIELD_INT, &f_pop));
    T(lgb_add_field(b, "area", LG_FIELD_REAL, &f_area));
    T(lgb_add_field(b, "code", text_ids ? LG_FIELD_TEXT : LG_FIELD_INT, &f_code));
    assert_int_equal(lgb_add_field(b, "name", LG_FIELD_INT, NULL), LG_ERR_FORMAT);
    for (int r = 0; r < 3; r++) {
        double xy[10];
        for (int i = 0; i < 10; i += 2) {
            xy[i] = SQ[i] + r;
            xy[i + 1] = SQ[i + 1];
        }
        T(lgb_begin_cell(b));
        T(lgb_add_ring(b, xy, 5, false));
        const char *names[] = {"东城", "west", "x"};
        T(lgb_set_text(b, f_name, names[r], strlen(names[r])));
        if (r != 1)
            T(lgb_set_int(b, f_pop, 1000 * (r + 1)));
        T(lgb_set_real(b, f_area, 1.5 * r));
        int code = dup && r == 2 ? 10 : 10 + r;
        if (text_ids) {
            char buf[16];
            snprintf(buf, sizeof buf, "C%d", code);
            T(lgb_set_text(b, f_code, buf, strlen(buf)));
        } else {
            T(lgb_set_int(b, f_code, code));
        }
        /* wrong type for the field is a builder misuse, reported */
        assert_int_equal(lgb_set_int(b, f_name, 1), LG_ERR_INTERNAL);
        T(lgb_end_cell(b));
    }
#undef T
    lg_layer *l = NULL;
    e = lgb_finish(b, NULL, id_field, &l);
    if (e)
        return NULL;
    return l;
}

static void test_attributes(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    lg_layer *l = two_cells(ctx, NULL, false, false);
    assert_non_null(l);
    assert_int_equal(lg_layer_count(l), 3);
    assert_int_equal(lg_layer_field_count(l), 4);
    assert_string_equal(lg_layer_field_name(l, 0), "name");
    assert_null(lg_layer_field_name(l, 4));
    assert_int_equal(lg_layer_field_type(l, 1), LG_FIELD_INT);
    assert_int_equal(lg_layer_field_type(l, 9), 0);
    size_t f;
    assert_int_equal(lg_layer_field_index(l, "POP", &f), LG_OK);
    assert_int_equal(f, 1);
    assert_int_equal(lg_layer_field_index(l, "nope", &f), LG_ERR_NOT_FOUND);
    const char *s;
    assert_int_equal(lg_layer_get_text(l, 0, 0, &s), LG_OK);
    assert_string_equal(s, "东城");
    assert_int_equal(lg_layer_get_text(l, 1, 0, &s), LG_ERR_ARG);
    int64_t v;
    assert_int_equal(lg_layer_get_int(l, 1, 2, &v), LG_OK);
    assert_int_equal(v, 3000);
    assert_true(lg_layer_is_null(l, 1, 1));
    assert_int_equal(lg_layer_get_int(l, 1, 1, &v), LG_ERR_NOT_FOUND);
    double d;
    assert_int_equal(lg_layer_get_real(l, 2, 2, &d), LG_OK);
    assert_true(d == 3.0);
    assert_int_equal(lg_layer_get_int(l, 2, 2, &v), LG_OK); /* integral real */
    assert_int_equal(v, 3);
    assert_int_equal(lg_layer_get_int(l, 2, 1, &v), LG_ERR_ARG); /* 1.5 */
    assert_int_equal(lg_layer_get_real(l, 1, 0, &d), LG_OK);
    assert_true(d == 1000.0);
    assert_int_equal(lg_layer_get_real(l, 1, 99, &d), LG_ERR_ARG);
    /* ids are row numbers without an id field */
    assert_int_equal(lg_layer_id_field(l), LG_NONE);
    assert_int_equal(lg_layer_find_id(l, 2), 2);
    assert_int_equal(lg_layer_find_id(l, 3), LG_NONE);
    assert_int_equal(lg_layer_find_id(l, -1), LG_NONE);
    double box[4];
    assert_true(lg_layer_bounds(l, box));
    assert_true(box[0] == 0 && box[1] == 0 && box[2] == 3 && box[3] == 1);
    assert_true(lg_layer_cell_bounds(l, 1, box));
    assert_true(box[0] == 1 && box[2] == 2);
    assert_false(lg_layer_cell_bounds(l, 3, box));
    lg_layer_free(l);
    lg_context_free(ctx);
}

static void test_ids(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    lg_layer *l = two_cells(ctx, "code", false, false);
    assert_non_null(l);
    assert_int_equal(lg_layer_id_field(l), 3);
    assert_int_equal(lg_layer_find_id(l, 11), 1);
    assert_int_equal(lg_layer_find_id(l, 13), LG_NONE);
    assert_int_equal(lg_layer_find_id_text(l, "11"), LG_NONE);
    lg_layer_free(l);

    l = two_cells(ctx, "code", true, true);
    assert_non_null(l);
    assert_int_equal(lg_layer_find_id_text(l, "C11"), 1);
    assert_int_equal(lg_layer_find_id_text(l, "C10"), 0); /* the earlier of the duplicates */
    assert_int_equal(lg_layer_find_id_text(l, "C12"), LG_NONE);
    assert_int_equal(lg_layer_problem_count(l), 1);
    int64_t row;
    lg_problem_kind kind;
    const char *msg;
    assert_int_equal(lg_layer_problem(l, 0, &row, &kind, NULL, NULL, &msg), LG_OK);
    assert_int_equal(row, 2);
    assert_int_equal(kind, LG_PROBLEM_DUPLICATE_ID);
    assert_non_null(strstr(msg, "C10"));
    assert_int_equal(lg_layer_problem(l, 1, &row, NULL, NULL, NULL, NULL), LG_ERR_ARG);
    lg_layer_free(l);

    assert_null(two_cells(ctx, "missing", false, false));
    assert_int_equal(lg_context_error(ctx), LG_ERR_NOT_FOUND);
    assert_non_null(strstr(lg_context_message(ctx), "two.shp"));
    assert_non_null(strstr(lg_context_message(ctx), "'missing'"));
    assert_non_null(strstr(lg_context_message(ctx), "pop"));
    lg_context_free(ctx);
}

static lg_error one_ring(lg_context *ctx, const double *xy, size_t n)
{
    lg_builder *b;
    assert_int_equal(lgb_new(ctx, "bad.geojson", 0, &b), LG_OK);
    assert_int_equal(lgb_begin_cell(b), LG_OK);
    assert_int_equal(lgb_end_cell(b), LG_OK); /* an empty row 0 is kept */
    assert_int_equal(lgb_begin_cell(b), LG_OK);
    lg_error e = lgb_add_ring(b, xy, n, false);
    lgb_free(b);
    return e;
}

static void test_bad_rings(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    double open[] = {0, 0, 1, 0, 1, 1, 0, 1};
    assert_int_equal(one_ring(ctx, open, 4), LG_ERR_GEOMETRY);
    assert_non_null(strstr(lg_context_message(ctx), "bad.geojson: record 1: ring 0 is not closed"));
    assert_int_equal(one_ring(ctx, SQ, 3), LG_ERR_GEOMETRY);
    assert_non_null(strstr(lg_context_message(ctx), "has 3 points"));
    double nan_ring[] = {0, 0, NAN, 0, 1, 1, 0, 0};
    assert_int_equal(one_ring(ctx, nan_ring, 4), LG_ERR_GEOMETRY);
    assert_non_null(strstr(lg_context_message(ctx), "point 1 is not finite"));
    double inf_ring[] = {0, 0, 1, INFINITY, 1, 1, 0, 0};
    assert_int_equal(one_ring(ctx, inf_ring, 4), LG_ERR_GEOMETRY);
    lg_context_free(ctx);
}

static void test_invalid_reported_and_repaired(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    /* a bow-tie: self-intersection at (1, 1) */
    double bowtie[] = {0, 0, 2, 2, 2, 0, 0, 2, 0, 0};
    for (int repair = 0; repair < 2; repair++) {
        lg_builder *b;
        assert_int_equal(lgb_new(ctx, "bowtie.wkt", repair ? LG_LOAD_REPAIR : 0, &b), LG_OK);
        assert_int_equal(lgb_begin_cell(b), LG_OK);
        assert_int_equal(lgb_add_ring(b, bowtie, 5, false), LG_OK);
        assert_int_equal(lgb_end_cell(b), LG_OK);
        lg_layer *l;
        assert_int_equal(lgb_finish(b, NULL, NULL, &l), LG_OK);
        assert_int_equal(lg_layer_problem_count(l), repair ? 2 : 1);
        lg_problem_kind kind;
        double x, y;
        const char *msg;
        assert_int_equal(lg_layer_problem(l, 0, NULL, &kind, &x, &y, &msg), LG_OK);
        assert_int_equal(kind, LG_PROBLEM_INVALID);
        assert_true(fabs(x - 1) < 1e-12 && fabs(y - 1) < 1e-12);
        assert_non_null(strstr(msg, "bowtie.wkt: record 0"));
        assert_non_null(strstr(msg, "Self-intersection"));
        if (repair) {
            assert_int_equal(lg_layer_problem(l, 1, NULL, &kind, NULL, NULL, NULL), LG_OK);
            assert_int_equal(kind, LG_PROBLEM_REPAIRED);
            assert_int_equal(lg_layer_ring_count(l, 0), 2); /* two triangles */
            GEOSContextHandle_t h = lg__geos(ctx);
            GEOSGeometry *g = lg__cell_to_geos(h, l, 0);
            assert_int_equal(GEOSisValid_r(h, g), 1);
            double area;
            GEOSArea_r(h, g, &area);
            assert_true(fabs(area - 2.0) < 1e-12);
            GEOSGeom_destroy_r(h, g);
        }
        /* either way, one answer per point */
        int64_t r = lg_layer_locate(l, 0.2, 1.0);
        assert_true(r == 0);
        lg_layer_free(l);
    }
    lg_context_free(ctx);
}

static void test_wkb_matches_geos(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    GEOSContextHandle_t h = lg__geos(ctx);
    lg_builder *b;
    assert_int_equal(lgb_new(ctx, "wkb", 0, &b), LG_OK);
    const char *wkts[] = {
        "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0), (2 2, 2 3, 3 3, 3 2, 2 2))",
        "MULTIPOLYGON (((20 0, 21 0, 21 1, 20 0)), ((30 0, 32 0, 32 2, 30 2, 30 0), (31 1, 31.5 "
        "1, 31.5 1.5, 31 1)))",
        "POLYGON EMPTY",
    };
    GEOSWKTReader *rd = GEOSWKTReader_create_r(h);
    for (size_t i = 0; i < 3; i++) {
        GEOSGeometry *g = GEOSWKTReader_read_r(h, rd, wkts[i]);
        assert_non_null(g);
        assert_int_equal(lgb_begin_cell(b), LG_OK);
        assert_int_equal(lgb_add_geos(b, h, g), LG_OK);
        assert_int_equal(lgb_end_cell(b), LG_OK);
        GEOSGeom_destroy_r(h, g);
    }
    lg_layer *l;
    assert_int_equal(lgb_finish(b, NULL, NULL, &l), LG_OK);
    GEOSWKBReader *wr = GEOSWKBReader_create_r(h);
    for (size_t i = 0; i < 3; i++) {
        size_t len = 0;
        assert_int_equal(lg_layer_cell_wkb(l, i, NULL, 0, &len), LG_OK);
        unsigned char *buf = malloc(len);
        size_t len2;
        assert_int_equal(lg_layer_cell_wkb(l, i, buf, len - 1, &len2), LG_ERR_CAPACITY);
        assert_int_equal(lg_layer_cell_wkb(l, i, buf, len, &len2), LG_OK);
        assert_int_equal(len, len2);
        GEOSGeometry *got = GEOSWKBReader_read_r(h, wr, buf, len);
        assert_non_null(got);
        GEOSGeometry *want = GEOSWKTReader_read_r(h, rd, wkts[i]);
        assert_int_equal(GEOSEqualsExact_r(h, got, want, 0), 1);
        GEOSGeom_destroy_r(h, got);
        GEOSGeom_destroy_r(h, want);
        free(buf);
    }
    /* a line is not a cell */
    GEOSGeometry *line = GEOSWKTReader_read_r(h, rd, "LINESTRING (0 0, 1 1)");
    assert_int_equal(lgb_new(ctx, "lines.wkt", 0, &b), LG_OK);
    assert_int_equal(lgb_begin_cell(b), LG_OK);
    assert_int_equal(lgb_add_geos(b, h, line), LG_ERR_UNSUPPORTED);
    assert_non_null(
        strstr(lg_context_message(ctx), "lines.wkt: record 0: geometry type LineString"));
    lgb_free(b);
    GEOSGeom_destroy_r(h, line);
    GEOSWKBReader_destroy_r(h, wr);
    GEOSWKTReader_destroy_r(h, rd);
    lg_layer_free(l);
    lg_context_free(ctx);
}

/* An allocator that fails the Nth allocation and counts what is live. */
typedef struct failing {
    long n_alloc, fail_at, live;
} failing;

static void *f_malloc(size_t n, void *u)
{
    failing *f = u;
    if (++f->n_alloc == f->fail_at)
        return NULL;
    void *p = malloc(n);
    if (p)
        f->live++;
    return p;
}
static void *f_realloc(void *p, size_t n, void *u)
{
    failing *f = u;
    if (++f->n_alloc == f->fail_at)
        return NULL;
    void *q = realloc(p, n);
    if (q && !p)
        f->live++;
    return q;
}
static void f_free(void *p, void *u)
{
    failing *f = u;
    if (p)
        f->live--;
    free(p);
}

static void test_allocation_failures(void **state)
{
    (void)state;
    bool succeeded = false;
    for (long n = 1; n < 5000 && !succeeded; n++) {
        failing f = {0, n, 0};
        lg_allocator a = {f_malloc, f_realloc, f_free, &f};
        lg_context *ctx = NULL;
        lg_error e = lg_context_new(&a, &ctx);
        if (e) {
            assert_int_equal(e, LG_ERR_NOMEM);
            assert_int_equal(f.live, 0);
            continue;
        }
        lg_layer *l = two_cells(ctx, "code", true, true);
        if (l) {
            succeeded = true;
            assert_int_equal(lg_layer_find_id_text(l, "C11"), 1);
            lg_layer_free(l);
        } else {
            assert_int_equal(lg_context_error(ctx), LG_ERR_NOMEM);
        }
        lg_context_free(ctx);
        assert_int_equal(f.live, 0);
    }
    assert_true(succeeded);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_and_version),
        cmocka_unit_test(test_context_messages),
        cmocka_unit_test(test_attributes),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_bad_rings),
        cmocka_unit_test(test_invalid_reported_and_repaired),
        cmocka_unit_test(test_wkb_matches_geos),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
