/* libgrid — Metres on every layer: the metric frame of a layer, reprojection.
 * Included by libgrid.h; the conventions at the top of libgrid.h apply.
 *
 * Every call that takes or returns a distance, radius, length, area, speed or ETA works
 * in metres (m^2, m/s) whatever the layer's CRS, through the layer's metric frame
 * (docs/ARCHITECTURE.md, "Metres on every layer"):
 *  - a projected CRS: its own coordinates times its unit (metre, US survey foot, ...),
 *    while the CRS's own scale error over the layer stays small (UTM, Gauss-Krüger, state
 *    planes in their zones); otherwise, as for lon/lat,
 *  - a geographic CRS (lon/lat: EPSG:4326, CGCS2000 EPSG:4490, NAD27, GCJ-02, BD-09): a
 *    transverse Mercator centred on the layer, on the layer's own datum, whose distance
 *    error over the layer is bounded and reported (scale_error),
 *  - a layer without CRS whose unit was stated (lg_load_options.unit_m): that unit,
 *  - a layer without CRS and without a stated unit: unknown units; metric calls fail
 *    with LG_ERR_CRS and say so. Locating, which needs no unit, works on every layer.
 * Frames whose scale error exceeds LG_METRIC_MAX_SCALE_ERROR (a continent or the world in
 * one plane) are refused by metric calls with the measured error; reproject such layers
 * to a CRS that suits them (lg_layer_transform).
 */
#ifndef LIBGRID_METRIC_H
#define LIBGRID_METRIC_H

#include "libgrid.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Largest relative distance error of a metric frame that metric calls accept (1%). */
#define LG_METRIC_MAX_SCALE_ERROR 0.01

/** What a layer's coordinates are. Values are never renumbered. */
typedef enum lg_units_kind {
    LG_UNITS_UNKNOWN = 0,    /**< no CRS, no stated unit: metric calls fail */
    LG_UNITS_PROJECTED = 1,  /**< a projected CRS; unit_m metres per unit */
    LG_UNITS_GEOGRAPHIC = 2, /**< longitude/latitude in degrees */
    LG_UNITS_LOCAL = 3,      /**< no georeference but a stated unit (an engineering CRS) */
} lg_units_kind;

/** The metric frame of a layer (lg_layer_metric). Strings are borrowed from the layer. */
typedef struct lg_metric_info {
    lg_units_kind kind;
    double unit_m;         /**< metres per coordinate unit; NaN for geographic and unknown */
    const char *unit_name; /**< "metre", "US survey foot", "degree", "unknown", ... */
    bool local_frame;      /**< distances are computed in frame_crs, a local transverse
                                Mercator, not in the layer's own coordinates */
    const char *frame_crs; /**< CRS of the frame (WKT2) when local_frame, else the layer's */
    double scale_error;    /**< bound on the relative error of distances and lengths over the
                                layer's extent (areas: about twice that); 0 when exact */
    bool usable;           /**< metric calls accept the layer */
    const char *reason;    /**< why not, when !usable ("" otherwise) */
} lg_metric_info;

/**
 * The metric frame of a layer: computed once on first need (a few PROJ calls) and kept
 * with the layer; thread-safe. Fails only on a CRS PROJ cannot use or out of memory; an
 * unusable frame (unknown units, too large an extent) is reported in out->usable.
 */
LG_API lg_error lg_layer_metric(lg_context *ctx, const lg_layer *layer, lg_metric_info *out);

/**
 * A CRS string for data without georeference whose unit is unit_m metres (an
 * engineering CRS, WKT2; LOCAL_CS in a .prj), named unit_name (NULL: "metre" for 1,
 * "foot" for 0.3048, "US survey foot" for 1200/3937, else "unit"). snprintf-style:
 * *len gets the length without the NUL; LG_ERR_CAPACITY when cap is too small.
 */
LG_API lg_error lg_crs_local(lg_context *ctx, double unit_m, const char *unit_name, char *buf,
                             size_t cap, size_t *len);

/** Options of lg_layer_transform; zero-initialise. */
typedef struct lg_layer_transform_options {
    /** Densify: split edges until each output edge lies within this many metres of the
     *  true image of the input edge at its midpoints (0: no densification; vertices
     *  are only transformed). */
    double max_deviation_m;
    /** Upper bound on the vertices added per input edge (0: 256). */
    unsigned max_split;
} lg_layer_transform_options;

/** What lg_layer_transform did. */
typedef struct lg_layer_transform_report {
    size_t vertices_in, vertices_out;
    /** Largest deviation in metres left at the midpoints of the output edges that
     *  were examined (0 without densification: not measured, NaN). */
    double max_deviation_m;
    size_t edges_at_limit; /**< edges that reached max_split before max_deviation_m */
} lg_layer_transform_report;

/**
 * Reproject a layer to crs through PROJ (GCJ-02 and BD-09 included): a new layer with
 * the same rows, attributes, ids and load problems. Every input vertex maps to one
 * output vertex, computed once, so edges shared by two cells stay shared exactly, also
 * after densification (the points added to an edge depend only on the edge, not on its
 * direction). A vertex PROJ cannot transform fails the call naming the cell, the ring
 * and the point. @param opt NULL for defaults; @param rep may be NULL.
 */
LG_API lg_error lg_layer_transform(lg_context *ctx, const lg_layer *layer, const char *crs,
                                   const lg_layer_transform_options *opt, lg_layer **out,
                                   lg_layer_transform_report *rep);

/**
 * A copy of a layer labelled with another CRS (the coordinates unchanged): for data
 * whose file names no CRS or the wrong one. crs NULL removes the label.
 */
LG_API lg_error lg_layer_with_crs(lg_context *ctx, const lg_layer *layer, const char *crs,
                                  lg_layer **out);

#ifdef __cplusplus
}
#endif
#endif /* LIBGRID_METRIC_H */
