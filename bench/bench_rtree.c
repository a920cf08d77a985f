/*
 * R-tree micro-benchmark: ns/op for point search, box search, k-nearest (with and
 * without a filter), updates (moves), insert + delete, on N point items (fixed seed).
 * Uses only the public API; times are process CPU time (CLOCK_PROCESS_CPUTIME_ID), so a
 * busy machine inflates them less. Usage: bench_rtree [N] (default 10000).
 * Not in bench/meson.build yet; build by hand against a build directory:
 *   cc -O2 -std=c11 -Iinclude bench/bench_rtree.c -Lbuild-rtree -lgrid \
 *      -Wl,-rpath,$PWD/build-rtree -lm -o bench_rtree
 */
#define _POSIX_C_SOURCE 200809L
#include "libgrid.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uni(uint64_t *s, double lo, double hi)
{
    return lo + (hi - lo) * (double)(rng(s) >> 11) * (1.0 / 9007199254740992.0);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static bool count_iter(int64_t id, const double box[4], void *udata)
{
    (void)id;
    (void)box;
    ++*(size_t *)udata;
    return true;
}

static bool mod3(int64_t id, void *udata)
{
    (void)udata;
    return id % 3 == 0;
}

static void report(const char *what, double ns, size_t ops, size_t sink)
{
    printf("%-40s %9.1f ns/op %12.0f ops/s   (sink %zu)\n", what, ns / (double)ops,
           1e9 * (double)ops / ns, sink);
}

static void run(const char *label, lg_rtree *t, const double *xy, size_t n, const double *q,
                size_t nq)
{
    printf("-- %s, %zu items\n", label, n);
    size_t sink = 0;
    double t0 = now_ns();
    for (size_t i = 0; i < nq; i++)
        lg_rtree_search_point(t, q[2 * i], q[2 * i + 1], count_iter, &sink);
    report("search_point (random point)", now_ns() - t0, nq, sink);

    sink = 0;
    t0 = now_ns();
    for (size_t i = 0; i < nq; i++)
        lg_rtree_search_point(t, xy[2 * (i % n)], xy[2 * (i % n) + 1], count_iter, &sink);
    report("search_point (on an item)", now_ns() - t0, nq, sink);

    sink = 0;
    t0 = now_ns();
    for (size_t i = 0; i < nq; i++) {
        double b[4] = {q[2 * i], q[2 * i + 1], q[2 * i] + 200, q[2 * i + 1] + 200};
        lg_rtree_search(t, b, count_iter, &sink);
    }
    report("search 200x200 box (~4 hits)", now_ns() - t0, nq, sink);

    static const size_t ks[] = {1, 5, 10};
    for (int f = 0; f < 2; f++)
        for (size_t j = 0; j < 3; j++) {
            lg_nearest_options opt = {.k = ks[j], .filter = f ? mod3 : NULL};
            int64_t ids[16];
            double d[16];
            size_t nf;
            sink = 0;
            t0 = now_ns();
            for (size_t i = 0; i < nq; i++) {
                lg_rtree_nearest(t, q[2 * i], q[2 * i + 1], &opt, ids, d, &nf);
                sink += (size_t)ids[0];
            }
            char name[64];
            snprintf(name, sizeof name, "nearest k=%zu%s", ks[j], f ? " filter id%3==0" : "");
            report(name, now_ns() - t0, nq, sink);
        }
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 10000;
    size_t nq = 200000;
    uint64_t s = 42;
    double side = 10000;
    double *xy = malloc(2 * n * sizeof *xy), *boxes = malloc(4 * n * sizeof *boxes);
    double *q = malloc(2 * nq * sizeof *q);
    if (!xy || !boxes || !q)
        return 1;
    for (size_t i = 0; i < n; i++) {
        xy[2 * i] = uni(&s, 0, side);
        xy[2 * i + 1] = uni(&s, 0, side);
        boxes[4 * i] = boxes[4 * i + 2] = xy[2 * i];
        boxes[4 * i + 1] = boxes[4 * i + 3] = xy[2 * i + 1];
    }
    for (size_t i = 0; i < 2 * nq; i++)
        q[i] = uni(&s, 0, side);

    lg_rtree *t = NULL;
    if (lg_rtree_new(NULL, &t))
        return 1;
    double t0 = now_ns();
    lg_rtree_bulk_load(t, boxes, NULL, n);
    report("bulk_load (per item)", now_ns() - t0, n, lg_rtree_count(t));
    run("bulk-loaded", t, xy, n, q, nq);
    lg_rtree_free(t);

    lg_rtree_new(NULL, &t);
    t0 = now_ns();
    for (size_t i = 0; i < n; i++)
        lg_rtree_insert(t, boxes + 4 * i, (int64_t)i);
    report("insert (per item, empty start)", now_ns() - t0, n, lg_rtree_count(t));
    run("inserted one by one", t, xy, n, q, nq);

    /* Moves: each item steps up to 20 units (GPS updates), all items several rounds. */
    size_t rounds = 20, moved = 0;
    t0 = now_ns();
    for (size_t r = 0; r < rounds; r++)
        for (size_t i = 0; i < n; i++) {
            double *b = boxes + 4 * i;
            double nb[4];
            double dx = uni(&s, -20, 20), dy = uni(&s, -20, 20);
            nb[0] = nb[2] = b[0] + dx;
            nb[1] = nb[3] = b[1] + dy;
            if (lg_rtree_update(t, b, nb, (int64_t)i) == LG_OK) {
                b[0] = b[2] = nb[0];
                b[1] = b[3] = nb[1];
                moved++;
            }
        }
    report("update (move <= 20 units)", now_ns() - t0, rounds * n, moved);
    t0 = now_ns();
    for (size_t i = 0; i < n; i++) {
        double *b = boxes + 4 * i;
        double nb[4];
        nb[0] = nb[2] = uni(&s, 0, side);
        nb[1] = nb[3] = uni(&s, 0, side);
        if (lg_rtree_update(t, b, nb, (int64_t)i) == LG_OK) {
            b[0] = b[2] = nb[0];
            b[1] = b[3] = nb[1];
        }
    }
    report("update (jump anywhere)", now_ns() - t0, n, lg_rtree_count(t));
    for (size_t i = 0; i < n; i++) {
        xy[2 * i] = boxes[4 * i];
        xy[2 * i + 1] = boxes[4 * i + 1];
    }
    run("after moves", t, xy, n, q, nq);

    t0 = now_ns();
    for (size_t i = 0; i < n; i++)
        lg_rtree_delete(t, boxes + 4 * i, (int64_t)i);
    report("delete (per item, to empty)", now_ns() - t0, n, lg_rtree_count(t));
    lg_rtree_free(t);
    free(xy);
    free(boxes);
    free(q);
    return 0;
}
