/* t.h - the unit-test harness: CHECK prints "ok"/"not ok" lines (TAP-like)
 * that tests/run.sh counts; a test binary exits non-zero if any check failed. */
#ifndef T_H
#define T_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
static int t_fail, t_pass;
#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (cond) { t_pass++; printf("ok - "); }                               \
        else { t_fail++; printf("not ok - %s:%d: ", __FILE__, __LINE__); }     \
        printf(__VA_ARGS__);                                                   \
        printf("\n");                                                          \
    } while (0)
/* |a-b| <= atol + rtol*|b| */
#define CHECK_CLOSE(a, b, atol, rtol, ...)                                     \
    do {                                                                       \
        double a_ = (a), b_ = (b);                                             \
        CHECK(fabs(a_ - b_) <= (atol) + (rtol)*fabs(b_), __VA_ARGS__);         \
        if (!(fabs(a_ - b_) <= (atol) + (rtol)*fabs(b_)))                      \
            printf("#   got %.9g want %.9g\n", a_, b_);                        \
    } while (0)
#define T_DONE() return t_fail ? 1 : 0

/* The whole file at path, malloc'd with one spare byte (room for a NUL), its
 * size in *len; NULL if it cannot be opened or sized. */
static inline unsigned char *t_slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    long n;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) return fclose(f), NULL;
    unsigned char *b = malloc((size_t)n + 1);
    if (b) *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}
#endif
