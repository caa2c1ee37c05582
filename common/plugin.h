/* plugin.h - the invclip plugin ABI.  This header is its documentation.
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
 * both numbers and the library's path.
 *
 * Three kinds:
 *   renderer      stroke parameters (a scene) -> grey image, and the adjoint:
 *                 d loss / d image -> d loss / d stroke parameters
 *   augmentation  image -> K views, and the adjoint (views -> image)
 *   loss          image and/or strokes -> scalar loss, its gradients and metrics
 *
 * Rules for plugins (as in LADSPA): never print, never exit, keep no globals
 * or static scratch buffers.  The host allocates every buffer: the plugin's
 * state (desc->state_size bytes, zeroed), its per-call workspace (the size the
 * plugin asks for through ws_size) and every input/output array.  Errors are
 * returned as non-zero EXIT_* codes (util.h) with a message written into the
 * host-provided err buffer (plugin_err_t).  Backward passes ADD into gradient
 * arrays; the caller zeroes them (llm.c convention).
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
 */
#ifndef PLUGIN_H
#define PLUGIN_H
#include <stddef.h>
#include <stdint.h>

#define INVCLIP_PLUGIN_ABI 1
#define INVCLIP_PLUGIN_ENTRY "invclip_plugin"

typedef enum { PLUGIN_RENDERER = 1, PLUGIN_AUGMENT = 2, PLUGIN_LOSS = 3 } plugin_kind_t;

/* ---- parameters ---- */

typedef enum { PARAM_FLOAT, PARAM_INT, PARAM_BOOL, PARAM_STRING, PARAM_ENUM } param_type_t;

typedef struct {
    const char *name;     /* [a-z0-9_]+ */
    param_type_t type;
    double def;           /* default of FLOAT/INT/BOOL (0/1) */
    double min, max;      /* inclusive range of FLOAT/INT */
    const char *sdef;     /* default of STRING/ENUM */
    const char *choices;  /* ENUM: "a|b|c" */
    const char *help;     /* one line, natural units */
} plugin_param_t;

typedef union {
    double f;        /* FLOAT */
    long i;          /* INT, BOOL (0/1), ENUM (index into choices) */
    const char *s;   /* STRING (owned by the host) */
} plugin_value_t;

typedef struct { char msg[256]; } plugin_err_t;

/* ---- the scene a renderer draws ----
 * Stroke s uses points xy[2*off[s] .. 2*(off[s]+npts[s])) as (x,y) pairs.
 * What the points mean is the renderer's business: polyline vertices for
 * softline/splat, chained cubic Bezier control points (3k+1) for bezier. */
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
    int (*forward)(void *state, void *ws, const scene_t *sc, int W, int H, float *img, plugin_err_t *err);
    /* dimg (H,W) = dL/dimg of the last forward on this ws; ADDS into g. */
    int (*backward)(void *state, void *ws, const scene_t *sc, int W, int H, const float *dimg,
                    scene_grad_t *g, plugin_err_t *err);
    /* Parameterisation: polyline (n points, xy) -> this renderer's points.
     * Returns the number of points written (<= cap) or, when out is NULL or
     * cap is too small, the number needed; < 0 on error.  NULL = identity. */
    int (*encode)(void *state, const float *xy, int n, float *out, int cap, plugin_err_t *err);
    /* This renderer's points -> a polyline for output (same convention). NULL = identity. */
    int (*decode)(void *state, const float *pts, int n, float *out, int cap, plugin_err_t *err);
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
    /* dout (nviews,C,H,W) -> ADDS into din (C,H,W): the exact adjoint of forward. */
    int (*backward)(void *state, void *ws, int C, int H, int W, const float *dout, float *din, plugin_err_t *err);
} augment_vt;

/* ---- loss ---- */
typedef struct {
    const float *img;      /* (C,H,W) rendered image, [0,1] */
    int C, H, W;
    const scene_t *scene;  /* current strokes (renderer's parameterisation) */
    int step, nsteps;
} loss_in_t;

#define LOSS_MAX_METRICS 8
typedef struct {
    double value;              /* the loss (before the host's weight) */
    float *dimg;               /* (C,H,W) ADD dL/dimg here (may be NULL if the loss has no image term) */
    scene_grad_t dscene;       /* ADD dL/dscene here */
    int nmetrics;              /* named extra numbers for the history, e.g. "similarity" */
    const char *metric_name[LOSS_MAX_METRICS];
    double metric[LOSS_MAX_METRICS];
} loss_out_t;

typedef struct {
    size_t (*ws_size)(const void *state, const loss_in_t *in);
    /* Forward and backward in one call (a loss is always differentiated). */
    int (*eval)(void *state, void *ws, const plugin_host_t *host, const loss_in_t *in, loss_out_t *out,
                plugin_err_t *err);
} loss_vt;

/* ---- host services, passed to init() and to augmentation/loss calls ---- */
struct plugin_host {
    int abi;                        /* INVCLIP_PLUGIN_ABI */
    void *ctx;                      /* the host's; pass back to every service */
    uint64_t (*rng_u64)(void *ctx); /* the run's seeded RNG (rng.h) */
    double (*rng_uniform)(void *ctx);
    double (*rng_normal)(void *ctx);
    /* The strokes the run started from (NULL when there are none). */
    const scene_t *(*original)(void *ctx);
    /* CLIP, when a model is loaded (else these are NULL).  Images are
     * (N,3,S,S) in [0,1]; the host normalises.  embed: (N,D) unit vectors.
     * common/host.c is the project's implementation of this table. */
    int clip_dim, clip_size;
    int (*clip_image)(void *ctx, const float *img, int n, float *emb, plugin_err_t *err);
    /* Backward of the last clip_image call: demb (N,D) -> ADDS into dimg (N,3,S,S). */
    int (*clip_image_backward)(void *ctx, const float *demb, float *dimg, plugin_err_t *err);
    int (*clip_text)(void *ctx, const char *text, float *emb, plugin_err_t *err);
};

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

#endif
