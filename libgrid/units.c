/*
 * Moving units: a registry of units indexed by a uniform bucket grid, nearest
 * capable unit queries with filters, ETA and cross-station/county flags; run cards.
 *
 * Index. Units move every few seconds, so the index must make a move cheap: a uniform
 * grid of buckets (about bucket_load units per bucket) where a move is a swap-remove
 * from one bucket and an append to another, O(1). Each bucket entry carries the
 * position and the filterable attributes (status, kind, capability bits), so a
 * filtered k-nearest query scans rings of buckets around the incident without
 * touching the unit arrays, and stops when the nearest unscanned bucket is farther
 * than the k-th candidate. Units outside the grid's extent are kept in the border
 * buckets (the bound then treats border sides as open); the grid is rebuilt when the
 * count or the extent drifts too far (a deterministic function of the state). This
 * beat libgrid's R-tree with a filter callback on both queries and moves (bench/
 * bench_units.c, docs/DISPATCH.md).
 *
 * Concurrency: two copies of the state and a lagging replay. "front" names the copy
 * readers use. A reader announces itself in a striped counter of the copy it read
 * from front, then reads front again and retries if it changed (the writer may have
 * started on that copy). The writer applies a batch to the other copy, publishes it
 * with one store to front and keeps the batch in a log; the copy it left lags by that
 * one batch, which the next writer call replays into it first, after checking that
 * no reader is left in it. That check waits only for readers that pinned the copy
 * before the previous publication and are still in it, normally none: unlike
 * left-right, which waits for the queries in flight right after every flip, the
 * writer almost never waits (a descheduled reader holding a pin is the exception).
 * All atomics are sequentially consistent: the protocol needs the store-load order
 * between a reader's increment and its second load of front, and between the
 * writer's store of front and its later loads of the counters.
 */
#include "internal.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define U_STRIPES 16 /* read-indicator stripes (one cache line each) */
#define U_MAX_CELLS (1u << 22)
#define U_DEFAULT_LOAD 3.0

typedef struct u_entry {
    double x, y;
    uint32_t slot; /* index into the unit arrays */
    uint32_t caps;
    uint8_t status, kind;
} u_entry;

typedef struct u_bucket {
    u_entry *e;
    uint32_t n, cap;
    uint32_t pending; /* reservation scratch */
} u_bucket;

/* One copy of the mutable state. */
typedef struct lg_units_state {
    const lg_allocator *alloc;
    uint64_t version;
    /* units, slot order */
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
    size_t hcap; /* power of two */
    /* grid */
    double gx0, gy0, gcs, ginv; /* origin, cell size, 1/cell size */
    uint32_t nx, ny;
    u_bucket *b;    /* nx*ny, NULL when no grid */
    size_t outside; /* units whose position is outside the grid extent */
} u_state;

typedef struct u_stripe {
    _Atomic long n;
    char pad[64 - sizeof(long)];
} u_stripe;

/* A writer-owned copy of one batch (update or removal), replayed into the lagging copy. */
typedef struct u_log {
    bool remove;
    size_t n, cap;
    int64_t *ids, *station;
    double *x, *y, *t;
    int32_t *status, *kind;
    uint32_t *caps;
    unsigned cols; /* which columns the batch had: bits of LOG_X, ... */
} u_log;

struct lg_units {
    lg_allocator alloc;
    u_state st[2];
    _Alignas(64) atomic_int front;
    _Alignas(64) u_stripe ind[2][U_STRIPES]; /* readers in each copy, striped */
    pthread_mutex_t wlock;
    /* writer only: batches accepted but not yet in both copies; copy c holds the first
     * applied[c] of them, the published copy all but the deferred ones */
    u_log *rec;
    size_t nrec, caprec;
    size_t applied[2];
    size_t deferred_units; /* entries in the deferred records */
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
    if (s->b) {
        for (size_t i = 0; i < (size_t)s->nx * s->ny; i++)
            lg__free(a, s->b[i].e);
        lg__free(a, s->b);
    }
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

static bool b_reserve(const lg_allocator *a, u_bucket *b, size_t need)
{
    if (need <= b->cap)
        return true;
    if (need > UINT32_MAX / 2)
        return false;
    uint32_t c = b->cap ? b->cap : 4;
    while (c < need)
        c *= 2;
    if (!grow(a, (void **)&b->e, c, sizeof *b->e))
        return false;
    b->cap = c;
    return true;
}

static bool outside(const u_state *s, double x, double y)
{
    return !(x >= s->gx0 && y >= s->gy0 && x < s->gx0 + s->gcs * s->nx &&
             y < s->gy0 + s->gcs * s->ny);
}

static uint32_t cell_of(const u_state *s, double x, double y)
{
    double fx = floor((x - s->gx0) * s->ginv), fy = floor((y - s->gy0) * s->ginv);
    fx = fx < 0 ? 0 : (fx > s->nx - 1 ? s->nx - 1 : fx);
    fy = fy < 0 ? 0 : (fy > s->ny - 1 ? s->ny - 1 : fy);
    return (uint32_t)fy * s->nx + (uint32_t)fx;
}

static void b_append(u_state *s, uint32_t c, uint32_t slot)
{
    u_bucket *b = &s->b[c];
    u_entry *e = &b->e[b->n];
    e->x = s->x[slot];
    e->y = s->y[slot];
    e->slot = slot;
    e->caps = s->caps[slot];
    e->status = s->status[slot];
    e->kind = s->kind[slot];
    s->bucket[slot] = c;
    s->pos[slot] = b->n++;
}

static void b_remove(u_state *s, uint32_t slot)
{
    u_bucket *b = &s->b[s->bucket[slot]];
    uint32_t p = s->pos[slot], last = --b->n;
    if (p != last) {
        b->e[p] = b->e[last];
        s->pos[b->e[p].slot] = p;
    }
}

/*
 * Rebuild the grid over extent box (units and layer) with about n/load buckets.
 * Leaves the state untouched on failure (the old grid stays valid).
 */
static bool st_regrid(u_state *s, const double box[4], double load)
{
    double w = box[2] - box[0], h = box[3] - box[1];
    double m = 0.02 * (w > h ? w : h) + 1.0;
    double x0 = box[0] - m, y0 = box[1] - m;
    w += 2 * m;
    h += 2 * m;
    double want = (double)s->n / load;
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
    uint32_t nx = (uint32_t)fnx, ny = (uint32_t)fny;
    size_t nc = (size_t)nx * ny;
    u_bucket *nb = lg__calloc(s->alloc, nc, sizeof *nb);
    if (!nb)
        return false;
    u_state t = *s; /* geometry of the new grid, arrays of the old */
    t.gx0 = x0;
    t.gy0 = y0;
    t.gcs = cs;
    t.ginv = 1.0 / cs;
    t.nx = nx;
    t.ny = ny;
    t.b = nb;
    for (size_t i = 0; i < s->n; i++)
        nb[cell_of(&t, s->x[i], s->y[i])].pending++;
    bool ok = true;
    for (size_t c = 0; c < nc && ok; c++) {
        ok = b_reserve(s->alloc, &nb[c], nb[c].pending);
        nb[c].pending = 0;
    }
    if (!ok) {
        for (size_t c = 0; c < nc; c++)
            lg__free(s->alloc, nb[c].e);
        lg__free(s->alloc, nb);
        return false;
    }
    if (s->b) {
        for (size_t c = 0; c < (size_t)s->nx * s->ny; c++)
            lg__free(s->alloc, s->b[c].e);
        lg__free(s->alloc, s->b);
    }
    *s = t;
    s->outside = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        b_append(s, cell_of(s, s->x[i], s->y[i]), i);
        s->outside += outside(s, s->x[i], s->y[i]);
    }
    return true;
}

/* Rebuild the grid when it no longer fits the count or the extent (best effort). */
static void st_maybe_regrid(lg_units *u, u_state *s)
{
    if (s->n == 0)
        return;
    size_t nc = s->b ? (size_t)s->nx * s->ny : 0;
    double per = nc ? (double)s->n / (double)nc : INFINITY;
    bool need =
        !s->b || per > 4 * u->load || (per < u->load / 8 && nc > 64) || s->outside > s->n / 8 + 8;
    if (!need)
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
    st_regrid(s, box, u->load);
}

/*
 * Reserve everything applying the batch to s may allocate, so that the apply itself
 * cannot fail. False on NOMEM (s unchanged in content).
 */
static bool st_reserve_batch(u_state *s, const lg_units_batch *b)
{
    if (!st_reserve_units(s, s->n + b->n))
        return false;
    if (!s->b) {
        /* no grid yet: make a 1x1 grid around the first unit; regrid later fixes it */
        s->b = lg__calloc(s->alloc, 1, sizeof *s->b);
        if (!s->b)
            return false;
        s->nx = s->ny = 1;
        s->gx0 = b->x && b->n ? b->x[0] : 0;
        s->gy0 = b->y && b->n ? b->y[0] : 0;
        s->gcs = 1;
        s->ginv = 1;
    }
    if (!b->x)
        return true; /* no moves: buckets only change their attributes */
    for (size_t i = 0; i < b->n; i++)
        s->b[cell_of(s, b->x[i], b->y[i])].pending++;
    bool ok = true;
    for (size_t i = 0; i < b->n; i++) {
        u_bucket *bk = &s->b[cell_of(s, b->x[i], b->y[i])];
        if (bk->pending) {
            ok = ok && b_reserve(s->alloc, bk, (size_t)bk->n + bk->pending);
            bk->pending = 0;
        }
    }
    return ok;
}

/* Apply a checked batch whose allocations are reserved. */
static void st_apply(u_state *s, const lg_units_batch *b)
{
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
            b_remove(s, slot);
            s->outside -= outside(s, s->x[slot], s->y[slot]);
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
        b_append(s, cell_of(s, s->x[slot], s->y[slot]), slot);
        s->outside += outside(s, s->x[slot], s->y[slot]);
    }
    s->version++;
}

static void st_remove(u_state *s, const int64_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t f = h_find(s, ids[i]);
        if (f < 0)
            continue; /* a duplicate in the batch, already gone */
        uint32_t slot = (uint32_t)f, last = (uint32_t)s->n - 1;
        b_remove(s, slot);
        s->outside -= outside(s, s->x[slot], s->y[slot]);
        h_del(s, ids[i]);
        if (slot != last) {
            /* move the last unit into the hole */
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
            s->b[s->bucket[slot]].e[s->pos[slot]].slot = slot;
            h_put(s, s->id[slot], slot);
        }
        s->n--;
    }
    s->version++;
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
    u->st[0].alloc = u->st[1].alloc = &u->alloc;
    atomic_init(&u->front, 0);
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
    st_free(&u->st[0]);
    st_free(&u->st[1]);
    lg__free(&u->alloc, u->cell_station);
    for (size_t r = 0; r < u->caprec; r++) {
        u_log *g = &u->rec[r];
        lg__free(&u->alloc, g->ids);
        lg__free(&u->alloc, g->station);
        lg__free(&u->alloc, g->x);
        lg__free(&u->alloc, g->y);
        lg__free(&u->alloc, g->t);
        lg__free(&u->alloc, g->status);
        lg__free(&u->alloc, g->kind);
        lg__free(&u->alloc, g->caps);
    }
    lg__free(&u->alloc, u->rec);
    pthread_mutex_destroy(&u->wlock);
    lg__free(&u->alloc, u);
}

/* ------------------------------------------------------- left-right core */

static unsigned my_stripe(void)
{
    /* Threads have disjoint stacks: hash this frame's address. Two threads sharing a
     * stripe only share a cache line, never correctness. */
    int probe;
    uint64_t a = (uint64_t)(uintptr_t)&probe >> 14;
    return (unsigned)((a * 0x9e3779b97f4a7c15ull) >> 60) & (U_STRIPES - 1);
}

void lg_units_view_acquire(lg_units *u, lg_units_view *v)
{
    unsigned s = my_stripe();
    int f;
    for (;;) {
        /* announce, then confirm the copy is still the published one: if the writer
         * flipped in between it may be about to write the copy, so retry */
        f = atomic_load(&u->front);
        atomic_fetch_add(&u->ind[f][s].n, 1);
        if (atomic_load(&u->front) == f)
            break;
        atomic_fetch_sub(&u->ind[f][s].n, 1);
    }
    v->state = &u->st[f];
    v->owner = u;
    v->slot = (unsigned)f * U_STRIPES + s;
}

void lg_units_view_release(lg_units_view *v)
{
    if (!v || !v->owner)
        return;
    lg_units *u = v->owner;
    atomic_fetch_sub(&u->ind[v->slot / U_STRIPES][v->slot % U_STRIPES].n, 1);
    v->owner = NULL;
    v->state = NULL;
}

/*
 * Wait until no reader is in copy c, which is not the published one. Readers that
 * enter c from now on see the flip and leave at once, so only readers that pinned c
 * before the previous publication count: normally none, since that was a whole
 * writer call ago.
 */
static void wait_free(lg_units *u, int c)
{
    for (int i = 0; i < U_STRIPES; i++) {
        unsigned spins = 0;
        while (atomic_load(&u->ind[c][i].n) != 0) {
            /* a query takes about a microsecond: spin for a few before giving the CPU
             * away, which costs a scheduler time slice on a busy machine */
            if (++spins > 4096)
                sched_yield();
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
            else
                __builtin_ia32_pause();
#endif
        }
    }
}

static bool log_grow(const lg_allocator *a, u_log *g, size_t n)
{
    if (n <= g->cap)
        return true;
    size_t c = g->cap ? g->cap : 64;
    while (c < n)
        c *= 2;
    if (!grow(a, (void **)&g->ids, c, sizeof *g->ids) ||
        !grow(a, (void **)&g->station, c, sizeof *g->station) ||
        !grow(a, (void **)&g->x, c, sizeof *g->x) || !grow(a, (void **)&g->y, c, sizeof *g->y) ||
        !grow(a, (void **)&g->t, c, sizeof *g->t) ||
        !grow(a, (void **)&g->status, c, sizeof *g->status) ||
        !grow(a, (void **)&g->kind, c, sizeof *g->kind) ||
        !grow(a, (void **)&g->caps, c, sizeof *g->caps))
        return false;
    g->cap = c;
    return true;
}

enum { LOG_XY = 1, LOG_T = 2, LOG_STATUS = 4, LOG_CAPS = 8, LOG_KIND = 16, LOG_STATION = 32 };

/* Record the batch just published (the arrays were reserved by log_grow). */
static void log_set(u_log *g, const lg_units_batch *b, const int64_t *rm_ids, size_t rm_n)
{
    g->remove = rm_ids != NULL;
    size_t n = rm_ids ? rm_n : b->n;
    g->n = n;
    g->cols = 0;
    memcpy(g->ids, rm_ids ? rm_ids : b->ids, n * sizeof *g->ids);
    if (rm_ids)
        return;
#define LOG_COL(col, dst, bit)                                                                     \
    if (b->col) {                                                                                  \
        memcpy(g->dst, b->col, n * sizeof *g->dst);                                                \
        g->cols |= bit;                                                                            \
    }
    LOG_COL(x, x, LOG_XY)
    LOG_COL(y, y, LOG_XY)
    LOG_COL(time_s, t, LOG_T)
    LOG_COL(status, status, LOG_STATUS)
    LOG_COL(caps, caps, LOG_CAPS)
    LOG_COL(kind, kind, LOG_KIND)
    LOG_COL(station, station, LOG_STATION)
#undef LOG_COL
}

/* The logged batch as a batch (the log's arrays may have moved since log_set). */
static lg_units_batch log_batch(const u_log *g)
{
    lg_units_batch b = {g->n, g->ids, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    if (g->cols & LOG_XY) {
        b.x = g->x;
        b.y = g->y;
    }
    b.time_s = g->cols & LOG_T ? g->t : NULL;
    b.status = g->cols & LOG_STATUS ? g->status : NULL;
    b.caps = g->cols & LOG_CAPS ? g->caps : NULL;
    b.kind = g->cols & LOG_KIND ? g->kind : NULL;
    b.station = g->cols & LOG_STATION ? g->station : NULL;
    return b;
}

/* Copy a batch (or a removal) into a new log record. False on NOMEM (log unchanged). */
static bool rec_push(lg_units *u, const lg_units_batch *b, const int64_t *rm_ids, size_t rm_n)
{
    if (u->nrec == u->caprec) {
        size_t c = u->caprec ? 2 * u->caprec : 8;
        u_log *r = lg__realloc(&u->alloc, u->rec, c * sizeof *r);
        if (!r)
            return false;
        memset(r + u->caprec, 0, (c - u->caprec) * sizeof *r);
        u->rec = r;
        u->caprec = c;
    }
    u_log *g = &u->rec[u->nrec];
    if (!log_grow(&u->alloc, g, rm_ids ? rm_n : b->n))
        return false;
    log_set(g, b, rm_ids, rm_n);
    u->nrec++;
    return true;
}

/* Drop the records both copies hold; their buffers move behind the live ones for reuse. */
static void rec_compact(lg_units *u)
{
    size_t m = u->applied[0] < u->applied[1] ? u->applied[0] : u->applied[1];
    if (!m)
        return;
    for (size_t i = m; i < u->nrec; i++) {
        u_log t = u->rec[i - m];
        u->rec[i - m] = u->rec[i];
        u->rec[i] = t;
    }
    u->nrec -= m;
    u->applied[0] -= m;
    u->applied[1] -= m;
}

static bool copy_free(lg_units *u, int c)
{
    for (int i = 0; i < U_STRIPES; i++)
        if (atomic_load(&u->ind[c][i].n) != 0)
            return false;
    return true;
}

/* Apply the records copy c lacks. False on NOMEM (c keeps what it applied). */
static bool bring(lg_units *u, int c)
{
    while (u->applied[c] < u->nrec) {
        const u_log *g = &u->rec[u->applied[c]];
        if (g->remove) {
            st_remove(&u->st[c], g->ids, g->n);
        } else {
            lg_units_batch b = log_batch(g);
            if (!st_reserve_batch(&u->st[c], &b))
                return false;
            st_apply(&u->st[c], &b);
        }
        u->applied[c]++;
    }
    st_maybe_regrid(u, &u->st[c]);
    return true;
}

/* deferred batches / unit updates before the writer waits for readers (memory bound) */
#define U_DEFER_MAX 65536
#define U_DEFER_MAX_UNITS (1u << 20)

typedef enum { PUB_OK, PUB_DEFERRED, PUB_NOMEM } pub_result;

/*
 * Publish the deferred records: bring the other copy up to date and flip. Without
 * wait, give up (deferring) when a reader is still in that copy. Writer lock held.
 */
static pub_result publish_pending(lg_units *u, bool wait)
{
    int f = atomic_load(&u->front), o = !f;
    if (u->applied[f] == u->nrec)
        return PUB_OK;
    if (u->nrec - u->applied[f] > U_DEFER_MAX || u->deferred_units > U_DEFER_MAX_UNITS)
        wait = true;
    if (!copy_free(u, o)) {
        if (!wait)
            return PUB_DEFERRED;
        wait_free(u, o);
    }
    if (!bring(u, o))
        return PUB_NOMEM;
    atomic_store(&u->front, o); /* publish: new readers use o from now on */
    u->deferred_units = 0;
    rec_compact(u);
    return PUB_OK;
}

/* Is there a unit with this id, counting deferred insertions? */
static bool unit_known(const lg_units *u, int64_t id)
{
    int f = atomic_load(&u->front);
    if (h_find(&u->st[f], id) >= 0)
        return true;
    for (size_t r = u->applied[f]; r < u->nrec; r++) {
        const u_log *g = &u->rec[r];
        if (!g->remove && (g->cols & LOG_XY))
            for (size_t i = 0; i < g->n; i++)
                if (g->ids[i] == id)
                    return true;
    }
    return false;
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
        if (!b->x && !unit_known(u, id))
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
    if (!err && !rec_push(u, b, NULL, 0))
        err = lg__fail(ctx, LG_ERR_NOMEM, "lg_units_update: out of memory for %zu units", b->n);
    if (!err)
        u->deferred_units += b->n;
    if (!err && publish_pending(u, false) == PUB_NOMEM) {
        u->nrec--; /* not in the published copy: withdraw it */
        u->deferred_units -= b->n;
        err = lg__fail(ctx, LG_ERR_NOMEM, "lg_units_update: out of memory for %zu units", b->n);
    }
    pthread_mutex_unlock(&u->wlock);
    return err;
}

lg_error lg_units_remove(lg_context *ctx, lg_units *u, const int64_t *ids, size_t n)
{
    lg__clear(ctx);
    if (!u || (n && !ids))
        return lg__fail(ctx, LG_ERR_ARG, "lg_units_remove: units or ids is NULL");
    pthread_mutex_lock(&u->wlock);
    /* removals are rare: publish what is deferred first, so the check sees it */
    lg_error err = LG_OK;
    if (publish_pending(u, true) != PUB_OK)
        err = lg__fail(ctx, LG_ERR_NOMEM, "lg_units_remove: out of memory");
    int f = atomic_load(&u->front);
    for (size_t i = 0; i < n && !err; i++)
        if (h_find(&u->st[f], ids[i]) < 0)
            err = lg__fail(ctx, LG_ERR_NOT_FOUND, "lg_units_remove: record %zu: unknown unit %lld",
                           i, (long long)ids[i]);
    if (!err && !rec_push(u, NULL, ids, n))
        err = lg__fail(ctx, LG_ERR_NOMEM, "lg_units_remove: out of memory");
    if (!err && publish_pending(u, true) != PUB_OK) {
        u->nrec--;
        err = lg__fail(ctx, LG_ERR_NOMEM, "lg_units_remove: out of memory");
    }
    pthread_mutex_unlock(&u->wlock);
    return err;
}

lg_error lg_units_flush(lg_context *ctx, lg_units *u)
{
    lg__clear(ctx);
    if (!u)
        return lg__fail(ctx, LG_ERR_ARG, "lg_units_flush: units is NULL");
    pthread_mutex_lock(&u->wlock);
    lg_error err = LG_OK;
    if (publish_pending(u, true) != PUB_OK)
        err = lg__fail(ctx, LG_ERR_NOMEM, "lg_units_flush: out of memory");
    pthread_mutex_unlock(&u->wlock);
    return err;
}

size_t lg_units_count(lg_units *u)
{
    if (!u)
        return 0;
    lg_units_view v;
    lg_units_view_acquire(u, &v);
    size_t n = v.state->n;
    lg_units_view_release(&v);
    return n;
}

/* ------------------------------------------------------------- queries */

typedef struct u_cand {
    double d;
    uint32_t slot;
    int64_t id;
} u_cand;

typedef struct u_query {
    const u_state *s;
    uint32_t smask, kmask, call, cany;
    bool by_station;
    int64_t station;
    double maxd;
    u_cand *c; /* sorted ascending by (d, id) */
    size_t n, k;
    double worst2; /* squared distances above this cannot enter */
} u_query;

/* Lower bound of the squared distance from (x, y) to bucket (xx, yy); border buckets
 * extend to infinity (they hold the units outside the grid). */
static double cell_d2(const u_state *s, long xx, long yy, double x, double y, double slack)
{
    double lo = xx == 0 ? -INFINITY : s->gx0 + (double)xx * s->gcs;
    double hi = xx == (long)s->nx - 1 ? INFINITY : s->gx0 + (double)(xx + 1) * s->gcs;
    double dx = lo - x > x - hi ? lo - x : x - hi;
    lo = yy == 0 ? -INFINITY : s->gy0 + (double)yy * s->gcs;
    hi = yy == (long)s->ny - 1 ? INFINITY : s->gy0 + (double)(yy + 1) * s->gcs;
    double dy = lo - y > y - hi ? lo - y : y - hi;
    dx = dx - slack > 0 ? dx - slack : 0;
    dy = dy - slack > 0 ? dy - slack : 0;
    return dx * dx + dy * dy;
}

static void q_bucket(u_query *q, const u_bucket *b, double x, double y)
{
    const u_entry *e = b->e;
    for (uint32_t i = 0; i < b->n; i++) {
        double dx = e[i].x - x, dy = e[i].y - y, d2 = dx * dx + dy * dy;
        if (d2 > q->worst2)
            continue;
        if (!((q->smask >> e[i].status) & 1u) || !((q->kmask >> e[i].kind) & 1u) ||
            (e[i].caps & q->call) != q->call || (q->cany && !(e[i].caps & q->cany)))
            continue;
        uint32_t slot = e[i].slot;
        if (q->by_station && q->s->station[slot] != q->station)
            continue;
        double d = sqrt(d2);
        if (!(d <= q->maxd))
            continue;
        int64_t id = q->s->id[slot];
        size_t j = q->n;
        if (j == q->k) {
            const u_cand *w = &q->c[j - 1];
            if (d > w->d || (d == w->d && id > w->id))
                continue;
            j--;
        } else {
            q->n++;
        }
        while (j > 0 && (q->c[j - 1].d > d || (q->c[j - 1].d == d && q->c[j - 1].id > id))) {
            q->c[j] = q->c[j - 1];
            j--;
        }
        q->c[j] = (u_cand){d, slot, id};
        if (q->n == q->k) {
            double w = q->c[q->k - 1].d;
            double t = w * w * (1.0 + 1e-14) + 1e-300;
            q->worst2 = t < q->worst2 ? t : q->worst2;
        }
    }
}

/* k nearest for one incident: rings of buckets outward until the bound stops us. */
static void q_run(u_query *q, double x, double y)
{
    const u_state *s = q->s;
    q->n = 0;
    q->worst2 = isinf(q->maxd) ? INFINITY : q->maxd * q->maxd * (1.0 + 1e-14) + 1e-300;
    if (!s->n || !s->b)
        return;
    long nx = s->nx, ny = s->ny;
    uint32_t c0 = cell_of(s, x, y);
    long cx = c0 % s->nx, cy = c0 / s->nx;
    /* slack for floor() at cell boundaries: a point just left of a boundary may sit in
     * the bucket to its right */
    double slack = s->gcs * 1e-9 + 1e-9 * (fabs(x) + fabs(y));
    for (long r = 0;; r++) {
        long xa = cx - r, xb = cx + r, ya = cy - r, yb = cy + r;
        for (long yy = ya; yy <= yb; yy++) {
            if (yy < 0 || yy >= ny)
                continue;
            const u_bucket *row = s->b + yy * nx;
            if (yy == ya || yy == yb) {
                long lo = xa < 0 ? 0 : xa, hi = xb >= nx ? nx - 1 : xb;
                for (long xx = lo; xx <= hi; xx++)
                    if (row[xx].n && (r < 2 || cell_d2(s, xx, yy, x, y, slack) <= q->worst2))
                        q_bucket(q, &row[xx], x, y);
            } else {
                if (xa >= 0 && row[xa].n && (r < 2 || cell_d2(s, xa, yy, x, y, slack) <= q->worst2))
                    q_bucket(q, &row[xa], x, y);
                if (xb < nx && row[xb].n && (r < 2 || cell_d2(s, xb, yy, x, y, slack) <= q->worst2))
                    q_bucket(q, &row[xb], x, y);
            }
        }
        /* distance from (x, y) to the nearest unscanned bucket; border sides are open */
        double lb = INFINITY;
        if (xa > 0) {
            double d = x - (s->gx0 + (double)xa * s->gcs);
            lb = d < lb ? d : lb;
        }
        if (xb < nx - 1) {
            double d = (s->gx0 + (double)(xb + 1) * s->gcs) - x;
            lb = d < lb ? d : lb;
        }
        if (ya > 0) {
            double d = y - (s->gy0 + (double)ya * s->gcs);
            lb = d < lb ? d : lb;
        }
        if (yb < ny - 1) {
            double d = (s->gy0 + (double)(yb + 1) * s->gcs) - y;
            lb = d < lb ? d : lb;
        }
        if (isinf(lb))
            return; /* every bucket scanned */
        lb -= slack;
        if (lb > 0 && lb * lb > q->worst2)
            return;
    }
}

static uint32_t flags_of(const lg_units *u, const u_state *s, uint32_t slot, int64_t inc_station,
                         bool inc_in)
{
    uint32_t f = 0;
    if (!u->cells)
        return 0;
    if (s->station[slot] != inc_station)
        f |= LG_UNIT_CROSS_STATION;
    if (!inc_in || lg_layer_locate(u->cells, s->x[slot], s->y[slot]) < 0)
        f |= LG_UNIT_CROSS_COUNTY;
    return f;
}

lg_error lg_units_view_nearest(const lg_units_view *v, const double *x, const double *y, size_t n,
                               size_t k, const lg_unit_filter *f, const lg_unit_results *out)
{
    if (!v || !v->state || !v->owner || (n && (!x || !y)) || !out || (n && !out->ids) || k == 0)
        return LG_ERR_ARG;
    if (n && k > SIZE_MAX / n)
        return LG_ERR_ARG;
    const lg_units *u = v->owner;
    lg_unit_filter flt = {0};
    if (f)
        flt = *f;
    u_cand cbuf[64];
    u_query q = {0};
    q.s = v->state;
    q.smask = flt.status_mask ? flt.status_mask : UINT32_MAX;
    q.kmask = flt.kind_mask ? flt.kind_mask : UINT32_MAX;
    q.call = flt.caps_all;
    q.cany = flt.caps_any;
    q.by_station = flt.by_station;
    q.station = flt.station;
    q.maxd = flt.max_dist_m > 0 ? flt.max_dist_m : INFINITY;
    size_t kk = k < q.s->n ? k : q.s->n;
    q.k = kk;
    q.c = cbuf;
    if (kk > 64) {
        q.c = lg__malloc(&u->alloc, kk * sizeof *q.c);
        if (!q.c)
            return LG_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        q.n = 0;
        if (kk && isfinite(x[i]) && isfinite(y[i]))
            q_run(&q, x[i], y[i]);
        int64_t inc_station = LG_NONE;
        bool inc_in = false;
        if (u->cells && out->flags && q.n) {
            int64_t row = isfinite(x[i]) ? lg_layer_locate(u->cells, x[i], y[i]) : LG_NONE;
            inc_in = row >= 0;
            inc_station = row >= 0 ? u->cell_station[row] : LG_NONE;
        }
        size_t base = i * k;
        for (size_t j = 0; j < k; j++) {
            bool has = j < q.n;
            const u_cand *c = &q.c[j];
            out->ids[base + j] = has ? c->id : LG_NONE;
            if (out->dist_m)
                out->dist_m[base + j] = has ? c->d : INFINITY;
            if (out->eta_s)
                out->eta_s[base + j] =
                    has ? c->d * u->detour / u->speed[q.s->kind[c->slot]] : INFINITY;
            if (out->flags)
                out->flags[base + j] = has ? flags_of(u, q.s, c->slot, inc_station, inc_in) : 0;
        }
        if (out->count)
            out->count[i] = q.n;
    }
    if (q.c != cbuf)
        lg__free(&u->alloc, q.c);
    return LG_OK;
}

lg_error lg_units_nearest(lg_units *u, const double *x, const double *y, size_t n, size_t k,
                          const lg_unit_filter *f, const lg_unit_results *out)
{
    if (!u)
        return LG_ERR_ARG;
    lg_units_view v;
    lg_units_view_acquire(u, &v);
    lg_error err = lg_units_view_nearest(&v, x, y, n, k, f, out);
    lg_units_view_release(&v);
    return err;
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
