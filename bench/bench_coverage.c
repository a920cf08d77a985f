/*
 * Benchmark of coverage analysis on generated counties, one core, fixed seeds, medians.
 *   bench_coverage [--cells 10000] [--size 400] [--facilities 200] [--radius 2000,5123]
 *                  [--runs 5] [--points 10000000] [--seed S] [--p 10]
 * Compared in the same process with the straightforward GEOS ways:
 *   cell coverage: GEOSDistance_r for every (demand point, facility) pair; also a plain
 *                  C double loop over the pairs;
 *   area coverage: buffer every facility, union the buffers, coverage-union the cells,
 *                  intersect (lg_coverage_area's LG_AREA_UNION).
 * Heat aggregation is compared with lg_layer_locate_many over the same points.
 * Prints Markdown tables.
 */
#include "libgrid.h"

#include <geos_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static uint64_t rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double unif(uint64_t *s, double lo, double hi)
{
    return lo + (hi - lo) * (double)(rng(s) >> 11) * (1.0 / 9007199254740992.0);
}

static void die(lg_context *ctx, const char *what, lg_error e)
{
    fprintf(stderr, "%s: %s: %s\n", what, lg_strerror(e), lg_context_message(ctx));
    exit(1);
}

static void geos_msg(const char *fmt, ...)
{
    (void)fmt;
}

/* Straightforward: GEOSDistance_r per pair, nearest and count. Returns covered cells. */
static size_t geos_pairs(GEOSContextHandle_t h, GEOSGeometry **dp, size_t n, GEOSGeometry **fp,
                         size_t nf, double r, int64_t *nearest)
{
    size_t covered = 0;
    for (size_t i = 0; i < n; i++) {
        double best = INFINITY;
        int64_t bi = -1;
        int c = 0;
        for (size_t f = 0; f < nf; f++) {
            double d;
            GEOSDistance_r(h, dp[i], fp[f], &d);
            if (d < best) {
                best = d;
                bi = (int64_t)f;
            }
            c += d <= r;
        }
        nearest[i] = bi;
        covered += c > 0;
    }
    return covered;
}

static size_t loop_pairs(const double *px, const double *py, size_t n, const double *fx,
                         const double *fy, size_t nf, double r, int64_t *nearest)
{
    size_t covered = 0;
    for (size_t i = 0; i < n; i++) {
        double best = INFINITY;
        int64_t bi = -1;
        int c = 0;
        for (size_t f = 0; f < nf; f++) {
            double dx = px[i] - fx[f], dy = py[i] - fy[f], d = sqrt(dx * dx + dy * dy);
            if (d < best) {
                best = d;
                bi = (int64_t)f;
            }
            c += d <= r;
        }
        nearest[i] = bi;
        covered += c > 0;
    }
    return covered;
}

int main(int argc, char **argv)
{
    size_t cells = 10000, nf = 200, p = 10, npts = 10000000;
    double size = 400;
    const char *radii = "2000,5123";
    int runs = 5;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cells") && i + 1 < argc)
            cells = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc)
            size = atof(argv[++i]);
        else if (!strcmp(argv[i], "--facilities") && i + 1 < argc)
            nf = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--radius") && i + 1 < argc)
            radii = argv[++i];
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--points") && i + 1 < argc)
            npts = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--p") && i + 1 < argc)
            p = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr,
                    "usage: %s [--cells N] [--size M] [--facilities F] [--radius a,b] "
                    "[--runs R] [--points P] [--p P] [--seed S]\n",
                    argv[0]);
            return 2;
        }
    }
    if (runs < 1)
        runs = 1;
    lg_context *ctx = NULL;
    lg_context_new(NULL, &ctx);
    lg_synth_options so = {.seed = seed, .cells = cells, .cell_size_m = size, .stations = nf};
    lg_layer *l = NULL;
    lg_error e = lg_synth_county(ctx, &so, &l);
    if (e)
        die(ctx, "lg_synth_county", e);
    size_t n = lg_layer_count(l);
    double *fx = malloc(nf * sizeof *fx), *fy = malloc(nf * sizeof *fy);
    size_t got = 0;
    if ((e = lg_synth_stations(ctx, &so, fx, fy, nf, &got)))
        die(ctx, "lg_synth_stations", e);
    nf = got;
    double box[4];
    lg_layer_bounds(l, box);
    printf("# Coverage benchmark\n\nCounty: %zu cells of about %.0f m (seed %llu), %.1f x %.1f km; "
           "%zu stations (lg_synth_stations); median of %d runs, one core.\n\n",
           n, size, (unsigned long long)seed, (box[2] - box[0]) / 1000, (box[3] - box[1]) / 1000,
           nf, runs);

    double *px = malloc(n * sizeof *px), *py = malloc(n * sizeof *py);
    lg_layer_centroids(l, px, py, NULL);
    GEOSContextHandle_t h = GEOS_init_r();
    GEOSContext_setErrorHandler_r(h, geos_msg);
    GEOSGeometry **dp = malloc(n * sizeof *dp), **fp = malloc(nf * sizeof *fp);
    for (size_t i = 0; i < n; i++)
        dp[i] = GEOSGeom_createPointFromXY_r(h, px[i], py[i]);
    for (size_t f = 0; f < nf; f++)
        fp[f] = GEOSGeom_createPointFromXY_r(h, fx[f], fy[f]);
    int64_t *nearest = malloc(n * sizeof *nearest), *n2 = malloc(n * sizeof *n2);
    int32_t *count = malloc(n * sizeof *count);
    double *t1 = malloc((size_t)runs * sizeof *t1), *t2 = malloc((size_t)runs * sizeof *t2);
    double *t3 = malloc((size_t)runs * sizeof *t3);

    printf("## Cell coverage (%zu cells x %zu facilities)\n\n", n, nf);
    printf("| radius m | covered | backup | lg_coverage_cells ms | GEOSDistance per pair ms | "
           "ratio | C pair loop ms | ratio | nearest agree |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    char *rs = strdup(radii);
    for (char *tok = strtok(rs, ","); tok; tok = strtok(NULL, ",")) {
        double r = atof(tok);
        lg_coverage_totals tot;
        lg_coverage_options o = {.threshold = {.radius_m = r}};
        lg_coverage_results res = {.nearest = nearest, .count = count, .totals = &tot};
        size_t cov_g = 0, cov_l = 0;
        for (int k = 0; k < runs; k++) {
            double a = now_s();
            if ((e = lg_coverage_cells(ctx, l, fx, fy, nf, &o, &res)))
                die(ctx, "lg_coverage_cells", e);
            double b = now_s();
            cov_g = geos_pairs(h, dp, n, fp, nf, r, n2);
            double c = now_s();
            cov_l = loop_pairs(px, py, n, fx, fy, nf, r, n2);
            double d = now_s();
            t1[k] = b - a;
            t2[k] = c - b;
            t3[k] = d - c;
        }
        size_t agree = 0;
        for (size_t i = 0; i < n; i++)
            agree += nearest[i] == n2[i];
        double m1 = median(t1, runs), m2 = median(t2, runs), m3 = median(t3, runs);
        printf("| %.0f | %zu (%.1f%%) | %zu | %.2f | %.1f | %.0fx | %.2f | %.1fx | %s |\n", r,
               tot.cells_covered, 100 * tot.share_cells, tot.cells_backup, 1e3 * m1, 1e3 * m2,
               m2 / m1, 1e3 * m3, m3 / m1,
               (agree == n && cov_g == tot.cells_covered && cov_l == cov_g) ? "yes" : "NO");
    }

    printf("\n## Area coverage (%zu cells, buffers of 32 segments per quadrant)\n\n", n);
    printf("| radius m | share | clip ms | full / none / clipped cells | union ms | ratio | "
           "|area difference| / region |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|\n");
    free(rs);
    rs = strdup(radii);
    int aruns = runs < 3 ? runs : 3;
    for (char *tok = strtok(rs, ","); tok; tok = strtok(NULL, ",")) {
        double r = atof(tok);
        lg_area_result a, b;
        for (int k = 0; k < aruns; k++) {
            lg_area_options o = {.threshold = {.radius_m = r}};
            double s0 = now_s();
            if ((e = lg_coverage_area(ctx, l, fx, fy, nf, &o, &a, NULL, NULL)))
                die(ctx, "lg_coverage_area", e);
            double s1 = now_s();
            o.method = LG_AREA_UNION;
            if ((e = lg_coverage_area(ctx, l, fx, fy, nf, &o, &b, NULL, NULL)))
                die(ctx, "lg_coverage_area union", e);
            double s2 = now_s();
            t1[k] = s1 - s0;
            t2[k] = s2 - s1;
        }
        double m1 = median(t1, aruns), m2 = median(t2, aruns);
        printf("| %.0f | %.4f | %.0f | %zu / %zu / %zu | %.0f | %.1fx | %.1e |\n", r, a.share,
               1e3 * m1, a.cells_full, a.cells_none, a.cells_clipped, 1e3 * m2, m2 / m1,
               fabs(a.covered_area_m2 - b.covered_area_m2) / b.region_area_m2);
        /* with the uncovered layer (per cell and dissolved) */
        lg_area_options o = {.threshold = {.radius_m = r}};
        lg_layer *u = NULL;
        double s0 = now_s();
        lg_coverage_area(ctx, l, fx, fy, nf, &o, &a, NULL, &u);
        double s1 = now_s();
        size_t nu = lg_layer_count(u);
        lg_layer_free(u);
        o.dissolve = true;
        lg_coverage_area(ctx, l, fx, fy, nf, &o, &a, NULL, &u);
        double s2 = now_s();
        printf("|  | with uncovered layer: %zu rows %.0f ms; dissolved: %zu rows %.0f ms | | | | "
               "| |\n",
               nu, 1e3 * (s1 - s0), lg_layer_count(u), 1e3 * (s2 - s1));
        lg_layer_free(u);
    }
    free(rs);

    printf("\n## Siting (%zu candidate cells, weight = population)\n\n", n);
    printf("| radius m | problem | sites | covered share | bound | ms "
           "|\n|---:|---|---:|---:|---:|---:|\n");
    {
        size_t fpop;
        double *w = malloc(n * sizeof *w);
        lg_layer_field_index(l, "population", &fpop);
        for (size_t i = 0; i < n; i++)
            lg_layer_get_real(l, fpop, i, &w[i]);
        double r = 2000;
        int64_t *sites = malloc(n * sizeof *sites);
        lg_siting_summary sum;
        lg_siting_options o = {.threshold = {.radius_m = r}, .weight = w};
        double s0 = now_s();
        if ((e = lg_siting_mclp(ctx, l, p, &o, sites, NULL, p, &sum)))
            die(ctx, "mclp", e);
        double s1 = now_s();
        printf("| %.0f | MCLP p = %zu (greedy %.4f, %zu swaps) | %zu | %.4f | <= %.4f | %.0f |\n",
               r, p, sum.greedy_weight / sum.total_weight, sum.swaps, sum.n_sites,
               sum.covered_weight / sum.total_weight, sum.upper_bound / sum.total_weight,
               1e3 * (s1 - s0));
        o.existing_x = fx;
        o.existing_y = fy;
        o.n_existing = nf / 2;
        s0 = now_s();
        if ((e = lg_siting_mclp(ctx, l, p, &o, sites, NULL, p, &sum)))
            die(ctx, "mclp", e);
        s1 = now_s();
        printf("| %.0f | MCLP p = %zu, %zu existing | %zu | %.4f | <= %.4f | %.0f |\n", r, p,
               nf / 2, sum.n_sites, sum.covered_weight / sum.total_weight,
               sum.upper_bound / sum.total_weight, 1e3 * (s1 - s0));
        o.n_existing = 0;
        s0 = now_s();
        if ((e = lg_siting_lscp(ctx, l, &o, sites, NULL, n, &sum)))
            die(ctx, "lscp", e);
        s1 = now_s();
        printf("| %.0f | LSCP (greedy %zu) | %zu | %.4f | >= %zu | %.0f |\n", r, sum.greedy_sites,
               sum.n_sites, sum.covered_weight / sum.total_weight, sum.lower_bound,
               1e3 * (s1 - s0));
        free(sites);
        free(w);
    }

    printf("\n## Heat (%zu points, 90%% inside, integer time window keeping ~half)\n\n", npts);
    {
        double *x = malloc(npts * sizeof *x), *y = malloc(npts * sizeof *y);
        int64_t *t = malloc(npts * sizeof *t), *rows = malloc(npts * sizeof *rows);
        double *cs = malloc(n * sizeof *cs);
        uint64_t st = seed * 7;
        double wx = box[2] - box[0], wy = box[3] - box[1];
        for (size_t i = 0; i < npts; i++) {
            x[i] = unif(&st, box[0] - 0.02 * wx, box[2] + 0.02 * wx);
            y[i] = unif(&st, box[1] - 0.02 * wy, box[3] + 0.02 * wy);
            t[i] = (int64_t)(rng(&st) % 1000);
        }
        int hr = runs < 3 ? runs : 3;
        lg_heat_summary sum;
        for (int k = 0; k < hr; k++) {
            double s0 = now_s();
            lg_layer_locate_many(l, x, y, npts, rows);
            double s1 = now_s();
            if ((e = lg_heat_aggregate(ctx, l, x, y, npts, NULL, cs, NULL, NULL, &sum)))
                die(ctx, "heat", e);
            double s2 = now_s();
            lg_heat_options o = {.time_i = t, .t0_i = 250, .t1_i = 750};
            lg_heat_aggregate(ctx, l, x, y, npts, &o, cs, NULL, NULL, &sum);
            double s3 = now_s();
            t1[k] = s1 - s0;
            t2[k] = s2 - s1;
            t3[k] = s3 - s2;
        }
        double m1 = median(t1, hr), m2 = median(t2, hr), m3 = median(t3, hr);
        printf("| locate_many ms | heat ms | ratio | heat with window ms | located |\n"
               "|---:|---:|---:|---:|---:|\n| %.0f | %.0f | %.2f | %.0f | %zu of %zu in window |\n",
               1e3 * m1, 1e3 * m2, m2 / m1, 1e3 * m3, sum.located, sum.in_window);
        free(x);
        free(y);
        free(t);
        free(rows);
        free(cs);
    }

    for (size_t i = 0; i < n; i++)
        GEOSGeom_destroy_r(h, dp[i]);
    for (size_t f = 0; f < nf; f++)
        GEOSGeom_destroy_r(h, fp[f]);
    GEOS_finish_r(h);
    free(dp);
    free(fp);
    free(px);
    free(py);
    free(fx);
    free(fy);
    free(nearest);
    free(n2);
    free(count);
    free(t1);
    free(t2);
    free(t3);
    lg_layer_free(l);
    lg_context_free(ctx);
    return 0;
}
