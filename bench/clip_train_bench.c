/* clip_train_bench.c - times one training step of clip-train's model
 * (common/clip_train.c) on a configuration given on the command line: zero
 * the gradients, image and text towers forward, L2 normalisation, symmetric
 * InfoNCE, backward through both towers, NaN/Inf scan, global-norm clipping
 * to 1.0, AdamW (betas 0.9/0.98, eps 1e-6, weight decay 0.1 on matrices),
 * the logit_scale clamp -- exactly clip_trainer_grads + clip_trainer_update,
 * as tools/clip-train.c calls them, on a batch of deterministic pseudo-random
 * images and captions (rendering and tokenising are not timed).  Prints one
 * "name value unit" line per measurement: the median of --steps timed steps
 * after --warmup untimed ones, the forward/backward and update parts, the
 * losses (a sanity check: finite, and comparable with the PyTorch peer's,
 * bench/torch_clip_train.py, which uses the same sizes but its own random
 * weights and inputs) and the peak RSS.
 *
 * Usage: clip_train_bench [--v-width N] [--v-layers N] [--v-heads N] [--patch N]
 *          [--image N] [--t-width N] [--t-layers N] [--t-heads N] [--context N]
 *          [--vocab N] [--embed N] [--batch N] [--steps N] [--warmup N] [--threads N]
 * Defaults: the proposed shipped config (vision 128 wide, 6 layers, 2 heads,
 * patch 8, image 64; text 128 wide, 4 layers, 2 heads, context 16, vocabulary
 * 49408; embedding 128; batch 128), 5 timed steps after 1 warm-up, 2 threads.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "bench.h"
#include "clip_train.h"
#include "nn/loss.h"

typedef struct {
    const char *flag;
    int *v;
    int lo, hi;
} opt_t;

static void usage(const opt_t *o, int n) {
    fprintf(stderr, "usage: clip_train_bench");
    for (int i = 0; i < n; i++) fprintf(stderr, " [%s N]", o[i].flag);
    fprintf(stderr, "\n");
    exit(EXIT_USAGE);
}

int main(int argc, char **argv) {
    util_init(argv[0]);
    clip_config_t cfg = {.v_width = 128, .v_layers = 6, .v_heads = 2, .patch = 8, .image_size = 64,
                         .t_width = 128, .t_layers = 4, .t_heads = 2, .context = 16, .vocab = 49408,
                         .embed_dim = 128, .mlp_ratio = 4};
    int batch = 128, steps = 5, warmup = 1, threads = 2;
    const opt_t opts[] = {
        {"--v-width", &cfg.v_width, 8, 4096},   {"--v-layers", &cfg.v_layers, 1, 64},
        {"--v-heads", &cfg.v_heads, 1, 256},    {"--patch", &cfg.patch, 1, 256},
        {"--image", &cfg.image_size, 1, 1024},  {"--t-width", &cfg.t_width, 8, 4096},
        {"--t-layers", &cfg.t_layers, 1, 64},   {"--t-heads", &cfg.t_heads, 1, 256},
        {"--context", &cfg.context, 3, 1024},   {"--vocab", &cfg.vocab, 4, 1 << 20},
        {"--embed", &cfg.embed_dim, 1, 4096},   {"--batch", &batch, 1, 1 << 16},
        {"--steps", &steps, 1, 1000},           {"--warmup", &warmup, 0, 1000},
        {"--threads", &threads, 1, 256},
    };
    int nopt = (int)(sizeof opts / sizeof *opts);
    for (int i = 1; i < argc; i++) {
        int k = 0;
        while (k < nopt && strcmp(argv[i], opts[k].flag)) k++;
        if (k == nopt || i + 1 >= argc) usage(opts, nopt);
        char *end;
        long v = strtol(argv[++i], &end, 10);
        if (*end || v < opts[k].lo || v > opts[k].hi) usage(opts, nopt);
        *opts[k].v = (int)v;
    }
    err_t e = {0};
    pool_t pool;
    if (pool_init(&pool, threads, &e)) die_err(&e);
    nn_par_t par = pool_par(&pool);
    clip_trainer_t T;
    if (clip_trainer_init(&T, &cfg, batch, &par, &e)) die_err(&e);
    rng_t r;
    rng_seed(&r, 1);
    clip_trainer_init_weights(&T, &r);

    /* inputs: images uniform in about [-1.8, 2.1] (CLIP-normalised range),
     * captions "SOT w1 .. wn EOT 0 ..." with n from 1 to context - 2 */
    size_t S = (size_t)cfg.image_size, C = (size_t)cfg.context, B = (size_t)batch;
    unsigned long long seed = 12345;
    float *img = rnd(B * 3 * S * S, &seed);
    for (size_t i = 0; i < B * 3 * S * S; i++) img[i] *= 4.0f;
    int *ids = xcalloc(B * C, sizeof *ids);
    for (size_t b = 0; b < B; b++) {
        size_t n = 1 + b % (C - 2);
        ids[b * C] = cfg.vocab - 2;
        for (size_t j = 1; j <= n; j++) ids[b * C + j] = 1 + (int)rng_below(&r, (uint64_t)cfg.vocab - 3);
        ids[b * C + n + 1] = cfg.vocab - 1;
    }
    adamw_hparams_t hp = adamw_defaults(5e-4);
    hp.beta2 = 0.98, hp.eps = 1e-6, hp.weight_decay = 0.1;

    printf("threads %d count\n", threads);
    printf("params %zu count\n", T.ps.numel);
    printf("batch %d count\n", batch);
    double *tt = xcalloc((size_t)steps, sizeof *tt), *tg = xcalloc((size_t)steps, sizeof *tg),
           *tu = xcalloc((size_t)steps, sizeof *tu);
    float loss = NAN, first = NAN;
    for (int k = 0; k < warmup + steps; k++) {
        double gn, t0 = now_sec();
        if (clip_trainer_grads(&T, img, ids, batch, &loss, NULL, &e)) die_err(&e);
        double t1 = now_sec();
        if (clip_trainer_update(&T, &hp, k + 1, 1.0, &gn, &e)) die_err(&e);
        double t2 = now_sec();
        if (k == 0) first = loss;
        if (k >= warmup) tt[k - warmup] = t2 - t0, tg[k - warmup] = t1 - t0, tu[k - warmup] = t2 - t1;
        fprintf(stderr, "clip_train_bench: step %d: %.3f s, loss %.4f\n", k + 1, t2 - t0, loss);
    }
    printf("step %.4f s\n", median(tt, steps));
    printf("grads %.4f s\n", median(tg, steps));
    printf("update %.4f s\n", median(tu, steps));
    printf("loss_first %.4f\n", first);
    printf("loss_last %.4f\n", loss);

    /* where the time goes: clip_trainer_grads' parts called one by one (the
     * same calls in the same order), then the update; median of
     * min(steps, 3) untimed-above steps */
    int nb = steps < 3 ? steps : 3;
    const char *part[6] = {"image_forward", "text_forward", "loss", "image_backward", "text_backward", "update_part"};
    double *tp[6];
    for (int i = 0; i < 6; i++) tp[i] = xcalloc((size_t)nb, sizeof(double));
    int E = cfg.embed_dim;
    for (int k = 0; k < nb; k++) {
        double t[7];
        t[0] = now_sec();
        params_zero_grad(&T.ps, &T.m.par);
        if (clip_image_forward(&T.m, img, batch, T.ie, &e)) die_err(&e);
        t[1] = now_sec();
        if (clip_text_forward(&T.m, ids, batch, T.te, &e)) die_err(&e);
        t[2] = now_sec();
        clip_normalize_forward(T.in, T.inorm, T.ie, batch, E);
        clip_normalize_forward(T.tn, T.tnorm, T.te, batch, E);
        if (infonce(&T.m.par, &loss, T.dn_i, T.dn_t, T.m.g.logit_scale, T.in, T.tn, T.m.w.logit_scale[0], batch, E,
                    T.ws, T.nws))
            die(EXIT_INTERNAL, "infonce refused its arguments");
        memset(T.de_i, 0, sizeof(float) * B * (size_t)E);
        memset(T.de_t, 0, sizeof(float) * B * (size_t)E);
        clip_normalize_backward(T.de_i, T.dn_i, T.in, T.inorm, batch, E);
        clip_normalize_backward(T.de_t, T.dn_t, T.tn, T.tnorm, batch, E);
        t[3] = now_sec();
        if (clip_image_backward(&T.m, T.de_i, NULL, NULL, 1, &e)) die_err(&e);
        t[4] = now_sec();
        if (clip_text_backward(&T.m, T.de_t, 1, &e)) die_err(&e);
        t[5] = now_sec();
        if (clip_trainer_update(&T, &hp, warmup + steps + k + 1, 1.0, NULL, &e)) die_err(&e);
        t[6] = now_sec();
        for (int i = 0; i < 6; i++) tp[i][k] = t[i + 1] - t[i];
    }
    for (int i = 0; i < 6; i++) {
        printf("%s %.4f s\n", part[i], median(tp[i], nb));
        free(tp[i]);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak_rss %.0f MB\n", ru.ru_maxrss / 1024.0);
    clip_trainer_free(&T);
    pool_free(&pool);
    free(img), free(ids), free(tt), free(tg), free(tu);
    return 0;
}
