/* fuzz_degrade.c - libFuzzer target that follows a record down the data
 * tools' path: parse -> degrade (every degradation, drawn from the first
 * bytes) -> Google simplification -> study fit -> rasterise.
 *
 * Input: byte 0 picks a degradation chain, bytes 1..8 a seed, the rest is
 * one sketch line.  Properties, besides "no crash, no sanitizer report":
 * degradation either fails with a described error or leaves a drawing that
 * passes degrade_check (>= 1 stroke, finite values); the rendered paper is
 * finite and inside [0, 1]; simplification adds no points (but for a
 * one-point stroke, which becomes two). */
#include "degrade.h"
#include "raster.h"
#include "rng.h"
#include "simplify.h"
#include "sketch.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *chains[] = {
    "noise:level=5", "simplify:keep=0.3", "jitter:amount=3", "tremor:amplitude=2,wavelength=4,spacing=0.25",
    "dropout:p=0.9", "overshoot:amount=1,max=10000", "overshoot:amount=-0.45", "overdraw:count=50,offset=50",
    "affine:rotate=180,scale=1,shift=100", "elastic:amplitude=100,scale=1",
    "noise:level=1+simplify:keep=0.5+jitter:amount=1", "tremor+overdraw+elastic",
};

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    if (size < 10) return 0;
    const char *spec = chains[data[0] % (sizeof chains / sizeof *chains)];
    uint64_t seed = 0;
    memcpy(&seed, data + 1, 8);
    sketch_t s;
    sketch_init(&s);
    err_t e = {0};
    if (sketch_parse(&s, (const char *)data + 9, size - 9, &e) || degrade_check(&s.drawing, &e) ||
        drawing_npoints(&s.drawing) > 20000) {
        sketch_free(&s);
        return 0;
    }
    degrade_plan_t pl;
    degrade_plan_init(&pl);
    if (degrade_plan_add_fixed(&pl, spec, &e)) abort(); /* the table above is valid */
    rng_t r;
    rng_seed2(&r, seed, hash_str(s.key_id));
    buf_t js = {0};
    drawing_t d;
    drawing_init(&d);
    drawing_copy(&d, &s.drawing);
    int rc = degrade_plan_run(&pl, &d, degrade_rel_unit(&d), &r, &js, &e);
    if (rc) {
        if (!e.msg[0] || (rc != EXIT_DATA && rc != EXIT_NUMERIC)) abort();
    } else {
        if (degrade_check(&d, &e)) abort();
        drawing_t g;
        drawing_init(&g);
        simplify_ws_t ws = {0};
        simplify_google(&g, &d, &ws);
        /* a one-point stroke comes out as that point twice, as in Google's files */
        if (drawing_npoints(&g) > drawing_npoints(&d) + d.nstrokes) abort();
        simplify_ws_free(&ws);
        drawing_free(&g);
        simplify_fit(&d, 255, 0);
        raster_t ra;
        if (raster_init(&ra, 32, 32, &e)) abort();
        float paper[32 * 32];
        for (int i = 0; i < 32 * 32; i++) paper[i] = 1;
        xform_t xf;
        xform_fit(&d, 32, 2, &xf);
        raster_drawing(&ra, paper, &d, &xf, 1.5);
        for (int i = 0; i < 32 * 32; i++)
            if (!(paper[i] >= 0 && paper[i] <= 1)) abort();
        raster_free(&ra);
    }
    buf_free(&js);
    drawing_free(&d);
    degrade_plan_free(&pl);
    sketch_free(&s);
    return 0;
}
