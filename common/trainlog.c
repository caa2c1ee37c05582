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

/* The whole file (.gz transparent) as lines joined by '\n'. */
static int slurp(const char *path, buf_t *b, err_t *e) {
    input_t *in = in_open(path, e);
    if (!in) return e->code;
    char *line;
    size_t n;
    int rc;
    while ((rc = in_getline(in, &line, &n, e)) > 0) {
        buf_put(b, line, n);
        buf_put(b, "\n", 1);
    }
    in_close(in);
    if (rc < 0) {
        buf_free(b);
        return e->code;
    }
    return 0;
}

int trainlog_load(trainlog_t *t, const char *path, err_t *e) {
    memset(t, 0, sizeof *t);
    buf_t b = {0};
    if (slurp(path, &b, e)) return e->code;
    int rc = trainlog_parse(t, b.s ? b.s : "", b.len, path, e);
    buf_free(&b);
    return rc;
}

/* ---- samples.ndjson ---- */

void trainsamples_free(trainsamples_t *t) {
    for (int i = 0; i < t->n; i++) {
        trainsample_t *s = &t->s[i];
        free(s->key_id), free(s->word);
        drawing_free(&s->drawing);
        for (int k = 0; k < s->ntop; k++) free(s->top[k]);
    }
    free(t->s);
    memset(t, 0, sizeof *t);
}

static int sample_line(trainsamples_t *t, sketch_t *sk, const char *s, size_t len, const char *name, long lineno,
                       err_t *e) {
    if (t->n >= TRAINSAMPLES_MAX) return err_set(e, EXIT_DATA, "%s:%ld: more than %d samples", name, lineno, TRAINSAMPLES_MAX);
    if (sketch_parse(sk, s, len, e)) return err_prefix(e, "%s:%ld", name, lineno);
    if (!sk->word || !sk->word[0]) return err_set(e, EXIT_DATA, "%s:%ld: no \"word\"", name, lineno);
    const cJSON *top = sketch_get(sk, "top"), *st = sketch_get(sk, "step");
    int nt = cJSON_IsArray(top) ? cJSON_GetArraySize(top) : -1;
    if (nt < 1 || nt > TRAINSAMPLES_TOP)
        return err_set(e, EXIT_DATA, "%s:%ld: \"top\" is not an array of 1 to %d predictions", name, lineno,
                       TRAINSAMPLES_TOP);
    if (st && !(cJSON_IsNumber(st) && st->valuedouble >= 0 && st->valuedouble < 9e15))
        return err_set(e, EXIT_DATA, "%s:%ld: \"step\" is not a non-negative number", name, lineno);
    trainsample_t x = {0};
    double sum = 0;
    for (int k = 0; k < nt; k++) {
        const cJSON *o = cJSON_GetArrayItem(top, k), *w = cJSON_GetObjectItemCaseSensitive(o, "word"),
                    *p = cJSON_GetObjectItemCaseSensitive(o, "p");
        const char *why = !cJSON_IsObject(o)                            ? "is not an object"
                          : !cJSON_IsString(w) || !w->valuestring[0]    ? "has no \"word\" string"
                          : !cJSON_IsNumber(p) || !(p->valuedouble >= 0 && p->valuedouble <= 1)
                              ? "has no \"p\" number in [0, 1]"
                          : k && p->valuedouble > x.p[k - 1]             ? "is more probable than the one before it"
                                                                        : NULL;
        if (why) {
            for (int q = 0; q < x.ntop; q++) free(x.top[q]);
            return err_set(e, EXIT_DATA, "%s:%ld: \"top\"[%d] %s", name, lineno, k, why);
        }
        x.top[k] = xstrdup(w->valuestring);
        x.p[k] = p->valuedouble;
        x.ntop = k + 1;
        sum += p->valuedouble;
    }
    if (sum > 1 + 1e-4) {
        for (int q = 0; q < x.ntop; q++) free(x.top[q]);
        return err_set(e, EXIT_DATA, "%s:%ld: the \"top\" probabilities sum to %g, over 1", name, lineno, sum);
    }
    x.step = st ? (long long)st->valuedouble : -1;
    x.key_id = xstrdup(sk->key_id);
    x.word = xstrdup(sk->word);
    drawing_init(&x.drawing);
    drawing_copy(&x.drawing, &sk->drawing);
    t->s = xrealloc(t->s, (size_t)(t->n + 1) * sizeof *t->s);
    t->s[t->n++] = x;
    return 0;
}

int trainsamples_parse(trainsamples_t *t, const char *text, size_t len, const char *name, err_t *e) {
    memset(t, 0, sizeof *t);
    sketch_t sk;
    sketch_init(&sk);
    long lineno = 0;
    size_t i = 0;
    int rc = 0;
    while (i < len && !rc) {
        size_t j = i;
        while (j < len && text[j] != '\n') j++;
        lineno++;
        size_t a = i, b = j;
        while (a < b && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r')) a++;
        while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\r')) b--;
        if (b > a) rc = sample_line(t, &sk, text + a, b - a, name, lineno, e);
        i = j + 1;
    }
    sketch_free(&sk);
    if (rc) trainsamples_free(t);
    return rc;
}

int trainsamples_load(trainsamples_t *t, const char *path, err_t *e) {
    memset(t, 0, sizeof *t);
    buf_t b = {0};
    if (slurp(path, &b, e)) return e->code;
    int rc = trainsamples_parse(t, b.s ? b.s : "", b.len, path, e);
    buf_free(&b);
    return rc;
}
