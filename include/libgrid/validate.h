/* libgrid — Validation of a built layer: every load problem, GEOS validity, and
 * overlaps between cells. Included by libgrid.h; the conventions at the top of
 * libgrid.h apply. */
#ifndef LIBGRID_VALIDATE_H
#define LIBGRID_VALIDATE_H

#include "libgrid.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Options of lg_layer_validate; zero-initialise. */
typedef struct lg_validate_options {
    /** Overlaps of this area or less (square CRS units) are not reported; 0: any
     *  overlap of positive area. Cells sharing an edge exactly never overlap. */
    double min_overlap_area;
    /** Skip the GEOS validity check of each cell (the load already did it unless it
     *  used LG_LOAD_NO_VALIDATE). */
    bool skip_validity;
} lg_validate_options;

/**
 * The report of lg_layer_validate: a list of problems, each with a row, a kind, a
 * place and a message, in this order: the layer's own load problems, then
 * LG_PROBLEM_INVALID for each cell GEOS finds invalid (unless the load reported it),
 * then LG_PROBLEM_OVERLAP for each pair of overlapping cells. Immutable.
 */
typedef struct lg_validation lg_validation;

/**
 * Validate a layer (not modified; any number of threads may query it meanwhile).
 * Overlap candidates are the pairs of cells whose boxes meet (the layer's R-tree);
 * each pair is intersected with GEOS. An overlap is reported on the higher row of the
 * pair, because locate gives the points of an overlap to the lower row
 * (docs/ARCHITECTURE.md); its place is a point inside the overlap and its message
 * names both rows and the area. Cost: one GEOS intersection per candidate pair
 * (about 4 per cell for a grid). @param opt NULL for defaults.
 */
LG_API lg_error lg_layer_validate(lg_context *ctx, const lg_layer *layer,
                                  const lg_validate_options *opt, lg_validation **out);
LG_API void lg_validation_free(lg_validation *v);
/** Number of problems. */
LG_API size_t lg_validation_count(const lg_validation *v);
/** Number of problems of one kind. */
LG_API size_t lg_validation_count_kind(const lg_validation *v, lg_problem_kind kind);
/**
 * Problem i: row, kind, place (NaN if none), message (borrowed), and for an overlap
 * the other row (*other; LG_NONE for other kinds) and the overlap's area (*area; 0
 * for other kinds). Any out-parameter may be NULL. LG_ERR_ARG out of range.
 */
LG_API lg_error lg_validation_problem(const lg_validation *v, size_t i, int64_t *row,
                                      lg_problem_kind *kind, double *x, double *y,
                                      const char **message, int64_t *other, double *area);

#ifdef __cplusplus
}
#endif
#endif /* LIBGRID_VALIDATE_H */
