/*
 * Station siting (docs/COVERAGE.md): maximal covering (MCLP: greedy with lazy
 * evaluation, then swaps) and set covering (LSCP), over the cells' demand points in the
 * layer's metric frame.
 */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static lg_error nomem(lg_context *ctx, const char *fn)
{
    return lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", fn);
}

/* ------------------------------------------------------------------ siting */

typedef struct site_work {
    lg_context *ctx;
    const lg_allocator *a;
    size_t n; /* cells */
    double *px, *py, *area;
    double *w;   /* weight per cell; 0 for empty cells */
    uint8_t *ok; /* cell has a demand point */
    uint8_t *ex; /* covered by an existing facility */
    size_t nc;   /* candidates: unique rows, ascending */
    int64_t *cand;
    size_t *off; /* nc + 1: CSR of the cells each candidate covers */
    uint32_t *idx;
    size_t nidx, capidx;
    int32_t *cnt;   /* cover count; an existing cover counts 1 */
    double *single; /* gain of each candidate alone (over the existing cover) */
    double total, existing, coverable;
    size_t uncoverable;
    double *ex_own; /* existing facilities in frame metres, when a copy was needed */
} site_work;

static void site_free(site_work *s)
{
    const lg_allocator *a = s->a;
    lg__free(a, s->px);
    lg__free(a, s->py);
    lg__free(a, s->area);
    lg__free(a, s->w);
    lg__free(a, s->ok);
    lg__free(a, s->ex);
    lg__free(a, s->cand);
    lg__free(a, s->off);
    lg__free(a, s->idx);
    lg__free(a, s->cnt);
    lg__free(a, s->single);
    lg__free(a, s->ex_own);
}

typedef struct cover_ctx {
    site_work *s;
    double x, y, r;
    bool oom;
} cover_ctx;

static bool cover_iter(int64_t id, const double box[4], void *udata)
{
    (void)box;
    cover_ctx *c = udata;
    site_work *s = c->s;
    if (lg__dist2d(c->x, c->y, s->px[id], s->py[id]) > c->r)
        return true;
    if (s->nidx == s->capidx &&
        lg__grow(s->a, (void **)&s->idx, &s->capidx, s->nidx + 1, sizeof *s->idx)) {
        c->oom = true;
        return false;
    }
    s->idx[s->nidx++] = (uint32_t)id;
    return true;
}

static double gain_of(const site_work *s, size_t c, bool by_count)
{
    double g = 0;
    for (size_t k = s->off[c]; k < s->off[c + 1]; k++) {
        uint32_t i = s->idx[k];
        if (s->cnt[i] == 0)
            g += by_count ? 1.0 : s->w[i];
    }
    return g;
}

static void add_site(site_work *s, size_t c, int32_t delta)
{
    for (size_t k = s->off[c]; k < s->off[c + 1]; k++)
        s->cnt[s->idx[k]] += delta;
}

static lg_error site_setup(lg_context *ctx, const char *fn, const lg_layer *l,
                           const lg_siting_options *o, site_work *s)
{
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    s->a = &ctx->alloc;
    size_t n = s->n = l->ncells;
    double r;
    lg_error e = lg__reach_radius(ctx, fn, &o->threshold, &r);
    if (e || (e = lg__check_weights(ctx, fn, o->weight, n)) ||
        (e = lg__check_points(ctx, fn, "existing facility", o->existing_x, o->existing_y,
                              o->n_existing)))
        return e;
    /* the radius is metres: cells, demand points and facilities in the metric frame */
    const lg__metric *mf = NULL;
    const double *exx = NULL, *exy = NULL;
    if ((e = lg__metric_layer(ctx, l, fn, &l, &mf)) ||
        (e = lg__metric_points(ctx, mf, o->existing_x, o->existing_y, o->n_existing, &exx, &exy,
                               &s->ex_own)) ||
        (e = lg__demand_points(ctx, fn, l, mf, o->x, o->y, &s->px, &s->py, &s->area)))
        return e;
    if (o->candidates == NULL && o->n_candidates)
        return lg__fail(ctx, LG_ERR_ARG, "%s: n_candidates %zu without candidates", fn,
                        o->n_candidates);
    s->w = lg__malloc(s->a, (n + 1) * sizeof *s->w);
    s->ok = lg__calloc(s->a, n + 1, 1);
    s->ex = lg__calloc(s->a, n + 1, 1);
    s->cnt = lg__calloc(s->a, n + 1, sizeof *s->cnt);
    size_t ncand = o->candidates ? o->n_candidates : n;
    s->cand = lg__malloc(s->a, (ncand + 1) * sizeof *s->cand);
    int64_t *valid = lg__malloc(s->a, (n + 1) * sizeof *valid);
    if (!s->w || !s->ok || !s->ex || !s->cnt || !s->cand || !valid) {
        lg__free(s->a, valid);
        return nomem(ctx, fn);
    }
    size_t nv = 0;
    for (size_t i = 0; i < n; i++) {
        s->ok[i] = isfinite(s->px[i]) && isfinite(s->py[i]);
        s->w[i] = s->ok[i] ? (o->weight ? o->weight[i] : 1.0) : 0.0;
        s->total += s->w[i];
        if (s->ok[i])
            valid[nv++] = (int64_t)i;
    }
    /* candidates: checked, sorted, unique */
    size_t m = 0;
    for (size_t k = 0; k < ncand; k++) {
        int64_t c = o->candidates ? o->candidates[k] : (int64_t)k;
        if (o->candidates && (c < 0 || (uint64_t)c >= n)) {
            lg__free(s->a, valid);
            return lg__fail(ctx, LG_ERR_ARG, "%s: candidate %zu: cell row %lld is outside 0..%zu",
                            fn, k, (long long)c, n ? n - 1 : 0);
        }
        if (!s->ok[c]) {
            if (o->candidates) {
                lg__free(s->a, valid);
                return lg__fail(ctx, LG_ERR_ARG,
                                "%s: candidate %zu: cell %lld is empty (no demand point)", fn, k,
                                (long long)c);
            }
            continue;
        }
        s->cand[m++] = c;
    }
    qsort(s->cand, m, sizeof *s->cand, lg__cmp_i64);
    size_t u = 0;
    for (size_t k = 0; k < m; k++)
        if (!u || s->cand[u - 1] != s->cand[k])
            s->cand[u++] = s->cand[k];
    s->nc = u;
    /* existing cover */
    lg_rtree *et = NULL, *dt = NULL;
    if ((e = lg__point_tree(ctx, fn, exx, exy, o->n_existing, &et))) {
        lg__free(s->a, valid);
        return e;
    }
    lg__count_ctx cc = {.fx = exx, .fy = exy, .r = r};
    for (size_t i = 0; o->n_existing && i < n; i++) {
        if (!s->ok[i])
            continue;
        cc.px = s->px[i];
        cc.py = s->py[i];
        cc.count = 0;
        cc.best = LG_NONE;
        cc.bestd = INFINITY;
        double box[4] = {cc.px - r, cc.py - r, cc.px + r, cc.py + r};
        lg_rtree_search(et, box, lg__count_iter, &cc);
        if (cc.count) {
            s->ex[i] = 1;
            s->cnt[i] = 1;
            s->existing += s->w[i];
        }
    }
    lg_rtree_free(et);
    /* cover lists */
    e = lg__point_tree_ids(ctx, fn, s->px, s->py, valid, nv, &dt);
    lg__free(s->a, valid);
    if (e)
        return e;
    s->off = lg__malloc(s->a, (s->nc + 1) * sizeof *s->off);
    s->single = lg__malloc(s->a, (s->nc + 1) * sizeof *s->single);
    if (!s->off || !s->single) {
        lg_rtree_free(dt);
        return nomem(ctx, fn);
    }
    cover_ctx cv = {.s = s, .r = r};
    s->off[0] = 0;
    for (size_t c = 0; c < s->nc; c++) {
        cv.x = s->px[s->cand[c]];
        cv.y = s->py[s->cand[c]];
        double box[4] = {cv.x - r, cv.y - r, cv.x + r, cv.y + r};
        if (nv)
            lg_rtree_search(dt, box, cover_iter, &cv);
        if (cv.oom) {
            lg_rtree_free(dt);
            return nomem(ctx, fn);
        }
        /* the tree's order is deterministic; sorting makes the lists canonical */
        uint32_t *lst = s->idx + s->off[c];
        size_t len = s->nidx - s->off[c];
        for (size_t a = 1; a < len; a++) { /* insertion sort: lists are short and nearly sorted */
            uint32_t v = lst[a];
            size_t b = a;
            for (; b > 0 && lst[b - 1] > v; b--)
                lst[b] = lst[b - 1];
            lst[b] = v;
        }
        s->off[c + 1] = s->nidx;
    }
    lg_rtree_free(dt);
    /* coverable weight and uncoverable cells */
    uint8_t *any = lg__calloc(s->a, n + 1, 1);
    if (!any)
        return nomem(ctx, fn);
    for (size_t k = 0; k < s->nidx; k++)
        any[s->idx[k]] = 1;
    for (size_t i = 0; i < n; i++) {
        if (!s->ok[i])
            continue;
        if (s->ex[i] || any[i])
            s->coverable += s->w[i];
        else
            s->uncoverable++;
    }
    lg__free(s->a, any);
    return LG_OK;
}

/* Lazy-greedy max-heap entry: larger gain first, then the lower candidate. */
typedef struct heap_ent {
    double g;
    uint32_t c;
    uint32_t stamp;
} heap_ent;

static inline bool heap_before(const heap_ent *a, const heap_ent *b)
{
    return a->g > b->g || (a->g == b->g && a->c < b->c);
}

static void heap_down(heap_ent *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && heap_before(&h[l], &h[m]))
            m = l;
        if (r < n && heap_before(&h[r], &h[m]))
            m = r;
        if (m == i)
            return;
        heap_ent t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/*
 * Greedy with lazy evaluation over the candidates list[0..nl) (candidate indices),
 * from the current cover counts: picks up to p, each the one of largest marginal gain
 * (ties: lower candidate). Stale heap values are upper bounds of the current gains
 * (submodularity), so a top entry evaluated in this round is the true maximum.
 * stop_at_zero: stop when the best gain is 0. Returns how many were picked.
 */
static lg_error greedy(site_work *s, const uint32_t *list, size_t nl, size_t p, bool by_count,
                       bool stop_at_zero, uint32_t *sel, double *gains, size_t *nsel)
{
    *nsel = 0;
    heap_ent *h = lg__malloc(s->a, (nl + 1) * sizeof *h);
    if (!h)
        return nomem(s->ctx, "siting");
    for (size_t k = 0; k < nl; k++)
        h[k] = (heap_ent){gain_of(s, list[k], by_count), list[k], 0};
    size_t hn = nl;
    for (size_t k = hn / 2; k-- > 0;)
        heap_down(h, hn, k);
    uint32_t round = 0;
    while (*nsel < p && hn) {
        if (h[0].stamp == round) {
            if (stop_at_zero && h[0].g <= 0)
                break;
            uint32_t c = h[0].c;
            sel[*nsel] = c;
            if (gains)
                gains[*nsel] = by_count ? gain_of(s, c, false) : h[0].g;
            (*nsel)++;
            add_site(s, c, 1);
            h[0] = h[--hn];
            heap_down(h, hn, 0);
            round++;
        } else {
            h[0].g = gain_of(s, h[0].c, by_count);
            h[0].stamp = round;
            heap_down(h, hn, 0);
        }
    }
    lg__free(s->a, h);
    return LG_OK;
}

static int cmp_desc(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a < b) - (a > b);
}

/* Sum of the p largest of v[0..n) (v is reordered). */
static double top_sum(double *v, size_t n, size_t p)
{
    qsort(v, n, sizeof *v, cmp_desc);
    double t = 0;
    for (size_t k = 0; k < n && k < p; k++)
        t += v[k];
    return t;
}

static double covered_weight(const site_work *s)
{
    double t = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->cnt[i] > 0)
            t += s->w[i];
    return t;
}

/* Reset the counts to the existing cover. */
static void reset_counts(site_work *s)
{
    for (size_t i = 0; i < s->n; i++)
        s->cnt[i] = s->ex[i] ? 1 : 0;
}

/* Output: the chosen set sel[0..m) ordered greedily by weight, rows and gains. */
static lg_error emit_sites(site_work *s, const uint32_t *sel, size_t m, int64_t *sites,
                           double *gain, size_t cap)
{
    uint32_t *ord = lg__malloc(s->a, (m + 1) * sizeof *ord);
    double *g = lg__malloc(s->a, (m + 1) * sizeof *g);
    lg_error e = (!ord || !g) ? nomem(s->ctx, "siting") : LG_OK;
    size_t k = 0;
    if (!e) {
        reset_counts(s);
        e = greedy(s, sel, m, m, false, false, ord, g, &k);
    }
    for (size_t j = 0; !e && j < k && j < cap; j++) {
        if (sites)
            sites[j] = s->cand[ord[j]];
        if (gain)
            gain[j] = g[j];
    }
    lg__free(s->a, ord);
    lg__free(s->a, g);
    return e;
}

static void sum_base(const site_work *s, lg_siting_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    sum->total_weight = s->total;
    sum->existing_weight = s->existing;
    sum->coverable_weight = s->coverable;
    sum->uncoverable_cells = s->uncoverable;
    sum->upper_bound = NAN;
    sum->greedy_weight = NAN;
}

lg_error lg_siting_mclp(lg_context *ctx, const lg_layer *layer, size_t p,
                        const lg_siting_options *opt, int64_t *sites, double *gain, size_t cap,
                        lg_siting_summary *sum)
{
    static const char fn[] = "lg_siting_mclp";
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!layer || !sum || (p && !sites))
        return lg__fail(ctx, LG_ERR_ARG, "%s: layer, sites and sum are required", fn);
    if (cap < p)
        return lg__fail(ctx, LG_ERR_CAPACITY, "%s: room for %zu sites, %zu asked", fn, cap, p);
    lg_siting_options o = {0};
    if (opt)
        o = *opt;
    site_work s;
    lg_error e = site_setup(ctx, fn, layer, &o, &s);
    if (e) {
        site_free(&s);
        return e;
    }
    sum_base(&s, sum);
    size_t nc = s.nc, m = 0;
    if (p > nc)
        p = nc;
    uint32_t *all = lg__malloc(s.a, (nc + 1) * sizeof *all);
    uint32_t *sel = lg__malloc(s.a, (p + 1) * sizeof *sel);
    uint32_t *order = lg__malloc(s.a, (nc + 1) * sizeof *order);
    uint8_t *in = lg__calloc(s.a, nc + 1, 1);
    double *tmp = lg__malloc(s.a, (nc + 1) * sizeof *tmp);
    if (!all || !sel || !order || !in || !tmp) {
        e = nomem(ctx, fn);
        goto done;
    }
    for (size_t c = 0; c < nc; c++) {
        all[c] = (uint32_t)c;
        s.single[c] = tmp[c] = gain_of(&s, c, false);
    }
    double ub = s.coverable;
    double b0 = s.existing + top_sum(tmp, nc, p);
    if (b0 < ub)
        ub = b0;
    if ((e = greedy(&s, all, nc, p, false, false, sel, NULL, &m)))
        goto done;
    double gw = covered_weight(&s);
    sum->greedy_weight = gw;
    if (p) {
        double ratio = 1.0 - pow(1.0 - 1.0 / (double)p, (double)p);
        double b1 = s.existing + (gw - s.existing) / ratio;
        if (b1 < ub)
            ub = b1;
    }
    /* swap local search: candidates by decreasing single gain, which bounds any gain */
    {
        heap_ent *hh = lg__malloc(s.a, (nc + 1) * sizeof *hh);
        if (!hh) {
            e = nomem(ctx, fn);
            goto done;
        }
        for (size_t c = 0; c < nc; c++)
            hh[c] = (heap_ent){s.single[c], (uint32_t)c, 0};
        size_t hn = nc;
        for (size_t k = hn / 2; k-- > 0;)
            heap_down(hh, hn, k);
        for (size_t k = 0; k < nc; k++) {
            order[k] = hh[0].c;
            hh[0] = hh[--hn];
            heap_down(hh, hn, 0);
        }
        lg__free(s.a, hh);
    }
    for (size_t k = 0; k < m; k++)
        in[sel[k]] = 1;
    double eps = 1e-12 * (s.total > 1 ? s.total : 1);
    unsigned passes = o.max_swap_passes ? o.max_swap_passes : 20;
    for (unsigned pass = 0; pass < passes; pass++) {
        bool improved = false;
        for (size_t k = 0; k < m; k++) {
            uint32_t cur = sel[k];
            add_site(&s, cur, -1);
            double loss = gain_of(&s, cur, false);
            uint32_t best = cur;
            double bestg = loss;
            for (size_t j = 0; j < nc; j++) {
                uint32_t c = order[j];
                if (s.single[c] <= bestg + eps)
                    break;
                if (in[c])
                    continue;
                double g = gain_of(&s, c, false);
                if (g > bestg + eps) {
                    best = c;
                    bestg = g;
                }
            }
            if (best != cur) {
                in[cur] = 0;
                in[best] = 1;
                sel[k] = best;
                sum->swaps++;
                improved = true;
            }
            add_site(&s, sel[k], 1);
        }
        if (!improved)
            break;
    }
    double fw = covered_weight(&s);
    for (size_t c = 0; c < nc; c++)
        tmp[c] = in[c] ? 0 : gain_of(&s, c, false);
    double b2 = fw + top_sum(tmp, nc, p);
    if (b2 < ub)
        ub = b2;
    sum->covered_weight = fw;
    sum->upper_bound = ub < fw ? fw : ub;
    sum->n_sites = m;
    e = emit_sites(&s, sel, m, sites, gain, cap);
done:
    lg__free(s.a, all);
    lg__free(s.a, sel);
    lg__free(s.a, order);
    lg__free(s.a, in);
    lg__free(s.a, tmp);
    site_free(&s);
    return e;
}

lg_error lg_siting_lscp(lg_context *ctx, const lg_layer *layer, const lg_siting_options *opt,
                        int64_t *sites, double *gain, size_t cap, lg_siting_summary *sum)
{
    static const char fn[] = "lg_siting_lscp";
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!layer || !sum || (cap && !sites))
        return lg__fail(ctx, LG_ERR_ARG, "%s: layer, sites and sum are required", fn);
    lg_siting_options o = {0};
    if (opt)
        o = *opt;
    site_work s;
    lg_error e = site_setup(ctx, fn, layer, &o, &s);
    if (e) {
        site_free(&s);
        return e;
    }
    sum_base(&s, sum);
    size_t nc = s.nc, n = s.n, m = 0;
    uint32_t *all = lg__malloc(s.a, (nc + 1) * sizeof *all);
    uint32_t *sel = lg__malloc(s.a, (nc + 1) * sizeof *sel);
    size_t *toff = lg__calloc(s.a, n + 2, sizeof *toff);
    uint32_t *tidx = lg__malloc(s.a, (s.nidx + 1) * sizeof *tidx);
    uint32_t *targ = lg__malloc(s.a, (n + 1) * sizeof *targ);
    uint8_t *used = lg__calloc(s.a, nc + 1, 1);
    if (!all || !sel || !toff || !tidx || !targ || !used) {
        e = nomem(ctx, fn);
        goto done;
    }
    double maxset = 0;
    for (size_t c = 0; c < nc; c++) {
        all[c] = (uint32_t)c;
        double g = gain_of(&s, c, true);
        if (g > maxset)
            maxset = g;
    }
    if ((e = greedy(&s, all, nc, nc, true, true, sel, NULL, &m)))
        goto done;
    sum->greedy_sites = m;
    /* drop redundant sites, last chosen first */
    size_t kept = m;
    for (size_t k = m; k-- > 0;) {
        uint32_t c = sel[k];
        bool redundant = true;
        for (size_t j = s.off[c]; j < s.off[c + 1] && redundant; j++)
            redundant = s.cnt[s.idx[j]] >= 2;
        if (redundant) {
            add_site(&s, c, -1);
            memmove(sel + k, sel + k + 1, (kept - k - 1) * sizeof *sel);
            kept--;
        }
    }
    m = kept;
    sum->covered_weight = covered_weight(&s);
    /* lower bound 1: cells no two of which one site covers (greedy packing, the most
     * constrained cells first) */
    for (size_t k = 0; k < s.nidx; k++)
        toff[s.idx[k] + 2]++;
    for (size_t i = 0; i < n; i++)
        toff[i + 2] += toff[i + 1];
    for (size_t c = 0; c < nc; c++)
        for (size_t k = s.off[c]; k < s.off[c + 1]; k++)
            tidx[toff[s.idx[k] + 1]++] = (uint32_t)c;
    size_t nt = 0;
    for (size_t i = 0; i < n; i++)
        if (s.ok[i] && !s.ex[i] && toff[i + 1] > toff[i])
            targ[nt++] = (uint32_t)i;
    /* counting sort of the targets by their number of candidates (stable: row order) */
    {
        size_t maxk = 0;
        for (size_t t = 0; t < nt; t++) {
            size_t d = toff[targ[t] + 1] - toff[targ[t]];
            if (d > maxk)
                maxk = d;
        }
        size_t *bucket = lg__calloc(s.a, maxk + 2, sizeof *bucket);
        uint32_t *sorted = lg__malloc(s.a, (nt + 1) * sizeof *sorted);
        if (!bucket || !sorted) {
            lg__free(s.a, bucket);
            lg__free(s.a, sorted);
            e = nomem(ctx, fn);
            goto done;
        }
        for (size_t t = 0; t < nt; t++)
            bucket[toff[targ[t] + 1] - toff[targ[t]] + 1]++;
        for (size_t d = 0; d <= maxk; d++)
            bucket[d + 1] += bucket[d];
        for (size_t t = 0; t < nt; t++)
            sorted[bucket[toff[targ[t] + 1] - toff[targ[t]]]++] = targ[t];
        size_t pack = 0;
        for (size_t t = 0; t < nt; t++) {
            uint32_t i = sorted[t];
            bool freec = true;
            for (size_t k = toff[i]; k < toff[i + 1] && freec; k++)
                freec = !used[tidx[k]];
            if (!freec)
                continue;
            pack++;
            for (size_t k = toff[i]; k < toff[i + 1]; k++)
                used[tidx[k]] = 1;
        }
        lg__free(s.a, bucket);
        lg__free(s.a, sorted);
        /* lower bound 2: greedy set cover is within H(largest set) of the optimum */
        double hm = 0;
        for (double k = 1; k <= maxset; k++)
            hm += 1.0 / k;
        size_t lb2 = hm > 0 ? (size_t)ceil((double)sum->greedy_sites / hm - 1e-9) : 0;
        sum->lower_bound = pack > lb2 ? pack : lb2;
    }
    sum->n_sites = m;
    if (m > cap) {
        e = lg__fail(ctx, LG_ERR_CAPACITY, "%s: %zu sites chosen, room for %zu", fn, m, cap);
        goto done;
    }
    e = emit_sites(&s, sel, m, sites, gain, cap);
done:
    lg__free(s.a, all);
    lg__free(s.a, sel);
    lg__free(s.a, toff);
    lg__free(s.a, tidx);
    lg__free(s.a, targ);
    lg__free(s.a, used);
    site_free(&s);
    return e;
}
