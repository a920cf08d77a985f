/*
 * libgrid: the command-line tool, thin over the C API.
 *
 *   libgrid info FILE          cells, CRS, bounds, fields, validity report
 *   libgrid locate GRID        CSV of points in, the same CSV with a "cell" column out
 *   libgrid synth -n CELLS     write a generated county
 *
 * Exit codes follow sysexits.h. Results go to stdout, errors to stderr as
 * "libgrid: <message>".
 */
#include "cli.h"
#include "render.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* Rows located per lg_layer_locate_crs call: memory stays constant on any input. */
#define LOCATE_CHUNK 65536

/* ------------------------------------------------------------ help texts */

static const char usage_main[] =
    "usage: libgrid COMMAND [OPTIONS]\n"
    "\n"
    "Patrol grid cells, police stations, service-station zones, units and coverage.\n"
    "\n"
    "commands:\n"
    "  info GRID      cells, CRS, bounds, fields and validity problems of a grid\n"
    "  validate GRID  every problem of a grid as CSV (overlaps too); --repair\n"
    "  locate GRID    add a 'cell' column to a CSV of points (streams)\n"
    "  stations GRID  classify stations as central, base, border; or validate a plan\n"
    "  zones GRID     plan service-station zones of 6-8 contiguous cells; or validate\n"
    "  nearest        the nearest capable units for incidents, with ETA and flags\n"
    "  coverage GRID  who reaches each cell in time; backup coverage; uncovered area\n"
    "  heat GRID      incidents per cell and per group, by time window; hot spots\n"
    "  synth          write a synthetic county (Shapefile or GeoJSON)\n"
    "  snapshot GRID  save a grid as a memory-mappable snapshot; --check one\n"
    "  render GRID    draw a map: SVG (and an HTML page) with zones, stations, coverage\n"
    "  demo           run the main job on the bundled sample county and draw its map\n"
    "  help [CMD]     this text, or the help of CMD\n"
    "\n"
    "  --version      print the version\n"
    "\n"
    "Grids: ESRI Shapefile (.shp), GeoJSON (.geojson, .json), WKT (.wkt), snapshot\n"
    "(.lgsnap). Tables: CSV. Outputs by the extension of -o: .csv, .geojson, .shp.\n"
    "Exit codes: 0 ok, 64 usage, 65 bad data, 66 missing input, 70 internal error,\n"
    "73 cannot create output, 74 I/O error.\n";

static const char usage_info[] =
    "usage: libgrid info FILE [--id-field FIELD] [--crs CRS] [--repair]\n"
    "\n"
    "Print the number of cells, the CRS, the bounds, the fields with their types and\n"
    "the validity report (each problem with its row, kind, place and message).\n"
    "\n"
    "  --id-field FIELD  attribute holding the cell ids (default: row numbers)\n"
    "  --crs CRS         CRS of the data when the file has none or it is wrong\n"
    "  --repair          repair invalid polygons (each repair is reported)\n";

static const char usage_locate[] =
    "usage: libgrid locate GRID [--id-field FIELD] [--crs CRS] [--x-col NAME --y-col NAME]\n"
    "                      [-i IN.csv|-] [-o OUT.csv|-] [--skip-bad]\n"
    "\n"
    "Read a CSV of points (with a header), write the same CSV with a 'cell' column\n"
    "appended: the id of the cell containing the point (from --id-field, else the row\n"
    "number), empty when the point is in no cell. Works in constant memory.\n"
    "\n"
    "  --id-field FIELD  grid attribute to write as the cell id\n"
    "  --crs CRS         CRS of the points when not the grid's (e.g. EPSG:4326, GCJ-02)\n"
    "  --grid-crs CRS    CRS of the grid when its file has none\n"
    "  --x-col NAME      column of x / longitude (default: x, lon, lng or longitude)\n"
    "  --y-col NAME      column of y / latitude (default: y, lat or latitude)\n"
    "  -i, --input FILE  input CSV (default: standard input)\n"
    "  -o, --output FILE output CSV (default: standard output)\n"
    "  --skip-bad        pass bad rows through with an empty cell instead of failing\n"
    "\n"
    "A bad row (wrong number of columns, unparseable coordinate, broken quoting) is an\n"
    "error naming the file and line (exit 65) unless --skip-bad is given.\n";

static const char usage_synth[] =
    "usage: libgrid synth -n CELLS [--seed S] [--stations K] [--cell-size M] [--crs CRS]\n"
    "                     -o OUT.shp|OUT.geojson\n"
    "\n"
    "Write a generated county: cells sharing edges exactly, with fields cell_id,\n"
    "station, population and calls. Same seed, same county.\n"
    "\n"
    "  -n, --cells N      number of cells (10..1000000)\n"
    "  --seed S           random seed (default 0)\n"
    "  --stations K       number of stations (default about CELLS / 9)\n"
    "  --cell-size M      mean cell width in metres (default 1000)\n"
    "  --crs CRS          CRS label (default EPSG:4545)\n"
    "  -o, --output FILE  output file; .shp or .geojson/.json\n";

/* ------------------------------------------------------------------ info */

static const char *type_name(lg_field_type t)
{
    switch (t) {
    case LG_FIELD_INT: return "int";
    case LG_FIELD_REAL: return "real";
    case LG_FIELD_TEXT: return "text";
    }
    return "?";
}

static int cmd_info(lg_context *ctx, int argc, char **argv)
{
    static const opt_spec specs[] = {
        {"id-field", 0, true}, {"crs", 0, true}, {"repair", 0, false}, {NULL, 0, false}};
    parsed_opts po;
    int rc = parse_opts("info", argc, argv, specs, 1, &po);
    if (rc)
        return rc;
    if (po.help) {
        fputs(usage_info, stdout);
        return 0;
    }
    if (po.npos != 1) {
        errorf("info: a grid file is required (see libgrid info --help)");
        return EX_USAGE_;
    }
    if ((rc = check_crs_arg(ctx, "--crs", po.value[1])))
        return rc;
    lg_layer *layer = NULL;
    rc = load_grid(ctx, po.pos[0], po.value[0], po.value[1], po.value[2] ? LG_LOAD_REPAIR : 0,
                   &layer);
    if (rc)
        return rc;
    size_t n = lg_layer_count(layer);
    const char *crs = lg_layer_crs(layer);
    double b[4];
    printf("file: %s\n", po.pos[0]);
    printf("cells: %zu\n", n);
    printf("crs: %s\n", crs ? crs : "unknown");
    if (lg_layer_bounds(layer, b))
        printf("bounds: %.17g %.17g %.17g %.17g\n", b[0], b[1], b[2], b[3]);
    else
        printf("bounds: empty\n");
    int64_t idf = lg_layer_id_field(layer);
    printf("id field: %s\n",
           idf == LG_NONE ? "none (row numbers)" : lg_layer_field_name(layer, (size_t)idf));
    size_t nf = lg_layer_field_count(layer);
    printf("fields: %zu\n", nf);
    for (size_t i = 0; i < nf; i++)
        printf("  %s %s\n", lg_layer_field_name(layer, i),
               type_name(lg_layer_field_type(layer, i)));
    size_t np = lg_layer_problem_count(layer);
    printf("problems: %zu\n", np);
    for (size_t i = 0; i < np; i++) {
        int64_t row;
        lg_problem_kind kind;
        double x, y;
        const char *msg;
        if (lg_layer_problem(layer, i, &row, &kind, &x, &y, &msg) != LG_OK)
            continue;
        printf("  row %lld: %s", (long long)row, problem_kind_name(kind));
        if (!isnan(x) && !isnan(y))
            printf(" at %.17g %.17g", x, y);
        printf(": %s\n", msg ? msg : "");
    }
    lg_layer_free(layer);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        errorf("writing the report: %s", strerror(errno));
        return EX_IOERR_;
    }
    return 0;
}

/* ---------------------------------------------------------------- locate */

/* One chunk of records kept for output after locating. */
typedef struct chunk {
    char *text; /* raw records back to back */
    size_t len, cap;
    size_t *start; /* record i: text[start[i] .. start[i+1]) */
    const char **eol;
    bool *bad;
    double *x, *y;
    int64_t *row;
    size_t n;
} chunk;

static bool chunk_alloc(chunk *c)
{
    memset(c, 0, sizeof *c);
    c->start = malloc((LOCATE_CHUNK + 1) * sizeof *c->start);
    c->eol = malloc(LOCATE_CHUNK * sizeof *c->eol);
    c->bad = malloc(LOCATE_CHUNK * sizeof *c->bad);
    c->x = malloc(LOCATE_CHUNK * sizeof *c->x);
    c->y = malloc(LOCATE_CHUNK * sizeof *c->y);
    c->row = malloc(LOCATE_CHUNK * sizeof *c->row);
    return c->start && c->eol && c->bad && c->x && c->y && c->row;
}

static void chunk_free(chunk *c)
{
    free(c->text);
    free(c->start);
    free(c->eol);
    free(c->bad);
    free(c->x);
    free(c->y);
    free(c->row);
}

static bool chunk_add(chunk *c, const char *raw, size_t len, const char *eol)
{
    if (c->len + len > c->cap) {
        size_t cap = c->cap ? c->cap : 1 << 20;
        while (cap < c->len + len)
            cap *= 2;
        char *p = realloc(c->text, cap);
        if (!p)
            return false;
        c->text = p;
        c->cap = cap;
    }
    memcpy(c->text + c->len, raw, len);
    c->start[c->n] = c->len;
    c->len += len;
    c->start[c->n + 1] = c->len;
    c->eol[c->n] = eol;
    c->bad[c->n] = false;
    c->x[c->n] = c->y[c->n] = NAN;
    c->n++;
    return true;
}

/* Parse a coordinate: the whole field (spaces around allowed) must be a number. */
static bool parse_coord(const char *s, double *out)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return false;
    char *end;
    double v = strtod(s, &end);
    if (end == s)
        return false;
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end)
        return false;
    *out = v;
    return true;
}

typedef struct out_ctx {
    FILE *out;
    const char *out_name;
    const lg_layer *layer;
    int64_t id_field;
    const char *default_eol;
} out_ctx;

static int write_cell(const out_ctx *o, int64_t row)
{
    if (row == LG_NONE)
        return 0;
    if (o->id_field == LG_NONE)
        return fprintf(o->out, "%lld", (long long)row) < 0 ? -1 : 0;
    size_t f = (size_t)o->id_field;
    if (lg_layer_is_null(o->layer, f, (size_t)row))
        return 0;
    if (lg_layer_field_type(o->layer, f) == LG_FIELD_TEXT) {
        const char *s = "";
        lg_layer_get_text(o->layer, f, (size_t)row, &s);
        return csv_write_field(o->out, s, strlen(s));
    }
    if (lg_layer_field_type(o->layer, f) == LG_FIELD_REAL) {
        double v = 0;
        lg_layer_get_real(o->layer, f, (size_t)row, &v);
        return fprintf(o->out, "%.17g", v) < 0 ? -1 : 0;
    }
    int64_t v = 0;
    lg_layer_get_int(o->layer, f, (size_t)row, &v);
    return fprintf(o->out, "%lld", (long long)v) < 0 ? -1 : 0;
}

static int write_chunk(const out_ctx *o, const chunk *c)
{
    for (size_t i = 0; i < c->n; i++) {
        size_t len = c->start[i + 1] - c->start[i];
        if (fwrite(c->text + c->start[i], 1, len, o->out) != len || putc(',', o->out) == EOF)
            return -1;
        if (!c->bad[i] && write_cell(o, c->row[i]) < 0)
            return -1;
        const char *eol = *c->eol[i] ? c->eol[i] : o->default_eol;
        if (fputs(eol, o->out) == EOF)
            return -1;
    }
    return 0;
}

/* Rows located so far (the progress counter). */
static unsigned long long rows_done;

/* Locate the chunk's good rows and write the chunk; returns an exit code. */
static int flush_chunk(lg_context *ctx, const out_ctx *o, const char *crs, chunk *c)
{
    if (c->n == 0)
        return 0;
    /* bad rows carry NaN coordinates, which locate to LG_NONE */
    lg_error e = lg_layer_locate_crs(ctx, o->layer, crs, c->x, c->y, c->n, c->row);
    if (e != LG_OK)
        return fail_ctx(ctx, e, false);
    rows_done += c->n;
    progress_rows("locate", rows_done);
    if (write_chunk(o, c) < 0) {
        errorf("%s: %s", o->out_name, strerror(errno));
        return EX_IOERR_;
    }
    c->n = 0;
    c->len = 0;
    return 0;
}

static int cmd_locate(lg_context *ctx, int argc, char **argv)
{
    enum { O_ID, O_CRS, O_GRID_CRS, O_XCOL, O_YCOL, O_IN, O_OUT, O_SKIP };
    static const opt_spec specs[] = {
        {"id-field", 0, true}, {"crs", 0, true},       {"grid-crs", 0, true},
        {"x-col", 0, true},    {"y-col", 0, true},     {"input", 'i', true},
        {"output", 'o', true}, {"skip-bad", 0, false}, {NULL, 0, false}};
    parsed_opts po;
    int rc = parse_opts("locate", argc, argv, specs, 1, &po);
    if (rc)
        return rc;
    if (po.help) {
        fputs(usage_locate, stdout);
        return 0;
    }
    if (po.npos != 1) {
        errorf("locate: a grid file is required (see libgrid locate --help)");
        return EX_USAGE_;
    }
    if (!po.value[O_XCOL] != !po.value[O_YCOL]) {
        errorf("locate: give both --x-col and --y-col, or neither");
        return EX_USAGE_;
    }
    const char *crs = po.value[O_CRS];
    bool skip_bad = po.value[O_SKIP] != NULL;
    if ((rc = check_crs_arg(ctx, "--crs", crs)) ||
        (rc = check_crs_arg(ctx, "--grid-crs", po.value[O_GRID_CRS])))
        return rc;

    const char *in_name = po.value[O_IN] ? po.value[O_IN] : "-";
    const char *out_name = po.value[O_OUT] ? po.value[O_OUT] : "-";
    bool in_std = strcmp(in_name, "-") == 0, out_std = strcmp(out_name, "-") == 0;
    const char *in_label = in_std ? "<stdin>" : in_name;
    if (!in_std && (rc = check_input(in_name)))
        return rc;

    lg_layer *layer = NULL;
    if ((rc = load_grid(ctx, po.pos[0], po.value[O_ID], po.value[O_GRID_CRS], 0, &layer)))
        return rc;

    FILE *in = in_std ? stdin : fopen(in_name, "rb");
    if (!in) {
        errorf("%s: %s", in_name, strerror(errno));
        lg_layer_free(layer);
        return EX_NOINPUT_;
    }
    FILE *out = out_std ? stdout : fopen(out_name, "wb");
    if (!out) {
        errorf("%s: cannot create: %s", out_name, strerror(errno));
        if (!in_std)
            fclose(in);
        lg_layer_free(layer);
        return EX_CANTCREAT_;
    }
    static char outbuf[1 << 16];
    setvbuf(out, outbuf, _IOFBF, sizeof outbuf);

    csv_reader *r = csv_new(in, MAX_RECORD);
    chunk c;
    bool ok_alloc = chunk_alloc(&c);
    out_ctx o = {out, out_std ? "<stdout>" : out_name, layer, lg_layer_id_field(layer), "\n"};
    if (!r || !ok_alloc) {
        errorf("out of memory");
        rc = EX_SOFTWARE_;
        goto done;
    }

    /* header */
    csv_status st = csv_next(r);
    if (st == CSV_EOF) {
        errorf("%s: empty input, expected a header line", in_label);
        rc = EX_DATAERR_;
        goto done;
    }
    if (st != CSV_OK) {
        if (st == CSV_IOERR) {
            errorf("%s: %s", in_label, strerror(errno));
            rc = EX_IOERR_;
        } else {
            errorf("%s: line %llu: %s", in_label, csv_line(r),
                   st == CSV_NOMEM ? "out of memory" : csv_error(r));
            rc = st == CSV_NOMEM ? EX_SOFTWARE_ : EX_DATAERR_;
        }
        goto done;
    }
    int xc = -1, yc = -1;
    if (po.value[O_XCOL]) {
        xc = find_col(r, po.value[O_XCOL]);
        yc = find_col(r, po.value[O_YCOL]);
        if (xc < 0 || yc < 0) {
            errorf("%s: no column '%s' in the header", in_label,
                   xc < 0 ? po.value[O_XCOL] : po.value[O_YCOL]);
            rc = EX_USAGE_;
            goto done;
        }
    } else {
        static const char *pairs[][2] = {
            {"x", "y"}, {"lon", "lat"}, {"lng", "lat"}, {"longitude", "latitude"}};
        for (size_t k = 0; k < sizeof pairs / sizeof pairs[0] && xc < 0; k++) {
            int a = find_col(r, pairs[k][0]), b = find_col(r, pairs[k][1]);
            if (a >= 0 && b >= 0) {
                xc = a;
                yc = b;
            }
        }
        if (xc < 0) {
            errorf("%s: cannot find the coordinate columns in the header (x/y, lon/lat or "
                   "longitude/latitude); name them with --x-col and --y-col",
                   in_label);
            rc = EX_USAGE_;
            goto done;
        }
    }
    size_t ncols = csv_nfields(r);
    if (*csv_eol(r))
        o.default_eol = csv_eol(r);
    {
        size_t len;
        const char *raw = csv_raw(r, &len);
        if ((csv_had_bom(r) && fputs("\xEF\xBB\xBF", out) == EOF) ||
            fwrite(raw, 1, len, out) != len || fputs(",cell", out) == EOF ||
            fputs(o.default_eol, out) == EOF) {
            errorf("%s: %s", o.out_name, strerror(errno));
            rc = EX_IOERR_;
            goto done;
        }
    }

    /* records, a chunk at a time */
    for (;;) {
        st = csv_next(r);
        if (st == CSV_EOF)
            break;
        if (st == CSV_IOERR) {
            errorf("%s: %s", in_label, strerror(errno));
            rc = EX_IOERR_;
            goto done;
        }
        if (st == CSV_NOMEM) {
            errorf("out of memory");
            rc = EX_SOFTWARE_;
            goto done;
        }
        char why[256] = "";
        if (st == CSV_BAD) {
            snprintf(why, sizeof why, "%s", csv_error(r));
        } else if (csv_nfields(r) != ncols) {
            snprintf(why, sizeof why, "%zu columns, the header has %zu", csv_nfields(r), ncols);
        }
        double x = NAN, y = NAN;
        if (!*why && !parse_coord(csv_field(r, (size_t)xc), &x))
            snprintf(why, sizeof why, "x value '%.60s' in column %d is not a number",
                     csv_field(r, (size_t)xc), xc + 1);
        if (!*why && !parse_coord(csv_field(r, (size_t)yc), &y))
            snprintf(why, sizeof why, "y value '%.60s' in column %d is not a number",
                     csv_field(r, (size_t)yc), yc + 1);
        if (*why && !skip_bad) {
            unsigned long long line = csv_line(r);
            if ((rc = flush_chunk(ctx, &o, crs, &c)) == 0) {
                errorf("%s: line %llu: %s (use --skip-bad to pass bad rows through)", in_label,
                       line, why);
                rc = EX_DATAERR_;
            }
            goto done;
        }
        size_t len;
        const char *raw = csv_raw(r, &len);
        if (!chunk_add(&c, raw, len, csv_eol(r))) {
            errorf("out of memory");
            rc = EX_SOFTWARE_;
            goto done;
        }
        if (*why) {
            c.bad[c.n - 1] = true;
        } else {
            c.x[c.n - 1] = x;
            c.y[c.n - 1] = y;
        }
        if (c.n == LOCATE_CHUNK && (rc = flush_chunk(ctx, &o, crs, &c)))
            goto done;
    }
    rc = flush_chunk(ctx, &o, crs, &c);

done:
    progress_rows_end();
    if (fflush(out) != 0 && rc == 0) {
        errorf("%s: %s", o.out_name, strerror(errno));
        rc = EX_IOERR_;
    }
    if (!out_std && fclose(out) != 0 && rc == 0) {
        errorf("%s: %s", out_name, strerror(errno));
        rc = EX_IOERR_;
    }
    if (!in_std)
        fclose(in);
    csv_free(r);
    chunk_free(&c);
    lg_layer_free(layer);
    return rc;
}

/* ----------------------------------------------------------------- synth */

static int cmd_synth(lg_context *ctx, int argc, char **argv)
{
    enum { O_CELLS, O_SEED, O_STATIONS, O_SIZE, O_CRS, O_OUT };
    static const opt_spec specs[] = {
        {"cells", 'n', true}, {"seed", 0, true},     {"stations", 0, true}, {"cell-size", 0, true},
        {"crs", 0, true},     {"output", 'o', true}, {NULL, 0, false}};
    parsed_opts po;
    int rc = parse_opts("synth", argc, argv, specs, 0, &po);
    if (rc)
        return rc;
    if (po.help) {
        fputs(usage_synth, stdout);
        return 0;
    }
    lg_synth_options opt = {0};
    size_t seed = 0;
    if (!po.value[O_CELLS] || !parse_size(po.value[O_CELLS], &opt.cells)) {
        errorf("synth: -n CELLS is required and must be a positive integer");
        return EX_USAGE_;
    }
    if (po.value[O_SEED] && !parse_size(po.value[O_SEED], &seed)) {
        errorf("synth: --seed must be a non-negative integer");
        return EX_USAGE_;
    }
    opt.seed = seed;
    if (po.value[O_STATIONS] && !parse_size(po.value[O_STATIONS], &opt.stations)) {
        errorf("synth: --stations must be a non-negative integer");
        return EX_USAGE_;
    }
    if (po.value[O_SIZE]) {
        char *end;
        opt.cell_size_m = strtod(po.value[O_SIZE], &end);
        if (*end || !(opt.cell_size_m > 0) || !isfinite(opt.cell_size_m)) {
            errorf("synth: --cell-size must be a positive number of metres");
            return EX_USAGE_;
        }
    }
    opt.crs = po.value[O_CRS];
    const char *path = po.value[O_OUT];
    if (!path) {
        errorf("synth: -o OUT.shp|OUT.geojson is required");
        return EX_USAGE_;
    }
    bool shp = ends_with(path, ".shp");
    if (!shp && !ends_with(path, ".geojson") && !ends_with(path, ".json")) {
        errorf("synth: %s: the output must end in .shp, .geojson or .json", path);
        return EX_USAGE_;
    }
    if ((rc = check_crs_arg(ctx, "--crs", opt.crs)))
        return rc;
    lg_layer *layer = NULL;
    lg_error e = lg_synth_county(ctx, &opt, &layer);
    if (e)
        return fail_ctx(ctx, e, false);
    e = shp ? lg_layer_write_shapefile(ctx, layer, path) : lg_layer_write_geojson(ctx, layer, path);
    lg_layer_free(layer);
    return e ? fail_ctx(ctx, e, false) : 0;
}

/* ------------------------------------------------------------------ main */

static const struct {
    const char *name;
    cmd_fn fn;
    const char *usage;
} commands[] = {
    {"info", cmd_info, usage_info},
    {"locate", cmd_locate, usage_locate},
    {"synth", cmd_synth, usage_synth},
    {"validate", cmd_validate, usage_validate},
    {"stations", cmd_stations, usage_stations},
    {"zones", cmd_zones, usage_zones},
    {"snapshot", cmd_snapshot, usage_snapshot},
    {"nearest", cmd_nearest, usage_nearest},
    {"coverage", cmd_coverage, usage_coverage},
    {"heat", cmd_heat, usage_heat},
    {"render", cmd_render, usage_render},
    {"demo", cmd_demo, usage_demo},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stderr);
        return EX_USAGE_;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("libgrid %s\n", lg_version());
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        if (argc > 2) {
            for (size_t i = 0; i < NCOMMANDS; i++)
                if (strcmp(argv[2], commands[i].name) == 0) {
                    fputs(commands[i].usage, stdout);
                    return 0;
                }
            errorf("help: unknown command '%s'", argv[2]);
            return EX_USAGE_;
        }
        fputs(usage_main, stdout);
        return 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(cmd, commands[i].name) != 0)
            continue;
        lg_context *ctx = NULL;
        if (lg_context_new(NULL, &ctx) != LG_OK) {
            errorf("out of memory");
            return EX_SOFTWARE_;
        }
        int rc = commands[i].fn(ctx, argc - 2, argv + 2);
        lg_context_free(ctx);
        return rc;
    }
    errorf("unknown command '%s' (see libgrid help)", cmd);
    return EX_USAGE_;
}
