/* Streaming RFC 4180 CSV reader (see csv.h). */
#include "csv.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CSV_BUF (1u << 16)

struct csv_reader {
    FILE *f;
    size_t max_record;
    unsigned char buf[CSV_BUF];
    size_t pos, len;
    bool eof, ioerr, started, bom;

    char *raw; /* raw record text */
    size_t raw_len, raw_cap;
    char *val; /* field values, each NUL-terminated */
    size_t val_len, val_cap;
    size_t *off; /* start of field i in val; off[nf] = end */
    size_t nf, off_cap;
    const char *eol;
    unsigned long long line, cur_line;
    char err[160];
};

csv_reader *csv_new(FILE *f, size_t max_record)
{
    csv_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->f = f;
    r->max_record = max_record ? max_record : SIZE_MAX / 2;
    r->cur_line = 1;
    r->eol = "";
    return r;
}

void csv_free(csv_reader *r)
{
    if (!r)
        return;
    free(r->raw);
    free(r->val);
    free(r->off);
    free(r);
}

static bool fill(csv_reader *r)
{
    if (r->eof || r->ioerr)
        return false;
    r->len = fread(r->buf, 1, CSV_BUF, r->f);
    r->pos = 0;
    if (r->len == 0) {
        if (ferror(r->f))
            r->ioerr = true;
        else
            r->eof = true;
        return false;
    }
    return true;
}

static int peekc(csv_reader *r)
{
    if (r->pos == r->len && !fill(r))
        return EOF;
    return r->buf[r->pos];
}

static int getc_(csv_reader *r)
{
    int c = peekc(r);
    if (c != EOF)
        r->pos++;
    return c;
}

static bool grow(char **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    char *q = realloc(*p, n);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

static bool push_raw(csv_reader *r, int c)
{
    if (!grow(&r->raw, &r->raw_cap, r->raw_len + 2))
        return false;
    r->raw[r->raw_len++] = (char)c;
    r->raw[r->raw_len] = '\0';
    return true;
}

static bool push_val(csv_reader *r, int c)
{
    if (!grow(&r->val, &r->val_cap, r->val_len + 1))
        return false;
    r->val[r->val_len++] = (char)c;
    return true;
}

static bool begin_field(csv_reader *r)
{
    if (r->nf + 2 > r->off_cap) {
        size_t n = r->off_cap ? r->off_cap * 2 : 64;
        size_t *p = realloc(r->off, n * sizeof *p);
        if (!p)
            return false;
        r->off = p;
        r->off_cap = n;
    }
    r->off[r->nf] = r->val_len;
    return true;
}

static bool end_field(csv_reader *r)
{
    if (!push_val(r, '\0'))
        return false;
    r->nf++;
    r->off[r->nf] = r->val_len;
    return true;
}

/* Consume a line end starting with c ('\n' or '\r'); record it as the record's eol. */
static void take_eol(csv_reader *r, int c)
{
    if (c == '\r' && peekc(r) == '\n') {
        r->pos++;
        r->eol = "\r\n";
    } else {
        r->eol = c == '\r' ? "\r" : "\n";
    }
    r->cur_line++;
}

/* After a malformed record: keep its raw text up to the end of the line. */
static csv_status bad(csv_reader *r, const char *reason)
{
    snprintf(r->err, sizeof r->err, "%s", reason);
    for (;;) {
        int c = getc_(r);
        if (c == EOF) {
            r->eol = "";
            break;
        }
        if (c == '\n' || c == '\r') {
            take_eol(r, c);
            break;
        }
        if (r->raw_len < r->max_record && !push_raw(r, c))
            return CSV_NOMEM;
    }
    return r->ioerr ? CSV_IOERR : CSV_BAD;
}

csv_status csv_next(csv_reader *r)
{
    if (!r->started) {
        r->started = true;
        if (peekc(r) == 0xEF && r->len - r->pos >= 3 && r->buf[r->pos + 1] == 0xBB &&
            r->buf[r->pos + 2] == 0xBF) {
            r->pos += 3;
            r->bom = true;
        }
    }
    int c;
    for (;;) { /* skip blank lines */
        c = getc_(r);
        if (c == '\n' || c == '\r') {
            take_eol(r, c);
            continue;
        }
        break;
    }
    r->raw_len = r->val_len = r->nf = 0;
    r->err[0] = '\0';
    r->eol = "";
    r->line = r->cur_line;
    if (c == EOF)
        return r->ioerr ? CSV_IOERR : CSV_EOF;
    if (!grow(&r->raw, &r->raw_cap, 1))
        return CSV_NOMEM;
    r->raw[0] = '\0';
    for (;;) { /* one field per iteration; c is its first character */
        if (!begin_field(r))
            return CSV_NOMEM;
        if (c == '"') {
            unsigned long long opened = r->cur_line;
            if (!push_raw(r, c))
                return CSV_NOMEM;
            for (;;) {
                c = getc_(r);
                if (c == EOF) {
                    char why[96];
                    snprintf(why, sizeof why, "unterminated quoted field (opened on line %llu)",
                             opened);
                    return bad(r, why);
                }
                if (!push_raw(r, c))
                    return CSV_NOMEM;
                if (c == '"') {
                    if (peekc(r) != '"')
                        break;
                    r->pos++;
                    if (!push_raw(r, '"'))
                        return CSV_NOMEM;
                } else if (c == '\n' || (c == '\r' && peekc(r) != '\n')) {
                    r->cur_line++;
                }
                if (!push_val(r, c))
                    return CSV_NOMEM;
                if (r->raw_len > r->max_record)
                    return bad(r, "record too long (unterminated quoted field?)");
            }
            c = getc_(r);
            if (c != ',' && c != '\n' && c != '\r' && c != EOF) {
                if (!push_raw(r, c))
                    return CSV_NOMEM;
                return bad(r, "unexpected character after a closing quote");
            }
        } else {
            while (c != ',' && c != '\n' && c != '\r' && c != EOF) {
                if (!push_raw(r, c) || !push_val(r, c))
                    return CSV_NOMEM;
                if (r->raw_len > r->max_record)
                    return bad(r, "record too long");
                c = getc_(r);
            }
        }
        if (!end_field(r))
            return CSV_NOMEM;
        if (c == ',') {
            if (!push_raw(r, c))
                return CSV_NOMEM;
            c = getc_(r);
            continue;
        }
        if (c == '\n' || c == '\r')
            take_eol(r, c);
        else if (r->ioerr)
            return CSV_IOERR;
        return CSV_OK;
    }
}

size_t csv_nfields(const csv_reader *r)
{
    return r->nf;
}

const char *csv_field(const csv_reader *r, size_t i)
{
    return i < r->nf ? r->val + r->off[i] : "";
}

size_t csv_field_len(const csv_reader *r, size_t i)
{
    return i < r->nf ? r->off[i + 1] - r->off[i] - 1 : 0;
}

const char *csv_raw(const csv_reader *r, size_t *len)
{
    if (len)
        *len = r->raw_len;
    return r->raw_len ? r->raw : "";
}

const char *csv_eol(const csv_reader *r)
{
    return r->eol;
}

unsigned long long csv_line(const csv_reader *r)
{
    return r->line;
}

const char *csv_error(const csv_reader *r)
{
    return r->err;
}

bool csv_had_bom(const csv_reader *r)
{
    return r->bom;
}

int csv_write_field(FILE *out, const char *s, size_t len)
{
    if (!memchr(s, ',', len) && !memchr(s, '"', len) && !memchr(s, '\n', len) &&
        !memchr(s, '\r', len))
        return fwrite(s, 1, len, out) == len ? 0 : -1;
    if (putc('"', out) == EOF)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' && putc('"', out) == EOF)
            return -1;
        if (putc(s[i], out) == EOF)
            return -1;
    }
    return putc('"', out) == EOF ? -1 : 0;
}
