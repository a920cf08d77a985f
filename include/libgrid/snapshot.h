/* libgrid — Index snapshots: save a built layer, load it back by memory-mapping.
 * Included by libgrid.h; the conventions at the top of libgrid.h apply. */
#ifndef LIBGRID_SNAPSHOT_H
#define LIBGRID_SNAPSHOT_H

#include "libgrid.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    /**
     * Skip the section checksums when opening (the fast path: the header, the
     * section table and the index arrays are still checked, and queries range-check
     * the accelerator, so a corrupt file cannot crash; it may answer wrongly).
     */
    LG_SNAPSHOT_NO_VERIFY = 1u << 0,
};

/**
 * Save a built layer (geometry, attributes, ids, problems, locate accelerator) as a
 * versioned, checksummed snapshot file, written under a temporary name and renamed
 * into place.
 */
LG_API lg_error lg_layer_save(lg_context *ctx, const lg_layer *layer, const char *path);
/**
 * Open a snapshot by memory-mapping it: the layer's arrays live in the mapping, which
 * lg_layer_free unmaps. @param flags LG_SNAPSHOT_*. A corrupt file is LG_ERR_FORMAT,
 * a newer version LG_ERR_UNSUPPORTED.
 */
LG_API lg_error lg_layer_open_snapshot(lg_context *ctx, const char *path, unsigned flags,
                                       lg_layer **out);
/** Size in bytes of the snapshot of layer. */
LG_API lg_error lg_layer_snapshot_size(const lg_layer *layer, size_t *size);
/** Write the snapshot into buf (cap bytes); *len receives its size. LG_ERR_CAPACITY if short. */
LG_API lg_error lg_layer_snapshot_write(const lg_layer *layer, void *buf, size_t cap, size_t *len);
/** A layer from a snapshot in memory (copied; buf may be freed afterwards). */
LG_API lg_error lg_layer_read_snapshot(lg_context *ctx, const void *buf, size_t len, unsigned flags,
                                       lg_layer **out);

#ifdef __cplusplus
}
#endif
#endif /* LIBGRID_SNAPSHOT_H */
