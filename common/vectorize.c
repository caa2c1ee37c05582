/* vectorize.c - see vectorize.h.
 *
 * Pixel arrays are padded by one pixel of background on every side, so the
 * 8 neighbours of any pixel that can be ink exist; index p = (y+1)*W + x+1
 * with W = w + 2.  A neighbourhood is one byte, bit k for the k-th neighbour
 * clockwise from north (Guo and Hall's p2 .. p9):
 *     bit 0 N, 1 NE, 2 E, 3 SE, 4 S, 5 SW, 6 W, 7 NW.
 */
#include "vectorize.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t off;       /* first pixel in ws->pix */
    int32_t n;        /* pixels (>= 1) */
    int32_t node[2];  /* node at the start / end, -1 = free end */
    double len;       /* arc length from node point (or end pixel) to node point */
    uint8_t dropped, emitted, closed;
} path_t;

typedef struct {
    double sx, sy; /* sums of pixel coordinates */
    long cnt;
    double px, py; /* its point: the centroid, or where its branches' lines meet */
    int placed;
    int32_t parent; /* union-find (merging close junctions) */
    int32_t deg;    /* live path ends attached (roots only) */
    int32_t first, nend; /* its ends in ws->ends */
} node_t;

void vec_opts_default(vec_opts_t *o) {
    *o = (vec_opts_t){.threshold = 0.5, .despeckle = 4, .min_length = 6, .merge_dist = 3, .join_angle = 60,
                      .epsilon = 1};
}

void vec_ws_free(vec_ws_t *ws) {
    free(ws->img);
    free(ws->age);
    free(ws->lab);
    free(ws->qa);
    free(ws->qb);
    free(ws->pix);
    free(ws->paths);
    free(ws->nodes);
    free(ws->ends);
    free(ws->link);
    free(ws->x);
    free(ws->y);
    free(ws->keep);
    free(ws->stack);
    memset(ws, 0, sizeof *ws);
}

/* ---- neighbourhoods ---------------------------------------------------- */

#define B(nb, k) (((nb) >> (k)) & 1)

/* Yokoi's 8-connectivity number: the number of 8-connected ink components
 * among the neighbours, 0 for an interior pixel (Guo and Hall's C(p)). */
static int conn8(int nb) {
    int p2 = B(nb, 0), p3 = B(nb, 1), p4 = B(nb, 2), p5 = B(nb, 3), p6 = B(nb, 4), p7 = B(nb, 5), p8 = B(nb, 6),
        p9 = B(nb, 7);
    return ((!p2) & (p3 | p4)) + ((!p4) & (p5 | p6)) + ((!p6) & (p7 | p8)) + ((!p8) & (p9 | p2));
}

/* Guo and Hall 1989, algorithm A1: delete p in sub-iteration `sub` when
 *   C(p) = 1, 2 <= min(N1(p), N2(p)) <= 3, and
 *   sub 0: (p2 | p3 | !p5) & p4 = 0;  sub 1: (p6 | p7 | !p9) & p8 = 0
 * with N1 = (p9|p2) + (p3|p4) + (p5|p6) + (p7|p8) and
 *      N2 = (p2|p3) + (p4|p5) + (p6|p7) + (p8|p9). */
static int gh_delete(int nb, int sub) {
    int p2 = B(nb, 0), p3 = B(nb, 1), p4 = B(nb, 2), p5 = B(nb, 3), p6 = B(nb, 4), p7 = B(nb, 5), p8 = B(nb, 6),
        p9 = B(nb, 7);
    int n1 = (p9 | p2) + (p3 | p4) + (p5 | p6) + (p7 | p8);
    int n2 = (p2 | p3) + (p4 | p5) + (p6 | p7) + (p8 | p9);
    int n = n1 < n2 ? n1 : n2;
    int m = sub == 0 ? ((p2 | p3 | !p5) & p4) : ((p6 | p7 | !p9) & p8);
    return conn8(nb) == 1 && n >= 2 && n <= 3 && !m;
}

/* A staircase pixel: two perpendicular 4-neighbours (N+E, E+S, S+W, W+N)
 * and removable without changing the topology (connectivity number 1). */
static int stair(int nb) {
    int n = B(nb, 0), e = B(nb, 2), s = B(nb, 4), w = B(nb, 6);
    return ((n & e) | (e & s) | (s & w) | (w & n)) && conn8(nb) == 1;
}

static void build_luts(vec_ws_t *ws) {
    if (ws->lut_ok) return;
    for (int nb = 0; nb < 256; nb++) {
        ws->lut[0][nb] = (uint8_t)(gh_delete(nb, 0) | (stair(nb) << 1));
        ws->lut[1][nb] = (uint8_t)gh_delete(nb, 1);
    }
    ws->lut_ok = 1;
}

static inline int nbyte(const uint8_t *img, int32_t p, int W) {
    return img[p - W] | img[p - W + 1] << 1 | img[p + 1] << 2 | img[p + W + 1] << 3 | img[p + W] << 4 |
           img[p + W - 1] << 5 | img[p - 1] << 6 | img[p - W - 1] << 7;
}

/* ---- workspace --------------------------------------------------------- */

static void grow_pixels(vec_ws_t *ws, size_t np) {
    if (np <= ws->cap) return;
    free(ws->img);
    free(ws->age);
    free(ws->lab);
    free(ws->qa);
    free(ws->qb);
    ws->img = xmalloc(np);
    ws->age = xmalloc(np);
    ws->lab = xmalloc(np * sizeof(int32_t));
    ws->qa = xmalloc(np * sizeof(int32_t));
    ws->qb = xmalloc(np * sizeof(int32_t));
    ws->cap = np;
}

#define GROW(ptr, cap, need, type)                                                                              \
    do {                                                                                                        \
        if ((need) > (cap)) {                                                                                   \
            size_t nc_ = (cap) ? (cap) : 64;                                                                    \
            while (nc_ < (need)) nc_ *= 2;                                                                      \
            (ptr) = xrealloc((ptr), nc_ * sizeof(type));                                                        \
            (cap) = nc_;                                                                                        \
        }                                                                                                       \
    } while (0)

/* ---- despeckle, thinning ----------------------------------------------- */

static const int dx8[8] = {0, 1, 1, 1, 0, -1, -1, -1};
static const int dy8[8] = {-1, -1, 0, 1, 1, 1, 0, -1};

/* Remove 8-connected ink components of fewer than k pixels; returns how many. */
static long despeckle(vec_ws_t *ws, int w, int h, int k) {
    int W = w + 2;
    int off[8];
    for (int d = 0; d < 8; d++) off[d] = dy8[d] * W + dx8[d];
    uint8_t *img = ws->img;
    int32_t *lab = ws->lab, *q = ws->qa;
    size_t np = (size_t)W * (size_t)(h + 2);
    memset(lab, 0, np * sizeof *lab);
    long removed = 0;
    for (int y = 1; y <= h; y++)
        for (int32_t p = y * W + 1; p <= y * W + w; p++) {
            if (!img[p] || lab[p]) continue;
            size_t head = 0, tail = 0;
            q[tail++] = p;
            lab[p] = 1;
            while (head < tail) {
                int32_t c = q[head++];
                for (int d = 0; d < 8; d++) {
                    int32_t r = c + off[d];
                    if (img[r] && !lab[r]) {
                        lab[r] = 1;
                        q[tail++] = r;
                    }
                }
            }
            if ((long)tail < k) {
                for (size_t i = 0; i < tail; i++) img[q[i]] = 0;
                removed++;
            }
        }
    return removed;
}

/* Guo-Hall thinning of ws->img in place over a work list: a pixel is
 * (re)examined only after a neighbour changed, until it has survived both
 * sub-iterations unchanged; so the work is linear in the ink pixels.  All
 * of a sub-iteration's candidates are judged on the image before any of
 * them is deleted (the algorithm is parallel).  Then staircase pixels are
 * removed one at a time (sequentially, a queue).  Returns skeleton pixels. */
static long thin(vec_ws_t *ws, int w, int h) {
    build_luts(ws);
    int W = w + 2;
    int off[8];
    for (int d = 0; d < 8; d++) off[d] = dy8[d] * W + dx8[d];
    uint8_t *img = ws->img, *age = ws->age;
    int32_t *lab = ws->lab, *qa = ws->qa, *qb = ws->qb;
    size_t np = (size_t)W * (size_t)(h + 2);
    memset(lab, 0, np * sizeof *lab);
    size_t n = 0;
    for (int y = 1; y <= h; y++)
        for (int32_t p = y * W + 1; p <= y * W + w; p++)
            if (img[p]) {
                qa[n++] = p;
                age[p] = 0;
            }
    int32_t gen = 0;
    for (int sub = 0; n > 0; sub ^= 1) {
        const uint8_t *lut = ws->lut[sub];
        size_t nd = 0;
        for (size_t i = 0; i < n; i++) {
            int32_t p = qa[i];
            if (lut[nbyte(img, p, W)] & 1) {
                qa[i] = qa[nd];
                qa[nd++] = p;
            }
        }
        for (size_t i = 0; i < nd; i++) img[qa[i]] = 0;
        gen++;
        size_t m = 0;
        for (size_t i = nd; i < n; i++) {
            int32_t p = qa[i];
            if (++age[p] < 2 && lab[p] != gen) {
                lab[p] = gen;
                qb[m++] = p;
            }
        }
        for (size_t i = 0; i < nd; i++)
            for (int d = 0; d < 8; d++) {
                int32_t r = qa[i] + off[d];
                if (!img[r]) continue;
                age[r] = 0;
                if (lab[r] != gen) {
                    lab[r] = gen;
                    qb[m++] = r;
                }
            }
        int32_t *t = qa;
        qa = qb;
        qb = t;
        n = m;
    }
    /* staircases: a ring queue, each pixel in it at most once (lab == gen) */
    gen++;
    size_t cap = np, head = 0, tail = 0, cnt = 0;
    for (int y = 1; y <= h; y++)
        for (int32_t p = y * W + 1; p <= y * W + w; p++)
            if (img[p]) {
                qa[tail++] = p;
                lab[p] = gen;
                cnt++;
            }
    long skel = (long)cnt;
    tail %= cap;
    while (cnt) {
        int32_t p = qa[head];
        head = (head + 1) % cap;
        cnt--;
        lab[p] = 0;
        if (!img[p] || !(ws->lut[0][nbyte(img, p, W)] & 2)) continue;
        img[p] = 0;
        skel--;
        for (int d = 0; d < 8; d++) {
            int32_t r = p + off[d];
            if (img[r] && lab[r] != gen) {
                lab[r] = gen;
                qa[tail] = r;
                tail = (tail + 1) % cap;
                cnt++;
            }
        }
    }
    return skel;
}

/* ---- tracing ------------------------------------------------------------ */

typedef struct {
    vec_ws_t *ws;
    int w, h, W;
    int off[8];
} tr_t;

static inline double pxx(const tr_t *t, int32_t p) { return (double)(p % t->W - 1); }
static inline double pxy(const tr_t *t, int32_t p) { return (double)(p / t->W - 1); }

static int32_t find_root(node_t *nd, int32_t a) {
    int32_t r = a;
    while (nd[r].parent != r) r = nd[r].parent;
    while (nd[a].parent != r) {
        int32_t nx = nd[a].parent;
        nd[a].parent = r;
        a = nx;
    }
    return r;
}

static void node_pt(const vec_ws_t *ws, int32_t k, double *x, double *y) {
    const node_t *nd = (const node_t *)ws->nodes + k;
    if (nd->placed) {
        *x = nd->px;
        *y = nd->py;
        return;
    }
    *x = nd->sx / (double)nd->cnt;
    *y = nd->sy / (double)nd->cnt;
}

static path_t *new_path(tr_t *t) {
    vec_ws_t *ws = t->ws;
    GROW(ws->paths, ws->pathcap, ws->npaths + 1, path_t);
    path_t *pa = (path_t *)ws->paths + ws->npaths++;
    memset(pa, 0, sizeof *pa);
    pa->off = ws->npix;
    pa->node[0] = pa->node[1] = -1;
    return pa;
}

static void push_pix(vec_ws_t *ws, int32_t p) {
    GROW(ws->pix, ws->pixcap, ws->npix + 1, int32_t);
    ws->pix[ws->npix++] = p;
}

/* Walk from cur (entered from prev, -1 for none) along non-junction pixels
 * until a free end or a junction; lab: >= 0 junction node, -1 unvisited,
 * -2 visited.  Returns the node reached, or -1. */
static int32_t walk(tr_t *t, int32_t prev, int32_t cur) {
    vec_ws_t *ws = t->ws;
    const uint8_t *img = ws->img;
    int32_t *lab = ws->lab;
    for (;;) {
        push_pix(ws, cur);
        lab[cur] = -2;
        int32_t next = -1, node = -1;
        for (int d = 0; d < 8; d++) {
            int32_t r = cur + t->off[d];
            if (!img[r] || r == prev) continue;
            if (lab[r] >= 0) node = lab[r];
            else if (lab[r] == -1 && next < 0) next = r;
        }
        /* a non-junction pixel has at most two neighbours: prev and one more */
        if (node >= 0 && next < 0) return node;
        if (next < 0) return -1;
        prev = cur;
        cur = next;
    }
}

static double path_len(const tr_t *t, const path_t *pa) {
    const vec_ws_t *ws = t->ws;
    double len = 0, x0, y0;
    const int32_t *px = ws->pix + pa->off;
    if (pa->node[0] >= 0) node_pt(ws, pa->node[0], &x0, &y0);
    else x0 = pxx(t, px[0]), y0 = pxy(t, px[0]);
    for (int32_t i = 0; i < pa->n; i++) {
        double x = pxx(t, px[i]), y = pxy(t, px[i]);
        len += hypot(x - x0, y - y0);
        x0 = x, y0 = y;
    }
    if (pa->node[1] >= 0) {
        double x, y;
        node_pt(ws, pa->node[1], &x, &y);
        len += hypot(x - x0, y - y0);
    }
    return len;
}

/* The outgoing direction of path end e (2*path + side) at its node. */
static void end_dir(const tr_t *t, int32_t e, double *ux, double *uy) {
    const vec_ws_t *ws = t->ws;
    const path_t *pa = (const path_t *)ws->paths + e / 2;
    int side = e & 1;
    int32_t k = pa->n - 1 < 7 ? pa->n - 1 : 7;
    int32_t p = ws->pix[pa->off + (size_t)(side ? pa->n - 1 - k : k)];
    double nx, ny;
    node_pt(ws, pa->node[side], &nx, &ny);
    double dx = pxx(t, p) - nx, dy = pxy(t, p) - ny, l = hypot(dx, dy);
    *ux = l > 0 ? dx / l : 0;
    *uy = l > 0 ? dy / l : 0;
}

/* Path i before path j: shorter first, then the lower index. */
static int before(const path_t *pp, int32_t i, int32_t j) {
    return pp[i].len < pp[j].len || (pp[i].len == pp[j].len && i < j);
}

/* Sort path indices by length: a bottom-up merge sort (stable, O(n log n),
 * no recursion; qsort has no context argument in C11). */
static void sort_by_len(int32_t *v, int32_t *tmp, size_t n, const path_t *pp) {
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) tmp[k++] = before(pp, v[j], v[i]) ? v[j++] : v[i++];
            while (i < mid) tmp[k++] = v[i++];
            while (j < hi) tmp[k++] = v[j++];
        }
        memcpy(v, tmp, n * sizeof *v);
    }
}

/* Room for need points in the polyline and RDP's buffers. */
static void ensure_xy(vec_ws_t *ws, size_t need) {
    if (need <= ws->xycap) return;
    size_t nc = ws->xycap ? ws->xycap : 256;
    while (nc < need) nc *= 2;
    ws->x = xrealloc(ws->x, nc * sizeof(double));
    ws->y = xrealloc(ws->y, nc * sizeof(double));
    ws->keep = xrealloc(ws->keep, nc);
    ws->stack = xrealloc(ws->stack, 2 * nc * sizeof(int));
    ws->xycap = nc;
}

/* Append a point unless it repeats the last one. */
static void put_pt(vec_ws_t *ws, size_t *n, double x, double y) {
    if (*n && ws->x[*n - 1] == x && ws->y[*n - 1] == y) return;
    ensure_xy(ws, *n + 1);
    ws->x[*n] = x;
    ws->y[*n] = y;
    (*n)++;
}

/* Append path pa, entered at side s, to the polyline. */
static void put_path(const tr_t *t, const path_t *pa, int s, size_t *n) {
    vec_ws_t *ws = t->ws;
    double x, y;
    if (pa->node[s] >= 0) {
        node_pt(ws, pa->node[s], &x, &y);
        put_pt(ws, n, x, y);
    }
    for (int32_t i = 0; i < pa->n; i++) {
        int32_t p = ws->pix[pa->off + (size_t)(s ? pa->n - 1 - i : i)];
        put_pt(ws, n, pxx(t, p), pxy(t, p));
    }
    if (pa->node[1 - s] >= 0) {
        node_pt(ws, pa->node[1 - s], &x, &y);
        put_pt(ws, n, x, y);
    }
}

static void emit(vec_ws_t *ws, size_t n, double eps, drawing_t *out, vec_stats_t *st) {
    if (!n) return;
    size_t k = n;
    if (eps > 0 && n > 2) {
        rdp_mark(ws->x, ws->y, (int)n, eps, ws->keep, ws->stack);
        k = 0;
        for (size_t i = 0; i < n; i++)
            if (ws->keep[i]) {
                ws->x[k] = ws->x[i];
                ws->y[k] = ws->y[i];
                k++;
            }
    }
    drawing_add(out, (int)k, ws->x, ws->y, NULL);
    st->strokes++;
    st->points += (long)k;
}

/* A junction's point.  Thinning pulls a junction off the strokes that meet
 * there (a T's bar dips towards its stem), so the node is moved to the point
 * nearest, in least squares, to the lines of its branches, each line fitted
 * (principal axis) to the branch's pixels 2 to 10 steps from the junction.
 * Kept at the centroid when fewer than two branches are long enough, when the
 * lines are nearly parallel, or when the point would move more than 3 px;
 * clamped to the picture. */
static void place_node(const tr_t *t, int32_t k, const int32_t *ev, int m) {
    vec_ws_t *ws = t->ws;
    node_t *nd = (node_t *)ws->nodes + k;
    double cx = nd->sx / (double)nd->cnt, cy = nd->sy / (double)nd->cnt;
    double a11 = 0, a12 = 0, a22 = 0, b1 = 0, b2 = 0;
    int lines = 0;
    for (int i = 0; i < m; i++) {
        const path_t *pa = (const path_t *)ws->paths + ev[i] / 2;
        int side = ev[i] & 1;
        int32_t i0 = 2, i1 = pa->n - 1 < 10 ? pa->n - 1 : 10;
        if (i1 - i0 < 2) continue;
        double mx = 0, my = 0, sxx = 0, sxy = 0, syy = 0;
        int cnt = 0;
        for (int32_t j = i0; j <= i1; j++) {
            int32_t p = ws->pix[pa->off + (size_t)(side ? pa->n - 1 - j : j)];
            mx += pxx(t, p);
            my += pxy(t, p);
            cnt++;
        }
        mx /= cnt;
        my /= cnt;
        for (int32_t j = i0; j <= i1; j++) {
            int32_t p = ws->pix[pa->off + (size_t)(side ? pa->n - 1 - j : j)];
            double dx = pxx(t, p) - mx, dy = pxy(t, p) - my;
            sxx += dx * dx;
            sxy += dx * dy;
            syy += dy * dy;
        }
        /* principal direction of [[sxx sxy][sxy syy]] */
        double ang = 0.5 * atan2(2 * sxy, sxx - syy);
        double nx = -sin(ang), ny = cos(ang); /* unit normal */
        double c = nx * mx + ny * my;
        a11 += nx * nx;
        a12 += nx * ny;
        a22 += ny * ny;
        b1 += nx * c;
        b2 += ny * c;
        lines++;
    }
    double det = a11 * a22 - a12 * a12;
    if (lines < 2 || det < 0.25) return;
    double x = (a22 * b1 - a12 * b2) / det, y = (a11 * b2 - a12 * b1) / det;
    if (!(hypot(x - cx, y - cy) <= 3)) return;
    /* never off the picture (a junction at its edge) */
    x = x < 0 ? 0 : x > t->w - 1 ? t->w - 1 : x;
    y = y < 0 ? 0 : y > t->h - 1 ? t->h - 1 : y;
    nd->px = x;
    nd->py = y;
    nd->placed = 1;
}

static int trace(vec_ws_t *ws, int w, int h, const vec_opts_t *o, drawing_t *out, vec_stats_t *st, err_t *e) {
    tr_t t = {.ws = ws, .w = w, .h = h, .W = w + 2};
    int W = t.W;
    for (int d = 0; d < 8; d++) t.off[d] = dy8[d] * W + dx8[d];
    uint8_t *img = ws->img, *deg = ws->age;
    int32_t *lab = ws->lab, *q = ws->qa;
    ws->npix = ws->npaths = ws->nnodes = 0;

    /* degrees; lab -1 = unvisited */
    for (int y = 1; y <= h; y++)
        for (int32_t p = y * W + 1; p <= y * W + w; p++)
            if (img[p]) {
                int nb = nbyte(img, p, W);
                deg[p] = (uint8_t)__builtin_popcount((unsigned)nb);
                lab[p] = -1;
                st->ends += deg[p] == 1;
            }
    /* junction clusters -> nodes; their pixels collected in q[0..nq) */
    size_t nq = 0;
    for (int y = 1; y <= h; y++)
        for (int32_t p = y * W + 1; p <= y * W + w; p++) {
            if (!img[p] || deg[p] < 3 || lab[p] != -1) continue;
            GROW(ws->nodes, ws->nodecap, ws->nnodes + 1, node_t);
            int32_t k = (int32_t)ws->nnodes++;
            node_t *nd = (node_t *)ws->nodes + k;
            memset(nd, 0, sizeof *nd);
            nd->parent = k;
            size_t head = nq;
            q[nq++] = p;
            lab[p] = k;
            while (head < nq) {
                int32_t c = q[head++];
                nd->sx += pxx(&t, c);
                nd->sy += pxy(&t, c);
                nd->cnt++;
                for (int d = 0; d < 8; d++) {
                    int32_t r = c + t.off[d];
                    if (img[r] && deg[r] >= 3 && lab[r] == -1) {
                        lab[r] = k;
                        q[nq++] = r;
                    }
                }
            }
        }
    /* paths leaving junctions */
    for (size_t i = 0; i < nq; i++) {
        int32_t p = q[i];
        for (int d = 0; d < 8; d++) {
            int32_t r = p + t.off[d];
            if (!img[r] || lab[r] != -1) continue;
            path_t *pa = new_path(&t);
            pa->node[0] = lab[p];
            int32_t end = walk(&t, p, r);
            pa = (path_t *)ws->paths + ws->npaths - 1;
            pa->node[1] = end;
            pa->n = (int32_t)(ws->npix - pa->off);
        }
    }
    /* paths between free ends, isolated pixels, then cycles */
    for (int pass = 0; pass < 2; pass++)
        for (int y = 1; y <= h; y++)
            for (int32_t p = y * W + 1; p <= y * W + w; p++) {
                if (!img[p] || lab[p] != -1 || (pass == 0 && deg[p] > 1)) continue;
                path_t *pa = new_path(&t);
                int32_t end = walk(&t, -1, p);
                pa = (path_t *)ws->paths + ws->npaths - 1;
                pa->node[1] = end; /* -1 except a path that ends at a junction (pass 0 never: it was traced) */
                pa->n = (int32_t)(ws->npix - pa->off);
                pa->closed = pass == 1 && pa->n > 2;
            }
    st->paths = (long)ws->npaths;
    path_t *pp = ws->paths;
    node_t *nodes = ws->nodes;
    size_t np = ws->npaths;

    /* merge junctions joined by a short path */
    for (size_t i = 0; i < np; i++) pp[i].len = path_len(&t, &pp[i]);
    if (o->merge_dist > 0)
        for (size_t i = 0; i < np; i++) {
            path_t *pa = &pp[i];
            if (pa->node[0] < 0 || pa->node[1] < 0 || pa->len >= o->merge_dist) continue;
            int32_t a = find_root(nodes, pa->node[0]), b = find_root(nodes, pa->node[1]);
            pa->dropped = 1;
            if (a == b) continue;
            if (b < a) {
                int32_t tmp = a;
                a = b;
                b = tmp;
            }
            nodes[b].parent = a;
            nodes[a].sx += nodes[b].sx;
            nodes[a].sy += nodes[b].sy;
            nodes[a].cnt += nodes[b].cnt;
            st->merged++;
        }
    for (size_t k = 0; k < ws->nnodes; k++) nodes[k].deg = 0;
    for (size_t i = 0; i < np; i++) {
        path_t *pa = &pp[i];
        for (int s = 0; s < 2; s++)
            if (pa->node[s] >= 0) {
                pa->node[s] = find_root(nodes, pa->node[s]);
                if (!pa->dropped) nodes[pa->node[s]].deg++;
            }
    }
    for (size_t k = 0; k < ws->nnodes; k++) st->junctions += nodes[k].parent == (int32_t)k;

    /* spurs, shortest first, while their junction keeps two other branches */
    GROW(ws->ends, ws->endcap, 2 * np + 1, int32_t);
    GROW(ws->link, ws->linkcap, 2 * np + 1, int32_t);
    if (o->min_length > 0) {
        int32_t *cand = ws->ends, *tmp = ws->link;
        size_t nc = 0;
        for (size_t i = 0; i < np; i++) {
            path_t *pa = &pp[i];
            if (pa->dropped || (pa->node[0] >= 0) == (pa->node[1] >= 0)) continue;
            pa->len = path_len(&t, pa);
            if (pa->len < o->min_length) cand[nc++] = (int32_t)i;
        }
        sort_by_len(cand, tmp, nc, pp);
        for (size_t c = 0; c < nc; c++) {
            path_t *pa = &pp[cand[c]];
            node_t *nd = &nodes[pa->node[0] >= 0 ? pa->node[0] : pa->node[1]];
            if (nd->deg < 3) continue;
            pa->dropped = 1;
            nd->deg--;
            st->spurs++;
        }
    }

    /* path ends grouped by node (counting sort) */
    for (size_t k = 0; k < ws->nnodes; k++) nodes[k].nend = nodes[k].first = 0;
    for (size_t i = 0; i < np; i++)
        for (int s = 0; s < 2; s++)
            if (!pp[i].dropped && pp[i].node[s] >= 0) nodes[pp[i].node[s]].nend++;
    int32_t acc = 0;
    for (size_t k = 0; k < ws->nnodes; k++) {
        nodes[k].first = acc;
        acc += nodes[k].nend;
        nodes[k].nend = 0;
    }
    int32_t *ends = ws->ends, *link = ws->link;
    for (size_t i = 0; i < np; i++)
        for (int s = 0; s < 2; s++) {
            link[2 * i + (size_t)s] = -1;
            if (!pp[i].dropped && pp[i].node[s] >= 0) {
                node_t *nd = &nodes[pp[i].node[s]];
                ends[nd->first + nd->nend++] = (int32_t)(2 * i + (size_t)s);
            }
        }
    /* join branches through each junction: the two left are always joined,
     * otherwise the most nearly opposite pair while it is straight enough */
    double cos_max = -cos(o->join_angle * M_PI / 180.0);
    for (size_t k = 0; k < ws->nnodes; k++) {
        node_t *nd = &nodes[k];
        int32_t *ev = ends + nd->first;
        int m = nd->nend;
        if (m == 2) {
            link[ev[0]] = ev[1];
            link[ev[1]] = ev[0];
            continue;
        }
        if (m < 3 || m > 8) continue; /* more is a blot: its branches stay apart */
        place_node(&t, (int32_t)k, ev, m);
        double ux[8], uy[8];
        int used[8] = {0};
        for (int i = 0; i < m; i++) end_dir(&t, ev[i], &ux[i], &uy[i]);
        for (;;) {
            int bi = -1, bj = -1;
            double best = 2;
            for (int i = 0; i < m; i++)
                for (int j = i + 1; j < m; j++) {
                    if (used[i] || used[j]) continue;
                    double c = ux[i] * ux[j] + uy[i] * uy[j];
                    if (c < best) best = c, bi = i, bj = j;
                }
            if (bi < 0 || best >= cos_max) break;
            link[ev[bi]] = ev[bj];
            link[ev[bj]] = ev[bi];
            used[bi] = used[bj] = 1;
        }
    }

    /* chains: open ones from an unjoined end, then cycles */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < np; i++) {
            path_t *pa = &pp[i];
            if (pa->dropped || pa->emitted) continue;
            int s;
            if (pass == 1) s = 0;
            else if (link[2 * i] < 0) s = 0;
            else if (link[2 * i + 1] < 0) s = 1;
            else continue;
            size_t n = 0;
            size_t cur = i;
            for (;;) {
                path_t *c = &pp[cur];
                put_path(&t, c, s, &n);
                c->emitted = 1;
                int32_t x = link[2 * cur + (size_t)(1 - s)];
                if (x < 0 || pp[x / 2].emitted) break;
                cur = (size_t)(x / 2);
                s = x & 1;
            }
            if (pa->closed && n > 2) {
                double x0 = ws->x[0], y0 = ws->y[0];
                put_pt(ws, &n, x0, y0);
            }
            emit(ws, n, o->epsilon, out, st);
        }
    /* a junction whose every branch was merged away is still ink: a dot */
    for (size_t k = 0; k < ws->nnodes; k++)
        if (nodes[k].parent == (int32_t)k && nodes[k].nend == 0) {
            size_t n = 0;
            double x, y;
            node_pt(ws, (int32_t)k, &x, &y);
            put_pt(ws, &n, x, y);
            emit(ws, n, o->epsilon, out, st);
        }
    (void)e;
    return 0;
}

/* ---- entry points ------------------------------------------------------- */

static int check_opts(const vec_opts_t *o, int w, int h, err_t *e) {
    if (!(o->threshold > 0 && o->threshold <= 1))
        return err_set(e, EXIT_USAGE, "threshold %g is not in (0, 1]", o->threshold);
    if (o->despeckle < 0) return err_set(e, EXIT_USAGE, "despeckle %d is negative", o->despeckle);
    if (!(o->min_length >= 0 && o->min_length <= 1e6) || !(o->merge_dist >= 0 && o->merge_dist <= 1e6) ||
        !(o->epsilon >= 0 && o->epsilon <= 1e6) || !(o->join_angle >= 0 && o->join_angle <= 90))
        return err_set(e, EXIT_USAGE, "a length or angle option is out of range");
    if (w < 1 || h < 1) return err_set(e, EXIT_DATA, "empty image (%d x %d)", w, h);
    if (w > PNGIO_MAX_SIDE || h > PNGIO_MAX_SIDE || (long)w * (long)h > PNGIO_MAX_PIXELS)
        return err_set(e, EXIT_DATA, "image too large (%d x %d; at most %d a side and %ld pixels)", w, h,
                       PNGIO_MAX_SIDE, (long)PNGIO_MAX_PIXELS);
    return 0;
}

static int run(vec_ws_t *ws, int w, int h, const vec_opts_t *o, drawing_t *out, vec_stats_t *st, err_t *e) {
    int W = w + 2;
    long ink = 0;
    for (int y = 1; y <= h; y++)
        for (int32_t p = y * W + 1; p <= y * W + w; p++) ink += ws->img[p];
    if (o->despeckle > 1 && ink) {
        st->speckles = despeckle(ws, w, h, o->despeckle);
        if (st->speckles) {
            ink = 0;
            for (int y = 1; y <= h; y++)
                for (int32_t p = y * W + 1; p <= y * W + w; p++) ink += ws->img[p];
        }
    }
    st->ink = ink;
    if (!ink) return 0;
    st->skeleton = thin(ws, w, h);
    return trace(ws, w, h, o, out, st, e);
}

static void clear_padded(vec_ws_t *ws, int w, int h) {
    size_t np = (size_t)(w + 2) * (size_t)(h + 2);
    grow_pixels(ws, np);
    memset(ws->img, 0, np);
}

int vectorize_image(vec_ws_t *ws, const image_t *im, const vec_opts_t *o, drawing_t *out, vec_stats_t *st,
                    err_t *e) {
    vec_stats_t dummy;
    if (!st) st = &dummy;
    memset(st, 0, sizeof *st);
    drawing_clear(out);
    int rc = check_opts(o, im->w, im->h, e);
    if (rc) return rc;
    if (im->c != 1 && im->c != 3 && im->c != 4) return err_set(e, EXIT_DATA, "image has %d channels", im->c);
    int w = im->w, h = im->h, W = w + 2, c = im->c;
    clear_padded(ws, w, h);
    /* ink: grey < threshold * 255, i.e. 1000 * grey < 255000 * threshold in luma units */
    double lim = o->threshold * 255.0;
    uint8_t lut[256];
    for (int g = 0; g < 256; g++) lut[g] = (double)g < lim;
    for (int y = 0; y < h; y++) {
        const uint8_t *row = im->px + (size_t)y * (size_t)w * (size_t)c;
        uint8_t *dst = ws->img + (size_t)(y + 1) * (size_t)W + 1;
        if (c == 1)
            for (int x = 0; x < w; x++) dst[x] = lut[row[x]];
        else
            for (int x = 0; x < w; x++) {
                const uint8_t *q = row + (size_t)x * (size_t)c;
                unsigned g = (299u * q[0] + 587u * q[1] + 114u * q[2] + 500u) / 1000u;
                dst[x] = lut[g];
            }
    }
    return run(ws, w, h, o, out, st, e);
}

long vec_thin(vec_ws_t *ws, uint8_t *bin, int w, int h) {
    int W = w + 2;
    clear_padded(ws, w, h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) ws->img[(size_t)(y + 1) * (size_t)W + (size_t)x + 1] = bin[(size_t)y * w + x] != 0;
    long n = thin(ws, w, h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) bin[(size_t)y * w + x] = ws->img[(size_t)(y + 1) * (size_t)W + (size_t)x + 1];
    return n;
}

int vectorize_binary(vec_ws_t *ws, const uint8_t *bin, int w, int h, const vec_opts_t *o, drawing_t *out,
                     vec_stats_t *st, err_t *e) {
    vec_stats_t dummy;
    if (!st) st = &dummy;
    memset(st, 0, sizeof *st);
    drawing_clear(out);
    vec_opts_t oo = *o;
    oo.threshold = 0.5;
    int rc = check_opts(&oo, w, h, e);
    if (rc) return rc;
    int W = w + 2;
    clear_padded(ws, w, h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) ws->img[(size_t)(y + 1) * (size_t)W + (size_t)x + 1] = bin[(size_t)y * w + x] != 0;
    return run(ws, w, h, o, out, st, e);
}
