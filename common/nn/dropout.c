/* dropout.c - see dropout.h.  The fast kernels split [0,n) into one
 * contiguous range per thread; each element's bit comes from its own index,
 * so the split does not matter. */
#include "dropout.h"

#define GOLDEN 0x9E3779B97F4A7C15ULL

static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* the sequence's starting state: distinct streams of one seed get unrelated
 * states (each input is mixed before the two are combined) */
static inline uint64_t key_of(uint64_t seed, uint64_t stream) {
    return mix64(seed + GOLDEN) ^ mix64(~stream * GOLDEN + 1);
}

/* output i of SplitMix64 from state key: mix64(key + (i+1)*GOLDEN) */
static inline int keep_at(uint64_t key, uint64_t i, uint64_t thresh) {
    return (mix64(key + (i + 1) * GOLDEN) >> 11) >= thresh;
}

/* keep iff u >= p with u = (53-bit integer) * 2^-53, i.e. the integer >= ceil(p * 2^53) */
static uint64_t thresh_of(float p) {
    double t = (double)p * 9007199254740992.0;
    uint64_t k = (uint64_t)t;
    return (double)k < t ? k + 1 : k;
}

static int p_ok(float p) { return p >= 0.0f && p <= 1.0f; }
static float scale_of(float p) { return p < 1.0f ? 1.0f / (1.0f - p) : 0.0f; }

int dropout_keep(uint64_t seed, uint64_t stream, uint64_t i, float p) {
    return p_ok(p) && keep_at(key_of(seed, stream), i, thresh_of(p));
}

typedef struct {
    float *out;
    unsigned char *mask;
    const float *inp;
    const unsigned char *cmask;
    size_t n;
    int T;
    float scale;
    uint64_t key, thresh;
} job_t;

static void range(const job_t *j, int part, size_t *b, size_t *e) {
    size_t chunk = (j->n + (size_t)j->T - 1) / (size_t)j->T;
    *b = chunk * (size_t)part < j->n ? chunk * (size_t)part : j->n;
    *e = j->n - *b > chunk ? *b + chunk : j->n;
}

static void fwd_task(void *vj, int begin, int end, int tid) {
    const job_t *j = vj;
    (void)tid;
    for (int part = begin; part < end; part++) {
        size_t b, e;
        range(j, part, &b, &e);
        for (size_t i = b; i < e; i++) {
            int k = keep_at(j->key, i, j->thresh);
            j->mask[i] = (unsigned char)k;
            j->out[i] = k ? j->inp[i] * j->scale : 0.0f;
        }
    }
}

static void bwd_task(void *vj, int begin, int end, int tid) {
    const job_t *j = vj;
    (void)tid;
    for (int part = begin; part < end; part++) {
        size_t b, e;
        range(j, part, &b, &e);
        for (size_t i = b; i < e; i++) j->out[i] += j->cmask[i] ? j->inp[i] * j->scale : 0.0f;
    }
}

int dropout_forward(const nn_par_t *par, float *out, unsigned char *mask, const float *inp, size_t n, float p,
                    uint64_t seed, uint64_t stream) {
    if (!p_ok(p) || (n && (!out || !mask || !inp))) return NN_EINVAL;
    job_t j = {.out = out,
               .mask = mask,
               .inp = inp,
               .n = n,
               .T = nn_nthreads(par),
               .scale = scale_of(p),
               .key = key_of(seed, stream),
               .thresh = thresh_of(p)};
    if (n) nn_parallel_for(par, j.T, fwd_task, &j);
    return NN_OK;
}

int dropout_backward(const nn_par_t *par, float *dinp, const float *dout, const unsigned char *mask, size_t n,
                     float p) {
    if (!p_ok(p) || (n && (!dinp || !mask || !dout))) return NN_EINVAL;
    job_t j = {.out = dinp, .cmask = mask, .inp = dout, .n = n, .T = nn_nthreads(par), .scale = scale_of(p)};
    if (n) nn_parallel_for(par, j.T, bwd_task, &j);
    return NN_OK;
}

int dropout_forward_ref(const nn_par_t *par, float *out, unsigned char *mask, const float *inp, size_t n,
                        float p, uint64_t seed, uint64_t stream) {
    if (!p_ok(p) || (n && (!out || !mask || !inp))) return NN_EINVAL;
    for (size_t i = 0; i < n; i++) {
        mask[i] = (unsigned char)dropout_keep(seed, stream, i, p);
        out[i] = mask[i] ? inp[i] * scale_of(p) : 0.0f;
    }
    return NN_OK;
}

int dropout_backward_ref(const nn_par_t *par, float *dinp, const float *dout, const unsigned char *mask,
                         size_t n, float p) {
    if (!p_ok(p) || (n && (!dinp || !mask || !dout))) return NN_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (mask[i]) dinp[i] += dout[i] * scale_of(p);
    return NN_OK;
}
