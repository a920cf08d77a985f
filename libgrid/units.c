/*
 * Moving units: a registry of units indexed by a uniform bucket grid, nearest
 * capable unit queries with filters, ETA and cross-station/county flags; run cards.
 *
 * Index. Units move every few seconds, so the index must make a move cheap: a uniform
 * grid of buckets (about bucket_load units per bucket) where a move is a swap-remove
 * from one bucket and an append to another, O(1). Each bucket entry carries the
 * position, the id and the filterable attributes (status, kind, capability bits, home
 * station), so a filtered k-nearest query scans rings of buckets around the incident
 * without touching anything else, and stops when the nearest unscanned bucket is
 * farther than the k-th candidate. Units outside the grid's extent are kept in the
 * border buckets (the bound then treats border sides as open); the grid is rebuilt
 * when the count or the extent drifts too far (a deterministic function of the state).
 *
 * Concurrency (docs/DISPATCH.md): one copy of the index, versioned buckets. Every
 * bucket has a version that is odd while the writer changes it. The writer applies a
 * batch in three steps: it makes every bucket the batch touches odd, changes them,
 * and makes them even again (release). A reader records the (even) version of every
 * bucket it reads and, once it has its answer, checks that none changed (and that the
 * grid was not replaced); if one did, or it met an odd bucket, it runs the query
 * again. A validated answer is exact for the state committed at the moment of the
 * check: the buckets read held that state, and every unit in an unread bucket lies in
 * that bucket's box, which the search bound proved farther than the k-th answer. A
 * batch is never seen in part, since all its buckets are odd from before its first
 * change until after its last. After U_RETRIES failed attempts a reader runs the
 * query under the writer's mutex, so every query finishes.
 *
 * Readers never write the index; the writer never reads what readers write, except
 * when it reclaims memory: bucket blocks that grew and grids that were rebuilt are
 * freed only after every reader that could hold them has left (an epoch with two
 * striped reader counters, checked only when there is garbage). So a move costs the
 * writer two small bucket writes and the reader the cache lines of the buckets that
 * really changed. Views (lg_units_view_acquire) are snapshots: the units copied under
 * the writer's mutex and indexed privately.
 *
 * Memory order: the writer makes buckets odd with relaxed stores, then stores bucket
 * words with release and the even version with release; readers load the version and
 * the bucket words with acquire and re-check the versions after (a seqlock without
 * fences, so ThreadSanitizer models it exactly). On x86 all of these are plain moves.
 */
#include "internal.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define U_STRIPES 16 /* reader counters for memory reclamation (one cache line each) */
#define U_MAX_CELLS (1u << 22)
#define U_DEFAULT_LOAD 3.0
#define U_EW 5       /* 64-bit words per bucket entry */
#define U_RETRIES 16 /* optimistic attempts of one query before it excludes the writer */

/* Words of a bucket entry. */
enum { W_X, W_Y, W_ID, W_STATION, W_ATTR };

typedef _Atomic uint64_t u_word;

#define LD(p) atomic_load_explicit((p), memory_order_relaxed)
#define ST(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
/* Bucket contents that readers may be reading: the writer stores with release, readers
 * load with acquire (plain moves on x86). A reader that loads a word stored after a
 * bucket went odd then sees it odd (or changed) when it checks the version. */
#define LDA(p) atomic_load_explicit((p), memory_order_acquire)
#define STR(p, v) atomic_store_explicit((p), (v), memory_order_release)

/* A bucket: version (odd while the writer changes it), entry count and block. */
typedef struct u_hdr {
    _Atomic uint32_t ver;
    _Atomic uint32_t n;
    u_word *_Atomic blk; /* blk[0]: capacity in entries, then U_EW words per entry */
} u_hdr;

/* A grid: immutable geometry and the buckets. Rebuilt grids replace it whole. */
typedef struct u_grid {
    double gx0, gy0, gcs, ginv; /* origin, cell size, 1/cell size */
    uint32_t nx, ny;
    u_hdr *h;       /* nx*ny */
    uint32_t *pend; /* writer scratch: appends per bucket in the batch being reserved */
} u_grid;

/* The units in slot order with the id map: the writer's private state, or a view's
 * snapshot (which has its own grid). */
typedef struct lg_units_state {
    const lg_allocator *alloc;
    uint64_t version;
    size_t n, cap;
    int64_t *id;
    double *x, *y, *t;
    int64_t *station;
    uint32_t *caps;
    uint8_t *status, *kind;
    uint32_t *bucket; /* bucket of each slot */
    uint32_t *pos;    /* position within the bucket */
    /* id -> slot, open addressing with linear probing; key -1 = empty */
    int64_t *hkey;
    uint32_t *hval;
    size_t hcap;    /* power of two */
    u_grid *grid;   /* the registry: the published grid; a view: its own */
    size_t outside; /* units whose position is outside the grid extent */
} u_state;

typedef struct u_stripe {
    _Atomic long n;
    char pad[64 - sizeof(long)];
} u_stripe;

typedef struct u_garbage {
    void *p;
    bool grid; /* a whole u_grid, else one bucket block */
} u_garbage;

struct lg_units {
    lg_allocator alloc;
    _Alignas(64) u_grid *_Atomic live;       /* the grid readers search */
    _Atomic size_t count;                    /* units in the committed state */
    _Atomic unsigned epoch;                  /* reclamation epoch */
    _Alignas(64) u_stripe ind[2][U_STRIPES]; /* readers pinned in each epoch parity */
    _Alignas(64) pthread_mutex_t wlock;
    /* writer only (under wlock) */
    u_state w;
    uint32_t *lk; /* buckets locked by the batch being applied */
    size_t nlk, caplk;
    u_garbage *gb[2]; /* retired in the current epoch [0] and in the previous one [1] */
    size_t ngb[2], capgb[2];
    /* options */
    const lg_layer *cells;
    int64_t *cell_station;
    double detour;
    double speed[LG_UNIT_KINDS];
    double load;
    double lbox[4];
    bool has_lbox;
};

static const double default_speed[LG_UNIT_KINDS] = {11.1, 8.3,  1.4,  4.2,  10.0, 11.1, 11.1, 11.1,
                                                    11.1, 11.1, 11.1, 11.1, 11.1, 11.1, 11.1, 11.1};

static inline uint64_t d2w(double d)
{
    uint64_t w;
    memcpy(&w, &d, sizeof w);
    return w;
}

static inline double w2d(uint64_t w)
{
    double d;
    memcpy(&d, &w, sizeof d);
    return d;
}

static inline void pause_cpu(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_ia32_pause();
#endif
}

/* ------------------------------------------------------------- id map */

static size_t h_index(int64_t id, size_t cap)
{
    return (size_t)(((uint64_t)id * 0x9e3779b97f4a7c15ull) >> 17) & (cap - 1);
}

static int64_t h_find(const u_state *s, int64_t id)
{
    if (!s->hcap)
        return LG_NONE;
    for (size_t i = h_index(id, s->hcap);; i = (i + 1) & (s->hcap - 1)) {
        if (s->hkey[i] == id)
            return s->hval[i];
        if (s->hkey[i] < 0)
            return LG_NONE;
    }
}

static void h_put(u_state *s, int64_t id, uint32_t slot)
{
    size_t i = h_index(id, s->hcap);
    while (s->hkey[i] >= 0 && s->hkey[i] != id)
        i = (i + 1) & (s->hcap - 1);
    s->hkey[i] = id;
    s->hval[i] = slot;
}

/* Delete with backward shift, so lookups never need tombstones. */
static void h_del(u_state *s, int64_t id)
{
    size_t m = s->hcap - 1, i = h_index(id, s->hcap);
    while (s->hkey[i] != id)
        i = (i + 1) & m;
    size_t j = i;
    for (;;) {
        j = (j + 1) & m;
        if (s->hkey[j] < 0)
            break;
        size_t h = h_index(s->hkey[j], s->hcap);
        /* move j to i unless h lies cyclically in (i, j] */
        if ((i <= j) ? (i < h && h <= j) : (i < h || h <= j))
            continue;
        s->hkey[i] = s->hkey[j];
        s->hval[i] = s->hval[j];
        i = j;
    }
    s->hkey[i] = -1;
}

static bool h_reserve(u_state *s, size_t n)
{
    size_t need = 16;
    while (need < 2 * n)
        need *= 2;
    if (need <= s->hcap)
        return true;
    int64_t *k = lg__malloc(s->alloc, need * sizeof *k);
    uint32_t *v = lg__malloc(s->alloc, need * sizeof *v);
    if (!k || !v) {
        lg__free(s->alloc, k);
        lg__free(s->alloc, v);
        return false;
    }
    for (size_t i = 0; i < need; i++)
        k[i] = -1;
    int64_t *ok = s->hkey;
    uint32_t *ov = s->hval;
    size_t oc = s->hcap;
    s->hkey = k;
    s->hval = v;
    s->hcap = need;
    for (size_t i = 0; i < oc; i++)
        if (ok[i] >= 0)
            h_put(s, ok[i], ov[i]);
    lg__free(s->alloc, ok);
    lg__free(s->alloc, ov);
    return true;
}

/* --------------------------------------------------------------- grid */

static bool outside(const u_grid *g, double x, double y)
{
    return !(x >= g->gx0 && y >= g->gy0 && x < g->gx0 + g->gcs * g->nx &&
             y < g->gy0 + g->gcs * g->ny);
}

static uint32_t cell_of(const u_grid *g, double x, double y)
{
    double fx = floor((x - g->gx0) * g->ginv), fy = floor((y - g->gy0) * g->ginv);
    fx = fx < 0 ? 0 : (fx > g->nx - 1 ? g->nx - 1 : fx);
    fy = fy < 0 ? 0 : (fy > g->ny - 1 ? g->ny - 1 : fy);
    return (uint32_t)fy * g->nx + (uint32_t)fx;
}

static u_word *blk_new(const lg_allocator *a, size_t cap)
{
    if (cap > UINT32_MAX / 2)
        return NULL;
    u_word *b = lg__malloc(a, (1 + (size_t)U_EW * cap) * sizeof *b);
    if (b)
        atomic_init(&b[0], (uint64_t)cap);
    return b;
}

static void grid_free(const lg_allocator *a, u_grid *g)
{
    if (!g)
        return;
    if (g->h)
        for (size_t c = 0; c < (size_t)g->nx * g->ny; c++)
            lg__free(a, atomic_load_explicit(&g->h[c].blk, memory_order_relaxed));
    lg__free(a, g->h);
    lg__free(a, g->pend);
    lg__free(a, g);
}

/* Write slot's unit into entry e (relaxed atomic stores: readers may be reading). */
static void ent_write(u_word *e, const u_state *s, uint32_t slot)
{
    STR(&e[W_X], d2w(s->x[slot]));
    STR(&e[W_Y], d2w(s->y[slot]));
    STR(&e[W_ID], (uint64_t)s->id[slot]);
    STR(&e[W_STATION], (uint64_t)s->station[slot]);
    STR(&e[W_ATTR],
        s->caps[slot] | (uint64_t)s->status[slot] << 32 | (uint64_t)s->kind[slot] << 40);
}

/* Geometry of a grid over box with about n/load buckets. */
static void grid_geometry(const double box[4], size_t n, double load, u_grid *g)
{
    double w = box[2] - box[0], h = box[3] - box[1];
    double m = 0.02 * (w > h ? w : h) + 1.0;
    double x0 = box[0] - m, y0 = box[1] - m;
    w += 2 * m;
    h += 2 * m;
    double want = (double)n / load;
    want = want < 1 ? 1 : (want > U_MAX_CELLS ? U_MAX_CELLS : want);
    double cs = sqrt(w * h / want);
    double fnx = ceil(w / cs), fny = ceil(h / cs);
    if (fnx < 1)
        fnx = 1;
    if (fny < 1)
        fny = 1;
    if (fnx * fny > 4.0 * U_MAX_CELLS) {
        /* a very thin extent: widen the cells rather than make millions of them */
        cs = (w > h ? w : h) / 2048;
        fnx = ceil(w / cs);
        fny = ceil(h / cs);
    }
    g->gx0 = x0;
    g->gy0 = y0;
    g->gcs = cs;
    g->ginv = 1.0 / cs;
    g->nx = (uint32_t)fnx;
    g->ny = (uint32_t)fny;
}

/*
 * A new grid with the geometry of geo holding the units of s; sets s->bucket, s->pos
 * and s->outside. NULL on NOMEM (s untouched). The grid is private until published.
 */
static u_grid *grid_build(const lg_allocator *a, u_state *s, const u_grid *geo)
{
    size_t nc = (size_t)geo->nx * geo->ny;
    u_grid *g = lg__calloc(a, 1, sizeof *g);
    if (!g)
        return NULL;
    *g = *geo;
    g->h = lg__calloc(a, nc, sizeof *g->h);
    g->pend = lg__calloc(a, nc, sizeof *g->pend);
    if (!g->h || !g->pend) {
        grid_free(a, g);
        return NULL;
    }
    for (size_t i = 0; i < s->n; i++)
        g->pend[cell_of(g, s->x[i], s->y[i])]++;
    for (size_t c = 0; c < nc; c++) {
        size_t cap = 4;
        while (cap < g->pend[c])
            cap *= 2;
        u_word *b = blk_new(a, cap);
        if (!b) {
            grid_free(a, g);
            return NULL;
        }
        atomic_init(&g->h[c].blk, b);
        atomic_init(&g->h[c].ver, 0);
        atomic_init(&g->h[c].n, 0);
        g->pend[c] = 0;
    }
    s->outside = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        uint32_t c = cell_of(g, s->x[i], s->y[i]);
        u_hdr *h = &g->h[c];
        uint32_t p = LD(&h->n);
        ent_write(LD(&h->blk) + 1 + (size_t)p * U_EW, s, i);
        ST(&h->n, p + 1);
        s->bucket[i] = c;
        s->pos[i] = p;
        s->outside += outside(g, s->x[i], s->y[i]);
    }
    return g;
}

/* -------------------------------------------------------------- state */

static void st_free(u_state *s)
{
    const lg_allocator *a = s->alloc;
    lg__free(a, s->id);
    lg__free(a, s->x);
    lg__free(a, s->y);
    lg__free(a, s->t);
    lg__free(a, s->station);
    lg__free(a, s->caps);
    lg__free(a, s->status);
    lg__free(a, s->kind);
    lg__free(a, s->bucket);
    lg__free(a, s->pos);
    lg__free(a, s->hkey);
    lg__free(a, s->hval);
    grid_free(a, s->grid);
    memset(s, 0, sizeof *s);
    s->alloc = a;
}

static bool grow(const lg_allocator *a, void **p, size_t n, size_t sz)
{
    void *q = lg__realloc(a, *p, n * sz);
    if (!q)
        return false;
    *p = q;
    return true;
}

static bool st_reserve_units(u_state *s, size_t n)
{
    if (n > UINT32_MAX - 1)
        return false;
    if (n > s->cap) {
        size_t c = s->cap ? s->cap : 64;
        while (c < n)
            c *= 2;
        const lg_allocator *a = s->alloc;
        if (!grow(a, (void **)&s->id, c, sizeof *s->id) ||
            !grow(a, (void **)&s->x, c, sizeof *s->x) ||
            !grow(a, (void **)&s->y, c, sizeof *s->y) ||
            !grow(a, (void **)&s->t, c, sizeof *s->t) ||
            !grow(a, (void **)&s->station, c, sizeof *s->station) ||
            !grow(a, (void **)&s->caps, c, sizeof *s->caps) ||
            !grow(a, (void **)&s->status, c, sizeof *s->status) ||
            !grow(a, (void **)&s->kind, c, sizeof *s->kind) ||
            !grow(a, (void **)&s->bucket, c, sizeof *s->bucket) ||
            !grow(a, (void **)&s->pos, c, sizeof *s->pos))
            return false;
        s->cap = c;
    }
    return h_reserve(s, n);
}

/* ------------------------------------------------- reclamation (writer) */

static bool gb_reserve(lg_units *u, size_t extra)
{
    size_t need = u->ngb[0] + extra;
    if (need <= u->capgb[0])
        return true;
    size_t c = u->capgb[0] ? u->capgb[0] : 16;
    while (c < need)
        c *= 2;
    if (!grow(&u->alloc, (void **)&u->gb[0], c, sizeof *u->gb[0]))
        return false;
    u->capgb[0] = c;
    return true;
}

/* Unlinked memory, freed once no reader can hold it (room reserved by gb_reserve). */
static void retire(lg_units *u, void *p, bool is_grid)
{
    u->gb[0][u->ngb[0]++] = (u_garbage){p, is_grid};
}

static void gb_free_list(lg_units *u, int l)
{
    for (size_t i = 0; i < u->ngb[l]; i++) {
        if (u->gb[l][i].grid)
            grid_free(&u->alloc, u->gb[l][i].p);
        else
            lg__free(&u->alloc, u->gb[l][i].p);
    }
    u->ngb[l] = 0;
}

static bool epoch_drained(lg_units *u, unsigned parity)
{
    for (int i = 0; i < U_STRIPES; i++)
        if (atomic_load(&u->ind[parity][i].n) != 0)
            return false;
    return true;
}

/*
 * Advance the epoch when no reader of the previous one is left: what was retired two
 * epochs ago is then unreachable. Never waits; runs only when there is garbage, so the
 * writer does not read the readers' counters otherwise.
 */
static void reclaim(lg_units *u)
{
    if (!u->ngb[0] && !u->ngb[1])
        return;
    unsigned e = atomic_load(&u->epoch);
    if (!epoch_drained(u, (e + 1) & 1))
        return;
    gb_free_list(u, 1);
    u_garbage *t = u->gb[1];
    size_t tc = u->capgb[1];
    u->gb[1] = u->gb[0];
    u->capgb[1] = u->capgb[0];
    u->ngb[1] = u->ngb[0];
    u->gb[0] = t;
    u->capgb[0] = tc;
    u->ngb[0] = 0;
    atomic_store(&u->epoch, e + 1);
}

/* ------------------------------------------------------- readers' pin */

static unsigned my_stripe(void)
{
    /* Threads have disjoint stacks: hash this frame's address. Two threads sharing a
     * stripe only share a cache line, never correctness. */
    int probe;
    uint64_t a = (uint64_t)(uintptr_t)&probe >> 14;
    return (unsigned)((a * 0x9e3779b97f4a7c15ull) >> 60) & (U_STRIPES - 1);
}

/* Pin the current epoch: memory reachable from now on stays allocated until unpin. */
static _Atomic long *pin(lg_units *u)
{
    unsigned s = my_stripe();
    for (;;) {
        unsigned e = atomic_load(&u->epoch);
        _Atomic long *c = &u->ind[e & 1][s].n;
        atomic_fetch_add(c, 1);
        if (atomic_load(&u->epoch) == e)
            return c;
        atomic_fetch_sub(c, 1);
    }
}

static void unpin(_Atomic long *c)
{
    atomic_fetch_sub(c, 1);
}

/* ------------------------------------------------------ writer: buckets */

/* Make bucket c odd (the writer changes it) unless this batch already did. */
static void lock_bucket(lg_units *u, const u_grid *g, uint32_t c)
{
    uint32_t v = LD(&g->h[c].ver);
    if (v & 1)
        return;
    ST(&g->h[c].ver, v + 1);
    u->lk[u->nlk++] = c;
}

static void unlock_all(lg_units *u, const u_grid *g)
{
    for (size_t i = 0; i < u->nlk; i++) {
        _Atomic uint32_t *v = &g->h[u->lk[i]].ver;
        atomic_store_explicit(v, LD(v) + 1, memory_order_release);
    }
    u->nlk = 0;
}

static void b_append(u_state *s, u_grid *g, uint32_t c, uint32_t slot)
{
    u_hdr *h = &g->h[c];
    uint32_t p = LD(&h->n);
    ent_write(LD(&h->blk) + 1 + (size_t)p * U_EW, s, slot);
    STR(&h->n, p + 1);
    s->bucket[slot] = c;
    s->pos[slot] = p;
}

static void b_remove(u_state *s, u_grid *g, uint32_t slot)
{
    u_hdr *h = &g->h[s->bucket[slot]];
    uint32_t p = s->pos[slot], last = LD(&h->n) - 1;
    if (p != last) {
        u_word *e = LD(&h->blk) + 1;
        for (int w = 0; w < U_EW; w++)
            STR(&e[(size_t)p * U_EW + w], LD(&e[(size_t)last * U_EW + w]));
        int64_t moved = (int64_t)LD(&e[(size_t)p * U_EW + W_ID]);
        s->pos[h_find(s, moved)] = p;
    }
    STR(&h->n, last);
}

/*
 * Room for extra more entries in bucket c: a bigger block with the same entries
 * replaces the old one, which is retired (readers may still read either: same
 * contents). False on NOMEM.
 */
static bool b_room(lg_units *u, u_grid *g, uint32_t c, size_t extra)
{
    u_hdr *h = &g->h[c];
    u_word *old = LD(&h->blk);
    size_t n = LD(&h->n), cap = (size_t)LD(&old[0]);
    if (n + extra <= cap)
        return true;
    while (cap < n + extra)
        cap *= 2;
    u_word *b = blk_new(&u->alloc, cap);
    if (!b)
        return false;
    for (size_t i = 0; i < n * U_EW; i++)
        atomic_init(&b[1 + i], LD(&old[1 + i]));
    atomic_store_explicit(&h->blk, b, memory_order_release);
    retire(u, old, false);
    return true;
}

/* ------------------------------------------------------- writer: batches */

/*
 * Reserve everything applying the batch may allocate, so that the apply itself cannot
 * fail. False on NOMEM (nothing readers see has changed).
 */
static bool w_reserve(lg_units *u, const lg_units_batch *b)
{
    u_state *s = &u->w;
    if (!st_reserve_units(s, s->n + b->n))
        return false;
    if (u->caplk < 2 * b->n + 2) {
        size_t c = 2 * b->n + 2;
        if (!grow(&u->alloc, (void **)&u->lk, c, sizeof *u->lk))
            return false;
        u->caplk = c;
    }
    /* a growth per bucket the batch appends to, and a grid */
    if (!gb_reserve(u, b->n + 1))
        return false;
    if (!s->grid) {
        /* no grid yet: an empty 1x1 grid at the first unit; the regrid after the
         * batch replaces it */
        u_grid geo = {0};
        geo.gx0 = b->x && b->n ? b->x[0] : 0;
        geo.gy0 = b->y && b->n ? b->y[0] : 0;
        geo.gcs = geo.ginv = 1;
        geo.nx = geo.ny = 1;
        u_grid *g = grid_build(&u->alloc, s, &geo);
        if (!g)
            return false;
        s->grid = g;
        atomic_store_explicit(&u->live, g, memory_order_release);
    }
    if (!b->x)
        return true; /* no moves: every unit stays in its bucket */
    u_grid *g = s->grid;
    for (size_t i = 0; i < b->n; i++)
        g->pend[cell_of(g, b->x[i], b->y[i])]++;
    bool ok = true;
    for (size_t i = 0; i < b->n; i++) {
        uint32_t c = cell_of(g, b->x[i], b->y[i]);
        if (g->pend[c]) {
            ok = ok && b_room(u, g, c, g->pend[c]);
            g->pend[c] = 0;
        }
    }
    return ok;
}

/* Rebuild the grid when it no longer fits the count or the extent (best effort). */
static void w_maybe_regrid(lg_units *u)
{
    u_state *s = &u->w;
    u_grid *g = s->grid;
    if (s->n == 0 || !g)
        return;
    size_t nc = (size_t)g->nx * g->ny;
    double per = (double)s->n / (double)nc;
    bool need = per > 4 * u->load || (per < u->load / 8 && nc > 64) || s->outside > s->n / 8 + 8;
    if (!need || !gb_reserve(u, 1))
        return;
    double box[4] = {s->x[0], s->y[0], s->x[0], s->y[0]};
    for (size_t i = 1; i < s->n; i++) {
        box[0] = s->x[i] < box[0] ? s->x[i] : box[0];
        box[1] = s->y[i] < box[1] ? s->y[i] : box[1];
        box[2] = s->x[i] > box[2] ? s->x[i] : box[2];
        box[3] = s->y[i] > box[3] ? s->y[i] : box[3];
    }
    if (u->has_lbox) {
        box[0] = u->lbox[0] < box[0] ? u->lbox[0] : box[0];
        box[1] = u->lbox[1] < box[1] ? u->lbox[1] : box[1];
        box[2] = u->lbox[2] > box[2] ? u->lbox[2] : box[2];
        box[3] = u->lbox[3] > box[3] ? u->lbox[3] : box[3];
    }
    u_grid geo = {0};
    grid_geometry(box, s->n, u->load, &geo);
    u_grid *ng = grid_build(&u->alloc, s, &geo);
    if (!ng)
        return; /* the old grid stays valid */
    s->grid = ng;
    atomic_store_explicit(&u->live, ng, memory_order_release);
    retire(u, g, true);
}

/* Apply a checked batch whose allocations are reserved: lock, change, unlock. */
static void w_apply(lg_units *u, const lg_units_batch *b)
{
    u_state *s = &u->w;
    u_grid *g = s->grid;
    /* every bucket the batch touches: the unit's bucket now and where it goes (an id
     * repeated or new in this batch: its earlier record locked its bucket) */
    for (size_t i = 0; i < b->n; i++) {
        int64_t f = h_find(s, b->ids[i]);
        if (f >= 0)
            lock_bucket(u, g, s->bucket[f]);
        if (b->x)
            lock_bucket(u, g, cell_of(g, b->x[i], b->y[i]));
    }
    for (size_t i = 0; i < b->n; i++) {
        int64_t id = b->ids[i];
        int64_t f = h_find(s, id);
        uint32_t slot;
        if (f < 0) {
            slot = (uint32_t)s->n++;
            s->id[slot] = id;
            s->t[slot] = NAN;
            s->status[slot] = LG_STATUS_AVAILABLE;
            s->caps[slot] = 0;
            s->kind[slot] = LG_UNIT_CAR;
            s->station[slot] = LG_NONE;
            h_put(s, id, slot);
        } else {
            slot = (uint32_t)f;
            b_remove(s, g, slot);
            s->outside -= outside(g, s->x[slot], s->y[slot]);
        }
        if (b->x) {
            s->x[slot] = b->x[i];
            s->y[slot] = b->y[i];
        }
        if (b->time_s)
            s->t[slot] = b->time_s[i];
        if (b->status)
            s->status[slot] = (uint8_t)b->status[i];
        if (b->caps)
            s->caps[slot] = b->caps[i];
        if (b->kind)
            s->kind[slot] = (uint8_t)b->kind[i];
        if (b->station)
            s->station[slot] = b->station[i];
        b_append(s, g, cell_of(g, s->x[slot], s->y[slot]), slot);
        s->outside += outside(g, s->x[slot], s->y[slot]);
    }
    unlock_all(u, g);
    s->version++;
    atomic_store_explicit(&u->count, s->n, memory_order_relaxed);
}

static void w_remove(lg_units *u, const int64_t *ids, size_t n)
{
    u_state *s = &u->w;
    u_grid *g = s->grid;
    for (size_t i = 0; i < n; i++) {
        int64_t f = h_find(s, ids[i]);
        if (f >= 0)
            lock_bucket(u, g, s->bucket[f]);
    }
    for (size_t i = 0; i < n; i++) {
        int64_t f = h_find(s, ids[i]);
        if (f < 0)
            continue; /* a duplicate in the batch, already gone */
        uint32_t slot = (uint32_t)f, last = (uint32_t)s->n - 1;
        b_remove(s, g, slot);
        s->outside -= outside(g, s->x[slot], s->y[slot]);
        h_del(s, ids[i]);
        if (slot != last) {
            /* move the last unit into the hole (slots are the writer's own: entries
             * carry ids, so the buckets do not change) */
            s->id[slot] = s->id[last];
            s->x[slot] = s->x[last];
            s->y[slot] = s->y[last];
            s->t[slot] = s->t[last];
            s->station[slot] = s->station[last];
            s->caps[slot] = s->caps[last];
            s->status[slot] = s->status[last];
            s->kind[slot] = s->kind[last];
            s->bucket[slot] = s->bucket[last];
            s->pos[slot] = s->pos[last];
            h_put(s, s->id[slot], slot);
        }
        s->n--;
    }
    unlock_all(u, g);
    s->version++;
    atomic_store_explicit(&u->count, s->n, memory_order_relaxed);
}

/* ------------------------------------------------------------ lifecycle */

lg_error lg_units_new(lg_context *ctx, const lg_units_options *opt, lg_units **out)
{
    lg__clear(ctx);
    if (!out)
        return lg__fail(ctx, LG_ERR_ARG, "lg_units_new: out is NULL");
    *out = NULL;
    lg_units_options o = {0};
    if (opt)
        o = *opt;
    const lg_allocator *a = ctx ? &ctx->alloc : &lg__default_allocator;
    if (o.detour < 0 || isnan(o.detour) || isinf(o.detour))
        return lg__fail(ctx, LG_ERR_ARG, "lg_units_new: detour factor %g is not a positive number",
                        o.detour);
    if (o.bucket_load < 0 || isnan(o.bucket_load) || isinf(o.bucket_load))
        return lg__fail(ctx, LG_ERR_ARG, "lg_units_new: bucket_load %g is not a positive number",
                        o.bucket_load);
    for (int k = 0; k < LG_UNIT_KINDS; k++)
        if (isnan(o.speed_mps[k]) || isinf(o.speed_mps[k]))
            return lg__fail(ctx, LG_ERR_ARG, "lg_units_new: speed of kind %d is %g", k,
                            o.speed_mps[k]);
    lg_units *u = lg__calloc(a, 1, sizeof *u);
    if (!u)
        return lg__fail(ctx, LG_ERR_NOMEM, "lg_units_new: out of memory");
    u->alloc = *a;
    u->w.alloc = &u->alloc;
    atomic_init(&u->live, NULL);
    atomic_init(&u->count, 0);
    atomic_init(&u->epoch, 0);
    for (int v = 0; v < 2; v++)
        for (int i = 0; i < U_STRIPES; i++)
            atomic_init(&u->ind[v][i].n, 0);
    if (pthread_mutex_init(&u->wlock, NULL) != 0) {
        lg__free(a, u);
        return lg__fail(ctx, LG_ERR_INTERNAL, "lg_units_new: cannot create the writer mutex");
    }
    u->detour = o.detour > 0 ? o.detour : 1.3;
    u->load = o.bucket_load > 0 ? o.bucket_load : U_DEFAULT_LOAD;
    for (int k = 0; k < LG_UNIT_KINDS; k++)
        u->speed[k] = o.speed_mps[k] > 0 ? o.speed_mps[k] : default_speed[k];
    u->cells = o.cells;
    if (o.cells) {
        size_t nc = lg_layer_count(o.cells);
        u->has_lbox = lg_layer_bounds(o.cells, u->lbox);
        u->cell_station = lg__malloc(&u->alloc, nc * sizeof *u->cell_station);
        if (!u->cell_station) {
            lg_units_free(u);
            return lg__fail(ctx, LG_ERR_NOMEM, "lg_units_new: out of memory");
        }
        for (size_t i = 0; i < nc; i++)
            u->cell_station[i] = o.cell_station ? o.cell_station[i] : LG_NONE;
    }
    *out = u;
    return LG_OK;
}

void lg_units_free(lg_units *u)
{
    if (!u)
        return;
    st_free(&u->w);
    gb_free_list(u, 0);
    gb_free_list(u, 1);
    lg__free(&u->alloc, u->gb[0]);
    lg__free(&u->alloc, u->gb[1]);
    lg__free(&u->alloc, u->lk);
    lg__free(&u->alloc, u->cell_station);
    pthread_mutex_destroy(&u->wlock);
    lg__free(&u->alloc, u);
}

/* ------------------------------------------------------------ writers */

static lg_error check_batch(lg_context *ctx, const lg_units *u, const lg_units_batch *b)
{
    if (!b || (b->n && !b->ids))
        return lg__fail(ctx, LG_ERR_ARG, "lg_units_update: batch or ids is NULL");
    if ((b->x == NULL) != (b->y == NULL))
        return lg__fail(ctx, LG_ERR_ARG,
                        "lg_units_update: x and y must both be given or both NULL");
    for (size_t i = 0; i < b->n; i++) {
        int64_t id = b->ids[i];
        if (id < 0)
            return lg__fail(ctx, LG_ERR_ARG,
                            "lg_units_update: record %zu: unit id %lld is negative", i,
                            (long long)id);
        if (b->x && !(isfinite(b->x[i]) && isfinite(b->y[i])))
            return lg__fail(
                ctx, LG_ERR_ARG,
                "lg_units_update: record %zu (unit %lld): position (%g, %g) is not finite", i,
                (long long)id, b->x[i], b->y[i]);
        if (b->status && (b->status[i] < 0 || b->status[i] > 31))
            return lg__fail(ctx, LG_ERR_ARG,
                            "lg_units_update: record %zu (unit %lld): status %d is not in 0..31", i,
                            (long long)id, (int)b->status[i]);
        if (b->kind && (b->kind[i] < 0 || b->kind[i] >= LG_UNIT_KINDS))
            return lg__fail(ctx, LG_ERR_ARG,
                            "lg_units_update: record %zu (unit %lld): kind %d is not in 0..%d", i,
                            (long long)id, (int)b->kind[i], LG_UNIT_KINDS - 1);
        if (!b->x && h_find(&u->w, id) < 0)
            return lg__fail(ctx, LG_ERR_NOT_FOUND,
                            "lg_units_update: record %zu: unknown unit %lld and no position to "
                            "insert it with",
                            i, (long long)id);
    }
    return LG_OK;
}

lg_error lg_units_update(lg_context *ctx, lg_units *u, const lg_units_batch *b)
{
    lg__clear(ctx);
    if (!u)
        return lg__fail(ctx, LG_ERR_ARG, "lg_units_update: units is NULL");
    pthread_mutex_lock(&u->wlock);
    lg_error err = check_batch(ctx, u, b);
    if (!err && !w_reserve(u, b))
        err = lg__fail(ctx, LG_ERR_NOMEM, "lg_units_update: out of memory for %zu units", b->n);
    if (!err && b->n) {
        w_apply(u, b);
        w_maybe_regrid(u);
    } else if (!err) {
        u->w.version++; /* an empty batch still counts */
    }
    reclaim(u);
    pthread_mutex_unlock(&u->wlock);
    return err;
}

lg_error lg_units_remove(lg_context *ctx, lg_units *u, const int64_t *ids, size_t n)
{
    lg__clear(ctx);
    if (!u || (n && !ids))
        return lg__fail(ctx, LG_ERR_ARG, "lg_units_remove: units or ids is NULL");
    pthread_mutex_lock(&u->wlock);
    lg_error err = LG_OK;
    for (size_t i = 0; i < n && !err; i++)
        if (h_find(&u->w, ids[i]) < 0)
            err = lg__fail(ctx, LG_ERR_NOT_FOUND, "lg_units_remove: record %zu: unknown unit %lld",
                           i, (long long)ids[i]);
    if (!err && u->caplk < n + 1) {
        if (grow(&u->alloc, (void **)&u->lk, n + 1, sizeof *u->lk))
            u->caplk = n + 1;
        else
            err = lg__fail(ctx, LG_ERR_NOMEM, "lg_units_remove: out of memory");
    }
    if (!err) {
        if (n)
            w_remove(u, ids, n);
        else
            u->w.version++;
        w_maybe_regrid(u);
    }
    reclaim(u);
    pthread_mutex_unlock(&u->wlock);
    return err;
}

lg_error lg_units_flush(lg_context *ctx, lg_units *u)
{
    lg__clear(ctx);
    if (!u)
        return lg__fail(ctx, LG_ERR_ARG, "lg_units_flush: units is NULL");
    /* every update is visible when it returns: nothing to publish */
    pthread_mutex_lock(&u->wlock);
    reclaim(u);
    pthread_mutex_unlock(&u->wlock);
    return LG_OK;
}

size_t lg_units_count(lg_units *u)
{
    return u ? atomic_load_explicit(&u->count, memory_order_relaxed) : 0;
}

/* ------------------------------------------------------------- queries */

typedef struct u_cand {
    double d;
    int64_t id;
    int64_t station;
    double x, y;
    uint32_t kind;
} u_cand;

/* A bucket read and the version it had. */
typedef struct u_read {
    uint32_t c, v;
} u_read;

#define Q_COLLECT 64 /* entries collected before they are offered */

#if defined(__GNUC__)
#define U_INLINE static inline __attribute__((always_inline))
#define U_NOINLINE static __attribute__((noinline))
#else
#define U_INLINE static inline
#define U_NOINLINE static
#endif

typedef struct u_query {
    const u_grid *g;
    uint32_t kind_status[LG_UNIT_KINDS]; /* statuses accepted for each kind (0: the kind is not) */
    uint32_t call, cany;
    bool by_station;
    bool full; /* the filter tests capabilities or the station, not only status and kind */
    int64_t station;
    double maxd;
    u_cand *c; /* the answer, sorted ascending by (d, id) */
    size_t n, k, ccap;
    double worst2; /* squared distances above this cannot enter */
    u_read *rs;    /* read set */
    size_t nrs, caprs;
    const lg_allocator *alloc;
    u_cand *cbuf; /* the caller's stack buffers, not freed */
    u_read *rbuf;
    enum { Q_OK, Q_ODD, Q_NOMEM } status;
    uint32_t odd;     /* an odd bucket met */
    uint32_t oddseen; /* bit 0: some bucket read was odd */
    /* entries collected by q_bucket, not yet offered */
    uint32_t m;
    const u_word *pe[Q_COLLECT];
    double pd2[Q_COLLECT];
} u_query;

/* Lower bound of the squared distance from (x, y) to bucket (xx, yy); border buckets
 * extend to infinity (they hold the units outside the grid). */
static inline double cell_d2(const u_grid *g, long xx, long yy, double x, double y, double slack)
{
    /* the gap to each side (negative inside); an open border side has no gap */
    double lo = g->gx0 + (double)xx * g->gcs, hi = lo + g->gcs;
    double gl = xx == 0 ? -INFINITY : lo - x, gh = xx == (long)g->nx - 1 ? -INFINITY : x - hi;
    double dx = (gl > gh ? gl : gh) - slack;
    lo = g->gy0 + (double)yy * g->gcs;
    hi = lo + g->gcs;
    gl = yy == 0 ? -INFINITY : lo - y;
    gh = yy == (long)g->ny - 1 ? -INFINITY : y - hi;
    double dy = (gl > gh ? gl : gh) - slack;
    dx = dx > 0 ? dx : 0;
    dy = dy > 0 ? dy : 0;
    return dx * dx + dy * dy;
}

static bool q_grow_cands(u_query *q)
{
    size_t c = q->ccap * 2 < q->k ? q->ccap * 2 : q->k;
    u_cand *p = lg__malloc(q->alloc, c * sizeof *p);
    if (!p)
        return false;
    memcpy(p, q->c, q->n * sizeof *p);
    if (q->c != q->cbuf)
        lg__free(q->alloc, q->c);
    q->c = p;
    q->ccap = c;
    return true;
}

static bool q_grow_reads(u_query *q)
{
    size_t c = q->caprs * 2;
    u_read *p = lg__malloc(q->alloc, c * sizeof *p);
    if (!p)
        return false;
    memcpy(p, q->rs, q->nrs * sizeof *p);
    if (q->rs != q->rbuf)
        lg__free(q->alloc, q->rs);
    q->rs = p;
    q->caprs = c;
    return true;
}

static void q_set_worst(u_query *q, double w)
{
    double t = w * w * (1.0 + 1e-14) + 1e-300;
    q->worst2 = t < q->worst2 ? t : q->worst2;
}

/* Offer an entry that passed the distance and attribute tests to the k best. */
static void q_offer(u_query *q, const u_word *e, double d2)
{
    if (d2 > q->worst2)
        return;
    int64_t station = (int64_t)LDA(&e[W_STATION]);
    if (q->by_station && station != q->station)
        return;
    double d = sqrt(d2);
    if (!(d <= q->maxd))
        return;
    int64_t id = (int64_t)LDA(&e[W_ID]);
    size_t j = q->n;
    if (j == q->k) {
        const u_cand *w = &q->c[j - 1];
        if (d > w->d || (d == w->d && id > w->id))
            return;
        j--;
    } else {
        if (q->n == q->ccap && !q_grow_cands(q)) {
            q->status = Q_NOMEM;
            return;
        }
        q->n++;
    }
    while (j > 0 && (q->c[j - 1].d > d || (q->c[j - 1].d == d && q->c[j - 1].id > id))) {
        q->c[j] = q->c[j - 1];
        j--;
    }
    q->c[j] = (u_cand){d,
                       id,
                       station,
                       w2d(LDA(&e[W_X])),
                       w2d(LDA(&e[W_Y])),
                       (uint32_t)(LDA(&e[W_ATTR]) >> 40) & 0xff};
    if (q->n == q->k)
        q_set_worst(q, q->c[q->k - 1].d);
}

/* Does entry f pass the distance bound and the filter? Branch-free: these tests are
 * unpredictable, and a mispredicted branch costs more than the test. full: test the
 * capabilities and the station too. */
U_INLINE uint32_t q_test(const u_query *q, const u_word *f, double x, double y, double worst2,
                         double *d2out, bool full)
{
    double dx = w2d(LDA(&f[W_X])) - x, dy = w2d(LDA(&f[W_Y])) - y;
    double d2 = dx * dx + dy * dy;
    uint64_t a = LDA(&f[W_ATTR]);
    *d2out = d2;
    uint32_t r =
        (q->kind_status[(a >> 40) & (LG_UNIT_KINDS - 1)] >> ((a >> 32) & 31)) & (d2 <= worst2);
    if (full) {
        uint32_t caps = (uint32_t)a;
        r &= ((caps & q->call) == q->call) & (((caps & q->cany) != 0) | (q->cany == 0));
        r &= !q->by_station | ((int64_t)LDA(&f[W_STATION]) == q->station);
    }
    return r & 1u;
}

/* Offer the entries collected so far. */
static void q_flush(u_query *q)
{
    for (uint32_t j = 0; j < q->m && q->status == Q_OK; j++)
        q_offer(q, q->pe[j], q->pd2[j]);
    q->m = 0;
}

/*
 * Read bucket c: record its version, and collect the entries that pass the tests
 * (q_flush offers them; collecting several buckets before offering saves branches).
 * An odd version is recorded too (the entries read are then garbage, but memory-safe
 * to read), and q_run reports it once it is done.
 */
U_INLINE void q_bucket_impl(u_query *q, uint32_t c, double x, double y, bool full)
{
    const u_hdr *h = &q->g->h[c];
    uint32_t v = atomic_load_explicit(&h->ver, memory_order_acquire);
    q->odd = v & 1 ? c : q->odd;
    q->oddseen |= v;
    q->rs[q->nrs++] = (u_read){c, v};
    const u_word *blk = atomic_load_explicit(&h->blk, memory_order_acquire);
    uint32_t n = LDA(&h->n);
    uint64_t cap = LD(&blk[0]); /* set before the block was published */
    if (n > cap)
        n = (uint32_t)cap; /* a torn read: memory-safe, and the check will fail */
    const u_word *e = blk + 1;
    if (q->m + 4 > Q_COLLECT)
        q_flush(q);
    /* every block holds at least 4 entries: test 4 without a loop (entries past n are
     * stale but readable; their result is masked) */
    double worst2 = q->worst2;
    uint32_t m = q->m;
    for (uint32_t i = 0; i < 4; i++) {
        q->pe[m] = e + (size_t)i * U_EW;
        m += q_test(q, e + (size_t)i * U_EW, x, y, worst2, &q->pd2[m], full) & (i < n);
    }
    q->m = m;
    for (uint32_t i = 4; i < n; i++) {
        if (q->m == Q_COLLECT)
            q_flush(q);
        worst2 = q->worst2;
        q->pe[q->m] = e + (size_t)i * U_EW;
        q->m += q_test(q, e + (size_t)i * U_EW, x, y, worst2, &q->pd2[q->m], full);
    }
}

U_NOINLINE void q_bucket_plain(u_query *q, uint32_t c, double x, double y)
{
    q_bucket_impl(q, c, x, y, false);
}

U_NOINLINE void q_bucket_full(u_query *q, uint32_t c, double x, double y)
{
    q_bucket_impl(q, c, x, y, true);
}

/* k nearest for one incident: rings of buckets outward until the bound stops us. Stops
 * early (status != Q_OK) on NOMEM; reports an odd bucket met (Q_ODD) at the end. */
U_INLINE void q_run_impl(u_query *q, double x, double y, bool full)
{
    void (*const bucket)(u_query *, uint32_t, double, double) =
        full ? q_bucket_full : q_bucket_plain;
    const u_grid *g = q->g;
    q->n = 0;
    q->m = 0;
    q->nrs = 0;
    q->status = Q_OK;
    q->oddseen = 0;
    q->worst2 = isinf(q->maxd) ? INFINITY : q->maxd * q->maxd * (1.0 + 1e-14) + 1e-300;
    if (!g)
        return;
    long nx = g->nx, ny = g->ny;
    uint32_t c0 = cell_of(g, x, y);
    long cx = c0 % g->nx, cy = c0 / g->nx;
    /* slack for floor() at cell boundaries: a point just left of a boundary may sit in
     * the bucket to its right */
    double slack = g->gcs * 1e-9 + 1e-9 * (fabs(x) + fabs(y));
    /* the 3 x 3 block around the incident, collected at once (the read set holds at
     * least 128 buckets) */
    if (cx > 0 && cy > 0 && cx < nx - 1 && cy < ny - 1) {
        uint32_t b = c0 - (uint32_t)nx - 1;
        for (int r = 0; r < 3; r++, b += (uint32_t)nx) {
            bucket(q, b, x, y);
            bucket(q, b + 1, x, y);
            bucket(q, b + 2, x, y);
        }
    } else {
        for (long yy = cy - 1; yy <= cy + 1; yy++) {
            if (yy < 0 || yy >= ny)
                continue;
            for (long xx = cx - 1; xx <= cx + 1; xx++)
                if (xx >= 0 && xx < nx)
                    bucket(q, (uint32_t)(yy * nx + xx), x, y);
        }
    }
    q_flush(q);
    if (q->status != Q_OK)
        return;
    for (long r = 1;; r++) {
        long xa = cx - r, xb = cx + r, ya = cy - r, yb = cy + r;
        if (r > 1) {
            long lo = xa < 0 ? 0 : xa, hi = xb >= nx ? nx - 1 : xb;
            for (long yy = ya < 0 ? 0 : ya; yy <= yb && yy < ny; yy++) {
                uint32_t row = (uint32_t)(yy * nx);
                long step = (yy == ya || yy == yb) ? 1 : 2 * r;
                for (long xx = (step == 1 ? lo : xa); xx <= hi; xx += step) {
                    if (xx < 0 || cell_d2(g, xx, yy, x, y, slack) > q->worst2)
                        continue;
                    if (q->nrs == q->caprs && !q_grow_reads(q)) {
                        q->status = Q_NOMEM;
                        return;
                    }
                    bucket(q, row + (uint32_t)xx, x, y);
                    q_flush(q);
                    if (q->status != Q_OK)
                        return;
                }
            }
        }
        /* distance from (x, y) to the nearest unscanned bucket; border sides are open */
        double lb = INFINITY;
        if (xa > 0) {
            double d = x - (g->gx0 + (double)xa * g->gcs);
            lb = d < lb ? d : lb;
        }
        if (xb < nx - 1) {
            double d = (g->gx0 + (double)(xb + 1) * g->gcs) - x;
            lb = d < lb ? d : lb;
        }
        if (ya > 0) {
            double d = y - (g->gy0 + (double)ya * g->gcs);
            lb = d < lb ? d : lb;
        }
        if (yb < ny - 1) {
            double d = (g->gy0 + (double)(yb + 1) * g->gcs) - y;
            lb = d < lb ? d : lb;
        }
        if (isinf(lb))
            return; /* every bucket scanned */
        lb -= slack;
        if (lb > 0 && lb * lb > q->worst2)
            return;
    }
}

U_NOINLINE void q_run_plain(u_query *q, double x, double y)
{
    q_run_impl(q, x, y, false);
}

U_NOINLINE void q_run_full(u_query *q, double x, double y)
{
    q_run_impl(q, x, y, true);
}

static void q_run(u_query *q, double x, double y)
{
    if (q->full)
        q_run_full(q, x, y);
    else
        q_run_plain(q, x, y);
    if ((q->oddseen & 1) && q->status == Q_OK)
        q->status = Q_ODD;
}
/* Did every bucket read keep its version, and the grid stay published? */
static bool q_valid(const u_query *q, lg_units *live)
{
    /* the acquire loads of the bucket words keep these loads after them */
    for (size_t i = 0; i < q->nrs; i++)
        if (LD(&q->g->h[q->rs[i].c].ver) != q->rs[i].v)
            return false;
    return atomic_load_explicit(&live->live, memory_order_relaxed) == q->g;
}

/* Wait until bucket c of g is even again: spin for about a microsecond, then sleep on
 * the writer's mutex (the writer holds it for the whole batch). */
static void wait_even(lg_units *u, const u_grid *g, uint32_t c)
{
    for (int i = 0; i < 2048; i++) {
        if (!(atomic_load_explicit(&g->h[c].ver, memory_order_relaxed) & 1))
            return;
        pause_cpu();
    }
    pthread_mutex_lock(&u->wlock);
    pthread_mutex_unlock(&u->wlock);
}

/* One incident against the live grid: optimistic attempts, then under the mutex. */
static void q_live(u_query *q, lg_units *u, double x, double y)
{
    for (int attempt = 0; attempt < U_RETRIES; attempt++) {
        q->g = atomic_load_explicit(&u->live, memory_order_acquire);
        q_run(q, x, y);
        if (q->status == Q_NOMEM)
            break;
        if (q->status == Q_ODD) {
            wait_even(u, q->g, q->odd);
            continue;
        }
        if (q_valid(q, u))
            return;
    }
    /* the writer is too busy (or a read set could not grow): exclude it */
    pthread_mutex_lock(&u->wlock);
    q->g = u->w.grid;
    q_run(q, x, y);
    pthread_mutex_unlock(&u->wlock);
}

static uint32_t flags_of(const lg_units *u, const u_cand *c, int64_t inc_station, bool inc_in)
{
    uint32_t f = 0;
    if (!u->cells)
        return 0;
    if (c->station != inc_station)
        f |= LG_UNIT_CROSS_STATION;
    if (!inc_in || lg_layer_locate(u->cells, c->x, c->y) < 0)
        f |= LG_UNIT_CROSS_COUNTY;
    return f;
}

/* The live registry (live != NULL) or a view's private grid vg. */
static lg_error nearest_impl(const lg_units *u, lg_units *live, const u_grid *vg, const double *x,
                             const double *y, size_t n, size_t k, const lg_unit_filter *f,
                             const lg_unit_results *out)
{
    lg_unit_filter flt = {0};
    if (f)
        flt = *f;
    u_cand cbuf[32];
    u_read rbuf[128];
    u_query q; /* not zeroed: its collection arrays are large; every field is set here */
    q.g = NULL;
    q.n = q.m = 0;
    q.nrs = 0;
    q.worst2 = INFINITY;
    q.status = Q_OK;
    q.odd = 0;
    uint32_t smask = flt.status_mask ? flt.status_mask : UINT32_MAX;
    uint32_t kmask = flt.kind_mask ? flt.kind_mask : UINT32_MAX;
    for (int kd = 0; kd < LG_UNIT_KINDS; kd++)
        q.kind_status[kd] = (kmask >> kd) & 1u ? smask : 0;
    q.call = flt.caps_all;
    q.cany = flt.caps_any;
    q.by_station = flt.by_station;
    q.station = flt.station;
    q.full = q.call || q.cany || q.by_station;
    q.oddseen = 0;
    q.maxd = flt.max_dist_m > 0 ? flt.max_dist_m : INFINITY;
    q.k = k;
    q.c = q.cbuf = cbuf;
    q.ccap = k < 32 ? k : 32;
    q.rs = q.rbuf = rbuf;
    q.caprs = 128;
    q.alloc = &u->alloc;
    lg_error err = LG_OK;
    for (size_t i = 0; i < n; i++) {
        q.n = 0;
        if (isfinite(x[i]) && isfinite(y[i])) {
            if (live) {
                q_live(&q, live, x[i], y[i]);
            } else {
                q.g = vg;
                q_run(&q, x[i], y[i]);
            }
            if (q.status == Q_NOMEM) {
                err = LG_ERR_NOMEM;
                q.n = 0;
            }
        }
        int64_t inc_station = LG_NONE;
        bool inc_in = false;
        if (u->cells && out->flags && q.n) {
            int64_t row = lg_layer_locate(u->cells, x[i], y[i]);
            inc_in = row >= 0;
            inc_station = row >= 0 ? u->cell_station[row] : LG_NONE;
        }
        size_t base = i * k;
        for (size_t j = 0; j < k; j++) {
            bool has = j < q.n;
            const u_cand *c = &q.c[j < q.n ? j : 0];
            out->ids[base + j] = has ? c->id : LG_NONE;
            if (out->dist_m)
                out->dist_m[base + j] = has ? c->d : INFINITY;
            if (out->eta_s)
                out->eta_s[base + j] =
                    has ? c->d * u->detour / u->speed[c->kind & (LG_UNIT_KINDS - 1)] : INFINITY;
            if (out->flags)
                out->flags[base + j] = has ? flags_of(u, c, inc_station, inc_in) : 0;
        }
        if (out->count)
            out->count[i] = q.n;
    }
    if (q.c != cbuf)
        lg__free(&u->alloc, q.c);
    if (q.rs != rbuf)
        lg__free(&u->alloc, q.rs);
    return err;
}

static bool nearest_args_ok(const double *x, const double *y, size_t n, size_t k,
                            const lg_unit_results *out)
{
    if ((n && (!x || !y)) || !out || (n && !out->ids) || k == 0)
        return false;
    return !(n && k > SIZE_MAX / n);
}

lg_error lg_units_nearest(lg_units *u, const double *x, const double *y, size_t n, size_t k,
                          const lg_unit_filter *f, const lg_unit_results *out)
{
    if (!u || !nearest_args_ok(x, y, n, k, out))
        return LG_ERR_ARG;
    _Atomic long *p = pin(u);
    lg_error err = nearest_impl(u, u, NULL, x, y, n, k, f, out);
    unpin(p);
    return err;
}

/* ----------------------------------------------------------------- views */

/* Copy the writer's units (under its mutex) into a snapshot whose arrays are reserved. */
static bool snap_copy(const u_state *w, u_state *s)
{
    if (w->n > s->cap && !st_reserve_units(s, w->n))
        return false;
    size_t n = w->n;
    s->n = n;
    s->version = w->version;
    memcpy(s->id, w->id, n * sizeof *s->id);
    memcpy(s->x, w->x, n * sizeof *s->x);
    memcpy(s->y, w->y, n * sizeof *s->y);
    memcpy(s->t, w->t, n * sizeof *s->t);
    memcpy(s->station, w->station, n * sizeof *s->station);
    memcpy(s->caps, w->caps, n * sizeof *s->caps);
    memcpy(s->status, w->status, n * sizeof *s->status);
    memcpy(s->kind, w->kind, n * sizeof *s->kind);
    return true;
}

void lg_units_view_acquire(lg_units *u, lg_units_view *v)
{
    if (!v)
        return;
    v->state = NULL;
    v->owner = u;
    v->slot = 0;
    if (!u)
        return;
    u_state *s = lg__calloc(&u->alloc, 1, sizeof *s);
    if (!s)
        return;
    s->alloc = &u->alloc;
    /* allocate and touch the arrays before taking the mutex, so that the writer waits
     * only for the copy itself */
    bool ok = st_reserve_units(s, lg_units_count(u) + 64);
    if (ok) {
        memset(s->id, 0, s->cap * sizeof *s->id);
        memset(s->x, 0, s->cap * sizeof *s->x);
        memset(s->y, 0, s->cap * sizeof *s->y);
        memset(s->t, 0, s->cap * sizeof *s->t);
        memset(s->station, 0, s->cap * sizeof *s->station);
        memset(s->caps, 0, s->cap * sizeof *s->caps);
        memset(s->status, 0, s->cap * sizeof *s->status);
        memset(s->kind, 0, s->cap * sizeof *s->kind);
    }
    u_grid geo = {0};
    bool has_grid = false;
    if (ok) {
        pthread_mutex_lock(&u->wlock);
        ok = snap_copy(&u->w, s);
        has_grid = u->w.grid != NULL;
        if (has_grid)
            geo = *u->w.grid;
        pthread_mutex_unlock(&u->wlock);
    }
    /* the id map and the grid: the view's own */
    ok = ok && h_reserve(s, s->n);
    if (ok)
        for (size_t i = 0; i < s->n; i++)
            h_put(s, s->id[i], (uint32_t)i);
    if (ok && has_grid) {
        geo.h = NULL;
        geo.pend = NULL;
        s->grid = grid_build(&u->alloc, s, &geo);
        ok = s->grid != NULL;
    }
    if (!ok) {
        st_free(s);
        lg__free(&u->alloc, s);
        return;
    }
    v->state = s;
}

void lg_units_view_release(lg_units_view *v)
{
    if (!v || !v->owner)
        return;
    if (v->state) {
        u_state *s = (u_state *)v->state;
        st_free(s);
        lg__free(&v->owner->alloc, s);
    }
    v->owner = NULL;
    v->state = NULL;
}

lg_error lg_units_view_nearest(const lg_units_view *v, const double *x, const double *y, size_t n,
                               size_t k, const lg_unit_filter *f, const lg_unit_results *out)
{
    if (!v || !v->owner || !nearest_args_ok(x, y, n, k, out))
        return LG_ERR_ARG;
    if (!v->state)
        return LG_ERR_NOMEM; /* the snapshot could not be taken */
    return nearest_impl(v->owner, NULL, v->state->grid, x, y, n, k, f, out);
}

size_t lg_units_view_count(const lg_units_view *v)
{
    return v && v->state ? v->state->n : 0;
}

uint64_t lg_units_view_version(const lg_units_view *v)
{
    return v && v->state ? v->state->version : 0;
}

lg_error lg_units_view_get(const lg_units_view *v, size_t first, size_t n, int64_t *ids, double *x,
                           double *y, double *time_s, int32_t *status, uint32_t *caps,
                           int32_t *kind, int64_t *station)
{
    if (!v || !v->state)
        return LG_ERR_ARG;
    const u_state *s = v->state;
    if (first > s->n || n > s->n - first)
        return LG_ERR_ARG;
    for (size_t i = 0; i < n; i++) {
        size_t j = first + i;
        if (ids)
            ids[i] = s->id[j];
        if (x)
            x[i] = s->x[j];
        if (y)
            y[i] = s->y[j];
        if (time_s)
            time_s[i] = s->t[j];
        if (status)
            status[i] = s->status[j];
        if (caps)
            caps[i] = s->caps[j];
        if (kind)
            kind[i] = s->kind[j];
        if (station)
            station[i] = s->station[j];
    }
    return LG_OK;
}

int64_t lg_units_view_find(const lg_units_view *v, int64_t id)
{
    if (!v || !v->state || id < 0)
        return LG_NONE;
    return h_find(v->state, id);
}

int64_t lg_units_station_at(const lg_units *u, double x, double y)
{
    if (!u || !u->cells)
        return LG_NONE;
    int64_t row = lg_layer_locate(u->cells, x, y);
    return row >= 0 ? u->cell_station[row] : LG_NONE;
}

double lg_units_eta_s(const lg_units *u, int32_t kind, double dist_m)
{
    if (!u || kind < 0 || kind >= LG_UNIT_KINDS)
        return NAN;
    return dist_m * u->detour / u->speed[kind];
}

/* ------------------------------------------------------------ run cards */

struct lg_runcard {
    lg_allocator alloc;
    const lg_layer *cells;
    size_t ncells, k;
    double *px, *py;  /* demand point per cell */
    int64_t *station; /* ncells * k, LG_NONE padded */
    double *eta;      /* ncells * k */
    uint32_t *count;
};

/* Area centroid of a cell: shells add, holes subtract (by |area|, whatever the
 * orientation); a cell of zero area gets the mean of its vertices. */
static void cell_centroid(const lg_layer *l, size_t row, double *cx, double *cy)
{
    size_t nr = lg_layer_ring_count(l, row);
    double A = 0, X = 0, Y = 0, mx = 0, my = 0;
    size_t nv = 0;
    for (size_t r = 0; r < nr; r++) {
        const double *xy;
        size_t n;
        if (lg_layer_ring(l, row, r, &xy, &n) != LG_OK || n < 2)
            continue;
        /* shift to the first vertex: projected coordinates are large */
        double ox = xy[0], oy = xy[1], a = 0, sx = 0, sy = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            double x0 = xy[2 * i] - ox, y0 = xy[2 * i + 1] - oy;
            double x1 = xy[2 * i + 2] - ox, y1 = xy[2 * i + 3] - oy;
            double c = x0 * y1 - x1 * y0;
            a += c;
            sx += (x0 + x1) * c;
            sy += (y0 + y1) * c;
            mx += xy[2 * i];
            my += xy[2 * i + 1];
            nv++;
        }
        if (a == 0)
            continue;
        double ring_cx = ox + sx / (3 * a), ring_cy = oy + sy / (3 * a);
        double w = fabs(a) / 2;
        size_t gr = l->cell_ring[row] + r;
        if (l->ring_hole[gr])
            w = -w;
        A += w;
        X += w * ring_cx;
        Y += w * ring_cy;
    }
    if (A > 0) {
        *cx = X / A;
        *cy = Y / A;
    } else if (nv) {
        *cx = mx / (double)nv;
        *cy = my / (double)nv;
    } else {
        *cx = *cy = NAN;
    }
}

void lg_runcard_free(lg_runcard *rc)
{
    if (!rc)
        return;
    lg__free(&rc->alloc, rc->px);
    lg__free(&rc->alloc, rc->py);
    lg__free(&rc->alloc, rc->station);
    lg__free(&rc->alloc, rc->eta);
    lg__free(&rc->alloc, rc->count);
    lg__free(&rc->alloc, rc);
}

lg_error lg_runcard_build(lg_context *ctx, const lg_layer *cells, const double *sx,
                          const double *sy, const int64_t *station_ids, size_t n,
                          const lg_runcard_options *opt, lg_runcard **out)
{
    lg__clear(ctx);
    if (!out || !cells || (n && (!sx || !sy)))
        return lg__fail(ctx, LG_ERR_ARG, "lg_runcard_build: NULL argument");
    *out = NULL;
    lg_runcard_options o = {0};
    if (opt)
        o = *opt;
    if (o.speed_mps < 0 || o.detour < 0 || !isfinite(o.speed_mps) || !isfinite(o.detour))
        return lg__fail(ctx, LG_ERR_ARG, "lg_runcard_build: speed %g or detour %g is invalid",
                        o.speed_mps, o.detour);
    double speed = o.speed_mps > 0 ? o.speed_mps : 11.1, detour = o.detour > 0 ? o.detour : 1.3;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(sx[i]) || !isfinite(sy[i]))
            return lg__fail(ctx, LG_ERR_ARG,
                            "lg_runcard_build: station %zu: point (%g, %g) is not finite", i, sx[i],
                            sy[i]);
    const lg_allocator *a = ctx ? &ctx->alloc : &lg__default_allocator;
    lg_runcard *rc = lg__calloc(a, 1, sizeof *rc);
    if (!rc)
        return lg__fail(ctx, LG_ERR_NOMEM, "lg_runcard_build: out of memory");
    rc->alloc = *a;
    rc->cells = cells;
    rc->ncells = lg_layer_count(cells);
    rc->k = o.k ? o.k : 3;
    if (rc->k > n)
        rc->k = n;
    size_t nc = rc->ncells, k = rc->k;
    lg_rtree *tree = NULL;
    double *boxes = NULL;
    int64_t *idx = NULL;
    double *dd = NULL;
    lg_error err = LG_OK;
    rc->px = lg__calloc(a, nc, sizeof *rc->px);
    rc->py = lg__calloc(a, nc, sizeof *rc->py);
    rc->count = lg__calloc(a, nc, sizeof *rc->count);
    rc->station = lg__calloc(a, nc * (k ? k : 1), sizeof *rc->station);
    rc->eta = lg__calloc(a, nc * (k ? k : 1), sizeof *rc->eta);
    boxes = lg__calloc(a, n ? 4 * n : 1, sizeof *boxes);
    if (!rc->px || !rc->py || !rc->count || !rc->station || !rc->eta || !boxes ||
        lg_rtree_new(a, &tree) != LG_OK) {
        err = lg__fail(ctx, LG_ERR_NOMEM, "lg_runcard_build: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        boxes[4 * i] = boxes[4 * i + 2] = sx[i];
        boxes[4 * i + 1] = boxes[4 * i + 3] = sy[i];
    }
    /* the tree's ids are station indices; ties then go to the smaller index, which is
     * the smaller id only when ids ascend, so ties are re-sorted by id below */
    if (n && (err = lg_rtree_bulk_load(tree, boxes, NULL, n)) != LG_OK) {
        err = lg__fail(ctx, err, "lg_runcard_build: cannot index the stations");
        goto done;
    }
    if (k) {
        /* ask one more than k so a tie at the k-th place can be broken by id */
        size_t kq = k + 1 <= n ? k + 1 : k;
        idx = lg__calloc(a, kq, sizeof *idx);
        dd = lg__calloc(a, kq, sizeof *dd);
        if (!idx || !dd) {
            err = lg__fail(ctx, LG_ERR_NOMEM, "lg_runcard_build: out of memory");
            goto done;
        }
        for (size_t c = 0; c < nc; c++) {
            cell_centroid(cells, c, &rc->px[c], &rc->py[c]);
            if (!isfinite(rc->px[c]))
                continue;
            /* with ids that do not ascend, ties can reach beyond k+1: widen until the
             * last fetched distance exceeds the k-th */
            size_t got = 0, want = kq;
            for (;;) {
                lg_nearest_options no = {.k = want};
                int64_t *ii = idx;
                double *dv = dd;
                if (want > kq) {
                    ii = lg__calloc(a, want, sizeof *ii);
                    dv = lg__calloc(a, want, sizeof *dv);
                    if (!ii || !dv) {
                        lg__free(a, ii);
                        lg__free(a, dv);
                        err = lg__fail(ctx, LG_ERR_NOMEM, "lg_runcard_build: out of memory");
                        break;
                    }
                }
                lg_rtree_nearest(tree, rc->px[c], rc->py[c], &no, ii, dv, &got);
                if (got > k && dv[got - 1] == dv[k - 1] && want < n) {
                    if (ii != idx) {
                        lg__free(a, ii);
                        lg__free(a, dv);
                    }
                    want = want * 2 < n ? want * 2 : n;
                    continue;
                }
                /* insertion sort by (distance, station id) and keep k */
                for (size_t i = 1; i < got; i++) {
                    int64_t ti = ii[i];
                    double td = dv[i];
                    int64_t tid = station_ids ? station_ids[ti] : ti;
                    size_t j = i;
                    while (j > 0) {
                        int64_t pid = station_ids ? station_ids[ii[j - 1]] : ii[j - 1];
                        if (dv[j - 1] < td || (dv[j - 1] == td && pid < tid))
                            break;
                        ii[j] = ii[j - 1];
                        dv[j] = dv[j - 1];
                        j--;
                    }
                    ii[j] = ti;
                    dv[j] = td;
                }
                size_t m = got < k ? got : k;
                for (size_t j = 0; j < m; j++) {
                    rc->station[c * k + j] = station_ids ? station_ids[ii[j]] : ii[j];
                    rc->eta[c * k + j] = dv[j] * detour / speed;
                }
                rc->count[c] = (uint32_t)m;
                if (ii != idx) {
                    lg__free(a, ii);
                    lg__free(a, dv);
                }
                break;
            }
            if (err)
                break;
        }
    } else {
        for (size_t c = 0; c < nc; c++)
            cell_centroid(cells, c, &rc->px[c], &rc->py[c]);
    }
done:
    lg__free(a, idx);
    lg__free(a, dd);
    lg_rtree_free(tree);
    lg__free(a, boxes);
    if (err) {
        lg_runcard_free(rc);
        return err;
    }
    *out = rc;
    return LG_OK;
}

size_t lg_runcard_k(const lg_runcard *rc)
{
    return rc ? rc->k : 0;
}

lg_error lg_runcard_demand_point(const lg_runcard *rc, size_t row, double *x, double *y)
{
    if (!rc || row >= rc->ncells || !x || !y)
        return LG_ERR_ARG;
    *x = rc->px[row];
    *y = rc->py[row];
    return LG_OK;
}

lg_error lg_runcard_cell(const lg_runcard *rc, size_t row, int64_t *stations, double *eta_s,
                         size_t *n)
{
    if (!rc || !n || row >= rc->ncells)
        return LG_ERR_ARG;
    size_t m = rc->count[row];
    for (size_t j = 0; j < m; j++) {
        if (stations)
            stations[j] = rc->station[row * rc->k + j];
        if (eta_s)
            eta_s[j] = rc->eta[row * rc->k + j];
    }
    *n = m;
    return LG_OK;
}

lg_error lg_runcard_at(const lg_runcard *rc, double x, double y, int64_t *stations, double *eta_s,
                       size_t *n, int64_t *row)
{
    if (!rc || !n)
        return LG_ERR_ARG;
    int64_t r = lg_layer_locate(rc->cells, x, y);
    if (row)
        *row = r;
    *n = 0;
    if (r < 0)
        return LG_OK;
    return lg_runcard_cell(rc, (size_t)r, stations, eta_s, n);
}
