/* test_loss_stroke_reg.c - the `stroke-reg` loss plugin: values by hand
 * (length, turning, unbiased spacing variance, strokes under 2 points
 * ignored), weights, the Bezier-sampled mode (a straight evenly spaced cubic),
 * gradients against central differences in both modes, NaN input and bad
 * parameters. */
#include "../plugins/tloss.h"

int main(void) {
    tl_host_t t;
    tl_host_init(&t, 0);
    plugin_t p;
    err_t e;
    CHECK(tl_open(&p, "stroke_reg", "", &t, &e) == 0, "load stroke-reg (%s)", e.msg);
    /* A: (0,0) (3,0) (3,4): lengths 3, 4 -> mean 3.5, var 0.5, one right angle -> turning 1
     *    r = 0.1*3.5 + 1*1 + 0.5*0.5 = 1.6
     * B: (0,0) (6,8): length 10 -> r = 1.0;  C: one point, ignored.  L = 1.3 */
    int np[3] = {3, 2, 1}, off[3] = {0, 3, 5};
    float xy[12] = {0, 0, 3, 0, 3, 4, 0, 0, 6, 8, 9, 9}, w[3] = {3, 3, 3}, o[3] = {1, 1, 1};
    scene_t sc = {3, np, off, xy, w, o};
    float img[1] = {1};
    loss_in_t in = {.img = img, .C = 1, .H = 1, .W = 1, .scene = &sc};
    float g[12] = {0};
    loss_out_t out = {.dscene = {.xy = g}};
    plugin_err_t pe;
    CHECK(tl_eval(&p, &t, &in, &out, &pe) == 0, "eval (%s)", pe.msg);
    CHECK_CLOSE(out.value, 1.3, 1e-7, 0, "L = mean over strokes of 0.1 length + 1 turning + 0.5 spacing");
    CHECK(out.nmetrics == 3, "metrics length, curvature, spacing");
    CHECK_CLOSE(out.metric[0], (3.5 + 10) / 2, 1e-9, 0, "metric length");
    CHECK_CLOSE(out.metric[1], 0.5, 1e-7, 0, "metric curvature");
    CHECK_CLOSE(out.metric[2], 0.25, 1e-9, 0, "metric spacing");
    CHECK(g[10] == 0 && g[11] == 0, "a one-point stroke gets no gradient");
    /* gradients on a wiggly random scene */
    enum { P = 14 };
    int np2[3] = {6, 5, 3}, off2[3] = {0, 6, 11};
    float xy2[2 * P], g2[2 * P] = {0};
    rng_t r;
    rng_seed(&r, 3);
    for (int i = 0; i < 2 * P; i++) xy2[i] = (float)rng_range(&r, 10, 200);
    scene_t sc2 = {3, np2, off2, xy2, w, o};
    loss_in_t in2 = in;
    in2.scene = &sc2;
    loss_out_t o2 = {.dscene = {.xy = g2}};
    tl_eval(&p, &t, &in2, &o2, &pe);
    tl_fd(&p, &t, &in2, xy2, g2, 2 * P, 1e-2, 1e-3, 1e-6, 5, "polylines: d/dxy along a random direction");
    plugin_close(&p);
    /* weights: only the turning term */
    CHECK(tl_open(&p, "stroke_reg", "length=0,spacing=0,curvature=2", &t, &e) == 0, "load with weights");
    CHECK_CLOSE(tl_value(&p, &t, &in), (2.0 + 0) / 2, 1e-7, 0, "curvature=2 alone: (2*1 + 0) / 2");
    memset(g2, 0, sizeof g2);
    tl_eval(&p, &t, &in2, &o2, &pe);
    tl_fd(&p, &t, &in2, xy2, g2, 2 * P, 1e-2, 1e-3, 1e-6, 6, "turning alone: d/dxy");
    plugin_close(&p);

    /* Bezier mode: a straight cubic with evenly spaced control points samples evenly */
    CHECK(tl_open(&p, "stroke_reg", "bezier_samples=20", &t, &e) == 0, "load bezier_samples=20 (%s)", e.msg);
    int bn[1] = {4}, bo[1] = {0};
    float bxy[8] = {0, 0, 19, 0, 38, 0, 57, 0};
    scene_t bs = {1, bn, bo, bxy, w, o};
    loss_in_t bin = in;
    bin.scene = &bs;
    CHECK_CLOSE(tl_value(&p, &t, &bin), 0.1 * 3, 1e-5, 0, "a straight evenly spaced cubic: length 57/19 only");
    /* two chained cubics, bent; gradient through the Bernstein weights */
    int bn2[2] = {7, 4}, bo2[2] = {0, 7};
    float bxy2[22], bg[22] = {0};
    for (int i = 0; i < 22; i++) bxy2[i] = (float)rng_range(&r, 10, 200);
    scene_t bs2 = {2, bn2, bo2, bxy2, w, o};
    loss_in_t bin2 = in;
    bin2.scene = &bs2;
    loss_out_t bo3 = {.dscene = {.xy = bg}};
    CHECK(tl_eval(&p, &t, &bin2, &bo3, &pe) == 0, "bezier eval (%s)", pe.msg);
    tl_fd(&p, &t, &bin2, bxy2, bg, 22, 1e-2, 1e-3, 1e-6, 7, "bezier_samples=20: d/dcontrol points");
    bn2[0] = 6;
    CHECK(tl_eval(&p, &t, &bin2, &bo3, &pe) == EXIT_DATA && strstr(pe.msg, "stroke 0") && strstr(pe.msg, "3k+1"),
          "not 3k+1 control points: %s", pe.msg);
    plugin_close(&p);
    /* bad input and parameters */
    CHECK(tl_open(&p, "stroke_reg", "", &t, &e) == 0, "reload");
    xy[7] = NAN;
    int rc = tl_eval(&p, &t, &in, &out, &pe);
    CHECK(rc == EXIT_NUMERIC && strstr(pe.msg, "stroke-reg: stroke 1: point 0"), "NaN point: %s", pe.msg);
    xy[7] = 0;
    scene_t empty = {0, NULL, NULL, NULL, NULL, NULL};
    in.scene = &empty;
    CHECK(tl_value(&p, &t, &in) == 0, "no strokes: 0");
    plugin_close(&p);
    rc = tl_open(&p, "stroke_reg", "bezier_samples=1", &t, &e);
    CHECK(rc == EXIT_USAGE && strstr(e.msg, "stroke-reg") && strstr(e.msg, "bezier_samples"), "bezier_samples=1: %s",
          e.msg);
    rc = tl_open(&p, "stroke_reg", "spacing=lots", &t, &e);
    CHECK(rc == EXIT_USAGE && strstr(e.msg, "stroke-reg") && strstr(e.msg, "spacing"), "bad number: %s", e.msg);
    tl_host_free(&t);
    T_DONE();
}
