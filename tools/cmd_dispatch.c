/*
 * libgrid dispatch and analysis subcommands: nearest, coverage, heat.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ALL_OUT ((1u << OUT_CSV) | (1u << OUT_GEOJSON) | (1u << OUT_SHP))

/* ----------------------------------------------------------- name tables */

typedef struct named {
    const char *name;
    int value;
} named;

static const named status_names[] = {
    {"available", LG_STATUS_AVAILABLE}, {"en_route", LG_STATUS_EN_ROUTE},
    {"on_scene", LG_STATUS_ON_SCENE},   {"busy", LG_STATUS_BUSY},
    {"off_duty", LG_STATUS_OFF_DUTY},   {NULL, 0}};
static const named kind_names[] = {{"car", LG_UNIT_CAR},   {"motorbike", LG_UNIT_MOTORBIKE},
                                   {"foot", LG_UNIT_FOOT}, {"bicycle", LG_UNIT_BICYCLE},
                                   {"van", LG_UNIT_VAN},   {NULL, 0}};
static const named cap_names[] = {
    {"public_security", 0}, {"traffic", 1}, {"medical", 2}, {"armed", 3}, {NULL, 0}};

/* A name of the table or an integer in [0, max]; -1 if neither. */
static int lookup(const named *t, const char *s, int max)
{
    while (*s == ' ')
        s++;
    for (size_t i = 0; t[i].name; i++)
        if (strcasecmp(t[i].name, s) == 0)
            return t[i].value;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*s && !*end && !errno && v >= 0 && v <= max)
        return (int)v;
    return -1;
}

/* A list (separators in seps) of names/numbers as a bit mask; false on a bad item. */
static bool parse_mask(const named *t, int max, const char *s, const char *seps, uint32_t *mask,
                       char *bad, size_t badcap)
{
    *mask = 0;
    char *copy = strdup(s), *save = NULL;
    if (!copy)
        return false;
    bool ok = true;
    for (char *tok = strtok_r(copy, seps, &save); tok; tok = strtok_r(NULL, seps, &save)) {
        int v = lookup(t, tok, max);
        if (v < 0) {
            snprintf(bad, badcap, "%s", tok);
            ok = false;
            break;
        }
        *mask |= 1u << v;
    }
    free(copy);
    return ok;
}

/* -------------------------------------------------------------- nearest */

const char usage_nearest[] =
    "usage: libgrid nearest --units UNITS.csv --incidents INCIDENTS.csv [-k K]\n"
    "                       [--grid GRID [--station-field F] [--id-field F]]\n"
    "                       [--crs CRS] [--work-crs CRS] [--status LIST] [--caps LIST]\n"
    "                       [--any-caps LIST] [--kind LIST] [--station S] [--max-dist M]\n"
    "                       [--detour F] [-o OUT.csv]\n"
    "\n"
    "For each incident, the K nearest units that pass the filters, with distance, ETA\n"
    "and the cross-station and cross-county flags (a unit from another station's\n"
    "jurisdiction; an incident or unit outside every cell of the grid).\n"
    "\n"
    "UNITS.csv columns (a header line; only id, x and y are required):\n"
    "  id       unit id, an integer >= 0\n"
    "  x, y     position (or lon, lat), in the grid's CRS unless --crs says otherwise\n"
    "  status   available, en_route, on_scene, busy, off_duty or 0..31 (default available)\n"
    "  caps     capabilities separated by '|' or ';': public_security, traffic, medical,\n"
    "           armed or bit numbers 0..31 (default none)\n"
    "  kind     car, motorbike, foot, bicycle, van or 0..15 (default car; sets the speed)\n"
    "  station  home station: a value of --station-field (name or number); empty: none\n"
    "INCIDENTS.csv columns: id (optional; default the row number), x, y (or lon, lat).\n"
    "\n"
    "Output CSV: incident,rank,unit,distance_m,eta_s,cross_station,cross_county; one row\n"
    "per unit found (rank 1 nearest; ties by unit id), a row with empty rank and unit for\n"
    "an incident with no match.\n"
    "\n"
    "  -k N                units per incident (default 1)\n"
    "  --grid GRID         cells: station of each incident and unit, cross flags\n"
    "  --station-field F   cell attribute naming the station (with --grid)\n"
    "  --crs CRS           CRS of the units' and incidents' coordinates (e.g. EPSG:4326\n"
    "                      for GPS lon/lat); they are transformed to the grid's CRS\n"
    "  --work-crs CRS      projected CRS to work in when there is no --grid\n"
    "  --status LIST       comma-separated statuses accepted (default any)\n"
    "  --caps LIST         capabilities a unit must all have\n"
    "  --any-caps LIST     capabilities of which a unit must have at least one\n"
    "  --kind LIST         kinds accepted (default any)\n"
    "  --station S         only units whose home station is S\n"
    "  --max-dist M        only units within M metres\n"
    "  --detour F          road-detour factor of the ETA (default 1.3)\n"
    "  -o, --output FILE   output CSV (default standard output)\n";

/* Station number of a station value: grid names (TEXT field) or an integer. */
static int64_t station_value(const char *s, const char **names, size_t nnames)
{
    if (!*s)
        return LG_NONE;
    if (names) {
        for (size_t i = 0; i < nnames; i++)
            if (strcmp(names[i], s) == 0)
                return (int64_t)i;
        return -2;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno || v < 0)
        return -2;
    return v;
}

int cmd_nearest(lg_context *ctx, int argc, char **argv)
{
    enum {
        O_UNITS,
        O_INC,
        O_K,
        O_GRID,
        O_SF,
        O_ID,
        O_CRS,
        O_WCRS,
        O_STATUS,
        O_CAPS,
        O_ANY,
        O_KIND,
        O_ST,
        O_MAXD,
        O_DET,
        O_OUT
    };
    static const opt_spec specs[] = {{"units", 0, true},
                                     {"incidents", 0, true},
                                     {"k", 'k', true},
                                     {"grid", 0, true},
                                     {"station-field", 0, true},
                                     {"id-field", 0, true},
                                     {"crs", 0, true},
                                     {"work-crs", 0, true},
                                     {"status", 0, true},
                                     {"caps", 0, true},
                                     {"any-caps", 0, true},
                                     {"kind", 0, true},
                                     {"station", 0, true},
                                     {"max-dist", 0, true},
                                     {"detour", 0, true},
                                     {"output", 'o', true},
                                     {NULL, 0, false}};
    parsed_opts po;
    int rc = parse_opts("nearest", argc, argv, specs, 0, &po);
    if (rc)
        return rc;
    if (po.help) {
        fputs(usage_nearest, stdout);
        return 0;
    }
    if (!po.value[O_UNITS] || !po.value[O_INC]) {
        errorf("nearest: --units UNITS.csv and --incidents INCIDENTS.csv are required");
        return EX_USAGE_;
    }
    size_t k = 1;
    if (po.value[O_K] && (!parse_size(po.value[O_K], &k) || k == 0 || k > 1000)) {
        errorf("nearest: -k must be an integer 1..1000");
        return EX_USAGE_;
    }
    if (po.value[O_SF] && !po.value[O_GRID]) {
        errorf("nearest: --station-field needs --grid");
        return EX_USAGE_;
    }
    if (po.value[O_CRS] && !po.value[O_GRID] && !po.value[O_WCRS]) {
        errorf("nearest: --crs needs a CRS to work in: give --grid or --work-crs");
        return EX_USAGE_;
    }
    if ((rc = check_crs_arg(ctx, "--crs", po.value[O_CRS])) ||
        (rc = check_crs_arg(ctx, "--work-crs", po.value[O_WCRS])))
        return rc;
    if ((rc = check_output("nearest", "-o", po.value[O_OUT], 1u << OUT_CSV)))
        return rc;
    lg_unit_filter f = {0};
    char badname[64] = "";
    if (po.value[O_STATUS] && !parse_mask(status_names, 31, po.value[O_STATUS], ",", &f.status_mask,
                                          badname, sizeof badname)) {
        errorf("nearest: --status: unknown status '%s'", badname);
        return EX_USAGE_;
    }
    if (po.value[O_KIND] && !parse_mask(kind_names, LG_UNIT_KINDS - 1, po.value[O_KIND], ",",
                                        &f.kind_mask, badname, sizeof badname)) {
        errorf("nearest: --kind: unknown kind '%s'", badname);
        return EX_USAGE_;
    }
    if (po.value[O_CAPS] &&
        !parse_mask(cap_names, 31, po.value[O_CAPS], ",|;", &f.caps_all, badname, sizeof badname)) {
        errorf("nearest: --caps: unknown capability '%s'", badname);
        return EX_USAGE_;
    }
    if (po.value[O_ANY] &&
        !parse_mask(cap_names, 31, po.value[O_ANY], ",|;", &f.caps_any, badname, sizeof badname)) {
        errorf("nearest: --any-caps: unknown capability '%s'", badname);
        return EX_USAGE_;
    }
    if (po.value[O_MAXD] && (!parse_double(po.value[O_MAXD], &f.max_dist_m) || f.max_dist_m <= 0)) {
        errorf("nearest: --max-dist must be a positive number of metres");
        return EX_USAGE_;
    }
    lg_units_options uo = {0};
    if (po.value[O_DET] && (!parse_double(po.value[O_DET], &uo.detour) || uo.detour <= 0)) {
        errorf("nearest: --detour must be a positive number");
        return EX_USAGE_;
    }

    lg_layer *grid = NULL;
    int64_t *cell_station = NULL;
    const char **snames = NULL;
    size_t nsn = 0;
    table tu = {0}, ti = {0};
    lg_units *units = NULL;
    lg_transform *tr = NULL;
    double *ux = NULL, *uy = NULL, *ix = NULL, *iy = NULL, *dist = NULL, *eta = NULL;
    int64_t *uid = NULL, *ust = NULL, *rid = NULL;
    int32_t *ustat = NULL, *ukind = NULL;
    uint32_t *ucaps = NULL, *flags = NULL;
    size_t *cnt = NULL;
    FILE *out = NULL;
    const char *out_label = NULL;
    if (po.value[O_GRID]) {
        if ((rc = load_grid(ctx, po.value[O_GRID], po.value[O_ID], NULL, 0, &grid)))
            goto done;
        if (po.value[O_SF] && (rc = field_groups(grid, po.value[O_GRID], po.value[O_SF],
                                                 &cell_station, &snames, &nsn)))
            goto done;
    }
    if ((rc = table_read(po.value[O_UNITS], &tu)) || (rc = table_read(po.value[O_INC], &ti)))
        goto done;
    int uxc, uyc, ixc, iyc;
    if ((rc = table_xy(&tu, NULL, NULL, &uxc, &uyc)) ||
        (rc = table_xy(&ti, NULL, NULL, &ixc, &iyc)))
        goto done;
    int cid = table_need(&tu, "id");
    if (cid < 0) {
        rc = EX_DATAERR_;
        goto done;
    }
    int cst = table_col(&tu, "status"), ccap = table_col(&tu, "caps"),
        ckind = table_col(&tu, "kind"), cstn = table_col(&tu, "station"),
        ciid = table_col(&ti, "id");
    if (po.value[O_ST]) {
        f.by_station = true;
        f.station = station_value(po.value[O_ST], snames, nsn);
        if (f.station == -2) {
            errorf("nearest: --station '%s' is not a station", po.value[O_ST]);
            rc = EX_USAGE_;
            goto done;
        }
    }
    size_t nu = tu.nrows, ni = ti.nrows;
    ux = malloc((nu + 1) * sizeof *ux);
    uy = malloc((nu + 1) * sizeof *uy);
    uid = malloc((nu + 1) * sizeof *uid);
    ust = malloc((nu + 1) * sizeof *ust);
    ustat = malloc((nu + 1) * sizeof *ustat);
    ukind = malloc((nu + 1) * sizeof *ukind);
    ucaps = malloc((nu + 1) * sizeof *ucaps);
    ix = malloc((ni + 1) * sizeof *ix);
    iy = malloc((ni + 1) * sizeof *iy);
    rid = malloc((ni * k + 1) * sizeof *rid);
    dist = malloc((ni * k + 1) * sizeof *dist);
    eta = malloc((ni * k + 1) * sizeof *eta);
    flags = malloc((ni * k + 1) * sizeof *flags);
    cnt = malloc((ni + 1) * sizeof *cnt);
    if (!ux || !uy || !uid || !ust || !ustat || !ukind || !ucaps || !ix || !iy || !rid || !dist ||
        !eta || !flags || !cnt) {
        errorf("out of memory");
        rc = EX_SOFTWARE_;
        goto done;
    }
    for (size_t r = 0; r < nu; r++) {
        unsigned long long line = tu.line[r];
        char *end;
        errno = 0;
        long long v = strtoll(table_at(&tu, r, cid), &end, 10);
        if (!*table_at(&tu, r, cid) || *end || errno || v < 0) {
            errorf("%s: line %llu: unit id '%s' is not an integer >= 0", tu.label, line,
                   table_at(&tu, r, cid));
            rc = EX_DATAERR_;
            goto done;
        }
        uid[r] = v;
        if (!parse_double(table_at(&tu, r, uxc), &ux[r]) ||
            !parse_double(table_at(&tu, r, uyc), &uy[r])) {
            errorf("%s: line %llu: unit %lld: the position is not two numbers", tu.label, line, v);
            rc = EX_DATAERR_;
            goto done;
        }
        const char *s = cst >= 0 ? table_at(&tu, r, cst) : "";
        ustat[r] = *s ? lookup(status_names, s, 31) : LG_STATUS_AVAILABLE;
        s = ckind >= 0 ? table_at(&tu, r, ckind) : "";
        ukind[r] = *s ? lookup(kind_names, s, LG_UNIT_KINDS - 1) : LG_UNIT_CAR;
        s = ccap >= 0 ? table_at(&tu, r, ccap) : "";
        bool capok = !*s || parse_mask(cap_names, 31, s, "|; ", &ucaps[r], badname, sizeof badname);
        if (!*s)
            ucaps[r] = 0;
        s = cstn >= 0 ? table_at(&tu, r, cstn) : "";
        ust[r] = station_value(s, snames, nsn);
        const char *what = NULL, *hint = "";
        int col = -1;
        if (ustat[r] < 0) {
            what = "status";
            col = cst;
        } else if (ukind[r] < 0) {
            what = "kind";
            col = ckind;
        } else if (!capok) {
            what = "caps";
            col = ccap;
        } else if (ust[r] == -2) {
            what = "station";
            col = cstn;
            hint = snames ? " (not a station of the grid)" : " (not an integer >= 0)";
        }
        if (what) {
            errorf("%s: line %llu: unit %lld: bad %s '%s'%s", tu.label, line, v, what,
                   table_at(&tu, r, col), hint);
            rc = EX_DATAERR_;
            goto done;
        }
    }
    for (size_t r = 0; r < ni; r++)
        if (!parse_double(table_at(&ti, r, ixc), &ix[r]) ||
            !parse_double(table_at(&ti, r, iyc), &iy[r])) {
            errorf("%s: line %llu: the incident's position is not two numbers", ti.label,
                   ti.line[r]);
            rc = EX_DATAERR_;
            goto done;
        }
    if (po.value[O_CRS]) {
        const char *dst = grid ? lg_layer_crs(grid) : po.value[O_WCRS];
        if (!dst) {
            errorf("nearest: the grid has no CRS to transform --crs coordinates to");
            rc = EX_USAGE_;
            goto done;
        }
        lg_error e = lg_transform_new(ctx, po.value[O_CRS], dst, &tr);
        if (e) {
            rc = fail_ctx(ctx, e, false);
            goto done;
        }
        lg_transform_apply(tr, ux, uy, nu);
        lg_transform_apply(tr, ix, iy, ni);
        for (size_t r = 0; r < nu; r++)
            if (!isfinite(ux[r]) || !isfinite(uy[r])) {
                errorf("%s: line %llu: unit %lld: the position cannot be transformed from %s",
                       tu.label, tu.line[r], (long long)uid[r], po.value[O_CRS]);
                rc = EX_DATAERR_;
                goto done;
            }
    }
    uo.cells = grid;
    uo.cell_station = cell_station;
    lg_error e = lg_units_new(ctx, &uo, &units);
    if (e) {
        rc = fail_ctx(ctx, e, false);
        goto done;
    }
    lg_units_batch b = {.n = nu,
                        .ids = uid,
                        .x = ux,
                        .y = uy,
                        .status = ustat,
                        .caps = ucaps,
                        .kind = ukind,
                        .station = ust};
    if ((e = lg_units_update(ctx, units, &b)) || (e = lg_units_flush(ctx, units))) {
        const char *m = lg_context_message(ctx);
        errorf("%s: %s", tu.label, m && *m ? m : lg_strerror(e));
        rc = e == LG_ERR_ARG ? EX_DATAERR_ : exit_for(e, true);
        goto done;
    }
    lg_unit_results res = {.ids = rid, .dist_m = dist, .eta_s = eta, .flags = flags, .count = cnt};
    if ((e = lg_units_nearest(units, ix, iy, ni, k, &f, &res))) {
        rc = fail_ctx(ctx, e, false);
        goto done;
    }
    if (!(out = open_out(po.value[O_OUT], &out_label))) {
        rc = EX_CANTCREAT_;
        goto done;
    }
    fputs("incident,rank,unit,distance_m,eta_s,cross_station,cross_county\n", out);
    char buf[32];
    for (size_t i = 0; i < ni; i++) {
        const char *inc = ciid >= 0 ? table_at(&ti, i, ciid) : buf;
        if (ciid < 0)
            snprintf(buf, sizeof buf, "%zu", i);
        if (cnt[i] == 0) {
            csv_write_field(out, inc, strlen(inc));
            fputs(",,,,,,\n", out);
        }
        for (size_t j = 0; j < cnt[i]; j++) {
            size_t q = i * k + j;
            csv_write_field(out, inc, strlen(inc));
            fprintf(out, ",%zu,%lld,%.3f,%.1f,%d,%d\n", j + 1, (long long)rid[q], dist[q], eta[q],
                    (flags[q] & LG_UNIT_CROSS_STATION) ? 1 : 0,
                    (flags[q] & LG_UNIT_CROSS_COUNTY) ? 1 : 0);
        }
    }
    rc = close_out(out, out_label, 0);
    out = NULL;
done:
    if (out)
        close_out(out, out_label, rc);
    lg_units_free(units);
    lg_transform_free(tr);
    table_free(&tu);
    table_free(&ti);
    lg_layer_free(grid);
    free(cell_station);
    free(snames);
    free(ux);
    free(uy);
    free(uid);
    free(ust);
    free(ustat);
    free(ukind);
    free(ucaps);
    free(ix);
    free(iy);
    free(rid);
    free(dist);
    free(eta);
    free(flags);
    free(cnt);
    return rc;
}

/* ------------------------------------------------------------- points */

/* Points (and optional value columns) of a CSV, read into arrays. */
typedef struct points {
    size_t n;
    double *x, *y, *w, *t;
    char **id; /* optional id column values, or NULL */
} points;

static void points_free(points *p)
{
    for (size_t i = 0; p->id && i < p->n; i++)
        free(p->id[i]);
    free(p->id);
    free(p->x);
    free(p->y);
    free(p->w);
    free(p->t);
    memset(p, 0, sizeof *p);
}

/*
 * Read x/y (named or detected), an optional weight and time column and an optional
 * id column from a CSV, streaming (millions of rows).
 */
static int read_points(const char *path, const char *xname, const char *yname, const char *wname,
                       const char *tname, bool want_id, points *p)
{
    memset(p, 0, sizeof *p);
    bool std = strcmp(path, "-") == 0;
    const char *label = std ? "<stdin>" : path;
    int rc = 0;
    if (!std && (rc = check_input(path)))
        return rc;
    FILE *in = std ? stdin : fopen(path, "rb");
    if (!in) {
        errorf("%s: %s", path, strerror(errno));
        return EX_NOINPUT_;
    }
    csv_reader *r = csv_new(in, MAX_RECORD);
    size_t cap = 0, ncols = 0;
    int xc = -1, yc = -1, wc = -1, tc = -1, ic = -1;
    if (!r) {
        rc = EX_SOFTWARE_;
        errorf("out of memory");
        goto done;
    }
    for (bool header = true;; header = false) {
        csv_status st = csv_next(r);
        if (st == CSV_EOF) {
            if (header) {
                errorf("%s: empty input, expected a header line", label);
                rc = EX_DATAERR_;
            }
            break;
        }
        if (st != CSV_OK) {
            if (st == CSV_IOERR)
                errorf("%s: %s", label, strerror(errno));
            else
                errorf("%s: line %llu: %s", label, csv_line(r),
                       st == CSV_NOMEM ? "out of memory" : csv_error(r));
            rc = st == CSV_IOERR ? EX_IOERR_ : st == CSV_NOMEM ? EX_SOFTWARE_ : EX_DATAERR_;
            break;
        }
        if (header) {
            ncols = csv_nfields(r);
            if (xname || yname) {
                xc = xname ? find_col(r, xname) : -1;
                yc = yname ? find_col(r, yname) : -1;
            } else {
                static const char *pairs[][2] = {
                    {"x", "y"}, {"lon", "lat"}, {"lng", "lat"}, {"longitude", "latitude"}};
                for (size_t q = 0; q < 4 && xc < 0; q++) {
                    int a = find_col(r, pairs[q][0]), b = find_col(r, pairs[q][1]);
                    if (a >= 0 && b >= 0) {
                        xc = a;
                        yc = b;
                    }
                }
            }
            if (xc < 0 || yc < 0) {
                errorf("%s: cannot find the coordinate columns in the header (x/y, lon/lat, or "
                       "those named with --x-col/--y-col)",
                       label);
                rc = EX_USAGE_;
                break;
            }
            if (wname && (wc = find_col(r, wname)) < 0) {
                errorf("%s: no column '%s' in the header", label, wname);
                rc = EX_USAGE_;
                break;
            }
            if (tname && (tc = find_col(r, tname)) < 0) {
                errorf("%s: no column '%s' in the header", label, tname);
                rc = EX_USAGE_;
                break;
            }
            if (want_id)
                ic = find_col(r, "id");
            continue;
        }
        if (csv_nfields(r) != ncols) {
            errorf("%s: line %llu: %zu columns, the header has %zu", label, csv_line(r),
                   csv_nfields(r), ncols);
            rc = EX_DATAERR_;
            break;
        }
        if (p->n == cap) {
            cap = cap ? 2 * cap : 4096;
            double *a = realloc(p->x, cap * sizeof *a);
            if (a)
                p->x = a;
            double *b = realloc(p->y, cap * sizeof *b);
            if (b)
                p->y = b;
            double *c = wc >= 0 ? realloc(p->w, cap * sizeof *c) : p->w;
            if (c)
                p->w = c;
            double *d = tc >= 0 ? realloc(p->t, cap * sizeof *d) : p->t;
            if (d)
                p->t = d;
            char **e = ic >= 0 ? realloc(p->id, cap * sizeof *e) : p->id;
            if (e)
                p->id = e;
            if (!a || !b || (wc >= 0 && !c) || (tc >= 0 && !d) || (ic >= 0 && !e)) {
                errorf("out of memory");
                rc = EX_SOFTWARE_;
                break;
            }
        }
        size_t i = p->n;
        const char *which = NULL;
        if (!parse_double(csv_field(r, (size_t)xc), &p->x[i]))
            which = "x";
        else if (!parse_double(csv_field(r, (size_t)yc), &p->y[i]))
            which = "y";
        else if (wc >= 0 && !parse_double(csv_field(r, (size_t)wc), &p->w[i]))
            which = wname;
        else if (tc >= 0 && !parse_double(csv_field(r, (size_t)tc), &p->t[i]))
            which = tname;
        if (which) {
            errorf("%s: line %llu: %s is not a number", label, csv_line(r), which);
            rc = EX_DATAERR_;
            break;
        }
        if (ic >= 0 && !(p->id[i] = strdup(csv_field(r, (size_t)ic)))) {
            errorf("out of memory");
            rc = EX_SOFTWARE_;
            break;
        }
        p->n++;
        if ((p->n & 0xfffff) == 0)
            progress_rows("reading", p->n);
    }
done:
    progress_rows_end();
    csv_free(r);
    if (!std)
        fclose(in);
    if (rc)
        points_free(p);
    return rc;
}

static int transform_points(lg_context *ctx, const char *src, const lg_layer *grid, points *p)
{
    if (!src)
        return 0;
    const char *dst = lg_layer_crs(grid);
    if (!dst) {
        errorf("the grid has no CRS to transform --crs coordinates to");
        return EX_USAGE_;
    }
    lg_transform *tr = NULL;
    lg_error e = lg_transform_new(ctx, src, dst, &tr);
    if (e)
        return fail_ctx(ctx, e, false);
    lg_transform_apply(tr, p->x, p->y, p->n);
    lg_transform_free(tr);
    return 0;
}

/* ------------------------------------------------------------- coverage */

const char usage_coverage[] =
    "usage: libgrid coverage GRID --facilities FAC.csv (--radius M | --minutes T)\n"
    "                        [--speed MPS] [--detour F] [--id-field F] [--weight FIELD]\n"
    "                        [--group FIELD] [--crs CRS] [--area] [--uncovered-out FILE]\n"
    "                        [-o CELLS.csv|.geojson|.shp]\n"
    "\n"
    "Cell coverage: for every cell, the nearest facility (stations, service stations or\n"
    "units: points), its distance and ETA from the cell's centroid, and how many\n"
    "facilities lie within the threshold (backup coverage). Totals (share of cells, of\n"
    "area and of the weight covered at least once and twice) and the per-group totals go\n"
    "to standard error.\n"
    "\n"
    "FAC.csv: x, y (or lon, lat) and an optional id column (default: the row number).\n"
    "Output (standard output or -o), one row per cell: CSV columns\n"
    "cell,nearest,distance_m,eta_s,count,covered; GeoJSON/Shapefile: the grid with the\n"
    "fields cov_near, cov_dist, cov_eta, cov_count added.\n"
    "\n"
    "  --radius M          threshold in metres\n"
    "  --minutes T         threshold in minutes: radius = T * 60 * speed / detour\n"
    "  --speed MPS         speed for --minutes and ETAs (default 11.1 m/s)\n"
    "  --detour F          road-detour factor (default 1.3)\n"
    "  --weight FIELD      numeric weight per cell, e.g. population (null counts 0)\n"
    "  --group FIELD       totals per value of FIELD (e.g. the station field)\n"
    "  --crs CRS           CRS of the facility coordinates when not the grid's\n"
    "  --area              also the exact covered area (GEOS, polygonal buffers)\n"
    "  --uncovered-out F   with --area: the uncovered parts (.geojson or .shp)\n";

static void print_totals(const char *what, const lg_coverage_totals *t)
{
    fprintf(stderr,
            "coverage: %s: %zu cells, covered %zu (%.2f%%), backup %zu (%.2f%%); area %.2f%% "
            "(backup %.2f%%); weight %.2f%% (backup %.2f%%); mean distance %.1f m, max %.1f m\n",
            what, t->cells, t->cells_covered, 100 * t->share_cells, t->cells_backup,
            100 * t->share_cells_backup, 100 * t->share_area, 100 * t->share_area_backup,
            100 * t->share, 100 * t->backup_share, t->mean_distance_m, t->max_distance_m);
}

int cmd_coverage(lg_context *ctx, int argc, char **argv)
{
    enum { O_FAC, O_RAD, O_MIN, O_SPD, O_DET, O_ID, O_W, O_GRP, O_CRS, O_AREA, O_UNC, O_OUT };
    static const opt_spec specs[] = {
        {"facilities", 0, true}, {"radius", 0, true},        {"minutes", 0, true},
        {"speed", 0, true},      {"detour", 0, true},        {"id-field", 0, true},
        {"weight", 0, true},     {"group", 0, true},         {"crs", 0, true},
        {"area", 0, false},      {"uncovered-out", 0, true}, {"output", 'o', true},
        {NULL, 0, false}};
    parsed_opts po;
    int rc = parse_opts("coverage", argc, argv, specs, 1, &po);
    if (rc)
        return rc;
    if (po.help) {
        fputs(usage_coverage, stdout);
        return 0;
    }
    if (po.npos != 1 || !po.value[O_FAC]) {
        errorf("coverage: a grid file and --facilities FAC.csv are required (see libgrid "
               "coverage --help)");
        return EX_USAGE_;
    }
    lg_coverage_options co = {0};
    if (!po.value[O_RAD] == !po.value[O_MIN]) {
        errorf("coverage: give one of --radius M or --minutes T");
        return EX_USAGE_;
    }
    if ((po.value[O_RAD] &&
         (!parse_double(po.value[O_RAD], &co.threshold.radius_m) || co.threshold.radius_m < 0)) ||
        (po.value[O_MIN] &&
         (!parse_double(po.value[O_MIN], &co.threshold.minutes) || co.threshold.minutes <= 0)) ||
        (po.value[O_SPD] && (!parse_double(po.value[O_SPD], &co.threshold.speed_mps) ||
                             co.threshold.speed_mps <= 0)) ||
        (po.value[O_DET] &&
         (!parse_double(po.value[O_DET], &co.threshold.detour) || co.threshold.detour <= 0))) {
        errorf("coverage: --radius, --minutes, --speed and --detour must be positive numbers");
        return EX_USAGE_;
    }
    if (po.value[O_UNC] && !po.value[O_AREA]) {
        errorf("coverage: --uncovered-out needs --area");
        return EX_USAGE_;
    }
    if ((rc = check_output("coverage", "-o", po.value[O_OUT], ALL_OUT)) ||
        (rc = check_output("coverage", "--uncovered-out", po.value[O_UNC],
                           (1u << OUT_GEOJSON) | (1u << OUT_SHP))) ||
        (rc = check_crs_arg(ctx, "--crs", po.value[O_CRS])))
        return rc;
    lg_layer *l = NULL, *unc = NULL, *dl = NULL;
    points fac = {0};
    double *w = NULL, *dist = NULL, *eta = NULL;
    int64_t *grp = NULL, *near = NULL;
    int32_t *count = NULL;
    lg_coverage_totals *gt = NULL;
    const char **gnames = NULL;
    FILE *out = NULL;
    const char *out_label = NULL;
    size_t ngroups = 0;
    if ((rc = load_grid(ctx, po.pos[0], po.value[O_ID], NULL, 0, &l)) ||
        (rc = read_points(po.value[O_FAC], NULL, NULL, NULL, NULL, true, &fac)) ||
        (rc = transform_points(ctx, po.value[O_CRS], l, &fac)))
        goto done;
    size_t n = lg_layer_count(l);
    if (po.value[O_W]) {
        if ((rc = field_reals(l, po.pos[0], po.value[O_W], &w)))
            goto done;
        for (size_t i = 0; i < n; i++)
            if (isnan(w[i]))
                w[i] = 0;
        co.weight = w;
    }
    if (po.value[O_GRP]) {
        if ((rc = field_groups(l, po.pos[0], po.value[O_GRP], &grp, &gnames, &ngroups)))
            goto done;
        co.group = grp;
        co.n_groups = ngroups;
        gt = calloc(ngroups + 1, sizeof *gt);
    }
    near = malloc((n + 1) * sizeof *near);
    dist = malloc((n + 1) * sizeof *dist);
    eta = malloc((n + 1) * sizeof *eta);
    count = malloc((n + 1) * sizeof *count);
    if (!near || !dist || !eta || !count || (po.value[O_GRP] && !gt)) {
        errorf("out of memory");
        rc = EX_SOFTWARE_;
        goto done;
    }
    lg_coverage_totals tot;
    lg_coverage_results res = {.nearest = near,
                               .distance_m = dist,
                               .eta_s = eta,
                               .count = count,
                               .totals = &tot,
                               .group_totals = gt};
    progress_start(ctx, "coverage");
    lg_error e = lg_coverage_cells(ctx, l, fac.x, fac.y, fac.n, &co, &res);
    progress_stop(ctx);
    if (e) {
        rc = fail_ctx(ctx, e, false);
        goto done;
    }
    double radius = 0;
    lg_coverage_radius_m(ctx, &co.threshold, &radius);
    fprintf(stderr, "coverage: %zu facilities, radius %.1f m\n", fac.n, radius);
    print_totals("all cells", &tot);
    char label[160], idb[64];
    for (size_t g = 0; gt && g < ngroups; g++) {
        if (gt[g].cells == 0)
            continue;
        if (gnames)
            snprintf(label, sizeof label, "%s %s", po.value[O_GRP], gnames[g]);
        else
            snprintf(label, sizeof label, "%s %zu", po.value[O_GRP], g);
        print_totals(label, &gt[g]);
    }
    if (po.value[O_AREA]) {
        lg_area_options ao = {.threshold = co.threshold};
        lg_area_result ar;
        progress_start(ctx, "area coverage");
        e = lg_coverage_area(ctx, l, fac.x, fac.y, fac.n, &ao, &ar, NULL,
                             po.value[O_UNC] ? &unc : NULL);
        progress_stop(ctx);
        if (e) {
            rc = fail_ctx(ctx, e, false);
            goto done;
        }
        fprintf(stderr,
                "coverage: area: region %.1f m2, covered %.1f m2 (%.2f%%), uncovered %.1f m2\n",
                ar.region_area_m2, ar.covered_area_m2, 100 * ar.share, ar.uncovered_area_m2);
        if (unc && (rc = write_layer(ctx, unc, po.value[O_UNC])))
            goto done;
    }
    out_format f = po.value[O_OUT] ? out_format_of(po.value[O_OUT]) : OUT_CSV;
    if (f == OUT_CSV) {
        if (!(out = open_out(po.value[O_OUT], &out_label))) {
            rc = EX_CANTCREAT_;
            goto done;
        }
        fputs("cell,nearest,distance_m,eta_s,count,covered\n", out);
        for (size_t i = 0; i < n; i++) {
            const char *id = cell_id(l, i, idb, sizeof idb);
            csv_write_field(out, id, strlen(id));
            fputc(',', out);
            if (near[i] >= 0) {
                if (fac.id)
                    csv_write_field(out, fac.id[near[i]], strlen(fac.id[near[i]]));
                else
                    fprintf(out, "%lld", (long long)near[i]);
                fprintf(out, ",%.3f,%.1f", dist[i], eta[i]);
            } else {
                fputs(",,", out);
            }
            fprintf(out, ",%d,%d\n", (int)count[i], count[i] > 0 ? 1 : 0);
        }
        rc = close_out(out, out_label, 0);
        out = NULL;
    } else {
        int64_t *cnt64 = malloc((n + 1) * sizeof *cnt64);
        uint8_t *nul = calloc(n + 1, 1);
        if (!cnt64 || !nul) {
            free(cnt64);
            free(nul);
            errorf("out of memory");
            rc = EX_SOFTWARE_;
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            cnt64[i] = count[i];
            nul[i] = near[i] < 0;
        }
        lg_column_spec cols[4] = {
            {.name = "cov_near", .type = LG_FIELD_INT, .ints = near, .null = nul},
            {.name = "cov_dist", .type = LG_FIELD_REAL, .reals = dist, .null = nul},
            {.name = "cov_eta", .type = LG_FIELD_REAL, .reals = eta, .null = nul},
            {.name = "cov_count", .type = LG_FIELD_INT, .ints = cnt64},
        };
        e = lg_layer_derive(ctx, l, cols, 4, &dl);
        free(cnt64);
        free(nul);
        rc = e ? fail_ctx(ctx, e, false) : write_layer(ctx, dl, po.value[O_OUT]);
    }
done:
    if (out)
        close_out(out, out_label, rc);
    lg_layer_free(l);
    lg_layer_free(unc);
    lg_layer_free(dl);
    points_free(&fac);
    free(w);
    free(dist);
    free(eta);
    free(grp);
    free(near);
    free(count);
    free(gt);
    free(gnames);
    return rc;
}

/* ----------------------------------------------------------------- heat */

const char usage_heat[] =
    "usage: libgrid heat GRID --incidents INC.csv [--x-col C --y-col C] [--crs CRS]\n"
    "                    [--id-field F] [--weight-col C] [--time-col C --from T0 --to T1]\n"
    "                    [--group FIELD] [--top K] [--density]\n"
    "                    [-o CELLS.csv|.geojson|.shp]\n"
    "\n"
    "Count incidents (or sum a weight column) per cell, optionally only those with\n"
    "T0 <= time < T1 (numbers, e.g. epoch seconds), and per group. A summary goes to\n"
    "standard error.\n"
    "\n"
    "Output: the cells (standard output, or -o): CSV columns cell,heat (and group when\n"
    "--group is given); GeoJSON/Shapefile: the grid with a 'heat' field. With --top K,\n"
    "standard output gets the K hottest cells instead (CSV rank,cell,heat, or heat per\n"
    "km2 with --density) and the cells go to -o only.\n"
    "\n"
    "  --incidents FILE    CSV of incident points (x/y or lon/lat columns)\n"
    "  --x-col, --y-col    coordinate columns by name\n"
    "  --crs CRS           CRS of the points when not the grid's (e.g. EPSG:4326)\n"
    "  --weight-col C      sum this column instead of counting\n"
    "  --time-col C        time column; with --from and --to, a half-open window\n"
    "  --group FIELD       also sum per value of FIELD (printed on standard error)\n"
    "  --top K             the K hottest cells\n"
    "  --density           rank by heat per km2 of cell area\n";

int cmd_heat(lg_context *ctx, int argc, char **argv)
{
    enum { O_INC, O_X, O_Y, O_CRS, O_ID, O_W, O_T, O_FROM, O_TO, O_GRP, O_TOP, O_DEN, O_OUT };
    static const opt_spec specs[] = {
        {"incidents", 0, true}, {"x-col", 0, true},    {"y-col", 0, true},
        {"crs", 0, true},       {"id-field", 0, true}, {"weight-col", 0, true},
        {"time-col", 0, true},  {"from", 0, true},     {"to", 0, true},
        {"group", 0, true},     {"top", 0, true},      {"density", 0, false},
        {"output", 'o', true},  {NULL, 0, false}};
    parsed_opts po;
    int rc = parse_opts("heat", argc, argv, specs, 1, &po);
    if (rc)
        return rc;
    if (po.help) {
        fputs(usage_heat, stdout);
        return 0;
    }
    if (po.npos != 1 || !po.value[O_INC]) {
        errorf("heat: a grid file and --incidents INC.csv are required (see libgrid heat "
               "--help)");
        return EX_USAGE_;
    }
    if (!po.value[O_X] != !po.value[O_Y]) {
        errorf("heat: give both --x-col and --y-col, or neither");
        return EX_USAGE_;
    }
    lg_heat_options ho = {0};
    bool window = po.value[O_FROM] || po.value[O_TO];
    if (window &&
        (!po.value[O_T] || !po.value[O_FROM] || !po.value[O_TO] ||
         !parse_double(po.value[O_FROM], &ho.t0_d) || !parse_double(po.value[O_TO], &ho.t1_d))) {
        errorf("heat: a time window needs --time-col, --from T0 and --to T1 (numbers)");
        return EX_USAGE_;
    }
    size_t top = 0;
    if (po.value[O_TOP] && (!parse_size(po.value[O_TOP], &top) || top == 0)) {
        errorf("heat: --top must be a positive integer");
        return EX_USAGE_;
    }
    if ((rc = check_output("heat", "-o", po.value[O_OUT], ALL_OUT)) ||
        (rc = check_crs_arg(ctx, "--crs", po.value[O_CRS])))
        return rc;
    lg_layer *l = NULL, *dl = NULL;
    points p = {0};
    double *cell_sum = NULL, *group_sum = NULL, *score = NULL;
    int64_t *grp = NULL, *rows = NULL;
    const char **gnames = NULL;
    size_t ngroups = 0;
    FILE *out = NULL;
    const char *out_label = NULL;
    if ((rc = load_grid(ctx, po.pos[0], po.value[O_ID], NULL, 0, &l)) ||
        (rc = read_points(po.value[O_INC], po.value[O_X], po.value[O_Y], po.value[O_W],
                          window ? po.value[O_T] : NULL, false, &p)) ||
        (rc = transform_points(ctx, po.value[O_CRS], l, &p)))
        goto done;
    size_t n = lg_layer_count(l);
    ho.weight = p.w;
    if (window)
        ho.time_d = p.t;
    if (po.value[O_GRP]) {
        if ((rc = field_groups(l, po.pos[0], po.value[O_GRP], &grp, &gnames, &ngroups)))
            goto done;
        ho.group = grp;
        ho.n_groups = ngroups;
    }
    cell_sum = malloc((n + 1) * sizeof *cell_sum);
    group_sum = calloc(ngroups + 1, sizeof *group_sum);
    rows = malloc((top + 1) * sizeof *rows);
    score = malloc((top + 1) * sizeof *score);
    if (!cell_sum || !group_sum || !rows || !score) {
        errorf("out of memory");
        rc = EX_SOFTWARE_;
        goto done;
    }
    lg_heat_summary sum;
    progress_start(ctx, "heat");
    lg_error e =
        lg_heat_aggregate(ctx, l, p.x, p.y, p.n, &ho, cell_sum, grp ? group_sum : NULL, NULL, &sum);
    progress_stop(ctx);
    if (e) {
        rc = fail_ctx(ctx, e, false);
        goto done;
    }
    fprintf(stderr,
            "heat: %zu incidents, %zu in the window, %zu located, %zu outside every cell; "
            "total %.6g\n",
            sum.incidents, sum.in_window, sum.located, sum.outside, sum.total);
    char idb[64];
    for (size_t g = 0; g < ngroups; g++) {
        if (gnames)
            fprintf(stderr, "heat: %s %s: %.6g\n", po.value[O_GRP], gnames[g], group_sum[g]);
        else
            fprintf(stderr, "heat: %s %zu: %.6g\n", po.value[O_GRP], g, group_sum[g]);
    }
    if (top) {
        size_t nt = 0;
        e = lg_heat_top(ctx, l, cell_sum, top,
                        po.value[O_DEN] ? LG_HEAT_BY_DENSITY : LG_HEAT_BY_VALUE, rows, score, &nt);
        if (e) {
            rc = fail_ctx(ctx, e, false);
            goto done;
        }
        printf("rank,cell,%s\n", po.value[O_DEN] ? "heat_per_km2" : "heat");
        for (size_t i = 0; i < nt; i++) {
            printf("%zu,", i + 1);
            const char *id = cell_id(l, (size_t)rows[i], idb, sizeof idb);
            csv_write_field(stdout, id, strlen(id));
            printf(",%.17g\n", score[i]);
        }
        if ((rc = close_out(stdout, "<stdout>", 0)))
            goto done;
        if (!po.value[O_OUT])
            goto done;
    }
    out_format f = po.value[O_OUT] ? out_format_of(po.value[O_OUT]) : OUT_CSV;
    if (f == OUT_CSV) {
        if (!(out = open_out(po.value[O_OUT], &out_label))) {
            rc = EX_CANTCREAT_;
            goto done;
        }
        fputs(grp ? "cell,heat,group\n" : "cell,heat\n", out);
        for (size_t i = 0; i < n; i++) {
            const char *id = cell_id(l, i, idb, sizeof idb);
            csv_write_field(out, id, strlen(id));
            fprintf(out, ",%.17g", cell_sum[i]);
            if (grp) {
                fputc(',', out);
                if (grp[i] >= 0 && gnames)
                    csv_write_field(out, gnames[grp[i]], strlen(gnames[grp[i]]));
                else if (grp[i] >= 0)
                    fprintf(out, "%lld", (long long)grp[i]);
            }
            fputc('\n', out);
        }
        rc = close_out(out, out_label, 0);
        out = NULL;
    } else {
        lg_column_spec col = {.name = "heat", .type = LG_FIELD_REAL, .reals = cell_sum};
        e = lg_layer_derive(ctx, l, &col, 1, &dl);
        rc = e ? fail_ctx(ctx, e, false) : write_layer(ctx, dl, po.value[O_OUT]);
    }
done:
    if (out)
        close_out(out, out_label, rc);
    lg_layer_free(l);
    lg_layer_free(dl);
    points_free(&p);
    free(cell_sum);
    free(group_sum);
    free(score);
    free(rows);
    free(grp);
    free(gnames);
    return rc;
}
