/* libgrid — Index snapshots: save a built layer, load it back by memory-mapping.
 * Included by libgrid.h; the conventions at the top of libgrid.h apply. */
#ifndef LIBGRID_SNAPSHOT_H
#define LIBGRID_SNAPSHOT_H

#include "libgrid.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif /* LIBGRID_SNAPSHOT_H */
