/* Checks run by several targets on every layer that loads. */
#ifndef LG_FUZZ_COMMON_H
#define LG_FUZZ_COMMON_H

#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Every accessor on every row, and locate at a few points of every cell's box
 * (corners, centre, first vertex) against the exact definition.
 */
static inline void fz_check_layer(const lg_layer *l)
{
    size_t n = lg_layer_count(l);
    double b[4];
    (void)lg_layer_bounds(l, b);
    (void)lg_layer_crs(l);
    size_t nf = lg_layer_field_count(l);
    for (size_t f = 0; f < nf; f++) {
        (void)lg_layer_field_name(l, f);
        lg_field_type t = lg_layer_field_type(l, f);
        for (size_t r = 0; r < n && r < 64; r++) {
            int64_t iv;
            double dv;
            const char *s;
            (void)lg_layer_is_null(l, f, r);
            if (t == LG_FIELD_TEXT && lg_layer_get_text(l, f, r, &s) == LG_OK && s)
                (void)strlen(s);
            (void)lg_layer_get_int(l, f, r, &iv);
            (void)lg_layer_get_real(l, f, r, &dv);
        }
    }
    for (size_t i = 0; i < lg_layer_problem_count(l); i++) {
        int64_t row;
        lg_problem_kind k;
        double x, y;
        const char *m = NULL;
        if (lg_layer_problem(l, i, &row, &k, &x, &y, &m) != LG_OK || !m)
            abort();
        (void)strlen(m);
    }
    for (size_t r = 0; r < n && r < 256; r++) {
        size_t nr = lg_layer_ring_count(l, r);
        for (size_t k = 0; k < nr; k++) {
            const double *xy;
            size_t nv;
            if (lg_layer_ring(l, r, k, &xy, &nv) != LG_OK)
                abort();
            /* rings are closed and have at least 4 vertices */
            if (nv < 4 || xy[0] != xy[2 * nv - 2] || xy[1] != xy[2 * nv - 1])
                abort();
        }
        size_t len = 0;
        if (lg_layer_cell_wkb(l, r, NULL, 0, &len) == LG_OK && len > 0 && len < (1u << 24)) {
            unsigned char *buf = malloc(len);
            size_t len2 = 0;
            if (!buf || lg_layer_cell_wkb(l, r, buf, len, &len2) != LG_OK || len2 != len)
                abort();
            free(buf);
        }
        double cb[4];
        if (!lg_layer_cell_bounds(l, r, cb))
            continue;
        double px[6] = {cb[0], cb[2], cb[0], cb[2], 0.5 * (cb[0] + cb[2]), 0};
        double py[6] = {cb[1], cb[1], cb[3], cb[3], 0.5 * (cb[1] + cb[3]), 0};
        int np = 5;
        if (nr > 0) {
            const double *xy;
            size_t nv;
            lg_layer_ring(l, r, 0, &xy, &nv);
            px[5] = xy[0];
            py[5] = xy[1];
            np = 6;
        }
        for (int i = 0; i < np; i++) {
            int64_t a = lg_layer_locate(l, px[i], py[i]);
            int64_t e = lg__locate_exact(l, px[i], py[i]);
            if (a != e) {
                fprintf(stderr, "locate(%.17g, %.17g) = %lld, exact %lld\n", px[i], py[i],
                        (long long)a, (long long)e);
                abort();
            }
            if (a != LG_NONE && (a < 0 || (size_t)a >= n))
                abort();
        }
    }
}

#endif
