/* test_tv.c - the `tv` loss plugin: values computed by hand on tiny images,
 * the study's parity variant (vertical + adjacent-channel differences, so a
 * grey image drawn as RGB keeps only the vertical term), the gradient against
 * the definition, and smoothing. */
#include <stdlib.h>
#include <string.h>
#include "plugin_host.h"
#include "t.h"

static double eval(plugin_t *p, const float *img, int C, int H, int W, float *dimg) {
    loss_in_t in = {.img = img, .C = C, .H = H, .W = W};
    loss_out_t out = {.dimg = dimg};
    plugin_err_t pe = {{0}};
    if (p->d->loss->eval(p->state, p->ws, NULL, &in, &out, &pe)) return NAN;
    return out.value;
}

static int open_tv(plugin_t *p, const char *spec) {
    char path[512];
    snprintf(path, sizeof path, "%s/tv.so%s", getenv("PLUGINS") ? getenv("PLUGINS") : "build/plugins", spec);
    err_t e = {0};
    rng_t r;
    plugin_host_t h;
    rng_seed(&r, 1);
    plugin_host_init(&h, &r);
    if (plugin_open(p, path, PLUGIN_LOSS, &e) || plugin_init(p, &h, &e)) {
        printf("# %s\n", e.msg);
        return -1;
    }
    return 0;
}

int main(void) {
    plugin_t p, q;
    CHECK(open_tv(&p, "") == 0, "load tv");
    CHECK(open_tv(&q, ":study=true") == 0, "load tv:study=true");
    if (!p.d || !q.d) T_DONE();
    /* 1 channel, 2x3:  [0 1 3]
     *                  [2 2 2]   dx: |1| |2| |0| |0| -> mean 3/4;  dy: |2| |1| |-1| -> mean 4/3 */
    float a[6] = {0, 1, 3, 2, 2, 2}, da[6] = {0};
    CHECK_CLOSE(eval(&p, a, 1, 2, 3, da), 0.75 + 4.0 / 3, 1e-12, 0, "anisotropic TV by hand");
    /* gradient by hand: each pair (a, b=a+step) with sign g adds g/count at b
     * and -g/count at a.  dx pairs: (00,01) +, (01,02) +, row 1 zeros (no
     * gradient); dy pairs: (00,10) +, (01,11) +, (02,12) - */
    float want[6] = {-0.25f - 1.0f / 3, 0.25f - 0.25f - 1.0f / 3, 0.25f + 1.0f / 3, 1.0f / 3, 1.0f / 3, -1.0f / 3};
    int ok = 1;
    for (int i = 0; i < 6; i++) ok &= fabs(da[i] - want[i]) < 1e-6;
    CHECK(ok, "gradient by hand (zero differences get 0)");
    /* study parity: grey drawn as RGB (3 identical channels): channel term 0, vertical term only */
    float g[18], dg[18] = {0};
    for (int c = 0; c < 3; c++) memcpy(g + 6 * c, a, sizeof a);
    CHECK_CLOSE(eval(&q, g, 3, 2, 3, dg), 4.0 / 3, 1e-12, 0, "study TV on grey-as-RGB = the vertical term only");
    /* its gradient: the dy signs of each channel over count 3*1*3 = 9, nothing from equal channels */
    const float wdy[6] = {-1.0f / 9, -1.0f / 9, 1.0f / 9, 1.0f / 9, 1.0f / 9, -1.0f / 9};
    ok = 1;
    for (int i = 0; i < 18; i++) ok &= fabs(dg[i] - wdy[i % 6]) < 1e-6;
    CHECK(ok, "study TV gradient on grey-as-RGB: vertical signs / 9 in every channel");
    CHECK_CLOSE(eval(&p, g, 3, 2, 3, NULL), 0.75 + 4.0 / 3, 1e-12, 0, "anisotropic TV per channel, averaged");
    /* channels that differ by 0.5 everywhere: study adds mean |0.5| = 0.5 */
    for (int i = 0; i < 6; i++) g[6 + i] += 0.5f;
    CHECK_CLOSE(eval(&q, g, 3, 2, 3, NULL), 4.0 / 3 + 0.5, 1e-6, 0, "study TV's channel term");
    plugin_close(&p);
    CHECK(open_tv(&p, ":eps=0.1") == 0, "load tv:eps=0.1");
    float z[2] = {0, 0};
    CHECK_CLOSE(eval(&p, z, 1, 1, 2, NULL), 0, 1e-12, 0, "smoothed |0| = 0");
    float o[2] = {0, 1}, dout[2] = {0};
    CHECK_CLOSE(eval(&p, o, 1, 1, 2, dout), sqrt(1.01) - 0.1, 1e-7, 0, "smoothed |1| = sqrt(1+eps^2)-eps");
    CHECK_CLOSE(dout[1], 1 / sqrt(1.01), 1e-6, 0, "smoothed gradient d/sqrt(d^2+eps^2) at the pair's end");
    CHECK_CLOSE(dout[0], -1 / sqrt(1.01), 1e-6, 0, "and its negative at the start");
    plugin_close(&p);
    plugin_close(&q);
    T_DONE();
}
