/* test_clip_load.c - CLIP weights into clip_params_t.
 *
 * The fixtures (tests/gen_tensorfile_ref.py) hold one tiny CLIP in seven
 * containers and two namings; tiny_clip.f32 is the same weights laid out by
 * the generator in clip_params.h's order, and tiny_clip.cfg its config.  Every
 * fixture must load bit-identical to it.  Hyper-parameter inference for the
 * real models is tested on name -> shape tables written out here (no data). */
#define _GNU_SOURCE
#include "clip_load.h"
#include "t.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIX "tests/fixtures/tensorfile/"

static float *ref;
static size_t nref;
static clip_config_t want_cfg;

static void read_refs(void) {
    size_t len = 0;
    ref = (float *)t_slurp(FIX "tiny_clip.f32", &len);
    nref = len / 4;
    FILE *f = fopen(FIX "tiny_clip.cfg", "r");
    char k[64];
    int v;
    while (f && fscanf(f, "%63s %d", k, &v) == 2) {
#define F(x)                                                                                                 \
    if (!strcmp(k, #x)) want_cfg.x = v;
        F(v_width)
        F(v_layers) F(v_heads) F(patch) F(image_size) F(t_width) F(t_layers) F(t_heads) F(context) F(vocab)
            F(embed_dim) F(mlp_ratio)
#undef F
    }
    if (f) fclose(f);
    CHECK(ref && nref > 1000 && want_cfg.v_width > 0 && want_cfg.mlp_ratio == 4,
          "reference block (%zu floats) and config read", nref);
}

static int cfg_eq(const clip_config_t *a, const clip_config_t *b) {
    return a->v_width == b->v_width && a->v_layers == b->v_layers && a->v_heads == b->v_heads &&
           a->patch == b->patch && a->image_size == b->image_size && a->t_width == b->t_width &&
           a->t_layers == b->t_layers && a->t_heads == b->t_heads && a->context == b->context &&
           a->vocab == b->vocab && a->embed_dim == b->embed_dim && a->mlp_ratio == b->mlp_ratio;
}

static void print_cfg(const clip_config_t *c) {
    printf("#   vision %d wide, %d layers, %d heads, patch %d, image %d; text %d wide, %d layers, %d heads, "
           "context %d, vocab %d; embed %d; mlp x%d\n",
           c->v_width, c->v_layers, c->v_heads, c->patch, c->image_size, c->t_width, c->t_layers, c->t_heads,
           c->context, c->vocab, c->embed_dim, c->mlp_ratio);
}

/* Compare a loaded block with the generator's; report the worst difference. */
static void same_as_ref(const clip_params_t *p, const char *what) {
    size_t bad = 0, worst = 0;
    double wd = 0;
    int ok = p->n == nref;
    for (size_t i = 0; ok && i < nref; i++)
        if (memcmp(&p->mem[i], &ref[i], 4)) {
            bad++;
            double d = (double)p->mem[i] - ref[i];
            if (d < 0) d = -d;
            if (d >= wd) wd = d, worst = i;
        }
    CHECK(ok && !bad, "%s: all %zu parameters equal the generator's bit for bit (%zu differ)", what, p->n,
          bad);
    if (bad) printf("#   worst at %zu: got %.9g want %.9g\n", worst, p->mem[worst], ref[worst]);
    if (!ok) printf("#   block has %zu floats, reference %zu\n", p->n, nref);
}

static void test_fixtures(void) {
    static const struct {
        const char *file;
        int opts;
    } fx[] = {
        {"openai_f32.safetensors", 0}, /* heads from __metadata__ */
        {"openai_f16.safetensors", 1}, /* no metadata: opts */
        {"hf_f32.safetensors", 0},     /* heads from config.json beside it */
        {"hf_bf16.safetensors", 0},
        {"pytorch_model.bin", 0}, /* HF names, zip, shared storages, transposed views */
        {"openai_f16.pt", 1},
        {"openai_jit.pt", 1}, /* TorchScript */
    };
    clip_load_opts_t o = {want_cfg.v_heads, want_cfg.t_heads};
    for (size_t i = 0; i < sizeof fx / sizeof *fx; i++) {
        char path[256];
        snprintf(path, sizeof path, FIX "%s", fx[i].file);
        clip_params_t p;
        err_t e = {0};
        int rc = clip_load_opts(path, &p, fx[i].opts ? &o : NULL, &e);
        CHECK(rc == 0, "load %s%s%s", fx[i].file, rc ? ": " : "", rc ? e.msg : "");
        if (rc) continue;
        CHECK(cfg_eq(&p.cfg, &want_cfg), "%s: config inferred from shapes", fx[i].file);
        if (!cfg_eq(&p.cfg, &want_cfg)) print_cfg(&p.cfg);
        same_as_ref(&p, fx[i].file);
        clip_params_free(&p);
    }
    /* the two namings of the same weights: identical blocks */
    clip_params_t a, b;
    err_t e = {0};
    int ra = clip_load(FIX "hf_f32.safetensors", &a, &e),
        rb = clip_load(FIX "openai_f32.safetensors", &b, &e);
    CHECK(!ra && !rb && a.n == b.n && !memcmp(a.mem, b.mem, a.n * sizeof(float)) && cfg_eq(&a.cfg, &b.cfg),
          "HF and OpenAI naming give identical clip_params_t blocks");
    if (!ra) clip_params_free(&a);
    if (!rb) clip_params_free(&b);
}

static void expect_err(int rc, const err_t *e, const char *what, const char *w1, const char *w2) {
    int ok = rc == EXIT_MODEL && e->code == EXIT_MODEL && strstr(e->msg, w1) && (!w2 || strstr(e->msg, w2));
    CHECK(ok, "%s -> \"%s\"%s%s", what, w1, w2 ? " ... " : "", w2 ? w2 : "");
    if (!ok) printf("#   got %d: %s\n", rc, e->msg);
}

static void test_heads(const char *tmpdir) {
    clip_params_t p;
    err_t e = {0};
    int rc = clip_load(FIX "openai_f16.safetensors", &p, &e);
    expect_err(rc, &e, "width 16 without heads anywhere", "cannot infer the vision tower's attention heads",
               "openai_f16");
    clip_load_opts_t o = {4, 2}; /* opts beat the file's metadata (2, 1) */
    rc = clip_load_opts(FIX "openai_f32.safetensors", &p, &o, &e);
    CHECK(!rc && p.cfg.v_heads == 4 && p.cfg.t_heads == 2, "explicit heads override the file's metadata");
    if (!rc) clip_params_free(&p);
    o = (clip_load_opts_t){3, 1};
    rc = clip_load_opts(FIX "openai_f32.safetensors", &p, &o, &e);
    expect_err(rc, &e, "3 heads for width 16", "not divisible by 3 heads", NULL);
    /* an HF file away from its config.json */
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
    size_t len;
    unsigned char *b = t_slurp(FIX "hf_f32.safetensors", &len);
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, len, f);
    fclose(f);
    free(b);
    rc = clip_load(path, &p, &e);
    expect_err(rc, &e, "HF file without config.json", "cannot infer", NULL);
    o = (clip_load_opts_t){2, 1};
    rc = clip_load_opts(path, &p, &o, &e);
    CHECK(!rc, "... loads with explicit heads");
    if (!rc) {
        same_as_ref(&p, "HF file, explicit heads");
        clip_params_free(&p);
    }
    unlink(path);
}

/* Same-length edits of a fixture's header, loaded from memory. */
static void edited(const char *file, const char *from, const char *to, const char *what, const char *w1,
                   const char *w2) {
    size_t len;
    unsigned char *b = t_slurp(file, &len);
    unsigned char *at = b ? memmem(b, len, from, strlen(from)) : NULL;
    if (!at) {
        CHECK(0, "%s: '%s' found in %s", what, from, file);
        free(b);
        return;
    }
    memcpy(at, to, strlen(to));
    err_t e = {0};
    tensorfile_t *tf = tf_open_mem(b, len, "edited", &e);
    clip_params_t p;
    clip_load_opts_t o = {2, 1};
    int rc = tf ? clip_load_tf(tf, &p, &o, &e) : e.code;
    expect_err(rc, &e, what, w1, w2);
    if (!rc) clip_params_free(&p);
    tf_close(tf);
    free(b);
}

static void test_errors(void) {
    clip_params_t p;
    err_t e = {0};
    int rc = clip_load(FIX "resnet.safetensors", &p, &e);
    /* a few RN50 names: taken for a ResNet CLIP (clip_resnet.h), refused as incomplete */
    expect_err(rc, &e, "an incomplete ResNet CLIP", "ResNet CLIP without blocks in stage 2", "resnet.safetensors");
    rc = clip_load(FIX "dtypes.safetensors", &p, &e);
    expect_err(rc, &e, "not a CLIP", "not a CLIP checkpoint", "dtypes.safetensors");
    rc = clip_load(FIX "evil_global.bin", &p, &e);
    expect_err(rc, &e, "hostile pickle through clip_load", "refusing global 'os.system'", NULL);
    rc = clip_load(FIX "no_such_file.safetensors", &p, &e);
    expect_err(rc, &e, "missing file", "no_such_file.safetensors", NULL);
    edited(FIX "openai_f32.safetensors", "\"visual.ln_post.bias\"", "\"visual.ln_post.bia5\"",
           "renamed tensor", "tensor 'visual.ln_post.bias' is missing (OpenAI naming)", "edited");
    edited(FIX "openai_f32.safetensors", "\"text_projection\":{\"dtype\":\"F32\",\"shape\":[8,12]",
           "\"text_projection\":{\"dtype\":\"F32\",\"shape\":[12,8]", "transposed text projection",
           "tensor 'text_projection' has shape [12,8], expected [8,12]", NULL);
    edited(FIX "hf_f32.safetensors", "\"text_model.encoder.layers.1.self_attn.k_proj.bias\"",
           "\"text_model.encoder.layers.1.self_attn.k_proj.bia5\"", "HF k bias renamed",
           "tensor 'text_model.encoder.layers.1.self_attn.k_proj.bias' is missing (Hugging Face naming)",
           NULL);
    edited(FIX "openai_f32.safetensors", "\"visual.transformer.resblocks.0.",
           "\"visual.transformer.resblocks.7.", "layer 0's first tensor renamed to layer 7",
           "tensor 'visual.transformer.resblocks.0.", "is missing");
    edited(FIX "openai_f16.safetensors", "\"logit_scale\":{\"dtype\":\"F16\"",
           "\"logit_scale\":{\"dtype\":\"I16\"", "integer logit_scale", "'logit_scale' has dtype I16", NULL);
}

/* ---- hyper-parameters from shapes alone */

typedef struct {
    clip_shape_t *t;
    size_t n;
    char **names;
    size_t nn;
} tab_t;

static void add(tab_t *tb, const char *pre, const char *name, int nd, int64_t a, int64_t b, int64_t c,
                int64_t d) {
    tb->t = realloc(tb->t, (tb->n + 1) * sizeof *tb->t);
    tb->names = realloc(tb->names, (tb->nn + 1) * sizeof *tb->names);
    size_t l = strlen(pre) + strlen(name) + 1;
    char *nm = tb->names[tb->nn++] = malloc(l);
    snprintf(nm, l, "%s%s", pre, name);
    clip_shape_t *s = &tb->t[tb->n++];
    memset(s, 0, sizeof *s);
    s->name = nm;
    s->ndim = nd;
    s->shape[0] = a, s->shape[1] = b, s->shape[2] = c, s->shape[3] = d;
}

static void tab_free(tab_t *tb) {
    for (size_t i = 0; i < tb->nn; i++) free(tb->names[i]);
    free(tb->names);
    free(tb->t);
    memset(tb, 0, sizeof *tb);
}

/* The tensor names and shapes of a real checkpoint, spelled out independently of clip_load.c. */
static tab_t model_table(int hf, const char *pre, int vw, int vl, int P, int S, int tw, int tl, int ctx,
                         int V, int E) {
    tab_t tb = {0};
    char n[160];
    int tv = (S / P) * (S / P) + 1;
    if (!hf) {
        add(&tb, pre, "visual.conv1.weight", 4, vw, 3, P, P);
        add(&tb, pre, "visual.class_embedding", 1, vw, 0, 0, 0);
        add(&tb, pre, "visual.positional_embedding", 2, tv, vw, 0, 0);
        add(&tb, pre, "visual.ln_pre.weight", 1, vw, 0, 0, 0);
        add(&tb, pre, "visual.ln_pre.bias", 1, vw, 0, 0, 0);
        add(&tb, pre, "visual.ln_post.weight", 1, vw, 0, 0, 0);
        add(&tb, pre, "visual.ln_post.bias", 1, vw, 0, 0, 0);
        add(&tb, pre, "visual.proj", 2, vw, E, 0, 0);
        add(&tb, pre, "token_embedding.weight", 2, V, tw, 0, 0);
        add(&tb, pre, "positional_embedding", 2, ctx, tw, 0, 0);
        add(&tb, pre, "ln_final.weight", 1, tw, 0, 0, 0);
        add(&tb, pre, "ln_final.bias", 1, tw, 0, 0, 0);
        add(&tb, pre, "text_projection", 2, tw, E, 0, 0);
        add(&tb, pre, "logit_scale", 0, 0, 0, 0, 0);
        add(&tb, pre, "input_resolution", 0, 0, 0, 0, 0); /* extras some files carry */
        for (int tower = 0; tower < 2; tower++)
            for (int l = 0; l < (tower ? tl : vl); l++) {
                int w = tower ? tw : vw;
                const char *tp = tower ? "" : "visual.";
#define B(s, nd, a, b)                                                                                       \
    snprintf(n, sizeof n, "%stransformer.resblocks.%d.%s", tp, l, s), add(&tb, pre, n, nd, a, b, 0, 0)
                B("ln_1.weight", 1, w, 0);
                B("ln_1.bias", 1, w, 0);
                B("attn.in_proj_weight", 2, 3 * w, w);
                B("attn.in_proj_bias", 1, 3 * w, 0);
                B("attn.out_proj.weight", 2, w, w);
                B("attn.out_proj.bias", 1, w, 0);
                B("ln_2.weight", 1, w, 0);
                B("ln_2.bias", 1, w, 0);
                B("mlp.c_fc.weight", 2, 4 * w, w);
                B("mlp.c_fc.bias", 1, 4 * w, 0);
                B("mlp.c_proj.weight", 2, w, 4 * w);
                B("mlp.c_proj.bias", 1, w, 0);
#undef B
            }
        return tb;
    }
    add(&tb, pre, "vision_model.embeddings.patch_embedding.weight", 4, vw, 3, P, P);
    add(&tb, pre, "vision_model.embeddings.class_embedding", 1, vw, 0, 0, 0);
    add(&tb, pre, "vision_model.embeddings.position_embedding.weight", 2, tv, vw, 0, 0);
    add(&tb, pre, "vision_model.embeddings.position_ids", 2, 1, tv, 0, 0);
    add(&tb, pre, "vision_model.pre_layrnorm.weight", 1, vw, 0, 0, 0);
    add(&tb, pre, "vision_model.pre_layrnorm.bias", 1, vw, 0, 0, 0);
    add(&tb, pre, "vision_model.post_layernorm.weight", 1, vw, 0, 0, 0);
    add(&tb, pre, "vision_model.post_layernorm.bias", 1, vw, 0, 0, 0);
    add(&tb, pre, "visual_projection.weight", 2, E, vw, 0, 0);
    add(&tb, pre, "text_model.embeddings.token_embedding.weight", 2, V, tw, 0, 0);
    add(&tb, pre, "text_model.embeddings.position_embedding.weight", 2, ctx, tw, 0, 0);
    add(&tb, pre, "text_model.final_layer_norm.weight", 1, tw, 0, 0, 0);
    add(&tb, pre, "text_model.final_layer_norm.bias", 1, tw, 0, 0, 0);
    add(&tb, pre, "text_projection.weight", 2, E, tw, 0, 0);
    add(&tb, pre, "logit_scale", 0, 0, 0, 0, 0);
    for (int tower = 0; tower < 2; tower++)
        for (int l = 0; l < (tower ? tl : vl); l++) {
            int w = tower ? tw : vw;
            const char *tp = tower ? "text_model" : "vision_model";
#define B(s, nd, a, b)                                                                                       \
    snprintf(n, sizeof n, "%s.encoder.layers.%d.%s", tp, l, s), add(&tb, pre, n, nd, a, b, 0, 0)
            B("layer_norm1.weight", 1, w, 0);
            B("layer_norm1.bias", 1, w, 0);
            B("self_attn.q_proj.weight", 2, w, w);
            B("self_attn.q_proj.bias", 1, w, 0);
            B("self_attn.k_proj.weight", 2, w, w);
            B("self_attn.k_proj.bias", 1, w, 0);
            B("self_attn.v_proj.weight", 2, w, w);
            B("self_attn.v_proj.bias", 1, w, 0);
            B("self_attn.out_proj.weight", 2, w, w);
            B("self_attn.out_proj.bias", 1, w, 0);
            B("layer_norm2.weight", 1, w, 0);
            B("layer_norm2.bias", 1, w, 0);
            B("mlp.fc1.weight", 2, 4 * w, w);
            B("mlp.fc1.bias", 1, 4 * w, 0);
            B("mlp.fc2.weight", 2, w, 4 * w);
            B("mlp.fc2.bias", 1, w, 0);
#undef B
        }
    return tb;
}

static void test_infer(void) {
    static const struct {
        const char *name;
        int vw, vl, P, S, tw, tl, E, vh, th;
    } m[] = {
        {"ViT-B/32", 768, 12, 32, 224, 512, 12, 512, 12, 8},
        {"ViT-B/16", 768, 12, 16, 224, 512, 12, 512, 12, 8},
        {"ViT-L/14", 1024, 24, 14, 224, 768, 12, 768, 16, 12},
        {"ViT-L/14@336px", 1024, 24, 14, 336, 768, 12, 768, 16, 12},
    };
    static const char *pres[] = {"", "module."};
    for (size_t i = 0; i < sizeof m / sizeof *m; i++)
        for (int hf = 0; hf < 2; hf++)
            for (int pi = 0; pi < 2; pi++) {
                if (pi && i) continue; /* the prefix once is enough */
                tab_t tb = model_table(hf, pres[pi], m[i].vw, m[i].vl, m[i].P, m[i].S, m[i].tw, m[i].tl, 77,
                                       49408, m[i].E);
                clip_config_t c, w = {m[i].vw, m[i].vl, m[i].vh, m[i].P, m[i].S, m[i].tw,
                                      m[i].tl, m[i].th, 77,      49408,  m[i].E, 4, {0}};
                err_t e = {0};
                int rc = clip_infer_config(tb.t, tb.n, NULL, &c, &e);
                CHECK(!rc && cfg_eq(&c, &w), "%s, %s naming%s%s: config from %zu shapes%s%s", m[i].name,
                      hf ? "HF" : "OpenAI", pi ? ", prefix " : "", pres[pi], tb.n, rc ? ": " : "",
                      rc ? e.msg : "");
                if (!rc && !cfg_eq(&c, &w)) print_cfg(&c);
                if (!rc) {
                    clip_params_t p;
                    clip_params_alloc(&p, &c);
                    size_t numel = 0; /* the layout holds exactly the table's float parameters */
                    for (size_t k = 0; k < tb.n; k++) {
                        if (strstr(tb.t[k].name, "position_ids") || strstr(tb.t[k].name, "input_resolution"))
                            continue;
                        size_t x = 1;
                        for (int d = 0; d < tb.t[k].ndim; d++) x *= (size_t)tb.t[k].shape[d];
                        numel += x;
                    }
                    CHECK(p.n == numel, "%s: layout has the file's %zu parameters (%zu)", m[i].name, numel,
                          p.n);
                    clip_params_free(&p);
                }
                tab_free(&tb);
            }
    /* ViT-H/14-like widths need explicit heads */
    tab_t tb = model_table(0, "", 1280, 2, 14, 224, 1024, 2, 77, 49408, 1024);
    clip_config_t c;
    err_t e = {0};
    clip_load_opts_t o = {16, 0};
    int rc = clip_infer_config(tb.t, tb.n, &o, &c, &e);
    CHECK(!rc && c.v_heads == 16 && c.t_heads == 16,
          "heads: override for vision (16), rule for text (1024/64)");
    /* drop one tensor, change one shape, break the grid, add a ResNet name, duplicate a name */
    clip_shape_t saved = tb.t[5];
    tb.t[5] = tb.t[--tb.n];
    rc = clip_infer_config(tb.t, tb.n, NULL, &c, &e);
    char want[200];
    snprintf(want, sizeof want, "tensor '%s' is missing", saved.name);
    expect_err(rc, &e, "a table without one tensor", want, NULL);
    tb.t[tb.n++] = tb.t[5];
    tb.t[5] = saved;
    for (size_t k = 0; k < tb.n; k++)
        if (!strcmp(tb.t[k].name, "transformer.resblocks.1.mlp.c_proj.weight")) tb.t[k].shape[1] = 4000;
    rc = clip_infer_config(tb.t, tb.n, NULL, &c, &e);
    expect_err(rc, &e, "mis-shaped c_proj",
               "'transformer.resblocks.1.mlp.c_proj.weight' has shape [1024,4000], expected [1024,4096]",
               NULL);
    for (size_t k = 0; k < tb.n; k++)
        if (!strcmp(tb.t[k].name, "transformer.resblocks.1.mlp.c_proj.weight")) tb.t[k].shape[1] = 4096;
    for (size_t k = 0; k < tb.n; k++)
        if (!strcmp(tb.t[k].name, "visual.positional_embedding")) tb.t[k].shape[0] = 250;
    rc = clip_infer_config(tb.t, tb.n, NULL, &c, &e);
    expect_err(rc, &e, "250 positions (not grid^2 + 1)", "visual.positional_embedding", "grid^2 + 1");
    for (size_t k = 0; k < tb.n; k++)
        if (!strcmp(tb.t[k].name, "visual.positional_embedding")) tb.t[k].shape[0] = 257;
    add(&tb, "", "visual.layer1.0.conv1.weight", 4, 64, 64, 1, 1);
    rc = clip_infer_config(tb.t, tb.n, NULL, &c, &e);
    /* one ResNet name makes it a ResNet CLIP: refused as one that lacks its other stages */
    expect_err(rc, &e, "a stray ResNet tensor name", "ResNet CLIP without blocks in stage 2", "visual.layer2.0.*");
    tb.n--;
    add(&tb, "", "visual.proj", 2, 1280, 1024, 0, 0);
    rc = clip_infer_config(tb.t, tb.n, &o, &c, &e);
    expect_err(rc, &e, "a name twice", "'visual.proj' appears twice", NULL);
    tb.n--;
    add(&tb, "", "visual.transformer.resblocks.123456.ln_1.weight", 1, 1280, 0, 0, 0);
    rc = clip_infer_config(tb.t, tb.n, &o, &c, &e);
    expect_err(rc, &e, "absurd layer index", "layer index 123456 is too large", NULL);
    add(&tb, "", "visual.transformer.resblocks.5.ln_1.weight", 1, 1280, 0, 0, 0);
    tb.t[tb.n - 2] = tb.t[tb.n - 1];
    tb.n--;
    rc = clip_infer_config(tb.t, tb.n, &o, &c, &e);
    expect_err(rc, &e, "a gap in the layers (0, 1, 5)",
               "tensor 'visual.transformer.resblocks.2.ln_1.weight' is missing", NULL);
    tab_free(&tb);
    rc = clip_infer_config(NULL, 0, NULL, &c, &e);
    expect_err(rc, &e, "an empty table", "not a CLIP checkpoint", NULL);
}

static void test_save(const char *tmpdir) {
    clip_params_t p, q;
    err_t e = {0};
    clip_load_opts_t o = {want_cfg.v_heads, want_cfg.t_heads};
    int rc = clip_load_opts(FIX "openai_jit.pt", &p, &o, &e);
    CHECK(!rc, "load the TorchScript fixture to save it");
    if (rc) return;
    char path[512];
    snprintf(path, sizeof path, "%s/saved.safetensors", tmpdir);
    rc = clip_save_safetensors(path, &p, &e);
    CHECK(!rc, "clip_save_safetensors%s%s", rc ? ": " : "", rc ? e.msg : "");
    rc = clip_load(path, &q, &e); /* heads come back from the metadata */
    CHECK(!rc && cfg_eq(&q.cfg, &p.cfg) && q.n == p.n && !memcmp(q.mem, p.mem, p.n * 4),
          "round trip through safetensors: same config and block%s%s", rc ? ": " : "", rc ? e.msg : "");
    if (!rc) {
        same_as_ref(&q, "saved and reloaded");
        clip_params_free(&q);
    }
    tensorfile_t *tf = tf_open(path, &e);
    size_t n = tf ? tf_count(tf) : 0, f32 = 0;
    for (size_t i = 0; i < n; i++) f32 += tf_info(tf, i)->dtype == TF_F32;
    const tf_info_t *t = tf ? tf_find(tf, "visual.proj") : NULL;
    const tf_info_t *ls = tf ? tf_find(tf, "logit_scale") : NULL;
    CHECK(tf && f32 == n && n == 14 + 12 * (size_t)(p.cfg.v_layers + p.cfg.t_layers) && t &&
              t->shape[0] == p.cfg.v_width && t->shape[1] == p.cfg.embed_dim && ls && ls->ndim == 0 &&
              tf_find(tf, "transformer.resblocks.0.attn.in_proj_weight") &&
              !strcmp(tf_meta(tf, "v_heads"), "2") && tf_f32_view(tf, t),
          "saved file: %zu F32 tensors in OpenAI naming, heads in metadata, aligned data", n);
    tf_close(tf);
    /* no temp file left behind; an unwritable place is EXIT_IO */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q tmp", tmpdir);
    CHECK(system(cmd) != 0, "no temporary file left in %s", tmpdir);
    rc = clip_save_safetensors("/nonexistent-dir/x.safetensors", &p, &e);
    CHECK(rc == EXIT_IO && strstr(e.msg, "/nonexistent-dir/x.safetensors"), "unwritable path -> EXIT_IO: %s",
          e.msg);
    unlink(path);
    clip_params_free(&p);
}

int main(void) {
    char tmpdir[] = "/tmp/test_clip_loadXXXXXX";
    if (!mkdtemp(tmpdir)) return 2;
    read_refs();
    test_fixtures();
    test_heads(tmpdir);
    test_errors();
    test_infer();
    test_save(tmpdir);
    rmdir(tmpdir);
    free(ref);
    T_DONE();
}
