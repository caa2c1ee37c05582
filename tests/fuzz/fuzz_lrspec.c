/* fuzz_lrspec.c - libFuzzer target for the learning-rate schedule parser
 * (nn/lr.h).
 *
 * The input bytes, up to the first NUL, are the spec; the trainer defaults
 * are lr 1e-3 and total 1000.  Properties, besides "no crash, no sanitizer
 * report": the parser returns NN_OK or NN_EINVAL, a refusal has a message and
 * leaves the schedule untouched; an accepted schedule gives finite rates in
 * [0, max(lr, min)] at every step probed (0, around the warmup and the end,
 * far past it, negative), rises through the warmup, and its canonical form
 * (lr_format) parses back -- with other defaults -- to the same format and
 * the same rate at every probe.
 */
#include "nn/lr.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void probe(const lr_sched_t *s, double out[16]) {
    long long k[16] = {0, 1, 2, s->warmup - 1, s->warmup, s->warmup + 1, s->total - 1, s->total, s->total + 1,
                       s->every, s->every * 3 + s->warmup, 1000, 123456789, LR_MAX_STEPS, -1, -1000};
    for (int i = 0; i < 16; i++) out[i] = lr_at(s, k[i]);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    char *spec = malloc(size + 1);
    memcpy(spec, data, size);
    spec[size] = 0;
    lr_sched_t s, keep;
    memset(&s, 0x5a, sizeof s);
    keep = s;
    char msg[256] = "";
    int rc = lr_parse(&s, spec, 1e-3, 1000, msg, sizeof msg);
    if (rc != NN_OK) {
        if (rc != NN_EINVAL || !msg[0] || memcmp(&s, &keep, sizeof s)) abort();
        free(spec);
        return 0;
    }
    double a[16], b[16];
    probe(&s, a);
    double hi = s.lr > s.min ? s.lr : s.min;
    for (int i = 0; i < 16; i++)
        if (!isfinite(a[i]) || a[i] < 0 || a[i] > hi * (1 + 1e-12)) abort();
    for (long long k = 1; k < s.warmup && k < 64; k++)
        if (lr_at(&s, k) < lr_at(&s, k - 1)) abort();
    char f1[256], f2[256];
    int n1 = lr_format(&s, f1, sizeof f1);
    if (n1 <= 0 || n1 >= (int)sizeof f1) abort();
    lr_sched_t t;
    if (lr_parse(&t, f1, 7.0, 3, msg, sizeof msg) != NN_OK) abort();
    lr_format(&t, f2, sizeof f2);
    probe(&t, b);
    if (strcmp(f1, f2) || memcmp(a, b, sizeof a)) abort();
    free(spec);
    return 0;
}
