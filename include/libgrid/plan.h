/* libgrid — Police hierarchy: adjacency graphs, stations (central, base, border), service-station zones, plan validation.
 * Included by libgrid.h; the conventions at the top of libgrid.h apply. */
#ifndef LIBGRID_PLAN_H
#define LIBGRID_PLAN_H

#include "libgrid.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif /* LIBGRID_PLAN_H */
