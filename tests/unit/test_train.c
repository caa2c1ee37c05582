/* test_train.c - the training core: common/params.c, common/nn/adamw.c,
 * common/nn/lr.c and common/checkpoint.c.
 *   - AdamW (two runs: decay on some tensors and not others, constant and
 *     cosine lr), clip_grad_norm_ and nine lr schedules against PyTorch
 *     fixtures written by tests/gen_adamw_ref.py (tests/fixtures/train/);
 *     every value within |a-b| <= atol + rtol*|b|, worst printed;
 *   - the lr spec parser: good specs, bad specs refused with a message,
 *     canonical format round trip;
 *   - the NaN/Inf scan finds planted values, params_check_finite names them;
 *   - params: declaration errors, layout and alignment, views, decay flags;
 *   - checkpoints: a toy linear model with its own forward/backward trains
 *     20 steps straight, and 10 + save + load into fresh state + 10: the two
 *     end bit-identical (params, m, v, RNGs); leaving one RNG unrestored
 *     changes the result (so the comparison can fail); a wrong shape, a
 *     missing tensor, an unexpected tensor, missing optimiser state, bad
 *     metadata and NaN in the file are refused naming the culprit;
 *   - serial, a 2-thread pool and emulated 3- and 7-way splits give
 *     bit-identical AdamW steps, norms, clipping and scans.
 */
#define _GNU_SOURCE /* memmem */
#include <string.h>
#include <unistd.h>
#include "checkpoint.h"
#include "nn/adamw.h"
#include "nn/lr.h"
#include "params.h"
#include "pool.h"
#include "rng.h"
#include "t.h"
#include "tensorfile.h"

#define FIX "tests/fixtures/train/"

/* ------------------------------------------------------------------ helpers */

static int read_into(tensorfile_t *tf, const char *name, float *dst, size_t n) {
    const tf_info_t *ti = tf_find(tf, name);
    err_t e = {0};
    if (!ti || ti->numel != n) {
        printf("# fixture tensor %s missing or of the wrong size\n", name);
        return 0;
    }
    if (tf_read_f32(tf, ti, dst, &e)) {
        printf("# %s\n", e.msg);
        return 0;
    }
    return 1;
}

/* Compare a (n) with b (n); counts into *bad; returns the worst |a-b|/(atol+rtol|b|). */
static double cmp(const float *a, const float *b, size_t n, double atol, double rtol, size_t *bad) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]), lim = atol + rtol * fabs(b[i]);
        if (!(d <= lim)) (*bad)++;
        if (d / lim > worst || d != d) worst = d / lim;
    }
    return worst;
}

/* Emulated parallelism: n items cut into `pieces` runs, called in reverse
 * order (so any dependence on split or order shows). */
static void fake_run(void *impl, int n, nn_task_fn fn, void *ctx) {
    int k = *(const int *)impl;
    for (int i = k - 1; i >= 0; i--) {
        int b = (int)((long long)n * i / k), e = (int)((long long)n * (i + 1) / k);
        if (b < e) fn(ctx, b, e, i);
    }
}

static const struct {
    const char *name;
    int ndim, shape[4], decay;
} SHAPES[] = {
    {"w1", 2, {4, 5}, 1}, {"w2", 4, {2, 3, 2, 2}, 1}, {"b", 1, {5}, 0}, {"embed", 2, {6, 3}, 0}, {"s", 0, {0}, 0},
};
#define NSHAPES 5

static void declare_ref(params_t *ps) {
    params_init(ps);
    for (int i = 0; i < NSHAPES; i++) params_add(ps, SHAPES[i].name, SHAPES[i].ndim, SHAPES[i].shape, 0, NULL);
}

/* Read every tensor "<prefix><name>" of the fixture into block. */
static int read_block(tensorfile_t *tf, params_t *ps, const char *prefix, float *block) {
    char key[128];
    for (int i = 0; i < ps->n; i++) {
        snprintf(key, sizeof key, "%s%s", prefix, ps->t[i].name);
        if (!read_into(tf, key, block + ps->t[i].offset, ps->t[i].numel)) return 0;
    }
    return 1;
}

static double cmp_block(tensorfile_t *tf, params_t *ps, const char *prefix, const float *block, double atol,
                        double rtol, size_t *bad, size_t *count) {
    char key[128];
    double worst = 0;
    for (int i = 0; i < ps->n; i++) {
        snprintf(key, sizeof key, "%s%s", prefix, ps->t[i].name);
        float *want = malloc(ps->t[i].numel * sizeof *want);
        if (!read_into(tf, key, want, ps->t[i].numel)) {
            (*bad)++;
        } else {
            double mx = 0; /* atol < 0: -atol times the tensor's largest value (float rounding at its scale) */
            for (size_t k = 0; k < ps->t[i].numel; k++) mx = fmax(mx, fabs(want[k]));
            double w = cmp(block + ps->t[i].offset, want, ps->t[i].numel, atol < 0 ? -atol * mx : atol, rtol, bad);
            if (w > worst) worst = w;
            *count += ps->t[i].numel;
        }
        free(want);
    }
    return worst;
}

static double meta_num(tensorfile_t *tf, const char *key) {
    const char *s = tf_meta(tf, key);
    return s ? strtod(s, NULL) : NAN;
}

/* ------------------------------------------------------------------ AdamW vs torch */

static void adamw_run(tensorfile_t *tf, const char *run, const nn_par_t *par, const char *parname) {
    params_t ps;
    declare_ref(&ps);
    err_t e = {0};
    int rc = params_alloc(&ps, PARAMS_TRAIN, &e);
    CHECK(rc == 0, "adamw %s: alloc (%s)", run, e.msg);
    if (rc) return;
    for (int i = 0; i < NSHAPES; i++)
        CHECK(ps.t[i].decay == SHAPES[i].decay, "auto decay flag of %s is %d", SHAPES[i].name, SHAPES[i].decay);
    char key[128];
    snprintf(key, sizeof key, "%s.init.", run);
    if (!read_block(tf, &ps, key, ps.data)) {
        CHECK(0, "adamw %s: fixture readable", run);
        params_free(&ps);
        return;
    }
    char k2[64];
    snprintf(k2, sizeof k2, "%s.lr", run);
    adamw_hparams_t hp = adamw_defaults(meta_num(tf, k2));
    snprintf(k2, sizeof k2, "%s.beta1", run), hp.beta1 = meta_num(tf, k2);
    snprintf(k2, sizeof k2, "%s.beta2", run), hp.beta2 = meta_num(tf, k2);
    snprintf(k2, sizeof k2, "%s.eps", run), hp.eps = meta_num(tf, k2);
    snprintf(k2, sizeof k2, "%s.weight_decay", run), hp.weight_decay = meta_num(tf, k2);
    snprintf(k2, sizeof k2, "%s.steps", run);
    int steps = (int)meta_num(tf, k2);
    snprintf(k2, sizeof k2, "%s.spec", run);
    const char *spec = tf_meta(tf, k2);
    lr_sched_t sched;
    char msg[200] = "";
    rc = lr_parse(&sched, spec ? spec : "constant", hp.lr, 0, msg, sizeof msg);
    CHECK(rc == NN_OK && steps > 0, "adamw %s: %d steps, schedule %s (%s)", run, steps, spec ? spec : "constant",
          msg);
    size_t bad = 0, count = 0;
    double worst = 0;
    for (int k = 0; k < steps; k++) {
        params_zero_grad(&ps, par);
        snprintf(key, sizeof key, "%s.grad.%d.", run, k);
        if (!read_block(tf, &ps, key, ps.grad)) bad++;
        hp.lr = lr_at(&sched, k);
        rc = params_step(&ps, &hp, k + 1, par, &e);
        if (rc) printf("# %s\n", e.msg), bad++;
        snprintf(key, sizeof key, "%s.after.%d.", run, k);
        double w = cmp_block(tf, &ps, key, ps.data, 1e-7, 1e-6, &bad, &count);
        if (w > worst) worst = w;
    }
    CHECK(bad == 0, "adamw %s (%s): %zu parameter values over %d steps within atol 1e-7 rtol 1e-6 of torch "
          "(worst %.2f of tolerance)", run, parname, count, steps, worst);
    bad = count = 0;
    snprintf(key, sizeof key, "%s.m.", run);
    /* m sums gradients of either sign: where it cancels, torch's fused
     * multiply-adds and our separate ones differ at the gradients' scale */
    worst = cmp_block(tf, &ps, key, ps.m, -1e-7, 1e-6, &bad, &count);
    snprintf(key, sizeof key, "%s.v.", run);
    double w = cmp_block(tf, &ps, key, ps.v, -1e-7, 1e-6, &bad, &count);
    CHECK(bad == 0, "adamw %s (%s): final m and v (%zu values) match torch's exp_avg/exp_avg_sq within rtol 1e-6, "
          "atol 1e-7 of each tensor's largest (worst %.2f, %.2f of tolerance)", run, parname, count, worst, w);
    params_free(&ps);
}

static void test_clip_ref(tensorfile_t *tf, const char *tag, double max_norm, int clipped) {
    params_t ps;
    declare_ref(&ps);
    err_t e = {0};
    if (params_alloc(&ps, PARAMS_TRAIN, &e)) {
        CHECK(0, "clip: alloc (%s)", e.msg);
        return;
    }
    char key[64];
    float want_norm = NAN;
    snprintf(key, sizeof key, "%s.grad.", tag);
    int ok = read_block(tf, &ps, key, ps.grad);
    snprintf(key, sizeof key, "%s.norm", tag);
    ok = ok && read_into(tf, key, &want_norm, 1);
    float *before = malloc(ps.size * sizeof *before);
    memcpy(before, ps.grad, ps.size * sizeof *before);
    double norm = params_clip_grad(&ps, max_norm, NULL);
    CHECK(ok, "clip %s: fixture readable", tag);
    CHECK_CLOSE(norm, want_norm, 0, 1e-6, "clip %s: norm %.7g matches torch's clip_grad_norm_", tag, norm);
    size_t bad = 0, count = 0;
    snprintf(key, sizeof key, "%s.out.", tag);
    double worst = cmp_block(tf, &ps, key, ps.grad, 1e-9, 1e-6, &bad, &count);
    CHECK(bad == 0, "clip %s: %zu clipped gradients match torch (worst %.2f of tolerance)", tag, count, worst);
    CHECK(clipped == (memcmp(before, ps.grad, ps.size * sizeof *before) != 0), "clip %s: gradients %s", tag,
          clipped ? "scaled" : "left bit-identical (norm below max)");
    free(before);
    params_free(&ps);
}

static void test_adamw_ref(void) {
    err_t e = {0};
    tensorfile_t *tf = tf_open(FIX "adamw_ref.safetensors", &e);
    CHECK(tf != NULL, "open adamw fixture (%s)", e.msg);
    if (!tf) return;
    pool_t pool;
    pool_init(&pool, 2, NULL);
    nn_par_t par = pool_par(&pool);
    adamw_run(tf, "a", NULL, "serial");
    adamw_run(tf, "b", NULL, "serial");
    adamw_run(tf, "b", &par, "2 threads");
    test_clip_ref(tf, "clip", 1.0, 1);
    test_clip_ref(tf, "noclip", 1e3, 0);
    pool_free(&pool);
    tf_close(tf);
}

/* ------------------------------------------------------------------ lr */

static void test_lr_ref(void) {
    err_t e = {0};
    tensorfile_t *tf = tf_open(FIX "lr_ref.safetensors", &e);
    CHECK(tf != NULL, "open lr fixture (%s)", e.msg);
    if (!tf) return;
    const char *cases = tf_meta(tf, "cases");
    CHECK(cases && strlen(cases) > 10, "lr fixture lists its cases");
    char list[512], key[64];
    snprintf(list, sizeof list, "%s", cases ? cases : "");
    int ncases = 0;
    for (char *c = strtok(list, ","); c; c = strtok(NULL, ",")) {
        ncases++;
        snprintf(key, sizeof key, "spec.%s", c);
        const char *spec = tf_meta(tf, key);
        snprintf(key, sizeof key, "base.%s", c);
        double base = meta_num(tf, key);
        snprintf(key, sizeof key, "total.%s", c);
        double total = tf_meta(tf, key) ? meta_num(tf, key) : 0;
        lr_sched_t s;
        char msg[200] = "";
        int rc = lr_parse(&s, spec ? spec : "", base, (long long)total, msg, sizeof msg);
        CHECK(rc == NN_OK, "lr %s: parse \"%s\" (%s)", c, spec ? spec : "", msg);
        snprintf(key, sizeof key, "lr.%s", c);
        const tf_info_t *ti = tf_find(tf, key);
        if (rc || !ti) continue;
        float *want = malloc(ti->numel * sizeof *want), *got = malloc(ti->numel * sizeof *got);
        read_into(tf, key, want, ti->numel);
        for (size_t k = 0; k < ti->numel; k++) got[k] = (float)lr_at(&s, (long long)k);
        size_t bad = 0;
        /* the fixture is F64 read as F32: both sides rounded the same way */
        double worst = cmp(got, want, ti->numel, 1e-12, 1e-6, &bad);
        CHECK(bad == 0, "lr %s: %zu steps match torch (worst %.2f of tolerance)", c, ti->numel, worst);
        free(want);
        free(got);
    }
    CHECK(ncases == 9, "lr: %d schedule cases compared", ncases);
    tf_close(tf);
}

static void test_lr_parse(void) {
    static const char *good[] = {
        "constant",
        "constant:lr=0.5",
        "linear:total=100,min=0",
        "cosine:warmup=500,min=1e-5",
        "cosine:warmup=10,total=20,min=1e-5,lr=3e-4",
        "step:every=10",
        "step:every=10,gamma=0.5,warmup=3",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        lr_sched_t s, s2;
        char msg[200] = "", f1[200], f2[200];
        int rc = lr_parse(&s, good[i], 1e-3, 1000, msg, sizeof msg);
        CHECK(rc == NN_OK, "lr spec \"%s\" accepted (%s)", good[i], msg);
        if (rc) continue;
        lr_format(&s, f1, sizeof f1);
        rc = lr_parse(&s2, f1, 99, 5, msg, sizeof msg); /* defaults must not leak in: the format says everything */
        lr_format(&s2, f2, sizeof f2);
        int same = rc == NN_OK && !strcmp(f1, f2);
        for (long long k = 0; same && k < 1200; k += 7) same = lr_at(&s, k) == lr_at(&s2, k);
        CHECK(same, "lr spec \"%s\" -> \"%s\" round-trips", good[i], f1);
    }
    static const struct {
        const char *spec, *want;
    } bad[] = {
        {"", "unknown learning-rate schedule"},
        {"cosin", "unknown learning-rate schedule \"cosin\""},
        {"cosine:", "is not key=value"},
        {"cosine:warmup", "is not key=value"},
        {"cosine:warmup=", "not a whole number"},
        {"cosine:warmup=-1", "not a whole number"},
        {"cosine:warmup=1.5", "not a whole number"},
        {"cosine:warmup=99999999999999999999", "not a whole number"},
        {"cosine:min=abc", "not a finite number"},
        {"cosine:min=nan", "not a finite number"},
        {"cosine:min=inf", "not a finite number"},
        {"cosine:min=-1", "min must be >= 0"},
        {"cosine:lr=-1", "lr must be"},
        {"cosine:min=1e-5,min=1e-4", "min given twice"},
        {"cosine:foo=1", "unknown key \"foo\""},
        {"cosine:gamma=0.5", "cosine does not take gamma"},
        {"constant:total=10", "constant does not take total"},
        {"cosine:warmup=1000", "warmup (1000) must be shorter than total (1000)"},
        {"cosine:total=0", "needs total steps > 0"},
        {"step", "step needs every=N"},
        {"step:every=0", "every must be >= 1"},
        {"step:every=3,gamma=0", "gamma must be in (0, 1]"},
        {"step:every=3,gamma=2", "gamma must be in (0, 1]"},
        {"linear:min=0,", "is not key=value"},
        {"linear: min=0", "unknown key"},
        {"linear:min= 0", "not a finite number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        lr_sched_t s = {.kind = LR_COSINE, .lr = 7};
        char msg[200] = "";
        int rc = lr_parse(&s, bad[i].spec, 1e-3, 1000, msg, sizeof msg);
        CHECK(rc == NN_EINVAL && strstr(msg, bad[i].want) && s.lr == 7, "lr spec \"%s\" refused: %s", bad[i].spec,
              msg);
    }
    lr_sched_t s;
    char msg[8];
    CHECK(lr_parse(&s, "cosine", 1, 0, msg, sizeof msg) == NN_EINVAL && strlen(msg) == 7,
          "a short message buffer is filled and terminated");
    CHECK(lr_parse(&s, "cosine", 1, 10, NULL, 0) == NN_OK, "no message buffer is fine");
    /* shapes */
    lr_parse(&s, "cosine:warmup=4,total=12,min=0.1", 1.0, 0, NULL, 0);
    CHECK(lr_at(&s, 0) == 0.25 && lr_at(&s, 3) == 1.0 && lr_at(&s, 4) == 1.0 && fabs(lr_at(&s, 8) - 0.55) < 1e-15 &&
              lr_at(&s, 12) == 0.1 && lr_at(&s, 1000) == 0.1 && lr_at(&s, -5) == 0.25,
          "warmup+cosine: 0.25 at 0, 1 at 3 and 4, 0.55 half-way, min at and after total");
    lr_parse(&s, "step:every=2,gamma=0.5", 1.0, 0, NULL, 0);
    CHECK(lr_at(&s, 1) == 1.0 && lr_at(&s, 2) == 0.5 && lr_at(&s, 5) == 0.25, "step: halves every 2");
}

/* ------------------------------------------------------------------ scans */

static void test_scan(void) {
    size_t n = (1u << 20) + 7;
    float *x = calloc(n, sizeof *x);
    pool_t pool;
    pool_init(&pool, 2, NULL);
    int three = 3, seven = 7;
    nn_par_t pars[4] = {pool_par(NULL), pool_par(&pool), {fake_run, &three, 3, pool_cores()}, {fake_run, &seven, 7, pool_cores()}};
    const char *names[4] = {"serial", "2 threads", "3-way", "7-way"};
    for (size_t i = 0; i < n; i++) x[i] = (float)((double)i / n - 0.5);
    for (int p = 0; p < 4; p++) {
        ptrdiff_t a = adamw_find_nonfinite(x, n, &pars[p]);
        x[700001] = INFINITY;
        x[n - 1] = NAN;
        ptrdiff_t b = adamw_find_nonfinite(x, n, &pars[p]);
        x[5] = -INFINITY;
        ptrdiff_t c = adamw_find_nonfinite(x, n, &pars[p]);
        x[5] = x[700001] = 0;
        ptrdiff_t d = adamw_find_nonfinite(x, n, &pars[p]);
        x[n - 1] = 0;
        CHECK(a == -1 && b == 700001 && c == 5 && d == (ptrdiff_t)n - 1,
              "nonfinite scan (%s): clean -> -1, finds the first planted Inf/NaN (%td %td %td)", names[p], b, c, d);
    }
    CHECK(adamw_find_nonfinite(x, 0, NULL) == -1, "empty block is clean");
    float big = 3.4e38f;
    CHECK(adamw_find_nonfinite(&big, 1, NULL) == -1, "FLT_MAX is finite");

    params_t ps;
    params_init(&ps);
    PARAMS_ADD(&ps, "enc.0.conv.weight", 8, 3, 3, 3);
    PARAMS_ADD(&ps, "enc.0.conv.bias", 8);
    err_t e = {0};
    params_alloc(&ps, PARAMS_TRAIN, &e);
    CHECK(params_check_finite(&ps, ps.grad, "gradient", NULL, &e) == 0, "clean gradient passes");
    params_view(&ps, "enc.0.conv.bias").grad[3] = NAN;
    int rc = params_check_finite(&ps, ps.grad, "gradient", &pars[1], &e);
    CHECK(rc == EXIT_NUMERIC && !strcmp(e.msg, "gradient: enc.0.conv.bias[3] is NaN"), "NaN named: %s", e.msg);
    params_view(&ps, "enc.0.conv.weight").grad[200] = -INFINITY;
    rc = params_check_finite(&ps, ps.grad, "gradient", NULL, &e);
    CHECK(rc == EXIT_NUMERIC && !strcmp(e.msg, "gradient: enc.0.conv.weight[200] is -Inf"), "Inf named: %s", e.msg);
    params_free(&ps);
    pool_free(&pool);
    free(x);
}

/* ------------------------------------------------------------------ params */

static void test_params(void) {
    params_t ps;
    err_t e = {0};
    params_init(&ps);
    CHECK(PARAMS_ADD(&ps, "enc.0.conv.weight", 16, 3, 3, 3) == 0, "add a 4-D tensor");
    CHECK(PARAMS_ADD(&ps, "enc.0.conv.bias", 16) == 0, "add a 1-D tensor");
    CHECK(params_add(&ps, "logit_scale", 0, NULL, PARAM_DECAY_AUTO, &e) == 0, "add a scalar");
    CHECK(PARAMS_ADD(&ps, "tok.embedding", 10, 4) == 0, "add an embedding");
    CHECK(params_add(&ps, "head.weight", 2, (const int[]){3, 7}, PARAM_DECAY_OFF, &e) == 0, "add with decay off");
    param_decl_t table[] = {
        {"norm.weight", 1, {7}, PARAM_DECAY_ON},
        {"fc.weight", 2, {5, 7}, 0},
    };
    CHECK(params_add_table(&ps, table, 2, &e) == 0, "add a table");
    CHECK(params_alloc(&ps, PARAMS_TRAIN, &e) == 0, "alloc (%s)", e.msg);
    int aligned = 1;
    for (int i = 0; i < ps.n; i++) aligned &= ps.t[i].offset % 16 == 0;
    CHECK(aligned && ((uintptr_t)ps.data & 63) == 0 && ((uintptr_t)ps.grad & 63) == 0 &&
              ((uintptr_t)ps.v & 63) == 0,
          "tensors and blocks 64-byte aligned");
    CHECK(ps.numel == 16 * 27 + 16 + 1 + 40 + 21 + 7 + 35 && ps.size >= ps.numel, "numel %zu, size %zu", ps.numel,
          ps.size);
    int want_decay[] = {1, 0, 0, 0, 0, 1, 1};
    int ok = 1;
    for (int i = 0; i < ps.n; i++) ok &= ps.t[i].decay == want_decay[i];
    CHECK(ok, "decay: 4-D and 2-D weights yes; bias, scalar, embedding no; explicit flags kept");
    CHECK(params_set_decay(&ps, "*.weight", 0) == 4 && !ps.t[0].decay && !ps.t[6].decay, "glob clears decay");
    param_view_t v = params_view(&ps, "fc.weight");
    CHECK(v.t && v.data == ps.data + v.t->offset && v.grad == ps.grad + v.t->offset &&
              v.m == ps.m + v.t->offset && v.v == ps.v + v.t->offset && v.t->ndim == 2 && v.t->shape[1] == 7,
          "view by name points into every block");
    v = params_view(&ps, "nope");
    CHECK(!v.t && !v.data, "unknown name: empty view");
    CHECK(PARAMS_ADD(&ps, "late", 3) == EXIT_INTERNAL && strstr(ps.err.msg, "after params_alloc"),
          "declaring after alloc refused: %s", ps.err.msg);
    params_free(&ps);

    static const struct {
        const char *name;
        int ndim, d0, code;
        const char *want;
    } bad[] = {
        {"", 1, 3, EXIT_INTERNAL, "bad tensor name"},
        {"a b", 1, 3, EXIT_INTERNAL, "bad character"},
        {"optim.m.x", 1, 3, EXIT_INTERNAL, "reserved"},
        {"__metadata__", 1, 3, EXIT_INTERNAL, "reserved"},
        {"dup", 1, 3, EXIT_INTERNAL, "declared twice"},
        {"zero", 1, 0, EXIT_USAGE, "dimension 0 has size 0"},
        {"five", 5, 2, EXIT_INTERNAL, "5 dimensions"},
        {"huge", 4, 1 << 20, EXIT_USAGE, "too large"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        params_init(&ps);
        PARAMS_ADD(&ps, "dup", 2);
        int sh[5] = {bad[i].d0, bad[i].d0, bad[i].d0, bad[i].d0, bad[i].d0};
        memset(&e, 0, sizeof e);
        int rc = params_add(&ps, bad[i].name, bad[i].ndim, sh, 0, &e);
        PARAMS_ADD(&ps, "after", 2); /* sticky: the first error stays */
        err_t e2 = {0};
        int rc2 = params_alloc(&ps, PARAMS_TRAIN, &e2);
        CHECK(rc == bad[i].code && rc2 == rc && strstr(e.msg, bad[i].want) && !strcmp(e.msg, e2.msg) && !ps.data,
              "bad declaration \"%s\" refused and kept for alloc: %s", bad[i].name, e2.msg);
        params_free(&ps);
    }
    params_init(&ps);
    CHECK(params_alloc(&ps, PARAMS_TRAIN, &e) == EXIT_USAGE, "empty table refused: %s", e.msg);
    params_free(&ps);
    params_init(&ps);
    ps.align = 1;
    PARAMS_ADD(&ps, "a", 3);
    PARAMS_ADD(&ps, "b", 5);
    params_alloc(&ps, PARAMS_DATA_ONLY, &e);
    CHECK(ps.t[1].offset == 3 && ps.data && !ps.grad && !ps.m && !ps.v, "align 1 packs; data-only has no grad/m/v");
    adamw_hparams_t hp = adamw_defaults(1e-3);
    CHECK(params_step(&ps, &hp, 1, NULL, &e) == EXIT_INTERNAL, "step on data-only refused: %s", e.msg);
    params_free(&ps);
    /* adamw_step argument checks */
    float p[4] = {0}, g[4] = {0}, m[4] = {0}, vv[4] = {0};
    adamw_span_t sp[2] = {{0, 2, 1}, {1, 4, 0}};
    CHECK(adamw_step(p, g, m, vv, sp, 1, &hp, 0, NULL) == NN_EINVAL, "adamw: t = 0 refused");
    CHECK(adamw_step(p, g, m, vv, sp, 2, &hp, 1, NULL) == NN_EINVAL, "adamw: overlapping spans refused");
    hp.beta2 = 1.0;
    CHECK(adamw_step(p, g, m, vv, sp, 1, &hp, 1, NULL) == NN_EINVAL, "adamw: beta2 = 1 refused");
}

/* ------------------------------------------------------------------ determinism over splits */

static void test_splits(void) {
    pool_t pool;
    pool_init(&pool, 2, NULL);
    int three = 3, seven = 7;
    nn_par_t pars[4] = {pool_par(NULL), pool_par(&pool), {fake_run, &three, 3, pool_cores()}, {fake_run, &seven, 7, pool_cores()}};
    const char *names[4] = {"serial", "2 threads", "3-way", "7-way"};
    params_t ps[4];
    double norms[4][3];
    for (int p = 0; p < 4; p++) {
        params_init(&ps[p]);
        PARAMS_ADD(&ps[p], "big.weight", 300, 101);
        PARAMS_ADD(&ps[p], "big.bias", 300);
        PARAMS_ADD(&ps[p], "mid.weight", 70, 300);
        PARAMS_ADD(&ps[p], "emb", 1000, 3);
        err_t e = {0};
        params_alloc(&ps[p], PARAMS_TRAIN, &e);
        rng_t r;
        rng_seed(&r, 7);
        for (int i = 0; i < ps[p].n; i++) {
            param_view_t v = params_at(&ps[p], i);
            for (size_t k = 0; k < v.t->numel; k++) v.data[k] = (float)rng_normal(&r);
        }
        adamw_hparams_t hp = adamw_defaults(1e-2);
        for (int t = 1; t <= 3; t++) {
            params_zero_grad(&ps[p], &pars[p]);
            for (int i = 0; i < ps[p].n; i++) {
                param_view_t v = params_at(&ps[p], i);
                for (size_t k = 0; k < v.t->numel; k++) v.grad[k] = (float)(rng_normal(&r) * (1 + i));
            }
            norms[p][t - 1] = params_clip_grad(&ps[p], 50.0, &pars[p]);
            params_step(&ps[p], &hp, t, &pars[p], &e);
        }
    }
    CHECK(ps[0].size > 8 * ADAMW_CHUNK, "split test block spans %zu chunks", ps[0].size / ADAMW_CHUNK);
    CHECK(norms[0][0] > 50, "the norm (%.3f) is over max_norm, so clipping ran", norms[0][0]);
    for (int p = 1; p < 4; p++) {
        int same = !memcmp(norms[0], norms[p], sizeof norms[0]);
        size_t bytes = ps[0].size * sizeof(float);
        same &= !memcmp(ps[0].data, ps[p].data, bytes) && !memcmp(ps[0].grad, ps[p].grad, bytes) &&
                !memcmp(ps[0].m, ps[p].m, bytes) && !memcmp(ps[0].v, ps[p].v, bytes);
        CHECK(same, "%s: norms, clipped gradients, params, m, v bit-identical to serial", names[p]);
    }
    /* the gaps between tensors stay zero */
    int gaps = 1;
    for (int i = 0; i < ps[0].n; i++) {
        size_t end = i + 1 < ps[0].n ? ps[0].t[i + 1].offset : ps[0].size;
        for (size_t k = ps[0].t[i].offset + ps[0].t[i].numel; k < end; k++)
            gaps &= ps[0].data[k] == 0 && ps[0].m[k] == 0 && ps[0].v[k] == 0;
    }
    CHECK(gaps && ps[0].t[1].offset > ps[0].t[0].numel, "the gaps between tensors stay zero in data, m and v");
    for (int p = 0; p < 4; p++) params_free(&ps[p]);

    /* the norm against a plain double sum */
    size_t n = 3 * ADAMW_CHUNK + 5;
    float *g = malloc(n * sizeof *g);
    rng_t r;
    rng_seed(&r, 3);
    double ref = 0;
    for (size_t i = 0; i < n; i++) g[i] = (float)rng_normal(&r), ref += (double)g[i] * g[i];
    double nm = adamw_grad_norm(g, n, &pars[1]);
    CHECK_CLOSE(nm, sqrt(ref), 0, 1e-9, "grad norm %.12g equals the plain double sum within 1e-9", nm);
    CHECK(adamw_grad_norm(g, 0, NULL) == 0, "norm of nothing is 0");
    g[77] = NAN;
    float g78 = g[78];
    double bn = adamw_clip_grad_norm(g, n, 1.0, NULL);
    CHECK(bn != bn && g[78] == g78, "a NaN norm is returned and the gradients are left alone");
    free(g);
    pool_free(&pool);
}

/* ------------------------------------------------------------------ toy model and checkpoints */

#define TN 64   /* samples */
#define TIN 7   /* inputs */
#define TOUT 3  /* outputs */
#define TCLS 4  /* classes (embedding rows) */
#define TB 8    /* batch */

typedef struct {
    float x[TN][TIN], y[TN][TOUT];
} toy_data_t;

static void toy_data(toy_data_t *d) {
    rng_t r;
    rng_seed(&r, 99);
    float w[TOUT][TIN], b[TOUT], emb[TCLS][TOUT];
    for (int o = 0; o < TOUT; o++) {
        for (int i = 0; i < TIN; i++) w[o][i] = (float)rng_normal(&r);
        b[o] = (float)rng_normal(&r);
    }
    for (int c = 0; c < TCLS; c++)
        for (int o = 0; o < TOUT; o++) emb[c][o] = (float)(0.3 * rng_normal(&r));
    for (int s = 0; s < TN; s++) {
        for (int i = 0; i < TIN; i++) d->x[s][i] = (float)rng_normal(&r);
        for (int o = 0; o < TOUT; o++) {
            double a = b[o] + emb[s % TCLS][o];
            for (int i = 0; i < TIN; i++) a += w[o][i] * d->x[s][i];
            d->y[s][o] = (float)(a + 0.01 * rng_normal(&r));
        }
    }
}

static int toy_declare(params_t *ps, int wrong) {
    params_init(ps);
    PARAMS_ADD(ps, "lin.weight", TOUT, TIN + (wrong == 1));
    PARAMS_ADD(ps, "lin.bias", TOUT);
    if (wrong != 2) PARAMS_ADD(ps, "cls.embedding", TCLS, TOUT);
    if (wrong == 3) PARAMS_ADD(ps, "extra.weight", 2, 2);
    err_t e = {0};
    return params_alloc(ps, PARAMS_TRAIN, &e);
}

static void toy_init(params_t *ps, uint64_t seed) {
    rng_t r;
    rng_seed(&r, seed);
    for (int i = 0; i < ps->n; i++) {
        param_view_t v = params_at(ps, i);
        for (size_t k = 0; k < v.t->numel; k++) v.data[k] = (float)(0.1 * rng_normal(&r));
        for (size_t k = 0; k < v.t->numel; k++) v.m[k] = (float)rng_uniform(&r), v.v[k] = (float)rng_uniform(&r);
    }
}

/* Steps [from, to): batch drawn with rd, input dropout (p 0.1) with rn;
 * mean squared error / 2; returns the last loss. */
static double toy_train(params_t *ps, const toy_data_t *d, rng_t *rd, rng_t *rn, const lr_sched_t *sch,
                        long long from, long long to, const nn_par_t *par) {
    float *W = params_view(ps, "lin.weight").data, *B = params_view(ps, "lin.bias").data;
    float *E = params_view(ps, "cls.embedding").data;
    float *dW = params_view(ps, "lin.weight").grad, *dB = params_view(ps, "lin.bias").grad;
    float *dE = params_view(ps, "cls.embedding").grad;
    adamw_hparams_t hp = adamw_defaults(0);
    hp.weight_decay = 0.05;
    double loss = 0;
    err_t e = {0};
    for (long long step = from; step < to; step++) {
        params_zero_grad(ps, par);
        loss = 0;
        for (int bi = 0; bi < TB; bi++) {
            int s = (int)rng_below(rd, TN), c = s % TCLS;
            float x[TIN], pred[TOUT];
            for (int i = 0; i < TIN; i++) x[i] = rng_uniform(rn) < 0.1 ? 0.0f : d->x[s][i] / 0.9f;
            for (int o = 0; o < TOUT; o++) {
                float a = B[o] + E[c * TOUT + o];
                for (int i = 0; i < TIN; i++) a += W[o * TIN + i] * x[i];
                pred[o] = a;
                float r = a - d->y[s][o];
                loss += 0.5 * r * r / (TB * TOUT);
                float dp = r / (TB * TOUT);
                for (int i = 0; i < TIN; i++) dW[o * TIN + i] += dp * x[i];
                dB[o] += dp;
                dE[c * TOUT + o] += dp;
            }
            (void)pred;
        }
        params_clip_grad(ps, 1.0, par);
        hp.lr = lr_at(sch, step);
        params_step(ps, &hp, step + 1, par, &e);
    }
    return loss;
}

static int same_blocks(const params_t *a, const params_t *b) {
    size_t n = a->size * sizeof(float);
    return a->size == b->size && !memcmp(a->data, b->data, n) && !memcmp(a->m, b->m, n) && !memcmp(a->v, b->v, n);
}

static void test_resume(const char *tmpdir) {
    toy_data_t d;
    toy_data(&d);
    pool_t pool;
    pool_init(&pool, 2, NULL);
    nn_par_t par = pool_par(&pool);
    lr_sched_t sch;
    lr_parse(&sch, "cosine:warmup=3,min=1e-3", 0.3, 20, NULL, 0);
    char path[512], spec[128];
    snprintf(path, sizeof path, "%s/toy.safetensors", tmpdir);

    /* straight through, serial and 2 threads */
    params_t a, a2;
    toy_declare(&a, 0);
    toy_declare(&a2, 0);
    toy_init(&a, 1);
    toy_init(&a2, 1);
    memset(a.m, 0, a.size * sizeof(float)), memset(a.v, 0, a.size * sizeof(float));
    memset(a2.m, 0, a2.size * sizeof(float)), memset(a2.v, 0, a2.size * sizeof(float));
    rng_t rd, rn, rd2, rn2;
    rng_seed(&rd, 11), rng_seed(&rn, 12), rd2 = rd, rn2 = rn;
    double l0 = toy_train(&a, &d, &rd, &rn, &sch, 0, 1, NULL);
    double l20 = toy_train(&a, &d, &rd, &rn, &sch, 1, 20, NULL);
    toy_train(&a2, &d, &rd2, &rn2, &sch, 0, 20, &par);
    CHECK(l20 < 0.5 * l0, "the toy model learns: loss %.4f -> %.4f", l0, l20);
    CHECK(same_blocks(&a, &a2) && !memcmp(&rd, &rd2, sizeof rd), "toy training: serial and 2 threads bit-identical");

    /* 10 steps, checkpoint, fresh state, load, 10 more */
    params_t b;
    toy_declare(&b, 0);
    toy_init(&b, 1);
    memset(b.m, 0, b.size * sizeof(float)), memset(b.v, 0, b.size * sizeof(float));
    rng_t bd, bn;
    rng_seed(&bd, 11), rng_seed(&bn, 12);
    toy_train(&b, &d, &bd, &bn, &sch, 0, 10, NULL);
    lr_format(&sch, spec, sizeof spec);
    ckpt_rng_t rngs[2] = {{"data", &bd}, {"dropout", &bn}};
    ckpt_kv_t meta[2] = {{"lr", spec}, {"model", "toy linear \"regression\"\n"}};
    ckpt_state_t st = {.step = 10, .rng = rngs, .nrng = 2, .meta = meta, .nmeta = 2};
    err_t e = {0};
    int rc = ckpt_save(path, &b, &st, CKPT_OPTIM, &e);
    CHECK(rc == 0, "checkpoint saved (%s)", e.msg);
    params_free(&b);

    params_t c;
    toy_declare(&c, 0);
    toy_init(&c, 555); /* garbage that the load must overwrite */
    rng_t cd, cn;
    rng_seed(&cd, 1), rng_seed(&cn, 2);
    ckpt_rng_t crngs[2] = {{"data", &cd}, {"dropout", &cn}};
    ckpt_state_t cst = {.rng = crngs, .nrng = 2};
    rc = ckpt_load(path, &c, &cst, CKPT_OPTIM, &e);
    CHECK(rc == 0 && cst.step == 10, "checkpoint loaded at step %lld (%s)", (long long)cst.step, e.msg);
    ckpt_t *ck = ckpt_open(path, &e);
    lr_sched_t sch2;
    const char *sp = ck ? ckpt_meta(ck, "lr") : NULL;
    CHECK(sp && lr_parse(&sch2, sp, 0, 0, NULL, 0) == NN_OK && !strcmp(sp, spec), "schedule restored from metadata: %s",
          sp ? sp : "(none)");
    CHECK(ck && ckpt_meta(ck, "model") && !strcmp(ckpt_meta(ck, "model"), "toy linear \"regression\"\n"),
          "metadata with quotes and a newline survives");
    CHECK(ck && ckpt_meta(ck, "format") && !strcmp(ckpt_meta(ck, "format"), "pt") && ckpt_step(ck) == 10,
          "format pt, step 10");
    ckpt_close(ck);
    toy_train(&c, &d, &cd, &cn, &sch2, cst.step, 20, &par);
    CHECK(same_blocks(&a, &c) && !memcmp(&rd, &cd, sizeof rd) && !memcmp(&rn, &cn, sizeof rn),
          "resumed run bit-identical to the straight one (params, m, v, both generators)");

    /* the comparison can fail: resume without restoring the dropout generator */
    params_t f;
    toy_declare(&f, 0);
    rng_t fd, fn;
    rng_seed(&fn, 12);
    ckpt_rng_t frngs[1] = {{"data", &fd}};
    ckpt_state_t fst = {.rng = frngs, .nrng = 1};
    rc = ckpt_load(path, &f, &fst, CKPT_OPTIM, &e);
    toy_train(&f, &d, &fd, &fn, &sch2, fst.step, 20, NULL);
    CHECK(rc == 0 && !same_blocks(&a, &f), "a resume that forgets a generator is not identical (the check can fail)");
    params_free(&f);

    /* weights-only: a data-only set reads the params of a full checkpoint */
    params_t w;
    params_init(&w);
    PARAMS_ADD(&w, "lin.weight", TOUT, TIN);
    PARAMS_ADD(&w, "lin.bias", TOUT);
    PARAMS_ADD(&w, "cls.embedding", TCLS, TOUT);
    params_alloc(&w, PARAMS_DATA_ONLY, &e);
    rc = ckpt_load(path, &w, NULL, CKPT_WEIGHTS, &e);
    int same = rc == 0;
    for (int i = 0; same && i < w.n; i++) /* c has trained on since the save; b is gone: compare with a fresh load */
        same = w.t[i].numel == params_view(&c, w.t[i].name).t->numel;
    params_t w2;
    toy_declare(&w2, 0);
    same = same && ckpt_load(path, &w2, NULL, CKPT_OPTIM, &e) == 0;
    for (int i = 0; same && i < w.n; i++)
        same = !memcmp(params_at(&w, i).data, params_view(&w2, w.t[i].name).data, w.t[i].numel * sizeof(float));
    CHECK(same, "weights-only load into a data-only set gives the same weights (%s)", e.msg);
    /* another declaration order and a packed layout read the same file */
    params_t o;
    params_init(&o);
    o.align = 1;
    PARAMS_ADD(&o, "cls.embedding", TCLS, TOUT);
    PARAMS_ADD(&o, "lin.weight", TOUT, TIN);
    PARAMS_ADD(&o, "lin.bias", TOUT);
    params_alloc(&o, PARAMS_TRAIN, &e);
    same = ckpt_load(path, &o, NULL, CKPT_OPTIM, &e) == 0;
    for (int i = 0; same && i < o.n; i++) {
        param_view_t x = params_at(&o, i), y = params_view(&w2, o.t[i].name);
        size_t nb = o.t[i].numel * sizeof(float);
        same = !memcmp(x.data, y.data, nb) && !memcmp(x.m, y.m, nb) && !memcmp(x.v, y.v, nb);
    }
    CHECK(same && o.t[1].offset == TCLS * TOUT, "a reordered, packed layout loads the same tensors (%s)", e.msg);
    params_free(&o);
    params_free(&w2);
    params_free(&w);

    /* save weights only, then a full load asks for optimiser state */
    char wpath[512];
    snprintf(wpath, sizeof wpath, "%s/weights.safetensors", tmpdir);
    rc = ckpt_save(wpath, &c, &st, CKPT_WEIGHTS, &e);
    params_t g;
    toy_declare(&g, 0);
    rc = rc ? rc : ckpt_load(wpath, &g, NULL, CKPT_OPTIM, &e);
    CHECK(rc == EXIT_MODEL && strstr(e.msg, "missing tensor 'optim.m.lin.weight'"), "no optimiser state: %s", e.msg);
    rc = ckpt_load(wpath, &g, NULL, CKPT_WEIGHTS, &e);
    int wsame = rc == 0;
    for (int i = 0; wsame && i < g.n; i++)
        wsame = !memcmp(params_at(&g, i).data, params_view(&c, g.t[i].name).data, g.t[i].numel * sizeof(float));
    CHECK(wsame, "weights file loads weights-only, bit-identical");
    params_free(&g);

    /* shape and name errors */
    static const struct {
        int wrong;
        const char *want;
    } bad[] = {
        {1, "tensor 'lin.weight' has shape [3,7], the model wants [3,8]"},
        {2, "unexpected tensor 'cls.embedding' (not in this model)"},
        {3, "missing tensor 'extra.weight'"},
    };
    for (int i = 0; i < 3; i++) {
        params_t x;
        toy_declare(&x, bad[i].wrong);
        float keep = x.data[0];
        rc = ckpt_load(path, &x, NULL, CKPT_OPTIM, &e);
        CHECK(rc == EXIT_MODEL && strstr(e.msg, bad[i].want) && strstr(e.msg, "toy.safetensors") && x.data[0] == keep,
              "refused before touching the model: %s", e.msg);
        params_free(&x);
    }
    params_t x;
    toy_declare(&x, 0);
    rng_t tmp;
    ckpt_rng_t nr[1] = {{"augment", &tmp}};
    ckpt_state_t nst = {.rng = nr, .nrng = 1};
    rc = ckpt_load(path, &x, &nst, CKPT_OPTIM, &e);
    CHECK(rc == EXIT_MODEL && strstr(e.msg, "missing generator state rng.augment"), "missing generator: %s", e.msg);
    rc = ckpt_load("/nonexistent/dir/x.safetensors", &x, NULL, CKPT_OPTIM, &e);
    CHECK(rc == EXIT_MODEL && strstr(e.msg, "/nonexistent/dir/x.safetensors"), "missing file: %s", e.msg);
    rc = ckpt_save("/nonexistent/dir/x.safetensors", &x, &st, CKPT_OPTIM, &e);
    CHECK(rc == EXIT_IO, "unwritable path: %s", e.msg);
    ckpt_kv_t rmeta[1] = {{"step", "3"}};
    ckpt_state_t rst = {.meta = rmeta, .nmeta = 1};
    CHECK(ckpt_save(path, &x, &rst, CKPT_OPTIM, &e) == EXIT_INTERNAL && strstr(e.msg, "reserved"),
          "reserved metadata key refused: %s", e.msg);
    ckpt_rng_t brng[1] = {{"bad name", &tmp}};
    ckpt_state_t bst = {.rng = brng, .nrng = 1};
    CHECK(ckpt_save(path, &x, &bst, CKPT_OPTIM, &e) == EXIT_INTERNAL, "bad generator name refused: %s", e.msg);
    params_free(&x);

    /* edited files: the header is text, so edit it in memory */
    size_t len = 0;
    unsigned char *file = t_slurp(path, &len);
    static const struct {
        const char *from, *to, *want;
    } edits[] = {
        {"\"step\":\"10\"", "\"step\":\"-1\"", "step \"-1\" is not a whole number"},
        {"\"invclip.checkpoint\":\"1\"", "\"invclip.checkpoint\":\"9\"", "layout version \"9\""},
        {"\"rng.data\":\"", "\"rng.data\":\"x", "rng.data is not 64 hex digits"},
        {"\"rng.dropout\"", "\"rng.dropouT\"", "missing generator state rng.dropout"},
        {"\"optim.v.lin.bias\"", "\"optim.v.lin.bia5\"", "missing tensor 'optim.v.lin.bias'"},
        {"\"lin.bias\":{\"dtype\":\"F32\"", "\"lin.bias\":{\"dtype\":\"I32\"", "tensor 'lin.bias' has dtype I32"},
    };
    for (size_t i = 0; file && i < sizeof edits / sizeof *edits; i++) {
        unsigned char *cp = malloc(len);
        memcpy(cp, file, len);
        unsigned char *at = memmem(cp, len, edits[i].from, strlen(edits[i].from));
        if (!at) {
            CHECK(0, "edit %zu: '%s' found in the checkpoint", i, edits[i].from);
            free(cp);
            continue;
        }
        memcpy(at, edits[i].to, strlen(edits[i].to));
        ckpt_t *k = ckpt_open_mem(cp, len, "edited", &e);
        params_t y;
        toy_declare(&y, 0);
        rng_t r1, r2;
        rc = k ? ckpt_read(k, &y, CKPT_OPTIM, &e) : e.code;
        if (!rc) rc = ckpt_rng(k, "data", &r1, &e);
        if (!rc) rc = ckpt_rng(k, "dropout", &r2, &e);
        CHECK(rc == EXIT_MODEL && strstr(e.msg, edits[i].want), "edited checkpoint refused: %s", e.msg);
        params_free(&y);
        ckpt_close(k);
        free(cp);
    }
    /* a NaN in the data, and a negative second moment */
    if (file) {
        params_t y;
        toy_declare(&y, 0);
        size_t hl = 0;
        for (int k = 7; k >= 0; k--) hl = hl << 8 | file[k];
        unsigned char *cp = malloc(len);
        memcpy(cp, file, len);
        float nan = NAN;
        memcpy(cp + 8 + hl + 4 * 5, &nan, 4); /* lin.weight[5] */
        ckpt_t *k = ckpt_open_mem(cp, len, "nan", &e);
        rc = k ? ckpt_read(k, &y, CKPT_OPTIM, &e) : e.code;
        CHECK(rc == EXIT_MODEL && strstr(e.msg, "tensor 'lin.weight' holds NaN at [5]"), "NaN in a checkpoint: %s",
              e.msg);
        ckpt_close(k);
        memcpy(cp, file, len);
        float neg = -1;
        memcpy(cp + len - 4, &neg, 4); /* the last float: optim.v.cls.embedding[11] */
        k = ckpt_open_mem(cp, len, "neg", &e);
        rc = k ? ckpt_read(k, &y, CKPT_OPTIM, &e) : e.code;
        CHECK(rc == EXIT_MODEL && strstr(e.msg, "optim.v.cls.embedding' holds a negative second moment at [11]"),
              "negative v: %s", e.msg);
        ckpt_close(k);
        free(cp);
        params_free(&y);
    }
    free(file);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q tmp", tmpdir);
    CHECK(system(cmd) != 0, "no temporary file left in %s", tmpdir);
    unlink(path);
    unlink(wpath);
    params_free(&a);
    params_free(&a2);
    params_free(&c);
    pool_free(&pool);
}

int main(void) {
    char tmpdir[] = "/tmp/test_trainXXXXXX";
    if (!mkdtemp(tmpdir)) return 2;
    test_params();
    test_adamw_ref();
    test_lr_ref();
    test_lr_parse();
    test_scan();
    test_splits();
    test_resume(tmpdir);
    rmdir(tmpdir);
    T_DONE();
}
