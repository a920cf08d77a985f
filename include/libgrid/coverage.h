/* libgrid — Coverage analysis, station siting, heat aggregation.
 * Included by libgrid.h; the conventions at the top of libgrid.h apply.
 * The algorithms and measured figures are in docs/COVERAGE.md.
 *
 * Distances: Euclidean, in the units of the layer's CRS (metres for a projected CRS such
 * as the Gauss-Krüger zones). A geographic (lon/lat) layer must be projected first; these
 * calls do not check the CRS. A cell is "covered" by a facility when the distance from
 * the cell's demand point to the facility is <= the radius (closed).
 */
#ifndef LIBGRID_COVERAGE_H
#define LIBGRID_COVERAGE_H

#include "libgrid.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Reach threshold: a radius in metres, or minutes through the ETA model of the units
 * module (straight-line distance times a detour factor at a speed):
 * radius_m = minutes * 60 * speed_mps / detour. Zero-initialise, then set.
 */
typedef struct lg_coverage_threshold {
    double radius_m;  /**< used when minutes == 0; must be finite and >= 0 */
    double minutes;   /**< > 0: threshold in minutes (radius_m is then ignored) */
    double speed_mps; /**< 0: 11.1 (LG_UNIT_CAR's default) */
    double detour;    /**< road-detour factor, >= 1 typically; 0: 1.3 (as lg_units) */
} lg_coverage_threshold;

/**
 * The radius in metres a threshold denotes. LG_ERR_ARG (message on ctx, which may be
 * NULL) for a NaN, infinite or negative radius, minutes, speed or detour.
 */
LG_API lg_error lg_coverage_radius_m(lg_context *ctx, const lg_coverage_threshold *t,
                                     double *radius_m);

/* ---------------------------------------------------------- cell coverage */

/** Options of lg_coverage_cells; zero-initialise, then set. */
typedef struct lg_coverage_options {
    lg_coverage_threshold threshold;
    const double *x, *y;  /**< demand point per cell (borrowed, finite); NULL: the area
                               centroids (lg_layer_centroids) */
    const double *weight; /**< weight per cell (population, calls; borrowed, finite, >= 0);
                               NULL: 1 per cell */
    const int64_t *group; /**< group per cell (station, zone; borrowed): 0..n_groups-1 or
                               LG_NONE (counted in no group) */
    size_t n_groups;
} lg_coverage_options;

/**
 * Coverage figures of a set of cells. Shares are NaN when their denominator is 0
 * (e.g. a group without cells).
 */
typedef struct lg_coverage_totals {
    size_t cells;         /**< cells counted (empty cells, which have no centroid, are not) */
    size_t cells_covered; /**< within the radius of >= 1 facility */
    size_t cells_backup;  /**< within the radius of >= 2 facilities */
    double area_m2, area_covered_m2, area_backup_m2; /**< summed cell areas */
    double weight, weight_covered, weight_backup;    /**< summed weights */
    double share_cells, share_cells_backup;          /**< cells_covered / cells, ... */
    double share_area, share_area_backup;            /**< area_covered / area, ... */
    double share, backup_share;                      /**< weight_covered / weight, ... */
    double mean_distance_m; /**< weight-weighted mean distance to the nearest facility */
    double max_distance_m;  /**< largest distance to the nearest facility */
} lg_coverage_totals;

/**
 * Outputs of lg_coverage_cells, caller-owned; every pointer may be NULL. n is the
 * layer's cell count.
 */
typedef struct lg_coverage_results {
    int64_t *nearest;   /**< n: index of the nearest facility (ties: lowest index);
                             LG_NONE without facilities or for an empty cell */
    double *distance_m; /**< n: distance to it; INFINITY without facilities, NaN for an
                             empty cell */
    double *eta_s;      /**< n: distance_m * detour / speed_mps (the threshold's model) */
    int32_t *count;     /**< n: facilities within the radius (backup coverage) */
    int64_t *uncovered; /**< room for n: rows of the non-empty cells with count 0,
                             ascending; *n_uncovered gets how many */
    size_t *n_uncovered;
    lg_coverage_totals *totals;          /**< 1: all cells */
    lg_coverage_totals *group_totals;    /**< opt->n_groups: per group */
    lg_coverage_totals *facility_totals; /**< n_fac: per facility over its catchment (the
                                              cells whose nearest facility it is) */
} lg_coverage_results;

/**
 * Cell coverage: for every cell of layer, the nearest of n_fac facilities (fx, fy in
 * the layer's CRS), its distance and ETA, and how many facilities lie within the
 * radius; totals over all cells, per group and per facility catchment. Cost: an R-tree
 * over the facilities, then one nearest and one box search per cell,
 * O(cells * (log n_fac + count)). Errors: LG_ERR_ARG for a non-finite facility (the
 * message names its index), a non-finite demand point or a bad weight or group (naming
 * the cell), a bad threshold; n_fac == 0 is allowed (every cell uncovered).
 * @param opt NULL for defaults (radius 0).
 */
LG_API lg_error lg_coverage_cells(lg_context *ctx, const lg_layer *layer, const double *fx,
                                  const double *fy, size_t n_fac, const lg_coverage_options *opt,
                                  const lg_coverage_results *out);

/* ---------------------------------------------------------- area coverage */

/** Methods of lg_coverage_area. */
typedef enum lg_area_method {
    /** Per cell: cells whose vertices all lie within the buffer's inradius of one
     *  facility are covered without GEOS; cells no buffer reaches are uncovered without
     *  GEOS; only the others are clipped (cell minus the nearby buffers). The layer must
     *  not overlap itself (a coverage, like every patrol grid). */
    LG_AREA_CLIP = 0,
    /** The straightforward GEOS way: buffer every facility, union the buffers, union the
     *  cells (coverage union), intersect and subtract. For comparison and checking. */
    LG_AREA_UNION = 1,
} lg_area_method;

/** Options of lg_coverage_area; zero-initialise, then set. */
typedef struct lg_area_options {
    lg_coverage_threshold threshold;
    int quadrant_segments; /**< segments per quarter circle of each buffer (0: 32) */
    lg_area_method method;
    bool dissolve; /**< uncovered layer: one row per polygon of the dissolved uncovered
                        region, instead of one row per cell's uncovered part */
} lg_area_options;

/** Figures of lg_coverage_area. */
typedef struct lg_area_result {
    double region_area_m2;    /**< area of the union of the cells */
    double covered_area_m2;   /**< area within the (polygonal) buffers */
    double uncovered_area_m2; /**< region - covered */
    double share;             /**< covered / region (NaN for an empty region) */
    double radius_m;
    int quadrant_segments;
    /** Relative amount by which a buffer polygon (4n segments inscribed in the circle)
     *  underestimates the disc: 1 - (4n / 2 pi) sin(2 pi / 4n). The covered area is
     *  exact for the polygonal buffers and within this relative error (from below) of
     *  the true discs' coverage. */
    double buffer_area_error;
    size_t cells_full, cells_none, cells_clipped; /**< LG_AREA_CLIP: how cells were decided */
} lg_area_result;

/**
 * Area coverage, exact for polygonal buffers: the part of the region (the union of the
 * cells) within radius of any facility, its area and share, and optionally the uncovered
 * part as a layer (written with lg_layer_write_shapefile/_geojson; lg_layer_cell_wkb
 * gives WKB). The uncovered layer has fields "cell" (int: the cell row; LG_NONE when
 * dissolved) and "area_m2" (real), and the layer's CRS.
 * @param cell_covered_m2 NULL or room for lg_layer_count values: covered area per cell
 *        (LG_AREA_CLIP only; NaN-filled for LG_AREA_UNION)
 * @param uncovered NULL, or receives the uncovered layer (free with lg_layer_free)
 */
LG_API lg_error lg_coverage_area(lg_context *ctx, const lg_layer *layer, const double *fx,
                                 const double *fy, size_t n_fac, const lg_area_options *opt,
                                 lg_area_result *res, double *cell_covered_m2,
                                 lg_layer **uncovered);

/* ---------------------------------------------------------------- siting */

/** Options of lg_siting_mclp and lg_siting_lscp; zero-initialise, then set. */
typedef struct lg_siting_options {
    lg_coverage_threshold threshold;
    const double *x, *y;       /**< demand point per cell (borrowed); NULL: centroids */
    const double *weight;      /**< weight per cell (borrowed, >= 0); NULL: 1 per cell */
    const int64_t *candidates; /**< candidate cell rows (borrowed; a site stands at the
                                    cell's demand point); NULL: every non-empty cell */
    size_t n_candidates;
    const double *existing_x, *existing_y; /**< facilities already placed (borrowed) */
    size_t n_existing;
    unsigned max_swap_passes; /**< MCLP local-search passes (0: 20) */
} lg_siting_options;

/** Summary of a siting run. Weights include the cells the existing facilities cover. */
typedef struct lg_siting_summary {
    size_t n_sites;          /**< sites chosen (written to sites[] up to cap) */
    double total_weight;     /**< weight of all cells */
    double existing_weight;  /**< covered by the existing facilities alone */
    double coverable_weight; /**< covered by existing + all candidates */
    size_t uncoverable_cells;
    double covered_weight; /**< covered by existing + chosen sites */
    double greedy_weight;  /**< MCLP: covered after the greedy, before the swaps */
    double upper_bound;    /**< MCLP: no p sites cover more (see docs/COVERAGE.md) */
    size_t swaps;          /**< MCLP: improving swaps made */
    size_t lower_bound;    /**< LSCP: no cover of every coverable cell has fewer sites */
    size_t greedy_sites;   /**< LSCP: sites of the greedy before redundant ones are dropped */
} lg_siting_summary;

/**
 * Maximal covering (MCLP): choose p candidate sites maximising the covered weight;
 * greedy with lazy evaluation, then swap local search. sites (cell rows) and gain (may
 * be NULL: the weight each site adds, in the order given: each next site is the one of
 * the chosen set adding the most) have room for cap >= p entries. Fewer than p sites
 * are returned only when there are fewer candidates. Deterministic (ties: lower row).
 */
LG_API lg_error lg_siting_mclp(lg_context *ctx, const lg_layer *layer, size_t p,
                               const lg_siting_options *opt, int64_t *sites, double *gain,
                               size_t cap, lg_siting_summary *sum);
/**
 * Set covering (LSCP): the fewest candidate sites covering every cell that existing
 * facilities and candidates can cover (greedy, then redundant sites dropped), with a
 * lower bound. LG_ERR_CAPACITY (sum->n_sites set) when cap is too small.
 */
LG_API lg_error lg_siting_lscp(lg_context *ctx, const lg_layer *layer, const lg_siting_options *opt,
                               int64_t *sites, double *gain, size_t cap, lg_siting_summary *sum);

/* ------------------------------------------------------------------ heat */

/** Options of lg_heat_aggregate; zero-initialise, then set. */
typedef struct lg_heat_options {
    const double *weight;  /**< per incident (borrowed, finite); NULL: count 1 each */
    const int64_t *rows;   /**< per incident: its cell row if already located, LG_NONE
                                for none (borrowed); NULL: located here */
    const int64_t *time_i; /**< per incident integer times (e.g. epoch seconds); with */
    int64_t t0_i, t1_i;    /**< only incidents with t0_i <= time < t1_i */
    const double *time_d;  /**< or double times (NaN: never in the window); with */
    double t0_d, t1_d;     /**< only incidents with t0_d <= time < t1_d */
    const int64_t *group;  /**< group per cell: 0..n_groups-1 or LG_NONE */
    size_t n_groups;
} lg_heat_options;

/** Summary of lg_heat_aggregate. */
typedef struct lg_heat_summary {
    size_t incidents; /**< n */
    size_t in_window; /**< inside the time window (n without one) */
    size_t located;   /**< inside the window and in a cell */
    size_t outside;   /**< inside the window and in no cell */
    double total;     /**< summed count/weight over the located incidents */
} lg_heat_summary;

/**
 * Heat: count (or sum the weight of) incidents at (x, y) (layer CRS) per cell and per
 * group, optionally only inside a half-open time window. Points are located in chunks
 * (lg_layer_locate_many) skipping those outside the window. Outputs are overwritten
 * (not accumulated); any may be NULL: cell_sum (layer count), group_sum (n_groups),
 * cell_of (n: the located row or LG_NONE, also for incidents outside the window).
 * LG_ERR_ARG for both time arrays, a non-finite weight or a bad group (naming it).
 */
LG_API lg_error lg_heat_aggregate(lg_context *ctx, const lg_layer *layer, const double *x,
                                  const double *y, size_t n, const lg_heat_options *opt,
                                  double *cell_sum, double *group_sum, int64_t *cell_of,
                                  lg_heat_summary *sum);

/** Ranking of lg_heat_top. */
typedef enum lg_heat_rank {
    LG_HEAT_BY_VALUE = 0,  /**< by the value */
    LG_HEAT_BY_DENSITY = 1 /**< by value per km^2 of cell area */
} lg_heat_rank;

/**
 * Hot spots: the k cells with the largest value (or value per km^2) of value[] (layer
 * count entries, e.g. lg_heat_aggregate's cell_sum), ties by lower row; cells with
 * value 0, NaN or no area are skipped. rows and score (may be NULL) have room for k;
 * *n gets how many were written.
 */
LG_API lg_error lg_heat_top(lg_context *ctx, const lg_layer *layer, const double *value, size_t k,
                            lg_heat_rank rank, int64_t *rows, double *score, size_t *n);

#ifdef __cplusplus
}
#endif
#endif /* LIBGRID_COVERAGE_H */
