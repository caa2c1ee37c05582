/* t_nan.c - test fixture: a loss that goes wrong on purpose at step `at`
 * (host->step), so the optimiser's NaN/Inf handling can be tested:
 * what=value returns a NaN loss, what=grad a NaN image gradient, what=inf an
 * infinite point gradient.  Before that step it is sum(1 - img) / pixels. */
#include <math.h>
#include "plugin.h"

static const plugin_param_t params[] = {
    {.name = "at", .type = PARAM_INT, .def = 1, .min = 0, .max = 1000000, .help = "the step that goes wrong"},
    {.name = "what", .type = PARAM_ENUM, .sdef = "value", .choices = "value|grad|inf", .help = "what goes wrong"},
};
typedef struct { long at, what; } state_t;

static int init(void *st, const plugin_value_t *v, const plugin_host_t *host, plugin_err_t *err) {
    state_t *s = st;
    (void)host, (void)err;
    s->at = v[0].i;
    s->what = v[1].i;
    return 0;
}
static size_t ws_size(const void *st, const loss_in_t *in) { (void)st, (void)in; return 0; }
static int eval(void *st, void *ws, const plugin_host_t *host, const loss_in_t *in, loss_out_t *out,
                plugin_err_t *err) {
    const state_t *s = st;
    (void)ws, (void)err;
    size_t n = (size_t)in->C * in->H * in->W;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += 1.0 - in->img[i];
        if (out->dimg) out->dimg[i] += (float)(-1.0 / n);
    }
    out->value = sum / n;
    int step = host->step ? host->step(host->ctx, NULL) : 0;
    if (step < s->at) return 0;
    if (s->what == 0) out->value = NAN;
    else if (s->what == 1 && out->dimg) out->dimg[n / 2] = NAN;
    else if (s->what == 2 && out->dscene.xy && in->scene && in->scene->nstrokes) out->dscene.xy[0] = INFINITY;
    return 0;
}
static const loss_vt vt = {.ws_size = ws_size, .eval = eval};
static const plugin_desc_t desc = {.abi = INVCLIP_PLUGIN_ABI, .kind = PLUGIN_LOSS, .name = "t-nan", .version = "1",
                                   .summary = "a loss that turns NaN at a chosen step", .params = params,
                                   .nparams = 2, .state_size = sizeof(state_t), .init = init, .loss = &vt};
const plugin_desc_t *invclip_plugin(unsigned i);
const plugin_desc_t *invclip_plugin(unsigned i) { return i == 0 ? &desc : 0; }
