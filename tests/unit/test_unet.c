/* test_unet.c - the sketch enhancer's networks (common/unet.c):
 *   - parameter counts at full size: the study's U-Net 54,408,385 (base 64),
 *     pix2pix's unet_256 (3 -> 3) 54,413,955, the 70x70 PatchGAN on 2 and 6
 *     channels 2,764,609 and 2,768,705 (tests/gen_unet_ref.py prints the same
 *     from its PyTorch twins); logit map sides 30 (256) and 26 (224); which
 *     decoders carry dropout;
 *   - against the PyTorch twins (tests/fixtures/unet/): the study's generator
 *     (with its io -> size -> io resizing), pix2pix's, each with batch norm
 *     and with instance norm, and the PatchGAN with batch and instance norm:
 *     training-mode output, every parameter gradient, the input gradient(s)
 *     and the running statistics after the step; then eval mode (running
 *     statistics) output, input gradient and every parameter gradient -- each serially
 *     and on 2- and 3-thread pools;
 *   - a 10-step pix2pix training run (G step and D step alternating, Adam
 *     2e-4 (0.5, 0.999), BCE with logits + 100 L1) for both generators:
 *     every loss of every step, and the trained generator's eval output;
 *   - dropout (no twin: our masks): the masks are nn/dropout.h's, keyed by
 *     (seed, level), the same for 1, 2 and 3 threads; finite differences of
 *     both generators with dropout on, and of the discriminator;
 *   - initialisation statistics, a checkpoint round trip (running statistics
 *     included), no reallocation across steps, and the errors.
 * Comparisons are |a-b| <= atol*max|want| + rtol*|b| and print the worst element. */
#include "checkpoint.h"
#include "nn/dropout.h"
#include "nn/loss.h"
#include "pool.h"
#include "t.h"
#include "tensorfile.h"
#include "tfix.h"
#include "unet.h"
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define NPAR 3
static nn_par_t pars[NPAR];
static const char *par_name[NPAR] = {"1 thread", "2 threads", "3 threads"};
#define GRAD0 0.25f /* input gradients start here: backward must add */

/* float32 against the float64 twin, through up to 13 layers with norms */
#define ATOL 4e-5
#define RTOL 2e-4

static double maxabs(const float *v, size_t n) {
    double m = 0;
    for (size_t i = 0; v && i < n; i++) m = fmax(m, fabs(v[i]));
    return m;
}

static double worst_seen; /* the largest fraction of tolerance over all comparisons */

static int close_off(const char *what, const float *a, const float *b, float off, size_t n, double atol,
                     double rtol) {
    if (!a || !b) {
        CHECK(0, "%s: data present", what);
        return 0;
    }
    double at = atol * fmax(maxabs(b, n), 1e-3), worst = 0, wa = 0, wb = 0;
    size_t bad = 0, wi = 0;
    for (size_t i = 0; i < n; i++) {
        double got = (double)a[i] - off, d = fabs(got - b[i]), lim = at + rtol * fabs(b[i]);
        if (!(d <= lim)) bad++;
        if (!(d / lim <= worst) || i == 0) {
            worst = d / lim;
            wi = i;
            wa = got;
            wb = b[i];
        }
    }
    if (worst > worst_seen) worst_seen = worst;
    CHECK(bad == 0, "%s: %zu values (worst [%zu] %.7g vs %.7g, %.2f of tolerance)", what, n, wi, wa, wb, worst);
    return bad == 0;
}

static int is_stat(const char *name) { return strstr(name, ".running_") != NULL; }

/* Every tensor of ps from pfx+name. */
static int load_params(params_t *ps, tensorfile_t *tf, const char *pfx) {
    int ok = 1;
    for (int i = 0; i < ps->n; i++) {
        char key[256];
        snprintf(key, sizeof key, "%s%s", pfx, ps->t[i].name);
        float *v = t_tensor(tf, key, ps->t[i].numel);
        if (!v) {
            ok = 0;
            continue;
        }
        memcpy(ps->data + ps->t[i].offset, v, sizeof(float) * ps->t[i].numel);
        free(v);
    }
    return ok;
}

/* Gradients (or, with stats, the running statistics) of ps against pfx+name;
 * need_all: every trainable tensor must be in the file. */
static void cmp_params(const char *what, params_t *ps, const float *block, tensorfile_t *tf, const char *pfx,
                       int stats, int need_all) {
    int n = 0, ok = 1, missing = 0;
    double gscale = 0; /* the largest |want| of any tensor compared */
    for (int i = 0; i < ps->n; i++) {
        char key[256];
        snprintf(key, sizeof key, "%s%s", pfx, ps->t[i].name);
        if (is_stat(ps->t[i].name) != stats || !tf_find(tf, key)) continue;
        float *want = t_tensor(tf, key, ps->t[i].numel);
        gscale = fmax(gscale, maxabs(want, ps->t[i].numel));
        free(want);
    }
    for (int i = 0; i < ps->n; i++) {
        if (is_stat(ps->t[i].name) != stats) continue;
        char key[256];
        snprintf(key, sizeof key, "%s%s", pfx, ps->t[i].name);
        if (!tf_find(tf, key)) {
            missing += need_all;
            continue;
        }
        float *want = t_tensor(tf, key, ps->t[i].numel);
        char w[320];
        snprintf(w, sizeof w, "%s %s", what, ps->t[i].name);
        int before = t_fail;
        if (!stats && maxabs(want, ps->t[i].numel) < 1e-9 * gscale) {
            /* a conv bias before an affine-free instance norm: the twin's gradient is 0
             * up to float64 rounding; ours is float32 cancellation noise */
            double got = maxabs(block + ps->t[i].offset, ps->t[i].numel);
            CHECK(got <= 1e-5 * gscale, "%s: structurally zero (max |got| %.3g, gradient scale %.3g)", w, got, gscale);
        } else {
            close_off(w, block + ps->t[i].offset, want, 0, ps->t[i].numel, ATOL, RTOL);
        }
        if (t_fail != before) ok = 0;
        free(want);
        n++;
    }
    CHECK(n > 0 && !missing, "%s: %d tensors compared%s", what, n, missing ? ", some missing" : "");
    (void)ok;
}

/* ------------------------------------------------------------ generator vs twin */

static int read_cfg(tensorfile_t *tf, const char *key, float *v, size_t n) {
    float *c = t_tensor(tf, key, n);
    if (!c) return 0;
    memcpy(v, c, sizeof(float) * n);
    free(c);
    return 1;
}

static unet_config_t gcfg_from(const float *v, int *B) {
    /* arch, norm, in, out, base, depth, size, io, n_dropout, batch */
    int arch = (int)v[0], in = (int)v[2], out = (int)v[3], base = (int)v[4];
    unet_config_t c = arch == UNET_ARCH_STUDY ? unet_study_config(base) : unet_pix2pix_config(in, out, base);
    c.norm = (int)v[1];
    c.in_ch = in;
    c.out_ch = out;
    c.depth = (int)v[5];
    c.size = (int)v[6];
    c.io_size = (int)v[7];
    c.n_dropout = (int)v[8];
    c.dropout = 0; /* the twins run p = 0 */
    *B = (int)v[9];
    return c;
}

static void test_generator(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/unet/%s.safetensors", name);
    err_t e = {0};
    tensorfile_t *tf = tf_open(path, &e);
    CHECK(tf != NULL, "%s: fixture opens (%s)", name, e.msg);
    if (!tf) return;
    float cv[10];
    if (!read_cfg(tf, "config", cv, 10)) {
        CHECK(0, "%s: config", name);
        tf_close(tf);
        return;
    }
    int B;
    unet_config_t c = gcfg_from(cv, &B);
    int io = c.io_size ? c.io_size : c.size;
    size_t nx = (size_t)B * c.in_ch * io * io, ny = (size_t)B * c.out_ch * io * io;
    float *x = t_tensor(tf, "x", nx), *dout = t_tensor(tf, "dout", ny);
    float *y = malloc(sizeof(float) * ny), *dx = malloc(sizeof(float) * nx);
    int has_eval = tf_find(tf, "eval.out") != NULL;
    for (int v = 0; v < NPAR && x && dout; v++) {
        char what[128];
        unet_t m;
        int rc = unet_init(&m, &c, B + v % 2, &pars[v], &e); /* cap > B on one run */
        CHECK(rc == 0, "%s (%s): init (%s)", name, par_name[v], e.msg);
        if (rc) continue;
        CHECK(load_params(&m.ps, tf, "w."), "%s: weights load", name);
        /* training mode */
        for (size_t i = 0; i < ny; i++) y[i] = NAN;
        rc = unet_forward(&m, x, B, y, &e);
        CHECK(rc == 0, "%s (%s): train forward (%s)", name, par_name[v], e.msg);
        float *want = t_tensor(tf, "train.out", ny);
        snprintf(what, sizeof what, "%s (%s): train output", name, par_name[v]);
        close_off(what, y, want, 0, ny, ATOL, RTOL);
        free(want);
        snprintf(what, sizeof what, "%s (%s): running stats", name, par_name[v]);
        if (c.norm == UNET_NORM_BATCH) cmp_params(what, &m.ps, m.ps.data, tf, "train.after.", 1, 1);
        params_zero_grad(&m.ps, NULL);
        for (size_t i = 0; i < nx; i++) dx[i] = GRAD0;
        rc = unet_backward(&m, dout, dx, &e);
        CHECK(rc == 0, "%s (%s): train backward (%s)", name, par_name[v], e.msg);
        want = t_tensor(tf, "train.dx", nx);
        snprintf(what, sizeof what, "%s (%s): train d input", name, par_name[v]);
        close_off(what, dx, want, GRAD0, nx, ATOL, RTOL);
        free(want);
        snprintf(what, sizeof what, "%s (%s): train grad", name, par_name[v]);
        cmp_params(what, &m.ps, m.ps.grad, tf, "train.grad.", 0, 1);
        if (has_eval) {
            m.train = 0;
            rc = unet_forward(&m, x, B, y, &e);
            CHECK(rc == 0, "%s (%s): eval forward (%s)", name, par_name[v], e.msg);
            want = t_tensor(tf, "eval.out", ny);
            snprintf(what, sizeof what, "%s (%s): eval output", name, par_name[v]);
            close_off(what, y, want, 0, ny, ATOL, RTOL);
            free(want);
            params_zero_grad(&m.ps, NULL);
            for (size_t i = 0; i < nx; i++) dx[i] = GRAD0;
            rc = unet_backward(&m, dout, dx, &e);
            CHECK(rc == 0, "%s (%s): eval backward (%s)", name, par_name[v], e.msg);
            want = t_tensor(tf, "eval.dx", nx);
            snprintf(what, sizeof what, "%s (%s): eval d input", name, par_name[v]);
            close_off(what, dx, want, GRAD0, nx, ATOL, RTOL);
            free(want);
            snprintf(what, sizeof what, "%s (%s): eval grad", name, par_name[v]);
            cmp_params(what, &m.ps, m.ps.grad, tf, "eval.grad.", 0, 1);
        }
        unet_free(&m);
    }
    free(x);
    free(dout);
    free(y);
    free(dx);
    tf_close(tf);
}

/* ------------------------------------------------------------ PatchGAN vs twin */

static patchgan_config_t dcfg_from(const float *v, int *B) {
    /* norm, a_ch, b_ch, ndf, n_layers, size, batch */
    patchgan_config_t c = patchgan_default_config((int)v[1], (int)v[2], (int)v[5]);
    c.norm = (int)v[0];
    c.ndf = (int)v[3];
    c.n_layers = (int)v[4];
    *B = (int)v[6];
    return c;
}

static void test_patchgan(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/unet/%s.safetensors", name);
    err_t e = {0};
    tensorfile_t *tf = tf_open(path, &e);
    CHECK(tf != NULL, "%s: fixture opens (%s)", name, e.msg);
    if (!tf) return;
    float cv[7];
    int B;
    if (!read_cfg(tf, "config", cv, 7)) {
        CHECK(0, "%s: config", name);
        tf_close(tf);
        return;
    }
    patchgan_config_t c = dcfg_from(cv, &B);
    int S = c.size, oh = patchgan_out_size(&c);
    size_t na = (size_t)B * c.a_ch * S * S, nb = (size_t)B * c.b_ch * S * S, no = (size_t)B * oh * oh;
    float *a = t_tensor(tf, "a", na), *b = t_tensor(tf, "b", nb), *dout = t_tensor(tf, "dout", no);
    float *y = malloc(sizeof(float) * no), *da = malloc(sizeof(float) * na), *db = malloc(sizeof(float) * nb);
    int has_eval = tf_find(tf, "eval.out") != NULL;
    static const char *mode[2] = {"train", "eval"};
    for (int v = 0; v < NPAR && a && b && dout; v++) {
        char what[160], key[64];
        patchgan_t d;
        int rc = patchgan_init(&d, &c, B, &pars[v], &e);
        CHECK(rc == 0, "%s (%s): init (%s)", name, par_name[v], e.msg);
        if (rc) continue;
        CHECK(load_params(&d.ps, tf, "w."), "%s: weights load", name);
        for (int md = 0; md < 1 + has_eval; md++) {
            d.train = md == 0;
            for (size_t i = 0; i < no; i++) y[i] = NAN;
            rc = patchgan_forward(&d, a, b, B, y, &e);
            CHECK(rc == 0, "%s (%s): %s forward (%s)", name, par_name[v], mode[md], e.msg);
            snprintf(key, sizeof key, "%s.out", mode[md]);
            float *want = t_tensor(tf, key, no);
            snprintf(what, sizeof what, "%s (%s): %s logits", name, par_name[v], mode[md]);
            close_off(what, y, want, 0, no, ATOL, RTOL);
            free(want);
            if (md == 0 && c.norm == UNET_NORM_BATCH) {
                snprintf(what, sizeof what, "%s (%s): running stats", name, par_name[v]);
                cmp_params(what, &d.ps, d.ps.data, tf, "train.after.", 1, 1);
            }
            params_zero_grad(&d.ps, NULL);
            for (size_t i = 0; i < na; i++) da[i] = GRAD0;
            for (size_t i = 0; i < nb; i++) db[i] = GRAD0;
            rc = patchgan_backward(&d, dout, da, db, &e);
            CHECK(rc == 0, "%s (%s): %s backward (%s)", name, par_name[v], mode[md], e.msg);
            snprintf(key, sizeof key, "%s.da", mode[md]);
            want = t_tensor(tf, key, na);
            snprintf(what, sizeof what, "%s (%s): %s d a", name, par_name[v], mode[md]);
            close_off(what, da, want, GRAD0, na, ATOL, RTOL);
            free(want);
            snprintf(key, sizeof key, "%s.db", mode[md]);
            want = t_tensor(tf, key, nb);
            snprintf(what, sizeof what, "%s (%s): %s d b", name, par_name[v], mode[md]);
            close_off(what, db, want, GRAD0, nb, ATOL, RTOL);
            free(want);
            snprintf(key, sizeof key, "%s.grad.", mode[md]);
            snprintf(what, sizeof what, "%s (%s): %s grad", name, par_name[v], mode[md]);
            cmp_params(what, &d.ps, d.ps.grad, tf, key, 0, 1);
        }
        patchgan_free(&d);
    }
    free(a);
    free(b);
    free(dout);
    free(y);
    free(da);
    free(db);
    tf_close(tf);
}

/* ------------------------------------------------------------ training curve */

#define CURVE_RTOL 1e-5 /* relative, on every loss of every step */

static void test_curve(const char *name, int v) {
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/unet/%s.safetensors", name);
    err_t e = {0};
    tensorfile_t *tf = tf_open(path, &e);
    CHECK(tf != NULL, "%s: fixture opens (%s)", name, e.msg);
    if (!tf) return;
    float gv[10], dv[7];
    if (!read_cfg(tf, "gconfig", gv, 10) || !read_cfg(tf, "dconfig", dv, 7)) {
        CHECK(0, "%s: configs", name);
        tf_close(tf);
        return;
    }
    int B, B2;
    unet_config_t gc = gcfg_from(gv, &B);
    patchgan_config_t dc = dcfg_from(dv, &B2);
    unet_t G;
    patchgan_t D;
    int rc = unet_init(&G, &gc, B, &pars[v], &e);
    CHECK(rc == 0, "%s: G init (%s)", name, e.msg);
    rc |= patchgan_init(&D, &dc, B, &pars[v], &e);
    CHECK(rc == 0, "%s: D init (%s)", name, e.msg);
    if (rc) {
        tf_close(tf);
        return;
    }
    CHECK(load_params(&G.ps, tf, "g.w.") && load_params(&D.ps, tf, "d.w."), "%s: weights load", name);
    int io = dc.size, no = patchgan_out_size(&dc);
    size_t nimg = (size_t)B * gc.out_ch * io * io, nlog = (size_t)B * no * no;
    float *A = t_tensor(tf, "A", (size_t)B * gc.in_ch * io * io), *Bt = t_tensor(tf, "B", nimg);
    float *ld = t_tensor(tf, "loss_d", 10), *lgg = t_tensor(tf, "loss_g_gan", 10), *lgl = t_tensor(tf, "loss_g_l1", 10);
    float *fake = malloc(sizeof(float) * nimg), *gfake = malloc(sizeof(float) * nimg);
    float *logit = malloc(sizeof(float) * nlog), *dlog = malloc(sizeof(float) * nlog);
    adamw_hparams_t hp = {.lr = 2e-4, .beta1 = 0.5, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0};
    double worst = 0;
    int bad = 0;
    const float *p_act = G.act, *p_g = G.gblock, *p_ws = G.ws, *d_act = D.act;
    for (int t = 0; t < 10 && A && Bt && ld && lgg && lgl; t++) {
        float lf, lr, lg, l1;
        rc = unet_forward(&G, A, B, fake, &e);
        /* D step: (A, G(A)) -> 0, (A, B) -> 1, halved */
        D.frozen = 0;
        params_zero_grad(&D.ps, &pars[v]);
        rc |= patchgan_forward(&D, A, fake, B, logit, &e);
        rc |= bce_logits_loss(&pars[v], &lf, dlog, logit, NULL, 0.0f, nlog, 0.5f);
        rc |= patchgan_backward(&D, dlog, NULL, NULL, &e);
        rc |= patchgan_forward(&D, A, Bt, B, logit, &e);
        rc |= bce_logits_loss(&pars[v], &lr, dlog, logit, NULL, 1.0f, nlog, 0.5f);
        rc |= patchgan_backward(&D, dlog, NULL, NULL, &e);
        rc |= params_step(&D.ps, &hp, t + 1, &pars[v], &e);
        /* G step: BCE(D(A, G(A)), 1) + 100 L1(G(A), B); D frozen */
        D.frozen = 1;
        params_zero_grad(&G.ps, &pars[v]);
        rc |= patchgan_forward(&D, A, fake, B, logit, &e);
        rc |= bce_logits_loss(&pars[v], &lg, dlog, logit, NULL, 1.0f, nlog, 1.0f);
        rc |= l1_loss(&pars[v], &l1, gfake, fake, Bt, nimg, 100.0f);
        rc |= patchgan_backward(&D, dlog, NULL, gfake, &e);
        rc |= unet_backward(&G, gfake, NULL, &e);
        rc |= params_step(&G.ps, &hp, t + 1, &pars[v], &e);
        if (rc) {
            CHECK(0, "%s: step %d runs (%s)", name, t, e.msg);
            break;
        }
        double got[3] = {0.5 * ((double)lf + lr), lg, l1}, want[3] = {ld[t], lgg[t], lgl[t]};
        for (int k = 0; k < 3; k++) {
            double r = fabs(got[k] - want[k]) / (CURVE_RTOL * fabs(want[k]));
            if (r > worst) worst = r;
            if (!(r <= 1)) {
                bad++;
                printf("#   step %d loss %d: %.7g vs %.7g\n", t, k, got[k], want[k]);
            }
        }
        if (t == 9)
            printf("# %s (%s): step 10 D %.6f (torch %.6f)  G_GAN %.6f (%.6f)  L1 %.6f (%.6f)\n", name, par_name[v],
                   got[0], want[0], got[1], want[1], got[2], want[2]);
    }
    CHECK(bad == 0, "%s (%s): 10 steps, D, G_GAN and L1 losses within %g relative (worst %.2g relative)", name,
          par_name[v], CURVE_RTOL, worst * CURVE_RTOL);
    CHECK(G.act == p_act && G.gblock == p_g && G.ws == p_ws && D.act == d_act,
          "%s: no buffer reallocated across the steps", name);
    G.train = 0;
    rc = unet_forward(&G, A, B, fake, &e);
    float *want = t_tensor(tf, "final_eval_out", nimg);
    char what[128];
    snprintf(what, sizeof what, "%s (%s): trained generator's eval output", name, par_name[v]);
    close_off(what, fake, want, 0, nimg, 1e-4, 1e-3);
    free(want);
    free(A);
    free(Bt);
    free(ld);
    free(lgg);
    free(lgl);
    free(fake);
    free(gfake);
    free(logit);
    free(dlog);
    unet_free(&G);
    patchgan_free(&D);
    tf_close(tf);
}

/* ------------------------------------------------------------ structure */

static void test_counts(void) {
    unet_config_t s = unet_study_config(64);
    CHECK(unet_param_count(&s) == 54408385, "study U-Net at base 64: %zu parameters (54,408,385)",
          unet_param_count(&s));
    unet_config_t p = unet_pix2pix_config(3, 3, 64);
    CHECK(unet_param_count(&p) == 54413955, "pix2pix unet_256 3->3: %zu parameters (54,413,955)",
          unet_param_count(&p));
    patchgan_config_t d = patchgan_default_config(1, 1, 256);
    CHECK(patchgan_param_count(&d) == 2764609, "PatchGAN on 2 channels: %zu parameters (2,764,609)",
          patchgan_param_count(&d));
    CHECK(patchgan_out_size(&d) == 30, "70x70 PatchGAN: 30x30 logits on 256 (%d)", patchgan_out_size(&d));
    d.size = 224;
    CHECK(patchgan_out_size(&d) == 26, "26x26 on 224 (%d)", patchgan_out_size(&d));
    patchgan_config_t d6 = patchgan_default_config(3, 3, 256);
    CHECK(patchgan_param_count(&d6) == 2768705, "PatchGAN on 6 channels: %zu parameters (2,768,705)",
          patchgan_param_count(&d6));
    /* small configs: base 16 at 64 px */
    unet_config_t q = unet_study_config(16);
    q.size = 64, q.io_size = 0, q.depth = 6;
    CHECK(unet_param_count(&q) > 0, "study U-Net base 16 depth 6: %zu parameters", unet_param_count(&q));
    /* which decoders drop: study d, d-1, d-2; pix2pix d-1, d-2, d-3 */
    err_t e = {0};
    unet_config_t s8 = unet_study_config(1);
    unet_t m;
    if (unet_init(&m, &s8, 1, NULL, &e) == 0) {
        char got[32] = "";
        for (int k = 8; k >= 1; k--)
            if (m.dec[k - 1].drop) snprintf(got + strlen(got), sizeof got - strlen(got), "%d", k);
        CHECK(!strcmp(got, "876"), "study: dropout on dec8, dec7, dec6 (%s)", got);
        CHECK(m.enc[0].b && m.enc[7].b && !m.enc[1].b && !m.dec[1].b && m.dec[0].b && m.enc[1].nw && !m.enc[7].nw,
              "study: conv bias only where no norm follows");
        unet_free(&m);
    } else {
        CHECK(0, "study base 1 init: %s", e.msg);
    }
    unet_config_t p8 = unet_pix2pix_config(1, 1, 1);
    if (unet_init(&m, &p8, 1, NULL, &e) == 0) {
        char got[32] = "";
        for (int k = 8; k >= 1; k--)
            if (m.dec[k - 1].drop) snprintf(got + strlen(got), sizeof got - strlen(got), "%d", k);
        CHECK(!strcmp(got, "765"), "pix2pix: dropout on dec7, dec6, dec5 (%s)", got);
        CHECK(!m.enc[0].b && !m.enc[7].b && m.dec[0].b && !m.dec[7].b, "pix2pix: no conv bias with batch norm but the last");
        unet_free(&m);
    } else {
        CHECK(0, "pix2pix base 1 init: %s", e.msg);
    }
}

static void test_init(void) {
    err_t e = {0};
    rng_t r;
    rng_seed(&r, 5);
    unet_config_t p = unet_pix2pix_config(1, 1, 8);
    p.depth = 6, p.size = 64;
    unet_t m;
    if (unet_init(&m, &p, 2, NULL, &e)) {
        CHECK(0, "init: %s", e.msg);
        return;
    }
    unet_init_weights(&m, &r);
    param_view_t w = params_view(&m.ps, "enc5.conv.weight"), g = params_view(&m.ps, "enc3.norm.weight");
    param_view_t rv = params_view(&m.ps, "enc3.norm.running_var"), b = params_view(&m.ps, "dec1.conv.bias");
    double s = 0, s2 = 0;
    for (size_t i = 0; i < w.t->numel; i++) s += w.data[i], s2 += (double)w.data[i] * w.data[i];
    double sd = sqrt(s2 / w.t->numel - (s / w.t->numel) * (s / w.t->numel));
    CHECK(fabs(sd - 0.02) < 0.001 && fabs(s / w.t->numel) < 0.001, "pix2pix init: conv weights N(0, 0.02) (sd %.5f)", sd);
    double gm = 0;
    for (size_t i = 0; i < g.t->numel; i++) gm += g.data[i];
    gm /= g.t->numel;
    CHECK(fabs(gm - 1) < 0.02 && g.data[0] != 1.0f, "pix2pix init: norm weights N(1, 0.02) (mean %.4f)", gm);
    CHECK(rv.data[0] == 1 && b.data[0] == 0, "running var starts at 1, biases at 0");
    unet_free(&m);
    unet_config_t sc = unet_study_config(4);
    sc.depth = 5, sc.size = 32, sc.io_size = 0;
    if (unet_init(&m, &sc, 2, NULL, &e)) {
        CHECK(0, "init: %s", e.msg);
        return;
    }
    unet_init_weights(&m, &r);
    w = params_view(&m.ps, "dec3.conv.weight"); /* ConvT (32, 8, 4, 4): torch's fan_in = 8 * 16 */
    double bound = 1 / sqrt(8.0 * 16), mx = 0;
    s2 = 0;
    for (size_t i = 0; i < w.t->numel; i++) mx = fmax(mx, fabs(w.data[i])), s2 += (double)w.data[i] * w.data[i];
    sd = sqrt(s2 / w.t->numel);
    CHECK(mx <= bound && fabs(sd - bound / sqrt(3)) < 0.05 * bound,
          "study init: U(+-1/sqrt(fan_in)) with torch's ConvTranspose fan_in (sd %.4f, bound %.4f)", sd, bound);
    unet_free(&m);
}

/* ------------------------------------------------------------ dropout */

static void test_dropout(void) {
    err_t e = {0};
    rng_t r;
    rng_seed(&r, 9);
    unet_config_t c = unet_study_config(2);
    c.depth = 6, c.size = 64, c.io_size = 56, c.n_dropout = 3, c.dropout = 0.5f;
    int B = 2;
    unet_t m[NPAR];
    for (int v = 0; v < NPAR; v++)
        if (unet_init(&m[v], &c, B, &pars[v], &e)) {
            CHECK(0, "dropout model: %s", e.msg);
            return;
        }
    unet_init_weights(&m[0], &r);
    for (int v = 1; v < NPAR; v++) memcpy(m[v].ps.data, m[0].ps.data, sizeof(float) * m[0].ps.size);
    size_t nx = (size_t)B * 56 * 56;
    float *x = malloc(sizeof(float) * nx), *y0 = malloc(sizeof(float) * nx), *y = malloc(sizeof(float) * nx);
    for (size_t i = 0; i < nx; i++) x[i] = (float)rng_range(&r, -1, 1);
    /* the innermost decoder's norm output without and with dropout */
    unet_layer_t *L = &m[0].dec[5];
    size_t n = (size_t)B * L->cout * L->hout * L->hout;
    m[0].cfg.dropout = 0;
    unet_forward(&m[0], x, B, y0, &e);
    float *pre = malloc(sizeof(float) * n);
    memcpy(pre, L->f, sizeof(float) * n);
    m[0].cfg.dropout = 0.5f;
    m[0].dropout_seed = 1234;
    unet_forward(&m[0], x, B, y0, &e);
    size_t bad = 0, kept = 0;
    for (size_t i = 0; i < n; i++) {
        int k = dropout_keep(1234, 6, i, 0.5f);
        kept += k;
        if (L->mask[i] != k || L->f[i] != (k ? pre[i] * 2.0f : 0.0f)) bad++;
    }
    CHECK(bad == 0, "dropout at dec6: mask = dropout_keep(seed, level 6, i), kept values x2 (%zu of %zu kept)", kept, n);
    size_t tot = 0, on = 0, same = 0, n5 = (size_t)B * m[0].dec[4].cout * m[0].dec[4].hout * m[0].dec[4].hout;
    for (int k = 4; k <= 6; k++) {
        unet_layer_t *Lk = &m[0].dec[k - 1];
        CHECK(Lk->drop && Lk->mask, "dec%d has dropout", k);
        size_t nk = (size_t)B * Lk->cout * Lk->hout * Lk->hout;
        for (size_t i = 0; i < nk; i++) tot++, on += Lk->mask[i];
    }
    size_t ncmp = n5 < n ? n5 : n;
    for (size_t i = 0; i < ncmp; i++) same += m[0].dec[4].mask[i] == L->mask[i];
    CHECK(fabs((double)on / tot - 0.5) < 0.05, "keep rate %.3f over %zu values", (double)on / tot, tot);
    CHECK(same > ncmp * 0.35 && same < ncmp * 0.65, "levels draw independent masks (%zu of %zu agree)", same, ncmp);
    CHECK(!m[0].dec[2].drop && !m[0].dec[1].drop, "no dropout below the three innermost decoders");
    /* the same masks for every thread count */
    for (int v = 1; v < NPAR; v++) {
        m[v].dropout_seed = 1234;
        unet_forward(&m[v], x, B, y, &e);
        int eq = 1;
        for (int k = 4; k <= 6; k++)
            eq &= !memcmp(m[v].dec[k - 1].mask, m[0].dec[k - 1].mask,
                          (size_t)B * m[0].dec[k - 1].cout * m[0].dec[k - 1].hout * m[0].dec[k - 1].hout);
        CHECK(eq, "masks with %s equal the serial ones", par_name[v]);
        close_off("output with dropout, threads vs serial", y, y0, 0, nx, 1e-5, 1e-4);
    }
    /* another seed, another mask; eval mode drops nothing */
    m[0].dropout_seed = 99;
    unet_forward(&m[0], x, B, y, &e);
    size_t diff = 0;
    for (size_t i = 0; i < nx; i++) diff += y[i] != y0[i];
    CHECK(diff > nx / 2, "a new seed changes the output (%zu of %zu)", diff, nx);
    m[0].train = 0;
    unet_forward(&m[0], x, B, y, &e);
    m[0].dropout_seed = 5;
    unet_forward(&m[0], x, B, y0, &e);
    CHECK(!memcmp(y, y0, sizeof(float) * nx), "eval mode: no dropout (the seed does not matter)");
    m[0].eval_dropout = 1;
    unet_forward(&m[0], x, B, y0, &e);
    size_t nd = 0, bad2 = 0;
    for (size_t i = 0; i < nx; i++) nd += y[i] != y0[i];
    for (size_t i = 0; i < n; i++) bad2 += L->f[i] != 0 && L->mask[i] != dropout_keep(5, 6, i, 0.5f);
    CHECK(nd > nx / 2 && bad2 == 0, "eval mode with eval_dropout: the seed's masks over running statistics (%zu changed)", nd);
    m[0].eval_dropout = 0;
    free(pre);
    free(x);
    free(y);
    free(y0);
    for (int v = 0; v < NPAR; v++) unet_free(&m[v]);
}

/* ------------------------------------------------------------ finite differences */

typedef struct {
    unet_t *g;
    patchgan_t *d;
    const float *x, *x2, *r;
    float *y;
    int B;
    size_t ny;
} fd_ctx_t;

static double fd_loss(fd_ctx_t *c) {
    err_t e = {0};
    if (c->g)
        unet_forward(c->g, c->x, c->B, c->y, &e);
    else
        patchgan_forward(c->d, c->x, c->x2, c->B, c->y, &e);
    double s = 0;
    for (size_t i = 0; i < c->ny; i++) s += (double)c->y[i] * c->r[i];
    return s;
}

/* central differences on ~24 entries of p against grad */
static void fd_check(const char *what, float *p, size_t n, const float *grad, fd_ctx_t *c, double eps) {
    size_t step = n > 24 ? n / 24 : 1, bad = 0, cnt = 0;
    double worst = 0, wg = 0, wf = 0, gmax = maxabs(grad, n);
    for (size_t i = 0; i < n; i += step, cnt++) {
        float keep = p[i];
        p[i] = (float)(keep + eps);
        double up = fd_loss(c);
        p[i] = (float)(keep - eps);
        double dn = fd_loss(c);
        p[i] = keep;
        double fd = (up - dn) / (2 * eps), lim = 2e-2 * fmax(gmax, 1e-2) + 5e-2 * fabs(fd);
        double d = fabs(fd - grad[i]);
        if (!(d <= lim)) bad++;
        if (!(d / lim <= worst)) worst = d / lim, wg = grad[i], wf = fd;
    }
    CHECK(bad == 0, "finite differences: %s (%zu entries, worst grad %.6g vs fd %.6g, %.2f of tolerance)", what, cnt,
          wg, wf, worst);
}

static void fd_generator(int arch) {
    err_t e = {0};
    rng_t r;
    rng_seed(&r, 21 + arch);
    unet_config_t c = arch == UNET_ARCH_STUDY ? unet_study_config(2) : unet_pix2pix_config(1, 1, 2);
    c.depth = 6, c.size = 64, c.io_size = arch == UNET_ARCH_STUDY ? 60 : 0, c.n_dropout = 2, c.dropout = 0.5f;
    c.init = UNET_INIT_TORCH; /* larger weights than N(0, 0.02): gradients well above float noise */
    int B = 4, io = arch == UNET_ARCH_STUDY ? 60 : 64;
    unet_t m;
    if (unet_init(&m, &c, B, &pars[1], &e)) {
        CHECK(0, "fd model: %s", e.msg);
        return;
    }
    unet_init_weights(&m, &r);
    m.dropout_seed = 77;
    size_t nx = (size_t)B * io * io;
    float *x = malloc(sizeof(float) * nx), *y = malloc(sizeof(float) * nx), *rr = malloc(sizeof(float) * nx);
    float *dx = calloc(nx, sizeof(float));
    for (size_t i = 0; i < nx; i++) x[i] = (float)rng_range(&r, -1, 1), rr[i] = (float)rng_normal(&r);
    fd_ctx_t ctx = {.g = &m, .x = x, .r = rr, .y = y, .B = B, .ny = nx};
    fd_loss(&ctx);
    params_zero_grad(&m.ps, NULL);
    unet_backward(&m, rr, dx, &e);
    const char *names[] = {"enc1.conv.weight", "enc3.norm.weight", "enc6.conv.weight", "dec6.conv.weight",
                           "dec5.norm.bias", "dec4.conv.weight", "dec1.conv.bias"};
    char what[128];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        param_view_t v = params_view(&m.ps, names[i]);
        if (!v.t) continue;
        snprintf(what, sizeof what, "%s, dropout on: %s", arch == UNET_ARCH_STUDY ? "study" : "pix2pix", names[i]);
        fd_check(what, v.data, v.t->numel, v.grad, &ctx, 1e-4);
    }
    snprintf(what, sizeof what, "%s, dropout on: input", arch == UNET_ARCH_STUDY ? "study" : "pix2pix");
    fd_check(what, x, nx, dx, &ctx, 1e-3);
    free(x);
    free(y);
    free(rr);
    free(dx);
    unet_free(&m);
}

static void fd_patchgan(void) {
    err_t e = {0};
    rng_t r;
    rng_seed(&r, 31);
    patchgan_config_t c = patchgan_default_config(1, 1, 48);
    c.ndf = 4, c.init = UNET_INIT_TORCH;
    int B = 2, oh = patchgan_out_size(&c);
    patchgan_t d;
    if (patchgan_init(&d, &c, B, NULL, &e)) {
        CHECK(0, "fd D: %s", e.msg);
        return;
    }
    patchgan_init_weights(&d, &r);
    size_t nx = (size_t)B * 48 * 48, no = (size_t)B * oh * oh;
    float *a = malloc(sizeof(float) * nx), *b = malloc(sizeof(float) * nx), *y = malloc(sizeof(float) * no);
    float *rr = malloc(sizeof(float) * no), *da = calloc(nx, sizeof(float)), *db = calloc(nx, sizeof(float));
    for (size_t i = 0; i < nx; i++) a[i] = (float)rng_range(&r, -1, 1), b[i] = (float)rng_range(&r, -1, 1);
    for (size_t i = 0; i < no; i++) rr[i] = (float)rng_normal(&r);
    fd_ctx_t ctx = {.d = &d, .x = a, .x2 = b, .r = rr, .y = y, .B = B, .ny = no};
    fd_loss(&ctx);
    params_zero_grad(&d.ps, NULL);
    patchgan_backward(&d, rr, da, db, &e);
    param_view_t v = params_view(&d.ps, "layer2.conv.weight");
    fd_check("PatchGAN layer2.conv.weight", v.data, v.t->numel, v.grad, &ctx, 2.5e-4);
    v = params_view(&d.ps, "layer3.norm.weight");
    fd_check("PatchGAN layer3.norm.weight", v.data, v.t->numel, v.grad, &ctx, 2.5e-4);
    fd_check("PatchGAN d a", a, nx, da, &ctx, 1e-3);
    fd_check("PatchGAN d b", b, nx, db, &ctx, 1e-3);
    free(a);
    free(b);
    free(y);
    free(rr);
    free(da);
    free(db);
    patchgan_free(&d);
}

/* ------------------------------------------------------------ full depth */

/* The presets at their real depth and size (narrow: base 4): the study's
 * 224 -> 256 -> 224 generator, pix2pix's unet_256 on RGB, the PatchGAN on 224;
 * batch 1 in training mode (batch norm over the 2x2 maps of enc7/dec8). */
static void test_full_depth(void) {
    err_t e = {0};
    rng_t r;
    rng_seed(&r, 51);
    for (int arch = 0; arch < 2; arch++) {
        unet_config_t c = arch == UNET_ARCH_STUDY ? unet_study_config(4) : unet_pix2pix_config(3, 3, 4);
        unet_t m;
        if (unet_init(&m, &c, 2, &pars[1], &e)) {
            CHECK(0, "full depth init: %s", e.msg);
            continue;
        }
        unet_init_weights(&m, &r);
        int io = arch == UNET_ARCH_STUDY ? 224 : 256, ch = c.in_ch;
        size_t n = (size_t)2 * ch * io * io;
        float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n), *dx = calloc(n, sizeof(float));
        for (size_t i = 0; i < n; i++) x[i] = (float)rng_range(&r, -1, 1);
        int ok = 1;
        for (int B = 1; B <= 2; B++) {
            m.train = 1;
            m.dropout_seed = (uint64_t)B;
            for (size_t i = 0; i < n; i++) y[i] = NAN;
            ok &= unet_forward(&m, x, B, y, &e) == 0;
            size_t nb = (size_t)B * ch * io * io;
            for (size_t i = 0; i < nb; i++) ok &= y[i] > -1 && y[i] < 1;
            params_zero_grad(&m.ps, NULL);
            ok &= unet_backward(&m, y, dx, &e) == 0;
            ok &= params_check_finite(&m.ps, m.ps.grad, "gradient", NULL, &e) == 0;
            m.train = 0;
            ok &= unet_forward(&m, x, B, y, &e) == 0;
        }
        double gx = 0;
        for (size_t i = 0; i < n; i++) gx += fabs(dx[i]);
        CHECK(ok && gx > 0 && isfinite(gx), "%s at depth 8, %d px, base 4: batch 1 and 2 train/eval, outputs in (-1,1), finite gradients (%s)",
              arch == UNET_ARCH_STUDY ? "study 224<->256" : "pix2pix unet_256 RGB", io, e.msg);
        free(x);
        free(y);
        free(dx);
        unet_free(&m);
    }
    patchgan_config_t dc = patchgan_default_config(1, 1, 224);
    dc.ndf = 4;
    patchgan_t d;
    if (patchgan_init(&d, &dc, 1, NULL, &e) == 0) {
        patchgan_init_weights(&d, &r);
        size_t n = 224 * 224;
        float *a = calloc(n, sizeof(float)), *lg = malloc(sizeof(float) * 26 * 26);
        int rc = patchgan_forward(&d, a, a, 1, lg, &e);
        CHECK(rc == 0 && d.oh == 26 && isfinite(lg[26 * 26 - 1]), "PatchGAN on a 224 pair, batch 1: 26x26 logits (%s)", e.msg);
        free(a);
        free(lg);
        patchgan_free(&d);
    }
}

/* ------------------------------------------------------------ checkpoint, errors */

static void test_checkpoint(void) {
    err_t e = {0};
    rng_t r;
    rng_seed(&r, 41);
    unet_config_t c = unet_study_config(2);
    c.depth = 5, c.size = 32, c.io_size = 28;
    unet_t m, m2;
    if (unet_init(&m, &c, 2, NULL, &e) || unet_init(&m2, &c, 2, NULL, &e)) {
        CHECK(0, "ckpt models: %s", e.msg);
        return;
    }
    unet_init_weights(&m, &r);
    size_t nx = 2 * 28 * 28;
    float *x = malloc(sizeof(float) * nx), *y = malloc(sizeof(float) * nx), *y2 = malloc(sizeof(float) * nx);
    for (size_t i = 0; i < nx; i++) x[i] = (float)rng_range(&r, -1, 1);
    unet_forward(&m, x, 2, y, &e); /* moves the running statistics */
    m.train = m2.train = 0;
    unet_forward(&m, x, 2, y, &e);
    char path[64];
    snprintf(path, sizeof path, "/tmp/test_unet.%d.safetensors", (int)getpid());
    ckpt_state_t st = {0};
    int rc = ckpt_save(path, &m.ps, &st, CKPT_WEIGHTS, &e);
    CHECK(rc == 0, "checkpoint saves (%s)", e.msg);
    rc = ckpt_load(path, &m2.ps, &st, CKPT_WEIGHTS, &e);
    CHECK(rc == 0, "checkpoint loads (%s)", e.msg);
    unet_forward(&m2, x, 2, y2, &e);
    CHECK(!memcmp(y, y2, sizeof(float) * nx), "reloaded model (running statistics included) gives the same bits");
    unlink(path);
    /* a checkpoint of another config is refused, naming a tensor */
    unet_config_t c3 = c;
    c3.base = 3;
    unet_t m3;
    if (unet_init(&m3, &c3, 1, NULL, &e) == 0) {
        ckpt_save(path, &m.ps, &st, CKPT_WEIGHTS, &e);
        rc = ckpt_load(path, &m3.ps, &st, CKPT_WEIGHTS, &e);
        CHECK(rc == EXIT_MODEL && strstr(e.msg, "enc1.conv.weight"), "another config's checkpoint: %s", e.msg);
        unlink(path);
        unet_free(&m3);
    }
    free(x);
    free(y);
    free(y2);
    unet_free(&m);
    unet_free(&m2);
}

static void test_errors(void) {
    err_t e = {0};
    unet_t m;
    unet_config_t c = unet_study_config(2);
    c.depth = 11;
    CHECK(unet_init(&m, &c, 1, NULL, &e) == EXIT_USAGE && strstr(e.msg, "depth"), "depth 11: %s", e.msg);
    c = unet_study_config(2);
    c.size = 200;
    CHECK(unet_init(&m, &c, 1, NULL, &e) == EXIT_USAGE && strstr(e.msg, "multiple"), "size 200: %s", e.msg);
    c = unet_study_config(2);
    c.dropout = 1.5f;
    CHECK(unet_init(&m, &c, 1, NULL, &e) == EXIT_USAGE, "dropout 1.5: %s", e.msg);
    c = unet_pix2pix_config(1, 1, 2);
    c.depth = 4, c.size = 16;
    CHECK(unet_init(&m, &c, 0, NULL, &e) == EXIT_USAGE, "cap 0: %s", e.msg);
    CHECK(unet_param_count(&(unet_config_t){0}) == 0, "bad config counts 0");
    if (unet_init(&m, &c, 2, NULL, &e) == 0) {
        float x[3 * 256] = {0}, y[3 * 256], dy[2 * 256] = {0};
        CHECK(unet_backward(&m, dy, NULL, &e) == EXIT_INTERNAL, "backward before forward: %s", e.msg);
        CHECK(unet_forward(&m, x, 3, y, &e) == EXIT_USAGE, "batch above the cap: %s", e.msg);
        unet_free(&m);
    }
    /* batch norm over a 1x1 map with batch 1: PyTorch refuses, so do we */
    c = unet_study_config(2);
    c.depth = 4, c.size = 8, c.io_size = 0;
    if (unet_init(&m, &c, 1, NULL, &e) == 0) {
        float x[64] = {0}, y[64];
        int rc = unet_forward(&m, x, 1, y, &e);
        CHECK(rc == EXIT_USAGE && strstr(e.msg, "batch norm"), "batch 1, 1x1 batch norm: %s", e.msg);
        m.train = 0;
        CHECK(unet_forward(&m, x, 1, y, &e) == 0, "eval mode at batch 1 is fine");
        unet_free(&m);
    }
    patchgan_t d;
    patchgan_config_t pc = patchgan_default_config(1, 1, 8);
    CHECK(patchgan_init(&d, &pc, 1, NULL, &e) == EXIT_USAGE && strstr(e.msg, "too small"), "D on 8 px: %s", e.msg);
    pc = patchgan_default_config(1, 1, 64);
    pc.n_layers = 0;
    CHECK(patchgan_init(&d, &pc, 1, NULL, &e) == EXIT_USAGE, "D with 0 layers: %s", e.msg);
}

int main(void) {
    pool_t p2, p3;
    pool_init(&p2, 2, NULL);
    pool_init(&p3, 3, NULL);
    pars[0] = (nn_par_t){0};
    pars[1] = pool_par(&p2);
    pars[2] = pool_par(&p3);
    test_counts();
    test_init();
    test_generator("g_study");
    test_generator("g_p2p");
    test_generator("g_p2p_in");
    test_generator("g_study_in");
    test_patchgan("d_patch");
    test_patchgan("d_patch_in");
    printf("# twins: worst comparison %.2f of tolerance (atol %g x max|want|, rtol %g)\n", worst_seen, ATOL, RTOL);
    test_curve("curve_p2p", 0);
    test_curve("curve_p2p", 1);
    test_curve("curve_study", 0);
    test_curve("curve_study", 2);
    test_dropout();
    fd_generator(UNET_ARCH_STUDY);
    fd_generator(UNET_ARCH_PIX2PIX);
    fd_patchgan();
    test_full_depth();
    test_checkpoint();
    test_errors();
    pool_free(&p2);
    pool_free(&p3);
    T_DONE();
}
