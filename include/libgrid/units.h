/* libgrid — Moving units, nearest capable unit dispatch, run cards.
 * Included by libgrid.h; the conventions at the top of libgrid.h apply.
 *
 * Coordinates: the registry works in one projected CRS whose unit is the metre (the
 * CRS of the cell layer, if one is given). Distances are Euclidean metres in that
 * CRS. GPS/BeiDou lon/lat must be transformed first (lg_transform_apply, in batches).
 *
 * Concurrency model (docs/DISPATCH.md): one writer (updates from several threads are
 * serialised by a mutex in the registry), any number of lock-free readers. One copy of
 * the index whose buckets carry versions: the writer marks every bucket a batch touches
 * (odd version), changes them and unmarks them; a query records the version of every
 * bucket it reads and, once it has its answer, checks that none changed, else runs
 * again. So each answer is exact for a state committed while the query ran, and a batch
 * is never seen in part. A move costs two small bucket writes. Views are snapshots
 * (copied under the writer's mutex), for checks and exports.
 */
#ifndef LIBGRID_UNITS_H
#define LIBGRID_UNITS_H

#include "libgrid.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ attributes */

/** Number of unit kinds; kinds are 0..LG_UNIT_KINDS-1 (the first few are named). */
#define LG_UNIT_KINDS 16
enum {
    LG_UNIT_CAR = 0,       /**< patrol car; default speed 11.1 m/s (40 km/h) */
    LG_UNIT_MOTORBIKE = 1, /**< 8.3 m/s (30 km/h; threads traffic, slower top speed) */
    LG_UNIT_FOOT = 2,      /**< foot patrol, 1.4 m/s */
    LG_UNIT_BICYCLE = 3,   /**< 4.2 m/s */
    LG_UNIT_VAN = 4,       /**< 10.0 m/s */
};

/** Statuses are 0..31 so that a filter is a 32-bit mask; the first few are named. */
enum {
    LG_STATUS_AVAILABLE = 0,
    LG_STATUS_EN_ROUTE = 1,
    LG_STATUS_ON_SCENE = 2,
    LG_STATUS_BUSY = 3,
    LG_STATUS_OFF_DUTY = 4,
};

/** Capability bits (32 of them; the caller may define the rest). */
enum {
    LG_CAP_PUBLIC_SECURITY = 1u << 0,
    LG_CAP_TRAFFIC = 1u << 1,
    LG_CAP_MEDICAL = 1u << 2,
    LG_CAP_ARMED = 1u << 3,
};

/** Result flags of lg_units_nearest. */
enum {
    /** The unit's home station differs from the incident's station (LG_NONE counts). */
    LG_UNIT_CROSS_STATION = 1u << 0,
    /** The incident or the unit's position lies in no cell of the layer (another county). */
    LG_UNIT_CROSS_COUNTY = 1u << 1,
};

/* -------------------------------------------------------------- registry */

/**
 * Registry of moving units. Thread-safety: one writer (lg_units_update/_remove,
 * serialised internally) and any number of concurrent readers (lg_units_nearest,
 * views); see the model at the top of this header. Free only when no thread uses it.
 */
typedef struct lg_units lg_units;

/** Options of lg_units_new; zero-initialise, then set what you need. */
typedef struct lg_units_options {
    /** Cell layer (borrowed: must outlive the registry) locating incidents and units
     *  for the station and county flags; NULL: no flags are set. */
    const lg_layer *cells;
    /** Station of each cell row (copied; lg_layer_count(cells) entries, LG_NONE for
     *  none); NULL: every cell's station is LG_NONE. */
    const int64_t *cell_station;
    /** Road-detour factor applied to straight-line distance for ETAs; 0: 1.3. */
    double detour;
    /** Speed of each kind in m/s; entries <= 0 take the defaults above (kinds 5..15:
     *  the car's). */
    double speed_mps[LG_UNIT_KINDS];
    /** Mean number of units per bucket of the grid index; 0: 3 (measured fastest). */
    double bucket_load;
} lg_units_options;

/**
 * Create an empty registry.
 * @param ctx allocator source and error messages (may be NULL: C library allocator).
 * @param opt NULL for defaults.
 */
LG_API lg_error lg_units_new(lg_context *ctx, const lg_units_options *opt, lg_units **out);
/** Free a registry (NULL: no-op). No reader or writer may be using it. */
LG_API void lg_units_free(lg_units *units);

/**
 * A batch of unit updates as struct-of-arrays, n entries each. Only ids is
 * required; a NULL column keeps each unit's current value (a new unit gets the
 * default in brackets).
 */
typedef struct lg_units_batch {
    size_t n;
    const int64_t *ids;     /**< unit ids, >= 0 */
    const double *x, *y;    /**< position in the registry CRS, finite [required for new units] */
    const double *time_s;   /**< time of the fix, any clock the caller likes [NaN] */
    const int32_t *status;  /**< 0..31 [LG_STATUS_AVAILABLE] */
    const uint32_t *caps;   /**< capability bits [0] */
    const int32_t *kind;    /**< 0..LG_UNIT_KINDS-1 [LG_UNIT_CAR] */
    const int64_t *station; /**< home station [LG_NONE] */
} lg_units_batch;

/**
 * Apply a batch in order (a later entry for the same id wins). An unknown id is
 * inserted (a feed introduces new units simply by reporting them) when the batch
 * has positions; without positions it fails with LG_ERR_NOT_FOUND. The whole batch
 * is checked first: on any error (LG_ERR_ARG for a negative id, a NaN or infinite
 * coordinate, a status or kind out of range; LG_ERR_NOT_FOUND; LG_ERR_NOMEM) the
 * registry is unchanged and ctx names the record and the reason. Readers see the
 * batch all at once, never a part of it, from the moment the call returns (queries that
 * meet one of its buckets while it is applied wait for it: about a microsecond for a
 * few units). The writer never waits for readers. Cost: O(batch).
 */
LG_API lg_error lg_units_update(lg_context *ctx, lg_units *units, const lg_units_batch *batch);
/**
 * Kept for compatibility: every batch is visible when lg_units_update returns, so this
 * only frees memory no reader can hold any more. Returns LG_OK.
 */
LG_API lg_error lg_units_flush(lg_context *ctx, lg_units *units);
/**
 * Remove n units; LG_ERR_NOT_FOUND (registry unchanged) if any id is unknown. The
 * removal is visible when the call returns; it counts as one batch.
 */
LG_API lg_error lg_units_remove(lg_context *ctx, lg_units *units, const int64_t *ids, size_t n);
/** Number of units in the committed state. */
LG_API size_t lg_units_count(lg_units *units);

/* ---------------------------------------------------------------- queries */

/** Filter of lg_units_nearest; zero-initialised it accepts every unit. */
typedef struct lg_unit_filter {
    uint32_t status_mask; /**< bit s accepts status s; 0: any status */
    uint32_t kind_mask;   /**< bit k accepts kind k; 0: any kind */
    uint32_t caps_all;    /**< the unit must have every one of these bits */
    uint32_t caps_any;    /**< the unit must have at least one of these bits; 0: no test */
    bool by_station;      /**< only units whose home station is station */
    int64_t station;
    double max_dist_m; /**< only units within this distance; <= 0 or NaN: no limit */
} lg_unit_filter;

/**
 * Outputs of lg_units_nearest, caller-owned: row i (incident i) occupies entries
 * [i*k, i*k+k) sorted by distance, ties by ascending id; rows with fewer matches are
 * padded with LG_NONE, INFINITY, INFINITY and 0. Every pointer but ids may be NULL.
 */
typedef struct lg_unit_results {
    int64_t *ids;    /**< n*k unit ids */
    double *dist_m;  /**< n*k straight-line distances */
    double *eta_s;   /**< n*k ETAs: dist_m * detour / speed of the unit's kind */
    uint32_t *flags; /**< n*k LG_UNIT_CROSS_* bits */
    size_t *count;   /**< n: matches found per incident */
} lg_unit_results;

/**
 * The k nearest units matching filter f (NULL: all) for each of n incidents
 * (x[i], y[i]). Lock-free; each row is exact for a state committed while the call ran
 * (rows of one call may see different states: use a view for one state across rows).
 * LG_ERR_ARG for k == 0 or NULL arrays; LG_ERR_NOMEM if scratch for a very large k or
 * a very long search could not be allocated; a non-finite incident gets an empty row.
 */
LG_API lg_error lg_units_nearest(lg_units *units, const double *x, const double *y, size_t n,
                                 size_t k, const lg_unit_filter *f, const lg_unit_results *out);

/**
 * An immutable snapshot of the registry: its units copied under the writer's mutex
 * (O(units), the writer waits for the copy) and indexed privately. Holding it costs
 * memory only; updates go on. Views are plain values; a thread may hold several. For
 * checks and exports: dispatch queries use lg_units_nearest.
 */
typedef struct lg_units_view {
    const struct lg_units_state *state; /**< opaque */
    lg_units *owner;
    unsigned slot; /**< opaque */
} lg_units_view;

/** Take a snapshot. Waits for a batch being applied. Out of memory: the view is empty
 *  (count 0; lg_units_view_nearest fails with LG_ERR_NOMEM). */
LG_API void lg_units_view_acquire(lg_units *units, lg_units_view *view);
/** Free the snapshot. */
LG_API void lg_units_view_release(lg_units_view *view);
/** lg_units_nearest on the snapshot. */
LG_API lg_error lg_units_view_nearest(const lg_units_view *view, const double *x, const double *y,
                                      size_t n, size_t k, const lg_unit_filter *f,
                                      const lg_unit_results *out);
/** Number of units in the view. */
LG_API size_t lg_units_view_count(const lg_units_view *view);
/** Number of batches applied before this state (each update or remove call counts one). */
LG_API uint64_t lg_units_view_version(const lg_units_view *view);
/**
 * Copy units [first, first+n) of the view (in the view's internal order) into the
 * given arrays, any of which may be NULL. LG_ERR_ARG if the range is out of bounds.
 */
LG_API lg_error lg_units_view_get(const lg_units_view *view, size_t first, size_t n, int64_t *ids,
                                  double *x, double *y, double *time_s, int32_t *status,
                                  uint32_t *caps, int32_t *kind, int64_t *station);
/** Index (for lg_units_view_get) of the unit with this id in the view, or LG_NONE. */
LG_API int64_t lg_units_view_find(const lg_units_view *view, int64_t id);

/** Station of the cell containing (x, y) per the registry's options, or LG_NONE. */
LG_API int64_t lg_units_station_at(const lg_units *units, double x, double y);
/** ETA in seconds of a unit of this kind over dist_m straight-line metres. */
LG_API double lg_units_eta_s(const lg_units *units, int32_t kind, double dist_m);

/* -------------------------------------------------------------- run cards */

/**
 * Run cards: for every cell, the stations ordered by estimated response time from
 * the station point to the cell's demand point (the area centroid of its rings;
 * holes subtract), the first k kept. Immutable once built: any number of threads may
 * query it. When stations change, build a new one and swap the pointer (cost: one
 * centroid per cell plus one k-nearest search per cell over an R-tree of the
 * stations, O(cells * (log stations + k)); 10,000 cells take a few milliseconds).
 */
typedef struct lg_runcard lg_runcard;

/** Options of lg_runcard_build; zero-initialise. */
typedef struct lg_runcard_options {
    size_t k;         /**< stations kept per cell; 0: 3 */
    double speed_mps; /**< responding speed; 0: 11.1 (car) */
    double detour;    /**< road-detour factor; 0: 1.3 */
} lg_runcard_options;

/**
 * Build the run cards of a layer (borrowed: must outlive the cards) for n stations at
 * (sx, sy) in the layer's CRS with ids station_ids (NULL: 0..n-1). Ties in ETA go to
 * the smaller station id. LG_ERR_ARG for a non-finite station point.
 */
LG_API lg_error lg_runcard_build(lg_context *ctx, const lg_layer *cells, const double *sx,
                                 const double *sy, const int64_t *station_ids, size_t n,
                                 const lg_runcard_options *opt, lg_runcard **out);
LG_API void lg_runcard_free(lg_runcard *rc);
/** Stations kept per cell (min of k and the number of stations). */
LG_API size_t lg_runcard_k(const lg_runcard *rc);
/** Demand point of a cell (NaN for an empty cell); LG_ERR_ARG out of range. */
LG_API lg_error lg_runcard_demand_point(const lg_runcard *rc, size_t row, double *x, double *y);
/**
 * Run card of a cell: up to lg_runcard_k stations (room for that many in stations
 * and eta_s, which may be NULL), first responder first; *n gets how many.
 */
LG_API lg_error lg_runcard_cell(const lg_runcard *rc, size_t row, int64_t *stations, double *eta_s,
                                size_t *n);
/** Run card of the cell containing (x, y); *row (may be NULL) gets it or LG_NONE (then *n = 0). */
LG_API lg_error lg_runcard_at(const lg_runcard *rc, double x, double y, int64_t *stations,
                              double *eta_s, size_t *n, int64_t *row);

#ifdef __cplusplus
}
#endif
#endif /* LIBGRID_UNITS_H */
