/*
 * Snapshots: a built layer (geometry, attributes, ids, problems, the locate
 * accelerator) in one file that loads back by memory-mapping.
 *
 * Format (little-endian, version 1):
 *   header      128 bytes: magic "LGSNAP\r\n", version, byte-order mark, file size,
 *               section count, section table offset, XXH3 of the table, XXH3 of the
 *               header's first 120 bytes
 *   table       per section: id, element size, offset, element count, XXH3 of bytes
 *   sections    each 64-byte aligned
 * The header and the table are always verified; every section is checked to lie
 * inside the file, and the arrays the queries index by (ring and cell offsets,
 * text offsets, ids, problems) are checked entry by entry. The section checksums
 * (xxHash, Debian's libxxhash) are verified unless LG_SNAPSHOT_NO_VERIFY asks for
 * the fast path; the accelerator's own indices are range-checked by the queries,
 * so even an unverified corrupt file cannot make a query read out of bounds.
 * The R-tree is not stored: a mapped layer builds it on first need.
 */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define SNAP_MAGIC "LGSNAP\r\n"
/* 2: sub-pixel tables in the boundary pixels; 3: their positions there, no centres */
#define SNAP_VERSION 3u
#define SNAP_BOM 0x01020304u
#define SNAP_HEADER 128u
#define SNAP_ALIGN 64u
#define SNAP_MAX_SECTIONS 4096u

enum {
    S_META = 1,
    S_XY,
    S_RING_OFF,
    S_RING_HOLE,
    S_CELL_RING,
    S_CELL_BOX,
    S_CRS,
    S_IDS,
    S_PROBLEMS,
    S_PROBLEM_TEXT,
    S_COLDEF,
    S_COLNAMES,
    S_PIX = 20,
    S_BP,
    S_GRP,
    S_EDGES,
    S_BPC,        /* version 2 only */
    S_COL0 = 100, /* column k: S_COL0 + 4k + {0 data, 1 null, 2 pool} */
};

typedef struct snap_meta {
    uint64_t ncells, nverts, nrings, ncols, nids, nproblems;
    int64_t id_field;
    uint64_t has_bounds;
    double bounds[4];
    uint64_t has_accel;
    double ax0, ay0, ax1, ay1, asx, asy, apw, aph, amargin;
    uint64_t anx, any, anbp, angrp, anedges;
} snap_meta;

typedef struct snap_problem {
    int64_t row, kind;
    double x, y;
    uint64_t msg_off;
} snap_problem;

typedef struct snap_coldef {
    uint64_t name_off, type, pool_len;
} snap_coldef;

typedef struct snap_entry {
    uint32_t id, elem;
    uint64_t offset, count, hash;
} snap_entry;

/* A section to write: elem * count bytes at ptr. */
typedef struct sec {
    uint32_t id, elem;
    uint64_t count;
    const void *ptr;
} sec;

typedef struct plan {
    sec *s;
    size_t n, cap;
    const lg_allocator *al;
    /* owned temporaries */
    snap_meta meta;
    snap_problem *probs;
    char *ptext;
    snap_coldef *coldefs;
    char *colnames;
} plan;

static lg_error add(plan *p, uint32_t id, uint32_t elem, uint64_t count, const void *ptr)
{
    if (lg__grow(p->al, (void **)&p->s, &p->cap, p->n + 1, sizeof *p->s))
        return LG_ERR_NOMEM;
    p->s[p->n++] = (sec){id, elem, count, ptr};
    return LG_OK;
}

static void plan_free(plan *p)
{
    lg__free(p->al, p->s);
    lg__free(p->al, p->probs);
    lg__free(p->al, p->ptext);
    lg__free(p->al, p->coldefs);
    lg__free(p->al, p->colnames);
}

static uint64_t align_up(uint64_t v)
{
    return (v + SNAP_ALIGN - 1) & ~(uint64_t)(SNAP_ALIGN - 1);
}

/* Describe every section of a layer. */
static lg_error make_plan(const lg_layer *l, plan *p)
{
    memset(p, 0, sizeof *p);
    p->al = &l->alloc;
    snap_meta *m = &p->meta;
    m->ncells = l->ncells;
    m->nverts = l->nverts;
    m->nrings = l->nrings;
    m->ncols = l->ncols;
    m->nids = l->nids;
    m->nproblems = l->nproblems;
    m->id_field = l->id_field;
    m->has_bounds = l->has_bounds;
    memcpy(m->bounds, l->bounds, sizeof m->bounds);
    const lg_accel *a = l->accel;
    if (a) {
        m->has_accel = 1;
        m->ax0 = a->x0, m->ay0 = a->y0, m->ax1 = a->x1, m->ay1 = a->y1;
        m->asx = a->sx, m->asy = a->sy, m->apw = a->pw, m->aph = a->ph, m->amargin = a->margin;
        m->anx = a->nx, m->any = a->ny, m->anbp = a->nbp, m->angrp = a->ngrp;
        m->anedges = a->nedges;
    }
    /* problems and column definitions are flattened into owned buffers */
    size_t tlen = 1;
    for (size_t i = 0; i < l->nproblems; i++)
        tlen += strlen(l->problems[i].msg) + 1;
    p->probs = lg__calloc(p->al, l->nproblems + 1, sizeof *p->probs);
    p->ptext = lg__malloc(p->al, tlen);
    size_t nlen = 1;
    for (size_t k = 0; k < l->ncols; k++)
        nlen += strlen(l->cols[k].name) + 1;
    p->coldefs = lg__calloc(p->al, l->ncols + 1, sizeof *p->coldefs);
    p->colnames = lg__malloc(p->al, nlen);
    if (!p->probs || !p->ptext || !p->coldefs || !p->colnames)
        return LG_ERR_NOMEM;
    size_t o = 0;
    p->ptext[o++] = '\0';
    for (size_t i = 0; i < l->nproblems; i++) {
        const lg_problem_rec *r = &l->problems[i];
        p->probs[i] = (snap_problem){r->row, r->kind, r->x, r->y, o};
        size_t len = strlen(r->msg) + 1;
        memcpy(p->ptext + o, r->msg, len);
        o += len;
    }
    o = 0;
    p->colnames[o++] = '\0';
    for (size_t k = 0; k < l->ncols; k++) {
        const lg_column *c = &l->cols[k];
        p->coldefs[k] = (snap_coldef){o, (uint64_t)c->type, c->pool_len};
        size_t len = strlen(c->name) + 1;
        memcpy(p->colnames + o, c->name, len);
        o += len;
    }
    lg_error e = LG_OK;
    e = e ? e : add(p, S_META, sizeof(snap_meta), 1, m);
    e = e ? e : add(p, S_XY, 2 * sizeof(double), l->nverts, l->xy);
    e = e ? e : add(p, S_RING_OFF, sizeof(uint32_t), (uint64_t)l->nrings + 1, l->ring_off);
    e = e ? e : add(p, S_RING_HOLE, 1, l->nrings, l->ring_hole);
    e = e ? e : add(p, S_CELL_RING, sizeof(uint32_t), l->ncells + 1, l->cell_ring);
    e = e ? e : add(p, S_CELL_BOX, 4 * sizeof(double), l->ncells, l->cell_box);
    e = e ? e : add(p, S_CRS, 1, l->crs ? strlen(l->crs) + 1 : 0, l->crs);
    e = e ? e : add(p, S_IDS, sizeof(lg_id_entry), l->nids, l->ids);
    e = e ? e : add(p, S_PROBLEMS, sizeof(snap_problem), l->nproblems, p->probs);
    e = e ? e : add(p, S_PROBLEM_TEXT, 1, tlen, p->ptext);
    e = e ? e : add(p, S_COLDEF, sizeof(snap_coldef), l->ncols, p->coldefs);
    e = e ? e : add(p, S_COLNAMES, 1, nlen, p->colnames);
    for (size_t k = 0; e == LG_OK && k < l->ncols; k++) {
        const lg_column *c = &l->cols[k];
        uint32_t base = S_COL0 + 4 * (uint32_t)k;
        if (c->type == LG_FIELD_INT)
            e = add(p, base, sizeof(int64_t), l->ncells, c->i);
        else if (c->type == LG_FIELD_REAL)
            e = add(p, base, sizeof(double), l->ncells, c->r);
        else
            e = add(p, base, sizeof(uint64_t), l->ncells, c->off);
        e = e ? e : add(p, base + 1, 1, l->ncells, c->null);
        if (e == LG_OK && c->type == LG_FIELD_TEXT)
            e = add(p, base + 2, 1, c->pool_len, c->pool);
    }
    if (e == LG_OK && a) {
        e = add(p, S_PIX, sizeof(uint32_t), (uint64_t)a->nx * a->ny, a->pix);
        e = e ? e : add(p, S_BP, sizeof(lg_accel_bp), a->nbp, a->bp);
        e = e ? e : add(p, S_GRP, sizeof(lg_accel_grp), (uint64_t)a->ngrp + 1, a->grp);
        e = e ? e : add(p, S_EDGES, sizeof(uint32_t), a->nedges, a->edges);
    }
    if (p->n > SNAP_MAX_SECTIONS)
        e = LG_ERR_UNSUPPORTED;
    return e;
}

static void put64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}
static void put32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}
static uint64_t get64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}
static uint32_t get32(const unsigned char *b)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

#define ENTRY_SIZE 32u

/* Header and table bytes for a plan; sets the section offsets. Returns total size. */
static uint64_t layout(const plan *p, unsigned char *hdr, unsigned char *table)
{
    uint64_t table_off = SNAP_HEADER;
    uint64_t off = align_up(table_off + (uint64_t)p->n * ENTRY_SIZE);
    for (size_t i = 0; i < p->n; i++) {
        const sec *s = &p->s[i];
        uint64_t bytes = (uint64_t)s->elem * s->count;
        unsigned char *t = table + i * ENTRY_SIZE;
        put32(t, s->id);
        put32(t + 4, s->elem);
        put64(t + 8, bytes ? off : 0);
        put64(t + 16, s->count);
        put64(t + 24, bytes ? XXH3_64bits(s->ptr, (size_t)bytes) : 0);
        if (bytes)
            off = align_up(off + bytes);
    }
    memset(hdr, 0, SNAP_HEADER);
    memcpy(hdr, SNAP_MAGIC, 8);
    put32(hdr + 8, SNAP_VERSION);
    put32(hdr + 12, SNAP_BOM);
    put64(hdr + 16, off);
    put64(hdr + 24, p->n);
    put64(hdr + 32, table_off);
    put64(hdr + 40, XXH3_64bits(table, p->n * ENTRY_SIZE));
    put64(hdr + 120, XXH3_64bits(hdr, 120));
    return off;
}

/* Emit the snapshot through a writer (memory or file). */
typedef struct sink {
    unsigned char *buf; /* memory sink */
    size_t cap;
    FILE *f; /* file sink */
    uint64_t pos;
    bool fail;
} sink;

static void emit(sink *k, const void *data, uint64_t n)
{
    if (k->fail || n == 0)
        return;
    if (k->f) {
        if (data ? fwrite(data, 1, (size_t)n, k->f) != n : false)
            k->fail = true;
        if (!data) {
            static const unsigned char zeros[SNAP_ALIGN];
            if (fwrite(zeros, 1, (size_t)n, k->f) != n)
                k->fail = true;
        }
    } else if (k->buf) {
        if (data)
            memcpy(k->buf + k->pos, data, (size_t)n);
        else
            memset(k->buf + k->pos, 0, (size_t)n);
    }
    k->pos += n;
}

static lg_error write_plan(const plan *p, sink *k, uint64_t *total)
{
    unsigned char hdr[SNAP_HEADER];
    unsigned char *table = lg__malloc(p->al, p->n * ENTRY_SIZE + 1);
    if (!table)
        return LG_ERR_NOMEM;
    uint64_t size = layout(p, hdr, table);
    *total = size;
    if (k->buf && k->cap < size) {
        lg__free(p->al, table);
        return LG_ERR_CAPACITY;
    }
    emit(k, hdr, SNAP_HEADER);
    emit(k, table, p->n * ENTRY_SIZE);
    emit(k, NULL, align_up(k->pos) - k->pos);
    for (size_t i = 0; i < p->n; i++) {
        uint64_t bytes = (uint64_t)p->s[i].elem * p->s[i].count;
        emit(k, p->s[i].ptr, bytes);
        emit(k, NULL, align_up(k->pos) - k->pos);
    }
    lg__free(p->al, table);
    return k->fail ? LG_ERR_IO : LG_OK;
}

lg_error lg_layer_snapshot_size(const lg_layer *l, size_t *size)
{
    if (!l || !size)
        return LG_ERR_ARG;
    plan p;
    lg_error e = make_plan(l, &p);
    if (e == LG_OK) {
        unsigned char hdr[SNAP_HEADER];
        unsigned char *table = lg__malloc(p.al, p.n * ENTRY_SIZE + 1);
        if (!table)
            e = LG_ERR_NOMEM;
        else
            *size = (size_t)layout(&p, hdr, table);
        lg__free(p.al, table);
    }
    plan_free(&p);
    return e;
}

lg_error lg_layer_snapshot_write(const lg_layer *l, void *buf, size_t cap, size_t *len)
{
    if (!l || !len || (!buf && cap))
        return LG_ERR_ARG;
    plan p;
    lg_error e = make_plan(l, &p);
    if (e == LG_OK) {
        sink k = {.buf = buf, .cap = cap};
        uint64_t total = 0;
        if (!buf) {
            e = lg_layer_snapshot_size(l, len);
            plan_free(&p);
            return e == LG_OK ? LG_ERR_CAPACITY : e;
        }
        e = write_plan(&p, &k, &total);
        *len = (size_t)total;
    }
    plan_free(&p);
    return e;
}

typedef struct save_ctx {
    const lg_layer *l;
} save_ctx;

static lg_error save_to(lg_context *ctx, const char *tmp, void *udata)
{
    save_ctx *s = udata;
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return lg__fail(ctx, LG_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    plan p;
    lg_error e = make_plan(s->l, &p);
    uint64_t total = 0;
    if (e == LG_OK) {
        sink k = {.f = f};
        e = write_plan(&p, &k, &total);
    }
    plan_free(&p);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        e = e ? e : LG_ERR_IO;
    if (fclose(f) != 0)
        e = e ? e : LG_ERR_IO;
    if (e == LG_ERR_IO)
        return lg__fail(ctx, e, "%s: write failed: %s", tmp, strerror(errno));
    if (e)
        return lg__fail(ctx, e, "%s: cannot write the snapshot: %s", tmp, lg_strerror(e));
    return LG_OK;
}

lg_error lg_layer_save(lg_context *ctx, const lg_layer *l, const char *path)
{
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!l || !path)
        return lg__fail(ctx, LG_ERR_ARG, "lg_layer_save: layer and path are required");
    save_ctx s = {l};
    return lg__write_atomic(ctx, path, save_to, &s);
}

/* ---------------------------------------------------------------- loading */

typedef struct reader {
    lg_context *ctx;
    const char *src;
    const unsigned char *base;
    uint64_t size;
    uint64_t nsec;
    const unsigned char *table;
    bool verify;
} reader;

static lg_error bad(reader *r, const char *fmt, ...) LG_PRINTF(2, 3);
static lg_error bad(reader *r, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return lg__fail(r->ctx, LG_ERR_FORMAT, "%s: corrupt snapshot: %s", r->src, msg);
}

/* Find section id; checks bounds, element size and (if verifying) the checksum. */
static lg_error section(reader *r, uint32_t id, uint32_t elem, const char *name, const void **ptr,
                        uint64_t *count)
{
    for (uint64_t i = 0; i < r->nsec; i++) {
        const unsigned char *t = r->table + i * ENTRY_SIZE;
        if (get32(t) != id)
            continue;
        uint64_t off = get64(t + 8), n = get64(t + 16), h = get64(t + 24);
        if (get32(t + 4) != elem)
            return bad(r, "section %s has element size %u", name, get32(t + 4));
        if (elem && n > r->size / elem)
            return bad(r, "section %s claims %llu elements, more than the file holds", name,
                       (unsigned long long)n);
        uint64_t bytes = n * elem;
        if (bytes && (off % SNAP_ALIGN || off > r->size || bytes > r->size - off))
            return bad(r, "section %s at offset %llu lies outside the file", name,
                       (unsigned long long)off);
        if (r->verify && bytes && XXH3_64bits(r->base + off, (size_t)bytes) != h)
            return bad(r, "section %s fails its checksum", name);
        *ptr = bytes ? r->base + off : NULL;
        *count = n;
        return LG_OK;
    }
    return bad(r, "section %s is missing", name);
}

/* Section that must hold exactly `want` elements. */
static lg_error section_n(reader *r, uint32_t id, uint32_t elem, const char *name, const void **ptr,
                          uint64_t want)
{
    uint64_t n = 0;
    lg_error e = section(r, id, elem, name, ptr, &n);
    if (e)
        return e;
    if (n != want)
        return bad(r, "section %s has the wrong length (%llu)", name, (unsigned long long)n);
    return LG_OK;
}

static bool monotonic_u32(const uint32_t *a, uint64_t n, uint64_t last_max)
{
    for (uint64_t i = 0; i + 1 < n; i++)
        if (a[i] > a[i + 1])
            return false;
    return n == 0 || (a[0] == 0 && a[n - 1] == last_max);
}

/* Build a layer whose arrays point into base[0, size). */
static lg_error map_layer(reader *r, lg_layer **out)
{
    const unsigned char *h = r->base;
    if (r->size < SNAP_HEADER || memcmp(h, SNAP_MAGIC, 8) != 0)
        return lg__fail(r->ctx, LG_ERR_FORMAT, "%s: not a libgrid snapshot (bad magic)", r->src);
    if (get32(h + 8) != SNAP_VERSION)
        return lg__fail(r->ctx, LG_ERR_UNSUPPORTED,
                        "%s: snapshot version %u; this libgrid reads version %u%s", r->src,
                        get32(h + 8), SNAP_VERSION,
                        get32(h + 8) < SNAP_VERSION
                            ? " (an older libgrid wrote it: save it again from its source "
                              "layer, e.g. `libgrid snapshot GRID -o GRID.lgsnap`)"
                            : "");
    if (get32(h + 12) != SNAP_BOM)
        return bad(r, "byte-order mark %x", get32(h + 12));
    if (XXH3_64bits(h, 120) != get64(h + 120))
        return bad(r, "header checksum mismatch");
    if (get64(h + 16) != r->size)
        return bad(r, "file is %llu bytes, the header says %llu (truncated?)",
                   (unsigned long long)r->size, (unsigned long long)get64(h + 16));
    r->nsec = get64(h + 24);
    uint64_t toff = get64(h + 32);
    if (r->nsec > SNAP_MAX_SECTIONS || toff > r->size || r->nsec * ENTRY_SIZE > r->size - toff)
        return bad(r, "section table out of bounds (%llu sections)", (unsigned long long)r->nsec);
    r->table = h + toff;
    if (XXH3_64bits(r->table, (size_t)(r->nsec * ENTRY_SIZE)) != get64(h + 40))
        return bad(r, "section table checksum mismatch");

    const void *ptr;
    lg_error e = section_n(r, S_META, sizeof(snap_meta), "meta", &ptr, 1);
    if (e)
        return e;
    snap_meta m;
    memcpy(&m, ptr, sizeof m);
    if (m.ncells >= UINT32_MAX || m.nverts > UINT32_MAX || m.nrings >= UINT32_MAX ||
        m.ncols > 65536 || m.nids > m.ncells || m.nproblems > (uint64_t)1 << 40)
        return bad(r, "implausible counts (%llu cells)", (unsigned long long)m.ncells);
    const lg_allocator *al = &r->ctx->alloc;
    lg_layer *l = lg__calloc(al, 1, sizeof *l);
    if (!l)
        return lg__fail(r->ctx, LG_ERR_NOMEM, "out of memory");
    l->alloc = *al;
    pthread_mutex_init(&l->rtree_mu, NULL);
    l->map_base = (void *)r->base;
    l->map_len = (size_t)r->size;
    l->ncells = (size_t)m.ncells;
    l->nverts = (uint32_t)m.nverts;
    l->nrings = (uint32_t)m.nrings;
    l->id_field = m.id_field;
    l->has_bounds = m.has_bounds != 0;
    memcpy(l->bounds, m.bounds, sizeof l->bounds);

#define SEC(id, type, name, field, want)                                                           \
    do {                                                                                           \
        if (!e) {                                                                                  \
            e = section_n(r, id, sizeof(type), name, &ptr, want);                                  \
            field = (type *)ptr;                                                                   \
        }                                                                                          \
    } while (0)
    e = section_n(r, S_XY, 2 * sizeof(double), "xy", &ptr, m.nverts);
    l->xy = (double *)ptr;
    SEC(S_RING_OFF, uint32_t, "ring offsets", l->ring_off, m.nrings + 1);
    SEC(S_RING_HOLE, uint8_t, "ring roles", l->ring_hole, m.nrings);
    SEC(S_CELL_RING, uint32_t, "cell rings", l->cell_ring, m.ncells + 1);
    if (!e) {
        e = section_n(r, S_CELL_BOX, 4 * sizeof(double), "cell boxes", &ptr, m.ncells);
        l->cell_box = (double *)ptr;
    }
    if (!e && !monotonic_u32(l->ring_off, m.nrings + 1, m.nverts))
        e = bad(r, "%s offsets are not increasing within %llu vertices", "ring",
                (unsigned long long)m.nverts);
    if (!e && !monotonic_u32(l->cell_ring, m.ncells + 1, m.nrings))
        e = bad(r, "%s offsets are not increasing within %llu rings", "cell",
                (unsigned long long)m.nrings);
    uint64_t n = 0;
    if (!e && (e = section(r, S_CRS, 1, "crs", &ptr, &n)) == LG_OK && n) {
        if (((const char *)ptr)[n - 1] != '\0')
            e = bad(r, "crs string is not terminated");
        else
            l->crs = (char *)ptr;
    }
    if (!e) {
        e = section_n(r, S_IDS, sizeof(lg_id_entry), "ids", &ptr, m.nids);
        l->ids = (lg_id_entry *)ptr;
        l->nids = (size_t)m.nids;
        for (uint64_t i = 0; !e && i < m.nids; i++)
            if (l->ids[i].row < 0 || (uint64_t)l->ids[i].row >= m.ncells ||
                (i && l->ids[i].key < l->ids[i - 1].key))
                e = bad(r, "%s entry %llu is out of range or order", "id", (unsigned long long)i);
    }
    if (!e && m.id_field != LG_NONE && (m.id_field < 0 || (uint64_t)m.id_field >= m.ncols))
        e = bad(r, "%s field %llu does not exist", "id", (unsigned long long)m.id_field);
    /* problems: small, copied to the heap with their messages in the mapping */
    const snap_problem *sp = NULL;
    const char *ptext = NULL;
    uint64_t ptlen = 0;
    if (!e)
        e = section_n(r, S_PROBLEMS, sizeof(snap_problem), "problems", &ptr, m.nproblems);
    sp = ptr;
    if (!e)
        e = section(r, S_PROBLEM_TEXT, 1, "problem text", (const void **)&ptext, &ptlen);
    if (!e && (ptlen == 0 || ptext[ptlen - 1] != '\0'))
        e = bad(r, "problem text is not terminated");
    if (!e && m.nproblems) {
        l->problems = lg__calloc(al, (size_t)m.nproblems, sizeof *l->problems);
        if (!l->problems)
            e = lg__fail(r->ctx, LG_ERR_NOMEM, "out of memory");
        for (uint64_t i = 0; !e && i < m.nproblems; i++) {
            if (sp[i].msg_off >= ptlen || sp[i].row < -1 || sp[i].row >= (int64_t)m.ncells)
                e = bad(r, "%s %llu is out of range", "problem", (unsigned long long)i);
            else
                l->problems[i] = (lg_problem_rec){sp[i].row, (lg_problem_kind)sp[i].kind, sp[i].x,
                                                  sp[i].y, (char *)ptext + sp[i].msg_off};
        }
        l->nproblems = (size_t)m.nproblems;
    }
    /* columns */
    const snap_coldef *cd = NULL;
    const char *names = NULL;
    uint64_t nlen = 0;
    if (!e)
        e = section_n(r, S_COLDEF, sizeof(snap_coldef), "column definitions", &ptr, m.ncols);
    cd = ptr;
    if (!e)
        e = section(r, S_COLNAMES, 1, "column names", (const void **)&names, &nlen);
    if (!e && (nlen == 0 || names[nlen - 1] != '\0'))
        e = bad(r, "column names are not terminated");
    if (!e && m.ncols) {
        l->cols = lg__calloc(al, (size_t)m.ncols, sizeof *l->cols);
        if (!l->cols)
            e = lg__fail(r->ctx, LG_ERR_NOMEM, "out of memory");
        l->ncols = l->cols ? (size_t)m.ncols : 0;
    }
    for (uint64_t k = 0; !e && k < m.ncols; k++) {
        lg_column *c = &l->cols[k];
        uint32_t base = S_COL0 + 4 * (uint32_t)k;
        if (cd[k].name_off >= nlen || cd[k].type < 1 || cd[k].type > 3) {
            e = bad(r, "%s %llu is malformed", "column", (unsigned long long)k);
            break;
        }
        c->name = (char *)names + cd[k].name_off;
        c->type = (lg_field_type)cd[k].type;
        if (c->type == LG_FIELD_INT) {
            e = section_n(r, base, sizeof(int64_t), c->name, &ptr, m.ncells);
            c->i = (int64_t *)ptr;
        } else if (c->type == LG_FIELD_REAL) {
            e = section_n(r, base, sizeof(double), c->name, &ptr, m.ncells);
            c->r = (double *)ptr;
        } else {
            e = section_n(r, base, sizeof(uint64_t), c->name, &ptr, m.ncells);
            c->off = (uint64_t *)ptr;
            if (!e)
                e = section_n(r, base + 2, 1, c->name, &ptr, cd[k].pool_len);
            c->pool = (char *)ptr;
            c->pool_len = (size_t)cd[k].pool_len;
            if (!e && (c->pool_len == 0 || c->pool[c->pool_len - 1] != '\0'))
                e = bad(r, "text pool of %s is not terminated", c->name);
            for (uint64_t row = 0; !e && row < m.ncells; row++)
                if (c->off[row] >= c->pool_len)
                    e = bad(r, "text offset of %s row %llu is out of range", c->name,
                            (unsigned long long)row);
        }
        if (!e) {
            e = section_n(r, base + 1, 1, c->name, &ptr, m.ncells);
            c->null = (uint8_t *)ptr;
        }
    }
    /* accelerator: its indices are range-checked by the queries */
    if (!e && m.has_accel) {
        lg_accel *a = lg__calloc(al, 1, sizeof *a);
        if (!a) {
            e = lg__fail(r->ctx, LG_ERR_NOMEM, "out of memory");
        } else {
            l->accel = a;
            a->mapped = true;
            a->x0 = m.ax0, a->y0 = m.ay0, a->x1 = m.ax1, a->y1 = m.ay1;
            a->sx = m.asx, a->sy = m.asy, a->pw = m.apw, a->ph = m.aph, a->margin = m.amargin;
            if (m.anx == 0 || m.any == 0 || m.anx > 65535 || m.any > 65535 ||
                m.anbp >= UINT32_MAX || m.angrp >= UINT32_MAX || m.anedges >= UINT32_MAX)
                e = bad(r, "%s sizes are implausible (%llu)", "accelerator",
                        (unsigned long long)m.anx);
            a->nx = (uint32_t)m.anx, a->ny = (uint32_t)m.any, a->nbp = (uint32_t)m.anbp;
            a->ngrp = (uint32_t)m.angrp, a->nedges = (uint32_t)m.anedges;
            SEC(S_PIX, uint32_t, "pixels", a->pix, m.anx * m.any);
            if (!e) {
                e = section_n(r, S_BP, sizeof(lg_accel_bp), "boundary pixels", &ptr, m.anbp);
                a->bp = (lg_accel_bp *)ptr;
            }
            if (!e) {
                e = section_n(r, S_GRP, sizeof(lg_accel_grp), "pixel groups", &ptr, m.angrp + 1);
                a->grp = (lg_accel_grp *)ptr;
            }
            SEC(S_EDGES, uint32_t, "edges", a->edges, m.anedges);
            if (!e && !(a->sx > 0 && a->sy > 0 && a->x0 <= a->x1 && a->y0 <= a->y1))
                e = bad(r, "accelerator geometry is invalid");
            lg__accel_set_bytes(a);
        }
    }
#undef SEC
    if (e) {
        l->map_base = NULL; /* the caller owns the mapping on failure */
        lg__free(al, l->cols);
        lg__free(al, l->problems);
        lg__accel_free(al, l->accel);
        pthread_mutex_destroy(&l->rtree_mu);
        lg__free(al, l);
        return e;
    }
    *out = l;
    return LG_OK;
}

void lg__layer_unmap(lg_layer *l);
void lg__layer_unmap(lg_layer *l)
{
    if (!l->map_base)
        return;
    if (l->map_heap)
        lg__free(&l->alloc, l->map_base);
    else
        munmap(l->map_base, l->map_len);
    l->map_base = NULL;
}

lg_error lg_layer_open_snapshot(lg_context *ctx, const char *path, unsigned flags, lg_layer **out)
{
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!path || !out)
        return lg__fail(ctx, LG_ERR_ARG, "lg_layer_open_snapshot: path and out are required");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lg__fail(ctx, LG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return lg__fail(ctx, LG_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size < SNAP_HEADER) {
        close(fd);
        return lg__fail(ctx, LG_ERR_FORMAT, "%s: not a libgrid snapshot (%lld bytes)", path,
                        (long long)st.st_size);
    }
    void *base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (base == MAP_FAILED)
        return lg__fail(ctx, LG_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
    reader r = {ctx, path, base, (uint64_t)st.st_size, 0, NULL, !(flags & LG_SNAPSHOT_NO_VERIFY)};
    lg_error e = map_layer(&r, out);
    if (e)
        munmap(base, (size_t)st.st_size);
    return e;
}

lg_error lg_layer_read_snapshot(lg_context *ctx, const void *buf, size_t len, unsigned flags,
                                lg_layer **out)
{
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if ((!buf && len) || !out)
        return lg__fail(ctx, LG_ERR_ARG, "lg_layer_read_snapshot: buffer and out are required");
    *out = NULL;
    if (len < SNAP_HEADER)
        return lg__fail(ctx, LG_ERR_FORMAT, "snapshot buffer: not a libgrid snapshot (%zu bytes)",
                        len);
    /* a private, aligned copy: the layer must outlive the caller's buffer */
    void *copy = lg__malloc(&ctx->alloc, len);
    if (!copy)
        return lg__fail(ctx, LG_ERR_NOMEM, "out of memory (%zu bytes)", len);
    memcpy(copy, buf, len);
    reader r = {ctx, "snapshot buffer", copy, len, 0, NULL, !(flags & LG_SNAPSHOT_NO_VERIFY)};
    lg_error e = map_layer(&r, out);
    if (e) {
        lg__free(&ctx->alloc, copy);
        return e;
    }
    (*out)->map_heap = true;
    return LG_OK;
}
