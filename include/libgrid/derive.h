/* libgrid — Derived layers: a layer with extra columns, cells dissolved by group.
 * Included by libgrid.h; the conventions at the top of libgrid.h apply. */
#ifndef LIBGRID_DERIVE_H
#define LIBGRID_DERIVE_H

#include "libgrid.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif /* LIBGRID_DERIVE_H */
