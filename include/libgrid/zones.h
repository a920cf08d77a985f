/* libgrid — Service-station zones: contiguous zones of min..max cells, sites, validation.
 * Included by libgrid.h; the conventions at the top of libgrid.h apply. */
#ifndef LIBGRID_ZONES_H
#define LIBGRID_ZONES_H

#include "libgrid.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif /* LIBGRID_ZONES_H */
