/*
 * Tests of stations, classification, validation and the hierarchy lookup (stations.c).
 * Oracles: hand-made lattices with known classes; GEOS (jurisdiction boundaries shared
 * with each other and with the county outline) on generated counties; the layer's own
 * station field and lg_layer_locate for the lookup; deliberately broken plans, one per
 * violation kind.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lg_context *new_ctx(void)
{
    lg_context *ctx = NULL;
    assert_int_equal(lg_context_new(NULL, &ctx), LG_OK);
    return ctx;
}

/*
 * A W x H lattice of 1000 m squares, row = j * W + i. station[row] (INT, < 0: null) or
 * names[row] (TEXT) and population[row].
 */
static lg_layer *lattice(lg_context *ctx, int W, int H, const int64_t *station,
                         const char *const *names, const int64_t *pop)
{
    lg_builder *b = NULL;
    assert_int_equal(lgb_new(ctx, "lattice", 0, &b), LG_OK);
    size_t fs, fp;
    assert_int_equal(lgb_add_field(b, "station", names ? LG_FIELD_TEXT : LG_FIELD_INT, &fs), LG_OK);
    assert_int_equal(lgb_add_field(b, "population", LG_FIELD_INT, &fp), LG_OK);
    for (int j = 0; j < H; j++)
        for (int i = 0; i < W; i++) {
            size_t r = (size_t)(j * W + i);
            double x0 = i * 1000.0, y0 = j * 1000.0, x1 = x0 + 1000, y1 = y0 + 1000;
            double xy[10] = {x0, y0, x1, y0, x1, y1, x0, y1, x0, y0};
            assert_int_equal(lgb_begin_cell(b), LG_OK);
            assert_int_equal(lgb_add_ring(b, xy, 5, false), LG_OK);
            if (names)
                assert_int_equal(lgb_set_text(b, fs, names[r], strlen(names[r])), LG_OK);
            else if (station[r] >= 0)
                assert_int_equal(lgb_set_int(b, fs, station[r]), LG_OK);
            assert_int_equal(lgb_set_int(b, fp, pop ? pop[r] : 1), LG_OK);
            assert_int_equal(lgb_end_cell(b), LG_OK);
        }
    lg_layer *l = NULL;
    assert_int_equal(lgb_finish(b, TU_METRES, NULL, &l), LG_OK);
    return l;
}

/* A layer of one rectangle. */
static lg_layer *rect(lg_context *ctx, double x0, double y0, double x1, double y1)
{
    lg_builder *b = NULL;
    assert_int_equal(lgb_new(ctx, "rect", 0, &b), LG_OK);
    double xy[10] = {x0, y0, x1, y0, x1, y1, x0, y1, x0, y0};
    assert_int_equal(lgb_begin_cell(b), LG_OK);
    assert_int_equal(lgb_add_ring(b, xy, 5, false), LG_OK);
    assert_int_equal(lgb_end_cell(b), LG_OK);
    lg_layer *l = NULL;
    assert_int_equal(lgb_finish(b, TU_METRES, NULL, &l), LG_OK);
    return l;
}

typedef struct plan {
    size_t n;
    lg_station_kind *kind;
    int64_t *central;
    double *score;
    bool feasible;
    lg_plan_problems *p;
} plan;

static plan classify(lg_context *ctx, const lg_stations *st, const lg_classify_options *o)
{
    plan p = {.n = lg_stations_count(st)};
    p.kind = calloc(p.n + 1, sizeof *p.kind);
    p.central = calloc(p.n + 1, sizeof *p.central);
    p.score = calloc(p.n + 1, sizeof *p.score);
    assert_int_equal(
        lg_stations_classify(ctx, st, o, p.kind, p.central, p.score, p.n, &p.feasible, &p.p),
        LG_OK);
    return p;
}

static void plan_free(plan *p)
{
    free(p->kind);
    free(p->central);
    free(p->score);
    lg_plan_problems_free(p->p);
}

static size_t count_kind(const plan *p, lg_station_kind k)
{
    size_t c = 0;
    for (size_t i = 0; i < p->n; i++)
        c += p->kind[i] == k;
    return c;
}

static bool has_problem(const lg_plan_problems *pr, lg_plan_problem_code code, int64_t row,
                        const char *text)
{
    for (size_t i = 0; i < lg_plan_problems_count(pr); i++) {
        lg_plan_problem_code c;
        int64_t r;
        const char *m;
        assert_int_equal(lg_plan_problems_get(pr, i, &c, &r, NULL, &m), LG_OK);
        if (c == code && (row == -2 || r == row) && (!text || strstr(m, text)))
            return true;
    }
    return false;
}

/* Structural checks of a plan against the station graph and bounds. */
static void check_plan_structure(const lg_stations *st, const plan *p, size_t minb, size_t maxb)
{
    const lg_graph *g = lg_stations_graph(st);
    size_t *nb = calloc(p->n + 1, sizeof *nb);
    for (size_t s = 0; s < p->n; s++) {
        if (p->kind[s] == LG_STATION_BASE) {
            int64_t c = p->central[s];
            assert_true(c >= 0 && (size_t)c < p->n);
            assert_int_equal(p->kind[c], LG_STATION_CENTRAL);
            assert_true(lg_graph_weight(g, s, (size_t)c) > 0);
            nb[c]++;
        } else {
            assert_int_equal(p->central[s], LG_NONE);
        }
    }
    if (p->feasible)
        for (size_t s = 0; s < p->n; s++)
            if (p->kind[s] == LG_STATION_CENTRAL) {
                assert_true(nb[s] >= minb);
                assert_true(nb[s] <= maxb);
            }
    free(nb);
}

/* Is the set m[0..k) a star in g (some member adjacent to all others)? */
static bool is_star(const lg_graph *g, const int64_t *m, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        bool ok = true;
        for (size_t j = 0; j < k && ok; j++)
            ok = j == i || lg_graph_weight(g, (size_t)m[i], (size_t)m[j]) > 0;
        if (ok)
            return true;
    }
    return false;
}

/*
 * Brute-force oracle of the balance: no move of one station to another group and no
 * swap of two stations between groups keeps every group a star of 2..3 stations and
 * lowers the sum of squared group scores.
 */
static void check_locally_balanced(const lg_stations *st, const plan *p)
{
    const lg_graph *g = lg_stations_graph(st);
    size_t n = p->n, ng = 0;
    int64_t *gid = malloc(n * sizeof *gid);
    int64_t(*mem)[3] = calloc(n, sizeof *mem);
    size_t *sz = calloc(n, sizeof *sz);
    double *w = calloc(n, sizeof *w);
    for (size_t s = 0; s < n; s++)
        gid[s] = -1;
    for (size_t s = 0; s < n; s++)
        if (p->kind[s] == LG_STATION_CENTRAL)
            gid[s] = (int64_t)ng++;
    for (size_t s = 0; s < n; s++)
        if (p->kind[s] == LG_STATION_BASE)
            gid[s] = gid[p->central[s]];
    for (size_t s = 0; s < n; s++)
        if (gid[s] >= 0) {
            assert_true(sz[gid[s]] < 3);
            mem[gid[s]][sz[gid[s]]++] = (int64_t)s;
            w[gid[s]] += p->score[s];
        }
    for (size_t a = 0; a < ng; a++)
        for (size_t b = 0; b < ng; b++) {
            if (a == b || sz[a] < 2 || sz[b] < 2)
                continue;
            for (size_t i = 0; i < sz[a]; i++) {
                int64_t v = mem[a][i];
                double sv = p->score[v];
                int64_t ra[3], rb[4];
                size_t na = 0, nb = 0;
                for (size_t j = 0; j < sz[a]; j++)
                    if (j != i)
                        ra[na++] = mem[a][j];
                for (size_t j = 0; j < sz[b]; j++)
                    rb[nb++] = mem[b][j];
                rb[nb] = v;
                double base = w[a] * w[a] + w[b] * w[b];
                if (na >= 2 && nb + 1 <= 3 && is_star(g, ra, na) && is_star(g, rb, nb + 1)) {
                    double d = (w[a] - sv) * (w[a] - sv) + (w[b] + sv) * (w[b] + sv) - base;
                    assert_true(d >= -1e-9);
                }
                for (size_t j = 0; j < sz[b]; j++) {
                    int64_t u = mem[b][j];
                    double su = p->score[u];
                    int64_t xa[3], xb[3];
                    size_t ka = 0, kb = 0;
                    for (size_t t = 0; t < sz[a]; t++)
                        xa[ka++] = t == i ? u : mem[a][t];
                    for (size_t t = 0; t < sz[b]; t++)
                        xb[kb++] = t == j ? v : mem[b][t];
                    if (is_star(g, xa, ka) && is_star(g, xb, kb)) {
                        double d = (w[a] - sv + su) * (w[a] - sv + su) +
                                   (w[b] - su + sv) * (w[b] - su + sv) - base;
                        assert_true(d >= -1e-9);
                    }
                }
            }
        }
    free(gid);
    free(mem);
    free(sz);
    free(w);
}

/* ------------------------------------------------------------- hand-made */

/* 5 x 5 stations: the 16 around the edge are border stations, the 3 x 3 core is split. */
static void test_ring_of_border(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    int64_t stn[25], pop[25];
    for (int i = 0; i < 25; i++)
        stn[i] = i, pop[i] = 10 + (i * 37) % 23;
    lg_layer *l = lattice(ctx, 5, 5, stn, NULL, pop);
    lg_stations *st = NULL;
    assert_int_equal(lg_stations_from_cells(ctx, l, "station", NULL, &st), LG_OK);
    assert_int_equal(lg_stations_count(st), 25);
    assert_int_equal(lg_graph_edge_count(lg_stations_graph(st)), 40);
    assert_int_equal(lg_stations_field_count(st), 1);
    assert_string_equal(lg_stations_field_name(st, 0), "population");
    plan p = classify(ctx, st, NULL);
    for (int j = 0; j < 5; j++)
        for (int i = 0; i < 5; i++) {
            bool edge = i == 0 || j == 0 || i == 4 || j == 4;
            assert_int_equal(p.kind[j * 5 + i] == LG_STATION_BORDER, edge);
        }
    assert_true(p.feasible);
    assert_int_equal(lg_plan_problems_count(p.p), 0);
    /* 9 core stations: as many groups as possible, 4 (three pairs and a triple) */
    assert_int_equal(count_kind(&p, LG_STATION_CENTRAL), 4);
    assert_int_equal(count_kind(&p, LG_STATION_BASE), 5);
    check_plan_structure(st, &p, 1, 2);
    /* the score is population / max population */
    double mx = 0;
    for (int i = 0; i < 25; i++)
        mx = fmax(mx, (double)pop[i]);
    for (int i = 0; i < 25; i++)
        assert_true(fabs(p.score[i] - pop[i] / mx) < 1e-12);
    /* each group's central is its highest-scoring possible centre */
    for (size_t s = 0; s < 25; s++)
        if (p.kind[s] == LG_STATION_BASE) {
            int64_t c = p.central[s];
            size_t nbases = 0;
            for (size_t t = 0; t < 25; t++)
                nbases += p.kind[t] == LG_STATION_BASE && p.central[t] == c;
            if (nbases == 1)
                assert_true(p.score[c] >= p.score[s]);
        }
    /* validating our own plan finds nothing */
    lg_plan_problems *v = NULL;
    assert_int_equal(lg_stations_validate(ctx, st, NULL, p.kind, p.central, p.n, &v), LG_OK);
    assert_int_equal(lg_plan_problems_count(v), 0);
    lg_plan_problems_free(v);
    plan_free(&p);
    lg_stations_free(st);
    lg_layer_free(l);
    lg_context_free(ctx);
}

/* A 4 x 3 lattice: two core stations; the busier one is central. */
static void test_known_central(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    int64_t stn[12], pop[12];
    for (int i = 0; i < 12; i++)
        stn[i] = i, pop[i] = 50;
    pop[5] = 10, pop[6] = 900; /* core: rows 5 and 6 */
    lg_layer *l = lattice(ctx, 4, 3, stn, NULL, pop);
    lg_stations *st = NULL;
    assert_int_equal(lg_stations_from_cells(ctx, l, "station", NULL, &st), LG_OK);
    plan p = classify(ctx, st, NULL);
    assert_true(p.feasible);
    assert_int_equal(p.kind[6], LG_STATION_CENTRAL);
    assert_int_equal(p.kind[5], LG_STATION_BASE);
    assert_int_equal(p.central[5], 6);
    assert_int_equal(count_kind(&p, LG_STATION_BORDER), 10);
    plan_free(&p);
    pop[5] = 2000;
    lg_layer *l2 = lattice(ctx, 4, 3, stn, NULL, pop);
    lg_stations *st2 = NULL;
    assert_int_equal(lg_stations_from_cells(ctx, l2, "station", NULL, &st2), LG_OK);
    p = classify(ctx, st2, NULL);
    assert_int_equal(p.kind[5], LG_STATION_CENTRAL);
    assert_int_equal(p.central[6], 5);
    plan_free(&p);
    /* min 2 bases: two core stations cannot form a group: both named */
    lg_classify_options o = {.min_bases = 2, .max_bases = 2};
    p = classify(ctx, st2, &o);
    assert_false(p.feasible);
    assert_true(has_problem(p.p, LG_PLAN_COMPONENT_SIZE, 5, "'5'"));
    assert_true(has_problem(p.p, LG_PLAN_COMPONENT_SIZE, 6, "'6'"));
    plan_free(&p);
    lg_stations_free(st);
    lg_stations_free(st2);
    lg_layer_free(l);
    lg_layer_free(l2);
    lg_context_free(ctx);
}

/* 3 x 3 with text names: the centre station is isolated among border stations. */
static void test_isolated_by_name(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    const char *names[9] = {"Ahu",    "Baiyang", "Chengnan", "Dongxi", "Zhoubai",
                            "Fuzhou", "Gaoshan", "Huangxi",  "Jinxi"};
    lg_layer *l = lattice(ctx, 3, 3, NULL, names, NULL);
    lg_stations *st = NULL;
    assert_int_equal(lg_stations_from_cells(ctx, l, "station", NULL, &st), LG_OK);
    assert_string_equal(lg_stations_name(st, 4), "Zhoubai");
    plan p = classify(ctx, st, NULL);
    assert_false(p.feasible);
    assert_true(has_problem(p.p, LG_PLAN_ISOLATED, 4, "Zhoubai"));
    assert_true(has_problem(p.p, LG_PLAN_TOO_FEW_BASES, 4, "Zhoubai"));
    assert_int_equal(count_kind(&p, LG_STATION_BORDER), 8);
    assert_int_equal(p.kind[4], LG_STATION_CENTRAL); /* the best plan, flagged */
    plan_free(&p);
    lg_stations_free(st);
    lg_layer_free(l);
    lg_context_free(ctx);
}

/* Border from a given region and neighbouring counties instead of the outline. */
static void test_region_and_neighbours(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    int64_t stn[25];
    for (int i = 0; i < 25; i++)
        stn[i] = i;
    lg_layer *l = lattice(ctx, 5, 5, stn, NULL, NULL);
    lg_stations *st = NULL;
    assert_int_equal(lg_stations_from_cells(ctx, l, "station", NULL, &st), LG_OK);
    lg_layer *region = rect(ctx, -1e5, -1e5, 1e5, 1e5); /* far away outline */
    lg_layer *west = rect(ctx, -3000, -500, 1.0, 5500); /* overlaps the west column by 1 m */
    lg_classify_options o = {.region = region, .neighbours = west};
    plan p = classify(ctx, st, &o);
    for (int j = 0; j < 5; j++)
        for (int i = 0; i < 5; i++)
            assert_int_equal(p.kind[j * 5 + i] == LG_STATION_BORDER, i == 0);
    check_plan_structure(st, &p, 1, 2);
    assert_true(p.feasible); /* 20 stations in a 4 x 5 block: pairs */
    plan_free(&p);
    /* the same plan against the default outline: the validator names every station on
     * the outline that is not a border station */
    o = (lg_classify_options){.region = region, .neighbours = west};
    p = classify(ctx, st, &o);
    lg_plan_problems *v = NULL;
    assert_int_equal(lg_stations_validate(ctx, st, NULL, p.kind, p.central, p.n, &v), LG_OK);
    assert_int_equal(lg_plan_problems_count_code(v, LG_PLAN_BOUNDARY_NOT_BORDER), 16 - 5);
    lg_plan_problems_free(v);
    plan_free(&p);
    lg_layer_free(region);
    lg_layer_free(west);
    lg_stations_free(st);
    lg_layer_free(l);
    lg_context_free(ctx);
}

/* ------------------------------------------------------ generated counties */

static GEOSGeometry *union_all(GEOSContextHandle_t h, const lg_layer *l)
{
    size_t n = lg_layer_count(l);
    GEOSGeometry **g = malloc(n * sizeof *g);
    for (size_t i = 0; i < n; i++)
        g[i] = lg__cell_to_geos(h, l, i);
    GEOSGeometry *c = GEOSGeom_createCollection_r(h, GEOS_GEOMETRYCOLLECTION, g, (unsigned)n);
    free(g);
    GEOSGeometry *u = GEOSUnaryUnion_r(h, c);
    GEOSGeom_destroy_r(h, c);
    return u;
}

static double shared_len(GEOSContextHandle_t h, const GEOSGeometry *a, const GEOSGeometry *b)
{
    GEOSGeometry *ba = GEOSBoundary_r(h, a), *bb = GEOSBoundary_r(h, b);
    GEOSGeometry *in = GEOSIntersection_r(h, ba, bb);
    double len = 0;
    GEOSLength_r(h, in, &len);
    GEOSGeom_destroy_r(h, ba);
    GEOSGeom_destroy_r(h, bb);
    GEOSGeom_destroy_r(h, in);
    return len;
}

static void check_county(size_t cells, size_t stations, uint64_t seed, bool oracle)
{
    lg_context *ctx = new_ctx();
    lg_synth_options so = {.seed = seed, .cells = cells, .stations = stations};
    lg_layer *l = NULL;
    assert_int_equal(lg_synth_county(ctx, &so, &l), LG_OK);
    double *px = malloc(stations * sizeof *px), *py = malloc(stations * sizeof *py);
    size_t np = 0;
    assert_int_equal(lg_synth_stations(ctx, &so, px, py, stations, &np), LG_OK);
    lg_stations_options opt = {.x = px, .y = py, .n_points = np};
    lg_stations *st = NULL;
    assert_int_equal(lg_stations_from_cells(ctx, l, "station", &opt, &st), LG_OK);
    assert_int_equal(lg_stations_count(st), stations);
    double x, y;
    assert_true(lg_stations_point(st, 0, &x, &y));
    assert_true(x == px[0] && y == py[0]);
    const char *wl[] = {"population", "calls"};
    double wt[] = {0.6, 0.4};
    lg_classify_options co = {.workload = wl, .weights = wt, .n_workload = 2};
    plan p = classify(ctx, st, &co);
    check_plan_structure(st, &p, 1, 2);
    size_t nb = lg_plan_problems_count(p.p);
    if (p.feasible) {
        assert_int_equal(nb, 0);
    } else {
        /* only infeasibility and its consequences */
        for (size_t i = 0; i < nb; i++) {
            lg_plan_problem_code c;
            int64_t r;
            lg_plan_problems_get(p.p, i, &c, &r, NULL, NULL);
            assert_true(c == LG_PLAN_ISOLATED || c == LG_PLAN_COMPONENT_SIZE ||
                        c == LG_PLAN_UNPLACED || c == LG_PLAN_TOO_FEW_BASES);
            if (c == LG_PLAN_ISOLATED) { /* truly no non-border neighbour */
                const int64_t *nbr;
                size_t k;
                lg_graph_neighbors(lg_stations_graph(st), (size_t)r, &nbr, NULL, &k);
                for (size_t j = 0; j < k; j++)
                    assert_int_equal(p.kind[nbr[j]], LG_STATION_BORDER);
            }
        }
    }
    /* the validator returns what the classification reported (minus infeasibility) */
    lg_plan_problems *v = NULL;
    assert_int_equal(lg_stations_validate(ctx, st, &co, p.kind, p.central, p.n, &v), LG_OK);
    size_t infeasible = lg_plan_problems_count_code(p.p, LG_PLAN_ISOLATED) +
                        lg_plan_problems_count_code(p.p, LG_PLAN_COMPONENT_SIZE) +
                        lg_plan_problems_count_code(p.p, LG_PLAN_UNPLACED);
    assert_int_equal(lg_plan_problems_count(v), nb - infeasible);
    lg_plan_problems_free(v);
    /* workload sums: oracle from the cells */
    size_t fp, fs;
    assert_int_equal(lg_layer_field_index(l, "population", &fp), LG_OK);
    assert_int_equal(lg_layer_field_index(l, "station", &fs), LG_OK);
    size_t wf = 99;
    for (size_t f = 0; f < lg_stations_field_count(st); f++)
        if (strcmp(lg_stations_field_name(st, f), "population") == 0)
            wf = f;
    assert_true(wf != 99);
    double *sum = calloc(stations, sizeof *sum);
    for (size_t c = 0; c < cells; c++) {
        int64_t s, v2;
        lg_layer_get_int(l, fs, c, &s);
        lg_layer_get_int(l, fp, c, &v2);
        sum[s] += (double)v2;
    }
    for (size_t s = 0; s < stations; s++)
        assert_true(sum[s] == lg_stations_workload(st, wf)[s]);
    free(sum);
    if (oracle && p.feasible)
        check_locally_balanced(st, &p);
    if (oracle) {
        /* GEOS: adjacency of jurisdictions and border = shares >= 100 m with the outline */
        GEOSContextHandle_t h = lg__geos(ctx);
        GEOSGeometry *county = union_all(h, l);
        const lg_layer *jur = lg_stations_jurisdictions(st);
        GEOSGeometry **j = malloc(stations * sizeof *j);
        for (size_t s = 0; s < stations; s++)
            j[s] = lg__cell_to_geos(h, jur, s);
        for (size_t s = 0; s < stations; s++) {
            double out = shared_len(h, j[s], county);
            assert_int_equal(p.kind[s] == LG_STATION_BORDER, out >= 100.0);
            for (size_t t = s + 1; t < stations; t++) {
                double sh = shared_len(h, j[s], j[t]);
                double w = lg_graph_weight(lg_stations_graph(st), s, t);
                assert_true(fabs(sh - w) <= 1e-6 * (1 + sh));
            }
        }
        for (size_t s = 0; s < stations; s++)
            GEOSGeom_destroy_r(h, j[s]);
        free(j);
        GEOSGeom_destroy_r(h, county);
    }
    plan_free(&p);
    /* deterministic */
    plan q1 = classify(ctx, st, &co), q2 = classify(ctx, st, &co);
    assert_memory_equal(q1.kind, q2.kind, stations * sizeof *q1.kind);
    assert_memory_equal(q1.central, q2.central, stations * sizeof *q1.central);
    plan_free(&q1);
    plan_free(&q2);
    free(px);
    free(py);
    lg_stations_free(st);
    lg_layer_free(l);
    lg_context_free(ctx);
}

static void test_counties(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 4; seed++)
        check_county(225, 25, seed, true);
    check_county(900, 100, 5, true);
    check_county(2000, 220, 6, false);
    check_county(4500, 500, 7, false);
    check_county(18000, 2000, 8, false);
}

/* from_layer with the jurisdictions of from_cells gives the same graph and plan. */
static void test_from_layer(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    lg_synth_options so = {.seed = 3, .cells = 300, .stations = 30};
    lg_layer *l = NULL;
    assert_int_equal(lg_synth_county(ctx, &so, &l), LG_OK);
    lg_stations *a = NULL, *b = NULL;
    assert_int_equal(lg_stations_from_cells(ctx, l, "station", NULL, &a), LG_OK);
    assert_int_equal(
        lg_stations_from_layer(ctx, lg_stations_jurisdictions(a), l, "station", NULL, &b), LG_OK);
    assert_int_equal(lg_stations_count(b), 30);
    const lg_graph *ga = lg_stations_graph(a), *gb = lg_stations_graph(b);
    assert_int_equal(lg_graph_edge_count(ga), lg_graph_edge_count(gb));
    for (size_t s = 0; s < 30; s++)
        for (size_t t = 0; t < 30; t++)
            assert_true(fabs(lg_graph_weight(ga, s, t) - lg_graph_weight(gb, s, t)) <= 1e-6);
    assert_int_equal(lg_stations_field_count(a), lg_stations_field_count(b));
    for (size_t s = 0; s < 30; s++) {
        assert_int_equal(lg_stations_cell_count(a, s), lg_stations_cell_count(b, s));
        for (size_t f = 0; f < lg_stations_field_count(a); f++)
            assert_true(lg_stations_workload(a, f)[s] == lg_stations_workload(b, f)[s]);
    }
    plan pa = classify(ctx, a, NULL), pb = classify(ctx, b, NULL);
    assert_memory_equal(pa.kind, pb.kind, 30 * sizeof *pa.kind);
    assert_memory_equal(pa.central, pb.central, 30 * sizeof *pa.central);
    plan_free(&pa);
    plan_free(&pb);
    lg_stations_free(a);
    lg_stations_free(b);
    lg_layer_free(l);
    lg_context_free(ctx);
}

/* ------------------------------------------------- validator: each violation */

typedef struct broken {
    lg_context *ctx;
    lg_layer *l;
    lg_stations *st;
    plan p;
    lg_station_kind *k;
    int64_t *c;
} broken;

static void broken_setup(broken *b)
{
    b->ctx = new_ctx();
    lg_synth_options so = {.seed = 1, .cells = 225, .stations = 25};
    assert_int_equal(lg_synth_county(b->ctx, &so, &b->l), LG_OK);
    assert_int_equal(lg_stations_from_cells(b->ctx, b->l, "station", NULL, &b->st), LG_OK);
    b->p = classify(b->ctx, b->st, NULL);
    assert_true(b->p.feasible);
    b->k = malloc(b->p.n * sizeof *b->k);
    b->c = malloc(b->p.n * sizeof *b->c);
    memcpy(b->k, b->p.kind, b->p.n * sizeof *b->k);
    memcpy(b->c, b->p.central, b->p.n * sizeof *b->c);
}

static lg_plan_problems *broken_validate(broken *b, const lg_classify_options *o)
{
    lg_plan_problems *v = NULL;
    assert_int_equal(lg_stations_validate(b->ctx, b->st, o, b->k, b->c, b->p.n, &v), LG_OK);
    return v;
}

static void broken_teardown(broken *b)
{
    free(b->k);
    free(b->c);
    plan_free(&b->p);
    lg_stations_free(b->st);
    lg_layer_free(b->l);
    lg_context_free(b->ctx);
}

static int64_t first_of(const broken *b, lg_station_kind k)
{
    for (size_t s = 0; s < b->p.n; s++)
        if (b->p.kind[s] == k)
            return (int64_t)s;
    fail();
    return -1;
}

static void test_violation_bad_kind(void **state)
{
    (void)state;
    broken b;
    broken_setup(&b);
    int64_t s = first_of(&b, LG_STATION_BORDER);
    b.k[s] = (lg_station_kind)7;
    lg_plan_problems *v = broken_validate(&b, NULL);
    assert_true(has_problem(v, LG_PLAN_BAD_KIND, s, "kind 7"));
    lg_plan_problems_free(v);
    broken_teardown(&b);
}

static void test_violation_base_no_central(void **state)
{
    (void)state;
    broken b;
    broken_setup(&b);
    int64_t s = first_of(&b, LG_STATION_BASE);
    b.c[s] = LG_NONE;
    lg_plan_problems *v = broken_validate(&b, NULL);
    assert_true(has_problem(v, LG_PLAN_BASE_NO_CENTRAL, s, NULL));
    lg_plan_problems_free(v);
    b.c[s] = 1000;
    v = broken_validate(&b, NULL);
    assert_true(has_problem(v, LG_PLAN_BASE_NO_CENTRAL, s, "1000"));
    lg_plan_problems_free(v);
    broken_teardown(&b);
}

static void test_violation_central_not_central(void **state)
{
    (void)state;
    broken b;
    broken_setup(&b);
    int64_t s = first_of(&b, LG_STATION_BASE);
    /* point it to an adjacent border station if any, else any border station */
    int64_t t = first_of(&b, LG_STATION_BORDER);
    b.c[s] = t;
    lg_plan_problems *v = broken_validate(&b, NULL);
    assert_true(has_problem(v, LG_PLAN_CENTRAL_NOT_CENTRAL, s, "border"));
    lg_plan_problems_free(v);
    broken_teardown(&b);
}

static void test_violation_not_adjacent(void **state)
{
    (void)state;
    broken b;
    broken_setup(&b);
    const lg_graph *g = lg_stations_graph(b.st);
    int64_t s = first_of(&b, LG_STATION_BASE), far = -1;
    for (size_t t = 0; t < b.p.n && far < 0; t++)
        if (b.k[t] == LG_STATION_CENTRAL && lg_graph_weight(g, (size_t)s, t) == 0)
            far = (int64_t)t;
    assert_true(far >= 0);
    b.c[s] = far;
    lg_plan_problems *v = broken_validate(&b, NULL);
    assert_true(has_problem(v, LG_PLAN_BASE_NOT_ADJACENT, s, "not adjacent"));
    lg_plan_problems_free(v);
    broken_teardown(&b);
}

static void test_violation_too_few_too_many(void **state)
{
    (void)state;
    broken b;
    broken_setup(&b);
    /* a central with two bases exists in this plan (6 centrals, 7 bases) */
    int64_t two = -1;
    for (size_t s = 0; s < b.p.n && two < 0; s++) {
        size_t k = 0;
        for (size_t t = 0; t < b.p.n; t++)
            k += b.k[t] == LG_STATION_BASE && b.c[t] == (int64_t)s;
        if (k == 2)
            two = (int64_t)s;
    }
    assert_true(two >= 0);
    lg_classify_options o = {.max_bases = 1};
    lg_plan_problems *v = broken_validate(&b, &o);
    assert_true(has_problem(v, LG_PLAN_TOO_MANY_BASES, two, "more than 1"));
    lg_plan_problems_free(v);
    o = (lg_classify_options){.min_bases = 3, .max_bases = 3};
    v = broken_validate(&b, &o);
    assert_true(has_problem(v, LG_PLAN_TOO_FEW_BASES, two, "fewer than 3"));
    assert_int_equal(lg_plan_problems_count_code(v, LG_PLAN_TOO_FEW_BASES),
                     count_kind(&b.p, LG_STATION_CENTRAL));
    lg_plan_problems_free(v);
    broken_teardown(&b);
}

static void test_violation_border(void **state)
{
    (void)state;
    broken b;
    broken_setup(&b);
    int64_t c = first_of(&b, LG_STATION_CENTRAL), d = first_of(&b, LG_STATION_BORDER);
    b.k[c] = LG_STATION_BORDER;
    b.k[d] = LG_STATION_CENTRAL;
    lg_plan_problems *v = broken_validate(&b, NULL);
    assert_true(has_problem(v, LG_PLAN_BORDER_OFF_BOUNDARY, c, NULL));
    assert_true(has_problem(v, LG_PLAN_BOUNDARY_NOT_BORDER, d, NULL));
    assert_true(has_problem(v, LG_PLAN_TOO_FEW_BASES, d, NULL));
    /* the bases of the demoted central now point to a border station */
    assert_true(lg_plan_problems_count_code(v, LG_PLAN_CENTRAL_NOT_CENTRAL) >= 1);
    lg_plan_problems_free(v);
    broken_teardown(&b);
}

static void test_violation_unexpected_central(void **state)
{
    (void)state;
    broken b;
    broken_setup(&b);
    int64_t d = first_of(&b, LG_STATION_BORDER), c = first_of(&b, LG_STATION_CENTRAL);
    b.c[d] = c;
    b.c[c] = c; /* itself: allowed */
    lg_plan_problems *v = broken_validate(&b, NULL);
    assert_true(has_problem(v, LG_PLAN_UNEXPECTED_CENTRAL, d, NULL));
    assert_int_equal(lg_plan_problems_count(v), 1);
    lg_plan_problems_free(v);
    broken_teardown(&b);
}

static void test_violation_cells(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    int64_t stn[16];
    for (int i = 0; i < 16; i++)
        stn[i] = i;
    stn[5] = -1; /* a cell with no station; station 5 then has no cells */
    lg_layer *l = lattice(ctx, 4, 4, stn, NULL, NULL);
    lg_stations_options o = {.n_stations = 17}; /* and station 16 has none either */
    lg_stations *st = NULL;
    assert_int_equal(lg_stations_from_cells(ctx, l, "station", &o, &st), LG_OK);
    assert_int_equal(lg_stations_count(st), 17);
    assert_int_equal(lg_stations_cell_station(st)[5], LG_NONE);
    plan p = classify(ctx, st, NULL);
    assert_false(p.feasible);
    assert_true(has_problem(p.p, LG_PLAN_STATION_NO_CELLS, 5, "has no cells"));
    assert_true(has_problem(p.p, LG_PLAN_STATION_NO_CELLS, 16, NULL));
    assert_true(has_problem(p.p, LG_PLAN_CELL_NO_STATION, LG_NONE, "cell 5"));
    plan_free(&p);
    lg_stations_free(st);
    lg_layer_free(l);
    lg_context_free(ctx);
}

/* Every violation at once: all reported, not just the first. */
static void test_violation_all_reported(void **state)
{
    (void)state;
    broken b;
    broken_setup(&b);
    size_t nbase = 0;
    for (size_t s = 0; s < b.p.n; s++)
        if (b.k[s] == LG_STATION_BASE) {
            b.c[s] = LG_NONE;
            nbase++;
        }
    lg_plan_problems *v = broken_validate(&b, NULL);
    assert_int_equal(lg_plan_problems_count_code(v, LG_PLAN_BASE_NO_CENTRAL), nbase);
    assert_int_equal(lg_plan_problems_count_code(v, LG_PLAN_TOO_FEW_BASES),
                     count_kind(&b.p, LG_STATION_CENTRAL));
    lg_plan_problems_free(v);
    broken_teardown(&b);
}

/* --------------------------------------------------------------- hierarchy */

static void test_hierarchy(void **state)
{
    (void)state;
    broken b;
    broken_setup(&b);
    size_t ncells = lg_layer_count(b.l);
    int64_t *zone = malloc(ncells * sizeof *zone);
    for (size_t i = 0; i < ncells; i++)
        zone[i] = i % 5 == 4 ? LG_NONE : (int64_t)(i / 7);
    size_t nz = ncells / 7 + 1;
    int64_t *site = malloc(nz * sizeof *site);
    for (size_t z = 0; z < nz; z++)
        site[z] = 1000 + (int64_t)z;
    lg_hierarchy_options ho = {
        .cell_zone = zone, .n_cells = ncells, .zone_site = site, .n_zones = nz};
    lg_hierarchy *h = NULL;
    assert_int_equal(lg_hierarchy_new(b.ctx, b.st, b.k, b.c, b.p.n, &ho, &h), LG_OK);
    double box[4];
    assert_true(lg_layer_bounds(b.l, box));
    size_t fs;
    assert_int_equal(lg_layer_field_index(b.l, "station", &fs), LG_OK);
    enum { N = 2000 };
    double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    uint64_t rs = 11;
    for (int i = 0; i < N; i++) {
        x[i] = tu_uniform(&rs, box[0] - 500, box[2] + 500);
        y[i] = tu_uniform(&rs, box[1] - 500, box[3] + 500);
    }
    int64_t *cell = malloc(N * 8), *zn = malloc(N * 8), *ss = malloc(N * 8), *sn = malloc(N * 8),
            *cn = malloc(N * 8);
    int32_t *kd = malloc(N * 4);
    assert_int_equal(lg_hierarchy_lookup_many(h, x, y, N, cell, zn, ss, sn, kd, cn), LG_OK);
    size_t inside = 0;
    for (int i = 0; i < N; i++) {
        lg_hierarchy_result r;
        lg_hierarchy_lookup(h, x[i], y[i], &r);
        int64_t c = lg_layer_locate(b.l, x[i], y[i]);
        assert_int_equal(r.cell, c);
        assert_int_equal(cell[i], c);
        assert_int_equal(r.zone, zn[i]);
        assert_int_equal(r.service_station, ss[i]);
        assert_int_equal(r.station, sn[i]);
        assert_int_equal((int32_t)r.kind, kd[i]);
        assert_int_equal(r.central, cn[i]);
        if (c < 0) {
            assert_int_equal(r.station, LG_NONE);
            assert_int_equal(r.zone, LG_NONE);
            assert_int_equal(r.kind, 0);
            continue;
        }
        inside++;
        int64_t s;
        lg_layer_get_int(b.l, fs, (size_t)c, &s);
        assert_int_equal(r.station, s);
        assert_int_equal(r.kind, b.k[s]);
        assert_int_equal(r.zone, zone[c]);
        assert_int_equal(r.service_station, zone[c] < 0 ? LG_NONE : site[zone[c]]);
        if (b.k[s] == LG_STATION_BASE)
            assert_int_equal(r.central, b.c[s]);
        else if (b.k[s] == LG_STATION_CENTRAL)
            assert_int_equal(r.central, s);
        else
            assert_int_equal(r.central, LG_NONE);
    }
    assert_true(inside > N / 3);
    /* non-finite input */
    lg_hierarchy_result r;
    lg_hierarchy_lookup(h, NAN, 0, &r);
    assert_int_equal(r.cell, LG_NONE);
    lg_hierarchy_free(h);
    lg_hierarchy_free(NULL);
    /* bad zone arrays */
    ho.n_cells = 3;
    assert_int_equal(lg_hierarchy_new(b.ctx, b.st, b.k, b.c, b.p.n, &ho, &h), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(b.ctx), "zone values"));
    ho.n_cells = ncells;
    ho.n_zones = 2;
    assert_int_equal(lg_hierarchy_new(b.ctx, b.st, b.k, b.c, b.p.n, &ho, &h), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(b.ctx), "out of range"));
    free(x), free(y), free(cell), free(zn), free(ss), free(sn), free(cn), free(kd);
    free(zone);
    free(site);
    broken_teardown(&b);
}

/* --------------------------------------------------------------- bad input */

static void test_bad_input(void **state)
{
    (void)state;
    lg_context *ctx = new_ctx();
    int64_t stn[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    lg_layer *l = lattice(ctx, 3, 3, stn, NULL, NULL);
    lg_stations *st = NULL;
    assert_int_equal(lg_stations_from_cells(ctx, l, "no_such", NULL, &st), LG_ERR_NOT_FOUND);
    assert_null(st);
    assert_non_null(strstr(lg_context_message(ctx), "no_such"));
    lg_stations_options o = {.n_stations = 5};
    assert_int_equal(lg_stations_from_cells(ctx, l, "station", &o, &st), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "record 5"));
    assert_non_null(strstr(lg_context_message(ctx), "out of range"));
    double px[2] = {0, 1};
    o = (lg_stations_options){.x = px, .y = px, .n_points = 2};
    assert_int_equal(lg_stations_from_cells(ctx, l, "station", &o, &st), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "2 station points for 9 stations"));
    const char *f[] = {"calls"};
    o = (lg_stations_options){.fields = f, .n_fields = 1};
    assert_int_equal(lg_stations_from_cells(ctx, l, "station", &o, &st), LG_ERR_NOT_FOUND);
    assert_non_null(strstr(lg_context_message(ctx), "'calls'"));
    assert_int_equal(lg_stations_from_cells(ctx, l, "station", NULL, &st), LG_OK);
    lg_station_kind k[9];
    int64_t c[9];
    bool feas;
    assert_int_equal(lg_stations_classify(ctx, st, NULL, k, c, NULL, 8, &feas, NULL),
                     LG_ERR_CAPACITY);
    lg_classify_options co = {.min_bases = 3, .max_bases = 2};
    assert_int_equal(lg_stations_classify(ctx, st, &co, k, c, NULL, 9, &feas, NULL), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "max_bases"));
    const char *wl[] = {"crimes"};
    co = (lg_classify_options){.workload = wl, .n_workload = 1};
    assert_int_equal(lg_stations_classify(ctx, st, &co, k, c, NULL, 9, &feas, NULL),
                     LG_ERR_NOT_FOUND);
    assert_non_null(strstr(lg_context_message(ctx), "'crimes'"));
    co = (lg_classify_options){.border_min_m = -1};
    assert_int_equal(lg_stations_classify(ctx, st, &co, k, c, NULL, 9, &feas, NULL), LG_ERR_ARG);
    assert_non_null(strstr(lg_context_message(ctx), "border_min_m"));
    lg_plan_problems *v = NULL;
    assert_int_equal(lg_stations_validate(ctx, st, NULL, k, c, 4, &v), LG_ERR_ARG);
    assert_null(v);
    assert_int_equal(lg_plan_problems_get(NULL, 0, NULL, NULL, NULL, NULL), LG_ERR_ARG);
    assert_int_equal(lg_plan_problems_count(NULL), 0);
    lg_plan_problems_free(NULL);
    lg_stations_free(NULL);
    assert_int_equal(lg_stations_count(NULL), 0);
    assert_null(lg_stations_name(st, 99));
    assert_false(lg_stations_point(st, 0, NULL, NULL));
    lg_stations_free(st);
    lg_layer_free(l);
    lg_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_of_border),
        cmocka_unit_test(test_known_central),
        cmocka_unit_test(test_isolated_by_name),
        cmocka_unit_test(test_region_and_neighbours),
        cmocka_unit_test(test_counties),
        cmocka_unit_test(test_from_layer),
        cmocka_unit_test(test_violation_bad_kind),
        cmocka_unit_test(test_violation_base_no_central),
        cmocka_unit_test(test_violation_central_not_central),
        cmocka_unit_test(test_violation_not_adjacent),
        cmocka_unit_test(test_violation_too_few_too_many),
        cmocka_unit_test(test_violation_border),
        cmocka_unit_test(test_violation_unexpected_central),
        cmocka_unit_test(test_violation_cells),
        cmocka_unit_test(test_violation_all_reported),
        cmocka_unit_test(test_hierarchy),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
