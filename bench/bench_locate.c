/*
 * Locate benchmark: libgrid against GEOS (STRtree + prepared covers) and brute
 * force, on generated counties, the same uniform random points for every method, in
 * one process. Prints ns/query, queries/s and the ratio of each peer to libgrid, as
 * a Markdown table, and checks the answers agree (off shared boundaries).
 *
 * Usage: bench_locate [--sizes 1000,10000,100000] [--points N] [--seed S] [--csv FILE]
 */
#include "internal.h"

#include <inttypes.h>
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

static int64_t brute_locate(const lg_layer *l, double x, double y)
{
    /* every cell, no index: the definition the fast paths must agree with */
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

int main(int argc, char **argv)
{
    size_t sizes[8] = {1000, 10000, 100000};
    int nsizes = 3;
    size_t npoints = 200000;
    uint64_t seed = 1;
    const char *csv = NULL;
    int runs = 5;
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
            csv = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--sizes a,b,c] [--points N] [--runs R] [--seed S] [--csv FILE]\n",
                    argv[0]);
            return 64;
        }
    }
    if (runs < 1)
        runs = 1;
    FILE *out = csv ? fopen(csv, "w") : NULL;
    if (out)
        fprintf(out, "cells,method,ns_per_query,queries_per_s,ratio_to_libgrid,build_s\n");

    lg_context *ctx;
    if (lg_context_new(NULL, &ctx))
        return 70;
    printf("| cells | method | ns/query | queries/s | x slower than libgrid | build s |\n");
    printf("|---:|---|---:|---:|---:|---:|\n");
    for (int si = 0; si < nsizes; si++) {
        lg_synth_options opt = {.seed = seed, .cells = sizes[si]};
        double t0 = now_s();
        lg_layer *l;
        if (lg_synth_county(ctx, &opt, &l)) {
            fprintf(stderr, "bench_locate: %s\n", lg_context_message(ctx));
            return 70;
        }
        double t_gen = now_s() - t0;
        /* libgrid's own build time: the R-tree over the cell boxes */
        t0 = now_s();
        lg_rtree *rt;
        lg_rtree_new(NULL, &rt);
        {
            int64_t *ids = malloc(l->ncells * sizeof *ids);
            for (size_t i = 0; i < l->ncells; i++)
                ids[i] = (int64_t)i;
            lg_rtree_bulk_load(rt, l->cell_box, ids, l->ncells);
            free(ids);
        }
        double t_build = now_s() - t0;
        lg_rtree_free(rt);

        geos_peer peer = {.h = lg__geos(ctx), .n = l->ncells};
        t0 = now_s();
        peer.g = malloc(peer.n * sizeof *peer.g);
        peer.p = malloc(peer.n * sizeof *peer.p);
        peer.tree = GEOSSTRtree_create_r(peer.h, 10);
        for (size_t i = 0; i < peer.n; i++) {
            peer.g[i] = lg__cell_to_geos(peer.h, l, i);
            peer.p[i] = GEOSPrepare_r(peer.h, peer.g[i]);
            GEOSSTRtree_insert_r(peer.h, peer.tree, peer.g[i], (void *)(uintptr_t)(i + 1));
        }
        /* force the tree build and the prepared indexes before timing queries */
        geos_locate(&peer, l->bounds[0], l->bounds[1]);
        double t_geos_build = now_s() - t0;

        double *x = malloc(npoints * sizeof *x), *y = malloc(npoints * sizeof *y);
        int64_t *ours = malloc(npoints * sizeof *ours);
        uint64_t s = seed * 7919 + sizes[si];
        for (size_t i = 0; i < npoints; i++) {
            x[i] = uniform(&s, l->bounds[0], l->bounds[2]);
            y[i] = uniform(&s, l->bounds[1], l->bounds[3]);
        }
        double t_lg[16], t_geos[16], t_brute[16];
        size_t nbrute = npoints < 2000 ? npoints : 2000;
        if (l->ncells >= 100000)
            nbrute = 200;
        size_t ngeos = npoints;
        size_t mismatches = 0;
        volatile int64_t sink = 0;
        for (int r = 0; r < runs && r < 16; r++) {
            t0 = now_s();
            lg_layer_locate_many(l, x, y, npoints, ours);
            t_lg[r] = (now_s() - t0) / (double)npoints;
            t0 = now_s();
            for (size_t i = 0; i < ngeos; i++) {
                int64_t g = geos_locate(&peer, x[i], y[i]);
                if (r == 0 && g != ours[i]) {
                    /* GEOS picks the lowest covering row; differs only on boundaries */
                    bool on_b = false;
                    if (g != LG_NONE)
                        lg__cell_owns(l, (size_t)g, x[i], y[i], &on_b);
                    mismatches += !on_b;
                }
                sink += g;
            }
            t_geos[r] = (now_s() - t0) / (double)ngeos;
            t0 = now_s();
            for (size_t i = 0; i < nbrute; i++) {
                int64_t b = brute_locate(l, x[i], y[i]);
                if (r == 0 && b != ours[i])
                    mismatches++;
                sink += b;
            }
            t_brute[r] = (now_s() - t0) / (double)nbrute;
        }
        int nr = runs < 16 ? runs : 16;
        double m_lg = median(t_lg, nr) * 1e9, m_geos = median(t_geos, nr) * 1e9,
               m_brute = median(t_brute, nr) * 1e9;
        printf("| %zu | libgrid | %.0f | %.3g | 1.00 | %.3f |\n", sizes[si], m_lg, 1e9 / m_lg,
               t_build);
        printf("| %zu | GEOS STRtree + prepared covers | %.0f | %.3g | %.2f | %.3f |\n", sizes[si],
               m_geos, 1e9 / m_geos, m_geos / m_lg, t_geos_build);
        printf("| %zu | brute force (%zu points) | %.0f | %.3g | %.1f | 0 |\n", sizes[si], nbrute,
               m_brute, 1e9 / m_brute, m_brute / m_lg);
        if (out) {
            fprintf(out, "%zu,libgrid,%.1f,%.1f,1.0,%.4f\n", sizes[si], m_lg, 1e9 / m_lg, t_build);
            fprintf(out, "%zu,geos_strtree_prepared,%.1f,%.1f,%.3f,%.4f\n", sizes[si], m_geos,
                    1e9 / m_geos, m_geos / m_lg, t_geos_build);
            fprintf(out, "%zu,brute_force,%.1f,%.1f,%.3f,0\n", sizes[si], m_brute, 1e9 / m_brute,
                    m_brute / m_lg);
        }
        if (mismatches)
            fprintf(stderr, "bench_locate: %zu answers differ off boundaries at %zu cells\n",
                    mismatches, sizes[si]);
        fprintf(stderr, "  (%zu cells: generated in %.2f s, %zu points, %d runs, medians)\n",
                sizes[si], t_gen, npoints, nr);
        (void)sink;
        free(x);
        free(y);
        free(ours);
        GEOSSTRtree_destroy_r(peer.h, peer.tree);
        for (size_t i = 0; i < peer.n; i++) {
            GEOSPreparedGeom_destroy_r(peer.h, peer.p[i]);
            GEOSGeom_destroy_r(peer.h, peer.g[i]);
        }
        free(peer.g);
        free(peer.p);
        lg_layer_free(l);
        if (mismatches)
            return 1;
    }
    if (out)
        fclose(out);
    lg_context_free(ctx);
    return 0;
}
