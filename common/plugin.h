/* plugin.h - the invclip plugin ABI, version 2.  This header is its
 * documentation, and it stands alone: it includes only standard headers, so
 * a plugin compiles against it (and, if it wants the renderer cores and
 * warps, the pure-maths headers in nn/) without the rest of the project.
 *
 * A plugin is a shared object (plugins/NAME.c -> build/plugins/NAME.so) that
 * exports ONE function:
 *
 *     const plugin_desc_t *invclip_plugin(unsigned index);
 *
 * The host calls it with index 0, 1, 2, ... until it returns NULL; each call
 * returns a pointer to a `static const` descriptor (one library may hold
 * several plugins).  The descriptor's first field is the ABI version the
 * plugin was compiled against; the host refuses any other version, printing
 * both numbers and the library's path.  The declaration below gives the
 * entry point default visibility, so a plugin built with -fvisibility=hidden
 * exports it and nothing else.
 *
 * Three kinds:
 *   renderer      stroke parameters (a scene) -> grey image, and the adjoint:
 *                 d loss / d image -> d loss / d stroke parameters
 *   augmentation  image -> K views, and the adjoint (views -> image)
 *   loss          the rendered image, a batch of N augmented views of it
 *                 (N may be 0) and the strokes -> a scalar loss, its
 *                 gradients w.r.t. image, views and strokes, and metrics
 *
 * Rules for plugins (as in LADSPA): never print, never exit, keep no globals
 * or static scratch buffers, allocate nothing, start no thread.  Parallel
 * work goes through host->parallel_for, randomness through host->rng_*,
 * CLIP through host->clip_*, picture files through host->load_image.  Errors are returned as non-zero EXIT_* codes
 * (below) with a message written into the host-provided err buffer.
 * Backward passes ADD into gradient arrays; the caller zeroes them (llm.c
 * convention).  A plugin links only the pure-maths layer (libnn.a, nn/ headers)
 * and libc/libm; anything else (BLAS, CLIP, files) it reaches through the
 * host table.
 *
 * Lifetimes -- what the host guarantees:
 *   descriptor, names, parameter table: read by the host while the library
 *       is loaded (they are the plugin's static data);
 *   state:  desc->state_size bytes, zeroed, allocated by the host before
 *       init() and freed after fini(); the same address for every call;
 *   parameter values: STRING values are owned by the host and stay valid
 *       until fini() (a plugin may keep the pointer in its state);
 *   host:   the table passed to init() stays valid, unchanged, until fini();
 *       the same table is passed to every later call (a plugin may keep the
 *       pointer, but need not: each call receives it);
 *   workspace: one per plugin instance, at least the bytes ws_size asked
 *       for; zeroed when first allocated and whenever the host grows it,
 *       otherwise its contents persist from call to call (this is where a
 *       forward saves what its backward needs, so backward uses the last
 *       forward on the same workspace; a plugin must not assume zeros
 *       beyond the first call, and keeps a header to recognise its own
 *       data);
 *   codec workspace (renderers' encode/decode): a second, separate buffer
 *       of codec_ws_size bytes, contents unspecified; encoding never
 *       disturbs what a forward saved;
 *   input arrays: valid for the duration of the call only;
 *   CLIP handles: valid from clip_encode until clip_release (see below).
 *
 * Parameters are declared in a table (name, type, default, range, help); the
 * host parses "NAME:key=value,key=value" command-line specs against it,
 * validates types and ranges, and passes the resolved values (one
 * plugin_value_t per table row, in table order) to init().  --help-plugin,
 * --list-plugins and --plugins-json are generated from the same tables.
 *
 * Coordinates: canvas pixels, x right, y down, pixel (i,j) has its centre at
 * (x=j, y=i) (the study's convention).  Images are float, row-major (H,W) per
 * channel, 1 = white paper, 0 = black ink, channels planar (C,H,W).
 *
 * History: ABI 1 had losses see only the image, CLIP as one hidden "last
 * clip_image call", no parallel_for and step/nsteps in loss_in_t.  ABI 2
 * adds the views, CLIP by handle with block features, parallel_for, sgemm,
 * the step service, host pointers on every call and a codec workspace.
 * ABI 2 later appended load_image (the image service) and then clip_text_raw
 * (the text tower's raw embedding) at the END of the host table, without a
 * new number: the table is the host's and only grows at its end, so a
 * plugin built before them never reads the new fields and runs unchanged; a
 * plugin that uses one needs a host built with it (an older table ends
 * before the field) and checks it for NULL, as for every service.
 * Then (issue 15) came more CLIP models than the host's own and ResNet
 * feature maps: clip_model_open, clip_model_info and clip_encode_model, at
 * the end again.
 * Anything that moves or changes an existing field, or the descriptor or
 * the vtables, needs a new INVCLIP_PLUGIN_ABI.
 */
#ifndef PLUGIN_H
#define PLUGIN_H
#include <stddef.h>
#include <stdint.h>

#define INVCLIP_PLUGIN_ABI 2
#define INVCLIP_PLUGIN_ENTRY "invclip_plugin"

/* ---- exit codes: shared by every tool (README.md) and by plugin errors.
 * Their one home is here; util.h includes this header. ---- */
#ifndef INVCLIP_EXIT_CODES
#define INVCLIP_EXIT_CODES
enum {
    EXIT_OK = 0,
    EXIT_DATA = 1,     /* bad input data: malformed record, bad PNG, empty drawing, ... */
    EXIT_USAGE = 2,    /* bad command line */
    EXIT_IO = 3,       /* a file cannot be opened, read or written */
    EXIT_PLUGIN = 4,   /* plugin missing, wrong ABI, bad plugin parameter */
    EXIT_MODEL = 5,    /* model/weight file missing, corrupt or wrong shape */
    EXIT_NUMERIC = 6,  /* NaN or Inf appeared in a computation */
    EXIT_INTERNAL = 7, /* out of memory or a bug */
};
#endif

typedef enum { PLUGIN_RENDERER = 1, PLUGIN_AUGMENT = 2, PLUGIN_LOSS = 3 } plugin_kind_t;

/* ---- parameters ---- */

typedef enum { PARAM_FLOAT, PARAM_INT, PARAM_BOOL, PARAM_STRING, PARAM_ENUM } param_type_t;

/* The one parameter-table row of the project: plugin parameters use it, and
 * so do qd-degrade's degradation parameters (with these flags) and the tools'
 * options (common/paramtab.h parses values against it). */
enum {
    PARAM_F_LENGTH = 1, /* a length in drawing units (qd-degrade --units rel rescales it) */
    PARAM_F_RANGE = 2,  /* may be given as lo..hi, drawn uniformly per record */
};

typedef struct {
    const char *name;     /* [a-z0-9_]+ */
    param_type_t type;
    double def;           /* default of FLOAT/INT/BOOL (0/1) */
    double min, max;      /* inclusive range of FLOAT/INT */
    const char *sdef;     /* default of STRING/ENUM */
    const char *choices;  /* ENUM: "a|b|c" */
    const char *help;     /* one line, natural units */
    unsigned flags;       /* PARAM_F_*; 0 for plugin parameters today */
} plugin_param_t;

typedef union {
    double f;        /* FLOAT */
    long i;          /* INT, BOOL (0/1), ENUM (index into choices) */
    const char *s;   /* STRING (owned by the host, valid until fini) */
} plugin_value_t;

typedef struct { char msg[256]; } plugin_err_t;

/* ---- the scene a renderer draws ----
 * Stroke s uses points xy[2*off[s] .. 2*(off[s]+npts[s])) as (x,y) pairs.
 * What the points mean is the renderer's business: polyline vertices for
 * softline/splat, chained cubic Bezier control points (3k+1) for bezier.
 * (Field for field the same as nn/softline.h's softline_scene_t.) */
typedef struct {
    int nstrokes;
    const int *npts;       /* (nstrokes) */
    const int *off;        /* (nstrokes) first point of each stroke */
    const float *xy;       /* (2*P) */
    const float *width;    /* (nstrokes) stroke width in px */
    const float *opacity;  /* (nstrokes) in [0,1] */
} scene_t;

/* Gradients w.r.t. the scene; same shapes; any pointer may be NULL (not wanted). */
typedef struct {
    float *xy, *width, *opacity;
} scene_grad_t;

typedef struct plugin_host plugin_host_t;

/* ---- renderer ---- */
typedef struct {
    /* Workspace bytes needed to render this scene at W x H (saved state for
     * backward included).  Called before every forward; the host grows the
     * buffer when needed and never shrinks it during a run. */
    size_t (*ws_size)(const void *state, const scene_t *sc, int W, int H);
    /* img (H,W): 1 = white .. 0 = ink. */
    int (*forward)(void *state, void *ws, const plugin_host_t *host, const scene_t *sc, int W, int H, float *img,
                   plugin_err_t *err);
    /* dimg (H,W) = dL/dimg of the last forward on this ws; ADDS into g. */
    int (*backward)(void *state, void *ws, const plugin_host_t *host, const scene_t *sc, int W, int H,
                    const float *dimg, scene_grad_t *g, plugin_err_t *err);
    /* Codec workspace bytes encode/decode need for an input of n points
     * (NULL = none; the host then passes ws = NULL). */
    size_t (*codec_ws_size)(const void *state, int n);
    /* Parameterisation: polyline (n points, xy) -> this renderer's points.
     * Returns the number of points written (<= cap) or, when out is NULL or
     * cap is too small, the number needed; < 0 on error.  NULL = identity. */
    int (*encode)(void *state, void *ws, const float *xy, int n, float *out, int cap, plugin_err_t *err);
    /* This renderer's points -> a polyline for output (same convention). NULL = identity. */
    int (*decode)(void *state, void *ws, const float *pts, int n, float *out, int cap, plugin_err_t *err);
} renderer_vt;

/* ---- augmentation ---- */
typedef struct {
    /* Number of views forward() writes (including the original when kept). */
    int (*nviews)(const void *state);
    size_t (*ws_size)(const void *state, int C, int H, int W);
    /* Draw this call's random transforms with the host's RNG (host->rng_*),
     * then apply them: in (C,H,W) -> out (nviews,C,H,W).  The transforms are
     * kept in ws for backward. */
    int (*forward)(void *state, void *ws, const plugin_host_t *host, int C, int H, int W, const float *in,
                   float *out, plugin_err_t *err);
    /* dout (nviews,C,H,W) -> ADDS into din (C,H,W): the exact adjoint of the
     * last forward on this ws. */
    int (*backward)(void *state, void *ws, const plugin_host_t *host, int C, int H, int W, const float *dout,
                    float *din, plugin_err_t *err);
} augment_vt;

/* ---- loss ---- */
typedef struct {
    const float *img;      /* (C,H,W) rendered image, [0,1] */
    int C, H, W;
    const float *views;    /* (N,C,H,W) augmented views of img (the augmentation's output); NULL when N = 0 */
    int N;
    const scene_t *scene;  /* current strokes (renderer's parameterisation) */
} loss_in_t;

#define LOSS_MAX_METRICS 8
typedef struct {
    double value;              /* the loss (before the host's weight) */
    /* Gradients, ADDED into (the host zeroes them).  Any may be NULL: that
     * gradient is not wanted (e.g. a value-only evaluation). */
    float *dimg;               /* (C,H,W) dL/dimg */
    float *dviews;             /* (N,C,H,W) dL/dviews; the host chains it through the augmentation */
    scene_grad_t dscene;       /* dL/dscene */
    int nmetrics;              /* named extra numbers for the history, e.g. "similarity" */
    const char *metric_name[LOSS_MAX_METRICS]; /* static strings */
    double metric[LOSS_MAX_METRICS];
} loss_out_t;

typedef struct {
    size_t (*ws_size)(const void *state, const loss_in_t *in);
    /* Forward and backward in one call (a loss is always differentiated).
     * CLIP handles encoded during the call are released before it returns
     * (handles a plugin keeps across calls, e.g. a target's features encoded
     * in init, it releases in fini through the host pointer it kept). */
    int (*eval)(void *state, void *ws, const plugin_host_t *host, const loss_in_t *in, loss_out_t *out,
                plugin_err_t *err);
} loss_vt;

/* ---- host services, passed to init() and to every call ----
 * Every service takes ctx first.  Services a host does not offer are NULL
 * (plugins check before use); common/host.c offers them all when it has a
 * CLIP model (load_image also without one), plugin_host_init (plugin_host.h)
 * the RNG, sgemm and a serial parallel_for. */

/* A task over items [begin, end); tid < nthreads names the worker (for
 * per-thread scratch).  The same type as nn/nn.h's nn_task_fn, so
 * {.run = host->parallel_for, .impl = host->ctx, .nthreads = host->nthreads} is an
 * nn_par_t. */
typedef void (*plugin_task_fn)(void *fctx, int begin, int end, int tid);

/* What clip_model_info reports about a CLIP model and one of its feature
 * blocks (the blocks clip_encode's keep_blocks and clip_features number). */
typedef struct {
    int dim;    /* embedding dimension D */
    int size;   /* image size S (images are (n,3,S,S)) */
    int blocks; /* feature blocks: a ViT's residual blocks, or a ResNet's 5 (stem, layer1..layer4) */
    int resnet; /* 0: ViT, block outputs are token streams laid out (T,C) per image;
                   1: ResNet, block outputs are feature maps laid out (C,H,W) per image */
    int C, H, W; /* the block's per-image output: ViT C = width, H = T tokens, W = 1; ResNet (C,H,W) */
} plugin_clip_info_t;

struct plugin_host {
    int abi;                        /* INVCLIP_PLUGIN_ABI */
    void *ctx;                      /* the host's; pass back to every service */

    /* The tool's thread pool: splits [0,n) into at most nthreads contiguous
     * chunks, runs fn on each (possibly concurrently) and returns when all
     * are done.  nthreads >= 1. */
    int nthreads;
    void (*parallel_for)(void *ctx, int n, plugin_task_fn fn, void *fctx);

    /* The run's seeded RNG (rng.h): the same seed gives the same draws. */
    uint64_t (*rng_u64)(void *ctx);
    double (*rng_uniform)(void *ctx);  /* [0,1) */
    double (*rng_normal)(void *ctx);   /* N(0,1) */

    /* Matrix product through the tool's BLAS (plugins link no BLAS of their
     * own), row-major like cblas_sgemm(CblasRowMajor, ...):
     * C (M,N) = alpha * op(A) @ op(B) + beta * C, op(X) = X or X^T when
     * trans_X != 0; lda/ldb/ldc are row strides. */
    void (*sgemm)(void *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc);

    /* The optimisation step being computed (0-based) and, in *nsteps (may be
     * NULL), the number of steps of the run. */
    int (*step)(void *ctx, int *nsteps);
    /* The strokes the run started from (NULL when there are none). */
    const scene_t *(*original)(void *ctx);

    /* CLIP, when a model is loaded (else the functions are NULL and the sizes
     * 0).  Images are (N,3,S,S) in [0,1], S = clip_size; the host applies
     * CLIP's normalisation.  Embeddings are (N,D) unit vectors, D = clip_dim.
     * Vision block l's output (the residual stream after block l) is
     * (N,T,C) with T = clip_tokens, C = clip_width, l < clip_blocks.  For a
     * ResNet CLIP (whose 5 blocks differ in shape) clip_tokens and clip_width
     * are 0: clip_model_info gives each block's shape. */
    int clip_dim, clip_size, clip_blocks, clip_tokens, clip_width;
    /* Encode n >= 1 images into emb (n,D).  Bit l of keep_blocks (l <
     * clip_blocks <= 64) keeps block l's output for clip_features.  Writes a
     * handle (> 0) that owns everything backward needs: any number of
     * handles may be alive at once, and backward on one is not disturbed by
     * encodes or backwards on others. */
    int (*clip_encode)(void *ctx, const float *images, int n, uint64_t keep_blocks, int *handle, float *emb,
                       plugin_err_t *err);
    /* Block l's output (n,T,C) kept by the handle's encode, or NULL if l was
     * not kept.  Valid until the handle is released. */
    const float *(*clip_features)(void *ctx, int handle, int block);
    /* d_emb (n,D) = dL/d(the unit embeddings), may be NULL; d_features NULL or
     * clip_blocks pointers, each NULL or (n,T,C) = dL/d(block l's output)
     * (any block, kept or not).  ADDS dL/dimages (n,3,S,S) into d_images.
     * May be called more than once per handle. */
    int (*clip_backward)(void *ctx, int handle, const float *d_emb, const float *const *d_features,
                         float *d_images, plugin_err_t *err);
    void (*clip_release)(void *ctx, int handle);
    /* The unit text embedding (D) of a prompt: unit(clip_text_raw), bit for
     * bit; cached per prompt string.  Errors as clip_text_raw's.  NULL when
     * the model came without its tokenizer. */
    int (*clip_text)(void *ctx, const char *text, float *emb, plugin_err_t *err);

    /* ---- appended after ABI 2's first release (see History) ---- */

    /* Read a picture file (PNG or JPEG, chosen by its first bytes; "-" =
     * stdin) and preprocess it to out (3,S,S): CLIP-normalised (CLIP's
     * per-channel mean/std) when normalized != 0, else in [0,1] (what
     * clip_encode takes).  mode is a PLUGIN_IMAGE_* path (below), PIL-exact
     * as the project's tools do it.  Grey pictures give three equal
     * channels; PNG alpha is composited over white.  out NULL only checks
     * that the file loads and preprocesses (e.g. in init, before the plugin
     * has a workspace to hold the pixels).  Errors: EXIT_IO (missing or
     * unreadable file), EXIT_DATA (not a PNG/JPEG, undecodable, truncated,
     * too large; also NORMALIZE on a picture that is not S x S), EXIT_USAGE
     * (bad S or mode); the message starts with the path.
     * Lifetime and threads: callable from init() and from any later call, on
     * the thread the host calls the plugin from (not from parallel_for
     * tasks); the host allocates only during the call; out belongs to the
     * plugin.  Offered by common/host.c (with or without a CLIP model); NULL
     * in hosts that have no image reader (plugin_host_init's). */
    int (*load_image)(void *ctx, const char *path, int S, int mode, int normalized, float *out, plugin_err_t *err);

    /* The text tower's raw (unnormalised) embedding (D) of a prompt: what
     * clip_text returns before it is normalised, for ensembles that average
     * raw embeddings (the study's optimiser: unit(mean_k raw_k)).  Cached per
     * prompt string, one cache with clip_text (either call fills it for
     * both).  Errors: a prompt whose tokens do not fit the model's context
     * (77 for CLIP) is EXIT_DATA, never silently cut, the message naming the
     * prompt (its first 60 bytes) and the token count; a non-finite
     * embedding is EXIT_NUMERIC.
     * Lifetime and threads: callable from init() and from any later call, on
     * the thread the host calls the plugin from (not from parallel_for
     * tasks); the host allocates (the cache entry) only during the call; emb
     * belongs to the plugin.  Offered by common/host.c whenever clip_text is,
     * else NULL (a host built before it has no such field: see History). */
    int (*clip_text_raw)(void *ctx, const char *text, float *emb, plugin_err_t *err);

    /* ---- appended for issue 15: more CLIP models, ResNet feature maps ---- */

    /* Open another CLIP weight file for this run -- any file clip-embed
     * takes: OpenAI .pt, safetensors, pytorch_model.bin; ViT or ResNet --
     * and write its model id (> 0) into *model; id 0 is the host's own model
     * (path NULL or "" gives 0).  The same path
     * twice gives the same id; the host owns the model (image tower only, no
     * tokenizer) until it is freed, and runs it on its threads.  CLIPasso
     * takes its geometric loss from RN101 while ViT-B/32 gives the saliency
     * map: a loss's model= parameter opens the second one here.  Errors:
     * EXIT_MODEL (the loader's message, starting with the path), EXIT_USAGE
     * when the host holds too many models (8).
     * Lifetime and threads: callable from init() and later calls, on the
     * thread the host calls the plugin from; allocates (the model) only then.
     * Offered by common/host.c, with or without a model of its own. */
    int (*clip_model_open)(void *ctx, const char *path, int *model, plugin_err_t *err);
    /* The sizes of model id (0: the host's own) and, for 0 <= block <
     * info->blocks, that block's per-image output shape (else C = H = W =
     * 0).  0, or EXIT_USAGE for an id that is not open (0 when the host has
     * no model of its own) or a block >= blocks. */
    int (*clip_model_info)(void *ctx, int model, int block, plugin_clip_info_t *info);
    /* clip_encode on model id (0: the host's own, = clip_encode).  The
     * handle works with clip_features, clip_backward and clip_release like
     * any other; its block outputs have the shapes clip_model_info gives and
     * d_features of clip_backward has that model's blocks pointers.  Errors
     * as clip_encode's, and EXIT_USAGE for an id that is not open. */
    int (*clip_encode_model)(void *ctx, int model, const float *images, int n, uint64_t keep_blocks, int *handle,
                             float *emb, plugin_err_t *err);
};

/* Preprocessing paths of load_image (docs/study.md 3.2; the numbers are
 * common/imgprep.h's IMGPREP_*):
 *   CLIP            CLIP's own: shorter side to S bicubic, centre crop S x S;
 *   NORMALIZE       the picture already is S x S: no resampling;
 *   SQUASH          exactly S x S, bilinear, no crop (the study's reference
 *                   and photo images, path 3);
 *   SQUASH_BICUBIC  the same with bicubic (CLIPasso's non-square targets). */
enum { PLUGIN_IMAGE_CLIP = 0, PLUGIN_IMAGE_NORMALIZE = 1, PLUGIN_IMAGE_SQUASH = 2, PLUGIN_IMAGE_SQUASH_BICUBIC = 3 };

/* ---- the descriptor ---- */
typedef struct plugin_desc {
    uint32_t abi;               /* = INVCLIP_PLUGIN_ABI; MUST be first */
    plugin_kind_t kind;
    const char *name;           /* what users type: [a-z0-9-]+ */
    const char *version;
    const char *summary;        /* one line */
    const char *help;           /* a paragraph: what it computes, formulas, parity notes */
    const plugin_param_t *params;
    int nparams;
    size_t state_size;          /* bytes of per-instance state the host allocates (zeroed) */
    /* Resolve parameters into state; host may be used for services.  May be NULL. */
    int (*init)(void *state, const plugin_value_t *vals, const plugin_host_t *host, plugin_err_t *err);
    /* Release anything init() acquired besides the state itself.  May be NULL. */
    void (*fini)(void *state);
    const renderer_vt *renderer; /* exactly one of these three matches kind */
    const augment_vt *augment;
    const loss_vt *loss;
} plugin_desc_t;

typedef const plugin_desc_t *(*plugin_entry_fn)(unsigned index);

/* The entry point every plugin defines (and the only symbol it exports). */
__attribute__((visibility("default"))) const plugin_desc_t *invclip_plugin(unsigned index);

#endif
