/* lr.h - learning-rate schedules and their one-line spec strings.
 *
 * A schedule is a pure function of the step index: lr_at(s, k) is the rate
 * for update number k, counted from 0 (the value torch's LR schedulers give
 * to the optimiser between the k-th and (k+1)-th scheduler.step()).  AdamW's
 * bias-correction step is then t = k + 1.  Since it depends on nothing else,
 * a resumed run needs only the step and the spec to continue exactly.
 *
 * Kinds (every one may start with a linear warmup; lr = base rate, W = warmup,
 * T = total steps, r = (k - W) / (T - W) clamped to [0, 1]):
 *   constant  lr
 *   linear    lr + (min - lr) * r                 (torch LinearLR(1, min/lr, T) when W = 0)
 *   cosine    min + (lr - min) * (1 + cos(pi r))/2 (torch CosineAnnealingLR(T, min) when W = 0,
 *                                                  for k <= T; after T it stays at min)
 *   step      lr * gamma^floor((k - W) / every)    (torch StepLR(every, gamma) when W = 0; 0 < gamma <= 1)
 * Warmup, for k < W: lr * (k + 1) / W, so the first update already moves and
 * update W-1 uses the full rate (llm.c's convention).  "warmup + cosine" is
 * cosine with warmup=N.
 *
 * Spec: KIND[:KEY=VALUE[,KEY=VALUE]...], e.g. "cosine:warmup=500,min=1e-5".
 * Keys: lr (base rate), warmup (steps), total (steps; linear and cosine),
 * min (final rate; linear and cosine), gamma and every (step).  The trainer
 * passes its --lr and --steps as defaults for lr and total; a key in the spec
 * overrides them.  Unknown, repeated or inapplicable keys, bad numbers and
 * inconsistent values are refused with a message.  lr_format writes the
 * canonical spec (every value, round-trip exact), which checkpoints store.
 *
 * Pure maths (nn.h rules): the parser writes its message into the caller's
 * buffer and returns NN_EINVAL; strtod is locale-dependent, and no tool here
 * changes LC_NUMERIC.
 */
#ifndef NN_LR_H
#define NN_LR_H
#include <stddef.h>
#include "nn.h"

typedef enum { LR_CONSTANT, LR_LINEAR, LR_COSINE, LR_STEP } lr_kind_t;

#define LR_MAX_STEPS 1000000000000LL /* bound on warmup, total, every */

typedef struct {
    lr_kind_t kind;
    double lr;        /* base (peak) rate, >= 0 */
    double min;       /* final rate of linear/cosine, >= 0 */
    double gamma;     /* step: factor, in (0, 1] */
    long long warmup; /* steps of linear warmup, >= 0 */
    long long total;  /* linear/cosine: steps to reach min, > warmup */
    long long every;  /* step: steps between factors, >= 1 */
} lr_sched_t;

/* Parse spec into s.  lr and total are the defaults for the keys of the same
 * name (total may be 0 when the kind does not need it).  NN_OK, or NN_EINVAL
 * with a one-line message in msg (msglen bytes, may be 0). */
int lr_parse(lr_sched_t *s, const char *spec, double lr, long long total, char *msg, size_t msglen);

/* The rate for update k >= 0 (k < 0 counts as 0). */
double lr_at(const lr_sched_t *s, long long k);

/* Canonical spec of s into buf (size n, NUL-terminated, truncated if short);
 * returns the length it needs, like snprintf. */
int lr_format(const lr_sched_t *s, char *buf, size_t n);

/* "constant", "linear", "cosine", "step" */
const char *lr_kind_name(lr_kind_t k);
#endif
