/* clip_load.h - CLIP weights from a file into clip_params_t, and back.
 *
 * clip_load() opens a safetensors file or a PyTorch zip / TorchScript
 * checkpoint (tensorfile.h), recognises the naming by one tensor and fills a
 * freshly allocated clip_params_t (clip_params.h: OpenAI layout, float32):
 *   OpenAI / open_clip  "visual.conv1.weight", "visual.transformer.resblocks.{i}.attn.in_proj_weight",
 *                       "token_embedding.weight", "transformer.resblocks.{i}...", "ln_final.*",
 *                       "visual.proj" (W,E), "text_projection" (W,E), "logit_scale"
 *   Hugging Face        "vision_model.embeddings.patch_embedding.weight", "vision_model.pre_layrnorm.*",
 *                       "vision_model.encoder.layers.{i}.self_attn.{q,k,v,out}_proj.*", "layer_norm1/2",
 *                       "mlp.fc1/fc2", "text_model.*", "visual_projection.weight" (E,W),
 *                       "text_projection.weight" (E,W)
 * Any common prefix in front of those names ("module.", "model.", "state_dict.",
 * ...) is found and kept.  HF's separate q/k/v projections are stacked into
 * attn_in (3w,w) in q,k,v order and its (E,W) projections transposed, so both
 * namings of the same weights give bit-identical blocks.  Other tensors in the
 * file (position_ids buffers, attn_mask, optimiser state) are ignored.
 *
 * Every hyper-parameter is read off the shapes: widths, patch size (conv1),
 * image size (sqrt(positions - 1) * patch), layers (highest block index + 1),
 * context, vocabulary, embedding dimension, MLP ratio.  Heads are not in the
 * shapes; they come from, in order: opts, the file's safetensors __metadata__
 * ("v_heads", "t_heads", as clip_save_safetensors writes), a Hugging Face
 * config.json beside an HF-named file (vision_config/text_config
 * .num_attention_heads), else CLIP's rule heads = width / 64 (ViT-B/32: 768 ->
 * 12 vision, 512 -> 8 text; ViT-L/14: 1024 -> 16, 768 -> 12).  open_clip's
 * ViT-H/g/bigG use 80/88/104-wide heads and need opts; a width that is not a
 * multiple of 64 without any of the above is an error.
 *
 * ResNet CLIPs (RN50, RN101, RN50x4...; OpenAI / open_clip naming, which
 * agree: "visual.conv1..3.weight", "visual.bn1..3.{weight,bias,running_mean,
 * running_var}", "visual.layer{s}.{i}.conv1..3.weight" / ".bn1..3.*" /
 * ".downsample.0.weight" / ".downsample.1.*", "visual.attnpool.
 * positional_embedding", "visual.attnpool.{q,k,v,c}_proj.{weight,bias}") are
 * recognised by "visual.layer1.0.conv1.weight" or "visual.attnpool.*" and
 * load into the ResNet layout (clip_params.h rn_layers, clip_resnet.h):
 * stem width from layer1.0.conv1 (64 for RN50/RN101), blocks per stage from
 * the highest indices, image size 32 * sqrt(positions - 1) of the attention
 * pool's embedding, output dim from c_proj, heads = 32 * width / 64 unless
 * given (opts or metadata, as above); num_batches_tracked is ignored.  The
 * text tower is the ViTs'.  Hugging Face has no ResNet CLIP naming.
 * A missing or mis-shaped tensor names itself:
 *   "ViT-B-32.pt: tensor 'visual.transformer.resblocks.3.ln_2.weight' is missing (OpenAI naming)"
 * All errors are EXIT_MODEL; nothing prints or exits.
 */
#ifndef CLIP_LOAD_H
#define CLIP_LOAD_H
#include "clip_params.h"
#include "tensorfile.h"
#include "util.h"

typedef struct {
    int v_heads, t_heads; /* 0 = infer (see above) */
} clip_load_opts_t;

/* Load path into p (allocated here; release with clip_params_free).  On error
 * p is left zeroed.  opts may be NULL. */
int clip_load(const char *path, clip_params_t *p, err_t *e);
int clip_load_opts(const char *path, clip_params_t *p, const clip_load_opts_t *opts, err_t *e);
/* The same from an open tensorfile (no config.json lookup). */
/* The head counts of a Hugging Face config.json held in txt (len bytes):
 * vision_config/text_config.num_attention_heads; absent = 0; present but not
 * an integer in [1, 4095], or txt not a JSON object: EXIT_MODEL naming
 * `name`.  (clip_load reads config.json beside an HF-named file with it.) */
int clip_config_json_heads(const char *txt, size_t len, const char *name, clip_load_opts_t *side, err_t *e);
int clip_load_tf(tensorfile_t *tf, clip_params_t *p, const clip_load_opts_t *opts, err_t *e);

/* Hyper-parameters from a name -> shape table alone (no data): detects the
 * naming, infers cfg, and checks that every tensor the model needs is in the
 * table with the right shape -- clip_load's first pass. */
typedef struct {
    const char *name;
    int ndim;
    int64_t shape[TF_MAX_DIMS];
} clip_shape_t;
int clip_infer_config(const clip_shape_t *tab, size_t n, const clip_load_opts_t *opts, clip_config_t *cfg,
                      err_t *e);

/* Write p as safetensors, OpenAI naming, F32, with __metadata__ holding the
 * heads; atomically (temp file + rename).  0, or EXIT_IO. */
int clip_save_safetensors(const char *path, const clip_params_t *p, err_t *e);
/* Visit every parameter tensor as a Hugging Face checkpoint names and shapes
 * it, in layout order: HF's q/k/v parts of attn_in (three calls, data
 * pointing at each third) and the two projections (E,W) with transposed = 1:
 * data then points at the (W,E) block, whose transpose the HF tensor is.
 * Stops at fn's first non-zero return. */
typedef int (*clip_hf_fn)(const char *name, int ndim, const int *shape, float *data, int transposed, void *ctx);
int clip_params_each_hf(clip_params_t *p, clip_hf_fn fn, void *ctx);
#endif
