/* test_hardening.c - the faults an outside review found in common/ (issue 7),
 * each checked at the depth where it was fixed:
 *   1. key_ids are kept whole (were cut to 63 bytes);
 *   2. err_set may take its own message as an argument; err_prefix;
 *      utf8_fix and buf_jstr make any bytes valid UTF-8 / JSON;
 *   3. atomic files: the temporary is created exclusively without following
 *      links, and error paths (abort, die) remove it;
 *   5. an invalid head count in __metadata__ or config.json is an error;
 *   6. out of memory decoding a PNG is EXIT_INTERNAL (7), not bad data;
 *   and the extras: a truncated .gz delivers every complete line before
 *   failing, without "<fd:N>" in the message; a line over the cap is refused.
 * (Fault 4, JPEG, is in test_imgprep; the tools' side in cli/hardening.sh.) */
#define _GNU_SOURCE
#include "clip_load.h"
#include "input.h"
#include "png_io.h"
#include "sketch.h"
#include "t.h"
#include "util.h"
#include <dirent.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

static char dir[] = "/tmp/invclip-hard-XXXXXX";

static void put_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

/* Number of entries in dir whose name contains sub. */
static int count_in_dir(const char *d, const char *sub) {
    DIR *dp = opendir(d);
    int n = 0;
    struct dirent *de;
    while (dp && (de = readdir(dp)))
        if (strstr(de->d_name, sub)) n++;
    if (dp) closedir(dp);
    return n;
}

/* ---------------------------------------------------------------- 1 */
static void test_key_ids(void) {
    char a[300], b[300], line[600];
    memset(a, 'k', 200);
    memcpy(b, a, 200);
    a[200] = 'A', b[200] = 'B';
    a[201] = b[201] = 0;
    sketch_t s, t;
    sketch_init(&s);
    sketch_init(&t);
    err_t e = {0};
    snprintf(line, sizeof line, "{\"key_id\":\"%s\",\"drawing\":[[[0,1],[0,1]]]}", a);
    int r1 = sketch_parse(&s, line, strlen(line), &e);
    snprintf(line, sizeof line, "{\"key_id\":\"%s\",\"drawing\":[[[0,1],[0,1]]]}", b);
    int r2 = sketch_parse(&t, line, strlen(line), &e);
    CHECK(!r1 && !r2 && strlen(s.key_id) == 201 && !strcmp(s.key_id, a) && !strcmp(t.key_id, b),
          "201-byte key_ids kept whole and distinct (len %zu)", strlen(s.key_id));
    /* a 100-digit numeric id keeps every digit */
    char num[101];
    memset(num, '7', 100);
    num[100] = 0;
    snprintf(line, sizeof line, "{\"key_id\":%s,\"drawing\":[[[0,1],[0,1]]]}", num);
    CHECK(!sketch_parse(&s, line, strlen(line), &e) && !strcmp(s.key_id, num), "100-digit numeric key_id whole");
    /* reuse: a later record without a key_id has "" */
    const char *nokey = "{\"drawing\":[[[0,1],[0,1]]]}";
    CHECK(!sketch_parse(&s, nokey, strlen(nokey), &e) && s.key_id[0] == 0, "record without key_id: \"\"");
    /* the label of a huge id is shortened but says so */
    CHECK(!strcmp(sketch_label(&t) + strlen(sketch_label(&t)) - 11, "(201 bytes)"), "long label: %s",
          sketch_label(&t));
    sketch_free(&s);
    sketch_free(&t);
    CHECK(s.key_id && s.key_id[0] == 0, "freed record still has a valid empty key_id");
}

/* ---------------------------------------------------------------- 2 */
static void test_errors_utf8(void) {
    err_t e = {0};
    err_set(&e, EXIT_DATA, "not valid UTF-8");
    err_set(&e, EXIT_DATA, "key_id %d: %s", 5, e.msg);
    CHECK(!strcmp(e.msg, "key_id 5: not valid UTF-8"), "err_set with its own message: '%s'", e.msg);
    err_set(&e, EXIT_IO, "disk full");
    CHECK(err_prefix(&e, "%s:%d", "f.ndjson", 3) == EXIT_IO && !strcmp(e.msg, "f.ndjson:3: disk full"),
          "err_prefix keeps the code and the reason: '%s'", e.msg);
    char big[700];
    memset(big, 'p', sizeof big - 1);
    big[sizeof big - 1] = 0;
    err_prefix(&e, "%s", big);
    CHECK(strlen(e.msg) == sizeof e.msg - 1, "err_prefix truncates safely");

    char *f = utf8_fix("a\xff" "b\xc3\xa9" "c\xe2\x82");
    CHECK(!strcmp(f, "a\xef\xbf\xbd" "b\xc3\xa9" "c\xef\xbf\xbd\xef\xbf\xbd") &&
              utf8_valid(f, strlen(f), NULL),
          "utf8_fix replaces each bad byte with U+FFFD and keeps good sequences");
    free(f);
    buf_t b = {0};
    buf_jstr(&b, "x\xfey\xc3\xa9");
    CHECK(!strcmp(b.s, "\"x\\ufffdy\xc3\xa9\"") && utf8_valid(b.s, b.len, NULL), "buf_jstr: %s", b.s);
    buf_free(&b);

    strset_t set = {0};
    int fresh = 1;
    char k[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "n%d", i);
        fresh &= strset_add(&set, k);
    }
    CHECK(fresh && set.n == 1000 && !strset_add(&set, "n17") && strset_add(&set, "n1000"),
          "strset: 1000 distinct, a repeat is found");
    strset_free(&set);
}

/* ---------------------------------------------------------------- 3 */
static void test_afile(void) {
    char path[256], victim[256], link[300];
    snprintf(path, sizeof path, "%s/out.png", dir);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    put_file(victim, "precious", 8);
    /* the name the old code used: PATH.tmp.<pid> */
    snprintf(link, sizeof link, "%s.tmp.%ld", path, (long)getpid());
    CHECK(symlink(victim, link) == 0, "plant a symlink at %s", link);
    afile_t a;
    err_t e = {0};
    int rc = afile_open(&a, path, &e);
    struct stat st;
    CHECK(!rc && lstat(a.tmp, &st) == 0 && S_ISREG(st.st_mode) && strcmp(a.tmp, link),
          "temporary is a new regular file, not the planted link (%s)", rc ? e.msg : a.tmp);
    if (!rc) {
        fputs("new data", a.fp);
        CHECK(afile_commit(&a, &e) == 0, "commit");
    }
    size_t n = 0;
    unsigned char *v = t_slurp(victim, &n);
    CHECK(v && n == 8 && !memcmp(v, "precious", 8), "the link's target is untouched");
    free(v);
    v = t_slurp(path, &n);
    CHECK(v && n == 8 && !memcmp(v, "new data", 8), "the output holds what was written");
    free(v);
    unlink(link);
    CHECK(count_in_dir(dir, ".tmp.") == 0, "no temporary left after commit");

    /* abort removes it */
    if (!afile_open(&a, path, &e)) afile_abort(&a);
    CHECK(count_in_dir(dir, ".tmp.") == 0, "no temporary left after abort");

    /* die() while a file is open removes the temporary */
    pid_t pid = fork();
    if (pid == 0) {
        afile_t c;
        err_t ce = {0};
        if (afile_open(&c, path, &ce)) _exit(99);
        fputs("half", c.fp);
        fflush(c.fp);
        die(EXIT_DATA, "dying mid-write (expected by the test)");
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == EXIT_DATA && count_in_dir(dir, ".tmp.") == 0,
          "die() mid-write leaves no temporary (exit %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    v = t_slurp(path, &n);
    CHECK(v && n == 8 && !memcmp(v, "new data", 8), "and the old output is intact");
    free(v);

    /* a directory in the way: a clear EXIT_IO, nothing left */
    char sub[300];
    snprintf(sub, sizeof sub, "%s/nodir/x.png", dir);
    rc = afile_open(&a, sub, &e);
    CHECK(rc == EXIT_IO && strstr(e.msg, "nodir/x.png: cannot create"), "missing folder: %s", e.msg);
    unlink(path);
    unlink(victim);
}

/* ---------------------------------------------------------------- 5 */

/* Copy a safetensors file replacing text in its JSON header. */
static int patch_header(const char *src, const char *dst, const char *from, const char *to) {
    size_t n = 0;
    unsigned char *d = t_slurp(src, &n);
    if (!d || n < 8) return free(d), -1;
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | d[i];
    char *h = malloc(hl + 1);
    memcpy(h, d + 8, hl);
    h[hl] = 0;
    char *at = strstr(h, from);
    if (!at) return free(h), free(d), -1;
    buf_t nb = {0};
    buf_put(&nb, h, (size_t)(at - h));
    buf_puts(&nb, to);
    buf_puts(&nb, at + strlen(from));
    while (nb.len % 8) buf_put(&nb, " ", 1); /* keep the data 8-aligned */
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(nb.len >> (8 * i));
    FILE *f = fopen(dst, "wb");
    fwrite(len8, 1, 8, f);
    fwrite(nb.s, 1, nb.len, f);
    fwrite(d + 8 + hl, 1, n - 8 - hl, f);
    fclose(f);
    buf_free(&nb);
    free(h);
    free(d);
    return 0;
}

static void test_heads(void) {
    clip_params_t p;
    err_t e = {0};
    char saved[256], bad[256];
    snprintf(saved, sizeof saved, "%s/m.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    int rc = clip_load("tests/fixtures/clip/tiny_openai.safetensors", &p, &e);
    CHECK(rc == 0, "load tiny model (%s)", e.msg);
    if (rc) return;
    rc = clip_save_safetensors(saved, &p, &e);
    clip_params_free(&p);
    CHECK(rc == 0, "save it with __metadata__ head counts (%s)", e.msg);
    const char *cases[][2] = {{"1000000", "\"v_heads\" is \"1000000\""}, {"two", "\"two\""}, {"", "\"\""},
                              {"2x", "\"2x\""}, {"-2", "\"-2\""}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char to[64];
        snprintf(to, sizeof to, "\"v_heads\":\"%s\"", cases[i][0]);
        CHECK(patch_header(saved, bad, "\"v_heads\":\"2\"", to) == 0, "patch v_heads to '%s'", cases[i][0]);
        e.msg[0] = 0;
        rc = clip_load(bad, &p, &e);
        CHECK(rc == EXIT_MODEL && strstr(e.msg, cases[i][1]) && strstr(e.msg, "bad.safetensors"),
              "v_heads '%s' -> exit 5: %s", cases[i][0], e.msg);
        if (!rc) clip_params_free(&p);
    }
    /* a valid value different from the inferred one is used, not ignored */
    patch_header(saved, bad, "\"v_heads\":\"2\"", "\"v_heads\":\"4\"");
    rc = clip_load(bad, &p, &e);
    CHECK(rc == 0 && p.cfg.v_heads == 4, "v_heads '4' is used (got %d)", rc ? -1 : p.cfg.v_heads);
    if (!rc) clip_params_free(&p);

    /* config.json beside a Hugging Face-named file */
    char hdir[256], hf[300], cfg[300];
    snprintf(hdir, sizeof hdir, "%s/hf", dir);
    mkdir(hdir, 0777);
    snprintf(hf, sizeof hf, "%s/model.safetensors", hdir);
    snprintf(cfg, sizeof cfg, "%s/config.json", hdir);
    size_t n = 0;
    unsigned char *m = t_slurp("tests/fixtures/clip/tiny_hf.safetensors", &n);
    put_file(hf, m, n);
    free(m);
    const char *cfgs[][2] = {
        {"{\"vision_config\":{\"num_attention_heads\":1000000}}", "vision_config.num_attention_heads"},
        {"{\"text_config\":{\"num_attention_heads\":\"2\"}}", "text_config.num_attention_heads"},
        {"{\"vision_config\":{\"num_attention_heads\":2.5}}", "vision_config.num_attention_heads"},
        {"{\"vision_config\": {", "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof *cfgs; i++) {
        put_file(cfg, cfgs[i][0], strlen(cfgs[i][0]));
        rc = clip_load(hf, &p, &e);
        CHECK(rc == EXIT_MODEL && strstr(e.msg, "config.json") && strstr(e.msg, cfgs[i][1]),
              "config.json %s -> exit 5: %s", cfgs[i][0], e.msg);
        if (!rc) clip_params_free(&p);
    }
    const char *good = "{\"vision_config\":{\"num_attention_heads\":2},\"text_config\":{\"num_attention_heads\":2}}";
    put_file(cfg, good, strlen(good));
    rc = clip_load(hf, &p, &e);
    CHECK(rc == 0, "valid config.json loads (%s)", e.msg);
    if (!rc) clip_params_free(&p);
    unlink(cfg);
    unlink(hf);
    rmdir(hdir);
    unlink(saved);
    unlink(bad);
}

/* ---------------------------------------------------------------- 6 */
#if !defined(__SANITIZE_ADDRESS__)
static void be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8),
    p[3] = (unsigned char)v;
}
#endif

static void test_png_oom(void) {
#if defined(__SANITIZE_ADDRESS__)
    printf("# PNG out-of-memory case not run under AddressSanitizer (it owns the address space)\n");
#else
    /* signature, IHDR 16000 x 16000 RGB 8-bit, a 2-byte IDAT, IEND: the
     * reader must allocate 768 MB before it decodes any image data */
    unsigned char png[8 + 25 + 14 + 12];
    memcpy(png, "\x89PNG\r\n\x1a\n", 8);
    unsigned char *c = png + 8;
    be32(c, 13);
    memcpy(c + 4, "IHDR", 4);
    be32(c + 8, 16000);
    be32(c + 12, 16000);
    c[16] = 8, c[17] = 2, c[18] = 0, c[19] = 0, c[20] = 0;
    be32(c + 21, (uint32_t)crc32(0, c + 4, 17));
    c += 25;
    be32(c, 2);
    memcpy(c + 4, "IDAT\x78\x9c", 6);
    be32(c + 10, (uint32_t)crc32(0, c + 4, 6));
    c += 14;
    be32(c, 0);
    memcpy(c + 4, "IEND", 4);
    be32(c + 8, (uint32_t)crc32(0, c + 4, 4));
    int fd[2];
    if (pipe(fd)) { CHECK(0, "pipe"); return; }
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        struct rlimit rl = {256u << 20, 256u << 20};
        setrlimit(RLIMIT_AS, &rl);
        FILE *f = fmemopen(png, sizeof png, "rb");
        pngstream_t *ps = pngs_open_fp(f, "big.png");
        image_t im = {0};
        err_t e = {0};
        int r = pngs_next(ps, &im, NULL, &e);
        char out[600];
        int len = snprintf(out, sizeof out, "%d %d %s", r, e.code, e.msg);
        if (write(fd[1], out, (size_t)len) < 0) _exit(98);
        _exit(0);
    }
    close(fd[1]);
    char got[600] = "";
    ssize_t k = read(fd[0], got, sizeof got - 1);
    got[k > 0 ? k : 0] = 0;
    close(fd[0]);
    waitpid(pid, NULL, 0);
    int r = 0, code = 0;
    sscanf(got, "%d %d", &r, &code);
    CHECK(r == -1 && code == EXIT_INTERNAL && strstr(got, "big.png") && strstr(got, "16000 x 16000"),
          "out of memory decoding a PNG -> exit 7: %s", got);
#endif
}

/* ---------------------------------------------------------------- extras */
static void test_input_extras(void) {
    char plain[256], gz[256], cut[256];
    snprintf(plain, sizeof plain, "%s/l.txt", dir);
    snprintf(gz, sizeof gz, "%s/l.txt.gz", dir);
    snprintf(cut, sizeof cut, "%s/cut.gz", dir);
    /* 200k numbered lines, random-ish so that gzip's blocks are large */
    gzFile g = gzopen(gz, "wb");
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        gzprintf(g, "%d %016llx\n", i, (unsigned long long)x);
    }
    gzclose(g);
    size_t n = 0;
    unsigned char *z = t_slurp(gz, &n);
    put_file(cut, z, n * 2 / 3);
    free(z);
    /* what zlib itself can still decompress from the cut file */
    gzFile r = gzopen(cut, "rb");
    char *all = malloc(8u << 20);
    int got = gzread(r, all, 8u << 20);
    gzclose(r);
    long complete = 0;
    for (int i = 0; i < got; i++) complete += all[i] == '\n';
    free(all);
    err_t e = {0};
    input_t *in = in_open(cut, &e);
    char *line;
    size_t len;
    long lines = 0;
    int rc;
    long last = -1;
    while ((rc = in_getline(in, &line, &len, &e)) == 1) {
        last = atol(line);
        lines++;
    }
    CHECK(rc == -1 && lines == complete && last == complete - 1 && complete > 1000,
          "truncated .gz: all %ld complete lines delivered (got %ld), then the error", complete, lines);
    CHECK(e.code == EXIT_DATA && strstr(e.msg, cut) && !strstr(e.msg, "<fd:"), "message names the file: %s",
          e.msg);
    CHECK(in_getline(in, &line, &len, &e) == -1, "the error stays");
    in_close(in);

    /* the line cap */
    put_file(plain, "short\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\nok\n", 49);
    in = in_open(plain, &e);
    in_set_max_line(in, 16);
    int a = in_getline(in, &line, &len, &e);
    int b = in_getline(in, &line, &len, &e);
    CHECK(a == 1 && b == -1 && e.code == EXIT_DATA && strstr(e.msg, ":2: line longer than 16 bytes"),
          "line over the cap refused naming the line: %s", e.msg);
    in_close(in);
    CHECK(IN_MAX_LINE == (size_t)256 << 20, "the documented default cap is 256 MB");
    unlink(plain);
    unlink(gz);
    unlink(cut);
}

int main(void) {
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        T_DONE();
    }
    test_key_ids();
    test_errors_utf8();
    test_afile();
    test_heads();
    test_png_oom();
    test_input_extras();
    rmdir(dir);
    T_DONE();
}
