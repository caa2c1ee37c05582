/* render.h - draw a sketch drawing through a renderer plugin.
 *
 * The glue between sketch records (sketch.h, double coordinates in their own
 * frame) and renderer plugins (plugin.h, float scenes in canvas pixels): maps
 * each stroke through X = x*sx + ox, Y = y*sy + oy, encodes it into the
 * renderer's parameterisation (e.g. Bezier control points) and renders a grey
 * (H,W) float image, 1 = white.  Buffers are reused across calls.  The
 * renderer gets a host table (host.h, no CLIP, RNG seeded 0) whose
 * parallel_for runs on the tool's pool.
 */
#ifndef RENDER_H
#define RENDER_H
#include "host.h"
#include "plugin_host.h"
#include "sketch.h"

typedef struct {
    plugin_t p;
    host_t host;
    int ns_cap, np_cap;
    int *npts, *off;
    float *xy, *width, *opacity, *tmp;
    int tmp_cap;
} render_t;

/* spec: "NAME[:key=value,...]"; must be a renderer.  pool: the tool's pool,
 * lent to the plugin (borrowed; NULL = serial). */
int render_open(render_t *r, const char *spec, pool_t *pool, err_t *e);
int render_drawing(render_t *r, const drawing_t *d, double sx, double sy, double ox, double oy, float width, int W,
                   int H, float *img, err_t *e);
void render_close(render_t *r);
#endif
