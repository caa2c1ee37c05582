/* fuzz_evalnet.c - libFuzzer target for the evaluator model reader
 * (evalnet.h: evalnet_parse_channels, evalnet_config_from_ckpt,
 * evalnet_words_from_ckpt, evalnet_open_model over checkpoint.c).
 *
 * The input is used twice.  As a NUL-terminated string it goes to
 * evalnet_parse_channels: a success must give 1..EVALNET_MAX_BLOCKS counts
 * in 1..4096, and the canonical list written back must parse to the same
 * counts.  As a whole file it is opened as a checkpoint and read as a
 * model: every error is EXIT_MODEL naming the input ("fuzz"); a model that
 * opens has a configuration that passes evalnet_config_check, K sorted,
 * distinct, non-empty words, finite weights, and runs one eval forward on a
 * blank image.  Configurations over 2 M parameters or 64 px are only
 * checked, not built (memory).  Seeds (tests/fuzz/seeds/fuzz_evalnet/): a
 * tiny model written by sketch-score --train and edited copies of it, and
 * channel lists.
 */
#include "evalnet.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_err(const err_t *e) {
    if (e->code != EXIT_MODEL || !strstr(e->msg, "fuzz")) abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    /* the channel-list parser */
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    evalnet_config_t c = {0};
    if (evalnet_parse_channels(s, &c) == 0) {
        if (c.nblocks < 1 || c.nblocks > EVALNET_MAX_BLOCKS) abort();
        char buf[128];
        size_t used = 0;
        for (int i = 0; i < c.nblocks; i++) {
            if (c.ch[i] < 1 || c.ch[i] > 4096) abort();
            used += (size_t)snprintf(buf + used, sizeof buf - used, i ? ",%d" : "%d", c.ch[i]);
        }
        evalnet_config_t c2 = {0};
        if (evalnet_parse_channels(buf, &c2) || c2.nblocks != c.nblocks || memcmp(c2.ch, c.ch, sizeof c.ch)) abort();
    }
    free(s);

    /* the model file */
    err_t e = {0};
    ckpt_t *ck = ckpt_open_mem(data, size, "fuzz", &e);
    if (!ck) {
        if (e.code != EXIT_MODEL) abort();
        return 0;
    }
    evalnet_config_t cfg;
    if (evalnet_config_from_ckpt(ck, "fuzz", &cfg, &e)) {
        check_err(&e);
        ckpt_close(ck);
        return 0;
    }
    err_t e2 = {0};
    if (evalnet_config_check(&cfg, &e2)) abort();
    if (evalnet_params_count(&cfg) > 2000000 || cfg.image_size > 64) {
        ckpt_close(ck);
        return 0;
    }
    evalnet_t n;
    char **words = NULL;
    if (evalnet_open_model(ck, "fuzz", 1, NULL, &n, &words, &e)) {
        check_err(&e);
        ckpt_close(ck);
        return 0;
    }
    for (int k = 0; k < cfg.classes; k++) {
        if (!words[k][0]) abort();
        if (k && strcmp(words[k - 1], words[k]) >= 0) abort();
    }
    for (size_t i = 0; i < n.ps.size; i++)
        if (!isfinite(n.ps.data[i])) abort();
    float *x = calloc((size_t)cfg.image_size * cfg.image_size, sizeof *x);
    if (evalnet_forward(&n, x, 1, 0, 0, &e)) abort();
    free(x);
    for (int k = 0; k < cfg.classes; k++) free(words[k]);
    free(words);
    evalnet_free(&n);
    ckpt_close(ck);
    return 0;
}
