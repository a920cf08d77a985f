/*
 * Tests of crs.c: GCJ-02/BD-09 against published vectors, inverses by round trip,
 * PROJ transforms against values computed once with the cs2cs tool (PROJ 9.1.1,
 * Debian proj-bin), CRS checking, equivalence and ESRI WKT.
 */
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

/* Great-circle distance in metres (haversine, mean Earth radius). */
static double haversine_m(double lon1, double lat1, double lon2, double lat2)
{
    double r = PI / 180.0;
    double dlat = (lat2 - lat1) * r, dlon = (lon2 - lon1) * r;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * r) * cos(lat2 * r) * sin(dlon / 2) * sin(dlon / 2);
    return 2.0 * 6371008.8 * asin(sqrt(a));
}

static lg_context *new_ctx(void)
{
    lg_context *ctx = NULL;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    return ctx;
}

/* ------------------------------------------------------------ GCJ-02 / BD-09 */

/*
 * Published WGS-84 -> GCJ-02 pairs.
 * 1-3: googollee/eviltransform, c/test.c and go/transform_test.go (Shanghai,
 *      Shenzhen, Beijing), stored there as wgsLat, wgsLng, gcjLat, gcjLng.
 * 4:   wandergis/coordtransform README.md: wgs84togcj02(116.404, 39.915) =
 *      [116.41024449916938, 39.91640428150164].
 */
static const double gcj_vectors[][4] = {
    /* wgs lon, wgs lat, gcj lon, gcj lat */
    {121.5272106, 31.1774276, 121.531541859215, 31.17530398364597},
    {113.912316, 22.543847, 113.9171764808363, 22.540796131694766},
    {116.377817, 39.911954, 116.38404722455657, 39.91334545536069},
    {116.404, 39.915, 116.41024449916938, 39.91640428150164},
};
#define N_GCJ (sizeof gcj_vectors / sizeof gcj_vectors[0])

static void gcj02_published_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_GCJ; i++) {
        double lon = gcj_vectors[i][0], lat = gcj_vectors[i][1];
        lg_wgs84_to_gcj02(&lon, &lat, 1);
        /* The published values carry 13+ digits: 1e-9 degrees is ~0.1 mm. */
        assert_true(fabs(lon - gcj_vectors[i][2]) < 1e-9);
        assert_true(fabs(lat - gcj_vectors[i][3]) < 1e-9);
        /* Inverse: back to the published WGS-84 point within 0.5 m. */
        lg_gcj02_to_wgs84(&lon, &lat, 1);
        assert_true(haversine_m(lon, lat, gcj_vectors[i][0], gcj_vectors[i][1]) < 0.5);
    }
}

/*
 * wandergis/coordtransform README.md:
 *   gcj02tobd09(116.404, 39.915) = [116.41036949371029, 39.92133699351021]
 *   bd09togcj02(116.404, 39.915) = [116.39762729119315, 39.90865673957631]
 * The second is their one-step approximate inverse, ours is iterated: both must
 * agree within 0.5 m.
 */
static void bd09_published_vectors(void **state)
{
    (void)state;
    double lon = 116.404, lat = 39.915;
    lg_gcj02_to_bd09(&lon, &lat, 1);
    assert_true(fabs(lon - 116.41036949371029) < 1e-9);
    assert_true(fabs(lat - 39.92133699351021) < 1e-9);
    lg_bd09_to_gcj02(&lon, &lat, 1);
    assert_true(haversine_m(lon, lat, 116.404, 39.915) < 0.5);

    lon = 116.404;
    lat = 39.915;
    lg_bd09_to_gcj02(&lon, &lat, 1);
    assert_true(haversine_m(lon, lat, 116.39762729119315, 39.90865673957631) < 0.5);

    /* wgs84 -> bd09 is gcj02 then bd09: published gcj vector 4 fed to gcj02tobd09. */
    double a = 116.404, b = 39.915, c = gcj_vectors[3][2], d = gcj_vectors[3][3];
    lg_wgs84_to_bd09(&a, &b, 1);
    lg_gcj02_to_bd09(&c, &d, 1);
    assert_true(a == c && b == d);
    lg_bd09_to_wgs84(&a, &b, 1);
    assert_true(haversine_m(a, b, 116.404, 39.915) < 0.5);
}

/* Round trips over a grid across China: inverse error below 0.5 m everywhere. */
static void round_trips_china_grid(void **state)
{
    (void)state;
    size_t n = 0;
    static double lon[200 * 100], lat[200 * 100], lon0[200 * 100], lat0[200 * 100];
    for (double x = 73.5; x <= 135.0; x += 0.31)
        for (double y = 18.0; y <= 53.5; y += 0.37) {
            lon0[n] = lon[n] = x;
            lat0[n] = lat[n] = y;
            n++;
        }
    assert_true(n > 10000 && n <= 200 * 100);

    double worst = 0;
    lg_wgs84_to_gcj02(lon, lat, n);
    size_t moved = 0;
    for (size_t i = 0; i < n; i++)
        moved += haversine_m(lon[i], lat[i], lon0[i], lat0[i]) > 1.0;
    assert_true(moved == n); /* the offset applies inside the rectangle */
    lg_gcj02_to_wgs84(lon, lat, n);
    for (size_t i = 0; i < n; i++) {
        double e = haversine_m(lon[i], lat[i], lon0[i], lat0[i]);
        worst = e > worst ? e : worst;
    }
    assert_true(worst < 0.5);
    print_message("wgs84->gcj02->wgs84 worst error %.3g m over %zu points\n", worst, n);

    worst = 0;
    memcpy(lon, lon0, n * sizeof *lon);
    memcpy(lat, lat0, n * sizeof *lat);
    lg_wgs84_to_bd09(lon, lat, n);
    lg_bd09_to_wgs84(lon, lat, n);
    for (size_t i = 0; i < n; i++) {
        double e = haversine_m(lon[i], lat[i], lon0[i], lat0[i]);
        worst = e > worst ? e : worst;
    }
    assert_true(worst < 0.5);

    worst = 0;
    memcpy(lon, lon0, n * sizeof *lon);
    memcpy(lat, lat0, n * sizeof *lat);
    lg_gcj02_to_bd09(lon, lat, n);
    lg_bd09_to_gcj02(lon, lat, n);
    for (size_t i = 0; i < n; i++) {
        double e = haversine_m(lon[i], lat[i], lon0[i], lat0[i]);
        worst = e > worst ? e : worst;
    }
    assert_true(worst < 0.5);
}

static void outside_china_unchanged(void **state)
{
    (void)state;
    /* London, Tokyo (east of 137.8347), Singapore (south of 0.8293), New York, Moscow. */
    double lon[] = {-0.1276, 139.6917, 103.8198, -74.006, 37.6173};
    double lat[] = {51.5072, 35.6895, 0.8, 40.7128, 55.7558};
    double lon0[5], lat0[5];
    memcpy(lon0, lon, sizeof lon);
    memcpy(lat0, lat, sizeof lat);
    lg_wgs84_to_gcj02(lon, lat, 5);
    assert_memory_equal(lon, lon0, sizeof lon);
    assert_memory_equal(lat, lat0, sizeof lat);
    lg_gcj02_to_wgs84(lon, lat, 5);
    assert_memory_equal(lon, lon0, sizeof lon);
    assert_memory_equal(lat, lat0, sizeof lat);
}

static void nan_in_nan_out(void **state)
{
    (void)state;
    double lon[] = {NAN, 116.4, 116.4}, lat[] = {39.9, NAN, 39.9};
    lg_wgs84_to_gcj02(lon, lat, 3);
    assert_true(isnan(lon[0]) && isnan(lat[1]));
    lg_gcj02_to_wgs84(lon, lat, 3);
    assert_true(isnan(lon[0]) && isnan(lat[0]) && isnan(lon[1]) && isnan(lat[1]));
    assert_true(haversine_m(lon[2], lat[2], 116.4, 39.9) < 0.5);
    lon[0] = NAN;
    lg_bd09_to_wgs84(lon, lat, 3);
    assert_true(isnan(lon[0]) && isnan(lat[0]));
    lg_wgs84_to_gcj02(NULL, NULL, 3); /* no crash */
}

/* ---------------------------------------------------------------- CRS check */

static const char *esri_wgs84 =
    "GEOGCS[\"GCS_WGS_1984\",DATUM[\"D_WGS_1984\",SPHEROID[\"WGS_1984\",6378137.0,"
    "298.257223563]],PRIMEM[\"Greenwich\",0.0],UNIT[\"Degree\",0.0174532925199433]]";

static void crs_check_normalizes(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    const char *norm = NULL;
    assert_int_equal(lg_crs_check(ctx, "EPSG:4547", &norm), LG_OK);
    assert_string_equal(norm, "EPSG:4547");
    assert_int_equal(lg_crs_check(ctx, "urn:ogc:def:crs:EPSG::4490", &norm), LG_OK);
    assert_string_equal(norm, "EPSG:4490");
    assert_int_equal(lg_crs_check(ctx, esri_wgs84, &norm), LG_OK);
    assert_string_equal(norm, "EPSG:4326");
    assert_int_equal(lg_crs_check(ctx, "gcj02", &norm), LG_OK);
    assert_string_equal(norm, "GCJ-02");
    assert_int_equal(lg_crs_check(ctx, "Bd-09", &norm), LG_OK);
    assert_string_equal(norm, "BD-09");
    /* A PROJ string PROJ cannot pin to one EPSG code comes back as given. */
    const char *custom = "+proj=tmerc +lat_0=0 +lon_0=114.5 +k=1 +x_0=500000 +y_0=0 "
                         "+ellps=GRS80 +units=m +no_defs +type=crs";
    assert_int_equal(lg_crs_check(ctx, custom, &norm), LG_OK);
    assert_string_equal(norm, custom);
    /* Passing the previous result back in is safe. */
    assert_int_equal(lg_crs_check(ctx, "EPSG:32649", &norm), LG_OK);
    assert_int_equal(lg_crs_check(ctx, norm, &norm), LG_OK);
    assert_string_equal(norm, "EPSG:32649");
    assert_int_equal(lg_crs_check(ctx, "EPSG:4326", NULL), LG_OK);
    lg_context_free(ctx);
}

static void crs_check_real_prj(void **state)
{
    (void)state;
    const char *shp = tu_naturalearth();
    if (!shp)
        skip();
    char path[4096];
    snprintf(path, sizeof path, "%s", shp);
    strcpy(path + strlen(path) - 3, "prj");
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char wkt[4096];
    size_t n = fread(wkt, 1, sizeof wkt - 1, f);
    fclose(f);
    wkt[n] = '\0';
    lg_context *ctx = new_ctx();
    const char *norm = NULL;
    assert_int_equal(lg_crs_check(ctx, wkt, &norm), LG_OK);
    assert_string_equal(norm, "EPSG:4326");
    assert_true(lg__crs_same(ctx, wkt, "EPSG:4326"));
    lg_context_free(ctx);
}

static void crs_check_rejects(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    const char *norm = "unchanged";
    const char *bad[] = {"EPSG:999999", "not a crs at all", "GEOGCS[\"broken\",DATUM[",
                         "+proj=nosuchproj +type=crs"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(lg_crs_check(ctx, bad[i], &norm), LG_ERR_CRS);
        assert_null(norm);
        assert_int_equal(lg_context_error(ctx), LG_ERR_CRS);
        assert_non_null(strstr(lg_context_message(ctx), bad[i]));
        assert_non_null(strstr(lg_context_message(ctx), "not a valid CRS"));
    }
    /* Coordinate operations are not CRSs. */
    const char *ops[] = {"+proj=utm +zone=49 +datum=WGS84",
                         "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad"};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(lg_crs_check(ctx, ops[i], &norm), LG_ERR_CRS);
        assert_non_null(strstr(lg_context_message(ctx), ops[i]));
        assert_non_null(strstr(lg_context_message(ctx), "is not a coordinate reference system"));
    }
    /* A long string is quoted truncated. */
    char longbad[600];
    memset(longbad, 'q', sizeof longbad - 1);
    longbad[sizeof longbad - 1] = '\0';
    assert_int_equal(lg_crs_check(ctx, longbad, NULL), LG_ERR_CRS);
    assert_non_null(strstr(lg_context_message(ctx), "qqqqqqqqqq..."));
    assert_true(strlen(lg_context_message(ctx)) < 400);
    /* NULLs. */
    assert_int_equal(lg_crs_check(ctx, NULL, &norm), LG_ERR_ARG);
    assert_int_equal(lg_crs_check(NULL, "EPSG:4326", &norm), LG_ERR_ARG);
    /* Success clears the last error. */
    assert_int_equal(lg_crs_check(ctx, "EPSG:4326", &norm), LG_OK);
    assert_int_equal(lg_context_error(ctx), LG_OK);
    lg_context_free(ctx);
}

static void crs_same(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    assert_true(lg__crs_same(ctx, NULL, NULL));
    assert_false(lg__crs_same(ctx, NULL, "EPSG:4326"));
    assert_false(lg__crs_same(ctx, "EPSG:4326", NULL));
    assert_true(lg__crs_same(ctx, "EPSG:4547", "EPSG:4547"));
    assert_true(lg__crs_same(ctx, "EPSG:4326", "urn:ogc:def:crs:EPSG::4326"));
    assert_true(lg__crs_same(ctx, "EPSG:4326", esri_wgs84));
    assert_true(lg__crs_same(ctx, "EPSG:4326", "OGC:CRS84")); /* axis order only */
    assert_false(lg__crs_same(ctx, "EPSG:4326", "EPSG:4490"));
    assert_false(lg__crs_same(ctx, "EPSG:4547", "EPSG:4526")); /* zone prefix differs */
    assert_true(lg__crs_same(ctx, "gcj02", "GCJ-02"));
    assert_false(lg__crs_same(ctx, "GCJ-02", "EPSG:4326"));
    assert_false(lg__crs_same(ctx, "GCJ-02", "BD-09"));
    assert_false(lg__crs_same(ctx, "garbage", "EPSG:4326"));
    /* A comparison leaves no error behind. */
    assert_int_equal(lg_context_error(ctx), LG_OK);
    assert_string_equal(lg_context_message(ctx), "");
    lg_context_free(ctx);
}

static void esri_wkt_capacity(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    size_t len = 0;
    assert_int_equal(lg_crs_to_esri_wkt(ctx, "EPSG:4547", NULL, 0, &len), LG_ERR_CAPACITY);
    assert_true(len > 50);
    char *buf = malloc(len + 1);
    size_t len2 = 0;
    memset(buf, 'X', len + 1);
    assert_int_equal(lg_crs_to_esri_wkt(ctx, "EPSG:4547", buf, len, &len2), LG_ERR_CAPACITY);
    assert_int_equal(len2, len);
    assert_int_equal(buf[len - 1], '\0'); /* truncated but terminated */
    assert_int_equal(lg_crs_to_esri_wkt(ctx, "EPSG:4547", buf, len + 1, &len2), LG_OK);
    assert_int_equal(strlen(buf), len);
    assert_int_equal(strncmp(buf, "PROJCS[", 7), 0);
    assert_null(strchr(buf, '\n')); /* one line, as .prj files are */
    /* The WKT names the same CRS: PROJ reads it back as EPSG:4547. */
    const char *norm = NULL;
    assert_int_equal(lg_crs_check(ctx, buf, &norm), LG_OK);
    assert_string_equal(norm, "EPSG:4547");
    assert_true(lg__crs_same(ctx, buf, "EPSG:4547"));
    free(buf);

    char small[8];
    assert_int_equal(lg_crs_to_esri_wkt(ctx, "EPSG:4326", small, sizeof small, &len),
                     LG_ERR_CAPACITY);
    assert_int_equal(strlen(small), 7);
    assert_int_equal(lg_crs_to_esri_wkt(ctx, "nonsense", NULL, 0, &len), LG_ERR_CRS);
    assert_non_null(strstr(lg_context_message(ctx), "nonsense"));
    assert_int_equal(lg_crs_to_esri_wkt(ctx, "GCJ-02", NULL, 0, &len), LG_ERR_UNSUPPORTED);
    assert_int_equal(lg_crs_to_esri_wkt(ctx, "EPSG:4326", NULL, 0, NULL), LG_ERR_ARG);
    lg_context_free(ctx);
}

/* ------------------------------------------------------------- transforms */

/* Points as lon, lat (WGS 84): Wuhan, near Guangzhou, near Beijing. */
static const double pt_lon[3] = {114.3, 113.5, 115.2};
static const double pt_lat[3] = {30.6, 22.9, 39.9};

/*
 * Expected easting, northing from PROJ's own command-line tool (authority axis
 * order: input lat lon; 4547/4526 print northing first, 32649 easting first):
 *   printf '30.6 114.3\n22.9 113.5\n39.9 115.2\n' | cs2cs -d 9 EPSG:4326 EPSG:4547
 *   ... | cs2cs -d 9 EPSG:4326 EPSG:4526
 *   ... | cs2cs -d 9 EPSG:4326 EPSG:32649
 *   ... | cs2cs -d 9 EPSG:4490 EPSG:4547   (same numbers as EPSG:4326 -> EPSG:4547)
 */
static const double e4547[3][2] = {{528770.237255680, 3386666.250562360},
                                   {448700.591692496, 2533550.348864216},
                                   {602623.297716193, 4419115.064137622}};
static const double e4526[3][2] = {{38528770.237255678, 3386666.250562360},
                                   {38448700.591692500, 2533550.348864216},
                                   {38602623.297716193, 4419115.064137622}};
static const double e32649[3][2] = {{816430.206101915, 3389915.134570549},
                                    {756449.281649899, 2534627.898375660},
                                    {859090.636126984, 4425108.942724983}};

static void check_projected(lg_context *ctx, const char *src, const char *dst,
                            const double expect[3][2])
{
    lg_transform *tr = NULL;
    assert_int_equal(lg_transform_new(ctx, src, dst, &tr), LG_OK);
    assert_false(lg_transform_is_identity(tr));
    double x[3], y[3];
    memcpy(x, pt_lon, sizeof x);
    memcpy(y, pt_lat, sizeof y);
    assert_int_equal(lg_transform_apply(tr, x, y, 3), LG_OK);
    for (int i = 0; i < 3; i++) {
        assert_true(fabs(x[i] - expect[i][0]) < 1e-6);
        assert_true(fabs(y[i] - expect[i][1]) < 1e-6);
    }
    lg_transform_free(tr);
    /* And back: lon, lat order again. */
    assert_int_equal(lg_transform_new(ctx, dst, src, &tr), LG_OK);
    assert_int_equal(lg_transform_apply(tr, x, y, 3), LG_OK);
    for (int i = 0; i < 3; i++) {
        assert_true(fabs(x[i] - pt_lon[i]) < 1e-9);
        assert_true(fabs(y[i] - pt_lat[i]) < 1e-9);
    }
    lg_transform_free(tr);
}

static void transform_vs_cs2cs(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    check_projected(ctx, "EPSG:4326", "EPSG:4547", e4547);
    check_projected(ctx, "EPSG:4326", "EPSG:4526", e4526);
    check_projected(ctx, "EPSG:4326", "EPSG:32649", e32649);
    check_projected(ctx, "EPSG:4490", "EPSG:4547", e4547);
    check_projected(ctx, esri_wgs84, "EPSG:4547", e4547);
    check_projected(ctx, "urn:ogc:def:crs:EPSG::4326", "EPSG:4547", e4547);
    /* Zone 38 (EPSG:4526): easting carries the zone number in front. */
    lg_transform *tr = NULL;
    assert_int_equal(lg_transform_new(ctx, "EPSG:4326", "EPSG:4526", &tr), LG_OK);
    double x[3], y[3];
    memcpy(x, pt_lon, sizeof x);
    memcpy(y, pt_lat, sizeof y);
    assert_int_equal(lg_transform_apply(tr, x, y, 3), LG_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal((int)(x[i] / 1e6), 38);
    lg_transform_free(tr);
    lg_context_free(ctx);
}

static void transform_identity(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    const char *pairs[][2] = {{"EPSG:4547", "EPSG:4547"},
                              {"EPSG:4326", esri_wgs84},
                              {"GCJ-02", "gcj02"},
                              {"urn:ogc:def:crs:EPSG::4490", "EPSG:4490"}};
    for (size_t k = 0; k < 4; k++) {
        lg_transform *tr = NULL;
        assert_int_equal(lg_transform_new(ctx, pairs[k][0], pairs[k][1], &tr), LG_OK);
        assert_true(lg_transform_is_identity(tr));
        double x[] = {1e30, -5, NAN}, y[] = {7, 1e-300, 3};
        assert_int_equal(lg_transform_apply(tr, x, y, 3), LG_OK);
        assert_true(x[0] == 1e30 && x[1] == -5 && isnan(x[2]));
        assert_true(y[0] == 7 && y[1] == 1e-300 && y[2] == 3);
        lg_transform_free(tr);
    }
    /* An identity with an unparseable CRS still fails. */
    lg_transform *tr = (lg_transform *)1;
    assert_int_equal(lg_transform_new(ctx, "EPSG:999999", "EPSG:999999", &tr), LG_ERR_CRS);
    assert_null(tr);
    assert_false(lg_transform_is_identity(NULL));
    lg_context_free(ctx);
}

static void transform_partial_failure(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    lg_transform *tr = NULL;
    assert_int_equal(lg_transform_new(ctx, "EPSG:4326", "EPSG:4547", &tr), LG_OK);
    double x[] = {114.3, 114.0, NAN, 113.5, 115.2};
    double y[] = {30.6, 95.0, 30.0, 22.9, 39.9};
    assert_int_equal(lg_transform_apply(tr, x, y, 5), LG_OK);
    assert_true(isnan(x[1]) && isnan(y[1]) && isnan(x[2]) && isnan(y[2]));
    const int ok[] = {0, 3, 4};
    for (int k = 0; k < 3; k++) {
        int i = ok[k];
        assert_true(fabs(x[i] - e4547[k][0]) < 1e-6);
        assert_true(fabs(y[i] - e4547[k][1]) < 1e-6);
    }
    /* All failing: LG_ERR_CRS. */
    double bx[] = {114.0, 114.0}, by[] = {95.0, -100.0};
    assert_int_equal(lg_transform_apply(tr, bx, by, 2), LG_ERR_CRS);
    assert_true(isnan(bx[0]) && isnan(bx[1]) && isnan(by[0]) && isnan(by[1]));
    /* After failures the transform still works. */
    double cx = 114.3, cy = 30.6;
    assert_int_equal(lg_transform_apply(tr, &cx, &cy, 1), LG_OK);
    assert_true(fabs(cx - e4547[0][0]) < 1e-6 && fabs(cy - e4547[0][1]) < 1e-6);
    /* Bad arguments. */
    assert_int_equal(lg_transform_apply(tr, NULL, &cy, 1), LG_ERR_ARG);
    assert_int_equal(lg_transform_apply(NULL, &cx, &cy, 1), LG_ERR_ARG);
    assert_int_equal(lg_transform_apply(tr, NULL, NULL, 0), LG_OK);
    lg_transform_free(tr);
    lg_transform_free(NULL);
    lg_context_free(ctx);
}

static void transform_rejects(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    lg_transform *tr = NULL;
    assert_int_equal(lg_transform_new(ctx, "EPSG:4326", "not-a-crs", &tr), LG_ERR_CRS);
    assert_null(tr);
    assert_non_null(strstr(lg_context_message(ctx), "not-a-crs"));
    assert_int_equal(lg_transform_new(ctx, "+proj=utm +zone=49 +datum=WGS84", "EPSG:4326", &tr),
                     LG_ERR_CRS);
    assert_non_null(strstr(lg_context_message(ctx), "is not a coordinate reference system"));
    assert_int_equal(lg_transform_new(ctx, "GCJ-02", "bogus:1", &tr), LG_ERR_CRS);
    assert_non_null(strstr(lg_context_message(ctx), "bogus:1"));
    assert_int_equal(lg_transform_new(ctx, NULL, "EPSG:4326", &tr), LG_ERR_ARG);
    assert_int_equal(lg_transform_new(NULL, "EPSG:4326", "EPSG:4326", &tr), LG_ERR_ARG);
    lg_context_free(ctx);
}

static void transform_gcj_chains(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    /* Points in GCJ-02 and BD-09, from the published vectors' neighbourhoods. */
    double gx[] = {121.531541859215, 113.9171764808363, 114.3},
           gy[] = {31.17530398364597, 22.540796131694766, 30.6};
    lg_transform *tr = NULL, *ref = NULL;
    assert_int_equal(lg_transform_new(ctx, "EPSG:4326", "EPSG:4547", &ref), LG_OK);

    /* GCJ-02 -> EPSG:4547 == gcj02_to_wgs84 then 4326 -> 4547. */
    double x[3], y[3], rx[3], ry[3];
    memcpy(x, gx, sizeof x);
    memcpy(y, gy, sizeof y);
    memcpy(rx, gx, sizeof x);
    memcpy(ry, gy, sizeof y);
    assert_int_equal(lg_transform_new(ctx, "GCJ-02", "EPSG:4547", &tr), LG_OK);
    assert_false(lg_transform_is_identity(tr));
    assert_int_equal(lg_transform_apply(tr, x, y, 3), LG_OK);
    lg_gcj02_to_wgs84(rx, ry, 3);
    assert_int_equal(lg_transform_apply(ref, rx, ry, 3), LG_OK);
    for (int i = 0; i < 3; i++)
        assert_true(fabs(x[i] - rx[i]) < 1e-9 && fabs(y[i] - ry[i]) < 1e-9);
    lg_transform_free(tr);

    /* BD-09 -> EPSG:4547 == bd09_to_wgs84 then 4326 -> 4547. */
    memcpy(x, gx, sizeof x);
    memcpy(y, gy, sizeof y);
    memcpy(rx, gx, sizeof x);
    memcpy(ry, gy, sizeof y);
    assert_int_equal(lg_transform_new(ctx, "bd09", "EPSG:4547", &tr), LG_OK);
    assert_int_equal(lg_transform_apply(tr, x, y, 3), LG_OK);
    lg_bd09_to_wgs84(rx, ry, 3);
    assert_int_equal(lg_transform_apply(ref, rx, ry, 3), LG_OK);
    for (int i = 0; i < 3; i++)
        assert_true(fabs(x[i] - rx[i]) < 1e-9 && fabs(y[i] - ry[i]) < 1e-9);
    lg_transform_free(tr);

    /* EPSG:4547 -> GCJ-02: cs2cs points back to WGS 84, then the published offset. */
    for (int i = 0; i < 3; i++) {
        x[i] = e4547[i][0];
        y[i] = e4547[i][1];
        rx[i] = pt_lon[i];
        ry[i] = pt_lat[i];
    }
    assert_int_equal(lg_transform_new(ctx, "EPSG:4547", "GCJ-02", &tr), LG_OK);
    assert_int_equal(lg_transform_apply(tr, x, y, 3), LG_OK);
    lg_wgs84_to_gcj02(rx, ry, 3);
    for (int i = 0; i < 3; i++)
        assert_true(fabs(x[i] - rx[i]) < 1e-9 && fabs(y[i] - ry[i]) < 1e-9);
    lg_transform_free(tr);

    /* WGS 84 <-> GCJ-02 needs no PROJ step; the published vectors hold. */
    assert_int_equal(lg_transform_new(ctx, "EPSG:4326", "GCJ-02", &tr), LG_OK);
    for (size_t i = 0; i < N_GCJ; i++) {
        double a = gcj_vectors[i][0], b = gcj_vectors[i][1];
        assert_int_equal(lg_transform_apply(tr, &a, &b, 1), LG_OK);
        assert_true(fabs(a - gcj_vectors[i][2]) < 1e-9 && fabs(b - gcj_vectors[i][3]) < 1e-9);
    }
    lg_transform_free(tr);

    /* GCJ-02 -> BD-09 directly: wandergis vector. */
    assert_int_equal(lg_transform_new(ctx, "GCJ-02", "BD-09", &tr), LG_OK);
    double a = 116.404, b = 39.915;
    assert_int_equal(lg_transform_apply(tr, &a, &b, 1), LG_OK);
    assert_true(fabs(a - 116.41036949371029) < 1e-9 && fabs(b - 39.92133699351021) < 1e-9);
    lg_transform_free(tr);
    assert_int_equal(lg_transform_new(ctx, "BD-09", "GCJ-02", &tr), LG_OK);
    assert_int_equal(lg_transform_apply(tr, &a, &b, 1), LG_OK);
    assert_true(haversine_m(a, b, 116.404, 39.915) < 0.5);
    lg_transform_free(tr);

    lg_transform_free(ref);
    lg_context_free(ctx);
}

/* Each transform owns its PROJ context: two threads may use two transforms at once. */
#define THREAD_N 20000
typedef struct thread_job {
    lg_transform *tr;
    double x[THREAD_N], y[THREAD_N];
    lg_error err;
} thread_job;

static void *thread_run(void *arg)
{
    thread_job *job = arg;
    for (int rep = 0; rep < 5 && job->err == LG_OK; rep++) {
        for (int i = 0; i < THREAD_N; i++) {
            job->x[i] = pt_lon[i % 3];
            job->y[i] = pt_lat[i % 3];
        }
        job->err = lg_transform_apply(job->tr, job->x, job->y, THREAD_N);
    }
    return NULL;
}

static void transform_threads(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    static thread_job jobs[2];
    pthread_t th[2];
    for (int t = 0; t < 2; t++) {
        jobs[t].err = LG_OK;
        assert_int_equal(lg_transform_new(ctx, "EPSG:4326", "EPSG:4547", &jobs[t].tr), LG_OK);
    }
    for (int t = 0; t < 2; t++)
        assert_int_equal(pthread_create(&th[t], NULL, thread_run, &jobs[t]), 0);
    /* Meanwhile the creator context keeps working in this thread. */
    for (int k = 0; k < 20; k++)
        assert_int_equal(lg_crs_check(ctx, k % 2 ? "EPSG:4490" : "EPSG:32649", NULL), LG_OK);
    for (int t = 0; t < 2; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    for (int t = 0; t < 2; t++) {
        assert_int_equal(jobs[t].err, LG_OK);
        for (int i = 0; i < THREAD_N; i++) {
            assert_true(fabs(jobs[t].x[i] - e4547[i % 3][0]) < 1e-6);
            assert_true(fabs(jobs[t].y[i] - e4547[i % 3][1]) < 1e-6);
        }
        lg_transform_free(jobs[t].tr);
    }
    lg_context_free(ctx);
}

/* A large batch crosses chunk boundaries and fails only the bad points. */
static void transform_large_batch(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    lg_transform *tr = NULL;
    assert_int_equal(lg_transform_new(ctx, "EPSG:4326", "EPSG:4547", &tr), LG_OK);
    size_t n = 200003;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        x[i] = pt_lon[i % 3];
        y[i] = i % 65536 == 65535 ? 95.0 : pt_lat[i % 3];
    }
    assert_int_equal(lg_transform_apply(tr, x, y, n), LG_OK);
    for (size_t i = 0; i < n; i++) {
        if (i % 65536 == 65535) {
            assert_true(isnan(x[i]) && isnan(y[i]));
        } else {
            assert_true(fabs(x[i] - e4547[i % 3][0]) < 1e-6);
            assert_true(fabs(y[i] - e4547[i % 3][1]) < 1e-6);
        }
    }
    free(x);
    free(y);
    lg_transform_free(tr);
    lg_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gcj02_published_vectors),
        cmocka_unit_test(bd09_published_vectors),
        cmocka_unit_test(round_trips_china_grid),
        cmocka_unit_test(outside_china_unchanged),
        cmocka_unit_test(nan_in_nan_out),
        cmocka_unit_test(crs_check_normalizes),
        cmocka_unit_test(crs_check_real_prj),
        cmocka_unit_test(crs_check_rejects),
        cmocka_unit_test(crs_same),
        cmocka_unit_test(esri_wkt_capacity),
        cmocka_unit_test(transform_vs_cs2cs),
        cmocka_unit_test(transform_identity),
        cmocka_unit_test(transform_partial_failure),
        cmocka_unit_test(transform_rejects),
        cmocka_unit_test(transform_gcj_chains),
        cmocka_unit_test(transform_threads),
        cmocka_unit_test(transform_large_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
