/* fair.c - loss plugin `fair`: a sketch-quality prior on the strokes alone
 * (no CLIP, no image): smooth strokes, joined ends, closed loops, straight
 * lines.  Our design (docs/losses.md, fair); not in the study.
 *
 * Polylines p_0..p_{n-1} per stroke, segments d_i, lengths l_i.
 *   bending   E_b = sum over strokes and interior vertices i of
 *                   2 (1 - cos theta_i) / ((l_{i-1} + l_i) / 2)
 *             theta_i the turning angle at p_i; 2(1 - cos theta) ~ theta^2, so
 *             this is the discrete elastica energy  int kappa^2 ds  (px^-1):
 *             a shaky hand's many small wobbles cost much more than a
 *             drawing's few deliberate corners.
 *   The other three terms are sums of a well psi(x) = -(1 - x)^2 for x < 1,
 *   else 0 (C1; -1 at the bottom, flat 0 beyond its radius): they reward
 *   what is already nearly there and leave everything else alone, so they
 *   are <= 0 (a clean drawing's value is lower, not zero).
 *   snap      E_s = sum over stroke ends e of psi(r_e^2 / R_s^2), r_e the
 *             distance from e to the nearest other stroke (its segments, or
 *             the point of a one-point stroke): ends that nearly touch
 *             another stroke are pulled onto it (gaps close, overshoots pull
 *             back), far ones are left alone.
 *   close     E_c = sum over strokes with n >= 3 whose length is at least
 *             4 R_c of psi(|p_{n-1} - p_0|^2 / R_c^2): nearly closed loops close.
 *   straight  E_t = sum over strokes with n >= 2 of psi(((1 - rho) / (1 - tau))^2),
 *             rho = |p_{n-1} - p_0| / sum l_i: a stroke whose chord is almost
 *             its length (rho > tau) is pulled straight; clearly curved ones
 *             sit at the flat 0.
 *   smooth    E_l = mean over all interior vertices of the drawing of rho(|p_{i-1} - 2 p_i + p_{i+1}|^2)
 *                   (px^2; 0 without interior vertices); rho(q) = q, or with smooth_scale d > 0
 *                   d^2 q / (q + d^2) (Geman-McClure: wobbles under d smoothed, corners over d kept)
 *             the discrete Laplacian: with `structure` (a mean squared distance too) as the data
 *             term, the optimum is a smoothing filter of the points -- it removes a shaky hand's
 *             wobble without the length reward of E_b (which falls as a stroke grows); being a mean,
 *             its balance with `structure` does not depend on how densely a stroke is sampled.
 *   L = bending * E_b + snap * E_s + close * E_c + straight * E_t + smooth * E_l
 * Zero-length segments contribute no turning (their angle is undefined).
 * Metrics: bending, snap, close, straight, smooth (the unweighted E's).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "plugin.h"

static const plugin_param_t params[] = {
    {.name = "bending", .type = PARAM_FLOAT, .def = 1, .min = 0, .max = 1e6,
     .help = "weight of the bending energy sum 2(1-cos turn)/(mean adjacent length) (1/px)"},
    {.name = "snap", .type = PARAM_FLOAT, .def = 1, .min = 0, .max = 1e6,
     .help = "weight of pulling stroke ends onto a nearby other stroke"},
    {.name = "snap_radius", .type = PARAM_FLOAT, .def = 8, .min = 1e-3, .max = 1e4,
     .help = "ends farther than this from every other stroke are left alone (px)"},
    {.name = "close", .type = PARAM_FLOAT, .def = 1, .min = 0, .max = 1e6,
     .help = "weight of closing strokes whose two ends nearly meet"},
    {.name = "close_radius", .type = PARAM_FLOAT, .def = 12, .min = 1e-3, .max = 1e4,
     .help = "end gap under which a stroke (at least 4x as long) is pulled closed (px)"},
    {.name = "straight", .type = PARAM_FLOAT, .def = 0.5, .min = 0, .max = 1e6,
     .help = "weight of straightening strokes whose chord is nearly their length"},
    {.name = "straight_ratio", .type = PARAM_FLOAT, .def = 0.97, .min = 0, .max = 0.9999,
     .help = "chord/length above which a stroke counts as nearly straight"},
    {.name = "smooth", .type = PARAM_FLOAT, .def = 0, .min = 0, .max = 1e6,
     .help = "weight of the mean squared second difference |p[i-1]-2p[i]+p[i+1]|^2 (px^2): a smoothing filter"},
    {.name = "smooth_scale", .type = PARAM_FLOAT, .def = 0, .min = 0, .max = 1e4,
     .help = "0: smooth is quadratic; d > 0: each vertex costs d^2 r^2/(r^2+d^2), r = |second difference| (px): "
             "wobbles under d are smoothed, corners well over d are left alone"},
};

typedef struct {
    double wb, ws, rs, wc, rc, wt, tau, wl, dl;
} fair_t;

static int fr_init(void *st, const plugin_value_t *v, const plugin_host_t *host, plugin_err_t *err) {
    fair_t *s = st;
    (void)host;
    (void)err;
    s->wb = v[0].f, s->ws = v[1].f, s->rs = v[2].f, s->wc = v[3].f, s->rc = v[4].f, s->wt = v[5].f, s->tau = v[6].f, s->wl = v[7].f, s->dl = v[8].f;
    return 0;
}

static size_t fr_ws(const void *st, const loss_in_t *in) {
    (void)st;
    (void)in;
    return 0;
}

/* the well psi(x) = -(1-x)^2 for x < 1, else 0; *dpsi its derivative */
static double psi(double x, double *dpsi) {
    if (x >= 1) return *dpsi = 0, 0;
    *dpsi = 2 * (1 - x);
    return -(1 - x) * (1 - x);
}

#define P(k) (xy + 2 * (size_t)(k))
#define G(k) (g ? g + 2 * (size_t)(k) : NULL)

static void addg(float *gp, double gx, double gy) {
    if (gp) gp[0] += (float)gx, gp[1] += (float)gy;
}

/* bending energy of one stroke (first point index o, n points); adds w * gradient */
static double bending(const float *xy, float *g, int o, int n, double w) {
    double E = 0;
    for (int i = 1; i + 1 < n; i++) {
        const float *a = P(o + i - 1), *b = P(o + i), *c = P(o + i + 1);
        double ux = (double)b[0] - a[0], uy = (double)b[1] - a[1], vx = (double)c[0] - b[0], vy = (double)c[1] - b[1];
        double lu = hypot(ux, uy), lv = hypot(vx, vy);
        if (lu <= 0 || lv <= 0) continue;
        double cs = (ux * vx + uy * vy) / (lu * lv), m = (lu + lv) / 2, t = 2 * (1 - cs);
        E += t / m;
        if (!g) continue;
        /* d cos / d u = v/(lu lv) - cs u/lu^2, likewise for v; d m/d u = u/(2 lu) */
        double gux = w * (-2 * (vx / (lu * lv) - cs * ux / (lu * lu)) / m - t / (m * m) * ux / (2 * lu));
        double guy = w * (-2 * (vy / (lu * lv) - cs * uy / (lu * lu)) / m - t / (m * m) * uy / (2 * lu));
        double gvx = w * (-2 * (ux / (lu * lv) - cs * vx / (lv * lv)) / m - t / (m * m) * vx / (2 * lv));
        double gvy = w * (-2 * (uy / (lu * lv) - cs * vy / (lv * lv)) / m - t / (m * m) * vy / (2 * lv));
        addg(G(o + i - 1), -gux, -guy);
        addg(G(o + i), gux - gvx, guy - gvy);
        addg(G(o + i + 1), gvx, gvy);
    }
    return E;
}

/* sum over the interior vertices of one stroke of rho(|p[i-1] - 2p[i] + p[i+1]|^2): rho(q) = q (dl = 0), or
 * dl^2 q / (q + dl^2) (Geman-McClure: quadratic for small q, flat at dl^2 for large); adds c * gradient */
static double laplace(const float *xy, float *g, int o, int n, double c, double dl) {
    double E = 0, d2 = dl * dl;
    for (int i = 1; i + 1 < n; i++) {
        const float *a = P(o + i - 1), *b = P(o + i), *d = P(o + i + 1);
        double lx = (double)a[0] - 2.0 * b[0] + d[0], ly = (double)a[1] - 2.0 * b[1] + d[1], q = lx * lx + ly * ly;
        double drho = 1; /* d rho / d q */
        if (dl > 0) {
            E += d2 * q / (q + d2);
            drho = d2 * d2 / ((q + d2) * (q + d2));
        } else {
            E += q;
        }
        if (!g || c == 0) continue;
        double k = c * drho;
        addg(G(o + i - 1), 2 * k * lx, 2 * k * ly);
        addg(G(o + i), -4 * k * lx, -4 * k * ly);
        addg(G(o + i + 1), 2 * k * lx, 2 * k * ly);
    }
    return E;
}

/* nearest point to e on stroke k: squared distance, and where (segment j, t) */
static double nearest(const scene_t *sc, const float *e, int k, int *jj, double *tt) {
    const float *xy = sc->xy;
    int o = sc->off[k], n = sc->npts[k];
    double best = INFINITY;
    if (n == 1) {
        *jj = 0, *tt = 0;
        double dx = (double)e[0] - P(o)[0], dy = (double)e[1] - P(o)[1];
        return dx * dx + dy * dy;
    }
    for (int j = 0; j + 1 < n; j++) {
        const float *a = P(o + j), *b = P(o + j + 1);
        double bx = (double)b[0] - a[0], by = (double)b[1] - a[1], px = (double)e[0] - a[0], py = (double)e[1] - a[1];
        double ll = bx * bx + by * by, t = ll > 0 ? (px * bx + py * by) / ll : 0;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        double dx = px - t * bx, dy = py - t * by, d2 = dx * dx + dy * dy;
        if (d2 < best) best = d2, *jj = j, *tt = t;
    }
    return best;
}

static double snap_all(const scene_t *sc, float *g, double w, double R) {
    const float *xy = sc->xy;
    double E = 0, R2 = R * R;
    for (int s = 0; s < sc->nstrokes; s++) {
        int n = sc->npts[s];
        if (n < 1) continue;
        for (int end = 0; end < (n > 1 ? 2 : 1); end++) {
            int ie = sc->off[s] + (end ? n - 1 : 0);
            const float *e = P(ie);
            double best = INFINITY, bt = 0;
            int bk = -1, bj = 0;
            for (int k = 0; k < sc->nstrokes; k++) {
                if (k == s || sc->npts[k] < 1) continue;
                int j = 0;
                double t = 0, d2 = nearest(sc, e, k, &j, &t);
                if (d2 < best) best = d2, bk = k, bj = j, bt = t;
            }
            if (bk < 0) continue;
            double dp, v = psi(best / R2, &dp);
            E += v;
            if (!g || dp == 0) continue;
            /* d(d2)/d e = 2 (e - q), q = a + t (b - a); d/da = -2(e-q)(1-t), d/db = -2(e-q) t */
            int o = sc->off[bk] + bj;
            const float *a = P(o), *b = sc->npts[bk] > 1 ? P(o + 1) : a;
            double qx = a[0] + bt * ((double)b[0] - a[0]), qy = a[1] + bt * ((double)b[1] - a[1]);
            double cx = w * dp / R2 * 2 * (e[0] - qx), cy = w * dp / R2 * 2 * (e[1] - qy);
            addg(G(ie), cx, cy);
            if (sc->npts[bk] > 1) {
                addg(G(o), -cx * (1 - bt), -cy * (1 - bt));
                addg(G(o + 1), -cx * bt, -cy * bt);
            } else addg(G(o), -cx, -cy);
        }
    }
    return E;
}

/* stroke length; adds c * dLength/dp into g */
static double length(const float *xy, float *g, int o, int n, double c) {
    double L = 0;
    for (int i = 0; i + 1 < n; i++) {
        double dx = (double)P(o + i + 1)[0] - P(o + i)[0], dy = (double)P(o + i + 1)[1] - P(o + i)[1], l = hypot(dx, dy);
        L += l;
        if (g && l > 0 && c != 0) addg(G(o + i + 1), c * dx / l, c * dy / l), addg(G(o + i), -c * dx / l, -c * dy / l);
    }
    return L;
}

static int fr_eval(void *st, void *ws, const plugin_host_t *host, const loss_in_t *in, loss_out_t *out,
                   plugin_err_t *err) {
    const fair_t *s = st;
    (void)ws;
    (void)host;
    const scene_t *sc = in->scene;
    if (!sc) return snprintf(err->msg, sizeof err->msg, "fair: needs the current strokes (the host passed none)"), EXIT_INTERNAL;
    for (int k = 0; k < sc->nstrokes; k++)
        for (int i = 0; i < 2 * sc->npts[k]; i++)
            if (!isfinite(sc->xy[2 * (size_t)sc->off[k] + i])) {
                snprintf(err->msg, sizeof err->msg, "fair: stroke %d: point %d is not finite", k, i / 2);
                return EXIT_NUMERIC;
            }
    const float *xy = sc->xy;
    float *g = out->dscene.xy;
    double Eb = 0, Es = 0, Ec = 0, Et = 0;
    for (int k = 0; k < sc->nstrokes; k++) Eb += bending(xy, g, sc->off[k], sc->npts[k], s->wb);
    Es = snap_all(sc, g, s->ws, s->rs);
    for (int k = 0; k < sc->nstrokes; k++) {
        int o = sc->off[k], n = sc->npts[k];
        if (n < 2) continue;
        double Lk = length(xy, NULL, o, n, 0);
        const float *a = P(o), *b = P(o + n - 1);
        double cx = (double)b[0] - a[0], cy = (double)b[1] - a[1], c2 = cx * cx + cy * cy, c = sqrt(c2), dp;
        if (n >= 3 && Lk >= 4 * s->rc) {
            double R2 = s->rc * s->rc;
            Ec += psi(c2 / R2, &dp);
            if (g && dp != 0) addg(G(o + n - 1), s->wc * dp * 2 * cx / R2, s->wc * dp * 2 * cy / R2),
                                  addg(G(o), -s->wc * dp * 2 * cx / R2, -s->wc * dp * 2 * cy / R2);
        }
        if (Lk <= 0) continue;
        /* a two-point stroke is straight (rho = 1, the bottom of the well, no gradient) */
        double rho = n == 2 ? 1 : c / Lk, x = (1 - rho) / (1 - s->tau);
        Et += psi(x * x, &dp);
        if (!g || dp == 0 || n == 2) continue;
        /* dE/drho = dpsi * 2x * (-1/(1-tau)); drho = dc/L - c dL/L^2 */
        double gr = s->wt * dp * 2 * x * (-1 / (1 - s->tau));
        if (c > 0) addg(G(o + n - 1), gr * cx / (c * Lk), gr * cy / (c * Lk)), addg(G(o), -gr * cx / (c * Lk), -gr * cy / (c * Lk));
        length(xy, g, o, n, -gr * c / (Lk * Lk));
    }
    long nint = 0;
    for (int k = 0; k < sc->nstrokes; k++) nint += sc->npts[k] > 2 ? sc->npts[k] - 2 : 0;
    double El = 0;
    if (nint > 0 && s->wl > 0)
        for (int k = 0; k < sc->nstrokes; k++) El += laplace(xy, g, sc->off[k], sc->npts[k], s->wl / (double)nint, s->dl);
    else if (nint > 0)
        for (int k = 0; k < sc->nstrokes; k++) El += laplace(xy, NULL, sc->off[k], sc->npts[k], 0, s->dl);
    if (nint > 0) El /= (double)nint;
    out->value = s->wb * Eb + s->ws * Es + s->wc * Ec + s->wt * Et + s->wl * El;
    out->nmetrics = 5;
    out->metric_name[0] = "bending", out->metric[0] = Eb;
    out->metric_name[1] = "snap", out->metric[1] = Es;
    out->metric_name[2] = "close", out->metric[2] = Ec;
    out->metric_name[3] = "straight", out->metric[3] = Et;
    out->metric_name[4] = "smooth", out->metric[4] = El;
    return 0;
}

static const loss_vt vt = {.ws_size = fr_ws, .eval = fr_eval};

static const plugin_desc_t desc = {
    .abi = INVCLIP_PLUGIN_ABI,
    .kind = PLUGIN_LOSS,
    .name = "fair",
    .version = "1",
    .summary = "sketch-quality prior without CLIP: smooth strokes, snapped ends, closed loops, straight lines",
    .help = "L = bending*E_b + snap*E_s + close*E_c + straight*E_t + smooth*E_l on the polylines.  E_b = sum over interior "
            "vertices of 2(1-cos turn)/(mean adjacent segment length) (discrete elastica, 1/px: wobbles cost "
            "more than corners).  psi(x) = -(1-x)^2 below 1, else 0 (a well: rewards what is nearly there).  E_s = sum over stroke ends of "
            "psi(r^2/snap_radius^2), r = distance to the nearest other stroke (gaps close, overshoots pull back).  "
            "E_c = sum over strokes at least 4*close_radius long of psi(gap^2/close_radius^2) (nearly closed loops "
            "close).  E_t = sum over strokes of psi(((1-rho)/(1-straight_ratio))^2), rho = chord/length (nearly "
            "straight strokes straighten; curved ones sit at 0).  E_l = mean over interior vertices of "
            "|p[i-1]-2p[i]+p[i+1]|^2 (px^2; with structure, a smoothing filter).  Metrics: bending, snap, close, "
            "straight, smooth.",
    .params = params,
    .nparams = (int)(sizeof params / sizeof params[0]),
    .state_size = sizeof(fair_t),
    .init = fr_init,
    .loss = &vt,
};

const plugin_desc_t *invclip_plugin(unsigned index) { return index == 0 ? &desc : NULL; }
