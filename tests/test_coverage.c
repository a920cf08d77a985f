/*
 * Tests of coverage analysis (coverage.c). Oracles: GEOS distances between points and
 * GEOS areas of the straightforward buffer-union-intersection; brute-force double loops
 * for counts, totals, heat and set covers; hand-computed lattices; the analytic area of
 * a regular polygon; exhaustive search for siting on small cases.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

static lg_context *new_ctx(void)
{
    lg_context *ctx = NULL;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    return ctx;
}

/* A lattice of nx * ny squares of side s, row = j * nx + i, lower-left at (0, 0). */
static lg_layer *lattice(lg_context *ctx, size_t nx, size_t ny, double s)
{
    lg_builder *b = NULL;
    assert_int_equal(lgb_new(ctx, "lattice", 0, &b), LG_OK);
    for (size_t j = 0; j < ny; j++)
        for (size_t i = 0; i < nx; i++) {
            double x0 = (double)i * s, y0 = (double)j * s, x1 = x0 + s, y1 = y0 + s;
            double xy[10] = {x0, y0, x1, y0, x1, y1, x0, y1, x0, y0};
            assert_int_equal(lgb_begin_cell(b), LG_OK);
            assert_int_equal(lgb_add_ring(b, xy, 5, false), LG_OK);
            assert_int_equal(lgb_end_cell(b), LG_OK);
        }
    lg_layer *l = NULL;
    assert_int_equal(lgb_finish(b, TU_METRES, NULL, &l), LG_OK);
    return l;
}

static lg_layer *county(lg_context *ctx, uint64_t seed, size_t cells, double size)
{
    lg_synth_options so = {.seed = seed, .cells = cells, .cell_size_m = size};
    lg_layer *l = NULL;
    assert_int_equal(lg_synth_county(ctx, &so, &l), LG_OK);
    return l;
}

static double int_field(const lg_layer *l, const char *name, size_t row)
{
    size_t f;
    assert_int_equal(lg_layer_field_index(l, name, &f), LG_OK);
    int64_t v;
    assert_int_equal(lg_layer_get_int(l, f, row, &v), LG_OK);
    return (double)v;
}

static double geos_point_distance(GEOSContextHandle_t h, double ax, double ay, double bx, double by)
{
    GEOSGeometry *a = GEOSGeom_createPointFromXY_r(h, ax, ay);
    GEOSGeometry *b = GEOSGeom_createPointFromXY_r(h, bx, by);
    double d = -1;
    assert_int_equal(GEOSDistance_r(h, a, b, &d), 1);
    GEOSGeom_destroy_r(h, a);
    GEOSGeom_destroy_r(h, b);
    return d;
}

static void assert_close(double a, double b, double rel)
{
    double tol = rel * fmax(1.0, fmax(fabs(a), fabs(b)));
    if (!(fabs(a - b) <= tol)) {
        print_error("%.17g != %.17g (tolerance %g)\n", a, b, tol);
        fail();
    }
}

/* ------------------------------------------------------------ cell coverage */

/* Nearest, distance, counts, totals, groups and catchments against brute force. */
static void test_cells_vs_brute(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    GEOSContextHandle_t h = lg__geos(ctx);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        lg_layer *l = county(ctx, seed, 600, 400);
        size_t n = lg_layer_count(l), nf = 40, ng = 0;
        double box[4];
        assert_true(lg_layer_bounds(l, box));
        uint64_t rs = seed * 77;
        double fx[40], fy[40];
        for (size_t f = 0; f < nf; f++) {
            fx[f] = tu_uniform(&rs, box[0], box[2]);
            fy[f] = tu_uniform(&rs, box[1], box[3]);
        }
        fx[7] = fx[3]; /* a duplicate facility: ties go to the lower index */
        fy[7] = fy[3];
        double *cx = malloc(n * sizeof *cx), *cy = malloc(n * sizeof *cy);
        double *ar = malloc(n * sizeof *ar), *w = malloc(n * sizeof *w);
        int64_t *grp = malloc(n * sizeof *grp);
        assert_int_equal(lg_layer_centroids(l, cx, cy, ar), LG_OK);
        for (size_t i = 0; i < n; i++) {
            w[i] = int_field(l, "population", i);
            grp[i] = (int64_t)int_field(l, "station", i);
            if ((size_t)grp[i] + 1 > ng)
                ng = (size_t)grp[i] + 1;
        }
        grp[0] = LG_NONE;
        double radius = 1500;
        lg_coverage_options o = {
            .threshold = {.radius_m = radius}, .weight = w, .group = grp, .n_groups = ng};
        int64_t *nearest = malloc(n * sizeof *nearest), *unc = malloc(n * sizeof *unc);
        double *dist = malloc(n * sizeof *dist);
        int32_t *count = malloc(n * sizeof *count);
        size_t nunc = 0;
        lg_coverage_totals tot, *gt = calloc(ng, sizeof *gt), ft[40];
        lg_coverage_results res = {.nearest = nearest,
                                   .distance_m = dist,
                                   .count = count,
                                   .uncovered = unc,
                                   .n_uncovered = &nunc,
                                   .totals = &tot,
                                   .group_totals = gt,
                                   .facility_totals = ft};
        assert_int_equal(lg_coverage_cells(ctx, l, fx, fy, nf, &o, &res), LG_OK);

        lg_coverage_totals bt = {0}, *bg = calloc(ng, sizeof *bg);
        size_t bunc = 0;
        for (size_t i = 0; i < n; i++) {
            double best = INFINITY;
            int64_t bi = LG_NONE;
            int32_t c = 0;
            for (size_t f = 0; f < nf; f++) {
                double d = geos_point_distance(h, cx[i], cy[i], fx[f], fy[f]);
                if (d < best) {
                    best = d;
                    bi = (int64_t)f;
                }
                if (d <= radius)
                    c++;
            }
            assert_int_equal(nearest[i], bi);
            assert_close(dist[i], best, 1e-12);
            assert_int_equal(count[i], c);
            lg_coverage_totals *ts[2] = {&bt, grp[i] != LG_NONE ? &bg[grp[i]] : NULL};
            for (int k = 0; k < 2; k++) {
                if (!ts[k])
                    continue;
                ts[k]->cells++;
                ts[k]->weight += w[i];
                ts[k]->area_m2 += ar[i];
                if (c >= 1) {
                    ts[k]->cells_covered++;
                    ts[k]->weight_covered += w[i];
                    ts[k]->area_covered_m2 += ar[i];
                }
                if (c >= 2) {
                    ts[k]->cells_backup++;
                    ts[k]->weight_backup += w[i];
                }
            }
            if (c == 0)
                assert_int_equal(unc[bunc++], (int64_t)i);
        }
        assert_int_equal(nunc, bunc);
        assert_int_equal(tot.cells, n);
        assert_int_equal(tot.cells_covered, bt.cells_covered);
        assert_int_equal(tot.cells_backup, bt.cells_backup);
        assert_true(bt.cells_covered > 0 && bt.cells_covered < n);
        assert_true(bt.cells_backup > 0);
        assert_close(tot.share, bt.weight_covered / bt.weight, 1e-12);
        assert_close(tot.backup_share, bt.weight_backup / bt.weight, 1e-12);
        assert_close(tot.share_area, bt.area_covered_m2 / bt.area_m2, 1e-12);
        assert_close(tot.share_cells, (double)bt.cells_covered / (double)n, 1e-15);
        for (size_t g = 0; g < ng; g++) {
            assert_int_equal(gt[g].cells, bg[g].cells);
            assert_int_equal(gt[g].cells_covered, bg[g].cells_covered);
            assert_int_equal(gt[g].cells_backup, bg[g].cells_backup);
            assert_close(gt[g].weight_covered, bg[g].weight_covered, 1e-12);
            if (!bg[g].cells)
                assert_true(isnan(gt[g].share_cells));
        }
        /* catchments partition the cells */
        size_t fc = 0;
        for (size_t f = 0; f < nf; f++)
            fc += ft[f].cells;
        assert_int_equal(fc, n);
        assert_int_equal(ft[7].cells, 0); /* the duplicate loses every tie */
        free(cx);
        free(cy);
        free(ar);
        free(w);
        free(grp);
        free(nearest);
        free(unc);
        free(dist);
        free(count);
        free(gt);
        free(bg);
        lg_layer_free(l);
    }
    lg_context_free(ctx);
}

/* A 10 x 10 lattice of 100 m squares: hand-counted covers. */
static void test_cells_lattice(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    lg_layer *l = lattice(ctx, 10, 10, 100);
    /* F0 at the centre of cell (4,4), F1 at that of (4,5); radius 100 reaches the four
     * edge neighbours (distance 100) but not the diagonal ones (141). */
    double fx[2] = {450, 450}, fy[2] = {450, 550};
    double w[100];
    for (int i = 0; i < 100; i++)
        w[i] = 1;
    w[0] = 10; /* cell (0,0), far from both */
    lg_coverage_totals t;
    int32_t count[100];
    lg_coverage_options o = {.threshold = {.radius_m = 100}, .weight = w};
    lg_coverage_results r = {.count = count, .totals = &t};
    assert_int_equal(lg_coverage_cells(ctx, l, fx, fy, 2, &o, &r), LG_OK);
    assert_int_equal(t.cells_covered, 8);
    assert_int_equal(t.cells_backup, 2);
    assert_int_equal(count[4 * 10 + 4], 2);
    assert_int_equal(count[5 * 10 + 4], 2);
    assert_int_equal(count[3 * 10 + 4], 1);
    assert_int_equal(count[6 * 10 + 4], 1);
    assert_int_equal(count[5 * 10 + 5], 1);
    assert_int_equal(count[3 * 10 + 3], 0);
    assert_close(t.share, 8.0 / 109.0, 1e-15);
    assert_close(t.backup_share, 2.0 / 109.0, 1e-15);
    assert_close(t.share_area, 0.08, 1e-15);
    assert_close(t.share_area_backup, 0.02, 1e-15);
    /* farthest: cells (9,0) and (9,9), 500 and 400 m off their nearest facility */
    assert_close(t.max_distance_m, hypot(500, 400), 1e-15);

    /* minutes through the ETA model: 1 min at 10 m/s over detour 1.2 = 500 m */
    lg_coverage_threshold th = {.minutes = 1, .speed_mps = 10, .detour = 1.2};
    double rr;
    assert_int_equal(lg_coverage_radius_m(ctx, &th, &rr), LG_OK);
    assert_close(rr, 500, 1e-15);
    double eta[100], d[100];
    o.threshold = th;
    r = (lg_coverage_results){.count = count, .eta_s = eta, .distance_m = d, .totals = &t};
    assert_int_equal(lg_coverage_cells(ctx, l, fx, fy, 2, &o, &r), LG_OK);
    /* per-group totals without groups: an argument error, not a crash */
    {
        lg_coverage_totals gt[2];
        lg_coverage_results bad = {.group_totals = gt};
        lg_coverage_options no_groups = o;
        no_groups.group = NULL;
        no_groups.n_groups = 0;
        assert_int_equal(lg_coverage_cells(ctx, l, fx, fy, 2, &no_groups, &bad), LG_ERR_ARG);
        assert_non_null(strstr(lg_context_message(ctx), "group_totals needs opt->group"));
    }
    size_t brute = 0;
    for (int j = 0; j < 10; j++)
        for (int i = 0; i < 10; i++) {
            double x = 50 + 100 * i, y = 50 + 100 * j;
            if (hypot(x - 450, y - 450) <= 500 || hypot(x - 450, y - 550) <= 500)
                brute++;
            assert_close(eta[j * 10 + i], d[j * 10 + i] * 1.2 / 10, 1e-15);
        }
    assert_int_equal(t.cells_covered, brute);

    /* caller-given demand points: every cell's point at F0 */
    double px[100], py[100];
    for (int i = 0; i < 100; i++) {
        px[i] = 450;
        py[i] = 450;
    }
    o = (lg_coverage_options){.threshold = {.radius_m = 0}, .x = px, .y = py};
    r = (lg_coverage_results){.count = count, .totals = &t};
    assert_int_equal(lg_coverage_cells(ctx, l, fx, fy, 2, &o, &r), LG_OK);
    assert_int_equal(t.cells_covered, 100);
    assert_int_equal(t.cells_backup, 0);
    lg_layer_free(l);
    lg_context_free(ctx);
}

static void test_cells_empty_and_bad(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    lg_layer *l = lattice(ctx, 4, 3, 10);
    int64_t nearest[12], unc[12];
    double d[12];
    int32_t c[12];
    size_t nu = 0;
    lg_coverage_totals t;
    lg_coverage_options o = {.threshold = {.radius_m = 1e6}};
    lg_coverage_results r = {.nearest = nearest,
                             .distance_m = d,
                             .count = c,
                             .uncovered = unc,
                             .n_uncovered = &nu,
                             .totals = &t};
    assert_int_equal(lg_coverage_cells(ctx, l, NULL, NULL, 0, &o, &r), LG_OK);
    assert_int_equal(nu, 12);
    for (int i = 0; i < 12; i++) {
        assert_int_equal(nearest[i], LG_NONE);
        assert_true(isinf(d[i]) && d[i] > 0);
        assert_int_equal(c[i], 0);
        assert_int_equal(unc[i], i);
    }
    assert_true(t.share == 0 && t.share_area == 0);

    double fx[5] = {1, 2, 3, NAN, 5}, fy[5] = {1, 2, 3, 4, 5};
    assert_int_equal(lg_coverage_cells(ctx, l, fx, fy, 5, &o, &r), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "facility 3"));
    assert_non_null(strstr(lg_context_message(ctx), "not finite"));
    fx[3] = 4;
    o.threshold.radius_m = -1;
    assert_int_equal(lg_coverage_cells(ctx, l, fx, fy, 5, &o, &r), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "radius"));
    o.threshold.radius_m = NAN;
    assert_int_equal(lg_coverage_cells(ctx, l, fx, fy, 5, &o, &r), LG_ERR_ARG);
    o.threshold = (lg_coverage_threshold){.minutes = -2};
    assert_int_equal(lg_coverage_cells(ctx, l, fx, fy, 5, &o, &r), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "minutes"));
    o.threshold = (lg_coverage_threshold){.radius_m = 5};
    double w[12] = {0};
    w[6] = -1;
    o.weight = w;
    assert_int_equal(lg_coverage_cells(ctx, l, fx, fy, 5, &o, &r), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "cell 6"));
    o.weight = NULL;
    int64_t g[12] = {0};
    g[9] = 2;
    o.group = g;
    o.n_groups = 2;
    assert_int_equal(lg_coverage_cells(ctx, l, fx, fy, 5, &o, &r), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "cell 9"));
    o.group = NULL;
    double px[12] = {0}, py[12] = {0};
    py[11] = INFINITY;
    o.x = px;
    o.y = py;
    assert_int_equal(lg_coverage_cells(ctx, l, fx, fy, 5, &o, &r), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "cell 11"));
    lg_layer_free(l);
    lg_context_free(ctx);
}

/* ------------------------------------------------------------ area coverage */

static double layer_area_sum(const lg_layer *l)
{
    size_t n = lg_layer_count(l);
    double *a = malloc((n + 1) * sizeof *a), t = 0;
    assert_int_equal(lg_layer_centroids(l, NULL, NULL, a), LG_OK);
    for (size_t i = 0; i < n; i++)
        t += a[i];
    free(a);
    return t;
}

/* Clip and union methods agree; the uncovered layers hold the uncovered area. */
static void test_area_vs_union(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    for (uint64_t seed = 1; seed <= 2; seed++) {
        lg_layer *l = county(ctx, seed, 500, 400);
        size_t n = lg_layer_count(l);
        double box[4];
        assert_true(lg_layer_bounds(l, box));
        uint64_t rs = seed;
        double fx[12], fy[12];
        for (int f = 0; f < 12; f++) {
            fx[f] = tu_uniform(&rs, box[0] - 500, box[2] + 500);
            fy[f] = tu_uniform(&rs, box[1] - 500, box[3] + 500);
        }
        for (int qs = 4; qs <= 32; qs *= 8) {
            lg_area_options o = {.threshold = {.radius_m = 1800}, .quadrant_segments = qs};
            lg_area_result a, b;
            double *cc = malloc(n * sizeof *cc);
            lg_layer *ua = NULL, *ub = NULL, *ud = NULL;
            assert_int_equal(lg_coverage_area(ctx, l, fx, fy, 12, &o, &a, cc, &ua), LG_OK);
            assert_true(a.cells_full > 0 && a.cells_none > 0 && a.cells_clipped > 0);
            o.method = LG_AREA_UNION;
            assert_int_equal(lg_coverage_area(ctx, l, fx, fy, 12, &o, &b, NULL, &ub), LG_OK);
            o.method = LG_AREA_CLIP;
            o.dissolve = true;
            lg_area_result c;
            assert_int_equal(lg_coverage_area(ctx, l, fx, fy, 12, &o, &c, NULL, &ud), LG_OK);
            assert_close(a.region_area_m2, b.region_area_m2, 1e-9);
            assert_close(a.covered_area_m2, b.covered_area_m2, 1e-9);
            assert_close(a.share, b.share, 1e-9);
            assert_true(a.share > 0.05 && a.share < 0.95);
            double s = 0;
            for (size_t i = 0; i < n; i++) {
                assert_true(cc[i] >= -1e-6);
                s += cc[i];
            }
            assert_close(s, a.covered_area_m2, 1e-12);
            assert_close(layer_area_sum(ua), a.uncovered_area_m2, 1e-9);
            assert_close(layer_area_sum(ub), a.uncovered_area_m2, 1e-9);
            assert_close(layer_area_sum(ud), a.uncovered_area_m2, 1e-9);
            assert_true(lg_layer_count(ud) <= lg_layer_count(ua));
            /* exportable */
            char path[512];
            snprintf(path, sizeof path, "%s/uncovered_%d.geojson", tu_tmpdir(), qs);
            assert_int_equal(lg_layer_write_geojson(ctx, ua, path), LG_OK);
            lg_layer *back = NULL;
            lg_load_options lo = {.crs = "EPSG:4545"};
            assert_int_equal(lg_layer_load(ctx, path, &lo, &back), LG_OK);
            assert_int_equal(lg_layer_count(back), lg_layer_count(ua));
            lg_layer_free(back);
            free(cc);
            lg_layer_free(ua);
            lg_layer_free(ub);
            lg_layer_free(ud);
        }
        lg_layer_free(l);
    }
    lg_context_free(ctx);
}

/* One facility in the middle of a big square: covered = the buffer polygon's area. */
static void test_area_analytic(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    lg_layer *l = lattice(ctx, 20, 20, 500); /* 10 km square */
    double fx[1] = {5000.5}, fy[1] = {4999.25}, R = 2000;
    for (int qs = 1; qs <= 64; qs *= 4) {
        double m = 4.0 * qs;
        double poly = 0.5 * m * R * R * sin(2 * PI / m);
        for (int method = 0; method < 2; method++) {
            lg_area_options o = {.threshold = {.radius_m = R},
                                 .quadrant_segments = qs,
                                 .method = (lg_area_method)method};
            lg_area_result a;
            assert_int_equal(lg_coverage_area(ctx, l, fx, fy, 1, &o, &a, NULL, NULL), LG_OK);
            assert_close(a.region_area_m2, 1e8, 1e-12);
            assert_close(a.covered_area_m2, poly, 1e-9);
            assert_close(a.buffer_area_error, (PI * R * R - poly) / (PI * R * R), 1e-9);
        }
    }
    /* no facilities: nothing covered; negative radius refused */
    lg_area_result a;
    lg_area_options o = {.threshold = {.radius_m = R}};
    assert_int_equal(lg_coverage_area(ctx, l, NULL, NULL, 0, &o, &a, NULL, NULL), LG_OK);
    assert_true(a.covered_area_m2 == 0 && a.share == 0);
    o.method = LG_AREA_UNION;
    lg_layer *u = NULL;
    assert_int_equal(lg_coverage_area(ctx, l, NULL, NULL, 0, &o, &a, NULL, &u), LG_OK);
    assert_close(layer_area_sum(u), 1e8, 1e-12);
    lg_layer_free(u);
    o.threshold.radius_m = -3;
    assert_int_equal(lg_coverage_area(ctx, l, fx, fy, 1, &o, &a, NULL, NULL), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "radius"));
    o.threshold.radius_m = 3;
    fx[0] = NAN;
    assert_int_equal(lg_coverage_area(ctx, l, fx, fy, 1, &o, &a, NULL, NULL), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "facility 0"));
    lg_layer_free(l);
    lg_context_free(ctx);
}

/* ------------------------------------------------------------------ siting */

typedef struct small_case {
    size_t n, nc;
    double px[64], py[64], w[64];
    int64_t cand[30];
    double ex, ey;
    bool has_ex;
    double r;
} small_case;

static bool covers(const small_case *s, size_t c, size_t i)
{
    double dx = s->px[s->cand[c]] - s->px[i], dy = s->py[s->cand[c]] - s->py[i];
    return sqrt(dx * dx + dy * dy) <= s->r;
}

static bool ex_covers(const small_case *s, size_t i)
{
    return s->has_ex && hypot(s->ex - s->px[i], s->ey - s->py[i]) <= s->r;
}

/* covered weight of a set of candidate indices */
static double cover_w(const small_case *s, const size_t *set, size_t k)
{
    double t = 0;
    for (size_t i = 0; i < s->n; i++) {
        bool c = ex_covers(s, i);
        for (size_t j = 0; j < k && !c; j++)
            c = covers(s, set[j], i);
        if (c)
            t += s->w[i];
    }
    return t;
}

static double best_p(const small_case *s, size_t p)
{
    size_t set[3];
    double best = 0;
    if (p == 1)
        for (set[0] = 0; set[0] < s->nc; set[0]++)
            best = fmax(best, cover_w(s, set, 1));
    if (p == 2)
        for (set[0] = 0; set[0] < s->nc; set[0]++)
            for (set[1] = set[0] + 1; set[1] < s->nc; set[1]++)
                best = fmax(best, cover_w(s, set, 2));
    if (p == 3)
        for (set[0] = 0; set[0] < s->nc; set[0]++)
            for (set[1] = set[0] + 1; set[1] < s->nc; set[1]++)
                for (set[2] = set[1] + 1; set[2] < s->nc; set[2]++)
                    best = fmax(best, cover_w(s, set, 3));
    return best;
}

/* smallest k such that some k candidates cover every coverable cell (k <= kmax) */
static bool all_covered(const small_case *s, const size_t *set, size_t k)
{
    for (size_t i = 0; i < s->n; i++) {
        bool coverable = ex_covers(s, i), c = coverable;
        for (size_t j = 0; j < s->nc && !coverable; j++)
            coverable = covers(s, j, i);
        for (size_t j = 0; j < k && !c; j++)
            c = covers(s, set[j], i);
        if (coverable && !c)
            return false;
    }
    return true;
}

static bool search_cover(const small_case *s, size_t *set, size_t depth, size_t k, size_t from)
{
    if (depth == k)
        return all_covered(s, set, k);
    for (size_t c = from; c < s->nc; c++) {
        set[depth] = c;
        if (search_cover(s, set, depth + 1, k, c + 1))
            return true;
    }
    return false;
}

static size_t min_cover(const small_case *s)
{
    size_t set[30];
    for (size_t k = 0; k <= 8; k++)
        if (search_cover(s, set, 0, k, 0))
            return k;
    return SIZE_MAX;
}

static void test_siting_exhaustive(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    lg_layer *l = lattice(ctx, 8, 8, 100);
    size_t cases = 0, optimal = 0, lscp_opt = 0;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        small_case s = {.n = 64, .nc = 30};
        uint64_t rs = seed * 1234567;
        for (size_t i = 0; i < 64; i++) {
            s.px[i] = tu_uniform(&rs, 0, 800);
            s.py[i] = tu_uniform(&rs, 0, 800);
            s.w[i] = (double)(tu_rand(&rs) % 10);
        }
        /* 30 distinct candidate rows */
        uint8_t taken[64] = {0};
        for (size_t c = 0; c < 30;) {
            size_t r = tu_rand(&rs) % 64;
            if (!taken[r]) {
                taken[r] = 1;
                s.cand[c++] = (int64_t)r;
            }
        }
        /* candidates in ascending rows, as the library indexes them */
        for (size_t a = 1; a < 30; a++)
            for (size_t b = a; b > 0 && s.cand[b - 1] > s.cand[b]; b--) {
                int64_t t = s.cand[b];
                s.cand[b] = s.cand[b - 1];
                s.cand[b - 1] = t;
            }
        s.r = 150 + 10.0 * (double)(seed % 5);
        s.has_ex = seed % 3 == 0;
        s.ex = 400;
        s.ey = 400;
        lg_siting_options o = {.threshold = {.radius_m = s.r},
                               .x = s.px,
                               .y = s.py,
                               .weight = s.w,
                               .candidates = s.cand,
                               .n_candidates = 30};
        if (s.has_ex) {
            o.existing_x = &s.ex;
            o.existing_y = &s.ey;
            o.n_existing = 1;
        }
        for (size_t p = 1; p <= 3; p++) {
            int64_t sites[3];
            double gain[3];
            lg_siting_summary sum;
            assert_int_equal(lg_siting_mclp(ctx, l, p, &o, sites, gain, 3, &sum), LG_OK);
            assert_int_equal(sum.n_sites, p);
            double opt = best_p(&s, p);
            /* the reported set's weight, recomputed */
            size_t set[3];
            for (size_t k = 0; k < p; k++) {
                set[k] = 30;
                for (size_t c = 0; c < 30; c++)
                    if (s.cand[c] == sites[k])
                        set[k] = c;
                assert_true(set[k] < 30);
            }
            double got = cover_w(&s, set, p);
            assert_close(got, sum.covered_weight, 1e-12);
            assert_true(got <= opt + 1e-9);
            assert_true(sum.upper_bound >= opt - 1e-9);
            assert_true(sum.greedy_weight <= got + 1e-9);
            assert_true(got - sum.existing_weight >=
                        (1 - 1 / exp(1.0)) * (opt - sum.existing_weight) - 1e-9);
            double gs = 0;
            for (size_t k = 0; k < p; k++) {
                gs += gain[k];
                if (k)
                    assert_true(gain[k] <= gain[k - 1] + 1e-12);
            }
            assert_close(gs + sum.existing_weight, got, 1e-12);
            cases++;
            if (fabs(got - opt) < 1e-9)
                optimal++;
        }
        /* LSCP, with a radius that keeps the exhaustive search small */
        s.r = 300 + 10.0 * (double)(seed % 4);
        o.threshold.radius_m = s.r;
        int64_t sites[30];
        lg_siting_summary sum;
        assert_int_equal(lg_siting_lscp(ctx, l, &o, sites, NULL, 30, &sum), LG_OK);
        size_t set[30];
        for (size_t k = 0; k < sum.n_sites; k++)
            for (size_t c = 0; c < 30; c++)
                if (s.cand[c] == sites[k])
                    set[k] = c;
        assert_true(all_covered(&s, set, sum.n_sites));
        size_t best = min_cover(&s);
        assert_true(best != SIZE_MAX);
        assert_true(sum.lower_bound <= best);
        assert_true(best <= sum.n_sites);
        assert_true(sum.n_sites <= sum.greedy_sites);
        if (best == sum.n_sites)
            lscp_opt++;
        /* capacity */
        if (sum.n_sites > 1) {
            assert_int_equal(lg_siting_lscp(ctx, l, &o, sites, NULL, 1, &sum), LG_ERR_CAPACITY);
        }
    }
    print_message("MCLP optimal in %zu of %zu cases; LSCP optimal in %zu of 12\n", optimal, cases,
                  lscp_opt);
    /* greedy + swaps find the optimum in nearly every small case */
    assert_true(optimal * 10 >= cases * 9);
    lg_layer_free(l);
    lg_context_free(ctx);
}

static void test_siting_bad(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    lg_layer *l = lattice(ctx, 5, 5, 100);
    int64_t sites[5];
    lg_siting_summary sum;
    int64_t cand[2] = {3, 25};
    lg_siting_options o = {.threshold = {.radius_m = 100}, .candidates = cand, .n_candidates = 2};
    assert_int_equal(lg_siting_mclp(ctx, l, 1, &o, sites, NULL, 5, &sum), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "candidate 1"));
    o.candidates = NULL;
    o.n_candidates = 0;
    assert_int_equal(lg_siting_mclp(ctx, l, 3, &o, sites, NULL, 2, &sum), LG_ERR_CAPACITY);
    double ex = NAN, ey = 0;
    o.existing_x = &ex;
    o.existing_y = &ey;
    o.n_existing = 1;
    assert_int_equal(lg_siting_mclp(ctx, l, 1, &o, sites, NULL, 5, &sum), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "existing facility 0"));
    o.n_existing = 0;
    o.threshold.radius_m = -1;
    assert_int_equal(lg_siting_lscp(ctx, l, &o, sites, NULL, 5, &sum), LG_ERR_ARG);
    /* radius 100 on a 100 m lattice: a plus-shaped cover; LSCP of 25 cells */
    o.threshold.radius_m = 100;
    int64_t s2[25];
    assert_int_equal(lg_siting_lscp(ctx, l, &o, s2, NULL, 25, &sum), LG_OK);
    assert_true(sum.lower_bound >= 5); /* 25 cells, each site covers at most 5 */
    assert_true(sum.n_sites >= sum.lower_bound);
    assert_close(sum.covered_weight, 25, 1e-15);
    lg_layer_free(l);
    lg_context_free(ctx);
}

/* -------------------------------------------------------------------- heat */

static void test_heat_vs_brute(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    lg_layer *l = county(ctx, 5, 800, 300);
    size_t n = lg_layer_count(l), np = 30000, ng = 0;
    double box[4];
    assert_true(lg_layer_bounds(l, box));
    double *x = malloc(np * sizeof *x), *y = malloc(np * sizeof *y), *w = malloc(np * sizeof *w);
    int64_t *ti = malloc(np * sizeof *ti), *grp = malloc(n * sizeof *grp);
    double *td = malloc(np * sizeof *td);
    uint64_t rs = 99;
    for (size_t i = 0; i < np; i++) {
        x[i] = tu_uniform(&rs, box[0] - 200, box[2] + 200);
        y[i] = tu_uniform(&rs, box[1] - 200, box[3] + 200);
        w[i] = tu_uniform(&rs, 0, 3);
        ti[i] = (int64_t)(tu_rand(&rs) % 100);
        td[i] = (double)ti[i];
    }
    td[5] = NAN;
    for (size_t c = 0; c < n; c++) {
        grp[c] = (int64_t)int_field(l, "station", c);
        if ((size_t)grp[c] + 1 > ng)
            ng = (size_t)grp[c] + 1;
    }
    double *cs = malloc(n * sizeof *cs), *bs = calloc(n, sizeof *bs);
    double *gs = malloc(ng * sizeof *gs), *bg = calloc(ng, sizeof *bg);
    int64_t *of = malloc(np * sizeof *of);
    for (int variant = 0; variant < 3; variant++) {
        lg_heat_options o = {.group = grp, .n_groups = ng};
        if (variant >= 1)
            o.weight = w;
        if (variant == 1) {
            o.time_i = ti;
            o.t0_i = 20;
            o.t1_i = 50;
        }
        if (variant == 2) {
            o.time_d = td;
            o.t0_d = 20;
            o.t1_d = 50;
        }
        lg_heat_summary sum;
        assert_int_equal(lg_heat_aggregate(ctx, l, x, y, np, &o, cs, gs, of, &sum), LG_OK);
        memset(bs, 0, n * sizeof *bs);
        memset(bg, 0, ng * sizeof *bg);
        size_t inw = 0, loc = 0;
        for (size_t i = 0; i < np; i++) {
            bool in = variant == 0 || (ti[i] >= 20 && ti[i] < 50);
            if (variant == 2 && i == 5)
                in = false;
            if (!in) {
                assert_int_equal(of[i], LG_NONE);
                continue;
            }
            inw++;
            int64_t r = lg_layer_locate(l, x[i], y[i]);
            assert_int_equal(of[i], r);
            if (r == LG_NONE)
                continue;
            loc++;
            double v = variant ? w[i] : 1;
            bs[r] += v;
            bg[grp[r]] += v;
        }
        assert_int_equal(sum.in_window, inw);
        assert_int_equal(sum.located, loc);
        assert_int_equal(sum.outside, inw - loc);
        assert_true(sum.outside > 0);
        for (size_t c = 0; c < n; c++)
            assert_close(cs[c], bs[c], 1e-12);
        for (size_t g = 0; g < ng; g++)
            assert_close(gs[g], bg[g], 1e-12);
        /* pre-located rows give the same sums */
        lg_heat_options o2 = o;
        o2.rows = of;
        if (variant == 0) {
            double *cs2 = malloc(n * sizeof *cs2);
            assert_int_equal(lg_heat_aggregate(ctx, l, x, y, np, &o2, cs2, NULL, NULL, NULL),
                             LG_OK);
            for (size_t c = 0; c < n; c++)
                assert_true(cs2[c] == cs[c]);
            free(cs2);
        }
    }
    /* hot spots against a brute-force ranking (by count per km^2) */
    double *ar = malloc(n * sizeof *ar);
    assert_int_equal(lg_layer_centroids(l, NULL, NULL, ar), LG_OK);
    int64_t rows[10];
    double score[10];
    size_t k = 0;
    assert_int_equal(lg_heat_top(ctx, l, cs, 10, LG_HEAT_BY_DENSITY, rows, score, &k), LG_OK);
    assert_int_equal(k, 10);
    for (size_t j = 0; j < k; j++) {
        size_t above = 0;
        double sj = cs[rows[j]] / (ar[rows[j]] * 1e-6);
        assert_close(score[j], sj, 1e-12);
        for (size_t c = 0; c < n; c++) {
            double sc = cs[c] / (ar[c] * 1e-6);
            if (sc > sj || (sc == sj && (int64_t)c < rows[j]))
                above++;
        }
        assert_int_equal(above, j);
    }
    assert_int_equal(lg_heat_top(ctx, l, cs, 10, LG_HEAT_BY_VALUE, rows, score, &k), LG_OK);
    for (size_t j = 1; j < k; j++)
        assert_true(score[j] <= score[j - 1]);
    free(ar);
    free(x);
    free(y);
    free(w);
    free(ti);
    free(td);
    free(grp);
    free(cs);
    free(bs);
    free(gs);
    free(bg);
    free(of);
    lg_layer_free(l);
    lg_context_free(ctx);
}

/* Half-open windows: t0 is in, t1 is out; bad inputs name the incident. */
static void test_heat_window_edges(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    lg_layer *l = lattice(ctx, 2, 1, 10);
    double x[6] = {5, 5, 5, 15, 15, 25}, y[6] = {5, 5, 5, 5, 5, 5};
    int64_t t[6] = {9, 10, 20, 19, 10, 15};
    double cs[2];
    lg_heat_summary sum;
    lg_heat_options o = {.time_i = t, .t0_i = 10, .t1_i = 20};
    assert_int_equal(lg_heat_aggregate(ctx, l, x, y, 6, &o, cs, NULL, NULL, &sum), LG_OK);
    assert_true(cs[0] == 1 && cs[1] == 2);
    assert_int_equal(sum.in_window, 4);
    assert_int_equal(sum.outside, 1);
    double td[6] = {9.999, 10, 20, 19.999, 10, 15};
    o = (lg_heat_options){.time_d = td, .t0_d = 10, .t1_d = 20};
    assert_int_equal(lg_heat_aggregate(ctx, l, x, y, 6, &o, cs, NULL, NULL, &sum), LG_OK);
    assert_true(cs[0] == 1 && cs[1] == 2);
    o.time_i = t;
    assert_int_equal(lg_heat_aggregate(ctx, l, x, y, 6, &o, cs, NULL, NULL, &sum), LG_ERR_ARG);
    /* per-group sums without groups: an error, not a crash */
    double gsum[2];
    o = (lg_heat_options){0};
    assert_int_equal(lg_heat_aggregate(ctx, l, x, y, 6, &o, cs, gsum, NULL, &sum), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "group_sum needs opt->group"));
    double w[6] = {1, 1, 1, 1, INFINITY, 1};
    o = (lg_heat_options){.weight = w};
    assert_int_equal(lg_heat_aggregate(ctx, l, x, y, 6, &o, cs, NULL, NULL, &sum), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "incident 4"));
    int64_t rows[6] = {0, 0, 1, 1, 2, LG_NONE};
    o = (lg_heat_options){.rows = rows};
    assert_int_equal(lg_heat_aggregate(ctx, l, x, y, 6, &o, cs, NULL, NULL, &sum), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "incident 4"));
    lg_layer_free(l);
    lg_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cells_vs_brute),      cmocka_unit_test(test_cells_lattice),
        cmocka_unit_test(test_cells_empty_and_bad), cmocka_unit_test(test_area_vs_union),
        cmocka_unit_test(test_area_analytic),       cmocka_unit_test(test_siting_exhaustive),
        cmocka_unit_test(test_siting_bad),          cmocka_unit_test(test_heat_vs_brute),
        cmocka_unit_test(test_heat_window_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
