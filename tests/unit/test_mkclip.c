/* test_mkclip.c - a small CLIP with CLIP's full 49408-token vocabulary and
 * closed-form weights (clip_params_closed_form), for the CLI tests of text
 * and zero-shot paths (the committed tiny fixtures have a 300-token text
 * vocabulary to stay small).
 *   test_mkclip PATH   writes the model to PATH (safetensors) and exits
 *   test_mkclip PATH wide   the same with a 384-wide image tower
 *   test_mkclip        unit test: save, load back, identical parameters and
 *                      head counts; the loaded model's text embeddings
 *                      depend on the prompt */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "clip.h"
#include "clip_load.h"
#include "t.h"

static const clip_config_t cfg = {.v_width = 64, .v_layers = 1, .v_heads = 2, .patch = 8, .image_size = 32,
                                  .t_width = 16, .t_layers = 1, .t_heads = 1, .context = 77, .vocab = 49408,
                                  .embed_dim = 16, .mlp_ratio = 4};
/* "wide": an image tower wide enough (384, 65 tokens) that its products are
 * cut into column blocks - what tests/cli/optimize.sh's -j checks need */
static const clip_config_t wide = {.v_width = 384, .v_layers = 1, .v_heads = 6, .patch = 8, .image_size = 64,
                                   .t_width = 16, .t_layers = 1, .t_heads = 1, .context = 77, .vocab = 49408,
                                   .embed_dim = 16, .mlp_ratio = 4};

int main(int argc, char **argv) {
    util_init(argv[0]);
    clip_params_t w = {0};
    clip_params_alloc(&w, argc > 2 && !strcmp(argv[2], "wide") ? &wide : &cfg);
    clip_params_closed_form(&w);
    err_t e = {0};
    if (argc > 1) {
        if (clip_save_safetensors(argv[1], &w, &e)) die_err(&e);
        clip_params_free(&w);
        return 0;
    }
    char path[] = "/tmp/invclip-mkclip-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "temp file");
    close(fd);
    CHECK(clip_save_safetensors(path, &w, &e) == 0, "save (%s)", e.msg);
    clip_params_t r = {0};
    CHECK(clip_load(path, &r, &e) == 0, "load back (%s)", e.msg);
    CHECK(r.n == w.n && !memcmp(r.mem, w.mem, sizeof(float) * w.n) && r.cfg.v_heads == 2 && r.cfg.t_heads == 1,
          "identical parameters and heads after a round trip");
    clip_t m;
    clip_init(&m, &r, NULL);
    int ids[2][77] = {{49406, 320, 1929, 49407}, {49406, 320, 2368, 49407}};
    float a[16], b[16];
    CHECK(clip_text_forward(&m, ids[0], 1, a, &e) == 0 && clip_text_forward(&m, ids[1], 1, b, &e) == 0, "text forward");
    double d = 0;
    for (int i = 0; i < 16; i++) d += fabs((double)a[i] - b[i]);
    CHECK(d > 1e-3, "different prompts give different embeddings (L1 %g)", d);
    clip_free(&m);
    clip_params_free(&w);
    unlink(path);
    T_DONE();
}
