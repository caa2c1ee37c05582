/* host.h - the services table tools give to plugins (plugin.h plugin_host_t),
 * backed by the project's own parts: the seeded RNG (rng.h), a CLIP model
 * (clip.h) with its tokenizer (bpe.h), and the strokes a run started from.
 *
 * CLIP services follow the ABI: images are (N,3,S,S) in [0,1] (the host
 * applies CLIP's per-channel normalisation), embeddings are unit vectors,
 * and clip_image_backward is the exact adjoint of the last clip_image call
 * (through the unit normalisation, the model and the image normalisation),
 * ADDING into dimg.  A host without a model leaves the CLIP services NULL.
 * One host_t serves one thread.
 */
#ifndef HOST_H
#define HOST_H
#include "bpe.h"
#include "clip.h"
#include "plugin.h"
#include "rng.h"

typedef struct {
    plugin_host_t h;     /* hand &h to plugins */
    rng_t rng;
    clip_t *clip;        /* not owned; NULL = no CLIP services */
    bpe_t *bpe;          /* not owned; NULL = no clip_text */
    const scene_t *original;
    int cap;             /* images the buffers hold */
    float *xn;           /* (cap,3,S,S) normalised input */
    float *raw, *unit, *norm; /* (cap,E), (cap,E), (cap) of the last clip_image */
    int last_n;
} host_t;

/* seed: the run's --seed.  clip and bpe may be NULL. */
void host_init(host_t *hs, uint64_t seed, clip_t *clip, bpe_t *bpe);
void host_set_original(host_t *hs, const scene_t *original);
void host_free(host_t *hs);
#endif
