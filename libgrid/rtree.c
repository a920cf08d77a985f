/* STUB: replaced by the R-tree implementation. */
#include "internal.h"
lg_error lg_rtree_new(const lg_allocator *alloc, lg_rtree **out) { (void)alloc; *out = NULL; return LG_ERR_UNSUPPORTED; }
void lg_rtree_free(lg_rtree *tree) { (void)tree; }
size_t lg_rtree_count(const lg_rtree *tree) { (void)tree; return 0; }
bool lg_rtree_bounds(const lg_rtree *tree, double box[4]) { (void)tree; (void)box; return false; }
lg_error lg_rtree_bulk_load(lg_rtree *tree, const double *boxes, const int64_t *ids, size_t n) { (void)tree; (void)boxes; (void)ids; (void)n; return LG_ERR_UNSUPPORTED; }
lg_error lg_rtree_insert(lg_rtree *tree, const double box[4], int64_t id) { (void)tree; (void)box; (void)id; return LG_ERR_UNSUPPORTED; }
lg_error lg_rtree_delete(lg_rtree *tree, const double box[4], int64_t id) { (void)tree; (void)box; (void)id; return LG_ERR_UNSUPPORTED; }
lg_error lg_rtree_update(lg_rtree *tree, const double o[4], const double n[4], int64_t id) { (void)tree; (void)o; (void)n; (void)id; return LG_ERR_UNSUPPORTED; }
void lg_rtree_search(const lg_rtree *tree, const double box[4], lg_rtree_iter iter, void *udata) { (void)tree; (void)box; (void)iter; (void)udata; }
void lg_rtree_search_point(const lg_rtree *tree, double x, double y, lg_rtree_iter iter, void *udata) { (void)tree; (void)x; (void)y; (void)iter; (void)udata; }
lg_error lg_rtree_nearest(const lg_rtree *tree, double x, double y, const lg_nearest_options *opt, int64_t *ids, double *dist, size_t *n_found) { (void)tree; (void)x; (void)y; (void)opt; (void)ids; (void)dist; (void)n_found; return LG_ERR_UNSUPPORTED; }
