/* bpe.h - CLIP's text tokenizer (OpenAI CLIP's SimpleTokenizer) in C.
 *
 * bpe_load() reads bpe_simple_vocab_16e6.txt.gz (plain or gzip, through
 * common/input.h): a header line, then merges "a b", of which the first
 * 49152-256-2 = 48894 are used.  The vocabulary, in id order, is the 256 byte
 * symbols, the same with "</w>" appended, one entry per merge (its two halves
 * joined), "<|startoftext|>" (49406) and "<|endoftext|>" (49407): 49408 ids.
 *
 * Encoding follows clip/simple_tokenizer.py step by step:
 *   1. HTML-unescape twice, exactly as Python's html.unescape (all 2231 HTML5
 *      named references, with and without ';', longest-prefix rule, numeric
 *      references with the HTML5 replacement rules);
 *   2. every run of whitespace (Python's str.isspace) becomes one space; strip;
 *   3. lowercase as Python's str.lower() (Unicode 14 tables generated from
 *      CPython into bpe_tables.h; U+0130 -> "i\u0307"; Greek final sigma);
 *   4. split with the pattern
 *        <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 *      (case-insensitive), run by PCRE2 in UTF+UCP mode, so \p{L}/\p{N} are
 *      PCRE2's Unicode tables; \s is spelled out as Unicode White_Space, which
 *      is what the `regex` module matches (PCRE2's own \s adds U+180E);
 *   5. each piece's UTF-8 bytes become byte symbols and are merged by BPE
 *      (repeatedly, every occurrence of the lowest-ranked adjacent pair; the
 *      last symbol carries "</w>"); pieces equal to the two special tokens map
 *      to their ids directly.
 * What it deliberately does not do: CLIP first runs ftfy.fix_text, which repairs
 * mojibake, NFC-normalises, straightens curly quotes, splits ligatures,
 * narrows full-width forms and removes control characters.  None of that is
 * here; for ordinary NFC text without those characters ftfy is the identity.
 * Input must be valid UTF-8 (checked; an error, never a crash).
 *
 * Threads: after bpe_load() a bpe_t may be shared by any number of threads.
 * The only mutable part is a bounded, append-only cache of word -> ids:
 * writers take a mutex, readers take no lock (a slot is published last).
 *
 * Checked against tests/gen_bpe_ref.py, an independent Python implementation
 * of the same published rules (tests/fixtures/bpe/golden.jsonl).
 */
#ifndef BPE_H
#define BPE_H
#include "util.h"
#include <stddef.h>

#define BPE_VOCAB_SIZE 49408
#define BPE_SOT 49406  /* <|startoftext|> */
#define BPE_EOT 49407  /* <|endoftext|> */
#define BPE_CONTEXT 77 /* CLIP's context length */

typedef struct bpe bpe_t;

/* Load the merges file.  NULL on error (EXIT_IO: cannot open/read;
 * EXIT_MODEL: not a CLIP merges file, e.g. too few or malformed lines). */
bpe_t *bpe_load(const char *path, err_t *e);
void bpe_free(bpe_t *b);

/* Encode text (NUL-terminated UTF-8) to token ids, without SOT/EOT.  Writes at
 * most cap ids and returns how many the text needs (may exceed cap: call again
 * with a bigger buffer).  -1 on invalid UTF-8 (e: EXIT_DATA, with the byte
 * offset).  e may be NULL. */
int bpe_encode(bpe_t *b, const char *text, int *ids, int cap, err_t *e);

/* CLIP's tokenize() for one text: out[0..context) = SOT, ids, EOT, zeros.
 * If SOT+ids+EOT is longer than context: with truncate, keep the first
 * `context` tokens and set the last to EOT; without, fail with EXIT_DATA
 * ("too long for context length").  Returns the position of EOT (the index
 * CLIP's text tower reads its feature from), or -1 on error.  context >= 2. */
int clip_tokenize(bpe_t *b, const char *text, int context, int *out, int truncate, err_t *e);

/* Debugging: the text of ids as CLIP's decode() gives it ("</w>" -> " ",
 * invalid UTF-8 -> U+FFFD; ids outside the vocabulary are an error, 0 for
 * padding included only if passed).  Returns a malloc'd string, NULL on a bad
 * id (e: EXIT_DATA). */
char *bpe_decode(const bpe_t *b, const int *ids, int n, err_t *e);
/* The vocabulary entry of id as CLIP stores it (byte symbols, "</w>"), or
 * NULL if id is out of range.  Valid while b lives. */
const char *bpe_token_str(const bpe_t *b, int id);
/* id of a vocabulary entry (same spelling as bpe_token_str), -1 if absent. */
int bpe_token_id(const bpe_t *b, const char *tok);
/* Rank of the merge (a, b) by ids (0 = first line), -1 if none. */
int bpe_merge_rank(const bpe_t *b, int a, int b_);

/* Run BPE on one pre-tokenised piece of n bytes (no cleaning, no cache).
 * algo 0: the fast heap version used by bpe_encode; 1: the plain rounds
 * version (a reference, O(n^2)).  Same return convention as bpe_encode. */
int bpe_word(const bpe_t *b, const char *bytes, size_t n, int *ids, int cap, int algo);

/* Text cleaning alone (steps 1-3 above): a malloc'd string, NULL on invalid
 * UTF-8 (e: EXIT_DATA). */
char *bpe_clean(const char *text, err_t *e);
#endif
