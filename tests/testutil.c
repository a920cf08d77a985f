#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *tu_data(const char *name)
{
    static char buf[4096];
    const char *dir = getenv("LG_TEST_DATA");
    snprintf(buf, sizeof buf, "%s/%s", dir ? dir : LG_TEST_DATA, name);
    return buf;
}

const char *tu_tmpdir(void)
{
    static char buf[256];
    if (!buf[0]) {
        snprintf(buf, sizeof buf, "/tmp/lgtest.XXXXXX");
        if (!mkdtemp(buf))
            return "/tmp";
    }
    return buf;
}

int tu_write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

uint64_t tu_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double tu_uniform(uint64_t *s, double lo, double hi)
{
    return lo + (hi - lo) * (double)(tu_rand(s) >> 11) * (1.0 / 9007199254740992.0);
}

const char *tu_naturalearth(void)
{
    static const char *p = "/usr/lib/python3/dist-packages/geopandas/datasets/naturalearth_lowres/"
                           "naturalearth_lowres.shp";
    return access(p, R_OK) == 0 ? p : NULL;
}

/* Resident set of this process in kB (/proc/self/statm); 0 when unknown. */
long tu_rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &size, &res) != 2)
        res = 0;
    fclose(f);
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}
