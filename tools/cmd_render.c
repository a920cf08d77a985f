/*
 * libgrid render: a self-contained SVG map (and an HTML page embedding it) of a grid
 * with service-station zones, station jurisdictions, stations by class, units,
 * incidents and coverage; plus the readers of the point tables shared with demo.
 *
 * Map coordinates: x' = ox + (x - minx) * s, y' = oy + (maxy - y) * s (y flipped: SVG's
 * y grows downwards), rounded to 0.1 px. One <path class="cell"> per cell.
 */
#include "render.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* ----------------------------------------------------------- name tables */

static const char *const status_names[] = {"available", "en_route", "on_scene", "busy", "off_duty"};
static const char *const kind_names[] = {"car", "motorbike", "foot", "bicycle", "van"};
static const char *const cap_names[] = {"public_security", "traffic", "medical", "armed"};

const char *unit_status_name(int32_t s)
{
    return s >= 0 && s < 5 ? status_names[s] : "other";
}

const char *unit_kind_name(int32_t k)
{
    return k >= 0 && k < 5 ? kind_names[k] : "other";
}

const char *unit_caps_text(uint32_t caps, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int b = 0; b < 32; b++) {
        if (!(caps & (1u << b)))
            continue;
        char num[16];
        snprintf(num, sizeof num, "%d", b);
        const char *nm = b < 4 ? cap_names[b] : num;
        int w = snprintf(buf + len, cap - len, "%s%s", len ? "|" : "", nm);
        if (w < 0 || (size_t)w >= cap - len)
            break;
        len += (size_t)w;
    }
    return buf;
}

/* A name of the table (case-insensitive, '_' or ' ' alike) or a number 0..max; -1. */
static int name_or_number(const char *const *names, int nnames, const char *s, int max)
{
    while (*s == ' ')
        s++;
    for (int i = 0; i < nnames; i++) {
        const char *a = names[i], *b = s;
        while (
            *a && *b &&
            (tolower((unsigned char)*a) == tolower((unsigned char)*b) || (*a == '_' && *b == ' ')))
            a++, b++;
        if (!*a && !*b)
            return i;
    }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return *s && !*end && !errno && v >= 0 && v <= max ? (int)v : -1;
}

int map_kind_of(const char *s)
{
    if (strcasecmp(s, "central") == 0)
        return MAP_CENTRAL;
    if (strcasecmp(s, "base") == 0)
        return MAP_BASE;
    if (strcasecmp(s, "border") == 0)
        return MAP_BORDER;
    return MAP_UNKNOWN;
}

/* ---------------------------------------------------------------- readers */

static char *xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p) {
        errorf("out of memory");
        exit(EX_SOFTWARE_); /* the command only: never in the library */
    }
    return p;
}

static bool read_xy(const table *t, size_t r, int xc, int yc, double *x, double *y)
{
    if (!parse_double(table_at(t, r, xc), x) || !parse_double(table_at(t, r, yc), y)) {
        errorf("%s: line %llu: coordinate '%s, %s' is not a pair of numbers", t->label, t->line[r],
               table_at(t, r, xc), table_at(t, r, yc));
        return false;
    }
    return true;
}

int read_stations_csv(const char *path, map_stations *s)
{
    memset(s, 0, sizeof *s);
    table t;
    int rc = table_read(path, &t);
    if (rc)
        return rc;
    int xc, yc;
    if ((rc = table_xy(&t, NULL, NULL, &xc, &yc))) {
        table_free(&t);
        return rc;
    }
    int ic = table_col(&t, "id"), nc = table_col(&t, "name"), kc = table_col(&t, "kind");
    size_t n = t.nrows;
    s->x = calloc(n + 1, sizeof *s->x);
    s->y = calloc(n + 1, sizeof *s->y);
    s->id = calloc(n + 1, sizeof *s->id);
    s->name = calloc(n + 1, sizeof *s->name);
    s->kind = calloc(n + 1, sizeof *s->kind);
    if (!s->x || !s->y || !s->id || !s->name || !s->kind) {
        errorf("out of memory");
        table_free(&t);
        return EX_SOFTWARE_;
    }
    for (size_t r = 0; r < n; r++, s->n++) {
        if (!read_xy(&t, r, xc, yc, &s->x[r], &s->y[r])) {
            table_free(&t);
            return EX_DATAERR_;
        }
        char num[32];
        snprintf(num, sizeof num, "%zu", r);
        s->id[r] = xstrdup(ic >= 0 ? table_at(&t, r, ic) : num);
        s->name[r] = xstrdup(nc >= 0 ? table_at(&t, r, nc) : s->id[r]);
        s->kind[r] = kc >= 0 ? map_kind_of(table_at(&t, r, kc)) : MAP_UNKNOWN;
    }
    table_free(&t);
    return 0;
}

void map_stations_free(map_stations *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->id[i]);
        free(s->name[i]);
    }
    free(s->x);
    free(s->y);
    free(s->id);
    free(s->name);
    free(s->kind);
    memset(s, 0, sizeof *s);
}

int read_units_csv(const char *path, map_units *u)
{
    memset(u, 0, sizeof *u);
    table t;
    int rc = table_read(path, &t);
    if (rc)
        return rc;
    int xc, yc;
    if ((rc = table_xy(&t, NULL, NULL, &xc, &yc))) {
        table_free(&t);
        return rc;
    }
    int ic = table_col(&t, "id"), sc = table_col(&t, "status"), cc = table_col(&t, "caps");
    int kc = table_col(&t, "kind"), hc = table_col(&t, "station");
    size_t n = t.nrows;
    u->id = calloc(n + 1, sizeof *u->id);
    u->x = calloc(n + 1, sizeof *u->x);
    u->y = calloc(n + 1, sizeof *u->y);
    u->status = calloc(n + 1, sizeof *u->status);
    u->kind = calloc(n + 1, sizeof *u->kind);
    u->caps = calloc(n + 1, sizeof *u->caps);
    u->station = calloc(n + 1, sizeof *u->station);
    if (!u->id || !u->x || !u->y || !u->status || !u->kind || !u->caps || !u->station) {
        errorf("out of memory");
        table_free(&t);
        return EX_SOFTWARE_;
    }
    rc = EX_DATAERR_;
    for (size_t r = 0; r < n; r++) {
        u->station[r] = xstrdup(hc >= 0 ? table_at(&t, r, hc) : "");
        u->n = r + 1; /* counted now, so an error below frees this row's string too */
        if (!read_xy(&t, r, xc, yc, &u->x[r], &u->y[r]))
            goto done;
        u->id[r] = (int64_t)r;
        if (ic >= 0) {
            char *end;
            errno = 0;
            long long v = strtoll(table_at(&t, r, ic), &end, 10);
            if (*end || errno || v < 0 || end == table_at(&t, r, ic)) {
                errorf("%s: line %llu: unit id '%s' is not an integer >= 0", t.label, t.line[r],
                       table_at(&t, r, ic));
                goto done;
            }
            u->id[r] = v;
        }
        int v = sc >= 0 && *table_at(&t, r, sc)
                    ? name_or_number(status_names, 5, table_at(&t, r, sc), 31)
                    : 0;
        if (v < 0) {
            errorf("%s: line %llu: unknown status '%s'", t.label, t.line[r], table_at(&t, r, sc));
            goto done;
        }
        u->status[r] = v;
        v = kc >= 0 && *table_at(&t, r, kc)
                ? name_or_number(kind_names, 5, table_at(&t, r, kc), LG_UNIT_KINDS - 1)
                : 0;
        if (v < 0) {
            errorf("%s: line %llu: unknown kind '%s'", t.label, t.line[r], table_at(&t, r, kc));
            goto done;
        }
        u->kind[r] = v;
        if (cc >= 0) {
            char *copy = xstrdup(table_at(&t, r, cc)), *save = NULL;
            for (char *tok = strtok_r(copy, "|;", &save); tok; tok = strtok_r(NULL, "|;", &save)) {
                int b = name_or_number(cap_names, 4, tok, 31);
                if (b < 0) {
                    errorf("%s: line %llu: unknown capability '%s'", t.label, t.line[r], tok);
                    free(copy);
                    goto done;
                }
                u->caps[r] |= 1u << b;
            }
            free(copy);
        }
    }
    rc = 0;
done:
    table_free(&t);
    return rc;
}

void map_units_free(map_units *u)
{
    for (size_t i = 0; i < u->n; i++)
        free(u->station[i]);
    free(u->id);
    free(u->x);
    free(u->y);
    free(u->status);
    free(u->kind);
    free(u->caps);
    free(u->station);
    memset(u, 0, sizeof *u);
}

int read_incidents_csv(const char *path, map_incidents *in)
{
    memset(in, 0, sizeof *in);
    table t;
    int rc = table_read(path, &t);
    if (rc)
        return rc;
    int xc, yc;
    if ((rc = table_xy(&t, NULL, NULL, &xc, &yc))) {
        table_free(&t);
        return rc;
    }
    int ic = table_col(&t, "id"), tc = table_col(&t, "time"), yc2 = table_col(&t, "type");
    size_t n = t.nrows;
    in->id = calloc(n + 1, sizeof *in->id);
    in->x = calloc(n + 1, sizeof *in->x);
    in->y = calloc(n + 1, sizeof *in->y);
    in->time = calloc(n + 1, sizeof *in->time);
    in->type = calloc(n + 1, sizeof *in->type);
    if (!in->id || !in->x || !in->y || !in->time || !in->type) {
        errorf("out of memory");
        table_free(&t);
        return EX_SOFTWARE_;
    }
    rc = EX_DATAERR_;
    for (size_t r = 0; r < n; r++, in->n++) {
        in->type[r] = xstrdup(yc2 >= 0 ? table_at(&t, r, yc2) : "");
        if (!read_xy(&t, r, xc, yc, &in->x[r], &in->y[r]))
            goto done;
        in->id[r] = (int64_t)r;
        if (ic >= 0) {
            char *end;
            long long v = strtoll(table_at(&t, r, ic), &end, 10);
            if (*end || end == table_at(&t, r, ic)) {
                errorf("%s: line %llu: incident id '%s' is not an integer", t.label, t.line[r],
                       table_at(&t, r, ic));
                goto done;
            }
            in->id[r] = v;
        }
        in->time[r] = NAN;
        if (tc >= 0 && *table_at(&t, r, tc) && !parse_double(table_at(&t, r, tc), &in->time[r])) {
            errorf("%s: line %llu: time '%s' is not a number (seconds)", t.label, t.line[r],
                   table_at(&t, r, tc));
            goto done;
        }
    }
    rc = 0;
done:
    table_free(&t);
    return rc;
}

void map_incidents_free(map_incidents *in)
{
    for (size_t i = 0; i < in->n; i++)
        free(in->type[i]);
    free(in->id);
    free(in->x);
    free(in->y);
    free(in->time);
    free(in->type);
    memset(in, 0, sizeof *in);
}

/* ------------------------------------------------------------ the buffer */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

#if defined(__GNUC__)
static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->oom = true;
            return;
        }
        if (b->p && (size_t)w < b->cap - b->len) {
            b->len += (size_t)w;
            return;
        }
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (cap < b->len + (size_t)w + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

static void sb_puts(sbuf *b, const char *s)
{
    sb_printf(b, "%s", s);
}

/* XML-escaped text. */
static void sb_text(sbuf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': sb_puts(b, "&lt;"); break;
        case '>': sb_puts(b, "&gt;"); break;
        case '&': sb_puts(b, "&amp;"); break;
        case '"': sb_puts(b, "&quot;"); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t')
                sb_printf(b, "%c", *s);
        }
    }
}

/* A coordinate rounded to 0.1 px, without a trailing ".0". */
static void sb_num(sbuf *b, double v)
{
    long long t = llround(v * 10.0);
    if (t % 10 == 0)
        sb_printf(b, "%lld", t / 10);
    else
        sb_printf(b, "%s%lld.%lld", t < 0 ? "-" : "", llabs(t) / 10, llabs(t) % 10);
}

/* Write data to path under a temporary name in the same directory, then rename. */
static int write_atomic(const char *path, const char *data, size_t len)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp) {
        errorf("out of memory");
        return EX_SOFTWARE_;
    }
    snprintf(tmp, n + 16, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        errorf("%s: cannot create: %s", path, strerror(errno));
        free(tmp);
        return EX_CANTCREAT_;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    int err = off == len ? 0 : errno ? errno : EIO;
    if (!err && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && !err)
        err = errno;
    if (!err && chmod(tmp, 0644) != 0)
        err = errno;
    if (!err && rename(tmp, path) != 0)
        err = errno;
    if (err) {
        unlink(tmp);
        errorf("%s: %s", path, strerror(err));
        free(tmp);
        return EX_IOERR_;
    }
    free(tmp);
    return 0;
}

/* ------------------------------------------------------------------- map */

/* Qualitative palette (light, so symbols stay visible); no greys, no strong reds. */
static const char *const palette[] = {"#8dd3c7", "#ffffb3", "#bebada", "#80b1d3",
                                      "#fdb462", "#b3de69", "#fccde5", "#bc80bd",
                                      "#ccebc5", "#ffed6f", "#e5c494", "#a6cee3"};
#define NPALETTE (sizeof palette / sizeof palette[0])

#define FILL_PLAIN "#f4f2ec"
#define FILL_COVER1 "#eef1e2"
#define FILL_COVER2 "#e1eacf"
#define FILL_UNCOV "#fbe4df"
#define COL_CENTRAL "#b2182b"
#define COL_BASE "#2166ac"
#define COL_BORDER "#1b7837"
#define COL_INCIDENT "#6a3d9a"

static const char *const status_colour[] = {"#1a9641", "#fdae61", "#f46d43", "#d7191c", "#9e9e9e"};

typedef struct xform {
    double minx, maxy, s, ox, oy;
} xform;

static double tx(const xform *t, double x)
{
    return t->ox + (x - t->minx) * t->s;
}

static double ty(const xform *t, double y)
{
    return t->oy + (t->maxy - y) * t->s;
}

/* Path data of all rings of a row of a layer (consecutive equal points dropped). */
static void sb_rings(sbuf *b, const xform *t, const lg_layer *l, size_t row)
{
    size_t nr = lg_layer_ring_count(l, row);
    for (size_t r = 0; r < nr; r++) {
        const double *xy;
        size_t nv;
        if (lg_layer_ring(l, row, r, &xy, &nv) != LG_OK || nv < 4)
            continue;
        long long px = LLONG_MIN, py = LLONG_MIN;
        bool first = true;
        for (size_t i = 0; i + 1 < nv; i++) { /* the closing vertex is Z */
            double x = tx(t, xy[2 * i]), y = ty(t, xy[2 * i + 1]);
            long long qx = llround(x * 10), qy = llround(y * 10);
            if (qx == px && qy == py)
                continue;
            sb_puts(b, first ? "M" : "L");
            sb_num(b, x);
            sb_puts(b, " ");
            sb_num(b, y);
            px = qx, py = qy;
            first = false;
        }
        sb_puts(b, "Z");
    }
}

/* Colours of zones: greedy over the zone adjacency, adjacent zones differ when the
 * palette allows. colour[z] indexes palette. */
static void colour_zones(lg_context *ctx, const lg_layer *cells, const int64_t *zone, size_t nzones,
                         int *colour)
{
    size_t n = lg_layer_count(cells);
    bool *adj = nzones <= 4096 ? calloc(nzones * nzones, 1) : NULL;
    lg_graph *g = NULL;
    if (adj && lg_layer_adjacency(ctx, cells, NULL, &g) == LG_OK) {
        for (size_t i = 0; i < n; i++) {
            const int64_t *nb;
            size_t k;
            if (zone[i] < 0 || lg_graph_neighbors(g, i, &nb, NULL, &k) != LG_OK)
                continue;
            for (size_t j = 0; j < k; j++) {
                int64_t zj = zone[nb[j]];
                if (zj >= 0 && zj != zone[i]) {
                    adj[(size_t)zone[i] * nzones + (size_t)zj] = true;
                    adj[(size_t)zj * nzones + (size_t)zone[i]] = true;
                }
            }
        }
    }
    lg_graph_free(g);
    for (size_t z = 0; z < nzones; z++) {
        size_t start = (z * 5) % NPALETTE; /* spread the colours */
        colour[z] = (int)start;
        if (!adj)
            continue;
        for (size_t k = 0; k < NPALETTE; k++) {
            size_t c = (start + k) % NPALETTE;
            bool used = false;
            for (size_t w = 0; w < z && !used; w++)
                used = adj[z * nzones + w] && colour[w] == (int)c;
            if (!used) {
                colour[z] = (int)c;
                break;
            }
        }
    }
    free(adj);
}

/* A nice scale length (1, 2 or 5 times a power of ten) of about target metres. */
static double nice_length(double target)
{
    double p = pow(10.0, floor(log10(target)));
    double m = target / p;
    return (m >= 5 ? 5 : m >= 2 ? 2 : 1) * p;
}

static void sb_length(sbuf *b, double m)
{
    if (m >= 1000)
        sb_printf(b, "%g km", m / 1000);
    else
        sb_printf(b, "%g m", m);
}

/* Station symbol at (x, y) px. */
static void sb_station(sbuf *b, int kind, double x, double y, double size)
{
    switch (kind) {
    case MAP_CENTRAL: { /* five-pointed star */
        sb_printf(b, "<path class=\"st-central\" fill=\"%s\" d=\"", COL_CENTRAL);
        for (int i = 0; i < 10; i++) {
            double r = (i % 2 ? 0.45 : 1.15) * size, a = -M_PI / 2 + i * M_PI / 5;
            sb_puts(b, i ? "L" : "M");
            sb_num(b, x + r * cos(a));
            sb_puts(b, " ");
            sb_num(b, y + r * sin(a));
        }
        sb_puts(b, "Z\"/>");
        break;
    }
    case MAP_BASE:
        sb_printf(b, "<circle class=\"st-base\" fill=\"%s\" cx=\"", COL_BASE);
        sb_num(b, x);
        sb_puts(b, "\" cy=\"");
        sb_num(b, y);
        sb_printf(b, "\" r=\"%.1f\"/>", 0.62 * size);
        break;
    case MAP_BORDER:
        sb_printf(b, "<path class=\"st-border\" fill=\"%s\" d=\"M", COL_BORDER);
        sb_num(b, x);
        sb_puts(b, " ");
        sb_num(b, y - 0.85 * size);
        sb_printf(b, "l%.1f %.1fl%.1f %.1fl%.1f %.1fZ\"/>", 0.75 * size, 0.85 * size, -0.75 * size,
                  0.85 * size, -0.75 * size, -0.85 * size);
        break;
    default:
        sb_puts(b, "<rect class=\"st-unknown\" fill=\"#444\" x=\"");
        sb_num(b, x - 0.45 * size);
        sb_puts(b, "\" y=\"");
        sb_num(b, y - 0.45 * size);
        sb_printf(b, "\" width=\"%.1f\" height=\"%.1f\"/>", 0.9 * size, 0.9 * size);
    }
}

/* Unit symbol: car square, motorbike triangle, foot small circle; colour by status. */
static void sb_unit(sbuf *b, int32_t kind, int32_t status, double x, double y)
{
    const char *col = status >= 0 && status < 5 ? status_colour[status] : "#666";
    if (kind == LG_UNIT_MOTORBIKE) {
        sb_printf(b, "<path class=\"unit\" fill=\"%s\" d=\"M", col);
        sb_num(b, x);
        sb_puts(b, " ");
        sb_num(b, y - 4);
        sb_puts(b, "l4 7h-8Z\"/>");
    } else if (kind == LG_UNIT_FOOT) {
        sb_printf(b, "<circle class=\"unit\" fill=\"%s\" cx=\"", col);
        sb_num(b, x);
        sb_puts(b, "\" cy=\"");
        sb_num(b, y);
        sb_puts(b, "\" r=\"2.8\"/>");
    } else {
        sb_printf(b, "<rect class=\"unit\" fill=\"%s\" x=\"", col);
        sb_num(b, x - 3.2);
        sb_puts(b, "\" y=\"");
        sb_num(b, y - 3.2);
        sb_puts(b, "\" width=\"6.4\" height=\"6.4\"/>");
    }
}

#define MAP_W 1000.0 /* largest map width, px */
#define MAP_H 860.0  /* largest map height, px */
#define MARGIN 20.0
#define TITLE_H 56.0
#define LEGEND_W 270.0

int map_write(lg_context *ctx, const map_input *in, const char *svg_path, const char *html_path,
              size_t *n_paths)
{
    const lg_layer *l = in->cells;
    size_t n = lg_layer_count(l);
    double box[4];
    if (!lg_layer_bounds(l, box)) {
        errorf("render: the grid has no cells");
        return EX_DATAERR_;
    }
    double w = box[2] - box[0], h = box[3] - box[1];
    if (!(w > 0) || !(h > 0)) {
        errorf("render: the grid has no extent");
        return EX_DATAERR_;
    }
    double pad = 0.04 * (w > h ? w : h);
    w += 2 * pad, h += 2 * pad;
    xform t;
    t.s = MAP_W / w < MAP_H / h ? MAP_W / w : MAP_H / h;
    double mw = w * t.s, mh = h * t.s;
    t.minx = box[0] - pad;
    t.maxy = box[3] + pad;
    t.ox = MARGIN;
    t.oy = MARGIN + TITLE_H;
    double W = MARGIN + mw + MARGIN + LEGEND_W + MARGIN;
    double H = t.oy + mh + MARGIN;
    if (H < 720)
        H = 720;

    /* zones and their colours */
    size_t nzones = 0;
    int *zcol = NULL;
    if (in->zone) {
        for (size_t i = 0; i < n; i++)
            if (in->zone[i] >= 0 && (size_t)in->zone[i] + 1 > nzones)
                nzones = (size_t)in->zone[i] + 1;
        zcol = calloc(nzones + 1, sizeof *zcol);
        if (!zcol) {
            errorf("out of memory");
            return EX_SOFTWARE_;
        }
        colour_zones(ctx, l, in->zone, nzones, zcol);
    }

    sbuf b = {0};
    sb_printf(&b,
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
              "viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, Arial, sans-serif\">\n",
              W, H, W, H);
    sb_puts(&b, "<title>");
    sb_text(&b, in->title ? in->title : "libgrid map");
    sb_puts(&b, "</title>\n");
    sb_puts(&b,
            "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
            "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"" FILL_UNCOV
            "\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#d7301f\" "
            "stroke-width=\"1.6\"/></pattern>\n"
            "<style>.cell{stroke:#8a8a8a;stroke-width:0.5;stroke-linejoin:round}"
            ".unc{fill:url(#hatch);stroke:#d7301f;stroke-width:0.8}"
            ".jur{fill:none;stroke:#333;stroke-width:1.7;stroke-linejoin:round}"
            ".reach{fill:#2166ac;fill-opacity:0.035;stroke:#2166ac;stroke-opacity:0.45;"
            "stroke-width:0.8;stroke-dasharray:4 3}"
            ".inc{fill:" COL_INCIDENT ";fill-opacity:0.55}"
            ".unit{stroke:#222;stroke-width:0.7}"
            "[class^=st-]{stroke:#fff;stroke-width:1.3}"
            ".lbl{font-size:10.5px;fill:#222;stroke:#fff;stroke-width:3px;paint-order:stroke;"
            "stroke-linejoin:round}"
            ".lg{font-size:12px;fill:#222}.lgh{font-size:13px;font-weight:bold;fill:#222}"
            "</style></defs>\n");
    sb_printf(&b, "<rect width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n", W, H);
    sb_printf(&b,
              "<text x=\"%.0f\" y=\"%.0f\" font-size=\"20\" font-weight=\"bold\" fill=\"#222\">",
              MARGIN, MARGIN + 20);
    sb_text(&b, in->title ? in->title : "libgrid map");
    sb_puts(&b, "</text>\n");
    if (in->subtitle) {
        sb_printf(&b, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"12.5\" fill=\"#555\">", MARGIN,
                  MARGIN + 40);
        sb_text(&b, in->subtitle);
        sb_puts(&b, "</text>\n");
    }
    sb_printf(&b,
              "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fbfdff\" "
              "stroke=\"#ccc\"/>\n",
              t.ox, t.oy, mw, mh);

    /* cells */
    char idb[64];
    size_t paths = 0, uncovered = 0;
    sb_puts(&b, "<g id=\"cells\">\n");
    for (size_t i = 0; i < n; i++) {
        if (lg_layer_ring_count(l, i) == 0)
            continue;
        const char *fill = in->cov_count ? (in->cov_count[i] >= 2   ? FILL_COVER2
                                            : in->cov_count[i] == 1 ? FILL_COVER1
                                            : in->cov_count[i] == 0 ? FILL_UNCOV
                                                                    : FILL_PLAIN)
                                         : FILL_PLAIN;
        if (in->zone && in->zone[i] >= 0)
            fill = palette[zcol[in->zone[i]] % (int)NPALETTE];
        sb_puts(&b, "<path class=\"cell\" data-cell=\"");
        sb_text(&b, cell_id(l, i, idb, sizeof idb));
        if (in->zone && in->zone[i] >= 0)
            sb_printf(&b, "\" data-zone=\"%lld", (long long)in->zone[i]);
        sb_printf(&b, "\" fill=\"%s\" d=\"", fill);
        sb_rings(&b, &t, l, i);
        sb_puts(&b, "\"/>\n");
        paths++;
    }
    sb_puts(&b, "</g>\n");
    if (in->cov_count) {
        sb_puts(&b, "<g id=\"uncovered\">\n");
        for (size_t i = 0; i < n; i++) {
            if (in->cov_count[i] != 0 || lg_layer_ring_count(l, i) == 0)
                continue;
            sb_puts(&b, "<path class=\"unc\" data-cell=\"");
            sb_text(&b, cell_id(l, i, idb, sizeof idb));
            sb_puts(&b, "\" d=\"");
            sb_rings(&b, &t, l, i);
            sb_puts(&b, "\"/>\n");
            uncovered++;
        }
        sb_puts(&b, "</g>\n");
    }
    if (in->jurisdictions) {
        sb_puts(&b, "<g id=\"jurisdictions\">\n");
        for (size_t j = 0; j < lg_layer_count(in->jurisdictions); j++) {
            sb_puts(&b, "<path class=\"jur\" d=\"");
            sb_rings(&b, &t, in->jurisdictions, j);
            sb_puts(&b, "\"/>\n");
        }
        sb_puts(&b, "</g>\n");
    }
    const map_stations *st = in->stations;
    if (st && in->cov_radius_m > 0) {
        sb_printf(&b,
                  "<clipPath id=\"mapclip\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                  "height=\"%.1f\"/></clipPath>\n",
                  t.ox, t.oy, mw, mh);
        sb_puts(&b, "<g id=\"reach\" clip-path=\"url(#mapclip)\">\n");
        for (size_t k = 0; k < st->n; k++) {
            sb_puts(&b, "<circle class=\"reach\" cx=\"");
            sb_num(&b, tx(&t, st->x[k]));
            sb_puts(&b, "\" cy=\"");
            sb_num(&b, ty(&t, st->y[k]));
            sb_puts(&b, "\" r=\"");
            sb_num(&b, in->cov_radius_m * t.s);
            sb_puts(&b, "\"/>\n");
        }
        sb_puts(&b, "</g>\n");
    }
    if (in->incidents && in->incidents->n) {
        sb_puts(&b, "<g id=\"incidents\">\n");
        for (size_t k = 0; k < in->incidents->n; k++) {
            sb_puts(&b, "<circle class=\"inc\" cx=\"");
            sb_num(&b, tx(&t, in->incidents->x[k]));
            sb_puts(&b, "\" cy=\"");
            sb_num(&b, ty(&t, in->incidents->y[k]));
            sb_puts(&b, "\" r=\"1.8\"/>\n");
        }
        sb_puts(&b, "</g>\n");
    }
    if (in->units && in->units->n) {
        sb_puts(&b, "<g id=\"units\">\n");
        for (size_t k = 0; k < in->units->n; k++) {
            sb_unit(&b, in->units->kind[k], in->units->status[k], tx(&t, in->units->x[k]),
                    ty(&t, in->units->y[k]));
            sb_puts(&b, "\n");
        }
        sb_puts(&b, "</g>\n");
    }
    bool has_kind[4] = {false};
    if (st && st->n) {
        sb_puts(&b, "<g id=\"stations\">\n");
        for (size_t k = 0; k < st->n; k++) {
            int kind = st->kind[k] >= 0 && st->kind[k] <= 3 ? st->kind[k] : 0;
            has_kind[kind] = true;
            sb_station(&b, kind, tx(&t, st->x[k]), ty(&t, st->y[k]), 8.0);
            sb_puts(&b, "\n");
        }
        for (size_t k = 0; k < st->n; k++) {
            sb_puts(&b, "<text class=\"lbl\" x=\"");
            sb_num(&b, tx(&t, st->x[k]) + 9);
            sb_puts(&b, "\" y=\"");
            sb_num(&b, ty(&t, st->y[k]) + 4);
            sb_puts(&b, "\">");
            sb_text(&b, st->name[k]);
            sb_puts(&b, "</text>\n");
        }
        sb_puts(&b, "</g>\n");
    }

    /* scale bar: bottom left of the map, a nice length near a fifth of its width */
    double len_m = nice_length(mw / t.s / 5), len_px = len_m * t.s;
    double sx = t.ox + 16, sy = t.oy + mh - 22;
    sb_printf(&b, "<g id=\"scalebar\" font-size=\"11\" fill=\"#222\">");
    for (int k = 0; k < 4; k++)
        sb_printf(&b,
                  "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"6\" fill=\"%s\" "
                  "stroke=\"#222\" stroke-width=\"0.8\"/>",
                  sx + k * len_px / 4, sy, len_px / 4, k % 2 ? "#fff" : "#222");
    sb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">0</text>", sx, sy - 4);
    sb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", sx + len_px, sy - 4);
    sb_length(&b, len_m);
    sb_puts(&b, "</text></g>\n");
    /* north arrow: top right of the map */
    double nx = t.ox + mw - 30, ny = t.oy + 18;
    sb_printf(&b,
              "<g id=\"north\"><path d=\"M%.1f %.1fl10 28l-10 -7l-10 7Z\" fill=\"#222\"/>"
              "<path d=\"M%.1f %.1fl10 28l-10 -7Z\" fill=\"#fff\" stroke=\"#222\" "
              "stroke-width=\"0.8\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
              "font-size=\"14\" font-weight=\"bold\" fill=\"#222\">N</text></g>\n",
              nx, ny + 12, nx, ny + 12, nx, ny + 8);

    /* legend */
    double lx = MARGIN + mw + MARGIN, ly = t.oy;
    sb_printf(&b,
              "<g id=\"legend\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
              "fill=\"#fff\" stroke=\"#bbb\" rx=\"4\"/>\n",
              lx, ly, LEGEND_W, H - ly - MARGIN);
    double x0 = lx + 14, x1 = lx + 42, y = ly + 24;
#define LG_LINE(txt)                                                                               \
    do {                                                                                           \
        sb_printf(&b, "<text class=\"lg\" x=\"%.1f\" y=\"%.1f\">", x1, y + 4);                     \
        sb_text(&b, txt);                                                                          \
        sb_puts(&b, "</text>\n");                                                                  \
        y += 21;                                                                                   \
    } while (0)
#define LG_HEAD(txt)                                                                               \
    do {                                                                                           \
        y += 4;                                                                                    \
        sb_printf(&b, "<text class=\"lgh\" x=\"%.1f\" y=\"%.1f\">%s</text>\n", x0, y, txt);        \
        y += 20;                                                                                   \
    } while (0)
    sb_printf(&b, "<text class=\"lgh\" x=\"%.1f\" y=\"%.1f\" font-size=\"15\">Legend</text>\n", x0,
              y);
    y += 22;
    if (st && st->n) {
        LG_HEAD("Police stations");
        static const char *const kind_text[] = {"station (class unknown)", "central station",
                                                "base station", "border station"};
        for (int k = 1; k <= 4; k++) {
            int kind = k % 4;
            if (!has_kind[kind])
                continue;
            sb_station(&b, kind, x0 + 12, y, 8.0);
            LG_LINE(kind_text[kind]);
        }
    }
    if (in->jurisdictions) {
        sb_printf(&b, "<path class=\"jur\" d=\"M%.1f %.1fh24\"/>", x0, y);
        LG_LINE("station jurisdiction");
    }
    LG_HEAD("Cells");
    sb_printf(&b,
              "<rect class=\"cell\" fill=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"24\" "
              "height=\"14\"/>",
              in->cov_count ? FILL_COVER1 : FILL_PLAIN, x0, y - 7);
    LG_LINE(in->cov_count ? "police grid cell, reached once" : "police grid cell");
    if (in->cov_count) {
        sb_printf(&b,
                  "<rect class=\"cell\" fill=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"24\" "
                  "height=\"14\"/>",
                  FILL_COVER2, x0, y - 7);
        LG_LINE("reached by 2+ stations");
        sb_printf(&b, "<rect class=\"unc\" x=\"%.1f\" y=\"%.1f\" width=\"24\" height=\"14\"/>", x0,
                  y - 7);
        char txt[96];
        snprintf(txt, sizeof txt, "not reached (%zu cells)", uncovered);
        LG_LINE(txt);
    }
    if (st && in->cov_radius_m > 0) {
        sb_printf(&b, "<circle class=\"reach\" cx=\"%.1f\" cy=\"%.1f\" r=\"9\"/>", x0 + 12, y);
        char txt[128];
        snprintf(txt, sizeof txt, "%s%s%.1f km)", in->cov_label ? in->cov_label : "reach", " (",
                 in->cov_radius_m / 1000);
        LG_LINE(txt);
    }
    if (nzones) {
        for (int k = 0; k < 4; k++)
            sb_printf(&b,
                      "<rect class=\"cell\" fill=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"6\" "
                      "height=\"14\"/>",
                      palette[(k * 5) % NPALETTE], x0 + 6 * k, y - 7);
        char txt[96];
        snprintf(txt, sizeof txt, "service-station zone (%zu)", nzones);
        LG_LINE(txt);
    }
    if (in->units && in->units->n) {
        LG_HEAD("Units");
        sb_unit(&b, LG_UNIT_CAR, 0, x0 + 12, y);
        LG_LINE("car");
        sb_unit(&b, LG_UNIT_MOTORBIKE, 0, x0 + 12, y);
        LG_LINE("motorbike");
        sb_unit(&b, LG_UNIT_FOOT, 0, x0 + 12, y);
        LG_LINE("foot patrol");
        static const char *const stext[] = {"available", "en route", "on scene", "busy",
                                            "off duty"};
        for (int s = 0; s < 5; s++) {
            bool any = false;
            for (size_t k = 0; k < in->units->n && !any; k++)
                any = in->units->status[k] == s;
            if (!any)
                continue;
            sb_printf(&b,
                      "<rect class=\"unit\" fill=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"14\" "
                      "height=\"9\"/>",
                      status_colour[s], x0 + 5, y - 4.5);
            LG_LINE(stext[s]);
        }
    }
    if (in->incidents && in->incidents->n) {
        LG_HEAD("Incidents");
        sb_printf(&b, "<circle class=\"inc\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.6\"/>", x0 + 12, y);
        char txt[96];
        snprintf(txt, sizeof txt, "incident (%zu)", in->incidents->n);
        LG_LINE(txt);
    }
#undef LG_LINE
#undef LG_HEAD
    sb_puts(&b, "</g>\n</svg>\n");
    free(zcol);
    if (b.oom) {
        free(b.p);
        errorf("out of memory");
        return EX_SOFTWARE_;
    }
    int rc = write_atomic(svg_path, b.p, b.len);
    if (!rc && html_path) {
        sbuf hb = {0};
        sb_puts(&hb, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                     "<title>");
        sb_text(&hb, in->title ? in->title : "libgrid map");
        sb_puts(&hb, "</title>\n<style>html,body{margin:0;background:#fff}"
                     "svg{display:block;max-width:100%;height:auto}</style>\n</head>\n<body>\n");
        if (!hb.oom && hb.len + b.len + 64 <= hb.cap) {
            memcpy(hb.p + hb.len, b.p, b.len);
            hb.len += b.len;
            hb.p[hb.len] = '\0';
        } else {
            sb_puts(&hb, b.p);
        }
        sb_puts(&hb, "</body>\n</html>\n");
        rc = hb.oom ? (errorf("out of memory"), EX_SOFTWARE_)
                    : write_atomic(html_path, hb.p, hb.len);
        free(hb.p);
    }
    free(b.p);
    if (n_paths)
        *n_paths = paths;
    return rc;
}

/* ---------------------------------------------------------------- render */

const char usage_render[] =
    "usage: libgrid render GRID -o MAP.svg [--html MAP.html] [--id-field F]\n"
    "                      [--station-field F] [--stations STATIONS.csv|PLAN.shp|.geojson]\n"
    "                      [--plan PLAN.csv] [--zones ZONES.csv] [--units UNITS.csv]\n"
    "                      [--incidents INC.csv] [--coverage RADIUS_M|COV.csv]\n"
    "                      [--title TEXT]\n"
    "\n"
    "Draw a map: a self-contained SVG (no fonts, scripts or images fetched) and, with\n"
    "--html, a page embedding it. Cells in thin lines, service-station zones in a\n"
    "qualitative palette (adjacent zones differ), station jurisdictions outlined,\n"
    "stations by class (central: star, base: circle, border: diamond) with their names,\n"
    "units (car: square, motorbike: triangle, foot: dot; colour by status), incidents,\n"
    "coverage (cells shaded by how many stations reach them, the others hatched red,\n"
    "reach circles), a legend, a scale bar and a north arrow. Files are written under\n"
    "temporary names and renamed into place.\n"
    "\n"
    "  -o, --output FILE   the SVG to write\n"
    "  --html FILE         also an HTML page embedding the SVG\n"
    "  --id-field F        cell id attribute (ids in --zones and --coverage CSVs;\n"
    "                      default: cell_id when the grid has it, else row numbers)\n"
    "  --station-field F   cell attribute naming the station: outlines jurisdictions\n"
    "  --stations FILE     station points: CSV with x,y and optional id, name, kind\n"
    "                      (central, base, border); or a plan written by 'libgrid\n"
    "                      stations -o PLAN.shp|.geojson' (jurisdictions with their kind)\n"
    "  --plan PLAN.csv     classes from 'libgrid stations -o PLAN.csv' (station,kind,...),\n"
    "                      matched to the stations' id (or name, or row number)\n"
    "  --zones ZONES.csv   zone per cell: CSV cell,zone ('libgrid zones' per-cell output)\n"
    "  --units UNITS.csv   units: id,x,y,status,caps,kind,station (as 'libgrid nearest')\n"
    "  --incidents FILE    incidents: CSV with x,y\n"
    "  --coverage R|FILE   a radius in metres around the stations (needs --stations), or\n"
    "                      the per-cell CSV of 'libgrid coverage' (columns cell,count)\n"
    "  --title TEXT        map title (default: the grid's file name)\n";

/* Read a cell,zone CSV into zone[] (LG_NONE where absent). */
static int read_zones(const char *path, const lg_layer *l, int64_t *zone)
{
    table t;
    int rc = table_read(path, &t);
    if (rc)
        return rc;
    int cc = table_need(&t, "cell"), zc = cc >= 0 ? table_need(&t, "zone") : -1;
    if (zc < 0) {
        table_free(&t);
        return EX_DATAERR_;
    }
    for (size_t i = 0; i < lg_layer_count(l); i++)
        zone[i] = LG_NONE;
    for (size_t r = 0; r < t.nrows; r++) {
        int64_t row = cell_row(l, table_at(&t, r, cc));
        if (row == LG_NONE) {
            errorf("%s: line %llu: no cell with id '%s' in the grid", t.label, t.line[r],
                   table_at(&t, r, cc));
            rc = EX_DATAERR_;
            break;
        }
        const char *zs = table_at(&t, r, zc);
        if (!*zs)
            continue;
        size_t z;
        if (!parse_size(zs, &z) || z >= lg_layer_count(l)) {
            errorf("%s: line %llu: zone '%s' is not an integer 0..%zu", t.label, t.line[r], zs,
                   lg_layer_count(l) - 1);
            rc = EX_DATAERR_;
            break;
        }
        zone[row] = (int64_t)z;
    }
    table_free(&t);
    return rc;
}

/* Read a coverage CSV (cell,count) into count[] (-1: cell not listed, drawn plain). */
static int read_cov_csv(const char *path, const lg_layer *l, int32_t *count)
{
    table t;
    int rc = table_read(path, &t);
    if (rc)
        return rc;
    int cc = table_need(&t, "cell"), kc = cc >= 0 ? table_need(&t, "count") : -1;
    if (kc < 0) {
        table_free(&t);
        return EX_DATAERR_;
    }
    for (size_t i = 0; i < lg_layer_count(l); i++)
        count[i] = -1;
    for (size_t r = 0; r < t.nrows; r++) {
        int64_t row = cell_row(l, table_at(&t, r, cc));
        size_t v;
        if (row == LG_NONE) {
            errorf("%s: line %llu: no cell with id '%s' in the grid", t.label, t.line[r],
                   table_at(&t, r, cc));
            rc = EX_DATAERR_;
            break;
        }
        if (!parse_size(table_at(&t, r, kc), &v) || v > INT32_MAX) {
            errorf("%s: line %llu: count '%s' is not an integer >= 0", t.label, t.line[r],
                   table_at(&t, r, kc));
            rc = EX_DATAERR_;
            break;
        }
        count[row] = (int32_t)v;
    }
    table_free(&t);
    return rc;
}

/* Apply a plan CSV (station,kind) to the stations by id, then name, then row number. */
static int apply_plan(const char *path, map_stations *s)
{
    table t;
    int rc = table_read(path, &t);
    if (rc)
        return rc;
    int sc = table_need(&t, "station"), kc = sc >= 0 ? table_need(&t, "kind") : -1;
    if (kc < 0) {
        table_free(&t);
        return EX_DATAERR_;
    }
    for (size_t r = 0; r < t.nrows && !rc; r++) {
        const char *v = table_at(&t, r, sc);
        size_t k;
        for (k = 0; k < s->n; k++)
            if (strcmp(s->id[k], v) == 0)
                break;
        for (size_t j = 0; k == s->n && j < s->n; j++)
            if (strcmp(s->name[j], v) == 0)
                k = j;
        size_t num;
        if (k == s->n && parse_size(v, &num) && num < s->n)
            k = num;
        if (k == s->n) {
            errorf("%s: line %llu: station '%s' is not among the stations", t.label, t.line[r], v);
            rc = EX_DATAERR_;
            break;
        }
        int kind = map_kind_of(table_at(&t, r, kc));
        if (kind == MAP_UNKNOWN) {
            errorf("%s: line %llu: kind '%s' is not central, base or border", t.label, t.line[r],
                   table_at(&t, r, kc));
            rc = EX_DATAERR_;
            break;
        }
        s->kind[k] = kind;
    }
    table_free(&t);
    return rc;
}

/* Stations from a plan layer (jurisdiction polygons with station and kind fields): the
 * point is the polygon's area centroid. */
static int stations_from_layer(const lg_layer *pl, map_stations *s)
{
    size_t n = lg_layer_count(pl);
    memset(s, 0, sizeof *s);
    s->x = calloc(n + 1, sizeof *s->x);
    s->y = calloc(n + 1, sizeof *s->y);
    s->id = calloc(n + 1, sizeof *s->id);
    s->name = calloc(n + 1, sizeof *s->name);
    s->kind = calloc(n + 1, sizeof *s->kind);
    if (!s->x || !s->y || !s->id || !s->name || !s->kind ||
        lg_layer_centroids(pl, s->x, s->y, NULL) != LG_OK) {
        errorf("out of memory");
        return EX_SOFTWARE_;
    }
    size_t fs, fk;
    bool has_s = lg_layer_field_index(pl, "station", &fs) == LG_OK;
    bool has_k = lg_layer_field_index(pl, "kind", &fk) == LG_OK;
    for (size_t i = 0; i < n; i++, s->n++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%zu", i);
        if (has_s) {
            if (lg_layer_field_type(pl, fs) == LG_FIELD_TEXT) {
                const char *v = "";
                lg_layer_get_text(pl, fs, i, &v);
                snprintf(buf, sizeof buf, "%s", v ? v : "");
            } else {
                int64_t v = 0;
                lg_layer_get_int(pl, fs, i, &v);
                snprintf(buf, sizeof buf, "%lld", (long long)v);
            }
        }
        s->id[i] = xstrdup(buf);
        s->name[i] = xstrdup(buf);
        const char *k = "";
        if (has_k && lg_layer_field_type(pl, fk) == LG_FIELD_TEXT)
            lg_layer_get_text(pl, fk, i, &k);
        s->kind[i] = map_kind_of(k ? k : "");
    }
    return 0;
}

int cmd_render(lg_context *ctx, int argc, char **argv)
{
    enum { O_OUT, O_HTML, O_ID, O_SF, O_ST, O_PLAN, O_ZONES, O_UNITS, O_INC, O_COV, O_TITLE };
    static const opt_spec specs[] = {
        {"output", 'o', true},      {"html", 0, true},     {"id-field", 0, true},
        {"station-field", 0, true}, {"stations", 0, true}, {"plan", 0, true},
        {"zones", 0, true},         {"units", 0, true},    {"incidents", 0, true},
        {"coverage", 0, true},      {"title", 0, true},    {NULL, 0, false}};
    parsed_opts po;
    int rc = parse_opts("render", argc, argv, specs, 1, &po);
    if (rc)
        return rc;
    if (po.help) {
        fputs(usage_render, stdout);
        return 0;
    }
    if (po.npos != 1) {
        errorf("render: a grid file is required (see libgrid render --help)");
        return EX_USAGE_;
    }
    const char *svg = po.value[O_OUT];
    if (!svg || !ends_with(svg, ".svg")) {
        errorf("render: -o MAP.svg is required (a file ending in .svg)");
        return EX_USAGE_;
    }
    if (po.value[O_HTML] && !ends_with(po.value[O_HTML], ".html") &&
        !ends_with(po.value[O_HTML], ".htm")) {
        errorf("render: --html: %s: the page must end in .html", po.value[O_HTML]);
        return EX_USAGE_;
    }
    if (po.value[O_PLAN] && !po.value[O_ST]) {
        errorf("render: --plan gives the stations' classes: give --stations too");
        return EX_USAGE_;
    }
    double radius = 0;
    const char *cov = po.value[O_COV];
    bool cov_radius = cov && parse_double(cov, &radius);
    if (cov_radius && !(radius > 0)) {
        errorf("render: --coverage: the radius must be a positive number of metres");
        return EX_USAGE_;
    }
    if (cov_radius && !po.value[O_ST]) {
        errorf("render: --coverage %s is a radius around the stations: give --stations too", cov);
        return EX_USAGE_;
    }

    lg_layer *l = NULL, *plan_layer = NULL;
    lg_stations *jst = NULL;
    map_stations st = {0};
    map_units un = {0};
    map_incidents inc = {0};
    int64_t *zone = NULL;
    int32_t *count = NULL;
    const char *idf = po.value[O_ID];
    if (!idf) { /* the generator's id field, when the grid has it */
        if ((rc = load_grid(ctx, po.pos[0], NULL, NULL, 0, &l)))
            return rc;
        size_t f;
        if (lg_layer_field_index(l, "cell_id", &f) == LG_OK) {
            lg_layer_free(l);
            l = NULL;
            idf = "cell_id";
        }
    }
    if (!l && (rc = load_grid(ctx, po.pos[0], idf, NULL, 0, &l)))
        return rc;
    size_t n = lg_layer_count(l);
    map_input in = {.cells = l};
    if (po.value[O_SF]) {
        int64_t *grp = NULL;
        const char **names = NULL;
        size_t ng = 0;
        if ((rc = field_groups(l, po.pos[0], po.value[O_SF], &grp, &names, &ng)))
            goto done;
        free(grp);
        free(names);
        lg_error e = lg_stations_from_cells(ctx, l, po.value[O_SF], NULL, &jst);
        if (e) {
            rc = fail_ctx(ctx, e, true);
            goto done;
        }
        in.jurisdictions = lg_stations_jurisdictions(jst);
    }
    if (po.value[O_ST]) {
        const char *p = po.value[O_ST];
        if (out_format_of(p) == OUT_GEOJSON || out_format_of(p) == OUT_SHP) {
            if ((rc = load_grid(ctx, p, NULL, NULL, LG_LOAD_NO_VALIDATE, &plan_layer)) ||
                (rc = stations_from_layer(plan_layer, &st)))
                goto done;
            if (!in.jurisdictions)
                in.jurisdictions = plan_layer;
        } else if ((rc = read_stations_csv(p, &st))) {
            goto done;
        }
        if (po.value[O_PLAN] && (rc = apply_plan(po.value[O_PLAN], &st)))
            goto done;
        in.stations = &st;
    }
    if (po.value[O_ZONES]) {
        zone = malloc((n + 1) * sizeof *zone);
        if (!zone) {
            errorf("out of memory");
            rc = EX_SOFTWARE_;
            goto done;
        }
        if ((rc = read_zones(po.value[O_ZONES], l, zone)))
            goto done;
        in.zone = zone;
    }
    if (po.value[O_UNITS]) {
        if ((rc = read_units_csv(po.value[O_UNITS], &un)))
            goto done;
        in.units = &un;
    }
    if (po.value[O_INC]) {
        if ((rc = read_incidents_csv(po.value[O_INC], &inc)))
            goto done;
        in.incidents = &inc;
    }
    if (cov) {
        count = malloc((n + 1) * sizeof *count);
        if (!count) {
            errorf("out of memory");
            rc = EX_SOFTWARE_;
            goto done;
        }
        if (cov_radius) {
            lg_coverage_options co = {0};
            co.threshold.radius_m = radius;
            lg_coverage_results cr = {.count = count};
            lg_error e = lg_coverage_cells(ctx, l, st.x, st.y, st.n, &co, &cr);
            if (e) {
                rc = fail_ctx(ctx, e, true);
                goto done;
            }
            for (size_t i = 0; i < n; i++) /* empty cells: not drawn as uncovered */
                if (lg_layer_ring_count(l, i) == 0)
                    count[i] = -1;
            in.cov_radius_m = radius;
            in.cov_label = "reach";
        } else if ((rc = read_cov_csv(cov, l, count))) {
            goto done;
        }
        in.cov_count = count;
    }
    const char *base = strrchr(po.pos[0], '/');
    in.title = po.value[O_TITLE] ? po.value[O_TITLE] : base ? base + 1 : po.pos[0];
    size_t paths = 0;
    rc = map_write(ctx, &in, svg, po.value[O_HTML], &paths);
    if (!rc)
        fprintf(stderr, "render: %zu cells drawn to %s%s%s\n", paths, svg,
                po.value[O_HTML] ? " and " : "", po.value[O_HTML] ? po.value[O_HTML] : "");
done:
    free(zone);
    free(count);
    map_stations_free(&st);
    map_units_free(&un);
    map_incidents_free(&inc);
    lg_stations_free(jst);
    lg_layer_free(plan_layer);
    lg_layer_free(l);
    return rc;
}
