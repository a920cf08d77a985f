/*
 * Tests of the units registry and run cards (units.c). Oracles: a plain array model of
 * the units kept in step with the registry and a brute-force filtered k-nearest scan
 * sorted by (distance, id); lg_layer_locate + the "station" field for the flags;
 * GEOS centroids and a brute-force station sort for the run cards.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- model */

typedef struct munit {
    int64_t id;
    double x, y;
    int32_t status, kind;
    uint32_t caps;
    int64_t station;
} munit;

typedef struct model {
    munit *u;
    size_t n, cap;
} model;

static munit *m_find(model *m, int64_t id)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->u[i].id == id)
            return &m->u[i];
    return NULL;
}

/* Apply a batch the way the registry documents it. */
static void m_apply(model *m, const lg_units_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        munit *u = m_find(m, b->ids[i]);
        if (!u) {
            if (m->n == m->cap) {
                m->cap = m->cap ? 2 * m->cap : 256;
                m->u = realloc(m->u, m->cap * sizeof *m->u);
                assert_non_null(m->u);
            }
            u = &m->u[m->n++];
            *u = (munit){b->ids[i], 0, 0, LG_STATUS_AVAILABLE, LG_UNIT_CAR, 0, LG_NONE};
        }
        if (b->x) {
            u->x = b->x[i];
            u->y = b->y[i];
        }
        if (b->status)
            u->status = b->status[i];
        if (b->kind)
            u->kind = b->kind[i];
        if (b->caps)
            u->caps = b->caps[i];
        if (b->station)
            u->station = b->station[i];
    }
}

static void m_remove(model *m, int64_t id)
{
    munit *u = m_find(m, id);
    assert_non_null(u);
    *u = m->u[--m->n];
}

static bool m_pass(const munit *u, const lg_unit_filter *f)
{
    if (f->status_mask && !((f->status_mask >> u->status) & 1u))
        return false;
    if (f->kind_mask && !((f->kind_mask >> u->kind) & 1u))
        return false;
    if ((u->caps & f->caps_all) != f->caps_all)
        return false;
    if (f->caps_any && !(u->caps & f->caps_any))
        return false;
    if (f->by_station && u->station != f->station)
        return false;
    return true;
}

typedef struct hit {
    double d;
    int64_t id;
    size_t i;
} hit;

static int hit_cmp(const void *pa, const void *pb)
{
    const hit *a = pa, *b = pb;
    if (a->d != b->d)
        return a->d < b->d ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

/* Brute force: matches sorted by (distance, id) into h (room for m->n); returns count. */
static size_t brute(const munit *u, size_t n, double x, double y, const lg_unit_filter *f, hit *h)
{
    size_t c = 0;
    double maxd = f->max_dist_m > 0 ? f->max_dist_m : INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!m_pass(&u[i], f))
            continue;
        double dx = u[i].x - x, dy = u[i].y - y, d = sqrt(dx * dx + dy * dy);
        if (d <= maxd)
            h[c++] = (hit){d, u[i].id, i};
    }
    qsort(h, c, sizeof *h, hit_cmp);
    return c;
}

/* Check one query of the registry against the brute force on model m. */
static void check_query(lg_units *reg, const model *m, double x, double y, size_t k,
                        const lg_unit_filter *f)
{
    int64_t ids[64];
    double dist[64], eta[64];
    size_t cnt = 99;
    lg_unit_results r = {ids, dist, eta, NULL, &cnt};
    assert_true(k <= 64);
    assert_int_equal(lg_units_nearest(reg, &x, &y, 1, k, f, &r), LG_OK);
    hit *h = malloc((m->n + 1) * sizeof *h);
    size_t c = brute(m->u, m->n, x, y, f, h);
    size_t want = c < k ? c : k;
    if (cnt != want)
        fprintf(stderr, "query (%g, %g) k=%zu: %zu found, %zu expected\n", x, y, k, cnt, want);
    assert_int_equal(cnt, want);
    for (size_t j = 0; j < k; j++) {
        if (j < want) {
            if (ids[j] != h[j].id)
                fprintf(stderr, "rank %zu: id %lld (%.17g), expected %lld (%.17g)\n", j,
                        (long long)ids[j], dist[j], (long long)h[j].id, h[j].d);
            assert_int_equal(ids[j], h[j].id);
            assert_true(dist[j] == h[j].d);
            assert_true(fabs(eta[j] - lg_units_eta_s(reg, m->u[h[j].i].kind, h[j].d)) <= 0);
        } else {
            assert_int_equal(ids[j], LG_NONE);
            assert_true(isinf(dist[j]) && isinf(eta[j]));
        }
    }
    free(h);
}

/* The registry's published contents equal the model. */
static void check_contents(lg_units *reg, model *m)
{
    lg_units_view v;
    lg_units_view_acquire(reg, &v);
    size_t n = lg_units_view_count(&v);
    assert_int_equal(n, m->n);
    for (size_t i = 0; i < n; i++) {
        int64_t id;
        double x, y;
        int32_t st, kd;
        uint32_t cp;
        int64_t sn;
        assert_int_equal(lg_units_view_get(&v, i, 1, &id, &x, &y, NULL, &st, &cp, &kd, &sn), LG_OK);
        munit *u = m_find(m, id);
        assert_non_null(u);
        assert_true(u->x == x && u->y == y);
        assert_int_equal(u->status, st);
        assert_int_equal(u->kind, kd);
        assert_int_equal(u->caps, cp);
        assert_int_equal(u->station, sn);
        assert_int_equal(lg_units_view_find(&v, id), (int64_t)i);
    }
    assert_int_equal(lg_units_view_get(&v, n, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
                     LG_ERR_ARG);
    lg_units_view_release(&v);
}

static lg_units *new_reg(const lg_units_options *o)
{
    lg_units *u = NULL;
    assert_int_equal(lg_units_new(NULL, o, &u), LG_OK);
    return u;
}

/* A random filter built from the bits of sel (each bit switches one criterion on). */
static lg_unit_filter make_filter(unsigned sel, uint64_t *rs)
{
    lg_unit_filter f = {0};
    if (sel & 1)
        f.status_mask = (uint32_t)(tu_rand(rs) & 0x1f) | 1u;
    if (sel & 2)
        f.caps_all = (uint32_t)(tu_rand(rs) & 3);
    if (sel & 4)
        f.caps_any = (uint32_t)(tu_rand(rs) & 0xf) | 4u;
    if (sel & 8)
        f.kind_mask = (uint32_t)(tu_rand(rs) & 7) | 1u;
    if (sel & 16) {
        f.by_station = true;
        f.station = (int64_t)(tu_rand(rs) % 6) - 1; /* includes LG_NONE */
    }
    if (sel & 32)
        f.max_dist_m = tu_uniform(rs, 100, 5000);
    return f;
}

static void random_batch(uint64_t *rs, model *m, size_t n, int64_t id_range, bool attrs,
                         int64_t *ids, double *x, double *y, int32_t *st, uint32_t *cp, int32_t *kd,
                         int64_t *sn, lg_units_batch *b)
{
    for (size_t i = 0; i < n; i++) {
        ids[i] = (int64_t)(tu_rand(rs) % (uint64_t)id_range);
        /* a few outliers far outside the county exercise the open border buckets */
        bool far = tu_rand(rs) % 97 == 0;
        x[i] = far ? tu_uniform(rs, -2e5, 2e5) : tu_uniform(rs, 0, 20000);
        y[i] = far ? tu_uniform(rs, -2e5, 2e5) : tu_uniform(rs, 0, 20000);
        /* integer grids make exact ties frequent */
        if (tu_rand(rs) % 4 == 0) {
            x[i] = 100.0 * (double)(int)(x[i] / 100);
            y[i] = 100.0 * (double)(int)(y[i] / 100);
        }
        st[i] = (int32_t)(tu_rand(rs) % 5);
        cp[i] = (uint32_t)(tu_rand(rs) & 0xf);
        kd[i] = (int32_t)(tu_rand(rs) % 4);
        sn[i] = (int64_t)(tu_rand(rs) % 5) - 1;
    }
    *b = (lg_units_batch){n, ids, x, y, NULL, NULL, NULL, NULL, NULL};
    if (attrs || !m) {
        b->status = st;
        b->caps = cp;
        b->kind = kd;
        b->station = sn;
    }
}

/* ---------------------------------------------------------------- tests */

static void test_random_vs_brute(void **state)
{
    (void)state;
    uint64_t rs = 42;
    model m = {0};
    lg_units *reg = new_reg(NULL);
    enum { B = 600 };
    int64_t ids[B];
    double x[B], y[B];
    int32_t st[B], kd[B];
    uint32_t cp[B];
    int64_t sn[B];
    lg_units_batch b;
    /* first fill: ids < 3000 so later batches both move and insert */
    for (int round = 0; round < 40; round++) {
        size_t n = round < 4 ? B : 1 + tu_rand(&rs) % (round % 3 == 0 ? 1 : 200);
        random_batch(&rs, &m, n, 3000, round < 4 || round % 2 == 0, ids, x, y, st, cp, kd, sn, &b);
        if (round % 5 == 4) {
            /* status-only update of existing units: no positions */
            for (size_t i = 0; i < n; i++)
                ids[i] = m.u[tu_rand(&rs) % m.n].id;
            b.x = b.y = NULL;
            b.status = st;
        }
        assert_int_equal(lg_units_update(NULL, reg, &b), LG_OK);
        m_apply(&m, &b);
        if (round % 7 == 6) {
            int64_t rid[20];
            size_t nr = 0;
            for (size_t i = 0; i < 20 && m.n > 0; i++) {
                int64_t id = m.u[tu_rand(&rs) % m.n].id;
                bool dup = false;
                for (size_t j = 0; j < nr; j++)
                    dup |= rid[j] == id;
                if (!dup)
                    rid[nr++] = id;
            }
            assert_int_equal(lg_units_remove(NULL, reg, rid, nr), LG_OK);
            for (size_t i = 0; i < nr; i++)
                m_remove(&m, rid[i]);
        }
        check_contents(reg, &m);
        /* every combination of filter criteria, random k and incidents, some far out */
        for (unsigned sel = 0; sel < 64; sel++) {
            for (int q = 0; q < 3; q++) {
                lg_unit_filter f = make_filter(sel, &rs);
                size_t k = 1 + tu_rand(&rs) % (q == 2 ? 64 : 12);
                double qx = q == 1 ? tu_uniform(&rs, -3e5, 3e5) : tu_uniform(&rs, -500, 20500);
                double qy = q == 1 ? tu_uniform(&rs, -3e5, 3e5) : tu_uniform(&rs, -500, 20500);
                check_query(reg, &m, qx, qy, k, &f);
            }
        }
    }
    lg_units_free(reg);
    free(m.u);
}

/* Units on a circle at exactly equal distances, ids shuffled: order by ascending id. */
static void test_ties(void **state)
{
    (void)state;
    lg_units *reg = new_reg(NULL);
    /* (3,4) (4,3) (5,0) ... all at distance 5 from the origin, exactly */
    const double px[] = {3, 4, 5, 0, -3, -4, -5, 0, 3, 4, -3, -4, 0, 0};
    const double py[] = {4, 3, 0, 5, 4, 3, 0, -5, -4, -3, -4, -3, 5, -5};
    const int64_t pid[] = {90, 17, 55, 3, 71, 8, 42, 11, 64, 29, 5, 36, 100, 1};
    size_t n = sizeof px / sizeof *px;
    lg_units_batch b = {n, pid, px, py, NULL, NULL, NULL, NULL, NULL};
    assert_int_equal(lg_units_update(NULL, reg, &b), LG_OK);
    int64_t ids[14];
    double d[14];
    lg_unit_results r = {ids, d, NULL, NULL, NULL};
    double qx = 0, qy = 0;
    assert_int_equal(lg_units_nearest(reg, &qx, &qy, 1, 14, NULL, &r), LG_OK);
    int64_t sorted[14];
    memcpy(sorted, pid, sizeof sorted);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
            int64_t t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ids[i], sorted[i]);
        assert_true(d[i] == 5.0);
    }
    /* k = 3 keeps the three smallest ids of the tie */
    assert_int_equal(lg_units_nearest(reg, &qx, &qy, 1, 3, NULL, &r), LG_OK);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 3);
    assert_int_equal(ids[2], 5);
    lg_units_free(reg);
}

static void test_empty_and_padding(void **state)
{
    (void)state;
    lg_units *reg = new_reg(NULL);
    double qx[2] = {0, 1}, qy[2] = {0, 1};
    int64_t ids[8];
    double d[8], e[8];
    uint32_t fl[8];
    size_t cnt[2];
    lg_unit_results r = {ids, d, e, fl, cnt};
    assert_int_equal(lg_units_count(reg), 0);
    assert_int_equal(lg_units_nearest(reg, qx, qy, 2, 4, NULL, &r), LG_OK);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(ids[i], LG_NONE);
        assert_true(isinf(d[i]) && isinf(e[i]));
        assert_int_equal(fl[i], 0);
    }
    assert_int_equal(cnt[0], 0);
    assert_int_equal(cnt[1], 0);
    /* k larger than the matches: two units, one passes */
    const int64_t id2[] = {7, 8};
    const double x2[] = {10, 20}, y2[] = {0, 0};
    const int32_t s2[] = {LG_STATUS_BUSY, LG_STATUS_AVAILABLE};
    lg_units_batch b = {2, id2, x2, y2, NULL, s2, NULL, NULL, NULL};
    assert_int_equal(lg_units_update(NULL, reg, &b), LG_OK);
    lg_unit_filter f = {.status_mask = 1u << LG_STATUS_AVAILABLE};
    assert_int_equal(lg_units_nearest(reg, qx, qy, 2, 4, &f, &r), LG_OK);
    assert_int_equal(cnt[0], 1);
    assert_int_equal(ids[0], 8);
    assert_true(d[0] == 20.0);
    for (int i = 1; i < 4; i++)
        assert_int_equal(ids[i], LG_NONE);
    /* max distance excludes it */
    f.max_dist_m = 19.5;
    assert_int_equal(lg_units_nearest(reg, qx, qy, 1, 4, &f, &r), LG_OK);
    assert_int_equal(cnt[0], 0);
    /* a non-finite incident gets an empty row, not an error */
    double nx = NAN;
    assert_int_equal(lg_units_nearest(reg, &nx, qy, 1, 4, NULL, &r), LG_OK);
    assert_int_equal(cnt[0], 0);
    assert_int_equal(ids[0], LG_NONE);
    /* bad arguments */
    assert_int_equal(lg_units_nearest(reg, qx, qy, 1, 0, NULL, &r), LG_ERR_ARG);
    assert_int_equal(lg_units_nearest(reg, qx, qy, 1, 1, NULL, NULL), LG_ERR_ARG);
    assert_int_equal(lg_units_nearest(NULL, qx, qy, 1, 1, NULL, &r), LG_ERR_ARG);
    lg_units_free(reg);
    lg_units_free(NULL);
}

/* Bad records: the error code, a message naming record and reason, the registry unchanged. */
static void test_bad_updates(void **state)
{
    (void)state;
    lg_context *ctx = NULL;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    lg_units *reg = NULL;
    assert_int_equal(lg_units_new(ctx, NULL, &reg), LG_OK);
    const int64_t id0[] = {1, 2, 3};
    const double x0[] = {1, 2, 3}, y0[] = {1, 2, 3};
    lg_units_batch b = {3, id0, x0, y0, NULL, NULL, NULL, NULL, NULL};
    assert_int_equal(lg_units_update(ctx, reg, &b), LG_OK);

    const int64_t ids[] = {1, 4, 2};
    double x[3] = {10, 11, 12}, y[3] = {10, 11, 12};
    int32_t st[3] = {0, 0, 0}, kd[3] = {0, 0, 0};
    struct {
        int what;
        lg_error err;
        const char *needle;
    } cases[] = {
        {0, LG_ERR_ARG, "not finite"},
        {1, LG_ERR_ARG, "not finite"},
        {2, LG_ERR_ARG, "not finite"},
        {3, LG_ERR_ARG, "status 32"},
        {4, LG_ERR_ARG, "kind 16"},
        {5, LG_ERR_ARG, "negative"},
        {6, LG_ERR_NOT_FOUND, "unknown unit 4"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int64_t bid[3] = {1, 4, 2};
        double bx[3], by[3];
        memcpy(bx, x, sizeof bx);
        memcpy(by, y, sizeof by);
        int32_t bs[3], bk[3];
        memcpy(bs, st, sizeof bs);
        memcpy(bk, kd, sizeof bk);
        lg_units_batch bb = {3, bid, bx, by, NULL, bs, NULL, bk, NULL};
        switch (cases[c].what) {
        case 0: bx[2] = NAN; break;
        case 1: by[2] = INFINITY; break;
        case 2: bx[2] = -INFINITY; break;
        case 3: bs[2] = 32; break;
        case 4: bk[2] = 16; break;
        case 5: bid[2] = -5; break;
        case 6:
            bb.x = bb.y = NULL; /* status-only update of an unknown unit */
            break;
        }
        lg_units_view v0;
        lg_units_view_acquire(reg, &v0);
        uint64_t ver = lg_units_view_version(&v0);
        lg_units_view_release(&v0);
        assert_int_equal(lg_units_update(ctx, reg, &bb), cases[c].err);
        const char *msg = lg_context_message(ctx);
        if (!strstr(msg, cases[c].needle) || (cases[c].what < 6 && !strstr(msg, "record 2")))
            fprintf(stderr, "message: %s\n", msg);
        assert_non_null(strstr(msg, cases[c].needle));
        if (cases[c].what != 6)
            assert_non_null(strstr(msg, "record 2"));
        else
            assert_non_null(strstr(msg, "record 1"));
        /* unchanged: same version, same three units at the same places */
        lg_units_view v;
        lg_units_view_acquire(reg, &v);
        assert_int_equal(lg_units_view_version(&v), ver);
        assert_int_equal(lg_units_view_count(&v), 3);
        for (int i = 0; i < 3; i++) {
            int64_t k = lg_units_view_find(&v, id0[i]);
            assert_true(k >= 0);
            double px, py;
            lg_units_view_get(&v, (size_t)k, 1, NULL, &px, &py, NULL, NULL, NULL, NULL, NULL);
            assert_true(px == x0[i] && py == y0[i]);
        }
        lg_units_view_release(&v);
    }
    (void)ids;
    /* insert-on-update: an unknown id with a position is a new unit */
    const int64_t nid[] = {4};
    const double nx[] = {5}, ny[] = {5};
    lg_units_batch nb = {1, nid, nx, ny, NULL, NULL, NULL, NULL, NULL};
    assert_int_equal(lg_units_update(ctx, reg, &nb), LG_OK);
    assert_int_equal(lg_units_count(reg), 4);
    /* remove: unknown id refused, registry unchanged */
    const int64_t rid[] = {1, 99};
    assert_int_equal(lg_units_remove(ctx, reg, rid, 2), LG_ERR_NOT_FOUND);
    assert_non_null(strstr(lg_context_message(ctx), "unknown unit 99"));
    assert_int_equal(lg_units_count(reg), 4);
    assert_int_equal(lg_units_remove(ctx, reg, rid, 1), LG_OK);
    assert_int_equal(lg_units_count(reg), 3);
    /* options */
    lg_units_options o = {.detour = -1};
    lg_units *bad = NULL;
    assert_int_equal(lg_units_new(ctx, &o, &bad), LG_ERR_ARG);
    assert_null(bad);
    assert_non_null(strstr(lg_context_message(ctx), "detour"));
    lg_units_free(reg);
    lg_context_free(ctx);
}

/* Updating one by one gives exactly the registry a single batch gives. */
static void test_batch_equals_single(void **state)
{
    (void)state;
    uint64_t rs = 7;
    enum { N = 400 };
    int64_t ids[N];
    double x[N], y[N];
    int32_t st[N], kd[N];
    uint32_t cp[N];
    int64_t sn[N];
    lg_units_batch b;
    lg_units *one = new_reg(NULL), *many = new_reg(NULL);
    model m = {0};
    for (int round = 0; round < 3; round++) {
        random_batch(&rs, NULL, N, 300, true, ids, x, y, st, cp, kd, sn, &b);
        assert_int_equal(lg_units_update(NULL, many, &b), LG_OK);
        for (size_t i = 0; i < N; i++) {
            lg_units_batch s = {1, ids + i, x + i, y + i, NULL, st + i, cp + i, kd + i, sn + i};
            assert_int_equal(lg_units_update(NULL, one, &s), LG_OK);
        }
        m_apply(&m, &b);
    }
    check_contents(one, &m);
    check_contents(many, &m);
    for (int q = 0; q < 200; q++) {
        double qx = tu_uniform(&rs, 0, 20000), qy = tu_uniform(&rs, 0, 20000);
        lg_unit_filter f = make_filter((unsigned)q & 63, &rs);
        int64_t a[10], c[10];
        double da[10], dc[10];
        lg_unit_results ra = {a, da, NULL, NULL, NULL}, rc = {c, dc, NULL, NULL, NULL};
        assert_int_equal(lg_units_nearest(one, &qx, &qy, 1, 10, &f, &ra), LG_OK);
        assert_int_equal(lg_units_nearest(many, &qx, &qy, 1, 10, &f, &rc), LG_OK);
        assert_memory_equal(a, c, sizeof a);
        assert_memory_equal(da, dc, sizeof da);
        check_query(one, &m, qx, qy, 10, &f);
    }
    /* and a batch of many incidents equals one call per incident */
    double bx[50], by[50];
    int64_t bids[500];
    size_t bcnt[50];
    for (int i = 0; i < 50; i++) {
        bx[i] = tu_uniform(&rs, 0, 20000);
        by[i] = tu_uniform(&rs, 0, 20000);
    }
    by[7] = NAN;
    lg_unit_results rb = {bids, NULL, NULL, NULL, bcnt};
    assert_int_equal(lg_units_nearest(many, bx, by, 50, 10, NULL, &rb), LG_OK);
    for (int i = 0; i < 50; i++) {
        int64_t s1[10];
        size_t c1;
        lg_unit_results r1 = {s1, NULL, NULL, NULL, &c1};
        assert_int_equal(lg_units_nearest(many, bx + i, by + i, 1, 10, NULL, &r1), LG_OK);
        assert_int_equal(c1, bcnt[i]);
        assert_memory_equal(s1, bids + 10 * i, sizeof s1);
    }
    assert_int_equal(bcnt[7], 0);
    lg_units_free(one);
    lg_units_free(many);
    free(m.u);
}

/* ETA and cross-station / cross-county flags on a synthetic county. */
static void test_county_flags(void **state)
{
    (void)state;
    lg_context *ctx = NULL;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    lg_synth_options so = {.seed = 11, .cells = 300, .edge_vertices = 4};
    lg_layer *layer = NULL;
    assert_int_equal(lg_synth_county(ctx, &so, &layer), LG_OK);
    size_t nc = lg_layer_count(layer), sf;
    assert_int_equal(lg_layer_field_index(layer, "station", &sf), LG_OK);
    int64_t *cs = malloc(nc * sizeof *cs);
    for (size_t i = 0; i < nc; i++)
        assert_int_equal(lg_layer_get_int(layer, sf, i, &cs[i]), LG_OK);
    lg_units_options o = {.cells = layer, .cell_station = cs, .detour = 1.5};
    o.speed_mps[LG_UNIT_FOOT] = 2.0;
    lg_units *reg = NULL;
    assert_int_equal(lg_units_new(ctx, &o, &reg), LG_OK);
    double box[4];
    assert_true(lg_layer_bounds(layer, box));
    uint64_t rs = 5;
    enum { N = 500 };
    int64_t ids[N], sn[N];
    double x[N], y[N];
    int32_t kd[N];
    model m = {0};
    double w = box[2] - box[0], h = box[3] - box[1];
    for (size_t i = 0; i < N; i++) {
        ids[i] = (int64_t)i * 3 + 1;
        /* 20% margin around the county: some units are in the next county */
        x[i] = tu_uniform(&rs, box[0] - 0.2 * w, box[2] + 0.2 * w);
        y[i] = tu_uniform(&rs, box[1] - 0.2 * h, box[3] + 0.2 * h);
        kd[i] = (int32_t)(tu_rand(&rs) % 4);
        /* the home station is usually the one whose ground the unit stands on */
        int64_t row = lg_layer_locate(layer, x[i], y[i]);
        sn[i] = row >= 0 && tu_rand(&rs) % 4 ? cs[row] : (int64_t)(tu_rand(&rs) % 40);
    }
    lg_units_batch b = {N, ids, x, y, NULL, NULL, NULL, kd, sn};
    assert_int_equal(lg_units_update(ctx, reg, &b), LG_OK);
    m_apply(&m, &b);
    const double speed[4] = {11.1, 8.3, 2.0, 4.2};
    size_t n_cross_st = 0, n_cross_co = 0;
    for (int q = 0; q < 300; q++) {
        double qx = tu_uniform(&rs, box[0] - 0.1 * w, box[2] + 0.1 * w);
        double qy = tu_uniform(&rs, box[1] - 0.1 * h, box[3] + 0.1 * h);
        int64_t rids[5];
        double d[5], eta[5];
        uint32_t fl[5];
        size_t cnt;
        lg_unit_results r = {rids, d, eta, fl, &cnt};
        assert_int_equal(lg_units_nearest(reg, &qx, &qy, 1, 5, NULL, &r), LG_OK);
        assert_int_equal(cnt, 5);
        int64_t qrow = lg_layer_locate(layer, qx, qy);
        int64_t qst = qrow >= 0 ? cs[qrow] : LG_NONE;
        assert_int_equal(lg_units_station_at(reg, qx, qy), qst);
        for (int j = 0; j < 5; j++) {
            munit *u = m_find(&m, rids[j]);
            assert_non_null(u);
            assert_true(fabs(eta[j] - d[j] * 1.5 / speed[u->kind]) <= 1e-9 * eta[j]);
            uint32_t want = 0;
            if (u->station != qst)
                want |= LG_UNIT_CROSS_STATION;
            if (qrow < 0 || lg_layer_locate(layer, u->x, u->y) < 0)
                want |= LG_UNIT_CROSS_COUNTY;
            assert_int_equal(fl[j], want);
            n_cross_st += (fl[j] & LG_UNIT_CROSS_STATION) != 0;
            n_cross_co += (fl[j] & LG_UNIT_CROSS_COUNTY) != 0;
        }
    }
    /* the data exercise both flags both ways */
    assert_true(n_cross_st > 50 && n_cross_st < 1450);
    assert_true(n_cross_co > 50 && n_cross_co < 1450);
    lg_units_free(reg);
    free(cs);
    free(m.u);
    lg_layer_free(layer);
    lg_context_free(ctx);
}

/* Run cards against GEOS centroids and a brute-force sort of the stations. */
static void test_runcards(void **state)
{
    (void)state;
    lg_context *ctx = NULL;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    lg_synth_options so = {.seed = 3, .cells = 400, .edge_vertices = 6};
    lg_layer *layer = NULL;
    assert_int_equal(lg_synth_county(ctx, &so, &layer), LG_OK);
    double sx[200], sy[200];
    size_t ns = 0;
    assert_int_equal(lg_synth_stations(ctx, &so, sx, sy, 200, &ns), LG_OK);
    assert_true(ns >= 3);
    /* station ids that do not ascend with the index, and two stations at one point so
     * that ties must be broken by id */
    int64_t sid[201];
    for (size_t i = 0; i < ns; i++)
        sid[i] = 1000 - 7 * (int64_t)i;
    sx[ns] = sx[0];
    sy[ns] = sy[0];
    sid[ns] = 2000;
    ns++;
    lg_runcard_options ro = {.k = 4, .speed_mps = 10, .detour = 1.2};
    lg_runcard *rc = NULL;
    assert_int_equal(lg_runcard_build(ctx, layer, sx, sy, sid, ns, &ro, &rc), LG_OK);
    assert_int_equal(lg_runcard_k(rc), 4);
    GEOSContextHandle_t g = lg__geos(ctx);
    size_t nc = lg_layer_count(layer);
    hit *h = malloc(ns * sizeof *h);
    for (size_t c = 0; c < nc; c++) {
        double px, py;
        assert_int_equal(lg_runcard_demand_point(rc, c, &px, &py), LG_OK);
        GEOSGeometry *geom = lg__cell_to_geos(g, layer, c);
        GEOSGeometry *cen = GEOSGetCentroid_r(g, geom);
        double gx, gy;
        GEOSGeomGetX_r(g, cen, &gx);
        GEOSGeomGetY_r(g, cen, &gy);
        assert_true(fabs(px - gx) < 1e-6 && fabs(py - gy) < 1e-6);
        GEOSGeom_destroy_r(g, cen);
        GEOSGeom_destroy_r(g, geom);
        for (size_t s = 0; s < ns; s++) {
            double dx = sx[s] - px, dy = sy[s] - py;
            h[s] = (hit){sqrt(dx * dx + dy * dy), sid[s], s};
        }
        qsort(h, ns, sizeof *h, hit_cmp);
        int64_t st[4];
        double eta[4];
        size_t n;
        assert_int_equal(lg_runcard_cell(rc, c, st, eta, &n), LG_OK);
        assert_int_equal(n, 4);
        for (size_t j = 0; j < 4; j++) {
            assert_int_equal(st[j], h[j].id);
            assert_true(fabs(eta[j] - h[j].d * 1.2 / 10) <= 1e-9 * (1 + eta[j]));
        }
        /* per point: the card of the cell containing the demand point's cell */
        int64_t st2[4], row;
        size_t n2;
        double bx[4];
        lg_layer_cell_bounds(layer, c, bx);
        assert_int_equal(lg_runcard_at(rc, px, py, st2, NULL, &n2, &row), LG_OK);
        if (row == (int64_t)c) {
            assert_int_equal(n2, 4);
            assert_memory_equal(st2, st, sizeof st);
        }
    }
    /* the duplicate station point: ties go to the smaller id */
    size_t home = 0;
    for (size_t c = 0; c < nc; c++) {
        int64_t st[4];
        size_t n;
        lg_runcard_cell(rc, c, st, NULL, &n);
        for (size_t j = 0; j < n; j++)
            if (st[j] == 2000 && (j == 0 || st[j - 1] != sid[0]))
                fail_msg("station 2000 ahead of its twin in cell %zu", c);
        home += st[0] == sid[0];
    }
    (void)home;
    int64_t row;
    size_t n;
    int64_t st[4];
    assert_int_equal(lg_runcard_at(rc, -1e9, -1e9, st, NULL, &n, &row), LG_OK);
    assert_int_equal(row, LG_NONE);
    assert_int_equal(n, 0);
    assert_int_equal(lg_runcard_cell(rc, nc, st, NULL, &n), LG_ERR_ARG);
    lg_runcard_free(rc);
    /* bad station */
    sx[1] = NAN;
    rc = NULL;
    assert_int_equal(lg_runcard_build(ctx, layer, sx, sy, sid, ns, &ro, &rc), LG_ERR_ARG);
    assert_null(rc);
    assert_non_null(strstr(lg_context_message(ctx), "station 1"));
    free(h);
    lg_layer_free(layer);
    lg_context_free(ctx);
}

/* An allocator that fails after a countdown: updates either apply or change nothing. */
typedef struct chaos {
    long left;
} chaos;
static void *ch_malloc(size_t n, void *ud)
{
    chaos *c = ud;
    return c->left-- > 0 ? malloc(n) : NULL;
}
static void *ch_realloc(void *p, size_t n, void *ud)
{
    chaos *c = ud;
    return c->left-- > 0 ? realloc(p, n) : NULL;
}
static void ch_free(void *p, void *ud)
{
    (void)ud;
    free(p);
}

static void test_nomem(void **state)
{
    (void)state;
    uint64_t rs = 99;
    enum { N = 300 };
    int64_t ids[N], sn[N];
    double x[N], y[N];
    int32_t st[N], kd[N];
    uint32_t cp[N];
    lg_units_batch b;
    for (long budget = 0; budget < 400; budget += 3) {
        chaos c = {1 << 30};
        lg_allocator al = {ch_malloc, ch_realloc, ch_free, &c};
        lg_context *ctx = NULL;
        assert_int_equal(lg_context_new(&al, &ctx), LG_OK);
        lg_units *reg = NULL;
        assert_int_equal(lg_units_new(ctx, NULL, &reg), LG_OK);
        model m = {0};
        uint64_t r2 = rs;
        random_batch(&r2, NULL, 50, 100000, true, ids, x, y, st, cp, kd, sn, &b);
        assert_int_equal(lg_units_update(ctx, reg, &b), LG_OK);
        m_apply(&m, &b);
        c.left = budget;
        for (int round = 0; round < 6; round++) {
            random_batch(&r2, NULL, N, 100000, true, ids, x, y, st, cp, kd, sn, &b);
            lg_error e = lg_units_update(ctx, reg, &b);
            assert_true(e == LG_OK || e == LG_ERR_NOMEM);
            if (e == LG_OK)
                m_apply(&m, &b);
            c.left = budget; /* let the next call resync if it can */
        }
        c.left = 1 << 30;
        /* one more good call resyncs a copy left behind; then both copies agree */
        random_batch(&r2, NULL, 10, 100000, true, ids, x, y, st, cp, kd, sn, &b);
        assert_int_equal(lg_units_update(ctx, reg, &b), LG_OK);
        m_apply(&m, &b);
        check_contents(reg, &m);
        for (int q = 0; q < 5; q++)
            check_query(reg, &m, tu_uniform(&r2, 0, 20000), tu_uniform(&r2, 0, 20000), 7,
                        &(lg_unit_filter){0});
        /* and once more, to read the other copy */
        random_batch(&r2, NULL, 10, 100000, true, ids, x, y, st, cp, kd, sn, &b);
        assert_int_equal(lg_units_update(ctx, reg, &b), LG_OK);
        m_apply(&m, &b);
        check_contents(reg, &m);
        check_query(reg, &m, 5000, 5000, 9, &(lg_unit_filter){0});
        lg_units_free(reg);
        lg_context_free(ctx);
        free(m.u);
    }
}

/* A view is a snapshot: updates are visible at once to new queries and views, and a
 * view held across them keeps the state it was taken in. */
static void test_view_snapshot(void **state)
{
    (void)state;
    lg_units *reg = new_reg(NULL);
    int64_t id = 1;
    double x = 0, y = 0;
    lg_units_batch b = {1, &id, &x, &y, NULL, NULL, NULL, NULL, NULL};
    assert_int_equal(lg_units_update(NULL, reg, &b), LG_OK);
    lg_units_view v;
    lg_units_view_acquire(reg, &v);
    uint64_t v0 = lg_units_view_version(&v);
    assert_int_equal(v0, 1);
    x = 10;
    assert_int_equal(lg_units_update(NULL, reg, &b), LG_OK);
    int64_t ids2[3] = {2, 3, 4};
    double xs[3] = {20, 30, 40}, ys[3] = {0, 0, 0};
    lg_units_batch b2 = {3, ids2, xs, ys, NULL, NULL, NULL, NULL, NULL};
    assert_int_equal(lg_units_update(NULL, reg, &b2), LG_OK);
    int32_t busy = LG_STATUS_BUSY;
    lg_units_batch b3 = {1, ids2, NULL, NULL, NULL, &busy, NULL, NULL, NULL};
    assert_int_equal(lg_units_update(NULL, reg, &b3), LG_OK);
    /* visible at once, no flush needed */
    assert_int_equal(lg_units_count(reg), 4);
    lg_units_view w;
    lg_units_view_acquire(reg, &w);
    assert_int_equal(lg_units_view_version(&w), v0 + 3);
    assert_int_equal(lg_units_view_count(&w), 4);
    lg_units_view_release(&w);
    double qx = 0, qy = 0;
    int64_t got[4];
    double gd[4];
    size_t cnt = 0;
    lg_unit_results r = {got, gd, NULL, NULL, &cnt};
    assert_int_equal(lg_units_nearest(reg, &qx, &qy, 1, 4, NULL, &r), LG_OK);
    assert_int_equal(cnt, 4);
    assert_int_equal(got[0], 1);
    assert_true(gd[0] == 10);
    /* the held view is unchanged, and queries on it see its state */
    assert_int_equal(lg_units_view_version(&v), v0);
    assert_int_equal(lg_units_view_count(&v), 1);
    double px;
    lg_units_view_get(&v, 0, 1, NULL, &px, NULL, NULL, NULL, NULL, NULL, NULL);
    assert_true(px == 0);
    assert_int_equal(lg_units_view_find(&v, 2), LG_NONE);
    assert_int_equal(lg_units_view_nearest(&v, &qx, &qy, 1, 4, NULL, &r), LG_OK);
    assert_int_equal(cnt, 1);
    assert_int_equal(got[0], 1);
    assert_true(gd[0] == 0);
    lg_units_view_release(&v);
    /* flush has nothing to publish */
    assert_int_equal(lg_units_flush(NULL, reg), LG_OK);
    model m = {0};
    lg_units_batch b1 = b;
    m_apply(&m, &b1);
    m_apply(&m, &b2);
    m_apply(&m, &b3);
    check_contents(reg, &m);
    x = 11;
    assert_int_equal(lg_units_update(NULL, reg, &b), LG_OK);
    m_apply(&m, &b);
    check_contents(reg, &m);
    check_query(reg, &m, 25, 0, 4, &(lg_unit_filter){0});
    /* removal is visible at once too */
    assert_int_equal(lg_units_remove(NULL, reg, &id, 1), LG_OK);
    assert_int_equal(lg_units_count(reg), 3);
    assert_int_equal(lg_units_nearest(reg, &qx, &qy, 1, 4, NULL, &r), LG_OK);
    assert_int_equal(cnt, 3);
    assert_int_equal(got[0], 2);
    lg_units_free(reg);
    free(m.u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_vs_brute),
        cmocka_unit_test(test_ties),
        cmocka_unit_test(test_empty_and_padding),
        cmocka_unit_test(test_bad_updates),
        cmocka_unit_test(test_batch_equals_single),
        cmocka_unit_test(test_county_flags),
        cmocka_unit_test(test_runcards),
        cmocka_unit_test(test_nomem),
        cmocka_unit_test(test_view_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
