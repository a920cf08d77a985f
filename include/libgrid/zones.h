/* libgrid — Service-station zones: contiguous zones of min..max cells, sites, validation.
 * Included by libgrid.h; the conventions at the top of libgrid.h apply.
 * The algorithm is described in docs/ZONES.md. */
#ifndef LIBGRID_ZONES_H
#define LIBGRID_ZONES_H

#include "libgrid.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Note: lg_graph is declared in libgrid/plan.h (included by libgrid.h before this). */

/**
 * Demand points of the cells of a layer: the area-weighted centroid of all rings in
 * the layer's coordinates (shells count positive, holes negative, whatever their
 * orientation), and the area in m^2 through the layer's metric frame (libgrid/metric.h):
 * the CRS unit squared for a projected or local CRS, geodesic on the ellipsoid for
 * lon/lat (PROJ's geod_polygonarea), NaN when the units are unknown (no CRS). x, y,
 * area have room for lg_layer_count(layer) values; any may be NULL. Empty cells give
 * NaN.
 */
LG_API lg_error lg_layer_centroids(const lg_layer *layer, double *x, double *y, double *area);

/** Options of lg_zones_plan and lg_zones_validate; zero-initialise, then set. */
typedef struct lg_zone_options {
    size_t min_cells;     /**< smallest zone (0: 6) */
    size_t max_cells;     /**< largest zone (0: 8); must be >= min_cells */
    uint64_t seed;        /**< same seed, same plan */
    const double *weight; /**< workload per cell, finite and >= 0 (borrowed); NULL: 1 each */
    const double *x, *y;  /**< demand point per cell (borrowed); NULL: centroids of layer */
    const int64_t *group; /**< group per cell, e.g. the station row (borrowed): a zone stays
                               inside one group; cells of group LG_NONE form a group of
                               their own. NULL: no constraint */
    const double *site_x; /**< candidate service-station points (borrowed), n_sites of them; */
    const double *site_y; /**< NULL: each zone's site is its 1-median cell */
    size_t n_sites;
    double balance;      /**< weight of workload balance against compactness in the
                              improvement objective (0: 1.0; < 0: balance ignored) */
    unsigned max_passes; /**< improvement passes (0: 30) */
} lg_zone_options;

/** Kinds of problems a zone plan can have. Values are never renumbered. */
typedef enum lg_zone_problem_kind {
    LG_ZONE_PROBLEM_ISLAND = 1,         /**< connected cells (per group) fewer than min_cells */
    LG_ZONE_PROBLEM_COMPONENT_SIZE = 2, /**< connected cells whose count is in no k*min..k*max */
    LG_ZONE_PROBLEM_UNPLACED = 3,       /**< cells the planner could not put in a valid zone */
    LG_ZONE_PROBLEM_UNASSIGNED = 4,     /**< cells with zone LG_NONE */
    LG_ZONE_PROBLEM_BAD_ID = 5,         /**< zone id < -1 or >= the number of cells */
    LG_ZONE_PROBLEM_EMPTY = 6,          /**< zone id below the largest in use with no cells */
    LG_ZONE_PROBLEM_DISCONNECTED = 7,   /**< zone in pieces; cells = those off its largest piece */
    LG_ZONE_PROBLEM_TOO_SMALL = 8,      /**< zone with fewer than min_cells cells */
    LG_ZONE_PROBLEM_TOO_LARGE = 9,      /**< zone with more than max_cells cells */
    LG_ZONE_PROBLEM_CROSSES_GROUP = 10, /**< zone spanning groups; cells = those off its
                                             main group (most cells, then lowest value) */
    LG_ZONE_PROBLEM_NO_SITE = 11,       /**< more zones than candidate sites: this zone got
                                             none (its 1-median cell stands in); a warning,
                                             feasibility is unaffected */
} lg_zone_problem_kind;

/**
 * A zone plan: zone per cell, a site per zone, feasibility, problems and quality.
 * Immutable; safe to share between threads. Free with lg_zone_plan_free.
 */
typedef struct lg_zone_plan lg_zone_plan;

/**
 * Partition the cells (nodes of g) into contiguous zones of min_cells..max_cells
 * cells, compact and balanced in workload, each inside one group. When no such
 * partition exists, or the heuristic finds none, *out is the best partial plan
 * (valid zones kept, other cells LG_NONE), lg_zone_plan_feasible() is false and
 * the problems name the cells responsible. Deterministic for a seed.
 * @param g     cell adjacency (e.g. lg_layer_adjacency); borrowed
 * @param layer the cells (for centroids, areas, locating candidate sites); may be
 *              NULL when opt->x and opt->y are given; must have g's node count
 * @param opt   NULL for defaults
 */
LG_API lg_error lg_zones_plan(lg_context *ctx, const lg_graph *g, const lg_layer *layer,
                              const lg_zone_options *opt, lg_zone_plan **out);
/**
 * Check any plan: zone[i] is the zone of cell i (LG_NONE: unassigned), n the node
 * count of g. Every violation is reported (contiguity, size bounds, unassigned
 * cells, bad or empty ids, zones crossing groups when opt->group is given); sites
 * and quality are computed as for a planned zone. feasible means no problems.
 */
LG_API lg_error lg_zones_validate(lg_context *ctx, const lg_graph *g, const lg_layer *layer,
                                  const int64_t *zone, size_t n, const lg_zone_options *opt,
                                  lg_zone_plan **out);
LG_API void lg_zone_plan_free(lg_zone_plan *plan);

/** Number of cells. */
LG_API size_t lg_zone_plan_cell_count(const lg_zone_plan *plan);
/** Number of zones (ids 0..count-1). */
LG_API size_t lg_zone_plan_zone_count(const lg_zone_plan *plan);
/** Zone of each cell, LG_NONE when unassigned. Borrowed, cell_count values. */
LG_API const int64_t *lg_zone_plan_zones(const lg_zone_plan *plan);
/** True when every cell is in a valid zone (no problems but NO_SITE warnings). */
LG_API bool lg_zone_plan_feasible(const lg_zone_plan *plan);
/**
 * Site of each zone, borrowed arrays of zone_count values (any out may be NULL):
 * cell = the cell holding the site (LG_NONE when a candidate lies outside every
 * cell of the zone's layer or no layer was given), candidate = index into
 * opt->site_x/site_y or LG_NONE (then the site is the zone's 1-median cell),
 * x, y = the site point.
 */
LG_API void lg_zone_plan_sites(const lg_zone_plan *plan, const int64_t **cell,
                               const int64_t **candidate, const double **x, const double **y);

/** Number of problems. */
LG_API size_t lg_zone_plan_problem_count(const lg_zone_plan *plan);
/**
 * Problem i: kind, zone (LG_NONE when none), the cells concerned (borrowed, sorted)
 * and a message (borrowed). Any out-parameter may be NULL.
 */
LG_API lg_error lg_zone_plan_problem(const lg_zone_plan *plan, size_t i, lg_zone_problem_kind *kind,
                                     int64_t *zone, const int64_t **cells, size_t *n_cells,
                                     const char **message);

/** Quality figures of a plan (zones with at least one cell). See docs/ZONES.md. */
typedef struct lg_zone_quality {
    size_t zones;              /**< zones with cells */
    size_t cells_assigned;     /**< cells in a zone */
    size_t cells_unassigned;   /**< cells with zone LG_NONE */
    size_t size_min, size_max; /**< cells per zone */
    double size_mean;
    double compact_mean; /**< dispersion ratio: mean distance of the zone's demand
                              points to their mean over (2/3) sqrt(area / pi), that of
                              a disc of the zone's area; ~1 for a disc, larger is
                              less compact; NaN without areas */
    double compact_max;
    double polsby_mean; /**< Polsby-Popper 4 pi A / P^2 of the zone's union (P from
                             cell perimeters minus shared lengths, which g's weights
                             must be); 1 for a disc; NaN without a layer */
    double polsby_min;
    double weight_min, weight_mean, weight_max; /**< summed workload per zone */
    double weight_cv;                           /**< coefficient of variation of zone workload */
    double objective;                           /**< the improvement objective (docs/ZONES.md) */
} lg_zone_quality;

/** Quality of a plan. */
LG_API void lg_zone_plan_quality(const lg_zone_plan *plan, lg_zone_quality *out);
/**
 * Size histogram: counts[s] = number of zones with s cells, for s < cap;
 * *n receives the largest size + 1 (call with cap 0 to learn it).
 */
LG_API lg_error lg_zone_plan_size_histogram(const lg_zone_plan *plan, size_t *counts, size_t cap,
                                            size_t *n);

#ifdef __cplusplus
}
#endif
#endif /* LIBGRID_ZONES_H */
