/* cli.c - see cli.h. */
#include "cli.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "paramtab.h"
#include "util.h"

#ifndef INVCLIP_VERSION
#define INVCLIP_VERSION "0.1.0"
#endif

void strlist_push(strlist_t *l, const char *s) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->v = xrealloc(l->v, (size_t)l->cap * sizeof *l->v);
    }
    l->v[l->n++] = s;
}
void strlist_free(strlist_t *l) {
    free(l->v);
    memset(l, 0, sizeof *l);
}

void strlist_split(const strlist_t *in, char sep, strlist_t *out) {
    for (int i = 0; i < in->n; i++)
        for (const char *p = in->v[i]; *p;) {
            const char *q = strchr(p, sep);
            size_t n = q ? (size_t)(q - p) : strlen(p);
            if (n) {
                char *w = xmalloc(n + 1);
                memcpy(w, p, n);
                w[n] = 0;
                strlist_push(out, w);
            }
            p += n + (q ? 1 : 0);
        }
}

void strlist_free_items(strlist_t *l) {
    for (int i = 0; i < l->n; i++) free((char *)l->v[i]);
    strlist_free(l);
}

/* The k-th choice of "a|b|c": its start in *at and its length (0: none). */
static int choice_at(const char *choices, int k, const char **at) {
    const char *c = k >= 0 ? choices : NULL;
    for (; k > 0 && c; k--)
        if ((c = strchr(c, '|'))) c++;
    if (!c) return 0;
    *at = c;
    const char *bar = strchr(c, '|');
    return bar ? (int)(bar - c) : (int)strlen(c);
}

void opt_help(const optspec_t *spec, FILE *fp) {
    fprintf(fp, "Usage: %s %s\n\n%s\n\nOptions:\n", progname, spec->usage, spec->summary);
    for (const opt_t *o = spec->opts; o && o->name; o++) {
        char left[96];
        const char *c;
        int n = 0;
        if (o->shortname) n = snprintf(left, sizeof left, "  -%c, --%s", o->shortname, o->name);
        else n = snprintf(left, sizeof left, "      --%s", o->name);
        if (o->kind != OPT_FLAG && o->metavar && n < (int)sizeof left)
            snprintf(left + n, sizeof left - (size_t)n, " %s", o->metavar);
        fprintf(fp, "%-30s", left);
        if (strlen(left) >= 30) fprintf(fp, "\n%30s", "");
        fprintf(fp, "%s", o->help ? o->help : "");
        if (o->kind == OPT_INT && o->dst) fprintf(fp, " (default %d)", *(int *)o->dst);
        else if (o->kind == OPT_DOUBLE && o->dst) fprintf(fp, " (default %g)", *(double *)o->dst);
        else if (o->kind == OPT_ENUM && o->dst && (n = choice_at(o->metavar, *(int *)o->dst, &c)) > 0)
            fprintf(fp, " (default %.*s)", n, c);
        else if (o->kind == OPT_STR && o->dst && *(const char **)o->dst)
            fprintf(fp, " (default %s)", *(const char **)o->dst);
        fputc('\n', fp);
    }
    fprintf(fp, "%-30s%s\n", "  -h, --help", "show this help and exit");
    fprintf(fp, "%-30s%s\n", "      --version", "show the version and exit");
    if (spec->epilog) fprintf(fp, "\n%s\n", spec->epilog);
    fprintf(fp, "\nExit codes: 0 ok, 1 bad input data, 2 usage, 3 I/O, 4 plugin, 5 model, 6 NaN/Inf, 7 internal.\n");
}

/* Numbers and choices go through the one parameter parser (paramtab.h), as
 * plugin parameters and degradation specs do. */
static void set_value(const opt_t *o, const char *val) {
    plugin_param_t q = {.name = o->name, .min = o->min, .max = o->max, .choices = o->metavar};
    int ranged = o->min <= o->max;
    plugin_value_t v;
    err_t e = {0};
    char who[80];
    snprintf(who, sizeof who, "--%.60s: ", o->name);
    switch (o->kind) {
    case OPT_FLAG:
        *(int *)o->dst = 1;
        return;
    case OPT_INT:
    case OPT_DOUBLE:
        q.type = o->kind == OPT_INT ? PARAM_INT : PARAM_FLOAT;
        if (!ranged) q.min = o->kind == OPT_INT ? -2147483647.0 : -HUGE_VAL, q.max = -q.min;
        if (paramtab_value(&q, val, &v, who, &e)) {
            if (!ranged && strstr(e.msg, "out of range")) die(EXIT_USAGE, "%s%s is out of range", who, val);
            die_err(&e);
        }
        if (o->kind == OPT_INT) *(int *)o->dst = (int)v.i;
        else *(double *)o->dst = v.f;
        return;
    case OPT_ENUM:
        q.type = PARAM_ENUM;
        if (paramtab_value(&q, val, &v, who, &e)) die_err(&e);
        *(int *)o->dst = (int)v.i;
        return;
    case OPT_STR:
        *(const char **)o->dst = val;
        return;
    case OPT_LIST:
        strlist_push((strlist_t *)o->dst, val);
        return;
    }
}

void opt_parse(const optspec_t *spec, int argc, char **argv, strlist_t *pos) {
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_pos || a[0] != '-' || !strcmp(a, "-")) {
            if (!pos) die(EXIT_USAGE, "unexpected argument '%s'; try --help", a);
            strlist_push(pos, a);
            continue;
        }
        if (!strcmp(a, "--")) { only_pos = 1; continue; }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            opt_help(spec, stdout);
            close_stdout();
            exit(EXIT_OK);
        }
        if (!strcmp(a, "--version")) {
            printf("%s (invclip) %s\n", progname, INVCLIP_VERSION);
            close_stdout();
            exit(EXIT_OK);
        }
        const opt_t *o = NULL;
        const char *val = NULL;
        if (a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            for (const opt_t *p = spec->opts; p && p->name; p++)
                if (strlen(p->name) == len && !strncmp(p->name, name, len)) { o = p; break; }
            if (!o) die(EXIT_USAGE, "unknown option '--%.*s'; try --help", (int)len, name);
            if (eq) {
                if (o->kind == OPT_FLAG) die(EXIT_USAGE, "--%s takes no value", o->name);
                val = eq + 1;
            }
        } else {
            for (const opt_t *p = spec->opts; p && p->name; p++)
                if (p->shortname == a[1]) { o = p; break; }
            if (!o) die(EXIT_USAGE, "unknown option '-%c'; try --help", a[1]);
            if (a[2]) {
                if (o->kind == OPT_FLAG) die(EXIT_USAGE, "-%c takes no value", a[1]);
                val = a + 2;
            }
        }
        if (o->kind != OPT_FLAG && !val) {
            if (i + 1 >= argc) die(EXIT_USAGE, "--%s needs a value (%s)", o->name, o->metavar ? o->metavar : "ARG");
            val = argv[++i];
        }
        set_value(o, val);
    }
}
