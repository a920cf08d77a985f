/* libgrid — Police hierarchy: adjacency graphs, stations (central, base, border), service-station
 * zones, plan validation. Included by libgrid.h; the conventions at the top of libgrid.h apply. */
#ifndef LIBGRID_PLAN_H
#define LIBGRID_PLAN_H

#include "libgrid.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------- adjacency graph */

/**
 * An undirected weighted graph over rows (cells or stations): edges carry the
 * shared boundary length in metres (layer units). Immutable; safe to share
 * between threads. Neighbours of each node are sorted by ascending node.
 */
typedef struct lg_graph lg_graph;

/** Options of lg_layer_adjacency; zero-initialise for the defaults. */
typedef struct lg_adjacency_options {
    double gap_m;        /**< boundaries closer than this count as shared (0: 2.0 m) */
    double min_shared_m; /**< shorter shared boundary is no adjacency (0: 1.0 m);
                              touching at a single point never is */
} lg_adjacency_options;

/**
 * Adjacency of the cells of a layer by shared boundary length. Edges shared
 * exactly are found by hashing segments; slivers and small gaps (real data) by
 * GEOS within opt->gap_m. @param opt NULL for defaults.
 */
LG_API lg_error lg_layer_adjacency(lg_context *ctx, const lg_layer *layer,
                                   const lg_adjacency_options *opt, lg_graph **out);
/**
 * A graph from an edge list (e.g. a user's own adjacency): n_nodes nodes, n_edges
 * undirected edges a[i]-b[i] with weights w[i] (w may be NULL: 1.0). Duplicate
 * edges are merged (weights summed); self-loops are an error.
 */
LG_API lg_error lg_graph_new(lg_context *ctx, size_t n_nodes, const int64_t *a, const int64_t *b,
                             const double *w, size_t n_edges, lg_graph **out);
LG_API void lg_graph_free(lg_graph *g);
/** Number of nodes. */
LG_API size_t lg_graph_node_count(const lg_graph *g);
/** Number of undirected edges. */
LG_API size_t lg_graph_edge_count(const lg_graph *g);
/**
 * Neighbours of node (borrowed arrays, sorted by node): nodes[i] and the shared
 * length weight[i] (weight may be NULL).
 */
LG_API lg_error lg_graph_neighbors(const lg_graph *g, size_t node, const int64_t **nodes,
                                   const double **weight, size_t *n);
/** Edge weight between a and b, or 0 when not adjacent. */
LG_API double lg_graph_weight(const lg_graph *g, size_t a, size_t b);

/**
 * The graph of groups of a graph's nodes (e.g. stations from cells): node g of
 * the result stands for the nodes whose group is g; the weight between groups g
 * and h is the sum of the weights of the edges between their nodes. Edges inside
 * a group and nodes of group LG_NONE (-1) are dropped.
 * @param group     group of each node (n_nodes = lg_graph_node_count(g) values)
 * @param n_groups  number of groups (0: largest group + 1); larger groups are an error
 */
LG_API lg_error lg_graph_contract(lg_context *ctx, const lg_graph *g, const int64_t *group,
                                  size_t n_nodes, size_t n_groups, lg_graph **out);

/* --------------------------------------------------------- plan problems */

/** Kinds of problem a station plan can have (codes are never renumbered). */
typedef enum lg_plan_problem_code {
    LG_PLAN_BAD_KIND = 1,            /**< kind is not central, base or border */
    LG_PLAN_BASE_NO_CENTRAL = 2,     /**< base station whose central is none or out of range */
    LG_PLAN_CENTRAL_NOT_CENTRAL = 3, /**< base station whose central is not a central station */
    LG_PLAN_BASE_NOT_ADJACENT = 4,   /**< base station not adjacent to its central station */
    LG_PLAN_TOO_FEW_BASES = 5,       /**< central station with fewer than min_bases bases */
    LG_PLAN_TOO_MANY_BASES = 6,      /**< central station with more than max_bases bases */
    LG_PLAN_BORDER_OFF_BOUNDARY = 7, /**< border station not on the region boundary */
    LG_PLAN_BOUNDARY_NOT_BORDER = 8, /**< station on the region boundary not marked border */
    LG_PLAN_STATION_NO_CELLS = 9,    /**< station with no cells */
    LG_PLAN_CELL_NO_STATION = 10,    /**< cell with no station (row: LG_NONE, related: cell) */
    LG_PLAN_UNEXPECTED_CENTRAL = 11, /**< central or border station with a central other than
                                          none or itself */
    LG_PLAN_ISOLATED = 12,           /**< infeasible: no adjacent non-border station */
    LG_PLAN_COMPONENT_SIZE = 13,     /**< infeasible: a connected group of non-border
                                          stations whose size no group sizes add up to */
    LG_PLAN_UNPLACED = 14,           /**< infeasible as far as the search went: no group
                                          found for the station */
} lg_plan_problem_code;

/**
 * A list of problems of a plan: each with a code, the station row it concerns
 * (LG_NONE for a cell problem), a related row (the central station, the cell...;
 * LG_NONE if none) and a message naming the stations. Immutable.
 */
typedef struct lg_plan_problems lg_plan_problems;

LG_API void lg_plan_problems_free(lg_plan_problems *p);
/** Number of problems (0 for NULL). */
LG_API size_t lg_plan_problems_count(const lg_plan_problems *p);
/** Problem i; any out-parameter may be NULL; message is borrowed. */
LG_API lg_error lg_plan_problems_get(const lg_plan_problems *p, size_t i,
                                     lg_plan_problem_code *code, int64_t *row, int64_t *related,
                                     const char **message);
/** Number of problems with this code. */
LG_API size_t lg_plan_problems_count_code(const lg_plan_problems *p, lg_plan_problem_code code);

/* ---------------------------------------------------------------- stations */

/**
 * Police stations: jurisdictions, optional station points, workload attributes
 * and the cells linked to each station, with the station adjacency graph.
 * The cell layer and station layer passed in are borrowed: they must outlive
 * the object. Immutable once built; safe for concurrent const queries.
 */
typedef struct lg_stations lg_stations;

/** Options of the station constructors; zero-initialise for the defaults. */
typedef struct lg_stations_options {
    size_t n_stations;         /**< lg_stations_from_cells with an INT station field:
                                    number of stations (0: largest value + 1) */
    const double *x, *y;       /**< station points (n_points each, layer CRS), or NULL */
    size_t n_points;           /**< must equal the number of stations when x, y given */
    const char *const *fields; /**< workload fields to carry (names), or NULL: every
                                    numeric field of the station layer, then of the
                                    cells, but id and station fields */
    size_t n_fields;
    lg_adjacency_options adjacency; /**< for the cell/station adjacency */
} lg_stations_options;

/**
 * Stations from a cell layer (borrowed) and the name of its station field. An
 * INT field holds the station row (0..n-1); a TEXT field holds station names,
 * numbered in order of first appearance. Null or negative: the cell has no
 * station. Jurisdictions are the GEOS union of each station's cells; workload
 * values are the sums of the cells' fields (nulls count 0).
 */
LG_API lg_error lg_stations_from_cells(lg_context *ctx, const lg_layer *cells,
                                       const char *station_field, const lg_stations_options *opt,
                                       lg_stations **out);
/**
 * Stations from a layer of jurisdiction polygons (borrowed; one row per
 * station, names from its id field or row numbers). cells (borrowed, may be
 * NULL) link to stations through station_field, whose values are ids of the
 * station layer (lg_layer_find_id / _find_id_text). A workload field is read
 * from the station layer when it has it, else summed over the cells.
 */
LG_API lg_error lg_stations_from_layer(lg_context *ctx, const lg_layer *stations,
                                       const lg_layer *cells, const char *station_field,
                                       const lg_stations_options *opt, lg_stations **out);
LG_API void lg_stations_free(lg_stations *st);
/** Number of stations. */
LG_API size_t lg_stations_count(const lg_stations *st);
/** Name of station row (text id, integer id or row number as text); NULL out of range. */
LG_API const char *lg_stations_name(const lg_stations *st, size_t row);
/** Station point; false when there are no points or row is out of range. */
LG_API bool lg_stations_point(const lg_stations *st, size_t row, double *x, double *y);
/** Jurisdictions as a layer, one row per station (borrowed). */
LG_API const lg_layer *lg_stations_jurisdictions(const lg_stations *st);
/** The cell layer (borrowed), or NULL when built without cells. */
LG_API const lg_layer *lg_stations_cells(const lg_stations *st);
/** Station row of each cell (borrowed, lg_layer_count(cells) values, LG_NONE: none). */
LG_API const int64_t *lg_stations_cell_station(const lg_stations *st);
/** Number of cells of station row (0 without cells or out of range). */
LG_API size_t lg_stations_cell_count(const lg_stations *st, size_t row);
/** Station adjacency graph (borrowed): shared boundary length between jurisdictions. */
LG_API const lg_graph *lg_stations_graph(const lg_stations *st);
/** Cell adjacency graph (borrowed), or NULL when built without cells. */
LG_API const lg_graph *lg_stations_cell_graph(const lg_stations *st);
/** Number of workload fields. */
LG_API size_t lg_stations_field_count(const lg_stations *st);
/** Name of workload field f, or NULL. Borrowed. */
LG_API const char *lg_stations_field_name(const lg_stations *st, size_t f);
/** Workload values of field f per station (borrowed, lg_stations_count values). */
LG_API const double *lg_stations_workload(const lg_stations *st, size_t f);

/* ------------------------------------------------- classification, validation */

/** Class of a station. */
typedef enum lg_station_kind {
    LG_STATION_CENTRAL = 1, /**< 中心所: coordinates min_bases..max_bases adjacent bases */
    LG_STATION_BASE = 2,    /**< 基础所: coordinated by one adjacent central station */
    LG_STATION_BORDER = 3,  /**< 边界所: adjoins the region boundary or a neighbouring county */
} lg_station_kind;

/** Options of classification and validation; zero-initialise for the defaults. */
typedef struct lg_classify_options {
    const lg_layer *region;      /**< region polygons (same CRS); NULL: the union of all
                                      jurisdictions */
    const lg_layer *neighbours;  /**< neighbouring counties, or NULL */
    double border_min_m;         /**< shared boundary that makes a border station (0: 100 m) */
    double border_gap_m;         /**< lines closer than this are shared (0: 2 m) */
    const char *const *workload; /**< fields of the score (NULL: all workload fields) */
    const double *weights;       /**< weight per workload field (NULL: 1 each) */
    size_t n_workload;
    size_t min_bases; /**< bases per central station, at least (0: 1) */
    size_t max_bases; /**< at most (0: 2) */
} lg_classify_options;

/**
 * Plan station classes. Border stations: jurisdiction boundary within
 * border_gap_m of the region's outer boundary (or of a neighbouring county)
 * along at least border_min_m. The other stations are split into stars: a
 * central station and min_bases..max_bases adjacent base stations, as many
 * groups as the adjacency allows, balancing the summed score of each group;
 * the central station of a group is its highest-scoring possible centre. Score =
 * sum over fields of weight * value / (largest value of the field).
 * Deterministic. The method is described at the top of libgrid/stations.c.
 * @param kind     out, n values (n = lg_stations_count)
 * @param central  out, n values: central row of base stations, LG_NONE otherwise
 * @param score    out (may be NULL), n values: the workload score
 * @param feasible out: true when the plan has no problem at all
 * @param problems out (may be NULL): why the plan is infeasible, if it is, plus
 *                 every violation of the returned plan (lg_stations_validate)
 */
LG_API lg_error lg_stations_classify(lg_context *ctx, const lg_stations *st,
                                     const lg_classify_options *opt, lg_station_kind *kind,
                                     int64_t *central, double *score, size_t n, bool *feasible,
                                     lg_plan_problems **problems);
/**
 * Check a plan (ours or a user's) and report every violation (LG_PLAN_* codes
 * 1..11). central of a central or border station may be LG_NONE or itself.
 * Returns LG_OK even when the plan has problems; *problems lists them.
 */
LG_API lg_error lg_stations_validate(lg_context *ctx, const lg_stations *st,
                                     const lg_classify_options *opt, const lg_station_kind *kind,
                                     const int64_t *central, size_t n, lg_plan_problems **problems);

/* ------------------------------------------------------- hierarchy lookup */

/**
 * Point -> cell, service-station zone, service station, police station, its
 * class and its coordinating central station, in one call. Built from stations
 * (borrowed) and a station plan (copied). Immutable: any number of threads may
 * query it.
 */
typedef struct lg_hierarchy lg_hierarchy;

/** Optional zone level of the hierarchy; zero-initialise. */
typedef struct lg_hierarchy_options {
    const int64_t *cell_zone; /**< zone of each cell (LG_NONE: none), or NULL */
    size_t n_cells;           /**< length of cell_zone */
    const int64_t *zone_site; /**< service station (site id or row) of each zone, or NULL */
    size_t n_zones;           /**< length of zone_site */
} lg_hierarchy_options;

/** The answer for one point; every field LG_NONE (kind 0) where there is none. */
typedef struct lg_hierarchy_result {
    int64_t cell;            /**< cell row */
    int64_t zone;            /**< service-station zone */
    int64_t service_station; /**< zone_site of the zone */
    int64_t station;         /**< police station row */
    lg_station_kind kind;    /**< its class (0 when no station) */
    int64_t central;         /**< coordinating central station: base -> its central,
                                  central -> itself, border -> LG_NONE */
} lg_hierarchy_result;

/**
 * Build a lookup from stations built with cells, and a plan (kind, central:
 * n = lg_stations_count values; kind may be NULL: every class unknown).
 */
LG_API lg_error lg_hierarchy_new(lg_context *ctx, const lg_stations *st,
                                 const lg_station_kind *kind, const int64_t *central, size_t n,
                                 const lg_hierarchy_options *opt, lg_hierarchy **out);
LG_API void lg_hierarchy_free(lg_hierarchy *h);
/** Answer for (x, y) in the cells' CRS (const, thread-safe). */
LG_API void lg_hierarchy_lookup(const lg_hierarchy *h, double x, double y,
                                lg_hierarchy_result *out);
/**
 * Batch lookup of n points; each output array (n values) may be NULL when not
 * wanted. kind receives lg_station_kind values (0: none).
 */
LG_API lg_error lg_hierarchy_lookup_many(const lg_hierarchy *h, const double *x, const double *y,
                                         size_t n, int64_t *cell, int64_t *zone,
                                         int64_t *service_station, int64_t *station, int32_t *kind,
                                         int64_t *central);

#ifdef __cplusplus
}
#endif
#endif /* LIBGRID_PLAN_H */
