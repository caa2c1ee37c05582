/* t.h - the unit-test harness: CHECK prints "ok"/"not ok" lines (TAP-like)
 * that tests/run.sh counts; a test binary exits non-zero if any check failed. */
#ifndef T_H
#define T_H
#include <math.h>
#include <stdio.h>
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
#endif
