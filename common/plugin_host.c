/* plugin_host.c - see plugin_host.h. */
#define _GNU_SOURCE
#include "plugin_host.h"
#include "paramtab.h"
#include <cblas.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef INVCLIP_PLUGIN_DIR
#define INVCLIP_PLUGIN_DIR "build/plugins"
#endif

static uint64_t host_u64(void *c) { return rng_u64(c); }
static double host_uniform(void *c) { return rng_uniform(c); }
static double host_normal(void *c) { return rng_normal(c); }

void plugin_host_sgemm(void *c, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc) {
    (void)c;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda,
                B, ldb, beta, C, ldc);
}

static void host_serial_for(void *c, int n, plugin_task_fn fn, void *fctx) {
    (void)c;
    if (n > 0) fn(fctx, 0, n, 0);
}

void plugin_host_init(plugin_host_t *h, rng_t *r) {
    memset(h, 0, sizeof *h);
    h->abi = INVCLIP_PLUGIN_ABI;
    h->ctx = r;
    h->nthreads = 1;
    h->parallel_for = host_serial_for;
    h->sgemm = plugin_host_sgemm;
    h->rng_u64 = host_u64;
    h->rng_uniform = host_uniform;
    h->rng_normal = host_normal;
}

const char *plugin_kind_name(int kind) {
    switch (kind) {
    case PLUGIN_RENDERER: return "renderer";
    case PLUGIN_AUGMENT: return "augmentation";
    case PLUGIN_LOSS: return "loss";
    default: return "plugin";
    }
}

/* The search folders, in order; returns how many (<= max), strings malloc'd. */
static int search_dirs(char **dirs, int max) {
    int n = 0;
    const char *env = getenv("INVCLIP_PLUGIN_PATH");
    if (env && *env) {
        char *copy = xstrdup(env), *save = NULL;
        for (char *tok = strtok_r(copy, ":", &save); tok && n < max - 2; tok = strtok_r(NULL, ":", &save))
            if (*tok) dirs[n++] = xstrdup(tok);
        free(copy);
    }
    if (n < max) dirs[n++] = xstrdup(INVCLIP_PLUGIN_DIR);
    /* installed layout: <prefix>/bin/tool -> <prefix>/lib/invclip/plugins */
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0 && n < max) {
        exe[len] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            size_t m = strlen(exe) + 32;
            char *d = xmalloc(m);
            snprintf(d, m, "%s/../lib/invclip/plugins", exe);
            dirs[n++] = d;
        }
    }
    return n;
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static const plugin_desc_t *entry_desc(void *dl, unsigned i) {
    plugin_entry_fn fn;
    *(void **)&fn = dlsym(dl, INVCLIP_PLUGIN_ENTRY);
    return fn ? fn(i) : NULL;
}

char *plugin_find(const char *name) {
    char *dirs[16];
    int nd = search_dirs(dirs, 16);
    char *found = NULL;
    for (int i = 0; i < nd && !found; i++) {
        size_t m = strlen(dirs[i]) + strlen(name) + 8;
        char *p = xmalloc(m);
        snprintf(p, m, "%s/%s.so", dirs[i], name);
        if (file_exists(p)) found = p;
        else free(p);
    }
    /* a library holding several plugins: ask each .so for the name */
    for (int i = 0; i < nd && !found; i++) {
        DIR *dir = opendir(dirs[i]);
        if (!dir) continue;
        struct dirent *de;
        while (!found && (de = readdir(dir))) {
            size_t l = strlen(de->d_name);
            if (l < 4 || strcmp(de->d_name + l - 3, ".so")) continue;
            size_t m = strlen(dirs[i]) + l + 2;
            char *p = xmalloc(m);
            snprintf(p, m, "%s/%s", dirs[i], de->d_name);
            void *dl = dlopen(p, RTLD_NOW | RTLD_LOCAL);
            if (dl) {
                const plugin_desc_t *d;
                for (unsigned k = 0; k < 64 && (d = entry_desc(dl, k)); k++)
                    if (d->abi == INVCLIP_PLUGIN_ABI && d->name && !strcmp(d->name, name)) { found = p; break; }
                dlclose(dl);
            }
            if (!found) free(p);
        }
        closedir(dir);
    }
    for (int i = 0; i < nd; i++) free(dirs[i]);
    return found;
}

/* Check a descriptor's own consistency: a plugin author's bug is reported, not trusted. */
static int desc_valid(const plugin_desc_t *d, const char *path, err_t *e) {
    if (!d->name || !*d->name) return err_set(e, EXIT_PLUGIN, "%s: descriptor has no name", path);
    int vt = (d->kind == PLUGIN_RENDERER && d->renderer && d->renderer->forward && d->renderer->backward &&
              d->renderer->ws_size) ||
             (d->kind == PLUGIN_AUGMENT && d->augment && d->augment->forward && d->augment->backward &&
              d->augment->nviews && d->augment->ws_size) ||
             (d->kind == PLUGIN_LOSS && d->loss && d->loss->eval && d->loss->ws_size);
    if (!vt)
        return err_set(e, EXIT_PLUGIN, "%s: plugin '%s': descriptor of kind %d lacks its function table", path,
                       d->name, (int)d->kind);
    if (d->nparams < 0 || (d->nparams > 0 && !d->params))
        return err_set(e, EXIT_PLUGIN, "%s: plugin '%s': bad parameter table", path, d->name);
    for (int i = 0; i < d->nparams; i++) {
        const plugin_param_t *q = &d->params[i];
        if (!q->name) return err_set(e, EXIT_PLUGIN, "%s: plugin '%s': parameter %d has no name", path, d->name, i);
        if ((q->type == PARAM_FLOAT || q->type == PARAM_INT) && !(q->def >= q->min && q->def <= q->max))
            return err_set(e, EXIT_PLUGIN, "%s: plugin '%s': default of '%s' outside its range", path, d->name,
                           q->name);
        if (q->type == PARAM_ENUM && (!q->choices || !q->sdef))
            return err_set(e, EXIT_PLUGIN, "%s: plugin '%s': enum '%s' lacks choices", path, d->name, q->name);
    }
    return 0;
}

/* Defaults, then key=value,key=value (a value may not contain ','), by the
 * project's one parameter parser (paramtab.h). */
int plugin_params_parse(plugin_t *p, const char *args, err_t *e) {
    char who[96];
    snprintf(who, sizeof who, "plugin '%.60s': ", p->d->name);
    return paramtab_list(p->d->params, p->d->nparams, args, p->vals, p->strs, who, e);
}

int plugin_open(plugin_t *p, const char *spec, int kind, err_t *e) {
    memset(p, 0, sizeof *p);
    const char *colon = strchr(spec, ':');
    size_t nl = colon ? (size_t)(colon - spec) : strlen(spec);
    char *name = xmalloc(nl + 1);
    memcpy(name, spec, nl);
    name[nl] = 0;
    if (!*name) {
        free(name);
        return err_set(e, EXIT_USAGE, "empty plugin name in '%s'", spec);
    }
    int is_path = strchr(name, '/') != NULL;
    char *path = is_path ? xstrdup(name) : plugin_find(name);
    void *dl = NULL;
    const plugin_desc_t *d = NULL, *cand;
    int rc = 0;
    if (!path || (is_path && !file_exists(path))) {
        if (is_path) {
            rc = err_set(e, EXIT_PLUGIN, "%s: plugin file not found", name);
            goto fail;
        }
        /* name every folder searched, in order (INVCLIP_PLUGIN_PATH's, the
         * build's, the installed one next to the binary), resolved */
        char *dirs[16];
        int nd = search_dirs(dirs, 16);
        const char *env = getenv("INVCLIP_PLUGIN_PATH");
        buf_t b = {0};
        for (int i = 0; i < nd; i++) {
            char real[PATH_MAX];
            int there = realpath(dirs[i], real) != NULL;
            buf_printf(&b, "%s%s%s", i ? ", " : "", there ? real : dirs[i], there ? "" : " (missing)");
            free(dirs[i]);
        }
        rc = err_set(e, EXIT_PLUGIN, "plugin '%s' not found; searched %s (INVCLIP_PLUGIN_PATH %s%s)", name, b.s,
                     env && *env ? "= " : "is not set", env && *env ? env : "");
        buf_free(&b);
        goto fail;
    }
    dlerror();
    dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *why = dlerror();
        rc = err_set(e, EXIT_PLUGIN, "%s: cannot load plugin: %s", path, why ? why : "unknown error");
        goto fail;
    }
    dlerror();
    void *sym = dlsym(dl, INVCLIP_PLUGIN_ENTRY);
    if (!sym || dlerror()) {
        rc = err_set(e, EXIT_PLUGIN, "%s: not an invclip plugin (no '%s' entry point)", path, INVCLIP_PLUGIN_ENTRY);
        goto fail;
    }
    for (unsigned i = 0; i < 64 && (cand = entry_desc(dl, i)); i++) {
        if (cand->abi != INVCLIP_PLUGIN_ABI) {
            rc = err_set(e, EXIT_PLUGIN, "%s: plugin ABI version %u, but this program speaks version %d; rebuild the plugin",
                         path, (unsigned)cand->abi, INVCLIP_PLUGIN_ABI);
            goto fail;
        }
        if (is_path || (cand->name && !strcmp(cand->name, name))) { d = cand; break; }
    }
    if (!d) {
        rc = err_set(e, EXIT_PLUGIN, "%s: library has no plugin named '%s'", path, name);
        goto fail;
    }
    rc = desc_valid(d, path, e);
    if (!rc && kind && (int)d->kind != kind)
        rc = err_set(e, EXIT_PLUGIN, "plugin '%s' (%s) is %s %s, not %s %s", d->name, path,
                     d->kind == PLUGIN_AUGMENT ? "an" : "a", plugin_kind_name(d->kind),
                     kind == PLUGIN_AUGMENT ? "an" : "a", plugin_kind_name(kind));
    if (rc) goto fail;
    free(name);
    p->d = d;
    p->dl = dl;
    p->path = path;
    p->vals = xcalloc((size_t)(d->nparams ? d->nparams : 1), sizeof *p->vals);
    p->strs = xcalloc((size_t)(d->nparams ? d->nparams : 1), sizeof *p->strs);
    if ((rc = plugin_params_parse(p, colon ? colon + 1 : "", e))) {
        plugin_close(p);
        return rc;
    }
    return 0;
fail:
    if (dl) dlclose(dl);
    free(name);
    free(path);
    return rc;
}

int plugin_init(plugin_t *p, const plugin_host_t *host, err_t *e) {
    p->state = xcalloc(1, p->d->state_size ? p->d->state_size : 1);
    if (p->d->init) {
        plugin_err_t pe = {{0}};
        int rc = p->d->init(p->state, p->vals, host, &pe);
        if (rc) return err_set(e, rc, "plugin '%s': %s", p->d->name, pe.msg[0] ? pe.msg : "init failed");
    }
    p->inited = 1;
    return 0;
}

void *plugin_ws(plugin_t *p, size_t n) {
    if (n > p->ws_cap) {
        free(p->ws);
        p->ws = xcalloc(1, n);
        mem_hugepage(p->ws, n); /* a large workspace's first touch: a fault per 2 MB, not per page */
        p->ws_cap = n;
    }
    return p->ws;
}

static void *codec_ws(plugin_t *p, int n) {
    const renderer_vt *vt = p->d->renderer;
    size_t need = vt->codec_ws_size ? vt->codec_ws_size(p->state, n) : 0;
    if (!need) return NULL;
    if (need > p->cws_cap) {
        free(p->cws);
        p->cws = xmalloc(need); /* malloc: 16-byte aligned, as codecs may assume */
        p->cws_cap = need;
    }
    return p->cws;
}

int plugin_encode(plugin_t *p, const float *xy, int n, float *out, int cap, plugin_err_t *err) {
    const renderer_vt *vt = p->d->renderer;
    if (!vt->encode) {
        if (out && cap >= n) memcpy(out, xy, sizeof(float) * 2 * (size_t)n);
        return n;
    }
    return vt->encode(p->state, codec_ws(p, n), xy, n, out, cap, err);
}

int plugin_decode(plugin_t *p, const float *pts, int n, float *out, int cap, plugin_err_t *err) {
    const renderer_vt *vt = p->d->renderer;
    if (!vt->decode) {
        if (out && cap >= n) memcpy(out, pts, sizeof(float) * 2 * (size_t)n);
        return n;
    }
    return vt->decode(p->state, codec_ws(p, n), pts, n, out, cap, err);
}

const plugin_value_t *plugin_value(const plugin_t *p, const char *name) {
    for (int k = 0; k < p->d->nparams; k++)
        if (!strcmp(p->d->params[k].name, name)) return &p->vals[k];
    return NULL;
}

void plugin_close(plugin_t *p) {
    if (p->inited && p->d->fini) p->d->fini(p->state);
    free(p->state);
    free(p->ws);
    free(p->cws);
    if (p->strs)
        for (int k = 0; p->d && k < p->d->nparams; k++) free(p->strs[k]);
    free(p->strs);
    free(p->vals);
    free(p->path);
    if (p->dl) dlclose(p->dl);
    memset(p, 0, sizeof *p);
}

int plugin_each(int kind, plugin_each_fn fn, void *ctx) {
    char *dirs[16];
    int nd = search_dirs(dirs, 16);
    char **seen = NULL;
    int nseen = 0, count = 0;
    for (int i = 0; i < nd; i++) {
        struct dirent **list;
        int n = scandir(dirs[i], &list, NULL, alphasort);
        for (int j = 0; j < n; j++) {
            const char *f = list[j]->d_name;
            size_t l = strlen(f);
            if (l > 3 && !strcmp(f + l - 3, ".so")) {
                size_t m = strlen(dirs[i]) + l + 2;
                char *path = xmalloc(m);
                snprintf(path, m, "%s/%s", dirs[i], f);
                void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
                const plugin_desc_t *d;
                for (unsigned k = 0; dl && k < 64 && (d = entry_desc(dl, k)); k++) {
                    if (d->abi != INVCLIP_PLUGIN_ABI || !d->name) continue;
                    if (kind && (int)d->kind != kind) continue;
                    int dup = 0;
                    for (int s = 0; s < nseen; s++) dup |= !strcmp(seen[s], d->name);
                    if (dup) continue;
                    seen = xrealloc(seen, (size_t)(nseen + 1) * sizeof *seen);
                    seen[nseen++] = xstrdup(d->name);
                    fn(d, path, ctx);
                    count++;
                }
                if (dl) dlclose(dl);
                free(path);
            }
            free(list[j]);
        }
        if (n >= 0) free(list);
        free(dirs[i]);
    }
    for (int s = 0; s < nseen; s++) free(seen[s]);
    free(seen);
    return count;
}

static const char *type_name(param_type_t t) {
    switch (t) {
    case PARAM_FLOAT: return "float";
    case PARAM_INT: return "int";
    case PARAM_BOOL: return "bool";
    case PARAM_STRING: return "string";
    case PARAM_ENUM: return "enum";
    }
    return "?";
}

void plugin_print_help(const plugin_desc_t *d, const char *path, FILE *out) {
    fprintf(out, "%s (%s %s) - %s\n  %s\n\n", d->name, plugin_kind_name(d->kind), d->version ? d->version : "",
            d->summary ? d->summary : "", path);
    if (d->help) fprintf(out, "%s\n\n", d->help);
    fprintf(out, "Parameters (%s:key=value,...):\n", d->name);
    if (!d->nparams) fprintf(out, "  (none)\n");
    for (int i = 0; i < d->nparams; i++) {
        const plugin_param_t *q = &d->params[i];
        char def[96];
        if (q->type == PARAM_FLOAT) snprintf(def, sizeof def, "%g, range [%g, %g]", q->def, q->min, q->max);
        else if (q->type == PARAM_INT) snprintf(def, sizeof def, "%ld, range [%g, %g]", (long)q->def, q->min, q->max);
        else if (q->type == PARAM_BOOL) snprintf(def, sizeof def, "%s", q->def != 0 ? "true" : "false");
        else if (q->type == PARAM_ENUM) snprintf(def, sizeof def, "%s, one of %s", q->sdef, q->choices);
        else snprintf(def, sizeof def, "'%s'", q->sdef ? q->sdef : "");
        fprintf(out, "  %-14s %-6s %s (default %s)\n", q->name, type_name(q->type), q->help ? q->help : "", def);
    }
}

static void print_json(const plugin_desc_t *d, const char *path, FILE *out) {
    buf_t b = {0};
    buf_puts(&b, "{\"name\":");
    buf_jstr(&b, d->name);
    buf_printf(&b, ",\"kind\":\"%s\",\"abi\":%u,\"version\":", plugin_kind_name(d->kind), (unsigned)d->abi);
    buf_jstr(&b, d->version ? d->version : "");
    buf_puts(&b, ",\"path\":");
    buf_jstr(&b, path);
    buf_puts(&b, ",\"summary\":");
    buf_jstr(&b, d->summary ? d->summary : "");
    buf_puts(&b, ",\"params\":[");
    for (int i = 0; i < d->nparams; i++) {
        const plugin_param_t *q = &d->params[i];
        if (i) buf_puts(&b, ",");
        buf_puts(&b, "{\"name\":");
        buf_jstr(&b, q->name);
        buf_printf(&b, ",\"type\":\"%s\",\"default\":", type_name(q->type));
        if (q->type == PARAM_FLOAT || q->type == PARAM_INT) {
            buf_num(&b, q->def, 6);
            buf_puts(&b, ",\"min\":");
            buf_num(&b, q->min, 6);
            buf_puts(&b, ",\"max\":");
            buf_num(&b, q->max, 6);
        } else if (q->type == PARAM_BOOL) {
            buf_puts(&b, q->def != 0 ? "true" : "false");
        } else {
            buf_jstr(&b, q->sdef ? q->sdef : "");
            if (q->type == PARAM_ENUM) {
                buf_puts(&b, ",\"choices\":");
                buf_jstr(&b, q->choices);
            }
        }
        buf_puts(&b, ",\"help\":");
        buf_jstr(&b, q->help ? q->help : "");
        buf_puts(&b, "}");
    }
    buf_puts(&b, "]}\n");
    fputs(b.s, out);
    buf_free(&b);
}

typedef struct { FILE *out; int json; } list_ctx;
static void list_one(const plugin_desc_t *d, const char *path, void *vctx) {
    list_ctx *c = vctx;
    if (c->json) print_json(d, path, c->out);
    else fprintf(c->out, "%-12s %-13s %s\n", d->name, plugin_kind_name(d->kind), d->summary ? d->summary : "");
}

int plugin_cli(int list, int json, const char *help_name, int kind, FILE *out, err_t *e) {
    if (help_name) {
        plugin_t p;
        if (plugin_open(&p, help_name, 0, e)) return -1;
        plugin_print_help(p.d, p.path, out);
        plugin_close(&p);
        return 1;
    }
    if (list || json) {
        list_ctx c = {out, json};
        int n = plugin_each(kind, list_one, &c);
        if (!n && !json) fprintf(out, "(no plugins found)\n");
        return 1;
    }
    return 0;
}
