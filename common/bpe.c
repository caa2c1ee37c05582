/* bpe.c - CLIP's byte-pair-encoding tokenizer; see bpe.h for the contract.
 *
 * Layout: text cleaning (HTML unescape, whitespace, lowercase) on UTF-8 with
 * the generated tables of bpe_tables.h; the vocabulary as one string arena;
 * merges as an open-addressing table (left id, right id) -> (rank, merged id);
 * BPE on symbol ids with a linked list and a min-heap of candidate pairs;
 * PCRE2 for the pre-tokeniser; a bounded, append-only word cache that readers
 * use without a lock.
 */
#define _GNU_SOURCE
#define PCRE2_CODE_UNIT_WIDTH 8
#include "bpe.h"
#include "bpe_tables.h"
#include "input.h"
#include <pcre2.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define N_MERGES (49152 - 256 - 2)
#define VOCAB_BITS 17 /* hash table sizes: 2^17 slots for ~49k entries */
#define PAIR_BITS 17
#define CACHE_BITS 16 /* 65536 slots, filled to half at most */
#define CACHE_ARENA (4u << 20)
#define CACHE_MAXKEY 64 /* longer pieces are not cached */

typedef struct {
    uint64_t key; /* (a << 32 | b) + 1; 0 = empty */
    int32_t rank, merged;
} pair_slot;

typedef struct {
    uint64_t h;   /* hash | 1, published last (release); 0 = empty */
    uint32_t off; /* into cache arena: key bytes, then ids (4-aligned) */
    uint16_t klen, nid;
} cache_slot;

struct bpe {
    char *names; /* arena of NUL-terminated vocabulary strings */
    uint32_t name_off[BPE_VOCAB_SIZE];
    int32_t *vocab_tab; /* 2^VOCAB_BITS: id + 1, 0 = empty (lookup by string) */
    pair_slot *pairs;   /* 2^PAIR_BITS */
    int byte_id[256];   /* symbol id of byte v; + 256 for the "</w>" form */
    int sym_byte[324];  /* code point of a byte symbol -> byte value, -1 */
    int heap_ok;        /* every merge's halves exist before it: heap BPE is exact */
    pcre2_code *re;
    cache_slot *cache;
    char *cache_arena;
    uint32_t cache_used, cache_n;
    pthread_mutex_t cache_lock; /* writers only */
};

/* ------------------------------------------------------------ UTF-8 */

/* Decode one code point of valid UTF-8 at s; *len = its length. */
static uint32_t utf8_get(const unsigned char *s, int *len) {
    if (s[0] < 0x80) {
        *len = 1;
        return s[0];
    }
    if (s[0] < 0xE0) {
        *len = 2;
        return (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
    }
    if (s[0] < 0xF0) {
        *len = 3;
        return (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
    }
    *len = 4;
    return (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 | (uint32_t)(s[2] & 0x3F) << 6 |
           (s[3] & 0x3F);
}

static int utf8_put(char *o, uint32_t c) {
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | c >> 6);
        o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | c >> 12);
        o[1] = (char)(0x80 | (c >> 6 & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | c >> 18);
    o[1] = (char)(0x80 | (c >> 12 & 0x3F));
    o[2] = (char)(0x80 | (c >> 6 & 0x3F));
    o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

static void buf_cp(buf_t *b, uint32_t c) {
    char t[4];
    buf_put(b, t, (size_t)utf8_put(t, c));
}

static int in_ranges(const uint32_t (*r)[2], size_t n, uint32_t c) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        if (c < r[m][0])
            hi = m;
        else if (c > r[m][1])
            lo = m + 1;
        else
            return 1;
    }
    return 0;
}
#define IN_TABLE(t, c) in_ranges(t, sizeof t / sizeof t[0], c)

/* ------------------------------------------------------------ cleaning */

static const char *entity_find(const char *name, size_t len) {
    size_t lo = 0, hi = sizeof bpe_entities / sizeof bpe_entities[0];
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        const char *t = bpe_entities[m].name;
        int c = strncmp(t, name, len);
        if (c == 0 && t[len]) c = 1; /* table name is longer */
        if (c == 0) return bpe_entities[m].text;
        if (c > 0)
            hi = m;
        else
            lo = m + 1;
    }
    return NULL;
}

static void charref_put(buf_t *o, uint32_t num) {
    for (size_t i = 0; i < sizeof bpe_charref_fix / sizeof bpe_charref_fix[0]; i++)
        if (bpe_charref_fix[i].num == num) {
            buf_puts(o, bpe_charref_fix[i].text);
            return;
        }
    if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) {
        buf_cp(o, 0xFFFD);
        return;
    }
    size_t lo = 0, hi = sizeof bpe_charref_drop / sizeof bpe_charref_drop[0];
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        if (bpe_charref_drop[m] == num) return;
        if (bpe_charref_drop[m] < num)
            lo = m + 1;
        else
            hi = m;
    }
    buf_cp(o, num);
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Python's html.unescape: every match of
 *   &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)
 * is replaced, scanning left to right without rescanning replacements. */
static void html_unescape(const char *s, size_t n, buf_t *o) {
    size_t i = 0;
    if (!n) return;
    while (i < n) {
        const char *amp = memchr(s + i, '&', n - i);
        if (!amp) {
            buf_put(o, s + i, n - i);
            break;
        }
        buf_put(o, s + i, (size_t)(amp - (s + i)));
        i = (size_t)(amp - s);
        size_t j = i + 1;
        if (j < n && s[j] == '#') {
            size_t k = j + 1;
            int base = 10;
            if (k < n && (s[k] == 'x' || s[k] == 'X') && k + 1 < n && hexval((unsigned char)s[k + 1]) >= 0) {
                base = 16;
                k++;
            } else if (!(k < n && s[k] >= '0' && s[k] <= '9')) {
                buf_put(o, "&", 1); /* no reference starts here */
                i++;
                continue;
            }
            uint32_t num = 0;
            int d;
            while (k < n && (d = hexval((unsigned char)s[k])) >= 0 && d < base) {
                num = num * (uint32_t)base + (uint32_t)d;
                if (num > 0x110000) num = 0x110000; /* saturate: all of these give U+FFFD */
                k++;
            }
            if (k < n && s[k] == ';') k++;
            charref_put(o, num);
            i = k;
            continue;
        }
        size_t k = j, ncp = 0, ascii = 0; /* ascii: length of the all-ASCII prefix */
        while (k < n && ncp < 32 && !memchr("\t\n\f <&#;", s[k], 9)) {
            unsigned char c = (unsigned char)s[k];
            if (c < 0x80 && ascii == k - j) ascii++;
            k += c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
            ncp++;
        }
        if (ncp == 0) {
            buf_put(o, "&", 1);
            i++;
            continue;
        }
        if (k < n && s[k] == ';') {
            if (ascii == k - j) ascii++;
            k++;
        }
        const char *t = entity_find(s + j, k - j);
        if (t) {
            buf_puts(o, t);
            i = k;
            continue;
        }
        /* longest proper prefix of at least 2 characters that is a name */
        size_t len = k - j - 1;
        if (len > ascii) len = ascii;
        for (; len >= 2; len--)
            if ((t = entity_find(s + j, len))) break;
        if (t && len >= 2) {
            buf_puts(o, t);
            buf_put(o, s + j + len, k - j - len);
        } else {
            buf_put(o, s + i, k - i);
        }
        i = k;
    }
}

static int is_space(uint32_t c) {
    if (c < 0x80) return c == ' ' || (c >= 9 && c <= 13) || (c >= 0x1C && c <= 0x1F);
    return IN_TABLE(bpe_space, c);
}

static uint32_t lower1(uint32_t c) {
    if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
    size_t lo = 0, hi = sizeof bpe_lower / sizeof bpe_lower[0];
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        if (bpe_lower[m][0] == c) return bpe_lower[m][1];
        if (bpe_lower[m][0] < c)
            lo = m + 1;
        else
            hi = m;
    }
    return c;
}

/* CPython's Final_Sigma test for the capital sigma at cp[i]. */
static int final_sigma(const uint32_t *cp, size_t n, size_t i) {
    size_t j = i;
    while (j > 0 && IN_TABLE(bpe_ignorable, cp[j - 1])) j--;
    if (j == 0 || !IN_TABLE(bpe_cased, cp[j - 1])) return 0;
    for (j = i + 1; j < n && IN_TABLE(bpe_ignorable, cp[j]); j++) {
    }
    return j == n || !IN_TABLE(bpe_cased, cp[j]);
}

char *bpe_clean(const char *text, err_t *e) {
    size_t n = strlen(text), bad = 0;
    if (!utf8_valid(text, n, &bad)) {
        err_set(e, EXIT_DATA, "text is not valid UTF-8 (byte %zu)", bad);
        return NULL;
    }
    buf_t u1 = {0}, u2 = {0};
    const char *s = text;
    if (memchr(text, '&', n)) {
        html_unescape(text, n, &u1);
        html_unescape(u1.s, u1.len, &u2);
        s = u2.s;
        n = u2.len;
    }
    /* whitespace runs -> one space, stripped; into code points */
    uint32_t *cp = xmalloc((n + 1) * sizeof *cp);
    size_t m = 0;
    int pending = 0;
    for (size_t i = 0; i < n;) {
        int len;
        uint32_t c = utf8_get((const unsigned char *)s + i, &len);
        i += (size_t)len;
        if (is_space(c)) {
            pending = m > 0;
            continue;
        }
        if (pending) {
            cp[m++] = ' ';
            pending = 0;
        }
        cp[m++] = c;
    }
    buf_free(&u1);
    buf_free(&u2);
    buf_t o = {0};
    buf_reserve(&o, m * 2 + 1);
    for (size_t i = 0; i < m; i++) {
        uint32_t c = cp[i];
        if (c == 0x130) {
            buf_cp(&o, 'i');
            buf_cp(&o, 0x307);
        } else if (c == 0x3A3)
            buf_cp(&o, final_sigma(cp, m, i) ? 0x3C2 : 0x3C3);
        else
            buf_cp(&o, lower1(c));
    }
    buf_put(&o, "", 1);
    free(cp);
    return o.s;
}

/* ------------------------------------------------------------ tables */

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static int vocab_find(const bpe_t *b, const char *s, size_t n) {
    uint32_t mask = (1u << VOCAB_BITS) - 1, h = (uint32_t)hash_bytes(s, n) & mask;
    for (;; h = (h + 1) & mask) {
        int32_t v = b->vocab_tab[h];
        if (!v) return -1;
        const char *t = b->names + b->name_off[v - 1];
        if (!strncmp(t, s, n) && !t[n]) return v - 1;
    }
}

static void vocab_add(bpe_t *b, int id) {
    const char *s = b->names + b->name_off[id];
    uint32_t mask = (1u << VOCAB_BITS) - 1, h = (uint32_t)hash_bytes(s, strlen(s)) & mask;
    for (;; h = (h + 1) & mask) {
        int32_t v = b->vocab_tab[h];
        if (!v || !strcmp(b->names + b->name_off[v - 1], s)) {
            b->vocab_tab[h] = id + 1;
            return;
        } /* last wins */
    }
}

static inline uint32_t pair_hash(uint64_t key) {
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> (64 - PAIR_BITS));
}

/* rank of (a, c), -1 if none; *merged = the id of a+c */
static inline int pair_get(const bpe_t *b, int a, int c, int *merged) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)c) + 1;
    uint32_t mask = (1u << PAIR_BITS) - 1;
    for (uint32_t h = pair_hash(key);; h = (h + 1) & mask) {
        const pair_slot *p = &b->pairs[h];
        if (p->key == key) {
            *merged = p->merged;
            return p->rank;
        }
        if (!p->key) return -1;
    }
}

static void pair_put(bpe_t *b, int a, int c, int rank, int merged) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)c) + 1;
    uint32_t mask = (1u << PAIR_BITS) - 1;
    for (uint32_t h = pair_hash(key);; h = (h + 1) & mask) {
        pair_slot *p = &b->pairs[h];
        if (!p->key || p->key == key) { /* a repeated pair: the last rank wins, as in dict(zip(...)) */
            p->key = key;
            p->rank = rank;
            p->merged = merged;
            return;
        }
    }
}

int bpe_merge_rank(const bpe_t *b, int a, int c) {
    int m;
    if (a < 0 || c < 0 || a >= BPE_VOCAB_SIZE || c >= BPE_VOCAB_SIZE) return -1;
    return pair_get(b, a, c, &m);
}

const char *bpe_token_str(const bpe_t *b, int id) {
    return id >= 0 && id < BPE_VOCAB_SIZE ? b->names + b->name_off[id] : NULL;
}

int bpe_token_id(const bpe_t *b, const char *tok) { return vocab_find(b, tok, strlen(tok)); }

/* ------------------------------------------------------------ load */

/* The pre-tokeniser.  \s is written out as Unicode White_Space (what the
 * `regex` module's \s is); after cleaning only ' ' of it can occur. */
static const char PATTERN[] =
    "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|"
    "[^\\t\\n\\x0b\\f\\r\\x20\\x85\\xa0\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{"
    "3000}"
    "\\p{L}\\p{N}]+";

bpe_t *bpe_load(const char *path, err_t *e) {
    input_t *in = in_open(path, e);
    if (!in) return NULL;
    bpe_t *b = xcalloc(1, sizeof *b);
    pthread_mutex_init(&b->cache_lock, NULL);
    buf_t names = {0};
    int *split = xmalloc(N_MERGES * sizeof *split); /* byte offset of the space in each merge */
    uint32_t *moff = xmalloc(N_MERGES * sizeof *moff);

    /* byte symbols: printable Latin-1 as itself, the rest 256 + n in byte order */
    int order[256], cp_of[256], n = 0, extra = 0;
    for (int v = 0; v < 256; v++) {
        int keep = (v >= 0x21 && v <= 0x7E) || (v >= 0xA1 && v <= 0xAC) || (v >= 0xAE);
        cp_of[v] = keep ? v : 256 + extra++;
        if (keep) order[n++] = v;
    }
    for (int v = 0; v < 256; v++)
        if (cp_of[v] >= 256) order[n++] = v;
    for (int i = 0; i < 324; i++) b->sym_byte[i] = -1;
    for (int v = 0; v < 256; v++) b->sym_byte[cp_of[v]] = v;
    int id = 0;
    for (int w = 0; w < 2; w++)
        for (int i = 0; i < 256; i++, id++) {
            b->name_off[id] = (uint32_t)names.len;
            buf_cp(&names, (uint32_t)cp_of[order[i]]);
            buf_puts(&names, w ? "</w>" : "");
            buf_put(&names, "", 1);
            if (!w) b->byte_id[order[i]] = id;
        }

    /* merges: header line, then N_MERGES lines "a b" */
    char *line;
    size_t len;
    int rc = in_getline(in, &line, &len, e);
    for (int k = 0; rc == 1 && k < N_MERGES; k++) {
        rc = in_getline(in, &line, &len, e);
        if (rc != 1) break;
        char *sp = memchr(line, ' ', len);
        if (!sp || sp == line || sp == line + len - 1 || memchr(sp + 1, ' ', len - (size_t)(sp - line) - 1) ||
            !utf8_valid(line, len, NULL)) {
            err_set(e, EXIT_MODEL, "%s: line %lld: not a merge \"a b\"", path, in_lineno(in));
            rc = -1;
            break;
        }
        moff[k] = (uint32_t)names.len;
        split[k] = (int)(sp - line);
        b->name_off[id++] = (uint32_t)names.len;
        buf_put(&names, line, (size_t)(sp - line));
        buf_put(&names, sp + 1, len - (size_t)(sp - line) - 1);
        buf_put(&names, "", 1);
    }
    if (rc == 0 || (rc == 1 && id != 512 + N_MERGES))
        err_set(e, EXIT_MODEL, "%s: ends after %d merges; a CLIP merges file has at least %d", path,
                id > 512 ? id - 512 : 0, N_MERGES);
    in_close(in);
    if (id != 512 + N_MERGES) goto fail;
    b->name_off[id++] = (uint32_t)names.len;
    buf_put(&names, "<|startoftext|>", 16);
    b->name_off[id++] = (uint32_t)names.len;
    buf_put(&names, "<|endoftext|>", 14);
    b->names = names.s;
    names.s = NULL;

    b->vocab_tab = xcalloc((size_t)1 << VOCAB_BITS, sizeof *b->vocab_tab);
    for (int i = 0; i < BPE_VOCAB_SIZE; i++) vocab_add(b, i);
    b->pairs = xcalloc((size_t)1 << PAIR_BITS, sizeof *b->pairs);
    /* born[id]: the rank that first creates id (-1 for byte symbols) */
    int *born = xmalloc(BPE_VOCAB_SIZE * sizeof *born);
    for (int i = 0; i < BPE_VOCAB_SIZE; i++) born[i] = i < 512 ? -1 : N_MERGES;
    b->heap_ok = 1;
    for (int k = 0; k < N_MERGES; k++) {
        const char *s = b->names + moff[k];
        size_t total = strlen(s);
        int a = vocab_find(b, s, (size_t)split[k]);
        int c = vocab_find(b, s + split[k], total - (size_t)split[k]);
        int m = vocab_find(b, s, total);
        if (a < 0 || c < 0) {
            b->heap_ok = 0;
            continue;
        } /* can never apply */
        if (born[a] >= k || born[c] >= k) b->heap_ok = 0;
        if (born[m] > k) born[m] = k;
        pair_put(b, a, c, k, m);
    }
    free(born);

    int ecode;
    PCRE2_SIZE eoff;
    b->re = pcre2_compile((PCRE2_SPTR)PATTERN, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS,
                          &ecode, &eoff, NULL);
    if (!b->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ecode, msg, sizeof msg);
        err_set(e, EXIT_INTERNAL, "tokenizer pattern: %s at %zu", (char *)msg, (size_t)eoff);
        goto fail;
    }
    pcre2_jit_compile(b->re, PCRE2_JIT_COMPLETE); /* optional: the interpreter is used if this fails */
    b->cache = xcalloc((size_t)1 << CACHE_BITS, sizeof *b->cache);
    b->cache_arena = xmalloc(CACHE_ARENA);
    free(split);
    free(moff);
    return b;
fail:
    buf_free(&names);
    free(split);
    free(moff);
    bpe_free(b);
    return NULL;
}

void bpe_free(bpe_t *b) {
    if (!b) return;
    free(b->names);
    free(b->vocab_tab);
    free(b->pairs);
    if (b->re) pcre2_code_free(b->re);
    free(b->cache);
    free(b->cache_arena);
    pthread_mutex_destroy(&b->cache_lock);
    free(b);
}

/* ------------------------------------------------------------ BPE */

/* Plain reference: each round finds the lowest-ranked adjacent pair and merges
 * every occurrence of it left to right.  O(n^2). */
static int bpe_rounds(const bpe_t *b, int *w, int n) {
    while (n > 1) {
        int best = -1, first = 0, second = 0, m;
        for (int i = 0; i + 1 < n; i++) {
            int r = pair_get(b, w[i], w[i + 1], &m);
            if (r >= 0 && (best < 0 || r < best)) {
                best = r;
                first = w[i];
                second = w[i + 1];
            }
        }
        if (best < 0) break;
        pair_get(b, first, second, &m);
        int o = 0;
        for (int i = 0; i < n;) {
            if (i + 1 < n && w[i] == first && w[i + 1] == second) {
                w[o++] = m;
                i += 2;
            } else
                w[o++] = w[i++];
        }
        n = o;
    }
    return n;
}

static void heap_push(uint64_t *h, int *n, uint64_t v) {
    int i = (*n)++;
    while (i > 0 && h[(i - 1) / 2] > v) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = v;
}

static uint64_t heap_pop(uint64_t *h, int *n) {
    uint64_t top = h[0], v = h[--*n];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && h[c + 1] < h[c]) c++;
        if (h[c] >= v) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = v;
    return top;
}

/* The same result in O(n log n): candidate pairs (rank, left position) in a
 * min-heap over a linked list of symbols.  Exact because a merge's result
 * only forms pairs of higher rank (checked at load: heap_ok), so all pairs of
 * one rank are merged, left to right, before any later rank - the rounds. */
static int bpe_heap(const bpe_t *b, int *w, int n) {
    if (n < 2) return n;
    int *prv = xmalloc((size_t)n * 2 * sizeof *prv), *nxt = prv + n;
    uint64_t *h = xmalloc((size_t)n * 3 * sizeof *h);
    int nh = 0, m;
    for (int i = 0; i < n; i++) {
        prv[i] = i - 1;
        nxt[i] = i + 1 < n ? i + 1 : -1;
        int r = i + 1 < n ? pair_get(b, w[i], w[i + 1], &m) : -1;
        if (r >= 0) heap_push(h, &nh, (uint64_t)r << 32 | (uint32_t)i);
    }
    while (nh) {
        uint64_t top = heap_pop(h, &nh);
        int r = (int)(top >> 32), i = (int)(uint32_t)top;
        if (w[i] < 0 || nxt[i] < 0 || pair_get(b, w[i], w[nxt[i]], &m) != r) continue; /* stale */
        int j = nxt[i];
        w[i] = m;
        w[j] = -1;
        nxt[i] = nxt[j];
        if (nxt[j] >= 0) prv[nxt[j]] = i;
        int rr;
        if (prv[i] >= 0 && (rr = pair_get(b, w[prv[i]], w[i], &m)) >= 0)
            heap_push(h, &nh, (uint64_t)rr << 32 | (uint32_t)prv[i]);
        if (nxt[i] >= 0 && (rr = pair_get(b, w[i], w[nxt[i]], &m)) >= 0)
            heap_push(h, &nh, (uint64_t)rr << 32 | (uint32_t)i);
    }
    int o = 0;
    for (int i = 0; i >= 0; i = nxt[i]) w[o++] = w[i];
    free(prv);
    free(h);
    return o;
}

/* Symbols of the piece into w (n entries), BPE, result in w; returns count. */
static int bpe_piece(const bpe_t *b, const unsigned char *s, size_t n, int *w, int algo) {
    for (size_t i = 0; i < n; i++) w[i] = b->byte_id[s[i]];
    w[n - 1] += 256; /* the "</w>" form */
    return algo == 1 || !b->heap_ok ? bpe_rounds(b, w, (int)n) : bpe_heap(b, w, (int)n);
}

int bpe_word(const bpe_t *b, const char *bytes, size_t n, int *ids, int cap, int algo) {
    if (n == 0) return 0;
    int *w = xmalloc(n * sizeof *w);
    int k = bpe_piece(b, (const unsigned char *)bytes, n, w, algo);
    memcpy(ids, w, (size_t)(k < cap ? k : cap) * sizeof *ids);
    free(w);
    return k;
}

/* ------------------------------------------------------------ cache */

static int cache_get(bpe_t *b, const char *key, size_t klen, uint64_t h, int *out) {
    uint32_t mask = (1u << CACHE_BITS) - 1;
    for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
        cache_slot *c = &b->cache[i];
        uint64_t ch = __atomic_load_n(&c->h, __ATOMIC_ACQUIRE);
        if (!ch) return -1;
        if (ch == h && c->klen == klen && !memcmp(b->cache_arena + c->off, key, klen)) {
            memcpy(out, b->cache_arena + c->off + ((klen + 3) & ~3u), c->nid * sizeof *out);
            return c->nid;
        }
    }
}

static void cache_put(bpe_t *b, const char *key, size_t klen, uint64_t h, const int *ids, int nid) {
    uint32_t need = (uint32_t)((klen + 3) & ~3u) + (uint32_t)nid * 4, mask = (1u << CACHE_BITS) - 1;
    pthread_mutex_lock(&b->cache_lock);
    if (b->cache_n < (1u << (CACHE_BITS - 1)) && b->cache_used + need <= CACHE_ARENA) {
        uint32_t i = (uint32_t)h & mask;
        for (; b->cache[i].h; i = (i + 1) & mask)
            if (b->cache[i].h == h && b->cache[i].klen == klen &&
                !memcmp(b->cache_arena + b->cache[i].off, key, klen))
                goto done; /* another thread was first */
        cache_slot *c = &b->cache[i];
        c->off = b->cache_used;
        c->klen = (uint16_t)klen;
        c->nid = (uint16_t)nid;
        memcpy(b->cache_arena + c->off, key, klen);
        memcpy(b->cache_arena + c->off + ((klen + 3) & ~3u), ids, (size_t)nid * sizeof *ids);
        b->cache_used += need;
        b->cache_n++;
        __atomic_store_n(&c->h, h, __ATOMIC_RELEASE);
    }
done:
    pthread_mutex_unlock(&b->cache_lock);
}

/* ------------------------------------------------------------ encode */

/* Encode; stops early once more than `stop` ids are known (stop < 0: never). */
static int encode(bpe_t *b, const char *text, int *ids, int cap, int stop, err_t *e) {
    char *s = bpe_clean(text, e);
    if (!s) return -1;
    size_t n = strlen(s), off = 0;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(b->re, NULL);
    int count = 0, local[CACHE_MAXKEY], *w = local;
    size_t wcap = CACHE_MAXKEY;
    while (off < n && (stop < 0 || count <= stop)) {
        int rc = pcre2_match(b->re, (PCRE2_SPTR)s, n, off, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            err_set(e, EXIT_INTERNAL, "tokenizer pattern: %s", (char *)msg);
            count = -1;
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        const char *p = s + ov[0];
        size_t len = ov[1] - ov[0];
        off = ov[1] > ov[0] ? ov[1] : ov[0] + 1; /* (the pattern cannot match empty) */
        int k;
        if (len == 15 && !memcmp(p, "<|startoftext|>", 15)) {
            w[0] = BPE_SOT;
            k = 1;
        } else if (len == 13 && !memcmp(p, "<|endoftext|>", 13)) {
            w[0] = BPE_EOT;
            k = 1;
        } else {
            if (len > wcap) {
                if (w != local) free(w);
                w = xmalloc(len * sizeof *w);
                wcap = len;
            }
            uint64_t h = len <= CACHE_MAXKEY ? hash_bytes(p, len) | 1 : 0;
            if (!h || (k = cache_get(b, p, len, h, w)) < 0) {
                k = bpe_piece(b, (const unsigned char *)p, len, w, 0);
                if (h) cache_put(b, p, len, h, w, k);
            }
        }
        for (int i = 0; i < k; i++, count++)
            if (count < cap) ids[count] = w[i];
    }
    if (w != local) free(w);
    pcre2_match_data_free(md);
    free(s);
    return count;
}

int bpe_encode(bpe_t *b, const char *text, int *ids, int cap, err_t *e) {
    return encode(b, text, ids, cap, -1, e);
}

int clip_tokenize(bpe_t *b, const char *text, int context, int *out, int truncate, err_t *e) {
    if (context < 2) return err_set(e, EXIT_USAGE, "context length %d is too small", context), -1;
    memset(out, 0, (size_t)context * sizeof *out);
    int room = context - 2;
    int n = encode(b, text, out + 1, room, room, e);
    if (n < 0) return -1;
    if (n > room && !truncate) {
        n = encode(b, text, NULL, 0, -1, e);
        err_set(e, EXIT_DATA, "text is too long for context length %d (%d tokens with SOT and EOT)", context,
                n + 2);
        memset(out, 0, (size_t)context * sizeof *out);
        return -1;
    }
    if (n > room) n = room;
    out[0] = BPE_SOT;
    out[n + 1] = BPE_EOT;
    return n + 1;
}

/* ------------------------------------------------------------ decode */

char *bpe_decode(const bpe_t *b, const int *ids, int n, err_t *e) {
    buf_t raw = {0};
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= BPE_VOCAB_SIZE) {
            buf_free(&raw);
            err_set(e, EXIT_DATA, "token id %d (at %d) is outside the vocabulary", ids[i], i);
            return NULL;
        }
        const unsigned char *s = (const unsigned char *)b->names + b->name_off[ids[i]];
        while (*s) {
            int len;
            uint32_t c = utf8_get(s, &len);
            s += len;
            if (c < 324 && b->sym_byte[c] >= 0) {
                char ch = (char)b->sym_byte[c];
                buf_put(&raw, &ch, 1);
            } else {
                buf_cp(&raw, c);
            }
        }
    }
    /* invalid UTF-8 -> U+FFFD per maximal subpart (Python's errors="replace"),
     * then "</w>" -> " " (all ASCII, so the order of the two does not matter) */
    buf_t o = {0};
    const unsigned char *s = (const unsigned char *)raw.s;
    size_t i = 0;
    while (i < raw.len) {
        if (i + 4 <= raw.len && !memcmp(s + i, "</w>", 4)) {
            buf_put(&o, " ", 1);
            i += 4;
            continue;
        }
        unsigned c = s[i];
        size_t need = c < 0x80                   ? 1
                      : (c >= 0xC2 && c <= 0xDF) ? 2
                      : (c >= 0xE0 && c <= 0xEF) ? 3
                      : (c >= 0xF0 && c <= 0xF4) ? 4
                                                 : 0;
        size_t k = 1;
        if (need > 1) {
            for (; k < need && i + k < raw.len; k++) {
                unsigned d = s[i + k];
                unsigned lo = 0x80, hi = 0xBF;
                if (k == 1 && c == 0xE0) lo = 0xA0;
                if (k == 1 && c == 0xED) hi = 0x9F;
                if (k == 1 && c == 0xF0) lo = 0x90;
                if (k == 1 && c == 0xF4) hi = 0x8F;
                if (d < lo || d > hi) break;
            }
        }
        if (need && k == need)
            buf_put(&o, s + i, need);
        else
            buf_cp(&o, 0xFFFD);
        i += need ? k : 1;
    }
    buf_put(&o, "", 1);
    buf_free(&raw);
    return o.s;
}
