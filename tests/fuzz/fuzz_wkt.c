/*
 * Fuzz target: WKT loading (one Polygon/MultiPolygon per line), and the same bytes
 * as one WKB geometry for lg_layer_from_wkb. See fuzz_geojson.c.
 */
#include "fuzz_common.h"

static void fz_wkb(lg_context *ctx, const uint8_t *data, size_t size)
{
    const unsigned char *w[1] = {data};
    size_t wl[1] = {size};
    lg_layer *l = NULL;
    lg_error e = lg_layer_from_wkb(ctx, w, wl, 1, NULL, &l);
    if (e == LG_OK) {
        if (!l)
            abort();
        fz_check_layer(l);
        lg_layer_free(l);
    } else if (l || lg_context_message(ctx)[0] == '\0') {
        abort();
    }
}

#define FZ_FORMAT "wkt"
#define FZ_EXTRA fz_wkb
#include "fuzz_geojson.c"
