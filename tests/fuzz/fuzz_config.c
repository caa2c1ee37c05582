/* fuzz_config.c - libFuzzer target for the JSON configuration readers: a
 * Hugging Face config.json beside CLIP weights (clip_config_json_heads).
 *
 * Properties, besides "no crash, no sanitizer report": an error is
 * EXIT_MODEL naming the file; a success gives head counts in [0, 4095]. */
#include "clip_load.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    clip_load_opts_t side;
    err_t e = {0};
    int rc = clip_config_json_heads((const char *)data, size, "fuzz/config.json", &side, &e);
    if (rc) {
        if (rc != EXIT_MODEL || !strstr(e.msg, "fuzz/config.json")) abort();
    } else if (side.v_heads < 0 || side.v_heads > 4095 || side.t_heads < 0 || side.t_heads > 4095) {
        abort();
    }
    return 0;
}
