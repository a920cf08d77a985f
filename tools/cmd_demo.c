/*
 * libgrid demo: the main job on the bundled sample county (examples/data), and the
 * generator of that sample (libgrid demo --make-data DIR, run by
 * scripts/make-sample-county.sh).
 *
 * Where the sample is found (docs/DEMO.md): --data DIR; else DIR/../share/libgrid/sample
 * next to the executable (an installed libgrid, relocatable); else the source tree's
 * examples/data (a build tree; the path is compiled in); else the configured datadir.
 * When none holds it, the demo regenerates it into OUT/data with the same code that
 * made it (byte-identical), so the demo runs from anywhere.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include "render.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef LG_SOURCE_DATA
#define LG_SOURCE_DATA ""
#endif
#ifndef LG_INSTALL_DATA
#define LG_INSTALL_DATA ""
#endif

/* ------------------------------------------------------------ the sample */

#define SAMPLE_SEED 20240315u
#define SAMPLE_CELLS 220
#define SAMPLE_STATIONS 25
#define SAMPLE_CELL_SIZE_M 2200.0
#define SAMPLE_TOWN_CELLS 48
#define SAMPLE_INCIDENTS 720
#define SAMPLE_ZONE_SEED 1
/* 2024-03-15 00:00 China Standard Time (UTC+8), in Unix seconds */
#define SAMPLE_DAY0 1710432000LL
#define CST_OFFSET_S (8 * 3600)

/* Station names (pinyin), the first ones for the stations nearest the town centre. */
static const char *const station_names[SAMPLE_STATIONS] = {
    "Chengguan", "Chengxi", "Chengnan", "Zhengyang", "Xinhua",  "Zhoubai", "Shuitian",
    "Baitu",     "Ezhong",  "Jinxi",    "Zhuoshui",  "Lianghe", "Shiyi",   "Huangxi",
    "Taiji",     "Apeng",   "Lianhu",   "Shilong",   "Jiuxian", "Fengjia", "Longtan",
    "Maxi",      "Heping",  "Shanshui", "Xiaonanhai"};

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1), 53 bits. */
static double rng_unit(rng *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Approximately standard normal: Irwin-Hall of 12 uniforms (no libm: same everywhere). */
static double rng_normal(rng *r)
{
    double s = 0;
    for (int i = 0; i < 12; i++)
        s += rng_unit(r);
    return s - 6.0;
}

/* Index drawn with probability proportional to w[i]. */
static size_t rng_pick(rng *r, const double *w, size_t n)
{
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += w[i];
    double u = rng_unit(r) * total;
    for (size_t i = 0; i < n; i++) {
        if (u < w[i])
            return i;
        u -= w[i];
    }
    return n - 1;
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Write text to dir/name under a temporary name, then rename; an exit code. */
static int write_text_file(const char *dir, const char *name, const char *text, size_t len)
{
    char *path = path_join(dir, name), *tmp = path ? path_join(dir, ".tmp-sample") : NULL;
    int rc = 0;
    FILE *f = tmp ? fopen(tmp, "wb") : NULL;
    if (!f) {
        errorf("%s/%s: cannot create: %s", dir, name, strerror(errno));
        rc = EX_CANTCREAT_;
    } else if (fwrite(text, 1, len, f) != len || fclose(f) != 0 || rename(tmp, path) != 0) {
        errorf("%s: %s", path, strerror(errno));
        unlink(tmp);
        rc = EX_IOERR_;
    }
    free(path);
    free(tmp);
    return rc;
}

/* A growable text buffer. */
typedef struct text {
    char *p;
    size_t len, cap;
} text;

#if defined(__GNUC__)
static void tprintf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif
static void tprintf(text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (w < 0)
            return;
        if (t->p && (size_t)w < t->cap - t->len) {
            t->len += (size_t)w;
            return;
        }
        size_t cap = t->cap ? 2 * t->cap : 1 << 15;
        while (cap < t->len + (size_t)w + 1)
            cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p) {
            errorf("out of memory");
            exit(EX_SOFTWARE_); /* the command only */
        }
        t->p = p;
        t->cap = cap;
    }
}

static const char *const inc_types[] = {"theft",   "dispute",       "traffic_accident",
                                        "noise",   "fraud",         "suspicious_person",
                                        "assault", "missing_person"};
static const double inc_type_w[] = {24, 20, 10, 10, 8, 12, 6, 4};
#define N_INC_TYPES (sizeof inc_types / sizeof inc_types[0])
/* Calls by hour of day (local time): quiet before dawn, peaks late morning and evening. */
static const double hour_w[24] = {2.0, 1.5, 1.0, 0.8, 0.8, 1.0, 2.0, 3.5, 4.5, 5.0, 5.5, 6.0,
                                  5.5, 5.0, 5.0, 5.2, 5.5, 6.0, 6.5, 6.5, 6.0, 5.0, 4.0, 3.0};

typedef struct gen_incident {
    double x, y;
    int64_t time;
    int type;
    size_t seq;
} gen_incident;

static int cmp_incident(const void *a, const void *b)
{
    const gen_incident *p = a, *q = b;
    if (p->time != q->time)
        return p->time < q->time ? -1 : 1;
    return p->seq < q->seq ? -1 : p->seq > q->seq;
}

/* A point inside the county near (x, y): Gaussian jitter of sd metres, retried. */
static bool jitter_inside(rng *r, const lg_layer *l, double x, double y, double sd, double *ox,
                          double *oy)
{
    for (int tries = 0; tries < 64; tries++) {
        double px = x + sd * rng_normal(r), py = y + sd * rng_normal(r);
        if (lg_layer_locate(l, px, py) != LG_NONE) {
            *ox = px;
            *oy = py;
            return true;
        }
    }
    return false;
}

/* Round to centimetres (the CSV precision) so files and memory agree. */
static double cm(double v)
{
    return round(v * 100.0) / 100.0;
}

static int make_data(lg_context *ctx, const char *dir)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        errorf("%s: cannot create the directory: %s", dir, strerror(errno));
        return EX_CANTCREAT_;
    }
    lg_synth_options so = {.seed = SAMPLE_SEED,
                           .cells = SAMPLE_CELLS,
                           .stations = SAMPLE_STATIONS,
                           .cell_size_m = SAMPLE_CELL_SIZE_M};
    lg_layer *cells = NULL, *town0 = NULL, *town = NULL;
    lg_graph *g = NULL;
    double sx[SAMPLE_STATIONS], sy[SAMPLE_STATIONS];
    size_t nst = 0, ntown = 0;
    int rc = 0;
    double *cx = NULL, *cy = NULL, *area = NULL, *pop = NULL, *calls = NULL, *dist = NULL;
    int64_t *station = NULL;
    unsigned char **wkb = NULL;
    size_t *wkb_len = NULL;
    gen_incident *inc = NULL;
    text t = {0};
    lg_error e = lg_synth_county(ctx, &so, &cells);
    if (!e)
        e = lg_synth_stations(ctx, &so, sx, sy, SAMPLE_STATIONS, &nst);
    if (!e)
        e = lg_layer_adjacency(ctx, cells, NULL, &g);
    if (e)
        return fail_ctx(ctx, e, false);
    size_t n = lg_layer_count(cells);
    cx = malloc(n * sizeof *cx);
    cy = malloc(n * sizeof *cy);
    area = malloc(n * sizeof *area);
    dist = malloc(n * sizeof *dist);
    station = malloc(n * sizeof *station);
    if (!cx || !cy || !area || !dist || !station || lg_layer_centroids(cells, cx, cy, area)) {
        errorf("out of memory");
        rc = EX_SOFTWARE_;
        goto done;
    }
    if ((rc = field_reals(cells, "sample", "population", &pop)) ||
        (rc = field_reals(cells, "sample", "calls", &calls)))
        goto done;
    size_t fst;
    lg_layer_field_index(cells, "station", &fst);
    for (size_t i = 0; i < n; i++)
        lg_layer_get_int(cells, fst, i, &station[i]);

    /* the town centre: the centre cell, where the generator puts the county seat */
    int64_t c0 = lg_layer_locate(cells, 500000.0, 3270000.0);
    if (c0 == LG_NONE)
        c0 = 0;
    double tcx = cx[c0], tcy = cy[c0];

    /* town cells: grown best-first by distance from the centre cell (connected) */
    bool *in_town = calloc(n, sizeof *in_town);
    if (!in_town) {
        errorf("out of memory");
        rc = EX_SOFTWARE_;
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        dist[i] = hypot(cx[i] - tcx, cy[i] - tcy);
    in_town[c0] = true;
    ntown = 1;
    while (ntown < SAMPLE_TOWN_CELLS) {
        size_t best = n;
        for (size_t i = 0; i < n; i++) {
            if (in_town[i])
                continue;
            const int64_t *nb;
            size_t k;
            lg_graph_neighbors(g, i, &nb, NULL, &k);
            bool touches = false;
            for (size_t j = 0; j < k && !touches; j++)
                touches = in_town[nb[j]];
            if (touches && (best == n || dist[i] < dist[best]))
                best = i;
        }
        if (best == n)
            break;
        in_town[best] = true;
        ntown++;
    }
    wkb = calloc(ntown, sizeof *wkb);
    wkb_len = calloc(ntown, sizeof *wkb_len);
    int64_t *t_id = malloc(ntown * sizeof *t_id), *t_st = malloc(ntown * sizeof *t_st);
    int64_t *t_pop = malloc(ntown * sizeof *t_pop), *t_calls = malloc(ntown * sizeof *t_calls);
    if (!wkb || !wkb_len || !t_id || !t_st || !t_pop || !t_calls) {
        errorf("out of memory");
        rc = EX_SOFTWARE_;
        free(in_town);
        free(t_id), free(t_st), free(t_pop), free(t_calls);
        goto done;
    }
    size_t fid;
    lg_layer_field_index(cells, "cell_id", &fid);
    for (size_t i = 0, k = 0; i < n; i++) {
        if (!in_town[i])
            continue;
        lg_layer_cell_wkb(cells, i, NULL, 0, &wkb_len[k]);
        wkb[k] = malloc(wkb_len[k]);
        if (wkb[k])
            lg_layer_cell_wkb(cells, i, wkb[k], wkb_len[k], &wkb_len[k]);
        lg_layer_get_int(cells, fid, i, &t_id[k]);
        t_st[k] = station[i];
        t_pop[k] = (int64_t)pop[i];
        t_calls[k] = (int64_t)calls[i];
        k++;
    }
    free(in_town);
    lg_load_options lo = {.crs = lg_layer_crs(cells)};
    e = lg_layer_from_wkb(ctx, (const unsigned char *const *)wkb, wkb_len, ntown, &lo, &town0);
    lg_column_spec cols[4] = {{.name = "cell_id", .type = LG_FIELD_INT, .ints = t_id},
                              {.name = "station", .type = LG_FIELD_INT, .ints = t_st},
                              {.name = "population", .type = LG_FIELD_INT, .ints = t_pop},
                              {.name = "calls", .type = LG_FIELD_INT, .ints = t_calls}};
    if (!e)
        e = lg_layer_derive(ctx, town0, cols, 4, &town);
    free(t_id), free(t_st), free(t_pop), free(t_calls);
    char *p_cells = path_join(dir, "cells.shp"), *p_town = path_join(dir, "town.shp");
    if (!e && p_cells && p_town) {
        e = lg_layer_write_shapefile(ctx, cells, p_cells);
        if (!e)
            e = lg_layer_write_shapefile(ctx, town, p_town);
    }
    free(p_cells);
    free(p_town);
    if (e) {
        rc = fail_ctx(ctx, e, false);
        goto done;
    }

    /* stations: names by distance from the town centre (the town's first) */
    size_t order[SAMPLE_STATIONS], rank[SAMPLE_STATIONS];
    for (size_t k = 0; k < nst; k++)
        order[k] = k;
    for (size_t a = 1; a < nst; a++) /* insertion sort, ties by index: deterministic */
        for (size_t b = a; b > 0; b--) {
            double da = hypot(sx[order[b]] - tcx, sy[order[b]] - tcy);
            double db = hypot(sx[order[b - 1]] - tcx, sy[order[b - 1]] - tcy);
            if (da >= db)
                break;
            size_t tmp = order[b];
            order[b] = order[b - 1];
            order[b - 1] = tmp;
        }
    for (size_t k = 0; k < nst; k++)
        rank[order[k]] = k;
    tprintf(&t, "id,name,x,y\n");
    for (size_t k = 0; k < nst; k++)
        tprintf(&t, "%zu,%s,%.2f,%.2f\n", k, station_names[rank[k]], sx[k], sy[k]);
    if ((rc = write_text_file(dir, "stations.csv", t.p, t.len)))
        goto done;
    t.len = 0;

    /* units: 4 per town station, 1-2 elsewhere; the first waits at its station */
    rng r = {SAMPLE_SEED ^ 0x756e697473ull};
    tprintf(&t, "id,x,y,status,caps,kind,station\n");
    int64_t uid = 101;
    for (size_t k = 0; k < nst; k++) {
        bool townst = rank[k] < 4;
        size_t nu = townst ? 4 : 1 + (size_t)(rng_unit(&r) < 0.55);
        size_t ncell = 0;
        for (size_t i = 0; i < n; i++)
            ncell += station[i] == (int64_t)k;
        for (size_t j = 0; j < nu; j++) {
            double x = sx[k], y = sy[k];
            if (j == 0) {
                jitter_inside(&r, cells, sx[k], sy[k], 120.0, &x, &y);
            } else if (ncell) { /* on patrol in a cell of its station */
                size_t pick = (size_t)(rng_unit(&r) * (double)ncell), i = 0;
                for (;; i++)
                    if (station[i] == (int64_t)k && pick-- == 0)
                        break;
                jitter_inside(&r, cells, cx[i], cy[i], 0.2 * SAMPLE_CELL_SIZE_M, &x, &y);
            }
            const char *kind = "car";
            if (townst)
                kind = j == 2 ? "motorbike" : j == 3 ? "foot" : "car";
            else if (j == 1)
                kind = rng_unit(&r) < 0.5 ? "motorbike" : "car";
            const char *caps = "public_security";
            double u = rng_unit(&r);
            if (townst && j == 2)
                caps = "traffic"; /* the town's traffic police */
            else if (u < 0.3)
                caps = "public_security|traffic";
            u = rng_unit(&r);
            const char *status = u < 0.62   ? "available"
                                 : u < 0.77 ? "en_route"
                                 : u < 0.9  ? "busy"
                                            : "off_duty";
            tprintf(&t, "%lld,%.2f,%.2f,%s,%s,%s,%zu\n", (long long)uid++, x, y, status, caps, kind,
                    k);
        }
    }
    if ((rc = write_text_file(dir, "units.csv", t.p, t.len)))
        goto done;
    t.len = 0;

    /* incidents: half in the town, a third along the roads, the rest where people live */
    double rx[5], ry[5];
    size_t ends[5] = {0, 0, 0, 0, 0};
    for (size_t i = 1; i < n; i++) { /* the extreme cells: west, east, south, north */
        if (cx[i] < cx[ends[0]])
            ends[0] = i;
        if (cx[i] > cx[ends[1]])
            ends[1] = i;
        if (cy[i] < cy[ends[2]])
            ends[2] = i;
        if (cy[i] > cy[ends[3]])
            ends[3] = i;
    }
    double best = -1; /* the second town: the most populous cell far from the centre */
    for (size_t i = 0; i < n; i++)
        if (dist[i] > 6 * SAMPLE_CELL_SIZE_M && pop[i] / area[i] > best) {
            best = pop[i] / area[i];
            ends[4] = i;
        }
    for (int k = 0; k < 5; k++) {
        rx[k] = cx[ends[k]];
        ry[k] = cy[ends[k]];
    }
    inc = malloc(SAMPLE_INCIDENTS * sizeof *inc);
    if (!inc) {
        errorf("out of memory");
        rc = EX_SOFTWARE_;
        goto done;
    }
    for (size_t k = 0; k < SAMPLE_INCIDENTS; k++) {
        gen_incident *p = &inc[k];
        double u = rng_unit(&r);
        bool road = false, ok = false;
        while (!ok) {
            if (u < 0.5) {
                ok = jitter_inside(&r, cells, tcx, tcy, 1.4 * SAMPLE_CELL_SIZE_M, &p->x, &p->y);
            } else if (u < 0.82) {
                road = true;
                int k2 = (int)(rng_unit(&r) * 5);
                double s = rng_unit(&r), dx = rx[k2] - tcx, dy = ry[k2] - tcy;
                double len = hypot(dx, dy), off = 90.0 * rng_normal(&r);
                double x = tcx + s * dx - off * dy / len, y = tcy + s * dy + off * dx / len;
                ok = lg_layer_locate(cells, x, y) != LG_NONE;
                p->x = x, p->y = y;
            } else {
                size_t i = rng_pick(&r, pop, n);
                ok = jitter_inside(&r, cells, cx[i], cy[i], 0.3 * SAMPLE_CELL_SIZE_M, &p->x, &p->y);
            }
        }
        p->x = cm(p->x), p->y = cm(p->y);
        int hour = (int)rng_pick(&r, hour_w, 24);
        p->time = SAMPLE_DAY0 + hour * 3600 + (int64_t)(rng_unit(&r) * 3600);
        p->type = road && rng_unit(&r) < 0.55 ? 2 : (int)rng_pick(&r, inc_type_w, N_INC_TYPES);
        p->seq = k;
    }
    qsort(inc, SAMPLE_INCIDENTS, sizeof *inc, cmp_incident);
    tprintf(&t, "id,x,y,time,type\n");
    for (size_t k = 0; k < SAMPLE_INCIDENTS; k++)
        tprintf(&t, "%zu,%.2f,%.2f,%lld,%s\n", k + 1, inc[k].x, inc[k].y, (long long)inc[k].time,
                inc_types[inc[k].type]);
    rc = write_text_file(dir, "incidents.csv", t.p, t.len);

done:
    for (size_t k = 0; wkb && k < ntown; k++)
        free(wkb[k]);
    free(wkb);
    free(wkb_len);
    free(inc);
    free(t.p);
    free(cx);
    free(cy);
    free(area);
    free(dist);
    free(pop);
    free(calls);
    free(station);
    lg_graph_free(g);
    lg_layer_free(town);
    lg_layer_free(town0);
    lg_layer_free(cells);
    return rc;
}

/* ------------------------------------------------------------------ demo */

const char usage_demo[] =
    "usage: libgrid demo [--out DIR] [--data DIR]\n"
    "       libgrid demo --make-data DIR\n"
    "\n"
    "Run libgrid's main job on the bundled sample county (220 police grid cells, 25\n"
    "stations, units and a day of incidents): classify the stations (central, base,\n"
    "border), plan the town centre's service-station zones (6-8 cells each), dispatch a\n"
    "few incidents to the nearest capable unit (showing when a neighbouring station's\n"
    "unit is nearer), report 10-minute coverage, and draw the map (SVG and HTML).\n"
    "\n"
    "  --out DIR        where to write map.svg, map.html, plan.csv and zones.csv\n"
    "                   (default: ./libgrid-demo)\n"
    "  --data DIR       the sample to use (default: the installed or source-tree copy;\n"
    "                   see docs/DEMO.md)\n"
    "  --make-data DIR  write the sample county into DIR instead (cells.shp, town.shp,\n"
    "                   stations.csv, units.csv, incidents.csv; what\n"
    "                   scripts/make-sample-county.sh runs); deterministic\n";

static bool has_sample(const char *dir)
{
    static const char *const files[] = {"cells.shp", "town.shp", "stations.csv", "units.csv",
                                        "incidents.csv"};
    if (!dir || !*dir)
        return false;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *p = path_join(dir, files[i]);
        bool ok = p && access(p, R_OK) == 0;
        free(p);
        if (!ok)
            return false;
    }
    return true;
}

/* The sample directory (malloc'ed), or NULL. */
static char *find_sample(void)
{
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char *p = path_join(exe, "../share/libgrid/sample");
            if (p && has_sample(p))
                return p;
            free(p);
        }
    }
    if (has_sample(LG_SOURCE_DATA))
        return strdup(LG_SOURCE_DATA);
    if (has_sample(LG_INSTALL_DATA))
        return strdup(LG_INSTALL_DATA);
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *clock_text(double t, char *buf, size_t cap)
{
    if (isnan(t)) {
        snprintf(buf, cap, "--:--");
        return buf;
    }
    long long s = ((long long)t + CST_OFFSET_S) % 86400;
    if (s < 0)
        s += 86400;
    snprintf(buf, cap, "%02lld:%02lld", s / 3600, s / 60 % 60);
    return buf;
}

static const char *human_type(const char *s, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", s);
    for (char *p = buf; *p; p++)
        if (*p == '_')
            *p = ' ';
    return buf;
}

/* The unit at index k of the sample's units, as "car 105 (Chengxi)". */
static const char *unit_text(const map_units *u, const map_stations *s, int64_t id, char *buf,
                             size_t cap)
{
    for (size_t k = 0; k < u->n; k++) {
        if (u->id[k] != id)
            continue;
        const char *home = u->station[k];
        for (size_t j = 0; j < s->n; j++)
            if (strcmp(s->id[j], u->station[k]) == 0)
                home = s->name[j];
        snprintf(buf, cap, "%s %lld of %s", unit_kind_name(u->kind[k]), (long long)id, home);
        return buf;
    }
    snprintf(buf, cap, "unit %lld", (long long)id);
    return buf;
}

typedef struct dispatch_pick {
    int64_t id;
    double dist_m, eta_s;
    uint32_t flags;
} dispatch_pick;

/* The unit passing f that arrives first: the smallest ETA among the 8 nearest. */
static lg_error fastest_unit(lg_units *units, double x, double y, const lg_unit_filter *f,
                             dispatch_pick *out)
{
    enum { K = 8 };
    int64_t ids[K];
    double d[K], eta[K];
    uint32_t fl[K];
    size_t cnt = 0;
    lg_unit_results r = {.ids = ids, .dist_m = d, .eta_s = eta, .flags = fl, .count = &cnt};
    out->id = LG_NONE;
    lg_error e = lg_units_nearest(units, &x, &y, 1, K, f, &r);
    if (e)
        return e;
    for (size_t i = 0; i < cnt; i++)
        if (out->id == LG_NONE || eta[i] < out->eta_s) {
            out->id = ids[i];
            out->dist_m = d[i];
            out->eta_s = eta[i];
            out->flags = fl[i];
        }
    return LG_OK;
}

static int write_plan_csv(const char *dir, const map_stations *ms, const int64_t *row_of_value,
                          size_t nst, const lg_station_kind *kind, const int64_t *central)
{
    text t = {0};
    static const char *const kn[] = {"", "central", "base", "border"};
    tprintf(&t, "station,name,kind,central\n");
    for (size_t v = 0; v < nst; v++) {
        int64_t r = row_of_value[v];
        tprintf(&t, "%zu,%s,%s,", v, r >= 0 ? ms->name[r] : "", kn[kind[v] <= 3 ? kind[v] : 0]);
        if (central[v] >= 0)
            tprintf(&t, "%lld", (long long)central[v]);
        tprintf(&t, "\n");
    }
    int rc = write_text_file(dir, "plan.csv", t.p, t.len);
    free(t.p);
    return rc;
}

int cmd_demo(lg_context *ctx, int argc, char **argv)
{
    enum { O_OUT, O_DATA, O_MAKE };
    static const opt_spec specs[] = {
        {"out", 0, true}, {"data", 0, true}, {"make-data", 0, true}, {NULL, 0, false}};
    parsed_opts po;
    int rc = parse_opts("demo", argc, argv, specs, 0, &po);
    if (rc)
        return rc;
    if (po.help) {
        fputs(usage_demo, stdout);
        return 0;
    }
    if (po.value[O_MAKE]) {
        if (po.value[O_OUT] || po.value[O_DATA]) {
            errorf("demo: --make-data takes no other option");
            return EX_USAGE_;
        }
        return make_data(ctx, po.value[O_MAKE]);
    }
    double t0 = now_s();
    const char *out = po.value[O_OUT] ? po.value[O_OUT] : "libgrid-demo";
    if (mkdir(out, 0777) != 0 && errno != EEXIST) {
        errorf("demo: %s: cannot create the directory: %s", out, strerror(errno));
        return EX_CANTCREAT_;
    }
    char *data = NULL;
    bool regenerated = false;
    if (po.value[O_DATA]) {
        if (!has_sample(po.value[O_DATA])) {
            errorf("demo: --data %s: no sample there (cells.shp, town.shp, stations.csv, "
                   "units.csv, incidents.csv)",
                   po.value[O_DATA]);
            return EX_NOINPUT_;
        }
        data = strdup(po.value[O_DATA]);
    } else if (!(data = find_sample())) {
        data = path_join(out, "data");
        if (!data || (rc = make_data(ctx, data))) {
            free(data);
            return rc ? rc : EX_SOFTWARE_;
        }
        regenerated = true;
    }

    lg_layer *cells = NULL, *town = NULL;
    lg_stations *st = NULL;
    lg_graph *tg = NULL;
    lg_zone_plan *zp = NULL;
    lg_units *units = NULL;
    map_stations ms = {0};
    map_units mu = {0};
    map_incidents mi = {0};
    double *pop = NULL, *tcalls = NULL, *px = NULL, *py = NULL;
    int64_t *row_of_value = NULL, *cell_station = NULL, *zone = NULL, *central = NULL;
    lg_station_kind *kind = NULL;
    int32_t *count = NULL;
    lg_plan_problems *problems = NULL;
    char *p_cells = path_join(data, "cells.shp"), *p_town = path_join(data, "town.shp");
    char *p_st = path_join(data, "stations.csv"), *p_un = path_join(data, "units.csv");
    char *p_inc = path_join(data, "incidents.csv");
    char *svg = path_join(out, "map.svg"), *html = path_join(out, "map.html");
    char buf[256], buf2[256], buf3[64];
    lg_error e = LG_OK;

    if ((rc = load_grid(ctx, p_cells, "cell_id", NULL, 0, &cells)) ||
        (rc = load_grid(ctx, p_town, "cell_id", NULL, 0, &town)) ||
        (rc = read_stations_csv(p_st, &ms)) || (rc = read_units_csv(p_un, &mu)) ||
        (rc = read_incidents_csv(p_inc, &mi)))
        goto done;
    size_t n = lg_layer_count(cells);
    printf("libgrid demo: the sample county in %s%s\n", data,
           regenerated ? " (regenerated: no bundled copy found)" : "");
    printf("  %zu police grid cells (%s), %zu stations, %zu units, %zu incidents of one day\n\n", n,
           lg_layer_crs(cells) ? lg_layer_crs(cells) : "CRS unknown", ms.n, mu.n, mi.n);

    /* 1. stations */
    const char **snames = NULL;
    size_t nst = 0;
    rc = field_groups(cells, p_cells, "station", &cell_station, &snames, &nst);
    free(snames);
    if (rc)
        goto done;
    row_of_value = malloc((nst + 1) * sizeof *row_of_value);
    px = malloc((nst + 1) * sizeof *px);
    py = malloc((nst + 1) * sizeof *py);
    kind = calloc(nst + 1, sizeof *kind);
    central = malloc((nst + 1) * sizeof *central);
    if (!row_of_value || !px || !py || !kind || !central) {
        errorf("out of memory");
        rc = EX_SOFTWARE_;
        goto done;
    }
    for (size_t v = 0; v < nst; v++) {
        row_of_value[v] = LG_NONE;
        snprintf(buf3, sizeof buf3, "%zu", v);
        for (size_t k = 0; k < ms.n; k++)
            if (strcmp(ms.id[k], buf3) == 0)
                row_of_value[v] = (int64_t)k;
        if (row_of_value[v] == LG_NONE) {
            errorf("%s: no station with id %zu (the cells name it)", p_st, v);
            rc = EX_DATAERR_;
            goto done;
        }
        px[v] = ms.x[row_of_value[v]];
        py[v] = ms.y[row_of_value[v]];
    }
    lg_stations_options sto = {.n_stations = nst, .x = px, .y = py, .n_points = nst};
    static const char *const workload[] = {"population", "calls"};
    lg_classify_options co = {.workload = workload, .n_workload = 2};
    bool feasible = false;
    if ((e = lg_stations_from_cells(ctx, cells, "station", &sto, &st)) ||
        (e = lg_stations_classify(ctx, st, &co, kind, central, NULL, nst, &feasible, &problems)))
        goto lib_fail;
    size_t nk[4] = {0};
    for (size_t v = 0; v < nst; v++) {
        nk[kind[v] <= 3 ? kind[v] : 0]++;
        ms.kind[row_of_value[v]] = (int)kind[v];
    }
    printf("1. Stations: %zu classified: %zu central, %zu base, %zu border%s.\n", nst,
           nk[LG_STATION_CENTRAL], nk[LG_STATION_BASE], nk[LG_STATION_BORDER],
           feasible ? "" : " (the plan has problems: see libgrid stations)");
    printf("   Border stations adjoin the county line; each central station coordinates\n"
           "   its adjacent base stations:\n");
    for (size_t v = 0; v < nst; v++) {
        if (kind[v] != LG_STATION_CENTRAL)
            continue;
        size_t len = 0;
        buf[0] = '\0';
        for (size_t w = 0; w < nst; w++)
            if (kind[w] == LG_STATION_BASE && central[w] == (int64_t)v)
                len += (size_t)snprintf(buf + len, len < sizeof buf ? sizeof buf - len : 0, "%s%s",
                                        len ? ", " : "", ms.name[row_of_value[w]]);
        printf("     %-11s -> %s\n", ms.name[row_of_value[v]], len ? buf : "(no base)");
    }
    if ((rc = write_plan_csv(out, &ms, row_of_value, nst, kind, central)))
        goto done;

    /* 2. service-station zones of the town centre */
    size_t nt = lg_layer_count(town);
    if ((rc = field_reals(town, p_town, "calls", &tcalls)))
        goto done;
    for (size_t i = 0; i < nt; i++)
        if (isnan(tcalls[i]))
            tcalls[i] = 0;
    lg_zone_options zo = {
        .min_cells = 6, .max_cells = 8, .seed = SAMPLE_ZONE_SEED, .weight = tcalls};
    if ((e = lg_layer_adjacency(ctx, town, NULL, &tg)) ||
        (e = lg_zones_plan(ctx, tg, town, &zo, &zp)))
        goto lib_fail;
    lg_zone_quality q;
    lg_zone_plan_quality(zp, &q);
    zone = malloc(n * sizeof *zone);
    if (!zone) {
        errorf("out of memory");
        rc = EX_SOFTWARE_;
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        zone[i] = LG_NONE;
    const int64_t *tz = lg_zone_plan_zones(zp);
    text zt = {0};
    tprintf(&zt, "cell,zone\n");
    for (size_t i = 0; i < nt; i++) {
        char idb[32];
        const char *id = cell_id(town, i, idb, sizeof idb);
        int64_t row = cell_row(cells, id);
        if (row >= 0)
            zone[row] = tz[i];
        if (tz[i] >= 0)
            tprintf(&zt, "%s,%lld\n", id, (long long)tz[i]);
        else
            tprintf(&zt, "%s,\n", id);
    }
    rc = write_text_file(out, "zones.csv", zt.p, zt.len);
    free(zt.p);
    if (rc)
        goto done;
    printf("\n2. Town centre: %zu cells in %zu service-station zones of %zu-%zu cells%s;\n"
           "   calls per zone %.0f-%.0f (the busy core's zone carries the most: a zone\n"
           "   has 6-8 cells whatever their load; coefficient of variation %.2f).\n",
           nt, q.zones, q.size_min, q.size_max,
           lg_zone_plan_feasible(zp) ? "" : " (no feasible plan: see libgrid zones)", q.weight_min,
           q.weight_max, q.weight_cv);

    /* 3. dispatch */
    lg_units_options uo = {.cells = cells, .cell_station = cell_station};
    if ((e = lg_units_new(ctx, &uo, &units)))
        goto lib_fail;
    {
        int64_t *ust = malloc((mu.n + 1) * sizeof *ust);
        if (!ust) {
            errorf("out of memory");
            rc = EX_SOFTWARE_;
            goto done;
        }
        for (size_t k = 0; k < mu.n; k++) {
            size_t v;
            ust[k] = parse_size(mu.station[k], &v) ? (int64_t)v : LG_NONE;
        }
        lg_units_batch ub = {.n = mu.n,
                             .ids = mu.id,
                             .x = mu.x,
                             .y = mu.y,
                             .status = mu.status,
                             .caps = mu.caps,
                             .kind = mu.kind,
                             .station = ust};
        e = lg_units_update(ctx, units, &ub);
        free(ust);
        if (e)
            goto lib_fail;
    }
    printf("\n3. Dispatch: each incident goes to the available unit with the capability it\n"
           "   needs (traffic for accidents, public security otherwise) that arrives first:\n"
           "   the fastest of the 8 nearest (a motorbike is slower than a car). A few of the\n"
           "   day's incidents, all against the units' positions in units.csv:\n");
    size_t shown_cross = 0, shown_own = 0, n_cross = 0;
    int64_t shown_units[8];
    for (size_t k = 0; k < mi.n; k++) {
        uint32_t need =
            strcmp(mi.type[k], "traffic_accident") == 0 ? LG_CAP_TRAFFIC : LG_CAP_PUBLIC_SECURITY;
        lg_unit_filter f = {.status_mask = 1u << LG_STATUS_AVAILABLE, .caps_all = need};
        dispatch_pick best, own;
        if ((e = fastest_unit(units, mi.x[k], mi.y[k], &f, &best)))
            goto lib_fail;
        if (best.id == LG_NONE)
            continue;
        bool cross = (best.flags & LG_UNIT_CROSS_STATION) != 0;
        n_cross += cross;
        /* show a few from the morning on, each with a different unit */
        long long local = ((long long)(isnan(mi.time[k]) ? 0 : mi.time[k]) + CST_OFFSET_S) % 86400;
        bool seen = false;
        for (size_t j = 0; j < shown_cross + shown_own; j++)
            seen |= shown_units[j] == best.id;
        if (local < 7 * 3600 || seen || (cross ? shown_cross >= 3 : shown_own >= 2))
            continue;
        int64_t inc_st = lg_units_station_at(units, mi.x[k], mi.y[k]);
        if (cross) { /* the story: the own station has a unit, but the neighbour's is faster */
            f.by_station = true;
            f.station = inc_st;
            if ((e = fastest_unit(units, mi.x[k], mi.y[k], &f, &own)))
                goto lib_fail;
            if (own.id == LG_NONE || !(best.eta_s < own.eta_s))
                continue;
        }
        shown_units[shown_cross + shown_own] = best.id;
        const char *stname =
            inc_st >= 0 && (size_t)inc_st < nst ? ms.name[row_of_value[inc_st]] : "no";
        char idb[32];
        int64_t row = lg_layer_locate(cells, mi.x[k], mi.y[k]);
        printf("   %s  #%lld %s in cell %s (%s station)\n", clock_text(mi.time[k], buf3, 16),
               (long long)mi.id[k], human_type(mi.type[k], buf2, sizeof buf2),
               row >= 0 ? cell_id(cells, (size_t)row, idb, sizeof idb) : "-", stname);
        printf("          -> %s, %.1f km, about %.0f min\n",
               unit_text(&mu, &ms, best.id, buf, sizeof buf), best.dist_m / 1000,
               ceil(best.eta_s / 60));
        if (cross) {
            printf("             across the station line: %s's own best, %s, is %.1f km,"
                   " about %.0f min\n",
                   stname, unit_text(&mu, &ms, own.id, buf, sizeof buf), own.dist_m / 1000,
                   ceil(own.eta_s / 60));
            shown_cross++;
        } else {
            shown_own++;
        }
    }
    printf("   Over the whole day, %zu of %zu incidents were best served by a unit of another\n"
           "   station (libgrid flags these: LG_UNIT_CROSS_STATION).\n",
           n_cross, mi.n);

    /* 4. coverage */
    lg_coverage_options cvo = {0};
    cvo.threshold.minutes = 10;
    if ((rc = field_reals(cells, p_cells, "population", &pop)))
        goto done;
    for (size_t i = 0; i < n; i++)
        if (isnan(pop[i]))
            pop[i] = 0;
    cvo.weight = pop;
    double radius = 0;
    count = malloc(n * sizeof *count);
    lg_coverage_totals tot;
    size_t n_unc = 0;
    lg_coverage_results cr = {.count = count, .totals = &tot};
    if (!count) {
        errorf("out of memory");
        rc = EX_SOFTWARE_;
        goto done;
    }
    if ((e = lg_coverage_radius_m(ctx, &cvo.threshold, &radius)) ||
        (e = lg_coverage_cells(ctx, cells, px, py, nst, &cvo, &cr)))
        goto lib_fail;
    for (size_t i = 0; i < n; i++)
        n_unc += count[i] == 0;
    printf("\n4. Coverage: a 10-minute drive from a station (%.1f km in a straight line at\n"
           "   40 km/h with roads 1.3x longer) reaches %zu of %zu cells (%.1f%%) and %.1f%% of\n"
           "   the population; %zu cells are out of reach (hatched on the map).\n",
           radius / 1000, tot.cells_covered, tot.cells, 100 * tot.share_cells, 100 * tot.share,
           n_unc);

    /* 5. the map */
    map_input mapin = {.cells = cells,
                       .zone = zone,
                       .jurisdictions = lg_stations_jurisdictions(st),
                       .stations = &ms,
                       .units = &mu,
                       .incidents = &mi,
                       .cov_count = count,
                       .cov_radius_m = radius,
                       .cov_label = "10-minute drive",
                       .title = "libgrid sample county: stations, town zones, 10-minute coverage"};
    snprintf(buf2, sizeof buf2,
             "%zu police grid cells, %zu stations, %zu units, %zu incidents on "
             "15 March 2024; %s",
             n, nst, mu.n, mi.n, lg_layer_crs(cells) ? lg_layer_crs(cells) : "");
    mapin.subtitle = buf2;
    if ((rc = map_write(ctx, &mapin, svg, html, NULL)))
        goto done;
    char *abs_html = realpath(html, NULL), *abs_dir = realpath(out, NULL);
    printf("\n5. Map: %s/map.svg\n   Open it in a browser: file://%s\n", abs_dir ? abs_dir : out,
           abs_html ? abs_html : html);
    printf("   Also written: %s/plan.csv (station classes), %s/zones.csv (zone per cell).\n",
           abs_dir ? abs_dir : out, abs_dir ? abs_dir : out);
    free(abs_html);
    free(abs_dir);
    printf("\nDone in %.2f s. Next: docs/DEMO.md, docs/CLI.md (libgrid help).\n", now_s() - t0);
    goto done;

lib_fail:
    rc = fail_ctx(ctx, e, true);
done:
    if (fflush(stdout) != 0 && !rc) {
        errorf("writing the report: %s", strerror(errno));
        rc = EX_IOERR_;
    }
    lg_plan_problems_free(problems);
    lg_units_free(units);
    lg_zone_plan_free(zp);
    lg_graph_free(tg);
    lg_stations_free(st);
    lg_layer_free(town);
    lg_layer_free(cells);
    map_stations_free(&ms);
    map_units_free(&mu);
    map_incidents_free(&mi);
    free(pop), free(tcalls), free(px), free(py), free(row_of_value), free(cell_station);
    free(zone), free(central), free(kind), free(count);
    free(p_cells), free(p_town), free(p_st), free(p_un), free(p_inc), free(svg), free(html);
    free(data);
    return rc;
}
