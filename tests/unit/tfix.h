/* tfix.h - reading the PyTorch fixtures (safetensors) in unit tests. */
#ifndef TFIX_H
#define TFIX_H
#include <stdio.h>
#include <stdlib.h>
#include "tensorfile.h"

/* Tensor name of tf as float32, malloc'd; want = its element count (0: any).
 * NULL, with a "# ..." line saying why, if it is missing, of another size or
 * unreadable. */
static inline float *t_tensor(tensorfile_t *tf, const char *name, size_t want) {
    const tf_info_t *ti = tf_find(tf, name);
    if (!ti) {
        printf("# fixture tensor %s is missing\n", name);
        return NULL;
    }
    if (want && ti->numel != want) {
        printf("# fixture tensor %s has %zu values, want %zu\n", name, ti->numel, want);
        return NULL;
    }
    float *d = malloc(sizeof(float) * (ti->numel ? ti->numel : 1));
    err_t e = {0};
    if (tf_read_f32(tf, ti, d, &e)) {
        printf("# %s\n", e.msg);
        free(d);
        return NULL;
    }
    return d;
}
#endif
