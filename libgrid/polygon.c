/*
 * Exact point-in-cell under the boundary rule.
 *
 * The rule (docs/ARCHITECTURE.md): a cell owns (x, y) when it contains the
 * perturbed point (x - e, y + e*e) for an infinitesimal e > 0. For a partition
 * whose neighbours share edges exactly, every point then has exactly one owner:
 * points on a vertical shared edge go to the cell on the left (west), points on a
 * horizontal shared edge to the cell above (north), a shared vertex to the cell
 * that holds the direction just west-north-west of it.
 *
 * It is the crossing-number test with a half-open rule: an edge counts when
 * lo.y <= y < hi.y (lower endpoint included, upper excluded) and its crossing
 * with the horizontal line through the point lies at or to the right of x, which
 * is orient(lo, hi, p) >= 0 for the edge directed upwards. Two cells sharing an edge
 * evaluate the very same predicate (the edge is normalised to point upwards), and
 * the predicate is exact, so they never disagree.
 */
#include "internal.h"

#include <math.h>
#include <string.h>

/* fmin/fmax are library calls unless NaNs are ruled out; coordinates here are finite. */
static inline double mind(double a, double b)
{
    return a < b ? a : b;
}
static inline double maxd(double a, double b)
{
    return a > b ? a : b;
}

/*
 * Exact orientation. A fast floating-point filter decides almost every call; the
 * rest is computed exactly with error-free transformations (two-sum, two-product
 * via fma) and an expansion sum, after Shewchuk, "Adaptive Precision
 * Floating-Point Arithmetic and Fast Robust Geometric Predicates" (1997). Written
 * here because no Debian package exposes these predicates to C (GEOS has them only
 * inside its C++ API), and the hot path cannot go through a GEOS context.
 */
static void two_sum(double a, double b, double *s, double *e)
{
    double x = a + b;
    double bv = x - a;
    double av = x - bv;
    *s = x;
    *e = (a - av) + (b - bv);
}

/* Add b to the nonoverlapping expansion e[0..n) (increasing magnitude); returns new n. */
static int grow_expansion(int n, double *e, double b)
{
    double q = b;
    int m = 0;
    for (int i = 0; i < n; i++) {
        double s, err;
        two_sum(q, e[i], &s, &err);
        q = s;
        if (err != 0.0)
            e[m++] = err;
    }
    e[m++] = q;
    return m;
}

/*
 * The expansion below is exact only while every product of two coordinates splits
 * exactly into hi + lo: the product's lowest bit must not fall below the smallest
 * subnormal (2^-1074) and the sum must not overflow. Both hold when every nonzero
 * coordinate has a magnitude in [2^-484, 2^500]: products then lie in
 * [2^-968, 2^1002), with their lowest bits at or above 2^-1072. Layer coordinates
 * are 0 or within [1e-100, 1e100] (layer.c); query points are not checked, and a
 * point within 2^-484 of an axis that an edge crosses (near the origin) would make
 * the low parts underflow. Such calls go to orient_wide, exact for all finite input.
 */
#define LG__ORIENT_MIN 0x1p-484
#define LG__ORIENT_MAX 0x1p+500

static bool orient_in_range(double v)
{
    double m = fabs(v);
    return v == 0.0 || (m >= LG__ORIENT_MIN && m <= LG__ORIENT_MAX);
}

/* A finite nonzero double as (-1)^neg * m * 2^e with an integer m < 2^53. */
static void split_double(double v, uint64_t *m, int *e, bool *neg)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int be = (int)((bits >> 52) & 0x7FF);
    uint64_t frac = bits & ((UINT64_C(1) << 52) - 1);
    *neg = bits >> 63;
    if (be == 0) { /* subnormal */
        *m = frac;
        *e = -1074;
    } else {
        *m = frac | (UINT64_C(1) << 52);
        *e = be - 1075;
    }
}

/* 64 x 64 -> 128-bit product (hi, lo), portable C11. */
static void mul_64x64(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo)
{
    uint64_t a0 = a & 0xFFFFFFFFu, a1 = a >> 32, b0 = b & 0xFFFFFFFFu, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (p01 & 0xFFFFFFFFu) + (p10 & 0xFFFFFFFFu);
    *lo = (mid << 32) | (p00 & 0xFFFFFFFFu);
    *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

/*
 * Fixed-point accumulator for sums of products of two finite doubles: bit 0 weighs
 * 2^-2148 (the lowest bit of a product of two subnormals), and a product's top bit
 * lies below 2^2048, i.e. bit 4196; six products need 4199 bits plus a sign bit.
 * Two's complement in 67 little-endian words (4288 bits).
 */
#define LG__WIDE_WORDS 67

static void wide_add_product(uint64_t *w, double x, double y, bool negate)
{
    if (x == 0.0 || y == 0.0)
        return;
    uint64_t mx, my, hi, lo;
    int ex, ey;
    bool nx, ny;
    split_double(x, &mx, &ex, &nx);
    split_double(y, &my, &ey, &ny);
    mul_64x64(mx, my, &hi, &lo);
    unsigned off = (unsigned)(ex + ey + 2148);
    unsigned k = off / 64, b = off % 64;
    uint64_t part[3] = {lo << b, b ? (hi << b) | (lo >> (64 - b)) : hi, b ? hi >> (64 - b) : 0};
    if (nx != ny)
        negate = !negate;
    uint64_t carry = 0; /* carry (adding) or borrow (subtracting) */
    for (unsigned i = k; i < LG__WIDE_WORDS; i++) {
        uint64_t p = i - k < 3 ? part[i - k] : 0;
        if (i - k >= 3 && carry == 0)
            break;
        uint64_t old = w[i];
        if (!negate) {
            uint64_t s = old + p;
            uint64_t c1 = s < old;
            w[i] = s + carry;
            carry = c1 | (w[i] < s);
        } else {
            uint64_t d = old - p;
            uint64_t b1 = old < p;
            w[i] = d - carry;
            carry = b1 | (d < carry);
        }
    }
}

/*
 * Exact orientation for any finite coordinates: the six products of the expanded
 * determinant summed in fixed point. As fast as the expansion in a micro-benchmark
 * (about 70 ns); the expansion stays the path for ordinary coordinates.
 */
static int orient_wide(double ax, double ay, double bx, double by, double cx, double cy)
{
    uint64_t w[LG__WIDE_WORDS] = {0};
    wide_add_product(w, bx, cy, false);
    wide_add_product(w, bx, ay, true);
    wide_add_product(w, ax, cy, true);
    wide_add_product(w, by, cx, true);
    wide_add_product(w, by, ax, false);
    wide_add_product(w, ay, cx, false);
    if (w[LG__WIDE_WORDS - 1] >> 63)
        return -1;
    for (int i = 0; i < LG__WIDE_WORDS; i++)
        if (w[i])
            return 1;
    return 0;
}

int lg__orient_exact(double ax, double ay, double bx, double by, double cx, double cy)
{
    if (!(orient_in_range(ax) && orient_in_range(ay) && orient_in_range(bx) &&
          orient_in_range(by) && orient_in_range(cx) && orient_in_range(cy)) &&
        isfinite(ax) && isfinite(ay) && isfinite(bx) && isfinite(by) && isfinite(cx) &&
        isfinite(cy))
        return orient_wide(ax, ay, bx, by, cx, cy);
    /* det = bx*cy - bx*ay - ax*cy - by*cx + by*ax + ay*cx, each product split exactly. */
    const double p[6][2] = {{bx, cy}, {-bx, ay}, {-ax, cy}, {-by, cx}, {by, ax}, {ay, cx}};
    double e[24];
    int n = 0;
    for (int i = 0; i < 6; i++) {
        double hi = p[i][0] * p[i][1];
        double lo = fma(p[i][0], p[i][1], -hi);
        n = grow_expansion(n, e, lo);
        n = grow_expansion(n, e, hi);
    }
    for (int i = n - 1; i >= 0; i--)
        if (e[i] != 0.0)
            return e[i] > 0 ? 1 : -1;
    return 0;
}

/* True when p lies on the closed segment a-b. */
static bool on_segment(double ax, double ay, double bx, double by, double x, double y)
{
    if (x < mind(ax, bx) || x > maxd(ax, bx) || y < mind(ay, by) || y > maxd(ay, by))
        return false;
    return lg__orient(ax, ay, bx, by, x, y) == 0;
}

int lg__cell_owns(const lg_layer *l, size_t row, double x, double y, bool *on_boundary)
{
    bool inside = false, touch = false;
    uint32_t r0 = l->cell_ring[row], r1 = l->cell_ring[row + 1];
    for (uint32_t r = r0; r < r1; r++) {
        const double *v = l->xy + 2 * (size_t)l->ring_off[r];
        size_t n = l->ring_off[r + 1] - l->ring_off[r];
        for (size_t i = 0; i + 1 < n; i++) {
            double ax = v[2 * i], ay = v[2 * i + 1];
            double bx = v[2 * i + 2], by = v[2 * i + 3];
            /* normalise upwards so both cells sharing the edge compute the same thing */
            double lox, loy, hix, hiy;
            if (ay <= by) {
                lox = ax, loy = ay, hix = bx, hiy = by;
            } else {
                lox = bx, loy = by, hix = ax, hiy = ay;
            }
            if (y < loy || y > hiy)
                continue;
            if (on_boundary && !touch && on_segment(lox, loy, hix, hiy, x, y))
                touch = true;
            if (y == hiy) /* half-open: upper endpoint excluded (and horizontals) */
                continue;
            if (x <= mind(lox, hix)) {
                inside = !inside;
            } else if (x <= maxd(lox, hix)) {
                if (lg__orient(lox, loy, hix, hiy, x, y) >= 0)
                    inside = !inside;
            }
        }
    }
    if (on_boundary)
        *on_boundary = touch;
    return inside;
}
