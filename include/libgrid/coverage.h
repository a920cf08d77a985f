/* libgrid — Coverage analysis, station siting, heat aggregation.
 * Included by libgrid.h; the conventions at the top of libgrid.h apply. */
#ifndef LIBGRID_COVERAGE_H
#define LIBGRID_COVERAGE_H

#include "libgrid.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif /* LIBGRID_COVERAGE_H */
