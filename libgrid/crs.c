/* STUB: replaced by the PROJ / GCJ-02 implementation. */
#include "internal.h"
lg_error lg_crs_check(lg_context *ctx, const char *crs, const char **normalized) { (void)ctx; (void)crs; if (normalized) *normalized = crs; return LG_OK; }
bool lg__crs_same(lg_context *ctx, const char *a, const char *b) { (void)ctx; return a && b && __builtin_strcmp(a, b) == 0; }
lg_error lg_crs_to_esri_wkt(lg_context *ctx, const char *crs, char *buf, size_t cap, size_t *len) { (void)ctx; (void)crs; (void)buf; (void)cap; (void)len; return LG_ERR_UNSUPPORTED; }
lg_error lg_transform_new(lg_context *ctx, const char *src, const char *dst, lg_transform **out) { (void)ctx; (void)src; (void)dst; *out = NULL; return LG_ERR_UNSUPPORTED; }
void lg_transform_free(lg_transform *tr) { (void)tr; }
lg_error lg_transform_apply(lg_transform *tr, double *x, double *y, size_t n) { (void)tr; (void)x; (void)y; (void)n; return LG_ERR_UNSUPPORTED; }
bool lg_transform_is_identity(const lg_transform *tr) { (void)tr; return false; }
void lg_wgs84_to_gcj02(double *lon, double *lat, size_t n) { (void)lon; (void)lat; (void)n; }
void lg_gcj02_to_wgs84(double *lon, double *lat, size_t n) { (void)lon; (void)lat; (void)n; }
void lg_gcj02_to_bd09(double *lon, double *lat, size_t n) { (void)lon; (void)lat; (void)n; }
void lg_bd09_to_gcj02(double *lon, double *lat, size_t n) { (void)lon; (void)lat; (void)n; }
void lg_wgs84_to_bd09(double *lon, double *lat, size_t n) { (void)lon; (void)lat; (void)n; }
void lg_bd09_to_wgs84(double *lon, double *lat, size_t n) { (void)lon; (void)lat; (void)n; }
