/* fuzz_trainlog.c - libFuzzer target for the training-log reader (trainlog.c), what
 * `summarize --train` reads (clip-train, unet-train and sketch-score --train's log.ndjson).
 *
 * Properties, besides "no crash, no sanitizer report": a refusal is EXIT_DATA naming the input and
 * a line ("fuzz:N: ..."); an accepted log has at most TRAINLOG_MAX_KEYS distinct, non-empty-array
 * columns of exactly n rows (every cell read: ASan catches a short column); trainlog_find finds every column at its own index; parsing twice gives
 * the same columns bit for bit.
 */
#include "trainlog.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    trainlog_t a, b;
    err_t e = {0};
    int rc = trainlog_parse(&a, (const char *)data, size, "fuzz", &e);
    if (rc) {
        if (rc != EXIT_DATA || strncmp(e.msg, "fuzz", 4) || !e.msg[4]) abort();
        return 0;
    }
    if (a.nk < 0 || a.nk > TRAINLOG_MAX_KEYS || a.n < 0 || a.n > TRAINLOG_MAX_LINES) abort();
    for (int k = 0; k < a.nk; k++)
        if (!a.key[k] || trainlog_find(&a, a.key[k]) != k) abort();
    if (trainlog_parse(&b, (const char *)data, size, "fuzz", &e)) abort();
    if (b.nk != a.nk || b.n != a.n) abort();
    for (int k = 0; k < a.nk; k++) {
        if (strcmp(a.key[k], b.key[k])) abort();
        if (a.n && memcmp(a.col[k], b.col[k], (size_t)a.n * sizeof(double))) abort();
    }
    trainlog_free(&a);
    trainlog_free(&b);
    return 0;
}
