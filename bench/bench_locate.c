/*
 * Locate benchmark: libgrid against GEOS (STRtree + prepared covers) and brute force
 * on generated counties and on real layers, the same points for every method, in
 * one process, medians of several runs.
 *
 * Per layer it prints (Markdown; --csv FILE for CSV):
 *   build      libgrid index (R-tree + raster accelerator; median of three builds) vs
 *              GEOS STRtree build + prepared geometries with their indexes warmed (one
 *              build; geometry conversion is excluded on both sides)
 *   single     one call per point, in the points' order
 *   batch      lg_layer_locate_many (a prefetching pipeline on large layers)
 *   2 threads  lg_layer_locate_parallel with 2 threads
 *   GEOS       STRtree query + GEOSPreparedCovers per point (the lowest covering row)
 *   brute      every cell, exact test (a sample of points)
 *   snapshot   lg_layer_open_snapshot with and without checksum verification
 *   memory     coordinates, layer overhead and accelerator bytes per cell
 * Answers are cross-checked: libgrid batch == single == 2 threads everywhere, and
 * equal to GEOS off boundaries. Exit status 1 on any disagreement.
 *
 * Usage: bench_locate [--sizes 1000,10000,100000,1000000] [--points N] [--runs R]
 *                     [--seed S] [--real] [--csv FILE]
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s, double lo, double hi)
{
    return lo + (hi - lo) * (double)(rng(s) >> 11) * (1.0 / 9007199254740992.0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- GEOS peer: STRtree of prepared cells, covers on the hits ---- */
typedef struct geos_peer {
    GEOSContextHandle_t h;
    size_t n;
    GEOSGeometry **g;
    const GEOSPreparedGeometry **p;
    GEOSSTRtree *tree;
} geos_peer;

typedef struct geos_q {
    geos_peer *peer;
    GEOSGeometry *pt;
    int64_t best;
} geos_q;

static void geos_hit(void *item, void *udata)
{
    geos_q *q = udata;
    int64_t row = (int64_t)(uintptr_t)item - 1;
    if (q->best != LG_NONE && row > q->best)
        return;
    if (GEOSPreparedCovers_r(q->peer->h, q->peer->p[row], q->pt) == 1)
        q->best = row;
}

static int64_t geos_locate(geos_peer *peer, double x, double y)
{
    geos_q q = {peer, GEOSGeom_createPointFromXY_r(peer->h, x, y), LG_NONE};
    GEOSSTRtree_query_r(peer->h, peer->tree, q.pt, geos_hit, &q);
    GEOSGeom_destroy_r(peer->h, q.pt);
    return q.best;
}

/* GEOS build: tree and prepared geometries, indexes warmed by one query each. */
static double geos_build(geos_peer *peer, const lg_layer *l)
{
    peer->n = l->ncells;
    peer->g = malloc(peer->n * sizeof *peer->g);
    peer->p = malloc(peer->n * sizeof *peer->p);
    for (size_t i = 0; i < peer->n; i++)
        peer->g[i] = lg__cell_to_geos(peer->h, l, i);
    double t0 = now_s();
    peer->tree = GEOSSTRtree_create_r(peer->h, 10);
    for (size_t i = 0; i < peer->n; i++) {
        peer->p[i] = GEOSPrepare_r(peer->h, peer->g[i]);
        if (!GEOSisEmpty_r(peer->h, peer->g[i]))
            GEOSSTRtree_insert_r(peer->h, peer->tree, peer->g[i], (void *)(uintptr_t)(i + 1));
    }
    for (size_t i = 0; i < peer->n; i++) {
        /* a query builds each prepared polygon's point-in-polygon index */
        double b[4];
        if (lg_layer_cell_bounds(l, i, b)) {
            GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(peer->h, b[0], b[1]);
            GEOSPreparedCovers_r(peer->h, peer->p[i], pt);
            GEOSGeom_destroy_r(peer->h, pt);
        }
    }
    geos_locate(peer, l->bounds[0], l->bounds[1]); /* builds the tree */
    return now_s() - t0;
}

static void geos_free(geos_peer *peer)
{
    GEOSSTRtree_destroy_r(peer->h, peer->tree);
    for (size_t i = 0; i < peer->n; i++) {
        GEOSPreparedGeom_destroy_r(peer->h, peer->p[i]);
        GEOSGeom_destroy_r(peer->h, peer->g[i]);
    }
    free(peer->g);
    free(peer->p);
}

static int64_t brute_locate(const lg_layer *l, double x, double y)
{
    int64_t touch = LG_NONE;
    for (size_t r = 0; r < l->ncells; r++) {
        bool t = false;
        if (lg__cell_owns(l, r, x, y, touch == LG_NONE ? &t : NULL))
            return (int64_t)r;
        if (t)
            touch = (int64_t)r;
    }
    return touch;
}

/* Rebuild the R-tree and the accelerator, timed: the index build of libgrid. */
static double rebuild_index(lg_layer *l)
{
    lg_rtree_free(atomic_load(&l->rtree));
    atomic_store(&l->rtree, NULL);
    lg__accel_free(&l->alloc, l->accel);
    l->accel = NULL;
    double t0 = now_s();
    const lg_rtree *t = lg__layer_rtree(l);
    lg_error e = lg__accel_build(l, LG__ACCEL_PPC, 0, &l->accel);
    double dt = now_s() - t0;
    if (!t || e) {
        fprintf(stderr, "bench_locate: index build failed\n");
        exit(70);
    }
    return dt;
}

typedef struct row {
    const char *layer;
    size_t cells;
    double build_lg, build_geos;
    double ns_single, ns_batch, ns_par2, ns_geos, ns_brute;
    double snap_open_ms, snap_open_verify_ms;
    double coord_b, over_b, accel_b; /* bytes per cell */
} row;

static FILE *csv;

static void print_row(const row *r)
{
    printf("| %s | %zu | %.0f | %.0f | %.0f | %.2f | %.0f | %.1f | %.0f | %.2f | %.3f | %.3f | "
           "%.1f / %.0f | %.0f | %.0f | %.0f |\n",
           r->layer, r->cells, r->ns_single, r->ns_batch, r->ns_par2, r->ns_batch / r->ns_par2,
           r->ns_geos, r->ns_geos / r->ns_batch, r->ns_brute, r->ns_brute / r->ns_batch,
           r->build_lg, r->build_geos, r->snap_open_ms, r->snap_open_verify_ms, r->coord_b,
           r->over_b, r->accel_b);
    if (csv)
        fprintf(
            csv,
            "%s,%zu,%.2f,%.2f,%.2f,%.3f,%.2f,%.3f,%.1f,%.2f,%.4f,%.4f,%.3f,%.3f,%.0f,%.0f,%.0f\n",
            r->layer, r->cells, r->ns_single, r->ns_batch, r->ns_par2, r->ns_batch / r->ns_par2,
            r->ns_geos, r->ns_geos / r->ns_batch, r->ns_brute, r->ns_brute / r->ns_batch,
            r->build_lg, r->build_geos, r->snap_open_ms, r->snap_open_verify_ms, r->coord_b,
            r->over_b, r->accel_b);
    fflush(stdout);
}

static int run_layer(lg_context *ctx, lg_layer *l, const char *name, size_t npoints, int runs,
                     uint64_t seed, row *out)
{
    row r = {.layer = name, .cells = l->ncells};
    /* the index build: median of three (GEOS's, ten times longer, is built once) */
    double tb[3];
    for (int k = 0; k < 3; k++)
        tb[k] = rebuild_index(l);
    r.build_lg = median(tb, 3);
    geos_peer peer = {.h = lg__geos(ctx)};
    r.build_geos = geos_build(&peer, l);

    double *x = malloc(npoints * sizeof *x), *y = malloc(npoints * sizeof *y);
    int64_t *a1 = malloc(npoints * sizeof *a1), *a2 = malloc(npoints * sizeof *a2);
    uint64_t s = seed * 7919 + l->ncells;
    for (size_t i = 0; i < npoints; i++) {
        x[i] = uniform(&s, l->bounds[0], l->bounds[2]);
        y[i] = uniform(&s, l->bounds[1], l->bounds[3]);
    }
    size_t ngeos = npoints, nbrute = l->ncells >= 100000 ? 50 : l->ncells >= 10000 ? 500 : 2000;
    if (nbrute > npoints)
        nbrute = npoints;
    double t_single[16], t_batch[16], t_par[16], t_geos[16], t_brute[16];
    int nr = runs < 16 ? runs : 16;
    size_t bad = 0;
    volatile int64_t sink = 0;
    /* one untimed warm-up of each libgrid path: the first pass over a freshly built
       million-cell index runs ~1.5x slower (page tables, huge-page promotion) */
    lg_layer_locate_many(l, x, y, npoints, a2);
    lg_layer_locate_parallel(l, x, y, npoints, a2, 2);
    for (int k = 0; k < nr; k++) {
        double t0 = now_s();
        for (size_t i = 0; i < npoints; i++)
            a1[i] = lg_layer_locate(l, x[i], y[i]);
        t_single[k] = (now_s() - t0) / (double)npoints;
        t0 = now_s();
        lg_layer_locate_many(l, x, y, npoints, a2);
        t_batch[k] = (now_s() - t0) / (double)npoints;
        bad += memcmp(a1, a2, npoints * sizeof *a1) != 0;
        t0 = now_s();
        lg_layer_locate_parallel(l, x, y, npoints, a2, 2);
        t_par[k] = (now_s() - t0) / (double)npoints;
        bad += memcmp(a1, a2, npoints * sizeof *a1) != 0;
        t0 = now_s();
        for (size_t i = 0; i < ngeos; i++) {
            int64_t g = geos_locate(&peer, x[i], y[i]);
            if (k == 0 && g != a1[i]) {
                /* both answers are covering cells; they may differ only on boundaries */
                bool on_b = false;
                if (g != LG_NONE && a1[i] != LG_NONE)
                    lg__cell_owns(l, (size_t)g, x[i], y[i], &on_b);
                bad += !on_b;
            }
            sink += g;
        }
        t_geos[k] = (now_s() - t0) / (double)ngeos;
        t0 = now_s();
        for (size_t i = 0; i < nbrute; i++) {
            int64_t b = brute_locate(l, x[i], y[i]);
            bad += k == 0 && b != a1[i];
            sink += b;
        }
        t_brute[k] = (now_s() - t0) / (double)nbrute;
    }
    (void)sink;
    r.ns_single = median(t_single, nr) * 1e9;
    r.ns_batch = median(t_batch, nr) * 1e9;
    r.ns_par2 = median(t_par, nr) * 1e9;
    r.ns_geos = median(t_geos, nr) * 1e9;
    r.ns_brute = median(t_brute, nr) * 1e9;

    /* snapshot: save once, open (fast path and verified), check answers */
    char path[256];
    snprintf(path, sizeof path, "/tmp/bench_locate_%d.lgsnap", (int)getpid());
    double t_open[16], t_verify[16];
    int nsnap = nr < 5 ? 5 : nr;
    if (lg_layer_save(ctx, l, path) != LG_OK) {
        fprintf(stderr, "bench_locate: %s\n", lg_context_message(ctx));
        return 70;
    }
    for (int k = 0; k < nsnap && k < 16; k++) {
        for (int verify = 0; verify < 2; verify++) {
            lg_layer *m;
            double t0 = now_s();
            if (lg_layer_open_snapshot(ctx, path, verify ? 0 : LG_SNAPSHOT_NO_VERIFY, &m)) {
                fprintf(stderr, "bench_locate: %s\n", lg_context_message(ctx));
                return 70;
            }
            (verify ? t_verify : t_open)[k] = now_s() - t0;
            if (k == 0 && verify == 0) {
                lg_layer_locate_many(m, x, y, npoints < 100000 ? npoints : 100000, a2);
                bad += memcmp(a1, a2, (npoints < 100000 ? npoints : 100000) * sizeof *a1) != 0;
            }
            lg_layer_free(m);
        }
    }
    unlink(path);
    r.snap_open_ms = median(t_open, nsnap < 16 ? nsnap : 16) * 1e3;
    r.snap_open_verify_ms = median(t_verify, nsnap < 16 ? nsnap : 16) * 1e3;

    double n = (double)l->ncells;
    r.coord_b = (double)l->nverts * 16.0 / n;
    r.over_b = ((double)(l->nrings + 1) * 5.0 + (n + 1) * 4.0 + n * 32.0) / n;
    r.accel_b = (double)lg__accel_bytes(l->accel) / n;
    print_row(&r);
    *out = r;
    geos_free(&peer);
    free(x);
    free(y);
    free(a1);
    free(a2);
    if (bad) {
        fprintf(stderr, "bench_locate: %zu disagreements on %s\n", bad, name);
        return 1;
    }
    return 0;
}

/* Issue 7's targets, as far as the layers run allow, after the table. */
static void print_targets(const row *real, const row *gen, int n)
{
    printf("\nTargets (issue 7):\n");
    if (real)
        printf("- real layer (%s, %zu polygons): GEOS / libgrid batch %.1fx (target >= 5x)\n",
               real->layer, real->cells, real->ns_geos / real->ns_batch);
    const row *lo = NULL, *hi = NULL;
    for (int i = 0; i < n; i++) {
        if (gen[i].cells == 10000)
            printf("- 10,000 cells: GEOS / libgrid batch %.1fx (target >= 20x)\n",
                   gen[i].ns_geos / gen[i].ns_batch);
        if (!lo || gen[i].cells < lo->cells)
            lo = &gen[i];
        if (!hi || gen[i].cells > hi->cells)
            hi = &gen[i];
    }
    if (lo && hi && hi != lo)
        printf("- growth %zu -> %zu cells: batch %.0f -> %.0f ns, %.2fx (target < 3x over "
               "1,000 -> 1,000,000)\n",
               lo->cells, hi->cells, lo->ns_batch, hi->ns_batch, hi->ns_batch / lo->ns_batch);
    for (int i = 0; i < n; i++)
        printf("- 2 threads on %zu cells: %.2fx (target >= 1.8x)\n", gen[i].cells,
               gen[i].ns_batch / gen[i].ns_par2);
    if (hi)
        printf("- index build, %zu cells: %.2f s, GEOS %.2f s (target < 2 s for 1,000,000); "
               "snapshot open %.1f ms (target < 50 ms)\n",
               hi->cells, hi->build_lg, hi->build_geos, hi->snap_open_ms);
}

int main(int argc, char **argv)
{
    size_t sizes[8] = {1000, 10000, 100000};
    int nsizes = 3;
    size_t npoints = 2000000; /* enough work that starting a thread is noise */
    uint64_t seed = 1;
    int runs = 5;
    bool real = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
            nsizes = 0;
            for (char *t = strtok(argv[++i], ","); t && nsizes < 8; t = strtok(NULL, ","))
                sizes[nsizes++] = (size_t)strtoull(t, NULL, 10);
        } else if (!strcmp(argv[i], "--points") && i + 1 < argc) {
            npoints = (size_t)strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
            runs = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
            csv = fopen(argv[++i], "w");
        } else if (!strcmp(argv[i], "--real")) {
            real = true;
        } else {
            fprintf(stderr,
                    "usage: %s [--sizes a,b,c] [--points N] [--runs R] [--seed S] [--real] "
                    "[--csv FILE]\n",
                    argv[0]);
            return 64;
        }
    }
    if (runs < 1)
        runs = 1;
    if (csv)
        fprintf(csv, "layer,cells,ns_single,ns_batch,ns_2threads,speedup_2threads,ns_geos,"
                     "geos_over_libgrid,ns_brute,brute_over_libgrid,build_s,geos_build_s,"
                     "snapshot_open_ms,snapshot_open_verified_ms,coord_bytes_per_cell,"
                     "layer_overhead_bytes_per_cell,accel_bytes_per_cell\n");
    lg_context *ctx;
    if (lg_context_new(NULL, &ctx))
        return 70;
    printf("| layer | cells | ns/pt single | ns/pt batch | ns/pt 2 threads | 2-thread speed-up "
           "| ns/pt GEOS | GEOS / libgrid | ns/pt brute | brute / libgrid | build s | GEOS "
           "build s | snapshot open ms (fast / verified) | coords B/cell | layer B/cell | "
           "accel B/cell |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    int status = 0;
    row real_row = {0}, gen[16] = {{0}};
    bool have_real = false;
    if (real) {
        const char *ne = "/usr/lib/python3/dist-packages/geopandas/datasets/naturalearth_lowres/"
                         "naturalearth_lowres.shp";
        lg_layer *l;
        if (lg_layer_load(ctx, ne, NULL, &l) == LG_OK) {
            status |= run_layer(ctx, l, "Natural Earth countries", npoints, runs, seed, &real_row);
            have_real = true;
            lg_layer_free(l);
        } else {
            fprintf(stderr, "bench_locate: skipping Natural Earth: %s\n", lg_context_message(ctx));
        }
    }
    for (int si = 0; si < nsizes; si++) {
        /* 100 m cells keep even a million-cell county inside one Gauss-Kruger zone */
        lg_synth_options opt = {.seed = seed, .cells = sizes[si], .cell_size_m = 100};
        lg_layer *l;
        double t0 = now_s();
        if (lg_synth_county(ctx, &opt, &l)) {
            fprintf(stderr, "bench_locate: %s\n", lg_context_message(ctx));
            return 70;
        }
        fprintf(stderr, "  %zu cells generated in %.1f s\n", sizes[si], now_s() - t0);
        char name[64];
        snprintf(name, sizeof name, "generated county");
        status |= run_layer(ctx, l, name, npoints, runs, seed, &gen[si < 16 ? si : 15]);
        lg_layer_free(l);
    }
    print_targets(have_real ? &real_row : NULL, gen, nsizes < 16 ? nsizes : 16);
    if (csv)
        fclose(csv);
    lg_context_free(ctx);
    return status;
}
