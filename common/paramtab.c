/* paramtab.c - see paramtab.h. */
#include "paramtab.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int paramtab_enum_index(const char *choices, const char *v) {
    int idx = 0;
    size_t vl = strlen(v);
    for (const char *c = choices ? choices : ""; *c; idx++) {
        const char *bar = strchr(c, '|');
        size_t l = bar ? (size_t)(bar - c) : strlen(c);
        if (l == vl && !strncmp(c, v, l)) return idx;
        if (!bar) break;
        c = bar + 1;
    }
    return -1;
}

plugin_value_t paramtab_default(const plugin_param_t *q) {
    plugin_value_t v;
    switch (q->type) {
    case PARAM_FLOAT: v.f = q->def; break;
    case PARAM_INT:
    case PARAM_BOOL: v.i = (long)q->def; break;
    case PARAM_ENUM: v.i = paramtab_enum_index(q->choices, q->sdef ? q->sdef : ""); break;
    default: v.s = q->sdef; break;
    }
    return v;
}

int paramtab_value(const plugin_param_t *q, const char *val, plugin_value_t *out, const char *who, err_t *e) {
    char *end;
    switch (q->type) {
    case PARAM_FLOAT: {
        errno = 0;
        double v = strtod(val, &end);
        if (end == val || *end || isnan(v)) return err_set(e, EXIT_USAGE, "%s'%s' is not a number", who, val);
        if ((errno == ERANGE && v != 0) || !isfinite(v) || v < q->min || v > q->max)
            return err_set(e, EXIT_USAGE, "%s%s is out of range [%g, %g]", who, val, q->min, q->max);
        out->f = v;
        return 0;
    }
    case PARAM_INT: {
        errno = 0;
        long v = strtol(val, &end, 10);
        if (end == val || *end) return err_set(e, EXIT_USAGE, "%s'%s' is not an integer", who, val);
        if (errno == ERANGE || (double)v < q->min || (double)v > q->max)
            return err_set(e, EXIT_USAGE, "%s%s is out of range [%g, %g]", who, val, q->min, q->max);
        out->i = v;
        return 0;
    }
    case PARAM_BOOL:
        if (!strcmp(val, "1") || !strcmp(val, "true") || !strcmp(val, "yes") || !strcmp(val, "on")) out->i = 1;
        else if (!strcmp(val, "0") || !strcmp(val, "false") || !strcmp(val, "no") || !strcmp(val, "off")) out->i = 0;
        else return err_set(e, EXIT_USAGE, "%s'%s' is not a boolean (true/false)", who, val);
        return 0;
    case PARAM_ENUM: {
        int ix = paramtab_enum_index(q->choices, val);
        if (ix < 0) return err_set(e, EXIT_USAGE, "%s'%s' is not one of %s", who, val, q->choices);
        out->i = ix;
        return 0;
    }
    case PARAM_STRING:
        out->s = val;
        return 0;
    }
    return err_set(e, EXIT_INTERNAL, "%sunknown parameter type", who);
}

int paramtab_list(const plugin_param_t *t, int n, const char *args, plugin_value_t *vals, char **strs,
                  const char *who, err_t *e) {
    for (int k = 0; k < n; k++) {
        free(strs[k]);
        strs[k] = NULL;
        vals[k] = paramtab_default(&t[k]);
    }
    if (!args || !args[0]) return 0;
    int rc = 0;
    char *copy = xstrdup(args), *save = NULL;
    char *seen = xcalloc((size_t)(n ? n : 1), 1);
    buf_t w = {0};
    for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) {
            rc = err_set(e, EXIT_USAGE, "%s'%s' is not key=value", who, kv);
            break;
        }
        *eq = 0;
        int k;
        for (k = 0; k < n && strcmp(t[k].name, kv); k++) {}
        if (k == n) {
            buf_t known = {0};
            for (int j = 0; j < n; j++) buf_printf(&known, "%s%s", j ? ", " : "", t[j].name);
            rc = err_set(e, EXIT_USAGE, "%sunknown parameter '%s' (known: %s)", who, kv, known.s ? known.s : "none");
            buf_free(&known);
            break;
        }
        if (seen[k]) {
            rc = err_set(e, EXIT_USAGE, "%s%s given twice", who, kv);
            break;
        }
        seen[k] = 1;
        w.len = 0;
        buf_printf(&w, "%s%s=", who, kv);
        if ((rc = paramtab_value(&t[k], eq + 1, &vals[k], w.s, e))) break;
        if (t[k].type == PARAM_STRING) {
            strs[k] = xstrdup(eq + 1);
            vals[k].s = strs[k];
        }
    }
    buf_free(&w);
    free(seen);
    free(copy);
    return rc;
}
