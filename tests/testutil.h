/* Shared helpers for the cmocka tests. */
#ifndef LG_TESTUTIL_H
#define LG_TESTUTIL_H
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "internal.h"

/* A CRS whose unit is the metre and no georeference (lg_crs_local(1)): hand-made test
 * grids are in metres. */
#define TU_METRES                                                                                  \
    "ENGCRS[\"local grid (metre)\",EDATUM[\"unknown\"],CS[Cartesian,2],AXIS[\"easting "            \
    "(X)\",east,ORDER[1],LENGTHUNIT[\"metre\",1]],AXIS[\"northing "                                \
    "(Y)\",north,ORDER[2],LENGTHUNIT[\"metre\",1]]]"

/* Path of a file in tests/data (static buffer). */
const char *tu_data(const char *name);
/* A fresh temporary directory for this test run (static buffer), created on first use. */
const char *tu_tmpdir(void);
/* Write bytes to path; returns 0 on success. */
int tu_write_file(const char *path, const void *data, size_t n);
/* Deterministic PRNG (splitmix64). */
uint64_t tu_rand(uint64_t *state);
double tu_uniform(uint64_t *state, double lo, double hi);
/* Path of a Debian-shipped real-world dataset, or NULL when absent. */
const char *tu_naturalearth(void);
/* Resident set of this process in kB (/proc/self/statm); 0 when unknown. */
long tu_rss_kb(void);
#endif
