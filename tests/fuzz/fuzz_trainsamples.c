/* fuzz_trainsamples.c - libFuzzer target for the reader of clip-train's samples.ndjson
 * (trainlog.c trainsamples_parse), what `summarize --train` draws as a sample grid.
 *
 * Properties, besides "no crash, no sanitizer report": a refusal is EXIT_DATA naming the input and a
 * line ("fuzz:N: ..."); an accepted file has at most TRAINSAMPLES_MAX samples, each with a non-empty
 * word, a drawing with at least one point, 1..TRAINSAMPLES_TOP non-empty guesses whose probabilities lie
 * in [0, 1], never rise and sum to at most 1 (+1e-4), and a step of -1 or more; parsing twice gives the
 * same samples.
 */
#include "trainlog.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    trainsamples_t a, b;
    err_t e = {0};
    int rc = trainsamples_parse(&a, (const char *)data, size, "fuzz", &e);
    if (rc) {
        if (rc != EXIT_DATA || strncmp(e.msg, "fuzz:", 5) || !e.msg[5]) abort();
        return 0;
    }
    if (a.n < 0 || a.n > TRAINSAMPLES_MAX) abort();
    for (int i = 0; i < a.n; i++) {
        const trainsample_t *s = &a.s[i];
        double sum = 0;
        if (!s->word || !s->word[0] || !s->key_id || s->step < -1) abort();
        if (drawing_npoints(&s->drawing) < 1) abort();
        if (s->ntop < 1 || s->ntop > TRAINSAMPLES_TOP) abort();
        for (int k = 0; k < s->ntop; k++) {
            if (!s->top[k] || !s->top[k][0] || !(s->p[k] >= 0 && s->p[k] <= 1)) abort();
            if (k && s->p[k] > s->p[k - 1]) abort();
            sum += s->p[k];
        }
        if (sum > 1 + 1e-4) abort();
    }
    if (trainsamples_parse(&b, (const char *)data, size, "fuzz", &e) || b.n != a.n) abort();
    for (int i = 0; i < a.n; i++) {
        const trainsample_t *x = &a.s[i], *y = &b.s[i];
        if (strcmp(x->word, y->word) || strcmp(x->key_id, y->key_id) || x->step != y->step || x->ntop != y->ntop) abort();
        if (x->drawing.nstrokes != y->drawing.nstrokes || drawing_npoints(&x->drawing) != drawing_npoints(&y->drawing)) abort();
        for (int k = 0; k < x->ntop; k++)
            if (strcmp(x->top[k], y->top[k]) || memcmp(&x->p[k], &y->p[k], sizeof(double))) abort();
    }
    trainsamples_free(&a);
    trainsamples_free(&b);
    return 0;
}
