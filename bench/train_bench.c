/* train_bench.c - times the training core's per-step block work on a model
 * the size of CLIP ViT-B/32 (its 302 tensors, 151 M floats, declared from
 * clip_params_each): zero the gradients, clip to a global norm, one AdamW
 * step (decay on matrices, none on biases, norms and embeddings), scan the
 * gradients for NaN/Inf; and a checkpoint save + load.  Prints one
 * "name value unit" line per measurement (median of reps).  The PyTorch peer
 * (bench/torch_adamw.py) reads the same tensor list, written by --shapes.
 *
 * Usage: train_bench [--shapes FILE] [reps]   (threads: TRAIN_THREADS, default 2)
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "checkpoint.h"
#include "clip_params.h"
#include "pool.h"

static const clip_config_t B32 = {.v_width = 768, .v_layers = 12, .v_heads = 12, .patch = 32, .image_size = 224,
                                  .t_width = 512, .t_layers = 12, .t_heads = 8, .context = 77, .vocab = 49408,
                                  .embed_dim = 512, .mlp_ratio = 4};

typedef struct {
    params_t *ps;
    FILE *shapes;
} decl_ctx_t;

static int declare(const char *name, float *data, int ndim, const int *shape, void *vc) {
    decl_ctx_t *c = vc;
    params_add(c->ps, name, ndim, shape, PARAM_DECAY_AUTO, NULL);
    if (c->shapes) {
        fprintf(c->shapes, "%s %d", name, c->ps->t[c->ps->n - 1].decay);
        for (int d = 0; d < ndim; d++) fprintf(c->shapes, " %d", shape[d]);
        fprintf(c->shapes, "\n");
    }
    return 0;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv) {
    const char *shapes_path = NULL;
    int reps = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--shapes") && i + 1 < argc) shapes_path = argv[++i];
        else reps = atoi(argv[i]);
    }
    if (reps < 1) reps = 1;
    const char *th = getenv("TRAIN_THREADS");
    int nthreads = th ? atoi(th) : 2;
    params_t ps;
    params_init(&ps);
    clip_params_t cp;
    if (clip_params_alloc(&cp, &B32)) return 1; /* only for its tensor list */
    decl_ctx_t dc = {&ps, shapes_path ? fopen(shapes_path, "w") : NULL};
    clip_params_each(&cp, declare, &dc);
    clip_params_free(&cp);
    if (dc.shapes) fclose(dc.shapes);
    err_t e = {0};
    if (params_alloc(&ps, PARAMS_TRAIN, &e)) {
        fprintf(stderr, "train_bench: %s\n", e.msg);
        return 1;
    }
    rng_t r;
    rng_seed(&r, 1);
    for (size_t i = 0; i < ps.size; i++) ps.data[i] = (float)(rng_uniform(&r) - 0.5);
    pool_t pool;
    err_t pe = {0};
    if (pool_init(&pool, nthreads, &pe)) die_err(&pe);
    nn_par_t par = pool_par(&pool);
    adamw_hparams_t hp = adamw_defaults(1e-4);
    hp.weight_decay = 0.1;
    double *tz = calloc((size_t)reps, sizeof(double)), *tc = calloc((size_t)reps, sizeof(double)),
           *ta = calloc((size_t)reps, sizeof(double)), *tn = calloc((size_t)reps, sizeof(double));
    for (int k = 0; k <= reps; k++) { /* k = 0 warms up */
        double t0 = now_sec();
        params_zero_grad(&ps, &par);
        double t1 = now_sec();
        for (size_t i = 0; i < ps.size; i += 7) ps.grad[i] = (float)(i % 13) * 1e-3f; /* untimed */
        double t2 = now_sec();
        params_clip_grad(&ps, 1.0, &par);
        double t3 = now_sec();
        params_step(&ps, &hp, k + 1, &par, &e);
        double t4 = now_sec();
        if (params_check_finite(&ps, ps.grad, "gradient", &par, &e)) return 1;
        double t5 = now_sec();
        if (k) tz[k - 1] = t1 - t0, tc[k - 1] = t3 - t2, ta[k - 1] = t4 - t3, tn[k - 1] = t5 - t4;
    }
    printf("floats %zu count\n", ps.numel);
    printf("tensors %d count\n", ps.n);
    printf("threads %d count\n", nthreads);
    printf("zero_grad %.2f ms\n", 1e3 * median(tz, reps));
    printf("clip_grad_norm %.2f ms\n", 1e3 * median(tc, reps));
    printf("adamw_step %.2f ms\n", 1e3 * median(ta, reps));
    printf("nonfinite_scan %.2f ms\n", 1e3 * median(tn, reps));
    char path[64];
    snprintf(path, sizeof path, "/tmp/train_bench.%d.safetensors", (int)getpid());
    ckpt_state_t st = {.step = 1};
    double t0 = now_sec();
    if (ckpt_save(path, &ps, &st, CKPT_OPTIM, &e)) fprintf(stderr, "train_bench: %s\n", e.msg);
    double t1 = now_sec();
    if (ckpt_load(path, &ps, &st, CKPT_OPTIM, &e)) fprintf(stderr, "train_bench: %s\n", e.msg);
    double t2 = now_sec();
    unlink(path);
    printf("ckpt_save %.2f ms\n", 1e3 * (t1 - t0));
    printf("ckpt_load %.2f ms\n", 1e3 * (t2 - t1));
    pool_free(&pool);
    params_free(&ps);
    free(tz), free(tc), free(ta), free(tn);
    return 0;
}
