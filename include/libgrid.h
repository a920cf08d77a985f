/*
 * libgrid — spatial core for police dispatch and planning.
 *
 * Conventions (see docs/ARCHITECTURE.md):
 *  - Every fallible call returns an lg_error (LG_OK == 0) and writes results through
 *    trailing out-parameters. Calls that take an lg_context leave a message naming
 *    file, record and reason on it (lg_context_message). Const queries on built
 *    objects never write anywhere but their outputs, so they take no context.
 *  - Arrays are struct-of-arrays in, caller-owned out; LG_NONE (-1) means "none".
 *  - Ownership: objects made by *_new / *_load are freed by the matching *_free;
 *    *_free(NULL) is a no-op. Inputs are copied unless a parameter says "borrowed".
 *  - Threads: an lg_context and an lg_transform are used by one thread at a time.
 *    A built lg_layer and an lg_rtree are safe for any number of concurrent const
 *    queries; mutating an lg_rtree needs exclusive access.
 *  - The library keeps no process-wide mutable state, never aborts, exits or prints.
 */
#ifndef LIBGRID_H
#define LIBGRID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(LG_BUILDING) && defined(__GNUC__)
#define LG_API __attribute__((visibility("default")))
#else
#define LG_API
#endif

#define LG_VERSION_MAJOR 0
#define LG_VERSION_MINOR 1
#define LG_VERSION_PATCH 0

/** "none" for row indices and ids: outside every cell, no match. */
#define LG_NONE ((int64_t)-1)

/* ------------------------------------------------------------------ errors */

/** Error codes. Values are never renumbered; new codes are appended. */
typedef enum lg_error {
    LG_OK = 0,
    LG_ERR_NOMEM = 1,       /**< an allocation failed */
    LG_ERR_ARG = 2,         /**< invalid argument (NULL, NaN, out of range, bad option) */
    LG_ERR_IO = 3,          /**< a file cannot be opened, read or written */
    LG_ERR_FORMAT = 4,      /**< malformed file contents */
    LG_ERR_UNSUPPORTED = 5, /**< well-formed but unsupported (shape type, geometry type) */
    LG_ERR_CRS = 6,         /**< CRS cannot be parsed, or a transform failed */
    LG_ERR_GEOMETRY = 7,    /**< unusable geometry: non-finite, unclosed or short ring */
    LG_ERR_NOT_FOUND = 8,   /**< a named field, id or item does not exist */
    LG_ERR_CAPACITY = 9,    /**< a caller-supplied output is too small */
    LG_ERR_INTERNAL = 10,   /**< failure inside GEOS/PROJ or a libgrid bug */
    LG_ERR_CANCELLED = 11,  /**< stopped by a progress callback */
} lg_error;

/** Static English description of an error code (never NULL). */
LG_API const char *lg_strerror(lg_error err);

/** Library version as "MAJOR.MINOR.PATCH". */
LG_API const char *lg_version(void);

/* ----------------------------------------------------------------- context */

/** Per-instance allocator; all three functions receive udata. */
typedef struct lg_allocator {
    void *(*malloc)(size_t size, void *udata);
    void *(*realloc)(void *ptr, size_t size, void *udata);
    void (*free)(void *ptr, void *udata);
    void *udata;
} lg_allocator;

/** Called with each error message a context records. */
typedef void (*lg_message_fn)(lg_error err, const char *message, void *udata);

/**
 * Progress report for long work: done of total units. Return false to cancel
 * (the call then fails with LG_ERR_CANCELLED).
 */
typedef bool (*lg_progress_fn)(uint64_t done, uint64_t total, void *udata);

/** Opaque context: allocator, last message, GEOS/PROJ handles. One thread at a time. */
typedef struct lg_context lg_context;

/**
 * Create a context.
 * @param alloc allocator to use (copied), or NULL for the C library's.
 * @param out   receives the context; free with lg_context_free.
 */
LG_API lg_error lg_context_new(const lg_allocator *alloc, lg_context **out);
LG_API void lg_context_free(lg_context *ctx);
/** Install a handler called for each error message (NULL removes it). */
LG_API void lg_context_set_message_handler(lg_context *ctx, lg_message_fn fn, void *udata);
/** Install a progress callback for long calls made with this context (NULL removes it). */
LG_API void lg_context_set_progress(lg_context *ctx, lg_progress_fn fn, void *udata);
/** Message of the last failed call made with ctx ("" if none). Borrowed. */
LG_API const char *lg_context_message(const lg_context *ctx);
/** Code of the last failed call made with ctx (LG_OK if none). */
LG_API lg_error lg_context_error(const lg_context *ctx);

/* ------------------------------------------------------------------ R-tree */

/**
 * R-tree of axis-aligned boxes with int64 ids (libgrid's own; see rtree.c).
 * Boxes are double[4] = {minx, miny, maxx, maxy}. Ids need not be unique, but
 * delete/update address an entry by (box, id).
 * Thread-safety: any number of concurrent searches; insert/delete/update/bulk_load
 * need exclusive access.
 */
typedef struct lg_rtree lg_rtree;

/** Search callback: return false to stop the search. */
typedef bool (*lg_rtree_iter)(int64_t id, const double box[4], void *udata);
/** k-nearest filter: return true to accept the item. */
typedef bool (*lg_rtree_filter)(int64_t id, void *udata);
/**
 * Optional exact distance of an item to (x, y). Must be >= the distance from
 * (x, y) to the item's box, which the search uses as a lower bound.
 */
typedef double (*lg_rtree_distance)(int64_t id, double x, double y, void *udata);

/** @param alloc allocator (copied) or NULL. */
LG_API lg_error lg_rtree_new(const lg_allocator *alloc, lg_rtree **out);
LG_API void lg_rtree_free(lg_rtree *tree);
/** Number of entries. */
LG_API size_t lg_rtree_count(const lg_rtree *tree);
/** Bounds of all entries into box; false when empty. */
LG_API bool lg_rtree_bounds(const lg_rtree *tree, double box[4]);
/**
 * Replace the contents with n entries, packed (Hilbert order) for fast search.
 * @param boxes 4*n doubles; @param ids n ids, or NULL for 0..n-1.
 * Fails with LG_ERR_ARG on a NaN or inverted box; the tree is then unchanged.
 */
LG_API lg_error lg_rtree_bulk_load(lg_rtree *tree, const double *boxes, const int64_t *ids,
                                   size_t n);
/** Insert one entry. */
LG_API lg_error lg_rtree_insert(lg_rtree *tree, const double box[4], int64_t id);
/** Delete the entry with this id whose box equals box; LG_ERR_NOT_FOUND if none. */
LG_API lg_error lg_rtree_delete(lg_rtree *tree, const double box[4], int64_t id);
/** Move an entry from old_box to new_box (delete + insert, cheaper in place). */
LG_API lg_error lg_rtree_update(lg_rtree *tree, const double old_box[4], const double new_box[4],
                                int64_t id);
/** Call iter for every entry whose box intersects box (closed boxes). */
LG_API void lg_rtree_search(const lg_rtree *tree, const double box[4], lg_rtree_iter iter,
                            void *udata);
/** Call iter for every entry whose box contains (x, y) (closed boxes). */
LG_API void lg_rtree_search_point(const lg_rtree *tree, double x, double y, lg_rtree_iter iter,
                                  void *udata);

/** Options of lg_rtree_nearest; zero-initialise, then set what you need. */
typedef struct lg_nearest_options {
    size_t k;                   /**< how many (at most); 0 means 1 */
    double max_dist;            /**< only items within this distance; <= 0 or NaN: no limit */
    lg_rtree_filter filter;     /**< NULL: accept all */
    lg_rtree_distance distance; /**< NULL: distance to the box */
    void *udata;                /**< passed to filter and distance */
} lg_nearest_options;

/**
 * Best-first k-nearest search from (x, y). Results are sorted by distance, ties by
 * ascending id. ids and dist (may be NULL) have room for opt->k entries;
 * *n_found receives how many were written.
 */
LG_API lg_error lg_rtree_nearest(const lg_rtree *tree, double x, double y,
                                 const lg_nearest_options *opt, int64_t *ids, double *dist,
                                 size_t *n_found);

/* ------------------------------------------------------------------- layer */

/**
 * A layer of patrol grid cells (Polygon/MultiPolygon with holes) and their
 * attributes, with a locate index. Rows are numbered 0..n-1 in file order.
 * Thread-safety: immutable once built; any number of threads may query it.
 */
typedef struct lg_layer lg_layer;

typedef enum lg_field_type {
    LG_FIELD_INT = 1,  /**< int64 */
    LG_FIELD_REAL = 2, /**< double */
    LG_FIELD_TEXT = 3, /**< UTF-8 string */
} lg_field_type;

enum {
    /** Repair invalid polygons with GEOSMakeValid (each repair is reported). */
    LG_LOAD_REPAIR = 1u << 0,
    /** Skip the GEOS validity check at load (faster; lg_layer_validate later). */
    LG_LOAD_NO_VALIDATE = 1u << 1,
};

/** Options for loading; zero-initialise. */
typedef struct lg_load_options {
    const char *id_field;   /**< attribute holding the cell id (int or text); NULL: row numbers */
    const char *crs;        /**< CRS of the data when the file has none or it is wrong
                                 ("EPSG:4547", WKT, PROJ string); NULL: from the file */
    const char *format;     /**< "shp", "geojson", "wkt"; NULL: from the file extension */
    unsigned flags;         /**< LG_LOAD_* */
    size_t accel_max_bytes; /**< cap on the locate accelerator's memory (0: no cap); a
                                 smaller one is coarser and slower, never less exact */
    double unit_m;          /**< data without a CRS: metres per coordinate unit (1 for
                                 metres, 0.3048 for feet), which makes distances known
                                 (lg_crs_local); 0: unknown units. An error when the data
                                 have a CRS (give crs instead) */
} lg_load_options;

/**
 * Load a layer from a file: ESRI Shapefile (.shp with .shx, .dbf, optional .prj
 * and .cpg), GeoJSON (FeatureCollection, Feature or geometry; CRS EPSG:4326 unless
 * the caller says otherwise), or WKT (one Polygon/MultiPolygon per line).
 * @param opt NULL for defaults.
 */
LG_API lg_error lg_layer_load(lg_context *ctx, const char *path, const lg_load_options *opt,
                              lg_layer **out);
/**
 * Build a layer from n WKB geometries (borrowed), e.g. from GeoPandas. No attributes
 * but row numbers as ids; opt->crs names the CRS.
 */
LG_API lg_error lg_layer_from_wkb(lg_context *ctx, const unsigned char *const *wkb,
                                  const size_t *wkb_len, size_t n, const lg_load_options *opt,
                                  lg_layer **out);
LG_API void lg_layer_free(lg_layer *layer);

/** Number of cells (rows). */
LG_API size_t lg_layer_count(const lg_layer *layer);
/** The layer's CRS as given or read (WKT, "EPSG:n", ...), or NULL if unknown. Borrowed. */
LG_API const char *lg_layer_crs(const lg_layer *layer);
/** Bounds {minx, miny, maxx, maxy} of all cells; false for an empty layer. */
LG_API bool lg_layer_bounds(const lg_layer *layer, double box[4]);
/** Bounds of one cell; false if row is out of range or the cell is empty. */
LG_API bool lg_layer_cell_bounds(const lg_layer *layer, size_t row, double box[4]);
/** Number of rings (shells and holes of all parts) of a cell; 0 if out of range. */
LG_API size_t lg_layer_ring_count(const lg_layer *layer, size_t row);
/**
 * Vertices of a ring of a cell, closed (first == last), as interleaved x, y.
 * Borrowed, valid while the layer lives.
 */
LG_API lg_error lg_layer_ring(const lg_layer *layer, size_t row, size_t ring, const double **xy,
                              size_t *n_vertices);
/** Write a cell as WKB (ISO, little-endian). Call with buf NULL to learn the size. */
LG_API lg_error lg_layer_cell_wkb(const lg_layer *layer, size_t row, unsigned char *buf, size_t cap,
                                  size_t *len);

/**
 * Memory of a layer in bytes (any out-parameter may be NULL): its coordinates, the
 * rest of its geometry and index (offsets, boxes, ids, R-tree estimate), and the
 * locate accelerator.
 */
LG_API void lg_layer_memory(const lg_layer *layer, size_t *coordinates, size_t *overhead,
                            size_t *accelerator);

/* attributes */
LG_API size_t lg_layer_field_count(const lg_layer *layer);
/** Name of a field, or NULL out of range. Borrowed. */
LG_API const char *lg_layer_field_name(const lg_layer *layer, size_t field);
/** Type of a field (0 out of range). */
LG_API lg_field_type lg_layer_field_type(const lg_layer *layer, size_t field);
/** Index of the field called name (exact, then case-insensitive); LG_ERR_NOT_FOUND. */
LG_API lg_error lg_layer_field_index(const lg_layer *layer, const char *name, size_t *field);
/** True if the value is null (or field/row out of range). */
LG_API bool lg_layer_is_null(const lg_layer *layer, size_t field, size_t row);
/** Integer value (INT fields; REAL fields if integral). LG_ERR_ARG on type/range. */
LG_API lg_error lg_layer_get_int(const lg_layer *layer, size_t field, size_t row, int64_t *out);
/** Numeric value of an INT or REAL field. */
LG_API lg_error lg_layer_get_real(const lg_layer *layer, size_t field, size_t row, double *out);
/** Text value of a TEXT field. Borrowed. */
LG_API lg_error lg_layer_get_text(const lg_layer *layer, size_t field, size_t row,
                                  const char **out);

/** Field holding the ids, or LG_NONE when ids are row numbers. */
LG_API int64_t lg_layer_id_field(const lg_layer *layer);
/** Row of the cell with integer id (row number when the layer has no id field), or LG_NONE. */
LG_API int64_t lg_layer_find_id(const lg_layer *layer, int64_t id);
/** Row of the cell with text id, or LG_NONE. */
LG_API int64_t lg_layer_find_id_text(const lg_layer *layer, const char *id);

/* validity */

typedef enum lg_problem_kind {
    LG_PROBLEM_INVALID = 1,      /**< GEOS says invalid (self-intersection, ...) */
    LG_PROBLEM_REPAIRED = 2,     /**< was invalid, repaired with GEOSMakeValid */
    LG_PROBLEM_EMPTY = 3,        /**< no geometry (null shape); the row is kept */
    LG_PROBLEM_DUPLICATE_ID = 4, /**< id value used by an earlier row */
    LG_PROBLEM_NULL_ID = 5,      /**< id field is null */
    LG_PROBLEM_OVERLAP = 6,      /**< overlaps another cell (lg_layer_validate) */
} lg_problem_kind;

/** Number of problems recorded at load (lg_layer_validate also finds overlaps). */
LG_API size_t lg_layer_problem_count(const lg_layer *layer);
/**
 * Problem i: the row, its kind, a place (x, y; NaN if none) and a message (borrowed).
 * Any out-parameter may be NULL.
 */
LG_API lg_error lg_layer_problem(const lg_layer *layer, size_t i, int64_t *row,
                                 lg_problem_kind *kind, double *x, double *y, const char **message);

/* --------------------------------------------------------------- locating */

/**
 * Row of the cell containing (x, y) in the layer's CRS, or LG_NONE.
 * Boundary rule (docs/ARCHITECTURE.md): a point on an edge or vertex shared by
 * several cells belongs to the one containing the points just left of it
 * (x - e, y + e*e for infinitesimal e); a point on the layer's outer boundary belongs
 * to the covering cell of lowest row. Where cells overlap, the lowest row wins.
 * Off boundaries the answer equals GEOS covers. Non-finite input gives LG_NONE.
 */
LG_API int64_t lg_layer_locate(const lg_layer *layer, double x, double y);
/**
 * Batch locate of n points (layer CRS) into out[n]. On layers larger than the
 * caches, the table reads of many points are overlapped by prefetching (same answers
 * as lg_layer_locate, allocates nothing).
 */
LG_API lg_error lg_layer_locate_many(const lg_layer *layer, const double *x, const double *y,
                                     size_t n, int64_t *out);
/**
 * Batch locate split over threads (0: one per online CPU); same answers as
 * lg_layer_locate_many. Small batches run in the calling thread.
 */
LG_API lg_error lg_layer_locate_parallel(const lg_layer *layer, const double *x, const double *y,
                                         size_t n, int64_t *out, unsigned threads);
/**
 * Batch locate of n points given in CRS crs (NULL or equal to the layer's: no
 * transform). "GCJ-02" and "BD-09" are accepted besides anything PROJ knows.
 * Transforms in chunks with proj_trans_generic; points that fail to transform
 * give LG_NONE.
 */
LG_API lg_error lg_layer_locate_crs(lg_context *ctx, const lg_layer *layer, const char *crs,
                                    const double *x, const double *y, size_t n, int64_t *out);

/* -------------------------------------------------------------------- CRS */

/** A coordinate transform between two CRSs. One thread at a time. */
typedef struct lg_transform lg_transform;

/**
 * Create a transform from src to dst. Both accept anything PROJ does (EPSG codes,
 * WKT including ESRI .prj, PROJ strings) plus "GCJ-02" and "BD-09". Axis order is
 * always x = easting/longitude, y = northing/latitude.
 */
LG_API lg_error lg_transform_new(lg_context *ctx, const char *src, const char *dst,
                                 lg_transform **out);
LG_API void lg_transform_free(lg_transform *tr);
/** Transform n points in place. Points that fail become NaN; returns LG_OK unless all fail. */
LG_API lg_error lg_transform_apply(lg_transform *tr, double *x, double *y, size_t n);
/** True when the transform is the identity (same CRS). */
LG_API bool lg_transform_is_identity(const lg_transform *tr);

/**
 * Check that PROJ understands crs; on success *normalized (may be NULL) receives a
 * string owned by ctx valid until the next call on ctx ("EPSG:n" when identified).
 */
LG_API lg_error lg_crs_check(lg_context *ctx, const char *crs, const char **normalized);
/** Write an ESRI-flavoured WKT of crs (for .prj files), snprintf-style. */
LG_API lg_error lg_crs_to_esri_wkt(lg_context *ctx, const char *crs, char *buf, size_t cap,
                                   size_t *len);

/*
 * GCJ-02 (Chinese map apps' obfuscated WGS84) and BD-09 (Baidu). Arrays of
 * longitude/latitude in degrees, converted in place. Outside China the GCJ-02
 * offset is zero, as in the published algorithm. Inverses are iterated to < 0.5 m.
 */
LG_API void lg_wgs84_to_gcj02(double *lon, double *lat, size_t n);
LG_API void lg_gcj02_to_wgs84(double *lon, double *lat, size_t n);
LG_API void lg_gcj02_to_bd09(double *lon, double *lat, size_t n);
LG_API void lg_bd09_to_gcj02(double *lon, double *lat, size_t n);
LG_API void lg_wgs84_to_bd09(double *lon, double *lat, size_t n);
LG_API void lg_bd09_to_wgs84(double *lon, double *lat, size_t n);

/* -------------------------------------------------------------- generator */

/** Options of the synthetic county generator; zero-initialise, then set. */
typedef struct lg_synth_options {
    uint64_t seed;          /**< same seed, same county, on every platform */
    size_t cells;           /**< number of cells, 10..1,000,000 (0: 220) */
    size_t stations;        /**< number of stations (0: about cells / 9, at least 1) */
    double cell_size_m;     /**< mean cell width in metres (0: 1000) */
    size_t edge_vertices;   /**< vertices added along each cell side (0: 16) */
    const char *crs;        /**< CRS label (NULL: "EPSG:4545", CGCS2000 GK CM 108E) */
    size_t accel_max_bytes; /**< cap on the locate accelerator's memory (0: no cap) */
} lg_synth_options;

/**
 * Generate a county: cells that share edges exactly (no gaps, no overlaps) with
 * wiggly surveyed-looking sides, fields "cell_id" (int), "station" (int, station
 * row), "population" (int) and "calls" (int). Deterministic from the seed.
 */
LG_API lg_error lg_synth_county(lg_context *ctx, const lg_synth_options *opt, lg_layer **out);
/**
 * Station points of the county the same options generate: station i lies inside
 * a cell whose "station" field is i. x, y have room for cap points.
 */
LG_API lg_error lg_synth_stations(lg_context *ctx, const lg_synth_options *opt, double *x,
                                  double *y, size_t cap, size_t *n_out);

/* --------------------------------------------------------------------- I/O */

/**
 * Write a layer as an ESRI Shapefile (.shp, .shx, .dbf, .prj), path ending in .shp.
 * Files are written under temporary names and renamed into place.
 */
LG_API lg_error lg_layer_write_shapefile(lg_context *ctx, const lg_layer *layer, const char *path);
/** Write a layer as a GeoJSON FeatureCollection with its attributes. */
LG_API lg_error lg_layer_write_geojson(lg_context *ctx, const lg_layer *layer, const char *path);

#ifdef __cplusplus
}
#endif

/* Modules with headers of their own. */
#include "libgrid/plan.h"
#include "libgrid/zones.h"
#include "libgrid/units.h"
#include "libgrid/coverage.h"
#include "libgrid/snapshot.h"
#include "libgrid/derive.h"
#include "libgrid/validate.h"
#include "libgrid/metric.h"

#endif /* LIBGRID_H */
