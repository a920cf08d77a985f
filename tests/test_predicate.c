/*
 * The orientation predicate under underflow and overflow: tiny coordinates (a lattice
 * scaled by 2^-520, subnormal offsets near the origin), huge ones, and coordinates of
 * every exponent, compared with an independent exact reference: the determinant
 * (bx - ax)(cy - ay) - (by - ay)(cx - ax) in big-integer arithmetic, every double
 * being an integer multiple of 2^-1074. Then the point-in-cell test and locate on a
 * layer whose edges meet at the origin, with query points of subnormal size.
 */
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------ big-integer reference */

/* Sign-magnitude integer, 32-bit limbs, little-endian; n limbs in use (no leading zero). */
#define BIG_LIMBS 144 /* 4608 bits: differences < 2^2100, products < 2^4200 */
typedef struct big {
    int neg;
    int n;
    uint32_t d[BIG_LIMBS];
} big;

static void big_norm(big *a)
{
    while (a->n > 0 && a->d[a->n - 1] == 0)
        a->n--;
    if (a->n == 0)
        a->neg = 0;
}

/* v (finite) in units of 2^-1074. */
static void big_from_double(big *a, double v)
{
    memset(a, 0, sizeof *a);
    if (v == 0)
        return;
    int e;
    double f = frexp(fabs(v), &e); /* |v| = f * 2^e, f in [0.5, 1) */
    /* |v| = m * 2^(e - 53) with m < 2^53 an integer; shift = e - 53 + 1074 >= 0 */
    uint64_t m = (uint64_t)ldexp(f, 53);
    int shift = e - 53 + 1074;
    while (shift < 0) { /* subnormals: m has trailing zeros */
        assert_true((m & 1) == 0);
        m >>= 1;
        shift++;
    }
    int limb = shift / 32, bit = shift % 32;
    uint64_t lo = m << bit;                  /* may lose the top bits ... */
    uint64_t hi = bit ? m >> (64 - bit) : 0; /* ... which land here */
    a->d[limb] = (uint32_t)lo;
    a->d[limb + 1] = (uint32_t)(lo >> 32);
    a->d[limb + 2] = (uint32_t)hi;
    a->n = limb + 3;
    a->neg = v < 0;
    big_norm(a);
}

static int big_cmp_mag(const big *a, const big *b)
{
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    for (int i = a->n - 1; i >= 0; i--)
        if (a->d[i] != b->d[i])
            return a->d[i] < b->d[i] ? -1 : 1;
    return 0;
}

/* r = a + (negate ? -b : b); r may alias neither. */
static void big_add(big *r, const big *a, const big *b, int negate)
{
    int bneg = negate ? !b->neg : b->neg;
    memset(r, 0, sizeof *r);
    if (a->neg == bneg) {
        uint64_t c = 0;
        int n = a->n > b->n ? a->n : b->n;
        for (int i = 0; i < n; i++) {
            c += (uint64_t)(i < a->n ? a->d[i] : 0) + (i < b->n ? b->d[i] : 0);
            r->d[i] = (uint32_t)c;
            c >>= 32;
        }
        r->d[n] = (uint32_t)c;
        r->n = n + 1;
        r->neg = a->neg;
    } else {
        const big *x = a, *y = b;
        int sign = a->neg;
        if (big_cmp_mag(a, b) < 0) {
            x = b, y = a;
            sign = bneg;
        }
        int64_t borrow = 0;
        for (int i = 0; i < x->n; i++) {
            int64_t t = (int64_t)x->d[i] - (i < y->n ? y->d[i] : 0) - borrow;
            borrow = t < 0;
            r->d[i] = (uint32_t)(t + (borrow ? ((int64_t)1 << 32) : 0));
        }
        r->n = x->n;
        r->neg = sign;
    }
    assert_true(r->n < BIG_LIMBS);
    big_norm(r);
}

static void big_mul(big *r, const big *a, const big *b)
{
    memset(r, 0, sizeof *r);
    assert_true(a->n + b->n < BIG_LIMBS);
    for (int i = 0; i < a->n; i++) {
        uint64_t c = 0;
        for (int j = 0; j < b->n; j++) {
            c += (uint64_t)a->d[i] * b->d[j] + r->d[i + j];
            r->d[i + j] = (uint32_t)c;
            c >>= 32;
        }
        r->d[i + b->n] = (uint32_t)c;
    }
    r->n = a->n + b->n;
    r->neg = a->neg != b->neg;
    big_norm(r);
}

/* Exact sign of (bx - ax)(cy - ay) - (by - ay)(cx - ax). */
static int orient_ref(double ax, double ay, double bx, double by, double cx, double cy)
{
    static big A[2], B[2], C[2], d1, d2, d3, d4, p, q, det;
    big_from_double(&A[0], ax), big_from_double(&A[1], ay);
    big_from_double(&B[0], bx), big_from_double(&B[1], by);
    big_from_double(&C[0], cx), big_from_double(&C[1], cy);
    big_add(&d1, &B[0], &A[0], 1);
    big_add(&d2, &C[1], &A[1], 1);
    big_add(&d3, &B[1], &A[1], 1);
    big_add(&d4, &C[0], &A[0], 1);
    big_mul(&p, &d1, &d2);
    big_mul(&q, &d3, &d4);
    big_add(&det, &p, &q, 1);
    return det.n == 0 ? 0 : det.neg ? -1 : 1;
}

static void test_reference_itself(void **state)
{
    (void)state;
    /* the reference against cases whose answer is known */
    assert_int_equal(orient_ref(0, 0, 1, 0, 0, 1), 1);
    assert_int_equal(orient_ref(0, 0, 1, 0, 0, -1), -1);
    assert_int_equal(orient_ref(0, 0, 1, 1, 0.5, 0.5), 0);
    double u = 0x1p-1074;
    assert_int_equal(orient_ref(0, 0, 1, 1, u, u), 0);
    assert_int_equal(orient_ref(0, 0, 1, 1, u, 2 * u), 1);
    assert_int_equal(orient_ref(0, 0, 1, 1, 2 * u, u), -1);
    assert_int_equal(orient_ref(-0x1p1000, -0x1p1000, 0x1p1000, 0x1p1000, u, 2 * u), 1);
    assert_int_equal(orient_ref(-DBL_MAX, 0, DBL_MAX, u, 0, 0), -1);
    /* 0.1 * 3 != 0.3 in binary: the sign of 0.3 - 3 * 0.1 (double values), from long double */
    long double t = (long double)0.3 - 3 * (long double)0.1;
    assert_int_equal(orient_ref(0, 0, 1, 3, 0.1, 0.3), t > 0 ? 1 : t < 0 ? -1 : 0);
}

/* ------------------------------------------------------- the predicate */

typedef struct counts {
    long cases, zero, exact_wrong, filter_wrong;
} counts;

/* Compare both forms of the predicate with the reference, under all six permutations. */
static void check(counts *k, double ax, double ay, double bx, double by, double cx, double cy,
                  bool filter_too)
{
    const double p[3][2] = {{ax, ay}, {bx, by}, {cx, cy}};
    static const int perm[6][3] = {{0, 1, 2}, {1, 2, 0}, {2, 0, 1},
                                   {1, 0, 2}, {0, 2, 1}, {2, 1, 0}};
    int want0 = orient_ref(ax, ay, bx, by, cx, cy);
    for (int i = 0; i < 6; i++) {
        const double *a = p[perm[i][0]], *b = p[perm[i][1]], *c = p[perm[i][2]];
        int want = i < 3 ? want0 : -want0; /* odd permutations flip the sign */
        int got = lg__orient_exact(a[0], a[1], b[0], b[1], c[0], c[1]);
        k->cases++;
        k->zero += want == 0;
        if (got != want) {
            if (k->exact_wrong++ < 5)
                print_error("exact: orient((%a, %a), (%a, %a), (%a, %a)) = %d, reference %d\n",
                            a[0], a[1], b[0], b[1], c[0], c[1], got, want);
        }
        if (filter_too && lg__orient(a[0], a[1], b[0], b[1], c[0], c[1]) != want) {
            if (k->filter_wrong++ < 5)
                print_error("filter: orient((%a, %a), (%a, %a), (%a, %a)) wrong, reference %d\n",
                            a[0], a[1], b[0], b[1], c[0], c[1], want);
        }
    }
}

static double nudge(double v, int ulps)
{
    for (; ulps > 0; ulps--)
        v = nextafter(v, INFINITY);
    for (; ulps < 0; ulps++)
        v = nextafter(v, -INFINITY);
    return v;
}

static void report(const char *name, const counts *k)
{
    print_message("%s: %ld cases (%ld collinear), exact predicate wrong %ld, with filter "
                  "wrong %ld\n",
                  name, k->cases, k->zero, k->exact_wrong, k->filter_wrong);
}

/*
 * A lattice scaled by 2^-520: vertices (i, j) * 2^-520, points on and a few ulps off
 * segments between them. Every product of two coordinates is below 2^-1022, so the
 * expansion's low parts underflow without the wide path.
 */
static void test_lattice_2m520(void **state)
{
    (void)state;
    const double s = 0x1p-520;
    counts k = {0};
    uint64_t rng = 520;
    for (int t = 0; t < 4000; t++) {
        int i0 = (int)(tu_rand(&rng) % 17) - 8, j0 = (int)(tu_rand(&rng) % 17) - 8;
        int i1 = (int)(tu_rand(&rng) % 17) - 8, j1 = (int)(tu_rand(&rng) % 17) - 8;
        double ax = i0 * s, ay = j0 * s, bx = i1 * s, by = j1 * s;
        /* a lattice point on the line a-b (or its extension), then nudged */
        int m = (int)(tu_rand(&rng) % 5) - 2;
        double cx = ax + m * (bx - ax), cy = ay + m * (by - ay);
        if (t % 4 == 1) { /* the midpoint: exact in binary */
            cx = (ax + bx) / 2;
            cy = (ay + by) / 2;
        } else if (t % 4 == 2) { /* a nearby lattice vertex */
            cx = ((int)(tu_rand(&rng) % 17) - 8) * s;
            cy = ((int)(tu_rand(&rng) % 17) - 8) * s;
        }
        int nx = (int)(tu_rand(&rng) % 7) - 3, ny = (int)(tu_rand(&rng) % 7) - 3;
        check(&k, ax, ay, bx, by, nudge(cx, nx), nudge(cy, ny), true);
        /* and the vertices themselves nudged */
        check(&k, nudge(ax, ny), ay, bx, nudge(by, nx), cx, cy, true);
    }
    report("lattice * 2^-520", &k);
    assert_int_equal(k.exact_wrong, 0);
    assert_int_equal(k.filter_wrong, 0);
    assert_true(k.zero > 1000); /* the degenerate cases, where exactness matters, were hit */
}

/*
 * Subnormal coordinates near the origin: a lattice of spacing 2^-1060 and points a
 * few units of 2^-1074 off it; and lines through the origin with full-precision
 * slopes at ordinary magnitudes, queried at points of subnormal size.
 */
static void test_subnormal_origin(void **state)
{
    (void)state;
    const double u = 0x1p-1074;
    counts k = {0};
    uint64_t rng = 1074;
    for (int t = 0; t < 4000; t++) {
        int i0 = (int)(tu_rand(&rng) % 9) - 4, j0 = (int)(tu_rand(&rng) % 9) - 4;
        int i1 = (int)(tu_rand(&rng) % 9) - 4, j1 = (int)(tu_rand(&rng) % 9) - 4;
        double g = 0x1p-1060;
        double ax = i0 * g, ay = j0 * g, bx = i1 * g, by = j1 * g;
        int m = (int)(tu_rand(&rng) % 5) - 2;
        double cx = ax + m * (bx - ax) + ((int)(tu_rand(&rng) % 5) - 2) * u;
        double cy = ay + m * (by - ay) + ((int)(tu_rand(&rng) % 5) - 2) * u;
        check(&k, ax, ay, bx, by, cx, cy, true);
    }
    for (int t = 0; t < 4000; t++) {
        /* an edge through (or next to) the origin with full-mantissa ends */
        double bx = tu_uniform(&rng, 0.5, 3), by = tu_uniform(&rng, -3, 3);
        double ax = -bx, ay = -by;
        if (t % 3 == 1)
            ax = nudge(ax, 1); /* the line misses the origin by an ulp */
        /* a point of subnormal (or nearly) size near the line y = (by/bx) x */
        int e = -1074 + (int)(tu_rand(&rng) % 120);
        double cx = ldexp((double)(int64_t)(tu_rand(&rng) % 2001) - 1000, e);
        double cy = cx * (by / bx);
        cy = nudge(cy, (int)(tu_rand(&rng) % 5) - 2);
        if (t % 5 == 0) /* a vertex at the origin itself */
            ax = ay = 0;
        check(&k, ax, ay, bx, by, cx, cy, true);
    }
    report("subnormal, near the origin", &k);
    assert_int_equal(k.exact_wrong, 0);
    assert_int_equal(k.filter_wrong, 0);
    assert_true(k.zero > 100);
}

/* A random double: random sign, mantissa and exponent over the whole finite range. */
static double any_double(uint64_t *rng)
{
    uint64_t r = tu_rand(rng);
    double m = 1 + (double)(r >> 12) * 0x1p-52;
    int e = (int)(tu_rand(rng) % 2098) - 1074;
    double v = ldexp(m, e); /* rounds into the subnormals below 2^-1022 */
    if (isinf(v))
        v = DBL_MAX;
    return (r & 1) ? -v : v;
}

/*
 * Coordinates of every exponent, from 2^-1074 to DBL_MAX, mixed in one call: the
 * exact predicate must be right whatever the spread (the inline filter may overflow
 * here, so only the exact form is checked). Degenerate cases by construction: c a
 * copy of a or b, c on a line through the origin, coordinates shared between points.
 */
static void test_any_magnitude(void **state)
{
    (void)state;
    counts k = {0};
    uint64_t rng = 2098;
    for (int t = 0; t < 6000; t++) {
        double ax = any_double(&rng), ay = any_double(&rng), bx = any_double(&rng),
               by = any_double(&rng), cx = any_double(&rng), cy = any_double(&rng);
        switch (t % 6) {
        case 1: cx = ax, cy = by; break;
        case 2: cx = bx, cy = by; break;
        case 3: ax = -bx, ay = -by, cx = ldexp(bx, -3), cy = ldexp(by, -3); break;
        case 4: ax = ay = 0, cx = nudge(bx, 1), cy = by; break;
        case 5: ax = bx, cx = bx; break;
        default: break;
        }
        check(&k, ax, ay, bx, by, cx, cy, false);
    }
    report("any magnitude", &k);
    assert_int_equal(k.exact_wrong, 0);
    assert_true(k.zero > 1000);
}

/*
 * The layer-level test: four cells around the origin (a pinwheel whose spokes have
 * full-precision slopes; coordinates 0 or in [1e-100, 1e100] as layers require),
 * query points of subnormal size. The owner must be the one cell that the boundary
 * rule gives with the reference predicate, for lg__cell_owns, the exact locate and
 * the accelerated locate.
 */
static int owns_ref(const lg_layer *l, size_t row, double x, double y)
{
    bool inside = false;
    for (uint32_t r = l->cell_ring[row]; r < l->cell_ring[row + 1]; r++) {
        const double *v = l->xy + 2 * (size_t)l->ring_off[r];
        size_t n = l->ring_off[r + 1] - l->ring_off[r];
        for (size_t i = 0; i + 1 < n; i++) {
            double ax = v[2 * i], ay = v[2 * i + 1], bx = v[2 * i + 2], by = v[2 * i + 3];
            if (ay > by) {
                double t = ax;
                ax = bx, bx = t;
                t = ay;
                ay = by, by = t;
            }
            if (ay <= y && y < by && orient_ref(ax, ay, bx, by, x, y) >= 0)
                inside = !inside;
        }
    }
    return inside;
}

static void test_pinwheel_layer(void **state)
{
    (void)state;
    lg_context *ctx = NULL;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    /* spokes from the origin to the square's sides, slopes with full mantissas */
    const double sp[4][2] = {{1, 0.3141592653589793},
                             {-0.2718281828459045, 1},
                             {-1, -0.5772156649015329},
                             {0.6931471805599453, -1}};
    const double corner[4][2] = {{1, 1}, {-1, 1}, {-1, -1}, {1, -1}};
    lg_builder *b = NULL;
    assert_int_equal(lgb_new(ctx, "pinwheel", 0, &b), LG_OK);
    for (int c = 0; c < 4; c++) {
        /* cell c: origin, spoke c, corner c, spoke c+1 (counter-clockwise) */
        const double *s0 = sp[c], *s1 = sp[(c + 1) % 4], *k = corner[c];
        double ring[5][2] = {{0, 0}, {s0[0], s0[1]}, {k[0], k[1]}, {s1[0], s1[1]}, {0, 0}};
        assert_int_equal(lgb_begin_cell(b), LG_OK);
        assert_int_equal(lgb_add_ring(b, &ring[0][0], 5, false), LG_OK);
        assert_int_equal(lgb_end_cell(b), LG_OK);
    }
    lg_layer *l = NULL;
    if (lgb_finish(b, NULL, NULL, &l) != LG_OK)
        fail_msg("%s", lg_context_message(ctx));

    uint64_t rng = 4;
    long n = 0, on_spoke = 0, wrong_owns = 0, wrong_exact = 0, wrong_accel = 0;
    for (int t = 0; t < 20000; t++) {
        double x, y;
        int e = -1074 + (int)(tu_rand(&rng) % 200);
        if (t % 2 == 0) {
            /* along a spoke, rounded, then nudged */
            const double *s = sp[tu_rand(&rng) % 4];
            double f = ldexp((double)(tu_rand(&rng) % 1000 + 1), e);
            x = nudge(f * s[0], (int)(tu_rand(&rng) % 3) - 1);
            y = nudge(f * s[1], (int)(tu_rand(&rng) % 3) - 1);
        } else {
            x = ldexp((double)(int64_t)(tu_rand(&rng) % 2001) - 1000, e);
            y = ldexp((double)(int64_t)(tu_rand(&rng) % 2001) - 1000, e);
        }
        int64_t want = LG_NONE;
        for (size_t r = 0; r < 4; r++) {
            int o = owns_ref(l, r, x, y);
            if (o != lg__cell_owns(l, r, x, y, NULL) && wrong_owns++ < 5)
                print_error("cell %zu owns (%a, %a): %d, reference %d\n", r, x, y, !o, o);
            if (o) {
                assert_true(want == LG_NONE); /* a partition: one owner */
                want = (int64_t)r;
            }
        }
        assert_true(want != LG_NONE); /* the origin's neighbourhood is covered */
        for (int s = 0; s < 4; s++)
            on_spoke += orient_ref(0, 0, sp[s][0], sp[s][1], x, y) == 0;
        int64_t ex = lg__locate_exact(l, x, y), ac = lg_layer_locate(l, x, y);
        if (ex != want && wrong_exact++ < 5)
            print_error("exact locate (%a, %a) = %lld, reference %lld\n", x, y, (long long)ex,
                        (long long)want);
        if (ac != want && wrong_accel++ < 5)
            print_error("locate (%a, %a) = %lld, reference %lld\n", x, y, (long long)ac,
                        (long long)want);
        n++;
    }
    print_message("pinwheel: %ld points of size 2^-1074..2^-864 (%ld on a spoke line); "
                  "cell_owns wrong %ld, exact locate wrong %ld, locate wrong %ld\n",
                  n, on_spoke, wrong_owns, wrong_exact, wrong_accel);
    assert_int_equal(wrong_owns, 0);
    assert_int_equal(wrong_exact, 0);
    assert_int_equal(wrong_accel, 0);
    lg_layer_free(l);
    lg_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_itself), cmocka_unit_test(test_lattice_2m520),
        cmocka_unit_test(test_subnormal_origin), cmocka_unit_test(test_any_magnitude),
        cmocka_unit_test(test_pinwheel_layer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
