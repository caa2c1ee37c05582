/* plugin_host.h - loading, validating and running plugins (see plugin.h).
 *
 * Lookup: a spec "NAME[:key=value,...]".  NAME containing '/' is a path to a
 * .so (its first descriptor is used).  A bare NAME is looked up as NAME.so
 * along $INVCLIP_PLUGIN_PATH (colon-separated folders), then in the build's
 * plugins/ folder (compiled in), then <prefix>/lib/invclip/plugins next to an
 * installed binary; failing that, every .so in those folders is asked for a
 * descriptor called NAME (libraries holding several plugins).
 *
 * Errors and exit codes: a missing plugin, a library that cannot be loaded,
 * one without the entry point, an ABI mismatch, a malformed descriptor and a
 * plugin of the wrong kind are EXIT_PLUGIN (4); an unknown parameter, a value
 * of the wrong type and an out-of-range value are EXIT_USAGE (2).  Each error
 * message names the plugin and its path.
 */
#ifndef PLUGIN_HOST_H
#define PLUGIN_HOST_H
#include <stdio.h>
#include "plugin.h"
#include "rng.h"
#include "util.h"

typedef struct {
    const plugin_desc_t *d;
    void *dl;              /* dlopen handle */
    char *path;            /* library path */
    plugin_value_t *vals;  /* (d->nparams) resolved values */
    char **strs;           /* owned copies of string values */
    void *state;           /* d->state_size bytes, host-allocated */
    void *ws;              /* workspace, grown on demand */
    size_t ws_cap;
    void *cws;             /* renderers' codec workspace (encode/decode) */
    size_t cws_cap;
    int inited;
} plugin_t;

/* dlopen + descriptor + ABI + kind checks + parameter parsing.  kind 0 = any. */
int plugin_open(plugin_t *p, const char *spec, int kind, err_t *e);
/* Set p's parameters to their defaults, then parse "key=value,..." (args
 * may be "") against p->d's table (p->vals and p->strs allocated for it).
 * Unknown keys, repeated keys and out-of-range values are EXIT_USAGE.
 * Called by plugin_open; exposed for the fuzzer. */
int plugin_params_parse(plugin_t *p, const char *args, err_t *e);
/* Allocate state and call the plugin's init. */
int plugin_init(plugin_t *p, const plugin_host_t *host, err_t *e);
/* Workspace of at least n bytes (zeroed when first allocated or grown;
 * otherwise its contents persist between calls, as plugin.h promises). */
void *plugin_ws(plugin_t *p, size_t n);
/* A renderer's encode/decode through its codec workspace (a buffer of its
 * own, so encoding never disturbs what a forward saved); identity when the
 * renderer has none.  Same return convention as renderer_vt.encode. */
int plugin_encode(plugin_t *p, const float *xy, int n, float *out, int cap, plugin_err_t *err);
int plugin_decode(plugin_t *p, const float *pts, int n, float *out, int cap, plugin_err_t *err);
void plugin_close(plugin_t *p);

/* Resolve a bare name to a library path (malloc'd) or NULL. */
char *plugin_find(const char *name);
/* Value of parameter `name` (must exist in the table) after plugin_open. */
const plugin_value_t *plugin_value(const plugin_t *p, const char *name);

const char *plugin_kind_name(int kind);

/* A host table whose RNG services draw from r (ctx = r), with sgemm and a
 * serial parallel_for (nthreads 1); no CLIP, no step, no original strokes.  Tools
 * that offer more use common/host.h. */
void plugin_host_init(plugin_host_t *h, rng_t *r);
/* The sgemm service (plugin.h) both hosts offer: cblas_sgemm, row-major. */
void plugin_host_sgemm(void *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc);

/* Every plugin found along the search path (each folder once, each name once,
 * earlier folders win), optionally of one kind.  Calls fn for each. */
typedef void (*plugin_each_fn)(const plugin_desc_t *d, const char *path, void *ctx);
int plugin_each(int kind, plugin_each_fn fn, void *ctx);

/* The three listing options every plugin-loading tool has:
 * --list-plugins (human), --plugins-json (one NDJSON line per plugin) and
 * --help-plugin NAME.  Returns 1 if it printed something (the tool then exits 0). */
int plugin_cli(int list, int json, const char *help_name, int kind, FILE *out, err_t *e);
void plugin_print_help(const plugin_desc_t *d, const char *path, FILE *out);
#endif
