/* Atomic file writing: write a temporary file beside the target, fsync, rename. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Flush a written file to disk; 0 on success, else errno. */
static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return errno;
    int rc = fsync(fd) == 0 ? 0 : errno;
    if (close(fd) != 0 && rc == 0)
        rc = errno;
    return rc;
}

/*
 * Make the rename durable too; failure here is not an error of the write itself.
 * The directory name goes on the stack when it fits, so that running out of memory
 * cannot quietly skip the directory fsync (found by tests/test_alloc.c).
 */
static void fsync_dir_of(const lg_allocator *a, const char *path)
{
    const char *slash = strrchr(path, '/');
    char local[1024];
    char *dir = NULL;
    if (!slash) {
        dir = strcpy(local, ".");
    } else {
        size_t n = (size_t)(slash - path);
        dir = n + 2 <= sizeof local ? local : lg__malloc(a, n + 2);
        if (dir) {
            memcpy(dir, path, n ? n : 1);
            dir[n ? n : 1] = '\0';
        }
    }
    if (!dir)
        return;
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    if (dir != local)
        lg__free(a, dir);
}

/*
 * Like mkstemp on "path.tmpXXXXXX", but created with mode 0666 so the process umask
 * applies as for any new file (mkstemp forces 0600, and reading the umask means
 * changing it, which races with other threads).
 */
static int make_temp(char *tmp, size_t n)
{
    static const char digits[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 12) ^
                 (uint64_t)(uintptr_t)tmp;
    for (int attempt = 0; attempt < 1000; attempt++) {
        s += 0x9e3779b97f4a7c15ull;
        uint64_t z = s;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        for (int i = 0; i < 6; i++) {
            tmp[n + 4 + i] = digits[z % (sizeof digits - 1)];
            z /= sizeof digits - 1;
        }
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

lg_error lg__write_atomic(lg_context *ctx, const char *path, lg_write_fn fn, void *udata)
{
    if (!ctx || !path || !fn)
        return lg__fail(ctx, LG_ERR_ARG, "lg__write_atomic: path and fn are required");
    const lg_allocator *a = &ctx->alloc;
    size_t n = strlen(path);
    char *tmp = lg__malloc(a, n + sizeof ".tmpXXXXXX");
    if (!tmp)
        return lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", path);
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmpXXXXXX", sizeof ".tmpXXXXXX");
    int fd = make_temp(tmp, n);
    if (fd < 0) {
        int err = errno;
        lg__free(a, tmp);
        return lg__fail(ctx, LG_ERR_IO, "%s: cannot create a temporary file beside it: %s", path,
                        strerror(err));
    }
    close(fd);

    lg_error e = fn(ctx, tmp, udata);
    if (e == LG_OK) {
        int rc = fsync_path(tmp);
        if (rc != 0)
            e = lg__fail(ctx, LG_ERR_IO, "%s: cannot flush %s: %s", path, tmp, strerror(rc));
    }
    if (e == LG_OK && rename(tmp, path) != 0)
        e = lg__fail(ctx, LG_ERR_IO, "%s: cannot rename %s into place: %s", path, tmp,
                     strerror(errno));
    if (e != LG_OK) {
        /* keep the caller's message (fn set it); the previous file is untouched */
        unlink(tmp);
    } else {
        fsync_dir_of(a, path);
    }
    lg__free(a, tmp);
    return e;
}
