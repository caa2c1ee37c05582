/* t_multi.c - test fixture: one library holding two loss plugins (t-multi-a,
 * t-multi-b) with a parameter of every type, for lookup-by-scan and
 * parameter-validation tests.  t-multi-a's loss is sum((1-img) * weight), so
 * its gradient is -weight everywhere. */
#include <string.h>
#include "plugin.h"

static const plugin_param_t params[] = {
    {.name = "weight", .type = PARAM_FLOAT, .def = 1.0, .min = 0.0, .max = 10.0, .help = "a float"},
    {.name = "count", .type = PARAM_INT, .def = 3, .min = 1, .max = 5, .help = "an int"},
    {.name = "flag", .type = PARAM_BOOL, .def = 0, .help = "a bool"},
    {.name = "mode", .type = PARAM_ENUM, .sdef = "b", .choices = "a|b|c", .help = "an enum"},
    {.name = "prompt", .type = PARAM_STRING, .sdef = "a fish", .help = "a string"},
};
typedef struct { double weight; long count, flag, mode; char prompt[64]; } state_t;

static int init(void *st, const plugin_value_t *v, const plugin_host_t *host, plugin_err_t *err) {
    state_t *s = st;
    (void)host;
    s->weight = v[0].f;
    s->count = v[1].i;
    s->flag = v[2].i;
    s->mode = v[3].i;
    strncpy(s->prompt, v[4].s ? v[4].s : "", sizeof s->prompt - 1);
    if (!strcmp(s->prompt, "fail")) {
        strcpy(err->msg, "prompt 'fail' refused");
        return 4;
    }
    return 0;
}
static size_t ws_size(const void *st, const loss_in_t *in) { (void)st; (void)in; return 0; }
static int eval(void *st, void *ws, const plugin_host_t *host, const loss_in_t *in, loss_out_t *out,
                plugin_err_t *err) {
    const state_t *s = st;
    double sum = 0;
    size_t n = (size_t)in->C * in->H * in->W;
    for (size_t i = 0; i < n; i++) {
        sum += 1.0 - in->img[i];
        if (out->dimg) out->dimg[i] += (float)-s->weight;
    }
    out->value = s->weight * sum;
    return 0;
}
static const loss_vt vt = {.ws_size = ws_size, .eval = eval};
static const plugin_desc_t descs[] = {
    {.abi = INVCLIP_PLUGIN_ABI, .kind = PLUGIN_LOSS, .name = "t-multi-a", .version = "1", .summary = "test loss A",
     .params = params, .nparams = 5, .state_size = sizeof(state_t), .init = init, .loss = &vt},
    {.abi = INVCLIP_PLUGIN_ABI, .kind = PLUGIN_LOSS, .name = "t-multi-b", .version = "1", .summary = "test loss B",
     .params = params, .nparams = 5, .state_size = sizeof(state_t), .init = init, .loss = &vt},
};
const plugin_desc_t *invclip_plugin(unsigned i);
const plugin_desc_t *invclip_plugin(unsigned i) { return i < 2 ? &descs[i] : 0; }
