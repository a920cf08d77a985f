/*
 * Concurrency stress test of the units registry: one writer moving units in batches
 * while several readers query. Every reader answer is checked against a brute-force
 * scan of the very state (view) it queried, and each view is checked for torn batches:
 * the writer always moves the two units of a pair (ids 2i, 2i+1) to the same place in
 * the same batch and stamps the batch number as their fix time, so a view in which a
 * pair disagrees has seen half a batch. Run under ThreadSanitizer (see
 * docs/DISPATCH.md); wall time is bounded (about 2 s, less iterations under sanitizers).
 */
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { PAIRS = 1500, NUNITS = 2 * PAIRS, READERS = 4 };

typedef struct shared {
    lg_units *reg;
    atomic_bool stop;
    atomic_long checks;
    atomic_long failures;
    atomic_long batches;
} shared;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *writer(void *arg)
{
    shared *sh = arg;
    uint64_t rs = 1234;
    enum { B = 64 };
    int64_t ids[B];
    double x[B], y[B], t[B];
    int32_t st[B];
    uint32_t cp[B];
    long batch = 0;
    double t0 = now_s();
    while (now_s() - t0 < 2.0 && batch < 20000) {
        batch++;
        size_t pairs = 1 + tu_rand(&rs) % (B / 2);
        for (size_t p = 0; p < pairs; p++) {
            int64_t pid = (int64_t)(tu_rand(&rs) % PAIRS);
            double px = tu_uniform(&rs, 0, 30000), py = tu_uniform(&rs, 0, 30000);
            if (tu_rand(&rs) % 50 == 0) {
                px += 1e6; /* now and then one strays far out */
            }
            int32_t s = (int32_t)(tu_rand(&rs) % 4);
            uint32_t c = (uint32_t)(tu_rand(&rs) & 7);
            for (int j = 0; j < 2; j++) {
                size_t i = 2 * p + (size_t)j;
                ids[i] = 2 * pid + j;
                x[i] = px;
                y[i] = py;
                t[i] = (double)batch;
                st[i] = s;
                cp[i] = c;
            }
        }
        lg_units_batch b = {2 * pairs, ids, x, y, t, st, cp, NULL, NULL};
        if (lg_units_update(NULL, sh->reg, &b) != LG_OK)
            atomic_fetch_add(&sh->failures, 1);
    }
    atomic_store(&sh->batches, batch);
    atomic_store(&sh->stop, true);
    return NULL;
}

typedef struct hit {
    double d;
    int64_t id;
} hit;

static int hit_cmp(const void *pa, const void *pb)
{
    const hit *a = pa, *b = pb;
    if (a->d != b->d)
        return a->d < b->d ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

typedef struct reader_arg {
    shared *sh;
    uint64_t seed;
    bool implicit; /* use lg_units_nearest (no view) besides */
} reader_arg;

static void *reader(void *arg)
{
    reader_arg *ra = arg;
    shared *sh = ra->sh;
    uint64_t rs = ra->seed;
    int64_t *ids = malloc(NUNITS * sizeof *ids);
    double *x = malloc(NUNITS * sizeof *x), *y = malloc(NUNITS * sizeof *y);
    double *t = malloc(NUNITS * sizeof *t);
    int32_t *st = malloc(NUNITS * sizeof *st);
    uint32_t *cp = malloc(NUNITS * sizeof *cp);
    hit *h = malloc(NUNITS * sizeof *h);
    double *px = malloc(PAIRS * sizeof *px), *py = malloc(PAIRS * sizeof *py);
    double *pt = malloc(PAIRS * sizeof *pt);
    uint64_t last_version = 0;
    long bad = 0;
    while (!atomic_load(&sh->stop)) {
        lg_units_view v;
        lg_units_view_acquire(sh->reg, &v);
        uint64_t ver = lg_units_view_version(&v);
        if (ver < last_version)
            bad++;
        last_version = ver;
        enum { K = 8 };
        double qx = tu_uniform(&rs, -1000, 31000), qy = tu_uniform(&rs, -1000, 31000);
        lg_unit_filter f = {0};
        if (tu_rand(&rs) & 1)
            f.status_mask = 1u << (tu_rand(&rs) % 4);
        if (tu_rand(&rs) & 1)
            f.caps_any = 1u << (tu_rand(&rs) % 3);
        if (tu_rand(&rs) % 4 == 0)
            f.max_dist_m = 3000;
        int64_t rid[K];
        double rd[K];
        size_t cnt = 0;
        lg_unit_results r = {rid, rd, NULL, NULL, &cnt};
        if (lg_units_view_nearest(&v, &qx, &qy, 1, K, &f, &r) != LG_OK)
            bad++;
        /* the same state, brute force */
        size_t n = lg_units_view_count(&v);
        if (lg_units_view_get(&v, 0, n, ids, x, y, t, st, cp, NULL, NULL) != LG_OK)
            bad++;
        lg_units_view_release(&v);
        size_t c = 0;
        for (size_t i = 0; i < n; i++) {
            if (f.status_mask && !((f.status_mask >> st[i]) & 1u))
                continue;
            if (f.caps_any && !(cp[i] & f.caps_any))
                continue;
            double dx = x[i] - qx, dy = y[i] - qy, d = sqrt(dx * dx + dy * dy);
            if (f.max_dist_m > 0 && d > f.max_dist_m)
                continue;
            h[c++] = (hit){d, ids[i]};
        }
        qsort(h, c, sizeof *h, hit_cmp);
        size_t want = c < K ? c : K;
        if (cnt != want)
            bad++;
        for (size_t j = 0; j < want && j < cnt; j++)
            if (rid[j] != h[j].id || rd[j] != h[j].d)
                bad++;
        /* torn-state check: both units of a pair agree */
        /* index the first member, compare the second */
        for (size_t i = 0; i < n; i++) {
            size_t p = (size_t)(ids[i] / 2);
            if (ids[i] % 2 == 0) {
                px[p] = x[i];
                py[p] = y[i];
                pt[p] = t[i];
            }
        }
        for (size_t i = 0; i < n; i++) {
            size_t p = (size_t)(ids[i] / 2);
            if (ids[i] % 2 == 1 && (px[p] != x[i] || py[p] != y[i] || pt[p] != t[i]))
                bad++;
        }
        if (ra->implicit) {
            /* implicit pin: answers are sorted and distinct */
            if (lg_units_nearest(sh->reg, &qx, &qy, 1, K, NULL, &r) != LG_OK || cnt != K)
                bad++;
            for (size_t j = 1; j < cnt; j++)
                if (rd[j] < rd[j - 1] || (rd[j] == rd[j - 1] && rid[j] <= rid[j - 1]))
                    bad++;
        }
        atomic_fetch_add(&sh->checks, 1);
    }
    atomic_fetch_add(&sh->failures, bad);
    free(ids);
    free(x);
    free(y);
    free(t);
    free(st);
    free(cp);
    free(h);
    free(px);
    free(py);
    free(pt);
    return NULL;
}

static void test_one_writer_many_readers(void **state)
{
    (void)state;
    shared sh = {0};
    assert_int_equal(lg_units_new(NULL, NULL, &sh.reg), LG_OK);
    atomic_init(&sh.stop, false);
    atomic_init(&sh.checks, 0);
    atomic_init(&sh.failures, 0);
    atomic_init(&sh.batches, 0);
    /* every unit exists from the start, pairs together */
    int64_t *ids = malloc(NUNITS * sizeof *ids);
    double *x = malloc(NUNITS * sizeof *x), *y = malloc(NUNITS * sizeof *y);
    double *t = malloc(NUNITS * sizeof *t);
    uint64_t rs = 77;
    for (size_t p = 0; p < PAIRS; p++) {
        double px = tu_uniform(&rs, 0, 30000), py = tu_uniform(&rs, 0, 30000);
        for (int j = 0; j < 2; j++) {
            ids[2 * p + j] = 2 * (int64_t)p + j;
            x[2 * p + j] = px;
            y[2 * p + j] = py;
            t[2 * p + j] = 0;
        }
    }
    lg_units_batch b = {NUNITS, ids, x, y, t, NULL, NULL, NULL, NULL};
    assert_int_equal(lg_units_update(NULL, sh.reg, &b), LG_OK);
    pthread_t w, r[READERS];
    reader_arg ra[READERS];
    for (int i = 0; i < READERS; i++) {
        ra[i] = (reader_arg){&sh, 1000 + (uint64_t)i, i == 0};
        assert_int_equal(pthread_create(&r[i], NULL, reader, &ra[i]), 0);
    }
    assert_int_equal(pthread_create(&w, NULL, writer, &sh), 0);
    pthread_join(w, NULL);
    for (int i = 0; i < READERS; i++)
        pthread_join(r[i], NULL);
    long checks = atomic_load(&sh.checks), fails = atomic_load(&sh.failures);
    fprintf(stderr, "concurrency: %ld batches written, %ld reader checks, %ld failures\n",
            (long)atomic_load(&sh.batches), checks, fails);
    assert_int_equal(fails, 0);
    assert_true(checks > 0);
    /* everything the writer was told is published after a flush */
    assert_int_equal(lg_units_flush(NULL, sh.reg), LG_OK);
    lg_units_view v;
    lg_units_view_acquire(sh.reg, &v);
    assert_int_equal(lg_units_view_version(&v), (uint64_t)atomic_load(&sh.batches) + 1);
    lg_units_view_release(&v);
    assert_int_equal(lg_units_count(sh.reg), NUNITS);
    lg_units_free(sh.reg);
    free(ids);
    free(x);
    free(y);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_writer_many_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
