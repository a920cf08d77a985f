/* Helpers shared by the libFuzzer targets: a private scratch directory in /dev/shm. */
#ifndef LG_FUZZ_UTIL_H
#define LG_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A directory private to this process (created once; libFuzzer forks workers with -jobs). */
static inline const char *fz_dir(void)
{
    static char dir[128];
    static pid_t owner;
    if (owner != getpid()) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(dir, sizeof dir, "%s/lgfuzz-%ld", base, (long)getpid());
        mkdir(dir, 0700);
        owner = getpid();
    }
    return dir;
}

/* Path of name inside the private directory (static buffer, one per slot). */
static inline const char *fz_path(int slot, const char *name)
{
    static char buf[8][256];
    snprintf(buf[slot & 7], sizeof buf[0], "%s/%s", fz_dir(), name);
    return buf[slot & 7];
}

static inline void fz_write(const char *path, const uint8_t *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (n && fwrite(data, 1, n, f) != n)
        abort();
    if (fclose(f) != 0)
        abort();
}

#endif
