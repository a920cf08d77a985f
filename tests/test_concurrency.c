/*
 * Concurrency stress test of the units registry: one writer moving units in batches
 * while several readers query. The writer logs every batch (before it calls
 * lg_units_update), so a reader can rebuild every committed state. Each reader:
 *
 *  - takes a view A (a snapshot, version va), queries the live registry with
 *    lg_units_nearest, then takes a view B (version vb). The live answer must equal a
 *    brute-force scan of one of the committed states va..vb (A with the logged batches
 *    va+1.. applied one by one): the registry promises an answer exact for a state
 *    committed while the query ran, so this is the precise check, and a torn batch or
 *    a unit missed while moving between buckets fails it;
 *  - checks lg_units_view_nearest on A against a brute-force scan of A;
 *  - checks A for torn batches: the writer always moves the two units of a pair (ids
 *    2i, 2i+1) to the same place in the same batch and stamps the batch number as their
 *    fix time, so a view in which a pair disagrees has seen half a batch; and that
 *    versions never go back.
 *
 * Run under ThreadSanitizer (see docs/DISPATCH.md); wall time is bounded (about 2 s,
 * fewer iterations under sanitizers).
 */
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { PAIRS = 1500, NUNITS = 2 * PAIRS, READERS = 4, MAXB = 10000, BP = 32 };

/* One logged batch: BP pairs at most. */
typedef struct logged {
    int n;
    int64_t pid[BP];
    double x[BP], y[BP], t;
    int32_t st[BP];
    uint32_t cp[BP];
} logged;

typedef struct shared {
    lg_units *reg;
    logged *log;      /* log[v]: the batch that makes version v (v >= 2) */
    atomic_long nlog; /* log[..nlog] are written */
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
    while (now_s() - t0 < 2.0 && batch < MAXB - 2) {
        batch++;
        size_t pairs = 1 + tu_rand(&rs) % (B / 2);
        logged *lg = &sh->log[batch + 1]; /* the initial insertion is version 1 */
        lg->n = (int)pairs;
        lg->t = (double)batch;
        for (size_t p = 0; p < pairs; p++) {
            int64_t pid = (int64_t)(tu_rand(&rs) % PAIRS);
            double px = tu_uniform(&rs, 0, 30000), py = tu_uniform(&rs, 0, 30000);
            if (tu_rand(&rs) % 50 == 0) {
                px += 1e6; /* now and then one strays far out */
            }
            int32_t s = (int32_t)(tu_rand(&rs) % 4);
            uint32_t c = (uint32_t)(tu_rand(&rs) & 7);
            lg->pid[p] = pid;
            lg->x[p] = px;
            lg->y[p] = py;
            lg->st[p] = s;
            lg->cp[p] = c;
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
        atomic_store_explicit(&sh->nlog, batch + 1, memory_order_release);
        lg_units_batch b = {2 * pairs, ids, x, y, t, st, cp, NULL, NULL};
        if (lg_units_update(NULL, sh->reg, &b) != LG_OK)
            atomic_fetch_add(&sh->failures, 1);
        /* bursts of back-to-back batches, then pauses: keeps the run about 2 s long and
         * the readers' windows (versions per query) small as well as large */
        if (tu_rand(&rs) % 2 == 0) {
            struct timespec ts = {0, 300000};
            nanosleep(&ts, NULL);
        }
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
    long states_checked; /* committed states compared against live answers */
} reader_arg;

typedef struct rstate {
    double x[NUNITS], y[NUNITS], t[NUNITS];
    int32_t st[NUNITS];
    uint32_t cp[NUNITS];
} rstate;

/* Brute force over state r (units indexed by id): the k best ids and distances. */
static size_t brute(const rstate *r, double qx, double qy, const lg_unit_filter *f, size_t k,
                    hit *h, int64_t *ids, double *d)
{
    size_t c = 0;
    for (size_t i = 0; i < NUNITS; i++) {
        if (f->status_mask && !((f->status_mask >> r->st[i]) & 1u))
            continue;
        if (f->caps_any && !(r->cp[i] & f->caps_any))
            continue;
        double dx = r->x[i] - qx, dy = r->y[i] - qy, dd = sqrt(dx * dx + dy * dy);
        if (f->max_dist_m > 0 && dd > f->max_dist_m)
            continue;
        h[c++] = (hit){dd, (int64_t)i};
    }
    qsort(h, c, sizeof *h, hit_cmp);
    size_t want = c < k ? c : k;
    for (size_t j = 0; j < want; j++) {
        ids[j] = h[j].id;
        d[j] = h[j].d;
    }
    return want;
}

static bool same_answer(size_t n1, const int64_t *i1, const double *d1, size_t n2,
                        const int64_t *i2, const double *d2)
{
    if (n1 != n2)
        return false;
    for (size_t j = 0; j < n1; j++)
        if (i1[j] != i2[j] || d1[j] != d2[j])
            return false;
    return true;
}

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
    rstate *r = malloc(sizeof *r);
    uint64_t last_version = 0;
    long bad = 0;
    while (!atomic_load(&sh->stop)) {
        enum { K = 8, NQ = 4 };
        double qxs[NQ], qys[NQ];
        lg_unit_filter fs[NQ];
        for (int q = 0; q < NQ; q++) {
            qxs[q] = tu_uniform(&rs, -1000, 31000);
            qys[q] = tu_uniform(&rs, -1000, 31000);
            lg_unit_filter f = {0};
            if (tu_rand(&rs) & 1)
                f.status_mask = 1u << (tu_rand(&rs) % 4);
            if (tu_rand(&rs) & 1)
                f.caps_any = 1u << (tu_rand(&rs) % 3);
            if (tu_rand(&rs) % 4 == 0)
                f.max_dist_m = 3000;
            fs[q] = f;
        }
        /* view A, the live query, view B */
        lg_units_view va, vb;
        lg_units_view_acquire(sh->reg, &va);
        int64_t lids[NQ][K];
        double lds[NQ][K];
        size_t lcnts[NQ];
        for (int q = 0; q < NQ; q++) {
            lg_unit_results lr = {lids[q], lds[q], NULL, NULL, &lcnts[q]};
            if (lg_units_nearest(sh->reg, &qxs[q], &qys[q], 1, K, &fs[q], &lr) != LG_OK)
                bad++;
        }
        lg_units_view_acquire(sh->reg, &vb);
        uint64_t ver_a = lg_units_view_version(&va), ver_b = lg_units_view_version(&vb);
        lg_units_view_release(&vb);
        if (ver_a < last_version || ver_b < ver_a)
            bad++;
        last_version = ver_b;
        /* the snapshot A, indexed by id */
        size_t n = lg_units_view_count(&va);
        if (n != NUNITS ||
            lg_units_view_get(&va, 0, n, ids, x, y, t, st, cp, NULL, NULL) != LG_OK) {
            bad++;
            lg_units_view_release(&va);
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            size_t u = (size_t)ids[i];
            r->x[u] = x[i];
            r->y[u] = y[i];
            r->t[u] = t[i];
            r->st[u] = st[i];
            r->cp[u] = cp[i];
        }
        double qx = qxs[0], qy = qys[0];
        lg_unit_filter f = fs[0];
        /* the view's own query against brute force of the view */
        int64_t vid[K], bid[K];
        double vd[K], bd[K];
        size_t vcnt = 0;
        lg_unit_results vr = {vid, vd, NULL, NULL, &vcnt};
        if (lg_units_view_nearest(&va, &qx, &qy, 1, K, &f, &vr) != LG_OK)
            bad++;
        lg_units_view_release(&va);
        size_t bcnt = brute(r, qx, qy, &f, K, h, bid, bd);
        if (!same_answer(vcnt, vid, vd, bcnt, bid, bd))
            bad++;
        /* torn-state check on A: both units of a pair agree */
        for (size_t p = 0; p < PAIRS; p++)
            if (r->x[2 * p] != r->x[2 * p + 1] || r->y[2 * p] != r->y[2 * p + 1] ||
                r->t[2 * p] != r->t[2 * p + 1])
                bad++;
        /* each live answer is exact for one committed state in va..vb */
        if (atomic_load_explicit(&sh->nlog, memory_order_acquire) < (long)ver_b && ver_b > 1)
            bad++; /* cannot happen: batches are logged before they are applied */
        for (int q = 0; q < NQ; q++) {
            if (q > 0) /* back to A */
                for (size_t i = 0; i < n; i++) {
                    size_t u = (size_t)ids[i];
                    r->x[u] = x[i];
                    r->y[u] = y[i];
                    r->t[u] = t[i];
                    r->st[u] = st[i];
                    r->cp[u] = cp[i];
                }
            bool found = false;
            for (uint64_t ver = ver_a;; ver++) {
                ra->states_checked++;
                bcnt = brute(r, qxs[q], qys[q], &fs[q], K, h, bid, bd);
                if (same_answer(lcnts[q], lids[q], lds[q], bcnt, bid, bd)) {
                    found = true;
                    break;
                }
                if (ver == ver_b)
                    break;
                const logged *lg = &sh->log[ver + 1];
                for (int p = 0; p < lg->n; p++)
                    for (int j = 0; j < 2; j++) {
                        size_t u = (size_t)(2 * lg->pid[p] + j);
                        r->x[u] = lg->x[p];
                        r->y[u] = lg->y[p];
                        r->t[u] = lg->t;
                        r->st[u] = lg->st[p];
                        r->cp[u] = lg->cp[p];
                    }
            }
            if (!found) {
                bad++;
                fprintf(stderr,
                        "live answer at (%.1f, %.1f) matches no state in versions %llu..%llu\n",
                        qxs[q], qys[q], (unsigned long long)ver_a, (unsigned long long)ver_b);
            }
            /* answers are sorted and distinct */
            for (size_t j = 1; j < lcnts[q]; j++)
                if (lds[q][j] < lds[q][j - 1] ||
                    (lds[q][j] == lds[q][j - 1] && lids[q][j] <= lids[q][j - 1]))
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
    free(r);
    return NULL;
}

static void test_one_writer_many_readers(void **state)
{
    (void)state;
    shared sh = {0};
    assert_int_equal(lg_units_new(NULL, NULL, &sh.reg), LG_OK);
    sh.log = calloc(MAXB, sizeof *sh.log);
    assert_non_null(sh.log);
    atomic_init(&sh.nlog, 1);
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
        ra[i] = (reader_arg){&sh, 1000 + (uint64_t)i, 0};
        assert_int_equal(pthread_create(&r[i], NULL, reader, &ra[i]), 0);
    }
    assert_int_equal(pthread_create(&w, NULL, writer, &sh), 0);
    pthread_join(w, NULL);
    for (int i = 0; i < READERS; i++)
        pthread_join(r[i], NULL);
    long checks = atomic_load(&sh.checks), fails = atomic_load(&sh.failures);
    long states = 0;
    for (int i = 0; i < READERS; i++)
        states += ra[i].states_checked;
    fprintf(stderr,
            "concurrency: %ld batches written, %ld reader checks (%ld committed states "
            "compared), %ld failures\n",
            (long)atomic_load(&sh.batches), checks, states, fails);
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
    free(sh.log);
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
