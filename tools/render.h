/*
 * Maps for the libgrid command (render, demo): a self-contained SVG of a grid with
 * zones, station jurisdictions, stations by class, units, incidents and coverage, and
 * an HTML page embedding it. Also the readers of the sample's point tables (stations,
 * units, incidents), shared by render and demo.
 */
#ifndef LG_TOOLS_RENDER_H
#define LG_TOOLS_RENDER_H

#include "cli.h"

/* Station classes as drawn (0: unknown class). */
enum { MAP_UNKNOWN = 0, MAP_CENTRAL = 1, MAP_BASE = 2, MAP_BORDER = 3 };

/* Stations: x, y and optional id, name and class per station. */
typedef struct map_stations {
    size_t n;
    double *x, *y;
    char **id;   /* "id" column, else the row number */
    char **name; /* "name" column, else the id */
    int *kind;   /* MAP_*; from a "kind" column or a plan */
} map_stations;

/* Units: the columns of libgrid nearest's UNITS.csv. */
typedef struct map_units {
    size_t n;
    int64_t *id;
    double *x, *y;
    int32_t *status, *kind;
    uint32_t *caps;
    char **station; /* home station value as written ("" for none) */
} map_units;

/* Incidents: id, x, y, optional time (seconds; NaN when absent) and type. */
typedef struct map_incidents {
    size_t n;
    int64_t *id;
    double *x, *y, *time;
    char **type;
} map_incidents;

/* Readers: print "FILE: line N: reason" and return an exit code on failure. */
int read_stations_csv(const char *path, map_stations *s);
int read_units_csv(const char *path, map_units *u);
int read_incidents_csv(const char *path, map_incidents *in);
void map_stations_free(map_stations *s);
void map_units_free(map_units *u);
void map_incidents_free(map_incidents *in);
/* Class of a plan's kind text ("central", "base", "border"), MAP_UNKNOWN otherwise. */
int map_kind_of(const char *s);
/* Name of a unit status / kind / the capability bits, for messages. */
const char *unit_status_name(int32_t s);
const char *unit_kind_name(int32_t k);
/* Capability names of a mask joined with '|' into buf. */
const char *unit_caps_text(uint32_t caps, char *buf, size_t cap);

/* What to draw. Everything but cells is optional (NULL / 0). */
typedef struct map_input {
    const lg_layer *cells;
    const int64_t *zone;           /* zone per cell, LG_NONE: none */
    const lg_layer *jurisdictions; /* station jurisdiction polygons, outlined */
    const map_stations *stations;  /* points with classes */
    const map_units *units;
    const map_incidents *incidents;
    const int32_t *cov_count; /* per cell: facilities within reach (coverage) */
    double cov_radius_m;      /* > 0: reach circles around the stations */
    const char *cov_label;    /* legend text of the reach, e.g. "10-minute drive" */
    const char *title;
    const char *subtitle;
} map_input;

/*
 * Write the SVG (and the HTML page when html_path is not NULL), each under a
 * temporary name renamed into place. ctx: zone adjacency for the colouring. Returns
 * an exit code after printing why on failure; *n_paths (may be NULL) receives the
 * number of cell paths drawn.
 */
int map_write(lg_context *ctx, const map_input *in, const char *svg_path, const char *html_path,
              size_t *n_paths);

int cmd_render(lg_context *ctx, int argc, char **argv);
int cmd_demo(lg_context *ctx, int argc, char **argv);
extern const char usage_render[], usage_demo[];

#endif
