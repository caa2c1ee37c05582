/* test_bpe.c - unit tests for common/bpe: every case of
 * tests/fixtures/bpe/golden.jsonl (ids, the 77-token tokenize() output with
 * truncation, decode), written by tests/gen_bpe_ref.py, an independent Python
 * implementation of CLIP's SimpleTokenizer; the heap BPE against the plain
 * rounds BPE on random and long words; invalid UTF-8; load errors; buffer
 * caps; the word cache under 8 threads.  Prints load time and tokens/s on
 * every QuickDraw word x 5 prompt templates ("# " lines). */
#define _GNU_SOURCE
#include "bpe.h"
#include "input.h"
#include "t.h"
#include "util.h"
#include <cJSON.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VOCAB "data/clip/bpe_simple_vocab_16e6.txt.gz"
#define GOLDEN "tests/fixtures/bpe/golden.jsonl"

typedef struct {
    char *group, *text, *decoded;
    int *ids, nids, ctx[BPE_CONTEXT], fits;
} gcase;

static gcase *cases;
static int ncases;

static int json_ints(const cJSON *a, int **out) {
    int n = cJSON_GetArraySize(a), i = 0;
    *out = xmalloc((size_t)(n ? n : 1) * sizeof **out);
    const cJSON *x;
    cJSON_ArrayForEach(x, a)(*out)[i++] = x->valueint;
    return n;
}

static int load_golden(void) {
    err_t e = {0};
    input_t *in = in_open(GOLDEN, &e);
    if (!in) return 0;
    char *line;
    size_t len;
    int cap = 0;
    while (in_getline(in, &line, &len, &e) == 1) {
        cJSON *j = cJSON_Parse(line);
        if (!j) continue;
        if (ncases == cap) cases = xrealloc(cases, (size_t)(cap = cap ? 2 * cap : 256) * sizeof *cases);
        gcase *c = &cases[ncases++];
        c->group = xstrdup(cJSON_GetObjectItem(j, "group")->valuestring);
        c->text = xstrdup(cJSON_GetObjectItem(j, "text")->valuestring);
        c->decoded = xstrdup(cJSON_GetObjectItem(j, "decoded")->valuestring);
        c->nids = json_ints(cJSON_GetObjectItem(j, "ids"), &c->ids);
        int *ctx, nc = json_ints(cJSON_GetObjectItem(j, "ctx"), &ctx);
        for (int i = 0; i < BPE_CONTEXT; i++) c->ctx[i] = i < nc ? ctx[i] : -1;
        free(ctx);
        c->fits = cJSON_IsTrue(cJSON_GetObjectItem(j, "fits"));
        cJSON_Delete(j);
    }
    in_close(in);
    return ncases;
}

static void print_ids(const char *what, const int *ids, int n) {
    printf("#   %s (%d):", what, n);
    for (int i = 0; i < n && i < 40; i++) printf(" %d", ids[i]);
    printf("%s\n", n > 40 ? " ..." : "");
}

/* ------------------------------------------------------------- golden */

static void test_golden(bpe_t *b) {
    CHECK(ncases >= 200, "golden file has %d cases (>= 200)", ncases);
    const char *groups[64];
    int ng = 0;
    for (int i = 0; i < ncases; i++) {
        int k = 0;
        while (k < ng && strcmp(groups[k], cases[i].group)) k++;
        if (k == ng && ng < 64) groups[ng++] = cases[i].group;
    }
    int *ids = xmalloc(100000 * sizeof *ids);
    for (int g = 0; g < ng; g++) {
        int n = 0, bad_ids = 0, bad_ctx = 0, bad_dec = 0, first = -1;
        for (int i = 0; i < ncases; i++) {
            gcase *c = &cases[i];
            if (strcmp(c->group, groups[g])) continue;
            n++;
            err_t e = {0};
            int k = bpe_encode(b, c->text, ids, 100000, &e);
            int ok = k == c->nids && !memcmp(ids, c->ids, (size_t)k * sizeof *ids);
            int out[BPE_CONTEXT];
            int eot = clip_tokenize(b, c->text, BPE_CONTEXT, out, 1, &e);
            int okc = eot >= 1 && !memcmp(out, c->ctx, sizeof out) && out[eot] == BPE_EOT;
            err_t e2 = {0};
            int strict = clip_tokenize(b, c->text, BPE_CONTEXT, out, 0, &e2);
            okc = okc && (c->fits ? strict == eot : strict == -1 && e2.code == EXIT_DATA);
            char *d = bpe_decode(b, c->ids, c->nids, &e);
            int okd = d && !strcmp(d, c->decoded);
            bad_ids += !ok;
            bad_ctx += !okc;
            bad_dec += !okd;
            if ((!ok || !okc || !okd) && first < 0) {
                first = i;
                printf("# first mismatch in group %s: text \"%s\"\n", groups[g], c->text);
                if (!ok) {
                    print_ids("got ", ids, k);
                    print_ids("want", c->ids, c->nids);
                }
                if (!okc) {
                    clip_tokenize(b, c->text, BPE_CONTEXT, out, 1, &e);
                    print_ids("tokenize got ", out, BPE_CONTEXT);
                    print_ids("tokenize want", c->ctx, BPE_CONTEXT);
                }
                if (!okd) printf("#   decode got \"%s\" want \"%s\"\n", d ? d : "(null)", c->decoded);
            }
            free(d);
        }
        CHECK(bad_ids == 0 && bad_ctx == 0 && bad_dec == 0,
              "golden %-12s %3d cases: ids %d wrong, tokenize %d wrong, decode %d wrong", groups[g], n,
              bad_ids, bad_ctx, bad_dec);
    }
    free(ids);
}

/* ------------------------------------------------------------- facts */

static void test_facts(bpe_t *b) {
    CHECK(!strcmp(bpe_token_str(b, 0), "!") && !strcmp(bpe_token_str(b, 256), "!</w>"), "ids 0 and 256");
    CHECK(!strcmp(bpe_token_str(b, 188), "\xc4\x80"), "id 188 is U+0100, the symbol of byte 0");
    CHECK(!strcmp(bpe_token_str(b, BPE_SOT), "<|startoftext|>") &&
              !strcmp(bpe_token_str(b, BPE_EOT), "<|endoftext|>"),
          "special tokens 49406, 49407");
    CHECK(bpe_token_str(b, -1) == NULL && bpe_token_str(b, BPE_VOCAB_SIZE) == NULL, "out-of-range ids");
    CHECK(bpe_token_id(b, "a</w>") == 320 && bpe_token_id(b, "dog</w>") == 1929 &&
              bpe_token_id(b, "cat</w>") == 2368 && bpe_token_id(b, "diagram</w>") == 22697,
          "a dog cat diagram");
    CHECK(bpe_token_id(b, "no-such-token") == -1, "unknown token string");
    CHECK(bpe_merge_rank(b, bpe_token_id(b, "i"), bpe_token_id(b, "n")) == 0, "first merge is 'i n'");
    CHECK(bpe_merge_rank(b, bpe_token_id(b, "jeky"), bpe_token_id(b, "ll</w>")) == 48893,
          "last merge used is 'jeky ll</w>'");
    CHECK(bpe_merge_rank(b, bpe_token_id(b, "ha"), bpe_token_id(b, "bib</w>")) == -1,
          "merge 48895 is not used");

    int out[BPE_CONTEXT];
    err_t e = {0};
    int eot = clip_tokenize(b, "a diagram", BPE_CONTEXT, out, 0, &e);
    CHECK(eot == 3 && out[0] == 49406 && out[1] == 320 && out[2] == 22697 && out[3] == 49407 && out[4] == 0 &&
              out[76] == 0,
          "\"a diagram\" -> 49406 320 22697 49407 0...");
    eot = clip_tokenize(b, "", BPE_CONTEXT, out, 0, &e);
    CHECK(eot == 1 && out[0] == BPE_SOT && out[1] == BPE_EOT && out[2] == 0, "empty text -> SOT EOT");
    int small[5];
    eot = clip_tokenize(b, "a b c d e f", 5, small, 1, &e);
    CHECK(eot == 4 && small[0] == BPE_SOT && small[1] == 320 && small[4] == BPE_EOT, "context 5 truncated");
    e.code = 0;
    CHECK(clip_tokenize(b, "a b c d", 5, small, 0, &e) == -1 && e.code == EXIT_DATA &&
              strstr(e.msg, "6 tokens"),
          "context 5, no truncation: %s", e.msg);
    CHECK(clip_tokenize(b, "a", 1, small, 1, &e) == -1, "context 1 refused");

    char *c = bpe_clean("  &AMP;amp; \xce\x9f\xce\x94\xce\x9f\xce\xa3\t\xce\xa3 X ", &e);
    CHECK(c && !strcmp(c, "& \xce\xbf\xce\xb4\xce\xbf\xcf\x82 \xcf\x83 x"),
          "clean: unescape, collapse, final sigma: %s", c);
    free(c);
}

/* ------------------------------------------------------------- heap vs rounds */

static uint64_t rng_state = 12345;
static uint32_t rnd(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

static void test_heap_vs_rounds(bpe_t *b) {
    static const char *alpha[] = {"abcdefghijklmnopqrstuvwxyz", "etaoinshrdlu", "ab", "a", "0123456789!?.,'"};
    int bad = 0, n = 0, ids1[4096], ids2[4096];
    char w[4096];
    for (int t = 0; t < 3000; t++) {
        const char *al = alpha[t % 5];
        size_t na = strlen(al), len = 1 + rnd() % (t < 2900 ? 24 : 2000);
        for (size_t i = 0; i < len; i++) w[i] = t % 7 == 6 ? (char)(rnd() & 0xFF) : al[rnd() % na];
        int k1 = bpe_word(b, w, len, ids1, 4096, 0), k2 = bpe_word(b, w, len, ids2, 4096, 1);
        n++;
        if (k1 != k2 || memcmp(ids1, ids2, (size_t)k1 * sizeof *ids1)) {
            if (!bad) printf("# heap/rounds differ on a %zu-byte word (%d vs %d ids)\n", len, k1, k2);
            bad++;
        }
    }
    CHECK(bad == 0, "heap BPE == rounds BPE on %d random words (incl. raw bytes, up to 2000 long): %d differ",
          n, bad);
    /* a single 200k-letter word must not take quadratic time */
    size_t big = 200000;
    char *s = xmalloc(big + 1);
    for (size_t i = 0; i < big; i++) s[i] = "abcdefghijklmnopqrstuvwxyz"[rnd() % 26];
    s[big] = 0;
    double t0 = now_sec();
    int k = bpe_encode(b, s, NULL, 0, NULL);
    double dt = now_sec() - t0;
    CHECK(k > 0 && dt < 2.0, "200k-letter word: %d tokens in %.3f s", k, dt);
    free(s);
}

/* ------------------------------------------------------------- errors, caps */

static void test_errors(bpe_t *b) {
    static const char *bad[] = {"a\x80",       "\xc0\xaf",         "\xed\xa0\x80",
                                "abc\xe2\x82", "\xf5\x80\x80\x80", "\xff"};
    int ids[8];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err_t e = {0};
        int rc = bpe_encode(b, bad[i], ids, 8, &e);
        CHECK(rc == -1 && e.code == EXIT_DATA && strstr(e.msg, "UTF-8"), "invalid UTF-8 #%zu refused: %s", i,
              e.msg);
    }
    err_t e = {0};
    int out[BPE_CONTEXT];
    CHECK(clip_tokenize(b, "x\xc3", BPE_CONTEXT, out, 1, &e) == -1 && e.code == EXIT_DATA,
          "tokenize: invalid UTF-8");
    CHECK(bpe_decode(b, (int[]){1, 49408}, 2, &e) == NULL && e.code == EXIT_DATA, "decode: bad id: %s",
          e.msg);

    int buf[6] = {-7, -7, -7, -7, -7, -7};
    int need = bpe_encode(b, "one two three four five", buf, 3, NULL);
    CHECK(need == 5 && buf[2] != -7 && buf[3] == -7, "cap 3: returns 5 needed, writes 3");
    CHECK(bpe_encode(b, "one two three four five", NULL, 0, NULL) == 5, "cap 0 with NULL: count only");

    e.code = 0;
    CHECK(bpe_load("/nonexistent/vocab.txt.gz", &e) == NULL && e.code == EXIT_IO, "missing file: %s", e.msg);
    char path[] = "/tmp/test_bpe_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "#version: 0.2\ni n\nt h\n");
    fclose(f);
    e.code = 0;
    CHECK(bpe_load(path, &e) == NULL && e.code == EXIT_MODEL && strstr(e.msg, "2 merges"), "short file: %s",
          e.msg);
    f = fopen(path, "w");
    fprintf(f, "#version: 0.2\ni n\nthree parts here\n");
    fclose(f);
    e.code = 0;
    CHECK(bpe_load(path, &e) == NULL && e.code == EXIT_MODEL && strstr(e.msg, "line 3"), "malformed line: %s",
          e.msg);
    unlink(path);
}

/* ------------------------------------------------------------- threads */

typedef struct {
    bpe_t *b;
    int start, bad;
} targ;

static void *thread_main(void *p) {
    targ *a = p;
    int *ids = xmalloc(100000 * sizeof *ids);
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < ncases; i++) {
            gcase *c = &cases[(i + a->start) % ncases];
            int k = bpe_encode(a->b, c->text, ids, 100000, NULL);
            if (k != c->nids || memcmp(ids, c->ids, (size_t)k * sizeof *ids)) a->bad++;
        }
    free(ids);
    return NULL;
}

static void test_threads(void) {
    err_t e = {0};
    bpe_t *b = bpe_load(VOCAB, &e); /* a cold cache, filled concurrently */
    if (!b) {
        CHECK(0, "load: %s", e.msg);
        return;
    }
    pthread_t th[8];
    targ a[8];
    for (int i = 0; i < 8; i++) {
        a[i] = (targ){b, i * 97, 0};
        pthread_create(&th[i], NULL, thread_main, &a[i]);
    }
    int bad = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        bad += a[i].bad;
    }
    CHECK(bad == 0, "8 threads x 3 passes over the golden cases on one bpe_t: %d wrong", bad);
    bpe_free(b);
}

/* ------------------------------------------------------------- speed */

static void bench(double load_s) {
    err_t e = {0};
    input_t *in = in_open("data/quickdraw/all-words.ndjson.gz", &e);
    if (!in) {
        printf("# bench skipped: %s\n", e.msg);
        return;
    }
    static const char *tmpl[] = {"a %s", "a drawing of a %s", "a sketch of a %s", "a simple %s",
                                 "a %s drawing"};
    char **prompts = NULL;
    int np = 0, nw = 0;
    char *line, last[256] = "";
    size_t len;
    while (in_getline(in, &line, &len, &e) == 1) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *w = j ? cJSON_GetObjectItem(j, "word") : NULL;
        if (cJSON_IsString(w) && strcmp(w->valuestring, last)) {
            snprintf(last, sizeof last, "%s", w->valuestring);
            nw++;
            prompts = xrealloc(prompts, (size_t)(np + 5) * sizeof *prompts);
            for (int t = 0; t < 5; t++) {
                char buf[512];
                snprintf(buf, sizeof buf, tmpl[t], last);
                prompts[np++] = xstrdup(buf);
            }
        }
        cJSON_Delete(j);
    }
    in_close(in);
    double t0 = now_sec();
    bpe_t *b = bpe_load(VOCAB, &e);
    double t1 = now_sec();
    if (!b) return;
    long tok = 0, tok2 = 0;
    int out[BPE_CONTEXT];
    for (int i = 0; i < np; i++) tok += clip_tokenize(b, prompts[i], BPE_CONTEXT, out, 1, &e) + 1;
    double t2 = now_sec();
    int reps = 20;
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < np; i++) clip_tokenize(b, prompts[i], BPE_CONTEXT, out, 1, &e);
    double t3 = now_sec();
    /* BPE alone, no cache: every space-separated word of every prompt */
    int ids[256], words = 0;
    double t4 = now_sec();
    for (int i = 0; i < np; i++)
        for (const char *p = prompts[i]; *p;) {
            size_t n = strcspn(p, " ");
            tok2 += bpe_word(b, p, n, ids, 256, 0);
            words++;
            p += n + (p[n] == ' ');
        }
    double t5 = now_sec();
    printf("# vocabulary load: %.1f ms (first load in this run %.1f ms)\n", (t1 - t0) * 1e3, load_s * 1e3);
    printf("# corpus: %d QuickDraw words x 5 templates = %d prompts, %ld tokens with SOT/EOT\n", nw, np, tok);
    printf("# cold cache: %.0f tokens/s (%.1f us/prompt); warm: %.0f tokens/s (%.2f us/prompt)\n",
           tok / (t2 - t1), (t2 - t1) * 1e6 / np, tok * reps / (t3 - t2), (t3 - t2) * 1e6 / (np * reps));
    printf("# BPE without cache: %d words, %.0f tokens/s (%.2f us/word)\n", words, tok2 / (t5 - t4),
           (t5 - t4) * 1e6 / words);
    CHECK(np == 5 * nw && nw > 300, "bench corpus read (%d words)", nw);
    bpe_free(b);
    for (int i = 0; i < np; i++) free(prompts[i]);
    free(prompts);
}

int main(void) {
    err_t e = {0};
    double t0 = now_sec();
    bpe_t *b = bpe_load(VOCAB, &e);
    double load_s = now_sec() - t0;
    CHECK(b != NULL, "load %s (%s)", VOCAB, e.msg);
    if (!b) T_DONE();
    CHECK(load_golden() > 0, "read %s", GOLDEN);
    test_facts(b);
    test_golden(b);
    test_heap_vs_rounds(b);
    test_errors(b);
    test_threads();
    bench(load_s);
    bpe_free(b);
    for (int i = 0; i < ncases; i++) {
        free(cases[i].group);
        free(cases[i].text);
        free(cases[i].decoded);
        free(cases[i].ids);
    }
    free(cases);
    T_DONE();
}
