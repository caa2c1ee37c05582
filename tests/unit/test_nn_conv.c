/* test_nn_conv.c - the CNN and loss kernels of common/nn/ (conv.c,
 * pool2d.c, norm2d.c, dropout.c, loss.c):
 *   - against PyTorch fixtures written by tests/gen_nn_conv_ref.py (float64
 *     maths stored as float32, tests/fixtures/nn_conv/): conv2d and
 *     conv_transpose2d forward and every gradient, max and average
 *     pooling (with PyTorch's argmax indices), batch norm (training with
 *     running statistics, eval), instance norm, cross-entropy (label
 *     smoothing, ignored rows), InfoNCE, BCE with logits, L1, MSE.  Each kernel is run as its _ref
 *     version, and as the fast version serially, with a 2-thread pool and
 *     with a 3-thread pool (uneven splits); outputs are pre-filled with NaN
 *     so an unwritten element fails, and backward is run on gradients
 *     pre-filled with a constant so "adds into" is checked too;
 *   - fast against reference on a larger U-Net-like convolution, on 300
 *     random convolution geometries and 200 random pooling geometries;
 *   - central finite differences of every backward (fast, serial);
 *   - dropout: keep rate, scaling, identical masks for 1/2/3 threads and the
 *     reference, streams and seeds that differ, backward = mask * scale;
 *   - size checks returning NN_EINVAL.
 * Every comparison is |a-b| <= atol + rtol*|b| and prints its worst element. */
#include "nn/conv.h"
#include "nn/dropout.h"
#include "nn/loss.h"
#include "nn/norm2d.h"
#include "nn/pool2d.h"
#include "pool.h"
#include "t.h"
#include "tfix.h"
#include "tensorfile.h"
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NVAR 4 /* 0: _ref, 1: fast serial, 2: fast 2 threads, 3: fast 3 threads */
static const char *var_name[NVAR] = {"ref", "fast/1", "fast/2", "fast/3"};
static nn_par_t pars[NVAR];
#define GRAD0 0.25f /* gradients start here: the kernels must add */

static float *read_t(tensorfile_t *tf, const char *pfx, const char *name, size_t want) {
    char key[128];
    snprintf(key, sizeof key, "%s%s", pfx, name);
    return t_tensor(tf, key, want);
}

static double maxabs(const float *v, size_t n) {
    double m = 0;
    for (size_t i = 0; v && i < n; i++) m = fmax(m, fabs(v[i]));
    return m;
}

/* a (got) vs b (want) + offset; atol is scaled by the largest |want| */
static int close_off(const char *what, const float *a, const float *b, float off, size_t n, double atol,
                     double rtol) {
    if (!a || !b) {
        CHECK(0, "%s: data present", what);
        return 0;
    }
    double at = atol * fmax(maxabs(b, n), 1e-3), worst = 0, wa = 0, wb = 0;
    size_t bad = 0, wi = 0;
    for (size_t i = 0; i < n; i++) {
        double want = (double)b[i] + off, d = fabs((double)a[i] - want), lim = at + rtol * fabs(want);
        if (!(d <= lim)) bad++;
        if (!(d / lim <= worst) || i == 0) {
            worst = d / lim;
            wi = i;
            wa = a[i];
            wb = want;
        }
    }
    CHECK(bad == 0, "%s: %zu values (worst [%zu] %.7g vs %.7g, %.2f of tolerance)", what, n, wi, wa, wb,
          worst);
    return bad == 0;
}
static int close_all(const char *what, const float *a, const float *b, size_t n, double atol, double rtol) {
    return close_off(what, a, b, 0.0f, n, atol, rtol);
}

static float *nanbuf(size_t n) {
    float *p = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) p[i] = NAN;
    return p;
}
static float *constbuf(size_t n, float v) {
    float *p = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) p[i] = v;
    return p;
}
static double dotd(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* Central differences of loss() w.r.t. up to ~64 entries of p[n] (a strided
 * subset) against grad. */
static void fd_check(const char *what, float *p, size_t n, const float *grad, double (*loss)(void *),
                     void *ctx, double eps, double atol, double rtol) {
    size_t step = n > 64 ? n / 64 : 1, bad = 0, cnt = 0;
    double worst = 0, wg = 0, wf = 0, gmax = maxabs(grad, n);
    for (size_t i = 0; i < n; i += step, cnt++) {
        float keep = p[i];
        p[i] = (float)(keep + eps);
        double up = loss(ctx);
        p[i] = (float)(keep - eps);
        double dn = loss(ctx);
        p[i] = keep;
        double fd = (up - dn) / (2 * eps), lim = atol * fmax(gmax, 1e-2) + rtol * fabs(fd);
        double d = fabs(fd - grad[i]);
        if (!(d <= lim)) bad++;
        if (!(d / lim <= worst)) {
            worst = d / lim;
            wg = grad[i];
            wf = fd;
        }
    }
    CHECK(bad == 0, "finite differences: %s (%zu entries, worst grad %.6g vs fd %.6g, %.2f of tolerance)",
          what, cnt, wg, wf, worst);
}

/* ------------------------------------------------------------ convolution */

typedef struct {
    conv2d_dims_t d;
    int transposed;
    float *x, *w, *b, *dout, *out, *ws;
    size_t nws, ny;
} conv_ctx;

static double conv_loss(void *vc) {
    conv_ctx *c = vc;
    if (c->transposed)
        conv_transpose2d_forward(NULL, c->out, c->x, c->w, c->b, &c->d, c->ws, c->nws);
    else
        conv2d_forward(NULL, c->out, c->x, c->w, c->b, &c->d, c->ws, c->nws);
    return dotd(c->out, c->dout, c->ny);
}

static int conv_fwd(int v, int tr, float *out, const float *x, const float *w, const float *b,
                    const conv2d_dims_t *d, float *ws, size_t nws) {
    if (v == 0)
        return tr ? conv_transpose2d_forward_ref(&pars[0], out, x, w, b, d, ws, nws)
                  : conv2d_forward_ref(&pars[0], out, x, w, b, d, ws, nws);
    return tr ? conv_transpose2d_forward(&pars[v], out, x, w, b, d, ws, nws)
              : conv2d_forward(&pars[v], out, x, w, b, d, ws, nws);
}
static int conv_bwd(int v, int tr, float *dx, float *dw, float *db, const float *dy, const float *x,
                    const float *w, const conv2d_dims_t *d, float *ws, size_t nws) {
    if (v == 0)
        return tr ? conv_transpose2d_backward_ref(&pars[0], dx, dw, db, dy, x, w, d, ws, nws)
                  : conv2d_backward_ref(&pars[0], dx, dw, db, dy, x, w, d, ws, nws);
    return tr ? conv_transpose2d_backward(&pars[v], dx, dw, db, dy, x, w, d, ws, nws)
              : conv2d_backward(&pars[v], dx, dw, db, dy, x, w, d, ws, nws);
}

static void conv_case(tensorfile_t *tf, int tr, int idx) {
    char pfx[32], what[160];
    snprintf(pfx, sizeof pfx, "%s%d.", tr ? "convt" : "conv", idx);
    float *dm = read_t(tf, pfx, "dims", 16);
    if (!dm) {
        CHECK(0, "%s dims", pfx);
        return;
    }
    conv2d_dims_t d = {.N = (int)dm[0],
                       .C = (int)dm[1],
                       .H = (int)dm[2],
                       .W = (int)dm[3],
                       .OC = (int)dm[4],
                       .KH = (int)dm[5],
                       .KW = (int)dm[6],
                       .stride_h = (int)dm[7],
                       .stride_w = (int)dm[8],
                       .pad_h = (int)dm[9],
                       .pad_w = (int)dm[10],
                       .dil_h = (int)dm[11],
                       .dil_w = (int)dm[12],
                       .outpad_h = (int)dm[13],
                       .outpad_w = (int)dm[14]};
    int hb = (int)dm[15], OH, OW;
    free(dm);
    int rc = tr ? conv_transpose2d_out_size(&d, &OH, &OW) : conv2d_out_size(&d, &OH, &OW);
    CHECK(rc == NN_OK, "%s output size %dx%d", pfx, OH, OW);
    if (rc) return;
    size_t nx = (size_t)d.N * d.C * d.H * d.W, nw = (size_t)d.OC * d.C * d.KH * d.KW,
           ny = (size_t)d.N * d.OC * OH * OW;
    float *x = read_t(tf, pfx, "x", nx), *w = read_t(tf, pfx, "w", nw),
          *b = hb ? read_t(tf, pfx, "b", d.OC) : NULL;
    float *out = read_t(tf, pfx, "out", ny), *dout = read_t(tf, pfx, "dout", ny);
    float *dxw = read_t(tf, pfx, "dx", nx), *dww = read_t(tf, pfx, "dw", nw),
          *dbw = hb ? read_t(tf, pfx, "db", d.OC) : NULL;
    if (!x || !w || !out || !dout || !dxw || !dww || (hb && (!b || !dbw))) {
        CHECK(0, "%s fixture tensors", pfx);
        return;
    }
    size_t nws = 0; /* enough for 1, 2 and 3 threads (the size need not grow with the count) */
    for (int t = 1; t <= 3; t++) {
        size_t k = tr ? conv_transpose2d_ws_size(&d, t) : conv2d_ws_size(&d, t);
        nws = k > nws ? k : nws;
    }
    float *ws = malloc(sizeof(float) * (nws ? nws : 1));
    for (int v = 0; v < NVAR; v++) {
        float *y = nanbuf(ny), *dx = constbuf(nx, GRAD0), *dw = constbuf(nw, GRAD0),
              *db = constbuf(d.OC, GRAD0);
        snprintf(what, sizeof what, "%s %s forward", pfx, var_name[v]);
        CHECK(conv_fwd(v, tr, y, x, w, b, &d, ws, nws) == NN_OK, "%s runs", what);
        close_all(what, y, out, ny, 1e-5, 1e-4);
        CHECK(conv_bwd(v, tr, dx, dw, hb ? db : NULL, dout, x, w, &d, ws, nws) == NN_OK, "%s backward runs",
              pfx);
        snprintf(what, sizeof what, "%s %s d input (added)", pfx, var_name[v]);
        close_off(what, dx, dxw, GRAD0, nx, 1e-5, 1e-4);
        snprintf(what, sizeof what, "%s %s d weight (added)", pfx, var_name[v]);
        close_off(what, dw, dww, GRAD0, nw, 1e-5, 1e-4);
        if (hb) {
            snprintf(what, sizeof what, "%s %s d bias (added)", pfx, var_name[v]);
            close_off(what, db, dbw, GRAD0, d.OC, 1e-5, 1e-4);
        }
        /* only the weight gradient (a first layer): same dw, nothing else touched */
        if (v == 2) {
            for (size_t i = 0; i < nw; i++) dw[i] = 0.0f;
            CHECK(conv_bwd(v, tr, NULL, dw, NULL, dout, x, w, &d, ws, nws) == NN_OK, "%s dw alone runs", pfx);
            snprintf(what, sizeof what, "%s %s d weight alone", pfx, var_name[v]);
            close_all(what, dw, dww, nw, 1e-5, 1e-4);
        }
        free(y);
        free(dx);
        free(dw);
        free(db);
    }
    /* a scratch one float short is refused */
    size_t need = tr ? conv_transpose2d_ws_size(&d, 2) : conv2d_ws_size(&d, 2);
    if (need) {
        float *y = nanbuf(ny);
        CHECK(conv_fwd(2, tr, y, x, w, b, &d, ws, need - 1) == NN_EINVAL, "%s short scratch refused", pfx);
        free(y);
    }
    /* finite differences of the fast backward */
    conv_ctx c = {.d = d,
                  .transposed = tr,
                  .x = x,
                  .w = w,
                  .b = b,
                  .dout = dout,
                  .out = nanbuf(ny),
                  .ws = ws,
                  .nws = nws,
                  .ny = ny};
    float *dx = constbuf(nx, 0), *dw = constbuf(nw, 0), *db = constbuf(d.OC, 0);
    conv_bwd(1, tr, dx, dw, db, dout, x, w, &d, ws, nws);
    snprintf(what, sizeof what, "%s d input", pfx);
    fd_check(what, x, nx, dx, conv_loss, &c, 0.05, 2e-3, 2e-3);
    snprintf(what, sizeof what, "%s d weight", pfx);
    fd_check(what, w, nw, dw, conv_loss, &c, 0.05, 2e-3, 2e-3);
    if (hb) {
        snprintf(what, sizeof what, "%s d bias", pfx);
        fd_check(what, b, d.OC, db, conv_loss, &c, 0.05, 2e-3, 2e-3);
    }
    free(c.out);
    free(dx);
    free(dw);
    free(db);
    free(x);
    free(w);
    free(b);
    free(out);
    free(dout);
    free(dxw);
    free(dww);
    free(dbw);
    free(ws);
}

/* fast (1, 2, 3 threads) vs reference on bigger layers (no fixture needed):
 * a U-Net-like one, and ones whose column matrix is larger than one
 * lowering tile (K = 1024 rows, 1521 columns), so every path lowers in
 * several column tiles */
static void conv_big(int tr, const char *nm, conv2d_dims_t d) {
    int OH, OW;
    if (tr ? conv_transpose2d_out_size(&d, &OH, &OW) : conv2d_out_size(&d, &OH, &OW)) {
        CHECK(0, "%s: valid dims", nm);
        return;
    }
    size_t nx = (size_t)d.N * d.C * d.H * d.W, nw = (size_t)d.OC * d.C * d.KH * d.KW,
           ny = (size_t)d.N * d.OC * OH * OW, nws = 0;
    for (int t = 1; t <= 3; t++) {
        size_t k = tr ? conv_transpose2d_ws_size(&d, t) : conv2d_ws_size(&d, t);
        nws = k > nws ? k : nws;
    }
    float *x = malloc(4 * nx), *w = malloc(4 * nw), *b = malloc(4 * d.OC), *dy = malloc(4 * ny);
    uint64_t s = 12345;
#define RNDF() ((float)((s = s * 6364136223846793005ULL + 1442695040888963407ULL) >> 40) / 16777216.0f - 0.5f)
    for (size_t i = 0; i < nx; i++) x[i] = RNDF();
    for (size_t i = 0; i < nw; i++) w[i] = RNDF();
    for (int i = 0; i < d.OC; i++) b[i] = RNDF();
    for (size_t i = 0; i < ny; i++) dy[i] = RNDF();
#undef RNDF
    float *ws = malloc(4 * (nws ? nws : 1)), *y0 = nanbuf(ny), *y1 = nanbuf(ny), *g0[3], *g1[3];
    size_t gn[3] = {nx, nw, (size_t)d.OC};
    const char *gname[3] = {"d input", "d weight", "d bias"};
    for (int k = 0; k < 3; k++) g0[k] = constbuf(gn[k], 0);
    conv_fwd(0, tr, y0, x, w, b, &d, ws, nws);
    conv_bwd(0, tr, g0[0], g0[1], g0[2], dy, x, w, &d, ws, nws);
    char what[128];
    for (int v = 1; v < NVAR; v++) {
        for (int k = 0; k < 3; k++) g1[k] = constbuf(gn[k], 0);
        for (size_t i = 0; i < ny; i++) y1[i] = NAN;
        conv_fwd(v, tr, y1, x, w, b, &d, ws, nws);
        conv_bwd(v, tr, g1[0], g1[1], g1[2], dy, x, w, &d, ws, nws);
        snprintf(what, sizeof what, "%s forward: %s vs ref", nm, var_name[v]);
        close_all(what, y1, y0, ny, 1e-5, 1e-4);
        for (int k = 0; k < 3; k++) {
            snprintf(what, sizeof what, "%s %s: %s vs ref", nm, gname[k], var_name[v]);
            close_all(what, g1[k], g0[k], gn[k], 1e-5, 1e-4);
            free(g1[k]);
        }
    }
    for (int k = 0; k < 3; k++) free(g0[k]);
    free(x), free(w), free(b), free(dy), free(ws), free(y0), free(y1);
}

/* worst |a-b| / (atol + rtol*|b|) over n values */
static double worst_ratio(const float *a, const float *b, size_t n, double atol, double rtol) {
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double r = fabs((double)a[i] - b[i]) / (atol + rtol * fabs(b[i]));
        if (!(r <= w)) w = r;
    }
    return w;
}

/* Random geometries (strides, paddings larger than the kernel, dilations,
 * output paddings, 1-pixel maps): the fast kernels on 1, 2 and 3 threads
 * against the reference, forward and all three gradients. */
static void conv_random(void) {
    uint64_t s = 0x5eed;
#define RI(lo, hi)                                                                                           \
    ((int)((s = s * 6364136223846793005ULL + 1442695040888963407ULL) >> 33) % ((hi) - (lo) + 1) + (lo))
    int tried = 0, ran = 0, bad_fwd = 0, bad_bwd = 0;
    double worst = 0;
    while (ran < 300 && tried < 5000) {
        tried++;
        int tr = RI(0, 1), OH, OW;
        conv2d_dims_t d = {.N = RI(1, 3),
                           .C = RI(1, 4),
                           .H = RI(1, 9),
                           .W = RI(1, 9),
                           .OC = RI(1, 4),
                           .KH = RI(1, 4),
                           .KW = RI(1, 4),
                           .stride_h = RI(0, 3),
                           .stride_w = RI(0, 3),
                           .pad_h = RI(0, 4),
                           .pad_w = RI(0, 4),
                           .dil_h = RI(0, 3),
                           .dil_w = RI(0, 3)};
        if (tr) d.outpad_h = RI(0, 2), d.outpad_w = RI(0, 2);
        if (tr ? conv_transpose2d_out_size(&d, &OH, &OW) : conv2d_out_size(&d, &OH, &OW)) continue;
        ran++;
        size_t nx = (size_t)d.N * d.C * d.H * d.W, nw = (size_t)d.OC * d.C * d.KH * d.KW,
               ny = (size_t)d.N * d.OC * OH * OW, nws = 0;
        for (int t = 1; t <= 3; t++) {
            size_t k = tr ? conv_transpose2d_ws_size(&d, t) : conv2d_ws_size(&d, t);
            nws = k > nws ? k : nws;
        }
        float *x = malloc(4 * nx), *w = malloc(4 * nw), *b = malloc(4 * d.OC), *dy = malloc(4 * ny);
        float *ws = malloc(4 * (nws ? nws : 1)), *y0 = nanbuf(ny), *y1 = nanbuf(ny);
        for (size_t i = 0; i < nx; i++) x[i] = (float)RI(-1000, 1000) / 1000.0f;
        for (size_t i = 0; i < nw; i++) w[i] = (float)RI(-1000, 1000) / 1000.0f;
        for (int i = 0; i < d.OC; i++) b[i] = (float)RI(-1000, 1000) / 1000.0f;
        for (size_t i = 0; i < ny; i++) dy[i] = (float)RI(-1000, 1000) / 1000.0f;
        size_t gn[3] = {nx, nw, (size_t)d.OC};
        float *g0[3], *g1[3];
        for (int k = 0; k < 3; k++) g0[k] = constbuf(gn[k], 0);
        conv_fwd(0, tr, y0, x, w, b, &d, ws, nws);
        conv_bwd(0, tr, g0[0], g0[1], g0[2], dy, x, w, &d, ws, nws);
        for (int v = 1; v < NVAR; v++) {
            for (int k = 0; k < 3; k++) g1[k] = constbuf(gn[k], 0);
            int rc = conv_fwd(v, tr, y1, x, w, b, &d, ws, nws);
            double r = rc ? INFINITY : worst_ratio(y1, y0, ny, 1e-5, 1e-4);
            if (!(r <= 1)) bad_fwd++;
            worst = fmax(worst, r);
            rc = conv_bwd(v, tr, g1[0], g1[1], g1[2], dy, x, w, &d, ws, nws);
            for (int k = 0; k < 3; k++) {
                r = rc ? INFINITY : worst_ratio(g1[k], g0[k], gn[k], 1e-5, 1e-4);
                if (!(r <= 1)) bad_bwd++;
                worst = fmax(worst, r);
                free(g1[k]);
            }
        }
        for (int k = 0; k < 3; k++) free(g0[k]);
        free(x);
        free(w);
        free(b);
        free(dy);
        free(ws);
        free(y0);
        free(y1);
    }
#undef RI
    CHECK(ran == 300 && bad_fwd == 0 && bad_bwd == 0,
          "%d random geometries: fast (1/2/3 threads) == reference, forward (%d bad) and gradients (%d bad); "
          "worst %.2f "
          "of tolerance",
          ran, bad_fwd, bad_bwd, worst);
}

static void conv_invalid(void) {
    conv2d_dims_t d = {.N = 1, .C = 1, .H = 3, .W = 3, .OC = 1, .KH = 5, .KW = 5};
    int OH, OW;
    CHECK(conv2d_out_size(&d, &OH, &OW) == NN_EINVAL && conv2d_ws_size(&d, 2) == 0,
          "kernel larger than the padded input refused");
    d.pad_h = d.pad_w = 1;
    CHECK(conv2d_out_size(&d, &OH, &OW) == NN_OK && OH == 1 && OW == 1, "with padding 1 it fits (1x1)");
    d.outpad_h = 1;
    CHECK(conv2d_out_size(&d, &OH, &OW) == NN_EINVAL, "output padding refused for conv2d");
    conv2d_dims_t t = {.N = 1,
                       .C = 1,
                       .H = 3,
                       .W = 3,
                       .OC = 1,
                       .KH = 3,
                       .KW = 3,
                       .stride_h = 2,
                       .stride_w = 2,
                       .outpad_h = 2};
    CHECK(conv_transpose2d_out_size(&t, &OH, &OW) == NN_EINVAL,
          "transposed output padding >= stride refused");
    t.outpad_h = 1;
    CHECK(conv_transpose2d_out_size(&t, &OH, &OW) == NN_OK && OH == 8 && OW == 7,
          "transposed 3x3 s2 op(1,0) -> 8x7");
    t.C = 0;
    CHECK(conv_transpose2d_out_size(&t, &OH, &OW) == NN_EINVAL, "zero channels refused");
    float v = 0;
    CHECK(conv2d_forward(NULL, &v, &v, &v, NULL, NULL, NULL, 0) == NN_EINVAL, "NULL dims refused");
    /* a 1x1 stride-1 convolution needs no scratch: its input is its own column matrix */
    conv2d_dims_t one = {.N = 2, .C = 3, .H = 2, .W = 2, .OC = 2, .KH = 1, .KW = 1};
    float x1[24], w1[6], y1[16], y0[16];
    for (int i = 0; i < 24; i++) x1[i] = (float)i - 7.5f;
    for (int i = 0; i < 6; i++) w1[i] = 0.5f - (float)i;
    CHECK(conv2d_ws_size(&one, 2) == 0, "1x1 conv: no scratch");
    CHECK(conv2d_forward(&pars[2], y1, x1, w1, NULL, &one, NULL, 0) == NN_OK &&
              conv2d_forward_ref(NULL, y0, x1, w1, NULL, &one, NULL, 0) == NN_OK &&
              memcmp(y0, y1, sizeof y0) == 0,
          "1x1 conv without scratch equals the reference");
    CHECK(conv2d_forward(&pars[2], y1, x1, w1, NULL, &one, NULL, 5) == NN_EINVAL,
          "scratch size without a buffer refused");
}

/* ---------------------------------------------------------------- pooling */

typedef struct {
    pool2d_dims_t d;
    int kind;
    float *x, *dout, *out;
    int *idx;
    size_t ny;
} pool_ctx;

static double pool_loss(void *vc) {
    pool_ctx *c = vc;
    if (c->kind == 0)
        maxpool2d_forward(NULL, c->out, c->idx, c->x, &c->d);
    else
        avgpool2d_forward(NULL, c->out, c->x, &c->d);
    return dotd(c->out, c->dout, c->ny);
}

static void pool_case(tensorfile_t *tf, int i) {
    char pfx[32], what[160];
    snprintf(pfx, sizeof pfx, "pool%d.", i);
    float *dm = read_t(tf, pfx, "dims", 11);
    if (!dm) {
        CHECK(0, "%s dims", pfx);
        return;
    }
    int kind = (int)dm[0], OH, OW;
    pool2d_dims_t d = {.N = (int)dm[1],
                       .C = (int)dm[2],
                       .H = (int)dm[3],
                       .W = (int)dm[4],
                       .KH = (int)dm[5],
                       .KW = (int)dm[6],
                       .stride_h = (int)dm[7],
                       .stride_w = (int)dm[8],
                       .pad_h = (int)dm[9],
                       .pad_w = (int)dm[10]};
    free(dm);
    CHECK(pool2d_out_size(&d, &OH, &OW) == NN_OK, "%s output size %dx%d", pfx, OH, OW);
    size_t nx = (size_t)d.N * d.C * d.H * d.W, ny = (size_t)d.N * d.C * OH * OW;
    float *x = read_t(tf, pfx, "x", nx), *out = read_t(tf, pfx, "out", ny),
          *dout = read_t(tf, pfx, "dout", ny), *dxw = read_t(tf, pfx, "dx", nx),
          *idxf = kind == 0 ? read_t(tf, pfx, "idx", ny) : NULL;
    if (!x || !out || !dout || !dxw || (kind == 0 && !idxf)) {
        CHECK(0, "%s fixture tensors", pfx);
        return;
    }
    const char *kn = kind ? "avgpool" : "maxpool";
    for (int v = 0; v < NVAR; v++) {
        float *y = nanbuf(ny), *dx = constbuf(nx, GRAD0);
        int *idx = malloc(sizeof(int) * ny), rc;
        for (size_t k = 0; k < ny; k++) idx[k] = -7;
        if (kind == 0)
            rc = v ? maxpool2d_forward(&pars[v], y, idx, x, &d)
                   : maxpool2d_forward_ref(&pars[0], y, idx, x, &d);
        else
            rc = v ? avgpool2d_forward(&pars[v], y, x, &d) : avgpool2d_forward_ref(&pars[0], y, x, &d);
        CHECK(rc == NN_OK, "%s %s %s forward runs", pfx, kn, var_name[v]);
        snprintf(what, sizeof what, "%s %s %s forward", pfx, kn, var_name[v]);
        close_all(what, y, out, ny, 1e-6, 1e-5);
        if (kind == 0) {
            size_t bad = 0;
            for (size_t k = 0; k < ny; k++) bad += idx[k] != (int)idxf[k];
            CHECK(bad == 0, "%s %s %s argmax indices equal PyTorch's (%zu differ)", pfx, kn, var_name[v],
                  bad);
            rc = v ? maxpool2d_backward(&pars[v], dx, dout, idx, &d)
                   : maxpool2d_backward_ref(&pars[0], dx, dout, idx, &d);
        } else {
            rc = v ? avgpool2d_backward(&pars[v], dx, dout, &d)
                   : avgpool2d_backward_ref(&pars[0], dx, dout, &d);
        }
        CHECK(rc == NN_OK, "%s %s %s backward runs", pfx, kn, var_name[v]);
        snprintf(what, sizeof what, "%s %s %s d input (added)", pfx, kn, var_name[v]);
        close_off(what, dx, dxw, GRAD0, nx, 1e-6, 1e-5);
        free(y);
        free(dx);
        free(idx);
    }
    pool_ctx c = {.d = d,
                  .kind = kind,
                  .x = x,
                  .dout = dout,
                  .out = nanbuf(ny),
                  .idx = malloc(sizeof(int) * ny),
                  .ny = ny};
    float *dx = constbuf(nx, 0);
    pool_loss(&c);
    if (kind == 0)
        maxpool2d_backward(NULL, dx, dout, c.idx, &d);
    else
        avgpool2d_backward(NULL, dx, dout, &d);
    snprintf(what, sizeof what, "%s %s d input", pfx, kn);
    fd_check(what, x, nx, dx, pool_loss, &c, 1e-3, 2e-3, 2e-2); /* small steps: the argmax must not move */
    free(c.out);
    free(c.idx);
    free(dx);
    free(x);
    free(out);
    free(dout);
    free(dxw);
    free(idxf);
}

/* random pooling geometries: fast on 1/2/3 threads against the reference */
static void pool_random(void) {
    uint64_t s = 0xb001;
#define RI(lo, hi)                                                                                           \
    ((int)((s = s * 6364136223846793005ULL + 1442695040888963407ULL) >> 33) % ((hi) - (lo) + 1) + (lo))
    int ran = 0, tried = 0, bad = 0;
    while (ran < 200 && tried < 5000) {
        tried++;
        int kind = RI(0, 1), OH, OW;
        pool2d_dims_t d = {.N = RI(1, 3),
                           .C = RI(1, 3),
                           .H = RI(1, 9),
                           .W = RI(1, 9),
                           .KH = RI(1, 4),
                           .KW = RI(1, 4),
                           .stride_h = RI(0, 3),
                           .stride_w = RI(0, 3),
                           .pad_h = RI(0, 2),
                           .pad_w = RI(0, 2)};
        if (pool2d_out_size(&d, &OH, &OW)) continue;
        ran++;
        size_t nx = (size_t)d.N * d.C * d.H * d.W, ny = (size_t)d.N * d.C * OH * OW;
        float *x = malloc(4 * nx), *dy = malloc(4 * ny), *y0 = nanbuf(ny), *y1 = nanbuf(ny);
        float *g0 = constbuf(nx, 0), *g1 = constbuf(nx, 0);
        int *i0 = malloc(sizeof(int) * ny), *i1 = malloc(sizeof(int) * ny);
        for (size_t i = 0; i < nx; i++) x[i] = (float)RI(-1000, 1000) / 1000.0f;
        for (size_t i = 0; i < ny; i++) dy[i] = (float)RI(-1000, 1000) / 1000.0f;
        if (kind == 0) {
            maxpool2d_forward_ref(NULL, y0, i0, x, &d);
            maxpool2d_backward_ref(NULL, g0, dy, i0, &d);
        } else {
            avgpool2d_forward_ref(NULL, y0, x, &d);
            avgpool2d_backward_ref(NULL, g0, dy, &d);
        }
        for (int v = 1; v < NVAR; v++) {
            for (size_t i = 0; i < nx; i++) g1[i] = 0.0f;
            if (kind == 0) {
                maxpool2d_forward(&pars[v], y1, i1, x, &d);
                maxpool2d_backward(&pars[v], g1, dy, i1, &d);
                bad += memcmp(i0, i1, sizeof(int) * ny) != 0;
            } else {
                avgpool2d_forward(&pars[v], y1, x, &d);
                avgpool2d_backward(&pars[v], g1, dy, &d);
            }
            bad += worst_ratio(y1, y0, ny, 1e-6, 1e-5) > 1 || worst_ratio(g1, g0, nx, 1e-6, 1e-5) > 1;
        }
        free(x);
        free(dy);
        free(y0);
        free(y1);
        free(g0);
        free(g1);
        free(i0);
        free(i1);
    }
#undef RI
    CHECK(ran == 200 && bad == 0, "%d random pooling geometries: fast (1/2/3 threads) == reference (%d bad)",
          ran, bad);
}

static void pool_invalid(void) {
    pool2d_dims_t d = {.N = 1, .C = 1, .H = 4, .W = 4, .KH = 2, .KW = 2, .pad_h = 2};
    CHECK(pool2d_out_size(&d, NULL, NULL) == NN_EINVAL, "pooling padding > window/2 refused");
    d.pad_h = 1;
    int OH, OW;
    CHECK(pool2d_out_size(&d, &OH, &OW) == NN_OK && OH == 3 && OW == 2,
          "2x2 window, default stride, pad (1,0): 3x2");
    float x[4] = {1, NAN, 3, 2}, y;
    int idx;
    pool2d_dims_t g = {.N = 1, .C = 1, .H = 2, .W = 2, .KH = 2, .KW = 2};
    maxpool2d_forward(NULL, &y, &idx, x, &g);
    CHECK(isnan(y) && idx == 1, "max pooling propagates NaN (index of the first NaN)");
}

/* ------------------------------------------------------------------ norms */

typedef struct {
    int kind; /* 0 batch train, 1 batch eval, 2 instance */
    int N, C, HW;
    float *x, *w, *b, *dout, *out, *m, *r, *rm, *rv;
} norm_ctx;

static double norm_loss(void *vc) {
    norm_ctx *c = vc;
    if (c->kind == 0)
        batchnorm2d_forward(NULL, c->out, c->m, c->r, c->x, c->w, c->b, NULL, NULL, c->N, c->C, c->HW, 1e-5f,
                            0.1f);
    else if (c->kind == 1)
        batchnorm2d_forward_eval(NULL, c->out, c->x, c->w, c->b, c->rm, c->rv, c->N, c->C, c->HW, 1e-5f);
    else
        instancenorm2d_forward(NULL, c->out, c->m, c->r, c->x, c->w, c->b, c->N, c->C, c->HW, 1e-5f);
    return dotd(c->out, c->dout, (size_t)c->N * c->C * c->HW);
}

static void bn_case(tensorfile_t *tf, int idx) {
    char pfx[32], what[160];
    snprintf(pfx, sizeof pfx, "bn%d.", idx);
    float *dm = read_t(tf, pfx, "dims", 5);
    if (!dm) {
        CHECK(0, "%s dims", pfx);
        return;
    }
    int N = (int)dm[0], C = (int)dm[1], HW = (int)dm[2] * (int)dm[3], aff = (int)dm[4];
    free(dm);
    size_t n = (size_t)N * C * HW;
    float *x = read_t(tf, pfx, "x", n), *out = read_t(tf, pfx, "out", n), *dout = read_t(tf, pfx, "dout", n),
          *dxw = read_t(tf, pfx, "dx", n), *rm0 = read_t(tf, pfx, "run_mean_in", C),
          *rv0 = read_t(tf, pfx, "run_var_in", C), *rmw = read_t(tf, pfx, "run_mean", C),
          *rvw = read_t(tf, pfx, "run_var", C), *mw = read_t(tf, pfx, "mean", C),
          *rw = read_t(tf, pfx, "rstd", C), *eout = read_t(tf, pfx, "eval_out", n),
          *edx = read_t(tf, pfx, "eval_dx", n);
    float *w = aff ? read_t(tf, pfx, "w", C) : NULL, *b = aff ? read_t(tf, pfx, "b", C) : NULL;
    float *dww = aff ? read_t(tf, pfx, "dw", C) : NULL, *dbw = aff ? read_t(tf, pfx, "db", C) : NULL;
    float *edw = aff ? read_t(tf, pfx, "eval_dw", C) : NULL,
          *edb = aff ? read_t(tf, pfx, "eval_db", C) : NULL;
    if (!x || !out || !dout || !dxw || !rm0 || !rv0 || !rmw || !rvw || !mw || !rw || !eout || !edx ||
        (aff && (!w || !b || !dww || !dbw || !edw || !edb))) {
        CHECK(0, "%s fixture tensors", pfx);
        return;
    }
    for (int v = 0; v < NVAR; v++) {
        float *y = nanbuf(n), *m = nanbuf(C), *r = nanbuf(C), *rm = malloc(4 * C), *rv = malloc(4 * C);
        float *dx = constbuf(n, GRAD0), *dw = constbuf(C, GRAD0), *db = constbuf(C, GRAD0);
        memcpy(rm, rm0, 4 * C);
        memcpy(rv, rv0, 4 * C);
        int rc = v == 0 ? batchnorm2d_forward_ref(&pars[0], y, m, r, x, w, b, rm, rv, N, C, HW, 1e-5f, 0.1f)
                        : batchnorm2d_forward(&pars[v], y, m, r, x, w, b, rm, rv, N, C, HW, 1e-5f, 0.1f);
        CHECK(rc == NN_OK, "%s %s train forward runs", pfx, var_name[v]);
#define CMP(got, want, cnt, label, off)                                                                      \
    do {                                                                                                     \
        snprintf(what, sizeof what, "%s %s %s", pfx, var_name[v], label);                                    \
        close_off(what, got, want, off, cnt, 1e-5, 1e-4);                                                    \
    } while (0)
        CMP(y, out, n, "train out", 0.0f);
        CMP(m, mw, C, "saved mean", 0.0f);
        CMP(r, rw, C, "saved rstd", 0.0f);
        CMP(rm, rmw, C, "running mean", 0.0f);
        CMP(rv, rvw, C, "running var (unbiased)", 0.0f);
        rc = v == 0 ? batchnorm2d_backward_ref(&pars[0], dx, aff ? dw : NULL, aff ? db : NULL, dout, x, m, r,
                                               w, N, C, HW)
                    : batchnorm2d_backward(&pars[v], dx, aff ? dw : NULL, aff ? db : NULL, dout, x, m, r, w,
                                           N, C, HW);
        CHECK(rc == NN_OK, "%s %s train backward runs", pfx, var_name[v]);
        CMP(dx, dxw, n, "train d input (added)", GRAD0);
        if (aff) {
            CMP(dw, dww, C, "train d weight (added)", GRAD0);
            CMP(db, dbw, C, "train d bias (added)", GRAD0);
        }
        /* eval with the updated running statistics */
        for (size_t i = 0; i < n; i++) y[i] = NAN, dx[i] = GRAD0;
        for (int i = 0; i < C; i++) dw[i] = db[i] = GRAD0;
        rc = v == 0 ? batchnorm2d_forward_eval_ref(&pars[0], y, x, w, b, rmw, rvw, N, C, HW, 1e-5f)
                    : batchnorm2d_forward_eval(&pars[v], y, x, w, b, rmw, rvw, N, C, HW, 1e-5f);
        CHECK(rc == NN_OK, "%s %s eval forward runs", pfx, var_name[v]);
        CMP(y, eout, n, "eval out", 0.0f);
        rc = v == 0 ? batchnorm2d_backward_eval_ref(&pars[0], dx, aff ? dw : NULL, aff ? db : NULL, dout, x,
                                                    rmw, rvw, w, N, C, HW, 1e-5f)
                    : batchnorm2d_backward_eval(&pars[v], dx, aff ? dw : NULL, aff ? db : NULL, dout, x, rmw,
                                                rvw, w, N, C, HW, 1e-5f);
        CHECK(rc == NN_OK, "%s %s eval backward runs", pfx, var_name[v]);
        CMP(dx, edx, n, "eval d input (added)", GRAD0);
        if (aff) {
            CMP(dw, edw, C, "eval d weight (added)", GRAD0);
            CMP(db, edb, C, "eval d bias (added)", GRAD0);
        }
        free(y);
        free(m);
        free(r);
        free(rm);
        free(rv);
        free(dx);
        free(dw);
        free(db);
    }
    /* finite differences, training and eval */
    for (int kind = 0; kind < 2; kind++) {
        norm_ctx c = {.kind = kind,
                      .N = N,
                      .C = C,
                      .HW = HW,
                      .x = x,
                      .w = w,
                      .b = b,
                      .dout = dout,
                      .out = nanbuf(n),
                      .m = nanbuf(C),
                      .r = nanbuf(C),
                      .rm = rmw,
                      .rv = rvw};
        float *dx = constbuf(n, 0), *dw = constbuf(C, 0), *db = constbuf(C, 0);
        norm_loss(&c);
        if (kind == 0)
            batchnorm2d_backward(NULL, dx, dw, db, dout, x, c.m, c.r, w, N, C, HW);
        else
            batchnorm2d_backward_eval(NULL, dx, dw, db, dout, x, rmw, rvw, w, N, C, HW, 1e-5f);
        const char *k = kind ? "eval" : "train";
        snprintf(what, sizeof what, "%s %s d input", pfx, k);
        fd_check(what, x, n, dx, norm_loss, &c, 1e-2, 3e-3, 3e-2);
        if (aff) {
            snprintf(what, sizeof what, "%s %s d weight", pfx, k);
            fd_check(what, w, C, dw, norm_loss, &c, 1e-2, 3e-3, 3e-2);
            snprintf(what, sizeof what, "%s %s d bias", pfx, k);
            fd_check(what, b, C, db, norm_loss, &c, 1e-2, 3e-3, 3e-2);
        }
        free(c.out);
        free(c.m);
        free(c.r);
        free(dx);
        free(dw);
        free(db);
    }
    free(x);
    free(out);
    free(dout);
    free(dxw);
    free(rm0);
    free(rv0);
    free(rmw);
    free(rvw);
    free(mw);
    free(rw);
    free(eout);
    free(edx);
    free(w);
    free(b);
    free(dww);
    free(dbw);
    free(edw);
    free(edb);
}

static void in_case(tensorfile_t *tf, int idx) {
    char pfx[32], what[160];
    snprintf(pfx, sizeof pfx, "in%d.", idx);
    float *dm = read_t(tf, pfx, "dims", 5);
    if (!dm) {
        CHECK(0, "%s dims", pfx);
        return;
    }
    int N = (int)dm[0], C = (int)dm[1], HW = (int)dm[2] * (int)dm[3], aff = (int)dm[4];
    free(dm);
    size_t n = (size_t)N * C * HW;
    float *x = read_t(tf, pfx, "x", n), *out = read_t(tf, pfx, "out", n), *dout = read_t(tf, pfx, "dout", n),
          *dxw = read_t(tf, pfx, "dx", n);
    float *w = aff ? read_t(tf, pfx, "w", C) : NULL, *b = aff ? read_t(tf, pfx, "b", C) : NULL;
    float *dww = aff ? read_t(tf, pfx, "dw", C) : NULL, *dbw = aff ? read_t(tf, pfx, "db", C) : NULL;
    if (!x || !out || !dout || !dxw || (aff && (!w || !b || !dww || !dbw))) {
        CHECK(0, "%s fixture tensors", pfx);
        return;
    }
    for (int v = 0; v < NVAR; v++) {
        float *y = nanbuf(n), *m = nanbuf((size_t)N * C), *r = nanbuf((size_t)N * C);
        float *dx = constbuf(n, GRAD0), *dw = constbuf(C, GRAD0), *db = constbuf(C, GRAD0);
        int rc = v == 0 ? instancenorm2d_forward_ref(&pars[0], y, m, r, x, w, b, N, C, HW, 1e-5f)
                        : instancenorm2d_forward(&pars[v], y, m, r, x, w, b, N, C, HW, 1e-5f);
        CHECK(rc == NN_OK, "%s %s forward runs", pfx, var_name[v]);
        CMP(y, out, n, "out", 0.0f);
        rc = v == 0 ? instancenorm2d_backward_ref(&pars[0], dx, aff ? dw : NULL, aff ? db : NULL, dout, x, m,
                                                  r, w, N, C, HW)
                    : instancenorm2d_backward(&pars[v], dx, aff ? dw : NULL, aff ? db : NULL, dout, x, m, r,
                                              w, N, C, HW);
        CHECK(rc == NN_OK, "%s %s backward runs", pfx, var_name[v]);
        CMP(dx, dxw, n, "d input (added)", GRAD0);
        if (aff) {
            CMP(dw, dww, C, "d weight (added)", GRAD0);
            CMP(db, dbw, C, "d bias (added)", GRAD0);
        }
        free(y);
        free(m);
        free(r);
        free(dx);
        free(dw);
        free(db);
    }
    norm_ctx c = {.kind = 2,
                  .N = N,
                  .C = C,
                  .HW = HW,
                  .x = x,
                  .w = w,
                  .b = b,
                  .dout = dout,
                  .out = nanbuf(n),
                  .m = nanbuf((size_t)N * C),
                  .r = nanbuf((size_t)N * C)};
    float *dx = constbuf(n, 0), *dw = constbuf(C, 0), *db = constbuf(C, 0);
    norm_loss(&c);
    instancenorm2d_backward(NULL, dx, dw, db, dout, x, c.m, c.r, w, N, C, HW);
    snprintf(what, sizeof what, "%s d input", pfx);
    fd_check(what, x, n, dx, norm_loss, &c, 1e-2, 3e-3, 3e-2);
    if (aff) {
        snprintf(what, sizeof what, "%s d weight", pfx);
        fd_check(what, w, C, dw, norm_loss, &c, 1e-2, 3e-3, 3e-2);
        snprintf(what, sizeof what, "%s d bias", pfx);
        fd_check(what, b, C, db, norm_loss, &c, 1e-2, 3e-3, 3e-2);
    }
    free(c.out);
    free(c.m);
    free(c.r);
    free(dx);
    free(dw);
    free(db);
    free(x);
    free(out);
    free(dout);
    free(dxw);
    free(w);
    free(b);
    free(dww);
    free(dbw);
}

static void norm_invalid(void) {
    float v[4] = {1, 2, 3, 4}, m, r;
    CHECK(batchnorm2d_forward(NULL, v, &m, &r, v, NULL, NULL, NULL, NULL, 1, 1, 1, 1e-5f, 0.1f) == NN_EINVAL,
          "batch norm over one value refused (no unbiased variance)");
    CHECK(batchnorm2d_forward(NULL, v, &m, &r, v, NULL, NULL, NULL, NULL, 0, 1, 4, 1e-5f, 0.1f) == NN_EINVAL,
          "batch norm with N = 0 refused");
    CHECK(instancenorm2d_forward(NULL, v, &m, &r, v, NULL, NULL, 1, 1, 4, -1.0f) == NN_EINVAL,
          "negative eps refused");
}

/* ------------------------------------------------------------------ losses */

typedef struct {
    int N, K, E;
    float *x, *img, *txt, *ls, *row, *ws, sm;
    int *labels;
    size_t nws;
} loss_ctx;

static double xent_loss(void *vc) {
    loss_ctx *c = vc;
    float l = NAN;
    softmax_xent(NULL, &l, c->row, NULL, c->x, c->labels, c->N, c->K, c->sm);
    return l;
}
static double nce_loss(void *vc) {
    loss_ctx *c = vc;
    float l = NAN;
    infonce(NULL, &l, NULL, NULL, NULL, c->img, c->txt, *c->ls, c->N, c->E, c->ws, c->nws);
    return l;
}

static void xent_case(tensorfile_t *tf, int idx) {
    char pfx[32], what[160];
    snprintf(pfx, sizeof pfx, "xent%d.", idx);
    float *dm = read_t(tf, pfx, "dims", 3);
    if (!dm) {
        CHECK(0, "%s dims", pfx);
        return;
    }
    int N = (int)dm[0], K = (int)dm[1];
    float sm = dm[2];
    free(dm);
    float *x = read_t(tf, pfx, "logits", (size_t)N * K), *lf = read_t(tf, pfx, "labels", N),
          *lw = read_t(tf, pfx, "loss", 1), *dw = read_t(tf, pfx, "dlogits", (size_t)N * K);
    if (!x || !lf || !lw || !dw) {
        CHECK(0, "%s fixture tensors", pfx);
        return;
    }
    int *lab = malloc(sizeof(int) * N);
    for (int i = 0; i < N; i++) lab[i] = (int)lf[i];
    for (int v = 0; v < NVAR; v++) {
        float l = NAN, *row = nanbuf(N), *d = nanbuf((size_t)N * K);
        int rc = v == 0 ? softmax_xent_ref(&pars[0], &l, row, d, x, lab, N, K, sm)
                        : softmax_xent(&pars[v], &l, row, d, x, lab, N, K, sm);
        CHECK(rc == NN_OK, "%s %s runs", pfx, var_name[v]);
        snprintf(what, sizeof what, "%s %s loss", pfx, var_name[v]);
        CHECK_CLOSE(l, lw[0], 1e-6, 1e-5, "%s", what);
        CMP(d, dw, (size_t)N * K, "d logits", 0.0f);
        double s = 0;
        int cnt = 0;
        for (int i = 0; i < N; i++) s += row[i], cnt += lab[i] >= 0;
        CHECK_CLOSE(s / cnt, lw[0], 1e-6, 1e-5, "%s %s row losses average to the loss", pfx, var_name[v]);
        free(row);
        free(d);
    }
    loss_ctx c = {.N = N, .K = K, .x = x, .row = nanbuf(N), .labels = lab, .sm = sm};
    float l, *d = nanbuf((size_t)N * K);
    softmax_xent(NULL, &l, c.row, d, x, lab, N, K, sm);
    snprintf(what, sizeof what, "%s d logits", pfx);
    fd_check(what, x, (size_t)N * K, d, xent_loss, &c, 1e-2, 2e-3, 2e-2);
    /* in place: dlogits may be the logits buffer */
    float *xi = malloc(sizeof(float) * N * K);
    memcpy(xi, x, sizeof(float) * N * K);
    softmax_xent(&pars[2], &l, c.row, xi, xi, lab, N, K, sm);
    snprintf(what, sizeof what, "%s in place d logits", pfx);
    close_all(what, xi, dw, (size_t)N * K, 1e-5, 1e-4);
    free(xi);
    free(d);
    free(c.row);
    free(x);
    free(lf);
    free(lw);
    free(dw);
    free(lab);
}

static void nce_case(tensorfile_t *tf, int idx) {
    char pfx[32], what[160];
    snprintf(pfx, sizeof pfx, "nce%d.", idx);
    float *dm = read_t(tf, pfx, "dims", 2);
    if (!dm) {
        CHECK(0, "%s dims", pfx);
        return;
    }
    int N = (int)dm[0], E = (int)dm[1];
    free(dm);
    size_t ne = (size_t)N * E;
    float *img = read_t(tf, pfx, "img", ne), *txt = read_t(tf, pfx, "txt", ne),
          *ls = read_t(tf, pfx, "logit_scale", 1), *lw = read_t(tf, pfx, "loss", 1),
          *diw = read_t(tf, pfx, "dimg", ne), *dtw = read_t(tf, pfx, "dtxt", ne),
          *dsw = read_t(tf, pfx, "dlogit_scale", 1);
    if (!img || !txt || !ls || !lw || !diw || !dtw || !dsw) {
        CHECK(0, "%s fixture tensors", pfx);
        return;
    }
    size_t nws = infonce_ws_size(N);
    float *ws = malloc(sizeof(float) * nws);
    for (int v = 0; v < NVAR; v++) {
        float l = NAN, *di = nanbuf(ne), *dt = nanbuf(ne), ds = GRAD0;
        int rc = v == 0 ? infonce_ref(&pars[0], &l, di, dt, &ds, img, txt, *ls, N, E, NULL, 0)
                        : infonce(&pars[v], &l, di, dt, &ds, img, txt, *ls, N, E, ws, nws);
        CHECK(rc == NN_OK, "%s %s runs", pfx, var_name[v]);
        snprintf(what, sizeof what, "%s %s loss", pfx, var_name[v]);
        CHECK_CLOSE(l, lw[0], 1e-5, 1e-5, "%s", what);
        CMP(di, diw, ne, "d image embeddings", 0.0f);
        CMP(dt, dtw, ne, "d text embeddings", 0.0f);
        snprintf(what, sizeof what, "%s %s d logit_scale (added)", pfx, var_name[v]);
        CHECK_CLOSE(ds, dsw[0] + GRAD0, 1e-5, 1e-4, "%s", what);
        free(di);
        free(dt);
    }
    CHECK(infonce(NULL, lw, NULL, NULL, NULL, img, txt, *ls, N, E, ws, nws - 1) == NN_EINVAL,
          "%s short scratch refused", pfx);
    loss_ctx c = {.N = N, .E = E, .img = img, .txt = txt, .ls = ls, .ws = ws, .nws = nws};
    float l, *di = nanbuf(ne), *dt = nanbuf(ne), ds = 0;
    infonce(NULL, &l, di, dt, &ds, img, txt, *ls, N, E, ws, nws);
    snprintf(what, sizeof what, "%s d image", pfx);
    fd_check(what, img, ne, di, nce_loss, &c, 1e-3, 3e-3, 3e-2);
    snprintf(what, sizeof what, "%s d text", pfx);
    fd_check(what, txt, ne, dt, nce_loss, &c, 1e-3, 3e-3, 3e-2);
    snprintf(what, sizeof what, "%s d logit_scale", pfx);
    fd_check(what, ls, 1, &ds, nce_loss, &c, 1e-3, 3e-3, 3e-2);
    free(di);
    free(dt);
    free(ws);
    free(img);
    free(txt);
    free(ls);
    free(lw);
    free(diw);
    free(dtw);
    free(dsw);
}
typedef struct {
    int kind;
    size_t n;
    float *x, *t, tv;
} ew_ctx;

static int ew_call(int v, int kind, float *l, float *d, const float *x, const float *t, float tv, size_t n,
                   float gs) {
    const nn_par_t *p = v ? &pars[v] : NULL;
    switch (kind) {
    case 0:
        return v ? bce_logits_loss(p, l, d, x, t, tv, n, gs)
                 : bce_logits_loss_ref(&pars[0], l, d, x, t, tv, n, gs);
    case 1:
        return v ? l1_loss(p, l, d, x, t, n, gs) : l1_loss_ref(&pars[0], l, d, x, t, n, gs);
    default:
        return v ? mse_loss(p, l, d, x, t, n, gs) : mse_loss_ref(&pars[0], l, d, x, t, n, gs);
    }
}
static double ew_loss(void *vc) {
    ew_ctx *c = vc;
    float l = NAN;
    ew_call(1, c->kind, &l, NULL, c->x, c->t, c->tv, c->n, 1.0f);
    return l;
}

static void ew_case(tensorfile_t *tf, int idx) {
    static const char *kname[3] = {"bce_logits", "l1", "mse"};
    char pfx[32], what[160];
    snprintf(pfx, sizeof pfx, "ew%d.", idx);
    float *dm = read_t(tf, pfx, "dims", 4);
    if (!dm) {
        CHECK(0, "%s dims", pfx);
        return;
    }
    int kind = (int)dm[0], hast = (int)dm[2];
    size_t n = (size_t)dm[1];
    float tv = dm[3];
    free(dm);
    float *x = read_t(tf, pfx, "x", n), *t = hast ? read_t(tf, pfx, "t", n) : NULL,
          *lw = read_t(tf, pfx, "loss", 1), *dw = read_t(tf, pfx, "dx", n);
    if (!x || !lw || !dw || (hast && !t) || kind < 0 || kind > 2) {
        CHECK(0, "%s fixture tensors", pfx);
        return;
    }
    float *loss0 = NULL;
    for (int v = 0; v < NVAR; v++) {
        float l = NAN, *d = nanbuf(n);
        CHECK(ew_call(v, kind, &l, d, x, t, tv, n, 1.0f) == NN_OK, "%s %s %s runs", pfx, kname[kind],
              var_name[v]);
        snprintf(what, sizeof what, "%s %s %s loss", pfx, kname[kind], var_name[v]);
        CHECK_CLOSE(l, lw[0], 1e-6, 1e-5, "%s", what);
        snprintf(what, sizeof what, "%s %s %s d pred", pfx, kname[kind], var_name[v]);
        close_all(what, d, dw, n, 1e-5, 1e-4);
        if (v == 1)
            loss0 = memcpy(malloc(sizeof(float)), &l, sizeof(float));
        else if (v > 1)
            CHECK(loss0 && l == *loss0, "%s %s loss identical for 1 and %s", pfx, kname[kind], var_name[v]);
        /* a weighted term: the gradient scaled, the loss not */
        if (v == 2) {
            float l2 = NAN, *d2 = nanbuf(n), *want = malloc(sizeof(float) * n);
            for (size_t i = 0; i < n; i++) want[i] = 100.0f * dw[i];
            ew_call(v, kind, &l2, d2, x, t, tv, n, 100.0f);
            snprintf(what, sizeof what, "%s %s gscale 100: 100 x d pred", pfx, kname[kind]);
            close_all(what, d2, want, n, 1e-5, 1e-4);
            CHECK(l2 == l, "%s %s gscale leaves the loss alone", pfx, kname[kind]);
            free(d2);
            free(want);
        }
        free(d);
    }
    if (kind != 1) { /* L1 is not differentiable at the ties the fixture plants */
        ew_ctx c = {.kind = kind, .n = n, .x = x, .t = t, .tv = tv};
        float l, *d = nanbuf(n);
        ew_call(1, kind, &l, d, x, t, tv, n, 1.0f);
        snprintf(what, sizeof what, "%s %s d pred", pfx, kname[kind]);
        fd_check(what, x, n, d, ew_loss, &c, 1e-2, 2e-3, 2e-2);
        free(d);
    }
    free(loss0);
    free(x);
    free(t);
    free(lw);
    free(dw);
}
#undef CMP

static void loss_invalid(void) {
    float x[6] = {0}, l, row[2];
    int lab[2] = {0, 3};
    CHECK(softmax_xent(NULL, &l, row, NULL, x, lab, 2, 3, 0.0f) == NN_EINVAL, "label >= K refused");
    lab[1] = 1;
    CHECK(softmax_xent(NULL, &l, row, NULL, x, lab, 2, 3, 1.5f) == NN_EINVAL, "smoothing > 1 refused");
    lab[0] = lab[1] = -1;
    float d[6];
    CHECK(softmax_xent(NULL, &l, row, d, x, lab, 2, 3, 0.0f) == NN_OK && l == 0.0f && d[0] == 0.0f &&
              d[5] == 0.0f,
          "every row ignored: loss 0, gradient 0");
    CHECK(l1_loss(NULL, &l, NULL, x, x, 0, 1.0f) == NN_EINVAL &&
              mse_loss(NULL, &l, NULL, x, NULL, 6, 1.0f) == NN_EINVAL,
          "element-wise loss over 0 values, or without a target, refused");
}

/* ---------------------------------------------------------------- dropout */

static void dropout_tests(void) {
    const size_t n = 200003;
    const float p = 0.3f, s = 1.0f / (1.0f - p);
    float *x = malloc(4 * n), *y[NVAR], *dx = malloc(4 * n), *dy = malloc(4 * n);
    unsigned char *mk[NVAR];
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((i * 7919) % 1000) / 500.0f - 1.0f, dy[i] = (float)(i % 13) - 6.0f;
    for (int v = 0; v < NVAR; v++) {
        y[v] = nanbuf(n);
        mk[v] = malloc(n);
        memset(mk[v], 7, n);
        int rc = v == 0 ? dropout_forward_ref(&pars[0], y[v], mk[v], x, n, p, 42, 3)
                        : dropout_forward(&pars[v], y[v], mk[v], x, n, p, 42, 3);
        CHECK(rc == NN_OK, "dropout %s runs", var_name[v]);
    }
    size_t kept = 0, pairs = 0, badval = 0, badkeep = 0;
    for (size_t i = 0; i < n; i++) {
        kept += mk[0][i] == 1;
        if (mk[0][i] > 1) badval++;
        if (i + 1 < n) pairs += mk[0][i] && mk[0][i + 1];
        if (i % 97 == 0 && dropout_keep(42, 3, i, p) != mk[0][i]) badkeep++;
    }
    double frac = (double)kept / n, sd = sqrt(p * (1 - p) / n);
    CHECK(fabs(frac - (1 - p)) < 5 * sd, "keep rate %.5f within 5 sigma of %.2f", frac, 1 - p);
    CHECK(fabs((double)pairs / (n - 1) - (1 - p) * (1 - p)) < 0.01,
          "neighbours independent: both kept %.4f ~ %.4f", (double)pairs / (n - 1), (1 - p) * (1 - p));
    CHECK(badval == 0 && badkeep == 0, "mask bytes are 0/1 and match dropout_keep");
    for (int v = 1; v < NVAR; v++) {
        CHECK(memcmp(mk[v], mk[0], n) == 0, "dropout %s mask identical to the reference", var_name[v]);
        CHECK(memcmp(y[v], y[0], 4 * n) == 0, "dropout %s output identical to the reference", var_name[v]);
    }
    size_t badout = 0;
    double sx = 0, sy = 0;
    for (size_t i = 0; i < n; i++) {
        float want = mk[0][i] ? x[i] * s : 0.0f;
        if (y[0][i] != want) badout++;
        sx += fabs(x[i]), sy += fabs(y[0][i]);
    }
    CHECK(badout == 0, "kept elements scaled by 1/(1-p), dropped ones 0");
    CHECK(fabs(sy / sx - 1.0) < 0.01, "inverted scaling keeps the mean magnitude (ratio %.4f)", sy / sx);
    /* other streams and seeds give other masks */
    unsigned char *m2 = malloc(n);
    float *y2 = malloc(4 * n);
    dropout_forward(&pars[2], y2, m2, x, n, p, 42, 4);
    size_t same = 0;
    for (size_t i = 0; i < n; i++) same += m2[i] == mk[0][i];
    double expect = p * p + (1 - p) * (1 - p);
    CHECK(fabs((double)same / n - expect) < 0.01, "another stream: masks agree on %.4f (independent: %.4f)",
          (double)same / n, expect);
    dropout_forward(&pars[2], y2, m2, x, n, p, 43, 3);
    same = 0;
    for (size_t i = 0; i < n; i++) same += m2[i] == mk[0][i];
    CHECK(fabs((double)same / n - expect) < 0.01, "another seed: masks agree on %.4f (independent: %.4f)",
          (double)same / n, expect);
    /* in place */
    memcpy(y2, x, 4 * n);
    dropout_forward(&pars[3], y2, m2, y2, n, p, 42, 3);
    CHECK(memcmp(y2, y[0], 4 * n) == 0, "dropout in place (out == inp) gives the same output");
    /* backward: dx += dy * mask / (1-p) */
    for (int v = 0; v < NVAR; v++) {
        for (size_t i = 0; i < n; i++) dx[i] = GRAD0;
        int rc = v == 0 ? dropout_backward_ref(&pars[0], dx, dy, mk[0], n, p)
                        : dropout_backward(&pars[v], dx, dy, mk[0], n, p);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++)
            if (dx[i] != GRAD0 + (mk[0][i] ? dy[i] * s : 0.0f)) bad++;
        CHECK(rc == NN_OK && bad == 0, "dropout %s backward adds dout * mask / (1-p) (%zu wrong)",
              var_name[v], bad);
    }
    /* p = 0 is the identity; p = 1 zeroes; p outside [0,1] refused */
    dropout_forward(&pars[2], y2, m2, x, n, 0.0f, 1, 1);
    size_t ones = 0;
    for (size_t i = 0; i < n; i++) ones += m2[i];
    CHECK(ones == n && memcmp(y2, x, 4 * n) == 0, "p = 0: identity");
    dropout_forward(&pars[2], y2, m2, x, n, 1.0f, 1, 1);
    size_t nz = 0;
    for (size_t i = 0; i < n; i++) nz += m2[i] || y2[i] != 0.0f;
    CHECK(nz == 0, "p = 1: everything dropped, output 0");
    CHECK(dropout_forward(NULL, y2, m2, x, n, 1.5f, 1, 1) == NN_EINVAL &&
              dropout_forward(NULL, y2, m2, x, n, -0.1f, 1, 1) == NN_EINVAL &&
              dropout_forward(NULL, y2, m2, x, n, NAN, 1, 1) == NN_EINVAL,
          "p outside [0,1] (or NaN) refused");
    for (int v = 0; v < NVAR; v++) free(y[v]), free(mk[v]);
    free(x);
    free(dx);
    free(dy);
    free(m2);
    free(y2);
}

/* cases in a fixture file: "<kind>0.dims", "<kind>1.dims", ... */
static int ncases(tensorfile_t *tf, const char *kind) {
    char key[64];
    int n = 0;
    for (;; n++) {
        snprintf(key, sizeof key, "%s%d.dims", kind, n);
        if (!tf || !tf_find(tf, key)) break;
    }
    CHECK(n > 0, "%d %s cases in the fixtures", n, kind);
    return n;
}

int main(void) {
    pool_t p2, p3;
    pool_init(&p2, 2, NULL);
    pool_init(&p3, 3, NULL);
    pars[0] = pool_par(NULL);
    pars[1] = pool_par(NULL);
    pars[2] = pool_par(&p2);
    pars[3] = pool_par(&p3);
    err_t e = {0};
    tensorfile_t *tc = tf_open("tests/fixtures/nn_conv/conv.safetensors", &e);
    CHECK(tc != NULL, "open conv fixtures (%s)", e.msg);
    for (int i = 0, n = ncases(tc, "conv"); i < n; i++) conv_case(tc, 0, i);
    for (int i = 0, n = ncases(tc, "convt"); i < n; i++) conv_case(tc, 1, i);
    conv2d_dims_t unet = {.N = 3,
                          .C = 8,
                          .H = 16,
                          .W = 12,
                          .OC = 16,
                          .KH = 4,
                          .KW = 4,
                          .stride_h = 2,
                          .stride_w = 2,
                          .pad_h = 1,
                          .pad_w = 1};
    conv_big(0, "big conv", unet);
    conv_big(1, "big transposed", unet);
    conv_big(0, "tiled conv",
             (conv2d_dims_t){
                 .N = 1, .C = 64, .H = 40, .W = 40, .OC = 3, .KH = 4, .KW = 4, .pad_h = 1, .pad_w = 1});
    conv_big(1, "tiled transposed",
             (conv2d_dims_t){
                 .N = 2, .C = 3, .H = 39, .W = 39, .OC = 64, .KH = 4, .KW = 4, .pad_h = 1, .pad_w = 1});
    conv_random();
    conv_invalid();
    for (int i = 0, n = ncases(tc, "pool"); i < n; i++) pool_case(tc, i);
    pool_random();
    pool_invalid();
    tensorfile_t *tn = tf_open("tests/fixtures/nn_conv/norm.safetensors", &e);
    CHECK(tn != NULL, "open norm fixtures (%s)", e.msg);
    for (int i = 0, n = ncases(tn, "bn"); i < n; i++) bn_case(tn, i);
    for (int i = 0, n = ncases(tn, "in"); i < n; i++) in_case(tn, i);
    norm_invalid();
    tensorfile_t *tl = tf_open("tests/fixtures/nn_conv/loss.safetensors", &e);
    CHECK(tl != NULL, "open loss fixtures (%s)", e.msg);
    for (int i = 0, n = ncases(tl, "xent"); i < n; i++) xent_case(tl, i);
    for (int i = 0, n = ncases(tl, "nce"); i < n; i++) nce_case(tl, i);
    for (int i = 0, n = ncases(tl, "ew"); i < n; i++) ew_case(tl, i);
    loss_invalid();
    dropout_tests();
    if (tc) tf_close(tc);
    if (tn) tf_close(tn);
    if (tl) tf_close(tl);
    pool_free(&p2);
    pool_free(&p3);
    T_DONE();
}
