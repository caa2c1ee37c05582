/* fuzz_vectorize.c - libFuzzer target for raster -> vector (vectorize.c).
 *
 * Input: byte 0 the width (1..64), byte 1 the height (1..64), byte 2 picks
 * the options (despeckle, spur length, junction merging, joining, RDP), the
 * rest are the pixels, one bit each, row by row (missing bits are paper).
 * The thinning, the tracing and the chaining are what is fuzzed; PNG decoding
 * has its own target (fuzz_pngstream).  Properties, besides "no crash, no
 * sanitizer report":
 *   - the skeleton (vec_thin) has as many 8-connected components as the ink
 *     and lies inside it;
 *   - vectorising succeeds, every point is finite and inside the picture, and
 *     (without despeckle) every ink component gives at least one stroke;
 *   - a reused workspace gives the same strokes as a fresh one.
 */
#include "vectorize.h"
#include <stdlib.h>
#include <string.h>

/* 8-connected components (iterative flood fill) */
static int ncomp(const uint8_t *b, int w, int h, int *q, int *lab) {
    int n = 0;
    memset(lab, 0, sizeof(int) * (size_t)w * h);
    for (int i = 0; i < w * h; i++) {
        if (!b[i] || lab[i]) continue;
        n++;
        int t = 0;
        q[t++] = i;
        lab[i] = n;
        while (t) {
            int c = q[--t], cx = c % w, cy = c / w;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int x = cx + dx, y = cy + dy;
                    if (x < 0 || y < 0 || x >= w || y >= h || !b[y * w + x] || lab[y * w + x]) continue;
                    lab[y * w + x] = n;
                    q[t++] = y * w + x;
                }
        }
    }
    return n;
}

static vec_ws_t reused;

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    if (size < 3) return 0;
    int w = data[0] % 64 + 1, h = data[1] % 64 + 1, sel = data[2];
    uint8_t *bin = calloc((size_t)w * h, 1), *sk = malloc((size_t)w * h);
    int *q = malloc(sizeof(int) * (size_t)w * h), *lab = malloc(sizeof(int) * (size_t)w * h);
    for (int i = 0; i < w * h; i++) {
        size_t byte = 3 + (size_t)i / 8;
        bin[i] = byte < size && (data[byte] >> (i % 8) & 1);
    }
    memcpy(sk, bin, (size_t)w * h);
    vec_thin(&reused, sk, w, h);
    for (int i = 0; i < w * h; i++)
        if (sk[i] && !bin[i]) abort();
    int comps = ncomp(bin, w, h, q, lab);
    if (ncomp(sk, w, h, q, lab) != comps) abort();

    vec_opts_t o;
    vec_opts_default(&o);
    o.despeckle = sel & 1 ? 3 : 0;
    o.min_length = (sel >> 1 & 3) * 4;  /* 0 4 8 12 */
    o.merge_dist = (sel >> 3 & 1) ? 0 : 3;
    o.join_angle = (sel >> 4 & 1) ? 0 : 60;
    o.epsilon = (sel >> 5 & 3) * 0.75; /* 0 .75 1.5 2.25 */
    drawing_t a, b;
    drawing_init(&a);
    drawing_init(&b);
    err_t e = {0};
    vec_stats_t st;
    if (vectorize_binary(&reused, bin, w, h, &o, &a, &st, &e)) abort();
    for (int i = 0; i < a.nstrokes; i++) {
        if (a.s[i].n < 1) abort();
        for (int j = 0; j < a.s[i].n; j++) {
            double x = a.s[i].x[j], y = a.s[i].y[j];
            if (!(x >= 0 && x <= w - 1 && y >= 0 && y <= h - 1)) abort();
        }
    }
    if (!o.despeckle && a.nstrokes < comps) abort();
    if (st.strokes != a.nstrokes) abort();
    vec_ws_t fresh = {0};
    if (vectorize_binary(&fresh, bin, w, h, &o, &b, NULL, &e)) abort();
    if (a.nstrokes != b.nstrokes) abort();
    for (int i = 0; i < a.nstrokes; i++) {
        if (a.s[i].n != b.s[i].n) abort();
        for (int j = 0; j < a.s[i].n; j++)
            if (a.s[i].x[j] != b.s[i].x[j] || a.s[i].y[j] != b.s[i].y[j]) abort();
    }
    vec_ws_free(&fresh);
    drawing_free(&a);
    drawing_free(&b);
    free(bin);
    free(sk);
    free(q);
    free(lab);
    return 0;
}
