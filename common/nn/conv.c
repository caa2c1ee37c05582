/* conv.c - see conv.h.
 *
 * Both convolutions are built from two cores over one "geometry": an image
 * side (C channels of H x W, zero-padded) and a column side (OH x OW kernel
 * positions); the column matrix has K = C*KH*KW rows (channel, kernel row,
 * kernel column) and P = OH*OW columns.
 *   pixels core:   out[n] (M,P) (+)= Wm (M,K) @ im2col(img[n])      [+ bias]
 *                  conv2d forward; conv_transpose2d input gradient.
 *                  Split over the flattened (image, column) range N*P.
 *   channels core: dWm (M,K) += G[n] (M,P) @ im2col(img[n])^T, split over
 *                  rows of K (each thread owns a column block of dWm);
 *                  dimg[n] += col2im(Wm^T @ G[n]), split over (image,
 *                  channel chunk) pairs (each thread owns whole channels,
 *                  where col2im's overlapping windows add up).
 *                  conv2d backward; conv_transpose2d forward (dimg = out,
 *                  G = inp) and its weight gradient (img = dout, G = inp).
 * Each thread lowers into its own slot of the caller's scratch, in tiles of
 * about TILE_FLOATS floats (at least 256 columns), so the scratch does not
 * grow with the image: the weight gradient sums over column tiles, col2im
 * scatters one tile at a time.  A 1x1, stride-1, unpadded geometry skips the
 * lowering: the image is its own column matrix.  Shapes in comments: K = rows, P = columns. */
#include "conv.h"
#include <cblas.h>
#include <limits.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

typedef struct {
    int C, H, W; /* image side */
    int OH, OW;  /* column side */
    int KH, KW, sh, sw, ph, pw, dh, dw;
    int K, P;   /* C*KH*KW, OH*OW */
    int direct; /* 1x1, stride 1, no padding: im2col is the identity */
} geom_t;

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }
static int one_if0(int v) { return v == 0 ? 1 : v; }

static int dims_ok(const conv2d_dims_t *d) {
    return d && d->N >= 1 && d->C >= 1 && d->H >= 1 && d->W >= 1 && d->OC >= 1 && d->KH >= 1 && d->KW >= 1 &&
           d->stride_h >= 0 && d->stride_w >= 0 && d->dil_h >= 0 && d->dil_w >= 0 && d->pad_h >= 0 &&
           d->pad_w >= 0 && d->outpad_h >= 0 && d->outpad_w >= 0;
}

/* everything BLAS and the flattened splits index must fit an int */
static int fits(const geom_t *g, int N, int M) {
    size_t K = (size_t)g->C * g->KH * g->KW, P = (size_t)g->OH * g->OW, npix = (size_t)g->H * g->W;
    return K <= INT_MAX && P <= INT_MAX && npix <= INT_MAX && (size_t)N * P <= INT_MAX &&
           (size_t)N * g->C <= INT_MAX && (size_t)M * K <= INT_MAX;
}

static int make_geom(geom_t *g, int C, int H, int W, int OH, int OW, const conv2d_dims_t *d) {
    *g = (geom_t){.C = C,
                  .H = H,
                  .W = W,
                  .OH = OH,
                  .OW = OW,
                  .KH = d->KH,
                  .KW = d->KW,
                  .sh = one_if0(d->stride_h),
                  .sw = one_if0(d->stride_w),
                  .ph = d->pad_h,
                  .pw = d->pad_w,
                  .dh = one_if0(d->dil_h),
                  .dw = one_if0(d->dil_w)};
    if (OH < 1 || OW < 1) return NN_EINVAL;
    g->K = C * d->KH * d->KW;
    g->P = OH * OW;
    g->direct =
        d->KH == 1 && d->KW == 1 && g->sh == 1 && g->sw == 1 && !g->ph && !g->pw && OH == H && OW == W;
    return NN_OK;
}

int conv2d_out_size(const conv2d_dims_t *d, int *OH, int *OW) {
    if (!dims_ok(d) || d->outpad_h || d->outpad_w) return NN_EINVAL;
    long long eh = (long long)one_if0(d->dil_h) * (d->KH - 1) + 1,
              ew = (long long)one_if0(d->dil_w) * (d->KW - 1) + 1;
    long long ih = (long long)d->H + 2LL * d->pad_h, iw = (long long)d->W + 2LL * d->pad_w;
    if (ih < eh || iw < ew) return NN_EINVAL;
    long long oh = (ih - eh) / one_if0(d->stride_h) + 1, ow = (iw - ew) / one_if0(d->stride_w) + 1;
    if (oh > INT_MAX || ow > INT_MAX) return NN_EINVAL;
    if (OH) *OH = (int)oh;
    if (OW) *OW = (int)ow;
    return NN_OK;
}

int conv_transpose2d_out_size(const conv2d_dims_t *d, int *OH, int *OW) {
    if (!dims_ok(d)) return NN_EINVAL;
    int sh = one_if0(d->stride_h), sw = one_if0(d->stride_w), dh = one_if0(d->dil_h), dw = one_if0(d->dil_w);
    if (d->outpad_h >= imax(sh, dh) || d->outpad_w >= imax(sw, dw)) return NN_EINVAL;
    long long oh =
        (long long)(d->H - 1) * sh - 2LL * d->pad_h + (long long)dh * (d->KH - 1) + d->outpad_h + 1;
    long long ow =
        (long long)(d->W - 1) * sw - 2LL * d->pad_w + (long long)dw * (d->KW - 1) + d->outpad_w + 1;
    if (oh < 1 || ow < 1 || oh > INT_MAX || ow > INT_MAX) return NN_EINVAL;
    if (OH) *OH = (int)oh;
    if (OW) *OW = (int)ow;
    return NN_OK;
}

/* conv2d: image = input, columns = output positions */
static int conv_geom(geom_t *g, const conv2d_dims_t *d) {
    int OH, OW;
    if (conv2d_out_size(d, &OH, &OW) || make_geom(g, d->C, d->H, d->W, OH, OW, d)) return NN_EINVAL;
    return fits(g, d->N, d->OC) ? NN_OK : NN_EINVAL;
}

/* conv_transpose2d: image = output, columns = input positions */
static int convt_geom(geom_t *g, const conv2d_dims_t *d) {
    int OH, OW;
    if (conv_transpose2d_out_size(d, &OH, &OW) || make_geom(g, d->OC, OH, OW, d->H, d->W, d))
        return NN_EINVAL;
    return fits(g, d->N, d->C) ? NN_OK : NN_EINVAL;
}

/* ------------------------------------------------------------ lowering */

/* The valid column range [lo,hi) of kernel column offset xoff (the image
 * column of output column ow is ow*s + xoff): 0 <= ow*s + xoff < W. */
static void valid_range(int xoff, int s, int W, int OW, int *lo, int *hi) {
    int l = xoff >= 0 ? 0 : (-xoff + s - 1) / s;
    int h = W - 1 - xoff < 0 ? 0 : (W - 1 - xoff) / s + 1;
    h = imin(h, OW);
    *lo = imin(l, h);
    *hi = h;
}

/* col[(k-k0)*ld + (p-p0)] = padded image value for row k in [k0,k1), column
 * p in [p0,p1).  img (C,H,W).  Walks the columns output row by output row
 * (no division per stretch); stride-1 rows are memcpy, stride-2 rows a loop
 * the compiler vectorises. */
static void im2col_rows(const float *restrict img, float *restrict col, int ld, const geom_t *g, int k0,
                        int k1, int p0, int p1) {
    const int KK = g->KH * g->KW, H = g->H, W = g->W, OW = g->OW, sw = g->sw, sh = g->sh;
    const int oh0 = p0 / OW, owa = p0 % OW;
    for (int k = k0; k < k1; k++) {
        int c = k / KK, kh = k % KK / g->KW, kw = k % g->KW;
        const float *restrict ic = img + (size_t)c * H * W;
        float *restrict dst = col + (size_t)(k - k0) * ld;
        int xoff = kw * g->dw - g->pw, yoff = kh * g->dh - g->ph, lo, hi;
        valid_range(xoff, sw, W, OW, &lo, &hi);
        int oh = oh0, ow0 = owa;
        for (int left = p1 - p0; left > 0; oh++, ow0 = 0) {
            int n = imin(OW - ow0, left), ow1 = ow0 + n, ih = oh * sh + yoff;
            if (ih < 0 || ih >= H) {
                memset(dst, 0, sizeof(float) * (size_t)n);
            } else {
                int a = imin(imax(lo, ow0), ow1), b = imax(imin(hi, ow1), a);
                const float *restrict src = ic + (size_t)ih * W + (size_t)a * sw + xoff;
                float *restrict d = dst + (a - ow0);
                for (int i = 0; i < a - ow0; i++) dst[i] = 0;
                if (sw == 1)
                    memcpy(d, src, sizeof(float) * (size_t)(b - a));
                else if (sw == 2)
                    for (int i = 0; i < b - a; i++) d[i] = src[2 * i];
                else
                    for (int i = 0; i < b - a; i++) d[i] = src[(size_t)i * sw];
                for (int i = b - ow0; i < n; i++) dst[i] = 0;
            }
            dst += n;
            left -= n;
        }
    }
}

/* img[...] += col[(k-k0)*ld + (p-p0)] for rows [k0,k1), columns [p0,p1):
 * the adjoint of im2col_rows.  Rows of one channel overlap in the image, so
 * a caller that splits rows across threads must keep each channel's rows in
 * one thread. */
static void col2im_rows(const float *restrict col, float *restrict img, int ld, const geom_t *g, int k0,
                        int k1, int p0, int p1) {
    const int KK = g->KH * g->KW, H = g->H, W = g->W, OW = g->OW, sw = g->sw, sh = g->sh;
    const int oh0 = p0 / OW, owa = p0 % OW;
    for (int k = k0; k < k1; k++) {
        int c = k / KK, kh = k % KK / g->KW, kw = k % g->KW;
        float *restrict ic = img + (size_t)c * H * W;
        const float *restrict row = col + (size_t)(k - k0) * ld;
        int xoff = kw * g->dw - g->pw, yoff = kh * g->dh - g->ph, lo, hi;
        valid_range(xoff, sw, W, OW, &lo, &hi);
        int oh = oh0, ow0 = owa;
        for (int left = p1 - p0; left > 0; oh++, ow0 = 0) {
            int n = imin(OW - ow0, left), ow1 = ow0 + n, ih = oh * sh + yoff;
            if (ih >= 0 && ih < H) {
                int a = imin(imax(lo, ow0), ow1), b = imax(imin(hi, ow1), a);
                float *restrict dst = ic + (size_t)ih * W + (size_t)a * sw + xoff;
                const float *restrict src = row + (a - ow0); /* src[i] is output column a + i */
                if (sw == 1)
                    for (int i = 0; i < b - a; i++) dst[i] += src[i];
                else if (sw == 2)
                    for (int i = 0; i < b - a; i++) dst[2 * i] += src[i];
                else
                    for (int i = 0; i < b - a; i++) dst[(size_t)i * sw] += src[i];
            }
            row += n;
            left -= n;
        }
    }
}

/* Columns per lowering tile for a column matrix of `rows` rows: about
 * TILE_FLOATS floats (4 MB), at least 256 columns, so the scratch stays
 * small for big maps and the tile is still wide enough for sgemm. */
#define TILE_FLOATS (1 << 20)
static int col_tile(size_t rows) {
    size_t t = rows ? TILE_FLOATS / rows : TILE_FLOATS;
    return t < 256 ? 256 : t > INT_MAX ? INT_MAX : (int)t;
}

/* [begin,end) of part i of T over n items */
static void split(int n, int T, int i, int *b, int *e) {
    *b = (int)((long long)n * i / T);
    *e = (int)((long long)n * (i + 1) / T);
}

/* ------------------------------------------------------- pixels core */

typedef struct {
    const geom_t *g;
    int N, M, T;
    const float *img;  /* (N,C,H,W) image side */
    const float *Wm;   /* (M,K) */
    const float *bias; /* (M) or NULL */
    float *out;        /* (N,M,P) */
    int accumulate;    /* without bias: beta = 1 (add) or 0 (overwrite) */
    float *ws;
    size_t slot;
} pix_job;

/* Output columns of one item of the pixels core: each image's P columns are
 * cut into items of at most PIX_COLS (fewer when the lowering tile is
 * narrower), the same cut for every thread count and batch, and the
 * threads take contiguous runs of items.  So every output column comes from
 * an sgemm call of the same shape whatever -j and the batch are - OpenBLAS
 * picks its code by a call's size, and a cut that moved with the thread
 * count gave other bits on 3 threads than on 1 or 2 (sketch-score under the
 * AVX2 kernels, 2026-12-06).  A call packs the (M,K) weights once for
 * M x 512 x K multiply-adds, and a 32x32 map gives the threads four items. */
#define PIX_COLS 512
static int pix_cols(const geom_t *g) { return imin(g->P, g->direct ? PIX_COLS : imin(PIX_COLS, col_tile(g->K))); }

static size_t pix_slot(const geom_t *g) {
    return g->direct ? 0 : (size_t)g->K * (size_t)pix_cols(g);
}

static void pix_task(void *vj, int begin, int end, int tid) {
    const pix_job *j = vj;
    const geom_t *g = j->g;
    const int P = g->P, K = g->K, M = j->M;
    float *S = j->slot ? j->ws + (size_t)tid * j->slot : NULL; /* NULL: direct geometry, no lowering */
    const int tw = pix_cols(g), per = (P + tw - 1) / tw; /* items per image */
    for (int part = begin; part < end; part++) {
        int i0, i1;
        split(j->N * per, j->T, part, &i0, &i1);
        for (int it = i0; it < i1; it++) { /* one item: columns [p0,p1) of image n */
            int n = it / per, p0 = it % per * tw, p1 = imin(P, p0 + tw), np = p1 - p0;
            const float *img = j->img + (size_t)n * g->C * g->H * g->W;
            float *o = j->out + (size_t)n * M * P + p0;
            float beta = j->accumulate ? 1.0f : 0.0f;
            if (j->bias) {
                for (int m = 0; m < M; m++)
                    for (int p = 0; p < np; p++) o[(size_t)m * P + p] = j->bias[m];
                beta = 1.0f;
            }
            const float *B;
            int ldb;
            if (g->direct) {
                B = img + p0;
                ldb = P;
            } else {
                im2col_rows(img, S, np, g, 0, K, p0, p1);
                B = S;
                ldb = np;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, np, K, 1.0f, j->Wm, K, B, ldb, beta, o,
                        P);
        }
    }
}

static void pix_run(const nn_par_t *par, const geom_t *g, int N, int M, const float *img, const float *Wm,
                    const float *bias, float *out, int accumulate, float *ws) {
    int T = nn_nthreads(par);
    pix_job j = {.g = g,
                 .N = N,
                 .M = M,
                 .T = T,
                 .img = img,
                 .Wm = Wm,
                 .bias = bias,
                 .out = out,
                 .accumulate = accumulate,
                 .ws = ws,
                 .slot = pix_slot(g)};
    nn_parallel_for(par, T, pix_task, &j);
}

/* ----------------------------------------------------- channels core */

typedef struct {
    const geom_t *g;
    int N, M, T, nbw, nch; /* T: parts (threads); nbw: dWm's row blocks; nch: channel chunks an image */
    const float *img;  /* (N,C,H,W) image side, for dWm */
    const float *G;    /* (N,M,P) */
    const float *Wm;   /* (M,K), for dimg */
    float *dWm;        /* (M,K) or NULL */
    float *dimg;       /* (N,C,H,W) or NULL */
    int init;          /* dimg is overwritten: set to bias (or 0) first */
    const float *bias; /* (C) or NULL, with init */
    float *ws;
    size_t slot;
    int tile_w, tile_i; /* columns per lowering tile for dWm and for dimg */
} ch_job;

/* The channels core's cuts, like the pixels core's, never depend on the
 * thread count (nor on the batch): dWm's rows in at least CH_WBLOCKS
 * blocks, each image's channels in at least CH_CHUNKS chunks - more on a
 * machine of more cores (nn_par_t.width, a constant of the machine); the
 * threads take contiguous runs of blocks and of (image, chunk) items.  So
 * the sgemm calls, and the order in which a block sums over images and
 * column tiles, are the same for any -j and so are the bits
 * (tests/unit/test_thread_bits.c).  Until 2026-12-06 the cuts were one a
 * thread: a training run's weights depended on -j. */
#define CH_WBLOCKS 4
#define CH_CHUNKS 2
static int ch_wblocks(const geom_t *g, int width) { return imax(1, imin(g->K, imax(CH_WBLOCKS, width))); }
static int ch_chunks(const geom_t *g, int width) { return imax(1, imin(g->C, imax(CH_CHUNKS, width))); }

/* the largest row blocks a part lowers, with the fewest blocks and chunks
 * (any width cuts them smaller): for dW (rows of K) and for dimg (a channel
 * chunk's rows); the lowering tiles and the scratch are sized from these */
static void ch_rows(const geom_t *g, size_t *rows_w, size_t *rows_i) {
    int nch = ch_chunks(g, 0);
    *rows_w = ((size_t)g->K + CH_WBLOCKS - 1) / CH_WBLOCKS;
    *rows_i = (((size_t)g->C + (size_t)nch - 1) / (size_t)nch) * (size_t)g->KH * g->KW;
}

static size_t ch_slot(const geom_t *g) {
    if (g->direct) return 0;
    size_t rw, ri;
    ch_rows(g, &rw, &ri);
    size_t a = rw * (size_t)imin(g->P, col_tile(rw)), b = ri * (size_t)imin(g->P, col_tile(ri));
    return a > b ? a : b;
}

static void ch_task(void *vj, int begin, int end, int tid) {
    const ch_job *j = vj;
    const geom_t *g = j->g;
    const int P = g->P, K = g->K, M = j->M, KK = g->KH * g->KW;
    const size_t isz = (size_t)g->C * g->H * g->W;
    float *S = j->slot ? j->ws + (size_t)tid * j->slot : NULL; /* NULL: direct geometry, no lowering */
    for (int part = begin; part < end; part++) {
        int b0, b1;
        split(j->nbw, j->T, part, &b0, &b1);
        for (int blk = b0; j->dWm && blk < b1; blk++) { /* rows [r0,r1) of the column matrix: columns r0..r1 of dWm */
            int r0, r1;
            split(K, j->nbw, blk, &r0, &r1);
            for (int n = 0; r0 < r1 && n < j->N; n++) {
                const float *Gn = j->G + (size_t)n * M * P, *img = j->img + n * isz;
                if (g->direct) {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, r1 - r0, P, 1.0f, Gn, P,
                                img + (size_t)r0 * P, P, 1.0f, j->dWm + r0, K);
                    continue;
                }
                for (int q0 = 0; q0 < P; q0 += j->tile_w) { /* sum over column tiles */
                    int nq = imin(j->tile_w, P - q0);
                    im2col_rows(img, S, nq, g, r0, r1, q0, q0 + nq);
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, r1 - r0, nq, 1.0f, Gn + q0, P, S,
                                nq, 1.0f, j->dWm + r0, K);
                }
            }
        }
        if (j->dimg) { /* (image, channel chunk) items */
            int i0, i1;
            split(j->N * j->nch, j->T, part, &i0, &i1);
            for (int it = i0; it < i1; it++) {
                int n = it / j->nch, ch = it % j->nch, c0, c1;
                split(g->C, j->nch, ch, &c0, &c1);
                if (c0 >= c1) continue;
                float *di = j->dimg + n * isz;
                if (j->init)
                    for (int c = c0; c < c1; c++) {
                        float v = j->bias ? j->bias[c] : 0.0f;
                        float *x = di + (size_t)c * g->H * g->W;
                        for (size_t q = 0; q < (size_t)g->H * g->W; q++) x[q] = v;
                    }
                const float *Gn = j->G + (size_t)n * M * P;
                int k0 = c0 * KK, k1 = c1 * KK;
                if (g->direct) {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k1 - k0, P, M, 1.0f, j->Wm + k0, K,
                                Gn, P, 1.0f, di + (size_t)k0 * P, P);
                    continue;
                }
                for (int q0 = 0; q0 < P; q0 += j->tile_i) {
                    int nq = imin(j->tile_i, P - q0);
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k1 - k0, nq, M, 1.0f, j->Wm + k0, K,
                                Gn + q0, P, 0.0f, S, nq);
                    col2im_rows(S, di, nq, g, k0, k1, q0, q0 + nq);
                }
            }
        }
    }
}

static void ch_run(const nn_par_t *par, const geom_t *g, int N, int M, const float *img, const float *G,
                   const float *Wm, float *dWm, float *dimg, int init, const float *bias, float *ws) {
    int T = nn_nthreads(par);
    ch_job j = {.g = g,
                .N = N,
                .M = M,
                .T = T,
                .nbw = ch_wblocks(g, nn_width(par)),
                .nch = ch_chunks(g, nn_width(par)),
                .img = img,
                .G = G,
                .Wm = Wm,
                .dWm = dWm,
                .dimg = dimg,
                .init = init,
                .bias = bias,
                .ws = ws,
                .slot = ch_slot(g)};
    size_t rw, ri;
    ch_rows(g, &rw, &ri);
    j.tile_w = col_tile(rw);
    j.tile_i = col_tile(ri);
    nn_parallel_for(par, T, ch_task, &j);
}

/* ------------------------------------------------------- bias gradient */

typedef struct {
    float *db;
    const float *x; /* (N,Cb,P) */
    int N, Cb, P, T;
} bias_job;

static void bias_task(void *vj, int begin, int end, int tid) {
    const bias_job *j = vj;
    (void)tid;
    for (int part = begin; part < end; part++) {
        int c0, c1;
        split(j->Cb, j->T, part, &c0, &c1);
        for (int c = c0; c < c1; c++) {
            double s = 0;
            for (int n = 0; n < j->N; n++) {
                const float *x = j->x + ((size_t)n * j->Cb + c) * j->P;
                float acc[8] = {0};
                int p = 0;
                for (; p + 8 <= j->P; p += 8)
                    for (int l = 0; l < 8; l++) acc[l] += x[p + l];
                for (; p < j->P; p++) acc[0] += x[p];
                for (int l = 0; l < 8; l++) s += acc[l];
            }
            j->db[c] += (float)s;
        }
    }
}

static void bias_grad(const nn_par_t *par, float *db, const float *x, int N, int Cb, int P) {
    int T = nn_nthreads(par);
    bias_job j = {db, x, N, Cb, P, T};
    nn_parallel_for(par, T, bias_task, &j);
}

/* ------------------------------------------------------------- public */

size_t conv2d_ws_size(const conv2d_dims_t *d, int nthreads) {
    geom_t g;
    int T = nthreads > 1 ? nthreads : 1;
    if (conv_geom(&g, d)) return 0;
    size_t a = pix_slot(&g), b = ch_slot(&g);
    return (a > b ? a : b) * (size_t)T;
}

size_t conv_transpose2d_ws_size(const conv2d_dims_t *d, int nthreads) {
    geom_t g;
    int T = nthreads > 1 ? nthreads : 1;
    if (convt_geom(&g, d)) return 0;
    size_t a = pix_slot(&g), b = ch_slot(&g);
    return (a > b ? a : b) * (size_t)T;
}

int conv2d_forward(const nn_par_t *par, float *out, const float *inp, const float *w, const float *b,
                   const conv2d_dims_t *d, float *ws, size_t nws) {
    geom_t g;
    if (conv_geom(&g, d) || nws < conv2d_ws_size(d, nn_nthreads(par)) || (nws && !ws) || !out || !inp || !w)
        return NN_EINVAL;
    pix_run(par, &g, d->N, d->OC, inp, w, b, out, 0, ws);
    return NN_OK;
}

int conv2d_backward(const nn_par_t *par, float *dinp, float *dw, float *db, const float *dout,
                    const float *inp, const float *w, const conv2d_dims_t *d, float *ws, size_t nws) {
    geom_t g;
    if (conv_geom(&g, d) || nws < conv2d_ws_size(d, nn_nthreads(par)) || (nws && !ws) || !dout ||
        (dw && !inp) || (dinp && !w))
        return NN_EINVAL;
    if (dw || dinp) ch_run(par, &g, d->N, d->OC, inp, dout, w, dw, dinp, 0, NULL, ws);
    if (db) bias_grad(par, db, dout, d->N, d->OC, g.P);
    return NN_OK;
}

int conv_transpose2d_forward(const nn_par_t *par, float *out, const float *inp, const float *w,
                             const float *b, const conv2d_dims_t *d, float *ws, size_t nws) {
    geom_t g;
    if (convt_geom(&g, d) || nws < conv_transpose2d_ws_size(d, nn_nthreads(par)) || (nws && !ws) || !out ||
        !inp || !w)
        return NN_EINVAL;
    ch_run(par, &g, d->N, d->C, NULL, inp, w, NULL, out, 1, b, ws);
    return NN_OK;
}

int conv_transpose2d_backward(const nn_par_t *par, float *dinp, float *dw, float *db, const float *dout,
                              const float *inp, const float *w, const conv2d_dims_t *d, float *ws,
                              size_t nws) {
    geom_t g;
    if (convt_geom(&g, d) || nws < conv_transpose2d_ws_size(d, nn_nthreads(par)) || (nws && !ws) || !dout ||
        (dw && !inp) || (dinp && !w))
        return NN_EINVAL;
    if (dw) ch_run(par, &g, d->N, d->C, dout, inp, NULL, dw, NULL, 0, NULL, ws);
    if (dinp) pix_run(par, &g, d->N, d->C, dout, w, NULL, dinp, 1, ws);
    if (db) bias_grad(par, db, dout, d->N, d->OC, g.H * g.W);
    return NN_OK;
}

/* ---------------------------------------------------------- references */

int conv2d_forward_ref(const nn_par_t *par, float *out, const float *inp, const float *w, const float *b,
                       const conv2d_dims_t *d, float *ws, size_t nws) {
    int OH, OW;
    if (conv2d_out_size(d, &OH, &OW) || !out || !inp || !w) return NN_EINVAL;
    int sh = one_if0(d->stride_h), sw = one_if0(d->stride_w), dh = one_if0(d->dil_h), dw = one_if0(d->dil_w);
    for (int n = 0; n < d->N; n++)
        for (int o = 0; o < d->OC; o++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double s = b ? b[o] : 0.0;
                    for (int c = 0; c < d->C; c++)
                        for (int kh = 0; kh < d->KH; kh++)
                            for (int kw = 0; kw < d->KW; kw++) {
                                int ih = oh * sh - d->pad_h + kh * dh, iw = ow * sw - d->pad_w + kw * dw;
                                if (ih < 0 || ih >= d->H || iw < 0 || iw >= d->W) continue;
                                s += (double)inp[(((size_t)n * d->C + c) * d->H + ih) * d->W + iw] *
                                     w[(((size_t)o * d->C + c) * d->KH + kh) * d->KW + kw];
                            }
                    out[(((size_t)n * d->OC + o) * OH + oh) * OW + ow] = (float)s;
                }
    return NN_OK;
}

int conv2d_backward_ref(const nn_par_t *par, float *dinp, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, const conv2d_dims_t *d, float *ws, size_t nws) {
    int OH, OW;
    if (conv2d_out_size(d, &OH, &OW) || !dout || (dw && !inp) || (dinp && !w)) return NN_EINVAL;
    int sh = one_if0(d->stride_h), sw = one_if0(d->stride_w), dh = one_if0(d->dil_h), dlw = one_if0(d->dil_w);
    for (int n = 0; n < d->N; n++)
        for (int o = 0; o < d->OC; o++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    float g = dout[(((size_t)n * d->OC + o) * OH + oh) * OW + ow];
                    if (db) db[o] += g;
                    for (int c = 0; c < d->C; c++)
                        for (int kh = 0; kh < d->KH; kh++)
                            for (int kw = 0; kw < d->KW; kw++) {
                                int ih = oh * sh - d->pad_h + kh * dh, iw = ow * sw - d->pad_w + kw * dlw;
                                if (ih < 0 || ih >= d->H || iw < 0 || iw >= d->W) continue;
                                size_t xi = (((size_t)n * d->C + c) * d->H + ih) * d->W + iw;
                                size_t wi = (((size_t)o * d->C + c) * d->KH + kh) * d->KW + kw;
                                if (dinp) dinp[xi] += g * w[wi];
                                if (dw) dw[wi] += g * inp[xi];
                            }
                }
    return NN_OK;
}

int conv_transpose2d_forward_ref(const nn_par_t *par, float *out, const float *inp, const float *w,
                                 const float *b, const conv2d_dims_t *d, float *ws, size_t nws) {
    int OH, OW;
    if (conv_transpose2d_out_size(d, &OH, &OW) || !out || !inp || !w) return NN_EINVAL;
    int sh = one_if0(d->stride_h), sw = one_if0(d->stride_w), dh = one_if0(d->dil_h), dw = one_if0(d->dil_w);
    for (int n = 0; n < d->N; n++)
        for (int o = 0; o < d->OC; o++)
            for (size_t q = 0; q < (size_t)OH * OW; q++)
                out[((size_t)n * d->OC + o) * OH * OW + q] = b ? b[o] : 0.0f;
    /* every input pixel scatters its kernel window into the output */
    for (int n = 0; n < d->N; n++)
        for (int c = 0; c < d->C; c++)
            for (int h = 0; h < d->H; h++)
                for (int x = 0; x < d->W; x++) {
                    float v = inp[(((size_t)n * d->C + c) * d->H + h) * d->W + x];
                    for (int o = 0; o < d->OC; o++)
                        for (int kh = 0; kh < d->KH; kh++)
                            for (int kw = 0; kw < d->KW; kw++) {
                                int oh = h * sh - d->pad_h + kh * dh, ow = x * sw - d->pad_w + kw * dw;
                                if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
                                out[(((size_t)n * d->OC + o) * OH + oh) * OW + ow] +=
                                    v * w[(((size_t)c * d->OC + o) * d->KH + kh) * d->KW + kw];
                            }
                }
    return NN_OK;
}

int conv_transpose2d_backward_ref(const nn_par_t *par, float *dinp, float *dw, float *db, const float *dout,
                                  const float *inp, const float *w, const conv2d_dims_t *d, float *ws,
                                  size_t nws) {
    int OH, OW;
    if (conv_transpose2d_out_size(d, &OH, &OW) || !dout || (dw && !inp) || (dinp && !w)) return NN_EINVAL;
    int sh = one_if0(d->stride_h), sw = one_if0(d->stride_w), dh = one_if0(d->dil_h), dlw = one_if0(d->dil_w);
    if (db)
        for (int n = 0; n < d->N; n++)
            for (int o = 0; o < d->OC; o++)
                for (size_t q = 0; q < (size_t)OH * OW; q++)
                    db[o] += dout[((size_t)n * d->OC + o) * OH * OW + q];
    for (int n = 0; n < d->N; n++)
        for (int c = 0; c < d->C; c++)
            for (int h = 0; h < d->H; h++)
                for (int x = 0; x < d->W; x++) {
                    size_t xi = (((size_t)n * d->C + c) * d->H + h) * d->W + x;
                    double s = 0;
                    for (int o = 0; o < d->OC; o++)
                        for (int kh = 0; kh < d->KH; kh++)
                            for (int kw = 0; kw < d->KW; kw++) {
                                int oh = h * sh - d->pad_h + kh * dh, ow = x * sw - d->pad_w + kw * dlw;
                                if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
                                float g = dout[(((size_t)n * d->OC + o) * OH + oh) * OW + ow];
                                size_t wi = (((size_t)c * d->OC + o) * d->KH + kh) * d->KW + kw;
                                if (dinp) s += (double)g * w[wi];
                                if (dw) dw[wi] += g * inp[xi];
                            }
                    if (dinp) dinp[xi] += (float)s;
                }
    return NN_OK;
}
