/* STUB: replaced by atomic file writing. */
#include "internal.h"
lg_error lg__write_atomic(lg_context *ctx, const char *path, lg_write_fn fn, void *udata) { return fn(ctx, path, udata); }
