/* linear.c - see linear.h.  Shapes: N rows, IC inputs, OC outputs.
 *
 * Every fast task here takes column blocks as its range (col_blocks: a cut
 * that depends on the product's shape alone, so results do not depend on
 * the thread count) and works on the columns nn_col_range gives each block:
 * output columns [o0,o1) for the forward, the weight gradient and the bias
 * gradient; input columns [k0,k1) for the input gradient; the forward and
 * the input gradient go through the rows LIN_ROW_TILE at a time. */
#include "linear.h"
#include <cblas.h>
#include "act_inl.h"
#include "gemm_bf16.h"
#include "gemm_f32.h"

/* Rows per product when N is large: the bias/residual written before the
 * product, the product and the activation after it then meet a block of
 * the output that is still in cache (about 1.5 MB per thread at 384
 * columns) instead of making three trips to memory over all N rows; the
 * weights are re-packed by sgemm once per block, which at 1024 rows costs
 * about 1%.  Measured on the training-size CLIP (N = 8320, 256 inputs):
 * 7-12% faster per product than one product over all rows; products with
 * N <= 1024 (ViT-B/32 at batch 4: 200 rows) are unchanged. */
#define LIN_ROW_TILE 1024

/* The end of the row tile starting at r0: LIN_ROW_TILE rows, the last tile
 * taking the remainder (so no tile is shorter than min(N, LIN_ROW_TILE)). */
static inline int row_end(int r0, int N) { return N - r0 < 2 * LIN_ROW_TILE ? N : r0 + LIN_ROW_TILE; }

/* Column blocks.  OpenBLAS's sgemm sums in an order that depends on the
 * shape of the call: its small-matrix and direct kernels (on AVX-512 CPUs,
 * up to about 1e6 multiply-adds, and NoTrans x NoTrans with beta 0 up to
 * 28*512*512) sum otherwise than its large-product code, and under
 * OPENBLAS_CORETYPE=Haswell (this environment's pin) even the large code's
 * sums change with a call's rows and columns.  A product cut into one block
 * a thread therefore rounded differently on 1, 2 and 3 threads (seen: the
 * text and image towers of ViT-B/32; every drawing optimised against them
 * differed in its last bits between -j 1 and -j 2).  So the cut depends on
 * the product and the machine alone: about LIN_BLOCK columns a block, at
 * least one a core of the machine (nn_par_t.width), an even number of blocks
 * (two threads share them evenly), and one block - the product whole - when
 * a call would be small (LIN_SPLIT_MIN multiply-adds; the small
 * kernels' range); the threads take contiguous runs of blocks, and on one
 * thread the blocks run one after another.  Every output element then comes
 * from a call of the same shape on any thread count: the same bits
 * (tests/unit/test_thread_bits.c).  On a 2-core machine ViT-B/32's
 * 768-column products are cut in two, as one block a thread used to cut them
 * (bench/ab.sh, float32 step: docs/architecture.md "Threads"). */
#define LIN_BLOCK 384
#define LIN_SPLIT_MIN (1.0 * (1 << 21))  /* multiply-adds; NT and TN products, NN with beta 1 */
#define LIN_SPLIT_MIN_NN (1.0 * (1 << 23)) /* NN with beta 0 (the direct kernel's range) */

/* the narrowest non-empty block of n over nb (nn_col_range) */
static int narrowest(int n, int nb) {
    int w = n;
    for (int t = 0; t < nb; t++) {
        int b, e;
        nn_col_range(n, nb, t, &b, &e);
        if (e > b && e - b < w) w = e - b;
    }
    return w;
}

/* the blocks n columns are cut into, for calls of rows x block x k: about
 * LIN_BLOCK columns each, and at least as many as the machine's cores
 * (width, nn_width: constant for a machine) while a block keeps 64 columns,
 * an even count; one block when a call would be small.  A function of the
 * product's shape and the machine, never of the thread count. */
static int col_blocks(int n, double rows, double k, double min, int width) {
    int nb = (n + LIN_BLOCK / 2) / LIN_BLOCK, most = n / 64;
    if (nb < width) nb = width < most ? width : most;
    nb = nb < 2 ? 2 : nb + (nb & 1);
    return rows * narrowest(n, nb) * k > min ? nb : 1;
}
static int shortest_tile(int N) { return N < 2 * LIN_ROW_TILE ? N : LIN_ROW_TILE; }

typedef struct {
    float *out, *act_out, *dinp, *dw, *db;
    const float *inp, *res, *w, *b, *dout, *pre;
    nn_act_t act;
    int N, IC, OC, nb, accumulate; /* nb: the column blocks (col_blocks) of this job */
} lin_job_t;

NN_BODY lin_fwd_cols_body(void *vj, int t0, int t1, int unused) {
    lin_job_t *j = vj;
    for (int blk = t0; blk < t1; blk++) {
        int o0, o1;
        nn_col_range(j->OC, j->nb, blk, &o0, &o1);
        if (o0 >= o1) continue;
        for (int r0 = 0, r1; r0 < j->N; r0 = r1) {
            r1 = row_end(r0, j->N);
            float beta = 0.0f;
            if (j->b || j->res) {
                const float *restrict bias = j->b;
                for (int i = r0; i < r1; i++) {
                    float *o = j->out + (size_t)i * j->OC; /* may equal r */
                    const float *r = j->res ? j->res + (size_t)i * j->OC : NULL;
                    if (bias && r)
                        for (int c = o0; c < o1; c++) o[c] = bias[c] + r[c];
                    else if (bias)
                        for (int c = o0; c < o1; c++) o[c] = bias[c];
                    else if (r != o)
                        for (int c = o0; c < o1; c++) o[c] = r[c];
                }
                beta = 1.0f;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, o1 - o0, j->IC, 1.0f,
                        j->inp + (size_t)r0 * j->IC, j->IC, j->w + (size_t)o0 * j->IC, j->IC, beta,
                        j->out + (size_t)r0 * j->OC + o0, j->OC);
            if (j->act_out) {
                float slope = j->act.slope;
                for (int i = r0; i < r1; i++) {
                    const float *restrict x = j->out + (size_t)i * j->OC;
                    float *restrict g = j->act_out + (size_t)i * j->OC;
                    NN_ACT_CASES(j->act.kind, for (int c = o0; c < o1; c++) g[c] = nn_act_eval(K_, slope, x[c]))
                }
            }
        }
    }
}
NN_KERNEL(lin_fwd_cols)

void linear_forward(const nn_par_t *par, float *out, float *act_out, const float *inp, const float *res,
                    const float *w, const float *b, nn_act_t act, int N, int IC, int OC) {
    if (N <= 0 || OC <= 0) return;
    lin_job_t j = {.out = out, .act_out = act_out, .inp = inp, .res = res, .w = w, .b = b, .act = act, .N = N,
                   .IC = IC, .OC = OC, .nb = col_blocks(OC, shortest_tile(N), IC, LIN_SPLIT_MIN, nn_width(par))};
    nn_parallel_for(par, j.nb, NN_PICK(lin_fwd_cols), &j);
}

/* the weight and bias gradients of output columns [o0,o1): job blocks over OC */
NN_BODY lin_bwd_w_body(void *vj, int t0, int t1, int unused) {
    lin_job_t *j = vj;
    for (int blk = t0; blk < t1; blk++) {
        int o0, o1;
        nn_col_range(j->OC, j->nb, blk, &o0, &o1);
        if (o0 >= o1) continue;
        if (j->dw)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, o1 - o0, j->IC, j->N, 1.0f, j->dout + o0, j->OC,
                        j->inp, j->IC, 1.0f, j->dw + (size_t)o0 * j->IC, j->IC);
        if (j->db)
            for (int i = 0; i < j->N; i++) {
                const float *d = j->dout + (size_t)i * j->OC;
                for (int o = o0; o < o1; o++) j->db[o] += d[o];
            }
    }
}
NN_KERNEL(lin_bwd_w)

/* the input gradient of input columns [k0,k1): job blocks over IC */
NN_BODY lin_bwd_in_body(void *vj, int t0, int t1, int unused) {
    lin_job_t *j = vj;
    for (int blk = t0; blk < t1; blk++) {
        int k0, k1;
        nn_col_range(j->IC, j->nb, blk, &k0, &k1);
        if (k0 >= k1) continue;
        for (int r0 = 0, r1; r0 < j->N; r0 = r1) {
            r1 = row_end(r0, j->N);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, k1 - k0, j->OC, 1.0f,
                        j->dout + (size_t)r0 * j->OC, j->OC, j->w + k0, j->IC, j->accumulate ? 1.0f : 0.0f,
                        j->dinp + (size_t)r0 * j->IC + k0, j->IC);
            if (j->pre) {
                float slope = j->act.slope;
                for (int i = r0; i < r1; i++) {
                    const float *restrict x = j->pre + (size_t)i * j->IC;
                    float *restrict d = j->dinp + (size_t)i * j->IC;
                    NN_ACT_CASES(j->act.kind, for (int c = k0; c < k1; c++) d[c] *= nn_act_deriv(K_, slope, x[c]))
                }
            }
        }
    }
}
NN_KERNEL(lin_bwd_in)

int linear_backward(const nn_par_t *par, float *dinp, float *dw, float *db, const float *dout, const float *inp,
                    const float *inp_pre, const float *w, nn_act_t act, int N, int IC, int OC, int accumulate) {
    if (N < 0 || IC < 0 || OC < 0 || (inp_pre && dinp && accumulate)) return NN_EINVAL;
    if (N == 0 || IC == 0 || OC == 0) return NN_OK; /* sgemm rejects zero leading dimensions */
    lin_job_t j = {.dinp = dinp, .dw = dw, .db = db, .dout = dout, .inp = inp, .pre = inp_pre, .w = w, .act = act,
                   .N = N, .IC = IC, .OC = OC, .accumulate = accumulate};
    if (dw || db) {
        j.nb = dw ? col_blocks(OC, IC, N, LIN_SPLIT_MIN, nn_width(par)) : col_blocks(OC, N, 1, 0, nn_width(par));
        nn_parallel_for(par, j.nb, NN_PICK(lin_bwd_w), &j);
    }
    if (dinp) {
        j.nb = col_blocks(IC, shortest_tile(N), OC, accumulate ? LIN_SPLIT_MIN : LIN_SPLIT_MIN_NN, nn_width(par));
        nn_parallel_for(par, j.nb, NN_PICK(lin_bwd_in), &j);
    }
    return NN_OK;
}

/* ------------------------------------------------------------ references */

void linear_forward_ref(const nn_par_t *par, float *out, float *act_out, const float *inp, const float *res,
                        const float *w, const float *b, nn_act_t act, int N, int IC, int OC) {
    (void)par;
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) {
            float s = b ? b[o] : 0.0f;
            for (int k = 0; k < IC; k++) s += inp[(size_t)i * IC + k] * w[(size_t)o * IC + k];
            if (res) s += res[(size_t)i * OC + o];
            out[(size_t)i * OC + o] = s;
        }
    if (act_out) act_forward_ref(NULL, act_out, out, act, (size_t)N * OC);
}

int linear_backward_ref(const nn_par_t *par, float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *inp_pre, const float *w, nn_act_t act, int N, int IC, int OC, int accumulate) {
    (void)par;
    if (N < 0 || IC < 0 || OC < 0 || (inp_pre && dinp && accumulate)) return NN_EINVAL;
    for (int i = 0; i < N; i++) {
        const float *dy = dout + (size_t)i * OC;
        for (int o = 0; o < OC; o++) {
            if (db) db[o] += dy[o];
            if (dw)
                for (int k = 0; k < IC; k++) dw[(size_t)o * IC + k] += dy[o] * inp[(size_t)i * IC + k];
        }
        if (dinp)
            for (int k = 0; k < IC; k++) {
                float s = 0;
                for (int o = 0; o < OC; o++) s += dy[o] * w[(size_t)o * IC + k];
                float *d = &dinp[(size_t)i * IC + k];
                if (inp_pre) {
                    *d = 0;
                    act_backward_ref(NULL, d, &s, &inp_pre[(size_t)i * IC + k], act, 1);
                } else {
                    *d = accumulate ? *d + s : s;
                }
            }
    }
    return NN_OK;
}

/* ------------------------------------------------------- bfloat16 weights */

typedef struct {
    float *out, *act_out, *dinp;
    const float *inp, *res, *b, *dout, *pre, *dmul;
    const uint16_t *wp, *a16;
    uint16_t *scr, *out16;
    nn_act_t act;
    int N, K, NC, nt, accumulate, bwd, dact;
    int next; /* the next unclaimed panel (lin16_cols_body) */
} lin16_job_t;

/* the rows of the left operand (inp or dout, K columns) into scr */
NN_BODY lin16_rows_body(void *vj, int t0, int t1, int unused) {
    lin16_job_t *j = vj;
    const float *a = j->bwd ? j->dout : j->inp;
    for (int tid = t0; tid < t1; tid++) {
        int r0 = (int)((long)j->N * tid / j->nt), r1 = (int)((long)j->N * (tid + 1) / j->nt);
        nn_bf16_rows(j->scr, a, j->K, j->K, r0, r1);
    }
}
NN_KERNEL(lin16_rows)

/* The threads claim the 64-column panels two at a time from a shared
 * counter until none is left (a thread slowed by anything - another process,
 * a cold cache - takes fewer), every row of a panel, the epilogue (bias,
 * residual, activation or its derivative, the bfloat16 copy) done per 6-row
 * tile in the kernel while the tile is in L1.  Which thread computes a
 * panel does not change its sums. */
#define LIN16_CLAIM 2
NN_BODY lin16_cols_body(void *vj, int t0, int t1, int unused) {
    lin16_job_t *j = vj;
    int P = (j->NC + NN_BF16_NR - 1) / NN_BF16_NR;
    nn_bf16_epi_t e = {.act = j->act, .out16 = j->out16};
    float *C = j->bwd ? j->dinp : j->out;
    if (j->bwd) e.overwrite = !j->accumulate, e.pre = j->pre, e.dmul = j->dmul;
    else e.overwrite = 1, e.bias = j->b, e.res = j->res, e.act_out = j->act_out, e.dact_out = j->dact;
    (void)t0, (void)t1;
    for (;;) {
        int p0 = __atomic_fetch_add(&j->next, LIN16_CLAIM, __ATOMIC_RELAXED);
        if (p0 >= P) break;
        int p1 = p0 + LIN16_CLAIM < P ? p0 + LIN16_CLAIM : P;
        nn_bf16_gemm_panels(C, j->NC, j->a16, j->N, j->K, j->wp, j->NC, p0, p1, &e);
    }
}
NN_KERNEL(lin16_cols)

static void lin16_run(const nn_par_t *par, lin16_job_t *j, const uint16_t *in16) {
    j->nt = nn_nthreads(par);
    j->a16 = in16;
    if (!in16) {
        nn_parallel_for(par, j->nt, NN_PICK(lin16_rows), j);
        j->a16 = j->scr;
    }
    nn_parallel_for(par, j->nt, NN_PICK(lin16_cols), j);
}

void linear_forward_bf16(const nn_par_t *par, float *out, float *act_out, const float *inp, const float *res,
                         const linear_bf16_t *w, const float *b, nn_act_t act, int N, int IC, int OC,
                         uint16_t *scratch, const uint16_t *in16, uint16_t *out16) {
    if (N <= 0 || OC <= 0 || IC <= 0) return;
    lin16_job_t j = {.out = out, .act_out = act_out, .inp = inp, .res = res, .b = b, .wp = w->fwd, .scr = scratch,
                     .out16 = out16, .act = act, .N = N, .K = IC, .NC = OC};
    lin16_run(par, &j, in16);
}

/* a checked backward job (K = OC, NC = IC): nothing to do, an empty
 * product (zeros), or the product */
static int lin16_bwd(const nn_par_t *par, lin16_job_t *j, const uint16_t *in16) {
    if (j->N == 0 || j->NC == 0 || (!j->dinp && !j->out16)) return NN_OK;
    if (j->K == 0) {
        if (j->dinp && !j->accumulate) memset(j->dinp, 0, sizeof(float) * (size_t)j->N * j->NC);
        if (j->out16) memset(j->out16, 0, sizeof(uint16_t) * nn_bf16_rows_size(j->N, j->NC));
        return NN_OK;
    }
    lin16_run(par, j, in16);
    return NN_OK;
}

int linear_backward_bf16(const nn_par_t *par, float *dinp, const float *dout, const float *inp_pre,
                         const linear_bf16_t *w, nn_act_t act, int N, int IC, int OC, int accumulate,
                         uint16_t *scratch, const uint16_t *in16, uint16_t *out16) {
    if (N < 0 || IC < 0 || OC < 0 || (inp_pre && accumulate) || (!dinp && accumulate)) return NN_EINVAL;
    lin16_job_t j = {.dinp = dinp, .dout = dout, .pre = inp_pre, .wp = w->bwd, .scr = scratch, .out16 = out16,
                     .act = act, .N = N, .K = OC, .NC = IC, .accumulate = accumulate, .bwd = 1};
    return lin16_bwd(par, &j, in16);
}

int linear_forward_bf16_dact(const nn_par_t *par, float *dact, const float *inp, const linear_bf16_t *w,
                             const float *b, nn_act_t act, int N, int IC, int OC, uint16_t *scratch,
                             const uint16_t *in16, uint16_t *out16) {
    if (N < 0 || IC < 0 || OC < 0 || !dact || !out16 || act.kind == NN_ACT_NONE) return NN_EINVAL;
    if (N == 0 || OC == 0 || IC == 0) return NN_OK;
    lin16_job_t j = {.out = dact, .inp = inp, .b = b, .wp = w->fwd, .scr = scratch, .out16 = out16, .act = act,
                     .N = N, .K = IC, .NC = OC, .dact = 1};
    lin16_run(par, &j, in16);
    return NN_OK;
}

int linear_backward_bf16_dact(const nn_par_t *par, float *dinp, const float *dout, const float *dact,
                              const linear_bf16_t *w, int N, int IC, int OC, uint16_t *scratch, const uint16_t *in16,
                              uint16_t *out16) {
    if (N < 0 || IC < 0 || OC < 0 || !dact) return NN_EINVAL;
    lin16_job_t j = {.dinp = dinp, .dout = dout, .dmul = dact, .wp = w->bwd, .scr = scratch, .out16 = out16,
                     .N = N, .K = OC, .NC = IC, .bwd = 1};
    return lin16_bwd(par, &j, in16);
}

size_t linear_bf16_pack_size(int IC, int OC) { return nn_bf16_packed_size(IC, OC) + nn_bf16_packed_size(OC, IC); }

void linear_bf16_pack(linear_bf16_t *p, uint16_t *mem, const float *w, int IC, int OC) {
    p->fwd = mem;
    p->bwd = mem + nn_bf16_packed_size(IC, OC);
    nn_bf16_pack(mem, w, IC, OC, 1);
    nn_bf16_pack(mem + nn_bf16_packed_size(IC, OC), w, OC, IC, 0);
}

/* ---------------------------------------------- float32 packed weights */

typedef struct {
    float *C;
    const float *A;
    const float *wp;
    nn_f32_epi_t e;
    int N, K, NC;
    int next; /* the next unclaimed panel */
} linf_job_t;

/* The threads claim 16-column panels LINF_CLAIM at a time from a shared
 * counter (as the bf16 path does); which thread computes a panel does not
 * change its sums. */
#define LINF_CLAIM 4
static void linf_cols_task(void *vj, int t0, int t1, int tid) {
    linf_job_t *j = vj;
    int P = (j->NC + NN_F32_NR - 1) / NN_F32_NR;
    (void)t0, (void)t1, (void)tid;
    for (;;) {
        int p0 = __atomic_fetch_add(&j->next, LINF_CLAIM, __ATOMIC_RELAXED);
        if (p0 >= P) break;
        nn_f32_gemm_panels(j->C, j->NC, j->A, j->K, j->N, j->K, j->wp, j->NC, p0,
                           p0 + LINF_CLAIM < P ? p0 + LINF_CLAIM : P, &j->e);
    }
}

static void linf_run(const nn_par_t *par, linf_job_t *j) {
    int nt = nn_nthreads(par);
    nn_parallel_for(par, nt, linf_cols_task, j);
}

int linear_forward_f32p(const nn_par_t *par, float *out, float *act_out, const float *inp, const float *res,
                        const linear_f32p_t *w, const float *b, nn_act_t act, int N, int IC, int OC, int dact) {
    if (N < 0 || IC < 0 || OC < 0 || (dact && (!act_out || act.kind == NN_ACT_NONE || res))) return NN_EINVAL;
    if (N == 0 || OC == 0) return NN_OK; /* IC == 0: the kernel's epilogue on empty sums */
    linf_job_t j = {.C = out, .A = inp, .wp = w->fwd, .N = N, .K = IC, .NC = OC,
                    .e = {.overwrite = 1, .bias = b, .res = res, .act = act, .act_out = act_out, .dact = dact}};
    linf_run(par, &j);
    return NN_OK;
}

int linear_backward_f32p(const nn_par_t *par, float *dinp, const float *dout, const float *inp_pre,
                         const float *dmul, const linear_f32p_t *w, nn_act_t act, int N, int IC, int OC,
                         int accumulate) {
    if (N < 0 || IC < 0 || OC < 0 || ((inp_pre || dmul) && accumulate) || (inp_pre && dmul)) return NN_EINVAL;
    if (!dinp || N == 0 || IC == 0) return NN_OK; /* OC == 0: empty sums, zeros or nothing added */
    linf_job_t j = {.C = dinp, .A = dout, .wp = w->bwd, .N = N, .K = OC, .NC = IC,
                    .e = {.overwrite = !accumulate, .pre = inp_pre, .dmul = dmul, .act = act}};
    linf_run(par, &j);
    return NN_OK;
}

size_t linear_f32p_pack_size(int IC, int OC) {
    /* each packing rounded up to 16 floats, so both start on a 64-byte line
     * of a 64-byte aligned block */
    return (nn_f32_packed_size(IC, OC) + 15) / 16 * 16 + (nn_f32_packed_size(OC, IC) + 15) / 16 * 16;
}

void linear_f32p_pack(linear_f32p_t *p, float *mem, const float *w, int IC, int OC) {
    float *bwd = mem + (nn_f32_packed_size(IC, OC) + 15) / 16 * 16;
    nn_f32_pack(mem, w, IC, OC, 1);
    nn_f32_pack(bwd, w, OC, IC, 0);
    p->fwd = mem;
    p->bwd = bwd;
}
