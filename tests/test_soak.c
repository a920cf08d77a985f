/*
 * Soak: 10,000 units move and the registry answers queries for LG_SOAK_SECONDS
 * (default 10) with flat memory. Each round moves 2,000 units, removes and re-adds
 * 100 (id churn), answers 200 k-nearest incidents and locates them in a county
 * layer. Every 50th round a query is checked against brute force over the known
 * positions. RSS (from /proc/self/statm) at 10% of the run and at the end must
 * agree within 10% + 16 MB.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NU 10000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void test_soak(void **state)
{
    (void)state;
    double secs = getenv("LG_SOAK_SECONDS") ? atof(getenv("LG_SOAK_SECONDS")) : 10;
    lg_context *ctx;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    lg_synth_options so = {.seed = 11, .cells = 400};
    lg_layer *cells;
    assert_int_equal(lg_synth_county(ctx, &so, &cells), LG_OK);
    double b[4];
    lg_layer_bounds(cells, b);
    lg_units_options uo = {.cells = cells};
    lg_units *u;
    assert_int_equal(lg_units_new(ctx, &uo, &u), LG_OK);

    static int64_t ids[NU];
    static double x[NU], y[NU];
    uint64_t rng = 99;
    for (int i = 0; i < NU; i++) {
        ids[i] = 7 * i + 3;
        x[i] = tu_uniform(&rng, b[0], b[2]);
        y[i] = tu_uniform(&rng, b[1], b[3]);
    }
    lg_units_batch all = {.n = NU, .ids = ids, .x = x, .y = y};
    assert_int_equal(lg_units_update(ctx, u, &all), LG_OK);

    enum { MOVE = 2000, CHURN = 100, Q = 200, K = 5 };
    static int64_t mid[MOVE];
    static double mx[MOVE], my[MOVE];
    static int idx[MOVE];
    double qx[Q], qy[Q], dist[Q * K];
    int64_t rid[Q * K], loc[Q];
    size_t cnt[Q];
    lg_unit_results res = {.ids = rid, .dist_m = dist, .count = cnt};

    double t0 = now_s(), t_mark = t0 + 0.1 * secs;
    long rss10 = 0, rounds = 0, checks = 0;
    uint64_t moves = 0, queries = 0;
    while (now_s() - t0 < secs) {
        /* move */
        for (int i = 0; i < MOVE; i++) {
            int j = (int)(tu_rand(&rng) % NU);
            idx[i] = j;
            double nx = x[j] + tu_uniform(&rng, -50, 50), ny = y[j] + tu_uniform(&rng, -50, 50);
            nx = nx < b[0] ? b[0] : nx > b[2] ? b[2] : nx;
            ny = ny < b[1] ? b[1] : ny > b[3] ? b[3] : ny;
            mid[i] = ids[j];
            mx[i] = nx;
            my[i] = ny;
        }
        lg_units_batch mb = {.n = MOVE, .ids = mid, .x = mx, .y = my};
        assert_int_equal(lg_units_update(ctx, u, &mb), LG_OK);
        for (int i = 0; i < MOVE; i++) { /* later entries for the same id win */
            x[idx[i]] = mx[i];
            y[idx[i]] = my[i];
        }
        moves += MOVE;
        /* churn: remove 100 and add them back */
        int start = (int)(tu_rand(&rng) % (NU - CHURN));
        assert_int_equal(lg_units_remove(ctx, u, ids + start, CHURN), LG_OK);
        lg_units_batch cb = {.n = CHURN, .ids = ids + start, .x = x + start, .y = y + start};
        assert_int_equal(lg_units_update(ctx, u, &cb), LG_OK);
        /* queries */
        for (int i = 0; i < Q; i++) {
            qx[i] = tu_uniform(&rng, b[0], b[2]);
            qy[i] = tu_uniform(&rng, b[1], b[3]);
        }
        assert_int_equal(lg_units_nearest(u, qx, qy, Q, K, NULL, &res), LG_OK);
        assert_int_equal(lg_layer_locate_many(cells, qx, qy, Q, loc), LG_OK);
        queries += Q;
        if (rounds % 50 == 0) { /* brute-force oracle for the first incident */
            double best[K];
            for (int k = 0; k < K; k++)
                best[k] = INFINITY;
            for (int j = 0; j < NU; j++) {
                double d = hypot(x[j] - qx[0], y[j] - qy[0]);
                for (int k = 0; k < K; k++)
                    if (d < best[k]) {
                        memmove(best + k + 1, best + k, (K - 1 - k) * sizeof *best);
                        best[k] = d;
                        break;
                    }
            }
            assert_int_equal(cnt[0], K);
            for (int k = 0; k < K; k++)
                assert_true(fabs(dist[k] - best[k]) <= 1e-9 * (1 + best[k]));
            assert_int_equal(loc[0], lg__locate_exact(cells, qx[0], qy[0]));
            checks++;
        }
        assert_int_equal(lg_units_count(u), NU);
        rounds++;
        if (!rss10 && now_s() >= t_mark)
            rss10 = tu_rss_kb();
    }
    long rss_end = tu_rss_kb();
    if (!rss10)
        rss10 = rss_end;
    print_message("soak %.0f s: %ld rounds, %llu unit moves, %llu queries, %ld brute-force "
                  "checks; RSS %ld kB at 10%%, %ld kB at the end\n",
                  secs, rounds, (unsigned long long)moves, (unsigned long long)queries, checks,
                  rss10, rss_end);
    assert_true(rss_end <= rss10 + rss10 / 10 + 16 * 1024);
    lg_units_free(u);
    lg_layer_free(cells);
    lg_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_soak),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
