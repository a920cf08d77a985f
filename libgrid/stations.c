/*
 * Stations: jurisdictions, workload, station classes (central / base / border), plan
 * validation and the one-call hierarchy lookup.
 *
 * Classification
 *  1. Border stations: the length of the jurisdiction's boundary lying within gap of
 *     the region boundary (or within gap of a neighbouring county) is measured with
 *     GEOS: length(boundary(J) ∩ buffer(boundary(R), gap)), and the station is a
 *     border station when it reaches border_min_m. The default region is the union
 *     of all jurisdictions, closed by +gap/-gap buffers so that slivers between
 *     jurisdictions do not count as outline. Holes of the region are boundary too.
 *  2. The other ("inner") stations are split into stars: a central station and
 *     min_bases..max_bases base stations adjacent to it (station adjacency graph).
 *     Construction, greedy: repeatedly take the unassigned station with the fewest
 *     unassigned neighbours (the hardest to cover), and found a group of exactly
 *     1 + min_bases stations around the highest-scoring possible centre among it and
 *     its neighbours, taking the neediest neighbours as bases; this makes as many
 *     groups as it can (Qianjiang: 19 inner stations -> 9 groups). A station left
 *     with no unassigned neighbour joins an adjacent group that stays a star within
 *     max_bases (the lightest such group), or takes a member of an adjacent group
 *     whose remainder stays valid or can itself be rehomed (ejection chains of depth
 *     3, undone when they fail).
 *  3. Balance, local search: moves of a base to an adjacent group and swaps of two
 *     members between groups, accepted while they lower the sum of squared group
 *     workloads (fixed group count and total, so this pairs strong with weak). The
 *     central station of each group is its highest-scoring possible star centre.
 *  Everything iterates in row order with ties broken by row: deterministic.
 *  Infeasible inputs are explained: an inner station with no inner neighbour
 *  (LG_PLAN_ISOLATED), a connected set of inner stations whose size no sum of group
 *  sizes 1+min..1+max equals (LG_PLAN_COMPONENT_SIZE), or a station the search could
 *  not place (LG_PLAN_UNPLACED); such stations become central stations without
 *  bases in the best plan returned, and the validator's findings follow.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_BORDER_MIN_M 100.0
#define DEFAULT_BORDER_GAP_M 2.0
#define ATTACH_DEPTH 3
#define BALANCE_PASSES 100

/* ---------------------------------------------------------------- problems */

typedef struct prob_rec {
    lg_plan_problem_code code;
    int64_t row, related;
    char *msg;
} prob_rec;

struct lg_plan_problems {
    lg_allocator alloc;
    prob_rec *v;
    size_t n, cap;
};

static lg_plan_problems *probs_new(const lg_allocator *a)
{
    lg_plan_problems *p = lg__calloc(a, 1, sizeof *p);
    if (p)
        p->alloc = *a;
    return p;
}

void lg_plan_problems_free(lg_plan_problems *p)
{
    if (!p)
        return;
    lg_allocator a = p->alloc;
    for (size_t i = 0; i < p->n; i++)
        lg__free(&a, p->v[i].msg);
    lg__free(&a, p->v);
    lg__free(&a, p);
}

size_t lg_plan_problems_count(const lg_plan_problems *p)
{
    return p ? p->n : 0;
}

size_t lg_plan_problems_count_code(const lg_plan_problems *p, lg_plan_problem_code code)
{
    size_t k = 0;
    for (size_t i = 0; p && i < p->n; i++)
        k += p->v[i].code == code;
    return k;
}

lg_error lg_plan_problems_get(const lg_plan_problems *p, size_t i, lg_plan_problem_code *code,
                              int64_t *row, int64_t *related, const char **message)
{
    if (!p || i >= p->n)
        return LG_ERR_ARG;
    if (code)
        *code = p->v[i].code;
    if (row)
        *row = p->v[i].row;
    if (related)
        *related = p->v[i].related;
    if (message)
        *message = p->v[i].msg;
    return LG_OK;
}

static lg_error probs_add(lg_plan_problems *p, lg_plan_problem_code code, int64_t row,
                          int64_t related, const char *fmt, ...) LG_PRINTF(5, 6);
static lg_error probs_add(lg_plan_problems *p, lg_plan_problem_code code, int64_t row,
                          int64_t related, const char *fmt, ...)
{
    if (lg__grow(&p->alloc, (void **)&p->v, &p->cap, p->n + 1, sizeof *p->v))
        return LG_ERR_NOMEM;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *m = lg__strdup(&p->alloc, buf);
    if (!m)
        return LG_ERR_NOMEM;
    p->v[p->n++] = (prob_rec){code, row, related, m};
    return LG_OK;
}

/* ---------------------------------------------------------------- stations */

struct lg_stations {
    lg_allocator alloc;
    size_t n;
    const lg_layer *cells; /* borrowed, may be NULL */
    const lg_layer *jur;   /* jurisdictions: borrowed station layer or jur_owned */
    lg_layer *jur_owned;
    size_t ncells;
    int64_t *cell_station; /* ncells */
    size_t *cell_count;    /* n */
    double *px, *py;       /* n each, or NULL */
    char **names;          /* n */
    size_t nfields;
    char **field_names;
    double *work;         /* nfields * n: work[f * n + s] */
    lg_graph *graph;      /* stations */
    lg_graph *cell_graph; /* cells, or NULL */
    double gap_m;
};

void lg_stations_free(lg_stations *st)
{
    if (!st)
        return;
    lg_allocator a = st->alloc;
    lg_layer_free(st->jur_owned);
    lg__free(&a, st->cell_station);
    lg__free(&a, st->cell_count);
    lg__free(&a, st->px);
    lg__free(&a, st->py);
    for (size_t i = 0; st->names && i < st->n; i++)
        lg__free(&a, st->names[i]);
    lg__free(&a, st->names);
    for (size_t f = 0; st->field_names && f < st->nfields; f++)
        lg__free(&a, st->field_names[f]);
    lg__free(&a, st->field_names);
    lg__free(&a, st->work);
    lg_graph_free(st->graph);
    lg_graph_free(st->cell_graph);
    lg__free(&a, st);
}

size_t lg_stations_count(const lg_stations *st)
{
    return st ? st->n : 0;
}

const char *lg_stations_name(const lg_stations *st, size_t row)
{
    return (st && row < st->n) ? st->names[row] : NULL;
}

bool lg_stations_point(const lg_stations *st, size_t row, double *x, double *y)
{
    if (!st || row >= st->n || !st->px)
        return false;
    if (x)
        *x = st->px[row];
    if (y)
        *y = st->py[row];
    return true;
}

const lg_layer *lg_stations_jurisdictions(const lg_stations *st)
{
    return st ? st->jur : NULL;
}

const lg_layer *lg_stations_cells(const lg_stations *st)
{
    return st ? st->cells : NULL;
}

const int64_t *lg_stations_cell_station(const lg_stations *st)
{
    return st ? st->cell_station : NULL;
}

size_t lg_stations_cell_count(const lg_stations *st, size_t row)
{
    return (st && st->cell_count && row < st->n) ? st->cell_count[row] : 0;
}

const lg_graph *lg_stations_graph(const lg_stations *st)
{
    return st ? st->graph : NULL;
}

const lg_graph *lg_stations_cell_graph(const lg_stations *st)
{
    return st ? st->cell_graph : NULL;
}

size_t lg_stations_field_count(const lg_stations *st)
{
    return st ? st->nfields : 0;
}

const char *lg_stations_field_name(const lg_stations *st, size_t f)
{
    return (st && f < st->nfields) ? st->field_names[f] : NULL;
}

const double *lg_stations_workload(const lg_stations *st, size_t f)
{
    return (st && f < st->nfields) ? st->work + f * st->n : NULL;
}

static lg_error nomem(lg_context *ctx, const char *fn)
{
    return lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", fn);
}

/* Allocate the per-station arrays of st (n stations). */
static lg_error st_alloc(lg_context *ctx, const char *fn, lg_stations *st)
{
    const lg_allocator *a = &st->alloc;
    st->names = lg__calloc(a, st->n ? st->n : 1, sizeof *st->names);
    st->cell_count = lg__calloc(a, st->n ? st->n : 1, sizeof *st->cell_count);
    if (!st->names || !st->cell_count)
        return nomem(ctx, fn);
    return LG_OK;
}

/* Copy the station points of the options, if any. */
static lg_error st_points(lg_context *ctx, const char *fn, lg_stations *st,
                          const lg_stations_options *o)
{
    const lg_allocator *a = &st->alloc;
    if (o->x || o->y) {
        if (!o->x || !o->y)
            return lg__fail(ctx, LG_ERR_ARG, "%s: station points need both x and y", fn);
        if (o->n_points != st->n)
            return lg__fail(ctx, LG_ERR_ARG, "%s: %zu station points for %zu stations", fn,
                            o->n_points, st->n);
        st->px = lg__malloc(a, (st->n ? st->n : 1) * sizeof *st->px);
        st->py = lg__malloc(a, (st->n ? st->n : 1) * sizeof *st->py);
        if (!st->px || !st->py)
            return nomem(ctx, fn);
        for (size_t i = 0; i < st->n; i++) {
            if (!isfinite(o->x[i]) || !isfinite(o->y[i]))
                return lg__fail(ctx, LG_ERR_ARG, "%s: station point %zu is not finite", fn, i);
            st->px[i] = o->x[i];
            st->py[i] = o->y[i];
        }
    }
    return LG_OK;
}

static bool is_numeric(const lg_layer *l, size_t f)
{
    lg_field_type t = lg_layer_field_type(l, f);
    return t == LG_FIELD_INT || t == LG_FIELD_REAL;
}

/*
 * Workload fields: from the station layer (may be NULL) when it has the field, else
 * summed over the cells (may be NULL). skip_field: a cells field never taken by default.
 */
static lg_error st_workload(lg_context *ctx, const char *fn, lg_stations *st,
                            const lg_stations_options *o, const lg_layer *slayer,
                            const lg_layer *cells, int64_t skip_field)
{
    const lg_allocator *a = &st->alloc;
    size_t nf = 0;
    const char **names = NULL;
    if (o->fields) {
        nf = o->n_fields;
        names = lg__calloc(a, nf ? nf : 1, sizeof *names);
        if (!names)
            return nomem(ctx, fn);
        for (size_t i = 0; i < nf; i++)
            names[i] = o->fields[i];
    } else {
        /* the station layer's numeric fields, then the cells' ones it lacks */
        size_t total =
            (slayer ? lg_layer_field_count(slayer) : 0) + (cells ? lg_layer_field_count(cells) : 0);
        names = lg__calloc(a, total ? total : 1, sizeof *names);
        if (!names)
            return nomem(ctx, fn);
        for (int pass = 0; pass < 2; pass++) {
            const lg_layer *src = pass ? cells : slayer;
            if (!src)
                continue;
            int64_t idf = lg_layer_id_field(src);
            for (size_t f = 0; f < lg_layer_field_count(src); f++) {
                if (!is_numeric(src, f) || (int64_t)f == idf || (pass && (int64_t)f == skip_field))
                    continue;
                const char *nm = lg_layer_field_name(src, f);
                bool dup = false;
                for (size_t i = 0; i < nf && !dup; i++)
                    dup = strcmp(names[i], nm) == 0;
                if (!dup)
                    names[nf++] = nm;
            }
        }
    }
    st->nfields = nf;
    st->field_names = lg__calloc(a, nf ? nf : 1, sizeof *st->field_names);
    st->work = lg__calloc(a, (nf ? nf : 1) * (st->n ? st->n : 1), sizeof *st->work);
    lg_error err = LG_OK;
    if (!st->field_names || !st->work) {
        err = nomem(ctx, fn);
        goto done;
    }
    for (size_t i = 0; i < nf; i++) {
        if (!names[i]) {
            err = lg__fail(ctx, LG_ERR_ARG, "%s: workload field %zu is NULL", fn, i);
            goto done;
        }
        if (!(st->field_names[i] = lg__strdup(a, names[i]))) {
            err = nomem(ctx, fn);
            goto done;
        }
        double *w = st->work + i * st->n;
        size_t f;
        if (slayer && lg_layer_field_index(slayer, names[i], &f) == LG_OK) {
            if (!is_numeric(slayer, f)) {
                err = lg__fail(ctx, LG_ERR_ARG, "%s: station field '%s' is not numeric", fn,
                               names[i]);
                goto done;
            }
            for (size_t s = 0; s < st->n; s++) {
                double v = 0;
                if (!lg_layer_is_null(slayer, f, s))
                    lg_layer_get_real(slayer, f, s, &v);
                w[s] = v;
            }
        } else if (cells && lg_layer_field_index(cells, names[i], &f) == LG_OK) {
            if (!is_numeric(cells, f)) {
                err = lg__fail(ctx, LG_ERR_ARG, "%s: cell field '%s' is not numeric", fn, names[i]);
                goto done;
            }
            for (size_t c = 0; c < st->ncells; c++) {
                int64_t s = st->cell_station[c];
                double v = 0;
                if (s >= 0 && !lg_layer_is_null(cells, f, c) &&
                    lg_layer_get_real(cells, f, c, &v) == LG_OK)
                    w[s] += v;
            }
        } else {
            err = lg__fail(ctx, LG_ERR_NOT_FOUND, "%s: no workload field '%s' in the %s", fn,
                           names[i], slayer ? "station layer or the cells" : "cells");
            goto done;
        }
        for (size_t s = 0; s < st->n; s++)
            if (!isfinite(w[s])) {
                err = lg__fail(ctx, LG_ERR_ARG, "%s: workload '%s' of station %s is not finite", fn,
                               names[i], st->names[s]);
                goto done;
            }
    }
done:
    lg__free(a, names);
    return err;
}

/*
 * Union of a collection (consumed). Coverage union first (linear time, exact-edge
 * data), kept only when GEOS finds the result valid; otherwise the general union.
 * *coverage (may be NULL) tells which one was used.
 */
static GEOSGeometry *union_coll(GEOSContextHandle_t h, GEOSGeometry *coll, bool *coverage)
{
    if (coverage)
        *coverage = false;
    GEOSGeometry *u = GEOSCoverageUnion_r(h, coll);
    if (u && GEOSisValid_r(h, u) == 1) {
        if (coverage)
            *coverage = true;
    } else {
        if (u)
            GEOSGeom_destroy_r(h, u);
        u = GEOSUnaryUnion_r(h, coll);
    }
    GEOSGeom_destroy_r(h, coll);
    return u;
}

/* Jurisdictions: the GEOS union of each station's cells, as a layer. */
static lg_error st_union(lg_context *ctx, const char *fn, lg_stations *st)
{
    const lg_allocator *a = &st->alloc;
    GEOSContextHandle_t h = lg__geos(ctx);
    if (!h)
        return LG_ERR_INTERNAL;
    /* cells grouped by station: counting sort */
    size_t *start = lg__calloc(a, st->n + 1, sizeof *start);
    size_t *order = lg__malloc(a, (st->ncells ? st->ncells : 1) * sizeof *order);
    GEOSGeometry **parts = NULL;
    lg_builder *b = NULL;
    lg_error err = LG_OK;
    if (!start || !order) {
        err = nomem(ctx, fn);
        goto done;
    }
    for (size_t c = 0; c < st->ncells; c++)
        if (st->cell_station[c] >= 0)
            start[st->cell_station[c] + 1]++;
    for (size_t s = 0; s < st->n; s++)
        start[s + 1] += start[s];
    size_t maxk = 0;
    for (size_t s = 0; s < st->n; s++)
        if (start[s + 1] - start[s] > maxk)
            maxk = start[s + 1] - start[s];
    {
        size_t *fill = lg__calloc(a, st->n ? st->n : 1, sizeof *fill);
        if (!fill) {
            err = nomem(ctx, fn);
            goto done;
        }
        for (size_t c = 0; c < st->ncells; c++) {
            int64_t s = st->cell_station[c];
            if (s >= 0)
                order[start[s] + fill[s]++] = c;
        }
        lg__free(a, fill);
    }
    parts = lg__calloc(a, maxk ? maxk : 1, sizeof *parts);
    if (!parts) {
        err = nomem(ctx, fn);
        goto done;
    }
    if ((err = lgb_new(ctx, "jurisdictions", LG_LOAD_NO_VALIDATE, &b)))
        goto done;
    for (size_t s = 0; s < st->n; s++) {
        if ((err = lgb_begin_cell(b)))
            goto done;
        size_t k = start[s + 1] - start[s];
        if (k) {
            for (size_t i = 0; i < k; i++) {
                parts[i] = lg__cell_to_geos(h, st->cells, order[start[s] + i]);
                if (!parts[i]) {
                    for (size_t j = 0; j < i; j++)
                        GEOSGeom_destroy_r(h, parts[j]);
                    err = lg__fail(ctx, LG_ERR_INTERNAL, "%s: cell %zu: GEOS failed: %s", fn,
                                   order[start[s] + i], ctx->geos_msg);
                    goto done;
                }
            }
            GEOSGeometry *coll =
                GEOSGeom_createCollection_r(h, GEOS_GEOMETRYCOLLECTION, parts, (unsigned)k);
            if (!coll) {
                for (size_t j = 0; j < k; j++)
                    GEOSGeom_destroy_r(h, parts[j]);
                err = lg__fail(ctx, LG_ERR_INTERNAL, "%s: GEOS failed: %s", fn, ctx->geos_msg);
                goto done;
            }
            GEOSGeometry *u = union_coll(h, coll, NULL);
            if (!u) {
                err = lg__fail(ctx, LG_ERR_GEOMETRY,
                               "%s: station %s: the union of its %zu cells failed: %s", fn,
                               st->names[s], k, ctx->geos_msg);
                goto done;
            }
            err = lgb_add_geos(b, h, u);
            GEOSGeom_destroy_r(h, u);
            if (err)
                goto done;
        }
        if ((err = lgb_end_cell(b)))
            goto done;
    }
    err = lgb_finish(b, lg_layer_crs(st->cells), NULL, &st->jur_owned);
    b = NULL;
    if (!err)
        st->jur = st->jur_owned;
done:
    lgb_free(b);
    lg__free(a, start);
    lg__free(a, order);
    lg__free(a, parts);
    return err;
}

/* Text station names of cells -> rows, in order of first appearance (hash table). */
static lg_error text_rows(lg_context *ctx, const char *fn, lg_stations *st, const lg_layer *cells,
                          size_t f)
{
    const lg_allocator *a = &st->alloc;
    size_t cap = 16;
    while (cap < 2 * st->ncells + 2)
        cap *= 2;
    int64_t *slot = lg__malloc(a, cap * sizeof *slot); /* cell row of the first holder */
    int64_t *first = lg__malloc(a, (st->ncells ? st->ncells : 1) * sizeof *first);
    if (!slot || !first) {
        lg__free(a, slot);
        lg__free(a, first);
        return nomem(ctx, fn);
    }
    memset(slot, 0xff, cap * sizeof *slot);
    size_t n = 0;
    for (size_t c = 0; c < st->ncells; c++) {
        const char *s = NULL;
        st->cell_station[c] = LG_NONE;
        if (lg_layer_is_null(cells, f, c) || lg_layer_get_text(cells, f, c, &s) || !s || !*s)
            continue;
        uint64_t hsh = 1469598103934665603ull;
        for (const char *p = s; *p; p++)
            hsh = (hsh ^ (unsigned char)*p) * 1099511628211ull;
        size_t i = (size_t)hsh & (cap - 1);
        for (;; i = (i + 1) & (cap - 1)) {
            if (slot[i] < 0) {
                slot[i] = (int64_t)c;
                first[n] = (int64_t)c;
                st->cell_station[c] = (int64_t)n++;
                break;
            }
            const char *t = NULL;
            lg_layer_get_text(cells, f, (size_t)slot[i], &t);
            if (strcmp(s, t) == 0) {
                st->cell_station[c] = st->cell_station[slot[i]];
                break;
            }
        }
    }
    lg__free(a, slot);
    st->n = n;
    lg_error err = st_alloc(ctx, fn, st);
    for (size_t i = 0; !err && i < n; i++) {
        const char *s = NULL;
        lg_layer_get_text(cells, f, (size_t)first[i], &s);
        if (!(st->names[i] = lg__strdup(a, s)))
            err = nomem(ctx, fn);
    }
    lg__free(a, first);
    return err;
}

static lg_error st_finish_common(lg_context *ctx, const char *fn, lg_stations *st,
                                 const lg_stations_options *o)
{
    if (st->cells)
        for (size_t c = 0; c < st->ncells; c++)
            if (st->cell_station[c] >= 0)
                st->cell_count[st->cell_station[c]]++;
    lg_error err = LG_OK;
    if (st->cells && (err = lg_layer_adjacency(ctx, st->cells, &o->adjacency, &st->cell_graph)))
        return err;
    return err;
}

lg_error lg_stations_from_cells(lg_context *ctx, const lg_layer *cells, const char *station_field,
                                const lg_stations_options *opt, lg_stations **out)
{
    static const char fn[] = "lg_stations_from_cells";
    lg__clear(ctx);
    if (!ctx || !cells || !station_field || !out)
        return lg__fail(ctx, LG_ERR_ARG, "%s: NULL argument", fn);
    *out = NULL;
    lg_stations_options o = {0};
    if (opt)
        o = *opt;
    size_t f;
    if (lg_layer_field_index(cells, station_field, &f))
        return lg__fail(ctx, LG_ERR_NOT_FOUND, "%s: the cells have no station field '%s'", fn,
                        station_field);
    lg_field_type ft = lg_layer_field_type(cells, f);
    lg_stations *st = lg__calloc(&ctx->alloc, 1, sizeof *st);
    if (!st)
        return nomem(ctx, fn);
    st->alloc = ctx->alloc;
    st->cells = cells;
    st->ncells = lg_layer_count(cells);
    lg_error err = LG_OK;
    st->cell_station = lg__malloc(&st->alloc, (st->ncells ? st->ncells : 1) * sizeof(int64_t));
    if (!st->cell_station) {
        err = nomem(ctx, fn);
        goto fail;
    }
    if (ft == LG_FIELD_TEXT) {
        if ((err = text_rows(ctx, fn, st, cells, f)))
            goto fail;
        if (o.n_stations && o.n_stations != st->n) {
            err = lg__fail(ctx, LG_ERR_ARG,
                           "%s: option n_stations = %zu but the cells name %zu stations", fn,
                           o.n_stations, st->n);
            goto fail;
        }
    } else {
        int64_t maxv = -1;
        for (size_t c = 0; c < st->ncells; c++) {
            int64_t v = LG_NONE;
            if (!lg_layer_is_null(cells, f, c) && lg_layer_get_int(cells, f, c, &v)) {
                err = lg__fail(ctx, LG_ERR_ARG,
                               "%s: cells: record %zu: station field '%s' is not an integer", fn, c,
                               station_field);
                goto fail;
            }
            if (v < 0)
                v = LG_NONE;
            if (o.n_stations && v >= 0 && (uint64_t)v >= o.n_stations) {
                err = lg__fail(ctx, LG_ERR_ARG,
                               "%s: cells: record %zu: station %lld is out of range (%zu "
                               "stations)",
                               fn, c, (long long)v, o.n_stations);
                goto fail;
            }
            if (v > maxv)
                maxv = v;
            st->cell_station[c] = v;
        }
        st->n = o.n_stations ? o.n_stations : (size_t)(maxv + 1);
    }
    if (ft != LG_FIELD_TEXT) {
        if ((err = st_alloc(ctx, fn, st)))
            goto fail;
        for (size_t s = 0; s < st->n; s++) {
            char buf[32];
            snprintf(buf, sizeof buf, "%zu", s);
            if (!(st->names[s] = lg__strdup(&st->alloc, buf))) {
                err = nomem(ctx, fn);
                goto fail;
            }
        }
    }
    if ((err = st_points(ctx, fn, st, &o)) || (err = st_finish_common(ctx, fn, st, &o)))
        goto fail;
    if ((err = lg_graph_contract(ctx, st->cell_graph, st->cell_station, st->ncells, st->n,
                                 &st->graph)))
        goto fail;
    if ((err = st_workload(ctx, fn, st, &o, NULL, cells, (int64_t)f)))
        goto fail;
    if ((err = st_union(ctx, fn, st)))
        goto fail;
    st->gap_m = o.adjacency.gap_m;
    *out = st;
    return LG_OK;
fail:
    lg_stations_free(st);
    return err;
}

lg_error lg_stations_from_layer(lg_context *ctx, const lg_layer *stations, const lg_layer *cells,
                                const char *station_field, const lg_stations_options *opt,
                                lg_stations **out)
{
    static const char fn[] = "lg_stations_from_layer";
    lg__clear(ctx);
    if (!ctx || !stations || !out || (cells && !station_field))
        return lg__fail(ctx, LG_ERR_ARG, "%s: NULL argument", fn);
    *out = NULL;
    lg_stations_options o = {0};
    if (opt)
        o = *opt;
    size_t f = 0;
    if (cells && lg_layer_field_index(cells, station_field, &f))
        return lg__fail(ctx, LG_ERR_NOT_FOUND, "%s: the cells have no station field '%s'", fn,
                        station_field);
    lg_stations *st = lg__calloc(&ctx->alloc, 1, sizeof *st);
    if (!st)
        return nomem(ctx, fn);
    st->alloc = ctx->alloc;
    st->n = lg_layer_count(stations);
    st->jur = stations;
    st->cells = cells;
    st->ncells = cells ? lg_layer_count(cells) : 0;
    lg_error err;
    if ((err = st_alloc(ctx, fn, st)) || (err = st_points(ctx, fn, st, &o)))
        goto fail;
    int64_t idf = lg_layer_id_field(stations);
    for (size_t s = 0; s < st->n; s++) {
        char buf[32];
        const char *name = buf;
        int64_t iv = (int64_t)s;
        snprintf(buf, sizeof buf, "%zu", s);
        if (idf >= 0 && !lg_layer_is_null(stations, (size_t)idf, s)) {
            if (lg_layer_field_type(stations, (size_t)idf) == LG_FIELD_TEXT)
                lg_layer_get_text(stations, (size_t)idf, s, &name);
            else if (lg_layer_get_int(stations, (size_t)idf, s, &iv) == LG_OK)
                snprintf(buf, sizeof buf, "%lld", (long long)iv);
        }
        if (!(st->names[s] = lg__strdup(&st->alloc, name))) {
            err = nomem(ctx, fn);
            goto fail;
        }
    }
    if (cells) {
        st->cell_station = lg__malloc(&st->alloc, (st->ncells ? st->ncells : 1) * sizeof(int64_t));
        if (!st->cell_station) {
            err = nomem(ctx, fn);
            goto fail;
        }
        bool text = lg_layer_field_type(cells, f) == LG_FIELD_TEXT;
        for (size_t c = 0; c < st->ncells; c++) {
            st->cell_station[c] = LG_NONE;
            if (lg_layer_is_null(cells, f, c))
                continue;
            int64_t row;
            if (text) {
                const char *s = NULL;
                lg_layer_get_text(cells, f, c, &s);
                row = lg_layer_find_id_text(stations, s);
                if (row < 0) {
                    err = lg__fail(ctx, LG_ERR_NOT_FOUND,
                                   "%s: cells: record %zu: station '%s' is not in the station "
                                   "layer",
                                   fn, c, s);
                    goto fail;
                }
            } else {
                int64_t v;
                if (lg_layer_get_int(cells, f, c, &v)) {
                    err = lg__fail(ctx, LG_ERR_ARG,
                                   "%s: cells: record %zu: station field '%s' is not an integer",
                                   fn, c, station_field);
                    goto fail;
                }
                row = lg_layer_find_id(stations, v);
                if (row < 0) {
                    err = lg__fail(ctx, LG_ERR_NOT_FOUND,
                                   "%s: cells: record %zu: station %lld is not in the station "
                                   "layer",
                                   fn, c, (long long)v);
                    goto fail;
                }
            }
            st->cell_station[c] = row;
        }
    }
    if ((err = st_finish_common(ctx, fn, st, &o)))
        goto fail;
    if ((err = lg_layer_adjacency(ctx, stations, &o.adjacency, &st->graph)))
        goto fail;
    if ((err = st_workload(ctx, fn, st, &o, stations, cells, cells ? (int64_t)f : LG_NONE)))
        goto fail;
    st->gap_m = o.adjacency.gap_m;
    *out = st;
    return LG_OK;
fail:
    lg_stations_free(st);
    return err;
}

/* ------------------------------------------------------------------ borders */

typedef struct copts {
    lg_classify_options o;
    size_t *wf; /* workload field indices */
    double *ww;
    size_t nw;
} copts;

static lg_error resolve_opts(lg_context *ctx, const char *fn, const lg_stations *st,
                             const lg_classify_options *opt, copts *c)
{
    memset(c, 0, sizeof *c);
    if (opt)
        c->o = *opt;
    lg_classify_options *o = &c->o;
    if (!(o->border_min_m >= 0) || !isfinite(o->border_min_m))
        return lg__fail(ctx, LG_ERR_ARG, "%s: option border_min_m = %g is not >= 0", fn,
                        o->border_min_m);
    if (!(o->border_gap_m >= 0) || !isfinite(o->border_gap_m))
        return lg__fail(ctx, LG_ERR_ARG, "%s: option border_gap_m = %g is not >= 0", fn,
                        o->border_gap_m);
    if (o->border_min_m == 0)
        o->border_min_m = DEFAULT_BORDER_MIN_M;
    if (o->border_gap_m == 0)
        o->border_gap_m = DEFAULT_BORDER_GAP_M;
    if (o->min_bases == 0)
        o->min_bases = 1;
    if (o->max_bases == 0)
        o->max_bases = o->min_bases > 2 ? o->min_bases : 2;
    if (o->max_bases < o->min_bases)
        return lg__fail(ctx, LG_ERR_ARG, "%s: option max_bases = %zu is below min_bases = %zu", fn,
                        o->max_bases, o->min_bases);
    if (o->max_bases > st->n)
        o->max_bases = st->n ? st->n : 1;
    if (o->min_bases > o->max_bases)
        o->min_bases = o->max_bases;
    const lg_allocator *a = &st->alloc;
    c->nw = o->workload ? o->n_workload : st->nfields;
    c->wf = lg__calloc(a, c->nw ? c->nw : 1, sizeof *c->wf);
    c->ww = lg__calloc(a, c->nw ? c->nw : 1, sizeof *c->ww);
    if (!c->wf || !c->ww)
        return nomem(ctx, fn);
    for (size_t i = 0; i < c->nw; i++) {
        if (o->workload) {
            size_t f = st->nfields;
            for (size_t k = 0; k < st->nfields; k++)
                if (o->workload[i] && strcmp(st->field_names[k], o->workload[i]) == 0)
                    f = k;
            if (f == st->nfields)
                return lg__fail(ctx, LG_ERR_NOT_FOUND,
                                "%s: workload field '%s' is not one of the stations' fields", fn,
                                o->workload[i] ? o->workload[i] : "(null)");
            c->wf[i] = f;
        } else {
            c->wf[i] = i;
        }
        c->ww[i] = o->weights ? o->weights[i] : 1.0;
        if (!isfinite(c->ww[i]))
            return lg__fail(ctx, LG_ERR_ARG, "%s: weight %zu is not finite", fn, i);
    }
    return LG_OK;
}

static void copts_free(const lg_stations *st, copts *c)
{
    lg__free(&st->alloc, c->wf);
    lg__free(&st->alloc, c->ww);
}

/* Union of all polygons of a layer (NULL on failure, message set). */
static GEOSGeometry *layer_union(lg_context *ctx, GEOSContextHandle_t h, const lg_layer *l,
                                 bool *coverage)
{
    size_t n = lg_layer_count(l);
    GEOSGeometry **g = lg__calloc(&ctx->alloc, n ? n : 1, sizeof *g);
    if (!g) {
        nomem(ctx, "stations");
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (!(g[i] = lg__cell_to_geos(h, l, i))) {
            for (size_t j = 0; j < i; j++)
                GEOSGeom_destroy_r(h, g[j]);
            lg__free(&ctx->alloc, g);
            lg__fail(ctx, LG_ERR_INTERNAL, "row %zu: GEOS failed: %s", i, ctx->geos_msg);
            return NULL;
        }
    GEOSGeometry *coll = GEOSGeom_createCollection_r(h, GEOS_GEOMETRYCOLLECTION, g, (unsigned)n);
    lg__free(&ctx->alloc, g);
    GEOSGeometry *u = coll ? union_coll(h, coll, coverage) : NULL;
    if (!u)
        lg__fail(ctx, LG_ERR_GEOMETRY, "the union of %zu polygons failed: %s", n, ctx->geos_msg);
    return u;
}

/*
 * Linework cut into chunks of at most CHUNK vertices, with an R-tree of their boxes, so
 * that each station meets only the outline near it.
 */
#define CHUNK 32

typedef struct chunks {
    GEOSGeometry **g;
    size_t n, cap;
    lg_rtree *tree;
} chunks;

static void chunks_free(GEOSContextHandle_t h, const lg_allocator *a, chunks *c)
{
    for (size_t i = 0; i < c->n; i++)
        GEOSGeom_destroy_r(h, c->g[i]);
    lg__free(a, c->g);
    lg_rtree_free(c->tree);
    memset(c, 0, sizeof *c);
}

/* Add the lines of g (any lineal or polygonal geometry: its boundary) as chunks. */
static int chunks_add(GEOSContextHandle_t h, const lg_allocator *a, chunks *c,
                      const GEOSGeometry *g, double **boxes, size_t *boxcap)
{
    int t = GEOSGeomTypeId_r(h, g);
    if (t == GEOS_MULTILINESTRING || t == GEOS_MULTIPOLYGON || t == GEOS_GEOMETRYCOLLECTION) {
        int n = GEOSGetNumGeometries_r(h, g);
        for (int i = 0; i < n; i++)
            if (chunks_add(h, a, c, GEOSGetGeometryN_r(h, g, i), boxes, boxcap))
                return -1;
        return 0;
    }
    if (t == GEOS_POLYGON) {
        if (GEOSisEmpty_r(h, g) == 1)
            return 0;
        if (chunks_add(h, a, c, GEOSGetExteriorRing_r(h, g), boxes, boxcap))
            return -1;
        int n = GEOSGetNumInteriorRings_r(h, g);
        for (int i = 0; i < n; i++)
            if (chunks_add(h, a, c, GEOSGetInteriorRingN_r(h, g, i), boxes, boxcap))
                return -1;
        return 0;
    }
    if (t != GEOS_LINESTRING && t != GEOS_LINEARRING)
        return 0;
    const GEOSCoordSequence *cs = GEOSGeom_getCoordSeq_r(h, g);
    unsigned nv = 0;
    if (!cs || !GEOSCoordSeq_getSize_r(h, cs, &nv))
        return -1;
    for (unsigned s = 0; s + 1 < nv; s += CHUNK - 1) {
        unsigned e = s + CHUNK - 1 < nv - 1 ? s + CHUNK - 1 : nv - 1;
        GEOSCoordSequence *q = GEOSCoordSeq_create_r(h, e - s + 1, 2);
        if (!q)
            return -1;
        double box[4] = {INFINITY, INFINITY, -INFINITY, -INFINITY};
        for (unsigned i = s; i <= e; i++) {
            double x, y;
            GEOSCoordSeq_getXY_r(h, cs, i, &x, &y);
            GEOSCoordSeq_setXY_r(h, q, i - s, x, y);
            box[0] = fmin(box[0], x), box[1] = fmin(box[1], y);
            box[2] = fmax(box[2], x), box[3] = fmax(box[3], y);
        }
        GEOSGeometry *ls = GEOSGeom_createLineString_r(h, q);
        if (!ls)
            return -1;
        if (lg__grow(a, (void **)&c->g, &c->cap, c->n + 1, sizeof *c->g) ||
            lg__grow(a, (void **)boxes, boxcap, 4 * (c->n + 1), sizeof **boxes)) {
            GEOSGeom_destroy_r(h, ls);
            return -1;
        }
        memcpy(*boxes + 4 * c->n, box, sizeof box);
        c->g[c->n++] = ls;
    }
    return 0;
}

static int chunks_build(GEOSContextHandle_t h, const lg_allocator *a, chunks *c,
                        const GEOSGeometry *g)
{
    double *boxes = NULL;
    size_t boxcap = 0;
    int rc = chunks_add(h, a, c, g, &boxes, &boxcap);
    if (!rc && (lg_rtree_new(a, &c->tree) || lg_rtree_bulk_load(c->tree, boxes, NULL, c->n)))
        rc = -1;
    lg__free(a, boxes);
    return rc;
}

typedef struct near_q {
    const chunks *c;
    const GEOSGeometry **hit;
    size_t n;
} near_q;

static bool near_iter(int64_t id, const double box[4], void *u)
{
    (void)box;
    near_q *q = u;
    q->hit[q->n++] = q->c->g[id];
    return true;
}

/* Length of boundary jb within gap of the chunks near box. */
static int near_outline(GEOSContextHandle_t h, const lg_allocator *a, const chunks *c,
                        const GEOSGeometry *jb, const double box[4], double gap, double *len)
{
    *len = 0;
    if (!c->n)
        return 0;
    double q[4] = {box[0] - 2 * gap, box[1] - 2 * gap, box[2] + 2 * gap, box[3] + 2 * gap};
    near_q nq = {c, lg__malloc(a, c->n * sizeof *nq.hit), 0};
    if (!nq.hit)
        return -1;
    lg_rtree_search(c->tree, q, near_iter, &nq);
    int rc = 0;
    if (nq.n) {
        GEOSGeometry **cl = lg__malloc(a, nq.n * sizeof *cl);
        size_t k = 0;
        for (; cl && k < nq.n; k++)
            if (!(cl[k] = GEOSGeom_clone_r(h, nq.hit[k])))
                break;
        GEOSGeometry *ml = (cl && k == nq.n) ? GEOSGeom_createCollection_r(h, GEOS_MULTILINESTRING,
                                                                           cl, (unsigned)k)
                                             : NULL;
        if (!ml)
            for (size_t i = 0; cl && i < k; i++)
                GEOSGeom_destroy_r(h, cl[i]);
        lg__free(a, cl);
        GEOSGeometry *zone = ml ? GEOSBuffer_r(h, ml, gap * (1 + 1e-9), 8) : NULL;
        GEOSGeometry *in = zone ? GEOSIntersection_r(h, jb, zone) : NULL;
        if (in)
            GEOSLength_r(h, in, len);
        else
            rc = -1;
        if (ml)
            GEOSGeom_destroy_r(h, ml);
        if (zone)
            GEOSGeom_destroy_r(h, zone);
        if (in)
            GEOSGeom_destroy_r(h, in);
    }
    lg__free(a, nq.hit);
    return rc;
}

/*
 * Per station: length of its boundary within gap of the region outline, or of the
 * boundary of a neighbouring county, whichever is longer.
 */
static lg_error border_lengths(lg_context *ctx, const char *fn, const lg_stations *st,
                               const copts *c, double *len)
{
    GEOSContextHandle_t h = lg__geos(ctx);
    if (!h)
        return LG_ERR_INTERNAL;
    const lg_allocator *a = &ctx->alloc;
    double gap = c->o.border_gap_m;
    chunks cr = {0}, cn = {0};
    /* gap and lengths are metres: the jurisdictions, region and neighbouring counties in
     * the jurisdictions' metric frame */
    const lg__metric *m = NULL;
    const lg_layer *jur = NULL, *region = NULL, *neigh = NULL;
    lg_layer *region_own = NULL, *neigh_own = NULL;
    lg_error err = lg__metric_layer(ctx, st->jur, fn, &jur, &m);
    if (!err && c->o.region)
        err = lg__metric_other(ctx, m, c->o.region, fn, &region, &region_own);
    if (!err && c->o.neighbours)
        err = lg__metric_other(ctx, m, c->o.neighbours, fn, &neigh, &neigh_own);
    if (err) {
        lg_layer_free(region_own);
        return err;
    }
    bool coverage = false;
    GEOSGeometry *r = layer_union(ctx, h, region ? region : jur, &coverage);
    if (!r) {
        err = lg_context_error(ctx);
        goto done;
    }
    if (!region) {
        /* slivers between jurisdictions are not outline: close them (+gap, -gap) unless
         * the union is one polygon without holes made from exactly matching edges */
        bool simple = coverage && GEOSGeomTypeId_r(h, r) == GEOS_POLYGON &&
                      GEOSGetNumInteriorRings_r(h, r) == 0;
        if (!simple) {
            GEOSGeometry *d = GEOSBuffer_r(h, r, gap, 8);
            GEOSGeometry *e = d ? GEOSBuffer_r(h, d, -gap, 8) : NULL;
            if (d)
                GEOSGeom_destroy_r(h, d);
            if (e) {
                GEOSGeom_destroy_r(h, r);
                r = e;
            }
        }
    }
    int rc = chunks_build(h, a, &cr, r);
    GEOSGeom_destroy_r(h, r);
    if (rc) {
        err =
            lg__fail(ctx, LG_ERR_INTERNAL, "%s: the region outline failed: %s", fn, ctx->geos_msg);
        goto done;
    }
    if (neigh) {
        GEOSGeometry *nu = layer_union(ctx, h, neigh, NULL);
        if (!nu) {
            err = lg_context_error(ctx);
            goto done;
        }
        rc = chunks_build(h, a, &cn, nu);
        GEOSGeom_destroy_r(h, nu);
        if (rc) {
            err = lg__fail(ctx, LG_ERR_INTERNAL, "%s: neighbouring counties failed: %s", fn,
                           ctx->geos_msg);
            goto done;
        }
    }
    for (size_t s = 0; s < st->n; s++) {
        len[s] = 0;
        double box[4];
        if (!lg_layer_cell_bounds(jur, s, box))
            continue;
        GEOSGeometry *j = lg__cell_to_geos(h, jur, s);
        GEOSGeometry *jb = j ? GEOSBoundary_r(h, j) : NULL;
        if (j)
            GEOSGeom_destroy_r(h, j);
        double l1 = 0, l2 = 0;
        rc = jb ? near_outline(h, a, &cr, jb, box, gap, &l1) : -1;
        if (!rc)
            rc = near_outline(h, a, &cn, jb, box, gap, &l2);
        if (jb)
            GEOSGeom_destroy_r(h, jb);
        if (rc) {
            err = lg__fail(ctx, LG_ERR_INTERNAL, "%s: station '%s': GEOS failed: %s", fn,
                           st->names[s], ctx->geos_msg);
            goto done;
        }
        len[s] = l1 > l2 ? l1 : l2;
    }
done:
    chunks_free(h, a, &cr);
    chunks_free(h, a, &cn);
    lg_layer_free(region_own);
    lg_layer_free(neigh_own);
    return err;
}

/* --------------------------------------------------------------- validation */

static bool adjacent(const lg_stations *st, int64_t a, int64_t b)
{
    return lg_graph_weight(st->graph, (size_t)a, (size_t)b) > 0;
}

static const char *kind_name(lg_station_kind k)
{
    switch (k) {
    case LG_STATION_CENTRAL: return "central";
    case LG_STATION_BASE: return "base";
    case LG_STATION_BORDER: return "border";
    }
    return "unknown";
}

static lg_error validate_core(const lg_stations *st, const copts *c, const double *blen,
                              const lg_station_kind *kind, const int64_t *central,
                              lg_plan_problems *p)
{
    const lg_classify_options *o = &c->o;
    size_t n = st->n;
    size_t *nb = lg__calloc(&st->alloc, n ? n : 1, sizeof *nb);
    if (!nb)
        return LG_ERR_NOMEM;
    lg_error e = LG_OK;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if ((e = probs_add(p, __VA_ARGS__)))                                                       \
            goto done;                                                                             \
    } while (0)
    for (size_t s = 0; s < n; s++) {
        lg_station_kind k = kind[s];
        const char *nm = st->names[s];
        if (k != LG_STATION_CENTRAL && k != LG_STATION_BASE && k != LG_STATION_BORDER) {
            ADD(LG_PLAN_BAD_KIND, (int64_t)s, LG_NONE,
                "station '%s' (row %zu): kind %d is not central, base or border", nm, s, (int)k);
            continue;
        }
        if (st->cells && st->cell_count[s] == 0)
            ADD(LG_PLAN_STATION_NO_CELLS, (int64_t)s, LG_NONE,
                "station '%s' (row %zu) has no cells", nm, s);
        bool on = blen[s] >= o->border_min_m;
        if (k == LG_STATION_BORDER && !on)
            ADD(LG_PLAN_BORDER_OFF_BOUNDARY, (int64_t)s, LG_NONE,
                "border station '%s' (row %zu) shares %.1f of boundary with the region "
                "outline or neighbouring counties, less than %.1f",
                nm, s, blen[s], o->border_min_m);
        if (k != LG_STATION_BORDER && on)
            ADD(LG_PLAN_BOUNDARY_NOT_BORDER, (int64_t)s, LG_NONE,
                "%s station '%s' (row %zu) shares %.1f of boundary with the region outline or "
                "neighbouring counties: it is a border station",
                kind_name(k), nm, s, blen[s]);
        int64_t cs = central[s];
        if (k == LG_STATION_BASE) {
            if (cs < 0 || (uint64_t)cs >= n) {
                ADD(LG_PLAN_BASE_NO_CENTRAL, (int64_t)s, cs,
                    "base station '%s' (row %zu) has no central station (central %lld)", nm, s,
                    (long long)cs);
                continue;
            }
            const char *cn = st->names[cs];
            if (kind[cs] != LG_STATION_CENTRAL)
                ADD(LG_PLAN_CENTRAL_NOT_CENTRAL, (int64_t)s, cs,
                    "base station '%s' (row %zu): its central station '%s' (row %lld) is %s", nm, s,
                    cn, (long long)cs, cs == (int64_t)s ? "itself" : kind_name(kind[cs]));
            else
                nb[cs]++;
            if (!adjacent(st, (int64_t)s, cs))
                ADD(LG_PLAN_BASE_NOT_ADJACENT, (int64_t)s, cs,
                    "base station '%s' (row %zu) is not adjacent to its central station '%s' "
                    "(row %lld)",
                    nm, s, cn, (long long)cs);
        } else if (cs != LG_NONE && cs != (int64_t)s) {
            ADD(LG_PLAN_UNEXPECTED_CENTRAL, (int64_t)s, cs,
                "%s station '%s' (row %zu) has central %lld; only base stations have one",
                kind_name(k), nm, s, (long long)cs);
        }
    }
    for (size_t s = 0; s < n; s++) {
        if (kind[s] != LG_STATION_CENTRAL)
            continue;
        if (nb[s] < o->min_bases)
            ADD(LG_PLAN_TOO_FEW_BASES, (int64_t)s, LG_NONE,
                "central station '%s' (row %zu) coordinates %zu base stations, fewer than %zu",
                st->names[s], s, nb[s], o->min_bases);
        if (nb[s] > o->max_bases)
            ADD(LG_PLAN_TOO_MANY_BASES, (int64_t)s, LG_NONE,
                "central station '%s' (row %zu) coordinates %zu base stations, more than %zu",
                st->names[s], s, nb[s], o->max_bases);
    }
    for (size_t i = 0; st->cells && i < st->ncells; i++)
        if (st->cell_station[i] < 0)
            ADD(LG_PLAN_CELL_NO_STATION, LG_NONE, (int64_t)i, "cell %zu has no station", i);
#undef ADD
done:
    lg__free(&st->alloc, nb);
    return e;
}

lg_error lg_stations_validate(lg_context *ctx, const lg_stations *st,
                              const lg_classify_options *opt, const lg_station_kind *kind,
                              const int64_t *central, size_t n, lg_plan_problems **problems)
{
    static const char fn[] = "lg_stations_validate";
    lg__clear(ctx);
    if (!ctx || !st || !kind || !central || !problems)
        return lg__fail(ctx, LG_ERR_ARG, "%s: NULL argument", fn);
    *problems = NULL;
    if (n != st->n)
        return lg__fail(ctx, LG_ERR_ARG, "%s: a plan of %zu stations for %zu stations", fn, n,
                        st->n);
    copts c;
    lg_error err = resolve_opts(ctx, fn, st, opt, &c);
    double *blen = NULL;
    lg_plan_problems *p = NULL;
    if (err)
        goto done;
    blen = lg__calloc(&ctx->alloc, n ? n : 1, sizeof *blen);
    p = probs_new(&ctx->alloc);
    if (!blen || !p) {
        err = nomem(ctx, fn);
        goto done;
    }
    if ((err = border_lengths(ctx, fn, st, &c, blen)))
        goto done;
    if ((err = validate_core(st, &c, blen, kind, central, p))) {
        err = nomem(ctx, fn);
        goto done;
    }
    *problems = p;
    p = NULL;
done:
    lg_plan_problems_free(p);
    lg__free(&ctx->alloc, blen);
    copts_free(st, &c);
    return err;
}

/* ------------------------------------------------------------------ planner */

typedef struct planner {
    const lg_allocator *a;
    const lg_stations *st;
    size_t n;
    const uint8_t *active; /* inner station */
    const double *score;
    size_t minb, maxb, K; /* K = 1 + maxb slots per group */
    int64_t *grp;         /* group of each station, -1 */
    size_t ng, gcap;
    int64_t *mem; /* K slots per group */
    size_t *gsize;
    double *gw;
    uint8_t *failed;
} planner;

static bool pl_adj(const planner *P, int64_t a, int64_t b)
{
    return adjacent(P->st, a, b);
}

/* Active unassigned neighbours of v. */
static size_t pl_udeg(const planner *P, size_t v)
{
    const int64_t *nb;
    size_t k, d = 0;
    lg_graph_neighbors(P->st->graph, v, &nb, NULL, &k);
    for (size_t i = 0; i < k; i++)
        d += P->active[nb[i]] && P->grp[nb[i]] < 0 && !P->failed[nb[i]];
    return d;
}

/* Best star centre of a set (adjacent to all others): highest score, then lowest row. */
static int64_t star_center(const planner *P, const int64_t *m, size_t k)
{
    int64_t best = -1;
    for (size_t i = 0; i < k; i++) {
        bool ok = true;
        for (size_t j = 0; j < k && ok; j++)
            if (j != i && !pl_adj(P, m[i], m[j]))
                ok = false;
        if (ok && (best < 0 || P->score[m[i]] > P->score[best] ||
                   (P->score[m[i]] == P->score[best] && m[i] < best)))
            best = m[i];
    }
    return best;
}

static lg_error pl_new_group(planner *P, size_t *g)
{
    if (P->ng == P->gcap) {
        size_t c1 = P->gcap, c2 = P->gcap;
        if (lg__grow(P->a, (void **)&P->gsize, &c1, P->ng + 1, sizeof *P->gsize) ||
            lg__grow(P->a, (void **)&P->gw, &c2, P->ng + 1, sizeof *P->gw))
            return LG_ERR_NOMEM;
        size_t c3 = P->gcap * P->K;
        if (lg__grow(P->a, (void **)&P->mem, &c3, c1 * P->K, sizeof *P->mem))
            return LG_ERR_NOMEM;
        P->gcap = c1 < c2 ? c1 : c2;
    }
    *g = P->ng++;
    P->gsize[*g] = 0;
    P->gw[*g] = 0;
    return LG_OK;
}

static void pl_add(planner *P, size_t g, int64_t v)
{
    P->mem[g * P->K + P->gsize[g]++] = v;
    P->gw[g] += P->score[v];
    P->grp[v] = (int64_t)g;
}

static void pl_remove(planner *P, size_t g, int64_t v)
{
    int64_t *m = P->mem + g * P->K;
    for (size_t i = 0; i < P->gsize[g]; i++)
        if (m[i] == v) {
            memmove(m + i, m + i + 1, (P->gsize[g] - i - 1) * sizeof *m);
            P->gsize[g]--;
            break;
        }
    P->gw[g] -= P->score[v];
    P->grp[v] = -1;
}

/* Rebuild group contents from grp[] (after a rollback). */
static void pl_rebuild(planner *P)
{
    for (size_t g = 0; g < P->ng; g++) {
        P->gsize[g] = 0;
        P->gw[g] = 0;
    }
    for (size_t v = 0; v < P->n; v++)
        if (P->grp[v] >= 0)
            pl_add(P, (size_t)P->grp[v], (int64_t)v);
}

/* Would g with v added (or with out removed and in added) be a star within bounds? */
static bool star_with(const planner *P, size_t g, int64_t out, int64_t in)
{
    int64_t tmp[P->K + 1];
    size_t k = 0;
    const int64_t *m = P->mem + g * P->K;
    for (size_t i = 0; i < P->gsize[g]; i++)
        if (m[i] != out)
            tmp[k++] = m[i];
    if (in >= 0)
        tmp[k++] = in;
    if (k < 1 + P->minb || k > P->K)
        return false;
    return star_center(P, tmp, k) >= 0;
}

static lg_error pl_attach(planner *P, int64_t v, int depth, bool *ok);

/* Groups adjacent to v (distinct, ascending), into out; returns how many. */
static size_t adj_groups(const planner *P, int64_t v, int64_t *out, size_t cap)
{
    const int64_t *nb;
    size_t k, n = 0;
    lg_graph_neighbors(P->st->graph, (size_t)v, &nb, NULL, &k);
    for (size_t i = 0; i < k; i++) {
        int64_t g = P->grp[nb[i]];
        if (g < 0 || !P->active[nb[i]])
            continue;
        bool seen = false;
        for (size_t j = 0; j < n; j++)
            seen |= out[j] == g;
        if (!seen && n < cap)
            out[n++] = g;
    }
    return n;
}

static lg_error pl_attach(planner *P, int64_t v, int depth, bool *ok)
{
    *ok = false;
    size_t deg = 0;
    const int64_t *nb;
    lg_graph_neighbors(P->st->graph, (size_t)v, &nb, NULL, &deg);
    int64_t *gs = lg__malloc(P->a, (deg ? deg : 1) * sizeof *gs);
    if (!gs)
        return LG_ERR_NOMEM;
    size_t ngs = adj_groups(P, v, gs, deg);
    lg_error err = LG_OK;
    /* 1. join the lightest adjacent group that stays a star within bounds */
    int64_t best = -1;
    for (size_t i = 0; i < ngs; i++)
        if (star_with(P, (size_t)gs[i], -1, v) && (best < 0 || P->gw[gs[i]] < P->gw[best]))
            best = gs[i];
    if (best >= 0) {
        pl_add(P, (size_t)best, v);
        *ok = true;
        goto done;
    }
    if (P->minb != 1 || depth <= 0)
        goto done;
    /* 2. take a neighbour a from its group: {v, a} is a pair, the rest must stay valid,
     *    or be rehomed (depth-limited, rolled back on failure) */
    for (int pass = 0; pass < 2 && !*ok; pass++) {
        for (size_t i = 0; i < deg && !*ok; i++) {
            int64_t a = nb[i];
            if (!P->active[a] || P->grp[a] < 0)
                continue;
            size_t g = (size_t)P->grp[a];
            bool rest_ok = P->gsize[g] - 1 >= 1 + P->minb && star_with(P, g, a, -1);
            if (pass == 0 && rest_ok) {
                size_t ng;
                pl_remove(P, g, a);
                if ((err = pl_new_group(P, &ng)))
                    goto done;
                pl_add(P, ng, v);
                pl_add(P, ng, a);
                *ok = true;
            } else if (pass == 1 && !rest_ok) {
                /* snapshot */
                int64_t *snap = lg__malloc(P->a, P->n * sizeof *snap);
                if (!snap) {
                    err = LG_ERR_NOMEM;
                    goto done;
                }
                memcpy(snap, P->grp, P->n * sizeof *snap);
                size_t ng0 = P->ng;
                int64_t rest[P->K];
                size_t nr = 0;
                const int64_t *m = P->mem + g * P->K;
                for (size_t j = 0; j < P->gsize[g]; j++)
                    if (m[j] != a)
                        rest[nr++] = m[j];
                for (size_t j = 0; j < nr; j++)
                    pl_remove(P, g, rest[j]);
                pl_remove(P, g, a);
                size_t ng;
                if ((err = pl_new_group(P, &ng))) {
                    lg__free(P->a, snap);
                    goto done;
                }
                pl_add(P, ng, v);
                pl_add(P, ng, a);
                bool all = true;
                for (size_t j = 0; j < nr && all; j++) {
                    bool ok2 = false;
                    if ((err = pl_attach(P, rest[j], depth - 1, &ok2))) {
                        lg__free(P->a, snap);
                        goto done;
                    }
                    all = ok2;
                }
                if (all) {
                    *ok = true;
                } else {
                    memcpy(P->grp, snap, P->n * sizeof *snap);
                    P->ng = ng0;
                    pl_rebuild(P);
                }
                lg__free(P->a, snap);
            }
        }
    }
done:
    lg__free(P->a, gs);
    return err;
}

static int cmp_need(const planner *P, int64_t a, int64_t b)
{
    size_t da = pl_udeg(P, (size_t)a), db = pl_udeg(P, (size_t)b);
    if (da != db)
        return da < db ? -1 : 1;
    if (P->score[a] != P->score[b])
        return P->score[a] < P->score[b] ? -1 : 1;
    return a < b ? -1 : (a > b);
}

static lg_error pl_construct(planner *P)
{
    lg_error err;
    int64_t *cand = lg__malloc(P->a, (P->n ? P->n : 1) * sizeof *cand);
    if (!cand)
        return LG_ERR_NOMEM;
    for (;;) {
        int64_t v = -1;
        for (size_t u = 0; u < P->n; u++) {
            if (!P->active[u] || P->grp[u] >= 0 || P->failed[u])
                continue;
            if (v < 0 || cmp_need(P, (int64_t)u, v) < 0)
                v = (int64_t)u;
        }
        if (v < 0)
            break;
        const int64_t *nb;
        size_t k;
        lg_graph_neighbors(P->st->graph, (size_t)v, &nb, NULL, &k);
        /* centre candidates: v and its unassigned neighbours with enough of their own */
        int64_t c = -1;
        if (pl_udeg(P, (size_t)v) >= P->minb)
            c = v;
        for (size_t i = 0; i < k; i++) {
            int64_t u = nb[i];
            if (!P->active[u] || P->grp[u] >= 0 || P->failed[u])
                continue;
            if (pl_udeg(P, (size_t)u) >= P->minb &&
                (c < 0 || P->score[u] > P->score[c] || (P->score[u] == P->score[c] && u < c)))
                c = u;
        }
        if (c < 0 || pl_udeg(P, (size_t)v) == 0) {
            bool ok = false;
            if ((err = pl_attach(P, v, ATTACH_DEPTH, &ok)))
                goto done;
            if (!ok)
                P->failed[v] = 1;
            continue;
        }
        /* bases: v (when not the centre), then the neediest neighbours of c */
        size_t nc = 0;
        const int64_t *cn;
        size_t ck;
        lg_graph_neighbors(P->st->graph, (size_t)c, &cn, NULL, &ck);
        for (size_t i = 0; i < ck; i++) {
            int64_t u = cn[i];
            if (u != v && P->active[u] && P->grp[u] < 0 && !P->failed[u])
                cand[nc++] = u;
        }
        /* selection sort by need; nc is a node degree */
        for (size_t i = 0; i < nc; i++)
            for (size_t j = i + 1; j < nc; j++)
                if (cmp_need(P, cand[j], cand[i]) < 0) {
                    int64_t t = cand[i];
                    cand[i] = cand[j];
                    cand[j] = t;
                }
        size_t g;
        if ((err = pl_new_group(P, &g)))
            goto done;
        pl_add(P, g, c);
        size_t taken = 0;
        if (c != v) {
            pl_add(P, g, v);
            taken++;
        }
        for (size_t i = 0; i < nc && taken < P->minb; i++, taken++)
            pl_add(P, g, cand[i]);
    }
    err = LG_OK;
done:
    lg__free(P->a, cand);
    return err;
}

/* Local search on group balance: moves and swaps lowering the sum of squared loads. */
static void pl_balance(planner *P)
{
    for (int pass = 0; pass < BALANCE_PASSES; pass++) {
        bool improved = false;
        for (size_t v = 0; v < P->n; v++) {
            if (!P->active[v] || P->grp[v] < 0)
                continue;
            size_t g1 = (size_t)P->grp[v];
            double s = P->score[v];
            const int64_t *nb;
            size_t k;
            lg_graph_neighbors(P->st->graph, v, &nb, NULL, &k);
            for (size_t i = 0; i < k; i++) {
                int64_t u = nb[i];
                if (!P->active[u] || P->grp[u] < 0 || (size_t)P->grp[u] == g1)
                    continue;
                size_t g2 = (size_t)P->grp[u];
                double w1 = P->gw[g1], w2 = P->gw[g2];
                /* move v to g2 */
                double d = (w1 - s) * (w1 - s) + (w2 + s) * (w2 + s) - w1 * w1 - w2 * w2;
                if (d < -1e-12 * (1 + w1 * w1 + w2 * w2) && star_with(P, g1, (int64_t)v, -1) &&
                    star_with(P, g2, -1, (int64_t)v)) {
                    pl_remove(P, g1, (int64_t)v);
                    pl_add(P, g2, (int64_t)v);
                    improved = true;
                    break;
                }
                /* swap v with a member b of g2 */
                bool swapped = false;
                for (size_t j = 0; j < P->gsize[g2] && !swapped; j++) {
                    int64_t b = P->mem[g2 * P->K + j];
                    double t = P->score[b];
                    double e = (w1 - s + t) * (w1 - s + t) + (w2 - t + s) * (w2 - t + s) - w1 * w1 -
                               w2 * w2;
                    if (e < -1e-12 * (1 + w1 * w1 + w2 * w2) && star_with(P, g1, (int64_t)v, b) &&
                        star_with(P, g2, b, (int64_t)v)) {
                        pl_remove(P, g1, (int64_t)v);
                        pl_remove(P, g2, b);
                        pl_add(P, g1, b);
                        pl_add(P, g2, (int64_t)v);
                        swapped = true;
                    }
                }
                if (swapped) {
                    improved = true;
                    break;
                }
            }
        }
        if (!improved)
            break;
    }
}

/* Explain unplaced stations: isolated, impossible component sizes, or search failure. */
static lg_error pl_explain(const planner *P, lg_plan_problems *p)
{
    size_t n = P->n;
    int64_t *comp = lg__malloc(P->a, (n ? n : 1) * sizeof *comp);
    int64_t *queue = lg__malloc(P->a, (n ? n : 1) * sizeof *queue);
    lg_error err = LG_OK;
    if (!comp || !queue) {
        err = LG_ERR_NOMEM;
        goto done;
    }
    for (size_t v = 0; v < n; v++)
        comp[v] = -1;
    for (size_t r = 0; r < n; r++) {
        if (!P->active[r] || comp[r] >= 0)
            continue;
        size_t qn = 0;
        queue[qn++] = (int64_t)r;
        comp[r] = (int64_t)r;
        for (size_t qi = 0; qi < qn; qi++) {
            const int64_t *nb;
            size_t k;
            lg_graph_neighbors(P->st->graph, (size_t)queue[qi], &nb, NULL, &k);
            for (size_t i = 0; i < k; i++)
                if (P->active[nb[i]] && comp[nb[i]] < 0) {
                    comp[nb[i]] = (int64_t)r;
                    queue[qn++] = nb[i];
                }
        }
        if (qn == 1) {
            if ((err = probs_add(p, LG_PLAN_ISOLATED, (int64_t)r, LG_NONE,
                                 "station '%s' (row %zu) is not adjacent to any non-border "
                                 "station: it cannot be a central or a base station",
                                 P->st->names[r], r)))
                goto done;
            continue;
        }
        /* can qn be written as a sum of group sizes in [1+min, 1+max]? */
        size_t lo = 1 + P->minb, hi = 1 + P->maxb;
        bool possible = false;
        for (size_t g = 1; g * lo <= qn && !possible; g++)
            possible = qn <= g * hi;
        if (!possible) {
            char list[256];
            size_t pos = 0;
            list[0] = 0;
            for (size_t i = 0; i < qn && pos + 40 < sizeof list; i++)
                pos += (size_t)snprintf(list + pos, sizeof list - pos, "%s'%s'", i ? ", " : "",
                                        P->st->names[queue[i]]);
            for (size_t i = 0; i < qn; i++)
                if ((err = probs_add(p, LG_PLAN_COMPONENT_SIZE, queue[i], (int64_t)r,
                                     "station '%s' (row %lld) is in a connected set of %zu "
                                     "non-border stations (%s%s) that cannot be split into "
                                     "groups of %zu..%zu stations",
                                     P->st->names[queue[i]], (long long)queue[i], qn, list,
                                     pos + 40 >= sizeof list ? ", ..." : "", lo, hi)))
                    goto done;
            continue;
        }
        for (size_t i = 0; i < qn; i++)
            if (P->failed[queue[i]] &&
                (err = probs_add(p, LG_PLAN_UNPLACED, queue[i], LG_NONE,
                                 "station '%s' (row %lld): no group of a central station and "
                                 "%zu..%zu adjacent bases was found for it",
                                 P->st->names[queue[i]], (long long)queue[i], P->minb, P->maxb)))
                goto done;
    }
done:
    lg__free(P->a, comp);
    lg__free(P->a, queue);
    return err;
}

lg_error lg_stations_classify(lg_context *ctx, const lg_stations *st,
                              const lg_classify_options *opt, lg_station_kind *kind,
                              int64_t *central, double *score, size_t n, bool *feasible,
                              lg_plan_problems **problems)
{
    static const char fn[] = "lg_stations_classify";
    lg__clear(ctx);
    if (!ctx || !st || !kind || !central || !feasible)
        return lg__fail(ctx, LG_ERR_ARG, "%s: NULL argument", fn);
    if (problems)
        *problems = NULL;
    if (n < st->n)
        return lg__fail(ctx, LG_ERR_CAPACITY, "%s: room for %zu stations, %zu needed", fn, n,
                        st->n);
    n = st->n;
    const lg_allocator *a = &ctx->alloc;
    copts c;
    lg_error err = resolve_opts(ctx, fn, st, opt, &c);
    double *blen = NULL, *sc = NULL;
    uint8_t *active = NULL;
    lg_plan_problems *p = NULL;
    planner P = {0};
    if (err)
        goto done;
    blen = lg__calloc(a, n ? n : 1, sizeof *blen);
    sc = lg__calloc(a, n ? n : 1, sizeof *sc);
    active = lg__calloc(a, n ? n : 1, 1);
    p = probs_new(a);
    if (!blen || !sc || !active || !p)
        goto nomem;
    if ((err = border_lengths(ctx, fn, st, &c, blen)))
        goto done;
    /* score: weighted sum of fields normalised by their largest magnitude */
    for (size_t i = 0; i < c.nw; i++) {
        const double *w = st->work + c.wf[i] * st->n;
        double mx = 0;
        for (size_t s = 0; s < n; s++)
            mx = fmax(mx, fabs(w[s]));
        if (mx > 0)
            for (size_t s = 0; s < n; s++)
                sc[s] += c.ww[i] * w[s] / mx;
    }
    for (size_t s = 0; s < n; s++)
        active[s] = blen[s] < c.o.border_min_m;
    P.a = a;
    P.st = st;
    P.n = n;
    P.active = active;
    P.score = sc;
    P.minb = c.o.min_bases;
    P.maxb = c.o.max_bases;
    size_t maxdeg = 0; /* a centre has no more bases than neighbours: bounds the slots */
    for (size_t s = 0; s < n; s++) {
        const int64_t *nb;
        size_t k;
        lg_graph_neighbors(st->graph, s, &nb, NULL, &k);
        maxdeg = k > maxdeg ? k : maxdeg;
    }
    P.K = 1 + (P.maxb < maxdeg ? P.maxb : maxdeg);
    P.grp = lg__malloc(a, (n ? n : 1) * sizeof *P.grp);
    P.failed = lg__calloc(a, n ? n : 1, 1);
    if (!P.grp || !P.failed)
        goto nomem;
    for (size_t s = 0; s < n; s++)
        P.grp[s] = -1;
    if ((err = pl_construct(&P)))
        goto nomem;
    pl_balance(&P);
    if ((err = pl_explain(&P, p)))
        goto nomem;
    /* the plan */
    for (size_t s = 0; s < n; s++) {
        central[s] = LG_NONE;
        kind[s] = active[s] ? LG_STATION_CENTRAL : LG_STATION_BORDER;
    }
    for (size_t g = 0; g < P.ng; g++) {
        if (P.gsize[g] == 0)
            continue;
        const int64_t *m = P.mem + g * P.K;
        int64_t ctr = star_center(&P, m, P.gsize[g]);
        for (size_t i = 0; i < P.gsize[g]; i++)
            if (m[i] != ctr) {
                kind[m[i]] = LG_STATION_BASE;
                central[m[i]] = ctr;
            }
    }
    if (score)
        memcpy(score, sc, n * sizeof *sc);
    if ((err = validate_core(st, &c, blen, kind, central, p)))
        goto nomem;
    *feasible = p->n == 0;
    if (problems) {
        *problems = p;
        p = NULL;
    }
    goto done;
nomem:
    err = nomem(ctx, fn);
done:
    lg__free(a, P.grp);
    lg__free(a, P.failed);
    lg__free(a, P.mem);
    lg__free(a, P.gsize);
    lg__free(a, P.gw);
    lg_plan_problems_free(p);
    lg__free(a, blen);
    lg__free(a, sc);
    lg__free(a, active);
    copts_free(st, &c);
    return err;
}

/* --------------------------------------------------------------- hierarchy */

struct lg_hierarchy {
    lg_allocator alloc;
    const lg_stations *st;
    const lg_layer *cells;
    size_t n, ncells, nzones;
    int32_t *kind;    /* n */
    int64_t *central; /* n: resolved (central -> itself, border -> none) */
    int64_t *zone;    /* ncells or NULL */
    int64_t *site;    /* nzones or NULL */
};

void lg_hierarchy_free(lg_hierarchy *h)
{
    if (!h)
        return;
    lg_allocator a = h->alloc;
    lg__free(&a, h->kind);
    lg__free(&a, h->central);
    lg__free(&a, h->zone);
    lg__free(&a, h->site);
    lg__free(&a, h);
}

lg_error lg_hierarchy_new(lg_context *ctx, const lg_stations *st, const lg_station_kind *kind,
                          const int64_t *central, size_t n, const lg_hierarchy_options *opt,
                          lg_hierarchy **out)
{
    static const char fn[] = "lg_hierarchy_new";
    lg__clear(ctx);
    if (!ctx || !st || !out)
        return lg__fail(ctx, LG_ERR_ARG, "%s: NULL argument", fn);
    *out = NULL;
    if (!st->cells)
        return lg__fail(ctx, LG_ERR_ARG, "%s: the stations were built without cells", fn);
    if ((kind || central) && n != st->n)
        return lg__fail(ctx, LG_ERR_ARG, "%s: a plan of %zu stations for %zu stations", fn, n,
                        st->n);
    lg_hierarchy_options o = {0};
    if (opt)
        o = *opt;
    if (o.cell_zone && o.n_cells != st->ncells)
        return lg__fail(ctx, LG_ERR_ARG, "%s: %zu zone values for %zu cells", fn, o.n_cells,
                        st->ncells);
    const lg_allocator *a = &ctx->alloc;
    lg_hierarchy *h = lg__calloc(a, 1, sizeof *h);
    if (!h)
        return nomem(ctx, fn);
    h->alloc = *a;
    h->st = st;
    h->cells = st->cells;
    h->n = st->n;
    h->ncells = st->ncells;
    h->kind = lg__calloc(a, h->n ? h->n : 1, sizeof *h->kind);
    h->central = lg__malloc(a, (h->n ? h->n : 1) * sizeof *h->central);
    if (!h->kind || !h->central)
        goto nomem;
    for (size_t s = 0; s < h->n; s++) {
        int32_t k = kind ? (int32_t)kind[s] : 0;
        if (k < 0 || k > LG_STATION_BORDER) {
            lg_hierarchy_free(h);
            return lg__fail(ctx, LG_ERR_ARG, "%s: station %zu: kind %d is not a station kind", fn,
                            s, (int)k);
        }
        h->kind[s] = k;
        int64_t c = LG_NONE;
        if (k == LG_STATION_CENTRAL)
            c = (int64_t)s;
        else if (k == LG_STATION_BASE && central) {
            c = central[s];
            if (c < 0 || (uint64_t)c >= h->n)
                c = LG_NONE;
        }
        h->central[s] = c;
    }
    if (o.cell_zone) {
        h->zone = lg__malloc(a, (h->ncells ? h->ncells : 1) * sizeof *h->zone);
        if (!h->zone)
            goto nomem;
        for (size_t i = 0; i < h->ncells; i++) {
            int64_t z = o.cell_zone[i];
            if (z < LG_NONE || (o.zone_site && z >= 0 && (uint64_t)z >= o.n_zones)) {
                lg_hierarchy_free(h);
                return lg__fail(ctx, LG_ERR_ARG, "%s: cell %zu: zone %lld is out of range", fn, i,
                                (long long)z);
            }
            h->zone[i] = z;
        }
    }
    if (o.zone_site) {
        h->nzones = o.n_zones;
        h->site = lg__malloc(a, (h->nzones ? h->nzones : 1) * sizeof *h->site);
        if (!h->site)
            goto nomem;
        memcpy(h->site, o.zone_site, h->nzones * sizeof *h->site);
    }
    *out = h;
    return LG_OK;
nomem:
    lg_hierarchy_free(h);
    return nomem(ctx, fn);
}

static void lookup_row(const lg_hierarchy *h, int64_t cell, lg_hierarchy_result *r)
{
    r->cell = cell;
    r->zone = r->service_station = r->station = r->central = LG_NONE;
    r->kind = 0;
    if (cell < 0)
        return;
    if (h->zone) {
        r->zone = h->zone[cell];
        if (h->site && r->zone >= 0 && (uint64_t)r->zone < h->nzones)
            r->service_station = h->site[r->zone];
    }
    int64_t s = h->st->cell_station[cell];
    r->station = s;
    if (s >= 0) {
        r->kind = (lg_station_kind)h->kind[s];
        r->central = h->central[s];
    }
}

void lg_hierarchy_lookup(const lg_hierarchy *h, double x, double y, lg_hierarchy_result *out)
{
    if (!out)
        return;
    if (!h) {
        *out = (lg_hierarchy_result){LG_NONE, LG_NONE, LG_NONE, LG_NONE, 0, LG_NONE};
        return;
    }
    lookup_row(h, lg_layer_locate(h->cells, x, y), out);
}

lg_error lg_hierarchy_lookup_many(const lg_hierarchy *h, const double *x, const double *y, size_t n,
                                  int64_t *cell, int64_t *zone, int64_t *service_station,
                                  int64_t *station, int32_t *kind, int64_t *central)
{
    if (!h || (n && (!x || !y)))
        return LG_ERR_ARG;
    for (size_t i = 0; i < n; i++) {
        lg_hierarchy_result r;
        lookup_row(h, lg_layer_locate(h->cells, x[i], y[i]), &r);
        if (cell)
            cell[i] = r.cell;
        if (zone)
            zone[i] = r.zone;
        if (service_station)
            service_station[i] = r.service_station;
        if (station)
            station[i] = r.station;
        if (kind)
            kind[i] = (int32_t)r.kind;
        if (central)
            central[i] = r.central;
    }
    return LG_OK;
}
