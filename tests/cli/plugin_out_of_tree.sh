# tests/cli/plugin_out_of_tree.sh - docs/plugins.md's recipe: a renderer
# and a loss written and compiled outside the tree against ABI 2 (cc
# -shared, only plugin.h), found through INVCLIP_PLUGIN_PATH, listed,
# described, run by rasterize, and put through the plugin harness, which
# must pass the loss's view gradients and catch the renderer's missing
# gradient and a loss that forgets its view gradients; and a CLIP loss
# written against the host's handle services (text prompt, views encoded
# with a kept block, backward from embedding and feature gradients),
# differentiated end to end by the harness.
mkdir -p "$T/plug"
cat >"$T/plug/box.c" <<'PLUG'
#include "plugin.h"
/* "box": each point of every stroke inks one pixel square (no gradient wanted) */
static const plugin_param_t params[] = {
    {.name = "ink", .type = PARAM_FLOAT, .def = 1, .min = 0, .max = 1, .help = "darkness of a point"}};
typedef struct { float ink; } st_t;
static int init(void *s, const plugin_value_t *v, const plugin_host_t *h, plugin_err_t *e) {
    (void)h; (void)e; ((st_t *)s)->ink = (float)v[0].f; return 0; }
static size_t ws(const void *s, const scene_t *sc, int W, int H) { (void)s; (void)sc; (void)W; (void)H; return 0; }
static int fwd(void *s, void *w, const plugin_host_t *h, const scene_t *sc, int W, int H, float *img,
               plugin_err_t *e) {
    (void)w; (void)h; (void)e;
    for (int i = 0; i < W * H; i++) img[i] = 1;
    for (int k = 0; k < sc->nstrokes; k++)
        for (int p = sc->off[k]; p < sc->off[k] + sc->npts[k]; p++) {
            int x = (int)(sc->xy[2 * p] + 0.5f), y = (int)(sc->xy[2 * p + 1] + 0.5f);
            if (x >= 0 && x < W && y >= 0 && y < H) img[y * W + x] = 1 - ((st_t *)s)->ink;
        }
    return 0;
}
static int bwd(void *s, void *w, const plugin_host_t *h, const scene_t *sc, int W, int H, const float *d,
               scene_grad_t *g, plugin_err_t *e) {
    (void)s; (void)w; (void)h; (void)sc; (void)W; (void)H; (void)d; (void)g; (void)e; return 0; }
static const renderer_vt vt = {.ws_size = ws, .forward = fwd, .backward = bwd};
static const plugin_desc_t desc = {.abi = INVCLIP_PLUGIN_ABI, .kind = PLUGIN_RENDERER, .name = "box",
    .version = "1", .summary = "test renderer: one pixel per point", .params = params, .nparams = 1,
    .state_size = sizeof(st_t), .init = init, .renderer = &vt};
const plugin_desc_t *invclip_plugin(unsigned i) { return i == 0 ? &desc : 0; }
PLUG
check "an out-of-tree plugin compiles against plugin.h alone" cc -std=gnu11 -O2 -fPIC -shared -Wall -Werror -Icommon -o "$T/plug/box.so" "$T/plug/box.c"
# a loss on the views: L = mean over views of mean((v - target)^2) / 2 + mean(1 - img)
mkdir -p "$T/loss"
cat >"$T/loss/viewsq.c" <<'PLUG'
#include "plugin.h"
static const plugin_param_t params[] = {
    {.name = "target", .type = PARAM_FLOAT, .def = 0.5, .min = 0, .max = 1, .help = "grey level the views are pulled to"}};
typedef struct { double target; } st_t;
static int init(void *s, const plugin_value_t *v, const plugin_host_t *h, plugin_err_t *e) {
    (void)h; (void)e; ((st_t *)s)->target = v[0].f; return 0; }
static size_t ws(const void *s, const loss_in_t *in) { (void)s; (void)in; return 0; }
static int eval(void *s, void *w, const plugin_host_t *h, const loss_in_t *in, loss_out_t *out, plugin_err_t *e) {
    (void)w; (void)h; (void)e;
    size_t n = (size_t)in->C * in->H * in->W;
    double L = 0, t = ((st_t *)s)->target;
    for (size_t i = 0; i < n; i++) {
        L += (1.0 - in->img[i]) / n;
        if (out->dimg) out->dimg[i] += (float)(-1.0 / n);
    }
    for (size_t i = 0; i < n * (size_t)in->N; i++) {
        double d = in->views[i] - t;
        L += 0.5 * d * d / (n * in->N);
#ifndef FORGET_VIEWS
        if (out->dviews) out->dviews[i] += (float)(d / (n * in->N));
#endif
    }
    out->value = L;
    return 0;
}
static const loss_vt vt = {.ws_size = ws, .eval = eval};
static const plugin_desc_t desc = {.abi = INVCLIP_PLUGIN_ABI, .kind = PLUGIN_LOSS, .name = "viewsq",
    .version = "1", .summary = "test loss on the augmented views", .params = params, .nparams = 1,
    .state_size = sizeof(st_t), .init = init, .loss = &vt};
const plugin_desc_t *invclip_plugin(unsigned i) { return i == 0 ? &desc : 0; }
PLUG
check "an out-of-tree loss compiles against plugin.h alone" cc -std=gnu11 -O2 -fPIC -shared -Wall -Werror -Icommon -o "$T/loss/viewsq.so" "$T/loss/viewsq.c"
PLUGINS=$T/loss "$UNITS/test_plugins" >"$T/lharness" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q "^ok - viewsq: d/dviews along a random direction: analytic [-0-9.e]*[1-9]" "$T/lharness"; then
  ok "the harness checks a loss's gradient w.r.t. the views (non-zero)"
else notok "the harness checks the view gradients" "rc=$rc $(grep -v '^ok' "$T/lharness" | head -5)"; fi
mkdir -p "$T/lossbad"
cc -std=gnu11 -O2 -fPIC -shared -Wall -Werror -DFORGET_VIEWS -Icommon -o "$T/lossbad/viewsq.so" "$T/loss/viewsq.c"
PLUGINS=$T/lossbad "$UNITS/test_plugins" >"$T/lbad" 2>&1; rc=$?
if [ $rc -ne 0 ] && grep -q "^not ok - .*viewsq: d/dviews along a random direction: analytic 0, FD" "$T/lbad"; then
  ok "the harness catches a loss that forgets its view gradients"
else notok "the harness catches missing view gradients" "rc=$rc $(grep 'viewsq' "$T/lbad" | head -5)"; fi
INVCLIP_PLUGIN_PATH=$T/plug rasterize --list-plugins >"$T/l"
if grep -q "^box  *renderer  *test renderer" "$T/l"; then ok "found through INVCLIP_PLUGIN_PATH"; else notok "found through INVCLIP_PLUGIN_PATH" "$(cat "$T/l")"; fi
INVCLIP_PLUGIN_PATH=$T/plug rasterize --help-plugin box >"$T/h"
check "--help-plugin from the parameter table" grep -q "ink .*darkness of a point" "$T/h"
qd-extract --word fish --limit 2 --fit 64 data/quickdraw/simplified/fish.ndjson.gz >"$T/f.ndjson"
INVCLIP_PLUGIN_PATH=$T/plug rasterize --renderer box:ink=0.5 --size 64 --out "$T/o" <"$T/f.ndjson"
eq "rasterize draws through it" "$(ls "$T/o" | wc -l | tr -d ' ')" 2
expect_exit "its parameters are validated by the host" 2 "plugin 'box': ink=2 is out of range" \
  env INVCLIP_PLUGIN_PATH="$T/plug" rasterize --renderer box:ink=2 --out "$T/o"
# the harness runs it too -- and, since its backward adds nothing, must fail
# its finite-difference check (the harness can fail)
PLUGINS=$T/plug "$UNITS/test_plugins" >"$T/harness" 2>&1; rc=$?
if [ $rc -ne 0 ] && grep -q "^ok - box: forward is deterministic" "$T/harness" &&
   grep -q "^not ok - .*box: d/dxy along a random direction: analytic 0, central FD" "$T/harness"; then
  ok "the plugin harness runs it and catches its missing gradient"
else notok "the plugin harness catches the missing gradient" "rc=$rc $(grep -v '^ok' "$T/harness" | head -5)"; fi
# a CLIP loss through the host: L = -mean_v <unit emb(view v), unit emb(prompt)> + 0.01 mean(block 0 ^ 2)
mkdir -p "$T/clip"
cat >"$T/clip/clipsim.c" <<'PLUG'
#include <stdio.h>
#include "plugin.h"
static const plugin_param_t params[] = {
    {.name = "prompt", .type = PARAM_STRING, .sdef = "a fish", .help = "text the views are pulled towards"}};
typedef struct { const char *prompt; int D, T, C; } st_t;
static int init(void *s, const plugin_value_t *v, const plugin_host_t *h, plugin_err_t *e) {
    st_t *st = s;
    st->prompt = v[0].s; /* host-owned, valid until fini */
    st->D = h->clip_dim, st->T = h->clip_tokens, st->C = h->clip_width;
    (void)e;
    return 0;
}
enum { MAXN = 16, MAXD = 1024 };
/* ws: emb (N,D) | demb (N,D) | dfeat (N,T,C) */
static size_t ws(const void *s, const loss_in_t *in) {
    const st_t *st = s;
    return sizeof(float) * ((size_t)2 * in->N * st->D + (size_t)in->N * st->T * st->C);
}
static int eval(void *s, void *w, const plugin_host_t *h, const loss_in_t *in, loss_out_t *out, plugin_err_t *e) {
    const st_t *st = s;
    if (!h->clip_encode || !h->clip_text) { snprintf(e->msg, sizeof e->msg, "clipsim needs a CLIP model"); return EXIT_MODEL; }
    if (in->N < 1 || in->C != 3 || in->H != h->clip_size || in->W != h->clip_size || st->D > MAXD) {
        snprintf(e->msg, sizeof e->msg, "clipsim wants RGB views of %dx%d", h->clip_size, h->clip_size);
        return EXIT_USAGE;
    }
    int N = in->N, D = st->D, hd, rc;
    size_t nf = (size_t)N * st->T * st->C;
    float *emb = w, *demb = emb + (size_t)N * D, *dfeat = demb + (size_t)N * D, t[MAXD];
    if ((rc = h->clip_text(h->ctx, st->prompt, t, e))) return rc;
    if ((rc = h->clip_encode(h->ctx, in->views, N, 1, &hd, emb, e))) return rc;
    const float *f0 = h->clip_features(h->ctx, hd, 0);
    double L = 0;
    for (int v = 0; v < N; v++)
        for (int i = 0; i < D; i++) {
            L -= (double)emb[v * D + i] * t[i] / N;
            demb[v * D + i] = -t[i] / N;
        }
    for (size_t i = 0; i < nf; i++) {
        L += 0.01 * f0[i] * f0[i] / nf;
        dfeat[i] = (float)(0.02 * f0[i] / nf);
    }
    const float *df[64] = {dfeat};
    if (out->dviews) rc = h->clip_backward(h->ctx, hd, demb, df, out->dviews, e);
    h->clip_release(h->ctx, hd);
    out->value = L;
    return rc;
}
static const loss_vt vt = {.ws_size = ws, .eval = eval};
static const plugin_desc_t desc = {.abi = INVCLIP_PLUGIN_ABI, .kind = PLUGIN_LOSS, .name = "clipsim",
    .version = "1", .summary = "test loss: CLIP similarity of the views to a prompt", .params = params,
    .nparams = 1, .state_size = sizeof(st_t), .init = init, .loss = &vt};
const plugin_desc_t *invclip_plugin(unsigned i) { return i == 0 ? &desc : 0; }
PLUG
check "an out-of-tree CLIP loss compiles against plugin.h alone" cc -std=gnu11 -O2 -fPIC -shared -Wall -Werror -Icommon -o "$T/clip/clipsim.so" "$T/clip/clipsim.c"
PLUGINS=$T/clip "$UNITS/test_plugins" >"$T/charness" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q "^ok - clipsim: d/dviews along a random direction" "$T/charness" &&
   grep -q "^ok - clipsim: every CLIP handle released" "$T/charness"; then
  ok "the harness differentiates a CLIP loss through the host's handles (views, kept block)"
else notok "the harness differentiates a CLIP loss" "rc=$rc $(grep -v '^ok' "$T/charness" | head -5)"; fi
# docs/plugins.md's second recipe: an out-of-tree renderer on the softline
# core, linked against libnn.a alone (-z defs: nothing else of the project)
mkdir -p "$T/nnr"
cat >"$T/nnr/mysoft.c" <<'PLUG'
#include <stdio.h>
#include "nn/softline.h"
#include "plugin.h"
typedef struct { softline_cfg_t cfg; } st_t;
static int init(void *s, const plugin_value_t *v, const plugin_host_t *h, plugin_err_t *e) {
    (void)v; (void)h; (void)e; ((st_t *)s)->cfg.softness = 1.25f; return 0; }
static softline_scene_t cs(const scene_t *sc) {
    return (softline_scene_t){sc->nstrokes, sc->npts, sc->off, sc->xy, sc->width, sc->opacity}; }
static size_t ws(const void *s, const scene_t *sc, int W, int H) {
    softline_scene_t c = cs(sc); return softline_ws_size(&((const st_t *)s)->cfg, &c, W, H); }
static int fwd(void *s, void *w, const plugin_host_t *h, const scene_t *sc, int W, int H, float *img, plugin_err_t *e) {
    softline_scene_t c = cs(sc); softline_fault_t f; (void)h;
    if (softline_forward(&((st_t *)s)->cfg, w, &c, W, H, img, &f)) { snprintf(e->msg, sizeof e->msg, "%s", f.msg); return EXIT_DATA; }
    return 0; }
static int bwd(void *s, void *w, const plugin_host_t *h, const scene_t *sc, int W, int H, const float *d,
               scene_grad_t *g, plugin_err_t *e) {
    softline_scene_t c = cs(sc); softline_grad_t cg = {g->xy, g->width, g->opacity}; softline_fault_t f;
    nn_par_t par = {.run = h->parallel_for, .impl = h->ctx, .nthreads = h->nthreads};
    if (softline_backward(&((st_t *)s)->cfg, w, &c, W, H, d, &cg, &par, &f)) { snprintf(e->msg, sizeof e->msg, "%s", f.msg); return EXIT_DATA; }
    return 0; }
static const renderer_vt vt = {.ws_size = ws, .forward = fwd, .backward = bwd};
static const plugin_desc_t desc = {.abi = INVCLIP_PLUGIN_ABI, .kind = PLUGIN_RENDERER, .name = "mysoft",
    .version = "1", .summary = "test renderer on the softline core", .state_size = sizeof(st_t), .init = init,
    .renderer = &vt};
const plugin_desc_t *invclip_plugin(unsigned i) { return i == 0 ? &desc : 0; }
PLUG
sanf=; [ "${SAN:-}" = 1 ] && sanf=-fsanitize=address,undefined # an instrumented libnn.a needs the runtimes
check "an out-of-tree renderer links the pure-maths layer alone (libnn.a, -z defs)" \
  cc -std=gnu11 -O2 -fPIC -fvisibility=hidden -shared $sanf -Wall -Werror -Wl,-z,defs -Icommon -o "$T/nnr/mysoft.so" "$T/nnr/mysoft.c" "$PLUGINS/../libnn.a" -lm
eq "...and exports only its entry point" "$(nm -D --defined-only "$T/nnr/mysoft.so" | awk '{print $NF}' | tr '\n' ' ')" "invclip_plugin "
PLUGINS=$T/nnr "$UNITS/test_plugins" >"$T/nharness" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q "^ok - mysoft: d/dxy along a random direction" "$T/nharness"; then
  ok "the harness passes it (gradients through the softline core)"
else notok "the harness passes the libnn.a renderer" "rc=$rc $(grep -v '^ok' "$T/nharness" | head -5)"; fi
