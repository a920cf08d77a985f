/*
 * ESRI Shapefile reader and writer (shapelib).
 *
 * Reading trusts nothing: the .shp header and every .shx entry are checked against
 * the real file sizes before shapelib sees them (shapelib follows .shx offsets
 * blindly), the .dbf size against its header, and every part index against the
 * vertex count. Ring roles come from geometry, not from the part order: clockwise
 * rings are shells, each counter-clockwise ring becomes a hole of the smallest shell
 * containing it, or a shell if none does (real files get orientation wrong).
 * Text is converted to UTF-8 from the .cpg encoding, the DBF language driver, or a
 * UTF-8/GBK guess; undecodable bytes become U+FFFD.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <math.h>
#include <shapefil.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* ----------------------------------------------------------- shapelib hooks */

/*
 * shapelib reports errors through SAHooks.Error, which gets no user data; keep the
 * last message per thread so the caller's error can quote it and nothing is printed.
 */
static _Thread_local char sa_msg[512];

static void sa_error(const char *message)
{
    snprintf(sa_msg, sizeof sa_msg, "%s", message ? message : "");
}

/*
 * The loader opens the .shp, .shx and .dbf once, checks them, and hands these very
 * handles to shapelib when it asks for the same names: a save in progress renames
 * new files into place at any moment, and shapelib opening the names again could
 * read files other than the ones checked.
 */
static _Thread_local struct sa_handoff {
    const char *path;
    FILE *f;
} sa_pre[3];

static SAFile sa_open(const char *name, const char *access)
{
    for (int i = 0; i < 3; i++) {
        if (sa_pre[i].f && strcmp(access, "rb") == 0 && strcmp(name, sa_pre[i].path) == 0) {
            FILE *f = sa_pre[i].f;
            sa_pre[i].f = NULL; /* shapelib's now: it closes it */
            rewind(f);
            return (SAFile)f;
        }
    }
    return (SAFile)fopen(name, access);
}

static void sa_hooks(SAHooks *h)
{
    SASetupDefaultHooks(h);
    h->Error = sa_error;
    h->FOpen = sa_open;
    sa_msg[0] = '\0';
}

/* "(shapelib: msg)" or "" */
static const char *sa_detail(char *buf, size_t cap)
{
    if (sa_msg[0])
        snprintf(buf, cap, " (shapelib: %s)", sa_msg);
    else
        buf[0] = '\0';
    return buf;
}

/* ------------------------------------------------------------------- paths */

/* Length of path without its extension, as shapelib computes it. */
static size_t base_len(const char *path)
{
    size_t n = strlen(path);
    for (size_t i = n; i-- > 0;) {
        if (path[i] == '/')
            break;
        if (path[i] == '.')
            return i;
    }
    return n;
}

/* base + ext (tries ext lower-case, then upper-case); returns an allocated path. */
static char *sibling(const lg_allocator *a, const char *path, const char *ext, bool must_exist)
{
    size_t b = base_len(path), e = strlen(ext);
    char *p = lg__malloc(a, b + e + 1);
    if (!p)
        return NULL;
    memcpy(p, path, b);
    memcpy(p + b, ext, e + 1);
    if (must_exist && access(p, F_OK) != 0) {
        for (size_t i = 0; i < e; i++)
            p[b + i] = (char)toupper((unsigned char)ext[i]);
        if (access(p, F_OK) != 0)
            memcpy(p + b, ext, e + 1);
    }
    return p;
}

/*
 * Read a small text file (.prj, .cpg) into an allocated, trimmed string; NULL if
 * absent or empty. *nomem is set when the file exists but memory ran out (found by
 * tests/test_alloc.c: the .prj was then silently ignored and the layer loaded
 * without its CRS).
 */
static char *read_small(const lg_allocator *a, const char *path, size_t max, bool *nomem)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *s = lg__malloc(a, max + 1);
    size_t n = s ? fread(s, 1, max, f) : 0;
    fclose(f);
    if (!s) {
        *nomem = true;
        return NULL;
    }
    s[n] = '\0';
    if (memchr(s, '\0', n))
        n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    size_t lead = 0;
    while (lead < n && isspace((unsigned char)s[lead]))
        lead++;
    memmove(s, s + lead, n - lead + 1);
    if (!s[0]) {
        lg__free(a, s);
        return NULL;
    }
    return s;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p + 4) << 32 | le32(p);
}

/* Read exactly n bytes at off; false on a short read or an error. */
static bool pread_all(FILE *f, void *buf, size_t n, uint64_t off)
{
    unsigned char *b = buf;
    int fd = fileno(f);
    while (n > 0) {
        ssize_t k = pread(fd, b, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        b += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return true;
}

/* ------------------------------------------------------------ save stamps */

/*
 * Every save stamps its .shp, .shx and .dbf with one tag: "LGS1" and a 64-bit hash of
 * the layer's content, in header bytes the formats leave unused: .shp and .shx bytes
 * 4-15 (of the five unused int32 at 4-23), .dbf bytes 16-27 (reserved for dBASE IV's
 * multi-user processing; 12-15 are left alone, 14 and 15 being dBASE IV's transaction
 * and encryption flags). The files are renamed into place in the order .shx, .dbf,
 * .prj, .cpg and .shp last, so from the first rename until the last the .shx carries
 * the new tag and the .shp the old one (or none): a save killed in between leaves a
 * group that the loader refuses, naming the files, instead of mixing two saves.
 *
 * Files from other software carry zeros there, and so do files that other software
 * rewrote after a save (shapelib, and with it GDAL, writes the .shp and .shx headers
 * together with bytes 4-23 zeroed, and a .dbf header with 12-27 zeroed): an unstamped
 * file is not checked. The rules, .shp as the reference:
 *  - a stamped .shx must carry the .shp's tag (a stamped .shx beside an unstamped .shp
 *    is a save interrupted over files of other software);
 *  - a stamped .dbf beside a stamped .shp must carry its tag.
 * The tag is a hash of the content, so saving the same layer twice writes the same
 * bytes, and two saves of equal content may be mixed harmlessly.
 */
#define STAMP_MAGIC "LGS1"
#define STAMP_LEN 12
#define SHP_STAMP_OFF 4
#define DBF_STAMP_OFF 16
/* Change with any change of the written bytes for the same layer. */
#define STAMP_FORMAT "libgrid shapefile 1"

typedef struct stamp {
    bool set;
    uint64_t tag;
} stamp;

static stamp stamp_read(FILE *f, uint64_t off)
{
    unsigned char b[STAMP_LEN];
    stamp s = {false, 0};
    if (pread_all(f, b, sizeof b, off) && memcmp(b, STAMP_MAGIC, 4) == 0) {
        s.set = true;
        s.tag = le64(b + 4);
    }
    return s;
}

/* "stamped 0123456789abcdef" or "no save stamp" */
static const char *stamp_text(stamp s, char *buf, size_t cap)
{
    if (s.set)
        snprintf(buf, cap, "save %016llx", (unsigned long long)s.tag);
    else
        snprintf(buf, cap, "no save stamp");
    return buf;
}

/* -------------------------------------------------------------- encodings */

typedef enum { ENC_UTF8, ENC_ICONV, ENC_GUESS } enc_mode;

typedef struct text_dec {
    const lg_allocator *a;
    enc_mode mode;
    iconv_t cd; /* declared encoding (ENC_ICONV) or GB18030 (ENC_GUESS); (iconv_t)-1 if none */
    char *buf;
    size_t cap;
} text_dec;

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned min;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    unsigned cp = c & (0x3F >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

static bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(u + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

static const char *iconv_name(const char *enc, char *buf, size_t cap)
{
    static const char *const gbk[] = {"GBK",     "GB2312", "CP936",   "936",
                                      "GB18030", "EUC-CN", "CP54936", "MS936"};
    for (size_t i = 0; i < sizeof gbk / sizeof *gbk; i++)
        if (strcasecmp(enc, gbk[i]) == 0)
            return "GB18030"; /* a superset of GBK and GB2312 */
    size_t n = strlen(enc);
    bool digits = n > 0 && n < 10;
    for (size_t i = 0; i < n; i++)
        digits = digits && isdigit((unsigned char)enc[i]);
    if (digits) {
        if (strncmp(enc, "8859", 4) == 0 && n > 4)
            snprintf(buf, cap, "ISO-8859-%s", enc + 4);
        else
            snprintf(buf, cap, "CP%s", enc);
        return buf;
    }
    if (strncasecmp(enc, "ANSI ", 5) == 0 && n > 5)
        snprintf(buf, cap, "CP%s", enc + 5);
    else
        snprintf(buf, cap, "%s", enc);
    return buf;
}

/* Set up decoding from the .cpg text (may be NULL) or the DBF language driver id. */
static void dec_init(text_dec *d, const lg_allocator *a, const char *cpg, int ldid)
{
    memset(d, 0, sizeof *d);
    d->a = a;
    d->cd = (iconv_t)-1;
    d->mode = ENC_GUESS;
    const char *name = NULL;
    char buf[64];
    if (cpg) {
        if (strcasecmp(cpg, "UTF-8") == 0 || strcasecmp(cpg, "UTF8") == 0 ||
            strcmp(cpg, "65001") == 0) {
            d->mode = ENC_UTF8;
            return;
        }
        name = iconv_name(cpg, buf, sizeof buf);
    } else if (ldid == 0x4D || ldid == 0x7A) {
        name = "GB18030";
    } else if (ldid == 0x03) {
        name = "CP1252";
    } else if (ldid == 0x01) {
        name = "CP437";
    } else if (ldid == 0x02) {
        name = "CP850";
    }
    if (name) {
        d->cd = iconv_open("UTF-8", name);
        if (d->cd != (iconv_t)-1) {
            d->mode = ENC_ICONV;
            return;
        }
    }
    /* unknown or unsupported: UTF-8 if valid, else GBK, else replacement characters */
    d->cd = iconv_open("UTF-8", "GB18030");
}

static void dec_free(text_dec *d)
{
    if (d->cd != (iconv_t)-1)
        iconv_close(d->cd);
    lg__free(d->a, d->buf);
}

/* Copy s, replacing each invalid UTF-8 byte by U+FFFD. */
static size_t utf8_sanitize(char *out, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(u + i, n - i);
        if (k) {
            memcpy(out + o, u + i, k);
            o += k;
            i += k;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    return o;
}

/* Convert with iconv; on an invalid sequence emit U+FFFD (if lenient) and skip a byte. */
static bool dec_iconv(text_dec *d, const char *s, size_t n, bool lenient, size_t *olen)
{
    iconv(d->cd, NULL, NULL, NULL, NULL);
    char *in = (char *)s, *out = d->buf;
    size_t inleft = n, outleft = d->cap - 1;
    while (inleft > 0) {
        size_t r = iconv(d->cd, &in, &inleft, &out, &outleft);
        if (r != (size_t)-1)
            break;
        if (errno == E2BIG || !lenient)
            return false;
        /* EILSEQ or EINVAL: replace one byte */
        if (outleft < 3)
            return false;
        memcpy(out, "\xEF\xBF\xBD", 3);
        out += 3;
        outleft -= 3;
        in++;
        inleft--;
        iconv(d->cd, NULL, NULL, NULL, NULL);
    }
    *olen = (size_t)(out - d->buf);
    /* guard against a converter producing something odd */
    return utf8_valid(d->buf, *olen);
}

/* Decode n bytes into UTF-8 (d->buf, NUL-terminated); *out_len its length. */
static lg_error dec_text(text_dec *d, const char *s, size_t n, const char **out, size_t *out_len)
{
    size_t need = 4 * n + 8; /* every source byte yields at most 4 UTF-8 bytes */
    if (need > d->cap) {
        char *p = lg__realloc(d->a, d->buf, need);
        if (!p)
            return LG_ERR_NOMEM;
        d->buf = p;
        d->cap = need;
    }
    size_t len = 0;
    bool done = false;
    if (d->mode == ENC_ICONV) {
        done = dec_iconv(d, s, n, true, &len);
    } else if (utf8_valid(s, n)) {
        memcpy(d->buf, s, n);
        len = n;
        done = true;
    } else if (d->mode == ENC_GUESS && d->cd != (iconv_t)-1) {
        done = dec_iconv(d, s, n, false, &len);
    }
    if (!done)
        len = utf8_sanitize(d->buf, s, n);
    d->buf[len] = '\0';
    *out = d->buf;
    *out_len = len;
    return LG_OK;
}

/* ------------------------------------------------------------- ring roles */

typedef struct ring_info {
    size_t off, n; /* vertex range in the record's xy buffer */
    double area;   /* signed: > 0 counter-clockwise */
    double box[4];
    bool shell;
    long parent; /* shell index for holes, -1 otherwise */
} ring_info;

static double signed_area(const double *xy, size_t n)
{
    double s = 0;
    for (size_t i = 0; i + 1 < n; i++)
        s += (xy[2 * i] - xy[0]) * (xy[2 * i + 3] - xy[1]) -
             (xy[2 * i + 2] - xy[0]) * (xy[2 * i + 1] - xy[1]);
    return s / 2;
}

/* 1 inside, 0 outside, -1 on the boundary of the closed ring xy[n]. */
static int point_in_ring(const double *xy, size_t n, double px, double py)
{
    bool in = false;
    for (size_t i = 0; i + 1 < n; i++) {
        double ax = xy[2 * i], ay = xy[2 * i + 1], bx = xy[2 * i + 2], by = xy[2 * i + 3];
        double cross = (bx - ax) * (py - ay) - (by - ay) * (px - ax);
        if (cross == 0 && px >= fmin(ax, bx) && px <= fmax(ax, bx) && py >= fmin(ay, by) &&
            py <= fmax(ay, by))
            return -1;
        if ((ay > py) != (by > py)) {
            /* crossing to the right of p: sign of cross relative to edge direction */
            if ((by > ay) ? cross > 0 : cross < 0)
                in = !in;
        }
    }
    return in;
}

static bool ring_contains(const double *xy, const ring_info *s, const ring_info *h)
{
    if (h->box[0] < s->box[0] || h->box[1] < s->box[1] || h->box[2] > s->box[2] ||
        h->box[3] > s->box[3])
        return false;
    for (size_t i = 0; i + 1 < h->n || i == 0; i++) {
        int r =
            point_in_ring(xy + 2 * s->off, s->n, xy[2 * (h->off + i)], xy[2 * (h->off + i) + 1]);
        if (r >= 0)
            return r == 1;
        if (i + 1 >= h->n)
            break;
    }
    return true; /* every vertex on the shell's boundary */
}

/* ------------------------------------------------------------------ reader */

typedef struct shp_reader {
    lg_context *ctx;
    const lg_allocator *a;
    const char *path; /* as given, for messages */
    char *shp_path, *shx_path, *dbf_path;
    FILE *f_shp, *f_shx, *f_dbf; /* opened and checked here, then handed to shapelib */
    uint64_t shp_size, shx_size, dbf_size;
    SHPHandle shp;
    DBFHandle dbf;
    text_dec dec;
    bool dec_ready;
    lg_builder *b;
    double *xy;
    size_t xy_cap;
    ring_info *rings;
    size_t rings_cap;
    size_t *field_index; /* DBF field -> layer field */
    lg_field_type *field_type;
} shp_reader;

static void reader_free(shp_reader *r)
{
    for (int i = 0; i < 3; i++)
        sa_pre[i].f = NULL; /* the handles not taken by shapelib are closed below */
    if (r->f_shp)
        fclose(r->f_shp);
    if (r->f_shx)
        fclose(r->f_shx);
    if (r->f_dbf)
        fclose(r->f_dbf);
    if (r->shp)
        SHPClose(r->shp);
    if (r->dbf)
        DBFClose(r->dbf);
    if (r->dec_ready)
        dec_free(&r->dec);
    lgb_free(r->b);
    lg__free(r->a, r->shp_path);
    lg__free(r->a, r->shx_path);
    lg__free(r->a, r->dbf_path);
    lg__free(r->a, r->xy);
    lg__free(r->a, r->rings);
    lg__free(r->a, r->field_index);
    lg__free(r->a, r->field_type);
}

/* Open one file of the group for the checks and, later, for shapelib. */
static lg_error open_file(shp_reader *r, const char *p, const char *what, FILE **f, uint64_t *size)
{
    *f = fopen(p, "rb");
    struct stat st;
    if (*f && fstat(fileno(*f), &st) == 0) {
        *size = (uint64_t)st.st_size;
        return LG_OK;
    }
    int err = errno;
    if (*f) {
        fclose(*f);
        *f = NULL;
    }
    return lg__fail(r->ctx, LG_ERR_IO, "%s: cannot open the %s %s: %s", r->path, what, p,
                    strerror(err));
}

/*
 * The save stamps of the .shp, .shx and .dbf must agree (see "save stamps" above):
 * a group mixing two saves is refused with the files named.
 */
static lg_error check_stamps(shp_reader *r)
{
    stamp shp = stamp_read(r->f_shp, SHP_STAMP_OFF);
    stamp shx = stamp_read(r->f_shx, SHP_STAMP_OFF);
    stamp dbf = stamp_read(r->f_dbf, DBF_STAMP_OFF);
    bool bad_shx = shx.set && (!shp.set || shx.tag != shp.tag);
    bool bad_dbf = dbf.set && shp.set && dbf.tag != shp.tag;
    if (!bad_shx && !bad_dbf)
        return LG_OK;
    char t1[40], t2[40], t3[40];
    const char *why = "the group mixes files of two saves, as a save interrupted between "
                      "renaming its files leaves it; save the layer again";
    if (bad_shx && bad_dbf)
        return lg__fail(r->ctx, LG_ERR_FORMAT,
                        "%s: %s (%s) and %s (%s) were written by a different save than %s (%s): "
                        "%s",
                        r->path, r->shx_path, stamp_text(shx, t1, sizeof t1), r->dbf_path,
                        stamp_text(dbf, t2, sizeof t2), r->shp_path, stamp_text(shp, t3, sizeof t3),
                        why);
    const char *name = bad_shx ? r->shx_path : r->dbf_path;
    return lg__fail(r->ctx, LG_ERR_FORMAT,
                    "%s: %s (%s) was written by a different save than %s (%s): %s", r->path, name,
                    stamp_text(bad_shx ? shx : dbf, t1, sizeof t1), r->shp_path,
                    stamp_text(shp, t2, sizeof t2), why);
}

/*
 * The .shp record headers (big-endian record number and content length in 16-bit
 * words), read in blocks: records are normally in order, one read per megabyte.
 */
typedef struct rec_reader {
    unsigned char *blk;
    size_t cap;
    uint64_t b0, b1; /* the block holds .shp bytes [b0, b1) */
} rec_reader;

/* Content length (words) of the record header at off (off + 8 <= the .shp's size). */
static lg_error rec_words(shp_reader *r, rec_reader *rr, uint64_t off, uint32_t *words)
{
    if (!rr->blk) {
        rr->cap = r->shp_size < (1u << 20) ? (size_t)r->shp_size : (1u << 20);
        rr->blk = lg__malloc(r->a, rr->cap);
        if (!rr->blk)
            return lg__fail(r->ctx, LG_ERR_NOMEM, "%s: out of memory", r->path);
    }
    if (off < rr->b0 || off + 8 > rr->b1) {
        size_t len = r->shp_size - off < rr->cap ? (size_t)(r->shp_size - off) : rr->cap;
        if (!pread_all(r->f_shp, rr->blk, len, off))
            return lg__fail(r->ctx, LG_ERR_IO, "%s: cannot read %s: %s", r->path, r->shp_path,
                            strerror(errno));
        rr->b0 = off;
        rr->b1 = off + len;
    }
    *words = be32(rr->blk + (off - rr->b0) + 4);
    return LG_OK;
}

/*
 * Check the .shp header and every .shx entry against the files' real sizes, so that
 * shapelib never seeks or reads past the end, and against the .shp's record headers.
 * Sets *nrec and *type.
 */
static lg_error check_index(shp_reader *r, int *nrec, int *type)
{
    lg_context *ctx = r->ctx;
    if (r->shp_size < 100)
        return lg__fail(ctx, LG_ERR_FORMAT,
                        "%s: the .shp is %llu bytes, too short for its 100-byte header", r->path,
                        (unsigned long long)r->shp_size);
    if (r->shx_size < 100)
        return lg__fail(ctx, LG_ERR_FORMAT,
                        "%s: the .shx %s is %llu bytes, too short for its 100-byte header", r->path,
                        r->shx_path, (unsigned long long)r->shx_size);
    if ((r->shx_size - 100) % 8 != 0 || r->shx_size > 100 + 8ULL * 100000000)
        return lg__fail(ctx, LG_ERR_FORMAT,
                        "%s: the .shx %s is %llu bytes, not a 100-byte header plus 8-byte "
                        "entries (truncated?)",
                        r->path, r->shx_path, (unsigned long long)r->shx_size);
    unsigned char hdr[100];
    if (!pread_all(r->f_shp, hdr, 100, 0))
        return lg__fail(ctx, LG_ERR_IO, "%s: cannot read the .shp header", r->path);
    if (be32(hdr) != 9994)
        return lg__fail(ctx, LG_ERR_FORMAT, "%s: not a shapefile (file code %u, expected 9994)",
                        r->path, be32(hdr));
    *type = (int)le32(hdr + 32);

    size_t n = (size_t)(r->shx_size - 100) / 8;
    unsigned char *idx = lg__malloc(r->a, 8 * n + 100);
    if (!idx)
        return lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", r->path);
    lg_error e = LG_OK;
    if (!pread_all(r->f_shx, idx, 8 * n + 100, 0)) {
        e = lg__fail(ctx, LG_ERR_IO, "%s: cannot read the .shx %s", r->path, r->shx_path);
    } else if (be32(idx) != 9994) {
        e = lg__fail(ctx, LG_ERR_FORMAT, "%s: %s is not a shapefile index (file code %u)", r->path,
                     r->shx_path, be32(idx));
    } else if ((uint64_t)be32(idx + 24) * 2 != r->shx_size) {
        e = lg__fail(ctx, LG_ERR_FORMAT,
                     "%s: the .shx header gives a length of %llu bytes but the file has %llu "
                     "(truncated or corrupt index)",
                     r->path, (unsigned long long)be32(idx + 24) * 2,
                     (unsigned long long)r->shx_size);
    }
    /* every entry inside the .shp, at a record header of the entry's length: a .shx of
       another file fails here even when its offsets stay inside the .shp */
    rec_reader rr = {NULL, 0, 0, 0};
    for (size_t i = 0; e == LG_OK && i < n; i++) {
        uint64_t off = (uint64_t)be32(idx + 100 + 8 * i) * 2;
        uint32_t words = be32(idx + 104 + 8 * i), have = 0;
        if (off < 100 || off + 8 + 2 * (uint64_t)words > r->shp_size) {
            e = lg__fail(ctx, LG_ERR_FORMAT,
                         "%s: record %zu: the .shx gives offset %llu and length %llu, beyond "
                         "the end of the .shp (%llu bytes): the .shx disagrees with the .shp "
                         "(truncated or corrupt)",
                         r->path, i, (unsigned long long)off, 2 * (unsigned long long)words,
                         (unsigned long long)r->shp_size);
        } else if ((e = rec_words(r, &rr, off, &have)) == LG_OK && have != words) {
            e = lg__fail(ctx, LG_ERR_FORMAT,
                         "%s: record %zu: the .shx %s gives a length of %llu bytes at offset "
                         "%llu, but the .shp record there says %llu bytes: the .shx does not "
                         "index this .shp (from another save, or corrupt)",
                         r->path, i, r->shx_path, 2 * (unsigned long long)words,
                         (unsigned long long)off, 2 * (unsigned long long)have);
        }
    }
    lg__free(r->a, rr.blk);
    if (e == LG_OK && n > INT32_MAX / 2)
        e = lg__fail(ctx, LG_ERR_UNSUPPORTED, "%s: too many records (%zu)", r->path, n);
    lg__free(r->a, idx);
    *nrec = (int)n;
    return e;
}

static lg_error check_dbf_size(shp_reader *r)
{
    DBFInfo *d = r->dbf;
    uint64_t need = (uint64_t)d->nHeaderLength + (uint64_t)d->nRecords * d->nRecordLength;
    if (d->nRecords < 0 || r->dbf_size < need)
        return lg__fail(r->ctx, LG_ERR_FORMAT,
                        "%s: the .dbf %s is truncated: %d records of %d bytes need %llu bytes, "
                        "the file has %llu",
                        r->path, r->dbf_path, d->nRecords, d->nRecordLength,
                        (unsigned long long)need, (unsigned long long)r->dbf_size);
    return LG_OK;
}

/* Field name made unique among the first k fields (DBF allows duplicates). */
static lg_error add_fields(shp_reader *r)
{
    int nf = DBFGetFieldCount(r->dbf);
    r->field_index = lg__calloc(r->a, (size_t)nf + 1, sizeof *r->field_index);
    r->field_type = lg__calloc(r->a, (size_t)nf + 1, sizeof *r->field_type);
    if (!r->field_index || !r->field_type)
        return lg__fail(r->ctx, LG_ERR_NOMEM, "%s: out of memory", r->path);
    for (int i = 0; i < nf; i++) {
        char raw[XBASE_FLDNAME_LEN_READ + 1] = "";
        int width = 0, dec = 0;
        DBFGetFieldInfo(r->dbf, i, raw, &width, &dec);
        char type = DBFGetNativeFieldType(r->dbf, i);
        lg_field_type t = LG_FIELD_TEXT;
        if ((type == 'N' || type == 'F') && dec > 0)
            t = LG_FIELD_REAL;
        else if (type == 'N' || type == 'F')
            t = width <= 18 ? LG_FIELD_INT : LG_FIELD_REAL;
        const char *name;
        size_t len;
        if (dec_text(&r->dec, raw, strlen(raw), &name, &len) != LG_OK)
            return lg__fail(r->ctx, LG_ERR_NOMEM, "%s: out of memory", r->path);
        char nm[64];
        snprintf(nm, sizeof nm, "%s", len ? name : "field");
        if (!len)
            snprintf(nm, sizeof nm, "field_%d", i + 1);
        /* DBF allows duplicate names; the layer does not */
        for (int k = 2;; k++) {
            lg_error e = lgb_add_field(r->b, nm, t, &r->field_index[i]);
            if (e == LG_OK)
                break;
            if (e != LG_ERR_FORMAT || k > 999)
                return e;
            char base[48];
            snprintf(base, sizeof base, "%s", len ? name : "field");
            snprintf(nm, sizeof nm, "%s_%d", base, k);
            lg__clear(r->ctx);
        }
        r->field_type[i] = t;
    }
    return LG_OK;
}

static const char *dbf_field_name(shp_reader *r, int i, char name[XBASE_FLDNAME_LEN_READ + 1])
{
    name[0] = '\0';
    DBFGetFieldInfo(r->dbf, i, name, NULL, NULL);
    return name;
}

static lg_error read_attrs(shp_reader *r, int rec)
{
    int nf = DBFGetFieldCount(r->dbf);
    for (int i = 0; i < nf; i++) {
        sa_msg[0] = '\0';
        if (DBFIsAttributeNULL(r->dbf, rec, i))
            continue;
        const char *s = DBFReadStringAttribute(r->dbf, rec, i);
        if (!s) {
            char det[600];
            return lgb_fail(r->b, LG_ERR_FORMAT, "the .dbf record cannot be read%s",
                            sa_detail(det, sizeof det));
        }
        size_t f = r->field_index[i];
        char fname[XBASE_FLDNAME_LEN_READ + 1];
        lg_error e = LG_OK;
        if (r->field_type[i] == LG_FIELD_TEXT) {
            const char *u;
            size_t len;
            if (dec_text(&r->dec, s, strlen(s), &u, &len) != LG_OK)
                return lg__fail(r->ctx, LG_ERR_NOMEM, "%s: out of memory", r->path);
            e = lgb_set_text(r->b, f, u, len);
        } else {
            while (isspace((unsigned char)*s))
                s++;
            char *end = NULL;
            errno = 0;
            if (r->field_type[i] == LG_FIELD_INT) {
                long long v = strtoll(s, &end, 10);
                while (end && isspace((unsigned char)*end))
                    end++;
                if (end == s || *end || errno == ERANGE)
                    return lgb_fail(r->b, LG_ERR_FORMAT, "field '%s': '%.40s' is not an integer",
                                    dbf_field_name(r, i, fname), s);
                e = lgb_set_int(r->b, f, (int64_t)v);
            } else {
                double v = strtod(s, &end);
                while (end && isspace((unsigned char)*end))
                    end++;
                if (end == s || *end)
                    return lgb_fail(r->b, LG_ERR_FORMAT, "field '%s': '%.40s' is not a number",
                                    dbf_field_name(r, i, fname), s);
                e = lgb_set_real(r->b, f, v);
            }
        }
        if (e)
            return e;
    }
    return LG_OK;
}

static lg_error read_shape(shp_reader *r, int rec)
{
    sa_msg[0] = '\0';
    SHPObject *o = SHPReadObject(r->shp, rec);
    if (!o) {
        char det[600];
        return lgb_fail(r->b, LG_ERR_FORMAT, "cannot be read (truncated or corrupt)%s",
                        sa_detail(det, sizeof det));
    }
    lg_error e = LG_OK;
    if (o->nSHPType == SHPT_NULL || o->nVertices == 0 || o->nParts == 0) {
        SHPDestroyObject(o);
        return LG_OK; /* empty row; the builder records LG_PROBLEM_EMPTY */
    }
    if (o->nSHPType != SHPT_POLYGON && o->nSHPType != SHPT_POLYGONZ &&
        o->nSHPType != SHPT_POLYGONM) {
        e = lgb_fail(r->b, LG_ERR_UNSUPPORTED,
                     "shape type %s is not supported (only Polygon, PolygonZ, PolygonM)",
                     SHPTypeName(o->nSHPType));
        SHPDestroyObject(o);
        return e;
    }
    size_t nv = (size_t)o->nVertices, np = (size_t)o->nParts;
    if (lg__grow(r->a, (void **)&r->xy, &r->xy_cap, nv, 2 * sizeof(double)) ||
        lg__grow(r->a, (void **)&r->rings, &r->rings_cap, np, sizeof *r->rings)) {
        SHPDestroyObject(o);
        return lg__fail(r->ctx, LG_ERR_NOMEM, "%s: out of memory", r->path);
    }
    for (size_t i = 0; i < nv; i++) {
        r->xy[2 * i] = o->padfX[i];
        r->xy[2 * i + 1] = o->padfY[i];
    }
    for (size_t p = 0; p < np && e == LG_OK; p++) {
        long s = o->panPartStart[p];
        long t = p + 1 < np ? o->panPartStart[p + 1] : (long)nv;
        if (s < 0 || t < s || (size_t)t > nv) {
            e = lgb_fail(r->b, LG_ERR_FORMAT, "part %zu has a bad start index %ld (%zu vertices)",
                         p, s, nv);
            break;
        }
        ring_info *ri = &r->rings[p];
        ri->off = (size_t)s;
        ri->n = (size_t)(t - s);
        ri->area = signed_area(r->xy + 2 * ri->off, ri->n);
        ri->shell = !(ri->area > 0);
        ri->parent = -1;
        ri->box[0] = ri->box[1] = INFINITY;
        ri->box[2] = ri->box[3] = -INFINITY;
        for (size_t v = ri->off; v < ri->off + ri->n; v++) {
            ri->box[0] = fmin(ri->box[0], r->xy[2 * v]);
            ri->box[1] = fmin(ri->box[1], r->xy[2 * v + 1]);
            ri->box[2] = fmax(ri->box[2], r->xy[2 * v]);
            ri->box[3] = fmax(ri->box[3], r->xy[2 * v + 1]);
        }
    }
    SHPDestroyObject(o);
    if (e)
        return e;
    /* each counter-clockwise ring: hole of the smallest clockwise ring containing it */
    for (size_t h = 0; h < np; h++) {
        ring_info *hr = &r->rings[h];
        if (hr->shell || hr->n < 4)
            continue;
        double best = INFINITY;
        for (size_t s = 0; s < np; s++) {
            ring_info *sr = &r->rings[s];
            if (!sr->shell || sr->n < 4 || !(fabs(sr->area) < best))
                continue;
            if (ring_contains(r->xy, sr, hr)) {
                best = fabs(sr->area);
                hr->parent = (long)s;
            }
        }
        if (hr->parent < 0)
            hr->shell = true; /* a counter-clockwise ring in no shell is a shell */
    }
    /* shells in file order, each followed by its holes */
    for (size_t s = 0; s < np && e == LG_OK; s++) {
        if (!r->rings[s].shell)
            continue;
        e = lgb_add_ring(r->b, r->xy + 2 * r->rings[s].off, r->rings[s].n, false);
        for (size_t h = 0; h < np && e == LG_OK; h++)
            if (!r->rings[h].shell && r->rings[h].parent == (long)s)
                e = lgb_add_ring(r->b, r->xy + 2 * r->rings[h].off, r->rings[h].n, true);
    }
    /* a short ring is never a hole (n < 4 skipped above), so it is reported here */
    return e;
}

lg_error lg__load_shp(lg_context *ctx, const char *path, const lg_load_options *opt, lg_layer **out)
{
    lg_load_options defaults = {0};
    if (!opt)
        opt = &defaults;
    shp_reader r;
    memset(&r, 0, sizeof r);
    r.ctx = ctx;
    r.a = &ctx->alloc;
    r.path = path;
    char *prj = NULL, *cpg = NULL;
    lg_error e = LG_OK;
    r.shp_path = sibling(r.a, path, ".shp", true);
    r.shx_path = sibling(r.a, path, ".shx", true);
    r.dbf_path = sibling(r.a, path, ".dbf", true);
    char *prj_path = sibling(r.a, path, ".prj", true);
    char *cpg_path = sibling(r.a, path, ".cpg", true);
    if (!r.shp_path || !r.shx_path || !r.dbf_path || !prj_path || !cpg_path)
        e = lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", path);
    if (e == LG_OK)
        e = open_file(&r, r.shp_path, ".shp", &r.f_shp, &r.shp_size);
    if (e == LG_OK)
        e = open_file(&r, r.shx_path, ".shx index", &r.f_shx, &r.shx_size);
    if (e == LG_OK)
        e = open_file(&r, r.dbf_path, ".dbf attribute table", &r.f_dbf, &r.dbf_size);
    if (e == LG_OK)
        e = check_stamps(&r);
    int nrec = 0, type = 0;
    if (e == LG_OK)
        e = check_index(&r, &nrec, &type);
    if (e == LG_OK && type != SHPT_POLYGON && type != SHPT_POLYGONZ && type != SHPT_POLYGONM &&
        type != SHPT_NULL)
        e = lg__fail(ctx, LG_ERR_UNSUPPORTED,
                     "%s: shape type %s (%d) is not supported (only Polygon, PolygonZ, "
                     "PolygonM)",
                     path, SHPTypeName(type), type);
    if (e == LG_OK && nrec == 0)
        e = lg__fail(ctx, LG_ERR_FORMAT, "%s: no records", path);

    SAHooks hooks;
    sa_hooks(&hooks);
    sa_pre[0] = (struct sa_handoff){r.shp_path, r.f_shp};
    sa_pre[1] = (struct sa_handoff){r.shx_path, r.f_shx};
    if (e == LG_OK && !(r.shp = SHPOpenLL(r.shp_path, "rb", &hooks))) {
        char det[600];
        e = lg__fail(ctx, LG_ERR_FORMAT, "%s: shapelib cannot open the shapefile%s", path,
                     sa_detail(det, sizeof det));
    }
    if (e == LG_OK && r.shp->nRecords != nrec)
        e = lg__fail(ctx, LG_ERR_FORMAT, "%s: the .shx lists %d records, shapelib read %d", path,
                     nrec, r.shp->nRecords);
    /* a handle shapelib took is its own now (closed by SHPClose, or on its failure) */
    r.f_shp = sa_pre[0].f;
    r.f_shx = sa_pre[1].f;
    sa_pre[0].f = sa_pre[1].f = NULL;
    sa_hooks(&hooks);
    sa_pre[2] = (struct sa_handoff){r.dbf_path, r.f_dbf};
    if (e == LG_OK && !(r.dbf = DBFOpenLL(r.dbf_path, "rb", &hooks))) {
        char det[600];
        e = lg__fail(ctx, LG_ERR_FORMAT, "%s: cannot open the .dbf %s%s", path, r.dbf_path,
                     sa_detail(det, sizeof det));
    }
    r.f_dbf = sa_pre[2].f;
    sa_pre[2].f = NULL;
    if (e == LG_OK)
        e = check_dbf_size(&r);
    if (e == LG_OK && DBFGetRecordCount(r.dbf) != nrec)
        e = lg__fail(ctx, LG_ERR_FORMAT,
                     "%s: the .dbf has %d records but the .shp has %d (they must match)", path,
                     DBFGetRecordCount(r.dbf), nrec);
    if (e == LG_OK) {
        bool nomem = false;
        cpg = read_small(r.a, cpg_path, 256, &nomem);
        dec_init(&r.dec, r.a, cpg, r.dbf->iLanguageDriver);
        r.dec_ready = true;
        if (!opt->crs)
            prj = read_small(r.a, prj_path, 1 << 20, &nomem);
        e = nomem ? lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory reading the .cpg/.prj", path)
                  : lgb_new(ctx, path, opt->flags, &r.b);
    }
    if (e == LG_OK)
        e = lgb_reserve(r.b, (size_t)nrec, 0);
    if (e == LG_OK)
        e = add_fields(&r);
    for (int i = 0; e == LG_OK && i < nrec; i++) {
        if ((i & 1023) == 1023 && !lg__progress(ctx, (uint64_t)i, (uint64_t)nrec)) {
            e = LG_ERR_CANCELLED;
            break;
        }
        e = lgb_begin_cell(r.b);
        if (e == LG_OK)
            e = read_shape(&r, i);
        if (e == LG_OK)
            e = read_attrs(&r, i);
        if (e == LG_OK)
            e = lgb_end_cell(r.b);
    }
    if (e == LG_OK) {
        lg_builder *b = r.b;
        r.b = NULL; /* consumed */
        e = lgb_finish(b, opt->crs ? opt->crs : prj, opt->id_field, out);
    }
    reader_free(&r);
    lg__free(r.a, prj);
    lg__free(r.a, cpg);
    lg__free(r.a, prj_path);
    lg__free(r.a, cpg_path);
    return e;
}

/* ------------------------------------------------------------------ writer */

typedef struct shp_writer {
    const lg_layer *l;
    const char *path;  /* the .shp being written, for messages */
    const char *final; /* path without extension */
    size_t final_len;
} shp_writer;

static uint64_t hash_more(uint64_t h, const void *p, size_t n)
{
    return n ? XXH3_64bits_withSeed(p, n, h) : h;
}

/* The save stamp's tag: a hash of everything the group's files are written from. */
static uint64_t group_tag(const lg_layer *l)
{
    uint64_t h = hash_more(0, STAMP_FORMAT, sizeof STAMP_FORMAT);
    const uint64_t dims[4] = {l->ncells, l->nverts, l->nrings, l->ncols};
    h = hash_more(h, dims, sizeof dims);
    h = hash_more(h, l->xy, 2 * (size_t)l->nverts * sizeof *l->xy);
    h = hash_more(h, l->ring_off, ((size_t)l->nrings + 1) * sizeof *l->ring_off);
    h = hash_more(h, l->ring_hole, l->nrings);
    h = hash_more(h, l->cell_ring, (l->ncells + 1) * sizeof *l->cell_ring);
    for (size_t f = 0; f < l->ncols; f++) {
        const lg_column *c = &l->cols[f];
        const uint32_t type = (uint32_t)c->type;
        h = hash_more(h, c->name, strlen(c->name) + 1);
        h = hash_more(h, &type, sizeof type);
        h = hash_more(h, c->null, l->ncells);
        if (c->type == LG_FIELD_INT) {
            h = hash_more(h, c->i, l->ncells * sizeof *c->i);
        } else if (c->type == LG_FIELD_REAL) {
            h = hash_more(h, c->r, l->ncells * sizeof *c->r);
        } else {
            for (size_t r = 0; r < l->ncells; r++)
                if (!c->null[r])
                    h = hash_more(h, c->pool + c->off[r], strlen(c->pool + c->off[r]) + 1);
        }
    }
    return hash_more(h, l->crs ? l->crs : "", l->crs ? strlen(l->crs) + 1 : 1);
}

static lg_error stamp_file(lg_context *ctx, const shp_writer *w, const char *path, uint64_t off,
                           uint64_t tag)
{
    unsigned char b[STAMP_LEN];
    memcpy(b, STAMP_MAGIC, 4);
    for (int i = 0; i < 8; i++)
        b[4 + i] = (unsigned char)(tag >> (8 * i));
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t k = fd >= 0 ? pwrite(fd, b, sizeof b, (off_t)off) : -1;
    int err = errno;
    if (fd >= 0 && close(fd) != 0 && k == (ssize_t)sizeof b) {
        err = errno;
        k = -1;
    }
    if (k != (ssize_t)sizeof b)
        return lg__fail(ctx, LG_ERR_IO, "%s: cannot stamp %s: %s", w->path, path,
                        k < 0 ? strerror(err) : "short write");
    return LG_OK;
}

static const char *const group_ext[] = {".shx", ".dbf", ".prj", ".cpg"};

static char *cat2(const lg_allocator *a, const char *s, size_t n, const char *ext)
{
    size_t e = strlen(ext);
    char *p = lg__malloc(a, n + e + 1);
    if (p) {
        memcpy(p, s, n);
        memcpy(p + n, ext, e + 1);
    }
    return p;
}

/* Shortest %.Ng that reads back as the same double. */
static int fmt_double(char *buf, size_t cap, double v)
{
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return n;
}

static lg_error write_shp(lg_context *ctx, shp_writer *w, const char *tmp_shp)
{
    const lg_layer *l = w->l;
    const lg_allocator *a = &ctx->alloc;
    SAHooks hooks;
    sa_hooks(&hooks);
    SHPHandle h = SHPCreateLL(tmp_shp, SHPT_POLYGON, &hooks);
    char det[600];
    if (!h)
        return lg__fail(ctx, LG_ERR_IO, "%s: cannot create %s%s", w->path, tmp_shp,
                        sa_detail(det, sizeof det));
    lg_error e = LG_OK;
    double *x = NULL, *y = NULL;
    int *starts = NULL;
    size_t cap_v = 0, cap_p = 0;
    for (size_t c = 0; e == LG_OK && c < l->ncells; c++) {
        size_t r0 = l->cell_ring[c], r1 = l->cell_ring[c + 1];
        size_t v0 = l->ring_off[r0], v1 = l->ring_off[r1];
        SHPObject *o;
        if (r0 == r1) {
            o = SHPCreateObject(SHPT_NULL, -1, 0, NULL, NULL, 0, NULL, NULL, NULL, NULL);
        } else {
            if (lg__grow(a, (void **)&x, &cap_v, v1 - v0, sizeof *x) ||
                lg__grow(a, (void **)&starts, &cap_p, r1 - r0, sizeof *starts)) {
                e = lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", w->path);
                break;
            }
            size_t cap_y = cap_v;
            double *ny = lg__realloc(a, y, cap_y * sizeof *y);
            if (!ny) {
                e = lg__fail(ctx, LG_ERR_NOMEM, "%s: out of memory", w->path);
                break;
            }
            y = ny;
            for (size_t r = r0; r < r1; r++) {
                size_t s = l->ring_off[r], t = l->ring_off[r + 1];
                const double *xy = l->xy + 2 * s;
                double area = signed_area(xy, t - s);
                /* shapefile orientation: shells clockwise, holes counter-clockwise */
                bool hole = l->ring_hole[r] && r != r0;
                bool reverse = hole ? area < 0 : area > 0;
                starts[r - r0] = (int)(s - v0);
                for (size_t k = 0; k < t - s; k++) {
                    size_t src = reverse ? t - s - 1 - k : k;
                    x[s - v0 + k] = xy[2 * src];
                    y[s - v0 + k] = xy[2 * src + 1];
                }
            }
            o = SHPCreateObject(SHPT_POLYGON, -1, (int)(r1 - r0), starts, NULL, (int)(v1 - v0), x,
                                y, NULL, NULL);
        }
        if (!o) {
            e = lg__fail(ctx, LG_ERR_NOMEM, "%s: record %zu: out of memory", w->path, c);
            break;
        }
        sa_msg[0] = '\0';
        if (SHPWriteObject(h, -1, o) < 0)
            e = lg__fail(ctx, LG_ERR_IO, "%s: record %zu: cannot be written%s", w->path, c,
                         sa_detail(det, sizeof det));
        SHPDestroyObject(o);
    }
    sa_msg[0] = '\0';
    SHPClose(h);
    if (e == LG_OK && sa_msg[0])
        e = lg__fail(ctx, LG_ERR_IO, "%s: writing failed%s", w->path, sa_detail(det, sizeof det));
    lg__free(a, x);
    lg__free(a, y);
    lg__free(a, starts);
    return e;
}

/* DBF names: at most 10 bytes (cut at a UTF-8 boundary), unique. */
static void dbf_name(const lg_layer *l, size_t f, char out[XBASE_FLDNAME_LEN_WRITE + 1])
{
    const char *name = l->cols[f].name;
    size_t n = strlen(name);
    if (n > XBASE_FLDNAME_LEN_WRITE) {
        n = XBASE_FLDNAME_LEN_WRITE;
        while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out, name, n);
    out[n] = '\0';
    for (int k = 1; k < 100000; k++) {
        bool dup = false;
        for (size_t g = 0; g < f && !dup; g++) {
            char other[XBASE_FLDNAME_LEN_WRITE + 1];
            const char *on = l->cols[g].name;
            size_t m = strlen(on);
            /* compare with earlier fields' names as written (recomputed cheaply) */
            if (m <= XBASE_FLDNAME_LEN_WRITE) {
                dup = strcasecmp(on, out) == 0;
            } else {
                dbf_name(l, g, other);
                dup = strcasecmp(other, out) == 0;
            }
        }
        if (!dup)
            return;
        char suffix[16];
        int sl = snprintf(suffix, sizeof suffix, "_%d", k);
        size_t keep = n;
        if (keep + (size_t)sl > XBASE_FLDNAME_LEN_WRITE)
            keep = XBASE_FLDNAME_LEN_WRITE - (size_t)sl;
        while (keep > 0 && ((unsigned char)name[keep] & 0xC0) == 0x80)
            keep--;
        memcpy(out, name, keep);
        memcpy(out + keep, suffix, (size_t)sl + 1);
    }
}

static lg_error write_dbf(lg_context *ctx, shp_writer *w, const char *tmp_dbf)
{
    const lg_layer *l = w->l;
    SAHooks hooks;
    sa_hooks(&hooks);
    char det[600];
    /* "UTF-8" makes shapelib write the .cpg beside the .dbf */
    DBFHandle d = DBFCreateLL(tmp_dbf, "UTF-8", &hooks);
    if (!d)
        return lg__fail(ctx, LG_ERR_IO, "%s: cannot create %s%s", w->path, tmp_dbf,
                        sa_detail(det, sizeof det));
    lg_error e = LG_OK;
    for (size_t f = 0; e == LG_OK && f < l->ncols; f++) {
        const lg_column *c = &l->cols[f];
        char name[XBASE_FLDNAME_LEN_WRITE + 1];
        dbf_name(l, f, name);
        int width = 1, dec = 0;
        char type = 'N';
        if (c->type == LG_FIELD_INT) {
            for (size_t r = 0; r < l->ncells; r++) {
                if (c->null[r])
                    continue;
                char b[32];
                int n = snprintf(b, sizeof b, "%lld", (long long)c->i[r]);
                if (n > width)
                    width = n;
            }
            /* wider than 18 digits reads back as REAL: the DBF numeric limit */
        } else if (c->type == LG_FIELD_REAL) {
            width = 24;
            dec = 15;
        } else {
            type = 'C';
            for (size_t r = 0; r < l->ncells; r++) {
                size_t n = c->null[r] ? 0 : strlen(c->pool + c->off[r]);
                if (n > 254) {
                    e = lg__fail(ctx, LG_ERR_UNSUPPORTED,
                                 "%s: record %zu: field '%s' holds %zu bytes of text; a .dbf "
                                 "field holds at most 254",
                                 w->path, r, c->name, n);
                    break;
                }
                if ((int)n > width)
                    width = (int)n;
            }
        }
        sa_msg[0] = '\0';
        if (e == LG_OK && DBFAddNativeFieldType(d, name, type, width, dec) < 0)
            e = lg__fail(ctx, LG_ERR_IO, "%s: cannot add field '%s' to the .dbf%s", w->path,
                         c->name, sa_detail(det, sizeof det));
    }
    /* a .dbf needs a field to hold records: like GDAL, give a field-less layer "FID" */
    if (e == LG_OK && l->ncols == 0 && DBFAddField(d, "FID", FTInteger, 10, 0) < 0)
        e = lg__fail(ctx, LG_ERR_IO, "%s: cannot add field FID to the .dbf%s", w->path,
                     sa_detail(det, sizeof det));
    for (size_t r = 0; e == LG_OK && r < l->ncells; r++) {
        int ok = 1;
        if (l->ncols == 0)
            ok = DBFWriteIntegerAttribute(d, (int)r, 0, (int)r);
        for (size_t f = 0; ok && f < l->ncols; f++) {
            const lg_column *c = &l->cols[f];
            char b[64];
            if (c->null[r] || (c->type == LG_FIELD_REAL && !isfinite(c->r[r]))) {
                ok = DBFWriteNULLAttribute(d, (int)r, (int)f);
            } else if (c->type == LG_FIELD_INT) {
                snprintf(b, sizeof b, "%*lld", d->panFieldSize[f], (long long)c->i[r]);
                ok = DBFWriteAttributeDirectly(d, (int)r, (int)f, b);
            } else if (c->type == LG_FIELD_REAL) {
                char v[40];
                fmt_double(v, sizeof v, c->r[r]);
                snprintf(b, sizeof b, "%*s", d->panFieldSize[f], v);
                ok = DBFWriteAttributeDirectly(d, (int)r, (int)f, b);
            } else {
                ok = DBFWriteStringAttribute(d, (int)r, (int)f, c->pool + c->off[r]);
            }
        }
        if (!ok)
            e = lg__fail(ctx, LG_ERR_IO, "%s: record %zu: cannot write the .dbf record%s", w->path,
                         r, sa_detail(det, sizeof det));
    }
    sa_msg[0] = '\0';
    DBFClose(d);
    if (e == LG_OK && sa_msg[0])
        e = lg__fail(ctx, LG_ERR_IO, "%s: writing the .dbf failed%s", w->path,
                     sa_detail(det, sizeof det));
    return e;
}

static lg_error write_text_file(lg_context *ctx, const char *path, const char *what, const char *s,
                                size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return lg__fail(ctx, LG_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    size_t w = fwrite(s, 1, n, f);
    int rc = fclose(f);
    if (w != n || rc != 0)
        return lg__fail(ctx, LG_ERR_IO, "%s: cannot write the %s", path, what);
    return LG_OK;
}

static int fsync_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    int rc = fsync(fileno(f));
    fclose(f);
    return rc;
}

/*
 * Called by lg__write_atomic with the reserved temporary name for the .shp. All files
 * are written under that name plus their extension, stamped, flushed, and only then
 * renamed into place: the siblings here in the order .shx, .dbf, .prj, .cpg (the
 * order the save stamps rely on: the .shx first), the .shp last by lg__write_atomic.
 */
static lg_error write_group(lg_context *ctx, const char *tmp, void *udata)
{
    shp_writer *w = udata;
    const lg_allocator *a = &ctx->alloc;
    size_t tl = strlen(tmp);
    enum { NGROUP = 4 };
    char *tmp_shp = cat2(a, tmp, tl, ".shp");
    char *tmps[NGROUP] = {0}, *finals[NGROUP] = {0};
    lg_error e = tmp_shp ? LG_OK : lg__fail(ctx, LG_ERR_NOMEM, "out of memory");
    for (int i = 0; e == LG_OK && i < NGROUP; i++) {
        tmps[i] = cat2(a, tmp, tl, group_ext[i]);
        finals[i] = cat2(a, w->final, w->final_len, group_ext[i]);
        if (!tmps[i] || !finals[i])
            e = lg__fail(ctx, LG_ERR_NOMEM, "out of memory");
    }
    if (e == LG_OK)
        e = write_shp(ctx, w, tmp_shp);
    if (e == LG_OK)
        e = write_dbf(ctx, w, tmps[1]);
    bool have_prj = false;
    if (e == LG_OK && w->l->crs) {
        char buf[4096];
        size_t len = 0;
        e = lg_crs_to_esri_wkt(ctx, w->l->crs, buf, sizeof buf, &len);
        if (e == LG_OK && len < sizeof buf) {
            e = write_text_file(ctx, tmps[2], ".prj", buf, len);
        } else if (e == LG_OK) {
            char *big = lg__malloc(a, len + 1);
            if (!big)
                e = lg__fail(ctx, LG_ERR_NOMEM, "out of memory");
            if (e == LG_OK)
                e = lg_crs_to_esri_wkt(ctx, w->l->crs, big, len + 1, &len);
            if (e == LG_OK)
                e = write_text_file(ctx, tmps[2], ".prj", big, len);
            lg__free(a, big);
        } else {
            char msg[sizeof ctx->msg];
            snprintf(msg, sizeof msg, "%s", ctx->msg);
            lg__fail(ctx, e, "%s: cannot write the .prj for CRS '%.80s': %s", w->path, w->l->crs,
                     msg);
        }
        have_prj = e == LG_OK;
    }
    if (e == LG_OK && access(tmps[3], F_OK) != 0)
        e = write_text_file(ctx, tmps[3], ".cpg", "UTF-8", 5);
    /* the save stamp (see "save stamps"): same tag in the .shp, .shx and .dbf */
    uint64_t tag = group_tag(w->l);
    if (e == LG_OK)
        e = stamp_file(ctx, w, tmp_shp, SHP_STAMP_OFF, tag);
    if (e == LG_OK)
        e = stamp_file(ctx, w, tmps[0], SHP_STAMP_OFF, tag);
    if (e == LG_OK)
        e = stamp_file(ctx, w, tmps[1], DBF_STAMP_OFF, tag);
    for (int i = 0; e == LG_OK && i < NGROUP; i++)
        if ((i != 2 || have_prj) && fsync_file(tmps[i]) != 0)
            e = lg__fail(ctx, LG_ERR_IO, "%s: cannot flush %s: %s", w->path, tmps[i],
                         strerror(errno));
    if (e == LG_OK && fsync_file(tmp_shp) != 0)
        e = lg__fail(ctx, LG_ERR_IO, "%s: cannot flush %s: %s", w->path, tmp_shp, strerror(errno));
    /* every file is complete: rename them all */
    for (int i = 0; e == LG_OK && i < NGROUP; i++) {
        if (i == 2 && !have_prj) {
            unlink(finals[i]); /* a stale .prj would describe the old data */
            continue;
        }
        if (rename(tmps[i], finals[i]) != 0)
            e = lg__fail(ctx, LG_ERR_IO, "%s: cannot rename %s into place: %s", w->path, tmps[i],
                         strerror(errno));
    }
    if (e == LG_OK && rename(tmp_shp, tmp) != 0)
        e = lg__fail(ctx, LG_ERR_IO, "%s: cannot rename %s: %s", w->path, tmp_shp, strerror(errno));
    if (e != LG_OK) {
        if (tmp_shp)
            unlink(tmp_shp);
        for (int i = 0; i < NGROUP; i++)
            if (tmps[i])
                unlink(tmps[i]);
    }
    lg__free(a, tmp_shp);
    for (int i = 0; i < NGROUP; i++) {
        lg__free(a, tmps[i]);
        lg__free(a, finals[i]);
    }
    return e;
}

lg_error lg_layer_write_shapefile(lg_context *ctx, const lg_layer *layer, const char *path)
{
    if (!ctx)
        return LG_ERR_ARG;
    lg__clear(ctx);
    if (!layer || !path)
        return lg__fail(ctx, LG_ERR_ARG, "lg_layer_write_shapefile: layer and path are required");
    if (layer->ncells > INT32_MAX / 2 || layer->nverts > INT32_MAX / 2)
        return lg__fail(ctx, LG_ERR_UNSUPPORTED, "%s: layer too large for a shapefile", path);
    size_t n = strlen(path);
    shp_writer w = {layer, path, path, n};
    if (n > 4 && strcasecmp(path + n - 4, ".shp") == 0)
        w.final_len = n - 4;
    char *shp = cat2(&ctx->alloc, path, w.final_len, ".shp");
    if (!shp)
        return lg__fail(ctx, LG_ERR_NOMEM, "out of memory");
    if (w.final_len < n)
        memcpy(shp + w.final_len, path + w.final_len, 4); /* keep the caller's case */
    w.path = shp;
    lg_error e = lg__write_atomic(ctx, shp, write_group, &w);
    lg__free(&ctx->alloc, shp);
    return e;
}
