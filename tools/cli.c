/* Shared helpers of the libgrid command (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* The progress bar's state (one bar at a time: the command is single-threaded). */
static struct {
    const char *label;
    int last; /* last permille drawn, -1: none */
    bool drawn;
} bar;

void errorf(const char *fmt, ...)
{
    if (bar.drawn) { /* the message starts on a clean line */
        fputs("\r\033[K", stderr);
        bar.drawn = false;
    }
    va_list ap;
    va_start(ap, fmt);
    fputs("libgrid: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ------------------------------------------------------- option parsing */

int parse_opts(const char *cmd, int argc, char **argv, const opt_spec *specs, size_t max_pos,
               parsed_opts *po)
{
    memset(po, 0, sizeof *po);
    bool only_pos = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || strcmp(a, "-") == 0) {
            if (po->npos >= max_pos || po->npos >= 4) {
                errorf("%s: unexpected argument '%s' (see libgrid %s --help)", cmd, a, cmd);
                return EX_USAGE_;
            }
            po->pos[po->npos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            po->help = true;
            continue;
        }
        const char *inline_val = NULL;
        size_t k;
        for (k = 0; specs[k].name; k++) {
            if (a[1] == '-') {
                size_t n = strlen(specs[k].name);
                if (strncmp(a + 2, specs[k].name, n) == 0 &&
                    (a[2 + n] == '\0' || (a[2 + n] == '=' && specs[k].has_arg))) {
                    inline_val = a[2 + n] == '=' ? a + 3 + n : NULL;
                    break;
                }
            } else if (specs[k].short_name && a[1] == specs[k].short_name) {
                inline_val = a[2] ? a + 2 : NULL;
                if (inline_val && !specs[k].has_arg)
                    continue;
                break;
            }
        }
        if (!specs[k].name || k >= MAX_OPTS) {
            errorf("%s: unknown option '%s' (see libgrid %s --help)", cmd, a, cmd);
            return EX_USAGE_;
        }
        if (!specs[k].has_arg) {
            po->value[k] = "";
            continue;
        }
        if (!inline_val) {
            if (i + 1 >= argc) {
                errorf("%s: option '%s' needs a value", cmd, a);
                return EX_USAGE_;
            }
            inline_val = argv[++i];
        }
        po->value[k] = inline_val;
    }
    return 0;
}

bool parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = (size_t)v;
    return true;
}

bool parse_double(const char *s, double *out)
{
    if (!s)
        return false;
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
    if (*end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

char **split_list(const char *s, size_t *n)
{
    *n = 0;
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    char **out = calloc(cap, sizeof *out);
    if (!out)
        return NULL;
    const char *p = s;
    for (;;) {
        const char *q = strchr(p, ',');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        out[*n] = malloc(len + 1);
        if (!out[*n]) {
            free_list(out, *n);
            return NULL;
        }
        memcpy(out[*n], p, len);
        out[*n][len] = '\0';
        (*n)++;
        if (!q)
            break;
        p = q + 1;
    }
    return out;
}

void free_list(char **list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* ----------------------------------------------------------- error codes */

int exit_for(lg_error e, bool input)
{
    switch (e) {
    case LG_OK: return EX_OK_;
    case LG_ERR_ARG: return EX_USAGE_;
    case LG_ERR_NOT_FOUND: return EX_USAGE_; /* e.g. --id-field names no field */
    case LG_ERR_IO: return input ? EX_NOINPUT_ : EX_CANTCREAT_;
    case LG_ERR_FORMAT:
    case LG_ERR_GEOMETRY:
    case LG_ERR_UNSUPPORTED:
    case LG_ERR_CRS: return EX_DATAERR_;
    case LG_ERR_NOMEM:
    case LG_ERR_CAPACITY:
    case LG_ERR_INTERNAL:
    case LG_ERR_CANCELLED: return EX_SOFTWARE_;
    }
    return EX_SOFTWARE_;
}

int fail_ctx(lg_context *ctx, lg_error e, bool input)
{
    progress_stop(ctx);
    const char *m = lg_context_message(ctx);
    errorf("%s", m && *m ? m : lg_strerror(e));
    return exit_for(e, input);
}

int check_input(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        errorf("%s: %s", path, strerror(errno));
        return EX_NOINPUT_;
    }
    if (S_ISDIR(st.st_mode)) {
        errorf("%s: is a directory", path);
        return EX_NOINPUT_;
    }
    return 0;
}

int check_crs_arg(lg_context *ctx, const char *opt, const char *crs)
{
    if (!crs)
        return 0;
    lg_error e = lg_crs_check(ctx, crs, NULL);
    if (e == LG_OK)
        return 0;
    const char *m = lg_context_message(ctx);
    errorf("%s '%s': %s", opt, crs, m && *m ? m : lg_strerror(e));
    return e == LG_ERR_CRS || e == LG_ERR_ARG ? EX_USAGE_ : exit_for(e, false);
}

int load_grid(lg_context *ctx, const char *path, const char *id_field, const char *crs,
              unsigned flags, lg_layer **out)
{
    int rc = check_input(path);
    if (rc)
        return rc;
    lg_error e;
    if (ends_with(path, ".lgsnap")) {
        e = lg_layer_open_snapshot(ctx, path, 0, out);
        if (e)
            return fail_ctx(ctx, e, true);
        if (id_field) {
            int64_t f = lg_layer_id_field(*out);
            size_t want;
            if (lg_layer_field_index(*out, id_field, &want) != LG_OK || f != (int64_t)want) {
                errorf("%s: the snapshot's id field is %s, not '%s' (ids are fixed when the "
                       "snapshot is saved)",
                       path, f == LG_NONE ? "none" : lg_layer_field_name(*out, (size_t)f),
                       id_field);
                lg_layer_free(*out);
                *out = NULL;
                return EX_USAGE_;
            }
        }
        return 0;
    }
    lg_load_options opt = {0};
    opt.id_field = id_field;
    opt.crs = crs;
    opt.flags = flags;
    progress_start(ctx, "loading");
    e = lg_layer_load(ctx, path, &opt, out);
    progress_stop(ctx);
    return e ? fail_ctx(ctx, e, true) : 0;
}

/* ---------------------------------------------------------------- output */

out_format out_format_of(const char *path)
{
    if (!path)
        return 0;
    if (strcmp(path, "-") == 0 || ends_with(path, ".csv"))
        return OUT_CSV;
    if (ends_with(path, ".geojson") || ends_with(path, ".json"))
        return OUT_GEOJSON;
    if (ends_with(path, ".shp"))
        return OUT_SHP;
    return 0;
}

int check_output(const char *cmd, const char *opt, const char *path, unsigned allowed)
{
    if (!path)
        return 0;
    out_format f = out_format_of(path);
    if (f && (allowed & (1u << f)))
        return 0;
    errorf("%s: %s %s: the output must end in %s%s%s", cmd, opt, path,
           allowed & (1u << OUT_CSV) ? ".csv " : "",
           allowed & (1u << OUT_GEOJSON) ? ".geojson .json " : "",
           allowed & (1u << OUT_SHP) ? ".shp" : "");
    return EX_USAGE_;
}

int write_layer(lg_context *ctx, const lg_layer *layer, const char *path)
{
    lg_error e = out_format_of(path) == OUT_SHP ? lg_layer_write_shapefile(ctx, layer, path)
                                                : lg_layer_write_geojson(ctx, layer, path);
    return e ? fail_ctx(ctx, e, false) : 0;
}

FILE *open_out(const char *path, const char **label)
{
    if (!path || strcmp(path, "-") == 0) {
        *label = "<stdout>";
        return stdout;
    }
    *label = path;
    FILE *f = fopen(path, "wb");
    if (!f)
        errorf("%s: cannot create: %s", path, strerror(errno));
    return f;
}

int close_out(FILE *f, const char *label, int rc)
{
    if (!f)
        return rc;
    if (fflush(f) != 0 || ferror(f)) {
        if (rc == 0) {
            errorf("%s: %s", label, strerror(errno));
            rc = EX_IOERR_;
        }
    }
    if (f != stdout && fclose(f) != 0 && rc == 0) {
        errorf("%s: %s", label, strerror(errno));
        rc = EX_IOERR_;
    }
    return rc;
}

/* ---------------------------------------------------------------- tables */

static char *dupn(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

int table_read(const char *path, table *t)
{
    memset(t, 0, sizeof *t);
    bool std = strcmp(path, "-") == 0;
    t->label = std ? "<stdin>" : path;
    int rc = 0;
    if (!std && (rc = check_input(path)))
        return rc;
    FILE *in = std ? stdin : fopen(path, "rb");
    if (!in) {
        errorf("%s: %s", path, strerror(errno));
        return EX_NOINPUT_;
    }
    csv_reader *r = csv_new(in, MAX_RECORD);
    size_t cap = 0;
    if (!r) {
        errorf("out of memory");
        rc = EX_SOFTWARE_;
        goto done;
    }
    for (bool header = true;; header = false) {
        csv_status st = csv_next(r);
        if (st == CSV_EOF) {
            if (header) {
                errorf("%s: empty input, expected a header line", t->label);
                rc = EX_DATAERR_;
            }
            break;
        }
        if (st == CSV_IOERR) {
            errorf("%s: %s", t->label, strerror(errno));
            rc = EX_IOERR_;
            break;
        }
        if (st == CSV_NOMEM) {
            errorf("out of memory");
            rc = EX_SOFTWARE_;
            break;
        }
        if (st == CSV_BAD) {
            errorf("%s: line %llu: %s", t->label, csv_line(r), csv_error(r));
            rc = EX_DATAERR_;
            break;
        }
        size_t nf = csv_nfields(r);
        if (header) {
            t->ncols = nf;
            t->header = calloc(nf, sizeof *t->header);
            for (size_t i = 0; t->header && i < nf; i++)
                t->header[i] = dupn(csv_field(r, i), csv_field_len(r, i));
            continue;
        }
        if (nf != t->ncols) {
            errorf("%s: line %llu: %zu columns, the header has %zu", t->label, csv_line(r), nf,
                   t->ncols);
            rc = EX_DATAERR_;
            break;
        }
        if (t->nrows == cap) {
            cap = cap ? 2 * cap : 256;
            char **c = realloc(t->cell, cap * t->ncols * sizeof *c + 1);
            unsigned long long *l = realloc(t->line, cap * sizeof *l);
            if (c)
                t->cell = c;
            if (l)
                t->line = l;
            if (!c || !l) {
                errorf("out of memory");
                rc = EX_SOFTWARE_;
                break;
            }
        }
        for (size_t i = 0; i < nf; i++)
            t->cell[t->nrows * t->ncols + i] = dupn(csv_field(r, i), csv_field_len(r, i));
        t->line[t->nrows++] = csv_line(r);
    }
done:
    csv_free(r);
    if (!std)
        fclose(in);
    return rc;
}

void table_free(table *t)
{
    for (size_t i = 0; t->header && i < t->ncols; i++)
        free(t->header[i]);
    for (size_t i = 0; t->cell && i < t->nrows * t->ncols; i++)
        free(t->cell[i]);
    free(t->header);
    free(t->cell);
    free(t->line);
    memset(t, 0, sizeof *t);
}

int table_col(const table *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (t->header[i] && strcmp(t->header[i], name) == 0)
            return (int)i;
    for (size_t i = 0; i < t->ncols; i++)
        if (t->header[i] && strcasecmp(t->header[i], name) == 0)
            return (int)i;
    return -1;
}

int table_need(const table *t, const char *name)
{
    int c = table_col(t, name);
    if (c < 0)
        errorf("%s: no column '%s' in the header", t->label, name);
    return c;
}

int find_col(const csv_reader *r, const char *name)
{
    for (size_t i = 0; i < csv_nfields(r); i++)
        if (strcmp(csv_field(r, i), name) == 0)
            return (int)i;
    for (size_t i = 0; i < csv_nfields(r); i++)
        if (strcasecmp(csv_field(r, i), name) == 0)
            return (int)i;
    return -1;
}

int table_xy(const table *t, const char *xname, const char *yname, int *xc, int *yc)
{
    *xc = *yc = -1;
    if (xname || yname) {
        if (!xname || !yname) {
            errorf("give both --x-col and --y-col, or neither");
            return EX_USAGE_;
        }
        if ((*xc = table_need(t, xname)) < 0 || (*yc = table_need(t, yname)) < 0)
            return EX_USAGE_;
        return 0;
    }
    static const char *pairs[][2] = {
        {"x", "y"}, {"lon", "lat"}, {"lng", "lat"}, {"longitude", "latitude"}};
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        int a = table_col(t, pairs[k][0]), b = table_col(t, pairs[k][1]);
        if (a >= 0 && b >= 0) {
            *xc = a;
            *yc = b;
            return 0;
        }
    }
    errorf("%s: cannot find the coordinate columns in the header (x/y, lon/lat or "
           "longitude/latitude)",
           t->label);
    return EX_USAGE_;
}

/* ------------------------------------------------------------------- ids */

const char *cell_id(const lg_layer *l, size_t row, char *buf, size_t cap)
{
    int64_t f = lg_layer_id_field(l);
    if (f == LG_NONE) {
        snprintf(buf, cap, "%zu", row);
        return buf;
    }
    size_t fi = (size_t)f;
    if (lg_layer_is_null(l, fi, row)) {
        buf[0] = '\0';
        return buf;
    }
    switch (lg_layer_field_type(l, fi)) {
    case LG_FIELD_TEXT: {
        const char *s = "";
        lg_layer_get_text(l, fi, row, &s);
        return s;
    }
    case LG_FIELD_REAL: {
        double v = 0;
        lg_layer_get_real(l, fi, row, &v);
        snprintf(buf, cap, "%.17g", v);
        return buf;
    }
    default: {
        int64_t v = 0;
        lg_layer_get_int(l, fi, row, &v);
        snprintf(buf, cap, "%lld", (long long)v);
        return buf;
    }
    }
}

int64_t cell_row(const lg_layer *l, const char *id)
{
    int64_t f = lg_layer_id_field(l);
    if (f != LG_NONE && lg_layer_field_type(l, (size_t)f) == LG_FIELD_TEXT)
        return lg_layer_find_id_text(l, id);
    char *end;
    errno = 0;
    while (*id == ' ')
        id++;
    long long v = strtoll(id, &end, 10);
    while (*end == ' ')
        end++;
    if (!*id || *end || errno)
        return LG_NONE;
    if (f == LG_NONE)
        return v >= 0 && (size_t)v < lg_layer_count(l) ? v : LG_NONE;
    return lg_layer_find_id(l, v);
}

int field_reals(const lg_layer *l, const char *grid, const char *name, double **out)
{
    size_t f;
    if (lg_layer_field_index(l, name, &f) != LG_OK) {
        errorf("%s: no field '%s'", grid, name);
        return EX_USAGE_;
    }
    if (lg_layer_field_type(l, f) == LG_FIELD_TEXT) {
        errorf("%s: field '%s' is text, not numeric", grid, name);
        return EX_USAGE_;
    }
    size_t n = lg_layer_count(l);
    double *v = malloc((n + 1) * sizeof *v);
    if (!v) {
        errorf("out of memory");
        return EX_SOFTWARE_;
    }
    for (size_t r = 0; r < n; r++)
        if (lg_layer_is_null(l, f, r) || lg_layer_get_real(l, f, r, &v[r]) != LG_OK)
            v[r] = NAN;
    *out = v;
    return 0;
}

int field_groups(const lg_layer *l, const char *grid, const char *name, int64_t **out,
                 const char ***names, size_t *ngroups)
{
    size_t f;
    if (lg_layer_field_index(l, name, &f) != LG_OK) {
        errorf("%s: no field '%s'", grid, name);
        return EX_USAGE_;
    }
    size_t n = lg_layer_count(l);
    int64_t *g = malloc((n + 1) * sizeof *g);
    const char **nm = NULL;
    size_t k = 0;
    if (!g) {
        errorf("out of memory");
        return EX_SOFTWARE_;
    }
    if (lg_layer_field_type(l, f) == LG_FIELD_TEXT) {
        nm = malloc((n + 1) * sizeof *nm);
        if (!nm) {
            free(g);
            errorf("out of memory");
            return EX_SOFTWARE_;
        }
        for (size_t r = 0; r < n; r++) {
            const char *s = NULL;
            g[r] = LG_NONE;
            if (lg_layer_is_null(l, f, r) || lg_layer_get_text(l, f, r, &s) != LG_OK)
                continue;
            size_t j; /* quadratic in the number of groups: stations and the like, few */
            for (j = 0; j < k; j++)
                if (strcmp(nm[j], s) == 0)
                    break;
            if (j == k)
                nm[k++] = s;
            g[r] = (int64_t)j;
        }
    } else {
        for (size_t r = 0; r < n; r++) {
            int64_t v = LG_NONE;
            if (lg_layer_is_null(l, f, r) || lg_layer_get_int(l, f, r, &v) != LG_OK || v < 0)
                v = LG_NONE;
            g[r] = v;
            if (v >= 0 && (size_t)v + 1 > k)
                k = (size_t)v + 1;
        }
    }
    *out = g;
    if (names)
        *names = nm;
    else
        free(nm);
    if (ngroups)
        *ngroups = k;
    return 0;
}

/* -------------------------------------------------------------- progress */

static bool progress_cb(uint64_t done, uint64_t total, void *udata)
{
    (void)udata;
    if (total == 0)
        return true;
    int pm = (int)(done >= total ? 1000 : done * 1000 / total);
    if (pm == bar.last)
        return true;
    bar.last = pm;
    int w = 30, fill = pm * w / 1000;
    fprintf(stderr, "\r%s [", bar.label);
    for (int i = 0; i < w; i++)
        fputc(i < fill ? '#' : ' ', stderr);
    fprintf(stderr, "] %3d.%d%%  %llu/%llu", pm / 10, pm % 10, (unsigned long long)done,
            (unsigned long long)total);
    fflush(stderr);
    bar.drawn = true;
    return true;
}

void progress_start(lg_context *ctx, const char *label)
{
    if (!isatty(STDERR_FILENO))
        return;
    bar.label = label;
    bar.last = -1;
    lg_context_set_progress(ctx, progress_cb, NULL);
}

void progress_stop(lg_context *ctx)
{
    if (ctx)
        lg_context_set_progress(ctx, NULL, NULL);
    if (bar.drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        bar.drawn = false;
    }
}

void progress_rows(const char *label, unsigned long long rows)
{
    if (!isatty(STDERR_FILENO))
        return;
    fprintf(stderr, "\r%s: %llu rows", label, rows);
    fflush(stderr);
    bar.drawn = true;
}

void progress_phase(const char *what)
{
    if (!isatty(STDERR_FILENO))
        return;
    fprintf(stderr, "\r\033[K%s...", what);
    fflush(stderr);
    bar.drawn = true;
}

void progress_rows_end(void)
{
    progress_stop(NULL);
}

const char *problem_kind_name(lg_problem_kind k)
{
    switch (k) {
    case LG_PROBLEM_INVALID: return "invalid";
    case LG_PROBLEM_REPAIRED: return "repaired";
    case LG_PROBLEM_EMPTY: return "empty";
    case LG_PROBLEM_DUPLICATE_ID: return "duplicate_id";
    case LG_PROBLEM_NULL_ID: return "null_id";
    case LG_PROBLEM_OVERLAP: return "overlap";
    }
    return "unknown";
}
