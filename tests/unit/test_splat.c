/* test_splat.c - the `splat` renderer plugin (the study's renderer), through
 * the plugin ABI.
 *
 * 1. Fixtures from an independent PyTorch implementation of
 *    docs/study.md 2.1 (tests/gen_splat_ref.py: whole-canvas splats, no
 *    cut-off, autograd gradients): a 64x64 hand-made scene with per-stroke
 *    widths and a skipped one-point stroke, and a real fish fitted to 224
 *    (pad 10, width 3).  Rendered with the default cut-off (5 sigma).
 *    Tolerances: img |a-b| <= 2e-5; gradients |a-b| <= 1e-4 max|g| + 1e-3 |b|.
 * 2. The cut-off: 5 sigma vs the whole canvas differ by < 1e-5 (relative to
 *    the max, which the image is normalised by).
 * 3. Finite differences of L = sum dimg * img for every point coordinate and
 *    width: (a) of the float plugin itself, step 2e-3 px (the step actually
 *    taken after rounding), |a-b| <= 2e-3 + 2e-3 |b|; (b) of an independent
 *    double-precision brute force (h = 1e-5), |a-b| <= 2e-4 + 1e-4 |b|.
 *    The argmax pixel must not move under the perturbations (the max is a
 *    kink); the test checks that it does not.  Opacity's gradient is 0.
 * 4. One-point strokes skipped, empty scenes white, samples_per_segment,
 *    errors.
 */
#include "t.h"
#include "plugin_host.h"
#include <stdlib.h>
#include <string.h>

#define MAXS 64
#define MAXP 4096
#include "tscene.h"

/* ---- the plugin ---- */

typedef struct {
    plugin_t p;
    int ok;
} rend_t;

static plugin_host_t thost = {.abi = INVCLIP_PLUGIN_ABI}; /* valid until fini, as plugin.h asks */

static int rend_open(rend_t *r, const char *args) {
    const char *dir = getenv("PLUGINS");
    char spec[512];
    snprintf(spec, sizeof spec, "%s/splat.so%s%s", dir ? dir : "build/plugins", *args ? ":" : "", args);
    err_t e = {0};
    r->ok = plugin_open(&r->p, spec, PLUGIN_RENDERER, &e) == 0 && plugin_init(&r->p, &thost, &e) == 0;
    if (!r->ok) printf("# %s\n", e.msg);
    return r->ok;
}

static int fwd(rend_t *r, const sc_t *s, float *img, plugin_err_t *pe) {
    const renderer_vt *vt = r->p.d->renderer;
    void *ws = plugin_ws(&r->p, vt->ws_size(r->p.state, &s->sc, s->W, s->H));
    int rc = vt->forward(r->p.state, ws, &thost, &s->sc, s->W, s->H, img, pe);
    if (rc) printf("# forward: %s\n", pe->msg);
    return rc;
}

static int bwd(rend_t *r, const sc_t *s, const float *dimg, float *gxy, float *gw, float *ga) {
    plugin_err_t pe = {{0}};
    scene_grad_t g = {gxy, gw, ga};
    int rc = r->p.d->renderer->backward(r->p.state, r->p.ws, &thost, &s->sc, s->W, s->H, dimg, &g, &pe);
    if (rc) printf("# backward: %s\n", pe.msg);
    return rc;
}

/* ---- an independent double-precision brute force (whole canvas) ---- */

static void ref_render(const sc_t *s, const double *xy, const double *w, int S, double *img) {
    size_t hw = (size_t)s->W * s->H;
    for (size_t q = 0; q < hw; q++) img[q] = 0;
    for (int k = 0; k < s->ns; k++) {
        if (s->npts[k] < 2) continue;
        const double *p = xy + 2 * s->off[k];
        double sg = w[k] / 2;
        for (int m = 0; m + 1 < s->npts[k]; m++)
            for (int u = 0; u < S; u++) {
                double t = (double)u / (S - 1);
                double qx = p[2 * m] + t * (p[2 * m + 2] - p[2 * m]),
                       qy = p[2 * m + 1] + t * (p[2 * m + 3] - p[2 * m + 1]);
                for (int i = 0; i < s->H; i++)
                    for (int j = 0; j < s->W; j++)
                        img[(size_t)i * s->W + j] +=
                            exp(-((j - qx) * (j - qx) + (i - qy) * (i - qy)) / (2 * sg * sg));
            }
    }
    double M = 0;
    for (size_t q = 0; q < hw; q++) M = fmax(M, img[q]);
    for (size_t q = 0; q < hw; q++) {
        double v = M > 0 ? img[q] / M : img[q];
        img[q] = 1 - fmin(fmax(v, 0), 1);
    }
}

/* ---- fixtures ---- */

static float dimg_value(int i, int j) {
    return (float)(((i * 7919 + j * 104729 + 12345) % 2001 - 1000) / 1000.0);
}

static int load_fixture(const char *name, sc_t *s, float **img, float **gxy, float **gw) {
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/splat/%s.txt", name);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[65536];
    int hdr = 0, k = 0, o = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char *p = line, *end;
        if (!hdr) {
            if (sscanf(line, "%d %d %d", &s->W, &s->H, &s->ns) != 3 || s->ns > MAXS) break;
            hdr = 1;
            continue;
        }
        if (k >= s->ns) break;
        s->npts[k] = (int)strtol(p, &end, 10), p = end;
        s->width[k] = strtof(p, &end), p = end;
        s->opacity[k] = strtof(p, &end), p = end;
        for (int q = 0; q < 2 * s->npts[k] && o + q / 2 < MAXP; q++)
            s->xy[2 * o + q] = strtof(p, &end), p = end;
        o += s->npts[k++];
    }
    fclose(f);
    if (!hdr || k != s->ns) return 0;
    sc_bind(s);
    snprintf(path, sizeof path, "tests/fixtures/splat/%s.bin", name);
    f = fopen(path, "rb");
    if (!f) return 0;
    size_t hw = (size_t)s->W * s->H, P = (size_t)sc_total(s);
    *img = malloc(hw * sizeof(float)), *gxy = malloc(2 * P * sizeof(float)),
    *gw = malloc(s->ns * sizeof(float));
    int ok = fread(*img, sizeof(float), hw, f) == hw && fread(*gxy, sizeof(float), 2 * P, f) == 2 * P &&
             fread(*gw, sizeof(float), (size_t)s->ns, f) == (size_t)s->ns && fgetc(f) == EOF;
    fclose(f);
    return ok;
}

static void test_fixture(const char *name) {
    static sc_t s;
    float *rimg = NULL, *rgxy = NULL, *rgw = NULL;
    int ok = load_fixture(name, &s, &rimg, &rgxy, &rgw);
    CHECK(ok, "fixture %s loads", name);
    if (!ok) return;
    rend_t R;
    if (!rend_open(&R, "")) return;
    size_t hw = (size_t)s.W * s.H;
    int P = sc_total(&s);
    float *img = malloc(hw * sizeof(float)), *dimg = malloc(hw * sizeof(float));
    float *gxy = calloc(2 * (size_t)P, sizeof(float)), gw[MAXS] = {0}, ga[MAXS] = {0};
    for (int i = 0; i < s.H; i++)
        for (int j = 0; j < s.W; j++) dimg[(size_t)i * s.W + j] = dimg_value(i, j);
    plugin_err_t pe = {{0}};
    fwd(&R, &s, img, &pe);
    double worst = 0;
    for (size_t q = 0; q < hw; q++) worst = fmax(worst, fabs(img[q] - rimg[q]));
    CHECK(worst <= 2e-5,
          "%s (%dx%d, %d strokes, %d points): img vs PyTorch reference: max |diff| %.2g <= 2e-5", name, s.W,
          s.H, s.ns, P, worst);
    bwd(&R, &s, dimg, gxy, gw, ga);
    double gmax = 0, wx = 0, ww = 0;
    int bad = 0;
    for (int q = 0; q < 2 * P; q++) gmax = fmax(gmax, fabs(rgxy[q]));
    for (int q = 0; q < 2 * P; q++) {
        double e = fabs(gxy[q] - rgxy[q]);
        wx = fmax(wx, e);
        if (e > 1e-4 * gmax + 1e-3 * fabs(rgxy[q]) && bad++ < 5)
            printf("#   point %d %c: got %.7g want %.7g\n", q / 2, "xy"[q % 2], gxy[q], rgxy[q]);
    }
    CHECK(!bad, "%s: dL/dxy vs PyTorch autograd: max |diff| %.2g (max |g| %.3g)", name, wx, gmax);
    bad = 0;
    double wmax = 0, amax = 0;
    for (int k = 0; k < s.ns; k++) wmax = fmax(wmax, fabs(rgw[k])), amax = fmax(amax, fabs(ga[k]));
    for (int k = 0; k < s.ns; k++) {
        double e = fabs(gw[k] - rgw[k]);
        ww = fmax(ww, e);
        if (e > 1e-4 * wmax + 1e-3 * fabs(rgw[k]) && bad++ < 5)
            printf("#   width %d: got %.7g want %.7g\n", k, gw[k], rgw[k]);
    }
    CHECK(!bad, "%s: dL/dwidth vs PyTorch autograd: max |diff| %.2g (max |g| %.3g)", name, ww, wmax);
    CHECK(amax == 0, "%s: opacity is unused: its gradient is 0", name);
    /* the cut-off against the whole canvas */
    rend_t F;
    if (rend_open(&F, "cutoff=0")) {
        float *full = malloc(hw * sizeof(float));
        fwd(&F, &s, full, &pe);
        double d = 0;
        for (size_t q = 0; q < hw; q++) d = fmax(d, fabs(full[q] - img[q]));
        CHECK(d < 1e-5, "%s: cutoff 5 sigma vs whole canvas: max |diff| %.2g < 1e-5 (relative to the max)",
              name, d);
        worst = 0;
        for (size_t q = 0; q < hw; q++) worst = fmax(worst, fabs(full[q] - rimg[q]));
        CHECK(worst <= 2e-5, "%s: cutoff=0 (whole canvas) vs PyTorch: max |diff| %.2g", name, worst);
        free(full);
        plugin_close(&F.p);
    }
    plugin_close(&R.p);
    free(img), free(dimg), free(gxy), free(rimg), free(rgxy), free(rgw);
}

/* ---- finite differences ---- */

static int argmin(const float *img, size_t n) {
    size_t b = 0;
    for (size_t q = 1; q < n; q++)
        if (img[q] < img[b]) b = q;
    return (int)b;
}

static void fd_case(const char *name, const char *args, sc_t *s, double tol_abs) {
    rend_t R;
    if (!rend_open(&R, args)) return;
    size_t hw = (size_t)s->W * s->H;
    int P = sc_total(s);
    float *img = malloc(hw * sizeof(float)), *dimg = malloc(hw * sizeof(float));
    double *ref = malloc(hw * sizeof(double));
    for (int i = 0; i < s->H; i++)
        for (int j = 0; j < s->W; j++) dimg[(size_t)i * s->W + j] = dimg_value(i + 3, j);
    plugin_err_t pe = {{0}};
    fwd(&R, s, img, &pe);
    int am = argmin(img, hw), moved = 0;
    static float gxy[2 * MAXP], gw[MAXS], ga[MAXS];
    memset(gxy, 0, sizeof gxy), memset(gw, 0, sizeof gw), memset(ga, 0, sizeof ga);
    bwd(&R, s, dimg, gxy, gw, ga);
    const double h = 2e-3, h2 = 1e-5;
    double worst_a = 0, worst_b = 0, gmax = 0;
    int bad_a = 0, bad_b = 0, npar = 2 * P + s->ns;
    static double dxy[2 * MAXP], dw[MAXS];
    for (int q = 0; q < npar; q++) {
        float *par = q < 2 * P ? &s->xy[q] : &s->width[q - 2 * P];
        double an = q < 2 * P ? gxy[q] : gw[q - 2 * P];
        gmax = fmax(gmax, fabs(an));
        float v0 = *par, vp = (float)(v0 + h), vm = (float)(v0 - h);
        double L[2];
        for (int side = 0; side < 2; side++) {
            *par = side ? vm : vp;
            fwd(&R, s, img, &pe);
            moved |= argmin(img, hw) != am;
            L[side] = 0;
            for (size_t p = 0; p < hw; p++) L[side] += (double)img[p] * dimg[p];
        }
        *par = v0;
        double fd = (L[0] - L[1]) / ((double)vp - (double)vm), e = fabs(an - fd);
        worst_a = fmax(worst_a, e);
        if (e > tol_abs + 2e-3 * fabs(fd) && bad_a++ < 5)
            printf("#   (a) param %d: analytic %.6g fd %.6g\n", q, an, fd);
        for (int k = 0; k < 2 * P; k++) dxy[k] = s->xy[k];
        for (int k = 0; k < s->ns; k++) dw[k] = s->width[k];
        double *dv = q < 2 * P ? &dxy[q] : &dw[q - 2 * P], b0 = *dv;
        for (int side = 0; side < 2; side++) {
            *dv = side ? b0 - h2 : b0 + h2;
            ref_render(s, dxy, dw, 10, ref);
            L[side] = 0;
            for (size_t p = 0; p < hw; p++) L[side] += ref[p] * dimg[p];
        }
        fd = (L[0] - L[1]) / (2 * h2), e = fabs(an - fd);
        worst_b = fmax(worst_b, e);
        if (e > 2e-4 + 1e-4 * fabs(fd) && bad_b++ < 5)
            printf("#   (b) param %d: analytic %.6g fd %.6g\n", q, an, fd);
    }
    CHECK(!moved, "%s: the argmax pixel stays put under the FD steps (no kink of the max)", name);
    CHECK(!bad_a, "%s: %d gradients (xy, width) vs float FD h=%g: worst |err| %.2g (max |g| %.3g)", name,
          npar, h, worst_a, gmax);
    CHECK(!bad_b, "%s: %d gradients vs double brute-force FD h=%g: worst |err| %.2g", name, npar, h2,
          worst_b);
    double ga_max = 0;
    for (int k = 0; k < s->ns; k++) ga_max = fmax(ga_max, fabs(ga[k]));
    CHECK(ga_max == 0, "%s: opacity gradient is exactly 0", name);
    /* the double reference image itself */
    for (int k = 0; k < 2 * P; k++) dxy[k] = s->xy[k];
    for (int k = 0; k < s->ns; k++) dw[k] = s->width[k];
    ref_render(s, dxy, dw, 10, ref);
    fwd(&R, s, img, &pe);
    double worst = 0;
    for (size_t p = 0; p < hw; p++) worst = fmax(worst, fabs(img[p] - ref[p]));
    CHECK(worst < 2e-5, "%s: img vs double brute force: max |diff| %.2g", name, worst);
    plugin_close(&R.p);
    free(img), free(dimg), free(ref);
}

static void test_fd(void) {
    static sc_t s;
    s.W = 48, s.H = 40, s.ns = 4;
    s.npts[0] = 4, s.npts[1] = 2, s.npts[2] = 1, s.npts[3] = 3;
    float xy[] = {6.3f,  7.7f,  18.2f, 12.9f, 27.6f, 6.1f,  35.4f, 17.3f, 9.9f,  30.2f,
                  24.7f, 33.8f, 30.3f, 30.3f, 38.1f, 22.6f, 43.7f, 31.2f, 33.3f, 36.9f};
    memcpy(s.xy, xy, sizeof xy);
    s.width[0] = 3, s.width[1] = 2.2f, s.width[2] = 3, s.width[3] = 4.1f;
    for (int k = 0; k < 4; k++) s.opacity[k] = 1;
    sc_bind(&s);
    fd_case("fd whole canvas (cutoff=0)", "cutoff=0", &s, 2e-3);
    fd_case("fd default cutoff (5 sigma)", "", &s, 2e-3);
}

/* ---- odds and ends ---- */

static void test_edges(void) {
    rend_t R;
    if (!rend_open(&R, "")) return;
    static sc_t s;
    static float img[32 * 32], dimg[32 * 32];
    plugin_err_t pe = {{0}};
    s.W = s.H = 32, s.ns = 2, s.npts[0] = 1, s.npts[1] = 1;
    s.xy[0] = 10.5f, s.xy[1] = 11.5f, s.xy[2] = 20.1f, s.xy[3] = 5.3f;
    s.width[0] = s.width[1] = 3, s.opacity[0] = s.opacity[1] = 1;
    sc_bind(&s);
    CHECK(fwd(&R, &s, img, &pe) == 0, "one-point strokes only: forward");
    int white = 1;
    for (int q = 0; q < 32 * 32; q++) white &= img[q] == 1.f, dimg[q] = 1;
    CHECK(white, "one-point strokes are skipped (the study): all white");
    float gxy[8] = {0}, gw[2] = {0}, ga[2] = {0};
    bwd(&R, &s, dimg, gxy, gw, ga);
    CHECK(gxy[0] == 0 && gxy[3] == 0 && gw[0] == 0, "skipped strokes get no gradient");
    s.ns = 0;
    sc_bind(&s);
    CHECK(fwd(&R, &s, img, &pe) == 0 && img[0] == 1.f && img[1023] == 1.f, "empty scene: white");
    /* samples_per_segment = 2: just the two end points of each segment */
    rend_t R2;
    if (rend_open(&R2, "samples_per_segment=2,cutoff=0")) {
        s.ns = 1, s.npts[0] = 2;
        s.xy[0] = 8.25f, s.xy[1] = 9.5f, s.xy[2] = 22.75f, s.xy[3] = 20.5f;
        sc_bind(&s);
        fwd(&R2, &s, img, &pe);
        double ref[32 * 32], dxy[4] = {8.25, 9.5, 22.75, 20.5}, dw[1] = {3};
        ref_render(&s, dxy, dw, 2, ref);
        double worst = 0;
        for (int q = 0; q < 32 * 32; q++) worst = fmax(worst, fabs(img[q] - ref[q]));
        CHECK(worst < 1e-5, "samples_per_segment=2: two splats per segment (max |diff| %.2g)", worst);
        /* the argmax pixel is black, so the darkest pixel is exactly 0 */
        float mn = 1;
        for (int q = 0; q < 32 * 32; q++) mn = fminf(mn, img[q]);
        CHECK(mn == 0.f, "normalised by the max: the darkest pixel is exactly black");
        plugin_close(&R2.p);
    }
    s.width[0] = 0;
    CHECK(fwd(&R, &s, img, &pe) == EXIT_DATA && strstr(pe.msg, "width"), "width 0 refused: %s", pe.msg);
    s.width[0] = 3, s.xy[2] = NAN;
    CHECK(fwd(&R, &s, img, &pe) == EXIT_NUMERIC && strstr(pe.msg, "point 1"), "NaN point refused: %s",
          pe.msg);
    plugin_close(&R.p);
    rend_t R3;
    if (rend_open(&R3, "")) {
        s.xy[2] = 22.75f;
        plugin_ws(&R3.p, R3.p.d->renderer->ws_size(R3.p.state, &s.sc, 32, 32));
        scene_grad_t g = {gxy, gw, ga};
        CHECK(R3.p.d->renderer->backward(R3.p.state, R3.p.ws, &thost, &s.sc, 32, 32, dimg, &g, &pe) == EXIT_INTERNAL,
              "backward before forward refused: %s", pe.msg);
        plugin_close(&R3.p);
    }
    err_t e = {0};
    plugin_t p;
    const char *dir = getenv("PLUGINS");
    char spec[512];
    snprintf(spec, sizeof spec, "%s/splat.so:samples_per_segment=1", dir ? dir : "build/plugins");
    CHECK(plugin_open(&p, spec, PLUGIN_RENDERER, &e) == EXIT_USAGE, "samples_per_segment=1 out of range: %s",
          e.msg);
}

int main(void) {
    test_fixture("small");
    test_fixture("fish");
    test_fd();
    test_edges();
    T_DONE();
}
