// Peers of bench_units.c behind one C interface (bench_units_peers.h is this file's
// extern "C" block): Boost.Geometry R*-tree, nanoflann kd-tree, libspatialindex.
// Each peer is compiled only when its macro says its library was found:
// BU_HAVE_BOOST, BU_HAVE_NANOFLANN, BU_HAVE_SIDX.
//
// Filtering, made as fair as each library allows:
//  - Boost: the filter is a bgi::satisfies predicate inside the nearest query (native).
//  - nanoflann and libspatialindex have no filter in k-nearest: ask for k' = 3k (the
//    filter passes one unit in three), filter, and double k' until k pass or all were
//    seen. nanoflann also gets its best case: a tree built over the passing units only
//    ("per filter class"), which is what a user would do for a fixed filter.
// Moves: Boost remove + insert; libspatialindex delete + insert; nanoflann's static
// tree is rebuilt (reported per rebuild).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

extern "C" {
typedef struct bu_peer {
    const char *name;
    void *(*build)(size_t n, const double *x, const double *y, const uint8_t *pass);
    /* k nearest ids among units with pass[id] != 0; returns how many */
    size_t (*knn)(void *h, double qx, double qy, size_t k, const uint8_t *pass, int64_t *out);
    /* move unit id from (ox, oy) to (nx, ny); NULL when the peer cannot move */
    void (*move)(void *h, int64_t id, double ox, double oy, double nx, double ny);
    void (*free)(void *h);
    const char *move_name; /* label of the move rows */
} bu_peer;
size_t bu_peers(const bu_peer **out);
}

#ifdef BU_HAVE_BOOST
#include <boost/geometry.hpp>
#include <boost/geometry/index/rtree.hpp>
namespace bg = boost::geometry;
namespace bgi = boost::geometry::index;
typedef bg::model::point<double, 2, bg::cs::cartesian> bpoint;
typedef std::pair<bpoint, int64_t> bvalue;
typedef bgi::rtree<bvalue, bgi::rstar<16>> btree;

static void *boost_build(size_t n, const double *x, const double *y, const uint8_t *)
{
    std::vector<bvalue> v;
    v.reserve(n);
    for (size_t i = 0; i < n; i++)
        v.emplace_back(bpoint(x[i], y[i]), (int64_t)i);
    return new btree(v.begin(), v.end());
}
static size_t boost_knn(void *h, double qx, double qy, size_t k, const uint8_t *pass, int64_t *out)
{
    btree *t = (btree *)h;
    size_t n = 0;
    for (auto it = t->qbegin(bgi::nearest(bpoint(qx, qy), (unsigned)k) &&
                             bgi::satisfies([pass](const bvalue &v) { return pass[v.second]; }));
         it != t->qend(); ++it)
        out[n++] = it->second;
    return n;
}
static void boost_move(void *h, int64_t id, double ox, double oy, double nx, double ny)
{
    btree *t = (btree *)h;
    t->remove(bvalue(bpoint(ox, oy), id));
    t->insert(bvalue(bpoint(nx, ny), id));
}
static void boost_free(void *h)
{
    delete (btree *)h;
}
#endif

#ifdef BU_HAVE_NANOFLANN
#include <nanoflann.hpp>
struct nf_cloud {
    std::vector<double> x, y;
    std::vector<int64_t> id;
    size_t kdtree_get_point_count() const
    {
        return x.size();
    }
    double kdtree_get_pt(size_t i, size_t d) const
    {
        return d == 0 ? x[i] : y[i];
    }
    template <class B> bool kdtree_get_bbox(B &) const
    {
        return false;
    }
};
typedef nanoflann::KDTreeSingleIndexAdaptor<nanoflann::L2_Simple_Adaptor<double, nf_cloud>,
                                            nf_cloud, 2>
    nf_tree;
struct nf_handle {
    nf_cloud c;
    nf_tree *t;
    std::vector<uint32_t> idx;
    std::vector<double> d2;
};
static void *nf_build_from(nf_handle *h)
{
    h->t = new nf_tree(2, h->c, nanoflann::KDTreeSingleIndexAdaptorParams(10));
    h->t->buildIndex();
    return h;
}
static void *nf_build(size_t n, const double *x, const double *y, const uint8_t *)
{
    nf_handle *h = new nf_handle;
    h->c.x.assign(x, x + n);
    h->c.y.assign(y, y + n);
    for (size_t i = 0; i < n; i++)
        h->c.id.push_back((int64_t)i);
    return nf_build_from(h);
}
static size_t nf_knn(void *hv, double qx, double qy, size_t k, const uint8_t *pass, int64_t *out)
{
    nf_handle *h = (nf_handle *)hv;
    size_t n = h->c.x.size();
    const double q[2] = {qx, qy};
    for (size_t kq = 3 * k;; kq *= 2) {
        if (kq > n)
            kq = n;
        h->idx.resize(kq);
        h->d2.resize(kq);
        size_t got = h->t->knnSearch(q, kq, h->idx.data(), h->d2.data());
        size_t m = 0;
        for (size_t i = 0; i < got && m < k; i++)
            if (!pass || pass[h->c.id[h->idx[i]]])
                out[m++] = h->c.id[h->idx[i]];
        if (m == k || kq == n)
            return m;
    }
}
/* best case: a tree over the passing units only, so no filtering at query time */
static void *nf_class_build(size_t n, const double *x, const double *y, const uint8_t *pass)
{
    nf_handle *h = new nf_handle;
    for (size_t i = 0; i < n; i++)
        if (pass[i]) {
            h->c.x.push_back(x[i]);
            h->c.y.push_back(y[i]);
            h->c.id.push_back((int64_t)i);
        }
    return nf_build_from(h);
}
static size_t nf_class_knn(void *h, double qx, double qy, size_t k, const uint8_t *, int64_t *out)
{
    return nf_knn(h, qx, qy, k, NULL, out);
}
static void nf_free(void *hv)
{
    nf_handle *h = (nf_handle *)hv;
    delete h->t;
    delete h;
}
#endif

#ifdef BU_HAVE_SIDX
#include <cstddef> /* sidx_api.h uses size_t without including it */
#include <spatialindex/capi/sidx_api.h>
static void *sidx_build(size_t n, const double *x, const double *y, const uint8_t *)
{
    IndexPropertyH p = IndexProperty_Create();
    IndexProperty_SetIndexType(p, RT_RTree);
    IndexProperty_SetIndexStorage(p, RT_Memory);
    IndexProperty_SetIndexVariant(p, RT_Star);
    IndexProperty_SetDimension(p, 2);
    IndexProperty_SetIndexCapacity(p, 16);
    IndexProperty_SetLeafCapacity(p, 16);
    IndexProperty_SetFillFactor(p, 0.4);
    IndexProperty_SetNearMinimumOverlapFactor(p, 8); /* default 32 needs capacity > 32 */
    IndexH ix = Index_Create(p);
    IndexProperty_Destroy(p);
    if (!ix) {
        fprintf(stderr, "libspatialindex: %s\n", Error_GetLastErrorMsg());
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        double b[2] = {x[i], y[i]};
        Index_InsertData(ix, (int64_t)i, b, b, 2, NULL, 0);
    }
    return ix;
}
static size_t sidx_knn(void *h, double qx, double qy, size_t k, const uint8_t *pass, int64_t *out)
{
    double b[2] = {qx, qy};
    for (uint64_t kq = 3 * k;; kq *= 2) {
        int64_t *ids = NULL;
        uint64_t got = kq;
        Index_NearestNeighbors_id((IndexH)h, b, b, 2, &ids, &got);
        size_t m = 0;
        for (uint64_t i = 0; i < got && m < k; i++)
            if (pass[ids[i]])
                out[m++] = ids[i];
        Index_Free(ids);
        if (m == k || got < kq)
            return m;
    }
}
static void sidx_move(void *h, int64_t id, double ox, double oy, double nx, double ny)
{
    double o[2] = {ox, oy}, p[2] = {nx, ny};
    Index_DeleteData((IndexH)h, id, o, o, 2);
    Index_InsertData((IndexH)h, id, p, p, 2, NULL, 0);
}
static void sidx_free(void *h)
{
    Index_Destroy((IndexH)h);
}
#endif

static const bu_peer peers[] = {
#ifdef BU_HAVE_BOOST
    {"Boost.Geometry rstar<16> + satisfies", boost_build, boost_knn, boost_move, boost_free,
     "Boost.Geometry rstar<16> remove + insert"},
#endif
#ifdef BU_HAVE_NANOFLANN
    {"nanoflann kd-tree, k' = 3k.. then filter", nf_build, nf_knn, NULL, nf_free, NULL},
    {"nanoflann kd-tree per filter class", nf_class_build, nf_class_knn, NULL, nf_free, NULL},
#endif
#ifdef BU_HAVE_SIDX
    {"libspatialindex R*-tree, k' = 3k..", sidx_build, sidx_knn, sidx_move, sidx_free,
     "libspatialindex R*-tree delete + insert"},
#endif
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

size_t bu_peers(const bu_peer **out)
{
    *out = peers;
    return sizeof peers / sizeof *peers - 1;
}
