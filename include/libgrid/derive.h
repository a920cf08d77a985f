/* libgrid — Derived layers: a layer with extra columns, cells dissolved by group.
 * Included by libgrid.h; the conventions at the top of libgrid.h apply.
 * Both produce ordinary layers, so plans can be written with lg_layer_write_shapefile
 * or lg_layer_write_geojson. */
#ifndef LIBGRID_DERIVE_H
#define LIBGRID_DERIVE_H

#include "libgrid.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * An extra column for lg_layer_derive: a name, a type and one value per row of the
 * source layer, from the array matching the type (borrowed; the others are ignored).
 */
typedef struct lg_column_spec {
    const char *name;         /**< field name; must differ from every field of the source */
    lg_field_type type;       /**< LG_FIELD_INT, LG_FIELD_REAL or LG_FIELD_TEXT */
    const int64_t *ints;      /**< LG_FIELD_INT: n values */
    const double *reals;      /**< LG_FIELD_REAL: n values */
    const char *const *texts; /**< LG_FIELD_TEXT: n UTF-8 strings (a NULL entry is null) */
    const uint8_t *null;      /**< optional: nonzero marks the row's value null; NULL: none */
} lg_column_spec;

/**
 * A new layer with the source's geometry (copied ring by ring), attributes, id field
 * and CRS, plus ncols extra columns appended after the source's fields. The source's
 * load problems are not copied. LG_ERR_ARG for a bad spec (no name, a name the source
 * or an earlier spec already uses, a bad type, a missing data array).
 */
LG_API lg_error lg_layer_derive(lg_context *ctx, const lg_layer *src, const lg_column_spec *cols,
                                size_t ncols, lg_layer **out);

/**
 * Dissolve cells by group: one row per group id >= 0 that has cells, in ascending
 * group order, whose geometry is the GEOS union of the group's cells (coverage union
 * for edge-matched cells, the general union when that fails), with fields "group"
 * (int: the id) and "cells" (int: its number of cells). Cells of a negative group are
 * left out. The result has the source's CRS.
 * @param group group of each cell (n = lg_layer_count(src) values)
 */
LG_API lg_error lg_layer_dissolve(lg_context *ctx, const lg_layer *src, const int64_t *group,
                                  size_t n, lg_layer **out);

#ifdef __cplusplus
}
#endif
#endif /* LIBGRID_DERIVE_H */
