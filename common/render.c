/* render.c - see render.h. */
#include "render.h"
#include <stdlib.h>
#include <string.h>

int render_open(render_t *r, const char *spec, pool_t *pool, err_t *e) {
    memset(r, 0, sizeof *r);
    int rc = plugin_open(&r->p, spec, PLUGIN_RENDERER, e);
    if (rc) return rc;
    host_init(&r->host, 0, NULL);
    host_set_pool(&r->host, pool);
    rc = plugin_init(&r->p, &r->host.h, e);
    if (rc) render_close(r);
    return rc;
}

static void grow_points(render_t *r, int need) {
    if (need <= r->np_cap) return;
    while (r->np_cap < need) r->np_cap = r->np_cap ? 2 * r->np_cap : 1024;
    r->xy = xrealloc(r->xy, sizeof(float) * 2 * (size_t)r->np_cap);
}

int render_drawing(render_t *r, const drawing_t *d, double sx, double sy, double ox, double oy, float width, int W,
                   int H, float *img, err_t *e) {
    const renderer_vt *vt = r->p.d->renderer;
    if (d->nstrokes > r->ns_cap) {
        r->ns_cap = d->nstrokes;
        r->npts = xrealloc(r->npts, sizeof(int) * (size_t)r->ns_cap);
        r->off = xrealloc(r->off, sizeof(int) * (size_t)r->ns_cap);
        r->width = xrealloc(r->width, sizeof(float) * (size_t)r->ns_cap);
        r->opacity = xrealloc(r->opacity, sizeof(float) * (size_t)r->ns_cap);
    }
    int P = 0;
    plugin_err_t pe = {{0}};
    for (int s = 0; s < d->nstrokes; s++) {
        const stroke_t *st = &d->s[s];
        if (st->n > r->tmp_cap) {
            r->tmp_cap = st->n;
            r->tmp = xrealloc(r->tmp, sizeof(float) * 2 * (size_t)r->tmp_cap);
        }
        for (int i = 0; i < st->n; i++) {
            r->tmp[2 * i] = (float)(st->x[i] * sx + ox);
            r->tmp[2 * i + 1] = (float)(st->y[i] * sy + oy);
        }
        int n = plugin_encode(&r->p, r->tmp, st->n, NULL, 0, &pe);
        if (n < 0) return err_set(e, EXIT_DATA, "renderer '%s': stroke %d: %s", r->p.d->name, s, pe.msg);
        grow_points(r, P + n);
        n = plugin_encode(&r->p, r->tmp, st->n, r->xy + 2 * P, n, &pe);
        if (n < 0) return err_set(e, EXIT_DATA, "renderer '%s': stroke %d: %s", r->p.d->name, s, pe.msg);
        r->npts[s] = n;
        r->off[s] = P;
        r->width[s] = width;
        r->opacity[s] = 1.0f;
        P += n;
    }
    scene_t sc = {d->nstrokes, r->npts, r->off, r->xy, r->width, r->opacity};
    void *ws = plugin_ws(&r->p, vt->ws_size(r->p.state, &sc, W, H));
    if (vt->forward(r->p.state, ws, &r->host.h, &sc, W, H, img, &pe))
        return err_set(e, EXIT_DATA, "renderer '%s': %s", r->p.d->name, pe.msg);
    return 0;
}

void render_close(render_t *r) {
    if (r->p.d) plugin_close(&r->p);
    host_free(&r->host);
    free(r->npts); free(r->off); free(r->xy); free(r->width); free(r->opacity); free(r->tmp);
    memset(r, 0, sizeof *r);
}
