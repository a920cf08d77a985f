/*
 * Batch locate through the C API, the baseline of the Python binding's overhead
 * (bench/bench_binding.py runs the same batch through libgrid.Grid.locate).
 *
 * Generates a county (lg_synth_county, --cells, --seed), draws --points points
 * uniformly in its bounds with splitmix64 (x of point i from draw 2i, y from draw
 * 2i+1, both from the state seeded with --seed; bench_binding.py reproduces the
 * same numbers with numpy), and times lg_layer_locate_many into a preallocated
 * output, --runs times after one warm-up. Prints one line of key=value pairs:
 * the median and minimum seconds, and a checksum of the rows (sum of row + 1) that
 * the Python side must match.
 *
 * Usage: bench_locate_batch [--cells N] [--points N] [--seed S] [--runs R]
 */
#include "libgrid.h"

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

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s, double lo, double hi)
{
    return lo + (hi - lo) * (double)(splitmix(s) >> 11) * (1.0 / 9007199254740992.0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    size_t cells = 10000, points = 1000000;
    uint64_t seed = 1;
    int runs = 15;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--cells") == 0)
            cells = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--points") == 0)
            points = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--seed") == 0)
            seed = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: %s [--cells N] [--points N] [--seed S] [--runs R]\n", argv[0]);
            return 2;
        }
    }
    if (runs < 1 || points == 0) {
        fprintf(stderr, "--runs and --points must be positive\n");
        return 2;
    }
    lg_context *ctx = NULL;
    lg_layer *layer = NULL;
    if (lg_context_new(NULL, &ctx) != LG_OK)
        return 1;
    lg_synth_options opt;
    memset(&opt, 0, sizeof opt);
    opt.cells = cells;
    opt.seed = seed;
    if (lg_synth_county(ctx, &opt, &layer) != LG_OK) {
        fprintf(stderr, "synth: %s\n", lg_context_message(ctx));
        return 1;
    }
    double b[4];
    lg_layer_bounds(layer, b);
    double *x = malloc(points * sizeof *x), *y = malloc(points * sizeof *y);
    int64_t *out = malloc(points * sizeof *out);
    double *t = malloc((size_t)runs * sizeof *t);
    if (!x || !y || !out || !t)
        return 1;
    uint64_t s = seed;
    for (size_t i = 0; i < points; i++) {
        x[i] = uniform(&s, b[0], b[2]);
        y[i] = uniform(&s, b[1], b[3]);
    }
    if (lg_layer_locate_many(layer, x, y, points, out) != LG_OK) /* warm-up */
        return 1;
    for (int r = 0; r < runs; r++) {
        double t0 = now_s();
        lg_layer_locate_many(layer, x, y, points, out);
        t[r] = now_s() - t0;
    }
    uint64_t check = 0;
    for (size_t i = 0; i < points; i++)
        check += (uint64_t)(out[i] + 1);
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    double med = runs % 2 ? t[runs / 2] : 0.5 * (t[runs / 2 - 1] + t[runs / 2]);
    printf("cells=%zu points=%zu seed=%llu runs=%d median_s=%.6f min_s=%.6f checksum=%llu\n",
           lg_layer_count(layer), points, (unsigned long long)seed, runs, med, t[0],
           (unsigned long long)check);
    free(x);
    free(y);
    free(out);
    free(t);
    lg_layer_free(layer);
    lg_context_free(ctx);
    return 0;
}
