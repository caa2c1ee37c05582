/* fuzz_keylist.c - libFuzzer target for key-id files (keylist.h), the
 * parser behind qd-extract --key-file/--exclude-key-file and clip-train
 * --val-keys.
 *
 * Properties, besides "no crash, no sanitizer report": the parser returns 0
 * or EXIT_DATA, a refusal has a message naming the buffer and a line; on
 * success every key in the set is non-empty, has no byte below 0x21, no
 * quote, backslash or DEL, does not start with '#', and appears in the input;
 * the count of key lines is at least the set's size; and parsing the same
 * input twice into one set adds nothing new.
 */
#include "keylist.h"
#include <stdlib.h>
#include <string.h>

static int memmem_ok(const unsigned char *d, size_t n, const char *k) {
    size_t kl = strlen(k);
    if (kl > n) return 0;
    for (size_t i = 0; i + kl <= n; i++)
        if (!memcmp(d + i, k, kl)) return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    strset_t s = {0};
    err_t e = {0};
    long long n = -1;
    int rc = keylist_parse((const char *)data, size, "in", &s, &n, &e);
    if (rc) {
        if (rc != EXIT_DATA || strncmp(e.msg, "in:", 3)) abort();
        strset_free(&s);
        return 0;
    }
    if (n < (long long)s.n) abort();
    for (size_t i = 0; i < s.cap; i++) {
        const char *k = s.slot[i];
        if (!k) continue;
        if (!*k || *k == '#' || !memmem_ok(data, size, k)) abort();
        for (const char *q = k; *q; q++)
            if ((unsigned char)*q < 0x21 || *q == '"' || *q == '\\' || *q == 0x7f) abort();
    }
    size_t before = s.n;
    if (keylist_parse((const char *)data, size, "in", &s, &n, &e) || s.n != before) abort();
    strset_free(&s);
    return 0;
}
