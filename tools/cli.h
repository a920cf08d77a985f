/*
 * Shared helpers of the libgrid command (the tools directory): option parsing, exit codes,
 * loading grids (files or .lgsnap snapshots), output formats, CSV tables, ids and
 * the progress bar.
 */
#ifndef LG_TOOLS_CLI_H
#define LG_TOOLS_CLI_H

#include "csv.h"
#include "libgrid.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* sysexits.h values */
enum {
    EX_OK_ = 0,
    EX_USAGE_ = 64,
    EX_DATAERR_ = 65,
    EX_NOINPUT_ = 66,
    EX_SOFTWARE_ = 70,
    EX_CANTCREAT_ = 73,
    EX_IOERR_ = 74,
};

/* Longest CSV record accepted (guards against a stray quote swallowing the file). */
#define MAX_RECORD ((size_t)64 << 20)

#if defined(__GNUC__)
void errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#else
void errorf(const char *fmt, ...);
#endif

/* ------------------------------------------------------- option parsing */

#define MAX_OPTS 32

typedef struct opt_spec {
    const char *name; /* long name without "--" */
    char short_name;  /* or 0 */
    bool has_arg;
} opt_spec;

typedef struct parsed_opts {
    const char *value[MAX_OPTS]; /* by spec index; "" for flags that are set */
    const char *pos[4];
    size_t npos;
    bool help;
} parsed_opts;

/* Parse argv against specs; returns 0, or EX_USAGE after printing why. */
int parse_opts(const char *cmd, int argc, char **argv, const opt_spec *specs, size_t max_pos,
               parsed_opts *po);
bool parse_size(const char *s, size_t *out);
/* A finite number (the whole string). */
bool parse_double(const char *s, double *out);
/* Split a comma-separated list into a malloc'ed array of malloc'ed strings. */
char **split_list(const char *s, size_t *n);
void free_list(char **list, size_t n);
bool ends_with(const char *s, const char *suffix);

/* ----------------------------------------------------------- error codes */

/* Exit code for a library error; input: the failing call read an input. */
int exit_for(lg_error e, bool input);
/* Print the context's message (or the error's description); return exit_for. */
int fail_ctx(lg_context *ctx, lg_error e, bool input);
/* An input path must exist and be a readable file: EX_NOINPUT otherwise. */
int check_input(const char *path);
/* A user-given CRS must be known to PROJ: a usage error otherwise. */
int check_crs_arg(lg_context *ctx, const char *opt, const char *crs);
/*
 * Load a grid: a Shapefile, GeoJSON or WKT file, or a .lgsnap snapshot (opened with
 * verification; its id field is the one it was saved with).
 */
int load_grid(lg_context *ctx, const char *path, const char *id_field, const char *crs,
              unsigned flags, lg_layer **out);

/* ---------------------------------------------------------------- output */

typedef enum out_format { OUT_CSV = 1, OUT_GEOJSON = 2, OUT_SHP = 3 } out_format;
/* Format of an output path by extension (.csv, .geojson/.json, .shp); 0 if none. */
out_format out_format_of(const char *path);
/* Check an output path for a command: usage error naming it when the extension is
 * not one of allowed (a mask of 1 << OUT_*). */
int check_output(const char *cmd, const char *opt, const char *path, unsigned allowed);
/* Write a layer as GeoJSON or Shapefile (with .prj) chosen by the extension. */
int write_layer(lg_context *ctx, const lg_layer *layer, const char *path);
/* Open a CSV output ("-" or NULL: stdout). */
FILE *open_out(const char *path, const char **label);
/* Flush and close (unless stdout); returns rc, or EX_IOERR on a write error. */
int close_out(FILE *f, const char *label, int rc);

/* ---------------------------------------------------------------- tables */

/* A whole CSV file in memory: header and rows of strings; line[r]: its line. */
typedef struct table {
    const char *label;
    size_t ncols, nrows;
    char **header;
    char **cell; /* nrows * ncols */
    unsigned long long *line;
} table;

/* Read a CSV file with a header; every row must have the header's columns. */
int table_read(const char *path, table *t);
void table_free(table *t);
/* Column index by name (exact, then case-insensitive), or -1. */
int table_col(const table *t, const char *name);
/* Like table_col but prints "FILE: no column 'name'" and returns -1 when missing. */
int table_need(const table *t, const char *name);
static inline const char *table_at(const table *t, size_t row, int col)
{
    return t->cell[row * t->ncols + (size_t)col];
}
/* Column index in a csv_reader header, or -1. */
int find_col(const csv_reader *r, const char *name);
/* The x and y columns: given names, or x/y, lon/lat, lng/lat, longitude/latitude. */
int table_xy(const table *t, const char *xname, const char *yname, int *xc, int *yc);

/* ------------------------------------------------------------------- ids */

/* The id of a cell as text (id field, else the row number), into buf. */
const char *cell_id(const lg_layer *l, size_t row, char *buf, size_t cap);
/* The row of the cell with id text (id field, else row number), or LG_NONE. */
int64_t cell_row(const lg_layer *l, const char *id);
/* Numeric values of a field per cell (null: NaN); prints why and returns an exit code. */
int field_reals(const lg_layer *l, const char *grid, const char *name, double **out);
/*
 * Integer group per cell from a field: INT values as they are (null or < 0: LG_NONE),
 * TEXT values numbered by first appearance (names[k] borrowed from the layer).
 */
int field_groups(const lg_layer *l, const char *grid, const char *name, int64_t **out,
                 const char ***names, size_t *ngroups);

/* Short name of a load/validity problem kind ("invalid", "overlap", ...). */
const char *problem_kind_name(lg_problem_kind k);

/* -------------------------------------------------------------- progress */

/* Install a progress bar on ctx when stderr is a terminal; label names the work. */
void progress_start(lg_context *ctx, const char *label);
/* Clear the bar (if drawn) and remove it from ctx. */
void progress_stop(lg_context *ctx);
/* A counter of rows without a total (the CSV locate stream). */
void progress_rows(const char *label, unsigned long long rows);
void progress_rows_end(void);
/* A status line ("zones: planning...") for work that reports no progress. */
void progress_phase(const char *what);

/* ------------------------------------------------------------- commands */

typedef int (*cmd_fn)(lg_context *ctx, int argc, char **argv);
int cmd_validate(lg_context *ctx, int argc, char **argv);
int cmd_stations(lg_context *ctx, int argc, char **argv);
int cmd_zones(lg_context *ctx, int argc, char **argv);
int cmd_snapshot(lg_context *ctx, int argc, char **argv);
int cmd_nearest(lg_context *ctx, int argc, char **argv);
int cmd_coverage(lg_context *ctx, int argc, char **argv);
int cmd_heat(lg_context *ctx, int argc, char **argv);
extern const char usage_validate[], usage_stations[], usage_zones[], usage_snapshot[],
    usage_nearest[], usage_coverage[], usage_heat[];

#endif
