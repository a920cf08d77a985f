/*
 * Fuzz target: GeoJSON loading (the bytes are written to a file in /dev/shm: the
 * loader reads paths only). Odd-length inputs load with LG_LOAD_REPAIR.
 */
#include "fuzz_common.h"
#include "fuzz_util.h"

#ifndef FZ_FORMAT
#define FZ_FORMAT "geojson"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = fz_path(0, "f." FZ_FORMAT);
    fz_write(p, data, size);
    lg_context *ctx = NULL;
    if (lg_context_new(NULL, &ctx) != LG_OK)
        abort();
    lg_load_options opt = {0};
    opt.flags = size & 1 ? LG_LOAD_REPAIR : 0;
    if (size % 3 == 0)
        opt.id_field = "id";
    lg_layer *l = NULL;
    lg_error e = lg_layer_load(ctx, p, &opt, &l);
    if (e == LG_OK) {
        if (!l)
            abort();
        fz_check_layer(l);
        lg_layer_free(l);
    } else if (l || lg_context_error(ctx) != e || lg_context_message(ctx)[0] == '\0') {
        abort();
    }
#ifdef FZ_EXTRA
    FZ_EXTRA(ctx, data, size);
#endif
    lg_context_free(ctx);
    return 0;
}
