/* fuzz_bpe.c - libFuzzer target for CLIP's tokenizer (bpe.h).
 *
 * The input bytes are the text (up to its first NUL).  The vocabulary is
 * loaded once, from $INVCLIP_BPE or data/clip/bpe_simple_vocab_16e6.txt.gz
 * (make fuzz runs in the repository root).  Properties, besides "no crash, no
 * sanitizer report": bpe_encode() fails exactly on invalid UTF-8, with
 * EXIT_DATA; the count is the same with a small and a big buffer and a
 * second time (the word cache must give what BPE gave), the small buffer
 * holds its prefix; every id is in the vocabulary; the heap BPE equals the
 * plain rounds one on the raw bytes (short inputs: the rounds are O(n^2));
 * clip_tokenize() gives SOT, the ids, EOT and zeros, truncating or refusing
 * exactly when they do not fit; bpe_decode() of the ids is valid UTF-8.
 */
#include "bpe.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bpe_t *vocab(void) {
    static bpe_t *b;
    if (!b) {
        const char *path = getenv("INVCLIP_BPE");
        err_t e = {0};
        b = bpe_load(path ? path : "data/clip/bpe_simple_vocab_16e6.txt.gz", &e);
        if (!b) {
            fprintf(stderr, "fuzz_bpe: %s (set INVCLIP_BPE)\n", e.msg);
            exit(2);
        }
    }
    return b;
}

static void check_ids(const int *ids, int n) {
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= BPE_VOCAB_SIZE) abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    bpe_t *b = vocab();
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    size_t len = strlen(text);
    err_t e = {0};

    int small[8];
    int n = bpe_encode(b, text, small, 8, &e);
    if (n < 0) {
        if (utf8_valid(text, len, NULL) || e.code != EXIT_DATA) abort();
        free(text);
        return 0;
    }
    if (!utf8_valid(text, len, NULL)) abort();
    int *ids = malloc(((size_t)n + 1) * sizeof *ids);
    if (bpe_encode(b, text, ids, n, &e) != n || bpe_encode(b, text, ids, n, &e) != n) abort();
    check_ids(ids, n);
    if (memcmp(small, ids, (size_t)(n < 8 ? n : 8) * sizeof *ids)) abort();

    if (len > 0 && len <= 256) {
        int w0[256], w1[256];
        int k0 = bpe_word(b, text, len, w0, 256, 0), k1 = bpe_word(b, text, len, w1, 256, 1);
        if (k0 != k1 || k0 < 1 || k0 > (int)len || memcmp(w0, w1, (size_t)k0 * sizeof *w0)) abort();
        check_ids(w0, k0);
    }

    int tok[BPE_CONTEXT];
    for (int trunc = 0; trunc < 2; trunc++) {
        int eot = clip_tokenize(b, text, BPE_CONTEXT, tok, trunc, &e);
        int fits = n + 2 <= BPE_CONTEXT;
        if (eot < 0) {
            if (fits || trunc || e.code != EXIT_DATA) abort();
            continue;
        }
        if (!fits && !trunc) abort();
        int k = fits ? n : BPE_CONTEXT - 2;
        if (eot != k + 1 || tok[0] != BPE_SOT || tok[eot] != BPE_EOT) abort();
        if (memcmp(tok + 1, ids, (size_t)k * sizeof *ids)) abort();
        for (int i = eot + 1; i < BPE_CONTEXT; i++)
            if (tok[i]) abort();
    }

    char *back = bpe_decode(b, ids, n, &e);
    if (!back || !utf8_valid(back, strlen(back), NULL)) abort();
    free(back);
    free(ids);
    free(text);
    return 0;
}
