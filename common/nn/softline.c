/* nn/softline.c - soft anti-aliased polylines by true distance, with the
 * exact adjoint.  See softline.h and docs/renderers.md ("## softline").
 *
 * Model.  Stroke s has points P_0..P_{n-1}, width w_s and opacity a_s.
 *   d_s(p)  = min over the segments [P_k, P_{k+1}] of the Euclidean distance
 *             from the pixel centre p = (x=j, y=i) to the segment (a one-point
 *             stroke is a dot: the distance to P_0).  A hard min: joints are
 *             not darkened twice.  Where two segments are equally near (a
 *             kink of the min) the gradient goes to the lower segment index.
 *   u       = d_s(p) - max(w_s,0)/2           (signed distance to the edge)
 *   phi(u)  = 1 - smoothstep(-h, h, u),  h = softness/2
 *           = 1 - t^2 (3 - 2t),  t = clamp((u + h) / softness, 0, 1)   (C1)
 *   c_s(p)  = a_s * phi(u)                    (coverage of p by stroke s)
 *   img(p)  = prod_s (1 - c_s(p))            (ink = 1 - img)
 * The reach of a segment is the capsule d < w/2 + softness/2 around it;
 * outside it phi = 0, and only the pixels in the capsule are visited (row by
 * row, each row's exact capsule interval).
 *
 * Adjoint.  With T_s(p) = prod_{r<s}(1 - c_r) saved by the forward pass and
 * the suffix U_s(p) = prod_{r>s}(1 - c_r) rebuilt by walking the strokes
 * backwards, dL/dc_s = -dimg * T_s * U_s exactly (no division by 1 - c, which
 * is 0 under an opaque stroke).  Then dc/da = phi, dc/du = a phi'(u),
 * du/dw = -1/2, and for the argmin segment A->B with nearest point
 * q = A + t(B - A): dd/dA = (1-t) n, dd/dB = t n, n = (q - p)/d (the t
 * dependence drops out because t minimises the distance; at a clamped end
 * t is 0 or 1).  At d = 0 (pixel centre on the centre line) n is taken as 0;
 * it only matters for lines thinner than the ramp (w < softness).  A
 * zero-length segment splits its gradient half and half (t = 1/2).
 *
 * Workspace (all host-allocated, nothing allocated per call):
 *   header | pix_t (H*W) per-pixel scratch | float (H*W) suffix products |
 *   size_t (nstrokes+1) entry ranges | entry_t (bound) saved coverage.
 * The pixel scratch is initialised on first use (a magic number in the
 * header); a forward may be followed by any number of backward calls.
 * The entry bound is the number of capsule pixels summed over each stroke's
 * segments (capped at H*W per stroke), computed by the same interval code
 * the forward pass enumerates with.
 */
#include "softline.h"
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    float d; /* nearest distance so far in the current stroke */
    int seg; /* its segment (local index; -1 = dot) */
    int gen; /* stroke generation that last touched the pixel */
} pix_t;

typedef struct {
    int pix;  /* i*W + j */
    int seg;  /* local segment index of the argmin, -1 for a dot */
    float c;  /* coverage c_s(p) */
    float tb; /* T_s(p): transmittance of the strokes before s */
    float gc; /* dL/dc, backward scratch */
} entry_t;

#define SOFTLINE_MAGIC 0x534f4654u

typedef struct {
    uint32_t magic; /* SOFTLINE_MAGIC once the pixel scratch is initialised */
    int gen;        /* generation counter, persists across calls */
    int W, H, nstrokes;
    size_t nent; /* entries written by the last forward */
    int valid;   /* a forward has run on this ws */
} hdr_t;

#define ALIGN_UP(n) (((n) + 63) & ~(size_t)63)

typedef struct {
    hdr_t *h;
    pix_t *pix;
    float *suf;
    size_t *first; /* (nstrokes+1) */
    entry_t *ent;  /* (bound) */
} layout_t;

static size_t layout(void *ws, int W, int H, int nstrokes, size_t cap, layout_t *L) {
    size_t hw = (size_t)W * (size_t)H, o = 0;
    char *b = ws;
    size_t o_h = o;
    o += ALIGN_UP(sizeof(hdr_t));
    size_t o_pix = o;
    o += ALIGN_UP(hw * sizeof(pix_t));
    size_t o_suf = o;
    o += ALIGN_UP(hw * sizeof(float));
    size_t o_first = o;
    o += ALIGN_UP(((size_t)nstrokes + 1) * sizeof(size_t));
    size_t o_ent = o;
    o += ALIGN_UP(cap * sizeof(entry_t));
    if (L && b) {
        L->h = (hdr_t *)(b + o_h);
        L->pix = (pix_t *)(b + o_pix);
        L->suf = (float *)(b + o_suf);
        L->first = (size_t *)(b + o_first);
        L->ent = (entry_t *)(b + o_ent);
    }
    return o;
}

/* ---- the ramp ---- */

/* phi(u) and phi'(u) for ramp width s (> 0). */
static inline float ramp(float u, float s, float *dphi) {
    float t = (u + 0.5f * s) / s;
    if (t <= 0.f) {
        *dphi = 0.f;
        return 1.f;
    }
    if (t >= 1.f) {
        *dphi = 0.f;
        return 0.f;
    }
    *dphi = -6.f * t * (1.f - t) / s;
    return 1.f - t * t * (3.f - 2.f * t);
}

/* ---- capsule row intervals ---- */

/* x range where lo <= a*x + b <= hi; returns 0 when empty. */
static inline int slab(float a, float b, float lo, float hi, float *x0, float *x1) {
    if (fabsf(a) < 1e-12f) {
        if (b < lo || b > hi) return 0;
        *x0 = -INFINITY;
        *x1 = INFINITY;
        return 1;
    }
    float p = (lo - b) / a, q = (hi - b) / a;
    *x0 = p < q ? p : q;
    *x1 = p < q ? q : p;
    return 1;
}

typedef struct {
    float ax, ay, bx, by; /* endpoints */
    float vx, vy, l2;     /* B - A, |B - A|^2 */
    float ux, uy, len;    /* unit direction and length (0 for a point) */
    float r;              /* reach */
    int i0, i1;           /* row range (clipped) */
} seg_t;

static void seg_setup(seg_t *g, float ax, float ay, float bx, float by, float r, int H) {
    g->ax = ax, g->ay = ay, g->bx = bx, g->by = by;
    g->vx = bx - ax, g->vy = by - ay;
    g->l2 = g->vx * g->vx + g->vy * g->vy;
    g->len = sqrtf(g->l2);
    if (g->len > 1e-6f)
        g->ux = g->vx / g->len, g->uy = g->vy / g->len;
    else
        g->ux = g->uy = 0.f, g->len = 0.f;
    g->r = r;
    float ylo = fminf(ay, by) - r, yhi = fmaxf(ay, by) + r;
    /* pixel rows strictly inside (ylo, yhi) can be within reach */
    double i0 = floor((double)ylo) + 1, i1 = ceil((double)yhi) - 1;
    if (!(i0 >= 0)) i0 = 0;
    if (!(i1 <= H - 1)) i1 = H - 1;
    g->i0 = (int)i0, g->i1 = (int)i1;
    if (!isfinite(ylo) || !isfinite(yhi)) g->i0 = 1, g->i1 = 0;
}

/* Column range [*j0, *j1] of row y inside the capsule (clipped to [0,W-1]);
 * returns 0 when empty.  The capsule is convex, so its row section is the
 * hull of the sections of the two end discs and of the central rectangle. */
static inline int seg_row(const seg_t *g, float y, int W, int *j0, int *j1) {
    float lo = INFINITY, hi = -INFINITY, r2 = g->r * g->r;
    float dya = y - g->ay, dyb = y - g->by;
    if (dya * dya < r2) {
        float w = sqrtf(r2 - dya * dya);
        lo = fminf(lo, g->ax - w), hi = fmaxf(hi, g->ax + w);
    }
    if (dyb * dyb < r2) {
        float w = sqrtf(r2 - dyb * dyb);
        lo = fminf(lo, g->bx - w), hi = fmaxf(hi, g->bx + w);
    }
    if (g->len > 0.f) {
        /* |n.(p-A)| <= r with n = (-uy, ux); 0 <= u.(p-A) <= len */
        float p0, p1, q0, q1;
        if (slab(-g->uy, -g->uy * (-g->ax) + g->ux * dya, -g->r, g->r, &p0, &p1) &&
            slab(g->ux, -g->ux * g->ax + g->uy * dya, 0.f, g->len, &q0, &q1)) {
            float a = fmaxf(p0, q0), b = fminf(p1, q1);
            if (a <= b) lo = fminf(lo, a), hi = fmaxf(hi, b);
        }
    }
    if (!(lo <= hi)) return 0;
    double c0 = ceil((double)lo), c1 = floor((double)hi);
    if (c0 < 0) c0 = 0;
    if (c1 > W - 1) c1 = W - 1;
    if (c0 > c1) return 0;
    *j0 = (int)c0, *j1 = (int)c1;
    return 1;
}

/* Distance from (x,y) to the segment and the parameter of the nearest point. */
static inline float seg_dist(const seg_t *g, float x, float y, float *tout) {
    float px = x - g->ax, py = y - g->ay, t = 0.5f;
    if (g->l2 > 1e-12f) {
        t = (px * g->vx + py * g->vy) / g->l2;
        t = t < 0.f ? 0.f : t > 1.f ? 1.f : t;
    }
    float dx = px - t * g->vx, dy = py - t * g->vy;
    *tout = t;
    return sqrtf(dx * dx + dy * dy);
}

static inline float reach(const softline_cfg_t *cfg, float w) {
    return (w > 0.f ? 0.5f * w : 0.f) + 0.5f * cfg->softness;
}

static inline int stroke_ok(const softline_scene_t *sc, int s) {
    return sc->npts[s] > 0 && isfinite(sc->width[s]) && isfinite(sc->opacity[s]);
}

/* Segment k of stroke s (a dot when the stroke has one point). */
static inline void stroke_seg(const softline_scene_t *sc, int s, int k, float r, int H, seg_t *g) {
    const float *p = sc->xy + 2 * (size_t)sc->off[s];
    if (sc->npts[s] == 1)
        seg_setup(g, p[0], p[1], p[0], p[1], r, H);
    else
        seg_setup(g, p[2 * k], p[2 * k + 1], p[2 * k + 2], p[2 * k + 3], r, H);
}

static inline int stroke_nseg(const softline_scene_t *sc, int s) { return sc->npts[s] == 1 ? 1 : sc->npts[s] - 1; }

/* Capsule pixels of segment g (its row intervals, as the forward pass
 * enumerates them). */
static size_t seg_pixels(const seg_t *g, int W) {
    size_t n = 0;
    for (int i = g->i0; i <= g->i1; i++) {
        int j0, j1;
        if (seg_row(g, (float)i, W, &j0, &j1)) n += (size_t)(j1 - j0 + 1);
    }
    return n;
}

size_t softline_seg_bound(const softline_cfg_t *cfg, float width, float ax, float ay, float bx, float by, int W,
                          int H) {
    seg_t g;
    seg_setup(&g, ax, ay, bx, by, reach(cfg, width), H);
    return seg_pixels(&g, W);
}

size_t softline_ws_bytes(int W, int H, int nstrokes, size_t nentries) {
    return layout(NULL, W, H, nstrokes, nentries, NULL);
}

/* Upper bound on the saved entries of stroke s. */
static size_t stroke_bound(const softline_cfg_t *cfg, const softline_scene_t *sc, int s, int W, int H) {
    size_t n = 0, hw = (size_t)W * H;
    float r = reach(cfg, sc->width[s]);
    for (int k = 0; k < stroke_nseg(sc, s) && n < hw; k++) {
        seg_t g;
        stroke_seg(sc, s, k, r, H, &g);
        n += seg_pixels(&g, W);
    }
    return n < hw ? n : hw;
}

size_t softline_ws_size(const softline_cfg_t *cfg, const softline_scene_t *sc, int W, int H) {
    size_t cap = 0;
    for (int s = 0; s < sc->nstrokes; s++)
        if (stroke_ok(sc, s)) cap += stroke_bound(cfg, sc, s, W, H);
    return softline_ws_bytes(W, H, sc->nstrokes, cap);
}

/* Fill f (if any) with code, the stroke/point and "softline: <message>". */
static int fault(softline_fault_t *f, int code, int stroke, int point, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fault(softline_fault_t *f, int code, int stroke, int point, const char *fmt, ...) {
    if (f) {
        f->code = code, f->stroke = stroke, f->point = point;
        int k = snprintf(f->msg, sizeof f->msg, "softline: ");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->msg + k, sizeof f->msg - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int check_args(const softline_cfg_t *cfg, const softline_scene_t *sc, int W, int H, softline_fault_t *f) {
    if (!(cfg->softness > 0.f) || !isfinite(cfg->softness))
        return fault(f, SOFTLINE_ESOFTNESS, -1, -1, "softness must be > 0 (got %g)", (double)cfg->softness);
    if (W <= 0 || H <= 0 || (size_t)W * (size_t)H > (size_t)INT32_MAX)
        return fault(f, SOFTLINE_ECANVAS, -1, -1, "bad canvas %dx%d", W, H);
    if (sc->nstrokes < 0) return fault(f, SOFTLINE_ECOUNT, -1, -1, "negative stroke count");
    for (int s = 0; s < sc->nstrokes; s++) {
        if (sc->npts[s] < 0) return fault(f, SOFTLINE_ECOUNT, s, -1, "stroke %d has %d points", s, sc->npts[s]);
        if (!isfinite(sc->width[s]) || !isfinite(sc->opacity[s]))
            return fault(f, SOFTLINE_ENONFINITE, s, -1, "stroke %d: width or opacity is not finite", s);
        const float *p = sc->xy + 2 * (size_t)sc->off[s];
        for (int k = 0; k < 2 * sc->npts[s]; k++)
            if (!isfinite(p[k]))
                return fault(f, SOFTLINE_ENONFINITE, s, k / 2, "stroke %d point %d is not finite", s, k / 2);
    }
    if (f) f->code = 0;
    return 0;
}

int softline_forward(const softline_cfg_t *cfg, void *ws, const softline_scene_t *sc, int W, int H, float *img,
                     softline_fault_t *f) {
    int rc = check_args(cfg, sc, W, H, f);
    if (rc) return rc;
    layout_t L;
    hdr_t *h = ws;
    size_t hw = (size_t)W * H;
    layout(ws, W, H, sc->nstrokes, 0, &L);
    if (h->magic != SOFTLINE_MAGIC || h->W != W || h->H != H) {
        /* a new canvas: the pixel scratch is stale */
        memset(L.pix, 0, hw * sizeof(pix_t));
        h->gen = 0;
        h->magic = SOFTLINE_MAGIC;
    }
    h->W = W, h->H = H, h->nstrokes = sc->nstrokes, h->valid = 0;
    for (size_t p = 0; p < hw; p++) img[p] = 1.f;
    const float s_w = cfg->softness;
    size_t n = 0;
    for (int s = 0; s < sc->nstrokes; s++) {
        L.first[s] = n;
        if (!stroke_ok(sc, s)) continue;
        if (h->gen == INT32_MAX) {
            for (size_t p = 0; p < hw; p++) L.pix[p].gen = 0;
            h->gen = 0;
        }
        int gen = ++h->gen;
        float w = sc->width[s], r = reach(cfg, w), hwid = w > 0.f ? 0.5f * w : 0.f;
        float a = sc->opacity[s];
        size_t n0 = n;
        int nseg = stroke_nseg(sc, s);
        for (int k = 0; k < nseg; k++) {
            seg_t g;
            stroke_seg(sc, s, k, r, H, &g);
            for (int i = g.i0; i <= g.i1; i++) {
                int j0, j1;
                if (!seg_row(&g, (float)i, W, &j0, &j1)) continue;
                pix_t *row = L.pix + (size_t)i * W;
                for (int j = j0; j <= j1; j++) {
                    float t, d = seg_dist(&g, (float)j, (float)i, &t);
                    if (!(d < r)) continue;
                    pix_t *q = row + j;
                    if (q->gen != gen) {
                        q->gen = gen, q->d = d, q->seg = sc->npts[s] == 1 ? -1 : k;
                        L.ent[n].pix = i * W + j;
                        n++;
                    } else if (d < q->d) {
                        q->d = d, q->seg = sc->npts[s] == 1 ? -1 : k;
                    }
                }
            }
        }
        for (size_t e = n0; e < n; e++) {
            entry_t *en = &L.ent[e];
            pix_t *q = L.pix + en->pix;
            float dphi, phi = ramp(q->d - hwid, s_w, &dphi);
            float c = a * phi;
            en->seg = q->seg;
            en->c = c;
            en->tb = img[en->pix];
            img[en->pix] = en->tb * (1.f - c);
        }
    }
    L.first[sc->nstrokes] = n;
    h->nent = n;
    h->valid = 1;
    return 0;
}

/* ---- backward ---- */

/* Chain dL/dc of stroke s's entries (en->gc, from the suffix pass below)
 * into the stroke's points, width and opacity.  Strokes own disjoint
 * gradient entries, so groups of strokes run concurrently without sharing
 * a write; each group's sums are the serial ones, bit for bit. */
typedef struct {
    const softline_cfg_t *cfg;
    const softline_scene_t *sc;
    layout_t L;
    int W, H;
    softline_grad_t *g;
    int group[65]; /* strokes [group[k], group[k+1]) form task k */
} bwd_job_t;

static void bwd_strokes(const bwd_job_t *jb, int s0, int s1) {
    const softline_scene_t *sc = jb->sc;
    const float s_w = jb->cfg->softness;
    int W = jb->W;
    for (int s = s0; s < s1; s++) {
        size_t e0 = jb->L.first[s], e1 = jb->L.first[s + 1];
        if (e0 == e1) continue;
        float w = sc->width[s], r = reach(jb->cfg, w), hwid = w > 0.f ? 0.5f * w : 0.f;
        float a = sc->opacity[s];
        float *gxy = jb->g->xy ? jb->g->xy + 2 * (size_t)sc->off[s] : NULL;
        double ga = 0, gw = 0;
        int cur = -2;
        seg_t g;
        for (size_t e = e0; e < e1; e++) {
            const entry_t *en = &jb->L.ent[e];
            float dc = en->gc;
            if (dc == 0.f) continue;
            int k = en->seg < 0 ? 0 : en->seg;
            if (k != cur) stroke_seg(sc, s, k, r, jb->H, &g), cur = k;
            int i = en->pix / W, j = en->pix % W;
            float t, d = seg_dist(&g, (float)j, (float)i, &t);
            float dphi, phi = ramp(d - hwid, s_w, &dphi);
            ga += (double)dc * phi;
            float gd = dc * a * dphi; /* dL/dd */
            if (gd == 0.f) continue;
            if (w > 0.f) gw -= 0.5 * gd;
            if (gxy && d > 0.f) {
                float qx = g.ax + t * g.vx - (float)j, qy = g.ay + t * g.vy - (float)i;
                float nx = gd * qx / d, ny = gd * qy / d;
                if (sc->npts[s] == 1) {
                    gxy[0] += nx, gxy[1] += ny;
                } else {
                    gxy[2 * k] += (1.f - t) * nx, gxy[2 * k + 1] += (1.f - t) * ny;
                    gxy[2 * k + 2] += t * nx, gxy[2 * k + 3] += t * ny;
                }
            }
        }
        if (jb->g->opacity) jb->g->opacity[s] += (float)ga;
        if (jb->g->width) jb->g->width[s] += (float)gw;
    }
}

static void bwd_task(void *ctx, int begin, int end, int tid) {
    const bwd_job_t *jb = ctx;
    (void)tid;
    bwd_strokes(jb, jb->group[begin], jb->group[end]);
}

int softline_backward(const softline_cfg_t *cfg, void *ws, const softline_scene_t *sc, int W, int H,
                      const float *dimg, softline_grad_t *g, const nn_par_t *par, softline_fault_t *f) {
    int rc = check_args(cfg, sc, W, H, f);
    if (rc) return rc;
    layout_t L;
    layout(ws, W, H, sc->nstrokes, 0, &L);
    if (L.h->magic != SOFTLINE_MAGIC || !L.h->valid || L.h->W != W || L.h->H != H ||
        L.h->nstrokes != sc->nstrokes)
        return fault(f, SOFTLINE_ESTATE, -1, -1, "backward without a matching forward");
    /* Suffix products U_s, walking strokes backwards, give each entry's dL/dc. */
    size_t n = L.first[sc->nstrokes];
    for (size_t e = 0; e < n; e++) L.suf[L.ent[e].pix] = 1.f;
    for (int s = sc->nstrokes - 1; s >= 0; s--) {
        for (size_t e = L.first[s]; e < L.first[s + 1]; e++) {
            entry_t *en = &L.ent[e];
            float u = L.suf[en->pix];
            float c = en->c;
            L.suf[en->pix] = u * (1.f - c);
            en->gc = -dimg[en->pix] * en->tb * u;
        }
    }
    /* groups of strokes with about equal entry counts, one task each */
    int nt = nn_nthreads(par);
    if (nt > sc->nstrokes) nt = sc->nstrokes;
    if (n < SOFTLINE_PAR_MIN) nt = 1;
    if (nt > 64) nt = 64;
    if (nt < 1) nt = 1;
    bwd_job_t jb = {cfg, sc, L, W, H, g, {0}};
    int s = 0;
    for (int k = 0; k < nt; k++) {
        size_t want = n * (size_t)(k + 1) / (size_t)nt;
        int s1 = s;
        while (s1 < sc->nstrokes && L.first[s1] < want) s1++;
        if (k == nt - 1) s1 = sc->nstrokes;
        jb.group[k] = s;
        s = s1;
    }
    jb.group[nt] = sc->nstrokes;
    nn_parallel_for(nt > 1 ? par : NULL, nt, bwd_task, &jb);
    return 0;
}
