/*
 * I/O tests: Shapefile (real Natural Earth and NYC files, hand-made and corrupted
 * ones), GeoJSON, WKT, WKB and atomic writing. Oracles: shapelib read directly in
 * the test, GEOS, and published byte encodings; never the loader's own output.
 */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <iconv.h>
#include <json-c/json.h>
#include <math.h>
#include <shapefil.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------- helpers */

static lg_context *new_ctx(void)
{
    lg_context *ctx = NULL;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    return ctx;
}

static const char *tmp_path(const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tu_tmpdir(), name);
    return buf[k];
}

static void assert_msg_has(lg_context *ctx, const char *what)
{
    const char *m = lg_context_message(ctx);
    if (!strstr(m, what))
        fail_msg("message \"%s\" does not contain \"%s\"", m, what);
}

static char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    size_t got = fread(buf, 1, (size_t)len, f);
    fclose(f);
    buf[got] = '\0';
    if (n)
        *n = got;
    return buf;
}

static void copy_file(const char *from, const char *to)
{
    size_t n;
    char *d = read_all(from, &n);
    assert_non_null(d);
    assert_int_equal(tu_write_file(to, d, n), 0);
    free(d);
}

/* Copy base.{shp,shx,dbf,prj,cpg} (those that exist) to dst base. */
static void copy_shapefile(const char *src_base, const char *dst_base)
{
    static const char *ext[] = {".shp", ".shx", ".dbf", ".prj", ".cpg"};
    for (int i = 0; i < 5; i++) {
        char a[512], b[512];
        snprintf(a, sizeof a, "%s%s", src_base, ext[i]);
        snprintf(b, sizeof b, "%s%s", dst_base, ext[i]);
        unlink(b);
        if (access(a, R_OK) == 0)
            copy_file(a, b);
    }
}

static GEOSContextHandle_t geos(void)
{
    static GEOSContextHandle_t h;
    if (!h)
        h = GEOS_init_r();
    return h;
}

/* Area of a cell by GEOS. */
static double cell_area(const lg_layer *l, size_t row)
{
    GEOSGeometry *g = lg__cell_to_geos(geos(), l, row);
    assert_non_null(g);
    double a = 0;
    assert_int_equal(GEOSArea_r(geos(), g, &a), 1);
    GEOSGeom_destroy_r(geos(), g);
    return a;
}

static double shoelace(const double *x, const double *y, int n)
{
    double s = 0;
    for (int i = 0; i + 1 < n; i++)
        s += x[i] * y[i + 1] - x[i + 1] * y[i];
    return s / 2;
}

/* Is the ring (xy, n) equal to shapelib's part p of o, vertex by vertex (maybe reversed)? */
static bool ring_matches_part(const double *xy, size_t n, const SHPObject *o, int p)
{
    int s = o->panPartStart[p];
    int t = p + 1 < o->nParts ? o->panPartStart[p + 1] : o->nVertices;
    if ((size_t)(t - s) != n)
        return false;
    bool fwd = true, rev = true;
    for (size_t i = 0; i < n; i++) {
        size_t j = n - 1 - i;
        fwd = fwd && xy[2 * i] == o->padfX[s + i] && xy[2 * i + 1] == o->padfY[s + i];
        rev = rev && xy[2 * j] == o->padfX[s + i] && xy[2 * j + 1] == o->padfY[s + i];
    }
    return fwd || rev;
}

/*
 * The cell's rings are exactly shapelib's parts (as sets, each ring vertex by vertex),
 * and its GEOS area equals minus the summed signed areas of the parts (shapefile
 * orientation: shells clockwise).
 */
static void assert_cell_is_shape(const lg_layer *l, size_t row, const SHPObject *o)
{
    size_t nr = lg_layer_ring_count(l, row);
    if (o->nSHPType == SHPT_NULL || o->nParts == 0) {
        assert_int_equal(nr, 0);
        return;
    }
    assert_int_equal(nr, (size_t)o->nParts);
    double oracle = 0;
    for (int p = 0; p < o->nParts; p++) {
        int s = o->panPartStart[p];
        int t = p + 1 < o->nParts ? o->panPartStart[p + 1] : o->nVertices;
        oracle -= shoelace(o->padfX + s, o->padfY + s, t - s);
        bool found = false;
        for (size_t r = 0; r < nr && !found; r++) {
            const double *xy;
            size_t n;
            assert_int_equal(lg_layer_ring(l, row, r, &xy, &n), LG_OK);
            found = ring_matches_part(xy, n, o, p);
        }
        if (!found)
            fail_msg("row %zu: part %d not found among the cell's rings", row, p);
    }
    double a = cell_area(l, row);
    assert_true(fabs(a - oracle) <= 1e-9 * fmax(1.0, fabs(oracle)));
}

/* Two layers have the same rings vertex by vertex (a ring may be reversed). */
static void assert_same_geometry(const lg_layer *a, const lg_layer *b, bool allow_reverse)
{
    assert_int_equal(lg_layer_count(a), lg_layer_count(b));
    for (size_t row = 0; row < lg_layer_count(a); row++) {
        size_t nr = lg_layer_ring_count(a, row);
        assert_int_equal(nr, lg_layer_ring_count(b, row));
        for (size_t r = 0; r < nr; r++) {
            const double *p, *q;
            size_t n, m;
            assert_int_equal(lg_layer_ring(a, row, r, &p, &n), LG_OK);
            assert_int_equal(lg_layer_ring(b, row, r, &q, &m), LG_OK);
            assert_int_equal(n, m);
            bool fwd = true, rev = allow_reverse;
            for (size_t i = 0; i < n; i++) {
                fwd = fwd && p[2 * i] == q[2 * i] && p[2 * i + 1] == q[2 * i + 1];
                rev =
                    rev && p[2 * i] == q[2 * (n - 1 - i)] && p[2 * i + 1] == q[2 * (n - 1 - i) + 1];
            }
            if (!fwd && !rev)
                fail_msg("row %zu ring %zu differs", row, r);
        }
    }
}

/* Two layers have the same fields and values (REAL compared exactly). */
static void assert_same_attributes(const lg_layer *a, const lg_layer *b)
{
    assert_int_equal(lg_layer_field_count(a), lg_layer_field_count(b));
    for (size_t f = 0; f < lg_layer_field_count(a); f++) {
        assert_string_equal(lg_layer_field_name(a, f), lg_layer_field_name(b, f));
        assert_int_equal(lg_layer_field_type(a, f), lg_layer_field_type(b, f));
        for (size_t r = 0; r < lg_layer_count(a); r++) {
            assert_int_equal(lg_layer_is_null(a, f, r), lg_layer_is_null(b, f, r));
            if (lg_layer_is_null(a, f, r))
                continue;
            if (lg_layer_field_type(a, f) == LG_FIELD_TEXT) {
                const char *s, *t;
                assert_int_equal(lg_layer_get_text(a, f, r, &s), LG_OK);
                assert_int_equal(lg_layer_get_text(b, f, r, &t), LG_OK);
                assert_string_equal(s, t);
            } else if (lg_layer_field_type(a, f) == LG_FIELD_INT) {
                int64_t s, t;
                assert_int_equal(lg_layer_get_int(a, f, r, &s), LG_OK);
                assert_int_equal(lg_layer_get_int(b, f, r, &t), LG_OK);
                assert_true(s == t);
            } else {
                double s, t;
                assert_int_equal(lg_layer_get_real(a, f, r, &s), LG_OK);
                assert_int_equal(lg_layer_get_real(b, f, r, &t), LG_OK);
                assert_true(s == t);
            }
        }
    }
}

static size_t count_problems(const lg_layer *l, lg_problem_kind kind)
{
    size_t n = 0;
    for (size_t i = 0; i < lg_layer_problem_count(l); i++) {
        lg_problem_kind k;
        assert_int_equal(lg_layer_problem(l, i, NULL, &k, NULL, NULL, NULL), LG_OK);
        n += k == kind;
    }
    return n;
}

/* Latin-1 to UTF-8, independently of the library (iconv). */
static void latin1_to_utf8(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 3 < cap; p++) {
        if (*p < 0x80) {
            out[o++] = (char)*p;
        } else {
            out[o++] = (char)(0xC0 | (*p >> 6));
            out[o++] = (char)(0x80 | (*p & 0x3F));
        }
    }
    out[o] = '\0';
}

/* ------------------------------------------------- hand-made shapefiles */

typedef struct test_part {
    const double *xy; /* interleaved */
    int n;
} test_part;

/*
 * Write base.shp/.shx/.dbf with shapelib: one record per entry of parts (nparts[i]
 * parts, 0 for a null shape) and a text field "name" and int field "num".
 */
static void make_shapefile(const char *base, int nrec, const int *nparts, const test_part *parts,
                           const char *const *names)
{
    char p[512];
    snprintf(p, sizeof p, "%s.shp", base);
    SHPHandle h = SHPCreate(p, SHPT_POLYGON);
    assert_non_null(h);
    snprintf(p, sizeof p, "%s.dbf", base);
    DBFHandle d = DBFCreate(p);
    assert_non_null(d);
    assert_int_equal(DBFAddField(d, "name", FTString, 40, 0), 0);
    assert_int_equal(DBFAddField(d, "num", FTInteger, 9, 0), 1);
    const test_part *pp = parts;
    for (int i = 0; i < nrec; i++) {
        SHPObject *o;
        if (nparts[i] == 0) {
            o = SHPCreateObject(SHPT_NULL, -1, 0, NULL, NULL, 0, NULL, NULL, NULL, NULL);
        } else {
            int starts[16], nv = 0;
            double x[512], y[512];
            for (int k = 0; k < nparts[i]; k++) {
                starts[k] = nv;
                for (int v = 0; v < pp[k].n; v++) {
                    x[nv] = pp[k].xy[2 * v];
                    y[nv] = pp[k].xy[2 * v + 1];
                    nv++;
                }
            }
            o = SHPCreateObject(SHPT_POLYGON, -1, nparts[i], starts, NULL, nv, x, y, NULL, NULL);
            pp += nparts[i];
        }
        assert_int_equal(SHPWriteObject(h, -1, o), i);
        SHPDestroyObject(o);
        if (names && names[i])
            DBFWriteStringAttribute(d, i, 0, names[i]);
        else
            DBFWriteNULLAttribute(d, i, 0);
        DBFWriteIntegerAttribute(d, i, 1, i * 10);
    }
    SHPClose(h);
    DBFClose(d);
    snprintf(p, sizeof p, "%s.prj", base);
    unlink(p);
    snprintf(p, sizeof p, "%s.cpg", base);
    unlink(p);
}

/* clockwise squares (shapefile shells) and counter-clockwise ones (holes) */
#define SQ_CW(x0, y0, s)                                                                           \
    {                                                                                              \
        x0, y0, x0, (y0) + (s), (x0) + (s), (y0) + (s), (x0) + (s), y0, x0, y0                     \
    }
#define SQ_CCW(x0, y0, s)                                                                          \
    {                                                                                              \
        x0, y0, (x0) + (s), y0, (x0) + (s), (y0) + (s), x0, (y0) + (s), x0, y0                     \
    }

/* A small valid shapefile: 3 records (square, square with hole, null). */
static const char *small_shapefile(void)
{
    static char base[512];
    snprintf(base, sizeof base, "%s/small", tu_tmpdir());
    static const double a[] = SQ_CW(0, 0, 10), b[] = SQ_CW(20, 0, 10), bh[] = SQ_CCW(22, 2, 2);
    test_part parts[] = {{a, 5}, {b, 5}, {bh, 5}};
    int np[] = {1, 2, 0};
    const char *names[] = {"alpha", "beta", "gamma"};
    make_shapefile(base, 3, np, parts, names);
    static char shp[520];
    snprintf(shp, sizeof shp, "%s.shp", base);
    return shp;
}

/* ------------------------------------------------------ Natural Earth */

static void test_naturalearth(void **state)
{
    (void)state;
    const char *path = tu_naturalearth();
    if (!path)
        skip();
    lg_context *ctx = new_ctx();
    lg_layer *l = NULL;
    lg_error e = lg_layer_load(ctx, path, NULL, &l);
    if (e)
        fail_msg("load: %s", lg_context_message(ctx));

    /* oracle: shapelib's own API */
    SHPHandle shp = SHPOpen(path, "rb");
    DBFHandle dbf = DBFOpen(path, "rb");
    assert_non_null(shp);
    assert_non_null(dbf);
    int n = 0;
    SHPGetInfo(shp, &n, NULL, NULL, NULL);
    assert_int_equal(n, 177);
    assert_int_equal(lg_layer_count(l), (size_t)n);
    assert_int_equal(DBFGetRecordCount(dbf), n);
    int nf = DBFGetFieldCount(dbf);
    assert_int_equal(lg_layer_field_count(l), (size_t)nf);
    for (int f = 0; f < nf; f++) {
        char name[16];
        int w, d;
        DBFFieldType t = DBFGetFieldInfo(dbf, f, name, &w, &d);
        assert_string_equal(lg_layer_field_name(l, (size_t)f), name);
        lg_field_type want = t == FTString ? LG_FIELD_TEXT
                             : d > 0       ? LG_FIELD_REAL
                             : w <= 18     ? LG_FIELD_INT
                                           : LG_FIELD_REAL;
        assert_int_equal(lg_layer_field_type(l, (size_t)f), want);
    }
    size_t fname, fiso, fpop;
    assert_int_equal(lg_layer_field_index(l, "name", &fname), LG_OK);
    assert_int_equal(lg_layer_field_index(l, "iso_a3", &fiso), LG_OK);
    assert_int_equal(lg_layer_field_index(l, "pop_est", &fpop), LG_OK);
    assert_int_equal(lg_layer_field_type(l, fpop), LG_FIELD_REAL);
    bool saw_latin1 = false;
    for (int r = 0; r < n; r++) {
        const char *s;
        char want[256];
        assert_int_equal(lg_layer_get_text(l, fname, (size_t)r, &s), LG_OK);
        /* the .cpg says ISO-8859-1 */
        latin1_to_utf8(DBFReadStringAttribute(dbf, r, (int)fname), want, sizeof want);
        assert_string_equal(s, want);
        if (strcmp(want, "C\xc3\xb4te d'Ivoire") == 0)
            saw_latin1 = true;
        assert_int_equal(lg_layer_get_text(l, fiso, (size_t)r, &s), LG_OK);
        assert_string_equal(s, DBFReadStringAttribute(dbf, r, (int)fiso));
        double v;
        assert_int_equal(lg_layer_get_real(l, fpop, (size_t)r, &v), LG_OK);
        assert_true(v == DBFReadDoubleAttribute(dbf, r, (int)fpop));
        SHPObject *o = SHPReadObject(shp, r);
        assert_non_null(o);
        assert_cell_is_shape(l, (size_t)r, o);
        SHPDestroyObject(o);
    }
    assert_true(saw_latin1);
    /* CRS from the .prj (ESRI GCS_WGS_1984), identified by PROJ */
    assert_non_null(lg_layer_crs(l));
    assert_string_equal(lg_layer_crs(l), "EPSG:4326");
    lg_layer_free(l);

    /* id by text: iso_a3 has "-99" duplicates */
    lg_load_options opt = {.id_field = "iso_a3"};
    assert_int_equal(lg_layer_load(ctx, path, &opt, &l), LG_OK);
    /* oracle: rows whose iso_a3 appeared in an earlier row (Natural Earth uses "-99") */
    int dups = 0, chn = -1;
    for (int r = 0; r < n; r++) {
        char iso[64];
        snprintf(iso, sizeof iso, "%s", DBFReadStringAttribute(dbf, r, (int)fiso));
        for (int q = 0; q < r; q++)
            if (strcmp(iso, DBFReadStringAttribute(dbf, q, (int)fiso)) == 0) {
                dups++;
                break;
            }
        if (strcmp(iso, "CHN") == 0)
            chn = r;
    }
    assert_true(chn >= 0);
    assert_int_equal(count_problems(l, LG_PROBLEM_DUPLICATE_ID), (size_t)dups);
    assert_int_equal(lg_layer_find_id_text(l, "CHN"), chn);
    assert_int_equal(lg_layer_find_id_text(l, "no such"), LG_NONE);
    lg_layer_free(l);

    /* id by name: unique */
    opt.id_field = "name";
    assert_int_equal(lg_layer_load(ctx, path, &opt, &l), LG_OK);
    assert_int_equal(count_problems(l, LG_PROBLEM_DUPLICATE_ID), 0);
    assert_int_equal(lg_layer_find_id_text(l, "China"), chn);
    lg_layer_free(l);

    /* an unknown id field */
    opt.id_field = "no_such_field";
    assert_int_equal(lg_layer_load(ctx, path, &opt, &l), LG_ERR_NOT_FOUND);
    assert_null(l);
    assert_msg_has(ctx, "naturalearth_lowres.shp");
    assert_msg_has(ctx, "no_such_field");
    assert_msg_has(ctx, "iso_a3"); /* lists the fields */

    SHPClose(shp);
    DBFClose(dbf);
    lg_context_free(ctx);
}

static void test_nybb(void **state)
{
    (void)state;
    const char *zip = "/usr/lib/python3/dist-packages/geopandas/datasets/nybb_16a.zip";
    if (access(zip, R_OK) != 0 || system("command -v unzip >/dev/null 2>&1") != 0)
        skip();
    char cmd[1024], dir[512];
    snprintf(dir, sizeof dir, "%s/nybb", tu_tmpdir());
    snprintf(cmd, sizeof cmd, "unzip -o -q %s -d %s", zip, dir);
    assert_int_equal(system(cmd), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/nybb.shp", dir);
    lg_context *ctx = new_ctx();
    lg_layer *l = NULL;
    lg_load_options opt = {.id_field = "BoroName"};
    if (lg_layer_load(ctx, path, &opt, &l) != LG_OK)
        fail_msg("%s", lg_context_message(ctx));
    SHPHandle shp = SHPOpen(path, "rb");
    DBFHandle dbf = DBFOpen(path, "rb");
    assert_non_null(shp);
    assert_non_null(dbf);
    assert_int_equal(lg_layer_count(l), (size_t)DBFGetRecordCount(dbf));
    assert_int_equal(lg_layer_count(l), 5);
    bool multi = false;
    int fb = DBFGetFieldIndex(dbf, "BoroName");
    assert_true(fb >= 0);
    for (int r = 0; r < 5; r++) {
        SHPObject *o = SHPReadObject(shp, r);
        assert_cell_is_shape(l, (size_t)r, o);
        multi = multi || o->nParts > 1;
        SHPDestroyObject(o);
        assert_int_equal(lg_layer_find_id_text(l, DBFReadStringAttribute(dbf, r, fb)), r);
    }
    assert_true(multi);
    /* the CRS is the .prj text */
    snprintf(cmd, sizeof cmd, "%s/nybb.prj", dir);
    char *prj = read_all(cmd, NULL);
    assert_non_null(prj);
    size_t pl = strlen(prj);
    while (pl && (prj[pl - 1] == '\n' || prj[pl - 1] == '\r' || prj[pl - 1] == ' '))
        prj[--pl] = '\0';
    /* the .prj names NAD83 / New York Long Island (ftUS): PROJ identifies EPSG:2263 */
    assert_non_null(strstr(prj, "NAD_1983_StatePlane_New_York_Long_Island_FIPS_3104_Feet"));
    assert_string_equal(lg_layer_crs(l), "EPSG:2263");
    const char *norm = NULL;
    if (lg_crs_check(ctx, lg_layer_crs(l), &norm) == LG_OK && norm &&
        strncmp(norm, "EPSG:", 5) == 0)
        assert_string_equal(norm, "EPSG:2263");
    free(prj);
    /* a point in Manhattan (Central Park, EPSG:2263 feet) */
    int64_t row = lg_layer_locate(l, 993000, 225000);
    if (row != LG_NONE) {
        const char *s;
        size_t f;
        assert_int_equal(lg_layer_field_index(l, "BoroName", &f), LG_OK);
        assert_int_equal(lg_layer_get_text(l, f, (size_t)row, &s), LG_OK);
        assert_string_equal(s, "Manhattan");
    }
    SHPClose(shp);
    DBFClose(dbf);
    lg_layer_free(l);
    lg_context_free(ctx);
}

/* ------------------------------------------------------ ring roles, nulls */

static void test_ring_roles(void **state)
{
    (void)state;
    char base[512];
    snprintf(base, sizeof base, "%s/roles", tu_tmpdir());
    /* rec 0: hole listed before its shell; rec 1: a counter-clockwise shell alone;
     * rec 2: two shells with a hole each, holes listed last and in reverse order;
     * rec 3: lake in a shell with an island (clockwise) inside the lake; rec 4: null */
    static const double big[] = SQ_CW(0, 0, 10), hole[] = SQ_CCW(2, 2, 3);
    static const double ccw[] = SQ_CCW(0, 0, 4);
    static const double s1[] = SQ_CW(0, 0, 10), s2[] = SQ_CW(20, 0, 10);
    static const double h1[] = SQ_CCW(1, 1, 2), h2[] = SQ_CCW(21, 1, 3);
    static const double outer[] = SQ_CW(0, 0, 100), lake[] = SQ_CCW(10, 10, 50),
                        island[] = SQ_CW(20, 20, 10);
    test_part parts[] = {{hole, 5}, {big, 5}, {ccw, 5},   {s1, 5},   {s2, 5},
                         {h2, 5},   {h1, 5},  {outer, 5}, {lake, 5}, {island, 5}};
    int np[] = {2, 1, 4, 3, 0};
    const char *names[] = {"a", "b", "c", "d", NULL};
    make_shapefile(base, 5, np, parts, names);
    char path[600];
    snprintf(path, sizeof path, "%s.shp", base);
    lg_context *ctx = new_ctx();
    lg_layer *l = NULL;
    if (lg_layer_load(ctx, path, NULL, &l) != LG_OK)
        fail_msg("%s", lg_context_message(ctx));
    assert_int_equal(lg_layer_count(l), 5);
    /* expected areas from the squares */
    assert_true(fabs(cell_area(l, 0) - (100 - 9)) < 1e-12);
    assert_true(fabs(cell_area(l, 1) - 16) < 1e-12);
    assert_true(fabs(cell_area(l, 2) - (100 - 4 + 100 - 9)) < 1e-12);
    assert_true(fabs(cell_area(l, 3) - (10000 - 2500 + 100)) < 1e-12);
    assert_int_equal(lg_layer_ring_count(l, 4), 0);
    /* GEOS agrees the cells are valid (the roles are right) */
    for (size_t r = 0; r < 4; r++) {
        GEOSGeometry *g = lg__cell_to_geos(geos(), l, r);
        assert_int_equal(GEOSisValid_r(geos(), g), 1);
        GEOSGeom_destroy_r(geos(), g);
    }
    assert_int_equal(count_problems(l, LG_PROBLEM_INVALID), 0);
    /* the null shape keeps its attributes and is reported empty */
    assert_int_equal(count_problems(l, LG_PROBLEM_EMPTY), 1);
    size_t fnum;
    int64_t v;
    assert_int_equal(lg_layer_field_index(l, "num", &fnum), LG_OK);
    assert_int_equal(lg_layer_field_type(l, fnum), LG_FIELD_INT);
    assert_int_equal(lg_layer_get_int(l, fnum, 4, &v), LG_OK);
    assert_int_equal(v, 40);
    size_t fname;
    assert_int_equal(lg_layer_field_index(l, "name", &fname), LG_OK);
    assert_true(lg_layer_is_null(l, fname, 4));
    assert_null(lg_layer_crs(l)); /* no .prj */
    lg_layer_free(l);
    lg_context_free(ctx);
}

static void test_ids(void **state)
{
    (void)state;
    char base[512], path[600];
    snprintf(base, sizeof base, "%s/ids", tu_tmpdir());
    snprintf(path, sizeof path, "%s.shp", base);
    static const double a[] = SQ_CW(0, 0, 1), b[] = SQ_CW(1, 0, 1), c[] = SQ_CW(2, 0, 1),
                        d[] = SQ_CW(3, 0, 1);
    test_part parts[] = {{a, 5}, {b, 5}, {c, 5}, {d, 5}};
    int np[] = {1, 1, 1, 1};
    const char *names[] = {"x", "y", "x", NULL};
    make_shapefile(base, 4, np, parts, names);
    lg_context *ctx = new_ctx();
    lg_layer *l = NULL;
    lg_load_options opt = {.id_field = "name"};
    assert_int_equal(lg_layer_load(ctx, path, &opt, &l), LG_OK);
    assert_int_equal(count_problems(l, LG_PROBLEM_DUPLICATE_ID), 1);
    assert_int_equal(count_problems(l, LG_PROBLEM_NULL_ID), 1);
    assert_int_equal(lg_layer_find_id_text(l, "y"), 1);
    lg_layer_free(l);
    opt.id_field = "num"; /* 0, 10, 20, 30 */
    assert_int_equal(lg_layer_load(ctx, path, &opt, &l), LG_OK);
    assert_int_equal(lg_layer_problem_count(l), 0);
    assert_int_equal(lg_layer_find_id(l, 20), 2);
    assert_int_equal(lg_layer_find_id(l, 21), LG_NONE);
    lg_layer_free(l);
    lg_context_free(ctx);
}

/* ------------------------------------------------------------ encodings */

/* Write a one-record shapefile whose "name" holds raw bytes; ldid patched into the dbf. */
static void make_encoded(const char *base, const char *raw, int ldid, const char *cpg)
{
    static const double a[] = SQ_CW(0, 0, 1);
    test_part parts[] = {{a, 5}};
    int np[] = {1};
    const char *names[] = {raw};
    make_shapefile(base, 1, np, parts, names);
    char p[600];
    snprintf(p, sizeof p, "%s.dbf", base);
    FILE *f = fopen(p, "r+b");
    assert_non_null(f);
    fseek(f, 29, SEEK_SET);
    fputc(ldid, f);
    fclose(f);
    if (cpg) {
        snprintf(p, sizeof p, "%s.cpg", base);
        assert_int_equal(tu_write_file(p, cpg, strlen(cpg)), 0);
    }
}

static void check_decoded(const char *raw, int ldid, const char *cpg, const char *want)
{
    char base[512], path[600];
    snprintf(base, sizeof base, "%s/enc", tu_tmpdir());
    snprintf(path, sizeof path, "%s.shp", base);
    make_encoded(base, raw, ldid, cpg);
    lg_context *ctx = new_ctx();
    lg_layer *l = NULL;
    if (lg_layer_load(ctx, path, NULL, &l) != LG_OK)
        fail_msg("%s", lg_context_message(ctx));
    const char *s;
    assert_int_equal(lg_layer_get_text(l, 0, 0, &s), LG_OK);
    assert_string_equal(s, want);
    lg_layer_free(l);
    lg_context_free(ctx);
}

static void test_encodings(void **state)
{
    (void)state;
    /* "北京市" in GBK is B1 B1 BE A9 CA D0 (GB 2312 code table) */
    const char *gbk = "\xb1\xb1\xbe\xa9\xca\xd0";
    const char *utf8 = "\xe5\x8c\x97\xe4\xba\xac\xe5\xb8\x82";
    check_decoded(gbk, 0x00, "GBK", utf8);
    check_decoded(gbk, 0x00, "CP936", utf8);
    check_decoded(gbk, 0x00, "936\n", utf8);
    check_decoded(gbk, 0x4D, NULL, utf8); /* language driver: GBK */
    check_decoded(gbk, 0x57, NULL, utf8); /* ANSI: not UTF-8, so GBK */
    check_decoded(gbk, 0x00, NULL, utf8); /* nothing: guess */
    check_decoded(utf8, 0x57, NULL, utf8);
    check_decoded(utf8, 0x00, "UTF-8", utf8);
    check_decoded("caf\xe9", 0x00, "ISO-8859-1", "caf\xc3\xa9");
    /* invalid bytes become U+FFFD, never a crash */
    check_decoded("a\xff\xfe"
                  "b",
                  0x00, "UTF-8",
                  "a\xef\xbf\xbd\xef\xbf\xbd"
                  "b");
    check_decoded("a\x81", 0x00, "GBK", "a\xef\xbf\xbd"); /* truncated GBK pair */
    check_decoded("\xff\xff", 0x00, NULL, "\xef\xbf\xbd\xef\xbf\xbd");
    check_decoded("x", 0x00, "NO-SUCH-ENCODING", "x");
}

/* ------------------------------------------------------- malformed input */

static lg_error load_err(lg_context *ctx, const char *path, const lg_load_options *opt)
{
    lg_layer *l = NULL;
    lg_error e = lg_layer_load(ctx, path, opt, &l);
    if (e == LG_OK)
        lg_layer_free(l);
    else
        assert_null(l);
    return e;
}

static void test_missing_files(void **state)
{
    (void)state;
    const char *shp = small_shapefile();
    char base[512], dst[512], p[600];
    snprintf(base, sizeof base, "%.*s", (int)(strlen(shp) - 4), shp);
    snprintf(dst, sizeof dst, "%s/missing", tu_tmpdir());
    lg_context *ctx = new_ctx();
    static const char *ext[] = {".shp", ".shx", ".dbf"};
    for (int i = 0; i < 3; i++) {
        copy_shapefile(base, dst);
        snprintf(p, sizeof p, "%s%s", dst, ext[i]);
        unlink(p);
        snprintf(p, sizeof p, "%s.shp", dst);
        assert_int_equal(load_err(ctx, p, NULL), LG_ERR_IO);
        assert_msg_has(ctx, "missing.shp");
        assert_msg_has(ctx, ext[i]);
    }
    assert_int_equal(load_err(ctx, "/nonexistent/dir/x.shp", NULL), LG_ERR_IO);
    assert_msg_has(ctx, "/nonexistent/dir/x.shp");
    lg_context_free(ctx);
}

static void test_malformed_shapefiles(void **state)
{
    (void)state;
    const char *shp = small_shapefile();
    char base[512], dst[512], p[600], q[600];
    snprintf(base, sizeof base, "%.*s", (int)(strlen(shp) - 4), shp);
    snprintf(dst, sizeof dst, "%s/bad", tu_tmpdir());
    snprintf(p, sizeof p, "%s.shp", dst);
    lg_context *ctx = new_ctx();
    size_t n;
    char *orig = read_all(shp, &n);

    /* truncated .shp: the last record is cut; the .shx points past the end */
    copy_shapefile(base, dst);
    assert_int_equal(tu_write_file(p, orig, n - 20), 0);
    assert_int_equal(load_err(ctx, p, NULL), LG_ERR_FORMAT);
    assert_msg_has(ctx, "bad.shp");
    assert_msg_has(ctx, "record 1");
    assert_msg_has(ctx, "beyond the end");

    /* .shx whose first offset points beyond the .shp */
    copy_shapefile(base, dst);
    snprintf(q, sizeof q, "%s.shx", dst);
    size_t xn;
    char *shx = read_all(q, &xn);
    shx[100] = 0x7f;
    assert_int_equal(tu_write_file(q, shx, xn), 0);
    assert_int_equal(load_err(ctx, p, NULL), LG_ERR_FORMAT);
    assert_msg_has(ctx, "record 0");
    assert_msg_has(ctx, ".shx");

    /* .shx cut in the middle of an entry */
    copy_shapefile(base, dst);
    assert_int_equal(tu_write_file(q, shx, xn - 3), 0);
    assert_int_equal(load_err(ctx, p, NULL), LG_ERR_FORMAT);
    assert_msg_has(ctx, ".shx");
    assert_msg_has(ctx, "truncated");
    free(shx);

    /* record whose content is garbage for shapelib (bad part count), offsets valid:
     * corrupt the part count of record 0 (at 8 + 44 bytes into the record) */
    copy_shapefile(base, dst);
    char *bad = malloc(n);
    memcpy(bad, orig, n);
    bad[100 + 8 + 36] = 0x7f;
    bad[100 + 8 + 39] = 0x7f;
    assert_int_equal(tu_write_file(p, bad, n), 0);
    assert_int_equal(load_err(ctx, p, NULL), LG_ERR_FORMAT);
    assert_msg_has(ctx, "record 0");
    assert_msg_has(ctx, "cannot be read (truncated or corrupt)");
    free(bad);

    /* .dbf record count differs from the .shp */
    {
        char b2[512];
        snprintf(b2, sizeof b2, "%s/other", tu_tmpdir());
        static const double a[] = SQ_CW(0, 0, 1);
        test_part parts[] = {{a, 5}, {a, 5}};
        int np[] = {1, 1};
        make_shapefile(b2, 2, np, parts, NULL);
        copy_shapefile(base, dst);
        char from[600];
        snprintf(from, sizeof from, "%s.dbf", b2);
        snprintf(q, sizeof q, "%s.dbf", dst);
        copy_file(from, q);
        assert_int_equal(load_err(ctx, p, NULL), LG_ERR_FORMAT);
        assert_msg_has(ctx, "bad.shp");
        assert_msg_has(ctx, "2 records");
        assert_msg_has(ctx, "3");
    }

    /* truncated .dbf */
    copy_shapefile(base, dst);
    snprintf(q, sizeof q, "%s.dbf", dst);
    char *dbf = read_all(q, &xn);
    assert_int_equal(tu_write_file(q, dbf, xn - 30), 0);
    assert_int_equal(load_err(ctx, p, NULL), LG_ERR_FORMAT);
    assert_msg_has(ctx, ".dbf");
    assert_msg_has(ctx, "truncated");
    free(dbf);

    /* not a shapefile at all */
    copy_shapefile(base, dst);
    assert_int_equal(tu_write_file(p, "hello world", 11), 0);
    assert_int_equal(load_err(ctx, p, NULL), LG_ERR_FORMAT);
    assert_msg_has(ctx, "bad.shp");

    /* unparseable .prj */
    copy_shapefile(base, dst);
    snprintf(q, sizeof q, "%s.prj", dst);
    assert_int_equal(tu_write_file(q, "GEOGCS[garbage", 14), 0);
    assert_int_equal(load_err(ctx, p, NULL), LG_ERR_CRS);
    assert_msg_has(ctx, "bad.shp");
    /* ... unless the caller gives the CRS */
    lg_load_options opt = {.crs = "EPSG:4326"};
    assert_int_equal(load_err(ctx, p, &opt), LG_OK);
    unlink(q);

    free(orig);
    lg_context_free(ctx);
}

static void test_bad_geometry(void **state)
{
    (void)state;
    char base[512], p[600];
    snprintf(base, sizeof base, "%s/geom", tu_tmpdir());
    snprintf(p, sizeof p, "%s.shp", base);
    lg_context *ctx = new_ctx();
    static const double ok[] = SQ_CW(0, 0, 1);
    static const double nan_ring[] = {0, 0, 0, 1, NAN, 1, 1, 0, 0, 0};
    static const double inf_ring[] = {0, 0, 0, INFINITY, 1, 1, 1, 0, 0, 0};
    static const double open_ring[] = {0, 0, 0, 1, 1, 1, 1, 0, 0.5, 0};
    static const double short_ring[] = {0, 0, 0, 1, 0, 0};
    const double *bad[] = {nan_ring, inf_ring, open_ring, short_ring};
    const int nbad[] = {5, 5, 5, 3};
    const char *why[] = {"not finite", "not finite", "not closed", "at least 4"};
    for (int i = 0; i < 4; i++) {
        test_part parts[] = {{ok, 5}, {bad[i], nbad[i]}};
        int np[] = {1, 1};
        make_shapefile(base, 2, np, parts, NULL);
        assert_int_equal(load_err(ctx, p, NULL), LG_ERR_GEOMETRY);
        assert_msg_has(ctx, "geom.shp");
        assert_msg_has(ctx, "record 1");
        assert_msg_has(ctx, why[i]);
    }
    /* no records */
    make_shapefile(base, 0, NULL, NULL, NULL);
    assert_int_equal(load_err(ctx, p, NULL), LG_ERR_FORMAT);
    assert_msg_has(ctx, "geom.shp");
    assert_msg_has(ctx, "no records");
    /* a point shapefile */
    SHPHandle h = SHPCreate(p, SHPT_POINT);
    double x = 1, y = 2;
    SHPObject *o = SHPCreateSimpleObject(SHPT_POINT, 1, &x, &y, NULL);
    SHPWriteObject(h, -1, o);
    SHPDestroyObject(o);
    SHPClose(h);
    assert_int_equal(load_err(ctx, p, NULL), LG_ERR_UNSUPPORTED);
    assert_msg_has(ctx, "geom.shp");
    assert_msg_has(ctx, "Point");
    lg_context_free(ctx);
}

/* Every truncation of each file gives an error or a valid layer, never a crash. */
static void truncate_all(const char *src_base, const char *name, size_t step)
{
    static const char *ext[] = {".shp", ".shx", ".dbf"};
    char dst[512], p[600], q[600], from[600];
    snprintf(dst, sizeof dst, "%s/%s", tu_tmpdir(), name);
    snprintf(p, sizeof p, "%s.shp", dst);
    lg_context *ctx = new_ctx();
    for (int k = 0; k < 3; k++) {
        snprintf(from, sizeof from, "%s%s", src_base, ext[k]);
        size_t n;
        char *data = read_all(from, &n);
        assert_non_null(data);
        copy_shapefile(src_base, dst);
        snprintf(q, sizeof q, "%s%s", dst, ext[k]);
        size_t errors = 0;
        for (size_t cut = 0; cut < n; cut += (cut < 200 ? 1 : step)) {
            assert_int_equal(tu_write_file(q, data, cut), 0);
            lg_layer *l = NULL;
            lg_error e = lg_layer_load(ctx, p, NULL, &l);
            if (e == LG_OK) {
                assert_non_null(l);
                lg_layer_free(l);
            } else {
                assert_null(l);
                assert_true(strlen(lg_context_message(ctx)) > 0);
                assert_non_null(strstr(lg_context_message(ctx), name));
                errors++;
            }
        }
        assert_true(errors > 0);
        free(data);
    }
    lg_context_free(ctx);
}

static void test_truncation(void **state)
{
    (void)state;
    const char *shp = small_shapefile();
    char base[512];
    snprintf(base, sizeof base, "%.*s", (int)(strlen(shp) - 4), shp);
    truncate_all(base, "trunc_small", 1);
    const char *ne = tu_naturalearth();
    if (ne) {
        snprintf(base, sizeof base, "%.*s", (int)(strlen(ne) - 4), ne);
        truncate_all(base, "trunc_ne", 997);
    }
}

/* Random byte flips in each file (past the .shp header): errors or layers only. */
static void test_corruption(void **state)
{
    (void)state;
    const char *ne = tu_naturalearth();
    if (!ne)
        skip();
    static const char *ext[] = {".shp", ".shx", ".dbf"};
    char base[512], dst[512], p[600], from[600], to[600];
    snprintf(base, sizeof base, "%.*s", (int)(strlen(ne) - 4), ne);
    snprintf(dst, sizeof dst, "%s/flip", tu_tmpdir());
    snprintf(p, sizeof p, "%s.shp", dst);
    uint64_t seed = 42;
    lg_context *ctx = new_ctx();
    for (int k = 0; k < 3; k++) {
        copy_shapefile(base, dst);
        snprintf(from, sizeof from, "%s%s", base, ext[k]);
        snprintf(to, sizeof to, "%s%s", dst, ext[k]);
        size_t n;
        char *data = read_all(from, &n);
        char *buf = malloc(n);
        size_t skip_hdr = k == 0 ? 100 : 0;
        for (int iter = 0; iter < 150; iter++) {
            memcpy(buf, data, n);
            for (int j = 0; j < 4; j++)
                buf[skip_hdr + tu_rand(&seed) % (n - skip_hdr)] = (char)tu_rand(&seed);
            assert_int_equal(tu_write_file(to, buf, n), 0);
            lg_layer *l = NULL;
            if (lg_layer_load(ctx, p, NULL, &l) == LG_OK)
                lg_layer_free(l);
            else
                assert_non_null(strstr(lg_context_message(ctx), "flip"));
        }
        free(buf);
        free(data);
    }
    lg_context_free(ctx);
}

/* ---------------------------------------------------------- round trips */

static void test_shapefile_roundtrip(void **state)
{
    (void)state;
    const char *ne = tu_naturalearth();
    if (!ne)
        skip();
    lg_context *ctx = new_ctx();
    lg_layer *a = NULL, *b = NULL;
    assert_int_equal(lg_layer_load(ctx, ne, NULL, &a), LG_OK);
    const char *out = tmp_path("rt_ne.shp");
    if (lg_layer_write_shapefile(ctx, a, out) != LG_OK)
        fail_msg("%s", lg_context_message(ctx));
    if (lg_layer_load(ctx, out, NULL, &b) != LG_OK)
        fail_msg("%s", lg_context_message(ctx));
    assert_same_geometry(a, b, false);
    assert_same_attributes(a, b);
    assert_non_null(lg_layer_crs(b));
    assert_true(access(tmp_path("rt_ne.cpg"), R_OK) == 0);
    /* shapelib reads the written file: shells clockwise, as in the source */
    SHPHandle h = SHPOpen(out, "rb");
    assert_non_null(h);
    for (int r = 0; r < (int)lg_layer_count(a); r++) {
        SHPObject *o = SHPReadObject(h, r);
        assert_cell_is_shape(a, (size_t)r, o);
        SHPDestroyObject(o);
    }
    SHPClose(h);
    lg_layer_free(a);
    lg_layer_free(b);
    lg_context_free(ctx);
}

static const char *write_text(const char *name, const char *text)
{
    const char *p = tmp_path(name);
    assert_int_equal(tu_write_file(p, text, strlen(text)), 0);
    return p;
}

/* A layer with holes, multipolygons, every field type, nulls, and CCW shells. */
static const char *typed_geojson(void)
{
    return write_text(
        "typed.geojson",
        "{\"type\":\"FeatureCollection\",\"features\":[\n"
        "{\"type\":\"Feature\",\"id\":7,\"properties\":{\"name\":\"\xe5\x8c\x97 \\\"q\\\"\","
        "\"n\":1,\"x\":1.5,\"flag\":true,\"obj\":{\"a\":[1,2]},\"maybe\":null},"
        "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[10,0],[10,10],[0,10],[0,0]],"
        "[[2,2],[2,4],[4,4],[4,2],[2,2]]]}},\n"
        "{\"type\":\"Feature\",\"id\":8,\"properties\":{\"name\":null,\"n\":-9007199254740993,"
        "\"x\":2,\"flag\":false,\"obj\":\"s\",\"maybe\":null},"
        "\"geometry\":{\"type\":\"MultiPolygon\",\"coordinates\":[[[[20,0],[30,0],[30,10],[20,0]]],"
        "[[[40,0],[50,0],[50,10],[40,10],[40,0]],[[41,1],[41,2],[42,2],[41,1]]]]}},\n"
        "{\"type\":\"Feature\",\"id\":9,\"properties\":{\"x\":0.1},\"geometry\":null}\n"
        "]}\n");
}

static void test_geojson(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    lg_layer *l = NULL;
    const char *p = typed_geojson();
    if (lg_layer_load(ctx, p, NULL, &l) != LG_OK)
        fail_msg("%s", lg_context_message(ctx));
    assert_int_equal(lg_layer_count(l), 3);
    assert_string_equal(lg_layer_crs(l), "EPSG:4326");
    static const char *names[] = {"name", "n", "x", "flag", "obj", "maybe", "id"};
    static const lg_field_type types[] = {LG_FIELD_TEXT, LG_FIELD_INT,  LG_FIELD_REAL, LG_FIELD_INT,
                                          LG_FIELD_TEXT, LG_FIELD_TEXT, LG_FIELD_INT};
    assert_int_equal(lg_layer_field_count(l), 7);
    for (size_t f = 0; f < 7; f++) {
        assert_string_equal(lg_layer_field_name(l, f), names[f]);
        assert_int_equal(lg_layer_field_type(l, f), types[f]);
    }
    const char *s;
    int64_t i;
    double d;
    assert_int_equal(lg_layer_get_text(l, 0, 0, &s), LG_OK);
    assert_string_equal(s, "\xe5\x8c\x97 \"q\"");
    assert_true(lg_layer_is_null(l, 0, 1));
    assert_int_equal(lg_layer_get_int(l, 1, 1, &i), LG_OK);
    assert_true(i == -9007199254740993LL); /* exact beyond 2^53 */
    assert_int_equal(lg_layer_get_real(l, 2, 1, &d), LG_OK);
    assert_true(d == 2.0);
    assert_int_equal(lg_layer_get_real(l, 2, 2, &d), LG_OK);
    assert_true(d == 0.1);
    assert_int_equal(lg_layer_get_int(l, 3, 0, &i), LG_OK);
    assert_int_equal(i, 1);
    assert_int_equal(lg_layer_get_int(l, 3, 1, &i), LG_OK);
    assert_int_equal(i, 0);
    assert_int_equal(lg_layer_get_text(l, 4, 0, &s), LG_OK);
    assert_string_equal(s, "{\"a\":[1,2]}");
    assert_int_equal(lg_layer_get_text(l, 4, 1, &s), LG_OK);
    assert_string_equal(s, "s");
    assert_true(lg_layer_is_null(l, 5, 0));
    assert_true(lg_layer_is_null(l, 1, 2)); /* missing property */
    assert_int_equal(lg_layer_get_int(l, 6, 2, &i), LG_OK);
    assert_int_equal(i, 9);
    /* geometry: areas from the coordinates */
    assert_true(fabs(cell_area(l, 0) - 96) < 1e-12);
    assert_true(fabs(cell_area(l, 1) - (50 + 100 - 0.5)) < 1e-12);
    assert_int_equal(lg_layer_ring_count(l, 0), 2);
    assert_int_equal(lg_layer_ring_count(l, 1), 3);
    assert_int_equal(lg_layer_ring_count(l, 2), 0);
    assert_int_equal(count_problems(l, LG_PROBLEM_EMPTY), 1);
    lg_layer_free(l);

    /* id field by the feature id */
    lg_load_options opt = {.id_field = "id"};
    assert_int_equal(lg_layer_load(ctx, p, &opt, &l), LG_OK);
    assert_int_equal(lg_layer_find_id(l, 8), 1);
    lg_layer_free(l);

    /* a single Feature, a bare geometry, legacy crs member, opt->crs */
    p = write_text(
        "single.json",
        "{\"type\":\"Feature\",\"properties\":{\"id\":\"A\"},\"id\":5,"
        "\"crs\":{\"type\":\"name\",\"properties\":{\"name\":"
        "\"urn:ogc:def:crs:EPSG::4547\"}},"
        "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,0]]]}}");
    assert_int_equal(lg_layer_load(ctx, p, NULL, &l), LG_OK);
    assert_int_equal(lg_layer_count(l), 1);
    assert_string_equal(lg_layer_crs(l), "EPSG:4547");
    assert_int_equal(lg_layer_field_count(l), 1); /* property "id" wins over the member */
    assert_int_equal(lg_layer_get_text(l, 0, 0, &s), LG_OK);
    assert_string_equal(s, "A");
    lg_layer_free(l);
    p = write_text("bare.geojson",
                   "{\"type\":\"MultiPolygon\",\"coordinates\":[[[[0,0],[1,0],[1,1],[0,0]]]]}");
    opt = (lg_load_options){.crs = "EPSG:32650"};
    assert_int_equal(lg_layer_load(ctx, p, &opt, &l), LG_OK);
    assert_int_equal(lg_layer_count(l), 1);
    assert_int_equal(lg_layer_field_count(l), 0);
    assert_string_equal(lg_layer_crs(l), "EPSG:32650");
    assert_true(fabs(cell_area(l, 0) - 0.5) < 1e-15);
    lg_layer_free(l);
    lg_context_free(ctx);
}

static void test_geojson_errors(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    const char *p =
        write_text("bad1.geojson", "{\"type\":\"FeatureCollection\",\n\"features\":[\n{]}");
    assert_int_equal(load_err(ctx, p, NULL), LG_ERR_FORMAT);
    assert_msg_has(ctx, "bad1.geojson");
    assert_msg_has(ctx, "line 3");
    /* deep nesting: an error, not a stack overflow */
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 64);
    size_t k = (size_t)sprintf(deep, "{\"type\":\"Feature\",\"properties\":{\"a\":");
    for (size_t i = 0; i < depth; i++)
        deep[k++] = '[';
    for (size_t i = 0; i < depth; i++)
        deep[k++] = ']';
    strcpy(deep + k, "}}");
    p = write_text("deep.geojson", deep);
    free(deep);
    assert_int_equal(load_err(ctx, p, NULL), LG_ERR_FORMAT);
    assert_msg_has(ctx, "deep.geojson");
    assert_msg_has(ctx, "nest");
    /* a point feature */
    p = write_text("point.geojson",
                   "{\"type\":\"FeatureCollection\",\"features\":["
                   "{\"type\":\"Feature\",\"properties\":{},\"geometry\":{\"type\":\"Polygon\","
                   "\"coordinates\":[[[0,0],[1,0],[1,1],[0,0]]]}},"
                   "{\"type\":\"Feature\",\"properties\":{},\"geometry\":{\"type\":\"Point\","
                   "\"coordinates\":[1,2]}}]}");
    assert_int_equal(load_err(ctx, p, NULL), LG_ERR_UNSUPPORTED);
    assert_msg_has(ctx, "point.geojson");
    assert_msg_has(ctx, "record 1");
    assert_msg_has(ctx, "Point");
    /* geometry GEOS cannot read */
    p = write_text("badgeom.geojson",
                   "{\"type\":\"Feature\",\"properties\":{},\"geometry\":{\"type\":\"Polygon\","
                   "\"coordinates\":[[[0,0],[1]]]}}");
    assert_int_equal(load_err(ctx, p, NULL), LG_ERR_FORMAT);
    assert_msg_has(ctx, "badgeom.geojson");
    assert_msg_has(ctx, "record 0");
    assert_msg_has(ctx, "GEOS");
    /* unclosed ring through GEOS, non-JSON, empty collection, missing file */
    p = write_text("empty.geojson", "{\"type\":\"FeatureCollection\",\"features\":[]}");
    assert_int_equal(load_err(ctx, p, NULL), LG_ERR_FORMAT);
    assert_msg_has(ctx, "no records");
    p = write_text("notjson.geojson", "hello");
    assert_int_equal(load_err(ctx, p, NULL), LG_ERR_FORMAT);
    assert_msg_has(ctx, "notjson.geojson");
    p = write_text("trailing.geojson", "{\"type\":\"Polygon\",\"coordinates\":[]} x");
    assert_int_equal(load_err(ctx, p, NULL), LG_ERR_FORMAT);
    assert_msg_has(ctx, "extra text");
    assert_int_equal(load_err(ctx, tmp_path("nope.geojson"), NULL), LG_ERR_IO);
    assert_msg_has(ctx, "nope.geojson");
    lg_context_free(ctx);
}

/* Check ring orientation in a GeoJSON file; returns the number of rings checked. */
static size_t check_rfc7946_orientation(const char *path)
{
    json_object *root = json_object_from_file(path);
    assert_non_null(root);
    json_object *feats = json_object_object_get(root, "features");
    size_t checked = 0;
    for (size_t i = 0; i < json_object_array_length(feats); i++) {
        json_object *g = json_object_object_get(json_object_array_get_idx(feats, i), "geometry");
        if (!g)
            continue;
        json_object *co = json_object_object_get(g, "coordinates");
        bool multi =
            strcmp(json_object_get_string(json_object_object_get(g, "type")), "MultiPolygon") == 0;
        size_t np = multi ? json_object_array_length(co) : 1;
        for (size_t k = 0; k < np; k++) {
            json_object *poly = multi ? json_object_array_get_idx(co, k) : co;
            for (size_t r = 0; r < json_object_array_length(poly); r++) {
                json_object *ring = json_object_array_get_idx(poly, r);
                int n = (int)json_object_array_length(ring);
                double *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
                for (int v = 0; v < n; v++) {
                    json_object *pt = json_object_array_get_idx(ring, (size_t)v);
                    x[v] = json_object_get_double(json_object_array_get_idx(pt, 0));
                    y[v] = json_object_get_double(json_object_array_get_idx(pt, 1));
                }
                double area = shoelace(x, y, n);
                free(x);
                free(y);
                if (!(r == 0 ? area > 0 : area < 0))
                    fail_msg("%s: feature %zu ring %zu has the wrong orientation", path, i, r);
                checked++;
            }
        }
    }
    json_object_put(root);
    return checked;
}

static void test_geojson_roundtrip(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    lg_layer *a = NULL, *b = NULL;
    assert_int_equal(lg_layer_load(ctx, typed_geojson(), NULL, &a), LG_OK);
    const char *out = tmp_path("rt.geojson");
    if (lg_layer_write_geojson(ctx, a, out) != LG_OK)
        fail_msg("%s", lg_context_message(ctx));
    if (lg_layer_load(ctx, out, NULL, &b) != LG_OK)
        fail_msg("%s", lg_context_message(ctx));
    assert_same_geometry(a, b, true);
    assert_same_attributes(a, b);
    /* RFC 7946 orientation in the file: exteriors counter-clockwise, holes clockwise */
    assert_int_equal(check_rfc7946_orientation(out), 5);
    lg_layer_free(a);
    lg_layer_free(b);

    const char *ne = tu_naturalearth();
    if (ne) {
        assert_int_equal(lg_layer_load(ctx, ne, NULL, &a), LG_OK);
        assert_int_equal(lg_layer_write_geojson(ctx, a, out), LG_OK);
        assert_true(check_rfc7946_orientation(out) >= lg_layer_count(a));
        if (lg_layer_load(ctx, out, NULL, &b) != LG_OK)
            fail_msg("%s", lg_context_message(ctx));
        assert_same_geometry(a, b, true);
        assert_same_attributes(a, b);
        lg_layer_free(a);
        lg_layer_free(b);
    }
    /* a projected CRS survives as a legacy crs member */
    const char *wkt = write_text("proj.wkt", "POLYGON((0 0, 0 1, 1 1, 0 0))\n");
    lg_load_options opt = {.crs = "EPSG:4547"};
    assert_int_equal(lg_layer_load(ctx, wkt, &opt, &a), LG_OK);
    assert_int_equal(lg_layer_write_geojson(ctx, a, out), LG_OK);
    assert_int_equal(lg_layer_load(ctx, out, NULL, &b), LG_OK);
    assert_string_equal(lg_layer_crs(b), "EPSG:4547");
    lg_layer_free(a);
    lg_layer_free(b);
    lg_context_free(ctx);
}

static void test_shapefile_roundtrip_typed(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    lg_layer *a = NULL, *b = NULL;
    /* holes, multipolygons, CCW shells, null geometry, every type, nulls */
    const char *p = write_text(
        "typed2.geojson",
        "{\"type\":\"FeatureCollection\",\"features\":[\n"
        "{\"type\":\"Feature\",\"properties\":{\"name\":\"\xe5\x8c\x97\xe4\xba\xac\",\"n\":"
        "123456789012345,"
        "\"x\":0.1,\"long_field_name_1\":1,\"long_field_name_2\":2},"
        "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[10,0],[10,10],[0,10],[0,0]],"
        "[[2,2],[2,4],[4,4],[4,2],[2,2]]]}},\n"
        "{\"type\":\"Feature\",\"properties\":{\"name\":null,\"n\":-5,\"x\":1e300,"
        "\"long_field_name_1\":null,\"long_field_name_2\":3},"
        "\"geometry\":{\"type\":\"MultiPolygon\",\"coordinates\":[[[[20,0],[30,0],[30,10],[20,0]]],"
        "[[[40,0],[50,0],[50,10],[40,10],[40,0]],[[41,1],[41,2],[42,2],[41,1]]]]}},\n"
        "{\"type\":\"Feature\",\"properties\":{\"name\":\"x\",\"n\":null,\"x\":-2.5e-7,"
        "\"long_field_name_1\":4,\"long_field_name_2\":null},\"geometry\":null}\n"
        "]}\n");
    assert_int_equal(lg_layer_load(ctx, p, NULL, &a), LG_OK);
    const char *out = tmp_path("rt_typed.shp");
    if (lg_layer_write_shapefile(ctx, a, out) != LG_OK)
        fail_msg("%s", lg_context_message(ctx));
    if (lg_layer_load(ctx, out, NULL, &b) != LG_OK)
        fail_msg("%s", lg_context_message(ctx));
    assert_same_geometry(a, b, true);
    /* names are cut to 10 bytes and made unique; values and types survive */
    assert_int_equal(lg_layer_field_count(b), 5);
    assert_string_equal(lg_layer_field_name(b, 3), "long_field");
    assert_string_equal(lg_layer_field_name(b, 4), "long_fie_1");
    for (size_t f = 0; f < 5; f++) {
        assert_int_equal(lg_layer_field_type(a, f), lg_layer_field_type(b, f));
        for (size_t r = 0; r < 3; r++) {
            assert_int_equal(lg_layer_is_null(a, f, r), lg_layer_is_null(b, f, r));
            if (lg_layer_is_null(a, f, r))
                continue;
            if (lg_layer_field_type(a, f) == LG_FIELD_TEXT) {
                const char *s, *t;
                lg_layer_get_text(a, f, r, &s);
                lg_layer_get_text(b, f, r, &t);
                assert_string_equal(s, t);
            } else {
                double s, t;
                lg_layer_get_real(a, f, r, &s);
                lg_layer_get_real(b, f, r, &t);
                assert_true(s == t);
            }
        }
    }
    /* the CRS went through the .prj */
    assert_non_null(lg_layer_crs(b));
    assert_true(lg__crs_same(ctx, lg_layer_crs(a), lg_layer_crs(b)));
    /* shells are written clockwise, holes counter-clockwise (shapelib reads the file) */
    SHPHandle h = SHPOpen(out, "rb");
    for (int r = 0; r < 2; r++) {
        SHPObject *o = SHPReadObject(h, r);
        for (int k = 0; k < o->nParts; k++) {
            int s = o->panPartStart[k];
            int t = k + 1 < o->nParts ? o->panPartStart[k + 1] : o->nVertices;
            double area = shoelace(o->padfX + s, o->padfY + s, t - s);
            bool hole = lg_layer_ring_count(a, (size_t)r) > 1 && a->ring_hole[a->cell_ring[r] + k];
            assert_true(hole ? area > 0 : area < 0);
        }
        SHPDestroyObject(o);
    }
    SHPObject *o = SHPReadObject(h, 2);
    assert_int_equal(o->nSHPType, SHPT_NULL);
    SHPDestroyObject(o);
    SHPClose(h);
    lg_layer_free(a);
    lg_layer_free(b);
    lg_context_free(ctx);
}

/* ------------------------------------------------------------ WKT, WKB */

static void test_wkt(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    lg_layer *l = NULL;
    const char *p =
        write_text("cells.wkt",
                   "# comment\n"
                   "POLYGON((0 0, 0 10, 10 10, 10 0, 0 0),(2 2, 4 2, 4 4, 2 4, 2 2))\n"
                   "\n"
                   "  MULTIPOLYGON(((20 0, 20 1, 21 1, 20 0)),((30 0, 30 2, 32 2, 32 0, 30 0)))\r\n"
                   "POLYGON EMPTY\n");
    lg_load_options opt = {.crs = "EPSG:4547"};
    if (lg_layer_load(ctx, p, &opt, &l) != LG_OK)
        fail_msg("%s", lg_context_message(ctx));
    assert_int_equal(lg_layer_count(l), 3);
    assert_int_equal(lg_layer_field_count(l), 0);
    assert_string_equal(lg_layer_crs(l), "EPSG:4547");
    assert_true(fabs(cell_area(l, 0) - 96) < 1e-12);
    assert_true(fabs(cell_area(l, 1) - 4.5) < 1e-12);
    assert_int_equal(lg_layer_ring_count(l, 2), 0);
    /* a layer without fields written as a shapefile gets GDAL's "FID" */
    lg_layer *b = NULL;
    assert_int_equal(lg_layer_write_shapefile(ctx, l, tmp_path("nofields.shp")), LG_OK);
    assert_int_equal(lg_layer_load(ctx, tmp_path("nofields.shp"), NULL, &b), LG_OK);
    assert_same_geometry(l, b, true);
    assert_int_equal(lg_layer_field_count(b), 1);
    assert_string_equal(lg_layer_field_name(b, 0), "FID");
    lg_layer_free(b);
    lg_layer_free(l);

    p = write_text("bad.wkt", "POLYGON((0 0, 0 1, 1 1, 0 0))\n# x\nPOLYGON((0 0, 1 1\n");
    assert_int_equal(load_err(ctx, p, NULL), LG_ERR_FORMAT);
    assert_msg_has(ctx, "bad.wkt");
    assert_msg_has(ctx, "line 3");
    assert_msg_has(ctx, "GEOS");
    p = write_text("pt.wkt", "POLYGON((0 0, 0 1, 1 1, 0 0))\nPOINT(1 2)\n");
    assert_int_equal(load_err(ctx, p, NULL), LG_ERR_UNSUPPORTED);
    assert_msg_has(ctx, "pt.wkt");
    assert_msg_has(ctx, "line 2");
    assert_msg_has(ctx, "Point");
    p = write_text("empty.wkt", "# nothing\n\n");
    assert_int_equal(load_err(ctx, p, NULL), LG_ERR_FORMAT);
    assert_msg_has(ctx, "no records");
    lg_context_free(ctx);
}

static void test_wkb(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    lg_layer *a = NULL, *b = NULL;
    assert_int_equal(lg_layer_load(ctx, typed_geojson(), NULL, &a), LG_OK);
    size_t n = lg_layer_count(a);
    unsigned char *bufs[8];
    size_t lens[8];
    for (size_t r = 0; r < n; r++) {
        assert_int_equal(lg_layer_cell_wkb(a, r, NULL, 0, &lens[r]), LG_OK);
        bufs[r] = malloc(lens[r]);
        assert_int_equal(lg_layer_cell_wkb(a, r, bufs[r], lens[r], &lens[r]), LG_OK);
    }
    /* row 2 is empty; pass it also as a NULL pointer in a 4th row */
    bufs[n] = NULL;
    lens[n] = 0;
    lg_load_options opt = {.crs = "EPSG:4326"};
    if (lg_layer_from_wkb(ctx, (const unsigned char *const *)bufs, lens, n + 1, &opt, &b))
        fail_msg("%s", lg_context_message(ctx));
    assert_int_equal(lg_layer_count(b), n + 1);
    assert_int_equal(lg_layer_field_count(b), 0);
    assert_int_equal(lg_layer_ring_count(b, n), 0);
    for (size_t r = 0; r < n; r++) {
        /* GEOS oracle: the WKB read by GEOS equals the layer's cell exactly */
        GEOSGeometry *g1 = GEOSGeomFromWKB_buf_r(geos(), bufs[r], lens[r]);
        GEOSGeometry *g2 = lg__cell_to_geos(geos(), b, r);
        assert_non_null(g1);
        assert_int_equal(GEOSEqualsExact_r(geos(), g1, g2, 0), 1);
        GEOSGeom_destroy_r(geos(), g1);
        GEOSGeom_destroy_r(geos(), g2);
    }
    lg_layer_free(b);
    /* corrupt WKB names its index */
    unsigned char junk[] = {1, 3, 0, 0, 0, 9, 9};
    unsigned char *saved = bufs[1];
    bufs[1] = junk;
    lens[1] = sizeof junk;
    assert_int_equal(lg_layer_from_wkb(ctx, (const unsigned char *const *)bufs, lens, n, &opt, &b),
                     LG_ERR_FORMAT);
    assert_null(b);
    assert_msg_has(ctx, "wkb");
    assert_msg_has(ctx, "geometry 1");
    bufs[1] = saved;
    for (size_t r = 0; r < n; r++)
        free(bufs[r]);
    lg_layer_free(a);
    lg_context_free(ctx);
}

/* -------------------------------------------------------------- atomic */

static lg_error write_hello(lg_context *ctx, const char *tmp, void *udata)
{
    (void)ctx;
    return tu_write_file(tmp, udata, strlen(udata)) == 0 ? LG_OK : LG_ERR_IO;
}

static lg_error write_then_fail(lg_context *ctx, const char *tmp, void *udata)
{
    tu_write_file(tmp, "partial", 7);
    *(char **)udata = strdup(tmp);
    return lg__fail(ctx, LG_ERR_IO, "%s: simulated failure", tmp);
}

static size_t count_tmp_files(void)
{
    DIR *d = opendir(tu_tmpdir());
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strstr(e->d_name, ".tmp") != NULL;
    closedir(d);
    return n;
}

static void test_atomic(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    const char *p = tmp_path("atomic.txt");
    assert_int_equal(lg__write_atomic(ctx, p, write_hello, "first"), LG_OK);
    char *s = read_all(p, NULL);
    assert_string_equal(s, "first");
    free(s);
    char *tmp = NULL;
    assert_int_equal(lg__write_atomic(ctx, p, write_then_fail, &tmp), LG_ERR_IO);
    assert_msg_has(ctx, "simulated failure");
    s = read_all(p, NULL);
    assert_string_equal(s, "first"); /* untouched */
    free(s);
    assert_non_null(tmp);
    assert_int_equal(access(tmp, F_OK), -1); /* temporary removed */
    assert_non_null(strstr(tmp, "atomic.txt.tmp"));
    free(tmp);
    assert_int_equal(lg__write_atomic(ctx, p, write_hello, "second"), LG_OK);
    s = read_all(p, NULL);
    assert_string_equal(s, "second");
    free(s);
    /* a directory that does not exist */
    assert_int_equal(lg__write_atomic(ctx, "/nonexistent/dir/f.txt", write_hello, "x"), LG_ERR_IO);
    assert_msg_has(ctx, "/nonexistent/dir/f.txt");

    /* a failing shapefile write leaves the previous files intact and no temporaries */
    lg_layer *a = NULL;
    const char *shp = tmp_path("keep.shp");
    const char *wkt = write_text("keep.wkt", "POLYGON((0 0, 0 1, 1 1, 0 0))\n");
    assert_int_equal(lg_layer_load(ctx, wkt, NULL, &a), LG_OK);
    assert_int_equal(lg_layer_write_shapefile(ctx, a, shp), LG_OK);
    lg_layer_free(a);
    size_t n_shp, n_dbf;
    char *old_shp = read_all(shp, &n_shp);
    char *old_dbf = read_all(tmp_path("keep.dbf"), &n_dbf);
    char longtext[400];
    memset(longtext, 'x', 300);
    longtext[300] = '\0';
    char json[1024];
    snprintf(json, sizeof json,
             "{\"type\":\"Feature\",\"properties\":{\"t\":\"%s\"},\"geometry\":{\"type\":"
             "\"Polygon\",\"coordinates\":[[[0,0],[5,0],[5,5],[0,0]]]}}",
             longtext);
    assert_int_equal(lg_layer_load(ctx, write_text("long.geojson", json), NULL, &a), LG_OK);
    size_t before = count_tmp_files();
    assert_int_equal(lg_layer_write_shapefile(ctx, a, shp), LG_ERR_UNSUPPORTED);
    assert_msg_has(ctx, "keep.shp");
    assert_msg_has(ctx, "record 0");
    assert_msg_has(ctx, "254");
    assert_int_equal(count_tmp_files(), before);
    size_t m;
    s = read_all(shp, &m);
    assert_int_equal(m, n_shp);
    assert_memory_equal(s, old_shp, m);
    free(s);
    s = read_all(tmp_path("keep.dbf"), &m);
    assert_int_equal(m, n_dbf);
    assert_memory_equal(s, old_dbf, m);
    free(s);
    free(old_shp);
    free(old_dbf);
    lg_layer_free(a);
    lg_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_naturalearth),
        cmocka_unit_test(test_nybb),
        cmocka_unit_test(test_ring_roles),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_missing_files),
        cmocka_unit_test(test_malformed_shapefiles),
        cmocka_unit_test(test_bad_geometry),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_corruption),
        cmocka_unit_test(test_shapefile_roundtrip),
        cmocka_unit_test(test_shapefile_roundtrip_typed),
        cmocka_unit_test(test_geojson),
        cmocka_unit_test(test_geojson_errors),
        cmocka_unit_test(test_geojson_roundtrip),
        cmocka_unit_test(test_wkt),
        cmocka_unit_test(test_wkb),
        cmocka_unit_test(test_atomic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
