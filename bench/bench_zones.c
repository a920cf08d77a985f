/*
 * Benchmark of service-station zones (lg_zones_plan) on generated counties, one core,
 * weight = the county's "population" field.
 *   bench_zones [--sizes 10000,100000] [--seed S] [--runs R] [--min 6] [--max 8]
 *               [--library-adjacency] [--balance B (0: 1; < 0: off)]
 * The adjacency is built outside the timed planning: by default from the exactly
 * shared segments of the generated cells (sort of canonical segments), or with
 * lg_layer_adjacency when --library-adjacency is given; its time is printed apart.
 */
#include "libgrid.h"

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

typedef struct segk {
    double ax, ay, bx, by;
    int64_t row;
} segk;

static int segk_cmp(const void *pa, const void *pb)
{
    const segk *a = pa, *b = pb;
    if (a->ax != b->ax)
        return a->ax < b->ax ? -1 : 1;
    if (a->ay != b->ay)
        return a->ay < b->ay ? -1 : 1;
    if (a->bx != b->bx)
        return a->bx < b->bx ? -1 : 1;
    if (a->by != b->by)
        return a->by < b->by ? -1 : 1;
    return (a->row > b->row) - (a->row < b->row);
}

/* Adjacency from exactly shared segments (synthetic counties share sides exactly). */
static lg_error segment_graph(lg_context *ctx, const lg_layer *l, lg_graph **out)
{
    size_t n = lg_layer_count(l), ns = 0, cap = 0;
    for (size_t r = 0; r < n; r++)
        for (size_t k = 0; k < lg_layer_ring_count(l, r); k++) {
            const double *xy;
            size_t nv;
            if (lg_layer_ring(l, r, k, &xy, &nv) == LG_OK)
                cap += nv;
        }
    segk *s = malloc((cap + 1) * sizeof *s);
    int64_t *a = malloc((cap + 1) * sizeof *a), *b = malloc((cap + 1) * sizeof *b);
    double *w = malloc((cap + 1) * sizeof *w);
    if (!s || !a || !b || !w) {
        free(s);
        free(a);
        free(b);
        free(w);
        return LG_ERR_NOMEM;
    }
    for (size_t r = 0; r < n; r++)
        for (size_t k = 0; k < lg_layer_ring_count(l, r); k++) {
            const double *xy;
            size_t nv;
            if (lg_layer_ring(l, r, k, &xy, &nv) != LG_OK)
                continue;
            for (size_t i = 0; i + 1 < nv; i++) {
                double ax = xy[2 * i], ay = xy[2 * i + 1], bx = xy[2 * i + 2], by = xy[2 * i + 3];
                bool swap = ax > bx || (ax == bx && ay > by);
                s[ns++] =
                    swap ? (segk){bx, by, ax, ay, (int64_t)r} : (segk){ax, ay, bx, by, (int64_t)r};
            }
        }
    qsort(s, ns, sizeof *s, segk_cmp);
    size_t m = 0;
    for (size_t i = 0; i + 1 < ns; i++)
        if (s[i].ax == s[i + 1].ax && s[i].ay == s[i + 1].ay && s[i].bx == s[i + 1].bx &&
            s[i].by == s[i + 1].by && s[i].row != s[i + 1].row) {
            a[m] = s[i].row;
            b[m] = s[i + 1].row;
            w[m++] = hypot(s[i].bx - s[i].ax, s[i].by - s[i].ay);
        }
    lg_error e = lg_graph_new(ctx, n, a, b, w, m, out);
    free(s);
    free(a);
    free(b);
    free(w);
    return e;
}

int main(int argc, char **argv)
{
    const char *sizes = "1000,10000,100000";
    uint64_t seed = 1;
    int runs = 3;
    size_t L = 6, U = 8;
    bool libadj = false;
    double balance = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sizes") && i + 1 < argc)
            sizes = argv[++i];
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--min") && i + 1 < argc)
            L = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--max") && i + 1 < argc)
            U = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--balance") && i + 1 < argc)
            balance = atof(argv[++i]);
        else if (!strcmp(argv[i], "--library-adjacency"))
            libadj = true;
        else {
            fprintf(stderr,
                    "usage: %s [--sizes a,b,c] [--seed S] [--runs R] [--min L] "
                    "[--max U] [--library-adjacency] [--balance B]\n",
                    argv[0]);
            return 2;
        }
    }
    if (runs < 1)
        runs = 1;
    lg_context *ctx = NULL;
    if (lg_context_new(NULL, &ctx) != LG_OK)
        return 1;
    printf("%-8s %8s %10s %10s %7s %8s %8s %8s %8s %8s %8s\n", "cells", "zones", "adj_s", "plan_s",
           "valid", "sizes", "compact", "c_max", "PP", "PP_min", "w_cv");
    char *list = strdup(sizes);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        lg_synth_options so = {0};
        so.cells = (size_t)atol(tok);
        so.seed = seed;
        lg_layer *l = NULL;
        if (lg_synth_county(ctx, &so, &l) != LG_OK) {
            fprintf(stderr, "synth: %s\n", lg_context_message(ctx));
            return 1;
        }
        size_t n = lg_layer_count(l), f;
        double *pop = malloc(n * sizeof *pop);
        if (lg_layer_field_index(l, "population", &f) != LG_OK)
            return 1;
        for (size_t i = 0; i < n; i++)
            lg_layer_get_real(l, f, i, &pop[i]);
        lg_graph *g = NULL;
        double t0 = now_s();
        lg_error e = libadj ? lg_layer_adjacency(ctx, l, NULL, &g) : segment_graph(ctx, l, &g);
        double tadj = now_s() - t0;
        if (e != LG_OK) {
            fprintf(stderr, "adjacency: %s\n", lg_context_message(ctx));
            return 1;
        }
        lg_zone_options o = {0};
        o.min_cells = L;
        o.max_cells = U;
        o.weight = pop;
        o.seed = seed;
        o.balance = balance;
        double best = INFINITY;
        lg_zone_plan *p = NULL;
        for (int r = 0; r < runs; r++) {
            lg_zone_plan_free(p);
            p = NULL;
            t0 = now_s();
            if (lg_zones_plan(ctx, g, l, &o, &p) != LG_OK) {
                fprintf(stderr, "plan: %s\n", lg_context_message(ctx));
                return 1;
            }
            double t = now_s() - t0;
            if (t < best)
                best = t;
        }
        lg_zone_plan *v = NULL;
        lg_zones_validate(ctx, g, l, lg_zone_plan_zones(p), n, &o, &v);
        lg_zone_quality q;
        lg_zone_plan_quality(p, &q);
        char sz[32];
        snprintf(sz, sizeof sz, "%zu-%zu", q.size_min, q.size_max);
        printf("%-8zu %8zu %10.3f %10.3f %7s %8s %8.3f %8.3f %8.3f %8.3f %8.3f\n", n, q.zones, tadj,
               best, lg_zone_plan_feasible(v) ? "yes" : "NO", sz, q.compact_mean, q.compact_max,
               q.polsby_mean, q.polsby_min, q.weight_cv);
        lg_zone_plan_free(v);
        lg_zone_plan_free(p);
        lg_graph_free(g);
        free(pop);
        lg_layer_free(l);
    }
    free(list);
    lg_context_free(ctx);
    return 0;
}
