/*
 * Fuzz target: Shapefile + DBF + PRJ + CPG loading.
 * Input: 1 flag byte (bit 0 LG_LOAD_REPAIR, bit 1 LG_LOAD_NO_VALIDATE, bit 2 id field
 * "cell_id"), then up to five parts .shp .shx .dbf .prj .cpg, each a 4-byte
 * little-endian length (clamped to what is left) and that many bytes. A part the
 * input does not reach is absent from the directory.
 */
#include "fuzz_common.h"
#include "fuzz_util.h"

static const char *const ext[5] = {"f.shp", "f.shx", "f.dbf", "f.prj", "f.cpg"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    size_t pos = 1;
    for (int i = 0; i < 5; i++) {
        const char *p = fz_path(i, ext[i]);
        if (pos + 4 > size) {
            unlink(p);
            continue;
        }
        uint32_t n = (uint32_t)data[pos] | (uint32_t)data[pos + 1] << 8 |
                     (uint32_t)data[pos + 2] << 16 | (uint32_t)data[pos + 3] << 24;
        pos += 4;
        if (n > size - pos)
            n = (uint32_t)(size - pos);
        fz_write(p, data + pos, n);
        pos += n;
    }
    lg_context *ctx = NULL;
    if (lg_context_new(NULL, &ctx) != LG_OK)
        abort();
    lg_load_options opt = {0};
    opt.flags = (flags & 1 ? LG_LOAD_REPAIR : 0) | (flags & 2 ? LG_LOAD_NO_VALIDATE : 0);
    if (flags & 4)
        opt.id_field = "cell_id";
    lg_layer *l = NULL;
    lg_error e = lg_layer_load(ctx, fz_path(0, ext[0]), &opt, &l);
    if (e == LG_OK) {
        if (!l)
            abort();
        fz_check_layer(l);
        lg_layer_free(l);
    } else {
        /* a failure always says why */
        if (l || lg_context_error(ctx) != e || lg_context_message(ctx)[0] == '\0')
            abort();
    }
    lg_context_free(ctx);
    return 0;
}
