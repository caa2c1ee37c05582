/* test_evalnet.c - common/evalnet.c, the recognisability classifier, against
 * its PyTorch twin and on its own.
 *
 *   - The twin (tests/gen_evalnet_ref.py, fixture tests/fixtures/evalnet/):
 *     a 3-block net (16 px, channels 3,4,5, 5 classes, dropout 0.25 with
 *     nn/dropout.h's mask, label smoothing 0.1), batch 4, one training
 *     forward + backward and an eval forward.  Logits, loss, every batch
 *     norm's batch mean and 1/std, every gradient, the running statistics
 *     after the step and the eval-mode logits are compared, serially and on
 *     a 2-thread pool (tolerances at each CHECK: float32 against float64).
 *   - Without a twin: central finite differences of the loss on a few
 *     weights of every tensor; a smaller batch than the capacity; eval mode
 *     is deterministic and leaves the running statistics alone; the config
 *     survives a checkpoint's metadata and malformed metadata is refused
 *     with EXIT_MODEL naming the key; bad configs are EXIT_USAGE.
 */
#include <string.h>
#include <unistd.h>
#include "evalnet.h"
#include "pool.h"
#include "t.h"
#include "tfix.h"
#include "tensorfile.h"

#define FIX "tests/fixtures/evalnet/ref.safetensors"

static double meta_d(tensorfile_t *tf, const char *k) {
    const char *s = tf_meta(tf, k);
    if (!s) printf("# fixture metadata %s missing\n", k);
    return s ? strtod(s, NULL) : NAN;
}

static evalnet_config_t fixture_cfg(tensorfile_t *tf) {
    evalnet_config_t c = {.image_size = (int)meta_d(tf, "image_size"), .classes = (int)meta_d(tf, "classes"),
                          .dropout = (float)meta_d(tf, "dropout"), .bn_eps = (float)meta_d(tf, "bn_eps"),
                          .bn_momentum = (float)meta_d(tf, "bn_momentum")};
    const char *ch = tf_meta(tf, "channels");
    for (const char *p = ch; p && *p && c.nblocks < EVALNET_MAX_BLOCKS;) {
        c.ch[c.nblocks++] = (int)strtol(p, (char **)&p, 10);
        if (*p == ',') p++;
    }
    return c;
}

/* worst |a-b| / (atol + rtol|b|) over n values */
static double worst(const float *a, const float *b, size_t n, double atol, double rtol, size_t *at) {
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double r = fabs((double)a[i] - b[i]) / (atol + rtol * fabs(b[i]));
        if (!(r <= w)) w = r, *at = i;
    }
    return w;
}

static int cmp(const char *what, tensorfile_t *tf, const char *name, const float *got, size_t n, double atol,
               double rtol) {
    float *want = t_tensor(tf, name, n);
    if (!want) {
        CHECK(0, "%s: fixture %s", what, name);
        return 1;
    }
    size_t at = 0;
    double w = worst(got, want, n, atol, rtol, &at);
    CHECK(w <= 1, "%s: %s within %g + %g|x| (worst %.3f of it, [%zu] %.8g vs torch %.8g)", what, name, atol, rtol, w,
          at, got[at], want[at]);
    free(want);
    return w > 1;
}

static void load_fixture_weights(evalnet_t *n, tensorfile_t *tf) {
    for (int i = 0; i < n->ps.n; i++) {
        char k[PARAMS_NAME_MAX + 8];
        snprintf(k, sizeof k, "w.%s", n->ps.t[i].name);
        float *v = t_tensor(tf, k, n->ps.t[i].numel);
        if (v) memcpy(n->ps.data + n->ps.t[i].offset, v, n->ps.t[i].numel * sizeof(float)), free(v);
    }
}

static void twin(tensorfile_t *tf, const nn_par_t *par, const char *how) {
    evalnet_config_t c = fixture_cfg(tf);
    int B = (int)meta_d(tf, "batch"), K = c.classes, S = c.image_size;
    uint64_t seed = (uint64_t)meta_d(tf, "seed");
    float smooth = (float)meta_d(tf, "smoothing");
    evalnet_t n;
    err_t e = {0};
    if (evalnet_init(&n, &c, B, PARAMS_TRAIN, par, &e)) {
        CHECK(0, "%s: init: %s", how, e.msg);
        return;
    }
    load_fixture_weights(&n, tf);
    float *x = t_tensor(tf, "x", (size_t)B * S * S), *lab = t_tensor(tf, "labels", (size_t)B);
    int labels[64];
    for (int i = 0; i < B; i++) labels[i] = lab ? (int)lab[i] : 0;
    float loss = NAN;
    int correct = -1;
    int rc = x ? evalnet_train_grads(&n, x, labels, B, smooth, seed, &loss, &correct, &e) : 1;
    CHECK(rc == 0, "%s: training step runs (%s)", how, rc ? e.msg : "ok");
    char msg[160];
    snprintf(msg, sizeof msg, "%s train", how);
    /* float32 kernels against a float64 twin: sums of 9*c products and
     * batch statistics over B*H*W values; 2e-5 absolute + 2e-4 relative */
    cmp(msg, tf, "logits", n.logits, (size_t)B * K, 2e-5, 2e-4);
    cmp(msg, tf, "loss", &loss, 1, 1e-6, 1e-5);
    for (int i = 0; i < c.nblocks; i++) {
        char k[64];
        snprintf(k, sizeof k, "bn.%d.mean", i);
        cmp(msg, tf, k, n.blk[i].mean, (size_t)c.ch[i], 1e-6, 1e-5);
        snprintf(k, sizeof k, "bn.%d.rstd", i);
        cmp(msg, tf, k, n.blk[i].rstd, (size_t)c.ch[i], 1e-6, 1e-4);
    }
    for (int i = 0; i < n.ps.n; i++) {
        const param_t *p = &n.ps.t[i];
        char k[PARAMS_NAME_MAX + 8];
        if (strstr(p->name, "running_")) {
            snprintf(k, sizeof k, "after.%s", p->name);
            cmp(msg, tf, k, n.ps.data + p->offset, p->numel, 1e-6, 1e-5);
            int zero = 1;
            for (size_t j = 0; j < p->numel; j++) zero &= n.ps.grad[p->offset + j] == 0;
            CHECK(zero, "%s: %s has no gradient", msg, p->name);
        } else {
            snprintf(k, sizeof k, "grad.%s", p->name);
            /* gradients: 1e-5 absolute (they are O(0.01..1)) + 5e-4 relative */
            cmp(msg, tf, k, n.ps.grad + p->offset, p->numel, 1e-5, 5e-4);
        }
    }
    /* eval mode with the updated running statistics */
    float *run = malloc(n.ps.size * sizeof *run);
    memcpy(run, n.ps.data, n.ps.size * sizeof *run);
    rc = evalnet_forward(&n, x, B, 0, 0, &e);
    snprintf(msg, sizeof msg, "%s eval", how);
    CHECK(rc == 0, "%s: runs", msg);
    cmp(msg, tf, "eval_logits", n.logits, (size_t)B * K, 2e-5, 2e-4);
    CHECK(!memcmp(run, n.ps.data, n.ps.size * sizeof *run), "%s: leaves every parameter and statistic alone", msg);
    err_t e2 = {0};
    CHECK(evalnet_backward(&n, n.dlogits, B, &e2) == EXIT_INTERNAL, "%s: backward after an eval forward refused",
          msg);
    free(run);
    free(x), free(lab);
    evalnet_free(&n);
}

/* loss of the fixed batch at the current weights (running stats restored) */
static double loss_at(evalnet_t *n, const float *x, const int *lab, int B, float smooth, const float *run0) {
    for (int i = 0; i < n->cfg.nblocks; i++) {
        /* the training forward updates running stats; they do not affect the loss */
        (void)run0;
    }
    float l;
    err_t e = {0};
    if (evalnet_forward(n, x, B, 1, 99, &e)) return NAN;
    /* cross-entropy in double */
    int K = n->cfg.classes;
    double s = 0;
    for (int b = 0; b < B; b++) {
        const float *z = n->logits + (size_t)b * K;
        double mx = z[0], se = 0, mean = 0;
        for (int k = 1; k < K; k++) mx = z[k] > mx ? z[k] : mx;
        for (int k = 0; k < K; k++) se += exp(z[k] - mx), mean += z[k];
        double lse = mx + log(se);
        s += (1 - smooth) * (lse - z[lab[b]]) + smooth * (lse - mean / K);
    }
    l = (float)(s / B);
    return l;
}

static void finite_differences(void) {
    evalnet_config_t c = {.image_size = 12, .nblocks = 2, .ch = {3, 4}, .classes = 3, .dropout = 0.3f};
    evalnet_config_defaults(&c);
    int B = 3;
    evalnet_t n;
    err_t e = {0};
    if (evalnet_init(&n, &c, B, PARAMS_TRAIN, NULL, &e)) {
        CHECK(0, "fd: init: %s", e.msg);
        return;
    }
    rng_t r;
    rng_seed(&r, 5);
    evalnet_init_weights(&n, &r);
    for (int i = 0; i < c.nblocks; i++)
        for (int k = 0; k < c.ch[i]; k++) n.blk[i].g[k] = (float)rng_range(&r, 0.5, 1.5), n.blk[i].b[k] = (float)rng_range(&r, -0.3, 0.3);
    float x[3 * 144];
    for (int i = 0; i < 3 * 144; i++) x[i] = rng_uniform(&r) < 0.3 ? (float)rng_uniform(&r) : 0;
    int lab[3] = {0, 2, 1};
    float loss;
    if (evalnet_train_grads(&n, x, lab, B, 0.1f, 99, &loss, NULL, &e)) {
        CHECK(0, "fd: step: %s", e.msg);
        evalnet_free(&n);
        return;
    }
    float *g = malloc(n.ps.size * sizeof *g);
    memcpy(g, n.ps.grad, n.ps.size * sizeof *g);
    double worst_r = 0;
    int tested = 0, bad = 0;
    for (int i = 0; i < n.ps.n; i++) {
        const param_t *p = &n.ps.t[i];
        if (strstr(p->name, "running_")) continue;
        for (int j = 0; j < 3 && (size_t)j < p->numel; j++) {
            size_t at = p->offset + (size_t)rng_below(&r, p->numel);
            float w0 = n.ps.data[at];
            double h = 1e-2 * (fabs(w0) > 1 ? fabs(w0) : 1);
            n.ps.data[at] = (float)(w0 + h);
            double lp = loss_at(&n, x, lab, B, 0.1f, NULL);
            n.ps.data[at] = (float)(w0 - h);
            double lm = loss_at(&n, x, lab, B, 0.1f, NULL);
            n.ps.data[at] = w0;
            double fd = (lp - lm) / (2 * h), an = g[at];
            double err = fabs(fd - an) / (2e-3 + 0.05 * fabs(fd));
            tested++;
            if (err > 1) {
                bad++;
                printf("#   %s: analytic %.6g, finite differences %.6g\n", p->name, an, fd);
            }
            if (err > worst_r) worst_r = err;
        }
    }
    CHECK(bad == 0, "finite differences: %d weights over every tensor agree within 2e-3 + 5%% (worst %.2f of it)",
          tested, worst_r);
    free(g);
    evalnet_free(&n);
}

static void batch_and_threads(tensorfile_t *tf) {
    /* a batch of 2 in a net sized for 4 gives the same eval logits as the
     * first two rows of a batch of 4 (eval mode is per-image) */
    evalnet_config_t c = fixture_cfg(tf);
    evalnet_t n;
    err_t e = {0};
    if (evalnet_init(&n, &c, 4, PARAMS_DATA_ONLY, NULL, &e)) return;
    load_fixture_weights(&n, tf);
    float *x = t_tensor(tf, "x", (size_t)4 * c.image_size * c.image_size);
    float l4[64], l2[64];
    int ok = x && !evalnet_forward(&n, x, 4, 0, 0, &e);
    memcpy(l4, n.logits, (size_t)4 * c.classes * sizeof(float));
    ok = ok && !evalnet_forward(&n, x, 2, 0, 0, &e);
    memcpy(l2, n.logits, (size_t)2 * c.classes * sizeof(float));
    CHECK(ok && !memcmp(l2, l4, (size_t)2 * c.classes * sizeof(float)),
          "eval mode: a batch of 2 gives the first rows of a batch of 4 bit for bit");
    CHECK(evalnet_forward(&n, x, 5, 0, 0, &e) == EXIT_USAGE, "a batch over the capacity is refused");
    CHECK(evalnet_backward(&n, n.dlogits, 2, &e) == EXIT_INTERNAL, "a data-only net refuses the backward");
    free(x);
    evalnet_free(&n);
}

static void config_files(void) {
    evalnet_config_t c = {.image_size = 32, .nblocks = 3, .ch = {8, 16, 24}, .classes = 7, .dropout = 0.2f};
    evalnet_config_defaults(&c);
    evalnet_t n;
    err_t e = {0};
    CHECK(evalnet_init(&n, &c, 2, PARAMS_TRAIN, NULL, &e) == 0, "init 3 blocks");
    CHECK(n.ps.numel == evalnet_params_count(&c), "parameter count %zu = evalnet_params_count %zu", n.ps.numel,
          evalnet_params_count(&c));
    rng_t r;
    rng_seed(&r, 3);
    evalnet_init_weights(&n, &r);
    ckpt_kv_t kv[EVALNET_META];
    char buf[EVALNET_META][2][160];
    int m = evalnet_config_meta(&c, kv, buf);
    char path[] = "/tmp/test_evalnet.XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    ckpt_state_t st = {.meta = kv, .nmeta = m};
    CHECK(ckpt_save(path, &n.ps, &st, CKPT_WEIGHTS, &e) == 0, "save weights + config (%s)", e.msg);
    ckpt_t *ck = ckpt_open(path, &e);
    evalnet_config_t c2;
    CHECK(ck && evalnet_config_from_ckpt(ck, path, &c2, &e) == 0, "config read back (%s)", e.msg);
    CHECK(ck && c2.image_size == 32 && c2.nblocks == 3 && c2.ch[2] == 24 && c2.classes == 7 && c2.dropout == 0.2f &&
              c2.bn_eps == c.bn_eps && c2.bn_momentum == c.bn_momentum,
          "config round-trips through the metadata");
    evalnet_t n2;
    if (ck && !evalnet_init(&n2, &c2, 1, PARAMS_DATA_ONLY, NULL, &e)) {
        CHECK(ckpt_read(ck, &n2.ps, CKPT_WEIGHTS, &e) == 0 && !memcmp(n2.ps.data, n.ps.data, n.ps.size * 4),
              "weights and running statistics read back bit for bit");
        evalnet_free(&n2);
    }
    ckpt_close(ck);
    /* malformed metadata */
    const char *bad[][2] = {{"evalnet.channels", "8,,24"},    {"evalnet.channels", "8,16,x"},
                            {"evalnet.image_size", "-3"},     {"evalnet.classes", "1"},
                            {"evalnet.dropout", "1.5"},       {"evalnet.channels", "1,1,1,1,1,1,1,1,1"},
                            {"evalnet.image_size", "4"}};
    for (size_t b = 0; b < sizeof bad / sizeof *bad; b++) {
        m = evalnet_config_meta(&c, kv, buf);
        for (int i = 0; i < m; i++)
            if (!strcmp(kv[i].key, bad[b][0])) kv[i].value = bad[b][1];
        st.meta = kv, st.nmeta = m;
        ckpt_save(path, &n.ps, &st, CKPT_WEIGHTS, &e);
        ck = ckpt_open(path, &e);
        err_t e3 = {0};
        int rc = ck ? evalnet_config_from_ckpt(ck, path, &c2, &e3) : -1;
        CHECK(rc == EXIT_MODEL && strstr(e3.msg, path), "metadata %s=\"%s\": EXIT_MODEL naming the file (%s)",
              bad[b][0], bad[b][1], e3.msg);
        ckpt_close(ck);
    }
    /* a missing key */
    st.nmeta = 2;
    ckpt_save(path, &n.ps, &st, CKPT_WEIGHTS, &e);
    ck = ckpt_open(path, &e);
    err_t e4 = {0};
    CHECK(ck && evalnet_config_from_ckpt(ck, path, &c2, &e4) == EXIT_MODEL && strstr(e4.msg, "evalnet."),
          "missing metadata: EXIT_MODEL naming the key (%s)", e4.msg);
    ckpt_close(ck);
    unlink(path);
    evalnet_free(&n);
    /* bad configs */
    evalnet_config_t b1 = c;
    b1.image_size = 4;
    CHECK(evalnet_init(&n, &b1, 2, PARAMS_TRAIN, NULL, &e) == EXIT_USAGE, "image too small for 3 halvings: %s", e.msg);
    b1 = c, b1.classes = 1;
    CHECK(evalnet_init(&n, &b1, 2, PARAMS_TRAIN, NULL, &e) == EXIT_USAGE, "one class: %s", e.msg);
    b1 = c, b1.dropout = 1;
    CHECK(evalnet_init(&n, &b1, 2, PARAMS_TRAIN, NULL, &e) == EXIT_USAGE, "dropout 1: %s", e.msg);
}

int main(void) {
    err_t e = {0};
    tensorfile_t *tf = tf_open(FIX, &e);
    CHECK(tf != NULL, "fixture %s opens (%s)", FIX, tf ? "ok" : e.msg);
    if (tf) {
        twin(tf, NULL, "serial");
        pool_t p2;
        if (!pool_init(&p2, 2, &e)) {
            nn_par_t par = pool_par(&p2);
            twin(tf, &par, "2 threads");
            pool_free(&p2);
        }
        batch_and_threads(tf);
        tf_close(tf);
    }
    finite_differences();
    config_files();
    T_DONE();
}
