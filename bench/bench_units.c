/*
 * Units benchmark: nearest capable unit (k = 5, a filter one unit in three passes) and
 * unit moves on N units (default 10,000), against peers in the same process on the
 * same points: libgrid's own R-tree (filter callback; delete + insert), GEOS STRtree
 * (GEOSSTRtree_nearest_generic_r, k rounds with a distance that excludes filtered and
 * already found items), brute force, and the C++ peers of bench_units_peers.cpp
 * (Boost.Geometry, nanoflann, libspatialindex) when built with them (BU_HAVE_PEERS).
 *
 * Our figures are taken with the other side running: queries are timed while a
 * background writer moves units (flat out, and paced at --feed-rate moves per second, a
 * feed's rate), moves are timed while a background reader queries flat out. The peers
 * are timed alone (single thread, no lock: their best case) and, like for like, with
 * the same background thread behind a pthread reader-writer lock (glibc's default,
 * readers preferred): each query takes the read lock, each move the write lock; the
 * static peers (nanoflann) get a writer that applies the moves to its own copy of the
 * positions and rebuilds the tree every --rebuild-ms (default 100), swapping it in under
 * the write lock. Each row gives wall-clock
 * (CLOCK_MONOTONIC) ns/op and the timed thread's CPU ns/op (CLOCK_THREAD_CPUTIME_ID:
 * on a loaded machine the wall clock also counts time the thread waited for a core,
 * which with a background thread of ours is one more runnable thread than the peers
 * have); medians of --runs runs with fixed seeds; ratios are the peer's over ours, for
 * each clock. Usage: bench_units [--units N] [--queries Q] [--moves M] [--runs R]
 * [--load L] [--feed-rate MOVES_PER_S] [--rebuild-ms MS] [--no-locked]
 */
#define _GNU_SOURCE /* pthread_rwlock_t */
#include "libgrid.h"

#include <float.h>
#include <geos_c.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define K 5
#define SPAN 30000.0

typedef struct bu_peer {
    const char *name;
    void *(*build)(size_t n, const double *x, const double *y, const uint8_t *pass);
    size_t (*knn)(void *h, double qx, double qy, size_t k, const uint8_t *pass, int64_t *out);
    void (*move)(void *h, int64_t id, double ox, double oy, double nx, double ny);
    void (*free)(void *h);
    const char *move_name; /* label of the move rows */
} bu_peer;
#ifdef BU_HAVE_PEERS
size_t bu_peers(const bu_peer **out);
#else
static size_t bu_peers(const bu_peer **out)
{
    *out = NULL;
    return 0;
}
#endif

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
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* CPU time of the timed thread in the last timed loop, per op (set by the loops) */
static double last_cpu;

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, dcmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ------------------------------------------------------------- the data */

static size_t N = 10000, Q = 20000, M = 20000;
static int RUNS = 5;
static double LOAD = 0;         /* bucket_load option, 0: the default */
static double FEED = 100000;    /* paced background writer, moves per second */
static double REBUILD_MS = 100; /* static peers with a writer: rebuild period */
static bool LOCKED = true;      /* time the peers with a background thread too */
static double *ux, *uy;         /* initial unit positions */
static uint8_t *pass;           /* unit passes the filter (status == AVAILABLE) */
static int32_t *ustatus;
static double *qx, *qy; /* incidents */
static int64_t *mid;    /* moves of a run */
static double *mx, *my;

static void gen_moves(int run)
{
    uint64_t s = 1000 + (uint64_t)run;
    for (size_t i = 0; i < M; i++) {
        mid[i] = (int64_t)(rng(&s) % N);
        mx[i] = uni(&s, 0, SPAN);
        my[i] = uni(&s, 0, SPAN);
    }
}

/* ----------------------------------------------------------- our side */

typedef struct bg {
    lg_units *reg;
    atomic_bool stop;
    atomic_long ops;
    int mode;    /* 0: writer (moves), 1: reader (queries) */
    double rate; /* ops per second, 0: flat out */
} bg;

static void *bg_main(void *arg)
{
    bg *b = arg;
    uint64_t s = 77;
    long ops = 0;
    double t0 = now_ns();
    while (!atomic_load(&b->stop)) {
        if (b->rate > 0 && (double)ops > (now_ns() - t0) * 1e-9 * b->rate) {
            /* ahead of the feed: give the core away for a moment */
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
            continue;
        }
        if (b->mode == 0) {
            /* move a unit to a random place, keeping its status */
            int64_t id = (int64_t)(rng(&s) % N);
            double x = uni(&s, 0, SPAN), y = uni(&s, 0, SPAN);
            lg_units_batch bt = {1, &id, &x, &y, NULL, NULL, NULL, NULL, NULL};
            lg_units_update(NULL, b->reg, &bt);
        } else {
            double x = uni(&s, 0, SPAN), y = uni(&s, 0, SPAN);
            int64_t ids[K];
            lg_unit_filter f = {.status_mask = 1u << LG_STATUS_AVAILABLE};
            lg_unit_results r = {ids, NULL, NULL, NULL, NULL};
            lg_units_nearest(b->reg, &x, &y, 1, K, &f, &r);
        }
        ops++;
    }
    atomic_store(&b->ops, ops);
    return NULL;
}

static lg_units *ours_build(void)
{
    lg_units *reg = NULL;
    lg_units_options o = {.bucket_load = LOAD};
    if (lg_units_new(NULL, &o, &reg) != LG_OK)
        exit(1);
    int64_t *ids = malloc(N * sizeof *ids);
    for (size_t i = 0; i < N; i++)
        ids[i] = (int64_t)i;
    lg_units_batch b = {N, ids, ux, uy, NULL, ustatus, NULL, NULL, NULL};
    if (lg_units_update(NULL, reg, &b) != LG_OK)
        exit(1);
    free(ids);
    return reg;
}

static void bg_start(bg *b, pthread_t *t, lg_units *reg, int mode, double rate)
{
    b->reg = reg;
    b->mode = mode;
    b->rate = rate;
    atomic_init(&b->stop, false);
    atomic_init(&b->ops, 0);
    pthread_create(t, NULL, bg_main, b);
}

static long bg_stop(bg *b, pthread_t t)
{
    atomic_store(&b->stop, true);
    pthread_join(t, NULL);
    return atomic_load(&b->ops);
}

static double ours_query(lg_units *reg, size_t *sink)
{
    lg_unit_filter f = {.status_mask = 1u << LG_STATUS_AVAILABLE};
    int64_t ids[K];
    lg_unit_results r = {ids, NULL, NULL, NULL, NULL};
    double t0 = now_ns(), c0 = cpu_ns();
    for (size_t i = 0; i < Q; i++) {
        lg_units_nearest(reg, &qx[i], &qy[i], 1, K, &f, &r);
        *sink += (size_t)ids[0];
    }
    last_cpu = (cpu_ns() - c0) / (double)Q;
    return (now_ns() - t0) / (double)Q;
}

static double ours_moves(lg_units *reg, size_t batch)
{
    double t0 = now_ns(), c0 = cpu_ns();
    for (size_t i = 0; i < M; i += batch) {
        size_t n = M - i < batch ? M - i : batch;
        lg_units_batch b = {n, mid + i, mx + i, my + i, NULL, NULL, NULL, NULL, NULL};
        lg_units_update(NULL, reg, &b);
    }
    last_cpu = (cpu_ns() - c0) / (double)M;
    return (now_ns() - t0) / (double)M;
}

/* ------------------------------------------------------- libgrid R-tree */

static bool rt_pass(int64_t id, void *udata)
{
    (void)udata;
    return pass[id];
}

static lg_rtree *rt_build(double *cx, double *cy)
{
    lg_rtree *t = NULL;
    lg_rtree_new(NULL, &t);
    double *boxes = malloc(4 * N * sizeof *boxes);
    for (size_t i = 0; i < N; i++) {
        boxes[4 * i] = boxes[4 * i + 2] = cx[i] = ux[i];
        boxes[4 * i + 1] = boxes[4 * i + 3] = cy[i] = uy[i];
    }
    lg_rtree_bulk_load(t, boxes, NULL, N);
    free(boxes);
    return t;
}

static double rt_query(lg_rtree *t, size_t *sink)
{
    lg_nearest_options o = {.k = K, .filter = rt_pass};
    int64_t ids[K];
    size_t nf;
    double t0 = now_ns(), c0 = cpu_ns();
    for (size_t i = 0; i < Q; i++) {
        lg_rtree_nearest(t, qx[i], qy[i], &o, ids, NULL, &nf);
        *sink += (size_t)ids[0];
    }
    last_cpu = (cpu_ns() - c0) / (double)Q;
    return (now_ns() - t0) / (double)Q;
}

static double rt_moves(lg_rtree *t, double *cx, double *cy, bool use_update)
{
    double t0 = now_ns(), c0 = cpu_ns();
    for (size_t i = 0; i < M; i++) {
        int64_t id = mid[i];
        double ob[4] = {cx[id], cy[id], cx[id], cy[id]}, nb[4] = {mx[i], my[i], mx[i], my[i]};
        if (use_update) {
            lg_rtree_update(t, ob, nb, id);
        } else {
            lg_rtree_delete(t, ob, id);
            lg_rtree_insert(t, nb, id);
        }
        cx[id] = mx[i];
        cy[id] = my[i];
    }
    last_cpu = (cpu_ns() - c0) / (double)M;
    return (now_ns() - t0) / (double)M;
}

/* --------------------------------------------------------- GEOS STRtree */

typedef struct gq {
    double x, y;
    int64_t taken[K];
    int ntaken;
} gq;

static int g_dist(const void *a, const void *b, double *d, void *udata)
{
    const gq *q = udata;
    /* items are unit index + 1; the query item is the gq itself */
    const void *item = a == (const void *)q ? b : a;
    int64_t id = (int64_t)(uintptr_t)item - 1;
    bool out = !pass[id];
    for (int i = 0; i < q->ntaken; i++)
        out |= q->taken[i] == id;
    if (out) {
        *d = DBL_MAX;
        return 1;
    }
    double dx = ux[id] - q->x, dy = uy[id] - q->y;
    *d = sqrt(dx * dx + dy * dy);
    return 1;
}

static double geos_query(GEOSContextHandle_t h, GEOSSTRtree *t, size_t *sink)
{
    double t0 = now_ns(), c0 = cpu_ns();
    for (size_t i = 0; i < Q; i++) {
        gq q = {qx[i], qy[i], {0}, 0};
        GEOSGeometry *p = GEOSGeom_createPointFromXY_r(h, qx[i], qy[i]);
        for (int j = 0; j < K; j++) {
            const void *r = GEOSSTRtree_nearest_generic_r(h, t, &q, p, g_dist, &q);
            if (!r)
                break;
            q.taken[q.ntaken++] = (int64_t)(uintptr_t)r - 1;
        }
        GEOSGeom_destroy_r(h, p);
        *sink += (size_t)q.taken[0];
    }
    last_cpu = (cpu_ns() - c0) / (double)Q;
    return (now_ns() - t0) / (double)Q;
}

static GEOSSTRtree *geos_build(GEOSContextHandle_t h, GEOSGeometry **pts)
{
    GEOSSTRtree *t = GEOSSTRtree_create_r(h, 16);
    for (size_t i = 0; i < N; i++)
        GEOSSTRtree_insert_r(h, t, pts[i], (void *)(uintptr_t)(i + 1));
    return t;
}

/* ---------------------------------------------------------- brute force */

static size_t brute(double x, double y, int64_t *out)
{
    double bd[K];
    size_t n = 0;
    for (size_t i = 0; i < N; i++) {
        if (!pass[i])
            continue;
        double dx = ux[i] - x, dy = uy[i] - y, d = dx * dx + dy * dy;
        if (n == K && d >= bd[K - 1])
            continue;
        size_t j = n < K ? n++ : K - 1;
        while (j > 0 && bd[j - 1] > d) {
            bd[j] = bd[j - 1];
            out[j] = out[j - 1];
            j--;
        }
        bd[j] = d;
        out[j] = (int64_t)i;
    }
    return n;
}

static double brute_query(size_t *sink)
{
    int64_t ids[K];
    double t0 = now_ns(), c0 = cpu_ns();
    for (size_t i = 0; i < Q; i++) {
        brute(qx[i], qy[i], ids);
        *sink += (size_t)ids[0];
    }
    last_cpu = (cpu_ns() - c0) / (double)Q;
    return (now_ns() - t0) / (double)Q;
}

/* ------------------------------------------- peers with a writer or a reader */

/* libgrid's R-tree behind the peer interface (for the locked runs) */
typedef struct rt_peer {
    lg_rtree *t;
} rt_peer;

static void *rtp_build(size_t n, const double *x, const double *y, const uint8_t *p)
{
    (void)p;
    rt_peer *h = malloc(sizeof *h);
    lg_rtree_new(NULL, &h->t);
    double *boxes = malloc(4 * n * sizeof *boxes);
    for (size_t i = 0; i < n; i++) {
        boxes[4 * i] = boxes[4 * i + 2] = x[i];
        boxes[4 * i + 1] = boxes[4 * i + 3] = y[i];
    }
    lg_rtree_bulk_load(h->t, boxes, NULL, n);
    free(boxes);
    return h;
}

static size_t rtp_knn(void *hv, double x, double y, size_t k, const uint8_t *p, int64_t *out)
{
    (void)p;
    rt_peer *h = hv;
    lg_nearest_options o = {.k = k, .filter = rt_pass};
    size_t nf = 0;
    lg_rtree_nearest(h->t, x, y, &o, out, NULL, &nf);
    return nf;
}

static void rtp_move(void *hv, int64_t id, double ox, double oy, double nx, double ny)
{
    rt_peer *h = hv;
    double ob[4] = {ox, oy, ox, oy}, nb[4] = {nx, ny, nx, ny};
    lg_rtree_delete(h->t, ob, id);
    lg_rtree_insert(h->t, nb, id);
}

static void rtp_free(void *hv)
{
    rt_peer *h = hv;
    lg_rtree_free(h->t);
    free(h);
}

static const bu_peer rt_as_peer = {
    "libgrid R-tree + filter callback", rtp_build, rtp_knn, rtp_move, rtp_free,
    "libgrid R-tree delete + insert"};

/* A peer instance shared by the timed thread and a background thread under a lock. */
typedef struct locked {
    const bu_peer *p;
    void *h; /* read and swapped under lock */
    pthread_rwlock_t lock;
    double *cx, *cy; /* current positions (the writer's) */
    atomic_bool stop;
    atomic_long ops, rebuilds;
    int mode;    /* 0: background writer, 1: background reader */
    double rate; /* background ops per second, 0: flat out */
} locked;

static void *locked_bg(void *arg)
{
    locked *l = arg;
    uint64_t s = 99;
    long ops = 0, rebuilds = 0;
    double t0 = now_ns(), last = t0;
    while (!atomic_load(&l->stop)) {
        if (l->rate > 0 && (double)ops > (now_ns() - t0) * 1e-9 * l->rate) {
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
            continue;
        }
        if (l->mode == 1) {
            double x = uni(&s, 0, SPAN), y = uni(&s, 0, SPAN);
            int64_t ids[K];
            pthread_rwlock_rdlock(&l->lock);
            l->p->knn(l->h, x, y, K, pass, ids);
            pthread_rwlock_unlock(&l->lock);
        } else {
            int64_t id = (int64_t)(rng(&s) % N);
            double x = uni(&s, 0, SPAN), y = uni(&s, 0, SPAN);
            if (l->p->move) {
                pthread_rwlock_wrlock(&l->lock);
                l->p->move(l->h, id, l->cx[id], l->cy[id], x, y);
                pthread_rwlock_unlock(&l->lock);
            }
            l->cx[id] = x;
            l->cy[id] = y;
            if (!l->p->move && now_ns() - last >= REBUILD_MS * 1e6) {
                /* a static peer: rebuild from the moved positions, swap under the lock */
                void *nh = l->p->build(N, l->cx, l->cy, pass);
                pthread_rwlock_wrlock(&l->lock);
                void *old = l->h;
                l->h = nh;
                pthread_rwlock_unlock(&l->lock);
                l->p->free(old);
                rebuilds++;
                last = now_ns();
            }
        }
        ops++;
    }
    atomic_store(&l->ops, ops);
    atomic_store(&l->rebuilds, rebuilds);
    return NULL;
}

static void locked_init(locked *l, const bu_peer *p)
{
    memset(l, 0, sizeof *l);
    l->p = p;
    l->cx = malloc(N * sizeof *l->cx);
    l->cy = malloc(N * sizeof *l->cy);
    memcpy(l->cx, ux, N * sizeof *ux);
    memcpy(l->cy, uy, N * sizeof *uy);
    l->h = p->build(N, ux, uy, pass);
    pthread_rwlock_init(&l->lock, NULL);
}

static void locked_fini(locked *l)
{
    l->p->free(l->h);
    pthread_rwlock_destroy(&l->lock);
    free(l->cx);
    free(l->cy);
}

/* Time Q queries on l (read lock per query) with a background writer at rate (flat out:
 * 0); *bg_rate: the writer's achieved moves per second. */
static double locked_query(locked *l, double rate, double *bg_rate, size_t *sink)
{
    pthread_t th;
    l->mode = 0;
    l->rate = rate;
    atomic_store(&l->stop, false);
    pthread_create(&th, NULL, locked_bg, l);
    int64_t ids[K];
    double t0 = now_ns(), c0 = cpu_ns();
    for (size_t i = 0; i < Q; i++) {
        pthread_rwlock_rdlock(&l->lock);
        l->p->knn(l->h, qx[i], qy[i], K, pass, ids);
        pthread_rwlock_unlock(&l->lock);
        *sink += (size_t)ids[0];
    }
    last_cpu = (cpu_ns() - c0) / (double)Q;
    double w = now_ns() - t0;
    atomic_store(&l->stop, true);
    pthread_join(th, NULL);
    *bg_rate = (double)atomic_load(&l->ops) / (w * 1e-9);
    return w / (double)Q;
}

/* Time M moves on l (write lock per move) with a background reader querying flat out. */
static double locked_moves(locked *l, long *bg_ops)
{
    pthread_t th;
    l->mode = 1;
    l->rate = 0;
    atomic_store(&l->stop, false);
    pthread_create(&th, NULL, locked_bg, l);
    double t0 = now_ns(), c0 = cpu_ns();
    for (size_t i = 0; i < M; i++) {
        int64_t id = mid[i];
        pthread_rwlock_wrlock(&l->lock);
        l->p->move(l->h, id, l->cx[id], l->cy[id], mx[i], my[i]);
        pthread_rwlock_unlock(&l->lock);
        l->cx[id] = mx[i];
        l->cy[id] = my[i];
    }
    last_cpu = (cpu_ns() - c0) / (double)M;
    double w = now_ns() - t0;
    atomic_store(&l->stop, true);
    pthread_join(th, NULL);
    *bg_ops += atomic_load(&l->ops);
    return w / (double)M;
}

/* ------------------------------------------------------------ reporting */

typedef struct row {
    char name[96];
    double ns, cpu;
} row;

static void table(const char *title, const row *r, size_t n, const row *ours)
{
    printf("\n%s\n\n| implementation | wall ns/op | peer / ours | CPU ns/op | peer / ours "
           "|\n|---|---:|---:|---:|---:|\n",
           title);
    for (size_t i = 0; i < n; i++)
        printf("| %s | %.0f | %.2fx | %.0f | %.2fx |\n", r[i].name, r[i].ns, r[i].ns / ours->ns,
               r[i].cpu, r[i].cpu / ours->cpu);
}

static int same_set(const int64_t *a, const int64_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool f = false;
        for (size_t j = 0; j < n; j++)
            f |= a[i] == b[j];
        if (!f)
            return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s [--units N] [--queries Q] [--moves M] [--runs R] [--load L] "
                   "[--feed-rate MOVES_PER_S] [--rebuild-ms MS] [--no-locked]\n"
                   "  --units N        units (default 10000)\n"
                   "  --queries Q      timed queries per run (default 20000)\n"
                   "  --moves M        timed moves per run (default 20000)\n"
                   "  --runs R         runs; medians are reported (default 5)\n"
                   "  --load L         units per bucket of the registry (default: the "
                   "library's)\n"
                   "  --feed-rate F    moves per second of the paced background writer "
                   "(default 100000)\n"
                   "  --rebuild-ms MS  static peers with a writer: rebuild period "
                   "(default 100)\n"
                   "  --no-locked      skip the peers' runs with a background thread\n",
                   argv[0]);
            return 0;
        }
        if (!strcmp(argv[i], "--no-locked")) {
            LOCKED = false;
            continue;
        }
        if (i + 1 >= argc || strncmp(argv[i], "--", 2)) {
            fprintf(stderr, "bench_units: unknown or incomplete argument %s (see --help)\n",
                    argv[i]);
            return 2;
        }
        if (!strcmp(argv[i], "--units"))
            N = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--queries"))
            Q = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--moves"))
            M = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--load"))
            LOAD = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--runs"))
            RUNS = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--feed-rate"))
            FEED = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--rebuild-ms"))
            REBUILD_MS = atof(argv[i + 1]);
        else {
            fprintf(stderr, "bench_units: unknown argument %s (see --help)\n", argv[i]);
            return 2;
        }
        i++;
    }
    if (RUNS < 1 || RUNS > 64 || N < 10)
        return 2;
    ux = malloc(N * sizeof *ux);
    uy = malloc(N * sizeof *uy);
    pass = malloc(N);
    ustatus = malloc(N * sizeof *ustatus);
    qx = malloc(Q * sizeof *qx);
    qy = malloc(Q * sizeof *qy);
    mid = malloc(M * sizeof *mid);
    mx = malloc(M * sizeof *mx);
    my = malloc(M * sizeof *my);
    uint64_t s = 42;
    for (size_t i = 0; i < N; i++) {
        ux[i] = uni(&s, 0, SPAN);
        uy[i] = uni(&s, 0, SPAN);
        ustatus[i] = (int32_t)(rng(&s) % 3); /* AVAILABLE, EN_ROUTE, ON_SCENE */
        pass[i] = ustatus[i] == LG_STATUS_AVAILABLE;
    }
    for (size_t i = 0; i < Q; i++) {
        qx[i] = uni(&s, 0, SPAN);
        qy[i] = uni(&s, 0, SPAN);
    }
    printf("# bench_units: %zu units in %.0f x %.0f m, k = %d, filter passes %.1f%%, %zu "
           "queries, %zu moves, median of %d runs\n",
           N, SPAN, SPAN, K, 100.0 * 1 / 3, Q, M, RUNS);

    const bu_peer *peers;
    size_t np = bu_peers(&peers);
    size_t sink = 0;

    /* correctness cross-check on the initial positions, before anything moves */
    lg_units *reg = ours_build();
    void **ph = calloc(np + 1, sizeof *ph);
    for (size_t p = 0; p < np; p++)
        ph[p] = peers[p].build(N, ux, uy, pass);
    size_t bad = 0;
    for (size_t i = 0; i < 500 && i < Q; i++) {
        int64_t want[K], got[K];
        brute(qx[i], qy[i], want);
        lg_unit_filter f = {.status_mask = 1u << LG_STATUS_AVAILABLE};
        lg_unit_results r = {got, NULL, NULL, NULL, NULL};
        lg_units_nearest(reg, &qx[i], &qy[i], 1, K, &f, &r);
        bad += !same_set(want, got, K);
        for (size_t p = 0; p < np; p++) {
            size_t n = peers[p].knn(ph[p], qx[i], qy[i], K, pass, got);
            if (n != K || !same_set(want, got, K)) {
                bad++;
                fprintf(stderr, "peer %s disagrees with brute force on query %zu\n", peers[p].name,
                        i);
            }
        }
    }
    printf("# cross-check of 500 queries against brute force: %zu disagreements\n", bad);

    /* --------------------------------------------------------- queries */
    enum { MAXROWS = 16 };
    double qt[MAXROWS][64];
    const char *qn[MAXROWS];
    int nq = 0;
    GEOSContextHandle_t gh = GEOS_init_r();
    GEOSGeometry **gpts = malloc(N * sizeof *gpts);
    for (size_t i = 0; i < N; i++)
        gpts[i] = GEOSGeom_createPointFromXY_r(gh, ux[i], uy[i]);
    GEOSSTRtree *gt = geos_build(gh, gpts);
    double *rcx = malloc(N * sizeof *rcx), *rcy = malloc(N * sizeof *rcy);
    lg_rtree *rt = rt_build(rcx, rcy);
    long bg_ops = 0, bg_paced = 0;
    double our_rate[2][64]; /* our background writer's moves/s: flat out, paced */
    double qc[MAXROWS][64];
    char paced_name[96];
    snprintf(paced_name, sizeof paced_name, "libgrid units, writer at %.0f moves/s", FEED);
/* record the last timed loop of row c: wall time w, CPU time from last_cpu */
#define REC(tw, tc, names, name, w)                                                                \
    do {                                                                                           \
        names[c] = (name);                                                                         \
        tw[c][run] = (w);                                                                          \
        tc[c][run] = last_cpu;                                                                     \
        c++;                                                                                       \
    } while (0)
    for (int run = 0; run < RUNS; run++) {
        int c = 0;
        /* ours with a writer moving units in the background: flat out, then paced */
        bg b;
        pthread_t th;
        bg_start(&b, &th, reg, 0, 0);
        REC(qt, qc, qn, "libgrid units, writer flat out", ours_query(reg, &sink));
        long o = bg_stop(&b, th);
        bg_ops += o;
        our_rate[0][run] = (double)o / (qt[c - 1][run] * (double)Q * 1e-9);
        bg_start(&b, &th, reg, 0, FEED);
        REC(qt, qc, qn, paced_name, ours_query(reg, &sink));
        o = bg_stop(&b, th);
        bg_paced += o;
        our_rate[1][run] = (double)o / (qt[c - 1][run] * (double)Q * 1e-9);
        REC(qt, qc, qn, "libgrid units, alone", ours_query(reg, &sink));
        REC(qt, qc, qn, "libgrid R-tree + filter callback", rt_query(rt, &sink));
        for (size_t p = 0; p < np; p++) {
            int64_t ids[K];
            double t0 = now_ns(), c0 = cpu_ns();
            for (size_t i = 0; i < Q; i++) {
                peers[p].knn(ph[p], qx[i], qy[i], K, pass, ids);
                sink += (size_t)ids[0];
            }
            last_cpu = (cpu_ns() - c0) / (double)Q;
            REC(qt, qc, qn, peers[p].name, (now_ns() - t0) / (double)Q);
        }
        REC(qt, qc, qn, "GEOS STRtree, k rounds of nearest_generic", geos_query(gh, gt, &sink));
        REC(qt, qc, qn, "brute force", brute_query(&sink));
        nq = c;
    }
    row rows[MAXROWS];
    for (int c = 0; c < nq; c++) {
        snprintf(rows[c].name, sizeof rows[c].name, "%s", qn[c]);
        rows[c].ns = median(qt[c], RUNS);
        rows[c].cpu = median(qc[c], RUNS);
    }
    table("## k-nearest with a filter (k = 5, 1 in 3 pass), ns per query (ratios to the first row)",
          rows, (size_t)nq, &rows[0]);
    printf("\nRatios to the paced-writer row:\n\n");
    for (int c = 2; c < nq; c++)
        printf("- %s: wall %.2fx, CPU %.2fx\n", rows[c].name, rows[c].ns / rows[1].ns,
               rows[c].cpu / rows[1].cpu);
    printf("\n(background writer: %ld single-unit moves during the timed queries flat out, %ld "
           "paced, over %d runs)\n",
           bg_ops, bg_paced, RUNS);

    /* ------------------------------------- like for like: peers with a writer */
    size_t nl = 0;
    locked *lk = calloc(np + 1, sizeof *lk);
    double lq[MAXROWS][2][3][64]; /* [peer][flat, paced][wall, cpu, writer rate][run] */
    if (LOCKED) {
        locked_init(&lk[nl++], &rt_as_peer);
        for (size_t p = 0; p < np; p++)
            locked_init(&lk[nl++], &peers[p]);
        for (int run = 0; run < RUNS; run++)
            for (size_t p = 0; p < nl; p++)
                for (int pace = 0; pace < 2; pace++) {
                    double rate;
                    lq[p][pace][0][run] = locked_query(&lk[p], pace ? FEED : 0, &rate, &sink);
                    lq[p][pace][1][run] = last_cpu;
                    lq[p][pace][2][run] = rate;
                }
        printf("\n## like for like: k-nearest with a background writer (peers: read lock per "
               "query, write lock per move; static peers rebuilt every %.0f ms and swapped "
               "under the lock), ns per query\n\n",
               REBUILD_MS);
        printf("| implementation | alone wall | alone CPU | writer flat out: wall | CPU | "
               "writer moves/s | writer at %.0f/s: wall | CPU | writer moves/s |\n"
               "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
               FEED);
        double ours_cell[8] = {rows[2].ns,
                               rows[2].cpu,
                               rows[0].ns,
                               rows[0].cpu,
                               median(our_rate[0], RUNS),
                               rows[1].ns,
                               rows[1].cpu,
                               median(our_rate[1], RUNS)};
        printf("| libgrid units (versioned buckets, no lock) | %.0f | %.0f | %.0f | %.0f | %.0f "
               "| %.0f | %.0f | %.0f |\n",
               ours_cell[0], ours_cell[1], ours_cell[2], ours_cell[3], ours_cell[4], ours_cell[5],
               ours_cell[6], ours_cell[7]);
        double cells[MAXROWS][8];
        for (size_t p = 0; p < nl; p++) {
            /* the alone figures: the peer's row of the table above */
            double aw = 0, ac = 0;
            for (int c = 0; c < nq; c++)
                if (!strcmp(rows[c].name, lk[p].p->name)) {
                    aw = rows[c].ns;
                    ac = rows[c].cpu;
                }
            cells[p][0] = aw;
            cells[p][1] = ac;
            for (int pace = 0; pace < 2; pace++)
                for (int m = 0; m < 3; m++)
                    cells[p][2 + 3 * pace + m] = median(lq[p][pace][m], RUNS);
            printf("| %s%s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |\n",
                   lk[p].p->name, lk[p].p->move ? "" : " (rebuilt)", cells[p][0], cells[p][1],
                   cells[p][2], cells[p][3], cells[p][4], cells[p][5], cells[p][6], cells[p][7]);
        }
        printf("\nRatios peer / ours, same column (alone wall, CPU; writer flat out wall, CPU; "
               "paced wall, CPU):\n\n");
        for (size_t p = 0; p < nl; p++)
            printf("- %s: %.2fx, %.2fx; %.2fx, %.2fx; %.2fx, %.2fx\n", lk[p].p->name,
                   cells[p][0] / ours_cell[0], cells[p][1] / ours_cell[1],
                   cells[p][2] / ours_cell[2], cells[p][3] / ours_cell[3],
                   cells[p][5] / ours_cell[5], cells[p][6] / ours_cell[6]);
    }

    /* ----------------------------------------------------------- moves */
    double mt[MAXROWS][64], mc[MAXROWS][64];
    const char *mn[MAXROWS];
    int nm = 0;
    double *pcx = malloc(N * sizeof *pcx * (np + 1)), *pcy = malloc(N * sizeof *pcy * (np + 1));
    for (size_t p = 0; p < np; p++) {
        memcpy(pcx + p * N, ux, N * sizeof *ux);
        memcpy(pcy + p * N, uy, N * sizeof *uy);
    }
    long rd_ops = 0;
    lg_rtree *rt2 = NULL;
    double *r2x = malloc(N * sizeof *r2x), *r2y = malloc(N * sizeof *r2y);
    rt2 = rt_build(r2x, r2y);
    for (int run = 0; run < RUNS; run++) {
        gen_moves(run);
        int c = 0;
        bg b;
        pthread_t th;
        bg_start(&b, &th, reg, 1, 0);
        REC(mt, mc, mn, "libgrid units, batch of 1, reader running", ours_moves(reg, 1));
        rd_ops += bg_stop(&b, th);
        bg_start(&b, &th, reg, 1, 0);
        REC(mt, mc, mn, "libgrid units, batches of 64, reader running", ours_moves(reg, 64));
        rd_ops += bg_stop(&b, th);
        REC(mt, mc, mn, "libgrid units, batch of 1, alone", ours_moves(reg, 1));
        REC(mt, mc, mn, "libgrid R-tree delete + insert", rt_moves(rt, rcx, rcy, false));
        REC(mt, mc, mn, "libgrid R-tree update", rt_moves(rt2, r2x, r2y, true));
        for (size_t p = 0; p < np; p++) {
            if (!peers[p].move)
                continue;
            double *cx = pcx + p * N, *cy = pcy + p * N;
            double t0 = now_ns(), c0 = cpu_ns();
            for (size_t i = 0; i < M; i++) {
                int64_t id = mid[i];
                peers[p].move(ph[p], id, cx[id], cy[id], mx[i], my[i]);
                cx[id] = mx[i];
                cy[id] = my[i];
            }
            last_cpu = (cpu_ns() - c0) / (double)M;
            REC(mt, mc, mn, peers[p].move_name, (now_ns() - t0) / (double)M);
        }
        /* like for like: the mutable peers' moves with a reader behind the lock */
        for (size_t p = 0; p < nl; p++) {
            if (!lk[p].p->move)
                continue;
            static char names[MAXROWS][112];
            snprintf(names[p], sizeof names[p], "%s, reader running (rwlock)", lk[p].p->move_name);
            REC(mt, mc, mn, names[p], locked_moves(&lk[p], &rd_ops));
        }
        nm = c;
    }
#undef REC
    for (int c = 0; c < nm; c++) {
        snprintf(rows[c].name, sizeof rows[c].name, "%s", mn[c]);
        rows[c].ns = median(mt[c], RUNS);
        rows[c].cpu = median(mc[c], RUNS);
    }
    table("## unit move, ns per moved unit", rows, (size_t)nm, &rows[0]);
    printf("\n(background reader: %ld queries during the timed moves)\n", rd_ops);

    /* static peers: a rebuild per feed tick */
    printf("\n## rebuild of the static peers (all %zu units), us\n\n", N);
    for (size_t p = 0; p < np; p++) {
        if (peers[p].move)
            continue;
        double t[64];
        for (int run = 0; run < RUNS; run++) {
            double t0 = now_ns();
            void *h = peers[p].build(N, ux, uy, pass);
            t[run] = now_ns() - t0;
            peers[p].free(h);
        }
        printf("- %s: %.0f us\n", peers[p].name, median(t, RUNS) / 1e3);
    }
    {
        double t[64];
        for (int run = 0; run < RUNS; run++) {
            double t0 = now_ns();
            GEOSSTRtree *g2 = geos_build(gh, gpts);
            gq q = {1, 1, {0}, 0};
            GEOSGeometry *p = GEOSGeom_createPointFromXY_r(gh, 1, 1);
            GEOSSTRtree_nearest_generic_r(gh, g2, &q, p, g_dist, &q); /* forces the build */
            GEOSGeom_destroy_r(gh, p);
            t[run] = now_ns() - t0;
            GEOSSTRtree_destroy_r(gh, g2);
        }
        printf("- GEOS STRtree (insert all + build): %.0f us\n", median(t, RUNS) / 1e3);
    }
    printf("\n(sink %zu)\n", sink);

    for (size_t p = 0; p < np; p++)
        peers[p].free(ph[p]);
    free(ph);
    for (size_t p = 0; p < nl; p++)
        locked_fini(&lk[p]);
    free(lk);
    GEOSSTRtree_destroy_r(gh, gt);
    for (size_t i = 0; i < N; i++)
        GEOSGeom_destroy_r(gh, gpts[i]);
    free(gpts);
    GEOS_finish_r(gh);
    lg_rtree_free(rt);
    lg_rtree_free(rt2);
    lg_units_free(reg);
    free(rcx);
    free(rcy);
    free(r2x);
    free(r2y);
    free(pcx);
    free(pcy);
    free(ux);
    free(uy);
    free(pass);
    free(ustatus);
    free(qx);
    free(qy);
    free(mid);
    free(mx);
    free(my);
    return bad ? 1 : 0;
}
