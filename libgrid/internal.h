/* Internal declarations shared by the library's modules. Not installed. */
#ifndef LG_INTERNAL_H
#define LG_INTERNAL_H

#include "libgrid.h"

#include <pthread.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <geos_c.h>
#include <proj.h>

#if defined(__GNUC__)
#define LG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LG_PRINTF(a, b)
#endif

/* ---------------------------------------------------------------- memory */

extern const lg_allocator lg__default_allocator;

static inline void *lg__malloc(const lg_allocator *a, size_t n)
{
    return a->malloc(n ? n : 1, a->udata);
}
static inline void *lg__realloc(const lg_allocator *a, void *p, size_t n)
{
    return a->realloc(p, n ? n : 1, a->udata);
}
static inline void lg__free(const lg_allocator *a, void *p)
{
    if (p)
        a->free(p, a->udata);
}
/* calloc-like with overflow check; NULL on overflow or failure. */
void *lg__calloc(const lg_allocator *a, size_t count, size_t size);
/* Hint that [p, p + bytes) is a large random-access table (transparent huge pages). */
void lg__advise_huge(void *p, size_t bytes);
/* Grow *p (element size sz) so that it holds at least need elements; doubles capacity. */
lg_error lg__grow(const lg_allocator *a, void **p, size_t *cap, size_t need, size_t sz);
char *lg__strdup(const lg_allocator *a, const char *s);

/* --------------------------------------------------------------- context */

struct lg_context {
    lg_allocator alloc;
    lg_error err;
    char msg[1024];
    lg_message_fn msg_fn;
    void *msg_udata;
    lg_progress_fn progress;
    void *progress_udata;
    GEOSContextHandle_t geos; /* created on first use */
    char geos_msg[512];       /* last GEOS error/notice text */
    PJ_CONTEXT *proj;         /* created on first use */
    char *scratch;            /* string returned by lg_crs_check */
    /* recently used transforms: building one costs PROJ tens of milliseconds */
    struct {
        char *src, *dst;
        lg_transform *tr;
    } tcache[4];
    unsigned tcache_next;
};

/* Record an error on ctx (ctx may be NULL) and return err. */
lg_error lg__fail(lg_context *ctx, lg_error err, const char *fmt, ...) LG_PRINTF(3, 4);
lg_error lg__vfail(lg_context *ctx, lg_error err, const char *fmt, va_list ap);
/* Clear the last error (called at the start of public calls that take ctx). */
void lg__clear(lg_context *ctx);
/* GEOS / PROJ handles of ctx, created on first use; NULL on failure (message set). */
GEOSContextHandle_t lg__geos(lg_context *ctx);
PJ_CONTEXT *lg__proj(lg_context *ctx);
/* Report progress; false means cancelled (error already recorded). */
bool lg__progress(lg_context *ctx, uint64_t done, uint64_t total);

/* ----------------------------------------------------------------- layer */

typedef struct lg_accel lg_accel;

#define LG__PIX_BOUNDARY 0x80000000u
#define LG__PIX_DEFER 0xFFFFFFFFu /* too many overlapping cells: use the exact path */
#define LG__GRP_OWNS 0x80000000u

/*
 * A boundary pixel: its groups [g0, g1), its position (i, j), the rows of its first
 * LG__BP_ROWS groups and an 8 x 8 table of sub-pixels (4 bits each, row-major from
 * the pixel's lower-left corner, 16 per word): a group index relative to g0 (below
 * LG__SUB_MAX_GROUPS) when no edge comes near the sub-pixel and that group's cell owns
 * it, LG__SUB_NONE when no edge comes near and no cell owns it, LG__SUB_EDGES when
 * edges must be tested. 64 bytes, one cache line: queries in boundary pixels need
 * nothing else but the edges they test.
 */
#define LG__SUB 8 /* sub-pixels per pixel side */
#define LG__BP_ROWS 5u
typedef struct lg_accel_bp {
    uint32_t g0, g1;
    uint16_t i, j;             /* the pixel: its centre is where the edge tests start */
    uint32_t row[LG__BP_ROWS]; /* rows of groups g0.. (no flag); unused slots 0 */
    uint64_t sub[LG__SUB * LG__SUB / 16];
} lg_accel_bp;

#define LG__SUB_EDGES 14u
#define LG__SUB_NONE 15u
#define LG__SUB_MAX_GROUPS 14u
#define LG__SUB_ALL_EDGES 0xEEEEEEEEEEEEEEEEull

/* A cell's edges in a boundary pixel: edges [k0, next group's k0). */
typedef struct lg_accel_grp {
    uint32_t row; /* cell row; LG__GRP_OWNS set when the cell owns the pixel centre */
    uint32_t k0;
} lg_accel_grp;

/* The raster accelerator (accel.c). Shared with snapshot.c, which saves and maps it. */
struct lg_accel {
    double x0, y0, x1, y1; /* layer bounds */
    double sx, sy;         /* pixels per unit */
    double pw, ph;         /* pixel size */
    double margin;
    uint32_t nx, ny;
    uint32_t *pix; /* 0 outside; row + 1 inside; PIX_BOUNDARY | boundary pixel index */
    uint32_t nbp;
    lg_accel_bp *bp; /* per boundary pixel: its groups and sub-pixels; 64-byte aligned */
    void *bp_mem;    /* the heap block bp lies in (NULL when mapped) */
    uint32_t ngrp;
    lg_accel_grp *grp; /* ngrp + 1 (a sentinel holds the end of the last edge range) */
    uint32_t *edges;   /* vertex index v: the edge from v to v + 1 */
    uint32_t nedges;
    bool mapped; /* arrays point into a snapshot mapping */
    size_t bytes;
};

typedef struct lg_column {
    char *name;
    lg_field_type type;
    int64_t *i;    /* LG_FIELD_INT */
    double *r;     /* LG_FIELD_REAL */
    uint64_t *off; /* LG_FIELD_TEXT: start of row's string in pool (NUL-terminated) */
    char *pool;
    size_t pool_len, pool_cap;
    uint8_t *null; /* 1 byte per row: 1 = null */
} lg_column;

typedef struct lg_problem_rec {
    int64_t row;
    lg_problem_kind kind;
    double x, y;
    char *msg;
} lg_problem_rec;

/* Sorted id lookup entry: key is the int id or a hash of the text id. */
typedef struct lg_id_entry {
    int64_t key;
    int64_t row;
} lg_id_entry;

/*
 * Geometry is flat: all vertices of all rings in one interleaved xy array; ring r
 * holds vertices [ring_off[r], ring_off[r+1]) and is closed (first == last);
 * cell c holds rings [cell_ring[c], cell_ring[c+1]). ring_hole[r] is 1 for a hole,
 * which follows the shell it belongs to. An empty cell has no rings.
 */
struct lg_layer {
    lg_allocator alloc;
    size_t ncells;
    double *xy;
    uint32_t nverts;
    uint32_t *ring_off;
    uint8_t *ring_hole;
    uint32_t nrings;
    uint32_t *cell_ring;
    double *cell_box; /* 4 per cell; NaN for empty cells */
    double bounds[4];
    bool has_bounds;

    lg_column *cols;
    size_t ncols;
    int64_t id_field; /* LG_NONE: ids are row numbers */
    lg_id_entry *ids; /* sorted by key, then row; NULL when id_field is LG_NONE */
    size_t nids;

    char *crs; /* NULL if unknown */

    lg_problem_rec *problems;
    size_t nproblems;

    /* cell boxes, id = row; built at load, or on first use for a mapped snapshot */
    lg_rtree *_Atomic rtree;
    pthread_mutex_t rtree_mu;
    void *map_base; /* snapshot mapping the arrays point into (NULL: heap arrays) */
    size_t map_len;
    bool map_heap;   /* the "mapping" is a heap copy (snapshot read from memory) */
    lg_accel *accel; /* raster accelerator for locate; NULL: R-tree path only */

    /* the metric frame (metric.c), computed on first need under rtree_mu */
    struct lg__metric *_Atomic metric;
    /* a metric twin (metric.c) borrows its rings, attributes, ids and problems from
     * twin_of and owns only xy, boxes, R-tree, accelerator and metric; NULL otherwise */
    const lg_layer *twin_of;
};

/*
 * Layer builder, used by every loader and the generator. Rows are added in order;
 * attribute values default to null. Errors name the source and the current record.
 */
typedef struct lg_builder lg_builder;

/* source: file name used in messages (copied; may be NULL). flags: LG_LOAD_*. */
lg_error lgb_new(lg_context *ctx, const char *source, unsigned flags, lg_builder **out);
void lgb_free(lg_builder *b);
/* Reserve room for about ncells cells and nverts vertices (optional). */
lg_error lgb_reserve(lg_builder *b, size_t ncells, size_t nverts);
lg_error lgb_add_field(lg_builder *b, const char *name, lg_field_type type, size_t *index);
/* Start row number lgb_row(b). */
lg_error lgb_begin_cell(lg_builder *b);
size_t lgb_row(const lg_builder *b);
/* Append a closed ring (xy interleaved, n vertices, first == last, n >= 4, finite). */
lg_error lgb_add_ring(lg_builder *b, const double *xy, size_t n, bool hole);
/* Append all polygons of a GEOS Polygon/MultiPolygon (or collection of them). */
lg_error lgb_add_geos(lg_builder *b, GEOSContextHandle_t h, const GEOSGeometry *g);
lg_error lgb_set_int(lg_builder *b, size_t field, int64_t v);
lg_error lgb_set_real(lg_builder *b, size_t field, double v);
lg_error lgb_set_text(lg_builder *b, size_t field, const char *s, size_t len);
/* Finish the row: validate (and repair) with GEOS unless LG_LOAD_NO_VALIDATE. */
lg_error lgb_end_cell(lg_builder *b);
/* Record a problem for a row (message printf-style). */
lg_error lgb_problem(lg_builder *b, int64_t row, lg_problem_kind kind, double x, double y,
                     const char *fmt, ...) LG_PRINTF(6, 7);
/* Fail with "source: record N: reason". */
lg_error lgb_fail(lg_builder *b, lg_error err, const char *fmt, ...) LG_PRINTF(3, 4);
/*
 * Build the layer: boxes, R-tree, id index (id_field may be NULL), CRS (may be
 * NULL; checked with PROJ). The builder is consumed even on failure.
 */
lg_error lgb_finish(lg_builder *b, const char *crs, const char *id_field, lg_layer **out);
lg_context *lgb_context(lg_builder *b);

/* Give a loaded layer without CRS the local CRS of opt->unit_m (frees *l on failure). */
lg_error lg__apply_unit(lg_context *ctx, const char *source, const lg_load_options *opt,
                        lg_layer **l);
/* Boxes, bounds, R-tree and accelerator of a layer whose geometry is in place. */
lg_error lg__layer_index(lg_context *ctx, lg_layer *l, const char *source);
/* Copy the value of field f of src at row into builder field bf (nulls stay null). */
lg_error lg__copy_value(lg_builder *b, const lg_layer *src, size_t f, size_t bf, size_t row);

/* Rebuild the accelerator under max_bytes when it is larger (0: leave it). */
lg_error lg__layer_limit_accel(lg_context *ctx, lg_layer *layer, size_t max_bytes);
/* Pixels per cell of the locate accelerator by default. */
#define LG__ACCEL_PPC 16.0

/* Area centroid, area and perimeter (perim may be NULL) of a cell; NaN if empty. */
void lg__cell_geom(const lg_layer *layer, size_t row, double *cx, double *cy, double *area,
                   double *perim);

/* A cell as a GEOS geometry (Polygon or MultiPolygon; empty polygon if no rings). */
GEOSGeometry *lg__cell_to_geos(GEOSContextHandle_t h, const lg_layer *layer, size_t row);

/* ---------------------------------------------------------------- polygon */

/*
 * Exact point-in-cell test under the boundary rule: 1 if the cell owns (x, y) by
 * the half-open rule (the point x - e, y + e*e is inside), 0 otherwise. *on_boundary
 * (may be NULL) is set when (x, y) lies exactly on one of the cell's edges.
 */
int lg__cell_owns(const lg_layer *layer, size_t row, double x, double y, bool *on_boundary);
/* Exact orientation by expansion arithmetic (the slow path of lg__orient). */
int lg__orient_exact(double ax, double ay, double bx, double by, double cx, double cy);

/*
 * Exact orientation of c relative to a->b: >0 left, <0 right, 0 collinear. A
 * floating-point filter (Shewchuk's ccwerrboundA) decides almost every call inline;
 * the rest goes to lg__orient_exact.
 */
static inline int lg__orient(double ax, double ay, double bx, double by, double cx, double cy)
{
    double detleft = (bx - ax) * (cy - ay);
    double detright = (by - ay) * (cx - ax);
    double det = detleft - detright;
    const double errbound = 3.3306690738754716e-16; /* (3 + 16 eps) eps, eps = 2^-53 */
    double sum = (detleft < 0 ? -detleft : detleft) + (detright < 0 ? -detright : detright);
    double bound = errbound * sum;
    if (det > bound)
        return 1;
    if (-det > bound)
        return -1;
    return lg__orient_exact(ax, ay, bx, by, cx, cy);
}

/* The layer's R-tree, built on first use when missing (thread-safe); NULL on OOM. */
const lg_rtree *lg__layer_rtree(const lg_layer *layer);
/* Locate through the R-tree and the exact test only (the definition). */
int64_t lg__locate_exact(const lg_layer *layer, double x, double y);

/* ------------------------------------------------------------- accelerator */

/*
 * Build the raster accelerator of a layer whose boxes and R-tree are ready:
 * about pixels_per_cell pixels per cell, at most max_bytes for the pixel table
 * (0: no cap). *out is NULL for an empty layer.
 */
lg_error lg__accel_build(const lg_layer *layer, double pixels_per_cell, size_t max_bytes,
                         lg_accel **out);
/*
 * The same with the threads (0: one per core on large layers) and the tile side in
 * pixels (0: the default) chosen, for tests and benchmarks. The tables depend on the
 * tile side, not on the threads.
 */
lg_error lg__accel_build_ex(const lg_layer *layer, double pixels_per_cell, size_t max_bytes,
                            int threads, uint32_t tile_px, lg_accel **out);
/* lg__accel_locate's answer for a pixel it leaves to the exact path. */
#define LG__ACCEL_DEFER ((int64_t)-2)
int64_t lg__accel_locate(const lg_layer *layer, const lg_accel *a, double x, double y);
/*
 * The pixel of (x, y) (index into pix) and the point's position inside it (0..1 on
 * each axis, for the sub-pixel); false outside the bounds or not finite.
 */
static inline bool lg__accel_pixel(const lg_accel *a, double x, double y, size_t *p, double *ux,
                                   double *uy)
{
    if (!(x >= a->x0 && x <= a->x1 && y >= a->y0 && y <= a->y1))
        return false;
    double fx = (x - a->x0) * a->sx, fy = (y - a->y0) * a->sy;
    uint32_t i = fx >= (double)a->nx ? a->nx - 1 : (uint32_t)fx;
    uint32_t j = fy >= (double)a->ny ? a->ny - 1 : (uint32_t)fy;
    *p = (size_t)j * a->nx + i;
    *ux = fx - (double)i;
    *uy = fy - (double)j;
    return true;
}
/*
 * The answer for a point in pixel value pix from the tables alone, or
 * LG__ACCEL_EDGES when it needs the edge tests of boundary pixel *b
 * (lg__accel_edges), or LG__ACCEL_DEFER.
 */
#define LG__ACCEL_EDGES ((int64_t)-3)
int64_t lg__accel_quick(const lg_layer *layer, const lg_accel *a, uint32_t pix, double ux,
                        double uy, uint32_t *b);
int64_t lg__accel_edges(const lg_layer *layer, const lg_accel *a, uint32_t b, double x, double y);
/* The answer for a point in pixel value pix (lg__accel_pixel gave ux, uy). */
int64_t lg__accel_resolve(const lg_layer *layer, const lg_accel *a, uint32_t pix, double x,
                          double y, double ux, double uy);
size_t lg__accel_bytes(const lg_accel *a);
void lg__accel_set_bytes(lg_accel *a);
void lg__accel_free(const lg_allocator *alloc, lg_accel *a);

/* -------------------------------------------------------------------- CRS */

/*
 * A transform from src to dst owned by ctx's cache (borrowed: valid until ctx is
 * freed or four other pairs are used).
 */
lg_error lg__transform_cached(lg_context *ctx, const char *src, const char *dst,
                              lg_transform **out);
/*
 * Parse crs with PROJ in pc and check that it is a CRS (the one parser every module
 * uses, so each accepts the same spellings). NULL on failure, the reason on ctx.
 * Pseudo-CRSs (GCJ-02, BD-09) are not PROJ's: callers test them first.
 */
PJ *lg__crs_parse(lg_context *ctx, PJ_CONTEXT *pc, const char *crs);
/* True if the two CRS strings denote the same CRS (string equality or PROJ). */
bool lg__crs_same(lg_context *ctx, const char *a, const char *b);

/* ------------------------------------------------------------------ metric */

/*
 * The metric frame of a layer (metric.c; public view: lg_metric_info). Frame
 * coordinates times scale are metres: the layer's own coordinates (scale = its unit)
 * or those of a local transverse Mercator (frame_crs, scale 1).
 */
typedef struct lg__metric {
    lg_units_kind kind;
    double unit_m; /* metres per layer unit; NaN for geographic and unknown */
    char unit_name[64];
    bool local;        /* frame_crs is a local projection, not the layer's CRS */
    char *layer_crs;   /* the layer's CRS (NULL: none) */
    char *frame_crs;   /* CRS of the frame coordinates (the layer's unless local) */
    double scale;      /* frame coordinates * scale = metres */
    double kmin, kmax; /* range of the frame's scale over the layer's extent */
    double scale_error;
    double ell_a, ell_f; /* ellipsoid (NaN without one) */
    double box_deg[4];   /* geographic bounds of the layer (NaN without ellipsoid) */
    bool usable;
    char reason[400];
    lg_layer *_Atomic twin; /* the layer in frame metres, built on first need */
} lg__metric;

/* The layer's frame, computed on first need (ctx may be NULL: a private context). */
lg_error lg__metric_get(lg_context *ctx, const lg_layer *l, const lg__metric **out);
/* The frame, or LG_ERR_CRS naming what (the caller) when metric calls cannot use it. */
lg_error lg__metric_require(lg_context *ctx, const lg_layer *l, const char *what,
                            const lg__metric **out);
/*
 * The layer with coordinates in frame metres (the layer itself when they already are),
 * same rows, attributes and ids; valid while l lives. m (may be NULL) gets the frame.
 * LG_ERR_CRS as lg__metric_require.
 */
lg_error lg__metric_layer(lg_context *ctx, const lg_layer *l, const char *what,
                          const lg_layer **out, const lg__metric **m);
/*
 * Another layer (in any CRS PROJ can take to the frame) in frame m: *use is other itself
 * when it already is in the frame's metres, else a twin the caller frees (*owned).
 */
lg_error lg__metric_other(lg_context *ctx, const lg__metric *m, const lg_layer *other,
                          const char *what, const lg_layer **use, lg_layer **owned);
/* n points in the frame layer's CRS to frame metres (ox may be x). NaN stays NaN. */
lg_error lg__metric_fwd(lg_context *ctx, const lg__metric *m, const double *x, const double *y,
                        size_t n, double *ox, double *oy);
/* n points in CRS crs (NULL: the layer's) to frame metres. */
lg_error lg__metric_fwd_from(lg_context *ctx, const lg__metric *m, const char *crs, const double *x,
                             const double *y, size_t n, double *ox, double *oy);
/* Back from frame metres to the layer's CRS. */
lg_error lg__metric_inv(lg_context *ctx, const lg__metric *m, const double *x, const double *y,
                        size_t n, double *ox, double *oy);
/* A layer built in frame metres (e.g. uncovered area) back in the frame layer's CRS. */
lg_error lg__metric_layer_inv(lg_context *ctx, const lg__metric *m, lg_layer *l);
void lg__metric_free(const lg_allocator *a, lg__metric *m);
/* What a CRS's coordinates are (no extent: no frame); NaN where not applicable. */
lg_error lg__crs_units(lg_context *ctx, const char *crs, lg_units_kind *kind, double *unit_m,
                       double *ell_a, double *ell_f);

/* ------------------------------------------------ coverage and siting (reach.c) */

static inline double lg__dist2d(double ax, double ay, double bx, double by)
{
    double dx = ax - bx, dy = ay - by;
    return sqrt(dx * dx + dy * dy);
}
struct lg_coverage_threshold;
void lg__speed_detour(const struct lg_coverage_threshold *t, double *speed, double *detour);
/* The radius in metres of a threshold (NULL: 0); LG_ERR_ARG naming fn. */
lg_error lg__reach_radius(lg_context *ctx, const char *fn, const struct lg_coverage_threshold *t,
                          double *r);
lg_error lg__check_points(lg_context *ctx, const char *fn, const char *what, const double *x,
                          const double *y, size_t n);
lg_error lg__check_weights(lg_context *ctx, const char *fn, const double *w, size_t n);
lg_error lg__check_groups(lg_context *ctx, const char *fn, const int64_t *g, size_t n, size_t ng);
/* An R-tree over points: ids[k] (NULL: k) for k < n, at x[id], y[id]. */
lg_error lg__point_tree_ids(lg_context *ctx, const char *fn, const double *x, const double *y,
                            const int64_t *ids, size_t n, lg_rtree **out);
lg_error lg__point_tree(lg_context *ctx, const char *fn, const double *x, const double *y, size_t n,
                        lg_rtree **out);
/* lg_rtree_search callback counting facilities within r of (px, py). */
typedef struct lg__count_ctx {
    const double *fx, *fy;
    double px, py, r;
    int32_t count;
    int64_t best;
    double bestd;
} lg__count_ctx;
bool lg__count_iter(int64_t id, const double box[4], void *udata);
int lg__cmp_i64(const void *pa, const void *pb);
/* Area centroids and areas of all cells (any output may be NULL). */
void lg__cells_geom(const lg_layer *l, double *px, double *py, double *area);
lg_error lg__demand_points(lg_context *ctx, const char *fn, const lg_layer *l, const lg__metric *m,
                           const double *ux, const double *uy, double **x, double **y,
                           double **area);
/*
 * Points (in the CRS of frame m's layer) in frame metres: *ox, *oy are x, y themselves
 * when the frame is the layer's metres, else arrays in *own (free with lg__free).
 */
lg_error lg__metric_points(lg_context *ctx, const lg__metric *m, const double *x, const double *y,
                           size_t n, const double **ox, const double **oy, double **own);

/* ----------------------------------------------------------------- loaders */

lg_error lg__load_shp(lg_context *ctx, const char *path, const lg_load_options *opt,
                      lg_layer **out);
lg_error lg__load_geojson(lg_context *ctx, const char *path, const lg_load_options *opt,
                          lg_layer **out);
lg_error lg__load_wkt(lg_context *ctx, const char *path, const lg_load_options *opt,
                      lg_layer **out);

/* Write to path via a temporary file renamed into place. */
typedef lg_error (*lg_write_fn)(lg_context *ctx, const char *tmp_path, void *udata);
lg_error lg__write_atomic(lg_context *ctx, const char *path, lg_write_fn fn, void *udata);

#endif /* LG_INTERNAL_H */
