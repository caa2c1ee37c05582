/* test_loss_structure.c - the `structure` loss plugin: values by hand in both
 * modes (new strokes and strokes whose point count changed are unpenalised),
 * the three weight schedules at the first, middle and last step, the
 * gradient against central differences, NaN input, a missing original and
 * bad parameters. */
#include "../plugins/tloss.h"

int main(void) {
    tl_host_t t;
    tl_host_init(&t, 0);
    plugin_t p;
    err_t e;
    CHECK(tl_open(&p, "structure", "", &t, &e) == 0, "load structure (%s)", e.msg);
    /* original: stroke 0 (2 points), stroke 1 (3 points) */
    int onp[2] = {2, 3}, ooff[2] = {0, 2};
    float oxy[10] = {0, 0, 10, 0, 5, 5, 6, 6, 7, 7}, ow[2] = {3, 3}, oo[2] = {1, 1};
    scene_t org = {2, onp, ooff, oxy, ow, oo};
    host_set_original(&t.hs, &org);
    /* current: stroke 0 moved (dx 1 at point 0, dy 2 at point 1), stroke 1 now has 2 points
     * (changed count: skipped), stroke 2 is new (skipped) */
    int cnp[3] = {2, 2, 4}, coff[3] = {0, 2, 4};
    float cxy[16] = {1, 0, 10, 2, 50, 50, 60, 60, 1, 2, 3, 4, 5, 6, 7, 8}, cw[3] = {3, 3, 3}, co[3] = {1, 1, 1};
    scene_t cur = {3, cnp, coff, cxy, cw, co};
    float img[1] = {1};
    loss_in_t in = {.img = img, .C = 1, .H = 1, .W = 1, .scene = &cur};
    float g[16] = {0};
    loss_out_t out = {.dscene = {.xy = g}};
    plugin_err_t pe;
    int rc = tl_eval(&p, &t, &in, &out, &pe);
    /* compared: stroke 0 only, 4 coordinates, squared sum 1 + 4 = 5 -> 5/4 */
    CHECK(rc == 0, "eval (%s)", pe.msg);
    CHECK_CLOSE(out.value, 5.0 / 4, 1e-12, 0, "study: sum |p-p0|^2 / compared coordinates (new and reshaped strokes skipped)");
    CHECK(out.nmetrics == 2 && !strcmp(out.metric_name[0], "distance") && out.metric[1] == 1, "metrics distance, weight");
    CHECK(g[0] == 2.0f / 4 && g[3] == 4.0f / 4 && g[1] == 0 && g[2] == 0 && g[4] == 0 && g[15] == 0,
          "gradient 2 (p - p0) / count on compared points, 0 elsewhere");
    /* make stroke 1 comparable: 3 points; anchor mode = mean of per-stroke MSEs */
    cnp[1] = 3, coff[2] = 5;
    float cxy2[18] = {1, 0, 10, 2, 5, 5, 6, 9, 7, 7, 1, 2, 3, 4, 5, 6, 7, 8};
    cur.xy = cxy2;
    double v = tl_value(&p, &t, &in);
    CHECK_CLOSE(v, (1 + 4 + 9) / 10.0, 1e-12, 0, "study over two strokes: 14 / 10 coordinates");
    plugin_close(&p);
    CHECK(tl_open(&p, "structure", "mode=anchor", &t, &e) == 0, "load structure:mode=anchor (%s)", e.msg);
    v = tl_value(&p, &t, &in);
    CHECK_CLOSE(v, (5.0 / 4 + 9.0 / 6) / 2, 1e-12, 0, "anchor: mean of per-stroke MSEs (5/4 and 9/6)");
    float g2[18] = {0};
    loss_out_t o2 = {.dscene = {.xy = g2}};
    tl_eval(&p, &t, &in, &o2, &pe);
    tl_fd(&p, &t, &in, cxy2, g2, 18, 0.05, 2e-4, 1e-7, 3, "anchor: d/dxy along a random direction");
    plugin_close(&p);

    /* schedules over 11 steps: progress 0, 0.5, 1 at steps 0, 5, 10 */
    const char *spec[3] = {"schedule=constant,end=0.5", "schedule=linear_up,start=0.1,end=0.5",
                           "schedule=cosine_up,start=0.1,end=0.5"};
    const double want[3][3] = {{0.5, 0.5, 0.5}, {0.1, 0.3, 0.5}, {0.1, 0.3, 0.5}};
    for (int k = 0; k < 3; k++) {
        CHECK(tl_open(&p, "structure", spec[k], &t, &e) == 0, "load %s", spec[k]);
        int steps[3] = {0, 5, 10}, ok = 1;
        for (int j = 0; j < 3; j++) {
            host_set_step(&t.hs, steps[j], 11);
            loss_out_t o = {0};
            tl_eval(&p, &t, &in, &o, &pe);
            ok &= fabs(o.metric[1] - want[k][j]) < 1e-12 && fabs(o.value - want[k][j] * 1.4) < 1e-12;
        }
        CHECK(ok, "%s: multiplier at steps 0, 5, 10 of 11", spec[k]);
        if (k == 2) {
            host_set_step(&t.hs, 2, 11);
            loss_out_t o = {0};
            tl_eval(&p, &t, &in, &o, &pe);
            CHECK_CLOSE(o.metric[1], 0.1 + 0.4 * (1 - cos(M_PI * 0.2)) / 2, 1e-12, 0, "cosine_up at progress 0.2");
            CHECK(o.metric[1] < 0.1 + 0.4 * 0.2, "cosine_up starts slower than linear_up");
            /* FD along the points with the schedule on */
            float g3[18] = {0};
            loss_out_t o3 = {.dscene = {.xy = g3}};
            tl_eval(&p, &t, &in, &o3, &pe);
            tl_fd(&p, &t, &in, cxy2, g3, 18, 0.05, 2e-4, 1e-7, 4, "cosine_up study: d/dxy along a random direction");
        }
        plugin_close(&p);
    }
    host_set_step(&t.hs, 0, 0);
    /* one step only: progress 0 */
    CHECK(tl_open(&p, "structure", "schedule=linear_up,start=0.25", &t, &e) == 0, "load linear_up");
    host_set_step(&t.hs, 0, 1);
    loss_out_t o = {0};
    tl_eval(&p, &t, &in, &o, &pe);
    CHECK(o.metric[1] == 0.25, "a one-step run sits at the start");
    /* non-finite input: an error, not a NaN loss */
    cxy2[3] = NAN;
    rc = tl_eval(&p, &t, &in, &o, &pe);
    CHECK(rc == EXIT_NUMERIC && strstr(pe.msg, "structure") && strstr(pe.msg, "not finite"), "NaN point: %s", pe.msg);
    cxy2[3] = INFINITY;
    CHECK(tl_eval(&p, &t, &in, &o, &pe) == EXIT_NUMERIC, "Inf point refused");
    cxy2[3] = 2;
    host_set_original(&t.hs, NULL);
    rc = tl_eval(&p, &t, &in, &o, &pe);
    CHECK(rc != 0 && strstr(pe.msg, "started from"), "no original strokes: %s", pe.msg);
    plugin_close(&p);
    /* bad parameters name the plugin and the key */
    rc = tl_open(&p, "structure", "schedule=sideways", &t, &e);
    CHECK(rc == EXIT_USAGE && strstr(e.msg, "structure") && strstr(e.msg, "schedule"), "bad schedule: %s", e.msg);
    rc = tl_open(&p, "structure", "end=-1", &t, &e);
    CHECK(rc == EXIT_USAGE && strstr(e.msg, "end"), "negative end: %s", e.msg);
    rc = tl_open(&p, "structure", "weigth=1", &t, &e);
    CHECK(rc == EXIT_USAGE && strstr(e.msg, "weigth"), "unknown key: %s", e.msg);
    tl_host_free(&t);
    T_DONE();
}
