/* STUB: replaced by the GeoJSON / WKT / WKB readers. */
#include "internal.h"
lg_error lg__load_geojson(lg_context *ctx, const char *path, const lg_load_options *opt, lg_layer **out) { (void)opt; (void)out; return lg__fail(ctx, LG_ERR_UNSUPPORTED, "%s: not yet", path); }
lg_error lg__load_wkt(lg_context *ctx, const char *path, const lg_load_options *opt, lg_layer **out) { (void)opt; (void)out; return lg__fail(ctx, LG_ERR_UNSUPPORTED, "%s: not yet", path); }
lg_error lg_layer_from_wkb(lg_context *ctx, const unsigned char *const *wkb, const size_t *wkb_len, size_t n, const lg_load_options *opt, lg_layer **out) { (void)ctx; (void)wkb; (void)wkb_len; (void)n; (void)opt; *out = NULL; return LG_ERR_UNSUPPORTED; }
lg_error lg_layer_write_geojson(lg_context *ctx, const lg_layer *layer, const char *path) { (void)ctx; (void)layer; (void)path; return LG_ERR_UNSUPPORTED; }
