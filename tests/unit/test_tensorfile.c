/* test_tensorfile.c - safetensors and PyTorch zip reading, against the values
 * torch wrote next to each tensor (tests/gen_tensorfile_ref.py: "x" and its
 * float32 conversion "x_f32"), and against damaged and hostile files: every
 * one must give EXIT_MODEL with a message naming the file (and the tensor
 * where there is one), never a crash (run under ASan/UBSan by make check). */
#define _GNU_SOURCE
#include "t.h"
#include "tensorfile.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIX "tests/fixtures/tensorfile/"

static float *read_all(tensorfile_t *tf, const char *name, size_t *n) {
    const tf_info_t *t = tf_find(tf, name);
    if (!t) return NULL;
    float *d = malloc(t->numel * sizeof *d + 1);
    err_t e = {0};
    if (tf_read_f32(tf, t, d, &e)) {
        printf("#   %s\n", e.msg);
        free(d);
        return NULL;
    }
    *n = t->numel;
    return d;
}

/* "x" read as F32 must equal torch's own conversion "x_f32" bit for bit. */
static void same_as_torch(tensorfile_t *tf, const char *x) {
    char ref[64];
    snprintf(ref, sizeof ref, "%s_f32", x);
    size_t na = 0, nb = 0;
    float *a = read_all(tf, x, &na), *b = read_all(tf, ref, &nb);
    int ok = a && b && na == nb && na > 0;
    size_t bad = 0, first = 0;
    for (size_t i = 0; ok && i < na; i++)
        if (memcmp(&a[i], &b[i], 4)) {
            if (!bad++) first = i;
        }
    CHECK(ok && !bad, "%s: %s '%s' equals torch's float32 conversion (%zu values, %zu differ)", tf_name(tf),
          tf_format(tf), x, na, bad);
    if (bad) {
        uint32_t ua, ub;
        memcpy(&ua, &a[first], 4);
        memcpy(&ub, &b[first], 4);
        printf("#   first difference at %zu: got %08x want %08x\n", first, ua, ub);
    }
    free(a);
    free(b);
}

static void expect_fail(tensorfile_t *tf, const err_t *e, const char *what, const char *want1,
                        const char *want2) {
    int ok = !tf && e->code == EXIT_MODEL && strstr(e->msg, want1) && (!want2 || strstr(e->msg, want2));
    CHECK(ok, "%s -> EXIT_MODEL \"%s\"%s%s", what, want1, want2 ? " naming " : "", want2 ? want2 : "");
    if (!ok) printf("#   got code %d: %s\n", e->code, e->msg);
    tf_close(tf);
}

static void test_dtypes(void) {
    const char *files[] = {FIX "dtypes.safetensors", FIX "dtypes.bin"};
    for (int f = 0; f < 2; f++) {
        err_t e = {0};
        tensorfile_t *tf = tf_open(files[f], &e);
        CHECK(tf, "open %s (%s)", files[f], tf ? "" : e.msg);
        if (!tf) continue;
        CHECK(!strcmp(tf_format(tf), f ? "pytorch-zip" : "safetensors"), "format %s", tf_format(tf));
        same_as_torch(tf, "f16");
        same_as_torch(tf, "bf16");
        same_as_torch(tf, "f64");
        const tf_info_t *t = tf_find(tf, "scalar");
        size_t n = 0;
        float *s = read_all(tf, "scalar", &n);
        CHECK(t && t->ndim == 0 && t->numel == 1 && s && s[0] == 2.5f, "scalar: 0 dimensions, one value 2.5");
        free(s);
        t = tf_find(tf, "empty");
        float dummy = 7;
        CHECK(t && t->ndim == 2 && t->shape[0] == 0 && t->shape[1] == 3 && t->numel == 0 &&
                  !tf_read_f32(tf, t, &dummy, &e) && dummy == 7,
              "empty tensor [0,3] lists and reads as nothing");
        t = tf_find(tf, "i64");
        CHECK(t && t->dtype == TF_I64 && t->numel == 5, "i64 listed with its dtype");
        int rc = t ? tf_read_f32(tf, t, &dummy, &e) : 0;
        CHECK(rc == EXIT_MODEL && strstr(e.msg, "'i64'") && strstr(e.msg, "I64"),
              "reading i64 as F32 refused: %s", e.msg);
        CHECK(!tf_find(tf, "nope") && !tf_find(tf, "f1") && !tf_find(tf, "f16_f32x"),
              "tf_find: absent names");
        for (size_t i = 1; i < tf_count(tf); i++)
            if (strcmp(tf_info(tf, i - 1)->name, tf_info(tf, i)->name) >= 0)
                CHECK(0, "listing sorted at %zu", i);
        if (f == 1) {
            same_as_torch(tf, "strided");      /* non-contiguous view: gathered */
            same_as_torch(tf, "offset");       /* storage offset */
            same_as_torch(tf, "half_strided"); /* F16, transposed */
            t = tf_find(tf, "strided");
            CHECK(t && t->ndim == 2 && t->shape[0] == 4 && t->shape[1] == 2,
                  "strided view has its own shape");
            CHECK(!tf_f32_view(tf, tf_find(tf, "offset_f32")), "no zero-copy view into a zip");
        } else {
            const tf_info_t *r = tf_find(tf, "f16_f32");
            const float *v = tf_f32_view(tf, r);
            n = 0;
            float *d = read_all(tf, "f16_f32", &n);
            CHECK(v && d && !memcmp(v, d, n * 4), "zero-copy F32 view equals the read");
            CHECK(!tf_f32_view(tf, tf_find(tf, "f16")), "no F32 view of an F16 tensor");
            free(d);
        }
        tf_close(tf);
    }
    /* the conversions themselves, on values whose float32 is known by hand */
    CHECK(tf_f16_to_f32(0x3c00) == 1.0f && tf_f16_to_f32(0xc000) == -2.0f &&
              tf_f16_to_f32(0x0001) == 0x1p-24f && tf_f16_to_f32(0x7bff) == 65504.0f &&
              tf_f16_to_f32(0x7c00) > 3e38f && tf_f16_to_f32(0x7e00) != tf_f16_to_f32(0x7e00),
          "f16: 1, -2, smallest subnormal, max, inf, NaN");
    CHECK(tf_bf16_to_f32(0x3f80) == 1.0f && tf_bf16_to_f32(0x4049) == 3.140625f, "bf16: 1, 3.140625");
}

static void test_metadata(void) {
    err_t e = {0};
    tensorfile_t *tf = tf_open(FIX "openai_f32.safetensors", &e);
    CHECK(tf && tf_meta(tf, "v_heads") && !strcmp(tf_meta(tf, "v_heads"), "2") &&
              !strcmp(tf_meta(tf, "format"), "pt") && !tf_meta(tf, "nope"),
          "__metadata__ strings readable");
    tf_close(tf);
    tf = tf_open(FIX "openai_jit.pt", &e);
    CHECK(tf && !strcmp(tf_format(tf), "torchscript") &&
              tf_find(tf, "visual.transformer.resblocks.1.attn.in_proj_weight") &&
              tf_find(tf, "visual.transformer.resblocks.0.mlp.c_fc.bias") &&
              tf_find(tf, "transformer.resblocks.2.attn_mask"),
          "TorchScript module attributes flattened to state_dict names");
    tf_close(tf);
}

static void test_hostile_files(void) {
    err_t e = {0};
    tensorfile_t *tf;
    tf = tf_open(FIX "evil_global.bin", &e);
    expect_fail(tf, &e, "GLOBAL os.system", "refusing global 'os.system'", "evil_global.bin");
    tf = tf_open(FIX "evil_stack_global.bin", &e);
    expect_fail(tf, &e, "STACK_GLOBAL builtins.eval", "refusing global 'builtins.eval'", "data.pkl");
    tf = tf_open(FIX "missing_storage.bin", &e);
    expect_fail(tf, &e, "missing storage entry", "storage entry archive/data/7 is missing", "tensor 'w'");
    tf = tf_open(FIX "short_storage.bin", &e);
    expect_fail(tf, &e, "storage shorter than the tensor", "has 12 bytes, needs 16", "tensor 'w'");
    tf = tf_open(FIX "huge_shape.bin", &e);
    expect_fail(tf, &e, "2^60-element tensor over a 4-element storage", "exceeds its storage", NULL);
    tf = tf_open(FIX "legacy.bin", &e);
    expect_fail(tf, &e, "legacy torch.save format", "legacy PyTorch format", "legacy.bin");
    tf = tf_open(FIX "nonexistent.safetensors", &e);
    expect_fail(tf, &e, "missing file", "cannot open weight file", "nonexistent.safetensors");
    tf = tf_open(FIX, &e);
    expect_fail(tf, &e, "a directory", "not a regular file", NULL);
    char tmp[] = "/tmp/tf_emptyXXXXXX";
    int fd = mkstemp(tmp);
    close(fd);
    tf = tf_open(tmp, &e);
    expect_fail(tf, &e, "empty file", "empty file", tmp);
    unlink(tmp);
    tf = tf_open_mem("hello world, not weights", 24, "text", &e);
    expect_fail(tf, &e, "plain text", "not a safetensors file or a PyTorch zip", "text");
}

/* A safetensors file in memory: header JSON, then `data` bytes of data. */
static unsigned char *st_make(const char *json, size_t data, size_t *len) {
    size_t h = strlen(json);
    *len = 8 + h + data;
    unsigned char *b = calloc(1, *len);
    for (int k = 0; k < 8; k++) b[k] = (unsigned char)((uint64_t)h >> (8 * k));
    memcpy(b + 8, json, h);
    return b;
}

static void st_case(const char *json, size_t data, const char *want, const char *name) {
    size_t len;
    unsigned char *b = st_make(json, data, &len);
    err_t e = {0};
    tensorfile_t *tf = tf_open_mem(b, len, "case.safetensors", &e);
    int ok = !tf && e.code == EXIT_MODEL && strstr(e.msg, want) && strstr(e.msg, "case.safetensors") &&
             (!name || strstr(e.msg, name));
    CHECK(ok, "safetensors %s -> \"%s\"", json, want);
    if (!ok) printf("#   got %d: %s\n", e.code, e.msg);
    tf_close(tf);
    free(b);
}

static void test_safetensors_damage(void) {
    size_t len;
    unsigned char *b =
        st_make("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, &len);
    err_t e = {0};
    tensorfile_t *tf = tf_open_mem(b, len, "ok", &e);
    CHECK(tf && tf_count(tf) == 1, "a minimal hand-made file opens");
    tf_close(tf);
    free(b);
    st_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 15,
            "outside the data section", "'a'");
    st_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 16,
            "needs 16 bytes but data_offsets span 12", "'a'");
    st_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[8,4]}}", 16,
            "outside the data section", "'a'");
    st_case("{\"a\":{\"dtype\":\"F7\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "unknown dtype 'F7'",
            "'a'");
    st_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
            "not a non-negative integer", "'a'");
    st_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
            "not a non-negative integer", "'a'");
    st_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}",
            4, "shape overflows", "'a'");
    st_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,1073741824],\"data_offsets\":[0,4]}}", 4,
            "shape too large", "'a'");
    st_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
            "9 dimensions", "'a'");
    st_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
            12, "overlap", "'b'");
    st_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"z\":{\"dtype\":\"F32\","
            "\"shape\":[0],"
            "\"data_offsets\":[4,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
            16, "overlap", "'b'");
    st_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
            8, "appears twice", "'a'");
    st_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "needs dtype, shape and data_offsets", "'a'");
    st_case("{\"a\":[1,2]}", 4, "needs dtype, shape and data_offsets", "'a'");
    st_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,1e300]}}", 4,
            "not non-negative integers", "'a'");
    st_case("{\"__metadata__\":[1]}", 0, "__metadata__ is not an object", NULL);
    st_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} xx", 4, "garbage after", NULL);
    st_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4, "not a JSON object", NULL);
    /* header length beyond the file */
    b = st_make("{}", 0, &len);
    b[0] = 0xff, b[5] = 0x01;
    tf = tf_open_mem(b, len, "long.safetensors", &e);
    expect_fail(tf, &e, "header length beyond the file", "truncated", "long.safetensors");
    free(b);
    /* zero tensors is a valid, empty file */
    b = st_make("{\"__metadata__\":{\"k\":\"v\"}}", 0, &len);
    tf = tf_open_mem(b, len, "empty.safetensors", &e);
    CHECK(tf && tf_count(tf) == 0 && !strcmp(tf_meta(tf, "k"), "v"),
          "metadata-only file opens with no tensors");
    tf_close(tf);
    free(b);
}

/* Every strict prefix of a good file must fail cleanly; exact-size copies let ASan see over-reads. */
static void test_truncation(const char *path, size_t dense, size_t step) {
    size_t len;
    unsigned char *all = t_slurp(path, &len);
    int fails = 0, opened = 0, wrong = 0;
    for (size_t n = 0; all && n < len; n += n < dense ? 1 : step) {
        unsigned char *b = malloc(n ? n : 1);
        memcpy(b, all, n);
        err_t e = {0};
        tensorfile_t *tf = tf_open_mem(b, n, "cut", &e);
        if (tf)
            opened++;
        else if (e.code == EXIT_MODEL && strstr(e.msg, "cut"))
            fails++;
        else
            wrong++;
        tf_close(tf);
        free(b);
    }
    CHECK(all && fails > 0 && !opened && !wrong,
          "%s: every truncation refused (%d cuts, %d opened, %d bad errors)", path, fails, opened, wrong);
    free(all);
}

/* Flip bytes one at a time: open, read every tensor; only clean outcomes allowed. */
static void test_flips(const char *path, size_t from, size_t to, size_t step, const unsigned char *vals,
                       int nv) {
    size_t len;
    unsigned char *orig = t_slurp(path, &len);
    if (!orig) {
        CHECK(0, "read %s", path);
        return;
    }
    unsigned char *b = malloc(len);
    int refused = 0, opened = 0, readerr = 0, bad = 0;
    if (to > len) to = len;
    for (size_t i = from; i < to; i += step)
        for (int v = 0; v < nv; v++) {
            memcpy(b, orig, len);
            b[i] = vals[v] == 0 ? (unsigned char)~orig[i] : vals[v];
            err_t e = {0};
            tensorfile_t *tf = tf_open_mem(b, len, "flip", &e);
            if (!tf) {
                if (e.code == EXIT_MODEL && strstr(e.msg, "flip"))
                    refused++;
                else
                    bad++;
                continue;
            }
            opened++;
            for (size_t k = 0; k < tf_count(tf); k++) {
                const tf_info_t *t = tf_info(tf, k);
                if (t->numel > (1u << 24)) {
                    bad++;
                    continue;
                }
                float *d = malloc(t->numel * 4 + 4);
                if (tf_read_f32(tf, t, d, &e)) {
                    if (e.code == EXIT_MODEL && strstr(e.msg, t->name))
                        readerr++;
                    else
                        bad++;
                }
                free(d);
            }
            tf_close(tf);
        }
    CHECK(!bad && refused > 0,
          "%s: byte flips in [%zu,%zu): %d refused, %d opened (%d read errors), %d bad outcomes", path, from,
          to, refused, opened, readerr, bad);
    free(b);
    free(orig);
}

/* ---- the pickle VM on hand-made pickles */

static void pkl_case(const char *what, const void *pkl, size_t n, const char *want) {
    err_t e = {0};
    tensorfile_t *tf = tf_open_pickle(pkl, n, "p", &e);
    int ok = !tf && e.code == EXIT_MODEL && strstr(e.msg, want);
    CHECK(ok, "pickle %s -> \"%s\"", what, want);
    if (!ok) printf("#   got %d: %s\n", e.code, tf ? "(opened)" : e.msg);
    tf_close(tf);
}

#define PK(s) s, sizeof(s) - 1

/* {'w': tensor (2,3) float, storage numel 6} as torch.save writes it */
static const char good_pkl[] =
    "\x80\x02"
    "ccollections\nOrderedDict\nq\x00)R(X\x01\x00\x00\x00w"
    "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n"
    "X\x01\x00\x00\x00"
    "0X\x03\x00\x00\x00"
    "cpuK\x06tQK\x00K\x02K\x03\x86K\x03K\x01\x86\x89h\x00)RtRu.";

static void test_pickles(void) {
    err_t e = {0};
    tensorfile_t *tf = tf_open_pickle(PK(good_pkl), "p", &e);
    const tf_info_t *t = tf ? tf_find(tf, "w") : NULL;
    CHECK(t && t->dtype == TF_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3,
          "hand-made state dict lists 'w' (2,3) F32%s%s", tf ? "" : ": ", tf ? "" : e.msg);
    float d[6];
    CHECK(t && tf_read_f32(tf, t, d, &e) == EXIT_MODEL && strstr(e.msg, "no data"),
          "bare pickle: no data to read");
    tf_close(tf);
    /* every truncation of it fails */
    int bad = 0;
    for (size_t n = 0; n + 1 < sizeof good_pkl - 1; n++) {
        char *b = malloc(n ? n : 1);
        memcpy(b, good_pkl, n);
        tf = tf_open_pickle(b, n, "p", &e);
        if (tf || e.code != EXIT_MODEL) bad++;
        tf_close(tf);
        free(b);
    }
    CHECK(!bad, "every truncation of a pickle refused (%d not)", bad);

    pkl_case("GLOBAL os.system",
             PK("\x80\x02"
                "cos\nsystem\nX\x02\x00\x00\x00id\x85R."),
             "refusing global 'os.system'");
    pkl_case("GLOBAL posix.system", PK("cposix\nsystem\n."), "refusing global 'posix.system'");
    pkl_case("GLOBAL builtins.getattr", PK("cbuiltins\ngetattr\n."), "refusing global 'builtins.getattr'");
    pkl_case("GLOBAL __builtin__.eval", PK("c__builtin__\neval\n."), "refusing global");
    pkl_case("GLOBAL subprocess.Popen", PK("csubprocess\nPopen\n."), "refusing global 'subprocess.Popen'");
    pkl_case("GLOBAL torch.load", PK("ctorch\nload\n."), "refusing global 'torch.load'");
    pkl_case("GLOBAL torch._utils._rebuild_tensor", PK("ctorch._utils\n_rebuild_tensor\n."),
             "refusing global");
    pkl_case("GLOBAL torch.FloatStorage.x", PK("ctorch.FloatStorage\nx\n."), "refusing global");
    pkl_case("STACK_GLOBAL os.system", PK("\x80\x04\x8c\x02os\x8c\x06system\x93."),
             "refusing global 'os.system'");
    pkl_case("control characters in a global", PK("cos\x01\nsys\x7ftem\n."), "refusing global 'os?.sys?tem'");
    pkl_case("NEWOBJ of OrderedDict", PK("ccollections\nOrderedDict\n)\x81."),
             "NEWOBJ of 'collections.OrderedDict' refused");
    pkl_case("REDUCE on a string", PK("X\x01\x00\x00\x00x)R."), "REDUCE on a str");
    pkl_case("calling a storage type", PK("ctorch\nFloatStorage\n)R."), "cannot call 'torch.FloatStorage'");
    pkl_case("persistent id that is not a storage", PK("(X\x06\x00\x00\x00moduleK\x01K\x02K\x03K\x04tQ."),
             "persistent id");
    pkl_case("stack underflow", PK("\x80\x02R."), "stack underflow");
    pkl_case("SETITEM into a list", PK("]K\x01K\x02s."), "SETITEM into a non-dict");
    pkl_case("APPENDS into a dict",
             PK("}(K\x01"
                "e."),
             "APPENDS into a dict");
    pkl_case("unset memo", PK("h\x05."), "memo index 5 is not set");
    pkl_case("huge memo index", PK("Nr\xff\xff\xff\x7f."), "out of range");
    pkl_case("no STOP", PK("\x80\x02}"), "without STOP");
    pkl_case("two values at STOP", PK("}}."), "STOP with 2 values");
    pkl_case("unsupported opcode INST", PK("ios\nsystem\n."), "unsupported pickle opcode 0x69");
    pkl_case("a list at the top", PK("]."), "holds a list");
    pkl_case("LONG4 of 1000 bytes", PK("\x8b\xe8\x03\x00\x00."), "too large");
    pkl_case("string longer than the pickle", PK("X\xff\xff\xff\x00."), "truncated pickle");
    pkl_case("cyclic dict d['a'] = d",
             PK("}q\x00X\x01\x00\x00\x00"
                "ah\x00s."),
             "nesting deeper");
    /* tensor larger than its storage, and a stride that overflows */
    pkl_case("tensor beyond its storage",
             PK("}X\x01\x00\x00\x00w"
                "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n"
                "X\x01\x00\x00\x00"
                "0X\x03\x00\x00\x00"
                "cpuK\x05tQK\x00K\x02K\x03\x86K\x03K\x01\x86\x89}tRs."),
             "exceeds its storage of 5 elements");
    pkl_case("stride overflow",
             PK("}X\x01\x00\x00\x00w"
                "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n"
                "X\x01\x00\x00\x00"
                "0X\x03\x00\x00\x00"
                "cpuK\x05tQK\x00K\x05K\x03\x86\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x7fK\x01\x86\x89}tRs."),
             "overflows");
    /* a DAG that doubles at each level: 2^40 paths through 40 dicts */
    buf_t b = {0};
    buf_put(&b, "}q\x00", 3);
    for (int k = 0; k < 40; k++) {
        buf_printf(&b, "}(X\x01%c%c%ca", 0, 0, 0);
        buf_printf(&b, "h%cX\x01%c%c%cb", k, 0, 0, 0);
        buf_printf(&b, "h%cuq%c", k, k + 1);
    }
    buf_puts(&b, ".");
    /* the stack holds the 41 dicts; keep only the last for STOP */
    buf_t b2 = {0};
    buf_put(&b2, "(", 1);
    buf_put(&b2, b.s, b.len - 1);
    buf_printf(&b2, "1h%c.", 40);
    pkl_case("exponential DAG of dicts", b2.s, b2.len, "too many values");
    buf_free(&b);
    buf_free(&b2);
    /* a deeply nested TorchScript-style tree is fine up to the limit */
    tf = tf_open_pickle(PK("c__torch__\nM\n)\x81}(X\x01\x00\x00\x00"
                           "ac__torch__\nN\n)\x81}bub."),
                        "p", &e);
    CHECK(tf && tf_count(tf) == 0, "TorchScript objects without tensors: an empty listing");
    tf_close(tf);
}

int main(void) {
    test_dtypes();
    test_metadata();
    test_hostile_files();
    test_safetensors_damage();
    test_pickles();
    test_truncation(FIX "hf_bf16.safetensors", 9000, 97);
    test_truncation(FIX "pytorch_model.bin", 64, 331);
    test_truncation(FIX "openai_jit.pt", 64, 997);
    static const unsigned char v[] = {0, '9', '"', ',', '-', 0xff};
    test_flips(FIX "openai_f16.safetensors", 0, 2000, 1, v, 6);
    test_flips(FIX "openai_f16.safetensors", 2000, 9000, 7, v, 3);
    test_flips(FIX "dtypes.bin", 0, 8000, 3, v, 6);
    test_flips(FIX "openai_jit.pt", 0, 60000, 101, v, 2);
    T_DONE();
}
