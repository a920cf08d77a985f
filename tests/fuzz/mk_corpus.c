/*
 * Writes the seed corpora of the fuzz targets: mk_corpus OUTDIR (OUTDIR/<target>/...).
 * Small real files made by the library itself: a 10-cell county as a shapefile (in
 * the split format of fuzz_shp.c), GeoJSON, WKT and WKB, its snapshot, and query
 * seeds. The CSV seeds are committed as text.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void die(const char *what)
{
    fprintf(stderr, "mk_corpus: %s\n", what);
    exit(1);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *n = 0;
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    if (!b || fread(b, 1, (size_t)len, f) != (size_t)len)
        die("read");
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void put(const char *dir, const char *name, const void *data, size_t n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0)
        die(p);
}

/* The split format of fuzz_shp.c from a written shapefile group. */
static void shp_seed(const char *out, const char *name, unsigned flags, const char *base)
{
    static const char *const ext[5] = {".shp", ".shx", ".dbf", ".prj", ".cpg"};
    unsigned char *buf = malloc(1);
    size_t len = 1;
    buf[0] = (unsigned char)flags;
    for (int i = 0; i < 5; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s%s", base, ext[i]);
        size_t n = 0;
        unsigned char *d = slurp(p, &n);
        if (!d && i < 3)
            die(p);
        if (!d)
            continue;
        buf = realloc(buf, len + 4 + n);
        for (int k = 0; k < 4; k++)
            buf[len + k] = (unsigned char)(n >> (8 * k));
        memcpy(buf + len + 4, d, n);
        len += 4 + n;
        free(d);
    }
    put(out, name, buf, len);
    free(buf);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        die("usage: mk_corpus OUTDIR");
    const char *root = argv[1];
    char dir[512], tmp[512], p[600];
    lg_context *ctx;
    if (lg_context_new(NULL, &ctx))
        die("context");
    lg_synth_options o = {0};
    o.seed = 7;
    o.cells = 10;
    o.edge_vertices = 1;
    lg_layer *l;
    if (lg_synth_county(ctx, &o, &l))
        die(lg_context_message(ctx));
    snprintf(tmp, sizeof tmp, "/tmp/mk_corpus.%ld", (long)getpid());
    mkdir(tmp, 0700);

    /* shapefile */
    snprintf(dir, sizeof dir, "%s/shp", root);
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/county.shp", tmp);
    if (lg_layer_write_shapefile(ctx, l, p))
        die(lg_context_message(ctx));
    snprintf(p, sizeof p, "%s/county", tmp);
    shp_seed(dir, "county10", 0, p);
    shp_seed(dir, "county10_repair_id", 1 | 4, p);

    /* GeoJSON */
    snprintf(dir, sizeof dir, "%s/geojson", root);
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/county.geojson", tmp);
    if (lg_layer_write_geojson(ctx, l, p))
        die(lg_context_message(ctx));
    size_t n;
    unsigned char *d = slurp(p, &n);
    put(dir, "county10.geojson", d, n);
    free(d);

    /* WKT: one line per cell, from GEOS */
    snprintf(dir, sizeof dir, "%s/wkt", root);
    mkdir(dir, 0755);
    GEOSContextHandle_t h = lg__geos(ctx);
    GEOSWKTWriter *ww = GEOSWKTWriter_create_r(h);
    GEOSWKTWriter_setTrim_r(h, ww, 1);
    char *text = calloc(1, 1);
    size_t tlen = 0;
    for (size_t r = 0; r < lg_layer_count(l); r++) {
        GEOSGeometry *g = lg__cell_to_geos(h, l, r);
        char *w = GEOSWKTWriter_write_r(h, ww, g);
        size_t wl = strlen(w);
        text = realloc(text, tlen + wl + 2);
        memcpy(text + tlen, w, wl);
        tlen += wl;
        text[tlen++] = '\n';
        GEOSFree_r(h, w);
        GEOSGeom_destroy_r(h, g);
    }
    GEOSWKTWriter_destroy_r(h, ww);
    put(dir, "county10.wkt", text, tlen);
    free(text);
    /* one WKB cell (fuzz_wkt also reads its input as WKB) */
    size_t wkb_len;
    if (lg_layer_cell_wkb(l, 0, NULL, 0, &wkb_len))
        die("wkb");
    unsigned char *wkb = malloc(wkb_len);
    lg_layer_cell_wkb(l, 0, wkb, wkb_len, &wkb_len);
    put(dir, "cell0.wkb", wkb, wkb_len);
    free(wkb);

    /* snapshot */
    snprintf(dir, sizeof dir, "%s/snapshot", root);
    mkdir(dir, 0755);
    size_t sz, len;
    lg_layer_snapshot_size(l, &sz);
    void *snap = malloc(sz);
    if (lg_layer_snapshot_write(l, snap, sz, &len))
        die("snapshot");
    put(dir, "county10.lgs", snap, len);
    free(snap);

    /* query: every county, a few points of each mode */
    snprintf(dir, sizeof dir, "%s/query", root);
    mkdir(dir, 0755);
    for (int k = 0; k < 36; k += 5) {
        unsigned char q[1 + 12 * 6];
        q[0] = (unsigned char)k;
        for (int m = 0; m < 6; m++) {
            unsigned char *r = q + 1 + 12 * m;
            for (int i = 0; i < 12; i++)
                r[i] = (unsigned char)(37 * (k + 1) * (m + 3) + 11 * i);
            r[0] = (unsigned char)m;
        }
        char name[32];
        snprintf(name, sizeof name, "county%02d", k);
        put(dir, name, q, sizeof q);
    }

    lg_layer_free(l);
    lg_context_free(ctx);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        die("cleanup");
    return 0;
}
