/* fuzz_unet_model.c - libFuzzer target for what unet-train --apply and
 * --resume parse (unet_train.h): a model or checkpoint file's config
 * metadata and weights, and the --input-width range.
 *
 * Input starting with 'W': the rest is an --input-width value; an accepted
 * range is finite with 0 < lo <= hi <= 1e4.  Anything else is a whole
 * safetensors file: opened with ckpt_open_mem, its config parsed back
 * (unet_model_config_from) and, for generators of at most 100,000
 * parameters, built and read (unet_model_read: a model file, or a training
 * checkpoint's "gen." tensors).  Properties: every refusal is EXIT_MODEL
 * naming the input ("fuzz") (or EXIT_INTERNAL: out of memory); a parsed
 * config writes back (unet_model_meta) the keys it was read from, with the
 * same arch and norm; a model that loads runs one eval forward on a blank
 * page (values are not checked: finite but huge weights may overflow).  Seeds (tests/fuzz/seeds/fuzz_unet_model/): tiny models
 * and checkpoints written by unet-train, and width strings.
 */
#include "unet_train.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_err(const err_t *e) {
    if (e->code != EXIT_MODEL || !strstr(e->msg, "fuzz")) abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    err_t e = {0};
    if (size && data[0] == 'W') {
        char s[128];
        size_t n = size - 1 < sizeof s - 1 ? size - 1 : sizeof s - 1;
        memcpy(s, data + 1, n), s[n] = 0;
        double lo = -7, hi = -7;
        if (unet_width_range(s, &lo, &hi) == 0) {
            if (!(lo > 0 && lo <= hi && hi <= 1e4 && isfinite(lo) && isfinite(hi))) abort();
        } else if (lo != -7 || hi != -7) {
            abort();
        }
        return 0;
    }
    ckpt_t *c = ckpt_open_mem(data, size, "fuzz", &e);
    if (!c) {
        check_err(&e);
        return 0;
    }
    unet_model_cfg_t m;
    if (unet_model_config_from(c, "fuzz", &m, &e)) {
        check_err(&e);
        ckpt_close(c);
        return 0;
    }
    /* what we would write for this config is what we read, where it is canonical */
    char buf[UNET_META_KEYS][2][UNET_META_LEN];
    ckpt_kv_t kv[UNET_META_KEYS];
    int n = unet_model_meta(&m, buf, kv, 0);
    if (n != UNET_META_KEYS) abort();
    for (int i = 0; i < n; i++) {
        const char *v = ckpt_meta(c, kv[i].key);
        if (!v) abort();
        if (!strcmp(kv[i].key, "unet.arch") || !strcmp(kv[i].key, "unet.norm"))
            if (strcmp(v, kv[i].value)) abort();
    }
    unet_t G;
    unet_model_cfg_t m2;
    if (unet_model_read(c, "fuzz", &G, 1, NULL, &m2, 100000, &e)) {
        if (e.code != EXIT_INTERNAL) check_err(&e);
    } else {
        int S = unet_model_size(&m2);
        if (S <= 64) {
            float *x = malloc((size_t)S * S * sizeof *x), *y = malloc((size_t)S * S * sizeof *y);
            for (int i = 0; i < S * S; i++) x[i] = 1;
            if (unet_forward(&G, x, 1, y, &e)) abort();
            free(x), free(y);
        }
        unet_free(&G);
    }
    ckpt_close(c);
    return 0;
}
