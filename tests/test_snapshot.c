/* Snapshots: round trips, and corrupt or hostile files (flipped bytes, truncation). */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lg_layer *synth(lg_context *ctx, size_t n, uint64_t seed)
{
    lg_synth_options opt = {.seed = seed, .cells = n};
    lg_layer *l = NULL;
    if (lg_synth_county(ctx, &opt, &l) != LG_OK)
        fail_msg("%s", lg_context_message(ctx));
    return l;
}

/* Everything a user can observe is equal. */
static void assert_same_layer(const lg_layer *a, const lg_layer *b, uint64_t seed)
{
    assert_int_equal(lg_layer_count(a), lg_layer_count(b));
    if (lg_layer_crs(a))
        assert_string_equal(lg_layer_crs(a), lg_layer_crs(b));
    else
        assert_null(lg_layer_crs(b));
    double ba[4], bb[4];
    assert_int_equal(lg_layer_bounds(a, ba), lg_layer_bounds(b, bb));
    assert_int_equal(lg_layer_field_count(a), lg_layer_field_count(b));
    for (size_t f = 0; f < lg_layer_field_count(a); f++) {
        assert_string_equal(lg_layer_field_name(a, f), lg_layer_field_name(b, f));
        assert_int_equal(lg_layer_field_type(a, f), lg_layer_field_type(b, f));
        for (size_t r = 0; r < lg_layer_count(a); r++) {
            assert_int_equal(lg_layer_is_null(a, f, r), lg_layer_is_null(b, f, r));
            if (lg_layer_is_null(a, f, r))
                continue;
            if (lg_layer_field_type(a, f) == LG_FIELD_TEXT) {
                const char *sa, *sb;
                assert_int_equal(lg_layer_get_text(a, f, r, &sa), LG_OK);
                assert_int_equal(lg_layer_get_text(b, f, r, &sb), LG_OK);
                assert_string_equal(sa, sb);
            } else {
                double da, db;
                assert_int_equal(lg_layer_get_real(a, f, r, &da), LG_OK);
                assert_int_equal(lg_layer_get_real(b, f, r, &db), LG_OK);
                assert_true(da == db);
            }
        }
    }
    assert_int_equal(lg_layer_id_field(a), lg_layer_id_field(b));
    assert_int_equal(lg_layer_problem_count(a), lg_layer_problem_count(b));
    for (size_t i = 0; i < lg_layer_problem_count(a); i++) {
        const char *ma, *mb;
        int64_t ra, rb;
        lg_layer_problem(a, i, &ra, NULL, NULL, NULL, &ma);
        lg_layer_problem(b, i, &rb, NULL, NULL, NULL, &mb);
        assert_int_equal(ra, rb);
        assert_string_equal(ma, mb);
    }
    for (size_t r = 0; r < lg_layer_count(a); r++) {
        size_t la = 0, lb = 0;
        lg_layer_cell_wkb(a, r, NULL, 0, &la);
        lg_layer_cell_wkb(b, r, NULL, 0, &lb);
        assert_int_equal(la, lb);
        unsigned char *wa = malloc(la + 1), *wb = malloc(lb + 1);
        lg_layer_cell_wkb(a, r, wa, la, &la);
        lg_layer_cell_wkb(b, r, wb, lb, &lb);
        assert_memory_equal(wa, wb, la);
        free(wa);
        free(wb);
    }
    /* locate: same answers, through the accelerator and the (lazily built) R-tree */
    if (lg_layer_bounds(a, ba)) {
        uint64_t s = seed;
        double w = ba[2] - ba[0], h = ba[3] - ba[1];
        for (int i = 0; i < 20000; i++) {
            double x = tu_uniform(&s, ba[0] - 0.02 * w, ba[2] + 0.02 * w);
            double y = tu_uniform(&s, ba[1] - 0.02 * h, ba[3] + 0.02 * h);
            assert_int_equal(lg_layer_locate(a, x, y), lg_layer_locate(b, x, y));
            assert_int_equal(lg__locate_exact(b, x, y), lg_layer_locate(a, x, y));
        }
    }
}

static void test_round_trip_file(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    const size_t sizes[] = {10, 500, 5000};
    for (size_t i = 0; i < 3; i++) {
        lg_layer *l = synth(ctx, sizes[i], 3 + i);
        char path[512];
        snprintf(path, sizeof path, "%s/county%zu.lgsnap", tu_tmpdir(), sizes[i]);
        assert_int_equal(lg_layer_save(ctx, l, path), LG_OK);
        for (unsigned flags = 0; flags <= LG_SNAPSHOT_NO_VERIFY; flags++) {
            lg_layer *m = NULL;
            if (lg_layer_open_snapshot(ctx, path, flags, &m) != LG_OK)
                fail_msg("%s", lg_context_message(ctx));
            assert_same_layer(l, m, 9 + i);
            /* a mapped accelerator reports the size of its tables like a built one (the
               batch path chooses sorting by it; it once reported only its header) */
            size_t c1, o1, a1, c2, o2, a2;
            lg_layer_memory(l, &c1, &o1, &a1);
            lg_layer_memory(m, &c2, &o2, &a2);
            assert_int_equal(c1, c2);
            assert_int_equal(a1, a2);
            assert_true(a1 > c1 / 100);
            lg_layer_free(m);
        }
        lg_layer_free(l);
    }
    lg_context_free(ctx);
}

static void test_round_trip_real_data_buffer(void **state)
{
    (void)state;
    const char *ne = tu_naturalearth();
    if (!ne)
        skip();
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    lg_load_options opt = {.id_field = "name"};
    lg_layer *l;
    if (lg_layer_load(ctx, ne, &opt, &l) != LG_OK)
        fail_msg("%s", lg_context_message(ctx));
    size_t size = 0, len = 0;
    assert_int_equal(lg_layer_snapshot_size(l, &size), LG_OK);
    unsigned char *buf = malloc(size);
    assert_int_equal(lg_layer_snapshot_write(l, buf, size - 1, &len), LG_ERR_CAPACITY);
    assert_int_equal(lg_layer_snapshot_write(l, buf, size, &len), LG_OK);
    assert_int_equal(len, size);
    lg_layer *m;
    assert_int_equal(lg_layer_read_snapshot(ctx, buf, len, 0, &m), LG_OK);
    memset(buf, 0xAB, len); /* the layer owns a copy */
    free(buf);
    assert_same_layer(l, m, 77);
    assert_int_equal(lg_layer_find_id_text(m, "France"), lg_layer_find_id_text(l, "France"));
    assert_true(lg_layer_find_id_text(m, "France") >= 0);
    lg_layer_free(m);
    lg_layer_free(l);
    lg_context_free(ctx);
}

/*
 * The batch pipeline (layers whose tables exceed a core's cache) on snapshots mapped
 * without verification and corrupted at random: never a crash or an out-of-range row.
 */
static void test_corrupt_batch(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    lg_layer *l = synth(ctx, 3000, 8);
    size_t size = 0, len;
    assert_int_equal(lg_layer_snapshot_size(l, &size), LG_OK);
    unsigned char *buf = malloc(size), *bad = malloc(size);
    assert_int_equal(lg_layer_snapshot_write(l, buf, size, &len), LG_OK);
    enum { NPTS = 20000 };
    double *x = malloc(NPTS * sizeof *x), *y = malloc(NPTS * sizeof *y);
    int64_t *out = malloc(NPTS * sizeof *out);
    double b[4];
    assert_true(lg_layer_bounds(l, b));
    uint64_t s = 99;
    for (int i = 0; i < NPTS; i++) {
        x[i] = tu_uniform(&s, b[0], b[2]);
        y[i] = tu_uniform(&s, b[1], b[3]);
    }
    size_t loaded = 0;
    for (int round = 0; round < 40; round++) {
        memcpy(bad, buf, size);
        for (int k = 0; k < 64; k++) { /* past the header, whose checks stay on */
            size_t off = 4096 + (size_t)(tu_uniform(&s, 0, 1) * (double)(size - 4096));
            bad[off < size ? off : size - 1] ^= (unsigned char)(1u << (k & 7));
        }
        lg_layer *m = NULL;
        if (lg_layer_read_snapshot(ctx, bad, size, LG_SNAPSHOT_NO_VERIFY, &m) != LG_OK)
            continue;
        loaded++;
        assert_int_equal(lg_layer_locate_many(m, x, y, NPTS, out), LG_OK);
        for (int i = 0; i < NPTS; i++)
            assert_true(out[i] >= LG_NONE && out[i] < (int64_t)lg_layer_count(m));
        lg_layer_free(m);
    }
    assert_true(loaded > 0);
    free(x);
    free(y);
    free(out);
    free(buf);
    free(bad);
    lg_layer_free(l);
    lg_context_free(ctx);
}

/* Every flipped byte (sampled) is an error when verifying, never a crash. */
static void test_flipped_bytes(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    lg_layer *l = synth(ctx, 60, 5);
    size_t size = 0, len;
    assert_int_equal(lg_layer_snapshot_size(l, &size), LG_OK);
    unsigned char *buf = malloc(size);
    assert_int_equal(lg_layer_snapshot_write(l, buf, size, &len), LG_OK);
    size_t step = size / 3000 + 1, tried = 0, padding = 0;
    for (size_t off = 0; off < size; off += step) {
        buf[off] ^= 0x10;
        lg_layer *m = NULL;
        lg_error e = lg_layer_read_snapshot(ctx, buf, size, 0, &m);
        if (e == LG_OK) {
            /* only alignment padding is outside every checksum: answers unchanged */
            padding++;
            assert_same_layer(l, m, off);
            lg_layer_free(m);
        } else {
            assert_true(e == LG_ERR_FORMAT || e == LG_ERR_UNSUPPORTED);
            assert_non_null(strstr(lg_context_message(ctx), "snapshot"));
        }
        /* the fast path must not crash either; run a few queries on what it accepts */
        if (lg_layer_read_snapshot(ctx, buf, size, LG_SNAPSHOT_NO_VERIFY, &m) == LG_OK) {
            double b[4];
            if (lg_layer_bounds(m, b))
                for (int q = 0; q < 200; q++) {
                    double x = b[0] + (b[2] - b[0]) * q / 199.0, y = (b[1] + b[3]) / 2;
                    int64_t r = lg_layer_locate(m, x, y);
                    assert_true(r >= LG_NONE && r < (int64_t)lg_layer_count(m));
                }
            lg_layer_free(m);
        }
        buf[off] ^= 0x10;
        tried++;
    }
    assert_true(tried > 1000);
    assert_true(padding < tried / 10);
    free(buf);
    lg_layer_free(l);
    lg_context_free(ctx);
}

static void test_truncated_and_hostile(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    lg_layer *l = synth(ctx, 30, 8);
    char path[512];
    snprintf(path, sizeof path, "%s/trunc.lgsnap", tu_tmpdir());
    assert_int_equal(lg_layer_save(ctx, l, path), LG_OK);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    size_t size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(size);
    assert_int_equal(fread(buf, 1, size, f), size);
    fclose(f);
    for (size_t cut = 0; cut < size; cut += (cut < 512 ? 1 : 97)) {
        assert_int_equal(tu_write_file(path, buf, cut), 0);
        lg_layer *m = NULL;
        lg_error e = lg_layer_open_snapshot(ctx, path, LG_SNAPSHOT_NO_VERIFY, &m);
        assert_int_not_equal(e, LG_OK);
        assert_null(m);
        assert_non_null(strstr(lg_context_message(ctx), path));
    }
    /* a newer version is refused by name */
    unsigned char *v2 = malloc(size);
    memcpy(v2, buf, size);
    v2[8] = 99;
    lg_layer *m = NULL;
    assert_int_equal(lg_layer_read_snapshot(ctx, v2, size, 0, &m), LG_ERR_UNSUPPORTED);
    assert_non_null(strstr(lg_context_message(ctx), "version 99"));
    /* an older one too, saying what to do */
    v2[8] = 2;
    assert_int_equal(lg_layer_read_snapshot(ctx, v2, size, 0, &m), LG_ERR_UNSUPPORTED);
    assert_non_null(strstr(lg_context_message(ctx), "an older libgrid wrote it"));
    /* not a snapshot at all */
    assert_int_equal(lg_layer_read_snapshot(ctx, "hello, world", 12, 0, &m), LG_ERR_FORMAT);
    memset(v2, 'x', size);
    assert_int_equal(lg_layer_read_snapshot(ctx, v2, size, 0, &m), LG_ERR_FORMAT);
    assert_non_null(strstr(lg_context_message(ctx), "bad magic"));
    assert_int_equal(lg_layer_open_snapshot(ctx, "/nonexistent/x.lgsnap", 0, &m), LG_ERR_IO);
    assert_non_null(strstr(lg_context_message(ctx), "/nonexistent/x.lgsnap"));
    free(v2);
    free(buf);
    lg_layer_free(l);
    lg_context_free(ctx);
}

static void test_existing_file_kept_on_failure(void **state)
{
    (void)state;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    lg_layer *l = synth(ctx, 20, 1);
    /* a directory that does not exist: the save fails, cleanly */
    assert_int_equal(lg_layer_save(ctx, l, "/nonexistent/dir/a.lgsnap"), LG_ERR_IO);
    assert_non_null(strstr(lg_context_message(ctx), "/nonexistent/dir"));
    lg_layer_free(l);
    lg_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_file),
        cmocka_unit_test(test_round_trip_real_data_buffer),
        cmocka_unit_test(test_flipped_bytes),
        cmocka_unit_test(test_corrupt_batch),
        cmocka_unit_test(test_truncated_and_hostile),
        cmocka_unit_test(test_existing_file_kept_on_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
