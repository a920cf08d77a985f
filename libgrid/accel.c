/*
 * Locate accelerator: a raster over the layer's bounds.
 *
 * A pixel no cell edge comes near is answered at once: it lies inside one cell
 * (the same answer for every point of the pixel) or outside all. A boundary pixel
 * keeps, for each cell whose box meets it, whether the cell owns the pixel's centre
 * c and the cell's edges that come near the pixel. The cell owns a query point q
 * when (owns c) XOR (the segment c->q crosses an odd number of those edges).
 *
 * Exactness. The boundary rule says a cell owns q when it contains
 * q' = q + (-e, e*e) for an infinitesimal e. Perturbing c and q alike puts the
 * segment c'->q' in general position against every edge: no endpoint lies on an
 * edge line and no edge vertex on the segment line, unless q == c. Every sign below
 * is therefore decided exactly: the ordinary orientation when it is non-zero, else
 * the sign of the e-terms. Parity along a general-position segment equals the
 * change in containment, so the answer equals the exact test of polygon.c.
 * Edges that cross c->q lie in the (margin-expanded) pixel box because the segment
 * does, and an edge is kept when its box meets the pixel box: none is missed.
 *
 * Pixel lookup rounds; the box each pixel is classified with is widened by a margin
 * far larger than that rounding, so a point always lies in the widened box of the
 * pixel it maps to.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PIX_BOUNDARY 0x80000000u
#define PIX_DEFER 0xFFFFFFFFu /* too many overlapping cells: use the exact path */

struct lg_accel {
    double x0, y0, x1, y1; /* layer bounds */
    double sx, sy;         /* pixels per unit */
    double pw, ph;         /* pixel size */
    double margin;
    uint32_t nx, ny;
    uint32_t *pix; /* 0 outside; row + 1 inside; PIX_BOUNDARY | boundary pixel index */
    uint32_t nbp;
    double *center;   /* 2 per boundary pixel */
    uint32_t *bp_grp; /* nbp + 1: groups of each boundary pixel */
    uint32_t ngrp;
    uint32_t *grp_row;  /* cell row; high bit set when the cell owns the centre */
    uint32_t *grp_edge; /* ngrp + 1: edges of each group */
    uint32_t *edges;    /* vertex index v: the edge from v to v + 1 */
    size_t bytes;
};

#define GRP_OWNS 0x80000000u

/* ------------------------------------------------------------- predicates */

/* Sign of orient(a, b, q') with q' = q + (-e, e^2). */
static int orient_q(double ax, double ay, double bx, double by, double qx, double qy)
{
    int o = lg__orient(ax, ay, bx, by, qx, qy);
    if (o)
        return o;
    /* orient(a, b, q + d) = orient(a, b, q) + (by - ay) e + (bx - ax) e^2 */
    if (by != ay)
        return by > ay ? 1 : -1;
    return bx > ax ? 1 : bx < ax ? -1 : 0;
}

/* Sign of orient(c', q', a): both segment ends perturbed by the same d. */
static int orient_seg(double cx, double cy, double qx, double qy, double ax, double ay)
{
    int o = lg__orient(cx, cy, qx, qy, ax, ay);
    if (o)
        return o;
    /* orient(c + d, q + d, a) = orient(c, q, a) - (qy - cy) e - (qx - cx) e^2 */
    if (qy != cy)
        return qy > cy ? -1 : 1;
    return qx > cx ? -1 : qx < cx ? 1 : 0;
}

/* Does segment c'q' cross edge a-b? (c != q; zero-length edges never cross.) */
static bool crosses(double cx, double cy, double qx, double qy, double ax, double ay, double bx,
                    double by)
{
    /* cheap box rejection first */
    if (fmax(ax, bx) < fmin(cx, qx) || fmin(ax, bx) > fmax(cx, qx) || fmax(ay, by) < fmin(cy, qy) ||
        fmin(ay, by) > fmax(cy, qy))
        return false;
    int s1 = orient_q(ax, ay, bx, by, cx, cy);
    int s2 = orient_q(ax, ay, bx, by, qx, qy);
    if (s1 == 0 || s1 == s2)
        return false;
    int t1 = orient_seg(cx, cy, qx, qy, ax, ay);
    int t2 = orient_seg(cx, cy, qx, qy, bx, by);
    return t1 != t2;
}

static bool on_edge(double ax, double ay, double bx, double by, double x, double y)
{
    if (x < fmin(ax, bx) || x > fmax(ax, bx) || y < fmin(ay, by) || y > fmax(ay, by))
        return false;
    return lg__orient(ax, ay, bx, by, x, y) == 0;
}

/* --------------------------------------------------------------- lookup */

static inline bool pixel_of(const lg_accel *a, double x, double y, uint32_t *ix, uint32_t *iy)
{
    if (!(x >= a->x0 && x <= a->x1 && y >= a->y0 && y <= a->y1))
        return false;
    double fx = (x - a->x0) * a->sx, fy = (y - a->y0) * a->sy;
    uint32_t i = fx >= (double)a->nx ? a->nx - 1 : (uint32_t)fx;
    uint32_t j = fy >= (double)a->ny ? a->ny - 1 : (uint32_t)fy;
    *ix = i;
    *iy = j;
    return true;
}

int64_t lg__accel_locate(const lg_layer *l, const lg_accel *a, double x, double y)
{
    uint32_t i, j;
    if (!pixel_of(a, x, y, &i, &j))
        return LG_NONE;
    uint32_t p = a->pix[(size_t)j * a->nx + i];
    if (!(p & PIX_BOUNDARY))
        return (int64_t)p - 1;
    if (p == PIX_DEFER)
        return LG__ACCEL_DEFER;
    uint32_t b = p & ~PIX_BOUNDARY;
    double cx = a->center[2 * b], cy = a->center[2 * b + 1];
    const double *xy = l->xy;
    bool same = x == cx && y == cy;
    for (uint32_t g = a->bp_grp[b]; g < a->bp_grp[b + 1]; g++) {
        bool in = (a->grp_row[g] & GRP_OWNS) != 0;
        if (!same) {
            for (uint32_t k = a->grp_edge[g]; k < a->grp_edge[g + 1]; k++) {
                const double *e = xy + 2 * (size_t)a->edges[k];
                if (crosses(cx, cy, x, y, e[0], e[1], e[2], e[3]))
                    in = !in;
            }
        }
        if (in)
            return (int64_t)(a->grp_row[g] & ~GRP_OWNS);
    }
    /* owned by none: on the outer boundary or a gap's rim? lowest touching row */
    for (uint32_t g = a->bp_grp[b]; g < a->bp_grp[b + 1]; g++) {
        for (uint32_t k = a->grp_edge[g]; k < a->grp_edge[g + 1]; k++) {
            const double *e = xy + 2 * (size_t)a->edges[k];
            if (on_edge(e[0], e[1], e[2], e[3], x, y))
                return (int64_t)(a->grp_row[g] & ~GRP_OWNS);
        }
    }
    return LG_NONE;
}

size_t lg__accel_bytes(const lg_accel *a)
{
    return a ? a->bytes : 0;
}

void lg__accel_free(const lg_allocator *al, lg_accel *a)
{
    if (!a)
        return;
    lg__free(al, a->pix);
    lg__free(al, a->center);
    lg__free(al, a->bp_grp);
    lg__free(al, a->grp_row);
    lg__free(al, a->grp_edge);
    lg__free(al, a->edges);
    lg__free(al, a);
}

/* ---------------------------------------------------------------- build */

/* One (pixel, cell, edge) incidence, before sorting. */
typedef struct inc {
    uint32_t pixel, row, vert;
} inc;

/* Pixel range [i0, i1] whose widened boxes may meet [lo, hi] along one axis. */
static void pixel_range(double lo, double hi, double o, double s, double margin, uint32_t n,
                        uint32_t *i0, uint32_t *i1)
{
    double f0 = floor((lo - margin - o) * s) - 1, f1 = floor((hi + margin - o) * s) + 1;
    *i0 = f0 < 0 ? 0 : f0 >= n ? n - 1 : (uint32_t)f0;
    *i1 = f1 < 0 ? 0 : f1 >= n ? n - 1 : (uint32_t)f1;
}

/*
 * Does the edge's box meet pixel (i, j)'s widened box? A conservative test is
 * enough: extra edges cost time, never correctness.
 */
static bool edge_meets_pixel(const lg_accel *a, const double *e, uint32_t i, uint32_t j)
{
    double px0 = a->x0 + i * a->pw - a->margin, px1 = a->x0 + (i + 1) * a->pw + a->margin;
    double py0 = a->y0 + j * a->ph - a->margin, py1 = a->y0 + (j + 1) * a->ph + a->margin;
    return !(fmax(e[0], e[2]) < px0 || fmin(e[0], e[2]) > px1 || fmax(e[1], e[3]) < py0 ||
             fmin(e[1], e[3]) > py1);
}

/*
 * Visit every (pixel, cell, edge) incidence. Without out: count them per pixel
 * into pos. With out: write each at out[pos[pixel]++]. Returns the total.
 */
static size_t scan_edges(const lg_accel *a, const lg_layer *l, uint32_t *pos, inc *out)
{
    size_t total = 0;
    for (size_t c = 0; c < l->ncells; c++) {
        for (uint32_t r = l->cell_ring[c]; r < l->cell_ring[c + 1]; r++) {
            for (uint32_t v = l->ring_off[r]; v + 1 < l->ring_off[r + 1]; v++) {
                const double *ed = l->xy + 2 * (size_t)v;
                if (ed[0] == ed[2] && ed[1] == ed[3])
                    continue; /* duplicate vertex: never crosses, never touches alone */
                uint32_t i0, i1, j0, j1;
                pixel_range(fmin(ed[0], ed[2]), fmax(ed[0], ed[2]), a->x0, a->sx, a->margin, a->nx,
                            &i0, &i1);
                pixel_range(fmin(ed[1], ed[3]), fmax(ed[1], ed[3]), a->y0, a->sy, a->margin, a->ny,
                            &j0, &j1);
                for (uint32_t j = j0; j <= j1; j++)
                    for (uint32_t i = i0; i <= i1; i++) {
                        if (!edge_meets_pixel(a, ed, i, j))
                            continue;
                        size_t p = (size_t)j * a->nx + i;
                        total++;
                        if (!out) {
                            pos[p]++;
                        } else {
                            inc *t = &out[pos[p]++];
                            t->pixel = (uint32_t)p;
                            t->row = (uint32_t)c;
                            t->vert = v;
                        }
                    }
            }
        }
    }
    return total;
}

typedef struct row_list {
    int64_t rows[64];
    size_t n;
    bool overflow;
} row_list;

static bool collect_row(int64_t id, const double box[4], void *udata)
{
    (void)box;
    row_list *r = udata;
    if (r->n < 64)
        r->rows[r->n++] = id;
    else
        r->overflow = true;
    return true;
}

lg_error lg__accel_build(const lg_layer *l, double pixels_per_cell, size_t max_bytes,
                         lg_accel **out)
{
    const lg_allocator *al = &l->alloc;
    *out = NULL;
    if (!l->has_bounds || l->ncells == 0)
        return LG_OK;
    lg_accel *a = lg__calloc(al, 1, sizeof *a);
    if (!a)
        return LG_ERR_NOMEM;
    a->x0 = l->bounds[0];
    a->y0 = l->bounds[1];
    a->x1 = l->bounds[2];
    a->y1 = l->bounds[3];
    double w = a->x1 - a->x0, h = a->y1 - a->y0;
    double mag = fmax(fmax(fabs(a->x0), fabs(a->x1)), fmax(fabs(a->y0), fabs(a->y1)));
    /* far above the rounding of the pixel lookup (a few ulps of mag and of w, h) */
    a->margin = 1e-9 * (mag + w + h) + 1e-300;
    double npix = pixels_per_cell * (double)l->ncells;
    if (max_bytes && npix * 12.0 > (double)max_bytes)
        npix = (double)max_bytes / 12.0;
    if (npix < 1)
        npix = 1;
    double aspect = w > 0 && h > 0 ? w / h : 1.0;
    double fnx = ceil(sqrt(npix * aspect)), fny = ceil(sqrt(npix / aspect));
    if (fnx > 65535)
        fnx = 65535;
    if (fny > 65535)
        fny = 65535;
    a->nx = fnx < 1 ? 1 : (uint32_t)fnx;
    a->ny = fny < 1 ? 1 : (uint32_t)fny;
    a->pw = w > 0 ? w / a->nx : 1.0;
    a->ph = h > 0 ? h / a->ny : 1.0;
    a->sx = 1.0 / a->pw;
    a->sy = 1.0 / a->ph;
    size_t np = (size_t)a->nx * a->ny;
    lg_error e = LG_OK;
    inc *incs = NULL;
    size_t ninc = 0;
    a->pix = lg__calloc(al, np, sizeof *a->pix);
    if (!a->pix)
        goto nomem;

    /*
     * 1. every edge into every pixel its box meets, by a stable counting sort on
     * the pixel: a first pass counts, a second places. Cells and edges are visited
     * in order, so each pixel's incidences come out sorted by (row, vertex).
     */
    {
        uint32_t *pos = lg__calloc(al, np + 1, sizeof *pos);
        if (!pos)
            goto nomem;
        size_t total = scan_edges(a, l, pos, NULL);
        if (total >= UINT32_MAX) {
            lg__free(al, pos);
            e = LG_ERR_UNSUPPORTED;
            goto nomem;
        }
        uint32_t run = 0;
        for (size_t p = 0; p < np; p++) {
            uint32_t c = pos[p];
            pos[p] = run;
            run += c;
        }
        ninc = total;
        incs = lg__malloc(al, (ninc + 1) * sizeof *incs);
        if (!incs) {
            lg__free(al, pos);
            goto nomem;
        }
        scan_edges(a, l, pos, incs);
        lg__free(al, pos);
    }

    /* 2. boundary pixels: count pixels and groups */
    uint32_t nbp = 0, ngrp = 0;
    for (size_t k = 0; k < ninc; k++) {
        if (k == 0 || incs[k].pixel != incs[k - 1].pixel) {
            a->pix[incs[k].pixel] = PIX_BOUNDARY | nbp;
            nbp++;
        }
    }
    a->nbp = nbp;
    a->center = lg__malloc(al, 2 * (size_t)(nbp + 1) * sizeof(double));
    a->bp_grp = lg__malloc(al, (size_t)(nbp + 1) * sizeof(uint32_t));
    a->edges = lg__malloc(al, (ninc + 1) * sizeof(uint32_t));
    if (!a->center || !a->bp_grp || !a->edges)
        goto nomem;
    /*
     * Groups: the cells with edges in the pixel, plus cells whose box holds the
     * centre and own it without an edge nearby (overlapping data): found through
     * the R-tree at the centre.
     */
    size_t gcap = 0;
    uint32_t *grow = NULL, *gedge = NULL;
    size_t gcap2 = 0;
    for (size_t k = 0; k < ninc;) {
        uint32_t p = incs[k].pixel, b = a->pix[p] & ~PIX_BOUNDARY;
        uint32_t i = p % a->nx, j = p / a->nx;
        double cx = a->x0 + (i + 0.5) * a->pw, cy = a->y0 + (j + 0.5) * a->ph;
        a->center[2 * b] = cx;
        a->center[2 * b + 1] = cy;
        a->bp_grp[b] = ngrp;
        size_t kend = k;
        while (kend < ninc && incs[kend].pixel == p)
            kend++;
        row_list extra = {.n = 0};
        lg_rtree_search_point(l->rtree, cx, cy, collect_row, &extra);
        /* merge rows with edges (sorted) and extra rows without edges that own c */
        size_t q = k;
        for (;;) {
            uint32_t row_e = q < kend ? incs[q].row : UINT32_MAX;
            /* smallest extra row not in the edge rows and owning c */
            uint32_t row_x = UINT32_MAX;
            for (size_t t = 0; t < extra.n; t++) {
                uint32_t rr = (uint32_t)extra.rows[t];
                if (rr < row_x && rr < row_e) {
                    bool has_edges = false;
                    for (size_t z = k; z < kend && !has_edges; z++)
                        has_edges = incs[z].row == rr;
                    if (!has_edges)
                        row_x = rr;
                }
            }
            if (row_e == UINT32_MAX && row_x == UINT32_MAX)
                break;
            uint32_t row = row_x < row_e ? row_x : row_e;
            if (ngrp + 1 >= gcap && (lg__grow(al, (void **)&grow, &gcap, ngrp + 2, sizeof *grow)))
                goto nomem_g;
            if (ngrp + 1 >= gcap2 &&
                (lg__grow(al, (void **)&gedge, &gcap2, ngrp + 2, sizeof *gedge)))
                goto nomem_g;
            bool owns = lg__cell_owns(l, row, cx, cy, NULL);
            if (row == row_x) {
                for (size_t t = 0; t < extra.n; t++)
                    if ((uint32_t)extra.rows[t] == row)
                        extra.rows[t] = UINT32_MAX; /* consumed */
                if (!owns)
                    continue; /* no edges and does not hold the pixel: irrelevant */
                grow[ngrp] = row | GRP_OWNS;
                gedge[ngrp] = (uint32_t)q; /* empty edge range */
                ngrp++;
                continue;
            }
            grow[ngrp] = row | (owns ? GRP_OWNS : 0);
            gedge[ngrp] = (uint32_t)q;
            ngrp++;
            while (q < kend && incs[q].row == row) {
                a->edges[q] = incs[q].vert;
                q++;
            }
        }
        if (extra.overflow) {
            /* more than 64 boxes at one centre: leave the pixel to the exact path */
            a->pix[p] = PIX_DEFER;
        }
        k = kend;
    }
    a->bp_grp[nbp] = ngrp;
    if (grow)
        grow[ngrp] = 0;
    a->ngrp = ngrp;
    a->grp_row = grow ? grow : lg__calloc(al, 1, sizeof *a->grp_row);
    if (gedge)
        gedge[ngrp] = (uint32_t)ninc;
    a->grp_edge = gedge ? gedge : lg__calloc(al, 1, sizeof *a->grp_edge);
    if (!a->grp_row || !a->grp_edge)
        goto nomem;

    /* 3. pixels without edges: one exact locate per run of them along a row */
    for (uint32_t j = 0; j < a->ny; j++) {
        uint32_t run_val = 0;
        bool in_run = false;
        for (uint32_t i = 0; i < a->nx; i++) {
            uint32_t *pp = &a->pix[(size_t)j * a->nx + i];
            if (*pp != 0) {
                in_run = false;
                continue;
            }
            if (!in_run) {
                double cx = a->x0 + (i + 0.5) * a->pw, cy = a->y0 + (j + 0.5) * a->ph;
                int64_t row = lg__locate_exact(l, cx, cy);
                run_val = row == LG_NONE ? 0 : (uint32_t)row + 1;
                in_run = true;
            }
            *pp = run_val;
        }
    }
    lg__free(al, incs);
    a->bytes = sizeof *a + np * sizeof *a->pix + 2 * (size_t)nbp * sizeof(double) +
               (size_t)(nbp + 1) * sizeof(uint32_t) + 2 * (size_t)(ngrp + 1) * sizeof(uint32_t) +
               ninc * sizeof(uint32_t);
    *out = a;
    return LG_OK;
nomem_g:
    lg__free(al, grow);
    lg__free(al, gedge);
nomem:
    lg__free(al, incs);
    lg__accel_free(al, a);
    return e ? e : LG_ERR_NOMEM;
}
