/* STUB: replaced by the county generator. */
#include "internal.h"
lg_error lg_synth_county(lg_context *ctx, const lg_synth_options *opt, lg_layer **out) { (void)ctx; (void)opt; *out = NULL; return LG_ERR_UNSUPPORTED; }
lg_error lg_synth_stations(lg_context *ctx, const lg_synth_options *opt, double *x, double *y, size_t cap, size_t *n_out) { (void)ctx; (void)opt; (void)x; (void)y; (void)cap; (void)n_out; return LG_ERR_UNSUPPORTED; }
