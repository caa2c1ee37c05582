/* nn/warp.c - see warp.h (pure maths: no allocation, no state).  The
 * formulas are derived in docs/augmentations.md. */
#include "warp.h"
#include <math.h>
#include <string.h>

/* Solve the 8x8 system a x = b in place (Gaussian elimination with partial
 * pivoting).  Returns -1 when a pivot vanishes (degenerate points). */
static int solve8(double a[8][8], double b[8], double x[8]) {
    for (int k = 0; k < 8; k++) {
        int piv = k;
        for (int r = k + 1; r < 8; r++)
            if (fabs(a[r][k]) > fabs(a[piv][k])) piv = r;
        if (!(fabs(a[piv][k]) > 1e-12)) return -1;
        if (piv != k) {
            for (int c = 0; c < 8; c++) {
                double t = a[k][c];
                a[k][c] = a[piv][c];
                a[piv][c] = t;
            }
            double t = b[k];
            b[k] = b[piv];
            b[piv] = t;
        }
        for (int r = k + 1; r < 8; r++) {
            double f = a[r][k] / a[k][k];
            if (f == 0) continue;
            for (int c = k; c < 8; c++) a[r][c] -= f * a[k][c];
            b[r] -= f * b[k];
        }
    }
    for (int k = 7; k >= 0; k--) {
        double s = b[k];
        for (int c = k + 1; c < 8; c++) s -= a[k][c] * x[c];
        x[k] = s / a[k][k];
    }
    return 0;
}

int warp_homography(const double from[8], const double to[8], double h[9]) {
    /* (h0 x + h1 y + h2) / (h6 x + h7 y + 1) = x', likewise y' with h3..h5:
     * two linear equations per point pair (torchvision's _get_perspective_coeffs). */
    double a[8][8], b[8], x[8];
    for (int k = 0; k < 4; k++) {
        double px = from[2 * k], py = from[2 * k + 1], qx = to[2 * k], qy = to[2 * k + 1];
        double r0[8] = {px, py, 1, 0, 0, 0, -qx * px, -qx * py};
        double r1[8] = {0, 0, 0, px, py, 1, -qy * px, -qy * py};
        memcpy(a[2 * k], r0, sizeof r0);
        memcpy(a[2 * k + 1], r1, sizeof r1);
        b[2 * k] = qx;
        b[2 * k + 1] = qy;
    }
    if (solve8(a, b, x)) return -1;
    for (int k = 0; k < 8; k++) h[k] = x[k];
    h[8] = 1;
    return 0;
}

int warp_perspective_matrix(const double start[8], const double end[8], double h[9]) {
    double c[9];
    if (warp_homography(end, start, c)) return -1;
    /* h = T(-1/2) * c * T(+1/2): shift output indices to corner-origin
     * coordinates, apply c, shift the (dehomogenised) result back. */
    double t[9];
    for (int r = 0; r < 3; r++) {
        t[3 * r + 0] = c[3 * r + 0];
        t[3 * r + 1] = c[3 * r + 1];
        t[3 * r + 2] = c[3 * r + 2] + 0.5 * (c[3 * r + 0] + c[3 * r + 1]);
    }
    for (int col = 0; col < 3; col++) {
        h[col] = t[col] - 0.5 * t[6 + col];
        h[3 + col] = t[3 + col] - 0.5 * t[6 + col];
        h[6 + col] = t[6 + col];
    }
    return 0;
}

void warp_rotation_matrix(double deg, int H, int W, double h[9]) {
    double t = deg * (M_PI / 180.0), cs = cos(t), sn = sin(t);
    double x0 = 0.5 - 0.5 * W, y0 = 0.5 - 0.5 * H; /* X, Y at j = i = 0 */
    h[0] = cs;
    h[1] = -sn;
    h[2] = cs * x0 - sn * y0 + 0.5 * (W - 1);
    h[3] = sn;
    h[4] = cs;
    h[5] = sn * x0 + cs * y0 + 0.5 * (H - 1);
    h[6] = 0;
    h[7] = 0;
    h[8] = 1;
}

static void tap_fill(warp_tap_t *t) {
    memset(t, 0, sizeof *t);
    t->fill_w = 1;
}

void warp_map_projective(const double h[9], int H, int W, warp_interp_t interp, warp_tap_t *map) {
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) {
            warp_tap_t *t = &map[(size_t)i * W + j];
            double d = h[6] * j + h[7] * i + h[8];
            double u = (h[0] * j + h[1] * i + h[2]) / d;
            double v = (h[3] * j + h[4] * i + h[5]) / d;
            /* Far outside (or at infinity): every tap is outside. */
            if (!(u > -2 && u < W + 1 && v > -2 && v < H + 1)) {
                tap_fill(t);
                continue;
            }
            memset(t, 0, sizeof *t);
            if (interp == WARP_NEAREST) {
                int x = (int)nearbyint(u), y = (int)nearbyint(v); /* round half to even, as grid_sample */
                if (x >= 0 && x < W && y >= 0 && y < H) {
                    t->i[0] = y * W + x;
                    t->w[0] = 1;
                } else
                    t->fill_w = 1;
                continue;
            }
            double fx0 = floor(u), fy0 = floor(v);
            int x0 = (int)fx0, y0 = (int)fy0;
            double ax = u - fx0, ay = v - fy0;
            double raw[4] = {(1 - ax) * (1 - ay), ax * (1 - ay), (1 - ax) * ay, ax * ay};
            int xs[4] = {x0, x0 + 1, x0, x0 + 1}, ys[4] = {y0, y0, y0 + 1, y0 + 1};
            double m = 0;
            int ok[4];
            for (int k = 0; k < 4; k++) {
                ok[k] = xs[k] >= 0 && xs[k] < W && ys[k] >= 0 && ys[k] < H;
                if (ok[k]) m += raw[k];
            }
            /* torchvision: out = m*s + (1-m)*fill, s the zero-padded sample */
            for (int k = 0; k < 4; k++)
                if (ok[k]) {
                    t->i[k] = ys[k] * W + xs[k];
                    t->w[k] = (float)(m * raw[k]);
                }
            t->fill_w = (float)(1 - m);
        }
}

/* One axis of F.interpolate(bilinear, align_corners=False) from n to out. */
static void lin_src(int o, int n, int out, int *a, int *b, double *l) {
    double s = ((double)n / out) * (o + 0.5) - 0.5;
    if (s < 0) s = 0;
    int a0 = (int)s;
    if (a0 > n - 1) a0 = n - 1;
    *a = a0;
    *b = a0 < n - 1 ? a0 + 1 : a0;
    *l = s - a0;
}

void warp_map_crop_resize(int top, int left, int ch, int cw, int H, int W, warp_tap_t *map) {
    for (int i = 0; i < H; i++) {
        int y0, y1;
        double ly;
        lin_src(i, ch, H, &y0, &y1, &ly);
        for (int j = 0; j < W; j++) {
            int x0, x1;
            double lx;
            lin_src(j, cw, W, &x0, &x1, &lx);
            warp_tap_t *t = &map[(size_t)i * W + j];
            int r0 = (top + y0) * W + left, r1 = (top + y1) * W + left;
            t->i[0] = r0 + x0;
            t->i[1] = r0 + x1;
            t->i[2] = r1 + x0;
            t->i[3] = r1 + x1;
            t->w[0] = (float)((1 - ly) * (1 - lx));
            t->w[1] = (float)((1 - ly) * lx);
            t->w[2] = (float)(ly * (1 - lx));
            t->w[3] = (float)(ly * lx);
            t->fill_w = 0;
        }
    }
}

void warp_apply(const warp_tap_t *map, int C, int H, int W, const float *src, float fill, float *dst) {
    size_t n = (size_t)H * W;
    for (size_t p = 0; p < n; p++) {
        const warp_tap_t *t = &map[p];
        float f = t->fill_w * fill;
        for (int c = 0; c < C; c++) {
            const float *s = src + (size_t)c * n;
            dst[(size_t)c * n + p] =
                t->w[0] * s[t->i[0]] + t->w[1] * s[t->i[1]] + t->w[2] * s[t->i[2]] + t->w[3] * s[t->i[3]] + f;
        }
    }
}

void warp_apply_adjoint(const warp_tap_t *map, int C, int H, int W, const float *ddst, float *dsrc) {
    size_t n = (size_t)H * W;
    for (size_t p = 0; p < n; p++) {
        const warp_tap_t *t = &map[p];
        for (int c = 0; c < C; c++) {
            float g = ddst[(size_t)c * n + p];
            float *s = dsrc + (size_t)c * n;
            s[t->i[0]] += t->w[0] * g;
            s[t->i[1]] += t->w[1] * g;
            s[t->i[2]] += t->w[2] * g;
            s[t->i[3]] += t->w[3] * g;
        }
    }
}

void jitter_forward(int C, int H, int W, const float *x, double beta, double gamma, float lo, float hi,
                    float *y, uint8_t *mask) {
    size_t n = (size_t)H * W;
    for (int c = 0; c < C; c++) {
        const float *xc = x + (size_t)c * n;
        float *yc = y + (size_t)c * n;
        double s = 0;
        for (size_t p = 0; p < n; p++) s += xc[p];
        double mu = beta * s / (double)n;
        for (size_t p = 0; p < n; p++) {
            double z = gamma * (beta * xc[p] - mu) + mu;
            float zf = (float)z;
            if (mask) mask[(size_t)c * n + p] = zf >= lo && zf <= hi;
            yc[p] = zf < lo ? lo : zf > hi ? hi : zf;
        }
    }
}

void jitter_backward(int C, int H, int W, const float *dy, double beta, double gamma, const uint8_t *mask,
                     float *dx) {
    size_t n = (size_t)H * W;
    for (int c = 0; c < C; c++) {
        const float *g = dy + (size_t)c * n;
        const uint8_t *mk = mask + (size_t)c * n;
        float *d = dx + (size_t)c * n;
        double s = 0;
        for (size_t p = 0; p < n; p++)
            if (mk[p]) s += g[p];
        double k = beta * (1 - gamma) * s / (double)n;
        for (size_t p = 0; p < n; p++) d[p] += (float)((mk[p] ? beta * gamma * g[p] : 0.0) + k);
    }
}
