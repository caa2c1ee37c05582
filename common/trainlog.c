/* trainlog.c - see trainlog.h. */
#include "trainlog.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "input.h"

int trainlog_find(const trainlog_t *t, const char *key) {
    for (int k = 0; k < t->nk; k++)
        if (!strcmp(t->key[k], key)) return k;
    return -1;
}

void trainlog_free(trainlog_t *t) {
    for (int k = 0; k < t->nk; k++) free(t->key[k]), free(t->col[k]);
    free(t->key);
    free(t->col);
    memset(t, 0, sizeof *t);
}

static void grow_rows(trainlog_t *t) {
    if (t->n < t->cap) return;
    t->cap = t->cap ? 2 * t->cap : 64;
    for (int k = 0; k < t->nk; k++) t->col[k] = xrealloc(t->col[k], (size_t)t->cap * sizeof(double));
}

static int add_line(trainlog_t *t, const char *s, size_t len, const char *name, long lineno, err_t *e) {
    if (t->n >= TRAINLOG_MAX_LINES)
        return err_set(e, EXIT_DATA, "%s: more than %d lines", name, TRAINLOG_MAX_LINES);
    cJSON *j = cJSON_ParseWithLength(s, len);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return err_set(e, EXIT_DATA, "%s:%ld: not a JSON object (a training log has one object a line)", name, lineno);
    }
    grow_rows(t);
    for (int k = 0; k < t->nk; k++) t->col[k][t->n] = NAN;
    for (cJSON *c = j->child; c; c = c->next) {
        if (!cJSON_IsNumber(c) || !c->string) continue;
        int k = trainlog_find(t, c->string);
        if (k < 0) {
            if (t->nk >= TRAINLOG_MAX_KEYS) {
                cJSON_Delete(j);
                return err_set(e, EXIT_DATA, "%s:%ld: more than %d numeric keys", name, lineno, TRAINLOG_MAX_KEYS);
            }
            k = t->nk++;
            t->key = xrealloc(t->key, (size_t)t->nk * sizeof *t->key);
            t->col = xrealloc(t->col, (size_t)t->nk * sizeof *t->col);
            t->key[k] = xstrdup(c->string);
            t->col[k] = xmalloc((size_t)t->cap * sizeof(double));
            for (int i = 0; i <= t->n; i++) t->col[k][i] = NAN;
        }
        t->col[k][t->n] = c->valuedouble;
    }
    cJSON_Delete(j);
    t->n++;
    return 0;
}

int trainlog_parse(trainlog_t *t, const char *text, size_t len, const char *name, err_t *e) {
    memset(t, 0, sizeof *t);
    long lineno = 0;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && text[j] != '\n') j++;
        lineno++;
        size_t a = i, b = j;
        while (a < b && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r')) a++;
        while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\r')) b--;
        if (b > a && add_line(t, text + a, b - a, name, lineno, e)) {
            trainlog_free(t);
            return e->code;
        }
        i = j + 1;
    }
    return 0;
}

int trainlog_load(trainlog_t *t, const char *path, err_t *e) {
    memset(t, 0, sizeof *t);
    input_t *in = in_open(path, e);
    if (!in) return e->code;
    buf_t b = {0};
    char *line;
    size_t n;
    int rc;
    while ((rc = in_getline(in, &line, &n, e)) > 0) {
        buf_put(&b, line, n);
        buf_put(&b, "\n", 1);
    }
    in_close(in);
    if (rc < 0) {
        buf_free(&b);
        return e->code;
    }
    rc = trainlog_parse(t, b.s ? b.s : "", b.len, path, e);
    buf_free(&b);
    return rc;
}
