/*
 * libgrid's R-tree: packed (Hilbert) bulk load, dynamic insert (least enlargement,
 * R*-style split), delete with condense-tree and reinsertion of orphans, update with an
 * in-place fast path; box, point and best-first k-nearest search.
 *
 * Layout: every node holds up to RT_MAX entries as struct-of-arrays (minx[], miny[],
 * maxx[], maxy[] contiguous, then the child pointers or ids), so a search scans four
 * packed double arrays per node. Leaves are level 0; every leaf is at the same depth and
 * every node box is exactly the union of its entries (lg__rtree_check verifies both).
 *
 * Thread-safety: the query functions (lg_rtree_count, _bounds, _search, _search_point,
 * _nearest) only read the tree. Their working state lives on the caller's stack, or,
 * for unusually deep best-first queues or large k, in memory the call allocates and
 * frees itself through the tree's allocator (which must then be thread-safe, as the C
 * library's is). Any number of threads may therefore query one tree at once. The
 * mutating calls (insert, delete, update, bulk_load, free) change nodes and the pool of
 * spare nodes and need exclusive access: no query may run meanwhile.
 *
 * Allocation failure: every mutation first reserves all the nodes it may need (a
 * bound computed from the tree height and the number of entries it may have to
 * reinsert) and only then changes the tree, so LG_ERR_NOMEM always leaves the tree
 * exactly as it was. Spare nodes are kept in a small pool for the next mutation.
 */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define RT_MAX 16     /* fan-out (at most 32: search uses bit masks); 16 measured fastest */
#define RT_MIN 6      /* minimum fill of a non-root node (about 40%) */
#define RT_MAXH 64    /* bound on the height; min fill keeps real trees far below */
#define RT_KEEP 128   /* spare nodes kept in the pool between mutations */
#define RT_QSTACK 256 /* best-first queue entries held on the stack */
#define RT_KSTACK 64  /* k-nearest candidates held on the stack */

typedef struct rt_node rt_node;
struct rt_node {
    int count;
    int level; /* 0: leaf */
    double minx[RT_MAX], miny[RT_MAX], maxx[RT_MAX], maxy[RT_MAX];
    union {
        rt_node *child[RT_MAX];
        int64_t id[RT_MAX];
    } u;
};

typedef union rt_ref {
    rt_node *child;
    int64_t id;
} rt_ref;

struct lg_rtree {
    lg_allocator alloc;
    rt_node *root; /* NULL when empty */
    size_t count;
    rt_node *pool; /* spare nodes, linked through u.child[0] */
    size_t npool;
};

int lg__rtree_check(const lg_rtree *tree);

/* ------------------------------------------------------------ helpers */

static bool box_ok(const double b[4])
{
    return isfinite(b[0]) && isfinite(b[1]) && isfinite(b[2]) && isfinite(b[3]) && b[0] <= b[2] &&
           b[1] <= b[3];
}

static void entry_box(const rt_node *n, int i, double b[4])
{
    b[0] = n->minx[i];
    b[1] = n->miny[i];
    b[2] = n->maxx[i];
    b[3] = n->maxy[i];
}

static void set_entry(rt_node *n, int i, const double b[4], rt_ref r)
{
    n->minx[i] = b[0];
    n->miny[i] = b[1];
    n->maxx[i] = b[2];
    n->maxy[i] = b[3];
    if (n->level == 0)
        n->u.id[i] = r.id;
    else
        n->u.child[i] = r.child;
}

static rt_ref get_ref(const rt_node *n, int i)
{
    rt_ref r;
    if (n->level == 0)
        r.id = n->u.id[i];
    else
        r.child = n->u.child[i];
    return r;
}

static void set_box(rt_node *n, int i, const double b[4])
{
    n->minx[i] = b[0];
    n->miny[i] = b[1];
    n->maxx[i] = b[2];
    n->maxy[i] = b[3];
}

static void remove_entry(rt_node *n, int i)
{
    int last = n->count - 1;
    if (i != last) {
        double b[4];
        entry_box(n, last, b);
        set_entry(n, i, b, get_ref(n, last));
    }
    n->count--;
}

static void node_bbox(const rt_node *n, double b[4])
{
    double x0 = n->minx[0], y0 = n->miny[0], x1 = n->maxx[0], y1 = n->maxy[0];
    for (int i = 1; i < n->count; i++) {
        x0 = n->minx[i] < x0 ? n->minx[i] : x0;
        y0 = n->miny[i] < y0 ? n->miny[i] : y0;
        x1 = n->maxx[i] > x1 ? n->maxx[i] : x1;
        y1 = n->maxy[i] > y1 ? n->maxy[i] : y1;
    }
    b[0] = x0;
    b[1] = y0;
    b[2] = x1;
    b[3] = y1;
}

static void box_union(double a[4], const double b[4])
{
    a[0] = b[0] < a[0] ? b[0] : a[0];
    a[1] = b[1] < a[1] ? b[1] : a[1];
    a[2] = b[2] > a[2] ? b[2] : a[2];
    a[3] = b[3] > a[3] ? b[3] : a[3];
}

static bool box_eq(const double a[4], const double b[4])
{
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

static double box_area(const double b[4])
{
    return (b[2] - b[0]) * (b[3] - b[1]);
}

static double box_margin(const double b[4])
{
    return (b[2] - b[0]) + (b[3] - b[1]);
}

/* ---------------------------------------------------------- node pool */

/* Make sure the pool holds at least need nodes; false on allocation failure. */
static bool pool_reserve(lg_rtree *t, size_t need)
{
    while (t->npool < need) {
        rt_node *n = lg__malloc(&t->alloc, sizeof *n);
        if (!n)
            return false;
        n->u.child[0] = t->pool;
        t->pool = n;
        t->npool++;
    }
    return true;
}

static rt_node *pool_take(lg_rtree *t, int level)
{
    rt_node *n = t->pool; /* callers reserved beforehand */
    t->pool = n->u.child[0];
    t->npool--;
    n->count = 0;
    n->level = level;
    return n;
}

static void pool_put(lg_rtree *t, rt_node *n)
{
    n->u.child[0] = t->pool;
    t->pool = n;
    t->npool++;
}

static void pool_trim(lg_rtree *t, size_t keep)
{
    while (t->npool > keep) {
        rt_node *n = t->pool;
        t->pool = n->u.child[0];
        t->npool--;
        lg__free(&t->alloc, n);
    }
}

static void free_subtree(const lg_allocator *a, rt_node *n)
{
    if (!n)
        return;
    if (n->level > 0)
        for (int i = 0; i < n->count; i++)
            free_subtree(a, n->u.child[i]);
    lg__free(a, n);
}

static int levels(const lg_rtree *t)
{
    return t->root ? t->root->level + 1 : 0;
}

/* Nodes an insertion may take: a split per level plus a new root. */
static size_t insert_need(const lg_rtree *t)
{
    return (size_t)levels(t) + 1;
}

/* ------------------------------------------------------------ public */

lg_error lg_rtree_new(const lg_allocator *alloc, lg_rtree **out)
{
    if (!out)
        return LG_ERR_ARG;
    *out = NULL;
    if (alloc && (!alloc->malloc || !alloc->realloc || !alloc->free))
        return LG_ERR_ARG;
    const lg_allocator *a = alloc ? alloc : &lg__default_allocator;
    lg_rtree *t = lg__malloc(a, sizeof *t);
    if (!t)
        return LG_ERR_NOMEM;
    memset(t, 0, sizeof *t);
    t->alloc = *a;
    *out = t;
    return LG_OK;
}

void lg_rtree_free(lg_rtree *tree)
{
    if (!tree)
        return;
    free_subtree(&tree->alloc, tree->root);
    pool_trim(tree, 0);
    lg_allocator a = tree->alloc;
    lg__free(&a, tree);
}

size_t lg_rtree_count(const lg_rtree *tree)
{
    return tree ? tree->count : 0;
}

bool lg_rtree_bounds(const lg_rtree *tree, double box[4])
{
    if (!tree || !tree->root || tree->root->count == 0)
        return false;
    if (box)
        node_bbox(tree->root, box);
    return true;
}

/* --------------------------------------------------------- bulk load */

/*
 * Sort keys: the Hilbert position (32 bits) above the input index, so sorting the
 * integers sorts by position, ties in input order. An LSD radix sort on the upper
 * half (the lower half is already in order), by hand: the C library has none, and
 * its qsort took a third of a million-box build. Returns k or tmp, whichever holds
 * the result.
 */
static uint64_t *sort_keys(uint64_t *k, uint64_t *tmp, size_t n)
{
    enum { BITS = 11, R = 1 << BITS };
    size_t hist[R];
    for (unsigned sh = 32; sh < 64; sh += BITS) {
        memset(hist, 0, sizeof hist);
        for (size_t i = 0; i < n; i++)
            hist[(k[i] >> sh) & (R - 1)]++;
        size_t run = 0;
        for (size_t d = 0; d < R; d++) {
            size_t c = hist[d];
            hist[d] = run;
            run += c;
        }
        for (size_t i = 0; i < n; i++)
            tmp[hist[(k[i] >> sh) & (R - 1)]++] = k[i];
        uint64_t *t = k;
        k = tmp;
        tmp = t;
    }
    return k;
}

/* Position of (x, y) on the Hilbert curve filling a 2^16 x 2^16 grid. */
static uint64_t hilbert(uint32_t x, uint32_t y)
{
    const uint32_t n = 1u << 16;
    uint64_t d = 0;
    for (uint32_t s = n / 2; s > 0; s /= 2) {
        uint32_t rx = (x & s) > 0, ry = (y & s) > 0;
        d += (uint64_t)s * s * ((3 * rx) ^ ry);
        if (ry == 0) {
            if (rx == 1) {
                x = n - 1 - x;
                y = n - 1 - y;
            }
            uint32_t tmp = x;
            x = y;
            y = tmp;
        }
    }
    return d;
}

static uint32_t grid_coord(double v, double lo, double span)
{
    if (!(span > 0))
        return 0;
    double g = (v - lo) / span * 65535.0;
    if (!(g > 0))
        return 0;
    if (g >= 65535.0)
        return 65535;
    return (uint32_t)g;
}

lg_error lg_rtree_bulk_load(lg_rtree *tree, const double *boxes, const int64_t *ids, size_t n)
{
    if (!tree || (n && !boxes))
        return LG_ERR_ARG;
    for (size_t i = 0; i < n; i++)
        if (!box_ok(boxes + 4 * i))
            return LG_ERR_ARG;
    if (n == 0) {
        free_subtree(&tree->alloc, tree->root);
        tree->root = NULL;
        tree->count = 0;
        return LG_OK;
    }
    if (n > UINT32_MAX)
        return LG_ERR_CAPACITY; /* the sort keys hold 32-bit indices */
    const lg_allocator *a = &tree->alloc;

    /* Number of nodes over all levels, each level's entries spread evenly. */
    size_t total = 0;
    for (size_t m = n;;) {
        size_t k = (m + RT_MAX - 1) / RT_MAX;
        total += k;
        if (k == 1)
            break;
        m = k;
    }
    uint64_t *keys = lg__malloc(a, 2 * n * sizeof *keys), *sorted = NULL;
    rt_node **nodes = lg__calloc(a, total, sizeof *nodes);
    size_t made = 0;
    if (!keys || !nodes)
        goto nomem;
    lg__advise_huge(keys, 2 * n * sizeof *keys);
    for (; made < total; made++) {
        nodes[made] = lg__malloc(a, sizeof(rt_node));
        if (!nodes[made])
            goto nomem;
    }

    /* Sort by the Hilbert position of box centres; ties keep input order. */
    double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    for (size_t i = 0; i < n; i++) {
        const double *b = boxes + 4 * i;
        for (int d = 0; d < 2; d++) {
            double c = b[d] * 0.5 + b[d + 2] * 0.5;
            lo[d] = c < lo[d] ? c : lo[d];
            hi[d] = c > hi[d] ? c : hi[d];
        }
    }
    for (size_t i = 0; i < n; i++) {
        const double *b = boxes + 4 * i;
        uint32_t gx = grid_coord(b[0] * 0.5 + b[2] * 0.5, lo[0], hi[0] - lo[0]);
        uint32_t gy = grid_coord(b[1] * 0.5 + b[3] * 0.5, lo[1], hi[1] - lo[1]);
        keys[i] = hilbert(gx, gy) << 32 | i;
    }
    sorted = sort_keys(keys, keys + n, n);

    /* Leaves, then each upper level from the one below. */
    size_t m = n, base = 0, below = 0;
    int level = 0;
    for (;;) {
        size_t k = (m + RT_MAX - 1) / RT_MAX;
        for (size_t j = 0; j < k; j++) {
            size_t from = j * m / k, to = (j + 1) * m / k;
            rt_node *nd = nodes[base + j];
            nd->level = level;
            nd->count = 0;
            for (size_t e = from; e < to; e++) {
                double b[4];
                rt_ref r;
                if (level == 0) {
                    size_t src = (uint32_t)sorted[e];
                    memcpy(b, boxes + 4 * src, sizeof b);
                    r.id = ids ? ids[src] : (int64_t)src;
                } else {
                    r.child = nodes[below + e];
                    node_bbox(r.child, b);
                }
                set_entry(nd, nd->count++, b, r);
            }
        }
        if (k == 1)
            break;
        below = base;
        base += k;
        m = k;
        level++;
    }
    free_subtree(a, tree->root);
    tree->root = nodes[base];
    tree->count = n;
    lg__free(a, keys);
    lg__free(a, nodes);
    return LG_OK;

nomem:
    for (size_t i = 0; i < made; i++)
        lg__free(a, nodes[i]);
    lg__free(a, keys);
    lg__free(a, nodes);
    return LG_ERR_NOMEM;
}

/* ------------------------------------------------------------ insert */

/* Child of n whose box needs least enlargement to take b; ties: least area. */
static int choose_subtree(const rt_node *n, const double b[4])
{
    int best = 0;
    double best_enl = INFINITY, best_area = INFINITY;
    for (int i = 0; i < n->count; i++) {
        double w = n->maxx[i] - n->minx[i], h = n->maxy[i] - n->miny[i];
        double area = w * h;
        double ux0 = b[0] < n->minx[i] ? b[0] : n->minx[i];
        double uy0 = b[1] < n->miny[i] ? b[1] : n->miny[i];
        double ux1 = b[2] > n->maxx[i] ? b[2] : n->maxx[i];
        double uy1 = b[3] > n->maxy[i] ? b[3] : n->maxy[i];
        double enl = (ux1 - ux0) * (uy1 - uy0) - area;
        if (enl < best_enl || (enl == best_enl && area < best_area)) {
            best = i;
            best_enl = enl;
            best_area = area;
        }
    }
    return best;
}

typedef struct rt_ent {
    double b[4];
    rt_ref r;
} rt_ent;

/* Indices of e sorted by (b[k1], b[k2], index): insertion sort, deterministic. */
static void sort_entries(const rt_ent *e, int n, int k1, int k2, int *ord)
{
    for (int i = 0; i < n; i++) {
        int v = ord[i] = i, j = i;
        while (j > 0) {
            const rt_ent *p = &e[ord[j - 1]], *q = &e[v];
            bool less = q->b[k1] < p->b[k1] || (q->b[k1] == p->b[k1] && q->b[k2] < p->b[k2]);
            if (!less)
                break;
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = v;
    }
}

/* Prefix and suffix bounding boxes of e in order ord. */
static void prefix_boxes(const rt_ent *e, const int *ord, int n, double (*pre)[4], double (*suf)[4])
{
    memcpy(pre[0], e[ord[0]].b, sizeof pre[0]);
    for (int i = 1; i < n; i++) {
        memcpy(pre[i], pre[i - 1], sizeof pre[i]);
        box_union(pre[i], e[ord[i]].b);
    }
    memcpy(suf[n - 1], e[ord[n - 1]].b, sizeof suf[0]);
    for (int i = n - 2; i >= 0; i--) {
        memcpy(suf[i], suf[i + 1], sizeof suf[i]);
        box_union(suf[i], e[ord[i]].b);
    }
}

/*
 * R*-style split of full node n plus entry (b, r): the axis with the least margin sum,
 * then the distribution with least overlap, then least area. n keeps the first group;
 * the second goes to a new node (taken from the reserved pool), which is returned.
 */
static rt_node *split_node(lg_rtree *t, rt_node *n, const double b[4], rt_ref r)
{
    enum { N = RT_MAX + 1 };
    rt_ent e[N];
    for (int i = 0; i < RT_MAX; i++) {
        entry_box(n, i, e[i].b);
        e[i].r = get_ref(n, i);
    }
    memcpy(e[RT_MAX].b, b, sizeof e[RT_MAX].b);
    e[RT_MAX].r = r;

    int ord[2][2][N];
    double pre[N][4], suf[N][4];
    int best_axis = 0;
    double best_margin = INFINITY;
    for (int axis = 0; axis < 2; axis++) {
        double margin = 0;
        for (int s = 0; s < 2; s++) {
            int k1 = s ? axis + 2 : axis, k2 = s ? axis : axis + 2;
            sort_entries(e, N, k1, k2, ord[axis][s]);
            prefix_boxes(e, ord[axis][s], N, pre, suf);
            for (int k = RT_MIN; k <= N - RT_MIN; k++)
                margin += box_margin(pre[k - 1]) + box_margin(suf[k]);
        }
        if (margin < best_margin) {
            best_margin = margin;
            best_axis = axis;
        }
    }
    int best_s = 0, best_k = RT_MIN;
    double best_overlap = INFINITY, best_area = INFINITY;
    for (int s = 0; s < 2; s++) {
        prefix_boxes(e, ord[best_axis][s], N, pre, suf);
        for (int k = RT_MIN; k <= N - RT_MIN; k++) {
            const double *p = pre[k - 1], *q = suf[k];
            double ox = (p[2] < q[2] ? p[2] : q[2]) - (p[0] > q[0] ? p[0] : q[0]);
            double oy = (p[3] < q[3] ? p[3] : q[3]) - (p[1] > q[1] ? p[1] : q[1]);
            double overlap = (ox > 0 && oy > 0) ? ox * oy : 0;
            double area = box_area(p) + box_area(q);
            if (overlap < best_overlap || (overlap == best_overlap && area < best_area)) {
                best_overlap = overlap;
                best_area = area;
                best_s = s;
                best_k = k;
            }
        }
    }
    const int *o = ord[best_axis][best_s];
    rt_node *m = pool_take(t, n->level);
    n->count = 0;
    for (int i = 0; i < best_k; i++)
        set_entry(n, n->count++, e[o[i]].b, e[o[i]].r);
    for (int i = best_k; i < N; i++)
        set_entry(m, m->count++, e[o[i]].b, e[o[i]].r);
    return m;
}

/*
 * Insert (b, r) into a node at the given level (0: an item; > 0: a subtree whose
 * root is at level - 1). The caller reserved insert_need() nodes; cannot fail.
 */
static void insert_at(lg_rtree *t, const double b[4], rt_ref r, int level)
{
    if (!t->root)
        t->root = pool_take(t, 0); /* only items are inserted into an empty tree */
    rt_node *path[RT_MAXH];
    int idx[RT_MAXH];
    int depth = 0;
    rt_node *n = t->root;
    while (n->level > level) {
        int i = choose_subtree(n, b);
        path[depth] = n;
        idx[depth] = i;
        depth++;
        double eb[4];
        entry_box(n, i, eb);
        box_union(eb, b);
        set_box(n, i, eb);
        n = n->u.child[i];
    }
    if (n->count < RT_MAX) {
        set_entry(n, n->count++, b, r);
        return;
    }
    rt_node *sib = split_node(t, n, b, r);
    for (;;) {
        double nb[4], sb[4];
        node_bbox(n, nb);
        node_bbox(sib, sb);
        rt_ref sr = {.child = sib};
        if (depth == 0) {
            rt_node *root = pool_take(t, n->level + 1);
            rt_ref nr = {.child = n};
            set_entry(root, root->count++, nb, nr);
            set_entry(root, root->count++, sb, sr);
            t->root = root;
            return;
        }
        depth--;
        rt_node *parent = path[depth];
        set_box(parent, idx[depth], nb);
        if (parent->count < RT_MAX) {
            set_entry(parent, parent->count++, sb, sr);
            return;
        }
        sib = split_node(t, parent, sb, sr);
        n = parent;
    }
}

lg_error lg_rtree_insert(lg_rtree *tree, const double box[4], int64_t id)
{
    if (!tree || !box || !box_ok(box))
        return LG_ERR_ARG;
    if (!pool_reserve(tree, insert_need(tree)))
        return LG_ERR_NOMEM;
    rt_ref r = {.id = id};
    insert_at(tree, box, r, 0);
    tree->count++;
    return LG_OK;
}

/* ------------------------------------------------------------ delete */

static bool contains(const rt_node *n, int i, const double b[4])
{
    return n->minx[i] <= b[0] && n->miny[i] <= b[1] && n->maxx[i] >= b[2] && n->maxy[i] >= b[3];
}

/* Find the entry (b, id): path[0..*depth] from the root to its leaf, idx[] the entries. */
static bool find_entry(rt_node *n, const double b[4], int64_t id, rt_node **path, int *idx, int d,
                       int *depth)
{
    path[d] = n;
    if (n->level == 0) {
        for (int i = 0; i < n->count; i++) {
            if (n->u.id[i] == id && n->minx[i] == b[0] && n->miny[i] == b[1] &&
                n->maxx[i] == b[2] && n->maxy[i] == b[3]) {
                idx[d] = i;
                *depth = d;
                return true;
            }
        }
        return false;
    }
    for (int i = 0; i < n->count; i++) {
        if (contains(n, i, b)) {
            idx[d] = i;
            if (find_entry(n->u.child[i], b, id, path, idx, d + 1, depth))
                return true;
        }
    }
    return false;
}

/*
 * Whether the node at path[d] (whose count is cnt once the delete is applied) leaves
 * the tree. The root's only child stays, so the root never loses its last entry.
 */
static bool underflows(const lg_rtree *t, rt_node *const *path, int d, int cnt)
{
    return d > 0 && cnt < RT_MIN && !(path[d - 1] == t->root && path[d - 1]->count == 1);
}

/* Entries that deleting at path orphans (the chain of underflowing nodes). */
static size_t orphan_count(const lg_rtree *t, rt_node *const *path, int depth)
{
    size_t m = 0;
    int cnt = path[depth]->count - 1;
    for (int d = depth; underflows(t, path, d, cnt); d--) {
        m += (size_t)cnt;
        cnt = path[d - 1]->count - 1;
    }
    return m;
}

/* Nodes that reinserting m orphans may take (the tree may grow one level each). */
static size_t reinsert_need(const lg_rtree *t, size_t m)
{
    size_t h = (size_t)levels(t);
    return m * (h + 1) + m * (m ? m - 1 : 0) / 2;
}

/* Remove the entry at path/idx, condense, reinsert orphans. Nodes were reserved. */
static void delete_at(lg_rtree *t, rt_node **path, int *idx, int depth)
{
    rt_node *removed[RT_MAXH];
    int nrem = 0;
    remove_entry(path[depth], idx[depth]);
    bool removing = true;
    for (int d = depth; d > 0; d--) {
        rt_node *n = path[d], *parent = path[d - 1];
        if (removing && underflows(t, path, d, n->count)) {
            remove_entry(parent, idx[d - 1]);
            removed[nrem++] = n;
        } else {
            removing = false;
            double nb[4], pb[4];
            node_bbox(n, nb);
            entry_box(parent, idx[d - 1], pb);
            if (box_eq(nb, pb))
                break; /* ancestors are unchanged too */
            set_box(parent, idx[d - 1], nb);
        }
    }
    t->count--;
    /* Higher levels first, so lower-level orphans may land in reinserted subtrees. */
    for (int k = nrem - 1; k >= 0; k--) {
        rt_node *n = removed[k];
        for (int i = 0; i < n->count; i++) {
            double b[4];
            entry_box(n, i, b);
            insert_at(t, b, get_ref(n, i), n->level);
        }
        pool_put(t, n);
    }
    while (t->root->level > 0 && t->root->count == 1) {
        rt_node *old = t->root;
        t->root = old->u.child[0];
        pool_put(t, old);
    }
    if (t->root->level == 0 && t->root->count == 0) {
        pool_put(t, t->root);
        t->root = NULL;
    }
}

lg_error lg_rtree_delete(lg_rtree *tree, const double box[4], int64_t id)
{
    if (!tree || !box || !box_ok(box))
        return LG_ERR_ARG;
    rt_node *path[RT_MAXH];
    int idx[RT_MAXH], depth = 0;
    if (!tree->root || !find_entry(tree->root, box, id, path, idx, 0, &depth))
        return LG_ERR_NOT_FOUND;
    size_t m = orphan_count(tree, path, depth);
    if (m && !pool_reserve(tree, reinsert_need(tree, m)))
        return LG_ERR_NOMEM;
    delete_at(tree, path, idx, depth);
    pool_trim(tree, RT_KEEP);
    return LG_OK;
}

lg_error lg_rtree_update(lg_rtree *tree, const double old_box[4], const double new_box[4],
                         int64_t id)
{
    if (!tree || !old_box || !new_box || !box_ok(old_box) || !box_ok(new_box))
        return LG_ERR_ARG;
    rt_node *path[RT_MAXH];
    int idx[RT_MAXH], depth = 0;
    if (!tree->root || !find_entry(tree->root, old_box, id, path, idx, 0, &depth))
        return LG_ERR_NOT_FOUND;
    if (depth == 0 || contains(path[depth - 1], idx[depth - 1], new_box)) {
        /* Fast path: the entry stays in its leaf, whose box can only shrink. */
        set_box(path[depth], idx[depth], new_box);
        for (int d = depth; d > 0; d--) {
            double nb[4], pb[4];
            node_bbox(path[d], nb);
            entry_box(path[d - 1], idx[d - 1], pb);
            if (box_eq(nb, pb))
                break;
            set_box(path[d - 1], idx[d - 1], nb);
        }
        return LG_OK;
    }
    size_t m = orphan_count(tree, path, depth);
    size_t need = reinsert_need(tree, m) + insert_need(tree) + m;
    if (!pool_reserve(tree, need))
        return LG_ERR_NOMEM;
    delete_at(tree, path, idx, depth);
    rt_ref r = {.id = id};
    insert_at(tree, new_box, r, 0);
    tree->count++;
    pool_trim(tree, RT_KEEP);
    return LG_OK;
}

/* ------------------------------------------------------------ search */

/* Bit i set when entry i of n intersects the closed box q. */
static uint32_t hit_mask(const rt_node *n, const double q[4])
{
    const int c = n->count < RT_MAX ? n->count : RT_MAX; /* tells the compiler the bound */
    uint32_t m = 0;
    int i = 0;
#if defined(__SSE2__)
    const __m128d q0 = _mm_set1_pd(q[0]), q1 = _mm_set1_pd(q[1]);
    const __m128d q2 = _mm_set1_pd(q[2]), q3 = _mm_set1_pd(q[3]);
    for (; i + 2 <= c; i += 2) {
        __m128d a = _mm_and_pd(_mm_cmple_pd(_mm_loadu_pd(n->minx + i), q2),
                               _mm_cmpge_pd(_mm_loadu_pd(n->maxx + i), q0));
        __m128d b = _mm_and_pd(_mm_cmple_pd(_mm_loadu_pd(n->miny + i), q3),
                               _mm_cmpge_pd(_mm_loadu_pd(n->maxy + i), q1));
        m |= (uint32_t)_mm_movemask_pd(_mm_and_pd(a, b)) << i;
    }
#endif
    for (; i < c && i < RT_MAX; i++)
        m |= (uint32_t)((n->minx[i] <= q[2]) & (n->maxx[i] >= q[0]) & (n->miny[i] <= q[3]) &
                        (n->maxy[i] >= q[1]))
             << i;
    return m;
}

static int lowest_bit(uint32_t m)
{
#if defined(__GNUC__)
    return __builtin_ctz(m);
#else
    int i = 0;
    while (!(m & 1u)) {
        m >>= 1;
        i++;
    }
    return i;
#endif
}

static bool search_rec(const rt_node *n, const double q[4], lg_rtree_iter iter, void *udata)
{
    for (uint32_t m = hit_mask(n, q); m; m &= m - 1) {
        int i = lowest_bit(m);
        if (n->level == 0) {
            double b[4];
            entry_box(n, i, b);
            if (!iter(n->u.id[i], b, udata))
                return false;
        } else if (!search_rec(n->u.child[i], q, iter, udata)) {
            return false;
        }
    }
    return true;
}

void lg_rtree_search(const lg_rtree *tree, const double box[4], lg_rtree_iter iter, void *udata)
{
    if (!tree || !tree->root || !box || !iter)
        return;
    search_rec(tree->root, box, iter, udata);
}

void lg_rtree_search_point(const lg_rtree *tree, double x, double y, lg_rtree_iter iter,
                           void *udata)
{
    if (!tree || !tree->root || !iter)
        return;
    const double q[4] = {x, y, x, y};
    search_rec(tree->root, q, iter, udata);
}

/* ----------------------------------------------------------- nearest */

/*
 * Best-first search. The queue holds nodes, and items too when an exact distance
 * callback is given, keyed by the squared distance s from the query to their box.
 * Accepted items go into a max-heap of the best k so far, ordered by (distance, id),
 * where distance is sqrt(s) or the callback's value. A queue entry is expanded while
 * its key can still reach the k-th best (or max_dist): "thresh" bounds the squared
 * distances that can, with slack so rounding never prunes too much. Ties at the k-th
 * distance are explored too, so the smallest ids win deterministically.
 */

typedef struct rt_qent {
    double s;
    const rt_node *n; /* NULL: an item awaiting its exact distance */
    int64_t id;
} rt_qent;

typedef struct rt_cand {
    double d;
    int64_t id;
} rt_cand;

typedef struct rt_queue {
    rt_qent *e;
    size_t n, cap;
    bool heap_mem; /* e was allocated */
    const lg_allocator *alloc;
} rt_queue;

static bool q_before(const rt_qent *a, const rt_qent *b)
{
    return a->s < b->s;
}

static bool q_push(rt_queue *q, double s, const rt_node *n, int64_t id)
{
    if (q->n == q->cap) {
        size_t ncap = q->cap * 2;
        rt_qent *ne;
        if (ncap > SIZE_MAX / sizeof *ne)
            return false;
        if (q->heap_mem) {
            ne = lg__realloc(q->alloc, q->e, ncap * sizeof *ne);
        } else {
            ne = lg__malloc(q->alloc, ncap * sizeof *ne);
            if (ne)
                memcpy(ne, q->e, q->n * sizeof *ne);
        }
        if (!ne)
            return false;
        q->e = ne;
        q->cap = ncap;
        q->heap_mem = true;
    }
    rt_qent v = {s, n, id};
    size_t i = q->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!q_before(&v, &q->e[p]))
            break;
        q->e[i] = q->e[p];
        i = p;
    }
    q->e[i] = v;
    return true;
}

static rt_qent q_pop(rt_queue *q)
{
    rt_qent top = q->e[0];
    rt_qent v = q->e[--q->n];
    size_t i = 0, n = q->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && q_before(&q->e[c + 1], &q->e[c]))
            c++;
        if (!q_before(&q->e[c], &v))
            break;
        q->e[i] = q->e[c];
        i = c;
    }
    if (n)
        q->e[i] = v;
    return top;
}

/* (a.d, a.id) > (b.d, b.id) */
static bool cand_after(const rt_cand *a, const rt_cand *b)
{
    return a->d > b->d || (a->d == b->d && a->id > b->id);
}

typedef struct rt_knn {
    rt_cand *c; /* max-heap of the best so far */
    size_t n, k;
    double maxd;    /* INFINITY: no limit */
    double thresh;  /* squared distances above this cannot enter */
    double max_thr; /* squared distances above this exceed maxd */
    lg_rtree_filter filter;
    void *udata;
} rt_knn;

static double sq_slack(double d)
{
    /* Every s with sqrt(s) <= d satisfies s <= d*d*(1+1e-14) + a few denormals. */
    return d * d * (1.0 + 1e-14) + 8 * DBL_TRUE_MIN;
}

/* Could an item at distance d with this id still enter the result? */
static bool knn_wants(const rt_knn *r, double d, int64_t id)
{
    if (!(d <= r->maxd))
        return false;
    if (r->n < r->k)
        return true;
    rt_cand v = {d, id};
    return cand_after(&r->c[0], &v);
}

static void knn_add(rt_knn *r, double d, int64_t id)
{
    rt_cand v = {d, id};
    size_t i;
    if (r->n < r->k) {
        i = r->n++;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!cand_after(&v, &r->c[p]))
                break;
            r->c[i] = r->c[p];
            i = p;
        }
        r->c[i] = v;
    } else {
        i = 0;
        size_t n = r->n;
        for (;;) {
            size_t c = 2 * i + 1;
            if (c >= n)
                break;
            if (c + 1 < n && cand_after(&r->c[c + 1], &r->c[c]))
                c++;
            if (!cand_after(&r->c[c], &v))
                break;
            r->c[i] = r->c[c];
            i = c;
        }
        r->c[i] = v;
    }
    if (r->n == r->k) {
        double t = sq_slack(r->c[0].d);
        r->thresh = t < r->max_thr ? t : r->max_thr;
    }
}

/*
 * Squared distances from (x, y) to every entry box of n: max(min - q, q - max, 0) per
 * axis. The SSE2 path computes exactly the same values two entries at a time.
 */
static void node_dist2(const rt_node *n, double x, double y, double *s)
{
    const int c = n->count;
    int i = 0;
#if defined(__SSE2__)
    const __m128d vx = _mm_set1_pd(x), vy = _mm_set1_pd(y), z = _mm_setzero_pd();
    for (; i + 2 <= c; i += 2) {
        __m128d ax = _mm_sub_pd(_mm_loadu_pd(n->minx + i), vx);
        __m128d bx = _mm_sub_pd(vx, _mm_loadu_pd(n->maxx + i));
        __m128d ay = _mm_sub_pd(_mm_loadu_pd(n->miny + i), vy);
        __m128d by = _mm_sub_pd(vy, _mm_loadu_pd(n->maxy + i));
        __m128d dx = _mm_max_pd(_mm_max_pd(ax, bx), z);
        __m128d dy = _mm_max_pd(_mm_max_pd(ay, by), z);
        _mm_storeu_pd(s + i, _mm_add_pd(_mm_mul_pd(dx, dx), _mm_mul_pd(dy, dy)));
    }
#endif
    for (; i < c; i++) {
        double ax = n->minx[i] - x, bx = x - n->maxx[i];
        double ay = n->miny[i] - y, by = y - n->maxy[i];
        double dx = ax > bx ? ax : bx, dy = ay > by ? ay : by;
        dx = dx > 0 ? dx : 0;
        dy = dy > 0 ? dy : 0;
        s[i] = dx * dx + dy * dy;
    }
}

/* Offer every item of leaf n whose distance can still enter the result. */
static void knn_leaf(rt_knn *r, const rt_node *n, const double *s)
{
    for (int i = 0; i < n->count; i++) {
        if (s[i] > r->thresh)
            continue;
        double d = sqrt(s[i]);
        int64_t id = n->u.id[i];
        if (!knn_wants(r, d, id))
            continue;
        if (r->filter && !r->filter(id, r->udata))
            continue;
        knn_add(r, d, id);
    }
}

lg_error lg_rtree_nearest(const lg_rtree *tree, double x, double y, const lg_nearest_options *opt,
                          int64_t *ids, double *dist, size_t *n_found)
{
    if (n_found)
        *n_found = 0;
    if (!tree || !ids || !n_found || !isfinite(x) || !isfinite(y))
        return LG_ERR_ARG;
    lg_nearest_options o = {0};
    if (opt)
        o = *opt;
    size_t k = o.k ? o.k : 1;
    if (!tree->root || tree->count == 0)
        return LG_OK;
    if (k > tree->count)
        k = tree->count; /* the candidate heap never holds more */

    rt_qent qbuf[RT_QSTACK];
    rt_cand cbuf[RT_KSTACK];
    rt_queue q = {qbuf, 0, RT_QSTACK, false, &tree->alloc};
    rt_knn r = {0};
    r.k = k;
    r.c = cbuf;
    if (k > RT_KSTACK) {
        r.c = lg__calloc(&tree->alloc, k, sizeof *r.c);
        if (!r.c)
            return LG_ERR_NOMEM;
    }
    r.maxd = (o.max_dist > 0) ? o.max_dist : INFINITY; /* NaN and <= 0: no limit */
    r.max_thr = isinf(r.maxd) ? INFINITY : sq_slack(r.maxd);
    r.thresh = r.max_thr;
    r.filter = o.filter;
    r.udata = o.udata;
    lg_error err = LG_OK;

    double s[RT_MAX];
    if (!o.distance) {
        /*
         * Descend to the leaf reached by always taking the nearest child and scan it
         * first: its items usually bound the k-th distance, so few nodes get queued.
         * The nodes on the way are thereby expanded: queue their other children.
         */
        double ps[RT_MAXH][RT_MAX];
        const rt_node *pn[RT_MAXH];
        int pc[RT_MAXH], depth = 0;
        const rt_node *n = tree->root;
        while (n->level > 0) {
            node_dist2(n, x, y, ps[depth]);
            int best = 0;
            for (int i = 1; i < n->count; i++)
                best = ps[depth][i] < ps[depth][best] ? i : best;
            pn[depth] = n;
            pc[depth++] = best;
            n = n->u.child[best];
        }
        node_dist2(n, x, y, s);
        knn_leaf(&r, n, s);
        for (int d = 0; d < depth; d++) {
            for (int i = 0; i < pn[d]->count; i++) {
                if (i != pc[d] && ps[d][i] <= r.thresh &&
                    !q_push(&q, ps[d][i], pn[d]->u.child[i], 0)) {
                    err = LG_ERR_NOMEM;
                    goto done;
                }
            }
        }
    } else {
        q_push(&q, 0, tree->root, 0); /* fits in the stack buffer */
    }
    while (q.n) {
        rt_qent e = q_pop(&q);
        if (e.s > r.thresh)
            break; /* everything left is at least as far */
        if (!e.n) {
            /* An item whose box distance can still enter: filter, then exact distance. */
            if (!knn_wants(&r, sqrt(e.s), e.id))
                continue;
            if (r.filter && !r.filter(e.id, r.udata))
                continue;
            double d = o.distance(e.id, x, y, o.udata);
            if (knn_wants(&r, d, e.id))
                knn_add(&r, d, e.id);
            continue;
        }
        const rt_node *n = e.n;
        node_dist2(n, x, y, s);
        if (n->level == 0 && !o.distance) {
            knn_leaf(&r, n, s);
            continue;
        }
        for (int i = 0; i < n->count; i++) {
            if (s[i] <= r.thresh &&
                !q_push(&q, s[i], n->level ? n->u.child[i] : NULL, n->level ? 0 : n->u.id[i])) {
                err = LG_ERR_NOMEM;
                goto done;
            }
        }
    }
    /* Heap-sort the candidates into ascending (distance, id). */
    size_t found = r.n;
    while (r.n) {
        rt_cand top = r.c[0];
        rt_cand last = r.c[r.n - 1];
        r.n--;
        ids[r.n] = top.id;
        if (dist)
            dist[r.n] = top.d;
        if (r.n) {
            size_t i = 0, n = r.n;
            for (;;) {
                size_t c = 2 * i + 1;
                if (c >= n)
                    break;
                if (c + 1 < n && cand_after(&r.c[c + 1], &r.c[c]))
                    c++;
                if (!cand_after(&r.c[c], &last))
                    break;
                r.c[i] = r.c[c];
                i = c;
            }
            r.c[i] = last;
        }
    }
    *n_found = found;
done:
    if (q.heap_mem)
        lg__free(&tree->alloc, q.e);
    if (r.c != cbuf)
        lg__free(&tree->alloc, r.c);
    return err;
}

/* ----------------------------------------------------------- checker */

/*
 * Invariants: levels decrease by one per step and leaves are level 0 (so all leaves
 * are at one depth); counts in [RT_MIN, RT_MAX] except the root (1.., and >= 2 when
 * internal); every entry box valid; every node box is exactly the union of its
 * entries; the entry count matches. Returns 0 when all hold, else a code naming the
 * first violation.
 */
static int check_rec(const rt_node *n, int level, bool root, const double *expect, size_t *count)
{
    if (n->level != level)
        return 1;
    if (n->count < 1 || n->count > RT_MAX)
        return 2;
    if (!root && n->count < RT_MIN)
        return 3;
    if (root && level > 0 && n->count < 2)
        return 4;
    for (int i = 0; i < n->count; i++) {
        double b[4];
        entry_box(n, i, b);
        if (!box_ok(b))
            return 5;
    }
    if (expect) {
        double b[4];
        node_bbox(n, b);
        if (!box_eq(b, expect))
            return 6;
    }
    if (level == 0) {
        *count += (size_t)n->count;
        return 0;
    }
    for (int i = 0; i < n->count; i++) {
        double b[4];
        entry_box(n, i, b);
        if (!n->u.child[i])
            return 7;
        int rc = check_rec(n->u.child[i], level - 1, false, b, count);
        if (rc)
            return rc;
    }
    return 0;
}

int lg__rtree_check(const lg_rtree *tree)
{
    if (!tree)
        return 100;
    if (!tree->root)
        return tree->count == 0 ? 0 : 101;
    if (tree->root->level < 0 || tree->root->level >= RT_MAXH - 1)
        return 102;
    size_t count = 0;
    int rc = check_rec(tree->root, tree->root->level, true, NULL, &count);
    if (rc)
        return rc;
    return count == tree->count ? 0 : 103;
}
