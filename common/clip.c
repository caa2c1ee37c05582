/* clip.c - see clip.h.  Shapes in comments: B batch, T tokens, C width,
 * NH heads, hd = C/NH, H4 = mlp_ratio*C, E embed dim. */
#include "clip.h"
#include "nn/attention.h"
#include "nn/gemm_bf16.h"
#include "nn/gemm_f32.h"
#include "nn/layernorm.h"
#include "nn/linear.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const float clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
const float clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};

/* The layers are the pure-maths kernels of common/nn/ (linear with its
 * fused bias/residual/QuickGELU epilogues, layernorm, attention), run on the
 * caller's nn_par_t (normally the tool's pool); what stays here is the tower's wiring, its
 * activation buffers and the top-block shortcut. */

#define CLIP_LN_EPS 1e-5f /* OpenAI's and Hugging Face's CLIP layer norms */
static const nn_act_t quickgelu = {NN_ACT_QUICKGELU, 0}, no_act = {NN_ACT_NONE, 0};

/* ------------------------------------------------------- transformer tower */

struct clip_tower {
    int L, C, NH, H4, T, Bcap, causal;
    /* activations for Bcap (per layer slices) */
    float *res;                  /* (L+1,B,T,C) residual stream entering block l; res[L] = tower output */
    float *ln1, *ln1_m, *ln1_r;  /* (L,B,T,C), (L,B,T) x2 */
    float *qkv;                  /* (L,B,T,3C) */
    float *att;                  /* (L,B,NH,T,T) */
    float *atty;                 /* (L,B,T,C) */
    float *mid;                  /* (L,B,T,C) residual after attention */
    float *ln2, *ln2_m, *ln2_r;
    float *fch, *fcg;            /* (L,B,T,H4) pre/post QuickGELU (fch: QuickGELU' of it after a bf16
                                    forward, LIN_DACT) */
    /* backward buffers (one layer); scratch: attention work space (forward and backward) */
    float *dres, *dmid, *dbig, *dqkv, *dsmall, *scratch;
    size_t scratch_n;            /* floats in scratch: attention_scratch_floats for the par it last ran on */
    float *gat;                  /* top-block rows gathered: (B,H4) x2, (B,C) x6, (B) x2 */
    /* head */
    float *pooled, *pool_m, *pool_r; /* (B,C) after final LN, (B) */
    float *lnf_in;                   /* (B,C) final LN input (copy) */
    int *pool_idx;                   /* (B) token pooled (text) */
    int *prow;                       /* (B) row of the pooled token in (B*Tr) */
    int *ids;                        /* (B,T) token ids of the last text forward */
    /* vision front */
    float *patches;                  /* (B,G*G,3PP) im2col */
    float *pemb;                     /* (B,T,C) embedding before ln_pre */
    float *pre_m, *pre_r;            /* (B,T) */
    int B;                           /* batch of the last forward */
    int Tlast;                       /* tokens of the last forward (text may be shorter than T) */
    int top_pooled;                  /* the last forward ran the top block's per-token maps on the pooled rows only */
    int packed;                      /* the last forward's weight products went through the packed
                                        weights (clip_t.bf16 or .f32pack): WPK_BF16 or WPK_F32, else 0 */
    uint16_t *a16, *b16;             /* bfloat16 rows of a product's other operand; a16_n elements each
                                        (b16: the MLP's hidden layer, see lin_fwd) */
    size_t a16_n;
};

/* The image tower's weights packed once for frozen-weight products: in
 * bfloat16 (clip_t.bf16) or float32 (clip_t.f32pack); per block the products
 * qkv, out-proj, fc, proj (4 * l + j), then the patch conv. */
enum { WPK_BF16 = 1, WPK_F32 = 2 };
typedef struct {
    linear_bf16_t h; /* WPK_BF16 */
    linear_f32p_t f; /* WPK_F32 */
} wpk_t;
struct clip_bf16 {
    void *mem;
    wpk_t *lin; /* (4 * v_layers + 1) */
    int mode;   /* WPK_BF16 or WPK_F32 */
    int refs;   /* clip_t's holding it (clip_bf16_share) */
};
/* which packed weights m's flags ask for: WPK_BF16, WPK_F32 or 0 */
static int pack_mode(const clip_t *m) { return m->bf16 ? WPK_BF16 : m->f32pack ? WPK_F32 : 0; }
/* 1 when a product through bw chains its MLP operand in bfloat16 (lin_fwd):
 * bw is one of the packed weights of t's last forward, whose kind
 * t->packed records */
#define B16(t, bw) ((bw) && (t)->packed == WPK_BF16)
enum { BW_IN, BW_OUT, BW_FC, BW_PROJ };

/* out = inp w^T + ... through the float or the bfloat16 weights (bw) */
/* chain: LIN_OUT16 writes bf16 of the output into t->b16, LIN_IN16 reads
 * the input from there (the MLP's two products, forward and backward: the
 * hidden layer is rounded once, by the first product's epilogue).  With bw
 * the chained float copy is never read (weight gradients are its only other
 * reader), so the callers do not ask for it: the forward's QuickGELU output
 * (act_out NULL; act(fch) goes straight into b16) and the backward's
 * gradient at the hidden layer (dinp NULL; only b16).  LIN_DACT (the first
 * MLP product forward, the second backward): with bw the forward keeps
 * act'(out) in out instead of the pre-activation, and the backward
 * multiplies by it - the only use a bf16 backward makes of fch, so no
 * QuickGELU is evaluated there (the same values: act' of the same float). */
enum { LIN_OUT16 = 1, LIN_IN16 = 2, LIN_DACT = 4 };
static void lin_fwd(const nn_par_t *par, clip_tower_t *t, const wpk_t *bw, int chain, float *out,
                    float *act_out, const float *inp, const float *res, const float *w, const float *b, nn_act_t act,
                    int N, int IC, int OC) {
    if (bw && t->packed == WPK_F32)
        linear_forward_f32p(par, out, act_out, inp, res, &bw->f, b, act, N, IC, OC, (chain & LIN_DACT) != 0);
    else if (bw && (chain & LIN_DACT))
        linear_forward_bf16_dact(par, out, inp, &bw->h, b, act, N, IC, OC, t->a16,
                                 chain & LIN_IN16 ? t->b16 : NULL, t->b16);
    else if (bw)
        linear_forward_bf16(par, out, act_out, inp, res, &bw->h, b, act, N, IC, OC, t->a16,
                            chain & LIN_IN16 ? t->b16 : NULL, chain & LIN_OUT16 ? t->b16 : NULL);
    else
        linear_forward(par, out, act_out, inp, res, w, b, act, N, IC, OC);
}

/* the backward likewise; with bw the weight gradients are never asked for
 * (clip_image_backward refuses param_grads after a bf16 forward) */
static void lin_bwd(const nn_par_t *par, clip_tower_t *t, const wpk_t *bw, int chain, float *dinp,
                    float *dw, float *db, const float *dout, const float *inp, const float *pre, const float *w,
                    nn_act_t act, int N, int IC, int OC) {
    if (bw && t->packed == WPK_F32)
        linear_backward_f32p(par, dinp, dout, chain & LIN_DACT ? NULL : pre, chain & LIN_DACT ? pre : NULL, &bw->f,
                             act, N, IC, OC, 0);
    else if (bw && (chain & LIN_DACT))
        linear_backward_bf16_dact(par, dinp, dout, pre, &bw->h, N, IC, OC, t->a16,
                                  chain & LIN_IN16 ? t->b16 : NULL, chain & LIN_OUT16 ? t->b16 : NULL);
    else if (bw)
        linear_backward_bf16(par, dinp, dout, pre, &bw->h, act, N, IC, OC, 0, t->a16,
                             chain & LIN_IN16 ? t->b16 : NULL, chain & LIN_OUT16 ? t->b16 : NULL);
    else
        linear_backward(par, dinp, dw, db, dout, inp, pre, w, act, N, IC, OC, 0);
}

#define L_(t, p, l, sz) ((p) + (size_t)(l) * (size_t)(t)->Bcap * (sz))

static void tower_free(clip_tower_t *t) {
    if (!t) return;
    free(t->res); free(t->ln1); free(t->ln1_m); free(t->ln1_r); free(t->qkv); free(t->att); free(t->atty);
    free(t->mid); free(t->ln2); free(t->ln2_m); free(t->ln2_r); free(t->fch); free(t->fcg);
    free(t->dres); free(t->dmid); free(t->dbig); free(t->dqkv); free(t->dsmall); free(t->scratch); free(t->gat);
    free(t->pooled); free(t->pool_m); free(t->pool_r); free(t->lnf_in); free(t->pool_idx); free(t->prow); free(t->ids);
    free(t->patches); free(t->pemb); free(t->pre_m); free(t->pre_r); free(t->a16); free(t->b16);
    free(t);
}

/* Which slices of a saved activation the tower's forwards write: every one;
 * with the bf16 weights only slices 0 and L-1 (the arrays dead_slice
 * shares); or, with them, none (fcg: lin_fwd). */
enum { ACTS_EVERY, ACTS_SHARED, ACTS_NONE };

/* L slices of n floats of a block's saved activations.  On the vision tower
 * (pf) the slices a forward writes are backed at once (mem_prefault), since
 * its first forward writes every row of them, rather than a page fault a
 * page; the rest (bf16 forwards) is advised for huge pages alone
 * (mem_hugepage): a float forward on the same tower later (optimize's
 * evaluations, one image) writes a few rows of every slice.  Not the text
 * tower: its forward stops at the last prompt's end of text, short of the
 * context the buffers are sized for. */
static float *acts_alloc(int L, size_t n, int pf, int written) {
    float *p = xmalloc(sizeof(float) * (size_t)L * n);
    if (!pf) return p;
    if (written == ACTS_EVERY) {
        mem_prefault(p, sizeof(float) * (size_t)L * n);
        return p;
    }
    mem_hugepage(p, sizeof(float) * (size_t)L * n);
    if (written == ACTS_SHARED) {
        mem_prefault(p, sizeof(float) * n);
        mem_prefault(p + (size_t)(L - 1) * n, sizeof(float) * n);
    }
    return p;
}

/* (Re)allocate a tower for batch B (grows only). patchdim = 3PP for vision, 0 for text;
 * packed: the forward will use packed weights, WPK_BF16 or WPK_F32 (acts_alloc). */
static clip_tower_t *tower_ensure(clip_tower_t *t, int L, int C, int NH, int H4, int T, int B, int causal, int packed,
                                  int npatch, int patchdim, const nn_par_t *par) {
    if (t && t->Bcap >= B) {
        size_t need = attention_scratch_floats(par, T, C / NH); /* grows if m->par was given more threads */
        if (need > t->scratch_n) {
            free(t->scratch);
            t->scratch = xmalloc(sizeof(float) * need);
            t->scratch_n = need;
        }
        return t;
    }
    tower_free(t);
    t = xcalloc(1, sizeof *t);
    t->L = L; t->C = C; t->NH = NH; t->H4 = H4; t->T = T; t->Bcap = B; t->causal = causal;
    size_t BT = (size_t)B * T;
    int pf = patchdim > 0, shared = packed ? ACTS_SHARED : ACTS_EVERY;
    t->res = acts_alloc(L + 1, BT * C, pf, ACTS_EVERY);
    t->ln1 = acts_alloc(L, BT * C, pf, shared);
    t->ln1_m = xmalloc(sizeof(float) * L * BT);
    t->ln1_r = xmalloc(sizeof(float) * L * BT);
    t->qkv = acts_alloc(L, BT * 3 * C, pf, ACTS_EVERY);
    t->att = acts_alloc(L, (size_t)B * NH * T * T, pf, ACTS_EVERY);
    t->atty = acts_alloc(L, BT * C, pf, shared);
    t->mid = acts_alloc(L, BT * C, pf, ACTS_EVERY);
    t->ln2 = acts_alloc(L, BT * C, pf, shared);
    t->ln2_m = xmalloc(sizeof(float) * L * BT);
    t->ln2_r = xmalloc(sizeof(float) * L * BT);
    t->fch = acts_alloc(L, BT * H4, pf, ACTS_EVERY);
    t->fcg = acts_alloc(L, BT * H4, pf, packed == WPK_BF16 ? ACTS_NONE : shared);
    /* the backward's buffers: huge pages where they are large enough, not
     * backed until a backward writes them (a forward-only program never does) */
    t->dres = xmalloc(sizeof(float) * BT * C);
    t->dmid = xmalloc(sizeof(float) * BT * C);
    t->dbig = xmalloc(sizeof(float) * BT * H4);
    t->dqkv = xmalloc(sizeof(float) * BT * 3 * C);
    t->dsmall = xmalloc(sizeof(float) * BT * C);
    if (pf) {
        mem_hugepage(t->dres, sizeof(float) * BT * C);
        mem_hugepage(t->dmid, sizeof(float) * BT * C);
        mem_hugepage(t->dbig, sizeof(float) * BT * H4);
        mem_hugepage(t->dqkv, sizeof(float) * BT * 3 * C);
        mem_hugepage(t->dsmall, sizeof(float) * BT * C);
    }
    t->gat = xmalloc(sizeof(float) * ((size_t)B * (2 * (size_t)H4 + 6 * (size_t)C) + 2 * (size_t)B));
    t->scratch_n = attention_scratch_floats(par, T, C / NH);
    t->scratch = xmalloc(sizeof(float) * t->scratch_n);
    t->pooled = xmalloc(sizeof(float) * B * C);
    t->pool_m = xmalloc(sizeof(float) * B);
    t->pool_r = xmalloc(sizeof(float) * B);
    t->lnf_in = xmalloc(sizeof(float) * B * C);
    t->pool_idx = xmalloc(sizeof(int) * B);
    t->prow = xmalloc(sizeof(int) * B);
    t->ids = xmalloc(sizeof(int) * BT);
    if (patchdim) {
        t->patches = xmalloc(sizeof(float) * B * (size_t)npatch * patchdim);
        t->pemb = xmalloc(sizeof(float) * BT * C);
        mem_prefault(t->patches, sizeof(float) * B * (size_t)npatch * patchdim); /* written whole by */
        mem_prefault(t->pemb, sizeof(float) * BT * C);                           /* every forward */
        t->pre_m = xmalloc(sizeof(float) * BT);
        t->pre_r = xmalloc(sizeof(float) * BT);
    }
    return t;
}

/* The top block's output projection, MLP and residuals on one row per
 * sequence (row rows[b] of (B*Tr), the token the head pools): qkv and the
 * attention stay dense (every token is a key and value, and
 * clip_image_attention promises every row), the per-token maps after them
 * run on those B rows only, gathered into t->gat, and are scattered back to
 * the same rows of the layer's buffers, where top_backward_rows reads them.
 * The other rows of mid, ln2, fch, fcg and the block output are left as
 * they were: not this forward's values. */
static void top_forward_rows(const nn_par_t *par, clip_tower_t *t, const clip_block_t *k,
                             const wpk_t *bw, int l, int B, const int *rows) {
    int C = t->C, H4 = t->H4;
    size_t sBTC = (size_t)t->Bcap * t->T * C, sBT = (size_t)t->Bcap * t->T;
    float *x = t->res + l * sBTC, *xo = t->res + (l + 1) * sBTC, *atty = t->atty + l * sBTC, *mid = t->mid + l * sBTC;
    float *ln2 = t->ln2 + l * sBTC, *ln2m = t->ln2_m + l * sBT, *ln2r = t->ln2_r + l * sBT;
    float *fch = t->fch + l * sBTC / C * H4, *fcg = t->fcg + l * sBTC / C * H4;
    float *g_fch = t->gat, *g_fcg = g_fch + (size_t)B * H4, *g_ln2 = g_fcg + (size_t)B * H4;
    float *g_mid = g_ln2 + (size_t)B * C, *g_atty = g_mid + (size_t)B * C, *g_x = g_atty + (size_t)B * C;
    float *g_xo = g_x + (size_t)B * C, *g_m = g_xo + 2 * (size_t)B * C, *g_r = g_m + B;
    for (int b = 0; b < B; b++) {
        size_t r = (size_t)rows[b];
        memcpy(g_atty + (size_t)b * C, atty + r * C, sizeof(float) * C);
        memcpy(g_x + (size_t)b * C, x + r * C, sizeof(float) * C);
    }
    lin_fwd(par, t, bw ? bw + BW_OUT : NULL, 0, g_mid, NULL, g_atty, g_x, k->attn_out_w, k->attn_out_b,
            no_act, B, C, C);
    layernorm_forward(par, g_ln2, g_m, g_r, g_mid, k->ln2_w, k->ln2_b, B, C, CLIP_LN_EPS);
    lin_fwd(par, t, bw ? bw + BW_FC : NULL, LIN_OUT16 | LIN_DACT, g_fch, B16(t, bw) ? NULL : g_fcg, g_ln2, NULL, k->fc_w,
            k->fc_b, quickgelu, B, C, H4);
    lin_fwd(par, t, bw ? bw + BW_PROJ : NULL, LIN_IN16, g_xo, NULL, g_fcg, g_mid, k->proj_w, k->proj_b,
            no_act, B, H4, C);
    for (int b = 0; b < B; b++) {
        size_t r = (size_t)rows[b];
        memcpy(mid + r * C, g_mid + (size_t)b * C, sizeof(float) * C);
        memcpy(ln2 + r * C, g_ln2 + (size_t)b * C, sizeof(float) * C);
        memcpy(fch + r * H4, g_fch + (size_t)b * H4, sizeof(float) * H4);
        if (!bw) memcpy(fcg + r * H4, g_fcg + (size_t)b * H4, sizeof(float) * H4);
        memcpy(xo + r * C, g_xo + (size_t)b * C, sizeof(float) * C);
        ln2m[r] = g_m[b];
        ln2r[r] = g_r[b];
    }
}

/* The slice of ln1, atty, ln2 and fcg block l uses.  Their float values
 * feed only the next product, and a backward reads them only as the inputs
 * of weight gradients - which a bf16 forward never has (clip_image_backward
 * refuses them) - so with the bf16 weights (bws) every block shares slice 0:
 * 7 of a block's 16 (B,T,C)-sized activations (ln1, atty, ln2: one each;
 * fcg: four) are not kept per block, about 43 MB of pages a ViT-B/32 forward
 * at batch 4 never touches (the first step's page faults; the output is
 * byte for byte the same).  (fcg is in fact not written at all with bws:
 * see lin_fwd.)  The top block of a pooled_top forward keeps its own
 * (top_forward_rows scatters rows into them for top_backward_rows). */
static size_t dead_slice(const clip_tower_t *t, const wpk_t *bws, int l) {
    return bws && !(t->top_pooled && l == t->L - 1) ? 0 : (size_t)l;
}

/* Blocks forward over res[0] (B,T,C) with the tower's batch and T = Tr (<= t->T).
 * rows (B) not NULL: the top block after its attention on those rows only
 * (top_forward_rows). */
static void blocks_forward(const nn_par_t *par, clip_tower_t *t, const clip_block_t *bl,
                           const wpk_t *bws, int B, int Tr, const int *rows) {
    int C = t->C, H4 = t->H4, NH = t->NH;
    int BT = B * Tr;
    size_t sBTC = (size_t)t->Bcap * t->T * C, sBT = (size_t)t->Bcap * t->T;
    for (int l = 0; l < t->L; l++) {
        const clip_block_t *k = &bl[l];
        const wpk_t *bw = bws ? bws + 4 * l : NULL;
        size_t ls = dead_slice(t, bws, l);
        float *x = t->res + l * sBTC, *xo = t->res + (l + 1) * sBTC;
        float *ln1 = t->ln1 + ls * sBTC, *ln1m = t->ln1_m + l * sBT, *ln1r = t->ln1_r + l * sBT;
        float *qkv = t->qkv + l * sBTC * 3, *att = t->att + l * (size_t)t->Bcap * NH * t->T * t->T;
        float *atty = t->atty + ls * sBTC, *mid = t->mid + l * sBTC;
        float *ln2 = t->ln2 + ls * sBTC, *ln2m = t->ln2_m + l * sBT, *ln2r = t->ln2_r + l * sBT;
        float *fch = t->fch + l * sBTC / C * H4, *fcg = t->fcg + ls * sBTC / C * H4;
        layernorm_forward(par, ln1, ln1m, ln1r, x, k->ln1_w, k->ln1_b, BT, C, CLIP_LN_EPS);
        lin_fwd(par, t, bw ? bw + BW_IN : NULL, 0, qkv, NULL, ln1, NULL, k->attn_in_w, k->attn_in_b, no_act, BT, C,
                3 * C);
        attention_forward(par, atty, att, t->scratch, qkv, B, Tr, C, NH, t->causal);
        if (rows && l == t->L - 1) {
            top_forward_rows(par, t, k, bw, l, B, rows);
            break;
        }
        lin_fwd(par, t, bw ? bw + BW_OUT : NULL, 0, mid, NULL, atty, x, k->attn_out_w, k->attn_out_b, no_act,
                BT, C, C);
        layernorm_forward(par, ln2, ln2m, ln2r, mid, k->ln2_w, k->ln2_b, BT, C, CLIP_LN_EPS);
        lin_fwd(par, t, bw ? bw + BW_FC : NULL, LIN_OUT16 | LIN_DACT, fch, B16(t, bw) ? NULL : fcg, ln2, NULL, k->fc_w,
                k->fc_b, quickgelu, BT, C, H4);
        lin_fwd(par, t, bw ? bw + BW_PROJ : NULL, LIN_IN16, xo, NULL, fcg, mid, k->proj_w, k->proj_b, no_act,
                BT, H4, C);
    }
}

/* Top block, MLP and output projection, when the gradient entering it is
 * non-zero only at one token per sequence (row rows[b] of (B*Tr) - the token
 * the head pools, and no feature gradient on the top block): these maps act
 * per token, so they run on those B rows only (gathered into t->gat), and
 * the B*Tr-row products of the dense path shrink to B rows.  On entry t->dres
 * is zero off those rows; on exit t->dres = dL/d mid and t->dsmall =
 * dL/d atty, both zero off the rows, as after the dense path. */
static void top_backward_rows(const nn_par_t *par, clip_tower_t *t, const clip_block_t *k, clip_block_t *g,
                              const wpk_t *bw, int l, int B, const int *rows) {
    int C = t->C, H4 = t->H4;
    size_t sBTC = (size_t)t->Bcap * t->T * C, sBT = (size_t)t->Bcap * t->T;
    const float *ln2 = t->ln2 + l * sBTC, *ln2m = t->ln2_m + l * sBT, *ln2r = t->ln2_r + l * sBT;
    const float *mid = t->mid + l * sBTC, *atty = t->atty + l * sBTC;
    const float *fch = t->fch + l * sBTC / C * H4, *fcg = t->fcg + l * sBTC / C * H4;
    float *g_fch = t->gat, *g_fcg = g_fch + (size_t)B * H4, *g_ln2 = g_fcg + (size_t)B * H4;
    float *g_mid = g_ln2 + (size_t)B * C, *g_atty = g_mid + (size_t)B * C, *g_dres = g_atty + (size_t)B * C;
    float *g_dmid = g_dres + (size_t)B * C, *g_ds = g_dmid + (size_t)B * C, *g_m = g_ds + (size_t)B * C,
          *g_r = g_m + B;
    for (int b = 0; b < B; b++) {
        size_t r = (size_t)rows[b];
        memcpy(g_fch + (size_t)b * H4, fch + r * H4, sizeof(float) * H4);
        if (!bw) memcpy(g_fcg + (size_t)b * H4, fcg + r * H4, sizeof(float) * H4);
        memcpy(g_ln2 + (size_t)b * C, ln2 + r * C, sizeof(float) * C);
        memcpy(g_mid + (size_t)b * C, mid + r * C, sizeof(float) * C);
        memcpy(g_atty + (size_t)b * C, atty + r * C, sizeof(float) * C);
        memcpy(g_dres + (size_t)b * C, t->dres + r * C, sizeof(float) * C);
        g_m[b] = ln2m[r];
        g_r[b] = ln2r[r];
    }
    memcpy(g_dmid, g_dres, sizeof(float) * B * C);
    lin_bwd(par, t, bw ? bw + BW_PROJ : NULL, LIN_OUT16 | LIN_DACT, B16(t, bw) ? NULL : t->dbig, g ? g->proj_w : NULL,
            g ? g->proj_b : NULL, g_dres, g_fcg, g_fch, k->proj_w, quickgelu, B, H4, C);
    lin_bwd(par, t, bw ? bw + BW_FC : NULL, LIN_IN16, g_ds, g ? g->fc_w : NULL, g ? g->fc_b : NULL, t->dbig,
            g_ln2, NULL, k->fc_w, no_act, B, C, H4);
    layernorm_backward(par, g_dmid, g ? g->ln2_w : NULL, g ? g->ln2_b : NULL, g_ds, g_mid, g_m, g_r, k->ln2_w,
                       B, C);
    lin_bwd(par, t, bw ? bw + BW_OUT : NULL, 0, g_ds, g ? g->attn_out_w : NULL, g ? g->attn_out_b : NULL,
            g_dmid, g_atty, NULL, k->attn_out_w, no_act, B, C, C);
    memset(t->dsmall, 0, sizeof(float) * (size_t)B * t->Tlast * C);
    for (int b = 0; b < B; b++) {
        size_t r = (size_t)rows[b];
        memcpy(t->dres + r * C, g_dmid + (size_t)b * C, sizeof(float) * C);
        memcpy(t->dsmall + r * C, g_ds + (size_t)b * C, sizeof(float) * C);
    }
}

/* Backward through the blocks.  On entry t->dres holds dL/d res[L] (B,Tr,C);
 * on exit dL/d res[0].  dfeat[l] (if given) is added to dL/d res[l+1].
 * rows (B) not NULL: dL/d res[L] is zero except at row rows[b] of each
 * sequence (see top_backward_rows; ignored when dfeat[L-1] is given). */
static void blocks_backward(const nn_par_t *par, clip_tower_t *t, const clip_block_t *bl, clip_block_t *gb,
                            const wpk_t *bws, int B, int Tr, float *const *dfeat, const int *rows) {
    int C = t->C, H4 = t->H4, NH = t->NH;
    int BT = B * Tr;
    size_t sBTC = (size_t)t->Bcap * t->T * C, sBT = (size_t)t->Bcap * t->T;
    size_t n = (size_t)BT * C;
    if (dfeat && dfeat[t->L - 1]) rows = NULL;
    for (int l = t->L - 1; l >= 0; l--) {
        const clip_block_t *k = &bl[l];
        clip_block_t *g = gb ? &gb[l] : NULL;
        const wpk_t *bw = bws ? bws + 4 * l : NULL;
        size_t ls = dead_slice(t, bws, l);
        float *x = t->res + l * sBTC;
        float *ln1 = t->ln1 + ls * sBTC, *ln1m = t->ln1_m + l * sBT, *ln1r = t->ln1_r + l * sBT;
        float *qkv = t->qkv + l * sBTC * 3, *att = t->att + l * (size_t)t->Bcap * NH * t->T * t->T;
        float *atty = t->atty + ls * sBTC, *mid = t->mid + l * sBTC;
        float *ln2 = t->ln2 + ls * sBTC, *ln2m = t->ln2_m + l * sBT, *ln2r = t->ln2_r + l * sBT;
        float *fch = t->fch + l * sBTC / C * H4, *fcg = t->fcg + ls * sBTC / C * H4;
        if (l == t->L - 1 && rows) {
            top_backward_rows(par, t, k, g, bw, l, B, rows);
        } else {
            if (dfeat && dfeat[l])
                for (size_t i = 0; i < n; i++) t->dres[i] += dfeat[l][i];
            /* xo = mid + fcg Wp^T + bp; fcg = QuickGELU(fch).  dres holds
             * dL/d xo until the proj backward has read it; the ln2 backward
             * then adds into it, which leaves dL/d mid there (the residual
             * path needs no copy), and so on down to dL/d x. */
            lin_bwd(par, t, bw ? bw + BW_PROJ : NULL, LIN_OUT16 | LIN_DACT, B16(t, bw) ? NULL : t->dbig,
                    g ? g->proj_w : NULL, g ? g->proj_b : NULL, t->dres, fcg, fch, k->proj_w, quickgelu, BT, H4, C);
            lin_bwd(par, t, bw ? bw + BW_FC : NULL, LIN_IN16, t->dsmall, g ? g->fc_w : NULL,
                    g ? g->fc_b : NULL, t->dbig, ln2, NULL, k->fc_w, no_act, BT, C, H4);
            layernorm_backward(par, t->dres, g ? g->ln2_w : NULL, g ? g->ln2_b : NULL, t->dsmall, mid, ln2m,
                               ln2r, k->ln2_w, BT, C);
            /* mid = x + atty Wo^T + bo */
            lin_bwd(par, t, bw ? bw + BW_OUT : NULL, 0, t->dsmall, g ? g->attn_out_w : NULL,
                    g ? g->attn_out_b : NULL, t->dres, atty, NULL, k->attn_out_w, no_act, BT, C, C);
        }
        attention_backward(par, t->dqkv, t->scratch, t->dsmall, qkv, att, B, Tr, C, NH, t->causal);
        lin_bwd(par, t, bw ? bw + BW_IN : NULL, 0, t->dsmall, g ? g->attn_in_w : NULL,
                g ? g->attn_in_b : NULL, t->dqkv, ln1, NULL, k->attn_in_w, no_act, BT, C, 3 * C);
        layernorm_backward(par, t->dres, g ? g->ln1_w : NULL, g ? g->ln1_b : NULL, t->dsmall, x, ln1m, ln1r,
                           k->ln1_w, BT, C);
    }
}

/* ------------------------------------------------------------- public API */

void clip_init(clip_t *m, clip_params_t *w, const nn_par_t *par) {
    memset(m, 0, sizeof *m);
    m->w = *w;
    memset(w, 0, sizeof *w);
    m->par = par ? *par : pool_par(NULL);
}

void clip_bf16_reset(clip_t *m) {
    if (!m->bfw) return;
    if (--m->bfw->refs == 0) {
        free(m->bfw->mem);
        free(m->bfw->lin);
        free(m->bfw);
    }
    m->bfw = NULL;
}

void clip_bf16_share(clip_t *dst, const clip_t *src) {
    clip_bf16_reset(dst);
    dst->bfw = src->bfw;
    if (dst->bfw) dst->bfw->refs++;
}

typedef struct {
    wpk_t *lin;
    char *mem;
    const size_t *off;
    const float *const *w;
    const int *ic, *oc;
    int mode;
} pack_job_t;

static void pack_task(void *vj, int b, int e, int tid) {
    pack_job_t *j = vj;
    (void)tid;
    for (int i = b; i < e; i++) {
        if (j->mode == WPK_F32)
            linear_f32p_pack(&j->lin[i].f, (float *)(j->mem + j->off[i]), j->w[i], j->ic[i], j->oc[i]);
        else
            linear_bf16_pack(&j->lin[i].h, (uint16_t *)(j->mem + j->off[i]), j->w[i], j->ic[i], j->oc[i]);
    }
}

/* Pack the ViT image tower's weight products (once) as m->bf16 or
 * m->f32pack asks: bfloat16, or float32 panels. */
int clip_bf16_prepare(clip_t *m, err_t *e) {
    const clip_config_t *c = &m->w.cfg;
    int mode = pack_mode(m);
    if (!mode || (m->bfw && m->bfw->mode == mode)) return 0;
    const char *what = mode == WPK_BF16 ? "bfloat16 image products" : "packed float32 image products";
    if (CLIP_IS_RESNET(c)) return err_set(e, EXIT_USAGE, "%s: only for a ViT image tower, not a ResNet", what);
    if (mode == WPK_BF16 && !nn_bf16_available())
        return err_set(e, EXIT_USAGE, "%s need a CPU with AVX512_BF16, which this one lacks", what);
    if (mode == WPK_F32 && !nn_f32_available())
        return err_set(e, EXIT_USAGE, "%s need a CPU with AVX2 and FMA, which this one lacks", what);
    clip_bf16_reset(m); /* the other kind, packed earlier */
    int L = c->v_layers, C = c->v_width, H4 = c->mlp_ratio * C, n = 4 * L + 1;
    const float **w = xmalloc(sizeof *w * n);
    int *ic = xmalloc(sizeof *ic * n), *oc = xmalloc(sizeof *oc * n);
    size_t *off = xmalloc(sizeof *off * (n + 1));
    for (int l = 0; l < L; l++) {
        const clip_block_t *k = &m->w.v_blocks[l];
        w[4 * l + BW_IN] = k->attn_in_w, ic[4 * l + BW_IN] = C, oc[4 * l + BW_IN] = 3 * C;
        w[4 * l + BW_OUT] = k->attn_out_w, ic[4 * l + BW_OUT] = C, oc[4 * l + BW_OUT] = C;
        w[4 * l + BW_FC] = k->fc_w, ic[4 * l + BW_FC] = C, oc[4 * l + BW_FC] = H4;
        w[4 * l + BW_PROJ] = k->proj_w, ic[4 * l + BW_PROJ] = H4, oc[4 * l + BW_PROJ] = C;
    }
    w[4 * L] = m->w.v_conv, ic[4 * L] = 3 * c->patch * c->patch, oc[4 * L] = C;
    off[0] = 0; /* bytes; each weight's packing starts on a 64-byte line */
    for (int i = 0; i < n; i++)
        off[i + 1] = off[i] + (mode == WPK_F32 ? sizeof(float) * linear_f32p_pack_size(ic[i], oc[i])
                                               : (sizeof(uint16_t) * linear_bf16_pack_size(ic[i], oc[i]) + 63) / 64 * 64);
    clip_bf16_t *bf = xcalloc(1, sizeof *bf);
    bf->mem = xaligned(64, off[n]);
    mem_prefault(bf->mem, off[n]);
    bf->lin = xcalloc((size_t)n, sizeof *bf->lin);
    bf->mode = mode;
    bf->refs = 1;
    pack_job_t j = {.lin = bf->lin, .mem = bf->mem, .off = off, .w = w, .ic = ic, .oc = oc, .mode = mode};
    nn_parallel_for(&m->par, n, pack_task, &j);
    free(w), free(ic), free(oc), free(off);
    m->bfw = bf;
    return 0;
}

int clip_f32pack_auto(void) {
#if defined(__GNUC__) && defined(__x86_64__)
    return nn_f32_available() && !__builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

void clip_free(clip_t *m) {
    clip_bf16_reset(m);
    clip_params_free(&m->w);
    clip_params_free(&m->g);
    tower_free(m->vis);
    tower_free(m->txt);
    clip_rn_free(m->rn);
    memset(m, 0, sizeof *m);
}

void clip_alloc_grad(clip_t *m) {
    if (m->g.mem) return;
    clip_params_alloc(&m->g, &m->w.cfg);
}

void clip_zero_grad(clip_t *m) {
    if (m->g.mem) memset(m->g.mem, 0, sizeof(float) * m->g.n);
}

static clip_rn_cfg_t rn_cfg(const clip_config_t *c) {
    clip_rn_cfg_t r = {.width = c->v_width, .S = c->image_size, .E = c->embed_dim, .heads = c->v_heads};
    memcpy(r.layers, c->rn_layers, sizeof r.layers);
    return r;
}

int clip_image_nblocks(const clip_t *m) { return CLIP_IS_RESNET(&m->w.cfg) ? CLIP_RN_FEATS : m->w.cfg.v_layers; }

int clip_image_block_shape(const clip_t *m, int l, int *C, int *H, int *W) {
    const clip_config_t *c = &m->w.cfg;
    if (l < 0 || l >= clip_image_nblocks(m)) return -1;
    if (CLIP_IS_RESNET(c)) {
        clip_rn_cfg_t r = rn_cfg(c);
        clip_rn_feature_shape(&r, l, C, H, W);
        return 0;
    }
    int G = c->image_size / c->patch;
    *C = c->v_width, *H = G * G + 1, *W = 1;
    return 0;
}

int clip_image_forward(clip_t *m, const float *img, int B, float *emb, err_t *e) {
    const nn_par_t *par = &m->par;
    const clip_config_t *c = &m->w.cfg;
    if (B <= 0) return err_set(e, EXIT_INTERNAL, "clip_image_forward: batch %d", B);
    if (CLIP_IS_RESNET(c)) {
        clip_rn_cfg_t r = rn_cfg(c);
        return clip_rn_forward(&m->rn, par, &r, m->w.rn, img, B, emb, e);
    }
    int P = c->patch, S = c->image_size, G = S / P, NP = G * G, T = NP + 1, C = c->v_width;
    int PD = 3 * P * P;
    int mode = pack_mode(m);
    if (mode) {
        int rc = clip_bf16_prepare(m, e);
        if (rc) return rc;
    }
    m->vis = tower_ensure(m->vis, c->v_layers, C, c->v_heads, c->mlp_ratio * C, T, B, 0, mode, NP, PD, par);
    clip_tower_t *t = m->vis;
    t->B = B;
    t->Tlast = T;
    t->packed = mode;
    const wpk_t *bws = mode ? m->bfw->lin : NULL;
    if (mode == WPK_BF16) {
        int H4 = c->mlp_ratio * C, K = 3 * C > H4 ? 3 * C : H4;
        if (PD > K) K = PD;
        size_t need = nn_bf16_rows_size(B * T, K);
        if (need > t->a16_n) {
            free(t->a16), free(t->b16);
            t->a16 = xmalloc(sizeof(uint16_t) * need);
            t->b16 = xmalloc(sizeof(uint16_t) * need);
            mem_prefault(t->a16, sizeof(uint16_t) * need);
            mem_prefault(t->b16, sizeof(uint16_t) * need);
            t->a16_n = need;
        }
    }
    /* im2col: patches (B, NP, 3PP), element (ch, ky, kx) of patch (gy, gx) */
    for (int b = 0; b < B; b++)
        for (int gy = 0; gy < G; gy++)
            for (int gx = 0; gx < G; gx++) {
                float *dst = t->patches + ((size_t)b * NP + gy * G + gx) * PD;
                for (int ch = 0; ch < 3; ch++)
                    for (int ky = 0; ky < P; ky++) {
                        const float *src = img + (((size_t)b * 3 + ch) * S + gy * P + ky) * S + gx * P;
                        memcpy(dst + (ch * P + ky) * P, src, sizeof(float) * P);
                    }
            }
    /* patch embeddings of the whole batch in one product (into scratch), then
     * placed at tokens 1..NP after the class token */
    float *pz = t->dsmall; /* (B*NP, C) scratch */
    lin_fwd(par, t, bws ? bws + 4 * c->v_layers : NULL, 0, pz, NULL, t->patches, NULL, m->w.v_conv, NULL, no_act,
            B * NP, PD, C);
    for (int b = 0; b < B; b++) {
        float *pe = t->pemb + (size_t)b * T * C;
        memcpy(pe, m->w.v_class, sizeof(float) * C);
        memcpy(pe + C, pz + (size_t)b * NP * C, sizeof(float) * NP * C);
        for (size_t i = 0; i < (size_t)T * C; i++) pe[i] += m->w.v_pos[i];
    }
    layernorm_forward(par, t->res, t->pre_m, t->pre_r, t->pemb, m->w.v_ln_pre_w, m->w.v_ln_pre_b, B * T, C,
                      CLIP_LN_EPS);
    for (int b = 0; b < B; b++) t->prow[b] = b * T; /* the class token */
    t->top_pooled = m->pooled_top;
    blocks_forward(par, t, m->w.v_blocks, bws, B, T, m->pooled_top ? t->prow : NULL);
    const float *out = t->res + (size_t)c->v_layers * t->Bcap * T * C;
    for (int b = 0; b < B; b++) memcpy(t->lnf_in + (size_t)b * C, out + (size_t)b * T * C, sizeof(float) * C);
    layernorm_forward(par, t->pooled, t->pool_m, t->pool_r, t->lnf_in, m->w.v_ln_post_w, m->w.v_ln_post_b, B,
                      C, CLIP_LN_EPS);
    if (mode == WPK_F32) /* a call an image: its embedding then does not depend on the batch (clip.h) */
        for (int b = 0; b < B; b++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, c->embed_dim, C, 1.0f, t->pooled + (size_t)b * C,
                        C, m->w.v_proj, c->embed_dim, 0.0f, emb + (size_t)b * c->embed_dim, c->embed_dim);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, c->embed_dim, C, 1.0f, t->pooled, C, m->w.v_proj,
                    c->embed_dim, 0.0f, emb, c->embed_dim);
    return 0;
}

int clip_image_backward(clip_t *m, const float *demb, float *const *dfeat, float *dimg, int param_grads, err_t *e) {
    const nn_par_t *par = &m->par;
    const clip_config_t *c = &m->w.cfg;
    clip_tower_t *t = m->vis;
    if (param_grads && !m->g.mem) return err_set(e, EXIT_INTERNAL, "clip_image_backward: gradients not allocated");
    if (CLIP_IS_RESNET(c)) {
        clip_rn_cfg_t r = rn_cfg(c);
        return clip_rn_backward(m->rn, par, &r, m->w.rn, param_grads ? m->g.rn : NULL, demb, dfeat, dimg, e);
    }
    if (!t || !t->B) return err_set(e, EXIT_INTERNAL, "clip_image_backward without a forward");
    if (t->top_pooled && dfeat && dfeat[c->v_layers - 1])
        return err_set(e, EXIT_INTERNAL,
                       "clip_image_backward: a gradient at the top block's output after a pooled_top forward");
    if (t->packed && param_grads)
        return err_set(e, EXIT_INTERNAL,
                       "clip_image_backward: parameter gradients after a forward through packed (frozen) weights");
    int B = t->B, P = c->patch, S = c->image_size, G = S / P, NP = G * G, T = NP + 1, C = c->v_width, E = c->embed_dim;
    int PD = 3 * P * P;
    clip_params_t *g = param_grads ? &m->g : NULL;
    memset(t->dres, 0, sizeof(float) * (size_t)B * T * C);
    if (demb) {
        /* emb = pooled @ proj: dpooled = demb proj^T; dproj += pooled^T demb */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, C, E, 1.0f, demb, E, m->w.v_proj, E, 0.0f, t->dsmall,
                    C);
        if (g)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, E, B, 1.0f, t->pooled, C, demb, E, 1.0f, g->v_proj,
                        E);
        /* ln_post on the class token; its input gradient lands on token 0 of the stream */
        memset(t->dmid, 0, sizeof(float) * (size_t)B * C);
        layernorm_backward(par, t->dmid, g ? g->v_ln_post_w : NULL, g ? g->v_ln_post_b : NULL, t->dsmall,
                           t->lnf_in, t->pool_m, t->pool_r, m->w.v_ln_post_w, B, C);
        for (int b = 0; b < B; b++) memcpy(t->dres + (size_t)b * T * C, t->dmid + (size_t)b * C, sizeof(float) * C);
    }
    for (int b = 0; b < B; b++) t->prow[b] = b * T; /* the class token */
    if (t->packed && (!m->bfw || m->bfw->mode != t->packed))
        return err_set(e, EXIT_INTERNAL, "clip_image_backward: the packed weights were dropped after the forward");
    const wpk_t *bws = t->packed ? m->bfw->lin : NULL;
    blocks_backward(par, t, m->w.v_blocks, g ? g->v_blocks : NULL, bws, B, T, dfeat, t->prow);
    /* ln_pre: dres -> d pemb (into dmid-sized scratch: reuse dsmall (B,T,C)) */
    memset(t->dsmall, 0, sizeof(float) * (size_t)B * T * C);
    layernorm_backward(par, t->dsmall, g ? g->v_ln_pre_w : NULL, g ? g->v_ln_pre_b : NULL, t->dres, t->pemb,
                       t->pre_m, t->pre_r, m->w.v_ln_pre_w, B * T, C);
    if (g)
        for (int b = 0; b < B; b++) {
            const float *d = t->dsmall + (size_t)b * T * C;
            for (size_t i = 0; i < (size_t)T * C; i++) g->v_pos[i] += d[i];
            for (int i = 0; i < C; i++) g->v_class[i] += d[i];
        }
    if (dimg || g) {
        /* patch tokens gathered contiguous: dz (B*NP, C); d patches = dz @ conv;
         * dconv += dz^T patches */
        float *dz = t->dres; /* (B*NP, C) scratch: dres is no longer needed */
        for (int b = 0; b < B; b++)
            memcpy(dz + (size_t)b * NP * C, t->dsmall + ((size_t)b * T + 1) * C, sizeof(float) * NP * C);
        float *dpatch = t->patches; /* reuse: patches are needed for dconv first */
        if (g)
            linear_backward(par, NULL, g->v_conv, NULL, dz, t->patches, NULL, m->w.v_conv, no_act, B * NP, PD,
                            C, 0);
        if (dimg) {
            lin_bwd(par, t, bws ? bws + 4 * c->v_layers : NULL, 0, dpatch, NULL, NULL, dz, NULL, NULL, m->w.v_conv,
                    no_act, B * NP, PD, C);
            /* col2im (patches do not overlap) */
            for (int b = 0; b < B; b++)
                for (int gy = 0; gy < G; gy++)
                    for (int gx = 0; gx < G; gx++) {
                        const float *src = dpatch + ((size_t)b * NP + gy * G + gx) * PD;
                        for (int ch = 0; ch < 3; ch++)
                            for (int ky = 0; ky < P; ky++) {
                                float *dst = dimg + (((size_t)b * 3 + ch) * S + gy * P + ky) * S + gx * P;
                                const float *s = src + (ch * P + ky) * P;
                                for (int kx = 0; kx < P; kx++) dst[kx] += s[kx];
                            }
                    }
            t->B = 0; /* patches were overwritten: a second backward needs a new forward */
        }
    }
    return 0;
}

const float *clip_image_block(const clip_t *m, int l, int *B, int *T, int *C) {
    const clip_tower_t *t = m->vis;
    if (CLIP_IS_RESNET(&m->w.cfg)) {
        int ch, h, w;
        if (clip_image_block_shape(m, l, &ch, &h, &w)) return NULL;
        const float *f = clip_rn_feature(m->rn, l, B);
        if (f && T) *T = h * w;
        if (f && C) *C = ch;
        return f;
    }
    if (!t || l < 0 || l >= t->L || (t->top_pooled && l == t->L - 1)) return NULL;
    if (B) *B = t->B;
    if (T) *T = t->T;
    if (C) *C = t->C;
    return t->res + (size_t)(l + 1) * t->Bcap * t->T * t->C;
}

const float *clip_image_attention(const clip_t *m, int l, int *B, int *NH, int *T) {
    const clip_tower_t *t = m->vis;
    if (!t || l < 0 || l >= t->L) return NULL;
    if (B) *B = t->B;
    if (NH) *NH = t->NH;
    if (T) *T = t->T;
    /* blocks_forward's slice of layer l: Bcap sequences; the vision tower
     * always runs its full T tokens, so the first B are packed (B,NH,T,T) */
    return t->att + (size_t)l * t->Bcap * t->NH * t->T * t->T;
}

int clip_text_forward(clip_t *m, const int *ids, int B, float *emb, err_t *e) {
    const nn_par_t *par = &m->par;
    const clip_config_t *c = &m->w.cfg;
    int T = c->context, C = c->t_width;
    if (B <= 0) return err_set(e, EXIT_INTERNAL, "clip_text_forward: batch %d", B);
    m->txt = tower_ensure(m->txt, c->t_layers, C, c->t_heads, c->mlp_ratio * C, T, B, 1, 0, 0, 0, par);
    clip_tower_t *t = m->txt;
    t->B = B;
    /* pool at argmax(ids) (EOT has the largest id); with the causal mask the
     * tokens after the last pooled position cannot influence it, so the
     * blocks run only over Tr = max pooled index + 1 tokens. */
    int Tr = 1;
    for (int b = 0; b < B; b++) {
        int best = 0;
        for (int i = 0; i < T; i++) {
            if (ids[(size_t)b * T + i] < 0 || ids[(size_t)b * T + i] >= c->vocab)
                return err_set(e, EXIT_DATA, "token id %d out of range [0,%d)", ids[(size_t)b * T + i], c->vocab);
            if (ids[(size_t)b * T + i] > ids[(size_t)b * T + best]) best = i;
        }
        t->pool_idx[b] = best;
        if (best + 1 > Tr) Tr = best + 1;
    }
    t->Tlast = Tr;
    /* res[0] is laid out (B,Tr,C) */
    for (int b = 0; b < B; b++)
        for (int i = 0; i < Tr; i++) {
            const float *te = m->w.t_tok + (size_t)ids[(size_t)b * T + i] * C, *pe = m->w.t_pos + (size_t)i * C;
            float *x = t->res + ((size_t)b * Tr + i) * C;
            for (int k = 0; k < C; k++) x[k] = te[k] + pe[k];
        }
    blocks_forward(par, t, m->w.t_blocks, NULL, B, Tr, NULL);
    const float *out = t->res + (size_t)c->t_layers * t->Bcap * T * C;
    for (int b = 0; b < B; b++)
        memcpy(t->lnf_in + (size_t)b * C, out + ((size_t)b * Tr + t->pool_idx[b]) * C, sizeof(float) * C);
    layernorm_forward(par, t->pooled, t->pool_m, t->pool_r, t->lnf_in, m->w.t_ln_w, m->w.t_ln_b, B, C,
                      CLIP_LN_EPS);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, c->embed_dim, C, 1.0f, t->pooled, C, m->w.t_proj,
                c->embed_dim, 0.0f, emb, c->embed_dim);
    memcpy(t->ids, ids, sizeof(int) * (size_t)B * T);
    return 0;
}

int clip_text_backward(clip_t *m, const float *demb, int param_grads, err_t *e) {
    const nn_par_t *par = &m->par;
    const clip_config_t *c = &m->w.cfg;
    clip_tower_t *t = m->txt;
    if (!t || !t->B) return err_set(e, EXIT_INTERNAL, "clip_text_backward without a forward");
    if (!param_grads) return 0; /* text ids have no gradient: only parameters do */
    if (!m->g.mem) return err_set(e, EXIT_INTERNAL, "clip_text_backward: gradients not allocated");
    int B = t->B, T = c->context, Tr = t->Tlast, C = c->t_width, E = c->embed_dim;
    clip_params_t *g = &m->g;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, C, E, 1.0f, demb, E, m->w.t_proj, E, 0.0f, t->dsmall, C);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, E, B, 1.0f, t->pooled, C, demb, E, 1.0f, g->t_proj, E);
    memset(t->dmid, 0, sizeof(float) * (size_t)B * C);
    layernorm_backward(par, t->dmid, g->t_ln_w, g->t_ln_b, t->dsmall, t->lnf_in, t->pool_m, t->pool_r,
                       m->w.t_ln_w, B, C);
    memset(t->dres, 0, sizeof(float) * (size_t)B * Tr * C);
    for (int b = 0; b < B; b++)
        memcpy(t->dres + ((size_t)b * Tr + t->pool_idx[b]) * C, t->dmid + (size_t)b * C, sizeof(float) * C);
    for (int b = 0; b < B; b++) t->prow[b] = b * Tr + t->pool_idx[b];
    blocks_backward(par, t, m->w.t_blocks, g->t_blocks, NULL, B, Tr, NULL, t->prow);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < Tr; i++) {
            const float *d = t->dres + ((size_t)b * Tr + i) * C;
            float *gt = g->t_tok + (size_t)t->ids[(size_t)b * T + i] * C, *gp = g->t_pos + (size_t)i * C;
            for (int k = 0; k < C; k++) {
                gt[k] += d[k];
                gp[k] += d[k];
            }
        }
    return 0;
}

void clip_normalize_forward(float *y, float *norm, const float *x, int B, int E) {
    for (int b = 0; b < B; b++) {
        double s = 0;
        for (int i = 0; i < E; i++) s += (double)x[(size_t)b * E + i] * x[(size_t)b * E + i];
        float n = (float)sqrt(s);
        if (n < 1e-12f) n = 1e-12f;
        norm[b] = n;
        for (int i = 0; i < E; i++) y[(size_t)b * E + i] = x[(size_t)b * E + i] / n;
    }
}

void clip_normalize_backward(float *dx, const float *dy, const float *y, const float *norm, int B, int E) {
    for (int b = 0; b < B; b++) {
        double d = 0;
        for (int i = 0; i < E; i++) d += (double)y[(size_t)b * E + i] * dy[(size_t)b * E + i];
        for (int i = 0; i < E; i++)
            dx[(size_t)b * E + i] += (dy[(size_t)b * E + i] - y[(size_t)b * E + i] * (float)d) / norm[b];
    }
}
