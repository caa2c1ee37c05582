/* stroke_reg.c - loss plugin `stroke-reg`: the study's stroke regulariser
 * (docs/study.md 4.3 "stroke"): short segments, little turning, even
 * spacing.
 *
 * Per polyline with n >= 2 points, segments d_i = p_{i+1} - p_i (m = n-1),
 * lengths l_i = |d_i|, unit directions u_i = d_i / (l_i + 1e-8):
 *   length    = mean_i l_i
 *   curvature = mean_{i<m-1} (1 - u_i . u_{i+1})           (n >= 3, else 0)
 *   spacing   = sum_i (l_i - mean l)^2 / (m - 1)            (m >= 2, else 0; unbiased)
 *   r = a*length + b*curvature + c*spacing   (a, b, c = 0.1, 1.0, 0.5)
 * L = mean of r over the polylines with >= 2 points (0 when there are none).
 * bezier_samples=S > 0 reads each stroke's points as chained cubic Bezier
 * control points (3k+1, the bezier renderer's parameterisation) and
 * regularises each cubic sampled at S points (t = q/(S-1)) as a polyline of
 * its own, as the study did in Bezier mode (S = 20 in the inverse optimiser,
 * 50 in the CLIPasso-style one); the gradient flows back through the
 * Bernstein weights.
 * Gradient: d length/d l_i = 1/m; d spacing/d l_i = 2 (l_i - mean)/(m-1);
 * d l_i/d d_i = d_i/l_i; d(1 - u_i.u_j)/d u_i = -u_j and
 * d u/d d = I/(l+eps) - d d^T / (l (l+eps)^2).  A zero-length segment (l = 0)
 * adds its value (u = 0, so each of its turning terms is 1) but no gradient:
 * PyTorch's would be (1/eps) times the neighbour's direction, 1e8 px^-1.
 * Metrics: length, curvature, spacing (means over the polylines, unweighted).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "plugin.h"

#define UEPS 1e-8

static const plugin_param_t params[] = {
    {.name = "length", .type = PARAM_FLOAT, .def = 0.1, .min = 0, .max = 1e6,
     .help = "weight of the mean segment length (px)"},
    {.name = "curvature", .type = PARAM_FLOAT, .def = 1.0, .min = 0, .max = 1e6,
     .help = "weight of the mean turning 1 - cos(angle) between consecutive segments"},
    {.name = "spacing", .type = PARAM_FLOAT, .def = 0.5, .min = 0, .max = 1e6,
     .help = "weight of the variance of segment lengths (px^2)"},
    {.name = "bezier_samples", .type = PARAM_INT, .def = 0, .min = 0, .max = 1000,
     .help = "0: the points as polylines; S >= 2: points are cubic Bezier control points, each cubic sampled at S"},
};

typedef struct {
    double wl, wc, ws;
    int samples;
} sreg_t;

typedef struct {
    double len, curv, spac;
} parts_t;

static int sr_init(void *st, const plugin_value_t *v, const plugin_host_t *host, plugin_err_t *err) {
    sreg_t *s = st;
    (void)host;
    s->wl = v[0].f;
    s->wc = v[1].f;
    s->ws = v[2].f;
    s->samples = (int)v[3].i;
    if (s->samples == 1) {
        snprintf(err->msg, sizeof err->msg, "bezier_samples=1 cannot make a segment (0 or >= 2)");
        return EXIT_USAGE;
    }
    return 0;
}

/* two floats per sample, for the points and their gradient */
static size_t sr_ws(const void *st, const loss_in_t *in) {
    (void)in;
    return sizeof(float) * 4 * (size_t)((const sreg_t *)st)->samples;
}

/* Value of one polyline p (n points); adds scale * dr/dp into g (may be NULL). */
static double reg_poly(const sreg_t *s, const float *p, int n, float *g, double scale, parts_t *pt) {
    int m = n - 1;
    double mean = 0;
    for (int i = 0; i < m; i++) mean += hypot((double)p[2 * i + 2] - p[2 * i], (double)p[2 * i + 3] - p[2 * i + 1]);
    mean /= m;
    double var = 0, curv = 0;
    for (int i = 0; i < m; i++) {
        double l = hypot((double)p[2 * i + 2] - p[2 * i], (double)p[2 * i + 3] - p[2 * i + 1]);
        var += (l - mean) * (l - mean);
    }
    var = m >= 2 ? var / (m - 1) : 0;
    for (int i = 0; i + 1 < m; i++) {
        double ax = (double)p[2 * i + 2] - p[2 * i], ay = (double)p[2 * i + 3] - p[2 * i + 1];
        double bx = (double)p[2 * i + 4] - p[2 * i + 2], by = (double)p[2 * i + 5] - p[2 * i + 3];
        double la = hypot(ax, ay) + UEPS, lb = hypot(bx, by) + UEPS;
        curv += 1 - (ax * bx + ay * by) / (la * lb);
    }
    curv = m >= 2 ? curv / (m - 1) : 0;
    pt->len += mean, pt->curv += curv, pt->spac += var;
    if (g) {
        for (int i = 0; i < m; i++) {
            double dx = (double)p[2 * i + 2] - p[2 * i], dy = (double)p[2 * i + 3] - p[2 * i + 1];
            double l = hypot(dx, dy), gl = s->wl / m + (m >= 2 ? s->ws * 2 * (l - mean) / (m - 1) : 0);
            if (l <= 0) continue;
            /* turning terms with the previous and next segments: d/du_i = -(u_{i-1} + u_{i+1}) */
            double gux = 0, guy = 0;
            for (int j = i - 1; j <= i + 1; j += 2) {
                if (j < 0 || j >= m || m < 2) continue;
                double ex = (double)p[2 * j + 2] - p[2 * j], ey = (double)p[2 * j + 3] - p[2 * j + 1];
                double le = hypot(ex, ey) + UEPS;
                gux -= s->wc / (m - 1) * ex / le;
                guy -= s->wc / (m - 1) * ey / le;
            }
            double le = l + UEPS, dg = dx * gux + dy * guy;
            double gx = gl * dx / l + gux / le - dx * dg / (l * le * le);
            double gy = gl * dy / l + guy / le - dy * dg / (l * le * le);
            g[2 * i + 2] += (float)(scale * gx), g[2 * i + 3] += (float)(scale * gy);
            g[2 * i] -= (float)(scale * gx), g[2 * i + 1] -= (float)(scale * gy);
        }
    }
    return s->wl * mean + s->wc * curv + s->ws * var;
}

static int fail(plugin_err_t *err, int code, int k, const char *msg) {
    snprintf(err->msg, sizeof err->msg, "stroke-reg: stroke %d: %s", k, msg);
    return code;
}

static int sr_eval(void *st, void *ws, const plugin_host_t *host, const loss_in_t *in, loss_out_t *out,
                   plugin_err_t *err) {
    const sreg_t *s = st;
    (void)host;
    const scene_t *sc = in->scene;
    if (!sc) {
        snprintf(err->msg, sizeof err->msg, "stroke-reg: needs the current strokes (the host passed none)");
        return EXIT_INTERNAL;
    }
    int S = s->samples, K = 0;
    for (int k = 0; k < sc->nstrokes; k++) {
        int n = sc->npts[k];
        const float *p = sc->xy + 2 * (size_t)sc->off[k];
        for (int i = 0; i < 2 * n; i++)
            if (!isfinite(p[i])) {
                char m[64];
                snprintf(m, sizeof m, "point %d is not finite", i / 2);
                return fail(err, EXIT_NUMERIC, k, m);
            }
        if (S) {
            if (n < 4 || (n - 1) % 3) return fail(err, EXIT_DATA, k, "bezier_samples needs 3k+1 control points");
            K += (n - 1) / 3;
        } else if (n >= 2) K++;
    }
    parts_t pt = {0, 0, 0};
    double L = 0, scale = K ? 1.0 / K : 0;
    float *smp = ws, *gs = smp ? smp + 2 * (size_t)S : NULL;
    for (int k = 0; k < sc->nstrokes; k++) {
        int n = sc->npts[k];
        const float *p = sc->xy + 2 * (size_t)sc->off[k];
        float *g = out->dscene.xy ? out->dscene.xy + 2 * (size_t)sc->off[k] : NULL;
        if (!S) {
            if (n >= 2) L += reg_poly(s, p, n, g, scale, &pt);
            continue;
        }
        for (int c = 0; c + 3 < n; c += 3) {
            for (int q = 0; q < S; q++) {
                double t = (double)q / (S - 1), u = 1 - t;
                double b[4] = {u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t};
                for (int a = 0; a < 2; a++) {
                    double v = 0;
                    for (int r = 0; r < 4; r++) v += b[r] * p[2 * (c + r) + a];
                    smp[2 * q + a] = (float)v;
                }
            }
            if (g) memset(gs, 0, sizeof(float) * 2 * (size_t)S);
            L += reg_poly(s, smp, S, g ? gs : NULL, scale, &pt);
            if (!g) continue;
            for (int q = 0; q < S; q++) {
                double t = (double)q / (S - 1), u = 1 - t;
                double b[4] = {u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t};
                for (int r = 0; r < 4; r++)
                    for (int a = 0; a < 2; a++) g[2 * (c + r) + a] += (float)(b[r] * gs[2 * q + a]);
            }
        }
    }
    out->value = L * scale;
    out->nmetrics = 3;
    out->metric_name[0] = "length", out->metric[0] = pt.len * scale;
    out->metric_name[1] = "curvature", out->metric[1] = pt.curv * scale;
    out->metric_name[2] = "spacing", out->metric[2] = pt.spac * scale;
    return 0;
}

static const loss_vt vt = {.ws_size = sr_ws, .eval = sr_eval};

static const plugin_desc_t desc = {
    .abi = INVCLIP_PLUGIN_ABI,
    .kind = PLUGIN_LOSS,
    .name = "stroke-reg",
    .version = "1",
    .summary = "the study's stroke regulariser: mean segment length, turning and spacing variance per stroke",
    .help = "Per polyline (>= 2 points): r = length*mean|d_i| + curvature*mean(1 - u_i.u_{i+1}) + "
            "spacing*var(|d_i|) (unbiased), u = d/(|d|+1e-8); L = mean of r over polylines (docs/study.md "
            "4.3, defaults 0.1, 1.0, 0.5).  Units are px and px^2: the spacing term of raw QuickDraw polylines can "
            "dominate.  bezier_samples=S treats the points as cubic control points (3k+1) and regularises each "
            "cubic sampled at S points (the study: 20; CLIPasso-style optimiser: 50).  Zero-length segments add "
            "value but no gradient.  Metrics: length, curvature, spacing.",
    .params = params,
    .nparams = (int)(sizeof params / sizeof params[0]),
    .state_size = sizeof(sreg_t),
    .init = sr_init,
    .loss = &vt,
};

const plugin_desc_t *invclip_plugin(unsigned index) { return index == 0 ? &desc : NULL; }
