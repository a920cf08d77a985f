/*
 * Fuzz target: the command's CSV reader (tools/csv.c) over the bytes (fmemopen).
 * The first byte picks the record size limit. Checks: fields are NUL-terminated at
 * their length, the raw text and line numbers are sane, and writing a field back
 * and reading it again gives the same value.
 */
#include "csv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void roundtrip(const char *v, size_t n)
{
    char *buf = NULL;
    size_t blen = 0;
    FILE *out = open_memstream(&buf, &blen);
    if (!out)
        abort();
    if (csv_write_field(out, v, n) < 0)
        abort();
    fputc('\n', out);
    fclose(out);
    FILE *in = fmemopen(buf, blen, "rb");
    if (!in)
        abort();
    csv_reader *r = csv_new(in, 0);
    if (!r)
        abort();
    csv_status s = csv_next(r);
    if (n == 0 || memchr(v, '\0', n)) {
        /* an empty field is a blank line (skipped); NUL bytes are not CSV text */
    } else if (s != CSV_OK || csv_nfields(r) != 1 || csv_field_len(r, 0) != n ||
               memcmp(csv_field(r, 0), v, n) != 0) {
        /* a leading BOM in the value is skipped by design */
        if (!(n >= 3 && memcmp(v, "\xEF\xBB\xBF", 3) == 0))
            abort();
    }
    csv_free(r);
    fclose(in);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t max_record = data[0] < 128 ? 0 : (size_t)(data[0] - 120);
    FILE *f = fmemopen((void *)(data + 1), size - 1 ? size - 1 : 1, "rb");
    if (!f)
        abort();
    if (size == 1)
        fgetc(f); /* fmemopen needs a non-zero size: consume the one byte */
    csv_reader *r = csv_new(f, max_record);
    if (!r)
        abort();
    unsigned long long last_line = 0;
    for (int guard = 0; guard < 100000; guard++) {
        csv_status s = csv_next(r);
        if (s == CSV_EOF || s == CSV_IOERR || s == CSV_NOMEM)
            break;
        if (s == CSV_BAD) {
            if (!csv_error(r) || !csv_error(r)[0])
                abort();
            continue;
        }
        if (s != CSV_OK)
            abort();
        unsigned long long line = csv_line(r);
        if (line < 1 || line < last_line)
            abort();
        last_line = line;
        size_t raw_len = 0;
        const char *raw = csv_raw(r, &raw_len);
        if (!raw || raw_len > size)
            abort();
        const char *eol = csv_eol(r);
        if (!eol || strlen(eol) > 2)
            abort();
        size_t nf = csv_nfields(r);
        for (size_t i = 0; i < nf; i++) {
            const char *v = csv_field(r, i);
            size_t n = csv_field_len(r, i);
            if (!v || v[n] != '\0' || n > raw_len)
                abort();
            if (i < 4)
                roundtrip(v, n);
        }
    }
    (void)csv_had_bom(r);
    csv_free(r);
    fclose(f);
    return 0;
}
