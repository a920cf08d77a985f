/*
 * Fuzz target: snapshot loading from memory, with and without the checksums
 * (LG_SNAPSHOT_NO_VERIFY), then locate queries on whatever loads. A verified
 * snapshot must agree with the exact definition; an unverified one may answer
 * wrongly by contract, but must never crash or return a row out of range.
 */
#include "fuzz_common.h"

static void query(const lg_layer *l, bool verified)
{
    size_t n = lg_layer_count(l);
    double b[4];
    if (!lg_layer_bounds(l, b))
        return;
    double x[49], y[49];
    int64_t out[49];
    int k = 0;
    for (int i = 0; i < 7; i++)
        for (int j = 0; j < 7; j++, k++) {
            x[k] = b[0] + (b[2] - b[0]) * (i - 0.5) / 5.0;
            y[k] = b[1] + (b[3] - b[1]) * (j - 0.5) / 5.0;
        }
    if (lg_layer_locate_many(l, x, y, 49, out) != LG_OK)
        abort();
    for (int i = 0; i < 49; i++) {
        if (out[i] != LG_NONE && (out[i] < 0 || (size_t)out[i] >= n))
            abort();
        if (verified && out[i] != lg__locate_exact(l, x[i], y[i]))
            abort();
    }
    if (verified)
        fz_check_layer(l);
    /* attributes, problems and rings must be readable even unverified */
    for (size_t r = 0; r < n && r < 64; r++) {
        size_t nr = lg_layer_ring_count(l, r);
        for (size_t q = 0; q < nr; q++) {
            const double *xy;
            size_t nv;
            if (lg_layer_ring(l, r, q, &xy, &nv) == LG_OK && nv)
                (void)(xy[0] + xy[2 * nv - 1]);
        }
        for (size_t f = 0; f < lg_layer_field_count(l); f++) {
            const char *s;
            if (lg_layer_get_text(l, f, r, &s) == LG_OK && s)
                (void)strlen(s);
        }
    }
    for (size_t i = 0; i < lg_layer_problem_count(l); i++) {
        const char *m = NULL;
        if (lg_layer_problem(l, i, NULL, NULL, NULL, NULL, &m) == LG_OK && m)
            (void)strlen(m);
    }
    (void)lg_layer_find_id(l, 3);
    (void)lg_layer_find_id_text(l, "3");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lg_context *ctx = NULL;
    if (lg_context_new(NULL, &ctx) != LG_OK)
        abort();
    for (int verify = 0; verify < 2; verify++) {
        lg_layer *l = NULL;
        lg_error e =
            lg_layer_read_snapshot(ctx, data, size, verify ? 0 : LG_SNAPSHOT_NO_VERIFY, &l);
        if (e == LG_OK) {
            if (!l)
                abort();
            query(l, verify);
            lg_layer_free(l);
        } else if (l || lg_context_message(ctx)[0] == '\0') {
            abort();
        }
    }
    lg_context_free(ctx);
    return 0;
}
