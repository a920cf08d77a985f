/*
 * GeoJSON, WKT and WKB readers (geometry through GEOS's readers) and the GeoJSON
 * writer. JSON is parsed with json-c under a nesting limit, so hostile nesting is
 * an error rather than a stack overflow.
 */
#include "internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JSON_MAX_DEPTH 64

/* Read a whole file into an allocated, NUL-terminated buffer. */
static lg_error slurp(lg_context *ctx, const char *path, char **out, size_t *len)
{
    const lg_allocator *a = &ctx->alloc;
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return lg__fail(ctx, LG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = lg__malloc(a, cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1)
            break;
        if (lg__grow(a, (void **)&buf, &cap, cap * 2, 1) != LG_OK) {
            lg__free(a, buf);
            buf = NULL;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (!buf)
        return lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", path);
    if (err) {
        lg__free(a, buf);
        return lg__fail(ctx, LG_ERR_IO, "%s: read error", path);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return LG_OK;
}

static size_t line_of(const char *s, size_t off)
{
    size_t line = 1;
    for (size_t i = 0; i < off && s[i]; i++)
        line += s[i] == '\n';
    return line;
}

/* Prepend nothing but append " (where)" to the message the last call left. */
static lg_error annotate(lg_context *ctx, lg_error e, const char *fmt, size_t v)
{
    char msg[sizeof ctx->msg];
    char where[64];
    snprintf(msg, sizeof msg, "%s", ctx->msg);
    snprintf(where, sizeof where, fmt, v);
    return lg__fail(ctx, e, "%s (%s)", msg, where);
}

/* ----------------------------------------------------------------- GeoJSON */

typedef struct prop_def {
    const char *name; /* borrowed from the JSON tree */
    int kind;         /* 0 only nulls, 1 int, 2 real, 3 text */
    size_t field;
} prop_def;

static int json_kind(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null: return 0;
    case json_type_boolean:
    case json_type_int: return 1;
    case json_type_double: return 2;
    default: return 3;
    }
}

typedef struct gj_reader {
    lg_context *ctx;
    const char *path;
    lg_builder *b;
    GEOSContextHandle_t h;
    GEOSGeoJSONReader *reader;
    prop_def *props;
    size_t nprops, cap_props;
    bool id_field; /* expose feature "id" members as field "id" */
    int id_kind;
    size_t id_index;
} gj_reader;

static lg_error note_prop(gj_reader *g, const char *name, json_object *v)
{
    int k = json_kind(v);
    for (size_t i = 0; i < g->nprops; i++)
        if (strcmp(g->props[i].name, name) == 0) {
            if (k > g->props[i].kind)
                g->props[i].kind = k;
            return LG_OK;
        }
    if (lg__grow(&g->ctx->alloc, (void **)&g->props, &g->cap_props, g->nprops + 1,
                 sizeof *g->props))
        return lg__fail(g->ctx, LG_ERR_NOMEM, "%s: out of memory", g->path);
    g->props[g->nprops].name = name;
    g->props[g->nprops].kind = k;
    g->nprops++;
    return LG_OK;
}

static lg_error set_value(gj_reader *g, size_t field, int kind, json_object *v)
{
    json_type t = json_object_get_type(v);
    if (t == json_type_null)
        return LG_OK;
    if (kind == 1)
        return lgb_set_int(g->b, field,
                           t == json_type_boolean ? (json_object_get_boolean(v) ? 1 : 0)
                                                  : json_object_get_int64(v));
    if (kind == 2)
        return lgb_set_real(g->b, field, json_object_get_double(v));
    const char *s;
    if (t == json_type_string) {
        s = json_object_get_string(v);
        return lgb_set_text(g->b, field, s, (size_t)json_object_get_string_len(v));
    }
    s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    return lgb_set_text(g->b, field, s, strlen(s));
}

/*
 * GEOS 3.11's GeoJSONReader dereferences an empty position ("coordinates": [[[]]])
 * and crashes (found by fuzz_geojson). Check that no position at the depth its
 * geometry type puts them is empty before GEOS sees it.
 */
static bool positions_ok(json_object *c, int depth)
{
    if (json_object_get_type(c) != json_type_array)
        return true; /* GEOS reports the type error itself */
    size_t n = json_object_array_length(c);
    if (depth == 0)
        return n > 0; /* other malformed positions GEOS reports itself */
    for (size_t i = 0; i < n; i++)
        if (!positions_ok(json_object_array_get_idx(c, i), depth - 1))
            return false;
    return true;
}

static bool geometry_positions_ok(json_object *geom, int nesting)
{
    static const struct {
        const char *type;
        int depth;
    } depths[] = {{"Point", 0},           {"MultiPoint", 1}, {"LineString", 1},
                  {"MultiLineString", 2}, {"Polygon", 2},    {"MultiPolygon", 3}};
    json_object *t = NULL, *v = NULL;
    if (json_object_get_type(geom) != json_type_object ||
        !json_object_object_get_ex(geom, "type", &t))
        return true;
    const char *type = json_object_get_string(t);
    if (!type)
        return true;
    if (strcmp(type, "GeometryCollection") == 0) {
        if (nesting > 64 || !json_object_object_get_ex(geom, "geometries", &v) ||
            json_object_get_type(v) != json_type_array)
            return nesting <= 64;
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (!geometry_positions_ok(json_object_array_get_idx(v, i), nesting + 1))
                return false;
        return true;
    }
    for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++)
        if (strcmp(type, depths[i].type) == 0)
            return !json_object_object_get_ex(geom, "coordinates", &v) ||
                   positions_ok(v, depths[i].depth);
    return true;
}

static lg_error read_geometry(gj_reader *g, json_object *geom)
{
    if (!geom || json_object_get_type(geom) == json_type_null)
        return LG_OK; /* kept as an empty row */
    if (json_object_get_type(geom) != json_type_object)
        return lgb_fail(g->b, LG_ERR_FORMAT, "\"geometry\" is not an object");
    if (!geometry_positions_ok(geom, 0))
        return lgb_fail(g->b, LG_ERR_FORMAT, "a position in \"coordinates\" is empty");
    const char *text = json_object_to_json_string_ext(geom, JSON_C_TO_STRING_PLAIN);
    g->ctx->geos_msg[0] = '\0';
    GEOSGeometry *geo = GEOSGeoJSONReader_readGeometry_r(g->h, g->reader, text);
    if (!geo)
        return lgb_fail(g->b, LG_ERR_FORMAT, "GEOS cannot read the geometry: %s",
                        g->ctx->geos_msg[0] ? g->ctx->geos_msg : "unknown error");
    lg_error e = lgb_add_geos(g->b, g->h, geo);
    GEOSGeom_destroy_r(g->h, geo);
    return e;
}

static lg_error read_feature(gj_reader *g, json_object *feat)
{
    lg_error e = lgb_begin_cell(g->b);
    if (e)
        return e;
    json_object *geom = NULL, *props = NULL, *id = NULL;
    if (json_object_get_type(feat) != json_type_object)
        return lgb_fail(g->b, LG_ERR_FORMAT, "feature is not a JSON object");
    json_object_object_get_ex(feat, "geometry", &geom);
    json_object_object_get_ex(feat, "properties", &props);
    json_object_object_get_ex(feat, "id", &id);
    e = read_geometry(g, geom);
    if (e == LG_OK && props && json_object_get_type(props) == json_type_object) {
        json_object_object_foreach(props, key, val)
        {
            for (size_t i = 0; i < g->nprops; i++)
                if (strcmp(g->props[i].name, key) == 0) {
                    e = set_value(g, g->props[i].field, g->props[i].kind, val);
                    break;
                }
            if (e)
                break;
        }
    }
    if (e == LG_OK && g->id_field && id)
        e = set_value(g, g->id_index, g->id_kind, id);
    if (e == LG_OK)
        e = lgb_end_cell(g->b);
    return e;
}

/* "urn:ogc:def:crs:EPSG::4547" -> "EPSG:4547"; CRS84 -> EPSG:4326; else as given. */
static const char *legacy_crs(json_object *root, char *buf, size_t cap)
{
    json_object *crs, *props, *name;
    if (!json_object_object_get_ex(root, "crs", &crs) ||
        !json_object_object_get_ex(crs, "properties", &props) ||
        !json_object_object_get_ex(props, "name", &name) ||
        json_object_get_type(name) != json_type_string)
        return NULL;
    const char *s = json_object_get_string(name);
    const char *p = strstr(s, "EPSG:");
    if (strstr(s, "CRS84"))
        return "EPSG:4326";
    if (p) {
        p += 5;
        while (*p == ':')
            p++;
        snprintf(buf, cap, "EPSG:%s", p);
        return buf;
    }
    snprintf(buf, cap, "%s", s);
    return buf;
}

lg_error lg__load_geojson(lg_context *ctx, const char *path, const lg_load_options *opt,
                          lg_layer **out)
{
    lg_load_options defaults = {0};
    if (!opt)
        opt = &defaults;
    char *text = NULL;
    size_t len = 0;
    lg_error e = slurp(ctx, path, &text, &len);
    if (e)
        return e;
    json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH);
    if (!tok) {
        lg__free(&ctx->alloc, text);
        return lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", path);
    }
    json_object *root = json_tokener_parse_ex(tok, text, (int)(len > INT32_MAX ? INT32_MAX : len));
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (!root || jerr != json_tokener_success) {
        if (jerr == json_tokener_continue)
            e = lg__fail(ctx, LG_ERR_FORMAT, "%s: line %zu: unexpected end of the JSON text", path,
                         line_of(text, len));
        else
            e = lg__fail(ctx, LG_ERR_FORMAT, "%s: line %zu: invalid JSON: %s%s", path,
                         line_of(text, end), json_tokener_error_desc(jerr),
                         jerr == json_tokener_error_depth ? " (nested more than 64 deep)" : "");
    } else {
        for (size_t i = end; i < len && e == LG_OK; i++)
            if (text[i] != ' ' && text[i] != '\n' && text[i] != '\r' && text[i] != '\t')
                e = lg__fail(ctx, LG_ERR_FORMAT, "%s: line %zu: extra text after the JSON value",
                             path, line_of(text, i));
    }
    json_tokener_free(tok);

    gj_reader g = {.ctx = ctx, .path = path};
    json_object *features = NULL, *type = NULL;
    const char *tname = NULL;
    size_t nfeat = 0;
    bool single = false;
    if (e == LG_OK) {
        if (json_object_get_type(root) != json_type_object ||
            !json_object_object_get_ex(root, "type", &type) ||
            json_object_get_type(type) != json_type_string)
            e = lg__fail(ctx, LG_ERR_FORMAT, "%s: not GeoJSON: no \"type\" member at the top",
                         path);
        else
            tname = json_object_get_string(type);
    }
    if (e == LG_OK && strcmp(tname, "FeatureCollection") == 0) {
        if (!json_object_object_get_ex(root, "features", &features) ||
            json_object_get_type(features) != json_type_array)
            e = lg__fail(ctx, LG_ERR_FORMAT, "%s: FeatureCollection without a \"features\" array",
                         path);
        else
            nfeat = json_object_array_length(features);
    } else if (e == LG_OK) {
        single = true;
        nfeat = 1;
    }
    if (e == LG_OK && nfeat == 0)
        e = lg__fail(ctx, LG_ERR_FORMAT, "%s: no records (empty FeatureCollection)", path);
    bool is_feature = e == LG_OK && strcmp(tname, "Feature") == 0;
    /* first pass: field names and types over all features */
    bool any_id = false, prop_id = false;
    for (size_t i = 0; e == LG_OK && i < nfeat && (!single || is_feature); i++) {
        json_object *f = single ? root : json_object_array_get_idx(features, i);
        json_object *props, *id;
        if (json_object_get_type(f) != json_type_object)
            continue; /* reported in the second pass with its record number */
        if (json_object_object_get_ex(f, "properties", &props) &&
            json_object_get_type(props) == json_type_object) {
            json_object_object_foreach(props, key, val)
            {
                if (strcmp(key, "id") == 0)
                    prop_id = true;
                if ((e = note_prop(&g, key, val)) != LG_OK)
                    break;
            }
        }
        if (json_object_object_get_ex(f, "id", &id)) {
            int k = json_kind(id);
            any_id = true;
            if (k > g.id_kind)
                g.id_kind = k;
        }
    }
    if (e == LG_OK)
        e = lgb_new(ctx, path, opt->flags, &g.b);
    if (e == LG_OK)
        e = lgb_reserve(g.b, nfeat, 0);
    static const lg_field_type kind_type[] = {LG_FIELD_TEXT, LG_FIELD_INT, LG_FIELD_REAL,
                                              LG_FIELD_TEXT};
    for (size_t i = 0; e == LG_OK && i < g.nprops; i++)
        e = lgb_add_field(g.b, g.props[i].name, kind_type[g.props[i].kind], &g.props[i].field);
    if (e == LG_OK && any_id && !prop_id) {
        g.id_field = true;
        if (g.id_kind == 0)
            g.id_kind = 3;
        e = lgb_add_field(g.b, "id", kind_type[g.id_kind], &g.id_index);
    }
    if (e == LG_OK && !(g.h = lg__geos(ctx)))
        e = LG_ERR_INTERNAL;
    if (e == LG_OK && !(g.reader = GEOSGeoJSONReader_create_r(g.h)))
        e = lg__fail(ctx, LG_ERR_INTERNAL, "%s: GEOS GeoJSON reader: %s", path, ctx->geos_msg);
    for (size_t i = 0; e == LG_OK && i < nfeat; i++) {
        if (single && !is_feature) {
            /* a bare geometry */
            e = lgb_begin_cell(g.b);
            if (e == LG_OK)
                e = read_geometry(&g, root);
            if (e == LG_OK)
                e = lgb_end_cell(g.b);
        } else {
            e = read_feature(&g, single ? root : json_object_array_get_idx(features, i));
        }
        if (e == LG_OK && (i & 1023) == 1023 && !lg__progress(ctx, i, nfeat))
            e = LG_ERR_CANCELLED;
    }
    char crsbuf[128];
    const char *crs = opt->crs;
    if (e == LG_OK && !crs) {
        crs = legacy_crs(root, crsbuf, sizeof crsbuf);
        if (!crs)
            crs = "EPSG:4326"; /* RFC 7946 */
    }
    if (e == LG_OK) {
        lg_builder *b = g.b;
        g.b = NULL;
        e = lgb_finish(b, crs, opt->id_field, out);
    }
    if (g.reader)
        GEOSGeoJSONReader_destroy_r(g.h, g.reader);
    lgb_free(g.b);
    lg__free(&ctx->alloc, g.props);
    if (root)
        json_object_put(root);
    lg__free(&ctx->alloc, text);
    return e;
}

/* --------------------------------------------------------------------- WKT */

lg_error lg__load_wkt(lg_context *ctx, const char *path, const lg_load_options *opt, lg_layer **out)
{
    lg_load_options defaults = {0};
    if (!opt)
        opt = &defaults;
    char *text = NULL;
    size_t len = 0;
    lg_error e = slurp(ctx, path, &text, &len);
    if (e)
        return e;
    GEOSContextHandle_t h = lg__geos(ctx);
    GEOSWKTReader *rd = h ? GEOSWKTReader_create_r(h) : NULL;
    lg_builder *b = NULL;
    if (!rd)
        e = lg__fail(ctx, LG_ERR_INTERNAL, "%s: GEOS WKT reader unavailable", path);
    if (e == LG_OK)
        e = lgb_new(ctx, path, opt->flags, &b);
    size_t line = 0;
    char *p = text;
    while (e == LG_OK && p < text + len) {
        line++;
        char *nl = memchr(p, '\n', (size_t)(text + len - p));
        char *eol = nl ? nl : text + len;
        *eol = '\0';
        char *s = p;
        p = eol + 1;
        while (*s == ' ' || *s == '\t' || *s == '\r')
            s++;
        size_t n = strlen(s);
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
            s[--n] = '\0';
        if (!*s || *s == '#')
            continue;
        ctx->geos_msg[0] = '\0';
        GEOSGeometry *g = GEOSWKTReader_read_r(h, rd, s);
        if (!g) {
            e = lg__fail(ctx, LG_ERR_FORMAT,
                         "%s: line %zu: record %zu: GEOS cannot read the WKT: %s", path, line,
                         lgb_row(b), ctx->geos_msg[0] ? ctx->geos_msg : "unknown error");
            break;
        }
        e = lgb_begin_cell(b);
        if (e == LG_OK)
            e = lgb_add_geos(b, h, g);
        if (e == LG_OK)
            e = lgb_end_cell(b);
        GEOSGeom_destroy_r(h, g);
        if (e)
            e = annotate(ctx, e, "line %zu", line);
    }
    if (e == LG_OK && lgb_row(b) == 0)
        e = lg__fail(ctx, LG_ERR_FORMAT, "%s: no records (no WKT lines)", path);
    if (e == LG_OK) {
        e = lgb_finish(b, opt->crs, opt->id_field, out);
        b = NULL;
    }
    lgb_free(b);
    if (rd)
        GEOSWKTReader_destroy_r(h, rd);
    lg__free(&ctx->alloc, text);
    return e;
}

/* --------------------------------------------------------------------- WKB */

lg_error lg_layer_from_wkb(lg_context *ctx, const unsigned char *const *wkb, const size_t *wkb_len,
                           size_t n, const lg_load_options *opt, lg_layer **out)
{
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!out || (n && (!wkb || !wkb_len)))
        return lg__fail(ctx, LG_ERR_ARG, "lg_layer_from_wkb: wkb, wkb_len and out are required");
    *out = NULL;
    lg_load_options defaults = {0};
    if (!opt)
        opt = &defaults;
    GEOSContextHandle_t h = lg__geos(ctx);
    if (!h)
        return LG_ERR_INTERNAL;
    GEOSWKBReader *rd = GEOSWKBReader_create_r(h);
    if (!rd)
        return lg__fail(ctx, LG_ERR_INTERNAL, "wkb: GEOS WKB reader unavailable");
    lg_builder *b = NULL;
    lg_error e = lgb_new(ctx, "wkb", opt->flags, &b);
    if (e == LG_OK)
        e = lgb_reserve(b, n, 0);
    for (size_t i = 0; e == LG_OK && i < n; i++) {
        e = lgb_begin_cell(b);
        if (e == LG_OK && wkb[i] && wkb_len[i]) {
            ctx->geos_msg[0] = '\0';
            GEOSGeometry *g = GEOSWKBReader_read_r(h, rd, wkb[i], wkb_len[i]);
            if (!g) {
                e = lgb_fail(b, LG_ERR_FORMAT, "geometry %zu: GEOS cannot read the WKB: %s", i,
                             ctx->geos_msg[0] ? ctx->geos_msg : "unknown error");
            } else {
                e = lgb_add_geos(b, h, g);
                GEOSGeom_destroy_r(h, g);
            }
        }
        if (e == LG_OK)
            e = lgb_end_cell(b);
        if (e == LG_OK && (i & 1023) == 1023 && !lg__progress(ctx, i, n))
            e = LG_ERR_CANCELLED;
    }
    if (e == LG_OK) {
        e = lgb_finish(b, opt->crs, opt->id_field, out);
        b = NULL;
    }
    if (e == LG_OK)
        e = lg__apply_unit(ctx, "wkb", opt, out);
    lgb_free(b);
    GEOSWKBReader_destroy_r(h, rd);
    return e;
}

/* ---------------------------------------------------------- GeoJSON writer */

typedef struct gj_writer {
    const lg_layer *l;
    const char *path;
    const char *epsg; /* "EPSG:n" for a legacy crs member, or NULL */
} gj_writer;

static void put_double(FILE *f, double v)
{
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, f);
}

/* A REAL property: integral values keep a ".0" so they read back as REAL. */
static void put_real(FILE *f, double v)
{
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, f);
    if (!strpbrk(buf, ".eEn"))
        fputs(".0", f);
}

static void put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

static double ring_area(const double *xy, size_t n)
{
    double s = 0;
    for (size_t i = 0; i + 1 < n; i++)
        s += (xy[2 * i] - xy[0]) * (xy[2 * i + 3] - xy[1]) -
             (xy[2 * i + 2] - xy[0]) * (xy[2 * i + 1] - xy[1]);
    return s / 2;
}

static void put_ring(FILE *f, const lg_layer *l, size_t r, bool hole)
{
    size_t v0 = l->ring_off[r], v1 = l->ring_off[r + 1];
    const double *xy = l->xy + 2 * v0;
    size_t n = v1 - v0;
    double area = ring_area(xy, n);
    /* RFC 7946: exterior rings counter-clockwise, holes clockwise */
    bool reverse = hole ? area > 0 : area < 0;
    fputc('[', f);
    for (size_t k = 0; k < n; k++) {
        size_t i = reverse ? n - 1 - k : k;
        fputs(k ? ",[" : "[", f);
        put_double(f, xy[2 * i]);
        fputc(',', f);
        put_double(f, xy[2 * i + 1]);
        fputc(']', f);
    }
    fputc(']', f);
}

static void put_geometry(FILE *f, const lg_layer *l, size_t c)
{
    size_t r0 = l->cell_ring[c], r1 = l->cell_ring[c + 1];
    if (r0 == r1) {
        fputs("null", f);
        return;
    }
    size_t nshell = 0;
    for (size_t r = r0; r < r1; r++)
        nshell += !l->ring_hole[r] || r == r0;
    fputs(nshell > 1 ? "{\"type\":\"MultiPolygon\",\"coordinates\":["
                     : "{\"type\":\"Polygon\",\"coordinates\":",
          f);
    for (size_t r = r0; r < r1;) {
        size_t k = r + 1;
        while (k < r1 && l->ring_hole[k])
            k++;
        if (r > r0)
            fputc(',', f);
        fputc('[', f);
        for (size_t q = r; q < k; q++) {
            if (q > r)
                fputc(',', f);
            put_ring(f, l, q, q > r);
        }
        fputc(']', f);
        r = k;
    }
    fputs(nshell > 1 ? "]}" : "}", f);
}

static lg_error write_geojson(lg_context *ctx, const char *tmp, void *udata)
{
    gj_writer *w = udata;
    const lg_layer *l = w->l;
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return lg__fail(ctx, LG_ERR_IO, "%s: cannot create %s: %s", w->path, tmp, strerror(errno));
    fputs("{\"type\":\"FeatureCollection\",", f);
    if (w->epsg) {
        fputs("\"crs\":{\"type\":\"name\",\"properties\":{\"name\":\"urn:ogc:def:crs:EPSG::", f);
        fputs(w->epsg + 5, f);
        fputs("\"}},", f);
    }
    fputs("\"features\":[\n", f);
    for (size_t c = 0; c < l->ncells; c++) {
        fputs(c ? ",\n{\"type\":\"Feature\",\"properties\":{"
                : "{\"type\":\"Feature\",\"properties\":{",
              f);
        for (size_t i = 0; i < l->ncols; i++) {
            const lg_column *col = &l->cols[i];
            if (i)
                fputc(',', f);
            put_string(f, col->name);
            fputc(':', f);
            if (col->null[c])
                fputs("null", f);
            else if (col->type == LG_FIELD_INT)
                fprintf(f, "%lld", (long long)col->i[c]);
            else if (col->type == LG_FIELD_REAL && isfinite(col->r[c]))
                put_real(f, col->r[c]);
            else if (col->type == LG_FIELD_REAL)
                fputs("null", f); /* JSON has no NaN or infinity */
            else
                put_string(f, col->pool + col->off[c]);
        }
        fputs("},\"geometry\":", f);
        put_geometry(f, l, c);
        fputc('}', f);
    }
    fputs("\n]}\n", f);
    int werr = ferror(f);
    if (fclose(f) != 0 || werr)
        return lg__fail(ctx, LG_ERR_IO, "%s: cannot write %s", w->path, tmp);
    return LG_OK;
}

lg_error lg_layer_write_geojson(lg_context *ctx, const lg_layer *layer, const char *path)
{
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!layer || !path)
        return lg__fail(ctx, LG_ERR_ARG, "lg_layer_write_geojson: layer and path are required");
    gj_writer w = {layer, path, NULL};
    char epsg[64] = "";
    if (layer->crs) {
        const char *norm = NULL;
        lg_error ce = lg_crs_check(ctx, layer->crs, &norm);
        /* out of memory must not write the file without its "crs" member (test_alloc.c) */
        if (ce == LG_ERR_NOMEM)
            return ce;
        if (ce == LG_OK && norm && strncasecmp(norm, "EPSG:", 5) == 0 &&
            strcmp(norm + 5, "4326") != 0 && strlen(norm) < sizeof epsg) {
            snprintf(epsg, sizeof epsg, "%s", norm);
            w.epsg = epsg;
        }
        lg__clear(ctx);
    }
    return lg__write_atomic(ctx, path, write_geojson, &w);
}
