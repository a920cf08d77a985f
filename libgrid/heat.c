/*
 * Heat (docs/COVERAGE.md): incidents counted per cell and group in a time window, and
 * hot spots by value or by value per km^2 of cell area (metres through the metric frame).
 */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 65536

static lg_error nomem(lg_context *ctx, const char *fn)
{
    return lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", fn);
}

/* -------------------------------------------------------------------- heat */

lg_error lg_heat_aggregate(lg_context *ctx, const lg_layer *layer, const double *x, const double *y,
                           size_t n, const lg_heat_options *opt, double *cell_sum,
                           double *group_sum, int64_t *cell_of, lg_heat_summary *sum)
{
    static const char fn[] = "lg_heat_aggregate";
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!layer || (n && (!x || !y)))
        return lg__fail(ctx, LG_ERR_ARG, "%s: layer, x and y are required", fn);
    lg_heat_options o = {0};
    if (opt)
        o = *opt;
    size_t nc = layer->ncells;
    if (o.time_i && o.time_d)
        return lg__fail(ctx, LG_ERR_ARG, "%s: give integer or double times, not both", fn);
    if (o.time_d && (isnan(o.t0_d) || isnan(o.t1_d)))
        return lg__fail(ctx, LG_ERR_ARG, "%s: time window [%g, %g) has a NaN end", fn, o.t0_d,
                        o.t1_d);
    lg_error e = lg__check_groups(ctx, fn, o.group, nc, o.n_groups);
    if (e)
        return e;
    if (group_sum && !o.group)
        return lg__fail(ctx, LG_ERR_ARG, "%s: group_sum needs opt->group", fn);
    for (size_t i = 0; o.weight && i < n; i++)
        if (!isfinite(o.weight[i]))
            return lg__fail(ctx, LG_ERR_ARG, "%s: incident %zu: weight %g is not finite", fn, i,
                            o.weight[i]);
    for (size_t i = 0; o.rows && i < n; i++)
        if (o.rows[i] < LG_NONE || (o.rows[i] >= 0 && (uint64_t)o.rows[i] >= nc))
            return lg__fail(ctx, LG_ERR_ARG, "%s: incident %zu: row %lld is not a cell or LG_NONE",
                            fn, i, (long long)o.rows[i]);
    size_t chunk = n < CHUNK ? n : CHUNK;
    double *tx = NULL, *ty = NULL;
    int64_t *tr = NULL;
    size_t *ti = NULL;
    if (!o.rows) {
        tx = lg__malloc(&ctx->alloc, (chunk + 1) * sizeof *tx);
        ty = lg__malloc(&ctx->alloc, (chunk + 1) * sizeof *ty);
        tr = lg__malloc(&ctx->alloc, (chunk + 1) * sizeof *tr);
        ti = lg__malloc(&ctx->alloc, (chunk + 1) * sizeof *ti);
        if (!tx || !ty || !tr || !ti) {
            e = nomem(ctx, fn);
            goto done;
        }
    }
    if (cell_sum)
        memset(cell_sum, 0, nc * sizeof *cell_sum);
    if (group_sum)
        memset(group_sum, 0, o.n_groups * sizeof *group_sum);
    lg_heat_summary s = {.incidents = n};
    bool windowed = o.time_i || o.time_d;
    for (size_t i0 = 0; i0 < n; i0 += CHUNK) {
        size_t i1 = n - i0 < CHUNK ? n : i0 + CHUNK, m = 0;
        for (size_t i = i0; i < i1; i++) {
            bool in = true;
            if (o.time_i)
                in = o.time_i[i] >= o.t0_i && o.time_i[i] < o.t1_i;
            else if (o.time_d)
                in = o.time_d[i] >= o.t0_d && o.time_d[i] < o.t1_d; /* NaN: false */
            if (cell_of)
                cell_of[i] = LG_NONE;
            if (!in)
                continue;
            s.in_window++;
            if (!o.rows) {
                if (windowed) {
                    tx[m] = x[i];
                    ty[m] = y[i];
                }
                ti[m++] = i;
            } else {
                int64_t r = o.rows[i];
                if (r == LG_NONE) {
                    s.outside++;
                    continue;
                }
                double v = o.weight ? o.weight[i] : 1.0;
                s.located++;
                s.total += v;
                if (cell_sum)
                    cell_sum[r] += v;
                if (group_sum && o.group[r] != LG_NONE)
                    group_sum[o.group[r]] += v;
                if (cell_of)
                    cell_of[i] = r;
            }
        }
        if (o.rows || !m)
            continue;
        /* without a window the chunk is contiguous: locate in place, no copy */
        if (windowed)
            lg_layer_locate_many(layer, tx, ty, m, tr);
        else
            lg_layer_locate_many(layer, x + i0, y + i0, m, tr);
        for (size_t k = 0; k < m; k++) {
            int64_t r = tr[k];
            size_t i = ti[k];
            if (r == LG_NONE) {
                s.outside++;
                continue;
            }
            double v = o.weight ? o.weight[i] : 1.0;
            s.located++;
            s.total += v;
            if (cell_sum)
                cell_sum[r] += v;
            if (group_sum && o.group[r] != LG_NONE)
                group_sum[o.group[r]] += v;
            if (cell_of)
                cell_of[i] = r;
        }
        if (!lg__progress(ctx, i1, n)) {
            e = LG_ERR_CANCELLED;
            goto done;
        }
    }
    if (sum)
        *sum = s;
done:
    lg__free(&ctx->alloc, tx);
    lg__free(&ctx->alloc, ty);
    lg__free(&ctx->alloc, tr);
    lg__free(&ctx->alloc, ti);
    return e;
}

typedef struct rank_ent {
    double v;
    int64_t row;
} rank_ent;

static int cmp_rank(const void *pa, const void *pb)
{
    const rank_ent *a = pa, *b = pb;
    if (a->v != b->v)
        return a->v > b->v ? -1 : 1;
    return (a->row > b->row) - (a->row < b->row);
}

lg_error lg_heat_top(lg_context *ctx, const lg_layer *layer, const double *value, size_t k,
                     lg_heat_rank rank, int64_t *rows, double *score, size_t *n)
{
    static const char fn[] = "lg_heat_top";
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!layer || !value || !n || (k && !rows && !score))
        return lg__fail(ctx, LG_ERR_ARG, "%s: layer, value, n and rows or score are required", fn);
    if (rank != LG_HEAT_BY_VALUE && rank != LG_HEAT_BY_DENSITY)
        return lg__fail(ctx, LG_ERR_ARG, "%s: unknown ranking %d", fn, (int)rank);
    *n = 0;
    if (rank == LG_HEAT_BY_DENSITY) {
        /* per km^2: cell areas in m^2 (lg_layer_centroids: geodesic on lon/lat) */
        const lg__metric *mf = NULL;
        lg_error e = lg__metric_get(ctx, layer, &mf);
        if (e)
            return e;
        if (mf->kind == LG_UNITS_UNKNOWN)
            return lg__fail(ctx, LG_ERR_CRS, "%s: density per km^2 needs cell areas: %s", fn,
                            mf->reason);
    }
    size_t nc = layer->ncells, m = 0;
    double *area = NULL;
    rank_ent *r = lg__malloc(&ctx->alloc, (nc + 1) * sizeof *r);
    if (rank == LG_HEAT_BY_DENSITY)
        area = lg__malloc(&ctx->alloc, (nc + 1) * sizeof *area);
    if (!r || (rank == LG_HEAT_BY_DENSITY && !area)) {
        lg__free(&ctx->alloc, r);
        lg__free(&ctx->alloc, area);
        return nomem(ctx, fn);
    }
    if (area)
        lg_layer_centroids(layer, NULL, NULL, area);
    for (size_t i = 0; i < nc; i++) {
        double v = value[i];
        if (area)
            v = (isfinite(area[i]) && area[i] > 0) ? v / (area[i] * 1e-6) : NAN;
        if (isnan(v) || v == 0)
            continue;
        r[m++] = (rank_ent){v, (int64_t)i};
    }
    qsort(r, m, sizeof *r, cmp_rank);
    for (size_t j = 0; j < k && j < m; j++) {
        if (rows)
            rows[j] = r[j].row;
        if (score)
            score[j] = r[j].v;
        (*n)++;
    }
    lg__free(&ctx->alloc, r);
    lg__free(&ctx->alloc, area);
    return LG_OK;
}
