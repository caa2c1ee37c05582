/* keylist.c - see keylist.h. */
#include "keylist.h"
#include "input.h"
#include <string.h>

#define KEYLIST_MAX_LINE 4096

int keylist_line(const char *line, size_t len, const char **key, size_t *klen, char shown[41]) {
    const char *a = line, *b = line + len;
    while (a < b && (*a == ' ' || *a == '\t' || *a == '\r')) a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r')) b--;
    if (a == b || *a == '#') return 0;
    for (const char *q = a; q < b; q++)
        if ((unsigned char)*q < 0x21 || *q == '"' || *q == '\\' || *q == 0x7f) {
            size_t m = 0;
            for (const char *t = a; t < b && m < 40; t++) shown[m++] = *t >= 0x20 && *t < 0x7f ? *t : '?';
            shown[m] = 0;
            return -1;
        }
    *key = a;
    *klen = (size_t)(b - a);
    return 1;
}

/* One line: add its key, or describe why it is not one. */
static int add_line(const char *line, size_t len, const char *name, long long lineno, strset_t *set, long long *n,
                    buf_t *tmp, err_t *e) {
    const char *k;
    size_t kl;
    char shown[41];
    int r = keylist_line(line, len, &k, &kl, shown);
    if (r < 0) return err_set(e, EXIT_DATA, "%s:%lld: '%s' is not a key_id (one key_id a line)", name, lineno, shown);
    if (r == 0) return 0;
    tmp->len = 0;
    buf_put(tmp, k, kl);
    buf_put(tmp, "", 1);
    strset_add(set, tmp->s);
    if (n) (*n)++;
    return 0;
}

int keylist_parse(const char *buf, size_t len, const char *name, strset_t *set, long long *n, err_t *e) {
    buf_t tmp = {0};
    long long lineno = 0;
    int rc = 0;
    if (n) *n = 0;
    for (size_t i = 0; i < len && !rc;) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t l = nl ? (size_t)(nl - (buf + i)) : len - i;
        lineno++;
        if (l > KEYLIST_MAX_LINE)
            rc = err_set(e, EXIT_DATA, "%s:%lld: line longer than %d bytes", name, lineno, KEYLIST_MAX_LINE);
        else
            rc = add_line(buf + i, l, name, lineno, set, n, &tmp, e);
        i += l + 1;
    }
    buf_free(&tmp);
    return rc;
}

int keylist_read(const char *path, strset_t *set, long long *n, err_t *e) {
    input_t *in = in_open(path, e);
    if (!in) return e->code ? e->code : EXIT_IO;
    in_set_max_line(in, KEYLIST_MAX_LINE);
    buf_t tmp = {0};
    char *line;
    size_t len;
    int r = 0, rc = 0;
    if (n) *n = 0;
    while (!rc && (r = in_getline(in, &line, &len, e)) == 1) {
        rc = add_line(line, len, in_name(in), in_lineno(in), set, n, &tmp, e);
    }
    if (!rc && r < 0) rc = e->code ? e->code : EXIT_IO;
    buf_free(&tmp);
    in_close(in);
    return rc;
}
