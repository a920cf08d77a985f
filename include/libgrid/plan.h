/* libgrid — Police hierarchy: adjacency graphs, stations (central, base, border), service-station zones, plan validation.
 * Included by libgrid.h; the conventions at the top of libgrid.h apply. */
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

#ifdef __cplusplus
}
#endif
#endif /* LIBGRID_PLAN_H */
