/* fuzz_tensorfile.c - libFuzzer target for the weight-file readers.
 *
 * The first byte chooses the entry point: even -> tf_open_mem() on the rest
 * (safetensors or PyTorch zip, by magic), odd -> tf_open_pickle() on the rest
 * (the pickle VM alone, since inside a zip a mutated data.pkl would mostly
 * fail its CRC).  On success every tensor is read as F32 and clip_load_tf()
 * is tried.  Properties, besides "no crash, no sanitizer report": every error
 * is EXIT_MODEL with a message naming the input; a listed tensor has a
 * consistent shape; the listing is sorted without duplicates.  Reads are
 * bounded by the input (safetensors) or by 1100x its size (zip), so no run
 * allocates more than ~100 MB.
 */
#include "clip_load.h"
#include "tensorfile.h"
#include <stdlib.h>
#include <string.h>

static void check_err(const err_t *e) {
    if (e->code != EXIT_MODEL || !strstr(e->msg, "fuzz")) abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    if (size < 1) return 0;
    err_t e = {0};
    tensorfile_t *tf = data[0] & 1 ? tf_open_pickle(data + 1, size - 1, "fuzz", &e)
                                   : tf_open_mem(data + 1, size - 1, "fuzz", &e);
    if (!tf) {
        check_err(&e);
        return 0;
    }
    for (size_t i = 0; i < tf_count(tf); i++) {
        const tf_info_t *t = tf_info(tf, i);
        size_t n = 1;
        for (int d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
        if (n != t->numel || !t->name) abort();
        if (i && strcmp(tf_info(tf, i - 1)->name, t->name) >= 0) abort();
        if (t->numel > (1u << 25)) continue;
        float *buf = malloc(t->numel * sizeof *buf + 1);
        if (tf_read_f32(tf, t, buf, &e)) check_err(&e);
        const float *v = tf_f32_view(tf, t);
        if (v && t->numel && memcmp(v, buf, 4) && buf[0] == buf[0]) abort();
        free(buf);
    }
    clip_params_t p;
    clip_load_opts_t o = {1, 1};
    if (clip_load_tf(tf, &p, &o, &e) == 0)
        clip_params_free(&p);
    else
        check_err(&e);
    tf_close(tf);
    return 0;
}
