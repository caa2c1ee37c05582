/* fuzz_optim_ckpt.c - libFuzzer target for optimize's checkpoint reader
 * (optim.c ckpt_decode, through optim_ckpt_check): the safetensors file,
 * its tensors xy/width/opacity and best.*, and the metadata the optimiser
 * parses itself (optimize.npts, .birth, .best_npts, .state, .eval0,
 * .history, step, rng.host).  Decoded as a run of up to 1,000,000 steps
 * with two losses and any settings.  Properties, besides "no crash, no
 * sanitizer report": an error is EXIT_MODEL naming the input ("fuzz"); a
 * successful decode has a consistent stroke layout (optim_ckpt_check
 * returns EXIT_INTERNAL otherwise).  Seeds (tests/fuzz/seeds/fuzz_optim_ckpt/)
 * are checkpoints that tests/cli/optimize.sh's resume run writes, and edited
 * copies. */
#include <stdlib.h>
#include <string.h>
#include "optim.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    err_t e = {0};
    int rc = optim_ckpt_check(data, size, NULL, 1000000, 2, &e);
    if (rc && (rc != EXIT_MODEL || !strstr(e.msg, "fuzz"))) abort();
    return 0;
}
