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

int lg__orient_exact(double ax, double ay, double bx, double by, double cx, double cy)
{
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
