/*
 * R-tree tests. Oracle: brute force over a plain array of (box, id) entries kept in
 * step with the tree. Every check compares exact result sets (search, search_point)
 * or exact (id, distance) sequences (nearest), and runs the tree's invariant checker.
 */
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Internal invariant checker of rtree.c: 0 when every invariant holds. */
extern int lg__rtree_check(const lg_rtree *tree);

/* -------------------------------------------------------------- oracle */

typedef struct ent {
    double b[4];
    int64_t id;
} ent;

typedef struct oracle {
    ent *e;
    size_t n, cap;
} oracle;

static void or_add(oracle *o, const double b[4], int64_t id)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 64;
        o->e = realloc(o->e, o->cap * sizeof *o->e);
        assert_non_null(o->e);
    }
    memcpy(o->e[o->n].b, b, sizeof o->e[o->n].b);
    o->e[o->n].id = id;
    o->n++;
}

static bool same_box(const double a[4], const double b[4])
{
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

static void or_del_at(oracle *o, size_t i)
{
    o->e[i] = o->e[--o->n];
}

static bool intersects(const double a[4], const double b[4])
{
    return a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3];
}

/* Euclidean distance from (x, y) to a closed box (the definition the tree uses). */
static double bf_dist(const double b[4], double x, double y)
{
    double dx = x < b[0] ? b[0] - x : (x > b[2] ? x - b[2] : 0);
    double dy = y < b[1] ? b[1] - y : (y > b[3] ? y - b[3] : 0);
    return sqrt(dx * dx + dy * dy);
}

static int cmp_i64(const void *pa, const void *pb)
{
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    return (a > b) - (a < b);
}

typedef struct did {
    double d;
    int64_t id;
} did;

static int cmp_did(const void *pa, const void *pb)
{
    const did *a = pa, *b = pb;
    if (a->d != b->d)
        return a->d < b->d ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

/* -------------------------------------------------------------- search */

typedef struct hits {
    int64_t *ids;
    size_t n, cap;
    double q[4];
    bool point;
    int bad; /* reported boxes that do not match the query */
    size_t stop_after;
} hits;

static bool collect(int64_t id, const double box[4], void *udata)
{
    hits *h = udata;
    if (!intersects(box, h->q))
        h->bad++;
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 64;
        h->ids = realloc(h->ids, h->cap * sizeof *h->ids);
        assert_non_null(h->ids);
    }
    h->ids[h->n++] = id;
    return h->stop_after == 0 || h->n < h->stop_after;
}

static void check_search(const lg_rtree *t, const oracle *o, const double q[4], bool point)
{
    hits h = {0};
    memcpy(h.q, q, sizeof h.q);
    if (point)
        lg_rtree_search_point(t, q[0], q[1], collect, &h);
    else
        lg_rtree_search(t, q, collect, &h);
    assert_int_equal(h.bad, 0);
    int64_t *want = malloc((o->n + 1) * sizeof *want);
    size_t nw = 0;
    for (size_t i = 0; i < o->n; i++)
        if (intersects(o->e[i].b, q))
            want[nw++] = o->e[i].id;
    qsort(want, nw, sizeof *want, cmp_i64);
    if (h.n)
        qsort(h.ids, h.n, sizeof *h.ids, cmp_i64);
    assert_int_equal(h.n, nw);
    for (size_t i = 0; i < nw; i++)
        assert_int_equal(h.ids[i], want[i]);
    free(want);
    free(h.ids);
}

/* ------------------------------------------------------------- nearest */

/* Per-test id -> box table for the exact-distance callback (distance to the centre). */
typedef struct cb_data {
    const double *box_of; /* 4 per id */
    size_t nid;
    long filter_calls, dist_calls;
    int mod; /* filter: id % mod == 0 (0: accept all) */
} cb_data;

static bool filter_mod(int64_t id, void *udata)
{
    cb_data *c = udata;
    c->filter_calls++;
    return c->mod == 0 || id % c->mod == 0;
}

static double centre_dist(const double *b, double x, double y)
{
    double cx = b[0] * 0.5 + b[2] * 0.5, cy = b[1] * 0.5 + b[3] * 0.5;
    return sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy));
}

static double dist_centre(int64_t id, double x, double y, void *udata)
{
    cb_data *c = udata;
    c->dist_calls++;
    assert_true(id >= 0 && (size_t)id < c->nid);
    return centre_dist(c->box_of + 4 * id, x, y);
}

/* Brute force k-nearest under the same options; returns how many. */
static size_t bf_nearest(const oracle *o, double x, double y, const lg_nearest_options *opt,
                         did *out)
{
    size_t k = opt->k ? opt->k : 1;
    double maxd = opt->max_dist > 0 ? opt->max_dist : INFINITY;
    did *all = malloc((o->n + 1) * sizeof *all);
    size_t na = 0;
    cb_data *c = opt->udata;
    for (size_t i = 0; i < o->n; i++) {
        const ent *e = &o->e[i];
        if (c && c->mod && e->id % c->mod != 0)
            continue;
        double d = opt->distance ? centre_dist(c->box_of + 4 * e->id, x, y) : bf_dist(e->b, x, y);
        if (d > maxd)
            continue;
        all[na].d = d;
        all[na].id = e->id;
        na++;
    }
    qsort(all, na, sizeof *all, cmp_did);
    size_t m = na < k ? na : k;
    memcpy(out, all, m * sizeof *out);
    free(all);
    return m;
}

static void check_nearest(const lg_rtree *t, const oracle *o, double x, double y,
                          const lg_nearest_options *opt)
{
    size_t k = opt->k ? opt->k : 1;
    int64_t *ids = malloc(k * sizeof *ids);
    double *dist = malloc(k * sizeof *dist);
    did *want = malloc(k * sizeof *want);
    size_t nf = 12345;
    cb_data *c = opt->udata;
    long fc0 = c ? c->filter_calls : 0;
    assert_int_equal(lg_rtree_nearest(t, x, y, opt, ids, dist, &nf), LG_OK);
    size_t nw = bf_nearest(o, x, y, opt, want);
    assert_int_equal(nf, nw);
    for (size_t i = 0; i < nw; i++) {
        if (ids[i] != want[i].id || dist[i] != want[i].d)
            fail_msg("nearest (%g, %g) k=%zu rank %zu: got id %lld d %.17g, want id %lld d %.17g",
                     x, y, k, i, (long long)ids[i], dist[i], (long long)want[i].id, want[i].d);
    }
    /* The filter is only asked about items that could enter the result. */
    if (c && opt->filter)
        assert_true(c->filter_calls - fc0 <= (long)o->n);
    /* dist may be NULL: same ids. */
    int64_t *ids2 = malloc(k * sizeof *ids2);
    size_t nf2 = 0;
    assert_int_equal(lg_rtree_nearest(t, x, y, opt, ids2, NULL, &nf2), LG_OK);
    assert_int_equal(nf2, nf);
    assert_memory_equal(ids2, ids, nf * sizeof *ids);
    free(ids2);
    free(ids);
    free(dist);
    free(want);
}

/* ------------------------------------------------------ random driver */

static void random_box(uint64_t *s, int kind, double b[4])
{
    double x = tu_uniform(s, 0, 1000), y = tu_uniform(s, 0, 1000);
    if (tu_rand(s) % 8 == 0) { /* on a coarse grid: exact ties and touching boxes */
        x = floor(x / 10) * 10;
        y = floor(y / 10) * 10;
    }
    double w = 0, h = 0;
    if (kind == 0 || (kind == 2 && tu_rand(s) % 2)) {
        w = tu_uniform(s, 0, 20);
        h = tu_uniform(s, 0, 20);
        if (tu_rand(s) % 50 == 0) {
            w *= 20;
            h *= 20;
        }
        if (tu_rand(s) % 8 == 0)
            w = h = 10; /* grid-aligned, touching neighbours */
    }
    b[0] = x;
    b[1] = y;
    b[2] = x + w;
    b[3] = y + h;
}

static void check_all(const lg_rtree *t, const oracle *o, uint64_t *s, int queries, cb_data *cb)
{
    assert_int_equal(lg__rtree_check(t), 0);
    assert_int_equal(lg_rtree_count(t), o->n);
    double b[4];
    bool has = lg_rtree_bounds(t, b);
    assert_int_equal(has, o->n > 0);
    if (has) {
        double w[4] = {INFINITY, INFINITY, -INFINITY, -INFINITY};
        for (size_t i = 0; i < o->n; i++) {
            w[0] = fmin(w[0], o->e[i].b[0]);
            w[1] = fmin(w[1], o->e[i].b[1]);
            w[2] = fmax(w[2], o->e[i].b[2]);
            w[3] = fmax(w[3], o->e[i].b[3]);
        }
        assert_true(same_box(b, w));
    }
    static const size_t ks[] = {1, 5, 17, 0};
    for (int qi = 0; qi < queries; qi++) {
        double q[4];
        random_box(s, 0, q);
        double grow = tu_uniform(s, 0, 100);
        q[2] += grow;
        q[3] += grow;
        check_search(t, o, q, false);
        /* Points: random, or an entry's corner (touching counts). */
        double p[4];
        if (o->n && qi % 2) {
            const ent *e = &o->e[tu_rand(s) % o->n];
            p[0] = e->b[qi % 4 == 1 ? 0 : 2];
            p[1] = e->b[qi % 4 == 1 ? 3 : 1];
        } else {
            p[0] = tu_uniform(s, -10, 1010);
            p[1] = tu_uniform(s, -10, 1010);
        }
        p[2] = p[0];
        p[3] = p[1];
        check_search(t, o, p, true);

        lg_nearest_options opt = {0};
        opt.k = ks[qi % 4];
        if (qi % 7 == 3)
            opt.k = o->n + 3; /* more than there are */
        cb->mod = 0;
        opt.udata = cb;
        if (qi % 3 == 1) {
            opt.filter = filter_mod;
            cb->mod = 3;
        }
        if (qi % 5 == 2)
            opt.max_dist = tu_uniform(s, 0, 60);
        if (qi % 5 == 4)
            opt.max_dist = NAN; /* no limit */
        if (qi % 4 == 2 && cb->box_of)
            opt.distance = dist_centre;
        double x = tu_uniform(s, -50, 1050), y = tu_uniform(s, -50, 1050);
        check_nearest(t, o, x, y, &opt);
    }
}

/* Entries get unique ids; box_of[id] holds each one's current box for the callback. */
static void run_random(size_t n, uint64_t seed, int kind, bool bulk)
{
    uint64_t s = seed * 7919 + (uint64_t)kind * 104729 + n;
    size_t maxid = n * 3 + 100;
    double *box_of = calloc(maxid * 4, sizeof *box_of);
    cb_data cb = {box_of, maxid, 0, 0, 0};
    oracle o = {0};
    lg_rtree *t = NULL;
    assert_int_equal(lg_rtree_new(NULL, &t), LG_OK);
    int64_t next = 0;
    double *boxes = malloc((n + 1) * 4 * sizeof *boxes);
    int64_t *ids = malloc((n + 1) * sizeof *ids);
    for (size_t i = 0; i < n; i++) {
        random_box(&s, kind, boxes + 4 * i);
        ids[i] = next++;
        memcpy(box_of + 4 * ids[i], boxes + 4 * i, 4 * sizeof(double));
        or_add(&o, boxes + 4 * i, ids[i]);
    }
    if (bulk) {
        /* ids NULL means 0..n-1, which is what we generated. */
        assert_int_equal(lg_rtree_bulk_load(t, boxes, (seed & 1) ? NULL : ids, n), LG_OK);
    } else {
        for (size_t i = 0; i < n; i++)
            assert_int_equal(lg_rtree_insert(t, boxes + 4 * i, ids[i]), LG_OK);
    }
    int queries = n >= 10000 ? 6 : 24;
    check_all(t, &o, &s, queries, &cb);

    size_t batch = n / 4 + 12;
    for (int round = 0; round < 5; round++) {
        for (size_t op = 0; op < batch; op++) {
            unsigned r = (unsigned)(tu_rand(&s) % 10);
            if ((r < 3 || o.n == 0) && (size_t)next < maxid) {
                double b[4];
                random_box(&s, kind, b);
                assert_int_equal(lg_rtree_insert(t, b, next), LG_OK);
                memcpy(box_of + 4 * next, b, sizeof b);
                or_add(&o, b, next++);
            } else if (r < 6 && o.n) {
                size_t i = tu_rand(&s) % o.n;
                assert_int_equal(lg_rtree_delete(t, o.e[i].b, o.e[i].id), LG_OK);
                or_del_at(&o, i);
            } else if (r < 9 && o.n) {
                size_t i = tu_rand(&s) % o.n;
                double nb[4];
                if (r < 8) { /* small move: mostly the in-place path */
                    double dx = tu_uniform(&s, -2, 2), dy = tu_uniform(&s, -2, 2);
                    nb[0] = o.e[i].b[0] + dx;
                    nb[1] = o.e[i].b[1] + dy;
                    nb[2] = o.e[i].b[2] + dx;
                    nb[3] = o.e[i].b[3] + dy;
                } else {
                    random_box(&s, kind, nb);
                }
                assert_int_equal(lg_rtree_update(t, o.e[i].b, nb, o.e[i].id), LG_OK);
                memcpy(o.e[i].b, nb, sizeof nb);
                memcpy(box_of + 4 * o.e[i].id, nb, sizeof nb);
            } else if (o.n) {
                /* Missing entries: wrong id, or a box that differs slightly. */
                size_t i = tu_rand(&s) % o.n;
                double b[4];
                memcpy(b, o.e[i].b, sizeof b);
                assert_int_equal(lg_rtree_delete(t, b, (int64_t)maxid + 7), LG_ERR_NOT_FOUND);
                b[2] = nextafter(b[2], INFINITY);
                assert_int_equal(lg_rtree_delete(t, b, o.e[i].id), LG_ERR_NOT_FOUND);
                assert_int_equal(lg_rtree_update(t, b, o.e[i].b, o.e[i].id), LG_ERR_NOT_FOUND);
            }
        }
        check_all(t, &o, &s, queries, &cb);
        if (n >= 10000 && round >= 1)
            break;
    }
    /* Delete everything, in random order. */
    if (n <= 1000) {
        while (o.n) {
            size_t i = tu_rand(&s) % o.n;
            assert_int_equal(lg_rtree_delete(t, o.e[i].b, o.e[i].id), LG_OK);
            or_del_at(&o, i);
            if (o.n % 97 == 0)
                check_all(t, &o, &s, 2, &cb);
        }
        check_all(t, &o, &s, 2, &cb);
        /* And the empty tree takes inserts again. */
        double b[4] = {1, 2, 3, 4};
        assert_int_equal(lg_rtree_insert(t, b, 5), LG_OK);
        or_add(&o, b, 5);
        check_all(t, &o, &s, 2, &cb);
    }
    lg_rtree_free(t);
    free(o.e);
    free(boxes);
    free(ids);
    free(box_of);
}

static void test_random_small(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 10, 1000};
    for (size_t si = 0; si < 4; si++)
        for (uint64_t seed = 1; seed <= 3; seed++)
            for (int kind = 0; kind < 3; kind++)
                for (int bulk = 0; bulk < 2; bulk++)
                    run_random(sizes[si], seed, kind, bulk);
}

static void test_random_large(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 2; seed++) {
        run_random(20000, seed, 1, true);
        run_random(20000, seed, 2, seed == 1);
    }
}

/* -------------------------------------------------------- fixed cases */

static void test_empty_and_args(void **state)
{
    (void)state;
    lg_rtree *t = (lg_rtree *)&t;
    assert_int_equal(lg_rtree_new(NULL, NULL), LG_ERR_ARG);
    lg_allocator bad = {0};
    assert_int_equal(lg_rtree_new(&bad, &t), LG_ERR_ARG);
    assert_null(t);
    lg_rtree_free(NULL);
    assert_int_equal(lg_rtree_new(NULL, &t), LG_OK);
    assert_int_equal(lg_rtree_count(t), 0);
    double b[4];
    assert_false(lg_rtree_bounds(t, b));
    assert_int_equal(lg__rtree_check(t), 0);
    int64_t ids[4];
    double d[4];
    size_t nf = 99;
    assert_int_equal(lg_rtree_nearest(t, 0, 0, NULL, ids, d, &nf), LG_OK);
    assert_int_equal(nf, 0);
    double unit[4] = {0, 0, 1, 1};
    assert_int_equal(lg_rtree_delete(t, unit, 1), LG_ERR_NOT_FOUND);
    assert_int_equal(lg_rtree_update(t, unit, unit, 1), LG_ERR_NOT_FOUND);

    /* Bad boxes: NaN, inverted, infinite; NULL pointers. */
    const double badb[][4] = {{NAN, 0, 1, 1},      {0, 0, NAN, 1},      {0, NAN, 1, 1},
                              {0, 0, 1, NAN},      {1, 0, 0, 1},        {0, 1, 1, 0},
                              {0, 0, INFINITY, 1}, {-INFINITY, 0, 1, 1}};
    for (size_t i = 0; i < sizeof badb / sizeof badb[0]; i++) {
        assert_int_equal(lg_rtree_insert(t, badb[i], 1), LG_ERR_ARG);
        assert_int_equal(lg_rtree_delete(t, badb[i], 1), LG_ERR_ARG);
    }
    assert_int_equal(lg_rtree_insert(NULL, unit, 1), LG_ERR_ARG);
    assert_int_equal(lg_rtree_insert(t, NULL, 1), LG_ERR_ARG);
    assert_int_equal(lg_rtree_count(t), 0);
    assert_int_equal(lg__rtree_check(t), 0);

    /* A bulk load with one bad box fails and leaves the old contents. */
    assert_int_equal(lg_rtree_insert(t, unit, 42), LG_OK);
    double many[4 * 40];
    for (int i = 0; i < 40; i++) {
        many[4 * i] = many[4 * i + 1] = i;
        many[4 * i + 2] = many[4 * i + 3] = i + 0.5;
    }
    many[4 * 33 + 2] = NAN;
    assert_int_equal(lg_rtree_bulk_load(t, many, NULL, 40), LG_ERR_ARG);
    many[4 * 33 + 2] = 30; /* inverted */
    assert_int_equal(lg_rtree_bulk_load(t, many, NULL, 40), LG_ERR_ARG);
    assert_int_equal(lg_rtree_bulk_load(t, NULL, NULL, 3), LG_ERR_ARG);
    assert_int_equal(lg_rtree_count(t), 1);
    oracle o = {0};
    or_add(&o, unit, 42);
    check_search(t, &o, unit, false);

    /* Update to a bad box: refused, entry unchanged. */
    assert_int_equal(lg_rtree_update(t, unit, badb[0], 42), LG_ERR_ARG);
    assert_int_equal(lg_rtree_update(t, badb[4], unit, 42), LG_ERR_ARG);
    check_search(t, &o, unit, false);

    /* Nearest argument checks. */
    assert_int_equal(lg_rtree_nearest(t, NAN, 0, NULL, ids, d, &nf), LG_ERR_ARG);
    assert_int_equal(lg_rtree_nearest(t, 0, INFINITY, NULL, ids, d, &nf), LG_ERR_ARG);
    assert_int_equal(lg_rtree_nearest(t, 0, 0, NULL, NULL, d, &nf), LG_ERR_ARG);
    assert_int_equal(lg_rtree_nearest(t, 0, 0, NULL, ids, d, NULL), LG_ERR_ARG);
    assert_int_equal(lg_rtree_nearest(NULL, 0, 0, NULL, ids, d, &nf), LG_ERR_ARG);
    assert_int_equal(lg_rtree_nearest(t, 3, 5, NULL, ids, d, &nf), LG_OK);
    assert_int_equal(nf, 1);
    assert_int_equal(ids[0], 42);
    assert_true(d[0] == sqrt(2.0 * 2.0 + 4.0 * 4.0));

    /* Searches with NULL arguments do nothing. */
    lg_rtree_search(t, unit, NULL, NULL);
    lg_rtree_search(t, NULL, collect, NULL);
    lg_rtree_search(NULL, unit, collect, NULL);
    lg_rtree_search_point(t, 0, 0, NULL, NULL);
    /* A NaN query matches nothing. */
    check_search(t, &o, (double[4]){NAN, NAN, NAN, NAN}, true);

    /* Bulk load of nothing empties the tree. */
    assert_int_equal(lg_rtree_bulk_load(t, NULL, NULL, 0), LG_OK);
    assert_int_equal(lg_rtree_count(t), 0);
    assert_false(lg_rtree_bounds(t, b));
    assert_int_equal(lg__rtree_check(t), 0);
    lg_rtree_free(t);
    free(o.e);
}

static void test_delete_missing(void **state)
{
    (void)state;
    lg_rtree *t = NULL;
    assert_int_equal(lg_rtree_new(NULL, &t), LG_OK);
    oracle o = {0};
    uint64_t s = 99;
    for (int64_t i = 0; i < 500; i++) {
        double b[4];
        random_box(&s, 2, b);
        assert_int_equal(lg_rtree_insert(t, b, i), LG_OK);
        or_add(&o, b, i);
    }
    double all[4] = {-1e9, -1e9, 1e9, 1e9};
    for (int rep = 0; rep < 50; rep++) {
        const ent *e = &o.e[tu_rand(&s) % o.n];
        double b[4];
        memcpy(b, e->b, sizeof b);
        assert_int_equal(lg_rtree_delete(t, b, e->id + 1000), LG_ERR_NOT_FOUND);
        b[rep % 4] += (rep % 4 < 2) ? -1e-9 : 1e-9;
        assert_int_equal(lg_rtree_delete(t, b, e->id), LG_ERR_NOT_FOUND);
        double far[4] = {5000, 5000, 5001, 5001};
        assert_int_equal(lg_rtree_delete(t, far, e->id), LG_ERR_NOT_FOUND);
        assert_int_equal(lg_rtree_update(t, far, e->b, e->id), LG_ERR_NOT_FOUND);
    }
    assert_int_equal(lg_rtree_count(t), 500);
    assert_int_equal(lg__rtree_check(t), 0);
    check_search(t, &o, all, false);
    /* Deleting twice: the second time it is gone. */
    double b0[4];
    memcpy(b0, o.e[0].b, sizeof b0);
    int64_t id0 = o.e[0].id;
    assert_int_equal(lg_rtree_delete(t, b0, id0), LG_OK);
    or_del_at(&o, 0);
    assert_int_equal(lg_rtree_delete(t, b0, id0), LG_ERR_NOT_FOUND);
    assert_int_equal(lg__rtree_check(t), 0);
    check_search(t, &o, all, false);
    lg_rtree_free(t);
    free(o.e);
}

/* Same id used for several boxes and the same (box, id) several times. */
static void test_duplicates(void **state)
{
    (void)state;
    lg_rtree *t = NULL;
    assert_int_equal(lg_rtree_new(NULL, &t), LG_OK);
    oracle o = {0};
    uint64_t s = 5;
    for (int i = 0; i < 300; i++) {
        double b[4];
        random_box(&s, 2, b);
        int copies = 1 + (int)(tu_rand(&s) % 3);
        for (int c = 0; c < copies; c++) {
            int64_t id = (int64_t)(tu_rand(&s) % 50);
            if (c == 2)
                id = o.e[o.n - 1].id; /* exact duplicate of the previous entry */
            assert_int_equal(lg_rtree_insert(t, b, id), LG_OK);
            or_add(&o, b, id);
        }
    }
    cb_data cb = {0};
    check_all(t, &o, &s, 0, &cb);
    for (int q = 0; q < 30; q++) {
        lg_nearest_options opt = {.k = (size_t)(1 + q), .udata = &cb};
        if (q % 2) {
            opt.filter = filter_mod;
            cb.mod = 4;
        } else {
            cb.mod = 0;
        }
        check_nearest(t, &o, tu_uniform(&s, 0, 1000), tu_uniform(&s, 0, 1000), &opt);
    }
    /* Delete half, one copy at a time. */
    for (int i = 0; i < 300; i++) {
        size_t j = tu_rand(&s) % o.n;
        assert_int_equal(lg_rtree_delete(t, o.e[j].b, o.e[j].id), LG_OK);
        or_del_at(&o, j);
    }
    assert_int_equal(lg__rtree_check(t), 0);
    double all[4] = {-1, -1, 2000, 2000};
    check_search(t, &o, all, false);
    lg_rtree_free(t);
    free(o.e);
}

/* Many items at identical distances: results by distance, then ascending id. */
static void test_nearest_ties(void **state)
{
    (void)state;
    for (int variant = 0; variant < 3; variant++) {
        lg_rtree *t = NULL;
        assert_int_equal(lg_rtree_new(NULL, &t), LG_OK);
        oracle o = {0};
        /* Points on an integer grid, each 3 times with scattered ids. */
        double *boxes = NULL;
        int64_t *ids = NULL;
        size_t n = 0;
        uint64_t s = 11 + (uint64_t)variant;
        for (int rep = 0; rep < 3; rep++)
            for (int i = -6; i <= 6; i++)
                for (int j = -6; j <= 6; j++) {
                    boxes = realloc(boxes, (n + 1) * 4 * sizeof *boxes);
                    ids = realloc(ids, (n + 1) * sizeof *ids);
                    double *b = boxes + 4 * n;
                    b[0] = b[2] = i;
                    b[1] = b[3] = j;
                    ids[n] = (int64_t)((n * 7919) % 1000) * 3 + rep; /* unique, shuffled */
                    or_add(&o, b, ids[n]);
                    n++;
                }
        /* Shuffle insertion order. */
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = tu_rand(&s) % (i + 1);
            double tb[4];
            memcpy(tb, boxes + 4 * i, sizeof tb);
            memcpy(boxes + 4 * i, boxes + 4 * j, sizeof tb);
            memcpy(boxes + 4 * j, tb, sizeof tb);
            int64_t ti = ids[i];
            ids[i] = ids[j];
            ids[j] = ti;
        }
        if (variant == 0) {
            assert_int_equal(lg_rtree_bulk_load(t, boxes, ids, n), LG_OK);
        } else {
            for (size_t i = 0; i < n; i++)
                assert_int_equal(lg_rtree_insert(t, boxes + 4 * i, ids[i]), LG_OK);
        }
        assert_int_equal(lg__rtree_check(t), 0);
        size_t maxid = 3000;
        double *box_of = calloc(4 * maxid, sizeof *box_of);
        for (size_t i = 0; i < o.n; i++)
            memcpy(box_of + 4 * o.e[i].id, o.e[i].b, 4 * sizeof(double));
        cb_data cb = {box_of, maxid, 0, 0, 0};
        static const double qs[][2] = {{0, 0}, {0.5, 0.5}, {0.5, 0}, {3, -2}, {-10, 0}, {6, 6}};
        for (size_t qi = 0; qi < sizeof qs / sizeof qs[0]; qi++) {
            for (size_t k = 1; k <= 40; k += (k < 10 ? 1 : 7)) {
                for (int mode = 0; mode < 4; mode++) {
                    lg_nearest_options opt = {.k = k, .udata = &cb};
                    cb.mod = 0;
                    if (mode & 1) {
                        opt.filter = filter_mod;
                        cb.mod = 2;
                    }
                    if (mode & 2)
                        opt.distance = dist_centre;
                    check_nearest(t, &o, qs[qi][0], qs[qi][1], &opt);
                    /* And directly: ascending (distance, id). */
                    int64_t rid[40];
                    double rd[40];
                    size_t nf = 0;
                    assert_int_equal(lg_rtree_nearest(t, qs[qi][0], qs[qi][1], &opt, rid, rd, &nf),
                                     LG_OK);
                    assert_int_equal(nf, k);
                    for (size_t i = 1; i < nf; i++)
                        assert_true(rd[i - 1] < rd[i] ||
                                    (rd[i - 1] == rd[i] && rid[i - 1] < rid[i]));
                }
            }
        }
        /* The three items at (0, 0) come first, in id order. */
        int64_t rid[3];
        size_t nf = 0;
        lg_nearest_options opt = {.k = 3};
        assert_int_equal(lg_rtree_nearest(t, 0, 0, &opt, rid, NULL, &nf), LG_OK);
        int64_t at0[3];
        size_t m = 0;
        for (size_t i = 0; i < o.n; i++)
            if (o.e[i].b[0] == 0 && o.e[i].b[1] == 0)
                at0[m++] = o.e[i].id;
        assert_int_equal(m, 3);
        qsort(at0, 3, sizeof *at0, cmp_i64);
        assert_int_equal(nf, 3);
        assert_memory_equal(rid, at0, sizeof at0);
        lg_rtree_free(t);
        free(o.e);
        free(boxes);
        free(ids);
        free(box_of);
    }
}

/* The exact distance callback: distance to the centre of each (non-degenerate) box. */
static void test_nearest_callback(void **state)
{
    (void)state;
    lg_rtree *t = NULL;
    assert_int_equal(lg_rtree_new(NULL, &t), LG_OK);
    oracle o = {0};
    uint64_t s = 77;
    size_t n = 3000;
    double *box_of = calloc(4 * n, sizeof *box_of);
    for (size_t i = 0; i < n; i++) {
        double b[4];
        random_box(&s, 0, b);
        memcpy(box_of + 4 * i, b, sizeof b);
        or_add(&o, b, (int64_t)i);
    }
    assert_int_equal(lg_rtree_bulk_load(t, box_of, NULL, n), LG_OK);
    cb_data cb = {box_of, n, 0, 0, 0};
    for (int q = 0; q < 60; q++) {
        lg_nearest_options opt = {.k = (size_t)(1 + q % 12), .distance = dist_centre, .udata = &cb};
        if (q % 3 == 0) {
            opt.filter = filter_mod;
            cb.mod = 3;
        } else {
            cb.mod = 0;
        }
        if (q % 4 == 1)
            opt.max_dist = 15;
        cb.dist_calls = 0;
        check_nearest(t, &o, tu_uniform(&s, 0, 1000), tu_uniform(&s, 0, 1000), &opt);
        /* Best-first: far fewer exact distances than items (two calls per check). */
        assert_true(cb.dist_calls < (long)n / 4);
    }
    lg_rtree_free(t);
    free(o.e);
    free(box_of);
}

/* Filter, max_dist and k larger than the matches. */
static void test_nearest_filter_maxdist(void **state)
{
    (void)state;
    lg_rtree *t = NULL;
    assert_int_equal(lg_rtree_new(NULL, &t), LG_OK);
    oracle o = {0};
    uint64_t s = 1234;
    for (int64_t i = 0; i < 2000; i++) {
        double b[4];
        random_box(&s, 1, b);
        assert_int_equal(lg_rtree_insert(t, b, i), LG_OK);
        or_add(&o, b, i);
    }
    cb_data cb = {0};
    for (int q = 0; q < 40; q++) {
        lg_nearest_options opt = {.k = 50, .filter = filter_mod, .udata = &cb};
        cb.mod = 3;
        opt.max_dist = q % 2 ? 30 : 5; /* fewer matches than k */
        double x = tu_uniform(&s, 0, 1000), y = tu_uniform(&s, 0, 1000);
        check_nearest(t, &o, x, y, &opt);
        int64_t ids[50];
        double d[50];
        size_t nf = 0;
        assert_int_equal(lg_rtree_nearest(t, x, y, &opt, ids, d, &nf), LG_OK);
        for (size_t i = 0; i < nf; i++) {
            assert_int_equal(ids[i] % 3, 0);
            assert_true(d[i] <= opt.max_dist);
        }
        opt.max_dist = -1; /* no limit */
        check_nearest(t, &o, x, y, &opt);
    }
    /* Filter rejecting everything. */
    lg_nearest_options opt = {.k = 5, .filter = filter_mod, .udata = &cb};
    cb.mod = 1000000;
    int64_t ids[5];
    size_t nf = 9;
    /* Only id 0 passes. */
    assert_int_equal(lg_rtree_nearest(t, 500, 500, &opt, ids, NULL, &nf), LG_OK);
    assert_int_equal(nf, 1);
    assert_int_equal(ids[0], 0);
    /* k huge: bounded by the count, large k uses the allocator. */
    opt = (lg_nearest_options){.k = 5000};
    int64_t *big = malloc(5000 * sizeof *big);
    double *bd = malloc(5000 * sizeof *bd);
    assert_int_equal(lg_rtree_nearest(t, 500, 500, &opt, big, bd, &nf), LG_OK);
    assert_int_equal(nf, 2000);
    check_nearest(t, &o, 500, 500, &opt);
    free(big);
    free(bd);
    lg_rtree_free(t);
    free(o.e);
}

static void test_iter_early_stop(void **state)
{
    (void)state;
    lg_rtree *t = NULL;
    assert_int_equal(lg_rtree_new(NULL, &t), LG_OK);
    for (int64_t i = 0; i < 1000; i++) {
        double b[4] = {(double)(i % 10), (double)(i % 7), 100.0 + (double)(i % 3), 100};
        assert_int_equal(lg_rtree_insert(t, b, i), LG_OK);
    }
    for (size_t stop = 1; stop <= 5; stop++) {
        hits h = {.stop_after = stop, .q = {40, 40, 60, 60}};
        lg_rtree_search(t, h.q, collect, &h);
        assert_int_equal(h.n, stop);
        free(h.ids);
        hits p = {.stop_after = stop, .q = {50, 50, 50, 50}};
        lg_rtree_search_point(t, 50, 50, collect, &p);
        assert_int_equal(p.n, stop);
        free(p.ids);
    }
    lg_rtree_free(t);
}

/* Bulk load, then inserts and deletes, then bulk load again (replaces everything). */
static void test_bulk_then_mutate(void **state)
{
    (void)state;
    for (size_t n = 1; n <= 2000; n = n * 3 + 1) {
        lg_rtree *t = NULL;
        assert_int_equal(lg_rtree_new(NULL, &t), LG_OK);
        oracle o = {0};
        uint64_t s = n;
        double *boxes = malloc(4 * n * sizeof *boxes);
        for (size_t i = 0; i < n; i++) {
            random_box(&s, 2, boxes + 4 * i);
            or_add(&o, boxes + 4 * i, (int64_t)i);
        }
        assert_int_equal(lg_rtree_bulk_load(t, boxes, NULL, n), LG_OK);
        cb_data cb = {0};
        check_all(t, &o, &s, 4, &cb);
        for (size_t i = 0; i < n; i++) {
            double b[4];
            random_box(&s, 2, b);
            assert_int_equal(lg_rtree_insert(t, b, (int64_t)(n + i)), LG_OK);
            or_add(&o, b, (int64_t)(n + i));
            size_t j = tu_rand(&s) % o.n;
            assert_int_equal(lg_rtree_delete(t, o.e[j].b, o.e[j].id), LG_OK);
            or_del_at(&o, j);
        }
        check_all(t, &o, &s, 4, &cb);
        /* Reload: old contents are gone. */
        oracle o2 = {0};
        for (size_t i = 0; i < n; i++)
            or_add(&o2, boxes + 4 * i, (int64_t)(i + 100000));
        int64_t *ids = malloc(n * sizeof *ids);
        for (size_t i = 0; i < n; i++)
            ids[i] = (int64_t)(i + 100000);
        assert_int_equal(lg_rtree_bulk_load(t, boxes, ids, n), LG_OK);
        check_all(t, &o2, &s, 4, &cb);
        lg_rtree_free(t);
        free(o.e);
        free(o2.e);
        free(ids);
        free(boxes);
    }
}

/* ------------------------------------------------ allocation failures */

typedef struct fail_alloc {
    long calls, fail_at; /* fail the fail_at-th call (1-based); 0: never */
    long live;
    bool failed;
    uint64_t chaos; /* nonzero: fail about 1 call in 3, from this PRNG state */
} fail_alloc;

static bool should_fail(fail_alloc *f)
{
    f->calls++;
    if (f->chaos)
        return tu_rand(&f->chaos) % 3 == 0 ? (f->failed = true) : false;
    if (f->calls == f->fail_at) {
        f->failed = true;
        return true;
    }
    return false;
}

static void *fa_malloc(size_t n, void *u)
{
    fail_alloc *f = u;
    if (should_fail(f))
        return NULL;
    void *p = malloc(n);
    if (p)
        f->live++;
    return p;
}

static void *fa_realloc(void *p, size_t n, void *u)
{
    fail_alloc *f = u;
    if (should_fail(f))
        return NULL;
    void *q = realloc(p, n);
    if (q && !p)
        f->live++;
    return q;
}

static void fa_free(void *p, void *u)
{
    fail_alloc *f = u;
    if (p)
        f->live--;
    free(p);
}

/* A fixed sequence of operations under a failing allocator. Returns whether any failed. */
static bool run_failing(fail_alloc *f)
{
    lg_allocator a = {fa_malloc, fa_realloc, fa_free, f};
    lg_rtree *t = NULL;
    lg_error err = lg_rtree_new(&a, &t);
    if (err) {
        assert_int_equal(err, LG_ERR_NOMEM);
        assert_null(t);
        assert_int_equal(f->live, 0);
        return true;
    }
    oracle o = {0};
    uint64_t s = 31337;
    size_t nb = 150;
    double *boxes = malloc(4 * nb * sizeof *boxes);
    for (size_t i = 0; i < nb; i++)
        random_box(&s, 2, boxes + 4 * i);
    err = lg_rtree_bulk_load(t, boxes, NULL, nb);
    if (err == LG_OK) {
        for (size_t i = 0; i < nb; i++)
            or_add(&o, boxes + 4 * i, (int64_t)i);
    } else {
        assert_int_equal(err, LG_ERR_NOMEM);
    }
    assert_int_equal(lg__rtree_check(t), 0);
    assert_int_equal(lg_rtree_count(t), o.n);
    int64_t next = 1000;
    for (int op = 0; op < 700; op++) {
        unsigned r = (unsigned)(tu_rand(&s) % 10);
        double b[4];
        random_box(&s, 2, b);
        if (r < 5 || o.n == 0) {
            err = lg_rtree_insert(t, b, next);
            if (err == LG_OK)
                or_add(&o, b, next);
            next++;
        } else if (r < 7) {
            size_t i = tu_rand(&s) % o.n;
            err = lg_rtree_delete(t, o.e[i].b, o.e[i].id);
            if (err == LG_OK)
                or_del_at(&o, i);
        } else if (r < 9) {
            size_t i = tu_rand(&s) % o.n;
            if (r == 7) { /* small move */
                memcpy(b, o.e[i].b, sizeof b);
                b[0] += 0.5;
                b[2] += 0.5;
            }
            err = lg_rtree_update(t, o.e[i].b, b, o.e[i].id);
            if (err == LG_OK)
                memcpy(o.e[i].b, b, sizeof b);
        } else {
            /* Nearest with a large k allocates its candidate heap. */
            lg_nearest_options opt = {.k = 100};
            int64_t ids[100];
            double d[100];
            size_t nf = 0;
            err = lg_rtree_nearest(t, b[0], b[1], &opt, ids, d, &nf);
            if (err == LG_OK) {
                did want[100];
                size_t nw = bf_nearest(&o, b[0], b[1], &opt, want);
                assert_int_equal(nf, nw);
                for (size_t i = 0; i < nw; i++)
                    assert_int_equal(ids[i], want[i].id);
            }
        }
        if (err != LG_OK)
            assert_int_equal(err, LG_ERR_NOMEM);
        assert_int_equal(lg__rtree_check(t), 0);
        assert_int_equal(lg_rtree_count(t), o.n);
    }
    double all[4] = {-1e9, -1e9, 1e9, 1e9};
    check_search(t, &o, all, false);
    for (int q = 0; q < 10; q++) {
        double p[4];
        random_box(&s, 0, p);
        check_search(t, &o, p, false);
    }
    lg_rtree_free(t);
    assert_int_equal(f->live, 0);
    free(o.e);
    free(boxes);
    return f->failed;
}

static void test_alloc_failures(void **state)
{
    (void)state;
    long n;
    for (n = 1; n < 100000; n++) {
        fail_alloc f = {.fail_at = n};
        if (!run_failing(&f))
            break;
    }
    assert_true(n > 5); /* the sequence does allocate */
    assert_true(n < 100000);
    for (uint64_t seed = 1; seed <= 20; seed++) {
        fail_alloc f = {.chaos = seed};
        run_failing(&f);
    }
}

/* ------------------------------------------------------------ threads */

typedef struct thr_arg {
    const lg_rtree *t;
    const double *qx, *qy;
    const int64_t *want; /* 5 per query */
    size_t nq;
    int mismatches;
} thr_arg;

static void *thr_main(void *p)
{
    thr_arg *a = p;
    for (int rep = 0; rep < 3; rep++)
        for (size_t i = 0; i < a->nq; i++) {
            lg_nearest_options opt = {.k = 5};
            int64_t ids[5];
            size_t nf = 0;
            if (lg_rtree_nearest(a->t, a->qx[i], a->qy[i], &opt, ids, NULL, &nf) != LG_OK ||
                nf != 5 || memcmp(ids, a->want + 5 * i, sizeof ids) != 0)
                a->mismatches++;
        }
    return NULL;
}

static void test_concurrent_queries(void **state)
{
    (void)state;
    lg_rtree *t = NULL;
    assert_int_equal(lg_rtree_new(NULL, &t), LG_OK);
    oracle o = {0};
    uint64_t s = 4242;
    size_t n = 5000, nq = 300;
    for (size_t i = 0; i < n; i++) {
        double b[4];
        random_box(&s, 1, b);
        assert_int_equal(lg_rtree_insert(t, b, (int64_t)i), LG_OK);
        or_add(&o, b, (int64_t)i);
    }
    double *qx = malloc(nq * sizeof *qx), *qy = malloc(nq * sizeof *qy);
    int64_t *want = malloc(5 * nq * sizeof *want);
    for (size_t i = 0; i < nq; i++) {
        qx[i] = tu_uniform(&s, 0, 1000);
        qy[i] = tu_uniform(&s, 0, 1000);
        lg_nearest_options opt = {.k = 5};
        did w[5];
        assert_int_equal(bf_nearest(&o, qx[i], qy[i], &opt, w), 5);
        for (int j = 0; j < 5; j++)
            want[5 * i + j] = w[j].id;
    }
    pthread_t th[4];
    thr_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thr_arg){t, qx, qy, want, nq, 0};
        assert_int_equal(pthread_create(&th[i], NULL, thr_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].mismatches, 0);
    }
    free(qx);
    free(qy);
    free(want);
    lg_rtree_free(t);
    free(o.e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_args),
        cmocka_unit_test(test_delete_missing),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_iter_early_stop),
        cmocka_unit_test(test_nearest_ties),
        cmocka_unit_test(test_nearest_callback),
        cmocka_unit_test(test_nearest_filter_maxdist),
        cmocka_unit_test(test_bulk_then_mutate),
        cmocka_unit_test(test_random_small),
        cmocka_unit_test(test_random_large),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_concurrent_queries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
