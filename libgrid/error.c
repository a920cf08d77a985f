/* Error codes, contexts, allocation helpers. */
/* madvise(MADV_HUGEPAGE) is a Linux extension, not POSIX */
#define _DEFAULT_SOURCE
#include "internal.h"

#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *std_malloc(size_t n, void *u)
{
    (void)u;
    return malloc(n);
}
static void *std_realloc(void *p, size_t n, void *u)
{
    (void)u;
    return realloc(p, n);
}
static void std_free(void *p, void *u)
{
    (void)u;
    free(p);
}

const lg_allocator lg__default_allocator = {std_malloc, std_realloc, std_free, NULL};

void *lg__calloc(const lg_allocator *a, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    void *p = lg__malloc(a, count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void lg__advise_huge(void *p, size_t bytes)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    /* Large random-access tables: ask for transparent huge pages, so that a query
       does not also pay a TLB miss per table (a no-op where THP is off). */
    const uintptr_t huge = (uintptr_t)2 << 20;
    if (!p || bytes < 2 * huge)
        return;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1),
              hi = ((uintptr_t)p + bytes) & ~(huge - 1);
    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)p;
    (void)bytes;
#endif
}

lg_error lg__grow(const lg_allocator *a, void **p, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap)
        return LG_OK;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return LG_ERR_NOMEM;
        ncap *= 2;
    }
    if (ncap > SIZE_MAX / sz)
        return LG_ERR_NOMEM;
    void *np = lg__realloc(a, *p, ncap * sz);
    if (!np)
        return LG_ERR_NOMEM;
    *p = np;
    *cap = ncap;
    return LG_OK;
}

char *lg__strdup(const lg_allocator *a, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = lg__malloc(a, n);
    if (d)
        memcpy(d, s, n);
    return d;
}

const char *lg_strerror(lg_error err)
{
    switch (err) {
    case LG_OK: return "success";
    case LG_ERR_NOMEM: return "out of memory";
    case LG_ERR_ARG: return "invalid argument";
    case LG_ERR_IO: return "input/output error";
    case LG_ERR_FORMAT: return "malformed file";
    case LG_ERR_UNSUPPORTED: return "unsupported";
    case LG_ERR_CRS: return "coordinate reference system error";
    case LG_ERR_GEOMETRY: return "invalid geometry";
    case LG_ERR_NOT_FOUND: return "not found";
    case LG_ERR_CAPACITY: return "output capacity too small";
    case LG_ERR_INTERNAL: return "internal error";
    case LG_ERR_CANCELLED: return "cancelled";
    }
    return "unknown error";
}

#define LG_STR_(x) #x
#define LG_STR(x) LG_STR_(x)

const char *lg_version(void)
{
    return LG_STR(LG_VERSION_MAJOR) "." LG_STR(LG_VERSION_MINOR) "." LG_STR(LG_VERSION_PATCH);
}

lg_error lg_context_new(const lg_allocator *alloc, lg_context **out)
{
    if (!out)
        return LG_ERR_ARG;
    *out = NULL;
    if (alloc && (!alloc->malloc || !alloc->realloc || !alloc->free))
        return LG_ERR_ARG;
    const lg_allocator *a = alloc ? alloc : &lg__default_allocator;
    lg_context *ctx = lg__calloc(a, 1, sizeof *ctx);
    if (!ctx)
        return LG_ERR_NOMEM;
    ctx->alloc = *a;
    *out = ctx;
    return LG_OK;
}

void lg_context_free(lg_context *ctx)
{
    if (!ctx)
        return;
    if (ctx->geos)
        GEOS_finish_r(ctx->geos);
    if (ctx->proj)
        proj_context_destroy(ctx->proj);
    lg__free(&ctx->alloc, ctx->scratch);
    for (size_t i = 0; i < sizeof ctx->tcache / sizeof ctx->tcache[0]; i++) {
        lg__free(&ctx->alloc, ctx->tcache[i].src);
        lg__free(&ctx->alloc, ctx->tcache[i].dst);
        lg_transform_free(ctx->tcache[i].tr);
    }
    lg_allocator a = ctx->alloc;
    lg__free(&a, ctx);
}

void lg_context_set_message_handler(lg_context *ctx, lg_message_fn fn, void *udata)
{
    if (!ctx)
        return;
    ctx->msg_fn = fn;
    ctx->msg_udata = udata;
}

void lg_context_set_progress(lg_context *ctx, lg_progress_fn fn, void *udata)
{
    if (!ctx)
        return;
    ctx->progress = fn;
    ctx->progress_udata = udata;
}

const char *lg_context_message(const lg_context *ctx)
{
    return ctx ? ctx->msg : "";
}

lg_error lg_context_error(const lg_context *ctx)
{
    return ctx ? ctx->err : LG_ERR_ARG;
}

void lg__clear(lg_context *ctx)
{
    if (!ctx)
        return;
    ctx->err = LG_OK;
    ctx->msg[0] = '\0';
}

lg_error lg__vfail(lg_context *ctx, lg_error err, const char *fmt, va_list ap)
{
    if (!ctx)
        return err;
    ctx->err = err;
    vsnprintf(ctx->msg, sizeof ctx->msg, fmt, ap);
    if (ctx->msg_fn)
        ctx->msg_fn(err, ctx->msg, ctx->msg_udata);
    return err;
}

lg_error lg__fail(lg_context *ctx, lg_error err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lg__vfail(ctx, err, fmt, ap);
    va_end(ap);
    return err;
}

bool lg__progress(lg_context *ctx, uint64_t done, uint64_t total)
{
    if (!ctx || !ctx->progress)
        return true;
    if (ctx->progress(done, total, ctx->progress_udata))
        return true;
    lg__fail(ctx, LG_ERR_CANCELLED, "cancelled by the progress callback at %llu of %llu",
             (unsigned long long)done, (unsigned long long)total);
    return false;
}

/* GEOS reports through these; keep the text so the caller's message can quote it. */
static void geos_message(const char *msg, void *udata)
{
    lg_context *ctx = udata;
    snprintf(ctx->geos_msg, sizeof ctx->geos_msg, "%s", msg);
}

GEOSContextHandle_t lg__geos(lg_context *ctx)
{
    if (!ctx)
        return NULL;
    if (!ctx->geos) {
        ctx->geos = GEOS_init_r();
        if (!ctx->geos) {
            lg__fail(ctx, LG_ERR_INTERNAL, "GEOS could not be initialised");
            return NULL;
        }
        GEOSContext_setErrorMessageHandler_r(ctx->geos, geos_message, ctx);
        GEOSContext_setNoticeMessageHandler_r(ctx->geos, geos_message, ctx);
    }
    return ctx->geos;
}

PJ_CONTEXT *lg__proj(lg_context *ctx)
{
    if (!ctx)
        return NULL;
    if (!ctx->proj) {
        ctx->proj = proj_context_create();
        if (!ctx->proj) {
            lg__fail(ctx, LG_ERR_INTERNAL, "PROJ could not be initialised");
            return NULL;
        }
        /* PROJ logs to stderr by default; the library never prints. */
        proj_log_level(ctx->proj, PJ_LOG_NONE);
    }
    return ctx->proj;
}
