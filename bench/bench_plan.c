/*
 * Benchmark of the planning core: cell adjacency (lg_layer_adjacency), stations built
 * from cells (adjacency + jurisdiction unions + workload), and station classification,
 * on generated counties from fixed seeds. Prints the median of --runs runs.
 *
 * Not in bench/meson.build yet; build by hand against a configured build directory:
 *   cc -O2 -Iinclude bench/bench_plan.c -Lbuild-plan -lgrid -Wl,-rpath,$PWD/build-plan \
 *      -lm -o build-plan/bench_plan
 *   ./build-plan/bench_plan [--sizes 10000,100000] [--runs 3]
 * (in bench/meson.build: executable('bench_plan', files('bench_plan.c'),
 *  dependencies : [libgrid_static_dep]) like bench_locate.)
 */
#include "libgrid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

static int die(lg_context *ctx, const char *what)
{
    fprintf(stderr, "bench_plan: %s: %s\n", what, lg_context_message(ctx));
    return 1;
}

int main(int argc, char **argv)
{
    const char *sizes = "10000,100000";
    int runs = 3;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc)
            sizes = argv[++i];
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_plan [--sizes N,N,...] [--runs R]\n");
            return 2;
        }
    }
    if (runs < 1 || runs > 100)
        runs = 3;
    lg_context *ctx = NULL;
    if (lg_context_new(NULL, &ctx))
        return 1;
    double t[100];

    printf("%-10s %-9s %12s %12s %10s\n", "cells", "stations", "adjacency_s", "ns/cell", "edges");
    char *list = strdup(sizes);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        size_t cells = (size_t)strtoull(tok, NULL, 10);
        lg_synth_options so = {.seed = 1, .cells = cells};
        lg_layer *l = NULL;
        if (lg_synth_county(ctx, &so, &l))
            return die(ctx, "synth");
        size_t edges = 0;
        for (int r = 0; r < runs; r++) {
            lg_graph *g = NULL;
            double t0 = now_s();
            if (lg_layer_adjacency(ctx, l, NULL, &g))
                return die(ctx, "adjacency");
            t[r] = now_s() - t0;
            edges = lg_graph_edge_count(g);
            lg_graph_free(g);
        }
        double m = median(t, runs);
        printf("%-10zu %-9s %12.4f %12.1f %10zu\n", cells, "-", m, m * 1e9 / (double)cells, edges);
        lg_layer_free(l);
    }
    free(list);

    printf("\n%-10s %-9s %10s %11s %8s %6s %7s %9s\n", "cells", "stations", "build_s", "classify_s",
           "central", "base", "border", "feasible");
    static const size_t cases[][2] = {{225, 25}, {2000, 220}, {20000, 2000}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        lg_synth_options so = {.seed = 1, .cells = cases[c][0], .stations = cases[c][1]};
        lg_layer *l = NULL;
        if (lg_synth_county(ctx, &so, &l))
            return die(ctx, "synth");
        double tb[100];
        lg_stations *st = NULL;
        for (int r = 0; r < runs; r++) {
            lg_stations_free(st);
            st = NULL;
            double t0 = now_s();
            if (lg_stations_from_cells(ctx, l, "station", NULL, &st))
                return die(ctx, "stations");
            tb[r] = now_s() - t0;
        }
        size_t n = lg_stations_count(st);
        lg_station_kind *kind = malloc(n * sizeof *kind);
        int64_t *central = malloc(n * sizeof *central);
        bool feasible = false;
        const char *wl[] = {"population", "calls"};
        double wt[] = {0.5, 0.5};
        lg_classify_options co = {.workload = wl, .weights = wt, .n_workload = 2};
        for (int r = 0; r < runs; r++) {
            double t0 = now_s();
            if (lg_stations_classify(ctx, st, &co, kind, central, NULL, n, &feasible, NULL))
                return die(ctx, "classify");
            t[r] = now_s() - t0;
        }
        size_t k[4] = {0};
        for (size_t i = 0; i < n; i++)
            k[kind[i]]++;
        printf("%-10zu %-9zu %10.4f %11.4f %8zu %6zu %7zu %9s\n", cases[c][0], n, median(tb, runs),
               median(t, runs), k[LG_STATION_CENTRAL], k[LG_STATION_BASE], k[LG_STATION_BORDER],
               feasible ? "yes" : "no");
        free(kind);
        free(central);
        lg_stations_free(st);
        lg_layer_free(l);
    }
    lg_context_free(ctx);
    return 0;
}
