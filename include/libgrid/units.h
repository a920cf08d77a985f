/* libgrid — Moving units, nearest capable unit dispatch, run cards.
 * Included by libgrid.h; the conventions at the top of libgrid.h apply. */
#ifndef LIBGRID_UNITS_H
#define LIBGRID_UNITS_H

#include "libgrid.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif /* LIBGRID_UNITS_H */
