/*
 * libgrid planning subcommands: validate, stations, zones, snapshot.
 */
#include "cli.h"

#include <errno.h>
#include <geos_c.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define ALL_OUT ((1u << OUT_CSV) | (1u << OUT_GEOJSON) | (1u << OUT_SHP))
#define GEO_OUT ((1u << OUT_GEOJSON) | (1u << OUT_SHP))

/* --------------------------------------------------------------- validate */

const char usage_validate[] =
    "usage: libgrid validate GRID [--id-field FIELD] [--crs CRS] [--no-overlaps]\n"
    "                        [--repair -o FIXED.shp|FIXED.geojson]\n"
    "\n"
    "Check a grid and print every problem as CSV on standard output, with the columns\n"
    "row,id,kind,x,y,message: the row (0-based, file order), the cell id, the kind\n"
    "(invalid, repaired, empty, duplicate_id, null_id, overlap), a place (x, y; empty\n"
    "when none) and a message. Problems are those found when loading (GEOS validity,\n"
    "empty shapes, duplicate or null ids) and overlaps between cells (interiors that\n"
    "intersect; cells sharing an edge exactly do not overlap).\n"
    "Exit 0 when there is no problem, 65 when there is any.\n"
    "\n"
    "  --id-field FIELD  attribute holding the cell ids (default: row numbers)\n"
    "  --crs CRS         CRS of the data when the file has none or it is wrong\n"
    "  --no-overlaps     skip the overlap check (it costs a GEOS relate per neighbour)\n"
    "  --repair          repair invalid polygons with GEOS MakeValid (reported as\n"
    "                    'repaired' after the 'invalid' line); with -o, write the\n"
    "                    repaired grid. Exit 0 when every problem was repaired\n"
    "  -o, --output FILE the repaired grid (.shp with .prj, or .geojson)\n";

typedef struct overlap_ctx {
    GEOSContextHandle_t h;
    const lg_layer *l;
    size_t i;
    const GEOSPreparedGeometry *prep;
    const GEOSGeometry *gi;
    GEOSGeometry **geoms;
    FILE *out;
    size_t count;
    bool io_error;
} overlap_ctx;

static GEOSGeometry *cell_geom(GEOSContextHandle_t h, const lg_layer *l, size_t row)
{
    size_t len = 0;
    if (lg_layer_ring_count(l, row) == 0 || lg_layer_cell_wkb(l, row, NULL, 0, &len) != LG_OK)
        return NULL;
    unsigned char *buf = malloc(len);
    if (!buf)
        return NULL;
    GEOSGeometry *g = NULL;
    if (lg_layer_cell_wkb(l, row, buf, len, &len) == LG_OK) {
        GEOSWKBReader *r = GEOSWKBReader_create_r(h);
        g = GEOSWKBReader_read_r(h, r, buf, len);
        GEOSWKBReader_destroy_r(h, r);
    }
    free(buf);
    return g;
}

static int write_problem(FILE *out, const lg_layer *l, int64_t row, const char *kind, double x,
                         double y, const char *msg)
{
    char buf[64];
    const char *id = row >= 0 ? cell_id(l, (size_t)row, buf, sizeof buf) : "";
    if (row >= 0)
        fprintf(out, "%lld,", (long long)row);
    else
        fputc(',', out);
    csv_write_field(out, id, strlen(id));
    fprintf(out, ",%s,", kind);
    if (!isnan(x) && !isnan(y))
        fprintf(out, "%.17g,%.17g,", x, y);
    else
        fputs(",,", out);
    csv_write_field(out, msg, strlen(msg));
    return fputc('\n', out) == EOF ? -1 : 0;
}

static bool overlap_visit(int64_t id, const double box[4], void *udata)
{
    (void)box;
    overlap_ctx *o = udata;
    size_t j = (size_t)id;
    if (j <= o->i || !o->geoms[j])
        return true;
    GEOSContextHandle_t h = o->h;
    if (GEOSPreparedIntersects_r(h, o->prep, o->geoms[j]) != 1)
        return true;
    if (GEOSRelatePattern_r(h, o->gi, o->geoms[j], "T********") != 1)
        return true;
    GEOSGeometry *x = GEOSIntersection_r(h, o->gi, o->geoms[j]);
    double area = 0, px = NAN, py = NAN;
    if (x) {
        GEOSArea_r(h, x, &area);
        GEOSGeometry *p = GEOSPointOnSurface_r(h, x);
        if (p) {
            GEOSGeomGetX_r(h, p, &px);
            GEOSGeomGetY_r(h, p, &py);
            GEOSGeom_destroy_r(h, p);
        }
        GEOSGeom_destroy_r(h, x);
    }
    char idb[64], msg[256];
    snprintf(msg, sizeof msg, "overlaps cell %s (row %zu) over an area of %.6g",
             cell_id(o->l, j, idb, sizeof idb), j, area);
    if (write_problem(o->out, o->l, (int64_t)o->i, "overlap", px, py, msg) < 0)
        o->io_error = true;
    o->count++;
    return true;
}

/* Report overlapping cells; returns the number found, or (size_t)-1 on failure. */
static size_t find_overlaps(const lg_layer *l, FILE *out, bool *io_error)
{
    size_t n = lg_layer_count(l), count = (size_t)-1;
    GEOSContextHandle_t h = GEOS_init_r();
    GEOSGeometry **geoms = calloc(n + 1, sizeof *geoms);
    double *boxes = malloc((4 * n + 1) * sizeof *boxes);
    int64_t *ids = malloc((n + 1) * sizeof *ids);
    lg_rtree *tree = NULL;
    if (!h || !geoms || !boxes || !ids || lg_rtree_new(NULL, &tree) != LG_OK)
        goto done;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!lg_layer_cell_bounds(l, i, boxes + 4 * m))
            continue;
        ids[m++] = (int64_t)i;
        geoms[i] = cell_geom(h, l, i);
    }
    if (lg_rtree_bulk_load(tree, boxes, ids, m) != LG_OK)
        goto done;
    overlap_ctx o = {.h = h, .l = l, .geoms = geoms, .out = out};
    for (size_t i = 0; i < n; i++) {
        if (!geoms[i] || GEOSisValid_r(h, geoms[i]) != 1)
            continue; /* invalid cells are reported as such; relate may fail on them */
        double box[4];
        lg_layer_cell_bounds(l, i, box);
        const GEOSPreparedGeometry *p = GEOSPrepare_r(h, geoms[i]);
        if (!p)
            continue;
        o.i = i;
        o.prep = p;
        o.gi = geoms[i];
        lg_rtree_search(tree, box, overlap_visit, &o);
        GEOSPreparedGeom_destroy_r(h, p);
    }
    count = o.count;
    *io_error = o.io_error;
done:
    for (size_t i = 0; geoms && i < n; i++)
        if (geoms[i])
            GEOSGeom_destroy_r(h, geoms[i]);
    free(geoms);
    free(boxes);
    free(ids);
    lg_rtree_free(tree);
    if (h)
        GEOS_finish_r(h);
    return count;
}

int cmd_validate(lg_context *ctx, int argc, char **argv)
{
    enum { O_ID, O_CRS, O_REPAIR, O_OUT, O_NOOV };
    static const opt_spec specs[] = {{"id-field", 0, true},     {"crs", 0, true},
                                     {"repair", 0, false},      {"output", 'o', true},
                                     {"no-overlaps", 0, false}, {NULL, 0, false}};
    parsed_opts po;
    int rc = parse_opts("validate", argc, argv, specs, 1, &po);
    if (rc)
        return rc;
    if (po.help) {
        fputs(usage_validate, stdout);
        return 0;
    }
    if (po.npos != 1) {
        errorf("validate: a grid file is required (see libgrid validate --help)");
        return EX_USAGE_;
    }
    bool repair = po.value[O_REPAIR] != NULL;
    if (po.value[O_OUT] && !repair) {
        errorf("validate: -o writes the repaired grid: give --repair too");
        return EX_USAGE_;
    }
    if ((rc = check_output("validate", "-o", po.value[O_OUT], GEO_OUT)))
        return rc;
    if ((rc = check_crs_arg(ctx, "--crs", po.value[O_CRS])))
        return rc;
    lg_layer *l = NULL;
    if ((rc = load_grid(ctx, po.pos[0], po.value[O_ID], po.value[O_CRS],
                        repair ? LG_LOAD_REPAIR : 0, &l)))
        return rc;
    printf("row,id,kind,x,y,message\n");
    size_t remaining = 0, np = lg_layer_problem_count(l), n = lg_layer_count(l);
    /* a repaired cell is reported twice (invalid, then repaired): only the repair stands */
    bool *fixed = calloc(n + 1, sizeof *fixed);
    if (!fixed) {
        errorf("out of memory");
        lg_layer_free(l);
        return EX_SOFTWARE_;
    }
    for (size_t i = 0; i < np; i++) {
        int64_t row;
        lg_problem_kind kind;
        if (lg_layer_problem(l, i, &row, &kind, NULL, NULL, NULL) == LG_OK &&
            kind == LG_PROBLEM_REPAIRED && row >= 0 && (size_t)row < n)
            fixed[row] = true;
    }
    for (size_t i = 0; i < np; i++) {
        int64_t row;
        lg_problem_kind kind;
        double x, y;
        const char *msg;
        if (lg_layer_problem(l, i, &row, &kind, &x, &y, &msg) != LG_OK)
            continue;
        write_problem(stdout, l, row, problem_kind_name(kind), x, y, msg ? msg : "");
        if (kind != LG_PROBLEM_REPAIRED &&
            !(kind == LG_PROBLEM_INVALID && row >= 0 && (size_t)row < n && fixed[row]))
            remaining++;
    }
    free(fixed);
    if (!po.value[O_NOOV]) {
        bool io = false;
        size_t nov = find_overlaps(l, stdout, &io);
        if (nov == (size_t)-1) {
            errorf("validate: the overlap check failed (out of memory or GEOS)");
            lg_layer_free(l);
            return EX_SOFTWARE_;
        }
        remaining += nov;
    }
    if (po.value[O_OUT] && (rc = write_layer(ctx, l, po.value[O_OUT]))) {
        lg_layer_free(l);
        return rc;
    }
    lg_layer_free(l);
    rc = close_out(stdout, "<stdout>", 0);
    if (rc)
        return rc;
    return remaining ? EX_DATAERR_ : 0;
}

/* --------------------------------------------------------------- stations */

const char usage_stations[] =
    "usage: libgrid stations GRID --station-field FIELD [--id-field FIELD]\n"
    "                        [--workload population,calls] [--weights 1,1]\n"
    "                        [--min-bases 1] [--max-bases 2] [--border-min M]\n"
    "                        [--region REGION_FILE] [--neighbours FILE]\n"
    "                        [--validate PLAN.csv] [-o PLAN.csv|PLAN.geojson|PLAN.shp]\n"
    "\n"
    "Classify the police stations of a grid: border stations (jurisdiction along the\n"
    "region's outer boundary or a neighbouring county), then central stations, each\n"
    "coordinating MIN..MAX adjacent base stations, balancing workload. A station's\n"
    "jurisdiction is the union of the cells whose FIELD names it (an INT field holds\n"
    "station numbers 0..n-1, a TEXT field station names).\n"
    "With --validate, check a plan instead: a CSV with the columns station,kind,central\n"
    "(kind: central, base or border; central: the coordinating station of a base, empty\n"
    "otherwise); every violation is reported.\n"
    "\n"
    "Output (standard output, or -o): one row per station with its kind and central\n"
    "station: CSV columns station,kind,central,score,cells and the workload fields;\n"
    "GeoJSON or Shapefile: the jurisdiction polygons (cells dissolved per station) with\n"
    "the fields station, kind, central, score and cells. Problems go to standard error.\n"
    "Exit 65 when the plan is infeasible or invalid (the best plan found is still written).\n"
    "\n"
    "  --station-field F   cell attribute naming the station (required)\n"
    "  --id-field F        cell id attribute (for messages)\n"
    "  --workload F1,F2    numeric fields of the workload score (default: every numeric\n"
    "                      field but the id and station fields)\n"
    "  --weights W1,W2     weight of each workload field (default 1 each)\n"
    "  --min-bases N       bases per central station, at least (default 1)\n"
    "  --max-bases N       at most (default 2)\n"
    "  --border-min M      shared boundary making a border station, metres (default 100)\n"
    "  --region FILE       the region's polygons (default: the union of the cells)\n"
    "  --neighbours FILE   neighbouring counties' polygons (border stations adjoin them)\n"
    "  --validate PLAN.csv check this plan instead of classifying\n"
    "  -o, --output FILE   the plan: .csv, .geojson/.json or .shp (with .prj)\n";

static const char *station_kind_name(lg_station_kind k)
{
    switch (k) {
    case LG_STATION_CENTRAL: return "central";
    case LG_STATION_BASE: return "base";
    case LG_STATION_BORDER: return "border";
    }
    return "";
}

static int64_t station_by_name(const lg_stations *st, const char *name)
{
    for (size_t s = 0; s < lg_stations_count(st); s++)
        if (strcmp(lg_stations_name(st, s), name) == 0)
            return (int64_t)s;
    return LG_NONE;
}

/* Read a station plan CSV (station,kind,central) into kind/central. */
static int read_station_plan(const char *path, const lg_stations *st, lg_station_kind *kind,
                             int64_t *central)
{
    table t;
    int rc = table_read(path, &t);
    if (rc)
        return rc;
    int cs = table_need(&t, "station"), ck = cs >= 0 ? table_need(&t, "kind") : -1;
    int cc = ck >= 0 ? table_need(&t, "central") : -1;
    if (cc < 0) {
        table_free(&t);
        return EX_DATAERR_;
    }
    size_t n = lg_stations_count(st);
    unsigned long long *seen = calloc(n + 1, sizeof *seen);
    for (size_t s = 0; s < n; s++) {
        kind[s] = 0;
        central[s] = LG_NONE;
    }
    for (size_t r = 0; r < t.nrows && rc == 0; r++) {
        const char *name = table_at(&t, r, cs), *k = table_at(&t, r, ck), *c = table_at(&t, r, cc);
        unsigned long long line = t.line[r];
        int64_t s = station_by_name(st, name);
        if (s == LG_NONE) {
            errorf("%s: line %llu: unknown station '%s'", t.label, line, name);
            rc = EX_DATAERR_;
            break;
        }
        if (seen[s]) {
            errorf("%s: line %llu: station '%s' already given on line %llu", t.label, line, name,
                   seen[s]);
            rc = EX_DATAERR_;
            break;
        }
        seen[s] = line;
        if (strcasecmp(k, "central") == 0)
            kind[s] = LG_STATION_CENTRAL;
        else if (strcasecmp(k, "base") == 0)
            kind[s] = LG_STATION_BASE;
        else if (strcasecmp(k, "border") == 0)
            kind[s] = LG_STATION_BORDER;
        else {
            errorf("%s: line %llu: kind '%s' of station '%s' is not central, base or border",
                   t.label, line, k, name);
            rc = EX_DATAERR_;
            break;
        }
        if (*c) {
            central[s] = station_by_name(st, c);
            if (central[s] == LG_NONE) {
                errorf("%s: line %llu: central station '%s' of station '%s' is unknown", t.label,
                       line, c, name);
                rc = EX_DATAERR_;
            }
        }
    }
    free(seen);
    table_free(&t);
    return rc;
}

static int load_aux(lg_context *ctx, const char *path, const lg_layer *cells, lg_layer **out)
{
    if (!path)
        return 0;
    return load_grid(ctx, path, NULL, lg_layer_crs(cells), 0, out);
}

int cmd_stations(lg_context *ctx, int argc, char **argv)
{
    enum { O_SF, O_ID, O_WL, O_W, O_MIN, O_MAX, O_BMIN, O_REG, O_NB, O_VAL, O_OUT };
    static const opt_spec specs[] = {
        {"station-field", 0, true}, {"id-field", 0, true},  {"workload", 0, true},
        {"weights", 0, true},       {"min-bases", 0, true}, {"max-bases", 0, true},
        {"border-min", 0, true},    {"region", 0, true},    {"neighbours", 0, true},
        {"validate", 0, true},      {"output", 'o', true},  {NULL, 0, false}};
    parsed_opts po;
    int rc = parse_opts("stations", argc, argv, specs, 1, &po);
    if (rc)
        return rc;
    if (po.help) {
        fputs(usage_stations, stdout);
        return 0;
    }
    if (po.npos != 1) {
        errorf("stations: a grid file is required (see libgrid stations --help)");
        return EX_USAGE_;
    }
    if (!po.value[O_SF]) {
        errorf("stations: --station-field FIELD is required");
        return EX_USAGE_;
    }
    lg_classify_options co = {0};
    if ((po.value[O_MIN] && !parse_size(po.value[O_MIN], &co.min_bases)) ||
        (po.value[O_MAX] && !parse_size(po.value[O_MAX], &co.max_bases))) {
        errorf("stations: --min-bases and --max-bases must be non-negative integers");
        return EX_USAGE_;
    }
    if (po.value[O_BMIN] &&
        (!parse_double(po.value[O_BMIN], &co.border_min_m) || co.border_min_m <= 0)) {
        errorf("stations: --border-min must be a positive number of metres");
        return EX_USAGE_;
    }
    if ((rc = check_output("stations", "-o", po.value[O_OUT], ALL_OUT)))
        return rc;
    if (po.value[O_VAL] && (rc = check_input(po.value[O_VAL])))
        return rc;
    char **wl = NULL;
    size_t nwl = 0, nw = 0;
    double *weights = NULL;
    if (po.value[O_WL] && !(wl = split_list(po.value[O_WL], &nwl))) {
        errorf("out of memory");
        return EX_SOFTWARE_;
    }
    if (po.value[O_W]) {
        if (!wl) {
            errorf("stations: --weights needs --workload");
            free_list(wl, nwl);
            return EX_USAGE_;
        }
        char **ws = split_list(po.value[O_W], &nw);
        weights = calloc(nw + 1, sizeof *weights);
        bool ok = ws && weights && nw == nwl;
        for (size_t i = 0; ok && i < nw; i++)
            ok = parse_double(ws[i], &weights[i]) && weights[i] >= 0;
        free_list(ws, nw);
        if (!ok) {
            errorf("stations: --weights must be %zu non-negative numbers, one per --workload "
                   "field",
                   nwl);
            free_list(wl, nwl);
            free(weights);
            return EX_USAGE_;
        }
    }

    lg_layer *cells = NULL, *region = NULL, *nb = NULL, *diss = NULL, *plan_layer = NULL;
    lg_stations *st = NULL;
    lg_plan_problems *probs = NULL;
    lg_station_kind *kind = NULL;
    int64_t *central = NULL, *grp = NULL;
    double *score = NULL;
    FILE *out = NULL;
    const char *out_label = NULL;
    if ((rc = load_grid(ctx, po.pos[0], po.value[O_ID], NULL, 0, &cells)) ||
        (rc = load_aux(ctx, po.value[O_REG], cells, &region)) ||
        (rc = load_aux(ctx, po.value[O_NB], cells, &nb)))
        goto done;
    size_t fdummy;
    if (lg_layer_field_index(cells, po.value[O_SF], &fdummy) != LG_OK) {
        errorf("%s: no field '%s' (--station-field)", po.pos[0], po.value[O_SF]);
        rc = EX_USAGE_;
        goto done;
    }
    for (size_t i = 0; i < nwl; i++)
        if (lg_layer_field_index(cells, wl[i], &fdummy) != LG_OK) {
            errorf("%s: no field '%s' (--workload)", po.pos[0], wl[i]);
            rc = EX_USAGE_;
            goto done;
        }
    lg_stations_options so = {0};
    so.fields = (const char *const *)wl;
    so.n_fields = nwl;
    progress_start(ctx, "stations");
    lg_error e = lg_stations_from_cells(ctx, cells, po.value[O_SF], &so, &st);
    progress_stop(ctx);
    if (e) {
        rc = fail_ctx(ctx, e, true);
        goto done;
    }
    size_t n = lg_stations_count(st);
    kind = calloc(n + 1, sizeof *kind);
    central = calloc(n + 1, sizeof *central);
    score = calloc(n + 1, sizeof *score);
    if (!kind || !central || !score) {
        errorf("out of memory");
        rc = EX_SOFTWARE_;
        goto done;
    }
    co.region = region;
    co.neighbours = nb;
    co.workload = (const char *const *)wl;
    co.weights = weights;
    co.n_workload = nwl;
    bool feasible = true, have_score = false;
    if (po.value[O_VAL]) {
        if ((rc = read_station_plan(po.value[O_VAL], st, kind, central)))
            goto done;
        e = lg_stations_validate(ctx, st, &co, kind, central, n, &probs);
        feasible = lg_plan_problems_count(probs) == 0;
    } else {
        e = lg_stations_classify(ctx, st, &co, kind, central, score, n, &feasible, &probs);
        have_score = true;
    }
    if (e) {
        rc = fail_ctx(ctx, e, false);
        goto done;
    }
    for (size_t i = 0; i < lg_plan_problems_count(probs); i++) {
        const char *msg = NULL;
        lg_plan_problems_get(probs, i, NULL, NULL, NULL, &msg);
        errorf("stations: %s", msg ? msg : "?");
    }
    if (!feasible)
        errorf("stations: %s: %zu problem%s",
               po.value[O_VAL] ? "the plan is invalid"
                               : "no plan meets the bounds; "
                                 "the best plan found is written",
               lg_plan_problems_count(probs), lg_plan_problems_count(probs) == 1 ? "" : "s");

    size_t nfw = lg_stations_field_count(st);
    if (out_format_of(po.value[O_OUT]) == OUT_GEOJSON ||
        out_format_of(po.value[O_OUT]) == OUT_SHP) {
        /* jurisdictions: cells dissolved per station, then the plan's columns */
        const int64_t *cs = lg_stations_cell_station(st);
        size_t nc = lg_layer_count(cells);
        progress_start(ctx, "dissolving");
        e = lg_layer_dissolve(ctx, cells, cs, nc, &diss);
        progress_stop(ctx);
        if (e) {
            rc = fail_ctx(ctx, e, false);
            goto done;
        }
        size_t m = lg_layer_count(diss), fg;
        lg_layer_field_index(diss, "group", &fg);
        const char **sname = calloc(m + 1, sizeof *sname), **skind = calloc(m + 1, sizeof *skind),
                   **scen = calloc(m + 1, sizeof *scen);
        double *sscore = calloc(m + 1, sizeof *sscore);
        uint8_t *snull = calloc(m + 1, 1);
        for (size_t r = 0; sname && skind && scen && sscore && snull && r < m; r++) {
            int64_t s = 0;
            lg_layer_get_int(diss, fg, r, &s);
            sname[r] = lg_stations_name(st, (size_t)s);
            skind[r] = kind[s] ? station_kind_name(kind[s]) : NULL;
            scen[r] = central[s] >= 0 && (size_t)central[s] < n && central[s] != s
                          ? lg_stations_name(st, (size_t)central[s])
                          : NULL;
            sscore[r] = score[s];
            snull[r] = !have_score;
        }
        lg_column_spec cols[4] = {
            {.name = "station", .type = LG_FIELD_TEXT, .texts = sname},
            {.name = "kind", .type = LG_FIELD_TEXT, .texts = skind},
            {.name = "central", .type = LG_FIELD_TEXT, .texts = scen},
            {.name = "score", .type = LG_FIELD_REAL, .reals = sscore, .null = snull},
        };
        if (sname && skind && scen && sscore && snull) {
            e = lg_layer_derive(ctx, diss, cols, 4, &plan_layer);
            if (e)
                rc = fail_ctx(ctx, e, false);
            else
                rc = write_layer(ctx, plan_layer, po.value[O_OUT]);
        } else {
            errorf("out of memory");
            rc = EX_SOFTWARE_;
        }
        free(sname);
        free(skind);
        free(scen);
        free(sscore);
        free(snull);
        if (rc)
            goto done;
    } else {
        if (!(out = open_out(po.value[O_OUT], &out_label))) {
            rc = EX_CANTCREAT_;
            goto done;
        }
        fputs("station,kind,central,score,cells", out);
        for (size_t f = 0; f < nfw; f++) {
            fputc(',', out);
            const char *fname = lg_stations_field_name(st, f);
            csv_write_field(out, fname, strlen(fname));
        }
        fputc('\n', out);
        for (size_t s = 0; s < n; s++) {
            const char *name = lg_stations_name(st, s);
            csv_write_field(out, name, strlen(name));
            fprintf(out, ",%s,", station_kind_name(kind[s]));
            if (central[s] >= 0 && (size_t)central[s] < n && central[s] != (int64_t)s) {
                const char *cn = lg_stations_name(st, (size_t)central[s]);
                csv_write_field(out, cn, strlen(cn));
            }
            if (have_score)
                fprintf(out, ",%.6g", score[s]);
            else
                fputc(',', out);
            fprintf(out, ",%zu", lg_stations_cell_count(st, s));
            for (size_t f = 0; f < nfw; f++)
                fprintf(out, ",%.17g", lg_stations_workload(st, f)[s]);
            fputc('\n', out);
        }
        rc = close_out(out, out_label, 0);
        out = NULL;
        if (rc)
            goto done;
    }
    rc = feasible ? 0 : EX_DATAERR_;
done:
    if (out)
        close_out(out, out_label, rc);
    lg_plan_problems_free(probs);
    lg_stations_free(st);
    lg_layer_free(plan_layer);
    lg_layer_free(diss);
    lg_layer_free(region);
    lg_layer_free(nb);
    lg_layer_free(cells);
    free(kind);
    free(central);
    free(score);
    free(grp);
    free(weights);
    free_list(wl, nwl);
    return rc;
}

/* ------------------------------------------------------------------ zones */

const char usage_zones[] =
    "usage: libgrid zones GRID [--id-field FIELD] [--min 6] [--max 8] [--weight FIELD]\n"
    "                     [--seed S] [--group FIELD] [--sites SITES.csv]\n"
    "                     [--balance B] [--gap M] [--validate ZONES.csv]\n"
    "                     [-o ZONES.csv|.geojson|.shp] [--cells-out CELLS.csv|.geojson|.shp]\n"
    "\n"
    "Partition the cells into contiguous service-station zones of MIN..MAX cells,\n"
    "compact and balanced in workload, each with a service-station site (one of the\n"
    "given sites, or the zone's 1-median cell). Same seed, same plan. With --validate,\n"
    "check a plan instead: a CSV with the columns cell,zone (cell: the cell id; zone:\n"
    "an integer 0.., empty for unassigned; cells not listed are unassigned).\n"
    "\n"
    "The quality report (zones, sizes, compactness, Polsby-Popper, workload balance)\n"
    "and every problem go to standard error. Exit 65 when no feasible plan was found or\n"
    "the plan given is invalid (the best partial plan is still written).\n"
    "\n"
    "Outputs:\n"
    "  -o ZONES        one row per zone: CSV columns zone,cells,site_cell,site_x,site_y,\n"
    "                  weight; GeoJSON/Shapefile: the zone polygons (cells dissolved) with\n"
    "                  the fields group (the zone), cells, site_cell, site_x, site_y, weight\n"
    "  --cells-out F   one row per cell: CSV columns cell,zone; GeoJSON/Shapefile: the\n"
    "                  grid with a 'zone' field added\n"
    "  (neither)       the per-cell CSV on standard output\n"
    "\n"
    "  --id-field F    cell id attribute (CSV cell column, --validate input)\n"
    "  --min N         smallest zone, cells (default 6)\n"
    "  --max N         largest zone, cells (default 8)\n"
    "  --weight F      numeric workload field (null counts 0; default 1 per cell)\n"
    "  --seed S        random seed (default 0)\n"
    "  --group F       keep each zone inside one value of F (e.g. the station field)\n"
    "  --sites FILE    CSV of candidate service-station points (x,y or lon,lat columns in\n"
    "                  the grid's CRS)\n"
    "  --balance B     weight of workload balance against compactness (default 1)\n"
    "  --gap M         boundaries closer than M metres count as shared (default 2)\n"
    "  --validate F    check the plan in F instead of planning\n";

/* Read a zone plan CSV (cell,zone) into zone[]. */
static int read_zone_plan(const char *path, const lg_layer *l, int64_t *zone)
{
    table t;
    int rc = table_read(path, &t);
    if (rc)
        return rc;
    int cc = table_need(&t, "cell"), cz = cc >= 0 ? table_need(&t, "zone") : -1;
    if (cz < 0) {
        table_free(&t);
        return EX_DATAERR_;
    }
    size_t n = lg_layer_count(l);
    unsigned long long *seen = calloc(n + 1, sizeof *seen);
    for (size_t i = 0; i < n; i++)
        zone[i] = LG_NONE;
    for (size_t r = 0; r < t.nrows; r++) {
        const char *id = table_at(&t, r, cc), *z = table_at(&t, r, cz);
        unsigned long long line = t.line[r];
        int64_t row = cell_row(l, id);
        if (row == LG_NONE) {
            errorf("%s: line %llu: unknown cell '%s'", t.label, line, id);
            rc = EX_DATAERR_;
            break;
        }
        if (seen[row]) {
            errorf("%s: line %llu: cell '%s' already given on line %llu", t.label, line, id,
                   seen[row]);
            rc = EX_DATAERR_;
            break;
        }
        seen[row] = line;
        if (!*z)
            continue;
        char *end;
        errno = 0;
        long long v = strtoll(z, &end, 10);
        if (*end || errno || v < -1) {
            errorf("%s: line %llu: zone '%s' of cell '%s' is not an integer >= 0 (or empty)",
                   t.label, line, z, id);
            rc = EX_DATAERR_;
            break;
        }
        zone[row] = v;
    }
    free(seen);
    table_free(&t);
    return rc;
}

static const char *zone_problem_name(lg_zone_problem_kind k)
{
    switch (k) {
    case LG_ZONE_PROBLEM_ISLAND: return "island";
    case LG_ZONE_PROBLEM_COMPONENT_SIZE: return "component_size";
    case LG_ZONE_PROBLEM_UNPLACED: return "unplaced";
    case LG_ZONE_PROBLEM_UNASSIGNED: return "unassigned";
    case LG_ZONE_PROBLEM_BAD_ID: return "bad_id";
    case LG_ZONE_PROBLEM_EMPTY: return "empty";
    case LG_ZONE_PROBLEM_DISCONNECTED: return "disconnected";
    case LG_ZONE_PROBLEM_TOO_SMALL: return "too_small";
    case LG_ZONE_PROBLEM_TOO_LARGE: return "too_large";
    case LG_ZONE_PROBLEM_CROSSES_GROUP: return "crosses_group";
    case LG_ZONE_PROBLEM_NO_SITE: return "no_site";
    }
    return "unknown";
}

int cmd_zones(lg_context *ctx, int argc, char **argv)
{
    enum { O_ID, O_MIN, O_MAX, O_W, O_SEED, O_GRP, O_SITES, O_BAL, O_GAP, O_VAL, O_OUT, O_COUT };
    static const opt_spec specs[] = {
        {"id-field", 0, true}, {"min", 0, true},      {"max", 0, true},      {"weight", 0, true},
        {"seed", 0, true},     {"group", 0, true},    {"sites", 0, true},    {"balance", 0, true},
        {"gap", 0, true},      {"validate", 0, true}, {"output", 'o', true}, {"cells-out", 0, true},
        {NULL, 0, false}};
    parsed_opts po;
    int rc = parse_opts("zones", argc, argv, specs, 1, &po);
    if (rc)
        return rc;
    if (po.help) {
        fputs(usage_zones, stdout);
        return 0;
    }
    if (po.npos != 1) {
        errorf("zones: a grid file is required (see libgrid zones --help)");
        return EX_USAGE_;
    }
    lg_zone_options zo = {0};
    size_t seed = 0;
    if ((po.value[O_MIN] && (!parse_size(po.value[O_MIN], &zo.min_cells) || !zo.min_cells)) ||
        (po.value[O_MAX] && (!parse_size(po.value[O_MAX], &zo.max_cells) || !zo.max_cells))) {
        errorf("zones: --min and --max must be positive integers");
        return EX_USAGE_;
    }
    size_t mn = zo.min_cells ? zo.min_cells : 6, mx = zo.max_cells ? zo.max_cells : 8;
    if (mn > mx) {
        errorf("zones: --min %zu is larger than --max %zu", mn, mx);
        return EX_USAGE_;
    }
    zo.min_cells = mn;
    zo.max_cells = mx;
    if (po.value[O_SEED] && !parse_size(po.value[O_SEED], &seed)) {
        errorf("zones: --seed must be a non-negative integer");
        return EX_USAGE_;
    }
    zo.seed = seed;
    if (po.value[O_BAL] && !parse_double(po.value[O_BAL], &zo.balance)) {
        errorf("zones: --balance must be a number");
        return EX_USAGE_;
    }
    lg_adjacency_options ao = {0};
    if (po.value[O_GAP] && (!parse_double(po.value[O_GAP], &ao.gap_m) || ao.gap_m <= 0)) {
        errorf("zones: --gap must be a positive number of metres");
        return EX_USAGE_;
    }
    if ((rc = check_output("zones", "-o", po.value[O_OUT], ALL_OUT)) ||
        (rc = check_output("zones", "--cells-out", po.value[O_COUT], ALL_OUT)))
        return rc;
    if (po.value[O_VAL] && (rc = check_input(po.value[O_VAL])))
        return rc;

    lg_layer *l = NULL, *diss = NULL, *zl = NULL, *cl = NULL;
    lg_graph *g = NULL;
    lg_zone_plan *plan = NULL;
    double *w = NULL, *sx = NULL, *sy = NULL;
    int64_t *grp = NULL, *vzone = NULL;
    table sites = {0};
    FILE *out = NULL;
    const char *out_label = NULL;
    if ((rc = load_grid(ctx, po.pos[0], po.value[O_ID], NULL, 0, &l)))
        goto done;
    size_t n = lg_layer_count(l);
    if (po.value[O_W]) {
        if ((rc = field_reals(l, po.pos[0], po.value[O_W], &w)))
            goto done;
        char idb[64];
        for (size_t i = 0; i < n; i++) {
            if (isnan(w[i]))
                w[i] = 0;
            if (w[i] < 0 || !isfinite(w[i])) {
                errorf("%s: cell %s (row %zu): weight %s = %g is negative", po.pos[0],
                       cell_id(l, i, idb, sizeof idb), i, po.value[O_W], w[i]);
                rc = EX_DATAERR_;
                goto done;
            }
        }
        zo.weight = w;
    }
    if (po.value[O_GRP]) {
        if ((rc = field_groups(l, po.pos[0], po.value[O_GRP], &grp, NULL, NULL)))
            goto done;
        zo.group = grp;
    }
    if (po.value[O_SITES]) {
        int xc, yc;
        if ((rc = table_read(po.value[O_SITES], &sites)) ||
            (rc = table_xy(&sites, NULL, NULL, &xc, &yc)))
            goto done;
        sx = malloc((sites.nrows + 1) * sizeof *sx);
        sy = malloc((sites.nrows + 1) * sizeof *sy);
        if (!sx || !sy) {
            errorf("out of memory");
            rc = EX_SOFTWARE_;
            goto done;
        }
        for (size_t r = 0; r < sites.nrows; r++)
            if (!parse_double(table_at(&sites, r, xc), &sx[r]) ||
                !parse_double(table_at(&sites, r, yc), &sy[r])) {
                errorf("%s: line %llu: the site's coordinates are not numbers", sites.label,
                       sites.line[r]);
                rc = EX_DATAERR_;
                goto done;
            }
        zo.site_x = sx;
        zo.site_y = sy;
        zo.n_sites = sites.nrows;
    }
    if (po.value[O_VAL]) {
        if (!(vzone = malloc((n + 1) * sizeof *vzone))) {
            errorf("out of memory");
            rc = EX_SOFTWARE_;
            goto done;
        }
        if ((rc = read_zone_plan(po.value[O_VAL], l, vzone)))
            goto done;
    }

    progress_phase("zones: adjacency");
    progress_start(ctx, "zones: adjacency");
    lg_error e = lg_layer_adjacency(ctx, l, &ao, &g);
    progress_stop(ctx);
    if (e) {
        rc = fail_ctx(ctx, e, false);
        goto done;
    }
    progress_phase(po.value[O_VAL] ? "zones: validating" : "zones: planning");
    progress_start(ctx, "zones: planning");
    e = po.value[O_VAL] ? lg_zones_validate(ctx, g, l, vzone, n, &zo, &plan)
                        : lg_zones_plan(ctx, g, l, &zo, &plan);
    progress_stop(ctx);
    if (e) {
        rc = fail_ctx(ctx, e, false);
        goto done;
    }
    const int64_t *zone = lg_zone_plan_zones(plan);
    size_t nz = lg_zone_plan_zone_count(plan);
    bool feasible = lg_zone_plan_feasible(plan);

    progress_rows_end();
    /* problems and quality on stderr */
    char idb[64];
    for (size_t i = 0; i < lg_zone_plan_problem_count(plan); i++) {
        lg_zone_problem_kind k;
        const int64_t *pc = NULL;
        size_t npc = 0;
        const char *msg = NULL;
        lg_zone_plan_problem(plan, i, &k, NULL, &pc, &npc, &msg);
        fprintf(stderr, "libgrid: zones: %s: %s", zone_problem_name(k), msg ? msg : "");
        if (npc) {
            fputs(" [cells", stderr);
            for (size_t j = 0; j < npc && j < 20; j++)
                fprintf(stderr, " %s", cell_id(l, (size_t)pc[j], idb, sizeof idb));
            fputs(npc > 20 ? " ...]" : "]", stderr);
        }
        fputc('\n', stderr);
    }
    lg_zone_quality q;
    lg_zone_plan_quality(plan, &q);
    fprintf(stderr,
            "zones: %zu zones, %zu cells assigned, %zu unassigned; sizes %zu..%zu (mean %.2f)\n"
            "zones: compactness mean %.3f max %.3f; Polsby-Popper mean %.3f min %.3f\n"
            "zones: weight per zone min %.6g mean %.6g max %.6g (cv %.3f); %s\n",
            q.zones, q.cells_assigned, q.cells_unassigned, q.size_min, q.size_max, q.size_mean,
            q.compact_mean, q.compact_max, q.polsby_mean, q.polsby_min, q.weight_min, q.weight_mean,
            q.weight_max, q.weight_cv,
            feasible ? "feasible" : (po.value[O_VAL] ? "INVALID" : "INFEASIBLE"));

    /* zone weights and sites */
    double *zw = calloc(nz + 1, sizeof *zw);
    if (!zw) {
        errorf("out of memory");
        rc = EX_SOFTWARE_;
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if (zone[i] >= 0 && (size_t)zone[i] < nz)
            zw[zone[i]] += w ? w[i] : 1.0;
    const int64_t *site_cell = NULL;
    const double *site_x = NULL, *site_y = NULL;
    lg_zone_plan_sites(plan, &site_cell, NULL, &site_x, &site_y);

    if (po.value[O_OUT]) {
        out_format f = out_format_of(po.value[O_OUT]);
        if (f == OUT_CSV) {
            if (!(out = open_out(po.value[O_OUT], &out_label))) {
                rc = EX_CANTCREAT_;
                free(zw);
                goto done;
            }
            size_t *cnt = calloc(nz + 1, sizeof *cnt);
            for (size_t i = 0; cnt && i < n; i++)
                if (zone[i] >= 0 && (size_t)zone[i] < nz)
                    cnt[zone[i]]++;
            fputs("zone,cells,site_cell,site_x,site_y,weight\n", out);
            for (size_t z = 0; cnt && z < nz; z++) {
                fprintf(out, "%zu,%zu,", z, cnt[z]);
                if (site_cell && site_cell[z] >= 0) {
                    const char *id = cell_id(l, (size_t)site_cell[z], idb, sizeof idb);
                    csv_write_field(out, id, strlen(id));
                }
                fprintf(out, ",%.17g,%.17g,%.17g\n", site_x ? site_x[z] : NAN,
                        site_y ? site_y[z] : NAN, zw[z]);
            }
            free(cnt);
            rc = close_out(out, out_label, 0);
            out = NULL;
        } else {
            progress_start(ctx, "dissolving zones");
            e = lg_layer_dissolve(ctx, l, zone, n, &diss);
            progress_stop(ctx);
            if (e) {
                rc = fail_ctx(ctx, e, false);
            } else {
                size_t m = lg_layer_count(diss), fg;
                lg_layer_field_index(diss, "group", &fg);
                const char **scell = calloc(m + 1, sizeof *scell);
                char(*sbuf)[64] = calloc(m + 1, sizeof *sbuf);
                double *cx = calloc(m + 1, sizeof *cx), *cy = calloc(m + 1, sizeof *cy),
                       *cw = calloc(m + 1, sizeof *cw);
                for (size_t r = 0; scell && sbuf && cx && cy && cw && r < m; r++) {
                    int64_t z = 0;
                    lg_layer_get_int(diss, fg, r, &z);
                    scell[r] = site_cell && site_cell[z] >= 0
                                   ? cell_id(l, (size_t)site_cell[z], sbuf[r], sizeof sbuf[r])
                                   : NULL;
                    cx[r] = site_x ? site_x[z] : NAN;
                    cy[r] = site_y ? site_y[z] : NAN;
                    cw[r] = zw[z];
                }
                lg_column_spec cols[4] = {
                    {.name = "site_cell", .type = LG_FIELD_TEXT, .texts = scell},
                    {.name = "site_x", .type = LG_FIELD_REAL, .reals = cx},
                    {.name = "site_y", .type = LG_FIELD_REAL, .reals = cy},
                    {.name = "weight", .type = LG_FIELD_REAL, .reals = cw},
                };
                if (!scell || !sbuf || !cx || !cy || !cw) {
                    errorf("out of memory");
                    rc = EX_SOFTWARE_;
                } else if ((e = lg_layer_derive(ctx, diss, cols, 4, &zl))) {
                    rc = fail_ctx(ctx, e, false);
                } else {
                    rc = write_layer(ctx, zl, po.value[O_OUT]);
                }
                free(scell);
                free(sbuf);
                free(cx);
                free(cy);
                free(cw);
            }
        }
        if (rc) {
            free(zw);
            goto done;
        }
    }
    free(zw);

    const char *cells_path = po.value[O_COUT];
    if (!cells_path && !po.value[O_OUT])
        cells_path = "-";
    if (cells_path) {
        if (out_format_of(cells_path) == OUT_CSV) {
            if (!(out = open_out(cells_path, &out_label))) {
                rc = EX_CANTCREAT_;
                goto done;
            }
            fputs("cell,zone\n", out);
            for (size_t i = 0; i < n; i++) {
                const char *id = cell_id(l, i, idb, sizeof idb);
                csv_write_field(out, id, strlen(id));
                if (zone[i] >= 0)
                    fprintf(out, ",%lld\n", (long long)zone[i]);
                else
                    fputs(",\n", out);
            }
            rc = close_out(out, out_label, 0);
            out = NULL;
            if (rc)
                goto done;
        } else {
            uint8_t *nul = calloc(n + 1, 1);
            if (!nul) {
                errorf("out of memory");
                rc = EX_SOFTWARE_;
                goto done;
            }
            for (size_t i = 0; i < n; i++)
                nul[i] = zone[i] < 0;
            size_t fdummy;
            lg_column_spec col = {
                .name = lg_layer_field_index(l, "zone", &fdummy) == LG_OK ? "lg_zone" : "zone",
                .type = LG_FIELD_INT,
                .ints = zone,
                .null = nul};
            e = lg_layer_derive(ctx, l, &col, 1, &cl);
            free(nul);
            if (e) {
                rc = fail_ctx(ctx, e, false);
                goto done;
            }
            if ((rc = write_layer(ctx, cl, cells_path)))
                goto done;
        }
    }
    rc = feasible ? 0 : EX_DATAERR_;
done:
    progress_rows_end();
    if (out)
        close_out(out, out_label, rc);
    lg_zone_plan_free(plan);
    lg_graph_free(g);
    lg_layer_free(cl);
    lg_layer_free(zl);
    lg_layer_free(diss);
    lg_layer_free(l);
    table_free(&sites);
    free(w);
    free(sx);
    free(sy);
    free(grp);
    free(vzone);
    return rc;
}

/* --------------------------------------------------------------- snapshot */

const char usage_snapshot[] =
    "usage: libgrid snapshot GRID -o GRID.lgsnap [--id-field FIELD] [--crs CRS] [--repair]\n"
    "       libgrid snapshot --check GRID.lgsnap\n"
    "\n"
    "Save a grid as a snapshot: geometry, attributes, ids, problems and the locate\n"
    "index in one checksummed file that opens by memory-mapping, in milliseconds\n"
    "whatever the size. Every command that takes a GRID also accepts a .lgsnap file.\n"
    "With --check, open a snapshot verifying every checksum and print its cells, CRS,\n"
    "id field and size; a corrupt file exits 65.\n"
    "\n"
    "  -o, --output FILE  the snapshot to write (.lgsnap)\n"
    "  --id-field FIELD   attribute holding the cell ids (kept in the snapshot)\n"
    "  --crs CRS          CRS of the data when the file has none or it is wrong\n"
    "  --repair           repair invalid polygons while loading\n"
    "  --check            verify a snapshot instead\n";

int cmd_snapshot(lg_context *ctx, int argc, char **argv)
{
    enum { O_OUT, O_ID, O_CRS, O_REPAIR, O_CHECK };
    static const opt_spec specs[] = {{"output", 'o', true}, {"id-field", 0, true},
                                     {"crs", 0, true},      {"repair", 0, false},
                                     {"check", 0, false},   {NULL, 0, false}};
    parsed_opts po;
    int rc = parse_opts("snapshot", argc, argv, specs, 1, &po);
    if (rc)
        return rc;
    if (po.help) {
        fputs(usage_snapshot, stdout);
        return 0;
    }
    if (po.npos != 1) {
        errorf("snapshot: a grid file (or with --check, a snapshot) is required (see libgrid "
               "snapshot --help)");
        return EX_USAGE_;
    }
    if (po.value[O_CHECK]) {
        if (po.value[O_OUT] || po.value[O_ID] || po.value[O_CRS] || po.value[O_REPAIR]) {
            errorf("snapshot: --check takes only the snapshot file");
            return EX_USAGE_;
        }
        if ((rc = check_input(po.pos[0])))
            return rc;
        lg_layer *l = NULL;
        lg_error e = lg_layer_open_snapshot(ctx, po.pos[0], 0, &l);
        if (e)
            return fail_ctx(ctx, e, true);
        struct stat sb;
        long long size = stat(po.pos[0], &sb) == 0 ? (long long)sb.st_size : -1;
        const char *crs = lg_layer_crs(l);
        int64_t idf = lg_layer_id_field(l);
        printf("file: %s\nstatus: ok (checksums verified)\ncells: %zu\ncrs: %s\nid field: %s\n"
               "fields: %zu\nproblems: %zu\nsize: %lld bytes\n",
               po.pos[0], lg_layer_count(l), crs ? crs : "unknown",
               idf == LG_NONE ? "none (row numbers)" : lg_layer_field_name(l, (size_t)idf),
               lg_layer_field_count(l), lg_layer_problem_count(l), size);
        lg_layer_free(l);
        return close_out(stdout, "<stdout>", 0);
    }
    if (!po.value[O_OUT]) {
        errorf("snapshot: -o GRID.lgsnap is required");
        return EX_USAGE_;
    }
    if (!ends_with(po.value[O_OUT], ".lgsnap")) {
        errorf("snapshot: -o %s: the output must end in .lgsnap", po.value[O_OUT]);
        return EX_USAGE_;
    }
    if ((rc = check_crs_arg(ctx, "--crs", po.value[O_CRS])))
        return rc;
    lg_layer *l = NULL;
    if ((rc = load_grid(ctx, po.pos[0], po.value[O_ID], po.value[O_CRS],
                        po.value[O_REPAIR] ? LG_LOAD_REPAIR : 0, &l)))
        return rc;
    lg_error e = lg_layer_save(ctx, l, po.value[O_OUT]);
    lg_layer_free(l);
    return e ? fail_ctx(ctx, e, false) : 0;
}
