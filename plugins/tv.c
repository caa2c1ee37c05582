/* tv.c - loss plugin `tv`: total variation of the rendered image.
 *
 * Default (anisotropic TV, the mean absolute difference of neighbouring
 * pixels along x and along y, over every channel):
 *   L = mean_{c,i,j<W-1} |I[c,i,j+1] - I[c,i,j]| + mean_{c,i<H-1,j} |I[c,i+1,j] - I[c,i,j]|
 * Parity with the study (docs/study.md 4.3, bug 3: its second term
 * differences adjacent CHANNELS, not columns, so on a grey image drawn as RGB
 * only the vertical term is left):
 *   study=true:  L = mean_{c,i<H-1,j} |I[c,i+1,j] - I[c,i,j]| + mean_{c<C-1,i,j} |I[c+1,i,j] - I[c,i,j]|
 * |d| is smoothed as sqrt(d^2 + eps^2) - eps when eps > 0 (default 0: the
 * exact absolute value, whose derivative at 0 is taken as 0).  Gradient:
 * d/dI of each term is sign(d)/count at the two pixels of the difference.
 * The weight in the total loss is the host's business (optimize --loss tv:...).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "plugin.h"

static const plugin_param_t params[] = {
    {.name = "study", .type = PARAM_BOOL, .def = 0,
     .help = "reproduce the study's TV (vertical differences + adjacent-channel differences)"},
    {.name = "eps", .type = PARAM_FLOAT, .def = 0, .min = 0, .max = 1,
     .help = "smoothing of |d| as sqrt(d^2+eps^2)-eps (0 = exact)"},
};

typedef struct {
    int study;
    double eps;
} tv_t;

static int tv_init(void *st, const plugin_value_t *v, const plugin_host_t *host, plugin_err_t *err) {
    tv_t *s = st;
    (void)host;
    (void)err;
    s->study = (int)v[0].i;
    s->eps = v[1].f;
    return 0;
}

static size_t tv_ws(const void *st, const loss_in_t *in) {
    (void)st;
    (void)in;
    return 0;
}

/* sum over pairs (a, a+step) of a strided walk; adds the gradient scaled by 1/count */
static double diff_term(const tv_t *s, const float *img, float *dimg, int C, int H, int W, int axis) {
    /* axis 0: channel, 1: rows, 2: columns */
    int n0 = C - (axis == 0), n1 = H - (axis == 1), n2 = W - (axis == 2);
    if (n0 <= 0 || n1 <= 0 || n2 <= 0) return 0;
    size_t step = axis == 0 ? (size_t)H * W : axis == 1 ? (size_t)W : 1;
    double count = (double)n0 * n1 * n2, sum = 0, eps = s->eps;
    for (int c = 0; c < n0; c++)
        for (int i = 0; i < n1; i++)
            for (int j = 0; j < n2; j++) {
                size_t a = ((size_t)c * H + i) * W + j;
                double d = (double)img[a + step] - img[a], g;
                if (eps > 0) {
                    double r = sqrt(d * d + eps * eps);
                    sum += r - eps;
                    g = d / r;
                } else {
                    sum += fabs(d);
                    g = d > 0 ? 1 : d < 0 ? -1 : 0;
                }
                if (dimg) {
                    dimg[a + step] += (float)(g / count);
                    dimg[a] -= (float)(g / count);
                }
            }
    return sum / count;
}

static int tv_eval(void *st, void *ws, const plugin_host_t *host, const loss_in_t *in, loss_out_t *out,
                   plugin_err_t *err) {
    const tv_t *s = st;
    (void)ws;
    (void)host;
    if (!in->img || in->C < 1 || in->H < 1 || in->W < 1) {
        snprintf(err->msg, sizeof err->msg, "tv needs an image");
        return EXIT_DATA;
    }
    double v = s->study ? diff_term(s, in->img, out->dimg, in->C, in->H, in->W, 1) +
                              diff_term(s, in->img, out->dimg, in->C, in->H, in->W, 0)
                        : diff_term(s, in->img, out->dimg, in->C, in->H, in->W, 2) +
                              diff_term(s, in->img, out->dimg, in->C, in->H, in->W, 1);
    out->value = v;
    return 0;
}

static const loss_vt vt = {.ws_size = tv_ws, .eval = tv_eval};

static const plugin_desc_t desc = {
    .abi = INVCLIP_PLUGIN_ABI,
    .kind = PLUGIN_LOSS,
    .name = "tv",
    .version = "1",
    .summary = "total variation of the image (anisotropic; study=true for the study's vertical+channel TV)",
    .help = "L = mean|dI/dx| + mean|dI/dy| over all channels.  study=true reproduces docs/study.md 4.3: "
            "mean of vertical differences plus mean of adjacent-CHANNEL differences (zero for a grey image "
            "drawn as RGB, so only the vertical term acts).  eps > 0 smooths |d|.",
    .params = params,
    .nparams = (int)(sizeof params / sizeof params[0]),
    .state_size = sizeof(tv_t),
    .init = tv_init,
    .loss = &vt,
};

const plugin_desc_t *invclip_plugin(unsigned index) { return index == 0 ? &desc : NULL; }
