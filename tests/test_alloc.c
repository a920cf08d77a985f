/*
 * Allocation failures: an allocator that fails the Nth allocation (malloc or
 * realloc), run over every constructor and mutating call for N = 1, 2, ... until
 * the call succeeds. Each failing run must return LG_ERR_NOMEM (the context says
 * "out of memory"), leave the object usable or cleanly freed, and leak nothing:
 * the allocator counts live blocks, which must be back to zero once everything is
 * freed.
 *
 * Only libgrid's own allocations go through the lg_allocator. GEOS, PROJ, shapelib,
 * json-c and iconv allocate with the C library's malloc, which this test cannot
 * fail; their leaks are LeakSanitizer's business (the suite runs under ASan).
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <execinfo.h>

/* Atomic: the accelerator's build allocates from two threads. */
typedef struct counting {
    _Atomic long fail_at; /* fail the allocation with this number (1-based); 0: never */
    _Atomic long n;       /* allocations so far */
    _Atomic long live;    /* live blocks */
    _Atomic long failed;  /* allocations refused */
} counting;

/* LG_ALLOC_TRACE=N prints the call stack of the refused allocation N (debugging aid). */
static long cur_fail_at;

static void where(void)
{
    if (getenv("LG_ALLOC_TRACE") && atol(getenv("LG_ALLOC_TRACE")) == cur_fail_at) {
        void *bt[16];
        backtrace_symbols_fd(bt, backtrace(bt, 16), 2);
    }
}

static void *c_malloc(size_t size, void *ud)
{
    counting *c = ud;
    if (c->fail_at && ++c->n == c->fail_at) {
        cur_fail_at = c->fail_at;
        where();
        c->failed++;
        return NULL;
    }
    void *p = malloc(size);
    if (p)
        c->live++;
    return p;
}

static void *c_realloc(void *ptr, size_t size, void *ud)
{
    counting *c = ud;
    if (c->fail_at && ++c->n == c->fail_at) {
        c->failed++;
        return NULL;
    }
    void *p = realloc(ptr, size);
    if (p && !ptr)
        c->live++;
    return p;
}

static void c_free(void *ptr, void *ud)
{
    counting *c = ud;
    if (ptr) {
        c->live--;
        free(ptr);
    }
}

/* One scenario: runs with the allocator, returns the error of the call under test. */
typedef lg_error (*scenario)(const lg_allocator *a, counting *c, void *udata);

static char paths[4][600];

/*
 * Run s with N = 1, 2, ... until it succeeds; every failure must be LG_ERR_NOMEM and
 * leave no live block. Returns the number of failing runs.
 */
static bool allow_degraded; /* see sweep_degraded */

static long sweep(const char *name, scenario s, void *udata)
{
    counting c = {0};
    lg_allocator a = {c_malloc, c_realloc, c_free, &c};
    long runs = 0;
    for (long n = 1;; n++) {
        memset(&c, 0, sizeof c);
        c.fail_at = n;
        lg_error e = s(&a, &c, udata);
        if (c.live != 0)
            fail_msg("%s: N=%ld: %ld blocks leaked (error %d)", name, n, c.live, e);
        if (e == LG_OK) {
            if (c.failed && !allow_degraded)
                fail_msg("%s: N=%ld: an allocation failed but the call succeeded", name, n);
            if (!c.failed)
                break; /* N is past the last allocation */
            continue;  /* an optional allocation was refused: the later ones too */
        }
        if (e != LG_ERR_NOMEM)
            fail_msg("%s: N=%ld: expected LG_ERR_NOMEM, got %d", name, n, e);
        runs++;
        if (n > 200000)
            fail_msg("%s: no success after %ld allocations", name, n);
    }
    print_message("%-28s %6ld failing runs, all LG_ERR_NOMEM, no leak\n", name, runs);
    return runs;
}

/*
 * For calls with a documented fallback when an optional allocation fails (the units
 * registry keeps its old bucket grid when a regrid cannot allocate: slower, same
 * answers): success after a refused allocation is allowed, the scenario's own checks
 * of the answers still apply.
 */
static long sweep_degraded(const char *name, scenario s, void *udata)
{
    allow_degraded = true;
    long r = sweep(name, s, udata);
    allow_degraded = false;
    return r;
}

/* The context itself, then the call; NOMEM from either. */
#define WITH_CTX(a, ctx)                                                                           \
    lg_context *ctx = NULL;                                                                        \
    {                                                                                              \
        lg_error ce_ = lg_context_new(a, &ctx);                                                    \
        if (ce_)                                                                                   \
            return ce_;                                                                            \
    }

/* A failed call with a context names the reason. */
static lg_error checked(lg_context *ctx, lg_error e)
{
    if (e == LG_ERR_NOMEM) {
        const char *m = lg_context_message(ctx);
        if (!strstr(m, "memory"))
            fail_msg("NOMEM without an out-of-memory message: '%s'", m);
    }
    return e;
}

static lg_error sc_context(const lg_allocator *a, counting *c, void *u)
{
    WITH_CTX(a, ctx);
    lg_context_free(ctx);
    return LG_OK;
}

static lg_error sc_load(const lg_allocator *a, counting *c, void *u)
{
    WITH_CTX(a, ctx);
    lg_layer *l = NULL;
    lg_load_options o = {0};
    const char *path = u;
    bool wkt = strstr(path, ".wkt") != NULL;
    o.id_field = wkt ? NULL : "cell_id"; /* WKT has no attributes */
    lg_error e = checked(ctx, lg_layer_load(ctx, path, &o, &l));
    if (e == LG_OK) {
        assert_int_equal(lg_layer_count(l), 10);
        assert_int_equal(lg_layer_find_id(l, 3) >= 0, 1);
        if (!wkt)
            assert_non_null(lg_layer_crs(l));
    } else {
        assert_null(l);
    }
    lg_layer_free(l);
    lg_context_free(ctx);
    return e;
}

static unsigned char *wkb_buf[10];
static size_t wkb_len[10];

static lg_error sc_wkb(const lg_allocator *a, counting *c, void *u)
{
    WITH_CTX(a, ctx);
    lg_layer *l = NULL;
    lg_error e = checked(
        ctx, lg_layer_from_wkb(ctx, (const unsigned char *const *)wkb_buf, wkb_len, 10, NULL, &l));
    if (e == LG_OK)
        assert_int_equal(lg_layer_count(l), 10);
    lg_layer_free(l);
    lg_context_free(ctx);
    return e;
}

static lg_error sc_synth(const lg_allocator *a, counting *c, void *u)
{
    WITH_CTX(a, ctx);
    lg_synth_options o = {.seed = 3, .cells = 10, .edge_vertices = 2};
    lg_layer *l = NULL;
    lg_error e = checked(ctx, lg_synth_county(ctx, &o, &l));
    c->fail_at = 0; /* disarm: only the call under test fails */
    if (e == LG_OK) {
        double b[4];
        assert_true(lg_layer_bounds(l, b));
        assert_int_equal(lg_layer_locate(l, 0.5 * (b[0] + b[2]), 0.5 * (b[1] + b[3])),
                         lg__locate_exact(l, 0.5 * (b[0] + b[2]), 0.5 * (b[1] + b[3])));
    }
    lg_layer_free(l);
    lg_context_free(ctx);
    return e;
}

/*
 * The locate accelerator built in 8-pixel tiles on two threads: a refused allocation
 * (tiles, counters, tables, either thread's scanline scratch) fails the build cleanly;
 * when the build succeeds its answers are checked.
 */
static lg_error sc_accel_threads(const lg_allocator *a, counting *c, void *u)
{
    (void)u;
    long arm = c->fail_at;
    c->fail_at = 0; /* the layer itself is built unarmed */
    lg_context *ctx = NULL;
    assert_int_equal(lg_context_new(a, &ctx), LG_OK);
    lg_synth_options o = {.seed = 3, .cells = 40, .edge_vertices = 2};
    lg_layer *l = NULL;
    assert_int_equal(lg_synth_county(ctx, &o, &l), LG_OK);
    lg_accel *acc = NULL;
    c->n = 0;
    c->fail_at = arm;
    lg_error e = lg__accel_build_ex(l, LG__ACCEL_PPC, 0, 2, 8, &acc);
    c->fail_at = 0;
    if (e == LG_OK) {
        assert_non_null(acc);
        lg_accel *built = l->accel;
        l->accel = acc;
        double b[4];
        assert_true(lg_layer_bounds(l, b));
        for (int i = 0; i <= 40; i++)
            for (int j = 0; j <= 40; j++) {
                double x = b[0] + (b[2] - b[0]) * i / 40, y = b[1] + (b[3] - b[1]) * j / 40;
                assert_int_equal(lg_layer_locate(l, x, y), lg__locate_exact(l, x, y));
            }
        l->accel = built;
    }
    lg__accel_free(&l->alloc, acc);
    lg_layer_free(l);
    lg_context_free(ctx);
    return e;
}

/* A 10-cell county built with the default allocator, shared by the scenarios below. */
static lg_layer *county10(void)
{
    static lg_layer *l;
    if (!l) {
        lg_context *ctx;
        assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
        lg_synth_options o = {.seed = 3, .cells = 40, .edge_vertices = 2};
        assert_int_equal(lg_synth_county(ctx, &o, &l), LG_OK);
        lg_context_free(ctx);
    }
    return l;
}

static lg_error sc_adjacency(const lg_allocator *a, counting *c, void *u)
{
    WITH_CTX(a, ctx);
    lg_graph *g = NULL;
    lg_error e = checked(ctx, lg_layer_adjacency(ctx, county10(), NULL, &g));
    if (e == LG_OK)
        assert_true(lg_graph_edge_count(g) > 0);
    else
        assert_null(g);
    lg_graph_free(g);
    lg_context_free(ctx);
    return e;
}

static lg_error sc_zones(const lg_allocator *a, counting *c, void *u)
{
    const lg_graph *g = u;
    WITH_CTX(a, ctx);
    lg_zone_plan *p = NULL;
    lg_zone_options o = {0};
    o.seed = 1;
    o.max_passes = 3;
    lg_error e = checked(ctx, lg_zones_plan(ctx, g, county10(), &o, &p));
    if (e == LG_OK)
        assert_int_equal(lg_zone_plan_cell_count(p), lg_layer_count(county10()));
    lg_zone_plan_free(p);
    lg_context_free(ctx);
    return e;
}

static lg_error sc_save(const lg_allocator *a, counting *c, void *u)
{
    WITH_CTX(a, ctx);
    lg_error e = checked(ctx, lg_layer_save(ctx, county10(), (const char *)u));
    lg_context_free(ctx);
    return e;
}

static lg_error sc_open_snapshot(const lg_allocator *a, counting *c, void *u)
{
    WITH_CTX(a, ctx);
    lg_layer *l = NULL;
    lg_error e = checked(ctx, lg_layer_open_snapshot(ctx, (const char *)u, 0, &l));
    c->fail_at = 0; /* disarm: only the call under test fails */
    if (e == LG_OK) {
        assert_int_equal(lg_layer_count(l), lg_layer_count(county10()));
        double b[4];
        lg_layer_bounds(l, b);
        double x = 0.3 * b[0] + 0.7 * b[2], y = 0.6 * b[1] + 0.4 * b[3];
        /* the lazily built R-tree allocates too; it may fail only into the exact scan */
        assert_int_equal(lg__locate_exact(l, x, y), lg_layer_locate(county10(), x, y));
    }
    lg_layer_free(l);
    lg_context_free(ctx);
    return e;
}

static void *snap_buf;
static size_t snap_len;

static lg_error sc_read_snapshot(const lg_allocator *a, counting *c, void *u)
{
    WITH_CTX(a, ctx);
    lg_layer *l = NULL;
    lg_error e = checked(ctx, lg_layer_read_snapshot(ctx, snap_buf, snap_len, 0, &l));
    if (e == LG_OK)
        assert_int_equal(lg_layer_count(l), lg_layer_count(county10()));
    lg_layer_free(l);
    lg_context_free(ctx);
    return e;
}

static lg_error sc_write_shapefile(const lg_allocator *a, counting *c, void *u)
{
    WITH_CTX(a, ctx);
    lg_error e = checked(ctx, lg_layer_write_shapefile(ctx, county10(), (const char *)u));
    lg_context_free(ctx);
    return e;
}

static lg_error sc_write_geojson(const lg_allocator *a, counting *c, void *u)
{
    WITH_CTX(a, ctx);
    lg_error e = checked(ctx, lg_layer_write_geojson(ctx, county10(), (const char *)u));
    lg_context_free(ctx);
    return e;
}

static lg_error sc_transform(const lg_allocator *a, counting *c, void *u)
{
    WITH_CTX(a, ctx);
    lg_transform *t = NULL;
    lg_error e = checked(ctx, lg_transform_new(ctx, "EPSG:4326", "EPSG:4545", &t));
    if (e == LG_OK) {
        double x = 108.0, y = 29.5;
        assert_int_equal(lg_transform_apply(t, &x, &y, 1), LG_OK);
        assert_true(x > 400000 && x < 600000);
    }
    lg_transform_free(t);
    lg_context_free(ctx);
    return e;
}

/* units: create, then insert 200, move them, remove 50; state checked after each failure */
static lg_error sc_units(const lg_allocator *a, counting *c, void *u)
{
    WITH_CTX(a, ctx);
    lg_units *un = NULL;
    lg_error e = checked(ctx, lg_units_new(ctx, NULL, &un));
    enum { N = 200 };
    int64_t ids[N];
    double x[N], y[N];
    for (int i = 0; i < N; i++) {
        ids[i] = 1000 + i;
        x[i] = 500000 + 37.0 * i;
        y[i] = 3000000 + 11.0 * (i % 17);
    }
    lg_units_batch b = {.n = N, .ids = ids, .x = x, .y = y};
    size_t expect = 0;
    for (int step = 0; e == LG_OK && step < 3; step++) {
        if (step == 1)
            for (int i = 0; i < N; i++)
                x[i] += 5;
        if (step < 2)
            e = checked(ctx, lg_units_update(ctx, un, &b));
        else
            e = checked(ctx, lg_units_remove(ctx, un, ids, 50));
        if (e == LG_OK)
            expect = step < 2 ? N : N - 50;
        /* usable whatever happened: the count is the last committed one, queries work */
        assert_int_equal(lg_units_count(un), expect);
        int64_t rid[3];
        size_t cnt = 0;
        lg_unit_results r = {.ids = rid, .count = &cnt};
        double qx = 500100, qy = 3000050;
        assert_int_equal(lg_units_nearest(un, &qx, &qy, 1, 3, NULL, &r), LG_OK);
        assert_int_equal(cnt, expect < 3 ? expect : 3);
    }
    lg_units_free(un);
    lg_context_free(ctx);
    return e;
}

static bool count_iter(int64_t id, const double box[4], void *ud)
{
    (*(size_t *)ud)++;
    return true;
}

/* rtree: insert 300 boxes one by one, delete 100; after each failure the tree holds exactly
 * the committed entries */
static lg_error sc_rtree(const lg_allocator *a, counting *c, void *u)
{
    lg_rtree *t = NULL;
    lg_error e = lg_rtree_new(a, &t);
    if (e)
        return e;
    size_t committed = 0;
    for (int i = 0; i < 400 && e == LG_OK; i++) {
        double b[4] = {(i % 20) * 10.0, (i / 20) * 10.0, 0, 0};
        int idx = i < 300 ? i : (i - 300) * 3;
        b[0] = (idx % 20) * 10.0;
        b[1] = (idx / 20) * 10.0;
        b[2] = b[0] + 5;
        b[3] = b[1] + 5;
        e = i < 300 ? lg_rtree_insert(t, b, idx) : lg_rtree_delete(t, b, idx);
        if (e == LG_OK)
            committed += i < 300 ? 1 : (size_t)-1;
        assert_int_equal(lg_rtree_count(t), committed);
        size_t seen = 0;
        double all[4] = {-1, -1, 1000, 1000};
        lg_rtree_search(t, all, count_iter, &seen);
        assert_int_equal(seen, committed);
    }
    lg_rtree_free(t);
    return e;
}

static lg_error sc_rtree_bulk(const lg_allocator *a, counting *c, void *u)
{
    lg_rtree *t = NULL;
    lg_error e = lg_rtree_new(a, &t);
    if (e)
        return e;
    double boxes[4 * 500];
    for (int i = 0; i < 500; i++) {
        boxes[4 * i] = i;
        boxes[4 * i + 1] = i % 7;
        boxes[4 * i + 2] = i + 2;
        boxes[4 * i + 3] = i % 7 + 2;
    }
    e = lg_rtree_bulk_load(t, boxes, NULL, 500);
    assert_int_equal(lg_rtree_count(t), e == LG_OK ? 500 : 0);
    lg_rtree_free(t);
    return e;
}

static void test_alloc_failures(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    lg_synth_options o = {.seed = 3, .cells = 10, .edge_vertices = 2};
    lg_layer *l;
    assert_int_equal(lg_synth_county(ctx, &o, &l), LG_OK);
    snprintf(paths[0], sizeof paths[0], "%s/a.shp", dir);
    snprintf(paths[1], sizeof paths[1], "%s/a.geojson", dir);
    snprintf(paths[2], sizeof paths[2], "%s/a.wkt", dir);
    snprintf(paths[3], sizeof paths[3], "%s/a.lgs", dir);
    assert_int_equal(lg_layer_write_shapefile(ctx, l, paths[0]), LG_OK);
    assert_int_equal(lg_layer_write_geojson(ctx, l, paths[1]), LG_OK);
    FILE *f = fopen(paths[2], "w");
    GEOSContextHandle_t h = lg__geos(ctx);
    GEOSWKTWriter *w = GEOSWKTWriter_create_r(h);
    for (size_t r = 0; r < 10; r++) {
        GEOSGeometry *g = lg__cell_to_geos(h, l, r);
        char *s = GEOSWKTWriter_write_r(h, w, g);
        fprintf(f, "%s\n", s);
        GEOSFree_r(h, s);
        GEOSGeom_destroy_r(h, g);
        lg_layer_cell_wkb(l, r, NULL, 0, &wkb_len[r]);
        wkb_buf[r] = malloc(wkb_len[r]);
        lg_layer_cell_wkb(l, r, wkb_buf[r], wkb_len[r], &wkb_len[r]);
    }
    GEOSWKTWriter_destroy_r(h, w);
    fclose(f);
    assert_int_equal(lg_layer_save(ctx, county10(), paths[3]), LG_OK);
    size_t cap;
    lg_layer_snapshot_size(county10(), &cap);
    snap_buf = malloc(cap);
    assert_int_equal(lg_layer_snapshot_write(county10(), snap_buf, cap, &snap_len), LG_OK);
    lg_graph *g = NULL;
    assert_int_equal(lg_layer_adjacency(ctx, county10(), NULL, &g), LG_OK);

    long total = 0;
    total += sweep("lg_context_new", sc_context, NULL);
    total += sweep("lg_layer_load (shp)", sc_load, paths[0]);
    total += sweep("lg_layer_load (geojson)", sc_load, paths[1]);
    total += sweep("lg_layer_load (wkt)", sc_load, paths[2]);
    total += sweep("lg_layer_from_wkb", sc_wkb, NULL);
    total += sweep("lg_synth_county", sc_synth, NULL);
    total += sweep_degraded("accelerator on two threads, 8-pixel tiles", sc_accel_threads, NULL);
    total += sweep("lg_layer_adjacency", sc_adjacency, NULL);
    total += sweep("lg_zones_plan", sc_zones, g);
    char out[600];
    snprintf(out, sizeof out, "%s/out.lgs", dir);
    total += sweep("lg_layer_save", sc_save, out);
    total += sweep("lg_layer_open_snapshot", sc_open_snapshot, paths[3]);
    total += sweep("lg_layer_read_snapshot", sc_read_snapshot, NULL);
    snprintf(out, sizeof out, "%s/out.shp", dir);
    total += sweep("lg_layer_write_shapefile", sc_write_shapefile, out);
    snprintf(out, sizeof out, "%s/out.geojson", dir);
    total += sweep("lg_layer_write_geojson", sc_write_geojson, out);
    total += sweep("lg_transform_new", sc_transform, NULL);
    total += sweep_degraded("lg_units new/update/remove", sc_units, NULL);
    total += sweep("lg_rtree insert/delete", sc_rtree, NULL);
    total += sweep("lg_rtree_bulk_load", sc_rtree_bulk, NULL);
    print_message("total: %ld failing allocation runs\n", total);

    lg_graph_free(g);
    for (int r = 0; r < 10; r++)
        free(wkb_buf[r]);
    free(snap_buf);
    lg_layer_free(l);
    lg_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_failures),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    lg_layer_free(county10());
    return rc;
}
