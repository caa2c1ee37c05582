/* fuzz_checkpoint.c - libFuzzer target for the checkpoint loader
 * (checkpoint.h, over tensorfile.c's safetensors reader).
 *
 * The input is a whole file.  It is opened with ckpt_open_mem and read into
 * a small fixed model -- "enc.weight" (3,2), "enc.bias" (3), "scale" (scalar)
 * -- with its optimiser state, then weights-only into a data-only set, and
 * the generators "data" and "dropout" are asked for.  Properties, besides "no
 * crash, no sanitizer report": every error is EXIT_MODEL with a message
 * naming the input ("fuzz"); a successful read leaves only finite values and
 * no negative second moment; and a checkpoint that reads fully is saved
 * again (to a temporary file), reloaded, and gives back the same bits, step
 * and generator states.  Seeds (tests/fuzz/seeds/fuzz_checkpoint/) are
 * ckpt_save outputs for this model and edited copies of them.
 */
#include "checkpoint.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void check_err(const err_t *e) {
    if (e->code != EXIT_MODEL || !strstr(e->msg, "fuzz")) abort();
}

static void declare(params_t *ps, int flags) {
    params_init(ps);
    PARAMS_ADD(ps, "enc.weight", 3, 2);
    PARAMS_ADD(ps, "enc.bias", 3);
    params_add(ps, "scale", 0, NULL, PARAM_DECAY_AUTO, NULL);
    err_t e = {0};
    if (params_alloc(ps, flags, &e)) abort();
}

static void check_values(const params_t *ps) {
    for (int i = 0; i < ps->n; i++) {
        const param_t *t = &ps->t[i];
        for (size_t k = 0; k < t->numel; k++) {
            if (!isfinite(ps->data[t->offset + k])) abort();
            if (ps->m && !isfinite(ps->m[t->offset + k])) abort();
            if (ps->v && !(ps->v[t->offset + k] >= 0 && isfinite(ps->v[t->offset + k]))) abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    err_t e = {0};
    ckpt_t *c = ckpt_open_mem(data, size, "fuzz", &e);
    if (!c) {
        check_err(&e);
        return 0;
    }
    (void)ckpt_meta(c, "lr");
    int64_t step = ckpt_step(c);
    if (step < 0) abort();
    rng_t rd, rn;
    int have_rd = ckpt_rng(c, "data", &rd, &e) == 0;
    if (!have_rd) check_err(&e);
    int have_rn = ckpt_rng(c, "dropout", &rn, &e) == 0;
    if (!have_rn) check_err(&e);

    params_t w;
    declare(&w, PARAMS_DATA_ONLY);
    if (ckpt_read(c, &w, CKPT_WEIGHTS, &e)) check_err(&e);
    else check_values(&w);
    params_free(&w);

    params_t ps;
    declare(&ps, PARAMS_TRAIN);
    int rc = ckpt_read(c, &ps, CKPT_OPTIM, &e);
    if (rc) check_err(&e);
    else check_values(&ps);
    ckpt_close(c);

    if (!rc && have_rd && have_rn) { /* round trip through the writer */
        char path[64];
        snprintf(path, sizeof path, "/tmp/fuzz_checkpoint.%d.safetensors", (int)getpid());
        ckpt_rng_t rngs[2] = {{"data", &rd}, {"dropout", &rn}};
        ckpt_kv_t meta[1] = {{"lr", "constant"}};
        ckpt_state_t st = {.step = step, .rng = rngs, .nrng = 2, .meta = meta, .nmeta = 1};
        if (ckpt_save(path, &ps, &st, CKPT_OPTIM, &e)) abort();
        params_t back;
        declare(&back, PARAMS_TRAIN);
        rng_t bd, bn;
        ckpt_rng_t brngs[2] = {{"data", &bd}, {"dropout", &bn}};
        ckpt_state_t bst = {.rng = brngs, .nrng = 2};
        if (ckpt_load(path, &back, &bst, CKPT_OPTIM, &e)) abort();
        size_t bytes = ps.size * sizeof(float);
        if (bst.step != step || memcmp(&bd, &rd, sizeof rd) || memcmp(&bn, &rn, sizeof rn) ||
            memcmp(back.data, ps.data, bytes) || memcmp(back.m, ps.m, bytes) || memcmp(back.v, ps.v, bytes))
            abort();
        params_free(&back);
        unlink(path);
    }
    params_free(&ps);
    return 0;
}
