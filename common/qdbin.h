/* qdbin.h - decoder for Google's QuickDraw binary drawing format (.bin).
 *
 * A .bin file is a plain concatenation of records, all little-endian:
 *   key_id uint64, countrycode 2 ASCII bytes, recognized uint8,
 *   timestamp uint32 (unix seconds), n_strokes uint16, then per stroke
 *   n_points uint16, x uint8[n_points], y uint8[n_points].
 * There is no header, no record length and no sync marker, so a truncated
 * record cannot be skipped: the decoder reports it and the file ends there.
 * The word is not stored; callers take it from the file name.
 *
 * qdbin_read() reads one record from an input_t (input.h: plain or gzip) into
 * a drawing and a qdbin_meta_t; qdbin_to_json() writes the equivalent
 * QuickDraw ndjson record.  It does not write .bin files.
 */
#ifndef QDBIN_H
#define QDBIN_H
#include <stdint.h>
#include "input.h"
#include "sketch.h"
#include "util.h"

typedef struct {
    uint64_t key_id;
    char countrycode[3]; /* two bytes as stored, NUL-terminated */
    int recognized;      /* 0 or 1 (any non-zero byte is 1) */
    uint32_t timestamp;  /* unix seconds, UTC */
} qdbin_meta_t;

/* Read record number `index` (1-based, for messages) into d (cleared first)
 * and m.  Returns 0 = got a record, -1 = clean end of input, or an EXIT_*
 * code with e filled: EXIT_DATA "FILE: record N: truncated ..." when the input
 * ends inside a record, or the input's own error (EXIT_IO, or EXIT_DATA for
 * a corrupt .gz). */
int qdbin_read(input_t *in, long long index, drawing_t *d, qdbin_meta_t *m, err_t *e);

/* "YYYY-MM-DD HH:MM:SS UTC" (out must hold 32 bytes). */
void qdbin_time_str(uint32_t ts, char *out);

/* Append one ndjson record (no newline), fields in the order of Google's
 * ndjson files: word, countrycode, timestamp, recognized, key_id (decimal
 * string), drawing. */
void qdbin_to_json(buf_t *b, const char *word, const qdbin_meta_t *m, const drawing_t *d);

/* The word a .bin file name implies: its basename without ".bin" or
 * ".bin.gz" (written to out, at most n bytes with the NUL). */
void qdbin_word_from_path(const char *path, char *out, size_t n);
/* 1 if the name ends in ".bin" or ".bin.gz". */
int qdbin_is_bin_name(const char *path);
#endif
