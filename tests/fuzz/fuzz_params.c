/* fuzz_params.c - libFuzzer target for the parameter-string parsers: plugin
 * parameters ("key=value,..." against a descriptor's table, every parameter
 * type) and degradation specs (qd-degrade's --degrade chains and --mix
 * lists, with lo..hi ranges).
 *
 * The first byte chooses the parser; the rest is the string.  Properties,
 * besides "no crash, no sanitizer report": an error is EXIT_USAGE with a
 * message; a success leaves every numeric value inside its declared range
 * and every enum index valid; parsing is deterministic (twice = same). */
#include "degrade.h"
#include "plugin_host.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const plugin_param_t params[] = {
    {.name = "width", .type = PARAM_FLOAT, .def = 2, .min = 0.1, .max = 50, .help = "a float"},
    {.name = "n", .type = PARAM_INT, .def = 4, .min = -3, .max = 1000, .help = "an int"},
    {.name = "on", .type = PARAM_BOOL, .def = 0, .min = 0, .max = 1, .help = "a bool"},
    {.name = "mode", .type = PARAM_ENUM, .sdef = "b", .choices = "a|b|study_multi", .help = "an enum"},
    {.name = "prompt", .type = PARAM_STRING, .sdef = "a fish", .help = "a string"},
};
static const plugin_desc_t desc = {
    .abi = INVCLIP_PLUGIN_ABI, .kind = PLUGIN_LOSS, .name = "fuzz", .params = params,
    .nparams = (int)(sizeof params / sizeof *params),
};

static void fuzz_plugin(const char *s) {
    plugin_t p;
    memset(&p, 0, sizeof p);
    p.d = &desc;
    p.vals = calloc((size_t)desc.nparams, sizeof *p.vals);
    p.strs = calloc((size_t)desc.nparams, sizeof *p.strs);
    err_t e = {0};
    int rc = plugin_params_parse(&p, s, &e);
    if (rc) {
        if (rc != EXIT_USAGE || !e.msg[0]) abort();
    } else {
        if (!(p.vals[0].f >= 0.1 && p.vals[0].f <= 50)) abort();
        if (p.vals[1].i < -3 || p.vals[1].i > 1000) abort();
        if (p.vals[2].i != 0 && p.vals[2].i != 1) abort();
        if (p.vals[3].i < 0 || p.vals[3].i > 2) abort();
        if (!p.vals[4].s) abort();
        plugin_value_t v0 = p.vals[0];
        long v1 = p.vals[1].i;
        if (plugin_params_parse(&p, s, &e) || p.vals[0].f != v0.f || p.vals[1].i != v1) abort();
    }
    for (int k = 0; k < desc.nparams; k++) free(p.strs[k]);
    free(p.strs);
    free(p.vals);
}

static void fuzz_degrade(const char *s, int mix) {
    degrade_plan_t pl;
    degrade_plan_init(&pl);
    err_t e = {0};
    int rc = mix ? degrade_plan_add_mix(&pl, s, &e) : degrade_plan_add_fixed(&pl, s, &e);
    if (rc && (rc != EXIT_USAGE || !e.msg[0])) abort();
    degrade_plan_free(&pl);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    if (size < 1 || size > 4096) return 0;
    char *s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = 0;
    switch (data[0] % 3) {
    case 0: fuzz_plugin(s); break;
    case 1: fuzz_degrade(s, 0); break;
    default: fuzz_degrade(s, 1); break;
    }
    free(s);
    return 0;
}
