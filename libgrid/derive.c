/*
 * Derived layers (include/libgrid/derive.h): a copy of a layer with extra columns,
 * and cells dissolved by group. Both go through the layer builder, so the results are
 * ordinary layers (boxes, R-tree, accelerator, writers) with no special cases.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static lg_error nomem(lg_context *ctx, const char *fn)
{
    return lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", fn);
}

/* Copy the rings of cell row of src into the builder's current cell. */
static lg_error copy_geometry(lg_builder *b, const lg_layer *src, size_t row)
{
    size_t nr = lg_layer_ring_count(src, row);
    size_t r0 = src->cell_ring[row];
    for (size_t r = 0; r < nr; r++) {
        const double *xy = NULL;
        size_t nv = 0;
        lg_error e = lg_layer_ring(src, row, r, &xy, &nv);
        if (e)
            return lgb_fail(b, e, "cannot read ring %zu of the source", r);
        if ((e = lgb_add_ring(b, xy, nv, src->ring_hole[r0 + r] != 0)))
            return e;
    }
    return LG_OK;
}

static lg_error check_spec(lg_context *ctx, const lg_layer *src, const lg_column_spec *cols,
                           size_t i)
{
    const char *fn = "lg_layer_derive";
    const lg_column_spec *c = &cols[i];
    if (!c->name || !*c->name)
        return lg__fail(ctx, LG_ERR_ARG, "%s: column %zu has no name", fn, i);
    for (size_t f = 0; f < lg_layer_field_count(src); f++)
        if (strcmp(lg_layer_field_name(src, f), c->name) == 0)
            return lg__fail(ctx, LG_ERR_ARG, "%s: column %zu: the source already has a field '%s'",
                            fn, i, c->name);
    for (size_t j = 0; j < i; j++)
        if (strcmp(cols[j].name, c->name) == 0)
            return lg__fail(ctx, LG_ERR_ARG, "%s: column %zu: name '%s' used by column %zu", fn, i,
                            c->name, j);
    bool have;
    switch (c->type) {
    case LG_FIELD_INT: have = c->ints != NULL; break;
    case LG_FIELD_REAL: have = c->reals != NULL; break;
    case LG_FIELD_TEXT: have = c->texts != NULL; break;
    default:
        return lg__fail(ctx, LG_ERR_ARG, "%s: column %zu ('%s'): bad type %d", fn, i, c->name,
                        (int)c->type);
    }
    if (!have && src->ncells > 0)
        return lg__fail(ctx, LG_ERR_ARG, "%s: column %zu ('%s'): no data array for its type", fn, i,
                        c->name);
    return LG_OK;
}

lg_error lg_layer_derive(lg_context *ctx, const lg_layer *src, const lg_column_spec *cols,
                         size_t ncols, lg_layer **out)
{
    const char *fn = "lg_layer_derive";
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!out)
        return lg__fail(ctx, LG_ERR_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!src)
        return lg__fail(ctx, LG_ERR_ARG, "%s: source layer is NULL", fn);
    if (ncols && !cols)
        return lg__fail(ctx, LG_ERR_ARG, "%s: %zu columns but cols is NULL", fn, ncols);
    for (size_t i = 0; i < ncols; i++) {
        lg_error e = check_spec(ctx, src, cols, i);
        if (e)
            return e;
    }
    lg_builder *b = NULL;
    lg_error e = lgb_new(ctx, fn, LG_LOAD_NO_VALIDATE, &b);
    if (e)
        return e;
    size_t n = lg_layer_count(src), nf = lg_layer_field_count(src);
    if ((e = lgb_reserve(b, n, src->nverts)))
        goto fail;
    /* builder field indices: source fields 0..nf-1, then the new columns */
    for (size_t f = 0; f < nf; f++)
        if ((e = lgb_add_field(b, lg_layer_field_name(src, f), lg_layer_field_type(src, f), NULL)))
            goto fail;
    for (size_t i = 0; i < ncols; i++)
        if ((e = lgb_add_field(b, cols[i].name, cols[i].type, NULL)))
            goto fail;
    for (size_t row = 0; row < n; row++) {
        if ((e = lgb_begin_cell(b)) || (e = copy_geometry(b, src, row)))
            goto fail;
        for (size_t f = 0; f < nf; f++)
            if ((e = lg__copy_value(b, src, f, f, row)))
                goto fail;
        for (size_t i = 0; i < ncols; i++) {
            const lg_column_spec *c = &cols[i];
            if (c->null && c->null[row])
                continue;
            if (c->type == LG_FIELD_INT)
                e = lgb_set_int(b, nf + i, c->ints[row]);
            else if (c->type == LG_FIELD_REAL)
                e = lgb_set_real(b, nf + i, c->reals[row]);
            else if (c->texts[row])
                e = lgb_set_text(b, nf + i, c->texts[row], strlen(c->texts[row]));
            if (e)
                goto fail;
        }
        if ((e = lgb_end_cell(b)))
            goto fail;
    }
    int64_t idf = lg_layer_id_field(src);
    return lgb_finish(b, lg_layer_crs(src),
                      idf == LG_NONE ? NULL : lg_layer_field_name(src, (size_t)idf), out);
fail:
    lgb_free(b);
    return e;
}

/* ---------------------------------------------------------------- dissolve */

typedef struct group_row {
    int64_t group;
    size_t row;
} group_row;

static int cmp_group_row(const void *pa, const void *pb)
{
    const group_row *a = pa, *b = pb;
    if (a->group != b->group)
        return a->group < b->group ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

/*
 * Union of k cell geometries (consumed with the collection). Coverage union first
 * (linear time on edge-matched cells), kept only when GEOS finds it valid; otherwise
 * the general unary union.
 */
static GEOSGeometry *union_parts(GEOSContextHandle_t h, GEOSGeometry **parts, size_t k)
{
    GEOSGeometry *coll =
        GEOSGeom_createCollection_r(h, GEOS_GEOMETRYCOLLECTION, parts, (unsigned)k);
    if (!coll) {
        for (size_t j = 0; j < k; j++)
            GEOSGeom_destroy_r(h, parts[j]);
        return NULL;
    }
    GEOSGeometry *u = GEOSCoverageUnion_r(h, coll);
    if (!u || GEOSisValid_r(h, u) != 1) {
        if (u)
            GEOSGeom_destroy_r(h, u);
        u = GEOSUnaryUnion_r(h, coll);
    }
    GEOSGeom_destroy_r(h, coll);
    return u;
}

lg_error lg_layer_dissolve(lg_context *ctx, const lg_layer *src, const int64_t *group, size_t n,
                           lg_layer **out)
{
    const char *fn = "lg_layer_dissolve";
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!out)
        return lg__fail(ctx, LG_ERR_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!src)
        return lg__fail(ctx, LG_ERR_ARG, "%s: source layer is NULL", fn);
    if (n != lg_layer_count(src))
        return lg__fail(ctx, LG_ERR_ARG, "%s: %zu group values for a layer of %zu cells", fn, n,
                        lg_layer_count(src));
    if (n && !group)
        return lg__fail(ctx, LG_ERR_ARG, "%s: group is NULL", fn);
    GEOSContextHandle_t h = lg__geos(ctx);
    if (!h)
        return LG_ERR_INTERNAL;
    const lg_allocator *a = &ctx->alloc;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (group[i] >= 0)
            m++;
    group_row *gr = lg__malloc(a, (m ? m : 1) * sizeof *gr);
    GEOSGeometry **parts = lg__malloc(a, (m ? m : 1) * sizeof *parts);
    lg_builder *b = NULL;
    lg_error e = LG_OK;
    if (!gr || !parts) {
        e = nomem(ctx, fn);
        goto done;
    }
    m = 0;
    for (size_t i = 0; i < n; i++)
        if (group[i] >= 0)
            gr[m++] = (group_row){group[i], i};
    qsort(gr, m, sizeof *gr, cmp_group_row);
    size_t f_group, f_cells;
    if ((e = lgb_new(ctx, fn, LG_LOAD_NO_VALIDATE, &b)) ||
        (e = lgb_add_field(b, "group", LG_FIELD_INT, &f_group)) ||
        (e = lgb_add_field(b, "cells", LG_FIELD_INT, &f_cells)))
        goto done;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j < m && gr[j].group == gr[i].group)
            j++;
        if (!lg__progress(ctx, i, m)) {
            e = LG_ERR_CANCELLED;
            goto done;
        }
        size_t k = 0;
        for (size_t t = i; t < j; t++) {
            if (lg_layer_ring_count(src, gr[t].row) == 0)
                continue; /* an empty cell adds nothing to the union */
            parts[k] = lg__cell_to_geos(h, src, gr[t].row);
            if (!parts[k]) {
                for (size_t q = 0; q < k; q++)
                    GEOSGeom_destroy_r(h, parts[q]);
                e = lg__fail(ctx, LG_ERR_INTERNAL, "%s: cell %zu: GEOS failed: %s", fn, gr[t].row,
                             ctx->geos_msg);
                goto done;
            }
            k++;
        }
        if ((e = lgb_begin_cell(b)))
            goto done;
        if (k) {
            GEOSGeometry *u = union_parts(h, parts, k);
            if (!u) {
                e = lg__fail(ctx, LG_ERR_GEOMETRY,
                             "%s: group %lld: the union of its %zu cells failed: %s", fn,
                             (long long)gr[i].group, k, ctx->geos_msg);
                goto done;
            }
            e = lgb_add_geos(b, h, u);
            GEOSGeom_destroy_r(h, u);
            if (e)
                goto done;
        }
        if ((e = lgb_set_int(b, f_group, gr[i].group)) ||
            (e = lgb_set_int(b, f_cells, (int64_t)(j - i))) || (e = lgb_end_cell(b)))
            goto done;
        i = j;
    }
    e = lgb_finish(b, lg_layer_crs(src), NULL, out);
    b = NULL;
done:
    lgb_free(b);
    lg__free(a, gr);
    lg__free(a, parts);
    return e;
}
