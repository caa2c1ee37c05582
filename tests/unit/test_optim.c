/* test_optim.c - the optimiser's own maths: the canvas -> CLIP-size resize
 * (against PIL's float resize, tests/gen_resize_ref.py, and its adjoint by
 * the dot-product identity), the study's lr and weight schedules (4.4, by
 * hand), the --loss spec splitter (the optimiser's keys out, the plugin's
 * through), and the per-record seed. */
#include <string.h>
#include "nn/resize.h"
#include "optim.h"
#include "t.h"

static void plan(resize_axis_t *a, int n_in, int n_out) {
    int nt = RESIZE_TAPS(n_in, n_out);
    a->first = malloc(sizeof(int) * n_out);
    a->count = malloc(sizeof(int) * n_out);
    a->w = malloc(sizeof(float) * n_out * nt);
    resize_plan(a, n_in, n_out);
}
static void unplan(resize_axis_t *a) { free(a->first), free(a->count), free(a->w); }

static void test_pil(void) {
    size_t len;
    unsigned char *b = t_slurp("tests/fixtures/resize/pil.bin", &len);
    CHECK(b != NULL, "fixture tests/fixtures/resize/pil.bin");
    if (!b) return;
    int ncase;
    memcpy(&ncase, b, 4);
    size_t o = 4;
    for (int k = 0; k < ncase; k++) {
        int d[4];
        memcpy(d, b + o, 16);
        o += 16;
        int H = d[0], W = d[1], h = d[2], w = d[3];
        float *x = malloc(sizeof(float) * H * W), *y = malloc(sizeof(float) * h * w), *got = malloc(sizeof(float) * h * w);
        memcpy(x, b + o, sizeof(float) * H * W), o += sizeof(float) * H * W;
        memcpy(y, b + o, sizeof(float) * h * w), o += sizeof(float) * h * w;
        resize_axis_t ay, ax;
        plan(&ay, H, h), plan(&ax, W, w);
        float *tmp = malloc(sizeof(float) * H * w);
        resize_forward(got, tmp, x, &ay, &ax, 1);
        double md = 0;
        for (int i = 0; i < h * w; i++) md = fmax(md, fabs(got[i] - y[i]));
        CHECK(md < 2e-5, "resize %dx%d -> %dx%d matches PIL's BILINEAR (max diff %.2g)", H, W, h, w, md);
        /* adjoint: <R x, g> = <x, R^T g> */
        float *g = malloc(sizeof(float) * h * w), *dx = calloc((size_t)H * W, sizeof(float));
        for (int i = 0; i < h * w; i++) g[i] = (float)sin(0.37 * i + k);
        resize_backward(dx, tmp, g, &ay, &ax, 1);
        double l = 0, r = 0;
        for (int i = 0; i < h * w; i++) l += (double)got[i] * g[i];
        for (int i = 0; i < H * W; i++) r += (double)x[i] * dx[i];
        CHECK_CLOSE(l, r, 1e-4, 1e-5, "resize %dx%d -> %dx%d: the backward is the forward's adjoint", H, W, h, w);
        /* weights of each output sum to 1 (a constant image stays constant) */
        int part = 1;
        for (int i = 0; i < w; i++) {
            double s = 0;
            for (int q = 0; q < ax.count[i]; q++) s += ax.w[i * ax.ntaps + q];
            if (fabs(s - 1) > 1e-6) part = 0;
        }
        CHECK(part, "resize %d -> %d: every output's weights sum to 1", W, w);
        unplan(&ay), unplan(&ax);
        free(x), free(y), free(got), free(tmp), free(g), free(dx);
    }
    free(b);
}

static void test_identity(void) {
    resize_axis_t a;
    plan(&a, 7, 7);
    int id = 1;
    for (int i = 0; i < 7; i++) id &= a.first[i] == i && a.count[i] == 1 && a.w[i * a.ntaps] == 1.0f;
    CHECK(id, "equal sizes: the identity");
    unplan(&a);
    resize_axis_t z = {0};
    CHECK(resize_plan(&z, 0, 3) == NN_EINVAL, "a zero size is refused");
}

static void test_schedules(void) {
    /* docs/study.md 4.4 by hand: T = 11, f = 0.1 */
    CHECK_CLOSE(optim_lr_mult(OSCHED_CONSTANT, 5, 11, 0, 0.1), 1, 0, 1e-12, "constant");
    CHECK_CLOSE(optim_lr_mult(OSCHED_LINEAR, 0, 11, 0, 0.1), 1, 0, 1e-12, "linear at 0");
    CHECK_CLOSE(optim_lr_mult(OSCHED_LINEAR, 5, 11, 0, 0.1), 0.55, 0, 1e-12, "linear half way: 1 + (f-1)/2");
    CHECK_CLOSE(optim_lr_mult(OSCHED_LINEAR, 10, 11, 0, 0.1), 0.1, 0, 1e-12, "linear at the end: f");
    CHECK_CLOSE(optim_lr_mult(OSCHED_COSINE, 5, 11, 0, 0.1), 0.55, 0, 1e-12, "cosine half way");
    CHECK_CLOSE(optim_lr_mult(OSCHED_COSINE, 10, 11, 0, 0.1), 0.1, 0, 1e-12, "cosine at the end");
    CHECK_CLOSE(optim_lr_mult(OSCHED_WARMUP_COSINE, 0, 11, 4, 0.1), 0.1, 0, 1e-12, "warmup starts at f");
    CHECK_CLOSE(optim_lr_mult(OSCHED_WARMUP_COSINE, 2, 11, 4, 0.1), 0.55, 0, 1e-12, "warmup half way");
    CHECK_CLOSE(optim_lr_mult(OSCHED_WARMUP_COSINE, 4, 11, 4, 0.1), 1, 0, 1e-12, "peak after warmup");
    /* after warmup: p' = (s-W)/max(T-W-1,1) = 3/6 at s = 7 */
    CHECK_CLOSE(optim_lr_mult(OSCHED_WARMUP_COSINE, 7, 11, 4, 0.1), 0.55, 0, 1e-12, "cosine after warmup");
    CHECK_CLOSE(optim_lr_mult(OSCHED_COSINE, 0, 1, 0, 0.1), 1, 0, 1e-12, "one step: no division by zero");
    CHECK_CLOSE(optim_weight_at(WSCHED_LINEAR, 0.1, 0.5, 5, 11), 0.3, 0, 1e-12, "linear_up half way");
    CHECK_CLOSE(optim_weight_at(WSCHED_COSINE, 0.1, 0.5, 5, 11), 0.3, 0, 1e-12, "cosine_up half way");
    CHECK_CLOSE(optim_weight_at(WSCHED_COSINE, 0.1, 0.5, 0, 11), 0.1, 0, 1e-12, "cosine_up starts at from");
    CHECK_CLOSE(optim_weight_at(WSCHED_CONSTANT, 0.1, 0.5, 0, 11), 0.5, 0, 1e-12, "constant is the weight");
}

static void test_spec(void) {
    optim_loss_spec_t s;
    err_t e = {0};
    CHECK(!optim_loss_spec_parse("clip-text:prompt=a fish,weight=3,templates=study,as=semantic", &s, &e),
          "a spec parses");
    CHECK(s.spec && !strcmp(s.spec, "clip-text:prompt=a fish,templates=study"), "the plugin gets its own keys (%s)",
          s.spec ? s.spec : "");
    CHECK(s.weight == 3 && s.weight_from == 3 && s.wsched == WSCHED_CONSTANT, "weight 3, constant");
    CHECK(!strcmp(s.label, "semantic"), "as= names it");
    optim_loss_spec_free(&s);
    CHECK(!optim_loss_spec_parse("structure:weight=0.5,weight_from=0.1,weight_schedule=cosine", &s, &e) &&
              !strcmp(s.spec, "structure") && s.weight_from == 0.1 && s.wsched == WSCHED_COSINE &&
              !strcmp(s.label, "structure"),
          "a weight schedule; no plugin keys left");
    optim_loss_spec_free(&s);
    CHECK(!optim_loss_spec_parse("/x/y/t_nan.so:at=2", &s, &e) && !strcmp(s.label, "t-nan") &&
              !strcmp(s.spec, "/x/y/t_nan.so:at=2"),
          "a path's label is its file name");
    optim_loss_spec_free(&s);
    e = (err_t){0};
    CHECK(optim_loss_spec_parse("tv:weight=x", &s, &e) == EXIT_USAGE && strstr(e.msg, "weight="), "a bad weight: %s",
          e.msg);
    e = (err_t){0};
    CHECK(optim_loss_spec_parse("tv:weight_from=1", &s, &e) == EXIT_USAGE && strstr(e.msg, "weight_schedule"),
          "weight_from without a schedule: %s", e.msg);
    e = (err_t){0};
    CHECK(optim_loss_spec_parse("tv:weight=1,weight=2", &s, &e) == EXIT_USAGE, "a repeated key: %s", e.msg);
    e = (err_t){0};
    CHECK(optim_loss_spec_parse("tv:as=Bad Name", &s, &e) == EXIT_USAGE, "a bad name: %s", e.msg);
    e = (err_t){0};
    CHECK(optim_loss_spec_parse(":weight=1", &s, &e) == EXIT_USAGE, "no plugin name: %s", e.msg);
}

static void test_seed(void) {
    CHECK(optim_seed(1, "a") != optim_seed(1, "b"), "records get different seeds");
    CHECK(optim_seed(1, "a") != optim_seed(2, "a"), "--seed changes it");
    CHECK(optim_seed(1, "a") == optim_seed(1, "a"), "and it is a function");
}

int main(void) {
    test_pil();
    test_identity();
    test_schedules();
    test_spec();
    test_seed();
    T_DONE();
}
