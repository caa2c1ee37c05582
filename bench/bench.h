/* bench.h - helpers the C benchmark drivers share: the median of a run's
 * timings (sorts in place) and deterministic pseudo-random inputs in
 * [-0.5, 0.5) (an LCG: the same inputs on every machine, no seed files). */
#ifndef BENCH_H
#define BENCH_H
#include <stdlib.h>
#include "util.h"

static inline int bench_cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static inline double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp_d);
    return v[n / 2];
}
static inline float *rnd(size_t n, unsigned long long *s) {
    float *p = xmalloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) {
        *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
        p[i] = (float)(*s >> 40) / 16777216.0f - 0.5f;
    }
    return p;
}
#endif
