/*
 * A dispatch loop on libgrid's public API: a feed thread moves the units a little each
 * tick (a GPS/BeiDou feed), the dispatcher takes incidents as they come in and sends
 * the nearest available unit with the capability each needs, then marks it en route.
 *
 *   cc dispatch_loop.c $(pkg-config --cflags --libs libgrid) -lpthread -o dispatch_loop
 *   ./dispatch_loop [DATA_DIR] [--ticks N] [--tick-ms MS] [--per-tick K] [--check]
 *
 * DATA_DIR holds the sample county (examples/data: cells.shp, units.csv, incidents.csv).
 * --check compares every answer with a brute-force scan of the same pinned state (a
 * view) and exits 1 on a difference: the test suite runs it that way.
 *
 * Threads: the registry takes one writer at a time (serialised inside) and any number
 * of readers that never block. Each thread has its own lg_context (a context is used
 * by one thread at a time); the cell layer is shared read-only.
 */
#include <libgrid.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef SAMPLE_DIR
#define SAMPLE_DIR "examples/data"
#endif

#define MAX_UNITS 4096
#define MAX_INCIDENTS 100000

/* ------------------------------------------------------ reading the sample */

typedef struct unit_table {
    size_t n;
    int64_t id[MAX_UNITS], station[MAX_UNITS];
    double x[MAX_UNITS], y[MAX_UNITS];
    int32_t status[MAX_UNITS], kind[MAX_UNITS];
    uint32_t caps[MAX_UNITS];
} unit_table;

typedef struct incident {
    long long id;
    double x, y;
    char type[40];
} incident;

/* Split a CSV line without quotes into at most max fields (in place). */
static size_t split(char *line, char **f, size_t max)
{
    size_t n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line; n < max;) {
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

static int column(char **hdr, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(hdr[i], name) == 0)
            return (int)i;
    return -1;
}

static int32_t status_of(const char *s)
{
    static const char *const names[] = {"available", "en_route", "on_scene", "busy", "off_duty"};
    for (int32_t i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return LG_STATUS_OFF_DUTY;
}

static int32_t kind_of(const char *s)
{
    return strcmp(s, "motorbike") == 0 ? LG_UNIT_MOTORBIKE
           : strcmp(s, "foot") == 0    ? LG_UNIT_FOOT
                                       : LG_UNIT_CAR;
}

static uint32_t caps_of(const char *s)
{
    uint32_t c = 0;
    if (strstr(s, "public_security"))
        c |= LG_CAP_PUBLIC_SECURITY;
    if (strstr(s, "traffic"))
        c |= LG_CAP_TRAFFIC;
    return c;
}

static int read_units(const char *path, unit_table *u)
{
    FILE *f = fopen(path, "r");
    char line[1024], *h[16], *v[16];
    if (!f || !fgets(line, sizeof line, f)) {
        fprintf(stderr, "%s: cannot read\n", path);
        return -1;
    }
    char hdr[1024];
    strcpy(hdr, line);
    size_t nh = split(hdr, h, 16);
    int ci = column(h, nh, "id"), cx = column(h, nh, "x"), cy = column(h, nh, "y");
    int cs = column(h, nh, "status"), cc = column(h, nh, "caps"), ck = column(h, nh, "kind");
    int ch = column(h, nh, "station");
    if (ci < 0 || cx < 0 || cy < 0 || cs < 0 || cc < 0 || ck < 0 || ch < 0) {
        fprintf(stderr, "%s: line 1: expected id,x,y,status,caps,kind,station\n", path);
        fclose(f);
        return -1;
    }
    u->n = 0;
    for (unsigned long lineno = 2; fgets(line, sizeof line, f) && u->n < MAX_UNITS; lineno++) {
        if (split(line, v, 16) != nh) {
            fprintf(stderr, "%s: line %lu: %zu columns expected\n", path, lineno, nh);
            fclose(f);
            return -1;
        }
        size_t i = u->n++;
        u->id[i] = strtoll(v[ci], NULL, 10);
        u->x[i] = strtod(v[cx], NULL);
        u->y[i] = strtod(v[cy], NULL);
        u->status[i] = status_of(v[cs]);
        u->caps[i] = caps_of(v[cc]);
        u->kind[i] = kind_of(v[ck]);
        u->station[i] = *v[ch] ? strtoll(v[ch], NULL, 10) : LG_NONE;
    }
    fclose(f);
    return 0;
}

static incident *read_incidents(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    char line[1024], *h[16], *v[16];
    if (!f || !fgets(line, sizeof line, f)) {
        fprintf(stderr, "%s: cannot read\n", path);
        return NULL;
    }
    size_t nh = split(line, h, 16);
    int ci = column(h, nh, "id"), cx = column(h, nh, "x"), cy = column(h, nh, "y");
    int ct = column(h, nh, "type");
    if (ci < 0 || cx < 0 || cy < 0 || ct < 0) {
        fprintf(stderr, "%s: line 1: expected id,x,y,...,type\n", path);
        fclose(f);
        return NULL;
    }
    incident *a = malloc(MAX_INCIDENTS * sizeof *a);
    *n = 0;
    while (a && *n < MAX_INCIDENTS && fgets(line, sizeof line, f)) {
        if (split(line, v, 16) != nh)
            continue;
        incident *p = &a[(*n)++];
        p->id = strtoll(v[ci], NULL, 10);
        p->x = strtod(v[cx], NULL);
        p->y = strtod(v[cy], NULL);
        snprintf(p->type, sizeof p->type, "%s", v[ct]);
    }
    fclose(f);
    return a;
}

/* ------------------------------------------------------------- the feed */

typedef struct feed {
    lg_units *units;
    const lg_layer *cells;
    const unit_table *start;
    unsigned tick_ms;
    atomic_bool stop;
    unsigned long batches;
    int error;
} feed;

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The feed thread: every tick, every unit moves up to 60 m (staying in the county). */
static void *feed_main(void *arg)
{
    feed *fd = arg;
    lg_context *ctx;
    if (lg_context_new(NULL, &ctx) != LG_OK) {
        fd->error = 1;
        return NULL;
    }
    size_t n = fd->start->n;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), *t = malloc(n * sizeof *t);
    uint64_t seed = 42;
    memcpy(x, fd->start->x, n * sizeof *x);
    memcpy(y, fd->start->y, n * sizeof *y);
    for (double now = 1; !atomic_load(&fd->stop); now++) {
        for (size_t i = 0; i < n; i++) {
            double dx = ((double)(next_rand(&seed) % 1201) - 600) / 10;
            double dy = ((double)(next_rand(&seed) % 1201) - 600) / 10;
            if (lg_layer_locate(fd->cells, x[i] + dx, y[i] + dy) != LG_NONE) {
                x[i] += dx;
                y[i] += dy;
            }
            t[i] = now;
        }
        /* positions only: status, caps, kind and station are kept */
        lg_units_batch b = {.n = n, .ids = fd->start->id, .x = x, .y = y, .time_s = t};
        if (lg_units_update(ctx, fd->units, &b) != LG_OK) {
            fprintf(stderr, "feed: %s\n", lg_context_message(ctx));
            fd->error = 1;
            break;
        }
        fd->batches++;
        sleep_ms(fd->tick_ms);
    }
    free(x);
    free(y);
    free(t);
    lg_context_free(ctx);
    return NULL;
}

/* ------------------------------------------------------------ the check */

/* Brute force over a view: the nearest unit passing the filter within max_d (ties: lower
 * id). */
static int64_t brute_nearest(const lg_units_view *v, double x, double y, uint32_t status_mask,
                             uint32_t caps_all, uint32_t kind_mask, double max_d, double *best_d)
{
    size_t n = lg_units_view_count(v);
    int64_t best = LG_NONE;
    *best_d = INFINITY;
    for (size_t i = 0; i < n; i++) {
        int64_t id;
        double ux, uy;
        int32_t st, kind;
        uint32_t caps;
        lg_units_view_get(v, i, 1, &id, &ux, &uy, NULL, &st, &caps, &kind, NULL);
        if (!(status_mask & (1u << st)) || (caps & caps_all) != caps_all ||
            !(kind_mask & (1u << kind)))
            continue;
        double d = hypot(ux - x, uy - y);
        if (d > max_d)
            continue;
        if (d < *best_d || (d == *best_d && id < best)) {
            *best_d = d;
            best = id;
        }
    }
    return best;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    const char *dir = SAMPLE_DIR;
    unsigned ticks = 10, tick_ms = 100, per_tick = 3;
    int check = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ticks") == 0 && i + 1 < argc)
            ticks = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--tick-ms") == 0 && i + 1 < argc)
            tick_ms = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--per-tick") == 0 && i + 1 < argc)
            per_tick = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--check") == 0)
            check = 1;
        else if (argv[i][0] != '-')
            dir = argv[i];
        else {
            fprintf(stderr,
                    "usage: %s [DATA_DIR] [--ticks N] [--tick-ms MS] [--per-tick K] "
                    "[--check]\n",
                    argv[0]);
            return 64;
        }
    }
    char path[4096];
    lg_context *ctx;
    if (lg_context_new(NULL, &ctx) != LG_OK)
        return 70;

    /* the cells and each cell's station: incidents and units get their station */
    snprintf(path, sizeof path, "%s/cells.shp", dir);
    lg_load_options lo = {.id_field = "cell_id"};
    lg_layer *cells = NULL;
    if (lg_layer_load(ctx, path, &lo, &cells) != LG_OK) {
        fprintf(stderr, "%s\n", lg_context_message(ctx));
        return 66;
    }
    size_t nc = lg_layer_count(cells), fst;
    int64_t *cell_station = malloc(nc * sizeof *cell_station);
    if (lg_layer_field_index(cells, "station", &fst) != LG_OK)
        return 65;
    for (size_t i = 0; i < nc; i++)
        if (lg_layer_get_int(cells, fst, i, &cell_station[i]) != LG_OK)
            cell_station[i] = LG_NONE;

    static unit_table ut;
    size_t ninc = 0;
    snprintf(path, sizeof path, "%s/units.csv", dir);
    if (read_units(path, &ut) != 0)
        return 66;
    snprintf(path, sizeof path, "%s/incidents.csv", dir);
    incident *inc = read_incidents(path, &ninc);
    if (!inc)
        return 66;

    lg_units *units = NULL;
    lg_units_options uo = {.cells = cells, .cell_station = cell_station};
    lg_units_batch first = {.n = ut.n,
                            .ids = ut.id,
                            .x = ut.x,
                            .y = ut.y,
                            .status = ut.status,
                            .caps = ut.caps,
                            .kind = ut.kind,
                            .station = ut.station};
    if (lg_units_new(ctx, &uo, &units) != LG_OK || lg_units_update(ctx, units, &first) != LG_OK) {
        fprintf(stderr, "%s\n", lg_context_message(ctx));
        return 65;
    }
    printf("dispatch loop: %zu units, %zu incidents, %u ticks of %u ms, %u incidents per tick\n",
           ut.n, ninc, ticks, tick_ms, per_tick);

    feed fd = {.units = units, .cells = cells, .start = &ut, .tick_ms = tick_ms};
    atomic_init(&fd.stop, false);
    pthread_t th;
    if (pthread_create(&th, NULL, feed_main, &fd) != 0)
        return 71;

    size_t next = 0, dispatched = 0, none = 0, cross = 0, mismatches = 0;
    for (unsigned tick = 1; tick <= ticks && next < ninc; tick++) {
        for (unsigned k = 0; k < per_tick && next < ninc; k++, next++) {
            const incident *p = &inc[next];
            uint32_t need =
                strcmp(p->type, "traffic_accident") == 0 ? LG_CAP_TRAFFIC : LG_CAP_PUBLIC_SECURITY;
            /* vehicles at any distance; foot patrols only within 800 m */
            lg_unit_filter f = {.status_mask = 1u << LG_STATUS_AVAILABLE,
                                .caps_all = need,
                                .kind_mask = (1u << LG_UNIT_CAR) | (1u << LG_UNIT_MOTORBIKE)};
            lg_unit_filter ff = {.status_mask = 1u << LG_STATUS_AVAILABLE,
                                 .caps_all = need,
                                 .kind_mask = 1u << LG_UNIT_FOOT,
                                 .max_dist_m = 800};
            int64_t id = LG_NONE, fid = LG_NONE;
            double fd_m = INFINITY, feta = INFINITY;
            uint32_t fflags = 0;
            size_t fcnt = 0;
            lg_unit_results fr = {
                .ids = &fid, .dist_m = &fd_m, .eta_s = &feta, .flags = &fflags, .count = &fcnt};
            double d = INFINITY, eta = INFINITY;
            uint32_t flags = 0;
            size_t cnt = 0;
            lg_unit_results r = {
                .ids = &id, .dist_m = &d, .eta_s = &eta, .flags = &flags, .count = &cnt};
            lg_units_view view;
            lg_units_view_acquire(units, &view); /* one consistent state for query + check */
            lg_error e = lg_units_view_nearest(&view, &p->x, &p->y, 1, 1, &f, &r);
            if (e == LG_OK)
                e = lg_units_view_nearest(&view, &p->x, &p->y, 1, 1, &ff, &fr);
            if (e == LG_OK && check) {
                double bd, bfd;
                int64_t bid = brute_nearest(&view, p->x, p->y, f.status_mask, need, f.kind_mask,
                                            INFINITY, &bd);
                int64_t bfid = brute_nearest(&view, p->x, p->y, ff.status_mask, need, ff.kind_mask,
                                             ff.max_dist_m, &bfd);
                if (bfid != fid || (fcnt && fabs(bfd - fd_m) > 1e-6 * (1 + bfd))) {
                    fprintf(stderr,
                            "check: incident %lld: libgrid chose foot patrol %lld at %.3f m, a "
                            "scan finds %lld at %.3f m\n",
                            p->id, (long long)fid, fd_m, (long long)bfid, bfd);
                    mismatches++;
                }
                if (bid != id || (cnt && fabs(bd - d) > 1e-6 * (1 + bd))) {
                    fprintf(stderr,
                            "check: incident %lld: libgrid chose unit %lld at %.3f m, a scan "
                            "finds %lld at %.3f m\n",
                            p->id, (long long)id, d, (long long)bid, bd);
                    mismatches++;
                }
            }
            lg_units_view_release(&view);
            if (e != LG_OK) {
                fprintf(stderr, "nearest: %s\n", lg_strerror(e));
                return 70;
            }
            if (fcnt && (!cnt || feta < eta)) { /* the foot patrol arrives first */
                id = fid, d = fd_m, eta = feta, flags = fflags, cnt = fcnt;
            }
            if (!cnt) {
                printf("tick %u: incident %lld (%s): no available unit with the capability\n", tick,
                       p->id, p->type);
                none++;
                continue;
            }
            int cs = (flags & LG_UNIT_CROSS_STATION) != 0;
            cross += cs;
            printf("tick %u: incident %lld (%s) -> unit %lld, %.0f m, ETA %.1f min%s\n", tick,
                   p->id, p->type, (long long)id, d, eta / 60,
                   cs ? " [from a neighbouring station]" : "");
            /* the unit is now en route: the dispatcher writes too (serialised inside) */
            int32_t en_route = LG_STATUS_EN_ROUTE;
            lg_units_batch b = {.n = 1, .ids = &id, .status = &en_route};
            if (lg_units_update(ctx, units, &b) != LG_OK || lg_units_flush(ctx, units) != LG_OK) {
                fprintf(stderr, "%s\n", lg_context_message(ctx));
                return 70;
            }
            dispatched++;
        }
        sleep_ms(tick_ms);
    }
    atomic_store(&fd.stop, true);
    pthread_join(th, NULL);
    printf("dispatched %zu incidents (%zu from a neighbouring station), %zu without a unit; "
           "the feed sent %lu position batches\n",
           dispatched, cross, none, fd.batches);
    if (check)
        printf("check: %zu answers compared with a brute-force scan, %zu differences\n",
               dispatched + none, mismatches);
    lg_units_free(units);
    lg_layer_free(cells);
    free(cell_station);
    free(inc);
    lg_context_free(ctx);
    return fd.error ? 70 : mismatches ? 1 : 0;
}
