/*
 * Tests of the synthetic county generator (synth.c). Oracles: GEOS (validity, union,
 * areas, containment), an exact hash set of directed segments (shared sides), BFS over
 * the adjacency those segments define (contiguous jurisdictions), byte comparison of two
 * runs (determinism).
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

static size_t field(const lg_layer *l, const char *name)
{
    size_t f = 0;
    assert_int_equal(lg_layer_field_index(l, name, &f), LG_OK);
    assert_int_equal(lg_layer_field_type(l, f), LG_FIELD_INT);
    return f;
}

static int64_t get_int(const lg_layer *l, size_t f, size_t row)
{
    int64_t v = 0;
    assert_int_equal(lg_layer_get_int(l, f, row, &v), LG_OK);
    return v;
}

static void geos_quiet(const char *fmt, ...)
{
    (void)fmt;
}

/* ----------------------------------------------------- segment hash set */

typedef struct seg {
    double ax, ay, bx, by;
    uint32_t row;
} seg;

typedef struct segset {
    seg *s;
    size_t n;
    int64_t *slot; /* index into s, -1 empty */
    size_t mask;
} segset;

static uint64_t seg_hash(double ax, double ay, double bx, double by)
{
    double v[4] = {ax, ay, bx, by};
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 4; i++) {
        uint64_t b;
        memcpy(&b, &v[i], 8);
        h ^= b;
        h *= 0x100000001b3ull;
        h ^= h >> 29;
    }
    return h;
}

static bool seg_eq(const seg *s, double ax, double ay, double bx, double by)
{
    /* bitwise: the generator must reproduce shared coordinates exactly */
    return memcmp(&s->ax, &ax, 8) == 0 && memcmp(&s->ay, &ay, 8) == 0 &&
           memcmp(&s->bx, &bx, 8) == 0 && memcmp(&s->by, &by, 8) == 0;
}

/* Slot holding the segment, or the empty slot where it would go. */
static size_t seg_find(const segset *t, double ax, double ay, double bx, double by)
{
    size_t i = seg_hash(ax, ay, bx, by) & t->mask;
    while (t->slot[i] >= 0 && !seg_eq(&t->s[t->slot[i]], ax, ay, bx, by))
        i = (i + 1) & t->mask;
    return i;
}

/* ------------------------------------------------------- the big check */

typedef struct county_check {
    size_t n, m, stations;
    uint64_t seed;
    double cell_size;
} county_check;

static void check_county(const county_check *cc)
{
    lg_context *ctx = new_ctx();
    lg_synth_options o = {0};
    o.seed = cc->seed;
    o.cells = cc->n;
    o.stations = cc->stations;
    o.edge_vertices = cc->m;
    o.cell_size_m = cc->cell_size;
    lg_layer *l = NULL;
    lg_error e = lg_synth_county(ctx, &o, &l);
    if (e != LG_OK)
        fail_msg("lg_synth_county(n=%zu seed=%llu): %s: %s", cc->n, (unsigned long long)cc->seed,
                 lg_strerror(e), lg_context_message(ctx));
    size_t n = cc->n;
    size_t m = cc->m ? cc->m : 16;
    size_t ns = cc->stations ? cc->stations : (n / 9 ? n / 9 : 1);
    assert_int_equal(lg_layer_count(l), n);
    assert_string_equal(lg_layer_crs(l), "EPSG:4545");
    size_t f_id = field(l, "cell_id"), f_st = field(l, "station");
    size_t f_pop = field(l, "population"), f_calls = field(l, "calls");

    GEOSContextHandle_t h = GEOS_init_r();
    GEOSContext_setErrorHandler_r(h, geos_quiet);
    GEOSGeometry **cells = malloc(n * sizeof *cells);
    assert_non_null(cells);

    /* every cell: one closed ring of 4 (m + 1) + 1 vertices, valid, positive area */
    size_t nseg = 0;
    double area_sum = 0;
    for (size_t r = 0; r < n; r++) {
        assert_int_equal(lg_layer_ring_count(l, r), 1);
        const double *xy;
        size_t nv;
        assert_int_equal(lg_layer_ring(l, r, 0, &xy, &nv), LG_OK);
        assert_int_equal(nv, 4 * (m + 1) + 1);
        nseg += nv - 1;
        cells[r] = lg__cell_to_geos(h, l, r);
        assert_non_null(cells[r]);
        if (GEOSisValid_r(h, cells[r]) != 1) {
            char *why = GEOSisValidReason_r(h, cells[r]);
            fail_msg("n=%zu seed=%llu: cell %zu invalid: %s", n, (unsigned long long)cc->seed, r,
                     why);
        }
        double a = 0;
        assert_int_equal(GEOSArea_r(h, cells[r], &a), 1);
        assert_true(a > 0);
        area_sum += a;
        /* attributes */
        assert_int_equal(lg_layer_find_id(l, get_int(l, f_id, r)), (int64_t)r);
        int64_t st = get_int(l, f_st, r);
        assert_true(st >= 0 && st < (int64_t)ns);
        int64_t pop = get_int(l, f_pop, r), calls = get_int(l, f_calls, r);
        assert_true(pop >= 0);
        assert_true(calls >= 0 && calls <= pop);
    }

    /* no gaps, no overlaps: the union is one polygon without holes whose area is the
       sum of the cells' areas */
    GEOSGeometry **copies = malloc(n * sizeof *copies);
    assert_non_null(copies);
    for (size_t r = 0; r < n; r++)
        copies[r] = GEOSGeom_clone_r(h, cells[r]);
    GEOSGeometry *coll =
        GEOSGeom_createCollection_r(h, GEOS_GEOMETRYCOLLECTION, copies, (unsigned)n);
    free(copies);
    assert_non_null(coll);
    GEOSGeometry *u = GEOSUnaryUnion_r(h, coll);
    assert_non_null(u);
    assert_int_equal(GEOSGeomTypeId_r(h, u), GEOS_POLYGON);
    assert_int_equal(GEOSGetNumInteriorRings_r(h, u), 0);
    double ua = 0;
    assert_int_equal(GEOSArea_r(h, u, &ua), 1);
    if (fabs(ua - area_sum) > 1e-9 * area_sum)
        fail_msg("n=%zu: union area %.17g != sum of areas %.17g", n, ua, area_sum);
    const GEOSGeometry *outer = GEOSGetExteriorRing_r(h, u);
    double outer_len = 0;
    assert_int_equal(GEOSLength_r(h, outer, &outer_len), 1);
    /* the county is near the requested centre */
    GEOSGeometry *cen = GEOSGetCentroid_r(h, u);
    double cx = 0, cy = 0;
    GEOSGeomGetX_r(h, cen, &cx);
    GEOSGeomGetY_r(h, cen, &cy);
    double s = cc->cell_size ? cc->cell_size : 1000.0;
    double reach = 0.5 * sqrt((double)n) * s + s;
    assert_true(fabs(cx - 500000.0) < reach && fabs(cy - 3270000.0) < reach);
    GEOSGeom_destroy_r(h, cen);

    /* shared sides: each directed segment occurs once; its reverse at most once, in
       another cell; unmatched segments make the outer boundary */
    segset t = {0};
    t.s = malloc(nseg * sizeof *t.s);
    size_t cap = 1;
    while (cap < 2 * nseg)
        cap *= 2;
    t.slot = malloc(cap * sizeof *t.slot);
    t.mask = cap - 1;
    assert_non_null(t.s);
    assert_non_null(t.slot);
    for (size_t i = 0; i < cap; i++)
        t.slot[i] = -1;
    for (size_t r = 0; r < n; r++) {
        const double *xy;
        size_t nv;
        lg_layer_ring(l, r, 0, &xy, &nv);
        for (size_t v = 0; v + 1 < nv; v++) {
            double ax = xy[2 * v], ay = xy[2 * v + 1], bx = xy[2 * v + 2], by = xy[2 * v + 3];
            size_t i = seg_find(&t, ax, ay, bx, by);
            if (t.slot[i] >= 0)
                fail_msg("segment of cell %zu repeated in cell %u (same direction)", r,
                         (unsigned)t.s[t.slot[i]].row);
            t.s[t.n] = (seg){ax, ay, bx, by, (uint32_t)r};
            t.slot[i] = (int64_t)t.n++;
        }
    }
    /* prepared outer ring: cells away from it are interior */
    const GEOSPreparedGeometry *pring = GEOSPrepare_r(h, outer);
    assert_non_null(pring);
    bool *interior = malloc(n * sizeof *interior);
    assert_non_null(interior);
    for (size_t r = 0; r < n; r++)
        interior[r] = GEOSPreparedIntersects_r(h, pring, cells[r]) == 0;
    uint32_t *nbr_a = malloc(nseg * sizeof *nbr_a), *nbr_b = malloc(nseg * sizeof *nbr_b);
    size_t npairs = 0;
    double open_len = 0;
    for (size_t k = 0; k < t.n; k++) {
        const seg *g = &t.s[k];
        size_t i = seg_find(&t, g->bx, g->by, g->ax, g->ay);
        if (t.slot[i] < 0) {
            if (interior[g->row])
                fail_msg("n=%zu: interior cell %u has a segment no other cell shares", n,
                         (unsigned)g->row);
            open_len += hypot(g->bx - g->ax, g->by - g->ay);
            continue;
        }
        uint32_t other = t.s[t.slot[i]].row;
        assert_int_not_equal(other, g->row);
        nbr_a[npairs] = g->row;
        nbr_b[npairs] = other;
        npairs++;
    }
    if (fabs(open_len - outer_len) > 1e-9 * outer_len)
        fail_msg("n=%zu: unshared segments %.17g m, union boundary %.17g m", n, open_len,
                 outer_len);

    /* adjacency (CSR) from shared segments */
    size_t *off = calloc(n + 1, sizeof *off);
    uint32_t *adj = malloc((npairs + 1) * sizeof *adj);
    assert_non_null(off);
    assert_non_null(adj);
    for (size_t k = 0; k < npairs; k++)
        off[nbr_a[k] + 1]++;
    for (size_t r = 0; r < n; r++)
        off[r + 1] += off[r];
    size_t *fill = malloc(n * sizeof *fill);
    memcpy(fill, off, n * sizeof *fill);
    for (size_t k = 0; k < npairs; k++)
        adj[fill[nbr_a[k]]++] = nbr_b[k];

    /* jurisdictions: every station has cells, and they form one connected component */
    int64_t *st = malloc(n * sizeof *st);
    size_t *comps = calloc(ns, sizeof *comps);
    uint32_t *queue = malloc(n * sizeof *queue);
    bool *seen = calloc(n, 1);
    for (size_t r = 0; r < n; r++)
        st[r] = get_int(l, f_st, r);
    for (size_t r0 = 0; r0 < n; r0++) {
        if (seen[r0])
            continue;
        comps[st[r0]]++;
        size_t qh = 0, qt = 0;
        queue[qt++] = (uint32_t)r0;
        seen[r0] = true;
        while (qh < qt) {
            uint32_t r = queue[qh++];
            for (size_t k = off[r]; k < off[r + 1]; k++)
                if (!seen[adj[k]] && st[adj[k]] == st[r]) {
                    seen[adj[k]] = true;
                    queue[qt++] = adj[k];
                }
        }
    }
    for (size_t k = 0; k < ns; k++)
        if (comps[k] != 1)
            fail_msg("n=%zu seed=%llu: station %zu has %zu connected parts", n,
                     (unsigned long long)cc->seed, k, comps[k]);

    /* station points: the size query, then each point strictly inside a cell of its
       station (GEOS contains), found by brute force over cell boxes */
    size_t got = 0;
    assert_int_equal(lg_synth_stations(ctx, &o, NULL, NULL, 0, &got), LG_ERR_CAPACITY);
    assert_int_equal(got, ns);
    double *sx = malloc(ns * sizeof *sx), *sy = malloc(ns * sizeof *sy);
    assert_int_equal(lg_synth_stations(ctx, &o, sx, sy, ns, &got), LG_OK);
    assert_int_equal(got, ns);
    for (size_t k = 0; k < ns; k++) {
        GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(h, sx[k], sy[k]);
        size_t inside = 0;
        for (size_t r = 0; r < n; r++) {
            double box[4];
            assert_true(lg_layer_cell_bounds(l, r, box));
            if (sx[k] < box[0] || sx[k] > box[2] || sy[k] < box[1] || sy[k] > box[3])
                continue;
            if (GEOSContains_r(h, cells[r], pt) == 1) {
                inside++;
                if (st[r] != (int64_t)k)
                    fail_msg("station %zu lies in cell %zu of station %lld", k, r,
                             (long long)st[r]);
            }
        }
        assert_int_equal(inside, 1);
        GEOSGeom_destroy_r(h, pt);
    }

    free(sx);
    free(sy);
    free(st);
    free(comps);
    free(queue);
    free(seen);
    free(off);
    free(adj);
    free(fill);
    free(nbr_a);
    free(nbr_b);
    free(interior);
    GEOSPreparedGeom_destroy_r(h, pring);
    free(t.s);
    free(t.slot);
    GEOSGeom_destroy_r(h, u);
    GEOSGeom_destroy_r(h, coll);
    for (size_t r = 0; r < n; r++)
        GEOSGeom_destroy_r(h, cells[r]);
    free(cells);
    GEOS_finish_r(h);
    lg_layer_free(l);
    lg_context_free(ctx);
}

static void test_small(void **state)
{
    (void)state;
    static const uint64_t seeds[] = {0, 1, 2, 42, 0xdeadbeefcafef00dull};
    for (size_t s = 0; s < sizeof seeds / sizeof *seeds; s++) {
        for (size_t n = 10; n <= 13; n++)
            check_county(&(county_check){.n = n, .seed = seeds[s]});
        check_county(&(county_check){.n = 100, .seed = seeds[s]});
        check_county(&(county_check){.n = 1000, .seed = seeds[s]});
    }
}

static void test_10000(void **state)
{
    (void)state;
    check_county(&(county_check){.n = 10000, .seed = 7});
}

static void test_options(void **state)
{
    (void)state;
    /* one station per cell, a single station, few and many side vertices, small cells */
    check_county(&(county_check){.n = 50, .seed = 3, .stations = 50});
    check_county(&(county_check){.n = 200, .seed = 4, .stations = 1});
    check_county(&(county_check){.n = 300, .seed = 5, .m = 1, .cell_size = 250});
    check_county(&(county_check){.n = 300, .seed = 6, .m = 3, .cell_size = 0.5});
    check_county(&(county_check){.n = 100, .seed = 8, .m = 200, .cell_size = 5000});
}

static void test_defaults(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    lg_layer *l = NULL;
    assert_int_equal(lg_synth_county(ctx, NULL, &l), LG_OK);
    assert_int_equal(lg_layer_count(l), 220);
    assert_int_equal(lg_layer_field_count(l), 4);
    assert_string_equal(lg_layer_crs(l), "EPSG:4545");
    size_t ns = 0;
    assert_int_equal(lg_synth_stations(ctx, NULL, NULL, NULL, 0, &ns), LG_ERR_CAPACITY);
    assert_int_equal(ns, 220 / 9);
    int64_t max_st = -1;
    size_t f_st = field(l, "station");
    for (size_t r = 0; r < 220; r++)
        if (get_int(l, f_st, r) > max_st)
            max_st = get_int(l, f_st, r);
    assert_int_equal(max_st, 220 / 9 - 1);
    lg_layer_free(l);

    /* a CRS label passes through */
    lg_synth_options o = {.cells = 10, .crs = "EPSG:4547"};
    assert_int_equal(lg_synth_county(ctx, &o, &l), LG_OK);
    assert_string_equal(lg_layer_crs(l), "EPSG:4547");
    lg_layer_free(l);

    /* a CRS PROJ does not know is refused when the layer is built */
    o.crs = "EPSG:999999";
    l = (lg_layer *)1;
    assert_int_equal(lg_synth_county(ctx, &o, &l), LG_ERR_CRS);
    assert_null(l);
    const char *msg = lg_context_message(ctx);
    if (!strstr(msg, "synth") || !strstr(msg, "EPSG:999999"))
        fail_msg("message '%s' should name the source and the CRS", msg);
    lg_context_free(ctx);
}

/* Population is highest around the county seat at the centre. */
static void test_population(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    lg_synth_options o = {.seed = 11, .cells = 5000};
    lg_layer *l = NULL;
    assert_int_equal(lg_synth_county(ctx, &o, &l), LG_OK);
    size_t f_pop = field(l, "population"), f_calls = field(l, "calls");
    double near = 0, far = 0, calls = 0;
    size_t nn = 0, nf = 0;
    for (size_t r = 0; r < 5000; r++) {
        double box[4];
        assert_true(lg_layer_cell_bounds(l, r, box));
        double d = hypot(0.5 * (box[0] + box[2]) - 500000.0, 0.5 * (box[1] + box[3]) - 3270000.0);
        double p = (double)get_int(l, f_pop, r);
        calls += (double)get_int(l, f_calls, r);
        if (d < 3000) {
            near += p;
            nn++;
        } else if (d > 25000) {
            far += p;
            nf++;
        }
    }
    assert_true(nn > 0 && nf > 0);
    assert_true(near / (double)nn > 5 * far / (double)nf);
    assert_true(calls > 0);
    lg_layer_free(l);
    lg_context_free(ctx);
}

static bool layers_equal(const lg_layer *a, const lg_layer *b)
{
    if (lg_layer_count(a) != lg_layer_count(b))
        return false;
    for (size_t r = 0; r < lg_layer_count(a); r++) {
        const double *xa, *xb;
        size_t na, nb;
        if (lg_layer_ring(a, r, 0, &xa, &na) || lg_layer_ring(b, r, 0, &xb, &nb) || na != nb ||
            memcmp(xa, xb, 2 * na * sizeof *xa) != 0)
            return false;
        for (size_t f = 0; f < lg_layer_field_count(a); f++) {
            int64_t va, vb;
            if (lg_layer_get_int(a, f, r, &va) || lg_layer_get_int(b, f, r, &vb) || va != vb)
                return false;
        }
    }
    return true;
}

static void test_determinism(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    lg_synth_options o = {.seed = 1234, .cells = 2000};
    lg_layer *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(lg_synth_county(ctx, &o, &a), LG_OK);
    assert_int_equal(lg_synth_county(ctx, &o, &b), LG_OK);
    assert_true(layers_equal(a, b));
    double x1[300], y1[300], x2[300], y2[300];
    size_t n1, n2;
    assert_int_equal(lg_synth_stations(ctx, &o, x1, y1, 300, &n1), LG_OK);
    assert_int_equal(lg_synth_stations(ctx, &o, x2, y2, 300, &n2), LG_OK);
    assert_int_equal(n1, 2000 / 9);
    assert_int_equal(n1, n2);
    assert_memory_equal(x1, x2, n1 * sizeof *x1);
    assert_memory_equal(y1, y2, n1 * sizeof *y1);

    o.seed = 1235;
    assert_int_equal(lg_synth_county(ctx, &o, &c), LG_OK);
    assert_false(layers_equal(a, c));
    assert_int_equal(lg_synth_stations(ctx, &o, x2, y2, 300, &n2), LG_OK);
    assert_true(memcmp(x1, x2, n1 * sizeof *x1) != 0);
    lg_layer_free(a);
    lg_layer_free(b);
    lg_layer_free(c);
    lg_context_free(ctx);
}

static void expect_arg(lg_context *ctx, const lg_synth_options *o, const char *word)
{
    lg_layer *l = (lg_layer *)1;
    assert_int_equal(lg_synth_county(ctx, o, &l), LG_ERR_ARG);
    assert_null(l);
    assert_int_equal(lg_context_error(ctx), LG_ERR_ARG);
    const char *msg = lg_context_message(ctx);
    if (!strstr(msg, "lg_synth_county") || !strstr(msg, word))
        fail_msg("message '%s' should name lg_synth_county and '%s'", msg, word);
    double x[4], y[4];
    size_t n = 99;
    assert_int_equal(lg_synth_stations(ctx, o, x, y, 4, &n), LG_ERR_ARG);
    msg = lg_context_message(ctx);
    if (!strstr(msg, "lg_synth_stations") || !strstr(msg, word))
        fail_msg("message '%s' should name lg_synth_stations and '%s'", msg, word);
}

static void test_bad_options(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    expect_arg(ctx, &(lg_synth_options){.cells = 1}, "cells");
    expect_arg(ctx, &(lg_synth_options){.cells = 9}, "cells");
    expect_arg(ctx, &(lg_synth_options){.cells = 1000001}, "cells");
    expect_arg(ctx, &(lg_synth_options){.cells = SIZE_MAX}, "cells");
    expect_arg(ctx, &(lg_synth_options){.cells = 10, .stations = 11}, "stations");
    expect_arg(ctx, &(lg_synth_options){.stations = 221}, "stations");
    expect_arg(ctx, &(lg_synth_options){.cell_size_m = -1}, "cell_size_m");
    expect_arg(ctx, &(lg_synth_options){.cell_size_m = NAN}, "cell_size_m");
    expect_arg(ctx, &(lg_synth_options){.cell_size_m = INFINITY}, "cell_size_m");
    expect_arg(ctx, &(lg_synth_options){.cell_size_m = 1e300}, "cell_size_m");
    expect_arg(ctx, &(lg_synth_options){.edge_vertices = 100000}, "edge_vertices");
    /* too many vertices for a layer in total */
    expect_arg(ctx, &(lg_synth_options){.cells = 1000000, .edge_vertices = 5000}, "vertices");

    /* missing outputs */
    lg_synth_options ok = {.cells = 10};
    assert_int_equal(lg_synth_county(NULL, &ok, NULL), LG_ERR_ARG);
    assert_int_equal(lg_synth_county(ctx, &ok, NULL), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "out"));
    double x[2], y[2];
    size_t n = 0;
    assert_int_equal(lg_synth_stations(NULL, &ok, x, y, 2, &n), LG_ERR_ARG);
    assert_int_equal(lg_synth_stations(ctx, &ok, x, y, 2, NULL), LG_ERR_ARG);
    ok.stations = 2;
    assert_int_equal(lg_synth_stations(ctx, &ok, NULL, y, 2, &n), LG_ERR_ARG);

    /* capacity: the needed count comes back with the error */
    ok.stations = 3;
    assert_int_equal(lg_synth_stations(ctx, &ok, x, y, 2, &n), LG_ERR_CAPACITY);
    assert_int_equal(n, 3);
    assert_int_equal(lg_context_error(ctx), LG_ERR_CAPACITY);
    assert_non_null(strstr(lg_context_message(ctx), "lg_synth_stations"));
    lg_context_free(ctx);
}

static bool cancel_at_end(uint64_t done, uint64_t total, void *udata)
{
    (*(int *)udata)++;
    return done < total;
}

static void test_cancel(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    int calls = 0;
    lg_context_set_progress(ctx, cancel_at_end, &calls);
    lg_layer *l = (lg_layer *)1;
    lg_synth_options o = {.cells = 100000, .edge_vertices = 1};
    assert_int_equal(lg_synth_county(ctx, &o, &l), LG_ERR_CANCELLED);
    assert_null(l);
    assert_true(calls >= 2); /* intermediate reports, then the final one cancels */
    assert_int_equal(lg_context_error(ctx), LG_ERR_CANCELLED);
    lg_context_free(ctx);
}

/* Allocator failing at the k-th call: every k gives LG_ERR_NOMEM or success, no leak. */
typedef struct fail_alloc {
    long left; /* allocations still allowed; < 0: no limit */
    long live;
} fail_alloc;

static void *fa_malloc(size_t n, void *u)
{
    fail_alloc *f = u;
    if (f->left == 0)
        return NULL;
    if (f->left > 0)
        f->left--;
    void *p = malloc(n);
    if (p)
        f->live++;
    return p;
}

static void *fa_realloc(void *p, size_t n, void *u)
{
    fail_alloc *f = u;
    if (f->left == 0)
        return NULL;
    if (f->left > 0)
        f->left--;
    void *q = realloc(p, n);
    if (q && !p)
        f->live++;
    return q;
}

static void fa_free(void *p, void *u)
{
    fail_alloc *f = u;
    if (p)
        f->live--;
    free(p);
}

static void test_nomem(void **state)
{
    (void)state;
    fail_alloc f = {-1, 0};
    lg_allocator a = {fa_malloc, fa_realloc, fa_free, &f};
    bool succeeded = false;
    for (long k = 0; k < 400 && !succeeded; k++) {
        f.left = -1;
        lg_context *ctx = NULL;
        assert_int_equal(lg_context_new(&a, &ctx), LG_OK);
        f.left = k;
        lg_layer *l = NULL;
        lg_synth_options o = {.cells = 30};
        lg_error e = lg_synth_county(ctx, &o, &l);
        if (e == LG_OK) {
            succeeded = true;
            assert_int_equal(lg_layer_count(l), 30);
        } else {
            assert_int_equal(e, LG_ERR_NOMEM);
            assert_null(l);
        }
        f.left = -1;
        lg_layer_free(l);
        lg_context_free(ctx);
        assert_int_equal(f.live, 0);
    }
    assert_true(succeeded);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_options), cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_determinism), cmocka_unit_test(test_population),
        cmocka_unit_test(test_cancel),      cmocka_unit_test(test_nomem),
        cmocka_unit_test(test_options),     cmocka_unit_test(test_small),
        cmocka_unit_test(test_10000),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
