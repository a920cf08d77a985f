/*
 * A streaming RFC 4180 CSV reader for the libgrid command: quoted fields with
 * embedded commas, doubled quotes and newlines; LF, CRLF or CR line ends; a UTF-8
 * byte-order mark at the start is skipped. Each record keeps its raw text (without
 * the line end) so that it can be written back unchanged.
 */
#ifndef LG_TOOLS_CSV_H
#define LG_TOOLS_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct csv_reader csv_reader;

typedef enum csv_status {
    CSV_OK = 0,    /* a record was read */
    CSV_EOF = 1,   /* no more records */
    CSV_BAD = 2,   /* malformed record; csv_error() says why; reading can go on */
    CSV_IOERR = 3, /* read error (errno set) */
    CSV_NOMEM = 4,
} csv_status;

/* A reader over f (not closed by csv_free). max_record: longest record in bytes. */
csv_reader *csv_new(FILE *f, size_t max_record);
void csv_free(csv_reader *r);

/* Read the next record. Blank lines are skipped. */
csv_status csv_next(csv_reader *r);
/* Fields of the last record: count, and the unquoted, NUL-terminated value of field i. */
size_t csv_nfields(const csv_reader *r);
const char *csv_field(const csv_reader *r, size_t i);
size_t csv_field_len(const csv_reader *r, size_t i);
/* Raw text of the last record as it was in the file, without its line end. */
const char *csv_raw(const csv_reader *r, size_t *len);
/* Line end of the last record ("\n", "\r\n", "\r", or "" at the end of the file). */
const char *csv_eol(const csv_reader *r);
/* Physical line number (1-based) where the last record started. */
unsigned long long csv_line(const csv_reader *r);
/* Reason for the last CSV_BAD. */
const char *csv_error(const csv_reader *r);
/* True if the input started with a UTF-8 byte-order mark. */
bool csv_had_bom(const csv_reader *r);

/* Write s as one CSV field, quoted when it holds a comma, quote, CR or LF. */
int csv_write_field(FILE *out, const char *s, size_t len);

#endif
