/* STUB: replaced by the Shapefile reader/writer. */
#include "internal.h"
lg_error lg__load_shp(lg_context *ctx, const char *path, const lg_load_options *opt, lg_layer **out) { (void)opt; (void)out; return lg__fail(ctx, LG_ERR_UNSUPPORTED, "%s: not yet", path); }
lg_error lg_layer_write_shapefile(lg_context *ctx, const lg_layer *layer, const char *path) { (void)ctx; (void)layer; (void)path; return LG_ERR_UNSUPPORTED; }
